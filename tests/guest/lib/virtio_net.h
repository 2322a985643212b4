/* virtio-net, polled: one buffer per frame, no offloads. */
#ifndef GUEST_VIRTIO_NET_H
#define GUEST_VIRTIO_NET_H

#include "virtio.h"

#define VIRTIO_NET_F_MAC (1ULL << 5)
#define NET_HDR_LEN 12
#define NET_BUF_LEN 2048

struct vnet {
	struct virtq rxq; /* first: page aligned */
	struct virtq txq;
	struct virtio_dev dev;
	uint8_t mac[6];
	uint8_t rxbuf[VIRTQ_MAX][NET_BUF_LEN] ALIGNED(64);
	uint8_t txbuf[NET_HDR_LEN + NET_BUF_LEN] ALIGNED(64);
};

/* Find the nth virtio-net, set up both queues, post every receive buffer. */
int vnet_open(struct vnet *n, const char *cmdline, int nth);
/* Send one Ethernet frame (a zero virtio-net header is put in front). 0 or -1. */
int vnet_send(struct vnet *n, const void *frame, uint32_t len);
/* Receive one frame into out (header stripped); its length, or -1 on timeout. */
int vnet_recv(struct vnet *n, void *out, uint32_t max, unsigned timeout_ms);

#endif
