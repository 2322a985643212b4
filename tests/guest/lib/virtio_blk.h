/* virtio-blk requests over the polled virtio-mmio driver. */
#ifndef GUEST_VIRTIO_BLK_H
#define GUEST_VIRTIO_BLK_H

#include "virtio.h"

#define VIRTIO_BLK_F_SIZE_MAX (1ULL << 1)
#define VIRTIO_BLK_F_SEG_MAX (1ULL << 2)
#define VIRTIO_BLK_F_RO (1ULL << 5)
#define VIRTIO_BLK_F_BLK_SIZE (1ULL << 6)
#define VIRTIO_BLK_F_FLUSH (1ULL << 9)

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_CFG_CAPACITY 0x00	/* le64, in 512-byte sectors */
#define VIRTIO_BLK_ID_BYTES 20
#define SECTOR_SIZE 512

/* blk_request() results besides a status byte (0..255). */
#define BLK_TIMEOUT (-1)
#define BLK_NEEDS_RESET (-2)
#define BLK_NO_STATUS (-3)	/* used entry came back, status byte untouched */
#define BLK_BAD_ARGS (-4)

#define BLK_MAX_SEGS 4
#define BLK_TIMEOUT_MS 10000	/* generous: a rate-limited device is slow */

struct virtio_blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk_seg {
	void *buf;
	uint32_t len;
};

struct blk {
	struct virtq vq;	/* first: page aligned */
	struct virtio_dev dev;
	uint64_t wanted;	/* features asked for, besides VERSION_1 */
	uint64_t capacity;	/* sectors */
	struct virtio_blk_req_hdr hdr ALIGNED(16);
	volatile uint8_t status;
	uint32_t used_len;	/* of the last completed request */
};

/* Find the nth virtio-blk device, negotiate, set up queue 0, DRIVER_OK. */
int blk_open(struct blk *b, const char *cmdline, int nth, uint64_t wanted);

/* Reset the device and initialise it again (after DEVICE_NEEDS_RESET). */
int blk_reinit(struct blk *b);

/*
 * One request: header, the segments (device-writable for IN and GET_ID,
 * readable otherwise), status.  The chain uses the queue's top
 * descriptors, so low ones are free for hand-made chains (blk_bad).
 * Returns the status byte or a BLK_* error.
 */
int blk_request(struct blk *b, uint32_t type, uint64_t sector, const struct blk_seg *segs,
		int nsegs);

/* A single-buffer read or write. */
int blk_read(struct blk *b, uint64_t sector, void *buf, uint32_t len);
int blk_write(struct blk *b, uint64_t sector, void *buf, uint32_t len);

/* Name of a blk_request() result: "OK", "IOERR", "timeout", ... */
const char *blk_strstatus(int st);

#endif
