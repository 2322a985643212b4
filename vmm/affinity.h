/*
 * CPU pinning, an mvm extension (PUT /mvm/cpu-affinity, "mvm-cpu-affinity"
 * in the config file): host CPUs for each vCPU thread, and for the monitor's
 * other threads (the vmm event loop, the API server). After Cloud
 * Hypervisor's `affinity`: a list of {vcpu, host_cpus}, so a vCPU left out
 * keeps the process's CPUs.
 *
 *   {"vcpus": [{"vcpu": 0, "host_cpus": [2]}, {"vcpu": 1, "host_cpus": [3]}],
 *    "others": [0, 1]}
 *
 * Every CPU must be online and in the process's allowed set (sched_getaffinity:
 * a jail's cgroup cpuset and any taskset narrow it).
 */
#ifndef MVM_AFFINITY_H
#define MVM_AFFINITY_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "x86/layout.h"

struct json;
struct err;
struct strbuf;

struct cpu_affinity {
	bool set; /* anything was given */
	bool vcpu_pinned[MAX_VCPUS];
	cpu_set_t vcpu[MAX_VCPUS];
	bool has_others;
	cpu_set_t others;
};

/* The body (an object; {} clears the pinning); names the bad field. */
int affinity_parse(const struct json *j, int obj, struct cpu_affinity *out, struct err *e);
/* Pure: every CPU online and allowed; each message names the field and the sets. */
int affinity_check(const struct cpu_affinity *a, const cpu_set_t *online, const cpu_set_t *allowed,
		   struct err *e);
/* The same against this host now: /sys/devices/system/cpu/online (all of
 * allowed when it cannot be read) and the calling thread's allowed set. */
int affinity_check_host(const struct cpu_affinity *a, struct err *e);
/* Pure: every pinned vCPU exists in a VM of vcpu_count. */
int affinity_check_vcpus(const struct cpu_affinity *a, uint32_t vcpu_count, struct err *e);
/* As GET /vm/config shows it (the shape affinity_parse reads). */
void affinity_json(const struct cpu_affinity *a, struct strbuf *b);
/* Pure: a kernel CPU list ("0-3,8") into set; -EINVAL on a malformed one. */
int cpu_list_parse(const char *s, cpu_set_t *set);
/* Pure: set as a CPU list ("0-3,8"; "" when empty) into buf. */
void cpu_list_format(const cpu_set_t *set, char *buf, size_t size);

#endif
