/*
 * Typed API requests and responses: what the api thread hands the vmm thread.
 * Bodies are parsed (with the config parsers) on the api thread; whether a
 * request is allowed in the VM's current state is decided on the vmm thread.
 */
#ifndef MVM_API_REQUEST_H
#define MVM_API_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "../snapshot/snapshot.h"
#include "../vmm/config.h"

enum api_op {
	API_GET_INFO,
	API_GET_VERSION,
	API_GET_VM_CONFIG,
	API_GET_MACHINE,
	API_PUT_MACHINE,
	API_PATCH_MACHINE,
	API_PUT_BOOT,
	API_PUT_DRIVE,
	API_PATCH_DRIVE,
	API_START,
	API_CTRL_ALT_DEL,
	API_FLUSH_METRICS,
	API_PAUSE,
	API_RESUME,
	API_PUT_LOGGER,
	API_PUT_METRICS,
	API_PUT_SERIAL,
	API_SNAPSHOT_CREATE,
	API_SNAPSHOT_LOAD,
	API_PUT_ENTROPY,
	API_PUT_NET,
	API_PATCH_NET,
	API_PUT_VSOCK,
	API_PUT_BALLOON,
	API_PATCH_BALLOON,
	API_PATCH_BALLOON_STATS,
	API_GET_BALLOON,
	API_GET_BALLOON_STATS,
};

struct snapshot_create_req {
	char *snapshot_path;
	char *mem_file_path;
	bool diff;
};

struct logger_req {
	char *log_path;
	char *level;
	bool show_level, show_log_origin;
	bool has_show_level, has_show_origin;
};

struct drive_patch {
	char drive_id[MVM_ID_MAX + 1];
	char *path_on_host; /* NULL: unchanged */
	struct rate_limiter_cfg rate_limiter;
	unsigned rl_which; /* RL_* buckets given; 0: no rate_limiter field */
};

struct net_patch {
	char iface_id[MVM_ID_MAX + 1];
	struct rate_limiter_cfg rx, tx;
	unsigned rx_which, tx_which;
};

struct api_request {
	enum api_op op;
	uint64_t received_us; /* monotonic time the request was complete */
	union {
		struct {
			struct machine_cfg cfg;
			unsigned present; /* MC_* bits */
		} machine;
		struct boot_cfg boot;
		struct drive_cfg drive;
		struct drive_patch drive_patch;
		struct logger_req logger;
		char *path; /* metrics_path, serial_out_path */
		struct snapshot_create_req snap_create;
		struct snapshot_load snap_load;
		struct rate_limiter_cfg rl; /* PUT /entropy */
		struct net_cfg net;
		struct net_patch net_patch;
		struct vsock_cfg vsock;
		struct balloon_cfg balloon;
		uint32_t value; /* PATCH /balloon, /balloon/statistics */
	} u;
};

struct api_response {
	int status; /* 200, 204 or 400 */
	char *body; /* JSON, malloc'd; NULL for 204 */
};

void api_request_fini(struct api_request *r);
/* 400 naming an unknown field of `what`; returns -EINVAL. */
struct json;
int api_unknown_field(const struct json *j, int k, const char *what, struct api_response *resp);
/* 400 with {"fault_message": msg}. */
void api_response_error(struct api_response *resp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void api_response_fini(struct api_response *resp);

/*
 * Route (method, path, body) to a typed request. On failure, fills *resp with
 * the 400 to send and returns -EINVAL.
 */
int api_route(int method, const char *path, const char *body, size_t body_len,
	      struct api_request *req, struct api_response *resp);

/* routes_dev.c: the device endpoints with a body (network interfaces, vsock, balloon).
 * 0: routed; 1: not one of them; -EINVAL: refused, *resp says why. */
int api_route_device(int method, const char *path, const struct json *j, struct api_request *req,
		     struct api_response *resp);
/* GET /balloon, /balloon/statistics: 0 routed, 1 not one of them. */
int api_route_device_get(const char *path, struct api_request *req);
/* /snapshot/load's network_overrides and vsock_override. */
int api_route_net_overrides(const struct json *j, int arr, struct snapshot_load *l,
			    struct api_response *resp);
int api_route_vsock_override(const struct json *j, int obj, struct snapshot_load *l,
			     struct api_response *resp);

#endif
