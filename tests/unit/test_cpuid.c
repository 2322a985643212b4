/* vmm/x86/cpuid.c: per-vCPU topology and templates over a hand-built KVM_GET_SUPPORTED_CPUID. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../vmm/x86/cpuid.h"

#define BIT(n) (1u << (n))
#define SIG    KVM_CPUID_FLAG_SIGNIFCANT_INDEX

/* Leaf 1 ECX and leaf 7 EBX bits the PvmSafe template must hide. */
#define L1_PVM_HIDDEN \
	(BIT(13) | BIT(23) | BIT(26) | BIT(27) | BIT(30)) /* CX16 POPCNT XSAVE OSXSAVE RDRAND */
#define L7_PVM_HIDDEN (BIT(0) | BIT(18) | BIT(20))	  /* FSGSBASE RDSEED SMAP */
#define L1_SSE42      BIT(20)
#define L7_ERMS	      BIT(9)

static struct kvm_cpuid2 *cpuid;

static void add(uint32_t fn, uint32_t idx, uint32_t flags, uint32_t eax, uint32_t ebx, uint32_t ecx,
		uint32_t edx)
{
	cpuid->entries[cpuid->nent++] = (struct kvm_cpuid_entry2){
		.function = fn,
		.index = idx,
		.flags = flags,
		.eax = eax,
		.ebx = ebx,
		.ecx = ecx,
		.edx = edx,
	};
}

/* What KVM might report on an Intel (or AMD) host, every feature bit set. */
static struct kvm_cpuid2 *host_cpuid(bool intel)
{
	cpuid = calloc(1, sizeof(*cpuid) + 32 * sizeof(struct kvm_cpuid_entry2));
	cr_assert_not_null(cpuid);
	if (intel)
		add(0, 0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69); /* GenuineIntel */
	else
		add(0, 0, 0, 0x10, 0x68747541, 0x444d4163, 0x69746e65); /* AuthenticAMD */
	add(1, 0, 0, 0x000906ea, 0xdeadbeef, 0x7fffffff, 0xffffffff);
	add(4, 0, SIG, (1u << 5) | 0x21 | (0x3fu << 26) | (0xfffu << 14), 0, 0, 0); /* L1d */
	add(4, 3, SIG, (3u << 5) | 0x23 | (0x3fu << 26), 0, 0, 0);		    /* L3 */
	add(7, 0, SIG, 1, 0xffffffff, 0xffffffff, 0xffffffff);
	add(7, 1, SIG, 0xffffffff, 0xffffffff, 0, 0);
	add(0xa, 0, 0, 0x07300805, 0, 0, 0x603);
	add(0xb, 0, SIG, 1, 2, 0x100, 99);
	add(0xb, 1, SIG, 4, 16, 0x201, 99);
	add(0xb, 2, SIG, 0, 0, 2, 99);
	add(0xd, 0, SIG, 0x2ff, 0xa88, 0xa88, 0);
	add(0x1f, 0, SIG, 1, 2, 0x100, 99);
	add(0x80000008, 0, 0, 0x3030, 0, 0xf0ff, 0);
	add(0x8000001d, 3, SIG, (3u << 5) | 0x23 | (0xfffu << 14), 0, 0, 0);
	add(0x8000001e, 0, 0, 0x1234, 0x5678, 0x9abc, 0);
	return cpuid;
}

static struct kvm_cpuid_entry2 *leaf(uint32_t fn, uint32_t idx)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(cpuid, fn, idx);
	cr_assert_not_null(e, "leaf %#x.%u missing", fn, idx);
	return e;
}

static void normalize(bool intel, unsigned id, unsigned nr, enum cpu_template t)
{
	free(cpuid);
	host_cpuid(intel);
	struct cpuid_cfg cfg = { .vcpu_id = id, .nr_vcpus = nr, .tmpl = t };
	cpuid_normalize(cpuid, &cfg);
}

static void teardown(void)
{
	free(cpuid);
	cpuid = NULL;
}

TestSuite(cpuid, .fini = teardown);

Test(cpuid, leaf1_ebx_carries_apic_id_and_logical_count)
{
	for (unsigned id = 0; id < 32; id++) {
		normalize(true, id, 32, CPU_TEMPLATE_HOST);
		uint32_t ebx = leaf(1, 0)->ebx;
		cr_expect_eq(ebx >> 24, id, "vCPU %u: initial APIC id", id);
		cr_expect_eq((ebx >> 16) & 0xff, 32, "vCPU %u: logical processor count", id);
		cr_expect_eq(ebx & 0xffff, 0xbeef, "vCPU %u: brand/clflush bits kept", id);
	}
}

Test(cpuid, leaf_0xb_edx_is_the_x2apic_id_on_every_subleaf)
{
	for (unsigned id = 0; id < 4; id++) {
		normalize(true, id, 4, CPU_TEMPLATE_HOST);
		for (unsigned sub = 0; sub < 3; sub++)
			cr_expect_eq(leaf(0xb, sub)->edx, id, "vCPU %u subleaf %u", id, sub);
		cr_expect_eq(leaf(0x1f, 0)->edx, id, "leaf 0x1f too");
	}
}

Test(cpuid, leaf_0xb_describes_one_thread_per_core)
{
	normalize(true, 1, 3, CPU_TEMPLATE_HOST);
	struct kvm_cpuid_entry2 *smt = leaf(0xb, 0), *core = leaf(0xb, 1), *end = leaf(0xb, 2);
	cr_expect_eq(smt->ebx, 1, "one logical processor per core");
	cr_expect_eq((smt->ecx >> 8) & 0xff, 1, "level type SMT");
	cr_expect_eq(smt->ecx & 0xff, 0);
	cr_expect_eq(smt->eax & 0x1f, 0, "no SMT bits in the APIC id");
	cr_expect_eq(core->ebx, 3, "three vCPUs in the package");
	cr_expect_eq((core->ecx >> 8) & 0xff, 2, "level type core");
	cr_expect_eq(core->ecx & 0xff, 1);
	cr_expect_eq(core->eax & 0x1f, 2, "APIC ids 0..2 need 2 bits");
	cr_expect_eq(end->ebx, 0, "subleaf 2 is invalid");
	cr_expect_eq((end->ecx >> 8) & 0xff, 0);
}

Test(cpuid, hypervisor_bit_is_always_set)
{
	free(cpuid);
	host_cpuid(true);
	leaf(1, 0)->ecx &= ~BIT(31);
	struct cpuid_cfg cfg = { .vcpu_id = 0, .nr_vcpus = 1, .tmpl = CPU_TEMPLATE_HOST };
	cpuid_normalize(cpuid, &cfg);
	cr_expect(leaf(1, 0)->ecx & BIT(31));
}

Test(cpuid, tsc_deadline_bit_follows_kvm_capability)
{
	for (int cap = 0; cap < 2; cap++) {
		free(cpuid);
		host_cpuid(false);
		/* KVM's supported set leaves the bit out; the host's value must not matter. */
		leaf(1, 0)->ecx = cap ? leaf(1, 0)->ecx & ~BIT(24) : leaf(1, 0)->ecx | BIT(24);
		struct cpuid_cfg cfg = { .nr_vcpus = 1,
					 .tmpl = CPU_TEMPLATE_HOST,
					 .tsc_deadline = cap };
		cpuid_normalize(cpuid, &cfg);
		cr_expect_eq(!!(leaf(1, 0)->ecx & BIT(24)), cap, "TSC deadline with capability %d",
			     cap);
	}
}

Test(cpuid, htt_follows_the_vcpu_count)
{
	normalize(true, 0, 1, CPU_TEMPLATE_HOST);
	cr_expect_not(leaf(1, 0)->edx & BIT(28), "one vCPU: no HTT");
	normalize(true, 0, 2, CPU_TEMPLATE_HOST);
	cr_expect(leaf(1, 0)->edx & BIT(28), "two vCPUs: HTT");
}

Test(cpuid, pvm_safe_template_hides_what_the_pvm_emulator_cannot_run)
{
	normalize(true, 0, 2, CPU_TEMPLATE_PVM_SAFE);
	uint32_t ecx = leaf(1, 0)->ecx, ebx = leaf(7, 0)->ebx;
	cr_expect_eq(ecx & L1_PVM_HIDDEN, 0, "leaf 1 ECX %#x", ecx);
	cr_expect_eq(ebx & L7_PVM_HIDDEN, 0, "leaf 7 EBX %#x", ebx);
	cr_expect(ecx & L1_SSE42, "unrelated features stay");
	cr_expect(ebx & L7_ERMS, "unrelated features stay");
	cr_expect_eq(leaf(7, 1)->ebx, 0xffffffff, "leaf 7 subleaf 1 untouched");
	struct kvm_cpuid_entry2 *xs = leaf(0xd, 0);
	cr_expect_eq(xs->eax | xs->ebx | xs->ecx | xs->edx, 0, "no XSAVE state leaf");
}

Test(cpuid, host_template_leaves_features_alone)
{
	normalize(true, 0, 2, CPU_TEMPLATE_HOST);
	cr_expect_eq(leaf(1, 0)->ecx & L1_PVM_HIDDEN, L1_PVM_HIDDEN);
	cr_expect_eq(leaf(7, 0)->ebx, 0xffffffff);
	cr_expect_eq(leaf(0xd, 0)->eax, 0x2ff);
}

Test(cpuid, pmu_leaf_is_cleared)
{
	normalize(true, 0, 1, CPU_TEMPLATE_HOST);
	struct kvm_cpuid_entry2 *e = leaf(0xa, 0);
	cr_expect_eq(e->eax | e->ebx | e->ecx | e->edx, 0);
}

Test(cpuid, intel_cache_leaf_reports_sharing)
{
	normalize(true, 0, 8, CPU_TEMPLATE_HOST);
	uint32_t l1 = leaf(4, 0)->eax, l3 = leaf(4, 3)->eax;
	cr_expect_eq((l1 >> 14) & 0xfff, 0, "L1 private to each core");
	cr_expect_eq((l3 >> 14) & 0xfff, 7, "L3 shared by all 8");
	cr_expect_eq(l3 >> 26, 7, "cores per package - 1");
	cr_expect_eq(l3 & 0x3fff, (3u << 5) | 0x23, "cache type and level kept");
}

Test(cpuid, amd_extended_topology)
{
	for (unsigned id = 0; id < 5; id++) {
		normalize(false, id, 5, CPU_TEMPLATE_HOST);
		struct kvm_cpuid_entry2 *e = leaf(0x8000001e, 0);
		cr_expect_eq(e->eax, id, "extended APIC id of vCPU %u", id);
		cr_expect_eq(e->ebx & 0xff, id, "core id of vCPU %u", id);
		cr_expect_eq((e->ebx >> 8) & 0xff, 0, "one thread per core");
		cr_expect_eq(e->ecx, 0, "one node");
		uint32_t ecx = leaf(0x80000008, 0)->ecx;
		cr_expect_eq(ecx & 0xff, 4, "NC = vCPUs - 1");
		cr_expect_eq((ecx >> 12) & 0xf, 3, "ApicIdSize for 5 vCPUs");
		cr_expect_eq((leaf(0x8000001d, 3)->eax >> 14) & 0xfff, 4, "L3 shared by all");
	}
}

Test(cpuid, amd_leaf_0x80000008_untouched_on_intel)
{
	normalize(true, 0, 5, CPU_TEMPLATE_HOST);
	cr_expect_eq(leaf(0x80000008, 0)->ecx, 0xf0ff);
}

Test(cpuid, find_honours_significant_index)
{
	host_cpuid(true);
	cr_expect_eq(cpuid_find(cpuid, 7, 1)->eax, 0xffffffff);
	cr_expect_eq(cpuid_find(cpuid, 7, 0)->eax, 1);
	cr_expect_null(cpuid_find(cpuid, 7, 2), "no such subleaf");
	cr_expect_eq(cpuid_find(cpuid, 1, 5)->eax, 0x000906ea, "index ignored without the flag");
	cr_expect_null(cpuid_find(cpuid, 0x40000000, 0));
}

Test(cpuid, template_names_parse_case_insensitively)
{
	static const struct {
		const char *s;
		enum cpu_template t;
	} ok[] = {
		{ "None", CPU_TEMPLATE_AUTO },	      { "none", CPU_TEMPLATE_AUTO },
		{ "Host", CPU_TEMPLATE_HOST },	      { "HOST", CPU_TEMPLATE_HOST },
		{ "PvmSafe", CPU_TEMPLATE_PVM_SAFE }, { "pvmsafe", CPU_TEMPLATE_PVM_SAFE },
		{ "PVMSAFE", CPU_TEMPLATE_PVM_SAFE },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		enum cpu_template t = (enum cpu_template)99;
		cr_expect_eq(cpu_template_parse(ok[i].s, &t), 0, "%s", ok[i].s);
		cr_expect_eq(t, ok[i].t, "%s", ok[i].s);
	}
}

Test(cpuid, template_garbage_is_rejected)
{
	static const char *const bad[] = { "",	  "Hosts",    "Hos", " Host", "Host ",
					   "pvm", "Pvm_Safe", "t2",  "C4",    "Host\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum cpu_template t = CPU_TEMPLATE_HOST;
		cr_expect_eq(cpu_template_parse(bad[i], &t), -EINVAL, "case %zu '%s'", i, bad[i]);
		cr_expect_eq(t, CPU_TEMPLATE_HOST, "case %zu: output untouched", i);
	}
}

Test(cpuid, template_names_round_trip_and_auto_resolves)
{
	static const enum cpu_template all[] = { CPU_TEMPLATE_AUTO, CPU_TEMPLATE_HOST,
						 CPU_TEMPLATE_PVM_SAFE };
	for (size_t i = 0; i < 3; i++) {
		enum cpu_template t;
		cr_assert_eq(cpu_template_parse(cpu_template_name(all[i]), &t), 0);
		cr_expect_eq(t, all[i]);
	}
	cr_expect_eq(cpu_template_resolve(CPU_TEMPLATE_AUTO, true), CPU_TEMPLATE_PVM_SAFE);
	cr_expect_eq(cpu_template_resolve(CPU_TEMPLATE_AUTO, false), CPU_TEMPLATE_HOST);
	cr_expect_eq(cpu_template_resolve(CPU_TEMPLATE_HOST, true), CPU_TEMPLATE_HOST);
	cr_expect_eq(cpu_template_resolve(CPU_TEMPLATE_PVM_SAFE, false), CPU_TEMPLATE_PVM_SAFE);
}

Test(cpuid, firecracker_static_template_names_parse_exactly)
{
	static const struct {
		const char *name;
		enum cpu_template t;
	} fc[] = { { "C3", CPU_TEMPLATE_C3 },	{ "T2", CPU_TEMPLATE_T2 },
		   { "T2S", CPU_TEMPLATE_T2S }, { "T2CL", CPU_TEMPLATE_T2CL },
		   { "T2A", CPU_TEMPLATE_T2A }, { "None", CPU_TEMPLATE_AUTO } };
	for (size_t i = 0; i < sizeof(fc) / sizeof(fc[0]); i++) {
		enum cpu_template t = CPU_TEMPLATE_HOST;
		cr_expect_eq(cpu_template_parse(fc[i].name, &t), 0, "%s", fc[i].name);
		cr_expect_eq(t, fc[i].t, "%s", fc[i].name);
		cr_expect_str_eq(cpu_template_name(t), fc[i].name);
		cr_expect_eq(cpu_template_is_static(t), t != CPU_TEMPLATE_AUTO, "%s", fc[i].name);
		/* Underneath, a static template runs on mvm's base for the host. */
		cr_expect_eq(cpu_template_resolve(t, false), CPU_TEMPLATE_HOST);
		cr_expect_eq(cpu_template_resolve(t, true), CPU_TEMPLATE_PVM_SAFE);
	}
	/* aarch64's V1N1 is unknown on x86_64, and Firecracker's names are case-exact. */
	static const char *const bad[] = { "V1N1", "t2", "t2a", "T3", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum cpu_template t = CPU_TEMPLATE_HOST;
		cr_expect_eq(cpu_template_parse(bad[i], &t), -EINVAL, "%s", bad[i]);
	}
}

static void normalize_smt(bool intel, unsigned id, unsigned nr)
{
	free(cpuid);
	host_cpuid(intel);
	struct cpuid_cfg cfg = {
		.vcpu_id = id, .nr_vcpus = nr, .tmpl = CPU_TEMPLATE_HOST, .smt = true
	};
	cpuid_normalize(cpuid, &cfg);
}

Test(cpuid, smt_with_an_even_count_shows_two_threads_per_core)
{
	normalize_smt(true, 3, 4);
	cr_expect_eq(leaf(0xb, 0)->ebx, 2, "two logical processors per core");
	cr_expect_eq(leaf(0xb, 0)->eax, 1, "one bit of the x2APIC id is the thread");
	cr_expect_eq(leaf(0xb, 1)->ebx, 4, "four in the package");
	cr_expect_eq(leaf(0xb, 1)->eax, 2);
	cr_expect_eq((leaf(4, 0)->eax >> 14) & 0xfff, 1, "L1 shared by the core's two threads");
	cr_expect_eq((leaf(4, 0)->eax >> 26) & 0x3f, 1, "two cores");
	normalize_smt(false, 3, 4);
	cr_expect_eq(leaf(0x8000001e, 0)->ebx, (1u << 8) | 1, "AMD: core 1, 2 threads per core");
}

Test(cpuid, smt_with_one_vcpu_stays_one_thread_per_core)
{
	normalize_smt(true, 0, 1);
	cr_expect_eq(leaf(0xb, 0)->ebx, 1);
	cr_expect_eq(leaf(0xb, 0)->eax, 0);
}
