/*
 * virtio/ratelimit_cfg.c: the rate_limiter object of drives, entropy and
 * network interfaces, parsed, shown, merged and saved the same way wherever
 * it appears.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../../lib/json.h"
#include "../../lib/strbuf.h"
#include "../../lib/wire.h"
#include "../../virtio/ratelimit.h"

/* Parse `text` as the rate limiter `field` (the value of a member, as it always is). */
static int parse(const char *text, const char *field, struct rate_limiter_cfg *out, unsigned *which,
		 struct err *e)
{
	char doc[512];
	struct json j;
	snprintf(doc, sizeof(doc), "{\"v\": %s}", text);
	int r = json_parse(&j, doc, strlen(doc), e);
	cr_assert_eq(r, 0, "%s: %s", text, e->msg);
	r = rl_cfg_parse(&j, 2, field, out, which, e);
	json_free(&j);
	return r;
}

Test(ratelimit_cfg, parses_both_buckets)
{
	struct rate_limiter_cfg rl;
	struct err e = { 0 };
	unsigned which = 0;
	cr_assert_eq(parse("{\"bandwidth\": {\"size\": 1000, \"one_time_burst\": 50, "
			   "\"refill_time\": 100}, \"ops\": {\"size\": 10, \"refill_time\": 1000, "
			   "\"one_time_burst\": null}}",
			   "rate_limiter", &rl, &which, &e),
		     0, "%s", e.msg);
	cr_expect_eq(which, RL_BANDWIDTH | RL_OPS);
	cr_expect_eq(rl.bandwidth.size, 1000);
	cr_expect_eq(rl.bandwidth.one_time_burst, 50);
	cr_expect_eq(rl.bandwidth.refill_time_ms, 100);
	cr_expect_eq(rl.ops.size, 10);
	cr_expect_eq(rl.ops.one_time_burst, 0, "null: no burst");
	cr_expect_eq(rl.ops.refill_time_ms, 1000);
}

Test(ratelimit_cfg, which_says_what_the_object_carried)
{
	static const struct {
		const char *text;
		unsigned which;
		bool bw, ops; /* a bucket is set */
	} cases[] = {
		{ "null", RL_BANDWIDTH | RL_OPS, false, false },
		{ "{}", 0, false, false },
		{ "{\"bandwidth\": null}", RL_BANDWIDTH, false, false },
		{ "{\"ops\": {\"size\": 1, \"refill_time\": 1}}", RL_OPS, false, true },
		{ "{\"bandwidth\": {\"size\": 1, \"refill_time\": 1}, \"ops\": null}",
		  RL_BANDWIDTH | RL_OPS, true, false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rate_limiter_cfg rl;
		struct err e = { 0 };
		unsigned which = 99;
		memset(&rl, 0xff, sizeof(rl));
		cr_assert_eq(parse(cases[i].text, "rate_limiter", &rl, &which, &e), 0, "%s: %s",
			     cases[i].text, e.msg);
		cr_expect_eq(which, cases[i].which, "%s: which %#x", cases[i].text, which);
		cr_expect_eq(rl.bandwidth.size != 0, cases[i].bw, "%s", cases[i].text);
		cr_expect_eq(rl.ops.size != 0, cases[i].ops, "%s", cases[i].text);
	}
}

Test(ratelimit_cfg, bad_objects_name_the_field_they_are_in)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "{\"bandwidth\": {\"size\": 9007199254740993, \"refill_time\": 1}}",
		  "'tx_rate_limiter.bandwidth.size'" },
		{ "{\"ops\": {\"size\": 1, \"refill_time\": 86400001}}",
		  "'tx_rate_limiter.ops.refill_time'" },
		{ "{\"ops\": {\"size\": 1, \"refill_time\": 1, \"one_time_burst\": -1}}",
		  "'tx_rate_limiter.ops.one_time_burst'" },
		{ "{\"ops\": {\"size\": 1, \"refill_time\": 1, \"one_time_burst\": "
		  "9007199254740993}}",
		  "'tx_rate_limiter.ops.one_time_burst'" },
		{ "{\"ops\": {\"refill_time\": 1}}",
		  "'tx_rate_limiter.ops' needs both 'size' and" },
		{ "{\"ops\": {\"size\": 1}}", "'tx_rate_limiter.ops' needs both" },
		{ "{\"ops\": {\"size\": 1, \"refill_time\": 1, \"burst\": 1}}",
		  "unknown field `burst` at line 1 column 51 (in tx_rate_limiter.ops)" },
		{ "{\"iops\": {}}",
		  "unknown field `iops` at line 1 column 13 (in tx_rate_limiter)" },
		{ "{\"ops\": []}", "tx_rate_limiter.ops must be a JSON object" },
		{ "[]", "tx_rate_limiter must be a JSON object" },
		{ "5", "tx_rate_limiter must be a JSON object" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rate_limiter_cfg rl = { { 7, 7, 7, false, false },
					       { 7, 7, 7, false, false } };
		struct err e = { 0 };
		unsigned which = 0;
		cr_expect_eq(parse(bad[i].text, "tx_rate_limiter", &rl, &which, &e), -EINVAL,
			     "case %zu accepted: %s", i, bad[i].text);
		cr_expect(strstr(e.msg, bad[i].msg), "case %zu: '%s' lacks '%s'", i, e.msg,
			  bad[i].msg);
		cr_expect_eq(rl.bandwidth.size, 7, "case %zu: a refused object changes nothing", i);
		cr_expect_eq(rl.ops.size, 7, "case %zu: a refused object changes nothing", i);
	}
}

Test(ratelimit_cfg, the_limits_are_accepted)
{
	struct rate_limiter_cfg rl;
	struct err e = { 0 };
	unsigned which;
	cr_assert_eq(parse("{\"bandwidth\": {\"size\": 9007199254740992, \"one_time_burst\": "
			   "9007199254740992, \"refill_time\": 86400000}}",
			   "rate_limiter", &rl, &which, &e),
		     0, "%s", e.msg);
	cr_expect_eq(rl.bandwidth.size, MVM_RL_MAX_SIZE);
	cr_expect_eq(rl.bandwidth.one_time_burst, MVM_RL_MAX_SIZE);
	cr_expect_eq(rl.bandwidth.refill_time_ms, MVM_RL_MAX_REFILL);
}

static bool bucket_eq(const struct bucket_cfg *a, const struct bucket_cfg *b)
{
	return a->size == b->size && a->one_time_burst == b->one_time_burst &&
	       a->refill_time_ms == b->refill_time_ms && a->set == b->set &&
	       a->burst_set == b->burst_set;
}

static bool rl_eq(const struct rate_limiter_cfg *a, const struct rate_limiter_cfg *b)
{
	return bucket_eq(&a->bandwidth, &b->bandwidth) && bucket_eq(&a->ops, &b->ops);
}

static char *describe(const struct rate_limiter_cfg *rl, struct strbuf *b)
{
	strbuf_init(b);
	rl_cfg_describe(rl, b);
	cr_assert_not(b->oom);
	return b->s;
}

Test(ratelimit_cfg, describe_shows_null_without_buckets_and_round_trips)
{
	struct strbuf b;
	struct rate_limiter_cfg none = { { 0 }, { 0 } };
	cr_expect_str_eq(describe(&none, &b), "null");
	strbuf_fini(&b);

	const struct rate_limiter_cfg cases[] = {
		{ { 1000, 50, 100, true, true }, { 0 } },
		{ { 0 }, { 10, 0, 1000, true, false } },
		{ { MVM_RL_MAX_SIZE, MVM_RL_MAX_SIZE, MVM_RL_MAX_REFILL, true, true },
		  { 1, 0, 1, true, true } },
		{ { 0, 0, 0, true, false }, { 0, 0, 5, true, true } }, /* zeros: no limit */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rate_limiter_cfg back;
		struct err e = { 0 };
		unsigned which;
		char *text = describe(&cases[i], &b);
		cr_assert_eq(parse(text, "rate_limiter", &back, &which, &e), 0, "%s: %s", text,
			     e.msg);
		cr_expect_eq(which, RL_BANDWIDTH | RL_OPS, "both shown, null or not: %s", text);
		cr_expect(rl_eq(&back, &cases[i]), "%s", text);
		strbuf_fini(&b);
	}
	cr_expect_str_eq(
	    describe(&cases[0], &b),
	    "{\"bandwidth\": {\"size\": 1000, \"one_time_burst\": 50, \"refill_time\": "
	    "100}, \"ops\": null}");
	strbuf_fini(&b);
}

Test(ratelimit_cfg, merge_copies_only_the_named_buckets)
{
	const struct rate_limiter_cfg src = { { 1, 2, 3, false, false },
					      { 4, 5, 6, false, false } };
	const struct rate_limiter_cfg old = { { 7, 8, 9, false, false },
					      { 10, 11, 12, false, false } };
	struct rate_limiter_cfg dst = old;
	rl_cfg_merge(&dst, &src, 0);
	cr_expect_eq(memcmp(&dst, &old, sizeof(dst)), 0, "nothing named: unchanged");
	rl_cfg_merge(&dst, &src, RL_OPS);
	cr_expect_eq(memcmp(&dst.bandwidth, &old.bandwidth, sizeof(dst.bandwidth)), 0);
	cr_expect_eq(memcmp(&dst.ops, &src.ops, sizeof(dst.ops)), 0);
	dst = old;
	rl_cfg_merge(&dst, &src, RL_BANDWIDTH);
	cr_expect_eq(memcmp(&dst.bandwidth, &src.bandwidth, sizeof(dst.bandwidth)), 0);
	cr_expect_eq(memcmp(&dst.ops, &old.ops, sizeof(dst.ops)), 0);
	rl_cfg_merge(&dst, &src, RL_BANDWIDTH | RL_OPS);
	cr_expect_eq(memcmp(&dst, &src, sizeof(dst)), 0);
}

/* save, then load from exactly those bytes. */
static bool save_load(const struct rate_limiter_cfg *in, struct rate_limiter_cfg *out, size_t cut)
{
	struct wire w, r;
	wire_init(&w);
	rl_cfg_save(in, &w);
	cr_assert_not(w.bad);
	cr_assert_eq(w.len, 56, "two buckets of three u64 and a flags u32");
	cr_assert_leq(cut, w.len);
	wire_reader(&r, w.buf, w.len - cut);
	bool ok = rl_cfg_load(&r, out, true) && wire_ok(&r);
	wire_fini(&w);
	return ok;
}

Test(ratelimit_cfg, save_and_load_round_trip)
{
	const struct rate_limiter_cfg cases[] = {
		{ { 0 }, { 0 } },
		{ { 1000, 50, 100, false, false }, { 10, 0, 1000, false, false } },
		{ { MVM_RL_MAX_SIZE, MVM_RL_MAX_SIZE, MVM_RL_MAX_REFILL, false, false },
		  { 1, 0, 1, false, false } },
		{ { 0, 5, 0, false, false },
		  { 0 } }, /* no bucket: its other fields are not looked at */
		{ { 0, 0, 0, true, false }, { 7, 0, 0, true, true } }, /* given as zeros */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rate_limiter_cfg back;
		cr_expect(save_load(&cases[i], &back, 0), "case %zu", i);
		cr_expect(rl_eq(&back, &cases[i]), "case %zu", i);
	}
}

Test(ratelimit_cfg, load_refuses_what_the_api_refuses_and_short_records)
{
	const struct rate_limiter_cfg bad[] = {
		{ { MVM_RL_MAX_SIZE + 1, 0, 1, false, false }, { 0 } },
		{ { 1, MVM_RL_MAX_SIZE + 1, 1, false, false }, { 0 } },
		{ { 0 }, { 1, 0, MVM_RL_MAX_REFILL + 1, false, false } },
		{ { UINT64_MAX, UINT64_MAX, UINT64_MAX, false, false }, { 0 } },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rate_limiter_cfg back;
		cr_expect_not(save_load(&bad[i], &back, 0), "case %zu accepted", i);
	}
	const struct rate_limiter_cfg good = { { 1000, 50, 100, false, false },
					       { 10, 0, 1000, false, false } };
	for (size_t cut = 1; cut <= 56; cut++) {
		struct rate_limiter_cfg back;
		cr_expect_not(save_load(&good, &back, cut), "%zu bytes short accepted", cut);
	}
}

Test(ratelimit_cfg, zero_size_or_refill_time_is_accepted_as_no_limit)
{
	struct rate_limiter_cfg rl;
	struct err e = { 0 };
	unsigned which;
	struct strbuf b;
	cr_assert_eq(parse("{\"bandwidth\": {\"size\": 0, \"refill_time\": 0}, "
			   "\"ops\": {\"size\": 100, \"refill_time\": 0, \"one_time_burst\": 0}}",
			   "rate_limiter", &rl, &which, &e),
		     0, "%s", e.msg);
	cr_expect_str_eq(
	    describe(&rl, &b),
	    "{\"bandwidth\": {\"size\": 0, \"one_time_burst\": null, \"refill_time\": "
	    "0}, \"ops\": {\"size\": 100, \"one_time_burst\": 0, \"refill_time\": 0}}");
	strbuf_fini(&b);
	struct token_bucket tb;
	tb_init(&tb, &rl.ops, 0);
	cr_expect_eq(tb_reduce(&tb, 1ULL << 40, 0), TB_OK, "a zero refill_time limits nothing");
}

Test(ratelimit_cfg, records_without_flags_load_as_before)
{
	/* Device records before RL_CFG_WIRE_FLAGS: three u64 per bucket, no flags. */
	struct wire w, r;
	struct rate_limiter_cfg back;
	wire_init(&w);
	const uint64_t v[6] = { 1000, 50, 100, 0, 0, 0 };
	for (int i = 0; i < 6; i++)
		wire_put_u64(&w, v[i]);
	wire_reader(&r, w.buf, w.len);
	cr_assert(rl_cfg_load(&r, &back, false) && wire_ok(&r));
	const struct rate_limiter_cfg want = { { 1000, 50, 100, true, true }, { 0 } };
	cr_expect(rl_eq(&back, &want));
	wire_fini(&w);
}
