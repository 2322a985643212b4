/*
 * vsock_io: Firecracker's vsock model, both directions, plus bad packets.
 *  1. connects to host port 52000 (REQUEST), sends "ping from guest",
 *     expects "pong from host", shuts down (expects RST);
 *  2. prints "vsock_io: listening on 5000" and waits (30 s) for the host's
 *     REQUEST to port 5000, answers RESPONSE, expects "hello guest", sends
 *     "hello host", then expects the host's SHUTDOWN and answers RST;
 *  3. sends malformed packets (wrong source CID, a datagram type, a length
 *     beyond the buffer) and checks the device still connects afterwards;
 *  4. with vsock.wait_reset=1, prints "vsock_io: waiting for a transport
 *     reset" and waits (60 s) for the event a snapshot sends.
 */
#include "cmdline.h"
#include "virtio_vsock.h"

const char guest_name[] = GUEST_NAME;

static struct vvsock vs;
static char data[VSOCK_RX_BUF];

static void recv_op(struct vsock_hdr *h, uint16_t op, unsigned timeout_ms, const char *what)
{
	for (;;) {
		if (vsock_recv(&vs, h, data, sizeof(data) - 1, timeout_ms))
			test_fail("%s: nothing within %u ms", what, timeout_ms);
		if (h->op == VSOCK_OP_CREDIT_UPDATE && op != VSOCK_OP_CREDIT_UPDATE)
			continue;
		if (h->op != op)
			test_fail("%s: got %s (ports %u->%u), want %s", what, vsock_op_name(h->op),
				  h->src_port, h->dst_port, vsock_op_name(op));
		if (h->src_cid != 2 || h->dst_cid != vs.cid)
			test_fail("%s: CIDs %lu->%lu", what, h->src_cid, h->dst_cid);
		data[h->len < sizeof(data) - 1 ? h->len : sizeof(data) - 1] = '\0';
		return;
	}
}

static void guest_to_host(uint32_t port)
{
	struct vsock_hdr h;
	vs.fwd_cnt = 0; /* the credit counts are per connection */
	vsock_send(&vs, port, 52000, VSOCK_OP_REQUEST, 0, NULL, 0);
	recv_op(&h, VSOCK_OP_RESPONSE, 5000, "connect to host port 52000");
	if (h.src_port != 52000 || h.dst_port != port)
		test_fail("response for ports %u->%u", h.src_port, h.dst_port);
	printf("vsock_io: connected to host port 52000 from %u\n", port);
}

void guest_main(const char *cmdline)
{
	struct vsock_hdr h;
	uint64_t wait_reset = 0;
	cmdline_get_u64(cmdline, "vsock.wait_reset", &wait_reset);
	if (vsock_open(&vs, cmdline))
		test_fail("no usable virtio-vsock device");
	printf("vsock_io: cid %lu\n", vs.cid);

	/* 1. guest -> host */
	guest_to_host(1234);
	vsock_send(&vs, 1234, 52000, VSOCK_OP_RW, 0, "ping from guest", 15);
	recv_op(&h, VSOCK_OP_RW, 10000, "reply from the host");
	printf("vsock_io: guest got '%s'\n", data);
	vsock_send(&vs, 1234, 52000, VSOCK_OP_SHUTDOWN, 3, NULL, 0);
	recv_op(&h, VSOCK_OP_RST, 5000, "RST after our shutdown");
	printf("vsock_io: guest-initiated connection closed\n");

	/* 2. host -> guest */
	printf("vsock_io: listening on 5000\n");
	recv_op(&h, VSOCK_OP_REQUEST, 30000, "the host's connection to port 5000");
	if (h.dst_port != 5000)
		test_fail("request for port %u", h.dst_port);
	uint32_t hport = h.src_port;
	vs.fwd_cnt = 0;
	printf("vsock_io: host connected from port %u\n", hport);
	vsock_send(&vs, 5000, hport, VSOCK_OP_RESPONSE, 0, NULL, 0);
	recv_op(&h, VSOCK_OP_RW, 10000, "data from the host");
	printf("vsock_io: guest got '%s'\n", data);
	vsock_send(&vs, 5000, hport, VSOCK_OP_RW, 0, "hello host", 10);
	recv_op(&h, VSOCK_OP_SHUTDOWN, 10000, "the host closing");
	vsock_send(&vs, 5000, hport, VSOCK_OP_RST, 0, NULL, 0);
	printf("vsock_io: host-initiated connection closed\n");

	/* 3. bad packets: dropped or refused, the device lives on */
	struct vsock_hdr bad = { .src_cid = vs.cid + 1, .dst_cid = 2, .src_port = 7, .dst_port = 52000,
				 .type = 1, .op = VSOCK_OP_REQUEST, .buf_alloc = 4096 };
	vsock_send_raw(&vs, &bad, NULL, 0);
	bad.src_cid = vs.cid;
	bad.type = 2;
	vsock_send_raw(&vs, &bad, NULL, 0);
	recv_op(&h, VSOCK_OP_RST, 5000, "RST for a datagram packet");
	bad.type = 1;
	bad.op = VSOCK_OP_RW;
	bad.len = 100000;
	vsock_send_raw(&vs, &bad, NULL, 0);
	bad.len = 0;
	bad.op = 99;
	vsock_send_raw(&vs, &bad, NULL, 0);
	recv_op(&h, VSOCK_OP_RST, 5000, "RST for an unknown op");
	printf("vsock_io: bad packets refused\n");
	guest_to_host(1235);
	vsock_send(&vs, 1235, 52000, VSOCK_OP_RST, 0, NULL, 0);

	/* 4. the reset a snapshot brings */
	if (wait_reset) {
		uint32_t id;
		printf("vsock_io: waiting for a transport reset\n");
		uint64_t end = rdtsc() + 60000 * TSC_PER_MS;
		while (!vsock_event(&vs, &id)) {
			if (rdtsc() > end)
				test_fail("no transport reset event within 60 s");
			cpu_relax();
		}
		printf("vsock_io: transport reset event id %u\n", id);
	}
	test_pass();
}
