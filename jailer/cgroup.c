/*
 * mvm-jailer: the 'cgroup' step. The jail's cgroup is <mount>/<parent>/<id>
 * in each hierarchy the --cgroup values use (cgroup_find.c): the one cgroup v2
 * hierarchy, or one cgroup v1 hierarchy per controller mount. v2: the
 * controllers are enabled in every ancestor's cgroup.subtree_control. v1: an
 * empty cpuset gets the cpus and mems of its parent (cgroup_cpuset.c). Then
 * each value is written and the jailer moves itself in (v2 cgroup.procs, v1
 * tasks); its children, and the monitor, inherit that.
 *
 * Undo moves the jailer back and removes the directories it created. A
 * controller it enabled in an ancestor that existed before stays enabled:
 * other jails may rely on it by then.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/util.h"
#include "cgroup_parse.h"
#include "jail.h"

/* Our cgroup in h before the move, from /proc/self/cgroup. */
static int save_own_cgroup(struct jail *j, struct jail_cg_hier *h)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	cleanup_free char *line = NULL;
	size_t cap = 0;
	int r = 0;

	if (!f)
		return jail_errno(j, "/proc/self/cgroup");
	while (r == 0 && getline(&line, &cap, f) > 0)
		r = cg_own_cgroup(line, h->first_ctrl, h->orig, sizeof(h->orig));
	fclose(f);
	if (r == 1)
		return 0;
	return jail_err(j, -ENOENT, "/proc/self/cgroup has no line for the cgroup %s at %s",
			h->first_ctrl[0] ? "v1 hierarchy" : "v2 hierarchy", h->mount);
}

static int move_self(struct jail *j, const struct jail_cg_hier *h, const char *dir)
{
	const char *file = j->cg_version == 1 ? "tasks" : "cgroup.procs";
	char path[PATH_MAX + 16], pid[16];
	int r = cg_join(path, sizeof(path), dir, file);

	snprintf(pid, sizeof(pid), "%d", getpid());
	if (!r)
		r = jail_cgroup_write(h->root_fd, path, pid);
	if ((r == -EBUSY || r == -EOPNOTSUPP) && j->cg_version == 2)
		return jail_err(j, r,
				"moving into %s/%s: %s (a cgroup with controllers enabled for its "
				"children cannot hold processes: cgroup v2's no-internal-process "
				"rule)",
				h->mount, dir, strerror(-r));
	if (r == -ENOSPC)
		return jail_err(j, r,
				"moving into %s/%s: %s (a cgroup v1 cpuset holds no task until its "
				"cpuset.cpus and cpuset.mems are set)",
				h->mount, dir, strerror(-r));
	if (r)
		return jail_err(j, r, "moving into %s/%s: %s", h->mount, dir, strerror(-r));
	return 0;
}

/* Without --cgroup, an existing --parent-cgroup is joined as is (cgroup v2, as Firecracker). */
static int join_parent(struct jail *j)
{
	struct jail_cg_hier *h = &j->cg[0];
	int r;

	/* No cgroup v2, or no such cgroup (faccessat fails): nothing to join, as in Firecracker. */
	if (j->cg_version != 2 || !j->n_cg || faccessat(h->root_fd, j->parent_cgroup, F_OK, 0)) {
		jail_debug(j, "no cgroup %s to join", j->parent_cgroup);
		return 0;
	}
	if ((r = save_own_cgroup(j, h)) || (r = move_self(j, h, j->parent_cgroup)))
		return r;
	h->moved = true;
	return 0;
}

/* mkdir -p <parent>, remembering how many trailing components are ours. */
static int make_parents(struct jail *j, struct jail_cg_hier *h)
{
	char path[PATH_MAX];
	const char *p = j->parent_cgroup;

	for (size_t n = strcspn(p, "/");; n += 1 + strcspn(p + n + 1, "/")) {
		snprintf(path, sizeof(path), "%.*s", (int)n, p);
		if (!mkdirat(h->root_fd, path, 0755))
			h->made_parents++;
		else if (errno != EEXIST) /* EEXIST: shared with other jails, not ours */
			return jail_errno(j, "mkdir %s/%s", h->mount, path);
		if (!p[n])
			return 0;
	}
}

/* v2: "+ctrl" into the cgroup.subtree_control of the root and of every parent component. */
static int enable_controller(struct jail *j, const char *ctrl)
{
	const struct jail_cg_hier *h = &j->cg[0];
	char path[PATH_MAX + 32], plus[40];
	const char *p = j->parent_cgroup;
	int r;

	snprintf(plus, sizeof(plus), "+%s", ctrl);
	r = jail_cgroup_write(h->root_fd, "cgroup.subtree_control", plus);
	for (size_t n = strcspn(p, "/"); !r; n += 1 + strcspn(p + n + 1, "/")) {
		snprintf(path, sizeof(path), "%.*s/cgroup.subtree_control", (int)n, p);
		r = jail_cgroup_write(h->root_fd, path, plus);
		if (r || !p[n])
			break;
	}
	if (r == -EBUSY)
		return jail_err(j, r,
				"enabling %s under %s/%s: %s (cgroup v2's no-internal-process "
				"rule: a cgroup holding processes cannot give controllers to its "
				"children; pick another --parent-cgroup)",
				ctrl, h->mount, j->parent_cgroup, strerror(-r));
	if (r)
		return jail_err(j, r, "enabling %s under %s/%s: %s", ctrl, h->mount,
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
static int make_leaf(struct jail *j, struct jail_cg_hier *h)
{
	int r;

	if (!mkdirat(h->root_fd, j->cg_dir, 0755))
		return 0;
	if (errno != EEXIST)
		return jail_errno(j, "mkdir %s/%s", h->mount, j->cg_dir);
	if (!j->stale)
		return jail_err(j, -EEXIST,
				"cgroup %s/%s exists already: an instance with id '%s' ran "
				"before (rmdir it once that monitor has exited)",
				h->mount, j->cg_dir, j->id);
	/* Its processes are exiting: they let the lock go before they leave the cgroup. */
	r = rmdir_patiently(h->root_fd, j->cg_dir);
	if (r == -EBUSY)
		return jail_err(j, r,
				"cgroup %s/%s still holds processes or cgroups, though the jail "
				"of id '%s' is stale: another jail (another base dir or exec "
				"file) uses it; stop that one, or pick another --parent-cgroup",
				h->mount, j->cg_dir, j->id);
	if (r && r != -ENOENT)
		return jail_err(j, r, "reclaiming the stale cgroup %s/%s: %s", h->mount, j->cg_dir,
				strerror(-r));
	jail_debug(j, "removed the stale cgroup %s/%s", h->mount, j->cg_dir);
	if (mkdirat(h->root_fd, j->cg_dir, 0755))
		return jail_errno(j, "mkdir %s/%s", h->mount, j->cg_dir);
	return 0;
}

/* v2: each controller once, in the order given. */
static int enable_controllers(struct jail *j)
{
	int r;

	for (size_t i = 0; i < j->n_cgroups; i++) {
		bool seen = false;
		for (size_t k = 0; k < i; k++)
			seen |= !strcmp(j->cgroups[k].ctrl, j->cgroups[i].ctrl);
		if (!seen && (r = enable_controller(j, j->cgroups[i].ctrl)))
			return r;
	}
	return 0;
}

static int write_value(struct jail *j, const struct jail_cgroup_kv *kv)
{
	const struct jail_cg_hier *h = &j->cg[kv->hier];
	char path[PATH_MAX + 64];
	int r;

	snprintf(path, sizeof(path), "%s/%s", j->cg_dir, kv->key);
	if (faccessat(h->root_fd, path, F_OK, 0))
		return jail_err(j, -ENOENT,
				"--cgroup %s: no file %s/%s: the %s controller has no such file "
				"in cgroup v%d",
				kv->key, h->mount, path, kv->ctrl, j->cg_version);
	r = jail_cgroup_write(h->root_fd, path, kv->value);
	if (r)
		return jail_err(j, r, "--cgroup %s: writing '%s' to %s/%s: %s", kv->key, kv->value,
				h->mount, path, strerror(-r));
	jail_debug(j, "cgroup %s/%s = %s", h->mount, path, kv->value);
	return 0;
}

int jail_cgroup_setup(struct jail *j)
{
	int r;

	if (!j->n_cgroups)
		return j->parent_cgroup_given ? join_parent(j) : 0;
	if (cg_join(j->cg_dir, sizeof(j->cg_dir), j->parent_cgroup, j->id))
		return jail_err(j, -ENAMETOOLONG, "--parent-cgroup %s: too long", j->parent_cgroup);
	for (size_t i = 0; i < j->n_cg; i++) {
		struct jail_cg_hier *h = &j->cg[i];
		if ((r = save_own_cgroup(j, h)) || (r = make_parents(j, h)) ||
		    (r = make_leaf(j, h)))
			return r;
		h->made_leaf = true;
		if (j->cg_version == 1 && cg_list_has(h->ctrls, "cpuset", ',') &&
		    (r = jail_cgroup_v1_cpuset(j, h)))
			return r;
	}
	if (j->cg_version == 2 && (r = enable_controllers(j)))
		return r;
	for (size_t i = 0; i < j->n_cgroups; i++) {
		if ((r = write_value(j, &j->cgroups[i])))
			return r;
	}
	for (size_t i = 0; i < j->n_cg; i++) {
		if ((r = move_self(j, &j->cg[i], j->cg_dir)))
			return r;
		j->cg[i].moved = true;
	}
	return 0;
}

bool jail_cgroup_made(const struct jail *j, char *list, size_t len)
{
	size_t n = 0;

	list[0] = '\0';
	for (size_t i = 0; i < j->n_cg && n < len; i++) {
		if (j->cg[i].made_leaf)
			n += (size_t)snprintf(list + n, len - n, "%s%s/%s", n ? ", " : "",
					      j->cg[i].mount, j->cg_dir);
	}
	return n > 0;
}

static void undo_hier(struct jail *j, struct jail_cg_hier *h)
{
	char path[PATH_MAX];
	int r;

	if (h->moved && move_self(j, h, h->orig))
		fprintf(stderr, "mvm-jailer: cleanup: %s\n", j->why);
	if (h->made_leaf && (r = rmdir_patiently(h->root_fd, j->cg_dir)))
		fprintf(stderr, "mvm-jailer: cleanup: rmdir %s/%s: %s\n", h->mount, j->cg_dir,
			strerror(-r));
	snprintf(path, sizeof(path), "%s", j->parent_cgroup);
	for (int i = 0; i < h->made_parents && path[0]; i++) {
		/* EBUSY, ENOTEMPTY: another jail has made its cgroup there meanwhile. */
		if (unlinkat(h->root_fd, path, AT_REMOVEDIR) && errno != EBUSY &&
		    errno != ENOTEMPTY)
			fprintf(stderr, "mvm-jailer: cleanup: rmdir %s/%s: %s\n", h->mount, path,
				strerror(errno));
		cg_dirname(path);
	}
}

void jail_cgroup_undo(struct jail *j)
{
	for (size_t i = j->n_cg; i-- > 0;)
		undo_hier(j, &j->cg[i]);
}
