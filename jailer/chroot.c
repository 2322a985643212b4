/*
 * mvm-jailer: the jail's directory and its root. <base>/<exec>/<id>/root is
 * created (0700, root owned by the jailed uid:gid), the exec file is copied
 * in, then the jailer enters a mount namespace of its own and pivots into it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../lib/util.h"
#include "jail.h"

/* mkdir -p base_dir (0700), remembering the components that are ours. */
static int make_base(struct jail *j)
{
	const char *b = j->base_dir;
	char path[PATH_MAX];

	for (size_t n = 1 + strcspn(b + 1, "/");; n += 1 + strcspn(b + n + 1, "/")) {
		if (n >= sizeof(path))
			return jail_err(j, -ENAMETOOLONG, "%s: path too long", b);
		snprintf(path, sizeof(path), "%.*s", (int)n, b);
		if (!mkdir(path, 0700)) {
			if (j->n_made_base == JAIL_MAX_BASE_DEPTH)
				return jail_err(j, -ENAMETOOLONG, "%s: too deep", b);
			j->made_base[j->n_made_base++] = n;
		} else if (errno != EEXIST) { /* EEXIST: there already, not ours to remove */
			return jail_errno(j, "mkdir %s", path);
		}
		if (!b[n] || !b[n + strspn(b + n, "/")])
			return 0;
	}
}

/* mkdirat(dirfd, name, 0700), then open it; *made says whether it is new. */
static int make_dir_at(struct jail *j, int dirfd, const char *name, bool *made, int *fd)
{
	*made = !mkdirat(dirfd, name, 0700);
	/* EEXIST: shared (<exec>), or root/ prepared by the operator (the claim looked at it). */
	if (!*made && errno != EEXIST)
		return jail_errno(j, "mkdir %s/%s", j->jail_dir, name);
	*fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0)
		return jail_errno(j, "open %s/%s", j->jail_dir, name);
	return 0;
}

int jail_make_root(struct jail *j)
{
	cleanup_close int base_fd = -1;
	int r;

	if ((r = make_base(j)))
		return r;
	base_fd = open(j->base_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (base_fd < 0)
		return jail_errno(j, "open %s", j->base_dir);
	if ((r = make_dir_at(j, base_fd, j->exec_name, &j->made_exec_dir, &j->exec_dir_fd)) ||
	    (r = jail_claim(j)) ||
	    (r = make_dir_at(j, j->id_fd, "root", &j->made_root_dir, &j->root_fd)))
		return r;
	/* Under the claim only a jailer that takes none (an older one) can get here. */
	if (!j->made_root_dir && !j->root_exists)
		return jail_err(j, -EEXIST,
				"%s appeared meanwhile: is another jailer using id '%s'?",
				j->root_dir, j->id);
	if (fstat(j->root_fd, &j->root_orig))
		return jail_errno(j, "stat %s", j->root_dir);
	/* The monitor owns its root: it makes its API socket there. */
	j->root_chowned = true;
	if (fchown(j->root_fd, j->uid, j->gid) || fchmod(j->root_fd, 0700))
		return jail_errno(j, "chown %u:%u %s", j->uid, j->gid, j->root_dir);
	return 0;
}

static int copy_fd(int in, int out)
{
	char buf[64 * 1024];
	loff_t off = 0;
	ssize_t n;

	while ((n = copy_file_range(in, &off, out, NULL, 1 << 30, 0)) > 0)
		;
	if (n == 0)
		return 0;
	/* EXDEV, EINVAL, ENOSYS, EOPNOTSUPP: no in-kernel copy here; copy by hand. */
	while ((n = pread(in, buf, sizeof(buf), off)) > 0) {
		int r = write_full(out, buf, (size_t)n);
		if (r)
			return r;
		off += n;
	}
	return n < 0 ? neg_errno() : 0;
}

/*
 * A copy, not a link: no two monitors share the pages of their text. Owned by
 * root, 0755: the monitor can run it but not change it.
 */
int jail_copy_exec(struct jail *j)
{
	cleanup_close int out = -1;
	int r;

	out = openat(j->root_fd, j->exec_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		     0700);
	if (out < 0)
		return jail_errno(j, "create %s/%s", j->root_dir, j->exec_name);
	j->made_exec_copy = true;
	r = copy_fd(j->exec_fd, out);
	if (r)
		return jail_err(j, r, "copy %s to %s/%s: %s", j->exec_path, j->root_dir,
				j->exec_name, strerror(-r));
	if (fchmod(out, 0755))
		return jail_errno(j, "chmod %s/%s", j->root_dir, j->exec_name);
	return 0;
}

int jail_mount_ns(struct jail *j)
{
	/* Kept to come back if a later step fails (jail_fs_undo). */
	j->host_mnt_fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (j->host_mnt_fd < 0)
		return jail_errno(j, "open /proc/self/ns/mnt");
	if (unshare(CLONE_NEWNS))
		return jail_errno(j, "unshare(CLONE_NEWNS)");
	j->in_mount_ns = true;
	/* Nothing mounted from here on reaches the host; the host's mounts still reach us. */
	if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL))
		return jail_errno(j, "mount / MS_SLAVE|MS_REC");
	return 0;
}

int jail_pivot_root(struct jail *j)
{
	/* pivot_root wants the new root to be a mount point. */
	if (mount(j->root_dir, j->root_dir, NULL, MS_BIND | MS_REC, NULL))
		return jail_errno(j, "bind mount %s", j->root_dir);
	if (chdir(j->root_dir))
		return jail_errno(j, "chdir %s", j->root_dir);
	if (mkdir(JAIL_OLD_ROOT, 0700))
		return jail_errno(j, "mkdir %s/" JAIL_OLD_ROOT, j->root_dir);
	j->made_old_root = true;
	if (syscall(SYS_pivot_root, ".", JAIL_OLD_ROOT)) {
		if (errno == EINVAL)
			return jail_errno(j, "pivot_root (the host's / must be a real mount, "
					     "not the initramfs)");
		return jail_errno(j, "pivot_root(\".\", \"" JAIL_OLD_ROOT "\")");
	}
	if (chdir("/"))
		return jail_errno(j, "chdir /");
	if (umount2("/" JAIL_OLD_ROOT, MNT_DETACH))
		return jail_errno(j, "umount2 /" JAIL_OLD_ROOT);
	if (rmdir("/" JAIL_OLD_ROOT))
		return jail_errno(j, "rmdir /" JAIL_OLD_ROOT);
	j->made_old_root = false;
	return 0;
}

static void warn_rm(int r, const char *dir, const char *name)
{
	/* ENOENT: gone already, which is what we wanted. */
	if (r && r != -ENOENT)
		fprintf(stderr, "mvm-jailer: cleanup: remove %s/%s: %s\n", dir, name, strerror(-r));
}

/* What the operator prepared stays; what we made goes. */
static void undo_in_root(struct jail *j)
{
	char pid_name[NAME_MAX + 1];
	const char *ours[] = { j->made_exec_copy ? j->exec_name : NULL,
			       j->made_pid_file ? pid_name : NULL, j->made_dev ? "dev" : NULL,
			       j->made_run ? "run" : NULL,
			       j->made_old_root ? JAIL_OLD_ROOT : NULL };

	snprintf(pid_name, sizeof(pid_name), "%s.pid", j->exec_name);
	for (size_t i = 0; i < ARRAY_SIZE(ours); i++) {
		if (ours[i])
			warn_rm(jail_remove_tree(j->root_fd, ours[i]), j->root_dir, ours[i]);
	}
	if (j->root_chowned && (fchown(j->root_fd, j->root_orig.st_uid, j->root_orig.st_gid) ||
				fchmod(j->root_fd, j->root_orig.st_mode & 07777)))
		fprintf(stderr, "mvm-jailer: cleanup: chown %s: %s\n", j->root_dir,
			strerror(errno));
}

/*
 * <id>/ as we made it: root/ first, the lock file last, so that a jailer
 * waiting on the lock finds it gone (claim.c tries again) and never an
 * id directory it could take while we are still emptying it.
 */
static void undo_id_dir(struct jail *j)
{
	if (j->made_root_dir)
		warn_rm(jail_remove_tree(j->id_fd, "root"), j->jail_dir, "root");
	else if (j->root_fd >= 0)
		undo_in_root(j);
	if (j->made_lock || j->made_id_dir)
		warn_rm(unlinkat(j->id_fd, JAIL_LOCK_NAME, 0) ? neg_errno() : 0, j->jail_dir,
			JAIL_LOCK_NAME);
	/* ENOTEMPTY: another jailer made its lock file here meanwhile: the directory is its own. */
	if (j->made_id_dir && unlinkat(j->exec_dir_fd, j->id, AT_REMOVEDIR) && errno != ENOTEMPTY)
		warn_rm(neg_errno(), j->jail_dir, "");
}

void jail_fs_undo(struct jail *j)
{
	char path[PATH_MAX];

	/* Back to the host's mount namespace: the jail's bind mount dies with ours. */
	if (j->in_mount_ns && setns(j->host_mnt_fd, CLONE_NEWNS)) {
		fprintf(stderr,
			"mvm-jailer: cleanup: setns to the host mounts: %s; left in place: %s\n",
			strerror(errno), j->jail_dir);
		return;
	}
	j->in_mount_ns = false;
	if (j->id_fd >= 0)
		undo_id_dir(j); /* nothing in <id>/ is ours unless we hold its lock */
	/* ENOTEMPTY: another jail lives there too. */
	if (j->made_exec_dir) {
		snprintf(path, sizeof(path), "%s/%s", j->base_dir, j->exec_name);
		if (rmdir(path) && errno != ENOTEMPTY)
			warn_rm(neg_errno(), path, "");
	}
	for (int i = j->n_made_base - 1; i >= 0; i--) {
		snprintf(path, sizeof(path), "%.*s", (int)j->made_base[i], j->base_dir);
		if (rmdir(path) && errno != ENOTEMPTY)
			warn_rm(neg_errno(), path, "");
	}
}
