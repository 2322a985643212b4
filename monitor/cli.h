/* Operator subcommands of the mvm binary. */
#ifndef MVM_CLI_H
#define MVM_CLI_H

#include <stdarg.h>

/* "mvm: <message>\n" on stderr: how every subcommand reports a failure. */
void cli_vsay(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

int cmd_snapshot(int argc, char **argv);
int cmd_restore(int argc, char **argv, const char *self);
int cmd_merge_memory(int argc, char **argv);

#endif
