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
	const struct guest_mem *mem;
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
	int ioeventfd[VIRTIO_MAX_QUEUES];
	struct virtio_mmio_notify notify[VIRTIO_MAX_QUEUES];
};

struct virtio_mmio *virtio_mmio_create(const struct virtio_dev_ops *ops, void *dev,
				       const struct guest_mem *mem, struct kvm *kvm,
				       struct evloop *loop, uint64_t base, uint32_t gsi);
void virtio_mmio_destroy(struct virtio_mmio *t);
/* MMIO bus handler for the 4 KiB window. */
void virtio_mmio_rw(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool write);
/* Tell the driver the config space changed (e.g. a resized disk). */
void virtio_mmio_config_changed(struct virtio_mmio *t);
/* Process every queue now (vmm thread), e.g. after a backend became ready. */
void virtio_mmio_kick(struct virtio_mmio *t, int qidx);

#endif
