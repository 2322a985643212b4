#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "../virtio/blk.h"
#include "../virtio/rng.h"
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
	}
	if (vm->rng) {
		struct rng_stats s;
		rng_get_stats(vm->rng, &s);
		d->entropy_bytes = s.bytes;
		d->entropy_requests = s.requests;
		d->entropy_fails = s.fails;
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
		      "\"execute_fails\":%llu}",
		      DELTA(&d, q, blk_read_bytes), DELTA(&d, q, blk_write_bytes),
		      DELTA(&d, q, blk_read_count), DELTA(&d, q, blk_write_count),
		      DELTA(&d, q, blk_flush_count), DELTA(&d, q, blk_invalid_reqs),
		      DELTA(&d, q, blk_io_errors));
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
	    "\"snapshot_load_count\":%llu,\"snapshot_load_fails\":%llu}",
	    DELTA(a, p, put_actions), DELTA(a, p, put_actions_fails), DELTA(a, p, put_boot_source),
	    DELTA(a, p, put_boot_source_fails), DELTA(a, p, put_drive),
	    DELTA(a, p, put_drive_fails), DELTA(a, p, put_logger), DELTA(a, p, put_logger_fails),
	    DELTA(a, p, put_machine_cfg), DELTA(a, p, put_machine_cfg_fails),
	    DELTA(a, p, put_metrics), DELTA(a, p, put_metrics_fails), DELTA(a, p, put_serial),
	    DELTA(a, p, put_serial_fails), DELTA(a, p, put_snapshot_create),
	    DELTA(a, p, put_snapshot_create_fails), DELTA(a, p, put_snapshot_load),
	    DELTA(a, p, put_snapshot_load_fails));
	strbuf_printf(&b,
		      ",\"patch_api_requests\":{\"drive_count\":%llu,\"drive_fails\":%llu,"
		      "\"machine_cfg_count\":%llu,\"machine_cfg_fails\":%llu,\"vm_count\":%llu,"
		      "\"vm_fails\":%llu}",
		      DELTA(a, p, patch_drive), DELTA(a, p, patch_drive_fails),
		      DELTA(a, p, patch_machine_cfg), DELTA(a, p, patch_machine_cfg_fails),
		      DELTA(a, p, patch_vm), DELTA(a, p, patch_vm_fails));
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
		      "\"entropy_event_fails\":%llu}",
		      DELTA(&d, q, entropy_bytes), DELTA(&d, q, entropy_requests),
		      DELTA(&d, q, entropy_fails));
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
