/*
 * virtio-balloon. Queues: inflate (PFNs the guest gives back: released to
 * the host with madvise), deflate (PFNs it takes back: nothing to do), and,
 * with statistics on, a stats queue: the device keeps the guest's buffer
 * and returns it every stats_polling_interval_s, the guest refills it.
 * Every PFN is checked against guest RAM; unknown statistics tags are
 * skipped and counted.
 */
#include "balloon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../../vmm/eventloop.h"
#include "../../lib/log.h"
#include "../../lib/util.h"

#define BALLOON_QUEUE_SIZE 256
#define Q_INFLATE	   0
#define Q_DEFLATE	   1
#define Q_STATS		   2
#define PAGE		   (1ULL << BALLOON_PAGE_SHIFT)
#define STAT_LEN	   10 /* le16 tag, le64 value */
#define STATS_MAX_BYTES	   (64 * STAT_LEN)

struct balloon {
	struct balloon_cfg cfg;
	const struct guest_mem *mem;
	uint32_t num_pages, actual; /* the config space: target, and what the guest has */
	uint64_t acked;
	bool active;
	const struct virtio_host *host;
	struct evloop *loop;
	int stats_fd;
	bool stats_held, stats_due;
	uint16_t stats_head;
	struct balloon_stats st;
	bool logged_pfn, logged_stats, logged_madv;
	struct virtq_chain chain;
};

static const char *const tag_names[BALLOON_NR_TAGS] = {
	"swap_in",	    "swap_out",	   "major_faults",
	"minor_faults",	    "free_memory", "total_memory",
	"available_memory", "disk_caches", "hugetlb_allocations",
	"hugetlb_failures",
};

const char *balloon_tag_name(unsigned tag)
{
	return tag < BALLOON_NR_TAGS ? tag_names[tag] : "?";
}

struct balloon *balloon_create(const struct balloon_cfg *c, const struct guest_mem *mem)
{
	struct balloon *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->cfg = *c;
	b->mem = mem;
	b->stats_fd = -1;
	b->num_pages = c->amount_mib << (20 - BALLOON_PAGE_SHIFT);
	return b;
}

void balloon_destroy(struct balloon *b)
{
	if (!b)
		return;
	if (b->stats_fd >= 0) {
		if (b->loop)
			evloop_del(b->loop, b->stats_fd);
		close(b->stats_fd);
	}
	free(b);
}

void balloon_set_target(struct balloon *b, uint32_t pages)
{
	b->num_pages = pages;
}

void balloon_change_target(struct balloon *b, uint32_t pages)
{
	if (b->host)
		b->host->lock(b->host->t);
	b->num_pages = pages;
	if (b->host) {
		b->host->unlock(b->host->t);
		b->host->config_changed(b->host->t);
	}
}

uint32_t balloon_mem_mib(const struct balloon *b)
{
	return (uint32_t)(b->mem->size >> 20);
}

void balloon_get_stats(struct balloon *b, struct balloon_stats *out)
{
	*out = b->st;
	out->target_pages = b->num_pages;
	out->actual_pages = b->actual;
}

void balloon_save(struct balloon *b, struct balloon_state *s)
{
	*s = (struct balloon_state){ b->num_pages, b->actual, b->stats_held, b->stats_head };
}

int balloon_restore(struct balloon *b, const struct balloon_state *s)
{
	if (s->stats_held > 1 || s->stats_head >= BALLOON_QUEUE_SIZE ||
	    (s->stats_held && !b->cfg.stats_polling_interval_s))
		return -EINVAL;
	b->num_pages = s->num_pages;
	b->actual = s->actual;
	b->stats_held = s->stats_held;
	b->stats_head = (uint16_t)s->stats_head;
	return 0;
}

static int arm_stats(struct balloon *b, uint32_t s)
{
	struct itimerspec its = { .it_interval = { s, 0 }, .it_value = { s, 0 } };
	if (b->stats_fd < 0)
		return 0;
	return timerfd_settime(b->stats_fd, 0, &its, NULL) < 0 ? -errno : 0;
}

int balloon_set_stats_interval(struct balloon *b, uint32_t seconds)
{
	int r = arm_stats(b, seconds);
	if (!r)
		b->cfg.stats_polling_interval_s = seconds;
	return r;
}

/* Time to ask for fresh statistics: give the guest its buffer back. */
static void on_stats_timer(void *opaque, uint32_t events)
{
	struct balloon *b = opaque;
	uint64_t v;
	(void)events;
	if (read(b->stats_fd, &v, sizeof(v)) != sizeof(v))
		return;
	b->host->lock(b->host->t);
	b->stats_due = true;
	b->host->unlock(b->host->t);
	b->host->kick(b->host->t, Q_STATS);
}

static int balloon_attach(void *dev, const struct virtio_host *h)
{
	struct balloon *b = dev;
	b->host = h;
	if (!h->loop || !b->cfg.stats_polling_interval_s)
		return 0;
	b->stats_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (b->stats_fd < 0)
		return -errno;
	int r = evloop_add(h->loop, b->stats_fd, EPOLLIN, on_stats_timer, b);
	if (r)
		return r;
	b->loop = h->loop;
	return arm_stats(b, b->cfg.stats_polling_interval_s);
}

static uint64_t balloon_features(void *dev)
{
	struct balloon *b = dev;
	uint64_t f = 0;
	if (b->cfg.deflate_on_oom)
		f |= 1ULL << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
	if (b->cfg.stats_polling_interval_s)
		f |= 1ULL << VIRTIO_BALLOON_F_STATS_VQ;
	return f;
}

static void balloon_read_config(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct balloon *b = dev;
	uint8_t cfg[8];
	memcpy(cfg, &b->num_pages, 4);
	memcpy(cfg + 4, &b->actual, 4);
	memset(data, 0, len);
	if (off < sizeof(cfg))
		memcpy(data, cfg + off, MIN((uint64_t)len, sizeof(cfg) - off));
}

static void balloon_write_config(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct balloon *b = dev;
	uint8_t cfg[4];
	/* Only `actual` (bytes 4..7) is the driver's to write. */
	if (off < 4 || off >= 8 || len > 8 - off)
		return;
	memcpy(cfg, &b->actual, 4);
	memcpy(cfg + (off - 4), data, len);
	memcpy(&b->actual, cfg, 4);
}

static int balloon_activate(void *dev, uint64_t acked, struct virtq *queues)
{
	struct balloon *b = dev;
	if (!queues[Q_INFLATE].ready || !queues[Q_DEFLATE].ready)
		return -EINVAL;
	if ((acked & (1ULL << VIRTIO_BALLOON_F_STATS_VQ)) && !queues[Q_STATS].ready)
		return -EINVAL;
	b->acked = acked;
	b->active = true;
	return 0;
}

static void balloon_reset(void *dev)
{
	struct balloon *b = dev;
	b->active = false;
	b->stats_held = b->stats_due = false;
	b->actual = 0;
}

static void release(struct balloon *b, uint8_t *hva, uint64_t len)
{
	/* A shared memfd keeps its pages through MADV_DONTNEED: punch them out. */
	int advice = b->mem->backing == MEM_MEMFD ? MADV_REMOVE : MADV_DONTNEED;
	if (madvise(hva, len, advice) < 0) {
		b->st.madvise_fails++;
		log_once(b->logged_madv, LOG_WARN, "balloon: madvise of %llu bytes: %s",
			 (unsigned long long)len, strerror(errno));
		return;
	}
	b->st.released_bytes += len;
}

uint64_t balloon_release_pfns(struct balloon *b, const uint8_t *buf, uint32_t len)
{
	uint8_t *run = NULL;
	uint64_t run_len = 0, pages = 0;
	for (uint32_t off = 0; off + 4 <= len; off += 4) {
		uint32_t pfn;
		memcpy(&pfn, buf + off, 4);
		uint8_t *hva = gpa_to_hva(b->mem, (uint64_t)pfn << BALLOON_PAGE_SHIFT, PAGE);
		if (!hva) {
			b->st.invalid_pfns++;
			log_once(b->logged_pfn, LOG_WARN,
				 "balloon: the guest gave page %#x, outside its RAM: ignored", pfn);
			continue;
		}
		pages++;
		if (run && hva == run + run_len) {
			run_len += PAGE;
			continue;
		}
		if (run)
			release(b, run, run_len);
		run = hva;
		run_len = PAGE;
	}
	if (run)
		release(b, run, run_len);
	if (len % 4) {
		b->st.invalid_pfns++;
		log_once(b->logged_pfn, LOG_WARN, "balloon: a page list of %u bytes (not 4 each)",
			 len);
	}
	b->st.inflated_pages += pages;
	return pages;
}

void balloon_parse_stats(struct balloon *b, const uint8_t *buf, uint32_t len)
{
	b->st.have = 0;
	for (uint32_t off = 0; off + STAT_LEN <= len; off += STAT_LEN) {
		uint16_t tag;
		uint64_t val;
		memcpy(&tag, buf + off, 2);
		memcpy(&val, buf + off + 2, 8);
		if (tag >= BALLOON_NR_TAGS) {
			b->st.unknown_tags++;
			continue;
		}
		b->st.val[tag] = val;
		b->st.have |= 1u << tag;
	}
	if (len % STAT_LEN) {
		b->st.bad_stats++;
		log_once(b->logged_stats, LOG_WARN,
			 "balloon: statistics of %u bytes, not whole %d-byte entries", len,
			 STAT_LEN);
	}
	b->st.stats_updates++;
}

static void handle_pages(struct balloon *b, int qidx)
{
	const struct virtq_chain *c = &b->chain;
	if (c->err) {
		b->st.invalid_pfns++;
		log_once(b->logged_pfn, LOG_WARN, "balloon: bad page list: %s",
			 virtq_err_str(c->err));
		return;
	}
	for (int i = 0; i < c->nr; i++) {
		if (c->buf[i].write)
			continue;
		if (qidx == Q_INFLATE)
			balloon_release_pfns(b, c->buf[i].hva, c->buf[i].len);
		else
			b->st.deflated_pages += c->buf[i].len / 4;
	}
}

static void handle_stats(struct balloon *b)
{
	const struct virtq_chain *c = &b->chain;
	uint8_t buf[STATS_MAX_BYTES];
	uint32_t n = 0;
	for (int i = 0; !c->err && i < c->nr && !c->buf[i].write; i++) {
		uint32_t k = MIN(c->buf[i].len, (uint32_t)sizeof(buf) - n);
		memcpy(buf + n, c->buf[i].hva, k);
		n += k;
	}
	if (c->err)
		b->st.bad_stats++;
	else
		balloon_parse_stats(b, buf, n);
}

static bool balloon_process(void *dev, int qidx, struct virtq *q, bool *fatal)
{
	struct balloon *b = dev;
	bool used = false;
	int r;
	if (qidx == Q_STATS && b->stats_due && b->stats_held) {
		virtq_push(q, b->stats_head, 0);
		b->stats_held = false;
		used = true;
	}
	b->stats_due = false;
	do {
		while ((r = virtq_pop(q, &b->chain)) == 1) {
			if (qidx != Q_STATS) {
				handle_pages(b, qidx);
				virtq_push(q, b->chain.head, 0);
				used = true;
				continue;
			}
			handle_stats(b);
			/* One buffer is kept until the next poll; a second one goes back now. */
			if (b->stats_held) {
				virtq_push(q, b->stats_head, 0);
				used = true;
			}
			b->stats_head = b->chain.head;
			b->stats_held = true;
		}
		if (r < 0) {
			*fatal = true;
			return used;
		}
	} while (virtq_enable_notify(q));
	return used;
}

const struct virtio_dev_ops balloon_ops = {
	.name = "balloon",
	.device_id = VIRTIO_ID_BALLOON,
	.num_queues = 3,
	.queue_max = BALLOON_QUEUE_SIZE,
	.features = balloon_features,
	.read_config = balloon_read_config,
	.write_config = balloon_write_config,
	.activate = balloon_activate,
	.process = balloon_process,
	.reset = balloon_reset,
	.attach = balloon_attach,
};
