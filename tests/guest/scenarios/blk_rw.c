/*
 * blk_rw: persistent read/write on the first virtio-blk device.
 *
 * Sectors 0..7 hold "MVMTESTB", a 64-bit counter N and a pattern derived
 * from N.  Each run checks the previous run's data, writes N+1 with a
 * 3-descriptor chain split off sector boundaries, FLUSHes, reads it back
 * through a differently split chain and compares, then prints GET_ID.
 * On a read-only device it checks that a write is refused and changed
 * nothing.
 */
#include "virtio_blk.h"

#define AREA (8 * SECTOR_SIZE)
#define MAGIC "MVMTESTB"

const char guest_name[] = GUEST_NAME;

static struct blk blk;
static uint8_t before[AREA] ALIGNED(4096);
static uint8_t data[AREA] ALIGNED(4096);
static uint8_t back[AREA] ALIGNED(4096);
static char id[VIRTIO_BLK_ID_BYTES + 1];

static uint8_t pattern(uint64_t n, unsigned i)
{
	return (uint8_t)(i * 7 + n * 13 + (i >> 9));
}

static void fill(uint8_t *p, uint64_t n)
{
	memcpy(p, MAGIC, 8);
	memcpy(p + 8, &n, 8);
	for (unsigned i = 16; i < AREA; i++)
		p[i] = pattern(n, i);
}

/* The first byte where p differs from fill(n), or -1. */
static int mismatch(const uint8_t *p, uint64_t n)
{
	static uint8_t want[AREA];

	fill(want, n);
	for (int i = 0; i < AREA; i++)
		if (p[i] != want[i])
			return i;
	return -1;
}

static void expect_ok(int st, const char *what)
{
	if (st != VIRTIO_BLK_S_OK)
		test_fail("%s: %s (%d)", what, blk_strstatus(st), st);
}

static void read_only(uint64_t n)
{
	int st;

	fill(data, n + 1);
	st = blk_write(&blk, 0, data, AREA);
	if (st == VIRTIO_BLK_S_OK)
		test_fail("write to a read-only device returned OK");
	if (st != VIRTIO_BLK_S_IOERR && st != VIRTIO_BLK_S_UNSUPP)
		test_fail("write to a read-only device: %s (%d), expected IOERR or UNSUPP",
			  blk_strstatus(st), st);
	printf("blk_rw: read-only rejected write (%s)\n", blk_strstatus(st));
	expect_ok(blk_read(&blk, 0, back, AREA), "read back after refused write");
	if (memcmp(back, before, AREA))
		test_fail("refused write changed the disk");
	test_pass();
}

static void get_id(void)
{
	struct blk_seg seg = { id, VIRTIO_BLK_ID_BYTES };
	int st;

	memset(id, 0, sizeof(id));
	st = blk_request(&blk, VIRTIO_BLK_T_GET_ID, 0, &seg, 1);
	if (st != VIRTIO_BLK_S_OK) {
		printf("blk_rw: GET_ID: %s (%d)\n", blk_strstatus(st), st);
		return;
	}
	for (int i = 0; i < VIRTIO_BLK_ID_BYTES && id[i]; i++)
		if (id[i] < 0x20 || id[i] > 0x7e)
			id[i] = '.';
	printf("blk_rw: id \"%s\"\n", id);
}

void guest_main(const char *cmdline)
{
	/* Split off sector boundaries on purpose: the device must gather. */
	const struct blk_seg wsegs[] = { { data, 100 }, { data + 100, 3000 },
					 { data + 3100, AREA - 3100 } };
	const struct blk_seg rsegs[] = { { back, 512 }, { back + 512, 1531 },
					 { back + 2043, AREA - 2043 } };
	uint64_t n = 0;
	int bad;

	if (blk_open(&blk, cmdline, 0, VIRTIO_BLK_F_RO | VIRTIO_BLK_F_FLUSH) < 0)
		test_fail("no usable virtio-blk device");
	if (blk.capacity < AREA / SECTOR_SIZE)
		test_fail("disk has %lu sectors, need %u", blk.capacity, AREA / SECTOR_SIZE);

	expect_ok(blk_read(&blk, 0, before, AREA), "read sectors 0-7");
	if (!memcmp(before, MAGIC, 8)) {
		memcpy(&n, before + 8, 8);
		if ((bad = mismatch(before, n)) >= 0)
			test_fail("data of counter %lu corrupted at byte %d", n, bad);
	} else {
		printf("blk_rw: no magic, fresh disk\n");
	}
	printf("blk_rw: counter was %lu\n", n);

	if (blk.dev.features & VIRTIO_BLK_F_RO)
		read_only(n);

	fill(data, n + 1);
	expect_ok(blk_request(&blk, VIRTIO_BLK_T_OUT, 0, wsegs, 3), "write (3 data descriptors)");
	if (blk.dev.features & VIRTIO_BLK_F_FLUSH)
		expect_ok(blk_request(&blk, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), "flush");
	else
		printf("blk_rw: device does not offer VIRTIO_BLK_F_FLUSH, no flush\n");

	memset(back, 0, AREA);
	expect_ok(blk_request(&blk, VIRTIO_BLK_T_IN, 0, rsegs, 3), "read (3 data descriptors)");
	if ((bad = mismatch(back, n + 1)) >= 0)
		test_fail("read back differs at byte %d", bad);
	printf("blk_rw: counter now %lu\n", n + 1);

	get_id();
	test_pass();
}
