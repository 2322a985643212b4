/* GET /vm/config and GET /machine-config: the config as the API shows it, each
 * device described by its own type. */
#include "../lib/strbuf.h"
#include "../virtio/registry.h"
#include "config_file.h"

static const char *bool_str(bool v)
{
	return v ? "true" : "false";
}

void config_machine_json(const struct machine_cfg *m, bool custom, struct strbuf *b)
{
	strbuf_printf(b,
		      "{\"vcpu_count\": %u, \"mem_size_mib\": %u, \"smt\": %s, "
		      "\"track_dirty_pages\": %s, \"huge_pages\": \"%s\"",
		      m->vcpu_count, m->mem_size_mib, bool_str(m->smt),
		      bool_str(m->track_dirty_pages),
		      m->huge_pages == HUGE_PAGES_2M	? "2M"
		      : m->huge_pages == HUGE_PAGES_THP ? "Transparent"
							: "None");
	/*
	 * cpu_template holds only Firecracker's names, and like Firecracker mvm
	 * leaves it out for None. mvm's own templates (Host, PvmSafe) are not in
	 * Firecracker's enum: they show as the extension field mvm_cpu_template.
	 * With a custom template (PUT /cpu-config) Firecracker says "None".
	 */
	if (custom)
		strbuf_printf(b, ", \"cpu_template\": \"None\"");
	else if (cpu_template_is_static(m->cpu_template))
		strbuf_printf(b, ", \"cpu_template\": \"%s\"", cpu_template_name(m->cpu_template));
	if (m->cpu_template == CPU_TEMPLATE_HOST || m->cpu_template == CPU_TEMPLATE_PVM_SAFE)
		strbuf_printf(b, ", \"mvm_cpu_template\": \"%s\"",
			      cpu_template_name(m->cpu_template));
	/* mvm's extension: shown only when it was set (absent: auto). */
	if (m->acpi != ACPI_AUTO)
		strbuf_printf(b, ", \"mvm_acpi\": %s", bool_str(m->acpi == ACPI_ON));
	if (m->pit != PIT_AUTO)
		strbuf_printf(b, ", \"mvm_pit\": %s", bool_str(m->pit == PIT_ON));
	strbuf_printf(b, "}");
}

/* Always an object, as Firecracker's: kernel_image_path "" until one is set. */
static void boot_json(const struct boot_cfg *bc, struct strbuf *b)
{
	strbuf_printf(b, "{\"kernel_image_path\": ");
	strbuf_json_str(b, bc->kernel_image_path ? bc->kernel_image_path : "");
	strbuf_printf(b, ", \"boot_args\": ");
	strbuf_json_str(b, bc->boot_args);
	strbuf_printf(b, ", \"initrd_path\": ");
	strbuf_json_str(b, bc->initrd_path);
	strbuf_printf(b, "}");
}

static void logger_json(const struct vm_config *c, struct strbuf *b)
{
	if (!c->log_path && !c->log_level) {
		strbuf_printf(b, "null");
		return;
	}
	strbuf_printf(b, "{\"log_path\": ");
	strbuf_json_str(b, c->log_path);
	strbuf_printf(b, ", \"level\": ");
	strbuf_json_str(b, c->log_level ? c->log_level : "Info");
	strbuf_printf(b, ", \"show_level\": %s, \"show_log_origin\": %s}",
		      bool_str(c->log_show_level), bool_str(c->log_show_origin));
}

/* A many-device type: an array (maybe empty); a single one: an object or null. */
static void devices_json(const struct vm_config *c, const struct device_type *t, struct strbuf *b)
{
	int n = 0;
	if (t->id_field)
		strbuf_printf(b, "[");
	for (int i = 0; i < c->nr_devs; i++) {
		if (c->devs[i].type != t)
			continue;
		if (n++)
			strbuf_printf(b, ", ");
		t->describe(c->devs[i].cfg, b);
	}
	if (t->id_field)
		strbuf_printf(b, "]");
	else if (!n)
		strbuf_printf(b, "null");
}

void config_vm_json(const struct vm_config *c, struct strbuf *b)
{
	strbuf_printf(b, "{\"machine-config\": ");
	config_machine_json(&c->machine, c->cpu_config != NULL, b);
	strbuf_printf(b, ", \"boot-source\": ");
	boot_json(&c->boot, b);
	for (unsigned k = 0; k < nr_device_types; k++) {
		strbuf_printf(b, ", \"%s\": ", device_types[k]->key);
		devices_json(c, device_types[k], b);
	}
	strbuf_printf(b, ", \"logger\": ");
	logger_json(c, b);
	strbuf_printf(b, ", \"metrics\": ");
	if (c->metrics_path) {
		strbuf_printf(b, "{\"metrics_path\": ");
		strbuf_json_str(b, c->metrics_path);
		strbuf_printf(b, "}");
	} else {
		strbuf_printf(b, "null");
	}
	strbuf_printf(b, ", \"mmds-config\": ");
	mmds_config_json(b);
	/* mvm's extension, only when set: Firecracker's clients never see it otherwise. */
	if (c->affinity.set) {
		strbuf_printf(b, ", \"mvm-cpu-affinity\": ");
		affinity_json(&c->affinity, b);
	}
	strbuf_printf(b, ", \"cpu-config\": null}");
}
