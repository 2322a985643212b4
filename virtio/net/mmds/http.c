/* MMDS over HTTP, the guest's side (http.h). */
#include "http.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../../../lib/strbuf.h"
#include "store.h"
#include "token.h"

struct mmds_metrics mmds_metrics;

struct req {
	char method[8];
	const char *uri;
	size_t uri_len;
	bool http10, close, json, forwarded;
	const char *token, *ttl;
	size_t token_len, ttl_len;
	size_t content_length;
	bool bad_length;
};

static const char *reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	default: return "Not Implemented";
	}
}

static void respond(struct strbuf *out, int code, bool json, const char *body, size_t len,
		    bool close)
{
	strbuf_printf(out,
		      "HTTP/1.1 %d %s\r\nServer: mvm\r\nContent-Type: %s\r\nContent-Length: "
		      "%zu\r\n%s\r\n",
		      code, reason(code), json ? "application/json" : "text/plain", len,
		      close ? "Connection: close\r\n" : "");
	strbuf_printf(out, "%.*s", (int)len, body);
}

static void respond_text(struct strbuf *out, int code, const char *msg, bool close)
{
	respond(out, code, false, msg, strlen(msg), close);
}

static bool name_is(const char *p, size_t n, const char *name)
{
	return strlen(name) == n && !strncasecmp(p, name, n);
}

/* One header line [p, e) into r. */
static void header(struct req *r, const char *p, const char *e)
{
	const char *colon = memchr(p, ':', (size_t)(e - p));
	if (!colon)
		return;
	size_t n = (size_t)(colon - p);
	const char *v = colon + 1;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	size_t vl = (size_t)(e - v);
	if (name_is(p, n, "Accept"))
		r->json = memmem(v, vl, "application/json", 16) != NULL;
	else if (name_is(p, n, "X-metadata-token") || name_is(p, n, "X-aws-ec2-metadata-token"))
		r->token = v, r->token_len = vl;
	else if (name_is(p, n, "X-metadata-token-ttl-seconds") ||
		 name_is(p, n, "X-aws-ec2-metadata-token-ttl-seconds"))
		r->ttl = v, r->ttl_len = vl;
	else if (name_is(p, n, "X-Forwarded-For"))
		r->forwarded = true;
	else if (name_is(p, n, "Connection"))
		r->close = vl == 5 && !strncasecmp(v, "close", 5);
	else if (name_is(p, n, "Content-Length")) {
		size_t x = 0;
		r->bad_length = vl == 0 || vl > 5;
		for (size_t i = 0; i < vl && !r->bad_length; i++) {
			if (v[i] < '0' || v[i] > '9')
				r->bad_length = true;
			x = x * 10 + (size_t)(v[i] - '0');
		}
		r->content_length = x;
	}
}

/* The request line [p, e): false if it is not METHOD SP URI SP HTTP/1.x. */
static bool request_line(struct req *r, const char *p, const char *e)
{
	const char *sp1 = memchr(p, ' ', (size_t)(e - p));
	if (!sp1 || sp1 == p || (size_t)(sp1 - p) >= sizeof(r->method))
		return false;
	const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(e - sp1 - 1));
	if (!sp2 || e - sp2 != 9 || memcmp(sp2 + 1, "HTTP/1.", 7) ||
	    (sp2[8] != '0' && sp2[8] != '1'))
		return false;
	memcpy(r->method, p, (size_t)(sp1 - p));
	r->http10 = sp2[8] == '0';
	r->uri = sp1 + 1;
	r->uri_len = (size_t)(sp2 - r->uri);
	/* An absolute URI: keep its path. */
	if (r->uri_len >= 7 && !strncasecmp(r->uri, "http://", 7)) {
		const char *slash = memchr(r->uri + 7, '/', r->uri_len - 7);
		size_t skip = slash ? (size_t)(slash - r->uri) : r->uri_len;
		r->uri += skip;
		r->uri_len -= skip;
	}
	const char *q = memchr(r->uri, '?', r->uri_len);
	if (q)
		r->uri_len = (size_t)(q - r->uri);
	return true;
}

static bool token_ok(const struct mmds_http_ctx *c, const struct req *r)
{
	return mmds_token_valid(c->tokens, r->token, r->token_len, c->now_ms);
}

static void get(const struct mmds_http_ctx *c, const struct req *r, struct strbuf *out)
{
	if (!r->token)
		mmds_metrics.rx_no_token++;
	else if (!token_ok(c, r))
		mmds_metrics.rx_invalid_token++;
	if (c->version == MMDS_V2 && !r->token) {
		respond_text(out, 401,
			     "No MMDS token provided. Use `X-metadata-token` or "
			     "`X-aws-ec2-metadata-token` header to specify the session token.",
			     r->close);
		return;
	}
	if (c->version == MMDS_V2 && !token_ok(c, r)) {
		respond_text(out, 401, "MMDS token not valid.", r->close);
		return;
	}
	struct strbuf b;
	strbuf_init(&b);
	int e = mmds_store_get(c->store, r->uri, r->uri_len,
			       r->json ? MMDS_FMT_JSON : MMDS_FMT_IMDS, &b);
	if (!e) {
		respond(out, 200, r->json, b.s ? b.s : "", b.len, r->close);
	} else if (e == -ENOENT) {
		strbuf_fini(&b);
		strbuf_printf(&b, "Resource not found: %.*s.", (int)r->uri_len, r->uri);
		respond_text(out, 404, b.s ? b.s : "", r->close);
	} else {
		respond_text(out, 501, "Cannot retrieve value. The value has an unsupported type.",
			     r->close);
	}
	strbuf_fini(&b);
}

static void put_token(const struct mmds_http_ctx *c, const struct req *r, struct strbuf *out)
{
	char msg[160];
	unsigned long ttl = 0;
	bool ok = r->ttl && r->ttl_len > 0 && r->ttl_len <= 10;
	for (size_t i = 0; ok && i < r->ttl_len; i++) {
		ok = r->ttl[i] >= '0' && r->ttl[i] <= '9';
		ttl = ttl * 10 + (unsigned long)(r->ttl[i] - '0');
	}
	if (r->forwarded) {
		respond_text(out, 400,
			     "Invalid header. Reason: Unsupported header name. Key: "
			     "X-Forwarded-For",
			     r->close);
	} else if (!r->ttl) {
		respond_text(
		    out, 400,
		    "Token time to live value not found. Use `X-metadata-token-ttl-seconds` "
		    "or `X-aws-ec2-metadata-token-ttl-seconds` header to specify the "
		    "token's lifetime.",
		    r->close);
	} else if (!ok || ttl < MMDS_TOKEN_TTL_MIN || ttl > MMDS_TOKEN_TTL_MAX) {
		snprintf(msg, sizeof(msg),
			 "Invalid time to live value provided for token: %.*s. Please provide a "
			 "value between %d and %d.",
			 (int)(r->ttl_len > 20 ? 20 : r->ttl_len), r->ttl, MMDS_TOKEN_TTL_MIN,
			 MMDS_TOKEN_TTL_MAX);
		respond_text(out, 400, msg, r->close);
	} else {
		char tok[MMDS_TOKEN_LEN + 1];
		mmds_token_make(c->tokens, c->now_ms, (uint32_t)ttl, tok);
		respond_text(out, 200, tok, r->close);
	}
}

static bool is_token_path(const struct req *r)
{
	static const char path[] = "/latest/api/token";
	size_t n = r->uri_len;
	while (n > sizeof(path) - 1 && r->uri[n - 1] == '/')
		n--;
	return n == sizeof(path) - 1 && !memcmp(r->uri, path, n);
}

size_t mmds_http_answer(const struct mmds_http_ctx *c, const char *buf, size_t len,
			struct strbuf *out, bool *close)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	struct req r = { 0 };
	*close = false;
	if (!end) {
		if (len < MMDS_HTTP_MAX_REQUEST)
			return 0;
		*close = true;
		respond_text(out, 400, "The request is too long.", true);
		return len;
	}
	const char *eol = memmem(buf, (size_t)(end - buf) + 2, "\r\n", 2);
	bool ok = request_line(&r, buf, eol);
	for (const char *p = eol + 2; ok && p < end + 2;) {
		const char *e = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
		header(&r, p, e);
		p = e + 2;
	}
	size_t head = (size_t)(end - buf) + 4;
	if (!ok || r.bad_length || head + r.content_length > MMDS_HTTP_MAX_REQUEST) {
		*close = true;
		mmds_metrics.rx_accepted_err++;
		respond_text(out, 400, !ok ? "Invalid request." : "The request is too long.", true);
		return len;
	}
	if (len < head + r.content_length)
		return 0;
	*close = r.close = r.close || r.http10;
	if (r.uri_len == 0 || r.uri[0] != '/')
		respond_text(out, 400, "Invalid URI.", r.close);
	else if (!strcmp(r.method, "GET"))
		get(c, &r, out);
	else if (strcmp(r.method, "PUT"))
		respond_text(out, 405, "Not allowed HTTP method.", r.close);
	else if (is_token_path(&r))
		put_token(c, &r, out);
	else {
		struct strbuf m;
		strbuf_init(&m);
		strbuf_printf(&m, "Resource not found: %.*s.", (int)r.uri_len, r.uri);
		respond_text(out, 404, m.s ? m.s : "", r.close);
		strbuf_fini(&m);
	}
	return head + r.content_length;
}
