#include "prepare.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "monitor.h"
#include "request.h"

static void join(struct prep *p)
{
	if (p->running)
		pthread_join(p->thread, NULL);
	p->running = false;
}

/* monitor.vm is no longer the prepared VM (dropped, or InstanceStart's now). */
static void forget(struct prep *p)
{
	p->have = false;
	free(p->cfg.boot.kernel_image_path);
	p->cfg.boot.kernel_image_path = NULL;
}

void prep_drop(struct monitor *m)
{
	struct prep *p = &m->prep;
	join(p);
	if (p->have) {
		vm_destroy(&m->vm);
		memset(&m->vm, 0, sizeof(m->vm));
	}
	forget(p);
}

static void *worker(void *opaque)
{
	struct monitor *m = opaque;
	m->prep.result = vm_prepare_build(&m->vm, &m->prep.key, &m->prep.err);
	return NULL;
}

/* Done and built from what the config says now (the kernel file included). */
static bool current(struct monitor *m)
{
	join(&m->prep);
	return m->prep.have && !m->prep.result && vm_prepared_for(&m->prep.key, &m->cfg);
}

static void start(struct monitor *m)
{
	struct prep *p = &m->prep;
	if (current(m))
		return;
	prep_drop(m);
	p->cfg.machine = m->cfg.machine;
	p->cfg.boot.kernel_image_path = strdup(m->cfg.boot.kernel_image_path);
	if (!p->cfg.boot.kernel_image_path)
		return;
	memset(&p->err, 0, sizeof(p->err));
	m->vm.serial_in_fd = m->serial_in_fd;
	m->vm.serial_out_fd = m->serial_out_fd;
	p->have = true; /* even half-built: prep_drop() cleans it up */
	if ((p->result = vm_prepare_init(&m->vm, &p->cfg, &m->loop, &p->err)))
		return;
	/* The thread inherits this one's seccomp filter: it does what InstanceStart does. */
	p->running = pthread_create(&p->thread, NULL, worker, m) == 0;
	if (!p->running)
		p->result = -EAGAIN;
}

void prep_after_request(struct monitor *m, int op, bool ok)
{
	if (!ok || m->vm_built)
		return;
	if (op == API_PUT_MACHINE || op == API_PATCH_MACHINE)
		m->prep.machine_set = true;
	else if (op != API_PUT_BOOT)
		return;
	if (m->prep.machine_set && m->cfg.boot.kernel_image_path)
		start(m);
}

bool prep_take(struct monitor *m)
{
	struct prep *p = &m->prep;
	if (!p->have)
		return false;
	if (!current(m)) {
		if (p->result)
			log_debug("the VM prepared ahead of InstanceStart is not used: %s",
				  err_str(&p->err, p->result));
		prep_drop(m);
		return false;
	}
	forget(p);
	return true;
}
