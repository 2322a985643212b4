#include "affinity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/strbuf.h"

#define SECTION "mvm-cpu-affinity"

/* A non-empty array of host CPU numbers into set. */
static int parse_cpus(const struct json *j, int arr, const char *field, cpu_set_t *set,
		      struct err *e)
{
	CPU_ZERO(set);
	if (j->t[arr].type != JSMN_ARRAY || j->t[arr].size == 0)
		return err_inval(e, "%s: '%s' must be a non-empty array of host CPU numbers",
				 SECTION, field);
	for (int i = 0, t = arr + 1; i < j->t[arr].size; i++, t = json_next(j, t)) {
		uint64_t cpu;
		char name[64];
		snprintf(name, sizeof(name), "%s[%d]", field, i);
		if (json_u64(j, t, name, 0, CPU_SETSIZE - 1, &cpu, e))
			return err_prefix(e, "%s", SECTION);
		CPU_SET((int)cpu, set);
	}
	return 0;
}

static int parse_vcpu(const struct json *j, int obj, int idx, struct cpu_affinity *a, struct err *e)
{
	char what[64], field[64];
	uint64_t id = UINT64_MAX;
	cpu_set_t set;
	bool have_cpus = false;
	int r;
	snprintf(what, sizeof(what), "%s.vcpus[%d]", SECTION, idx);
	if ((r = json_expect_object(j, obj, what, e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (json_key_is(j, k, "vcpu")) {
			snprintf(field, sizeof(field), "vcpus[%d].vcpu", idx);
			if (json_u64(j, v, field, 0, MAX_VCPUS - 1, &id, e))
				return err_prefix(e, "%s", SECTION);
		} else if (json_key_is(j, k, "host_cpus")) {
			snprintf(field, sizeof(field), "vcpus[%d].host_cpus", idx);
			if ((r = parse_cpus(j, v, field, &set, e)))
				return r;
			have_cpus = true;
		} else {
			return json_unknown_field(j, k, what, e);
		}
	}
	if (id == UINT64_MAX)
		return json_missing_field(j, obj, "vcpu", e);
	if (!have_cpus)
		return json_missing_field(j, obj, "host_cpus", e);
	if (a->vcpu_pinned[id])
		return err_inval(e, "%s: vCPU %llu is listed twice in 'vcpus'", SECTION,
				 (unsigned long long)id);
	a->vcpu_pinned[id] = true;
	a->vcpu[id] = set;
	return 0;
}

int affinity_parse(const struct json *j, int obj, struct cpu_affinity *out, struct err *e)
{
	struct cpu_affinity *a = calloc(1, sizeof(*a));
	int r;
	if (!a)
		return err_set(e, -ENOMEM, "out of memory");
	if ((r = json_expect_object(j, obj, SECTION, e)))
		goto out;
	for_each_member (j, obj, k, v) {
		if (json_key_is(j, k, "vcpus")) {
			if (j->t[v].type != JSMN_ARRAY) {
				r = err_inval(e,
					      "%s: 'vcpus' must be an array of {\"vcpu\": N, "
					      "\"host_cpus\": [...]}",
					      SECTION);
				goto out;
			}
			for (int i = 0, t = v + 1; i < j->t[v].size; i++, t = json_next(j, t))
				if ((r = parse_vcpu(j, t, i, a, e)))
					goto out;
			a->set = true;
		} else if (json_key_is(j, k, "others")) {
			if ((r = parse_cpus(j, v, "others", &a->others, e)))
				goto out;
			a->has_others = a->set = true;
		} else {
			r = json_unknown_field(j, k, SECTION, e);
			goto out;
		}
	}
	*out = *a;
out:
	free(a);
	return r;
}

/* The first CPU of want outside have, or -1. */
static int first_outside(const cpu_set_t *want, const cpu_set_t *have)
{
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, want) && !CPU_ISSET(c, have))
			return c;
	return -1;
}

static int check_set(const cpu_set_t *want, const char *field, const cpu_set_t *online,
		     const cpu_set_t *allowed, struct err *e)
{
	char list[256];
	int c = first_outside(want, online);
	if (c >= 0) {
		cpu_list_format(online, list, sizeof(list));
		return err_inval(e, "%s: CPU %d of %s is not online (online CPUs: %s)", SECTION, c,
				 field, list);
	}
	c = first_outside(want, allowed);
	if (c >= 0) {
		cpu_list_format(allowed, list, sizeof(list));
		return err_inval(e,
				 "%s: CPU %d of %s is outside the CPUs this monitor may use (%s: "
				 "its cgroup cpuset, a jail's --cgroup cpuset.cpus, or taskset)",
				 SECTION, c, field, list);
	}
	return 0;
}

int affinity_check(const struct cpu_affinity *a, const cpu_set_t *online, const cpu_set_t *allowed,
		   struct err *e)
{
	int r;
	for (int i = 0; i < MAX_VCPUS; i++) {
		char field[64];
		snprintf(field, sizeof(field), "vCPU %d's host_cpus", i);
		if (a->vcpu_pinned[i] && (r = check_set(&a->vcpu[i], field, online, allowed, e)))
			return r;
	}
	return a->has_others ? check_set(&a->others, "others", online, allowed, e) : 0;
}

static int read_online(cpu_set_t *set)
{
	char buf[4096];
	int fd = open("/sys/devices/system/cpu/online", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return cpu_list_parse(buf, set);
}

int affinity_check_host(const struct cpu_affinity *a, struct err *e)
{
	cpu_set_t online, allowed;
	if (!a->set)
		return 0;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		return err_set(e, -errno, "%s: sched_getaffinity: %s", SECTION, strerror(errno));
	/* A jail without /sys: the allowed set (checked next) holds only online CPUs. */
	if (read_online(&online))
		for (int c = 0; c < CPU_SETSIZE; c++)
			CPU_SET(c, &online);
	return affinity_check(a, &online, &allowed, e);
}

int affinity_check_vcpus(const struct cpu_affinity *a, uint32_t vcpu_count, struct err *e)
{
	for (uint32_t i = vcpu_count; i < MAX_VCPUS; i++)
		if (a->vcpu_pinned[i])
			return err_inval(e, "%s pins vCPU %u, but the VM has %u vCPU%s (0 to %u)",
					 SECTION, i, vcpu_count, vcpu_count == 1 ? "" : "s",
					 vcpu_count - 1);
	return 0;
}

static void cpus_json(const cpu_set_t *set, struct strbuf *b)
{
	bool first = true;
	strbuf_printf(b, "[");
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, set)) {
			strbuf_printf(b, "%s%d", first ? "" : ", ", c);
			first = false;
		}
	strbuf_printf(b, "]");
}

void affinity_json(const struct cpu_affinity *a, struct strbuf *b)
{
	bool first = true;
	strbuf_printf(b, "{\"vcpus\": [");
	for (int i = 0; i < MAX_VCPUS; i++) {
		if (!a->vcpu_pinned[i])
			continue;
		strbuf_printf(b, "%s{\"vcpu\": %d, \"host_cpus\": ", first ? "" : ", ", i);
		cpus_json(&a->vcpu[i], b);
		strbuf_printf(b, "}");
		first = false;
	}
	strbuf_printf(b, "]");
	if (a->has_others) {
		strbuf_printf(b, ", \"others\": ");
		cpus_json(&a->others, b);
	}
	strbuf_printf(b, "}");
}

int cpu_list_parse(const char *s, cpu_set_t *set)
{
	CPU_ZERO(set);
	while (*s) {
		char *end;
		errno = 0;
		unsigned long lo = strtoul(s, &end, 10), hi = lo;
		if (end == s || errno || lo >= CPU_SETSIZE)
			return -EINVAL;
		s = end;
		if (*s == '-') {
			hi = strtoul(++s, &end, 10);
			if (end == s || errno || hi >= CPU_SETSIZE || hi < lo)
				return -EINVAL;
			s = end;
		}
		for (unsigned long c = lo; c <= hi; c++)
			CPU_SET((int)c, set);
		if (*s == ',' && s[1])
			s++;
		else if (*s)
			return -EINVAL;
	}
	return 0;
}

void cpu_list_format(const cpu_set_t *set, char *buf, size_t size)
{
	size_t n = 0;
	buf[0] = '\0';
	for (int c = 0; c < CPU_SETSIZE && n < size; c++) {
		if (!CPU_ISSET(c, set))
			continue;
		int hi = c;
		while (hi + 1 < CPU_SETSIZE && CPU_ISSET(hi + 1, set))
			hi++;
		int w = hi > c ? snprintf(buf + n, size - n, "%s%d-%d", n ? "," : "", c, hi)
			       : snprintf(buf + n, size - n, "%s%d", n ? "," : "", c);
		if (w < 0 || (size_t)w >= size - n)
			return;
		n += (size_t)w;
		c = hi;
	}
}
