/* virtio-rng: entropy for the guest from the host's getrandom(). */
#ifndef MVM_VIRTIO_RNG_H
#define MVM_VIRTIO_RNG_H

#include <stdint.h>

#include "ratelimit.h"
#include "virtio.h"

struct rng;

/* PUT /entropy and the config file's "entropy". */
struct rng_cfg {
	struct rate_limiter_cfg rate_limiter;
};

extern const struct device_type rng_type;

struct rng_stats {
	uint64_t bytes, requests, fails;
	uint64_t rate_limiter_throttled;
};

extern const struct virtio_dev_ops rng_ops;

struct rng *rng_create(void);
void rng_destroy(struct rng *r);
void rng_get_stats(struct rng *r, struct rng_stats *out);
/* Before attach: the limiter for PUT /entropy's rate_limiter. */
void rng_set_rate_limiter(struct rng *r, const struct rate_limiter_cfg *c);
void rng_get_rate_limiter(struct rng *r, struct rate_limiter_cfg *c);

#endif
