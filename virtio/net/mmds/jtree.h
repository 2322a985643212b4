/*
 * A mutable JSON tree for the MMDS data store: built from a parsed document
 * (lib/json's tokens), merged (RFC 7396), written back, looked up by path.
 * Strings and keys keep their JSON escapes; objects keep their members sorted
 * by key, so output is stable (as Firecracker's, whose maps are ordered).
 */
#ifndef MVM_MMDS_JTREE_H
#define MVM_MMDS_JTREE_H

#include <stddef.h>

struct json;
struct strbuf;

enum jt_kind { JT_NULL, JT_BOOL, JT_NUM, JT_STR, JT_ARR, JT_OBJ };

struct jt {
	enum jt_kind kind;
	char *key;	 /* a member's key, escapes kept (NULL outside objects) */
	char *text;	 /* a scalar's text; a string without its quotes */
	struct jt *kids; /* an array's items, an object's members (sorted) */
	struct jt *next;
};

/* Token i of j as a tree; NULL when out of memory. */
struct jt *jt_from_json(const struct json *j, int i);
struct jt *jt_clone(const struct jt *t);
void jt_free(struct jt *t);
/* Compact JSON. */
void jt_write(const struct jt *t, struct strbuf *b);
/* RFC 7396: patch applied to target; both are taken. NULL: out of memory
 * (both freed). */
struct jt *jt_merge(struct jt *target, struct jt *patch);
/* The member of obj named key[0..len) (compared as written), or NULL. */
struct jt *jt_member(const struct jt *obj, const char *key, size_t len);
/* A JSON string's raw text, unescaped into b (\uXXXX as UTF-8). */
void jt_unescape(const char *raw, struct strbuf *b);

#endif
