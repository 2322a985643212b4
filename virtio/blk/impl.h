/* What blk.c (the device) and io.c (its requests) share; not for others. */
#ifndef MVM_VIRTIO_BLK_IMPL_H
#define MVM_VIRTIO_BLK_IMPL_H

#include <sys/uio.h>

#include "aio.h"
#include "blk.h"

#define SECTOR_SHIFT   9
#define SECTOR_SIZE    (1u << SECTOR_SHIFT)
#define BLK_QUEUE_SIZE 256
#define BLK_ID_BYTES   20

#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO	     5
#define VIRTIO_BLK_F_FLUSH   9

#define VIRTIO_BLK_T_IN	    0
#define VIRTIO_BLK_T_OUT    1
#define VIRTIO_BLK_T_FLUSH  4
#define VIRTIO_BLK_T_GET_ID 8

#define VIRTIO_BLK_S_OK	    0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

struct blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk {
	char id[BLK_ID_BYTES + 1];
	char *path;
	int fd;
	bool read_only, writeback, direct;
	uint64_t sectors;
	struct blk_stats stats;
	struct rate_limiter rl;
	const struct virtio_host *host;
	struct blk_aio *aio; /* io_engine Async: io_uring; NULL: synchronous */
	struct evloop *aio_loop;
	struct virtq *q;   /* the request queue, for completions (Async) */
	bool pending_used; /* completions pushed outside process(): interrupt */
	bool logged_bad, logged_io;
	struct virtq_chain chain; /* scratch: too big for the stack */
	struct iovec iov[VIRTQ_MAX_CHAIN];
};

/* io.c */
uint64_t blk_request_bytes(const struct virtq_chain *c);
bool blk_process(void *dev, int qidx, struct virtq *q, bool *fatal);
/* A request io_uring finished: its status, its used element (lock held). */
void blk_aio_done(void *opaque, struct blk_aio_req *r, int64_t result);

#endif
