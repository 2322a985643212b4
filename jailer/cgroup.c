/*
 * mvm-jailer: cgroup v2. The hierarchy is found in /proc/self/mountinfo; the
 * jail's cgroup is <mount>/<parent>/<id>: its controllers are enabled in every
 * ancestor's cgroup.subtree_control, each --cgroup value is written, then the
 * jailer moves itself in (its children, and the monitor, inherit it).
 *
 * Undo moves the jailer back and removes the directories it created. A
 * controller it enabled in an ancestor that existed before stays enabled:
 * other jails may rely on it by then.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/util.h"
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

/* Is word one of the sep-separated items of list? */
static bool in_list(const char *list, const char *word, char sep)
{
	size_t n = strlen(word);
	const char *p = list;

	while (p && *p) {
		if (!strncmp(p, word, n) && (p[n] == sep || p[n] == '\0' || p[n] == '\n'))
			return true;
		p = strchr(p, sep);
		if (p)
			p++;
	}
	return false;
}

/*
 * The mount point of the first mount of type fstype (and, when opt is given,
 * with opt among its super options): 0, or -ENOENT.
 * mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - FSTYPE SOURCE SUPEROPTS
 */
static int find_mount(const char *fstype, const char *opt, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	cleanup_free char *line = NULL;
	size_t cap = 0;
	int r = -ENOENT;

	if (!f)
		return neg_errno();
	while (r && getline(&line, &cap, f) > 0) {
		char *sep = strstr(line, " - "), *save, *mnt = NULL, *type, *super;
		if (!sep)
			continue;
		*sep = '\0';
		strtok_r(line, " ", &save);
		for (int i = 0; i < 4; i++)
			mnt = strtok_r(NULL, " ", &save);
		type = strtok_r(sep + 3, " ", &save);
		strtok_r(NULL, " ", &save);
		super = strtok_r(NULL, " \n", &save);
		if (!mnt || !type || strcmp(type, fstype) || (opt && !in_list(super, opt, ',')))
			continue;
		unescape(mnt);
		if (strlen(mnt) < len) {
			strcpy(out, mnt);
			r = 0;
		}
	}
	fclose(f);
	return r;
}

/* The whole of a small cgroup file (cgroup.controllers, /proc/self/cgroup), NUL-terminated. */
static int read_small(int dirfd, const char *path, char *buf, size_t len)
{
	cleanup_close int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return neg_errno();
	n = read(fd, buf, len - 1);
	if (n < 0)
		return neg_errno();
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int write_str(int dirfd, const char *path, const char *s)
{
	cleanup_close int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return neg_errno();
	return write_full(fd, s, strlen(s));
}

int jail_cgroup_find(struct jail *j)
{
	char v1[PATH_MAX];

	if (find_mount("cgroup2", NULL, j->cg_mount, sizeof(j->cg_mount))) {
		j->cg_mount[0] = '\0';
		if (!j->n_cgroups)
			return 0; /* --parent-cgroup alone: nothing to join */
		if (!find_mount("cgroup", NULL, v1, sizeof(v1)))
			return jail_err(j, -ENOTSUP,
					"this host has cgroup v1 only (%s): cgroup v1 is not "
					"supported, mvm-jailer drives cgroup v2 only",
					v1);
		return jail_err(j, -ENOENT, "no cgroup v2 hierarchy is mounted (see mountinfo)");
	}
	j->cg_root_fd = open(j->cg_mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->cg_root_fd < 0)
		return jail_errno(j, "cgroup v2 mount %s", j->cg_mount);
	if (faccessat(j->cg_root_fd, "cgroup.controllers", F_OK, 0))
		return jail_errno(j, "%s/cgroup.controllers", j->cg_mount);
	return 0;
}

/* "<controller>.<knob>": a lower-case controller; a knob of [A-Za-z0-9_] words and single dots. */
static bool key_ok(const char *k, size_t klen, size_t clen)
{
	if (clen == 0 || clen >= sizeof(((struct jail_cgroup_kv *)0)->ctrl) ||
	    klen >= sizeof(((struct jail_cgroup_kv *)0)->key) || k[clen] != '.' ||
	    clen + 1 == klen || k[klen - 1] == '.')
		return false;
	for (size_t i = clen + 1; i < klen; i++) {
		if (!isalnum((unsigned char)k[i]) && k[i] != '_' &&
		    !(k[i] == '.' && k[i - 1] != '.'))
			return false;
	}
	return true;
}

/* "<controller>.<knob>=<value>", the controller available in the cgroup v2 hierarchy. */
int jail_cgroup_check_key(struct jail *j, struct jail_cgroup_kv *kv)
{
	const char *a = kv->arg, *eq = strchr(a, '=');
	size_t klen = eq ? (size_t)(eq - a) : 0;
	size_t clen = strspn(a, "abcdefghijklmnopqrstuvwxyz_0123456789");
	char avail[512], v1[PATH_MAX];

	if (!eq || !eq[1] || !key_ok(a, klen, clen))
		return jail_err(
		    j, -EINVAL,
		    "--cgroup '%s': use CONTROLLER.KNOB=VALUE, e.g. memory.max=268435456", a);
	memcpy(kv->key, a, klen);
	kv->key[klen] = '\0';
	memcpy(kv->ctrl, a, clen);
	kv->ctrl[clen] = '\0';
	kv->value = eq + 1;

	if (read_small(j->cg_root_fd, "cgroup.controllers", avail, sizeof(avail)))
		return jail_errno(j, "%s/cgroup.controllers", j->cg_mount);
	if (in_list(avail, kv->ctrl, ' '))
		return 0;
	if (!find_mount("cgroup", kv->ctrl, v1, sizeof(v1)))
		return jail_err(j, -ENOTSUP,
				"--cgroup %s: the %s controller is bound to the cgroup v1 "
				"hierarchy at %s; mvm-jailer supports cgroup v2 only (v2 at %s "
				"offers: %s)",
				kv->key, kv->ctrl, v1, j->cg_mount, avail[0] ? avail : "nothing");
	return jail_err(j, -EINVAL,
			"--cgroup %s: no controller '%s' in the cgroup v2 hierarchy at %s "
			"(available: %s)",
			kv->key, kv->ctrl, j->cg_mount, avail[0] ? avail : "none");
}

/* Our cgroup v2 path, relative to the mount ("" for the root): the "0::/..." line. */
static int save_own_cgroup(struct jail *j)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	cleanup_free char *line = NULL;
	size_t cap = 0;
	int r = -ENOENT;

	if (!f)
		return jail_errno(j, "/proc/self/cgroup");
	while (r && getline(&line, &cap, f) > 0) {
		if (strncmp(line, "0::/", 4))
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(j->cg_orig, sizeof(j->cg_orig), "%s", line + 4);
		r = 0;
	}
	fclose(f);
	return r ? jail_err(j, r, "/proc/self/cgroup has no cgroup v2 line") : 0;
}

static int move_self(struct jail *j, const char *dir)
{
	char path[PATH_MAX + 16], pid[16];
	int r;

	snprintf(path, sizeof(path), "%s%scgroup.procs", dir, dir[0] ? "/" : "");
	snprintf(pid, sizeof(pid), "%d", getpid());
	r = write_str(j->cg_root_fd, path, pid);
	if (r == -EBUSY || r == -EOPNOTSUPP)
		return jail_err(j, r,
				"moving into %s/%s: %s (a cgroup with controllers enabled for its "
				"children cannot hold processes: cgroup v2's no-internal-process "
				"rule)",
				j->cg_mount, dir, strerror(-r));
	if (r)
		return jail_err(j, r, "moving into %s/%s: %s", j->cg_mount, dir, strerror(-r));
	return 0;
}

/* Without --cgroup, an existing --parent-cgroup is joined as is (Firecracker does the same). */
static int join_parent(struct jail *j)
{
	int r;

	/* No cgroup v2, or no such cgroup (faccessat fails): nothing to join, as in Firecracker. */
	if (!j->cg_mount[0] || faccessat(j->cg_root_fd, j->parent_cgroup, F_OK, 0)) {
		jail_debug(j, "no cgroup %s to join", j->parent_cgroup);
		return 0;
	}
	if ((r = save_own_cgroup(j)) || (r = move_self(j, j->parent_cgroup)))
		return r;
	j->cg_moved = true;
	return 0;
}

/* mkdir -p <parent>, remembering how many trailing components are ours. */
static int make_parents(struct jail *j)
{
	char path[PATH_MAX];
	const char *p = j->parent_cgroup;

	for (size_t n = strcspn(p, "/");; n += 1 + strcspn(p + n + 1, "/")) {
		snprintf(path, sizeof(path), "%.*s", (int)n, p);
		if (!mkdirat(j->cg_root_fd, path, 0755))
			j->cg_made_parents++;
		else if (errno != EEXIST) /* EEXIST: shared with other jails, not ours */
			return jail_errno(j, "mkdir %s/%s", j->cg_mount, path);
		if (!p[n])
			return 0;
	}
}

/* "+ctrl" into the cgroup.subtree_control of the root and of every parent component. */
static int enable_controller(struct jail *j, const char *ctrl)
{
	char path[PATH_MAX + 32], plus[40];
	const char *p = j->parent_cgroup;
	int r;

	snprintf(plus, sizeof(plus), "+%s", ctrl);
	r = write_str(j->cg_root_fd, "cgroup.subtree_control", plus);
	for (size_t n = strcspn(p, "/"); !r; n += 1 + strcspn(p + n + 1, "/")) {
		snprintf(path, sizeof(path), "%.*s/cgroup.subtree_control", (int)n, p);
		r = write_str(j->cg_root_fd, path, plus);
		if (r || !p[n])
			break;
	}
	if (r == -EBUSY)
		return jail_err(j, r,
				"enabling %s under %s/%s: %s (cgroup v2's no-internal-process "
				"rule: a cgroup holding processes cannot give controllers to its "
				"children; pick another --parent-cgroup)",
				ctrl, j->cg_mount, j->parent_cgroup, strerror(-r));
	if (r)
		return jail_err(j, r, "enabling %s under %s/%s: %s", ctrl, j->cg_mount,
				j->parent_cgroup, strerror(-r));
	return 0;
}

/* rmdir, waiting out EBUSY while the children that failed are still exiting. */
static int rmdir_patiently(int dirfd, const char *path)
{
	const struct timespec tick = { 0, 10 * 1000 * 1000 };
	for (int i = 0; unlinkat(dirfd, path, AT_REMOVEDIR); i++) {
		if (errno != EBUSY || i == 300)
			return neg_errno();
		nanosleep(&tick, NULL);
	}
	return 0;
}

/*
 * <parent>/<id>. One that is there already is refused, unless the jail was
 * stale (claim.c): then it is the dead monitor's, and goes if it is empty.
 * The kernel refuses to remove a cgroup that holds a process (EBUSY), so a
 * live jail's cgroup (another base dir or exec file with this id and parent
 * cgroup) is never removed.
 */
static int make_leaf(struct jail *j)
{
	int r;

	if (!mkdirat(j->cg_root_fd, j->cg_dir, 0755))
		return 0;
	if (errno != EEXIST)
		return jail_errno(j, "mkdir %s/%s", j->cg_mount, j->cg_dir);
	if (!j->stale)
		return jail_err(j, -EEXIST,
				"cgroup %s/%s exists already: an instance with id '%s' ran "
				"before (rmdir it once that monitor has exited)",
				j->cg_mount, j->cg_dir, j->id);
	/* Its processes are exiting: they let the lock go before they leave the cgroup. */
	r = rmdir_patiently(j->cg_root_fd, j->cg_dir);
	if (r == -EBUSY)
		return jail_err(j, r,
				"cgroup %s/%s still holds processes or cgroups, though the jail "
				"of id '%s' is stale: another jail (another base dir or exec "
				"file) uses it; stop that one, or pick another --parent-cgroup",
				j->cg_mount, j->cg_dir, j->id);
	if (r && r != -ENOENT)
		return jail_err(j, r, "reclaiming the stale cgroup %s/%s: %s", j->cg_mount,
				j->cg_dir, strerror(-r));
	jail_debug(j, "removed the stale cgroup %s/%s", j->cg_mount, j->cg_dir);
	if (mkdirat(j->cg_root_fd, j->cg_dir, 0755))
		return jail_errno(j, "mkdir %s/%s", j->cg_mount, j->cg_dir);
	return 0;
}

int jail_cgroup_setup(struct jail *j)
{
	char path[PATH_MAX + 64];
	int r;

	if (!j->n_cgroups)
		return j->parent_cgroup_given ? join_parent(j) : 0;
	if ((r = save_own_cgroup(j)) || (r = make_parents(j)))
		return r;
	snprintf(j->cg_dir, sizeof(j->cg_dir), "%s/%s", j->parent_cgroup, j->id);
	if ((r = make_leaf(j)))
		return r;
	j->cg_made_leaf = true;

	for (size_t i = 0; i < j->n_cgroups; i++) {
		bool seen = false;
		for (size_t k = 0; k < i; k++)
			seen |= !strcmp(j->cgroups[k].ctrl, j->cgroups[i].ctrl);
		if (!seen && (r = enable_controller(j, j->cgroups[i].ctrl)))
			return r;
	}
	for (size_t i = 0; i < j->n_cgroups; i++) {
		struct jail_cgroup_kv *kv = &j->cgroups[i];
		snprintf(path, sizeof(path), "%s/%s", j->cg_dir, kv->key);
		if (faccessat(j->cg_root_fd, path, F_OK, 0))
			return jail_err(j, -ENOENT,
					"--cgroup %s: no file %s/%s: the %s controller has no "
					"such knob",
					kv->key, j->cg_mount, path, kv->ctrl);
		r = write_str(j->cg_root_fd, path, kv->value);
		if (r)
			return jail_err(j, r, "--cgroup %s: writing '%s' to %s/%s: %s", kv->key,
					kv->value, j->cg_mount, path, strerror(-r));
		jail_debug(j, "cgroup %s/%s = %s", j->cg_mount, path, kv->value);
	}
	if ((r = move_self(j, j->cg_dir)))
		return r;
	j->cg_moved = true;
	return 0;
}

void jail_cgroup_undo(struct jail *j)
{
	char path[PATH_MAX];
	int r;

	if (j->cg_moved && move_self(j, j->cg_orig))
		fprintf(stderr, "mvm-jailer: cleanup: %s\n", j->why);
	if (j->cg_made_leaf && (r = rmdir_patiently(j->cg_root_fd, j->cg_dir)))
		fprintf(stderr, "mvm-jailer: cleanup: rmdir %s/%s: %s\n", j->cg_mount, j->cg_dir,
			strerror(-r));
	snprintf(path, sizeof(path), "%s", j->parent_cgroup);
	for (int i = 0; i < j->cg_made_parents; i++) {
		/* EBUSY, ENOTEMPTY: another jail has made its cgroup there meanwhile. */
		if (unlinkat(j->cg_root_fd, path, AT_REMOVEDIR) && errno != EBUSY &&
		    errno != ENOTEMPTY)
			fprintf(stderr, "mvm-jailer: cleanup: rmdir %s/%s: %s\n", j->cg_mount, path,
				strerror(errno));
		char *slash = strrchr(path, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
}
