/*
 * virtio-blk's asynchronous engine (io_engine "Async"): requests go to the
 * kernel through io_uring and complete later, several in flight at once, so
 * a slow disk does not stall the vmm thread. An eventfd on the vmm loop says
 * when completions are waiting. Each request in flight keeps its own copy of
 * its iovec, so nothing the kernel reads changes under it.
 */
#ifndef MVM_VIRTIO_BLK_AIO_H
#define MVM_VIRTIO_BLK_AIO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct err;
struct blk_aio;

#define BLK_AIO_DEPTH 64 /* requests in flight at most */
/* Data segments a request may have (longer ones go synchronously): blk's
 * seg_max (254), which Linux fills with 1 MiB O_DIRECT requests. */
#define BLK_AIO_IOV 256

/* What the device remembers of a request until it completes. */
struct blk_aio_req {
	uint16_t head;	  /* its descriptor chain */
	uint8_t type;	  /* VIRTIO_BLK_T_* */
	uint8_t *status;  /* where the status byte goes */
	uint32_t written; /* bytes written into the guest's buffers, without the status */
	uint64_t len;	  /* data bytes the request moves */
	int niov;
	struct iovec iov[BLK_AIO_IOV];
};

struct blk_aio *blk_aio_create(unsigned depth, struct err *e);
void blk_aio_destroy(struct blk_aio *a);
/* Readable when completions are waiting. */
int blk_aio_eventfd(const struct blk_aio *a);
/* A free request slot, or NULL when depth are in flight. */
struct blk_aio_req *blk_aio_get(struct blk_aio *a);
/* Put slot r back unused. */
void blk_aio_put(struct blk_aio *a, struct blk_aio_req *r);
/* Queue r: read or write r->len bytes at pos, or (fsync) make everything
 * written before it durable first. Nothing is sent until blk_aio_submit. */
void blk_aio_queue_rw(struct blk_aio *a, struct blk_aio_req *r, int fd, bool write, uint64_t pos);
void blk_aio_queue_fsync(struct blk_aio *a, struct blk_aio_req *r, int fd);
/* Send what was queued; 0 or -errno. */
int blk_aio_submit(struct blk_aio *a);
/* Call done(r, result) for each completed request (result: bytes or -errno),
 * then free its slot; returns how many. wait: block until none is in flight. */
unsigned blk_aio_reap(struct blk_aio *a, bool wait,
		      void (*done)(void *opaque, struct blk_aio_req *r, int64_t result),
		      void *opaque);
unsigned blk_aio_in_flight(const struct blk_aio *a);

#endif
