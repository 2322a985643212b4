/*
 * The kernel image loaders as kernel_load_file() runs them on a mapped file
 * (vmm/x86/loader.c): an ELF vmlinux with its PVH note (vmm/x86/elf.c), a
 * bzImage if it is no ELF (vmm/x86/bzimage.c), into guest RAM without KVM.
 * Then, for an image that loaded, what the builder does with what the loader
 * reported (monitor/builder.c write_boot_data): the command line, an initrd
 * placed where the image allows it, e820, the MP table, the zero page with the
 * image's setup header or the PVH start info, page tables and GDT.
 * The input is the image.
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../lib/err.h"
#include "../../lib/log.h"
#include "../../vmm/x86/bootparam.h"
#include "../../vmm/x86/kernel.h"
#include "../../vmm/x86/layout.h"
#include "../../vmm/x86/mptable.h"
#include "../../vmm/x86/pagetable.h"
#include "fuzz.h"

#define RAM_SIZE    (16u << 20)
#define INITRD_SIZE 8192

static struct guest_mem mem;
static char initrd_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static uint8_t initrd[INITRD_SIZE];
	(void)argc;
	(void)argv;
	log_set_level(LOG_OFF);
	FUZZ_CHECK(!guest_mem_init(&mem, RAM_SIZE, MEM_ANON, -1, false), "guest RAM");
	int fd = memfd_create("fuzz-initrd", MFD_CLOEXEC);
	memset(initrd, 0x5a, sizeof(initrd));
	FUZZ_CHECK(fd >= 0 && write(fd, initrd, sizeof(initrd)) == (ssize_t)sizeof(initrd),
		   "the initrd file");
	snprintf(initrd_path, sizeof(initrd_path), "/proc/self/fd/%d", fd);
	return 0;
}

/* What the loader reported lies inside guest RAM and within its own limits. */
static void check_info(const struct kernel_info *ki)
{
	FUZZ_CHECK(gpa_to_hva(&mem, ki->entry, 1), "entry %#llx", (unsigned long long)ki->entry);
	FUZZ_CHECK(ki->load_end >= HIMEM_START && ki->load_end <= mem.size, "load_end %#llx",
		   (unsigned long long)ki->load_end);
	FUZZ_CHECK(ki->cmdline_max >= 1 && ki->cmdline_max <= CMDLINE_MAX_SIZE, "cmdline_max %u",
		   ki->cmdline_max);
	FUZZ_CHECK(ki->initrd_max <= guest_mem_low_end(&mem), "initrd_max %#llx",
		   (unsigned long long)ki->initrd_max);
}

static void boot_data(const struct kernel_info *ki)
{
	static const char cmdline[] = "console=ttyS0 reboot=k panic=1 pci=off";
	struct boot_info bi = { .cmdline_addr = CMDLINE_START };
	struct e820_map map;
	struct err e = { 0 };
	uint64_t gdt[4];

	if (sizeof(cmdline) <= ki->cmdline_max) {
		memcpy(gpa_to_hva(&mem, CMDLINE_START, sizeof(cmdline)), cmdline, sizeof(cmdline));
		bi.cmdline_size = sizeof(cmdline);
	}
	int r = initrd_load_file(initrd_path, &mem, ki, &bi.initrd_addr, &bi.initrd_size, &e);
	if (!r) {
		FUZZ_CHECK(bi.initrd_addr >= ki->load_end &&
			       bi.initrd_addr + bi.initrd_size <= ki->initrd_max,
			   "initrd at %#llx", (unsigned long long)bi.initrd_addr);
	} else {
		FUZZ_CHECK(r == -EFBIG && e.msg[0], "initrd: %d %s", r, e.msg);
		bi.initrd_addr = bi.initrd_size = 0;
	}
	if (ki->is_bzimage)
		bi.hdr = &ki->hdr;
	e820_build(&mem, &map);
	FUZZ_CHECK(!mptable_write(&mem, 1), "MP table");
	if (ki->mode == ENTRY_PVH) {
		FUZZ_CHECK(!pvh_info_write(&mem, &bi, &map), "PVH start info");
	} else {
		FUZZ_CHECK(!bootparams_write(&mem, &bi, &map), "zero page");
		FUZZ_CHECK(!pagetables_write(&mem), "page tables");
	}
	FUZZ_CHECK(!gdt_write(&mem, ki->mode == ENTRY_LINUX64, gdt), "GDT");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kernel_info ki;
	const char *why = NULL;
	void *img;

	/* A mapped file starts on a page; its end is where ASan watches. */
	if (!size || posix_memalign(&img, 4096, size))
		return 0;
	memcpy(img, data, size);
	int r = elf_load(img, size, &mem, &ki, &why);
	if (r == -ENOEXEC)
		r = bzimage_load(img, size, &mem, &ki, &why);
	free(img);
	FUZZ_CHECK(r == 0 || r == -ENOEXEC || r == -EFBIG || (r == -EINVAL && why), "%d %s", r,
		   why ? why : "(no reason)");
	if (r)
		return 0;
	check_info(&ki);
	boot_data(&ki);
	return 0;
}
