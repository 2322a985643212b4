#include "virtio_rng.h"

int rng_open(struct rng *r, const char *cmdline)
{
	if (virtio_find(cmdline, VIRTIO_ID_RNG, 0, &r->dev) || virtio_negotiate(&r->dev, 0) ||
	    virtq_setup(&r->dev, &r->vq, 0))
		return -1;
	virtio_driver_ok(&r->dev);
	return 0;
}

int rng_read(struct rng *r, void *out, uint32_t len)
{
	uint32_t got = 0;
	if (len > sizeof(r->buf))
		return -1;
	virtq_desc_set(&r->vq, 0, (uint64_t)(uintptr_t)r->buf, len, VIRTQ_DESC_F_WRITE, 0);
	virtq_publish(&r->dev, &r->vq, 0);
	if (virtq_wait(&r->dev, &r->vq, 0, &got, 2000) != VQ_OK || got > len)
		return -1;
	memcpy(out, r->buf, got);
	return (int)got;
}
