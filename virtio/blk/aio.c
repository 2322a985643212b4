#include "aio.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../lib/err.h"

struct blk_aio {
	struct io_uring ring;
	int efd;
	unsigned depth, in_flight, queued;
	struct blk_aio_req *slots;
	uint8_t *busy;
};

struct blk_aio *blk_aio_create(unsigned depth, struct err *e)
{
	struct blk_aio *a = calloc(1, sizeof(*a));
	if (!a) {
		err_set(e, -ENOMEM, "io_uring: out of memory");
		return NULL;
	}
	a->efd = -1;
	a->depth = depth;
	a->slots = calloc(depth, sizeof(*a->slots));
	a->busy = calloc(depth, 1);
	int r = a->slots && a->busy ? io_uring_queue_init(depth, &a->ring, 0) : -ENOMEM;
	if (r) {
		err_set(e, r,
			"io_engine Async: io_uring: %s (the host kernel may not allow it; use "
			"io_engine Sync)",
			strerror(-r));
		free(a->slots);
		free(a->busy);
		free(a);
		return NULL;
	}
	a->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->efd < 0 || (r = io_uring_register_eventfd(&a->ring, a->efd))) {
		err_set(e, a->efd < 0 ? -errno : r, "io_engine Async: completion eventfd: %s",
			strerror(a->efd < 0 ? errno : -r));
		blk_aio_destroy(a);
		return NULL;
	}
	return a;
}

void blk_aio_destroy(struct blk_aio *a)
{
	if (!a)
		return;
	/* The kernel finishes (or cancels) what is in flight before the ring goes. */
	io_uring_queue_exit(&a->ring);
	if (a->efd >= 0)
		close(a->efd);
	free(a->slots);
	free(a->busy);
	free(a);
}

int blk_aio_eventfd(const struct blk_aio *a)
{
	return a->efd;
}

unsigned blk_aio_in_flight(const struct blk_aio *a)
{
	return a->in_flight;
}

struct blk_aio_req *blk_aio_get(struct blk_aio *a)
{
	for (unsigned i = 0; i < a->depth; i++) {
		if (!a->busy[i]) {
			a->busy[i] = 1;
			return &a->slots[i];
		}
	}
	return NULL;
}

void blk_aio_put(struct blk_aio *a, struct blk_aio_req *r)
{
	a->busy[r - a->slots] = 0;
}

void blk_aio_queue_rw(struct blk_aio *a, struct blk_aio_req *r, int fd, bool write, uint64_t pos)
{
	/* A free slot always has a free SQE: the ring is as deep as the slots. */
	struct io_uring_sqe *sqe = io_uring_get_sqe(&a->ring);
	if (write)
		io_uring_prep_writev(sqe, fd, r->iov, (unsigned)r->niov, pos);
	else
		io_uring_prep_readv(sqe, fd, r->iov, (unsigned)r->niov, pos);
	io_uring_sqe_set_data(sqe, r);
	a->queued++;
}

void blk_aio_queue_fsync(struct blk_aio *a, struct blk_aio_req *r, int fd)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&a->ring);
	io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
	/* A flush covers the writes the guest completed before it: wait for them. */
	sqe->flags |= IOSQE_IO_DRAIN;
	io_uring_sqe_set_data(sqe, r);
	a->queued++;
}

int blk_aio_submit(struct blk_aio *a)
{
	if (!a->queued)
		return 0;
	int r;
	do
		r = io_uring_submit(&a->ring);
	while (r == -EINTR);
	if (r < 0)
		return r;
	a->in_flight += (unsigned)r;
	a->queued -= (unsigned)r;
	return 0;
}

unsigned blk_aio_reap(struct blk_aio *a, bool wait,
		      void (*done)(void *opaque, struct blk_aio_req *r, int64_t result),
		      void *opaque)
{
	uint64_t v;
	unsigned n = 0;
	ssize_t rd = read(a->efd, &v, sizeof(v)); /* re-armed by every completion */
	(void)rd;
	for (;;) {
		struct io_uring_cqe *cqe;
		int r = wait && a->in_flight ? io_uring_wait_cqe(&a->ring, &cqe)
					     : io_uring_peek_cqe(&a->ring, &cqe);
		if (r == -EINTR)
			continue;
		if (r || !cqe)
			break;
		struct blk_aio_req *req = io_uring_cqe_get_data(cqe);
		int64_t res = cqe->res;
		io_uring_cqe_seen(&a->ring, cqe);
		a->in_flight--;
		done(opaque, req, res);
		blk_aio_put(a, req);
		n++;
	}
	return n;
}
