/* What a virtio device implements; the transport (mmio.c) does the rest. */
#ifndef MVM_VIRTIO_H
#define MVM_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "../vmm/device.h"
#include "virtq.h"

#define VIRTIO_F_VERSION_1	    32
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX	    29

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER	  2
#define VIRTIO_STATUS_DRIVER_OK	  4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED	  0x80

#define VIRTIO_ID_NET	  1
#define VIRTIO_ID_BLOCK	  2
#define VIRTIO_ID_RNG	  4
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_VSOCK	  19

#define VIRTIO_MAX_QUEUES 8

struct evloop;

/*
 * What a device may ask of the transport that carries it, from the vmm
 * thread only (event handlers for its fds and timers). process(), reset()
 * and activate() are already called with the transport's lock held; a
 * handler takes it with lock()/unlock() before it touches device state.
 */
struct virtio_host {
	struct evloop *loop; /* NULL in unit tests */
	void *t;
	/* Process queue qidx now, the lock taken, and interrupt if it used buffers. */
	void (*kick)(void *t, int qidx);
	void (*lock)(void *t);
	void (*unlock)(void *t);
	/* The config space changed (balloon target, say): tell the driver. */
	void (*config_changed)(void *t);
};

struct virtio_dev_ops {
	const char *name;
	uint32_t device_id;
	uint16_t num_queues;
	uint16_t queue_max;
	uint64_t (*features)(void *dev);
	void (*read_config)(void *dev, uint64_t off, uint8_t *data, uint32_t len);
	void (*write_config)(void *dev, uint64_t off, const uint8_t *data, uint32_t len);
	/* DRIVER_OK: the rings are mapped; acked features are final. */
	int (*activate)(void *dev, uint64_t acked, struct virtq *queues);
	/*
	 * Process queue `qidx` on the vmm thread. Returns true if used buffers
	 * were added (the transport then decides whether to interrupt), or sets
	 * *fatal when the device needs a reset.
	 */
	bool (*process)(void *dev, int qidx, struct virtq *q, bool *fatal);
	/* Called on a vCPU thread under the lock: no system calls but write(2). */
	void (*reset)(void *dev);
	/* Optional, once, on the vmm thread when the transport exists. */
	int (*attach)(void *dev, const struct virtio_host *h);
};

#endif
