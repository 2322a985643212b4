/*
 * The guest's side of MMDS over HTTP/1.x: one request out of the bytes a
 * TCP connection received, answered from the data store. Version 1 answers
 * every GET; version 2 wants a session token (PUT /latest/api/token with a
 * TTL header, then the token in X-metadata-token). Codes and sentences are
 * Firecracker's.
 */
#ifndef MVM_MMDS_HTTP_H
#define MVM_MMDS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mmds_store;
struct mmds_tokens;
struct strbuf;

#define MMDS_HTTP_MAX_REQUEST 4096 /* request line, headers and body */

enum mmds_version { MMDS_V1 = 1, MMDS_V2 = 2 };

/* Firecracker's "mmds" metrics group (what is counted here and in tcp.c). */
struct mmds_metrics {
	uint64_t rx_accepted, rx_accepted_err, rx_accepted_unusual, rx_bad_eth;
	uint64_t rx_invalid_token, rx_no_token, rx_count;
	uint64_t tx_bytes, tx_count, tx_errors, tx_frames;
	uint64_t connections_created, connections_destroyed;
};
extern struct mmds_metrics mmds_metrics;

struct mmds_http_ctx {
	const struct mmds_store *store;
	const struct mmds_tokens *tokens;
	enum mmds_version version;
	uint64_t now_ms;
};

/*
 * Answer the request at the start of buf[0..len): 0 needs more bytes; else
 * the bytes it used, with the whole response appended to out and *close set
 * when the connection ends after it (HTTP/1.0, "Connection: close", or a
 * request that cannot be framed).
 */
size_t mmds_http_answer(const struct mmds_http_ctx *c, const char *buf, size_t len,
			struct strbuf *out, bool *close);

#endif
