/*
 * api-socket/http.c as the api thread drives it (server.c's process_input):
 * bytes arrive in reads of any size, collect in a client's input buffer
 * (API_CLIENT_INBUF), complete requests come out one at a time and the rest of the
 * buffer moves up; a bad request, or one without keep-alive, ends the
 * connection. The first input byte picks the read sizes and the body limit;
 * the rest is what the client sends. Every request and every refusal that
 * comes out is checked.
 */
#include <string.h>

#include "../../api-socket/conn.h"
#include "../../api-socket/http.h"
#include "../../lib/log.h"
#include "../../lib/util.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_OFF);
	return 0;
}

/* The size of the next read: all there is, a byte, or a few (xorshift). */
static size_t next_read(unsigned shape, uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	switch (shape) {
	case 0: return SIZE_MAX;
	case 1: return 1;
	case 2: return 1 + *x % 8;
	default: return 1 + *x % 256;
	}
}

static void check_request(const struct http_conn *c, size_t max_body)
{
	const struct http_request *r = &c->req;
	FUZZ_CHECK(c->phase == HTTP_PHASE_IDLE, "a complete request in phase %d", c->phase);
	size_t plen = strnlen(r->path, sizeof(r->path));
	FUZZ_CHECK(plen <= HTTP_MAX_URL, "path of %zu bytes", plen);
	FUZZ_CHECK(!strchr(r->path, '?'), "query string left in %s", r->path);
	FUZZ_CHECK(strcmp(http_method_str(r->method), "<unknown>"), "method %d", r->method);
	FUZZ_CHECK(r->body_len <= max_body, "body of %zu bytes over %zu", r->body_len, max_body);
	if (r->body_len) {
		FUZZ_CHECK(r->body, "%zu body bytes and no body", r->body_len);
		FUZZ_CHECK(r->body[r->body_len] == '\0', "body not terminated");
	}
	size_t len;
	char *resp = http_response(200, r->body_len ? "{}" : NULL, r->keep_alive, &len);
	FUZZ_CHECK(resp && len > 0, "no response");
	free(resp);
}

static void check_refusal(const struct http_conn *c)
{
	FUZZ_CHECK(c->err_status == 400 || c->err_status == 500, "status %d", c->err_status);
	FUZZ_CHECK(c->err_msg[0], "a refusal without a message");
	enum http_state st;
	struct http_conn *mc = (struct http_conn *)c;
	FUZZ_CHECK(http_conn_feed(mc, "GET / HTTP/1.1\r\n\r\n", 18, &st) == 0 && st == HTTP_BAD,
		   "a refused connection parsed more");
}

/* Parse what is in the buffer; false once the connection is over. */
static bool process_input(struct http_conn *c, char *in, size_t *in_len, size_t max_body)
{
	for (;;) {
		enum http_state st;
		size_t used = http_conn_feed(c, in, *in_len, &st);
		FUZZ_CHECK(used <= *in_len, "used %zu of %zu bytes", used, *in_len);
		memmove(in, in + used, *in_len - used);
		*in_len -= used;
		if (c->want_continue && st == HTTP_INCOMPLETE)
			c->want_continue = false; /* the server answers 100 Continue */
		if (st == HTTP_BAD) {
			check_refusal(c);
			return false;
		}
		if (st != HTTP_READY)
			return true;
		check_request(c, max_body);
		if (!c->req.keep_alive)
			return false;
		http_conn_next(c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char in[API_CLIENT_INBUF];
	size_t in_len = 0, off = 0;
	uint8_t sel = fuzz_take(&data, &size);
	uint32_t x = 0x9e3779b9u ^ sel;
	size_t max_body = sel & 0x80 ? 64 : HTTP_DEFAULT_MAX_BODY;
	struct http_conn c;

	http_conn_init(&c, max_body);
	/* A full buffer without a request in it: the server drops the client. */
	while (off < size && in_len < sizeof(in)) {
		size_t n = next_read(sel & 3, &x);
		n = MIN(n, MIN(size - off, sizeof(in) - in_len));
		memcpy(in + in_len, data + off, n);
		in_len += n;
		off += n;
		if (!process_input(&c, in, &in_len, max_body))
			break;
	}
	http_conn_fini(&c);
	return 0;
}
