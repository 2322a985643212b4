/*
 * monitor/config_out.c and each device type's describe(): GET /machine-config
 * and GET /vm/config. The output is read back with lib/json.c and, where it is
 * a config section, with the config parsers: what mvm prints must be what mvm
 * would accept.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/log.h"
#include "../../lib/strbuf.h"
#include "../../monitor/config_file.h"
#include "../../virtio/balloon/balloon.h"
#include "../../virtio/blk/blk.h"
#include "../../virtio/net/net.h"
#include "../../virtio/registry.h"
#include "../../virtio/rng.h"
#include "../../virtio/vsock/vsock.h"
#include "../../vmm/config.h"

static struct strbuf out;
static struct json doc;
static struct vm_config cfg;

static void setup(void)
{
	log_set_level(LOG_OFF);
	strbuf_init(&out);
	memset(&doc, 0, sizeof(doc));
	vm_config_init(&cfg);
}

static void teardown(void)
{
	json_free(&doc);
	strbuf_fini(&out);
	vm_config_fini(&cfg);
}

TestSuite(config_out, .init = setup, .fini = teardown);

/* Parse out.s into doc; fails the test when it is not JSON. */
static void parse_out(void)
{
	struct err e;
	json_free(&doc);
	cr_assert_not_null(out.s);
	cr_assert_not(out.oom);
	cr_assert_eq(json_parse(&doc, out.s, out.len, &e), 0, "not JSON (%s): %s", e.msg, out.s);
}

/* Token of member `name` of object token obj, or -1. */
static int member(int obj, const char *name)
{
	cr_assert_eq(doc.t[obj].type, JSMN_OBJECT, "token %d is not an object in %s", obj, out.s);
	int k = obj + 1;
	for (int i = 0; i < doc.t[obj].size; i++, k = json_next(&doc, k + 1))
		if (json_key_is(&doc, k, name))
			return k + 1;
	return -1;
}

static int need(int obj, const char *name)
{
	int v = member(obj, name);
	cr_assert_geq(v, 0, "no '%s' in %s", name, out.s);
	return v;
}

static uint64_t get_u64(int obj, const char *name)
{
	struct err e;
	uint64_t u = 0;
	cr_assert_eq(json_u64(&doc, need(obj, name), name, 0, UINT64_MAX, &u, &e), 0, "%s", e.msg);
	return u;
}

static bool get_bool(int obj, const char *name)
{
	struct err e;
	bool b = false;
	cr_assert_eq(json_bool(&doc, need(obj, name), name, &b, &e), 0, "%s", e.msg);
	return b;
}

/* The string member `name`, or NULL for null; the caller frees. */
static char *get_str(int obj, const char *name)
{
	struct err e;
	char *s = NULL;
	int v = need(obj, name);
	if (json_is_null(&doc, v))
		return NULL;
	cr_assert_eq(json_string(&doc, v, name, &s, &e), 0, "%s", e.msg);
	return s;
}

static void expect_str(int obj, const char *name, const char *want)
{
	char *s = get_str(obj, name);
	if (!want)
		cr_expect_null(s, "'%s' should be null, is '%s'", name, s);
	else
		cr_expect(s && !strcmp(s, want), "'%s' is '%s', want '%s'", name, s ? s : "null",
			  want);
	free(s);
}

static void machine(uint32_t vcpus, uint32_t mib, bool dirty, enum cpu_template t,
		    enum huge_pages h, struct machine_cfg *m)
{
	*m = (struct machine_cfg){ .vcpu_count = vcpus,
				   .mem_size_mib = mib,
				   .track_dirty_pages = dirty,
				   .cpu_template = t,
				   .huge_pages = h };
}

Test(config_out, machine_json_has_firecracker_fields)
{
	struct machine_cfg m;
	machine(2, 1024, true, CPU_TEMPLATE_AUTO, HUGE_PAGES_2M, &m);
	config_machine_json(&m, false, &out);
	parse_out();
	cr_expect_eq(get_u64(0, "vcpu_count"), 2);
	cr_expect_eq(get_u64(0, "mem_size_mib"), 1024);
	cr_expect_not(get_bool(0, "smt"));
	cr_expect(get_bool(0, "track_dirty_pages"));
	expect_str(0, "huge_pages", "2M");
	cr_expect_eq(member(0, "cpu_template"), -1, "no cpu_template unless one was chosen");
}

Test(config_out, machine_json_names_a_chosen_template)
{
	static const struct {
		enum cpu_template t;
		const char *name;
	} cases[] = { { CPU_TEMPLATE_HOST, "Host" }, { CPU_TEMPLATE_PVM_SAFE, "PvmSafe" } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct machine_cfg m;
		machine(1, 128, false, cases[i].t, HUGE_PAGES_NONE, &m);
		strbuf_fini(&out);
		config_machine_json(&m, false, &out);
		parse_out();
		expect_str(0, "mvm_cpu_template", cases[i].name); /* not Firecracker's enum */
		cr_expect_eq(member(0, "cpu_template"), -1);
		expect_str(0, "huge_pages", "None");
		cr_expect_not(get_bool(0, "track_dirty_pages"));
	}
}

Test(config_out, machine_json_round_trips_through_the_parser)
{
	static const enum cpu_template tmpl[] = { CPU_TEMPLATE_AUTO, CPU_TEMPLATE_HOST,
						  CPU_TEMPLATE_PVM_SAFE };
	static const enum huge_pages huge[] = { HUGE_PAGES_NONE, HUGE_PAGES_2M, HUGE_PAGES_THP };
	static const uint32_t vcpus[] = { 1, 7, 32 }, mibs[] = { 2, 128, 1048576 }; /* 2M: even */
	for (size_t t = 0; t < 3; t++)
		for (size_t h = 0; h < 3; h++)
			for (size_t v = 0; v < 3; v++) {
				struct machine_cfg m, back;
				struct err e;
				machine(vcpus[v], mibs[v], (t + h + v) % 2, tmpl[t], huge[h], &m);
				strbuf_fini(&out);
				config_machine_json(&m, false, &out);
				parse_out();
				back = (struct machine_cfg){ .vcpu_count = 99, .mem_size_mib = 99 };
				cr_assert_eq(config_parse_machine(&doc, 0, &back, false, &e), 0,
					     "%s: %s", out.s, e.msg);
				cr_expect_eq(memcmp(&m, &back, sizeof(m)), 0, "%s", out.s);
			}
}

Test(config_out, drive_json_has_every_field)
{
	struct drive_cfg d = { .drive_id = "rootfs",
			       .path_on_host = "/img/rootfs.ext4",
			       .is_root_device = true,
			       .is_read_only = true,
			       .partuuid = "0eaa91a0-01",
			       .cache_type = CACHE_WRITEBACK,
			       .io_engine = IO_ENGINE_ASYNC };
	blk_type.describe(&d, &out);
	parse_out();
	expect_str(0, "drive_id", "rootfs");
	expect_str(0, "path_on_host", "/img/rootfs.ext4");
	cr_expect(get_bool(0, "is_root_device"));
	cr_expect(get_bool(0, "is_read_only"));
	expect_str(0, "partuuid", "0eaa91a0-01");
	expect_str(0, "cache_type", "Writeback");
	expect_str(0, "io_engine", "Async");
	cr_expect(json_is_null(&doc, need(0, "rate_limiter")));
}

Test(config_out, drive_json_defaults_and_null_partuuid)
{
	struct drive_cfg d = { .drive_id = "d", .path_on_host = "/d" };
	blk_type.describe(&d, &out);
	parse_out();
	cr_expect_not(get_bool(0, "is_root_device"));
	cr_expect_not(get_bool(0, "is_read_only"));
	expect_str(0, "partuuid", NULL);
	expect_str(0, "cache_type", "Unsafe");
	expect_str(0, "io_engine", "Sync");
}

Test(config_out, drive_json_escapes_hostile_paths)
{
	const char *path = "/a \"b\"\\c\n\x01/\xc3\xa9";
	struct drive_cfg d = { .drive_id = "x",
			       .path_on_host = (char *)path,
			       .partuuid = (char *)"\"" };
	blk_type.describe(&d, &out);
	parse_out();
	expect_str(0, "path_on_host", path);
	expect_str(0, "partuuid", "\"");
}

/* A device config (malloc'd) into c, as the config file parser puts it. */
static void put(struct vm_config *c, const struct device_type *t, void *dev)
{
	struct err e = { 0 };
	cr_assert_not_null(dev);
	cr_assert_eq(config_put_device(c, t, dev, false, &e), 0, "%s", e.msg);
}

/* A drive as the drive parser fills it, owning its strings. */
static void add_drive(struct vm_config *c, const char *id, const char *path, bool root,
		      const char *partuuid, enum cache_type ct, enum io_engine io)
{
	struct drive_cfg *d = calloc(1, sizeof(*d));
	cr_assert_not_null(d);
	snprintf(d->drive_id, sizeof(d->drive_id), "%s", id);
	d->path_on_host = strdup(path);
	d->partuuid = partuuid ? strdup(partuuid) : NULL;
	d->is_root_device = root;
	d->is_read_only = !root;
	d->cache_type = ct;
	d->io_engine = io;
	put(c, &blk_type, d);
}

/* The i-th device of type t in c. */
static const void *nth(const struct vm_config *c, const struct device_type *t, int i)
{
	for (int k = 0, n = 0; k < c->nr_devs; k++)
		if (c->devs[k].type == t && n++ == i)
			return c->devs[k].cfg;
	cr_assert_fail("no %s %d", t->name, i);
	return NULL;
}

static void full_config(struct vm_config *c)
{
	c->machine = (struct machine_cfg){ .vcpu_count = 4,
					   .mem_size_mib = 2048,
					   .track_dirty_pages = true,
					   .cpu_template = CPU_TEMPLATE_HOST,
					   .huge_pages = HUGE_PAGES_THP };
	c->boot.kernel_image_path = strdup("/img/vmlinux");
	c->boot.boot_args = strdup("console=ttyS0 \"quoted\" back\\slash");
	c->boot.initrd_path = strdup("/img/initrd");
	add_drive(c, "rootfs", "/img/rootfs.ext4", true, "abc-1", CACHE_WRITEBACK, IO_ENGINE_SYNC);
	add_drive(c, "data_1", "/img/data \"1\"", false, NULL, CACHE_UNSAFE, IO_ENGINE_ASYNC);
	struct rng_cfg *rng = calloc(1, sizeof(*rng));
	cr_assert_not_null(rng);
	rng->rate_limiter.bandwidth = (struct bucket_cfg){ 1 << 20, 4096, 1000, false, false };
	put(c, &rng_type, rng);
	struct net_cfg *n = calloc(1, sizeof(*n));
	cr_assert_not_null(n);
	*n = (struct net_cfg){ .iface_id = "eth0",
			       .host_dev_name = "tap0",
			       .has_mac = true,
			       .guest_mac = { 0x06, 0, 0xac, 0x10, 0, 2 } };
	n->tx_rate_limiter.ops = (struct bucket_cfg){ 100, 0, 10, false, false };
	put(c, &net_type, n);
	struct vsock_cfg *v = calloc(1, sizeof(*v));
	cr_assert_not_null(v);
	v->guest_cid = 7;
	v->uds_path = strdup("/run/v \"sock\"");
	put(c, &vsock_type, v);
	struct balloon_cfg *b = calloc(1, sizeof(*b));
	cr_assert_not_null(b);
	*b = (struct balloon_cfg){ .amount_mib = 512,
				   .deflate_on_oom = true,
				   .stats_polling_interval_s = 5 };
	put(c, &balloon_type, b);
	/* pmem, where the registry has it (by its config-file key: no header needed). */
	if (device_type_by_key("pmem", 4)) {
		struct err e = { 0 };
		cr_assert_eq(config_add_device_json(c, "pmem",
						    "{\"id\": \"pm0\", \"path_on_host\": "
						    "\"/img/pmem\", \"root_device\": false}",
						    &e),
			     0, "%s", e.msg);
	}
	c->log_path = strdup("/tmp/mvm.log");
	c->log_level = strdup("Debug");
	c->log_show_level = false;
	c->log_show_origin = true;
	c->metrics_path = strdup("/tmp/mvm.metrics");
}

Test(config_out, vm_json_describes_a_full_config)
{
	full_config(&cfg);
	config_vm_json(&cfg, &out);
	parse_out();

	int boot = need(0, "boot-source");
	expect_str(boot, "kernel_image_path", "/img/vmlinux");
	expect_str(boot, "boot_args", "console=ttyS0 \"quoted\" back\\slash");
	expect_str(boot, "initrd_path", "/img/initrd");

	int m = need(0, "machine-config");
	cr_expect_eq(get_u64(m, "vcpu_count"), 4);
	cr_expect_eq(get_u64(m, "mem_size_mib"), 2048);
	expect_str(m, "mvm_cpu_template", "Host");

	int drives = need(0, "drives");
	cr_assert_eq(doc.t[drives].type, JSMN_ARRAY);
	cr_assert_eq(doc.t[drives].size, 2);
	int d0 = drives + 1, d1 = json_next(&doc, d0);
	expect_str(d0, "drive_id", "rootfs");
	cr_expect(get_bool(d0, "is_root_device"));
	expect_str(d0, "partuuid", "abc-1");
	expect_str(d1, "drive_id", "data_1");
	expect_str(d1, "path_on_host", "/img/data \"1\"");
	expect_str(d1, "io_engine", "Async");

	int log = need(0, "logger");
	expect_str(log, "log_path", "/tmp/mvm.log");
	expect_str(log, "level", "Debug");
	cr_expect_not(get_bool(log, "show_level"));
	cr_expect(get_bool(log, "show_log_origin"));

	int met = need(0, "metrics");
	expect_str(met, "metrics_path", "/tmp/mvm.metrics");
	int ent = need(0, "entropy");
	cr_expect_eq(doc.t[ent].type, JSMN_OBJECT, "a virtio-rng shows as an entropy object");
}

Test(config_out, vm_json_of_an_empty_config_uses_nulls)
{
	config_vm_json(&cfg, &out);
	parse_out();
	/* Firecracker's boot-source is always an object, its kernel path "" until set. */
	expect_str(need(0, "boot-source"), "kernel_image_path", "");
	cr_expect(json_is_null(&doc, need(0, "logger")));
	cr_expect(json_is_null(&doc, need(0, "metrics")));
	cr_expect(json_is_null(&doc, need(0, "entropy")));
	int drives = need(0, "drives");
	cr_expect_eq(doc.t[drives].type, JSMN_ARRAY);
	cr_expect_eq(doc.t[drives].size, 0);
	int m = need(0, "machine-config");
	cr_expect_eq(get_u64(m, "vcpu_count"), MVM_DEFAULT_VCPUS);
	cr_expect_eq(get_u64(m, "mem_size_mib"), MVM_DEFAULT_MEM_MIB);
}

Test(config_out, vm_json_boot_without_args_or_initrd_says_null)
{
	cfg.boot.kernel_image_path = strdup("/k");
	config_vm_json(&cfg, &out);
	parse_out();
	int boot = need(0, "boot-source");
	expect_str(boot, "boot_args", NULL);
	expect_str(boot, "initrd_path", NULL);
}

Test(config_out, vm_json_logger_level_defaults_to_info)
{
	cfg.log_path = strdup("/l");
	config_vm_json(&cfg, &out);
	parse_out();
	expect_str(need(0, "logger"), "level", "Info");
}

Test(config_out, vm_json_holds_every_drive)
{
	for (int i = 0; i < (int)blk_type.max; i++) {
		char id[16], path[32];
		snprintf(id, sizeof(id), "d%d", i);
		snprintf(path, sizeof(path), "/img/%d", i);
		add_drive(&cfg, id, path, i == 0, NULL, CACHE_UNSAFE, IO_ENGINE_SYNC);
	}
	config_vm_json(&cfg, &out);
	parse_out();
	int drives = need(0, "drives");
	cr_assert_eq(doc.t[drives].size, (int)blk_type.max);
	int d = drives + 1;
	for (int i = 0; i < (int)blk_type.max; i++, d = json_next(&doc, d)) {
		char id[16];
		snprintf(id, sizeof(id), "d%d", i);
		expect_str(d, "drive_id", id);
	}
}

/* Compare what the config file format carries. */
static void expect_same_config(const struct vm_config *a, const struct vm_config *b)
{
	cr_expect_eq(memcmp(&a->machine, &b->machine, sizeof(a->machine)), 0, "machine-config");
	cr_expect_str_eq(a->boot.kernel_image_path, b->boot.kernel_image_path);
	cr_expect(!a->boot.boot_args == !b->boot.boot_args &&
		  (!a->boot.boot_args || !strcmp(a->boot.boot_args, b->boot.boot_args)));
	cr_expect(!a->boot.initrd_path == !b->boot.initrd_path &&
		  (!a->boot.initrd_path || !strcmp(a->boot.initrd_path, b->boot.initrd_path)));
	cr_assert_eq(a->nr_devs, b->nr_devs);
	for (int i = 0; i < a->nr_devs; i++) {
		const struct device_type *t = a->devs[i].type;
		cr_assert_eq(b->devs[i].type, t, "device %d: %s, came back as %s", i, t->name,
			     b->devs[i].type->name);
		if (t != &blk_type)
			continue;
		const struct drive_cfg *x = a->devs[i].cfg, *y = b->devs[i].cfg;
		cr_expect_str_eq(x->drive_id, y->drive_id);
		cr_expect_str_eq(x->path_on_host, y->path_on_host);
		cr_expect_eq(x->is_root_device, y->is_root_device, "drive %d", i);
		cr_expect_eq(x->is_read_only, y->is_read_only, "drive %d", i);
		cr_expect(!x->partuuid == !y->partuuid &&
			  (!x->partuuid || !strcmp(x->partuuid, y->partuuid)));
		cr_expect_eq(x->cache_type, y->cache_type, "drive %d", i);
		cr_expect_eq(x->io_engine, y->io_engine, "drive %d", i);
		cr_expect_eq(x->direct_io, y->direct_io, "drive %d: direct_io", i);
	}
	/* Every device, of every type, described the same once read back. */
	for (int i = 0; i < a->nr_devs; i++) {
		struct strbuf x, y;
		strbuf_init(&x);
		strbuf_init(&y);
		a->devs[i].type->describe(a->devs[i].cfg, &x);
		b->devs[i].type->describe(b->devs[i].cfg, &y);
		cr_expect_str_eq(x.s, y.s, "device %d (%s)", i, a->devs[i].type->name);
		strbuf_fini(&x);
		strbuf_fini(&y);
	}
	cr_expect_eq(config_find_device(a, &rng_type, NULL) != NULL,
		     config_find_device(b, &rng_type, NULL) != NULL);
	cr_expect(!a->log_path == !b->log_path &&
		  (!a->log_path || !strcmp(a->log_path, b->log_path)));
	cr_expect(!a->log_level == !b->log_level &&
		  (!a->log_level || !strcmp(a->log_level, b->log_level)));
	cr_expect_eq(a->log_show_level, b->log_show_level);
	cr_expect_eq(a->log_show_origin, b->log_show_origin);
	cr_expect(!a->metrics_path == !b->metrics_path &&
		  (!a->metrics_path || !strcmp(a->metrics_path, b->metrics_path)));
}

/* GET /vm/config's body fed back as a config file, without `drop` (a literal piece of it). */
static void round_trip_without(const struct vm_config *c, const char *drop)
{
	struct vm_config back;
	struct err e = { 0 };
	strbuf_fini(&out);
	config_vm_json(c, &out);
	cr_assert_not(out.oom);
	if (drop) {
		char *at = strstr(out.s, drop);
		cr_assert_not_null(at, "no '%s' in %s", drop, out.s);
		memmove(at, at + strlen(drop), strlen(at + strlen(drop)) + 1);
		out.len -= strlen(drop);
	}
	vm_config_init(&back);
	int r = config_parse_file(out.s, out.len, &back, &e);
	cr_expect_eq(r, 0, "GET /vm/config output is not a valid config file: %s\n%s", e.msg,
		     out.s);
	if (!r)
		expect_same_config(c, &back);
	vm_config_fini(&back);
}

static void round_trip(const struct vm_config *c)
{
	round_trip_without(c, NULL);
}

#define CPU_CONFIG ", \"cpu-config\": null"

/* Everything but "cpu-config" (see the disabled tests below) comes back as it was. */
Test(config_out, vm_json_round_trips_apart_from_cpu_config)
{
	full_config(&cfg);
	round_trip_without(&cfg, CPU_CONFIG);
}

/* The drive sections on their own, through their parsers. */
Test(config_out, drive_sections_round_trip_through_config_parse_drive)
{
	full_config(&cfg);
	for (int i = 0; i < config_count_devices(&cfg, &blk_type); i++) {
		const struct drive_cfg *d = nth(&cfg, &blk_type, i);
		struct drive_cfg back = { 0 };
		struct err e;
		strbuf_fini(&out);
		blk_type.describe(d, &out);
		parse_out();
		cr_assert_eq(blk_type.parse(&doc, 0, &back, &e), 0, "%s: %s", out.s, e.msg);
		cr_expect_str_eq(back.drive_id, d->drive_id);
		cr_expect_str_eq(back.path_on_host, d->path_on_host);
		cr_expect_eq(back.is_root_device, d->is_root_device);
		cr_expect_eq(back.is_read_only, d->is_read_only);
		cr_expect_eq(back.cache_type, d->cache_type);
		cr_expect_eq(back.io_engine, d->io_engine);
		cr_expect(!back.partuuid == !d->partuuid);
		blk_type.cfg_fini(&back);
	}
}

/* A single-device type not configured is null; a many-device one an empty array. */
Test(config_out, vm_json_shows_every_device_type_by_its_key)
{
	config_vm_json(&cfg, &out);
	parse_out();
	for (unsigned k = 0; k < nr_device_types; k++) {
		const struct device_type *t = device_types[k];
		int v = need(0, t->key);
		if (t->id_field) {
			cr_expect_eq(doc.t[v].type, JSMN_ARRAY, "%s", t->key);
			cr_expect_eq(doc.t[v].size, 0, "%s", t->key);
		} else {
			cr_expect(json_is_null(&doc, v), "%s", t->key);
		}
	}
	full_config(&cfg);
	strbuf_fini(&out);
	config_vm_json(&cfg, &out);
	parse_out();
	int nets = need(0, "network-interfaces");
	cr_assert_eq(doc.t[nets].size, 1);
	expect_str(nets + 1, "iface_id", "eth0");
	expect_str(nets + 1, "guest_mac", "06:00:ac:10:00:02");
	int v = need(0, "vsock");
	cr_expect_eq(get_u64(v, "guest_cid"), 7);
	expect_str(v, "uds_path", "/run/v \"sock\"");
	int b = need(0, "balloon");
	cr_expect_eq(get_u64(b, "amount_mib"), 512);
	cr_expect(get_bool(b, "deflate_on_oom"));
	cr_expect_eq(get_u64(b, "stats_polling_interval_s"), 5);
	int rl = need(need(0, "entropy"), "rate_limiter");
	int bw = need(rl, "bandwidth");
	cr_expect_eq(get_u64(bw, "size"), 1 << 20);
	cr_expect_eq(get_u64(bw, "one_time_burst"), 4096);
	cr_expect_eq(get_u64(bw, "refill_time"), 1000);
	cr_expect(json_is_null(&doc, need(rl, "ops")));
}

/*
 * Regression: vmm/config_out.c config_vm_json() writes "cpu-config": null, which
 * vmm/config.c config_parse_file() refuses ("unknown field 'cpu-config' in the
 * config file"): GET /vm/config cannot be saved and passed back as a config
 * file, as it can with Firecracker. Fix: accept "cpu-config" (null only) in
 * config_parse_file(), next to the other not-yet sections.
 */
Test(config_out, vm_json_round_trips_as_a_config_file)
{
	full_config(&cfg);
	round_trip(&cfg);
}

/*
 * Regression: sections that are not set are printed as "logger": null and
 * "metrics": null, and vmm/config.c config_parse_file() refuses both ("logger
 * must be a JSON object"): GET /vm/config of a VM without a logger or metrics
 * is not a valid config file. Fix: in config_parse_file(), skip a null logger
 * or metrics value, as it already does for entropy.
 */
Test(config_out, vm_json_round_trips_unset_logger_and_metrics)
{
	cfg.boot.kernel_image_path = strdup("/k");
	round_trip_without(&cfg, CPU_CONFIG);
}

/*
 * Regression: a logger with a level but no path (PUT /logger {"level": "Debug"}, kept
 * by vmm/requests.c) is printed as "log_path": null, and vmm/config.c
 * parse_logger() refuses null ("field 'log_path' must be a string"). Fix:
 * parse_logger() skips a null log_path.
 */
Test(config_out, vm_json_round_trips_a_logger_without_path)
{
	cfg.boot.kernel_image_path = strdup("/k");
	cfg.log_level = strdup("Debug");
	cfg.metrics_path = strdup("/m");
	round_trip_without(&cfg, CPU_CONFIG);
}

/*
 * Regression: vmm/config_out.c config_drive_json() leaves out direct_io (an mvm
 * extension config_parse_drive() accepts), so a drive opened with O_DIRECT
 * comes back from GET /vm/config as a buffered one. Fix: print
 * "direct_io": true|false in config_drive_json().
 */
Test(config_out, drive_json_keeps_direct_io)
{
	struct drive_cfg d = { .drive_id = "d", .path_on_host = "/d", .direct_io = true };
	blk_type.describe(&d, &out);
	parse_out();
	cr_expect(get_bool(0, "direct_io"));
}
