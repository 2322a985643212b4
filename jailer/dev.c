/*
 * mvm-jailer: what the monitor finds inside its root. Runs after pivot_root,
 * so every path here is inside the jail.
 *
 *   /<exec>            the monitor (chroot.c)
 *   /<exec>.pid        its pid, as the host sees it
 *   /dev/kvm           10:232  \
 *   /dev/net/tun       10:200   } 0600, owned by the jailed uid:gid
 *   /dev/userfaultfd   10:dyn  /  (only when the host has it)
 *   /run               0700, the jailed uid:gid: room for the API socket
 *
 * No /dev/urandom: the monitor takes its randomness from getrandom().
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "../lib/util.h"
#include "jail.h"

static int make_dir(struct jail *j, const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	if (mkdir(path, mode) || chmod(path, mode) || chown(path, uid, gid))
		return jail_errno(j, "mkdir %s (in the jail)", path);
	return 0;
}

static int make_node(struct jail *j, const char *path, unsigned int major, unsigned int minor)
{
	if (mknod(path, S_IFCHR | 0600, makedev(major, minor)) || chmod(path, 0600) ||
	    chown(path, j->uid, j->gid))
		return jail_errno(j, "mknod %s %u:%u (in the jail)", path, major, minor);
	jail_debug(j, "%s %u:%u", path, major, minor);
	return 0;
}

int jail_make_devices(struct jail *j)
{
	int r;

	/* /dev itself stays root's: the monitor cannot rename or replace its nodes. */
	if ((r = make_dir(j, "/dev", 0755, 0, 0)))
		return r;
	j->made_dev = true;
	if ((r = make_dir(j, "/dev/net", 0755, 0, 0)) || (r = make_node(j, "/dev/kvm", 10, 232)) ||
	    (r = make_node(j, "/dev/net/tun", 10, 200)))
		return r;
	if (j->uffd_minor >= 0 &&
	    (r = make_node(j, "/dev/userfaultfd", 10, (unsigned)j->uffd_minor)))
		return r;
	if ((r = make_dir(j, "/run", 0700, j->uid, j->gid)))
		return r;
	j->made_run = true;
	return 0;
}

int jail_write_pid_file(struct jail *j, pid_t pid)
{
	char path[NAME_MAX + 8], text[16];
	cleanup_close int fd = -1;

	snprintf(path, sizeof(path), "/%s.pid", j->exec_name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return jail_errno(j, "create %s (in the jail)", path);
	j->made_pid_file = true;
	snprintf(text, sizeof(text), "%d", pid);
	if (fchmod(fd, 0644) || write_full(fd, text, strlen(text)))
		return jail_errno(j, "write %s (in the jail)", path);
	jail_debug(j, "%s%s = %s", j->root_dir, path, text);
	jail_lock_note_pid(j, pid);
	return 0;
}

/*
 * rm -r dirfd/name without following symlinks. Used only on what the jailer
 * made itself. A directory busy as a mount point (the jail's bind mount, while
 * the namespace holding it dies) is retried for up to 3 s.
 */
int jail_remove_tree(int dirfd, const char *name)
{
	const struct timespec tick = { 0, 10 * 1000 * 1000 };
	struct stat st;
	struct dirent *e;
	DIR *d;
	int fd, r = 0;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW))
		return neg_errno();
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0) ? neg_errno() : 0;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return neg_errno();
	d = fdopendir(fd);
	if (!d) {
		r = neg_errno();
		close(fd);
		return r;
	}
	while (!r && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			r = jail_remove_tree(fd, e->d_name);
	}
	closedir(d);
	for (int i = 0; !r && unlinkat(dirfd, name, AT_REMOVEDIR); i++) {
		if (errno != EBUSY || i == 300)
			return neg_errno();
		nanosleep(&tick, NULL);
	}
	return r;
}
