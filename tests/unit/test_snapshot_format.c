/* snapshot/format.[ch] and crc64.[ch]: the state-file codec, round trips and hostile input. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/err.h"
#include "../../snapshot/crc64.h"
#include "../../snapshot/format.h"
#include "../../lib/util.h"

/* The sample file: four sections, one of them empty, one with an unaligned length. */
static const uint8_t blob37[37] = { 1,	2,  3,	4,  5,	6,  7,	8,  9,	10, 11, 12, 13,
				    14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
				    27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37 };
static const struct {
	uint32_t id, version;
	const void *data;
	size_t len;
} sample[] = {
	{ 1, 1, "hello", 5 },
	{ 2, 3, NULL, 0 },
	{ 0x10, 2, blob37, sizeof(blob37) },
	{ 0xffffffff, 1, "\x01\x02\x03\x04\x05\x06\x07\x08", 8 },
};

static struct snap_writer *sample_writer(void)
{
	struct snap_writer *w = snap_writer_create();
	cr_assert_not_null(w);
	for (size_t i = 0; i < ARRAY_SIZE(sample); i++)
		cr_assert_eq(snap_writer_add(w, sample[i].id, sample[i].version, sample[i].data,
					     sample[i].len),
			     0);
	return w;
}

static uint8_t *sample_bytes(size_t *len)
{
	struct snap_writer *w = sample_writer();
	uint8_t *buf;
	cr_assert_eq(snap_writer_encode(w, &buf, len), 0);
	snap_writer_destroy(w);
	return buf;
}

static void expect_sample(const struct snap_reader *r)
{
	cr_assert_eq(snap_reader_count(r), ARRAY_SIZE(sample));
	for (size_t i = 0; i < ARRAY_SIZE(sample); i++) {
		uint32_t id, version;
		const void *data;
		size_t len;

		cr_assert_eq(snap_reader_at(r, (unsigned)i, &id, &version, &data, &len), 0);
		cr_expect_eq(id, sample[i].id, "file order is insertion order");
		cr_assert_eq(snap_reader_get(r, sample[i].id, &version, &data, &len), 0);
		cr_expect_eq(version, sample[i].version);
		cr_assert_eq(len, sample[i].len, "section %zu", i);
		cr_expect_eq((uintptr_t)data % SNAP_ALIGN, 0, "payloads are aligned");
		if (len)
			cr_expect_arr_eq(data, sample[i].data, len);
	}
	cr_expect_eq(snap_reader_get(r, 3, NULL, NULL, NULL), -ENOENT);
	cr_expect_eq(snap_reader_at(r, ARRAY_SIZE(sample), NULL, NULL, NULL, NULL), -ENOENT);
}

static int memfd_of(const void *buf, size_t len)
{
	int fd = memfd_create("snap-test", MFD_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write_full(fd, buf, len), 0);
	return fd;
}

static int open_bytes(const void *buf, size_t len, size_t max, struct err *e)
{
	struct snap_reader *r = (struct snap_reader *)1;
	int fd = memfd_of(buf, len);
	int ret = snap_reader_open_fd(fd, max, &r, e);
	close(fd);
	if (ret)
		cr_assert_null(r, "no reader on failure");
	snap_reader_destroy(r);
	return ret;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Section table entry i and its fields. */
static uint8_t *entry(uint8_t *buf, unsigned i)
{
	return buf + SNAP_HEADER_SIZE + i * SNAP_SECTION_SIZE;
}
#define E_ID  0
#define E_VER 4
#define E_OFF 8
#define E_LEN 16

/* A valid CRC over tampered bytes, so the structural checks are what must catch them. */
static void reseal(uint8_t *buf, size_t len)
{
	put64(buf + len - SNAP_CRC_SIZE, crc64(0, buf, len - SNAP_CRC_SIZE));
}

Test(snap_crc64, check_value_of_123456789)
{
	cr_expect_eq(crc64(0, "123456789", 9), 0x995DC9BBDF1939FAull);
	cr_expect_eq(crc64(crc64(0, "1234", 4), "56789", 5), 0x995DC9BBDF1939FAull,
		     "streams in pieces");
	cr_expect_eq(crc64(0, "", 0), 0);
}

Test(snap_format, round_trips_through_a_file)
{
	char dir[] = "/tmp/mvm-snap-XXXXXX", path[64], tmp[72];
	struct err err = { 0 };
	struct snap_reader *r;
	struct stat st;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vm.snap", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);

	struct snap_writer *w = sample_writer();
	cr_assert_eq(snap_writer_write_file(w, path), 0);
	snap_writer_destroy(w);
	cr_expect_eq(access(tmp, F_OK), -1, "the temporary file was renamed");
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600);
	cr_expect_eq(st.st_size % SNAP_ALIGN, 0);

	cr_assert_eq(snap_reader_open_file(path, 0, &r, &err), 0, "%s", err.msg);
	expect_sample(r);
	cr_expect(strstr(snap_reader_name(r), path));
	snap_reader_destroy(r);

	/* Writing again replaces the file as a whole. */
	w = snap_writer_create();
	cr_assert_eq(snap_writer_add(w, 42, 1, "x", 1), 0);
	cr_assert_eq(snap_writer_write_file(w, path), 0);
	snap_writer_destroy(w);
	cr_assert_eq(snap_reader_open_file(path, 0, &r, &err), 0, "%s", err.msg);
	cr_expect_eq(snap_reader_count(r), 1);
	cr_expect_eq(snap_reader_get(r, 1, NULL, NULL, NULL), -ENOENT);
	snap_reader_destroy(r);

	unlink(path);
	rmdir(dir);
}

Test(snap_format, write_fd_writes_the_encoded_bytes)
{
	size_t len, flen;
	uint8_t *buf = sample_bytes(&len);
	struct snap_writer *w = sample_writer();
	int fd = memfd_create("snap-test", MFD_CLOEXEC);
	struct snap_reader *r;
	struct err err = { 0 };

	cr_assert_eq(snap_writer_write_fd(w, fd), 0);
	flen = (size_t)lseek(fd, 0, SEEK_END);
	cr_assert_eq(flen, len);
	uint8_t *file = malloc(flen);
	cr_assert_eq(read_full(fd, file, flen, 0), 0);
	cr_expect_arr_eq(file, buf, len);
	cr_assert_eq(snap_reader_open_fd(fd, 0, &r, &err), 0, "%s", err.msg);
	expect_sample(r);
	snap_reader_destroy(r);
	snap_writer_destroy(w);
	free(file);
	free(buf);
	close(fd);
}

Test(snap_format, empty_file_has_no_sections)
{
	struct snap_writer *w = snap_writer_create();
	uint8_t *buf;
	size_t len;

	cr_assert_eq(snap_writer_encode(w, &buf, &len), 0);
	cr_expect_eq(len, SNAP_HEADER_SIZE + SNAP_CRC_SIZE);
	cr_expect_eq(open_bytes(buf, len, 0, NULL), 0);
	snap_writer_destroy(w);
	free(buf);
}

Test(snap_format, writer_rejects_duplicate_ids)
{
	struct snap_writer *w = snap_writer_create();
	const void *data;
	size_t len;

	cr_assert_eq(snap_writer_add(w, 7, 1, "first", 5), 0);
	cr_expect_eq(snap_writer_add(w, 7, 2, "second", 6), -EEXIST);
	uint8_t *buf;
	cr_assert_eq(snap_writer_encode(w, &buf, &len), 0);
	int fd = memfd_of(buf, len);
	struct snap_reader *r;
	cr_assert_eq(snap_reader_open_fd(fd, 0, &r, NULL), 0);
	cr_assert_eq(snap_reader_get(r, 7, NULL, &data, &len), 0);
	cr_expect_eq(len, 5, "the first one stays");
	snap_reader_destroy(r);
	snap_writer_destroy(w);
	free(buf);
	close(fd);
}

Test(snap_format, writer_rejects_too_many_sections)
{
	struct snap_writer *w = snap_writer_create();
	for (uint32_t i = 0; i < SNAP_MAX_SECTIONS; i++)
		cr_assert_eq(snap_writer_add(w, i, 1, &i, sizeof(i)), 0);
	cr_expect_eq(snap_writer_add(w, SNAP_MAX_SECTIONS, 1, NULL, 0), -E2BIG);
	snap_writer_destroy(w);
}

Test(snap_format, destroy_is_null_safe)
{
	snap_writer_destroy(NULL);
	snap_reader_destroy(NULL);
}

Test(snap_format, typed_struct_checks_version_and_size)
{
	struct dev_state {
		uint64_t a;
		uint32_t b, c;
	} in = { 1, 2, 3 }, out;
	struct snap_writer *w = snap_writer_create();
	struct snap_reader *r;
	struct err err = { 0 };
	uint8_t *buf;
	size_t len;

	cr_assert_eq(snap_writer_add_struct(w, 5, 2, &in, sizeof(in)), 0);
	cr_assert_eq(snap_writer_encode(w, &buf, &len), 0);
	int fd = memfd_of(buf, len);
	cr_assert_eq(snap_reader_open_fd(fd, 0, &r, NULL), 0);

	cr_expect_eq(snap_reader_get_struct(r, 5, 2, &out, sizeof(out), &err), 0);
	cr_expect_eq(out.a, 1);
	cr_expect_eq(out.c, 3);
	cr_expect_eq(snap_reader_get_struct(r, 5, 1, &out, sizeof(out), &err), -EINVAL);
	cr_expect(strstr(err.msg, "section id 5 has version 2, this mvm reads version 1"), "%s",
		  err.msg);
	cr_expect_eq(snap_reader_get_struct(r, 5, 2, &out, sizeof(out) - 4, &err), -EINVAL);
	cr_expect(strstr(err.msg, "is 16 bytes, expected 12"), "%s", err.msg);
	cr_expect_eq(snap_reader_get_struct(r, 6, 2, &out, sizeof(out), &err), -ENOENT);
	cr_expect(strstr(err.msg, "section id 6 is missing"), "%s", err.msg);

	snap_reader_destroy(r);
	snap_writer_destroy(w);
	free(buf);
	close(fd);
}

/* What a flipped bit at byte i must be reported as: the first check that sees it. */
static const char *flip_message(size_t i, size_t len)
{
	if (i < 8)
		return "bad magic";
	if (i < 12)
		return "format version";
	if (i < 16)
		return "architecture";
	if (i >= 24 && i < 32)
		return "its header says";
	(void)len;
	return "CRC mismatch (file corrupt or truncated)";
}

Test(snap_format, rejects_every_single_bit_flip)
{
	size_t len;
	uint8_t *buf = sample_bytes(&len);
	uint8_t *bad = malloc(len);
	struct err err = { 0 };

	cr_assert_lt(len, 512, "small enough to flip every bit");
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(bad, buf, len);
			bad[i] ^= (uint8_t)(1u << bit);
			err_clear(&err);
			int ret = open_bytes(bad, len, 0, &err);
			cr_assert_lt(ret, 0, "byte %zu bit %d accepted", i, bit);
			cr_assert(strstr(err.msg, flip_message(i, len)), "byte %zu bit %d: %s", i,
				  bit, err.msg);
		}
	}
	free(bad);
	free(buf);
}

Test(snap_format, rejects_every_truncation)
{
	size_t len;
	uint8_t *buf = sample_bytes(&len);
	struct err err = { 0 };

	for (size_t n = 0; n < len; n++) {
		err_clear(&err);
		cr_assert_eq(open_bytes(buf, n, 0, &err), -EINVAL, "length %zu", n);
		cr_assert(strstr(err.msg, "truncated"), "length %zu: %s", n, err.msg);
	}
	cr_expect_eq(open_bytes(buf, len, 0, &err), 0, "%s", err.msg);
	free(buf);
}

Test(snap_format, rejects_a_file_over_the_size_limit)
{
	size_t len;
	uint8_t *buf = sample_bytes(&len);
	struct err err = { 0 };

	cr_expect_eq(open_bytes(buf, len, len, &err), 0, "%s", err.msg);
	cr_expect_eq(open_bytes(buf, len, len - 1, &err), -EFBIG);
	cr_expect(strstr(err.msg, "more than the"), "%s", err.msg);
	free(buf);

	/* A valid file just over the default limit. */
	struct snap_writer *w = snap_writer_create();
	uint8_t *big = calloc(1, SNAP_STATE_MAX_DEFAULT);
	cr_assert_eq(snap_writer_add(w, 1, 1, big, SNAP_STATE_MAX_DEFAULT), 0);
	cr_assert_eq(snap_writer_encode(w, &buf, &len), 0);
	cr_assert_gt(len, SNAP_STATE_MAX_DEFAULT);
	cr_expect_eq(open_bytes(buf, len, 0, &err), -EFBIG);
	cr_expect(strstr(err.msg, "1048576 bytes a state file may have"), "%s", err.msg);
	cr_expect_eq(open_bytes(buf, len, 2 * SNAP_STATE_MAX_DEFAULT, &err), 0, "%s", err.msg);
	snap_writer_destroy(w);
	free(big);
	free(buf);
}

/* Each tampering is resealed with a valid CRC, so the named check has to catch it. */
static void overflow(uint8_t *b, size_t len)
{
	(void)len;
	put64(entry(b, 1) + E_OFF, UINT64_MAX - 7);
	put64(entry(b, 1) + E_LEN, 16);
}

static void length_past_end(uint8_t *b, size_t len)
{
	(void)len;
	put64(entry(b, 2) + E_LEN, 1000);
}

static void offset_past_end(uint8_t *b, size_t len)
{
	put64(entry(b, 3) + E_OFF, len);
}

static void into_crc(uint8_t *b, size_t len)
{
	/* The last section is 8 bytes right before the CRC: one more is past the end. */
	put64(entry(b, 3) + E_LEN, get64(entry(b, 3) + E_LEN) + 1);
	(void)len;
}

static void overlap(uint8_t *b, size_t len)
{
	(void)len;
	put64(entry(b, 2) + E_OFF, get64(entry(b, 0) + E_OFF));
}

static void into_table(uint8_t *b, size_t len)
{
	(void)len;
	put64(entry(b, 0) + E_OFF, SNAP_HEADER_SIZE);
}

static void misaligned(uint8_t *b, size_t len)
{
	(void)len;
	put64(entry(b, 0) + E_OFF, get64(entry(b, 0) + E_OFF) + 1);
}

static void duplicate_id(uint8_t *b, size_t len)
{
	(void)len;
	put32(entry(b, 3) + E_ID, 1);
}

static void too_many(uint8_t *b, size_t len)
{
	(void)len;
	put32(b + 16, SNAP_MAX_SECTIONS + 1);
}

static void table_past_end(uint8_t *b, size_t len)
{
	(void)len;
	put32(b + 16, 200);
}

static void flags(uint8_t *b, size_t len)
{
	(void)len;
	put32(b + 20, 1);
}

static void magic(uint8_t *b, size_t len)
{
	(void)len;
	memcpy(b, "QEVM\0\0\0\0", 8);
}

static void version(uint8_t *b, size_t len)
{
	(void)len;
	put32(b + 8, 7);
}

static void arch(uint8_t *b, size_t len)
{
	(void)len;
	put32(b + 12, SNAP_ARCH_AARCH64);
}

static void total(uint8_t *b, size_t len)
{
	put64(b + 24, len + 8);
}

Test(snap_format, rejects_crafted_headers_with_specific_messages)
{
	static const struct {
		void (*tamper)(uint8_t *, size_t);
		int ret;
		const char *msg;
	} cases[] = {
		{ overflow, -EINVAL,
		  "section 1: offset 0xfffffffffffffff8 + length 0x10 overflows" },
		{ length_past_end, -EINVAL, "section 2 lies past the end of the file" },
		{ offset_past_end, -EINVAL, "section 3 lies past the end of the file" },
		{ into_crc, -EINVAL, "section 3 lies past the end of the file" },
		{ overlap, -EINVAL, "sections 0 and 2 overlap" },
		{ into_table, -EINVAL, "section 0 overlaps the header or section table" },
		{ misaligned, -EINVAL, "section 0 is not 8-byte aligned" },
		{ duplicate_id, -EINVAL, "sections 0 and 3 have the same id 1" },
		{ too_many, -EINVAL, "257 sections, at most 256 are allowed" },
		{ table_past_end, -EINVAL, "section table of 200 entries lies past the end" },
		{ flags, -EINVAL, "unknown flags 0x1" },
		{ magic, -EINVAL, "not an mvm snapshot state file (bad magic)" },
		{ version, -ENOTSUP, "format version 7, this mvm reads version 3" },
		{ arch, -ENOTSUP,
		  "taken on architecture 2 (aarch64), this mvm restores x86_64 (1)" },
		{ total, -EINVAL, "its header says" },
	};
	size_t len;
	uint8_t *buf = sample_bytes(&len);
	uint8_t *bad = malloc(len);
	struct err err = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		memcpy(bad, buf, len);
		cases[i].tamper(bad, len);
		reseal(bad, len);
		err_clear(&err);
		cr_expect_eq(open_bytes(bad, len, 0, &err), cases[i].ret, "case %zu: %s", i,
			     err.msg);
		cr_expect(strstr(err.msg, cases[i].msg), "case %zu: want \"%s\", got \"%s\"", i,
			  cases[i].msg, err.msg);
		cr_expect_eq(strncmp(err.msg, "snapshot state file: ", 21), 0, "%s", err.msg);
	}
	free(bad);
	free(buf);
}

Test(snap_format, messages_name_the_file)
{
	char path[] = "/tmp/mvm-snap-XXXXXX", want[128];
	struct err err = { 0 };
	struct snap_reader *r;
	size_t len;
	uint8_t *buf = sample_bytes(&len);
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	buf[len - 20] ^= 1; /* inside the last payload */
	cr_assert_eq(write_full(fd, buf, len), 0);
	close(fd);
	cr_expect_eq(snap_reader_open_file(path, 0, &r, &err), -EBADMSG);
	snprintf(want, sizeof(want),
		 "snapshot state file %s: CRC mismatch (file corrupt or truncated)", path);
	cr_expect_str_eq(err.msg, want);
	unlink(path);

	cr_expect_eq(snap_reader_open_file(path, 0, &r, &err), -ENOENT);
	snprintf(want, sizeof(want), "snapshot state file %s: open: %s", path, strerror(ENOENT));
	cr_expect_str_eq(err.msg, want);
	free(buf);
}

Test(snap_format, rejects_what_is_not_a_regular_file)
{
	int p[2];
	struct snap_reader *r;
	struct err err = { 0 };

	cr_assert_eq(pipe(p), 0);
	cr_expect_eq(snap_reader_open_fd(p[0], 0, &r, &err), -EINVAL);
	cr_expect_str_eq(err.msg, "snapshot state file: is not a regular file");
	close(p[0]);
	close(p[1]);
}

Test(snap_format, write_file_fails_cleanly_in_a_missing_directory)
{
	struct snap_writer *w = sample_writer();
	cr_expect_eq(snap_writer_write_file(w, "/nonexistent-mvm-dir/vm.snap"), -ENOENT);
	snap_writer_destroy(w);
}
