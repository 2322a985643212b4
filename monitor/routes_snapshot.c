/* The bodies of PUT /snapshot/create and PUT /snapshot/load, field by field. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/json.h"
#include "../snapshot/wset.h"
#include "request.h"

/* A string field into *dst (replacing what was there). */
static int take_string(const struct json *j, int v, const char *name, char **dst, struct err *e)
{
	free(*dst);
	*dst = NULL;
	return json_string(j, v, name, dst, e);
}

int api_parse_snapshot_create(const struct json *j, struct api_request *req, struct err *e)
{
	struct snapshot_create_req *c = &req->u.snap_create;
	char t[16];
	int r;
	for_each_member (j, 0, k, v) {
		if (json_key_is(j, k, "snapshot_path"))
			r = take_string(j, v, "snapshot_path", &c->snapshot_path, e);
		else if (json_key_is(j, k, "mem_file_path"))
			r = take_string(j, v, "mem_file_path", &c->mem_file_path, e);
		else if (json_key_is(j, k, "snapshot_type")) {
			if ((r = json_string_buf(j, v, "snapshot_type", t, sizeof(t), e)))
				return r;
			if (strcmp(t, "Full") && strcmp(t, "Diff"))
				return err_inval(
				    e, "snapshot_type '%s' is unknown; use Full or Diff", t);
			c->diff = !strcmp(t, "Diff");
		} else if (json_key_is(j, k, "version"))
			continue; /* deprecated in Firecracker's API, ignored */
		else
			return json_unknown_field(j, k, "a snapshot request", e);
		if (r)
			return r;
	}
	if (!c->snapshot_path)
		return json_missing_field(j, 0, "snapshot_path", e);
	if (!c->mem_file_path)
		return json_missing_field(j, 0, "mem_file_path", e);
	if (!*c->snapshot_path || !*c->mem_file_path)
		return err_inval(e, "a snapshot needs both 'snapshot_path' and 'mem_file_path' "
				    "(one is empty)");
	return 0;
}

static int parse_mem_backend(const struct json *j, int obj, struct snapshot_load *l, struct err *e)
{
	char type[16] = "";
	int r;
	if ((r = json_expect_object(j, obj, "mem_backend", e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (json_key_is(j, k, "backend_type"))
			r = json_string_buf(j, v, "backend_type", type, sizeof(type), e);
		else if (json_key_is(j, k, "backend_path"))
			r = take_string(j, v, "backend_path", &l->mem_path, e);
		else
			return json_unknown_field(j, k, "mem_backend", e);
		if (r)
			return r;
	}
	/* Firecracker's (serde's) words, which clients match on. */
	if (!type[0])
		return json_missing_field(j, obj, "backend_type", e);
	if (strcmp(type, "File") && strcmp(type, "Uffd"))
		return err_inval(e, "unknown variant `%s`, expected `File` or `Uffd`", type);
	l->uffd = !strcmp(type, "Uffd");
	if (!l->mem_path)
		return json_missing_field(j, obj, "backend_path", e);
	if (!*l->mem_path)
		return err_inval(e, "mem_backend's 'backend_path' is empty");
	return 0;
}

/* What one kind of override looks like in the request. */
struct override_kind {
	const char *what;   /* "network_overrides" */
	const char *one;    /* "a network override" */
	const char *type;   /* the device type's name */
	const char *id_key; /* "iface_id"; NULL: the single device of its type */
	const char *field;  /* "host_dev_name" */
	size_t max;	    /* longest value */
};

static const struct override_kind net_kind = { "network_overrides", "a network override", "net",
					       "iface_id",	    "host_dev_name",	  15 };
static const struct override_kind drive_kind = { "drive_overrides", "a drive override", "block",
						 "drive_id",	    "path_on_host",	4095 };
static const struct override_kind vsock_kind = { "vsock_override", "vsock_override",
						 "vsock",	   NULL,
						 "uds_path",	   96 };

static int parse_override(const struct json *j, int o, const struct override_kind *kd,
			  struct snapshot_load *l, struct err *e)
{
	if (l->nr_overrides == MVM_MAX_DEVICES)
		return err_inval(e, "too many overrides (at most %d)", MVM_MAX_DEVICES);
	struct snap_override *x = &l->overrides[l->nr_overrides++];
	*x = (struct snap_override){ .what = kd->what, .type = kd->type, .field = kd->field };
	int r = json_expect_object(j, o, kd->one, e);
	if (r)
		return r;
	for_each_member (j, o, k, v) {
		if (kd->id_key && json_key_is(j, k, kd->id_key))
			r = json_string_buf(j, v, kd->id_key, x->id, sizeof(x->id), e);
		else if (json_key_is(j, k, kd->field))
			r = take_string(j, v, kd->field, &x->value, e);
		else
			return json_unknown_field(j, k, kd->one, e);
		if (r)
			return r;
	}
	if ((kd->id_key && !x->id[0]) || !x->value || !*x->value || strlen(x->value) > kd->max)
		return err_inval(e, "%s needs %s%s'%s' (1 to %zu bytes)", kd->one,
				 kd->id_key ? kd->id_key : "", kd->id_key ? " and " : "", kd->field,
				 kd->max);
	return 0;
}

static int parse_override_list(const struct json *j, int arr, const struct override_kind *kd,
			       struct snapshot_load *l, struct err *e)
{
	if (j->t[arr].type != JSMN_ARRAY)
		return err_inval(e, "'%s' must be an array", kd->what);
	for (int i = 0, o = arr + 1; i < j->t[arr].size; i++, o = json_next(j, o)) {
		int r = parse_override(j, o, kd, l, e);
		if (r)
			return r;
	}
	return 0;
}

/* mvm's extension: {"record_ms": N, "prefetch": true | false | "sync" | "async"}. */
static int parse_working_set(const struct json *j, int obj, struct snapshot_load *l, struct err *e)
{
	int r;
	if ((r = json_expect_object(j, obj, "mvm_working_set", e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (json_key_is(j, k, "record_ms")) {
			uint64_t ms;
			if ((r = json_u64(j, v, "mvm_working_set.record_ms", 0, WSET_MAX_MS, &ms,
					  e)))
				return r;
			l->wset_record_ms = (uint32_t)ms;
		} else if (json_key_is(j, k, "prefetch") && j->t[v].type == JSMN_STRING) {
			char mode[8];
			if ((r = json_string_buf(j, v, "mvm_working_set.prefetch", mode,
						 sizeof(mode), e)))
				return r;
			if (strcmp(mode, "sync") && strcmp(mode, "async"))
				return err_inval(e,
						 "mvm_working_set.prefetch '%s' is unknown; use "
						 "true, false, \"sync\" or \"async\"",
						 mode);
			l->wset_prefetch =
			    !strcmp(mode, "sync") ? WSET_PREFETCH_SYNC : WSET_PREFETCH_ASYNC;
		} else if (json_key_is(j, k, "prefetch")) {
			bool on;
			if ((r = json_bool(j, v, "mvm_working_set.prefetch", &on, e)))
				return r;
			l->wset_prefetch = on ? WSET_PREFETCH_DEFAULT : WSET_PREFETCH_OFF;
		} else {
			return json_unknown_field(j, k, "mvm_working_set", e);
		}
	}
	return 0;
}

/* One member of the load body. */
static int load_member(const struct json *j, int k, int v, struct snapshot_load *l,
		       bool *have_backend, bool *have_file, struct err *e)
{
	bool flag = false;
	int r;
	if (json_key_is(j, k, "snapshot_path"))
		return take_string(j, v, "snapshot_path", &l->snapshot_path, e);
	if (json_key_is(j, k, "mem_backend")) {
		*have_backend = true;
		return parse_mem_backend(j, v, l, e);
	}
	if (json_key_is(j, k, "mem_file_path")) {
		*have_file = true;
		return take_string(j, v, "mem_file_path", &l->mem_path, e);
	}
	if (json_key_is(j, k, "resume_vm"))
		return json_bool(j, v, "resume_vm", &l->resume, e);
	if (json_key_is(j, k, "enable_diff_snapshots") || json_key_is(j, k, "track_dirty_pages")) {
		r = json_bool(j, v,
			      json_key_is(j, k, "track_dirty_pages") ? "track_dirty_pages"
								     : "enable_diff_snapshots",
			      &flag, e);
		l->track_dirty_pages |= flag;
		return r;
	}
	if (json_key_is(j, k, "clock_realtime"))
		return json_bool(j, v, "clock_realtime", &l->clock_realtime, e);
	if (json_key_is(j, k, "network_overrides"))
		return parse_override_list(j, v, &net_kind, l, e);
	if (json_key_is(j, k, "drive_overrides"))
		return parse_override_list(j, v, &drive_kind, l, e);
	if (json_key_is(j, k, "mvm_working_set"))
		return parse_working_set(j, v, l, e);
	if (json_key_is(j, k, "vsock_override"))
		return json_is_null(j, v) ? 0 : parse_override(j, v, &vsock_kind, l, e);
	return json_unknown_field(j, k, "a snapshot load request", e);
}

int api_parse_snapshot_load(const struct json *j, struct api_request *req, struct err *e)
{
	struct snapshot_load *l = &req->u.snap_load;
	bool have_backend = false, have_file = false;
	int r;
	for_each_member (j, 0, k, v)
		if ((r = load_member(j, k, v, l, &have_backend, &have_file, e)))
			return r;
	if (!l->snapshot_path)
		return json_missing_field(j, 0, "snapshot_path", e);
	if (!*l->snapshot_path)
		return err_inval(e, "'snapshot_path' is empty");
	if (!have_backend && !have_file)
		return err_inval(e, "missing field: either `mem_backend` or `mem_file_path` is "
				    "required");
	if (have_backend && have_file)
		return err_inval(e, "too many fields: either `mem_backend` or `mem_file_path` "
				    "exclusively is required");
	if (!l->mem_path || !*l->mem_path)
		return err_inval(e, "'mem_file_path' is empty");
	return 0;
}
