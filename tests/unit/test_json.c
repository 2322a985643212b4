/* lib/json.c: the strict JSON layer every API body and config file goes through. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/json.h"

/* Parse a NUL-terminated document; the caller frees j on success. */
static int parse(const char *doc, struct json *j, struct err *e)
{
	memset(e, 0, sizeof(*e));
	return json_parse(j, doc, strlen(doc), e);
}

/*
 * Parse `{"v": <value>}` and run fn-specific extraction on the value token (index 2).
 * Returns the parse error, or 1 when the document parsed (the value token is 2).
 */
static int parse_value(const char *value, struct json *j, struct err *e)
{
	static char doc[256];
	snprintf(doc, sizeof(doc), "{\"v\":%s}", value);
	int r = parse(doc, j, e);
	return r ? r : 1;
}

Test(json, parses_nested_object_and_skips_subtrees)
{
	struct json j;
	struct err e;
	const char *doc = "{\"a\":{\"x\":[1,2,{\"y\":null}]},\"b\":true}";
	cr_assert_eq(parse(doc, &j, &e), 0, "%s", e.msg);
	cr_assert_eq(j.t[0].type, JSMN_OBJECT);
	cr_assert_eq(j.t[0].size, 2);
	cr_assert(json_key_is(&j, 1, "a"));
	int b = json_next(&j, 2); /* skip a's whole value */
	cr_assert(json_key_is(&j, b, "b"), "json_next must land on the key after the subtree");
	bool v = false;
	cr_assert_eq(json_bool(&j, b + 1, "b", &v, &e), 0);
	cr_assert(v);
	cr_assert_eq(json_next(&j, 0), j.n, "the root's subtree is the whole document");
	json_free(&j);
	cr_assert_null(j.t);
}

Test(json, key_is_matches_whole_string_keys_only)
{
	struct json j;
	struct err e;
	cr_assert_eq(parse("{\"ab\":\"a\"}", &j, &e), 0);
	cr_expect(json_key_is(&j, 1, "ab"));
	cr_expect_not(json_key_is(&j, 1, "a"), "a prefix is not the key");
	cr_expect_not(json_key_is(&j, 1, "abc"));
	cr_expect_not(json_key_is(&j, 0, "ab"), "an object token is never a key");
	json_free(&j);
}

Test(json, accepts_whitespace_around_the_document)
{
	struct json j;
	struct err e;
	cr_assert_eq(parse(" \t\r\n{ \"a\" : [ 1 , 2 ] }\n\t ", &j, &e), 0, "%s", e.msg);
	json_free(&j);
}

static const struct {
	const char *name;
	const char *doc;
} malformed[] = {
	{ "empty", "" },
	{ "only whitespace", "  \n" },
	{ "unclosed object", "{" },
	{ "lone close", "}" },
	{ "unclosed after value", "{\"a\":1" },
	{ "unclosed array", "[1,2" },
	{ "extra close", "{\"a\":1}}" },
	{ "mismatched brackets", "{\"a\":[1}]" },
	{ "trailing garbage", "{\"a\":1} x" },
	{ "two documents", "{} {}" },
	{ "trailing comma token", "{}," },
	{ "unterminated string", "{\"a\":\"abc}" },
	{ "bad literal tru", "{\"a\":tru}" },
	{ "bad literal nul", "{\"a\":nul}" },
	{ "literal with suffix", "{\"a\":truex}" },
	{ "capitalised literal", "{\"a\":True}" },
	{ "leading zero", "{\"a\":01}" },
	{ "leading zeros", "{\"a\":007}" },
	{ "negative leading zero", "{\"a\":-01}" },
	{ "bare minus", "{\"a\":-}" },
	{ "trailing dot", "{\"a\":1.}" },
	{ "leading dot", "{\"a\":.5}" },
	{ "empty exponent", "{\"a\":1e}" },
	{ "signed empty exponent", "{\"a\":1e+}" },
	{ "plus sign", "{\"a\":+1}" },
	{ "hex number", "{\"a\":0x10}" },
	{ "NaN", "{\"a\":NaN}" },
	{ "Infinity", "{\"a\":Infinity}" },
	{ "number key", "{1:2}" },
	{ "literal key", "{true:1}" },
	{ "single quotes", "{'a':1}" },
	{ "bad escape", "{\"a\":\"\\x\"}" },
	{ "short unicode escape", "{\"a\":\"\\u12\"}" },
	{ "non-hex unicode escape", "{\"a\":\"\\u12G4\"}" },
	{ "value after value", "{\"a\":1:2}" },
	{ "comma instead of colon", "{\"a\",1}" },
	{ "control char before document", "\x01{}" },
	{ "comment", "{} // x" },
};

Test(json, rejects_malformed_documents)
{
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		struct json j;
		struct err e;
		int r = parse(malformed[i].doc, &j, &e);
		cr_expect_eq(r, -EINVAL, "case %zu (%s): expected -EINVAL, got %d", i,
			     malformed[i].name, r);
		if (r == 0) {
			json_free(&j);
			continue;
		}
		cr_expect(strstr(e.msg, "JSON") != NULL, "case %zu (%s): message '%s'", i,
			  malformed[i].name, e.msg);
		cr_expect_null(j.t, "case %zu (%s): tokens must not leak", i, malformed[i].name);
	}
}

/*
 * jsmn (even with JSMN_STRICT) does not check separators: these all parse into
 * token trees the typed layer then walks as if they were well formed.
 */
static const struct {
	const char *name;
	const char *doc;
} lenient[] = {
	{ "key without colon or value", "{\"a\" \"b\"}" },
	{ "trailing comma in object", "{\"a\":1,}" },
	{ "double comma in array", "[1,,2]" },
	{ "key without value", "{\"a\"}" },
	{ "colon without value", "{\"a\":}" },
	{ "missing comma in array", "[1 2]" },
	{ "missing comma in object", "{\"a\":1 \"b\":2}" },
	{ "lone comma in object", "{,}" },
	{ "leading comma in array", "[,1]" },
	{ "double colon", "{\"a\"::1}" },
	{ "colon in array", "[\"a\":1]" },
	{ "last key without value", "{\"a\":1,\"b\"}" },
	{ "nested trailing comma", "{\"a\":{\"b\":1,}}" },
};

Test(json, rejects_missing_or_extra_separators)
{
	for (size_t i = 0; i < sizeof(lenient) / sizeof(lenient[0]); i++) {
		struct json j;
		struct err e;
		int r = parse(lenient[i].doc, &j, &e);
		cr_expect_eq(r, -EINVAL, "case %zu (%s): %s accepted", i, lenient[i].name,
			     lenient[i].doc);
		if (r == 0)
			json_free(&j);
	}
}

static const struct {
	const char *name;
	const char *doc;
} bad_utf8[] = {
	{ "0xff byte", "{\"a\":\"\xff\"}" },
	{ "lone continuation byte", "{\"a\":\"\x80\"}" },
	{ "overlong slash (2 bytes)", "{\"a\":\"\xc0\xaf\"}" },
	{ "overlong (3 bytes)", "{\"a\":\"\xe0\x80\xaf\"}" },
	{ "overlong (4 bytes)", "{\"a\":\"\xf0\x80\x80\xaf\"}" },
	{ "encoded high surrogate", "{\"a\":\"\xed\xa0\x80\"}" },
	{ "encoded low surrogate", "{\"a\":\"\xed\xbf\xbf\"}" },
	{ "beyond U+10FFFF", "{\"a\":\"\xf4\x90\x80\x80\"}" },
	{ "5-byte form", "{\"a\":\"\xf8\x88\x80\x80\x80\"}" },
	{ "truncated 3-byte sequence", "{\"a\":\"\xe2\x82\"}" },
	{ "truncated at end of body", "{\"a\":1}\xe2\x82" },
	{ "bad continuation", "{\"a\":\"\xc3\x28\"}" },
	{ "invalid byte in a key", "{\"\xfe\":1}" },
};

Test(json, rejects_invalid_utf8)
{
	for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
		struct json j;
		struct err e;
		int r = parse(bad_utf8[i].doc, &j, &e);
		cr_expect_eq(r, -EINVAL, "case %zu (%s): accepted", i, bad_utf8[i].name);
		if (r == 0) {
			json_free(&j);
			continue;
		}
		cr_expect(strstr(e.msg, "UTF-8") != NULL, "case %zu (%s): message '%s'", i,
			  bad_utf8[i].name, e.msg);
	}
}

Test(json, accepts_valid_utf8_up_to_four_bytes)
{
	struct json j;
	struct err e;
	/* é, €, U+10FFFF, 𝄞 */
	const char *doc = "{\"a\":\"\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf\xf0\x9d\x84\x9e\"}";
	cr_assert_eq(parse(doc, &j, &e), 0, "%s", e.msg);
	char *s = NULL;
	cr_assert_eq(json_string(&j, 2, "a", &s, &e), 0, "%s", e.msg);
	cr_expect_str_eq(s, "\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf\xf0\x9d\x84\x9e");
	free(s);
	json_free(&j);
}

Test(json, rejects_nul_byte_anywhere_in_the_body)
{
	static const char doc[] = "{\"a\":\"x\0y\"}";
	struct json j;
	struct err e = { 0 };
	int r = json_parse(&j, doc, sizeof(doc) - 1, &e);
	cr_assert_eq(r, -EINVAL);
	cr_expect(strstr(e.msg, "NUL") != NULL, "message '%s'", e.msg);

	static const char tail[] = "{}\0";
	r = json_parse(&j, tail, sizeof(tail) - 1, &e);
	cr_expect_eq(r, -EINVAL, "a NUL after the document is not whitespace");
}

/* An array of n zeros: n + 1 tokens. */
static char *big_array(int n)
{
	char *s = malloc((size_t)n * 2 + 3);
	cr_assert_not_null(s);
	char *p = s;
	*p++ = '[';
	for (int i = 0; i < n; i++) {
		if (i)
			*p++ = ',';
		*p++ = '0';
	}
	*p++ = ']';
	*p = '\0';
	return s;
}

Test(json, token_limit_is_enforced_at_the_boundary)
{
	struct json j;
	struct err e;
	char *ok = big_array(JSON_MAX_TOKENS - 1);
	cr_expect_eq(parse(ok, &j, &e), 0, "exactly JSON_MAX_TOKENS tokens: %s", e.msg);
	cr_expect_eq(j.n, JSON_MAX_TOKENS);
	json_free(&j);
	free(ok);

	char *big = big_array(JSON_MAX_TOKENS);
	cr_expect_eq(parse(big, &j, &e), -EINVAL);
	cr_expect(strstr(e.msg, "too large") != NULL, "message '%s'", e.msg);
	free(big);
}

Test(json, string_decodes_every_escape)
{
	struct json j;
	struct err e;
	char *s = NULL;
	cr_assert_eq(
	    parse_value("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20ac\\ud834\\udd1e\"", &j,
			&e),
	    1, "%s", e.msg);
	cr_assert_eq(json_string(&j, 2, "v", &s, &e), 0, "%s", e.msg);
	cr_expect_str_eq(s, "\"\\/\b\f\n\r\tA\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e");
	free(s);
	json_free(&j);
}

static const struct {
	const char *name;
	const char *value;
	const char *msg; /* expected in the error when json_string rejects it */
} bad_strings[] = {
	{ "lone high surrogate", "\"\\ud800\"", "escape" },
	{ "high surrogate then text", "\"\\ud800xxxxxx\"", "escape" },
	{ "high surrogate then BMP escape", "\"\\ud800\\u0041\"", "escape" },
	{ "high surrogate twice", "\"\\ud800\\ud800\"", "escape" },
	{ "lone low surrogate", "\"\\udc00\"", "escape" },
	{ "low then high surrogate", "\"\\udc00\\ud800\"", "escape" },
	{ "escaped NUL", "\"a\\u0000b\"", "NUL" },
	{ "raw tab", "\"a\tb\"", "control" },
	{ "raw newline", "\"a\nb\"", "control" },
	{ "raw 0x1f", "\"a\x1f\"", "control" },
};

Test(json, string_rejects_bad_escapes_surrogates_and_control_chars)
{
	for (size_t i = 0; i < sizeof(bad_strings) / sizeof(bad_strings[0]); i++) {
		struct json j;
		struct err e;
		char *s = NULL;
		int r = parse_value(bad_strings[i].value, &j, &e);
		if (r != 1) {
			/* Rejected by the parser already: just as good. */
			cr_expect_eq(r, -EINVAL, "case %zu (%s)", i, bad_strings[i].name);
			continue;
		}
		r = json_string(&j, 2, "v", &s, &e);
		cr_expect_eq(r, -EINVAL, "case %zu (%s): decoded as '%s'", i, bad_strings[i].name,
			     r ? "" : s);
		if (r == 0)
			free(s);
		else
			cr_expect(strstr(e.msg, bad_strings[i].msg) && strstr(e.msg, "'v'"),
				  "case %zu (%s): message '%s' must name the field and say '%s'", i,
				  bad_strings[i].name, e.msg, bad_strings[i].msg);
		json_free(&j);
	}
}

static const struct {
	const char *value;
	const char *what;
} not_strings[] = {
	{ "1", "number" }, { "true", "bool" }, { "null", "null" },
	{ "[]", "array" }, { "{}", "object" },
};

Test(json, string_rejects_other_types)
{
	for (size_t i = 0; i < sizeof(not_strings) / sizeof(not_strings[0]); i++) {
		struct json j;
		struct err e;
		char *s = NULL;
		cr_assert_eq(parse_value(not_strings[i].value, &j, &e), 1);
		cr_expect_eq(json_string(&j, 2, "v", &s, &e), -EINVAL, "a %s is not a string",
			     not_strings[i].what);
		cr_expect(strstr(e.msg, "must be a string") != NULL, "message '%s'", e.msg);
		json_free(&j);
	}
}

Test(json, string_buf_rejects_strings_that_do_not_fit)
{
	struct json j;
	struct err e;
	char buf[4];
	cr_assert_eq(parse_value("\"abc\"", &j, &e), 1);
	cr_expect_eq(json_string_buf(&j, 2, "v", buf, sizeof(buf), &e), 0, "3 bytes fit in 4");
	cr_expect_str_eq(buf, "abc");
	json_free(&j);

	memset(buf, 'z', sizeof(buf));
	cr_assert_eq(parse_value("\"abcd\"", &j, &e), 1);
	cr_expect_eq(json_string_buf(&j, 2, "v", buf, sizeof(buf), &e), -EINVAL);
	cr_expect(strstr(e.msg, "too long") != NULL, "message '%s'", e.msg);
	cr_expect_eq(buf[0], 'z', "nothing is copied on error");
	json_free(&j);
}

Test(json, bool_accepts_only_true_and_false)
{
	static const char *const bad[] = { "1", "0", "\"true\"", "null", "[]", "{}" };
	struct json j;
	struct err e;
	bool v = false;

	cr_assert_eq(parse_value("true", &j, &e), 1);
	cr_expect_eq(json_bool(&j, 2, "v", &v, &e), 0);
	cr_expect(v);
	json_free(&j);
	cr_assert_eq(parse_value("false", &j, &e), 1);
	cr_expect_eq(json_bool(&j, 2, "v", &v, &e), 0);
	cr_expect_not(v);
	json_free(&j);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(parse_value(bad[i], &j, &e), 1);
		cr_expect_eq(json_bool(&j, 2, "v", &v, &e), -EINVAL, "%s is not a bool", bad[i]);
		cr_expect(strstr(e.msg, "'v'") != NULL, "message '%s'", e.msg);
		json_free(&j);
	}
}

static const struct {
	const char *value;
	uint64_t min, max;
	const char *msg;
} bad_u64[] = {
	{ "-1", 0, 100, "between" },
	{ "-0", 0, 100, "between" },
	{ "-9223372036854775808", 0, UINT64_MAX, "between" },
	{ "1.0", 0, 100, "integer" },
	{ "1.5", 0, 100, "integer" },
	{ "1e3", 0, 10000, "integer" },
	{ "1E3", 0, 10000, "integer" },
	{ "18446744073709551616", 0, UINT64_MAX, "between" }, /* 2^64 */
	{ "99999999999999999999", 0, UINT64_MAX, "between" },
	{ "123456789012345678901234567890123", 0, UINT64_MAX, "integer" }, /* 33 digits */
	{ "0", 1, 32, "between" },
	{ "33", 1, 32, "between" },
	{ "\"5\"", 0, 100, "integer" },
	{ "true", 0, 100, "integer" },
	{ "null", 0, 100, "integer" },
	{ "[1]", 0, 100, "integer" },
	{ "{}", 0, 100, "integer" },
};

Test(json, u64_rejects_wrong_types_fractions_negatives_and_out_of_range)
{
	for (size_t i = 0; i < sizeof(bad_u64) / sizeof(bad_u64[0]); i++) {
		struct json j;
		struct err e;
		uint64_t out = 0xdead;
		cr_assert_eq(parse_value(bad_u64[i].value, &j, &e), 1, "case %zu (%s): %s", i,
			     bad_u64[i].value, e.msg);
		int r = json_u64(&j, 2, "v", bad_u64[i].min, bad_u64[i].max, &out, &e);
		cr_expect_eq(r, -EINVAL, "case %zu: %s accepted as %llu", i, bad_u64[i].value,
			     (unsigned long long)out);
		cr_expect_eq(out, 0xdead, "case %zu: output written on error", i);
		cr_expect(r == 0 || (strstr(e.msg, "'v'") && strstr(e.msg, bad_u64[i].msg)),
			  "case %zu (%s): message '%s' should name the field and say '%s'", i,
			  bad_u64[i].value, e.msg, bad_u64[i].msg);
		json_free(&j);
	}
}

Test(json, u64_accepts_the_bounds_of_its_range)
{
	static const struct {
		const char *value;
		uint64_t min, max, want;
	} ok[] = {
		{ "0", 0, 10, 0 },
		{ "1", 1, 32, 1 },
		{ "32", 1, 32, 32 },
		{ "18446744073709551615", 0, UINT64_MAX, UINT64_MAX },
		{ "1048576", 1, 1048576, 1048576 },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct json j;
		struct err e;
		uint64_t out = 0;
		cr_assert_eq(parse_value(ok[i].value, &j, &e), 1);
		cr_expect_eq(json_u64(&j, 2, "v", ok[i].min, ok[i].max, &out, &e), 0,
			     "case %zu (%s): %s", i, ok[i].value, e.msg);
		cr_expect_eq(out, ok[i].want, "case %zu", i);
		json_free(&j);
	}
}

Test(json, i64_handles_range_and_rejects_non_integers)
{
	static const struct {
		const char *value;
		int r;
		int64_t want;
	} cases[] = {
		{ "-9223372036854775808", 0, INT64_MIN },
		{ "9223372036854775807", 0, INT64_MAX },
		{ "-5", 0, -5 },
		{ "9223372036854775808", -EINVAL, 0 },
		{ "-9223372036854775809", -EINVAL, 0 },
		{ "1.0", -EINVAL, 0 },
		{ "2e2", -EINVAL, 0 },
		{ "\"1\"", -EINVAL, 0 },
		{ "false", -EINVAL, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json j;
		struct err e;
		int64_t out = 0;
		cr_assert_eq(parse_value(cases[i].value, &j, &e), 1);
		int r = json_i64(&j, 2, "v", &out, &e);
		cr_expect_eq(r, cases[i].r, "case %zu (%s): got %d", i, cases[i].value, r);
		if (!cases[i].r)
			cr_expect_eq(out, cases[i].want, "case %zu", i);
		json_free(&j);
	}
}

Test(json, is_null_only_for_the_literal)
{
	struct json j;
	struct err e;
	cr_assert_eq(parse("{\"a\":null,\"b\":\"null\",\"c\":0}", &j, &e), 0);
	cr_expect(json_is_null(&j, 2));
	cr_expect_not(json_is_null(&j, 4), "the string \"null\" is not null");
	cr_expect_not(json_is_null(&j, 6));
	json_free(&j);
}

Test(json, expect_object_names_what_was_expected)
{
	struct json j;
	struct err e;
	cr_assert_eq(parse("[1]", &j, &e), 0);
	cr_expect_eq(json_expect_object(&j, 0, "machine-config", &e), -EINVAL);
	cr_expect_str_eq(e.msg, "machine-config must be a JSON object");
	cr_expect_eq(json_expect_object(&j, 5, "past the end", &e), -EINVAL,
		     "an index past the last token is not an object");
	json_free(&j);
}

Test(json, escape_quotes_backslashes_and_control_chars)
{
	char buf[64];
	size_t n = json_escape(buf, sizeof(buf), "a\"b\\c\n\x01");
	cr_expect_str_eq(buf, "\"a\\\"b\\\\c\\u000a\\u0001\"");
	cr_expect_eq(n, strlen(buf));
}

Test(json, escape_truncates_but_reports_the_full_length)
{
	char buf[6];
	memset(buf, 'z', sizeof(buf));
	size_t n = json_escape(buf, sizeof(buf), "abcdefgh");
	cr_expect_eq(n, 10, "\"abcdefgh\" needs 10 bytes");
	cr_expect_eq(buf[5], '\0', "always NUL-terminated inside the buffer");
	cr_expect_str_eq(buf, "\"abcd");

	char one[1] = { 'z' };
	cr_expect_eq(json_escape(one, 1, "x"), 3);
	cr_expect_eq(one[0], '\0');
}

Test(json, tok_text_truncates_and_masks_control_chars)
{
	struct json j;
	struct err e;
	cr_assert_eq(parse("{\"a\\tb_and_more\":1}", &j, &e), 0);
	char buf[6];
	json_tok_text(&j, 1, buf, sizeof(buf));
	cr_expect_str_eq(buf, "a\\tb_", "raw token text, cut to fit");
	json_free(&j);

	static const char raw[] = "{\"a\x01z\":1}";
	cr_assert_eq(json_parse(&j, raw, sizeof(raw) - 1, &e), 0);
	char out[16];
	json_tok_text(&j, 1, out, sizeof(out));
	cr_expect_str_eq(out, "a?z", "control characters never reach a message");
	json_free(&j);
}
