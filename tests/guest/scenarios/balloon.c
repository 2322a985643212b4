/*
 * balloon: inflate and deflate through virtio-balloon, driven by the host's
 * target. Touches balloon.mib (default 64) MiB from 32 MiB up (the guest's
 * RAM must reach past it), prints "balloon: touched", waits (60 s) for a
 * target, gives those pages (from 32 MiB up) to the device in 256-page
 * lists, with one list of page numbers outside RAM, sets `actual` and prints
 * "balloon: inflated N pages"; then waits for a target of 0, deflates,
 * checks the pages read back as zero (released by the host) and PASSes.
 * With statistics negotiated it answers every statistics request with
 * free/total memory and a tag the spec does not define.
 */
#include "cmdline.h"
#include "virtio_poll.h"

const char guest_name[] = GUEST_NAME;

#define VIRTIO_ID_BALLOON 5
#define F_STATS (1ULL << 1)
#define F_DEFLATE_ON_OOM (1ULL << 2)
#define BASE (32ULL << 20)
#define PER_LIST 256

struct stat_entry {
	uint16_t tag;
	uint64_t val;
} __attribute__((packed));

static struct virtq inflq, deflq, statq;
static struct virtio_dev dev;
static uint32_t pfns[PER_LIST];
static struct stat_entry stats[3];
static unsigned stats_requests;

static uint32_t target(void)
{
	return virtio_config_read32(&dev, 0);
}

static void set_actual(uint32_t pages)
{
	mmio_write32(dev.base + VIRTIO_MMIO_CONFIG + 4, pages);
}

static void post_stats(void)
{
	stats[0] = (struct stat_entry){ 4, 12345ULL << 12 }; /* free memory */
	stats[1] = (struct stat_entry){ 5, 1ULL << 27 };     /* total memory */
	stats[2] = (struct stat_entry){ 77, 1 };	     /* no such tag */
	virtq_desc_set(&statq, 0, paddr(stats), sizeof(stats), 0, 0);
	virtq_publish(&dev, &statq, 0);
}

/* Answer statistics requests while waiting for something else. */
static void poll_stats(void)
{
	struct virtq_used_elem e;
	if ((dev.features & F_STATS) && virtq_take_used(&dev, &statq, &e)) {
		stats_requests++;
		post_stats();
	}
}

static uint32_t wait_target(bool nonzero)
{
	uint64_t end = rdtsc() + 60000 * TSC_PER_MS;
	for (;;) {
		uint32_t t = target();
		if (nonzero ? t != 0 : t == 0)
			return t;
		if (rdtsc() > end)
			test_fail("no %s balloon target within 60 s", nonzero ? "new" : "zero");
		poll_stats();
		for (int i = 0; i < 1000; i++)
			cpu_relax();
	}
}

static void send_pages(struct virtq *q, uint32_t first, uint32_t n)
{
	uint32_t got;
	for (uint32_t done = 0; done < n;) {
		uint32_t k = n - done < PER_LIST ? n - done : PER_LIST;
		for (uint32_t i = 0; i < k; i++)
			pfns[i] = first + done + i;
		virtq_desc_set(q, 0, paddr(pfns), k * 4, 0, 0);
		virtq_publish(&dev, q, 0);
		if (virtq_wait(&dev, q, 0, &got, 5000) != VQ_OK)
			test_fail("page list at %u not taken", first + done);
		done += k;
		poll_stats();
	}
}

void guest_main(const char *cmdline)
{
	uint64_t mib = 64;
	uint32_t got;
	cmdline_get_u64(cmdline, "balloon.mib", &mib);
	if (virtio_find(cmdline, VIRTIO_ID_BALLOON, 0, &dev) ||
	    virtio_negotiate(&dev, F_STATS | F_DEFLATE_ON_OOM) || virtq_setup(&dev, &inflq, 0) ||
	    virtq_setup(&dev, &deflq, 1) || ((dev.features & F_STATS) && virtq_setup(&dev, &statq, 2)))
		test_fail("no usable virtio-balloon device");
	virtio_driver_ok(&dev);
	printf("balloon: features %lx\n", dev.features);
	if (dev.features & F_STATS)
		post_stats();

	volatile uint8_t *p = (volatile uint8_t *)BASE;
	for (uint64_t off = 0; off < (mib << 20); off += 4096)
		p[off] = (uint8_t)(off >> 12 | 1);
	printf("balloon: touched %lu MiB\n", mib);

	uint32_t t = wait_target(true);
	if (t > (mib << 8))
		t = (uint32_t)(mib << 8);
	/* Page numbers outside RAM first: the device must skip them. */
	pfns[0] = 0xffffffffu;
	pfns[1] = 0x7fffffffu;
	virtq_desc_set(&inflq, 0, paddr(pfns), 8, 0, 0);
	virtq_publish(&dev, &inflq, 0);
	if (virtq_wait(&dev, &inflq, 0, &got, 5000) != VQ_OK)
		test_fail("bad page list not taken");
	send_pages(&inflq, (uint32_t)(BASE >> 12), t);
	set_actual(t);
	printf("balloon: inflated %u pages\n", t);

	wait_target(false);
	send_pages(&deflq, (uint32_t)(BASE >> 12), t);
	set_actual(0);
	uint32_t zero = 0;
	for (uint64_t off = 0; off < ((uint64_t)t << 12); off += 4096)
		zero += p[off] == 0;
	printf("balloon: deflated; %u of %u pages read back as zero; %u statistics requests\n",
	       zero, t, stats_requests);
	if (zero != t)
		test_fail("%u pages kept their contents: not released", t - zero);
	test_pass();
}
