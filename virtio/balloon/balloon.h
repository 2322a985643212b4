/* virtio-balloon: inflate/deflate with madvise, deflate-on-OOM, statistics. */
#ifndef MVM_VIRTIO_BALLOON_H
#define MVM_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#include "../../vmm/memory.h"
#include "../virtio.h"

#define VIRTIO_BALLOON_F_STATS_VQ	1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2

#define BALLOON_PAGE_SHIFT 12 /* the balloon's PFNs are 4 KiB pages, whatever the guest uses */
#define BALLOON_NR_TAGS	   10 /* the statistics tags virtio 1.2 defines */

struct balloon;

#define MVM_BALLOON_MAX_STATS_S (24u * 3600) /* a day */

/* PUT /balloon and the config file's "balloon". */
struct balloon_cfg {
	uint32_t amount_mib;
	bool deflate_on_oom;
	uint32_t stats_polling_interval_s; /* 0: no statistics queue */
};

/* type.c: the balloon's device type (config, API, metrics, snapshot). */
extern const struct device_type balloon_type;

struct balloon_stats {
	uint32_t target_pages, actual_pages;
	uint64_t inflated_pages, deflated_pages, released_bytes;
	uint64_t invalid_pfns, madvise_fails;
	uint64_t stats_updates, unknown_tags, bad_stats;
	uint32_t have; /* bit per tag seen in the last update */
	uint64_t val[BALLOON_NR_TAGS];
};

/* For snapshots: the config space and the statistics buffer the device holds. */
struct balloon_state {
	uint32_t num_pages, actual;
	uint32_t stats_held, stats_head;
};

extern const struct virtio_dev_ops balloon_ops;

struct balloon *balloon_create(const struct balloon_cfg *c, const struct guest_mem *mem);
void balloon_destroy(struct balloon *b);
/* The target, in 4 KiB pages (transport lock held); the caller then signals a config change. */
void balloon_set_target(struct balloon *b, uint32_t pages);
/* The same from the vmm thread, lock taken and the driver told (PATCH /balloon). */
void balloon_change_target(struct balloon *b, uint32_t pages);
/* The guest RAM the balloon works in, MiB. */
uint32_t balloon_mem_mib(const struct balloon *b);
/* Change the statistics period (vmm thread); 0 stops polling. */
int balloon_set_stats_interval(struct balloon *b, uint32_t seconds);
void balloon_get_stats(struct balloon *b, struct balloon_stats *out);
const char *balloon_tag_name(unsigned tag);
void balloon_save(struct balloon *b, struct balloon_state *s);
/* Checked: a held buffer's head must fit the stats queue. */
int balloon_restore(struct balloon *b, const struct balloon_state *s);

/* Pure helpers, unit-tested. */
/* Release the pages of one inflate buffer: PFNs (le32) checked against guest RAM,
 * runs of contiguous pages released with one madvise each. Returns pages released. */
uint64_t balloon_release_pfns(struct balloon *b, const uint8_t *buf, uint32_t len);
/* Parse a statistics buffer: 10-byte (tag le16, value le64) entries. */
void balloon_parse_stats(struct balloon *b, const uint8_t *buf, uint32_t len);

#endif
