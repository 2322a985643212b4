/*
 * virtio/mmio.c: the virtio-mmio register interface without KVM (kvm == NULL:
 * no ioeventfds, no irqfd). Interrupts are observed by giving the transport's
 * irq line a bare eventfd.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../virtio/blk/blk.h"
#include "../../virtio/mmio.h"
#include "../../lib/log.h"

enum {
	MAGIC = 0x000,
	VERSION = 0x004,
	DEVICE_ID = 0x008,
	VENDOR_ID = 0x00c,
	DEV_FEATURES = 0x010,
	DEV_FEATURES_SEL = 0x014,
	DRV_FEATURES = 0x020,
	DRV_FEATURES_SEL = 0x024,
	QUEUE_SEL = 0x030,
	QUEUE_NUM_MAX = 0x034,
	QUEUE_NUM = 0x038,
	QUEUE_READY = 0x044,
	QUEUE_NOTIFY = 0x050,
	INT_STATUS = 0x060,
	INT_ACK = 0x064,
	STATUS = 0x070,
	DESC_LO = 0x080,
	DESC_HI = 0x084,
	DRIVER_LO = 0x090,
	DRIVER_HI = 0x094,
	DEVICE_LO = 0x0a0,
	DEVICE_HI = 0x0a4,
	CONFIG_GEN = 0x0fc,
	CONFIG = 0x100,
};

#define ACK	    VIRTIO_STATUS_ACKNOWLEDGE
#define DRV	    VIRTIO_STATUS_DRIVER
#define FOK	    VIRTIO_STATUS_FEATURES_OK
#define DOK	    VIRTIO_STATUS_DRIVER_OK
#define NEEDS_RESET VIRTIO_STATUS_NEEDS_RESET
#define F_VERSION_1 (1ULL << VIRTIO_F_VERSION_1)
#define F_EVENT_IDX (1ULL << VIRTIO_RING_F_EVENT_IDX)
#define F_DEV	    (1ULL << 5)
#define F_DEV_HIGH  (1ULL << 35)

#define RAM_SIZE 0x100000
#define DESC	 0x0000
#define AVAIL	 0x1000
#define USED	 0x2000
#define BUF	 0x10000

/* A device that offers a few features and completes every buffer with len 7. */
struct fake {
	int activates, resets, processed;
	uint64_t acked;
	int activate_ret;
	uint8_t cfg[16];
	uint64_t written_off;
	uint8_t written[4];
};

static uint64_t fake_features(void *dev)
{
	(void)dev;
	return F_DEV | F_EVENT_IDX | F_DEV_HIGH;
}

static void fake_read_config(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct fake *f = dev;
	memset(data, 0, len);
	for (uint32_t i = 0; i < len && off + i < sizeof(f->cfg); i++)
		data[i] = f->cfg[off + i];
}

static void fake_write_config(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct fake *f = dev;
	f->written_off = off;
	memcpy(f->written, data, len < 4 ? len : 4);
}

static int fake_activate(void *dev, uint64_t acked, struct virtq *queues)
{
	struct fake *f = dev;
	(void)queues;
	f->activates++;
	f->acked = acked;
	return f->activate_ret;
}

static bool fake_process(void *dev, int qidx, struct virtq *q, bool *fatal)
{
	static struct virtq_chain c;
	struct fake *f = dev;
	bool used = false;
	int r;
	(void)qidx;
	while ((r = virtq_pop(q, &c)) == 1) {
		virtq_push(q, c.head, 7);
		f->processed++;
		used = true;
	}
	if (r < 0)
		*fatal = true;
	return used;
}

static void fake_reset(void *dev)
{
	((struct fake *)dev)->resets++;
}

static const struct virtio_dev_ops fake_ops = {
	.name = "fake",
	.device_id = 42,
	.num_queues = 2,
	.queue_max = 64,
	.features = fake_features,
	.read_config = fake_read_config,
	.write_config = fake_write_config,
	.activate = fake_activate,
	.process = fake_process,
	.reset = fake_reset,
};

static uint8_t *ram;
static struct guest_mem mem;
static struct fake dev;
static struct virtio_mmio *t;
static int efd;

static void setup(void)
{
	log_set_level(LOG_OFF);
	ram = calloc(1, RAM_SIZE);
	cr_assert_not_null(ram);
	mem = (struct guest_mem){ .nr = 1, .size = RAM_SIZE, .fd = -1 };
	mem.r[0] = (struct guest_region){ .gpa = 0, .size = RAM_SIZE, .hva = ram };
	memset(&dev, 0, sizeof(dev));
	for (int i = 0; i < 16; i++)
		dev.cfg[i] = (uint8_t)(0x10 + i);
	t = virtio_mmio_create(&fake_ops, &dev, &mem, NULL, NULL, 0xc0001000, 5);
	cr_assert_not_null(t, "the transport must work without KVM");
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	cr_assert_geq(efd, 0);
	t->irq.fd = efd; /* closed by virtio_mmio_destroy */
}

static void teardown(void)
{
	virtio_mmio_destroy(t);
	free(ram);
}

TestSuite(mmio, .init = setup, .fini = teardown);

static uint32_t rd(uint64_t off)
{
	uint32_t v = 0xdeadbeef;
	virtio_mmio_rw(t, off, (uint8_t *)&v, 4, false);
	return v;
}

static void wr(uint64_t off, uint32_t v)
{
	virtio_mmio_rw(t, off, (uint8_t *)&v, 4, true);
}

static uint64_t irqs(void)
{
	uint64_t n = 0;
	if (read(efd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

static void write_features(uint64_t f)
{
	wr(DRV_FEATURES_SEL, 0);
	wr(DRV_FEATURES, (uint32_t)f);
	wr(DRV_FEATURES_SEL, 1);
	wr(DRV_FEATURES, (uint32_t)(f >> 32));
}

/* Reset, acknowledge, accept `f`, set FEATURES_OK; returns the status read back. */
static uint32_t negotiate(uint64_t f)
{
	wr(STATUS, 0);
	wr(STATUS, ACK);
	wr(STATUS, ACK | DRV);
	write_features(f);
	wr(STATUS, ACK | DRV | FOK);
	return rd(STATUS);
}

static void setup_queue(uint32_t sel, uint32_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	wr(QUEUE_SEL, sel);
	wr(QUEUE_NUM, size);
	wr(DESC_LO, (uint32_t)desc);
	wr(DESC_HI, (uint32_t)(desc >> 32));
	wr(DRIVER_LO, (uint32_t)avail);
	wr(DRIVER_HI, (uint32_t)(avail >> 32));
	wr(DEVICE_LO, (uint32_t)used);
	wr(DEVICE_HI, (uint32_t)(used >> 32));
	wr(QUEUE_READY, 1);
}

/* The whole driver init sequence with queue 0 of 16 entries. */
static void bring_up(uint64_t f)
{
	cr_assert(negotiate(f) & FOK);
	setup_queue(0, 16, DESC, AVAIL, USED);
	cr_assert_eq(rd(QUEUE_READY), 1);
	wr(STATUS, ACK | DRV | FOK | DOK);
	cr_assert_eq(rd(STATUS), ACK | DRV | FOK | DOK);
}

/* Post a one-descriptor buffer on queue 0. */
static void post(void)
{
	struct virtq_desc d = { BUF, 64, VIRTQ_DESC_F_WRITE, 0 };
	memcpy(ram + DESC, &d, sizeof(d));
	uint16_t *avail = (uint16_t *)(ram + AVAIL);
	avail[2 + avail[1] % 16] = 0;
	avail[1]++;
}

static uint16_t used_idx(void)
{
	return ((uint16_t *)(ram + USED))[1];
}

Test(mmio, identifies_itself)
{
	cr_expect_eq(rd(MAGIC), 0x74726976, "\"virt\"");
	cr_expect_eq(rd(VERSION), 2, "virtio-mmio version 2 (non-legacy)");
	cr_expect_eq(rd(DEVICE_ID), 42);
	cr_expect_eq(rd(VENDOR_ID), 0x004d564d);
}

Test(mmio, device_features_are_paged_by_select)
{
	uint64_t want = F_DEV | F_EVENT_IDX | F_DEV_HIGH | F_VERSION_1;
	wr(DEV_FEATURES_SEL, 0);
	cr_expect_eq(rd(DEV_FEATURES), (uint32_t)want);
	wr(DEV_FEATURES_SEL, 1);
	cr_expect_eq(rd(DEV_FEATURES), (uint32_t)(want >> 32),
		     "VERSION_1 offered in the high word");
	wr(DEV_FEATURES_SEL, 2);
	cr_expect_eq(rd(DEV_FEATURES), 0);
	wr(DEV_FEATURES_SEL, 0xffffffff);
	cr_expect_eq(rd(DEV_FEATURES), 0);
}

Test(mmio, features_ok_accepted_for_an_offered_subset_with_version_1)
{
	cr_expect(negotiate(F_VERSION_1) & FOK);
	cr_expect(negotiate(F_VERSION_1 | F_DEV | F_DEV_HIGH | F_EVENT_IDX) & FOK);
}

Test(mmio, features_ok_refused_for_an_unoffered_feature)
{
	static const uint64_t extra[] = { 1ULL << 0, 1ULL << 6, 1ULL << 28, 1ULL << 33,
					  1ULL << 63 };
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
		cr_expect_not(negotiate(F_VERSION_1 | F_DEV | extra[i]) & FOK, "bit %d accepted",
			      __builtin_ctzll(extra[i]));
}

Test(mmio, features_ok_refused_without_version_1)
{
	cr_expect_not(negotiate(F_DEV) & FOK, "a legacy driver");
	cr_expect_not(negotiate(0) & FOK);
}

Test(mmio, driver_features_freeze_at_features_ok)
{
	cr_assert(negotiate(F_VERSION_1 | F_DEV) & FOK);
	write_features(F_VERSION_1 | F_DEV | (1ULL << 6)); /* too late, and not offered */
	setup_queue(0, 16, DESC, AVAIL, USED);
	wr(STATUS, ACK | DRV | FOK | DOK);
	cr_expect_eq(dev.activates, 1);
	cr_expect_eq(dev.acked, F_VERSION_1 | F_DEV);
}

Test(mmio, driver_features_select_beyond_1_is_ignored)
{
	wr(STATUS, ACK | DRV);
	write_features(F_VERSION_1);
	wr(DRV_FEATURES_SEL, 2);
	wr(DRV_FEATURES, 0xffffffff);
	wr(STATUS, ACK | DRV | FOK);
	cr_expect(rd(STATUS) & FOK);
}

Test(mmio, queue_num_max_only_for_existing_queues)
{
	wr(QUEUE_SEL, 0);
	cr_expect_eq(rd(QUEUE_NUM_MAX), 64);
	wr(QUEUE_SEL, 1);
	cr_expect_eq(rd(QUEUE_NUM_MAX), 64);
	wr(QUEUE_SEL, 2);
	cr_expect_eq(rd(QUEUE_NUM_MAX), 0, "a device with 2 queues");
	cr_expect_eq(rd(QUEUE_READY), 0);
	wr(QUEUE_READY, 1); /* harmless */
	wr(QUEUE_SEL, 0xffffffff);
	cr_expect_eq(rd(QUEUE_NUM_MAX), 0);
}

Test(mmio, queue_setup_reaches_the_virtqueue)
{
	cr_assert(negotiate(F_VERSION_1 | F_EVENT_IDX) & FOK);
	setup_queue(1, 32, 0x3000, 0x4002, 0x5004);
	cr_expect_eq(rd(QUEUE_READY), 1);
	cr_expect_eq(t->q[1].size, 32);
	cr_expect_eq(t->q[1].desc_gpa, 0x3000);
	cr_expect_eq(t->q[1].avail_gpa, 0x4002);
	cr_expect_eq(t->q[1].used_gpa, 0x5004);
	cr_expect(t->q[1].event_idx, "EVENT_IDX was negotiated");
	wr(QUEUE_SEL, 0);
	cr_expect_eq(rd(QUEUE_READY), 0, "queue 0 untouched");
}

Test(mmio, queue_layout_is_frozen_while_ready)
{
	cr_assert(negotiate(F_VERSION_1) & FOK);
	setup_queue(0, 16, DESC, AVAIL, USED);
	wr(QUEUE_NUM, 8);
	wr(DESC_LO, 0x8000);
	wr(DESC_HI, 1);
	wr(DRIVER_LO, 0x9000);
	wr(DEVICE_LO, 0xa000);
	wr(DEVICE_HI, 1);
	cr_expect_eq(t->q[0].size, 16);
	cr_expect_eq(t->q[0].desc_gpa, DESC);
	cr_expect_eq(t->q[0].avail_gpa, AVAIL);
	cr_expect_eq(t->q[0].used_gpa, USED);

	wr(QUEUE_READY, 0);
	cr_expect_eq(rd(QUEUE_READY), 0);
	wr(QUEUE_NUM, 8);
	cr_expect_eq(t->q[0].size, 8, "writable again once not ready");
}

Test(mmio, queue_ready_with_a_bad_layout_stays_0)
{
	static const struct {
		uint32_t size;
		uint64_t desc, avail, used;
		const char *what;
	} cases[] = {
		{ 0, DESC, AVAIL, USED, "size 0" },
		{ 3, DESC, AVAIL, USED, "size not a power of 2" },
		{ 128, DESC, AVAIL, USED, "size above QueueNumMax" },
		{ 0x10000, DESC, AVAIL, USED, "size beyond 16 bits" },
		{ 16, DESC + 8, AVAIL, USED, "descriptor table misaligned" },
		{ 16, DESC, AVAIL + 1, USED, "avail ring misaligned" },
		{ 16, DESC, AVAIL, USED + 2, "used ring misaligned" },
		{ 16, RAM_SIZE, AVAIL, USED, "descriptor table outside RAM" },
		{ 16, DESC, AVAIL + (1ULL << 32), USED, "avail ring above 4 GiB" },
		{ 16, DESC, AVAIL, RAM_SIZE - 64, "used ring straddles the end of RAM" },
	};
	cr_assert(negotiate(F_VERSION_1) & FOK);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setup_queue(0, cases[i].size, cases[i].desc, cases[i].avail, cases[i].used);
		cr_expect_eq(rd(QUEUE_READY), 0, "case %zu (%s)", i, cases[i].what);
	}
}

Test(mmio, driver_ok_activates_once_with_the_acked_features)
{
	bring_up(F_VERSION_1 | F_DEV_HIGH);
	cr_expect_eq(dev.activates, 1);
	cr_expect_eq(dev.acked, F_VERSION_1 | F_DEV_HIGH);
	wr(STATUS, ACK | DRV | FOK | DOK);
	cr_expect_eq(dev.activates, 1, "no second activation");
	cr_expect_eq(rd(STATUS) & NEEDS_RESET, 0);
}

Test(mmio, driver_ok_without_features_ok_needs_reset)
{
	wr(STATUS, ACK | DRV);
	write_features(F_VERSION_1);
	wr(STATUS, ACK | DRV | DOK);
	cr_expect(rd(STATUS) & NEEDS_RESET);
	cr_expect_eq(dev.activates, 0);
	cr_expect(rd(INT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	cr_expect_geq(irqs(), 1);
}

Test(mmio, refused_activation_needs_reset)
{
	dev.activate_ret = -EINVAL;
	cr_assert(negotiate(F_VERSION_1) & FOK);
	setup_queue(0, 16, DESC, AVAIL, USED);
	wr(STATUS, ACK | DRV | FOK | DOK);
	cr_expect(rd(STATUS) & NEEDS_RESET);
	cr_expect(rd(INT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	post();
	wr(QUEUE_NOTIFY, 0);
	cr_expect_eq(dev.processed, 0, "an inactive device processes nothing");
}

Test(mmio, notify_processes_the_queue_and_interrupts)
{
	bring_up(F_VERSION_1);
	irqs();
	post();
	wr(QUEUE_NOTIFY, 0);
	cr_expect_eq(dev.processed, 1);
	cr_expect_eq(used_idx(), 1);
	cr_expect_eq(rd(INT_STATUS), VIRTIO_MMIO_INT_VRING);
	cr_expect_eq(irqs(), 1);
	wr(INT_ACK, VIRTIO_MMIO_INT_VRING);
	cr_expect_eq(rd(INT_STATUS), 0);
}

Test(mmio, notify_respects_no_interrupt)
{
	bring_up(F_VERSION_1);
	irqs();
	((uint16_t *)(ram + AVAIL))[0] = VIRTQ_AVAIL_F_NO_INTERRUPT;
	post();
	wr(QUEUE_NOTIFY, 0);
	cr_expect_eq(used_idx(), 1);
	cr_expect_eq(rd(INT_STATUS), 0);
	cr_expect_eq(irqs(), 0);
}

Test(mmio, notify_of_a_missing_or_unready_queue_is_ignored)
{
	bring_up(F_VERSION_1);
	post();
	wr(QUEUE_NOTIFY, 1); /* exists, not ready */
	wr(QUEUE_NOTIFY, 2); /* does not exist */
	wr(QUEUE_NOTIFY, 0xffffffff);
	cr_expect_eq(dev.processed, 0);
	wr(QUEUE_NOTIFY, 0);
	cr_expect_eq(dev.processed, 1);
}

Test(mmio, buffers_queued_before_driver_ok_are_processed_at_driver_ok)
{
	cr_assert(negotiate(F_VERSION_1) & FOK);
	setup_queue(0, 16, DESC, AVAIL, USED);
	post();
	wr(QUEUE_NOTIFY, 0);
	cr_expect_eq(dev.processed, 0, "not live yet");
	wr(STATUS, ACK | DRV | FOK | DOK);
	cr_expect_eq(dev.processed, 1);
	cr_expect_eq(used_idx(), 1);
}

Test(mmio, malformed_avail_ring_sets_needs_reset)
{
	bring_up(F_VERSION_1);
	irqs();
	((uint16_t *)(ram + AVAIL))[1] = 17; /* 17 buffers in a 16-entry ring */
	wr(QUEUE_NOTIFY, 0);
	cr_expect(rd(STATUS) & NEEDS_RESET);
	cr_expect(rd(INT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	cr_expect_geq(irqs(), 1);
	((uint16_t *)(ram + AVAIL))[1] = 1;
	wr(QUEUE_NOTIFY, 0);
	cr_expect_eq(dev.processed, 0, "nothing processed until the driver resets");
}

Test(mmio, status_0_resets_everything)
{
	bring_up(F_VERSION_1 | F_EVENT_IDX);
	post();
	wr(QUEUE_NOTIFY, 0);
	cr_assert_neq(rd(INT_STATUS), 0);
	int resets = dev.resets;
	wr(STATUS, 0);
	cr_expect_eq(dev.resets, resets + 1, "the device is told");
	cr_expect_eq(rd(STATUS), 0);
	cr_expect_eq(rd(INT_STATUS), 0);
	cr_expect_eq(rd(QUEUE_READY), 0);
	cr_expect_eq(t->q[0].size, 0);
	cr_expect_eq(t->q[0].desc_gpa, 0);
	cr_expect_eq(t->drv_features, 0);
	cr_expect_eq(t->queue_sel, 0);
	/* And the device can be brought up again from scratch. */
	memset(ram, 0, BUF);
	bring_up(F_VERSION_1);
	cr_expect_eq(dev.activates, 2);
	cr_expect_eq(dev.acked, F_VERSION_1, "old features forgotten");
}

Test(mmio, config_space_goes_through_the_device)
{
	uint32_t v = 0;
	virtio_mmio_rw(t, CONFIG, (uint8_t *)&v, 4, false);
	cr_expect_eq(v, 0x13121110);
	uint8_t b = 0;
	virtio_mmio_rw(t, CONFIG + 5, &b, 1, false);
	cr_expect_eq(b, 0x15, "byte access at an odd offset");
	uint64_t q = 0;
	virtio_mmio_rw(t, CONFIG + 8, (uint8_t *)&q, 8, false);
	cr_expect_eq(q, 0x1f1e1d1c1b1a1918ULL, "8-byte access");
	uint8_t w[2] = { 0xab, 0xcd };
	virtio_mmio_rw(t, CONFIG + 6, w, 2, true);
	cr_expect_eq(dev.written_off, 6);
	cr_expect_eq(dev.written[0], 0xab);
	cr_expect_eq(dev.written[1], 0xcd);
}

Test(mmio, config_reads_are_zero_without_a_read_config)
{
	struct virtio_dev_ops ops = fake_ops;
	ops.read_config = NULL;
	ops.write_config = NULL;
	struct virtio_mmio *u = virtio_mmio_create(&ops, &dev, &mem, NULL, NULL, 0xc0002000, 6);
	cr_assert_not_null(u);
	uint32_t v = 0xffffffff;
	virtio_mmio_rw(u, CONFIG, (uint8_t *)&v, 4, false);
	cr_expect_eq(v, 0);
	virtio_mmio_rw(u, CONFIG, (uint8_t *)&v, 4, true); /* ignored */
	virtio_mmio_destroy(u);
}

Test(mmio, narrow_or_unaligned_register_accesses_are_ignored)
{
	uint8_t b[8];
	memset(b, 0xff, sizeof(b));
	virtio_mmio_rw(t, MAGIC, b, 2, false);
	cr_expect(b[0] == 0 && b[1] == 0, "2-byte read of MAGIC reads 0");
	memset(b, 0xff, sizeof(b));
	virtio_mmio_rw(t, MAGIC, b, 8, false);
	cr_expect(b[0] == 0 && b[7] == 0, "8-byte read reads 0");
	memset(b, 0xff, sizeof(b));
	virtio_mmio_rw(t, MAGIC + 1, b, 4, false);
	cr_expect(b[0] == 0 && b[3] == 0, "unaligned read reads 0");

	uint8_t s = ACK;
	virtio_mmio_rw(t, STATUS, &s, 1, true);
	cr_expect_eq(rd(STATUS), 0, "1-byte status write ignored");
	uint32_t v = 1;
	virtio_mmio_rw(t, QUEUE_SEL + 1, (uint8_t *)&v, 4, true);
	cr_expect_eq(t->queue_sel, 0, "unaligned write ignored");
	uint16_t h = 1;
	virtio_mmio_rw(t, QUEUE_SEL, (uint8_t *)&h, 2, true);
	cr_expect_eq(t->queue_sel, 0, "2-byte write ignored");
}

Test(mmio, write_only_and_reserved_registers_read_0)
{
	static const uint64_t regs[] = { QUEUE_NUM, QUEUE_NOTIFY, INT_ACK, DRV_FEATURES,
					 DESC_LO,   0x0f0,	  0x0c0 };
	bring_up(F_VERSION_1);
	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		cr_expect_eq(rd(regs[i]), 0, "register %#llx", (unsigned long long)regs[i]);
	wr(MAGIC, 0);
	wr(DEVICE_ID, 0);
	cr_expect_eq(rd(MAGIC), 0x74726976, "read-only registers ignore writes");
	cr_expect_eq(rd(DEVICE_ID), 42);
}

Test(mmio, config_change_bumps_the_generation_and_interrupts_when_live)
{
	uint32_t gen = rd(CONFIG_GEN);
	virtio_mmio_config_changed(t);
	cr_expect_eq(rd(CONFIG_GEN), gen + 1);
	cr_expect_eq(rd(INT_STATUS), 0, "no interrupt before DRIVER_OK");
	bring_up(F_VERSION_1);
	irqs();
	virtio_mmio_config_changed(t);
	cr_expect_eq(rd(CONFIG_GEN), gen + 2);
	cr_expect_eq(rd(INT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	cr_expect_eq(irqs(), 1);
}

Test(mmio, kick_processes_a_live_queue)
{
	bring_up(F_VERSION_1);
	post();
	virtio_mmio_kick(t, 0);
	cr_expect_eq(dev.processed, 1);
}

Test(mmio, blk_read_end_to_end)
{
	char path[] = "/tmp/mvm-mmio-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 8192), 0);
	cr_assert_eq(pwrite(fd, "sector one", 10, 512), 10);
	struct blk *b = blk_create("vda", path, false, false, false);
	cr_assert_not_null(b);
	struct virtio_mmio *u = virtio_mmio_create(&blk_ops, b, &mem, NULL, NULL, 0xc0003000, 7);
	cr_assert_not_null(u);
	struct virtio_mmio *orig = t;
	t = u;

	cr_expect_eq(rd(DEVICE_ID), VIRTIO_ID_BLOCK);
	uint32_t cap = 0;
	virtio_mmio_rw(u, CONFIG, (uint8_t *)&cap, 4, false);
	cr_expect_eq(cap, 16, "capacity in sectors");
	bring_up(F_VERSION_1 | F_EVENT_IDX);

	struct {
		uint32_t type, reserved;
		uint64_t sector;
	} hdr = { 0, 0, 1 };
	memcpy(ram + BUF, &hdr, sizeof(hdr));
	struct virtq_desc d[3] = {
		{ BUF, 16, VIRTQ_DESC_F_NEXT, 1 },
		{ BUF + 0x100, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2 },
		{ BUF + 0x400, 1, VIRTQ_DESC_F_WRITE, 0 },
	};
	memcpy(ram + DESC, d, sizeof(d));
	ram[BUF + 0x400] = 0xee;
	uint16_t *avail = (uint16_t *)(ram + AVAIL);
	avail[2] = 0;
	avail[1] = 1;
	wr(QUEUE_NOTIFY, 0);
	cr_expect_eq(used_idx(), 1);
	cr_expect_eq(ram[BUF + 0x400], 0, "VIRTIO_BLK_S_OK");
	cr_expect_eq(memcmp(ram + BUF + 0x100, "sector one", 10), 0);
	cr_expect_eq(rd(INT_STATUS), VIRTIO_MMIO_INT_VRING);
	cr_expect_eq(*(uint16_t *)(ram + USED + 4 + 8 * 16), 1, "avail_event written (EVENT_IDX)");

	t = orig;
	virtio_mmio_destroy(u);
	blk_destroy(b);
	close(fd);
	unlink(path);
}
