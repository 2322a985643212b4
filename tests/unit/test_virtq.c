/*
 * virtio/virtq.c: popping chains from the split virtqueue over a fake guest
 * RAM. A guest controls every byte of the rings, so most of these are hostile
 * inputs: the monitor must answer each one with an error code, never with an
 * access outside RAM. The rings themselves (indices, layout, used ring,
 * notifications) are test_virtq_ring.c.
 */
#include "virtq_util.h"

TestSuite(virtq, .init = virtq_setup, .fini = virtq_teardown);

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
