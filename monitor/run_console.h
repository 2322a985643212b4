/* mvm run IMAGE's side of the console: a child monitor whose serial output
 * passes through to our stdout, minus mvm-init's own lines, which it reads. */
#ifndef MVM_RUN_CONSOLE_H
#define MVM_RUN_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct run_vm {
	pid_t pid;
	int in_fd, out_fd;    /* the monitor's stdin (the guest's console input) and stdout */
	char nonce[24];	      /* mvm-init's lines are "@mvm-NONCE:KIND:..." */
	const char *job_line; /* sent on "ready" (or at once with send_job_now) */
	bool send_job_now;
	/* Called on "ready" before the job goes in (the snapshot); 0 to go on. */
	int (*on_ready)(struct run_vm *vm, void *arg);
	void *arg;
	/* What came back. */
	bool started, exited;
	int status, monitor_status;
	long long workload_us;
	uint64_t t0_us, start_us;
	char error[400];
};

/* Start `self` with argv (argv[0] ignored), its stdin and stdout ours to drive;
 * 0 or -errno. */
int run_vm_spawn(struct run_vm *vm, const char *self, char *const argv[]);
/* Pass the console through until the monitor ends; then vm says what happened. */
void run_vm_drive(struct run_vm *vm);

#endif
