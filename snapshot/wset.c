/* The working-set list's codec (wset.h): everything here is pure but wset_load. */
#include "wset.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/err.h"
#include "../lib/util.h"
#include "crc64.h"

/* Header field offsets (see wset.h). */
#define H_VERSION 8
#define H_PAGE	  12
#define H_RAM	  16
#define H_GEN	  24
#define H_NR	  40
#define H_MS	  44
#define H_PAGES	  48
#define H_CRC	  56

/* A list for 4 TiB of RAM in single pages still fits; anything longer is garbage. */
#define WSET_MAX_FILE ((size_t)1 << 30)

void wset_fini(struct wset *w)
{
	free(w->runs);
	memset(w, 0, sizeof(*w));
}

int wset_path(const char *snapshot_path, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s%s", snapshot_path, WSET_SUFFIX);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int wset_add(struct wset *w, uint64_t page, uint64_t count)
{
	if (!count)
		return 0;
	if (w->nr) {
		struct wset_run *last = &w->runs[w->nr - 1];
		if (last->page + last->count == page) {
			last->count += count;
			w->pages += count;
			return 0;
		}
	}
	/* Grow by doubling: nr is a power of two whenever the array is full. */
	if ((w->nr & (w->nr - 1)) == 0) {
		size_t cap = w->nr ? (size_t)w->nr * 2 : 16;
		if (w->nr == UINT32_MAX)
			return -E2BIG;
		struct wset_run *n = realloc(w->runs, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		w->runs = n;
	}
	w->runs[w->nr++] = (struct wset_run){ page, count };
	w->pages += count;
	return 0;
}

int wset_encode(const struct wset *w, uint8_t **out, size_t *len)
{
	size_t n = WSET_HEADER_SIZE + (size_t)w->nr * WSET_RUN_SIZE;
	uint8_t *b = calloc(1, n);
	if (!b)
		return -ENOMEM;
	memcpy(b, WSET_MAGIC, 8);
	le_put(b + H_VERSION, WSET_VERSION, 4);
	le_put(b + H_PAGE, WSET_PAGE, 4);
	le_put(b + H_RAM, w->ram_len, 8);
	memcpy(b + H_GEN, w->gen, 16);
	le_put(b + H_NR, w->nr, 4);
	le_put(b + H_MS, w->record_ms, 4);
	le_put(b + H_PAGES, w->pages, 8);
	for (uint32_t i = 0; i < w->nr; i++) {
		le_put(b + WSET_HEADER_SIZE + i * WSET_RUN_SIZE, w->runs[i].page, 8);
		le_put(b + WSET_HEADER_SIZE + i * WSET_RUN_SIZE + 8, w->runs[i].count, 8);
	}
	uint64_t crc = crc64(0, b, H_CRC);
	le_put(b + H_CRC, crc64(crc, b + WSET_HEADER_SIZE, n - WSET_HEADER_SIZE), 8);
	*out = b;
	*len = n;
	return 0;
}

int wset_decode(const uint8_t *buf, size_t len, const uint8_t gen[16], uint64_t ram_len,
		struct wset *w, struct err *e)
{
	memset(w, 0, sizeof(*w));
	if (len < WSET_HEADER_SIZE)
		return err_inval(e, "%zu bytes, shorter than its %d-byte header", len,
				 WSET_HEADER_SIZE);
	if (memcmp(buf, WSET_MAGIC, 8))
		return err_inval(e, "not a working-set list (bad magic)");
	if (le_get(buf + H_VERSION, 4) != WSET_VERSION || le_get(buf + H_PAGE, 4) != WSET_PAGE)
		return err_inval(e,
				 "version %llu with %llu-byte pages (this mvm reads version %d, "
				 "%u-byte pages)",
				 (unsigned long long)le_get(buf + H_VERSION, 4),
				 (unsigned long long)le_get(buf + H_PAGE, 4), WSET_VERSION,
				 WSET_PAGE);
	uint64_t nr = le_get(buf + H_NR, 4);
	if ((len - WSET_HEADER_SIZE) / WSET_RUN_SIZE != nr ||
	    (len - WSET_HEADER_SIZE) % WSET_RUN_SIZE)
		return err_inval(e,
				 "%zu bytes, but its header says %llu runs (%llu bytes): "
				 "truncated or appended to",
				 len, (unsigned long long)nr,
				 (unsigned long long)(WSET_HEADER_SIZE + nr * WSET_RUN_SIZE));
	uint64_t crc = crc64(crc64(0, buf, H_CRC), buf + WSET_HEADER_SIZE, len - WSET_HEADER_SIZE);
	if (le_get(buf + H_CRC, 8) != crc)
		return err_inval(e, "checksum mismatch: the file is corrupt");
	if (memcmp(buf + H_GEN, gen, 16) || le_get(buf + H_RAM, 8) != ram_len)
		return err_inval(e, "recorded for another snapshot (its generation or RAM size "
				    "differs from this memory file's): stale");
	uint64_t pages = ram_len / WSET_PAGE, total = 0, end = 0;
	for (uint64_t i = 0; i < nr; i++) {
		const uint8_t *r = buf + WSET_HEADER_SIZE + i * WSET_RUN_SIZE;
		uint64_t p = le_get(r, 8), c = le_get(r + 8, 8);
		/* Runs in order, disjoint, not touching (they would be one), inside RAM. */
		if (!c || c > pages || p > pages - c || (i && p <= end))
			return err_inval(e,
					 "run %llu (page %llu, %llu pages) is empty, out of "
					 "order or past the %llu pages of RAM",
					 (unsigned long long)i, (unsigned long long)p,
					 (unsigned long long)c, (unsigned long long)pages);
		end = p + c;
		total += c;
	}
	if (total != le_get(buf + H_PAGES, 8))
		return err_inval(e, "its runs add up to %llu pages, its header says %llu",
				 (unsigned long long)total,
				 (unsigned long long)le_get(buf + H_PAGES, 8));
	if (le_get(buf + H_MS, 4) > WSET_MAX_MS)
		return err_inval(e, "a recording window of %llu ms (at most %u)",
				 (unsigned long long)le_get(buf + H_MS, 4), WSET_MAX_MS);
	w->runs = nr ? malloc(nr * sizeof(*w->runs)) : NULL;
	if (nr && !w->runs)
		return err_set(e, -ENOMEM, "out of memory for %llu runs", (unsigned long long)nr);
	for (uint64_t i = 0; i < nr; i++) {
		const uint8_t *r = buf + WSET_HEADER_SIZE + i * WSET_RUN_SIZE;
		w->runs[i] = (struct wset_run){ le_get(r, 8), le_get(r + 8, 8) };
	}
	memcpy(w->gen, gen, 16);
	w->ram_len = ram_len;
	w->nr = (uint32_t)nr;
	w->pages = total;
	w->record_ms = (uint32_t)le_get(buf + H_MS, 4);
	return 0;
}

int wset_load(const char *path, const uint8_t gen[16], uint64_t ram_len, struct wset *w,
	      struct err *e)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	cleanup_free uint8_t *buf = NULL;
	struct stat st;

	memset(w, 0, sizeof(*w));
	if (fd < 0 && errno == ENOENT)
		return -ENOENT;
	if (fd < 0 || fstat(fd, &st) < 0)
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > WSET_MAX_FILE)
		return err_inval(e, "%s: not a regular file of at most %zu bytes", path,
				 WSET_MAX_FILE);
	size_t len = (size_t)st.st_size;
	buf = malloc(len ? len : 1);
	if (!buf)
		return err_set(e, -ENOMEM, "%s: out of memory", path);
	int r = read_full(fd, buf, len, 0);
	if (r)
		return err_set(e, r, "%s: read: %s", path, strerror(-r));
	r = wset_decode(buf, len, gen, ram_len, w, e);
	return r ? err_prefix(e, "%s", path) : 0;
}
