/* The rate_limiter object of drives, entropy and network interfaces: parsed,
 * shown, merged and saved the same way wherever it appears. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../lib/json.h"
#include "../lib/strbuf.h"
#include "../lib/wire.h"
#include "ratelimit.h"

static int parse_bucket(const struct json *j, int obj, const char *field, struct bucket_cfg *out,
			struct err *e)
{
	struct bucket_cfg b = { .set = true };
	bool have_size = false, have_refill = false;
	char name[96];
	int r;

	if ((r = json_expect_object(j, obj, field, e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (json_key_is(j, k, "size")) {
			snprintf(name, sizeof(name), "%s.size", field);
			if ((r = json_u64(j, v, name, 0, MVM_RL_MAX_SIZE, &b.size, e)))
				return r;
			have_size = true;
		} else if (json_key_is(j, k, "one_time_burst")) {
			if (json_is_null(j, v))
				continue;
			snprintf(name, sizeof(name), "%s.one_time_burst", field);
			if ((r = json_u64(j, v, name, 0, MVM_RL_MAX_SIZE, &b.one_time_burst, e)))
				return r;
			b.burst_set = true;
		} else if (json_key_is(j, k, "refill_time")) {
			snprintf(name, sizeof(name), "%s.refill_time", field);
			if ((r = json_u64(j, v, name, 0, MVM_RL_MAX_REFILL, &b.refill_time_ms, e)))
				return r;
			have_refill = true;
		} else {
			return json_unknown_field(j, k, field, e);
		}
	}
	if (!have_size || !have_refill)
		return err_inval(e, "'%s' needs both 'size' and 'refill_time' (milliseconds)",
				 field);
	*out = b;
	return 0;
}

int rl_cfg_parse(const struct json *j, int obj, const char *field, struct rate_limiter_cfg *out,
		 unsigned *which, struct err *e)
{
	struct rate_limiter_cfg rl = { { 0 }, { 0 } };
	unsigned have = 0;
	char name[80];
	int r;

	if (json_is_null(j, obj)) {
		*out = rl;
		*which = RL_BANDWIDTH | RL_OPS;
		return 0;
	}
	if ((r = json_expect_object(j, obj, field, e)))
		return r;
	for_each_member (j, obj, k, v) {
		struct bucket_cfg *b;
		unsigned bit;
		if (json_key_is(j, k, "bandwidth")) {
			b = &rl.bandwidth;
			bit = RL_BANDWIDTH;
			snprintf(name, sizeof(name), "%s.bandwidth", field);
		} else if (json_key_is(j, k, "ops")) {
			b = &rl.ops;
			bit = RL_OPS;
			snprintf(name, sizeof(name), "%s.ops", field);
		} else {
			return json_unknown_field(j, k, field, e);
		}
		have |= bit;
		if (json_is_null(j, v))
			continue; /* no bucket (PATCH: remove it) */
		if ((r = parse_bucket(j, v, name, b, e)))
			return r;
	}
	*out = rl;
	*which = have;
	return 0;
}

/* A bucket as it was given: zeros stay zeros, a missing burst stays null. */
static bool bucket_given(const struct bucket_cfg *c)
{
	return c->set || c->size;
}

static void bucket_describe(const struct bucket_cfg *c, struct strbuf *b)
{
	if (!bucket_given(c)) {
		strbuf_printf(b, "null");
		return;
	}
	strbuf_printf(b, "{\"size\": %llu, \"one_time_burst\": ", (unsigned long long)c->size);
	if (c->burst_set || c->one_time_burst)
		strbuf_printf(b, "%llu", (unsigned long long)c->one_time_burst);
	else
		strbuf_printf(b, "null");
	strbuf_printf(b, ", \"refill_time\": %llu}", (unsigned long long)c->refill_time_ms);
}

void rl_cfg_describe(const struct rate_limiter_cfg *rl, struct strbuf *b)
{
	if (!bucket_given(&rl->bandwidth) && !bucket_given(&rl->ops)) {
		strbuf_printf(b, "null");
		return;
	}
	strbuf_printf(b, "{\"bandwidth\": ");
	bucket_describe(&rl->bandwidth, b);
	strbuf_printf(b, ", \"ops\": ");
	bucket_describe(&rl->ops, b);
	strbuf_printf(b, "}");
}

void rl_cfg_merge(struct rate_limiter_cfg *dst, const struct rate_limiter_cfg *src, unsigned which)
{
	if (which & RL_BANDWIDTH)
		dst->bandwidth = src->bandwidth;
	if (which & RL_OPS)
		dst->ops = src->ops;
}

enum { RLW_SET = 1, RLW_BURST_SET = 2, RLW_ALL = 3 };

void rl_cfg_save(const struct rate_limiter_cfg *rl, struct wire *w)
{
	const struct bucket_cfg *b[2] = { &rl->bandwidth, &rl->ops };
	for (int i = 0; i < 2; i++) {
		wire_put_u64(w, b[i]->size);
		wire_put_u64(w, b[i]->one_time_burst);
		wire_put_u64(w, b[i]->refill_time_ms);
		wire_put_u32(w, (b[i]->set ? RLW_SET : 0) | (b[i]->burst_set ? RLW_BURST_SET : 0));
	}
}

bool rl_cfg_load(struct wire *r, struct rate_limiter_cfg *rl, bool with_flags)
{
	struct bucket_cfg *b[2] = { &rl->bandwidth, &rl->ops };
	bool ok = true;
	for (int i = 0; i < 2; i++) {
		b[i]->size = wire_get_u64(r);
		b[i]->one_time_burst = wire_get_u64(r);
		b[i]->refill_time_ms = wire_get_u64(r);
		/* Records before the flags: a bucket was there when it had a size. */
		uint32_t f = with_flags ? wire_get_u32(r)
					: (b[i]->size ? RLW_SET : 0) |
					      (b[i]->one_time_burst ? RLW_BURST_SET : 0);
		b[i]->set = f & RLW_SET;
		b[i]->burst_set = f & RLW_BURST_SET;
		/* The same bounds the API enforces (zeros: a bucket that never limits). */
		if ((f & ~(uint32_t)RLW_ALL) || b[i]->size > MVM_RL_MAX_SIZE ||
		    b[i]->one_time_burst > MVM_RL_MAX_SIZE ||
		    b[i]->refill_time_ms > MVM_RL_MAX_REFILL)
			ok = false;
	}
	return ok && !r->bad;
}
