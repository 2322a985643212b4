#include "i8042.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define STS_OBF	     0x01
#define STS_SYS	     0x04
#define STS_CMD	     0x08
#define STS_UNLOCKED 0x10

#define CTR_KBD_INT	0x01
#define CTR_SYS		0x04
#define CTR_KBD_DISABLE 0x10
#define CTR_AUX_DISABLE 0x20
#define CTR_XLATE	0x40

/* Controller commands (port 0x64). */
#define CMD_READ_CTR	  0x20
#define CMD_WRITE_CTR	  0x60
#define CMD_AUX_DISABLE	  0xa7
#define CMD_AUX_ENABLE	  0xa8
#define CMD_AUX_TEST	  0xa9
#define CMD_SELF_TEST	  0xaa
#define CMD_KBD_TEST	  0xab
#define CMD_KBD_DISABLE	  0xad
#define CMD_KBD_ENABLE	  0xae
#define CMD_READ_OUTP	  0xd0
#define CMD_WRITE_OUTP	  0xd1
#define CMD_WRITE_KBD_OUT 0xd2
#define CMD_WRITE_AUX_OUT 0xd3
#define CMD_WRITE_AUX	  0xd4
#define CMD_PULSE_RESET	  0xfe

/* Keyboard commands (port 0x60) and replies. */
#define KBD_ACK	     0xfa
#define KBD_SET_LEDS 0xed
#define KBD_ECHO     0xee
#define KBD_SCANSET  0xf0
#define KBD_GET_ID   0xf2
#define KBD_SET_RATE 0xf3
#define KBD_RESET    0xff

struct i8042 {
	pthread_mutex_t lock;
	struct i8042_state st; /* buf is a FIFO from index 0 */
	struct irq_line *irq;
	i8042_reset_fn reset;
	void *opaque;
};

struct i8042 *i8042_create(struct irq_line *kbd_irq, i8042_reset_fn reset, void *opaque)
{
	struct i8042 *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	pthread_mutex_init(&d->lock, NULL);
	d->irq = kbd_irq;
	d->reset = reset;
	d->opaque = opaque;
	d->st.status = STS_SYS | STS_UNLOCKED;
	d->st.ctr = CTR_KBD_INT | CTR_SYS | CTR_XLATE;
	d->st.outp = 0x03; /* reset line high, A20 on */
	return d;
}

void i8042_destroy(struct i8042 *d)
{
	if (!d)
		return;
	pthread_mutex_destroy(&d->lock);
	free(d);
}

/*
 * Queue a byte for the guest. Keyboard bytes interrupt (when the guest enabled
 * it); replies to controller commands are polled for and never interrupt,
 * or Linux would take them for unsolicited keyboard data.
 */
static bool push(struct i8042 *d, uint8_t b, bool irq)
{
	/*
	 * A controller reply replaces replies the guest never read (Linux leaves
	 * the answer to a failed AUX loop test unread), as a real controller's
	 * one-byte output buffer would; queued keyboard bytes are kept.
	 */
	if (!irq && d->st.irq_mask == 0)
		d->st.count = 0;
	if (d->st.count == sizeof(d->st.buf))
		return false;
	if (irq)
		d->st.irq_mask |= (uint16_t)(1u << d->st.count);
	d->st.buf[d->st.count++] = b;
	d->st.status |= STS_OBF;
	if (irq && (d->st.ctr & CTR_KBD_INT) && d->st.count == 1)
		irq_line_raise(d->irq);
	return true;
}

static uint8_t pop(struct i8042 *d)
{
	if (!d->st.count)
		return 0;
	uint8_t b = d->st.buf[0];
	memmove(d->st.buf, d->st.buf + 1, --d->st.count);
	d->st.irq_mask >>= 1;
	if (!d->st.count)
		d->st.status &= (uint8_t)~STS_OBF;
	else if ((d->st.irq_mask & 1) && (d->st.ctr & CTR_KBD_INT))
		irq_line_raise(d->irq); /* one edge per keyboard byte */
	return b;
}

/* Returns true when the VM must reset. */
static bool command(struct i8042 *d, uint8_t cmd)
{
	d->st.pending_cmd = 0;
	switch (cmd) {
	case CMD_READ_CTR: push(d, d->st.ctr, false); break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTP:
	case CMD_WRITE_KBD_OUT:
	case CMD_WRITE_AUX_OUT:
	case CMD_WRITE_AUX: d->st.pending_cmd = cmd; break;
	case CMD_AUX_DISABLE: d->st.ctr |= CTR_AUX_DISABLE; break;
	case CMD_AUX_ENABLE: d->st.ctr &= (uint8_t)~CTR_AUX_DISABLE; break;
	case CMD_AUX_TEST:
		push(d, 0x01, false); /* "clock line stuck low": there is no mouse */
		break;
	case CMD_SELF_TEST: push(d, 0x55, false); break;
	case CMD_KBD_TEST: push(d, 0x00, false); break;
	case CMD_KBD_DISABLE: d->st.ctr |= CTR_KBD_DISABLE; break;
	case CMD_KBD_ENABLE: d->st.ctr &= (uint8_t)~CTR_KBD_DISABLE; break;
	case CMD_READ_OUTP: push(d, d->st.outp, false); break;
	case CMD_PULSE_RESET: return true;
	default: break; /* unknown commands are ignored, as on many real controllers */
	}
	return false;
}

/* A byte for the keyboard itself: ACK everything, answer what Linux asks. */
static void keyboard(struct i8042 *d, uint8_t b)
{
	if (d->st.kbd_pending) {
		uint8_t cmd = d->st.kbd_pending;
		d->st.kbd_pending = 0;
		push(d, KBD_ACK, true);
		if (cmd == KBD_SCANSET && b == 0)
			push(d, (d->st.ctr & CTR_XLATE) ? 0x41 : 0x02, true);
		return;
	}
	switch (b) {
	case KBD_RESET:
		push(d, KBD_ACK, true);
		push(d, 0xaa, true); /* self-test passed */
		break;
	case KBD_GET_ID:
		push(d, KBD_ACK, true);
		push(d, 0xab, true);
		push(d, 0x83, true);
		break;
	case KBD_ECHO: push(d, KBD_ECHO, true); break;
	case KBD_SET_LEDS:
	case KBD_SET_RATE:
	case KBD_SCANSET:
		d->st.kbd_pending = b;
		push(d, KBD_ACK, true);
		break;
	default: push(d, KBD_ACK, true);
	}
}

/* Returns true when the VM must reset. */
static bool data_write(struct i8042 *d, uint8_t b)
{
	uint8_t cmd = d->st.pending_cmd;
	d->st.pending_cmd = 0;
	switch (cmd) {
	case CMD_WRITE_CTR: d->st.ctr = b; return false;
	case CMD_WRITE_OUTP: d->st.outp = b; return !(b & 1); /* reset line pulled low */
	case CMD_WRITE_KBD_OUT: push(d, b, true); return false;
	case CMD_WRITE_AUX_OUT:
		/* No AUX loopback: the byte comes back as keyboard data, which Linux reads as "no
		 * mouse". */
		push(d, b, false);
		return false;
	case CMD_WRITE_AUX: return false; /* no mouse to talk to */
	default: keyboard(d, b); return false;
	}
}

void i8042_pio(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool write)
{
	struct i8042 *d = opaque;
	bool reset = false;

	if (len != 1 || (off != 0 && off != 4)) {
		if (!write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&d->lock);
	if (!write && off == 0) {
		data[0] = pop(d);
	} else if (!write) {
		data[0] = d->st.status;
	} else if (off == 4) {
		d->st.status |= STS_CMD;
		reset = command(d, data[0]);
	} else {
		d->st.status &= (uint8_t)~STS_CMD;
		reset = data_write(d, data[0]);
	}
	pthread_mutex_unlock(&d->lock);
	if (reset && d->reset)
		d->reset(d->opaque);
}

int i8042_ctrl_alt_del(struct i8042 *d)
{
	/* Scan code set 1 (what a translating controller delivers) and set 2. */
	static const uint8_t set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
	static const uint8_t set2[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0,
					0x71, 0xf0, 0x11, 0xf0, 0x14 };
	int r = 0;

	pthread_mutex_lock(&d->lock);
	bool xlate = d->st.ctr & CTR_XLATE;
	const uint8_t *seq = xlate ? set1 : set2;
	size_t n = xlate ? sizeof(set1) : sizeof(set2);
	if (sizeof(d->st.buf) - d->st.count < n)
		r = -ENOSPC;
	for (size_t i = 0; !r && i < n; i++)
		push(d, seq[i], true);
	pthread_mutex_unlock(&d->lock);
	return r;
}

void i8042_save(struct i8042 *d, struct i8042_state *st)
{
	pthread_mutex_lock(&d->lock);
	*st = d->st;
	pthread_mutex_unlock(&d->lock);
}

int i8042_restore(struct i8042 *d, const struct i8042_state *st)
{
	if (st->count > sizeof(st->buf))
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	d->st = *st;
	pthread_mutex_unlock(&d->lock);
	return 0;
}
