/*
 * A device type: everything mvm knows about one kind of device, behind one
 * const table. The types live in virtio/ (one file, or one folder for a big
 * one) and are listed in virtio/registry.c; the config file, the API routes,
 * the builder, GET /vm/config, metrics and snapshots iterate the registry and
 * never name a device. Adding a device = one new unit + one registry line
 * (the recipe is in DESIGN.md).
 *
 * The table is declared here, on the vmm floor, so that the VM and its config
 * can hold devices without knowing their kinds; the floors above fill it in.
 */
#ifndef MVM_DEVICE_H
#define MVM_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cmdline;
struct err;
struct evloop;
struct guest_mem;
struct json;
struct seccomp_rule;
struct strbuf;
struct virtio_dev_ops;
struct vm;
struct vm_config;
struct wire;

/* The VM states an API call may come in (bit mask). */
enum {
	VM_ST_NOT_STARTED = 1,
	VM_ST_RUNNING = 2,
	VM_ST_PAUSED = 4,
	VM_ST_STARTED = VM_ST_RUNNING | VM_ST_PAUSED,
	VM_ST_ANY = 7,
};

/* What a device is built from besides its config. */
struct dev_env {
	struct guest_mem *mem;
	uint32_t mem_size_mib;
	struct evloop *loop;
	struct vm *vm; /* for device memory (vm_map_devmem) */
};

/* One metric of a device type: counters only grow; gauges are a level. */
struct dev_metric {
	const char *name; /* Firecracker's name in its metrics JSON */
	const char *help; /* one line, for the Prometheus exposition */
	bool gauge;
};

/* An endpoint of a device's own under its path, e.g. GET /balloon/statistics. */
struct dev_route {
	int method;	    /* http_parser's HTTP_GET, HTTP_PUT, HTTP_PATCH */
	const char *suffix; /* "/statistics" */
	unsigned states;    /* VM_ST_* it is allowed in */
	const char *metric; /* the API counter it bumps ("balloon"), or NULL */
	size_t body_size;   /* 0: no body */
	int (*parse)(const struct json *j, int obj, void *body, struct err *e);
	/* dev is NULL before boot. 200 with what it writes to out, else 204. */
	int (*handle)(void *dev, void *cfg, void *body, struct strbuf *out, struct err *e);
};

struct device_type {
	const char *name;	/* "block": logs, metrics, snapshot sections */
	const char *noun;	/* "drive": one of them, in messages */
	const char *key;	/* config file and GET /vm/config: "drives" */
	const char *path;	/* API: "/drives" */
	const char *id_field;	/* "drive_id": many, PUT {path}/{id}; NULL: one, PUT {path} */
	unsigned max;		/* how many a VM may have */
	bool gettable;		/* GET {path} answers the config */
	const char *api_metric; /* its name in Firecracker's API request counters */

	/* --- configuration (before boot) ------------------------------------ */
	size_t cfg_size;
	/* One parser for API bodies and config-file sections; names the bad field. */
	int (*parse)(const struct json *j, int obj, void *cfg, struct err *e);
	/* The id of a config (many-device types). */
	const char *(*id)(const void *cfg);
	/* Whole-config rules (one root drive, a balloon smaller than RAM); at PUT
	 * and again at InstanceStart. Optional. */
	int (*check)(const void *cfg, const struct vm_config *vc, struct err *e);
	/* PUT-time probe of host resources (a tap that opens). Optional. */
	int (*probe)(const void *cfg, struct err *e);
	/* The config as GET /vm/config shows it: one JSON object. */
	void (*describe)(const void *cfg, struct strbuf *b);
	void (*cfg_fini)(void *cfg); /* optional: what parse allocated */
	/* Build order within the type: lower first (the root drive is /dev/vda). */
	int (*rank)(const void *cfg);
	/* The guest's root filesystem is on it (a VM has at most one). Optional. */
	bool (*is_root)(const void *cfg);

	/* --- the device ------------------------------------------------------ */
	const struct virtio_dev_ops *ops;
	void *(*create)(const void *cfg, const struct dev_env *env, struct err *e);
	void (*destroy)(void *dev);
	/* Words it adds to the kernel command line (root=...). Optional. */
	void (*boot_args)(const void *cfg, struct cmdline *cl);

	/* --- after boot: PATCH {path}[/{id}] --------------------------------- */
	size_t patch_size;
	int (*parse_patch)(const struct json *j, int obj, void *patch, struct err *e);
	/* The id an update names in its body (it must be the path's). */
	const char *(*patch_id)(const void *patch);
	/* Applies it to the device and to cfg (kept for GET /vm/config). */
	int (*patch)(void *dev, void *cfg, void *patch, struct err *e);
	void (*patch_fini)(void *patch);
	const struct dev_route *routes;
	unsigned nr_routes;

	/* --- metrics --------------------------------------------------------- */
	const char *metrics_key; /* "block": Firecracker's section name */
	const struct dev_metric *metrics;
	unsigned nr_metrics;
	/* Current values, in the order of metrics[]. */
	void (*stats)(void *dev, uint64_t *out);

	/* --- snapshots ------------------------------------------------------- */
	uint32_t snap_version;
	/* Before anything is saved (vsock resets its connections). Optional. */
	void (*snapshot_prepare)(void *dev);
	/* Its config, then (optional) its state; the transport's is saved apart. */
	void (*save_cfg)(const void *cfg, struct wire *w);
	void (*save_state)(void *dev, struct wire *w);
	/* The config part, every field checked; nothing built yet. */
	int (*load_cfg)(struct wire *r, uint32_t version, void *cfg, struct err *e);
	/* The state part, into the device built from that config. Optional. */
	int (*load_state)(void *dev, struct wire *r, struct err *e);
	/* A restore override of one field (network_overrides' host_dev_name,
	 * vsock_override's uds_path). Optional. */
	int (*override)(void *cfg, const char *field, const char *value, struct err *e);

	/* --- confinement ----------------------------------------------------- */
	/* System calls the vmm thread makes for it beyond the base policy. */
	const struct seccomp_rule *seccomp;
	unsigned nr_seccomp;
};

/* A configured device: its type and its config (malloc'd, type->cfg_size). */
struct dev_cfg {
	const struct device_type *type;
	void *cfg;
};

#endif
