/* vmm/x86/cpu_tmpl*.c: custom templates' JSON, bitmaps, and every static
 * template's masks applied to a fake host CPUID (Intel and AMD). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/json.h"
#include "../../vmm/x86/cpu_tmpl.h"

#define BIT(n) (1u << (n))
#define MAXE   32

static struct kvm_cpuid2 *c;

static void add(uint32_t fn, uint32_t idx, uint32_t flags, uint32_t a, uint32_t b, uint32_t cx,
		uint32_t d)
{
	c->entries[c->nent++] = (struct kvm_cpuid_entry2){ .function = fn,
							   .index = idx,
							   .flags = flags,
							   .eax = a,
							   .ebx = b,
							   .ecx = cx,
							   .edx = d };
}

/* Every bit set in the feature leaves, so each mask's cleared bits show. */
static void host(bool intel)
{
	free(c);
	c = calloc(1, sizeof(*c) + MAXE * sizeof(c->entries[0]));
	cr_assert_not_null(c);
	if (intel)
		add(0, 0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69); /* GenuineIntel */
	else
		add(0, 0, 0, 0x10, 0x68747541, 0x444d4163, 0x69746e65); /* AuthenticAMD */
	add(1, 0, 0, 0x00a00f11, 0xffffffff, 0xffffffff, 0xffffffff);
	add(7, 0, 1, 0, 0xffffffff, 0xffffffff, 0xffffffff);
	add(0xd, 0, 1, 0xffffffff, 0, 0, 0);
	add(0xd, 1, 1, 0xffffffff, 0, 0, 0);
	add(0x80000001, 0, 0, 0, 0, 0xffffffff, 0xffffffff);
	add(0x80000008, 0, 0, 0x3030, 0xffffffff, 0, 0);
}

static uint32_t reg(uint32_t fn, uint32_t idx, enum cpuid_reg r)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, fn, idx);
	cr_assert_not_null(e, "leaf %#x.%u", fn, idx);
	uint32_t v[] = { e->eax, e->ebx, e->ecx, e->edx };
	return v[r];
}

static void apply(enum cpu_template t)
{
	const struct cpu_tmpl *s = cpu_tmpl_static(t);
	cr_assert_not_null(s, "%s", cpu_template_name(t));
	cr_assert_eq(cpu_tmpl_apply_cpuid(c, MAXE, s), 0);
}

/* Leaf 1: the template's family/model/stepping; the stepping byte shows which. */
static void expect_signature(uint32_t sig)
{
	cr_expect_eq(reg(1, 0, CPUID_EAX) & 0x0fff3fff, sig, "signature %#x", reg(1, 0, CPUID_EAX));
}

Test(cpu_tmpl, c3_masks_on_an_intel_host)
{
	host(true);
	cr_expect(cpu_tmpl_vendor_ok(c, CPU_TEMPLATE_C3));
	apply(CPU_TEMPLATE_C3);
	expect_signature(0x000306e4);
	cr_expect_eq(reg(7, 0, CPUID_EBX) & BIT(5), 0, "AVX2 hidden");
	cr_expect_eq(reg(7, 0, CPUID_EBX) & BIT(16), 0, "AVX512F hidden");
	cr_expect_eq(reg(1, 0, CPUID_ECX) & BIT(28), BIT(28), "AVX kept");
	cr_expect_eq(reg(1, 0, CPUID_EDX) & (BIT(7) | BIT(12)), BIT(7) | BIT(12), "MCE MTRR set");
	cr_expect_eq(reg(0xd, 0, CPUID_EAX) & 0x2f8, 0, "MPX/AVX-512/PKRU state hidden");
	cr_expect_eq(reg(0x80000001, 0, CPUID_EDX) & BIT(26), 0, "1G pages hidden");
	cr_expect_eq(cpu_tmpl_static(CPU_TEMPLATE_C3)->nr_msr, 0);
}

Test(cpu_tmpl, t2_family_masks_on_an_intel_host)
{
	static const enum cpu_template ts[] = { CPU_TEMPLATE_T2, CPU_TEMPLATE_T2S,
						CPU_TEMPLATE_T2CL };
	for (size_t i = 0; i < 3; i++) {
		host(true);
		cr_expect(cpu_tmpl_vendor_ok(c, ts[i]));
		cr_expect(!cpu_tmpl_vendor_ok(c, CPU_TEMPLATE_T2A));
		apply(ts[i]);
		expect_signature(0x000306f2);
		cr_expect_eq(reg(1, 0, CPUID_ECX) & BIT(28), BIT(28), "AVX kept");
		cr_expect_eq(reg(7, 0, CPUID_EBX) & (BIT(5) | BIT(9)), BIT(5) | BIT(9),
			     "AVX2 kept, ERMS set");
		cr_expect_eq(reg(7, 0, CPUID_EBX) & BIT(16), 0, "AVX512F hidden");
		cr_expect_eq(reg(0x80000008, 0, CPUID_EBX) & BIT(9), 0, "WBNOINVD hidden");
	}
	/* T2CL keeps more of leaf 0x80000001 EDX's low bits clear than T2. */
	host(true);
	apply(CPU_TEMPLATE_T2CL);
	cr_expect_eq(reg(0x80000001, 0, CPUID_EDX) & 0x07c00000, 0);
}

Test(cpu_tmpl, t2s_and_t2cl_set_arch_capabilities)
{
	const struct cpu_tmpl *t2s = cpu_tmpl_static(CPU_TEMPLATE_T2S);
	const struct cpu_tmpl *t2cl = cpu_tmpl_static(CPU_TEMPLATE_T2CL);
	cr_assert_eq(t2s->nr_msr, 1);
	cr_expect_eq(t2s->msr[0].addr, 0x10a);
	/* Every bit fixed: RDCL_NO ... and FB_CLEAR (bit 17). */
	cr_expect_eq(cpu_tmpl_mask(0xffffffffffffffffull, t2s->msr[0].mask, t2s->msr[0].value),
		     0x0c0a0c4cull);
	cr_expect_neq(t2s->msr[0].value & BIT(17), 0);
	cr_assert_eq(t2cl->nr_msr, 1);
	/* T2CL keeps the host's low bits it does not fix, clears the rest. */
	uint64_t host_caps = 0xffffffffffffffffull;
	cr_expect_eq(cpu_tmpl_mask(host_caps, t2cl->msr[0].mask, t2cl->msr[0].value),
		     ~0xffffffffe2f51e00ull);
	cr_expect_eq(cpu_tmpl_static(CPU_TEMPLATE_T2)->nr_msr, 0);
	cr_expect_eq(cpu_tmpl_static(CPU_TEMPLATE_T2A)->nr_msr, 0);
}

Test(cpu_tmpl, t2a_masks_on_an_amd_host_and_vendor_rules)
{
	host(false);
	cr_expect(cpu_tmpl_vendor_ok(c, CPU_TEMPLATE_T2A));
	static const enum cpu_template intel[] = { CPU_TEMPLATE_C3, CPU_TEMPLATE_T2,
						   CPU_TEMPLATE_T2S, CPU_TEMPLATE_T2CL };
	for (size_t i = 0; i < 4; i++)
		cr_expect(!cpu_tmpl_vendor_ok(c, intel[i]), "%s on AMD",
			  cpu_template_name(intel[i]));
	cr_expect(cpu_tmpl_vendor_ok(c, CPU_TEMPLATE_HOST), "mvm's own need no vendor");
	apply(CPU_TEMPLATE_T2A);
	expect_signature(0x000306f2);
	uint32_t ecx = reg(0x80000001, 0, CPUID_ECX);
	cr_expect_eq(ecx & (BIT(2) | BIT(6) | BIT(7) | BIT(8)), 0, "SVM SSE4A MisAlign 3DNowPf");
	cr_expect_eq(ecx & BIT(0), BIT(0), "LAHF kept");
	uint32_t ebx = reg(0x80000008, 0, CPUID_EBX);
	cr_expect_eq(ebx & 0x001c0205, 0x001c0004, "T2A's fixed 0x80000008 EBX bits");
	cr_expect_eq(reg(1, 0, CPUID_ECX) & BIT(23), BIT(23), "POPCNT kept");
}

Test(cpu_tmpl, apply_adds_a_missing_leaf_and_stops_when_full)
{
	host(true);
	struct cpu_tmpl t = { .nr_cpuid = 1,
			      .cpuid = { { 0x40000010, 0, 0, CPUID_EDX, 0xff, 0x5a } } };
	uint32_t n = c->nent;
	cr_assert_eq(cpu_tmpl_apply_cpuid(c, MAXE, &t), 0);
	cr_expect_eq(c->nent, n + 1);
	cr_expect_eq(reg(0x40000010, 0, CPUID_EDX), 0x5a);
	t.cpuid[0].leaf = 0x40000011;
	cr_expect_eq(cpu_tmpl_apply_cpuid(c, c->nent, &t), -ENOSPC);
}

Test(cpu_tmpl, bitmaps)
{
	uint64_t m, v;
	cr_assert_eq(cpu_tmpl_bitmap("0b1x0", 32, &m, &v), 0);
	cr_expect_eq(m, 0x5);
	cr_expect_eq(v, 0x4);
	cr_assert_eq(cpu_tmpl_bitmap("10_x1", 32, &m, &v), 0, "0b is optional, _ separates");
	cr_expect_eq(m, 0xd);
	cr_expect_eq(v, 0x9);
	char full[80] = "0b";
	memset(full + 2, '1', 64);
	cr_expect_eq(cpu_tmpl_bitmap(full, 64, &m, &v), 0);
	cr_expect_eq(m, ~0ull);
	cr_expect_eq(cpu_tmpl_bitmap(full, 32, &m, &v), -E2BIG);
	cr_expect_eq(cpu_tmpl_bitmap("0b12", 32, &m, &v), -EINVAL);
	cr_expect_eq(cpu_tmpl_bitmap("0b", 32, &m, &v), -ENODATA);
	cr_expect_eq(cpu_tmpl_bitmap("0b__", 32, &m, &v), -ENODATA);
}

static struct cpu_tmpl tmpl;
static struct err err;

static int parse(const char *s)
{
	struct json j;
	int r = json_parse(&j, s, strlen(s), &err);
	if (r)
		return r;
	r = cpu_tmpl_parse(&j, 0, &tmpl, &err);
	json_free(&j);
	return r;
}

Test(cpu_tmpl, parses_firecrackers_example)
{
	cr_assert_eq(
	    parse("{\"kvm_capabilities\": [\"!56\", \"7\"], \"cpuid_modifiers\": [{"
		  "\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": 0, \"modifiers\": "
		  "[{\"register\": \"eax\", \"bitmap\": "
		  "\"0bxxxx000000000011xx00011011110010\"}]}, {\"leaf\": \"0x7\", "
		  "\"subleaf\": \"0b0\", \"flags\": 1, \"modifiers\": [{\"register\": "
		  "\"ebx\", \"bitmap\": \"0b0\"}, {\"register\": \"ecx\", \"bitmap\": "
		  "\"0b1\"}]}], \"msr_modifiers\": [{\"addr\": \"0x10a\", \"bitmap\": "
		  "\"0b0000000000000000000000000000000000000000000000000000000000000000\"}]}"),
	    0, "%s", err.msg);
	cr_expect_eq(tmpl.nr_cpuid, 3);
	cr_expect_eq(tmpl.cpuid[0].mask, 0x0fff3fff);
	cr_expect_eq(tmpl.cpuid[0].value, 0x000306f2);
	cr_expect_eq(tmpl.cpuid[2].reg, CPUID_ECX);
	cr_expect_eq(tmpl.cpuid[2].flags, 1);
	cr_expect_eq(tmpl.nr_msr, 1);
	cr_expect_eq(tmpl.msr[0].addr, 0x10a);
	cr_expect_eq(tmpl.msr[0].mask, ~0ull);
	cr_expect_eq(tmpl.nr_caps, 2);
	cr_expect(tmpl.caps[0].remove && tmpl.caps[0].cap == 56);
	cr_expect(!tmpl.caps[1].remove && tmpl.caps[1].cap == 7);
	cr_expect_eq(parse("{}"), 0, "an empty template is valid");
}

#define LEAF(l, s, f, reg, bm)                                                               \
	"{\"cpuid_modifiers\": [{\"leaf\": \"" l "\", \"subleaf\": \"" s "\", \"flags\": " f \
	", \"modifiers\": [{\"register\": \"" reg "\", \"bitmap\": \"" bm "\"}]}]}"

static const struct {
	const char *body, *field, *why;
} bad[] = {
	{ LEAF("1", "0x0", "0", "eax", "0b1"), "cpuid_modifiers[0].leaf", "prefix" },
	{ LEAF("0xzz", "0x0", "0", "eax", "0b1"), "cpuid_modifiers[0].leaf", "32-bit" },
	{ LEAF("0x100000000", "0x0", "0", "eax", "0b1"), "cpuid_modifiers[0].leaf", "32-bit" },
	{ LEAF("0x50000000", "0x0", "0", "eax", "0b1"), "cpuid_modifiers[0].leaf", "ranges" },
	{ LEAF("0x4", "0x2", "0", "eax", "0b1"), "cpuid_modifiers[0].subleaf", "flags 1" },
	{ LEAF("0x1", "0x0", "2", "eax", "0b1"), "cpuid_modifiers[0].flags", "0, or 1" },
	{ LEAF("0x1", "0x0", "0", "rax", "0b1"), "modifiers[0].register",
	  "Must be one of [eax, ebx, ecx, edx]" },
	{ LEAF("0x1", "0x0", "0", "eax", "0b1y"), "modifiers[0].bitmap", "other than 0, 1, x" },
	{ LEAF("0x1", "0x0", "0", "eax", "0b000000000000000000000000000000000"),
	  "modifiers[0].bitmap", "too long" },
	{ LEAF("0x1", "0x0", "0", "eax", "0b"), "modifiers[0].bitmap", "no bits" },
	{ "{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": 0, "
	  "\"modifiers\": [{\"register\": \"eax\", \"bitmap\": \"0b1\"}, {\"register\": \"eax\", "
	  "\"bitmap\": \"0b0\"}]}]}",
	  "cpuid_modifiers[0]", "twice" },
	{ "{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"flags\": 0, \"modifiers\": []}]}",
	  "cpuid_modifiers[0]", "needs 'leaf', 'subleaf'" },
	{ "{\"cpuid_modifiers\": {}}", "cpuid_modifiers", "array" },
	{ "{\"msr_modifiers\": [{\"addr\": \"0x10a\"}]}", "msr_modifiers[0]", "needs 'addr'" },
	{ "{\"msr_modifiers\": [{\"addr\": \"0x3000\", \"bitmap\": \"0b1\"}]}",
	  "msr_modifiers[0].addr", "not an MSR address" },
	{ "{\"msr_modifiers\": [{\"addr\": \"0x10a\", \"bitmap\": \"0b1\"}, {\"addr\": \"0x10a\", "
	  "\"bitmap\": \"0b0\"}]}",
	  "msr_modifiers[1]", "twice" },
	{ "{\"msr_modifiers\": [{\"addr\": \"0x10a\", \"bitmap\": "
	  "\"0b10000000000000000000000000000000000000000000000000000000000000000\"}]}",
	  "msr_modifiers[0].bitmap", "too long" },
	{ "{\"kvm_capabilities\": [\"abc\"]}", "kvm_capabilities[0]", "kvm capability" },
	{ "{\"kvm_capabilities\": [\"!\"]}", "kvm_capabilities[0]", "kvm capability" },
	{ "{\"kvm_capabilities\": [5]}", "kvm_capabilities[0]", "string" },
	{ "{\"reg_modifiers\": []}", "reg_modifiers", "aarch64" },
	{ "{\"cpuid_modifier\": []}", "cpuid_modifier", "unknown field" },
};

Test(cpu_tmpl, bad_templates_name_the_field)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		cr_expect_eq(parse(bad[i].body), -EINVAL, "case %zu accepted: %s", i, bad[i].body);
		cr_expect(strstr(err.msg, bad[i].field) != NULL, "case %zu: no '%s' in: %s", i,
			  bad[i].field, err.msg);
		cr_expect(strstr(err.msg, bad[i].why) != NULL, "case %zu: no '%s' in: %s", i,
			  bad[i].why, err.msg);
	}
}

Test(cpu_tmpl, too_many_modifiers_are_refused)
{
	size_t cap = 64 + (CPU_TMPL_MAX_MSR + 1) * 64;
	char *s = malloc(cap), *p = s;
	p += sprintf(p, "{\"msr_modifiers\": [");
	for (unsigned i = 0; i <= CPU_TMPL_MAX_MSR; i++)
		p += sprintf(p, "%s{\"addr\": \"0x%x\", \"bitmap\": \"0b1\"}", i ? "," : "", i);
	sprintf(p, "]}");
	cr_expect_eq(parse(s), -EINVAL);
	cr_expect(strstr(err.msg, "more than") != NULL, "%s", err.msg);
	free(s);
}
