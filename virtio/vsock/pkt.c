#include "pkt.h"

#include <string.h>
#include <sys/uio.h>

#include "../../lib/util.h"
#include "vsock.h"

const char *vsock_pkt_err_str(enum vsock_pkt_err e)
{
	static const char *const s[] = {
		[VSOCK_PKT_OK] = "ok",
		[VSOCK_PKT_CHAIN] = "malformed descriptor chain",
		[VSOCK_PKT_SHORT] = "shorter than a header",
		[VSOCK_PKT_LEN] = "payload length beyond the buffer or the 64 KiB maximum",
		[VSOCK_PKT_SRC_CID] = "source CID is not the guest's",
		[VSOCK_PKT_DST_CID] = "destination CID is not the host (2)",
		[VSOCK_PKT_TYPE] = "not a stream packet",
		[VSOCK_PKT_OP] = "unknown operation",
		[VSOCK_PKT_LEN_OP] = "a payload on an operation that carries none",
		[VSOCK_PKT_WRITABLE] = "device-writable buffers in a transmit chain",
	};
	return e < ARRAY_SIZE(s) ? s[e] : "?";
}

void cursor_init(struct chain_cursor *cur, const struct virtq_chain *c, bool write)
{
	cur->c = c;
	cur->off = 0;
	cur->write = write;
	cur->buf = 0;
	while (cur->buf < c->nr && c->buf[cur->buf].write != write)
		cur->buf++;
}

static void skip_empty(struct chain_cursor *cur)
{
	const struct virtq_chain *c = cur->c;
	while (cur->buf < c->nr &&
	       (c->buf[cur->buf].write != cur->write || cur->off == c->buf[cur->buf].len)) {
		cur->buf++;
		cur->off = 0;
	}
}

uint32_t cursor_copy(struct chain_cursor *cur, void *p, uint32_t n, bool into_chain)
{
	uint8_t *b = p;
	uint32_t done = 0;
	for (skip_empty(cur); done < n && cur->buf < cur->c->nr; skip_empty(cur)) {
		const struct virtq_buf *vb = &cur->c->buf[cur->buf];
		uint32_t k = MIN(n - done, vb->len - cur->off);
		if (!b)
			; /* skipping */
		else if (into_chain)
			memcpy(vb->hva + cur->off, b + done, k);
		else
			memcpy(b + done, vb->hva + cur->off, k);
		cur->off += k;
		done += k;
	}
	return done;
}

uint32_t cursor_skip(struct chain_cursor *cur, uint32_t n)
{
	return cursor_copy(cur, NULL, n, false);
}

int cursor_iov(struct chain_cursor *cur, struct iovec *iov, int max, uint32_t len, uint32_t *got)
{
	struct chain_cursor c = *cur;
	int n = 0;
	*got = 0;
	for (skip_empty(&c); n < max && *got < len && c.buf < c.c->nr; skip_empty(&c)) {
		const struct virtq_buf *vb = &c.c->buf[c.buf];
		uint32_t k = MIN(len - *got, vb->len - c.off);
		iov[n++] = (struct iovec){ vb->hva + c.off, k };
		c.off += k;
		*got += k;
	}
	return n;
}

enum vsock_pkt_err vsock_parse_tx(const struct virtq_chain *c, uint64_t guest_cid,
				  struct vsock_hdr *h)
{
	struct chain_cursor cur;
	if (c->err)
		return VSOCK_PKT_CHAIN;
	if (c->in_len)
		return VSOCK_PKT_WRITABLE;
	cursor_init(&cur, c, false);
	if (cursor_copy(&cur, h, VSOCK_HDR_LEN, false) != VSOCK_HDR_LEN)
		return VSOCK_PKT_SHORT;
	if (h->len > VSOCK_MAX_PAYLOAD || h->len > c->out_len - VSOCK_HDR_LEN)
		return VSOCK_PKT_LEN;
	if (h->src_cid != guest_cid)
		return VSOCK_PKT_SRC_CID;
	if (h->dst_cid != VSOCK_HOST_CID)
		return VSOCK_PKT_DST_CID;
	if (h->type != VSOCK_TYPE_STREAM)
		return VSOCK_PKT_TYPE;
	if (h->op == VSOCK_OP_INVALID || h->op > VSOCK_OP_CREDIT_REQUEST)
		return VSOCK_PKT_OP;
	if (h->len && h->op != VSOCK_OP_RW)
		return VSOCK_PKT_LEN_OP;
	return VSOCK_PKT_OK;
}
