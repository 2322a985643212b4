#include "run_console.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/util.h"

/* SIGINT, SIGTERM or SIGHUP to mvm run: the monitor is told to stop (it
 * exits 128+N), and what it printed until then still comes through. */
static volatile pid_t monitor_pid;
static void forward(int sig)
{
	(void)sig;
	if (monitor_pid > 0)
		kill(monitor_pid, SIGTERM);
}

int run_vm_spawn(struct run_vm *vm, const char *self, char *const argv[])
{
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(out, O_CLOEXEC) < 0) {
		int r = -errno;
		close(in[0]);
		close(in[1]);
		return r;
	}
	vm->t0_us = mono_us();
	vm->pid = fork();
	if (vm->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		signal(SIGPIPE, SIG_DFL);
		execv(self, argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	monitor_pid = vm->pid;
	struct sigaction sa = { .sa_handler = forward };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	vm->in_fd = in[1];
	vm->out_fd = out[0];
	if (vm->pid < 0) {
		close(in[1]);
		close(out[0]);
		return -EAGAIN;
	}
	return 0;
}

static void send_job(struct run_vm *vm)
{
	if (vm->job_line && write_full(vm->in_fd, vm->job_line, strlen(vm->job_line)))
		snprintf(vm->error, sizeof(vm->error), "cannot give the guest its job: %s",
			 strerror(errno));
	vm->job_line = NULL;
}

/* One of mvm-init's lines, without the prefix and the newline. */
static void marker(struct run_vm *vm, char *line)
{
	if (!strcmp(line, "ready")) {
		if (vm->on_ready && vm->on_ready(vm, vm->arg)) {
			kill(vm->pid, SIGTERM);
			return;
		}
		send_job(vm);
	} else if (!strcmp(line, "start")) {
		vm->started = true;
		vm->start_us = mono_us();
	} else if (!strncmp(line, "exit:", 5)) {
		vm->exited = sscanf(line + 5, "%d:%lld", &vm->status, &vm->workload_us) == 2;
	} else if (!strncmp(line, "error:", 6)) {
		snprintf(vm->error, sizeof(vm->error), "the guest's init: %s", line + 6);
	}
}

/* The guest's output to ours; nothing after the workload's end (the kernel's
 * "reboot: Restarting system"). */
static void emit(const struct run_vm *vm, const char *buf, size_t n)
{
	if (!vm->exited)
		write_full(1, buf, n);
}

/* How many bytes at the end of buf could begin the prefix (held back). */
static size_t partial(const char *buf, size_t n, const char *prefix, size_t plen)
{
	for (size_t k = n < plen - 1 ? n : plen - 1; k; k--)
		if (!memcmp(buf + n - k, prefix, k))
			return k;
	return 0;
}

void run_vm_drive(struct run_vm *vm)
{
	char prefix[40], buf[1 << 16];
	size_t n = 0, plen = (size_t)snprintf(prefix, sizeof(prefix), "@mvm-%s:", vm->nonce);
	if (vm->send_job_now)
		send_job(vm);
	for (;;) {
		ssize_t r = read(vm->out_fd, buf + n, sizeof(buf) - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		for (;;) {
			char *m = memmem(buf, n, prefix, plen);
			size_t keep = m ? (size_t)(m - buf) : n - partial(buf, n, prefix, plen);
			emit(vm, buf, keep);
			memmove(buf, buf + keep, n - keep);
			n -= keep;
			char *nl = m ? memchr(buf, '\n', n) : NULL;
			if (!nl) {
				if (n == sizeof(buf)) { /* too long for one of our lines */
					emit(vm, buf, n);
					n = 0;
				}
				break;
			}
			*nl = '\0';
			size_t len = (size_t)(nl - buf) + 1;
			marker(vm, buf + plen);
			memmove(buf, buf + len, n - len);
			n -= len;
		}
	}
	emit(vm, buf, n);
	close(vm->out_fd);
	close(vm->in_fd);
	int st = 0;
	while (waitpid(vm->pid, &st, 0) < 0 && errno == EINTR)
		;
	vm->monitor_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
