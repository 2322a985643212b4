/* snapshot/memfile.[ch]: full and diff memory files over a fake two-region guest. */
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
#include "../../snapshot/memfile.h"
#include "../../lib/util.h"

#define PG MEMFILE_PAGE_SIZE

/*
 * Region 0: 528 pages (over two 1 MiB chunks) at GPA 0, file offset 0.
 * Region 1: 32 pages at GPA 4 GiB, right after region 0 in the file (the real
 * layout puts it at 3 GiB, the size of region 0, in the same way).
 */
#define R0_PAGES 528
#define R1_PAGES 32
#define FILE_LEN ((uint64_t)(R0_PAGES + R1_PAGES) * PG)

static struct guest_mem mem;
static uint64_t bm0[(R0_PAGES + 63) / 64], bm1[(R1_PAGES + 63) / 64];
static const uint64_t *const bitmaps[2] = { bm0, bm1 };

static void setup(void)
{
	mem = (struct guest_mem){ .nr = 2, .fd = -1 };
	mem.r[0] = (struct guest_region){ .gpa = 0, .size = R0_PAGES * PG };
	mem.r[1] = (struct guest_region){ .gpa = GiB(4),
					  .size = R1_PAGES * PG,
					  .file_off = R0_PAGES * PG };
	mem.size = FILE_LEN;
	for (int i = 0; i < 2; i++) {
		mem.r[i].hva = aligned_alloc(PG, mem.r[i].size);
		cr_assert_not_null(mem.r[i].hva);
		memset(mem.r[i].hva, 0, mem.r[i].size);
	}
	memset(bm0, 0, sizeof(bm0));
	memset(bm1, 0, sizeof(bm1));
}

static void teardown(void)
{
	for (int i = 0; i < 2; i++)
		free(mem.r[i].hva);
}

TestSuite(snap_memfile, .init = setup, .fini = teardown);

static uint8_t *page(int region, uint64_t p)
{
	return mem.r[region].hva + p * PG;
}

/* A page whose content tells it apart from every other page and generation. */
static void fill(int region, uint64_t p, uint8_t gen)
{
	for (unsigned i = 0; i < PG; i++)
		page(region, p)[i] = (uint8_t)(gen + region * 7 + p + i / 64);
}

static void mark(uint64_t *bm, uint64_t p)
{
	bm[p / 64] |= 1ull << (p % 64);
}

/* A fresh file on a real filesystem, already unlinked. */
static int tmp_file(void)
{
	char path[] = "/tmp/mvm-memfile-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	unlink(path);
	return fd;
}

static uint64_t file_size(int fd)
{
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	return (uint64_t)st.st_size;
}

/* The file holds exactly the fake guest's RAM, region by region. */
static void expect_file_is_ram(int fd)
{
	cr_assert_eq(file_size(fd), FILE_LEN);
	for (int i = 0; i < 2; i++) {
		uint8_t *buf = malloc(mem.r[i].size);
		cr_assert_eq(read_full(fd, buf, mem.r[i].size, mem.r[i].file_off), 0);
		cr_expect_arr_eq(buf, mem.r[i].hva, mem.r[i].size, "region %d", i);
		free(buf);
	}
}

static int is_data(int fd, uint64_t off)
{
	return lseek(fd, (off_t)off, SEEK_DATA) == (off_t)off;
}

static uint64_t data_bytes(int fd)
{
	uint64_t n = 0;
	off_t off = 0, data, hole;

	while ((data = lseek(fd, off, SEEK_DATA)) >= 0) {
		hole = lseek(fd, data, SEEK_HOLE);
		cr_assert_gt(hole, data);
		n += (uint64_t)(hole - data);
		off = hole;
	}
	return n;
}

Test(snap_memfile, full_write_round_trips_and_leaves_zero_pages_as_holes)
{
	int fd = tmp_file();
	struct stat st;

	fill(0, 0, 1);
	fill(0, 1, 1);
	fill(0, 5, 1);
	fill(0, R0_PAGES - 1, 1);
	fill(1, 0, 1);
	fill(1, R1_PAGES - 1, 1);
	page(1, 9)[PG - 1] = 1; /* one non-zero byte makes a page data */

	cr_assert_eq(memfile_write_full(&mem, fd), 0);
	expect_file_is_ram(fd);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_expect_lt((uint64_t)st.st_blocks * 512, (uint64_t)st.st_size / 4, "%llu blocks",
		     (unsigned long long)st.st_blocks);
	cr_expect_eq(lseek(fd, 2 * PG, SEEK_DATA), 5 * PG, "pages 2..4 are a hole");
	cr_expect(is_data(fd, mem.r[1].file_off + 9 * PG));
	cr_expect_eq(data_bytes(fd), 7 * PG);
	close(fd);
}

Test(snap_memfile, full_write_of_dense_ram_crosses_chunks)
{
	int fd = tmp_file();

	for (uint64_t p = 0; p < R0_PAGES; p++)
		fill(0, p, 3);
	for (uint64_t p = 0; p < R1_PAGES; p++)
		fill(1, p, 3);
	cr_assert_eq(memfile_write_full(&mem, fd), 0);
	expect_file_is_ram(fd);
	cr_expect_eq(data_bytes(fd), FILE_LEN);
	close(fd);
}

Test(snap_memfile, full_write_discards_what_the_file_held)
{
	int fd = tmp_file();
	uint8_t junk[PG];

	memset(junk, 0xff, sizeof(junk));
	for (uint64_t off = 0; off < FILE_LEN + 8 * PG; off += PG)
		cr_assert_eq(write_full(fd, junk, sizeof(junk)), 0);
	fill(0, 3, 2);
	cr_assert_eq(memfile_write_full(&mem, fd), 0);
	expect_file_is_ram(fd);
	close(fd);
}

Test(snap_memfile, diff_writes_only_dirty_pages)
{
	int fd = tmp_file();
	uint8_t buf[PG], zero[PG] = { 0 };

	for (uint64_t p = 0; p < R0_PAGES; p++)
		fill(0, p, 4); /* everything non-zero: clean pages must not be written */
	for (uint64_t p = 0; p < R1_PAGES; p++)
		fill(1, p, 4);
	memset(page(0, 2), 0, PG); /* a dirty page the guest zeroed */
	mark(bm0, 1);
	mark(bm0, 2);
	mark(bm0, 64);
	mark(bm0, R0_PAGES - 1);
	mark(bm1, R1_PAGES - 1);

	cr_assert_eq(memfile_write_diff(&mem, bitmaps, fd), 0);
	cr_assert_eq(file_size(fd), FILE_LEN);
	for (int i = 0; i < 2; i++) {
		for (uint64_t p = 0; p < mem.r[i].size / PG; p++) {
			const uint64_t *bm = bitmaps[i];
			int dirty = (bm[p / 64] >> (p % 64)) & 1;
			cr_assert_eq(read_full(fd, buf, PG, mem.r[i].file_off + p * PG), 0);
			cr_assert_arr_eq(buf, dirty ? page(i, p) : zero, PG, "region %d page %llu",
					 i, (unsigned long long)p);
		}
	}
	cr_expect(is_data(fd, 2 * PG), "a dirty zero page is data, not a hole");
	cr_expect_eq(data_bytes(fd), 5 * PG, "holes everywhere else");
	close(fd);
}

Test(snap_memfile, diff_of_a_long_dirty_run_crosses_chunks)
{
	int fd = tmp_file();

	for (uint64_t p = 0; p < R0_PAGES; p++) {
		fill(0, p, 5);
		mark(bm0, p);
	}
	cr_assert_eq(memfile_write_diff(&mem, bitmaps, fd), 0);
	cr_expect_eq(data_bytes(fd), R0_PAGES * PG);
	expect_file_is_ram(fd); /* region 1 is zero in RAM and a hole in the file */
	close(fd);
}

static void merge_test(int base, int diff)
{
	fill(0, 1, 1);
	fill(0, 5, 1);
	fill(0, 300, 1);
	fill(1, 3, 1);
	cr_assert_eq(memfile_write_full(&mem, base), 0);

	/* The guest runs on: rewrites, zeroes and newly touches pages. */
	fill(0, 1, 9);
	mark(bm0, 1);
	memset(page(0, 5), 0, PG);
	mark(bm0, 5);
	fill(0, 6, 9);
	mark(bm0, 6);
	fill(1, 10, 9);
	mark(bm1, 10);
	cr_assert_eq(memfile_write_diff(&mem, bitmaps, diff), 0);

	cr_assert_eq(memfile_merge_diff(base, diff), 0);
	expect_file_is_ram(base);
}

Test(snap_memfile, merge_diff_onto_base_gives_the_later_state)
{
	int base = tmp_file(), diff = tmp_file();
	merge_test(base, diff);
	close(base);
	close(diff);
}

Test(snap_memfile, merge_diff_works_across_filesystems)
{
	/* A tmpfs diff onto an on-disk base: copy_file_range may refuse, pread/pwrite copies. */
	int base = tmp_file(), diff = memfd_create("diff", MFD_CLOEXEC);
	cr_assert_geq(diff, 0);
	merge_test(base, diff);
	close(base);
	close(diff);
}

Test(snap_memfile, merge_rejects_a_length_mismatch)
{
	int base = tmp_file(), diff = tmp_file();

	cr_assert_eq(ftruncate(base, FILE_LEN), 0);
	cr_assert_eq(ftruncate(diff, FILE_LEN + PG), 0);
	cr_expect_eq(memfile_merge_diff(base, diff), -EINVAL);
	close(base);
	close(diff);
}

Test(snap_memfile, rejects_bad_layouts_and_missing_bitmaps)
{
	int fd = tmp_file();
	const uint64_t *const none[2] = { bm0, NULL };
	uint64_t len;

	cr_expect_eq(memfile_len(&mem, &len), 0);
	cr_expect_eq(len, FILE_LEN);
	cr_expect_eq(memfile_write_diff(&mem, none, fd), -EINVAL);

	mem.r[1].file_off = PG; /* inside region 0 */
	cr_expect_eq(memfile_write_full(&mem, fd), -EINVAL);
	mem.r[1].file_off = R0_PAGES * PG + 1;
	cr_expect_eq(memfile_write_full(&mem, fd), -EINVAL);
	mem.r[1].file_off = R0_PAGES * PG;
	mem.r[1].size = PG + 1;
	cr_expect_eq(memfile_write_full(&mem, fd), -EINVAL);
	mem.r[1].size = R1_PAGES * PG;
	mem.nr = 0;
	cr_expect_eq(memfile_write_full(&mem, fd), -EINVAL);
	cr_expect_eq(file_size(fd), 0, "nothing written");
	close(fd);
}

Test(snap_memfile, check_explains_a_short_file)
{
	int fd = tmp_file();
	struct err err = { 0 };

	cr_assert_eq(ftruncate(fd, MiB(64)), 0);
	cr_expect_eq(memfile_check(fd, "vm.mem", MiB(128), &err), -EINVAL);
	cr_expect_str_eq(err.msg, "memory file vm.mem is 64 MiB, the snapshot's RAM is 128 MiB");
	cr_expect_eq(memfile_check(fd, NULL, MiB(64) + 1, &err), -EINVAL);
	cr_expect_str_eq(err.msg, "memory file is 64 MiB, the snapshot's RAM is 67108865 bytes");
	cr_assert_eq(ftruncate(fd, KiB(12)), 0);
	cr_expect_eq(memfile_check(fd, "m", MiB(1), &err), -EINVAL);
	cr_expect_str_eq(err.msg, "memory file m is 12 KiB, the snapshot's RAM is 1 MiB");

	cr_expect_eq(memfile_check(fd, "vm.mem", KiB(12), &err), 0);
	cr_expect_eq(memfile_check(fd, "vm.mem", KiB(8), NULL), 0, "longer is fine");
	close(fd);
}

Test(snap_memfile, check_rejects_what_is_not_a_regular_file)
{
	int p[2];
	struct err err = { 0 };

	cr_assert_eq(pipe(p), 0);
	cr_expect_eq(memfile_check(p[0], "vm.mem", MiB(1), &err), -EINVAL);
	cr_expect_str_eq(err.msg, "memory file vm.mem is not a regular file");
	close(p[0]);
	close(p[1]);
}
