/* The working set on a load: prefetch (wset_prefetch.c). */
#ifndef MVM_SNAPSHOT_WSET_PREFETCH_H
#define MVM_SNAPSHOT_WSET_PREFETCH_H

struct vm;
struct snapshot_load;
struct snap_binding;
struct snap_restore_stats;

/*
 * After the VM is built on the memory file and before its vCPUs start: bring
 * in the list beside req's snapshot if the request and the backend allow. A
 * missing list is silent (unless asked for), a bad one a warning: the restore
 * goes on either way. st gets what was done.
 */
void wset_prefetch_restore(struct vm *vm, const struct snapshot_load *req,
			   const struct snap_binding *bind, struct snap_restore_stats *st);

#endif
