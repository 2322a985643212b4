#include "virtio_vsock.h"

#include "virtio_poll.h"

const char *vsock_op_name(uint16_t op)
{
	static const char *const n[] = { "INVALID", "REQUEST", "RESPONSE", "RST",
					 "SHUTDOWN", "RW", "CREDIT_UPDATE", "CREDIT_REQUEST" };
	return op < ARRAY_SIZE(n) ? n[op] : "?";
}

int vsock_open(struct vvsock *v, const char *cmdline)
{
	if (virtio_find(cmdline, VIRTIO_ID_VSOCK, 0, &v->dev) || virtio_negotiate(&v->dev, 0) ||
	    virtq_setup(&v->dev, &v->rxq, 0) || virtq_setup(&v->dev, &v->txq, 1) ||
	    virtq_setup(&v->dev, &v->evq, 2))
		return -1;
	v->cid = virtio_config_read64(&v->dev, 0);
	for (uint16_t i = 0; i < v->rxq.num; i++) {
		virtq_desc_set(&v->rxq, i, paddr(v->rxbuf[i]), VSOCK_RX_BUF, VIRTQ_DESC_F_WRITE, 0);
		virtq_add(&v->rxq, i);
	}
	for (uint16_t i = 0; i < v->evq.num; i++) {
		virtq_desc_set(&v->evq, i, paddr(&v->evbuf[i]), 4, VIRTQ_DESC_F_WRITE, 0);
		virtq_add(&v->evq, i);
	}
	virtio_driver_ok(&v->dev);
	virtq_notify(&v->dev, &v->rxq);
	virtq_notify(&v->dev, &v->evq);
	return 0;
}

int vsock_send_raw(struct vvsock *v, const struct vsock_hdr *h, const void *data, uint32_t len)
{
	uint32_t got;
	if (sizeof(*h) + len > sizeof(v->txbuf))
		return -1;
	memcpy(v->txbuf, h, sizeof(*h));
	if (len)
		memcpy(v->txbuf + sizeof(*h), data, len);
	virtq_desc_set(&v->txq, 0, paddr(v->txbuf), (uint32_t)sizeof(*h) + len, 0, 0);
	virtq_publish(&v->dev, &v->txq, 0);
	return virtq_wait(&v->dev, &v->txq, 0, &got, 2000) == VQ_OK ? 0 : -1;
}

int vsock_send(struct vvsock *v, uint32_t src_port, uint32_t dst_port, uint16_t op,
	       uint32_t flags, const void *data, uint32_t len)
{
	struct vsock_hdr h = {
		.src_cid = v->cid, .dst_cid = 2, .src_port = src_port, .dst_port = dst_port,
		.len = len, .type = 1, .op = op, .flags = flags,
		.buf_alloc = VIRTQ_MAX * VSOCK_RX_BUF, .fwd_cnt = v->fwd_cnt,
	};
	return vsock_send_raw(v, &h, data, len);
}

int vsock_recv(struct vvsock *v, struct vsock_hdr *h, void *data, uint32_t max,
	       unsigned timeout_ms)
{
	struct virtq_used_elem e;
	if (virtq_wait_any(&v->dev, &v->rxq, &e, timeout_ms) != VQ_OK)
		return -1;
	if (e.id >= v->rxq.num || e.len < sizeof(*h) || e.len > VSOCK_RX_BUF) {
		printf("vsock: bad used entry id=%u len=%u\n", e.id, e.len);
		return -1;
	}
	memcpy(h, v->rxbuf[e.id], sizeof(*h));
	uint32_t n = h->len < max ? h->len : max;
	if (n > e.len - sizeof(*h))
		n = e.len - (uint32_t)sizeof(*h);
	memcpy(data, v->rxbuf[e.id] + sizeof(*h), n);
	if (h->op == VSOCK_OP_RW)
		v->fwd_cnt += h->len;
	virtq_add(&v->rxq, (uint16_t)e.id);
	virtq_notify(&v->dev, &v->rxq);
	return 0;
}

int vsock_event(struct vvsock *v, uint32_t *id)
{
	struct virtq_used_elem e;
	if (!virtq_take_used(&v->dev, &v->evq, &e))
		return 0;
	*id = e.id < v->evq.num ? v->evbuf[e.id] : 0xffffffffu;
	if (e.id < v->evq.num) {
		virtq_add(&v->evq, (uint16_t)e.id);
		virtq_notify(&v->dev, &v->evq);
	}
	return 1;
}
