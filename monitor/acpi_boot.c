#include "acpi_boot.h"

#include <string.h>

#include "../lib/log.h"
#include "../vmm/cmdline.h"
#include "../vmm/x86/acpi.h"
#include "../vmm/x86/layout.h"
#include "../vmm/x86/mptable.h"

void acpi_boot_choose(struct vm *vm)
{
	enum acpi_mode m = vm->cfg->machine.acpi;
	/* A Linux told acpi=off ignores the tables and looks for an MP table. */
	bool told_off = cmdline_has_word(vm->cfg->boot.boot_args, "acpi=off");
	vm->acpi = m == ACPI_ON || (m == ACPI_AUTO && vm->kernel.is_linux && !told_off);
	if (m == ACPI_AUTO && vm->kernel.is_linux && told_off)
		log_info("machine description: MP table, virtio_mmio.device= on the command line "
			 "(acpi=off in boot_args)");
	else if (vm->acpi)
		log_info("machine description: ACPI tables, devices in the DSDT, VMGenID (%s; "
			 "machine-config mvm_acpi false for a kernel without CONFIG_ACPI)",
			 m == ACPI_ON ? "mvm_acpi true" : "a Linux kernel");
	else
		log_info("machine description: MP table, virtio_mmio.device= on the command line "
			 "(%s)",
			 m == ACPI_OFF ? "mvm_acpi false" : "not a Linux kernel");
}

int acpi_boot_pit(struct vm *vm, struct err *e)
{
	enum pit_mode m = vm->cfg->machine.pit;
	bool on = m == PIT_ON || (m == PIT_AUTO && !vm->acpi);
	int r = on ? kvm_create_pit(&vm->kvm) : 0;
	if (r)
		return err_set(e, r, "the i8254 PIT: %s", strerror(-r));
	log_info("i8254 PIT: %s (%s)", on ? "on" : "off",
		 m == PIT_ON	? "mvm_pit true"
		 : m == PIT_OFF ? "mvm_pit false"
		 : on		? "no ACPI"
				: "hardware-reduced ACPI has no use for it");
	return 0;
}

int acpi_boot_write(struct vm *vm, struct e820_map *map, struct boot_info *bi)
{
	if (!vm->acpi)
		return mptable_write(&vm->mem, vm->nr_vcpus);
	struct acpi_machine am = { .nr_cpus = vm->nr_vcpus,
				   .nr_virtio = vm->nr_devs,
				   .vmgenid_addr = vm->vmgenid.addr,
				   .ged_irq = vm->vmgenid.gsi };
	struct acpi_layout l;
	int r = acpi_write(&vm->mem, &am, &l);
	if (r || (r = vmgenid_generate(&vm->vmgenid, &vm->mem)))
		return r;
	e820_reserve(map, ACPI_START, HIMEM_START - ACPI_START);
	bi->rsdp_addr = ACPI_START;
	for (int i = 0; i < ACPI_MAX_TABLES; i++)
		log_debug("ACPI %s at %#llx, %u bytes", l.t[i].sig, (unsigned long long)l.t[i].addr,
			  l.t[i].len);
	return 0;
}
