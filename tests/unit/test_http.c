/*
 * api-socket/http.c: HTTP/1.1 request framing over http-parser, one request
 * at a time: what one request may be (methods, bodies, the caps on body, URL
 * and headers, malformed input, query strings, Expect: 100-continue). A
 * connection's stream of requests, and the responses, are
 * test_http_stream.c.
 */
#include "http_util.h"

TestSuite(http, .init = http_setup, .fini = http_teardown);

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
