/*
 * mvm-jailer: which cgroup hierarchies the jail uses, found in
 * /proc/self/mountinfo before anything is created (the 'validate' step).
 *
 * cgroup v2: the one cgroup2 mount; a --cgroup controller must be in its
 * cgroup.controllers. cgroup v1: each --cgroup controller must be bound to a
 * mounted v1 hierarchy; controllers that share a mount ("cpu,cpuacct") share
 * one hierarchy. Without --cgroup-version, the version is 1 where the host
 * has a v1 hierarchy with a controller (Firecracker's default), else 2.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/util.h"
#include "cgroup_parse.h"
#include "jail.h"

#define MAX_MOUNTS 64

static struct cg_mount mounts[MAX_MOUNTS];
static size_t n_mounts;

int jail_cgroup_read(int dirfd, const char *path, char *buf, size_t len)
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

int jail_cgroup_write(int dirfd, const char *path, const char *s)
{
	cleanup_close int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return neg_errno();
	return write_full(fd, s, strlen(s));
}

static int load_mounts(struct jail *j)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	cleanup_free char *line = NULL;
	size_t cap = 0;

	if (!f)
		return jail_errno(j, "/proc/self/mountinfo");
	n_mounts = 0;
	while (getline(&line, &cap, f) > 0 && n_mounts < MAX_MOUNTS) {
		if (cg_parse_mountinfo(line, &mounts[n_mounts]) == 1)
			n_mounts++;
	}
	fclose(f);
	return 0;
}

/* The first mount of this version (and, for v1, binding ctrl; NULL: any controller). */
static const struct cg_mount *find(int version, const char *ctrl)
{
	for (size_t i = 0; i < n_mounts; i++) {
		const struct cg_mount *m = &mounts[i];
		if (m->version != version)
			continue;
		if (version == 2 ||
		    (ctrl ? cg_list_has(m->opts, ctrl, ',') : cg_v1_binds_controller(m->opts)))
			return m;
	}
	return NULL;
}

static int open_hier(struct jail *j, const struct cg_mount *m, const char *ctrl)
{
	struct jail_cg_hier *h;

	for (size_t i = 0; i < j->n_cg; i++) {
		if (!strcmp(j->cg[i].mount, m->path))
			return (int)i;
	}
	if (j->n_cg == JAIL_MAX_CG_HIERS)
		return jail_err(j, -E2BIG, "--cgroup: more than %d cgroup hierarchies",
				JAIL_MAX_CG_HIERS);
	h = &j->cg[j->n_cg];
	snprintf(h->mount, sizeof(h->mount), "%s", m->path);
	snprintf(h->ctrls, sizeof(h->ctrls), "%s", m->opts);
	snprintf(h->first_ctrl, sizeof(h->first_ctrl), "%s", ctrl);
	h->root_fd = open(h->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (h->root_fd < 0)
		return jail_errno(j, "cgroup v%d mount %s", m->version, h->mount);
	return (int)j->n_cg++;
}

int jail_cgroup_find(struct jail *j)
{
	const struct cg_mount *v2;
	int r;

	if ((r = load_mounts(j)))
		return r;
	if (!j->cg_version)
		j->cg_version = find(1, NULL) ? 1 : 2;
	if (j->cg_version == 1)
		return 0; /* the hierarchies come with the --cgroup controllers */
	v2 = find(2, NULL);
	if (!v2) {
		if (!j->n_cgroups)
			return 0; /* --parent-cgroup alone: nothing to join */
		return jail_err(j, -ENOENT,
				"--cgroup-version 2: no cgroup v2 hierarchy is mounted (see "
				"/proc/self/mountinfo)%s",
				find(1, NULL) ? "; this host has cgroup v1: use --cgroup-version 1"
					      : "");
	}
	if ((r = open_hier(j, v2, "")) < 0)
		return r;
	if (faccessat(j->cg[0].root_fd, "cgroup.controllers", F_OK, 0))
		return jail_errno(j, "%s/cgroup.controllers", v2->path);
	return 0;
}

static int check_v2(struct jail *j, struct jail_cgroup_kv *kv)
{
	const struct cg_mount *v1 = find(1, kv->ctrl);
	const char *mnt = j->cg[0].mount;
	char avail[512];

	if (jail_cgroup_read(j->cg[0].root_fd, "cgroup.controllers", avail, sizeof(avail)))
		return jail_errno(j, "%s/cgroup.controllers", mnt);
	kv->hier = 0;
	if (cg_list_has(avail, kv->ctrl, ' '))
		return 0;
	if (v1)
		return jail_err(j, -ENOTSUP,
				"--cgroup %s: the %s controller is bound to the cgroup v1 "
				"hierarchy at %s, not to cgroup v2 at %s (which offers: %s); use "
				"--cgroup-version 1",
				kv->key, kv->ctrl, v1->path, mnt, avail[0] ? avail : "nothing");
	return jail_err(j, -EINVAL,
			"--cgroup %s: no controller '%s' in the cgroup v2 hierarchy at %s "
			"(available: %s)",
			kv->key, kv->ctrl, mnt, avail[0] ? avail : "none");
}

static int check_v1(struct jail *j, struct jail_cgroup_kv *kv)
{
	const struct cg_mount *m = find(1, kv->ctrl), *v2 = find(2, NULL);
	char avail[512] = "";
	int r;

	if (m) {
		if ((r = open_hier(j, m, kv->ctrl)) < 0)
			return r;
		kv->hier = r;
		return 0;
	}
	if (v2) {
		char path[PATH_MAX + 32];
		snprintf(path, sizeof(path), "%s/cgroup.controllers", v2->path);
		if (!jail_cgroup_read(AT_FDCWD, path, avail, sizeof(avail)) &&
		    cg_list_has(avail, kv->ctrl, ' '))
			return jail_err(j, -ENOTSUP,
					"--cgroup %s: the %s controller is in no mounted cgroup "
					"v1 hierarchy, but in cgroup v2 at %s: use "
					"--cgroup-version 2",
					kv->key, kv->ctrl, v2->path);
	}
	return jail_err(j, -EINVAL,
			"--cgroup %s: no mounted cgroup v1 hierarchy has a '%s' controller "
			"(mount one, e.g. mount -t cgroup -o %s none DIR; or use "
			"--cgroup-version 2)",
			kv->key, kv->ctrl, kv->ctrl);
}

/* "<controller>.<file>=<value>", the controller in a hierarchy of the version in use. */
int jail_cgroup_check_key(struct jail *j, struct jail_cgroup_kv *kv)
{
	const char *why = cg_parse_kv(kv->arg, kv);
	int shown = 0;

	while (kv->arg[shown] && !iscntrl((unsigned char)kv->arg[shown]))
		shown++; /* the line stays one line */
	if (why)
		return jail_err(j, -EINVAL, "--cgroup '%.*s%s': %s", shown, kv->arg,
				kv->arg[shown] ? "..." : "", why);
	return j->cg_version == 1 ? check_v1(j, kv) : check_v2(j, kv);
}
