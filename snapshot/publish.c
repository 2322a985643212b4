#include "publish.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/err.h"
#include "../lib/fault.h"
#include "../lib/log.h"
#include "../lib/util.h"
#include "binding.h"
#include "format.h"

int snap_tmp_path(const char *path, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s%s", path, SNAP_TMP_SUFFIX);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int snap_fsync_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	cleanup_free char *dir = NULL;
	cleanup_close int fd = -1;

	if (slash) {
		dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
		if (!dir)
			return -ENOMEM;
	}
	fd = open(dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		return neg_errno();
	return 0;
}

void snap_discard_tmp(const char *state_path, const char *mem_path)
{
	char tmp[PATH_MAX];

	if (!snap_tmp_path(state_path, tmp, sizeof(tmp)))
		unlink(tmp);
	if (!snap_tmp_path(mem_path, tmp, sizeof(tmp)))
		unlink(tmp);
}

int snap_publish(const char *state_path, const char *mem_path, bool *committed, struct err *e)
{
	char st[PATH_MAX], mt[PATH_MAX];
	int r;

	*committed = false;
	if ((r = snap_tmp_path(state_path, st, sizeof(st))) ||
	    (r = snap_tmp_path(mem_path, mt, sizeof(mt))))
		return err_set(e, r, "snapshot path %s: too long", state_path);
	/* <state>.tmp must outlive a power cut whenever the new <mem> does. */
	if ((r = snap_fsync_dir_of(mem_path)) || (r = snap_fsync_dir_of(state_path))) {
		err_set(e, r, "fsync of the snapshot's directories: %s", strerror(-r));
		goto discard;
	}
	if (rename(mt, mem_path) < 0) {
		r = neg_errno();
		err_set(e, r, "renaming %s to %s: %s", mt, mem_path, strerror(-r));
		goto discard;
	}
	/* The point of no return: the old memory is gone, <state>.tmp is its state. */
	*committed = true;
	if ((r = snap_fsync_dir_of(mem_path)))
		return err_set(e, r, "fsync of the directory of %s: %s", mem_path, strerror(-r));
	fault_point("after-mem-publish");
	if (rename(st, state_path) < 0) {
		r = neg_errno();
		return err_set(e, r,
			       "renaming %s to %s: %s (the memory file is the new one: the "
			       "next load or create finishes this snapshot from %s)",
			       st, state_path, strerror(-r), st);
	}
	if ((r = snap_fsync_dir_of(state_path)))
		return err_set(e, r, "fsync of the directory of %s: %s", state_path, strerror(-r));
	fault_point("after-state-publish");
	return 0;
discard:
	snap_discard_tmp(state_path, mem_path);
	return r;
}

/* <state>.tmp, if it is whole and belongs to the memory mb: renamed into place. */
static int roll_forward(const char *state_path, const struct snap_binding *mb,
			struct snap_reader **out)
{
	struct snap_reader *rd = NULL;
	struct snap_binding sb;
	char tmp[PATH_MAX];
	int r;

	if ((r = snap_tmp_path(state_path, tmp, sizeof(tmp))) ||
	    (r = snap_reader_open_file(tmp, 0, &rd, NULL)))
		return r;
	if ((r = snap_binding_get(rd, &sb, NULL)) ||
	    (r = snap_binding_match(&sb, mb, "", "", NULL))) {
		snap_reader_destroy(rd);
		return r;
	}
	if (rename(tmp, state_path) < 0 || snap_fsync_dir_of(state_path))
		log_warn("%s belongs to the memory file but cannot replace %s (%s): using it "
			 "from there",
			 tmp, state_path, strerror(errno));
	else
		log_warn("%s: finished a snapshot that was interrupted between its memory and "
			 "state files (renamed %s into place)",
			 state_path, tmp);
	*out = rd;
	return 0;
}

int snap_pair_open(const char *state_path, int mem_fd, const char *mem_name,
		   struct snap_reader **out, struct err *e)
{
	struct snap_reader *rd = NULL;
	struct snap_binding mb, sb;
	int r;

	*out = NULL;
	if ((r = memfile_trailer_read(mem_fd, mem_name, &mb, e)))
		return r;
	r = snap_reader_open_file(state_path, 0, &rd, e);
	if (!r && !(r = snap_binding_get(rd, &sb, e)) &&
	    !(r = snap_binding_match(&sb, &mb, snap_reader_name(rd), mem_name, e))) {
		*out = rd;
		return 0;
	}
	snap_reader_destroy(rd);
	/* e says what is wrong with state_path, unless <state>.tmp fixes it. */
	return roll_forward(state_path, &mb, out) ? r : 0;
}

void snap_pair_recover(const char *state_path, const char *mem_path)
{
	struct snap_reader *rd = NULL;
	int fd = open(mem_path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (!snap_pair_open(state_path, fd, mem_path, &rd, NULL))
			snap_reader_destroy(rd);
		close(fd);
	}
	snap_discard_tmp(state_path, mem_path);
}
