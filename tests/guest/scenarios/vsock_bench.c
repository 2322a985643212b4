/*
 * vsock_bench: vsock round-trip latency. Connects to host port 52000, then
 * vsock_bench.rounds (default 1000) times sends 64 bytes and waits for the
 * host's echo; prints "vsock_bench: N round trips of 64 bytes in C cycles".
 */
#include "cmdline.h"
#include "virtio_vsock.h"

const char guest_name[] = GUEST_NAME;

static struct vvsock vs;
static char data[VSOCK_RX_BUF];

static void next(struct vsock_hdr *h, uint16_t op)
{
	do {
		if (vsock_recv(&vs, h, data, sizeof(data), 10000))
			test_fail("no %s from the host", vsock_op_name(op));
	} while (h->op == VSOCK_OP_CREDIT_UPDATE && op != VSOCK_OP_CREDIT_UPDATE);
	if (h->op != op)
		test_fail("got %s, want %s", vsock_op_name(h->op), vsock_op_name(op));
}

void guest_main(const char *cmdline)
{
	struct vsock_hdr h;
	uint64_t rounds = 1000;
	static char msg[64];
	cmdline_get_u64(cmdline, "vsock_bench.rounds", &rounds);
	if (vsock_open(&vs, cmdline))
		test_fail("no usable virtio-vsock device");
	memset(msg, 'p', sizeof(msg));
	vsock_send(&vs, 1234, 52000, VSOCK_OP_REQUEST, 0, NULL, 0);
	next(&h, VSOCK_OP_RESPONSE);
	uint64_t t0 = rdtsc();
	for (uint64_t i = 0; i < rounds; i++) {
		vsock_send(&vs, 1234, 52000, VSOCK_OP_RW, 0, msg, sizeof(msg));
		uint32_t got = 0;
		while (got < sizeof(msg)) {
			next(&h, VSOCK_OP_RW);
			got += h.len;
		}
	}
	printf("vsock_bench: %lu round trips of 64 bytes in %lu cycles\n", rounds, rdtsc() - t0);
	vsock_send(&vs, 1234, 52000, VSOCK_OP_SHUTDOWN, 3, NULL, 0);
	next(&h, VSOCK_OP_RST);
	test_pass();
}
