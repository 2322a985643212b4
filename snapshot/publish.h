/*
 * Writing a snapshot's two files so that a crash at any point leaves either
 * the previous pair or the new one, never a mix:
 *
 *   1. the state goes to <state>.tmp and the memory to <mem>.tmp, each
 *      fsynced, then their directories (the names must survive a power cut);
 *   2. <mem>.tmp is renamed over <mem>, its directory fsynced;
 *   3. <state>.tmp is renamed over <state>, its directory fsynced.
 *
 * Until 2 the old pair is whole (a running VM that maps the old memory file
 * keeps it). Between 2 and 3 the memory is new and the state old: their
 * generations differ (binding.h), and <state>.tmp is the state that belongs
 * to the memory: whoever opens the pair next (a load, the next create)
 * finishes step 3. After 3 the new pair is whole. Any other <state>.tmp or
 * <mem>.tmp is a leftover of a run that died before 2: loads ignore it, the
 * next create removes it.
 */
#ifndef MVM_SNAPSHOT_PUBLISH_H
#define MVM_SNAPSHOT_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>

struct err;
struct snap_reader;

#define SNAP_TMP_SUFFIX ".tmp"

/* "<path>.tmp" into buf: -ENAMETOOLONG when it does not fit in size bytes. */
int snap_tmp_path(const char *path, char *buf, size_t size);

/* fsync the directory that holds path ("." for a bare name). */
int snap_fsync_dir_of(const char *path);

/*
 * Steps 2 and 3, with both temporaries complete and fsynced. *committed says
 * whether the new memory file is in place: from then on the new pair is the
 * snapshot, even if this returns an error (<state>.tmp then stays for the
 * next open to finish). On a failure before that, both temporaries are
 * removed and the old pair is whole.
 */
int snap_publish(const char *state_path, const char *mem_path, bool *committed, struct err *e);

/* Remove <state>.tmp and <mem>.tmp if they are there. */
void snap_discard_tmp(const char *state_path, const char *mem_path);

/*
 * The state file that belongs to the memory file mem_fd (named mem_name in
 * messages): state_path, checked against the memory's trailer; if that is
 * missing or from another snapshot and <state>.tmp matches the memory,
 * <state>.tmp is renamed into place (step 3 of an interrupted publish) and
 * read. Otherwise -EINVAL and a sentence saying why the pair does not belong
 * together.
 */
int snap_pair_open(const char *state_path, int mem_fd, const char *mem_name,
		   struct snap_reader **out, struct err *e);

/*
 * Before writing a new pair over state_path and mem_path: finish an
 * interrupted publish (so that the old pair is whole if this one dies too),
 * then remove leftover temporaries. Best effort: a pair that cannot be
 * opened is about to be replaced anyway.
 */
void snap_pair_recover(const char *state_path, const char *mem_path);

#endif
