#include "wire.h"

#include <stdlib.h>
#include <string.h>

void wire_init(struct wire *w)
{
	memset(w, 0, sizeof(*w));
}

void wire_reader(struct wire *w, const void *p, size_t len)
{
	memset(w, 0, sizeof(*w));
	w->buf = (uint8_t *)p;
	w->len = len;
	w->cap = 0; /* not ours: wire_fini leaves it */
}

void wire_fini(struct wire *w)
{
	if (w->cap)
		free(w->buf);
	memset(w, 0, sizeof(*w));
}

void wire_put(struct wire *w, const void *p, size_t n)
{
	if (w->bad)
		return;
	if (n > WIRE_MAX - w->len) {
		w->bad = true;
		return;
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap < w->len + n)
			cap *= 2;
		uint8_t *b = realloc(w->buf, cap);
		if (!b) {
			w->bad = true;
			return;
		}
		w->buf = b;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void wire_put_u32(struct wire *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	wire_put(w, b, 4);
}

void wire_put_u64(struct wire *w, uint64_t v)
{
	wire_put_u32(w, (uint32_t)v);
	wire_put_u32(w, (uint32_t)(v >> 32));
}

void wire_put_str(struct wire *w, const char *s)
{
	if (!s) {
		wire_put_u32(w, UINT32_MAX);
		return;
	}
	size_t n = strlen(s);
	if (n >= UINT32_MAX) {
		w->bad = true;
		return;
	}
	wire_put_u32(w, (uint32_t)n);
	wire_put(w, s, n);
}

bool wire_get(struct wire *w, void *p, size_t n)
{
	if (w->bad || n > w->len - w->pos) {
		w->bad = true;
		memset(p, 0, n);
		return false;
	}
	memcpy(p, w->buf + w->pos, n);
	w->pos += n;
	return true;
}

uint32_t wire_get_u32(struct wire *w)
{
	uint8_t b[4];
	if (!wire_get(w, b, 4))
		return 0;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

uint64_t wire_get_u64(struct wire *w)
{
	uint64_t lo = wire_get_u32(w);
	return lo | (uint64_t)wire_get_u32(w) << 32;
}

/* The next string's length, checked; UINT32_MAX for NULL. */
static uint32_t str_len(struct wire *w, size_t max)
{
	uint32_t n = wire_get_u32(w);
	if (n == UINT32_MAX || w->bad)
		return n;
	if (n > max || n > w->len - w->pos || memchr(w->buf + w->pos, '\0', n)) {
		w->bad = true;
		return 0;
	}
	return n;
}

char *wire_get_str(struct wire *w, size_t max)
{
	uint32_t n = str_len(w, max);
	if (n == UINT32_MAX || w->bad)
		return NULL;
	char *s = malloc((size_t)n + 1);
	if (!s) {
		w->bad = true;
		return NULL;
	}
	wire_get(w, s, n);
	s[n] = '\0';
	return s;
}

bool wire_get_strbuf(struct wire *w, char *buf, size_t size)
{
	uint32_t n = str_len(w, size - 1);
	if (n == UINT32_MAX)
		w->bad = true;
	if (w->bad) {
		buf[0] = '\0';
		return false;
	}
	wire_get(w, buf, n);
	buf[n] = '\0';
	return true;
}

bool wire_ok(const struct wire *w)
{
	return !w->bad && w->pos == w->len;
}
