/* virtio/vsock/pkt.c: packet headers from hostile chains; vsock.c over fake guest RAM. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../lib/err.h"
#include "../../virtio/vsock/vsock.h"
#include "../../virtio/vsock/pkt.h"
#include "../../lib/log.h"

#define CID 3

static uint8_t buf[2][256];

static struct vsock_hdr hdr(uint16_t op, uint32_t len)
{
	return (struct vsock_hdr){ .src_cid = CID,
				   .dst_cid = VSOCK_HOST_CID,
				   .src_port = 1000,
				   .dst_port = 52000,
				   .len = len,
				   .type = VSOCK_TYPE_STREAM,
				   .op = op,
				   .buf_alloc = 4096 };
}

/* A chain of one or two readable buffers holding h and `extra` payload bytes, split at `split`. */
static struct virtq_chain chain_of(const struct vsock_hdr *h, uint32_t extra, uint32_t split)
{
	static struct virtq_chain c;
	uint8_t all[512] = { 0 };
	uint32_t total = VSOCK_HDR_LEN + extra;
	memcpy(all, h, VSOCK_HDR_LEN);
	memset(&c, 0, sizeof(c));
	if (split && split < total) {
		memcpy(buf[0], all, split);
		memcpy(buf[1], all + split, total - split);
		c.buf[0] = (struct virtq_buf){ buf[0], split, false };
		c.buf[1] = (struct virtq_buf){ buf[1], total - split, false };
		c.nr = 2;
	} else {
		memcpy(buf[0], all, total);
		c.buf[0] = (struct virtq_buf){ buf[0], total, false };
		c.nr = 1;
	}
	c.out_len = total;
	return c;
}

Test(vsock_pkt, parses_a_header_split_across_buffers)
{
	struct vsock_hdr h = hdr(VSOCK_OP_RW, 10), got;
	struct virtq_chain c = chain_of(&h, 10, 7);
	cr_assert_eq(vsock_parse_tx(&c, CID, &got), VSOCK_PKT_OK);
	cr_expect_eq(got.len, 10);
	cr_expect_eq(got.dst_port, 52000);
	cr_expect_eq(got.op, VSOCK_OP_RW);
}

Test(vsock_pkt, bad_input_table)
{
	static const struct {
		uint16_t op, type;
		uint64_t src, dst;
		uint32_t len, extra;
		enum vsock_pkt_err want;
	} t[] = {
		{ VSOCK_OP_RW, 1, CID, 2, 100, 10, VSOCK_PKT_LEN },    /* len beyond the buffer */
		{ VSOCK_OP_RW, 1, CID, 2, 70000, 200, VSOCK_PKT_LEN }, /* beyond 64 KiB */
		{ VSOCK_OP_RW, 1, CID, 2, UINT32_MAX, 0, VSOCK_PKT_LEN }, /* wraps */
		{ VSOCK_OP_REQUEST, 1, CID + 1, 2, 0, 0, VSOCK_PKT_SRC_CID },
		{ VSOCK_OP_REQUEST, 1, 2, 2, 0, 0, VSOCK_PKT_SRC_CID },
		{ VSOCK_OP_REQUEST, 1, CID, 3, 0, 0, VSOCK_PKT_DST_CID },
		{ VSOCK_OP_REQUEST, 1, CID, UINT64_MAX, 0, 0, VSOCK_PKT_DST_CID },
		{ VSOCK_OP_REQUEST, 2, CID, 2, 0, 0, VSOCK_PKT_TYPE }, /* seqpacket */
		{ VSOCK_OP_REQUEST, 0, CID, 2, 0, 0, VSOCK_PKT_TYPE },
		{ 0, 1, CID, 2, 0, 0, VSOCK_PKT_OP },
		{ 8, 1, CID, 2, 0, 0, VSOCK_PKT_OP },
		{ 0xffff, 1, CID, 2, 0, 0, VSOCK_PKT_OP },
		{ VSOCK_OP_REQUEST, 1, CID, 2, 4, 4, VSOCK_PKT_LEN_OP }, /* payload on a request */
		{ VSOCK_OP_CREDIT_UPDATE, 1, CID, 2, 1, 1, VSOCK_PKT_LEN_OP },
		{ VSOCK_OP_RW, 1, CID, 2, 0, 0, VSOCK_PKT_OK }, /* empty RW is fine */
		{ VSOCK_OP_RW, 1, CID, 2, 64, 64, VSOCK_PKT_OK },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct vsock_hdr h = hdr(t[i].op, t[i].len), got;
		h.type = t[i].type;
		h.src_cid = t[i].src;
		h.dst_cid = t[i].dst;
		struct virtq_chain c = chain_of(&h, t[i].extra, 0);
		cr_expect_eq(vsock_parse_tx(&c, CID, &got), t[i].want, "case %zu: %s", i,
			     vsock_pkt_err_str(vsock_parse_tx(&c, CID, &got)));
	}
}

Test(vsock_pkt, short_writable_and_broken_chains)
{
	struct vsock_hdr h = hdr(VSOCK_OP_RW, 0), got;
	struct virtq_chain c = chain_of(&h, 0, 0);
	c.buf[0].len = VSOCK_HDR_LEN - 1;
	c.out_len = VSOCK_HDR_LEN - 1;
	cr_expect_eq(vsock_parse_tx(&c, CID, &got), VSOCK_PKT_SHORT);
	c = *(struct virtq_chain[]){ chain_of(&h, 0, 0) };
	c.in_len = 8;
	cr_expect_eq(vsock_parse_tx(&c, CID, &got), VSOCK_PKT_WRITABLE);
	c.in_len = 0;
	c.err = VIRTQ_ERR_LOOP;
	cr_expect_eq(vsock_parse_tx(&c, CID, &got), VSOCK_PKT_CHAIN);
	struct virtq_chain empty = { 0 };
	cr_expect_eq(vsock_parse_tx(&empty, CID, &got), VSOCK_PKT_SHORT);
	for (int e = 0; e <= VSOCK_PKT_WRITABLE; e++)
		cr_expect_str_neq(vsock_pkt_err_str(e), "?");
}

Test(vsock_pkt, cursor_walks_one_direction)
{
	uint8_t a[8] = "abcdefg", b[8] = "XXXXXXX", w[4] = { 0 };
	struct virtq_chain c = { .nr = 3 };
	c.buf[0] = (struct virtq_buf){ a, 3, false };
	c.buf[1] = (struct virtq_buf){ w, 4, true };
	c.buf[2] = (struct virtq_buf){ b, 5, false };
	struct chain_cursor cur;
	char out[16] = { 0 };
	cursor_init(&cur, &c, false);
	cr_expect_eq(cursor_skip(&cur, 2), 2);
	cr_expect_eq(cursor_copy(&cur, out, 10, false), 6,
		     "1 of a, 5 of b: the writable one skipped");
	cr_expect_str_eq(out, "cXXXXX");
	cursor_init(&cur, &c, true);
	cr_expect_eq(cursor_copy(&cur, "1234567", 7, true), 4, "only the writable buffer");
	cr_expect_eq(memcmp(w, "1234", 4), 0);
}

/* The device end to end: a guest REQUEST reaches <uds_path>_<port>, the guest gets RESPONSE. */
#define RAM_SIZE 0x100000
#define QSIZE	 256

static uint8_t *ram;
static struct guest_mem mem;
static struct virtq q[3];
static char dir[64];

static void queue_at(struct virtq *vq, uint64_t base)
{
	virtq_init(vq);
	vq->size = QSIZE;
	vq->desc_gpa = base;
	vq->avail_gpa = base + 0x1000;
	vq->used_gpa = base + 0x2000;
	cr_assert_eq(virtq_activate(vq, &mem, QSIZE, false), 0);
}

static void offer(int qi, uint16_t head, uint64_t addr, uint32_t len, bool write)
{
	uint64_t base = (uint64_t)qi * 0x4000;
	struct virtq_desc d = { addr, len, write ? VIRTQ_DESC_F_WRITE : 0, 0 };
	memcpy(ram + base + 16 * head, &d, sizeof(d));
	uint16_t *avail = (uint16_t *)(ram + base + 0x1000);
	avail[2 + avail[1] % QSIZE] = head;
	avail[1]++;
}

Test(vsock, guest_request_connects_to_the_port_socket)
{
	log_set_level(LOG_OFF);
	ram = calloc(1, RAM_SIZE);
	mem = (struct guest_mem){ .nr = 1, .size = RAM_SIZE, .fd = -1 };
	mem.r[0] = (struct guest_region){ .gpa = 0, .size = RAM_SIZE, .hva = ram };
	for (int i = 0; i < 3; i++)
		queue_at(&q[i], (uint64_t)i * 0x4000);
	snprintf(dir, sizeof(dir), "/tmp/mvm-vsock-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	char uds[128], port_path[140];
	struct err err = { 0 };
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
	snprintf(port_path, sizeof(port_path), "%s_52000", uds);
	int srv = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, port_path, strlen(port_path));
	cr_assert_eq(bind(srv, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(srv, 1), 0);

	struct vsock *v = vsock_create(CID, uds, &err);
	cr_assert_not_null(v, "%s", err.msg);
	struct vsock *dup = vsock_create(CID, uds, &err);
	cr_expect_null(dup, "a second bind of the same path must fail");
	cr_expect(strstr(err.msg, "exists") != NULL, "%s", err.msg);
	cr_expect_lt(err.code, 0, "the sentence comes with its errno");
	cr_assert_eq(vsock_ops.activate(v, 0, q), 0);

	struct vsock_hdr h = hdr(VSOCK_OP_REQUEST, 0);
	memcpy(ram + 0x10000, &h, sizeof(h));
	offer(1, 0, 0x10000, VSOCK_HDR_LEN, false);
	offer(0, 0, 0x20000, 4096, true);
	bool fatal = false;
	cr_expect(vsock_ops.process(v, 1, &q[1], &fatal));
	cr_assert_not(fatal);
	int conn = accept(srv, NULL, NULL);
	cr_expect_geq(conn, 0, "the host socket got the connection");
	cr_expect(vsock_ops.process(v, 0, &q[0], &fatal), "the RESPONSE went to the guest");
	struct vsock_hdr r;
	memcpy(&r, ram + 0x20000, sizeof(r));
	cr_expect_eq(r.op, VSOCK_OP_RESPONSE);
	cr_expect_eq(r.src_port, 52000);
	cr_expect_eq(r.dst_port, 1000);
	cr_expect_eq(r.dst_cid, CID);
	cr_expect_eq(r.buf_alloc, 256 * 1024);

	/* To a port nobody listens on: RST. */
	h.src_port = 1001;
	h.dst_port = 4;
	memcpy(ram + 0x10000, &h, sizeof(h));
	offer(1, 1, 0x10000, VSOCK_HDR_LEN, false);
	offer(0, 1, 0x21000, 4096, true);
	vsock_ops.process(v, 1, &q[1], &fatal);
	vsock_ops.process(v, 0, &q[0], &fatal);
	memcpy(&r, ram + 0x21000, sizeof(r));
	cr_expect_eq(r.op, VSOCK_OP_RST);
	cr_expect_eq(r.dst_port, 1001);
	struct vsock_stats st;
	vsock_get_stats(v, &st);
	cr_expect_eq(st.conn_fails, 1);

	close(conn);
	close(srv);
	vsock_destroy(v);
	unlink(port_path);
	rmdir(dir);
	free(ram);
}
