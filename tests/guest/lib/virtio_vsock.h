/* virtio-vsock, polled: raw packets in and out, the guest side of the protocol by hand. */
#ifndef GUEST_VIRTIO_VSOCK_H
#define GUEST_VIRTIO_VSOCK_H

#include "virtio.h"

#define VIRTIO_ID_VSOCK 19
#define VSOCK_RX_BUF 4096

enum {
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

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

struct vvsock {
	struct virtq rxq; /* first: page aligned */
	struct virtq txq;
	struct virtq evq;
	struct virtio_dev dev;
	uint64_t cid;
	uint32_t fwd_cnt; /* bytes of data received, for the credit we give */
	uint8_t rxbuf[VIRTQ_MAX][VSOCK_RX_BUF] ALIGNED(64);
	uint8_t txbuf[VSOCK_RX_BUF] ALIGNED(64);
	uint32_t evbuf[VIRTQ_MAX];
};

int vsock_open(struct vvsock *v, const char *cmdline);
/* One packet to the host (CID 2); type defaults to stream when 0 is given as 1. */
int vsock_send_raw(struct vvsock *v, const struct vsock_hdr *h, const void *data, uint32_t len);
int vsock_send(struct vvsock *v, uint32_t src_port, uint32_t dst_port, uint16_t op,
	       uint32_t flags, const void *data, uint32_t len);
/* Next packet from the host: 0 (header in h, payload in data up to max), -1 timeout. */
int vsock_recv(struct vvsock *v, struct vsock_hdr *h, void *data, uint32_t max,
	       unsigned timeout_ms);
/* An event from the event queue: 1 (its id in *id), 0 none yet. */
int vsock_event(struct vvsock *v, uint32_t *id);
const char *vsock_op_name(uint16_t op);

#endif
