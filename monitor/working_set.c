/*
 * Recording a restored guest's working set (snapshot/wset.h): a one-shot
 * timer armed when the VM first runs after the load; when it fires, the vmm
 * thread reads which RAM pages are mapped (/proc/self/pagemap, opened at the
 * load, before the vmm filter) and writes the list beside the snapshot. The
 * vmm filter already allows all of it: pread64, openat, pwrite64, fsync,
 * rename, timerfd_settime.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../lib/err.h"
#include "../lib/log.h"
#include "../lib/util.h"
#include "../snapshot/snapshot.h"
#include "../snapshot/wset.h"
#include "monitor.h"

struct wset_rec {
	int timer_fd, pagemap_fd;
	uint32_t ms;
	bool armed;
	uint8_t gen[16];
	uint64_t ram_len;
	char path[PATH_MAX];
};

void monitor_wset_stop(struct monitor *m)
{
	struct wset_rec *w = m->wrec;
	if (!w)
		return;
	if (w->timer_fd >= 0) {
		evloop_del(&m->loop, w->timer_fd);
		close(w->timer_fd);
	}
	if (w->pagemap_fd >= 0)
		close(w->pagemap_fd);
	free(w);
	m->wrec = NULL;
}

int monitor_wset_open(struct monitor *m, const struct snapshot_load *l, struct err *e)
{
	if (!l->wset_record_ms)
		return 0;
	struct wset_rec *w = calloc(1, sizeof(*w));
	if (!w)
		return err_set(e, -ENOMEM, "out of memory");
	w->timer_fd = w->pagemap_fd = -1;
	w->ms = l->wset_record_ms;
	m->wrec = w;
	if (wset_path(l->snapshot_path, w->path, sizeof(w->path))) {
		monitor_wset_stop(m);
		return err_inval(e,
				 "mvm_working_set: snapshot_path is too long for its list's name");
	}
	w->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (w->pagemap_fd < 0) {
		int r = neg_errno();
		monitor_wset_stop(m);
		return err_set(e, r,
			       "mvm_working_set.record_ms needs /proc/self/pagemap (%s): mount "
			       "proc where mvm runs, or record outside the jail; prefetching a "
			       "list needs nothing",
			       strerror(-r));
	}
	w->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (w->timer_fd < 0) {
		int r = neg_errno();
		monitor_wset_stop(m);
		return err_set(e, r, "timerfd_create: %s", strerror(-r));
	}
	return 0;
}

static void fired(void *opaque, uint32_t events)
{
	struct monitor *m = opaque;
	struct wset_rec *r = m->wrec;
	struct wset w = { 0 };
	struct err e = { 0 };
	uint64_t t0 = mono_us(), n;
	(void)events;

	if (read(r->timer_fd, &n, sizeof(n)) != sizeof(n))
		return;
	memcpy(w.gen, r->gen, sizeof(w.gen));
	w.ram_len = r->ram_len;
	w.record_ms = r->ms;
	int err = wset_from_pagemap(&m->vm.mem, r->pagemap_fd, &w);
	if (err)
		err_set(&e, err, "reading /proc/self/pagemap: %s", strerror(-err));
	else
		err = wset_save(r->path, &w, &e);
	if (err) {
		log_warn("working set: not recorded: %s", err_str(&e, err));
	} else {
		m->metrics.wset_recorded_pages = w.pages;
		log_info(
		    "working set: %llu pages (%llu KiB) in %u runs touched in the first %u ms, "
		    "written to %s in %llu us",
		    (unsigned long long)w.pages, (unsigned long long)(w.pages * 4), (unsigned)w.nr,
		    r->ms, r->path, (unsigned long long)(mono_us() - t0));
	}
	wset_fini(&w);
	monitor_wset_stop(m);
}

void monitor_wset_running(struct monitor *m)
{
	struct wset_rec *w = m->wrec;
	if (!w || w->armed)
		return;
	memcpy(w->gen, m->vm.snap_gen, sizeof(w->gen));
	w->ram_len = 0;
	for (int i = 0; i < m->vm.mem.nr; i++)
		w->ram_len = MAX(w->ram_len, m->vm.mem.r[i].file_off + m->vm.mem.r[i].size);
	struct itimerspec its = { .it_value = { .tv_sec = w->ms / 1000,
						.tv_nsec = (long)(w->ms % 1000) * 1000000 } };
	if (evloop_add(&m->loop, w->timer_fd, EPOLLIN, fired, m) ||
	    timerfd_settime(w->timer_fd, 0, &its, NULL) < 0) {
		log_warn("working set: cannot arm the recording timer: %s", strerror(errno));
		monitor_wset_stop(m);
		return;
	}
	w->armed = true;
	log_info("working set: recording the pages touched in the next %u ms", w->ms);
}
