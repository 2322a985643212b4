/*
 * virtio-pmem, device and type in one file: the device type mvm gained by
 * following the recipe in virtio/README.md (one file, one registry line).
 *
 * The host file is mapped MAP_SHARED into the guest's device memory (above
 * RAM, vm_map_devmem): what the guest stores goes to the file's page cache
 * directly, and a flush request makes it durable (fdatasync). read_only maps
 * it read-only in the host and in KVM: the guest's stores fault and are
 * dropped. Snapshots keep the file as it is (it is not guest RAM); a restore
 * maps it again at the same address, and refuses a file whose size changed.
 */
#include "pmem.h"

#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/json.h"
#include "../lib/log.h"
#include "../lib/strbuf.h"
#include "../lib/util.h"
#include "../lib/wire.h"
#include "../vmm/cmdline.h"
#include "../vmm/config.h"
#include "../vmm/vm.h"

#define PMEM_QUEUE_SIZE 128
#define PMEM_REQ_FLUSH	0
#define PATH_MAX_LEN	4096

struct pmem {
	char id[65];
	int fd;
	void *hva;
	uint64_t size, gpa;
	bool read_only;
	struct pmem_stats stats;
	bool logged_bad;
	struct virtq_chain chain;
};

/* --- the device ----------------------------------------------------------- */

uint32_t pmem_answer(const uint8_t *req, uint32_t req_len, int fsync_result, bool *bad)
{
	uint32_t type;
	*bad = req_len < sizeof(type);
	if (*bad)
		return 1;
	memcpy(&type, req, sizeof(type));
	*bad = le32toh(type) != PMEM_REQ_FLUSH;
	return *bad || fsync_result ? 1 : 0;
}

static uint64_t pmem_features(void *dev)
{
	(void)dev;
	return (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
}

/* Config space: start (le64), size (le64). */
static void pmem_read_config(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct pmem *p = dev;
	uint64_t cfg[2] = { htole64(p->gpa), htole64(p->size) };
	memset(data, 0, len);
	if (off < sizeof(cfg))
		memcpy(data, (uint8_t *)cfg + off, MIN((uint64_t)len, sizeof(cfg) - off));
}

static int pmem_activate(void *dev, uint64_t acked, struct virtq *queues)
{
	(void)dev;
	(void)acked;
	return queues[0].ready ? 0 : -EINVAL;
}

/* One request: 4 readable bytes of type, 4 writable bytes of answer. */
static uint32_t handle(struct pmem *p, struct virtq *q)
{
	struct virtq_chain *c = &p->chain;
	uint8_t req[4] = { 0 };
	uint32_t got = 0, answer;
	bool bad = c->err != VIRTQ_OK;
	for (int i = 0; !bad && i < c->nr && !c->buf[i].write && got < sizeof(req); i++) {
		uint32_t k = MIN(c->buf[i].len, (uint32_t)sizeof(req) - got);
		memcpy(req + got, c->buf[i].hva, k);
		got += k;
	}
	int synced = 0;
	if (!bad && got == sizeof(req) && !p->read_only && fdatasync(p->fd) < 0)
		synced = -errno;
	answer = pmem_answer(req, bad ? 0 : got, synced, &bad);
	p->stats.flushes++;
	if (answer)
		p->stats.flush_fails++;
	if (bad) {
		p->stats.invalid_reqs++;
		log_once(p->logged_bad, LOG_WARN, "pmem %s: bad request from the guest", p->id);
	}
	/* The answer goes into the chain's writable buffer of 4 bytes or more. */
	for (int i = 0; c->err == VIRTQ_OK && i < c->nr; i++) {
		if (c->buf[i].write && c->buf[i].len >= sizeof(answer)) {
			uint32_t le = htole32(answer);
			memcpy(c->buf[i].hva, &le, sizeof(le));
			virtq_mark_written(q, c->buf[i].hva, sizeof(le));
			return sizeof(le);
		}
	}
	return 0;
}

static bool pmem_process(void *dev, int qidx, struct virtq *q, bool *fatal)
{
	struct pmem *p = dev;
	bool used = false;
	(void)qidx;
	do {
		int r;
		while ((r = virtq_pop(q, &p->chain)) == 1) {
			virtq_push(q, p->chain.head, handle(p, q));
			used = true;
		}
		if (r < 0) {
			*fatal = true;
			return used;
		}
	} while (virtq_enable_notify(q));
	return used;
}

static void pmem_reset(void *dev)
{
	(void)dev;
}

const struct virtio_dev_ops pmem_ops = {
	.name = "virtio-pmem",
	.device_id = VIRTIO_ID_PMEM,
	.num_queues = 1,
	.queue_max = PMEM_QUEUE_SIZE,
	.features = pmem_features,
	.read_config = pmem_read_config,
	.activate = pmem_activate,
	.process = pmem_process,
	.reset = pmem_reset,
};

static void destroy(void *dev)
{
	struct pmem *p = dev;
	if (!p)
		return;
	if (p->hva)
		munmap(p->hva, p->size);
	if (p->fd >= 0)
		close(p->fd);
	free(p);
}

static void *create(const void *cfg, const struct dev_env *env, struct err *e)
{
	const struct pmem_cfg *c = cfg;
	struct stat st;
	struct pmem *p = calloc(1, sizeof(*p));
	if (!p) {
		err_set(e, -ENOMEM, "pmem %s: out of memory", c->id);
		return NULL;
	}
	snprintf(p->id, sizeof(p->id), "%s", c->id);
	p->read_only = c->read_only;
	p->fd = open(c->path_on_host, (c->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (p->fd < 0)
		err_set(e, -errno, "pmem %s: %s: %s", c->id, c->path_on_host, strerror(errno));
	else if (fstat(p->fd, &st) < 0 || !S_ISREG(st.st_mode))
		err_inval(e, "pmem %s: %s is not a regular file", c->id, c->path_on_host);
	else if (st.st_size <= 0 || (uint64_t)st.st_size % PMEM_SIZE_ALIGN)
		err_inval(e,
			  "pmem %s: %s is %lld bytes; its size must be a positive multiple of "
			  "2 MiB (truncate -s to round it up)",
			  c->id, c->path_on_host, (long long)st.st_size);
	else {
		p->size = (uint64_t)st.st_size;
		p->hva = mmap(NULL, p->size, c->read_only ? PROT_READ : PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_NORESERVE, p->fd, 0);
		if (p->hva == MAP_FAILED) {
			p->hva = NULL;
			err_set(e, -errno, "pmem %s: mmap %s: %s", c->id, c->path_on_host,
				strerror(errno));
		} else if (!vm_map_devmem(env->vm, p->hva, p->size, c->read_only, &p->gpa, e)) {
			return p;
		}
	}
	destroy(p);
	return NULL;
}

/* --- the type: PUT /pmem/{id}, "pmem" in the config file ----------------- */

static void cfg_fini(void *cfg)
{
	struct pmem_cfg *c = cfg;
	free(c->path_on_host);
	c->path_on_host = NULL;
}

static int parse(const struct json *j, int obj, void *cfg, struct err *e)
{
	struct pmem_cfg *c = cfg;
	bool have_root = false;
	int r;
	if ((r = json_expect_object(j, obj, "a pmem device", e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (json_key_is(j, k, "id"))
			r = json_string_buf(j, v, "id", c->id, sizeof(c->id), e);
		else if (json_key_is(j, k, "path_on_host")) {
			free(c->path_on_host);
			c->path_on_host = NULL;
			r = json_string(j, v, "path_on_host", &c->path_on_host, e);
		} else if (json_key_is(j, k, "root_device")) {
			r = json_bool(j, v, "root_device", &c->root_device, e);
			have_root = true;
		} else if (json_key_is(j, k, "read_only"))
			r = json_is_null(j, v) ? 0 : json_bool(j, v, "read_only", &c->read_only, e);
		else
			r = json_unknown_field(j, k, "a pmem device", e);
		if (r)
			return r;
	}
	if (!c->id[0] || !config_id_valid(c->id))
		return err_inval(e, "a pmem device needs an 'id' of 1 to %d letters, digits or '_'",
				 MVM_ID_MAX);
	if (!c->path_on_host || !*c->path_on_host || strlen(c->path_on_host) > PATH_MAX_LEN)
		return err_inval(e, "pmem '%s' needs 'path_on_host'", c->id);
	if (!have_root)
		c->root_device = false; /* optional, as in Firecracker */
	return 0;
}

static const char *id(const void *cfg)
{
	return ((const struct pmem_cfg *)cfg)->id;
}

static bool is_root(const void *cfg)
{
	return ((const struct pmem_cfg *)cfg)->root_device;
}

static int rank(const void *cfg)
{
	return is_root(cfg) ? 0 : 1; /* the root one is /dev/pmem0 */
}

/* The file must exist and be mappable: said at PUT, not at InstanceStart. */
static int probe(const void *cfg, struct err *e)
{
	const struct pmem_cfg *c = cfg;
	struct stat st;
	if (stat(c->path_on_host, &st) < 0)
		return err_set(e, -errno, "pmem '%s': %s: %s", c->id, c->path_on_host,
			       strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size % PMEM_SIZE_ALIGN)
		return err_inval(e,
				 "pmem '%s': %s must be a regular file whose size is a positive "
				 "multiple of 2 MiB",
				 c->id, c->path_on_host);
	return 0;
}

static void describe(const void *cfg, struct strbuf *b)
{
	const struct pmem_cfg *c = cfg;
	strbuf_printf(b, "{\"id\": ");
	strbuf_json_str(b, c->id);
	strbuf_printf(b, ", \"path_on_host\": ");
	strbuf_json_str(b, c->path_on_host);
	strbuf_printf(b, ", \"root_device\": %s, \"read_only\": %s}",
		      c->root_device ? "true" : "false", c->read_only ? "true" : "false");
}

static void boot_args(const void *cfg, struct cmdline *cl)
{
	const struct pmem_cfg *c = cfg;
	if (c->root_device)
		cmdline_append(cl, "root=/dev/pmem0 %s", c->read_only ? "ro" : "rw");
}

static const struct dev_metric metrics[] = {
	{ "flush_count", "flush requests from the guest", false },
	{ "flush_fails", "flushes that failed or were malformed", false },
	{ "invalid_reqs_count", "malformed requests", false },
};

static void stats(void *dev, uint64_t *out)
{
	const struct pmem *p = dev;
	out[0] = p->stats.flushes;
	out[1] = p->stats.flush_fails;
	out[2] = p->stats.invalid_reqs;
}

static void save_cfg(const void *cfg, struct wire *w)
{
	const struct pmem_cfg *c = cfg;
	wire_put_str(w, c->id);
	wire_put_str(w, c->path_on_host);
	wire_put_u32(w, (c->root_device ? 1u : 0u) | (c->read_only ? 2u : 0u));
}

/* Where the guest saw it: a restore must put it back there, the same size. */
static void save_state(void *dev, struct wire *w)
{
	const struct pmem *p = dev;
	wire_put_u64(w, p->gpa);
	wire_put_u64(w, p->size);
}

static int load_cfg(struct wire *r, uint32_t version, void *cfg, struct err *e)
{
	struct pmem_cfg *c = cfg;
	(void)version;
	wire_get_strbuf(r, c->id, sizeof(c->id));
	c->path_on_host = wire_get_str(r, PATH_MAX_LEN);
	uint32_t f = wire_get_u32(r);
	c->root_device = f & 1;
	c->read_only = f & 2;
	if (r->bad || f > 3 || !config_id_valid(c->id) || !c->path_on_host || !*c->path_on_host)
		return err_inval(e, "pmem record out of range");
	return 0;
}

static int load_state(void *dev, struct wire *r, struct err *e)
{
	const struct pmem *p = dev;
	uint64_t gpa = wire_get_u64(r), size = wire_get_u64(r);
	if (r->bad)
		return err_inval(e, "pmem state malformed");
	if (gpa != p->gpa || size != p->size)
		return err_inval(e,
				 "pmem %s: the guest had it at %#llx, %llu bytes; now it is at "
				 "%#llx, %llu bytes (did the file change size?)",
				 p->id, (unsigned long long)gpa, (unsigned long long)size,
				 (unsigned long long)p->gpa, (unsigned long long)p->size);
	return 0;
}

static int override(void *cfg, const char *field, const char *value, struct err *e)
{
	struct pmem_cfg *c = cfg;
	if (strcmp(field, "path_on_host"))
		return err_inval(e, "a pmem override may change path_on_host only, not '%s'",
				 field);
	char *p = strdup(value);
	if (!p)
		return err_set(e, -ENOMEM, "out of memory");
	free(c->path_on_host);
	c->path_on_host = p;
	return 0;
}

const struct device_type pmem_type = {
	.name = "pmem",
	.noun = "pmem device",
	.key = "pmem",
	.path = "/pmem",
	.id_field = "id",
	.max = 8,
	.api_metric = "pmem",
	.cfg_size = sizeof(struct pmem_cfg),
	.parse = parse,
	.id = id,
	.probe = probe,
	.describe = describe,
	.cfg_fini = cfg_fini,
	.rank = rank,
	.is_root = is_root,
	.ops = &pmem_ops,
	.create = create,
	.destroy = destroy,
	.boot_args = boot_args,
	.metrics_key = "pmem",
	.metrics = metrics,
	.nr_metrics = sizeof(metrics) / sizeof(metrics[0]),
	.stats = stats,
	.snap_version = 1,
	.save_cfg = save_cfg,
	.save_state = save_state,
	.load_cfg = load_cfg,
	.load_state = load_state,
	.override = override,
};
