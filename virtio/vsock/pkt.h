/* virtio-vsock packets: the header, checked field by field. Pure, unit-tested. */
#ifndef MVM_VIRTIO_VSOCK_PKT_H
#define MVM_VIRTIO_VSOCK_PKT_H

#include <stdint.h>

#include "../virtq.h"

struct iovec;

#define VSOCK_TYPE_STREAM 1

enum vsock_op {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

#define VSOCK_SHUTDOWN_RCV  1
#define VSOCK_SHUTDOWN_SEND 2

/* The largest payload one packet may carry (Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
#define VSOCK_MAX_PAYLOAD (64u * 1024)

struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));

#define VSOCK_HDR_LEN ((uint32_t)sizeof(struct vsock_hdr)) /* 44 */

enum vsock_pkt_err {
	VSOCK_PKT_OK = 0,
	VSOCK_PKT_CHAIN,    /* the chain itself is malformed */
	VSOCK_PKT_SHORT,    /* fewer readable bytes than a header */
	VSOCK_PKT_LEN,	    /* len beyond the bytes that follow, or beyond the maximum */
	VSOCK_PKT_SRC_CID,  /* not the guest's own CID */
	VSOCK_PKT_DST_CID,  /* not the host */
	VSOCK_PKT_TYPE,	    /* not a stream */
	VSOCK_PKT_OP,	    /* unknown op */
	VSOCK_PKT_LEN_OP,   /* a payload on an op that has none */
	VSOCK_PKT_WRITABLE, /* device-writable buffers in a TX chain */
};

const char *vsock_pkt_err_str(enum vsock_pkt_err e);

/* A packet the guest sent on its TX queue: header copied out (it may span buffers). */
enum vsock_pkt_err vsock_parse_tx(const struct virtq_chain *c, uint64_t guest_cid,
				  struct vsock_hdr *h);

/* Walk a chain's readable (write=false) or writable bytes from an offset. */
struct chain_cursor {
	const struct virtq_chain *c;
	int buf;
	uint32_t off;
	bool write;
};

void cursor_init(struct chain_cursor *cur, const struct virtq_chain *c, bool write);
/* Copy n bytes out of (readable) or into (writable) the chain; returns bytes done. */
uint32_t cursor_copy(struct chain_cursor *cur, void *p, uint32_t n, bool into_chain);
/* Step over n bytes; returns bytes skipped. */
uint32_t cursor_skip(struct chain_cursor *cur, uint32_t n);
/* Up to max iovecs over the next `len` bytes; returns the count, *got the bytes. */
int cursor_iov(struct chain_cursor *cur, struct iovec *iov, int max, uint32_t len, uint32_t *got);

#endif
