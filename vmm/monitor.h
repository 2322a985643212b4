/* The vmm thread: one event loop that owns the VM and everything attached to it. */
#ifndef MVM_MONITOR_H
#define MVM_MONITOR_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "eventloop.h"
#include "vm.h"

struct monitor {
	struct evloop loop;
	struct vm_config cfg;
	struct vm vm;
	bool vm_built;
	bool boot_timer;
	bool stop;
	int exit_code;
	int sig_fd;
	int serial_in_fd, serial_out_fd;
	uint64_t process_start_us;
};

int monitor_init(struct monitor *m);
void monitor_fini(struct monitor *m);
/* Build and start the VM from m->cfg (InstanceStart). */
int monitor_start_vm(struct monitor *m);
/* Run the loop until the VM exits or a signal stops us; returns the exit code. */
int monitor_run(struct monitor *m);

#endif
