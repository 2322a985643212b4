/* vmm/x86/bootparam.c: the e820 map, the Linux zero page and PVH's hvm_start_info. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/util.h"
#include "../../vmm/x86/bootparam.h"
#include "../../vmm/x86/layout.h"
#include "../../vmm/x86/pvh.h"

/* A guest_mem with the real layout for `size` but no backing: e820_build needs only gpa/size. */
static struct guest_mem layout_only(uint64_t size)
{
	struct guest_mem m = { .size = size, .fd = -1 };
	m.nr = guest_mem_layout(size, m.r);
	return m;
}

/* No entry overlaps the EBDA/legacy hole or the MMIO gap; sorted, disjoint, all RAM. */
static void check_e820(const struct e820_map *map, uint64_t ram)
{
	uint64_t total = 0, prev_end = 0;
	for (int i = 0; i < map->nr; i++) {
		const struct boot_e820_entry *e = &map->e[i];
		uint64_t end = e->addr + e->size;
		cr_expect_eq(e->type, E820_RAM, "entry %d", i);
		cr_expect_gt(e->size, 0, "entry %d is empty", i);
		cr_expect_geq(e->addr, prev_end, "entry %d overlaps or is out of order", i);
		cr_expect(end <= EBDA_START || e->addr >= HIMEM_START,
			  "entry %d [%#llx, %#llx) overlaps the EBDA/legacy hole", i,
			  (unsigned long long)e->addr, (unsigned long long)end);
		cr_expect(end <= MMIO32_START || e->addr >= MMIO32_END,
			  "entry %d [%#llx, %#llx) overlaps the MMIO gap", i,
			  (unsigned long long)e->addr, (unsigned long long)end);
		prev_end = end;
		total += e->size;
	}
	uint64_t hidden = MIN(ram, HIMEM_START) - MIN(ram, EBDA_START);
	cr_expect_eq(total, ram - hidden, "every byte of RAM outside the hole is reported");
}

Test(e820, map_for_64_mib)
{
	struct guest_mem m = layout_only(MiB(64));
	struct e820_map map;
	e820_build(&m, &map);
	cr_assert_eq(map.nr, 2);
	cr_expect_eq(map.e[0].addr, 0);
	cr_expect_eq(map.e[0].size, EBDA_START);
	cr_expect_eq(map.e[1].addr, HIMEM_START);
	cr_expect_eq(map.e[1].size, MiB(64) - HIMEM_START);
	check_e820(&map, MiB(64));
}

Test(e820, map_for_exactly_3_gib)
{
	struct guest_mem m = layout_only(GiB(3));
	struct e820_map map;
	e820_build(&m, &map);
	cr_assert_eq(map.nr, 2);
	cr_expect_eq(map.e[1].addr + map.e[1].size, MMIO32_START);
	check_e820(&map, GiB(3));
}

Test(e820, map_for_4_gib_puts_the_rest_at_4_gib)
{
	struct guest_mem m = layout_only(GiB(4));
	struct e820_map map;
	e820_build(&m, &map);
	cr_assert_eq(map.nr, 3);
	cr_expect_eq(map.e[1].addr + map.e[1].size, MMIO32_START);
	cr_expect_eq(map.e[2].addr, RAM_HIGH_START);
	cr_expect_eq(map.e[2].size, GiB(1));
	check_e820(&map, GiB(4));
}

Test(e820, map_for_ram_smaller_than_the_ebda)
{
	struct guest_mem m = layout_only(KiB(512));
	struct e820_map map;
	e820_build(&m, &map);
	cr_assert_eq(map.nr, 1);
	cr_expect_eq(map.e[0].size, KiB(512));
	check_e820(&map, KiB(512));
}

/* 1 MiB of fake RAM at GPA 0. */
static uint8_t *ram;
static struct guest_mem mem;

static void setup(void)
{
	ram = calloc(1, MiB(1));
	cr_assert_not_null(ram);
	memset(ram, 0xcc, MiB(1));
	mem = (struct guest_mem){ .nr = 1, .size = MiB(1), .fd = -1 };
	mem.r[0] = (struct guest_region){ .gpa = 0, .size = MiB(1), .hva = ram };
}

static void teardown(void)
{
	free(ram);
}

static struct e820_map map_of(uint64_t size)
{
	struct guest_mem m = layout_only(size);
	struct e820_map map;
	e820_build(&m, &map);
	return map;
}

TestSuite(zeropage, .init = setup, .fini = teardown);

Test(zeropage, fields_for_an_elf_kernel)
{
	struct e820_map map = map_of(GiB(4));
	struct boot_info bi = { .cmdline_addr = CMDLINE_START,
				.cmdline_size = 42,
				.initrd_addr = 0x3000000,
				.initrd_size = 0x123456 };
	cr_assert_eq(bootparams_write(&mem, &bi, &map), 0);
	struct boot_params *bp = (struct boot_params *)(ram + ZERO_PAGE_START);
	cr_expect_eq(bp->hdr.boot_flag, 0xaa55);
	cr_expect_eq(memcmp(&bp->hdr.header, "HdrS", 4), 0);
	cr_expect_eq(bp->hdr.type_of_loader, 0xff);
	cr_expect_eq(bp->hdr.cmd_line_ptr, CMDLINE_START);
	cr_expect_eq(bp->ext_cmd_line_ptr, 0);
	cr_expect_eq(bp->hdr.cmdline_size, 42);
	cr_expect_eq(bp->hdr.ramdisk_image, 0x3000000);
	cr_expect_eq(bp->hdr.ramdisk_size, 0x123456);
	cr_expect_eq(bp->ext_ramdisk_image, 0);
	cr_expect_eq(bp->ext_ramdisk_size, 0);
	cr_assert_eq(bp->e820_entries, map.nr);
	for (int i = 0; i < map.nr; i++)
		cr_expect_eq(memcmp(&bp->e820_table[i], &map.e[i], sizeof(map.e[i])), 0,
			     "e820 entry %d copied", i);
	/* Everything else in the page was cleared, not left as 0xcc. */
	cr_expect_eq(bp->screen_info.orig_video_mode, 0);
	cr_expect_eq(ram[ZERO_PAGE_START + sizeof(*bp)], 0xcc, "nothing written past the page");
}

Test(zeropage, no_initrd_leaves_ramdisk_fields_zero)
{
	struct e820_map map = map_of(MiB(64));
	struct boot_info bi = { .cmdline_addr = CMDLINE_START, .cmdline_size = 1 };
	cr_assert_eq(bootparams_write(&mem, &bi, &map), 0);
	struct boot_params *bp = (struct boot_params *)(ram + ZERO_PAGE_START);
	cr_expect_eq(bp->hdr.ramdisk_image, 0);
	cr_expect_eq(bp->hdr.ramdisk_size, 0);
}

Test(zeropage, addresses_above_4_gib_use_the_ext_fields)
{
	struct e820_map map = map_of(MiB(64));
	struct boot_info bi = { .cmdline_addr = 0x100020000ULL,
				.cmdline_size = 8,
				.initrd_addr = 0x200000000ULL,
				.initrd_size = 0x100000001ULL };
	cr_assert_eq(bootparams_write(&mem, &bi, &map), 0);
	struct boot_params *bp = (struct boot_params *)(ram + ZERO_PAGE_START);
	cr_expect_eq(bp->hdr.cmd_line_ptr, 0x20000);
	cr_expect_eq(bp->ext_cmd_line_ptr, 1);
	cr_expect_eq(bp->hdr.ramdisk_image, 0);
	cr_expect_eq(bp->ext_ramdisk_image, 2);
	cr_expect_eq(bp->hdr.ramdisk_size, 1);
	cr_expect_eq(bp->ext_ramdisk_size, 1);
}

Test(zeropage, bzimage_setup_header_is_copied_with_loader_fields_overridden)
{
	struct setup_header hdr = { 0 };
	hdr.setup_sects = 27;
	hdr.boot_flag = 0xaa55;
	hdr.header = 0x53726448;
	hdr.version = 0x020f;
	hdr.type_of_loader = 0x21;
	hdr.cmd_line_ptr = 0xdead;
	hdr.cmdline_size = 2047;
	hdr.init_size = 0x1234000;
	struct e820_map map = map_of(MiB(64));
	struct boot_info bi = { .cmdline_addr = CMDLINE_START, .cmdline_size = 10, .hdr = &hdr };
	cr_assert_eq(bootparams_write(&mem, &bi, &map), 0);
	struct boot_params *bp = (struct boot_params *)(ram + ZERO_PAGE_START);
	cr_expect_eq(bp->hdr.setup_sects, 27);
	cr_expect_eq(bp->hdr.version, 0x020f);
	cr_expect_eq(bp->hdr.init_size, 0x1234000);
	cr_expect_eq(bp->hdr.cmdline_size, 2047, "the kernel's own limit stays");
	cr_expect_eq(bp->hdr.type_of_loader, 0xff);
	cr_expect_eq(bp->hdr.cmd_line_ptr, CMDLINE_START);
}

Test(zeropage, fails_when_ram_cannot_hold_it)
{
	struct e820_map map = map_of(MiB(64));
	struct boot_info bi = { .cmdline_addr = CMDLINE_START };
	mem.r[0].size = mem.size = ZERO_PAGE_START + 100;
	cr_expect_eq(bootparams_write(&mem, &bi, &map), -EFAULT);
	cr_expect_eq(ram[ZERO_PAGE_START], 0xcc, "nothing written");
}

TestSuite(pvh, .init = setup, .fini = teardown);

Test(pvh, start_info_without_initrd)
{
	struct e820_map map = map_of(GiB(4));
	struct boot_info bi = { .cmdline_addr = CMDLINE_START, .cmdline_size = 42 };
	cr_assert_eq(pvh_info_write(&mem, &bi, &map), 0);
	struct hvm_start_info *si = (struct hvm_start_info *)(ram + PVH_INFO_START);
	cr_expect_eq(si->magic, 0x336ec578);
	cr_expect_eq(si->version, 1);
	cr_expect_eq(si->cmdline_paddr, CMDLINE_START);
	cr_expect_eq(si->nr_modules, 0);
	cr_expect_eq(si->modlist_paddr, 0);
	cr_expect_eq(si->rsdp_paddr, 0, "no ACPI");
	cr_expect_eq(si->memmap_paddr, PVH_MEMMAP_START);
	cr_assert_eq(si->memmap_entries, (uint32_t)map.nr);
	cr_expect_geq(si->memmap_paddr, PVH_INFO_START + sizeof(*si), "memmap after the info");
	struct hvm_memmap_table_entry *mm = (void *)(ram + si->memmap_paddr);
	for (int i = 0; i < map.nr; i++) {
		cr_expect_eq(mm[i].addr, map.e[i].addr, "entry %d", i);
		cr_expect_eq(mm[i].size, map.e[i].size, "entry %d", i);
		cr_expect_eq(mm[i].type, map.e[i].type, "entry %d", i);
		cr_expect_eq(mm[i].reserved, 0, "entry %d", i);
	}
}

Test(pvh, start_info_with_initrd_has_one_module)
{
	struct e820_map map = map_of(MiB(64));
	struct boot_info bi = { .cmdline_addr = CMDLINE_START,
				.cmdline_size = 4,
				.initrd_addr = 0x3f00000,
				.initrd_size = 0xabcd };
	cr_assert_eq(pvh_info_write(&mem, &bi, &map), 0);
	struct hvm_start_info *si = (struct hvm_start_info *)(ram + PVH_INFO_START);
	cr_expect_eq(si->nr_modules, 1);
	cr_assert_eq(si->modlist_paddr, PVH_MODLIST_START);
	cr_expect_geq(si->modlist_paddr, PVH_MEMMAP_START + PVH_MEMMAP_MAX * 24,
		      "module list after the largest memmap");
	struct hvm_modlist_entry *mod = (void *)(ram + si->modlist_paddr);
	cr_expect_eq(mod->paddr, 0x3f00000);
	cr_expect_eq(mod->size, 0xabcd);
	cr_expect_eq(mod->cmdline_paddr, 0);
}

Test(pvh, fails_when_ram_cannot_hold_it)
{
	struct e820_map map = map_of(MiB(64));
	struct boot_info bi = { .cmdline_addr = CMDLINE_START };
	mem.r[0].size = mem.size = PVH_MODLIST_START; /* the module list does not fit */
	cr_expect_eq(pvh_info_write(&mem, &bi, &map), -EFAULT);
	cr_expect_eq(ram[PVH_INFO_START], 0xcc, "nothing written");
}

Test(pvh, rsdp_address_reaches_both_boot_protocols)
{
	struct e820_map map = map_of(MiB(64));
	struct boot_info bi = { .cmdline_addr = CMDLINE_START, .rsdp_addr = ACPI_START };
	e820_reserve(&map, ACPI_START, HIMEM_START - ACPI_START);
	cr_assert_eq(pvh_info_write(&mem, &bi, &map), 0);
	struct hvm_start_info *si = (struct hvm_start_info *)(ram + PVH_INFO_START);
	cr_expect_eq(si->rsdp_paddr, ACPI_START);
	struct hvm_memmap_table_entry *mm = (void *)(ram + si->memmap_paddr);
	cr_assert_eq(si->memmap_entries, (uint32_t)map.nr);
	cr_expect_eq(mm[map.nr - 1].addr, ACPI_START);
	cr_expect_eq(mm[map.nr - 1].type, E820_RESERVED);
	cr_assert_eq(bootparams_write(&mem, &bi, &map), 0);
	struct boot_params *bp = (struct boot_params *)(ram + ZERO_PAGE_START);
	cr_expect_eq(bp->acpi_rsdp_addr, ACPI_START);
	cr_expect_eq(bp->e820_table[map.nr - 1].type, E820_RESERVED);
}
