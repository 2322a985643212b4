/*
 * Drives as a device type: the config file's "drives", PUT and PATCH
 * /drives/{id}, the root drive's kernel command line, the "block" metrics,
 * the snapshot record. The device itself is blk.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/json.h"
#include "../../lib/strbuf.h"
#include "../../lib/wire.h"
#include "../../vmm/cmdline.h"
#include "../../vmm/config.h"
#include "../../vmm/seccomp.h"
#include "blk.h"

#define PATH_MAX_LEN 4096

static void cfg_fini(void *cfg)
{
	struct drive_cfg *d = cfg;
	free(d->path_on_host);
	free(d->partuuid);
	d->path_on_host = d->partuuid = NULL;
}

/* The backing file opens as the drive will use it: said at PUT, as Firecracker does. */
static int probe(const void *cfg, struct err *e)
{
	const struct drive_cfg *d = cfg;
	int fd = open(d->path_on_host, (d->is_read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, -errno,
			       "Unable to create the virtio block device: drive '%s': cannot open "
			       "path_on_host %s: %s",
			       d->drive_id, d->path_on_host, strerror(errno));
	close(fd);
	return 0;
}

static int parse_enum(const struct json *j, int v, const char *field, const char *const names[2],
		      int *out, struct err *e)
{
	char t[16];
	int r = json_string_buf(j, v, field, t, sizeof(t), e);
	if (r)
		return r;
	for (int i = 0; i < 2; i++)
		if (!strcmp(t, names[i])) {
			*out = i;
			return 0;
		}
	return err_inval(e, "field '%s': '%s' is not allowed; use %s or %s", field, t, names[0],
			 names[1]);
}

static const char *const cache_names[2] = { "Unsafe", "Writeback" };
static const char *const engine_names[2] = { "Sync", "Async" };

/* One member of a drive object; *root says whether is_root_device came. */
static int parse_member(const struct json *j, int k, int v, struct drive_cfg *d, bool *root,
			struct err *e)
{
	unsigned which;
	int x;
	if (json_key_is(j, k, "drive_id"))
		return json_string_buf(j, v, "drive_id", d->drive_id, sizeof(d->drive_id), e);
	if (json_key_is(j, k, "path_on_host")) {
		free(d->path_on_host);
		d->path_on_host = NULL;
		return json_string(j, v, "path_on_host", &d->path_on_host, e);
	}
	if (json_key_is(j, k, "is_root_device")) {
		*root = true;
		return json_bool(j, v, "is_root_device", &d->is_root_device, e);
	}
	if (json_key_is(j, k, "is_read_only")) /* null: false, as in Firecracker */
		return json_is_null(j, v) ? 0
					  : json_bool(j, v, "is_read_only", &d->is_read_only, e);
	if (json_key_is(j, k, "partuuid")) {
		free(d->partuuid);
		d->partuuid = NULL;
		return json_is_null(j, v) ? 0 : json_string(j, v, "partuuid", &d->partuuid, e);
	}
	if (json_key_is(j, k, "cache_type")) {
		int r = parse_enum(j, v, "cache_type", cache_names, &x, e);
		d->cache_type = (enum cache_type)x;
		return r;
	}
	if (json_key_is(j, k, "io_engine")) {
		int r = parse_enum(j, v, "io_engine", engine_names, &x, e);
		d->io_engine = (enum io_engine)x;
		return r;
	}
	if (json_key_is(j, k, "direct_io"))
		return json_bool(j, v, "direct_io", &d->direct_io, e);
	if (json_key_is(j, k, "rate_limiter"))
		return rl_cfg_parse(j, v, "rate_limiter", &d->rate_limiter, &which, e);
	if (json_key_is(j, k, "socket"))
		return err_inval(e, "field 'socket': vhost-user drives are not supported");
	return json_unknown_field(j, k, "drive", e);
}

static int parse(const struct json *j, int obj, void *cfg, struct err *e)
{
	struct drive_cfg *d = cfg;
	bool have_root = false;
	int r;

	if ((r = json_expect_object(j, obj, "a drive", e)))
		return r;
	for_each_member (j, obj, k, v)
		if ((r = parse_member(j, k, v, d, &have_root, e)))
			return r;
	if (!d->drive_id[0])
		return err_inval(e, "a drive needs 'drive_id'");
	if (!config_id_valid(d->drive_id))
		return err_inval(e, "drive_id '%s' is invalid: use 1 to %d letters, digits or '_'",
				 d->drive_id, MVM_ID_MAX);
	if (!d->path_on_host || !*d->path_on_host)
		return err_inval(e, "drive '%s' needs 'path_on_host'", d->drive_id);
	if (!have_root)
		return err_inval(e, "drive '%s' needs 'is_root_device'", d->drive_id);
	return 0;
}

static const char *id(const void *cfg)
{
	return ((const struct drive_cfg *)cfg)->drive_id;
}

static bool is_root(const void *cfg)
{
	return ((const struct drive_cfg *)cfg)->is_root_device;
}

static void describe(const void *cfg, struct strbuf *b)
{
	const struct drive_cfg *d = cfg;
	strbuf_printf(b, "{\"drive_id\": ");
	strbuf_json_str(b, d->drive_id);
	strbuf_printf(b, ", \"path_on_host\": ");
	strbuf_json_str(b, d->path_on_host);
	strbuf_printf(b, ", \"is_root_device\": %s, \"is_read_only\": %s, \"partuuid\": ",
		      d->is_root_device ? "true" : "false", d->is_read_only ? "true" : "false");
	strbuf_json_str(b, d->partuuid);
	/* mvm's own field, only when set: Firecracker's shape otherwise. */
	if (d->direct_io)
		strbuf_printf(b, ", \"direct_io\": true");
	strbuf_printf(b, ", \"cache_type\": \"%s\", \"io_engine\": \"%s\", \"rate_limiter\": ",
		      cache_names[d->cache_type], engine_names[d->io_engine]);
	rl_cfg_describe(&d->rate_limiter, b);
	strbuf_printf(b, "}");
}

/* The root drive first, so that it is /dev/vda. */
static int rank(const void *cfg)
{
	return ((const struct drive_cfg *)cfg)->is_root_device ? 0 : 1;
}

static void *create(const void *cfg, const struct dev_env *env, struct err *e)
{
	const struct drive_cfg *d = cfg;
	(void)env;
	struct blk *b = blk_create(d->drive_id, d->path_on_host, d->is_read_only,
				   d->cache_type == CACHE_WRITEBACK, d->direct_io,
				   d->io_engine == IO_ENGINE_ASYNC, e);
	if (b)
		blk_set_rate_limiter(b, &d->rate_limiter, RL_BANDWIDTH | RL_OPS);
	return b;
}

static void destroy(void *dev)
{
	blk_destroy(dev);
}

static void snapshot_prepare(void *dev)
{
	blk_drain(dev);
}

/* io_engine Async. */
static const struct seccomp_rule rules[] = {
	SECCOMP_ANY(SYS_io_uring_enter, "virtio-blk io_engine Async: submit and reap requests"),
};

static void boot_args(const void *cfg, struct cmdline *cl)
{
	const struct drive_cfg *d = cfg;
	if (!d->is_root_device)
		return;
	if (d->partuuid)
		cmdline_append(cl, "root=PARTUUID=%s", d->partuuid);
	else
		cmdline_append(cl, "root=/dev/vda");
	cmdline_append(cl, d->is_read_only ? "ro" : "rw");
}

/* PATCH /drives/{id}: a new backing file and/or new limits. */
struct drive_patch {
	char drive_id[65];
	char *path_on_host;
	struct rate_limiter_cfg rate_limiter;
	unsigned rl_which;
};

static int parse_patch(const struct json *j, int obj, void *patch, struct err *e)
{
	struct drive_patch *p = patch;
	int r;
	if ((r = json_expect_object(j, obj, "a drive update", e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (json_key_is(j, k, "drive_id"))
			r = json_string_buf(j, v, "drive_id", p->drive_id, sizeof(p->drive_id), e);
		else if (json_key_is(j, k, "path_on_host")) {
			free(p->path_on_host);
			p->path_on_host = NULL;
			r = json_string(j, v, "path_on_host", &p->path_on_host, e);
		} else if (json_key_is(j, k, "rate_limiter"))
			r = rl_cfg_parse(j, v, "rate_limiter", &p->rate_limiter, &p->rl_which, e);
		else
			r = json_unknown_field(j, k, "a drive update", e);
		if (r)
			return r;
	}
	if (!p->drive_id[0])
		return err_inval(e, "a drive update needs 'drive_id'");
	if (p->path_on_host && !*p->path_on_host)
		return err_inval(e, "field 'path_on_host' is empty");
	if (!p->path_on_host && !p->rl_which)
		return err_inval(
		    e, "Unable to patch the block device: nothing to update (give "
		       "path_on_host or rate_limiter). Please verify the request arguments");
	return 0;
}

static const char *patch_id(const void *patch)
{
	return ((const struct drive_patch *)patch)->drive_id;
}

static void patch_fini(void *patch)
{
	free(((struct drive_patch *)patch)->path_on_host);
}

static int patch(void *dev, void *cfg, void *patch, struct err *e)
{
	struct drive_cfg *d = cfg;
	struct drive_patch *p = patch;
	int r = blk_change(dev, p->path_on_host, &p->rate_limiter, p->rl_which, e);
	if (r)
		return r;
	if (p->path_on_host) {
		free(d->path_on_host);
		d->path_on_host = p->path_on_host;
		p->path_on_host = NULL;
	}
	rl_cfg_merge(&d->rate_limiter, &p->rate_limiter, p->rl_which);
	return 0;
}

static const struct dev_metric metrics[] = {
	{ "read_bytes", "bytes read for the guest", false },
	{ "write_bytes", "bytes written for the guest", false },
	{ "read_count", "read requests", false },
	{ "write_count", "write requests", false },
	{ "flush_count", "flush requests", false },
	{ "invalid_reqs_count", "malformed requests refused", false },
	{ "execute_fails", "requests the host file failed", false },
	{ "rate_limiter_throttled_events", "requests held back by the rate limiter", false },
};

static void stats(void *dev, uint64_t *out)
{
	struct blk_stats s;
	blk_get_stats(dev, &s);
	uint64_t v[] = { s.read_bytes,	s.write_bytes,	s.read_count, s.write_count,
			 s.flush_count, s.invalid_reqs, s.io_errors,  s.rate_limiter_throttled };
	memcpy(out, v, sizeof(v));
}

enum { F_ROOT = 1, F_RO = 2, F_WRITEBACK = 4, F_DIRECT = 8, F_ASYNC = 16, F_ALL = 31 };

static void save_cfg(const void *cfg, struct wire *w)
{
	const struct drive_cfg *d = cfg;
	wire_put_str(w, d->drive_id);
	wire_put_str(w, d->path_on_host);
	wire_put_str(w, d->partuuid);
	wire_put_u32(w, (d->is_root_device ? F_ROOT : 0) | (d->is_read_only ? F_RO : 0) |
			    (d->cache_type == CACHE_WRITEBACK ? F_WRITEBACK : 0) |
			    (d->direct_io ? F_DIRECT : 0) |
			    (d->io_engine == IO_ENGINE_ASYNC ? F_ASYNC : 0));
	rl_cfg_save(&d->rate_limiter, w);
}

static int load_cfg(struct wire *r, uint32_t version, void *cfg, struct err *e)
{
	struct drive_cfg *d = cfg;
	wire_get_strbuf(r, d->drive_id, sizeof(d->drive_id));
	d->path_on_host = wire_get_str(r, PATH_MAX_LEN);
	d->partuuid = wire_get_str(r, 64);
	uint32_t f = wire_get_u32(r);
	bool rl_ok = rl_cfg_load(r, &d->rate_limiter, version >= RL_CFG_WIRE_FLAGS);
	if (r->bad || !rl_ok || (f & ~(uint32_t)F_ALL) || !config_id_valid(d->drive_id) ||
	    !d->path_on_host || !*d->path_on_host)
		return err_inval(e, "drive record out of range");
	d->is_root_device = f & F_ROOT;
	d->is_read_only = f & F_RO;
	d->cache_type = f & F_WRITEBACK ? CACHE_WRITEBACK : CACHE_UNSAFE;
	d->direct_io = f & F_DIRECT;
	d->io_engine = f & F_ASYNC ? IO_ENGINE_ASYNC : IO_ENGINE_SYNC;
	return 0;
}

static int override(void *cfg, const char *field, const char *value, struct err *e)
{
	struct drive_cfg *d = cfg;
	if (strcmp(field, "path_on_host"))
		return err_inval(e, "a drive override may change path_on_host only, not '%s'",
				 field);
	char *p = strdup(value);
	if (!p)
		return err_set(e, -ENOMEM, "out of memory");
	free(d->path_on_host);
	d->path_on_host = p;
	return 0;
}

const struct device_type blk_type = {
	.name = "block",
	.noun = "drive",
	.key = "drives",
	.path = "/drives",
	.id_field = "drive_id",
	.max = 16,
	.api_metric = "drive",
	.cfg_size = sizeof(struct drive_cfg),
	.parse = parse,
	.id = id,
	.is_root = is_root,
	.probe = probe,
	.describe = describe,
	.cfg_fini = cfg_fini,
	.rank = rank,
	.ops = &blk_ops,
	.create = create,
	.destroy = destroy,
	.boot_args = boot_args,
	.patch_size = sizeof(struct drive_patch),
	.parse_patch = parse_patch,
	.patch_id = patch_id,
	.patch = patch,
	.patch_fini = patch_fini,
	.metrics_key = "block",
	.metrics = metrics,
	.nr_metrics = sizeof(metrics) / sizeof(metrics[0]),
	.stats = stats,
	.snap_version = RL_CFG_WIRE_FLAGS, /* 2: rate limiter flags */
	.snapshot_prepare = snapshot_prepare,
	.save_cfg = save_cfg,
	.load_cfg = load_cfg,
	.override = override,
	.seccomp = rules,
	.nr_seccomp = sizeof(rules) / sizeof(rules[0]),
};
