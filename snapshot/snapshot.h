/* Taking a snapshot of a paused VM, and building a VM from one. */
#ifndef MVM_SNAPSHOT_H
#define MVM_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../vmm/config.h"

struct vm;
struct evloop;
struct err;

struct snap_create_stats {
	uint64_t state_us, mem_us, total_us;
	uint64_t state_bytes, mem_bytes, dirty_pages;
};

/* The VM must be paused. diff: only pages written since the last snapshot. */
int snapshot_create(struct vm *vm, const char *state_path, const char *mem_path, bool diff,
		    struct snap_create_stats *st, struct err *e);

/* A restore changing one field of one saved device: network_overrides'
 * host_dev_name, vsock_override's uds_path, a drive's path_on_host. */
struct snap_override {
	const char *what;  /* the request field, for messages: "network_overrides" */
	const char *type;  /* the device type's name: "net" */
	char id[65];	   /* which device ("" for a single-device type) */
	const char *field; /* "host_dev_name" */
	char *value;
};

/* The working set's prefetch on a load (wset.h): AUTO is what a client that
 * says nothing gets (Firecracker's): the list's pages when one is there. */
enum wset_prefetch {
	WSET_PREFETCH_AUTO,
	WSET_PREFETCH_OFF,
	WSET_PREFETCH_SYNC,
	WSET_PREFETCH_ASYNC
};
#define WSET_PREFETCH_DEFAULT WSET_PREFETCH_SYNC

struct snapshot_load {
	char *snapshot_path;
	char *mem_path; /* the memory file (File backend) or the handler's socket (Uffd) */
	bool uffd;
	bool resume;
	bool track_dirty_pages;
	bool clock_realtime;
	struct snap_override overrides[MVM_MAX_DEVICES];
	int nr_overrides;
	/* mvm_working_set: record the pages touched in the first record_ms ms
	 * after the resume (0: do not); prefetch a recorded list. */
	uint32_t wset_record_ms;
	enum wset_prefetch wset_prefetch;
};

void snapshot_load_fini(struct snapshot_load *l);

struct snap_restore_stats {
	uint64_t read_us, build_us, state_us, total_us;
	/* The working set's prefetch: pages and time (async: the helper thread reports). */
	uint64_t prefetch_pages, prefetch_us;
	enum wset_prefetch prefetch; /* what was done: OFF when nothing */
};

/* Builds a VM shaped like cfg on the memory file mem_fd (owned): the
 * monitor's builder, handed in so that snapshot/ sits below it. */
typedef int (*snap_build_fn)(struct vm *vm, struct vm_config *cfg, struct evloop *loop, int mem_fd,
			     uint64_t start_us, struct err *e);

/*
 * Fill cfg from the snapshot (with the request's overrides), build vm from
 * it, every vCPU, VM and device state restored; the vCPUs are not started.
 * Everything in the state file is validated before anything is built.
 */
int snapshot_restore(struct vm *vm, struct vm_config *cfg, struct evloop *loop,
		     const struct snapshot_load *req, snap_build_fn build,
		     struct snap_restore_stats *st, struct err *e);

#endif
