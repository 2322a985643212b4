/* The device endpoints: /network-interfaces/{id}, /vsock, /balloon, /balloon/statistics. */
#include <errno.h>
#include <http_parser.h>
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
