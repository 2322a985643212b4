/*
 * mvm image build: an image -> skopeo copy (an OCI layout) -> umoci unpack (a
 * runtime bundle: rootfs/ and config.json) -> mvm-init and its job file in
 * the rootfs -> mkfs.ext4 -d (no mount, no loop device). The result is cached
 * by the image's manifest digest; a failed build leaves nothing behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/json.h"
#include "../lib/spawn.h"
#include "../lib/util.h"
#include "image.h"

#define PATHLEN 4096

/* Run a tool; a failure becomes "WHAT failed: <its last words>". */
static int tool(const char *what, char *const argv[], char **out, struct err *e)
{
	char why[400];
	int r = spawn_run(argv, out, why, sizeof(why));
	if (r < 0)
		return err_set(e, r, "%s", why);
	if (r > 0)
		return err_inval(e, "%s failed (%s exit status %d): %s", what, argv[0], r, why);
	return 0;
}

/* skopeo inspect: the manifest digest (hex) and a check of OS and architecture. */
static int inspect(const char *ref, char *digest, size_t size, struct err *e)
{
	char *out = NULL, os[32] = "", arch[32] = "", dg[80] = "";
	char *argv[] = { "skopeo", "inspect", (char *)ref, NULL };
	int r = tool("reading the image (skopeo inspect)", argv, &out, e);
	struct json j = { 0 };
	if (!r)
		r = json_parse(&j, out, strlen(out), e);
	for_each_member (&j, 0, k, v) {
		if (r)
			break;
		if (json_key_is(&j, k, "Digest"))
			r = json_string_buf(&j, v, "Digest", dg, sizeof(dg), e);
		else if (json_key_is(&j, k, "Os"))
			r = json_string_buf(&j, v, "Os", os, sizeof(os), e);
		else if (json_key_is(&j, k, "Architecture"))
			r = json_string_buf(&j, v, "Architecture", arch, sizeof(arch), e);
	}
	json_free(&j);
	free(out);
	if (r)
		return r;
	if (strcmp(os, "linux") || strcmp(arch, "amd64"))
		return err_inval(e, "the image is for %s/%s; mvm runs linux/amd64 guests",
				 *os ? os : "?", *arch ? arch : "?");
	if (strncmp(dg, "sha256:", 7) || strlen(dg) != 71 ||
	    strspn(dg + 7, "0123456789abcdef") != 64)
		return err_inval(e, "skopeo gave no sha256 manifest digest for the image");
	snprintf(digest, size, "%s", dg + 7);
	return 0;
}

/* The unpacked tree: its size, and no device nodes. umoci (as root) makes
 * the nodes a layer asks for; the guest gets its devices from devtmpfs on
 * /dev, and a node elsewhere (a /dev/mem twin open to all, say) would only
 * hand the workload the guest's hardware. */
static uint64_t tree_bytes, tree_nodes;
static int walk(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)flag, (void)f;
	if ((S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) && unlink(p) == 0)
		tree_nodes++;
	tree_bytes += (uint64_t)st->st_blocks * 512 + 256; /* + an inode */
	return 0;
}

/* mvm-init, its job and the mount points it needs, into the unpacked rootfs. */
static int add_init(const struct image_build *b, const char *bundle, struct err *e)
{
	char p[PATHLEN + 64], *cfg = NULL;
	struct strbuf job;
	int r;
	snprintf(p, sizeof(p), "%s/config.json", bundle);
	char *cat[] = { "cat", p, NULL };
	if ((r = tool("reading umoci's config.json", cat, &cfg, e)))
		return r;
	strbuf_init(&job);
	r = image_job_from_config(cfg, strlen(cfg), &job, e);
	free(cfg);
	static const char *dirs[] = { "/.mvm", "/proc", "/sys", "/dev", "/tmp", "/run" };
	for (unsigned i = 0; !r && i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/rootfs%s", bundle, dirs[i]);
		struct stat st;
		if (lstat(p, &st) < 0 && mkdir(p, i == 4 ? 01777 : 0755) < 0)
			r = err_set(e, -errno, "%s: %s", p, strerror(errno));
	}
	if (!r) {
		snprintf(p, sizeof(p), "%s/rootfs/.mvm/job", bundle);
		int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0 || write_full(fd, job.s ? job.s : "", job.len))
			r = err_set(e, -EIO, "cannot write %s", p);
		if (fd >= 0)
			close(fd);
	}
	strbuf_fini(&job);
	snprintf(p, sizeof(p), "%s/rootfs/.mvm/init", bundle);
	char *cp[] = { "install", "-m", "0755", (char *)b->init, p, NULL };
	return r ? r : tool("installing mvm-init", cp, NULL, e);
}

/* mkfs.ext4 -d: as root, owners as in the image; otherwise in a user
 * namespace where we are root (umoci --rootless gave us every file). */
static int make_ext4(const struct image_build *b, const char *bundle, const char *img,
		     struct err *e)
{
	char root[PATHLEN + 16], size[32];
	snprintf(root, sizeof(root), "%s/rootfs", bundle);
	tree_bytes = tree_nodes = 0;
	if (nftw(root, walk, 64, FTW_PHYS) < 0)
		return err_set(e, -errno, "cannot walk %s: %s", root, strerror(errno));
	if (tree_nodes && b->verbose)
		fprintf(stderr, "mvm: left out %llu device node(s) of the image's layers\n",
			(unsigned long long)tree_nodes);
	uint64_t need = (tree_bytes + tree_bytes / 8) / (1 << 20) + 8;
	if (b->size_mib && b->size_mib < need)
		return err_inval(e,
				 "the image's files need about %llu MiB; --size %llu MiB is too "
				 "small",
				 (unsigned long long)need, (unsigned long long)b->size_mib);
	uint64_t mib = b->size_mib ? b->size_mib : need + need / 4 + 16;
	snprintf(size, sizeof(size), "%lluM", (unsigned long long)mib);
	char *mk[] = {
		"unshare", "--map-root-user", "mkfs.ext4", "-q", "-F",	      "-L", "mvm-image",
		"-E",	   "root_owner=0:0",  "-d",	   root, (char *)img, size, NULL
	};
	int r = tool("making the ext4 file system (mkfs.ext4 -d)", getuid() ? mk : mk + 2, NULL, e);
	if (r && strstr(e->msg, "allocate"))
		err_prefix(e, "the files do not fit in %s", size);
	return r;
}

static void remove_tree(const char *p)
{
	char *rm[] = { "rm", "-rf", "--one-file-system", (char *)p, NULL };
	char why[64];
	spawn_run(rm, NULL, why, sizeof(why));
}

static int build(const struct image_build *b, const char *ref, const char *tmp, const char *img,
		 struct err *e)
{
	char layout[PATHLEN], bundle[PATHLEN];
	snprintf(layout, sizeof(layout), "oci:%s/layout:mvm", tmp);
	snprintf(bundle, sizeof(bundle), "%s/bundle", tmp);
	char *copy[] = { "skopeo", "copy", "--quiet", (char *)ref, layout, NULL };
	int r = tool("copying the image (skopeo copy)", copy, NULL, e);
	char *unpack[] = { "umoci", "unpack", "--rootless", "--image", layout + 4, bundle, NULL };
	if (!r && getuid() == 0)
		memmove(&unpack[2], &unpack[3], 4 * sizeof(char *)); /* no --rootless */
	if (!r)
		r = tool("unpacking the layers (umoci unpack)", unpack, NULL, e);
	if (!r)
		r = add_init(b, bundle, e);
	if (!r)
		r = make_ext4(b, bundle, img, e);
	return r;
}

int image_build(const struct image_build *b, char *path, size_t size, struct err *e)
{
	char ref[PATHLEN], digest[80], tmp[PATHLEN - 200], img[PATHLEN];
	struct stat st;
	int r = image_ref(b->name, ref, sizeof(ref), e);
	if (r || (r = inspect(ref, digest, sizeof(digest), e)))
		return r;
	if (stat(b->init, &st) < 0)
		return err_set(e, -errno, "mvm-init %s: %s (make all builds it)", b->init,
			       strerror(errno));
	char *mkd[] = { "mkdir", "-p", (char *)b->cache, NULL };
	if ((r = tool("making the cache folder", mkd, NULL, e)))
		return r;
	/* The key: the manifest, the init that goes in, the size asked. */
	snprintf(path, size, "%s/%.32s-%llx%llx-%llu.ext4", b->cache, digest,
		 (unsigned long long)st.st_size, (unsigned long long)st.st_mtime,
		 (unsigned long long)b->size_mib);
	if (access(path, R_OK) == 0) {
		if (b->verbose)
			fprintf(stderr, "mvm: image %s (sha256:%.12s) cached: %s\n", b->name,
				digest, path);
		return 0;
	}
	if (strlen(b->cache) > sizeof(tmp) - 16)
		return err_inval(e, "the cache folder's path is too long");
	snprintf(tmp, sizeof(tmp), "%s/.build-XXXXXX", b->cache);
	if (!mkdtemp(tmp))
		return err_set(e, -errno, "cannot make a folder in %s: %s", b->cache,
			       strerror(errno));
	snprintf(img, sizeof(img), "%s/rootfs.ext4", tmp);
	r = build(b, ref, tmp, img, e);
	if (!r && rename(img, path) < 0)
		r = err_set(e, -errno, "cannot move the image to %s: %s", path, strerror(errno));
	remove_tree(tmp);
	if (!r && b->verbose)
		fprintf(stderr, "mvm: image %s (sha256:%.12s) -> %s\n", b->name, digest, path);
	return r;
}
