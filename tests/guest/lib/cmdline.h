/* Kernel-style command line: "key=value" words separated by spaces. */
#ifndef GUEST_CMDLINE_H
#define GUEST_CMDLINE_H

#include "guest.h"

/*
 * Copy the value of the last "key=value" word into buf (NUL-terminated,
 * truncated to size - 1).  Returns true if the key is present.
 */
bool cmdline_get(const char *cmdline, const char *key, char *buf, size_t size);

/* The value as a number with parse_size() rules. False if absent or invalid. */
bool cmdline_get_u64(const char *cmdline, const char *key, uint64_t *val);

/*
 * Linux memparse: decimal or 0x-hex, optional K/M/G suffix (powers of 1024).
 * Returns the character after the number, or NULL if there is no number.
 */
const char *parse_size(const char *s, uint64_t *val);

struct mmio_slot {
	uint64_t base;
	uint64_t size;
	uint32_t irq;
};

/*
 * Every "virtio_mmio.device=<size>@<base>:<irq>[:<id>]" word, in order.
 * Malformed ones are reported and skipped.  Returns how many were stored.
 */
int cmdline_virtio_mmio(const char *cmdline, struct mmio_slot *slots, int max);

#endif
