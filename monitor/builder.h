/* The boot recipe (builder.c): a VM from its config, for a boot or a restore. */
#ifndef MVM_BUILDER_H
#define MVM_BUILDER_H

#include <stdbool.h>
#include <stdint.h>

#include "../vmm/vm.h"

struct err;

/* Build everything InstanceStart needs (the vCPUs are started by vm_start).
 * start_us: when the boot was asked for (InstanceStart), 0 for now. */
int vm_create(struct vm *vm, struct vm_config *cfg, struct evloop *loop, bool boot_timer,
	      uint64_t start_us, struct err *e);
/* A VM shaped like cfg (its devices in cfg's order, the saved slots), its RAM
 * the memory file mem_fd (owned), devices and vCPUs created but not
 * configured: for a snapshot restore to fill in. */
int vm_create_for_restore(struct vm *vm, struct vm_config *cfg, struct evloop *loop, int mem_fd,
			  uint64_t start_us, struct err *e);

#endif
