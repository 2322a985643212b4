/* lib/json.c: a key twice in one object is refused, naming the key. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/json.h"

static int parse(const char *doc, struct json *j, struct err *e)
{
	memset(e, 0, sizeof(*e));
	return json_parse(j, doc, strlen(doc), e);
}

Test(json_dup, a_repeated_key_is_refused_with_its_name)
{
	static const struct {
		const char *doc, *key;
	} cases[] = {
		{ "{\"vcpu_count\":1,\"vcpu_count\":32}", "vcpu_count" },
		{ "{\"a\":1,\"b\":2,\"a\":3}", "a" },
		{ "{\"outer\":{\"x\":[1,{\"y\":1}],\"x\":2}}", "x" },
		{ "[{\"k\":1},{\"z\":0,\"k\":1,\"k\":2}]", "k" },
		{ "{\"a\":{\"deep\":{}},\"a\":[]}", "a" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json j;
		struct err e;
		char want[80];
		cr_expect_eq(parse(cases[i].doc, &j, &e), -EINVAL, "%s", cases[i].doc);
		snprintf(want, sizeof(want), "duplicate key '%s'", cases[i].key);
		cr_expect_not_null(strstr(e.msg, want), "%s: '%s'", cases[i].doc, e.msg);
		cr_expect_null(j.t, "tokens freed");
	}
}

Test(json_dup, the_same_key_in_different_objects_is_fine)
{
	static const char *const ok[] = {
		"{\"a\":{\"a\":1},\"b\":{\"a\":2}}",
		"[{\"k\":1},{\"k\":2}]",
		"{\"ab\":1,\"a\":2,\"b\":3}",
		"{\"a\":\"a\",\"b\":\"a\"}",
		"{}",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct json j;
		struct err e;
		cr_expect_eq(parse(ok[i], &j, &e), 0, "%s: %s", ok[i], e.msg);
		json_free(&j);
	}
}

Test(json_dup, a_wide_object_is_checked_quickly)
{
	/* 2000 distinct keys, the last one repeating the first. */
	size_t cap = 2000 * 16 + 32, n = 0;
	char *doc = malloc(cap);
	cr_assert_not_null(doc);
	n += (size_t)snprintf(doc + n, cap - n, "{");
	for (int i = 0; i < 2000; i++)
		n += (size_t)snprintf(doc + n, cap - n, "\"k%d\":%d,", i, i);
	n += (size_t)snprintf(doc + n, cap - n, "\"k0\":0}");
	struct json j;
	struct err e;
	cr_expect_eq(parse(doc, &j, &e), -EINVAL);
	cr_expect_not_null(strstr(e.msg, "duplicate key 'k0'"), "%s", e.msg);
	free(doc);
}
