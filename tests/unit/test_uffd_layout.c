/*
 * snapshot/uffd.c uffd_layout_json(): the region layout the Uffd backend sends
 * to the page-fault handler, over a hand-built guest_mem (no mappings needed).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../snapshot/uffd.h"
#include "../../lib/json.h"
#include "../../lib/util.h"

/* The real shape: RAM split around the 32-bit MMIO gap, one file, two mappings. */
static struct guest_mem two_regions(void)
{
	struct guest_mem m = { .nr = 2, .fd = -1 };
	m.r[0] = (struct guest_region){ .gpa = 0,
					.size = GiB(3),
					.hva = (uint8_t *)(uintptr_t)0x7f0000000000ULL,
					.file_off = 0 };
	m.r[1] = (struct guest_region){ .gpa = GiB(4),
					.size = GiB(1),
					.hva = (uint8_t *)(uintptr_t)0x7e0000200000ULL,
					.file_off = GiB(3) };
	m.size = GiB(4);
	return m;
}

static int member(const struct json *j, int obj, const char *name)
{
	int k = obj + 1;
	for (int i = 0; i < j->t[obj].size; i++, k = json_next(j, k + 1))
		if (json_key_is(j, k, name))
			return k + 1;
	return -1;
}

static uint64_t get(const struct json *j, int obj, const char *name)
{
	struct err e;
	uint64_t v = 0;
	int t = member(j, obj, name);
	cr_assert_geq(t, 0, "region lacks '%s'", name);
	cr_assert_eq(json_u64(j, t, name, 0, UINT64_MAX, &v, &e), 0, "%s", e.msg);
	return v;
}

/* Lay m out and check each region against m->r[]. */
static void check_layout(const struct guest_mem *m)
{
	char buf[1024];
	struct json j;
	struct err e;
	int n = uffd_layout_json(m, buf, sizeof(buf));
	cr_assert_gt(n, 0, "uffd_layout_json: %d", n);
	cr_expect_eq((size_t)n, strlen(buf), "the return value is the length");
	cr_assert_eq(json_parse(&j, buf, (size_t)n, &e), 0, "%s: %s", e.msg, buf);
	cr_assert_eq(j.t[0].type, JSMN_ARRAY, "%s", buf);
	cr_assert_eq(j.t[0].size, m->nr, "one object per region: %s", buf);
	int o = 1;
	for (int i = 0; i < m->nr; i++, o = json_next(&j, o)) {
		cr_assert_eq(j.t[o].type, JSMN_OBJECT);
		cr_expect_eq(get(&j, o, "base_host_virt_addr"), (uintptr_t)m->r[i].hva, "region %d",
			     i);
		cr_expect_eq(get(&j, o, "size"), m->r[i].size, "region %d", i);
		cr_expect_eq(get(&j, o, "offset"), m->r[i].file_off, "region %d", i);
		uint64_t page = m->backing == MEM_HUGETLB ? MiB(2) : 4096;
		cr_expect_eq(get(&j, o, "page_size"), page, "region %d", i);
		cr_expect_eq(get(&j, o, "page_size_kib"), page >> 10, "region %d", i);
	}
	json_free(&j);
}

Test(uffd_layout, two_regions_one_object_each)
{
	struct guest_mem m = two_regions();
	check_layout(&m);
}

Test(uffd_layout, hugetlbfs_ram_is_served_in_2_mib_pages)
{
	struct guest_mem m = two_regions();
	m.backing = MEM_HUGETLB;
	check_layout(&m);
}

Test(uffd_layout, one_region)
{
	struct guest_mem m = two_regions();
	m.nr = 1;
	m.r[0].size = MiB(128);
	check_layout(&m);
}

Test(uffd_layout, no_regions_is_an_empty_array)
{
	struct guest_mem m = { .nr = 0, .fd = -1 };
	char buf[8];
	cr_expect_eq(uffd_layout_json(&m, buf, sizeof(buf)), 2);
	cr_expect_str_eq(buf, "[]");
}

Test(uffd_layout, extreme_values_are_exact)
{
	struct guest_mem m = { .nr = 1, .fd = -1 };
	m.r[0] = (struct guest_region){ .size = UINT64_MAX,
					.hva = (uint8_t *)UINTPTR_MAX,
					.file_off = UINT64_MAX - 4095 };
	check_layout(&m);
}

Test(uffd_layout, agrees_with_the_real_memory_layout)
{
	/* guest_mem_layout() decides the regions and file offsets: feed it through. */
	static const uint64_t sizes[] = { MiB(128), GiB(3), GiB(3) + MiB(2), GiB(8) };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct guest_mem m = { .fd = -1, .size = sizes[i] };
		m.nr = guest_mem_layout(sizes[i], m.r);
		for (int r = 0; r < m.nr; r++)
			m.r[r].hva = (uint8_t *)(uintptr_t)(0x100000000000ULL * (uint64_t)(r + 1));
		check_layout(&m);
	}
}

Test(uffd_layout, small_buffers_get_enospc_and_are_not_overrun)
{
	struct guest_mem m = two_regions();
	char full[1024];
	int len = uffd_layout_json(&m, full, sizeof(full));
	cr_assert_gt(len, 0);
	/* Every size that cannot hold the text and its NUL; heap buffers so ASan sees overruns. */
	for (size_t size = 1; size <= (size_t)len; size++) {
		char *buf = malloc(size);
		cr_assert_not_null(buf);
		cr_expect_eq(uffd_layout_json(&m, buf, size), -ENOSPC, "size %zu of %d", size, len);
		free(buf);
	}
	char *exact = malloc((size_t)len + 1);
	cr_assert_not_null(exact);
	cr_expect_eq(uffd_layout_json(&m, exact, (size_t)len + 1), len, "len + 1 bytes suffice");
	cr_expect_str_eq(exact, full);
	free(exact);
}

Test(uffd_layout, zero_size_buffer_is_enospc)
{
	struct guest_mem m = two_regions();
	char c = 'z';
	cr_expect_eq(uffd_layout_json(&m, &c, 0), -ENOSPC);
	cr_expect_eq(c, 'z', "nothing written into a zero-size buffer");
}

Test(uffd_layout, fits_the_buffer_uffd_handover_uses)
{
	/* uffd_handover() lays the message out in 1024 bytes: the largest values must fit. */
	struct guest_mem m = { .nr = GUEST_MEM_MAX_REGIONS, .fd = -1 };
	for (int i = 0; i < GUEST_MEM_MAX_REGIONS; i++)
		m.r[i] = (struct guest_region){ .size = UINT64_MAX,
						.hva = (uint8_t *)UINTPTR_MAX,
						.file_off = UINT64_MAX };
	char buf[1024];
	cr_expect_gt(uffd_layout_json(&m, buf, sizeof(buf)), 0);
}
