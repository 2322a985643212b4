/* A thin typed layer over jsmn: strict values, field-by-field errors. */
#ifndef MVM_JSON_H
#define MVM_JSON_H

#define JSMN_HEADER
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>
#undef JSMN_HEADER

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define JSON_MAX_TOKENS 4096

struct json {
	const char *s;
	jsmntok_t *t;
	int n;
};

int json_parse(struct json *j, const char *s, size_t len, struct err *e);
void json_free(struct json *j);
/* Iterate the key/value pairs of object token obj: k is a key's index, v its value's. */
#define for_each_member(j, obj, k, v)                                       \
	for (int k = (obj) + 1, v = k + 1, n__ = 0; n__ < (j)->t[obj].size; \
	     n__++, k = json_next((j), v), v = k + 1)

/* Errors worded as Firecracker's (serde's) are: "unknown field `NAME` at line L
 * column C (in SECTION)" for key token k, "missing field `NAME` at line L column
 * C." for object token obj (its closing brace). Both return -EINVAL. */
int json_unknown_field(const struct json *j, int k, const char *section, struct err *e);
int json_missing_field(const struct json *j, int obj, const char *name, struct err *e);

/* Index of the token after the subtree rooted at i. */
int json_next(const struct json *j, int i);
bool json_key_is(const struct json *j, int i, const char *name);
int json_string(const struct json *j, int i, const char *field, char **out, struct err *e);
/* A string copied into a fixed buffer (rejects longer ones). */
int json_string_buf(const struct json *j, int i, const char *field, char *buf, size_t size,
		    struct err *e);
int json_bool(const struct json *j, int i, const char *field, bool *out, struct err *e);
int json_i64(const struct json *j, int i, const char *field, int64_t *out, struct err *e);
int json_u64(const struct json *j, int i, const char *field, uint64_t min, uint64_t max,
	     uint64_t *out, struct err *e);
bool json_is_null(const struct json *j, int i);
int json_expect_object(const struct json *j, int i, const char *what, struct err *e);
/* Token i's text, for messages; at most max bytes. */
void json_tok_text(const struct json *j, int i, char *buf, size_t max);

/* Append `s` as a JSON string literal (quoted, escaped) to buf; returns bytes used. */
size_t json_escape(char *buf, size_t size, const char *s);

#endif
