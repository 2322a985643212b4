/*
 * monitor/routes.c: how (method, path, body) becomes a typed request, or a 400
 * whose body is {"fault_message": ...} naming what was wrong: methods, paths,
 * bodies in general, the bodies that choose their op (actions, vm), fault
 * bodies, freeing requests, and every row of the route table. Each endpoint's
 * fields are in test_routes_endpoints.c, the snapshot endpoints in
 * test_routes_snapshot.c, the client's side of a fault in test_api_client.c.
 */
#include "../../virtio/registry.h"
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
		snprintf(want, sizeof(want), "Invalid request method and/or path: GET %s.",
			 paths[i]);
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
		snprintf(want, sizeof(want), "Invalid request method and/or path: %s /actions.",
			 cases[i].name);
		expect_refused(cases[i].name, route(cases[i].method, "/actions", "{}"), want,
			       "mvm serves GET, PUT and PATCH");
	}
}

Test(routes, put_or_patch_of_an_unknown_path_is_refused)
{
	static const struct {
		int method;
		const char *path, *want;
	} cases[] = {
		{ HTTP_PUT, "/nope", "PUT /nope." },
		{ HTTP_PUT, "/version", "PUT /version." },
		{ HTTP_PUT, "/vm", "PUT /vm." },
		{ HTTP_PATCH, "/actions", "PATCH /actions." },
		{ HTTP_PATCH, "/boot-source", "PATCH /boot-source." },
		{ HTTP_PUT, "/drives", "PUT /drives." },
		{ HTTP_PUT, "/drives/a/b", "PUT /drives/a/b." },
		{ HTTP_PUT, "/actions/", "PUT /actions/." },
		{ HTTP_PUT, "/mmdsx", "PUT /mmdsx." }, /* not a prefix match */
		{ HTTP_PUT, "/snapshot", "PUT /snapshot." },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_refused(cases[i].path, route(cases[i].method, cases[i].path, "{}"),
			       cases[i].want, "Invalid request method and/or path: ");
}

/* A device type of the registry answers under this path: it is not "not there yet". */
static bool registered(const char *path)
{
	for (unsigned k = 0; k < nr_device_types; k++) {
		size_t n = strlen(device_types[k]->path);
		if (!strncmp(path, device_types[k]->path, n) && (!path[n] || path[n] == '/'))
			return true;
	}
	return false;
}

Test(routes, endpoints_of_devices_not_there_yet_say_so)
{
	static const char *const paths[] = {
		"/pmem",
		"/pmem/disk0",
		"/hotplug/memory",
	};
	static const int methods[] = { HTTP_GET, HTTP_PUT, HTTP_PATCH };
	int checked = 0;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (registered(paths[i]))
			continue; /* a device type now: its routes are tested with it */
		checked++;
		for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
			char what[64], want[64];
			snprintf(what, sizeof(what), "%d %s", methods[m], paths[i]);
			snprintf(want, sizeof(want), "%s is not supported yet", paths[i]);
			expect_refused(what, route(methods[m], paths[i], "{\"a\":1}"), want, NULL);
			/* Even with a body that would not parse: the path decides first. */
			expect_refused(what, route(methods[m], paths[i], "{{{"), want, NULL);
		}
	}
	cr_expect_geq(checked, 1, "hotplug is not in mvm yet");
}

/* ---- bodies in general ---- */

static const struct {
	const char *name;
	const char *body; /* NULL: none */
	size_t len;	  /* 0: strlen(body) */
	const char *msg;
} bad_bodies[] = {
	{ "no body", NULL, 0, "Empty " },
	{ "empty body", "", 0, "Empty " },
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
		{ HTTP_PUT, "/network-interfaces/eth0" },
		{ HTTP_PATCH, "/network-interfaces/eth0" },
		{ HTTP_PUT, "/vsock" },
		{ HTTP_PUT, "/balloon" },
		{ HTTP_PATCH, "/balloon" },
		{ HTTP_PATCH, "/balloon/statistics" },
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
	{ "{\"action\": \"InstanceStart\"}", "unknown field `action`", "action" },
	{ "{\"action_type\": \"InstanceStart\", \"payload\": {}}", "unknown field `payload`",
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
		{ "{\"state\": \"PausedPausedPausedPaused\"}",
		  "state 'PausedPausedPausedPaused' is unknown", NULL },
		{ "{\"state\": \"PausedPausedPausedPausedPausedPaused\"}", "'state'", "too long" },
		{ "{\"State\": \"Paused\"}", "unknown field `State`", "vm state" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_refused(cases[i].body, route(HTTP_PATCH, "/vm", cases[i].body),
			       cases[i].msg1, cases[i].msg2);
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
	cr_expect(strstr(msg, "unknown field `a?z?`") != NULL, "%s", msg);
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
	cr_assert_str_eq(r.u.snap_load.overrides[0].value, "/a");
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
		{ HTTP_PUT, "/entropy",
		  "{\"rate_limiter\": {\"ops\": {\"size\": 1, \"refill_time\": 1}}}" },
		{ HTTP_PATCH, "/drives/r",
		  "{\"drive_id\": \"r\", \"path_on_host\": \"/d\", \"rate_limiter\": null}" },
		{ HTTP_PUT, "/network-interfaces/e",
		  "{\"iface_id\": \"e\", \"host_dev_name\": \"t\", \"guest_mac\": "
		  "\"06:00:00:00:00:01\"}" },
		{ HTTP_PATCH, "/network-interfaces/e",
		  "{\"iface_id\": \"e\", \"rx_rate_limiter\": null}" },
		{ HTTP_PUT, "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/v\"}" },
		{ HTTP_PUT, "/balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": true}" },
		{ HTTP_PATCH, "/balloon", "{\"amount_mib\": 1}" },
		{ HTTP_PATCH, "/balloon/statistics", "{\"stats_polling_interval_s\": 1}" },
		{ HTTP_GET, "/balloon/statistics", "" },
		{ HTTP_PUT, "/snapshot/load",
		  LOAD(FILE_BACKEND
		       ", \"network_overrides\": [{\"iface_id\": \"e\", "
		       "\"host_dev_name\": \"t\"}], \"vsock_override\": {\"uds_path\": "
		       "\"/v\"}") },
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

/* ---- the route table ---- */

/*
 * A good body for each row of the table, by method and path ({id} as "x");
 * NULL: the route takes no body. type: the device type's key, for the rows of
 * a type that may not be in the registry.
 */
static const struct {
	int method;
	const char *path, *body, *type;
} samples[] = {
	{ HTTP_GET, "/", NULL, NULL },
	{ HTTP_GET, "/version", NULL, NULL },
	{ HTTP_GET, "/vm/config", NULL, NULL },
	{ HTTP_GET, "/machine-config", NULL, NULL },
	{ HTTP_PUT, "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128}", NULL },
	{ HTTP_PATCH, "/machine-config", "{\"smt\": false}", NULL },
	{ HTTP_PUT, "/boot-source", "{\"kernel_image_path\": \"/k\"}", NULL },
	{ HTTP_PUT, "/actions", "{\"action_type\": \"InstanceStart\"}", NULL },
	{ HTTP_PATCH, "/vm", "{\"state\": \"Paused\"}", NULL },
	{ HTTP_PUT, "/logger", "{}", NULL },
	{ HTTP_PUT, "/metrics", "{\"metrics_path\": \"/m\"}", NULL },
	{ HTTP_GET, "/metrics", NULL, NULL },
	{ HTTP_PUT, "/mvm/cpu-affinity", "{\"others\": [0]}", NULL },
	{ HTTP_PUT, "/serial", "{}", NULL },
	{ HTTP_PUT, "/snapshot/create", "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\"}",
	  NULL },
	{ HTTP_PUT, "/snapshot/load", LOAD(FILE_BACKEND), NULL },
	{ HTTP_PUT, "/cpu-config", "{\"cpuid_modifiers\": []}", NULL },
	{ HTTP_PUT, "/drives/x",
	  "{\"drive_id\": \"x\", \"path_on_host\": \"/d\", \"is_root_device\": false}", "drives" },
	{ HTTP_PATCH, "/drives/x", "{\"drive_id\": \"x\", \"rate_limiter\": null}", "drives" },
	{ HTTP_PUT, "/entropy", "{}", "entropy" },
	{ HTTP_PUT, "/network-interfaces/x", "{\"iface_id\": \"x\", \"host_dev_name\": \"t\"}",
	  "network-interfaces" },
	{ HTTP_PATCH, "/network-interfaces/x", "{\"iface_id\": \"x\"}", "network-interfaces" },
	{ HTTP_PUT, "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/v\"}", "vsock" },
	{ HTTP_PUT, "/balloon", "{\"amount_mib\": 0, \"deflate_on_oom\": false}", "balloon" },
	{ HTTP_PATCH, "/balloon", "{\"amount_mib\": 0}", "balloon" },
	{ HTTP_GET, "/balloon", NULL, "balloon" },
	{ HTTP_GET, "/balloon/statistics", NULL, "balloon" },
	{ HTTP_PATCH, "/balloon/statistics", "{\"stats_polling_interval_s\": 0}", "balloon" },
	{ HTTP_PUT, "/pmem/x", "{\"id\": \"x\", \"path_on_host\": \"/p\"}", "pmem" },
	{ HTTP_PUT, "/mmds/config", "{\"network_interfaces\": [\"x\"]}", NULL },
	{ HTTP_PUT, "/mmds", "{\"a\": 1}", NULL },
	{ HTTP_PATCH, "/mmds", "{\"a\": null}", NULL },
	{ HTTP_GET, "/mmds", NULL, NULL },
};

static int sample_of(int method, const char *path)
{
	for (int i = 0; i < (int)(sizeof(samples) / sizeof(samples[0])); i++)
		if (samples[i].method == method && !strcmp(samples[i].path, path))
			return i;
	return -1;
}

/* Every row answers api_route with a good body, as itself, counted under its name. */
Test(routes, every_row_of_the_table_answers)
{
	unsigned n, nc;
	cr_assert_eq(api_routes_init(), 0);
	const struct route *rt = api_routes(&n);
	const struct api_counter *c = api_counters(&nc);
	cr_assert_gt(n, 14, "the fixed routes at least");
	for (unsigned i = 0; i < n; i++) {
		char path[128], what[160];
		snprintf(path, sizeof(path), "%s%s%s", rt[i].path, rt[i].with_id ? "/x" : "",
			 rt[i].dev_route ? rt[i].dev_route->suffix : "");
		snprintf(what, sizeof(what), "%s %s", http_method_str(rt[i].method), path);
		int k = sample_of(rt[i].method, path);
		cr_expect_geq(k, 0, "%s: no sample body in this test: add one", what);
		if (k < 0)
			continue;
		cr_expect_eq(rt[i].body, samples[k].body != NULL, "%s: takes a body or not", what);
		int r = route(rt[i].method, path, samples[k].body);
		expect_routed(what, r, rt[i].op);
		if (r)
			continue;
		cr_expect_eq(req.route, &rt[i], "%s: answered by another row", what);
		cr_expect(!rt[i].with_id || !strcmp(req.id, "x"), "%s: id '%s'", what, req.id);
		cr_expect(rt[i].states && !(rt[i].states & ~(unsigned)VM_ST_ANY), "%s: states %#x",
			  what, rt[i].states);
		if (rt[i].type) {
			cr_expect(rt[i].op >= API_DEV_PUT, "%s: a device row with op %d", what,
				  rt[i].op);
			cr_expect_eq(req.dev_body != NULL, rt[i].body, "%s: the body's copy", what);
			cr_expect_eq(rt[i].op == API_DEV_ROUTE, rt[i].dev_route != NULL, "%s",
				     what);
		} else {
			cr_expect(rt[i].op < API_DEV_PUT, "%s: a device op without a type", what);
		}
		if (rt[i].metric) {
			cr_assert(rt[i].counter >= 0 && (unsigned)rt[i].counter < nc,
				  "%s: counter %d", what, rt[i].counter);
			cr_expect_str_eq(c[rt[i].counter].name, rt[i].metric, "%s", what);
			cr_expect_eq(c[rt[i].counter].group,
				     rt[i].method == HTTP_GET	? API_METRIC_GET
				     : rt[i].method == HTTP_PUT ? API_METRIC_PUT
								: API_METRIC_PATCH,
				     "%s", what);
		} else {
			cr_expect_eq(rt[i].counter, -1, "%s: a counter without a name", what);
		}
		if (rt[i].body)
			expect_refused(what, route(rt[i].method, path, NULL), "Empty ", NULL);
		for (unsigned j = 0; j < i; j++)
			cr_expect(rt[j].method != rt[i].method || strcmp(rt[j].path, rt[i].path) ||
				      rt[j].with_id != rt[i].with_id ||
				      rt[j].dev_route != rt[i].dev_route,
				  "%s: rows %u and %u are the same", what, j, i);
	}
	/* ...and every sample of a type in the registry is a row. */
	for (size_t k = 0; k < sizeof(samples) / sizeof(samples[0]); k++)
		if (!samples[k].type ||
		    device_type_by_key(samples[k].type, strlen(samples[k].type)))
			cr_expect_eq(route(samples[k].method, samples[k].path, samples[k].body), 0,
				     "%s %s: no row answers", http_method_str(samples[k].method),
				     samples[k].path);
}

/* The registry makes each type's rows: PUT, PATCH if it patches, GET if gettable, its own. */
Test(routes, every_device_type_has_its_rows)
{
	unsigned n;
	cr_assert_eq(api_routes_init(), 0);
	const struct route *rt = api_routes(&n);
	for (unsigned k = 0; k < nr_device_types; k++) {
		const struct device_type *t = device_types[k];
		unsigned put = 0, patch = 0, get = 0, own = 0;
		for (unsigned i = 0; i < n; i++) {
			if (rt[i].type != t)
				continue;
			put += rt[i].op == API_DEV_PUT;
			patch += rt[i].op == API_DEV_PATCH;
			get += rt[i].op == API_DEV_GET;
			own += rt[i].op == API_DEV_ROUTE;
			cr_expect_str_eq(rt[i].path, t->path);
			cr_expect_eq(rt[i].with_id,
				     t->id_field != NULL && rt[i].op != API_DEV_GET &&
					 rt[i].op != API_DEV_ROUTE,
				     "%s op %d", t->name, rt[i].op);
			if (rt[i].op == API_DEV_PUT)
				cr_expect_eq(rt[i].states, (unsigned)VM_ST_NOT_STARTED,
					     "%s: configured before boot", t->name);
			if (rt[i].op == API_DEV_PATCH)
				cr_expect_eq(rt[i].states, (unsigned)VM_ST_STARTED,
					     "%s: patched after boot", t->name);
		}
		cr_expect_eq(put, 1, "%s", t->name);
		cr_expect_eq(patch, t->parse_patch != NULL, "%s", t->name);
		cr_expect_eq(get, t->gettable, "%s", t->name);
		cr_expect_eq(own, t->nr_routes, "%s", t->name);
	}
}
