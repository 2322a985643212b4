/*
 * net_bench: virtio-net throughput as far as a polling test guest can push
 * it. TX: net_bench.frames (default 4000) frames of 1514 bytes, ethertype
 * 0x88b6, 8 per notification; prints the TSC cycles. RX: prints
 * "net_bench: rx ready", then counts 0x88b6 frames until net_bench.frames
 * arrived or none came for 3 s; prints how many, their bytes and the cycles
 * from the first to the last. The host side (tests/perf/net) counts the TX
 * frames on the tap and sends the RX ones.
 */
#include "cmdline.h"
#include "virtio_net.h"
#include "virtio_poll.h"

const char guest_name[] = GUEST_NAME;

#define FRAME 1514
#define BATCH 8

static struct vnet net;
static uint8_t tx[BATCH][NET_HDR_LEN + FRAME] ALIGNED(64);
static uint8_t frame[NET_BUF_LEN];

void guest_main(const char *cmdline)
{
	uint64_t n = 4000;
	struct virtq_used_elem e;
	cmdline_get_u64(cmdline, "net_bench.frames", &n);
	if (vnet_open(&net, cmdline, 0))
		test_fail("no usable virtio-net device");
	for (int b = 0; b < BATCH; b++) {
		uint8_t *f = tx[b] + NET_HDR_LEN;
		memset(tx[b], 0, sizeof(tx[b]));
		memset(f, 0xff, 6);
		memcpy(f + 6, net.mac, 6);
		f[12] = 0x88;
		f[13] = 0xb6;
		virtq_desc_set(&net.txq, (uint16_t)b, paddr(tx[b]), sizeof(tx[b]), 0, 0);
	}
	printf("net_bench: tx start\n");
	uint64_t t0 = rdtsc();
	for (uint64_t sent = 0; sent < n; sent += BATCH) {
		for (uint16_t b = 0; b < BATCH; b++)
			virtq_add(&net.txq, b);
		virtq_notify(&net.dev, &net.txq);
		for (int b = 0; b < BATCH; b++)
			if (virtq_wait_any(&net.dev, &net.txq, &e, 2000) != VQ_OK)
				test_fail("frame %lu not sent", sent + (uint64_t)b);
	}
	printf("net_bench: tx %lu frames of %d bytes in %lu cycles\n", n, FRAME, rdtsc() - t0);

	printf("net_bench: rx ready\n");
	uint64_t got = 0, bytes = 0, first = 0, last = 0;
	while (got < n) {
		int len = vnet_recv(&net, frame, sizeof(frame), got ? 3000 : 30000);
		if (len < 0)
			break;
		if (len < 14 || frame[12] != 0x88 || frame[13] != 0xb6)
			continue;
		last = rdtsc();
		if (!got)
			first = last;
		got++;
		bytes += (uint64_t)len;
	}
	printf("net_bench: rx %lu frames, %lu bytes in %lu cycles\n", got, bytes, last - first);
	test_pass();
}
