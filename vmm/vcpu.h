/* vCPU threads: the KVM_RUN loop, exits to the buses, pause and stop. */
#ifndef MVM_VCPU_H
#define MVM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;

struct vcpu_stats {
	atomic_ullong exit_io_in, exit_io_out, exit_mmio_read, exit_mmio_write, failures;
};

struct vcpu {
	int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	struct vm *vm;
	struct vcpu_stats stats;
	/* Host CPUs the thread runs on, set by the thread itself before its
	 * seccomp filter (so the filter needs no sched_setaffinity). */
	bool pin;
	cpu_set_t affinity;
};

int vcpu_create(struct vcpu *v, struct vm *vm, int id);
void vcpu_destroy(struct vcpu *v);
int vcpu_start(struct vcpu *v);
/* Interrupt KVM_RUN so the thread looks at pause/exit requests. */
void vcpu_kick(struct vcpu *v);
void vcpu_join(struct vcpu *v);
/* Installed once per process: the signal used to kick vCPUs. */
int vcpu_signal_init(void);

#endif
