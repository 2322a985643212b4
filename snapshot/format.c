#include "format.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/err.h"
#include "../lib/util.h"
#include "crc64.h"
#include "publish.h"

/* Header field offsets (see format.h). */
#define OFF_VERSION 8
#define OFF_ARCH    12
#define OFF_NR	    16
#define OFF_FLAGS   20
#define OFF_TOTAL   24

struct snap_section {
	uint32_t id;
	uint32_t version;
	uint64_t off; /* reader: offset in the file; writer: unused */
	uint64_t len;
	uint8_t *data; /* writer: owned copy; reader: points into buf */
};

struct snap_writer {
	struct snap_section *s;
	unsigned nr, cap;
};

struct snap_reader {
	char *name;
	uint8_t *buf;
	size_t len;
	struct snap_section *s;
	unsigned nr;
};

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Writer */

struct snap_writer *snap_writer_create(void)
{
	return calloc(1, sizeof(struct snap_writer));
}

void snap_writer_destroy(struct snap_writer *w)
{
	if (!w)
		return;
	for (unsigned i = 0; i < w->nr; i++)
		free(w->s[i].data);
	free(w->s);
	free(w);
}

int snap_writer_add(struct snap_writer *w, uint32_t id, uint32_t version, const void *data,
		    size_t len)
{
	if (len && !data)
		return -EINVAL;
	for (unsigned i = 0; i < w->nr; i++)
		if (w->s[i].id == id)
			return -EEXIST;
	if (w->nr >= SNAP_MAX_SECTIONS)
		return -E2BIG;
	if (w->nr == w->cap) {
		unsigned cap = w->cap ? 2 * w->cap : 8;
		struct snap_section *s = reallocarray(w->s, cap, sizeof(*s));
		if (!s)
			return -ENOMEM;
		w->s = s;
		w->cap = cap;
	}
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, data, len);
	w->s[w->nr++] =
	    (struct snap_section){ .id = id, .version = version, .len = len, .data = copy };
	return 0;
}

/* Offset of every payload and the total length; -EOVERFLOW if it does not fit size_t. */
static int layout(const struct snap_writer *w, uint64_t *offs, size_t *total)
{
	uint64_t off = SNAP_HEADER_SIZE + (uint64_t)w->nr * SNAP_SECTION_SIZE;

	for (unsigned i = 0; i < w->nr; i++) {
		offs[i] = off;
		if (add_overflows(off, w->s[i].len, &off) ||
		    add_overflows(off, SNAP_ALIGN - 1, &off))
			return -EOVERFLOW;
		off = ALIGN_DOWN(off, SNAP_ALIGN);
	}
	if (add_overflows(off, SNAP_CRC_SIZE, &off) || off > SIZE_MAX)
		return -EOVERFLOW;
	*total = (size_t)off;
	return 0;
}

int snap_writer_encode(const struct snap_writer *w, uint8_t **out, size_t *out_len)
{
	cleanup_free uint64_t *offs = calloc(w->nr ? w->nr : 1, sizeof(*offs));
	size_t total;
	int err;

	if (!offs)
		return -ENOMEM;
	err = layout(w, offs, &total);
	if (err)
		return err;
	uint8_t *buf = calloc(1, total);
	if (!buf)
		return -ENOMEM;

	memcpy(buf, SNAP_MAGIC, SNAP_MAGIC_LEN);
	put_le32(buf + OFF_VERSION, SNAP_FORMAT_VERSION);
	put_le32(buf + OFF_ARCH, SNAP_ARCH_X86_64);
	put_le32(buf + OFF_NR, w->nr);
	put_le32(buf + OFF_FLAGS, 0);
	put_le64(buf + OFF_TOTAL, total);
	for (unsigned i = 0; i < w->nr; i++) {
		uint8_t *e = buf + SNAP_HEADER_SIZE + (size_t)i * SNAP_SECTION_SIZE;
		put_le32(e, w->s[i].id);
		put_le32(e + 4, w->s[i].version);
		put_le64(e + 8, offs[i]);
		put_le64(e + 16, w->s[i].len);
		if (w->s[i].len)
			memcpy(buf + offs[i], w->s[i].data, w->s[i].len);
	}
	put_le64(buf + total - SNAP_CRC_SIZE, crc64(0, buf, total - SNAP_CRC_SIZE));
	*out = buf;
	*out_len = total;
	return 0;
}

int snap_writer_write_fd(const struct snap_writer *w, int fd)
{
	cleanup_free uint8_t *buf = NULL;
	size_t len;
	int err = snap_writer_encode(w, &buf, &len);

	if (err)
		return err;
	return write_full(fd, buf, len);
}

int snap_writer_write_new(const struct snap_writer *w, const char *path)
{
	cleanup_close int fd = -1;
	int err;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return neg_errno();
	err = snap_writer_write_fd(w, fd);
	if (!err && fsync(fd) < 0)
		err = neg_errno();
	if (!err && close(steal_fd(&fd)) < 0)
		err = neg_errno();
	return err;
}

int snap_writer_write_file(const struct snap_writer *w, const char *path)
{
	char tmp[PATH_MAX];
	int err = snap_tmp_path(path, tmp, sizeof(tmp));

	if (err)
		return err;
	err = snap_writer_write_new(w, tmp);
	if (!err && rename(tmp, path) < 0)
		err = neg_errno();
	if (err) {
		unlink(tmp);
		return err;
	}
	return snap_fsync_dir_of(path);
}

/* Reader */

static int fail(struct err *e, const char *name, int ret, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct err *e, const char *name, int ret, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(e, ret, "%s: %s", name, msg);
}

static const char *arch_name(uint32_t arch)
{
	switch (arch) {
	case SNAP_ARCH_X86_64: return "x86_64";
	case SNAP_ARCH_AARCH64: return "aarch64";
	default: return "unknown";
	}
}

/* The header's fixed fields: magic, version, architecture, length, CRC, flags. */
static int check_header(const struct snap_reader *r, struct err *e)
{
	const uint8_t *b = r->buf;
	const char *name = r->name;

	if (r->len < SNAP_HEADER_SIZE + SNAP_CRC_SIZE)
		return fail(e, name, -EINVAL,
			    "is %zu bytes, too short for a snapshot state file (truncated?)",
			    r->len);
	if (memcmp(b, SNAP_MAGIC, SNAP_MAGIC_LEN))
		return fail(e, name, -EINVAL, "not an mvm snapshot state file (bad magic)");

	uint32_t version = get_le32(b + OFF_VERSION);
	if (version != SNAP_FORMAT_VERSION)
		return fail(e, name, -ENOTSUP, "format version %u, this mvm reads version %u",
			    version, SNAP_FORMAT_VERSION);

	uint32_t arch = get_le32(b + OFF_ARCH);
	if (arch != SNAP_ARCH_X86_64)
		return fail(e, name, -ENOTSUP,
			    "taken on architecture %u (%s), this mvm restores %s (%u)", arch,
			    arch_name(arch), arch_name(SNAP_ARCH_X86_64), SNAP_ARCH_X86_64);

	uint64_t total = get_le64(b + OFF_TOTAL);
	if (total != r->len)
		return fail(e, name, -EINVAL,
			    "is %zu bytes, its header says %llu (truncated or corrupt)", r->len,
			    (unsigned long long)total);

	uint64_t want = get_le64(b + r->len - SNAP_CRC_SIZE);
	if (crc64(0, b, r->len - SNAP_CRC_SIZE) != want)
		return fail(e, name, -EBADMSG, "CRC mismatch (file corrupt or truncated)");

	uint32_t flags = get_le32(b + OFF_FLAGS);
	if (flags)
		return fail(e, name, -EINVAL, "unknown flags 0x%x", flags);
	return 0;
}

/* The section table: bounds, alignment, overlaps, duplicate ids. */
static int check_sections(struct snap_reader *r, struct err *e)
{
	const char *name = r->name;
	uint32_t nr = get_le32(r->buf + OFF_NR);
	uint64_t end = r->len - SNAP_CRC_SIZE; /* payloads end here */
	uint64_t start = SNAP_HEADER_SIZE + (uint64_t)nr * SNAP_SECTION_SIZE;

	if (nr > SNAP_MAX_SECTIONS)
		return fail(e, name, -EINVAL, "%u sections, at most %u are allowed", nr,
			    SNAP_MAX_SECTIONS);
	if (start > end)
		return fail(e, name, -EINVAL,
			    "section table of %u entries lies past the end of the file", nr);

	r->s = calloc(nr ? nr : 1, sizeof(*r->s));
	if (!r->s)
		return fail(e, name, -ENOMEM, "out of memory");
	for (uint32_t i = 0; i < nr; i++) {
		const uint8_t *ent = r->buf + SNAP_HEADER_SIZE + (size_t)i * SNAP_SECTION_SIZE;
		struct snap_section *s = &r->s[i];
		uint64_t s_end;

		s->id = get_le32(ent);
		s->version = get_le32(ent + 4);
		s->off = get_le64(ent + 8);
		s->len = get_le64(ent + 16);
		if (add_overflows(s->off, s->len, &s_end))
			return fail(e, name, -EINVAL,
				    "section %u: offset %#llx + length %#llx overflows", i,
				    (unsigned long long)s->off, (unsigned long long)s->len);
		if (s->off < start)
			return fail(e, name, -EINVAL,
				    "section %u overlaps the header or section table", i);
		if (s_end > end)
			return fail(e, name, -EINVAL, "section %u lies past the end of the file",
				    i);
		if (s->off % SNAP_ALIGN)
			return fail(e, name, -EINVAL, "section %u is not %u-byte aligned", i,
				    SNAP_ALIGN);
		s->data = r->buf + s->off;

		/* nr is at most SNAP_MAX_SECTIONS: quadratic is fine. */
		for (uint32_t j = 0; j < i; j++) {
			const struct snap_section *o = &r->s[j];
			if (o->id == s->id)
				return fail(e, name, -EINVAL,
					    "sections %u and %u have the same id %u", j, i, s->id);
			if (s->len && o->len && s->off < o->off + o->len &&
			    o->off < s->off + s->len)
				return fail(e, name, -EINVAL, "sections %u and %u overlap", j, i);
		}
		r->nr = i + 1;
	}
	return 0;
}

static int reader_open(int fd, const char *name, size_t max_size, struct snap_reader **out,
		       struct err *e)
{
	struct snap_reader *r;
	struct stat st;
	int ret;

	*out = NULL;
	if (!max_size)
		max_size = SNAP_STATE_MAX_DEFAULT;
	if (fstat(fd, &st) < 0) {
		ret = neg_errno();
		return fail(e, name, ret, "fstat: %s", strerror(-ret));
	}
	if (!S_ISREG(st.st_mode))
		return fail(e, name, -EINVAL, "is not a regular file");
	if ((uint64_t)st.st_size > max_size)
		return fail(e, name, -EFBIG,
			    "is %llu bytes, more than the %zu bytes a state file may have",
			    (unsigned long long)st.st_size, max_size);

	r = calloc(1, sizeof(*r));
	if (!r)
		return fail(e, name, -ENOMEM, "out of memory");
	r->len = (size_t)st.st_size;
	r->name = strdup(name);
	r->buf = malloc(r->len ? r->len : 1);
	if (!r->name || !r->buf) {
		ret = fail(e, name, -ENOMEM, "out of memory");
		goto fail;
	}
	ret = read_full(fd, r->buf, r->len, 0);
	if (ret) {
		fail(e, name, ret, "read: %s", strerror(-ret));
		goto fail;
	}
	ret = check_header(r, e);
	if (ret)
		goto fail;
	ret = check_sections(r, e);
	if (ret)
		goto fail;
	*out = r;
	return 0;
fail:
	snap_reader_destroy(r);
	return ret;
}

int snap_reader_open_fd(int fd, size_t max_size, struct snap_reader **out, struct err *e)
{
	return reader_open(fd, "snapshot state file", max_size, out, e);
}

int snap_reader_open_file(const char *path, size_t max_size, struct snap_reader **out,
			  struct err *e)
{
	cleanup_free char *name = NULL;
	cleanup_close int fd = -1;
	int ret;

	*out = NULL;
	if (asprintf(&name, "snapshot state file %s", path) < 0) {
		name = NULL;
		return fail(e, "snapshot state file", -ENOMEM, "out of memory");
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = neg_errno();
		return fail(e, name, ret, "open: %s", strerror(-ret));
	}
	return reader_open(fd, name, max_size, out, e);
}

void snap_reader_destroy(struct snap_reader *r)
{
	if (!r)
		return;
	free(r->s);
	free(r->buf);
	free(r->name);
	free(r);
}

unsigned snap_reader_count(const struct snap_reader *r)
{
	return r->nr;
}

const char *snap_reader_name(const struct snap_reader *r)
{
	return r->name;
}

int snap_reader_at(const struct snap_reader *r, unsigned index, uint32_t *id, uint32_t *version,
		   const void **data, size_t *len)
{
	if (index >= r->nr)
		return -ENOENT;
	const struct snap_section *s = &r->s[index];
	if (id)
		*id = s->id;
	if (version)
		*version = s->version;
	if (data)
		*data = s->data;
	if (len)
		*len = (size_t)s->len;
	return 0;
}

int snap_reader_get(const struct snap_reader *r, uint32_t id, uint32_t *version, const void **data,
		    size_t *len)
{
	for (unsigned i = 0; i < r->nr; i++)
		if (r->s[i].id == id)
			return snap_reader_at(r, i, NULL, version, data, len);
	return -ENOENT;
}

int snap_reader_get_struct(const struct snap_reader *r, uint32_t id, uint32_t version, void *s,
			   size_t size, struct err *e)
{
	const void *data;
	uint32_t ver;
	size_t len;
	int ret = snap_reader_get(r, id, &ver, &data, &len);

	if (ret)
		return fail(e, r->name, ret, "section id %u is missing", id);
	if (ver != version)
		return fail(e, r->name, -EINVAL,
			    "section id %u has version %u, this mvm reads version %u", id, ver,
			    version);
	if (len != size)
		return fail(e, r->name, -EINVAL,
			    "section id %u (version %u) is %zu bytes, expected %zu", id, ver, len,
			    size);
	memcpy(s, data, size);
	return 0;
}
