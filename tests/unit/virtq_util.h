/*
 * Shared by test_virtq.c and test_virtq_ring.c: a virtqueue over a fake guest
 * RAM (heap allocated so ASan sees any overrun), and the driver's side of
 * its rings.
 */
#ifndef MVM_TEST_VIRTQ_UTIL_H
#define MVM_TEST_VIRTQ_UTIL_H

#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../virtio/virtq.h"

#define RAM_SIZE 0x40000 /* 256 KiB, heap allocated so ASan sees any overrun */
#define DESC	 0x0000
#define AVAIL	 0x8000
#define USED	 0xa000
#define BUF	 0x10000
#define ITAB	 0x20000 /* indirect tables */

static uint8_t *ram;
static struct guest_mem mem;
static struct virtq q;
static struct virtq_chain c; /* ~16 KiB: not on the stack */

static inline void virtq_setup(void)
{
	ram = calloc(1, RAM_SIZE);
	cr_assert_not_null(ram);
	mem = (struct guest_mem){ .nr = 1, .size = RAM_SIZE, .fd = -1 };
	mem.r[0] = (struct guest_region){ .gpa = 0, .size = RAM_SIZE, .hva = ram };
	virtq_init(&q);
}

static inline void virtq_teardown(void)
{
	free(ram);
}

static inline void activate(uint16_t size, bool event_idx)
{
	q.size = size;
	q.desc_gpa = DESC;
	q.avail_gpa = AVAIL;
	q.used_gpa = USED;
	cr_assert_eq(virtq_activate(&q, &mem, 32768, event_idx), 0);
}

static inline void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { addr, len, flags, next };
	memcpy(ram + DESC + 16 * i, &d, sizeof(d));
}

static inline void idesc(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
			 uint16_t next)
{
	struct virtq_desc d = { addr, len, flags, next };
	memcpy(ram + table + 16 * i, &d, sizeof(d));
}

static inline uint16_t *avail16(unsigned i)
{
	return (uint16_t *)(ram + AVAIL) + i;
}

static inline uint16_t *used16(unsigned i)
{
	return (uint16_t *)(ram + USED) + i;
}

static inline struct virtq_used_elem *used_elem(unsigned i)
{
	return (struct virtq_used_elem *)(ram + USED + 4) + i;
}

/* Driver side: make `head` available. */
static inline void offer(uint16_t head)
{
	*avail16(2 + *avail16(1) % q.size) = head;
	(*avail16(1))++;
}

/* Offer `head` and pop it: the chain must come back. */
static inline void pop_one(uint16_t head)
{
	offer(head);
	cr_assert_eq(virtq_pop(&q, &c), 1);
	cr_assert_eq(c.head, head);
}

#endif
