#include "cpuid.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#define BIT(n) (1u << (n))

/* Leaf 1 ECX / EDX, leaf 7 EBX bits used below. */
#define L1_ECX_FMA	    BIT(12)
#define L1_ECX_CX16	    BIT(13)
#define L1_ECX_POPCNT	    BIT(23)
#define L1_ECX_TSC_DEADLINE BIT(24)
#define L1_ECX_XSAVE	    BIT(26)
#define L1_ECX_OSXSAVE	    BIT(27)
#define L1_ECX_AVX	    BIT(28)
#define L1_ECX_F16C	    BIT(29)
#define L1_ECX_RDRAND	    BIT(30)
#define L1_ECX_HYPERVISOR   BIT(31)
#define L1_EDX_HTT	    BIT(28)
#define L7_EBX_FSGSBASE	    BIT(0)
#define L7_EBX_AVX2	    BIT(5)
#define L7_EBX_RDSEED	    BIT(18)
#define L7_EBX_SMAP	    BIT(20)
#define L7_EBX_AVX512 \
	(BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) | BIT(31))

static const struct {
	const char *name;
	enum cpu_template t;
	bool exact; /* Firecracker's: case matters, as in its API */
} templates[] = {
	{ "None", CPU_TEMPLATE_AUTO, false }, { "Auto", CPU_TEMPLATE_AUTO, false },
	{ "Host", CPU_TEMPLATE_HOST, false }, { "PvmSafe", CPU_TEMPLATE_PVM_SAFE, false },
	{ "C3", CPU_TEMPLATE_C3, true },      { "T2", CPU_TEMPLATE_T2, true },
	{ "T2S", CPU_TEMPLATE_T2S, true },    { "T2CL", CPU_TEMPLATE_T2CL, true },
	{ "T2A", CPU_TEMPLATE_T2A, true },
};

int cpu_template_parse(const char *s, enum cpu_template *out)
{
	for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++) {
		if (templates[i].exact ? !strcmp(s, templates[i].name)
				       : !strcasecmp(s, templates[i].name)) {
			*out = templates[i].t;
			return 0;
		}
	}
	return -EINVAL;
}

const char *cpu_template_name(enum cpu_template t)
{
	for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++)
		if (templates[i].t == t)
			return templates[i].name;
	return "None";
}

bool cpu_template_is_static(enum cpu_template t)
{
	return t >= CPU_TEMPLATE_C3 && t <= CPU_TEMPLATE_T2A;
}

const char *cpu_template_cmdline(enum cpu_template t)
{
	/* The same features the CPUID masks below, hidden by the guest kernel itself. */
	if (t == CPU_TEMPLATE_PVM_SAFE)
		return "clearcpuid=cx16,popcnt,xsave,avx,rdrand,rdseed,fsgsbase,smap noxsave";
	return "";
}

enum cpu_template cpu_template_resolve(enum cpu_template t, bool host_is_pvm)
{
	if (t == CPU_TEMPLATE_HOST || t == CPU_TEMPLATE_PVM_SAFE)
		return t;
	return host_is_pvm ? CPU_TEMPLATE_PVM_SAFE : CPU_TEMPLATE_HOST;
}

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, uint32_t fn, uint32_t index)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		if (e->function != fn)
			continue;
		if (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || e->index == index)
			return e;
	}
	return NULL;
}

static unsigned order_base2(unsigned n)
{
	unsigned s = 0;
	while ((1u << s) < n)
		s++;
	return s;
}

unsigned cpuid_threads_per_core(const struct cpuid_cfg *cfg)
{
	return cfg->smt && cfg->nr_vcpus >= 2 && cfg->nr_vcpus % 2 == 0 ? 2 : 1;
}

/* Leaves 0xb and 0x1f: 1 or 2 threads per core, all cores in one package. */
static void topology_leaf(struct kvm_cpuid_entry2 *e, const struct cpuid_cfg *cfg)
{
	unsigned shift = order_base2(cfg->nr_vcpus);
	unsigned threads = cpuid_threads_per_core(cfg);
	e->edx = cfg->vcpu_id;
	switch (e->index) {
	case 0: /* SMT level */
		e->eax = order_base2(threads);
		e->ebx = threads;
		e->ecx = (1u << 8) | e->index;
		break;
	case 1: /* core level */
		e->eax = shift;
		e->ebx = cfg->nr_vcpus;
		e->ecx = (2u << 8) | e->index;
		break;
	default:
		e->eax = 0;
		e->ebx = 0;
		e->ecx = e->index;
	}
}

/* Leaf 4 (Intel) and 0x8000001d (AMD): who shares each cache. */
static void cache_leaf(struct kvm_cpuid_entry2 *e, const struct cpuid_cfg *cfg, bool intel)
{
	unsigned level = (e->eax >> 5) & 7;
	unsigned threads = cpuid_threads_per_core(cfg);
	/* L1 and L2 belong to a core (its threads share them), L3 to the package. */
	unsigned sharing = level >= 3 ? cfg->nr_vcpus - 1 : threads - 1;
	e->eax &= ~(0xfffu << 14);
	e->eax |= (sharing & 0xfff) << 14;
	if (intel) {
		e->eax &= ~(0x3fu << 26);
		e->eax |= ((cfg->nr_vcpus / threads - 1) & 0x3f) << 26;
	}
}

void cpuid_normalize(struct kvm_cpuid2 *c, const struct cpuid_cfg *cfg)
{
	bool pvm = cfg->tmpl == CPU_TEMPLATE_PVM_SAFE;
	struct kvm_cpuid_entry2 *v = cpuid_find(c, 0, 0);
	bool intel = v && v->ebx == 0x756e6547; /* "Genu" */

	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		switch (e->function) {
		case 1:
			e->ebx &= 0x0000ffffu;
			e->ebx |= (cfg->vcpu_id & 0xff) << 24;
			e->ebx |= (cfg->nr_vcpus & 0xff) << 16;
			e->ecx |= L1_ECX_HYPERVISOR;
			/*
			 * KVM emulates the TSC-deadline timer but leaves the bit
			 * out of its supported set. With it (and kvm-clock giving
			 * the TSC rate) Linux needs no PIT to calibrate its timer.
			 */
			if (cfg->tsc_deadline)
				e->ecx |= L1_ECX_TSC_DEADLINE;
			else
				e->ecx &= ~L1_ECX_TSC_DEADLINE;
			if (cfg->nr_vcpus > 1)
				e->edx |= L1_EDX_HTT;
			else
				e->edx &= ~L1_EDX_HTT;
			if (pvm)
				e->ecx &=
				    ~(L1_ECX_CX16 | L1_ECX_POPCNT | L1_ECX_XSAVE | L1_ECX_OSXSAVE |
				      L1_ECX_AVX | L1_ECX_FMA | L1_ECX_F16C | L1_ECX_RDRAND);
			break;
		case 4:
			if (intel)
				cache_leaf(e, cfg, true);
			break;
		case 7:
			if (pvm && e->index == 0)
				e->ebx &= ~(L7_EBX_FSGSBASE | L7_EBX_RDSEED | L7_EBX_SMAP |
					    L7_EBX_AVX2 | L7_EBX_AVX512);
			break;
		case 0xa: /* no virtual PMU is promised */
			e->eax = e->ebx = e->ecx = e->edx = 0;
			break;
		case 0xb:
		case 0x1f: topology_leaf(e, cfg); break;
		case 0xd:
			if (pvm)
				e->eax = e->ebx = e->ecx = e->edx = 0;
			break;
		case 0x80000008:
			if (!intel) {
				e->ecx &= ~0xf0ffu;
				e->ecx |= (cfg->nr_vcpus - 1) & 0xff;
				e->ecx |= order_base2(cfg->nr_vcpus) << 12;
			}
			break;
		case 0x8000001d: cache_leaf(e, cfg, false); break;
		case 0x8000001e:
			e->eax = cfg->vcpu_id;
			/* core id, and threads per core - 1 in bits 15:8 */
			e->ebx = ((cfg->vcpu_id / cpuid_threads_per_core(cfg)) & 0xff) |
				 ((cpuid_threads_per_core(cfg) - 1) << 8);
			e->ecx = 0; /* node 0, one node */
			break;
		}
	}
}
