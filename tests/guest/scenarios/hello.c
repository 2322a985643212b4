/*
 * hello / hello64: prove the loader's entry path works: print a greeting,
 * how the guest was entered, the command line and the memory map.
 * hello64 is this file built without the PVH note; it insists on having
 * come in through the 64-bit entry.
 */
#include "guest.h"

#define HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};

struct hvm_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

struct e820_entry {
	uint64_t addr, size;
	uint32_t type;
} __attribute__((packed));

#define BP_E820_ENTRIES 0x1e8	/* offsetof(boot_params, e820_entries) */
#define BP_E820_TABLE 0x2d0	/* offsetof(boot_params, e820_table) */
#define E820_MAX 128

const char guest_name[] = GUEST_NAME;

static void print_region(uint64_t addr, uint64_t size, uint32_t type)
{
	printf("hello: mem %lx size %lx type %u\n", addr, size, type);
}

static void print_memmap(void)
{
	if (boot_entry == BOOT_PVH) {
		const struct hvm_start_info *si = (const void *)(uintptr_t)boot_info;
		if (si->magic != HVM_START_MAGIC) {
			printf("hello: hvm_start_info magic %x is wrong\n", si->magic);
			return;
		}
		printf("hello: hvm_start_info version %u flags %x memmap %lx entries %u\n",
		       si->version, si->flags, si->memmap_paddr, si->memmap_entries);
		if (si->version < 1 || !si->memmap_paddr || si->memmap_paddr >= 0x100000000ULL)
			return;
		const struct hvm_memmap_entry *m = (const void *)(uintptr_t)si->memmap_paddr;
		for (uint32_t i = 0; i < si->memmap_entries && i < E820_MAX; i++)
			print_region(m[i].addr, m[i].size, m[i].type);
	} else {
		const uint8_t *bp = (const uint8_t *)(uintptr_t)boot_info;
		const struct e820_entry *e = (const void *)(bp + BP_E820_TABLE);
		unsigned n = bp[BP_E820_ENTRIES];
		printf("hello: boot_params e820 entries %u\n", n);
		for (unsigned i = 0; i < n && i < E820_MAX; i++)
			print_region(e[i].addr, e[i].size, e[i].type);
	}
}

void guest_main(const char *cmdline)
{
	const char *entry = boot_entry == BOOT_PVH ? "pvh" : "linux64";

	printf("Hello from mvm test guest\n");
	printf("hello: entry %s, boot info at %lx\n", entry, boot_info);
	printf("hello: cmdline \"%s\"\n", cmdline);
	if (boot_info && boot_info < 0x100000000ULL)
		print_memmap();
	if (streq(guest_name, "hello64") && boot_entry != BOOT_LINUX64)
		test_fail("hello64 has no PVH note but was entered through %s", entry);
	test_pass();
}
