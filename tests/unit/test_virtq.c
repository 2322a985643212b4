/*
 * virtio/virtq.c: the split virtqueue over a fake guest RAM. A guest controls
 * every byte of the rings, so most of these are hostile inputs: the monitor
 * must answer each one with an error code, never with an access outside RAM.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../virtio/virtq.h"

#define RAM_SIZE 0x40000 /* 256 KiB, heap allocated so ASan sees any overrun */
#define DESC	 0x0000
#define AVAIL	 0x8000
#define USED	 0xa000
#define BUF	 0x10000
#define ITAB	 0x20000 /* indirect tables */

static uint8_t *ram;
static struct guest_mem mem;
static struct virtq q;
static struct virtq_chain c; /* ~16 KiB: not on the stack */

static void setup(void)
{
	ram = calloc(1, RAM_SIZE);
	cr_assert_not_null(ram);
	mem = (struct guest_mem){ .nr = 1, .size = RAM_SIZE, .fd = -1 };
	mem.r[0] = (struct guest_region){ .gpa = 0, .size = RAM_SIZE, .hva = ram };
	virtq_init(&q);
}

static void teardown(void)
{
	free(ram);
}

TestSuite(virtq, .init = setup, .fini = teardown);

static void activate(uint16_t size, bool event_idx)
{
	q.size = size;
	q.desc_gpa = DESC;
	q.avail_gpa = AVAIL;
	q.used_gpa = USED;
	cr_assert_eq(virtq_activate(&q, &mem, 32768, event_idx), 0);
}

static void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { addr, len, flags, next };
	memcpy(ram + DESC + 16 * i, &d, sizeof(d));
}

static void idesc(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		  uint16_t next)
{
	struct virtq_desc d = { addr, len, flags, next };
	memcpy(ram + table + 16 * i, &d, sizeof(d));
}

static uint16_t *avail16(unsigned i)
{
	return (uint16_t *)(ram + AVAIL) + i;
}

static uint16_t *used16(unsigned i)
{
	return (uint16_t *)(ram + USED) + i;
}

static struct virtq_used_elem *used_elem(unsigned i)
{
	return (struct virtq_used_elem *)(ram + USED + 4) + i;
}

/* Driver side: make `head` available. */
static void offer(uint16_t head)
{
	*avail16(2 + *avail16(1) % q.size) = head;
	(*avail16(1))++;
}

/* Offer `head` and pop it: the chain must come back. */
static void pop_one(uint16_t head)
{
	offer(head);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(c.head, head);
}

Test(virtq, pops_a_chain_of_readable_then_writable_buffers)
{
	activate(16, false);
	desc(3, BUF, 16, VIRTQ_DESC_F_NEXT, 7);
	desc(7, BUF + 0x100, 100, VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF + 0x200, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	desc(2, BUF + 0x400, 1, VIRTQ_DESC_F_WRITE, 0);
	pop_one(3);
	cr_expect_eq(c.err, VIRTQ_OK);
	cr_assert_eq(c.nr, 4);
	cr_expect_eq(c.out_len, 116);
	cr_expect_eq(c.in_len, 513);
	cr_expect_eq(c.buf[0].hva, ram + BUF);
	cr_expect_eq(c.buf[1].hva, ram + BUF + 0x100);
	cr_expect_eq(c.buf[1].len, 100);
	cr_expect_not(c.buf[1].write);
	cr_expect_eq(c.buf[2].hva, ram + BUF + 0x200);
	cr_expect(c.buf[2].write);
	cr_expect_eq(c.status, ram + BUF + 0x400, "status: last byte of the last writable buffer");
	cr_expect_eq(virtq_pop(&q, &c), 0, "nothing more");
}

Test(virtq, status_is_the_last_byte_of_a_longer_last_buffer)
{
	activate(16, false);
	desc(0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF + 0x100, 513, VIRTQ_DESC_F_WRITE, 0);
	pop_one(0);
	cr_expect_eq(c.status, ram + BUF + 0x100 + 512);
}

Test(virtq, readable_only_chain_has_no_status)
{
	activate(16, false);
	desc(0, BUF, 64, 0, 0);
	pop_one(0);
	cr_expect_eq(c.err, VIRTQ_OK);
	cr_expect_eq(c.nr, 1);
	cr_expect_null(c.status);
}

Test(virtq, empty_and_unready_queues_pop_nothing)
{
	cr_expect_eq(virtq_pop(&q, &c), 0, "not ready");
	cr_expect_not(virtq_has_avail(&q));
	activate(16, false);
	cr_expect_eq(virtq_pop(&q, &c), 0);
	cr_expect_not(virtq_has_avail(&q));
	offer(0);
	cr_expect(virtq_has_avail(&q));
}

Test(virtq, indirect_table_is_walked)
{
	activate(16, false);
	idesc(ITAB, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 2);
	idesc(ITAB, 2, BUF + 0x100, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	idesc(ITAB, 1, BUF + 0x400, 1, VIRTQ_DESC_F_WRITE, 0);
	desc(5, ITAB, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	pop_one(5);
	cr_expect_eq(c.err, VIRTQ_OK);
	cr_assert_eq(c.nr, 3);
	cr_expect_eq(c.buf[1].hva, ram + BUF + 0x100);
	cr_expect_eq(c.out_len, 16);
	cr_expect_eq(c.in_len, 513);
	cr_expect_eq(c.status, ram + BUF + 0x400);
}

Test(virtq, indirect_table_after_direct_descriptors)
{
	activate(16, false);
	desc(0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, ITAB, 16, VIRTQ_DESC_F_INDIRECT, 0);
	idesc(ITAB, 0, BUF + 0x100, 8, VIRTQ_DESC_F_WRITE, 0);
	pop_one(0);
	cr_expect_eq(c.err, VIRTQ_OK);
	cr_expect_eq(c.nr, 2);
	cr_expect_eq(c.status, ram + BUF + 0x107);
}

Test(virtq, chain_as_long_as_the_queue_is_accepted)
{
	activate(16, false);
	for (uint16_t i = 0; i < 16; i++)
		desc(i, BUF + 0x10 * i, 16, i < 15 ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	pop_one(0);
	cr_expect_eq(c.err, VIRTQ_OK);
	cr_expect_eq(c.nr, 16);
}

Test(virtq, rejects_descriptor_self_loop)
{
	activate(16, false);
	desc(4, BUF, 1, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 4);
	pop_one(4);
	cr_expect_eq(c.err, VIRTQ_ERR_LOOP);
	cr_expect_null(c.status, "no status for a chain without an end");
}

Test(virtq, rejects_descriptor_loop)
{
	activate(16, false);
	desc(0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF, 16, VIRTQ_DESC_F_NEXT, 2);
	desc(2, BUF, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1); /* 1 -> 2 -> 1 */
	pop_one(0);
	cr_expect_eq(c.err, VIRTQ_ERR_LOOP);
	cr_expect_null(c.status);
	cr_expect_leq(c.nr, 16, "bounded by the queue size");
}

Test(virtq, rejects_next_index_out_of_range)
{
	activate(16, false);
	desc(0, BUF, 16, VIRTQ_DESC_F_NEXT, 16);
	pop_one(0);
	cr_expect_eq(c.err, VIRTQ_ERR_INDEX);
	desc(1, BUF, 16, VIRTQ_DESC_F_NEXT, 0xffff);
	pop_one(1);
	cr_expect_eq(c.err, VIRTQ_ERR_INDEX);
	cr_expect_null(c.status);
}

Test(virtq, buffer_outside_ram_keeps_a_reachable_status)
{
	activate(16, false);
	desc(0, RAM_SIZE, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF, 1, VIRTQ_DESC_F_WRITE, 0);
	pop_one(0);
	cr_expect_eq(c.err, VIRTQ_ERR_ADDR);
	cr_expect_eq(c.status, ram + BUF, "the device can still fail the request");
}

Test(virtq, rejects_buffers_outside_or_wrapping)
{
	static const struct {
		uint64_t addr;
		uint32_t len;
		const char *what;
	} cases[] = {
		{ RAM_SIZE, 1, "just past RAM" },
		{ RAM_SIZE - 8, 16, "straddles the end of RAM" },
		{ UINT64_MAX - 10, 100, "wraps around" },
		{ UINT64_MAX, 1, "top byte" },
		{ 0xc0000000, 16, "MMIO gap" },
		{ 0, 0xffffffff, "4 GiB long" },
	};
	activate(16, false);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		desc(0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
		desc(1, cases[i].addr, cases[i].len, VIRTQ_DESC_F_WRITE, 0);
		pop_one(0);
		cr_expect_eq(c.err, VIRTQ_ERR_ADDR, "case %zu (%s)", i, cases[i].what);
		cr_expect_null(c.status, "case %zu (%s): the bad buffer cannot hold a status", i,
			       cases[i].what);
	}
}

Test(virtq, zero_length_last_buffer_has_no_status)
{
	activate(16, false);
	desc(0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF + 0x100, 0, VIRTQ_DESC_F_WRITE, 0);
	pop_one(0);
	cr_expect_null(c.status, "no byte to write the status into");
}

Test(virtq, rejects_readable_after_writable)
{
	activate(16, false);
	desc(0, BUF, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	desc(1, BUF + 0x100, 16, VIRTQ_DESC_F_NEXT, 2);
	desc(2, BUF + 0x200, 1, VIRTQ_DESC_F_WRITE, 0);
	pop_one(0);
	cr_expect_eq(c.err, VIRTQ_ERR_ORDER);
	cr_expect_eq(c.status, ram + BUF + 0x200, "structure still followed to the end");
}

static void indirect_case(uint64_t addr, uint32_t len, uint16_t flags, enum virtq_chain_err want,
			  const char *what)
{
	desc(0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, addr, len, VIRTQ_DESC_F_INDIRECT | flags, 2);
	desc(2, BUF + 0x100, 1, VIRTQ_DESC_F_WRITE, 0);
	pop_one(0);
	cr_expect_eq(c.err, want, "%s: got %d (%s)", what, c.err, virtq_err_str(c.err));
}

Test(virtq, rejects_malformed_indirect_tables)
{
	activate(16, false);
	idesc(ITAB, 0, BUF, 16, 0, 0);
	indirect_case(RAM_SIZE - 16, 32, 0, VIRTQ_ERR_INDIRECT, "table straddles the end of RAM");
	indirect_case(UINT64_MAX - 15, 32, 0, VIRTQ_ERR_INDIRECT, "table wraps");
	indirect_case(ITAB, 0, 0, VIRTQ_ERR_INDIRECT, "zero length");
	indirect_case(ITAB, 24, 0, VIRTQ_ERR_INDIRECT, "length not a multiple of 16");
	indirect_case(ITAB, 16, VIRTQ_DESC_F_NEXT, VIRTQ_ERR_INDIRECT, "INDIRECT with NEXT");
}

Test(virtq, rejects_nested_indirect_tables)
{
	activate(16, false);
	idesc(ITAB, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	idesc(ITAB, 1, ITAB + 0x100, 16, VIRTQ_DESC_F_INDIRECT, 0);
	idesc(ITAB + 0x100, 0, BUF, 1, VIRTQ_DESC_F_WRITE, 0);
	desc(0, ITAB, 32, VIRTQ_DESC_F_INDIRECT, 0);
	pop_one(0);
	cr_expect_eq(c.err, VIRTQ_ERR_INDIRECT);
	cr_expect_null(c.status);
}

Test(virtq, rejects_loops_and_bad_indices_inside_an_indirect_table)
{
	activate(16, false);
	idesc(ITAB, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	idesc(ITAB, 1, BUF, 1, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 0);
	desc(0, ITAB, 32, VIRTQ_DESC_F_INDIRECT, 0);
	pop_one(0);
	cr_expect_eq(c.err, VIRTQ_ERR_LOOP);
	cr_expect_null(c.status);

	idesc(ITAB, 1, BUF, 1, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2); /* table has 2 */
	pop_one(0);
	cr_expect_eq(c.err, VIRTQ_ERR_INDEX);
	cr_expect_null(c.status);
}

Test(virtq, rejects_chains_longer_than_the_chain_limit)
{
	/* An indirect table of VIRTQ_MAX_CHAIN + 1 entries. */
	activate(16, false);
	cr_assert_leq(ITAB + 16 * (VIRTQ_MAX_CHAIN + 1), RAM_SIZE);
	indirect_case(ITAB, 16 * (VIRTQ_MAX_CHAIN + 1), 0, VIRTQ_ERR_TOOLONG, "oversized table");

	/* A direct chain of VIRTQ_MAX_CHAIN + 1 descriptors in a 2048-entry queue. */
	virtq_init(&q);
	memset(ram, 0, BUF);
	activate(2048, false);
	for (uint16_t i = 0; i <= VIRTQ_MAX_CHAIN; i++)
		desc(i, BUF, 16, i < VIRTQ_MAX_CHAIN ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	pop_one(0);
	cr_expect_eq(c.err, VIRTQ_ERR_TOOLONG);
	cr_expect_eq(c.nr, VIRTQ_MAX_CHAIN, "never more buffers than the array holds");
}

Test(virtq, indirect_table_of_the_maximum_size_is_accepted)
{
	activate(16, false);
	for (uint16_t i = 0; i < VIRTQ_MAX_CHAIN; i++)
		idesc(ITAB, i, BUF, 512,
		      (i < VIRTQ_MAX_CHAIN - 1 ? VIRTQ_DESC_F_NEXT : 0) | VIRTQ_DESC_F_WRITE,
		      (uint16_t)(i + 1));
	desc(0, ITAB, 16 * VIRTQ_MAX_CHAIN, VIRTQ_DESC_F_INDIRECT, 0);
	pop_one(0);
	cr_expect_eq(c.err, VIRTQ_OK);
	cr_expect_eq(c.nr, VIRTQ_MAX_CHAIN);
	cr_expect_eq(c.in_len, 512ULL * VIRTQ_MAX_CHAIN);
}

Test(virtq, avail_index_too_far_ahead_breaks_the_queue)
{
	activate(16, false);
	*avail16(1) = 17;
	cr_expect_eq(virtq_pop(&q, &c), -EIO);
	cr_expect(q.broken);
	cr_expect_eq(virtq_pop(&q, &c), -EIO, "stays broken");
	cr_expect_not(virtq_has_avail(&q));
	cr_expect_not(virtq_enable_notify(&q), "a broken queue asks for no kicks");
}

Test(virtq, avail_index_exactly_a_queue_ahead_is_fine)
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

Test(virtq, avail_index_behind_the_device_breaks_the_queue)
{
	activate(16, false);
	desc(0, BUF, 16, 0, 0);
	pop_one(0);
	*avail16(1) = 0; /* moved backwards: 0 - 1 = 65535 ahead */
	cr_expect_eq(virtq_pop(&q, &c), -EIO);
	cr_expect(q.broken);
}

Test(virtq, head_index_out_of_range_breaks_the_queue)
{
	activate(16, false);
	offer(16);
	cr_expect_eq(virtq_pop(&q, &c), -EIO);
	cr_expect(q.broken);
}

Test(virtq, activate_rejects_bad_layouts)
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

Test(virtq, rings_ending_at_the_end_of_ram_are_accepted)
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

Test(virtq, push_publishes_element_then_index)
{
	activate(16, false);
	desc(9, BUF, 16, 0, 0);
	pop_one(9);
	virtq_push(&q, c.head, 1234);
	cr_expect_eq(*used16(1), 1);
	cr_expect_eq(used_elem(0)->id, 9);
	cr_expect_eq(used_elem(0)->len, 1234);
}

Test(virtq, used_ring_wraps_over_65536_requests)
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

Test(virtq, no_interrupt_flag_without_event_idx)
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

Test(virtq, event_idx_interrupts_only_when_used_event_is_crossed)
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

Test(virtq, enable_notify_writes_avail_event_and_reports_new_buffers)
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

Test(virtq, enable_notify_without_event_idx_clears_no_notify)
{
	activate(16, false);
	*used16(0) = VIRTQ_USED_F_NO_NOTIFY;
	cr_expect_not(virtq_enable_notify(&q));
	cr_expect_eq(*used16(0), 0);
}

Test(virtq, error_strings_exist_for_every_code)
{
	const char *seen[VIRTQ_ERR_TOOLONG + 1];
	for (int e = VIRTQ_OK; e <= VIRTQ_ERR_TOOLONG; e++) {
		seen[e] = virtq_err_str((enum virtq_chain_err)e);
		cr_assert_not_null(seen[e]);
		cr_expect_neq(strcmp(seen[e], "?"), 0, "code %d has a message", e);
		for (int k = 0; k < e; k++)
			cr_expect_neq(strcmp(seen[e], seen[k]), 0,
				      "codes %d and %d share a message", k, e);
	}
	cr_expect_str_eq(virtq_err_str((enum virtq_chain_err)99), "?");
}

/* xorshift64: reproducible garbage. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t rnd_addr(void)
{
	switch (rnd() % 8) {
	case 0: return UINT64_MAX - rnd() % 64;	 /* wraps */
	case 1: return RAM_SIZE - rnd() % 64;	 /* near the end */
	case 2: return ITAB + (rnd() % 64) * 16; /* somewhere in the indirect area */
	default: return rnd() % RAM_SIZE;
	}
}

static bool in_ram(const uint8_t *p, uint64_t len)
{
	return p >= ram && p <= ram + RAM_SIZE && len <= (uint64_t)(ram + RAM_SIZE - p);
}

Test(virtq, random_rings_never_escape_guest_ram)
{
	activate(16, true);
	long chains = 0, errors = 0;
	for (int round = 0; round < 3000; round++) {
		/* Random descriptor table and random indirect area. */
		for (uint16_t i = 0; i < 16; i++) {
			uint32_t len = rnd() % 4 ? (uint32_t)(rnd() % 2048) : (uint32_t)rnd();
			desc(i, rnd_addr(), len, (uint16_t)(rnd() % 8), (uint16_t)(rnd() % 20));
		}
		for (int i = 0; i < 64; i++)
			idesc(ITAB, (uint16_t)i, rnd_addr(),
			      (uint32_t)(rnd() % 1024) * (rnd() % 2 ? 16 : 1),
			      (uint16_t)(rnd() % 8), (uint16_t)(rnd() % 70));
		for (int i = 0; i < 18; i++)
			*avail16((unsigned)i) = (uint16_t)(rnd() % 18);
		*avail16(1) = (uint16_t)(q.last_avail + rnd() % 20);
		int r;
		while ((r = virtq_pop(&q, &c)) == 1) {
			chains++;
			errors += c.err != VIRTQ_OK;
			cr_assert_leq(c.nr, VIRTQ_MAX_CHAIN);
			uint64_t in = 0, out = 0;
			for (int b = 0; b < c.nr; b++) {
				cr_assert(in_ram(c.buf[b].hva, c.buf[b].len),
					  "round %d buf %d outside RAM", round, b);
				if (c.buf[b].write)
					in += c.buf[b].len;
				else
					out += c.buf[b].len;
			}
			cr_assert_eq(in, c.in_len);
			cr_assert_eq(out, c.out_len);
			if (c.status)
				cr_assert(in_ram(c.status, 1), "round %d: status outside RAM",
					  round);
			virtq_push(&q, c.head, 0);
			virtq_should_notify(&q);
		}
		if (r < 0) {
			cr_assert(q.broken);
			virtq_init(&q);
			memset(ram + AVAIL, 0, 0x100);
			memset(ram + USED, 0, 0x100);
			activate(16, true);
		}
	}
	cr_expect_gt(chains, 1000, "the garbage produced chains (%ld)", chains);
	cr_expect_gt(errors, 100, "and bad ones among them (%ld)", errors);
	cr_expect_lt(errors, chains, "and good ones");
}
