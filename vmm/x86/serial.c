#include "serial.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../eventloop.h"
#include "../../lib/log.h"
#include "../../lib/util.h"

/* Register offsets (DLAB = 0 unless noted). */
enum { RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

#define IER_RDI		0x01
#define IER_THRI	0x02
#define IIR_NONE	0x01
#define IIR_THRI	0x02
#define IIR_RDI		0x04
#define IIR_FIFO	0xc0
#define FCR_FIFO_ENABLE 0x01
#define FCR_CLEAR_RX	0x02
#define LCR_DLAB	0x80
#define LSR_DR		0x01
#define LSR_THRE	0x20
#define LSR_TEMT	0x40
#define MCR_DTR		0x01
#define MCR_RTS		0x02
#define MCR_OUT1	0x04
#define MCR_OUT2	0x08
#define MCR_LOOP	0x10
#define MSR_CTS		0x10
#define MSR_DSR		0x20
#define MSR_RI		0x40
#define MSR_DCD		0x80
#define RX_SIZE		64
/*
 * Output is gathered into whole lines: one write(2) per line instead of one per
 * byte (a byte already costs the guest two exits). A line that does not end
 * (a prompt, echoed keys) goes out TX_FLUSH_NS after its first byte, from the
 * event loop; a full buffer, a snapshot and the device's end flush at once.
 */
#define TX_SIZE	    4096
#define TX_FLUSH_NS 2000000

struct serial {
	pthread_mutex_t lock;
	struct serial_state st; /* rx[] is a FIFO starting at index 0 */
	int in_fd, out_fd, wake_fd;
	int tx_timer_fd; /* -1: no event loop yet, every byte goes out at once */
	bool in_paused, in_eof, tx_armed;
	size_t tx_len;
	uint8_t tx[TX_SIZE];
	struct evloop *loop;
	struct irq_line *irq;
	struct serial_stats stats;
};

struct serial *serial_create(int in_fd, int out_fd, struct irq_line *irq)
{
	struct serial *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->in_fd = in_fd;
	s->out_fd = out_fd;
	s->wake_fd = -1;
	s->tx_timer_fd = -1;
	s->irq = irq;
	s->st.lsr = LSR_THRE | LSR_TEMT;
	s->st.msr = MSR_DCD | MSR_DSR | MSR_CTS;
	s->st.mcr = MCR_OUT2;
	s->st.dll = 0x0c; /* 9600 baud */
	return s;
}

static void tx_flush(struct serial *s);

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	tx_flush(s); /* nothing the guest wrote is lost at the end */
	pthread_mutex_unlock(&s->lock);
	if (s->tx_timer_fd >= 0) {
		if (s->loop)
			evloop_del(s->loop, s->tx_timer_fd);
		close(s->tx_timer_fd);
	}
	if (s->wake_fd >= 0) {
		if (s->loop)
			evloop_del(s->loop, s->wake_fd);
		close(s->wake_fd);
	}
	if (s->loop && s->in_fd >= 0 && !s->in_eof)
		evloop_del(s->loop, s->in_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static bool irq_pending(const struct serial *s)
{
	return ((s->st.ier & IER_RDI) && s->st.rx_count) ||
	       ((s->st.ier & IER_THRI) && s->st.iir_thre);
}

static uint8_t iir(const struct serial *s)
{
	uint8_t fifo = (s->st.fcr & FCR_FIFO_ENABLE) ? IIR_FIFO : 0;
	if ((s->st.ier & IER_RDI) && s->st.rx_count)
		return IIR_RDI | fifo;
	if ((s->st.ier & IER_THRI) && s->st.iir_thre)
		return IIR_THRI | fifo;
	return IIR_NONE | fifo;
}

/* Edge on a new pending interrupt; the caller holds the lock. */
static void update_irq(struct serial *s, bool was_pending)
{
	if (!was_pending && irq_pending(s))
		irq_line_raise(s->irq);
}

static size_t rx_push(struct serial *s, const uint8_t *buf, size_t n)
{
	size_t room = RX_SIZE - s->st.rx_count;
	size_t k = MIN(n, room);
	memcpy(s->st.rx + s->st.rx_count, buf, k);
	s->st.rx_count = (uint8_t)(s->st.rx_count + k);
	s->st.lsr |= s->st.rx_count ? LSR_DR : 0;
	return k;
}

/* The gathered output to out_fd; the caller holds the lock. */
static void tx_flush(struct serial *s)
{
	size_t done = 0;
	while (done < s->tx_len) {
		ssize_t r = write(s->out_fd, s->tx + done, s->tx_len - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			s->stats.missed_write += s->tx_len - done;
			break;
		}
		s->stats.tx_bytes += (uint64_t)r;
		done += (size_t)r;
	}
	s->tx_len = 0;
}

static void transmit(struct serial *s, uint8_t c)
{
	if (s->st.mcr & MCR_LOOP) {
		if (!rx_push(s, &c, 1))
			s->stats.missed_read++;
		return;
	}
	if (s->out_fd < 0)
		return;
	s->tx[s->tx_len++] = c;
	if (c == '\n' || s->tx_len == TX_SIZE || s->tx_timer_fd < 0) {
		tx_flush(s);
		return;
	}
	if (!s->tx_armed) {
		struct itimerspec t = { .it_value = { 0, TX_FLUSH_NS } };
		if (timerfd_settime(s->tx_timer_fd, 0, &t, NULL) == 0)
			s->tx_armed = true;
		else
			tx_flush(s);
	}
}

static uint8_t reg_read(struct serial *s, unsigned off)
{
	uint8_t v;
	switch (off) {
	case RBR_THR:
		if (s->st.lcr & LCR_DLAB)
			return s->st.dll;
		if (!s->st.rx_count)
			return 0;
		v = s->st.rx[0];
		memmove(s->st.rx, s->st.rx + 1, --s->st.rx_count);
		if (!s->st.rx_count) {
			s->st.lsr &= (uint8_t)~LSR_DR;
			if (s->in_paused && s->wake_fd >= 0) {
				uint64_t one = 1;
				ssize_t r = write(s->wake_fd, &one, sizeof(one));
				(void)r;
			}
		}
		s->stats.rx_bytes++;
		return v;
	case IER: return (s->st.lcr & LCR_DLAB) ? s->st.dlm : s->st.ier;
	case IIR_FCR:
		v = iir(s);
		/* Reading IIR acknowledges a THR-empty interrupt. */
		if ((v & 0x0f) == IIR_THRI)
			s->st.iir_thre = 0;
		return v;
	case LCR: return s->st.lcr;
	case MCR: return s->st.mcr;
	case LSR: return s->st.lsr;
	case MSR:
		if (s->st.mcr & MCR_LOOP) {
			/* Loopback wires DTR/RTS/OUT1/OUT2 to DSR/CTS/RI/DCD. */
			uint8_t m = s->st.mcr;
			return (uint8_t)(((m & MCR_RTS) ? MSR_CTS : 0) |
					 ((m & MCR_DTR) ? MSR_DSR : 0) |
					 ((m & MCR_OUT1) ? MSR_RI : 0) |
					 ((m & MCR_OUT2) ? MSR_DCD : 0));
		}
		return s->st.msr;
	default: return s->st.scr;
	}
}

static void reg_write(struct serial *s, unsigned off, uint8_t v)
{
	switch (off) {
	case RBR_THR:
		if (s->st.lcr & LCR_DLAB) {
			s->st.dll = v;
			return;
		}
		transmit(s, v);
		s->st.iir_thre = 1; /* transmission is instantaneous */
		return;
	case IER:
		if (s->st.lcr & LCR_DLAB) {
			s->st.dlm = v;
			return;
		}
		if ((v & IER_THRI) && !(s->st.ier & IER_THRI))
			s->st.iir_thre = 1;
		s->st.ier = v & 0x0f;
		return;
	case IIR_FCR:
		s->st.fcr = v & 0xc9;
		if (v & FCR_CLEAR_RX) {
			s->st.rx_count = 0;
			s->st.lsr &= (uint8_t)~LSR_DR;
		}
		return;
	case LCR: s->st.lcr = v; return;
	case MCR: s->st.mcr = v & 0x1f; return;
	case LSR:
	case MSR: return; /* read-only */
	default: s->st.scr = v;
	}
}

void serial_pio(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool write)
{
	struct serial *s = opaque;
	if (len != 1) {
		if (!write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&s->lock);
	bool was = irq_pending(s);
	if (write)
		reg_write(s, (unsigned)off, data[0]);
	else
		data[0] = reg_read(s, (unsigned)off);
	update_irq(s, was);
	pthread_mutex_unlock(&s->lock);
}

size_t serial_input(struct serial *s, const uint8_t *buf, size_t n)
{
	pthread_mutex_lock(&s->lock);
	bool was = irq_pending(s);
	size_t k = rx_push(s, buf, n);
	update_irq(s, was);
	pthread_mutex_unlock(&s->lock);
	return k;
}

static void on_input(void *opaque, uint32_t events)
{
	struct serial *s = opaque;
	uint8_t buf[RX_SIZE];

	pthread_mutex_lock(&s->lock);
	size_t room = RX_SIZE - s->st.rx_count;
	if (room == 0)
		s->in_paused = true;
	pthread_mutex_unlock(&s->lock);
	if (room == 0) {
		/* The guest is not reading: stop polling until it drains the FIFO. */
		evloop_mod(s->loop, s->in_fd, 0);
		return;
	}
	ssize_t r = read(s->in_fd, buf, room);
	if (r > 0) {
		serial_input(s, buf, (size_t)r);
	} else if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR) || (events & EPOLLHUP)) {
		evloop_del(s->loop, s->in_fd);
		s->in_eof = true;
	}
}

static void on_tx_timer(void *opaque, uint32_t events)
{
	struct serial *s = opaque;
	uint64_t v;
	(void)events;
	ssize_t r = read(s->tx_timer_fd, &v, sizeof(v));
	(void)r;
	pthread_mutex_lock(&s->lock);
	s->tx_armed = false;
	tx_flush(s);
	pthread_mutex_unlock(&s->lock);
}

static void on_wake(void *opaque, uint32_t events)
{
	struct serial *s = opaque;
	uint64_t v;
	(void)events;
	ssize_t r = read(s->wake_fd, &v, sizeof(v));
	(void)r;
	pthread_mutex_lock(&s->lock);
	bool resume = s->in_paused && !s->in_eof;
	s->in_paused = false;
	pthread_mutex_unlock(&s->lock);
	if (resume)
		evloop_mod(s->loop, s->in_fd, EPOLLIN);
}

int serial_attach(struct serial *s, struct evloop *l)
{
	s->loop = l;
	if (s->out_fd >= 0) {
		int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (fd < 0)
			return -errno;
		int r = evloop_add(l, fd, EPOLLIN, on_tx_timer, s);
		if (r) {
			close(fd);
			return r;
		}
		pthread_mutex_lock(&s->lock);
		s->tx_timer_fd = fd;
		pthread_mutex_unlock(&s->lock);
	}
	if (s->in_fd < 0)
		return 0;
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0)
		return -errno;
	int r = evloop_add(l, s->wake_fd, EPOLLIN, on_wake, s);
	if (r)
		return r;
	r = evloop_add(l, s->in_fd, EPOLLIN, on_input, s);
	if (r == -EPERM) {
		/* A regular file or /dev/null cannot be polled: no console input then. */
		log_debug("serial: stdin cannot be polled, console input disabled");
		s->in_eof = true;
		return 0;
	}
	return r;
}

void serial_get_stats(struct serial *s, struct serial_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->stats;
	pthread_mutex_unlock(&s->lock);
}

void serial_save(struct serial *s, struct serial_state *st)
{
	pthread_mutex_lock(&s->lock);
	tx_flush(s); /* what the guest wrote before the snapshot is the original's */
	*st = s->st;
	pthread_mutex_unlock(&s->lock);
}

int serial_restore(struct serial *s, const struct serial_state *st)
{
	if (st->rx_count > RX_SIZE)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	s->st = *st;
	/* Data-ready follows the FIFO, whatever the file said. */
	s->st.lsr = (uint8_t)((s->st.lsr & ~LSR_DR) | (s->st.rx_count ? LSR_DR : 0));
	pthread_mutex_unlock(&s->lock);
	return 0;
}
