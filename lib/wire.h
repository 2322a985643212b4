/*
 * A bounded byte codec for snapshot state: a device writes its config and
 * state with the put functions and reads them back with the get functions.
 * Every get is checked against the bytes left; the first short or malformed
 * read marks the reader bad and every later get returns zeroes, so a caller
 * reads all fields, then asks wire_ok() once.
 */
#ifndef MVM_WIRE_H
#define MVM_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_MAX (1u << 20) /* no device's state is bigger */

struct wire {
	uint8_t *buf;
	size_t len, cap, pos;
	bool bad; /* writer: out of memory or over WIRE_MAX; reader: short or malformed */
};

void wire_init(struct wire *w);
/* A reader over someone else's bytes (not freed by wire_fini). */
void wire_reader(struct wire *w, const void *p, size_t len);
void wire_fini(struct wire *w);

void wire_put(struct wire *w, const void *p, size_t n);
void wire_put_u32(struct wire *w, uint32_t v);
void wire_put_u64(struct wire *w, uint64_t v);
/* A string (NULL allowed): u32 length, then the bytes; UINT32_MAX means NULL. */
void wire_put_str(struct wire *w, const char *s);

bool wire_get(struct wire *w, void *p, size_t n);
uint32_t wire_get_u32(struct wire *w);
uint64_t wire_get_u64(struct wire *w);
/* A string of at most max bytes without NULs, malloc'd (NULL for a NULL string
 * or on error: check wire_ok). */
char *wire_get_str(struct wire *w, size_t max);
/* Into a buffer of `size` bytes (NUL-terminated); NULL strings are refused. */
bool wire_get_strbuf(struct wire *w, char *buf, size_t size);
/* All read, nothing bad. */
bool wire_ok(const struct wire *w);

#endif
