/* Small helpers shared by every part of the monitor. */
#ifndef MVM_UTIL_H
#define MVM_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a)	 (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a)	 (((x) + (a)-1) & ~((__typeof__(x))(a)-1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a)-1))
#define MIN(a, b)	 ((a) < (b) ? (a) : (b))
#define MAX(a, b)	 ((a) > (b) ? (a) : (b))
#define KiB(x)		 ((uint64_t)(x) << 10)
#define MiB(x)		 ((uint64_t)(x) << 20)
#define GiB(x)		 ((uint64_t)(x) << 30)

#define __unused __attribute__((unused))
#define __packed __attribute__((packed))

static inline void cleanup_freep(void *p)
{
	free(*(void **)p);
}

static inline void cleanup_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

#define cleanup_free  __attribute__((cleanup(cleanup_freep)))
#define cleanup_close __attribute__((cleanup(cleanup_closep)))

/* Hand an fd out of a cleanup_close variable. */
static inline int steal_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}

static inline void *steal_ptr(void *pp)
{
	void **p = pp;
	void *r = *p;
	*p = NULL;
	return r;
}

/* -errno of the last failed call, never 0 (a failing call without errno is -EIO). */
/* n little-endian bytes of v at p (file formats), and back. */
static inline void le_put(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t le_get(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static inline int neg_errno(void)
{
	return errno ? -errno : -EIO;
}

/* a + b without wrapping; false on overflow. */
static inline int add_overflows(uint64_t a, uint64_t b, uint64_t *sum)
{
	return __builtin_add_overflow(a, b, sum);
}

/* The value of a hex digit, -1 if c is not one. */
static inline int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

uint64_t mono_us(void);
uint64_t cpu_us(void);
int read_full(int fd, void *buf, size_t len, uint64_t off);
int write_full(int fd, const void *buf, size_t len);
/* pwrite() all of len bytes at off; -EIO if the file takes none. */
int pwrite_full(int fd, const void *buf, size_t len, uint64_t off);
/* A connected AF_UNIX stream socket (SOCK_CLOEXEC | extra_flags), or -errno. */
int unix_connect(const char *path, int extra_flags);

#endif
