/*
 * CPU templates as Firecracker defines them: per (leaf, subleaf, register)
 * and per MSR, which bits to clear, set or keep, plus KVM capabilities to
 * require. Custom ones come from PUT /cpu-config (JSON); the static ones
 * (C3, T2, T2S, T2CL, T2A) are tables here. Applied to a vCPU's CPUID before
 * mvm's own normalization (topology, hypervisor bit), as Firecracker does.
 */
#ifndef MVM_X86_CPU_TMPL_H
#define MVM_X86_CPU_TMPL_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../lib/err.h"
#include "cpuid.h"

#define CPU_TMPL_MAX_CPUID 256 /* register modifiers (leaf, subleaf, register) */
#define CPU_TMPL_MAX_MSR   64
#define CPU_TMPL_MAX_CAPS  32

enum cpuid_reg { CPUID_EAX, CPUID_EBX, CPUID_ECX, CPUID_EDX };

/* The bits in mask take their value from value; the rest are kept. */
struct cpuid_mod {
	uint32_t leaf, subleaf, flags;
	enum cpuid_reg reg;
	uint32_t mask, value;
};

struct msr_mod {
	uint32_t addr;
	uint64_t mask, value;
};

struct kvm_cap_req {
	uint32_t cap;
	bool remove; /* "!N": not checked (mvm keeps its own required set) */
};

struct cpu_tmpl {
	unsigned nr_cpuid, nr_msr, nr_caps;
	struct cpuid_mod cpuid[CPU_TMPL_MAX_CPUID];
	struct msr_mod msr[CPU_TMPL_MAX_MSR];
	struct kvm_cap_req caps[CPU_TMPL_MAX_CAPS];
};

/* A bitmap "0b01x_..." of at most bits digits (missing high digits are x). */
int cpu_tmpl_bitmap(const char *s, unsigned bits, uint64_t *mask, uint64_t *value);

/* Parse and check a custom template (the body of PUT /cpu-config) into *out. */
struct json;
int cpu_tmpl_parse(const struct json *j, int obj, struct cpu_tmpl *out, struct err *e);

/* Firecracker's static template for t, or NULL (mvm's own, AUTO). */
const struct cpu_tmpl *cpu_tmpl_static(enum cpu_template t);
/* The host vendor a static template needs: "GenuineIntel" or "AuthenticAMD". */
const char *cpu_tmpl_vendor(enum cpu_template t);
/* Is vendor leaf 0 of c (KVM's supported CPUID) the one t needs? */
bool cpu_tmpl_vendor_ok(struct kvm_cpuid2 *c, enum cpu_template t);

/*
 * Apply the CPUID modifiers to c (room for max entries): a leaf the CPUID
 * lacks is added with the modifier's flags, as Firecracker does. -ENOSPC.
 */
int cpu_tmpl_apply_cpuid(struct kvm_cpuid2 *c, uint32_t max, const struct cpu_tmpl *t);

static inline uint64_t cpu_tmpl_mask(uint64_t old, uint64_t mask, uint64_t value)
{
	return (old & ~mask) | (value & mask);
}

#endif
