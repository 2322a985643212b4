/* Recording a working set from this process's page tables, writing it, and prefetching it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../lib/err.h"
#include "../lib/util.h"
#include "publish.h"
#include "wset.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 */
#endif

#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)
#define PM_BATCH   4096 /* pagemap entries per read: 16 MiB of RAM */

int wset_save(const char *path, const struct wset *w, struct err *e)
{
	char tmp[PATH_MAX];
	cleanup_free uint8_t *buf = NULL;
	size_t len;
	int r;

	if ((r = snap_tmp_path(path, tmp, sizeof(tmp))))
		return err_set(e, r, "%s: path too long", path);
	if ((r = wset_encode(w, &buf, &len)))
		return err_set(e, r, "encoding the working set: %s", strerror(-r));
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return err_set(e, -errno, "%s: %s", tmp, strerror(errno));
	r = pwrite_full(fd, buf, len, 0);
	if (!r && fsync(fd) < 0)
		r = neg_errno();
	close(fd);
	if (!r && rename(tmp, path) < 0)
		r = neg_errno();
	if (r) {
		unlink(tmp);
		return err_set(e, r, "writing %s: %s", path, strerror(-r));
	}
	if ((r = snap_fsync_dir_of(path)))
		return err_set(e, r, "fsync of the directory of %s: %s", path, strerror(-r));
	return 0;
}

int wset_from_pagemap(const struct guest_mem *m, int pagemap_fd, struct wset *w)
{
	cleanup_free uint64_t *ent = malloc(PM_BATCH * sizeof(*ent));
	if (!ent)
		return -ENOMEM;
	for (int i = 0; i < m->nr; i++) {
		const struct guest_region *g = &m->r[i];
		uint64_t pages = g->size / WSET_PAGE, first = g->file_off / WSET_PAGE;
		uint64_t vpn = (uint64_t)(uintptr_t)g->hva / WSET_PAGE;
		for (uint64_t p = 0; p < pages; p += PM_BATCH) {
			uint64_t n = MIN(PM_BATCH, pages - p);
			int r =
			    read_full(pagemap_fd, ent, n * sizeof(*ent), (vpn + p) * sizeof(*ent));
			if (r)
				return r;
			for (uint64_t k = 0; k < n; k++)
				if ((ent[k] & (PM_PRESENT | PM_SWAPPED)) &&
				    (r = wset_add(w, first + p + k, 1)))
					return r;
		}
	}
	return 0;
}

/* The part of run [page, page + count) of the memory file inside region g, as host memory. */
static uint8_t *run_in(const struct guest_region *g, uint64_t page, uint64_t count, size_t *len)
{
	uint64_t lo = MAX(page * WSET_PAGE, g->file_off);
	uint64_t hi = MIN((page + count) * WSET_PAGE, g->file_off + g->size);
	if (lo >= hi)
		return NULL;
	*len = hi - lo;
	return g->hva + (lo - g->file_off);
}

uint64_t wset_populate(const struct guest_mem *m, const struct wset *w)
{
	uint64_t done = 0;
	bool touch = false; /* no MADV_POPULATE_READ here: read a byte of each page */

	/* Readahead of every run first, so that the file's I/O overlaps the mapping below. */
	for (uint32_t i = 0; i < w->nr; i++)
		for (int k = 0; k < m->nr; k++) {
			size_t len;
			uint8_t *p = run_in(&m->r[k], w->runs[i].page, w->runs[i].count, &len);
			if (p)
				madvise(p, len, MADV_WILLNEED);
		}
	for (uint32_t i = 0; i < w->nr; i++)
		for (int k = 0; k < m->nr; k++) {
			size_t len;
			uint8_t *p = run_in(&m->r[k], w->runs[i].page, w->runs[i].count, &len);
			if (!p)
				continue;
			if (!touch && madvise(p, len, MADV_POPULATE_READ) == 0) {
				done += len / WSET_PAGE;
				continue;
			}
			if (!touch && errno != EINVAL)
				continue; /* EFAULT, ENOMEM: the guest's fault will say */
			touch = true;
			for (size_t off = 0; off < len; off += WSET_PAGE)
				(void)*(volatile uint8_t *)(p + off);
			done += len / WSET_PAGE;
		}
	return done;
}
