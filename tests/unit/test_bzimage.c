/* vmm/x86/bzimage.c: a synthetic bzImage in memory, and every way its header can be wrong. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../lib/log.h"
#include "../../lib/util.h"
#include "../../vmm/x86/kernel.h"
#include "../../vmm/x86/layout.h"

#define RAM_SIZE    MiB(64)
#define SETUP_SECTS 4
#define PM_OFF	    ((SETUP_SECTS + 1) * 512)
#define PM_LEN	    0x3000
#define IMG_SIZE    (PM_OFF + PM_LEN)
#define HDR_OFF	    0x1f1

static uint64_t img_words[IMG_SIZE / 8 + 1];
static uint8_t *img = (uint8_t *)img_words;
static size_t img_len;
static struct setup_header hdr; /* edited by the tests, then written by put_hdr() */
static struct guest_mem mem;
static struct kernel_info ki;
static const char *why;

static void put_hdr(void)
{
	memcpy(img + HDR_OFF, &hdr, sizeof(hdr));
}

/* Protocol 2.15, 64-bit entry, setup header ending at 0x202 + 0x6a. */
static void build(void)
{
	memset(img, 0, sizeof(img_words));
	img_len = IMG_SIZE;
	memset(&hdr, 0, sizeof(hdr));
	hdr.setup_sects = SETUP_SECTS;
	hdr.syssize = PM_LEN / 16;
	hdr.boot_flag = 0xaa55;
	hdr.jump = 0x6aeb; /* jmp short, bytes eb 6a */
	hdr.header = 0x53726448;
	hdr.version = 0x020f;
	hdr.loadflags = LOADED_HIGH;
	hdr.initrd_addr_max = 0x7fffffff;
	hdr.kernel_alignment = 0x200000;
	hdr.relocatable_kernel = 1;
	hdr.xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
	hdr.cmdline_size = 2047;
	hdr.pref_address = 0x1000000;
	hdr.init_size = 0x800000;
	put_hdr();
	for (int i = 0; i < PM_LEN; i++)
		img[PM_OFF + i] = (uint8_t)(i * 13 + 5);
}

static void setup(void)
{
	log_set_level(LOG_OFF);
	cr_assert_eq(guest_mem_init(&mem, RAM_SIZE, MEM_ANON, -1, false), 0);
	memset(mem.r[0].hva + HIMEM_START, 0xcc, MiB(1));
	build();
}

static void teardown(void)
{
	guest_mem_fini(&mem);
}

TestSuite(bzimage, .init = setup, .fini = teardown);

static int load(void)
{
	why = NULL;
	return bzimage_load(img, img_len, &mem, &ki, &why);
}

Test(bzimage, loads_the_protected_mode_part_at_1_mib)
{
	cr_assert_eq(load(), 0, "%s", why ? why : "");
	uint8_t *dst = mem.r[0].hva + HIMEM_START;
	cr_expect_eq(memcmp(dst, img + PM_OFF, PM_LEN), 0, "the part after the setup sectors");
	cr_expect_eq(dst[PM_LEN], 0xcc, "nothing more");
	cr_expect_eq(ki.entry, 0x100000 + 0x200, "the 64-bit entry point");
	cr_expect_eq(ki.mode, ENTRY_LINUX64);
	cr_expect(ki.is_bzimage);
	cr_expect_eq(ki.load_end, 0x1000000 + 0x800000, "pref_address + init_size");
	cr_expect_eq(ki.initrd_max, 0x80000000ULL > RAM_SIZE ? RAM_SIZE : 0x80000000ULL);
	cr_expect_eq(ki.cmdline_max, 2048);
}

Test(bzimage, setup_header_is_captured)
{
	cr_assert_eq(load(), 0, "%s", why ? why : "");
	cr_expect_eq(memcmp(&ki.hdr, &hdr, sizeof(hdr)), 0, "the whole header, unchanged");
	cr_expect_eq(ki.hdr.version, 0x020f);
	cr_expect_eq(ki.hdr.setup_sects, SETUP_SECTS);
	cr_expect_eq(ki.hdr.init_size, 0x800000);
}

Test(bzimage, limits_follow_the_header)
{
	hdr.cmdline_size = 0;		/* before 2.06: 255 characters */
	hdr.initrd_addr_max = 0xffffff; /* 16 MiB */
	put_hdr();
	cr_assert_eq(load(), 0, "%s", why ? why : "");
	cr_expect_eq(ki.cmdline_max, 256);
	cr_expect_eq(ki.initrd_max, 0x1000000);
}

Test(bzimage, huge_cmdline_size_does_not_wrap_the_limit)
{
	hdr.cmdline_size = 0xffffffff;
	put_hdr();
	cr_assert_eq(load(), 0, "%s", why ? why : "");
	cr_expect_geq(ki.cmdline_max, 256, "a kernel without a limit must not get a limit of 0");
	cr_expect_leq(ki.cmdline_max, CMDLINE_MAX_SIZE, "nor more than the command line area");
}

Test(bzimage, setup_sects_zero_means_four)
{
	hdr.setup_sects = 0;
	put_hdr();
	cr_assert_eq(load(), 0, "%s", why ? why : "");
	cr_expect_eq(memcmp(mem.r[0].hva + HIMEM_START, img + PM_OFF, PM_LEN), 0);
}

Test(bzimage, fields_past_a_short_header_are_dropped)
{
	img[0x201] = 0x44; /* the header ends at 0x246: init_size (0x260) is not part of it */
	cr_assert_eq(load(), 0, "%s", why ? why : "");
	cr_expect_eq(ki.hdr.initrd_addr_max, hdr.initrd_addr_max, "0x22c is inside");
	cr_expect_eq(ki.hdr.cmdline_size, hdr.cmdline_size, "0x238 is inside");
	cr_expect_eq(ki.hdr.init_size, 0, "0x260 is outside");
}

Test(bzimage, flags_past_a_short_header_do_not_count)
{
	img[0x201] = 0x30; /* ends at 0x232, before xloadflags: no 64-bit entry is promised */
	cr_assert_eq(load(), -EINVAL);
	cr_expect(why && strstr(why, "64-bit"), "why: %s", why ? why : "(null)");
}

Test(bzimage, load_end_covers_an_image_larger_than_init_size)
{
	hdr.pref_address = 0;
	hdr.init_size = 0x100;
	put_hdr();
	cr_assert_eq(load(), 0, "%s", why ? why : "");
	cr_expect_eq(ki.load_end, HIMEM_START + PM_LEN);
}

/* One mutation of the valid image each. */
/* clang-format off */
static void no_hdrs(void) { memcpy(img + 0x202, "HdrT", 4); }
static void too_short_for_hdrs(void) { img_len = 0x205; }
static void header_cut(void) { img_len = HDR_OFF + sizeof(hdr) - 1; }
static void boot_flag(void) { hdr.boot_flag = 0x55aa; put_hdr(); }
static void old_version(void) { hdr.version = 0x020b; put_hdr(); }
static void ancient_version(void) { hdr.version = 0x0100; put_hdr(); }
static void not_high(void) { hdr.loadflags = 0; put_hdr(); }
static void no_64bit_entry(void) { hdr.xloadflags = XLF_CAN_BE_LOADED_ABOVE_4G; put_hdr(); }
static void no_pm_part(void) { img_len = PM_OFF; }
static void setup_sects_past_end(void) { hdr.setup_sects = 255; put_hdr(); }
static void truncated_pm(void) { img_len = PM_OFF + PM_LEN - 16; }
static void syssize_too_big(void) { hdr.syssize = PM_LEN / 16 + 1; put_hdr(); }
static void syssize_huge(void) { hdr.syssize = 0xffffffff; put_hdr(); }
static void init_size_beyond_ram(void) { hdr.init_size = (uint32_t)RAM_SIZE; put_hdr(); }
static void pref_beyond_ram(void) { hdr.pref_address = RAM_SIZE; put_hdr(); }
static void pref_in_gap(void) { hdr.pref_address = MMIO32_START; put_hdr(); }
static void pref_wraps(void) { hdr.pref_address = UINT64_MAX - 0x10; put_hdr(); }
/* clang-format on */

static const struct {
	const char *name;
	void (*mutate)(void);
	int r;
	const char *why;
} bad[] = {
	{ "no HdrS", no_hdrs, -ENOEXEC, NULL },
	{ "shorter than HdrS", too_short_for_hdrs, -ENOEXEC, NULL },
	{ "setup header cut", header_cut, -EINVAL, "truncated" },
	{ "boot flag", boot_flag, -EINVAL, "0xAA55" },
	{ "protocol 2.11", old_version, -EINVAL, "2.12" },
	{ "protocol 1.0", ancient_version, -EINVAL, "2.12" },
	{ "not LOADED_HIGH", not_high, -EINVAL, "zImage" },
	{ "no XLF_KERNEL_64", no_64bit_entry, -EINVAL, "64-bit" },
	{ "no protected-mode part", no_pm_part, -EINVAL, "protected-mode" },
	{ "setup sectors past the end", setup_sects_past_end, -EINVAL, "protected-mode" },
	{ "truncated protected-mode part", truncated_pm, -EINVAL, "syssize" },
	{ "syssize one paragraph too many", syssize_too_big, -EINVAL, "syssize" },
	{ "syssize 0xffffffff", syssize_huge, -EINVAL, "syssize" },
	{ "init_size beyond RAM", init_size_beyond_ram, -EFBIG, NULL },
	{ "pref_address beyond RAM", pref_beyond_ram, -EFBIG, NULL },
	{ "pref_address in the MMIO gap", pref_in_gap, -EFBIG, NULL },
	{ "pref_address + init_size wraps", pref_wraps, -EINVAL, "overflow" },
};

Test(bzimage, rejects_bad_images)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		build();
		bad[i].mutate();
		int r = load();
		cr_expect_eq(r, bad[i].r, "case %zu (%s): got %d", i, bad[i].name, r);
		if (bad[i].why)
			cr_expect(why && strstr(why, bad[i].why),
				  "case %zu (%s): why '%s' lacks '%s'", i, bad[i].name,
				  why ? why : "(null)", bad[i].why);
		cr_expect_eq(mem.r[0].hva[HIMEM_START], 0xcc, "case %zu (%s): RAM written", i,
			     bad[i].name);
	}
}

Test(bzimage, pm_part_larger_than_ram_does_not_fit)
{
	struct guest_mem small;
	cr_assert_eq(guest_mem_init(&small, HIMEM_START + 0x1000, MEM_ANON, -1, false), 0);
	hdr.pref_address = 0;
	hdr.init_size = 0;
	put_hdr();
	why = NULL;
	cr_expect_eq(bzimage_load(img, img_len, &small, &ki, &why), -EFBIG);
	guest_mem_fini(&small);
}
