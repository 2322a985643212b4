/* The MMDS data store's JSON tree (jtree.h). */
#include "jtree.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../../lib/json.h"
#include "../../../lib/strbuf.h"

void jt_free(struct jt *t)
{
	while (t) {
		struct jt *next = t->next;
		jt_free(t->kids);
		free(t->key);
		free(t->text);
		free(t);
		t = next;
	}
}

static char *dup_range(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static char *tok_dup(const struct json *j, int i)
{
	return dup_range(j->s + j->t[i].start, (size_t)(j->t[i].end - j->t[i].start));
}

static int key_cmp(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

/* Where key belongs in obj's sorted members: the link to it or to its successor. */
static struct jt **slot_of(struct jt *obj, const char *key)
{
	struct jt **p = &obj->kids;
	while (*p && key_cmp((*p)->key, key) < 0)
		p = &(*p)->next;
	return p;
}

static bool at(struct jt **slot, const char *key)
{
	return *slot && !key_cmp((*slot)->key, key);
}

/* Put m (with its key) into obj, replacing a member of the same key. */
static void put_member(struct jt *obj, struct jt *m)
{
	struct jt **slot = slot_of(obj, m->key);
	if (at(slot, m->key)) {
		struct jt *old = *slot;
		*slot = old->next;
		old->next = NULL;
		jt_free(old);
	}
	m->next = *slot;
	*slot = m;
}

static enum jt_kind kind_of(const struct json *j, int i)
{
	const jsmntok_t *t = &j->t[i];
	switch (t->type) {
	case JSMN_OBJECT: return JT_OBJ;
	case JSMN_ARRAY: return JT_ARR;
	case JSMN_STRING: return JT_STR;
	default: break;
	}
	char c = j->s[t->start];
	return c == 'n' ? JT_NULL : (c == 't' || c == 'f') ? JT_BOOL : JT_NUM;
}

struct jt *jt_from_json(const struct json *j, int i)
{
	struct jt *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->kind = kind_of(j, i);
	if (t->kind == JT_OBJ) {
		for_each_member (j, i, k, v) {
			struct jt *m = jt_from_json(j, v);
			if (!m || !(m->key = tok_dup(j, k))) {
				jt_free(m);
				goto oom;
			}
			put_member(t, m);
		}
	} else if (t->kind == JT_ARR) {
		struct jt **tail = &t->kids;
		for (int n = 0, c = i + 1; n < j->t[i].size; n++, c = json_next(j, c)) {
			if (!(*tail = jt_from_json(j, c)))
				goto oom;
			tail = &(*tail)->next;
		}
	} else if (!(t->text = tok_dup(j, i))) {
		goto oom;
	}
	return t;
oom:
	jt_free(t);
	return NULL;
}

struct jt *jt_clone(const struct jt *t)
{
	struct jt *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->kind = t->kind;
	if ((t->key && !(c->key = strdup(t->key))) || (t->text && !(c->text = strdup(t->text))))
		goto oom;
	struct jt **tail = &c->kids;
	for (const struct jt *k = t->kids; k; k = k->next) {
		if (!(*tail = jt_clone(k)))
			goto oom;
		tail = &(*tail)->next;
	}
	return c;
oom:
	jt_free(c);
	return NULL;
}

void jt_write(const struct jt *t, struct strbuf *b)
{
	switch (t->kind) {
	case JT_STR: strbuf_printf(b, "\"%s\"", t->text); return;
	case JT_OBJ:
	case JT_ARR: break;
	default: strbuf_printf(b, "%s", t->text); return;
	}
	bool obj = t->kind == JT_OBJ;
	strbuf_printf(b, "%c", obj ? '{' : '[');
	for (const struct jt *k = t->kids; k; k = k->next) {
		if (obj)
			strbuf_printf(b, "\"%s\":", k->key);
		jt_write(k, b);
		if (k->next)
			strbuf_printf(b, ",");
	}
	strbuf_printf(b, "%c", obj ? '}' : ']');
}

struct jt *jt_merge(struct jt *target, struct jt *patch)
{
	if (patch->kind != JT_OBJ) {
		jt_free(target);
		return patch;
	}
	if (!target || target->kind != JT_OBJ) {
		jt_free(target);
		if (!(target = calloc(1, sizeof(*target)))) {
			jt_free(patch);
			return NULL;
		}
		target->kind = JT_OBJ;
	}
	while (patch->kids) {
		struct jt *v = patch->kids;
		patch->kids = v->next;
		v->next = NULL;
		struct jt **slot = slot_of(target, v->key);
		struct jt *old = NULL;
		if (at(slot, v->key)) {
			old = *slot;
			*slot = old->next;
			old->next = NULL;
		}
		if (v->kind == JT_NULL) {
			jt_free(old);
			jt_free(v);
			continue;
		}
		char *key = v->key;
		v->key = NULL;
		if (old) {
			free(old->key);
			old->key = NULL;
		}
		struct jt *m = jt_merge(old, v);
		if (!m) {
			free(key);
			jt_free(patch);
			jt_free(target);
			return NULL;
		}
		m->key = key;
		put_member(target, m);
	}
	jt_free(patch);
	return target;
}

struct jt *jt_member(const struct jt *obj, const char *key, size_t len)
{
	if (!obj || obj->kind != JT_OBJ)
		return NULL;
	for (struct jt *k = obj->kids; k; k = k->next)
		if (strlen(k->key) == len && !memcmp(k->key, key, len))
			return k;
	return NULL;
}

static int hex4(const char *s, uint32_t *out)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;
		if (d < 0)
			return -1;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return 0;
}

static void put_utf8(struct strbuf *b, uint32_t cp)
{
	if (cp < 0x80)
		strbuf_printf(b, "%c", (char)cp);
	else if (cp < 0x800)
		strbuf_printf(b, "%c%c", (char)(0xc0 | cp >> 6), (char)(0x80 | (cp & 0x3f)));
	else if (cp < 0x10000)
		strbuf_printf(b, "%c%c%c", (char)(0xe0 | cp >> 12), (char)(0x80 | (cp >> 6 & 0x3f)),
			      (char)(0x80 | (cp & 0x3f)));
	else
		strbuf_printf(b, "%c%c%c%c", (char)(0xf0 | cp >> 18),
			      (char)(0x80 | (cp >> 12 & 0x3f)), (char)(0x80 | (cp >> 6 & 0x3f)),
			      (char)(0x80 | (cp & 0x3f)));
}

void jt_unescape(const char *raw, struct strbuf *b)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	for (const char *p = raw; *p; p++) {
		if (*p != '\\' || !p[1]) {
			strbuf_printf(b, "%c", *p);
			continue;
		}
		const char *e = strchr(from, *++p);
		uint32_t cp, lo;
		if (e) {
			strbuf_printf(b, "%c", to[e - from]);
		} else if (*p == 'u' && strlen(p) >= 5 && !hex4(p + 1, &cp)) {
			p += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && p[1] == '\\' && p[2] == 'u' &&
			    strlen(p) >= 7 && !hex4(p + 3, &lo) && lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			}
			if (cp && (cp < 0xd800 || cp >= 0xe000))
				put_utf8(b, cp);
		}
	}
}
