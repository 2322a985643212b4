/* vmm/boot_timer.c: one magic byte at offset 0 records the boot time, nothing else does. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "../../vmm/boot_timer.h"
#include "../../lib/log.h"
#include "../../lib/util.h"

static struct boot_timer bt;

static void setup(void)
{
	log_set_level(LOG_OFF);
	/* Started 5 ms ago, so a recorded time cannot be 0. */
	boot_timer_init(&bt, mono_us() - 5000, cpu_us());
}

TestSuite(boot_timer, .init = setup);

Test(boot_timer, magic_byte_at_offset_0_records_boot_time)
{
	uint8_t v = BOOT_TIMER_MAGIC;
	cr_assert_eq(bt.boot_us, 0);
	boot_timer_mmio(&bt, 0, &v, 1, true);
	cr_expect_geq(bt.boot_us, 5000, "boot_us counts from start_us");
	cr_expect_lt(bt.boot_us, 60ULL * 1000 * 1000, "and is not garbage");
}

Test(boot_timer, other_writes_are_ignored)
{
	static const struct {
		uint64_t off;
		uint32_t len;
		uint8_t data[4];
		const char *what;
	} cases[] = {
		{ 0, 1, { 122 }, "wrong value" },
		{ 0, 1, { 0 }, "zero" },
		{ 1, 1, { BOOT_TIMER_MAGIC }, "other offset" },
		{ 0xfff, 1, { BOOT_TIMER_MAGIC }, "last byte of the page" },
		{ 0, 2, { BOOT_TIMER_MAGIC, 0 }, "2-byte write" },
		{ 0, 4, { BOOT_TIMER_MAGIC, 0, 0, 0 }, "4-byte write" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t d[4];
		memcpy(d, cases[i].data, sizeof(d));
		boot_timer_mmio(&bt, cases[i].off, d, cases[i].len, true);
		cr_expect_eq(bt.boot_us, 0, "case %zu (%s) recorded a boot time", i, cases[i].what);
	}
}

Test(boot_timer, reads_return_zeros_and_record_nothing)
{
	uint8_t d[4] = { BOOT_TIMER_MAGIC, 1, 2, 3 };
	boot_timer_mmio(&bt, 0, d, 4, false);
	cr_expect_eq(d[0] | d[1] | d[2] | d[3], 0);
	cr_expect_eq(bt.boot_us, 0);
}
