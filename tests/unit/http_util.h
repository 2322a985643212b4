/*
 * Shared by test_http.c and test_http_stream.c: one HTTP connection, fed
 * whole or a byte at a time.
 */
#ifndef MVM_TEST_HTTP_UTIL_H
#define MVM_TEST_HTTP_UTIL_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../api-socket/http.h"

#define GET_HDR " HTTP/1.1\r\nHost: localhost\r\n\r\n"

static struct http_conn conn;

static inline void http_setup(void)
{
	http_conn_init(&conn, HTTP_DEFAULT_MAX_BODY);
}

static inline void http_teardown(void)
{
	http_conn_fini(&conn);
}

/* Feed all of s (NUL-terminated) at once; *used gets the bytes consumed. */
static inline enum http_state feed(struct http_conn *c, const char *s, size_t *used)
{
	enum http_state st = (enum http_state) - 1;
	size_t n = http_conn_feed(c, s, strlen(s), &st);
	if (used)
		*used = n;
	return st;
}

/* Feed len bytes one at a time; returns the state after the last byte. */
static inline enum http_state feed_bytewise(struct http_conn *c, const char *s, size_t len,
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
static inline char *put_request(const char *path, const char *body)
{
	char *s = NULL;
	int n = asprintf(&s,
			 "PUT %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\n\r\n%s",
			 path, strlen(body), body);
	cr_assert_gt(n, 0);
	return s;
}

#endif
