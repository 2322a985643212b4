/* snapshot/devices.c: the device section read back into a config, and refused when corrupt. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../snapshot/format.h"
#include "../../snapshot/snapshot.h"
#include "../../snapshot/state.h"
#include "../../lib/log.h"

static char path[64];

static void setup(void)
{
	log_set_level(LOG_OFF);
	snprintf(path, sizeof(path), "/tmp/mvm-snapdev-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
}

static void teardown(void)
{
	unlink(path);
}

TestSuite(snap_devices, .init = setup, .fini = teardown);

static struct snap_devices good(void)
{
	struct snap_devices d;
	memset(&d, 0, sizeof(d));
	d.nr_nets = 2;
	snprintf(d.nets[0].iface_id, sizeof(d.nets[0].iface_id), "eth0");
	snprintf(d.nets[0].host_dev_name, sizeof(d.nets[0].host_dev_name), "tap0");
	memcpy(d.nets[0].guest_mac, "\x06\x00\xac\x10\x00\x02", 6);
	d.nets[0].has_mac = 1;
	d.nets[0].rx.bandwidth = (struct bucket_cfg){ 1000, 0, 100 };
	snprintf(d.nets[1].iface_id, sizeof(d.nets[1].iface_id), "eth1");
	snprintf(d.nets[1].host_dev_name, sizeof(d.nets[1].host_dev_name), "tap1");
	d.vsock = 1;
	d.vsock_cid = 9;
	snprintf(d.vsock_uds_path, sizeof(d.vsock_uds_path), "/run/v.sock");
	d.balloon = 1;
	d.balloon_amount_mib = 16;
	d.balloon_deflate_on_oom = 1;
	d.balloon_stats_s = 5;
	d.entropy_rl.ops = (struct bucket_cfg){ 10, 2, 1000 };
	d.drive_rl[0].bandwidth = (struct bucket_cfg){ 4096, 0, 10 };
	return d;
}

/* Write d (or raw bytes) as the device section, read it back into cfg. */
static int load(const void *d, size_t len, uint32_t ver, struct vm_config *cfg,
		const struct snapshot_load *req, struct err *e)
{
	struct snap_writer *w = snap_writer_create();
	struct snap_reader *rd;
	cr_assert_not_null(w);
	cr_assert_eq(snap_writer_add(w, SNAP_SEC_DEVICES, ver, d, len), 0);
	cr_assert_eq(snap_writer_write_file(w, path), 0);
	snap_writer_destroy(w);
	cr_assert_eq(snap_reader_open_file(path, 0, &rd, e), 0, "%s", err);
	vm_config_init(cfg);
	cfg->machine.mem_size_mib = 64;
	cfg->nr_drives = 1;
	cfg->drives[0].path_on_host = strdup("/d");
	int r = snap_devices_config(rd, cfg, req, e);
	snap_reader_destroy(rd);
	return r;
}

Test(snap_devices, round_trip_with_overrides)
{
	struct snap_devices d = good();
	struct snapshot_load req;
	struct vm_config c;
	char err[256] = "";
	memset(&req, 0, sizeof(req));
	req.nr_net_overrides = 1;
	snprintf(req.net_overrides[0].iface_id, sizeof(req.net_overrides[0].iface_id), "eth1");
	snprintf(req.net_overrides[0].host_dev_name, sizeof(req.net_overrides[0].host_dev_name),
		 "clonetap");
	req.vsock_uds_override = "/run/clone.sock";
	cr_assert_eq(load(&d, sizeof(d), SNAP_DEVICES_V, &c, &req, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(c.nr_nets, 2);
	cr_expect_str_eq(c.nets[0].host_dev_name, "tap0");
	cr_expect_str_eq(c.nets[1].host_dev_name, "clonetap");
	cr_expect(c.nets[0].has_mac);
	cr_expect_eq(c.nets[0].rx_rate_limiter.bandwidth.size, 1000);
	cr_expect(c.vsock.present);
	cr_expect_str_eq(c.vsock.uds_path, "/run/clone.sock");
	cr_expect(c.balloon.present);
	cr_expect_eq(c.balloon.amount_mib, 16);
	cr_expect_eq(c.entropy_rl.ops.one_time_burst, 2);
	cr_expect_eq(c.drives[0].rate_limiter.bandwidth.size, 4096);
	cr_expect_eq(config_nr_devices(&c), 1 + 2 + 1 + 1);
	vm_config_fini(&c);
}

Test(snap_devices, corrupt_sections_are_refused)
{
	static const char *const names[] = {
		"nine nets",	     "iface id not terminated",
		"bad iface id",	     "empty tap name",
		"has_mac 2",	     "vsock cid 2",
		"vsock cid max",     "uds path empty",
		"uds too long",	     "balloon > memory",
		"deflate flag 7",    "stats a year",
		"bucket too big",    "refill 0 with a size",
		"drive limiter bad", "vsock flag 2",
	};
	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++) {
		struct snap_devices d = good();
		switch (i) {
		case 0: d.nr_nets = 9; break;
		case 1: memset(d.nets[0].iface_id, 'a', sizeof(d.nets[0].iface_id)); break;
		case 2: snprintf(d.nets[0].iface_id, sizeof(d.nets[0].iface_id), "e-0"); break;
		case 3: d.nets[1].host_dev_name[0] = '\0'; break;
		case 4: d.nets[0].has_mac = 2; break;
		case 5: d.vsock_cid = 2; break;
		case 6: d.vsock_cid = UINT32_MAX; break;
		case 7: d.vsock_uds_path[0] = '\0'; break;
		case 8: memset(d.vsock_uds_path, 'a', sizeof(d.vsock_uds_path)); break;
		case 9: d.balloon_amount_mib = 65; break;
		case 10: d.balloon_deflate_on_oom = 7; break;
		case 11: d.balloon_stats_s = 365 * 86400; break;
		case 12: d.nets[0].tx.ops = (struct bucket_cfg){ MVM_RL_MAX_SIZE + 1, 0, 1 }; break;
		case 13: d.entropy_rl.bandwidth = (struct bucket_cfg){ 5, 0, 0 }; break;
		case 14:
			d.drive_rl[0].ops = (struct bucket_cfg){ 1, 0, MVM_RL_MAX_REFILL + 1 };
			break;
		case 15: d.vsock = 2; break;
		}
		struct snapshot_load req;
		struct vm_config c;
		char err[256] = "";
		memset(&req, 0, sizeof(req));
		cr_expect_neq(load(&d, sizeof(d), SNAP_DEVICES_V, &c, &req, err, sizeof(err)), 0,
			      "%s accepted", names[i]);
		vm_config_fini(&c);
	}
}

Test(snap_devices, wrong_size_version_or_overrides)
{
	struct snap_devices d = good();
	struct snapshot_load req;
	struct vm_config c;
	char err[256] = "";
	memset(&req, 0, sizeof(req));
	cr_expect_neq(load(&d, sizeof(d) - 8, SNAP_DEVICES_V, &c, &req, err, sizeof(err)), 0,
		      "truncated");
	vm_config_fini(&c);
	cr_expect_neq(load(&d, sizeof(d), SNAP_DEVICES_V + 1, &c, &req, err, sizeof(err)), 0,
		      "another version");
	vm_config_fini(&c);
	req.nr_net_overrides = 1;
	snprintf(req.net_overrides[0].iface_id, sizeof(req.net_overrides[0].iface_id), "eth7");
	snprintf(req.net_overrides[0].host_dev_name, sizeof(req.net_overrides[0].host_dev_name),
		 "t");
	cr_expect_neq(load(&d, sizeof(d), SNAP_DEVICES_V, &c, &req, err, sizeof(err)), 0);
	cr_expect(strstr(err, "eth7") != NULL, "%s", err);
	vm_config_fini(&c);
	req.nr_net_overrides = 0;
	d.vsock = 0;
	req.vsock_uds_override = "/v";
	cr_expect_neq(load(&d, sizeof(d), SNAP_DEVICES_V, &c, &req, err, sizeof(err)), 0);
	cr_expect(strstr(err, "no vsock") != NULL, "%s", err);
	vm_config_fini(&c);
}
