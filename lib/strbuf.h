/* A growable string, for JSON bodies and metrics lines. */
#ifndef MVM_STRBUF_H
#define MVM_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *s;
	size_t len, cap;
	bool oom; /* an allocation failed: the contents are truncated */
};

void strbuf_init(struct strbuf *b);
void strbuf_fini(struct strbuf *b);
void strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s as a quoted, escaped JSON string; NULL becomes null. */
void strbuf_json_str(struct strbuf *b, const char *s);
/* Hand the string over (never NULL); the buffer is empty afterwards. */
char *strbuf_steal(struct strbuf *b);

#endif
