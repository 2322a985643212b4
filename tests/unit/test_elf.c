/* vmm/x86/elf.c: an ELF vmlinux (64-bit or PVH entry) loaded from memory, hostile headers rejected.
 */
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "../../lib/log.h"
#include "../../lib/util.h"
#include "../../vmm/x86/kernel.h"
#include "../../vmm/x86/layout.h"
#include "../../vmm/x86/pvh.h"

#define RAM_SIZE  MiB(32)
#define IMG_SIZE  0x2000
#define SEG_A_OFF 0x1000 /* 0x200 bytes at 1 MiB, plus 0x200 of bss */
#define SEG_B_OFF 0x1400 /* 0x100 bytes at 2 MiB */
#define NOTE_OFF  0x1800
#define ENTRY	  0x1000000ULL

static uint64_t img_words[IMG_SIZE / 8]; /* 8-byte aligned, like an mmapped file */
static uint8_t *img = (uint8_t *)img_words;
static size_t img_len;
static struct guest_mem mem;
static struct kernel_info ki;
static const char *why;

static Elf64_Ehdr *eh(void)
{
	return (Elf64_Ehdr *)img;
}

static Elf64_Phdr *ph(int i)
{
	return (Elf64_Phdr *)(img + 64) + i;
}

/* A valid two-segment ET_EXEC for x86-64 with an empty PT_NOTE. */
static void build(void)
{
	memset(img, 0, IMG_SIZE);
	img_len = IMG_SIZE;
	memcpy(eh()->e_ident, ELFMAG, SELFMAG);
	eh()->e_ident[EI_CLASS] = ELFCLASS64;
	eh()->e_ident[EI_DATA] = ELFDATA2LSB;
	eh()->e_ident[EI_VERSION] = EV_CURRENT;
	eh()->e_type = ET_EXEC;
	eh()->e_machine = EM_X86_64;
	eh()->e_version = EV_CURRENT;
	eh()->e_entry = ENTRY;
	eh()->e_phoff = 64;
	eh()->e_ehsize = sizeof(Elf64_Ehdr);
	eh()->e_phentsize = sizeof(Elf64_Phdr);
	eh()->e_phnum = 3;
	*ph(0) = (Elf64_Phdr){ .p_type = PT_LOAD,
			       .p_offset = SEG_A_OFF,
			       .p_paddr = MiB(1),
			       .p_vaddr = 0xffffffff81000000ULL,
			       .p_filesz = 0x200,
			       .p_memsz = 0x400 };
	*ph(1) = (Elf64_Phdr){ .p_type = PT_LOAD,
			       .p_offset = SEG_B_OFF,
			       .p_paddr = MiB(2),
			       .p_filesz = 0x100,
			       .p_memsz = 0x100 };
	*ph(2) = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = NOTE_OFF, .p_filesz = 0 };
	for (int i = 0; i < 0x200; i++)
		img[SEG_A_OFF + i] = (uint8_t)(i * 7 + 1);
	memset(img + SEG_B_OFF, 0xb5, 0x100);
}

/* Append a note to the PT_NOTE segment. */
static void add_note(uint32_t type, const char *name, uint32_t namesz, const void *desc,
		     uint32_t descsz)
{
	uint8_t *p = img + NOTE_OFF + ph(2)->p_filesz;
	Elf64_Nhdr n = { .n_namesz = namesz, .n_descsz = descsz, .n_type = type };
	memcpy(p, &n, sizeof(n));
	size_t off = sizeof(n);
	memcpy(p + off, name, MIN(namesz, 16u));
	off += ALIGN_UP(namesz, 4u);
	memcpy(p + off, desc, MIN(descsz, 16u));
	off += ALIGN_UP(descsz, 4u);
	ph(2)->p_filesz += off;
}

static void setup(void)
{
	log_set_level(LOG_OFF);
	cr_assert_eq(guest_mem_init(&mem, RAM_SIZE, MEM_ANON, -1, false), 0);
	memset(mem.r[0].hva + MiB(1), 0xcc, MiB(2));
	memset(&ki, 0x5a, sizeof(ki));
	build();
}

static void teardown(void)
{
	guest_mem_fini(&mem);
}

TestSuite(elf, .init = setup, .fini = teardown);

static int load(void)
{
	why = NULL;
	return elf_load(img, img_len, &mem, &ki, &why);
}

static uint8_t *gpa(uint64_t a)
{
	return mem.r[0].hva + a;
}

Test(elf, loads_segments_and_zeroes_bss)
{
	cr_assert_eq(load(), 0, "%s", why ? why : "");
	cr_expect_eq(memcmp(gpa(MiB(1)), img + SEG_A_OFF, 0x200), 0, "segment A copied");
	for (int i = 0x200; i < 0x400; i++)
		cr_assert_eq(*gpa(MiB(1) + i), 0, "bss byte %#x not zeroed", i);
	cr_expect_eq(*gpa(MiB(1) + 0x400), 0xcc, "nothing past memsz");
	cr_expect_eq(memcmp(gpa(MiB(2)), img + SEG_B_OFF, 0x100), 0, "segment B copied");
	cr_expect_eq(ki.mode, ENTRY_LINUX64);
	cr_expect_eq(ki.entry, ENTRY);
	cr_expect_eq(ki.load_end, MiB(2) + 0x100, "end of the highest segment");
	cr_expect_not(ki.is_bzimage);
	cr_expect_eq(ki.initrd_max, RAM_SIZE);
	cr_expect_eq(ki.cmdline_max, 2048);
}

Test(elf, load_end_is_the_highest_segment_end_whatever_the_order)
{
	ph(0)->p_paddr = MiB(3);
	cr_assert_eq(load(), 0, "%s", why ? why : "");
	cr_expect_eq(ki.load_end, MiB(3) + 0x400);
}

/* One mutation of the valid image each. */
/* clang-format off */
static void no_magic(void) { img[0] = 0x7e; }
static void tiny(void) { img_len = 3; }
static void header_cut(void) { img_len = sizeof(Elf64_Ehdr) - 1; }
static void class32(void) { eh()->e_ident[EI_CLASS] = ELFCLASS32; }
static void big_endian(void) { eh()->e_ident[EI_DATA] = ELFDATA2MSB; }
static void machine_386(void) { eh()->e_machine = EM_386; }
static void machine_arm(void) { eh()->e_machine = EM_AARCH64; }
static void type_dyn(void) { eh()->e_type = ET_DYN; }
static void phentsize_bad(void) { eh()->e_phentsize = 32; }
static void phnum_zero(void) { eh()->e_phnum = 0; }
static void phnum_huge(void) { eh()->e_phnum = 65; }
static void phoff_past_end(void) { eh()->e_phoff = IMG_SIZE - 56; }
static void phoff_wraps(void) { eh()->e_phoff = UINT64_MAX - 63; }
static void seg_past_end(void) { ph(1)->p_filesz = IMG_SIZE - SEG_B_OFF + 1; }
static void seg_offset_wraps(void) { ph(1)->p_offset = UINT64_MAX - 0x10; }
static void note_past_end(void) { ph(2)->p_filesz = IMG_SIZE; }
static void filesz_gt_memsz(void) { ph(0)->p_memsz = 0x1ff; }
static void below_1mib(void) { ph(0)->p_paddr = HIMEM_START - 0x1000; }
static void at_zero(void) { ph(1)->p_paddr = 0; }
static void paddr_wraps(void) { ph(1)->p_paddr = UINT64_MAX - 0x10; }
static void beyond_ram(void) { ph(1)->p_paddr = RAM_SIZE - 0x80; }
static void in_mmio_gap(void) { ph(1)->p_paddr = MMIO32_START; }
static void memsz_huge(void) { ph(0)->p_memsz = GiB(64); }
static void no_load(void) { ph(0)->p_type = PT_NULL; ph(1)->p_type = PT_DYNAMIC; }
static void entry_outside(void) { eh()->e_entry = RAM_SIZE; }
static void entry_in_gap(void) { eh()->e_entry = MMIO32_START + 0x1000; }
/* clang-format on */

static const struct {
	const char *name;
	void (*mutate)(void);
	int r;
	const char *why; /* substring of *why for -EINVAL */
} bad[] = {
	{ "not ELF", no_magic, -ENOEXEC, NULL },
	{ "shorter than the magic", tiny, -ENOEXEC, NULL },
	{ "truncated header", header_cut, -EINVAL, "truncated" },
	{ "32-bit class", class32, -EINVAL, "64-bit" },
	{ "big endian", big_endian, -EINVAL, "little-endian" },
	{ "i386 machine", machine_386, -EINVAL, "x86-64" },
	{ "aarch64 machine", machine_arm, -EINVAL, "x86-64" },
	{ "ET_DYN", type_dyn, -EINVAL, "ET_EXEC" },
	{ "phentsize", phentsize_bad, -EINVAL, "program header" },
	{ "no program headers", phnum_zero, -EINVAL, "program header" },
	{ "65 program headers", phnum_huge, -EINVAL, "program header" },
	{ "phoff past end", phoff_past_end, -EINVAL, "past the end" },
	{ "phoff wraps", phoff_wraps, -EINVAL, "past the end" },
	{ "segment past end", seg_past_end, -EINVAL, "past the end" },
	{ "segment offset wraps", seg_offset_wraps, -EINVAL, "past the end" },
	{ "note past end", note_past_end, -EINVAL, "past the end" },
	{ "filesz > memsz", filesz_gt_memsz, -EINVAL, "file size" },
	{ "segment below 1 MiB", below_1mib, -EINVAL, "1 MiB" },
	{ "segment at 0", at_zero, -EINVAL, "1 MiB" },
	{ "paddr + memsz wraps", paddr_wraps, -EINVAL, "overflows" },
	{ "segment beyond RAM", beyond_ram, -EFBIG, NULL },
	{ "segment in the MMIO gap", in_mmio_gap, -EFBIG, NULL },
	{ "64 GiB segment", memsz_huge, -EFBIG, NULL },
	{ "no PT_LOAD", no_load, -EINVAL, "loadable" },
	{ "entry outside RAM", entry_outside, -EINVAL, "entry point" },
	{ "entry in the MMIO gap", entry_in_gap, -EINVAL, "entry point" },
};

Test(elf, rejects_bad_images)
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
		else if (r == -EINVAL)
			cr_expect_not_null(why, "case %zu (%s): -EINVAL must say why", i,
					   bad[i].name);
	}
}

Test(elf, nothing_is_copied_when_a_later_segment_is_bad)
{
	beyond_ram();
	cr_assert_eq(load(), -EFBIG);
	cr_expect_eq(*gpa(MiB(1)), 0xcc, "segment A must not be copied before B is validated");
	build();
	filesz_gt_memsz();
	ph(0)->p_memsz = 0x400;
	ph(1)->p_memsz = 0x80; /* B bad, A fine */
	cr_assert_eq(load(), -EINVAL);
	cr_expect_eq(*gpa(MiB(1)), 0xcc);
}

/* Every header field, the entry point included, is checked before anything is copied. */
Test(elf, nothing_is_copied_when_the_entry_point_is_bad)
{
	entry_outside();
	cr_assert_eq(load(), -EINVAL);
	cr_expect_eq(*gpa(MiB(1)), 0xcc, "segment A copied before e_entry was checked");
	cr_expect_eq(*gpa(MiB(2)), 0xcc, "segment B copied before e_entry was checked");
}

Test(elf, pvh_note_with_4_byte_descriptor_is_chosen)
{
	uint32_t entry = 0x1000123;
	add_note(1, "GNU", 4, "abcd", 4);
	add_note(XEN_ELFNOTE_PHYS32_ENTRY, "Xen", 4, &entry, 4);
	cr_assert_eq(load(), 0, "%s", why ? why : "");
	cr_expect_eq(ki.mode, ENTRY_PVH);
	cr_expect_eq(ki.entry, 0x1000123, "the note's entry, not e_entry");
}

Test(elf, pvh_note_with_8_byte_descriptor_is_chosen)
{
	uint64_t entry = 0x1000456;
	add_note(XEN_ELFNOTE_PHYS32_ENTRY, "Xen", 4, &entry, 8);
	cr_assert_eq(load(), 0, "%s", why ? why : "");
	cr_expect_eq(ki.mode, ENTRY_PVH);
	cr_expect_eq(ki.entry, 0x1000456);
}

Test(elf, pvh_entry_outside_ram_is_rejected)
{
	uint32_t entry = 0xf0000000;
	add_note(XEN_ELFNOTE_PHYS32_ENTRY, "Xen", 4, &entry, 4);
	cr_expect_eq(load(), -EINVAL);
	cr_expect(why && strstr(why, "PVH"), "why '%s'", why ? why : "(null)");
}

Test(elf, notes_that_are_not_pvh_entries_are_ignored)
{
	uint32_t entry = 0x1000123;
	uint16_t short_desc = 0x1234;
	add_note(XEN_ELFNOTE_PHYS32_ENTRY, "GNU", 4, &entry, 4);      /* other owner */
	add_note(XEN_ELFNOTE_PHYS32_ENTRY + 1, "Xen", 4, &entry, 4);  /* other type */
	add_note(XEN_ELFNOTE_PHYS32_ENTRY, "Xen", 4, &short_desc, 2); /* odd size */
	add_note(XEN_ELFNOTE_PHYS32_ENTRY, "Xenx", 5, &entry, 4);     /* longer name */
	cr_assert_eq(load(), 0, "%s", why ? why : "");
	cr_expect_eq(ki.mode, ENTRY_LINUX64);
	cr_expect_eq(ki.entry, ENTRY);
}

Test(elf, malformed_notes_are_ignored_safely)
{
	static const struct {
		uint32_t namesz, descsz, filesz_cut;
		const char *what;
	} cases[] = {
		{ 0xffffffff, 4, 0, "huge name size" },
		{ 4, 0xfffffffd, 0, "huge descriptor size" },
		{ 4, 4, 4, "descriptor cut by the segment end" },
		{ 4, 4, 14, "header cut by the segment end" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t entry = 0x1000123;
		build();
		add_note(XEN_ELFNOTE_PHYS32_ENTRY, "Xen", 4, &entry, 4);
		Elf64_Nhdr *n = (Elf64_Nhdr *)(img + NOTE_OFF);
		n->n_namesz = cases[i].namesz;
		n->n_descsz = cases[i].descsz;
		if (cases[i].filesz_cut)
			ph(2)->p_filesz -= cases[i].filesz_cut;
		cr_expect_eq(load(), 0, "case %zu (%s): %s", i, cases[i].what, why ? why : "");
		cr_expect_eq(ki.mode, ENTRY_LINUX64, "case %zu (%s)", i, cases[i].what);
	}
}

Test(elf, pvh_note_after_a_malformed_one_in_another_segment_is_found)
{
	/* A first PT_NOTE with a broken note, the PVH note in a second one. */
	uint32_t entry = 0x1000789;
	eh()->e_phnum = 4;
	*ph(3) = *ph(2);
	add_note(XEN_ELFNOTE_PHYS32_ENTRY, "Xen", 4, &entry, 4);
	ph(3)->p_offset = NOTE_OFF;
	ph(3)->p_filesz = ph(2)->p_filesz;
	ph(2)->p_offset = NOTE_OFF + 0x100;
	memset(img + NOTE_OFF + 0x100, 0xff, 16); /* namesz = descsz = 0xffffffff */
	ph(2)->p_filesz = 16;
	cr_assert_eq(load(), 0, "%s", why ? why : "");
	cr_expect_eq(ki.mode, ENTRY_PVH);
	cr_expect_eq(ki.entry, 0x1000789);
}

Test(elf, unaligned_program_header_table_is_handled_without_ub)
{
	memmove(img + 65, img + 64, 3 * sizeof(Elf64_Phdr));
	eh()->e_phoff = 65;
	int r = load();
	cr_expect(r == 0 || r == -EINVAL, "either load it or reject it, got %d", r);
}

Test(elf, unaligned_note_segment_is_handled_without_ub)
{
	uint32_t entry = 0x1000123;
	add_note(XEN_ELFNOTE_PHYS32_ENTRY, "Xen", 4, &entry, 4);
	memmove(img + NOTE_OFF + 1, img + NOTE_OFF, ph(2)->p_filesz);
	ph(2)->p_offset = NOTE_OFF + 1;
	int r = load();
	cr_expect(r == 0 || r == -EINVAL, "either load it or reject it, got %d", r);
}

Test(elf, a_linux_note_marks_a_linux_kernel)
{
	uint32_t zero = 0;
	cr_assert_eq(load(), 0, "%s", why ? why : "");
	cr_expect(!ki.is_linux, "no notes: not Linux (a test guest keeps the MP table)");
	add_note(1, "GNU", 4, "abcd", 4);
	add_note(0x100, "Linu", 5, &zero, 4); /* not quite */
	cr_assert_eq(load(), 0, "%s", why ? why : "");
	cr_expect(!ki.is_linux);
	add_note(0x100, "Linux", 6, &zero, 4);
	cr_assert_eq(load(), 0, "%s", why ? why : "");
	cr_expect(ki.is_linux);
}
