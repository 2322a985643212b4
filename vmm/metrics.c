#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "../virtio/balloon.h"
#include "../virtio/blk.h"
#include "../virtio/net.h"
#include "../virtio/rng.h"
#include "../virtio/vsock.h"
#include "log.h"
#include "strbuf.h"
#include "util.h"
#include "vcpu.h"
#include "vm.h"
#include "x86/serial.h"

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

int metrics_set_path(struct metrics *mt, const char *path)
{
	if (mt->fd >= 0)
		return -EALREADY;
	/* O_NONBLOCK: a FIFO nobody reads must not stall the monitor. */
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd < 0)
		return -errno;
	mt->fd = fd;
	return 0;
}

/* Network interfaces (summed), vsock and balloon. */
static void collect_devices(const struct vm *vm, struct dev_counters *d)
{
	for (int i = 0; i < MVM_MAX_NETS; i++) {
		struct net_stats s;
		if (!vm->net[i])
			continue;
		net_get_stats(vm->net[i], &s);
		d->net_rx_bytes += s.rx_bytes;
		d->net_rx_packets += s.rx_packets;
		d->net_rx_dropped += s.rx_dropped;
		d->net_rx_fails += s.rx_fails;
		d->net_no_rx_buf += s.rx_no_buffers;
		d->net_tx_bytes += s.tx_bytes;
		d->net_tx_packets += s.tx_packets;
		d->net_tx_malformed += s.tx_malformed;
		d->net_tx_fails += s.tx_fails;
		d->net_rx_throttled += s.rx_throttled;
		d->net_tx_throttled += s.tx_throttled;
	}
	if (vm->vsock) {
		struct vsock_stats s;
		vsock_get_stats(vm->vsock, &s);
		d->vs_rx_bytes = s.rx_bytes;
		d->vs_tx_bytes = s.tx_bytes;
		d->vs_rx_packets = s.rx_packets;
		d->vs_tx_packets = s.tx_packets;
		d->vs_conns_added = s.conns_added;
		d->vs_conns_removed = s.conns_removed;
		d->vs_conn_fails = s.conn_fails;
		d->vs_bad_packets = s.bad_packets;
		d->vs_resets = s.resets;
	}
	if (vm->balloon) {
		struct balloon_stats s;
		balloon_get_stats(vm->balloon, &s);
		d->bal_inflated = s.inflated_pages;
		d->bal_deflated = s.deflated_pages;
		d->bal_stats = s.stats_updates;
		d->bal_bad_stats = s.bad_stats;
		d->bal_unknown_tags = s.unknown_tags;
		d->bal_invalid_pfns = s.invalid_pfns;
		d->bal_released = s.released_bytes;
	}
}

static void collect(const struct vm *vm, struct dev_counters *d)
{
	memset(d, 0, sizeof(*d));
	if (!vm || !vm->vcpus)
		return;
	for (int i = 0; i < MVM_MAX_DRIVES; i++) {
		struct blk_stats s;
		if (!vm->blk[i])
			continue;
		blk_get_stats(vm->blk[i], &s);
		d->blk_read_bytes += s.read_bytes;
		d->blk_write_bytes += s.write_bytes;
		d->blk_read_count += s.read_count;
		d->blk_write_count += s.write_count;
		d->blk_flush_count += s.flush_count;
		d->blk_invalid_reqs += s.invalid_reqs;
		d->blk_io_errors += s.io_errors;
		d->blk_throttled += s.rate_limiter_throttled;
	}
	collect_devices(vm, d);
	if (vm->rng) {
		struct rng_stats s;
		rng_get_stats(vm->rng, &s);
		d->entropy_bytes = s.bytes;
		d->entropy_requests = s.requests;
		d->entropy_fails = s.fails;
		d->entropy_throttled = s.rate_limiter_throttled;
	}
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

#define DELTA(cur, prev, f) ((unsigned long long)((cur)->f - (prev)->f))

static void metrics_devices(struct strbuf *b, const struct dev_counters *d,
			    const struct dev_counters *q)
{
	strbuf_printf(
	    b,
	    ",\"net\":{\"rx_bytes_count\":%llu,\"rx_packets_count\":%llu,"
	    "\"rx_dropped_frames\":%llu,\"rx_fails\":%llu,\"no_rx_avail_buffer\":%llu,"
	    "\"tx_bytes_count\":%llu,\"tx_packets_count\":%llu,"
	    "\"tx_malformed_frames\":%llu,\"tx_fails\":%llu,"
	    "\"rx_rate_limiter_throttled\":%llu,\"tx_rate_limiter_throttled\":%llu}",
	    DELTA(d, q, net_rx_bytes), DELTA(d, q, net_rx_packets), DELTA(d, q, net_rx_dropped),
	    DELTA(d, q, net_rx_fails), DELTA(d, q, net_no_rx_buf), DELTA(d, q, net_tx_bytes),
	    DELTA(d, q, net_tx_packets), DELTA(d, q, net_tx_malformed), DELTA(d, q, net_tx_fails),
	    DELTA(d, q, net_rx_throttled), DELTA(d, q, net_tx_throttled));
	strbuf_printf(
	    b,
	    ",\"vsock\":{\"rx_bytes_count\":%llu,\"tx_bytes_count\":%llu,"
	    "\"rx_packets_count\":%llu,\"tx_packets_count\":%llu,\"conns_added\":%llu,"
	    "\"conns_removed\":%llu,\"conn_fails\":%llu,\"bad_packets\":%llu,"
	    "\"transport_resets\":%llu}",
	    DELTA(d, q, vs_rx_bytes), DELTA(d, q, vs_tx_bytes), DELTA(d, q, vs_rx_packets),
	    DELTA(d, q, vs_tx_packets), DELTA(d, q, vs_conns_added), DELTA(d, q, vs_conns_removed),
	    DELTA(d, q, vs_conn_fails), DELTA(d, q, vs_bad_packets), DELTA(d, q, vs_resets));
	strbuf_printf(b,
		      ",\"balloon\":{\"inflate_count\":%llu,\"deflate_count\":%llu,"
		      "\"stats_updates_count\":%llu,\"stats_update_fails\":%llu,"
		      "\"unknown_stats_tags\":%llu,\"invalid_pfns\":%llu,\"released_bytes\":%llu}",
		      DELTA(d, q, bal_inflated), DELTA(d, q, bal_deflated), DELTA(d, q, bal_stats),
		      DELTA(d, q, bal_bad_stats), DELTA(d, q, bal_unknown_tags),
		      DELTA(d, q, bal_invalid_pfns), DELTA(d, q, bal_released));
}

int metrics_flush(struct metrics *mt, const struct vm *vm)
{
	struct timeval tv;
	struct strbuf b;
	struct dev_counters d;
	const struct api_counters *a = &mt->api, *p = &mt->api_prev;
	const struct dev_counters *q = &mt->dev_prev;

	if (mt->fd < 0)
		return 0;
	gettimeofday(&tv, NULL);
	collect(vm, &d);
	strbuf_init(&b);
	strbuf_printf(&b, "{\"utc_timestamp_ms\":%llu",
		      (unsigned long long)tv.tv_sec * 1000 + (unsigned long long)tv.tv_usec / 1000);
	strbuf_printf(&b,
		      ",\"api_server\":{\"process_startup_time_us\":%llu,"
		      "\"process_startup_time_cpu_us\":%llu}",
		      (unsigned long long)mt->startup_us, (unsigned long long)mt->startup_cpu_us);
	strbuf_printf(&b,
		      ",\"block\":{\"read_bytes\":%llu,\"write_bytes\":%llu,\"read_count\":%llu,"
		      "\"write_count\":%llu,\"flush_count\":%llu,\"invalid_reqs_count\":%llu,"
		      "\"execute_fails\":%llu,\"rate_limiter_throttled_events\":%llu}",
		      DELTA(&d, q, blk_read_bytes), DELTA(&d, q, blk_write_bytes),
		      DELTA(&d, q, blk_read_count), DELTA(&d, q, blk_write_count),
		      DELTA(&d, q, blk_flush_count), DELTA(&d, q, blk_invalid_reqs),
		      DELTA(&d, q, blk_io_errors), DELTA(&d, q, blk_throttled));
	strbuf_printf(
	    &b,
	    ",\"get_api_requests\":{\"instance_info_count\":%llu,\"machine_cfg_count\":%llu,"
	    "\"vmm_version_count\":%llu,\"vm_config_count\":%llu}",
	    DELTA(a, p, get_instance_info), DELTA(a, p, get_machine_cfg),
	    DELTA(a, p, get_vmm_version), DELTA(a, p, get_vm_config));
	strbuf_printf(
	    &b,
	    ",\"put_api_requests\":{\"actions_count\":%llu,\"actions_fails\":%llu,"
	    "\"boot_source_count\":%llu,\"boot_source_fails\":%llu,\"drive_count\":%llu,"
	    "\"drive_fails\":%llu,\"logger_count\":%llu,\"logger_fails\":%llu,"
	    "\"machine_cfg_count\":%llu,\"machine_cfg_fails\":%llu,\"metrics_count\":%llu,"
	    "\"metrics_fails\":%llu,\"serial_count\":%llu,\"serial_fails\":%llu,"
	    "\"snapshot_create_count\":%llu,\"snapshot_create_fails\":%llu,"
	    "\"snapshot_load_count\":%llu,\"snapshot_load_fails\":%llu,"
	    "\"network_count\":%llu,\"network_fails\":%llu,\"vsock_count\":%llu,"
	    "\"vsock_fails\":%llu,\"balloon_count\":%llu,\"balloon_fails\":%llu}",
	    DELTA(a, p, put_actions), DELTA(a, p, put_actions_fails), DELTA(a, p, put_boot_source),
	    DELTA(a, p, put_boot_source_fails), DELTA(a, p, put_drive),
	    DELTA(a, p, put_drive_fails), DELTA(a, p, put_logger), DELTA(a, p, put_logger_fails),
	    DELTA(a, p, put_machine_cfg), DELTA(a, p, put_machine_cfg_fails),
	    DELTA(a, p, put_metrics), DELTA(a, p, put_metrics_fails), DELTA(a, p, put_serial),
	    DELTA(a, p, put_serial_fails), DELTA(a, p, put_snapshot_create),
	    DELTA(a, p, put_snapshot_create_fails), DELTA(a, p, put_snapshot_load),
	    DELTA(a, p, put_snapshot_load_fails), DELTA(a, p, put_net), DELTA(a, p, put_net_fails),
	    DELTA(a, p, put_vsock), DELTA(a, p, put_vsock_fails), DELTA(a, p, put_balloon),
	    DELTA(a, p, put_balloon_fails));
	strbuf_printf(&b,
		      ",\"patch_api_requests\":{\"drive_count\":%llu,\"drive_fails\":%llu,"
		      "\"machine_cfg_count\":%llu,\"machine_cfg_fails\":%llu,\"vm_count\":%llu,"
		      "\"vm_fails\":%llu,\"network_count\":%llu,\"network_fails\":%llu,"
		      "\"balloon_count\":%llu,\"balloon_fails\":%llu}",
		      DELTA(a, p, patch_drive), DELTA(a, p, patch_drive_fails),
		      DELTA(a, p, patch_machine_cfg), DELTA(a, p, patch_machine_cfg_fails),
		      DELTA(a, p, patch_vm), DELTA(a, p, patch_vm_fails), DELTA(a, p, patch_net),
		      DELTA(a, p, patch_net_fails), DELTA(a, p, patch_balloon),
		      DELTA(a, p, patch_balloon_fails));
	strbuf_printf(&b,
		      ",\"latencies_us\":{\"pause_vm\":%llu,\"resume_vm\":%llu,\"vmm_start\":%llu,"
		      "\"full_create_snapshot\":%llu,\"diff_create_snapshot\":%llu,"
		      "\"load_snapshot\":%llu}",
		      (unsigned long long)mt->lat.pause_vm, (unsigned long long)mt->lat.resume_vm,
		      (unsigned long long)mt->lat.vmm_start,
		      (unsigned long long)mt->lat.full_create_snapshot,
		      (unsigned long long)mt->lat.diff_create_snapshot,
		      (unsigned long long)mt->lat.load_snapshot);
	strbuf_printf(&b,
		      ",\"entropy\":{\"entropy_bytes\":%llu,\"entropy_event_count\":%llu,"
		      "\"entropy_event_fails\":%llu,\"entropy_rate_limiter_throttled\":%llu}",
		      DELTA(&d, q, entropy_bytes), DELTA(&d, q, entropy_requests),
		      DELTA(&d, q, entropy_fails), DELTA(&d, q, entropy_throttled));
	metrics_devices(&b, &d, q);
	strbuf_printf(&b, ",\"logger\":{\"metrics_fails\":%llu}",
		      (unsigned long long)mt->flush_fails);
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
	mt->api_prev = mt->api;
	mt->dev_prev = d;
	return 0;
}
