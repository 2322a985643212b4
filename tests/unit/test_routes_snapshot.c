/* monitor/routes_snapshot.c: PUT /snapshot/create and PUT /snapshot/load. */
#include "routes_util.h"

TestSuite(routes_snapshot, .init = routes_setup, .fini = routes_teardown);

/* ---- PUT /snapshot/create ---- */

Test(routes_snapshot, create_full_diff_and_default)
{
	OK(HTTP_PUT, "/snapshot/create",
	   "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\"}",
	   API_SNAPSHOT_CREATE);
	cr_expect_str_eq(req.u.snap_create.snapshot_path, "/s");
	cr_expect_str_eq(req.u.snap_create.mem_file_path, "/m");
	cr_expect_not(req.u.snap_create.diff);

	OK(HTTP_PUT, "/snapshot/create",
	   "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\","
	   " \"version\": \"1.0.0\"}",
	   API_SNAPSHOT_CREATE);
	cr_expect(req.u.snap_create.diff);

	OK(HTTP_PUT, "/snapshot/create", "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\"}",
	   API_SNAPSHOT_CREATE);
	cr_expect_not(req.u.snap_create.diff, "Full is the default");
	cr_expect_str_eq(req.u.snap_create.snapshot_path, "/s");
}

Test(routes_snapshot, create_bad_bodies_are_refused)
{
	static const struct {
		const char *body;
		const char *msg1, *msg2;
	} cases[] = {
		{ "{\"snapshot_path\": \"/s\"}",
		  "missing field `mem_file_path` at line 1 column 23.", NULL },
		{ "{\"mem_file_path\": \"/m\"}", "missing field `snapshot_path`", NULL },
		{ "{\"snapshot_path\": \"\", \"mem_file_path\": \"/m\"}", "needs both", NULL },
		{ "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"\"}", "needs both", NULL },
		{ "{\"snapshot_path\": 1, \"mem_file_path\": \"/m\"}", "'snapshot_path'",
		  "must be a string" },
		{ "{\"snapshot_path\": \"/s\", \"mem_file_path\": false}", "'mem_file_path'",
		  "must be a string" },
		{ "{\"snapshot_type\": \"Incremental\", \"snapshot_path\": \"/s\","
		  " \"mem_file_path\": \"/m\"}",
		  "snapshot_type 'Incremental' is unknown", "Full or Diff" },
		{ "{\"snapshot_type\": \"full\", \"snapshot_path\": \"/s\", \"mem_file_path\": "
		  "\"/m\"}",
		  "'full' is unknown", NULL },
		{ "{\"snapshot_type\": 1, \"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\"}",
		  "'snapshot_type'", "must be a string" },
		{ "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", \"mem_path\": \"/x\"}",
		  "unknown field `mem_path`", "snapshot request" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_refused(cases[i].body, route(HTTP_PUT, "/snapshot/create", cases[i].body),
			       cases[i].msg1, cases[i].msg2);
}

/* ---- PUT /snapshot/load ---- */

Test(routes_snapshot, load_with_a_file_backend)
{
	OK(HTTP_PUT, "/snapshot/load", LOAD(FILE_BACKEND), API_SNAPSHOT_LOAD);
	const struct snapshot_load *l = &req.u.snap_load;
	cr_expect_str_eq(l->snapshot_path, "/s");
	cr_expect_str_eq(l->mem_path, "/m");
	cr_expect_not(l->uffd);
	cr_expect_not(l->resume);
	cr_expect_not(l->track_dirty_pages);
	cr_expect_eq(l->nr_overrides, 0);
}

Test(routes_snapshot, load_with_a_uffd_backend_and_flags)
{
	OK(HTTP_PUT, "/snapshot/load",
	   LOAD(", \"mem_backend\": {\"backend_path\": \"/run/uffd.sock\", \"backend_type\": "
		"\"Uffd\"}, \"resume_vm\": true, \"enable_diff_snapshots\": true,"
		" \"clock_realtime\": true, \"network_overrides\": [], \"vsock_override\": null"),
	   API_SNAPSHOT_LOAD);
	const struct snapshot_load *l = &req.u.snap_load;
	cr_expect(l->uffd);
	cr_expect_str_eq(l->mem_path, "/run/uffd.sock");
	cr_expect(l->resume);
	cr_expect(l->track_dirty_pages, "enable_diff_snapshots is the old name");
	cr_expect(l->clock_realtime);
}

Test(routes_snapshot, load_track_dirty_pages_either_name_sets_it)
{
	OK(HTTP_PUT, "/snapshot/load", LOAD(FILE_BACKEND ", \"track_dirty_pages\": true"),
	   API_SNAPSHOT_LOAD);
	cr_expect(req.u.snap_load.track_dirty_pages);
	OK(HTTP_PUT, "/snapshot/load",
	   LOAD(FILE_BACKEND ", \"track_dirty_pages\": true, \"enable_diff_snapshots\": false"),
	   API_SNAPSHOT_LOAD);
	cr_expect(req.u.snap_load.track_dirty_pages, "either one true is enough");
}

Test(routes_snapshot, load_working_set_defaults_to_prefetching_a_recorded_list)
{
	OK(HTTP_PUT, "/snapshot/load", LOAD(FILE_BACKEND), API_SNAPSHOT_LOAD);
	cr_expect_eq(req.u.snap_load.wset_record_ms, 0, "Firecracker's clients never record");
	cr_expect_eq(req.u.snap_load.wset_prefetch, WSET_PREFETCH_AUTO);
	OK(HTTP_PUT, "/snapshot/load",
	   LOAD(FILE_BACKEND ", \"mvm_working_set\": {\"record_ms\": 300, \"prefetch\": false}"),
	   API_SNAPSHOT_LOAD);
	cr_expect_eq(req.u.snap_load.wset_record_ms, 300);
	cr_expect_eq(req.u.snap_load.wset_prefetch, WSET_PREFETCH_OFF);
	static const struct {
		const char *v;
		enum wset_prefetch want;
	} modes[] = { { "true", WSET_PREFETCH_DEFAULT },
		      { "\"sync\"", WSET_PREFETCH_SYNC },
		      { "\"async\"", WSET_PREFETCH_ASYNC } };
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		char body[200];
		snprintf(body, sizeof(body),
			 LOAD(FILE_BACKEND ", \"mvm_working_set\": {\"prefetch\": %s}"),
			 modes[i].v);
		OK(HTTP_PUT, "/snapshot/load", body, API_SNAPSHOT_LOAD);
		cr_expect_eq(req.u.snap_load.wset_prefetch, modes[i].want, "%s", modes[i].v);
	}
}

Test(routes_snapshot, load_with_the_deprecated_mem_file_path)
{
	OK(HTTP_PUT, "/snapshot/load", LOAD(", \"mem_file_path\": \"/old\""), API_SNAPSHOT_LOAD);
	cr_expect_str_eq(req.u.snap_load.mem_path, "/old");
	cr_expect_not(req.u.snap_load.uffd);
}

Test(routes_snapshot, load_drive_overrides)
{
	OK(HTTP_PUT, "/snapshot/load",
	   LOAD(FILE_BACKEND ", \"drive_overrides\": [{\"drive_id\": \"rootfs\", \"path_on_host\": "
			     "\"/r2\"}, {\"path_on_host\": \"/d2\", "
			     "\"drive_id\": \"data\"}]"),
	   API_SNAPSHOT_LOAD);
	const struct snapshot_load *l = &req.u.snap_load;
	cr_assert_eq(l->nr_overrides, 2);
	cr_expect_str_eq(l->overrides[0].id, "rootfs");
	cr_expect_str_eq(l->overrides[0].value, "/r2");
	cr_expect_str_eq(l->overrides[1].id, "data");
	cr_expect_str_eq(l->overrides[1].value, "/d2");
	for (int i = 0; i < 2; i++) {
		cr_expect_str_eq(l->overrides[i].type, "block", "the drives' type");
		cr_expect_str_eq(l->overrides[i].field, "path_on_host");
		cr_expect_str_eq(l->overrides[i].what, "drive_overrides");
	}
}

Test(routes_snapshot, load_network_and_vsock_overrides)
{
	OK(HTTP_PUT, "/snapshot/load",
	   LOAD(FILE_BACKEND ", \"network_overrides\": [{\"iface_id\": \"eth0\", "
			     "\"host_dev_name\": \"tap9\"}, {\"host_dev_name\": \"tap8\", "
			     "\"iface_id\": \"eth1\"}], \"vsock_override\": {\"uds_path\": "
			     "\"/run/clone.sock\"}"),
	   API_SNAPSHOT_LOAD);
	const struct snapshot_load *l = &req.u.snap_load;
	cr_assert_eq(l->nr_overrides, 3);
	static const struct {
		const char *what, *type, *id, *field, *value;
	} want[] = {
		{ "network_overrides", "net", "eth0", "host_dev_name", "tap9" },
		{ "network_overrides", "net", "eth1", "host_dev_name", "tap8" },
		{ "vsock_override", "vsock", "", "uds_path", "/run/clone.sock" },
	};
	for (int i = 0; i < 3; i++) {
		const struct snap_override *o = &l->overrides[i];
		cr_expect_str_eq(o->what, want[i].what, "override %d", i);
		cr_expect_str_eq(o->type, want[i].type, "override %d", i);
		cr_expect_str_eq(o->id, want[i].id, "override %d", i);
		cr_expect_str_eq(o->field, want[i].field, "override %d", i);
		cr_expect_str_eq(o->value, want[i].value, "override %d", i);
	}
}

/* n drive overrides after a File backend, into a malloc'd body. */
static char *load_with_overrides(int n)
{
	size_t cap = 256 + (size_t)n * 64;
	char *s = malloc(cap);
	cr_assert_not_null(s);
	size_t len = (size_t)snprintf(s, cap, LOAD(FILE_BACKEND ", \"drive_overrides\": ["));
	s[--len] = '\0'; /* reopen: drop the closing brace */
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len,
					"%s{\"drive_id\": \"d%d\", \"path_on_host\": \"/p%d\"}",
					i ? ", " : "", i, i);
	snprintf(s + len, cap - len, "]}");
	return s;
}

/* One override per device at most: as many as a VM has virtio-mmio slots. */
Test(routes_snapshot, load_takes_at_most_max_drives_overrides)
{
	char *ok = load_with_overrides(MVM_MAX_DEVICES);
	expect_routed("18 overrides", route(HTTP_PUT, "/snapshot/load", ok), API_SNAPSHOT_LOAD);
	cr_expect_eq(req.u.snap_load.nr_overrides, MVM_MAX_DEVICES);
	cr_expect_str_eq(req.u.snap_load.overrides[MVM_MAX_DEVICES - 1].value, "/p17");
	free(ok);

	char *big = load_with_overrides(MVM_MAX_DEVICES + 1);
	expect_refused("19 overrides", route(HTTP_PUT, "/snapshot/load", big), "too many overrides",
		       "at most 18");
	free(big);
}

static const struct {
	const char *body;
	const char *msg1, *msg2;
} bad_load[] = {
	{ LOAD(""), "missing field: either `mem_backend` or `mem_file_path` is required", NULL },
	{ LOAD(FILE_BACKEND ", \"mem_file_path\": \"/m\""),
	  "too many fields: either `mem_backend` or `mem_file_path` exclusively", NULL },
	{ LOAD(", \"mem_file_path\": \"/m\"" FILE_BACKEND),
	  "too many fields: either `mem_backend` or `mem_file_path` exclusively", NULL },
	{ "{\"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"/m\"}}",
	  "missing field `snapshot_path` at line 1 column 63.", NULL },
	{ LOAD(", \"mem_file_path\": \"\""), "'mem_file_path' is empty", NULL },
	{ LOAD(", \"mem_file_path\": 1"), "'mem_file_path'", "must be a string" },
	{ "{\"snapshot_path\": \"\", \"mem_file_path\": \"/m\"}", "'snapshot_path' is empty",
	  NULL },
	{ "{\"snapshot_path\": 5, \"mem_file_path\": \"/m\"}", "'snapshot_path'",
	  "must be a string" },
	{ LOAD(", \"mem_backend\": {\"backend_type\": \"Memory\", \"backend_path\": \"/m\"}"),
	  "unknown variant `Memory`, expected `File` or `Uffd`", NULL },
	{ LOAD(", \"mem_backend\": {\"backend_type\": \"file\", \"backend_path\": \"/m\"}"),
	  "unknown variant `file`", NULL },
	{ LOAD(", \"mem_backend\": {\"backend_path\": \"/m\"}"), "missing field `backend_type`",
	  NULL },
	{ LOAD(", \"mem_backend\": {\"backend_type\": \"File\"}"), "missing field `backend_path`",
	  NULL },
	{ LOAD(", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"\"}"),
	  "'backend_path' is empty", NULL },
	{ LOAD(", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": 1}"),
	  "'backend_path'", "must be a string" },
	{ LOAD(", \"mem_backend\": {\"backend_type\": 2, \"backend_path\": \"/m\"}"),
	  "'backend_type'", "must be a string" },
	{ LOAD(", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"/m\","
	       " \"size\": 1}"),
	  "unknown field `size`", "mem_backend" },
	{ LOAD(", \"mem_backend\": \"/m\""), "mem_backend must be a JSON object", NULL },
	{ LOAD(", \"mem_backend\": null"), "mem_backend must be a JSON object", NULL },
	{ LOAD(FILE_BACKEND ", \"resume_vm\": \"yes\""), "'resume_vm'", "true or false" },
	{ LOAD(FILE_BACKEND ", \"clock_realtime\": null"), "'clock_realtime'", "true or false" },
	{ LOAD(FILE_BACKEND ", \"network_overrides\": {}"), "network_overrides", NULL },
	{ LOAD(FILE_BACKEND ", \"drive_overrides\": {}"), "'drive_overrides' must be an array",
	  NULL },
	{ LOAD(FILE_BACKEND ", \"drive_overrides\": [\"rootfs\"]"),
	  "a drive override must be a JSON object", NULL },
	{ LOAD(FILE_BACKEND ", \"drive_overrides\": [{\"drive_id\": \"rootfs\"}]"),
	  "a drive override needs drive_id and 'path_on_host'", NULL },
	{ LOAD(FILE_BACKEND ", \"drive_overrides\": [{\"path_on_host\": \"/x\"}]"),
	  "a drive override needs drive_id and 'path_on_host'", NULL },
	{ LOAD(FILE_BACKEND ", \"drive_overrides\": [{\"drive_id\": \"r\", \"path_on_host\": "
			    "\"\"}]"),
	  "a drive override needs drive_id and 'path_on_host'", NULL },
	{ LOAD(FILE_BACKEND ", \"drive_overrides\": [{\"drive_id\": \"r\", \"path_on_host\": "
			    "\"/x\", \"is_read_only\": true}]"),
	  "unknown field `is_read_only`", "drive override" },
	{ LOAD(FILE_BACKEND ", \"drive_overrides\": [{\"drive_id\": 1, \"path_on_host\": "
			    "\"/x\"}]"),
	  "'drive_id'", "must be a string" },
	{ LOAD(FILE_BACKEND ", \"resume\": true"), "unknown field `resume`", "snapshot load" },
	{ LOAD(FILE_BACKEND ", \"network_overrides\": [{\"iface_id\": \"eth0\"}]"),
	  "a network override needs iface_id and 'host_dev_name'", NULL },
	{ LOAD(FILE_BACKEND ", \"network_overrides\": [{\"host_dev_name\": \"t\"}]"),
	  "a network override needs iface_id and 'host_dev_name'", NULL },
	{ LOAD(FILE_BACKEND ", \"network_overrides\": [{\"iface_id\": \"e\", "
			    "\"host_dev_name\": \"sixteen_bytes_xx\"}]"),
	  "a network override needs", "1 to 15 bytes" },
	{ LOAD(FILE_BACKEND ", \"network_overrides\": [{\"iface_id\": \"e\", "
			    "\"host_dev_name\": \"t\", \"mac\": \"x\"}]"),
	  "unknown field `mac`", "network override" },
	{ LOAD(FILE_BACKEND ", \"network_overrides\": [\"eth0\"]"),
	  "a network override must be a JSON object", NULL },
	{ LOAD(FILE_BACKEND ", \"vsock_override\": []"), "vsock_override must be a JSON object",
	  NULL },
	{ LOAD(FILE_BACKEND ", \"vsock_override\": {}"), "vsock_override needs 'uds_path'", NULL },
	{ LOAD(FILE_BACKEND ", \"vsock_override\": {\"uds_path\": \"\"}"),
	  "vsock_override needs 'uds_path'", NULL },
	{ LOAD(FILE_BACKEND ", \"vsock_override\": {\"uds_path\": \"/v\", \"guest_cid\": 3}"),
	  "unknown field `guest_cid`", "vsock_override" },
	{ LOAD(FILE_BACKEND ", \"mvm_working_set\": 300"), "mvm_working_set", NULL },
	{ LOAD(FILE_BACKEND ", \"mvm_working_set\": {\"record_ms\": 600001}"),
	  "mvm_working_set.record_ms", NULL },
	{ LOAD(FILE_BACKEND ", \"mvm_working_set\": {\"record_ms\": -1}"),
	  "mvm_working_set.record_ms", NULL },
	{ LOAD(FILE_BACKEND ", \"mvm_working_set\": {\"prefetch\": \"later\"}"),
	  "mvm_working_set.prefetch 'later' is unknown", NULL },
	{ LOAD(FILE_BACKEND ", \"mvm_working_set\": {\"prefetch\": 1}"), "mvm_working_set.prefetch",
	  NULL },
	{ LOAD(FILE_BACKEND ", \"mvm_working_set\": {\"record\": 1}"), "unknown field `record`",
	  "mvm_working_set" },
};

Test(routes_snapshot, load_bad_bodies_are_refused)
{
	for (size_t i = 0; i < sizeof(bad_load) / sizeof(bad_load[0]); i++) {
		char what[400];
		snprintf(what, sizeof(what), "case %zu: %s", i, bad_load[i].body);
		expect_refused(what, route(HTTP_PUT, "/snapshot/load", bad_load[i].body),
			       bad_load[i].msg1, bad_load[i].msg2);
	}
}

Test(routes_snapshot, load_refused_after_overrides_frees_them)
{
	/* Overrides parsed, then the body is refused: ASan checks nothing leaks. */
	const char *body = LOAD(", \"drive_overrides\": [{\"drive_id\": \"a\", \"path_on_host\": "
				"\"/a\"}, {\"drive_id\": \"b\", \"path_on_host\": \"/b\"}]");
	expect_refused("no backend", route(HTTP_PUT, "/snapshot/load", body),
		       "either `mem_backend`", NULL);
}

/*
 * Regression: api-socket/routes.c route_snapshot_load() (line ~396-415), for
 * "enable_diff_snapshots" / "track_dirty_pages":
 *  1. `bool flag;` is uninitialised and `l->track_dirty_pages |= flag;` runs
 *     before the json_bool() error is checked, so a non-boolean value reads an
 *     indeterminate bool: UBSan (make asan) stops with "load of value 7, which
 *     is not a valid value for type '_Bool'" at that line.
 *  2. both keys are read as json_bool(..., "track_dirty_pages", ...), so a bad
 *     enable_diff_snapshots is reported as "field 'track_dirty_pages' must be
 *     true or false", a field the user never sent.
 * Fix: `bool flag = false;`, pass the matched key's name to json_bool(), and
 * only `|=` when it returned 0.
 */
Test(routes_snapshot, load_bad_dirty_page_flags_are_refused_by_name)
{
	static const char *const keys[] = { "enable_diff_snapshots", "track_dirty_pages" };
	static const char *const values[] = { "1", "\"yes\"", "null", "{}" };
	for (size_t k = 0; k < 2; k++) {
		for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
			char body[256], want[64];
			snprintf(body, sizeof(body), LOAD(FILE_BACKEND ", \"%s\": %s"), keys[k],
				 values[v]);
			snprintf(want, sizeof(want), "'%s'", keys[k]);
			expect_refused(body, route(HTTP_PUT, "/snapshot/load", body), want,
				       "true or false");
		}
	}
}
