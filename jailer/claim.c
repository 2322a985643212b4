/*
 * mvm-jailer: the claim on <base>/<exec>/<id>. One jail per id, whatever
 * races: the id directory is made with mkdir (no -p), and whoever takes
 * flock(LOCK_EX) on <id>/jailer.lock owns it. The lock is held for the
 * monitor's whole life: its fd survives the exec (the only one that does),
 * so the kernel drops the lock when the last process of the jail is gone,
 * however it ended. A jailer that loses the lock refuses, naming the pid the
 * lock file holds, and touches nothing; what it made before the claim (the id
 * directory) is the winner's.
 *
 * After the claim, the jail is one of:
 *   - new: no root/ yet;
 *   - prepared: the operator's root/, none of the names the jailer makes in it;
 *   - stale: the names are there and so was the lock file, but nobody holds
 *     the lock: its jailer or monitor is dead. Those names are removed
 *     (reclaimed); the operator's files stay;
 *   - used before, by a jailer that made no lock file: refused, as it may be live.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/util.h"
#include "jail.h"

/* How often the id directory or its lock file may vanish under us (a loser's cleanup). */
#define CLAIM_TRIES 16

/*
 * The test hook: MVM_JAILER_TEST_STOP=<point> makes the jailer announce the
 * point on stderr and SIGSTOP itself there, until the test sends SIGCONT
 * (or SIGKILL). Points: "id-dir" (the id directory made, its lock not taken
 * yet), "claimed" (the lock held, the owner's pid written), or a step's name
 * (main.c: after that step). Read by the sanitize step; for tests only.
 */
void jail_test_stop(const struct jail *j, const char *point)
{
	if (!j->test_stop[0] || strcmp(j->test_stop, point))
		return;
	fprintf(stderr, "mvm-jailer: test hook: stopped at '%s', pid %d\n", point, getpid());
	raise(SIGSTOP);
}

/* The pid in a lock file, 0 if it holds none (its owner is still writing it). */
static pid_t lock_owner(int fd)
{
	char text[16];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);

	if (n <= 0)
		return 0;
	text[n] = '\0';
	return (pid_t)atoi(text);
}

/* The monitor-to-be's pid into the lock file: what a refused jailer names. */
void jail_lock_note_pid(struct jail *j, pid_t pid)
{
	char text[16];
	int n = snprintf(text, sizeof(text), "%d\n", pid);

	/* Best effort: the lock, not the text, is the claim. */
	if (j->lock_wr_fd < 0 || ftruncate(j->lock_wr_fd, 0) ||
	    pwrite(j->lock_wr_fd, text, (size_t)n, 0) != n)
		jail_debug(j, "could not write pid %d into %s/" JAIL_LOCK_NAME, pid, j->jail_dir);
}

/* Open <id>/jailer.lock, making it if absent: *made says whether we did. */
static int open_lock(struct jail *j, int id_fd, bool *made)
{
	/* O_NONBLOCK: a FIFO put there must not hang us (it is refused below). */
	const int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
	int fd = openat(id_fd, JAIL_LOCK_NAME, flags);
	struct stat st;

	*made = false;
	if (fd >= 0) {
		if (!fstat(fd, &st) && S_ISREG(st.st_mode))
			return fd;
		close(fd);
		return jail_err(j, -EINVAL,
				"%s/" JAIL_LOCK_NAME ": not a regular file (the jailer's lock "
				"file; remove what is there)",
				j->jail_dir);
	}
	if (errno != ENOENT)
		return jail_errno(j, "open %s/" JAIL_LOCK_NAME, j->jail_dir);
	fd = openat(id_fd, JAIL_LOCK_NAME, flags | O_CREAT | O_EXCL, 0600);
	if (fd >= 0) {
		*made = true;
		return fd;
	}
	/* EEXIST: another jailer made it just now; ENOENT: the id directory went away. */
	if (errno == EEXIST || errno == ENOENT)
		return -EAGAIN;
	return jail_errno(j, "create %s/" JAIL_LOCK_NAME, j->jail_dir);
}

/* Are both still what the names lead to? A loser's cleanup may have removed them meanwhile. */
static bool still_linked(struct jail *j, int id_fd, int lock_fd)
{
	struct stat id, id_now, lock, lock_now;

	return !fstat(id_fd, &id) &&
	       !fstatat(j->exec_dir_fd, j->id, &id_now, AT_SYMLINK_NOFOLLOW) &&
	       id.st_ino == id_now.st_ino && id.st_dev == id_now.st_dev && !fstat(lock_fd, &lock) &&
	       !fstatat(id_fd, JAIL_LOCK_NAME, &lock_now, AT_SYMLINK_NOFOLLOW) &&
	       lock.st_ino == lock_now.st_ino && lock.st_nlink > 0;
}

static int refuse_in_use(struct jail *j, int lock_fd)
{
	pid_t owner = lock_owner(lock_fd);

	if (owner > 0)
		return jail_err(j, -EBUSY,
				"id '%s' is in use: %s is held by pid %d (a live jailer or "
				"monitor); stop it, or pick another id",
				j->id, j->jail_dir, owner);
	return jail_err(j, -EBUSY,
			"id '%s' is in use: another jailer is building %s right now; pick "
			"another id",
			j->id, j->jail_dir);
}

/* One try: 0 (claimed), -EAGAIN (something vanished meanwhile: try again), or an error. */
static int claim_once(struct jail *j)
{
	cleanup_close int id_fd = -1, lock_fd = -1;
	bool made_dir, made_lock;

	made_dir = !mkdirat(j->exec_dir_fd, j->id, 0700);
	if (!made_dir && errno != EEXIST)
		return jail_errno(j, "mkdir %s", j->jail_dir);
	jail_test_stop(j, "id-dir");
	id_fd = openat(j->exec_dir_fd, j->id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (id_fd < 0)
		return errno == ENOENT ? -EAGAIN : jail_errno(j, "open %s", j->jail_dir);
	lock_fd = open_lock(j, id_fd, &made_lock);
	if (lock_fd < 0)
		return lock_fd;
	if (flock(lock_fd, LOCK_EX | LOCK_NB))
		return errno == EWOULDBLOCK
			   ? refuse_in_use(j, lock_fd)
			   : jail_errno(j, "flock %s/" JAIL_LOCK_NAME, j->jail_dir);
	if (!still_linked(j, id_fd, lock_fd))
		return -EAGAIN; /* closing lock_fd lets the lock go */

	/* Ours from here on: what we made is ours to remove. */
	j->made_id_dir = made_dir;
	j->made_lock = made_lock;
	j->stale = !made_lock; /* a lock file nobody holds: its jail's processes are all gone */
	j->stale_owner = made_lock ? 0 : lock_owner(lock_fd);
	j->id_fd = steal_fd(&id_fd);
	j->lock_fd = steal_fd(&lock_fd);
	j->lock_wr_fd = openat(j->id_fd, JAIL_LOCK_NAME, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (j->lock_wr_fd < 0)
		return jail_errno(j, "open %s/" JAIL_LOCK_NAME " for writing", j->jail_dir);
	jail_lock_note_pid(j, getpid());
	jail_test_stop(j, "claimed");
	return 0;
}

/*
 * What the claim found in root/: new, prepared, stale (its jailer-made names
 * are removed here), or used by a jailer that made no lock file (refused).
 */
static int take_over(struct jail *j)
{
	cleanup_close int fd =
	    openat(j->id_fd, "root", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char pid_name[NAME_MAX + 1];
	const char *ours[] = { j->exec_name, pid_name, "dev", "run", JAIL_OLD_ROOT };
	bool reclaimed = false;
	struct stat st;
	int r;

	if (fd < 0 && errno == ENOENT)
		return 0; /* the usual case: the jailer makes root/ */
	if (fd < 0)
		return jail_errno(j, "%s", j->root_dir);
	snprintf(pid_name, sizeof(pid_name), "%s.pid", j->exec_name);
	for (size_t i = 0; i < ARRAY_SIZE(ours); i++) {
		if (fstatat(fd, ours[i], &st, AT_SYMLINK_NOFOLLOW))
			continue;
		if (!j->stale)
			return jail_err(j, -EEXIST,
					"id '%s' was used before: %s/%s exists, and no "
					"%s/" JAIL_LOCK_NAME " says whether its monitor still runs "
					"(remove %s once it has exited)",
					j->id, j->root_dir, ours[i], j->jail_dir, j->jail_dir);
		r = jail_remove_tree(fd, ours[i]);
		if (r)
			return jail_err(j, r, "reclaiming the stale jail: remove %s/%s: %s",
					j->root_dir, ours[i], strerror(-r));
		reclaimed = true;
	}
	j->root_exists = true;
	if (reclaimed)
		fprintf(stderr,
			"mvm-jailer: id '%s': reclaimed the stale jail %s (its last owner, "
			"pid %d, is gone)\n",
			j->id, j->jail_dir, j->stale_owner);
	return 0;
}

int jail_claim(struct jail *j)
{
	for (int i = 0; i < CLAIM_TRIES; i++) {
		int r = claim_once(j);
		if (r != -EAGAIN)
			return r ? r : take_over(j);
		jail_debug(j, "claim of %s: it changed meanwhile, again", j->jail_dir);
	}
	return jail_err(j, -EBUSY,
			"id '%s': %s kept vanishing while we claimed it (other jailers with "
			"this id keep failing); try again",
			j->id, j->jail_dir);
}
