/*
 * Merging a diff memory file onto its base, for mvm merge-memory and for
 * mvm snapshot --diff. The merged file is written beside the base as
 * <base>.tmp and renamed over it whole; a VM still mapping the old base
 * keeps it. A diff only applies to the memory of the snapshot it continues
 * (its trailer's base generation, snapshot/binding.h): any other base is
 * refused, since merging there would give a memory no VM ever had.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/err.h"
#include "../lib/fault.h"
#include "../lib/util.h"
#include "../snapshot/binding.h"
#include "../snapshot/format.h"
#include "../snapshot/memfile.h"
#include "../snapshot/publish.h"
#include "cli.h"

/* base + diff -> tmp, fsynced; its trailer (the diff's, copied as data) says what it is. */
static int merge_files(const char *base, const char *diff, const char *tmp)
{
	struct snap_binding b, d;
	char bg[SNAP_GEN_STR], dg[SNAP_GEN_STR];
	struct err e = { 0 };
	int r;

	cleanup_close int bfd = open(base, O_RDONLY | O_CLOEXEC);
	cleanup_close int dfd = open(diff, O_RDONLY | O_CLOEXEC);
	if (bfd < 0 || dfd < 0)
		return cli_fail("merge: %s: %s", bfd < 0 ? base : diff, strerror(errno));
	if (memfile_trailer_read(bfd, base, &b, &e) || memfile_trailer_read(dfd, diff, &d, &e))
		return cli_fail("merge: %s", e.msg);
	if (memcmp(d.base, b.gen, SNAP_GEN_LEN) || d.mem_len != b.mem_len) {
		snap_gen_str(b.gen, bg);
		snap_gen_str(d.base, dg);
		return cli_fail(
		    "merge: %s is not the memory %s applies to: the diff continues "
		    "snapshot %s, %s is snapshot %s (an earlier diff was not merged, or "
		    "the VM was restored from elsewhere); take a full snapshot",
		    base, diff, dg, base, bg);
	}
	cleanup_close int tfd =
	    open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (tfd < 0)
		return cli_fail("merge: %s: %s", tmp, strerror(errno));
	if (ftruncate(tfd, (off_t)b.mem_len) < 0)
		r = neg_errno();
	else if (!(r = memfile_merge_diff(tfd, bfd))) {
		fault_point("mid-merge");
		r = memfile_merge_diff(tfd, dfd);
	}
	if (!r && fdatasync(tfd) < 0)
		r = neg_errno();
	if (!r && close(steal_fd(&tfd)) < 0)
		r = neg_errno();
	if (r)
		return cli_fail("merge %s onto %s: writing %s: %s", diff, base, tmp, strerror(-r));
	fault_point("after-merge");
	return 0;
}

int cmd_merge_memory(int argc, char **argv)
{
	char tmp[PATH_MAX];
	int r;

	if (argc != 3)
		return cli_fail("usage: mvm merge-memory BASE.mem DIFF.mem (DIFF's pages are "
				"written into BASE)");
	if (snap_tmp_path(argv[1], tmp, sizeof(tmp)))
		return cli_fail("%s: path too long", argv[1]);
	if (merge_files(argv[1], argv[2], tmp)) {
		unlink(tmp);
		return 1;
	}
	r = rename(tmp, argv[1]) < 0 ? neg_errno() : snap_fsync_dir_of(argv[1]);
	if (r) {
		unlink(tmp);
		return cli_fail("merge: renaming %s to %s: %s", tmp, argv[1], strerror(-r));
	}
	printf("merged %s into %s\n", argv[2], argv[1]);
	return 0;
}

/* The staged state and the merged memory are one snapshot, or neither is published. */
static int check_pair(const char *staged, const char *merged)
{
	struct snap_reader *rd = NULL;
	struct snap_binding sb, mb;
	struct err e = { 0 };
	int r;

	cleanup_close int fd = open(merged, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cli_fail("%s: %s", merged, strerror(errno));
	r = snap_reader_open_file(staged, 0, &rd, &e);
	if (!r && !(r = snap_binding_get(rd, &sb, &e)) &&
	    !(r = memfile_trailer_read(fd, merged, &mb, &e)))
		r = snap_binding_match(&sb, &mb, snap_reader_name(rd), merged, &e);
	snap_reader_destroy(rd);
	return r ? cli_fail("%s", err_str(&e, r)) : 0;
}

int cli_merge_diff_snapshot(const char *state, const char *mem, const char *dmem)
{
	char staged[PATH_MAX], merged[PATH_MAX];
	struct err e = { 0 };
	bool committed = false;
	int r;

	if (snap_tmp_path(state, staged, sizeof(staged)) ||
	    snap_tmp_path(mem, merged, sizeof(merged)))
		return cli_fail("%s: path too long", state);
	r = merge_files(mem, dmem, merged) || check_pair(staged, merged);
	if (!r && snap_publish(state, mem, &committed, &e))
		r = cli_fail("%s", err_str(&e, e.code));
	if (!committed)
		snap_discard_tmp(state, mem);
	unlink(dmem);
	return r;
}
