/* virtio/net/net.c: frames through net_ops.process over fake guest RAM and a
 * SOCK_SEQPACKET "tap". */
#include <criterion/criterion.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../virtio/net/net.h"
#include "../../virtio/net/tap.h"
#include "../../lib/log.h"

#define RAM_SIZE 0x400000
#define QSIZE	 256
#define RXQ_BASE 0x0000
#define TXQ_BASE 0x8000
#define BUFS	 0x20000

static uint8_t *ram;
static struct guest_mem mem;
static struct virtq q[2];
static struct net *net;
static int peer; /* the "host side" of the tap */

static void queue_at(struct virtq *vq, uint64_t base)
{
	virtq_init(vq);
	vq->size = QSIZE;
	vq->desc_gpa = base;
	vq->avail_gpa = base + 0x1000;
	vq->used_gpa = base + 0x2000;
	cr_assert_eq(virtq_activate(vq, &mem, QSIZE, false), 0);
}

static void setup_with(uint64_t features)
{
	int sv[2];
	log_set_level(LOG_OFF);
	ram = calloc(1, RAM_SIZE);
	mem = (struct guest_mem){ .nr = 1, .size = RAM_SIZE, .fd = -1 };
	mem.r[0] = (struct guest_region){ .gpa = 0, .size = RAM_SIZE, .hva = ram };
	queue_at(&q[0], RXQ_BASE);
	queue_at(&q[1], TXQ_BASE);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	int bufsz = 1 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	static const uint8_t mac[6] = { 6, 0, 0xac, 0x10, 0, 2 };
	net = net_create_fd("eth0", sv[0], mac);
	peer = sv[1];
	cr_assert_not_null(net);
	cr_assert_eq(net_ops.activate(net, features, q), 0);
}

static void setup(void)
{
	setup_with((1ULL << VIRTIO_NET_F_MRG_RXBUF) | (1ULL << 32));
}

static void teardown(void)
{
	net_destroy(net);
	close(peer);
	free(ram);
}

TestSuite(net, .init = setup, .fini = teardown);

static void desc(struct virtq *vq, uint64_t base, uint16_t i, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	(void)vq;
	struct virtq_desc d = { addr, len, flags, next };
	memcpy(ram + base + 16 * i, &d, sizeof(d));
}

static void offer(uint64_t base, uint16_t head)
{
	uint16_t *avail = (uint16_t *)(ram + base + 0x1000);
	avail[2 + avail[1] % QSIZE] = head;
	avail[1]++;
}

static uint16_t used_idx(uint64_t base)
{
	return ((uint16_t *)(ram + base + 0x2000))[1];
}

static struct virtq_used_elem used_elem(uint64_t base, uint16_t i)
{
	struct virtq_used_elem e;
	memcpy(&e, ram + base + 0x2000 + 4 + 8 * (i % QSIZE), sizeof(e));
	return e;
}

static bool process(int qidx)
{
	bool fatal = false;
	bool used = net_ops.process(net, qidx, &q[qidx], &fatal);
	cr_assert_not(fatal);
	return used;
}

/* A frame with a zeroed vnet header, an Ethernet header and a pattern. */
static size_t make_frame(uint8_t *f, size_t payload, uint8_t seed)
{
	memset(f, 0, NET_HDR_LEN);
	memset(f + NET_HDR_LEN, 0xff, 6);
	memset(f + NET_HDR_LEN + 6, 0x02, 6);
	f[NET_HDR_LEN + 12] = 0x88;
	f[NET_HDR_LEN + 13] = 0xb5;
	for (size_t i = 0; i < payload; i++)
		f[NET_HDR_LEN + 14 + i] = (uint8_t)(seed + i);
	return NET_HDR_LEN + 14 + payload;
}

Test(net, tx_sends_the_chain_as_one_frame)
{
	static uint8_t f[2000];
	size_t n = make_frame(f, 1000, 7);
	/* header and frame split over three descriptors */
	memcpy(ram + BUFS, f, 12);
	memcpy(ram + BUFS + 0x1000, f + 12, 500);
	memcpy(ram + BUFS + 0x2000, f + 512, n - 512);
	desc(&q[1], TXQ_BASE, 0, BUFS, 12, VIRTQ_DESC_F_NEXT, 1);
	desc(&q[1], TXQ_BASE, 1, BUFS + 0x1000, 500, VIRTQ_DESC_F_NEXT, 2);
	desc(&q[1], TXQ_BASE, 2, BUFS + 0x2000, (uint32_t)(n - 512), 0, 0);
	offer(TXQ_BASE, 0);
	cr_assert(process(NET_TXQ));
	uint8_t got[4096];
	cr_assert_eq(read(peer, got, sizeof(got)), (ssize_t)n);
	cr_expect_eq(memcmp(got, f, n), 0);
	struct net_stats st;
	net_get_stats(net, &st);
	cr_expect_eq(st.tx_packets, 1);
	cr_expect_eq(st.tx_bytes, n - NET_HDR_LEN);
}

Test(net, tx_drops_and_counts_malformed_frames)
{
	/* too short, too long, outside RAM: each used, nothing sent */
	desc(&q[1], TXQ_BASE, 0, BUFS, 20, 0, 0);
	offer(TXQ_BASE, 0);
	desc(&q[1], TXQ_BASE, 1, BUFS, 65563, 0, 0);
	offer(TXQ_BASE, 1);
	desc(&q[1], TXQ_BASE, 2, 0x7000000000ULL, 100, 0, 0);
	offer(TXQ_BASE, 2);
	cr_assert(process(NET_TXQ));
	cr_expect_eq(used_idx(TXQ_BASE), 3);
	uint8_t got[16];
	cr_expect_eq(read(peer, got, sizeof(got)), -1, "nothing reached the tap");
	struct net_stats st;
	net_get_stats(net, &st);
	cr_expect_eq(st.tx_malformed, 3);
	cr_expect_eq(st.tx_packets, 0);
}

Test(net, rx_waits_for_buffers_then_delivers)
{
	static uint8_t f[2000];
	size_t n = make_frame(f, 1400, 3);
	cr_assert_eq(write(peer, f, n), (ssize_t)n);
	cr_expect_not(process(NET_RXQ), "no buffers: nothing delivered");
	desc(&q[0], RXQ_BASE, 0, BUFS, 2048, VIRTQ_DESC_F_WRITE, 0);
	offer(RXQ_BASE, 0);
	cr_assert(process(NET_RXQ));
	struct virtq_used_elem e = used_elem(RXQ_BASE, 0);
	cr_expect_eq(e.id, 0);
	cr_expect_eq(e.len, n);
	cr_expect_eq(ram[BUFS + 10], 1, "num_buffers = 1");
	cr_expect_eq(memcmp(ram + BUFS + 12, f + 12, n - 12), 0);
}

Test(net, rx_merges_buffers_for_a_big_frame)
{
	static uint8_t f[9000];
	size_t n = make_frame(f, 8000, 9);
	cr_assert_eq(write(peer, f, n), (ssize_t)n);
	for (uint16_t i = 0; i < 8; i++) {
		desc(&q[0], RXQ_BASE, i, BUFS + i * 0x1000, 1536, VIRTQ_DESC_F_WRITE, 0);
		offer(RXQ_BASE, i);
	}
	cr_assert(process(NET_RXQ));
	uint16_t nb = (uint16_t)(ram[BUFS + 10] | ram[BUFS + 11] << 8);
	cr_expect_eq(nb, (n + 1535) / 1536);
	cr_expect_eq(used_idx(RXQ_BASE), nb);
	size_t off = 0;
	for (uint16_t i = 0; i < nb; i++) {
		struct virtq_used_elem e = used_elem(RXQ_BASE, i);
		cr_expect_eq(e.id, i);
		cr_expect_eq(memcmp(ram + BUFS + i * 0x1000 + (i ? 0 : 12), f + off + (i ? 0 : 12),
				    e.len - (i ? 0 : 12)),
			     0, "chain %u", i);
		off += e.len;
	}
	cr_expect_eq(off, n);
}

Test(net, rx_without_enough_buffers_keeps_the_frame)
{
	static uint8_t f[5000];
	size_t n = make_frame(f, 4000, 1);
	cr_assert_eq(write(peer, f, n), (ssize_t)n);
	desc(&q[0], RXQ_BASE, 0, BUFS, 1536, VIRTQ_DESC_F_WRITE, 0);
	offer(RXQ_BASE, 0);
	cr_expect_not(process(NET_RXQ), "one buffer is not enough: nothing used");
	cr_expect_eq(used_idx(RXQ_BASE), 0);
	for (uint16_t i = 1; i < 3; i++) {
		desc(&q[0], RXQ_BASE, i, BUFS + i * 0x1000, 1536, VIRTQ_DESC_F_WRITE, 0);
		offer(RXQ_BASE, i);
	}
	cr_assert(process(NET_RXQ));
	cr_expect_eq(used_idx(RXQ_BASE), 3);
}

Test(net, rx_drops_oversized_and_short_frames)
{
	static uint8_t f[70000];
	memset(f, 0, sizeof(f));
	cr_assert_eq(write(peer, f, 65563), 65563, "one byte past the largest frame");
	cr_assert_eq(write(peer, f, 20), 20);
	size_t n = make_frame(f, 100, 5);
	cr_assert_eq(write(peer, f, n), (ssize_t)n);
	desc(&q[0], RXQ_BASE, 0, BUFS, 2048, VIRTQ_DESC_F_WRITE, 0);
	offer(RXQ_BASE, 0);
	cr_assert(process(NET_RXQ));
	cr_expect_eq(used_idx(RXQ_BASE), 1, "only the good frame arrived");
	cr_expect_eq(used_elem(RXQ_BASE, 0).len, n);
	struct net_stats st;
	net_get_stats(net, &st);
	cr_expect_eq(st.rx_dropped, 2);
	cr_expect_eq(st.rx_packets, 1);
}

Test(net, rx_rejects_a_buffer_without_room_for_the_header)
{
	static uint8_t f[200];
	size_t n = make_frame(f, 100, 5);
	cr_assert_eq(write(peer, f, n), (ssize_t)n);
	desc(&q[0], RXQ_BASE, 0, BUFS, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(RXQ_BASE, 0);
	bool fatal = false;
	net_ops.process(net, NET_RXQ, &q[0], &fatal);
	cr_expect(fatal, "the device needs a reset, the monitor goes on");
}

Test(net, rx_limiter_holds_frames_back)
{
	struct rate_limiter_cfg rl = { { 0, 0, 0, false, false }, { 1, 0, 60000, false, false } };
	cr_assert_eq(net_set_rate_limiters(net, &rl, RL_OPS, NULL, 0), 0);
	static uint8_t f[200];
	size_t n = make_frame(f, 100, 5);
	cr_assert_eq(write(peer, f, n), (ssize_t)n);
	cr_assert_eq(write(peer, f, n), (ssize_t)n);
	for (uint16_t i = 0; i < 2; i++) {
		desc(&q[0], RXQ_BASE, i, BUFS + i * 0x1000, 2048, VIRTQ_DESC_F_WRITE, 0);
		offer(RXQ_BASE, i);
	}
	cr_assert(process(NET_RXQ));
	cr_expect_eq(used_idx(RXQ_BASE), 1, "one op per minute");
	struct net_stats st;
	net_get_stats(net, &st);
	cr_expect_eq(st.rx_throttled, 1);
}

Test(net, header_helpers)
{
	uint8_t h[12] = { 0 };
	net_hdr_set_num_buffers(h, 0x1234);
	cr_expect_eq(h[10], 0x34);
	cr_expect_eq(h[11], 0x12);
	cr_expect_not_null(net_tx_check_len(0));
	cr_expect_not_null(net_tx_check_len(25));
	cr_expect_null(net_tx_check_len(26));
	cr_expect_null(net_tx_check_len(65562));
	cr_expect_not_null(net_tx_check_len(65563));
	cr_expect_eq(tap_offloads_for(0), 0);
	cr_expect_eq(tap_offloads_for(1ULL << VIRTIO_NET_F_GUEST_TSO4), 0,
		     "no segmentation offload without checksum offload");
	cr_expect_eq(tap_offloads_for((1ULL << VIRTIO_NET_F_GUEST_CSUM) |
				      (1ULL << VIRTIO_NET_F_GUEST_TSO4) |
				      (1ULL << VIRTIO_NET_F_GUEST_TSO6)),
		     TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
}

Test(net, features_and_config)
{
	uint64_t f = net_ops.features(net);
	cr_expect(f & (1ULL << VIRTIO_NET_F_MAC));
	cr_expect(f & (1ULL << VIRTIO_NET_F_MRG_RXBUF));
	cr_expect(f & (1ULL << VIRTIO_NET_F_HOST_TSO4));
	uint8_t mac[8];
	net_ops.read_config(net, 0, mac, 8);
	cr_expect_eq(mac[2], 0xac);
	cr_expect_eq(mac[5], 2);
	uint8_t past[4];
	net_ops.read_config(net, 100, past, 4);
	cr_expect_eq(past[0], 0);
}

static void setup_no_mrg(void)
{
	setup_with(1ULL << 32);
}

Test(net_no_mrg, a_too_small_buffer_drops_the_frame, .init = setup_no_mrg, .fini = teardown)
{
	static uint8_t f[3000];
	size_t big = make_frame(f, 2000, 1);
	cr_assert_eq(write(peer, f, big), (ssize_t)big);
	size_t small = make_frame(f, 100, 1);
	cr_assert_eq(write(peer, f, small), (ssize_t)small);
	desc(&q[0], RXQ_BASE, 0, BUFS, 1536, VIRTQ_DESC_F_WRITE, 0);
	offer(RXQ_BASE, 0);
	cr_assert(process(NET_RXQ));
	cr_expect_eq(used_idx(RXQ_BASE), 1);
	cr_expect_eq(used_elem(RXQ_BASE, 0).len, small, "the buffer went to the next frame");
	struct net_stats st;
	net_get_stats(net, &st);
	cr_expect_eq(st.rx_dropped, 1);
}
