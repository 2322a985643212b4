/* KVM's view of a VM and its vCPUs, saved and restored in a fixed order. */
#ifndef MVM_SNAPSHOT_KVM_STATE_H
#define MVM_SNAPSHOT_KVM_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"

struct err;

struct kvm;

struct vcpu_snapshot {
	struct snap_vcpu fixed;
	struct kvm_msr_entry *msrs;
	uint32_t nmsrs;
	struct kvm_cpuid_entry2 *cpuid;
	uint32_t ncpuid;
	void *xsave;
	size_t xsave_len;
};

/* Bytes of XSAVE state this KVM exchanges (KVM_CAP_XSAVE2, else struct kvm_xsave). */
size_t kvm_xsave_size(const struct kvm *k);

int vcpu_state_save(const struct kvm *k, int vcpu_fd, struct vcpu_snapshot *s);
/* Order: cpuid, mp_state, regs, sregs, xsave, xcrs, debugregs, lapic, MSRs
 * (TSC_DEADLINE after TSC), events. Errors name the step in err. */
int vcpu_state_restore(const struct kvm *k, int vcpu_fd, const struct vcpu_snapshot *s,
		       struct err *e);
void vcpu_snapshot_fini(struct vcpu_snapshot *s);

int vm_state_save(const struct kvm *k, struct snap_vm *s);
int vm_state_restore(const struct kvm *k, const struct snap_vm *s, struct err *e);

#endif
