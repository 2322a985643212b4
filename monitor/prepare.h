/*
 * Ahead of InstanceStart (prepare.c): once the machine and the boot source
 * are both given, a worker thread creates the KVM VM, maps guest RAM and
 * loads the kernel while the client goes on configuring devices; InstanceStart
 * then builds only what depends on the devices. A prepared VM is used only
 * for the machine and kernel file it was built from, and rebuilt otherwise.
 */
#ifndef MVM_PREPARE_H
#define MVM_PREPARE_H

#include <pthread.h>
#include <stdbool.h>

#include "../lib/err.h"
#include "../vmm/config.h"
#include "builder.h"

struct monitor;

struct prep {
	bool machine_set; /* machine-config was PUT or PATCHed */
	bool have;	  /* monitor.vm holds a prepared (or half-prepared) VM */
	bool running;	  /* the worker has not been joined yet */
	pthread_t thread;
	int result;
	struct err err;
	struct vm_prep_key key;
	struct vm_config cfg; /* the machine and kernel path the worker builds from */
};

/* After a request: op is what it was, ok whether it succeeded. */
void prep_after_request(struct monitor *m, int op, bool ok);
/* At InstanceStart: true when monitor.vm is a VM prepared for today's config
 * (it is then the caller's); otherwise whatever was prepared is gone. */
bool prep_take(struct monitor *m);
/* Join the worker and destroy what it prepared. */
void prep_drop(struct monitor *m);

#endif
