/* Kernel image loaders: ELF vmlinux (PVH or 64-bit entry) and bzImage. */
#ifndef MVM_X86_KERNEL_H
#define MVM_X86_KERNEL_H

#include <asm/bootparam.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../memory.h"

enum boot_entry { ENTRY_LINUX64, ENTRY_PVH };

struct kernel_info {
	enum boot_entry mode;
	uint64_t entry;	   /* guest-physical address of the first instruction */
	uint64_t load_end; /* first byte after everything the image occupies */
	bool is_bzimage;
	bool is_linux;		 /* a bzImage, or an ELF with Linux's notes: ACPI by default */
	struct setup_header hdr; /* bzImage: the image's setup header */
	uint64_t initrd_max;	 /* highest address the initrd may end at (exclusive) */
	uint32_t cmdline_max;	 /* bytes including the NUL */
};

/*
 * Parsers over an image in memory. They validate every header field before
 * they copy anything and return -ENOEXEC (not this format), -EINVAL (broken
 * or truncated image, *why says which part), -EFBIG (does not fit in RAM).
 */
int elf_load(const uint8_t *img, size_t len, struct guest_mem *m, struct kernel_info *ki,
	     const char **why);
int bzimage_load(const uint8_t *img, size_t len, struct guest_mem *m, struct kernel_info *ki,
		 const char **why);

struct err;
/* Open, map and load the kernel at `path`; on failure a sentence naming the file. */
int kernel_load_file(const char *path, struct guest_mem *m, struct kernel_info *ki, struct err *e);
/* Load an initrd at the top of allowed low RAM. */
int initrd_load_file(const char *path, struct guest_mem *m, const struct kernel_info *ki,
		     uint64_t *addr, uint64_t *size, struct err *e);

#endif
