/*
 * The VM's configuration: the machine and the boot source as typed structs,
 * the devices as a list of (type, config) pairs (vmm/device.h); filled from
 * the config file (Firecracker's format) or API requests, validated, built.
 */
#ifndef MVM_CONFIG_H
#define MVM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "../lib/json.h"
#include "affinity.h"
#include "device.h"
#include "x86/cpu_tmpl.h"
#include "x86/cpuid.h"

#define MVM_ID_MAX	      64
#define MVM_MAX_MEM_MIB	      (1024u * 1024u) /* 1 TiB */
#define MVM_DEFAULT_VCPUS     1
#define MVM_DEFAULT_MEM_MIB   128
#define MVM_DEFAULT_BOOT_ARGS "console=ttyS0 reboot=k panic=1 pci=off"

/* 2M: guest RAM in hugetlbfs 2 MiB pages (Firecracker's meaning); Transparent
 * (mvm's): anonymous RAM with transparent huge pages advised. */
enum huge_pages { HUGE_PAGES_NONE, HUGE_PAGES_2M, HUGE_PAGES_THP };
/* machine-config's mvm_acpi: absent = auto (ACPI tables and VMGenID for a
 * Linux kernel, the MP table for anything else), true, false. */
enum acpi_mode { ACPI_AUTO, ACPI_ON, ACPI_OFF };
/* machine-config's mvm_pit: absent = auto (the i8254 PIT only for a guest
 * without ACPI: hardware-reduced ACPI guests never program it), true, false. */
enum pit_mode { PIT_AUTO, PIT_ON, PIT_OFF };

struct machine_cfg {
	uint32_t vcpu_count;
	uint32_t mem_size_mib;
	bool smt;
	bool track_dirty_pages;
	enum cpu_template cpu_template;
	enum huge_pages huge_pages;
	enum acpi_mode acpi;
	enum pit_mode pit;
};

struct boot_cfg {
	char *kernel_image_path;
	char *boot_args; /* NULL: MVM_DEFAULT_BOOT_ARGS */
	char *initrd_path;
};

/* Every device a VM may have: one per virtio-mmio slot. */
#define MVM_MAX_DEVICES 18

struct vm_config {
	struct machine_cfg machine;
	struct boot_cfg boot;
	/* PUT /cpu-config's custom CPU template (NULL: none). The last of it and a
	 * static machine.cpu_template is the one applied, as in Firecracker. */
	struct cpu_tmpl *cpu_config;
	/* Devices in the order they were configured (vmm/device.h). */
	struct dev_cfg devs[MVM_MAX_DEVICES];
	int nr_devs;
	char *serial_out_path; /* NULL: stdout */
	/* logger and metrics sections of the config file, applied by main */
	char *log_path;
	char *log_level;
	bool log_show_level, log_show_origin;
	char *metrics_path;
	/* mvm-cpu-affinity: host CPUs of the vCPU threads and of the others */
	struct cpu_affinity affinity;
};

void vm_config_init(struct vm_config *c);
void vm_config_fini(struct vm_config *c);
void boot_cfg_fini(struct boot_cfg *b);

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
	MC_ACPI = 1 << 6,
	MC_PIT = 1 << 7,
};

/* Parsers shared by the config file and the API; each names the bad field. */
int config_parse_machine_fields(const struct json *j, int obj, struct machine_cfg *out,
				unsigned *present, struct err *e);
void config_machine_apply(struct machine_cfg *dst, const struct machine_cfg *src, unsigned present);
/* Rules on the whole machine (after a PATCH merges): smt needs 1 or an even vcpu_count. */
int config_machine_check(const struct machine_cfg *m, struct err *e);
int config_parse_machine(const struct json *j, int obj, struct machine_cfg *out, bool partial,
			 struct err *e);
int config_parse_boot(const struct json *j, int obj, struct boot_cfg *out, struct err *e);

/*
 * Add a device's config (malloc'd, type->cfg_size; taken in every case), or
 * replace the one with its id (the one of a single-device type): the type's
 * check runs against the rest of the config, and its probe too if asked.
 */
int config_put_device(struct vm_config *c, const struct device_type *t, void *cfg, bool probe,
		      struct err *e);
/* The config of type t with this id (NULL id: the first of t), or NULL. */
struct dev_cfg *config_find_device(const struct vm_config *c, const struct device_type *t,
				   const char *id);
int config_count_devices(const struct vm_config *c, const struct device_type *t);
/* Free one device config (the type's fini, then the memory). */
void config_free_device_cfg(const struct device_type *t, void *cfg);
/* Checks that need the whole config (a kernel, every device's own rules). */
int config_validate(const struct vm_config *c, struct err *e);

#endif
