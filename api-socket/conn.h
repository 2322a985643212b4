/*
 * One API client connection: fixed buffers, the phase its current request is
 * in, and the deadline that phase gives it. The policy, in numbers:
 *
 *   idle (no request begun)       60 s, then the connection is closed
 *   request line and headers      10 s from the request's first byte
 *   body                          10 s from the end of the headers
 *   response                      10 s for the client to take all of it
 *
 * While a response is unsent the connection is not read (back-pressure): a
 * client that pipelines and never reads holds one input buffer and one
 * response, nothing more. When every slot is taken, a new client takes the
 * slot of the connection that has sat longest in its phase, if that is at
 * least API_EVICT_AFTER_MS; otherwise the new client is refused.
 */
#ifndef MVM_API_CONN_H
#define MVM_API_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

#define API_MAX_CLIENTS	      32
#define API_CLIENT_INBUF      16384
#define API_IDLE_TIMEOUT_MS   60000
#define API_HEADER_TIMEOUT_MS 10000
#define API_BODY_TIMEOUT_MS   10000
#define API_WRITE_TIMEOUT_MS  10000
#define API_EVICT_AFTER_MS    1000

enum conn_phase { CONN_IDLE, CONN_HEADERS, CONN_BODY, CONN_WRITING };

struct api_client {
	int fd; /* -1: the slot is free */
	struct http_conn http;
	char in[API_CLIENT_INBUF];
	size_t in_len;
	char *out; /* one response (and perhaps a 100 Continue before it) */
	size_t out_len, out_off;
	bool closing;	 /* close once the output is sent */
	uint32_t events; /* what epoll watches for it now */
	enum conn_phase phase;
	uint64_t since_ms; /* when the phase began */
};

const char *conn_phase_name(enum conn_phase p);
bool conn_output_pending(const struct api_client *c);
/* Move to the phase the parser and the output say; the clock restarts on a change. */
void conn_update_phase(struct api_client *c, uint64_t now_ms);
/* When the connection is closed if it makes no progress. */
uint64_t conn_deadline(const struct api_client *c);
/* The slot a new client may take when all n are in use, or -1. */
int conn_pick_victim(const struct api_client *cs, int n, uint64_t now_ms);
/* The epoll events the connection wants in its phase. */
uint32_t conn_events(const struct api_client *c);

/* A warning that says how often it happened instead of flooding the log. */
struct rate_log {
	uint64_t last_ms;
	unsigned suppressed;
};
/* True when a line may be written now (at most one per interval); *missed
 * gets how many were held back since the last one. */
bool rate_log_allow(struct rate_log *r, uint64_t now_ms, uint64_t interval_ms, unsigned *missed);

#endif
