/* Paths and bodies to typed requests: Firecracker's API surface, checked field by field. */
#include <errno.h>
#include <http_parser.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../vmm/json.h"
#include "../vmm/strbuf.h"
#include "request.h"

void api_request_fini(struct api_request *r)
{
	switch (r->op) {
	case API_PUT_BOOT:
		free(r->u.boot.kernel_image_path);
		free(r->u.boot.boot_args);
		free(r->u.boot.initrd_path);
		break;
	case API_PUT_DRIVE: drive_cfg_fini(&r->u.drive); break;
	case API_PATCH_DRIVE: free(r->u.drive_patch.path_on_host); break;
	case API_PUT_VSOCK: vsock_cfg_fini(&r->u.vsock); break;
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
	default: break;
	}
	memset(r, 0, sizeof(*r));
}

void api_response_error(struct api_response *resp, const char *fmt, ...)
{
	char msg[512];
	struct strbuf b;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	strbuf_init(&b);
	strbuf_printf(&b, "{\"fault_message\": ");
	strbuf_json_str(&b, msg);
	strbuf_printf(&b, "}");
	free(resp->body);
	resp->status = 400;
	resp->body = strbuf_steal(&b);
}

void api_response_fini(struct api_response *resp)
{
	free(resp->body);
	resp->body = NULL;
}

/* Endpoints of devices mvm does not have yet: a clear 400, not a 404. */
static const char *const not_yet[] = {
	"/mmds",
	"/cpu-config",
	"/hotplug",
	"/pmem",
};

static bool is_prefix(const char *path, const char *p)
{
	size_t n = strlen(p);
	return !strncmp(path, p, n) && (path[n] == '\0' || path[n] == '/');
}

/* "/drives/ID" -> ID in id[]; false when the path has another shape. */
static bool path_id(const char *path, const char *prefix, char *id, size_t size)
{
	size_t n = strlen(prefix);
	if (strncmp(path, prefix, n) || path[n] != '/')
		return false;
	const char *p = path + n + 1;
	if (strchr(p, '/') || strlen(p) >= size)
		return false;
	strcpy(id, p);
	return true;
}

struct body {
	struct json j;
	struct json_err e;
};

static int parse_body(const char *body, size_t len, struct body *b, struct api_response *resp)
{
	if (!body || !len) {
		api_response_error(resp, "this request needs a JSON body");
		return -EINVAL;
	}
	if (json_parse(&b->j, body, len, &b->e) ||
	    json_expect_object(&b->j, 0, "the request body", &b->e)) {
		json_free(&b->j);
		api_response_error(resp, "%s", b->e.msg);
		return -EINVAL;
	}
	return 0;
}

int api_unknown_field(const struct json *j, int k, const char *what, struct api_response *resp)
{
	struct json_err e;
	json_unknown_field(j, k, what, &e);
	api_response_error(resp, "%s", e.msg);
	return -EINVAL;
}

static int route_actions(struct body *b, struct api_request *req, struct api_response *resp)
{
	char type[32] = "";
	for_each_member (&b->j, 0, k, v) {
		if (!json_key_is(&b->j, k, "action_type"))
			return api_unknown_field(&b->j, k, "an action", resp);
		if (json_string_buf(&b->j, v, "action_type", type, sizeof(type), &b->e)) {
			api_response_error(resp, "%s", b->e.msg);
			return -EINVAL;
		}
	}
	if (!strcmp(type, "InstanceStart"))
		req->op = API_START;
	else if (!strcmp(type, "SendCtrlAltDel"))
		req->op = API_CTRL_ALT_DEL;
	else if (!strcmp(type, "FlushMetrics"))
		req->op = API_FLUSH_METRICS;
	else {
		api_response_error(resp,
				   "action_type '%s' is unknown; use InstanceStart, SendCtrlAltDel "
				   "or FlushMetrics",
				   type[0] ? type : "(missing)");
		return -EINVAL;
	}
	return 0;
}

static int route_vm(struct body *b, struct api_request *req, struct api_response *resp)
{
	char state[16] = "";
	for_each_member (&b->j, 0, k, v) {
		if (!json_key_is(&b->j, k, "state"))
			return api_unknown_field(&b->j, k, "the vm state", resp);
		if (json_string_buf(&b->j, v, "state", state, sizeof(state), &b->e)) {
			api_response_error(resp, "%s", b->e.msg);
			return -EINVAL;
		}
	}
	if (!strcmp(state, "Paused"))
		req->op = API_PAUSE;
	else if (!strcmp(state, "Resumed"))
		req->op = API_RESUME;
	else {
		api_response_error(resp, "state '%s' is unknown; use Paused or Resumed",
				   state[0] ? state : "(missing)");
		return -EINVAL;
	}
	return 0;
}

static int route_logger(struct body *b, struct api_request *req, struct api_response *resp)
{
	struct logger_req *l = &req->u.logger;
	req->op = API_PUT_LOGGER;
	for_each_member (&b->j, 0, k, v) {
		int r = 0;
		if (json_key_is(&b->j, k, "log_path")) {
			free(l->log_path);
			l->log_path = NULL;
			r = json_string(&b->j, v, "log_path", &l->log_path, &b->e);
		} else if (json_key_is(&b->j, k, "level")) {
			free(l->level);
			l->level = NULL;
			r = json_string(&b->j, v, "level", &l->level, &b->e);
		} else if (json_key_is(&b->j, k, "show_level")) {
			r = json_bool(&b->j, v, "show_level", &l->show_level, &b->e);
			l->has_show_level = true;
		} else if (json_key_is(&b->j, k, "show_log_origin")) {
			r = json_bool(&b->j, v, "show_log_origin", &l->show_log_origin, &b->e);
			l->has_show_origin = true;
		} else if (json_key_is(&b->j, k, "module")) {
			continue;
		} else {
			return api_unknown_field(&b->j, k, "logger", resp);
		}
		if (r) {
			api_response_error(resp, "%s", b->e.msg);
			return -EINVAL;
		}
	}
	return 0;
}

/* A body with exactly one string field `name`, into req->u.path. */
static int route_one_path(struct body *b, const char *name, const char *what, bool required,
			  struct api_request *req, struct api_response *resp)
{
	for_each_member (&b->j, 0, k, v) {
		if (!json_key_is(&b->j, k, name))
			return api_unknown_field(&b->j, k, what, resp);
		free(req->u.path);
		req->u.path = NULL;
		if (json_string(&b->j, v, name, &req->u.path, &b->e)) {
			api_response_error(resp, "%s", b->e.msg);
			return -EINVAL;
		}
	}
	if (required && (!req->u.path || !*req->u.path)) {
		api_response_error(resp, "%s needs '%s'", what, name);
		return -EINVAL;
	}
	return 0;
}

static int route_drive_patch(struct body *b, const char *id, struct api_request *req,
			     struct api_response *resp)
{
	struct drive_patch *d = &req->u.drive_patch;
	req->op = API_PATCH_DRIVE;
	for_each_member (&b->j, 0, k, v) {
		int r = 0;
		if (json_key_is(&b->j, k, "drive_id")) {
			r = json_string_buf(&b->j, v, "drive_id", d->drive_id, sizeof(d->drive_id),
					    &b->e);
		} else if (json_key_is(&b->j, k, "path_on_host")) {
			free(d->path_on_host);
			d->path_on_host = NULL;
			r = json_string(&b->j, v, "path_on_host", &d->path_on_host, &b->e);
		} else if (json_key_is(&b->j, k, "rate_limiter")) {
			/* null removes both buckets; an omitted bucket is left as it is */
			r = config_parse_rate_limiter(&b->j, v, "rate_limiter", &d->rate_limiter,
						      &d->rl_which, &b->e);
		} else {
			return api_unknown_field(&b->j, k, "a drive update", resp);
		}
		if (r) {
			api_response_error(resp, "%s", b->e.msg);
			return -EINVAL;
		}
	}
	if (!d->drive_id[0]) {
		api_response_error(resp, "a drive update needs 'drive_id'");
		return -EINVAL;
	}
	if (!config_id_valid(d->drive_id)) {
		api_response_error(resp,
				   "drive_id '%s' is invalid: use 1 to %d letters, digits or '_'",
				   d->drive_id, MVM_ID_MAX);
		return -EINVAL;
	}
	if (strcmp(d->drive_id, id)) {
		api_response_error(resp,
				   "the drive id in the path (%s) differs from drive_id in the "
				   "body (%s)",
				   id, d->drive_id);
		return -EINVAL;
	}
	if (d->path_on_host && !*d->path_on_host) {
		api_response_error(resp, "field 'path_on_host' is empty");
		return -EINVAL;
	}
	return 0;
}

#define FAIL_E(b)                                           \
	do {                                                \
		api_response_error(resp, "%s", (b)->e.msg); \
		return -EINVAL;                             \
	} while (0)

static int route_snapshot_create(struct body *b, struct api_request *req, struct api_response *resp)
{
	struct snapshot_create_req *c = &req->u.snap_create;
	req->op = API_SNAPSHOT_CREATE;
	for_each_member (&b->j, 0, k, v) {
		if (json_key_is(&b->j, k, "snapshot_path")) {
			free(c->snapshot_path);
			c->snapshot_path = NULL;
			if (json_string(&b->j, v, "snapshot_path", &c->snapshot_path, &b->e))
				FAIL_E(b);
		} else if (json_key_is(&b->j, k, "mem_file_path")) {
			free(c->mem_file_path);
			c->mem_file_path = NULL;
			if (json_string(&b->j, v, "mem_file_path", &c->mem_file_path, &b->e))
				FAIL_E(b);
		} else if (json_key_is(&b->j, k, "snapshot_type")) {
			char t[16];
			if (json_string_buf(&b->j, v, "snapshot_type", t, sizeof(t), &b->e))
				FAIL_E(b);
			if (strcmp(t, "Full") && strcmp(t, "Diff")) {
				api_response_error(
				    resp, "snapshot_type '%s' is unknown; use Full or Diff", t);
				return -EINVAL;
			}
			c->diff = !strcmp(t, "Diff");
		} else if (json_key_is(&b->j, k, "version")) {
			continue; /* deprecated in Firecracker's API, ignored */
		} else {
			return api_unknown_field(&b->j, k, "a snapshot request", resp);
		}
	}
	if (!c->snapshot_path || !*c->snapshot_path || !c->mem_file_path || !*c->mem_file_path) {
		api_response_error(resp,
				   "a snapshot needs both 'snapshot_path' and 'mem_file_path'");
		return -EINVAL;
	}
	return 0;
}

static int route_mem_backend(struct body *b, int obj, struct snapshot_load *l,
			     struct api_response *resp)
{
	char type[16] = "";
	if (json_expect_object(&b->j, obj, "mem_backend", &b->e))
		FAIL_E(b);
	for_each_member (&b->j, obj, k, v) {
		if (json_key_is(&b->j, k, "backend_type")) {
			if (json_string_buf(&b->j, v, "backend_type", type, sizeof(type), &b->e))
				FAIL_E(b);
		} else if (json_key_is(&b->j, k, "backend_path")) {
			free(l->mem_path);
			l->mem_path = NULL;
			if (json_string(&b->j, v, "backend_path", &l->mem_path, &b->e))
				FAIL_E(b);
		} else {
			return api_unknown_field(&b->j, k, "mem_backend", resp);
		}
	}
	if (!strcmp(type, "File"))
		l->uffd = false;
	else if (!strcmp(type, "Uffd"))
		l->uffd = true;
	else {
		api_response_error(resp, "backend_type '%s' is unknown; use File or Uffd",
				   type[0] ? type : "(missing)");
		return -EINVAL;
	}
	if (!l->mem_path || !*l->mem_path) {
		api_response_error(resp, "mem_backend needs 'backend_path'");
		return -EINVAL;
	}
	return 0;
}

static int route_overrides(struct body *b, int arr, struct snapshot_load *l,
			   struct api_response *resp)
{
	if (b->j.t[arr].type != JSMN_ARRAY) {
		api_response_error(resp, "'drive_overrides' must be an array");
		return -EINVAL;
	}
	for (int i = 0, o = arr + 1; i < b->j.t[arr].size; i++, o = json_next(&b->j, o)) {
		if (l->nr_overrides == MVM_MAX_DRIVES) {
			api_response_error(resp, "too many drive overrides");
			return -EINVAL;
		}
		struct drive_override *d = &l->overrides[l->nr_overrides++];
		if (json_expect_object(&b->j, o, "a drive override", &b->e))
			FAIL_E(b);
		for_each_member (&b->j, o, k, v) {
			if (json_key_is(&b->j, k, "drive_id")) {
				if (json_string_buf(&b->j, v, "drive_id", d->drive_id,
						    sizeof(d->drive_id), &b->e))
					FAIL_E(b);
			} else if (json_key_is(&b->j, k, "path_on_host")) {
				free(d->path_on_host);
				d->path_on_host = NULL;
				if (json_string(&b->j, v, "path_on_host", &d->path_on_host, &b->e))
					FAIL_E(b);
			} else {
				return api_unknown_field(&b->j, k, "a drive override", resp);
			}
		}
		if (!d->drive_id[0] || !d->path_on_host || !*d->path_on_host) {
			api_response_error(resp,
					   "a drive override needs 'drive_id' and 'path_on_host'");
			return -EINVAL;
		}
	}
	return 0;
}

static int route_snapshot_load(struct body *b, struct api_request *req, struct api_response *resp)
{
	struct snapshot_load *l = &req->u.snap_load;
	bool have_backend = false, have_file = false;
	req->op = API_SNAPSHOT_LOAD;
	for_each_member (&b->j, 0, k, v) {
		int r = 0;
		bool flag = false;
		if (json_key_is(&b->j, k, "snapshot_path")) {
			free(l->snapshot_path);
			l->snapshot_path = NULL;
			r = json_string(&b->j, v, "snapshot_path", &l->snapshot_path, &b->e);
		} else if (json_key_is(&b->j, k, "mem_backend")) {
			if (route_mem_backend(b, v, l, resp))
				return -EINVAL;
			have_backend = true;
		} else if (json_key_is(&b->j, k, "mem_file_path")) {
			free(l->mem_path);
			l->mem_path = NULL;
			r = json_string(&b->j, v, "mem_file_path", &l->mem_path, &b->e);
			have_file = true;
		} else if (json_key_is(&b->j, k, "resume_vm")) {
			r = json_bool(&b->j, v, "resume_vm", &l->resume, &b->e);
		} else if (json_key_is(&b->j, k, "enable_diff_snapshots") ||
			   json_key_is(&b->j, k, "track_dirty_pages")) {
			const char *name = json_key_is(&b->j, k, "track_dirty_pages")
					       ? "track_dirty_pages"
					       : "enable_diff_snapshots";
			r = json_bool(&b->j, v, name, &flag, &b->e);
			if (!r)
				l->track_dirty_pages |= flag;
		} else if (json_key_is(&b->j, k, "clock_realtime")) {
			r = json_bool(&b->j, v, "clock_realtime", &l->clock_realtime, &b->e);
		} else if (json_key_is(&b->j, k, "network_overrides")) {
			if (api_route_net_overrides(&b->j, v, l, resp))
				return -EINVAL;
		} else if (json_key_is(&b->j, k, "vsock_override")) {
			if (api_route_vsock_override(&b->j, v, l, resp))
				return -EINVAL;
		} else if (json_key_is(&b->j, k, "drive_overrides")) {
			if (route_overrides(b, v, l, resp))
				return -EINVAL;
		} else {
			return api_unknown_field(&b->j, k, "a snapshot load request", resp);
		}
		if (r)
			FAIL_E(b);
	}
	if (!l->snapshot_path || !*l->snapshot_path) {
		api_response_error(resp, "a snapshot load needs 'snapshot_path'");
		return -EINVAL;
	}
	if (have_backend == have_file) {
		api_response_error(resp, "give exactly one of 'mem_backend' and 'mem_file_path'");
		return -EINVAL;
	}
	if (!l->mem_path || !*l->mem_path) {
		api_response_error(resp, "'mem_file_path' is empty");
		return -EINVAL;
	}
	return 0;
}

static int with_body(int method, const char *path, const char *body, size_t len,
		     struct api_request *req, struct api_response *resp)
{
	struct body b;
	char id[MVM_ID_MAX + 2];
	int r = parse_body(body, len, &b, resp);
	if (r)
		return r;

	if (method == HTTP_PUT && !strcmp(path, "/actions")) {
		r = route_actions(&b, req, resp);
	} else if (method == HTTP_PATCH && !strcmp(path, "/vm")) {
		r = route_vm(&b, req, resp);
	} else if ((method == HTTP_PUT || method == HTTP_PATCH) &&
		   !strcmp(path, "/machine-config")) {
		req->op = method == HTTP_PUT ? API_PUT_MACHINE : API_PATCH_MACHINE;
		/* PUT resets what it leaves out to the defaults, as Firecracker's does. */
		req->u.machine.cfg = (struct machine_cfg){ .vcpu_count = MVM_DEFAULT_VCPUS,
							   .mem_size_mib = MVM_DEFAULT_MEM_MIB };
		r = config_parse_machine_fields(&b.j, 0, &req->u.machine.cfg,
						&req->u.machine.present, &b.e);
		if (!r && method == HTTP_PUT &&
		    (!(req->u.machine.present & MC_VCPUS) || !(req->u.machine.present & MC_MEM)))
			r = json_errf(&b.e, "machine-config needs both 'vcpu_count' and "
					    "'mem_size_mib'");
		if (r)
			api_response_error(resp, "%s", b.e.msg);
	} else if (method == HTTP_PUT && !strcmp(path, "/boot-source")) {
		req->op = API_PUT_BOOT;
		if ((r = config_parse_boot(&b.j, 0, &req->u.boot, &b.e)))
			api_response_error(resp, "%s", b.e.msg);
	} else if (method == HTTP_PUT && path_id(path, "/drives", id, sizeof(id))) {
		req->op = API_PUT_DRIVE;
		if ((r = config_parse_drive(&b.j, 0, &req->u.drive, &b.e)))
			api_response_error(resp, "%s", b.e.msg);
		else if (strcmp(req->u.drive.drive_id, id)) {
			api_response_error(resp,
					   "the drive id in the path (%s) differs from drive_id in "
					   "the body (%s)",
					   id, req->u.drive.drive_id);
			r = -EINVAL;
		}
	} else if (method == HTTP_PATCH && path_id(path, "/drives", id, sizeof(id))) {
		r = route_drive_patch(&b, id, req, resp);
	} else if (method == HTTP_PUT && !strcmp(path, "/logger")) {
		r = route_logger(&b, req, resp);
	} else if (method == HTTP_PUT && !strcmp(path, "/metrics")) {
		req->op = API_PUT_METRICS;
		r = route_one_path(&b, "metrics_path", "metrics", true, req, resp);
	} else if (method == HTTP_PUT && !strcmp(path, "/entropy")) {
		req->op = API_PUT_ENTROPY;
		if ((r = config_parse_entropy(&b.j, 0, &req->u.rl, &b.e)))
			api_response_error(resp, "%s", b.e.msg);
	} else if (method == HTTP_PUT && !strcmp(path, "/snapshot/create")) {
		r = route_snapshot_create(&b, req, resp);
	} else if (method == HTTP_PUT && !strcmp(path, "/snapshot/load")) {
		r = route_snapshot_load(&b, req, resp);
	} else if (method == HTTP_PUT && !strcmp(path, "/serial")) {
		req->op = API_PUT_SERIAL;
		r = route_one_path(&b, "serial_out_path", "serial", false, req, resp);
	} else if ((r = api_route_device(method, path, &b.j, req, resp)) != 1) {
		/* a device endpoint: routed or refused */
	} else {
		api_response_error(resp, "%s %s is not a supported method and path",
				   http_method_str(method), path);
		r = -EINVAL;
	}
	json_free(&b.j);
	if (r) {
		api_request_fini(req);
		if (!resp->body)
			api_response_error(resp, "bad request");
	}
	return r ? -EINVAL : 0;
}

int api_route(int method, const char *path, const char *body, size_t body_len,
	      struct api_request *req, struct api_response *resp)
{
	memset(req, 0, sizeof(*req));
	resp->status = 0;
	resp->body = NULL;

	for (size_t i = 0; i < sizeof(not_yet) / sizeof(not_yet[0]); i++) {
		if (is_prefix(path, not_yet[i])) {
			api_response_error(resp, "%s is not supported yet by mvm", path);
			return -EINVAL;
		}
	}
	if (method == HTTP_GET) {
		if (!strcmp(path, "/"))
			req->op = API_GET_INFO;
		else if (!strcmp(path, "/version"))
			req->op = API_GET_VERSION;
		else if (!strcmp(path, "/vm/config"))
			req->op = API_GET_VM_CONFIG;
		else if (!strcmp(path, "/machine-config"))
			req->op = API_GET_MACHINE;
		else if (api_route_device_get(path, req) == 0)
			return 0;
		else {
			api_response_error(resp, "GET %s is not a supported method and path", path);
			return -EINVAL;
		}
		return 0;
	}
	if (method != HTTP_PUT && method != HTTP_PATCH) {
		api_response_error(resp, "method %s is not supported; use GET, PUT or PATCH",
				   http_method_str(method));
		return -EINVAL;
	}
	return with_body(method, path, body, body_len, req, resp);
}
