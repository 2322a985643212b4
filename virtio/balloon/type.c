/*
 * The balloon as a device type: its config section ("balloon", PUT /balloon),
 * PATCH /balloon (the target), GET and PATCH /balloon/statistics, its
 * metrics and its snapshot record. The device itself is balloon.c.
 */
#include <errno.h>
#include <http_parser.h>
#include <string.h>

#include "../../lib/json.h"
#include "../../lib/strbuf.h"
#include "../../lib/wire.h"
#include "../../vmm/config.h"
#include "balloon.h"

#define MIB_PAGES(mib) ((uint32_t)(mib) << (20 - BALLOON_PAGE_SHIFT))

static int parse(const struct json *j, int obj, void *cfg, struct err *e)
{
	struct balloon_cfg b = { 0 };
	bool have_amount = false, have_oom = false;
	uint64_t u;
	int r;

	if ((r = json_expect_object(j, obj, "balloon", e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (json_key_is(j, k, "amount_mib")) {
			if ((r = json_u64(j, v, "amount_mib", 0, MVM_MAX_MEM_MIB, &u, e)))
				return r;
			b.amount_mib = (uint32_t)u;
			have_amount = true;
		} else if (json_key_is(j, k, "deflate_on_oom")) {
			if ((r = json_bool(j, v, "deflate_on_oom", &b.deflate_on_oom, e)))
				return r;
			have_oom = true;
		} else if (json_key_is(j, k, "stats_polling_interval_s")) {
			if ((r = json_u64(j, v, "stats_polling_interval_s", 0,
					  MVM_BALLOON_MAX_STATS_S, &u, e)))
				return r;
			b.stats_polling_interval_s = (uint32_t)u;
		} else {
			return json_unknown_field(j, k, "balloon", e);
		}
	}
	if (!have_amount || !have_oom)
		return err_inval(e, "balloon needs 'amount_mib' and 'deflate_on_oom'");
	*(struct balloon_cfg *)cfg = b;
	return 0;
}

static int too_big(uint32_t mib, uint32_t mem, struct err *e)
{
	return err_inval(e, "balloon amount_mib %u is larger than the VM's memory (%u MiB)", mib,
			 mem);
}

static int check(const void *cfg, const struct vm_config *vc, struct err *e)
{
	const struct balloon_cfg *b = cfg;
	/* Giving back 4 KiB pages of a hugetlbfs mapping is not possible. */
	if (vc->machine.huge_pages == HUGE_PAGES_2M)
		return err_inval(e, "Firecracker's huge pages support is incompatible with memory "
				    "ballooning. (huge_pages 2M and a balloon device)");
	return b->amount_mib > vc->machine.mem_size_mib
		   ? too_big(b->amount_mib, vc->machine.mem_size_mib, e)
		   : 0;
}

static void describe(const void *cfg, struct strbuf *b)
{
	const struct balloon_cfg *c = cfg;
	strbuf_printf(b,
		      "{\"amount_mib\": %u, \"deflate_on_oom\": %s, "
		      "\"stats_polling_interval_s\": %u}",
		      c->amount_mib, c->deflate_on_oom ? "true" : "false",
		      c->stats_polling_interval_s);
}

static void *create(const void *cfg, const struct dev_env *env, struct err *e)
{
	struct balloon *b = balloon_create(cfg, env->mem);
	if (!b)
		err_set(e, -ENOMEM, "balloon: out of memory");
	return b;
}

static void destroy(void *dev)
{
	balloon_destroy(dev);
}

/* PATCH /balloon {"amount_mib"} and PATCH /balloon/statistics
 * {"stats_polling_interval_s"}: one field each. */
struct one_field {
	uint32_t value;
	uint32_t mem_mib; /* filled by patch() from the device for the check */
};

static int parse_one(const struct json *j, int obj, const char *name, uint64_t max, uint32_t *out,
		     struct err *e)
{
	bool have = false;
	uint64_t u = 0;
	int r;
	if ((r = json_expect_object(j, obj, "a balloon update", e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (!json_key_is(j, k, name))
			return json_unknown_field(j, k, "a balloon update", e);
		if ((r = json_u64(j, v, name, 0, max, &u, e)))
			return r;
		have = true;
	}
	if (!have)
		return err_inval(e, "a balloon update needs '%s'", name);
	*out = (uint32_t)u;
	return 0;
}

static int parse_patch(const struct json *j, int obj, void *patch, struct err *e)
{
	return parse_one(j, obj, "amount_mib", MVM_MAX_MEM_MIB, &((struct one_field *)patch)->value,
			 e);
}

static int patch(void *dev, void *cfg, void *p, struct err *e)
{
	struct balloon_cfg *c = cfg;
	uint32_t mib = ((struct one_field *)p)->value;
	uint32_t mem = balloon_mem_mib(dev);
	if (mib > mem)
		return too_big(mib, mem, e);
	balloon_change_target(dev, MIB_PAGES(mib));
	c->amount_mib = mib;
	return 0;
}

static int parse_stats_patch(const struct json *j, int obj, void *body, struct err *e)
{
	return parse_one(j, obj, "stats_polling_interval_s", MVM_BALLOON_MAX_STATS_S,
			 &((struct one_field *)body)->value, e);
}

static int patch_stats(void *dev, void *cfg, void *body, struct strbuf *out, struct err *e)
{
	struct balloon_cfg *c = cfg;
	uint32_t s = ((struct one_field *)body)->value;
	(void)out;
	if (!c->stats_polling_interval_s != !s)
		return err_inval(e,
				 "Cannot enable/disable the statistics after boot. (statistics "
				 "were %s at boot: stats_polling_interval_s can change but not "
				 "turn them %s)",
				 s ? "off" : "on", s ? "on" : "off");
	int r = balloon_set_stats_interval(dev, s);
	if (r)
		return err_set(e, r, "balloon statistics timer: %s", strerror(-r));
	c->stats_polling_interval_s = s;
	return 0;
}

static int get_stats(void *dev, void *cfg, void *body, struct strbuf *b, struct err *e)
{
	const struct balloon_cfg *c = cfg;
	struct balloon_stats st;
	(void)body;
	if (!c->stats_polling_interval_s)
		return err_inval(e, "Statistics for the balloon device are not enabled (set "
				    "stats_polling_interval_s in PUT /balloon before boot)");
	balloon_get_stats(dev, &st);
	strbuf_printf(b,
		      "{\"target_pages\": %u, \"actual_pages\": %u, \"target_mib\": %u, "
		      "\"actual_mib\": %u",
		      st.target_pages, st.actual_pages, st.target_pages >> 8, st.actual_pages >> 8);
	for (unsigned i = 0; i < BALLOON_NR_TAGS; i++)
		if (st.have & (1u << i))
			strbuf_printf(b, ", \"%s\": %llu", balloon_tag_name(i),
				      (unsigned long long)st.val[i]);
	strbuf_printf(b, "}");
	return 0;
}

static const struct dev_route routes[] = {
	{ HTTP_GET, "/statistics", VM_ST_STARTED, NULL, 0, NULL, get_stats },
	{ HTTP_PATCH, "/statistics", VM_ST_STARTED, "balloon", sizeof(struct one_field),
	  parse_stats_patch, patch_stats },
};

static const struct dev_metric metrics[] = {
	{ "inflate_count", "pages the guest gave back (inflate buffers)", false },
	{ "deflate_count", "pages the guest took back (deflate buffers)", false },
	{ "stats_updates_count", "statistics buffers received", false },
	{ "stats_update_fails", "statistics buffers refused", false },
	{ "unknown_stats_tags", "statistics entries with tags virtio does not define", false },
	{ "invalid_pfns", "page numbers outside guest RAM", false },
	{ "released_bytes", "guest memory released to the host", false },
};

static void stats(void *dev, uint64_t *out)
{
	struct balloon_stats s;
	balloon_get_stats(dev, &s);
	uint64_t v[] = { s.inflated_pages, s.deflated_pages, s.stats_updates, s.bad_stats,
			 s.unknown_tags,   s.invalid_pfns,   s.released_bytes };
	memcpy(out, v, sizeof(v));
}

static void save_cfg(const void *cfg, struct wire *w)
{
	const struct balloon_cfg *c = cfg;
	wire_put_u32(w, c->amount_mib);
	wire_put_u32(w, c->deflate_on_oom);
	wire_put_u32(w, c->stats_polling_interval_s);
}

static void save_state(void *dev, struct wire *w)
{
	struct balloon_state st;
	balloon_save(dev, &st);
	wire_put_u32(w, st.num_pages);
	wire_put_u32(w, st.actual);
	wire_put_u32(w, st.stats_held);
	wire_put_u32(w, st.stats_head);
}

static int load_cfg(struct wire *r, uint32_t version, void *cfg, struct err *e)
{
	struct balloon_cfg *c = cfg;
	(void)version;
	c->amount_mib = wire_get_u32(r);
	uint32_t oom = wire_get_u32(r);
	c->stats_polling_interval_s = wire_get_u32(r);
	c->deflate_on_oom = oom;
	if (r->bad || oom > 1 || c->amount_mib > MVM_MAX_MEM_MIB ||
	    c->stats_polling_interval_s > MVM_BALLOON_MAX_STATS_S)
		return err_inval(e, "balloon config out of range");
	return 0;
}

static int load_state(void *dev, struct wire *r, struct err *e)
{
	struct balloon_state st;
	st.num_pages = wire_get_u32(r);
	st.actual = wire_get_u32(r);
	st.stats_held = wire_get_u32(r);
	st.stats_head = wire_get_u32(r);
	if (r->bad || st.num_pages > MIB_PAGES(balloon_mem_mib(dev)) || balloon_restore(dev, &st))
		return err_inval(e, "balloon state out of range");
	return 0;
}

const struct device_type balloon_type = {
	.name = "balloon",
	.noun = "balloon device",
	.key = "balloon",
	.path = "/balloon",
	.max = 1,
	.api_metric = "balloon",
	.gettable = true,
	.cfg_size = sizeof(struct balloon_cfg),
	.parse = parse,
	.check = check,
	.describe = describe,
	.ops = &balloon_ops,
	.create = create,
	.destroy = destroy,
	.patch_size = sizeof(struct one_field),
	.parse_patch = parse_patch,
	.patch = patch,
	.routes = routes,
	.nr_routes = sizeof(routes) / sizeof(routes[0]),
	.metrics_key = "balloon",
	.metrics = metrics,
	.nr_metrics = sizeof(metrics) / sizeof(metrics[0]),
	.stats = stats,
	.snap_version = 1,
	.save_cfg = save_cfg,
	.save_state = save_state,
	.load_cfg = load_cfg,
	.load_state = load_state,
};
