/* The job file that mvm-init reads (/.mvm/job), from umoci's runtime config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/json.h"
#include "image.h"

void image_job_word(struct strbuf *out, const char *key, const char *value)
{
	strbuf_printf(out, " %s=", key);
	for (const unsigned char *p = (const unsigned char *)value; *p; p++)
		strbuf_printf(out, "%02x", *p);
}

/* Each string of array token a as a job word KEY, one a line. */
static int words(const struct json *j, int a, const char *key, const char *field,
		 struct strbuf *out, struct err *e)
{
	if (j->t[a].type != JSMN_ARRAY)
		return err_inval(e, "%s must be an array", field);
	for (int i = 0, t = a + 1; i < j->t[a].size; i++, t = json_next(j, t)) {
		char *s;
		int r = json_string(j, t, field, &s, e);
		if (r)
			return r;
		image_job_word(out, key, s);
		strbuf_printf(out, "\n");
		free(s);
	}
	return 0;
}

static int user(const struct json *j, int u, struct strbuf *out, struct err *e)
{
	uint64_t uid = 0, gid = 0;
	int r = json_expect_object(j, u, "process.user", e);
	for_each_member (j, u, k, v) {
		if (r)
			break;
		if (json_key_is(j, k, "uid"))
			r = json_u64(j, v, "process.user.uid", 0, UINT32_MAX - 1, &uid, e);
		else if (json_key_is(j, k, "gid"))
			r = json_u64(j, v, "process.user.gid", 0, UINT32_MAX - 1, &gid, e);
	}
	if (!r)
		strbuf_printf(out, "mvm.user=%llu:%llu\n", (unsigned long long)uid,
			      (unsigned long long)gid);
	return r;
}

int image_job_from_config(const char *config_json, size_t len, struct strbuf *out, struct err *e)
{
	struct json j;
	int r = json_parse(&j, config_json, len, e);
	if (r)
		return err_prefix(e, "umoci's config.json");
	r = json_expect_object(&j, 0, "config.json", e);
	int proc = -1;
	for_each_member (&j, 0, k, v)
		if (json_key_is(&j, k, "process"))
			proc = v;
	if (!r && (proc < 0 || json_expect_object(&j, proc, "process", e)))
		r = err_inval(e, "config.json has no process object");
	for_each_member (&j, proc < 0 ? 0 : proc, k, v) {
		if (r || proc < 0)
			break;
		if (json_key_is(&j, k, "args"))
			r = words(&j, v, "mvm.arg", "process.args", out, e);
		else if (json_key_is(&j, k, "env"))
			r = words(&j, v, "mvm.env", "process.env", out, e);
		else if (json_key_is(&j, k, "user"))
			r = user(&j, v, out, e);
		else if (json_key_is(&j, k, "cwd")) {
			char *s;
			if (!(r = json_string(&j, v, "process.cwd", &s, e))) {
				image_job_word(out, "mvm.cwd", s);
				strbuf_printf(out, "\n");
				free(s);
			}
		}
	}
	json_free(&j);
	return r;
}
