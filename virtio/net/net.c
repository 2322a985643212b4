/*
 * virtio-net over a tap. TX: each chain (vnet header + frame) goes to the
 * tap with one writev, no copy. RX: a frame is read from the tap only when
 * the guest has buffers for it (EPOLLIN is off otherwise), then copied into
 * one chain, or several with mergeable rx buffers. Frames beyond
 * NET_MAX_FRAME, or larger than a guest without mergeable buffers can take,
 * are dropped and counted. On an interface that answers MMDS, frames to the
 * MMDS address go to mmds/ instead of the tap, and its replies are received
 * before the tap's frames.
 */
#include "net.h"

#include <errno.h>
#include <net/ethernet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../../lib/err.h"
#include "../../vmm/config.h"
#include "../../vmm/eventloop.h"
#include "../../lib/log.h"
#include "../../lib/util.h"
#include "mmds/port.h"
#include "tap.h"

#define NET_QUEUE_SIZE 256
#define RX_BUF_LEN     (NET_HDR_LEN + NET_MAX_FRAME + 1) /* a longer frame fills it */

struct net {
	char id[MVM_ID_MAX + 1];
	int fd;
	bool is_tap;
	bool has_mac;
	uint8_t mac[6];
	uint64_t acked;
	bool active, offload_pending, polling;
	const struct virtio_host *host;
	struct evloop *loop; /* where the tap fd is registered (outlives host) */
	struct rate_limiter rx_rl, tx_rl;
	struct mmds_port *mmds; /* frames to the MMDS address go there, not to the tap */
	struct net_stats stats;
	bool logged_tx, logged_rx, logged_fd;
	/* A frame read from the tap, waiting for guest buffers or the limiter. */
	uint32_t rx_len;
	bool rx_pending, rx_charged;
	uint16_t rx_heads[NET_QUEUE_SIZE];
	uint32_t rx_lens[NET_QUEUE_SIZE];
	struct virtq_chain chain;
	struct iovec iov[VIRTQ_MAX_CHAIN];
	uint8_t rx_buf[RX_BUF_LEN];
};

const char *net_tx_check_len(uint64_t len)
{
	if (len < NET_HDR_LEN + ETH_HLEN)
		return "shorter than a virtio-net header and an Ethernet header";
	if (len > NET_HDR_LEN + NET_MAX_FRAME)
		return "longer than the largest frame (65562 bytes with its header)";
	return NULL;
}

void net_hdr_set_num_buffers(uint8_t *hdr, uint16_t n)
{
	hdr[10] = (uint8_t)n;
	hdr[11] = (uint8_t)(n >> 8);
}

static struct net *alloc_net(const char *id, const uint8_t *mac)
{
	struct net *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	snprintf(n->id, sizeof(n->id), "%s", id);
	n->fd = -1;
	if (mac) {
		n->has_mac = true;
		memcpy(n->mac, mac, 6);
	}
	rl_init(&n->rx_rl, NULL);
	rl_init(&n->tx_rl, NULL);
	return n;
}

struct net *net_create(const char *id, const char *ifname, const uint8_t *mac, struct err *err)
{
	struct net *n = alloc_net(id, mac);
	if (!n) {
		err_set(err, -ENOMEM, "network interface %s: out of memory", id);
		return NULL;
	}
	if (tap_open(ifname, &n->fd, err)) {
		err_prefix(err, "network interface '%s'", id);
		free(n);
		return NULL;
	}
	n->is_tap = true;
	return n;
}

struct net *net_create_fd(const char *id, int fd, const uint8_t *mac)
{
	struct net *n = alloc_net(id, mac);
	if (n)
		n->fd = fd;
	return n;
}

void net_destroy(struct net *n)
{
	if (!n)
		return;
	if (n->fd >= 0) {
		if (n->loop)
			evloop_del(n->loop, n->fd);
		close(n->fd);
	}
	rl_fini(&n->rx_rl);
	rl_fini(&n->tx_rl);
	mmds_port_destroy(n->mmds);
	free(n);
}

const char *net_id(const struct net *n)
{
	return n->id;
}

void net_get_stats(struct net *n, struct net_stats *out)
{
	*out = n->stats;
	out->rx_throttled = n->rx_rl.throttled;
	out->tx_throttled = n->tx_rl.throttled;
}

static void wake_rx(void *opaque)
{
	struct net *n = opaque;
	n->host->kick(n->host->t, NET_RXQ);
}

static void wake_tx(void *opaque)
{
	struct net *n = opaque;
	n->host->kick(n->host->t, NET_TXQ);
}

static int attach_limiters(struct net *n)
{
	int r = 0;
	if (!n->host || !n->host->loop)
		return 0;
	if (rl_active(&n->rx_rl) && n->rx_rl.timer_fd < 0)
		r = rl_attach(&n->rx_rl, n->host->loop, wake_rx, n);
	if (!r && rl_active(&n->tx_rl) && n->tx_rl.timer_fd < 0)
		r = rl_attach(&n->tx_rl, n->host->loop, wake_tx, n);
	return r;
}

int net_set_rate_limiters(struct net *n, const struct rate_limiter_cfg *rx, unsigned rx_which,
			  const struct rate_limiter_cfg *tx, unsigned tx_which)
{
	if (rx_which)
		rl_update(&n->rx_rl, rx, rx_which);
	if (tx_which)
		rl_update(&n->tx_rl, tx, tx_which);
	return attach_limiters(n);
}

int net_change_limiters(struct net *n, const struct rate_limiter_cfg *rx, unsigned rx_which,
			const struct rate_limiter_cfg *tx, unsigned tx_which, struct err *e)
{
	const struct virtio_host *h = n->host;
	if (h)
		h->lock(h->t);
	int r = net_set_rate_limiters(n, rx, rx_which, tx, tx_which);
	if (h)
		h->unlock(h->t);
	if (r)
		return err_set(e, r, "network interface '%s': rate limiter timer: %s", n->id,
			       strerror(-r));
	if (h) { /* what the old limits held back may go */
		h->kick(h->t, NET_RXQ);
		h->kick(h->t, NET_TXQ);
	}
	return 0;
}

static void set_polling(struct net *n, bool on)
{
	if (n->polling == on || !n->host || !n->host->loop)
		return;
	if (evloop_mod(n->host->loop, n->fd, on ? EPOLLIN : 0) == 0)
		n->polling = on;
}

/* The tap has frames: hand them over on the vmm thread's own terms. */
static void on_tap(void *opaque, uint32_t events)
{
	struct net *n = opaque;
	const struct virtio_host *h = n->host;
	(void)events;
	h->lock(h->t);
	bool active = n->active;
	if (!active)
		set_polling(n, false); /* reset meanwhile: stop listening */
	h->unlock(h->t);
	if (active)
		h->kick(h->t, NET_RXQ);
}

int net_enable_mmds(struct net *n, const struct mmds_cfg *cfg)
{
	return (n->mmds = mmds_port_create(cfg, NET_HDR_LEN)) ? 0 : -ENOMEM;
}

static int net_attach(void *dev, const struct virtio_host *h)
{
	struct net *n = dev;
	n->host = h;
	if (!h->loop)
		return 0;
	int r = n->mmds ? mmds_port_attach(n->mmds, h->loop, wake_rx, n) : 0;
	if (!r)
		r = evloop_add(h->loop, n->fd, 0, on_tap, n);
	if (r)
		return r;
	n->loop = h->loop;
	return attach_limiters(n);
}

static uint64_t net_features(void *dev)
{
	struct net *n = dev;
	uint64_t f = (1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_CSUM) |
		     (1ULL << VIRTIO_NET_F_GUEST_TSO4) | (1ULL << VIRTIO_NET_F_GUEST_TSO6) |
		     (1ULL << VIRTIO_NET_F_GUEST_UFO) | (1ULL << VIRTIO_NET_F_HOST_TSO4) |
		     (1ULL << VIRTIO_NET_F_HOST_TSO6) | (1ULL << VIRTIO_NET_F_HOST_UFO) |
		     (1ULL << VIRTIO_NET_F_MRG_RXBUF) | (1ULL << VIRTIO_RING_F_EVENT_IDX) |
		     (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	if (n->has_mac)
		f |= 1ULL << VIRTIO_NET_F_MAC;
	return f;
}

static void net_read_config(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct net *n = dev;
	/* mac[6], status (le16), max_virtqueue_pairs (le16) */
	uint8_t cfg[10] = { 0 };
	memcpy(cfg, n->mac, 6);
	cfg[8] = 1;
	memset(data, 0, len);
	if (off < sizeof(cfg))
		memcpy(data, cfg + off, MIN((uint64_t)len, sizeof(cfg) - off));
}

static int net_activate(void *dev, uint64_t acked, struct virtq *queues)
{
	struct net *n = dev;
	if (!queues[NET_RXQ].ready || !queues[NET_TXQ].ready)
		return -EINVAL;
	n->acked = acked;
	n->active = true;
	n->offload_pending = true; /* an ioctl: done on the vmm thread, in process() */
	return 0;
}

static void net_reset(void *dev)
{
	struct net *n = dev;
	n->active = false;
	n->acked = 0;
	n->rx_pending = false;
}

static void send_frame(struct net *n, const struct virtq_chain *c)
{
	const char *why = c->err ? virtq_err_str(c->err) : net_tx_check_len(c->out_len);
	if (why) {
		n->stats.tx_malformed++;
		log_once(n->logged_tx, LOG_WARN, "net %s: dropped a frame from the guest: %s",
			 n->id, why);
		return;
	}
	if (n->mmds && mmds_port_tx(n->mmds, c))
		return; /* answered by MMDS, never on the tap */
	int niov = 0;
	for (int i = 0; i < c->nr && !c->buf[i].write; i++)
		n->iov[niov++] = (struct iovec){ c->buf[i].hva, c->buf[i].len };
	ssize_t w;
	do
		w = writev(n->fd, n->iov, niov);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		n->stats.tx_fails++;
		log_once(n->logged_fd, LOG_WARN, "net %s: writing to the tap: %s", n->id,
			 strerror(errno));
		return;
	}
	n->stats.tx_packets++;
	n->stats.tx_bytes += c->out_len - NET_HDR_LEN;
}

static bool tx(struct net *n, struct virtq *q, bool *fatal)
{
	bool used = false;
	if (rl_blocked(&n->tx_rl))
		return false; /* the limiter's timer kicks us */
	do {
		int r;
		while ((r = virtq_pop(q, &n->chain)) == 1) {
			if (!rl_consume(&n->tx_rl, n->chain.out_len)) {
				virtq_unpop(q, 1);
				return used;
			}
			send_frame(n, &n->chain);
			virtq_push(q, n->chain.head, 0);
			used = true;
		}
		if (r < 0) {
			*fatal = true;
			return used;
		}
	} while (virtq_enable_notify(q));
	return used;
}

/* Copy up to len bytes into the chain's writable buffers; returns bytes copied. */
static uint32_t copy_to_chain(struct virtq *q, const struct virtq_chain *c, const uint8_t *src,
			      uint32_t len)
{
	uint32_t done = 0;
	for (int i = 0; i < c->nr && done < len; i++) {
		if (!c->buf[i].write)
			continue;
		uint32_t k = MIN(len - done, c->buf[i].len);
		memcpy(c->buf[i].hva, src + done, k);
		virtq_mark_written(q, c->buf[i].hva, k);
		done += k;
	}
	return done;
}

static uint8_t *first_writable(const struct virtq_chain *c, uint32_t need)
{
	for (int i = 0; i < c->nr; i++)
		if (c->buf[i].write)
			return c->buf[i].len >= need ? c->buf[i].hva : NULL;
	return NULL;
}

/* The pending frame into guest buffers: 1 done, 0 not enough buffers (nothing
 * taken), -1 dropped or the queue is broken (*fatal). */
static int deliver(struct net *n, struct virtq *q, bool *fatal)
{
	bool mrg = n->acked & (1ULL << VIRTIO_NET_F_MRG_RXBUF);
	uint32_t off = 0, total = n->rx_len;
	uint8_t *hdr = NULL;
	int nch = 0;

	while (off < total) {
		struct virtq_chain *c = &n->chain;
		if (nch == NET_QUEUE_SIZE) {
			virtq_unpop(q, (uint16_t)nch);
			goto too_big;
		}
		int r = virtq_pop(q, c);
		if (r < 0) {
			*fatal = true;
			return -1;
		}
		if (r == 0) {
			virtq_unpop(q, (uint16_t)nch);
			return 0;
		}
		if (c->err || (nch == 0 && !(hdr = first_writable(c, NET_HDR_LEN)))) {
			log_once(n->logged_rx, LOG_WARN, "net %s: unusable receive buffer: %s",
				 n->id, c->err ? virtq_err_str(c->err) : "no room for the header");
			*fatal = true;
			return -1;
		}
		if (!mrg && c->in_len < total) {
			virtq_unpop(q, 1);
			goto too_big;
		}
		uint32_t put = copy_to_chain(q, c, n->rx_buf + off, total - off);
		n->rx_heads[nch] = c->head;
		n->rx_lens[nch] = put;
		nch++;
		off += put;
	}
	net_hdr_set_num_buffers(hdr, (uint16_t)nch);
	for (int i = 0; i < nch; i++)
		virtq_push(q, n->rx_heads[i], n->rx_lens[i]);
	n->stats.rx_packets++;
	n->stats.rx_bytes += total - NET_HDR_LEN;
	return 1;
too_big:
	n->stats.rx_dropped++;
	log_once(n->logged_rx, LOG_WARN,
		 "net %s: dropped a %u-byte frame: larger than the guest's receive buffers", n->id,
		 total - NET_HDR_LEN);
	return -1;
}

/* Read one frame from the tap: 1 got one, 0 nothing there, -1 dropped one. */
static int read_frame(struct net *n)
{
	ssize_t len;
	do
		len = read(n->fd, n->rx_buf, RX_BUF_LEN);
	while (len < 0 && errno == EINTR);
	if (len < 0) {
		if (errno != EAGAIN) {
			n->stats.rx_fails++;
			log_once(n->logged_fd, LOG_WARN, "net %s: reading the tap: %s", n->id,
				 strerror(errno));
		}
		return 0;
	}
	if (len == RX_BUF_LEN || len < NET_HDR_LEN + ETH_HLEN) {
		n->stats.rx_dropped++;
		log_once(n->logged_rx, LOG_WARN, "net %s: dropped a frame from the tap: %s", n->id,
			 len == RX_BUF_LEN ? "larger than 65562 bytes" : "too short");
		return -1;
	}
	n->rx_len = (uint32_t)len;
	n->rx_pending = true;
	n->rx_charged = false;
	return 1;
}

/* A reply of MMDS's, ahead of the tap's frames: 1 got one, 0 none. */
static int mmds_next(struct net *n)
{
	uint32_t len = mmds_port_rx(n->mmds, n->rx_buf, RX_BUF_LEN);
	if (!len)
		return 0;
	n->rx_len = len;
	n->rx_pending = true;
	n->rx_charged = false;
	return 1;
}

static bool rx(struct net *n, struct virtq *q, bool *fatal)
{
	bool used = false;
	while (!*fatal && !rl_blocked(&n->rx_rl)) {
		if (!n->rx_pending) {
			/* Read from the tap only with somewhere to put what comes. */
			if (!virtq_has_avail(q) && !virtq_enable_notify(q))
				break;
			int r = n->mmds ? mmds_next(n) : 0;
			if (r == 0)
				r = read_frame(n);
			if (r == 0)
				break;
			if (r < 0)
				continue;
		}
		if (!n->rx_charged) {
			if (!rl_consume(&n->rx_rl, n->rx_len - NET_HDR_LEN))
				break;
			n->rx_charged = true;
		}
		uint16_t seen = virtq_avail_idx(q);
		int r = deliver(n, q, fatal);
		if (r == 0) {
			/* Not enough buffers (the ones taken went back): wait for more. */
			n->stats.rx_no_buffers++;
			virtq_enable_notify(q);
			if (virtq_avail_idx(q) != seen)
				continue;
			break;
		}
		n->rx_pending = false;
		used |= r > 0;
	}
	set_polling(n, !*fatal && !n->rx_pending && !rl_blocked(&n->rx_rl) && virtq_has_avail(q));
	return used;
}

static bool net_process(void *dev, int qidx, struct virtq *q, bool *fatal)
{
	struct net *n = dev;
	if (n->offload_pending) {
		n->offload_pending = false;
		int r = n->is_tap ? tap_set_offload(n->fd, tap_offloads_for(n->acked)) : 0;
		if (r)
			log_warn("net %s: TUNSETOFFLOAD: %s (the guest gets no offloads)", n->id,
				 strerror(-r));
	}
	return qidx == NET_TXQ ? tx(n, q, fatal) : rx(n, q, fatal);
}

const struct virtio_dev_ops net_ops = {
	.name = "net",
	.device_id = VIRTIO_ID_NET,
	.num_queues = 2,
	.queue_max = NET_QUEUE_SIZE,
	.features = net_features,
	.read_config = net_read_config,
	.activate = net_activate,
	.process = net_process,
	.reset = net_reset,
	.attach = net_attach,
};
