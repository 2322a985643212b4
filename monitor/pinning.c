/*
 * CPU pinning at InstanceStart and snapshot load (vmm/affinity.h): on the vmm
 * thread, after the VM is built and before vm_start(), while no filter is on
 * yet. The vCPU threads pin themselves before their seccomp filters; this
 * thread pins itself and the API thread (by its tid: no syscall in the API
 * thread, whose filter is already on). A vCPU left out keeps the CPUs the
 * process had, even when the others are narrowed.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "../api-socket/server.h"
#include "../lib/err.h"
#include "../lib/log.h"
#include "../vmm/vcpu.h"
#include "monitor.h"

int monitor_pin_threads(struct monitor *m, struct err *e)
{
	const struct cpu_affinity *a = &m->cfg.affinity;
	cpu_set_t before;
	int r;

	if (!a->set)
		return 0;
	/* Checked again: the cgroup's cpuset may have changed since the PUT. */
	if ((r = affinity_check_host(a, e)) ||
	    (r = affinity_check_vcpus(a, (uint32_t)m->vm.nr_vcpus, e)))
		return r;
	if (sched_getaffinity(0, sizeof(before), &before) < 0)
		return err_set(e, -errno, "sched_getaffinity: %s", strerror(errno));
	for (int i = 0; i < m->vm.nr_vcpus; i++) {
		struct vcpu *v = &m->vm.vcpus[i];
		v->pin = true;
		v->affinity = a->vcpu_pinned[i] ? a->vcpu[i] : before;
	}
	if (!a->has_others)
		return 0;
	pid_t api = m->api ? __atomic_load_n(&m->api->tid, __ATOMIC_ACQUIRE) : 0;
	if (api > 0 && sched_setaffinity(api, sizeof(a->others), &a->others) < 0)
		return err_set(e, -errno, "sched_setaffinity of the API thread: %s",
			       strerror(errno));
	if (sched_setaffinity(0, sizeof(a->others), &a->others) < 0)
		return err_set(e, -errno, "sched_setaffinity of the vmm thread: %s",
			       strerror(errno));
	log_info("CPU pinning: %d vCPU thread(s) listed, the others on their own set",
		 m->vm.nr_vcpus);
	return 0;
}
