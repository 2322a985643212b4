/*
 * Token-bucket rate limiters, Firecracker's semantics: a bandwidth bucket
 * (bytes) and an ops bucket (requests), each with a size, a refill time for
 * a whole bucket and a one-time burst spent first. A device asks before it
 * handles a request; when refused it stops processing its queue, and a
 * timerfd on the vmm loop tells it when to try again.
 *
 * The arithmetic takes the time as an argument, so it is unit-tested
 * without clocks; rl_consume() reads CLOCK_MONOTONIC.
 */
#ifndef MVM_RATELIMIT_H
#define MVM_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct err;
struct evloop;
struct json;
struct strbuf;
struct wire;

/*
 * A token bucket's config. Size 0 or refill_time 0 limits nothing (as in
 * Firecracker, whose clients send zeros for buckets they do not use); such
 * a bucket is still reported back as given.
 */
struct bucket_cfg {
	uint64_t size;
	uint64_t one_time_burst;
	uint64_t refill_time_ms;
	bool set;	/* the request carried this bucket (maybe all zeros) */
	bool burst_set; /* ... with a one_time_burst (else it reads back null) */
};

struct rate_limiter_cfg {
	struct bucket_cfg bandwidth; /* bytes */
	struct bucket_cfg ops;	     /* requests */
};

/* Which buckets a rate_limiter object carried (null counts: it removes one). */
enum { RL_BANDWIDTH = 1, RL_OPS = 2 };

#define MVM_RL_MAX_SIZE	  (1ULL << 53)		/* exact in JSON's doubles too */
#define MVM_RL_MAX_REFILL (24ULL * 3600 * 1000) /* a day, in ms */

/* ratelimit_cfg.c: the rate_limiter object of drives, entropy and network
 * interfaces. null: no buckets. *which says which buckets it carried. */
int rl_cfg_parse(const struct json *j, int obj, const char *field, struct rate_limiter_cfg *out,
		 unsigned *which, struct err *e);
/* As GET /vm/config shows it ("null" without buckets). */
void rl_cfg_describe(const struct rate_limiter_cfg *rl, struct strbuf *b);
/* Copy the buckets named in `which` (a PATCH). */
void rl_cfg_merge(struct rate_limiter_cfg *dst, const struct rate_limiter_cfg *src, unsigned which);
/* Snapshots: the buckets, and back with every field checked. with_flags:
 * the record has the set/burst_set words (device records since
 * RL_CFG_WIRE_FLAGS, the snap_version of blk, net and rng that added them). */
#define RL_CFG_WIRE_FLAGS 2
void rl_cfg_save(const struct rate_limiter_cfg *rl, struct wire *w);
bool rl_cfg_load(struct wire *r, struct rate_limiter_cfg *rl, bool with_flags);

struct token_bucket {
	uint64_t size;		 /* 0: no bucket, everything passes */
	uint64_t refill_ns;	 /* time to refill a whole bucket */
	uint64_t budget;	 /* tokens available now */
	uint64_t one_time_burst; /* extra tokens left, spent first, never refilled */
	uint64_t last_ns;	 /* budget is as of this time (may be in the future: a debt) */
	uint64_t rem;		 /* partial token, in units of 1/refill_ns */
};

enum tb_result {
	TB_OK,	    /* taken */
	TB_BLOCKED, /* not enough tokens: nothing taken */
	TB_OVER,    /* more than the whole bucket: taken, budget emptied, debt recorded */
};

void tb_init(struct token_bucket *b, const struct bucket_cfg *c, uint64_t now_ns);
void tb_refill(struct token_bucket *b, uint64_t now_ns);
enum tb_result tb_reduce(struct token_bucket *b, uint64_t tokens, uint64_t now_ns);
/* Give back tokens taken for a request that did not happen after all. */
void tb_put_back(struct token_bucket *b, uint64_t tokens);
/* Nanoseconds until `tokens` (<= size) are available; 0 if they are now. */
uint64_t tb_wait_ns(const struct token_bucket *b, uint64_t tokens, uint64_t now_ns);

typedef void (*rl_wake_fn)(void *opaque);

struct rate_limiter {
	struct token_bucket bw, ops;
	bool blocked;	    /* refused once: wait for the timer */
	uint64_t throttled; /* times a request was refused or over-consumed */
	int timer_fd;	    /* -1 until attached */
	struct evloop *loop;
	rl_wake_fn wake;
	void *opaque;
};

void rl_init(struct rate_limiter *rl, const struct rate_limiter_cfg *c);
/* A timerfd on the vmm loop that calls wake(opaque) when a blocked limiter may go on. */
int rl_attach(struct rate_limiter *rl, struct evloop *loop, rl_wake_fn wake, void *opaque);
void rl_fini(struct rate_limiter *rl);
/* Replace the buckets named in `which` (RL_BANDWIDTH, RL_OPS), live. */
void rl_update(struct rate_limiter *rl, const struct rate_limiter_cfg *c, unsigned which);
void rl_get_cfg(const struct rate_limiter *rl, struct rate_limiter_cfg *c);
bool rl_active(const struct rate_limiter *rl);

/* One request of `bytes`: true if it may go now; false: blocked, timer armed. */
bool rl_consume_at(struct rate_limiter *rl, uint64_t bytes, uint64_t now_ns);
bool rl_consume(struct rate_limiter *rl, uint64_t bytes);
/* A request rl_consume let go did not happen after all: its tokens back. */
void rl_put_back(struct rate_limiter *rl, uint64_t bytes);
static inline bool rl_blocked(const struct rate_limiter *rl)
{
	return rl->blocked;
}
/* The timer fired (or a test says so): requests may be tried again. */
void rl_unblock(struct rate_limiter *rl);

uint64_t mono_ns(void);

#endif
