/* The Intel MultiProcessor table: how an ACPI-less guest finds its CPUs and IOAPIC. */
#ifndef MVM_X86_MPTABLE_H
#define MVM_X86_MPTABLE_H

#include <stdint.h>

#include "../memory.h"

/* Write the MP floating pointer and table at MPTABLE_START for nr_cpus CPUs. */
int mptable_write(struct guest_mem *m, int nr_cpus);
/* Byte sum, for checksums (the table is valid when each part sums to 0). */
uint8_t mptable_checksum(const void *p, size_t len);

#endif
