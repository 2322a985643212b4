/* mvm-jailer: the pure parts of the cgroup step; see cgroup_parse.h. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cgroup_parse.h"
#include "jail.h"

/* Undo mountinfo's octal escapes ("\040" for a space) in place. */
static void unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/*
 * mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - FSTYPE SOURCE SUPEROPTS
 */
int cg_parse_mountinfo(const char *line, struct cg_mount *m)
{
	char buf[PATH_MAX * 2 + 1024], *sep, *save, *mnt = NULL, *type, *super;

	if (strlen(line) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, line);
	sep = strstr(buf, " - ");
	if (!sep)
		return -EINVAL;
	*sep = '\0';
	if (!strtok_r(buf, " ", &save))
		return -EINVAL;
	for (int i = 0; i < 4; i++)
		mnt = strtok_r(NULL, " ", &save);
	type = strtok_r(sep + 3, " \n", &save);
	if (!mnt || !type || !strtok_r(NULL, " \n", &save))
		return -EINVAL;
	super = strtok_r(NULL, " \n", &save);
	if (strcmp(type, "cgroup") && strcmp(type, "cgroup2"))
		return 0;
	unescape(mnt);
	if (strlen(mnt) >= sizeof(m->path) || (super && strlen(super) >= sizeof(m->opts)))
		return -EINVAL;
	m->version = type[6] == '2' ? 2 : 1;
	strcpy(m->path, mnt);
	snprintf(m->opts, sizeof(m->opts), "%s", super ? super : "");
	return 1;
}

bool cg_list_has(const char *list, const char *word, char sep)
{
	size_t n = strlen(word);
	const char *p = list;

	while (n && p && *p) {
		if (!strncmp(p, word, n) && (p[n] == sep || p[n] == '\0' || p[n] == '\n'))
			return true;
		p = strchr(p, sep);
		if (p)
			p++;
	}
	return false;
}

/* Is word one of the ','-separated items of the n bytes at list? */
static bool cg_list_has_n(const char *list, size_t n, const char *word)
{
	char buf[512];

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, list, n);
	buf[n] = '\0';
	return cg_list_has(buf, word, ',');
}

/* cgroup v1 mount options that are not controllers. */
static bool v1_plain_option(const char *o, size_t n)
{
	static const char *const plain[] = {
		"rw",		"ro",  "xattr", "noprefix", "clone_children", "cpuset_v2_mode",
		"favordynmods", "all", "none"
	};

	if ((n > 5 && !strncmp(o, "name=", 5)) || (n > 14 && !strncmp(o, "release_agent=", 14)))
		return true;
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		if (strlen(plain[i]) == n && !strncmp(o, plain[i], n))
			return true;
	}
	return false;
}

bool cg_v1_binds_controller(const char *opts)
{
	for (const char *p = opts; *p;) {
		size_t n = strcspn(p, ",\n");
		if (n && !v1_plain_option(p, n))
			return true;
		p += n;
		if (*p)
			p++;
	}
	return false;
}

/* "<controller>.<file>": a lower-case controller; a file of [A-Za-z0-9_] words and single dots. */
static bool key_ok(const char *k, size_t klen, size_t clen, const struct jail_cgroup_kv *kv)
{
	if (clen == 0 || clen >= sizeof(kv->ctrl) || klen >= sizeof(kv->key) || k[clen] != '.' ||
	    clen + 1 == klen || k[klen - 1] == '.')
		return false;
	for (size_t i = clen + 1; i < klen; i++) {
		if (!isalnum((unsigned char)k[i]) && k[i] != '_' &&
		    !(k[i] == '.' && k[i - 1] != '.'))
			return false;
	}
	return true;
}

const char *cg_parse_kv(const char *arg, struct jail_cgroup_kv *kv)
{
	const char *eq = strchr(arg, '=');
	size_t klen = eq ? (size_t)(eq - arg) : 0;
	size_t clen = strspn(arg, "abcdefghijklmnopqrstuvwxyz_0123456789");

	if (!eq || !key_ok(arg, klen, clen, kv))
		return "use CONTROLLER.FILE=VALUE, e.g. cpuset.cpus=0-3 or memory.max=268435456 "
		       "(a file name of letters, digits, '_' and single dots)";
	if (!eq[1])
		return "the value is empty";
	for (const char *v = eq + 1; *v; v++) {
		if (iscntrl((unsigned char)*v))
			return "the value holds a control character (a newline?)";
	}
	if (strlen(eq + 1) >= 4096)
		return "the value is longer than 4095 bytes";
	memcpy(kv->key, arg, klen);
	kv->key[klen] = '\0';
	memcpy(kv->ctrl, arg, clen);
	kv->ctrl[clen] = '\0';
	kv->value = eq + 1;
	return NULL;
}

int cg_own_cgroup(const char *line, const char *ctrl, char *out, size_t len)
{
	const char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	size_t n;

	if (!c1 || !c2 || c2[1] != '/')
		return -EINVAL;
	if (ctrl[0] ? !cg_list_has_n(c1 + 1, (size_t)(c2 - c1 - 1), ctrl)
		    : (c2 != c1 + 1 || strncmp(line, "0:", 2)))
		return 0;
	n = strcspn(c2 + 2, "\n");
	if (n >= len)
		return -EINVAL;
	memcpy(out, c2 + 2, n);
	out[n] = '\0';
	return 1;
}

int cg_join(char *out, size_t len, const char *a, const char *b)
{
	int n = snprintf(out, len, "%s%s%s", a, a[0] && b[0] ? "/" : "", b);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

void cg_dirname(char *path)
{
	char *slash = strrchr(path, '/');
	if (slash)
		*slash = '\0';
	else
		path[0] = '\0';
}
