/*
 * The DSDT's devices, in AML:
 *
 *   Scope (\_SB) {
 *     Device (COM1)  PNP0501, IO 0x3f8-0x3ff, IRQ 4
 *     Device (PS2_)  PNP0303, IO 0x60 and 0x64, IRQ 1
 *     Device (Vnnn)  LNRO0005 (Linux's virtio_mmio), 4 KiB MMIO window, its IRQ
 *     Device (VGEN)  VMGENCTR / VM_Gen_Counter, ADDR = { low, high } of the ID
 *     Device (GED_)  ACPI0013, IRQ GED_IRQ; _EVT: Notify (VGEN, 0x80)
 *   }
 *
 * Linux binds virtio_mmio to each Vnnn, so the command line needs no
 * virtio_mmio.device= words; its vmgenid driver re-reads ADDR's 16 bytes on
 * the Notify and reseeds the CRNG when they changed.
 */
#include <errno.h>
#include <stdio.h>

#include "acpi.h"
#include "aml.h"
#include "layout.h"

static void legacy_devices(struct aml *a)
{
	size_t d = aml_device(a, "COM1");
	aml_name_eisaid(a, "_HID", "PNP0501");
	aml_name_integer(a, "_UID", 0);
	aml_name(a, "_CRS");
	size_t b = aml_buffer(a);
	aml_res_io(a, SERIAL_COM1_PORT, 8);
	aml_res_irq_edge(a, SERIAL_COM1_IRQ);
	aml_res_end(a);
	aml_buffer_close(a, b);
	aml_close(a, d);

	d = aml_device(a, "PS2_");
	aml_name_eisaid(a, "_HID", "PNP0303");
	aml_name(a, "_CRS");
	b = aml_buffer(a);
	aml_res_io(a, I8042_DATA_PORT, 1);
	aml_res_io(a, I8042_CMD_PORT, 1);
	aml_res_irq_edge(a, I8042_KBD_IRQ);
	aml_res_end(a);
	aml_buffer_close(a, b);
	aml_close(a, d);
}

static void virtio_device(struct aml *a, int slot)
{
	char name[16];
	snprintf(name, sizeof(name), "V%03d", slot % 1000);
	size_t d = aml_device(a, name);
	aml_name_str(a, "_HID", "LNRO0005");
	aml_name_integer(a, "_UID", (uint64_t)slot);
	aml_name(a, "_CRS");
	size_t b = aml_buffer(a);
	aml_res_memory32_fixed(a, (uint32_t)(VIRTIO_MMIO_BASE + (uint64_t)slot * VIRTIO_MMIO_SIZE),
			       (uint32_t)VIRTIO_MMIO_SIZE, true);
	aml_res_irq_edge(a, VIRTIO_IRQ_BASE + (uint32_t)slot);
	aml_res_end(a);
	aml_buffer_close(a, b);
	aml_close(a, d);
}

static void vmgenid_devices(struct aml *a, uint64_t addr, uint32_t irq)
{
	size_t d = aml_device(a, "VGEN");
	aml_name_str(a, "_HID", "VMGENCTR");
	aml_name_str(a, "_CID", "VM_Gen_Counter");
	aml_name_str(a, "_DDN", "VM_Gen_Counter");
	aml_name(a, "ADDR");
	size_t p = aml_package(a, 2);
	aml_integer(a, addr & 0xffffffffu);
	aml_integer(a, addr >> 32);
	aml_close(a, p);
	aml_close(a, d);

	d = aml_device(a, "GED_");
	aml_name_str(a, "_HID", "ACPI0013");
	aml_name(a, "_CRS");
	size_t b = aml_buffer(a);
	aml_res_irq_edge(a, irq);
	aml_res_end(a);
	aml_buffer_close(a, b);
	size_t m = aml_method(a, "_EVT", 1, true);
	size_t i = aml_if_arg_equal(a, 0, irq);
	aml_notify(a, "\\_SB_.VGEN", 0x80);
	aml_close(a, i);
	aml_close(a, m);
	aml_close(a, d);
}

int dsdt_body(const struct acpi_machine *am, uint8_t *buf, uint32_t cap)
{
	struct aml a;
	aml_init(&a, buf, cap);
	size_t sb = aml_scope(&a, "\\_SB_");
	legacy_devices(&a);
	for (int i = 0; i < am->nr_virtio; i++)
		virtio_device(&a, i);
	if (am->vmgenid_addr)
		vmgenid_devices(&a, am->vmgenid_addr, am->ged_irq);
	aml_close(&a, sb);
	return a.bad ? -E2BIG : (int)a.len;
}
