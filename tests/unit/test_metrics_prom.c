/*
 * monitor/metrics_prom.c: GET /metrics in Prometheus' text format, before
 * boot and with a VM holding only devices, checked line by line against the
 * format's rules (a HELP and a TYPE before a family's samples, one block per
 * family, counters named _total, numbers as values). The integration test
 * (test_metrics_prom.py) has the Python client's parser read a live monitor's.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/strbuf.h"
#include "../../monitor/metrics.h"
#include "../../monitor/request.h"
#include "../../virtio/balloon/balloon.h"
#include "../../virtio/registry.h"
#include "../../vmm/vm.h"

static struct metrics mt;
static struct strbuf out;

static void setup(void)
{
	cr_assert_eq(api_routes_init(), 0);
	metrics_init(&mt);
	strbuf_init(&out);
}

static void teardown(void)
{
	strbuf_fini(&out);
	metrics_fini(&mt);
}

TestSuite(metrics_prom, .init = setup, .fini = teardown);

#define MAX_FAMILIES 256

/* The exposition's rules, line by line; the number of samples. */
static int check_format(const char *text)
{
	static char seen[MAX_FAMILIES][96];
	int nseen = 0, samples = 0;
	char fam[96] = "", type[16] = "";
	char *copy = strdup(text), *save = NULL;
	cr_assert_not_null(copy);
	cr_assert(!*text || text[strlen(text) - 1] == '\n', "the text ends with a newline");
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char name[96], rest[160];
		if (!strncmp(l, "# HELP ", 7)) {
			cr_assert_eq(sscanf(l + 7, "%95s %159[^\n]", name, rest), 2, "%s", l);
			for (int i = 0; i < nseen; i++)
				cr_assert_str_neq(seen[i], name, "family %s twice", name);
			cr_assert_lt(nseen, MAX_FAMILIES);
			strcpy(seen[nseen++], name);
			strcpy(fam, name);
			type[0] = '\0';
			continue;
		}
		if (!strncmp(l, "# TYPE ", 7)) {
			cr_assert_eq(sscanf(l + 7, "%95s %15s", name, type), 2, "%s", l);
			cr_assert_str_eq(name, fam, "TYPE right after its HELP: %s", l);
			cr_assert(!strcmp(type, "counter") || !strcmp(type, "gauge"), "%s", l);
			size_t n = strlen(name);
			bool total = n > 6 && !strcmp(name + n - 6, "_total");
			cr_assert_eq(total, !strcmp(type, "counter"), "_total iff a counter: %s",
				     l);
			cr_assert(!strncmp(name, "mvm_", 4), "%s", l);
			continue;
		}
		cr_assert_neq(l[0], '#', "an unknown comment: %s", l);
		size_t n = strcspn(l, "{ ");
		cr_assert(type[0] && n == strlen(fam) && !strncmp(l, fam, n),
			  "sample outside its family %s: %s", fam, l);
		const char *v = strrchr(l, ' ');
		char *end;
		cr_assert_not_null(v, "%s", l);
		strtod(v + 1, &end);
		cr_assert(end != v + 1 && !*end, "not a number: %s", l);
		if (l[n] == '{')
			cr_assert(strchr(l, '}') && strchr(l, '}') < v, "labels: %s", l);
		samples++;
	}
	free(copy);
	return samples;
}

static const char *line_of(const char *name_and_labels)
{
	const char *p = out.s;
	size_t n = strlen(name_and_labels);
	while ((p = strstr(p, name_and_labels)))
		if ((p == out.s || p[-1] == '\n') && p[n] == ' ')
			return p + n + 1;
		else
			p += n;
	return NULL;
}

/* The sample key's value starts with want. */
static void expect_value(const char *key, const char *want)
{
	const char *v = line_of(key);
	cr_assert_not_null(v, "%s is missing in\n%s", key, out.s);
	cr_expect_eq(strncmp(v, want, strlen(want)), 0, "%s: %.12s, want %s", key, v, want);
}

Test(metrics_prom, before_boot_the_monitor_and_api_metrics_only)
{
	mt.startup_us = 1500000;
	mt.lat.pause_vm = 42;
	metrics_prometheus(&mt, NULL, &out);
	cr_assert_gt(check_format(out.s), 10, "%s", out.s);
	expect_value("mvm_process_startup_seconds", "1.500000\n");
	expect_value("mvm_latency_seconds{operation=\"pause_vm\"}", "0.000042\n");
	expect_value("mvm_vm_running", "0\n");
	cr_expect_null(strstr(out.s, "mvm_vcpu_exits_total"), "no VM, no vCPUs");
	cr_expect_not_null(line_of("mvm_api_requests_total{method=\"PUT\",resource=\"actions\"}"));
	cr_expect_not_null(line_of("mvm_mmds_rx_count_total"));
}

Test(metrics_prom, api_counters_are_whole_counts)
{
	unsigned n;
	struct api_counter *c = api_counters(&n);
	char key[160];
	cr_assert_gt(n, 0);
	c[0].count = 7;
	c[0].prev_count = 5; /* the JSON line's delta base: not used here */
	c[0].fails = 2;
	metrics_prometheus(&mt, NULL, &out);
	check_format(out.s);
	snprintf(key, sizeof(key), "mvm_api_requests_total{method=\"%s\",resource=\"%s\"}",
		 c[0].group == API_METRIC_GET	? "GET"
		 : c[0].group == API_METRIC_PUT ? "PUT"
						: "PATCH",
		 c[0].name);
	expect_value(key, "7\n");
	c[0].count = c[0].prev_count = c[0].fails = 0;
}

Test(metrics_prom, a_device_is_labelled_and_counts_accumulate)
{
	static struct guest_mem mem = { .size = 64u << 20 };
	struct balloon_cfg bc = { .amount_mib = 1 };
	struct balloon *b = balloon_create(&bc, &mem);
	cr_assert_not_null(b);
	struct vm *vm = calloc(1, sizeof(*vm));
	cr_assert_not_null(vm);
	vm->vcpus = (struct vcpu *)vm; /* built (never read: nr_vcpus is 0) */
	vm->devs[0] = (struct vm_device){ .type = &balloon_type, .cfg = &bc, .dev = b };
	vm->nr_devs = 1;
	vm->start_us = 1000;
	vm->phase_us[0] = 1500, vm->phase_us[1] = 2500, vm->phase_us[2] = 4500;
	vm->phase_us[3] = 5000;
	uint8_t st[10] = { 0x7f, 0x00 };
	for (int scrape = 1; scrape <= 2; scrape++) {
		balloon_parse_stats(b, st, sizeof(st));
		strbuf_fini(&out);
		strbuf_init(&out);
		metrics_prometheus(&mt, vm, &out);
		check_format(out.s);
		const char *v =
		    line_of("mvm_balloon_stats_updates_count_total{device=\"balloon\"}");
		cr_assert_not_null(v, "%s", out.s);
		cr_expect_eq(*v - '0', scrape, "a whole count, not a delta: %.4s", v);
	}
	expect_value("mvm_boot_phase_seconds{phase=\"kernel_load\"}", "0.001000\n");
	expect_value("mvm_boot_build_seconds", "0.004000\n");
	mt.restored = true;
	mt.restore_us[3] = 2500;
	strbuf_fini(&out);
	strbuf_init(&out);
	metrics_prometheus(&mt, vm, &out);
	check_format(out.s);
	cr_expect_null(strstr(out.s, "mvm_boot_phase_seconds"), "a restored VM did not boot");
	cr_expect_not_null(line_of("mvm_restore_phase_seconds{phase=\"build\"}"));
	cr_expect_not_null(line_of("mvm_restore_seconds"));
	balloon_destroy(b);
	free(vm);
}
