/*
 * Metrics in Firecracker's shape: one JSON object per line, written to the
 * metrics file every 60 s, on FlushMetrics and at exit. Counters are deltas
 * since the previous line; latencies are the last value seen.
 */
#ifndef MVM_METRICS_H
#define MVM_METRICS_H

#include <stdint.h>

struct vm;

/* Counters the vmm thread bumps when it answers API requests. */
struct api_counters {
	uint64_t get_instance_info, get_machine_cfg, get_vmm_version, get_vm_config;
	uint64_t put_actions, put_actions_fails, put_boot_source, put_boot_source_fails;
	uint64_t put_drive, put_drive_fails, put_logger, put_logger_fails;
	uint64_t put_machine_cfg, put_machine_cfg_fails, put_metrics, put_metrics_fails;
	uint64_t put_serial, put_serial_fails;
	uint64_t patch_drive, patch_drive_fails, patch_machine_cfg, patch_machine_cfg_fails;
	uint64_t patch_vm, patch_vm_fails;
	uint64_t put_snapshot_create, put_snapshot_create_fails;
	uint64_t put_snapshot_load, put_snapshot_load_fails;
	uint64_t put_entropy, put_entropy_fails;
	uint64_t put_net, put_net_fails, patch_net, patch_net_fails;
	uint64_t put_vsock, put_vsock_fails;
	uint64_t put_balloon, put_balloon_fails, patch_balloon, patch_balloon_fails, get_balloon;
};

struct latencies {
	uint64_t pause_vm, resume_vm, vmm_start;
	uint64_t full_create_snapshot, diff_create_snapshot, load_snapshot;
};

/* Device and vCPU counters, read at flush time. */
struct dev_counters {
	uint64_t blk_read_bytes, blk_write_bytes, blk_read_count, blk_write_count;
	uint64_t blk_flush_count, blk_invalid_reqs, blk_io_errors;
	uint64_t uart_write_count, uart_read_count, uart_missed_write, uart_missed_read;
	uint64_t vcpu_io_in, vcpu_io_out, vcpu_mmio_read, vcpu_mmio_write, vcpu_failures;
	uint64_t entropy_bytes, entropy_requests, entropy_fails;
	uint64_t blk_throttled, entropy_throttled;
	uint64_t net_rx_bytes, net_rx_packets, net_rx_dropped, net_rx_fails, net_no_rx_buf;
	uint64_t net_tx_bytes, net_tx_packets, net_tx_malformed, net_tx_fails;
	uint64_t net_rx_throttled, net_tx_throttled;
	uint64_t vs_rx_bytes, vs_tx_bytes, vs_rx_packets, vs_tx_packets;
	uint64_t vs_conns_added, vs_conns_removed, vs_conn_fails, vs_bad_packets, vs_resets;
	uint64_t bal_inflated, bal_deflated, bal_stats, bal_bad_stats, bal_unknown_tags;
	uint64_t bal_invalid_pfns, bal_released;
};

struct metrics {
	int fd;
	struct api_counters api, api_prev;
	struct dev_counters dev_prev;
	struct latencies lat;
	uint64_t startup_us, startup_cpu_us;
	uint64_t flush_fails;
};

void metrics_init(struct metrics *mt);
void metrics_fini(struct metrics *mt);
/* Open the metrics file (once: a second call is refused, as Firecracker does). */
int metrics_set_path(struct metrics *mt, const char *path);
/* Write one line; no-op without a path. `vm` may be NULL before boot. */
int metrics_flush(struct metrics *mt, const struct vm *vm);

#endif
