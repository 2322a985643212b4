/*
 * mvm-jailer: the 'check_exec' step. An exec that fails after the uid change
 * cannot be cleaned up (no privileges are left to do it), so what would make
 * it fail is checked while we are still root: a dynamically linked monitor
 * whose program interpreter (ld.so) is not in the jail, or a script whose
 * interpreter is not. A statically linked monitor needs nothing.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../lib/util.h"
#include "jail.h"

/* The interpreter named by a PT_INTERP header or a "#!" line, "" if none. */
static int find_interp(int fd, char *out, size_t len)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	ssize_t n;
	char *end;

	out[0] = '\0';
	n = pread(fd, out, len - 1, 0);
	if (n < 0)
		return neg_errno();
	out[n] = '\0';
	if (n >= 2 && !memcmp(out, "#!", 2)) {
		out[strcspn(out, "\n")] = '\0';
		memmove(out, out + 2 + strspn(out + 2, " \t"), strlen(out + 2) + 1);
		out[strcspn(out, " \t")] = '\0';
		return 0;
	}
	if ((size_t)n < sizeof(eh)) {
		out[0] = '\0';
		return 0; /* too short for ELF: the kernel will say what it is */
	}
	memcpy(&eh, out, sizeof(eh));
	out[0] = '\0';
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(ph))
		return 0;
	for (unsigned int i = 0; i < eh.e_phnum && i < 128; i++) {
		if (read_full(fd, &ph, sizeof(ph), eh.e_phoff + (uint64_t)i * sizeof(ph)))
			return -ENOEXEC;
		if (ph.p_type != PT_INTERP)
			continue;
		if (ph.p_filesz == 0 || ph.p_filesz >= len ||
		    read_full(fd, out, ph.p_filesz, ph.p_offset))
			return -ENOEXEC;
		out[ph.p_filesz] = '\0';
		end = memchr(out, '\0', ph.p_filesz);
		return end && out[0] == '/' ? 0 : -ENOEXEC;
	}
	return 0;
}

int jail_check_interp(struct jail *j)
{
	char path[NAME_MAX + 2], interp[PATH_MAX];
	cleanup_close int fd = -1;
	int r;

	snprintf(path, sizeof(path), "/%s", j->exec_name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return jail_errno(j, "open %s (in the jail)", path);
	if ((r = find_interp(fd, interp, sizeof(interp))))
		return jail_err(j, r, "%s: a malformed ELF program header", j->exec_path);
	if (!interp[0] || !access(interp, F_OK))
		return 0;
	return jail_err(j, -ENOENT,
			"%s needs the interpreter %s, which is not in the jail: link it "
			"statically, or put the interpreter (and its libraries) in %s",
			j->exec_path, interp, j->root_dir);
}
