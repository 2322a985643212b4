/*
 * vmm/metrics.c: Firecracker-shaped metrics lines, flushed with no VM (before
 * boot) into a temporary file or a FIFO, and read back with vmm/json.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "../../lib/json.h"
#include "../../monitor/metrics.h"

static struct metrics mt;
static char dir[] = "/tmp/mvm-metrics-XXXXXX";
static char path[64];

static void setup(void)
{
	metrics_init(&mt);
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/metrics", dir);
}

static void teardown(void)
{
	metrics_fini(&mt);
	unlink(path);
	rmdir(dir);
}

TestSuite(metrics, .init = setup, .fini = teardown);

/* The whole metrics file, NUL-terminated; the caller frees. */
static char *slurp(void)
{
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
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

/* Line `idx` (0-based) of text, into a malloc'd string without its newline. */
static char *line(const char *text, int idx)
{
	const char *p = text;
	for (int i = 0; i < idx; i++) {
		p = strchr(p, '\n');
		cr_assert_not_null(p, "fewer than %d lines in:\n%s", idx + 1, text);
		p++;
	}
	const char *end = strchr(p, '\n');
	cr_assert_not_null(end, "line %d is not terminated", idx);
	return strndup(p, (size_t)(end - p));
}

static int count_lines(const char *text)
{
	int n = 0;
	for (const char *p = text; *p; p++)
		n += *p == '\n';
	return n;
}

/* Member `name` of object token obj, or -1. */
static int member(const struct json *j, int obj, const char *name)
{
	if (obj < 0 || j->t[obj].type != JSMN_OBJECT)
		return -1;
	int k = obj + 1;
	for (int i = 0; i < j->t[obj].size; i++, k = json_next(j, k + 1))
		if (json_key_is(j, k, name))
			return k + 1;
	return -1;
}

/* section.field of a parsed metrics line, as an integer. */
static uint64_t field(const struct json *j, const char *section, const char *name)
{
	struct err e;
	uint64_t v = 0;
	int s = member(j, 0, section);
	cr_assert_geq(s, 0, "no section '%s'", section);
	int f = member(j, s, name);
	cr_assert_geq(f, 0, "no '%s.%s'", section, name);
	cr_assert_eq(json_u64(j, f, name, 0, UINT64_MAX, &v, &e), 0, "%s", e.msg);
	return v;
}

static void parse_line(const char *text, int idx, struct json *j, char **owned)
{
	struct err e;
	*owned = line(text, idx);
	cr_assert_eq(json_parse(j, *owned, strlen(*owned), &e), 0, "line %d: %s: %s", idx, e.msg,
		     *owned);
	cr_assert_eq(j->t[0].type, JSMN_OBJECT);
}

Test(metrics, flush_without_a_path_is_a_no_op)
{
	cr_expect_eq(metrics_flush(&mt, NULL), 0);
	cr_expect_eq(mt.fd, -1);
	cr_expect_eq(mt.flush_fails, 0);
}

Test(metrics, flush_writes_one_json_line_with_every_section)
{
	static const char *const sections[] = {
		"utc_timestamp_ms",
		"api_server",
		"block",
		"get_api_requests",
		"put_api_requests",
		"patch_api_requests",
		"latencies_us",
		"entropy",
		"logger",
		"uart",
		"vcpu",
	};
	cr_assert_eq(metrics_set_path(&mt, path), 0);
	cr_assert_eq(metrics_flush(&mt, NULL), 0);
	char *text = slurp();
	cr_expect_eq(count_lines(text), 1, "exactly one line:\n%s", text);
	cr_expect_eq(text[strlen(text) - 1], '\n');
	struct json j;
	char *l;
	parse_line(text, 0, &j, &l);
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		cr_expect_geq(member(&j, 0, sections[i]), 0, "no '%s' in %s", sections[i], l);
	cr_expect_eq(field(&j, "block", "read_bytes"), 0, "no VM: no device counters");
	cr_expect_eq(field(&j, "vcpu", "exit_io_in"), 0);
	cr_expect_eq(field(&j, "uart", "write_count"), 0);
	json_free(&j);
	free(l);
	free(text);
}

Test(metrics, timestamp_is_now_in_milliseconds)
{
	struct timeval before, after;
	cr_assert_eq(metrics_set_path(&mt, path), 0);
	gettimeofday(&before, NULL);
	cr_assert_eq(metrics_flush(&mt, NULL), 0);
	gettimeofday(&after, NULL);
	char *text = slurp(), *l;
	struct json j;
	struct err e;
	parse_line(text, 0, &j, &l);
	uint64_t ts = 0;
	cr_assert_eq(json_u64(&j, member(&j, 0, "utc_timestamp_ms"), "utc_timestamp_ms", 0,
			      UINT64_MAX, &ts, &e),
		     0);
	uint64_t lo = (uint64_t)before.tv_sec * 1000 + (uint64_t)before.tv_usec / 1000;
	uint64_t hi = (uint64_t)after.tv_sec * 1000 + (uint64_t)after.tv_usec / 1000;
	cr_expect(ts >= lo && ts <= hi, "%llu not in [%llu, %llu]", (unsigned long long)ts,
		  (unsigned long long)lo, (unsigned long long)hi);
	json_free(&j);
	free(l);
	free(text);
}

Test(metrics, api_counters_are_deltas_since_the_previous_flush)
{
	cr_assert_eq(metrics_set_path(&mt, path), 0);
	mt.api.put_actions = 3;
	mt.api.get_vm_config = 1;
	mt.api.patch_vm_fails = 2;
	cr_assert_eq(metrics_flush(&mt, NULL), 0);
	mt.api.put_actions = 5;
	mt.api.patch_vm_fails = 2;
	mt.api.put_snapshot_load = 7;
	cr_assert_eq(metrics_flush(&mt, NULL), 0);
	cr_assert_eq(metrics_flush(&mt, NULL), 0);

	char *text = slurp();
	cr_assert_eq(count_lines(text), 3, "%s", text);
	static const struct {
		const char *section, *name;
		uint64_t want[3];
	} cases[] = {
		{ "put_api_requests", "actions_count", { 3, 2, 0 } },
		{ "get_api_requests", "vm_config_count", { 1, 0, 0 } },
		{ "patch_api_requests", "vm_fails", { 2, 0, 0 } },
		{ "put_api_requests", "snapshot_load_count", { 0, 7, 0 } },
		{ "put_api_requests", "boot_source_count", { 0, 0, 0 } },
	};
	for (int n = 0; n < 3; n++) {
		struct json j;
		char *l;
		parse_line(text, n, &j, &l);
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			uint64_t got = field(&j, cases[i].section, cases[i].name);
			cr_expect_eq(got, cases[i].want[n], "line %d: %s.%s = %llu, want %llu", n,
				     cases[i].section, cases[i].name, (unsigned long long)got,
				     (unsigned long long)cases[i].want[n]);
		}
		json_free(&j);
		free(l);
	}
	free(text);
}

Test(metrics, every_api_counter_reaches_its_field)
{
	/* Give each counter a distinct value, then look for each in the line. */
	static const struct {
		size_t off;
		const char *section, *name;
	} map[] = {
#define F(f, s, n) { offsetof(struct api_counters, f), s, n }
		F(get_instance_info, "get_api_requests", "instance_info_count"),
		F(get_machine_cfg, "get_api_requests", "machine_cfg_count"),
		F(get_vmm_version, "get_api_requests", "vmm_version_count"),
		F(get_vm_config, "get_api_requests", "vm_config_count"),
		F(put_actions, "put_api_requests", "actions_count"),
		F(put_actions_fails, "put_api_requests", "actions_fails"),
		F(put_boot_source, "put_api_requests", "boot_source_count"),
		F(put_boot_source_fails, "put_api_requests", "boot_source_fails"),
		F(put_drive, "put_api_requests", "drive_count"),
		F(put_drive_fails, "put_api_requests", "drive_fails"),
		F(put_logger, "put_api_requests", "logger_count"),
		F(put_logger_fails, "put_api_requests", "logger_fails"),
		F(put_machine_cfg, "put_api_requests", "machine_cfg_count"),
		F(put_machine_cfg_fails, "put_api_requests", "machine_cfg_fails"),
		F(put_metrics, "put_api_requests", "metrics_count"),
		F(put_metrics_fails, "put_api_requests", "metrics_fails"),
		F(put_serial, "put_api_requests", "serial_count"),
		F(put_serial_fails, "put_api_requests", "serial_fails"),
		F(put_snapshot_create, "put_api_requests", "snapshot_create_count"),
		F(put_snapshot_create_fails, "put_api_requests", "snapshot_create_fails"),
		F(put_snapshot_load, "put_api_requests", "snapshot_load_count"),
		F(put_snapshot_load_fails, "put_api_requests", "snapshot_load_fails"),
		F(patch_drive, "patch_api_requests", "drive_count"),
		F(patch_drive_fails, "patch_api_requests", "drive_fails"),
		F(patch_machine_cfg, "patch_api_requests", "machine_cfg_count"),
		F(patch_machine_cfg_fails, "patch_api_requests", "machine_cfg_fails"),
		F(patch_vm, "patch_api_requests", "vm_count"),
		F(patch_vm_fails, "patch_api_requests", "vm_fails"),
#undef F
	};
	cr_assert_eq(metrics_set_path(&mt, path), 0);
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		*(uint64_t *)((char *)&mt.api + map[i].off) = 100 + i;
	cr_assert_eq(metrics_flush(&mt, NULL), 0);
	char *text = slurp(), *l;
	struct json j;
	parse_line(text, 0, &j, &l);
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		cr_expect_eq(field(&j, map[i].section, map[i].name), 100 + i, "%s.%s",
			     map[i].section, map[i].name);
	json_free(&j);
	free(l);
	free(text);
}

Test(metrics, latencies_and_startup_times_are_values_not_deltas)
{
	cr_assert_eq(metrics_set_path(&mt, path), 0);
	mt.lat.pause_vm = 40;
	mt.lat.load_snapshot = 12345;
	mt.startup_us = 900;
	mt.startup_cpu_us = 800;
	cr_assert_eq(metrics_flush(&mt, NULL), 0);
	cr_assert_eq(metrics_flush(&mt, NULL), 0);
	char *text = slurp();
	for (int n = 0; n < 2; n++) {
		struct json j;
		char *l;
		parse_line(text, n, &j, &l);
		cr_expect_eq(field(&j, "latencies_us", "pause_vm"), 40, "line %d", n);
		cr_expect_eq(field(&j, "latencies_us", "load_snapshot"), 12345, "line %d", n);
		cr_expect_eq(field(&j, "api_server", "process_startup_time_us"), 900);
		cr_expect_eq(field(&j, "api_server", "process_startup_time_cpu_us"), 800);
		json_free(&j);
		free(l);
	}
	free(text);
}

Test(metrics, second_set_path_is_refused_and_the_first_file_kept)
{
	char other[80];
	snprintf(other, sizeof(other), "%s/other", dir);
	cr_assert_eq(metrics_set_path(&mt, path), 0);
	int fd = mt.fd;
	cr_expect_eq(metrics_set_path(&mt, other), -EALREADY);
	cr_expect_eq(mt.fd, fd, "still the first file");
	cr_expect_neq(access(other, F_OK), 0, "the second file is never created");
	cr_assert_eq(metrics_flush(&mt, NULL), 0);
	char *text = slurp();
	cr_expect_eq(count_lines(text), 1);
	free(text);
}

Test(metrics, set_path_to_a_missing_directory_fails_cleanly)
{
	char bad[96];
	snprintf(bad, sizeof(bad), "%s/no/such/dir/metrics", dir);
	cr_expect_eq(metrics_set_path(&mt, bad), -ENOENT);
	cr_expect_eq(mt.fd, -1);
	cr_expect_eq(metrics_set_path(&mt, path), 0, "a failed attempt does not count");
}

Test(metrics, set_path_appends_to_an_existing_file)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "old\n", 4), 4);
	close(fd);
	cr_assert_eq(metrics_set_path(&mt, path), 0);
	cr_assert_eq(metrics_flush(&mt, NULL), 0);
	char *text = slurp();
	cr_expect_eq(strncmp(text, "old\n{", 5), 0, "appended after what was there: %s", text);
	free(text);
}

Test(metrics, fifo_without_a_reader_is_refused_not_waited_on)
{
	cr_assert_eq(mkfifo(path, 0600), 0);
	/* O_NONBLOCK: opening a FIFO nobody reads fails at once instead of blocking. */
	cr_expect_eq(metrics_set_path(&mt, path), -ENXIO);
	cr_expect_eq(mt.fd, -1);
}

Test(metrics, flush_into_a_fifo_delivers_whole_lines)
{
	cr_assert_eq(mkfifo(path, 0600), 0);
	int rd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	cr_assert_geq(rd, 0);
	cr_assert_eq(metrics_set_path(&mt, path), 0);
	mt.api.put_drive = 4;
	cr_assert_eq(metrics_flush(&mt, NULL), 0);
	cr_assert_eq(metrics_flush(&mt, NULL), 0);
	char buf[16384];
	ssize_t n = read(rd, buf, sizeof(buf) - 1);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	close(rd);
	cr_assert_eq(count_lines(buf), 2, "%s", buf);
	struct json j;
	char *l;
	parse_line(buf, 0, &j, &l);
	cr_expect_eq(field(&j, "put_api_requests", "drive_count"), 4);
	json_free(&j);
	free(l);
	parse_line(buf, 1, &j, &l);
	cr_expect_eq(field(&j, "put_api_requests", "drive_count"), 0);
	json_free(&j);
	free(l);
}

Test(metrics, failed_write_counts_and_keeps_the_delta_for_the_next_line)
{
	if (access("/dev/full", W_OK))
		cr_skip_test("no /dev/full to make writes fail");
	cr_assert_eq(metrics_set_path(&mt, "/dev/full"), 0);
	mt.api.put_actions = 6;
	cr_expect_eq(metrics_flush(&mt, NULL), -ENOSPC);
	cr_expect_eq(mt.flush_fails, 1);

	/* Point the writer at a real file (a second metrics_set_path is refused). */
	close(mt.fd);
	mt.fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	cr_assert_geq(mt.fd, 0);
	mt.api.put_actions = 8;
	cr_assert_eq(metrics_flush(&mt, NULL), 0);
	char *text = slurp(), *l;
	struct json j;
	parse_line(text, 0, &j, &l);
	cr_expect_eq(field(&j, "put_api_requests", "actions_count"), 8,
		     "a lost line's counts are carried into the next one");
	cr_expect_eq(field(&j, "logger", "metrics_fails"), 1);
	json_free(&j);
	free(l);
	free(text);
}

Test(metrics, fini_closes_and_is_idempotent)
{
	cr_assert_eq(metrics_set_path(&mt, path), 0);
	int fd = mt.fd;
	metrics_fini(&mt);
	cr_expect_eq(mt.fd, -1);
	cr_expect_eq(fcntl(fd, F_GETFD), -1, "the fd is closed");
	metrics_fini(&mt);
	cr_expect_eq(metrics_flush(&mt, NULL), 0, "no path after fini: a no-op");
}
