/* Taking a snapshot of a paused VM, and building a VM from one. */
#ifndef MVM_SNAPSHOT_H
#define MVM_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../vmm/config.h"

struct vm;
struct evloop;

struct snap_create_stats {
	uint64_t state_us, mem_us, total_us;
	uint64_t state_bytes, mem_bytes, dirty_pages;
};

/* The VM must be paused. diff: only pages written since the last snapshot. */
int snapshot_create(struct vm *vm, const char *state_path, const char *mem_path, bool diff,
		    struct snap_create_stats *st, char *err, size_t errlen);

struct drive_override {
	char drive_id[MVM_ID_MAX + 1];
	char *path_on_host;
};

struct snapshot_load {
	char *snapshot_path;
	char *mem_path; /* the memory file (File backend) or the handler's socket (Uffd) */
	bool uffd;
	bool resume;
	bool track_dirty_pages;
	bool clock_realtime;
	struct drive_override overrides[MVM_MAX_DRIVES];
	int nr_overrides;
	/* network_overrides: another tap for an interface (a clone's own) */
	struct net_override {
		char iface_id[MVM_ID_MAX + 1];
		char host_dev_name[MVM_IFNAME_MAX + 1];
	} net_overrides[MVM_MAX_NETS];
	int nr_net_overrides;
	char *vsock_uds_override; /* vsock_override.uds_path */
};

void snapshot_load_fini(struct snapshot_load *l);

struct snap_restore_stats {
	uint64_t read_us, build_us, state_us, total_us;
};

/*
 * Fill cfg from the snapshot (with drive overrides) and build vm from it,
 * every vCPU, VM and device state restored; the vCPUs are not started.
 * Everything in the state file is validated before anything is built.
 */
int snapshot_restore(struct vm *vm, struct vm_config *cfg, struct evloop *loop,
		     const struct snapshot_load *req, struct snap_restore_stats *st, char *err,
		     size_t errlen);

#endif
