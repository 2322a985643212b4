/* MMDS version 2 session tokens (token.h). */
#include "token.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = ROTL(v[1], 13) ^ v[0];
	v[0] = ROTL(v[0], 32);
	v[2] += v[3];
	v[3] = ROTL(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = ROTL(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = ROTL(v[1], 17) ^ v[2];
	v[2] = ROTL(v[2], 32);
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t x = 0;
	for (int i = 7; i >= 0; i--)
		x = x << 8 | p[i];
	return x;
}

uint64_t mmds_siphash(const uint64_t k[2], const uint8_t *in, size_t len)
{
	uint64_t v[4] = { k[0] ^ 0x736f6d6570736575ULL, k[1] ^ 0x646f72616e646f6dULL,
			  k[0] ^ 0x6c7967656e657261ULL, k[1] ^ 0x7465646279746573ULL };
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t m = le64(in + i);
		v[3] ^= m;
		sipround(v);
		sipround(v);
		v[0] ^= m;
	}
	uint64_t last = (uint64_t)len << 56;
	for (size_t n = 0; i + n < len; n++)
		last |= (uint64_t)in[i + n] << (8 * n);
	v[3] ^= last;
	sipround(v);
	sipround(v);
	v[0] ^= last;
	v[2] ^= 0xff;
	for (int r = 0; r < 4; r++)
		sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

#ifndef GRND_INSECURE
#define GRND_INSECURE 0x0004
#endif

int mmds_tokens_init(struct mmds_tokens *t)
{
	uint8_t *p = (uint8_t *)t->key;
	size_t got = 0;
	/* Never block the vmm thread: a host whose entropy pool is not ready yet
	 * (a VM just booted) still gets keys, the kernel's best at that time. */
	unsigned flags = GRND_NONBLOCK;
	while (got < sizeof(t->key)) {
		ssize_t r = getrandom(p + got, sizeof(t->key) - got, flags);
		if (r < 0 && errno == EAGAIN && flags == GRND_NONBLOCK) {
			flags = GRND_INSECURE;
			continue;
		}
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0)
			got += (size_t)r;
	}
	t->keyed = true;
	return 0;
}

static void macs(const struct mmds_tokens *t, uint64_t expiry, uint64_t out[2])
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(expiry >> (8 * i));
	out[0] = mmds_siphash(t->key, b, sizeof(b));
	out[1] = mmds_siphash(t->key + 2, b, sizeof(b));
}

void mmds_token_make(const struct mmds_tokens *t, uint64_t now_ms, uint32_t ttl_s, char *out)
{
	uint64_t expiry = now_ms + (uint64_t)ttl_s * 1000, m[2];
	macs(t, expiry, m);
	snprintf(out, MMDS_TOKEN_LEN + 1, "%016llx%016llx%016llx", (unsigned long long)expiry,
		 (unsigned long long)m[0], (unsigned long long)m[1]);
}

static bool hex64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	for (int i = 0; i < 16; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return false;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return true;
}

bool mmds_token_valid(const struct mmds_tokens *t, const char *tok, size_t len, uint64_t now_ms)
{
	uint64_t expiry, m0, m1, want[2];
	if (!t->keyed || len != MMDS_TOKEN_LEN || !hex64(tok, &expiry) || !hex64(tok + 16, &m0) ||
	    !hex64(tok + 32, &m1))
		return false;
	macs(t, expiry, want);
	/* Compare without an early exit: the time taken says nothing about the MAC. */
	uint64_t diff = (m0 ^ want[0]) | (m1 ^ want[1]);
	return diff == 0 && now_ms < expiry;
}
