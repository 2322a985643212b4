#include "aml.h"

#include <string.h>

/* Opcodes (ACPI 6.5, 20.3). */
enum {
	ZERO_OP = 0x00,
	ONE_OP = 0x01,
	NAME_OP = 0x08,
	BYTE_PREFIX = 0x0a,
	WORD_PREFIX = 0x0b,
	DWORD_PREFIX = 0x0c,
	STRING_PREFIX = 0x0d,
	QWORD_PREFIX = 0x0e,
	SCOPE_OP = 0x10,
	BUFFER_OP = 0x11,
	PACKAGE_OP = 0x12,
	METHOD_OP = 0x14,
	DUAL_NAME_PREFIX = 0x2e,
	MULTI_NAME_PREFIX = 0x2f,
	EXT_OP_PREFIX = 0x5b,
	DEVICE_OP = 0x82, /* after EXT_OP_PREFIX */
	ROOT_CHAR = 0x5c,
	ARG0_OP = 0x68,
	NOTIFY_OP = 0x86,
	LEQUAL_OP = 0x93,
	IF_OP = 0xa0,
};

/* Room for the longest PkgLength, shrunk on close. */
#define PKGLEN_MAX 4

void aml_init(struct aml *a, void *buf, size_t cap)
{
	*a = (struct aml){ .p = buf, .cap = cap };
}

void aml_bytes(struct aml *a, const void *b, size_t n)
{
	if (a->bad || n > a->cap - a->len) {
		a->bad = true;
		return;
	}
	memcpy(a->p + a->len, b, n);
	a->len += n;
}

static void byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void le(struct aml *a, uint64_t v, int n)
{
	uint8_t b[8];
	for (int i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	aml_bytes(a, b, (size_t)n);
}

static bool seg_char(char c, bool first)
{
	return (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

void aml_name_string(struct aml *a, const char *path)
{
	char segs[255][4];
	int n = 0;
	const char *s = path;
	bool root = *s == '\\';
	if (root)
		s++;
	while (*s) {
		size_t k = strcspn(s, ".");
		if (n == 255 || k == 0 || k > 4) {
			a->bad = true;
			return;
		}
		for (size_t i = 0; i < 4; i++) {
			char c = i < k ? s[i] : '_';
			if (!seg_char(c, i == 0)) {
				a->bad = true;
				return;
			}
			segs[n][i] = c;
		}
		n++;
		s += k;
		if (*s == '.' && !*++s) {
			a->bad = true; /* a trailing dot */
			return;
		}
	}
	if (n == 0) {
		a->bad = true;
		return;
	}
	if (root)
		byte(a, ROOT_CHAR);
	if (n == 2) {
		byte(a, DUAL_NAME_PREFIX);
	} else if (n > 2) {
		byte(a, MULTI_NAME_PREFIX);
		byte(a, (uint8_t)n);
	}
	aml_bytes(a, segs, (size_t)n * 4);
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v <= 1) {
		byte(a, v ? ONE_OP : ZERO_OP);
	} else if (v <= 0xff) {
		byte(a, BYTE_PREFIX);
		le(a, v, 1);
	} else if (v <= 0xffff) {
		byte(a, WORD_PREFIX);
		le(a, v, 2);
	} else if (v <= 0xffffffff) {
		byte(a, DWORD_PREFIX);
		le(a, v, 4);
	} else {
		byte(a, QWORD_PREFIX);
		le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c > 0x7f) /* AsciiCharList: 0x01-0x7F */
			a->bad = true;
	byte(a, STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void aml_eisaid(struct aml *a, const char *id)
{
	uint8_t b[4];
	int h[4];
	if (strlen(id) != 7) {
		a->bad = true;
		return;
	}
	for (int i = 0; i < 3; i++)
		if (id[i] < 'A' || id[i] > 'Z')
			a->bad = true;
	for (int i = 0; i < 4; i++)
		if ((h[i] = hexval(id[3 + i])) < 0)
			a->bad = true;
	if (a->bad)
		return;
	/* Three 5-bit letters (A = 1), then four hex digits, most significant first. */
	unsigned c0 = (unsigned)(id[0] - 0x40), c1 = (unsigned)(id[1] - 0x40),
		 c2 = (unsigned)(id[2] - 0x40);
	b[0] = (uint8_t)((c0 << 2) | (c1 >> 3));
	b[1] = (uint8_t)(((c1 & 7) << 5) | c2);
	b[2] = (uint8_t)((h[0] << 4) | h[1]);
	b[3] = (uint8_t)((h[2] << 4) | h[3]);
	byte(a, DWORD_PREFIX);
	aml_bytes(a, b, 4);
}

int aml_pkglen_encode(size_t n, uint8_t out[4])
{
	/* The length counts its own bytes: 1 byte holds 6 bits, k bytes 4 + 8(k-1). */
	if (n + 1 < 0x40) {
		out[0] = (uint8_t)(n + 1);
		return 1;
	}
	for (int k = 2; k <= 4; k++) {
		size_t total = n + (size_t)k;
		if (total >> (4 + 8 * (k - 1)))
			continue;
		out[0] = (uint8_t)(((k - 1) << 6) | (total & 0xf));
		for (int i = 1; i < k; i++)
			out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
		return k;
	}
	return 0;
}

/* The PkgLength placeholder; the mark is where it starts. */
static size_t open_pkg(struct aml *a)
{
	size_t mark = a->len;
	static const uint8_t zero[PKGLEN_MAX];
	aml_bytes(a, zero, sizeof(zero));
	return mark;
}

void aml_close(struct aml *a, size_t mark)
{
	uint8_t enc[4];
	if (a->bad || mark + PKGLEN_MAX > a->len) {
		a->bad = true;
		return;
	}
	size_t body = a->len - mark - PKGLEN_MAX;
	int k = aml_pkglen_encode(body, enc);
	if (k == 0) {
		a->bad = true;
		return;
	}
	memmove(a->p + mark + k, a->p + mark + PKGLEN_MAX, body);
	memcpy(a->p + mark, enc, (size_t)k);
	a->len -= (size_t)(PKGLEN_MAX - k);
}

size_t aml_scope(struct aml *a, const char *path)
{
	byte(a, SCOPE_OP);
	size_t m = open_pkg(a);
	aml_name_string(a, path);
	return m;
}

size_t aml_device(struct aml *a, const char *path)
{
	byte(a, EXT_OP_PREFIX);
	byte(a, DEVICE_OP);
	size_t m = open_pkg(a);
	aml_name_string(a, path);
	return m;
}

size_t aml_method(struct aml *a, const char *name, int nargs, bool serialized)
{
	if (nargs < 0 || nargs > 7)
		a->bad = true;
	byte(a, METHOD_OP);
	size_t m = open_pkg(a);
	aml_name_string(a, name);
	byte(a, (uint8_t)((nargs & 7) | (serialized ? 8 : 0)));
	return m;
}

size_t aml_if_arg_equal(struct aml *a, int arg, uint64_t value)
{
	if (arg < 0 || arg > 6)
		a->bad = true;
	byte(a, IF_OP);
	size_t m = open_pkg(a);
	byte(a, LEQUAL_OP);
	byte(a, (uint8_t)(ARG0_OP + (arg & 7)));
	aml_integer(a, value);
	return m;
}

size_t aml_package(struct aml *a, uint8_t n)
{
	byte(a, PACKAGE_OP);
	size_t m = open_pkg(a);
	byte(a, n);
	return m;
}

/* BufferSize is a TermArg before the bytes: reserve a Word constant, set on close. */
size_t aml_buffer(struct aml *a)
{
	byte(a, BUFFER_OP);
	size_t m = open_pkg(a);
	byte(a, WORD_PREFIX);
	le(a, 0, 2);
	return m;
}

void aml_name(struct aml *a, const char *name)
{
	byte(a, NAME_OP);
	aml_name_string(a, name);
}

void aml_name_integer(struct aml *a, const char *name, uint64_t v)
{
	aml_name(a, name);
	aml_integer(a, v);
}

void aml_name_str(struct aml *a, const char *name, const char *s)
{
	aml_name(a, name);
	aml_string(a, s);
}

void aml_name_eisaid(struct aml *a, const char *name, const char *id)
{
	aml_name(a, name);
	aml_eisaid(a, id);
}

void aml_notify(struct aml *a, const char *path, uint64_t value)
{
	byte(a, NOTIFY_OP);
	aml_name_string(a, path);
	aml_integer(a, value);
}

void aml_res_memory32_fixed(struct aml *a, uint32_t base, uint32_t len, bool writable)
{
	byte(a, 0x86); /* large item: 32-bit fixed memory range */
	le(a, 9, 2);
	byte(a, writable ? 1 : 0);
	le(a, base, 4);
	le(a, len, 4);
}

void aml_res_io(struct aml *a, uint16_t port, uint8_t len)
{
	byte(a, 0x47); /* small item: I/O port, 7 bytes */
	byte(a, 1);    /* 16-bit decode */
	le(a, port, 2);
	le(a, port, 2);
	byte(a, 1); /* alignment */
	byte(a, len);
}

void aml_res_irq_edge(struct aml *a, uint32_t gsi)
{
	byte(a, 0x89); /* large item: extended interrupt */
	le(a, 6, 2);
	byte(a, 0x01 | 0x02); /* consumer, edge-triggered; active-high, exclusive */
	byte(a, 1);	      /* one interrupt */
	le(a, gsi, 4);
}

void aml_res_end(struct aml *a)
{
	byte(a, 0x79); /* end tag; checksum 0: "the template is correct" */
	byte(a, 0);
}

/* Close a Buffer opened by aml_buffer(): its BufferSize is the bytes after it. */
void aml_buffer_close(struct aml *a, size_t mark)
{
	size_t size_at = mark + PKGLEN_MAX + 1;
	if (!a->bad && size_at + 2 <= a->len) {
		size_t n = a->len - size_at - 2;
		if (n > 0xffff)
			a->bad = true;
		a->p[size_at] = (uint8_t)n;
		a->p[size_at + 1] = (uint8_t)(n >> 8);
	}
	aml_close(a, mark);
}
