/*
 * A load's prefetch of the recorded working set (wset.h). File backend: the
 * list's pages are read ahead and mapped (never copied) into the private
 * mapping, before the vCPUs start (sync) or beside them in a helper thread
 * (async). Uffd backend: the memory is the page-fault handler's to fill;
 * mvm-uffd-handler takes the list as its third argument.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/err.h"
#include "../lib/log.h"
#include "../lib/util.h"
#include "../vmm/seccomp.h"
#include "../vmm/vm.h"
#include "binding.h"
#include "snapshot.h"
#include "wset.h"
#include "wset_prefetch.h"

/* One allocation that the vmm thread frees after the join (vm->helper_arg): a
 * free() here, in a new thread, would set up its malloc arena (mmap) under a
 * filter that forbids it. */
struct job {
	struct vm *vm;
	struct wset w;
	struct wset_run runs[];
};

static void *prefetch_thread(void *arg)
{
	struct job *j = arg;
	log_set_thread("prefetch");
	/* Its own filter: it reads a validated list and calls madvise, nothing else. */
	if (seccomp_install(SECCOMP_PREFETCH)) {
		log_err("working set: the prefetch thread's seccomp filter failed: no prefetch");
	} else {
		seccomp_maybe_selftest(SECCOMP_PREFETCH);
		uint64_t t0 = mono_us();
		uint64_t n = wset_populate(&j->vm->mem, &j->w);
		atomic_store(&j->vm->prefetch_us, mono_us() - t0);
		atomic_store(&j->vm->prefetch_pages, n);
		log_info("working set: %llu pages prefetched in %llu us beside the vCPUs",
			 (unsigned long long)n, (unsigned long long)(mono_us() - t0));
	}
	return NULL;
}

void wset_prefetch_restore(struct vm *vm, const struct snapshot_load *req,
			   const struct snap_binding *bind, struct snap_restore_stats *st)
{
	char path[PATH_MAX];
	struct wset w;
	struct err e = { 0 };

	st->prefetch = WSET_PREFETCH_OFF;
	if (req->wset_prefetch == WSET_PREFETCH_OFF || req->uffd)
		return;
	/* A recording restore starts from nothing: a prefetch would only record itself. */
	if (req->wset_record_ms) {
		if (req->wset_prefetch != WSET_PREFETCH_AUTO)
			log_warn("working set: no prefetch while recording (it would record "
				 "its own pages)");
		return;
	}
	if (wset_path(req->snapshot_path, path, sizeof(path)))
		return;
	int r = wset_load(path, bind->gen, bind->ram_len, &w, &e);
	if (r == -ENOENT) {
		if (req->wset_prefetch != WSET_PREFETCH_AUTO)
			log_warn("working set: no list at %s: record one first (mvm_working_set "
				 "{\"record_ms\": N})",
				 path);
		return;
	}
	if (r) {
		log_warn("working set: ignored, restoring without prefetch: %s", err_str(&e, r));
		return;
	}
	enum wset_prefetch mode =
	    req->wset_prefetch == WSET_PREFETCH_AUTO ? WSET_PREFETCH_DEFAULT : req->wset_prefetch;
	if (mode == WSET_PREFETCH_ASYNC) {
		struct job *j = malloc(sizeof(*j) + w.nr * sizeof(w.runs[0]));
		if (j) {
			j->vm = vm;
			j->w = w;
			memcpy(j->runs, w.runs, w.nr * sizeof(w.runs[0]));
			j->w.runs = j->runs;
			if (!pthread_create(&vm->helper, NULL, prefetch_thread, j)) {
				vm->helper_on = true;
				vm->helper_arg = j;
				st->prefetch = WSET_PREFETCH_ASYNC;
				wset_fini(&w);
				return;
			}
			free(j);
		}
		log_warn("working set: no helper thread: prefetching before the vCPUs start");
	}
	uint64_t t0 = mono_us();
	st->prefetch_pages = wset_populate(&vm->mem, &w);
	st->prefetch_us = mono_us() - t0;
	st->prefetch = WSET_PREFETCH_SYNC;
	atomic_store(&vm->prefetch_pages, st->prefetch_pages);
	atomic_store(&vm->prefetch_us, st->prefetch_us);
	log_info("working set: %llu of %llu listed pages prefetched in %llu us (%s)",
		 (unsigned long long)st->prefetch_pages, (unsigned long long)w.pages,
		 (unsigned long long)st->prefetch_us, path);
	wset_fini(&w);
}
