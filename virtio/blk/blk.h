/* virtio-blk on a host file: read, write, flush, get-id. */
#ifndef MVM_VIRTIO_BLK_H
#define MVM_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "../ratelimit.h"
#include "../virtio.h"

struct blk;

enum cache_type { CACHE_UNSAFE, CACHE_WRITEBACK };
enum io_engine { IO_ENGINE_SYNC, IO_ENGINE_ASYNC };

/* PUT /drives/{id} and the config file's "drives". */
struct drive_cfg {
	char drive_id[65];
	char *path_on_host;
	bool is_root_device;
	bool is_read_only;
	char *partuuid;
	enum cache_type cache_type;
	enum io_engine io_engine;
	bool direct_io; /* mvm extension: O_DIRECT */
	struct rate_limiter_cfg rate_limiter;
};

/* type.c: drives as a device type. */
extern const struct device_type blk_type;

struct blk_stats {
	uint64_t read_bytes, write_bytes, read_count, write_count, flush_count;
	uint64_t invalid_reqs, io_errors, activate_fails;
	uint64_t rate_limiter_throttled;
};

extern const struct virtio_dev_ops blk_ops;

/* Opens the backing file; on failure NULL and a sentence naming drive and file. */
/* async: io_uring (io_engine "Async"), else preadv/pwritev on the vmm thread. */
struct blk *blk_create(const char *id, const char *path, bool read_only, bool writeback,
		       bool direct, bool async, struct err *e);
void blk_destroy(struct blk *b);
/* Swap the backing file (PATCH /drives after boot); the caller signals a config change. */
int blk_set_backing(struct blk *b, const char *path, struct err *e);
/* PATCH /drives after boot (vmm thread): a new backing file (path, or NULL)
 * and/or the buckets in `which`, under the transport's lock; the driver is
 * told of the new size and held-back requests are retried. */
int blk_change(struct blk *b, const char *path, const struct rate_limiter_cfg *rl, unsigned which,
	       struct err *e);
void blk_get_stats(struct blk *b, struct blk_stats *out);
/* Set the buckets named in `which` (RL_*); before attach or live on the vmm thread,
 * with the transport's lock held. */
int blk_set_rate_limiter(struct blk *b, const struct rate_limiter_cfg *c, unsigned which);
void blk_get_rate_limiter(struct blk *b, struct rate_limiter_cfg *c);
uint64_t blk_capacity_sectors(struct blk *b);
/* Wait for every request in flight (io_engine Async) and complete it to the
 * guest: before a snapshot, so that the saved queue and memory agree. */
void blk_drain(struct blk *b);

#endif
