#include "http.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct http_conn *conn_of(http_parser *p)
{
	return p->data;
}

static int fail(struct http_conn *c, int status, const char *msg)
{
	if (!c->bad) {
		c->bad = true;
		c->err_status = status;
		snprintf(c->err_msg, sizeof(c->err_msg), "%s", msg);
	}
	return -1;
}

static int on_message_begin(http_parser *p)
{
	struct http_conn *c = conn_of(p);
	c->req.path[0] = '\0';
	c->req.body_len = 0;
	c->header_bytes = 0;
	c->phase = HTTP_PHASE_HEADERS;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);
	size_t have = strlen(c->req.path);
	if (have + len > HTTP_MAX_URL)
		return fail(c, 400, "the request URI is too long");
	memcpy(c->req.path + have, at, len);
	c->req.path[have + len] = '\0';
	return 0;
}

/* Keep only the headers we act on; names and values may arrive in pieces. */
static void header_done(struct http_conn *c)
{
	if (c->field_len && c->field_len < sizeof(c->field) && !strcasecmp(c->field, "Expect") &&
	    c->value_len < sizeof(c->value) && !strcasecmp(c->value, "100-continue"))
		c->want_continue = true;
	c->field_len = c->value_len = 0;
	c->field[0] = c->value[0] = '\0';
	c->field_done = false;
}

static void append(char *dst, size_t cap, size_t *len, const char *at, size_t n)
{
	if (*len + n < cap) {
		memcpy(dst + *len, at, n);
		dst[*len + n] = '\0';
	}
	*len += n;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);
	if (c->field_done)
		header_done(c);
	c->header_bytes += len;
	if (c->header_bytes > HTTP_MAX_HEADER_BYTES)
		return fail(c, 400, "the request headers are too large");
	append(c->field, sizeof(c->field), &c->field_len, at, len);
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);
	c->field_done = true;
	c->header_bytes += len;
	if (c->header_bytes > HTTP_MAX_HEADER_BYTES)
		return fail(c, 400, "the request headers are too large");
	append(c->value, sizeof(c->value), &c->value_len, at, len);
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct http_conn *c = conn_of(p);
	char msg[160];
	header_done(c);
	c->phase = HTTP_PHASE_BODY;
	if (p->http_major != 1)
		return fail(c, 400, "only HTTP/1.0 and HTTP/1.1 are spoken here");
	if (p->flags & F_CHUNKED)
		return fail(c, 400,
			    "chunked request bodies are not supported: send Content-Length");
	if (p->content_length != ULLONG_MAX && p->content_length > c->max_body) {
		snprintf(msg, sizeof(msg),
			 "the request body of %llu bytes is larger than the limit of %zu bytes",
			 (unsigned long long)p->content_length, c->max_body);
		return fail(c, 400, msg);
	}
	if (p->content_length != ULLONG_MAX && p->content_length) {
		free(c->req.body);
		c->req.body = malloc(p->content_length + 1);
		if (!c->req.body)
			return fail(c, 500, "out of memory");
	}
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);
	/* Content-Length bounded the allocation; http-parser never gives more. */
	if (!c->req.body || c->req.body_len + len > c->max_body)
		return fail(c, 400, "unexpected request body");
	memcpy(c->req.body + c->req.body_len, at, len);
	c->req.body_len += len;
	c->req.body[c->req.body_len] = '\0';
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct http_conn *c = conn_of(p);
	c->complete = true;
	c->phase = HTTP_PHASE_IDLE;
	c->req.method = (enum http_method)p->method;
	c->req.keep_alive = http_should_keep_alive(p);
	char *q = strchr(c->req.path, '?');
	if (q)
		*q = '\0';
	/* One request at a time: the rest of the buffer waits for http_conn_next(). */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

void http_conn_init(struct http_conn *c, size_t max_body)
{
	memset(c, 0, sizeof(*c));
	http_parser_init(&c->p, HTTP_REQUEST);
	c->p.data = c;
	c->max_body = max_body;
}

void http_conn_fini(struct http_conn *c)
{
	free(c->req.body);
	c->req.body = NULL;
}

size_t http_conn_feed(struct http_conn *c, const char *buf, size_t len, enum http_state *st)
{
	if (c->bad) {
		*st = HTTP_BAD;
		return 0;
	}
	if (c->complete) {
		*st = HTTP_READY;
		return 0;
	}
	size_t n = http_parser_execute(&c->p, &settings, buf, len);
	enum http_errno e = HTTP_PARSER_ERRNO(&c->p);
	if (c->complete) {
		*st = HTTP_READY;
		return n;
	}
	if (c->bad || (e != HPE_OK && e != HPE_PAUSED)) {
		if (!c->bad) {
			char msg[160];
			snprintf(msg, sizeof(msg), "malformed HTTP request: %s",
				 http_errno_description(e));
			fail(c, 400, msg);
		}
		*st = HTTP_BAD;
		return n;
	}
	*st = HTTP_INCOMPLETE;
	return n;
}

void http_conn_next(struct http_conn *c)
{
	c->complete = false;
	c->want_continue = false;
	c->req.body_len = 0;
	c->req.path[0] = '\0';
	http_parser_pause(&c->p, 0);
}

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 500: return "Internal Server Error";
	default: return "Unknown";
	}
}

char *http_response(int status, const char *body, bool keep_alive, size_t *len)
{
	return http_response_dep(status, body, keep_alive, false, NULL, len);
}

char *http_response_dep(int status, const char *body, bool keep_alive, bool deprecated,
			const char *content_type, size_t *len)
{
	const char *dep = deprecated ? "Deprecation: true\r\n" : "";
	size_t blen = body ? strlen(body) : 0;
	size_t cap = 256 + blen + (content_type ? strlen(content_type) : 0);
	char *out = malloc(cap);
	if (!out)
		return NULL;
	int n;
	if (body)
		n = snprintf(out, cap,
			     "HTTP/1.1 %d %s\r\nServer: mvm API\r\nConnection: %s\r\n%s"
			     "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
			     status, http_reason(status), keep_alive ? "keep-alive" : "close", dep,
			     content_type ? content_type : "application/json", blen);
	else
		n = snprintf(out, cap,
			     "HTTP/1.1 %d %s\r\nServer: mvm API\r\nConnection: %s\r\n%s\r\n",
			     status, http_reason(status), keep_alive ? "keep-alive" : "close", dep);
	memcpy(out + n, body ? body : "", blen);
	*len = (size_t)n + blen;
	return out;
}
