/* The MMDS data store: JSON tree, merge patch (RFC 7396), limit, IMDS text, tokens. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../../lib/err.h"
#include "../../lib/json.h"
#include "../../lib/strbuf.h"
#include "../../virtio/net/mmds/jtree.h"
#include "../../virtio/net/mmds/store.h"
#include "../../virtio/net/mmds/token.h"

static struct jt *tree(const char *s)
{
	struct json j;
	struct err e = { 0 };
	cr_assert_eq(json_parse(&j, s, strlen(s), &e), 0, "%s: %s", s, e.msg);
	struct jt *t = jt_from_json(&j, 0);
	json_free(&j);
	cr_assert_not_null(t);
	return t;
}

static void expect_json(const struct jt *t, const char *want)
{
	struct strbuf b;
	strbuf_init(&b);
	jt_write(t, &b);
	cr_expect_str_eq(b.s ? b.s : "", want);
	strbuf_fini(&b);
}

Test(mmds_jtree, writes_members_sorted_and_keeps_escapes)
{
	struct jt *t = tree("{\"b\": [1, true, null, \"x\\\"y\"], \"a\": {\"z\": -1.5e3}}");
	expect_json(t, "{\"a\":{\"z\":-1.5e3},\"b\":[1,true,null,\"x\\\"y\"]}");
	struct jt *c = jt_clone(t);
	jt_free(t);
	expect_json(c, "{\"a\":{\"z\":-1.5e3},\"b\":[1,true,null,\"x\\\"y\"]}");
	jt_free(c);
}

/* The examples of RFC 7396's appendix A. */
Test(mmds_jtree, merge_patch_follows_rfc7396)
{
	static const char *const cases[][3] = {
		{ "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
		{ "{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}" },
		{ "{\"a\":\"b\"}", "{\"a\":null}", "{}" },
		{ "{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}" },
		{ "{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
		{ "{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}" },
		{ "{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}",
		  "{\"a\":{\"b\":\"d\"}}" },
		{ "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}" },
		{ "[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]" },
		{ "{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]" },
		{ "{\"e\":null}", "{\"a\":1}", "{\"a\":1,\"e\":null}" },
		{ "[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}" },
		{ "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct jt *m = jt_merge(tree(cases[i][0]), tree(cases[i][1]));
		cr_assert_not_null(m);
		expect_json(m, cases[i][2]);
		jt_free(m);
	}
}

Test(mmds_jtree, unescapes_strings_to_utf8)
{
	struct strbuf b;
	strbuf_init(&b);
	jt_unescape("a\\nb\\u00e9\\ud83d\\ude00\\\\", &b);
	cr_expect_str_eq(b.s, "a\nb\xc3\xa9\xf0\x9f\x98\x80\\");
	strbuf_fini(&b);
}

static const char *get(struct mmds_store *s, const char *path, enum mmds_fmt f, int *rc)
{
	static char out[512];
	struct strbuf b;
	strbuf_init(&b);
	*rc = mmds_store_get(s, path, strlen(path), f, &b);
	snprintf(out, sizeof(out), "%s", b.s ? b.s : "");
	strbuf_fini(&b);
	return out;
}

Test(mmds_store, imds_text_lists_keys_and_strings_json_on_request)
{
	struct mmds_store s = { .limit = 4096 };
	struct err e = { 0 };
	int rc;
	cr_assert_eq(mmds_store_put(&s,
				    tree("{\"latest\": {\"meta-data\": {\"ami-id\": "
					 "\"ami-1\", \"n\": 3, \"net\": {}}}}"),
				    &e),
		     0);
	cr_expect_str_eq(get(&s, "/latest/meta-data", MMDS_FMT_IMDS, &rc), "ami-id\nn\nnet/");
	cr_expect_str_eq(get(&s, "//latest//meta-data/ami-id", MMDS_FMT_IMDS, &rc), "ami-1");
	cr_expect_str_eq(get(&s, "/latest/meta-data/ami-id", MMDS_FMT_JSON, &rc), "\"ami-1\"");
	cr_expect_str_eq(get(&s, "/", MMDS_FMT_IMDS, &rc), "latest/");
	get(&s, "/latest/meta-data/n", MMDS_FMT_IMDS, &rc);
	cr_expect_eq(rc, -ENOTSUP, "a number has no IMDS text");
	cr_expect_str_eq(get(&s, "/latest/meta-data/n", MMDS_FMT_JSON, &rc), "3");
	get(&s, "/latest/nope", MMDS_FMT_JSON, &rc);
	cr_expect_eq(rc, -ENOENT);
	mmds_store_fini(&s);
}

Test(mmds_store, limit_refuses_put_and_patch_and_keeps_contents)
{
	struct mmds_store s = { .limit = 18 };
	struct err e = { 0 };
	struct strbuf b;
	cr_expect_eq(mmds_store_patch(&s, tree("{\"a\":1}"), &e), -EINVAL, "before any PUT");
	cr_expect_str_eq(e.msg, "The MMDS data store is not initialized.");
	cr_assert_eq(mmds_store_put(&s, tree("{\"a\":\"0123456789\"}"), &e), 0); /* 18 bytes */
	cr_expect_eq(mmds_store_put(&s, tree("{\"a\":\"01234567890\"}"), &e), -EFBIG);
	cr_expect_str_eq(e.msg, "The MMDS patch request doesn't fit.");
	cr_expect_eq(mmds_store_patch(&s, tree("{\"b\":1}"), &e), -EFBIG);
	cr_assert_eq(mmds_store_patch(&s, tree("{\"a\":null,\"b\":2}"), &e), 0);
	strbuf_init(&b);
	mmds_store_json(&s, &b);
	cr_expect_str_eq(b.s, "{\"b\":2}");
	strbuf_fini(&b);
	mmds_store_fini(&s);
}

Test(mmds_token, siphash_matches_the_reference_vector)
{
	/* SipHash-2-4, key 00..0f, input 00..0e: the paper's test vector. */
	uint64_t k[2] = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL };
	uint8_t in[15];
	for (int i = 0; i < 15; i++)
		in[i] = (uint8_t)i;
	cr_expect_eq(mmds_siphash(k, in, 15), 0xa129ca6149be45e5ULL);
}

Test(mmds_token, valid_until_its_ttl_and_only_with_its_keys)
{
	struct mmds_tokens a, b;
	char tok[MMDS_TOKEN_LEN + 1];
	cr_assert_eq(mmds_tokens_init(&a), 0);
	cr_assert_eq(mmds_tokens_init(&b), 0);
	mmds_token_make(&a, 1000, 60, tok);
	cr_expect_eq(strlen(tok), MMDS_TOKEN_LEN);
	cr_expect(mmds_token_valid(&a, tok, MMDS_TOKEN_LEN, 1000));
	cr_expect(mmds_token_valid(&a, tok, MMDS_TOKEN_LEN, 60999));
	cr_expect_not(mmds_token_valid(&a, tok, MMDS_TOKEN_LEN, 61000), "expired");
	cr_expect_not(mmds_token_valid(&b, tok, MMDS_TOKEN_LEN, 1000), "other keys");
	cr_expect_not(mmds_token_valid(&a, tok, MMDS_TOKEN_LEN - 1, 1000), "truncated");
	tok[20] = tok[20] == 'a' ? 'b' : 'a';
	cr_expect_not(mmds_token_valid(&a, tok, MMDS_TOKEN_LEN, 1000), "a changed MAC");
	mmds_token_make(&a, 1000, 60, tok);
	tok[15] = tok[15] == 'f' ? 'e' : 'f'; /* a later expiry, same MAC */
	cr_expect_not(mmds_token_valid(&a, tok, MMDS_TOKEN_LEN, 1000), "a forged expiry");
}
