#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static enum log_level cur_level = LOG_INFO;
static bool show_level = true;
static bool show_origin;
static int log_fd = STDERR_FILENO;
static char instance[65] = "anonymous-instance";
static __thread char thread_name[16] = "main";
static unsigned long long dropped; /* lines a full FIFO did not take */

static const char *const level_names[] = {
	[LOG_OFF] = "Off",   [LOG_ERROR] = "Error", [LOG_WARN] = "Warning",
	[LOG_INFO] = "Info", [LOG_DEBUG] = "Debug", [LOG_TRACE] = "Trace",
};

void log_init(const char *instance_id)
{
	/* glibc reads the time zone on first use, even for gmtime_r(): do it now,
	 * before any thread's seccomp filter forbids opening /etc/localtime. */
	tzset();
	if (instance_id)
		snprintf(instance, sizeof(instance), "%s", instance_id);
}

const char *log_instance_id(void)
{
	return instance;
}

void log_set_thread(const char *name)
{
	snprintf(thread_name, sizeof(thread_name), "%s", name);
}

void log_set_level(enum log_level level)
{
	cur_level = level;
}

enum log_level log_get_level(void)
{
	return cur_level;
}

void log_set_format(bool level, bool origin)
{
	show_level = level;
	show_origin = origin;
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (!strcasecmp(s, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (!strcasecmp(s, "warn")) {
		*out = LOG_WARN;
		return 0;
	}
	return -EINVAL;
}

int log_open_sink(const char *path, bool create)
{
	/*
	 * Read-write, as Firecracker opens it: a FIFO opens with no reader
	 * attached yet (O_WRONLY would fail with ENXIO), and the monitor never
	 * sees EPIPE when a reader goes away. O_NONBLOCK: a full FIFO makes a
	 * write fail with EAGAIN (the line is dropped and counted), it never
	 * stalls the monitor.
	 */
	int fd =
	    open(path, O_RDWR | O_APPEND | O_CLOEXEC | O_NONBLOCK | (create ? O_CREAT : 0), 0600);
	return fd < 0 ? -errno : fd;
}

unsigned long long log_dropped(void)
{
	return __atomic_load_n(&dropped, __ATOMIC_RELAXED);
}

int log_set_path(const char *path, bool create)
{
	int fd = log_open_sink(path, create);
	if (fd < 0)
		return fd;
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = fd;
	return 0;
}

void log_msg(enum log_level level, const char *file, int line, const char *fmt, ...)
{
	char buf[1024];
	struct timespec ts;
	struct tm tm;
	size_t n = 0;
	int saved = errno;

	if (level > cur_level)
		return;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	/* By hand: strftime() would tzset() and open /etc/localtime, which a
	 * filtered thread may not. */
	n += (size_t)snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
			      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, ".%09ld [%s:%s", ts.tv_nsec, instance,
			      thread_name);
	if (show_level && n < sizeof(buf))
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ":%s", level_names[level]);
	if (show_origin && n < sizeof(buf))
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ":%s:%d", file, line);
	if (n < sizeof(buf))
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "] ");
	if (n < sizeof(buf)) {
		va_list ap;
		va_start(ap, fmt);
		n += (size_t)vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
		va_end(ap);
	}
	if (n >= sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	/* One write per line keeps lines whole between threads. */
	ssize_t r = write(log_fd, buf, n);
	if (r < (ssize_t)n)
		__atomic_add_fetch(&dropped, 1, __ATOMIC_RELAXED);
	errno = saved;
}
