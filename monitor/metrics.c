#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../lib/strbuf.h"
#include "../lib/util.h"
#include "../virtio/registry.h"
#include "../vmm/vcpu.h"
#include "../vmm/vm.h"
#include "../vmm/x86/serial.h"
#include "request.h"

void metrics_init(struct metrics *mt)
{
	memset(mt, 0, sizeof(*mt));
	mt->fd = -1;
}

void metrics_fini(struct metrics *mt)
{
	if (mt->fd >= 0)
		close(mt->fd);
	mt->fd = -1;
}

int metrics_set_path(struct metrics *mt, const char *path, bool create)
{
	if (mt->fd >= 0)
		return -EALREADY;
	int fd = log_open_sink(path, create);
	if (fd < 0)
		return fd;
	mt->fd = fd;
	return 0;
}

static void collect_own(const struct vm *vm, struct own_counters *d)
{
	memset(d, 0, sizeof(*d));
	if (!vm || !vm->vcpus)
		return;
	if (vm->serial) {
		struct serial_stats s;
		serial_get_stats(vm->serial, &s);
		d->uart_write_count = s.tx_bytes;
		d->uart_read_count = s.rx_bytes;
		d->uart_missed_write = s.missed_write;
		d->uart_missed_read = s.missed_read;
	}
	for (int i = 0; i < vm->nr_vcpus; i++) {
		const struct vcpu_stats *s = &vm->vcpus[i].stats;
		d->vcpu_io_in += s->exit_io_in;
		d->vcpu_io_out += s->exit_io_out;
		d->vcpu_mmio_read += s->exit_mmio_read;
		d->vcpu_mmio_write += s->exit_mmio_write;
		d->vcpu_failures += s->failures;
	}
}

/* A counter's growth since the last line (a new device starts again at 0). */
static unsigned long long delta(uint64_t cur, uint64_t prev)
{
	return (unsigned long long)(cur >= prev ? cur - prev : cur);
}

/* Each device type's section: its values summed over the VM's devices of it. */
static void devices_json(struct metrics *mt, const struct vm *vm, struct strbuf *b,
			 uint64_t now[METRICS_MAX_TYPES][METRICS_MAX_VALUES])
{
	for (unsigned k = 0; k < nr_device_types && k < METRICS_MAX_TYPES; k++) {
		const struct device_type *t = device_types[k];
		uint64_t v[METRICS_MAX_VALUES];
		unsigned n =
		    t->nr_metrics < METRICS_MAX_VALUES ? t->nr_metrics : METRICS_MAX_VALUES;
		for (int i = 0; vm && vm->vcpus && i < vm->nr_devs; i++) {
			if (vm->devs[i].type != t)
				continue;
			memset(v, 0, sizeof(v));
			t->stats(vm->devs[i].dev, v);
			for (unsigned x = 0; x < n; x++)
				now[k][x] += v[x];
		}
		strbuf_printf(b, ",\"%s\":{", t->metrics_key);
		for (unsigned x = 0; x < n; x++)
			strbuf_printf(b, "%s\"%s\":%llu", x ? "," : "", t->metrics[x].name,
				      t->metrics[x].gauge ? (unsigned long long)now[k][x]
							  : delta(now[k][x], mt->dev_prev[k][x]));
		strbuf_printf(b, "}");
	}
}

static void api_json(struct strbuf *b, enum api_metric_group g, const char *key)
{
	unsigned n, written = 0;
	struct api_counter *c = api_counters(&n);
	strbuf_printf(b, ",\"%s\":{", key);
	for (unsigned i = 0; i < n; i++) {
		if (c[i].group != g)
			continue;
		strbuf_printf(b, "%s\"%s_count\":%llu", written++ ? "," : "", c[i].name,
			      delta(c[i].count, c[i].prev_count));
		if (g != API_METRIC_GET)
			strbuf_printf(b, ",\"%s_fails\":%llu", c[i].name,
				      delta(c[i].fails, c[i].prev_fails));
	}
	strbuf_printf(b, "}");
}

#define DELTA(cur, prev, f) delta((cur)->f, (prev)->f)

int metrics_flush(struct metrics *mt, const struct vm *vm)
{
	struct timeval tv;
	struct strbuf b;
	struct own_counters d;
	const struct own_counters *q = &mt->own_prev;
	uint64_t now[METRICS_MAX_TYPES][METRICS_MAX_VALUES] = { { 0 } };
	struct mmds_metrics mmds_now;

	if (mt->fd < 0)
		return 0;
	gettimeofday(&tv, NULL);
	collect_own(vm, &d);
	strbuf_init(&b);
	strbuf_printf(&b, "{\"utc_timestamp_ms\":%llu",
		      (unsigned long long)tv.tv_sec * 1000 + (unsigned long long)tv.tv_usec / 1000);
	strbuf_printf(&b,
		      ",\"api_server\":{\"process_startup_time_us\":%llu,"
		      "\"process_startup_time_cpu_us\":%llu}",
		      (unsigned long long)mt->startup_us, (unsigned long long)mt->startup_cpu_us);
	api_json(&b, API_METRIC_GET, "get_api_requests");
	api_json(&b, API_METRIC_PUT, "put_api_requests");
	api_json(&b, API_METRIC_PATCH, "patch_api_requests");
	devices_json(mt, vm, &b, now);
	mmds_metrics_json(&b, &mt->mmds_prev, &mmds_now);
	strbuf_printf(&b,
		      ",\"latencies_us\":{\"pause_vm\":%llu,\"resume_vm\":%llu,\"vmm_start\":%llu,"
		      "\"full_create_snapshot\":%llu,\"diff_create_snapshot\":%llu,"
		      "\"load_snapshot\":%llu}",
		      (unsigned long long)mt->lat.pause_vm, (unsigned long long)mt->lat.resume_vm,
		      (unsigned long long)mt->lat.vmm_start,
		      (unsigned long long)mt->lat.full_create_snapshot,
		      (unsigned long long)mt->lat.diff_create_snapshot,
		      (unsigned long long)mt->lat.load_snapshot);
	unsigned long long missed_log = log_dropped();
	strbuf_printf(&b, ",\"logger\":{\"metrics_fails\":%llu,\"missed_log_count\":%llu}",
		      (unsigned long long)mt->flush_fails, delta(missed_log, mt->missed_log_prev));
	strbuf_printf(&b,
		      ",\"uart\":{\"write_count\":%llu,\"read_count\":%llu,"
		      "\"missed_write_count\":%llu,\"missed_read_count\":%llu}",
		      DELTA(&d, q, uart_write_count), DELTA(&d, q, uart_read_count),
		      DELTA(&d, q, uart_missed_write), DELTA(&d, q, uart_missed_read));
	strbuf_printf(&b,
		      ",\"vcpu\":{\"exit_io_in\":%llu,\"exit_io_out\":%llu,\"exit_mmio_read\":%llu,"
		      "\"exit_mmio_write\":%llu,\"failures\":%llu}}\n",
		      DELTA(&d, q, vcpu_io_in), DELTA(&d, q, vcpu_io_out),
		      DELTA(&d, q, vcpu_mmio_read), DELTA(&d, q, vcpu_mmio_write),
		      DELTA(&d, q, vcpu_failures));
	int r = b.oom ? -ENOMEM : write_full(mt->fd, b.s, b.len);
	strbuf_fini(&b);
	if (r) {
		mt->flush_fails++;
		return r;
	}
	unsigned n;
	struct api_counter *c = api_counters(&n);
	for (unsigned i = 0; i < n; i++) {
		c[i].prev_count = c[i].count;
		c[i].prev_fails = c[i].fails;
	}
	mt->own_prev = d;
	mt->mmds_prev = mmds_now;
	mt->missed_log_prev = missed_log;
	memcpy(mt->dev_prev, now, sizeof(now));
	return 0;
}
