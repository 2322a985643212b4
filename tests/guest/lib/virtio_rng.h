/* virtio-rng (entropy device) over the polled virtio-mmio driver. */
#ifndef GUEST_VIRTIO_RNG_H
#define GUEST_VIRTIO_RNG_H

#include "virtio.h"

#define VIRTIO_ID_RNG 4

struct rng {
	struct virtq vq; /* first: page aligned */
	struct virtio_dev dev;
	uint8_t buf[64] ALIGNED(64);
};

/* Find the first virtio-rng device, set up its queue, DRIVER_OK. 0 or -1. */
int rng_open(struct rng *r, const char *cmdline);
/* Fill out[0..len) (len <= 64) from the device; bytes read or -1. */
int rng_read(struct rng *r, void *out, uint32_t len);

#endif
