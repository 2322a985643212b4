#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "x86/layout.h"

#define CONFIG_FILE_MAX (1u << 20)

void vm_config_init(struct vm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->machine.vcpu_count = MVM_DEFAULT_VCPUS;
	c->machine.mem_size_mib = MVM_DEFAULT_MEM_MIB;
	c->machine.cpu_template = CPU_TEMPLATE_AUTO;
	c->log_show_level = true;
}

void drive_cfg_fini(struct drive_cfg *d)
{
	free(d->path_on_host);
	free(d->partuuid);
	d->path_on_host = d->partuuid = NULL;
}

static void boot_cfg_fini(struct boot_cfg *b)
{
	free(b->kernel_image_path);
	free(b->boot_args);
	free(b->initrd_path);
	memset(b, 0, sizeof(*b));
}

void vm_config_fini(struct vm_config *c)
{
	boot_cfg_fini(&c->boot);
	for (int i = 0; i < c->nr_drives; i++)
		drive_cfg_fini(&c->drives[i]);
	free(c->serial_out_path);
	free(c->log_path);
	free(c->log_level);
	free(c->metrics_path);
	vsock_cfg_fini(&c->vsock);
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
				unsigned *present, struct json_err *e)
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
			if (m.smt)
				return json_errf(e,
						 "field 'smt': simultaneous multithreading is not "
						 "supported; use false");
			have |= MC_SMT;
		} else if (json_key_is(j, k, "track_dirty_pages")) {
			if ((r = json_bool(j, v, "track_dirty_pages", &m.track_dirty_pages, e)))
				return r;
			have |= MC_TRACK_DIRTY;
		} else if (json_key_is(j, k, "cpu_template")) {
			char t[32];
			if ((r = json_string_buf(j, v, "cpu_template", t, sizeof(t), e)))
				return r;
			if (cpu_template_parse(t, &m.cpu_template))
				return json_errf(e,
						 "field 'cpu_template': unknown template '%s'; "
						 "allowed: None, Host, PvmSafe",
						 t);
			have |= MC_TEMPLATE;
		} else if (json_key_is(j, k, "huge_pages")) {
			char t[16];
			if ((r = json_string_buf(j, v, "huge_pages", t, sizeof(t), e)))
				return r;
			if (!strcmp(t, "None"))
				m.huge_pages = HUGE_PAGES_NONE;
			else if (!strcmp(t, "2M") || !strcmp(t, "Transparent"))
				m.huge_pages = HUGE_PAGES_2M;
			else
				return json_errf(e,
						 "field 'huge_pages': '%s' is not allowed; use "
						 "None, Transparent or 2M",
						 t);
			have |= MC_HUGE_PAGES;
		} else {
			return json_unknown_field(j, k, "machine-config", e);
		}
	}
	*out = m;
	*present = have;
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
}

int config_parse_machine(const struct json *j, int obj, struct machine_cfg *out, bool partial,
			 struct json_err *e)
{
	struct machine_cfg m = *out;
	unsigned have;
	int r = config_parse_machine_fields(j, obj, &m, &have, e);
	if (r)
		return r;
	if (!partial && (!(have & MC_VCPUS) || !(have & MC_MEM)))
		return json_errf(e, "machine-config needs both 'vcpu_count' and 'mem_size_mib'");
	*out = m;
	return 0;
}

int config_parse_boot(const struct json *j, int obj, struct boot_cfg *out, struct json_err *e)
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
		r = json_errf(e, "boot-source needs 'kernel_image_path'");
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

int config_parse_drive(const struct json *j, int obj, struct drive_cfg *out, struct json_err *e)
{
	struct drive_cfg d = { 0 };
	bool have_root = false, have_ro = false;
	int r;

	if ((r = json_expect_object(j, obj, "a drive", e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (json_key_is(j, k, "drive_id")) {
			if ((r = json_string_buf(j, v, "drive_id", d.drive_id, sizeof(d.drive_id),
						 e)))
				goto fail;
		} else if (json_key_is(j, k, "path_on_host")) {
			free(d.path_on_host);
			d.path_on_host = NULL;
			if ((r = json_string(j, v, "path_on_host", &d.path_on_host, e)))
				goto fail;
		} else if (json_key_is(j, k, "is_root_device")) {
			if ((r = json_bool(j, v, "is_root_device", &d.is_root_device, e)))
				goto fail;
			have_root = true;
		} else if (json_key_is(j, k, "is_read_only")) {
			if (json_is_null(j, v))
				continue;
			if ((r = json_bool(j, v, "is_read_only", &d.is_read_only, e)))
				goto fail;
			have_ro = true;
		} else if (json_key_is(j, k, "partuuid")) {
			if (json_is_null(j, v))
				continue;
			free(d.partuuid);
			d.partuuid = NULL;
			if ((r = json_string(j, v, "partuuid", &d.partuuid, e)))
				goto fail;
		} else if (json_key_is(j, k, "cache_type")) {
			char t[16];
			if ((r = json_string_buf(j, v, "cache_type", t, sizeof(t), e)))
				goto fail;
			if (!strcmp(t, "Unsafe"))
				d.cache_type = CACHE_UNSAFE;
			else if (!strcmp(t, "Writeback"))
				d.cache_type = CACHE_WRITEBACK;
			else {
				r = json_errf(e,
					      "field 'cache_type': '%s' is not allowed; use Unsafe "
					      "or Writeback",
					      t);
				goto fail;
			}
		} else if (json_key_is(j, k, "io_engine")) {
			char t[16];
			if ((r = json_string_buf(j, v, "io_engine", t, sizeof(t), e)))
				goto fail;
			if (!strcmp(t, "Sync"))
				d.io_engine = IO_ENGINE_SYNC;
			else if (!strcmp(t, "Async"))
				d.io_engine = IO_ENGINE_ASYNC;
			else {
				r = json_errf(e,
					      "field 'io_engine': '%s' is not allowed; use Sync or "
					      "Async",
					      t);
				goto fail;
			}
		} else if (json_key_is(j, k, "direct_io")) {
			if ((r = json_bool(j, v, "direct_io", &d.direct_io, e)))
				goto fail;
		} else if (json_key_is(j, k, "rate_limiter")) {
			unsigned which;
			if ((r = config_parse_rate_limiter(j, v, "rate_limiter", &d.rate_limiter,
							   &which, e)))
				goto fail;
		} else if (json_key_is(j, k, "socket")) {
			r = json_errf(e, "field 'socket': vhost-user drives are not supported");
			goto fail;
		} else {
			r = json_unknown_field(j, k, "drive", e);
			goto fail;
		}
	}
	if (!d.drive_id[0]) {
		r = json_errf(e, "a drive needs 'drive_id'");
		goto fail;
	}
	if (!config_id_valid(d.drive_id)) {
		r = json_errf(e, "drive_id '%s' is invalid: use 1 to %d letters, digits or '_'",
			      d.drive_id, MVM_ID_MAX);
		goto fail;
	}
	if (!d.path_on_host || !*d.path_on_host) {
		r = json_errf(e, "drive '%s' needs 'path_on_host'", d.drive_id);
		goto fail;
	}
	if (!have_root) {
		r = json_errf(e, "drive '%s' needs 'is_root_device'", d.drive_id);
		goto fail;
	}
	(void)have_ro; /* is_read_only defaults to false, as in Firecracker */
	drive_cfg_fini(out);
	*out = d;
	return 0;
fail:
	drive_cfg_fini(&d);
	return r;
}

int config_put_drive(struct vm_config *c, struct drive_cfg *d, struct json_err *e)
{
	int slot = c->nr_drives;
	for (int i = 0; i < c->nr_drives; i++) {
		if (!strcmp(c->drives[i].drive_id, d->drive_id))
			slot = i;
		else if (d->is_root_device && c->drives[i].is_root_device)
			return json_errf(
			    e, "drive '%s' cannot be a root device: drive '%s' already is",
			    d->drive_id, c->drives[i].drive_id);
	}
	if (slot == MVM_MAX_DRIVES)
		return json_errf(e, "too many drives (at most %d)", MVM_MAX_DRIVES);
	if (slot == c->nr_drives)
		c->nr_drives++;
	else
		drive_cfg_fini(&c->drives[slot]);
	c->drives[slot] = *d;
	memset(d, 0, sizeof(*d));
	return 0;
}

static int parse_logger(const struct json *j, int obj, struct vm_config *c, struct json_err *e)
{
	int r;
	if ((r = json_expect_object(j, obj, "logger", e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (json_is_null(j, v) &&
		    (json_key_is(j, k, "log_path") || json_key_is(j, k, "level") ||
		     json_key_is(j, k, "module"))) {
			continue; /* what GET /vm/config says of an unset field */
		} else if (json_key_is(j, k, "log_path")) {
			free(c->log_path);
			c->log_path = NULL;
			if ((r = json_string(j, v, "log_path", &c->log_path, e)))
				return r;
		} else if (json_key_is(j, k, "level")) {
			free(c->log_level);
			c->log_level = NULL;
			if ((r = json_string(j, v, "level", &c->log_level, e)))
				return r;
		} else if (json_key_is(j, k, "show_level")) {
			if ((r = json_bool(j, v, "show_level", &c->log_show_level, e)))
				return r;
		} else if (json_key_is(j, k, "show_log_origin")) {
			if ((r = json_bool(j, v, "show_log_origin", &c->log_show_origin, e)))
				return r;
		} else if (json_key_is(j, k, "module")) {
			continue;
		} else {
			return json_unknown_field(j, k, "logger", e);
		}
	}
	return 0;
}

static int parse_metrics(const struct json *j, int obj, struct vm_config *c, struct json_err *e)
{
	int r;
	if ((r = json_expect_object(j, obj, "metrics", e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (!json_key_is(j, k, "metrics_path"))
			return json_unknown_field(j, k, "metrics", e);
		free(c->metrics_path);
		c->metrics_path = NULL;
		if ((r = json_string(j, v, "metrics_path", &c->metrics_path, e)))
			return r;
	}
	return 0;
}

int config_parse_entropy(const struct json *j, int obj, struct rate_limiter_cfg *rl,
			 struct json_err *e)
{
	struct rate_limiter_cfg tmp = { { 0 }, { 0 } };
	unsigned which;
	int r;
	if ((r = json_expect_object(j, obj, "entropy", e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (!json_key_is(j, k, "rate_limiter"))
			return json_unknown_field(j, k, "entropy", e);
		if ((r = config_parse_rate_limiter(j, v, "rate_limiter", &tmp, &which, e)))
			return r;
	}
	*rl = tmp;
	return 0;
}

/* Top-level keys of devices whose issue has not landed yet. */
static const char *const not_yet[] = {
	"mmds-config",
	"cpu-config",
};

int config_parse_file(const char *text, size_t len, struct vm_config *c, struct json_err *e)
{
	struct json j;
	int r = json_parse(&j, text, len, e);
	if (r)
		return r;
	if ((r = json_expect_object(&j, 0, "the config file", e)))
		goto out;
	for_each_member (&j, 0, k, v) {
		if (json_key_is(&j, k, "boot-source")) {
			r = config_parse_boot(&j, v, &c->boot, e);
		} else if (json_key_is(&j, k, "machine-config")) {
			r = config_parse_machine(&j, v, &c->machine, false, e);
		} else if (json_key_is(&j, k, "drives")) {
			if (j.t[v].type != JSMN_ARRAY) {
				r = json_errf(e, "'drives' must be an array");
				goto out;
			}
			for (int i = 0, d = v + 1; i < j.t[v].size && !r;
			     i++, d = json_next(&j, d)) {
				struct drive_cfg dc = { 0 };
				r = config_parse_drive(&j, d, &dc, e);
				if (!r) {
					for (int x = 0; x < c->nr_drives; x++)
						if (!strcmp(c->drives[x].drive_id, dc.drive_id))
							r = json_errf(e,
								      "drive_id '%s' appears twice",
								      dc.drive_id);
				}
				if (!r)
					r = config_put_drive(c, &dc, e);
				drive_cfg_fini(&dc);
			}
		} else if (json_key_is(&j, k, "logger")) {
			r = json_is_null(&j, v) ? 0 : parse_logger(&j, v, c, e);
		} else if (json_key_is(&j, k, "metrics")) {
			r = json_is_null(&j, v) ? 0 : parse_metrics(&j, v, c, e);
		} else if (json_key_is(&j, k, "entropy")) {
			if (!json_is_null(&j, v)) {
				r = config_parse_entropy(&j, v, &c->entropy_rl, e);
				c->entropy = !r;
			}
		} else if (json_key_is(&j, k, "network-interfaces")) {
			r = config_parse_nets(&j, v, c, e);
		} else if (json_key_is(&j, k, "vsock")) {
			if (!json_is_null(&j, v))
				r = config_parse_vsock(&j, v, &c->vsock, e);
		} else if (json_key_is(&j, k, "balloon")) {
			if (!json_is_null(&j, v))
				r = config_parse_balloon(&j, v, &c->balloon, e);
		} else {
			bool known = false;
			for (size_t x = 0; x < ARRAY_SIZE(not_yet); x++) {
				if (json_key_is(&j, k, not_yet[x])) {
					known = true;
					/* An empty list or null is the same as leaving it out. */
					if (!json_is_null(&j, v) &&
					    !(j.t[v].type == JSMN_ARRAY && j.t[v].size == 0))
						r = json_errf(e, "'%s' is not supported yet by mvm",
							      not_yet[x]);
				}
			}
			if (!known)
				r = json_unknown_field(&j, k, "the config file", e);
		}
		if (r)
			goto out;
	}
	r = config_validate(c, e);
out:
	json_free(&j);
	return r;
}

int config_load_file(const char *path, struct vm_config *c, struct json_err *e)
{
	struct stat st;
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return json_errf(e, "config file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return json_errf(e, "config file %s: not a regular file", path);
	if (st.st_size > CONFIG_FILE_MAX)
		return json_errf(e, "config file %s: larger than %u bytes", path, CONFIG_FILE_MAX);
	cleanup_free char *buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return json_errf(e, "out of memory");
	if (read_full(fd, buf, (size_t)st.st_size, 0))
		return json_errf(e, "config file %s: read failed", path);
	buf[st.st_size] = '\0';
	int r = config_parse_file(buf, (size_t)st.st_size, c, e);
	if (r) {
		char tmp[sizeof(e->msg)];
		snprintf(tmp, sizeof(tmp), "%s", e->msg);
		json_errf(e, "config file %s: %s", path, tmp);
	}
	return r;
}

int config_validate(const struct vm_config *c, struct json_err *e)
{
	if (!c->boot.kernel_image_path)
		return json_errf(e, "no kernel: set boot-source.kernel_image_path");
	int roots = 0;
	for (int i = 0; i < c->nr_drives; i++)
		roots += c->drives[i].is_root_device;
	if (roots > 1)
		return json_errf(e, "more than one drive has is_root_device: true");
	if (config_nr_devices(c) > VIRTIO_MMIO_MAX_DEVS)
		return json_errf(e, "too many devices for the %d virtio-mmio slots",
				 VIRTIO_MMIO_MAX_DEVS);
	if (c->balloon.present && c->balloon.amount_mib > c->machine.mem_size_mib)
		return json_errf(e, "balloon amount_mib %u is larger than the VM's memory (%u MiB)",
				 c->balloon.amount_mib, c->machine.mem_size_mib);
	return 0;
}
