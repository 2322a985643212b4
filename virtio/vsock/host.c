/*
 * virtio-vsock's host side: the listener on uds_path (host-initiated
 * connections announce their guest port with "CONNECT <port>\n"), Unix
 * sockets to "<uds_path>_<port>" for guest-initiated ones, and buffering of
 * guest data the host socket cannot take yet. Runs on the vmm thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../../vmm/eventloop.h"
#include "../../lib/err.h"
#include "../../lib/log.h"
#include "../../lib/util.h"
#include "../ratelimit.h"
#include "impl.h"

#define NET_RXQ_VSOCK 0

static void on_conn(void *opaque, uint32_t events);

struct vsock *vsock_create(uint32_t guest_cid, const char *uds_path, struct err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vsock *v = calloc(1, sizeof(*v));
	if (!v) {
		err_set(err, -ENOMEM, "vsock: out of memory");
		return NULL;
	}
	v->guest_cid = guest_cid;
	v->listen_fd = v->wake_fd = v->timer_fd = -1;
	v->next_port = VSOCK_EPHEMERAL;
	for (int i = 0; i < VSOCK_MAX_CONNS; i++) {
		v->conns[i].v = v;
		v->conns[i].fd = -1;
	}
	if (strlen(uds_path) >= sizeof(sa.sun_path)) {
		err_inval(err, "vsock uds_path %s: too long for a Unix socket", uds_path);
		goto fail;
	}
	snprintf(v->uds_path, sizeof(v->uds_path), "%s", uds_path);
	memcpy(sa.sun_path, uds_path, strlen(uds_path));
	v->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (v->listen_fd < 0 || bind(v->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(v->listen_fd, 64) < 0) {
		int e = errno;
		err_set(err, -e, "vsock uds_path %s: %s%s", uds_path, strerror(e),
			e == EADDRINUSE
			    ? " (it exists: remove a stale socket or choose another path)"
			    : "");
		v->uds_path[0] = '\0'; /* not ours to unlink */
		goto fail;
	}
	v->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (v->wake_fd < 0 || v->timer_fd < 0) {
		err_set(err, -errno, "vsock: eventfd/timerfd: %s", strerror(errno));
		goto fail;
	}
	return v;
fail:
	vsock_destroy(v);
	return NULL;
}

void vsock_destroy(struct vsock *v)
{
	if (!v)
		return;
	vsock_close_all(v);
	if (v->listen_fd >= 0) {
		if (v->loop)
			evloop_del(v->loop, v->listen_fd);
		close(v->listen_fd);
		if (v->uds_path[0])
			unlink(v->uds_path);
	}
	if (v->wake_fd >= 0) {
		if (v->loop)
			evloop_del(v->loop, v->wake_fd);
		close(v->wake_fd);
	}
	if (v->timer_fd >= 0) {
		if (v->loop)
			evloop_del(v->loop, v->timer_fd);
		close(v->timer_fd);
	}
	free(v);
}

void vsock_conn_watch(struct vconn *c)
{
	struct vsock *v = c->v;
	uint32_t want = 0;
	if (c->state == CONN_HOST_LINE)
		want = EPOLLIN;
	else if (c->state == CONN_ESTABLISHED)
		want = (!c->readable && !c->host_eof ? EPOLLIN : 0) | (c->tx_len ? EPOLLOUT : 0);
	if (want == c->events || !v->loop)
		return;
	/* Not watched at all when nothing is wanted: a hung-up socket would wake us forever. */
	int r = c->events == 0 ? evloop_add(v->loop, c->fd, want, on_conn, c)
		: want == 0    ? evloop_del(v->loop, c->fd)
			       : evloop_mod(v->loop, c->fd, want);
	if (r) {
		log_once(v->logged_io, LOG_WARN, "vsock: watching a connection: %s", strerror(-r));
		c->need_rst = true;
		return;
	}
	c->events = want;
}

/* One shot at the nearest deadline (absolute CLOCK_MONOTONIC), or disarmed. */
static void arm_timer(struct vsock *v)
{
	uint64_t next = 0;
	for (int i = 0; i < VSOCK_MAX_CONNS; i++) {
		uint64_t d = v->conns[i].state != CONN_FREE ? v->conns[i].deadline_ns : 0;
		if (d && (!next || d < next))
			next = d;
	}
	struct itimerspec its = { .it_value = { (time_t)(next / 1000000000ULL),
						(long)(next % 1000000000ULL) } };
	if (v->timer_fd >= 0)
		timerfd_settime(v->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

void vsock_conn_deadline(struct vconn *c, bool on)
{
	c->deadline_ns = on ? mono_ns() + VSOCK_TIMEOUT_NS : 0;
	arm_timer(c->v);
}

static struct vconn *new_conn(struct vsock *v, int fd, enum conn_state state)
{
	for (int i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vconn *c = &v->conns[i];
		if (c->state != CONN_FREE)
			continue;
		memset(c, 0, sizeof(*c));
		c->v = v;
		c->fd = fd;
		c->state = state;
		v->stats.conns_added++;
		return c;
	}
	log_once(v->logged_io, LOG_WARN, "vsock: more than %d connections: refusing more",
		 VSOCK_MAX_CONNS);
	return NULL;
}

void vsock_conn_close(struct vconn *c)
{
	if (c->state == CONN_FREE)
		return;
	if (c->fd >= 0) {
		if (c->events && c->v->loop)
			evloop_del(c->v->loop, c->fd);
		close(c->fd);
	}
	free(c->txbuf);
	struct vsock *v = c->v;
	memset(c, 0, sizeof(*c));
	c->v = v;
	c->fd = -1;
	v->stats.conns_removed++;
}

void vsock_close_all(struct vsock *v)
{
	for (int i = 0; i < VSOCK_MAX_CONNS; i++)
		vsock_conn_close(&v->conns[i]);
	v->nr_rsts = 0;
}

void vsock_reap(struct vsock *v)
{
	for (int i = 0; i < VSOCK_MAX_CONNS; i++)
		if (v->conns[i].state == CONN_DEAD)
			vsock_conn_close(&v->conns[i]);
}

struct vconn *vsock_conn_find(struct vsock *v, uint32_t local_port, uint32_t peer_port)
{
	for (int i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vconn *c = &v->conns[i];
		if ((c->state == CONN_REQUEST_SENT || c->state == CONN_ESTABLISHED) &&
		    c->local_port == local_port && c->peer_port == peer_port)
			return c;
	}
	return NULL;
}

void vsock_queue_rst(struct vsock *v, uint32_t src_port, uint32_t dst_port)
{
	if (v->nr_rsts == VSOCK_MAX_RSTS)
		return; /* the guest times out instead */
	v->rsts[v->nr_rsts++] = (struct rst_reply){ src_port, dst_port };
}

struct vconn *vsock_conn_connect(struct vsock *v, uint32_t port, uint32_t peer_port)
{
	char path[sizeof(v->uds_path) + 16];
	int len = snprintf(path, sizeof(path), "%s_%u", v->uds_path, port);
	if (len < 0 || (size_t)len >= sizeof(path))
		return NULL; /* uds_path was checked to leave room; never here */
	int fd = unix_connect(path, SOCK_NONBLOCK);
	if (fd < 0) {
		log_debug("vsock: guest port %u -> %s: %s", peer_port, path, strerror(-fd));
		return NULL;
	}
	struct vconn *c = new_conn(v, fd, CONN_ESTABLISHED);
	if (!c) {
		close(fd);
		return NULL;
	}
	c->local_port = port;
	c->peer_port = peer_port;
	c->need_response = true;
	vsock_conn_watch(c);
	return c;
}

static uint32_t alloc_port(struct vsock *v)
{
	for (;;) {
		uint32_t p = v->next_port++;
		if (v->next_port == 0)
			v->next_port = VSOCK_EPHEMERAL;
		bool used = false;
		for (int i = 0; i < VSOCK_MAX_CONNS; i++)
			used |= v->conns[i].state != CONN_FREE && v->conns[i].local_port == p;
		if (!used)
			return p;
	}
}

/* "CONNECT <port>\n", a byte at a time so nothing after the line is taken:
 * 1 complete (the guest port in *port), 0 more to come, -1 bad or closed. */
static int read_line(struct vconn *c, uint32_t *port)
{
	while (c->line_len < VSOCK_LINE_MAX - 1) {
		char ch;
		ssize_t r = read(c->fd, &ch, 1);
		if (r < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (r == 0)
			return -1;
		if (ch == '\n') {
			c->line[c->line_len] = '\0';
			char *end;
			if (strncmp(c->line, "CONNECT ", 8) || c->line[8] < '0' || c->line[8] > '9')
				return -1;
			errno = 0;
			unsigned long long p = strtoull(c->line + 8, &end, 10);
			if (*end || errno || p > UINT32_MAX)
				return -1;
			*port = (uint32_t)p;
			return 1;
		}
		c->line[c->line_len++] = ch;
	}
	return -1;
}

static void host_line(struct vconn *c)
{
	uint32_t port;
	int r = read_line(c, &port);
	if (r == 0)
		return;
	if (r < 0) {
		log_debug("vsock: a host connection sent no valid CONNECT line");
		vsock_conn_close(c);
		return;
	}
	c->local_port = alloc_port(c->v);
	c->peer_port = port;
	c->state = CONN_REQUEST_SENT;
	c->need_request = true;
	vsock_conn_deadline(c, true); /* now for the guest's answer */
	vsock_conn_watch(c);
}

static void flush(struct vconn *c)
{
	while (c->tx_len) {
		uint32_t k = MIN(c->tx_len, VSOCK_BUF_ALLOC - c->tx_head);
		ssize_t w = write(c->fd, c->txbuf + c->tx_head, k);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w < 0 && errno != EAGAIN)
				c->need_rst = true;
			break;
		}
		c->tx_head = (c->tx_head + (uint32_t)w) % VSOCK_BUF_ALLOC;
		c->tx_len -= (uint32_t)w;
		c->fwd_cnt += (uint32_t)w;
	}
	if (!c->tx_len && c->shut_write)
		shutdown(c->fd, SHUT_WR);
	if (c->fwd_cnt - c->fwd_cnt_told >= VSOCK_CREDIT_SLACK)
		c->need_credit = true;
}

int vsock_conn_send(struct vconn *c, const struct iovec *iov, int n, uint32_t len)
{
	uint32_t done = 0;
	if (!c->tx_len && len) {
		ssize_t w;
		do
			w = writev(c->fd, iov, n);
		while (w < 0 && errno == EINTR);
		if (w < 0 && errno != EAGAIN)
			return -2;
		done = w > 0 ? (uint32_t)w : 0;
		c->fwd_cnt += done;
	}
	if (done == len)
		return 0;
	/* The guest may have VSOCK_BUF_ALLOC bytes in flight: keep what the socket refused. */
	if (c->tx_len + (len - done) > VSOCK_BUF_ALLOC)
		return -1;
	if (!c->txbuf && !(c->txbuf = malloc(VSOCK_BUF_ALLOC)))
		return -2;
	uint32_t skip = done;
	for (int i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;
		uint32_t l = (uint32_t)iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		p += skip;
		l -= skip;
		skip = 0;
		while (l) {
			uint32_t tail = (c->tx_head + c->tx_len) % VSOCK_BUF_ALLOC;
			uint32_t k = MIN(l, VSOCK_BUF_ALLOC - tail);
			memcpy(c->txbuf + tail, p, k);
			c->tx_len += k;
			p += k;
			l -= k;
		}
	}
	vsock_conn_watch(c);
	return 0;
}

static void on_conn(void *opaque, uint32_t events)
{
	struct vconn *c = opaque;
	struct vsock *v = c->v;
	const struct virtio_host *h = v->host;
	h->lock(h->t);
	if (c->state == CONN_HOST_LINE) {
		host_line(c);
	} else if (c->state == CONN_ESTABLISHED) {
		if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			c->readable = true;
		if (events & EPOLLOUT)
			flush(c);
		vsock_conn_watch(c);
	}
	bool active = v->active;
	h->unlock(h->t);
	if (active)
		h->kick(h->t, NET_RXQ_VSOCK);
}

static void on_listen(void *opaque, uint32_t events);

/* The guest's driver is not up yet: leave host connections in the backlog,
 * as Firecracker does (its clients write "CONNECT" at once and retry only
 * when no "OK" comes back), and stop watching until on_wake re-arms. */
static void park_listener(struct vsock *v)
{
	if (!v->listen_parked && !evloop_del(v->loop, v->listen_fd))
		v->listen_parked = true;
}

static void unpark_listener(struct vsock *v)
{
	if (v->listen_parked && v->active &&
	    !evloop_add(v->loop, v->listen_fd, EPOLLIN, on_listen, v))
		v->listen_parked = false;
}

static void on_listen(void *opaque, uint32_t events)
{
	struct vsock *v = opaque;
	const struct virtio_host *h = v->host;
	(void)events;
	h->lock(h->t);
	if (!v->active) {
		park_listener(v);
		h->unlock(h->t);
		return;
	}
	int fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct vconn *c = fd >= 0 ? new_conn(v, fd, CONN_HOST_LINE) : NULL;
	if (c) {
		vsock_conn_deadline(c, true); /* for its CONNECT line */
		vsock_conn_watch(c);
	} else if (fd >= 0)
		close(fd); /* too many connections */
	h->unlock(h->t);
}

/* reset() or activate() on a vCPU thread, or the TX queue wanting RX: finish
 * the work here. */
static void on_wake(void *opaque, uint32_t events)
{
	struct vsock *v = opaque;
	const struct virtio_host *h = v->host;
	uint64_t n;
	(void)events;
	if (read(v->wake_fd, &n, sizeof(n)) != sizeof(n))
		return;
	h->lock(h->t);
	vsock_reap(v);
	unpark_listener(v);
	bool active = v->active;
	h->unlock(h->t);
	if (active)
		h->kick(h->t, NET_RXQ_VSOCK);
}

/* Deadlines passed: a silent host connection is closed, a connection the
 * guest does not answer or finish closing is reset on both sides. */
static void on_timer(void *opaque, uint32_t events)
{
	struct vsock *v = opaque;
	const struct virtio_host *h = v->host;
	uint64_t n;
	bool rx = false;
	(void)events;
	if (read(v->timer_fd, &n, sizeof(n)) != sizeof(n))
		return;
	h->lock(h->t);
	uint64_t now = mono_ns();
	for (int i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vconn *c = &v->conns[i];
		if (c->state == CONN_FREE || !c->deadline_ns || c->deadline_ns > now)
			continue;
		c->deadline_ns = 0;
		v->stats.conn_fails++;
		if (c->state == CONN_HOST_LINE || c->state == CONN_DEAD) {
			vsock_conn_close(c);
		} else {
			c->need_rst = true;
			rx = true;
		}
	}
	arm_timer(v);
	bool active = v->active;
	h->unlock(h->t);
	if (rx && active)
		h->kick(h->t, NET_RXQ_VSOCK);
}

int vsock_host_attach(struct vsock *v)
{
	int r = evloop_add(v->host->loop, v->listen_fd, EPOLLIN, on_listen, v);
	if (r)
		return r;
	r = evloop_add(v->host->loop, v->wake_fd, EPOLLIN, on_wake, v);
	if (!r && (r = evloop_add(v->host->loop, v->timer_fd, EPOLLIN, on_timer, v)))
		evloop_del(v->host->loop, v->wake_fd);
	if (r) {
		evloop_del(v->host->loop, v->listen_fd);
		return r;
	}
	v->loop = v->host->loop;
	return 0;
}
