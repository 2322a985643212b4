/*
 * mvm-init: PID 1 of a container image booted by `mvm run IMAGE`.
 *
 * It mounts what a container expects (/proc, /sys, /dev/pts, /dev/shm and
 * tmpfs on /tmp, /run and /var/tmp: the image's root is read-only), brings
 * up lo, reads its job (job.c), sets the hostname, mounts the -v drives,
 * writes the boot-timer byte (guest-physical 0xc0000000, value 123), then
 * runs the workload as a child with the job's argv, environment, working
 * directory and uid/gid, its stdin /dev/null and its stdout/stderr the
 * console. As PID 1 it reaps every orphan; when the workload ends it kills
 * what is left, syncs, prints the status and resets the VM (reboot=k: the
 * i8042 reset ends the monitor).
 *
 * Lines for mvm, on the console, each "@mvm-NONCE:KIND:..." on a line of its
 * own: "start" when the workload starts, "ready" when it waits for its job
 * (mvm.wait=1), "exit:STATUS:MICROSECONDS" at the end (STATUS as a shell
 * gives it: 128+N for signal N) and "error:TEXT" when the job is bad.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <grp.h>
#include <unistd.h>

#include "job.h"

#define BOOT_TIMER_ADDR	 0xc0000000UL
#define BOOT_TIMER_MAGIC 123

static struct job job = { .nonce = "0" };
extern char **environ;

static void say(const char *kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const char *kind, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dprintf(1, "@mvm-%s:%s%s%s\n", job.nonce, kind, *msg ? ":" : "", msg);
}

static void __attribute__((noreturn)) power_off(void)
{
	sync();
	reboot(RB_AUTOBOOT); /* reboot=k: the i8042 reset that ends the VM */
	for (;;)
		pause();
}

static void __attribute__((noreturn)) fail(const char *what)
{
	say("error", "%s", what);
	power_off();
}

static void boot_timer(void)
{
	int fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
	if (fd < 0)
		return;
	volatile unsigned char *p =
	    mmap(NULL, 4096, PROT_WRITE, MAP_SHARED, fd, (off_t)BOOT_TIMER_ADDR);
	if (p != MAP_FAILED) {
		*p = BOOT_TIMER_MAGIC;
		munmap((void *)p, 4096);
	}
	close(fd);
}

/* The console as a plain byte pipe: no CR added, no echo, no line editing. */
static void raw_console(void)
{
	struct termios t;
	if (tcgetattr(0, &t))
		return;
	t.c_iflag &= ~(tcflag_t)(ICRNL | INLCR | IGNCR | IXON | ISTRIP);
	t.c_oflag &= ~(tcflag_t)OPOST;
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	tcsetattr(0, TCSANOW, &t);
}

static void mounts(void)
{
	static const struct {
		const char *src, *dst, *type, *opts;
	} m[] = {
		{ "devtmpfs", "/dev", "devtmpfs", NULL },
		{ "proc", "/proc", "proc", NULL },
		{ "sysfs", "/sys", "sysfs", NULL },
		{ "devpts", "/dev/pts", "devpts", "gid=5,mode=620,ptmxmode=666" },
		{ "shm", "/dev/shm", "tmpfs", "mode=1777" },
		{ "tmpfs", "/tmp", "tmpfs", "mode=1777" },
		{ "tmpfs", "/run", "tmpfs", "mode=755" },
		{ "tmpfs", "/var/tmp", "tmpfs", "mode=1777" },
	};
	for (unsigned i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		mkdir(m[i].dst, 0755); /* on /dev; the image's own are made at build */
		if (mount(m[i].src, m[i].dst, m[i].type, MS_NOSUID, m[i].opts) && errno != EBUSY &&
		    i < 3)
			fail("cannot mount /dev, /proc or /sys");
	}
	symlink("/proc/self/fd", "/dev/fd");
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { .ifr_name = "lo", .ifr_flags = IFF_UP | IFF_RUNNING };
	if (s >= 0) {
		ioctl(s, SIOCSIFFLAGS, &ifr);
		close(s);
	}
}

static char *slurp(const char *path, int fd)
{
	static char buf[1 << 16];
	if (path)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t n = 0;
	ssize_t r;
	/* A path: to its end; the console: to the first newline. */
	while (n < sizeof(buf) - 1 && (r = read(fd, buf + n, path ? sizeof(buf) - 1 - n : 1)) > 0) {
		n += (size_t)r;
		if (!path && buf[n - 1] == '\n')
			break;
	}
	if (path)
		close(fd);
	buf[n] = '\0';
	return buf;
}

static void read_job(void)
{
	char *text = slurp("/.mvm/job", -1);
	if (!text || job_words(&job, text, 1))
		fail("/.mvm/job is missing or bad (was this image made by mvm image build?)");
	text = slurp("/proc/cmdline", -1);
	if (!text || job_words(&job, text, 2))
		fail("a bad mvm.* word on the kernel command line");
	if (job.hostname && sethostname(job.hostname, strlen(job.hostname)))
		fail("cannot set the hostname");
	if (job.wait) {
		say("ready", "%s", "");
		text = slurp(NULL, 0);
		if (!text || !strchr(text, '\n') || job_words(&job, text, 3))
			fail("a bad job line on the console");
	}
	for (int i = 0; i < job.nmounts; i++) {
		char *path = strchr(job.mounts[i], ':');
		if (!path)
			fail("mvm.mount wants DEV:PATH");
		*path++ = '\0';
		if (mkdir(path, 0755) && errno == EROFS)
			say("error",
			    "-v %s: no such folder in the image, and its root is read-only "
			    "(use one it has, or one under /tmp, /run or /var/tmp)",
			    path);
		else if (mount(job.mounts[i], path, "ext4", 0, NULL))
			say("error", "-v: cannot mount %s (an ext4 file?) on %s: %s", job.mounts[i],
			    path, strerror(errno));
		else
			continue;
		power_off();
	}
	if (!job.nargs)
		fail("no command: the image has no Entrypoint or Cmd; give one after --");
}

static void __attribute__((noreturn)) workload(void)
{
	setsid();
	int nul = open("/dev/null", O_RDONLY);
	if (nul >= 0)
		dup2(nul, 0);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	environ = job.env;
	const char *cwd = job.cwd && *job.cwd ? job.cwd : "/";
	if (chdir(cwd)) {
		dprintf(2, "mvm-init: working directory %s: %s\n", cwd, strerror(errno));
		_exit(126);
	}
	gid_t g = job.gid;
	if (setgroups(1, &g) || setgid(job.gid) || setuid(job.uid)) {
		dprintf(2, "mvm-init: cannot become uid %u gid %u: %s\n", job.uid, job.gid,
			strerror(errno));
		_exit(126);
	}
	execvp(job.args[0], job.args);
	int e = errno;
	dprintf(2, "mvm-init: cannot run '%s': %s\n", job.args[0], strerror(e));
	_exit(e == ENOENT ? 127 : 126);
}

static long long now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

int main(void)
{
	if (getpid() != 1) {
		fprintf(stderr, "mvm-init: run me as a VM's init (PID 1)\n");
		return 2;
	}
	mounts();
	raw_console();
	read_job();
	boot_timer();
	say("start", "%s", "");
	long long t0 = now_us();
	pid_t child = fork();
	if (child < 0)
		fail("fork failed");
	if (child == 0)
		workload();
	int st = 0, code;
	for (;;) {
		pid_t p = wait(&st);
		if (p == child)
			break;
		if (p < 0 && errno != EINTR)
			fail("lost the workload");
	}
	long long us = now_us() - t0;
	code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	kill(-1, SIGKILL);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	say("exit", "%d:%lld", code, us);
	power_off();
}
