/*
 * API requests, answered on the vmm thread: which state each is allowed in,
 * and what it changes. Bodies were already parsed on the api thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../api-socket/request.h"
#include "../snapshot/snapshot.h"
#include "../virtio/blk.h"
#include "../virtio/mmio.h"
#include "config_out.h"
#include "log.h"
#include "monitor.h"
#include "strbuf.h"
#include "util.h"
#include "version.h"

static const char *state_name(const struct monitor *m)
{
	if (!m->vm_built)
		return "Not started";
	return m->vm.state == VM_PAUSED ? "Paused" : "Running";
}

static void ok_json(struct api_response *resp, struct strbuf *b)
{
	resp->status = 200;
	resp->body = strbuf_steal(b);
}

static void ok_empty(struct api_response *resp)
{
	resp->status = 204;
	resp->body = NULL;
}

static bool before_boot(struct monitor *m, const char *what, struct api_response *resp)
{
	if (!m->vm_built)
		return true;
	api_response_error(resp, "%s is only allowed before the VM starts; the VM is %s", what,
			   state_name(m));
	return false;
}

static bool after_boot(struct monitor *m, const char *what, struct api_response *resp)
{
	if (m->vm_built)
		return true;
	api_response_error(
	    resp, "%s is only allowed once the VM is running; send InstanceStart first", what);
	return false;
}

static void get_info(struct monitor *m, struct api_response *resp)
{
	struct strbuf b;
	strbuf_init(&b);
	strbuf_printf(&b, "{\"id\": ");
	strbuf_json_str(&b, log_instance_id());
	strbuf_printf(&b, ", \"state\": \"%s\", \"vmm_version\": \"%s\", \"app_name\": \"mvm\"}",
		      state_name(m), MVM_VERSION);
	ok_json(resp, &b);
}

static int put_drive(struct monitor *m, struct drive_cfg *d, struct api_response *resp)
{
	struct json_err e;
	if (!before_boot(m, "PUT /drives", resp))
		return -EINVAL;
	if (config_put_drive(&m->cfg, d, &e)) {
		api_response_error(resp, "%s", e.msg);
		return -EINVAL;
	}
	return 0;
}

/* PATCH /drives/{id} after boot: swap the file behind the drive, tell the guest. */
static int patch_drive(struct monitor *m, struct drive_patch *p, struct api_response *resp)
{
	if (!after_boot(m, "PATCH /drives", resp))
		return -EINVAL;
	int idx = -1;
	for (int i = 0; i < m->cfg.nr_drives; i++)
		if (!strcmp(m->cfg.drives[i].drive_id, p->drive_id))
			idx = i;
	if (idx < 0) {
		api_response_error(resp, "drive '%s' does not exist", p->drive_id);
		return -EINVAL;
	}
	if (!p->path_on_host)
		return monitor_patch_drive_limiter(m, idx, p, resp);
	struct blk *b = m->vm.blk[idx];
	struct virtio_mmio *t = NULL;
	for (int i = 0; i < m->vm.nr_virtio; i++)
		if (m->vm.virtio[i]->dev == b)
			t = m->vm.virtio[i];
	if (!b || !t) {
		api_response_error(resp, "drive '%s' has no device", p->drive_id);
		return -EINVAL;
	}
	log_clear_last_error();
	pthread_mutex_lock(&t->lock);
	int r = blk_set_backing(b, p->path_on_host);
	pthread_mutex_unlock(&t->lock);
	if (r) {
		api_response_error(resp, "cannot use %s for drive '%s': %s", p->path_on_host,
				   p->drive_id,
				   log_last_error()[0] ? log_last_error() : strerror(-r));
		return r;
	}
	free(m->cfg.drives[idx].path_on_host);
	m->cfg.drives[idx].path_on_host = steal_ptr(&p->path_on_host);
	virtio_mmio_config_changed(t);
	log_info("drive %s now backed by %s", p->drive_id, m->cfg.drives[idx].path_on_host);
	return monitor_patch_drive_limiter(m, idx, p, resp);
}

static int start(struct monitor *m, uint64_t t0, struct api_response *resp)
{
	struct json_err e;
	if (!before_boot(m, "InstanceStart", resp))
		return -EINVAL;
	if (config_validate(&m->cfg, &e)) {
		api_response_error(resp, "cannot start the VM: %s", e.msg);
		return -EINVAL;
	}
	log_clear_last_error();
	int r = monitor_start_vm(m, t0);
	if (r) {
		api_response_error(resp, "InstanceStart failed: %s",
				   log_last_error()[0] ? log_last_error() : strerror(-r));
		return r;
	}
	return 0;
}

static int pause_resume(struct monitor *m, bool pause, struct api_response *resp)
{
	if (!after_boot(m, pause ? "Pausing" : "Resuming", resp))
		return -EINVAL;
	uint64_t t0 = mono_us();
	int r = pause ? vm_pause(&m->vm) : vm_resume(&m->vm);
	if (r) {
		api_response_error(resp, "%s the VM failed: %s", pause ? "pausing" : "resuming",
				   strerror(-r));
		return r;
	}
	if (pause)
		m->metrics.lat.pause_vm = mono_us() - t0;
	else
		m->metrics.lat.resume_vm = mono_us() - t0;
	log_info("VM %s", pause ? "paused" : "resumed");
	return 0;
}

static int put_logger(struct monitor *m, struct logger_req *l, struct api_response *resp)
{
	enum log_level lvl;
	if (l->level && log_level_parse(l->level, &lvl)) {
		api_response_error(resp,
				   "logger level '%s' is unknown; use Error, Warning, Info, "
				   "Debug, Trace or Off",
				   l->level);
		return -EINVAL;
	}
	if (l->log_path) {
		int r = log_set_path(l->log_path);
		if (r) {
			api_response_error(resp, "cannot open log_path %s: %s", l->log_path,
					   strerror(-r));
			return r;
		}
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

static int put_metrics(struct monitor *m, char **path, struct api_response *resp)
{
	int r = monitor_set_metrics(m, *path);
	if (r == -EALREADY) {
		api_response_error(resp, "metrics are already configured (to %s)",
				   m->cfg.metrics_path);
		return r;
	}
	if (r) {
		api_response_error(resp, "cannot open metrics_path %s: %s", *path, strerror(-r));
		return r;
	}
	free(m->cfg.metrics_path);
	m->cfg.metrics_path = steal_ptr(path);
	return 0;
}

static int put_serial(struct monitor *m, char **path, struct api_response *resp)
{
	if (!before_boot(m, "PUT /serial", resp))
		return -EINVAL;
	if (!*path)
		return 0;
	int fd = open(*path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd < 0) {
		api_response_error(resp, "cannot open serial_out_path %s: %s", *path,
				   strerror(errno));
		return -errno;
	}
	if (m->serial_out_fd > STDERR_FILENO)
		close(m->serial_out_fd);
	m->serial_out_fd = fd;
	free(m->cfg.serial_out_path);
	m->cfg.serial_out_path = steal_ptr(path);
	return 0;
}

static int snap_create(struct monitor *m, struct snapshot_create_req *c, struct api_response *resp)
{
	struct snap_create_stats st;
	char err[512] = "";
	if (!after_boot(m, "Creating a snapshot", resp))
		return -EINVAL;
	int r = snapshot_create(&m->vm, c->snapshot_path, c->mem_file_path, c->diff, &st, err,
				sizeof(err));
	if (r) {
		api_response_error(resp, "%s", err[0] ? err : strerror(-r));
		return r;
	}
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

static int snap_load(struct monitor *m, const struct snapshot_load *l, uint64_t t0,
		     struct api_response *resp)
{
	struct snap_restore_stats st;
	char err[512] = "";
	if (m->vm_built || m->configured) {
		api_response_error(resp,
				   "a snapshot can only be loaded into a fresh mvm (nothing "
				   "configured but the logger and metrics); this one %s",
				   m->vm_built ? "already runs a VM" : "has a configured VM");
		return -EINVAL;
	}
	m->vm.serial_in_fd = m->serial_in_fd;
	m->vm.serial_out_fd = m->serial_out_fd;
	log_clear_last_error();
	int r = snapshot_restore(&m->vm, &m->cfg, &m->loop, l, &st, err, sizeof(err));
	if (!r) {
		if (!l->resume)
			__atomic_store_n(&m->vm.pause_req, true, __ATOMIC_SEQ_CST);
		r = vm_start(&m->vm);
		if (r) {
			snprintf(err, sizeof(err), "starting the vCPUs: %s", strerror(-r));
			vm_destroy(&m->vm);
		}
	}
	if (r) {
		memset(&m->vm, 0, sizeof(m->vm));
		vm_config_fini(&m->cfg);
		vm_config_init(&m->cfg);
		api_response_error(resp, "%s", err[0] ? err : strerror(-r));
		return r;
	}
	if (!l->resume)
		m->vm.state = VM_PAUSED;
	m->vm_built = true;
	m->metrics.lat.load_snapshot = mono_us() - t0;
	log_info("snapshot %s loaded in %llu us (read %llu, build %llu, state %llu), %s",
		 l->snapshot_path, (unsigned long long)(mono_us() - t0),
		 (unsigned long long)st.read_us, (unsigned long long)st.build_us,
		 (unsigned long long)st.state_us, l->resume ? "running" : "paused");
	return 0;
}

/* Count a request and its failure in the right metrics pair. */
static void count(uint64_t *ok, uint64_t *fails, int r)
{
	(*ok)++;
	if (r && fails)
		(*fails)++;
}

void monitor_handle_request(struct monitor *m, struct api_request *req, struct api_response *resp)
{
	struct api_counters *c = &m->metrics.api;
	struct strbuf b;
	int r = 0;

	resp->status = 0;
	resp->body = NULL;
	strbuf_init(&b);
	switch (req->op) {
	case API_GET_INFO:
		c->get_instance_info++;
		get_info(m, resp);
		return;
	case API_GET_VERSION:
		c->get_vmm_version++;
		strbuf_printf(&b, "{\"firecracker_version\": \"%s\", \"mvm_version\": \"%s\"}",
			      MVM_API_VERSION, MVM_VERSION);
		ok_json(resp, &b);
		return;
	case API_GET_MACHINE:
		c->get_machine_cfg++;
		config_machine_json(&m->cfg.machine, &b);
		ok_json(resp, &b);
		return;
	case API_GET_VM_CONFIG:
		c->get_vm_config++;
		config_vm_json(&m->cfg, &b);
		ok_json(resp, &b);
		return;
	case API_PUT_MACHINE:
	case API_PATCH_MACHINE:
		if (before_boot(m,
				req->op == API_PUT_MACHINE ? "PUT /machine-config"
							   : "PATCH /machine-config",
				resp)) {
			if (req->op == API_PUT_MACHINE)
				m->cfg.machine = req->u.machine.cfg;
			else
				config_machine_apply(&m->cfg.machine, &req->u.machine.cfg,
						     req->u.machine.present);
		} else {
			r = -EINVAL;
		}
		if (req->op == API_PUT_MACHINE)
			count(&c->put_machine_cfg, &c->put_machine_cfg_fails, r);
		else
			count(&c->patch_machine_cfg, &c->patch_machine_cfg_fails, r);
		break;
	case API_PUT_BOOT:
		if (before_boot(m, "PUT /boot-source", resp)) {
			free(m->cfg.boot.kernel_image_path);
			free(m->cfg.boot.boot_args);
			free(m->cfg.boot.initrd_path);
			m->cfg.boot = req->u.boot;
			memset(&req->u.boot, 0, sizeof(req->u.boot));
		} else {
			r = -EINVAL;
		}
		count(&c->put_boot_source, &c->put_boot_source_fails, r);
		break;
	case API_PUT_DRIVE:
		r = put_drive(m, &req->u.drive, resp);
		count(&c->put_drive, &c->put_drive_fails, r);
		break;
	case API_PATCH_DRIVE:
		r = patch_drive(m, &req->u.drive_patch, resp);
		count(&c->patch_drive, &c->patch_drive_fails, r);
		break;
	case API_START:
		r = start(m, req->received_us, resp);
		count(&c->put_actions, &c->put_actions_fails, r);
		break;
	case API_CTRL_ALT_DEL:
		if (after_boot(m, "SendCtrlAltDel", resp) && (r = vm_send_ctrl_alt_del(&m->vm)))
			api_response_error(resp, "the guest is not reading its keyboard");
		if (!m->vm_built)
			r = -EINVAL;
		count(&c->put_actions, &c->put_actions_fails, r);
		break;
	case API_FLUSH_METRICS:
		if (m->metrics.fd < 0) {
			api_response_error(resp, "metrics are not configured: PUT /metrics first");
			r = -EINVAL;
		} else if ((r = metrics_flush(&m->metrics, m->vm_built ? &m->vm : NULL))) {
			api_response_error(resp, "writing metrics failed: %s", strerror(-r));
		}
		count(&c->put_actions, &c->put_actions_fails, r);
		break;
	case API_PAUSE:
	case API_RESUME:
		r = pause_resume(m, req->op == API_PAUSE, resp);
		count(&c->patch_vm, &c->patch_vm_fails, r);
		break;
	case API_PUT_LOGGER:
		r = put_logger(m, &req->u.logger, resp);
		count(&c->put_logger, &c->put_logger_fails, r);
		break;
	case API_PUT_METRICS:
		r = put_metrics(m, &req->u.path, resp);
		count(&c->put_metrics, &c->put_metrics_fails, r);
		break;
	case API_PUT_SERIAL:
		r = put_serial(m, &req->u.path, resp);
		count(&c->put_serial, &c->put_serial_fails, r);
		break;
	case API_PUT_ENTROPY:
	case API_PUT_NET:
	case API_PATCH_NET:
	case API_PUT_VSOCK:
	case API_PUT_BALLOON:
	case API_PATCH_BALLOON:
	case API_PATCH_BALLOON_STATS: r = monitor_device_request(m, req, resp); break;
	case API_GET_BALLOON:
	case API_GET_BALLOON_STATS: monitor_device_request(m, req, resp); return;
	case API_SNAPSHOT_CREATE:
		r = snap_create(m, &req->u.snap_create, resp);
		count(&c->put_snapshot_create, &c->put_snapshot_create_fails, r);
		break;
	case API_SNAPSHOT_LOAD:
		r = snap_load(m, &req->u.snap_load, req->received_us, resp);
		count(&c->put_snapshot_load, &c->put_snapshot_load_fails, r);
		break;
	}
	/* Anything that configured the VM bars a later snapshot load. */
	if (!r &&
	    (req->op == API_PUT_MACHINE || req->op == API_PATCH_MACHINE ||
	     req->op == API_PUT_BOOT || req->op == API_PUT_DRIVE || req->op == API_PUT_SERIAL ||
	     req->op == API_PUT_ENTROPY || req->op == API_PUT_NET || req->op == API_PUT_VSOCK ||
	     req->op == API_PUT_BALLOON))
		m->configured = true;
	strbuf_fini(&b);
	if (!resp->status)
		ok_empty(resp);
}
