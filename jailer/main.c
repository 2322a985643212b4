/*
 * mvm-jailer: build a jail for one mvm and exec it there.
 *
 * main() is the list of steps, in the order they run. Each step returns 0 or
 * -errno and leaves a sentence in j->why; the first failure is printed as one
 * line naming the step, what was built so far is taken down again
 * (jail_undo), and the jailer exits 1. See jailer/README.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/util.h"
#include "jail.h"

static const struct step {
	const char *name;
	int (*run)(struct jail *j);
} steps[] = {
	{ "sanitize", jail_sanitize },		     /* close fds > 2, clear env, reset signals */
	{ "validate", jail_validate },		     /* every input, before anything is created */
	{ "chroot_dir", jail_make_root },	     /* claim <base>/<exec>/<id>, make root/ */
	{ "copy_exec", jail_copy_exec },	     /* root/<exec>, 0755, owned by root */
	{ "netns", jail_join_netns },		     /* setns(--netns) */
	{ "rlimits", jail_set_rlimits },	     /* no-file (default 2048), fsize */
	{ "cgroup", jail_cgroup_setup },	     /* <parent>/<id> (v1 or v2), values, move in */
	{ "mount_ns", jail_mount_ns },		     /* unshare(CLONE_NEWNS), / recursive slave */
	{ "pivot_root", jail_pivot_root },	     /* bind root, pivot_root, detach old root */
	{ "devices", jail_make_devices },	     /* /dev/kvm, /dev/net/tun, /dev/userfaultfd */
	{ "check_exec", jail_check_interp },	     /* its interpreter, if any, is in the jail */
	{ "daemonize", jail_daemonize },	     /* --daemonize: setsid, stdio to /dev/null */
	{ "pid_ns", jail_new_pid_ns },		     /* --new-pid-ns: the monitor is PID 1 */
	{ "pid_file", jail_pid_file },		     /* root/<exec>.pid */
	{ "drop_privileges", jail_drop_privileges }, /* groups, gid, uid, capabilities, NNP */
	{ "exec", jail_exec },			     /* /<exec> --id ... -- args */
};

void die(const char *fmt, ...)
{
	va_list ap;
	fputs("mvm-jailer: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

int jail_err(struct jail *j, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(j->why, sizeof(j->why), fmt, ap);
	va_end(ap);
	return err;
}

/* The sentence, then ": " and the text of the errno the last call left. */
int jail_errno(struct jail *j, const char *fmt, ...)
{
	int err = neg_errno();
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(j->why, sizeof(j->why), fmt, ap);
	va_end(ap);
	n = strlen(j->why);
	snprintf(j->why + n, sizeof(j->why) - n, ": %s", strerror(-err));
	return err;
}

void jail_debug(const struct jail *j, const char *fmt, ...)
{
	va_list ap;
	if (!j->debug)
		return;
	fputs("mvm-jailer: debug: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Take down what the steps built, newest first. */
static void jail_undo(struct jail *j)
{
	if (j->privileges_dropped) {
		/* Without capabilities nothing can be removed: say what is left. */
		char cgroups[1024];
		if (jail_cgroup_made(j, cgroups, sizeof(cgroups)))
			fprintf(stderr,
				"mvm-jailer: left in place: %s and cgroup %s (the next start with "
				"id '%s' reclaims them)\n",
				j->jail_dir, cgroups, j->id);
		else
			fprintf(stderr,
				"mvm-jailer: left in place: %s (the next start with id '%s' "
				"reclaims it)\n",
				j->jail_dir, j->id);
		return;
	}
	jail_cgroup_undo(j);
	jail_fs_undo(j);
}

static void init_jail(struct jail *j)
{
	memset(j, 0, sizeof(*j));
	j->start_us = mono_us();
	j->start_cpu_us = cpu_us();
	j->base_dir = JAIL_DEFAULT_BASE;
	j->nofile = JAIL_DEFAULT_NOFILE;
	j->uffd_minor = -1;
	j->exec_fd = j->netns_fd = j->devnull_fd = -1;
	for (size_t i = 0; i < JAIL_MAX_CG_HIERS; i++)
		j->cg[i].root_fd = -1;
	j->exec_dir_fd = j->root_fd = j->host_mnt_fd = -1;
	j->id_fd = j->lock_fd = j->lock_wr_fd = -1;
	j->status_rd = j->status_wr = -1;
}

int main(int argc, char **argv)
{
	static struct jail jail;
	struct jail *j = &jail;
	char line[sizeof(j->why) + 64];

	init_jail(j);
	jail_parse_args(j, argc, argv);

	for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
		uint64_t t0 = mono_us();
		int r = steps[i].run(j);

		if (r == JAIL_PARENT_DONE)
			return 0; /* the monitor runs in a child; the pid file names it */
		if (r == 0) {
			jail_debug(j, "step '%s' done (%llu us)", steps[i].name,
				   (unsigned long long)(mono_us() - t0));
			jail_test_stop(j, steps[i].name);
			continue;
		}
		if (j->why_is_line)
			snprintf(line, sizeof(line), "%s", j->why);
		else
			snprintf(line, sizeof(line), "step '%s': %s", steps[i].name,
				 j->why[0] ? j->why : strerror(-r));
		if (j->is_child) {
			/* The original jailer waits on the status pipe, prints and undoes. */
			write_full(j->status_wr, line, strlen(line));
			_exit(1);
		}
		fprintf(stderr, "mvm-jailer: %s\n", line);
		jail_undo(j);
		return 1;
	}
	return 1; /* not reached: the exec step returns only on failure */
}
