/* The config file: Firecracker's top-level keys, each device type's section
 * parsed by the type itself. */
#include "config_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/json.h"
#include "../lib/util.h"
#include "../virtio/net/mmds/port.h"
#include "../virtio/registry.h"

#define CONFIG_FILE_MAX (1u << 20)

static int parse_logger(const struct json *j, int obj, struct vm_config *c, struct err *e)
{
	int r = 0;
	if ((r = json_expect_object(j, obj, "logger", e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (json_is_null(j, v) &&
		    (json_key_is(j, k, "log_path") || json_key_is(j, k, "level") ||
		     json_key_is(j, k, "module")))
			continue; /* what GET /vm/config says of an unset field */
		if (json_key_is(j, k, "log_path")) {
			free(c->log_path);
			c->log_path = NULL;
			r = json_string(j, v, "log_path", &c->log_path, e);
		} else if (json_key_is(j, k, "level")) {
			free(c->log_level);
			c->log_level = NULL;
			r = json_string(j, v, "level", &c->log_level, e);
		} else if (json_key_is(j, k, "show_level")) {
			r = json_bool(j, v, "show_level", &c->log_show_level, e);
		} else if (json_key_is(j, k, "show_log_origin")) {
			r = json_bool(j, v, "show_log_origin", &c->log_show_origin, e);
		} else if (!json_key_is(j, k, "module")) {
			return json_unknown_field(j, k, "logger", e);
		}
		if (r)
			return r;
	}
	return 0;
}

static int parse_metrics(const struct json *j, int obj, struct vm_config *c, struct err *e)
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

/* One device object of type t: a second one with the same id is an error here
 * (a file says each once), not a replacement as a PUT is. */
static int parse_device(const struct json *j, int obj, const struct device_type *t,
			struct vm_config *c, struct err *e)
{
	void *cfg = calloc(1, t->cfg_size);
	if (!cfg)
		return err_set(e, -ENOMEM, "out of memory");
	int r = t->parse(j, obj, cfg, e);
	if (!r && (t->id ? config_find_device(c, t, t->id(cfg)) : config_find_device(c, t, NULL)))
		r = t->id ? err_inval(e, "%s '%s' appears twice", t->id_field, t->id(cfg))
			  : err_inval(e, "'%s' appears twice", t->key);
	if (r) {
		config_free_device_cfg(t, cfg);
		return r;
	}
	return config_put_device(c, t, cfg, false, e);
}

/* A type's section: an array of objects for a many-device type, an object
 * (or null: none) for a single one. */
static int parse_section(const struct json *j, int v, const struct device_type *t,
			 struct vm_config *c, struct err *e)
{
	int r = 0;
	if (json_is_null(j, v))
		return 0;
	if (!t->id_field)
		return parse_device(j, v, t, c, e);
	if (j->t[v].type != JSMN_ARRAY)
		return err_inval(e, "'%s' must be an array", t->key);
	for (int i = 0, o = v + 1; i < j->t[v].size && !r; i++, o = json_next(j, o))
		r = parse_device(j, o, t, c, e);
	return r;
}

static int read_small_file(const char *path, const char *what, char **out, size_t *len,
			   struct err *e)
{
	struct stat st;
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_inval(e, "%s %s: %s", what, path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return err_inval(e, "%s %s: not a regular file", what, path);
	if (st.st_size > CONFIG_FILE_MAX)
		return err_inval(e, "%s %s: larger than %u bytes", what, path, CONFIG_FILE_MAX);
	cleanup_free char *buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return err_inval(e, "out of memory");
	if (read_full(fd, buf, (size_t)st.st_size, 0))
		return err_inval(e, "%s %s: read failed", what, path);
	buf[st.st_size] = '\0';
	*out = steal_ptr(&buf);
	*len = (size_t)st.st_size;
	return 0;
}

/* "cpu-config": a custom CPU template inline, or the path of its JSON file (Firecracker's). */
static int parse_cpu_config(const struct json *j, int v, struct vm_config *c, struct err *e)
{
	struct cpu_tmpl *t;
	int r;
	if (json_is_null(j, v))
		return 0;
	if (!(t = malloc(sizeof(*t))))
		return err_inval(e, "out of memory");
	if (j->t[v].type == JSMN_STRING) {
		cleanup_free char *path = NULL, *text = NULL;
		size_t len;
		struct json tj;
		if (!(r = json_string(j, v, "cpu-config", &path, e)) &&
		    !(r = read_small_file(path, "cpu-config", &text, &len, e)) &&
		    !(r = json_parse(&tj, text, len, e))) {
			r = cpu_tmpl_parse(&tj, 0, t, e);
			json_free(&tj);
		}
	} else {
		r = cpu_tmpl_parse(j, v, t, e);
	}
	if (r) {
		free(t);
		return r;
	}
	free(c->cpu_config);
	c->cpu_config = t;
	return 0;
}

static int parse_key(const struct json *j, int k, int v, struct vm_config *c, struct err *e)
{
	const struct device_type *t =
	    device_type_by_key(j->s + j->t[k].start, (size_t)(j->t[k].end - j->t[k].start));
	if (t)
		return parse_section(j, v, t, c, e);
	if (json_key_is(j, k, "boot-source"))
		return config_parse_boot(j, v, &c->boot, e);
	if (json_key_is(j, k, "machine-config"))
		return config_parse_machine(j, v, &c->machine, false, e);
	if (json_key_is(j, k, "logger"))
		return json_is_null(j, v) ? 0 : parse_logger(j, v, c, e);
	if (json_key_is(j, k, "metrics"))
		return json_is_null(j, v) ? 0 : parse_metrics(j, v, c, e);
	if (json_key_is(j, k, "cpu-config"))
		return parse_cpu_config(j, v, c, e);
	if (json_key_is(j, k, "mvm-cpu-affinity"))
		return affinity_parse(j, v, &c->affinity, e)
			   ?: affinity_check_host(&c->affinity, e);
	if (json_key_is(j, k, "mmds-config"))
		return json_is_null(j, v) ? 0 : mmds_cfg_parse(j, v, mmds_config(), e);
	return json_unknown_field(j, k, "the config file", e);
}

int config_parse_file(const char *text, size_t len, struct vm_config *c, struct err *e)
{
	struct json j;
	int r = json_parse(&j, text, len, e);
	if (r)
		return r;
	if (!(r = json_expect_object(&j, 0, "the config file", e))) {
		for_each_member (&j, 0, k, v)
			if ((r = parse_key(&j, k, v, c, e)))
				break;
	}
	if (!r && (r = mmds_cfg_check(c, mmds_config(), e)))
		mmds_config()->enabled = false;
	/* A custom template is applied instead of a static one, as in Firecracker. */
	if (!r && c->cpu_config && cpu_template_is_static(c->machine.cpu_template))
		c->machine.cpu_template = CPU_TEMPLATE_AUTO;
	if (!r)
		r = config_validate(c, e);
	json_free(&j);
	return r;
}

int config_load_file(const char *path, struct vm_config *c, struct err *e)
{
	cleanup_free char *buf = NULL;
	size_t len;
	int r = read_small_file(path, "config file", &buf, &len, e);
	if (r)
		return r;
	r = config_parse_file(buf, len, c, e);
	return r ? err_prefix(e, "config file %s", path) : 0;
}

int config_add_device_json(struct vm_config *c, const char *key, const char *text, struct err *e)
{
	const struct device_type *t = device_type_by_key(key, strlen(key));
	struct json j;
	if (!t)
		return err_inval(e, "no device type '%s'", key);
	int r = json_parse(&j, text, strlen(text), e);
	if (r)
		return r;
	r = parse_device(&j, 0, t, c, e);
	json_free(&j);
	return r;
}
