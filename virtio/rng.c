#include "rng.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "../lib/json.h"
#include "../lib/log.h"
#include "../lib/strbuf.h"
#include "../lib/util.h"
#include "../lib/wire.h"

#define RNG_QUEUE_SIZE 256
/* Bytes per request at most: a guest asking for gigabytes gets this much. */
#define RNG_MAX_PER_REQUEST (64u * 1024)

struct rng {
	struct rng_stats stats;
	struct rate_limiter rl;
	const struct virtio_host *host;
	bool logged_bad;
	struct virtq_chain chain;
};

struct rng *rng_create(void)
{
	struct rng *r = calloc(1, sizeof(struct rng));
	if (r)
		rl_init(&r->rl, NULL);
	return r;
}

void rng_destroy(struct rng *r)
{
	if (!r)
		return;
	rl_fini(&r->rl);
	free(r);
}

void rng_get_stats(struct rng *r, struct rng_stats *out)
{
	*out = r->stats;
	out->rate_limiter_throttled = r->rl.throttled;
}

void rng_set_rate_limiter(struct rng *r, const struct rate_limiter_cfg *c)
{
	rl_update(&r->rl, c, RL_BANDWIDTH | RL_OPS);
}

void rng_get_rate_limiter(struct rng *r, struct rate_limiter_cfg *c)
{
	rl_get_cfg(&r->rl, c);
}

static void rng_wake(void *opaque)
{
	struct rng *r = opaque;
	r->host->kick(r->host->t, 0);
}

static int rng_attach(void *dev, const struct virtio_host *h)
{
	struct rng *r = dev;
	r->host = h;
	if (rl_active(&r->rl) && h->loop)
		return rl_attach(&r->rl, h->loop, rng_wake, r);
	return 0;
}

/* A request costs what it asks for, up to what one request is ever given. */
static uint64_t request_bytes(const struct virtq_chain *c)
{
	return c->err ? 0 : MIN(c->in_len, (uint64_t)RNG_MAX_PER_REQUEST);
}

static uint64_t rng_features(void *dev)
{
	(void)dev;
	return (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
}

static int rng_activate(void *dev, uint64_t acked, struct virtq *queues)
{
	(void)dev;
	(void)acked;
	return queues[0].ready ? 0 : -EINVAL;
}

/* Fill the chain's writable buffers; returns bytes written. */
static uint32_t fill(struct rng *r, struct virtq *q)
{
	struct virtq_chain *c = &r->chain;
	uint32_t total = 0;
	if (c->err) {
		r->stats.fails++;
		log_once(r->logged_bad, LOG_WARN, "virtio-rng: bad request from the guest: %s",
			 virtq_err_str(c->err));
		return 0;
	}
	for (int i = 0; i < c->nr && total < RNG_MAX_PER_REQUEST; i++) {
		if (!c->buf[i].write)
			continue;
		size_t want = MIN((size_t)c->buf[i].len, (size_t)(RNG_MAX_PER_REQUEST - total));
		size_t got = 0;
		while (got < want) {
			ssize_t n = getrandom(c->buf[i].hva + got, want - got, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		virtq_mark_written(q, c->buf[i].hva, got);
		total += (uint32_t)got;
		if (got < want) {
			r->stats.fails++;
			break;
		}
	}
	r->stats.bytes += total;
	r->stats.requests++;
	return total;
}

static bool rng_process(void *dev, int qidx, struct virtq *q, bool *fatal)
{
	struct rng *r = dev;
	bool used = false;
	(void)qidx;
	if (rl_blocked(&r->rl))
		return false; /* the limiter's timer kicks us */
	do {
		int n;
		while ((n = virtq_pop(q, &r->chain)) == 1) {
			if (!rl_consume(&r->rl, request_bytes(&r->chain))) {
				virtq_unpop(q, 1);
				return used;
			}
			virtq_push(q, r->chain.head, fill(r, q));
			used = true;
		}
		if (n < 0) {
			*fatal = true;
			return used;
		}
	} while (virtq_enable_notify(q));
	return used;
}

const struct virtio_dev_ops rng_ops = {
	.name = "rng",
	.device_id = VIRTIO_ID_RNG,
	.num_queues = 1,
	.queue_max = RNG_QUEUE_SIZE,
	.features = rng_features,
	.activate = rng_activate,
	.process = rng_process,
	.attach = rng_attach,
};

/* --- the device type: "entropy" in the config, PUT /entropy ------------- */

static int parse(const struct json *j, int obj, void *cfg, struct err *e)
{
	struct rng_cfg *c = cfg;
	unsigned which;
	int r;
	if ((r = json_expect_object(j, obj, "entropy", e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (!json_key_is(j, k, "rate_limiter"))
			return json_unknown_field(j, k, "entropy", e);
		if ((r = rl_cfg_parse(j, v, "rate_limiter", &c->rate_limiter, &which, e)))
			return r;
	}
	return 0;
}

static void describe(const void *cfg, struct strbuf *b)
{
	strbuf_printf(b, "{\"rate_limiter\": ");
	rl_cfg_describe(&((const struct rng_cfg *)cfg)->rate_limiter, b);
	strbuf_printf(b, "}");
}

static void *create(const void *cfg, const struct dev_env *env, struct err *e)
{
	(void)env;
	struct rng *r = rng_create();
	if (!r) {
		err_set(e, -ENOMEM, "entropy: out of memory");
		return NULL;
	}
	rng_set_rate_limiter(r, &((const struct rng_cfg *)cfg)->rate_limiter);
	return r;
}

static void destroy(void *dev)
{
	rng_destroy(dev);
}

static const struct dev_metric metrics[] = {
	{ "entropy_bytes", "random bytes given to the guest", false },
	{ "entropy_event_count", "requests served", false },
	{ "entropy_event_fails", "requests that failed", false },
	{ "entropy_rate_limiter_throttled", "requests held back by the rate limiter", false },
};

static void stats(void *dev, uint64_t *out)
{
	struct rng_stats s;
	rng_get_stats(dev, &s);
	out[0] = s.bytes;
	out[1] = s.requests;
	out[2] = s.fails;
	out[3] = s.rate_limiter_throttled;
}

static void save_cfg(const void *cfg, struct wire *w)
{
	rl_cfg_save(&((const struct rng_cfg *)cfg)->rate_limiter, w);
}

static int load_cfg(struct wire *r, uint32_t version, void *cfg, struct err *e)
{
	if (!rl_cfg_load(r, &((struct rng_cfg *)cfg)->rate_limiter, version >= RL_CFG_WIRE_FLAGS))
		return err_inval(e, "entropy rate limiter out of range");
	return 0;
}

const struct device_type rng_type = {
	.name = "entropy",
	.noun = "entropy device",
	.key = "entropy",
	.path = "/entropy",
	.max = 1,
	.api_metric = "entropy",
	.cfg_size = sizeof(struct rng_cfg),
	.parse = parse,
	.describe = describe,
	.ops = &rng_ops,
	.create = create,
	.destroy = destroy,
	.metrics_key = "entropy",
	.metrics = metrics,
	.nr_metrics = sizeof(metrics) / sizeof(metrics[0]),
	.stats = stats,
	.snap_version = RL_CFG_WIRE_FLAGS, /* 2: rate limiter flags */
	.save_cfg = save_cfg,
	.load_cfg = load_cfg,
};
