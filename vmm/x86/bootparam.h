/* Boot information written into guest RAM: e820, zero page, PVH start info. */
#ifndef MVM_X86_BOOTPARAM_H
#define MVM_X86_BOOTPARAM_H

#include <asm/bootparam.h>
#include <stdint.h>

#include "../memory.h"

#define E820_MAX_ENTRIES_MVM 8
#define E820_RAM	     1
#define E820_RESERVED	     2

struct e820_map {
	struct boot_e820_entry e[E820_MAX_ENTRIES_MVM];
	int nr;
};

/* What the guest is told at boot, whichever ABI carries it. */
struct boot_info {
	uint64_t cmdline_addr;
	uint32_t cmdline_size; /* bytes including the NUL */
	uint64_t initrd_addr;
	uint64_t initrd_size;
	uint64_t rsdp_addr; /* ACPI's RSDP, 0 without ACPI */
	/* bzImage only: the image's setup header, to be copied into the zero page. */
	const struct setup_header *hdr;
};

void e820_build(const struct guest_mem *m, struct e820_map *map);
/* One more entry, reserved (the ACPI tables and the VMGenID page). */
void e820_reserve(struct e820_map *map, uint64_t addr, uint64_t size);
/* Fill the zero page at ZERO_PAGE_START. */
int bootparams_write(struct guest_mem *m, const struct boot_info *bi, const struct e820_map *map);
/* Fill hvm_start_info at PVH_INFO_START (plus memmap and module list). */
int pvh_info_write(struct guest_mem *m, const struct boot_info *bi, const struct e820_map *map);

#endif
