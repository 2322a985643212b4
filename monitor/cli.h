/* Operator subcommands of the mvm binary. */
#ifndef MVM_CLI_H
#define MVM_CLI_H

#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>

/* "mvm: <message>\n" on stderr: how every subcommand reports a failure. */
void cli_vsay(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* cli_vsay, then 1: what a subcommand returns on failure. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One API call that must answer 2xx (its body into *out when out is not
 * NULL); 0, or 1 after saying why. */
struct api_client_resp;
int cli_api_call(const char *sock, const char *method, const char *path, const char *body,
		 struct api_client_resp *out);
/* Wait up to 20 s for the monitor pid to listen on sock (a loaded host may
 * take a while to schedule it); false if it died or never did. */
bool cli_wait_socket(const char *sock, pid_t pid);

int cmd_image(int argc, char **argv);
/* mvm run IMAGE [-- CMD ...] (argv[0] is "run"); its exit status is the workload's. */
int cmd_run_image(int argc, char **argv);
/* Does `mvm run ...` name an image (a word that is no option's value)? */
bool cli_run_names_image(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_restore(int argc, char **argv, const char *self);
int cmd_merge_memory(int argc, char **argv);
/* mvm snapshot --diff, after the monitor wrote the diff (dmem) and its state
 * (<state>.tmp): merge it onto mem and publish the pair; 0 or 1 (said why). */
int cli_merge_diff_snapshot(const char *state, const char *mem, const char *dmem);

#endif
