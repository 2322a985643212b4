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

/* The file mapped for its headers, and open for reading its bulk. */
struct mapped_file {
	uint8_t *p;
	size_t len;
	int fd;
};

int image_copy(const uint8_t *img, int fd, uint64_t off, void *dst, size_t n)
{
	if (fd < 0) {
		memcpy(dst, img + off, n);
		return 0;
	}
	for (size_t done = 0; done < n;) {
		ssize_t r = pread(fd, (uint8_t *)dst + done, n - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EINVAL;
		done += (size_t)r;
	}
	return 0;
}

static int map_file(const char *what, const char *path, struct mapped_file *f, struct err *e)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, -errno, "%s %s: %s", what, path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_inval(e, "%s %s: not a regular file", what, path);
	}
	if (st.st_size == 0) {
		close(fd);
		return err_inval(e, "%s %s: file is empty", what, path);
	}
	f->len = (size_t)st.st_size;
	f->p = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (f->p == MAP_FAILED) {
		int err = errno;
		close(fd);
		return err_set(e, -err, "%s %s: mmap: %s", what, path, strerror(err));
	}
	f->fd = fd;
	return 0;
}

static void unmap_file(struct mapped_file *f)
{
	munmap(f->p, f->len);
	close(f->fd);
}

int kernel_load_file(const char *path, struct guest_mem *m, struct kernel_info *ki, struct err *e)
{
	struct mapped_file f;
	const char *why = NULL;
	int r = map_file("kernel", path, &f, e);
	if (r)
		return r;

	r = elf_load(f.p, f.len, f.fd, m, ki, &why);
	if (r == -ENOEXEC)
		r = bzimage_load(f.p, f.len, f.fd, m, ki, &why);
	unmap_file(&f);

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
		unmap_file(&f);
		return err_set(e, -EFBIG,
			       "initrd %s: %zu bytes do not fit between the kernel and %#llx; "
			       "raise mem_size_mib",
			       path, f.len, (unsigned long long)top);
	}
	r = image_copy(f.p, f.fd, 0, gpa_to_hva(m, start, f.len), f.len);
	unmap_file(&f);
	if (r)
		return err_set(e, r, "initrd %s: %s", path,
			       r == -EINVAL ? "the file changed while loading" : strerror(-r));
	*addr = start;
	*size = f.len;
	return 0;
}
