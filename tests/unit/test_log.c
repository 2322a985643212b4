/* lib/log.c: level names, line format, filtering, and per-thread names. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/log.h"

static char dir[] = "/tmp/mvm-log-XXXXXX";
static char path[64];

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/log", dir);
	cr_assert_eq(log_set_path(path, true), 0);
	log_set_level(LOG_INFO);
	log_set_format(true, false);
}

static void teardown(void)
{
	unlink(path);
	rmdir(dir);
}

TestSuite(log, .init = setup, .fini = teardown);

/* Everything logged so far; the caller frees. */
static char *slurp(void)
{
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n = getdelim(&buf, &cap, '\0', f);
	fclose(f);
	if (n < 0) {
		free(buf);
		return strdup("");
	}
	return buf;
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

Test(log, level_names_parse_case_insensitively)
{
	static const struct {
		const char *name;
		enum log_level level;
	} cases[] = {
		{ "Off", LOG_OFF },	 { "Error", LOG_ERROR }, { "Warning", LOG_WARN },
		{ "Warn", LOG_WARN },	 { "Info", LOG_INFO },	 { "Debug", LOG_DEBUG },
		{ "Trace", LOG_TRACE },	 { "off", LOG_OFF },	 { "ERROR", LOG_ERROR },
		{ "warning", LOG_WARN }, { "wArN", LOG_WARN },	 { "info", LOG_INFO },
		{ "DEBUG", LOG_DEBUG },	 { "trace", LOG_TRACE },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum log_level l = (enum log_level)99;
		cr_expect_eq(log_level_parse(cases[i].name, &l), 0, "'%s'", cases[i].name);
		cr_expect_eq(l, cases[i].level, "'%s' -> %d", cases[i].name, l);
	}
}

Test(log, bad_level_names_are_refused_and_leave_the_output_alone)
{
	static const char *const bad[] = { "",	    "Err",     "Infos", "Warning ", " Info",
					   "Fatal", "Verbose", "3",	"None",	    "Info\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum log_level l = LOG_DEBUG;
		cr_expect_eq(log_level_parse(bad[i], &l), -EINVAL, "'%s' accepted", bad[i]);
		cr_expect_eq(l, LOG_DEBUG, "'%s': output written on error", bad[i]);
	}
}

Test(log, set_and_get_level)
{
	log_set_level(LOG_TRACE);
	cr_expect_eq(log_get_level(), LOG_TRACE);
	log_set_level(LOG_OFF);
	cr_expect_eq(log_get_level(), LOG_OFF);
}

Test(log, line_format_has_time_instance_thread_and_level)
{
	log_init("vm-7");
	log_set_thread("fc_api");
	log_info("hello %d", 42);
	char *text = slurp();
	cr_assert_eq(count_lines(text), 1, "%s", text);
	/* 2024-01-02T03:04:05.123456789 [vm-7:fc_api:Info] hello 42 */
	int y, mo, d, h, mi, s;
	long ns;
	char rest[128];
	cr_assert_eq(sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d.%9ld %127[^\n]", &y, &mo, &d, &h, &mi,
			    &s, &ns, rest),
		     8, "%s", text);
	cr_expect(y >= 2000 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 && mi < 60 &&
		      s < 61 && ns >= 0 && ns < 1000000000,
		  "%s", text);
	cr_expect_eq(text[10], 'T');
	cr_expect_eq(text[19], '.');
	cr_expect_eq(text[29], ' ', "nine digits of nanoseconds: %s", text);
	cr_expect_str_eq(rest, "[vm-7:fc_api:Info] hello 42");
	cr_expect_str_eq(log_instance_id(), "vm-7");
	free(text);
}

Test(log, format_options_hide_the_level_and_show_the_origin)
{
	log_set_format(false, true);
	int line = __LINE__ + 1;
	log_warn("w");
	char *text = slurp();
	const char *open = strchr(text, '[');
	cr_assert_not_null(open, "%s", text);
	char want[128];
	snprintf(want, sizeof(want), "[anonymous-instance:main:%s:%d] w\n", __FILE__, line);
	cr_expect_str_eq(open, want);
	cr_expect_null(strstr(text, "Warning"), "no level shown: %s", text);
	free(text);
}

Test(log, levels_above_the_setting_are_filtered)
{
	log_set_level(LOG_WARN);
	log_debug("debug line");
	log_info("info line");
	log_warn("warn line");
	log_err("error line");
	char *text = slurp();
	cr_expect_eq(count_lines(text), 2, "%s", text);
	cr_expect_null(strstr(text, "debug line"));
	cr_expect_null(strstr(text, "info line"));
	cr_expect_not_null(strstr(text, ":Warning] warn line\n"), "%s", text);
	cr_expect_not_null(strstr(text, ":Error] error line\n"), "%s", text);
	free(text);
}

Test(log, off_writes_nothing)
{
	log_set_level(LOG_OFF);
	log_err("e");
	log_warn("w");
	log_info("i");
	char *text = slurp();
	cr_expect_str_eq(text, "");
	free(text);
}

static void *log_from_thread(void *arg)
{
	(void)arg;
	log_set_thread("fc_vcpu 0");
	log_err("from the thread");
	return NULL;
}

Test(log, thread_name_is_per_thread)
{
	log_err("from main");
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, log_from_thread, NULL), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	char *text = slurp();
	cr_expect_not_null(strstr(text, "[anonymous-instance:main:Error] from main\n"), "%s", text);
	cr_expect_not_null(strstr(text, "[anonymous-instance:fc_vcpu 0:Error] from the thread\n"),
			   "%s", text);
	free(text);
}

Test(log, long_messages_are_cut_to_one_line)
{
	char big[3000];
	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_err("%s", big);
	char *text = slurp();
	cr_expect_eq(count_lines(text), 1);
	cr_expect_lt(strlen(text), 1024, "one buffer's worth");
	cr_expect_eq(text[strlen(text) - 1], '\n');
	free(text);
}

Test(log, logging_preserves_errno)
{
	errno = EBADF;
	log_info("x");
	cr_expect_eq(errno, EBADF);
	errno = ENOENT;
	log_set_level(LOG_OFF);
	log_err("y");
	cr_expect_eq(errno, ENOENT);
}

Test(log, instance_id_is_truncated_to_64)
{
	char id[100];
	memset(id, 'i', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	log_init(id);
	cr_expect_eq(strlen(log_instance_id()), 64);
	log_init(NULL);
	cr_expect_eq(strlen(log_instance_id()), 64, "NULL keeps the current id");
}

Test(log, set_path_to_a_missing_directory_fails_and_keeps_the_old_file)
{
	char bad[96];
	snprintf(bad, sizeof(bad), "%s/no/such/log", dir);
	cr_expect_eq(log_set_path(bad, true), -ENOENT);
	log_info("still here");
	char *text = slurp();
	cr_expect_not_null(strstr(text, "still here"), "%s", text);
	free(text);
}

Test(log, each_call_writes_one_whole_line)
{
	log_info("a");
	log_warn("b");
	log_err("c");
	char *text = slurp();
	cr_expect_eq(count_lines(text), 3, "%s", text);
	for (const char *l = text; *l; l = strchr(l, '\n') + 1)
		cr_expect(isdigit((unsigned char)l[0]), "a line starts with the timestamp: %s",
			  text);
	free(text);
}
