/* Operator subcommands of the mvm binary. */
#ifndef MVM_CLI_H
#define MVM_CLI_H

#include <stdarg.h>

/* "mvm: <message>\n" on stderr: how every subcommand reports a failure. */
void cli_vsay(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* cli_vsay, then 1: what a subcommand returns on failure. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int cmd_snapshot(int argc, char **argv);
int cmd_restore(int argc, char **argv, const char *self);
int cmd_merge_memory(int argc, char **argv);
/* mvm snapshot --diff, after the monitor wrote the diff (dmem) and its state
 * (<state>.tmp): merge it onto mem and publish the pair; 0 or 1 (said why). */
int cli_merge_diff_snapshot(const char *state, const char *mem, const char *dmem);

#endif
