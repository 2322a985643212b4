/* Identity page tables and the boot GDT, written straight into guest RAM. */
#ifndef MVM_X86_PAGETABLE_H
#define MVM_X86_PAGETABLE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "../memory.h"

#define GDT_CODE 1
#define GDT_DATA 2
#define GDT_TSS	 3

/* Identity map of the first 4 GiB with 2 MiB pages at PML4_START. */
int pagetables_write(struct guest_mem *m);
/* Boot GDT at BOOT_GDT_START (64-bit code segment, or 32-bit for PVH). */
int gdt_write(struct guest_mem *m, bool long_mode, uint64_t gdt[4]);

uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit);
/* The kvm_segment the CPU would load for GDT entry `index`. */
void gdt_to_segment(uint64_t entry, unsigned index, struct kvm_segment *seg);

#endif
