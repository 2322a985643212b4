/*
 * Firecracker's static CPU templates as mask/value tables: for each CPUID
 * register (and MSR) the bits the template fixes and the values it gives
 * them. The facts are those of Firecracker's documented templates (its
 * cpu_templates docs and JSON equivalents); T2S's IA32_ARCH_CAPABILITIES
 * includes FB_CLEAR, as its current documentation says.
 */
#include <string.h>

#include "../../lib/util.h"
#include "cpu_tmpl.h"

#define SIG			   1 /* KVM_CPUID_FLAG_SIGNIFCANT_INDEX */
#define MSR_IA32_ARCH_CAPABILITIES 0x10a

/* Leaf 1 EAX: family 6, model 0x3f (T2 family) or 0x3e (C3), stepping. */
#define L1_SIGNATURE(v)                               \
	{                                             \
		0x1, 0, 0, CPUID_EAX, 0x0fff3fff, (v) \
	}

/* What T2, T2S, T2CL and T2A share: leaves 1, 7 and 0xd. */
#define T2_COMMON                                                                                 \
	L1_SIGNATURE(0x000306f2), { 0x1, 0, 0, CPUID_ECX, 0x0004cdfc, 0 },                        \
	    { 0x1, 0, 0, CPUID_EDX, 0xe8641080, 0x00001080 },                                     \
	    { 0x7, 0, SIG, CPUID_EBX, 0xffefda14, 0x00000200 },                                   \
	    { 0x7, 0, SIG, CPUID_ECX, 0x40415f5e, 0 }, { 0x7, 0, SIG, CPUID_EDX, 0x0000011c, 0 }, \
	    { 0xd, 0, SIG, CPUID_EAX, 0x000002f8, 0 },                                            \
	{                                                                                         \
		0xd, 1, SIG, CPUID_EAX, 0x0000000e, 0                                             \
	}

/* T2 and T2S: extended leaves. */
#define T2_EXT                                              \
	{ 0x80000001, 0, 0, CPUID_ECX, 0x20000100, 0 },     \
	    { 0x80000001, 0, 0, CPUID_EDX, 0x04000000, 0 }, \
	{                                                   \
		0x80000008, 0, 0, CPUID_EBX, 0x00000200, 0  \
	}

static const struct cpu_tmpl c3 = {
	.nr_cpuid = 10,
	.cpuid = {
		L1_SIGNATURE(0x000306e4),
		{ 0x1, 0, 0, CPUID_ECX, 0x0040dd3c, 0 },
		{ 0x1, 0, 0, CPUID_EDX, 0xa8641080, 0x00001080 },
		{ 0x7, 0, SIG, CPUID_EBX, 0xffafdd3c, 0 },
		{ 0x7, 0, SIG, CPUID_ECX, 0x4041481e, 0 },
		{ 0x7, 0, SIG, CPUID_EDX, 0x0000000c, 0 },
		{ 0xd, 0, SIG, CPUID_EAX, 0x000002f8, 0 },
		{ 0xd, 1, SIG, CPUID_EAX, 0x0000000e, 0 },
		{ 0x80000001, 0, 0, CPUID_ECX, 0x00000120, 0 },
		{ 0x80000001, 0, 0, CPUID_EDX, 0x04000000, 0 },
	},
};

static const struct cpu_tmpl t2 = {
	.nr_cpuid = 11,
	.cpuid = { T2_COMMON, T2_EXT },
};

static const struct cpu_tmpl t2s = {
	.nr_cpuid = 11,
	.cpuid = { T2_COMMON, T2_EXT },
	.nr_msr = 1,
	.msr = { { MSR_IA32_ARCH_CAPABILITIES, ~0ull, 0x0c0a0c4c } },
};

static const struct cpu_tmpl t2cl = {
	.nr_cpuid = 11,
	.cpuid = {
		T2_COMMON,
		{ 0x80000001, 0, 0, CPUID_ECX, 0x200001c0, 0 },
		{ 0x80000001, 0, 0, CPUID_EDX, 0x07c00000, 0 },
		{ 0x80000008, 0, 0, CPUID_EBX, 0x00000200, 0 },
	},
	.nr_msr = 1,
	.msr = { { MSR_IA32_ARCH_CAPABILITIES, 0xffffffffe2f51e00ull, 0 } },
};

static const struct cpu_tmpl t2a = {
	.nr_cpuid = 11,
	.cpuid = {
		T2_COMMON,
		{ 0x80000001, 0, 0, CPUID_ECX, 0x200001c4, 0 },
		{ 0x80000001, 0, 0, CPUID_EDX, 0x06400000, 0 },
		{ 0x80000008, 0, 0, CPUID_EBX, 0x001c0205, 0x001c0004 },
	},
};

const struct cpu_tmpl *cpu_tmpl_static(enum cpu_template t)
{
	switch (t) {
	case CPU_TEMPLATE_C3: return &c3;
	case CPU_TEMPLATE_T2: return &t2;
	case CPU_TEMPLATE_T2S: return &t2s;
	case CPU_TEMPLATE_T2CL: return &t2cl;
	case CPU_TEMPLATE_T2A: return &t2a;
	default: return NULL;
	}
}

const char *cpu_tmpl_vendor(enum cpu_template t)
{
	if (!cpu_tmpl_static(t))
		return NULL;
	return t == CPU_TEMPLATE_T2A ? "AuthenticAMD" : "GenuineIntel";
}

bool cpu_tmpl_vendor_ok(struct kvm_cpuid2 *c, enum cpu_template t)
{
	const char *want = cpu_tmpl_vendor(t);
	struct kvm_cpuid_entry2 *l0 = cpuid_find(c, 0, 0);
	char have[12];
	if (!want)
		return true;
	if (!l0)
		return false;
	/* The vendor string is EBX, EDX, ECX of leaf 0. */
	memcpy(have, &l0->ebx, 4);
	memcpy(have + 4, &l0->edx, 4);
	memcpy(have + 8, &l0->ecx, 4);
	return !memcmp(have, want, 12);
}
