/* vmm/memory.[ch]: RAM split around the MMIO gap, and the one checked translator. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "../../vmm/memory.h"
#include "../../lib/util.h"
#include "../../vmm/x86/layout.h"

Test(memory, layout_below_the_gap_is_one_region)
{
	struct guest_region r[GUEST_MEM_MAX_REGIONS];
	cr_assert_eq(guest_mem_layout(MiB(64), r), 1);
	cr_expect_eq(r[0].gpa, 0);
	cr_expect_eq(r[0].size, MiB(64));
	cr_expect_eq(r[0].file_off, 0);
	cr_expect_eq(r[1].size, 0, "unused slot is cleared");
}

Test(memory, layout_of_exactly_3_gib_fills_up_to_the_gap)
{
	struct guest_region r[GUEST_MEM_MAX_REGIONS];
	cr_assert_eq(guest_mem_layout(GiB(3), r), 1);
	cr_expect_eq(r[0].gpa + r[0].size, MMIO32_START);
}

Test(memory, layout_above_3_gib_continues_at_4_gib)
{
	struct guest_region r[GUEST_MEM_MAX_REGIONS];
	cr_assert_eq(guest_mem_layout(GiB(4), r), 2);
	cr_expect_eq(r[0].gpa, 0);
	cr_expect_eq(r[0].size, GiB(3));
	cr_expect_eq(r[1].gpa, GiB(4));
	cr_expect_eq(r[1].size, GiB(1));
	cr_expect_eq(r[1].file_off, GiB(3), "the file holds RAM without the gap");

	cr_assert_eq(guest_mem_layout(GiB(3) + 4096, r), 2);
	cr_expect_eq(r[1].size, 4096, "one page above the gap");
}

/* Two fake regions: [0, 4 KiB) and [4 GiB, 4 GiB + 4 KiB). */
static uint8_t low[4096], high[4096];
static const struct guest_mem fake = {
	.r = { { .gpa = 0, .size = sizeof(low), .hva = low },
	       { .gpa = GiB(4), .size = sizeof(high), .hva = high } },
	.nr = 2,
	.size = sizeof(low) + sizeof(high),
	.fd = -1,
};

Test(memory, gpa_to_hva_bounds)
{
	static const struct {
		uint64_t gpa, len;
		const uint8_t *want; /* NULL: must fail */
		const char *what;
	} cases[] = {
		{ 0, 1, low, "first byte" },
		{ 4095, 1, low + 4095, "last byte" },
		{ 0, 4096, low, "the whole region" },
		{ 4096, 1, NULL, "one past the end" },
		{ 4095, 2, NULL, "straddles the end" },
		{ 0, 4097, NULL, "one byte too long" },
		{ 4096, 0, low + 4096, "zero length at the end" },
		{ 4097, 0, NULL, "zero length past the end" },
		{ 1, UINT64_MAX, NULL, "gpa + len wraps" },
		{ UINT64_MAX, 2, NULL, "gpa at the top, wraps" },
		{ UINT64_MAX, 0, NULL, "top of the address space" },
		{ 16, UINT64_MAX - 8, NULL, "huge length" },
		{ MMIO32_START, 1, NULL, "the MMIO gap" },
		{ GiB(4) - 1, 2, NULL, "straddles the start of the high region" },
		{ GiB(4), 1, high, "first byte of the high region" },
		{ GiB(4) + 4095, 1, high + 4095, "last byte of the high region" },
		{ GiB(4) + 4000, 200, NULL, "straddles the end of the high region" },
		{ GiB(4) + 4096, 1, NULL, "past the high region" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		void *p = gpa_to_hva(&fake, cases[i].gpa, cases[i].len);
		cr_expect_eq(p, (void *)cases[i].want, "case %zu (%s): got %p want %p", i,
			     cases[i].what, p, (void *)cases[i].want);
	}
}

Test(memory, init_rejects_empty_and_unaligned_sizes)
{
	struct guest_mem m;
	cr_expect_eq(guest_mem_init(&m, 0, MEM_ANON, -1, false), -EINVAL);
	cr_expect_eq(guest_mem_init(&m, 4097, MEM_ANON, -1, false), -EINVAL);
	cr_expect_eq(m.fd, -1);
	guest_mem_fini(&m); /* harmless on a failed init */
}

Test(memory, anonymous_ram_below_the_gap)
{
	struct guest_mem m;
	cr_assert_eq(guest_mem_init(&m, MiB(64), MEM_ANON, -1, false), 0);
	cr_expect_eq(m.nr, 1);
	cr_expect_eq(guest_mem_low_end(&m), MiB(64));
	uint8_t *last = gpa_to_hva(&m, MiB(64) - 1, 1);
	cr_assert_not_null(last);
	*last = 0x5a;
	cr_expect_eq(*(uint8_t *)gpa_to_hva(&m, MiB(64) - 1, 1), 0x5a);
	cr_expect_null(gpa_to_hva(&m, MiB(64), 1));
	guest_mem_fini(&m);
	cr_expect_null(m.r[0].hva);
}

Test(memory, ram_above_the_gap_is_mapped_at_4_gib)
{
	struct guest_mem m;
	/* MAP_NORESERVE: only the touched pages cost anything. */
	cr_assert_eq(guest_mem_init(&m, GiB(3) + MiB(2), MEM_MEMFD, -1, false), 0);
	cr_expect_eq(m.nr, 2);
	cr_expect_geq(m.fd, 0);
	cr_expect_eq(guest_mem_low_end(&m), MMIO32_START);
	uint8_t *a = gpa_to_hva(&m, MMIO32_START - 1, 1);
	uint8_t *b = gpa_to_hva(&m, RAM_HIGH_START, 1);
	cr_assert_not_null(a);
	cr_assert_not_null(b);
	cr_expect_null(gpa_to_hva(&m, MMIO32_START, 1));
	cr_expect_null(gpa_to_hva(&m, MMIO32_START - 1, 2), "no access across the gap");
	cr_expect_null(gpa_to_hva(&m, RAM_HIGH_START + MiB(2), 1));
	*a = 1;
	*b = 2;
	/* The memfd holds RAM without the gap: GPA 4 GiB is file offset 3 GiB. */
	uint8_t v = 0;
	cr_expect_eq(pread(m.fd, &v, 1, (off_t)GiB(3)), 1);
	cr_expect_eq(v, 2);
	cr_expect_eq(pread(m.fd, &v, 1, (off_t)GiB(3) - 1), 1);
	cr_expect_eq(v, 1);
	guest_mem_fini(&m);
	cr_expect_eq(m.fd, -1);
}

Test(memory, hugetlbfs_ram_needs_whole_2_mib_pages)
{
	struct guest_mem m;
	cr_expect_eq(guest_mem_init(&m, MiB(3), MEM_HUGETLB, -1, false), -EINVAL);
	cr_expect_eq(guest_mem_init(&m, MiB(2) + 4096, MEM_HUGETLB, -1, false), -EINVAL);
	cr_expect_eq(m.fd, -1);
}

Test(memory, hugetlbfs_ram_larger_than_the_pool_fails_at_once)
{
	struct guest_mem m;
	uint64_t avail;
	if (guest_mem_hugepages_available(&avail)) {
		cr_skip_test("no /sys/kernel/mm/hugepages/hugepages-2048kB here");
		return;
	}
	/* One page more than the pool has: refused when mapped, not when touched. */
	cr_expect_eq(guest_mem_init(&m, (avail + 1) * MiB(2), MEM_HUGETLB, -1, false), -ENOMEM);
	cr_expect_eq(m.fd, -1, "nothing is left open");
	cr_expect_null(m.r[0].hva, "nothing is left mapped");
}
