/*
 * A minimal modern (version 2) virtio-mmio driver with split virtqueues.
 * Everything is polled: interrupts stay off; the used ring is read with a
 * bounded wait.  Queue memory lives inside struct virtq, which callers put
 * in their bss (it is page aligned).
 */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include "guest.h"

/* virtio-mmio registers (virtio 1.2, 4.2.2). */
#define VIRTIO_MMIO_MAGIC_VALUE 0x000
#define VIRTIO_MMIO_VERSION 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_VENDOR_ID 0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG 0x100

#define VIRTIO_MMIO_MAGIC 0x74726976	/* "virt" */

/* Device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER 0x02
#define VIRTIO_STATUS_DRIVER_OK 0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

/* Transport feature bits. */
#define VIRTIO_F_INDIRECT_DESC (1ULL << 28)
#define VIRTIO_F_VERSION_1 (1ULL << 32)

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4

/* The guest never uses more than this many entries of any queue. */
#define VIRTQ_MAX 16

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[VIRTQ_MAX];
	uint16_t used_event;
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[VIRTQ_MAX];
	uint16_t avail_event;
};

struct virtq {
	/* Shared with the device. */
	struct virtq_desc desc[VIRTQ_MAX] ALIGNED(16);
	struct virtq_avail avail ALIGNED(2);
	struct virtq_used used ALIGNED(4);
	/* Driver state. */
	uint16_t index;		/* queue number */
	uint16_t num;		/* entries in use: QueueNum */
	uint16_t avail_idx;	/* next avail->idx to publish */
	uint16_t used_idx;	/* used->idx seen so far */
} ALIGNED(4096);

struct virtio_dev {
	uint64_t base;
	uint64_t size;
	uint32_t irq;
	uint32_t device_id;
	uint64_t offered;	/* device features */
	uint64_t features;	/* negotiated */
};

/* virtq_wait() results. */
#define VQ_OK 0
#define VQ_TIMEOUT (-1)
#define VQ_NEEDS_RESET (-2)

/*
 * Find the nth (from 0) virtio-mmio device of the given type among the
 * command line's virtio_mmio.device= slots.  Prints what it probes.
 */
int virtio_find(const char *cmdline, uint32_t device_id, int nth, struct virtio_dev *dev);

/*
 * Reset, ACKNOWLEDGE|DRIVER, read the 64 device feature bits, accept
 * VIRTIO_F_VERSION_1 plus (wanted & offered), FEATURES_OK.  0 or -1.
 */
int virtio_negotiate(struct virtio_dev *dev, uint64_t wanted);

/* Set up queue `index` with min(QueueNumMax, VIRTQ_MAX) entries. 0 or -1. */
int virtq_setup(struct virtio_dev *dev, struct virtq *q, uint16_t index);

void virtio_driver_ok(struct virtio_dev *dev);
void virtio_reset(struct virtio_dev *dev);
uint32_t virtio_status(const struct virtio_dev *dev);

/* Config space, 32-bit accesses; 64-bit reads retry on a generation change. */
uint32_t virtio_config_read32(const struct virtio_dev *dev, uint32_t off);
uint64_t virtio_config_read64(const struct virtio_dev *dev, uint32_t off);

static inline void virtq_desc_set(struct virtq *q, uint16_t i, uint64_t addr, uint32_t len,
				  uint16_t flags, uint16_t next)
{
	q->desc[i] = (struct virtq_desc){ addr, len, flags, next };
}

/* Put chain `head` in the avail ring, publish it, notify the device. */
void virtq_publish(struct virtio_dev *dev, struct virtq *q, uint16_t head);

/* Write QueueNotify for q (virtq_publish does it). */
void virtq_notify(struct virtio_dev *dev, struct virtq *q);

/*
 * Wait up to timeout_ms for a used entry with id == head; used entries
 * for other heads (late answers to earlier requests) are reported and
 * skipped.  Acks the interrupt.  Returns VQ_OK (with *len set),
 * VQ_TIMEOUT, or VQ_NEEDS_RESET if the device set DEVICE_NEEDS_RESET.
 */
int virtq_wait(struct virtio_dev *dev, struct virtq *q, uint16_t head, uint32_t *len,
	       unsigned timeout_ms);

#endif
