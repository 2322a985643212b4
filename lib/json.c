#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "json.h"
#include "util.h"

static bool valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		size_t len;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			len = 2;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + len > n)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		/* Overlong forms, surrogates, beyond Unicode. */
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += len;
	}
	return true;
}

/* A primitive must be exactly true, false, null or a JSON number. */
static bool valid_primitive(const char *p, size_t n)
{
	if ((n == 4 && !memcmp(p, "true", 4)) || (n == 5 && !memcmp(p, "false", 5)) ||
	    (n == 4 && !memcmp(p, "null", 4)))
		return true;
	size_t i = 0;
	if (i < n && p[i] == '-')
		i++;
	if (i >= n)
		return false;
	if (p[i] == '0') {
		i++;
	} else if (p[i] >= '1' && p[i] <= '9') {
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
	} else {
		return false;
	}
	if (i < n && p[i] == '.') {
		i++;
		if (i >= n || p[i] < '0' || p[i] > '9')
			return false;
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		if (i >= n || p[i] < '0' || p[i] > '9')
			return false;
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
	}
	return i == n;
}

/* A token's text, with a string's quotes. */
static int tok_begin(const struct json *j, int i)
{
	return j->t[i].start - (j->t[i].type == JSMN_STRING);
}

static int tok_end(const struct json *j, int i)
{
	return j->t[i].end + (j->t[i].type == JSMN_STRING);
}

/* s[a, b) holds only whitespace and, if sep, exactly one sep. */
static bool gap_is(const char *s, int a, int b, char sep)
{
	int seps = 0;
	if (a > b)
		return false;
	for (int k = a; k < b; k++) {
		if (sep && s[k] == sep)
			seps++;
		else if (s[k] != ' ' && s[k] != '\t' && s[k] != '\n' && s[k] != '\r')
			return false;
	}
	return seps == (sep ? 1 : 0);
}

/*
 * jsmn does not check separators: every key has exactly one value, scalars have
 * no children, and members are separated by exactly one ',' (keys from values by ':').
 */
static bool well_formed(const struct json *j)
{
	for (int i = 0; i < j->n; i++) {
		const jsmntok_t *t = &j->t[i];
		bool is_key = t->parent >= 0 && j->t[t->parent].type == JSMN_OBJECT;
		if (is_key && (t->type != JSMN_STRING || t->size != 1))
			return false;
		if (!is_key && (t->type == JSMN_STRING || t->type == JSMN_PRIMITIVE) &&
		    t->size != 0)
			return false;
		if (t->type != JSMN_OBJECT && t->type != JSMN_ARRAY)
			continue;
		int pos = t->start + 1, c = i + 1;
		for (int n = 0; n < t->size; n++) {
			if (c >= j->n || !gap_is(j->s, pos, tok_begin(j, c), n ? ',' : 0))
				return false;
			pos = tok_end(j, c);
			if (t->type == JSMN_OBJECT) {
				int v = c + 1;
				if (v >= j->n || !gap_is(j->s, pos, tok_begin(j, v), ':'))
					return false;
				pos = tok_end(j, v);
				c = json_next(j, v);
			} else {
				c = json_next(j, c);
			}
		}
		if (!gap_is(j->s, pos, t->end - 1, 0))
			return false;
	}
	return true;
}

static bool same_text(const struct json *j, int a, int b)
{
	int la = j->t[a].end - j->t[a].start, lb = j->t[b].end - j->t[b].start;
	return la == lb && !memcmp(j->s + j->t[a].start, j->s + j->t[b].start, (size_t)la);
}

/* A key twice in one object is refused, as Firecracker's parser does: which
 * one would win is not something a client should have to guess. */
static int no_duplicate_keys(struct json *j, struct err *e)
{
	for (int o = 0; o < j->n; o++) {
		if (j->t[o].type != JSMN_OBJECT)
			continue;
		int end = json_next(j, o);
		for_each_member (j, o, k, v) {
			for (int k2 = json_next(j, v); k2 < end; k2 = json_next(j, k2 + 1)) {
				if (!same_text(j, k, k2))
					continue;
				char name[64];
				json_tok_text(j, k, name, sizeof(name));
				json_free(j);
				return err_inval(e, "duplicate key '%s' in a JSON object", name);
			}
		}
	}
	return 0;
}

int json_parse(struct json *j, const char *s, size_t len, struct err *e)
{
	jsmn_parser p;

	memset(j, 0, sizeof(*j));
	j->s = s;
	if (!valid_utf8((const unsigned char *)s, len))
		return err_inval(e, "the body is not valid UTF-8");
	if (memchr(s, '\0', len))
		return err_inval(e, "the body contains a NUL byte");
	jsmn_init(&p);
	int n = jsmn_parse(&p, s, len, NULL, 0);
	if (n == JSMN_ERROR_INVAL || n == JSMN_ERROR_PART || n < 0)
		return err_inval(e, "malformed JSON%s",
				 n == JSMN_ERROR_PART ? ": the document is incomplete" : "");
	if (n == 0)
		return err_inval(e, "empty JSON document");
	if (n > JSON_MAX_TOKENS)
		return err_inval(e, "JSON document too large (%d tokens, at most %d)", n,
				 JSON_MAX_TOKENS);
	j->t = calloc((size_t)n, sizeof(jsmntok_t));
	if (!j->t)
		return err_inval(e, "out of memory");
	jsmn_init(&p);
	j->n = jsmn_parse(&p, s, len, j->t, (unsigned)n);
	if (j->n != n)
		goto bad;
	/* One value only, and nothing but whitespace after it. */
	if (json_next(j, 0) != j->n)
		goto bad;
	for (size_t k = (size_t)j->t[0].end; k < len; k++)
		if (s[k] != ' ' && s[k] != '\n' && s[k] != '\r' && s[k] != '\t')
			goto bad;
	for (int i = 0; i < j->n; i++) {
		if (j->t[i].type == JSMN_PRIMITIVE &&
		    !valid_primitive(s + j->t[i].start, (size_t)(j->t[i].end - j->t[i].start)))
			goto bad;
		/* Object keys must be strings. */
		if (j->t[i].parent >= 0 && j->t[j->t[i].parent].type == JSMN_OBJECT &&
		    j->t[i].type != JSMN_STRING)
			goto bad;
	}
	if (!well_formed(j))
		goto bad;
	return no_duplicate_keys(j, e);
bad:
	json_free(j);
	return err_inval(e, "malformed JSON");
}

void json_free(struct json *j)
{
	free(j->t);
	j->t = NULL;
	j->n = 0;
}

int json_next(const struct json *j, int i)
{
	int end = j->t[i].end;
	i++;
	while (i < j->n && j->t[i].start < end)
		i++;
	return i;
}

bool json_key_is(const struct json *j, int i, const char *name)
{
	size_t n = (size_t)(j->t[i].end - j->t[i].start);
	return j->t[i].type == JSMN_STRING && strlen(name) == n &&
	       !memcmp(j->s + j->t[i].start, name, n);
}

/* Line and column (from 1) of the byte before offset `end`, as serde counts them. */
static void json_where(const struct json *j, int end, int *line, int *col)
{
	*line = 1;
	*col = 0;
	for (int i = 0; i < end; i++) {
		if (j->s[i] == '\n') {
			(*line)++;
			*col = 0;
		} else {
			(*col)++;
		}
	}
}

int json_unknown_field(const struct json *j, int k, const char *section, struct err *e)
{
	char name[64];
	int line, col;
	json_tok_text(j, k, name, sizeof(name));
	json_where(j, j->t[k].end + 1, &line, &col);
	return err_inval(e, "unknown field `%s` at line %d column %d (in %s)", name, line, col,
			 section);
}

int json_missing_field(const struct json *j, int obj, const char *name, struct err *e)
{
	int line, col;
	json_where(j, j->t[obj].end, &line, &col);
	return err_inval(e, "missing field `%s` at line %d column %d.", name, line, col);
}

void json_tok_text(const struct json *j, int i, char *buf, size_t max)
{
	size_t len = (size_t)(j->t[i].end - j->t[i].start), n = len;
	if (n >= max)
		n = max - 1;
	memcpy(buf, j->s + j->t[i].start, n);
	if (n < len) {
		/* Cut short: never end in the middle of a UTF-8 character. */
		size_t lead = n;
		while (lead && ((unsigned char)buf[lead - 1] & 0xc0) == 0x80)
			lead--;
		if (lead && ((unsigned char)buf[lead - 1] & 0x80)) {
			unsigned char c = (unsigned char)buf[lead - 1];
			size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
			if (lead - 1 + need > n)
				n = lead - 1;
		}
	}
	buf[n] = '\0';
	for (size_t k = 0; k < n; k++)
		if ((unsigned char)buf[k] < 0x20)
			buf[k] = '?';
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static int read_u4(const char *p, const char *end, uint32_t *v)
{
	if (end - p < 4)
		return -1;
	*v = 0;
	for (int k = 0; k < 4; k++) {
		int h = hex_digit(p[k]);
		if (h < 0)
			return -1;
		*v = (*v << 4) | (uint32_t)h;
	}
	return 0;
}

int json_string(const struct json *j, int i, const char *field, char **out, struct err *e)
{
	if (j->t[i].type != JSMN_STRING)
		return err_inval(e, "field '%s' must be a string", field);
	const char *p = j->s + j->t[i].start, *end = j->s + j->t[i].end;
	char *o = malloc((size_t)(end - p) + 1);
	size_t n = 0;
	if (!o)
		return err_inval(e, "out of memory");
	while (p < end) {
		if ((unsigned char)*p < 0x20) {
			free(o);
			return err_inval(e, "field '%s' contains a raw control character", field);
		}
		if (*p != '\\') {
			o[n++] = *p++;
			continue;
		}
		p++;
		char c = p < end ? *p++ : 0;
		uint32_t cp;
		switch (c) {
		case '"': o[n++] = '"'; break;
		case '\\': o[n++] = '\\'; break;
		case '/': o[n++] = '/'; break;
		case 'b': o[n++] = '\b'; break;
		case 'f': o[n++] = '\f'; break;
		case 'n': o[n++] = '\n'; break;
		case 'r': o[n++] = '\r'; break;
		case 't': o[n++] = '\t'; break;
		case 'u':
			if (read_u4(p, end, &cp))
				goto bad_escape;
			p += 4;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				uint32_t lo;
				if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
				    read_u4(p + 2, end, &lo) || lo < 0xdc00 || lo > 0xdfff)
					goto bad_escape;
				p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				goto bad_escape;
			}
			if (cp == 0) {
				free(o);
				return err_inval(e, "field '%s' contains a NUL character", field);
			}
			/* A \u escape never encodes to more bytes than its 6-byte source. */
			n += put_utf8(o + n, cp);
			break;
		default: goto bad_escape;
		}
	}
	o[n] = '\0';
	*out = o;
	return 0;
bad_escape:
	free(o);
	return err_inval(e, "field '%s' has an invalid escape sequence", field);
}

int json_string_buf(const struct json *j, int i, const char *field, char *buf, size_t size,
		    struct err *e)
{
	char *s = NULL;
	int r = json_string(j, i, field, &s, e);
	if (r)
		return r;
	if (strlen(s) >= size) {
		free(s);
		return err_inval(e, "field '%s' is too long (at most %zu bytes)", field, size - 1);
	}
	strcpy(buf, s);
	free(s);
	return 0;
}

int json_bool(const struct json *j, int i, const char *field, bool *out, struct err *e)
{
	const char *p = j->s + j->t[i].start;
	int n = j->t[i].end - j->t[i].start;
	if (j->t[i].type == JSMN_PRIMITIVE && n == 4 && !memcmp(p, "true", 4)) {
		*out = true;
		return 0;
	}
	if (j->t[i].type == JSMN_PRIMITIVE && n == 5 && !memcmp(p, "false", 5)) {
		*out = false;
		return 0;
	}
	return err_inval(e, "field '%s' must be true or false", field);
}

bool json_is_null(const struct json *j, int i)
{
	return j->t[i].type == JSMN_PRIMITIVE && j->t[i].end - j->t[i].start == 4 &&
	       !memcmp(j->s + j->t[i].start, "null", 4);
}

int json_i64(const struct json *j, int i, const char *field, int64_t *out, struct err *e)
{
	char buf[32];
	int n = j->t[i].end - j->t[i].start;
	const char *p = j->s + j->t[i].start;
	if (j->t[i].type != JSMN_PRIMITIVE || n == 0 || n >= (int)sizeof(buf) ||
	    !(p[0] == '-' || (p[0] >= '0' && p[0] <= '9')))
		return err_inval(e, "field '%s' must be an integer", field);
	memcpy(buf, p, (size_t)n);
	buf[n] = '\0';
	char *endp;
	errno = 0;
	long long v = strtoll(buf, &endp, 10);
	if (*endp != '\0')
		return err_inval(e, "field '%s' must be an integer, not %s", field, buf);
	if (errno == ERANGE)
		return err_inval(e, "field '%s' is out of range", field);
	*out = v;
	return 0;
}

int json_u64(const struct json *j, int i, const char *field, uint64_t min, uint64_t max,
	     uint64_t *out, struct err *e)
{
	char buf[32];
	int n = j->t[i].end - j->t[i].start;
	const char *p = j->s + j->t[i].start;
	if (j->t[i].type != JSMN_PRIMITIVE || n == 0 || n >= (int)sizeof(buf) ||
	    !(p[0] == '-' || (p[0] >= '0' && p[0] <= '9')))
		return err_inval(e, "field '%s' must be an integer between %llu and %llu", field,
				 (unsigned long long)min, (unsigned long long)max);
	memcpy(buf, p, (size_t)n);
	buf[n] = '\0';
	char *endp;
	errno = 0;
	if (buf[0] == '-')
		goto range;
	unsigned long long v = strtoull(buf, &endp, 10);
	if (*endp != '\0')
		return err_inval(e, "field '%s' must be an integer, not %s", field, buf);
	if (errno == ERANGE || v < min || v > max)
		goto range;
	*out = v;
	return 0;
range:
	return err_inval(e, "field '%s' is %s; it must be between %llu and %llu", field, buf,
			 (unsigned long long)min, (unsigned long long)max);
}

int json_expect_object(const struct json *j, int i, const char *what, struct err *e)
{
	if (i >= j->n || j->t[i].type != JSMN_OBJECT)
		return err_inval(e, "%s must be a JSON object", what);
	return 0;
}

size_t json_escape(char *buf, size_t size, const char *s)
{
	size_t n = 0;
#define PUT(c)                        \
	do {                          \
		if (n + 1 < size)     \
			buf[n] = (c); \
		n++;                  \
	} while (0)
	PUT('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			PUT('\\');
			PUT((char)*p);
		} else if (*p < 0x20) {
			char tmp[8];
			snprintf(tmp, sizeof(tmp), "\\u%04x", *p);
			for (char *t = tmp; *t; t++)
				PUT(*t);
		} else {
			PUT((char)*p);
		}
	}
	PUT('"');
#undef PUT
	if (size)
		buf[n < size ? n : size - 1] = '\0';
	return n;
}
