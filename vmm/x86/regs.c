#include "regs.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/log.h"
#include "../../lib/util.h"
#include "layout.h"
#include "pagetable.h"

#define MSR_IA32_SYSENTER_CS	0x174
#define MSR_IA32_SYSENTER_ESP	0x175
#define MSR_IA32_SYSENTER_EIP	0x176
#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_CSTAR		0xc0000083
#define MSR_SYSCALL_MASK	0xc0000084
#define MSR_KERNEL_GS_BASE	0xc0000102
#define MSR_IA32_TSC		0x10
#define MSR_IA32_MISC_ENABLE	0x1a0
#define MSR_MTRR_DEF_TYPE	0x2ff
#define MISC_ENABLE_FAST_STRING 1ULL
#define MTRR_ENABLE		(1ULL << 11)
#define MTRR_TYPE_WRBACK	6ULL

#define CR0_PE	 0x1ULL
#define CR0_ET	 0x10ULL
#define CR0_NW	 (1ULL << 29)
#define CR0_CD	 (1ULL << 30)
#define CR0_PG	 (1ULL << 31)
#define CR4_PAE	 0x20ULL
#define EFER_LME 0x100ULL
#define EFER_LMA 0x400ULL

#define APIC_LVT0	 0x350
#define APIC_LVT1	 0x360
#define APIC_MODE_NMI	 0x4
#define APIC_MODE_EXTINT 0x7

int regs_set_cpuid(int vcpu_fd, const struct kvm_cpuid2 *supported, const struct cpuid_cfg *cfg,
		   const struct cpu_tmpl *t)
{
	size_t sz = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
	uint32_t max = supported->nent + (t ? t->nr_cpuid : 0);
	cleanup_free struct kvm_cpuid2 *c = malloc(sizeof(*c) + max * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	memcpy(c, supported, sz);
	/* The template first; mvm's normalization (topology, hypervisor bit) wins. */
	if (t && cpu_tmpl_apply_cpuid(c, max, t))
		return -ENOSPC;
	cpuid_normalize(c, cfg);
	int r = kvm_ioctl(vcpu_fd, KVM_SET_CPUID2, c);
	return r < 0 ? r : 0;
}

int regs_msr_supported(const struct kvm *k, uint32_t msr)
{
	for (uint32_t i = 0; i < k->msr_list->nmsrs; i++)
		if (k->msr_list->indices[i] == msr)
			return 1;
	return 0;
}

int regs_set_boot_msrs(const struct kvm *k, int vcpu_fd)
{
	static const struct {
		uint32_t index;
		uint64_t data;
	} boot_msrs[] = {
		{ MSR_IA32_SYSENTER_CS, 0 },
		{ MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 },
		{ MSR_STAR, 0 },
		{ MSR_CSTAR, 0 },
		{ MSR_KERNEL_GS_BASE, 0 },
		{ MSR_SYSCALL_MASK, 0 },
		{ MSR_LSTAR, 0 },
		{ MSR_IA32_TSC, 0 },
		{ MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
		{ MSR_MTRR_DEF_TYPE, MTRR_ENABLE | MTRR_TYPE_WRBACK },
	};
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[ARRAY_SIZE(boot_msrs)];
	} msrs;
	memset(&msrs, 0, sizeof(msrs));

	/* Only what this KVM says it can set: KVM_SET_MSRS stops at the first refusal. */
	uint32_t n = 0;
	for (size_t i = 0; i < ARRAY_SIZE(boot_msrs); i++) {
		if (!regs_msr_supported(k, boot_msrs[i].index)) {
			log_debug("MSR %#x not in KVM's index list, left alone",
				  boot_msrs[i].index);
			continue;
		}
		msrs.e[n].index = boot_msrs[i].index;
		msrs.e[n].data = boot_msrs[i].data;
		n++;
	}
	msrs.hdr.nmsrs = n;
	int r = kvm_ioctl(vcpu_fd, KVM_SET_MSRS, &msrs);
	if (r < 0)
		return r;
	if ((uint32_t)r != n) {
		log_err("KVM_SET_MSRS: set %d of %u MSRs, refused MSR %#x", r, n, msrs.e[r].index);
		return -EINVAL;
	}
	return 0;
}

int regs_apply_msr_mods(int vcpu_fd, const struct cpu_tmpl *t, struct err *e)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[CPU_TMPL_MAX_MSR];
	} msrs;
	if (!t || !t->nr_msr)
		return 0;
	memset(&msrs, 0, sizeof(msrs));
	msrs.hdr.nmsrs = t->nr_msr;
	for (unsigned i = 0; i < t->nr_msr; i++)
		msrs.e[i].index = t->msr[i].addr;
	/* The bits a template keeps are the vCPU's own (KVM's default for it). */
	int r = kvm_ioctl(vcpu_fd, KVM_GET_MSRS, &msrs);
	if (r < 0)
		return err_set(e, r, "KVM_GET_MSRS: %s", strerror(-r));
	if ((uint32_t)r != t->nr_msr)
		return err_inval(e,
				 "msr_modifiers: this host's KVM has no MSR %#x (KVM_GET_MSRS "
				 "refused it)",
				 msrs.e[r].index);
	for (unsigned i = 0; i < t->nr_msr; i++)
		msrs.e[i].data = cpu_tmpl_mask(msrs.e[i].data, t->msr[i].mask, t->msr[i].value);
	r = kvm_ioctl(vcpu_fd, KVM_SET_MSRS, &msrs);
	if (r < 0)
		return err_set(e, r, "KVM_SET_MSRS: %s", strerror(-r));
	if ((uint32_t)r != t->nr_msr)
		return err_inval(e, "msr_modifiers: KVM refused value %#llx for MSR %#x",
				 (unsigned long long)msrs.e[r].data, msrs.e[r].index);
	return 0;
}

int regs_set_lapic_lints(int vcpu_fd)
{
	struct kvm_lapic_state la;
	int r = kvm_ioctl(vcpu_fd, KVM_GET_LAPIC, &la);
	if (r < 0)
		return r;
	uint32_t lvt0, lvt1;
	memcpy(&lvt0, la.regs + APIC_LVT0, 4);
	memcpy(&lvt1, la.regs + APIC_LVT1, 4);
	/* Delivery mode lives in bits 8..10. */
	lvt0 = (lvt0 & ~0x700u) | (APIC_MODE_EXTINT << 8);
	lvt1 = (lvt1 & ~0x700u) | (APIC_MODE_NMI << 8);
	memcpy(la.regs + APIC_LVT0, &lvt0, 4);
	memcpy(la.regs + APIC_LVT1, &lvt1, 4);
	r = kvm_ioctl(vcpu_fd, KVM_SET_LAPIC, &la);
	return r < 0 ? r : 0;
}

int regs_set_boot(int vcpu_fd, const struct kernel_info *ki, const uint64_t gdt[4])
{
	bool pvh = ki->mode == ENTRY_PVH;
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	int r = kvm_ioctl(vcpu_fd, KVM_SET_FPU, &fpu);
	if (r < 0)
		return r;

	struct kvm_regs regs = { .rflags = 0x2, .rip = ki->entry };
	if (pvh) {
		regs.rbx = PVH_INFO_START;
	} else {
		regs.rsp = regs.rbp = BOOT_STACK_POINTER;
		regs.rsi = ZERO_PAGE_START;
	}
	r = kvm_ioctl(vcpu_fd, KVM_SET_REGS, &regs);
	if (r < 0)
		return r;

	struct kvm_sregs sregs;
	r = kvm_ioctl(vcpu_fd, KVM_GET_SREGS, &sregs);
	if (r < 0)
		return r;
	struct kvm_segment code, data, tss;
	gdt_to_segment(gdt[GDT_CODE], GDT_CODE, &code);
	gdt_to_segment(gdt[GDT_DATA], GDT_DATA, &data);
	gdt_to_segment(gdt[GDT_TSS], GDT_TSS, &tss);
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.tr = tss;
	sregs.gdt.base = BOOT_GDT_START;
	sregs.gdt.limit = 4 * sizeof(uint64_t) - 1;
	sregs.idt.base = BOOT_IDT_START;
	sregs.idt.limit = 7;
	sregs.cr0 = (sregs.cr0 & ~(CR0_CD | CR0_NW)) | CR0_PE | CR0_ET;
	if (pvh) {
		sregs.cr4 = 0;
		sregs.efer = 0;
	} else {
		sregs.cr3 = PML4_START;
		sregs.cr4 |= CR4_PAE;
		sregs.cr0 |= CR0_PG;
		sregs.efer |= EFER_LME | EFER_LMA;
	}
	r = kvm_ioctl(vcpu_fd, KVM_SET_SREGS, &sregs);
	return r < 0 ? r : 0;
}
