/*
 * Per-thread seccomp filters for mvm: one allowlist per thread type, built
 * with libseccomp, exported to BPF and released before anything is installed,
 * so nothing allocates once a filter is live.
 */
#ifndef MVM_SECCOMP_H
#define MVM_SECCOMP_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>

enum seccomp_thread {
	SECCOMP_VMM,
	SECCOMP_API,
	SECCOMP_VCPU,
	SECCOMP_PREFETCH, /* a restore's working-set prefetch (snapshot/wset.h) */
	SECCOMP_NR_THREADS
};

/* Exit code when a thread makes a syscall its filter forbids. */
#define SECCOMP_EXIT_BAD_SYSCALL 148

struct seccomp_rule {
	int nr;	 /* syscall number */
	int arg; /* -1: any arguments; else this argument must be one of vals */
	const uint64_t *vals;
	int nvals;
	const char *why;
};

/* Rule makers: any arguments; argument argn one of a list; one ioctl request. */
#define SECCOMP_ANY(nr, why)             \
	{                                \
		(nr), -1, NULL, 0, (why) \
	}
#define SECCOMP_ONLY(nr, argn, list, why)                                            \
	{                                                                            \
		(nr), (argn), (list), (int)(sizeof(list) / sizeof((list)[0])), (why) \
	}
#define SECCOMP_IOCTL(req, why)                                     \
	{                                                           \
		SYS_ioctl, 1, (const uint64_t[]){ (req) }, 1, (why) \
	}

struct seccomp_policy {
	const char *name;
	const struct seccomp_rule *rules;
	int nr_rules;
};

const struct seccomp_policy *seccomp_policy_for(enum seccomp_thread t);
const char *seccomp_thread_name(enum seccomp_thread t);

/* More rules for one thread type, from what a device needs (before prepare). */
int seccomp_add_rules(enum seccomp_thread t, const struct seccomp_rule *rules, unsigned n);
/* Build every thread's program once (main, before any filter is live). */
int seccomp_prepare(void);
/* Install this thread's filter from the prepared program; no allocation. */
int seccomp_install(enum seccomp_thread t);
/* Filters are on unless --no-seccomp turned them off. */
bool seccomp_enabled(void);
void seccomp_disable(void);
/* SIGSYS: log the forbidden syscall and exit 148 (async-signal-safe). */
int seccomp_trap_init(void);
/* Test hook (--seccomp-test-forbidden THREAD): that thread calls a forbidden syscall. */
void seccomp_set_selftest(enum seccomp_thread t);
void seccomp_maybe_selftest(enum seccomp_thread t);
int seccomp_thread_parse(const char *s, enum seccomp_thread *out);

#endif
