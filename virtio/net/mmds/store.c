/* The MMDS data store (store.h). */
#include "store.h"

#include <errno.h>
#include <string.h>

#include "../../../lib/err.h"
#include "../../../lib/strbuf.h"
#include "jtree.h"

static struct mmds_store the_store = { .limit = MMDS_DEFAULT_LIMIT };

struct mmds_store *mmds_store(void)
{
	return &the_store;
}

void mmds_store_fini(struct mmds_store *s)
{
	jt_free(s->root);
	s->root = NULL;
}

static size_t json_size(const struct jt *t)
{
	struct strbuf b;
	strbuf_init(&b);
	jt_write(t, &b);
	size_t n = b.oom ? SIZE_MAX : b.len;
	strbuf_fini(&b);
	return n;
}

static int too_big(struct err *e)
{
	return err_set(e, -EFBIG, "The MMDS patch request doesn't fit.");
}

int mmds_store_put(struct mmds_store *s, struct jt *tree, struct err *e)
{
	if (json_size(tree) > s->limit) {
		jt_free(tree);
		return too_big(e);
	}
	jt_free(s->root);
	s->root = tree;
	return 0;
}

int mmds_store_patch(struct mmds_store *s, struct jt *patch, struct err *e)
{
	if (!s->root) {
		jt_free(patch);
		return err_inval(e, "The MMDS data store is not initialized.");
	}
	struct jt *copy = jt_clone(s->root);
	if (!copy) {
		jt_free(patch);
		return err_set(e, -ENOMEM, "out of memory");
	}
	struct jt *merged = jt_merge(copy, patch);
	if (!merged)
		return err_set(e, -ENOMEM, "out of memory");
	if (json_size(merged) > s->limit) {
		jt_free(merged);
		return too_big(e);
	}
	jt_free(s->root);
	s->root = merged;
	return 0;
}

void mmds_store_json(const struct mmds_store *s, struct strbuf *b)
{
	if (s->root)
		jt_write(s->root, b);
	else
		strbuf_printf(b, "{}");
}

static int imds_text(const struct jt *t, struct strbuf *b)
{
	if (t->kind == JT_STR) {
		jt_unescape(t->text, b);
		return 0;
	}
	if (t->kind != JT_OBJ)
		return -ENOTSUP;
	for (const struct jt *k = t->kids; k; k = k->next)
		strbuf_printf(b, "%s%s%s", k->key, k->kind == JT_OBJ ? "/" : "",
			      k->next ? "\n" : "");
	return 0;
}

int mmds_store_get(const struct mmds_store *s, const char *path, size_t len, enum mmds_fmt fmt,
		   struct strbuf *b)
{
	const struct jt *t = s->root;
	size_t i = 0;
	if (!t)
		return -ENOENT;
	while (i < len) {
		while (i < len && path[i] == '/')
			i++;
		size_t j = i;
		while (j < len && path[j] != '/')
			j++;
		if (j > i && !(t = jt_member(t, path + i, j - i)))
			return -ENOENT;
		i = j;
	}
	if (fmt == MMDS_FMT_JSON) {
		jt_write(t, b);
		return 0;
	}
	return imds_text(t, b);
}
