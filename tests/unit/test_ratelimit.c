/* virtio/ratelimit.c: token bucket arithmetic with the clock given by the test. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "../../virtio/ratelimit.h"

#define MS 1000000ULL
#define T0 (1000 * MS)

static struct token_bucket bucket(uint64_t size, uint64_t burst, uint64_t refill_ms)
{
	struct token_bucket b;
	struct bucket_cfg c = { size, burst, refill_ms, false, false };
	tb_init(&b, &c, T0);
	return b;
}

Test(ratelimit, starts_full_and_takes_until_empty)
{
	struct token_bucket b = bucket(1000, 0, 1000);
	cr_expect_eq(tb_reduce(&b, 600, T0), TB_OK);
	cr_expect_eq(tb_reduce(&b, 400, T0), TB_OK);
	cr_expect_eq(b.budget, 0);
	cr_expect_eq(tb_reduce(&b, 1, T0), TB_BLOCKED);
	cr_expect_eq(b.budget, 0, "a refused request takes nothing");
}

Test(ratelimit, refills_in_proportion_to_time)
{
	struct token_bucket b = bucket(1000, 0, 1000);
	tb_reduce(&b, 1000, T0);
	cr_expect_eq(tb_reduce(&b, 100, T0 + 99 * MS), TB_BLOCKED, "99 ms is 99 tokens");
	cr_expect_eq(tb_reduce(&b, 100, T0 + 100 * MS), TB_OK, "100 ms is 100 tokens");
	cr_expect_eq(b.budget, 0);
	tb_refill(&b, T0 + 10000 * MS);
	cr_expect_eq(b.budget, 1000, "never more than the bucket's size");
}

Test(ratelimit, fractional_tokens_are_not_lost)
{
	/* 3 tokens per 1000 ms: 333.33 ms each. Many small steps must add up exactly. */
	struct token_bucket b = bucket(3, 0, 1000);
	tb_reduce(&b, 3, T0);
	for (uint64_t t = 1; t <= 1000; t++)
		tb_refill(&b, T0 + t * MS);
	cr_expect_eq(b.budget, 3);
}

Test(ratelimit, one_time_burst_is_spent_first_and_never_refilled)
{
	struct token_bucket b = bucket(100, 500, 1000);
	cr_expect_eq(tb_reduce(&b, 450, T0), TB_OK);
	cr_expect_eq(b.one_time_burst, 50);
	cr_expect_eq(b.budget, 100, "the bucket is untouched while the burst lasts");
	cr_expect_eq(tb_reduce(&b, 120, T0), TB_OK, "50 of burst + 70 of budget");
	cr_expect_eq(b.one_time_burst, 0);
	cr_expect_eq(b.budget, 30);
	tb_refill(&b, T0 + 100000 * MS);
	cr_expect_eq(b.one_time_burst, 0);
	cr_expect_eq(b.budget, 100);
}

Test(ratelimit, a_refused_request_keeps_the_burst)
{
	struct token_bucket b = bucket(100, 10, 1000);
	tb_reduce(&b, 100, T0); /* 10 from the burst, 90 from the budget */
	cr_expect_eq(b.one_time_burst, 0);
	b = bucket(100, 10, 1000);
	tb_reduce(&b, 95, T0 + 0); /* burst 10 + 85 */
	cr_expect_eq(tb_reduce(&b, 50, T0), TB_BLOCKED);
	cr_expect_eq(b.budget, 15);
}

Test(ratelimit, larger_than_the_bucket_goes_once_then_pays)
{
	struct token_bucket b = bucket(1000, 0, 1000);
	cr_expect_eq(tb_reduce(&b, 3000, T0), TB_OVER);
	cr_expect_eq(b.budget, 0);
	/* 2000 tokens of debt: 2 s before anything refills. */
	cr_expect_eq(tb_wait_ns(&b, 1, T0), 2001 * MS);
	tb_refill(&b, T0 + 1999 * MS);
	cr_expect_eq(b.budget, 0);
	tb_refill(&b, T0 + 2500 * MS);
	cr_expect_eq(b.budget, 500);
}

Test(ratelimit, wait_time_is_exact)
{
	struct token_bucket b = bucket(1000, 0, 1000);
	tb_reduce(&b, 1000, T0);
	cr_expect_eq(tb_wait_ns(&b, 250, T0), 250 * MS);
	tb_refill(&b, T0 + 100 * MS);
	cr_expect_eq(tb_wait_ns(&b, 250, T0 + 100 * MS), 150 * MS);
	cr_expect_eq(tb_wait_ns(&b, 50, T0 + 100 * MS), 0);
}

Test(ratelimit, huge_values_do_not_overflow)
{
	struct token_bucket b = bucket(MVM_RL_MAX_SIZE, MVM_RL_MAX_SIZE, MVM_RL_MAX_REFILL);
	cr_expect_eq(tb_reduce(&b, MVM_RL_MAX_SIZE, T0), TB_OK);
	cr_expect_eq(tb_reduce(&b, MVM_RL_MAX_SIZE, T0), TB_OK);
	cr_expect_eq(tb_reduce(&b, 1, T0), TB_BLOCKED);
	/* A whole day later, from a clock near its end: full again, no wrap. */
	tb_refill(&b, UINT64_MAX - 5);
	cr_expect_eq(b.budget, MVM_RL_MAX_SIZE);
	cr_expect_eq(tb_reduce(&b, UINT64_MAX, UINT64_MAX - 5), TB_OVER);
	cr_expect_eq(b.last_ns, UINT64_MAX, "the debt saturates instead of wrapping");
	cr_expect_eq(tb_wait_ns(&b, 1, 0), UINT64_MAX);
}

Test(ratelimit, time_going_backwards_changes_nothing)
{
	struct token_bucket b = bucket(100, 0, 100);
	tb_reduce(&b, 100, T0);
	tb_refill(&b, T0 - 50 * MS);
	cr_expect_eq(b.budget, 0);
	cr_expect_eq(b.last_ns, T0);
}

Test(ratelimit, no_bucket_lets_everything_through)
{
	struct token_bucket b = bucket(0, 0, 0);
	cr_expect_eq(tb_reduce(&b, UINT64_MAX, T0), TB_OK);
	cr_expect_eq(tb_wait_ns(&b, UINT64_MAX, T0), 0);
	struct rate_limiter rl;
	rl_init(&rl, NULL);
	cr_expect_not(rl_active(&rl));
	cr_expect(rl_consume(&rl, 1ULL << 60));
}

Test(ratelimit, limiter_checks_ops_and_bytes_together)
{
	struct rate_limiter_cfg c = { { 1000, 0, 1000, false, false },
				      { 2, 0, 1000, false, false } };
	struct rate_limiter rl;
	rl_init(&rl, &c);
	uint64_t now = rl.bw.last_ns;
	cr_expect(rl_consume_at(&rl, 400, now));
	cr_expect(rl_consume_at(&rl, 400, now));
	cr_expect_not(rl_consume_at(&rl, 1, now), "two ops per second");
	cr_expect(rl_blocked(&rl));
	cr_expect_eq(rl.throttled, 1);
	cr_expect_not(rl_consume_at(&rl, 1, now + 2000 * MS), "blocked until the timer");
	rl_unblock(&rl);
	cr_expect(rl_consume_at(&rl, 1, now + 2000 * MS));
	rl_fini(&rl);
}

Test(ratelimit, bytes_refused_give_the_op_back)
{
	struct rate_limiter_cfg c = { { 100, 0, 1000, false, false },
				      { 10, 0, 1000, false, false } };
	struct rate_limiter rl;
	rl_init(&rl, &c);
	uint64_t now = rl.bw.last_ns;
	cr_expect(rl_consume_at(&rl, 100, now));
	cr_expect_not(rl_consume_at(&rl, 1, now));
	cr_expect_eq(rl.ops.budget, 9, "the refused request's op was given back");
}

Test(ratelimit, update_replaces_only_the_named_bucket)
{
	struct rate_limiter_cfg c = { { 100, 0, 1000, false, false },
				      { 10, 0, 1000, false, false } };
	struct rate_limiter_cfg n = { { 5000, 7, 20, false, false }, { 0, 0, 0, false, false } };
	struct rate_limiter rl, out;
	struct rate_limiter_cfg got;
	rl_init(&rl, &c);
	rl_update(&rl, &n, RL_BANDWIDTH);
	rl_get_cfg(&rl, &got);
	cr_expect_eq(got.bandwidth.size, 5000);
	cr_expect_eq(got.bandwidth.one_time_burst, 7);
	cr_expect_eq(got.bandwidth.refill_time_ms, 20);
	cr_expect_eq(got.ops.size, 10, "ops untouched");
	rl_update(&rl, &n, RL_OPS);
	rl_get_cfg(&rl, &got);
	cr_expect_eq(got.ops.size, 0, "a null bucket removes it");
	out = rl;
	cr_expect(rl_active(&out));
}
