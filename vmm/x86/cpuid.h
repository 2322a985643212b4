/* The CPUID each vCPU sees: KVM's supported set, topology, and CPU templates. */
#ifndef MVM_X86_CPUID_H
#define MVM_X86_CPUID_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

enum cpu_template {
	CPU_TEMPLATE_AUTO,     /* PVM_SAFE on kvm_pvm hosts, HOST elsewhere */
	CPU_TEMPLATE_HOST,     /* KVM's supported set, topology only */
	CPU_TEMPLATE_PVM_SAFE, /* hides what the kvm_pvm emulator cannot run */
	/* Firecracker's static templates: AUTO's base, then their masks (cpu_tmpl.h) */
	CPU_TEMPLATE_C3,
	CPU_TEMPLATE_T2,
	CPU_TEMPLATE_T2S,
	CPU_TEMPLATE_T2CL,
	CPU_TEMPLATE_T2A,
};

struct cpuid_cfg {
	unsigned vcpu_id;
	unsigned nr_vcpus;
	enum cpu_template tmpl; /* resolved: never AUTO */
	bool tsc_deadline;	/* KVM emulates the LAPIC's TSC-deadline mode */
	bool smt;		/* two threads per core (an even nr_vcpus; else one) */
};

/* Threads per core the guest is shown: 2 with smt and an even count, else 1. */
unsigned cpuid_threads_per_core(const struct cpuid_cfg *cfg);

/* 0 or -EINVAL. Firecracker's names are exact; mvm's own any case. */
int cpu_template_parse(const char *s, enum cpu_template *out);
const char *cpu_template_name(enum cpu_template t);
/* One of Firecracker's static templates (C3 .. T2A)? */
bool cpu_template_is_static(enum cpu_template t);
/* mvm's base under t: HOST or PVM_SAFE (AUTO and the static ones by host). */
enum cpu_template cpu_template_resolve(enum cpu_template t, bool host_is_pvm);

/* Kernel command-line words a template needs from the guest ("" if none). */
const char *cpu_template_cmdline(enum cpu_template t);

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, uint32_t fn, uint32_t index);
/* Pure: rewrite a copy of KVM_GET_SUPPORTED_CPUID for one vCPU. */
void cpuid_normalize(struct kvm_cpuid2 *c, const struct cpuid_cfg *cfg);

#endif
