/* printf-lite onto the serial console. */
#include "guest.h"

struct spec {
	bool left, zero;
	int width;
};

static int pad(int n, char c)
{
	int i;
	for (i = 0; i < n; i++)
		serial_putc(c);
	return i;
}

static int put_str(const char *s, const struct spec *sp)
{
	int len = (int)strlen(s), n = 0;
	if (!sp->left)
		n += pad(sp->width - len, ' ');
	for (const char *p = s; *p; p++)
		serial_putc(*p);
	n += len;
	if (sp->left)
		n += pad(sp->width - len, ' ');
	return n;
}

static int put_num(uint64_t v, unsigned base, bool neg, bool upper, const struct spec *sp)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char buf[24];
	int i = sizeof(buf) - 1, n = 0, len;

	buf[i] = 0;
	do {
		buf[--i] = digits[v % base];
		v /= base;
	} while (v);
	len = (int)sizeof(buf) - 1 - i + neg;
	if (sp->zero && !sp->left) {
		if (neg)
			serial_putc('-'), n++;
		n += pad(sp->width - len, '0');
	} else {
		if (!sp->left)
			n += pad(sp->width - len, ' ');
		if (neg)
			serial_putc('-'), n++;
	}
	for (; buf[i]; i++, n++)
		serial_putc(buf[i]);
	if (sp->left)
		n += pad(sp->width - len, ' ');
	return n;
}

int vprintf(const char *fmt, va_list ap)
{
	int n = 0;

	for (; *fmt; fmt++) {
		struct spec sp = { 0 };
		int lng = 0;

		if (*fmt != '%') {
			serial_putc(*fmt);
			n++;
			continue;
		}
		for (fmt++;; fmt++) {
			if (*fmt == '-')
				sp.left = true;
			else if (*fmt == '0')
				sp.zero = true;
			else
				break;
		}
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			sp.width = sp.width * 10 + (*fmt - '0');
		for (; *fmt == 'l' || *fmt == 'z'; fmt++)
			lng = 1;

		switch (*fmt) {
		case 'd':
		case 'i': {
			int64_t v = lng ? va_arg(ap, long) : va_arg(ap, int);
			n += put_num(v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0, false, &sp);
			break;
		}
		case 'u':
		case 'x':
		case 'X': {
			uint64_t v = lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);
			n += put_num(v, *fmt == 'u' ? 10 : 16, false, *fmt == 'X', &sp);
			break;
		}
		case 'p':
			serial_putc('0'), serial_putc('x');
			n += 2 + put_num((uintptr_t)va_arg(ap, void *), 16, false, false, &sp);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			n += put_str(s ? s : "(null)", &sp);
			break;
		}
		case 'c':
			serial_putc((char)va_arg(ap, int));
			n++;
			break;
		case '%':
			serial_putc('%');
			n++;
			break;
		case 0:
			return n;
		default:
			serial_putc('%');
			serial_putc(*fmt);
			n += 2;
		}
	}
	return n;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}
