#include "blk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../../lib/err.h"
#include "../../lib/log.h"
#include "../../lib/util.h"

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
	bool logged_bad, logged_io;
	struct virtq_chain chain; /* scratch: too big for the stack */
	struct iovec iov[VIRTQ_MAX_CHAIN];
};

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
	(void)async; /* TODO(io_uring) */
	b->fd = -1;
	rl_init(&b->rl, NULL);
	b->path = strdup(path);
	if (!b->path)
		err_set(e, -ENOMEM, "drive %s: out of memory", id);
	if (!b->path || open_backing(b, path, &b->fd, &b->sectors, e)) {
		blk_destroy(b);
		return NULL;
	}
	return b;
}

void blk_destroy(struct blk *b)
{
	if (!b)
		return;
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

int blk_change(struct blk *b, const char *path, const struct rate_limiter_cfg *rl,
	       unsigned which, struct err *e)
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
	if (!r && which && b->host)
		b->host->kick(b->host->t, 0); /* what the old limits held back may go */
	return r;
}

static int blk_attach(void *dev, const struct virtio_host *h)
{
	struct blk *b = dev;
	b->host = h;
	if (rl_active(&b->rl) && h->loop)
		return rl_attach(&b->rl, h->loop, blk_wake, b);
	return 0;
}

/* What a request costs the bandwidth bucket: its data bytes (reads and writes only). */
static uint64_t request_bytes(const struct virtq_chain *c)
{
	uint32_t type;
	if (c->err || c->nr == 0 || c->buf[0].write || c->buf[0].len < sizeof(type))
		return 0;
	memcpy(&type, c->buf[0].hva, sizeof(type));
	if (type == VIRTIO_BLK_T_IN)
		return c->in_len ? c->in_len - 1 : 0;
	if (type == VIRTIO_BLK_T_OUT)
		return c->out_len > sizeof(struct blk_req_hdr) ? c->out_len - 16 : 0;
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
	(void)dev;
	(void)acked;
	return queues[0].ready ? 0 : -EINVAL;
}

/* Copy `len` bytes out of the chain's readable buffers, starting at its beginning. */
static bool gather(const struct virtq_chain *c, void *dst, size_t len, int *buf, size_t *off)
{
	uint8_t *d = dst;
	while (len && *buf < c->nr && !c->buf[*buf].write) {
		size_t k = MIN(len, c->buf[*buf].len - *off);
		memcpy(d, c->buf[*buf].hva + *off, k);
		d += k;
		len -= k;
		*off += k;
		if (*off == c->buf[*buf].len) {
			(*buf)++;
			*off = 0;
		}
	}
	return len == 0;
}

/* Build an iovec over [from buf/off, up to `limit` bytes) of one direction. */
static int build_iov(struct blk *b, int buf, size_t off, bool write, uint64_t limit,
		     uint64_t *total)
{
	const struct virtq_chain *c = &b->chain;
	int n = 0;
	*total = 0;
	for (; buf < c->nr && c->buf[buf].write == write && *total < limit; buf++, off = 0) {
		size_t k = MIN((uint64_t)(c->buf[buf].len - off), limit - *total);
		if (!k)
			continue;
		b->iov[n].iov_base = c->buf[buf].hva + off;
		b->iov[n].iov_len = k;
		n++;
		*total += k;
	}
	return n;
}

static int do_io(struct blk *b, bool write, int niov, uint64_t pos, uint64_t len)
{
	struct iovec *iov = b->iov;
	while (len) {
		ssize_t r = write ? pwritev(b->fd, iov, niov, (off_t)pos)
				  : preadv(b->fd, iov, niov, (off_t)pos);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		pos += (uint64_t)r;
		len -= (uint64_t)r;
		/* Short transfer: advance the iovec and go on. */
		while (r > 0 && niov) {
			if ((size_t)r >= iov->iov_len) {
				r -= (ssize_t)iov->iov_len;
				iov++;
				niov--;
			} else {
				iov->iov_base = (uint8_t *)iov->iov_base + r;
				iov->iov_len -= (size_t)r;
				r = 0;
			}
		}
	}
	return 0;
}

/* Handle one request; returns bytes written into the guest's buffers. */
static uint32_t handle(struct blk *b, struct virtq *q)
{
	struct virtq_chain *c = &b->chain;
	struct blk_req_hdr hdr;
	int buf = 0;
	size_t off = 0;
	uint8_t status = VIRTIO_BLK_S_IOERR;
	uint32_t written = 0;

	if (c->err) {
		b->stats.invalid_reqs++;
		log_once(b->logged_bad, LOG_WARN, "drive %s: bad request from the guest: %s", b->id,
			 virtq_err_str(c->err));
		goto out;
	}
	/* The last writable byte is the status; the header is the first 16 readable. */
	if (!c->in_len || !gather(c, &hdr, sizeof(hdr), &buf, &off)) {
		b->stats.invalid_reqs++;
		log_once(b->logged_bad, LOG_WARN, "drive %s: request without header or status byte",
			 b->id);
		goto out;
	}
	uint64_t data_len, cap = b->sectors << SECTOR_SHIFT;
	int niov;
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN: {
		/* Readable buffers after the header are not allowed for a read. */
		niov = build_iov(b, buf, off, false, UINT64_MAX, &data_len);
		if (niov) {
			b->stats.invalid_reqs++;
			break;
		}
		int first_w = 0;
		while (first_w < c->nr && !c->buf[first_w].write)
			first_w++;
		niov = build_iov(b, first_w, 0, true, c->in_len - 1, &data_len);
		uint64_t pos = hdr.sector << SECTOR_SHIFT;
		if (data_len % SECTOR_SIZE || hdr.sector > (cap >> SECTOR_SHIFT) ||
		    data_len > cap - pos) {
			b->stats.invalid_reqs++;
			break;
		}
		if (do_io(b, false, niov, pos, data_len)) {
			b->stats.io_errors++;
			log_once(b->logged_io, LOG_WARN, "drive %s: read failed", b->id);
			break;
		}
		written = (uint32_t)MIN(data_len, (uint64_t)UINT32_MAX - 1);
		for (int i = 0; i < niov; i++)
			virtq_mark_written(q, b->iov[i].iov_base, b->iov[i].iov_len);
		b->stats.read_bytes += data_len;
		b->stats.read_count++;
		status = VIRTIO_BLK_S_OK;
		break;
	}
	case VIRTIO_BLK_T_OUT: {
		if (b->read_only) {
			b->stats.invalid_reqs++;
			break;
		}
		niov = build_iov(b, buf, off, false, UINT64_MAX, &data_len);
		uint64_t pos = hdr.sector << SECTOR_SHIFT;
		if (data_len % SECTOR_SIZE || hdr.sector > (cap >> SECTOR_SHIFT) ||
		    data_len > cap - pos) {
			b->stats.invalid_reqs++;
			break;
		}
		if (do_io(b, true, niov, pos, data_len)) {
			b->stats.io_errors++;
			log_once(b->logged_io, LOG_WARN, "drive %s: write failed", b->id);
			break;
		}
		b->stats.write_bytes += data_len;
		b->stats.write_count++;
		status = VIRTIO_BLK_S_OK;
		break;
	}
	case VIRTIO_BLK_T_FLUSH:
		b->stats.flush_count++;
		/* Unsafe caching acknowledges at once, as its name says. */
		if (b->writeback && !b->read_only && fdatasync(b->fd) < 0) {
			b->stats.io_errors++;
			break;
		}
		status = VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		int first_w = 0;
		while (first_w < c->nr && !c->buf[first_w].write)
			first_w++;
		uint8_t id[BLK_ID_BYTES] = { 0 };
		memcpy(id, b->id, strnlen(b->id, BLK_ID_BYTES));
		size_t left = MIN((size_t)BLK_ID_BYTES, (size_t)c->in_len - 1), done = 0;
		for (int i = first_w; i < c->nr && done < left; i++) {
			size_t k = MIN(left - done, (size_t)c->buf[i].len);
			memcpy(c->buf[i].hva, id + done, k);
			virtq_mark_written(q, c->buf[i].hva, k);
			done += k;
		}
		written = (uint32_t)done;
		status = VIRTIO_BLK_S_OK;
		break;
	}
	default: status = VIRTIO_BLK_S_UNSUPP; b->stats.invalid_reqs++;
	}
out:
	if (c->status) {
		*c->status = status;
		virtq_mark_written(q, c->status, 1);
		return written + 1;
	}
	return 0;
}

static bool blk_process(void *dev, int qidx, struct virtq *q, bool *fatal)
{
	struct blk *b = dev;
	bool used = false;
	(void)qidx;
	if (rl_blocked(&b->rl))
		return false; /* the limiter's timer kicks us */
	do {
		int r;
		while ((r = virtq_pop(q, &b->chain)) == 1) {
			if (!rl_consume(&b->rl, request_bytes(&b->chain))) {
				virtq_unpop(q, 1);
				return used;
			}
			uint32_t len = handle(b, q);
			virtq_push(q, b->chain.head, len);
			used = true;
		}
		if (r < 0) {
			*fatal = true;
			return used;
		}
	} while (virtq_enable_notify(q));
	return used;
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
