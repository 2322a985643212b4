/* Image names to skopeo references; tarballs told apart by their members. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/util.h"
#include "image.h"

#define TAR_BLOCK 512

/* A ustar/GNU header's checksum: the bytes summed, the checksum field as spaces. */
static bool header_ok(const unsigned char *h)
{
	unsigned sum = 0;
	char field[9];
	for (int i = 0; i < TAR_BLOCK; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	memcpy(field, h + 148, 8);
	field[8] = '\0';
	return strtoul(field, NULL, 8) == sum;
}

/* Which kind of tarball: 1 oci-archive, 2 docker-archive; or -errno. */
static int sniff_tar(const char *path, struct err *e)
{
	int fd __attribute__((cleanup(cleanup_closep))) = open(path, O_RDONLY | O_CLOEXEC);
	unsigned char h[TAR_BLOCK];
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return err_set(e, -errno, "image %s: %s", path, strerror(errno));
	if (pread(fd, h, 2, 0) == 2 && h[0] == 0x1f && h[1] == 0x8b)
		return err_inval(e, "image %s is gzip-compressed: gunzip it first", path);
	for (uint64_t off = 0;;) {
		int r = read_full(fd, h, TAR_BLOCK, off);
		if (r || (h[0] && !header_ok(h)))
			return err_inval(e,
					 "image %s is not a whole tar archive (%s at byte %llu): "
					 "corrupted or truncated?",
					 path, r ? "cut short" : "a bad header",
					 (unsigned long long)off);
		if (!h[0])
			break; /* the end-of-archive block */
		char name[101], size[13];
		memcpy(name, h, 100);
		name[100] = '\0';
		memcpy(size, h + 124, 12);
		size[12] = '\0';
		const char *base = !strncmp(name, "./", 2) ? name + 2 : name;
		if (!strcmp(base, "oci-layout"))
			return 1;
		if (!strcmp(base, "manifest.json"))
			return 2;
		uint64_t n = strtoull(size, NULL, 8);
		off += TAR_BLOCK + (n + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
		if (off > (uint64_t)st.st_size)
			return err_inval(e, "image %s is truncated (a member runs past its end)",
					 path);
	}
	return err_inval(e,
			 "image %s is a tar archive with neither an oci-layout (an OCI archive) "
			 "nor a manifest.json (docker save)",
			 path);
}

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int image_ref(const char *name, char *ref, size_t size, struct err *e)
{
	static const char *transports[] = { "oci:", "oci-archive:", "docker-archive:" };
	char path[4096];
	struct stat st;
	if (!*name || strlen(name) >= sizeof(path))
		return err_inval(e, "image name '%s': empty or too long", name);
	for (unsigned i = 0; i < sizeof(transports) / sizeof(transports[0]); i++)
		if (!strncmp(name, transports[i], strlen(transports[i]))) {
			const char *p = name + strlen(transports[i]);
			snprintf(path, sizeof(path), "%.*s", (int)strcspn(p, ":"), p);
			if (stat(path, &st) < 0)
				return err_set(e, -errno, "image %s: %s", path, strerror(errno));
			if (i > 0 && !S_ISREG(st.st_mode))
				return err_inval(e, "image %s: not a file", path);
			snprintf(ref, size, "%s", name);
			return 0;
		}
	/* DIR[:TAG] */
	snprintf(path, sizeof(path), "%s", name);
	char *colon = strrchr(path, ':');
	if (!is_dir(path) && colon) {
		*colon = '\0';
		if (!is_dir(path))
			*colon = ':';
	}
	if (is_dir(path)) {
		char layout[4200];
		snprintf(layout, sizeof(layout), "%s/oci-layout", path);
		if (access(layout, R_OK) < 0)
			return err_inval(e, "image %s: a folder without an oci-layout file", path);
		snprintf(ref, size, "oci:%s", name);
		return 0;
	}
	if (stat(name, &st) < 0)
		return err_set(e, -errno, "image %s: %s", name, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return err_inval(e, "image %s: not a file or an OCI layout folder", name);
	int kind = sniff_tar(name, e);
	if (kind < 0)
		return kind;
	snprintf(ref, size, "%s:%s", kind == 1 ? "oci-archive" : "docker-archive", name);
	return 0;
}
