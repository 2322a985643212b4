#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/util.h"
#include "x86/layout.h"

void vm_config_init(struct vm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->machine.vcpu_count = MVM_DEFAULT_VCPUS;
	c->machine.mem_size_mib = MVM_DEFAULT_MEM_MIB;
	c->machine.cpu_template = CPU_TEMPLATE_AUTO;
	c->log_show_level = true;
}

void boot_cfg_fini(struct boot_cfg *b)
{
	free(b->kernel_image_path);
	free(b->boot_args);
	free(b->initrd_path);
	memset(b, 0, sizeof(*b));
}

void vm_config_fini(struct vm_config *c)
{
	boot_cfg_fini(&c->boot);
	free(c->cpu_config);
	for (int i = 0; i < c->nr_devs; i++)
		config_free_device_cfg(c->devs[i].type, c->devs[i].cfg);
	free(c->serial_out_path);
	free(c->log_path);
	free(c->log_level);
	free(c->metrics_path);
	memset(c, 0, sizeof(*c));
}

bool config_id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > MVM_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = id[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_'))
			return false;
	}
	return true;
}

bool config_id_valid_instance(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > MVM_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = id[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

int config_parse_machine_fields(const struct json *j, int obj, struct machine_cfg *out,
				unsigned *present, struct err *e)
{
	struct machine_cfg m = *out;
	unsigned have = 0;
	uint64_t u;
	int r;

	if ((r = json_expect_object(j, obj, "machine-config", e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (json_key_is(j, k, "vcpu_count")) {
			if ((r = json_u64(j, v, "vcpu_count", 1, MAX_VCPUS, &u, e)))
				return r;
			m.vcpu_count = (uint32_t)u;
			have |= MC_VCPUS;
		} else if (json_key_is(j, k, "mem_size_mib")) {
			if ((r = json_u64(j, v, "mem_size_mib", 1, MVM_MAX_MEM_MIB, &u, e)))
				return r;
			m.mem_size_mib = (uint32_t)u;
			have |= MC_MEM;
		} else if (json_key_is(j, k, "smt")) {
			if ((r = json_bool(j, v, "smt", &m.smt, e)))
				return r;
			have |= MC_SMT;
		} else if (json_key_is(j, k, "track_dirty_pages")) {
			if ((r = json_bool(j, v, "track_dirty_pages", &m.track_dirty_pages, e)))
				return r;
			have |= MC_TRACK_DIRTY;
		} else if (json_key_is(j, k, "cpu_template") ||
			   json_key_is(j, k, "mvm_cpu_template")) {
			/* mvm_cpu_template: how GET /vm/config shows mvm's own (Host, PvmSafe) */
			char t[32];
			if ((r = json_string_buf(j, v, "cpu_template", t, sizeof(t), e)))
				return r;
			/* V1N1 is aarch64's: unknown here, as in Firecracker on x86_64. */
			if (cpu_template_parse(t, &m.cpu_template))
				return err_inval(
				    e,
				    "field 'cpu_template': unknown variant `%s`, expected "
				    "one of `C3`, `T2`, `T2S`, `None`, `T2CL`, `T2A` (mvm "
				    "also has `Host`, `PvmSafe`)",
				    t);
			have |= MC_TEMPLATE;
		} else if (json_key_is(j, k, "huge_pages")) {
			char t[16];
			if ((r = json_string_buf(j, v, "huge_pages", t, sizeof(t), e)))
				return r;
			if (!strcmp(t, "None"))
				m.huge_pages = HUGE_PAGES_NONE;
			else if (!strcmp(t, "2M"))
				m.huge_pages = HUGE_PAGES_2M;
			else if (!strcmp(t, "Transparent"))
				m.huge_pages = HUGE_PAGES_THP;
			else
				return err_inval(e,
						 "field 'huge_pages': '%s' is not allowed; use "
						 "None, Transparent or 2M",
						 t);
			have |= MC_HUGE_PAGES;
		} else if (json_key_is(j, k, "mvm_acpi")) {
			bool on;
			if ((r = json_bool(j, v, "mvm_acpi", &on, e)))
				return r;
			m.acpi = on ? ACPI_ON : ACPI_OFF;
			have |= MC_ACPI;
		} else if (json_key_is(j, k, "mvm_pit")) {
			bool on;
			if ((r = json_bool(j, v, "mvm_pit", &on, e)))
				return r;
			m.pit = on ? PIT_ON : PIT_OFF;
			have |= MC_PIT;
		} else {
			return json_unknown_field(j, k, "machine-config", e);
		}
	}
	*out = m;
	*present = have;
	return 0;
}

int config_machine_check(const struct machine_cfg *m, struct err *e)
{
	if (m->smt && m->vcpu_count > 1 && m->vcpu_count % 2)
		return err_inval(
		    e,
		    "The number of vCPUs must be greater than 0, less than %d and must "
		    "be 1 or an even number if SMT is enabled. (vcpu_count %u with smt)",
		    MAX_VCPUS, m->vcpu_count);
	if (m->huge_pages == HUGE_PAGES_2M && m->mem_size_mib % 2)
		return err_inval(e,
				 "mem_size_mib %u is not a multiple of 2: with huge_pages 2M guest "
				 "RAM is made of 2 MiB hugetlbfs pages (%u would do)",
				 m->mem_size_mib, m->mem_size_mib + 1);
	return 0;
}

void config_machine_apply(struct machine_cfg *dst, const struct machine_cfg *src, unsigned present)
{
	if (present & MC_VCPUS)
		dst->vcpu_count = src->vcpu_count;
	if (present & MC_MEM)
		dst->mem_size_mib = src->mem_size_mib;
	if (present & MC_SMT)
		dst->smt = src->smt;
	if (present & MC_TRACK_DIRTY)
		dst->track_dirty_pages = src->track_dirty_pages;
	if (present & MC_TEMPLATE)
		dst->cpu_template = src->cpu_template;
	if (present & MC_HUGE_PAGES)
		dst->huge_pages = src->huge_pages;
	if (present & MC_ACPI)
		dst->acpi = src->acpi;
	if (present & MC_PIT)
		dst->pit = src->pit;
}

int config_parse_machine(const struct json *j, int obj, struct machine_cfg *out, bool partial,
			 struct err *e)
{
	struct machine_cfg m = *out;
	unsigned have;
	int r = config_parse_machine_fields(j, obj, &m, &have, e);
	if (r)
		return r;
	if (!partial && !(have & MC_VCPUS))
		return json_missing_field(j, obj, "vcpu_count", e);
	if (!partial && !(have & MC_MEM))
		return json_missing_field(j, obj, "mem_size_mib", e);
	if ((r = config_machine_check(&m, e)))
		return r;
	*out = m;
	return 0;
}

int config_parse_boot(const struct json *j, int obj, struct boot_cfg *out, struct err *e)
{
	struct boot_cfg b = { 0 };
	int r;

	if ((r = json_expect_object(j, obj, "boot-source", e)))
		return r;
	for_each_member (j, obj, k, v) {
		char **dst;
		const char *name;
		if (json_key_is(j, k, "kernel_image_path")) {
			dst = &b.kernel_image_path;
			name = "kernel_image_path";
		} else if (json_key_is(j, k, "boot_args")) {
			dst = &b.boot_args;
			name = "boot_args";
		} else if (json_key_is(j, k, "initrd_path")) {
			dst = &b.initrd_path;
			name = "initrd_path";
		} else {
			r = json_unknown_field(j, k, "boot-source", e);
			goto fail;
		}
		if (json_is_null(j, v))
			continue;
		free(*dst);
		*dst = NULL;
		if ((r = json_string(j, v, name, dst, e)))
			goto fail;
	}
	if (!b.kernel_image_path || !*b.kernel_image_path) {
		r = err_inval(e, "boot-source needs 'kernel_image_path'");
		goto fail;
	}
	if (b.initrd_path && !*b.initrd_path) {
		free(b.initrd_path);
		b.initrd_path = NULL;
	}
	boot_cfg_fini(out);
	*out = b;
	return 0;
fail:
	boot_cfg_fini(&b);
	return r;
}

void config_free_device_cfg(const struct device_type *t, void *cfg)
{
	if (cfg && t->cfg_fini)
		t->cfg_fini(cfg);
	free(cfg);
}

struct dev_cfg *config_find_device(const struct vm_config *c, const struct device_type *t,
				   const char *id)
{
	for (int i = 0; i < c->nr_devs; i++) {
		const struct dev_cfg *d = &c->devs[i];
		if (d->type == t && (!id || !t->id || !strcmp(t->id(d->cfg), id)))
			return (struct dev_cfg *)d;
	}
	return NULL;
}

int config_count_devices(const struct vm_config *c, const struct device_type *t)
{
	int n = 0;
	for (int i = 0; i < c->nr_devs; i++)
		n += c->devs[i].type == t;
	return n;
}

static const char *dev_name(const struct dev_cfg *d)
{
	return d->type->id ? d->type->id(d->cfg) : d->type->name;
}

/* One root device across every type. */
static int check_root(const struct vm_config *c, struct err *e)
{
	const struct dev_cfg *root = NULL;
	for (int i = 0; i < c->nr_devs; i++) {
		const struct dev_cfg *d = &c->devs[i];
		if (!d->type->is_root || !d->type->is_root(d->cfg))
			continue;
		if (root)
			return err_inval(e,
					 "A root block device already exists! (%s '%s' cannot be "
					 "the root device: %s '%s' already is)",
					 d->type->noun, dev_name(d), root->type->noun,
					 dev_name(root));
		root = d;
	}
	return 0;
}

int config_put_device(struct vm_config *c, const struct device_type *t, void *cfg, bool probe,
		      struct err *e)
{
	const char *id = t->id ? t->id(cfg) : NULL;
	struct dev_cfg *old = config_find_device(c, t, id);
	int r = 0;

	if (!old && (unsigned)config_count_devices(c, t) >= t->max)
		r = err_inval(e, "too many %s (at most %u)", t->key, t->max);
	else if (!old && c->nr_devs == MVM_MAX_DEVICES)
		r = err_inval(e, "too many devices for the %d virtio-mmio slots", MVM_MAX_DEVICES);
	if (!r) {
		/* Checked as if it were in place already: the old one set aside. */
		struct vm_config view = *c;
		if (old)
			view.devs[old - c->devs].cfg = cfg;
		else
			view.devs[view.nr_devs++] = (struct dev_cfg){ t, cfg };
		r = check_root(&view, e);
		if (!r && t->check)
			r = t->check(cfg, &view, e);
	}
	if (!r && probe && t->probe)
		r = t->probe(cfg, e);
	if (r) {
		config_free_device_cfg(t, cfg);
		return r;
	}
	if (old) {
		config_free_device_cfg(t, old->cfg);
		old->cfg = cfg;
	} else {
		c->devs[c->nr_devs++] = (struct dev_cfg){ t, cfg };
	}
	return 0;
}

int config_validate(const struct vm_config *c, struct err *e)
{
	int r;
	if (!c->boot.kernel_image_path)
		return err_inval(e, "no kernel: set boot-source.kernel_image_path");
	if ((r = check_root(c, e)) ||
	    (r = affinity_check_vcpus(&c->affinity, c->machine.vcpu_count, e)))
		return r;
	for (int i = 0; i < c->nr_devs; i++) {
		const struct dev_cfg *d = &c->devs[i];
		if (d->type->check && (r = d->type->check(d->cfg, c, e)))
			return r;
	}
	return 0;
}
