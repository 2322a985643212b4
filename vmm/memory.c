#include "memory.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../lib/util.h"
#include "x86/layout.h"

/* linux/memfd.h's, without its clash with glibc's MFD_* (log2(2 MiB) << 26). */
#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21U << 26)
#endif

int guest_mem_layout(uint64_t size, struct guest_region r[GUEST_MEM_MAX_REGIONS])
{
	memset(r, 0, sizeof(*r) * GUEST_MEM_MAX_REGIONS);
	r[0].gpa = 0;
	r[0].size = MIN(size, MMIO32_START);
	r[0].file_off = 0;
	if (size <= MMIO32_START)
		return 1;
	r[1].gpa = RAM_HIGH_START;
	r[1].size = size - MMIO32_START;
	r[1].file_off = MMIO32_START;
	return 2;
}

static int map_region(struct guest_mem *m, struct guest_region *r, enum mem_backing backing)
{
	int prot = PROT_READ | PROT_WRITE;
	/* hugetlbfs: no MAP_NORESERVE, so a pool too small fails here (ENOMEM)
	 * rather than with a SIGBUS when the guest touches a page. */
	int flags = backing == MEM_HUGETLB ? 0 : MAP_NORESERVE;
	int fd = -1;
	off_t off = 0;

	switch (backing) {
	case MEM_ANON: flags |= MAP_PRIVATE | MAP_ANONYMOUS; break;
	case MEM_MEMFD:
	case MEM_HUGETLB:
		flags |= MAP_SHARED;
		fd = m->fd;
		off = (off_t)r->file_off;
		break;
	case MEM_FILE_PRIVATE:
		flags |= MAP_PRIVATE;
		fd = m->fd;
		off = (off_t)r->file_off;
		break;
	}
	void *p = mmap(NULL, r->size, prot, flags, fd, off);
	if (p == MAP_FAILED)
		return -errno;
	/* THP where asked; a guest with no huge pages still works. */
	if (m->hugepages && backing == MEM_ANON)
		madvise(p, r->size, MADV_HUGEPAGE);
	/* Guest RAM never belongs in a core dump of the monitor. */
	madvise(p, r->size, MADV_DONTDUMP);
	/* Named in /proc/PID/smaps, so the monitor's own memory can be told apart. */
	if (backing == MEM_ANON)
		prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)p, r->size,
		      (unsigned long)"mvm-guest-ram");
	r->hva = p;
	return 0;
}

int guest_mem_init(struct guest_mem *m, uint64_t size, enum mem_backing backing, int file_fd,
		   bool hugepages)
{
	int err;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (size == 0 || size % 4096 || (backing == MEM_HUGETLB && size % HUGE_PAGE_2M))
		return -EINVAL;
	m->size = size;
	m->hugepages = hugepages;
	m->backing = backing;
	m->nr = guest_mem_layout(size, m->r);

	if (backing == MEM_MEMFD || backing == MEM_HUGETLB) {
		unsigned huge = backing == MEM_HUGETLB ? MFD_HUGETLB | MFD_HUGE_2MB : 0;
		m->fd = memfd_create("guest-ram", MFD_CLOEXEC | huge);
		if (m->fd < 0)
			return -errno;
		if (ftruncate(m->fd, (off_t)size) < 0) {
			err = -errno;
			goto fail;
		}
	} else if (backing == MEM_FILE_PRIVATE) {
		m->fd = file_fd;
	}
	for (int i = 0; i < m->nr; i++) {
		err = map_region(m, &m->r[i], backing);
		if (err)
			goto fail;
	}
	m->owned = true;
	return 0;
fail:
	m->owned = true;
	guest_mem_fini(m);
	return err;
}

void guest_mem_fini(struct guest_mem *m)
{
	if (!m->owned)
		return;
	for (int i = 0; i < m->nr; i++) {
		if (m->r[i].hva)
			munmap(m->r[i].hva, m->r[i].size);
		m->r[i].hva = NULL;
	}
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	m->owned = false;
	for (int i = 0; i < GUEST_MEM_MAX_REGIONS; i++) {
		free(m->dirty[i]);
		m->dirty[i] = NULL;
	}
}

int guest_mem_track_dirty(struct guest_mem *m)
{
	for (int i = 0; i < m->nr; i++) {
		if (m->dirty[i])
			continue;
		m->dirty[i] = calloc((m->r[i].size / 4096 + 63) / 64, sizeof(uint64_t));
		if (!m->dirty[i])
			return -ENOMEM;
	}
	return 0;
}

uint64_t guest_mem_low_end(const struct guest_mem *m)
{
	return m->r[0].gpa + m->r[0].size;
}

static int read_sys_u64(const char *path, uint64_t *v)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	int err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	buf[n] = '\0';
	char *end;
	errno = 0;
	*v = strtoull(buf, &end, 10);
	return errno || end == buf ? -EINVAL : 0;
}

#define HUGEPAGES_2M_SYS "/sys/kernel/mm/hugepages/hugepages-2048kB/"

int guest_mem_hugepages_available(uint64_t *pages)
{
	uint64_t free_pages, resv;
	int r = read_sys_u64(HUGEPAGES_2M_SYS "free_hugepages", &free_pages);
	if (!r)
		r = read_sys_u64(HUGEPAGES_2M_SYS "resv_hugepages", &resv);
	if (r)
		return r;
	*pages = free_pages > resv ? free_pages - resv : 0;
	return 0;
}
