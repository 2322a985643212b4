/* api-socket/http.c: HTTP/1.1 request framing over http-parser, one request at a time. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../api-socket/http.h"

#define GET_HDR " HTTP/1.1\r\nHost: localhost\r\n\r\n"

static struct http_conn conn;

static void setup(void)
{
	http_conn_init(&conn, HTTP_DEFAULT_MAX_BODY);
}

static void teardown(void)
{
	http_conn_fini(&conn);
}

TestSuite(http, .init = setup, .fini = teardown);

/* Feed all of s (NUL-terminated) at once; *used gets the bytes consumed. */
static enum http_state feed(struct http_conn *c, const char *s, size_t *used)
{
	enum http_state st = (enum http_state) - 1;
	size_t n = http_conn_feed(c, s, strlen(s), &st);
	if (used)
		*used = n;
	return st;
}

/* Feed len bytes one at a time; returns the state after the last byte. */
static enum http_state feed_bytewise(struct http_conn *c, const char *s, size_t len,
				     size_t *ready_at)
{
	enum http_state st = HTTP_INCOMPLETE;
	*ready_at = (size_t)-1;
	for (size_t i = 0; i < len; i++) {
		size_t n = http_conn_feed(c, s + i, 1, &st);
		if (st == HTTP_BAD)
			return st;
		cr_assert_eq(n, 1, "byte %zu: consumed %zu bytes", i, n);
		if (st == HTTP_READY && *ready_at == (size_t)-1)
			*ready_at = i;
		if (st == HTTP_READY)
			break;
	}
	return st;
}

/* "PUT <path> HTTP/1.1" with a Content-Length body, into a malloc'd string. */
static char *put_request(const char *path, const char *body)
{
	char *s = NULL;
	int n = asprintf(&s,
			 "PUT %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\n\r\n%s",
			 path, strlen(body), body);
	cr_assert_gt(n, 0);
	return s;
}

Test(http, parses_a_get_without_body)
{
	size_t used;
	const char *req = "GET /machine-config" GET_HDR;
	cr_assert_eq(feed(&conn, req, &used), HTTP_READY, "%s", conn.err_msg);
	cr_expect_eq(used, strlen(req), "the whole request is consumed");
	cr_expect_eq(conn.req.method, HTTP_GET);
	cr_expect_str_eq(conn.req.path, "/machine-config");
	cr_expect_eq(conn.req.body_len, 0);
	cr_expect(conn.req.keep_alive, "HTTP/1.1 keeps the connection by default");
	cr_expect_not(conn.want_continue);
}

Test(http, parses_a_put_with_a_body_into_a_nul_terminated_copy)
{
	size_t used;
	char *req = put_request("/actions", "{\"action_type\": \"InstanceStart\"}");
	cr_assert_eq(feed(&conn, req, &used), HTTP_READY, "%s", conn.err_msg);
	cr_expect_eq(used, strlen(req));
	cr_expect_eq(conn.req.method, HTTP_PUT);
	cr_expect_str_eq(conn.req.path, "/actions");
	cr_assert_not_null(conn.req.body);
	cr_expect_eq(conn.req.body_len, strlen("{\"action_type\": \"InstanceStart\"}"));
	cr_expect_str_eq(conn.req.body, "{\"action_type\": \"InstanceStart\"}");
	cr_expect_eq(conn.req.body[conn.req.body_len], '\0');
	free(req);
}

Test(http, parses_patch_and_an_empty_content_length)
{
	const char *req = "PATCH /vm HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
	cr_assert_eq(feed(&conn, req, NULL), HTTP_READY, "%s", conn.err_msg);
	cr_expect_eq(conn.req.method, HTTP_PATCH);
	cr_expect_str_eq(conn.req.path, "/vm");
	cr_expect_eq(conn.req.body_len, 0);
}

Test(http, truncated_body_is_incomplete_not_ready)
{
	const char *head = "PUT /vm HTTP/1.1\r\nContent-Length: 10\r\n\r\n";
	size_t used;
	cr_assert_eq(feed(&conn, head, &used), HTTP_INCOMPLETE);
	cr_expect_eq(used, strlen(head));
	cr_assert_eq(feed(&conn, "01234", &used), HTTP_INCOMPLETE, "5 of 10 body bytes");
	cr_expect_eq(used, 5);
	cr_expect_eq(conn.req.body_len, 5);
	cr_assert_eq(feed(&conn, "56789", &used), HTTP_READY, "%s", conn.err_msg);
	cr_expect_eq(used, 5);
	cr_expect_eq(conn.req.body_len, 10);
	cr_expect_str_eq(conn.req.body, "0123456789");
}

Test(http, truncated_headers_are_incomplete)
{
	static const char *const partial[] = {
		"G",
		"GET",
		"GET /",
		"GET / HTTP/1.",
		"GET / HTTP/1.1\r\n",
		"GET / HTTP/1.1\r\nHost: x",
		"GET / HTTP/1.1\r\nHost: x\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n\r",
	};
	for (size_t i = 0; i < sizeof(partial) / sizeof(partial[0]); i++) {
		struct http_conn c;
		http_conn_init(&c, HTTP_DEFAULT_MAX_BODY);
		cr_expect_eq(feed(&c, partial[i], NULL), HTTP_INCOMPLETE, "case %zu: '%s' (%s)", i,
			     partial[i], c.err_msg);
		http_conn_fini(&c);
	}
}

Test(http, body_exactly_at_the_cap_is_accepted)
{
	struct http_conn c;
	http_conn_init(&c, 16);
	char *req = put_request("/x", "0123456789abcdef");
	cr_expect_eq(feed(&c, req, NULL), HTTP_READY, "%s", c.err_msg);
	cr_expect_eq(c.req.body_len, 16);
	free(req);
	http_conn_fini(&c);
}

Test(http, content_length_over_the_cap_is_refused_before_the_body)
{
	struct http_conn c;
	http_conn_init(&c, 16);
	/* Only the headers: the verdict must not wait for a body that may never come. */
	const char *req = "PUT /x HTTP/1.1\r\nContent-Length: 17\r\n\r\n";
	cr_assert_eq(feed(&c, req, NULL), HTTP_BAD);
	cr_expect_eq(c.err_status, 400);
	cr_expect(strstr(c.err_msg, "17 bytes") && strstr(c.err_msg, "16 bytes"),
		  "message '%s' must give the size and the limit", c.err_msg);
	cr_expect_null(c.req.body, "nothing allocated for a refused body");
	http_conn_fini(&c);
}

Test(http, default_cap_is_a_parameter_not_a_constant)
{
	struct http_conn c;
	char head[128];
	http_conn_init(&c, 1 << 20);
	snprintf(head, sizeof(head), "PUT /x HTTP/1.1\r\nContent-Length: %d\r\n\r\n",
		 HTTP_DEFAULT_MAX_BODY + 1);
	cr_expect_eq(feed(&c, head, NULL), HTTP_INCOMPLETE,
		     "a larger cap accepts more than the default: %s", c.err_msg);
	http_conn_fini(&c);

	http_conn_init(&c, HTTP_DEFAULT_MAX_BODY);
	cr_expect_eq(feed(&c, head, NULL), HTTP_BAD);
	http_conn_fini(&c);
}

/* A URL of exactly n bytes: "/" then 'a's. */
static char *url_request(size_t n)
{
	char *url = malloc(n + 1);
	cr_assert_not_null(url);
	url[0] = '/';
	memset(url + 1, 'a', n - 1);
	url[n] = '\0';
	char *req = NULL;
	cr_assert_gt(asprintf(&req, "GET %s" GET_HDR, url), 0);
	free(url);
	return req;
}

Test(http, url_of_exactly_the_cap_is_accepted)
{
	char *req = url_request(HTTP_MAX_URL);
	cr_expect_eq(feed(&conn, req, NULL), HTTP_READY, "%s", conn.err_msg);
	cr_expect_eq(strlen(conn.req.path), HTTP_MAX_URL);
	free(req);
}

Test(http, url_over_the_cap_is_refused_even_in_pieces)
{
	char *req = url_request(HTTP_MAX_URL + 1);
	cr_expect_eq(feed(&conn, req, NULL), HTTP_BAD);
	cr_expect(strstr(conn.err_msg, "URI is too long") != NULL, "message '%s'", conn.err_msg);

	struct http_conn c;
	size_t at;
	http_conn_init(&c, HTTP_DEFAULT_MAX_BODY);
	cr_expect_eq(feed_bytewise(&c, req, strlen(req), &at), HTTP_BAD,
		     "the cap holds when the URL arrives a byte at a time");
	cr_expect(strstr(c.err_msg, "URI is too long") != NULL, "message '%s'", c.err_msg);
	http_conn_fini(&c);
	free(req);
}

/* A GET with `count` headers "X-Pad-N: <len bytes>". */
static char *padded_request(int count, size_t len)
{
	size_t cap = 64 + (size_t)count * (len + 32);
	char *s = malloc(cap);
	cr_assert_not_null(s);
	size_t n = (size_t)snprintf(s, cap, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < count; i++) {
		n += (size_t)snprintf(s + n, cap - n, "X-Pad-%d: ", i);
		memset(s + n, 'v', len);
		n += len;
		n += (size_t)snprintf(s + n, cap - n, "\r\n");
	}
	snprintf(s + n, cap - n, "\r\n");
	return s;
}

Test(http, headers_under_8_kib_are_accepted)
{
	char *req = padded_request(7, 1000); /* ~7.1 KiB of names and values */
	cr_expect_eq(feed(&conn, req, NULL), HTTP_READY, "%s", conn.err_msg);
	free(req);
}

Test(http, headers_over_8_kib_are_refused)
{
	static const struct {
		int count;
		size_t len;
	} cases[] = {
		{ 1, HTTP_MAX_HEADER_BYTES + 1 }, /* one huge value */
		{ 9, 1000 },			  /* many ordinary ones */
		{ 600, 8 },			  /* lots of tiny ones */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_conn c;
		http_conn_init(&c, HTTP_DEFAULT_MAX_BODY);
		char *req = padded_request(cases[i].count, cases[i].len);
		cr_expect_eq(feed(&c, req, NULL), HTTP_BAD, "case %zu", i);
		cr_expect_eq(c.err_status, 400);
		cr_expect(strstr(c.err_msg, "headers are too large") != NULL,
			  "case %zu: message '%s'", i, c.err_msg);
		free(req);
		http_conn_fini(&c);
	}
}

Test(http, header_cap_is_per_request_not_per_connection)
{
	/* Two requests of ~5 KiB headers each: together over the cap, each under it. */
	char *one = padded_request(5, 1000);
	size_t len = strlen(one);
	char *two = malloc(2 * len + 1);
	cr_assert_not_null(two);
	memcpy(two, one, len);
	memcpy(two + len, one, len + 1);
	size_t used;
	cr_assert_eq(feed(&conn, two, &used), HTTP_READY, "%s", conn.err_msg);
	cr_expect_eq(used, len);
	http_conn_next(&conn);
	cr_expect_eq(feed(&conn, two + used, NULL), HTTP_READY, "%s", conn.err_msg);
	free(one);
	free(two);
}

static const struct {
	const char *name;
	const char *req;
	const char *msg; /* expected in err_msg */
} bad_requests[] = {
	{ "HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", "HTTP/1.0 and HTTP/1.1" },
	{ "HTTP/0.9 (no version)", "GET /\r\n\r\n", "HTTP/1.0 and HTTP/1.1" },
	{ "HTTP/3.1", "GET / HTTP/3.1\r\n\r\n", "HTTP/1.0 and HTTP/1.1" },
	{ "HTTP/0.1", "GET / HTTP/0.1\r\n\r\n", "HTTP/1.0 and HTTP/1.1" },
	{ "unknown method", "FROB / HTTP/1.1\r\n\r\n", "malformed" },
	{ "lower-case method", "get / HTTP/1.1\r\n\r\n", "malformed" },
	{ "method prefix of a real one", "PU / HTTP/1.1\r\n\r\n", "malformed" },
	{ "leading space", " GET / HTTP/1.1\r\n\r\n", "malformed" },
	{ "not HTTP", "GET / XTTP/1.1\r\n\r\n", "malformed" },
	{ "https scheme as version", "GET / HTTPS/1.1\r\n\r\n", "malformed" },
	{ "letters as version", "GET / HTTP/a.b\r\n\r\n", "malformed" },
	{ "version without minor", "GET / HTTP/1\r\n\r\n", "malformed" },
	{ "junk after version", "GET / HTTP/1.1 x\r\n\r\n", "malformed" },
	{ "control char in URL", "GET /a\x01z HTTP/1.1\r\n\r\n", "malformed" },
	{ "binary garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "malformed" },
	{ "header without colon", "GET / HTTP/1.1\r\nNoColonHere\r\n\r\n", "malformed" },
	{ "CR without LF", "GET / HTTP/1.1\rHost: x\r\n\r\n", "malformed" },
	{ "chunked body",
	  "PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", "chunked" },
	{ "chunked, capitalised", "PUT /x HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n",
	  "chunked" },
	{ "chunked with content-length",
	  "PUT /x HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
	  "malformed" },
	{ "content-length not a number", "PUT /x HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
	  "malformed" },
	{ "negative content-length", "PUT /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "malformed" },
	{ "content-length overflowing 64 bits",
	  "PUT /x HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", "malformed" },
	{ "content-length over the cap", "PUT /x HTTP/1.1\r\nContent-Length: 51201\r\n\r\n",
	  "larger than the limit" },
	{ "huge content-length", "PUT /x HTTP/1.1\r\nContent-Length: 18446744073709551614\r\n\r\n",
	  "malformed" },
	{ "two content-lengths",
	  "PUT /x HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", "malformed" },
};

Test(http, rejects_malformed_requests_with_a_400)
{
	for (size_t i = 0; i < sizeof(bad_requests) / sizeof(bad_requests[0]); i++) {
		struct http_conn c;
		http_conn_init(&c, HTTP_DEFAULT_MAX_BODY);
		enum http_state st = feed(&c, bad_requests[i].req, NULL);
		cr_expect_eq(st, HTTP_BAD, "case %zu (%s): state %d", i, bad_requests[i].name, st);
		cr_expect_eq(c.err_status, 400, "case %zu (%s)", i, bad_requests[i].name);
		cr_expect(c.err_msg[0] && strstr(c.err_msg, bad_requests[i].msg),
			  "case %zu (%s): message '%s' lacks '%s'", i, bad_requests[i].name,
			  c.err_msg, bad_requests[i].msg);
		http_conn_fini(&c);
	}
}

Test(http, rejects_malformed_requests_fed_a_byte_at_a_time)
{
	for (size_t i = 0; i < sizeof(bad_requests) / sizeof(bad_requests[0]); i++) {
		struct http_conn c;
		size_t at;
		http_conn_init(&c, HTTP_DEFAULT_MAX_BODY);
		enum http_state st =
		    feed_bytewise(&c, bad_requests[i].req, strlen(bad_requests[i].req), &at);
		cr_expect_eq(st, HTTP_BAD, "case %zu (%s): state %d", i, bad_requests[i].name, st);
		http_conn_fini(&c);
	}
}

Test(http, bad_state_is_sticky)
{
	cr_assert_eq(feed(&conn, "FROB / HTTP/1.1\r\n\r\n", NULL), HTTP_BAD);
	char msg[sizeof(conn.err_msg)];
	memcpy(msg, conn.err_msg, sizeof(msg));
	size_t used = 99;
	cr_expect_eq(feed(&conn, "GET /" GET_HDR, &used), HTTP_BAD,
		     "a good request after a bad one is never parsed");
	cr_expect_eq(used, 0);
	cr_expect_str_eq(conn.err_msg, msg, "the first verdict stays");
}

Test(http, two_pipelined_requests_come_out_one_at_a_time)
{
	char *a = put_request("/drives/a", "{\"drive_id\":\"a\"}");
	const char *b = "GET /version" GET_HDR;
	char *both = NULL;
	cr_assert_gt(asprintf(&both, "%s%s", a, b), 0);
	size_t used;

	cr_assert_eq(feed(&conn, both, &used), HTTP_READY, "%s", conn.err_msg);
	cr_expect_eq(used, strlen(a), "only the first request is consumed");
	cr_expect_eq(conn.req.method, HTTP_PUT);
	cr_expect_str_eq(conn.req.path, "/drives/a");
	cr_expect_str_eq(conn.req.body, "{\"drive_id\":\"a\"}");

	size_t again = 99;
	cr_expect_eq(feed(&conn, both + used, &again), HTTP_READY,
		     "still the first request until http_conn_next()");
	cr_expect_eq(again, 0);
	cr_expect_str_eq(conn.req.path, "/drives/a");

	http_conn_next(&conn);
	size_t used2;
	cr_assert_eq(feed(&conn, both + used, &used2), HTTP_READY, "%s", conn.err_msg);
	cr_expect_eq(used + used2, strlen(both));
	cr_expect_eq(conn.req.method, HTTP_GET);
	cr_expect_str_eq(conn.req.path, "/version");
	cr_expect_eq(conn.req.body_len, 0, "the first request's body is not the second's");

	http_conn_next(&conn);
	cr_expect_eq(feed(&conn, "", NULL), HTTP_INCOMPLETE, "nothing left");
	free(a);
	free(both);
}

Test(http, pipelined_request_after_a_bad_one_is_never_served)
{
	const char *both = "GET / HTTP/9.9\r\n\r\nGET /version" GET_HDR;
	cr_expect_eq(feed(&conn, both, NULL), HTTP_BAD);
	cr_expect_eq(feed(&conn, strstr(both, "GET /version"), NULL), HTTP_BAD);
}

Test(http, a_request_split_byte_by_byte_still_parses)
{
	char *req =
	    put_request("/machine-config?x=1", "{\"vcpu_count\": 2, \"mem_size_mib\": 256}");
	size_t len = strlen(req), at;
	cr_assert_eq(feed_bytewise(&conn, req, len, &at), HTTP_READY, "%s", conn.err_msg);
	cr_expect_eq(at, len - 1, "ready exactly at the last byte");
	cr_expect_eq(conn.req.method, HTTP_PUT);
	cr_expect_str_eq(conn.req.path, "/machine-config");
	cr_expect_str_eq(conn.req.body, "{\"vcpu_count\": 2, \"mem_size_mib\": 256}");
	free(req);
}

Test(http, a_pipeline_split_byte_by_byte_parses_every_request)
{
	const char *reqs[] = { "GET /a" GET_HDR,
			       "PATCH /vm HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
			       "GET /c HTTP/1.0\r\n\r\n" };
	const char *paths[] = { "/a", "/vm", "/c" };
	char all[512] = "";
	for (size_t i = 0; i < 3; i++)
		strcat(all, reqs[i]);
	size_t off = 0;
	for (size_t i = 0; i < 3; i++) {
		size_t at;
		enum http_state st = feed_bytewise(&conn, all + off, strlen(all + off), &at);
		cr_assert_eq(st, HTTP_READY, "request %zu: %s", i, conn.err_msg);
		cr_expect_str_eq(conn.req.path, paths[i], "request %zu", i);
		cr_expect_eq(at + 1, strlen(reqs[i]), "request %zu ends where it should", i);
		off += at + 1;
		http_conn_next(&conn);
	}
	cr_expect_eq(off, strlen(all));
}

Test(http, keep_alive_follows_version_and_connection_header)
{
	static const struct {
		const char *req;
		bool keep_alive;
	} cases[] = {
		{ "GET / HTTP/1.1\r\n\r\n", true },
		{ "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n", true },
		{ "GET / HTTP/1.0\r\n\r\n", false },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true },
		{ "GET / HTTP/1.0\r\nConnection: close\r\n\r\n", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_conn c;
		http_conn_init(&c, HTTP_DEFAULT_MAX_BODY);
		cr_assert_eq(feed(&c, cases[i].req, NULL), HTTP_READY, "case %zu: %s", i,
			     c.err_msg);
		cr_expect_eq(c.req.keep_alive, cases[i].keep_alive, "case %zu: %s", i,
			     cases[i].req);
		http_conn_fini(&c);
	}
}

Test(http, keep_alive_is_per_request_on_one_connection)
{
	const char *both = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nConnection: close\r\n\r\n";
	size_t used;
	cr_assert_eq(feed(&conn, both, &used), HTTP_READY);
	cr_expect(conn.req.keep_alive);
	http_conn_next(&conn);
	cr_assert_eq(feed(&conn, both + used, NULL), HTTP_READY);
	cr_expect_str_eq(conn.req.path, "/b");
	cr_expect_not(conn.req.keep_alive);
}

Test(http, query_strings_are_stripped_from_the_path)
{
	static const struct {
		const char *url, *path;
	} cases[] = {
		{ "/machine-config?x=1", "/machine-config" },
		{ "/?", "/" },
		{ "/a?b?c", "/a" },
		{ "/drives/rootfs?", "/drives/rootfs" },
		{ "/plain", "/plain" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_conn c;
		char req[256];
		http_conn_init(&c, HTTP_DEFAULT_MAX_BODY);
		snprintf(req, sizeof(req), "GET %s" GET_HDR, cases[i].url);
		cr_assert_eq(feed(&c, req, NULL), HTTP_READY, "case %zu: %s", i, c.err_msg);
		cr_expect_str_eq(c.req.path, cases[i].path, "case %zu (%s)", i, cases[i].url);
		http_conn_fini(&c);
	}
}

Test(http, expect_100_continue_is_flagged_before_the_body)
{
	const char *head = "PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
	cr_assert_eq(feed(&conn, head, NULL), HTTP_INCOMPLETE);
	cr_expect(conn.want_continue, "flagged as soon as the headers are in");
	cr_assert_eq(feed(&conn, "{}", NULL), HTTP_READY);
	http_conn_next(&conn);
	cr_expect_not(conn.want_continue, "cleared for the next request");
	cr_assert_eq(feed(&conn, "GET / HTTP/1.1\r\n\r\n", NULL), HTTP_READY);
	cr_expect_not(conn.want_continue);
}

Test(http, expect_header_is_matched_case_insensitively_and_in_pieces)
{
	static const char *const heads[] = {
		"PUT /x HTTP/1.1\r\nexpect: 100-Continue\r\nContent-Length: 2\r\n\r\n",
		"PUT /x HTTP/1.1\r\nContent-Length: 2\r\nEXPECT: 100-CONTINUE\r\n\r\n",
		"PUT /x HTTP/1.1\r\nX-A: b\r\nExpect: 100-continue\r\nX-C: d\r\nContent-Length: "
		"2\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		struct http_conn c;
		size_t at;
		http_conn_init(&c, HTTP_DEFAULT_MAX_BODY);
		cr_expect_eq(feed(&c, heads[i], NULL), HTTP_INCOMPLETE, "case %zu", i);
		cr_expect(c.want_continue, "case %zu: whole", i);
		http_conn_fini(&c);

		http_conn_init(&c, HTTP_DEFAULT_MAX_BODY);
		cr_expect_eq(feed_bytewise(&c, heads[i], strlen(heads[i]), &at), HTTP_INCOMPLETE);
		cr_expect(c.want_continue, "case %zu: a byte at a time", i);
		http_conn_fini(&c);
	}
}

Test(http, other_expectations_and_lookalike_headers_are_not_flagged)
{
	static const char *const heads[] = {
		"PUT /x HTTP/1.1\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\n",
		"PUT /x HTTP/1.1\r\nExpect: 100-continuex\r\nContent-Length: 2\r\n\r\n",
		"PUT /x HTTP/1.1\r\nX-Expect: 100-continue\r\nContent-Length: 2\r\n\r\n",
		"PUT /x HTTP/1.1\r\nExpectation: 100-continue\r\nContent-Length: 2\r\n\r\n",
		"PUT /x HTTP/1.1\r\nX-Long-Header-Name-Much-Longer-Than-32: 100-continue\r\n"
		"Content-Length: 2\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		struct http_conn c;
		http_conn_init(&c, HTTP_DEFAULT_MAX_BODY);
		cr_expect_eq(feed(&c, heads[i], NULL), HTTP_INCOMPLETE, "case %zu", i);
		cr_expect_not(c.want_continue, "case %zu: %s", i, heads[i]);
		http_conn_fini(&c);
	}
}

Test(http, body_bytes_past_content_length_are_the_next_request)
{
	/* 2 bytes of body, then garbage that must be parsed (and refused) as a request. */
	const char *req = "PUT /x HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}}}}";
	size_t used;
	cr_assert_eq(feed(&conn, req, &used), HTTP_READY);
	cr_expect_str_eq(conn.req.body, "{}");
	cr_expect_eq(used, strlen(req) - 3);
	http_conn_next(&conn);
	cr_expect_eq(feed(&conn, req + used, NULL), HTTP_BAD);
}

/* Parse an http_response() output back with http-parser. */
struct parsed_resp {
	char body[256];
	size_t body_len;
	bool complete;
	char connection[32];
	char last_field[32];
	bool has_content_length;
};

static int on_resp_body(http_parser *p, const char *at, size_t len)
{
	struct parsed_resp *r = p->data;
	cr_assert_lt(r->body_len + len, sizeof(r->body));
	memcpy(r->body + r->body_len, at, len);
	r->body_len += len;
	return 0;
}

static int on_resp_field(http_parser *p, const char *at, size_t len)
{
	struct parsed_resp *r = p->data;
	snprintf(r->last_field, sizeof(r->last_field), "%.*s", (int)len, at);
	if (!strcasecmp(r->last_field, "Content-Length"))
		r->has_content_length = true;
	return 0;
}

static int on_resp_value(http_parser *p, const char *at, size_t len)
{
	struct parsed_resp *r = p->data;
	if (!strcasecmp(r->last_field, "Connection"))
		snprintf(r->connection, sizeof(r->connection), "%.*s", (int)len, at);
	return 0;
}

static int on_resp_complete(http_parser *p)
{
	((struct parsed_resp *)p->data)->complete = true;
	return 0;
}

static http_parser parse_response(const char *buf, size_t len, struct parsed_resp *r)
{
	static const http_parser_settings s = { .on_body = on_resp_body,
						.on_header_field = on_resp_field,
						.on_header_value = on_resp_value,
						.on_message_complete = on_resp_complete };
	http_parser p;
	memset(r, 0, sizeof(*r));
	http_parser_init(&p, HTTP_RESPONSE);
	p.data = r;
	size_t n = http_parser_execute(&p, &s, buf, len);
	cr_expect_eq(HTTP_PARSER_ERRNO(&p), HPE_OK, "%s",
		     http_errno_description(HTTP_PARSER_ERRNO(&p)));
	cr_expect_eq(n, len, "the whole response parses");
	return p;
}

Test(http, response_with_body_parses_back)
{
	size_t len = 0;
	const char *body = "{\"fault_message\": \"x\"}";
	char *out = http_response(400, body, true, &len);
	cr_assert_not_null(out);
	cr_expect(!strncmp(out, "HTTP/1.1 400 Bad Request\r\n", 26), "status line: %.30s", out);
	struct parsed_resp r;
	http_parser p = parse_response(out, len, &r);
	cr_expect_eq(p.status_code, 400);
	cr_expect(r.complete, "Content-Length delimits the body");
	cr_expect(r.has_content_length);
	cr_expect_eq(r.body_len, strlen(body));
	cr_expect_eq(memcmp(r.body, body, r.body_len), 0);
	cr_expect_str_eq(r.connection, "keep-alive");
	cr_expect(strstr(out, "Content-Type: application/json\r\n") != NULL);
	free(out);
}

Test(http, response_without_body_says_connection_close)
{
	size_t len = 0;
	char *out = http_response(204, NULL, false, &len);
	cr_assert_not_null(out);
	cr_expect_eq(len, strlen(out));
	cr_expect(!strncmp(out, "HTTP/1.1 204 No Content\r\n", 25), "%.30s", out);
	cr_expect(len >= 4 && !memcmp(out + len - 4, "\r\n\r\n", 4), "headers end the response");
	struct parsed_resp r;
	http_parser p = parse_response(out, len, &r);
	cr_expect_eq(p.status_code, 204);
	cr_expect(r.complete);
	cr_expect_eq(r.body_len, 0);
	cr_expect_str_eq(r.connection, "close");
	free(out);
}

Test(http, response_length_covers_a_large_body_exactly)
{
	size_t blen = 100000, len = 0;
	char *body = malloc(blen + 1);
	cr_assert_not_null(body);
	memset(body, 'x', blen);
	body[blen] = '\0';
	char *out = http_response(200, body, true, &len);
	cr_assert_not_null(out);
	char want[64];
	snprintf(want, sizeof(want), "Content-Length: %zu\r\n", blen);
	cr_expect(strstr(out, want) != NULL);
	const char *end = strstr(out, "\r\n\r\n");
	cr_assert_not_null(end);
	cr_expect_eq(len, (size_t)(end + 4 - out) + blen);
	cr_expect_eq(memcmp(end + 4, body, blen), 0);
	free(out);
	free(body);
}

Test(http, response_empty_body_has_content_length_zero)
{
	size_t len = 0;
	char *out = http_response(200, "", true, &len);
	cr_assert_not_null(out);
	cr_expect(strstr(out, "Content-Length: 0\r\n") != NULL);
	cr_expect_eq(len, strlen(out));
	free(out);
}

Test(http, reason_phrases)
{
	static const struct {
		int status;
		const char *reason;
	} cases[] = {
		{ 100, "Continue" },	      { 200, "OK" },
		{ 204, "No Content" },	      { 400, "Bad Request" },
		{ 404, "Not Found" },	      { 405, "Method Not Allowed" },
		{ 413, "Payload Too Large" }, { 500, "Internal Server Error" },
		{ 418, "Unknown" },	      { 0, "Unknown" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_expect_str_eq(http_reason(cases[i].status), cases[i].reason, "status %d",
				 cases[i].status);
}

Test(http, fini_is_idempotent)
{
	char *req = put_request("/x", "{}");
	cr_assert_eq(feed(&conn, req, NULL), HTTP_READY);
	free(req);
	http_conn_fini(&conn);
	cr_expect_null(conn.req.body);
	http_conn_fini(&conn); /* teardown calls it again too */
	cr_expect_null(conn.req.body);
}
