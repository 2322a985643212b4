/*
 * lib/wire.c: the bounded byte codec of the snapshot records. Round trips,
 * the little-endian layout, and every short, oversized or NUL-containing read
 * refused, the first failure sticking.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/wire.h"

/* A sample of every kind of field. */
static void put_sample(struct wire *w)
{
	wire_put_u32(w, 0xdeadbeef);
	wire_put_u64(w, 0x0123456789abcdefULL);
	wire_put_str(w, "hello");
	wire_put_str(w, NULL);
	wire_put_str(w, "");
	wire_put(w, "\x01\x02\x03", 3);
	wire_put_str(w, "buffer");
}

#define SAMPLE_LEN (4 + 8 + (4 + 5) + 4 + 4 + 3 + (4 + 6))

/* Read the sample back; true when every field came back as written. */
static bool get_sample(struct wire *r)
{
	uint8_t b[3];
	char buf[16];
	uint32_t u = wire_get_u32(r);
	uint64_t v = wire_get_u64(r);
	char *hello = wire_get_str(r, 64);
	char *null = wire_get_str(r, 64);
	char *empty = wire_get_str(r, 64);
	bool got = wire_get(r, b, 3);
	bool in_buf = wire_get_strbuf(r, buf, sizeof(buf));
	bool same = u == 0xdeadbeef && v == 0x0123456789abcdefULL && hello &&
		    !strcmp(hello, "hello") && !null && empty && !*empty && got &&
		    !memcmp(b, "\x01\x02\x03", 3) && in_buf && !strcmp(buf, "buffer");
	free(hello);
	free(null);
	free(empty);
	return same;
}

Test(wire, round_trips_every_kind_of_field)
{
	struct wire w, r;
	wire_init(&w);
	put_sample(&w);
	cr_assert_not(w.bad);
	cr_assert_eq(w.len, SAMPLE_LEN);
	wire_reader(&r, w.buf, w.len);
	cr_expect(get_sample(&r));
	cr_expect(wire_ok(&r), "all read, nothing bad");
	cr_expect_eq(r.pos, r.len);
	wire_fini(&r); /* a reader does not own the bytes */
	cr_expect_not(w.bad);
	wire_fini(&w);
	cr_expect_null(w.buf);
	cr_expect_eq(w.len, 0);
}

Test(wire, integers_are_little_endian)
{
	struct wire w;
	wire_init(&w);
	wire_put_u32(&w, 0x01020304);
	wire_put_u64(&w, 0x1112131415161718ULL);
	wire_put_str(&w, "ab");
	wire_put_str(&w, NULL);
	static const uint8_t want[] = { 4,    3, 2, 1, 0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12,
					0x11, 2, 0, 0, 0,    'a',  'b',	 0xff, 0xff, 0xff, 0xff };
	cr_assert_eq(w.len, sizeof(want));
	cr_expect_arr_eq(w.buf, want, sizeof(want));
	wire_fini(&w);
}

Test(wire, every_short_read_is_refused)
{
	struct wire w;
	wire_init(&w);
	put_sample(&w);
	for (size_t len = 0; len < w.len; len++) {
		struct wire r;
		wire_reader(&r, w.buf, len);
		cr_expect_not(get_sample(&r), "%zu of %zu bytes read as the whole", len, w.len);
		cr_expect(r.bad, "%zu bytes: not marked bad", len);
		cr_expect_not(wire_ok(&r), "%zu bytes", len);
	}
	wire_fini(&w);
}

Test(wire, bytes_left_over_are_not_ok)
{
	struct wire w, r;
	wire_init(&w);
	put_sample(&w);
	wire_put_u32(&w, 7);
	wire_reader(&r, w.buf, w.len);
	cr_expect(get_sample(&r));
	cr_expect_not(r.bad, "nothing malformed");
	cr_expect_not(wire_ok(&r), "4 bytes not read");
	cr_expect_eq(wire_get_u32(&r), 7);
	cr_expect(wire_ok(&r));
	wire_fini(&w);
}

Test(wire, a_bad_read_sticks_and_later_reads_return_zeroes)
{
	struct wire w, r;
	wire_init(&w);
	wire_put_str(&w, "toolong");
	wire_put_u32(&w, 42);
	wire_put_u64(&w, 43);
	wire_reader(&r, w.buf, w.len);
	cr_expect_null(wire_get_str(&r, 3), "longer than its max");
	cr_expect(r.bad);
	cr_expect_eq(wire_get_u32(&r), 0, "the bytes are there, but the reader is bad");
	cr_expect_eq(wire_get_u64(&r), 0);
	uint8_t b[2] = { 9, 9 };
	cr_expect_not(wire_get(&r, b, 2));
	cr_expect(b[0] == 0 && b[1] == 0, "a failed get zeroes its output");
	char buf[8] = "xxxxxxx";
	cr_expect_not(wire_get_strbuf(&r, buf, sizeof(buf)));
	cr_expect_str_eq(buf, "", "a failed get empties the buffer");
	cr_expect_not(wire_ok(&r));
	wire_fini(&w);
}

/* A string record of `len` (claimed) bytes, then `data` of `n` bytes. */
static void str_record(struct wire *w, uint32_t len, const char *data, size_t n)
{
	wire_init(w);
	wire_put_u32(w, len);
	wire_put(w, data, n);
	cr_assert_not(w->bad);
}

Test(wire, oversized_strings_are_refused)
{
	static const struct {
		const char *name;
		uint32_t len;
		const char *data;
		size_t n, max;
	} cases[] = {
		{ "longer than max", 5, "hello", 5, 4 },
		{ "longer than the bytes left", 6, "hello", 5, 64 },
		{ "a huge length", UINT32_MAX - 1, "hello", 5, SIZE_MAX },
		{ "a length and nothing", 1, "", 0, 64 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wire w, r;
		str_record(&w, cases[i].len, cases[i].data, cases[i].n);
		wire_reader(&r, w.buf, w.len);
		cr_expect_null(wire_get_str(&r, cases[i].max), "%s", cases[i].name);
		cr_expect(r.bad, "%s", cases[i].name);

		char buf[5] = "xxxx";
		wire_reader(&r, w.buf, w.len);
		cr_expect_not(wire_get_strbuf(&r, buf, sizeof(buf)), "%s", cases[i].name);
		cr_expect_str_eq(buf, "", "%s", cases[i].name);
		cr_expect(r.bad, "%s", cases[i].name);
		wire_fini(&w);
	}
}

Test(wire, strings_of_exactly_the_max_fit)
{
	struct wire w, r;
	char buf[6];
	wire_init(&w);
	wire_put_str(&w, "hello");
	wire_put_str(&w, "hello");
	wire_reader(&r, w.buf, w.len);
	char *s = wire_get_str(&r, 5);
	cr_expect_str_eq(s, "hello");
	free(s);
	cr_expect(wire_get_strbuf(&r, buf, sizeof(buf)), "5 bytes and the NUL in 6");
	cr_expect_str_eq(buf, "hello");
	cr_expect(wire_ok(&r));
	wire_reader(&r, w.buf, w.len);
	free(wire_get_str(&r, 5));
	cr_expect_not(wire_get_strbuf(&r, buf, 5), "no room for the NUL");
	wire_fini(&w);
}

Test(wire, strings_containing_a_nul_are_refused)
{
	static const char *const data[] = { "\0abc", "ab\0c", "abc\0" };
	for (size_t i = 0; i < sizeof(data) / sizeof(data[0]); i++) {
		struct wire w, r;
		char buf[16];
		str_record(&w, 4, data[i], 4);
		wire_reader(&r, w.buf, w.len);
		cr_expect_null(wire_get_str(&r, 64), "case %zu", i);
		cr_expect(r.bad, "case %zu", i);
		wire_reader(&r, w.buf, w.len);
		cr_expect_not(wire_get_strbuf(&r, buf, sizeof(buf)), "case %zu", i);
		cr_expect(r.bad, "case %zu", i);
		wire_fini(&w);
	}
}

Test(wire, a_null_string_is_refused_into_a_buffer_but_not_as_a_pointer)
{
	struct wire w, r;
	char buf[8] = "xxxxxxx";
	wire_init(&w);
	wire_put_str(&w, NULL);
	wire_reader(&r, w.buf, w.len);
	cr_expect_null(wire_get_str(&r, 64));
	cr_expect(wire_ok(&r), "NULL is a value of its own");
	wire_reader(&r, w.buf, w.len);
	cr_expect_not(wire_get_strbuf(&r, buf, sizeof(buf)));
	cr_expect(r.bad);
	cr_expect_str_eq(buf, "");
	wire_fini(&w);
}

Test(wire, writer_stops_at_wire_max)
{
	struct wire w;
	uint8_t *big = calloc(1, WIRE_MAX);
	cr_assert_not_null(big);
	wire_init(&w);
	wire_put(&w, big, WIRE_MAX - 4);
	wire_put_u32(&w, 1);
	cr_expect_not(w.bad, "exactly WIRE_MAX is allowed");
	cr_expect_eq(w.len, WIRE_MAX);
	wire_put(&w, "x", 1);
	cr_expect(w.bad, "one byte more is not");
	cr_expect_eq(w.len, WIRE_MAX, "nothing written past it");
	wire_put_u32(&w, 2);
	cr_expect_eq(w.len, WIRE_MAX, "a bad writer writes nothing more");
	wire_fini(&w);

	wire_init(&w);
	wire_put(&w, big, WIRE_MAX);
	wire_fini(&w);
	wire_init(&w);
	wire_put_u32(&w, 1);
	wire_put(&w, big, WIRE_MAX);
	cr_expect(w.bad, "a put that would cross the limit is refused whole");
	cr_expect_eq(w.len, 4);
	wire_fini(&w);
	free(big);
}

Test(wire, empty_reads_and_writes)
{
	static const uint8_t none[1];
	struct wire w, r;
	wire_init(&w);
	wire_put_u32(&w, 5);
	wire_put(&w, "", 0);
	cr_expect_not(w.bad);
	cr_expect_eq(w.len, 4, "nothing added");
	wire_reader(&r, none, 0);
	cr_expect(wire_ok(&r), "nothing to read, nothing read");
	uint8_t b;
	cr_expect(wire_get(&r, &b, 0));
	cr_expect_eq(wire_get_u32(&r), 0);
	cr_expect_not(wire_ok(&r), "a u32 from nothing");
	wire_fini(&w);
}
