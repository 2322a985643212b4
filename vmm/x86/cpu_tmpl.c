/* Custom CPU templates: Firecracker's JSON format, checked field by field, and
 * their CPUID modifiers applied to a vCPU's CPUID (pure: unit-tested). */
#include "cpu_tmpl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/json.h"
#include "../../lib/util.h"

static const char *const reg_names[] = { "eax", "ebx", "ecx", "edx" };

int cpu_tmpl_bitmap(const char *s, unsigned bits, uint64_t *mask, uint64_t *value)
{
	uint64_t m = 0, v = 0;
	unsigned n = 0;
	if (!strncmp(s, "0b", 2))
		s += 2;
	/* From the last digit (bit 0) up; '_' only separates. */
	for (size_t i = strlen(s); i-- > 0;) {
		char c = s[i];
		if (c == '_')
			continue;
		if (c != '0' && c != '1' && c != 'x')
			return -EINVAL;
		if (n == bits)
			return -E2BIG;
		if (c != 'x')
			m |= 1ull << n;
		if (c == '1')
			v |= 1ull << n;
		n++;
	}
	if (!n)
		return -ENODATA;
	*mask = m;
	*value = v;
	return 0;
}

/* "0x.." or "0b.." into a u32, as Firecracker's template numbers. */
static int number(const struct json *j, int v, const char *field, uint32_t *out, struct err *e)
{
	char s[80], *end;
	int r, base;
	if ((r = json_string_buf(j, v, field, s, sizeof(s), e)))
		return r;
	if (!strncmp(s, "0x", 2))
		base = 16;
	else if (!strncmp(s, "0b", 2))
		base = 2;
	else
		return err_inval(e,
				 "field '%s': No supported number system prefix found in value "
				 "[%s]. Make sure to prefix the number with '0x' for hexadecimal "
				 "numbers or '0b' for binary numbers.",
				 field, s);
	errno = 0;
	unsigned long long u = strtoull(s + 2, &end, base);
	if (!s[2] || *end || errno || u > UINT32_MAX || s[2] == '-' || s[2] == '+')
		return err_inval(e, "field '%s': [%s] is not a 32-bit number", field, s);
	*out = (uint32_t)u;
	return 0;
}

static int bitmap(const struct json *j, int v, const char *field, unsigned bits, uint64_t *mask,
		  uint64_t *value, struct err *e)
{
	char s[160];
	int r;
	if ((r = json_string_buf(j, v, field, s, sizeof(s), e)))
		return r;
	if ((r = cpu_tmpl_bitmap(s, bits, mask, value)))
		return err_inval(e,
				 "field '%s': bitmap [%s] %s; use \"0b\" then up to %u of 0, 1 "
				 "or x (keep), '_' to separate",
				 field, s,
				 r == -E2BIG	 ? "is too long"
				 : r == -ENODATA ? "has no bits"
						 : "has a character other than 0, 1, x, _",
				 bits);
	return 0;
}

/* CPUID leaves live in these windows (basic, hypervisor, extended, Centaur). */
static bool leaf_valid(uint32_t leaf)
{
	return leaf <= 0xffff || (leaf >= 0x40000000 && leaf <= 0x400000ff) ||
	       (leaf >= 0x80000000 && leaf <= 0x8000ffff) ||
	       (leaf >= 0xc0000000 && leaf <= 0xc000ffff);
}

/* MSRs: the architectural low range, AMD's/extended range, Hyper-V and KVM's own. */
static bool msr_valid(uint32_t a)
{
	return a <= 0x1fff || (a >= 0xc0000000 && a <= 0xc0011fff) ||
	       (a >= 0x40000000 && a <= 0x400000ff) || (a >= 0x4b564d00 && a <= 0x4b564dff);
}

#define F(...) (snprintf(f, sizeof(f), __VA_ARGS__), f)

static int register_mods(const struct json *j, int arr, struct cpuid_mod *base, unsigned idx,
			 struct cpu_tmpl *t, struct err *e)
{
	char f[96];
	int r, n = 0;
	if (j->t[arr].type != JSMN_ARRAY)
		return err_inval(e, "field 'cpuid_modifiers[%u].modifiers' must be an array", idx);
	for (int m = arr + 1, c = 0; c < j->t[arr].size; c++, m = json_next(j, m), n++) {
		struct cpuid_mod cm = *base;
		bool have_reg = false, have_bitmap = false;
		uint64_t mask, value;
		if ((r = json_expect_object(j, m, F("cpuid_modifiers[%u].modifiers[%d]", idx, n),
					    e)))
			return r;
		for_each_member (j, m, k, v) {
			if (json_key_is(j, k, "register")) {
				char reg[16];
				const char *fn =
				    F("cpuid_modifiers[%u].modifiers[%d].register", idx, n);
				if ((r = json_string_buf(j, v, fn, reg, sizeof(reg), e)))
					return r;
				unsigned x = 0;
				while (x < 4 && strcmp(reg, reg_names[x]))
					x++;
				if (x == 4)
					return err_inval(e,
							 "field '%s': Invalid CPUID register. Must "
							 "be one of [eax, ebx, ecx, edx]",
							 fn);
				cm.reg = (enum cpuid_reg)x;
				have_reg = true;
			} else if (json_key_is(j, k, "bitmap")) {
				if ((r = bitmap(
					 j, v,
					 F("cpuid_modifiers[%u].modifiers[%d].bitmap", idx, n), 32,
					 &mask, &value, e)))
					return r;
				cm.mask = (uint32_t)mask;
				cm.value = (uint32_t)value;
				have_bitmap = true;
			} else {
				return json_unknown_field(j, k, "a CPUID register modifier", e);
			}
		}
		if (!have_reg || !have_bitmap)
			return err_inval(e,
					 "cpuid_modifiers[%u].modifiers[%d] needs 'register' "
					 "and 'bitmap'",
					 idx, n);
		for (unsigned o = 0; o < t->nr_cpuid; o++) {
			const struct cpuid_mod *p = &t->cpuid[o];
			if (p->leaf == cm.leaf && p->subleaf == cm.subleaf && p->reg == cm.reg)
				return err_inval(
				    e,
				    "cpuid_modifiers[%u]: leaf %#x subleaf %#x register "
				    "%s is modified twice",
				    idx, cm.leaf, cm.subleaf, reg_names[cm.reg]);
		}
		if (t->nr_cpuid == CPU_TMPL_MAX_CPUID)
			return err_inval(e, "cpuid_modifiers: more than %d register modifiers",
					 CPU_TMPL_MAX_CPUID);
		t->cpuid[t->nr_cpuid++] = cm;
	}
	return 0;
}

static int leaf_mod(const struct json *j, int obj, unsigned idx, struct cpu_tmpl *t, struct err *e)
{
	char f[96];
	struct cpuid_mod base = { 0 };
	int r, mods = -1;
	bool have_leaf = false, have_sub = false, have_flags = false;
	uint64_t u;
	if ((r = json_expect_object(j, obj, F("cpuid_modifiers[%u]", idx), e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (json_key_is(j, k, "leaf")) {
			if ((r = number(j, v, F("cpuid_modifiers[%u].leaf", idx), &base.leaf, e)))
				return r;
			have_leaf = true;
		} else if (json_key_is(j, k, "subleaf")) {
			if ((r = number(j, v, F("cpuid_modifiers[%u].subleaf", idx), &base.subleaf,
					e)))
				return r;
			have_sub = true;
		} else if (json_key_is(j, k, "flags")) {
			if (json_u64(j, v, "flags", 0, 1, &u, e))
				return err_inval(e,
						 "field 'cpuid_modifiers[%u].flags': use 0, or 1 "
						 "(KVM_CPUID_FLAG_SIGNIFCANT_INDEX)",
						 idx);
			base.flags = (uint32_t)u;
			have_flags = true;
		} else if (json_key_is(j, k, "modifiers")) {
			mods = v;
		} else {
			return json_unknown_field(j, k, "a CPUID leaf modifier", e);
		}
	}
	if (!have_leaf || !have_sub || !have_flags || mods < 0)
		return err_inval(e,
				 "cpuid_modifiers[%u] needs 'leaf', 'subleaf', 'flags' and "
				 "'modifiers'",
				 idx);
	if (!leaf_valid(base.leaf))
		return err_inval(e,
				 "field 'cpuid_modifiers[%u].leaf': %#x is outside the CPUID "
				 "ranges 0x0-0xffff, 0x40000000-0x400000ff, "
				 "0x80000000-0x8000ffff, 0xc0000000-0xc000ffff",
				 idx, base.leaf);
	if (base.subleaf && !base.flags)
		return err_inval(e,
				 "field 'cpuid_modifiers[%u].subleaf': %#x needs flags 1 "
				 "(KVM_CPUID_FLAG_SIGNIFCANT_INDEX); a leaf without it has only "
				 "subleaf 0",
				 idx, base.subleaf);
	return register_mods(j, mods, &base, idx, t, e);
}

static int msr_mod(const struct json *j, int obj, unsigned idx, struct cpu_tmpl *t, struct err *e)
{
	char f[64];
	struct msr_mod mm = { 0 };
	bool have_addr = false, have_bitmap = false;
	int r;
	if ((r = json_expect_object(j, obj, F("msr_modifiers[%u]", idx), e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (json_key_is(j, k, "addr")) {
			if ((r = number(j, v, F("msr_modifiers[%u].addr", idx), &mm.addr, e)))
				return r;
			have_addr = true;
		} else if (json_key_is(j, k, "bitmap")) {
			if ((r = bitmap(j, v, F("msr_modifiers[%u].bitmap", idx), 64, &mm.mask,
					&mm.value, e)))
				return r;
			have_bitmap = true;
		} else {
			return json_unknown_field(j, k, "an MSR modifier", e);
		}
	}
	if (!have_addr || !have_bitmap)
		return err_inval(e, "msr_modifiers[%u] needs 'addr' and 'bitmap'", idx);
	if (!msr_valid(mm.addr))
		return err_inval(e,
				 "field 'msr_modifiers[%u].addr': %#x is not an MSR address "
				 "(0x0-0x1fff, 0xc0000000-0xc0011fff, 0x40000000-0x400000ff, "
				 "0x4b564d00-0x4b564dff)",
				 idx, mm.addr);
	for (unsigned o = 0; o < t->nr_msr; o++)
		if (t->msr[o].addr == mm.addr)
			return err_inval(e, "msr_modifiers[%u]: MSR %#x is modified twice", idx,
					 mm.addr);
	if (t->nr_msr == CPU_TMPL_MAX_MSR)
		return err_inval(e, "msr_modifiers: more than %d MSRs", CPU_TMPL_MAX_MSR);
	t->msr[t->nr_msr++] = mm;
	return 0;
}

static int kvm_cap(const struct json *j, int v, unsigned idx, struct cpu_tmpl *t, struct err *e)
{
	char f[48], s[32], *end;
	int r;
	if ((r = json_string_buf(j, v, F("kvm_capabilities[%u]", idx), s, sizeof(s), e)))
		return r;
	bool remove = s[0] == '!';
	const char *num = s + remove;
	errno = 0;
	unsigned long u = strtoul(num, &end, 10);
	if (*num < '0' || *num > '9' || *end || errno || u > UINT32_MAX)
		return err_inval(e,
				 "field 'kvm_capabilities[%u]': Failed to parse string [%s] as a "
				 "kvm capability - use its decimal number, '!' before it to drop "
				 "the check",
				 idx, s);
	if (t->nr_caps == CPU_TMPL_MAX_CAPS)
		return err_inval(e, "kvm_capabilities: more than %d", CPU_TMPL_MAX_CAPS);
	t->caps[t->nr_caps++] = (struct kvm_cap_req){ .cap = (uint32_t)u, .remove = remove };
	return 0;
}

/* Each element of array field v, through fn. */
static int each(const struct json *j, int v, const char *field, struct cpu_tmpl *t,
		int (*fn)(const struct json *, int, unsigned, struct cpu_tmpl *, struct err *),
		struct err *e)
{
	int r;
	if (j->t[v].type != JSMN_ARRAY)
		return err_inval(e, "field '%s' must be an array", field);
	for (int x = v + 1, c = 0; c < j->t[v].size; c++, x = json_next(j, x))
		if ((r = fn(j, x, (unsigned)c, t, e)))
			return r;
	return 0;
}

int cpu_tmpl_parse(const struct json *j, int obj, struct cpu_tmpl *out, struct err *e)
{
	int r;
	memset(out, 0, sizeof(*out));
	if ((r = json_expect_object(j, obj, "cpu-config", e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (json_key_is(j, k, "cpuid_modifiers"))
			r = each(j, v, "cpuid_modifiers", out, leaf_mod, e);
		else if (json_key_is(j, k, "msr_modifiers"))
			r = each(j, v, "msr_modifiers", out, msr_mod, e);
		else if (json_key_is(j, k, "kvm_capabilities"))
			r = each(j, v, "kvm_capabilities", out, kvm_cap, e);
		else if (json_key_is(j, k, "reg_modifiers") || json_key_is(j, k, "vcpu_features"))
			r = err_inval(e, "field '%.*s' is for aarch64; this is x86_64",
				      j->t[k].end - j->t[k].start, j->s + j->t[k].start);
		else
			r = json_unknown_field(j, k, "cpu-config", e);
		if (r)
			return r;
	}
	return 0;
}

int cpu_tmpl_apply_cpuid(struct kvm_cpuid2 *c, uint32_t max, const struct cpu_tmpl *t)
{
	for (unsigned i = 0; i < t->nr_cpuid; i++) {
		const struct cpuid_mod *m = &t->cpuid[i];
		struct kvm_cpuid_entry2 *x = cpuid_find(c, m->leaf, m->subleaf);
		if (!x) {
			if (c->nent == max)
				return -ENOSPC;
			x = &c->entries[c->nent++];
			memset(x, 0, sizeof(*x));
			x->function = m->leaf;
			x->index = m->subleaf;
			x->flags = m->flags;
		}
		uint32_t *reg[] = { &x->eax, &x->ebx, &x->ecx, &x->edx };
		*reg[m->reg] = (uint32_t)cpu_tmpl_mask(*reg[m->reg], m->mask, m->value);
	}
	return 0;
}
