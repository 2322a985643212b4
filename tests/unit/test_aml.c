/* vmm/x86/aml.c: each term's bytes as ACPI 6.5 chapter 20 spells them. */
#include <criterion/criterion.h>
#include <string.h>

#include "../../vmm/x86/aml.h"

static uint8_t buf[8192];
static struct aml a;

static void setup(void)
{
	memset(buf, 0xee, sizeof(buf));
	aml_init(&a, buf, sizeof(buf));
}

TestSuite(aml, .init = setup);

#define EXPECT(...)                                                                            \
	do {                                                                                   \
		static const uint8_t want[] = { __VA_ARGS__ };                                 \
		cr_assert(!a.bad, "the emitter marked the buffer bad");                        \
		cr_assert_eq(a.len, sizeof(want), "%zu bytes, want %zu", a.len, sizeof(want)); \
		cr_assert_arr_eq(buf, want, sizeof(want));                                     \
	} while (0)

Test(aml, pkglen_uses_one_to_four_bytes_and_counts_itself)
{
	uint8_t e[4];
	cr_assert_eq(aml_pkglen_encode(0, e), 1);
	cr_assert_eq(e[0], 1);
	cr_assert_eq(aml_pkglen_encode(62, e), 1);
	cr_assert_eq(e[0], 63);
	/* 63 + 2 = 65 = 0x41: two bytes, low nibble 1, then 0x04. */
	cr_assert_eq(aml_pkglen_encode(63, e), 2);
	cr_assert_eq(e[0], 0x41);
	cr_assert_eq(e[1], 0x04);
	cr_assert_eq(aml_pkglen_encode(4093, e), 2); /* 4095: the most two bytes hold */
	cr_assert_eq(e[0], 0x4f);
	cr_assert_eq(e[1], 0xff);
	cr_assert_eq(aml_pkglen_encode(4094, e), 3); /* 4097 = 0x1001 */
	cr_assert_eq(e[0], 0x81);
	cr_assert_eq(e[1], 0x00);
	cr_assert_eq(e[2], 0x01);
	cr_assert_eq(aml_pkglen_encode((1u << 28) - 5, e), 4);
	cr_assert_eq(aml_pkglen_encode(1u << 28, e), 0);
}

Test(aml, name_strings_one_two_and_many_segments)
{
	aml_name_string(&a, "_HID");
	aml_name_string(&a, "\\_SB_.VGEN");
	aml_name_string(&a, "A.B1.C");
	aml_name_string(&a, "\\_SB");
	EXPECT('_', 'H', 'I', 'D', 0x5c, 0x2e, '_', 'S', 'B', '_', 'V', 'G', 'E', 'N', 0x2f, 3, 'A',
	       '_', '_', '_', 'B', '1', '_', '_', 'C', '_', '_', '_', 0x5c, '_', 'S', 'B', '_');
}

Test(aml, bad_names_mark_the_buffer_bad)
{
	static const char *bad[] = { "", "\\", "1ABC", "ABCDE", "a", "A..B", "A.", ".A", "A-B" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setup();
		aml_name_string(&a, bad[i]);
		cr_assert(a.bad, "'%s' was accepted", bad[i]);
		cr_assert_eq(a.len, 0, "'%s' wrote bytes", bad[i]);
	}
}

Test(aml, integers_take_the_shortest_encoding)
{
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 0x80);
	aml_integer(&a, 0x1234);
	aml_integer(&a, 0xff000);
	aml_integer(&a, 0x100000000ULL);
	EXPECT(0x00, 0x01, 0x0a, 0x80, 0x0b, 0x34, 0x12, 0x0c, 0x00, 0xf0, 0x0f, 0x00, 0x0e, 0, 0,
	       0, 0, 1, 0, 0, 0);
}

Test(aml, eisaid_compresses_three_letters_and_four_hex_digits)
{
	aml_eisaid(&a, "PNP0501");
	aml_eisaid(&a, "PNP0303");
	EXPECT(0x0c, 0x41, 0xd0, 0x05, 0x01, 0x0c, 0x41, 0xd0, 0x03, 0x03);
	static const char *bad[] = { "pnp0501", "PNP050", "PNP05011", "PNP05G1", "P1P0501" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setup();
		aml_eisaid(&a, bad[i]);
		cr_assert(a.bad, "'%s' was accepted", bad[i]);
	}
}

Test(aml, name_with_string_package_and_notify)
{
	aml_name_str(&a, "_HID", "AB");
	aml_name(&a, "ADDR");
	size_t p = aml_package(&a, 2);
	aml_integer(&a, 0xff000);
	aml_integer(&a, 0);
	aml_close(&a, p);
	aml_notify(&a, "VGEN", 0x80);
	EXPECT(0x08, '_', 'H', 'I', 'D', 0x0d, 'A', 'B', 0, /* Name (_HID, "AB") */
	       0x08, 'A', 'D', 'D', 'R', 0x12, 8, 2, 0x0c, 0x00, 0xf0, 0x0f, 0x00, 0x00, 0x86, 'V',
	       'G', 'E', 'N', 0x0a, 0x80);
}

Test(aml, method_with_if_arg_equal)
{
	size_t m = aml_method(&a, "_EVT", 1, true);
	size_t i = aml_if_arg_equal(&a, 0, 23);
	aml_notify(&a, "VGEN", 0x80);
	aml_close(&a, i);
	aml_close(&a, m);
	EXPECT(0x14, 19, '_', 'E', 'V', 'T', 0x09, /* Method (_EVT, 1, Serialized) */
	       0xa0, 12, 0x93, 0x68, 0x0a, 23,	   /* If (LEqual (Arg0, 23)) */
	       0x86, 'V', 'G', 'E', 'N', 0x0a, 0x80);
}

Test(aml, resource_template_in_a_buffer)
{
	size_t b = aml_buffer(&a);
	aml_res_io(&a, 0x3f8, 8);
	aml_res_irq_edge(&a, 4);
	aml_res_memory32_fixed(&a, 0xc0001000, 0x1000, true);
	aml_res_end(&a);
	aml_buffer_close(&a, b);
	EXPECT(0x11, 35, 0x0b, 31, 0,		/* Buffer (31) */
	       0x47, 1, 0xf8, 3, 0xf8, 3, 1, 8, /* IO (Decode16, 0x3f8, 0x3f8, 1, 8) */
	       0x89, 6, 0, 0x03, 1, 4, 0, 0, 0, /* Interrupt (Consumer, Edge, ...) {4} */
	       0x86, 9, 0, 1, 0, 0x10, 0, 0xc0, 0, 0x10, 0, 0, /* Memory32Fixed (ReadWrite) */
	       0x79, 0);
}

Test(aml, long_contents_get_a_two_byte_length_and_move_back)
{
	char s[100];
	memset(s, 'x', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	size_t d = aml_device(&a, "DEV0");
	aml_name_str(&a, "_DDN", s);
	aml_close(&a, d);
	/* ExtOp DeviceOp, PkgLength (2 bytes), "DEV0", Name _DDN String(99 + NUL). */
	size_t body = 4 + 1 + 4 + 1 + 100;
	cr_assert(!a.bad);
	cr_assert_eq(a.len, 2 + 2 + body);
	cr_assert_eq(buf[0], 0x5b);
	cr_assert_eq(buf[1], 0x82);
	size_t total = body + 2;
	cr_assert_eq(buf[2], 0x40 | (total & 0xf));
	cr_assert_eq(buf[3], total >> 4);
	cr_assert_arr_eq(buf + 4, "DEV0", 4);
	cr_assert_eq(buf[4 + 4], 0x08);
	cr_assert_eq(buf[a.len - 1], 0);
	cr_assert_eq(buf[a.len - 2], 'x');
}

Test(aml, a_full_buffer_drops_the_rest_and_says_so)
{
	aml_init(&a, buf, 6);
	aml_name_str(&a, "_HID", "TOO LONG");
	cr_assert(a.bad);
	cr_assert_leq(a.len, 6);
	cr_assert_eq(buf[6], 0xee, "wrote past the buffer");
	size_t before = a.len;
	aml_integer(&a, 0);
	cr_assert_eq(a.len, before, "wrote after the buffer went bad");
}
