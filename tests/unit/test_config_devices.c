/*
 * vmm/config.c: the VM config's list of devices, of any type: put (add or
 * replace by id, every type's rules checked, the virtio-mmio slots counted),
 * find, count and validate; and monitor/config_file.c's one-section entry,
 * config_add_device_json().
 */
#include "config_util.h"

TestSuite(config_devices, .init = config_setup, .fini = config_teardown);

#define DRIVE(id, root) \
	"{\"drive_id\":\"" id "\",\"path_on_host\":\"/d\",\"is_root_device\":" root "}"

/* A drive config as the parser leaves it: malloc'd, owning its strings. */
static struct drive_cfg *new_drive(const char *id, const char *path, bool root)
{
	struct drive_cfg *d = calloc(1, sizeof(*d));
	cr_assert_not_null(d);
	snprintf(d->drive_id, sizeof(d->drive_id), "%s", id);
	d->path_on_host = strdup(path);
	d->is_root_device = root;
	return d;
}

Test(config_devices, put_drive_replaces_by_id_and_guards_the_root)
{
	struct drive_cfg *d = new_drive("root", "/one", true);
	cr_assert_eq(config_put_device(&cfg, &blk_type, d, false, &err), 0, "%s", err.msg);
	cr_expect_eq(cfg.devs[0].cfg, d, "ownership moves into the config");
	cr_expect_eq(cfg.devs[0].type, &blk_type);

	struct drive_cfg *again = new_drive("root", "/two", true);
	cr_assert_eq(config_put_device(&cfg, &blk_type, again, false, &err), 0,
		     "same id replaces: %s", err.msg);
	cr_expect_eq(cfg.nr_devs, 1);
	cr_expect_str_eq(drive(&cfg, 0)->path_on_host, "/two");

	/* Refused: the config is unchanged and the refused config is freed (ASan). */
	struct drive_cfg *other = new_drive("other", "/three", true);
	cr_expect_eq(config_put_device(&cfg, &blk_type, other, false, &err), -EINVAL);
	cr_expect(strstr(err.msg, "'other'") && strstr(err.msg, "'root'"), "%s", err.msg);
	cr_expect_eq(cfg.nr_devs, 1);
	cr_expect_str_eq(drive(&cfg, 0)->drive_id, "root");
}

Test(config_devices, find_and_count_devices_by_type_and_id)
{
	cr_assert_eq(config_put_device(&cfg, &blk_type, new_drive("a", "/a", false), false, &err),
		     0, "%s", err.msg);
	cr_assert_eq(
	    config_put_device(&cfg, &rng_type, calloc(1, sizeof(struct rng_cfg)), false, &err), 0,
	    "%s", err.msg);
	cr_assert_eq(config_put_device(&cfg, &blk_type, new_drive("b", "/b", true), false, &err), 0,
		     "%s", err.msg);
	cr_expect_eq(cfg.nr_devs, 3);
	cr_expect_eq(config_count_devices(&cfg, &blk_type), 2);
	cr_expect_eq(config_count_devices(&cfg, &rng_type), 1);
	struct dev_cfg *b = config_find_device(&cfg, &blk_type, "b");
	cr_assert_not_null(b);
	cr_expect_str_eq(((const struct drive_cfg *)b->cfg)->path_on_host, "/b");
	cr_expect_eq(config_find_device(&cfg, &blk_type, NULL), &cfg.devs[0], "NULL: the first");
	cr_expect_null(config_find_device(&cfg, &blk_type, "c"));
	cr_expect_eq(config_find_device(&cfg, &rng_type, NULL), &cfg.devs[1]);

	/* A single-device type has no id: a second PUT replaces the first. */
	struct rng_cfg *r = calloc(1, sizeof(*r));
	r->rate_limiter.ops = (struct bucket_cfg){ 5, 0, 100, false, false };
	cr_assert_eq(config_put_device(&cfg, &rng_type, r, false, &err), 0, "%s", err.msg);
	cr_expect_eq(config_count_devices(&cfg, &rng_type), 1);
	cr_expect_eq(cfg.devs[1].cfg, r);
}

Test(config_devices, put_device_is_refused_past_the_virtio_mmio_slots)
{
	/* 16 drives, entropy and vsock fill the 18 slots. */
	for (unsigned i = 0; i < blk_type.max; i++) {
		char id[16];
		snprintf(id, sizeof(id), "d%u", i);
		cr_assert_eq(
		    config_put_device(&cfg, &blk_type, new_drive(id, "/d", !i), false, &err), 0,
		    "%s", err.msg);
	}
	cr_assert_eq(
	    config_put_device(&cfg, &rng_type, calloc(1, sizeof(struct rng_cfg)), false, &err), 0,
	    "%s", err.msg);
	cr_assert_eq(
	    config_add_device_json(&cfg, "vsock", "{\"guest_cid\":3,\"uds_path\":\"/v\"}", &err), 0,
	    "%s", err.msg);
	cr_assert_eq(cfg.nr_devs, MVM_MAX_DEVICES);
	cr_expect_eq(config_add_device_json(&cfg, "balloon",
					    "{\"amount_mib\":1,\"deflate_on_oom\":false}", &err),
		     -EINVAL);
	cr_expect(strstr(err.msg, "too many devices") && strstr(err.msg, "18"), "%s", err.msg);
	cr_expect_eq(config_add_device_json(&cfg, "network-interfaces",
					    "{\"iface_id\":\"e\",\"host_dev_name\":\"t\"}", &err),
		     -EINVAL);
	cr_expect(strstr(err.msg, "too many devices"), "%s", err.msg);
	cr_expect_eq(cfg.nr_devs, MVM_MAX_DEVICES);
	/* Replacing one that is there needs no new slot. */
	cr_expect_eq(
	    config_put_device(&cfg, &rng_type, calloc(1, sizeof(struct rng_cfg)), false, &err), 0,
	    "%s", err.msg);
	cr_expect_eq(
	    config_put_device(&cfg, &blk_type, new_drive("d3", "/new", false), false, &err), 0,
	    "%s", err.msg);
	cr_expect_eq(cfg.nr_devs, MVM_MAX_DEVICES);
}

Test(config_devices, add_device_json_names_the_type_and_refuses_an_unknown_key)
{
	cr_expect_eq(config_add_device_json(&cfg, "disks", "{}", &err), -EINVAL);
	cr_expect(strstr(err.msg, "'disks'"), "%s", err.msg);
	cr_expect_eq(config_add_device_json(&cfg, "drives", "{\"drive_id\":\"a\"}", &err), -EINVAL);
	cr_expect(strstr(err.msg, "path_on_host"), "%s", err.msg);
	cr_expect_eq(config_add_device_json(&cfg, "drives", "{", &err), -EINVAL);
	cr_expect_eq(cfg.nr_devs, 0);
	cr_expect_eq(config_add_device_json(&cfg, "drives", DRIVE("a", "true"), &err), 0, "%s",
		     err.msg);
	cr_expect_eq(config_add_device_json(&cfg, "drives", DRIVE("a", "false"), &err), -EINVAL,
		     "a section names a drive once");
	cr_expect(strstr(err.msg, "drive_id 'a' appears twice"), "%s", err.msg);
	cr_expect(drive(&cfg, 0)->is_root_device, "the first one stays");
}

Test(config_devices, validate_runs_every_device_check_against_the_whole_config)
{
	cfg.boot.kernel_image_path = strdup("/k");
	cr_assert_eq(config_add_device_json(&cfg, "balloon",
					    "{\"amount_mib\":100,\"deflate_on_oom\":true}", &err),
		     0, "%s", err.msg);
	cr_expect_eq(config_validate(&cfg, &err), 0, "%s", err.msg);
	cfg.machine.mem_size_mib = 64; /* PUT /machine-config after PUT /balloon */
	cr_expect_eq(config_validate(&cfg, &err), -EINVAL);
	cr_expect(strstr(err.msg, "larger than the VM's memory (64 MiB)"), "%s", err.msg);
	free(cfg.boot.kernel_image_path);
	cfg.boot.kernel_image_path = NULL;
	cfg.machine.mem_size_mib = 128;
	cr_expect_eq(config_validate(&cfg, &err), -EINVAL);
	cr_expect(strstr(err.msg, "kernel_image_path"), "%s", err.msg);
}
