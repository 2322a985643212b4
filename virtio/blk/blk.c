#include "blk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../../lib/err.h"
#include "../../lib/log.h"
#include "../../lib/util.h"
#include "../../vmm/eventloop.h"
#include "impl.h"

static int open_backing(struct blk *b, const char *path, int *fd_out, uint64_t *sectors,
			struct err *e)
{
	int flags = (b->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | (b->direct ? O_DIRECT : 0);
	int fd = open(path, flags);
	if (fd < 0) {
		int err = errno;
		if (!b->read_only && (err == EACCES || err == EROFS || err == EPERM))
			return err_set(e, -err,
				       "drive %s: %s: %s (the drive is read-write; set "
				       "is_read_only: true for a read-only file)",
				       b->id, path, strerror(err));
		return err_set(e, -err, "drive %s: %s: %s", b->id, path, strerror(err));
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		close(fd);
		return err_inval(e, "drive %s: %s: not a regular file or block device", b->id,
				 path);
	}
	uint64_t size = (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(fd, 0, SEEK_END);
		size = end > 0 ? (uint64_t)end : 0;
	}
	if (size % SECTOR_SIZE)
		log_warn("drive %s: %s is not a multiple of %u bytes; the tail is not visible",
			 b->id, path, SECTOR_SIZE);
	*fd_out = fd;
	*sectors = size >> SECTOR_SHIFT;
	return 0;
}

struct blk *blk_create(const char *id, const char *path, bool read_only, bool writeback,
		       bool direct, bool async, struct err *e)
{
	struct blk *b = calloc(1, sizeof(*b));
	if (!b) {
		err_set(e, -ENOMEM, "drive %s: out of memory", id);
		return NULL;
	}
	snprintf(b->id, sizeof(b->id), "%s", id);
	b->read_only = read_only;
	b->writeback = writeback;
	b->direct = direct;
	b->fd = -1;
	rl_init(&b->rl, NULL);
	b->path = strdup(path);
	if (!b->path)
		err_set(e, -ENOMEM, "drive %s: out of memory", id);
	if (!b->path || open_backing(b, path, &b->fd, &b->sectors, e) ||
	    (async && !(b->aio = blk_aio_create(BLK_AIO_DEPTH, e)))) {
		if (async && e)
			err_prefix(e, "drive %s", id);
		blk_destroy(b);
		return NULL;
	}
	return b;
}

void blk_destroy(struct blk *b)
{
	if (!b)
		return;
	if (b->aio) {
		if (b->aio_loop)
			evloop_del(b->aio_loop, blk_aio_eventfd(b->aio));
		blk_aio_destroy(b->aio);
	}
	if (b->fd >= 0)
		close(b->fd);
	rl_fini(&b->rl);
	free(b->path);
	free(b);
}

int blk_set_backing(struct blk *b, const char *path, struct err *e)
{
	int fd;
	uint64_t sectors;
	/* Requests in flight to the old file finish there first. */
	if (b->aio && blk_aio_in_flight(b->aio))
		blk_aio_reap(b->aio, true, blk_aio_done, b);
	int r = open_backing(b, path, &fd, &sectors, e);
	if (r)
		return r;
	char *p = strdup(path);
	if (!p) {
		close(fd);
		return err_set(e, -ENOMEM, "drive %s: out of memory", b->id);
	}
	/* Data written to the old file stays there: make it durable before letting go. */
	if (b->fd >= 0) {
		fdatasync(b->fd);
		close(b->fd);
	}
	free(b->path);
	b->path = p;
	b->fd = fd;
	b->sectors = sectors;
	return 0;
}

void blk_get_stats(struct blk *b, struct blk_stats *out)
{
	*out = b->stats;
	out->rate_limiter_throttled = b->rl.throttled;
}

static void blk_wake(void *opaque)
{
	struct blk *b = opaque;
	b->host->kick(b->host->t, 0);
}

int blk_set_rate_limiter(struct blk *b, const struct rate_limiter_cfg *c, unsigned which)
{
	rl_update(&b->rl, c, which);
	/* The timer is made when first needed (PATCH may add a limiter after boot). */
	if (rl_active(&b->rl) && b->rl.timer_fd < 0 && b->host && b->host->loop)
		return rl_attach(&b->rl, b->host->loop, blk_wake, b);
	return 0;
}

void blk_get_rate_limiter(struct blk *b, struct rate_limiter_cfg *c)
{
	rl_get_cfg(&b->rl, c);
}

int blk_change(struct blk *b, const char *path, const struct rate_limiter_cfg *rl, unsigned which,
	       struct err *e)
{
	int r = 0;
	if (b->host)
		b->host->lock(b->host->t);
	if (path)
		r = blk_set_backing(b, path, e);
	if (!r && which && (r = blk_set_rate_limiter(b, rl, which)))
		err_set(e, r, "drive %s: rate limiter timer: %s", b->id, strerror(-r));
	if (b->host)
		b->host->unlock(b->host->t);
	if (!r && path && b->host)
		b->host->config_changed(b->host->t); /* the size may be new */
	if (b->host && ((!r && which) || b->pending_used))
		b->host->kick(b->host->t, 0); /* held back, or completed while draining */
	return r;
}

/* io_uring says completions are waiting: process the queue, which reaps them. */
static void on_aio(void *opaque, uint32_t events)
{
	struct blk *b = opaque;
	(void)events;
	b->host->kick(b->host->t, 0);
}

static int blk_attach(void *dev, const struct virtio_host *h)
{
	struct blk *b = dev;
	int r;
	b->host = h;
	if (b->aio && h->loop) {
		if ((r = evloop_add(h->loop, blk_aio_eventfd(b->aio), EPOLLIN, on_aio, b)))
			return r;
		b->aio_loop = h->loop;
	}
	if (rl_active(&b->rl) && h->loop)
		return rl_attach(&b->rl, h->loop, blk_wake, b);
	return 0;
}

uint64_t blk_capacity_sectors(struct blk *b)
{
	return b->sectors;
}

static uint64_t blk_features(void *dev)
{
	struct blk *b = dev;
	uint64_t f = (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_FLUSH) |
		     (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	if (b->read_only)
		f |= 1ULL << VIRTIO_BLK_F_RO;
	return f;
}

static void blk_read_config(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct blk *b = dev;
	/* capacity (le64), size_max (le32), seg_max (le32) */
	uint8_t cfg[16] = { 0 };
	uint32_t seg_max = BLK_QUEUE_SIZE - 2;
	memcpy(cfg, &b->sectors, 8);
	memcpy(cfg + 12, &seg_max, 4);
	memset(data, 0, len);
	if (off < sizeof(cfg))
		memcpy(data, cfg + off, MIN((uint64_t)len, sizeof(cfg) - off));
}

static int blk_activate(void *dev, uint64_t acked, struct virtq *queues)
{
	struct blk *b = dev;
	(void)acked;
	b->q = &queues[0];
	return queues[0].ready ? 0 : -EINVAL;
}

static void blk_reset(void *dev)
{
	(void)dev;
}

const struct virtio_dev_ops blk_ops = {
	.name = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.num_queues = 1,
	.queue_max = BLK_QUEUE_SIZE,
	.features = blk_features,
	.read_config = blk_read_config,
	.activate = blk_activate,
	.process = blk_process,
	.reset = blk_reset,
	.attach = blk_attach,
};
