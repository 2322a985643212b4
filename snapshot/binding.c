#include "binding.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "../lib/err.h"
#include "../lib/util.h"
#include "crc64.h"
#include "format.h"
#include "state.h"

/* Trailer field offsets (see binding.h). */
#define T_VERSION  8
#define T_RESERVED 12
#define T_GEN	   16
#define T_BASE	   32
#define T_RAM	   48
#define T_CRC	   56

int snap_gen_new(uint8_t gen[SNAP_GEN_LEN])
{
	size_t got = 0;

	while (got < SNAP_GEN_LEN) {
		ssize_t n = getrandom(gen + got, SNAP_GEN_LEN - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return neg_errno();
		got += (size_t)n;
	}
	return 0;
}

bool snap_gen_is_zero(const uint8_t gen[SNAP_GEN_LEN])
{
	static const uint8_t zero[SNAP_GEN_LEN];
	return !memcmp(gen, zero, SNAP_GEN_LEN);
}

void snap_gen_str(const uint8_t gen[SNAP_GEN_LEN], char out[SNAP_GEN_STR])
{
	for (int i = 0; i < SNAP_GEN_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", gen[i]);
}

void memfile_trailer_encode(const struct snap_binding *b, uint8_t out[MEMFILE_TRAILER_SIZE])
{
	memset(out, 0, MEMFILE_TRAILER_SIZE);
	memcpy(out, MEMFILE_TRAILER_MAGIC, 8);
	le_put(out + T_VERSION, MEMFILE_TRAILER_VERSION, 4);
	memcpy(out + T_GEN, b->gen, SNAP_GEN_LEN);
	memcpy(out + T_BASE, b->base, SNAP_GEN_LEN);
	le_put(out + T_RAM, b->ram_len, 8);
	le_put(out + T_CRC, crc64(0, out, T_CRC), 8);
}

int memfile_trailer_decode(const uint8_t in[MEMFILE_TRAILER_SIZE], struct snap_binding *b)
{
	if (memcmp(in, MEMFILE_TRAILER_MAGIC, 8) ||
	    le_get(in + T_VERSION, 4) != MEMFILE_TRAILER_VERSION || le_get(in + T_RESERVED, 4) ||
	    le_get(in + T_CRC, 8) != crc64(0, in, T_CRC))
		return -EINVAL;
	memcpy(b->gen, in + T_GEN, SNAP_GEN_LEN);
	memcpy(b->base, in + T_BASE, SNAP_GEN_LEN);
	b->ram_len = le_get(in + T_RAM, 8);
	if (add_overflows(b->ram_len, MEMFILE_TRAILER_SIZE, &b->mem_len))
		return -EINVAL;
	return 0;
}

int memfile_trailer_write(int fd, const struct snap_binding *b)
{
	uint8_t t[MEMFILE_TRAILER_SIZE];

	memfile_trailer_encode(b, t);
	return pwrite_full(fd, t, sizeof(t), b->ram_len);
}

int memfile_trailer_read(int fd, const char *name, struct snap_binding *b, struct err *e)
{
	uint8_t t[MEMFILE_TRAILER_SIZE];
	struct stat st;
	int r;

	if (fstat(fd, &st) < 0) {
		r = neg_errno();
		return err_set(e, r, "memory file %s: fstat: %s", name, strerror(-r));
	}
	if (st.st_size < MEMFILE_TRAILER_SIZE ||
	    read_full(fd, t, sizeof(t), (uint64_t)st.st_size - MEMFILE_TRAILER_SIZE) ||
	    memfile_trailer_decode(t, b))
		return err_inval(e,
				 "memory file %s does not end with an mvm snapshot trailer: it "
				 "is truncated, damaged, from an older mvm, or not a memory file",
				 name);
	if (b->mem_len != (uint64_t)st.st_size)
		return err_inval(e,
				 "memory file %s is %llu bytes, its trailer says %llu (truncated "
				 "or appended to)",
				 name, (unsigned long long)st.st_size,
				 (unsigned long long)b->mem_len);
	return 0;
}

int snap_binding_get(const struct snap_reader *rd, struct snap_binding *b, struct err *e)
{
	uint64_t want;
	int r = snap_reader_get_struct(rd, SNAP_SEC_MEMFILE, SNAP_MEMFILE_V, b, sizeof(*b), e);

	if (r)
		return r == -ENOENT ? -EINVAL : r;
	if (snap_gen_is_zero(b->gen) || add_overflows(b->ram_len, MEMFILE_TRAILER_SIZE, &want) ||
	    want != b->mem_len)
		return err_inval(e, "%s: memory file section out of range", snap_reader_name(rd));
	return 0;
}

int snap_binding_match(const struct snap_binding *state, const struct snap_binding *mem,
		       const char *state_name, const char *mem_name, struct err *e)
{
	char sg[SNAP_GEN_STR], mg[SNAP_GEN_STR];

	if (!memcmp(state->gen, mem->gen, SNAP_GEN_LEN) && state->ram_len == mem->ram_len &&
	    state->mem_len == mem->mem_len)
		return 0;
	snap_gen_str(state->gen, sg);
	snap_gen_str(mem->gen, mg);
	return err_inval(e,
			 "memory file %s does not belong to %s: the memory is from snapshot %s "
			 "(%llu bytes), the state from snapshot %s (%llu bytes); a snapshot "
			 "was interrupted between its two files, or the files are from two "
			 "snapshots",
			 mem_name, state_name, mg, (unsigned long long)mem->mem_len, sg,
			 (unsigned long long)state->mem_len);
}
