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

struct drive_cfg {
	char drive_id[MVM_ID_MAX + 1];
	char *path_on_host;
	bool is_root_device;
	bool is_read_only;
	char *partuuid;
	enum cache_type cache_type;
	enum io_engine io_engine;
	bool direct_io; /* mvm extension: O_DIRECT */
};

struct vm_config {
	struct machine_cfg machine;
	struct boot_cfg boot;
	struct drive_cfg drives[MVM_MAX_DRIVES];
	int nr_drives;
	bool entropy;	       /* a virtio-rng device */
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
/* The entropy section ({} or with rate_limiter: null). */
int config_parse_entropy(const struct json *j, int obj, struct json_err *e);
/* A whole config file document. */
int config_parse_file(const char *text, size_t len, struct vm_config *c, struct json_err *e);
int config_load_file(const char *path, struct vm_config *c, struct json_err *e);

/* Add or replace a drive by id; rejects a second root device. */
int config_put_drive(struct vm_config *c, struct drive_cfg *d, struct json_err *e);
/* Checks that need the whole config (a kernel, at most one root, ids unique). */
int config_validate(const struct vm_config *c, struct json_err *e);

#endif
