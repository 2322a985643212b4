/*
 * The whole guest-physical memory map of an x86-64 mvm guest, in one place.
 *
 *   0x0000_0500  boot GDT, then IDT (64-bit boot)
 *   0x0000_6000  PVH hvm_start_info, its e820 map at +0x40
 *   0x0000_7000  zero page (struct boot_params)
 *   0x0000_8ff0  boot stack top
 *   0x0000_9000  PML4, PDPT, 4 PDs: identity map of the first 4 GiB (2 MiB pages)
 *   0x0002_0000  kernel command line
 *   0x0009_fc00  MP floating pointer + table (EBDA), up to 0xa0000
 *   0x000a_0000  legacy hole (reserved), up to 1 MiB; inside it, with ACPI on:
 *   0x000e_0000    ACPI tables: RSDP (where Linux scans for it), XSDT, FADT,
 *                  MADT, DSDT; e820 marks 0xe0000..1 MiB reserved
 *   0x000f_f000    VMGenID: the 16-byte generation ID (its own page)
 *   0x0010_0000  kernel (ELF PT_LOADs at their physical addresses, or bzImage)
 *   ...          initrd at the top of low RAM
 *   0xc000_0000  32-bit MMIO gap: boot timer, then virtio-mmio slots
 *   0xfec0_0000  IOAPIC;  0xfee0_0000 LAPIC
 *   0xfffb_c000  KVM identity-map page, then the 3-page TSS KVM needs
 *   0x1_0000_0000 RAM above 3 GiB continues here
 *   next GiB      device memory: virtio-pmem regions, up to 1 TiB
 */
#ifndef MVM_X86_LAYOUT_H
#define MVM_X86_LAYOUT_H

#define BOOT_GDT_START	   0x500ULL
#define BOOT_GDT_MAX	   4
#define BOOT_IDT_START	   0x520ULL
#define PVH_INFO_START	   0x6000ULL
#define PVH_MEMMAP_START   0x6040ULL
#define PVH_MEMMAP_MAX	   8
#define PVH_MODLIST_START  0x6100ULL
#define ZERO_PAGE_START	   0x7000ULL
#define BOOT_STACK_POINTER 0x8ff0ULL
#define PML4_START	   0x9000ULL
#define PDPTE_START	   0xa000ULL
#define PDE_START	   0xb000ULL
#define CMDLINE_START	   0x20000ULL
#define CMDLINE_MAX_SIZE   4096ULL
#define MPTABLE_START	   0x9fc00ULL
#define EBDA_START	   0x9fc00ULL
#define LEGACY_HOLE_START  0xa0000ULL
#define HIMEM_START	   0x100000ULL
#define ACPI_START	   0xe0000ULL
#define ACPI_MAX_SIZE	   0x1f000ULL /* tables, up to VMGENID_ADDR */
#define VMGENID_ADDR	   0xff000ULL
#define VMGENID_SIZE	   16ULL

/* RAM is split around the 32-bit MMIO gap. */
#define MMIO32_START   0xc0000000ULL
#define MMIO32_END     0x100000000ULL
#define RAM_HIGH_START MMIO32_END

/* Devices in the MMIO gap. */
#define BOOT_TIMER_ADDR	      MMIO32_START
#define BOOT_TIMER_SIZE	      0x1000ULL
#define VIRTIO_MMIO_BASE      (MMIO32_START + 0x1000ULL)
#define VIRTIO_MMIO_SIZE      0x1000ULL
#define VIRTIO_MMIO_MAX_DEVS  18
#define IOAPIC_ADDR	      0xfec00000ULL
#define LAPIC_ADDR	      0xfee00000ULL
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL
#define KVM_TSS_ADDR	      0xfffbd000ULL

/* Legacy ports and IRQ lines (IOAPIC pins). */
#define SERIAL_COM1_PORT 0x3f8
#define SERIAL_COM1_IRQ	 4
#define I8042_DATA_PORT	 0x60
#define I8042_CMD_PORT	 0x64
#define I8042_KBD_IRQ	 1
#define VIRTIO_IRQ_BASE	 5
#define IRQ_MAX		 23
/* The ACPI Generic Event Device's line (VMGenID notifications): the first
 * pin after the virtio-mmio slots' lines. */
#define GED_IRQ (VIRTIO_IRQ_BASE + VIRTIO_MMIO_MAX_DEVS)
_Static_assert(GED_IRQ <= IRQ_MAX, "the GED line is an IOAPIC pin");

#define MAX_VCPUS 32

/* Device memory (virtio-pmem regions): above RAM from the next GiB, each
 * region 128 MiB-aligned (a Linux memory section), all below DEVMEM_END. */
#define DEVMEM_ALIGN (128ULL << 20)
#define DEVMEM_END   (1ULL << 40)

#endif
