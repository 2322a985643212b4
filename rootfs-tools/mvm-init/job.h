/* mvm-init's job: the workload, its environment and the words it comes in (job.c). */
#ifndef MVM_INIT_JOB_H
#define MVM_INIT_JOB_H

#include <stdbool.h>
#include <stddef.h>

struct job {
	char **args, **env, **mounts; /* NULL-terminated */
	int nargs, nenv, nmounts;
	int args_from;
	char *cwd, *hostname;
	unsigned uid, gid;
	char nonce[40];
	bool wait;
};

int job_word(struct job *j, const char *w, size_t n, int from);
int job_words(struct job *j, const char *text, int from);

#endif
