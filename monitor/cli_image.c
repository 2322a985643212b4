/* mvm image build IMAGE [-o FILE] [--size MIB] [--cache DIR]: a container
 * image as an ext4 root filesystem with mvm-init (see image_build.c). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/spawn.h"
#include "cli.h"
#include "image.h"

void image_cache_dir(char *buf, size_t size)
{
	const char *v = getenv("MVM_CACHE_DIR"), *x = getenv("XDG_CACHE_HOME");
	if (v && *v)
		snprintf(buf, size, "%s", v);
	else if (x && *x)
		snprintf(buf, size, "%s/mvm/images", x);
	else
		snprintf(buf, size, "%s/.cache/mvm/images", getenv("HOME") ? getenv("HOME") : "/");
}

int image_find_beside_mvm(const char *name, char *buf, size_t size)
{
	static const char *where[] = { "/", "/../libexec/mvm/", "/../share/mvm/", "/../guest/" };
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return -errno;
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	for (unsigned i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		snprintf(buf, size, "%s%s%s", self, where[i], name);
		if (access(buf, R_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

static const char usage[] =
    "usage: mvm image build IMAGE [-o FILE] [--size MIB] [--cache DIR] [-q]\n"
    "  IMAGE: an OCI layout folder DIR[:TAG], oci-archive:FILE[:TAG],\n"
    "         docker-archive:FILE or a tarball from docker save / skopeo\n";

int cmd_image(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "size", required_argument, NULL, 's' },
		{ "cache", required_argument, NULL, 'c' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char cache[4096], init[4096], path[4096 + 128];
	struct image_build b = { .verbose = true };
	struct err e;
	int c;
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "build"))
		return cli_fail("%s", usage);
	image_cache_dir(cache, sizeof(cache));
	b.cache = cache;
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "o:qh", lo, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'o': b.out = optarg; break;
		case 's':
			b.size_mib = strtoull(optarg, &end, 10);
			if (*end || !b.size_mib || b.size_mib > (1u << 20))
				return cli_fail("--size %s: a number of MiB, 1 to 1048576", optarg);
			break;
		case 'c': b.cache = optarg; break;
		case 'q': b.verbose = false; break;
		case 'h': fputs(usage, stdout); return 0;
		default: return cli_fail("mvm image build: unknown option (see --help)");
		}
	}
	if (optind != argc - 2)
		return cli_fail("%s", usage);
	b.name = argv[optind + 1];
	if (image_find_beside_mvm("mvm-init", init, sizeof(init)))
		return cli_fail("mvm-init is not installed beside mvm (make all; make install)");
	b.init = init;
	int r = image_build(&b, path, sizeof(path), &e);
	if (r)
		return cli_fail("%s", err_str(&e, r));
	if (!b.out) {
		printf("%s\n", path);
		return 0;
	}
	char tmp[4200], why[400];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", b.out, (int)getpid());
	char *cp[] = { "cp", "--sparse=always", "--reflink=auto", path, tmp, NULL };
	if (spawn_run(cp, NULL, why, sizeof(why)) || rename(tmp, b.out) < 0) {
		unlink(tmp);
		return cli_fail("cannot write %s: %s", b.out, *why ? why : strerror(errno));
	}
	printf("%s\n", b.out);
	return 0;
}
