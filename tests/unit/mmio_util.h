/*
 * Shared by test_mmio.c and test_mmio_live.c: a virtio-mmio transport without
 * KVM (kvm == NULL: no ioeventfds, no irqfd) over a fake device and a fake
 * guest RAM, its interrupts observed through a bare eventfd, and the
 * driver's side of the register interface.
 */
#ifndef MVM_TEST_MMIO_UTIL_H
#define MVM_TEST_MMIO_UTIL_H

#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../virtio/mmio.h"
#include "../../lib/log.h"

enum {
	MAGIC = 0x000,
	VERSION = 0x004,
	DEVICE_ID = 0x008,
	VENDOR_ID = 0x00c,
	DEV_FEATURES = 0x010,
	DEV_FEATURES_SEL = 0x014,
	DRV_FEATURES = 0x020,
	DRV_FEATURES_SEL = 0x024,
	QUEUE_SEL = 0x030,
	QUEUE_NUM_MAX = 0x034,
	QUEUE_NUM = 0x038,
	QUEUE_READY = 0x044,
	QUEUE_NOTIFY = 0x050,
	INT_STATUS = 0x060,
	INT_ACK = 0x064,
	STATUS = 0x070,
	DESC_LO = 0x080,
	DESC_HI = 0x084,
	DRIVER_LO = 0x090,
	DRIVER_HI = 0x094,
	DEVICE_LO = 0x0a0,
	DEVICE_HI = 0x0a4,
	CONFIG_GEN = 0x0fc,
	CONFIG = 0x100,
};

#define ACK	    VIRTIO_STATUS_ACKNOWLEDGE
#define DRV	    VIRTIO_STATUS_DRIVER
#define FOK	    VIRTIO_STATUS_FEATURES_OK
#define DOK	    VIRTIO_STATUS_DRIVER_OK
#define NEEDS_RESET VIRTIO_STATUS_NEEDS_RESET
#define F_VERSION_1 (1ULL << VIRTIO_F_VERSION_1)
#define F_EVENT_IDX (1ULL << VIRTIO_RING_F_EVENT_IDX)
#define F_DEV	    (1ULL << 5)
#define F_DEV_HIGH  (1ULL << 35)

#define RAM_SIZE 0x100000
#define DESC	 0x0000
#define AVAIL	 0x1000
#define USED	 0x2000
#define BUF	 0x10000

/* A device that offers a few features and completes every buffer with len 7. */
struct fake {
	int activates, resets, processed;
	uint64_t acked;
	int activate_ret;
	uint8_t cfg[16];
	uint64_t written_off;
	uint8_t written[4];
};

static inline uint64_t fake_features(void *dev)
{
	(void)dev;
	return F_DEV | F_EVENT_IDX | F_DEV_HIGH;
}

static inline void fake_read_config(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct fake *f = dev;
	memset(data, 0, len);
	for (uint32_t i = 0; i < len && off + i < sizeof(f->cfg); i++)
		data[i] = f->cfg[off + i];
}

static inline void fake_write_config(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct fake *f = dev;
	f->written_off = off;
	memcpy(f->written, data, len < 4 ? len : 4);
}

static inline int fake_activate(void *dev, uint64_t acked, struct virtq *queues)
{
	struct fake *f = dev;
	(void)queues;
	f->activates++;
	f->acked = acked;
	return f->activate_ret;
}

static inline bool fake_process(void *dev, int qidx, struct virtq *q, bool *fatal)
{
	static struct virtq_chain c;
	struct fake *f = dev;
	bool used = false;
	int r;
	(void)qidx;
	while ((r = virtq_pop(q, &c)) == 1) {
		virtq_push(q, c.head, 7);
		f->processed++;
		used = true;
	}
	if (r < 0)
		*fatal = true;
	return used;
}

static inline void fake_reset(void *dev)
{
	((struct fake *)dev)->resets++;
}

static const struct virtio_dev_ops fake_ops = {
	.name = "fake",
	.device_id = 42,
	.num_queues = 2,
	.queue_max = 64,
	.features = fake_features,
	.read_config = fake_read_config,
	.write_config = fake_write_config,
	.activate = fake_activate,
	.process = fake_process,
	.reset = fake_reset,
};

static uint8_t *ram;
static struct guest_mem mem;
static struct fake dev;
static struct virtio_mmio *t;
static int efd;

static inline void mmio_setup(void)
{
	log_set_level(LOG_OFF);
	ram = calloc(1, RAM_SIZE);
	cr_assert_not_null(ram);
	mem = (struct guest_mem){ .nr = 1, .size = RAM_SIZE, .fd = -1 };
	mem.r[0] = (struct guest_region){ .gpa = 0, .size = RAM_SIZE, .hva = ram };
	memset(&dev, 0, sizeof(dev));
	for (int i = 0; i < 16; i++)
		dev.cfg[i] = (uint8_t)(0x10 + i);
	t = virtio_mmio_create(&fake_ops, &dev, &mem, NULL, NULL, 0xc0001000, 5);
	cr_assert_not_null(t, "the transport must work without KVM");
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	cr_assert_geq(efd, 0);
	t->irq.fd = efd; /* closed by virtio_mmio_destroy */
}

static inline void mmio_teardown(void)
{
	virtio_mmio_destroy(t);
	free(ram);
}

static inline uint32_t rd(uint64_t off)
{
	uint32_t v = 0xdeadbeef;
	virtio_mmio_rw(t, off, (uint8_t *)&v, 4, false);
	return v;
}

static inline void wr(uint64_t off, uint32_t v)
{
	virtio_mmio_rw(t, off, (uint8_t *)&v, 4, true);
}

static inline uint64_t irqs(void)
{
	uint64_t n = 0;
	if (read(efd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

static inline void write_features(uint64_t f)
{
	wr(DRV_FEATURES_SEL, 0);
	wr(DRV_FEATURES, (uint32_t)f);
	wr(DRV_FEATURES_SEL, 1);
	wr(DRV_FEATURES, (uint32_t)(f >> 32));
}

/* Reset, acknowledge, accept `f`, set FEATURES_OK; returns the status read back. */
static inline uint32_t negotiate(uint64_t f)
{
	wr(STATUS, 0);
	wr(STATUS, ACK);
	wr(STATUS, ACK | DRV);
	write_features(f);
	wr(STATUS, ACK | DRV | FOK);
	return rd(STATUS);
}

static inline void setup_queue(uint32_t sel, uint32_t size, uint64_t desc, uint64_t avail,
			       uint64_t used)
{
	wr(QUEUE_SEL, sel);
	wr(QUEUE_NUM, size);
	wr(DESC_LO, (uint32_t)desc);
	wr(DESC_HI, (uint32_t)(desc >> 32));
	wr(DRIVER_LO, (uint32_t)avail);
	wr(DRIVER_HI, (uint32_t)(avail >> 32));
	wr(DEVICE_LO, (uint32_t)used);
	wr(DEVICE_HI, (uint32_t)(used >> 32));
	wr(QUEUE_READY, 1);
}

/* The whole driver init sequence with queue 0 of 16 entries. */
static inline void bring_up(uint64_t f)
{
	cr_assert(negotiate(f) & FOK);
	setup_queue(0, 16, DESC, AVAIL, USED);
	cr_assert_eq(rd(QUEUE_READY), 1);
	wr(STATUS, ACK | DRV | FOK | DOK);
	cr_assert_eq(rd(STATUS), ACK | DRV | FOK | DOK);
}

/* Post a one-descriptor buffer on queue 0. */
static inline void post(void)
{
	struct virtq_desc d = { BUF, 64, VIRTQ_DESC_F_WRITE, 0 };
	memcpy(ram + DESC, &d, sizeof(d));
	uint16_t *avail = (uint16_t *)(ram + AVAIL);
	avail[2 + avail[1] % 16] = 0;
	avail[1]++;
}

static inline uint16_t used_idx(void)
{
	return ((uint16_t *)(ram + USED))[1];
}

#endif
