#include "cmdline.h"

#include <stdarg.h>
#include <stdio.h>

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
