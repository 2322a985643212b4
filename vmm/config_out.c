#include "config_out.h"

static const char *bool_str(bool v)
{
	return v ? "true" : "false";
}

void config_machine_json(const struct machine_cfg *m, struct strbuf *b)
{
	strbuf_printf(b,
		      "{\"vcpu_count\": %u, \"mem_size_mib\": %u, \"smt\": %s, "
		      "\"track_dirty_pages\": %s, \"huge_pages\": \"%s\"",
		      m->vcpu_count, m->mem_size_mib, bool_str(m->smt),
		      bool_str(m->track_dirty_pages),
		      m->huge_pages == HUGE_PAGES_2M ? "2M" : "None");
	/* Firecracker leaves cpu_template out unless one was chosen. */
	if (m->cpu_template != CPU_TEMPLATE_AUTO)
		strbuf_printf(b, ", \"cpu_template\": \"%s\"", cpu_template_name(m->cpu_template));
	strbuf_printf(b, "}");
}

void config_drive_json(const struct drive_cfg *d, struct strbuf *b)
{
	strbuf_printf(b, "{\"drive_id\": ");
	strbuf_json_str(b, d->drive_id);
	strbuf_printf(b, ", \"path_on_host\": ");
	strbuf_json_str(b, d->path_on_host);
	strbuf_printf(b, ", \"is_root_device\": %s, \"is_read_only\": %s, \"partuuid\": ",
		      bool_str(d->is_root_device), bool_str(d->is_read_only));
	strbuf_json_str(b, d->partuuid);
	strbuf_printf(b, ", \"cache_type\": \"%s\", \"io_engine\": \"%s\", \"rate_limiter\": null}",
		      d->cache_type == CACHE_WRITEBACK ? "Writeback" : "Unsafe",
		      d->io_engine == IO_ENGINE_ASYNC ? "Async" : "Sync");
}

void config_vm_json(const struct vm_config *c, struct strbuf *b)
{
	strbuf_printf(b, "{\"balloon\": null, \"drives\": [");
	for (int i = 0; i < c->nr_drives; i++) {
		if (i)
			strbuf_printf(b, ", ");
		config_drive_json(&c->drives[i], b);
	}
	strbuf_printf(b, "], \"boot-source\": ");
	if (c->boot.kernel_image_path) {
		strbuf_printf(b, "{\"kernel_image_path\": ");
		strbuf_json_str(b, c->boot.kernel_image_path);
		strbuf_printf(b, ", \"boot_args\": ");
		strbuf_json_str(b, c->boot.boot_args);
		strbuf_printf(b, ", \"initrd_path\": ");
		strbuf_json_str(b, c->boot.initrd_path);
		strbuf_printf(b, "}");
	} else {
		strbuf_printf(b, "null");
	}
	strbuf_printf(b, ", \"cpu-config\": null, \"logger\": ");
	if (c->log_path || c->log_level) {
		strbuf_printf(b, "{\"log_path\": ");
		strbuf_json_str(b, c->log_path);
		strbuf_printf(b, ", \"level\": ");
		strbuf_json_str(b, c->log_level ? c->log_level : "Info");
		strbuf_printf(b, ", \"show_level\": %s, \"show_log_origin\": %s}",
			      bool_str(c->log_show_level), bool_str(c->log_show_origin));
	} else {
		strbuf_printf(b, "null");
	}
	strbuf_printf(b, ", \"machine-config\": ");
	config_machine_json(&c->machine, b);
	strbuf_printf(b, ", \"metrics\": ");
	if (c->metrics_path) {
		strbuf_printf(b, "{\"metrics_path\": ");
		strbuf_json_str(b, c->metrics_path);
		strbuf_printf(b, "}");
	} else {
		strbuf_printf(b, "null");
	}
	strbuf_printf(b,
		      ", \"mmds-config\": null, \"network-interfaces\": [], \"vsock\": null, "
		      "\"entropy\": %s}",
		      c->entropy ? "{\"rate_limiter\": null}" : "null");
}
