#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int vset(struct err *e, int code, const char *fmt, va_list ap)
{
	if (e) {
		e->code = code;
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	}
	return code;
}

int err_set(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vset(e, code, fmt, ap);
	va_end(ap);
	return code;
}

int err_inval(struct err *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vset(e, -EINVAL, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void err_msg(struct err *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vset(e, e && e->code ? e->code : -EINVAL, fmt, ap);
	va_end(ap);
}

int err_prefix(struct err *e, const char *fmt, ...)
{
	char head[256], old[sizeof(e->msg)];
	va_list ap;
	if (!e)
		return 0;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	snprintf(old, sizeof(old), "%s", e->msg[0] ? e->msg : strerror(-e->code));
	size_t n = strlen(head);
	if (n + 2 < sizeof(e->msg)) {
		memcpy(e->msg, head, n);
		memcpy(e->msg + n, ": ", 2);
		size_t m = strnlen(old, sizeof(e->msg) - n - 3);
		memcpy(e->msg + n + 2, old, m);
		e->msg[n + 2 + m] = '\0';
	}
	if (!e->code)
		e->code = -EINVAL;
	return e->code;
}

const char *err_str(const struct err *e, int code)
{
	if (e && e->msg[0])
		return e->msg;
	return strerror(code < 0 ? -code : code);
}
