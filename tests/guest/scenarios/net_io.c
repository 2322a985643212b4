/*
 * net_io: a frame out and frames in through virtio-net. Sends three
 * broadcast frames of ethertype 0x88b5 carrying "MVM-NET-TX <n>", then waits
 * (20 s) for a frame carrying "MVM-NET-RX" and one carrying "MVM-NET-RX2"
 * (the test sends an oversized frame between them, which the device must
 * drop: this guest's buffers hold 2048 bytes). Other frames (the host's own
 * IPv6 chatter) are skipped and counted. A 4-byte runt frame is sent too: the
 * device must drop it and still return the buffer.
 */
#include "cmdline.h"
#include "virtio_net.h"

const char guest_name[] = GUEST_NAME;

static struct vnet net;
static uint8_t frame[NET_BUF_LEN];

static bool ours(const uint8_t *f, int len, const char *tag)
{
	size_t n = strlen(tag);
	return len >= 14 + (int)n && f[12] == 0x88 && f[13] == 0xb5 && !memcmp(f + 14, tag, n) &&
	       (f[14 + n] == ' ' || f[14 + n] == '\0');
}

static void expect(const char *tag, int *others)
{
	uint64_t end = rdtsc() + 20000 * TSC_PER_MS;
	while (rdtsc() < end) {
		int len = vnet_recv(&net, frame, sizeof(frame), 1000);
		if (len < 0)
			continue;
		if (len > NET_BUF_LEN - NET_HDR_LEN)
			test_fail("a %d-byte frame is larger than the buffer", len);
		if (ours(frame, len, tag)) {
			frame[len < 100 ? len : 100] = '\0';
			printf("net_io: got '%s' (%d bytes)\n", (const char *)frame + 14, len);
			return;
		}
		(*others)++;
	}
	test_fail("no %s frame within 20 s (%d other frames)", tag, *others);
}

void guest_main(const char *cmdline)
{
	int others = 0;
	if (vnet_open(&net, cmdline, 0))
		test_fail("no usable virtio-net device");
	printf("net_io: mac %02x:%02x:%02x:%02x:%02x:%02x\n", net.mac[0], net.mac[1], net.mac[2],
	       net.mac[3], net.mac[4], net.mac[5]);
	for (int i = 1; i <= 3; i++) {
		memset(frame, 0, 64);
		memset(frame, 0xff, 6);
		memcpy(frame + 6, net.mac, 6);
		frame[12] = 0x88;
		frame[13] = 0xb5;
		memcpy(frame + 14, "MVM-NET-TX ", 11);
		frame[25] = (uint8_t)('0' + i);
		if (vnet_send(&net, frame, 64))
			test_fail("sending frame %d", i);
	}
	printf("net_io: sent 3 frames\n");
	/* Shorter than an Ethernet header: the device must drop it (and count it). */
	if (vnet_send(&net, frame, 4))
		test_fail("a runt frame was not returned");
	printf("net_io: sent a 4-byte runt\n");
	expect("MVM-NET-RX", &others);
	expect("MVM-NET-RX2", &others);
	printf("net_io: %d other frames skipped\n", others);
	test_pass();
}
