/*
 * api-socket/http.c: a connection over time: pipelined requests, requests
 * and pipelines fed a byte at a time, keep-alive, bytes past a body; and
 * http_response(), parsed back with http-parser. One request on its own is
 * test_http.c.
 */
#include "http_util.h"

TestSuite(http_stream, .init = http_setup, .fini = http_teardown);

Test(http_stream, two_pipelined_requests_come_out_one_at_a_time)
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

Test(http_stream, pipelined_request_after_a_bad_one_is_never_served)
{
	const char *both = "GET / HTTP/9.9\r\n\r\nGET /version" GET_HDR;
	cr_expect_eq(feed(&conn, both, NULL), HTTP_BAD);
	cr_expect_eq(feed(&conn, strstr(both, "GET /version"), NULL), HTTP_BAD);
}

Test(http_stream, a_request_split_byte_by_byte_still_parses)
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

Test(http_stream, a_pipeline_split_byte_by_byte_parses_every_request)
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

Test(http_stream, keep_alive_follows_version_and_connection_header)
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

Test(http_stream, keep_alive_is_per_request_on_one_connection)
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

Test(http_stream, body_bytes_past_content_length_are_the_next_request)
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

Test(http_stream, response_with_body_parses_back)
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

Test(http_stream, response_without_body_says_connection_close)
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

Test(http_stream, response_length_covers_a_large_body_exactly)
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

Test(http_stream, response_empty_body_has_content_length_zero)
{
	size_t len = 0;
	char *out = http_response(200, "", true, &len);
	cr_assert_not_null(out);
	cr_expect(strstr(out, "Content-Length: 0\r\n") != NULL);
	cr_expect_eq(len, strlen(out));
	free(out);
}

Test(http_stream, reason_phrases)
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
