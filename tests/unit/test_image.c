/* monitor/image_job.c and image_ref.c: umoci's config to mvm-init's job
 * words, and image names to skopeo references (tarballs told apart by their
 * members, bad ones refused with a sentence). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../monitor/image.h"

static char *job(const char *cfg, int *rc, struct err *e)
{
	struct strbuf b;
	strbuf_init(&b);
	err_clear(e);
	*rc = image_job_from_config(cfg, strlen(cfg), &b, e);
	return strbuf_steal(&b);
}

Test(image_job, config_becomes_hex_words)
{
	struct err e;
	int rc;
	char *w = job("{\"ociVersion\": \"1.0.0\", \"process\": {\"user\": {\"uid\": 1000, "
		      "\"gid\": 7}, \"args\": [\"/bin/sh\", \"a b\"], \"env\": [\"K=V\"], "
		      "\"cwd\": \"/w\", \"terminal\": true}}",
		      &rc, &e);
	cr_assert_eq(rc, 0, "%s", e.msg);
	cr_assert_str_eq(w, "mvm.user=1000:7\n mvm.arg=2f62696e2f7368\n mvm.arg=612062\n"
			    " mvm.env=4b3d56\n mvm.cwd=2f77\n");
	free(w);
}

Test(image_job, bad_configs_are_refused_with_a_sentence)
{
	static const struct {
		const char *cfg, *want;
	} cases[] = {
		{ "{\"process\": {\"args\": \"/bin/sh\"}}", "process.args must be an array" },
		{ "{\"process\": {\"args\": [1]}}", "must be a string" },
		{ "{\"process\": {\"user\": {\"uid\": -1}}}", "process.user.uid" },
		{ "{\"ociVersion\": \"1\"}", "no process object" },
		{ "{\"process\": ", "config.json" },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct err e;
		int rc;
		free(job(cases[i].cfg, &rc, &e));
		cr_assert_eq(rc, -EINVAL, "case %u: %d %s", i, rc, e.msg);
		cr_assert(strstr(e.msg, cases[i].want), "case %u: '%s'", i, e.msg);
	}
}

/* A tar file holding one empty member called name (or raw bytes). */
static char *tarball(const char *name, const void *raw, size_t rawlen)
{
	static char path[64];
	unsigned char h[1536] = { 0 };
	snprintf(path, sizeof(path), "/tmp/mvm-unit-image-XXXXXX");
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	if (raw) {
		cr_assert_eq(write(fd, raw, rawlen), (ssize_t)rawlen);
	} else {
		unsigned sum = 0;
		strcpy((char *)h, name);
		memcpy(h + 124, "00000000000", 11);
		memcpy(h + 257, "ustar", 5);
		memset(h + 148, ' ', 8);
		for (int i = 0; i < 512; i++)
			sum += h[i];
		snprintf((char *)h + 148, 8, "%06o", sum);
		cr_assert_eq(write(fd, h, sizeof(h)), (ssize_t)sizeof(h));
	}
	close(fd);
	return path;
}

static int ref_of(const char *path, char *ref, struct err *e)
{
	err_clear(e);
	int r = image_ref(path, ref, 4200, e);
	unlink(path);
	return r;
}

Test(image_ref, tarballs_are_told_apart_by_their_members)
{
	char ref[4200], want[4200];
	struct err e;
	char *p = tarball("oci-layout", NULL, 0);
	snprintf(want, sizeof(want), "oci-archive:%s", p);
	cr_assert_eq(ref_of(p, ref, &e), 0, "%s", e.msg);
	cr_assert_str_eq(ref, want);
	p = tarball("./manifest.json", NULL, 0);
	snprintf(want, sizeof(want), "docker-archive:%s", p);
	cr_assert_eq(ref_of(p, ref, &e), 0, "%s", e.msg);
	cr_assert_str_eq(ref, want);
}

Test(image_ref, bad_tarballs_are_refused_with_a_sentence)
{
	char ref[4200];
	struct err e;
	cr_assert_eq(ref_of(tarball("etc/passwd", NULL, 0), ref, &e), -EINVAL);
	cr_assert(strstr(e.msg, "neither an oci-layout"), "%s", e.msg);
	cr_assert_eq(ref_of(tarball(NULL, "\x1f\x8b\x08\0", 4), ref, &e), -EINVAL);
	cr_assert(strstr(e.msg, "gunzip it first"), "%s", e.msg);
	cr_assert_eq(ref_of(tarball(NULL, "garbage", 7), ref, &e), -EINVAL);
	cr_assert(strstr(e.msg, "not a whole tar archive"), "%s", e.msg);
	cr_assert_eq(image_ref("/nonexistent/image.tar", ref, sizeof(ref), &e), -ENOENT);
	cr_assert_eq(image_ref("/etc", ref, sizeof(ref), &e), -EINVAL);
	cr_assert(strstr(e.msg, "without an oci-layout"), "%s", e.msg);
}

Test(image_ref, transports_and_layout_folders)
{
	char ref[4200], dir[] = "/tmp/mvm-unit-layout-XXXXXX", f[64];
	struct err e;
	cr_assert(mkdtemp(dir));
	snprintf(f, sizeof(f), "%s/oci-layout", dir);
	close(open(f, O_CREAT | O_WRONLY, 0644));
	char name[80];
	snprintf(name, sizeof(name), "%s:v1", dir);
	cr_assert_eq(image_ref(name, ref, sizeof(ref), &e), 0, "%s", e.msg);
	cr_assert(!strncmp(ref, "oci:", 4) && !strcmp(ref + 4, name));
	snprintf(name, sizeof(name), "oci-archive:%s:v1", dir);
	cr_assert_eq(image_ref(name, ref, sizeof(ref), &e), -EINVAL, "a folder is no archive");
	unlink(f);
	rmdir(dir);
}
