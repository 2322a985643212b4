/*
 * The split virtqueue, walked over guest RAM. Every address the driver gives
 * goes through gpa_to_hva(); every chain is bounded; nothing here trusts the
 * guest. Pure: no KVM, no threads, no I/O.
 */
#ifndef MVM_VIRTQ_H
#define MVM_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>

#include "../vmm/memory.h"

#define VIRTQ_MAX_SIZE	32768
#define VIRTQ_MAX_CHAIN 1024 /* descriptors in one chain, indirect included */

#define VIRTQ_DESC_F_NEXT	   1
#define VIRTQ_DESC_F_WRITE	   2
#define VIRTQ_DESC_F_INDIRECT	   4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY	   1

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq {
	/* Programmed by the driver through the transport. */
	uint16_t size;
	bool ready;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	/* Resolved when the queue is made ready. */
	struct guest_mem *mem;
	struct virtq_desc *desc;
	uint16_t *avail; /* flags, idx, ring[size], used_event */
	uint16_t *used;	 /* flags, idx, then elems, then avail_event */
	bool event_idx;
	/* Device-side indices. */
	uint16_t last_avail;
	uint16_t used_idx;
	uint16_t signalled_used;
	bool signalled_valid;
	bool broken; /* the driver put garbage in the avail ring: needs a reset */
};

struct virtq_buf {
	uint8_t *hva;
	uint32_t len;
	bool write; /* device-writable */
};

enum virtq_chain_err {
	VIRTQ_OK = 0,
	VIRTQ_ERR_ADDR,	    /* a buffer outside guest RAM or wrapping */
	VIRTQ_ERR_LOOP,	    /* longer than the queue (or indirect table) allows */
	VIRTQ_ERR_INDEX,    /* next index >= queue size */
	VIRTQ_ERR_INDIRECT, /* malformed indirect table */
	VIRTQ_ERR_ORDER,    /* a readable buffer after a writable one */
	VIRTQ_ERR_TOOLONG,  /* more than VIRTQ_MAX_CHAIN buffers */
};

struct virtq_chain {
	uint16_t head;
	int nr;
	enum virtq_chain_err err;
	uint64_t out_len, in_len; /* readable / writable bytes */
	/* Last descriptor of a chain whose structure could be followed, even if
	 * a buffer in it was bad: where a device can still report an error. */
	uint8_t *status;
	struct virtq_buf buf[VIRTQ_MAX_CHAIN];
};

void virtq_init(struct virtq *q);
/* Check and map the rings programmed by the driver; 0 or -EINVAL. */
int virtq_activate(struct virtq *q, struct guest_mem *m, uint16_t max_size, bool event_idx);
/* A device wrote guest memory through a chain's buffer: note it for diff snapshots. */
static inline void virtq_mark_written(struct virtq *q, const void *hva, uint64_t len)
{
	guest_mem_mark_dirty(q->mem, hva, len);
}
/* 1: a chain was taken (check c->err), 0: nothing available, -EIO: queue broken. */
int virtq_pop(struct virtq *q, struct virtq_chain *c);
void virtq_push(struct virtq *q, uint16_t head, uint32_t len);
/* Give back the last n chains popped and not pushed (a rate limiter said "not now",
 * or a frame did not fit): the next pops return them again. */
static inline void virtq_unpop(struct virtq *q, uint16_t n)
{
	q->last_avail = (uint16_t)(q->last_avail - n);
}
/* After pushing: does the driver want an interrupt? */
bool virtq_should_notify(struct virtq *q);
/* Ask for the next kick; true if more buffers arrived meanwhile (poll again). */
bool virtq_enable_notify(struct virtq *q);
bool virtq_has_avail(const struct virtq *q);
/* The driver's avail index now (to tell new buffers from ones given back with unpop). */
uint16_t virtq_avail_idx(const struct virtq *q);
const char *virtq_err_str(enum virtq_chain_err e);

#endif
