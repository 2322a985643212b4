#include "bootparam.h"

#include <errno.h>
#include <string.h>

#include "../../lib/util.h"
#include "layout.h"
#include "pvh.h"

static void e820_add(struct e820_map *map, uint64_t addr, uint64_t size, uint32_t type)
{
	if (size == 0 || map->nr == E820_MAX_ENTRIES_MVM)
		return;
	map->e[map->nr++] = (struct boot_e820_entry){ .addr = addr, .size = size, .type = type };
}

void e820_build(const struct guest_mem *m, struct e820_map *map)
{
	memset(map, 0, sizeof(*map));
	uint64_t low_end = guest_mem_low_end(m);

	/* Below the EBDA; the MP table and the legacy hole are left out. */
	e820_add(map, 0, MIN(low_end, EBDA_START), E820_RAM);
	if (low_end > HIMEM_START)
		e820_add(map, HIMEM_START, low_end - HIMEM_START, E820_RAM);
	for (int i = 1; i < m->nr; i++)
		e820_add(map, m->r[i].gpa, m->r[i].size, E820_RAM);
}

void e820_reserve(struct e820_map *map, uint64_t addr, uint64_t size)
{
	e820_add(map, addr, size, E820_RESERVED);
}

int bootparams_write(struct guest_mem *m, const struct boot_info *bi, const struct e820_map *map)
{
	struct boot_params *bp = gpa_to_hva(m, ZERO_PAGE_START, sizeof(*bp));
	if (!bp)
		return -EFAULT;
	memset(bp, 0, sizeof(*bp));

	if (bi->hdr) {
		bp->hdr = *bi->hdr;
	} else {
		bp->hdr.boot_flag = 0xaa55;
		bp->hdr.header = 0x53726448; /* "HdrS" */
		bp->hdr.kernel_alignment = 0x1000000;
	}
	bp->hdr.type_of_loader = 0xff; /* undefined loader */
	bp->hdr.cmd_line_ptr = (uint32_t)bi->cmdline_addr;
	bp->ext_cmd_line_ptr = (uint32_t)(bi->cmdline_addr >> 32);
	if (!bi->hdr)
		bp->hdr.cmdline_size = bi->cmdline_size;
	if (bi->initrd_size) {
		bp->hdr.ramdisk_image = (uint32_t)bi->initrd_addr;
		bp->ext_ramdisk_image = (uint32_t)(bi->initrd_addr >> 32);
		bp->hdr.ramdisk_size = (uint32_t)bi->initrd_size;
		bp->ext_ramdisk_size = (uint32_t)(bi->initrd_size >> 32);
	}
	bp->acpi_rsdp_addr = bi->rsdp_addr;
	for (int i = 0; i < map->nr; i++)
		bp->e820_table[i] = map->e[i];
	bp->e820_entries = (uint8_t)map->nr;
	return 0;
}

int pvh_info_write(struct guest_mem *m, const struct boot_info *bi, const struct e820_map *map)
{
	struct hvm_start_info *si = gpa_to_hva(m, PVH_INFO_START, sizeof(*si));
	struct hvm_memmap_table_entry *mm =
	    gpa_to_hva(m, PVH_MEMMAP_START, sizeof(*mm) * PVH_MEMMAP_MAX);
	struct hvm_modlist_entry *mod = gpa_to_hva(m, PVH_MODLIST_START, sizeof(*mod));
	if (!si || !mm || !mod || map->nr > PVH_MEMMAP_MAX)
		return -EFAULT;

	memset(si, 0, sizeof(*si));
	si->magic = PVH_START_MAGIC;
	si->version = 1;
	si->cmdline_paddr = bi->cmdline_addr;
	si->rsdp_paddr = bi->rsdp_addr;
	si->memmap_paddr = PVH_MEMMAP_START;
	si->memmap_entries = (uint32_t)map->nr;
	for (int i = 0; i < map->nr; i++)
		mm[i] = (struct hvm_memmap_table_entry){ map->e[i].addr, map->e[i].size,
							 map->e[i].type, 0 };
	if (bi->initrd_size) {
		*mod =
		    (struct hvm_modlist_entry){ .paddr = bi->initrd_addr, .size = bi->initrd_size };
		si->nr_modules = 1;
		si->modlist_paddr = PVH_MODLIST_START;
	}
	return 0;
}
