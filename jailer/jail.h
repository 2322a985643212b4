/*
 * mvm-jailer: the state the jail steps share. main.c runs the steps in order;
 * each returns 0 or -errno and leaves a sentence in j->why when it fails.
 */
#ifndef MVM_JAILER_JAIL_H
#define MVM_JAILER_JAIL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define JAIL_ID_MAX	    64
#define JAIL_MAX_CGROUPS    32
#define JAIL_MAX_CG_DEPTH   16
#define JAIL_MAX_CG_HIERS   16 /* cgroup v1: one hierarchy per mount; v2: one */
#define JAIL_MAX_BASE_DEPTH 32
#define JAIL_DEFAULT_BASE   "/srv/jailer"
#define JAIL_DEFAULT_NOFILE 2048
#define JAIL_OLD_ROOT	    "old_root"
#define JAIL_LOCK_NAME	    "jailer.lock" /* in <id>/: flock'd by the jail's owner */

/* A step's return value meaning "this process is done": the monitor runs in a child. */
#define JAIL_PARENT_DONE 1

struct jail_cgroup_kv {
	const char *arg;   /* "cpu.max=50000 100000", as given */
	char key[64];	   /* "cpu.max": the file in the cgroup directory */
	char ctrl[32];	   /* "cpu": the controller to enable */
	const char *value; /* "50000 100000" (points into arg) */
	int hier;	   /* its hierarchy: an index into jail.cg */
};

/* One cgroup hierarchy the jail uses: the v2 one, or one v1 mount (cpuset, "cpu,cpuacct"). */
struct jail_cg_hier {
	char mount[PATH_MAX]; /* its mount point */
	char ctrls[512];      /* v1: the mount's super options ("rw,cpu,cpuacct") */
	char first_ctrl[32];  /* v1: a controller it binds (for /proc/self/cgroup) */
	int root_fd;
	char orig[PATH_MAX]; /* our cgroup here before the move, relative to mount */
	int made_parents;    /* how many trailing parent components we created */
	bool made_leaf, moved;
};

struct jail {
	/* The command line; strings point into argv. */
	const char *id, *exec_file, *base_dir, *netns, *parent_cgroup, *uid_arg, *gid_arg;
	const char *cgroup_version;
	const char *rlimit_args[16];
	size_t n_rlimit_args;
	struct jail_cgroup_kv cgroups[JAIL_MAX_CGROUPS];
	size_t n_cgroups;
	bool parent_cgroup_given, daemonize, new_pid_ns, debug;
	char **extra; /* after "--": handed to the monitor */
	int n_extra;

	/* Resolved by the 'validate' step. */
	uid_t uid;
	gid_t gid;
	uint64_t nofile, fsize;
	bool have_fsize;
	char exec_path[PATH_MAX];
	const char *exec_name;	 /* basename of exec_path */
	char jail_dir[PATH_MAX]; /* <base>/<exec_name>/<id> */
	char root_dir[PATH_MAX]; /* <jail_dir>/root */
	bool root_exists;	 /* the operator prepared root/ beforehand */
	int uffd_minor;		 /* /dev/userfaultfd's misc minor, -1 if the host has none */
	int exec_fd, netns_fd, devnull_fd;
	int cg_version; /* 1 or 2: --cgroup-version, or the host's default (cgroup_find.c) */
	struct jail_cg_hier cg[JAIL_MAX_CG_HIERS];
	size_t n_cg; /* v2: 1 with a cgroup2 mount, else 0 */

	/* What the steps built, so that jail_undo() can take it down again. */
	size_t made_base[JAIL_MAX_BASE_DEPTH]; /* prefix lengths of base_dir we created */
	int n_made_base;
	int exec_dir_fd; /* <base>/<exec_name> */
	int root_fd;	 /* <jail_dir>/root, still valid after pivot_root */
	bool made_exec_dir, made_id_dir, made_root_dir, made_old_root;
	/* The claim (claim.c): <id>/ and its lock, LOCK_EX held until the monitor is gone. */
	int id_fd;	   /* <jail_dir> */
	int lock_fd;	   /* <jail_dir>/jailer.lock, read-only: the one fd the monitor inherits */
	int lock_wr_fd;	   /* the same file, to write the owner's pid in; O_CLOEXEC */
	bool made_lock;	   /* we created the lock file */
	bool stale;	   /* the lock file was there and nobody held it: a dead jail, reclaimed */
	pid_t stale_owner; /* the pid that dead jail's lock file named, 0 if none */
	bool made_exec_copy, made_dev, made_run, made_pid_file;
	struct stat root_orig; /* owner and mode before we chowned it */
	bool root_chowned;
	int host_mnt_fd;
	bool in_mount_ns;
	char cg_dir[PATH_MAX]; /* <parent>/<id>, relative to each hierarchy's mount */
	bool privileges_dropped;

	/* Processes: a forked child reports a failure to the waiting original. */
	bool is_child;
	int status_rd, status_wr;

	uint64_t start_us, start_cpu_us, parent_cpu_us;
	char test_stop[32]; /* MVM_JAILER_TEST_STOP: where to stop (claim.c; tests only) */
	char why[1024];
	bool why_is_line; /* why is a whole "step '...': ..." line from a child */
};

/* main.c */
void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...);
int jail_err(struct jail *j, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int jail_errno(struct jail *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void jail_debug(const struct jail *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* args.c */
void jail_parse_args(struct jail *j, int argc, char **argv);

/* validate.c */
int jail_validate(struct jail *j);

/* claim.c */
int jail_claim(struct jail *j);
void jail_lock_note_pid(struct jail *j, pid_t pid);
void jail_test_stop(const struct jail *j, const char *point);

/* chroot.c */
int jail_make_root(struct jail *j);
int jail_copy_exec(struct jail *j);
int jail_mount_ns(struct jail *j);
int jail_pivot_root(struct jail *j);
void jail_fs_undo(struct jail *j);

/* dev.c */
int jail_make_devices(struct jail *j);
int jail_write_pid_file(struct jail *j, pid_t pid);
int jail_remove_tree(int dirfd, const char *name);

/* interp.c */
int jail_check_interp(struct jail *j);

/* cgroup_find.c */
int jail_cgroup_find(struct jail *j);
int jail_cgroup_check_key(struct jail *j, struct jail_cgroup_kv *kv);
int jail_cgroup_read(int dirfd, const char *path, char *buf, size_t len);
int jail_cgroup_write(int dirfd, const char *path, const char *s);

/* cgroup.c */
int jail_cgroup_setup(struct jail *j);
void jail_cgroup_undo(struct jail *j);
bool jail_cgroup_made(const struct jail *j, char *list, size_t len);

/* cgroup_cpuset.c */
int jail_cgroup_v1_cpuset(struct jail *j, const struct jail_cg_hier *h);

/* proc.c */
int jail_sanitize(struct jail *j);
int jail_join_netns(struct jail *j);
int jail_set_rlimits(struct jail *j);
int jail_daemonize(struct jail *j);
int jail_new_pid_ns(struct jail *j);
int jail_pid_file(struct jail *j);
int jail_exec(struct jail *j);

/* caps.c */
int jail_drop_privileges(struct jail *j);

#endif
