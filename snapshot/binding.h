/*
 * What ties a snapshot's state file to its memory file: a generation, a
 * random 128-bit id drawn for every snapshot and written into both files.
 *
 * The memory file keeps guest RAM at offset 0 (restore maps it there,
 * mvm-uffd-handler serves it from there) and ends with a 64-byte trailer
 * right after the RAM bytes, little-endian:
 *
 *   0   magic "MVMMEMG\0"        8 bytes
 *   8   trailer version          u32 (MEMFILE_TRAILER_VERSION)
 *   12  reserved                 u32 (0)
 *   16  generation               16 bytes
 *   32  base generation          16 bytes: for a diff, the snapshot whose
 *                                memory it applies to; zero for a full one
 *   48  RAM bytes                u64: where the trailer starts
 *   56  CRC-64/XZ of bytes 0..55
 *
 * A diff file has the trailer too, as data: merging the diff onto its base
 * (memfile_merge_diff) carries it over, so the merged file matches the diff's
 * state file. The state file holds the same values in its SNAP_SEC_MEMFILE
 * section (struct snap_binding) with the memory file's exact length.
 */
#ifndef MVM_SNAPSHOT_BINDING_H
#define MVM_SNAPSHOT_BINDING_H

#include <stdbool.h>
#include <stdint.h>

struct err;
struct snap_reader;

#define SNAP_GEN_LEN		16
#define SNAP_GEN_STR		(2 * SNAP_GEN_LEN + 1)
#define MEMFILE_TRAILER_SIZE	64
#define MEMFILE_TRAILER_MAGIC	"MVMMEMG\0"
#define MEMFILE_TRAILER_VERSION 1

/* The SNAP_SEC_MEMFILE section, version SNAP_MEMFILE_V (state.h). */
struct snap_binding {
	uint8_t gen[SNAP_GEN_LEN];
	uint8_t base[SNAP_GEN_LEN]; /* zero: a full snapshot */
	uint64_t ram_len;	    /* RAM bytes at the start of the memory file */
	uint64_t mem_len;	    /* the memory file's length: ram_len + the trailer */
};

/* A fresh random generation (getrandom). */
int snap_gen_new(uint8_t gen[SNAP_GEN_LEN]);
bool snap_gen_is_zero(const uint8_t gen[SNAP_GEN_LEN]);
/* 32 lower-case hex digits, for messages. */
void snap_gen_str(const uint8_t gen[SNAP_GEN_LEN], char out[SNAP_GEN_STR]);

/* The trailer's bytes for b (b->mem_len is not stored: it is the file's length). */
void memfile_trailer_encode(const struct snap_binding *b, uint8_t out[MEMFILE_TRAILER_SIZE]);
/* -EINVAL: not a trailer (magic, version, reserved bits or CRC); b->mem_len
 * is set to ram_len + MEMFILE_TRAILER_SIZE. */
int memfile_trailer_decode(const uint8_t in[MEMFILE_TRAILER_SIZE], struct snap_binding *b);

/* Write b's trailer at b->ram_len: the file becomes b->mem_len long. */
int memfile_trailer_write(int fd, const struct snap_binding *b);
/*
 * The trailer at the end of fd: -EINVAL with a sentence naming `name` when
 * the file has none (an older mvm's file, or not a memory file) or when its
 * length disagrees with the trailer (truncated, appended to).
 */
int memfile_trailer_read(int fd, const char *name, struct snap_binding *b, struct err *e);

/* The state file's binding section, checked (-EINVAL with a sentence). */
int snap_binding_get(const struct snap_reader *rd, struct snap_binding *b, struct err *e);

/*
 * 0 when the memory file (its trailer in mem) belongs to the state file
 * (its section in state); -EINVAL and a sentence naming both files otherwise.
 */
int snap_binding_match(const struct snap_binding *state, const struct snap_binding *mem,
		       const char *state_name, const char *mem_name, struct err *e);

#endif
