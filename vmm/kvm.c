#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/err.h"
#include "../lib/log.h"
#include "../lib/util.h"
#include "x86/layout.h"

/* What mvm cannot run without, checked once at start with a clear message. */
static const struct {
	int cap;
	const char *name;
} required_caps[] = {
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
	{ KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
	{ KVM_CAP_PIT_STATE2, "KVM_CAP_PIT_STATE2" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
	{ KVM_CAP_ADJUST_CLOCK, "KVM_CAP_ADJUST_CLOCK" },
	{ KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS" },
	{ KVM_CAP_DEBUGREGS, "KVM_CAP_DEBUGREGS" },
	{ KVM_CAP_XSAVE, "KVM_CAP_XSAVE" },
	{ KVM_CAP_XCRS, "KVM_CAP_XCRS" },
};

int kvm_ioctl_named(int fd, unsigned long req, void *arg, const char *name)
{
	int r = ioctl(fd, req, arg);
	if (r < 0) {
		int err = errno;
		log_err("%s: %s", name, strerror(err));
		return -err;
	}
	return r;
}

bool kvm_host_is_pvm(void)
{
	return access("/sys/module/kvm_pvm", F_OK) == 0;
}

/*
 * Inside a jail there is no /sys: recognise kvm_pvm by what it does instead.
 * It reports almost no leaf-1 features as supported (not even SSE3, which
 * every x86-64 CPU has) while its guests see the host's bits anyway.
 */
static bool cpuid_looks_like_pvm(struct kvm *k)
{
	struct kvm_cpuid2 *c = kvm_supported_cpuid(k);
	bool pvm = false;
	if (!c)
		return false;
	for (uint32_t i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entries[i];
		if (e->function == 1) {
			unsigned eax, ebx, ecx, edx;
			__asm__ volatile("cpuid"
					 : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx)
					 : "a"(1), "c"(0));
			pvm = (ecx & 1) && !(e->ecx & 1);
		}
	}
	free(c);
	return pvm;
}

int kvm_open(struct kvm *k, const char *path, struct err *e)
{
	int r = -ENODEV;
	memset(k, 0, sizeof(*k));
	k->vm_fd = -1;
	k->sys_fd = open(path, O_RDWR | O_CLOEXEC);
	if (k->sys_fd < 0)
		return err_set(e, -errno, "open %s: %s%s", path, strerror(errno),
			       errno == ENOENT
				   ? " (no KVM on this host: load kvm_intel or kvm_amd, "
				     "or run in mvm's test bed, tests/testbed)"
				   : "");
	int ver = __kvm_ioctl(k->sys_fd, KVM_GET_API_VERSION, 0);
	if (ver != KVM_API_VERSION) {
		err_set(e, r, "%s: KVM API version %d, mvm needs %d", path, ver, KVM_API_VERSION);
		goto fail;
	}
	for (size_t i = 0; i < ARRAY_SIZE(required_caps); i++) {
		if (__kvm_ioctl(k->sys_fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
			err_set(e, r, "%s: required capability %s is missing", path,
				required_caps[i].name);
			goto fail;
		}
	}
	k->run_size = __kvm_ioctl(k->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (k->run_size < (int)sizeof(struct kvm_run)) {
		err_set(e, r, "KVM_GET_VCPU_MMAP_SIZE: %d", k->run_size);
		goto fail;
	}
	k->is_pvm = kvm_host_is_pvm() || cpuid_looks_like_pvm(k);
	k->tsc_deadline =
	    __kvm_ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;

	/* The MSRs this KVM can save and restore. */
	struct kvm_msr_list probe = { .nmsrs = 0 };
	if (__kvm_ioctl(k->sys_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG) {
		err_set(e, r, "KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
		goto fail;
	}
	k->msr_list = calloc(1, sizeof(*k->msr_list) + probe.nmsrs * sizeof(uint32_t));
	if (!k->msr_list) {
		err_set(e, r = -ENOMEM, "KVM MSR list: out of memory");
		goto fail;
	}
	k->msr_list->nmsrs = probe.nmsrs;
	if ((r = kvm_ioctl(k->sys_fd, KVM_GET_MSR_INDEX_LIST, k->msr_list)) < 0) {
		err_set(e, r, "KVM_GET_MSR_INDEX_LIST: %s", strerror(-r));
		goto fail;
	}
	return 0;
fail:
	kvm_close(k);
	return r;
}

int kvm_create_vm(struct kvm *k)
{
	k->vm_fd = kvm_ioctl(k->sys_fd, KVM_CREATE_VM, 0);
	return k->vm_fd < 0 ? k->vm_fd : 0;
}

struct holder_args {
	pid_t parent;
	int vm_fd;
};

/* The helper: raw system calls only (no libc state: it runs on the calling
 * thread's TLS, in our memory, on its own small stack). */
static int holder_main(void *opaque)
{
	const struct holder_args *a = opaque;
	long fd = a->vm_fd;
	long parent = a->parent;
	if (fd > 0)
		syscall(SYS_close_range, 0L, fd - 1, 0L);
	syscall(SYS_close_range, fd + 1, (long)~0U, 0L);
	syscall(SYS_prctl, (long)PR_SET_PDEATHSIG, (long)SIGKILL, 0L, 0L, 0L);
	if (syscall(SYS_getppid) == parent)
		for (;;)
			syscall(SYS_pause);
	syscall(SYS_exit, 0L);
	return 0;
}

#define HOLDER_STACK (64 * 1024)

void kvm_hold_past_exit(struct kvm *k)
{
	static struct holder_args args;
	if (k->vm_fd < 0 || k->holder > 0)
		return;
	/*
	 * It shares our memory (CLONE_VM): when we exit, the address space
	 * stays, so KVM's MMU is not zapped on our way out either; both go when
	 * the helper does. It has its own file table, holding only the VM.
	 */
	void *stack = mmap(NULL, HOLDER_STACK, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return;
	args = (struct holder_args){ .parent = getpid(), .vm_fd = k->vm_fd };
	pid_t pid = clone(holder_main, (char *)stack + HOLDER_STACK, CLONE_VM | SIGCHLD, &args);
	if (pid < 0) {
		log_debug("no VM teardown helper (clone: %s): the exit waits for it",
			  strerror(errno));
		munmap(stack, HOLDER_STACK);
		return;
	}
	k->holder = pid;
	k->holder_stack = stack;
}

void kvm_close(struct kvm *k)
{
	if (k->holder > 0 && !k->leave_to_holder) {
		kill(k->holder, SIGKILL);
		waitpid(k->holder, NULL, 0);
		munmap(k->holder_stack, HOLDER_STACK);
	}
	k->holder = 0;
	k->holder_stack = NULL;
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->sys_fd >= 0)
		close(k->sys_fd);
	free(k->msr_list);
	k->msr_list = NULL;
	k->vm_fd = k->sys_fd = -1;
}

int kvm_set_user_memory(struct kvm *k, uint32_t slot, uint64_t gpa, uint64_t size, void *hva,
			uint32_t flags)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)hva,
	};
	if (__kvm_ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
		int err = errno;
		log_err("KVM_SET_USER_MEMORY_REGION slot %u: %s", slot, strerror(err));
		return -err;
	}
	return 0;
}

int kvm_setup_x86_vm(struct kvm *k)
{
	int r;
	uint64_t idmap = KVM_IDENTITY_MAP_ADDR;

	r = kvm_ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	if (r < 0)
		return r;
	r = kvm_ioctl(k->vm_fd, KVM_SET_TSS_ADDR, (void *)(uintptr_t)KVM_TSS_ADDR);
	if (r < 0)
		return r;
	r = kvm_ioctl(k->vm_fd, KVM_CREATE_IRQCHIP, NULL);
	return r < 0 ? r : 0;
}

int kvm_create_pit(struct kvm *k)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	int r = kvm_ioctl(k->vm_fd, KVM_CREATE_PIT2, &pit);
	if (r < 0)
		return r;
	k->has_pit = true;
	return 0;
}

struct kvm_cpuid2 *kvm_supported_cpuid(struct kvm *k)
{
	for (unsigned n = 128; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(struct kvm_cpuid_entry2));
		if (!c)
			return NULL;
		c->nent = n;
		if (__kvm_ioctl(k->sys_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		int err = errno;
		free(c);
		if (err != E2BIG) {
			log_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(err));
			errno = err;
			return NULL;
		}
	}
	errno = E2BIG;
	return NULL;
}
