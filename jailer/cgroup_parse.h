/*
 * mvm-jailer: the pure parts of the cgroup step (no system calls), unit-tested
 * in tests/unit/test_jailer_cgroup.c: mountinfo lines, controller lists,
 * --cgroup FILE=VALUE, paths.
 */
#ifndef MVM_JAILER_CGROUP_PARSE_H
#define MVM_JAILER_CGROUP_PARSE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* One cgroup mount from /proc/self/mountinfo. */
struct cg_mount {
	int version;	     /* 1 ("cgroup") or 2 ("cgroup2") */
	char path[PATH_MAX]; /* the mount point, escapes undone */
	char opts[512];	     /* v1: the super options, "rw,cpu,cpuacct" */
};

/* 1 and *m filled: a cgroup mount; 0: another file system; -EINVAL: not a mountinfo line. */
int cg_parse_mountinfo(const char *line, struct cg_mount *m);

/* Is word one of the sep-separated items of list (which may end in '\n')? */
bool cg_list_has(const char *list, const char *word, char sep);

/* Does a v1 mount's option list bind a controller (not only name=, rw, xattr, ...)? */
bool cg_v1_binds_controller(const char *opts);

struct jail_cgroup_kv;
/*
 * "<controller>.<file>=<value>" into kv->key, kv->ctrl and kv->value: NULL, or
 * why not. The file is a cgroup file name of either version ("cpuset.cpus",
 * "memory.limit_in_bytes", "hugetlb.2MB.max"); the value has no control characters.
 */
const char *cg_parse_kv(const char *arg, struct jail_cgroup_kv *kv);

/*
 * A /proc/self/cgroup line "N:CONTROLLERS:/PATH": 1 and PATH (without its leading '/') in out
 * when it is the line of the v1 hierarchy binding ctrl, or with ctrl "" the v2 line "0::/PATH";
 * 0 for another line; -EINVAL for a malformed one or a PATH longer than len.
 */
int cg_own_cgroup(const char *line, const char *ctrl, char *out, size_t len);

/* out = "a/b" (b alone when a is ""): 0, or -ENAMETOOLONG. */
int cg_join(char *out, size_t len, const char *a, const char *b);

/* The parent directory of a relative cgroup path in place ("" for a top-level one). */
void cg_dirname(char *path);

#endif
