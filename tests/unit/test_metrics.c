/*
 * monitor/metrics.c: Firecracker-shaped metrics lines, flushed with no VM
 * (before boot) or a VM holding only devices, into a temporary file or a FIFO,
 * and read back with lib/json.c. The API counters are the route table's
 * (monitor/routes.c), bumped here the way monitor/requests.c bumps them.
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

#include <http_parser.h>

#include "../../lib/json.h"
#include "../../monitor/metrics.h"
#include "../../monitor/request.h"
#include "../../virtio/balloon/balloon.h"
#include "../../virtio/registry.h"
#include "../../vmm/vm.h"

static struct metrics mt;
static char dir[] = "/tmp/mvm-metrics-XXXXXX";
static char path[64];

static void setup(void)
{
	cr_assert_eq(api_routes_init(), 0, "the route table (and its counters) as main builds it");
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

/*
 * A request to (method, path) answered `count` times, `fails` of them with an
 * error: its route's counter bumped as monitor_handle_request() does.
 */
static void answered(int method, const char *url, const char *body, uint64_t count, uint64_t fails)
{
	struct api_request req;
	struct api_response resp = { 0 };
	unsigned n;
	struct api_counter *c = api_counters(&n);
	int r = api_route(method, url, body, body ? strlen(body) : 0, &req, &resp);
	cr_assert_eq(r, 0, "%s: %s", url, resp.body);
	cr_assert(req.route->counter >= 0 && (unsigned)req.route->counter < n,
		  "%s %s has no counter", http_method_str(method), url);
	c[req.route->counter].count += count;
	c[req.route->counter].fails += fails;
	api_request_fini(&req);
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
		"net",
		"vsock",
		"balloon",
		"logger",
		"uart",
		"vcpu",
	};
	cr_assert_eq(metrics_set_path(&mt, path, true), 0);
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
	cr_assert_eq(metrics_set_path(&mt, path, true), 0);
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

#define DRIVE_BODY "{\"drive_id\": \"x\", \"path_on_host\": \"/x\", \"is_root_device\": false}"

Test(metrics, api_counters_are_deltas_since_the_previous_flush)
{
	cr_assert_eq(metrics_set_path(&mt, path, true), 0);
	answered(HTTP_PUT, "/actions", "{\"action_type\": \"FlushMetrics\"}", 3, 0);
	answered(HTTP_GET, "/vm/config", NULL, 1, 0);
	answered(HTTP_PATCH, "/vm", "{\"state\": \"Paused\"}", 2, 2);
	cr_assert_eq(metrics_flush(&mt, NULL), 0);
	answered(HTTP_PUT, "/actions", "{\"action_type\": \"FlushMetrics\"}", 2, 0);
	answered(HTTP_PUT, "/snapshot/load",
		 "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\"}", 7, 0);
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
		{ "patch_api_requests", "vm_count", { 2, 0, 0 } },
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
	/* Each endpoint answered a distinct number of times; look for each in the line. */
	static const struct {
		int method;
		const char *path, *body;
		const char *section, *name;
	} map[] = {
		{ HTTP_GET, "/", NULL, "get_api_requests", "instance_info" },
		{ HTTP_GET, "/machine-config", NULL, "get_api_requests", "machine_cfg" },
		{ HTTP_GET, "/version", NULL, "get_api_requests", "vmm_version" },
		{ HTTP_GET, "/vm/config", NULL, "get_api_requests", "vm_config" },
		{ HTTP_GET, "/balloon", NULL, "get_api_requests", "balloon" },
		{ HTTP_PUT, "/actions", "{\"action_type\": \"InstanceStart\"}", "put_api_requests",
		  "actions" },
		{ HTTP_PUT, "/boot-source", "{\"kernel_image_path\": \"/k\"}", "put_api_requests",
		  "boot_source" },
		{ HTTP_PUT, "/drives/x", DRIVE_BODY, "put_api_requests", "drive" },
		{ HTTP_PUT, "/logger", "{}", "put_api_requests", "logger" },
		{ HTTP_PUT, "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64}",
		  "put_api_requests", "machine_cfg" },
		{ HTTP_PUT, "/metrics", "{\"metrics_path\": \"/m\"}", "put_api_requests",
		  "metrics" },
		{ HTTP_PUT, "/serial", "{}", "put_api_requests", "serial" },
		{ HTTP_PUT, "/snapshot/create",
		  "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\"}", "put_api_requests",
		  "snapshot_create" },
		{ HTTP_PUT, "/snapshot/load",
		  "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\"}", "put_api_requests",
		  "snapshot_load" },
		{ HTTP_PUT, "/entropy", "{}", "put_api_requests", "entropy" },
		{ HTTP_PUT, "/network-interfaces/e",
		  "{\"iface_id\": \"e\", \"host_dev_name\": \"t\"}", "put_api_requests",
		  "network" },
		{ HTTP_PUT, "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/v\"}",
		  "put_api_requests", "vsock" },
		{ HTTP_PUT, "/balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": false}",
		  "put_api_requests", "balloon" },
		{ HTTP_PATCH, "/drives/x", "{\"drive_id\": \"x\", \"rate_limiter\": null}",
		  "patch_api_requests", "drive" },
		{ HTTP_PATCH, "/machine-config", "{\"smt\": false}", "patch_api_requests",
		  "machine_cfg" },
		{ HTTP_PATCH, "/vm", "{\"state\": \"Resumed\"}", "patch_api_requests", "vm" },
		{ HTTP_PATCH, "/network-interfaces/e", "{\"iface_id\": \"e\"}",
		  "patch_api_requests", "network" },
		{ HTTP_PATCH, "/balloon", "{\"amount_mib\": 1}", "patch_api_requests", "balloon" },
	};
	cr_assert_eq(metrics_set_path(&mt, path, true), 0);
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		answered(map[i].method, map[i].path, map[i].body, 100 + 2 * i,
			 map[i].method == HTTP_GET ? 0 : 101 + 2 * i);
	cr_assert_eq(metrics_flush(&mt, NULL), 0);
	char *text = slurp(), *l;
	struct json j;
	parse_line(text, 0, &j, &l);
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		char name[64];
		snprintf(name, sizeof(name), "%s_count", map[i].name);
		cr_expect_eq(field(&j, map[i].section, name), 100 + 2 * i, "%s.%s", map[i].section,
			     name);
		snprintf(name, sizeof(name), "%s_fails", map[i].name);
		if (map[i].method == HTTP_GET)
			cr_expect_lt(member(&j, member(&j, 0, map[i].section), name), 0,
				     "GET counters have no fails: %s", name);
		else
			cr_expect_eq(field(&j, map[i].section, name), 101 + 2 * i, "%s.%s",
				     map[i].section, name);
	}
	/* ...and every counter of the table is in the line, in its group's section. */
	static const char *const sections[] = { "get_api_requests", "put_api_requests",
						"patch_api_requests" };
	unsigned n;
	const struct api_counter *c = api_counters(&n);
	cr_expect_geq(n, sizeof(map) / sizeof(map[0]), "%u counters", n);
	for (unsigned i = 0; i < n; i++) {
		char name[64];
		snprintf(name, sizeof(name), "%s_count", c[i].name);
		cr_expect_eq(field(&j, sections[c[i].group], name), c[i].count, "%s.%s",
			     sections[c[i].group], name);
	}
	json_free(&j);
	free(l);
	free(text);
}

Test(metrics, balloon_statistics_patch_counts_as_a_balloon_patch)
{
	cr_assert_eq(metrics_set_path(&mt, path, true), 0);
	answered(HTTP_PATCH, "/balloon/statistics", "{\"stats_polling_interval_s\": 1}", 4, 1);
	answered(HTTP_PATCH, "/balloon", "{\"amount_mib\": 1}", 1, 0);
	cr_assert_eq(metrics_flush(&mt, NULL), 0);
	char *text = slurp(), *l;
	struct json j;
	parse_line(text, 0, &j, &l);
	cr_expect_eq(field(&j, "patch_api_requests", "balloon_count"), 5);
	cr_expect_eq(field(&j, "patch_api_requests", "balloon_fails"), 1);
	json_free(&j);
	free(l);
	free(text);
}

Test(metrics, every_device_type_has_its_section_with_every_metric)
{
	cr_assert_eq(metrics_set_path(&mt, path, true), 0);
	cr_assert_eq(metrics_flush(&mt, NULL), 0);
	char *text = slurp(), *l;
	struct json j;
	parse_line(text, 0, &j, &l);
	for (unsigned k = 0; k < nr_device_types; k++) {
		const struct device_type *t = device_types[k];
		int sec = member(&j, 0, t->metrics_key);
		cr_assert_geq(sec, 0, "no section '%s'", t->metrics_key);
		cr_expect_eq(j.t[sec].size, (int)t->nr_metrics, "%s: %d fields, %u metrics",
			     t->metrics_key, j.t[sec].size, t->nr_metrics);
		for (unsigned x = 0; x < t->nr_metrics; x++)
			cr_expect_eq(field(&j, t->metrics_key, t->metrics[x].name), 0,
				     "no VM: %s.%s", t->metrics_key, t->metrics[x].name);
	}
	json_free(&j);
	free(l);
	free(text);
}

/* One statistics buffer with an unknown tag, as the guest would send it. */
static void stats_update(struct balloon *b)
{
	uint8_t buf[10] = { 0x7f, 0x00 };
	balloon_parse_stats(b, buf, sizeof(buf));
}

Test(metrics, device_counters_sum_the_devices_of_a_type_and_are_deltas)
{
	static struct guest_mem mem = { .size = 64u << 20 };
	struct balloon_cfg bc = { .amount_mib = 1 };
	struct balloon *b0 = balloon_create(&bc, &mem), *b1 = balloon_create(&bc, &mem);
	cr_assert(b0 && b1);
	/* A VM of two balloons and no vCPU: what metrics_flush() reads of a built one. */
	struct vm *vm = calloc(1, sizeof(*vm));
	cr_assert_not_null(vm);
	vm->vcpus = (struct vcpu *)vm; /* built (never read: nr_vcpus is 0) */
	vm->devs[0] = (struct vm_device){ .type = &balloon_type, .cfg = &bc, .dev = b0 };
	vm->devs[1] = (struct vm_device){ .type = &balloon_type, .cfg = &bc, .dev = b1 };
	vm->nr_devs = 2;

	cr_assert_eq(metrics_set_path(&mt, path, true), 0);
	stats_update(b0);
	stats_update(b1);
	stats_update(b1);
	cr_assert_eq(metrics_flush(&mt, vm), 0);
	stats_update(b0);
	cr_assert_eq(metrics_flush(&mt, vm), 0);
	cr_assert_eq(metrics_flush(&mt, vm), 0);
	char *text = slurp();
	static const uint64_t want[3] = { 3, 1, 0 };
	for (int n = 0; n < 3; n++) {
		struct json j;
		char *l;
		parse_line(text, n, &j, &l);
		cr_expect_eq(field(&j, "balloon", "stats_updates_count"), want[n], "line %d", n);
		cr_expect_eq(field(&j, "balloon", "unknown_stats_tags"), want[n], "line %d", n);
		cr_expect_eq(field(&j, "balloon", "inflate_count"), 0, "line %d", n);
		json_free(&j);
		free(l);
	}
	free(text);
	balloon_destroy(b0);
	balloon_destroy(b1);
	free(vm);
}

Test(metrics, latencies_and_startup_times_are_values_not_deltas)
{
	cr_assert_eq(metrics_set_path(&mt, path, true), 0);
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
	cr_assert_eq(metrics_set_path(&mt, path, true), 0);
	int fd = mt.fd;
	cr_expect_eq(metrics_set_path(&mt, other, true), -EALREADY);
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
	cr_expect_eq(metrics_set_path(&mt, bad, true), -ENOENT);
	cr_expect_eq(mt.fd, -1);
	cr_expect_eq(metrics_set_path(&mt, path, true), 0, "a failed attempt does not count");
}

Test(metrics, set_path_appends_to_an_existing_file)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "old\n", 4), 4);
	close(fd);
	cr_assert_eq(metrics_set_path(&mt, path, true), 0);
	cr_assert_eq(metrics_flush(&mt, NULL), 0);
	char *text = slurp();
	cr_expect_eq(strncmp(text, "old\n{", 5), 0, "appended after what was there: %s", text);
	free(text);
}

Test(metrics, fifo_without_a_reader_opens_and_a_later_reader_gets_the_line)
{
	cr_assert_eq(mkfifo(path, 0600), 0);
	/* Read-write, as Firecracker: no ENXIO while nobody reads, and no blocking. */
	cr_assert_eq(metrics_set_path(&mt, path, false), 0);
	cr_assert_eq(metrics_flush(&mt, NULL), 0);
	int rd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	cr_assert_geq(rd, 0);
	char buf[64] = "";
	cr_expect_gt(read(rd, buf, sizeof(buf) - 1), 0);
	cr_expect_eq(strncmp(buf, "{\"utc_timestamp_ms\":", 20), 0, "%s", buf);
	close(rd);
}

Test(metrics, flush_into_a_fifo_delivers_whole_lines)
{
	cr_assert_eq(mkfifo(path, 0600), 0);
	int rd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	cr_assert_geq(rd, 0);
	cr_assert_eq(metrics_set_path(&mt, path, true), 0);
	answered(HTTP_PUT, "/drives/x", DRIVE_BODY, 4, 0);
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
	cr_assert_eq(metrics_set_path(&mt, "/dev/full", true), 0);
	answered(HTTP_PUT, "/actions", "{\"action_type\": \"FlushMetrics\"}", 6, 0);
	cr_expect_eq(metrics_flush(&mt, NULL), -ENOSPC);
	cr_expect_eq(mt.flush_fails, 1);

	/* Point the writer at a real file (a second metrics_set_path is refused). */
	close(mt.fd);
	mt.fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	cr_assert_geq(mt.fd, 0);
	answered(HTTP_PUT, "/actions", "{\"action_type\": \"FlushMetrics\"}", 2, 0);
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
	cr_assert_eq(metrics_set_path(&mt, path, true), 0);
	int fd = mt.fd;
	metrics_fini(&mt);
	cr_expect_eq(mt.fd, -1);
	cr_expect_eq(fcntl(fd, F_GETFD), -1, "the fd is closed");
	metrics_fini(&mt);
	cr_expect_eq(metrics_flush(&mt, NULL), 0, "no path after fini: a no-op");
}
