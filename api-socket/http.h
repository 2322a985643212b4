/*
 * HTTP/1.1 request framing over a byte stream, on Debian's http-parser:
 * requests come out one at a time (pipelining works), with caps on the URL,
 * headers and body, and a 400-style verdict for anything malformed.
 */
#ifndef MVM_API_HTTP_H
#define MVM_API_HTTP_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_URL	      1024
#define HTTP_MAX_HEADER_BYTES 8192
#define HTTP_DEFAULT_MAX_BODY 51200

enum http_state {
	HTTP_INCOMPLETE, /* feed more bytes */
	HTTP_READY,	 /* c->req holds a whole request */
	HTTP_BAD,	 /* c->err_status/err_msg say why; answer and close */
};

/* Where the request being parsed is, for the server's deadlines. */
enum http_phase {
	HTTP_PHASE_IDLE,    /* no byte of a request yet (or the last one done) */
	HTTP_PHASE_HEADERS, /* request line and headers */
	HTTP_PHASE_BODY,    /* headers done, body bytes to come */
};

struct http_request {
	enum http_method method;
	char path[HTTP_MAX_URL + 1]; /* without the query string */
	char *body;
	size_t body_len;
	bool keep_alive;
};

struct http_conn {
	http_parser p;
	struct http_request req;
	enum http_phase phase;
	size_t max_body;
	size_t header_bytes;
	bool complete;
	bool want_continue; /* the client sent Expect: 100-continue */
	bool bad;
	int err_status;
	char err_msg[160];
	char field[32];
	size_t field_len;
	bool field_done;
	char value[32];
	size_t value_len;
};

void http_conn_init(struct http_conn *c, size_t max_body);
void http_conn_fini(struct http_conn *c);
/* Consume bytes until a request is complete or an error; returns bytes used. */
size_t http_conn_feed(struct http_conn *c, const char *buf, size_t len, enum http_state *st);
/* Forget the finished request, ready to parse the next one on the connection. */
void http_conn_next(struct http_conn *c);

const char *http_reason(int status);
/* Status line, headers and body into a malloc'd buffer; *len set. */
char *http_response(int status, const char *body, bool keep_alive, size_t *len);
/* The same, with Firecracker's "Deprecation: true" header when asked, and a
 * Content-Type (NULL: application/json). */
char *http_response_dep(int status, const char *body, bool keep_alive, bool deprecated,
			const char *content_type, size_t *len);

#endif
