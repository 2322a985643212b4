/* The virtio-mmio transport (version 2): registers, queue setup, notify and interrupt. */
#ifndef MVM_VIRTIO_MMIO_H
#define MVM_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../vmm/irq.h"
#include "../vmm/memory.h"
#include "virtio.h"

struct kvm;
struct evloop;

#define VIRTIO_MMIO_INT_VRING  1
#define VIRTIO_MMIO_INT_CONFIG 2

struct virtio_mmio;

struct virtio_mmio_notify {
	struct virtio_mmio *t;
	int qidx;
};

struct virtio_mmio {
	pthread_mutex_t lock;
	const struct virtio_dev_ops *ops;
	void *dev;
	struct guest_mem *mem;
	struct kvm *kvm;
	struct evloop *loop;
	uint64_t base;
	struct irq_line irq;
	char name[32];

	uint32_t status;
	uint32_t dev_features_sel, drv_features_sel;
	uint64_t drv_features;
	uint32_t queue_sel;
	uint32_t config_generation;
	atomic_uint interrupt_status;
	bool activated;
	bool logged_bad;

	struct virtq q[VIRTIO_MAX_QUEUES];
	struct virtio_host host; /* what the device may ask of us */
	int ioeventfd[VIRTIO_MAX_QUEUES];
	struct virtio_mmio_notify notify[VIRTIO_MAX_QUEUES];
};

/* Transport state for snapshots: registers and every queue's layout and indices. */
struct virtio_mmio_queue_state {
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t size, last_avail, used_idx, signalled_used;
	uint8_t ready, signalled_valid, event_idx, reserved;
	uint32_t reserved2;
};

struct virtio_mmio_state {
	uint32_t device_id;
	uint32_t status;
	uint32_t dev_features_sel, drv_features_sel;
	uint64_t drv_features;
	uint32_t queue_sel;
	uint32_t config_generation;
	uint32_t interrupt_status;
	uint32_t activated;
	uint32_t nr_queues;
	uint32_t reserved;
	struct virtio_mmio_queue_state q[VIRTIO_MAX_QUEUES];
};

struct virtio_mmio *virtio_mmio_create(const struct virtio_dev_ops *ops, void *dev,
				       struct guest_mem *mem, struct kvm *kvm, struct evloop *loop,
				       uint64_t base, uint32_t gsi);
void virtio_mmio_destroy(struct virtio_mmio *t);
/* MMIO bus handler for the 4 KiB window. */
void virtio_mmio_rw(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool write);
/* Tell the driver the config space changed (e.g. a resized disk). */
void virtio_mmio_config_changed(struct virtio_mmio *t);
/* Process every queue now (vmm thread), e.g. after a backend became ready. */
void virtio_mmio_kick(struct virtio_mmio *t, int qidx);

void virtio_mmio_save(struct virtio_mmio *t, struct virtio_mmio_state *s);
/* Validate everything against this device and guest RAM, then apply; -EINVAL names nothing,
 * *why says what was wrong. */
int virtio_mmio_restore(struct virtio_mmio *t, const struct virtio_mmio_state *s, const char **why);

#endif
