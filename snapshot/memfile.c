#include "memfile.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "../lib/err.h"
#include "../lib/util.h"

#define PAGE MEMFILE_PAGE_SIZE

int memfile_len(const struct guest_mem *m, uint64_t *len)
{
	uint64_t end = 0;

	if (m->nr < 1 || m->nr > GUEST_MEM_MAX_REGIONS)
		return -EINVAL;
	for (int i = 0; i < m->nr; i++) {
		const struct guest_region *r = &m->r[i];
		uint64_t r_end;

		if (r->size % PAGE || r->file_off % PAGE || r->file_off < end)
			return -EINVAL;
		if (add_overflows(r->file_off, r->size, &r_end) || r_end > INT64_MAX)
			return -EINVAL;
		end = r_end;
	}
	*len = end;
	return 0;
}

/* Discard fd's content and make it len bytes of holes. */
static int reset_file(int fd, uint64_t len)
{
	if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)len) < 0)
		return neg_errno();
	return 0;
}

static bool page_is_zero(const uint8_t *p)
{
	static const uint8_t zero[PAGE];
	return !memcmp(p, zero, PAGE);
}

/*
 * Which pages of an anonymous region were ever touched: mincore() over a
 * chunk, so a full snapshot need not read (and so fault in) the rest, which
 * is zero. Exact only without swap (a swapped-out page is not resident), so
 * the caller asks only when the host has none. NULL when not usable.
 */
static uint8_t *resident_map(const struct guest_mem *m, const struct guest_region *r)
{
	struct sysinfo si;
	if (m->backing != MEM_ANON || sysinfo(&si) < 0 || si.totalswap)
		return NULL;
	uint8_t *vec = malloc(r->size / PAGE);
	if (vec && mincore(r->hva, r->size, vec) < 0) {
		free(vec);
		vec = NULL;
	}
	return vec;
}

/* Zero if never touched (vec says so) or all zero bytes. */
static bool page_empty(const uint8_t *vec, const uint8_t *base, uint64_t off)
{
	if (vec && !(vec[off / PAGE] & 1))
		return true;
	return page_is_zero(base + off);
}

int memfile_write_full(const struct guest_mem *m, int fd)
{
	uint64_t len;
	int err = memfile_len(m, &len);

	if (err)
		return err;
	err = reset_file(fd, len);
	if (err)
		return err;
	for (int i = 0; i < m->nr && !err; i++) {
		const struct guest_region *r = &m->r[i];
		uint8_t *vec = resident_map(m, r);
		uint64_t off = 0;

		while (off < r->size) {
			while (off < r->size && page_empty(vec, r->hva, off))
				off += PAGE;
			uint64_t start = off;
			while (off < r->size && off - start < MEMFILE_CHUNK &&
			       !page_empty(vec, r->hva, off))
				off += PAGE;
			if (off == start)
				continue;
			err = pwrite_full(fd, r->hva + start, off - start, r->file_off + start);
			if (err)
				break;
		}
		free(vec);
	}
	return err;
}

static bool page_dirty(const uint64_t *bitmap, uint64_t page)
{
	return (bitmap[page / 64] >> (page % 64)) & 1;
}

int memfile_write_diff(const struct guest_mem *m, const uint64_t *const bitmaps[], int fd)
{
	uint64_t len;
	int err = memfile_len(m, &len);

	if (err)
		return err;
	for (int i = 0; i < m->nr; i++)
		if (!bitmaps[i])
			return -EINVAL;
	err = reset_file(fd, len);
	if (err)
		return err;
	for (int i = 0; i < m->nr; i++) {
		const struct guest_region *r = &m->r[i];
		const uint64_t *bm = bitmaps[i];
		uint64_t pages = r->size / PAGE;
		uint64_t p = 0;

		while (p < pages) {
			if (p % 64 == 0 && !bm[p / 64]) {
				p += 64; /* a clean word: 64 clean pages */
				continue;
			}
			if (!page_dirty(bm, p)) {
				p++;
				continue;
			}
			uint64_t start = p;
			while (p < pages && (p - start) * PAGE < MEMFILE_CHUNK && page_dirty(bm, p))
				p++;
			/* Dirty zero pages too: a hole in a diff means "unchanged". */
			err = pwrite_full(fd, r->hva + start * PAGE, (p - start) * PAGE,
					  r->file_off + start * PAGE);
			if (err)
				return err;
		}
	}
	return 0;
}

struct copier {
	bool no_kernel_copy; /* copy_file_range refused this pair of files */
	uint8_t *buf;	     /* MEMFILE_CHUNK bytes for pread/pwrite, on first use */
};

/* Copy [off, off + len) of in to the same offset of out. */
static int copy_range(int in, int out, uint64_t off, uint64_t len, struct copier *c)
{
	loff_t in_off = (loff_t)off, out_off = (loff_t)off;

	/* In-kernel copy (or reflink) first; fall back when the pair cannot. */
	while (len && !c->no_kernel_copy) {
		ssize_t n = copy_file_range(in, &in_off, out, &out_off, MIN(len, MEMFILE_CHUNK), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
		    errno != EOPNOTSUPP)
			return -errno;
		if (n <= 0) {
			c->no_kernel_copy = true;
			break;
		}
		len -= (uint64_t)n;
	}
	off = (uint64_t)in_off;
	while (len) {
		size_t n = MIN(len, MEMFILE_CHUNK);
		int err;

		if (!c->buf) {
			c->buf = malloc(MEMFILE_CHUNK);
			if (!c->buf)
				return -ENOMEM;
		}
		err = read_full(in, c->buf, n, off);
		if (!err)
			err = pwrite_full(out, c->buf, n, off);
		if (err)
			return err;
		off += n;
		len -= n;
	}
	return 0;
}

int memfile_merge_diff(int base_fd, int diff_fd)
{
	struct copier c = { 0 };
	struct stat base, diff;
	off_t off = 0;
	int err = 0;

	if (fstat(base_fd, &base) < 0 || fstat(diff_fd, &diff) < 0)
		return neg_errno();
	if (!S_ISREG(base.st_mode) || !S_ISREG(diff.st_mode) || base.st_size != diff.st_size)
		return -EINVAL;
	while (!err && off < diff.st_size) {
		off_t data = lseek(diff_fd, off, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break; /* only holes left */
		off_t hole = data < 0 ? -1 : lseek(diff_fd, data, SEEK_HOLE);
		if (hole < 0) {
			err = neg_errno();
			break;
		}
		err = copy_range(diff_fd, base_fd, (uint64_t)data, (uint64_t)(hole - data), &c);
		off = hole;
	}
	free(c.buf);
	return err;
}

/* "64 MiB", "12 KiB" or "4097 bytes". */
static void format_size(char *buf, size_t len, uint64_t v)
{
	if (v && v % MiB(1) == 0)
		snprintf(buf, len, "%llu MiB", (unsigned long long)(v >> 20));
	else if (v && v % KiB(1) == 0)
		snprintf(buf, len, "%llu KiB", (unsigned long long)(v >> 10));
	else
		snprintf(buf, len, "%llu bytes", (unsigned long long)v);
}

int memfile_check(int fd, const char *name, uint64_t ram_size, struct err *e)
{
	char have[32], want[32];
	struct stat st;
	int ret = 0;

	if (fstat(fd, &st) < 0) {
		ret = neg_errno();
		err_msg(e, "memory file%s%s: fstat: %s", name ? " " : "", name ? name : "",
			strerror(-ret));
	} else if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		err_msg(e, "memory file%s%s is not a regular file", name ? " " : "",
			name ? name : "");
	} else if ((uint64_t)st.st_size < ram_size) {
		ret = -EINVAL;
		format_size(have, sizeof(have), (uint64_t)st.st_size);
		format_size(want, sizeof(want), ram_size);
		err_msg(e, "memory file%s%s is %s, the snapshot's RAM is %s", name ? " " : "",
			name ? name : "", have, want);
	}
	return ret;
}
