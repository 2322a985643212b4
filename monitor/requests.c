/*
 * API requests, answered on the vmm thread. The route's state rule is checked
 * here, once for every route, with Firecracker's messages; then the request
 * does what it does. Bodies were already parsed on the api thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../lib/err.h"
#include "../lib/log.h"
#include "../lib/strbuf.h"
#include "../lib/util.h"
#include "../lib/version.h"
#include "../snapshot/snapshot.h"
#include "builder.h"
#include "config_file.h"
#include "monitor.h"
#include "request.h"

static unsigned state_bit(const struct monitor *m)
{
	if (!m->vm_built)
		return VM_ST_NOT_STARTED;
	return m->vm.state == VM_PAUSED ? VM_ST_PAUSED : VM_ST_RUNNING;
}

static const char *state_name(const struct monitor *m)
{
	switch (state_bit(m)) {
	case VM_ST_NOT_STARTED: return "Not started";
	case VM_ST_PAUSED: return "Paused";
	default: return "Running";
	}
}

/* The states an op may run in: the route's, but actions choose their own. */
static unsigned states_of(const struct api_request *req)
{
	switch (req->op) {
	case API_START: return VM_ST_NOT_STARTED;
	case API_CTRL_ALT_DEL: return VM_ST_STARTED;
	case API_FLUSH_METRICS: return VM_ST_ANY;
	default: return req->route->states;
	}
}

/* The one place the state rule is enforced. */
static int check_state(const struct monitor *m, const struct api_request *req, struct err *e)
{
	unsigned allowed = states_of(req), now = state_bit(m);
	if (allowed & now)
		return 0;
	const char *what = http_method_str((enum http_method)req->route->method);
	if (allowed == VM_ST_NOT_STARTED)
		return err_inval(
		    e,
		    "The requested operation is not supported after starting the "
		    "microVM. (%s %s is allowed only before InstanceStart; the VM is %s)",
		    what, req->route->path, state_name(m));
	if (!(allowed & VM_ST_NOT_STARTED) && now == VM_ST_NOT_STARTED)
		return err_inval(e,
				 "The requested operation is not supported before starting the "
				 "microVM. (%s %s needs a running VM: send InstanceStart first)",
				 what, req->route->path);
	return err_inval(e, "%s %s is not allowed while the VM is %s%s", what, req->route->path,
			 state_name(m),
			 allowed == VM_ST_PAUSED ? ": pause it first (PATCH /vm {\"state\": "
						   "\"Paused\"})"
						 : "");
}

static void get_info(struct monitor *m, struct strbuf *b)
{
	strbuf_printf(b, "{\"id\": ");
	strbuf_json_str(b, log_instance_id());
	strbuf_printf(b, ", \"state\": \"%s\", \"vmm_version\": \"%s\", \"app_name\": \"mvm\"}",
		      state_name(m), MVM_VERSION);
}

static int start(struct monitor *m, uint64_t t0, struct err *e)
{
	int r = monitor_start_vm(m, t0, e);
	return r ? err_prefix(e, "InstanceStart failed") : 0;
}

static int pause_resume(struct monitor *m, bool pause, struct err *e)
{
	uint64_t t0 = mono_us();
	int r = pause ? vm_pause(&m->vm) : vm_resume(&m->vm);
	if (r)
		return err_set(e, r, "%s the VM failed: %s", pause ? "pausing" : "resuming",
			       strerror(-r));
	if (pause) {
		m->metrics.lat.pause_vm = mono_us() - t0;
	} else {
		m->metrics.lat.resume_vm = mono_us() - t0;
		monitor_wset_running(m); /* a load's recording window starts here */
	}
	log_info("VM %s", pause ? "paused" : "resumed");
	return 0;
}

/*
 * PUT replaces, PATCH merges; the whole result must hold (smt and vcpu_count).
 * A PUT without cpu_template keeps the template, as Firecracker's does; one
 * of Firecracker's template names replaces a custom template (last one wins).
 */
static int put_machine(struct monitor *m, struct api_request *req, struct err *e)
{
	struct machine_cfg next = m->cfg.machine;
	bool tmpl = req->u.machine.present & MC_TEMPLATE;
	if (req->op == API_PUT_MACHINE) {
		next = req->u.machine.cfg;
		if (!tmpl)
			next.cpu_template = m->cfg.machine.cpu_template;
	} else {
		config_machine_apply(&next, &req->u.machine.cfg, req->u.machine.present);
	}
	int r = config_machine_check(&next, e);
	if (r)
		return r;
	m->cfg.machine = next;
	if (tmpl &&
	    (next.cpu_template == CPU_TEMPLATE_AUTO || cpu_template_is_static(next.cpu_template))) {
		free(m->cfg.cpu_config);
		m->cfg.cpu_config = NULL;
	}
	return 0;
}

/* A custom template replaces a static one (mvm's own Host, PvmSafe stay its base). */
static int put_cpu_config(struct monitor *m, struct api_request *req)
{
	free(m->cfg.cpu_config);
	m->cfg.cpu_config = req->u.cpu_config;
	req->u.cpu_config = NULL;
	if (cpu_template_is_static(m->cfg.machine.cpu_template))
		m->cfg.machine.cpu_template = CPU_TEMPLATE_AUTO;
	return 0;
}

/* The files must open now, as Firecracker checks them at PUT, not at InstanceStart. */
static int check_readable(const char *path, const char *what, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, -errno, "%s%s (os error %d): %s", what, strerror(errno), errno,
			       path);
	close(fd);
	return 0;
}

static int put_boot(struct monitor *m, struct boot_cfg *b, struct err *e)
{
	int r = check_readable(b->kernel_image_path, "The kernel file cannot be opened: ", e);
	if (!r && b->initrd_path)
		r = check_readable(b->initrd_path,
				   "The initrd file cannot be opened due to invalid path or "
				   "invalid permissions. ",
				   e);
	if (r)
		return r;
	boot_cfg_fini(&m->cfg.boot);
	m->cfg.boot = *b;
	memset(b, 0, sizeof(*b));
	return 0;
}

static int put_logger(struct monitor *m, struct logger_req *l, struct err *e)
{
	enum log_level lvl;
	if (l->level && log_level_parse(l->level, &lvl))
		return err_inval(e,
				 "logger level '%s' is unknown; use Error, Warning, Info, Debug, "
				 "Trace or Off",
				 l->level);
	if (l->log_path) {
		int r = log_set_path(l->log_path, false);
		if (r)
			return err_set(e, r, "Failed to open target file: %s (log_path %s)",
				       strerror(-r), l->log_path);
		free(m->cfg.log_path);
		m->cfg.log_path = steal_ptr(&l->log_path);
	}
	if (l->level) {
		log_set_level(lvl);
		free(m->cfg.log_level);
		m->cfg.log_level = steal_ptr(&l->level);
	}
	if (l->has_show_level)
		m->cfg.log_show_level = l->show_level;
	if (l->has_show_origin)
		m->cfg.log_show_origin = l->show_log_origin;
	log_set_format(m->cfg.log_show_level, m->cfg.log_show_origin);
	return 0;
}

static int put_metrics(struct monitor *m, char **path, struct err *e)
{
	int r = monitor_set_metrics(m, *path, false);
	if (r == -EALREADY)
		return err_set(e, r, "metrics are already configured (to %s)", m->cfg.metrics_path);
	if (r)
		return err_set(e, r, "Failed to open target file: %s (metrics_path %s)",
			       strerror(-r), *path);
	free(m->cfg.metrics_path);
	m->cfg.metrics_path = steal_ptr(path);
	return 0;
}

static int put_serial(struct monitor *m, char **path, struct err *e)
{
	if (!*path)
		return 0;
	int fd = open(*path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd < 0)
		return err_set(e, -errno, "cannot open serial_out_path %s: %s", *path,
			       strerror(errno));
	if (m->serial_out_fd > STDERR_FILENO)
		close(m->serial_out_fd);
	m->serial_out_fd = fd;
	free(m->cfg.serial_out_path);
	m->cfg.serial_out_path = steal_ptr(path);
	return 0;
}

static int snap_create(struct monitor *m, struct snapshot_create_req *c, struct err *e)
{
	struct snap_create_stats st;
	int r = snapshot_create(&m->vm, c->snapshot_path, c->mem_file_path, c->diff, &st, e);
	if (r)
		return r;
	if (c->diff)
		m->metrics.lat.diff_create_snapshot = st.total_us;
	else
		m->metrics.lat.full_create_snapshot = st.total_us;
	log_info("%s snapshot in %llu us (state %llu us, %llu bytes; memory %llu us, %llu KiB "
		 "on disk%s)",
		 c->diff ? "Diff" : "Full", (unsigned long long)st.total_us,
		 (unsigned long long)st.state_us, (unsigned long long)st.state_bytes,
		 (unsigned long long)st.mem_us, (unsigned long long)(st.mem_bytes >> 10),
		 c->diff ? ", dirty pages only" : "");
	return 0;
}

static int snap_load(struct monitor *m, const struct snapshot_load *l, uint64_t t0, struct err *e)
{
	struct snap_restore_stats st;
	if (m->configured)
		return err_inval(e, "a snapshot can only be loaded into a fresh mvm (nothing "
				    "configured but the logger and metrics); this one has a "
				    "configured VM");
	m->vm.serial_in_fd = m->serial_in_fd;
	m->vm.serial_out_fd = m->serial_out_fd;
	/* The restore replaces the config with the snapshot's; the pinning is this host's. */
	struct cpu_affinity pin = m->cfg.affinity;
	int r = monitor_wset_open(m, l, e);
	if (r)
		return r;
	r = snapshot_restore(&m->vm, &m->cfg, &m->loop, l, vm_create_for_restore, &st, e);
	if (!r) {
		m->cfg.affinity = pin;
		if ((r = monitor_pin_threads(m, e)))
			vm_destroy(&m->vm);
	}
	if (!r) {
		if (!l->resume)
			__atomic_store_n(&m->vm.pause_req, true, __ATOMIC_SEQ_CST);
		if ((r = vm_start(&m->vm))) {
			err_set(e, r, "starting the vCPUs: %s", strerror(-r));
			vm_destroy(&m->vm);
		}
	}
	if (r) {
		monitor_wset_stop(m);
		memset(&m->vm, 0, sizeof(m->vm));
		vm_config_fini(&m->cfg);
		vm_config_init(&m->cfg);
		return r;
	}
	if (!l->resume)
		m->vm.state = VM_PAUSED;
	m->vm_built = true;
	if (l->resume)
		monitor_wset_running(m);
	m->metrics.lat.load_snapshot = mono_us() - t0;
	m->metrics.restored = true;
	m->metrics.restore_us[0] = st.read_us;
	m->metrics.restore_us[1] = st.build_us;
	m->metrics.restore_us[2] = st.state_us;
	m->metrics.restore_us[3] = st.total_us;
	log_info(
	    "snapshot %s loaded in %llu us (read %llu, build %llu, prefetch %llu, state %llu), "
	    "%s",
	    l->snapshot_path, (unsigned long long)(mono_us() - t0), (unsigned long long)st.read_us,
	    (unsigned long long)st.build_us, (unsigned long long)st.prefetch_us,
	    (unsigned long long)st.state_us, l->resume ? "running" : "paused");
	return 0;
}

static int flush_metrics(struct monitor *m, struct err *e)
{
	if (m->metrics.fd < 0)
		return err_inval(e, "metrics are not configured: PUT /metrics first");
	int r = metrics_flush(&m->metrics, m->vm_built ? &m->vm : NULL);
	return r ? err_set(e, r, "writing metrics failed: %s", strerror(-r)) : 0;
}

/* What the request does once its state is right; 200 with what it writes to b. */
static int dispatch(struct monitor *m, struct api_request *req, struct strbuf *b, struct err *e)
{
	switch (req->op) {
	case API_GET_INFO: get_info(m, b); return 0;
	case API_GET_VERSION:
		strbuf_printf(b, "{\"firecracker_version\": \"%s\", \"mvm_version\": \"%s\"}",
			      MVM_API_VERSION, MVM_VERSION);
		return 0;
	case API_GET_MACHINE:
		config_machine_json(&m->cfg.machine, m->cfg.cpu_config != NULL, b);
		return 0;
	case API_GET_VM_CONFIG: config_vm_json(&m->cfg, b); return 0;
	case API_PUT_MACHINE:
	case API_PATCH_MACHINE: return put_machine(m, req, e);
	case API_PUT_BOOT: return put_boot(m, &req->u.boot, e);
	case API_PUT_CPU_CONFIG: return put_cpu_config(m, req);
	case API_PUT_AFFINITY: {
		int r = affinity_check_host(req->u.affinity, e);
		if (!r)
			m->cfg.affinity = *req->u.affinity;
		return r;
	}
	case API_START: return start(m, req->received_us, e);
	case API_CTRL_ALT_DEL:
		return vm_send_ctrl_alt_del(&m->vm)
			   ? err_inval(e, "the guest is not reading its keyboard")
			   : 0;
	case API_FLUSH_METRICS: return flush_metrics(m, e);
	case API_GET_METRICS:
		metrics_prometheus(&m->metrics, m->vm_built ? &m->vm : NULL, b);
		return 0;
	case API_PAUSE:
	case API_RESUME: return pause_resume(m, req->op == API_PAUSE, e);
	case API_PUT_LOGGER: return put_logger(m, &req->u.logger, e);
	case API_PUT_METRICS: return put_metrics(m, &req->u.path, e);
	case API_PUT_SERIAL: return put_serial(m, &req->u.path, e);
	case API_SNAPSHOT_CREATE: return snap_create(m, &req->u.snap_create, e);
	case API_SNAPSHOT_LOAD: return snap_load(m, &req->u.snap_load, req->received_us, e);
	case API_PUT_MMDS_CONFIG:
	case API_PUT_MMDS:
	case API_PATCH_MMDS:
	case API_GET_MMDS: return monitor_mmds_request(m, req, b, e);
	case API_DEV_PUT:
	case API_DEV_PATCH:
	case API_DEV_GET:
	case API_DEV_ROUTE: return monitor_device_request(m, req, b, e);
	}
	return err_inval(e, "internal error: request %d has no handler", req->op);
}

void monitor_handle_request(struct monitor *m, struct api_request *req, struct api_response *resp)
{
	unsigned nc;
	struct api_counter *c = api_counters(&nc);
	struct err e = { 0 };
	struct strbuf b;

	strbuf_init(&b);
	resp->content_type = NULL;
	int r = check_state(m, req, &e);
	if (!r)
		r = dispatch(m, req, &b, &e);
	if (req->route->counter >= 0 && (unsigned)req->route->counter < nc) {
		c[req->route->counter].count++;
		if (r)
			c[req->route->counter].fails++;
	}
	if (r) {
		api_response_error(resp, "%s", err_str(&e, r));
		strbuf_fini(&b);
		return;
	}
	/* Anything that configured the VM bars a later snapshot load. */
	if (req->route->configures)
		m->configured = true;
	if (req->op == API_GET_METRICS)
		resp->content_type = METRICS_PROM_CONTENT_TYPE;
	if (b.len) {
		resp->status = 200;
		resp->body = strbuf_steal(&b);
	} else {
		resp->status = 204;
		resp->body = NULL;
		strbuf_fini(&b);
	}
}
