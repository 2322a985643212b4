#include "strbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_init(struct strbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void strbuf_fini(struct strbuf *b)
{
	free(b->s);
	strbuf_init(b);
}

static bool reserve(struct strbuf *b, size_t more)
{
	if (b->oom)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *s = realloc(b->s, cap);
	if (!s) {
		b->oom = true;
		return false;
	}
	b->s = s;
	b->cap = cap;
	return true;
}

void strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Bytes in a well-formed UTF-8 character starting at p (0: not one). */
static size_t utf8_char(const unsigned char *p)
{
	size_t n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
	if (!n || p[0] > 0xf4)
		return 0;
	for (size_t k = 1; k < n; k++)
		if ((p[k] & 0xc0) != 0x80)
			return 0;
	uint32_t cp = p[0] & (0x7f >> n);
	for (size_t k = 1; k < n; k++)
		cp = (cp << 6) | (p[k] & 0x3f);
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void strbuf_json_str(struct strbuf *b, const char *s)
{
	if (!s) {
		strbuf_printf(b, "null");
		return;
	}
	if (!reserve(b, strlen(s) * 6 + 2))
		return;
	char *o = b->s + b->len;
	*o++ = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		if (*p == '"' || *p == '\\') {
			*o++ = '\\';
			*o++ = (char)*p++;
		} else if (*p < 0x20) {
			o += sprintf(o, "\\u%04x", *p++);
		} else if (*p < 0x80) {
			*o++ = (char)*p++;
		} else {
			/* JSON is UTF-8: a byte that starts no valid character becomes U+FFFD. */
			size_t n = utf8_char(p);
			if (n) {
				memcpy(o, p, n);
				o += n;
				p += n;
			} else {
				o += sprintf(o, "\\ufffd");
				p++;
			}
		}
	}
	*o++ = '"';
	*o = '\0';
	b->len = (size_t)(o - b->s);
}

char *strbuf_steal(struct strbuf *b)
{
	char *s = b->s ? b->s : strdup("");
	strbuf_init(b);
	return s;
}
