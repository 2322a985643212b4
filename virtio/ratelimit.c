#include "ratelimit.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "../vmm/eventloop.h"
#include "../lib/util.h"

typedef unsigned __int128 u128;

#define NS_PER_MS 1000000ULL

uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void tb_init(struct token_bucket *b, const struct bucket_cfg *c, uint64_t now_ns)
{
	memset(b, 0, sizeof(*b));
	if (!c || !c->size || !c->refill_time_ms)
		return;
	b->size = c->size;
	b->refill_ns = c->refill_time_ms * NS_PER_MS; /* config caps it far below overflow */
	b->budget = c->size;
	b->one_time_burst = c->one_time_burst;
	b->last_ns = now_ns;
}

void tb_refill(struct token_bucket *b, uint64_t now_ns)
{
	if (!b->size || now_ns <= b->last_ns)
		return; /* no bucket, no time passed, or still paying a debt */
	if (b->budget >= b->size) {
		b->last_ns = now_ns;
		b->rem = 0;
		return;
	}
	/* 128 bits: elapsed (up to 2^64 ns) x size (up to 2^53) cannot overflow. */
	u128 acc = (u128)(now_ns - b->last_ns) * b->size + b->rem;
	u128 tokens = acc / b->refill_ns;
	b->last_ns = now_ns;
	if (tokens >= b->size - b->budget) {
		b->budget = b->size;
		b->rem = 0;
	} else {
		b->budget += (uint64_t)tokens;
		b->rem = (uint64_t)(acc % b->refill_ns);
	}
}

enum tb_result tb_reduce(struct token_bucket *b, uint64_t tokens, uint64_t now_ns)
{
	if (!b->size || !tokens)
		return TB_OK;
	uint64_t from_burst = MIN(tokens, b->one_time_burst);
	if (from_burst == tokens) {
		b->one_time_burst -= tokens;
		return TB_OK;
	}
	uint64_t rest = tokens - from_burst;
	if (rest > b->budget)
		tb_refill(b, now_ns);
	if (rest > b->size) {
		/*
		 * Larger than the whole bucket: it can never fit, so let it through
		 * and make the bucket pay: empty it, and no refill until the excess
		 * has been earned (Firecracker blocks for excess/size refill times).
		 */
		uint64_t excess = rest - b->budget;
		u128 debt = ((u128)excess * b->refill_ns + b->size - 1) / b->size;
		uint64_t start = MAX(now_ns, b->last_ns);
		b->one_time_burst -= from_burst;
		b->budget = 0;
		b->rem = 0;
		b->last_ns = debt > UINT64_MAX - start ? UINT64_MAX : start + (uint64_t)debt;
		return TB_OVER;
	}
	if (rest > b->budget)
		return TB_BLOCKED; /* the burst stays untouched for the retry */
	b->one_time_burst -= from_burst;
	b->budget -= rest;
	return TB_OK;
}

void tb_put_back(struct token_bucket *b, uint64_t tokens)
{
	if (!b->size)
		return;
	b->budget = tokens > b->size - b->budget ? b->size : b->budget + tokens;
}

uint64_t tb_wait_ns(const struct token_bucket *b, uint64_t tokens, uint64_t now_ns)
{
	if (!b->size)
		return 0;
	uint64_t have = b->budget + b->one_time_burst;
	uint64_t debt_ns = b->last_ns > now_ns ? b->last_ns - now_ns : 0;
	if (have >= tokens && !debt_ns)
		return 0;
	uint64_t need = tokens > have ? MIN(tokens - have, b->size) : 0;
	u128 ns = (u128)need * b->refill_ns;
	ns = ns > b->rem ? ns - b->rem : 0;
	ns = (ns + b->size - 1) / b->size + debt_ns;
	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

void rl_init(struct rate_limiter *rl, const struct rate_limiter_cfg *c)
{
	uint64_t now = mono_ns();
	memset(rl, 0, sizeof(*rl));
	rl->timer_fd = -1;
	if (c) {
		tb_init(&rl->bw, &c->bandwidth, now);
		tb_init(&rl->ops, &c->ops, now);
	}
}

static void on_timer(void *opaque, uint32_t events)
{
	struct rate_limiter *rl = opaque;
	uint64_t v;
	(void)events;
	if (read(rl->timer_fd, &v, sizeof(v)) != sizeof(v))
		return;
	rl->blocked = false;
	if (rl->wake)
		rl->wake(rl->opaque);
}

int rl_attach(struct rate_limiter *rl, struct evloop *loop, rl_wake_fn wake, void *opaque)
{
	rl->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (rl->timer_fd < 0)
		return -errno;
	rl->loop = loop;
	rl->wake = wake;
	rl->opaque = opaque;
	int r = evloop_add(loop, rl->timer_fd, EPOLLIN, on_timer, rl);
	if (r) {
		close(rl->timer_fd);
		rl->timer_fd = -1;
		rl->loop = NULL;
	}
	return r;
}

void rl_fini(struct rate_limiter *rl)
{
	if (rl->timer_fd >= 0) {
		if (rl->loop)
			evloop_del(rl->loop, rl->timer_fd);
		close(rl->timer_fd);
	}
	rl->timer_fd = -1;
	rl->loop = NULL;
}

void rl_update(struct rate_limiter *rl, const struct rate_limiter_cfg *c, unsigned which)
{
	uint64_t now = mono_ns();
	if (which & RL_BANDWIDTH)
		tb_init(&rl->bw, &c->bandwidth, now);
	if (which & RL_OPS)
		tb_init(&rl->ops, &c->ops, now);
	/* A device waiting on the old buckets tries again with the new ones (the
	 * caller kicks its queue); a timer still armed only wakes it once more. */
	rl->blocked = false;
}

void rl_get_cfg(const struct rate_limiter *rl, struct rate_limiter_cfg *c)
{
	memset(c, 0, sizeof(*c));
	if (rl->bw.size)
		c->bandwidth = (struct bucket_cfg){ rl->bw.size, rl->bw.one_time_burst,
						    rl->bw.refill_ns / NS_PER_MS, true, false };
	if (rl->ops.size)
		c->ops = (struct bucket_cfg){ rl->ops.size, rl->ops.one_time_burst,
					      rl->ops.refill_ns / NS_PER_MS, true, false };
}

bool rl_active(const struct rate_limiter *rl)
{
	return rl->bw.size || rl->ops.size;
}

static void arm(struct rate_limiter *rl, uint64_t ns)
{
	if (rl->timer_fd < 0)
		return;
	ns = MAX(ns, 1000ULL); /* zero would disarm it */
	struct itimerspec its = { .it_value = { (time_t)(ns / 1000000000ULL),
						(long)(ns % 1000000000ULL) } };
	timerfd_settime(rl->timer_fd, 0, &its, NULL);
}

bool rl_consume_at(struct rate_limiter *rl, uint64_t bytes, uint64_t now_ns)
{
	if (rl->blocked)
		return false;
	enum tb_result o = tb_reduce(&rl->ops, 1, now_ns);
	if (o == TB_BLOCKED) {
		rl->blocked = true;
		rl->throttled++;
		arm(rl, tb_wait_ns(&rl->ops, 1, now_ns));
		return false;
	}
	enum tb_result w = tb_reduce(&rl->bw, bytes, now_ns);
	if (w == TB_BLOCKED) {
		tb_put_back(&rl->ops, 1);
		rl->blocked = true;
		rl->throttled++;
		arm(rl, tb_wait_ns(&rl->bw, bytes, now_ns));
		return false;
	}
	if (o == TB_OVER || w == TB_OVER) {
		/* This one goes; the next waits until the debt is paid. */
		rl->blocked = true;
		rl->throttled++;
		arm(rl, MAX(tb_wait_ns(&rl->ops, 1, now_ns), tb_wait_ns(&rl->bw, 1, now_ns)));
	}
	return true;
}

void rl_put_back(struct rate_limiter *rl, uint64_t bytes)
{
	if (!rl_active(rl))
		return;
	tb_put_back(&rl->ops, 1);
	tb_put_back(&rl->bw, bytes);
}

bool rl_consume(struct rate_limiter *rl, uint64_t bytes)
{
	if (!rl_active(rl))
		return true;
	return rl_consume_at(rl, bytes, mono_ns());
}

void rl_unblock(struct rate_limiter *rl)
{
	rl->blocked = false;
}
