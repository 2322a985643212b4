/* mvm-jailer: the command line (Firecracker's jailer flags). Syntax only; values are checked by
 * the 'validate' step. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/util.h"
#include "../lib/version.h"
#include "jail.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mvm-jailer --id ID --exec-file PATH --uid UID --gid GID\n"
		"                  [--chroot-base-dir DIR] [--netns PATH]\n"
		"                  [--cgroup CONTROLLER.FILE=VALUE]... [--cgroup-version 1|2]\n"
		"                  [--parent-cgroup PATH] [--resource-limit no-file=N|fsize=N]...\n"
		"                  [--daemonize] [--new-pid-ns] [-- MVM-ARGS...]\n"
		"\n"
		"Builds <chroot-base-dir>/<exec-file name>/<id>/root (default base %s),\n"
		"copies the exec file into it, joins the network namespace, sets resource\n"
		"limits and cgroup (v1 or v2) values, pivots into the jail, creates /dev/kvm,\n"
		"/dev/net/tun and /dev/userfaultfd, drops to UID:GID without capabilities\n"
		"and execs /<exec-file name> --id ID ... MVM-ARGS.\n"
		"MVM_JAILER_DEBUG=1 logs each step.\n",
		JAIL_DEFAULT_BASE);
}

enum {
	OPT_ID = 256,
	OPT_EXEC_FILE,
	OPT_UID,
	OPT_GID,
	OPT_BASE,
	OPT_NETNS,
	OPT_CGROUP,
	OPT_CGROUP_VERSION,
	OPT_PARENT_CGROUP,
	OPT_RLIMIT,
	OPT_DAEMONIZE,
	OPT_NEW_PID_NS,
	OPT_VERSION,
	OPT_HELP,
};

static const struct option long_opts[] = {
	{ "id", required_argument, NULL, OPT_ID },
	{ "exec-file", required_argument, NULL, OPT_EXEC_FILE },
	{ "uid", required_argument, NULL, OPT_UID },
	{ "gid", required_argument, NULL, OPT_GID },
	{ "chroot-base-dir", required_argument, NULL, OPT_BASE },
	{ "netns", required_argument, NULL, OPT_NETNS },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "cgroup-version", required_argument, NULL, OPT_CGROUP_VERSION },
	{ "parent-cgroup", required_argument, NULL, OPT_PARENT_CGROUP },
	{ "resource-limit", required_argument, NULL, OPT_RLIMIT },
	{ "daemonize", no_argument, NULL, OPT_DAEMONIZE },
	{ "new-pid-ns", no_argument, NULL, OPT_NEW_PID_NS },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* getopt_long takes any unambiguous prefix ("--dae"); the jailer takes whole names only. */
static bool whole_name(const char *token, const char *name)
{
	size_t n = strlen(name);
	return !strncmp(token, "--", 2) && !strncmp(token + 2, name, n) &&
	       (token[2 + n] == '\0' || token[2 + n] == '=');
}

static void set_once(const char **slot, const char *flag, const char *value)
{
	if (*slot)
		die("%s given twice (see mvm-jailer --help)", flag);
	*slot = value;
}

void jail_parse_args(struct jail *j, int argc, char **argv)
{
	const char *base = NULL;
	int c, idx, next = 1;

	opterr = 0;
	/* '+': stop at the first non-option; ':': report a missing value as ':'. */
	while ((c = getopt_long(argc, argv, "+:h", long_opts, &idx)) != -1) {
		const char *tok = argv[next];

		if (c >= OPT_ID && !whole_name(tok, long_opts[idx].name))
			die("unknown option '%s' (see mvm-jailer --help)", tok);
		switch (c) {
		case OPT_ID: set_once(&j->id, "--id", optarg); break;
		case OPT_EXEC_FILE: set_once(&j->exec_file, "--exec-file", optarg); break;
		case OPT_UID: set_once(&j->uid_arg, "--uid", optarg); break;
		case OPT_GID: set_once(&j->gid_arg, "--gid", optarg); break;
		case OPT_BASE: set_once(&base, "--chroot-base-dir", optarg); break;
		case OPT_NETNS: set_once(&j->netns, "--netns", optarg); break;
		case OPT_CGROUP_VERSION:
			set_once(&j->cgroup_version, "--cgroup-version", optarg);
			break;
		case OPT_PARENT_CGROUP:
			set_once(&j->parent_cgroup, "--parent-cgroup", optarg);
			j->parent_cgroup_given = true;
			break;
		case OPT_CGROUP:
			if (j->n_cgroups == JAIL_MAX_CGROUPS)
				die("more than %d --cgroup values", JAIL_MAX_CGROUPS);
			j->cgroups[j->n_cgroups++].arg = optarg;
			break;
		case OPT_RLIMIT:
			if (j->n_rlimit_args == ARRAY_SIZE(j->rlimit_args))
				die("more than %zu --resource-limit values",
				    ARRAY_SIZE(j->rlimit_args));
			j->rlimit_args[j->n_rlimit_args++] = optarg;
			break;
		case OPT_DAEMONIZE: j->daemonize = true; break;
		case OPT_NEW_PID_NS: j->new_pid_ns = true; break;
		case OPT_VERSION: printf("mvm-jailer %s\n", MVM_VERSION); exit(0);
		case 'h':
		case OPT_HELP: usage(stdout); exit(0);
		case ':': die("%s needs a value (see mvm-jailer --help)", tok);
		default: die("unknown option '%s' (see mvm-jailer --help)", tok);
		}
		next = optind;
	}
	if (optind > next) {
		/* getopt consumed "--": everything after it belongs to the monitor. */
		j->extra = argv + optind;
		j->n_extra = argc - optind;
	} else if (optind < argc) {
		die("unexpected argument '%s' (arguments for the monitor go after '--')",
		    argv[optind]);
	}
	if (base)
		j->base_dir = base;

	if (!j->id)
		die("--id is required (see mvm-jailer --help)");
	if (!j->exec_file)
		die("--exec-file is required (see mvm-jailer --help)");
	if (!j->uid_arg)
		die("--uid is required (see mvm-jailer --help)");
	if (!j->gid_arg)
		die("--gid is required (see mvm-jailer --help)");
}
