/*
 * The snapshot state file: a small self-describing container of sections.
 *
 * On disk, little-endian, every offset from the start of the file:
 *
 *   0   magic "MVMSNAP\0"           8 bytes
 *   8   format version              u32 (SNAP_FORMAT_VERSION)
 *   12  architecture                u32 (SNAP_ARCH_*)
 *   16  section count               u32 (at most SNAP_MAX_SECTIONS)
 *   20  flags                       u32 (0)
 *   24  total file length           u64 (CRC included)
 *   32  section table, per section: id u32, version u32, offset u64, length u64
 *       payloads, each at an 8-byte aligned offset, zero padding between
 *   end-8  CRC-64/XZ of every byte before it (see crc64.h)
 *
 * A reader validates all of it (length, magic, version, architecture, CRC,
 * section bounds, overlaps, duplicate ids) before it hands out one byte.
 * Guest memory lives in a separate file (memfile.h): state files are small.
 */
#ifndef MVM_SNAPSHOT_FORMAT_H
#define MVM_SNAPSHOT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

struct err;

#define SNAP_MAGIC	    "MVMSNAP\0"
#define SNAP_MAGIC_LEN	    8
#define SNAP_FORMAT_VERSION 3 /* 2: a record per device; 3: the memory's generation (2026-12) */
#define SNAP_ARCH_X86_64    1
#define SNAP_ARCH_AARCH64   2 /* named in messages only: never written by this mvm */
#define SNAP_MAX_SECTIONS   256

#define SNAP_HEADER_SIZE  32
#define SNAP_SECTION_SIZE 24 /* one section table entry */
#define SNAP_CRC_SIZE	  8
#define SNAP_ALIGN	  8 /* payload alignment */

/* Default cap on a state file's size for snap_reader_open_*(max_size = 0). */
#define SNAP_STATE_MAX_DEFAULT ((size_t)1 << 20)

/* Writer: collect sections, then write the whole file at once. */
struct snap_writer;

struct snap_writer *snap_writer_create(void);
void snap_writer_destroy(struct snap_writer *w);

/*
 * Copy len bytes of data as section id. -EEXIST if id was already added,
 * -E2BIG past SNAP_MAX_SECTIONS, -ENOMEM. data may be NULL when len is 0.
 */
int snap_writer_add(struct snap_writer *w, uint32_t id, uint32_t version, const void *data,
		    size_t len);

/* A fixed-width versioned struct, read back with snap_reader_get_struct(). */
static inline int snap_writer_add_struct(struct snap_writer *w, uint32_t id, uint32_t version,
					 const void *s, size_t size)
{
	return snap_writer_add(w, id, version, s, size);
}

/* The encoded file in a malloc'd buffer the caller frees. */
int snap_writer_encode(const struct snap_writer *w, uint8_t **buf, size_t *len);

/* Write the whole file at fd's current offset (give it an empty file). */
int snap_writer_write_fd(const struct snap_writer *w, int fd);

/* Write the whole file to path (created or emptied, mode 0600, never through
 * a symlink) and fsync it. */
int snap_writer_write_new(const struct snap_writer *w, const char *path);

/*
 * Write path.tmp (mode 0600) in path's directory, fsync it, rename it over
 * path, fsync the directory: path is either the old file or the whole new one.
 */
int snap_writer_write_file(const struct snap_writer *w, const char *path);

/* Reader: a validated state file held in memory. */
struct snap_reader;

/*
 * Read and validate a whole state file of at most max_size bytes (0 means
 * SNAP_STATE_MAX_DEFAULT). On failure returns -errno and, when err is not
 * NULL, a sentence for the user in err, e.g.
 *   "snapshot state file vm.snap: CRC mismatch (file corrupt or truncated)".
 * -EFBIG too large, -ENOTSUP other format version or architecture,
 * -EBADMSG CRC mismatch, -EINVAL any other malformed content, or the errno of
 * a failed open/fstat/read.
 */
int snap_reader_open_fd(int fd, size_t max_size, struct snap_reader **out, struct err *e);
int snap_reader_open_file(const char *path, size_t max_size, struct snap_reader **out,
			  struct err *e);
void snap_reader_destroy(struct snap_reader *r);

/*
 * Borrow section id: its version, payload and length, valid until
 * snap_reader_destroy(). -ENOENT when absent. Any out pointer may be NULL.
 * Payloads are 8-byte aligned.
 */
int snap_reader_get(const struct snap_reader *r, uint32_t id, uint32_t *version, const void **data,
		    size_t *len);

/*
 * Copy section id into a fixed-width struct: -ENOENT when absent, -EINVAL with
 * a sentence in err when its version is not `version` or its length not `size`.
 * A reader of several versions uses snap_reader_get() and switches on version.
 */
int snap_reader_get_struct(const struct snap_reader *r, uint32_t id, uint32_t version, void *s,
			   size_t size, struct err *e);

/* Iterate in file order: index < snap_reader_count(). -ENOENT past the end. */
unsigned snap_reader_count(const struct snap_reader *r);
int snap_reader_at(const struct snap_reader *r, unsigned index, uint32_t *id, uint32_t *version,
		   const void **data, size_t *len);

/* "snapshot state file vm.snap": the prefix of the reader's messages. */
const char *snap_reader_name(const struct snap_reader *r);

#endif
