/* Kernel and initrd files into guest RAM. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/err.h"
#include "../../lib/log.h"
#include "../../lib/util.h"
#include "kernel.h"
#include "layout.h"

struct mapped_file {
	uint8_t *p;
	size_t len;
};

static int map_file(const char *what, const char *path, struct mapped_file *f, struct err *e)
{
	struct stat st;
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, -errno, "%s %s: %s", what, path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return err_inval(e, "%s %s: not a regular file", what, path);
	if (st.st_size == 0)
		return err_inval(e, "%s %s: file is empty", what, path);
	f->len = (size_t)st.st_size;
	f->p = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (f->p == MAP_FAILED)
		return err_set(e, -errno, "%s %s: mmap: %s", what, path, strerror(errno));
	return 0;
}

int kernel_load_file(const char *path, struct guest_mem *m, struct kernel_info *ki, struct err *e)
{
	struct mapped_file f;
	const char *why = NULL;
	int r = map_file("kernel", path, &f, e);
	if (r)
		return r;

	r = elf_load(f.p, f.len, m, ki, &why);
	if (r == -ENOEXEC)
		r = bzimage_load(f.p, f.len, m, ki, &why);
	munmap(f.p, f.len);

	switch (r) {
	case 0:
		log_debug("kernel %s: %s, %s entry at %#llx", path,
			  ki->is_bzimage ? "bzImage" : "ELF",
			  ki->mode == ENTRY_PVH ? "PVH" : "64-bit", (unsigned long long)ki->entry);
		break;
	case -ENOEXEC:
		err_set(
		    e, r,
		    "kernel %s: not a kernel image (neither an x86-64 ELF vmlinux nor a bzImage)",
		    path);
		break;
	case -EFBIG:
		err_set(e, r, "kernel %s: does not fit in guest RAM (%llu MiB); raise mem_size_mib",
			path, (unsigned long long)(m->size >> 20));
		break;
	default: err_set(e, r, "kernel %s: %s", path, why ? why : strerror(-r));
	}
	return r;
}

int initrd_load_file(const char *path, struct guest_mem *m, const struct kernel_info *ki,
		     uint64_t *addr, uint64_t *size, struct err *e)
{
	struct mapped_file f;
	int r = map_file("initrd", path, &f, e);
	if (r)
		return r;

	uint64_t top = ALIGN_DOWN(ki->initrd_max, 4096);
	uint64_t start = top >= f.len ? ALIGN_DOWN(top - f.len, 4096) : 0;
	if (top < f.len || start < ki->load_end) {
		munmap(f.p, f.len);
		return err_set(e, -EFBIG,
			       "initrd %s: %zu bytes do not fit between the kernel and %#llx; "
			       "raise mem_size_mib",
			       path, f.len, (unsigned long long)top);
	}
	memcpy(gpa_to_hva(m, start, f.len), f.p, f.len);
	munmap(f.p, f.len);
	*addr = start;
	*size = f.len;
	return 0;
}
