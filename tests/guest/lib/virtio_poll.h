/* Taking used entries without waiting for a particular head (rx queues, events). */
#ifndef GUEST_VIRTIO_POLL_H
#define GUEST_VIRTIO_POLL_H

#include "virtio.h"

/* One used entry if there is one: 1, else 0. Acks the interrupt. */
static inline int virtq_take_used(struct virtio_dev *dev, struct virtq *q,
				  struct virtq_used_elem *e)
{
	volatile struct virtq_used *used = &q->used;
	if (used->idx == q->used_idx)
		return 0;
	mb();
	*e = used->ring[q->used_idx % q->num];
	q->used_idx++;
	uint32_t isr = mmio_read32(dev->base + VIRTIO_MMIO_INTERRUPT_STATUS);
	if (isr)
		mmio_write32(dev->base + VIRTIO_MMIO_INTERRUPT_ACK, isr);
	return 1;
}

/* Wait up to timeout_ms for any used entry: VQ_OK, VQ_TIMEOUT or VQ_NEEDS_RESET. */
static inline int virtq_wait_any(struct virtio_dev *dev, struct virtq *q,
				 struct virtq_used_elem *e, unsigned timeout_ms)
{
	uint64_t end = rdtsc() + timeout_ms * TSC_PER_MS;
	for (unsigned spin = 1;; spin++) {
		if (virtq_take_used(dev, q, e))
			return VQ_OK;
		if (spin % 256 == 0 || rdtsc() > end) {
			if (virtio_status(dev) & VIRTIO_STATUS_NEEDS_RESET)
				return VQ_NEEDS_RESET;
			if (rdtsc() > end)
				return VQ_TIMEOUT;
		}
		cpu_relax();
	}
}

/* Offer chain `head` without notifying (a batch is notified once). */
static inline void virtq_add(struct virtq *q, uint16_t head)
{
	volatile struct virtq_avail *avail = &q->avail;
	avail->ring[q->avail_idx % q->num] = head;
	mb();
	avail->idx = ++q->avail_idx;
}

#endif
