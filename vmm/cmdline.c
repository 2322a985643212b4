#include "cmdline.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void cmdline_append(struct cmdline *c, const char *fmt, ...)
{
	va_list ap;
	if (c->len && c->len < sizeof(c->buf) - 1) {
		c->buf[c->len++] = ' ';
		c->wanted++;
	}
	va_start(ap, fmt);
	int n = vsnprintf(c->buf + c->len, sizeof(c->buf) - c->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(c->buf) - c->len) {
		c->overflow = true;
		c->wanted += (size_t)(n < 0 ? 0 : n);
		c->len = sizeof(c->buf) - 1;
	} else {
		c->len += (size_t)n;
		c->wanted += (size_t)n;
	}
}

bool cmdline_has_word(const char *line, const char *word)
{
	size_t n = strlen(word);
	if (!line || !n)
		return false;
	for (const char *p = line; (p = strstr(p, word)); p++) {
		bool starts = p == line || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n';
		char end = p[n];
		if (starts && (end == '\0' || end == ' ' || end == '\t' || end == '\n'))
			return true;
	}
	return false;
}
