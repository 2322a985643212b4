/*
 * mvm's one error convention. A function that can fail returns 0 or a
 * negative errno; one that can say more to a user also takes a struct err
 * and leaves a sentence there that names what was wrong (the field, the
 * file, the device) and what is allowed. Callers add context with
 * err_prefix() and hand the sentence on unchanged, from the loaders to the
 * API's fault_message.
 */
#ifndef MVM_ERR_H
#define MVM_ERR_H

#include <stdarg.h>

struct err {
	int code;      /* the negative errno returned with the message */
	char msg[512]; /* empty: nothing more than strerror(-code) to say */
};

static inline void err_clear(struct err *e)
{
	if (e) {
		e->code = 0;
		e->msg[0] = '\0';
	}
}

/* Fill e (may be NULL) and return code (a negative errno). */
int err_set(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* err_set(e, -EINVAL, ...): bad input. */
int err_inval(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Only the sentence (the caller returns its own code). */
void err_msg(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Put "context: " in front of the message; returns e->code. */
int err_prefix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The sentence for a failure: e's message, else strerror(-code). */
const char *err_str(const struct err *e, int code);

#endif
