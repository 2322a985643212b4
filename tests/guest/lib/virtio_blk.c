/* virtio-blk: capacity, and requests as header + data + status chains. */
#include "virtio_blk.h"

static int blk_setup(struct blk *b)
{
	if (virtio_negotiate(&b->dev, b->wanted) < 0)
		return -1;
	if (virtq_setup(&b->dev, &b->vq, 0) < 0)
		return -1;
	virtio_driver_ok(&b->dev);
	b->capacity = virtio_config_read64(&b->dev, VIRTIO_BLK_CFG_CAPACITY);
	return 0;
}

int blk_open(struct blk *b, const char *cmdline, int nth, uint64_t wanted)
{
	if (virtio_find(cmdline, VIRTIO_ID_BLOCK, nth, &b->dev) < 0) {
		printf("virtio-blk: no usable device #%d in the virtio_mmio.device= slots\n", nth);
		return -1;
	}
	b->wanted = wanted;
	if (blk_setup(b) < 0)
		return -1;
	printf("virtio-blk: %lx: capacity %lu sectors, features offered %lx accepted %lx, "
	       "queue size %u\n",
	       b->dev.base, b->capacity, b->dev.offered, b->dev.features, b->vq.num);
	return 0;
}

int blk_reinit(struct blk *b)
{
	return blk_setup(b);
}

int blk_request(struct blk *b, uint32_t type, uint64_t sector, const struct blk_seg *segs,
		int nsegs)
{
	uint16_t flags = (type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID)
				 ? VIRTQ_DESC_F_WRITE
				 : 0;
	uint16_t head, i;
	int r;

	if (nsegs < 0 || nsegs > BLK_MAX_SEGS || b->vq.num < nsegs + 2)
		return BLK_BAD_ARGS;
	head = i = (uint16_t)(b->vq.num - nsegs - 2);

	b->hdr = (struct virtio_blk_req_hdr){ .type = type, .sector = sector };
	b->status = 0xff;
	virtq_desc_set(&b->vq, i, paddr(&b->hdr), sizeof(b->hdr), VIRTQ_DESC_F_NEXT, i + 1);
	for (int s = 0; s < nsegs; s++, i++)
		virtq_desc_set(&b->vq, i + 1, paddr(segs[s].buf), segs[s].len,
			       flags | VIRTQ_DESC_F_NEXT, i + 2);
	virtq_desc_set(&b->vq, i + 1, paddr(&b->status), 1, VIRTQ_DESC_F_WRITE, 0);

	virtq_publish(&b->dev, &b->vq, head);
	r = virtq_wait(&b->dev, &b->vq, head, &b->used_len, BLK_TIMEOUT_MS);
	if (r == VQ_TIMEOUT)
		return BLK_TIMEOUT;
	if (r == VQ_NEEDS_RESET)
		return BLK_NEEDS_RESET;
	mb();
	return b->status == 0xff ? BLK_NO_STATUS : b->status;
}

int blk_read(struct blk *b, uint64_t sector, void *buf, uint32_t len)
{
	struct blk_seg seg = { buf, len };
	return blk_request(b, VIRTIO_BLK_T_IN, sector, &seg, 1);
}

int blk_write(struct blk *b, uint64_t sector, void *buf, uint32_t len)
{
	struct blk_seg seg = { buf, len };
	return blk_request(b, VIRTIO_BLK_T_OUT, sector, &seg, 1);
}

const char *blk_strstatus(int st)
{
	switch (st) {
	case VIRTIO_BLK_S_OK:
		return "OK";
	case VIRTIO_BLK_S_IOERR:
		return "IOERR";
	case VIRTIO_BLK_S_UNSUPP:
		return "UNSUPP";
	case BLK_TIMEOUT:
		return "timeout (no used entry)";
	case BLK_NEEDS_RESET:
		return "device needs reset";
	case BLK_NO_STATUS:
		return "used entry without status";
	case BLK_BAD_ARGS:
		return "bad arguments";
	default:
		return "unknown status";
	}
}
