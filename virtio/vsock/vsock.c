/*
 * virtio-vsock's queues. TX: the guest's packets, checked (vsock_pkt.c),
 * drive the connections: REQUEST connects to the host socket, RW writes to
 * it, SHUTDOWN/RST close it. RX: control packets owed to the guest first,
 * then data read from ready host sockets straight into the guest's buffers,
 * within the credit the guest gave. The event queue carries the transport
 * reset a snapshot causes.
 */
#include "vsock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../../lib/util.h"
#include "impl.h"

#define VSOCK_QUEUE_SIZE      256
#define Q_RX		      0
#define Q_TX		      1
#define Q_EV		      2
#define EVENT_TRANSPORT_RESET 0

static struct iovec iov_scratch[VIRTQ_MAX_CHAIN];

void vsock_get_stats(struct vsock *v, struct vsock_stats *out)
{
	*out = v->stats;
}

static void wake(struct vsock *v)
{
	uint64_t one = 1;
	if (v->wake_fd >= 0 && write(v->wake_fd, &one, sizeof(one)) < 0)
		log_once(v->logged_io, LOG_WARN, "vsock: wake: %s", strerror(errno));
}

static int vsock_attach(void *dev, const struct virtio_host *h)
{
	struct vsock *v = dev;
	v->host = h;
	return h->loop ? vsock_host_attach(v) : 0;
}

static uint64_t vsock_features(void *dev)
{
	(void)dev;
	return 0;
}

static void vsock_read_config(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct vsock *v = dev;
	uint8_t cfg[8];
	memcpy(cfg, &v->guest_cid, 8);
	memset(data, 0, len);
	if (off < sizeof(cfg))
		memcpy(data, cfg + off, MIN((uint64_t)len, sizeof(cfg) - off));
}

static int vsock_activate(void *dev, uint64_t acked, struct virtq *queues)
{
	struct vsock *v = dev;
	(void)acked;
	if (!queues[Q_RX].ready || !queues[Q_TX].ready || !queues[Q_EV].ready)
		return -EINVAL;
	v->active = true;
	wake(v); /* host connections waiting in the backlog: accept them now */
	return 0;
}

/* On a vCPU thread: no closing here; mark, and let the vmm thread reap. */
static void vsock_reset(void *dev)
{
	struct vsock *v = dev;
	v->active = false;
	v->reset_event_pending = false;
	v->nr_rsts = 0;
	for (int i = 0; i < VSOCK_MAX_CONNS; i++)
		if (v->conns[i].state != CONN_FREE)
			v->conns[i].state = CONN_DEAD;
	wake(v);
}

void vsock_snapshot_reset(struct vsock *v)
{
	const struct virtio_host *h = v->host;
	if (!h)
		return;
	h->lock(h->t);
	vsock_close_all(v);
	v->reset_event_pending = v->active;
	v->stats.resets++;
	h->unlock(h->t);
	h->kick(h->t, Q_EV);
}

/* ---- guest -> host ---- */

static void bad_packet(struct vsock *v, enum vsock_pkt_err e, const struct vsock_hdr *h)
{
	v->stats.bad_packets++;
	log_once(v->logged_bad, LOG_WARN, "vsock: dropped a packet from the guest: %s",
		 vsock_pkt_err_str(e));
	/* Addressed right but unusable: tell the guest's socket it is dead. */
	if ((e == VSOCK_PKT_TYPE || e == VSOCK_PKT_OP || e == VSOCK_PKT_LEN_OP) &&
	    h->op != VSOCK_OP_RST)
		vsock_queue_rst(v, h->src_port, h->dst_port);
}

static void rw(struct vsock *v, struct vconn *c, const struct vsock_hdr *h)
{
	struct chain_cursor cur;
	uint32_t got;
	cursor_init(&cur, &v->chain, false);
	cursor_skip(&cur, VSOCK_HDR_LEN);
	int n = cursor_iov(&cur, iov_scratch, VIRTQ_MAX_CHAIN, h->len, &got);
	int r = vsock_conn_send(c, iov_scratch, n, got);
	if (r) {
		log_once(v->logged_io, LOG_WARN, "vsock: port %u -> %u: %s", h->src_port,
			 h->dst_port,
			 r == -1 ? "the guest sent beyond its credit" : "the host socket failed");
		c->need_rst = true;
		return;
	}
	v->stats.tx_bytes += got;
	if (c->fwd_cnt - c->fwd_cnt_told >= VSOCK_CREDIT_SLACK)
		c->need_credit = true;
}

static void established(struct vconn *c)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "OK %u\n", c->local_port);
	c->state = CONN_ESTABLISHED;
	vsock_conn_deadline(c, false);
	if (write(c->fd, line, (size_t)n) != n) {
		c->need_rst = true;
		return;
	}
	vsock_conn_watch(c);
}

/* One packet from the guest; true if the RX side has something new to send. */
static bool handle_tx(struct vsock *v)
{
	struct vsock_hdr h;
	enum vsock_pkt_err e = vsock_parse_tx(&v->chain, v->guest_cid, &h);
	if (e) {
		bad_packet(v, e, &h);
		return v->nr_rsts > 0;
	}
	v->stats.tx_packets++;
	struct vconn *c = vsock_conn_find(v, h.dst_port, h.src_port);
	if (c) {
		c->peer_buf_alloc = h.buf_alloc;
		c->peer_fwd_cnt = h.fwd_cnt;
	}
	if (!c && h.op != VSOCK_OP_REQUEST) {
		if (h.op != VSOCK_OP_RST)
			vsock_queue_rst(v, h.src_port, h.dst_port);
		return true;
	}
	switch (h.op) {
	case VSOCK_OP_REQUEST:
		if (c) {
			c->need_rst = true; /* a second request for a live connection */
			break;
		}
		c = vsock_conn_connect(v, h.dst_port, h.src_port);
		if (!c) {
			v->stats.conn_fails++;
			vsock_queue_rst(v, h.src_port, h.dst_port);
			break;
		}
		c->peer_buf_alloc = h.buf_alloc;
		c->peer_fwd_cnt = h.fwd_cnt;
		break;
	case VSOCK_OP_RESPONSE:
		if (c->state == CONN_REQUEST_SENT)
			established(c);
		else
			c->need_rst = true;
		break;
	case VSOCK_OP_RW:
		if (c->state == CONN_ESTABLISHED)
			rw(v, c, &h);
		else
			c->need_rst = true;
		break;
	case VSOCK_OP_SHUTDOWN:
		if ((h.flags & (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND)) ==
		    (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND)) {
			c->need_rst = true; /* the guest waits for our RST to finish closing */
		} else if (h.flags & VSOCK_SHUTDOWN_SEND) {
			c->shut_write = true;
			if (!c->tx_len)
				shutdown(c->fd, SHUT_WR);
		}
		break;
	case VSOCK_OP_RST: vsock_conn_close(c); return false;
	case VSOCK_OP_CREDIT_REQUEST: c->need_credit = true; break;
	case VSOCK_OP_CREDIT_UPDATE: break;
	}
	/* New credit, a reply owed, or data now allowed: RX may have work. */
	return true;
}

static bool tx(struct vsock *v, struct virtq *q, bool *fatal)
{
	bool used = false, rx_work = false;
	int r;
	do {
		while ((r = virtq_pop(q, &v->chain)) == 1) {
			rx_work |= handle_tx(v);
			virtq_push(q, v->chain.head, 0);
			used = true;
		}
		if (r < 0) {
			*fatal = true;
			break;
		}
	} while (virtq_enable_notify(q));
	/* RX is another queue: the loop runs it next (we hold the lock now). */
	if (rx_work)
		wake(v);
	return used;
}

/* ---- host -> guest ---- */

static uint32_t credit(const struct vconn *c)
{
	uint32_t in_flight = c->rx_cnt - c->peer_fwd_cnt;
	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static bool has_data(const struct vconn *c)
{
	return c->state == CONN_ESTABLISHED && c->readable && !c->host_eof && credit(c);
}

static bool has_control(const struct vconn *c)
{
	return c->state != CONN_FREE && c->state != CONN_DEAD && c->state != CONN_HOST_LINE &&
	       (c->need_rst || c->need_response || c->need_request || c->need_shutdown ||
		c->need_credit);
}

static bool rx_work(const struct vsock *v)
{
	if (v->nr_rsts)
		return true;
	for (int i = 0; i < VSOCK_MAX_CONNS; i++)
		if (has_control(&v->conns[i]) || has_data(&v->conns[i]))
			return true;
	return false;
}

static void fill_hdr(struct vsock *v, struct vsock_hdr *h, uint32_t src_port, uint32_t dst_port,
		     uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = VSOCK_HOST_CID;
	h->dst_cid = v->guest_cid;
	h->src_port = src_port;
	h->dst_port = dst_port;
	h->type = VSOCK_TYPE_STREAM;
	h->op = op;
	h->buf_alloc = VSOCK_BUF_ALLOC;
}

static uint32_t put_hdr(struct virtq *q, const struct virtq_chain *ch, struct vsock_hdr *h)
{
	struct chain_cursor cur;
	struct iovec iov[4];
	uint32_t got;
	cursor_init(&cur, ch, true);
	int n = cursor_iov(&cur, iov, 4, VSOCK_HDR_LEN, &got);
	cursor_copy(&cur, h, VSOCK_HDR_LEN, true);
	for (int i = 0; i < n; i++)
		virtq_mark_written(q, iov[i].iov_base, iov[i].iov_len);
	return VSOCK_HDR_LEN;
}

/* A control packet for connection c; it is closed after an RST. */
static uint32_t control(struct vsock *v, struct vconn *c, struct virtq *q)
{
	struct vsock_hdr h;
	uint16_t op = c->need_rst	 ? VSOCK_OP_RST
		      : c->need_response ? VSOCK_OP_RESPONSE
		      : c->need_request	 ? VSOCK_OP_REQUEST
		      : c->need_shutdown ? VSOCK_OP_SHUTDOWN
					 : VSOCK_OP_CREDIT_UPDATE;
	fill_hdr(v, &h, c->local_port, c->peer_port, op);
	h.fwd_cnt = c->fwd_cnt;
	if (op == VSOCK_OP_SHUTDOWN)
		h.flags = VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND;
	c->fwd_cnt_told = c->fwd_cnt;
	c->need_credit = false;
	if (op == VSOCK_OP_RST)
		vsock_conn_close(c);
	else if (op == VSOCK_OP_RESPONSE)
		c->need_response = false;
	else if (op == VSOCK_OP_REQUEST)
		c->need_request = false;
	else if (op == VSOCK_OP_SHUTDOWN)
		c->need_shutdown = false;
	return put_hdr(q, &v->chain, &h);
}

/* Data from c's socket after a header; 0 if there was none after all. */
static uint32_t data(struct vsock *v, struct vconn *c, struct virtq *q)
{
	struct chain_cursor cur;
	struct vsock_hdr h;
	uint32_t got;
	uint32_t room = (uint32_t)MIN(v->chain.in_len - VSOCK_HDR_LEN, (uint64_t)VSOCK_MAX_PAYLOAD);
	uint32_t want = MIN(room, credit(c));
	cursor_init(&cur, &v->chain, true);
	cursor_skip(&cur, VSOCK_HDR_LEN);
	int n = cursor_iov(&cur, iov_scratch, VIRTQ_MAX_CHAIN, want, &got);
	ssize_t r;
	do
		r = n ? readv(c->fd, iov_scratch, n) : 0;
	while (r < 0 && errno == EINTR);
	if (r < 0 && errno == EAGAIN) {
		c->readable = false;
		vsock_conn_watch(c);
		return 0;
	}
	if (r <= 0) {
		/* The host closed (or broke) its end: the guest's side shuts down. */
		c->host_eof = true;
		c->readable = false;
		c->need_shutdown = true;
		vsock_conn_deadline(c, true); /* for the guest's RST */
		vsock_conn_watch(c);
		return control(v, c, q);
	}
	for (int i = 0; i < n; i++)
		virtq_mark_written(q, iov_scratch[i].iov_base, iov_scratch[i].iov_len);
	fill_hdr(v, &h, c->local_port, c->peer_port, VSOCK_OP_RW);
	h.len = (uint32_t)r;
	h.fwd_cnt = c->fwd_cnt;
	c->fwd_cnt_told = c->fwd_cnt;
	c->need_credit = false;
	c->rx_cnt += (uint32_t)r;
	v->stats.rx_bytes += (uint64_t)r;
	return put_hdr(q, &v->chain, &h) + (uint32_t)r;
}

/* Fill the popped rx chain with the next packet owed; 0 if there was none. */
static uint32_t next_packet(struct vsock *v, struct virtq *q)
{
	if (v->nr_rsts) {
		struct rst_reply r = v->rsts[--v->nr_rsts];
		struct vsock_hdr h;
		fill_hdr(v, &h, r.dst_port, r.src_port, VSOCK_OP_RST);
		return put_hdr(q, &v->chain, &h);
	}
	for (int i = 0; i < VSOCK_MAX_CONNS; i++) {
		int k = (v->rr + i) % VSOCK_MAX_CONNS;
		struct vconn *c = &v->conns[k];
		uint32_t n = 0;
		if (has_control(c))
			n = control(v, c, q);
		else if (has_data(c))
			n = data(v, c, q);
		if (n) {
			v->rr = k + 1;
			return n;
		}
	}
	return 0;
}

static bool rx(struct vsock *v, struct virtq *q, bool *fatal)
{
	bool used = false;
	while (rx_work(v)) {
		int r = virtq_pop(q, &v->chain);
		if (r < 0) {
			*fatal = true;
			break;
		}
		if (r == 0) {
			if (virtq_enable_notify(q))
				continue;
			break;
		}
		if (v->chain.err || v->chain.in_len <= VSOCK_HDR_LEN || v->chain.out_len) {
			v->stats.bad_packets++;
			log_once(v->logged_bad, LOG_WARN, "vsock: unusable receive buffer: %s",
				 v->chain.err ? virtq_err_str(v->chain.err)
					      : "too small or readable");
			*fatal = true;
			break;
		}
		uint32_t n = next_packet(v, q);
		if (!n) {
			virtq_unpop(q, 1);
			continue; /* the socket had nothing after all: its flag is clear now */
		}
		virtq_push(q, v->chain.head, n);
		v->stats.rx_packets++;
		used = true;
	}
	return used;
}

static bool event(struct vsock *v, struct virtq *q, bool *fatal)
{
	if (!v->reset_event_pending)
		return false;
	int r = virtq_pop(q, &v->chain);
	if (r < 0)
		*fatal = true;
	if (r <= 0)
		return false;
	uint32_t id = EVENT_TRANSPORT_RESET, n = 0;
	struct chain_cursor cur;
	cursor_init(&cur, &v->chain, true);
	if (!v->chain.err)
		n = cursor_copy(&cur, &id, sizeof(id), true);
	if (n && v->chain.buf[0].write)
		virtq_mark_written(q, v->chain.buf[0].hva, n);
	virtq_push(q, v->chain.head, n);
	v->reset_event_pending = false;
	return true;
}

static bool vsock_process(void *dev, int qidx, struct virtq *q, bool *fatal)
{
	struct vsock *v = dev;
	vsock_reap(v);
	if (qidx == Q_TX)
		return tx(v, q, fatal);
	if (qidx == Q_RX)
		return rx(v, q, fatal);
	return event(v, q, fatal);
}

const struct virtio_dev_ops vsock_ops = {
	.name = "vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.num_queues = 3,
	.queue_max = VSOCK_QUEUE_SIZE,
	.features = vsock_features,
	.read_config = vsock_read_config,
	.activate = vsock_activate,
	.process = vsock_process,
	.reset = vsock_reset,
	.attach = vsock_attach,
};
