/* Modern virtio-mmio transport and split virtqueues, polled. */
#include "virtio.h"

#include "cmdline.h"

#define MAX_SLOTS 32
#define RESET_TIMEOUT_MS 1000

static uint32_t rd(const struct virtio_dev *d, uint32_t off)
{
	return mmio_read32(d->base + off);
}

static void wr(const struct virtio_dev *d, uint32_t off, uint32_t v)
{
	mmio_write32(d->base + off, v);
}

int virtio_find(const char *cmdline, uint32_t device_id, int nth, struct virtio_dev *dev)
{
	struct mmio_slot slots[MAX_SLOTS];
	int n = cmdline_virtio_mmio(cmdline, slots, MAX_SLOTS);

	for (int i = 0; i < n; i++) {
		struct virtio_dev d = { .base = slots[i].base, .size = slots[i].size,
					.irq = slots[i].irq };
		uint32_t magic, version;

		if (d.base >= 0x100000000ULL || d.size < VIRTIO_MMIO_CONFIG) {
			printf("virtio: slot %lx size %lx: not usable (above 4 GiB or too small)\n",
			       d.base, d.size);
			continue;
		}
		magic = rd(&d, VIRTIO_MMIO_MAGIC_VALUE);
		version = rd(&d, VIRTIO_MMIO_VERSION);
		d.device_id = rd(&d, VIRTIO_MMIO_DEVICE_ID);
		if (magic != VIRTIO_MMIO_MAGIC) {
			printf("virtio: slot %lx: bad magic %x\n", d.base, magic);
			continue;
		}
		if (d.device_id == 0)
			continue;	/* an empty transport */
		printf("virtio: slot %lx irq %u: device %u version %u\n", d.base, d.irq,
		       d.device_id, version);
		if (d.device_id != device_id)
			continue;
		if (version != 2) {
			printf("virtio: slot %lx: version %u, not modern virtio-mmio (2)\n",
			       d.base, version);
			continue;
		}
		if (nth-- == 0) {
			*dev = d;
			return 0;
		}
	}
	return -1;
}

uint32_t virtio_status(const struct virtio_dev *dev)
{
	return rd(dev, VIRTIO_MMIO_STATUS);
}

void virtio_reset(struct virtio_dev *dev)
{
	uint64_t end = rdtsc() + RESET_TIMEOUT_MS * TSC_PER_MS;

	wr(dev, VIRTIO_MMIO_STATUS, 0);
	while (rd(dev, VIRTIO_MMIO_STATUS) != 0) {
		if (rdtsc() > end) {
			printf("virtio: %lx: status still %x after reset\n", dev->base,
			       rd(dev, VIRTIO_MMIO_STATUS));
			return;
		}
		cpu_relax();
	}
}

static void set_status(struct virtio_dev *dev, uint32_t bits)
{
	wr(dev, VIRTIO_MMIO_STATUS, rd(dev, VIRTIO_MMIO_STATUS) | bits);
}

int virtio_negotiate(struct virtio_dev *dev, uint64_t wanted)
{
	virtio_reset(dev);
	set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE);
	set_status(dev, VIRTIO_STATUS_DRIVER);

	wr(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	dev->offered = rd(dev, VIRTIO_MMIO_DEVICE_FEATURES);
	wr(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	dev->offered |= (uint64_t)rd(dev, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	if (!(dev->offered & VIRTIO_F_VERSION_1)) {
		printf("virtio: %lx: device does not offer VIRTIO_F_VERSION_1 (features %lx)\n",
		       dev->base, dev->offered);
		set_status(dev, VIRTIO_STATUS_FAILED);
		return -1;
	}
	dev->features = dev->offered & (wanted | VIRTIO_F_VERSION_1);
	wr(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(dev, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)dev->features);
	wr(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(dev, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(dev->features >> 32));

	set_status(dev, VIRTIO_STATUS_FEATURES_OK);
	if (!(rd(dev, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK)) {
		printf("virtio: %lx: device refused features %lx\n", dev->base, dev->features);
		set_status(dev, VIRTIO_STATUS_FAILED);
		return -1;
	}
	return 0;
}

int virtq_setup(struct virtio_dev *dev, struct virtq *q, uint16_t index)
{
	uint32_t max;

	memset(q, 0, sizeof(*q));
	wr(dev, VIRTIO_MMIO_QUEUE_SEL, index);
	if (rd(dev, VIRTIO_MMIO_QUEUE_READY)) {
		printf("virtio: %lx: queue %u already ready after reset\n", dev->base, index);
		return -1;
	}
	max = rd(dev, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (!max) {
		printf("virtio: %lx: queue %u not available\n", dev->base, index);
		return -1;
	}
	/* The largest power of two not above min(max, VIRTQ_MAX). */
	for (q->num = VIRTQ_MAX; q->num > max; q->num >>= 1)
		;
	q->index = index;

	wr(dev, VIRTIO_MMIO_QUEUE_NUM, q->num);
	wr(dev, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)paddr(q->desc));
	wr(dev, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(paddr(q->desc) >> 32));
	wr(dev, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)paddr(&q->avail));
	wr(dev, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(paddr(&q->avail) >> 32));
	wr(dev, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)paddr(&q->used));
	wr(dev, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(paddr(&q->used) >> 32));
	wr(dev, VIRTIO_MMIO_QUEUE_READY, 1);
	return 0;
}

void virtio_driver_ok(struct virtio_dev *dev)
{
	set_status(dev, VIRTIO_STATUS_DRIVER_OK);
}

uint32_t virtio_config_read32(const struct virtio_dev *dev, uint32_t off)
{
	return rd(dev, VIRTIO_MMIO_CONFIG + off);
}

uint64_t virtio_config_read64(const struct virtio_dev *dev, uint32_t off)
{
	uint32_t gen, lo, hi;

	do {
		gen = rd(dev, VIRTIO_MMIO_CONFIG_GENERATION);
		lo = rd(dev, VIRTIO_MMIO_CONFIG + off);
		hi = rd(dev, VIRTIO_MMIO_CONFIG + off + 4);
	} while (gen != rd(dev, VIRTIO_MMIO_CONFIG_GENERATION));
	return ((uint64_t)hi << 32) | lo;
}

void virtq_publish(struct virtio_dev *dev, struct virtq *q, uint16_t head)
{
	volatile struct virtq_avail *avail = &q->avail;

	avail->ring[q->avail_idx % q->num] = head;
	mb();			/* descriptors and ring entry before the index */
	avail->idx = ++q->avail_idx;
	virtq_notify(dev, q);
}

void virtq_notify(struct virtio_dev *dev, struct virtq *q)
{
	mb();			/* the index before the notification */
	wr(dev, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

static void ack_interrupt(struct virtio_dev *dev)
{
	uint32_t isr = rd(dev, VIRTIO_MMIO_INTERRUPT_STATUS);
	if (isr)
		wr(dev, VIRTIO_MMIO_INTERRUPT_ACK, isr);
}

int virtq_wait(struct virtio_dev *dev, struct virtq *q, uint16_t head, uint32_t *len,
	       unsigned timeout_ms)
{
	volatile struct virtq_used *used = &q->used;
	uint64_t end = rdtsc() + timeout_ms * TSC_PER_MS;

	for (unsigned spin = 1;; spin++) {
		while (used->idx != q->used_idx) {
			mb();	/* the index before the entry it covers */
			struct virtq_used_elem e = used->ring[q->used_idx % q->num];
			q->used_idx++;
			ack_interrupt(dev);
			if (e.id == head) {
				*len = e.len;
				return VQ_OK;
			}
			printf("virtio: %lx: skipping used entry id=%u len=%u (waiting for %u)\n",
			       dev->base, e.id, e.len, head);
		}
		/* A status read is a VM exit: only now and then. */
		if (spin % 256 == 0 || rdtsc() > end) {
			if (virtio_status(dev) & VIRTIO_STATUS_NEEDS_RESET) {
				ack_interrupt(dev);
				return VQ_NEEDS_RESET;
			}
			if (rdtsc() > end)
				return VQ_TIMEOUT;
		}
		cpu_relax();
	}
}
