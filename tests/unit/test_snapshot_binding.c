/* snapshot/binding.[ch]: the generation that ties a state file to its memory file. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../lib/err.h"
#include "../../lib/util.h"
#include "../../snapshot/binding.h"
#include "../../snapshot/format.h"
#include "../../snapshot/memfile.h"
#include "../../snapshot/state.h"

static struct snap_binding sample(uint8_t seed)
{
	struct snap_binding b = { .ram_len = KiB(16), .mem_len = KiB(16) + MEMFILE_TRAILER_SIZE };
	for (int i = 0; i < SNAP_GEN_LEN; i++) {
		b.gen[i] = (uint8_t)(seed + i);
		b.base[i] = (uint8_t)(0xa0 + i);
	}
	return b;
}

/* A file in memory (shmem: it reports holes like tmpfs). */
static int tmp_file(void)
{
	int fd = memfd_create("mvm-binding-test", MFD_CLOEXEC);
	cr_assert_geq(fd, 0);
	return fd;
}

Test(snap_binding, trailer_round_trips)
{
	struct snap_binding b = sample(1), out;
	uint8_t t[MEMFILE_TRAILER_SIZE];

	memfile_trailer_encode(&b, t);
	cr_expect_eq(memcmp(t, "MVMMEMG\0", 8), 0);
	cr_assert_eq(memfile_trailer_decode(t, &out), 0);
	cr_expect_eq(memcmp(&out, &b, sizeof(b)), 0, "gen, base, lengths come back");
}

Test(snap_binding, trailer_rejects_every_flipped_bit)
{
	struct snap_binding b = sample(2), out;
	uint8_t t[MEMFILE_TRAILER_SIZE];

	memfile_trailer_encode(&b, t);
	for (unsigned bit = 0; bit < sizeof(t) * 8; bit++) {
		t[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		cr_expect_eq(memfile_trailer_decode(t, &out), -EINVAL, "bit %u", bit);
		t[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	uint8_t zero[MEMFILE_TRAILER_SIZE] = { 0 };
	cr_expect_eq(memfile_trailer_decode(zero, &out), -EINVAL, "a hole is no trailer");
}

Test(snap_binding, trailer_sits_after_the_ram_and_reads_back)
{
	struct snap_binding b = sample(3), out;
	struct err err = { 0 };
	int fd = tmp_file();

	cr_assert_eq(pwrite(fd, "RAM", 3, 0), 3);
	cr_assert_eq(memfile_trailer_write(fd, &b), 0);
	cr_expect_eq(lseek(fd, 0, SEEK_END), (off_t)b.mem_len, "RAM + 64 bytes");
	cr_assert_eq(memfile_trailer_read(fd, "vm.mem", &out, &err), 0, "%s", err.msg);
	cr_expect_eq(memcmp(&out, &b, sizeof(b)), 0);
	close(fd);
}

Test(snap_binding, trailer_read_explains_a_file_without_one)
{
	struct snap_binding b = sample(4), out;
	struct err err = { 0 };
	int fd = tmp_file();

	cr_expect_eq(memfile_trailer_read(fd, "empty.mem", &out, &err), -EINVAL);
	cr_expect(
	    strstr(err.msg, "memory file empty.mem does not end with an mvm snapshot trailer"),
	    "%s", err.msg);
	/* An older mvm's file: RAM only. */
	cr_assert_eq(ftruncate(fd, KiB(16)), 0);
	cr_expect_eq(memfile_trailer_read(fd, "old.mem", &out, &err), -EINVAL);
	cr_expect(strstr(err.msg, "old.mem does not end with"), "%s", err.msg);
	/* Truncated by one byte: the trailer is gone. */
	cr_assert_eq(memfile_trailer_write(fd, &b), 0);
	cr_assert_eq(ftruncate(fd, (off_t)b.mem_len - 1), 0);
	cr_expect_eq(memfile_trailer_read(fd, "cut.mem", &out, &err), -EINVAL);
	close(fd);
}

Test(snap_binding, trailer_read_refuses_a_length_that_disagrees)
{
	struct snap_binding b = sample(5), out;
	struct err err = { 0 };
	uint8_t t[MEMFILE_TRAILER_SIZE];
	int fd = tmp_file();

	/* A whole trailer, but 4 KiB further than it says: bytes were inserted. */
	memfile_trailer_encode(&b, t);
	cr_assert_eq(pwrite(fd, t, sizeof(t), b.ram_len + KiB(4)), (ssize_t)sizeof(t));
	cr_expect_eq(memfile_trailer_read(fd, "long.mem", &out, &err), -EINVAL);
	cr_expect_str_eq(err.msg, "memory file long.mem is 20544 bytes, its trailer says 16448 "
				  "(truncated or appended to)");
	close(fd);
}

Test(snap_binding, match_accepts_the_pair_and_names_both_files_otherwise)
{
	struct snap_binding s = sample(6), m = sample(6);
	struct err err = { 0 };

	cr_expect_eq(snap_binding_match(&s, &m, "snapshot state file vm.snap", "vm.mem", &err), 0);
	/* The base is not part of the match: a merged file carries its diff's. */
	m.base[0] ^= 1;
	cr_expect_eq(snap_binding_match(&s, &m, "snapshot state file vm.snap", "vm.mem", &err), 0);
	m.gen[15] ^= 0xff;
	cr_expect_eq(snap_binding_match(&s, &m, "snapshot state file vm.snap", "vm.mem", &err),
		     -EINVAL);
	cr_expect(strstr(err.msg, "memory file vm.mem does not belong to snapshot state file "
				  "vm.snap: the memory is from snapshot "
				  "060708090a0b0c0d0e0f1011121314ea (16448 bytes), the state from "
				  "snapshot 060708090a0b0c0d0e0f101112131415 (16448 bytes)"),
		  "%s", err.msg);
	m = sample(6);
	m.ram_len += KiB(4);
	m.mem_len += KiB(4);
	cr_expect_eq(snap_binding_match(&s, &m, "s", "m", &err), -EINVAL, "same id, other length");
}

static struct snap_reader *reader_with(const void *sec, size_t len, uint32_t version)
{
	struct snap_writer *w = snap_writer_create();
	struct snap_reader *rd = NULL;
	uint8_t *buf;
	size_t n;
	int fd = tmp_file();

	cr_assert_eq(snap_writer_add(w, SNAP_SEC_MACHINE, 1, "m", 1), 0);
	if (sec)
		cr_assert_eq(snap_writer_add(w, SNAP_SEC_MEMFILE, version, sec, len), 0);
	cr_assert_eq(snap_writer_encode(w, &buf, &n), 0);
	cr_assert_eq(write(fd, buf, n), (ssize_t)n);
	cr_assert_eq(snap_reader_open_fd(fd, 0, &rd, NULL), 0);
	free(buf);
	snap_writer_destroy(w);
	close(fd);
	return rd;
}

Test(snap_binding, state_section_round_trips_and_is_checked)
{
	struct snap_binding b = sample(7), out;
	struct err err = { 0 };
	struct snap_reader *rd = reader_with(&b, sizeof(b), SNAP_MEMFILE_V);

	cr_assert_eq(snap_binding_get(rd, &out, &err), 0, "%s", err.msg);
	cr_expect_eq(memcmp(&out, &b, sizeof(b)), 0);
	snap_reader_destroy(rd);

	rd = reader_with(NULL, 0, 0);
	cr_expect_eq(snap_binding_get(rd, &out, &err), -EINVAL, "no section");
	snap_reader_destroy(rd);
	rd = reader_with(&b, sizeof(b), SNAP_MEMFILE_V + 1);
	cr_expect_eq(snap_binding_get(rd, &out, &err), -EINVAL, "other version");
	snap_reader_destroy(rd);
	rd = reader_with(&b, sizeof(b) - 8, SNAP_MEMFILE_V);
	cr_expect_eq(snap_binding_get(rd, &out, &err), -EINVAL, "short");
	snap_reader_destroy(rd);
	b.mem_len++;
	rd = reader_with(&b, sizeof(b), SNAP_MEMFILE_V);
	cr_expect_eq(snap_binding_get(rd, &out, &err), -EINVAL, "length is not RAM + trailer");
	cr_expect(strstr(err.msg, "memory file section out of range"), "%s", err.msg);
	snap_reader_destroy(rd);
	b = sample(7);
	memset(b.gen, 0, sizeof(b.gen));
	rd = reader_with(&b, sizeof(b), SNAP_MEMFILE_V);
	cr_expect_eq(snap_binding_get(rd, &out, &err), -EINVAL, "zero generation");
	snap_reader_destroy(rd);
}

Test(snap_binding, generations_are_random_and_print_as_hex)
{
	uint8_t a[SNAP_GEN_LEN], b[SNAP_GEN_LEN];
	char s[SNAP_GEN_STR];

	cr_assert_eq(snap_gen_new(a), 0);
	cr_assert_eq(snap_gen_new(b), 0);
	cr_expect(memcmp(a, b, SNAP_GEN_LEN), "two draws differ");
	cr_expect(!snap_gen_is_zero(a));
	memset(a, 0, sizeof(a));
	cr_expect(snap_gen_is_zero(a));
	a[0] = 0xab;
	a[15] = 0x01;
	snap_gen_str(a, s);
	cr_expect_str_eq(s, "ab000000000000000000000000000001");
}

Test(snap_binding, a_merge_carries_the_diffs_trailer_onto_the_base)
{
	struct snap_binding base = sample(8), diff = sample(9), out;
	struct err err = { 0 };
	int bfd = tmp_file(), dfd = tmp_file();

	cr_assert_eq(pwrite(bfd, "old", 3, 0), 3);
	cr_assert_eq(memfile_trailer_write(bfd, &base), 0);
	cr_assert_eq(ftruncate(dfd, (off_t)diff.mem_len), 0);
	cr_assert_eq(pwrite(dfd, "new", 3, KiB(8)), 3);
	cr_assert_eq(memfile_trailer_write(dfd, &diff), 0);
	cr_assert_eq(memfile_merge_diff(bfd, dfd), 0);
	cr_assert_eq(memfile_trailer_read(bfd, "merged", &out, &err), 0, "%s", err.msg);
	cr_expect_eq(memcmp(out.gen, diff.gen, SNAP_GEN_LEN), 0, "the diff's generation");
	char got[4] = { 0 };
	cr_assert_eq(pread(bfd, got, 3, 0), 3);
	cr_expect_str_eq(got, "old", "the base's pages stay");
	cr_assert_eq(pread(bfd, got, 3, KiB(8)), 3);
	cr_expect_str_eq(got, "new", "the diff's pages land");
	close(bfd);
	close(dfd);
}
