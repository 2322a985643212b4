/*
 * blk_bad: a hostile driver.  Sends malformed requests one at a time and,
 * after each, checks that the device still serves a good read with the
 * right data (resetting it first if it set DEVICE_NEEDS_RESET).  One line
 * per case:
 *
 *   blk_bad: <case>: status=<n>       the device answered with status n
 *   blk_bad: <case>: status=none      used entry, status byte untouched
 *   blk_bad: <case>: needs-reset      the device set DEVICE_NEEDS_RESET
 *   blk_bad: <case>: dropped          no used entry within the timeout
 *
 * The last case, avail-idx-too-far, moves avail->idx more than a queue
 * size ahead (the ring then names stale chains); the device should set
 * DEVICE_NEEDS_RESET.  Whatever it does, the guest resets it afterwards.
 *
 * PASS iff every follow-up read succeeded: what the device answers to a
 * bad request is reported, not judged (the test runner may judge it).
 */
#include "virtio_blk.h"

#define AREA (8 * SECTOR_SIZE)
#define MIN_SECTORS 64
#define OUTSIDE_RAM 0x700000000ULL	/* 28 GiB: no test VM has RAM there */
#define BAD_TIMEOUT_MS 2000
#define FILL 0x5a

const char guest_name[] = GUEST_NAME;

static struct blk blk;
static struct virtio_blk_req_hdr hdr ALIGNED(16);
static volatile uint8_t status;
static struct virtq_desc table[2 * VIRTQ_MAX + 2] ALIGNED(16);
static uint8_t buf[2 * VIRTQ_MAX * SECTOR_SIZE] ALIGNED(4096);
static uint8_t ref[AREA] ALIGNED(4096);
static uint8_t chk[AREA] ALIGNED(4096);

#define F_NEXT VIRTQ_DESC_F_NEXT
#define F_WRITE VIRTQ_DESC_F_WRITE
#define F_INDIRECT VIRTQ_DESC_F_INDIRECT

static void set_hdr(uint32_t type, uint64_t sector)
{
	hdr = (struct virtio_blk_req_hdr){ .type = type, .sector = sector };
}

/* desc[0] header -> desc[1] data -> desc[2] status; head 0. */
static uint16_t chain3(struct virtq *q, uint32_t type, uint64_t sector, uint64_t addr,
		       uint32_t len, uint16_t dflags)
{
	set_hdr(type, sector);
	virtq_desc_set(q, 0, paddr(&hdr), sizeof(hdr), F_NEXT, 1);
	virtq_desc_set(q, 1, addr, len, dflags | F_NEXT, 2);
	virtq_desc_set(q, 2, paddr(&status), 1, F_WRITE, 0);
	return 0;
}

static uint16_t data_outside_ram(struct virtq *q)
{
	return chain3(q, VIRTIO_BLK_T_IN, 0, OUTSIDE_RAM, SECTOR_SIZE, F_WRITE);
}

static uint16_t write_from_outside_ram(struct virtq *q)
{
	return chain3(q, VIRTIO_BLK_T_OUT, 48, OUTSIDE_RAM, SECTOR_SIZE, 0);
}

static uint16_t len_overflow(struct virtq *q)
{
	return chain3(q, VIRTIO_BLK_T_IN, 0, 0xfffffffffffff000ULL, 0xffffffff, F_WRITE);
}

static uint16_t desc_loop(struct virtq *q)
{
	set_hdr(VIRTIO_BLK_T_IN, 0);
	virtq_desc_set(q, 0, paddr(&hdr), sizeof(hdr), F_NEXT, 1);
	virtq_desc_set(q, 1, paddr(buf), SECTOR_SIZE, F_WRITE | F_NEXT, 1);
	return 0;
}

static uint16_t next_out_of_range(struct virtq *q)
{
	set_hdr(VIRTIO_BLK_T_IN, 0);
	virtq_desc_set(q, 0, paddr(&hdr), sizeof(hdr), F_NEXT, q->num);
	return 0;
}

static uint16_t head_out_of_range(struct virtq *q)
{
	chain3(q, VIRTIO_BLK_T_IN, 0, paddr(buf), SECTOR_SIZE, F_WRITE);
	return q->num;
}

/* An indirect table: header, 2 * queue size data descriptors, status. */
static uint16_t indirect_too_long(struct virtq *q)
{
	uint16_t n = (uint16_t)(2 * q->num), i;

	set_hdr(VIRTIO_BLK_T_IN, 0);
	table[0] = (struct virtq_desc){ paddr(&hdr), sizeof(hdr), F_NEXT, 1 };
	for (i = 1; i <= n; i++)
		table[i] = (struct virtq_desc){ paddr(buf) + (i - 1) * SECTOR_SIZE, SECTOR_SIZE,
						F_WRITE | F_NEXT, (uint16_t)(i + 1) };
	table[i] = (struct virtq_desc){ paddr(&status), 1, F_WRITE, 0 };
	virtq_desc_set(q, 0, paddr(table), (n + 2) * sizeof(table[0]), F_INDIRECT, 0);
	return 0;
}

static uint16_t indirect_outside_ram(struct virtq *q)
{
	virtq_desc_set(q, 0, OUTSIDE_RAM, 3 * sizeof(struct virtq_desc), F_INDIRECT, 0);
	return 0;
}

static uint16_t indirect_bad_len(struct virtq *q)
{
	set_hdr(VIRTIO_BLK_T_IN, 0);
	table[0] = (struct virtq_desc){ paddr(&hdr), sizeof(hdr), F_NEXT, 1 };
	table[1] = (struct virtq_desc){ paddr(buf), SECTOR_SIZE, F_WRITE | F_NEXT, 2 };
	table[2] = (struct virtq_desc){ paddr(&status), 1, F_WRITE, 0 };
	virtq_desc_set(q, 0, paddr(table), 3 * sizeof(table[0]) - 8, F_INDIRECT, 0);
	return 0;
}

/* An indirect descriptor inside an indirect table. */
static uint16_t indirect_nested(struct virtq *q)
{
	set_hdr(VIRTIO_BLK_T_IN, 0);
	table[0] = (struct virtq_desc){ paddr(&table[4]), 3 * sizeof(table[0]), F_INDIRECT, 0 };
	table[4] = (struct virtq_desc){ paddr(&hdr), sizeof(hdr), F_NEXT, 1 };
	table[5] = (struct virtq_desc){ paddr(buf), SECTOR_SIZE, F_WRITE | F_NEXT, 2 };
	table[6] = (struct virtq_desc){ paddr(&status), 1, F_WRITE, 0 };
	virtq_desc_set(q, 0, paddr(table), sizeof(table[0]), F_INDIRECT, 0);
	return 0;
}

/* Only 8 device-readable bytes: less than a request header. */
static uint16_t header_too_short(struct virtq *q)
{
	chain3(q, VIRTIO_BLK_T_IN, 0, paddr(buf), SECTOR_SIZE, F_WRITE);
	q->desc[0].len = 8;
	return 0;
}

static uint16_t unknown_type(struct virtq *q)
{
	return chain3(q, 0xff, 0, paddr(buf), SECTOR_SIZE, F_WRITE);
}

static uint16_t read_past_end(struct virtq *q)
{
	return chain3(q, VIRTIO_BLK_T_IN, blk.capacity, paddr(buf), SECTOR_SIZE, F_WRITE);
}

static uint16_t read_straddling_end(struct virtq *q)
{
	return chain3(q, VIRTIO_BLK_T_IN, blk.capacity - 1, paddr(buf), 2 * SECTOR_SIZE, F_WRITE);
}

/* sector * 512 wraps to 0: a naive bounds check passes. */
static uint16_t sector_overflow(struct virtq *q)
{
	return chain3(q, VIRTIO_BLK_T_IN, 1ULL << 55, paddr(buf), SECTOR_SIZE, F_WRITE);
}

/* IN whose data buffer is device-readable only: the device must not write it. */
static uint16_t in_to_readonly_buffer(struct virtq *q)
{
	return chain3(q, VIRTIO_BLK_T_IN, 0, paddr(buf), SECTOR_SIZE, 0);
}

static uint16_t status_readonly(struct virtq *q)
{
	chain3(q, VIRTIO_BLK_T_IN, 0, paddr(buf), SECTOR_SIZE, F_WRITE);
	q->desc[2].flags = 0;
	return 0;
}

/* A harmless read: only the published avail->idx is wrong (see run()). */
static uint16_t avail_idx_too_far(struct virtq *q)
{
	return chain3(q, VIRTIO_BLK_T_IN, 0, paddr(buf), SECTOR_SIZE, F_WRITE);
}

struct bad_case {
	const char *name;
	uint16_t (*build)(struct virtq *q);	/* fills desc[0..], returns the head */
};

static const struct bad_case cases[] = {
	{ "data-outside-ram", data_outside_ram },
	{ "write-from-outside-ram", write_from_outside_ram },
	{ "desc-loop", desc_loop },
	{ "len-overflow", len_overflow },
	{ "next-out-of-range", next_out_of_range },
	{ "head-out-of-range", head_out_of_range },
	{ "indirect-too-long", indirect_too_long },
	{ "indirect-outside-ram", indirect_outside_ram },
	{ "indirect-bad-len", indirect_bad_len },
	{ "indirect-nested", indirect_nested },
	{ "header-too-short", header_too_short },
	{ "unknown-type", unknown_type },
	{ "read-past-end", read_past_end },
	{ "read-straddling-end", read_straddling_end },
	{ "sector-overflow", sector_overflow },
	{ "in-to-readonly-buffer", in_to_readonly_buffer },
	{ "status-readonly", status_readonly },
	{ "avail-idx-too-far", avail_idx_too_far },
};

struct tally {
	unsigned ok, rejected, none, needs_reset, dropped, failed;
};

static void reinit(const char *why)
{
	if (blk_reinit(&blk) < 0)
		test_fail("re-initialising the device after %s failed", why);
}

/* The device must still read sectors 0-7 correctly. */
static bool follow_up(const char *name)
{
	int st;

	memset(chk, 0, AREA);
	st = blk_read(&blk, 0, chk, AREA);
	if (st == VIRTIO_BLK_S_OK && !memcmp(chk, ref, AREA))
		return true;
	if (st == VIRTIO_BLK_S_OK)
		printf("blk_bad: %s: follow-up read FAILED: wrong data\n", name);
	else
		printf("blk_bad: %s: follow-up read FAILED: %s (%d)\n", name, blk_strstatus(st),
		       st);
	reinit("a failed follow-up read");
	return false;
}

static void run(const struct bad_case *c, struct tally *t)
{
	struct virtq *q = &blk.vq;
	uint16_t head;
	uint32_t len;
	int r;

	memset(q->desc, 0, 8 * sizeof(q->desc[0]));
	memset(table, 0, sizeof(table));
	memset(buf, FILL, sizeof(buf));
	status = 0xff;
	head = c->build(q);
	if (c->build == avail_idx_too_far) {
		volatile struct virtq_avail *avail = &q->avail;
		avail->ring[q->avail_idx % q->num] = head;
		q->avail_idx = (uint16_t)(q->avail_idx + q->num + 1);
		mb();
		avail->idx = q->avail_idx;
		virtq_notify(&blk.dev, q);
	} else {
		virtq_publish(&blk.dev, q, head);
	}
	r = virtq_wait(&blk.dev, q, head, &len, BAD_TIMEOUT_MS);
	mb();
	if (r == VQ_OK && (virtio_status(&blk.dev) & VIRTIO_STATUS_NEEDS_RESET))
		r = VQ_NEEDS_RESET;

	if (r == VQ_NEEDS_RESET) {
		printf("blk_bad: %s: needs-reset\n", c->name);
		t->needs_reset++;
	} else if (r == VQ_TIMEOUT) {
		printf("blk_bad: %s: dropped\n", c->name);
		t->dropped++;
	} else if (status == 0xff) {
		printf("blk_bad: %s: status=none (used len %u)\n", c->name, len);
		t->none++;
	} else {
		printf("blk_bad: %s: status=%u (used len %u)\n", c->name, status, len);
		if (status == VIRTIO_BLK_S_OK)
			t->ok++;
		else
			t->rejected++;
	}
	/* After avail-idx-too-far the driver's ring state is void: reset. */
	if (r == VQ_NEEDS_RESET || c->build == avail_idx_too_far)
		reinit(c->name);
	if (c->build == in_to_readonly_buffer && buf[0] != FILL)
		printf("blk_bad: %s: the device wrote into a device-readable buffer\n", c->name);
	if (c->build == status_readonly && status != 0xff)
		printf("blk_bad: %s: the device wrote into a device-readable status\n", c->name);

	if (!follow_up(c->name))
		t->failed++;
}

void guest_main(const char *cmdline)
{
	struct tally t = { 0 };
	int st;

	if (blk_open(&blk, cmdline, 0, VIRTIO_F_INDIRECT_DESC | VIRTIO_BLK_F_RO) < 0)
		test_fail("no usable virtio-blk device");
	if (blk.capacity < MIN_SECTORS)
		test_fail("disk has %lu sectors, need %u", blk.capacity, MIN_SECTORS);
	if (blk.vq.num < VIRTQ_MAX)
		test_fail("queue size %u, need %u", blk.vq.num, VIRTQ_MAX);
	printf("blk_bad: indirect descriptors %s\n",
	       blk.dev.features & VIRTIO_F_INDIRECT_DESC ? "negotiated" : "not offered");

	if ((st = blk_read(&blk, 0, ref, AREA)) != VIRTIO_BLK_S_OK)
		test_fail("reference read: %s (%d)", blk_strstatus(st), st);

	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++)
		run(&cases[i], &t);

	printf("blk_bad: %u cases: %u rejected, %u accepted, %u no status, %u needs-reset, "
	       "%u dropped\n",
	       (unsigned)ARRAY_SIZE(cases), t.rejected, t.ok, t.none, t.needs_reset, t.dropped);
	if (t.failed)
		test_fail("%u follow-up reads failed", t.failed);
	test_pass();
}
