#include <elf.h>
#include <errno.h>
#include <string.h>

#include "../../lib/util.h"
#include "kernel.h"
#include "layout.h"
#include "pvh.h"

#define EINVAL_WHY(msg)         \
	do {                    \
		*why = (msg);   \
		return -EINVAL; \
	} while (0)

/* One PT_NOTE segment: Xen's PHYS32_ENTRY note (the PVH entry), and whether
 * any note is Linux's own ("Linux" owner: build salt, ...). */
static void scan_notes(const uint8_t *p, uint64_t len, bool *has_pvh, uint64_t *entry,
		       bool *linux_note)
{
	uint64_t off = 0;
	while (len - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh; /* copied: a note segment may sit at any file offset */
		const Elf64_Nhdr *n = &nh;
		memcpy(&nh, p + off, sizeof(nh));
		uint64_t name_off = off + sizeof(*n);
		uint64_t desc_off = name_off + ALIGN_UP((uint64_t)n->n_namesz, 4);
		uint64_t next = desc_off + ALIGN_UP((uint64_t)n->n_descsz, 4);
		if (desc_off > len || next > len || next <= off)
			return;
		if (n->n_namesz == 6 && !memcmp(p + name_off, "Linux", 6))
			*linux_note = true;
		if (!*has_pvh && n->n_type == XEN_ELFNOTE_PHYS32_ENTRY && n->n_namesz == 4 &&
		    !memcmp(p + name_off, "Xen", 4) && (n->n_descsz == 4 || n->n_descsz == 8)) {
			uint64_t v = 0;
			memcpy(&v, p + desc_off, n->n_descsz); /* little-endian */
			*entry = v;
			*has_pvh = true;
		}
		off = next;
	}
}

int elf_load(const uint8_t *img, size_t len, struct guest_mem *m, struct kernel_info *ki,
	     const char **why)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;

	*why = NULL;
	if (len < SELFMAG || memcmp(img, ELFMAG, SELFMAG))
		return -ENOEXEC;
	if (len < sizeof(*eh))
		EINVAL_WHY("ELF header truncated");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB)
		EINVAL_WHY("not a 64-bit little-endian ELF");
	if (eh->e_machine != EM_X86_64)
		EINVAL_WHY("ELF machine is not x86-64");
	if (eh->e_type != ET_EXEC)
		EINVAL_WHY("ELF is not an executable (ET_EXEC)");
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 || eh->e_phnum > 64)
		EINVAL_WHY("ELF program header table is malformed");
	uint64_t ph_end;
	if (add_overflows(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), &ph_end) ||
	    ph_end > len)
		EINVAL_WHY("ELF program headers lie past the end of the file (truncated?)");

	if (eh->e_phoff % 8)
		EINVAL_WHY("ELF program header table is misaligned");
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(img + eh->e_phoff);
	uint64_t load_end = 0, pvh_entry = 0;
	bool has_pvh = false, linux_note = false;
	int loads = 0;

	/* Validate every segment before copying any. */
	for (int i = 0; i < eh->e_phnum; i++) {
		uint64_t file_end, mem_end;
		if (add_overflows(ph[i].p_offset, ph[i].p_filesz, &file_end) || file_end > len)
			EINVAL_WHY("ELF segment lies past the end of the file (truncated?)");
		if (ph[i].p_type == PT_NOTE)
			scan_notes(img + ph[i].p_offset, ph[i].p_filesz, &has_pvh, &pvh_entry,
				   &linux_note);
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (ph[i].p_filesz > ph[i].p_memsz)
			EINVAL_WHY("ELF segment file size exceeds its memory size");
		if (add_overflows(ph[i].p_paddr, ph[i].p_memsz, &mem_end))
			EINVAL_WHY("ELF segment address overflows");
		if (ph[i].p_paddr < HIMEM_START)
			EINVAL_WHY("ELF segment below 1 MiB would overwrite boot structures");
		if (!gpa_to_hva(m, ph[i].p_paddr, ph[i].p_memsz))
			return -EFBIG;
		load_end = MAX(load_end, mem_end);
		loads++;
	}
	if (!loads)
		EINVAL_WHY("ELF has no loadable segment");

	uint64_t entry = has_pvh ? pvh_entry : eh->e_entry;
	if (!gpa_to_hva(m, entry, 1))
		EINVAL_WHY(has_pvh ? "PVH entry point is outside guest RAM"
				   : "ELF entry point is outside guest RAM");

	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		uint8_t *dst = gpa_to_hva(m, ph[i].p_paddr, ph[i].p_memsz);
		memcpy(dst, img + ph[i].p_offset, ph[i].p_filesz);
		memset(dst + ph[i].p_filesz, 0, ph[i].p_memsz - ph[i].p_filesz);
	}

	memset(ki, 0, sizeof(*ki));
	ki->mode = has_pvh ? ENTRY_PVH : ENTRY_LINUX64;
	ki->entry = entry;
	ki->is_linux = linux_note;
	ki->load_end = load_end;
	ki->initrd_max = guest_mem_low_end(m);
	ki->cmdline_max = 2048; /* x86 COMMAND_LINE_SIZE */
	return 0;
}
