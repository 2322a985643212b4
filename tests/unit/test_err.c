/* lib/err.c: the one error convention, a negative errno and a sentence. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../../lib/err.h"

Test(err, set_fills_code_and_message_and_returns_the_code)
{
	struct err e = { 0 };
	cr_expect_eq(err_set(&e, -ENOENT, "drive %s: %s", "rootfs", "gone"), -ENOENT);
	cr_expect_eq(e.code, -ENOENT);
	cr_expect_str_eq(e.msg, "drive rootfs: gone");
	cr_expect_eq(err_set(NULL, -EIO, "nobody listens"), -EIO, "NULL is allowed");
}

Test(err, inval_is_einval)
{
	struct err e = { 0 };
	cr_expect_eq(err_inval(&e, "field '%s' is bad", "x"), -EINVAL);
	cr_expect_eq(e.code, -EINVAL);
	cr_expect_str_eq(e.msg, "field 'x' is bad");
	cr_expect_eq(err_inval(NULL, "x"), -EINVAL);
}

Test(err, msg_keeps_the_code_already_there)
{
	struct err e = { 0 };
	err_msg(&e, "first");
	cr_expect_eq(e.code, -EINVAL, "no code yet: -EINVAL");
	cr_expect_str_eq(e.msg, "first");
	e.code = -ENOSPC;
	err_msg(&e, "disk %d full", 2);
	cr_expect_eq(e.code, -ENOSPC);
	cr_expect_str_eq(e.msg, "disk 2 full");
	err_msg(NULL, "x");
}

Test(err, clear_empties_both)
{
	struct err e = { 0 };
	err_set(&e, -EIO, "x");
	err_clear(&e);
	cr_expect_eq(e.code, 0);
	cr_expect_str_eq(e.msg, "");
	err_clear(NULL);
}

Test(err, prefix_puts_context_in_front)
{
	struct err e = { 0 };
	err_set(&e, -ENOENT, "vm.snap: no such file");
	cr_expect_eq(err_prefix(&e, "snapshot %d", 3), -ENOENT, "returns the code");
	cr_expect_str_eq(e.msg, "snapshot 3: vm.snap: no such file");
	cr_expect_eq(e.code, -ENOENT, "the code is kept");
	err_prefix(&e, "load");
	cr_expect_str_eq(e.msg, "load: snapshot 3: vm.snap: no such file", "prefixes nest");
}

Test(err, prefix_of_an_empty_message_names_the_errno)
{
	struct err e = { .code = -ENOENT };
	cr_expect_eq(err_prefix(&e, "config file %s", "/x"), -ENOENT);
	char want[128];
	snprintf(want, sizeof(want), "config file /x: %s", strerror(ENOENT));
	cr_expect_str_eq(e.msg, want);
}

Test(err, prefix_without_a_code_makes_it_einval)
{
	struct err e = { 0 };
	cr_expect_eq(err_prefix(&e, "ctx"), -EINVAL);
	cr_expect_eq(e.code, -EINVAL);
	cr_expect_eq(strncmp(e.msg, "ctx: ", 5), 0, "%s", e.msg);
	cr_expect_eq(err_prefix(NULL, "ctx"), 0, "NULL: nothing to say");
}

Test(err, long_prefixes_and_messages_are_cut_not_overflowed)
{
	struct err e;
	char head[400], body[600];
	memset(head, 'h', sizeof(head) - 1);
	head[sizeof(head) - 1] = '\0';
	memset(body, 'b', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	err_set(&e, -EIO, "%s", body);
	cr_expect_eq(strlen(e.msg), sizeof(e.msg) - 1, "the message is cut to fit");
	err_prefix(&e, "%s", head);
	cr_expect_lt(strlen(e.msg), sizeof(e.msg), "still NUL-terminated");
	cr_expect_eq(strncmp(e.msg, "hhhh", 4), 0, "the context comes first");
	const char *sep = strstr(e.msg, ": b");
	cr_expect_not_null(sep, "then the old message: %s", e.msg);
	cr_expect_eq(e.code, -EIO);
}

Test(err, str_is_the_message_or_the_errno)
{
	struct err e = { 0 };
	cr_expect_str_eq(err_str(&e, -ENOENT), strerror(ENOENT));
	cr_expect_str_eq(err_str(NULL, -EACCES), strerror(EACCES));
	cr_expect_str_eq(err_str(NULL, EACCES), strerror(EACCES), "either sign");
	err_set(&e, -ENOENT, "drive x: /d: gone");
	cr_expect_str_eq(err_str(&e, -ENOENT), "drive x: /d: gone");
	cr_expect_str_eq(err_str(&e, -EIO), "drive x: /d: gone", "the sentence wins");
}
