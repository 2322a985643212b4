/*
 * mvm run [options] IMAGE [[--] CMD ARG...]: build (or find) the image's root
 * filesystem, boot the default kernel on it with mvm-init as init, hand the
 * init its job over the console, pass the workload's output through and exit
 * with its status. --snapshot-after-init: see run_snapshot.c.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/strbuf.h"
#include "../lib/util.h"
#include "cli.h"
#include "image.h"
#include "run_image.h"

#define MAX_LIST 64

static const char usage[] =
    "usage: mvm run [options] IMAGE [[--] CMD ARG...]\n"
    "  IMAGE as for mvm image build; CMD replaces the image's Entrypoint and Cmd\n"
    "  --cpus N  --mem MIB  --env K=V (or K: from here)  -v DRIVE:/PATH (an ext4 file)\n"
    "  --net TAP[=IP-CONFIG] (the kernel's ip=, default dhcp)  --vsock CID:UDS-PATH\n"
    "  --snapshot-after-init  --kernel FILE  --cache DIR  -q (no timing line)\n";

static const struct option lo[] = {
	{ "cpus", required_argument, NULL, 'c' },
	{ "mem", required_argument, NULL, 'm' },
	{ "env", required_argument, NULL, 'e' },
	{ "volume", required_argument, NULL, 'v' },
	{ "net", required_argument, NULL, 'n' },
	{ "vsock", required_argument, NULL, 'V' },
	{ "kernel", required_argument, NULL, 'k' },
	{ "cache", required_argument, NULL, 'C' },
	{ "snapshot-after-init", no_argument, NULL, 'S' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

bool cli_run_names_image(int argc, char **argv)
{
	/* Options of plain `mvm run` that take a value, beside ours. */
	static const char *valued[] = { "--rootfs",	  "--initrd",	  "--vcpus",
					"--cmdline",	  "--id",	  "--level",
					"--log-path",	  "--serial-out", "--cpu-template",
					"--metrics-path", "--pit",	  NULL };
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--") || a[0] != '-')
			return true;
		bool takes = !strchr(a, '=') && !strcmp(a, "-v");
		for (const struct option *o = lo; !takes && o->name; o++)
			takes = o->has_arg && !strchr(a, '=') && !strcmp(a + 2, o->name);
		for (int k = 0; !takes && valued[k]; k++)
			takes = !strcmp(a, valued[k]);
		i += takes;
	}
	return false;
}

static uint64_t num(const char *opt, const char *s, uint64_t max, bool *bad)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end || !*s || !v || v > max) {
		cli_fail("%s %s: a number from 1 to %llu", opt, s, (unsigned long long)max);
		*bad = true;
	}
	return v;
}

static int parse(int argc, char **argv, struct run_image *ri)
{
	bool bad = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+v:qh", lo, NULL)) != -1) {
		switch (c) {
		case 'c': ri->cpus = (unsigned)num("--cpus", optarg, 32, &bad); break;
		case 'm': ri->mem_mib = (unsigned)num("--mem", optarg, 1 << 20, &bad); break;
		case 'e':
			if (ri->nenv == MAX_LIST)
				return cli_fail("at most %d --env", MAX_LIST);
			if (!strchr(optarg, '=')) {
				const char *v = getenv(optarg);
				if (!v)
					continue; /* as docker: K unset here is not passed */
				char *kv;
				if (asprintf(&kv, "%s=%s", optarg, v) < 0)
					return cli_fail("out of memory");
				ri->env[ri->nenv++] = kv;
			} else {
				ri->env[ri->nenv++] = optarg;
			}
			break;
		case 'v':
			if (ri->nvol == MAX_LIST || !strchr(optarg, ':') ||
			    strchr(optarg, ':')[1] != '/')
				return cli_fail("-v %s: use -v DRIVE-FILE:/ABSOLUTE/PATH", optarg);
			ri->vol[ri->nvol++] = optarg;
			break;
		case 'n': ri->net = optarg; break;
		case 'V': ri->vsock = optarg; break;
		case 'k': ri->kernel = optarg; break;
		case 'C': ri->build.cache = optarg; break;
		case 'S': ri->snapshot = true; break;
		case 'q': ri->quiet = true; break;
		case 'h': fputs(usage, stdout); exit(0);
		default: return cli_fail("mvm run: unknown option or a missing value (see --help)");
		}
	}
	if (bad)
		return 1;
	if (optind >= argc)
		return cli_fail("%s", usage);
	ri->build.name = argv[optind++];
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	ri->cmd = argv + optind;
	ri->ncmd = argc - optind;
	if (ri->snapshot && (ri->net || ri->vsock || ri->nvol))
		return cli_fail("--snapshot-after-init does not go with --net, --vsock or -v yet");
	return 0;
}

/* The line that gives mvm-init its job: the command, --env, -v mounts. */
static char *job_line(const struct run_image *ri)
{
	struct strbuf b;
	strbuf_init(&b);
	strbuf_printf(&b, "mvm.nonce=%s", ri->nonce);
	for (int i = 0; i < ri->ncmd; i++)
		image_job_word(&b, "mvm.arg", ri->cmd[i]);
	for (int i = 0; i < ri->nenv; i++)
		image_job_word(&b, "mvm.env", ri->env[i]);
	for (int i = 0; i < ri->nvol; i++) {
		char m[4200];
		snprintf(m, sizeof(m), "/dev/vd%c:%s", 'b' + i, strchr(ri->vol[i], ':') + 1);
		image_job_word(&b, "mvm.mount", m);
	}
	strbuf_printf(&b, "\n");
	return strbuf_steal(&b);
}

int cmd_run_image(int argc, char **argv)
{
	static char *env[MAX_LIST], *vol[MAX_LIST];
	char cache[4096], init[4096], kernel[4096];
	struct run_image ri = { .cpus = 1, .mem_mib = 128, .env = env, .vol = vol };
	struct err e;
	signal(SIGPIPE, SIG_IGN); /* a monitor gone early: its stdin's writes fail */
	image_cache_dir(cache, sizeof(cache));
	ri.build.cache = cache;
	if (parse(argc, argv, &ri))
		return RUN_IMAGE_EXIT_MVM;
	if (image_find_beside_mvm("mvm-init", init, sizeof(init)))
		return cli_fail("mvm-init is not installed beside mvm (make all; make install)") *
		       RUN_IMAGE_EXIT_MVM;
	ri.build.init = init;
	if (!ri.kernel && getenv("MVM_KERNEL"))
		ri.kernel = getenv("MVM_KERNEL");
	if (!ri.kernel && !image_find_beside_mvm("vmlinux", kernel, sizeof(kernel)))
		ri.kernel = kernel;
	if (!ri.kernel)
		return cli_fail("no guest kernel: give --kernel FILE or set MVM_KERNEL (make guest "
				"builds build/guest/vmlinux)") *
		       RUN_IMAGE_EXIT_MVM;
	int r = image_build(&ri.build, ri.rootfs, sizeof(ri.rootfs), &e);
	if (r)
		return cli_fail("%s", err_str(&e, r)) * RUN_IMAGE_EXIT_MVM;
	snprintf(ri.nonce, sizeof(ri.nonce), "%08x%08x", (unsigned)mono_us(), (unsigned)getpid());
	char *line = job_line(&ri);
	ri.job = line;
	r = run_image(&ri);
	free(line);
	return r;
}
