/* The boot recipe (builder.c): a VM from its config, for a boot or a restore. */
#ifndef MVM_BUILDER_H
#define MVM_BUILDER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "../vmm/vm.h"

struct err;

/* What a VM prepared ahead of InstanceStart was made from. */
struct vm_prep_key {
	uint32_t mem_size_mib;
	int huge_pages, cpu_template;
	bool track_dirty_pages;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	char kernel[4096];
};

/* Ahead of InstanceStart: KVM, guest RAM and the kernel in it, from cfg's
 * machine and boot source. vm_prepare_init (on the vmm thread: the exit
 * eventfd joins loop) makes the empty VM; vm_prepare_build (on any one
 * thread, nothing else touching vm or cfg meanwhile) builds it and says in key
 * what it was built from; vm_prepared_for() tells whether a config (and the
 * kernel file now) still match a key. */
int vm_prepare_init(struct vm *vm, struct vm_config *cfg, struct evloop *loop, struct err *e);
int vm_prepare_build(struct vm *vm, struct vm_prep_key *key, struct err *e);
bool vm_prepared_for(const struct vm_prep_key *key, const struct vm_config *cfg);

/* Build everything InstanceStart needs (the vCPUs are started by vm_start),
 * from scratch or (prepared) from what vm_prepare built for this config.
 * start_us: when the boot was asked for (InstanceStart), 0 for now. */
int vm_create(struct vm *vm, struct vm_config *cfg, struct evloop *loop, bool boot_timer,
	      bool prepared, uint64_t start_us, struct err *e);
/* A VM shaped like cfg (its devices in cfg's order, the saved slots), its RAM
 * the memory file mem_fd (owned), devices and vCPUs created but not
 * configured: for a snapshot restore to fill in. */
int vm_create_for_restore(struct vm *vm, struct vm_config *cfg, struct evloop *loop, int mem_fd,
			  uint64_t start_us, struct err *e);

#endif
