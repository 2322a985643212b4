/*
 * blk_rate: a rate-limited drive is slower than an unlimited one, and gets
 * fast once its limiter is lifted (PATCH /drives). Needs two virtio-blk
 * drives of at least 1 MiB: the first unlimited, the second limited.
 * Reads 1 MiB from each in 64 KiB requests and prints the TSC cycles each
 * took; then reads 256 KiB rounds from the limited one (up to blk_rate.rounds,
 * default 60), printing each, until a round is 8 times faster than the
 * limited megabyte's quarter: "blk_rate: limiter lifted at round N".
 */
#include "cmdline.h"
#include "virtio_blk.h"

const char guest_name[] = GUEST_NAME;

static struct blk fast, slow;
static uint8_t buf[65536] ALIGNED(4096);

static uint64_t read_mib(struct blk *b, uint64_t kib)
{
	uint64_t t0 = rdtsc();
	for (uint64_t off = 0; off < kib * 1024; off += sizeof(buf)) {
		int st = blk_read(b, off / SECTOR_SIZE, buf, sizeof(buf));
		if (st != VIRTIO_BLK_S_OK)
			test_fail("read at %lu: %s", off, blk_strstatus(st));
	}
	return rdtsc() - t0;
}

void guest_main(const char *cmdline)
{
	uint64_t rounds = 60;
	cmdline_get_u64(cmdline, "blk_rate.rounds", &rounds);
	if (blk_open(&fast, cmdline, 0, 0) || blk_open(&slow, cmdline, 1, 0))
		test_fail("needs two virtio-blk drives");
	uint64_t f = read_mib(&fast, 1024);
	printf("blk_rate: unlimited 1 MiB in %lu cycles\n", f);
	uint64_t s = read_mib(&slow, 1024);
	printf("blk_rate: limited 1 MiB in %lu cycles (%lu x)\n", s, f ? s / f : 0);
	for (uint64_t i = 1; i <= rounds; i++) {
		uint64_t c = read_mib(&slow, 256);
		printf("blk_rate: round %lu: 256 KiB in %lu cycles\n", i, c);
		if (c * 8 < s / 4) {
			printf("blk_rate: limiter lifted at round %lu\n", i);
			test_pass();
		}
	}
	test_fail("the limited drive never got faster in %lu rounds", rounds);
}
