/*
 * The API as data: one table of routes (routes.c) of method, path, the VM
 * states each is allowed in, its body parser and what it does. The api thread
 * matches a request to its route and parses its body into a typed request;
 * the vmm thread checks the state rule (once, for every route) and answers.
 * Device endpoints are rows made from the device registry.
 */
#ifndef MVM_MONITOR_REQUEST_H
#define MVM_MONITOR_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "../api-socket/server.h"
#include "../snapshot/snapshot.h"
#include "../virtio/net/mmds/port.h"
#include "../vmm/config.h"

enum api_op {
	API_GET_INFO,
	API_GET_VERSION,
	API_GET_VM_CONFIG,
	API_GET_MACHINE,
	API_PUT_MACHINE,
	API_PATCH_MACHINE,
	API_PUT_BOOT,
	API_PUT_CPU_CONFIG,
	API_START,
	API_CTRL_ALT_DEL,
	API_FLUSH_METRICS,
	API_PAUSE,
	API_RESUME,
	API_PUT_LOGGER,
	API_PUT_METRICS,
	API_GET_METRICS,  /* mvm's: Prometheus text */
	API_PUT_AFFINITY, /* mvm's: CPU pinning */
	API_PUT_SERIAL,
	API_SNAPSHOT_CREATE,
	API_SNAPSHOT_LOAD,
	API_PUT_MMDS_CONFIG,
	API_PUT_MMDS,
	API_PATCH_MMDS,
	API_GET_MMDS,
	/* a device type's endpoints (route.type says which) */
	API_DEV_PUT,
	API_DEV_PATCH,
	API_DEV_GET,
	API_DEV_ROUTE, /* one of the type's own routes (route.dev_route) */
};

/* Which group of Firecracker's API metrics a route counts in. */
enum api_metric_group { API_METRIC_GET, API_METRIC_PUT, API_METRIC_PATCH };

struct api_request;
struct jt;
struct json;
struct err;

#define API_PATH_ID_MAX 256 /* longer path segments are not routed at all */

struct route {
	int method;	  /* http_parser's HTTP_GET, HTTP_PUT, HTTP_PATCH */
	const char *path; /* exact path, or the part before "/{id}" */
	bool with_id;	  /* path "/" ID */
	enum api_op op;
	unsigned states;    /* VM_ST_* it is allowed in */
	bool configures;    /* a success bars a later /snapshot/load */
	const char *metric; /* Firecracker's counter name ("drive"), or NULL */
	bool body;	    /* takes a JSON body */
	int (*parse)(const struct json *j, struct api_request *req, struct err *e);
	/* device routes */
	const struct device_type *type;
	const struct dev_route *dev_route;
	int counter; /* index into the API counters (metrics) */
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

struct api_request {
	const struct route *route;
	enum api_op op;		      /* the route's, or what the body chose (actions, /vm) */
	uint64_t received_us;	      /* monotonic time the request was complete */
	char id[API_PATH_ID_MAX + 1]; /* the path's {id} (checked: at most MVM_ID_MAX) */
	union {
		struct {
			struct machine_cfg cfg;
			unsigned present; /* MC_* bits */
		} machine;
		struct boot_cfg boot;
		struct cpu_tmpl *cpu_config;   /* PUT /cpu-config (owned until handled) */
		struct cpu_affinity *affinity; /* PUT /mvm/cpu-affinity (owned) */
		struct logger_req logger;
		char *path; /* metrics_path, serial_out_path */
		struct snapshot_create_req snap_create;
		struct snapshot_load snap_load;
		struct mmds_cfg mmds_cfg;
		struct jt *mmds_data; /* PUT and PATCH /mmds */
	} u;
	void *dev_body; /* a device config (PUT), patch (PATCH) or route body */
	/* Firecracker's warning when the body used a deprecated field: logged,
	 * and the response carries "Deprecation: true" (static string). */
	const char *deprecation;
};

/* Build the table once, before any thread runs: the fixed routes and the
 * registry's device routes, and the counters metrics writes. */
int api_routes_init(void);
const struct route *api_routes(unsigned *n);

/*
 * Route (method, path, body) to a typed request. On failure, fills *resp with
 * the 400 (or 404-like refusal) to send and returns -EINVAL.
 */
int api_route(int method, const char *path, const char *body, size_t body_len,
	      struct api_request *req, struct api_response *resp);
void api_request_fini(struct api_request *r);

/* routes_snapshot.c: the bodies of /snapshot/create and /snapshot/load. */
int api_parse_snapshot_create(const struct json *j, struct api_request *req, struct err *e);
int api_parse_snapshot_load(const struct json *j, struct api_request *req, struct err *e);

/* mmds_api.c: the bodies of PUT /mmds/config and PUT/PATCH /mmds. */
int api_parse_mmds_config(const struct json *j, struct api_request *req, struct err *e);
int api_parse_mmds_data(const struct json *j, struct api_request *req, struct err *e);

/* The API counters (per route group and name): count and failures. */
struct api_counter {
	enum api_metric_group group;
	const char *name;
	uint64_t count, fails;
	uint64_t prev_count, prev_fails; /* at the last metrics line */
};
struct api_counter *api_counters(unsigned *n);

#endif
