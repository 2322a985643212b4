/* The device endpoints: /network-interfaces/{id}, /vsock, /balloon, /balloon/statistics. */
#include <errno.h>
#include <http_parser.h>
#include <stdlib.h>
#include <string.h>

#include "../vmm/json.h"
#include "request.h"

/* "/network-interfaces/ID" -> ID; false when the path has another shape. */
static bool net_path_id(const char *path, char *id, size_t size)
{
	static const char prefix[] = "/network-interfaces/";
	size_t n = sizeof(prefix) - 1;
	if (strncmp(path, prefix, n))
		return false;
	const char *p = path + n;
	if (!*p || strchr(p, '/') || strlen(p) >= size)
		return false;
	strcpy(id, p);
	return true;
}

static int refuse(struct api_response *resp, const struct json_err *e)
{
	api_response_error(resp, "%s", e->msg);
	return -EINVAL;
}

static int id_mismatch(struct api_response *resp, const char *what, const char *in_path,
		       const char *in_body)
{
	api_response_error(resp, "the %s in the path (%s) differs from the one in the body (%s)",
			   what, in_path, in_body);
	return -EINVAL;
}

int api_route_device(int method, const char *path, const struct json *j, struct api_request *req,
		     struct api_response *resp)
{
	char id[MVM_ID_MAX + 2];
	struct json_err e;

	if (method == HTTP_PUT && net_path_id(path, id, sizeof(id))) {
		req->op = API_PUT_NET;
		if (config_parse_net(j, 0, &req->u.net, &e))
			return refuse(resp, &e);
		if (strcmp(req->u.net.iface_id, id))
			return id_mismatch(resp, "iface_id", id, req->u.net.iface_id);
		return 0;
	}
	if (method == HTTP_PATCH && net_path_id(path, id, sizeof(id))) {
		struct net_patch *p = &req->u.net_patch;
		req->op = API_PATCH_NET;
		if (config_parse_net_patch(j, 0, p->iface_id, &p->rx, &p->rx_which, &p->tx,
					   &p->tx_which, &e))
			return refuse(resp, &e);
		if (strcmp(p->iface_id, id))
			return id_mismatch(resp, "iface_id", id, p->iface_id);
		return 0;
	}
	if (method == HTTP_PUT && !strcmp(path, "/vsock")) {
		req->op = API_PUT_VSOCK;
		return config_parse_vsock(j, 0, &req->u.vsock, &e) ? refuse(resp, &e) : 0;
	}
	if (method == HTTP_PUT && !strcmp(path, "/balloon")) {
		req->op = API_PUT_BALLOON;
		return config_parse_balloon(j, 0, &req->u.balloon, &e) ? refuse(resp, &e) : 0;
	}
	if (method == HTTP_PATCH && !strcmp(path, "/balloon")) {
		req->op = API_PATCH_BALLOON;
		return config_parse_balloon_patch(j, 0, false, &req->u.value, &e) ? refuse(resp, &e)
										  : 0;
	}
	if (method == HTTP_PATCH && !strcmp(path, "/balloon/statistics")) {
		req->op = API_PATCH_BALLOON_STATS;
		return config_parse_balloon_patch(j, 0, true, &req->u.value, &e) ? refuse(resp, &e)
										 : 0;
	}
	return 1;
}

int api_route_device_get(const char *path, struct api_request *req)
{
	if (!strcmp(path, "/balloon"))
		req->op = API_GET_BALLOON;
	else if (!strcmp(path, "/balloon/statistics"))
		req->op = API_GET_BALLOON_STATS;
	else
		return 1;
	return 0;
}

int api_route_net_overrides(const struct json *j, int arr, struct snapshot_load *l,
			    struct api_response *resp)
{
	struct json_err e;
	if (j->t[arr].type != JSMN_ARRAY) {
		api_response_error(resp, "'network_overrides' must be an array");
		return -EINVAL;
	}
	for (int i = 0, o = arr + 1; i < j->t[arr].size; i++, o = json_next(j, o)) {
		if (l->nr_net_overrides == MVM_MAX_NETS) {
			api_response_error(resp, "too many network overrides (at most %d)",
					   MVM_MAX_NETS);
			return -EINVAL;
		}
		struct net_override *n = &l->net_overrides[l->nr_net_overrides++];
		if (json_expect_object(j, o, "a network override", &e))
			return refuse(resp, &e);
		for_each_member (j, o, k, v) {
			int r;
			if (json_key_is(j, k, "iface_id"))
				r = json_string_buf(j, v, "iface_id", n->iface_id,
						    sizeof(n->iface_id), &e);
			else if (json_key_is(j, k, "host_dev_name"))
				r = json_string_buf(j, v, "host_dev_name", n->host_dev_name,
						    sizeof(n->host_dev_name), &e);
			else
				return api_unknown_field(j, k, "a network override", resp);
			if (r)
				return refuse(resp, &e);
		}
		if (!n->iface_id[0] || !n->host_dev_name[0]) {
			api_response_error(
			    resp, "a network override needs 'iface_id' and 'host_dev_name'");
			return -EINVAL;
		}
	}
	return 0;
}

int api_route_vsock_override(const struct json *j, int obj, struct snapshot_load *l,
			     struct api_response *resp)
{
	struct json_err e;
	if (json_is_null(j, obj))
		return 0;
	if (json_expect_object(j, obj, "vsock_override", &e))
		return refuse(resp, &e);
	for_each_member (j, obj, k, v) {
		if (!json_key_is(j, k, "uds_path"))
			return api_unknown_field(j, k, "vsock_override", resp);
		free(l->vsock_uds_override);
		l->vsock_uds_override = NULL;
		if (json_string(j, v, "uds_path", &l->vsock_uds_override, &e))
			return refuse(resp, &e);
	}
	if (!l->vsock_uds_override || !*l->vsock_uds_override ||
	    strlen(l->vsock_uds_override) > MVM_UDS_PATH_MAX) {
		api_response_error(resp, "vsock_override needs 'uds_path' (1 to %d bytes)",
				   MVM_UDS_PATH_MAX);
		return -EINVAL;
	}
	return 0;
}
