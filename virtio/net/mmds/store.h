/*
 * The MMDS data store (one per monitor, on the vmm thread): PUT replaces it,
 * PATCH merges into it (RFC 7396), both bounded by a size limit on the
 * stored JSON; the guest reads it by path as JSON or as IMDS text.
 */
#ifndef MVM_MMDS_STORE_H
#define MVM_MMDS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;
struct jt;
struct strbuf;

#define MMDS_DEFAULT_LIMIT 51200 /* Firecracker's: its API payload limit */

struct mmds_store {
	struct jt *root; /* NULL until the first PUT */
	size_t limit;	 /* bytes of the stored JSON */
};

/* The monitor's store (its limit from --mmds-size-limit). */
struct mmds_store *mmds_store(void);
void mmds_store_fini(struct mmds_store *s);
/* Replace the contents with tree (taken). -EFBIG past the limit (contents
 * kept), with Firecracker's sentence in e. */
int mmds_store_put(struct mmds_store *s, struct jt *tree, struct err *e);
/* Merge patch (taken) into the contents. -EINVAL before any PUT, -EFBIG if
 * the result would pass the limit (contents kept). */
int mmds_store_patch(struct mmds_store *s, struct jt *patch, struct err *e);
/* The whole store as JSON ({} before any PUT). */
void mmds_store_json(const struct mmds_store *s, struct strbuf *b);

enum mmds_fmt { MMDS_FMT_IMDS, MMDS_FMT_JSON };
/* The value at path ("/a/b", empty segments ignored) into b: 0, -ENOENT
 * (no such value), -ENOTSUP (IMDS text of a value other than an object or a
 * string). */
int mmds_store_get(const struct mmds_store *s, const char *path, size_t len, enum mmds_fmt fmt,
		   struct strbuf *b);

#endif
