/*
 * counter: a guest that keeps running, for snapshot/restore tests.  Every
 * counter.step loop iterations (default 1M = 2^20) it prints "counter: N"
 * with N = 1, 2, 3, ...; after counter.max iterations (if given) it PASSes.
 * The count lives in registers and on the stack, so a restored snapshot
 * must carry on from the next N. A copy lives in RAM too (mem_tick): a
 * restore that pairs one snapshot's registers with another's memory prints
 * "torn: memory tick M, register tick N" before its next counter.
 *
 * With a virtio-rng device it appends " rng <16 hex digits>" read from the
 * device on every tick: clones of one snapshot must print different bytes.
 * With a virtio-blk device it writes "MVMTICK" + N to sector 0 and flushes
 * on every tick, so the disk shows how far the guest got.
 */
#include "cmdline.h"
#include "virtio_blk.h"
#include "virtio_rng.h"

const char guest_name[] = GUEST_NAME;

static struct rng rng;
static struct blk blk;
static uint8_t sector[SECTOR_SIZE] ALIGNED(512);
static volatile uint64_t mem_tick;

static void tick_io(bool have_rng, bool have_blk, uint64_t tick)
{
	if (have_rng) {
		uint8_t b[8];
		if (rng_read(&rng, b, sizeof(b)) == (int)sizeof(b)) {
			printf(" rng ");
			for (unsigned i = 0; i < sizeof(b); i++)
				printf("%02x", b[i]);
		} else {
			printf(" rng error");
		}
	}
	if (have_blk) {
		memset(sector, 0, sizeof(sector));
		memcpy(sector, "MVMTICK", 8);
		memcpy(sector + 8, &tick, sizeof(tick));
		int w = blk_write(&blk, 0, sector, sizeof(sector));
		int f = blk_request(&blk, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
		if (w != VIRTIO_BLK_S_OK || f != VIRTIO_BLK_S_OK)
			printf(" blk error %s/%s", blk_strstatus(w), blk_strstatus(f));
	}
}

void guest_main(const char *cmdline)
{
	uint64_t step = 1ULL << 20, max = 0, done = 0, tick = 0;
	bool bounded, have_rng, have_blk;

	cmdline_get_u64(cmdline, "counter.step", &step);
	if (!step)
		step = 1;
	bounded = cmdline_get_u64(cmdline, "counter.max", &max);
	have_rng = rng_open(&rng, cmdline) == 0;
	have_blk = blk_open(&blk, cmdline, 0, VIRTIO_BLK_F_FLUSH) == 0;
	if (bounded)
		printf("counter.step=%lu counter.max=%lu\n", step, max);
	else
		printf("counter.step=%lu counter.max=none\n", step);

	while (!bounded || done < max) {
		uint64_t n = bounded && max - done < step ? max - done : step;
		for (uint64_t i = 0; i < n; i++)
			__asm__ volatile("" : : : "memory");
		done += n;
		if (mem_tick != tick)
			printf("torn: memory tick %lu, register tick %lu\n", mem_tick, tick);
		mem_tick = ++tick;
		printf("counter: %lu", tick);
		tick_io(have_rng, have_blk, tick);
		printf("\n");
	}
	test_pass();
}
