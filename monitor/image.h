/* Container images into root filesystems for `mvm image build` and `mvm run IMAGE`. */
#ifndef MVM_IMAGE_H
#define MVM_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/err.h"
#include "../lib/strbuf.h"

/*
 * An image name as skopeo and umoci write them, as a skopeo reference:
 *   DIR[:TAG]                  an OCI layout directory    -> oci:DIR[:TAG]
 *   oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF]  as given
 *   FILE                       a tarball, told apart by what it holds: an
 *                              oci-layout (oci-archive) or a manifest.json
 *                              (docker save) -> oci-archive:FILE / docker-archive:FILE
 * 0 or -errno with a sentence in e (a missing file, a tarball that is neither,
 * a corrupted or truncated tar header).
 */
int image_ref(const char *name, char *ref, size_t size, struct err *e);

/* The job words (rootfs-tools/mvm-init/job.c) for the runtime config that
 * umoci unpack wrote (config.json: process.args, env, cwd, user), one a line. */
int image_job_from_config(const char *config_json, size_t len, struct strbuf *out, struct err *e);
/* Append " KEY=HEX" (value as hex) to out: a job word. */
void image_job_word(struct strbuf *out, const char *key, const char *value);

struct image_build {
	const char *name;  /* as given by the user */
	const char *out;   /* -o FILE, or NULL: the cache only */
	const char *cache; /* the cache folder (made if missing) */
	const char *init;  /* the mvm-init binary to put in the image */
	uint64_t size_mib; /* 0: what the files need, plus room */
	bool verbose;
};

/* Build (or find in the cache, by manifest digest) the ext4 root filesystem
 * for b->name; its path in the cache goes to path. Nothing is left behind on
 * failure. */
int image_build(const struct image_build *b, char *path, size_t size, struct err *e);

/* The default cache folder: $MVM_CACHE_DIR, else $XDG_CACHE_HOME/mvm/images,
 * else ~/.cache/mvm/images. */
void image_cache_dir(char *buf, size_t size);
/* A file installed beside the mvm binary, or in ../libexec/mvm/, or
 * ../share/mvm/ (make install); 0 or -ENOENT. */
int image_find_beside_mvm(const char *name, char *buf, size_t size);

#endif
