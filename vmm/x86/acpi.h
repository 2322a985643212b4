/*
 * The ACPI tables mvm writes for a guest that boots with ACPI (mvm_acpi):
 * RSDP -> XSDT -> FADT (hardware-reduced, DSDT pointer) and MADT (local APICs,
 * the IOAPIC, interrupt overrides, LINT1 NMI); the DSDT (dsdt.c) names the
 * serial port, the i8042, every virtio-mmio slot, the VMGenID device and the
 * Generic Event Device that notifies it. Pure: built into a buffer, copied to
 * guest RAM at ACPI_START (layout.h) by acpi_write().
 */
#ifndef MVM_X86_ACPI_H
#define MVM_X86_ACPI_H

#include <stdint.h>

#include "../memory.h"

#define ACPI_OEM_ID	     "MVM   "
#define ACPI_MAX_TABLES	     5
#define ACPI_RSDP_SIZE	     36
#define ACPI_HEADER_SIZE     36
#define ACPI_FADT_SIZE	     276
#define ACPI_FADT_HW_REDUCED (1u << 20)
#define ACPI_BOOT_8042	     (1u << 1) /* IAPC_BOOT_ARCH: an i8042 is present */
#define ACPI_BOOT_NO_VGA     (1u << 2)
#define ACPI_BOOT_NO_CMOS    (1u << 5)

struct acpi_machine {
	int nr_cpus;
	int nr_virtio;	       /* virtio-mmio slots in use, 0.. */
	uint64_t vmgenid_addr; /* 0: no VMGenID device (nor GED) */
	uint32_t ged_irq;
};

/* Where each table went (guest-physical) and its size: logged, and unit-tested. */
struct acpi_table_info {
	char sig[5];
	uint64_t addr;
	uint32_t len;
};

struct acpi_layout {
	struct acpi_table_info t[ACPI_MAX_TABLES]; /* RSDP, XSDT, FADT, MADT, DSDT */
	uint32_t used;				   /* bytes from ACPI_START */
};

/* All tables into buf, which stands for guest-physical ACPI_START. -E2BIG when
 * cap is too small, -EINVAL for a machine out of range. */
int acpi_build(const struct acpi_machine *am, uint8_t *buf, uint32_t cap, struct acpi_layout *out);
/* Build into guest RAM at ACPI_START; *out may be NULL. */
int acpi_write(struct guest_mem *m, const struct acpi_machine *am, struct acpi_layout *out);

/* dsdt.c: the DSDT's AML body (after its header). Returns bytes, or -E2BIG. */
int dsdt_body(const struct acpi_machine *am, uint8_t *buf, uint32_t cap);

/* Byte sum (a table is valid when its bytes sum to 0). */
uint8_t acpi_sum(const void *p, uint32_t len);

#endif
