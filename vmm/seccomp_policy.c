/*
 * What each mvm thread may ask of the kernel, and why. Anything else traps:
 * the thread logs the syscall number and the process exits with 148.
 * The vmm thread's filter goes on right before the vCPUs start (the VM is
 * already built); the api thread's before its first accept; each vCPU's
 * before its first KVM_RUN.
 */
#include <linux/kvm.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>

#include "seccomp.h"

#define ANY  SECCOMP_ANY
#define ONLY SECCOMP_ONLY

/* Every thread: memory, locks, time, logging, dying. */
#define COMMON                                                                           \
	ANY(SYS_write, "log lines, eventfd signals, console output"),                    \
	    ANY(SYS_writev, "log lines (stdio)"),                                        \
	    ANY(SYS_futex, "mutexes and condition variables"),                           \
	    ANY(SYS_madvise, "freed memory; the balloon's released guest pages"),        \
	    ANY(SYS_munmap, "freeing memory and thread stacks"),                         \
	    ANY(SYS_clock_gettime, "timestamps when the vDSO is unavailable"),           \
	    ANY(SYS_gettimeofday, "timestamps when the vDSO is unavailable"),            \
	    ANY(SYS_rt_sigreturn, "return from the vCPU kick signal handler"),           \
	    ANY(SYS_rt_sigprocmask, "glibc masks signals around thread operations"),     \
	    ANY(SYS_restart_syscall, "interrupted syscalls resume"),                     \
	    ANY(SYS_sched_yield, "glibc lock back-off"), ANY(SYS_exit, "a thread ends"), \
	    ANY(SYS_exit_group, "the process ends (and the SIGSYS handler's _exit)")

static const uint64_t vcpu_ioctls[] = {
	KVM_RUN,       /* the vCPU loop */
	KVM_GET_REGS,  /* report where a failing guest was */
	KVM_GET_SREGS, /* ditto */
	KVM_TRANSLATE, /* ditto: the instruction bytes at RIP */
};

static const uint64_t vmm_ioctls[] = {
	/* snapshots: read every piece of VM and vCPU state */
	KVM_CHECK_EXTENSION,
	KVM_GET_MP_STATE,
	KVM_GET_REGS,
	KVM_GET_SREGS,
	KVM_GET_DEBUGREGS,
	KVM_GET_LAPIC,
	KVM_GET_VCPU_EVENTS,
	KVM_GET_XCRS,
	KVM_GET_XSAVE,
	KVM_GET_XSAVE2,
	KVM_GET_MSRS,
	KVM_GET_CPUID2,
	KVM_GET_DIRTY_LOG,
	KVM_GET_IRQCHIP,
	KVM_GET_PIT2,
	KVM_GET_CLOCK,
	/* teardown: detach irqfds and ioeventfds */
	KVM_IRQFD,
	KVM_IOEVENTFD,
	/* give the terminal back its settings at exit */
	TCGETS,
	TCSETS,
};

static const struct seccomp_rule vmm_rules[] = {
	COMMON,
	ANY(SYS_read, "eventfds, timerfds, signalfd, console input, tap frames, vsock sockets"),
	ANY(SYS_readv, "stdio; vsock data straight into guest buffers"),
	ANY(SYS_pread64, "virtio-blk reads, snapshot files"),
	ANY(SYS_pwrite64, "virtio-blk writes, memory files"),
	ANY(SYS_preadv, "virtio-blk reads straight into guest buffers"),
	ANY(SYS_pwritev, "virtio-blk writes straight from guest buffers"),
	ANY(SYS_fdatasync, "virtio-blk flush, memory files"),
	ANY(SYS_fsync, "snapshot state files and their directory"),
	ANY(SYS_openat,
	    "PATCH /drives, snapshot files, log and metrics files (the jail bounds paths)"),
	ANY(SYS_open, "ditto, for callers of the old syscall"),
	ANY(SYS_close, "closing those files"),
	ANY(SYS_fstat, "sizes of disks and memory files"),
	ANY(SYS_newfstatat, "ditto (glibc's fstat and stat)"),
	ANY(SYS_lseek, "disk sizes, sparse memory files (SEEK_DATA/SEEK_HOLE)"),
	ANY(SYS_ftruncate, "memory files"),
	ANY(SYS_fallocate, "memory files"),
	ANY(SYS_copy_file_range, "merging memory files"),
	ANY(SYS_rename, "state and memory files appear whole under their names"),
	ANY(SYS_renameat, "ditto"),
	ANY(SYS_renameat2, "ditto"),
	ANY(SYS_unlink, "temporary files; the API socket at exit"),
	ANY(SYS_unlinkat, "ditto"),
	ANY(SYS_fcntl, "file status flags"),
	ANY(SYS_epoll_wait, "the event loop"),
	ANY(SYS_epoll_pwait, "the event loop"),
	ANY(SYS_epoll_ctl, "the event loop's fds"),
	ANY(SYS_timerfd_create, "the metrics timer; rate limiter timers a PATCH adds after boot"),
	ANY(SYS_timerfd_settime,
	    "the metrics, rate limiter, balloon statistics and vsock timeout timers"),
	ANY(SYS_getrandom, "virtio-rng; a snapshot's generation id"),
	ANY(SYS_mincore, "full snapshots skip pages the guest never touched"),
	ANY(SYS_sysinfo, "... but only on hosts without swap"),
	ANY(SYS_mmap, "memory allocation"),
	ANY(SYS_mremap, "memory allocation"),
	ANY(SYS_mprotect, "memory allocation (glibc arenas)"),
	ANY(SYS_brk, "memory allocation"),
	ANY(SYS_getpid, "pthread_kill of a vCPU"),
	ANY(SYS_gettid, "pthread_kill of a vCPU"),
	ANY(SYS_tgkill, "kick a vCPU out of KVM_RUN"),
	ONLY(SYS_ioctl, 1, vmm_ioctls, "KVM state for snapshots, teardown, the terminal"),
};

static const struct seccomp_rule api_rules[] = {
	COMMON,
	ANY(SYS_read, "the channel's eventfd"),
	ANY(SYS_poll, "waiting for the vmm thread's answer or the server's stop"),
	ANY(SYS_ppoll, "ditto, where libc's poll() is ppoll"),
	ANY(SYS_epoll_wait, "client sockets"),
	ANY(SYS_epoll_pwait, "client sockets"),
	ANY(SYS_epoll_ctl, "client sockets come and go"),
	ANY(SYS_accept4, "new API clients"),
	ANY(SYS_recvfrom, "requests"),
	ANY(SYS_sendto, "responses"),
	ANY(SYS_close, "closing client sockets"),
	ANY(SYS_mmap, "request buffers"),
	ANY(SYS_mremap, "request buffers"),
	ANY(SYS_mprotect, "memory allocation (glibc arenas)"),
	ANY(SYS_brk, "memory allocation"),
};

static const struct seccomp_rule vcpu_rules[] = {
	COMMON,
	ANY(SYS_getpid, "pthread_kill of the other vCPUs when the guest stops the VM"),
	ANY(SYS_gettid, "ditto"),
	ANY(SYS_tgkill, "ditto"),
	ANY(SYS_timerfd_settime, "the console's timer for an unfinished output line"),
	ONLY(SYS_ioctl, 1, vcpu_ioctls, "KVM_RUN, and registers for error reports"),
};

/* madvise over guest RAM (COMMON has it), then it ends. */
static const struct seccomp_rule prefetch_rules[] = {
	COMMON,
};

static const struct seccomp_policy policies[SECCOMP_NR_THREADS] = {
	[SECCOMP_VMM] = { "vmm", vmm_rules, (int)(sizeof(vmm_rules) / sizeof(vmm_rules[0])) },
	[SECCOMP_API] = { "api", api_rules, (int)(sizeof(api_rules) / sizeof(api_rules[0])) },
	[SECCOMP_VCPU] = { "vcpu", vcpu_rules, (int)(sizeof(vcpu_rules) / sizeof(vcpu_rules[0])) },
	[SECCOMP_PREFETCH] = { "prefetch", prefetch_rules,
			       (int)(sizeof(prefetch_rules) / sizeof(prefetch_rules[0])) },
};

const struct seccomp_policy *seccomp_policy_for(enum seccomp_thread t)
{
	return &policies[t];
}
