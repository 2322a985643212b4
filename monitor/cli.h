/* Operator subcommands of the mvm binary. */
#ifndef MVM_CLI_H
#define MVM_CLI_H

int cmd_snapshot(int argc, char **argv);
int cmd_restore(int argc, char **argv, const char *self);
int cmd_merge_memory(int argc, char **argv);

#endif
