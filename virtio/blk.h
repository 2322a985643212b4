/* virtio-blk on a host file: read, write, flush, get-id. */
#ifndef MVM_VIRTIO_BLK_H
#define MVM_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "ratelimit.h"
#include "virtio.h"

struct blk;

struct blk_stats {
	uint64_t read_bytes, write_bytes, read_count, write_count, flush_count;
	uint64_t invalid_reqs, io_errors, activate_fails;
	uint64_t rate_limiter_throttled;
};

extern const struct virtio_dev_ops blk_ops;

/* Opens the backing file; logs a one-line error naming drive and file. */
struct blk *blk_create(const char *id, const char *path, bool read_only, bool writeback,
		       bool direct);
void blk_destroy(struct blk *b);
/* Swap the backing file (PATCH /drives after boot); the caller signals a config change. */
int blk_set_backing(struct blk *b, const char *path);
void blk_get_stats(struct blk *b, struct blk_stats *out);
/* Set the buckets named in `which` (RL_*); before attach or live on the vmm thread,
 * with the transport's lock held. */
int blk_set_rate_limiter(struct blk *b, const struct rate_limiter_cfg *c, unsigned which);
void blk_get_rate_limiter(struct blk *b, struct rate_limiter_cfg *c);
uint64_t blk_capacity_sectors(struct blk *b);

#endif
