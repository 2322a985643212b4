/*
 * virtio/mmio.c: a live virtio-mmio device without KVM: queue notifications
 * and the interrupts they raise, broken rings, the config space and its
 * generation, kicks from the device side, and a real virtio-blk read end to
 * end. Bringing the device up is test_mmio.c.
 */
#include "../../virtio/blk/blk.h"
#include "mmio_util.h"

TestSuite(mmio_live, .init = mmio_setup, .fini = mmio_teardown);

Test(mmio_live, notify_processes_the_queue_and_interrupts)
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

Test(mmio_live, notify_respects_no_interrupt)
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

Test(mmio_live, notify_of_a_missing_or_unready_queue_is_ignored)
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

Test(mmio_live, buffers_queued_before_driver_ok_are_processed_at_driver_ok)
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

Test(mmio_live, malformed_avail_ring_sets_needs_reset)
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

Test(mmio_live, config_space_goes_through_the_device)
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

Test(mmio_live, config_reads_are_zero_without_a_read_config)
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

Test(mmio_live, config_change_bumps_the_generation_and_interrupts_when_live)
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

Test(mmio_live, kick_processes_a_live_queue)
{
	bring_up(F_VERSION_1);
	post();
	virtio_mmio_kick(t, 0);
	cr_expect_eq(dev.processed, 1);
}

Test(mmio_live, blk_read_end_to_end)
{
	char path[] = "/tmp/mvm-mmio-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 8192), 0);
	cr_assert_eq(pwrite(fd, "sector one", 10, 512), 10);
	struct blk *b = blk_create("vda", path, false, false, false, false, NULL);
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
