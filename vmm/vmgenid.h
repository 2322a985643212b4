/*
 * VMGenID (Microsoft's "Virtual Machine Generation ID", as Linux's
 * drivers/virt/vmgenid.c reads it): 16 random bytes in guest RAM at
 * VMGENID_ADDR, named by the DSDT's VGEN device. After a snapshot restore the
 * monitor writes new bytes and raises the ACPI Generic Event Device's line
 * (GED_IRQ) before any vCPU runs; the GED's _EVT method Notifies VGEN and the
 * guest reseeds its random generator from the new ID.
 */
#ifndef MVM_VMGENID_H
#define MVM_VMGENID_H

#include <stdbool.h>
#include <stdint.h>

#include "irq.h"
#include "memory.h"

struct kvm;

struct vmgenid {
	bool on;
	uint64_t addr;
	uint32_t gsi;
	uint8_t id[16]; /* the generation the guest was last given */
	struct irq_line irq;
};

/* Its snapshot record (SNAP_SEC_VMGENID). */
#define VMGENID_STATE_V 1
struct vmgenid_state {
	uint64_t addr;
	uint32_t gsi;
	uint32_t reserved;
	uint8_t id[16];
};

/* At VMGENID_ADDR on GED_IRQ, its line registered with KVM. */
int vmgenid_attach(struct vmgenid *g, struct kvm *k);
void vmgenid_detach(struct vmgenid *g, struct kvm *k);
/* A new random generation (getrandom) into guest RAM; -EFAULT when the
 * address is not RAM. */
int vmgenid_generate(struct vmgenid *g, struct guest_mem *m);
/* Tell the guest: an edge on the GED's line. */
void vmgenid_notify(struct vmgenid *g);
void vmgenid_save(const struct vmgenid *g, struct vmgenid_state *s);
/* The saved device must be the one this mvm builds (address, line): 0, or
 * -EINVAL and *why. */
int vmgenid_check(const struct vmgenid_state *s, const char **why);

#endif
