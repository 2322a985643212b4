/* Logging: one line per event, to stderr or a file set by the logger config. */
#ifndef MVM_LOG_H
#define MVM_LOG_H

#include <stdbool.h>

enum log_level { LOG_OFF, LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };

void log_init(const char *instance_id);
void log_set_thread(const char *name);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_set_format(bool show_level, bool show_origin);
/*
 * Open a log or metrics sink: read-write and non-blocking, so a FIFO opens
 * before its reader attaches and a full one never stalls the monitor. With
 * create false a missing path is refused (-ENOENT), as Firecracker does.
 * Returns the fd or -errno.
 */
int log_open_sink(const char *path, bool create);
int log_set_path(const char *path, bool create);
/* Log lines that could not be written whole (a full FIFO, a full disk). */
unsigned long long log_dropped(void);
int log_level_parse(const char *s, enum log_level *out);
const char *log_instance_id(void);

void log_msg(enum log_level level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_at(lvl, ...)                                                 \
	do {                                                             \
		if ((lvl) <= log_get_level())                            \
			log_msg((lvl), __FILE__, __LINE__, __VA_ARGS__); \
	} while (0)
#define log_err(...)   log_at(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_at(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)

/* Log at most once per flag: for guest-triggered errors that could flood. */
#define log_once(flag, lvl, ...)                  \
	do {                                      \
		if (!(flag)) {                    \
			(flag) = true;            \
			log_at(lvl, __VA_ARGS__); \
		}                                 \
	} while (0)

#endif
