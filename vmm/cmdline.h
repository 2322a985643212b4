/* The guest kernel's command line as mvm builds it: the user's words, then
 * the devices' (virtio_mmio.device=..., root=...). */
#ifndef MVM_CMDLINE_H
#define MVM_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

#include "x86/layout.h"

struct cmdline {
	char buf[CMDLINE_MAX_SIZE];
	size_t len;
	size_t wanted; /* what the line would take without the buffer's cap */
	bool overflow;
};

/* Append one word (or several), a space first when the line is not empty. */
void cmdline_append(struct cmdline *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whether `line` (NULL: none) holds `word` as a whole blank-separated word. */
bool cmdline_has_word(const char *line, const char *word);

#endif
