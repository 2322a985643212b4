/* lib/strbuf.c: the growable string behind every JSON body and metrics line. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/json.h"
#include "../../lib/strbuf.h"

static struct strbuf b;

static void setup(void)
{
	strbuf_init(&b);
}

static void teardown(void)
{
	strbuf_fini(&b);
}

TestSuite(strbuf, .init = setup, .fini = teardown);

/* Decode the JSON string literal in b (wrapped in an array) with vmm/json.c. */
static char *decode(void)
{
	struct json j;
	struct err e;
	char *doc = NULL, *out = NULL;
	cr_assert_gt(asprintf(&doc, "[%s]", b.s), 0);
	int r = json_parse(&j, doc, strlen(doc), &e);
	cr_assert_eq(r, 0, "'%s' is not JSON: %s", b.s, e.msg);
	cr_assert_eq(j.t[0].size, 1);
	cr_assert_eq(json_string(&j, 1, "s", &out, &e), 0, "'%s': %s", b.s, e.msg);
	json_free(&j);
	free(doc);
	return out;
}

Test(strbuf, starts_empty_and_steal_never_returns_null)
{
	cr_expect_null(b.s);
	cr_expect_eq(b.len, 0);
	cr_expect_not(b.oom);
	char *s = strbuf_steal(&b);
	cr_assert_not_null(s);
	cr_expect_str_eq(s, "");
	free(s);
}

Test(strbuf, printf_appends_and_keeps_a_terminator)
{
	strbuf_printf(&b, "{\"a\": %d", 1);
	strbuf_printf(&b, ", \"b\": \"%s\"}", "x");
	cr_expect_str_eq(b.s, "{\"a\": 1, \"b\": \"x\"}");
	cr_expect_eq(b.len, strlen(b.s));
	cr_expect_gt(b.cap, b.len, "room for the NUL");
	strbuf_printf(&b, "%s", "");
	cr_expect_eq(b.len, strlen("{\"a\": 1, \"b\": \"x\"}"), "an empty append changes nothing");
}

Test(strbuf, grows_across_many_appends)
{
	char want[20001];
	for (int i = 0; i < 20000; i++) {
		char c = (char)('a' + i % 26);
		strbuf_printf(&b, "%c", c);
		want[i] = c;
	}
	want[20000] = '\0';
	cr_assert_eq(b.len, 20000);
	cr_expect_str_eq(b.s, want);
	cr_expect_geq(b.cap, 20001);
}

Test(strbuf, one_large_append_fits_exactly)
{
	size_t n = 300000;
	char *big = malloc(n + 1);
	cr_assert_not_null(big);
	memset(big, 'q', n);
	big[n] = '\0';
	strbuf_printf(&b, "<%s>", big);
	cr_expect_eq(b.len, n + 2);
	cr_expect_eq(b.s[0], '<');
	cr_expect_eq(b.s[n + 1], '>');
	cr_expect_eq(b.s[n + 2], '\0');
	free(big);
}

Test(strbuf, steal_hands_over_and_empties)
{
	strbuf_printf(&b, "hello");
	char *s = strbuf_steal(&b);
	cr_expect_str_eq(s, "hello");
	cr_expect_null(b.s);
	cr_expect_eq(b.len, 0);
	cr_expect_eq(b.cap, 0);
	strbuf_printf(&b, "again");
	cr_expect_str_eq(b.s, "again", "usable after a steal");
	cr_expect_str_eq(s, "hello", "the stolen string is independent");
	free(s);
}

Test(strbuf, fini_resets_and_is_idempotent)
{
	strbuf_printf(&b, "x");
	strbuf_fini(&b);
	cr_expect_null(b.s);
	cr_expect_eq(b.len, 0);
	strbuf_fini(&b);
	cr_expect_null(b.s);
}

Test(strbuf, json_str_quotes_and_escapes)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "\"\"" },
		{ "plain", "\"plain\"" },
		{ "a\"b", "\"a\\\"b\"" },
		{ "back\\slash", "\"back\\\\slash\"" },
		{ "\n\r\t", "\"\\u000a\\u000d\\u0009\"" },
		{ "\x01\x1f", "\"\\u0001\\u001f\"" },
		{ " \x7f~", "\" \x7f~\"" },			/* DEL needs no escape */
		{ "/path/é", "\"/path/é\"" },			/* UTF-8 as is */
		{ "\xf0\x9d\x84\x9e", "\"\xf0\x9d\x84\x9e\"" }, /* 4-byte sequence */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct strbuf s;
		strbuf_init(&s);
		strbuf_json_str(&s, cases[i].in);
		cr_expect_str_eq(s.s, cases[i].out, "case %zu", i);
		cr_expect_eq(s.len, strlen(cases[i].out), "case %zu", i);
		strbuf_fini(&s);
	}
}

Test(strbuf, json_str_null_is_the_literal)
{
	strbuf_printf(&b, "{\"a\": ");
	strbuf_json_str(&b, NULL);
	strbuf_printf(&b, "}");
	cr_expect_str_eq(b.s, "{\"a\": null}");
}

Test(strbuf, json_str_round_trips_every_ascii_byte)
{
	char in[128];
	for (int i = 1; i < 128; i++)
		in[i - 1] = (char)i;
	in[127] = '\0';
	strbuf_json_str(&b, in);
	char *out = decode();
	cr_expect_str_eq(out, in);
	free(out);
}

Test(strbuf, json_str_worst_case_expansion_fits)
{
	/* Every byte becomes \u00XX: six times the input, right at a fresh buffer's edge. */
	static const size_t sizes[] = { 1, 41, 42, 43, 127, 128, 1000, 4096 };
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct strbuf s;
		size_t n = sizes[k];
		char *in = malloc(n + 1);
		cr_assert_not_null(in);
		memset(in, '\x01', n);
		in[n] = '\0';
		strbuf_init(&s);
		strbuf_printf(&s, "x");
		strbuf_json_str(&s, in);
		cr_expect_eq(s.len, 1 + 6 * n + 2, "n %zu", n);
		cr_expect_eq(strlen(s.s), s.len, "n %zu", n);
		cr_expect_eq(s.s[s.len - 1], '"');
		strbuf_fini(&s);
		free(in);
	}
}

Test(strbuf, json_str_appends_after_existing_text)
{
	strbuf_printf(&b, "[");
	strbuf_json_str(&b, "a");
	strbuf_printf(&b, ",");
	strbuf_json_str(&b, "b\"");
	strbuf_printf(&b, "]");
	cr_expect_str_eq(b.s, "[\"a\",\"b\\\"\"]");
	cr_expect_eq(b.len, strlen(b.s));
}

Test(strbuf, json_str_output_parses_for_hostile_strings)
{
	static const char *const cases[] = {
		"\"", "\\", "\\\"", "\"\\u0000\"", "}{][,:", "\x1b[31mred\x1b[0m", "tab\there",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		strbuf_fini(&b);
		strbuf_json_str(&b, cases[i]);
		char *out = decode();
		cr_expect_str_eq(out, cases[i], "case %zu", i);
		free(out);
	}
}
