/*
 * A restored guest's working set: which pages of the memory file it touched
 * in its first N ms after a restore, kept beside the snapshot so that the
 * next restore can bring them in before the guest asks (the REAP idea).
 *
 * The file (<snapshot_path>.wset) is little-endian, a 64-byte header then
 * nr_runs runs of 16 bytes:
 *
 *   0   magic "MVMWSET\0"         8 bytes
 *   8   version                   u32 (WSET_VERSION)
 *   12  page size                 u32 (4096)
 *   16  RAM bytes                 u64: the memory file's RAM (binding.h)
 *   24  generation                16 bytes: the snapshot's (binding.h), so a
 *                                 list never outlives the memory it describes
 *   40  number of runs            u32
 *   44  recording window          u32, ms
 *   48  pages                     u64: the runs' pages added up
 *   56  CRC-64/XZ                 u64: of bytes 0..55, then of every run
 *   64  runs: {first page u64, page count u64}, by offset in the memory
 *       file, in increasing order, disjoint and not touching, inside RAM
 *
 * It is written to <path>.tmp, fsynced, renamed into place, the directory
 * fsynced; the snapshot's own files are never touched.
 */
#ifndef MVM_SNAPSHOT_WSET_H
#define MVM_SNAPSHOT_WSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../vmm/memory.h"

struct err;

#define WSET_MAGIC	 "MVMWSET\0"
#define WSET_VERSION	 1
#define WSET_PAGE	 4096u
#define WSET_HEADER_SIZE 64
#define WSET_RUN_SIZE	 16
#define WSET_SUFFIX	 ".wset"
#define WSET_MAX_MS	 600000u /* ten minutes of recording at most */

struct wset_run {
	uint64_t page; /* first page: offset in the memory file / WSET_PAGE */
	uint64_t count;
};

struct wset {
	uint8_t gen[16];
	uint64_t ram_len;
	uint32_t record_ms;
	uint32_t nr;
	uint64_t pages;
	struct wset_run *runs; /* malloc'd */
};

void wset_fini(struct wset *w);

/* "<snapshot_path>.wset" into buf; -ENAMETOOLONG when it does not fit. */
int wset_path(const char *snapshot_path, char *buf, size_t size);

/* Pure: w's file image, malloc'd into *out (*len bytes). */
int wset_encode(const struct wset *w, uint8_t **out, size_t *len);
/*
 * Pure: parse a file image that must belong to the memory of generation gen
 * with ram_len bytes of RAM. -EINVAL and a sentence saying what is wrong
 * (truncated, not a list, another snapshot's, checksum, runs out of order or
 * past RAM); nothing in buf is trusted before it is checked.
 */
int wset_decode(const uint8_t *buf, size_t len, const uint8_t gen[16], uint64_t ram_len,
		struct wset *w, struct err *e);

/* Read and decode path: -ENOENT when there is none (not an error to warn about). */
int wset_load(const char *path, const uint8_t gen[16], uint64_t ram_len, struct wset *w,
	      struct err *e);
/* Write w to path atomically (tmp, fsync, rename, fsync of the directory). */
int wset_save(const char *path, const struct wset *w, struct err *e);

/* Append a run of pages (merged with the last one when they touch). */
int wset_add(struct wset *w, uint64_t page, uint64_t count);

/*
 * The pages of m's RAM that are mapped in this process (present or swapped
 * in /proc/self/pagemap, read through pagemap_fd): what the guest and KVM
 * have touched since the restore mapped the memory file or began empty.
 */
int wset_from_pagemap(const struct guest_mem *m, int pagemap_fd, struct wset *w);

/*
 * Bring w's pages of m (a MEM_FILE_PRIVATE mapping) in: readahead of the
 * file (MADV_WILLNEED) then the page tables (MADV_POPULATE_READ, or a read
 * of each page on kernels before 5.14). No copy-on-write happens; a page
 * that fails is left for the guest's own fault. Returns pages brought in.
 */
uint64_t wset_populate(const struct guest_mem *m, const struct wset *w);

#endif
