/* virtio-rng: entropy for the guest from the host's getrandom(). */
#ifndef MVM_VIRTIO_RNG_H
#define MVM_VIRTIO_RNG_H

#include <stdint.h>

#include "virtio.h"

struct rng;

struct rng_stats {
	uint64_t bytes, requests, fails;
};

extern const struct virtio_dev_ops rng_ops;

struct rng *rng_create(void);
void rng_destroy(struct rng *r);
void rng_get_stats(struct rng *r, struct rng_stats *out);

#endif
