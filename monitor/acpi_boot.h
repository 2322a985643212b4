/* A boot's machine description: ACPI tables + VMGenID, or the MP table. */
#ifndef MVM_ACPI_BOOT_H
#define MVM_ACPI_BOOT_H

#include "../vmm/vm.h"
#include "../vmm/x86/bootparam.h"

/* Sets vm->acpi from machine-config's mvm_acpi and the kernel (auto: ACPI for
 * Linux) and logs which description the guest gets and why. */
void acpi_boot_choose(struct vm *vm);
/* The i8254 PIT from machine-config's mvm_pit (auto: only without ACPI: a
 * hardware-reduced ACPI Linux never programs it), made and logged. */
int acpi_boot_pit(struct vm *vm, struct err *e);
/* vm->acpi: the tables at ACPI_START, a first generation ID, e820's reserved
 * entry and the RSDP address for the boot protocol; else the MP table. */
int acpi_boot_write(struct vm *vm, struct e820_map *map, struct boot_info *bi);

#endif
