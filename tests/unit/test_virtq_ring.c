/*
 * virtio/virtq.c: the rings of the split virtqueue over a fake guest RAM: the
 * avail index a guest may move anywhere, the ring layout checked at
 * activation, the used ring, and when to interrupt or be kicked. Chains are
 * test_virtq.c.
 */
#include "virtq_util.h"

TestSuite(virtq_ring, .init = virtq_setup, .fini = virtq_teardown);

Test(virtq_ring, avail_index_too_far_ahead_breaks_the_queue)
{
	activate(16, false);
	*avail16(1) = 17;
	cr_expect_eq(virtq_pop(&q, &c), -EIO);
	cr_expect(q.broken);
	cr_expect_eq(virtq_pop(&q, &c), -EIO, "stays broken");
	cr_expect_not(virtq_has_avail(&q));
	cr_expect_not(virtq_enable_notify(&q), "a broken queue asks for no kicks");
}

Test(virtq_ring, avail_index_exactly_a_queue_ahead_is_fine)
{
	activate(16, false);
	for (uint16_t i = 0; i < 16; i++) {
		desc(i, BUF, 16, 0, 0);
		offer(i);
	}
	for (uint16_t i = 0; i < 16; i++) {
		cr_assert_eq(virtq_pop(&q, &c), 1);
		cr_expect_eq(c.head, i);
	}
	cr_expect_eq(virtq_pop(&q, &c), 0);
}

Test(virtq_ring, avail_index_behind_the_device_breaks_the_queue)
{
	activate(16, false);
	desc(0, BUF, 16, 0, 0);
	pop_one(0);
	*avail16(1) = 0; /* moved backwards: 0 - 1 = 65535 ahead */
	cr_expect_eq(virtq_pop(&q, &c), -EIO);
	cr_expect(q.broken);
}

Test(virtq_ring, head_index_out_of_range_breaks_the_queue)
{
	activate(16, false);
	offer(16);
	cr_expect_eq(virtq_pop(&q, &c), -EIO);
	cr_expect(q.broken);
}

Test(virtq_ring, activate_rejects_bad_layouts)
{
	static const struct {
		uint16_t size, max;
		uint64_t desc, avail, used;
		const char *what;
	} cases[] = {
		{ 0, 256, DESC, AVAIL, USED, "size 0" },
		{ 3, 256, DESC, AVAIL, USED, "size not a power of 2" },
		{ 384, 1024, DESC, AVAIL, USED, "size 384" },
		{ 512, 256, DESC, AVAIL, USED, "size above the device maximum" },
		{ 16, 256, DESC + 8, AVAIL, USED, "descriptor table not 16-aligned" },
		{ 16, 256, DESC, AVAIL + 1, USED, "avail ring odd" },
		{ 16, 256, DESC, AVAIL, USED + 2, "used ring not 4-aligned" },
		{ 16, 256, RAM_SIZE, AVAIL, USED, "descriptor table outside RAM" },
		{ 16, 256, RAM_SIZE - 128, AVAIL, USED, "descriptor table straddles the end" },
		{ 16, 256, DESC, RAM_SIZE - 36, USED,
		  "avail ring (with used_event) straddles the end" },
		{ 16, 256, DESC, AVAIL, RAM_SIZE - 132,
		  "used ring (with avail_event) straddles the end" },
		{ 16, 256, DESC, UINT64_MAX - 1, USED, "avail ring wraps" },
		{ 16, 256, 0xfffffffffffffff0ULL, AVAIL, USED, "descriptor table wraps" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		virtq_init(&q);
		q.size = cases[i].size;
		q.desc_gpa = cases[i].desc;
		q.avail_gpa = cases[i].avail;
		q.used_gpa = cases[i].used;
		cr_expect_eq(virtq_activate(&q, &mem, cases[i].max, false), -EINVAL,
			     "case %zu (%s)", i, cases[i].what);
		cr_expect_not(q.ready, "case %zu (%s)", i, cases[i].what);
		cr_expect_eq(virtq_pop(&q, &c), 0, "case %zu: an unready queue pops nothing", i);
	}
}

Test(virtq_ring, rings_ending_at_the_end_of_ram_are_accepted)
{
	/* Each ring in turn as close to the end as its size and alignment allow. */
	static const uint64_t at_end[3][3] = {
		{ RAM_SIZE - 256, AVAIL, USED },
		{ DESC, RAM_SIZE - 38, USED },
		{ DESC, AVAIL, RAM_SIZE - 136 },
	};
	for (int i = 0; i < 3; i++) {
		virtq_init(&q);
		q.size = 16;
		q.desc_gpa = at_end[i][0];
		q.avail_gpa = at_end[i][1];
		q.used_gpa = at_end[i][2];
		cr_expect_eq(virtq_activate(&q, &mem, 256, true), 0, "ring %d", i);
	}
}

Test(virtq_ring, push_publishes_element_then_index)
{
	activate(16, false);
	desc(9, BUF, 16, 0, 0);
	pop_one(9);
	virtq_push(&q, c.head, 1234);
	cr_expect_eq(*used16(1), 1);
	cr_expect_eq(used_elem(0)->id, 9);
	cr_expect_eq(used_elem(0)->len, 1234);
}

Test(virtq_ring, used_ring_wraps_over_65536_requests)
{
	activate(16, false);
	for (uint16_t i = 0; i < 16; i++)
		desc(i, BUF, 16, 0, 0);
	for (uint32_t n = 0; n < 70000; n++) {
		uint16_t head = (uint16_t)(n % 13); /* not in step with the ring */
		offer(head);
		int r = virtq_pop(&q, &c);
		if (r != 1 || c.head != head)
			cr_assert_fail("request %u: pop returned %d head %u", n, r, c.head);
		virtq_push(&q, head, n);
		struct virtq_used_elem *e = used_elem(n % 16);
		if (*used16(1) != (uint16_t)(n + 1) || e->id != head || e->len != n)
			cr_assert_fail("request %u: used idx %u elem {%u, %u}", n, *used16(1),
				       e->id, e->len);
	}
	cr_expect_eq(*used16(1), (uint16_t)70000);
	cr_expect_eq(q.last_avail, (uint16_t)70000);
	cr_expect_eq(virtq_pop(&q, &c), 0, "nothing left after the wrap");
}

Test(virtq_ring, no_interrupt_flag_without_event_idx)
{
	activate(16, false);
	desc(0, BUF, 16, 0, 0);
	pop_one(0);
	virtq_push(&q, 0, 0);
	cr_expect(virtq_should_notify(&q));
	*avail16(0) = VIRTQ_AVAIL_F_NO_INTERRUPT;
	pop_one(0);
	virtq_push(&q, 0, 0);
	cr_expect_not(virtq_should_notify(&q), "the driver asked for no interrupts");
}

Test(virtq_ring, event_idx_interrupts_only_when_used_event_is_crossed)
{
	activate(16, true);
	uint16_t *used_event = avail16(2 + 16);
	desc(0, BUF, 16, 0, 0);
	*avail16(0) = VIRTQ_AVAIL_F_NO_INTERRUPT; /* ignored with event idx */

	pop_one(0);
	virtq_push(&q, 0, 0); /* used idx 1 */
	cr_expect(virtq_should_notify(&q), "the first interrupt is always sent");

	*used_event = 1; /* interrupt when entry 1 is used */
	pop_one(0);
	virtq_push(&q, 0, 0); /* used idx 2 */
	cr_expect(virtq_should_notify(&q), "used idx moved past used_event");
	pop_one(0);
	virtq_push(&q, 0, 0); /* used idx 3 */
	cr_expect_not(virtq_should_notify(&q), "used_event already passed");

	*used_event = 5;
	for (int i = 0; i < 2; i++) {
		pop_one(0);
		virtq_push(&q, 0, 0); /* 4, 5 */
		cr_expect_not(virtq_should_notify(&q), "before used_event (%d)", i);
	}
	pop_one(0);
	virtq_push(&q, 0, 0);
	pop_one(0);
	virtq_push(&q, 0, 0); /* two pushes at once: 6 and 7 */
	cr_expect(virtq_should_notify(&q), "entry 5 was used in this batch");
}

Test(virtq_ring, enable_notify_writes_avail_event_and_reports_new_buffers)
{
	activate(16, true);
	uint16_t *avail_event = (uint16_t *)(ram + USED + 4 + 8 * 16);
	desc(0, BUF, 16, 0, 0);
	pop_one(0);
	pop_one(0);
	cr_expect_not(virtq_enable_notify(&q), "nothing pending");
	cr_expect_eq(*avail_event, 2, "kick me when avail idx passes 2");
	offer(0);
	cr_expect(virtq_enable_notify(&q), "a buffer arrived: poll again");
}

/* vring_need_event(): does a driver moving avail idx old -> new kick? */
static bool driver_kicks(uint16_t event, uint16_t new, uint16_t old)
{
	return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

/* virtio-net rx: a frame needs more buffers than there are, the ones popped go
 * back, the device waits for more. The driver's next buffer must kick it. */
Test(virtq_ring, enable_notify_after_unpop_asks_for_the_next_new_buffer)
{
	activate(16, true);
	uint16_t *avail_event = (uint16_t *)(ram + USED + 4 + 8 * 16);
	desc(0, BUF, 16, 0, 0);
	desc(1, BUF, 16, 0, 0);
	offer(0);
	offer(1);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(virtq_pop(&q, &c), 0, "not enough for the frame");
	virtq_unpop(&q, 2);
	cr_expect(virtq_enable_notify(&q), "the two given back are still there");
	cr_expect_eq(*avail_event, 2, "kick me when a third buffer comes");
	cr_expect(driver_kicks(*avail_event, 3, 2), "the driver adding buffer 3 kicks");
}

Test(virtq_ring, enable_notify_without_event_idx_clears_no_notify)
{
	activate(16, false);
	*used16(0) = VIRTQ_USED_F_NO_NOTIFY;
	cr_expect_not(virtq_enable_notify(&q));
	cr_expect_eq(*used16(0), 0);
}
