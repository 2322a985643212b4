#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The whole of memfd fd, NUL-terminated. */
static char *slurp(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return NULL;
	char *s = malloc((size_t)st.st_size + 1);
	if (!s)
		return NULL;
	ssize_t n = pread(fd, s, (size_t)st.st_size, 0);
	s[n > 0 ? n : 0] = '\0';
	return s;
}

/* The tail of a tool's stderr, on one line. */
static void tail(int fd, char *why, size_t size)
{
	char *s = slurp(fd);
	if (!s || !size)
		goto out;
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	const char *t = n + 1 > size ? s + n + 1 - size : s;
	snprintf(why, size, "%s", t);
	for (char *p = why; *p; p++)
		if (*p == '\n')
			*p = ' ';
out:
	free(s);
}

int spawn_run(char *const argv[], char **out, char *why, size_t why_size)
{
	int ofd = memfd_create("spawn-out", MFD_CLOEXEC),
	    efd = memfd_create("spawn-err", MFD_CLOEXEC);
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int r, st;
	if (why_size)
		why[0] = '\0';
	if (ofd < 0 || efd < 0) {
		r = -errno;
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (out)
		posix_spawn_file_actions_adddup2(&fa, ofd, 1);
	else
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, efd, 2);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r) {
		snprintf(why, why_size, "cannot run %s: %s%s", argv[0], strerror(r),
			 r == ENOENT ? " (is it installed? rootfs-tools/install-deps.sh)" : "");
		r = -r;
		goto out;
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			r = -errno;
			goto out;
		}
	r = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	tail(efd, why, why_size);
	if (out && !(*out = slurp(ofd)))
		r = -ENOMEM;
out:
	if (ofd >= 0)
		close(ofd);
	if (efd >= 0)
		close(efd);
	return r;
}
