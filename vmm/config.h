/*
 * The VM's configuration as typed structs: filled from the config file
 * (Firecracker's format) or API requests, validated, then built.
 */
#ifndef MVM_CONFIG_H
#define MVM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "json.h"
#include "x86/cpuid.h"

#define MVM_MAX_DRIVES	      16
#define MVM_MAX_NETS	      8
#define MVM_ID_MAX	      64
#define MVM_MAX_MEM_MIB	      (1024u * 1024u) /* 1 TiB */
#define MVM_DEFAULT_VCPUS     1
#define MVM_DEFAULT_MEM_MIB   128
#define MVM_DEFAULT_BOOT_ARGS "console=ttyS0 reboot=k panic=1 pci=off"

enum cache_type { CACHE_UNSAFE, CACHE_WRITEBACK };
enum io_engine { IO_ENGINE_SYNC, IO_ENGINE_ASYNC };
enum huge_pages { HUGE_PAGES_NONE, HUGE_PAGES_2M };

struct machine_cfg {
	uint32_t vcpu_count;
	uint32_t mem_size_mib;
	bool smt;
	bool track_dirty_pages;
	enum cpu_template cpu_template;
	enum huge_pages huge_pages;
};

struct boot_cfg {
	char *kernel_image_path;
	char *boot_args; /* NULL: MVM_DEFAULT_BOOT_ARGS */
	char *initrd_path;
};

/* A token bucket: size 0 means none. */
struct bucket_cfg {
	uint64_t size;
	uint64_t one_time_burst;
	uint64_t refill_time_ms;
};

struct rate_limiter_cfg {
	struct bucket_cfg bandwidth; /* bytes */
	struct bucket_cfg ops;	     /* requests */
};

/* Which buckets a rate_limiter object carried (null counts: it removes one). */
enum { RL_BANDWIDTH = 1, RL_OPS = 2 };

#define MVM_RL_MAX_SIZE	  (1ULL << 53)		/* exact in JSON's doubles too */
#define MVM_RL_MAX_REFILL (24ULL * 3600 * 1000) /* a day, in ms */

struct drive_cfg {
	char drive_id[MVM_ID_MAX + 1];
	char *path_on_host;
	bool is_root_device;
	bool is_read_only;
	char *partuuid;
	enum cache_type cache_type;
	enum io_engine io_engine;
	bool direct_io; /* mvm extension: O_DIRECT */
	struct rate_limiter_cfg rate_limiter;
};

#define MVM_IFNAME_MAX 15 /* IFNAMSIZ - 1 */

struct net_cfg {
	char iface_id[MVM_ID_MAX + 1];
	char host_dev_name[MVM_IFNAME_MAX + 1];
	bool has_mac;
	uint8_t guest_mac[6];
	struct rate_limiter_cfg rx_rate_limiter, tx_rate_limiter;
};

/* sun_path holds 107 bytes; mvm appends "_<port>" (up to 11) for guest-initiated connections. */
#define MVM_UDS_PATH_MAX  (107 - 11)
#define MVM_VSOCK_CID_MIN 3

struct vsock_cfg {
	bool present;
	uint32_t guest_cid;
	char *uds_path;
};

#define MVM_BALLOON_MAX_STATS_S (24u * 3600) /* a day */

struct balloon_cfg {
	bool present;
	uint32_t amount_mib;
	bool deflate_on_oom;
	uint32_t stats_polling_interval_s; /* 0: no statistics queue */
};

struct vm_config {
	struct machine_cfg machine;
	struct boot_cfg boot;
	struct drive_cfg drives[MVM_MAX_DRIVES];
	int nr_drives;
	bool entropy; /* a virtio-rng device */
	struct rate_limiter_cfg entropy_rl;
	struct net_cfg nets[MVM_MAX_NETS];
	int nr_nets;
	struct vsock_cfg vsock;
	struct balloon_cfg balloon;
	char *serial_out_path; /* NULL: stdout */
	/* logger and metrics sections of the config file, applied by main */
	char *log_path;
	char *log_level;
	bool log_show_level, log_show_origin;
	char *metrics_path;
};

void vm_config_init(struct vm_config *c);
void vm_config_fini(struct vm_config *c);
void drive_cfg_fini(struct drive_cfg *d);

/* Device ids: 1..64 of [A-Za-z0-9_]. */
bool config_id_valid(const char *id);
/* Instance ids (--id): 1..64 of [A-Za-z0-9_-]. */
bool config_id_valid_instance(const char *id);

/* Which machine-config fields a request carried (PATCH applies only those). */
enum {
	MC_VCPUS = 1 << 0,
	MC_MEM = 1 << 1,
	MC_SMT = 1 << 2,
	MC_TRACK_DIRTY = 1 << 3,
	MC_TEMPLATE = 1 << 4,
	MC_HUGE_PAGES = 1 << 5,
};

/* Parsers shared by the config file and the API; each names the bad field. */
int config_parse_machine_fields(const struct json *j, int obj, struct machine_cfg *out,
				unsigned *present, struct json_err *e);
void config_machine_apply(struct machine_cfg *dst, const struct machine_cfg *src, unsigned present);
int config_parse_machine(const struct json *j, int obj, struct machine_cfg *out, bool partial,
			 struct json_err *e);
int config_parse_boot(const struct json *j, int obj, struct boot_cfg *out, struct json_err *e);
int config_parse_drive(const struct json *j, int obj, struct drive_cfg *out, struct json_err *e);
/* The entropy section: {} or {"rate_limiter": ...}. */
int config_parse_entropy(const struct json *j, int obj, struct rate_limiter_cfg *rl,
			 struct json_err *e);

/* config_dev.c: the device sections, shared by the config file and the API. */
/* A rate limiter object named `field`; *which says which buckets it carried. */
int config_parse_rate_limiter(const struct json *j, int obj, const char *field,
			      struct rate_limiter_cfg *out, unsigned *which, struct json_err *e);
/* "aa:bb:cc:dd:ee:ff", unicast. */
int config_parse_mac(const char *s, uint8_t mac[6]);
int config_parse_net(const struct json *j, int obj, struct net_cfg *out, struct json_err *e);
/* PATCH /network-interfaces/{id}: iface_id and the two limiters. */
int config_parse_net_patch(const struct json *j, int obj, char *iface_id,
			   struct rate_limiter_cfg *rx, unsigned *rx_which,
			   struct rate_limiter_cfg *tx, unsigned *tx_which, struct json_err *e);
int config_put_net(struct vm_config *c, const struct net_cfg *n, struct json_err *e);
int config_parse_vsock(const struct json *j, int obj, struct vsock_cfg *out, struct json_err *e);
void vsock_cfg_fini(struct vsock_cfg *v);
int config_parse_balloon(const struct json *j, int obj, struct balloon_cfg *out,
			 struct json_err *e);
/* PATCH /balloon ({amount_mib}) and PATCH /balloon/statistics ({stats_polling_interval_s}). */
int config_parse_balloon_patch(const struct json *j, int obj, bool stats, uint32_t *value,
			       struct json_err *e);
/* The network-interfaces array of a config file. */
int config_parse_nets(const struct json *j, int arr, struct vm_config *c, struct json_err *e);
/* virtio-mmio devices the config asks for. */
int config_nr_devices(const struct vm_config *c);
/* A whole config file document. */
int config_parse_file(const char *text, size_t len, struct vm_config *c, struct json_err *e);
int config_load_file(const char *path, struct vm_config *c, struct json_err *e);

/* Add or replace a drive by id; rejects a second root device. */
int config_put_drive(struct vm_config *c, struct drive_cfg *d, struct json_err *e);
/* Checks that need the whole config (a kernel, at most one root, ids unique). */
int config_validate(const struct vm_config *c, struct json_err *e);

#endif
