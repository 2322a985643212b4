#include "vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "seccomp.h"
#include "kvm.h"
#include "../lib/log.h"
#include "../lib/util.h"
#include "vm.h"

#define VCPU_KICK_SIGNAL (SIGRTMIN + 0)

static void kick_handler(int sig)
{
	(void)sig; /* only here to interrupt KVM_RUN */
}

int vcpu_signal_init(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	/* SA_RESTART keeps a device's write() from failing; KVM_RUN still returns EINTR. */
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	return sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0 ? -errno : 0;
}

int vcpu_create(struct vcpu *v, struct vm *vm, int id)
{
	memset(v, 0, sizeof(*v));
	v->id = id;
	v->vm = vm;
	v->fd = kvm_ioctl(vm->kvm.vm_fd, KVM_CREATE_VCPU, (void *)(uintptr_t)id);
	if (v->fd < 0)
		return v->fd;
	v->run = mmap(NULL, (size_t)vm->kvm.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		int err = errno;
		log_err("mmap kvm_run vcpu %d: %s", id, strerror(err));
		v->run = NULL;
		close(v->fd);
		v->fd = -1;
		return -err;
	}
	return 0;
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, (size_t)v->vm->kvm.run_size);
	if (v->fd >= 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}

void vcpu_kick(struct vcpu *v)
{
	if (!v->run)
		return;
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (v->started)
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

static const char *internal_suberror(uint32_t s)
{
	switch (s) {
	case KVM_INTERNAL_ERROR_EMULATION: return "instruction emulation failed";
	case KVM_INTERNAL_ERROR_SIMUL_EX: return "exception while delivering an exception";
	case KVM_INTERNAL_ERROR_DELIVERY_EV: return "exit while delivering an event";
	case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON: return "unexpected exit reason";
	default: return "unknown";
	}
}

/* Say where the guest was and what it was running: RIP and the bytes there. */
static void report_guest_failure(struct vcpu *v, const char *what, unsigned long long detail)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	char code[64] = "unavailable";

	if (__kvm_ioctl(v->fd, KVM_GET_REGS, &regs) < 0 ||
	    __kvm_ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0) {
		log_err("vcpu %d: %s (%llu); registers unreadable", v->id, what, detail);
		return;
	}
	struct kvm_translation tr = { .linear_address = sregs.cs.base + regs.rip };
	if (__kvm_ioctl(v->fd, KVM_TRANSLATE, &tr) == 0 && tr.valid) {
		const uint8_t *p = gpa_to_hva(&v->vm->mem, tr.physical_address, 15);
		if (p) {
			size_t n = 0;
			for (int i = 0; i < 15; i++)
				n += (size_t)snprintf(code + n, sizeof(code) - n, "%s%02x",
						      i ? " " : "", p[i]);
		}
	}
	log_err("vcpu %d: %s (%llu) at rip=%#llx cs=%#x cr0=%#llx efer=%#llx; code: %s", v->id,
		what, detail, (unsigned long long)regs.rip, sregs.cs.selector,
		(unsigned long long)sregs.cr0, (unsigned long long)sregs.efer, code);
}

/* Returns false when the vCPU must stop. */
static bool handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	struct vm *vm = v->vm;

	switch (run->exit_reason) {
	case KVM_EXIT_IO: {
		uint8_t *p = (uint8_t *)run + run->io.data_offset;
		bool out = run->io.direction == KVM_EXIT_IO_OUT;
		for (uint32_t i = 0; i < run->io.count; i++, p += run->io.size) {
			if (!bus_access(&vm->pio, run->io.port, p, run->io.size, out) && !out)
				memset(p, 0xff, run->io.size);
		}
		if (out)
			v->stats.exit_io_out++;
		else
			v->stats.exit_io_in++;
		return true;
	}
	case KVM_EXIT_MMIO:
		if (!bus_access(&vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
				run->mmio.is_write) &&
		    !run->mmio.is_write)
			memset(run->mmio.data, 0, sizeof(run->mmio.data));
		if (run->mmio.is_write)
			v->stats.exit_mmio_write++;
		else
			v->stats.exit_mmio_read++;
		return true;
	case KVM_EXIT_HLT:
		log_info("vcpu %d: guest halted", v->id);
		vm_request_exit(vm, MVM_EXIT_OK);
		return false;
	case KVM_EXIT_SHUTDOWN:
		/* A triple fault: a clean guest resets through the i8042 (reboot=k). */
		v->stats.failures++;
		report_guest_failure(v, "triple fault (KVM_EXIT_SHUTDOWN)", 0);
		vm_request_exit(vm, MVM_EXIT_GUEST_ERROR);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_CRASH) {
			log_err("vcpu %d: guest reported a crash", v->id);
			vm_request_exit(vm, MVM_EXIT_GUEST_ERROR);
		} else {
			log_info("vcpu %d: guest %s", v->id,
				 run->system_event.type == KVM_SYSTEM_EVENT_RESET ? "reset"
										  : "shutdown");
			vm_request_exit(vm, MVM_EXIT_OK);
		}
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		v->stats.failures++;
		report_guest_failure(v, internal_suberror(run->internal.suberror),
				     run->internal.suberror);
		vm_request_exit(vm, MVM_EXIT_GUEST_ERROR);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		v->stats.failures++;
		report_guest_failure(v, "KVM_EXIT_FAIL_ENTRY, hardware entry failure reason",
				     run->fail_entry.hardware_entry_failure_reason);
		vm_request_exit(vm, MVM_EXIT_GUEST_ERROR);
		return false;
	case KVM_EXIT_INTR: return true;
	default:
		v->stats.failures++;
		report_guest_failure(v, "unhandled KVM exit reason", run->exit_reason);
		vm_request_exit(vm, MVM_EXIT_GUEST_ERROR);
		return false;
	}
}

/*
 * KVM finishes the instruction behind a PIO or MMIO exit only when the vCPU
 * enters KVM_RUN again; state saved before that would replay the access on
 * restore (a console byte printed twice, a read-to-clear register read
 * twice). So before a vCPU parks it enters once with immediate_exit set: KVM
 * completes the access and returns EINTR without running guest code. A string
 * PIO may need more round trips; each is handled like any exit.
 */
static void complete_pending_io(struct vcpu *v)
{
	for (int i = 0; i < 4096; i++) {
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		int r = ioctl(v->fd, KVM_RUN, 0);
		__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
		if (r < 0 || !handle_exit(v))
			return;
	}
}

static void pause_point(struct vcpu *v)
{
	struct vm *vm = v->vm;
	pthread_mutex_lock(&vm->pause_lock);
	vm->nr_paused++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (vm->pause_req && !atomic_load(&vm->exiting))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	vm->nr_paused--;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	char name[16];
	sigset_t set;

	/* The thread name orchestrators look for to pin vCPU threads. */
	snprintf(name, sizeof(name), "fc_vcpu %d", v->id);
	pthread_setname_np(pthread_self(), name);
	snprintf(name, sizeof(name), "vcpu%d", v->id);
	log_set_thread(name);
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	/* Pinned, then our own filter before the first KVM_RUN; then wait for the
	 * vmm thread's. */
	int r = 0;
	if (v->pin && sched_setaffinity(0, sizeof(v->affinity), &v->affinity) < 0) {
		r = -errno;
		log_err("vcpu %d: sched_setaffinity: %s", v->id, strerror(-r));
		vm_request_exit(vm, MVM_EXIT_ERROR);
	}
	if (!r && (r = seccomp_install(SECCOMP_VCPU))) {
		log_err("vcpu %d: installing its seccomp filter: %s", v->id, strerror(-r));
		vm_request_exit(vm, MVM_EXIT_ERROR);
	}
	pthread_mutex_lock(&vm->pause_lock);
	vm->nr_ready++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (!vm->go && !atomic_load(&vm->exiting))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	pthread_mutex_unlock(&vm->pause_lock);
	seccomp_maybe_selftest(SECCOMP_VCPU);

	bool first = true;
	while (!atomic_load(&vm->exiting)) {
		if (__atomic_load_n(&vm->pause_req, __ATOMIC_SEQ_CST)) {
			complete_pending_io(v);
			pause_point(v);
			continue;
		}
		if (first && v->id == 0) {
			log_info("vcpu 0: first KVM_RUN at +%llu us",
				 (unsigned long long)(mono_us() - vm->start_us));
			first = false;
		}
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
				continue;
			}
			log_err("KVM_RUN vcpu %d: %s", v->id, strerror(errno));
			vm_request_exit(vm, MVM_EXIT_ERROR);
			break;
		}
		if (!handle_exit(v))
			break;
	}
	return NULL;
}

int vcpu_start(struct vcpu *v)
{
	int r = pthread_create(&v->thread, NULL, vcpu_thread, v);
	if (r) {
		log_err("pthread_create vcpu %d: %s", v->id, strerror(r));
		return -r;
	}
	v->started = true;
	return 0;
}

void vcpu_join(struct vcpu *v)
{
	if (v->started) {
		pthread_join(v->thread, NULL);
		v->started = false;
	}
}
