/*
 * Firecracker's API surface as one table: method, path, the VM states each
 * route is allowed in, its body parser. Device routes (PUT, PATCH and GET of
 * each device type, and their own extras) are made from the registry once at
 * start-up. The README's API reference follows this table; a unit test
 * checks that every row answers.
 */
#include <errno.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/json.h"
#include "../lib/util.h"
#include "../virtio/net/mmds/jtree.h"
#include "../virtio/registry.h"
#include "request.h"

#define NOT_STARTED VM_ST_NOT_STARTED
#define STARTED	    VM_ST_STARTED
#define ANY	    VM_ST_ANY

static int parse_machine_put(const struct json *j, struct api_request *r, struct err *e);
static int parse_machine_patch(const struct json *j, struct api_request *r, struct err *e);
static int parse_boot(const struct json *j, struct api_request *r, struct err *e);
static int parse_action(const struct json *j, struct api_request *r, struct err *e);
static int parse_vm_state(const struct json *j, struct api_request *r, struct err *e);
static int parse_logger(const struct json *j, struct api_request *r, struct err *e);
static int parse_metrics(const struct json *j, struct api_request *r, struct err *e);
static int parse_serial(const struct json *j, struct api_request *r, struct err *e);
static int parse_cpu_config(const struct json *j, struct api_request *r, struct err *e);
static int parse_affinity(const struct json *j, struct api_request *r, struct err *e);

/* A fixed route: no body without a parser. */
#define ROW(m, p, o, st, conf, ctr, fn)                                                      \
	{                                                                                    \
		.method = (m), .path = (p), .op = (o), .states = (st), .configures = (conf), \
		.metric = (ctr), .parse = (fn)                                               \
	}

static const struct route fixed[] = {
	ROW(HTTP_GET, "/", API_GET_INFO, ANY, false, "instance_info", NULL),
	ROW(HTTP_GET, "/version", API_GET_VERSION, ANY, false, "vmm_version", NULL),
	ROW(HTTP_GET, "/vm/config", API_GET_VM_CONFIG, ANY, false, "vm_config", NULL),
	ROW(HTTP_GET, "/machine-config", API_GET_MACHINE, ANY, false, "machine_cfg", NULL),
	ROW(HTTP_PUT, "/machine-config", API_PUT_MACHINE, NOT_STARTED, true, "machine_cfg",
	    parse_machine_put),
	ROW(HTTP_PATCH, "/machine-config", API_PATCH_MACHINE, NOT_STARTED, true, "machine_cfg",
	    parse_machine_patch),
	ROW(HTTP_PUT, "/boot-source", API_PUT_BOOT, NOT_STARTED, true, "boot_source", parse_boot),
	/* The action chooses the op, and with it the states (requests.c). */
	ROW(HTTP_PUT, "/actions", API_START, ANY, false, "actions", parse_action),
	ROW(HTTP_PATCH, "/vm", API_PAUSE, STARTED, false, "vm", parse_vm_state),
	ROW(HTTP_PUT, "/logger", API_PUT_LOGGER, NOT_STARTED, false, "logger", parse_logger),
	ROW(HTTP_PUT, "/metrics", API_PUT_METRICS, NOT_STARTED, false, "metrics", parse_metrics),
	/* mvm's: Prometheus text; counted in none of Firecracker's groups */
	ROW(HTTP_GET, "/metrics", API_GET_METRICS, ANY, false, NULL, NULL),
	/* mvm's: CPU pinning, before boot or a snapshot load (so not "configures") */
	ROW(HTTP_PUT, "/mvm/cpu-affinity", API_PUT_AFFINITY, NOT_STARTED, false, NULL,
	    parse_affinity),
	ROW(HTTP_PUT, "/serial", API_PUT_SERIAL, NOT_STARTED, true, "serial", parse_serial),
	ROW(HTTP_PUT, "/snapshot/create", API_SNAPSHOT_CREATE, VM_ST_PAUSED, false,
	    "snapshot_create", api_parse_snapshot_create),
	ROW(HTTP_PUT, "/snapshot/load", API_SNAPSHOT_LOAD, NOT_STARTED, false, "snapshot_load",
	    api_parse_snapshot_load),
	ROW(HTTP_PUT, "/cpu-config", API_PUT_CPU_CONFIG, NOT_STARTED, true, "cpu_cfg",
	    parse_cpu_config),
	ROW(HTTP_PUT, "/mmds/config", API_PUT_MMDS_CONFIG, NOT_STARTED, true, "mmds",
	    api_parse_mmds_config),
	ROW(HTTP_PUT, "/mmds", API_PUT_MMDS, ANY, false, "mmds", api_parse_mmds_data),
	ROW(HTTP_PATCH, "/mmds", API_PATCH_MMDS, ANY, false, "mmds", api_parse_mmds_data),
	ROW(HTTP_GET, "/mmds", API_GET_MMDS, ANY, false, "mmds", NULL),
};

/* Endpoints of Firecracker's that mvm does not have yet: a clear 400, not "unknown". */
static const char *const not_yet[] = { "/hotplug" };

#define MAX_ROUTES   64
#define MAX_COUNTERS 48
static struct route table[MAX_ROUTES];
static unsigned nr_routes;
static struct api_counter counters[MAX_COUNTERS];
static unsigned nr_counters;

static enum api_metric_group group_of(int method)
{
	return method == HTTP_GET   ? API_METRIC_GET
	       : method == HTTP_PUT ? API_METRIC_PUT
				    : API_METRIC_PATCH;
}

static int counter_for(int method, const char *name)
{
	if (!name)
		return -1;
	for (unsigned i = 0; i < nr_counters; i++)
		if (counters[i].group == group_of(method) && !strcmp(counters[i].name, name))
			return (int)i;
	if (nr_counters == MAX_COUNTERS)
		return -1;
	counters[nr_counters] = (struct api_counter){ .group = group_of(method), .name = name };
	return (int)nr_counters++;
}

static int add(struct route r)
{
	if (nr_routes == MAX_ROUTES)
		return -ENOSPC;
	if (!r.type)
		r.body = r.parse != NULL; /* a fixed route has a body when it has a parser */
	r.counter = counter_for(r.method, r.metric);
	table[nr_routes++] = r;
	return 0;
}

int api_routes_init(void)
{
	int r = 0;
	if (nr_routes)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(fixed) && !r; i++)
		r = add(fixed[i]);
	for (unsigned k = 0; k < nr_device_types && !r; k++) {
		const struct device_type *t = device_types[k];
		bool many = t->id_field != NULL;
		r = add((struct route){ .method = HTTP_PUT,
					.path = t->path,
					.with_id = many,
					.op = API_DEV_PUT,
					.states = NOT_STARTED,
					.configures = true,
					.metric = t->api_metric,
					.body = true,
					.type = t });
		if (!r && t->parse_patch)
			r = add((struct route){ .method = HTTP_PATCH,
						.path = t->path,
						.with_id = many,
						.op = API_DEV_PATCH,
						.states = STARTED,
						.metric = t->api_metric,
						.body = true,
						.type = t });
		if (!r && t->gettable)
			r = add((struct route){ .method = HTTP_GET,
						.path = t->path,
						.op = API_DEV_GET,
						.states = ANY,
						.metric = t->api_metric,
						.type = t });
		for (unsigned x = 0; x < t->nr_routes && !r; x++) {
			const struct dev_route *d = &t->routes[x];
			r = add((struct route){ .method = d->method,
						.path = t->path,
						.op = API_DEV_ROUTE,
						.states = d->states,
						.metric = d->metric,
						.body = d->body_size > 0,
						.type = t,
						.dev_route = d });
		}
	}
	return r;
}

const struct route *api_routes(unsigned *n)
{
	*n = nr_routes;
	return table;
}

struct api_counter *api_counters(unsigned *n)
{
	*n = nr_counters;
	return counters;
}

void api_request_fini(struct api_request *r)
{
	const struct route *rt = r->route;
	switch (r->op) {
	case API_PUT_BOOT: boot_cfg_fini(&r->u.boot); break;
	case API_PUT_CPU_CONFIG: free(r->u.cpu_config); break;
	case API_PUT_AFFINITY: free(r->u.affinity); break;
	case API_PUT_LOGGER:
		free(r->u.logger.log_path);
		free(r->u.logger.level);
		break;
	case API_PUT_METRICS:
	case API_PUT_SERIAL: free(r->u.path); break;
	case API_SNAPSHOT_CREATE:
		free(r->u.snap_create.snapshot_path);
		free(r->u.snap_create.mem_file_path);
		break;
	case API_SNAPSHOT_LOAD: snapshot_load_fini(&r->u.snap_load); break;
	case API_PUT_MMDS:
	case API_PATCH_MMDS: jt_free(r->u.mmds_data); break;
	default: break;
	}
	if (r->dev_body && rt && rt->type) {
		if (r->op == API_DEV_PUT)
			config_free_device_cfg(rt->type, r->dev_body);
		else {
			if (r->op == API_DEV_PATCH && rt->type->patch_fini)
				rt->type->patch_fini(r->dev_body);
			free(r->dev_body);
		}
	}
	memset(r, 0, sizeof(*r));
}

static bool is_prefix(const char *path, const char *p)
{
	size_t n = strlen(p);
	return !strncmp(path, p, n) && (path[n] == '\0' || path[n] == '/');
}

/* Does rt take path? Its {id} (any one segment) into id[]. */
static bool matches(const struct route *rt, const char *path, char id[API_PATH_ID_MAX + 1])
{
	size_t n = strlen(rt->path);
	const char *suffix = rt->dev_route ? rt->dev_route->suffix : "";
	if (strncmp(path, rt->path, n))
		return false;
	path += n;
	if (!rt->with_id)
		return !strcmp(path, suffix);
	if (*path != '/' || strchr(path + 1, '/') || strlen(path + 1) > API_PATH_ID_MAX)
		return false; /* an empty id matches: it gets its own answer */
	strcpy(id, path + 1);
	return true;
}

/* The device parts: the body into the type's config, patch or route body. */
static int parse_device(const struct json *j, struct api_request *req, struct err *e)
{
	const struct route *rt = req->route;
	const struct device_type *t = rt->type;
	size_t size = rt->op == API_DEV_PUT	? t->cfg_size
		      : rt->op == API_DEV_PATCH ? t->patch_size
						: rt->dev_route->body_size;
	req->dev_body = calloc(1, size);
	if (!req->dev_body)
		return err_set(e, -ENOMEM, "out of memory");
	int r = rt->op == API_DEV_PUT	  ? t->parse(j, 0, req->dev_body, e)
		: rt->op == API_DEV_PATCH ? t->parse_patch(j, 0, req->dev_body, e)
					  : rt->dev_route->parse(j, 0, req->dev_body, e);
	if (r || !rt->with_id)
		return r;
	/* The id in the body is the one in the path (PUT: the config's, PATCH: the update's). */
	const char *body_id = rt->op == API_DEV_PUT ? t->id(req->dev_body)
			      : t->patch_id	    ? t->patch_id(req->dev_body)
						    : req->id;
	/* Firecracker's two sentences: clients match on them. */
	if (strcmp(body_id, req->id) && !strcmp(t->id_field, "iface_id"))
		return err_inval(
		    e, "The id from the path [%s] does not match the id from the body [%s]!",
		    req->id, body_id);
	if (strcmp(body_id, req->id))
		return err_inval(e,
				 "The id from the path does not match the id from the body! "
				 "(%s '%s' in the path, '%s' in the body)",
				 t->id_field, req->id, body_id);
	return 0;
}

/* Fields Firecracker's swagger marks deprecated, and its warning for each. */
static const struct {
	int method;
	const char *path, *field, *message;
} deprecated[] = {
	{ HTTP_PUT, "/machine-config", "cpu_template",
	  "PUT /machine-config: cpu_template field is deprecated." },
	{ HTTP_PATCH, "/machine-config", "cpu_template",
	  "PATCH /machine-config: cpu_template field is deprecated." },
	{ HTTP_PUT, "/vsock", "vsock_id", "PUT /vsock: vsock_id field is deprecated." },
	{ HTTP_PUT, "/snapshot/load", "mem_file_path",
	  "PUT /snapshot/load: mem_file_path field is deprecated." },
};

static const char *deprecation_of(const struct route *rt, const struct json *j)
{
	for (size_t i = 0; i < ARRAY_SIZE(deprecated); i++) {
		if (deprecated[i].method != rt->method || strcmp(deprecated[i].path, rt->path))
			continue;
		for_each_member (j, 0, k, v) {
			(void)v;
			if (json_key_is(j, k, deprecated[i].field))
				return deprecated[i].message;
		}
	}
	return NULL;
}

static int parse_body(const struct route *rt, const char *body, size_t len, struct api_request *req,
		      struct err *e)
{
	struct json j;
	int r;
	if (!body || !len)
		return err_inval(e, "Empty %s request.", http_method_str(rt->method));
	if ((r = json_parse(&j, body, len, e)))
		return r;
	if (!(r = json_expect_object(&j, 0, "the request body", e)))
		r = rt->parse ? rt->parse(&j, req, e) : parse_device(&j, req, e);
	if (!r)
		req->deprecation = deprecation_of(rt, &j);
	json_free(&j);
	return r;
}

int api_route(int method, const char *path, const char *body, size_t body_len,
	      struct api_request *req, struct api_response *resp)
{
	struct err e = { 0 };
	memset(req, 0, sizeof(*req));
	resp->status = 0;
	resp->body = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(not_yet); i++) {
		if (is_prefix(path, not_yet[i])) {
			api_response_error(resp, "%s is not supported yet by mvm", path);
			return -EINVAL;
		}
	}
	if (method != HTTP_GET && method != HTTP_PUT && method != HTTP_PATCH) {
		api_response_error(resp,
				   "Invalid request method and/or path: %s %s. (mvm serves GET, "
				   "PUT and PATCH)",
				   http_method_str(method), path);
		return -EINVAL;
	}
	if (api_routes_init()) {
		api_response_error(resp, "internal error: the route table is full");
		return -EINVAL;
	}
	for (unsigned i = 0; i < nr_routes; i++) {
		const struct route *rt = &table[i];
		if (rt->method != method || !matches(rt, path, req->id))
			continue;
		req->route = rt;
		req->op = rt->op;
		if (rt->with_id && !req->id[0]) {
			api_response_error(resp, "The ID cannot be empty.");
			memset(req, 0, sizeof(*req));
			return -EINVAL;
		}
		if (rt->with_id && !config_id_valid(req->id)) {
			api_response_error(
			    resp,
			    "API Resource IDs can only contain alphanumeric characters "
			    "and underscores. (%s '%s': use 1 to %d of them)",
			    rt->type ? rt->type->id_field : "id", req->id, MVM_ID_MAX);
			memset(req, 0, sizeof(*req));
			return -EINVAL;
		}
		if (!rt->body)
			return 0; /* a body on a GET is ignored, never parsed */
		int r = parse_body(rt, body, body_len, req, &e);
		if (r) {
			api_response_error(resp, "%s", err_str(&e, r));
			api_request_fini(req);
			return -EINVAL;
		}
		return 0;
	}
	api_response_error(resp, "Invalid request method and/or path: %s %s.",
			   http_method_str(method), path);
	return -EINVAL;
}

/* --- the fixed routes' bodies ------------------------------------------------ */

static int parse_machine(const struct json *j, struct api_request *r, bool put, struct err *e)
{
	/* PUT resets what it leaves out to the defaults, as Firecracker's does. */
	r->u.machine.cfg = (struct machine_cfg){ .vcpu_count = MVM_DEFAULT_VCPUS,
						 .mem_size_mib = MVM_DEFAULT_MEM_MIB };
	int rc = config_parse_machine_fields(j, 0, &r->u.machine.cfg, &r->u.machine.present, e);
	if (!rc && put && !(r->u.machine.present & MC_VCPUS))
		rc = json_missing_field(j, 0, "vcpu_count", e);
	if (!rc && put && !(r->u.machine.present & MC_MEM))
		rc = json_missing_field(j, 0, "mem_size_mib", e);
	if (!rc && !put && !r->u.machine.present)
		rc = err_inval(e, "Empty PATCH request.");
	if (!rc && put)
		rc = config_machine_check(&r->u.machine.cfg, e);
	return rc;
}

static int parse_machine_put(const struct json *j, struct api_request *r, struct err *e)
{
	return parse_machine(j, r, true, e);
}

static int parse_machine_patch(const struct json *j, struct api_request *r, struct err *e)
{
	return parse_machine(j, r, false, e);
}

static int parse_boot(const struct json *j, struct api_request *r, struct err *e)
{
	return config_parse_boot(j, 0, &r->u.boot, e);
}

/* {"name": "value"} with value one of names[] (nr of them); its index. */
static int parse_choice(const struct json *j, const char *field, const char *what,
			const char *const *names, int nr, int *out, struct err *e)
{
	char v[32] = "";
	int rc;
	for_each_member (j, 0, k, val) {
		if (!json_key_is(j, k, field))
			return json_unknown_field(j, k, what, e);
		if ((rc = json_string_buf(j, val, field, v, sizeof(v), e)))
			return rc;
	}
	for (int i = 0; i < nr; i++)
		if (!strcmp(v, names[i])) {
			*out = i;
			return 0;
		}
	return err_inval(e, "%s '%s' is unknown; use %s", field, v[0] ? v : "(missing)",
			 nr == 2 ? "Paused or Resumed"
				 : "InstanceStart, SendCtrlAltDel or FlushMetrics");
}

static int parse_action(const struct json *j, struct api_request *r, struct err *e)
{
	static const char *const names[] = { "InstanceStart", "SendCtrlAltDel", "FlushMetrics" };
	static const enum api_op ops[] = { API_START, API_CTRL_ALT_DEL, API_FLUSH_METRICS };
	int i, rc = parse_choice(j, "action_type", "an action", names, 3, &i, e);
	if (!rc)
		r->op = ops[i];
	return rc;
}

static int parse_vm_state(const struct json *j, struct api_request *r, struct err *e)
{
	static const char *const names[] = { "Paused", "Resumed" };
	int i, rc = parse_choice(j, "state", "the vm state", names, 2, &i, e);
	if (!rc)
		r->op = i ? API_RESUME : API_PAUSE;
	return rc;
}

static int parse_logger(const struct json *j, struct api_request *r, struct err *e)
{
	struct logger_req *l = &r->u.logger;
	int rc = 0;
	for_each_member (j, 0, k, v) {
		if (json_key_is(j, k, "log_path")) {
			free(l->log_path);
			l->log_path = NULL;
			rc = json_string(j, v, "log_path", &l->log_path, e);
		} else if (json_key_is(j, k, "level")) {
			free(l->level);
			l->level = NULL;
			rc = json_string(j, v, "level", &l->level, e);
		} else if (json_key_is(j, k, "show_level")) {
			rc = json_bool(j, v, "show_level", &l->show_level, e);
			l->has_show_level = true;
		} else if (json_key_is(j, k, "show_log_origin")) {
			rc = json_bool(j, v, "show_log_origin", &l->show_log_origin, e);
			l->has_show_origin = true;
		} else if (!json_key_is(j, k, "module")) {
			return json_unknown_field(j, k, "logger", e);
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* A body with exactly one string field `name`, into r->u.path. */
static int parse_one_path(const struct json *j, const char *name, const char *what, bool required,
			  struct api_request *r, struct err *e)
{
	int rc;
	for_each_member (j, 0, k, v) {
		if (!json_key_is(j, k, name))
			return json_unknown_field(j, k, what, e);
		free(r->u.path);
		r->u.path = NULL;
		if ((rc = json_string(j, v, name, &r->u.path, e)))
			return rc;
	}
	if (required && (!r->u.path || !*r->u.path))
		return err_inval(e, "%s needs '%s'", what, name);
	return 0;
}

static int parse_metrics(const struct json *j, struct api_request *r, struct err *e)
{
	return parse_one_path(j, "metrics_path", "metrics", true, r, e);
}

static int parse_serial(const struct json *j, struct api_request *r, struct err *e)
{
	return parse_one_path(j, "serial_out_path", "serial", false, r, e);
}

static int parse_cpu_config(const struct json *j, struct api_request *r, struct err *e)
{
	r->u.cpu_config = malloc(sizeof(*r->u.cpu_config));
	if (!r->u.cpu_config)
		return err_set(e, -ENOMEM, "out of memory");
	return cpu_tmpl_parse(j, 0, r->u.cpu_config, e);
}

static int parse_affinity(const struct json *j, struct api_request *r, struct err *e)
{
	r->u.affinity = calloc(1, sizeof(*r->u.affinity));
	if (!r->u.affinity)
		return err_set(e, -ENOMEM, "out of memory");
	return affinity_parse(j, 0, r->u.affinity, e);
}
