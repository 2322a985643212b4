#include "virtio_net.h"

#include "virtio_poll.h"

int vnet_open(struct vnet *n, const char *cmdline, int nth)
{
	if (virtio_find(cmdline, VIRTIO_ID_NET, nth, &n->dev) ||
	    virtio_negotiate(&n->dev, VIRTIO_NET_F_MAC) || virtq_setup(&n->dev, &n->rxq, 0) ||
	    virtq_setup(&n->dev, &n->txq, 1))
		return -1;
	for (int i = 0; i < 6; i++)
		n->mac[i] = mmio_read8(n->dev.base + VIRTIO_MMIO_CONFIG + (uint32_t)i);
	for (uint16_t i = 0; i < n->rxq.num; i++) {
		virtq_desc_set(&n->rxq, i, paddr(n->rxbuf[i]), NET_BUF_LEN, VIRTQ_DESC_F_WRITE, 0);
		virtq_add(&n->rxq, i);
	}
	virtio_driver_ok(&n->dev);
	virtq_notify(&n->dev, &n->rxq);
	return 0;
}

int vnet_send(struct vnet *n, const void *frame, uint32_t len)
{
	uint32_t got;
	if (len > NET_BUF_LEN)
		return -1;
	memset(n->txbuf, 0, NET_HDR_LEN);
	memcpy(n->txbuf + NET_HDR_LEN, frame, len);
	virtq_desc_set(&n->txq, 0, paddr(n->txbuf), NET_HDR_LEN + len, 0, 0);
	virtq_publish(&n->dev, &n->txq, 0);
	return virtq_wait(&n->dev, &n->txq, 0, &got, 2000) == VQ_OK ? 0 : -1;
}

int vnet_recv(struct vnet *n, void *out, uint32_t max, unsigned timeout_ms)
{
	struct virtq_used_elem e;
	if (virtq_wait_any(&n->dev, &n->rxq, &e, timeout_ms) != VQ_OK)
		return -1;
	if (e.id >= n->rxq.num || e.len < NET_HDR_LEN || e.len > NET_BUF_LEN) {
		printf("vnet: bad used entry id=%u len=%u\n", e.id, e.len);
		return -1;
	}
	uint32_t len = e.len - NET_HDR_LEN;
	if (len > max)
		len = max;
	memcpy(out, n->rxbuf[e.id] + NET_HDR_LEN, len);
	virtq_add(&n->rxq, (uint16_t)e.id); /* the buffer goes back for the next frame */
	virtq_notify(&n->dev, &n->rxq);
	return (int)len;
}
