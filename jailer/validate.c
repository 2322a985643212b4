/*
 * mvm-jailer: the 'validate' step. Every input is checked, and every file the
 * later steps need is opened, before anything is created: a bad command line
 * leaves nothing behind.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "../lib/util.h"
#include "jail.h"

static int check_id(struct jail *j)
{
	size_t n = strlen(j->id);

	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)j->id[i]) && j->id[i] != '-')
			n = 0;
	}
	if (n == 0 || n > JAIL_ID_MAX)
		return jail_err(j, -EINVAL, "--id '%s': use 1 to %d letters, digits or '-'", j->id,
				JAIL_ID_MAX);
	return 0;
}

/* A uid or gid: decimal, not root, not -1 (which setresuid reads as "unchanged"). */
static int parse_ugid(struct jail *j, const char *flag, const char *s, uint32_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!isdigit((unsigned char)s[0]) || *end || errno || v >= UINT32_MAX)
		return jail_err(j, -EINVAL, "%s '%s': not a number between 1 and %u", flag, s,
				UINT32_MAX - 1);
	if (v == 0)
		return jail_err(
		    j, -EPERM, "%s 0: refusing to run the monitor as root; give an unprivileged id",
		    flag);
	*out = (uint32_t)v;
	return 0;
}

static int check_exec_file(struct jail *j)
{
	struct stat st;

	if (!realpath(j->exec_file, j->exec_path))
		return jail_errno(j, "--exec-file %s", j->exec_file);
	j->exec_fd = open(j->exec_path, O_RDONLY | O_CLOEXEC);
	if (j->exec_fd < 0 || fstat(j->exec_fd, &st))
		return jail_errno(j, "--exec-file %s", j->exec_path);
	if (!S_ISREG(st.st_mode))
		return jail_err(j, -EINVAL, "--exec-file %s: not a regular file", j->exec_path);
	if (!(st.st_mode & 0111))
		return jail_err(j, -EACCES, "--exec-file %s: not executable", j->exec_path);
	j->exec_name = strrchr(j->exec_path, '/') + 1;
	return 0;
}

/* Does path p have a "." or ".." component? */
static bool has_dot_component(const char *p)
{
	while (*p) {
		size_t n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return true;
		p += n;
		p += strspn(p, "/");
	}
	return false;
}

static int check_base_dir(struct jail *j)
{
	const char *b = j->base_dir;
	size_t n = strlen(b);
	struct stat st;
	int len;

	if (b[0] != '/')
		return jail_err(j, -EINVAL, "--chroot-base-dir '%s': must be an absolute path", b);
	if (has_dot_component(b))
		return jail_err(j, -EINVAL, "--chroot-base-dir '%s': no '.' or '..' components", b);
	if (stat(b, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return jail_err(j, -ENOTDIR, "--chroot-base-dir %s: not a directory", b);
	} else if (errno != ENOENT) { /* ENOENT: the chroot_dir step makes it */
		return jail_errno(j, "--chroot-base-dir %s", b);
	}
	while (n > 1 && b[n - 1] == '/')
		n--;
	len = snprintf(j->jail_dir, sizeof(j->jail_dir), "%.*s/%s/%s", n == 1 ? 0 : (int)n, b,
		       j->exec_name, j->id);
	if (len < 0 || (size_t)len >= sizeof(j->jail_dir) ||
	    (size_t)snprintf(j->root_dir, sizeof(j->root_dir), "%s/root", j->jail_dir) >=
		sizeof(j->root_dir))
		return jail_err(j, -ENAMETOOLONG, "--chroot-base-dir %s: path too long", b);
	return 0; /* what is there already is looked at under the claim (claim.c) */
}

static int check_netns(struct jail *j)
{
	struct statfs sfs;
	int type;

	if (!j->netns)
		return 0;
	j->netns_fd = open(j->netns, O_RDONLY | O_CLOEXEC);
	if (j->netns_fd < 0 || fstatfs(j->netns_fd, &sfs))
		return jail_errno(j, "--netns %s", j->netns);
	if (sfs.f_type != NSFS_MAGIC)
		return jail_err(j, -EINVAL,
				"--netns %s: not a namespace file (want e.g. /var/run/netns/NAME "
				"from 'ip netns add', or /proc/PID/ns/net)",
				j->netns);
	type = ioctl(j->netns_fd, NS_GET_NSTYPE);
	/* ENOTTY: a kernel before 4.11 cannot say; setns(CLONE_NEWNET) checks the type. */
	if (type < 0 && errno != ENOTTY)
		return jail_errno(j, "--netns %s: NS_GET_NSTYPE", j->netns);
	if (type >= 0 && type != CLONE_NEWNET)
		return jail_err(j, -EINVAL, "--netns %s: a namespace, but not a network namespace",
				j->netns);
	return 0;
}

static int check_rlimits(struct jail *j)
{
	for (size_t i = 0; i < j->n_rlimit_args; i++) {
		const char *a = j->rlimit_args[i], *eq = strchr(a, '=');
		unsigned long long v;
		char *end;

		errno = 0;
		v = eq ? strtoull(eq + 1, &end, 10) : 0;
		if (!eq || !isdigit((unsigned char)eq[1]) || *end || errno)
			return jail_err(j, -EINVAL,
					"--resource-limit '%s': use no-file=N or fsize=N (N a "
					"decimal number)",
					a);
		if ((size_t)(eq - a) == strlen("no-file") && !strncmp(a, "no-file", 7)) {
			j->nofile = v;
		} else if ((size_t)(eq - a) == strlen("fsize") && !strncmp(a, "fsize", 5)) {
			j->fsize = v;
			j->have_fsize = true;
		} else {
			return jail_err(j, -EINVAL,
					"--resource-limit '%s': unknown resource; use no-file or "
					"fsize",
					a);
		}
	}
	return 0;
}

/* A relative path of plain names: no leading '/', no empty, '.' or '..' component. */
static bool plain_relative(const char *p)
{
	size_t n = strlen(p);
	return n && p[0] != '/' && p[n - 1] != '/' && !strstr(p, "//") && !has_dot_component(p);
}

static int check_cgroups(struct jail *j)
{
	int r;

	if (j->cgroup_version) {
		if (strcmp(j->cgroup_version, "1") && strcmp(j->cgroup_version, "2"))
			return jail_err(j, -EINVAL, "--cgroup-version '%s': use 1 or 2",
					j->cgroup_version);
		j->cg_version = j->cgroup_version[0] - '0';
	}
	if (!j->parent_cgroup)
		j->parent_cgroup = j->exec_name;
	if (!plain_relative(j->parent_cgroup) || strlen(j->parent_cgroup) > PATH_MAX / 2)
		return jail_err(j, -EINVAL,
				"--parent-cgroup '%s': use a relative path of plain names (no "
				"leading '/', no '.' or '..')",
				j->parent_cgroup);
	if (!j->n_cgroups && !j->parent_cgroup_given)
		return 0;
	r = jail_cgroup_find(j);
	for (size_t i = 0; !r && i < j->n_cgroups; i++)
		r = jail_cgroup_check_key(j, &j->cgroups[i]);
	return r;
}

/* /dev/userfaultfd is a misc device with a dynamic minor: /proc/misc names it. */
static void find_uffd_minor(struct jail *j)
{
	FILE *f = fopen("/proc/misc", "re");
	char name[64];
	int minor;

	if (!f)
		return; /* no /proc/misc: no misc devices to offer */
	while (fscanf(f, "%d %63s", &minor, name) == 2) {
		if (!strcmp(name, "userfaultfd"))
			j->uffd_minor = minor;
	}
	fclose(f);
}

int jail_validate(struct jail *j)
{
	int r;

	if ((r = check_id(j)) || (r = parse_ugid(j, "--uid", j->uid_arg, &j->uid)) ||
	    (r = parse_ugid(j, "--gid", j->gid_arg, &j->gid)) || (r = check_exec_file(j)) ||
	    (r = check_base_dir(j)) || (r = check_netns(j)) || (r = check_rlimits(j)) ||
	    (r = check_cgroups(j)))
		return r;
	find_uffd_minor(j);
	if (j->daemonize) {
		/* Opened now: the jail has no /dev/null. */
		j->devnull_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (j->devnull_fd < 0)
			return jail_errno(j, "/dev/null");
	}
	jail_debug(j,
		   "jail %s, exec %s as /%s, uid %u gid %u, cgroup v%d (%zu hierarchies), "
		   "userfaultfd minor %d",
		   j->root_dir, j->exec_path, j->exec_name, j->uid, j->gid, j->cg_version, j->n_cg,
		   j->uffd_minor);
	return 0;
}
