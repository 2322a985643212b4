/*
 * virtio/mmio.c: the virtio-mmio register interface without KVM, as a driver
 * brings a device up: identification, feature negotiation, queue setup,
 * status and activation, reset, and which register accesses count. A live
 * device (notifications, interrupts, config space) is test_mmio_live.c.
 */
#include "mmio_util.h"

TestSuite(mmio, .init = mmio_setup, .fini = mmio_teardown);

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
