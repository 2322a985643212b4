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

static void bucket_json(const struct bucket_cfg *c, struct strbuf *b)
{
	if (!c->size) {
		strbuf_printf(b, "null");
		return;
	}
	strbuf_printf(b, "{\"size\": %llu, \"one_time_burst\": %llu, \"refill_time\": %llu}",
		      (unsigned long long)c->size, (unsigned long long)c->one_time_burst,
		      (unsigned long long)c->refill_time_ms);
}

void config_rate_limiter_json(const struct rate_limiter_cfg *rl, struct strbuf *b)
{
	if (!rl->bandwidth.size && !rl->ops.size) {
		strbuf_printf(b, "null");
		return;
	}
	strbuf_printf(b, "{\"bandwidth\": ");
	bucket_json(&rl->bandwidth, b);
	strbuf_printf(b, ", \"ops\": ");
	bucket_json(&rl->ops, b);
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
	/* mvm's own field, only when set: Firecracker's shape otherwise. */
	if (d->direct_io)
		strbuf_printf(b, ", \"direct_io\": true");
	strbuf_printf(b, ", \"cache_type\": \"%s\", \"io_engine\": \"%s\", \"rate_limiter\": ",
		      d->cache_type == CACHE_WRITEBACK ? "Writeback" : "Unsafe",
		      d->io_engine == IO_ENGINE_ASYNC ? "Async" : "Sync");
	config_rate_limiter_json(&d->rate_limiter, b);
	strbuf_printf(b, "}");
}

void config_net_json(const struct net_cfg *n, struct strbuf *b)
{
	strbuf_printf(b, "{\"iface_id\": ");
	strbuf_json_str(b, n->iface_id);
	strbuf_printf(b, ", \"host_dev_name\": ");
	strbuf_json_str(b, n->host_dev_name);
	strbuf_printf(b, ", \"guest_mac\": ");
	if (n->has_mac) {
		const uint8_t *m = n->guest_mac;
		strbuf_printf(b, "\"%02x:%02x:%02x:%02x:%02x:%02x\"", m[0], m[1], m[2], m[3], m[4],
			      m[5]);
	} else {
		strbuf_printf(b, "null");
	}
	strbuf_printf(b, ", \"rx_rate_limiter\": ");
	config_rate_limiter_json(&n->rx_rate_limiter, b);
	strbuf_printf(b, ", \"tx_rate_limiter\": ");
	config_rate_limiter_json(&n->tx_rate_limiter, b);
	strbuf_printf(b, "}");
}

void config_balloon_json(const struct balloon_cfg *bc, struct strbuf *b)
{
	strbuf_printf(b,
		      "{\"amount_mib\": %u, \"deflate_on_oom\": %s, "
		      "\"stats_polling_interval_s\": %u}",
		      bc->amount_mib, bool_str(bc->deflate_on_oom), bc->stats_polling_interval_s);
}

void config_vm_json(const struct vm_config *c, struct strbuf *b)
{
	strbuf_printf(b, "{\"balloon\": ");
	if (c->balloon.present)
		config_balloon_json(&c->balloon, b);
	else
		strbuf_printf(b, "null");
	strbuf_printf(b, ", \"drives\": [");
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
	strbuf_printf(b, ", \"mmds-config\": null, \"network-interfaces\": [");
	for (int i = 0; i < c->nr_nets; i++) {
		if (i)
			strbuf_printf(b, ", ");
		config_net_json(&c->nets[i], b);
	}
	strbuf_printf(b, "], \"vsock\": ");
	if (c->vsock.present) {
		strbuf_printf(b, "{\"guest_cid\": %u, \"uds_path\": ", c->vsock.guest_cid);
		strbuf_json_str(b, c->vsock.uds_path);
		strbuf_printf(b, "}");
	} else {
		strbuf_printf(b, "null");
	}
	strbuf_printf(b, ", \"entropy\": ");
	if (c->entropy) {
		strbuf_printf(b, "{\"rate_limiter\": ");
		config_rate_limiter_json(&c->entropy_rl, b);
		strbuf_printf(b, "}");
	} else {
		strbuf_printf(b, "null");
	}
	strbuf_printf(b, "}");
}
