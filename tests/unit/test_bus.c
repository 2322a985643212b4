/* vmm/bus.c: sorted address ranges, binary search, whole-access containment. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../vmm/bus.h"

struct calls {
	int n;
	uint64_t off;
	uint32_t len;
	bool write;
	uint8_t data[8];
};

static void record(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool write)
{
	struct calls *c = opaque;
	c->n++;
	c->off = off;
	c->len = len;
	c->write = write;
	if (write)
		memcpy(c->data, data, len < 8 ? len : 8);
	else
		memset(data, 0xa5, len);
}

Test(bus, finds_a_range_at_both_edges_only)
{
	struct bus b = { .nr = 0 };
	struct calls c = { 0 };
	cr_assert_eq(bus_register(&b, 0x1000, 0x100, record, &c, "dev"), 0);
	cr_expect_null(bus_find(&b, 0xfff));
	cr_expect_not_null(bus_find(&b, 0x1000));
	cr_expect_not_null(bus_find(&b, 0x10ff));
	cr_expect_null(bus_find(&b, 0x1100));
	cr_expect_str_eq(bus_find(&b, 0x1080)->name, "dev");
}

Test(bus, empty_bus_finds_nothing)
{
	struct bus b = { .nr = 0 };
	cr_expect_null(bus_find(&b, 0));
	cr_expect_null(bus_find(&b, UINT64_MAX));
	uint8_t d = 0;
	cr_expect_not(bus_access(&b, 0x3f8, &d, 1, true));
}

Test(bus, rejects_overlapping_ranges)
{
	static const struct {
		uint64_t base, len;
		const char *what;
	} cases[] = {
		{ 0x1000, 0x100, "identical" },	      { 0x0f00, 0x101, "overlaps the start" },
		{ 0x10ff, 0x10, "overlaps the end" }, { 0x0f00, 0x1000, "contains it" },
		{ 0x1010, 0x10, "inside it" },	      { 0x1000, 1, "same base, shorter" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bus b = { .nr = 0 };
		cr_assert_eq(bus_register(&b, 0x1000, 0x100, record, NULL, "a"), 0);
		cr_expect_eq(bus_register(&b, cases[i].base, cases[i].len, record, NULL, "b"),
			     -EEXIST, "case %zu (%s)", i, cases[i].what);
		cr_expect_eq(b.nr, 1, "case %zu: nothing added", i);
	}
}

Test(bus, accepts_adjacent_ranges)
{
	struct bus b = { .nr = 0 };
	cr_assert_eq(bus_register(&b, 0x1000, 0x100, record, NULL, "mid"), 0);
	cr_expect_eq(bus_register(&b, 0x1100, 0x100, record, NULL, "above"), 0);
	cr_expect_eq(bus_register(&b, 0x0f00, 0x100, record, NULL, "below"), 0);
	cr_expect_str_eq(bus_find(&b, 0x10ff)->name, "mid");
	cr_expect_str_eq(bus_find(&b, 0x1100)->name, "above");
	cr_expect_str_eq(bus_find(&b, 0x0fff)->name, "below");
}

Test(bus, rejects_empty_and_wrapping_ranges)
{
	struct bus b = { .nr = 0 };
	cr_expect_eq(bus_register(&b, 0x1000, 0, record, NULL, "empty"), -EINVAL);
	cr_expect_eq(bus_register(&b, UINT64_MAX, 2, record, NULL, "wraps"), -EINVAL);
	cr_expect_eq(bus_register(&b, 0xfffffffffffff000ULL, 0x2000, record, NULL, "wraps"),
		     -EINVAL);
	cr_expect_eq(b.nr, 0);
	cr_expect_eq(bus_register(&b, UINT64_MAX - 0xff, 0xff, record, NULL, "top"), 0,
		     "a range ending just below 2^64 is fine");
	cr_expect_not_null(bus_find(&b, UINT64_MAX - 1));
}

Test(bus, refuses_more_than_the_maximum_ranges)
{
	struct bus b = { .nr = 0 };
	for (int i = 0; i < BUS_MAX_RANGES; i++)
		cr_assert_eq(bus_register(&b, (uint64_t)i * 0x10, 8, record, NULL, "r"), 0);
	cr_expect_eq(bus_register(&b, 0x10000, 8, record, NULL, "one too many"), -ENOSPC);
	cr_expect_eq(b.nr, BUS_MAX_RANGES);
}

Test(bus, binary_search_finds_every_range_registered_out_of_order)
{
	struct bus b = { .nr = 0 };
	static char names[BUS_MAX_RANGES][8];
	/* Range k: [k*0x100, k*0x100 + 0x10 + k), registered in a scrambled order. */
	for (int i = 0; i < BUS_MAX_RANGES; i++) {
		int k = (i * 29) % BUS_MAX_RANGES; /* 29 is coprime with 48: a permutation */
		snprintf(names[k], sizeof(names[k]), "r%d", k);
		cr_assert_eq(bus_register(&b, (uint64_t)k * 0x100, 0x10 + (uint64_t)k, record, NULL,
					  names[k]),
			     0);
	}
	for (int k = 0; k < BUS_MAX_RANGES; k++) {
		uint64_t base = (uint64_t)k * 0x100, end = base + 0x10 + (uint64_t)k;
		cr_expect(b.r[k].base == base, "ranges are kept sorted (%d)", k);
		const struct bus_range *r = bus_find(&b, base);
		cr_expect(r && !strcmp(r->name, names[k]), "first byte of r%d", k);
		r = bus_find(&b, end - 1);
		cr_expect(r && !strcmp(r->name, names[k]), "last byte of r%d", k);
		cr_expect_null(bus_find(&b, end), "gap after r%d", k);
		cr_expect_null(bus_find(&b, base + 0xff), "gap before r%d", k + 1);
	}
}

Test(bus, access_passes_the_offset_and_data)
{
	struct bus b = { .nr = 0 };
	struct calls c = { 0 };
	cr_assert_eq(bus_register(&b, 0x3f8, 8, record, &c, "uart"), 0);
	uint8_t v = 'x';
	cr_assert(bus_access(&b, 0x3f8 + 5, &v, 1, true));
	cr_expect_eq(c.n, 1);
	cr_expect_eq(c.off, 5, "offset relative to the base");
	cr_expect(c.write);
	cr_expect_eq(c.data[0], 'x');

	uint8_t r[2] = { 0 };
	cr_assert(bus_access(&b, 0x3f8 + 6, r, 2, false), "the last two bytes");
	cr_expect_eq(c.n, 2);
	cr_expect_eq(r[0], 0xa5);
	cr_expect_eq(r[1], 0xa5);
}

Test(bus, access_straddling_the_end_of_a_range_is_refused)
{
	struct bus b = { .nr = 0 };
	struct calls c = { 0 }, next = { 0 };
	cr_assert_eq(bus_register(&b, 0x1000, 0x10, record, &c, "a"), 0);
	cr_assert_eq(bus_register(&b, 0x1010, 0x10, record, &next, "b"), 0);
	uint8_t d[8] = { 0 };
	cr_expect_not(bus_access(&b, 0x100c, d, 8, true), "4 bytes in a, 4 in b");
	cr_expect_not(bus_access(&b, 0x100f, d, 2, false));
	cr_expect_not(bus_access(&b, 0x1000, d, 0x11, false), "longer than the range");
	cr_expect_not(bus_access(&b, 0x0fff, d, 2, false), "starts before the range");
	cr_expect_eq(c.n, 0, "the handler never sees a partial access");
	cr_expect_eq(next.n, 0);
	cr_expect(bus_access(&b, 0x100c, d, 4, false), "exactly up to the end");
	cr_expect_eq(c.n, 1);
}
