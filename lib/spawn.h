/* Run another program (a tool such as skopeo or mkfs.ext4) and collect what it said. */
#ifndef MVM_SPAWN_H
#define MVM_SPAWN_H

#include <stddef.h>

/*
 * Run argv (argv[0] looked up on PATH) with stdin /dev/null and wait for it.
 * Its stdout goes to *out (malloc'd, NUL-terminated; free it) when out is not
 * NULL, else nowhere; its stderr's last lines go to why (for messages).
 * Returns its exit status (0..255; 128+N when signal N killed it), or -errno
 * when it could not be started (why says so: "skopeo is not installed ...").
 */
int spawn_run(char *const argv[], char **out, char *why, size_t why_size);

#endif
