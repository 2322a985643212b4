/* vmm/x86/pagetable.c: boot identity map and boot GDT. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/util.h"
#include "../../vmm/x86/layout.h"
#include "../../vmm/x86/pagetable.h"

#define P	  0x1ULL
#define RW	  0x2ULL
#define PS	  0x80ULL
#define ADDR_MASK 0x000ffffffffff000ULL

static uint8_t *ram;
static struct guest_mem mem;

static void setup(void)
{
	ram = malloc(MiB(1));
	cr_assert_not_null(ram);
	memset(ram, 0xcc, MiB(1));
	mem = (struct guest_mem){ .nr = 1, .size = MiB(1), .fd = -1 };
	mem.r[0] = (struct guest_region){ .gpa = 0, .size = MiB(1), .hva = ram };
}

static void teardown(void)
{
	free(ram);
}

TestSuite(pagetable, .init = setup, .fini = teardown);
TestSuite(gdt, .init = setup, .fini = teardown);

static uint64_t entry(uint64_t table_gpa, unsigned idx)
{
	uint64_t v;
	memcpy(&v, ram + table_gpa + idx * 8, 8);
	return v;
}

/* Walk the tables like the MMU: 0 when not mapped. */
static int translate(uint64_t va, uint64_t *pa)
{
	uint64_t e = entry(PML4_START, (va >> 39) & 511);
	if (!(e & P))
		return -1;
	e = entry(e & ADDR_MASK, (va >> 30) & 511);
	if (!(e & P))
		return -1;
	cr_assert_not(e & PS, "no 1 GiB pages expected");
	e = entry(e & ADDR_MASK, (va >> 21) & 511);
	if (!(e & P))
		return -1;
	cr_assert(e & PS, "2 MiB pages expected");
	*pa = (e & ~0x1fffffULL & ADDR_MASK) | (va & 0x1fffff);
	return 0;
}

Test(pagetable, pml4_points_to_the_pdpt)
{
	cr_assert_eq(pagetables_write(&mem), 0);
	cr_expect_eq(entry(PML4_START, 0), PDPTE_START | P | RW);
	for (unsigned i = 1; i < 512; i++)
		cr_expect_eq(entry(PML4_START, i), 0, "PML4[%u] must be empty", i);
	for (unsigned i = 0; i < 4; i++)
		cr_expect_eq(entry(PDPTE_START, i), (PDE_START + i * 4096) | P | RW, "PDPT[%u]", i);
	for (unsigned i = 4; i < 512; i++)
		cr_expect_eq(entry(PDPTE_START, i), 0, "PDPT[%u]: nothing above 4 GiB", i);
}

Test(pagetable, identity_maps_4_gib_with_2_mib_pages)
{
	cr_assert_eq(pagetables_write(&mem), 0);
	for (unsigned i = 0; i < 4 * 512; i++) {
		uint64_t e = entry(PDE_START, i);
		cr_expect_eq(e, ((uint64_t)i << 21) | P | RW | PS, "PD entry %u", i);
		if (e != (((uint64_t)i << 21) | P | RW | PS))
			break;
	}
	static const uint64_t probes[] = { 0,	       0x1234,	   0x100000,  0x12345678,
					   0xbfffffff, 0xfee00000, 0xffffffff };
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		uint64_t pa = 0;
		cr_expect_eq(translate(probes[i], &pa), 0, "%#llx not mapped",
			     (unsigned long long)probes[i]);
		cr_expect_eq(pa, probes[i], "%#llx is not identity mapped",
			     (unsigned long long)probes[i]);
	}
	uint64_t pa;
	cr_expect_neq(translate(GiB(4), &pa), 0, "4 GiB and above are not mapped");
}

Test(pagetable, tables_do_not_overlap_other_boot_structures)
{
	cr_assert_eq(pagetables_write(&mem), 0);
	/* PML4, PDPT and four PDs: [PML4_START, PDE_START + 4 pages). */
	cr_expect_geq(PML4_START, ZERO_PAGE_START + 4096);
	cr_expect_leq(PDE_START + 4 * 4096, CMDLINE_START);
	cr_expect_eq(ram[PDE_START + 4 * 4096], 0xcc, "nothing written after the last PD");
	cr_expect_eq(ram[PML4_START - 1], 0xcc, "nothing written before the PML4");
}

Test(pagetable, fails_when_ram_cannot_hold_the_tables)
{
	mem.r[0].size = mem.size = PDE_START + 4 * 4096 - 1;
	cr_expect_eq(pagetables_write(&mem), -EFAULT);
	cr_expect_eq(entry(PML4_START, 0), 0xccccccccccccccccULL, "nothing written");
}

Test(gdt, long_mode_code_segment_has_l_set_and_d_clear)
{
	uint64_t gdt[4];
	struct kvm_segment s;
	cr_assert_eq(gdt_write(&mem, true, gdt), 0);
	cr_expect_eq(gdt[0], 0, "null descriptor");
	cr_expect_eq(gdt[GDT_CODE], 0x00af9b000000ffffULL);
	gdt_to_segment(gdt[GDT_CODE], GDT_CODE, &s);
	cr_expect_eq(s.selector, 8);
	cr_expect_eq(s.l, 1);
	cr_expect_eq(s.db, 0);
	cr_expect_eq(s.type, 0xb, "execute/read, accessed");
	cr_expect_eq(s.s, 1);
	cr_expect_eq(s.present, 1);
	cr_expect_eq(s.dpl, 0);
	cr_expect_eq(s.g, 1);
	cr_expect_eq(s.base, 0);
	cr_expect_eq(s.limit, 0xffffffff, "limit scaled by G");
	cr_expect_eq(s.unusable, 0);
	cr_expect_eq(memcmp(ram + BOOT_GDT_START, gdt, sizeof(gdt)), 0, "GDT copied to guest RAM");
}

Test(gdt, pvh_code_segment_is_32_bit)
{
	uint64_t gdt[4];
	struct kvm_segment s;
	cr_assert_eq(gdt_write(&mem, false, gdt), 0);
	gdt_to_segment(gdt[GDT_CODE], GDT_CODE, &s);
	cr_expect_eq(s.l, 0);
	cr_expect_eq(s.db, 1);
	cr_expect_eq(s.type, 0xb);
	cr_expect_eq(s.limit, 0xffffffff);
}

Test(gdt, data_and_tss_segments)
{
	uint64_t gdt[4];
	struct kvm_segment s;
	cr_assert_eq(gdt_write(&mem, true, gdt), 0);
	gdt_to_segment(gdt[GDT_DATA], GDT_DATA, &s);
	cr_expect_eq(s.selector, 16);
	cr_expect_eq(s.type, 0x3, "read/write, accessed");
	cr_expect_eq(s.s, 1);
	cr_expect_eq(s.db, 1);
	cr_expect_eq(s.l, 0);
	cr_expect_eq(s.present, 1);
	cr_expect_eq(s.limit, 0xffffffff);

	gdt_to_segment(gdt[GDT_TSS], GDT_TSS, &s);
	cr_expect_eq(s.selector, 24);
	cr_expect_eq(s.type, 0xb, "busy 64-bit TSS");
	cr_expect_eq(s.s, 0, "system segment");
	cr_expect_eq(s.present, 1);
}

Test(gdt, entry_and_segment_round_trip)
{
	static const struct {
		uint16_t flags;
		uint32_t base, limit;
	} cases[] = {
		{ 0x409b, 0x12345678, 0xabcde }, /* byte granular: limit as is */
		{ 0xc093, 0xff000001, 0x00001 }, /* page granular */
		{ 0x00f3, 0x00fedcba, 0xfffff }, /* DPL 3, 16-bit */
		{ 0x2089, 0x80000000, 0x00067 }, /* L, TSS */
		{ 0x109b, 0x0, 0x0 },		 /* AVL */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kvm_segment s;
		uint16_t f = cases[i].flags;
		gdt_to_segment(gdt_entry(f, cases[i].base, cases[i].limit), 5, &s);
		bool g = f & 0x8000;
		cr_expect_eq(s.base, cases[i].base, "case %zu base", i);
		cr_expect_eq(s.limit, g ? (cases[i].limit << 12) | 0xfff : cases[i].limit,
			     "case %zu limit", i);
		cr_expect_eq(s.type, f & 0xf, "case %zu type", i);
		cr_expect_eq(s.s, (f >> 4) & 1, "case %zu s", i);
		cr_expect_eq(s.dpl, (f >> 5) & 3, "case %zu dpl", i);
		cr_expect_eq(s.present, (f >> 7) & 1, "case %zu present", i);
		cr_expect_eq(s.avl, (f >> 12) & 1, "case %zu avl", i);
		cr_expect_eq(s.l, (f >> 13) & 1, "case %zu l", i);
		cr_expect_eq(s.db, (f >> 14) & 1, "case %zu db", i);
		cr_expect_eq(s.g, g, "case %zu g", i);
		cr_expect_eq(s.selector, 40);
	}
}

Test(gdt, not_present_segment_is_unusable)
{
	struct kvm_segment s;
	gdt_to_segment(gdt_entry(0xc013, 0, 0xfffff), 2, &s);
	cr_expect_eq(s.present, 0);
	cr_expect_eq(s.unusable, 1);
	gdt_to_segment(0, 0, &s);
	cr_expect_eq(s.unusable, 1, "the null descriptor");
}

Test(gdt, fails_when_ram_cannot_hold_it)
{
	uint64_t gdt[4];
	mem.r[0].size = mem.size = BOOT_GDT_START + 31;
	cr_expect_eq(gdt_write(&mem, true, gdt), -EFAULT);
}
