/*
 * vmm/affinity.c: the mvm-cpu-affinity body (bad input table), its checks
 * against a given set of online and allowed CPUs, and the kernel's CPU list
 * format both ways. No threads are pinned here (tests/integration does).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../../lib/err.h"
#include "../../lib/json.h"
#include "../../lib/strbuf.h"
#include "../../vmm/affinity.h"

static int parse(const char *text, struct cpu_affinity *a, struct err *e)
{
	struct json j;
	memset(a, 0, sizeof(*a));
	int r = json_parse(&j, text, strlen(text), e);
	if (r)
		return r;
	r = affinity_parse(&j, 0, a, e);
	json_free(&j);
	return r;
}

static cpu_set_t list(const char *s)
{
	cpu_set_t set;
	cr_assert_eq(cpu_list_parse(s, &set), 0, "%s", s);
	return set;
}

Test(affinity, parses_vcpus_and_others)
{
	struct cpu_affinity a;
	struct err e = { 0 };
	cr_assert_eq(parse("{\"vcpus\": [{\"vcpu\": 1, \"host_cpus\": [3, 2]}, {\"vcpu\": 0, "
			   "\"host_cpus\": [0]}], \"others\": [1]}",
			   &a, &e),
		     0, "%s", e.msg);
	cr_expect(a.set && a.has_others);
	cr_expect(a.vcpu_pinned[0] && a.vcpu_pinned[1] && !a.vcpu_pinned[2]);
	cr_expect(CPU_EQUAL(&a.vcpu[1], &(cpu_set_t){ 0 }) == 0);
	cpu_set_t want = list("2-3");
	cr_expect(CPU_EQUAL(&a.vcpu[1], &want));
	want = list("1");
	cr_expect(CPU_EQUAL(&a.others, &want));
}

Test(affinity, an_empty_object_clears_the_pinning)
{
	struct cpu_affinity a;
	struct err e = { 0 };
	cr_assert_eq(parse("{}", &a, &e), 0, "%s", e.msg);
	cr_expect_not(a.set);
}

Test(affinity, bad_bodies_name_the_field)
{
	static const struct {
		const char *body, *needle;
	} bad[] = {
		{ "[]", "mvm-cpu-affinity" },
		{ "{\"vcpus\": {}}", "'vcpus' must be an array" },
		{ "{\"vcpus\": [1]}", "vcpus[0]" },
		{ "{\"vcpus\": [{\"vcpu\": 0}]}", "missing field `host_cpus`" },
		{ "{\"vcpus\": [{\"host_cpus\": [0]}]}", "missing field `vcpu`" },
		{ "{\"vcpus\": [{\"vcpu\": 32, \"host_cpus\": [0]}]}", "vcpus[0].vcpu" },
		{ "{\"vcpus\": [{\"vcpu\": -1, \"host_cpus\": [0]}]}", "vcpus[0].vcpu" },
		{ "{\"vcpus\": [{\"vcpu\": 0, \"host_cpus\": []}]}", "non-empty array" },
		{ "{\"vcpus\": [{\"vcpu\": 0, \"host_cpus\": [\"0\"]}]}", "host_cpus[0]" },
		{ "{\"vcpus\": [{\"vcpu\": 0, \"host_cpus\": [0, 1024]}]}", "host_cpus[1]" },
		{ "{\"vcpus\": [{\"vcpu\": 0, \"host_cpus\": [0.5]}]}", "host_cpus[0]" },
		{ "{\"vcpus\": [{\"vcpu\": 0, \"host_cpus\": [0], \"x\": 1}]}",
		  "unknown field `x`" },
		{ "{\"vcpus\": [{\"vcpu\": 0, \"host_cpus\": [0]}, {\"vcpu\": 0, \"host_cpus\": "
		  "[1]}]}",
		  "vCPU 0 is listed twice" },
		{ "{\"others\": []}", "'others' must be a non-empty array" },
		{ "{\"others\": 0}", "'others' must be a non-empty array" },
		{ "{\"others\": [null]}", "others[0]" },
		{ "{\"pin\": true}", "unknown field `pin`" },
		{ "{\"others\": [0]", "" }, /* malformed JSON: the parser's own message */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cpu_affinity a;
		struct err e = { 0 };
		cr_expect_eq(parse(bad[i].body, &a, &e), -EINVAL, "case %zu: %s", i, bad[i].body);
		cr_expect(strstr(e.msg, bad[i].needle), "case %zu: '%s' lacks '%s'", i, e.msg,
			  bad[i].needle);
	}
}

Test(affinity, cpus_must_be_online_and_allowed)
{
	struct cpu_affinity a;
	struct err e = { 0 };
	cpu_set_t online = list("0-3"), allowed = list("1-2");
	cr_assert_eq(
	    parse("{\"vcpus\": [{\"vcpu\": 0, \"host_cpus\": [2]}], \"others\": [1]}", &a, &e), 0);
	cr_expect_eq(affinity_check(&a, &online, &allowed, &e), 0, "%s", e.msg);

	cr_assert_eq(parse("{\"vcpus\": [{\"vcpu\": 1, \"host_cpus\": [7]}]}", &a, &e), 0);
	cr_expect_eq(affinity_check(&a, &online, &allowed, &e), -EINVAL);
	cr_expect(strstr(e.msg, "CPU 7 of vCPU 1's host_cpus is not online (online CPUs: 0-3)"),
		  "%s", e.msg);

	cr_assert_eq(parse("{\"others\": [1, 3]}", &a, &e), 0);
	cr_expect_eq(affinity_check(&a, &online, &allowed, &e), -EINVAL);
	cr_expect(strstr(e.msg, "CPU 3 of others is outside the CPUs this monitor may use (1-2"),
		  "%s", e.msg);
	cr_expect(strstr(e.msg, "cgroup cpuset"), "%s", e.msg);
}

Test(affinity, pinned_vcpus_must_exist)
{
	struct cpu_affinity a;
	struct err e = { 0 };
	cr_assert_eq(parse("{\"vcpus\": [{\"vcpu\": 2, \"host_cpus\": [0]}]}", &a, &e), 0);
	cr_expect_eq(affinity_check_vcpus(&a, 3, &e), 0);
	cr_expect_eq(affinity_check_vcpus(&a, 2, &e), -EINVAL);
	cr_expect(strstr(e.msg, "pins vCPU 2, but the VM has 2 vCPUs (0 to 1)"), "%s", e.msg);
}

Test(affinity, json_round_trips)
{
	struct cpu_affinity a, back;
	struct err e = { 0 };
	struct strbuf b;
	cr_assert_eq(parse("{\"vcpus\": [{\"vcpu\": 3, \"host_cpus\": [5, 6, 9]}], \"others\": "
			   "[0, 1]}",
			   &a, &e),
		     0);
	strbuf_init(&b);
	affinity_json(&a, &b);
	cr_assert_eq(parse(b.s, &back, &e), 0, "%s: %s", b.s, e.msg);
	cr_expect_str_eq(b.s, "{\"vcpus\": [{\"vcpu\": 3, \"host_cpus\": [5, 6, 9]}], \"others\": "
			      "[0, 1]}");
	cr_expect_eq(memcmp(&a, &back, sizeof(a)), 0);
	strbuf_fini(&b);
}

Test(affinity, cpu_lists_both_ways)
{
	static const char *const good[] = { "0", "0-3", "0-3,8", "1,3,5-7", "1023" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cpu_set_t s = list(good[i]);
		char buf[64];
		cpu_list_format(&s, buf, sizeof(buf));
		cr_expect_str_eq(buf, good[i]);
	}
	static const char *const bad[] = { "x", "3-1", "1,", "1024", "0-1024", "1;2", "-1", "1 2" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cpu_set_t s;
		cr_expect_eq(cpu_list_parse(bad[i], &s), -EINVAL, "'%s'", bad[i]);
	}
}
