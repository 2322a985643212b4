/*
 * api-socket/routes.c: (method, path, body) to a typed request, or a 400 whose
 * body is {"fault_message": ...} naming what was wrong. Also api_client_fault(),
 * the client side of that body. The snapshot endpoints are in
 * test_routes_snapshot.c.
 */
#include "../../api-socket/client.h"
#include "routes_util.h"

TestSuite(routes, .init = routes_setup, .fini = routes_teardown);

/* ---- GET and methods ---- */

Test(routes, get_endpoints_route_to_their_ops)
{
	static const struct {
		const char *path;
		enum api_op op;
	} cases[] = {
		{ "/", API_GET_INFO },
		{ "/version", API_GET_VERSION },
		{ "/vm/config", API_GET_VM_CONFIG },
		{ "/machine-config", API_GET_MACHINE },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		expect_routed(cases[i].path, route(HTTP_GET, cases[i].path, NULL), cases[i].op);
		/* A body on a GET is ignored, never parsed. */
		expect_routed(cases[i].path, route(HTTP_GET, cases[i].path, "not json"),
			      cases[i].op);
	}
}

Test(routes, get_of_an_unknown_path_is_refused)
{
	static const char *const paths[] = {
		"/nope",	  "/machine-config/x", "/version/", "",
		"/drives/rootfs", "/actions",	       "//",	    "/VERSION",
	};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		char want[128];
		snprintf(want, sizeof(want), "GET %s is not a supported method and path", paths[i]);
		expect_refused(paths[i], route(HTTP_GET, paths[i], NULL), want, NULL);
	}
}

Test(routes, methods_other_than_get_put_patch_are_refused)
{
	static const struct {
		int method;
		const char *name;
	} cases[] = {
		{ HTTP_DELETE, "DELETE" },   { HTTP_POST, "POST" },	  { HTTP_HEAD, "HEAD" },
		{ HTTP_OPTIONS, "OPTIONS" }, { HTTP_CONNECT, "CONNECT" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[64];
		snprintf(want, sizeof(want), "method %s is not supported", cases[i].name);
		expect_refused(cases[i].name, route(cases[i].method, "/actions", "{}"), want,
			       "GET, PUT or PATCH");
	}
}

Test(routes, put_or_patch_of_an_unknown_path_is_refused)
{
	static const struct {
		int method;
		const char *path, *want;
	} cases[] = {
		{ HTTP_PUT, "/nope", "PUT /nope is not" },
		{ HTTP_PUT, "/version", "PUT /version is not" },
		{ HTTP_PUT, "/vm", "PUT /vm is not" },
		{ HTTP_PATCH, "/actions", "PATCH /actions is not" },
		{ HTTP_PATCH, "/boot-source", "PATCH /boot-source is not" },
		{ HTTP_PUT, "/drives", "PUT /drives is not" },
		{ HTTP_PUT, "/drives/a/b", "PUT /drives/a/b is not" },
		{ HTTP_PUT, "/actions/", "PUT /actions/ is not" },
		{ HTTP_PUT, "/mmdsx", "PUT /mmdsx is not" }, /* not a prefix match */
		{ HTTP_PUT, "/snapshot", "PUT /snapshot is not" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_refused(cases[i].path, route(cases[i].method, cases[i].path, "{}"),
			       cases[i].want, "supported method and path");
}

/* network-interfaces, vsock and balloon are being implemented: not asserted here. */
Test(routes, endpoints_of_devices_not_there_yet_say_so)
{
	static const char *const paths[] = {
		"/mmds", "/mmds/config", "/cpu-config", "/pmem", "/pmem/disk0", "/hotplug/memory",
	};
	static const int methods[] = { HTTP_GET, HTTP_PUT, HTTP_PATCH };
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
			char what[64], want[64];
			snprintf(what, sizeof(what), "%d %s", methods[m], paths[i]);
			snprintf(want, sizeof(want), "%s is not supported yet", paths[i]);
			expect_refused(what, route(methods[m], paths[i], "{\"a\":1}"), want, NULL);
			/* Even with a body that would not parse: the path decides first. */
			expect_refused(what, route(methods[m], paths[i], "{{{"), want, NULL);
		}
	}
}

/* ---- bodies in general ---- */

static const struct {
	const char *name;
	const char *body; /* NULL: none */
	size_t len;	  /* 0: strlen(body) */
	const char *msg;
} bad_bodies[] = {
	{ "no body", NULL, 0, "needs a JSON body" },
	{ "empty body", "", 0, "needs a JSON body" },
	{ "whitespace", "  \r\n", 0, "JSON" },
	{ "malformed", "{\"state\": ", 0, "malformed JSON" },
	{ "trailing comma", "{\"state\": \"Paused\",}", 0, "JSON" },
	{ "two documents", "{} {}", 0, "JSON" },
	{ "array", "[{\"state\": \"Paused\"}]", 0, "the request body must be a JSON object" },
	/* jsmn (strict) takes a top-level scalar for an incomplete document: still a 400. */
	{ "string", "\"Paused\"", 0, "JSON" },
	{ "null", "null", 0, "JSON" },
	{ "number", "1", 0, "JSON" },
	{ "invalid UTF-8 in a value", "{\"state\": \"Pa\xffused\"}", 0, "UTF-8" },
	{ "overlong UTF-8 in a key", "{\"st\xc0\xaf\": 1}", 0, "UTF-8" },
	{ "NUL inside", "{\"state\": \"P\0aused\"}", 20, "NUL" },
	{ "cut by the length", "{\"state\": \"Paused\"}", 10, "JSON" },
};

Test(routes, bad_bodies_are_refused_on_every_endpoint_with_a_body)
{
	static const struct {
		int method;
		const char *path;
	} eps[] = {
		{ HTTP_PUT, "/machine-config" },
		{ HTTP_PATCH, "/machine-config" },
		{ HTTP_PUT, "/boot-source" },
		{ HTTP_PUT, "/drives/rootfs" },
		{ HTTP_PATCH, "/drives/rootfs" },
		{ HTTP_PUT, "/actions" },
		{ HTTP_PATCH, "/vm" },
		{ HTTP_PUT, "/logger" },
		{ HTTP_PUT, "/metrics" },
		{ HTTP_PUT, "/serial" },
		{ HTTP_PUT, "/entropy" },
		{ HTTP_PUT, "/snapshot/create" },
		{ HTTP_PUT, "/snapshot/load" },
	};
	for (size_t e = 0; e < sizeof(eps) / sizeof(eps[0]); e++) {
		for (size_t i = 0; i < sizeof(bad_bodies) / sizeof(bad_bodies[0]); i++) {
			char what[128];
			const char *body = bad_bodies[i].body;
			size_t len = bad_bodies[i].len ? bad_bodies[i].len
				     : body	       ? strlen(body)
						       : 0;
			snprintf(what, sizeof(what), "%s (%s)", eps[e].path, bad_bodies[i].name);
			api_request_fini(&req);
			api_response_fini(&resp);
			int r = api_route(eps[e].method, eps[e].path, body, len, &req, &resp);
			expect_refused(what, r, bad_bodies[i].msg, NULL);
		}
	}
}

Test(routes, body_length_is_honoured_not_strlen)
{
	const char *body = "{\"state\": \"Paused\"}garbage";
	int r = api_route(HTTP_PATCH, "/vm", body, strlen("{\"state\": \"Paused\"}"), &req, &resp);
	expect_routed("PATCH /vm", r, API_PAUSE);
}

/* ---- PUT / PATCH /machine-config ---- */

Test(routes, put_machine_config_resets_omitted_fields_to_defaults)
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

Test(routes, put_machine_config_takes_every_field)
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

Test(routes, patch_machine_config_marks_only_the_fields_given)
{
	static const struct {
		const char *body;
		unsigned present;
	} cases[] = {
		{ "{}", 0 },
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
	{ "{\"mem_size_mib\": 128}", "needs both 'vcpu_count' and 'mem_size_mib'", NULL, true },
	{ "{\"vcpu_count\": 1}", "needs both 'vcpu_count' and 'mem_size_mib'", NULL, true },
	{ "{}", "needs both", NULL, true },
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
	{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"smt\": true}", "'smt'", "not supported",
	  false },
	{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"smt\": 0}", "'smt'", "true or false",
	  false },
	{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"track_dirty_pages\": \"yes\"}",
	  "'track_dirty_pages'", "true or false", false },
	{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpu_template\": \"T2\"}", "'cpu_template'",
	  "T2", false },
	{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpu_template\": 1}", "'cpu_template'",
	  "string", false },
	{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"huge_pages\": \"1G\"}", "'huge_pages'",
	  "1G", false },
	{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"vcpus\": 2}", "unknown field 'vcpus'",
	  "machine-config", false },
	{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"Vcpu_count\": 2}",
	  "unknown field 'Vcpu_count'", NULL, false },
};

Test(routes, machine_config_bad_bodies_name_the_field)
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

/* ---- PUT /boot-source ---- */

Test(routes, put_boot_source_copies_every_path)
{
	OK(HTTP_PUT, "/boot-source",
	   "{\"kernel_image_path\": \"/img/vmlinux\", \"boot_args\": \"console=ttyS0 "
	   "reboot=k\", \"initrd_path\": \"/img/initrd\"}",
	   API_PUT_BOOT);
	cr_expect_str_eq(req.u.boot.kernel_image_path, "/img/vmlinux");
	cr_expect_str_eq(req.u.boot.boot_args, "console=ttyS0 reboot=k");
	cr_expect_str_eq(req.u.boot.initrd_path, "/img/initrd");
}

Test(routes, put_boot_source_null_and_empty_optionals_mean_none)
{
	OK(HTTP_PUT, "/boot-source",
	   "{\"kernel_image_path\": \"/k\", \"boot_args\": null, \"initrd_path\": \"\"}",
	   API_PUT_BOOT);
	cr_expect_str_eq(req.u.boot.kernel_image_path, "/k");
	cr_expect_null(req.u.boot.boot_args, "null means the default command line");
	cr_expect_null(req.u.boot.initrd_path, "an empty initrd_path means none");
}

Test(routes, put_boot_source_repeated_field_keeps_the_last_without_leaking)
{
	OK(HTTP_PUT, "/boot-source",
	   "{\"kernel_image_path\": \"/a\", \"kernel_image_path\": \"/b\", \"boot_args\": \"x\","
	   " \"boot_args\": \"y\"}",
	   API_PUT_BOOT);
	cr_expect_str_eq(req.u.boot.kernel_image_path, "/b");
	cr_expect_str_eq(req.u.boot.boot_args, "y");
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
	{ "{\"kernel_image_path\": \"/k\", \"kernel\": \"/x\"}", "unknown field 'kernel'",
	  "boot-source" },
	{ "{\"kernel_image_path\": \"/k\\u0000x\"}", "'kernel_image_path'", "NUL" },
	{ "{\"kernel_image_path\": \"/k\\ud800\"}", "'kernel_image_path'", "escape" },
};

Test(routes, put_boot_source_bad_bodies_name_the_field)
{
	for (size_t i = 0; i < sizeof(bad_boot) / sizeof(bad_boot[0]); i++)
		expect_refused(bad_boot[i].body, route(HTTP_PUT, "/boot-source", bad_boot[i].body),
			       bad_boot[i].msg1, bad_boot[i].msg2);
}

/* ---- PUT / PATCH /drives/{id} ---- */

#define DRIVE(id, extra)                                                                     \
	"{\"drive_id\": \"" id "\", \"path_on_host\": \"/img/" id "\", \"is_root_device\": " \
	"false" extra "}"

Test(routes, put_drive_with_the_path_id_in_the_body)
{
	OK(HTTP_PUT, "/drives/rootfs",
	   "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/img/rootfs.ext4\","
	   " \"is_root_device\": true, \"is_read_only\": true, \"partuuid\": \"abc-1\","
	   " \"cache_type\": \"Writeback\", \"io_engine\": \"Sync\", \"rate_limiter\": null}",
	   API_PUT_DRIVE);
	const struct drive_cfg *d = &req.u.drive;
	cr_expect_str_eq(d->drive_id, "rootfs");
	cr_expect_str_eq(d->path_on_host, "/img/rootfs.ext4");
	cr_expect(d->is_root_device);
	cr_expect(d->is_read_only);
	cr_expect_str_eq(d->partuuid, "abc-1");
	cr_expect_eq(d->cache_type, CACHE_WRITEBACK);
	cr_expect_eq(d->io_engine, IO_ENGINE_SYNC);
}

Test(routes, put_drive_defaults_and_the_longest_id)
{
	OK(HTTP_PUT, "/drives/data_1", DRIVE("data_1", ""), API_PUT_DRIVE);
	cr_expect_not(req.u.drive.is_read_only);
	cr_expect_null(req.u.drive.partuuid);
	cr_expect_eq(req.u.drive.cache_type, CACHE_UNSAFE);

	char id[MVM_ID_MAX + 1], path[128], body[256];
	memset(id, 'x', MVM_ID_MAX);
	id[MVM_ID_MAX] = '\0';
	snprintf(path, sizeof(path), "/drives/%s", id);
	snprintf(body, sizeof(body),
		 "{\"drive_id\": \"%s\", \"path_on_host\": \"/d\", \"is_root_device\": false}", id);
	expect_routed("64-byte id", route(HTTP_PUT, path, body), API_PUT_DRIVE);
	cr_expect_str_eq(req.u.drive.drive_id, id);
}

static const struct {
	const char *path, *body;
	const char *msg1, *msg2;
} bad_put_drive[] = {
	{ "/drives/a", DRIVE("b", ""), "the drive id in the path (a) differs", "(b)" },
	{ "/drives/rootfs", DRIVE("Rootfs", ""), "differs", NULL },
	{ "/drives/rootfs", DRIVE("rootfs2", ""), "differs", NULL },
	{ "/drives/", DRIVE("a", ""), "differs", NULL },
	{ "/drives/bad-id", DRIVE("bad-id", ""), "drive_id 'bad-id' is invalid", NULL },
	{ "/drives/a.b", DRIVE("a.b", ""), "is invalid", NULL },
	{ "/drives/%20", DRIVE("%20", ""), "is invalid", NULL },
	{ "/drives/\xc3\xa9", DRIVE("\xc3\xa9", ""), "is invalid", NULL },
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
	{ "/drives/x", DRIVE("x", ", \"is_root_device\": \"true\""), "'is_root_device'",
	  "true or false" },
	{ "/drives/x", DRIVE("x", ", \"is_read_only\": 1"), "'is_read_only'", "true or false" },
	{ "/drives/x", DRIVE("x", ", \"partuuid\": 7"), "'partuuid'", "must be a string" },
	{ "/drives/x", DRIVE("x", ", \"cache_type\": \"Fast\""), "'cache_type'", "Fast" },
	{ "/drives/x", DRIVE("x", ", \"io_engine\": \"Uring\""), "'io_engine'", "Uring" },
	{ "/drives/x", DRIVE("x", ", \"socket\": \"/s\""), "'socket'", NULL },
	{ "/drives/x", DRIVE("x", ", \"read_only\": true"), "unknown field 'read_only'", "drive" },
};

Test(routes, put_drive_bad_bodies_and_ids_are_refused)
{
	for (size_t i = 0; i < sizeof(bad_put_drive) / sizeof(bad_put_drive[0]); i++) {
		char what[300];
		snprintf(what, sizeof(what), "case %zu: PUT %s %s", i, bad_put_drive[i].path,
			 bad_put_drive[i].body);
		expect_refused(what, route(HTTP_PUT, bad_put_drive[i].path, bad_put_drive[i].body),
			       bad_put_drive[i].msg1, bad_put_drive[i].msg2);
	}
}

Test(routes, put_drive_id_longer_than_64_is_refused)
{
	char id[MVM_ID_MAX + 2], path[128], body[256];
	memset(id, 'x', MVM_ID_MAX + 1);
	id[MVM_ID_MAX + 1] = '\0';
	snprintf(path, sizeof(path), "/drives/%s", id);
	snprintf(body, sizeof(body),
		 "{\"drive_id\": \"%s\", \"path_on_host\": \"/d\", \"is_root_device\": false}", id);
	expect_refused("65-byte id", route(HTTP_PUT, path, body), "'drive_id'", "too long");

	/* A path id far too long for any buffer: refused, never copied. */
	char big[600];
	snprintf(big, sizeof(big), "/drives/%0500d", 0);
	expect_refused("500-byte path id", route(HTTP_PUT, big, DRIVE("x", "")), NULL, NULL);
	expect_refused("500-byte path id", route(HTTP_PATCH, big, "{\"drive_id\": \"x\"}"), NULL,
		       NULL);
}

Test(routes, patch_drive_routes_a_new_path)
{
	OK(HTTP_PATCH, "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/new\"}",
	   API_PATCH_DRIVE);
	cr_expect_str_eq(req.u.drive_patch.drive_id, "rootfs");
	cr_expect_str_eq(req.u.drive_patch.path_on_host, "/new");

	OK(HTTP_PATCH, "/drives/rootfs", "{\"drive_id\": \"rootfs\"}", API_PATCH_DRIVE);
	cr_expect_null(req.u.drive_patch.path_on_host, "no path_on_host: unchanged");

	OK(HTTP_PATCH, "/drives/r",
	   "{\"drive_id\": \"r\", \"path_on_host\": \"/a\", \"path_on_host\": \"/b\"}",
	   API_PATCH_DRIVE);
	cr_expect_str_eq(req.u.drive_patch.path_on_host, "/b");
}

static const struct {
	const char *path, *body;
	const char *msg1, *msg2;
} bad_patch_drive[] = {
	{ "/drives/a", "{\"drive_id\": \"b\"}", "the drive id in the path (a) differs", "(b)" },
	{ "/drives/a", "{\"path_on_host\": \"/x\"}", "needs 'drive_id'", NULL },
	{ "/drives/a", "{}", "needs 'drive_id'", NULL },
	{ "/drives/a", "{\"drive_id\": \"a\", \"path_on_host\": \"\"}", "'path_on_host' is empty",
	  NULL },
	{ "/drives/a", "{\"drive_id\": \"a\", \"path_on_host\": 1}", "'path_on_host'",
	  "must be a string" },
	{ "/drives/a", "{\"drive_id\": [\"a\"]}", "'drive_id'", "must be a string" },
	{ "/drives/a", "{\"drive_id\": \"a\", \"is_read_only\": true}",
	  "unknown field 'is_read_only'", "drive update" },
};

Test(routes, patch_drive_bad_bodies_are_refused)
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
 * is invalid: ...")`.
 */
Test(routes, patch_drive_refuses_invalid_ids)
{
	static const char *const ids[] = { "bad-id", "a.b", "%20", "\xc3\xa9" };
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		char path[64], body[64];
		snprintf(path, sizeof(path), "/drives/%s", ids[i]);
		snprintf(body, sizeof(body), "{\"drive_id\": \"%s\"}", ids[i]);
		expect_refused(path, route(HTTP_PATCH, path, body), "is invalid", NULL);
	}
}

/* ---- PUT /actions, PATCH /vm ---- */

Test(routes, actions_route_each_action_type)
{
	static const struct {
		const char *type;
		enum api_op op;
	} cases[] = {
		{ "InstanceStart", API_START },
		{ "SendCtrlAltDel", API_CTRL_ALT_DEL },
		{ "FlushMetrics", API_FLUSH_METRICS },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[64];
		snprintf(body, sizeof(body), "{\"action_type\": \"%s\"}", cases[i].type);
		expect_routed(cases[i].type, route(HTTP_PUT, "/actions", body), cases[i].op);
	}
}

static const struct {
	const char *body;
	const char *msg1, *msg2;
} bad_actions[] = {
	{ "{}", "action_type '(missing)' is unknown", "InstanceStart, SendCtrlAltDel" },
	{ "{\"action_type\": \"\"}", "'(missing)'", NULL },
	{ "{\"action_type\": \"Start\"}", "action_type 'Start' is unknown", NULL },
	{ "{\"action_type\": \"instancestart\"}", "'instancestart' is unknown", NULL },
	{ "{\"action_type\": \"InstanceStart \"}", "is unknown", NULL },
	{ "{\"action_type\": \"InstanceHalt\"}", "is unknown", NULL },
	{ "{\"action_type\": 1}", "'action_type'", "must be a string" },
	{ "{\"action_type\": null}", "'action_type'", "must be a string" },
	{ "{\"action_type\": \"InstanceStartInstanceStartInstanceStart\"}", "'action_type'",
	  "too long" },
	{ "{\"action\": \"InstanceStart\"}", "unknown field 'action'", "action" },
	{ "{\"action_type\": \"InstanceStart\", \"payload\": {}}", "unknown field 'payload'",
	  NULL },
};

Test(routes, actions_bad_bodies_are_refused)
{
	for (size_t i = 0; i < sizeof(bad_actions) / sizeof(bad_actions[0]); i++)
		expect_refused(bad_actions[i].body,
			       route(HTTP_PUT, "/actions", bad_actions[i].body),
			       bad_actions[i].msg1, bad_actions[i].msg2);
}

Test(routes, patch_vm_pauses_and_resumes)
{
	expect_routed("Paused", route(HTTP_PATCH, "/vm", "{\"state\": \"Paused\"}"), API_PAUSE);
	expect_routed("Resumed", route(HTTP_PATCH, "/vm", "{\"state\": \"Resumed\"}"), API_RESUME);
}

Test(routes, patch_vm_bad_bodies_are_refused)
{
	static const struct {
		const char *body;
		const char *msg1, *msg2;
	} cases[] = {
		{ "{}", "state '(missing)' is unknown", "Paused or Resumed" },
		{ "{\"state\": \"paused\"}", "state 'paused' is unknown", NULL },
		{ "{\"state\": \"Stopped\"}", "state 'Stopped' is unknown", NULL },
		{ "{\"state\": 0}", "'state'", "must be a string" },
		{ "{\"state\": \"PausedPausedPausedPaused\"}", "'state'", "too long" },
		{ "{\"State\": \"Paused\"}", "unknown field 'State'", "vm state" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_refused(cases[i].body, route(HTTP_PATCH, "/vm", cases[i].body),
			       cases[i].msg1, cases[i].msg2);
}

/* ---- PUT /logger, /metrics, /serial, /entropy ---- */

Test(routes, put_logger_takes_every_field)
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

Test(routes, put_logger_leaves_omitted_fields_unset)
{
	OK(HTTP_PUT, "/logger", "{\"level\": \"Warning\", \"level\": \"Error\"}", API_PUT_LOGGER);
	cr_expect_null(req.u.logger.log_path);
	cr_expect_str_eq(req.u.logger.level, "Error", "the last of a repeated field wins");
	cr_expect_not(req.u.logger.has_show_level);
	cr_expect_not(req.u.logger.has_show_origin);
}

Test(routes, put_logger_bad_bodies_are_refused)
{
	static const struct {
		const char *body;
		const char *msg1, *msg2;
	} cases[] = {
		{ "{\"log_path\": 1}", "'log_path'", "must be a string" },
		{ "{\"level\": [\"Debug\"]}", "'level'", "must be a string" },
		{ "{\"show_level\": \"yes\"}", "'show_level'", "true or false" },
		{ "{\"show_log_origin\": 1}", "'show_log_origin'", "true or false" },
		{ "{\"path\": \"/l\"}", "unknown field 'path'", "logger" },
		{ "{\"log_path\": \"/l\", \"bogus\": null}", "unknown field 'bogus'", "logger" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_refused(cases[i].body, route(HTTP_PUT, "/logger", cases[i].body),
			       cases[i].msg1, cases[i].msg2);
}

Test(routes, put_metrics_needs_a_path)
{
	OK(HTTP_PUT, "/metrics", "{\"metrics_path\": \"/tmp/m\"}", API_PUT_METRICS);
	cr_expect_str_eq(req.u.path, "/tmp/m");
	OK(HTTP_PUT, "/metrics", "{\"metrics_path\": \"/a\", \"metrics_path\": \"/b\"}",
	   API_PUT_METRICS);
	cr_expect_str_eq(req.u.path, "/b");

	static const struct {
		const char *body;
		const char *msg1, *msg2;
	} cases[] = {
		{ "{}", "metrics needs 'metrics_path'", NULL },
		{ "{\"metrics_path\": \"\"}", "metrics needs 'metrics_path'", NULL },
		{ "{\"metrics_path\": 3}", "'metrics_path'", "must be a string" },
		{ "{\"metrics_path\": null}", "'metrics_path'", "must be a string" },
		{ "{\"path\": \"/m\"}", "unknown field 'path'", "metrics" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_refused(cases[i].body, route(HTTP_PUT, "/metrics", cases[i].body),
			       cases[i].msg1, cases[i].msg2);
}

Test(routes, put_serial_path_is_optional)
{
	OK(HTTP_PUT, "/serial", "{\"serial_out_path\": \"/tmp/s\"}", API_PUT_SERIAL);
	cr_expect_str_eq(req.u.path, "/tmp/s");
	OK(HTTP_PUT, "/serial", "{}", API_PUT_SERIAL);
	cr_expect_null(req.u.path);

	expect_refused("number", route(HTTP_PUT, "/serial", "{\"serial_out_path\": 1}"),
		       "'serial_out_path'", "must be a string");
	expect_refused("unknown", route(HTTP_PUT, "/serial", "{\"out\": \"/s\"}"),
		       "unknown field 'out'", "serial");
}

Test(routes, put_entropy_routes_an_empty_or_null_limiter)
{
	expect_routed("{}", route(HTTP_PUT, "/entropy", "{}"), API_PUT_ENTROPY);
	expect_routed("null limiter", route(HTTP_PUT, "/entropy", "{\"rate_limiter\": null}"),
		      API_PUT_ENTROPY);
	expect_refused("unknown", route(HTTP_PUT, "/entropy", "{\"rate\": 1}"),
		       "unknown field 'rate'", "entropy");
}

/* ---- fault bodies ---- */

Test(routes, fault_body_escapes_quotes_and_backslashes_from_the_path)
{
	const char *path = "/\"quoted\\path\"";
	cr_assert_eq(route(HTTP_PUT, path, "{}"), -EINVAL);
	char msg[512];
	cr_assert(fault(msg, sizeof(msg)), "%s", msg);
	cr_expect(strstr(msg, path) != NULL, "the path comes back verbatim: '%s'", msg);
}

Test(routes, unknown_field_names_are_quoted_and_control_chars_masked)
{
	cr_assert_eq(route(HTTP_PATCH, "/vm", "{\"a\x01z\x1f\": 1}"), -EINVAL);
	char msg[512];
	cr_assert(fault(msg, sizeof(msg)), "%s", msg);
	cr_expect(strstr(msg, "unknown field 'a?z?'") != NULL, "%s", msg);
	for (const char *p = msg; *p; p++)
		cr_expect((unsigned char)*p >= 0x20, "raw control character in '%s'", msg);
}

/*
 * Regression: vmm/json.c json_tok_text() (line ~236) cuts a key at max - 1 bytes
 * without regard for UTF-8, and routes.c unknown() passes it a 64-byte buffer:
 * a long key of 2-byte characters is cut mid-character, so the fault_message
 * (strbuf_json_str copies bytes >= 0x80 as they are) is not valid UTF-8 and the
 * 400 body is not valid JSON. Fix: in json_tok_text, after truncating, back n
 * up while (buf[n] & 0xc0) == 0x80 (drop a partial sequence).
 */
Test(routes, fault_body_stays_valid_json_for_long_multibyte_field_names)
{
	char body[256] = "{\"";
	for (int i = 0; i < 40; i++)
		strcat(body, "\xc3\xa9"); /* é */
	strcat(body, "\": 1}");
	cr_assert_eq(route(HTTP_PATCH, "/vm", body), -EINVAL);
	char msg[512];
	cr_expect(fault(msg, sizeof(msg)), "%s", msg);
}

/*
 * Regression: api-socket/routes.c builds fault messages from the request path
 * ("%s is not supported yet by mvm", "PUT %s is not a supported method and
 * path"), http-parser (non-strict) lets bytes >= 0x80 into the URL, and
 * vmm/strbuf.c strbuf_json_str() copies them unchecked: a path that is not
 * UTF-8 gives a 400 body that is not valid JSON (mvm's own client then shows
 * the raw body). The same happens when api_response_error()'s 512-byte
 * vsnprintf cuts a long UTF-8 path mid-character. Fix: make strbuf_json_str()
 * replace each byte of an invalid or truncated UTF-8 sequence with \ufffd.
 */
Test(routes, fault_body_stays_valid_json_for_a_path_that_is_not_utf8)
{
	char msg[2048];
	cr_assert_eq(route(HTTP_PUT, "/x\xff\xfe", "{}"), -EINVAL);
	cr_expect(fault(msg, sizeof(msg)), "%s", msg);
	cr_assert_eq(route(HTTP_GET, "/mmds/\xc3", NULL), -EINVAL);
	cr_expect(fault(msg, sizeof(msg)), "%s", msg);

	/* "PUT /x" then 'é's: api_response_error() cuts the message at 511 bytes, mid-'é'. */
	char path[1024] = "/x";
	for (int i = 0; i < 500; i++)
		strcat(path, "\xc3\xa9");
	cr_assert_eq(route(HTTP_PUT, path, "{}"), -EINVAL);
	cr_expect(fault(msg, sizeof(msg)), "%s", msg);
}

Test(routes, response_error_replaces_the_body_and_sets_400)
{
	struct api_response r = { .status = 200, .body = strdup("{\"old\": 1}") };
	api_response_error(&r, "field '%s' is %d", "x", 5);
	cr_expect_eq(r.status, 400);
	cr_expect_str_eq(r.body, "{\"fault_message\": \"field 'x' is 5\"}");
	api_response_error(&r, "a \"quote\"\n");
	cr_expect_str_eq(r.body, "{\"fault_message\": \"a \\\"quote\\\"\\u000a\"}");
	api_response_fini(&r);
	cr_expect_null(r.body);
	api_response_fini(&r);
}

Test(routes, request_fini_zeroes_and_is_safe_twice)
{
	struct api_request r;
	memset(&r, 0, sizeof(r));
	api_request_fini(&r);
	cr_expect(is_zero(&r, sizeof(r)));

	static const char body[] =
	    LOAD(FILE_BACKEND ", \"drive_overrides\": [{\"drive_id\": \"a\", "
			      "\"path_on_host\": \"/a\"}]");
	struct api_response p = { 0 };
	cr_assert_eq(api_route(HTTP_PUT, "/snapshot/load", body, strlen(body), &r, &p), 0);
	cr_assert_str_eq(r.u.snap_load.overrides[0].path_on_host, "/a");
	api_request_fini(&r);
	cr_expect(is_zero(&r, sizeof(r)), "fini leaves a zeroed request");
	api_request_fini(&r);
	cr_expect_null(p.body);
}

/* Every good body of every endpoint, routed then finished: ASan sees any leak. */
Test(routes, fini_frees_every_kind_of_request)
{
	static const struct {
		int method;
		const char *path, *body;
	} cases[] = {
		{ HTTP_PUT, "/boot-source",
		  "{\"kernel_image_path\": \"/k\", \"boot_args\": \"a\", \"initrd_path\": "
		  "\"/i\"}" },
		{ HTTP_PUT, "/drives/r",
		  "{\"drive_id\": \"r\", \"path_on_host\": \"/d\", \"is_root_device\": true,"
		  " \"partuuid\": \"p\"}" },
		{ HTTP_PATCH, "/drives/r", "{\"drive_id\": \"r\", \"path_on_host\": \"/d\"}" },
		{ HTTP_PUT, "/logger", "{\"log_path\": \"/l\", \"level\": \"Info\"}" },
		{ HTTP_PUT, "/metrics", "{\"metrics_path\": \"/m\"}" },
		{ HTTP_PUT, "/serial", "{\"serial_out_path\": \"/s\"}" },
		{ HTTP_PUT, "/snapshot/create",
		  "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\"}" },
		{ HTTP_PUT, "/snapshot/load",
		  LOAD(FILE_BACKEND
		       ", \"drive_overrides\": [{\"drive_id\": \"a\", \"path_on_host\": "
		       "\"/a\"}]") },
		{ HTTP_PUT, "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128}" },
		{ HTTP_PUT, "/entropy", "{}" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct api_request r;
		struct api_response p = { 0 };
		int rc = api_route(cases[i].method, cases[i].path, cases[i].body,
				   strlen(cases[i].body), &r, &p);
		cr_expect_eq(rc, 0, "case %zu (%s): %s", i, cases[i].path, p.body);
		api_request_fini(&r);
		cr_expect(is_zero(&r, sizeof(r)), "case %zu", i);
		api_response_fini(&p);
	}
}

/* ---- api_client_fault(): the CLI's view of a 400 ---- */

static const char *client_fault(const char *body, char *buf, size_t size)
{
	struct api_client_resp r = { .status = 400, .body = (char *)body };
	return api_client_fault(&r, buf, size);
}

Test(api_client, fault_extracts_the_fault_message)
{
	char buf[128];
	cr_expect_str_eq(
	    client_fault("{\"fault_message\": \"drive 'x' does not exist\"}", buf, sizeof(buf)),
	    "drive 'x' does not exist");
	cr_expect_str_eq(
	    client_fault("{\"fault_message\": \"a \\\"q\\\" \\u00e9\\n\"}", buf, sizeof(buf)),
	    "a \"q\" \xc3\xa9\n", "escapes are decoded");
}

Test(api_client, fault_round_trips_what_api_response_error_writes)
{
	struct api_response r = { 0 };
	const char *msg = "field 'vcpu_count' must be an integer, not \"2\"\t(tab)";
	api_response_error(&r, "%s", msg);
	char buf[256];
	cr_expect_str_eq(client_fault(r.body, buf, sizeof(buf)), msg);
	api_response_fini(&r);
}

Test(api_client, fault_falls_back_to_the_raw_body)
{
	static const char *const bodies[] = {
		"not json at all",
		"{\"error\": \"x\"}",
		"{\"fault_message\": 5}",
		"[\"fault_message\"]",
		"{\"fault_message\": \"unterminated",
		"",
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		char buf[128];
		cr_expect_str_eq(client_fault(bodies[i], buf, sizeof(buf)), bodies[i], "case %zu",
				 i);
	}
	char buf[8] = "zzzzzzz";
	cr_expect_str_eq(client_fault(NULL, buf, sizeof(buf)), "", "no body: empty");
}

Test(api_client, fault_truncates_to_the_buffer)
{
	char buf[6];
	const char *out = client_fault("{\"fault_message\": \"0123456789\"}", buf, sizeof(buf));
	cr_expect_eq(out, buf, "the answer lives in the caller's buffer");
	cr_expect_str_eq(buf, "01234");
	cr_expect_str_eq(client_fault("raw body text", buf, sizeof(buf)), "raw b");
}
