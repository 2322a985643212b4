/*
 * mvm-jailer: the process around the jail: a clean start, namespace and
 * limits, the optional forks (--daemonize, --new-pid-ns), the exec.
 *
 * When the jailer forks, the original process waits on a status pipe
 * (O_CLOEXEC) until the monitor is exec'd: end of file means the exec
 * happened, a line of text is a failed step, which the original prints
 * before it takes the jail down. So the caller always sees one clear
 * line and a non-zero exit, even from a daemon whose stderr is /dev/null.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/util.h"
#include "jail.h"

int jail_sanitize(struct jail *j)
{
	const char *debug = getenv("MVM_JAILER_DEBUG"), *stop = getenv("MVM_JAILER_TEST_STOP");
	sigset_t none;

	j->debug = debug && !strcmp(debug, "1");
	if (stop && strlen(stop) < sizeof(j->test_stop)) /* longer: no point has such a name */
		strcpy(j->test_stop, stop);
	/* Nothing the caller left open reaches the monitor. */
	if (close_range(3, ~0U, 0))
		return jail_errno(j, "close_range(3, ~0)");
	if (clearenv())
		return jail_err(j, -ENOMEM, "clearenv failed");
	/* Signals: default actions, none blocked, whatever the caller had set. */
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL); /* EINVAL for SIGKILL, SIGSTOP and the gaps: fine */
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL))
		return jail_errno(j, "sigprocmask");
	/* What the jailer and the monitor create is private unless they say otherwise. */
	umask(077);
	return 0;
}

int jail_join_netns(struct jail *j)
{
	if (j->netns_fd < 0)
		return 0;
	if (setns(j->netns_fd, CLONE_NEWNET))
		return jail_errno(j, "setns(%s, CLONE_NEWNET)", j->netns);
	return 0;
}

static int set_limit(struct jail *j, int res, const char *name, uint64_t v)
{
	struct rlimit rl = { .rlim_cur = v, .rlim_max = v };
	if (setrlimit(res, &rl))
		return jail_errno(j, "setrlimit %s=%llu", name, (unsigned long long)v);
	return 0;
}

int jail_set_rlimits(struct jail *j)
{
	int r = set_limit(j, RLIMIT_NOFILE, "no-file", j->nofile);
	if (!r && j->have_fsize)
		r = set_limit(j, RLIMIT_FSIZE, "fsize", j->fsize);
	return r;
}

static int open_status_pipe(struct jail *j)
{
	int p[2];

	if (j->status_wr >= 0)
		return 0;
	if (pipe2(p, O_CLOEXEC))
		return jail_errno(j, "pipe2");
	j->status_rd = p[0];
	j->status_wr = p[1];
	return 0;
}

/* In the original process: wait until the monitor is exec'd, or a child reports a failure. */
static int wait_for_exec(struct jail *j)
{
	size_t got = 0;
	ssize_t n;

	close(j->status_wr);
	j->status_wr = -1;
	while ((n = read(j->status_rd, j->why + got, sizeof(j->why) - 1 - got)) != 0) {
		if (n < 0 && errno != EINTR)
			return jail_errno(j, "reading the status pipe");
		if (n > 0)
			got += (size_t)n;
		if (got == sizeof(j->why) - 1)
			break;
	}
	j->why[got] = '\0';
	if (!got)
		return JAIL_PARENT_DONE;
	j->why_is_line = true;
	return -ECHILD;
}

static pid_t fork_child(struct jail *j)
{
	uint64_t cpu = cpu_us();
	pid_t pid = fork();

	if (pid == 0) {
		/* The CPU the jailer's processes used so far, for --parent-cpu-time-us. */
		j->parent_cpu_us += cpu;
		j->is_child = true;
		close(j->status_rd);
		j->status_rd = -1;
	}
	return pid;
}

/*
 * --daemonize: fork, setsid, fork again (the daemon is no session leader, so
 * it can never get a controlling terminal), stdio to /dev/null.
 */
int jail_daemonize(struct jail *j)
{
	pid_t pid;
	int r;

	if (!j->daemonize)
		return 0;
	if ((r = open_status_pipe(j)))
		return r;
	pid = fork_child(j);
	if (pid < 0)
		return jail_errno(j, "fork");
	if (pid > 0)
		return wait_for_exec(j);
	if (setsid() < 0)
		return jail_errno(j, "setsid");
	pid = fork_child(j);
	if (pid < 0)
		return jail_errno(j, "fork");
	if (pid > 0)
		_exit(0); /* the original waits on the status pipe, not on us */
	if (dup2(j->devnull_fd, 0) < 0 || dup2(j->devnull_fd, 1) < 0 || dup2(j->devnull_fd, 2) < 0)
		return jail_errno(j, "dup2 /dev/null");
	return 0;
}

/*
 * --new-pid-ns: the child is PID 1 of a new PID namespace and becomes the
 * monitor; the parent writes the child's pid (as the host sees it) into
 * /<exec>.pid.
 */
int jail_new_pid_ns(struct jail *j)
{
	bool leader;
	pid_t pid;
	int r;

	if (!j->new_pid_ns)
		return 0;
	/* A session leader's exit sends SIGHUP to its session: the child leaves it. */
	leader = getsid(0) == getpid();
	if ((r = open_status_pipe(j)))
		return r;
	if (unshare(CLONE_NEWPID))
		return jail_errno(j, "unshare(CLONE_NEWPID)");
	pid = fork_child(j);
	if (pid < 0)
		return jail_errno(j, "fork into the new PID namespace");
	if (pid == 0) {
		if (leader && setsid() < 0)
			return jail_errno(j, "setsid");
		return 0;
	}
	if ((r = jail_write_pid_file(j, pid))) {
		kill(pid, SIGKILL);
		return r;
	}
	if (j->is_child)
		_exit(0); /* a daemon's middle process: the original waits on the pipe */
	return wait_for_exec(j);
}

/* Without --new-pid-ns the monitor keeps this process's pid. */
int jail_pid_file(struct jail *j)
{
	return j->new_pid_ns ? 0 : jail_write_pid_file(j, getpid());
}

int jail_exec(struct jail *j)
{
	char path[NAME_MAX + 2], start[24], start_cpu[24], parent_cpu[24];
	char *env[] = { NULL };
	cleanup_free char **argv = calloc((size_t)j->n_extra + 10, sizeof(*argv));
	int n = 0;

	if (!argv)
		return jail_err(j, -ENOMEM, "out of memory");
	snprintf(path, sizeof(path), "/%s", j->exec_name);
	snprintf(start, sizeof(start), "%llu", (unsigned long long)j->start_us);
	snprintf(start_cpu, sizeof(start_cpu), "%llu", (unsigned long long)cpu_us());
	snprintf(parent_cpu, sizeof(parent_cpu), "%llu", (unsigned long long)j->parent_cpu_us);
	argv[n++] = path;
	argv[n++] = "--id";
	argv[n++] = (char *)j->id;
	argv[n++] = "--start-time-us";
	argv[n++] = start;
	argv[n++] = "--start-time-cpu-us";
	argv[n++] = start_cpu;
	argv[n++] = "--parent-cpu-time-us";
	argv[n++] = parent_cpu;
	for (int i = 0; i < j->n_extra; i++)
		argv[n++] = j->extra[i];

	/*
	 * Belt and braces: every fd the jailer opened is O_CLOEXEC already.
	 * EINVAL, ENOSYS: a kernel before 5.11 has no CLOSE_RANGE_CLOEXEC.
	 */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) && errno != EINVAL && errno != ENOSYS)
		return jail_errno(j, "close_range(CLOSE_RANGE_CLOEXEC)");
	/*
	 * But one: the lock on the jail (claim.c) lives as long as the monitor.
	 * The monitor never closes an fd it did not open, so the kernel lets the
	 * lock go only when the monitor is gone.
	 */
	if (fcntl(j->lock_fd, F_SETFD, 0))
		return jail_errno(j, "keeping %s/" JAIL_LOCK_NAME " open across exec", j->jail_dir);
	jail_debug(j, "exec %s with %d extra argument(s)", path, j->n_extra);
	execve(path, argv, env);
	return jail_errno(j, "execve %s (in the jail)", path);
}
