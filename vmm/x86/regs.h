/* Boot-time vCPU state: CPUID, MSRs, registers, segments, FPU, LAPIC. */
#ifndef MVM_X86_REGS_H
#define MVM_X86_REGS_H

#include <stdint.h>

#include "../kvm.h"
#include "cpu_tmpl.h"
#include "cpuid.h"
#include "kernel.h"

/* KVM's supported CPUID, then the CPU template t (may be NULL), then mvm's rules. */
int regs_set_cpuid(int vcpu_fd, const struct kvm_cpuid2 *supported, const struct cpuid_cfg *cfg,
		   const struct cpu_tmpl *t);
/* The template's MSR modifiers over the vCPU's values (t may be NULL). */
int regs_apply_msr_mods(int vcpu_fd, const struct cpu_tmpl *t, struct err *e);
int regs_set_boot_msrs(const struct kvm *k, int vcpu_fd);
int regs_set_lapic_lints(int vcpu_fd);
/* Registers of the boot vCPU at the kernel's entry (64-bit or PVH). */
int regs_set_boot(int vcpu_fd, const struct kernel_info *ki, const uint64_t gdt[4]);
/* Is msr in KVM_GET_MSR_INDEX_LIST? */
int regs_msr_supported(const struct kvm *k, uint32_t msr);

#endif
