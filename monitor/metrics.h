/*
 * Metrics in Firecracker's shape: one JSON object per line, written to the
 * metrics file every 60 s, on FlushMetrics and at exit. Counters are deltas
 * since the previous line; latencies are the last value seen. The API
 * counters come from the route table (request.h), the device sections from
 * each device type's own metrics (vmm/device.h).
 */
#ifndef MVM_METRICS_H
#define MVM_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "../virtio/net/mmds/http.h"

struct vm;

struct latencies {
	uint64_t pause_vm, resume_vm, vmm_start;
	uint64_t full_create_snapshot, diff_create_snapshot, load_snapshot;
};

/* The monitor's own counters (serial, vCPU exits), read at flush time. */
struct own_counters {
	uint64_t uart_write_count, uart_read_count, uart_missed_write, uart_missed_read;
	uint64_t vcpu_io_in, vcpu_io_out, vcpu_mmio_read, vcpu_mmio_write, vcpu_failures;
};

#define METRICS_MAX_TYPES  8  /* device types in the registry */
#define METRICS_MAX_VALUES 16 /* metrics of one device type */

struct metrics {
	int fd;
	struct own_counters own_prev;
	/* each device type's values at the last line, summed over its devices */
	uint64_t dev_prev[METRICS_MAX_TYPES][METRICS_MAX_VALUES];
	struct latencies lat;
	uint64_t startup_us, startup_cpu_us;
	uint64_t flush_fails;	  /* cumulative, as before */
	uint64_t missed_log_prev; /* log_dropped() at the last line */
	struct mmds_metrics mmds_prev;
	/* the last snapshot load's phases (restored: the VM came from one) */
	bool restored;
	uint64_t restore_us[4];	      /* read, build, state, total */
	uint64_t wset_recorded_pages; /* the working set this load recorded */
};

/* mmds_api.c: the "mmds" group, growth since prev; the values now into now. */
void mmds_metrics_json(struct strbuf *b, const struct mmds_metrics *prev, struct mmds_metrics *now);
/* mmds_api.c: the same counters, whole, in Prometheus' text format. */
void mmds_metrics_prometheus(struct strbuf *b);

void metrics_init(struct metrics *mt);
void metrics_fini(struct metrics *mt);
/* Open the metrics file (once: a second call is refused, as Firecracker does). */
/* (create: make a missing file; the API refuses one instead, as Firecracker.) */
int metrics_set_path(struct metrics *mt, const char *path, bool create);
/* Write one line; no-op without a path. `vm` may be NULL before boot. */
int metrics_flush(struct metrics *mt, const struct vm *vm);
/* metrics_prom.c: GET /metrics, every metric above as a whole count (not a
 * delta) in Prometheus' text exposition format 0.0.4, per device, per vCPU,
 * with the boot or restore phases. `vm` may be NULL before boot. */
#define METRICS_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
void metrics_prometheus(const struct metrics *mt, const struct vm *vm, struct strbuf *b);

#endif
