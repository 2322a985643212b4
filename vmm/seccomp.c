#include "seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../lib/log.h"

static struct sock_fprog progs[SECCOMP_NR_THREADS];

#define MAX_EXTRA 16
static struct {
	const struct seccomp_rule *rules;
	unsigned n;
} extra[SECCOMP_NR_THREADS][MAX_EXTRA];

int seccomp_add_rules(enum seccomp_thread t, const struct seccomp_rule *rules, unsigned n)
{
	for (int i = 0; i < MAX_EXTRA; i++) {
		if (!extra[t][i].rules) {
			extra[t][i].rules = rules;
			extra[t][i].n = n;
			return 0;
		}
	}
	return -ENOSPC;
}
static bool enabled = true;
static int selftest = -1;

bool seccomp_enabled(void)
{
	return enabled;
}

void seccomp_disable(void)
{
	enabled = false;
}

const char *seccomp_thread_name(enum seccomp_thread t)
{
	static const char *const names[] = { "vmm", "api", "vcpu", "prefetch" };
	return t < SECCOMP_NR_THREADS ? names[t] : "?";
}

int seccomp_thread_parse(const char *s, enum seccomp_thread *out)
{
	for (int i = 0; i < SECCOMP_NR_THREADS; i++) {
		if (!strcmp(s, seccomp_thread_name((enum seccomp_thread)i))) {
			*out = (enum seccomp_thread)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Decimal digits of v into buf (no stdio in a signal handler). */
static size_t utoa(char *buf, unsigned long v)
{
	char tmp[24];
	size_t n = 0, k = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n)
		buf[k++] = tmp[--n];
	return k;
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char msg[128];
	size_t n = 0;
	static const char a[] = "mvm: seccomp: thread made forbidden syscall ";
	static const char b[] = "; exiting with 148\n";
	(void)sig;
	(void)uc;
	memcpy(msg, a, sizeof(a) - 1);
	n = sizeof(a) - 1;
	n += utoa(msg + n, (unsigned long)si->si_syscall);
	memcpy(msg + n, b, sizeof(b) - 1);
	n += sizeof(b) - 1;
	ssize_t r = write(STDERR_FILENO, msg, n);
	(void)r;
	_exit(SECCOMP_EXIT_BAD_SYSCALL);
}

int seccomp_trap_init(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSYS, &sa, NULL) < 0 ? -errno : 0;
}

static int add_rules(scmp_filter_ctx ctx, const char *name, const struct seccomp_rule *rules,
		     unsigned n)
{
	int r = 0;
	for (unsigned i = 0; i < n && !r; i++) {
		const struct seccomp_rule *rule = &rules[i];
		if (rule->arg < 0) {
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, rule->nr, 0);
			continue;
		}
		for (int v = 0; v < rule->nvals && !r; v++) {
			struct scmp_arg_cmp cmp = { .arg = (unsigned)rule->arg,
						    .op = SCMP_CMP_EQ,
						    .datum_a = rule->vals[v] };
			r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, rule->nr, 1, &cmp);
		}
		if (r)
			log_err("seccomp %s: rule for syscall %d (%s): %s", name, rule->nr,
				rule->why, strerror(-r));
	}
	return r;
}

/* libseccomp -> BPF in our own memory; the context is gone when this returns. */
static int build(enum seccomp_thread t, struct sock_fprog *out)
{
	const struct seccomp_policy *p = seccomp_policy_for(t);
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	int r = 0, fd = -1;
	if (!ctx)
		return -ENOMEM;
	r = add_rules(ctx, p->name, p->rules, (unsigned)p->nr_rules);
	for (int i = 0; i < MAX_EXTRA && !r && extra[t][i].rules; i++)
		r = add_rules(ctx, p->name, extra[t][i].rules, extra[t][i].n);
	if (!r) {
		fd = memfd_create("seccomp-bpf", MFD_CLOEXEC);
		r = fd < 0 ? -errno : seccomp_export_bpf(ctx, fd);
	}
	seccomp_release(ctx);
	if (r)
		goto out;
	off_t len = lseek(fd, 0, SEEK_END);
	if (len <= 0 || len % (off_t)sizeof(struct sock_filter) || len > 65536) {
		r = -EINVAL;
		goto out;
	}
	out->filter = malloc((size_t)len);
	if (!out->filter) {
		r = -ENOMEM;
		goto out;
	}
	if (pread(fd, out->filter, (size_t)len, 0) != len) {
		r = -EIO;
		goto out;
	}
	out->len = (unsigned short)(len / (off_t)sizeof(struct sock_filter));
out:
	if (fd >= 0)
		close(fd);
	return r;
}

int seccomp_prepare(void)
{
	if (!enabled)
		return 0;
	for (int t = 0; t < SECCOMP_NR_THREADS; t++) {
		int r = build((enum seccomp_thread)t, &progs[t]);
		if (r) {
			log_err("building the %s seccomp filter: %s",
				seccomp_thread_name((enum seccomp_thread)t), strerror(-r));
			return r;
		}
	}
	return 0;
}

int seccomp_install(enum seccomp_thread t)
{
	if (!enabled)
		return 0;
	if (!progs[t].filter)
		return -EINVAL;
	/* no_new_privs is set once in main and inherited; seccomp(2) needs it. */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &progs[t]) < 0)
		return -errno;
	return 0;
}

void seccomp_set_selftest(enum seccomp_thread t)
{
	selftest = (int)t;
}

void seccomp_maybe_selftest(enum seccomp_thread t)
{
	if (selftest == (int)t)
		syscall(SYS_getppid); /* in no allowlist */
}
