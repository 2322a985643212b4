/*
 * mvm-init's job: what to run, as words. The same words come from three
 * places, later ones winning:
 *   1. /.mvm/job in the image, one word a line (mvm image build writes it
 *      from the image's config),
 *   2. the kernel command line (mvm run adds the command and --env there),
 *   3. one line on the console, after "ready" (mvm.wait=1: a VM restored from
 *      a snapshot gets its command that way).
 * Words: mvm.arg=HEX (repeated: the argv; any given by a later place replace
 * all earlier ones), mvm.env=HEX (K=V, replaces an earlier K), mvm.cwd=HEX,
 * mvm.user=UID:GID, mvm.hostname=HEX, mvm.mount=HEX (DEV:PATH, an ext4 drive
 * to mount), mvm.nonce=WORD (marks the lines mvm reads back), mvm.wait=1.
 * HEX is the value's bytes in hex, so values may hold any byte but NUL.
 */
#include "job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unhex(const char *s, size_t n, char **out)
{
	if (n % 2)
		return -1;
	char *v = malloc(n / 2 + 1);
	if (!v)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned x;
		if (sscanf(s + 2 * i, "%2x", &x) != 1 || !x) {
			free(v);
			return -1;
		}
		v[i] = (char)x;
	}
	v[n / 2] = '\0';
	*out = v;
	return 0;
}

static int push(char ***list, int *n, char *v)
{
	char **l = realloc(*list, (size_t)(*n + 2) * sizeof(char *));
	if (!l)
		return -1;
	l[(*n)++] = v;
	l[*n] = NULL;
	*list = l;
	return 0;
}

static int set_env(struct job *j, char *kv)
{
	size_t k = strcspn(kv, "=");
	for (int i = 0; i < j->nenv; i++)
		if (!strncmp(j->env[i], kv, k) && j->env[i][k] == '=') {
			free(j->env[i]);
			j->env[i] = kv;
			return 0;
		}
	return push(&j->env, &j->nenv, kv);
}

/* One word from place `from` (1, 2, 3 as above); words not ours are skipped. */
int job_word(struct job *j, const char *w, size_t n, int from)
{
	static const char *hexkeys[] = { "mvm.arg=", "mvm.env=", "mvm.cwd=", "mvm.hostname=",
					 "mvm.mount=" };
	for (unsigned k = 0; k < sizeof(hexkeys) / sizeof(hexkeys[0]); k++) {
		size_t kl = strlen(hexkeys[k]);
		char *v;
		if (n < kl || strncmp(w, hexkeys[k], kl))
			continue;
		if (unhex(w + kl, n - kl, &v))
			return -1;
		switch (k) {
		case 0:
			if (j->args_from != from) {
				for (int i = 0; i < j->nargs; i++)
					free(j->args[i]);
				j->nargs = 0;
				j->args_from = from;
			}
			return push(&j->args, &j->nargs, v);
		case 1: return set_env(j, v);
		case 2:
			free(j->cwd);
			j->cwd = v;
			return 0;
		case 3:
			free(j->hostname);
			j->hostname = v;
			return 0;
		default: return push(&j->mounts, &j->nmounts, v);
		}
	}
	if (n > 9 && !strncmp(w, "mvm.user=", 9)) {
		char buf[64];
		snprintf(buf, sizeof(buf), "%.*s", (int)(n - 9), w + 9);
		return sscanf(buf, "%u:%u", &j->uid, &j->gid) == 2 ? 0 : -1;
	}
	if (n > 10 && !strncmp(w, "mvm.nonce=", 10)) {
		snprintf(j->nonce, sizeof(j->nonce), "%.*s", (int)(n - 10), w + 10);
		return 0;
	}
	if (n == 10 && !strncmp(w, "mvm.wait=1", 10))
		j->wait = from < 3;
	return 0;
}

/* Every word of text (spaces, tabs and newlines between words). */
int job_words(struct job *j, const char *text, int from)
{
	const char *p = text;
	while (*p) {
		size_t skip = strspn(p, " \t\r\n");
		p += skip;
		size_t n = strcspn(p, " \t\r\n");
		if (n && job_word(j, p, n, from))
			return -1;
		p += n;
	}
	return 0;
}
