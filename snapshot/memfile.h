/*
 * Snapshot memory files: guest RAM regions back to back, each at its
 * file_off (region 0 at 0, region 1 at 3 GiB: RAM without the MMIO gap).
 * Zero or clean pages are holes, so files stay sparse.
 *
 * A diff file has the full length too, with data only where the guest wrote
 * (zero pages included): memfile_merge_diff() copies its data extents onto a
 * base. That needs a filesystem that reports holes through SEEK_DATA and
 * SEEK_HOLE (ext4, xfs, btrfs, tmpfs); on one that reports the whole file as
 * data, a merge would overwrite the base with zeros.
 *
 * These functions neither fsync nor close the fds they are given.
 */
#ifndef MVM_SNAPSHOT_MEMFILE_H
#define MVM_SNAPSHOT_MEMFILE_H

#include <stddef.h>
#include <stdint.h>

#include "../vmm/memory.h"

struct err;

#define MEMFILE_PAGE_SIZE 4096u
#define MEMFILE_CHUNK	  ((size_t)1 << 20) /* largest single read or write */

/*
 * Length of m's memory file: the end of its last region in the file.
 * -EINVAL when a region is not page-aligned or regions overlap in the file.
 */
int memfile_len(const struct guest_mem *m, uint64_t *len);

/*
 * Write all of m's RAM into fd, which becomes exactly memfile_len() long;
 * previous content is discarded, all-zero 4 KiB pages are left as holes.
 * Reads RAM through the mappings: on a shared memfd, reading a never-touched
 * page allocates it.
 */
int memfile_write_full(const struct guest_mem *m, int fd);

/*
 * Write only the pages whose bit is set in their region's dirty bitmap
 * (KVM_GET_DIRTY_LOG format: bit p % 64 of word p / 64 for the region's page
 * p), at their offset in a sparse file of full length; holes elsewhere.
 * bitmaps[i] covers m->r[i] and must not be NULL. Previous content is discarded.
 */
int memfile_write_diff(const struct guest_mem *m, const uint64_t *const bitmaps[], int fd);

/*
 * Copy every data extent of diff_fd into base_fd at the same offset.
 * -EINVAL when their lengths differ.
 */
int memfile_merge_diff(int base_fd, int diff_fd);

/*
 * A memory file for ram_size bytes of RAM: a regular file at least that long.
 * On failure a sentence in err, e.g. "memory file vm.mem is 64 MiB, the
 * snapshot's RAM is 128 MiB". name (e.g. the path) may be NULL.
 */
int memfile_check(int fd, const char *name, uint64_t ram_size, struct err *e);

#endif
