/* snapshot/wset.[ch]: the working-set list's codec, its file, pagemap and prefetch. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../lib/err.h"
#include "../../lib/util.h"
#include "../../snapshot/wset.h"

static const uint8_t GEN[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
#define RAM MiB(1) /* 256 pages */

static struct wset sample(void)
{
	struct wset w = { .ram_len = RAM, .record_ms = 300 };
	memcpy(w.gen, GEN, 16);
	cr_assert_eq(wset_add(&w, 0, 3), 0);
	cr_assert_eq(wset_add(&w, 3, 2), 0, "touching runs merge");
	cr_assert_eq(wset_add(&w, 10, 1), 0);
	cr_assert_eq(wset_add(&w, 255, 1), 0, "the last page of RAM");
	return w;
}

Test(wset, add_merges_touching_runs)
{
	struct wset w = sample();
	cr_assert_eq(w.nr, 3);
	cr_expect_eq(w.runs[0].page, 0);
	cr_expect_eq(w.runs[0].count, 5);
	cr_expect_eq(w.pages, 7);
	wset_fini(&w);
}

Test(wset, encode_decode_round_trip)
{
	struct wset w = sample(), back;
	uint8_t *buf;
	size_t len;
	struct err e = { 0 };
	cr_assert_eq(wset_encode(&w, &buf, &len), 0);
	cr_expect_eq(len, WSET_HEADER_SIZE + 3 * WSET_RUN_SIZE);
	cr_assert_eq(wset_decode(buf, len, GEN, RAM, &back, &e), 0, "%s", e.msg);
	cr_expect_eq(back.nr, 3);
	cr_expect_eq(back.pages, 7);
	cr_expect_eq(back.record_ms, 300);
	cr_expect_eq(back.runs[2].page, 255);
	cr_expect_eq(memcmp(back.gen, GEN, 16), 0);
	free(buf);
	wset_fini(&back);
	wset_fini(&w);
}

Test(wset, an_empty_list_is_valid)
{
	struct wset w = { .ram_len = RAM }, back;
	uint8_t *buf;
	size_t len;
	struct err e = { 0 };
	memcpy(w.gen, GEN, 16);
	cr_assert_eq(wset_encode(&w, &buf, &len), 0);
	cr_expect_eq(wset_decode(buf, len, GEN, RAM, &back, &e), 0, "%s", e.msg);
	cr_expect_eq(back.nr, 0);
	free(buf);
}

/* A damaged copy of the sample's image: what to do to it, and what the message says. */
typedef void (*damage_fn)(uint8_t *buf, size_t *len);
static void truncate_header(uint8_t *b, size_t *len)
{
	(void)b, *len = 40;
}
static void truncate_run(uint8_t *b, size_t *len)
{
	(void)b, *len -= 8;
}
static void appended(uint8_t *b, size_t *len)
{
	(void)b, *len += 16;
}
static void bad_magic(uint8_t *b, size_t *len)
{
	(void)len, b[0] = 'X';
}
static void bad_version(uint8_t *b, size_t *len)
{
	(void)len, b[8] = 9;
}
static void flipped_run(uint8_t *b, size_t *len)
{
	(void)len, b[WSET_HEADER_SIZE + 1] ^= 1;
}
static void flipped_gen(uint8_t *b, size_t *len)
{
	(void)len, b[24] ^= 0x80;
}

Test(wset, decode_rejects_damaged_images)
{
	static const struct {
		damage_fn f;
		const char *want;
	} cases[] = {
		{ truncate_header, "shorter than" },
		{ truncate_run, "truncated" },
		{ appended, "appended" },
		{ bad_magic, "magic" },
		{ bad_version, "version" },
		{ flipped_run, "checksum" },
		{ flipped_gen, "checksum" },
	};
	struct wset w = sample();
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint8_t *buf, copy[512] = { 0 };
		size_t len;
		struct wset back;
		struct err e = { 0 };
		cr_assert_eq(wset_encode(&w, &buf, &len), 0);
		memcpy(copy, buf, len);
		free(buf);
		cases[i].f(copy, &len);
		cr_expect_eq(wset_decode(copy, len, GEN, RAM, &back, &e), -EINVAL, "case %zu", i);
		cr_expect(strstr(e.msg, cases[i].want), "case %zu: '%s' lacks '%s'", i, e.msg,
			  cases[i].want);
		cr_expect_null(back.runs);
	}
	wset_fini(&w);
}

Test(wset, decode_rejects_another_snapshots_list)
{
	struct wset w = sample(), back;
	uint8_t *buf, other[16] = { 0 };
	size_t len;
	struct err e = { 0 };
	cr_assert_eq(wset_encode(&w, &buf, &len), 0);
	cr_expect_eq(wset_decode(buf, len, other, RAM, &back, &e), -EINVAL);
	cr_expect(strstr(e.msg, "stale"), "%s", e.msg);
	cr_expect_eq(wset_decode(buf, len, GEN, RAM * 2, &back, &e), -EINVAL, "RAM size differs");
	free(buf);
	wset_fini(&w);
}

/* Runs that a correct checksum does not make right: overlapping, past RAM, empty. */
Test(wset, decode_rejects_bad_runs_with_a_good_checksum)
{
	static const struct wset_run bad[][2] = {
		{ { 5, 3 }, { 6, 1 } },	  /* overlap */
		{ { 5, 3 }, { 8, 1 } },	  /* touching: should have been one run */
		{ { 9, 1 }, { 2, 1 } },	  /* out of order */
		{ { 250, 7 }, { 0, 0 } }, /* past the 256 pages; then empty */
		{ { 0, 1 }, { UINT64_MAX, 2 } },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct wset w = { .ram_len = RAM, .nr = 2, .runs = (struct wset_run *)bad[i] };
		uint8_t *buf;
		size_t len;
		struct wset back;
		struct err e = { 0 };
		memcpy(w.gen, GEN, 16);
		w.pages = bad[i][0].count + bad[i][1].count;
		cr_assert_eq(wset_encode(&w, &buf, &len), 0);
		cr_expect_eq(wset_decode(buf, len, GEN, RAM, &back, &e), -EINVAL, "case %zu", i);
		cr_expect(strstr(e.msg, "run "), "case %zu: %s", i, e.msg);
		free(buf);
	}
}

Test(wset, decode_rejects_a_page_count_that_disagrees)
{
	struct wset w = sample(), back;
	uint8_t *buf;
	size_t len;
	struct err e = { 0 };
	w.pages = 99;
	cr_assert_eq(wset_encode(&w, &buf, &len), 0);
	cr_expect_eq(wset_decode(buf, len, GEN, RAM, &back, &e), -EINVAL);
	cr_expect(strstr(e.msg, "add up"), "%s", e.msg);
	free(buf);
	wset_fini(&w);
}

/*
 * Fuzz-style: every truncation, every single-bit flip and random garbage
 * (with and without a valid checksum) either decodes to runs that hold the
 * invariants or is refused; nothing crashes (ASan/UBSan in make asan).
 */
static void check_invariants(const struct wset *w)
{
	uint64_t end = 0, total = 0;
	for (uint32_t i = 0; i < w->nr; i++) {
		cr_assert(w->runs[i].count > 0);
		cr_assert(i == 0 || w->runs[i].page > end);
		cr_assert(w->runs[i].page + w->runs[i].count <= RAM / WSET_PAGE);
		end = w->runs[i].page + w->runs[i].count;
		total += w->runs[i].count;
	}
	cr_assert_eq(total, w->pages);
}

static void try_decode(const uint8_t *buf, size_t len)
{
	struct wset back;
	struct err e = { 0 };
	if (wset_decode(buf, len, GEN, RAM, &back, &e) == 0)
		check_invariants(&back);
	else
		cr_assert(e.msg[0], "a refusal says why");
	wset_fini(&back);
}

Test(wset, fuzz_truncations_flips_and_garbage)
{
	struct wset w = sample();
	uint8_t *buf;
	size_t len;
	cr_assert_eq(wset_encode(&w, &buf, &len), 0);
	for (size_t n = 0; n <= len; n++)
		try_decode(buf, n);
	for (size_t bit = 0; bit < len * 8; bit++) {
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		try_decode(buf, len);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	free(buf);
	srand(15);
	for (int round = 0; round < 20000; round++) {
		uint8_t g[WSET_HEADER_SIZE + 8 * WSET_RUN_SIZE];
		size_t n = WSET_HEADER_SIZE + (size_t)(rand() % 9) * WSET_RUN_SIZE;
		for (size_t i = 0; i < n; i++)
			g[i] = (uint8_t)rand();
		/* Half of them get past the outer checks to reach the run checks. */
		if (round % 2) {
			struct wset hdr = { .ram_len = RAM, .nr = (uint32_t)((n - 64) / 16) };
			memcpy(hdr.gen, GEN, 16);
			struct wset_run runs[8];
			for (uint32_t i = 0; i < hdr.nr; i++) {
				runs[i].page = (uint64_t)(rand() % 300);
				runs[i].count = (uint64_t)(rand() % 40);
				hdr.pages += runs[i].count;
			}
			hdr.runs = runs;
			uint8_t *img;
			size_t il;
			cr_assert_eq(wset_encode(&hdr, &img, &il), 0);
			memcpy(g, img, il);
			free(img);
		}
		try_decode(g, n);
	}
	wset_fini(&w);
}

Test(wset, save_and_load_through_a_file)
{
	char dir[] = "/tmp/wset-XXXXXX", path[64], tmp[80];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vm.snap.wset", dir);
	struct wset w = sample(), back;
	struct err e = { 0 };
	cr_expect_eq(wset_load(path, GEN, RAM, &back, &e), -ENOENT, "no list: not an error");
	cr_assert_eq(wset_save(path, &w, &e), 0, "%s", e.msg);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	cr_expect_neq(access(tmp, F_OK), 0, "no temporary left");
	cr_assert_eq(wset_load(path, GEN, RAM, &back, &e), 0, "%s", e.msg);
	cr_expect_eq(back.pages, 7);
	wset_fini(&back);
	/* Truncated on disk: refused with the file's name. */
	cr_assert_eq(truncate(path, 70), 0);
	cr_expect_eq(wset_load(path, GEN, RAM, &back, &e), -EINVAL);
	cr_expect(strstr(e.msg, path), "%s", e.msg);
	unlink(path);
	rmdir(dir);
	wset_fini(&w);
}

Test(wset, path_is_beside_the_snapshot)
{
	char buf[32];
	cr_expect_eq(wset_path("dir/vm.snap", buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, "dir/vm.snap.wset");
	cr_expect_eq(wset_path("a-very-long-snapshot-name.snap", buf, sizeof(buf)), -ENAMETOOLONG);
}

/* A 128-page memory file mapped MAP_PRIVATE like a File restore's RAM. */
static void map_file(struct guest_mem *m, char *path)
{
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 128 * 4096), 0);
	memset(m, 0, sizeof(*m));
	m->nr = 1;
	m->size = m->r[0].size = 128 * 4096;
	m->r[0].hva = mmap(NULL, m->r[0].size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	cr_assert_neq(m->r[0].hva, MAP_FAILED);
	/* No readahead, so a fault brings its own page into the page cache only. */
	madvise(m->r[0].hva, m->r[0].size, MADV_RANDOM);
	m->fd = fd;
}

Test(wset, pagemap_sees_touched_pages_and_populate_maps_listed_ones)
{
	char path[] = "/tmp/wset-mem-XXXXXX";
	struct guest_mem m;
	map_file(&m, path);
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(pm, 0);

	struct wset w = { 0 };
	cr_assert_eq(wset_from_pagemap(&m, pm, &w), 0);
	cr_expect_eq(w.pages, 0, "nothing touched yet");
	wset_fini(&w);

	m.r[0].hva[5 * 4096] = 1;			     /* written: copy-on-write */
	(void)*(volatile uint8_t *)(m.r[0].hva + 40 * 4096); /* read */
	cr_assert_eq(wset_from_pagemap(&m, pm, &w), 0);
	cr_expect_eq(w.nr, 2);
	cr_expect_eq(w.runs[0].page, 5);
	cr_expect_eq(w.runs[1].page, 40);
	wset_fini(&w);

	/* A fresh mapping: populate the list's pages, and only those appear. (A read
	 * fault also maps what the page cache holds in its 16-page window aligned by
	 * address, fault-around: pages 5 and 40 are cached now, so the runs keep
	 * more than 16 pages clear of them.) */
	munmap(m.r[0].hva, m.r[0].size);
	m.r[0].hva = mmap(NULL, m.r[0].size, PROT_READ | PROT_WRITE, MAP_PRIVATE, m.fd, 0);
	madvise(m.r[0].hva, m.r[0].size, MADV_RANDOM);
	struct wset list = { 0 };
	wset_add(&list, 70, 4);
	wset_add(&list, 110, 4);
	cr_expect_eq(wset_populate(&m, &list), 8);
	cr_assert_eq(wset_from_pagemap(&m, pm, &w), 0);
	cr_expect_eq(w.nr, 2);
	cr_expect_eq(w.pages, 8);
	cr_expect_eq(w.runs[0].page, 70);
	cr_expect_eq(w.runs[1].page, 110);
	uint8_t *buf;
	size_t len;
	cr_assert_eq(wset_encode(&w, &buf, &len), 0);
	free(buf);
	wset_fini(&w);
	wset_fini(&list);
	close(pm);
	munmap(m.r[0].hva, m.r[0].size);
	close(m.fd);
	unlink(path);
}
