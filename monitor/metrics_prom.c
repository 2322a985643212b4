/*
 * GET /metrics: what metrics.c writes as Firecracker's JSON lines, in the
 * Prometheus text exposition format (0.0.4) that monitoring scrapes. Counters
 * are whole counts since the monitor started (Prometheus takes the rates),
 * named mvm_<group>_<metric>_total; levels and durations are gauges, in
 * seconds. Devices and vCPUs are labelled one by one rather than summed.
 */
#include <stdio.h>
#include <string.h>

#include "../lib/log.h"
#include "../lib/strbuf.h"
#include "../lib/util.h"
#include "../virtio/registry.h"
#include "../vmm/vcpu.h"
#include "../vmm/vm.h"
#include "../vmm/x86/serial.h"
#include "metrics.h"
#include "request.h"

static void family(struct strbuf *b, const char *name, bool gauge, const char *help)
{
	strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
		      gauge ? "gauge" : "counter");
}

/* One unlabelled sample under its own family. */
static void single(struct strbuf *b, const char *name, bool gauge, const char *help, uint64_t v)
{
	family(b, name, gauge, help);
	strbuf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void seconds(struct strbuf *b, const char *name, const char *labels, uint64_t us)
{
	strbuf_printf(b, "%s%s %llu.%06llu\n", name, labels, (unsigned long long)(us / 1000000),
		      (unsigned long long)(us % 1000000));
}

static void single_seconds(struct strbuf *b, const char *name, const char *help, uint64_t us)
{
	family(b, name, true, help);
	seconds(b, name, "", us);
}

static const char *method_name(enum api_metric_group g)
{
	return g == API_METRIC_GET ? "GET" : g == API_METRIC_PUT ? "PUT" : "PATCH";
}

static void api_requests(struct strbuf *b)
{
	unsigned n;
	const struct api_counter *c = api_counters(&n);
	family(b, "mvm_api_requests_total", false,
	       "API requests answered, by method and Firecracker's resource name.");
	for (unsigned i = 0; i < n; i++)
		strbuf_printf(b, "mvm_api_requests_total{method=\"%s\",resource=\"%s\"} %llu\n",
			      method_name(c[i].group), c[i].name, (unsigned long long)c[i].count);
	family(b, "mvm_api_request_fails_total", false,
	       "API requests refused or failed, by method and resource.");
	for (unsigned i = 0; i < n; i++)
		strbuf_printf(b,
			      "mvm_api_request_fails_total{method=\"%s\",resource=\"%s\"} %llu\n",
			      method_name(c[i].group), c[i].name, (unsigned long long)c[i].fails);
}

/* Each device type's metrics, one sample per device labelled with its id. */
static void devices(const struct vm *vm, struct strbuf *b)
{
	for (unsigned k = 0; k < nr_device_types; k++) {
		const struct device_type *t = device_types[k];
		int have = 0;
		for (int i = 0; i < vm->nr_devs; i++)
			have += vm->devs[i].type == t;
		unsigned nm =
		    t->nr_metrics < METRICS_MAX_VALUES ? t->nr_metrics : METRICS_MAX_VALUES;
		for (unsigned x = 0; have && x < nm; x++) {
			const struct dev_metric *dm = &t->metrics[x];
			char name[128], help[192];
			snprintf(name, sizeof(name), "mvm_%s_%s%s", t->metrics_key, dm->name,
				 dm->gauge ? "" : "_total");
			snprintf(help, sizeof(help), "%s: %s (Firecracker's %s.%s), per device.",
				 t->noun, dm->help ? dm->help : dm->name, t->metrics_key, dm->name);
			family(b, name, dm->gauge, help);
			for (int i = 0; i < vm->nr_devs; i++) {
				uint64_t v[METRICS_MAX_VALUES] = { 0 };
				if (vm->devs[i].type != t)
					continue;
				t->stats(vm->devs[i].dev, v);
				strbuf_printf(b, "%s{device=\"%s\"} %llu\n", name,
					      t->id ? t->id(vm->devs[i].cfg) : t->name,
					      (unsigned long long)v[x]);
			}
		}
	}
}

static void vcpus(const struct vm *vm, struct strbuf *b)
{
	static const char *const reason[] = { "io_in", "io_out", "mmio_read", "mmio_write" };
	family(b, "mvm_vcpu_exits_total", false,
	       "KVM_RUN exits the monitor handled, per vCPU and reason.");
	for (int i = 0; i < vm->nr_vcpus; i++) {
		const struct vcpu_stats *s = &vm->vcpus[i].stats;
		uint64_t v[] = { s->exit_io_in, s->exit_io_out, s->exit_mmio_read,
				 s->exit_mmio_write };
		for (size_t r = 0; r < ARRAY_SIZE(v); r++)
			strbuf_printf(b, "mvm_vcpu_exits_total{vcpu=\"%d\",reason=\"%s\"} %llu\n",
				      i, reason[r], (unsigned long long)v[r]);
	}
	family(b, "mvm_vcpu_failures_total", false, "vCPU run failures, per vCPU.");
	for (int i = 0; i < vm->nr_vcpus; i++)
		strbuf_printf(b, "mvm_vcpu_failures_total{vcpu=\"%d\"} %llu\n", i,
			      (unsigned long long)vm->vcpus[i].stats.failures);
}

static void uart(const struct vm *vm, struct strbuf *b)
{
	struct serial_stats s;
	serial_get_stats(vm->serial, &s);
	single(b, "mvm_uart_write_bytes_total", false, "Bytes the guest wrote to its console.",
	       s.tx_bytes);
	single(b, "mvm_uart_read_bytes_total", false, "Bytes the guest read from its console.",
	       s.rx_bytes);
	single(b, "mvm_uart_missed_write_bytes_total", false, "Console bytes the output refused.",
	       s.missed_write);
	single(b, "mvm_uart_missed_read_bytes_total", false,
	       "Console input bytes dropped on a full FIFO.", s.missed_read);
}

/* How long building the VM took, phase by phase: boot or snapshot restore. */
static void phases(const struct metrics *mt, const struct vm *vm, struct strbuf *b)
{
	static const char *const boot[] = { "kvm_and_memory", "kernel_load",
					    "devices_and_boot_data", "vcpus" };
	static const char *const restore[] = { "read", "build", "state" };
	char labels[64];
	if (mt->restored) {
		family(b, "mvm_restore_phase_seconds", true,
		       "The snapshot load's phases: read the state, build the VM, restore state.");
		for (size_t i = 0; i < ARRAY_SIZE(restore); i++) {
			snprintf(labels, sizeof(labels), "{phase=\"%s\"}", restore[i]);
			seconds(b, "mvm_restore_phase_seconds", labels, mt->restore_us[i]);
		}
		single_seconds(b, "mvm_restore_seconds", "The snapshot load, read to resumable.",
			       mt->restore_us[3]);
		single(b, "mvm_working_set_prefetched_pages", true,
		       "Pages of the recorded working set the load prefetched (0: none).",
		       atomic_load(&vm->prefetch_pages));
		single_seconds(b, "mvm_working_set_prefetch_seconds",
			       "How long that prefetch took (async: beside the vCPUs).",
			       atomic_load(&vm->prefetch_us));
		single(b, "mvm_working_set_recorded_pages", true,
		       "Pages the load's recording window found touched (0: none yet).",
		       mt->wset_recorded_pages);
		return;
	}
	family(b, "mvm_boot_phase_seconds", true,
	       "The VM build's phases from InstanceStart, each on its own.");
	uint64_t prev = vm->start_us;
	for (size_t i = 0; i < ARRAY_SIZE(boot); i++) {
		snprintf(labels, sizeof(labels), "{phase=\"%s\"}", boot[i]);
		seconds(b, "mvm_boot_phase_seconds", labels, vm->phase_us[i] - prev);
		prev = vm->phase_us[i];
	}
	single_seconds(b, "mvm_boot_build_seconds", "InstanceStart to the vCPUs ready.",
		       vm->phase_us[3] - vm->start_us);
	if (vm->boot_timer_on && vm->boot_timer.boot_us)
		single_seconds(b, "mvm_boot_guest_seconds",
			       "InstanceStart to the guest's boot-timer write (--boot-timer).",
			       vm->boot_timer.boot_us);
}

static void latencies(const struct metrics *mt, struct strbuf *b)
{
	const struct latencies *l = &mt->lat;
	const struct {
		const char *name;
		uint64_t us;
	} lat[] = { { "pause_vm", l->pause_vm },
		    { "resume_vm", l->resume_vm },
		    { "vmm_start", l->vmm_start },
		    { "full_create_snapshot", l->full_create_snapshot },
		    { "diff_create_snapshot", l->diff_create_snapshot },
		    { "load_snapshot", l->load_snapshot } };
	family(b, "mvm_latency_seconds", true,
	       "The last duration of each operation (Firecracker's latencies_us).");
	for (size_t i = 0; i < ARRAY_SIZE(lat); i++) {
		char labels[64];
		snprintf(labels, sizeof(labels), "{operation=\"%s\"}", lat[i].name);
		seconds(b, "mvm_latency_seconds", labels, lat[i].us);
	}
}

void metrics_prometheus(const struct metrics *mt, const struct vm *vm, struct strbuf *b)
{
	single_seconds(b, "mvm_process_startup_seconds", "Process start to the API being served.",
		       mt->startup_us);
	single_seconds(b, "mvm_process_startup_cpu_seconds",
		       "CPU time the process used until the API was served.", mt->startup_cpu_us);
	api_requests(b);
	latencies(mt, b);
	single(b, "mvm_logger_metrics_fails_total", false,
	       "Metrics lines that could not be written.", mt->flush_fails);
	single(b, "mvm_logger_missed_log_total", false, "Log lines dropped on a full log sink.",
	       log_dropped());
	mmds_metrics_prometheus(b);
	single(b, "mvm_vm_running", true, "1 while a VM is built and its vCPUs run or are paused.",
	       vm && vm->vcpus ? 1 : 0);
	if (!vm || !vm->vcpus)
		return;
	single(b, "mvm_vm_vcpus", true, "vCPUs of the VM.", (uint64_t)vm->nr_vcpus);
	single(b, "mvm_vm_memory_bytes", true, "Guest RAM.", vm->mem.size);
	if (vm->serial)
		uart(vm, b);
	vcpus(vm, b);
	devices(vm, b);
	phases(mt, vm, b);
}
