/* virtio/blk: requests driven through blk_ops.process over a fake guest RAM and a temp file. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/err.h"
#include "../../virtio/blk/blk.h"
#include "../../lib/log.h"

#define RAM_SIZE     0x200000
#define QSIZE	     256
#define DESC	     0x0000
#define AVAIL	     0x1000
#define USED	     0x2000
#define HDR	     0x4000
#define STATUS	     0x4800
#define ITAB	     0x8000
#define DATA	     0x10000
#define DISK_SECTORS 2048 /* 1 MiB */

#define T_IN	 0
#define T_OUT	 1
#define T_FLUSH	 4
#define T_GET_ID 8
#define S_OK	 0
#define S_IOERR	 1
#define S_UNSUPP 2

static uint8_t *ram;
static struct guest_mem mem;
static struct virtq q;
static struct blk *blk;
static char path[64];
static int disk_fd;

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)((off >> 9) * 3 + off % 251);
}

static void make_disk(const char *p, uint64_t size)
{
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f);
	for (uint64_t off = 0; off < size; off++)
		fputc(pattern(off), f);
	fclose(f);
}

static void setup(void)
{
	log_set_level(LOG_OFF);
	ram = calloc(1, RAM_SIZE);
	cr_assert_not_null(ram);
	mem = (struct guest_mem){ .nr = 1, .size = RAM_SIZE, .fd = -1 };
	mem.r[0] = (struct guest_region){ .gpa = 0, .size = RAM_SIZE, .hva = ram };
	virtq_init(&q);
	q.size = QSIZE;
	q.desc_gpa = DESC;
	q.avail_gpa = AVAIL;
	q.used_gpa = USED;
	cr_assert_eq(virtq_activate(&q, &mem, blk_ops.queue_max, false), 0);

	snprintf(path, sizeof(path), "/tmp/mvm-blk-XXXXXX");
	disk_fd = mkstemp(path);
	cr_assert_geq(disk_fd, 0);
	make_disk(path, DISK_SECTORS * 512ULL);
	blk = blk_create("rootfs", path, false, false, false, false, NULL);
	cr_assert_not_null(blk);
}

static void teardown(void)
{
	blk_destroy(blk);
	close(disk_fd);
	unlink(path);
	free(ram);
}

TestSuite(blk, .init = setup, .fini = teardown);

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

static void hdr_at(uint64_t gpa, uint32_t type, uint64_t sector)
{
	uint32_t t[2] = { type, 0 };
	memcpy(ram + gpa, t, 8);
	memcpy(ram + gpa + 8, &sector, 8);
}

/* Chain `n` segments into descriptors 0..n-1, offer it, process; returns the used length. */
static uint32_t submit(const struct seg *s, int n)
{
	for (int i = 0; i < n; i++) {
		struct virtq_desc d = { s[i].gpa, s[i].len,
					(uint16_t)((s[i].write ? VIRTQ_DESC_F_WRITE : 0) |
						   (i < n - 1 ? VIRTQ_DESC_F_NEXT : 0)),
					(uint16_t)(i + 1) };
		memcpy(ram + DESC + 16 * i, &d, sizeof(d));
	}
	uint16_t *avail = (uint16_t *)(ram + AVAIL), *used = (uint16_t *)(ram + USED);
	avail[2 + avail[1] % QSIZE] = 0;
	avail[1]++;
	uint16_t before = used[1];
	bool fatal = false;
	cr_assert(blk_ops.process(blk, 0, &q, &fatal), "a used buffer was added");
	cr_assert_not(fatal);
	cr_assert_eq((uint16_t)(used[1] - before), 1, "exactly one used element");
	struct virtq_used_elem e;
	memcpy(&e, ram + USED + 4 + 8 * (before % QSIZE), sizeof(e));
	cr_assert_eq(e.id, 0);
	return e.len;
}

/* The simplest request: header, one data buffer, status. */
static uint32_t rw(uint32_t type, uint64_t sector, uint32_t len)
{
	hdr_at(HDR, type, sector);
	ram[STATUS] = 0xee;
	struct seg s[] = { { HDR, 16, false }, { DATA, len, type == T_IN }, { STATUS, 1, true } };
	return submit(s, 3);
}

static void check_file(uint64_t off, const uint8_t *want, size_t len, const char *what)
{
	uint8_t *got = malloc(len);
	cr_assert_not_null(got);
	cr_assert_eq(pread(disk_fd, got, len, (off_t)off), (ssize_t)len);
	cr_expect_eq(memcmp(got, want, len), 0, "%s: file content at %#llx", what,
		     (unsigned long long)off);
	free(got);
}

static bool file_is_pristine(void)
{
	uint8_t buf[4096];
	for (uint64_t off = 0; off < DISK_SECTORS * 512ULL; off += sizeof(buf)) {
		if (pread(disk_fd, buf, sizeof(buf), (off_t)off) != sizeof(buf))
			return false;
		for (size_t i = 0; i < sizeof(buf); i++)
			if (buf[i] != pattern(off + i))
				return false;
	}
	return true;
}

static bool ram_matches_disk(uint64_t gpa, uint64_t disk_off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (ram[gpa + i] != pattern(disk_off + i))
			return false;
	return true;
}

Test(blk, read_returns_file_data_and_status_ok)
{
	uint32_t used = rw(T_IN, 3, 1024);
	cr_expect_eq(ram[STATUS], S_OK);
	cr_expect(ram_matches_disk(DATA, 3 * 512, 1024));
	cr_expect_eq(used, 1024 + 1, "data bytes + the status byte");
	struct blk_stats st;
	blk_get_stats(blk, &st);
	cr_expect_eq(st.read_count, 1);
	cr_expect_eq(st.read_bytes, 1024);
}

Test(blk, write_lands_in_the_file_at_the_sector_offset)
{
	for (int i = 0; i < 1024; i++)
		ram[DATA + i] = (uint8_t)(0xa0 ^ i);
	uint32_t used = rw(T_OUT, 5, 1024);
	cr_expect_eq(ram[STATUS], S_OK);
	cr_expect_eq(used, 1, "a write returns only the status byte");
	check_file(5 * 512, ram + DATA, 1024, "written data");
	uint8_t before[512], after[512];
	for (int i = 0; i < 512; i++) {
		before[i] = pattern(4 * 512 + i);
		after[i] = pattern(7 * 512 + i);
	}
	check_file(4 * 512, before, 512, "the sector before is untouched");
	check_file(7 * 512, after, 512, "the sector after is untouched");
	struct blk_stats st;
	blk_get_stats(blk, &st);
	cr_expect_eq(st.write_count, 1);
	cr_expect_eq(st.write_bytes, 1024);
}

Test(blk, last_sector_is_readable_and_writable)
{
	cr_expect_eq(rw(T_IN, DISK_SECTORS - 1, 512), 513);
	cr_expect_eq(ram[STATUS], S_OK);
	cr_expect(ram_matches_disk(DATA, (DISK_SECTORS - 1) * 512ULL, 512));
	cr_expect_eq(rw(T_OUT, DISK_SECTORS - 1, 512), 1);
	cr_expect_eq(ram[STATUS], S_OK);
}

Test(blk, read_split_over_descriptors_at_odd_offsets)
{
	hdr_at(HDR, T_IN, 10);
	struct seg s[] = {
		{ HDR, 16, false },	      { DATA + 1, 100, true }, { DATA + 0x1003, 333, true },
		{ DATA + 0x2005, 591, true }, { STATUS, 1, true },
	};
	cr_expect_eq(submit(s, 5), 1024 + 1);
	cr_expect_eq(ram[STATUS], S_OK);
	cr_expect(ram_matches_disk(DATA + 1, 10 * 512, 100));
	cr_expect(ram_matches_disk(DATA + 0x1003, 10 * 512 + 100, 333));
	cr_expect(ram_matches_disk(DATA + 0x2005, 10 * 512 + 433, 591));
}

Test(blk, write_with_data_sharing_the_header_descriptor)
{
	/* Header and the first 7 data bytes in one buffer, the rest split oddly. */
	hdr_at(HDR, T_OUT, 9);
	uint8_t want[1024];
	for (int i = 0; i < 1024; i++)
		want[i] = (uint8_t)(i * 5 + 1);
	memcpy(ram + HDR + 16, want, 7);
	memcpy(ram + DATA + 3, want + 7, 500);
	memcpy(ram + DATA + 0x1001, want + 507, 517);
	struct seg s[] = { { HDR, 16 + 7, false },
			   { DATA + 3, 500, false },
			   { DATA + 0x1001, 517, false },
			   { STATUS, 1, true } };
	cr_expect_eq(submit(s, 4), 1);
	cr_expect_eq(ram[STATUS], S_OK);
	check_file(9 * 512, want, 1024, "gathered write");
}

Test(blk, header_split_across_descriptors)
{
	hdr_at(HDR, T_IN, 2);
	memmove(ram + HDR + 0x100, ram + HDR + 5, 11); /* bytes 5..15 elsewhere */
	struct seg s[] = { { HDR, 5, false },
			   { HDR + 0x100, 11, false },
			   { DATA, 512, true },
			   { STATUS, 1, true } };
	cr_expect_eq(submit(s, 4), 513);
	cr_expect_eq(ram[STATUS], S_OK);
	cr_expect(ram_matches_disk(DATA, 2 * 512, 512), "the sector came from the split header");
}

Test(blk, status_in_the_last_byte_of_the_data_buffer)
{
	hdr_at(HDR, T_IN, 1);
	ram[DATA + 512] = 0xee;
	struct seg s[] = { { HDR, 16, false }, { DATA, 513, true } };
	cr_expect_eq(submit(s, 2), 513);
	cr_expect_eq(ram[DATA + 512], S_OK);
	cr_expect(ram_matches_disk(DATA, 512, 512));
}

Test(blk, read_through_an_indirect_table_of_1022_segments)
{
	/* header + 1022 data sectors + status = VIRTQ_MAX_CHAIN descriptors */
	hdr_at(HDR, T_IN, 0);
	struct virtq_desc *t = (struct virtq_desc *)(ram + ITAB);
	t[0] = (struct virtq_desc){ HDR, 16, VIRTQ_DESC_F_NEXT, 1 };
	for (uint16_t i = 1; i <= 1022; i++)
		t[i] = (struct virtq_desc){ DATA + 512ULL * i, 512,
					    VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE,
					    (uint16_t)(i + 1) };
	t[1023] = (struct virtq_desc){ STATUS, 1, VIRTQ_DESC_F_WRITE, 0 };
	ram[STATUS] = 0xee;
	struct virtq_desc ind = { ITAB, 16 * 1024, VIRTQ_DESC_F_INDIRECT, 0 };
	memcpy(ram + DESC, &ind, sizeof(ind));
	uint16_t *avail = (uint16_t *)(ram + AVAIL), *used = (uint16_t *)(ram + USED);
	avail[2] = 0;
	avail[1] = 1;
	bool fatal = false;
	cr_assert(blk_ops.process(blk, 0, &q, &fatal));
	cr_assert_eq(used[1], 1);
	cr_expect_eq(ram[STATUS], S_OK);
	uint32_t len;
	memcpy(&len, ram + USED + 8, 4);
	cr_expect_eq(len, 1022 * 512 + 1);
	for (int i = 1; i <= 1022; i++)
		if (!ram_matches_disk(DATA + 512ULL * i, 512ULL * (i - 1), 512))
			cr_assert_fail("segment %d holds the wrong sector", i);
}

Test(blk, flush_succeeds_in_both_cache_modes)
{
	hdr_at(HDR, T_FLUSH, 0);
	ram[STATUS] = 0xee;
	struct seg s[] = { { HDR, 16, false }, { STATUS, 1, true } };
	cr_expect_eq(submit(s, 2), 1);
	cr_expect_eq(ram[STATUS], S_OK);

	blk_destroy(blk);
	blk = blk_create("wb", path, false, true, false, false, NULL);
	cr_assert_not_null(blk);
	ram[STATUS] = 0xee;
	cr_expect_eq(submit(s, 2), 1);
	cr_expect_eq(ram[STATUS], S_OK, "Writeback: fdatasync");
	struct blk_stats st;
	blk_get_stats(blk, &st);
	cr_expect_eq(st.flush_count, 1);
}

Test(blk, get_id_returns_the_drive_id_in_20_bytes)
{
	hdr_at(HDR, T_GET_ID, 0);
	memset(ram + DATA, 0xee, 32);
	struct seg s[] = { { HDR, 16, false }, { DATA, 20, true }, { STATUS, 1, true } };
	cr_expect_eq(submit(s, 3), 21);
	cr_expect_eq(ram[STATUS], S_OK);
	static const uint8_t want[20] = "rootfs";
	cr_expect_eq(memcmp(ram + DATA, want, 20), 0, "id padded with NULs");
	cr_expect_eq(ram[DATA + 20], 0xee, "nothing past the 20 bytes");
}

Test(blk, get_id_truncates_long_ids_to_20_bytes)
{
	blk_destroy(blk);
	blk = blk_create("abcdefghijklmnopqrstuvwxyz", path, true, false, false, false, NULL);
	cr_assert_not_null(blk);
	hdr_at(HDR, T_GET_ID, 0);
	memset(ram + DATA, 0xee, 32);
	struct seg s[] = { { HDR, 16, false }, { DATA, 32, true }, { STATUS, 1, true } };
	cr_expect_eq(submit(s, 3), 21);
	cr_expect_eq(memcmp(ram + DATA, "abcdefghijklmnopqrst", 20), 0);
	cr_expect_eq(ram[DATA + 20], 0xee);
}

Test(blk, unknown_request_type_is_unsupported)
{
	static const uint32_t types[] = { 2, 11, 13, 0x99, 0xffffffff };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		hdr_at(HDR, types[i], 0);
		ram[STATUS] = 0xee;
		struct seg s[] = { { HDR, 16, false }, { STATUS, 1, true } };
		cr_expect_eq(submit(s, 2), 1, "type %#x", types[i]);
		cr_expect_eq(ram[STATUS], S_UNSUPP, "type %#x", types[i]);
	}
	cr_expect(file_is_pristine());
}

Test(blk, out_of_range_requests_fail_without_touching_anything)
{
	static const struct {
		uint32_t type;
		uint64_t sector;
		uint32_t len;
		const char *what;
	} cases[] = {
		{ T_IN, DISK_SECTORS, 512, "read just past the end" },
		{ T_IN, DISK_SECTORS - 1, 1024, "read straddling the end" },
		{ T_IN, UINT64_MAX, 512, "sector 2^64 - 1" },
		{ T_IN, 1ULL << 55, 512, "sector overflows when shifted" },
		{ T_IN, (UINT64_MAX >> 9) + 1, 512, "sector * 512 wraps to 0" },
		{ T_OUT, DISK_SECTORS, 512, "write just past the end" },
		{ T_OUT, DISK_SECTORS - 1, 1024, "write straddling the end" },
		{ T_OUT, (UINT64_MAX >> 9) + 1, 512, "write at a wrapped offset" },
		{ T_IN, 0, 511, "length not a multiple of 512" },
		{ T_IN, 0, 513, "length not a multiple of 512" },
		{ T_OUT, 0, 100, "write length not a multiple of 512" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(ram + DATA, 0xcc, 2048);
		cr_expect_eq(rw(cases[i].type, cases[i].sector, cases[i].len), 1,
			     "case %zu (%s): only the status is written", i, cases[i].what);
		cr_expect_eq(ram[STATUS], S_IOERR, "case %zu (%s)", i, cases[i].what);
		cr_expect_eq(ram[DATA], 0xcc, "case %zu (%s): data buffer written", i,
			     cases[i].what);
	}
	cr_expect(file_is_pristine(), "no write reached the file");
}

Test(blk, write_to_a_read_only_drive_fails_and_leaves_the_file)
{
	blk_destroy(blk);
	blk = blk_create("ro", path, true, false, false, false, NULL);
	cr_assert_not_null(blk);
	memset(ram + DATA, 0x11, 512);
	cr_expect_eq(rw(T_OUT, 0, 512), 1);
	cr_expect_eq(ram[STATUS], S_IOERR);
	cr_expect(file_is_pristine());
	cr_expect_eq(rw(T_IN, 0, 512), 513, "reads still work");
	cr_expect_eq(ram[STATUS], S_OK);
}

Test(blk, request_without_a_status_byte_gets_used_length_0)
{
	hdr_at(HDR, T_OUT, 0);
	memset(ram + DATA, 0x22, 512);
	struct seg s[] = { { HDR, 16, false }, { DATA, 512, false } };
	cr_expect_eq(submit(s, 2), 0);
	cr_expect(file_is_pristine(), "not executed");
	struct blk_stats st;
	blk_get_stats(blk, &st);
	cr_expect_eq(st.invalid_reqs, 1);
}

Test(blk, request_without_a_full_header_fails)
{
	hdr_at(HDR, T_IN, 0);
	ram[STATUS] = 0xee;
	struct seg s[] = { { HDR, 15, false }, { STATUS, 1, true } };
	cr_expect_eq(submit(s, 2), 1);
	cr_expect_eq(ram[STATUS], S_IOERR);
}

Test(blk, read_with_readable_data_after_the_header_fails)
{
	hdr_at(HDR, T_IN, 0);
	memset(ram + DATA, 0xcc, 1024);
	struct seg s[] = { { HDR, 16, false },
			   { DATA, 512, false },
			   { DATA + 512, 512, true },
			   { STATUS, 1, true } };
	cr_expect_eq(submit(s, 4), 1);
	cr_expect_eq(ram[STATUS], S_IOERR);
	cr_expect_eq(ram[DATA + 512], 0xcc);
}

Test(blk, malformed_chain_fails_with_status_when_reachable)
{
	hdr_at(HDR, T_IN, 0);
	ram[STATUS] = 0xee;
	struct seg s[] = { { HDR, 16, false }, { RAM_SIZE - 256, 512, true }, { STATUS, 1, true } };
	cr_expect_eq(submit(s, 3), 1);
	cr_expect_eq(ram[STATUS], S_IOERR);
	struct blk_stats st;
	blk_get_stats(blk, &st);
	cr_expect_eq(st.invalid_reqs, 1);
}

Test(blk, broken_avail_ring_is_fatal)
{
	uint16_t *avail = (uint16_t *)(ram + AVAIL);
	avail[1] = QSIZE + 1;
	bool fatal = false;
	blk_ops.process(blk, 0, &q, &fatal);
	cr_expect(fatal);
}

Test(blk, processes_every_available_request_in_one_call)
{
	uint16_t *avail = (uint16_t *)(ram + AVAIL), *used = (uint16_t *)(ram + USED);
	for (uint16_t r = 0; r < 8; r++) {
		uint16_t d = (uint16_t)(r * 3);
		uint64_t h = HDR + 16ULL * r, st = STATUS + r, data = DATA + 512ULL * r;
		hdr_at(h, T_IN, r);
		struct virtq_desc ds[3] = { { h, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(d + 1) },
					    { data, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE,
					      (uint16_t)(d + 2) },
					    { st, 1, VIRTQ_DESC_F_WRITE, 0 } };
		memcpy(ram + DESC + 16 * d, ds, sizeof(ds));
		avail[2 + r] = d;
	}
	avail[1] = 8;
	bool fatal = false;
	cr_assert(blk_ops.process(blk, 0, &q, &fatal));
	cr_expect_eq(used[1], 8);
	for (int r = 0; r < 8; r++) {
		cr_expect_eq(ram[STATUS + r], S_OK, "request %d", r);
		cr_expect(ram_matches_disk(DATA + 512ULL * r, 512ULL * r, 512), "request %d", r);
	}
	cr_expect_not(blk_ops.process(blk, 0, &q, &fatal), "nothing left");
}

Test(blk, features_and_config_space)
{
	uint64_t f = blk_ops.features(blk);
	cr_expect(f & (1ULL << 9), "FLUSH");
	cr_expect(f & (1ULL << VIRTIO_RING_F_EVENT_IDX));
	cr_expect(f & (1ULL << VIRTIO_RING_F_INDIRECT_DESC));
	cr_expect_not(f & (1ULL << 5), "not RO");

	uint8_t cfg[24];
	memset(cfg, 0xff, sizeof(cfg));
	blk_ops.read_config(blk, 0, cfg, sizeof(cfg));
	uint64_t cap;
	uint32_t seg_max;
	memcpy(&cap, cfg, 8);
	memcpy(&seg_max, cfg + 12, 4);
	cr_expect_eq(cap, DISK_SECTORS);
	cr_expect_eq(seg_max, QSIZE - 2);
	cr_expect_eq(cfg[20], 0, "unknown fields read as 0");

	uint32_t hi = 0xffffffff;
	blk_ops.read_config(blk, 4, (uint8_t *)&hi, 4);
	cr_expect_eq(hi, 0, "upper half of the capacity");
	uint32_t lo = 0;
	blk_ops.read_config(blk, 0, (uint8_t *)&lo, 4);
	cr_expect_eq(lo, DISK_SECTORS);
	uint32_t far = 0xffffffff;
	blk_ops.read_config(blk, 0x1000, (uint8_t *)&far, 4);
	cr_expect_eq(far, 0, "beyond the config space");

	blk_destroy(blk);
	blk = blk_create("ro", path, true, false, false, false, NULL);
	cr_assert_not_null(blk);
	cr_expect(blk_ops.features(blk) & (1ULL << 5), "RO offered for a read-only drive");
}

Test(blk, capacity_ignores_a_partial_last_sector)
{
	char p[64];
	snprintf(p, sizeof(p), "/tmp/mvm-blk-XXXXXX");
	int fd = mkstemp(p);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 1000), 0);
	struct blk *b = blk_create("odd", p, true, false, false, false, NULL);
	cr_assert_not_null(b);
	cr_expect_eq(blk_capacity_sectors(b), 1);
	blk_destroy(b);
	close(fd);
	unlink(p);
}

Test(blk, set_backing_switches_file_and_capacity)
{
	char p[64];
	snprintf(p, sizeof(p), "/tmp/mvm-blk-XXXXXX");
	int fd = mkstemp(p);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 4096), 0);
	cr_assert_eq(pwrite(fd, "NEWDISK", 7, 512), 7);
	cr_assert_eq(blk_set_backing(blk, p, NULL), 0);
	cr_expect_eq(blk_capacity_sectors(blk), 8);
	cr_expect_eq(rw(T_IN, 1, 512), 513);
	cr_expect_eq(memcmp(ram + DATA, "NEWDISK", 7), 0);
	cr_expect_eq(rw(T_IN, 8, 512), 1, "the old capacity no longer applies");
	cr_expect_eq(ram[STATUS], S_IOERR);
	struct err e = { 0 };
	cr_expect_eq(blk_set_backing(blk, "/nonexistent/disk", &e), -ENOENT);
	cr_expect(strstr(e.msg, "/nonexistent/disk"), "the sentence names the file: %s", e.msg);
	cr_expect_eq(blk_capacity_sectors(blk), 8, "a failed swap keeps the current file");
	close(fd);
	unlink(p);
}

Test(blk, create_fails_on_a_missing_file_or_a_directory)
{
	struct err e = { 0 };
	cr_expect_null(blk_create("x", "/nonexistent/disk.img", false, false, false, false, &e));
	cr_expect_eq(e.code, -ENOENT, "code %d", e.code);
	cr_expect(strstr(e.msg, "drive x: /nonexistent/disk.img"),
		  "the sentence names the drive and the file: %s", e.msg);
	cr_expect_null(blk_create("x", "/nonexistent/disk.img", true, false, false, false, NULL));
	err_clear(&e);
	cr_expect_null(blk_create("x", "/tmp", true, false, false, false, &e),
		       "a directory is not a disk");
	cr_expect(strstr(e.msg, "drive x: /tmp"), "the sentence names the drive and the file: %s",
		  e.msg);
}

Test(blk, create_read_only_succeeds_on_a_read_only_file)
{
	cr_assert_eq(chmod(path, 0444), 0);
	struct blk *b = blk_create("ro", path, true, false, false, false, NULL);
	cr_expect_not_null(b);
	blk_destroy(b);
}

Test(blk, create_read_write_fails_on_a_read_only_file)
{
	cr_assert_eq(chmod(path, 0444), 0);
	if (access(path, W_OK) == 0)
		cr_skip_test("root bypasses file permissions");
	struct err e = { 0 };
	cr_expect_null(blk_create("rw", path, false, false, false, false, &e));
	cr_expect(strstr(e.msg, "is_read_only"), "the sentence says how to fix it: %s", e.msg);
}
