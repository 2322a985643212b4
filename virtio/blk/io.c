/* virtio-blk requests: checked, then done at once (Sync) or through
 * io_uring (Async, completed by blk_aio_done). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../../lib/util.h"
#include "impl.h"

/* What a request costs the bandwidth bucket: its data bytes (reads and writes only). */
uint64_t blk_request_bytes(const struct virtq_chain *c)
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

#define BLK_QUEUED UINT32_MAX	    /* the request went to io_uring */
#define BLK_BUSY   (UINT32_MAX - 1) /* no free slot: try it again later */

/* Hand the request in b->chain (its iovec in b->iov) to io_uring. */
static uint32_t queue_async(struct blk *b, uint8_t type, int niov, uint64_t pos, uint64_t len)
{
	struct blk_aio_req *r = blk_aio_get(b->aio);
	if (!r)
		return BLK_BUSY;
	r->head = b->chain.head;
	r->type = type;
	r->status = b->chain.status;
	r->len = len;
	r->written = type == VIRTIO_BLK_T_IN ? (uint32_t)MIN(len, (uint64_t)UINT32_MAX - 2) : 0;
	r->niov = niov;
	memcpy(r->iov, b->iov, (size_t)niov * sizeof(r->iov[0]));
	if (type == VIRTIO_BLK_T_FLUSH)
		blk_aio_queue_fsync(b->aio, r, b->fd);
	else
		blk_aio_queue_rw(b->aio, r, b->fd, type == VIRTIO_BLK_T_OUT, pos);
	return BLK_QUEUED;
}

/* A read or write done: its counters; a read's buffers noted as written. */
static void account(struct blk *b, struct virtq *q, bool write, const struct iovec *iov, int niov,
		    uint64_t len)
{
	if (write) {
		b->stats.write_bytes += len;
		b->stats.write_count++;
		return;
	}
	for (int i = 0; i < niov; i++)
		virtq_mark_written(q, iov[i].iov_base, iov[i].iov_len);
	b->stats.read_bytes += len;
	b->stats.read_count++;
}

void blk_aio_done(void *opaque, struct blk_aio_req *r, int64_t result)
{
	struct blk *b = opaque;
	bool ok = r->type == VIRTIO_BLK_T_FLUSH ? result == 0 : result == (int64_t)r->len;
	if (ok && r->type != VIRTIO_BLK_T_FLUSH) {
		account(b, b->q, r->type == VIRTIO_BLK_T_OUT, r->iov, r->niov, r->len);
	} else if (!ok) {
		b->stats.io_errors++;
		log_once(b->logged_io, LOG_WARN, "drive %s: %s failed: %s", b->id,
			 r->type == VIRTIO_BLK_T_IN    ? "read"
			 : r->type == VIRTIO_BLK_T_OUT ? "write"
						       : "flush",
			 result < 0 ? strerror((int)-result) : "short transfer");
	}
	uint32_t len = 0;
	if (r->status) {
		*r->status = ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
		virtq_mark_written(b->q, r->status, 1);
		len = (ok ? r->written : 0) + 1;
	}
	virtq_push(b->q, r->head, len);
	b->pending_used = true;
}

void blk_drain(struct blk *b)
{
	if (!b->aio || !blk_aio_in_flight(b->aio))
		return;
	if (b->host)
		b->host->lock(b->host->t);
	blk_aio_reap(b->aio, true, blk_aio_done, b);
	if (b->host) {
		b->host->unlock(b->host->t);
		b->host->kick(b->host->t, 0); /* the interrupt for what completed */
	}
}

/* A read or write of len bytes at sector through the iovec in b->iov:
 * checked against the disk, then done (*status OK) or queued (BLK_QUEUED). */
static uint32_t rw(struct blk *b, struct virtq *q, bool write, int niov, uint64_t sector,
		   uint64_t len, uint8_t *status)
{
	uint64_t cap = b->sectors << SECTOR_SHIFT, pos = sector << SECTOR_SHIFT;
	if (len % SECTOR_SIZE || sector > (cap >> SECTOR_SHIFT) || len > cap - pos) {
		b->stats.invalid_reqs++;
		return 0;
	}
	if (b->aio && niov <= BLK_AIO_IOV)
		return queue_async(b, write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, niov, pos, len);
	if (do_io(b, write, niov, pos, len)) {
		b->stats.io_errors++;
		log_once(b->logged_io, LOG_WARN, "drive %s: %s failed", b->id,
			 write ? "write" : "read");
		return 0;
	}
	account(b, q, write, b->iov, niov, len);
	*status = VIRTIO_BLK_S_OK;
	return write ? 0 : (uint32_t)MIN(len, (uint64_t)UINT32_MAX - 2);
}

/* Handle one request; returns bytes written into the guest's buffers, or
 * BLK_QUEUED / BLK_BUSY with io_uring. */
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
	uint64_t data_len;
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
		written = rw(b, q, false, niov, hdr.sector, data_len, &status);
		if (written >= BLK_BUSY)
			return written;
		break;
	}
	case VIRTIO_BLK_T_OUT: {
		if (b->read_only) {
			b->stats.invalid_reqs++;
			break;
		}
		niov = build_iov(b, buf, off, false, UINT64_MAX, &data_len);
		written = rw(b, q, true, niov, hdr.sector, data_len, &status);
		if (written >= BLK_BUSY)
			return written;
		break;
	}
	case VIRTIO_BLK_T_FLUSH:
		b->stats.flush_count++;
		/* Unsafe caching acknowledges at once, as its name says. */
		if (b->writeback && !b->read_only && b->aio && c->status)
			return queue_async(b, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
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

bool blk_process(void *dev, int qidx, struct virtq *q, bool *fatal)
{
	struct blk *b = dev;
	bool used = false;
	(void)qidx;
	if (b->aio) {
		blk_aio_reap(b->aio, false, blk_aio_done, b);
		used = b->pending_used;
		b->pending_used = false;
	}
	if (rl_blocked(&b->rl))
		return used; /* the limiter's timer kicks us */
	do {
		int r;
		while ((r = virtq_pop(q, &b->chain)) == 1) {
			if (!rl_consume(&b->rl, blk_request_bytes(&b->chain))) {
				virtq_unpop(q, 1);
				goto out;
			}
			uint32_t len = handle(b, q);
			if (len == BLK_BUSY) {
				/* Every slot in flight: a completion kicks us again. */
				rl_put_back(&b->rl, blk_request_bytes(&b->chain));
				virtq_unpop(q, 1);
				goto out;
			}
			if (len == BLK_QUEUED)
				continue;
			virtq_push(q, b->chain.head, len);
			used = true;
		}
		if (r < 0) {
			*fatal = true;
			goto out;
		}
	} while (virtq_enable_notify(q));
out:
	if (b->aio && blk_aio_submit(b->aio) < 0)
		log_once(b->logged_io, LOG_WARN, "drive %s: io_uring submit failed", b->id);
	return used;
}
