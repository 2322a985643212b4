/*
 * Shared by the libFuzzer targets in tests/fuzz/: the entry points libFuzzer
 * calls, and a check that turns a broken invariant into a crash the fuzzer
 * keeps (an input the parser accepted but mishandled is as much a bug as an
 * out-of-bounds read, which ASan and UBSan catch on their own).
 */
#ifndef MVM_FUZZ_H
#define MVM_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                                \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "%s:%d: invariant broken: %s: ", __FILE__, __LINE__, \
				#cond);                                                      \
			fprintf(stderr, __VA_ARGS__);                                        \
			fputc('\n', stderr);                                                 \
			abort();                                                             \
		}                                                                            \
	} while (0)

/* Bytes taken off the front of an input, one at a time; 0 once it is used up. */
static inline uint8_t fuzz_take(const uint8_t **data, size_t *size)
{
	if (!*size)
		return 0;
	(*size)--;
	return *(*data)++;
}

/* s is one well-formed JSON document, as lib/json.c reads it. */
static inline bool fuzz_is_json(const char *s)
{
	struct json j;
	struct err e = { 0 };
	if (json_parse(&j, s, strlen(s), &e))
		return false;
	json_free(&j);
	return true;
}

#endif
