/*
 * mvm-jailer: cgroup v1 cpusets. A new v1 cpuset cgroup starts with empty
 * cpuset.cpus and cpuset.mems, and an empty cpuset can hold no task. So, top
 * down along <parent>/<id>, each cgroup whose cpus or mems are empty gets its
 * parent's (as Firecracker's jailer does); a --cgroup cpuset.cpus or
 * cpuset.mems value is written afterwards and narrows the jail's own set. An
 * empty cpuset holds nothing and can have no populated child, so filling one
 * of the shared parents gives no process more than its parent already had.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cgroup_parse.h"
#include "jail.h"

static int inherit(struct jail *j, const struct jail_cg_hier *h, const char *dir, const char *file)
{
	char path[PATH_MAX], up[PATH_MAX], parent[PATH_MAX], value[4096];
	int r;

	if (cg_join(path, sizeof(path), dir, file))
		return jail_err(j, -ENAMETOOLONG, "%s/%s/%s: too long", h->mount, dir, file);
	if ((r = jail_cgroup_read(h->root_fd, path, value, sizeof(value))))
		return jail_err(j, r, "reading %s/%s: %s", h->mount, path, strerror(-r));
	if (value[0])
		return 0;
	snprintf(up, sizeof(up), "%s", dir);
	cg_dirname(up);
	if (cg_join(parent, sizeof(parent), up, file))
		return jail_err(j, -ENAMETOOLONG, "%s/%s/%s: too long", h->mount, dir, file);
	if ((r = jail_cgroup_read(h->root_fd, parent, value, sizeof(value))))
		return jail_err(j, r, "reading %s/%s: %s", h->mount, parent, strerror(-r));
	if (!value[0])
		return jail_err(j, -ENOSPC, "%s/%s is empty: no %s to give the jail's cpuset",
				h->mount, parent, file);
	if ((r = jail_cgroup_write(h->root_fd, path, value)))
		return jail_err(j, r, "copying %s's '%s' into %s/%s: %s", parent, value, h->mount,
				path, strerror(-r));
	jail_debug(j, "cgroup %s/%s = %s (from its parent)", h->mount, path, value);
	return 0;
}

int jail_cgroup_v1_cpuset(struct jail *j, const struct jail_cg_hier *h)
{
	const char *p = j->cg_dir;
	char dir[PATH_MAX];
	int r;

	for (size_t n = strcspn(p, "/");; n += 1 + strcspn(p + n + 1, "/")) {
		snprintf(dir, sizeof(dir), "%.*s", (int)n, p);
		if ((r = inherit(j, h, dir, "cpuset.cpus")) ||
		    (r = inherit(j, h, dir, "cpuset.mems")))
			return r;
		if (!p[n])
			return 0;
	}
}
