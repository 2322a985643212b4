/*
 * monitor/routes.c and the device types' parsers: each endpoint's body, field
 * by field, into its typed request (machine-config, boot-source, drives,
 * logger, metrics, serial, entropy), or a 400 naming the field. How routing
 * itself works, and the bodies that choose their op (actions, vm), are in
 * test_routes.c.
 */
#include <unistd.h>

#include "../../virtio/blk/blk.h"
#include "../../virtio/rng.h"
#include "routes_util.h"

TestSuite(routes_endpoints, .init = routes_setup, .fini = routes_teardown);

/* ---- PUT / PATCH /machine-config ---- */

Test(routes_endpoints, put_machine_config_resets_omitted_fields_to_defaults)
{
	OK(HTTP_PUT, "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256}",
	   API_PUT_MACHINE);
	const struct machine_cfg *m = &req.u.machine.cfg;
	cr_expect_eq(m->vcpu_count, 2);
	cr_expect_eq(m->mem_size_mib, 256);
	cr_expect_not(m->smt);
	cr_expect_not(m->track_dirty_pages);
	cr_expect_eq(m->cpu_template, CPU_TEMPLATE_AUTO);
	cr_expect_eq(m->huge_pages, HUGE_PAGES_NONE);
	cr_expect_eq(req.u.machine.present, MC_VCPUS | MC_MEM);
}

Test(routes_endpoints, put_machine_config_takes_every_field)
{
	OK(HTTP_PUT, "/machine-config",
	   "{\"vcpu_count\": 32, \"mem_size_mib\": 1048576, \"smt\": false,"
	   " \"track_dirty_pages\": true, \"cpu_template\": \"PvmSafe\", \"huge_pages\": \"2M\"}",
	   API_PUT_MACHINE);
	const struct machine_cfg *m = &req.u.machine.cfg;
	cr_expect_eq(m->vcpu_count, 32);
	cr_expect_eq(m->mem_size_mib, 1048576);
	cr_expect(m->track_dirty_pages);
	cr_expect_eq(m->cpu_template, CPU_TEMPLATE_PVM_SAFE);
	cr_expect_eq(m->huge_pages, HUGE_PAGES_2M);
	cr_expect_eq(req.u.machine.present,
		     MC_VCPUS | MC_MEM | MC_SMT | MC_TRACK_DIRTY | MC_TEMPLATE | MC_HUGE_PAGES);
}

Test(routes_endpoints, patch_machine_config_marks_only_the_fields_given)
{
	static const struct {
		const char *body;
		unsigned present;
	} cases[] = {
		{ "{\"vcpu_count\": 4}", MC_VCPUS },
		{ "{\"mem_size_mib\": 512}", MC_MEM },
		{ "{\"smt\": false}", MC_SMT },
		{ "{\"track_dirty_pages\": true, \"mem_size_mib\": 64}", MC_TRACK_DIRTY | MC_MEM },
		{ "{\"cpu_template\": \"Host\"}", MC_TEMPLATE },
		{ "{\"huge_pages\": \"None\"}", MC_HUGE_PAGES },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = route(HTTP_PATCH, "/machine-config", cases[i].body);
		expect_routed(cases[i].body, r, API_PATCH_MACHINE);
		cr_expect_eq(req.u.machine.present, cases[i].present, "case %zu: %s: mask %#x", i,
			     cases[i].body, req.u.machine.present);
	}
	cr_assert_eq(route(HTTP_PATCH, "/machine-config", "{\"vcpu_count\": 4}"), 0);
	cr_expect_eq(req.u.machine.cfg.vcpu_count, 4);
	cr_assert_eq(route(HTTP_PATCH, "/machine-config", "{\"cpu_template\": \"Host\"}"), 0);
	cr_expect_eq(req.u.machine.cfg.cpu_template, CPU_TEMPLATE_HOST);
}

static const struct {
	const char *body;
	const char *msg1, *msg2;
	bool put_only; /* refused by PUT only (a PATCH may leave fields out) */
} bad_machine[] = {
	{ "{\"mem_size_mib\": 128}", "missing field `vcpu_count` at line 1 column 21.", NULL,
	  true },
	{ "{\"vcpu_count\": 1}", "missing field `mem_size_mib` at line 1 column 17.", NULL, true },
	{ "{\"vcpu_count\": 0, \"mem_size_mib\": 128}", "'vcpu_count'", "between 1 and 32", false },
	{ "{\"vcpu_count\": 33, \"mem_size_mib\": 128}", "'vcpu_count'", "between 1 and 32",
	  false },
	{ "{\"vcpu_count\": -1, \"mem_size_mib\": 128}", "'vcpu_count'", "between", false },
	{ "{\"vcpu_count\": 2.5, \"mem_size_mib\": 128}", "'vcpu_count'", "integer", false },
	{ "{\"vcpu_count\": 1e1, \"mem_size_mib\": 128}", "'vcpu_count'", "integer", false },
	{ "{\"vcpu_count\": \"2\", \"mem_size_mib\": 128}", "'vcpu_count'", "integer", false },
	{ "{\"vcpu_count\": true, \"mem_size_mib\": 128}", "'vcpu_count'", "integer", false },
	{ "{\"vcpu_count\": null, \"mem_size_mib\": 128}", "'vcpu_count'", "integer", false },
	{ "{\"vcpu_count\": 99999999999999999999999, \"mem_size_mib\": 128}", "'vcpu_count'", NULL,
	  false },
	{ "{\"vcpu_count\": 1, \"mem_size_mib\": 0}", "'mem_size_mib'", "between", false },
	{ "{\"vcpu_count\": 1, \"mem_size_mib\": 1048577}", "'mem_size_mib'", "between", false },
	{ "{\"vcpu_count\": 1, \"mem_size_mib\": 4294967296}", "'mem_size_mib'", "between", false },
	{ "{\"vcpu_count\": 1, \"mem_size_mib\": 18446744073709551616}", "'mem_size_mib'", NULL,
	  false },
	{ "{\"vcpu_count\": 1, \"mem_size_mib\": -128}", "'mem_size_mib'", NULL, false },
	{ "{\"vcpu_count\": 3, \"mem_size_mib\": 128, \"smt\": true}", "1 or an even number", "SMT",
	  true },
	{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"smt\": 0}", "'smt'", "true or false",
	  false },
	{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"track_dirty_pages\": \"yes\"}",
	  "'track_dirty_pages'", "true or false", false },
	{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpu_template\": \"V1N1\"}",
	  "'cpu_template'", "unknown variant `V1N1`", false },
	{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpu_template\": 1}", "'cpu_template'",
	  "string", false },
	{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"huge_pages\": \"1G\"}", "'huge_pages'",
	  "1G", false },
	{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"vcpus\": 2}", "unknown field `vcpus`",
	  "machine-config", false },
	{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"Vcpu_count\": 2}",
	  "unknown field `Vcpu_count`", NULL, false },
};

Test(routes_endpoints, machine_config_bad_bodies_name_the_field)
{
	for (size_t i = 0; i < sizeof(bad_machine) / sizeof(bad_machine[0]); i++) {
		char what[160];
		snprintf(what, sizeof(what), "PUT case %zu %s", i, bad_machine[i].body);
		expect_refused(what, route(HTTP_PUT, "/machine-config", bad_machine[i].body),
			       bad_machine[i].msg1, bad_machine[i].msg2);
		snprintf(what, sizeof(what), "PATCH case %zu %s", i, bad_machine[i].body);
		int r = route(HTTP_PATCH, "/machine-config", bad_machine[i].body);
		if (bad_machine[i].put_only)
			expect_routed(what, r, API_PATCH_MACHINE);
		else
			expect_refused(what, r, bad_machine[i].msg1, bad_machine[i].msg2);
	}
}

/* Firecracker's words for an empty machine-config, which clients match on. */
Test(routes_endpoints, empty_machine_config_bodies_get_firecrackers_messages)
{
	expect_refused("PUT {}", route(HTTP_PUT, "/machine-config", "{}"),
		       "missing field `vcpu_count` at line 1 column 2.", NULL);
	expect_refused("PUT over lines", route(HTTP_PUT, "/machine-config", "{\n \"smt\": true\n}"),
		       "missing field `vcpu_count` at line 3 column 1.", NULL);
	expect_refused("PATCH {}", route(HTTP_PATCH, "/machine-config", "{}"),
		       "Empty PATCH request.", NULL);
}

/* ---- PUT /boot-source ---- */

Test(routes_endpoints, put_boot_source_copies_every_path)
{
	OK(HTTP_PUT, "/boot-source",
	   "{\"kernel_image_path\": \"/img/vmlinux\", \"boot_args\": \"console=ttyS0 "
	   "reboot=k\", \"initrd_path\": \"/img/initrd\"}",
	   API_PUT_BOOT);
	cr_expect_str_eq(req.u.boot.kernel_image_path, "/img/vmlinux");
	cr_expect_str_eq(req.u.boot.boot_args, "console=ttyS0 reboot=k");
	cr_expect_str_eq(req.u.boot.initrd_path, "/img/initrd");
}

Test(routes_endpoints, put_boot_source_null_and_empty_optionals_mean_none)
{
	OK(HTTP_PUT, "/boot-source",
	   "{\"kernel_image_path\": \"/k\", \"boot_args\": null, \"initrd_path\": \"\"}",
	   API_PUT_BOOT);
	cr_expect_str_eq(req.u.boot.kernel_image_path, "/k");
	cr_expect_null(req.u.boot.boot_args, "null means the default command line");
	cr_expect_null(req.u.boot.initrd_path, "an empty initrd_path means none");
}

Test(routes_endpoints, put_boot_source_repeated_field_is_refused)
{
	const char *body = "{\"kernel_image_path\": \"/a\", \"kernel_image_path\": \"/b\"}";
	expect_refused(body, route(HTTP_PUT, "/boot-source", body),
		       "duplicate key 'kernel_image_path'", NULL);
}

static const struct {
	const char *body;
	const char *msg1, *msg2;
} bad_boot[] = {
	{ "{}", "needs 'kernel_image_path'", NULL },
	{ "{\"boot_args\": \"x\"}", "needs 'kernel_image_path'", NULL },
	{ "{\"kernel_image_path\": \"\"}", "needs 'kernel_image_path'", NULL },
	{ "{\"kernel_image_path\": null}", "needs 'kernel_image_path'", NULL },
	{ "{\"kernel_image_path\": 5}", "'kernel_image_path'", "must be a string" },
	{ "{\"kernel_image_path\": [\"/k\"]}", "'kernel_image_path'", "must be a string" },
	{ "{\"kernel_image_path\": \"/k\", \"boot_args\": false}", "'boot_args'",
	  "must be a string" },
	{ "{\"kernel_image_path\": \"/k\", \"initrd_path\": {}}", "'initrd_path'",
	  "must be a string" },
	{ "{\"kernel_image_path\": \"/k\", \"kernel\": \"/x\"}", "unknown field `kernel`",
	  "boot-source" },
	{ "{\"kernel_image_path\": \"/k\\u0000x\"}", "'kernel_image_path'", "NUL" },
	{ "{\"kernel_image_path\": \"/k\\ud800\"}", "'kernel_image_path'", "escape" },
};

Test(routes_endpoints, put_boot_source_bad_bodies_name_the_field)
{
	for (size_t i = 0; i < sizeof(bad_boot) / sizeof(bad_boot[0]); i++)
		expect_refused(bad_boot[i].body, route(HTTP_PUT, "/boot-source", bad_boot[i].body),
			       bad_boot[i].msg1, bad_boot[i].msg2);
}

/* ---- PUT / PATCH /drives/{id} ---- */

#define DRIVE(id, extra)                                                                     \
	"{\"drive_id\": \"" id "\", \"path_on_host\": \"/img/" id "\", \"is_root_device\": " \
	"false" extra "}"

Test(routes_endpoints, put_drive_with_the_path_id_in_the_body)
{
	OK(HTTP_PUT, "/drives/rootfs",
	   "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/img/rootfs.ext4\","
	   " \"is_root_device\": true, \"is_read_only\": true, \"partuuid\": \"abc-1\","
	   " \"cache_type\": \"Writeback\", \"io_engine\": \"Sync\", \"rate_limiter\": null}",
	   API_DEV_PUT);
	cr_expect_eq(req.route->type, &blk_type);
	cr_expect_str_eq(req.id, "rootfs");
	const struct drive_cfg *d = req.dev_body;
	cr_expect_str_eq(d->drive_id, "rootfs");
	cr_expect_str_eq(d->path_on_host, "/img/rootfs.ext4");
	cr_expect(d->is_root_device);
	cr_expect(d->is_read_only);
	cr_expect_str_eq(d->partuuid, "abc-1");
	cr_expect_eq(d->cache_type, CACHE_WRITEBACK);
	cr_expect_eq(d->io_engine, IO_ENGINE_SYNC);
}

Test(routes_endpoints, put_drive_defaults_and_the_longest_id)
{
	OK(HTTP_PUT, "/drives/data_1", DRIVE("data_1", ""), API_DEV_PUT);
	const struct drive_cfg *d = req.dev_body;
	cr_expect_not(d->is_read_only);
	cr_expect_null(d->partuuid);
	cr_expect_eq(d->cache_type, CACHE_UNSAFE);
	cr_expect_eq(d->io_engine, IO_ENGINE_SYNC);
	cr_expect_not(d->direct_io);
	cr_expect_eq(d->rate_limiter.bandwidth.size, 0);
	cr_expect_eq(d->rate_limiter.ops.size, 0);

	char id[MVM_ID_MAX + 1], path[128], body[256];
	memset(id, 'x', MVM_ID_MAX);
	id[MVM_ID_MAX] = '\0';
	snprintf(path, sizeof(path), "/drives/%s", id);
	snprintf(body, sizeof(body),
		 "{\"drive_id\": \"%s\", \"path_on_host\": \"/d\", \"is_root_device\": false}", id);
	expect_routed("64-byte id", route(HTTP_PUT, path, body), API_DEV_PUT);
	cr_assert_not_null(req.dev_body);
	cr_expect_str_eq(((const struct drive_cfg *)req.dev_body)->drive_id, id);
	cr_expect_str_eq(req.id, id);
}

static const struct {
	const char *path, *body;
	const char *msg1, *msg2;
} bad_put_drive[] = {
	{ "/drives/a", DRIVE("b", ""), "The id from the path does not match the id from the body!",
	  "'b' in the body" },
	{ "/drives/rootfs", DRIVE("Rootfs", ""), "does not match", NULL },
	{ "/drives/rootfs", DRIVE("rootfs2", ""), "does not match", NULL },
	{ "/drives/", DRIVE("a", ""), "The ID cannot be empty.", NULL },
	{ "/drives/bad-id", DRIVE("bad-id", ""),
	  "can only contain alphanumeric characters and underscores. (drive_id 'bad-id'", NULL },
	{ "/drives/a.b", DRIVE("a.b", ""), "can only contain alphanumeric", NULL },
	{ "/drives/%20", DRIVE("%20", ""), "can only contain alphanumeric", NULL },
	{ "/drives/\xc3\xa9", DRIVE("\xc3\xa9", ""), "can only contain alphanumeric", NULL },
	{ "/drives/x", "{\"path_on_host\": \"/d\", \"is_root_device\": false}", "needs 'drive_id'",
	  NULL },
	{ "/drives/x", "{\"drive_id\": \"x\", \"is_root_device\": false}", "needs 'path_on_host'",
	  NULL },
	{ "/drives/x", "{\"drive_id\": \"x\", \"path_on_host\": \"\", \"is_root_device\": false}",
	  "needs 'path_on_host'", NULL },
	{ "/drives/x", "{\"drive_id\": \"x\", \"path_on_host\": \"/d\"}", "needs 'is_root_device'",
	  NULL },
	{ "/drives/x", "{\"drive_id\": 1, \"path_on_host\": \"/d\", \"is_root_device\": false}",
	  "'drive_id'", "must be a string" },
	{ "/drives/x", DRIVE("x", ", \"is_root_device\": \"true\""),
	  "duplicate key 'is_root_device'", NULL },
	{ "/drives/x", DRIVE("x", ", \"is_read_only\": 1"), "'is_read_only'", "true or false" },
	{ "/drives/x", DRIVE("x", ", \"partuuid\": 7"), "'partuuid'", "must be a string" },
	{ "/drives/x", DRIVE("x", ", \"cache_type\": \"Fast\""), "'cache_type'", "Fast" },
	{ "/drives/x", DRIVE("x", ", \"io_engine\": \"Uring\""), "'io_engine'", "Uring" },
	{ "/drives/x", DRIVE("x", ", \"socket\": \"/s\""), "'socket'", NULL },
	{ "/drives/x", DRIVE("x", ", \"read_only\": true"), "unknown field `read_only`", "drive" },
};

Test(routes_endpoints, put_drive_bad_bodies_and_ids_are_refused)
{
	for (size_t i = 0; i < sizeof(bad_put_drive) / sizeof(bad_put_drive[0]); i++) {
		char what[300];
		snprintf(what, sizeof(what), "case %zu: PUT %s %s", i, bad_put_drive[i].path,
			 bad_put_drive[i].body);
		expect_refused(what, route(HTTP_PUT, bad_put_drive[i].path, bad_put_drive[i].body),
			       bad_put_drive[i].msg1, bad_put_drive[i].msg2);
	}
}

Test(routes_endpoints, put_drive_id_longer_than_64_is_refused)
{
	char id[MVM_ID_MAX + 2], path[128], body[256];
	memset(id, 'x', MVM_ID_MAX + 1);
	id[MVM_ID_MAX + 1] = '\0';
	snprintf(path, sizeof(path), "/drives/%s", id);
	snprintf(body, sizeof(body),
		 "{\"drive_id\": \"%s\", \"path_on_host\": \"/d\", \"is_root_device\": false}", id);
	/* Refused before the body is read, naming the field and what is allowed. */
	expect_refused("65-byte id", route(HTTP_PUT, path, body), "drive_id",
		       "can only contain alphanumeric");

	/* A path id far too long for any buffer: refused, never copied. */
	char big[600];
	snprintf(big, sizeof(big), "/drives/%0500d", 0);
	expect_refused("500-byte path id", route(HTTP_PUT, big, DRIVE("x", "")), NULL, NULL);
	expect_refused("500-byte path id", route(HTTP_PATCH, big, "{\"drive_id\": \"x\"}"), NULL,
		       NULL);
}

/* A scratch disk of `size` bytes; its name into p (unlink it). */
static void scratch_disk(char p[32], off_t size)
{
	snprintf(p, 32, "/tmp/mvm-routes-XXXXXX");
	int fd = mkstemp(p);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, size), 0);
	close(fd);
}

/*
 * A PATCH /drives body is the drive type's own: it is checked by applying the
 * routed request to a drive on a real device, as the vmm thread does.
 */
Test(routes_endpoints, patch_drive_routes_a_new_path)
{
	char first[32], second[32], third[32], body[160];
	struct err e = { 0 };
	scratch_disk(first, 4096);
	scratch_disk(second, 8192);
	scratch_disk(third, 16384);
	struct blk *b = blk_create("rootfs", first, false, false, false, false, &e);
	cr_assert_not_null(b, "%s", e.msg);
	struct drive_cfg d = { .drive_id = "rootfs", .path_on_host = strdup(first) };

	snprintf(body, sizeof(body), "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\"}",
		 second);
	OK(HTTP_PATCH, "/drives/rootfs", body, API_DEV_PATCH);
	cr_expect_eq(req.route->type, &blk_type);
	cr_expect_str_eq(req.id, "rootfs");
	cr_expect_eq(blk_type.patch(b, &d, req.dev_body, &e), 0, "%s", e.msg);
	cr_expect_str_eq(d.path_on_host, second);
	cr_expect_eq(blk_capacity_sectors(b), 16, "the device is on the new file");

	/* Nothing to update: refused, as Firecracker does (400). */
	expect_refused("only drive_id",
		       route(HTTP_PATCH, "/drives/rootfs", "{\"drive_id\": \"rootfs\"}"),
		       "Unable to patch the block device: nothing to update", NULL);
	OK(HTTP_PATCH, "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"rate_limiter\": null}",
	   API_DEV_PATCH);
	cr_expect_eq(blk_type.patch(b, &d, req.dev_body, &e), 0, "%s", e.msg);
	cr_expect_str_eq(d.path_on_host, second, "no path_on_host: unchanged");
	cr_expect_eq(blk_capacity_sectors(b), 16);

	snprintf(body, sizeof(body),
		 "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/a\", \"path_on_host\": \"%s\"}",
		 third);
	expect_refused(body, route(HTTP_PATCH, "/drives/rootfs", body),
		       "duplicate key 'path_on_host'", NULL);
	cr_expect_str_eq(d.path_on_host, second, "a refused body changes nothing");
	snprintf(body, sizeof(body), "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\"}", third);
	OK(HTTP_PATCH, "/drives/rootfs", body, API_DEV_PATCH);
	cr_expect_eq(blk_type.patch(b, &d, req.dev_body, &e), 0, "%s", e.msg);
	cr_expect_str_eq(d.path_on_host, third);
	cr_expect_eq(blk_capacity_sectors(b), 32);

	blk_destroy(b);
	blk_type.cfg_fini(&d);
	unlink(first);
	unlink(second);
	unlink(third);
}

/* A body naming another drive than the path is refused by the route, before
 * anything reaches the device (every type with ids, through patch_id). */
Test(routes_endpoints, drive_patch_of_another_id_is_refused_by_the_route)
{
	expect_refused(
	    "PATCH /drives/a with drive_id b",
	    route(HTTP_PATCH, "/drives/a", "{\"drive_id\": \"b\", \"path_on_host\": \"/x\"}"),
	    "'b' in the body", NULL);
	expect_refused("PATCH /network-interfaces/a with iface_id b",
		       route(HTTP_PATCH, "/network-interfaces/a", "{\"iface_id\": \"b\"}"),
		       "The id from the path [a] does not match the id from the body [b]!", NULL);
}

static const struct {
	const char *path, *body;
	const char *msg1, *msg2;
} bad_patch_drive[] = {
	{ "/drives/a", "{\"path_on_host\": \"/x\"}", "needs 'drive_id'", NULL },
	{ "/drives/a", "{}", "needs 'drive_id'", NULL },
	{ "/drives/a", "{\"drive_id\": \"a\", \"path_on_host\": \"\"}", "'path_on_host' is empty",
	  NULL },
	{ "/drives/a", "{\"drive_id\": \"a\", \"path_on_host\": 1}", "'path_on_host'",
	  "must be a string" },
	{ "/drives/a", "{\"drive_id\": [\"a\"]}", "'drive_id'", "must be a string" },
	{ "/drives/a", "{\"drive_id\": \"a\", \"is_read_only\": true}",
	  "unknown field `is_read_only`", "drive update" },
};

Test(routes_endpoints, patch_drive_bad_bodies_are_refused)
{
	for (size_t i = 0; i < sizeof(bad_patch_drive) / sizeof(bad_patch_drive[0]); i++) {
		char what[200];
		snprintf(what, sizeof(what), "case %zu: PATCH %s %s", i, bad_patch_drive[i].path,
			 bad_patch_drive[i].body);
		expect_refused(what,
			       route(HTTP_PATCH, bad_patch_drive[i].path, bad_patch_drive[i].body),
			       bad_patch_drive[i].msg1, bad_patch_drive[i].msg2);
	}
}

/*
 * Regression: api-socket/routes.c route_drive_patch() never checks the id with
 * config_id_valid(), so PATCH /drives/bad-id with a matching body is routed
 * (PUT refuses the same id); the vmm then answers "drive 'bad-id' does not
 * exist" instead of "invalid id". Fix: after the drive_id/path comparison,
 * `if (!config_id_valid(d->drive_id)) api_response_error(resp, "drive_id '%s'
 * is invalid: ...")`. (Now monitor/routes.c parse_device(), which checks ids
 * for PUT only.)
 */
Test(routes_endpoints, patch_drive_refuses_invalid_ids)
{
	static const char *const ids[] = { "bad-id", "a.b", "%20", "\xc3\xa9" };
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		char path[64], body[64];
		snprintf(path, sizeof(path), "/drives/%s", ids[i]);
		snprintf(body, sizeof(body), "{\"drive_id\": \"%s\"}", ids[i]);
		expect_refused(path, route(HTTP_PATCH, path, body), "can only contain alphanumeric",
			       NULL);
	}
}

/*
 * As PUT does, PATCH refuses a body whose id differs from the path's on the
 * api thread, whether or not that device exists (api-socket/routes.c did, for
 * drives and network interfaces).
 */
Test(routes_endpoints, patch_body_id_must_match_the_path)
{
	expect_refused(
	    "drive",
	    route(HTTP_PATCH, "/drives/a", "{\"drive_id\": \"b\", \"rate_limiter\": null}"),
	    "The id from the path does not match the id from the body!", "'b' in the body");
	expect_refused("interface",
		       route(HTTP_PATCH, "/network-interfaces/e", "{\"iface_id\": \"f\"}"),
		       "The id from the path [e] does not match the id from the body [f]!", NULL);
}

/* ---- PUT /logger, /metrics, /serial, /entropy ---- */

Test(routes_endpoints, put_logger_takes_every_field)
{
	OK(HTTP_PUT, "/logger",
	   "{\"log_path\": \"/tmp/log\", \"level\": \"Debug\", \"show_level\": false,"
	   " \"show_log_origin\": true, \"module\": \"ignored\"}",
	   API_PUT_LOGGER);
	const struct logger_req *l = &req.u.logger;
	cr_expect_str_eq(l->log_path, "/tmp/log");
	cr_expect_str_eq(l->level, "Debug");
	cr_expect(l->has_show_level);
	cr_expect_not(l->show_level);
	cr_expect(l->has_show_origin);
	cr_expect(l->show_log_origin);
}

Test(routes_endpoints, put_logger_leaves_omitted_fields_unset)
{
	OK(HTTP_PUT, "/logger", "{\"level\": \"Error\"}", API_PUT_LOGGER);
	cr_expect_null(req.u.logger.log_path);
	cr_expect_str_eq(req.u.logger.level, "Error");
	cr_expect_not(req.u.logger.has_show_level);
	cr_expect_not(req.u.logger.has_show_origin);
}

Test(routes_endpoints, put_logger_bad_bodies_are_refused)
{
	static const struct {
		const char *body;
		const char *msg1, *msg2;
	} cases[] = {
		{ "{\"log_path\": 1}", "'log_path'", "must be a string" },
		{ "{\"level\": [\"Debug\"]}", "'level'", "must be a string" },
		{ "{\"show_level\": \"yes\"}", "'show_level'", "true or false" },
		{ "{\"show_log_origin\": 1}", "'show_log_origin'", "true or false" },
		{ "{\"path\": \"/l\"}", "unknown field `path`", "logger" },
		{ "{\"log_path\": \"/l\", \"bogus\": null}", "unknown field `bogus`", "logger" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_refused(cases[i].body, route(HTTP_PUT, "/logger", cases[i].body),
			       cases[i].msg1, cases[i].msg2);
}

Test(routes_endpoints, put_metrics_needs_a_path)
{
	OK(HTTP_PUT, "/metrics", "{\"metrics_path\": \"/tmp/m\"}", API_PUT_METRICS);
	cr_expect_str_eq(req.u.path, "/tmp/m");
	const char *twice = "{\"metrics_path\": \"/a\", \"metrics_path\": \"/b\"}";
	expect_refused(twice, route(HTTP_PUT, "/metrics", twice), "duplicate key 'metrics_path'",
		       NULL);

	static const struct {
		const char *body;
		const char *msg1, *msg2;
	} cases[] = {
		{ "{}", "metrics needs 'metrics_path'", NULL },
		{ "{\"metrics_path\": \"\"}", "metrics needs 'metrics_path'", NULL },
		{ "{\"metrics_path\": 3}", "'metrics_path'", "must be a string" },
		{ "{\"metrics_path\": null}", "'metrics_path'", "must be a string" },
		{ "{\"path\": \"/m\"}", "unknown field `path`", "metrics" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_refused(cases[i].body, route(HTTP_PUT, "/metrics", cases[i].body),
			       cases[i].msg1, cases[i].msg2);
}

Test(routes_endpoints, put_serial_path_is_optional)
{
	OK(HTTP_PUT, "/serial", "{\"serial_out_path\": \"/tmp/s\"}", API_PUT_SERIAL);
	cr_expect_str_eq(req.u.path, "/tmp/s");
	OK(HTTP_PUT, "/serial", "{}", API_PUT_SERIAL);
	cr_expect_null(req.u.path);

	expect_refused("number", route(HTTP_PUT, "/serial", "{\"serial_out_path\": 1}"),
		       "'serial_out_path'", "must be a string");
	expect_refused("unknown", route(HTTP_PUT, "/serial", "{\"out\": \"/s\"}"),
		       "unknown field `out`", "serial");
}

Test(routes_endpoints, put_entropy_routes_an_empty_or_null_limiter)
{
	expect_routed("{}", route(HTTP_PUT, "/entropy", "{}"), API_DEV_PUT);
	cr_expect_eq(req.route->type, &rng_type);
	expect_routed("null limiter", route(HTTP_PUT, "/entropy", "{\"rate_limiter\": null}"),
		      API_DEV_PUT);
	cr_expect_eq(req.route->type, &rng_type);
	const struct rng_cfg *r = req.dev_body;
	cr_assert_not_null(r);
	cr_expect_eq(r->rate_limiter.bandwidth.size, 0);
	cr_expect_eq(r->rate_limiter.ops.size, 0);
	OK(HTTP_PUT, "/entropy", "{\"rate_limiter\": {\"ops\": {\"size\": 5, \"refill_time\": 9}}}",
	   API_DEV_PUT);
	r = req.dev_body;
	cr_expect_eq(r->rate_limiter.ops.size, 5);
	cr_expect_eq(r->rate_limiter.ops.refill_time_ms, 9);
	expect_refused("unknown", route(HTTP_PUT, "/entropy", "{\"rate\": 1}"),
		       "unknown field `rate`", "entropy");
}
