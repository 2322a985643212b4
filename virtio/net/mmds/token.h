/*
 * MMDS version 2 session tokens. A token carries its own expiry and a MAC of
 * it (SipHash-2-4 under two random 128-bit keys), so nothing is stored per
 * session: 48 hex digits, valid until the expiry on the monotonic clock.
 */
#ifndef MVM_MMDS_TOKEN_H
#define MVM_MMDS_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MMDS_TOKEN_LEN	   48
#define MMDS_TOKEN_TTL_MIN 1
#define MMDS_TOKEN_TTL_MAX 21600

struct mmds_tokens {
	uint64_t key[4];
	bool keyed;
};

/* Random keys (getrandom); 0 or -errno. */
int mmds_tokens_init(struct mmds_tokens *t);
/* A token valid for ttl_s seconds from now_ms into out[MMDS_TOKEN_LEN + 1]. */
void mmds_token_make(const struct mmds_tokens *t, uint64_t now_ms, uint32_t ttl_s, char *out);
/* The token (len bytes) was made with these keys and has not expired at now_ms. */
bool mmds_token_valid(const struct mmds_tokens *t, const char *tok, size_t len, uint64_t now_ms);
/* SipHash-2-4 of in[0..len) under key k[2] (exposed for its test vector). */
uint64_t mmds_siphash(const uint64_t k[2], const uint8_t *in, size_t len);

#endif
