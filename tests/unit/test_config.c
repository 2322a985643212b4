/*
 * monitor/config_file.c with vmm/config.c's parsers: Firecracker's config file
 * format, validated field by field. The device list it fills is
 * test_config_devices.c, each device type's section test_config_dev.c.
 */
#include "config_util.h"
#include "../../virtio/net/mmds/port.h"

TestSuite(config, .init = config_setup, .fini = config_teardown);

Test(config, defaults_are_one_vcpu_and_128_mib)
{
	cr_assert_eq(parse("{" KERNEL "}"), 0, "%s", err.msg);
	cr_expect_eq(cfg.machine.vcpu_count, 1);
	cr_expect_eq(cfg.machine.mem_size_mib, 128);
	cr_expect_eq(cfg.machine.cpu_template, CPU_TEMPLATE_AUTO);
	cr_expect_not(cfg.machine.smt);
	cr_expect_eq(config_count_devices(&cfg, &blk_type), 0);
	cr_expect_eq(cfg.nr_devs, 0, "no devices unless configured");
	cr_expect_str_eq(cfg.boot.kernel_image_path, "/k");
	cr_expect_null(cfg.boot.boot_args, "NULL means MVM_DEFAULT_BOOT_ARGS");
	cr_expect_null(cfg.boot.initrd_path);
}

Test(config, parses_a_full_firecracker_config)
{
	const char *text =
	    "{\n"
	    " \"boot-source\": {\"kernel_image_path\": \"/img/vmlinux\",\n"
	    "   \"boot_args\": \"console=ttyS0 reboot=k\", \"initrd_path\": \"/img/initrd\"},\n"
	    " \"drives\": [\n"
	    "  {\"drive_id\": \"rootfs\", \"path_on_host\": \"/img/rootfs.ext4\",\n"
	    "   \"is_root_device\": true, \"is_read_only\": false,\n"
	    "   \"cache_type\": \"Writeback\", \"io_engine\": \"Sync\", \"partuuid\": null,\n"
	    "   \"rate_limiter\": null},\n"
	    "  {\"drive_id\": \"data_1\", \"path_on_host\": \"/img/data\",\n"
	    "   \"is_root_device\": false, \"is_read_only\": true, \"partuuid\": \"abc-1\",\n"
	    "   \"direct_io\": true}\n"
	    " ],\n"
	    " \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 1024, \"smt\": false,\n"
	    "   \"track_dirty_pages\": true, \"cpu_template\": \"PvmSafe\", \"huge_pages\": "
	    "\"2M\"},\n"
	    " \"network-interfaces\": [], \"vsock\": null, \"balloon\": null,\n"
	    " \"entropy\": null, \"mmds-config\": null,\n"
	    " \"logger\": {\"log_path\": \"/tmp/log\", \"level\": \"Debug\", \"show_level\": "
	    "false,\n"
	    "   \"show_log_origin\": true, \"module\": \"x\"},\n"
	    " \"metrics\": {\"metrics_path\": \"/tmp/metrics\"}\n"
	    "}\n";
	cr_assert_eq(parse(text), 0, "%s", err.msg);
	cr_expect_str_eq(cfg.boot.kernel_image_path, "/img/vmlinux");
	cr_expect_str_eq(cfg.boot.boot_args, "console=ttyS0 reboot=k");
	cr_expect_str_eq(cfg.boot.initrd_path, "/img/initrd");
	cr_expect_eq(cfg.machine.vcpu_count, 2);
	cr_expect_eq(cfg.machine.mem_size_mib, 1024);
	cr_expect(cfg.machine.track_dirty_pages);
	cr_expect_eq(cfg.machine.cpu_template, CPU_TEMPLATE_PVM_SAFE);
	cr_expect_eq(cfg.machine.huge_pages, HUGE_PAGES_2M);
	cr_assert_eq(config_count_devices(&cfg, &blk_type), 2);
	cr_expect_eq(cfg.nr_devs, 2, "null and empty device sections add nothing");
	const struct drive_cfg *d0 = drive(&cfg, 0), *d1 = drive(&cfg, 1);
	cr_expect_str_eq(d0->drive_id, "rootfs");
	cr_expect_str_eq(d0->path_on_host, "/img/rootfs.ext4");
	cr_expect(d0->is_root_device);
	cr_expect_not(d0->is_read_only);
	cr_expect_eq(d0->cache_type, CACHE_WRITEBACK);
	cr_expect_null(d0->partuuid);
	cr_expect_str_eq(d1->drive_id, "data_1");
	cr_expect(d1->is_read_only);
	cr_expect_not(d1->is_root_device);
	cr_expect_str_eq(d1->partuuid, "abc-1");
	cr_expect(d1->direct_io);
	cr_expect_eq(d1->cache_type, CACHE_UNSAFE, "Unsafe is the default");
	cr_expect_str_eq(cfg.log_path, "/tmp/log");
	cr_expect_str_eq(cfg.log_level, "Debug");
	cr_expect_not(cfg.log_show_level);
	cr_expect(cfg.log_show_origin);
	cr_expect_str_eq(cfg.metrics_path, "/tmp/metrics");
}

static const struct {
	const char *text;
	const char *field;
	const char *section;
} unknown[] = {
	{ "{" KERNEL ",\"bogus\":1}", "bogus", "config file" },
	{ "{" KERNEL ",\"machine_config\":{}}", "machine_config", "config file" },
	{ "{\"boot-source\":{\"kernel_image_path\":\"/k\",\"kernel\":\"/x\"}}", "kernel",
	  "boot-source" },
	{ "{" KERNEL ",\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":128,\"vcpus\":2}}",
	  "vcpus", "machine-config" },
	{ "{" KERNEL ",\"drives\":[{\"drive_id\":\"a\",\"path_on_host\":\"/d\","
	  "\"is_root_device\":false,\"read_only\":true}]}",
	  "read_only", "drive" },
	{ "{" KERNEL ",\"logger\":{\"path\":\"/l\"}}", "path", "logger" },
	{ "{" KERNEL ",\"metrics\":{\"path\":\"/m\"}}", "path", "metrics" },
	{ "{" KERNEL ",\"Drives\":[]}", "Drives", "config file" },
};

Test(config, rejects_unknown_fields_at_every_level_naming_them)
{
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		char quoted[80];
		snprintf(quoted, sizeof(quoted), "`%s`", unknown[i].field);
		expect_rejected(i, unknown[i].text, quoted, unknown[i].section);
	}
}

Test(config, unknown_field_message_masks_control_characters)
{
	const char text[] = "{" KERNEL ",\"a\\nb\":1}";
	cr_assert_eq(parse(text), -EINVAL);
	cr_expect(strstr(err.msg, "unknown field") != NULL, "%s", err.msg);
	for (const char *p = err.msg; *p; p++)
		cr_expect((unsigned char)*p >= 0x20, "raw control character in message");
}

/* "mmds-config" names interfaces of the same file (in any order); it is off when it fails. */
Test(config, mmds_config_section_needs_its_interfaces)
{
	static const char net[] = "\"network-interfaces\":[{\"iface_id\":\"eth0\","
				  "\"host_dev_name\":\"tap0\"}]";
	char text[512];
	snprintf(text, sizeof(text),
		 "{" KERNEL ",\"mmds-config\":{\"network_interfaces\":[\"eth0\"],"
		 "\"version\":\"V2\",\"ipv4_address\":\"169.254.170.2\"},%s}",
		 net);
	cr_expect_eq(parse(text), 0, "%s", err.msg);
	const struct mmds_cfg *m = mmds_config();
	cr_expect(m->enabled && m->version == MMDS_V2 && m->ipv4 == 0xa9feaa02u &&
		  m->nr_ifaces == 1 && !strcmp(m->ifaces[0], "eth0"));
	snprintf(text, sizeof(text),
		 "{" KERNEL ",\"mmds-config\":{\"network_interfaces\":"
		 "[\"eth1\"]},%s}",
		 net);
	expect_rejected(0, text, "does not correspond to any existing network interface", NULL);
	cr_expect_not(mmds_config()->enabled);
	snprintf(text, sizeof(text),
		 "{" KERNEL ",\"mmds-config\":{\"network_interfaces\":[\"eth0\"],"
		 "\"ipv4_address\":\"169.254.0.1\"},%s}",
		 net);
	expect_rejected(1, text, "not link local", NULL);
	cr_expect_not(mmds_config()->enabled);
}

Test(config, entropy_section_adds_a_virtio_rng)
{
	static const char *const on[] = { "{}", "{\"rate_limiter\":null}" };
	for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
		char text[128];
		struct vm_config c;
		struct err e;
		vm_config_init(&c);
		snprintf(text, sizeof(text), "{" KERNEL ",\"entropy\":%s}", on[i]);
		cr_expect_eq(config_parse_file(text, strlen(text), &c, &e), 0, "%s: %s", text,
			     e.msg);
		cr_expect_not_null(config_find_device(&c, &rng_type, NULL), "%s", text);
		vm_config_fini(&c);
	}
	cr_assert_eq(parse("{" KERNEL ",\"entropy\":null}"), 0, "%s", err.msg);
	cr_expect_null(config_find_device(&cfg, &rng_type, NULL),
		       "null is the same as leaving it out");
}

Test(config, entropy_section_rejects_what_it_cannot_do)
{
	static const struct {
		const char *value;
		const char *needle;
	} bad[] = {
		{ "{\"rate_limiter\":{\"bandwidth\":{\"size\":1}}}", "refill_time" },
		{ "{\"rate_limiter\":{\"ops\":{\"size\":-1,\"refill_time\":1}}}",
		  "rate_limiter.ops.size" },
		{ "{\"bogus\":1}", "`bogus`" },
		{ "[]", "entropy" },
		{ "true", "entropy" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[160];
		snprintf(text, sizeof(text), "{" KERNEL ",\"entropy\":%s}", bad[i].value);
		expect_rejected(i, text, bad[i].needle, NULL);
	}
}

static const struct {
	const char *machine;
	const char *needle;
} bad_machine[] = {
	{ "\"vcpu_count\":0,\"mem_size_mib\":128", "vcpu_count" },
	{ "\"vcpu_count\":33,\"mem_size_mib\":128", "vcpu_count" },
	{ "\"vcpu_count\":-1,\"mem_size_mib\":128", "vcpu_count" },
	{ "\"vcpu_count\":1.0,\"mem_size_mib\":128", "vcpu_count" },
	{ "\"vcpu_count\":\"2\",\"mem_size_mib\":128", "vcpu_count" },
	{ "\"vcpu_count\":true,\"mem_size_mib\":128", "vcpu_count" },
	{ "\"vcpu_count\":4294967297,\"mem_size_mib\":128", "vcpu_count" },
	{ "\"vcpu_count\":18446744073709551617,\"mem_size_mib\":128", "vcpu_count" },
	{ "\"vcpu_count\":1,\"mem_size_mib\":0", "mem_size_mib" },
	{ "\"vcpu_count\":1,\"mem_size_mib\":-128", "mem_size_mib" },
	{ "\"vcpu_count\":1,\"mem_size_mib\":128.5", "mem_size_mib" },
	{ "\"vcpu_count\":1,\"mem_size_mib\":1e3", "mem_size_mib" },
	{ "\"vcpu_count\":1,\"mem_size_mib\":1048577", "mem_size_mib" },
	{ "\"vcpu_count\":1,\"mem_size_mib\":4294967424", "mem_size_mib" }, /* 2^32 + 128 */
	{ "\"vcpu_count\":1,\"mem_size_mib\":null", "mem_size_mib" },
	{ "\"vcpu_count\":3,\"mem_size_mib\":128,\"smt\":true", "SMT is enabled" },
	{ "\"vcpu_count\":1,\"mem_size_mib\":128,\"smt\":0", "smt" },
	{ "\"vcpu_count\":1,\"mem_size_mib\":128,\"track_dirty_pages\":\"yes\"",
	  "track_dirty_pages" },
	{ "\"vcpu_count\":1,\"mem_size_mib\":128,\"cpu_template\":\"V1N1\"", "cpu_template" },
	{ "\"vcpu_count\":1,\"mem_size_mib\":128,\"cpu_template\":\"t2\"", "cpu_template" },
	{ "\"vcpu_count\":1,\"mem_size_mib\":128,\"cpu_template\":1", "cpu_template" },
	{ "\"vcpu_count\":1,\"mem_size_mib\":128,\"huge_pages\":\"1G\"", "huge_pages" },
	{ "\"vcpu_count\":1,\"mem_size_mib\":128,\"huge_pages\":\"2m\"", "huge_pages" },
	{ "\"vcpu_count\":1,\"mem_size_mib\":129,\"huge_pages\":\"2M\"", "not a multiple of 2" },
	{ "\"vcpu_count\":1,\"mem_size_mib\":1,\"huge_pages\":\"2M\"", "2 MiB hugetlbfs" },
	{ "\"vcpu_count\":1", "mem_size_mib" },
	{ "\"mem_size_mib\":128", "vcpu_count" },
};

Test(config, machine_config_rejects_bad_values_naming_the_field)
{
	for (size_t i = 0; i < sizeof(bad_machine) / sizeof(bad_machine[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), "{" KERNEL ",\"machine-config\":{%s}}",
			 bad_machine[i].machine);
		expect_rejected(i, text, bad_machine[i].needle, NULL);
	}
}

Test(config, huge_pages_2m_refuses_a_balloon_and_transparent_is_its_own)
{
	expect_rejected(0,
			"{" KERNEL ",\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":128,"
			"\"huge_pages\":\"2M\"},\"balloon\":{\"amount_mib\":1,"
			"\"deflate_on_oom\":false}}",
			"incompatible with memory ballooning", NULL);
	cr_assert_eq(parse("{" KERNEL ",\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":129,"
			   "\"huge_pages\":\"Transparent\"}}"),
		     0, "%s", err.msg);
	cr_expect_eq(cfg.machine.huge_pages, HUGE_PAGES_THP);
}

Test(config, machine_config_accepts_the_limits)
{
	cr_assert_eq(
	    parse("{" KERNEL ",\"machine-config\":{\"vcpu_count\":32,\"mem_size_mib\":1048576}}"),
	    0, "%s", err.msg);
	cr_expect_eq(cfg.machine.vcpu_count, 32);
	cr_expect_eq(cfg.machine.mem_size_mib, 1048576);
	vm_config_fini(&cfg);
	vm_config_init(&cfg);
	cr_assert_eq(parse("{" KERNEL ",\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":1}}"),
		     0, "%s", err.msg);
	cr_expect_eq(cfg.machine.mem_size_mib, 1);
}

Test(config, machine_config_must_be_an_object)
{
	cr_expect_eq(parse("{" KERNEL ",\"machine-config\":[]}"), -EINVAL);
	cr_expect(strstr(err.msg, "machine-config") != NULL, "%s", err.msg);
}

Test(config, cpu_template_names_are_case_insensitive)
{
	cr_assert_eq(parse("{" KERNEL ",\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":64,"
			   "\"cpu_template\":\"pvmsafe\"}}"),
		     0, "%s", err.msg);
	cr_expect_eq(cfg.machine.cpu_template, CPU_TEMPLATE_PVM_SAFE);
}

Test(config, partial_machine_update_keeps_other_fields)
{
	struct json j;
	struct machine_cfg m = { .vcpu_count = 2, .mem_size_mib = 256 };
	const char *body = "{\"vcpu_count\":4}";
	cr_assert_eq(json_parse(&j, body, strlen(body), &err), 0);
	cr_assert_eq(config_parse_machine(&j, 0, &m, true, &err), 0, "%s", err.msg);
	cr_expect_eq(m.vcpu_count, 4);
	cr_expect_eq(m.mem_size_mib, 256);
	json_free(&j);

	/* A failing update leaves the old values. */
	body = "{\"vcpu_count\":8,\"mem_size_mib\":0}";
	cr_assert_eq(json_parse(&j, body, strlen(body), &err), 0);
	cr_expect_eq(config_parse_machine(&j, 0, &m, true, &err), -EINVAL);
	cr_expect_eq(m.vcpu_count, 4, "a rejected update must not be half-applied");
	json_free(&j);
}

Test(config, machine_fields_report_what_was_present)
{
	struct json j;
	struct machine_cfg m = { .vcpu_count = 2, .mem_size_mib = 256 };
	struct machine_cfg dst = { .vcpu_count = 1,
				   .mem_size_mib = 128,
				   .track_dirty_pages = true };
	unsigned present = 0;
	const char *body = "{\"mem_size_mib\":512,\"cpu_template\":\"Host\"}";
	cr_assert_eq(json_parse(&j, body, strlen(body), &err), 0);
	cr_assert_eq(config_parse_machine_fields(&j, 0, &m, &present, &err), 0, "%s", err.msg);
	cr_expect_eq(present, MC_MEM | MC_TEMPLATE);
	config_machine_apply(&dst, &m, present);
	cr_expect_eq(dst.mem_size_mib, 512);
	cr_expect_eq(dst.cpu_template, CPU_TEMPLATE_HOST);
	cr_expect_eq(dst.vcpu_count, 1, "absent fields are not applied");
	cr_expect(dst.track_dirty_pages, "absent fields are not applied");
	json_free(&j);
}

static const struct {
	const char *boot;
	const char *needle;
} bad_boot[] = {
	{ "{}", "kernel_image_path" },
	{ "{\"boot_args\":\"x\"}", "kernel_image_path" },
	{ "{\"kernel_image_path\":\"\"}", "kernel_image_path" },
	{ "{\"kernel_image_path\":null}", "kernel_image_path" },
	{ "{\"kernel_image_path\":1}", "kernel_image_path" },
	{ "{\"kernel_image_path\":\"/k\",\"boot_args\":false}", "boot_args" },
	{ "{\"kernel_image_path\":\"/k\",\"initrd_path\":[]}", "initrd_path" },
	{ "{\"kernel_image_path\":\"/k\\u0000x\"}", "NUL" },
	{ "\"/k\"", "boot-source" },
};

Test(config, boot_source_requires_a_kernel_path)
{
	for (size_t i = 0; i < sizeof(bad_boot) / sizeof(bad_boot[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), "{\"boot-source\":%s}", bad_boot[i].boot);
		expect_rejected(i, text, bad_boot[i].needle, NULL);
	}
}

Test(config, missing_boot_source_fails_validation)
{
	cr_expect_eq(parse("{\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":64}}"), -EINVAL);
	cr_expect(strstr(err.msg, "kernel_image_path") != NULL, "%s", err.msg);
}

Test(config, empty_initrd_path_and_null_boot_args_mean_none)
{
	cr_assert_eq(parse("{\"boot-source\":{\"kernel_image_path\":\"/k\",\"initrd_path\":\"\","
			   "\"boot_args\":null}}"),
		     0, "%s", err.msg);
	cr_expect_null(cfg.boot.initrd_path);
	cr_expect_null(cfg.boot.boot_args);
}

#define DRIVE(id, root) \
	"{\"drive_id\":\"" id "\",\"path_on_host\":\"/d\",\"is_root_device\":" root "}"

Test(config, rejects_two_root_drives)
{
	cr_expect_eq(
	    parse("{" KERNEL ",\"drives\":[" DRIVE("a", "true") "," DRIVE("b", "true") "]}"),
	    -EINVAL);
	cr_expect(strstr(err.msg, "root") != NULL, "%s", err.msg);
}

Test(config, rejects_duplicate_drive_ids)
{
	cr_expect_eq(
	    parse("{" KERNEL ",\"drives\":[" DRIVE("a", "false") "," DRIVE("a", "false") "]}"),
	    -EINVAL);
	cr_expect(strstr(err.msg, "'a'") && strstr(err.msg, "twice"), "%s", err.msg);
}

static const char *const bad_ids[] = {
	"",	    "a-b",
	"a b",	    "a.b",
	"../x",	    "\\u00e9",
	"a\\/b",    "a\\tb",
	"x\\u0000", "0123456789012345678901234567890123456789012345678901234567890123x",
};

Test(config, rejects_invalid_drive_ids)
{
	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text), "{" KERNEL ",\"drives\":[" DRIVE("%s", "false") "]}",
			 bad_ids[i]);
		expect_rejected(i, text, "drive_id", NULL);
	}
}

Test(config, accepts_a_64_character_drive_id)
{
	const char *id = "0123456789012345678901234567890123456789012345678901234567890_Ab";
	cr_assert_eq(strlen(id), 64);
	char text[512];
	snprintf(text, sizeof(text), "{" KERNEL ",\"drives\":[" DRIVE("%s", "false") "]}", id);
	cr_assert_eq(parse(text), 0, "%s", err.msg);
	cr_expect_str_eq(drive(&cfg, 0)->drive_id, id);
}

static const struct {
	const char *drive;
	const char *needle;
} bad_drives[] = {
	{ "{\"drive_id\":\"a\",\"is_root_device\":true}", "path_on_host" },
	{ "{\"drive_id\":\"a\",\"path_on_host\":\"\",\"is_root_device\":true}", "path_on_host" },
	{ "{\"drive_id\":\"a\",\"path_on_host\":\"/d\"}", "is_root_device" },
	{ "{\"path_on_host\":\"/d\",\"is_root_device\":true}", "drive_id" },
	{ "{\"drive_id\":\"a\",\"path_on_host\":\"/d\",\"is_root_device\":null}",
	  "is_root_device" },
	{ "{\"drive_id\":\"a\",\"path_on_host\":\"/d\",\"is_root_device\":1}", "is_root_device" },
	{ "{\"drive_id\":\"a\",\"path_on_host\":\"/"
	  "d\",\"is_root_device\":true,\"is_read_only\":\"no\"}",
	  "is_read_only" },
	{ "{\"drive_id\":\"a\",\"path_on_host\":\"/"
	  "d\",\"is_root_device\":true,\"cache_type\":\"None\"}",
	  "cache_type" },
	{ "{\"drive_id\":\"a\",\"path_on_host\":\"/"
	  "d\",\"is_root_device\":true,\"io_engine\":\"Uring\"}",
	  "io_engine" },
	{ "{\"drive_id\":\"a\",\"path_on_host\":\"/"
	  "d\",\"is_root_device\":true,\"rate_limiter\":{\"bandwidth\":{\"size\":-5,"
	  "\"refill_time\":100}}}",
	  "rate_limiter.bandwidth.size" },
	{ "{\"drive_id\":\"a\",\"path_on_host\":\"/d\",\"is_root_device\":true,\"socket\":\"/s\"}",
	  "socket" },
	{ "{\"drive_id\":\"a\",\"path_on_host\":\"/d\",\"is_root_device\":true,\"direct_io\":null}",
	  "direct_io" },
	{ "{\"drive_id\":\"a\",\"path_on_host\":\"/d\",\"is_root_device\":true,\"partuuid\":7}",
	  "partuuid" },
	{ "[]", "drive" },
	{ "\"a\"", "drive" },
};

Test(config, rejects_incomplete_or_bad_drives)
{
	for (size_t i = 0; i < sizeof(bad_drives) / sizeof(bad_drives[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text), "{" KERNEL ",\"drives\":[%s]}", bad_drives[i].drive);
		expect_rejected(i, text, bad_drives[i].needle, NULL);
	}
}

Test(config, drives_must_be_an_array)
{
	cr_expect_eq(parse("{" KERNEL ",\"drives\":" DRIVE("a", "true") "}"), -EINVAL);
	cr_expect(strstr(err.msg, "drives") != NULL, "%s", err.msg);
}

Test(config, rejects_more_than_sixteen_drives)
{
	char text[4096];
	size_t n = (size_t)snprintf(text, sizeof(text), "{" KERNEL ",\"drives\":[");
	for (unsigned i = 0; i < blk_type.max + 1; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "%s{\"drive_id\":\"d%u\","
				      "\"path_on_host\":\"/d\",\"is_root_device\":false}",
				      i ? "," : "", i);
	snprintf(text + n, sizeof(text) - n, "]}");
	cr_assert_eq(parse(text), -EINVAL);
	cr_expect(strstr(err.msg, "too many drives") != NULL, "%s", err.msg);
	cr_expect_eq(blk_type.max, 16);
}

Test(config, id_validators_differ_only_in_dashes)
{
	cr_expect(config_id_valid("Ab_9"));
	cr_expect_not(config_id_valid("a-b"));
	cr_expect(config_id_valid_instance("a-b_9"));
	cr_expect_not(config_id_valid_instance(""));
	cr_expect_not(config_id_valid_instance("a/b"));
	char long_id[MVM_ID_MAX + 2];
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[MVM_ID_MAX + 1] = '\0';
	cr_expect_not(config_id_valid_instance(long_id), "65 characters");
	long_id[MVM_ID_MAX] = '\0';
	cr_expect(config_id_valid_instance(long_id), "64 characters");
}

Test(config, top_level_must_be_an_object_of_valid_json)
{
	static const char *const docs[] = { "[]", "\"x\"", "{", "", "{} {}" };
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		expect_rejected(i, docs[i], "", NULL);
}

Test(config, rejects_a_key_without_value)
{
	expect_rejected(0, "{\"boot-source\":{\"kernel_image_path\"}}", "", NULL);
	expect_rejected(1, "{" KERNEL ",\"drives\"}", "", NULL);
}

Test(config, rejects_a_missing_comma_between_fields)
{
	expect_rejected(0, "{" KERNEL " \"bogus\":1}", "", NULL);
	expect_rejected(1, "{\"boot-source\":{\"kernel_image_path\":\"/k\" \"bogus\":1}}", "",
			NULL);
}

static char tmp_path[64];

static void write_tmp(const char *text)
{
	snprintf(tmp_path, sizeof(tmp_path), "/tmp/mvm-config-XXXXXX");
	int fd = mkstemp(tmp_path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

Test(config, load_file_reads_and_prefixes_errors_with_the_path)
{
	write_tmp("{" KERNEL ",\"machine-config\":{\"vcpu_count\":3,\"mem_size_mib\":256}}");
	cr_expect_eq(config_load_file(tmp_path, &cfg, &err), 0, "%s", err.msg);
	cr_expect_eq(cfg.machine.vcpu_count, 3);
	unlink(tmp_path);

	struct vm_config c;
	vm_config_init(&c);
	write_tmp("{" KERNEL ",\"bogus\":1}");
	cr_expect_eq(config_load_file(tmp_path, &c, &err), -EINVAL);
	cr_expect(strstr(err.msg, tmp_path) && strstr(err.msg, "bogus"), "%s", err.msg);
	unlink(tmp_path);
	vm_config_fini(&c);
}

Test(config, load_file_rejects_missing_files_and_directories)
{
	cr_expect_eq(config_load_file("/nonexistent/mvm.json", &cfg, &err), -EINVAL);
	cr_expect(strstr(err.msg, "/nonexistent/mvm.json") != NULL, "%s", err.msg);
	cr_expect_eq(config_load_file("/tmp", &cfg, &err), -EINVAL);
	cr_expect(strstr(err.msg, "regular file") != NULL, "%s", err.msg);
}

Test(config, mvm_acpi_is_auto_unless_set_and_must_be_a_bool)
{
	struct json j;
	struct machine_cfg m = { .vcpu_count = 1, .mem_size_mib = 128 };
	unsigned present = 0;
	cr_expect_eq(m.acpi, ACPI_AUTO);
	const char *body = "{\"mvm_acpi\":false}";
	cr_assert_eq(json_parse(&j, body, strlen(body), &err), 0);
	cr_assert_eq(config_parse_machine_fields(&j, 0, &m, &present, &err), 0, "%s", err.msg);
	cr_expect_eq(present, MC_ACPI);
	cr_expect_eq(m.acpi, ACPI_OFF);
	json_free(&j);
	body = "{\"mvm_acpi\":\"yes\"}";
	cr_assert_eq(json_parse(&j, body, strlen(body), &err), 0);
	cr_expect_eq(config_parse_machine_fields(&j, 0, &m, &present, &err), -EINVAL);
	cr_expect(strstr(err.msg, "mvm_acpi"), "%s", err.msg);
	cr_expect_eq(m.acpi, ACPI_OFF, "a rejected update leaves the old value");
	json_free(&j);
}

Test(config, mvm_pit_is_auto_unless_set_and_must_be_a_bool)
{
	struct json j;
	struct machine_cfg m = { .vcpu_count = 1, .mem_size_mib = 128 };
	unsigned present = 0;
	cr_expect_eq(m.pit, PIT_AUTO);
	const char *body = "{\"mvm_pit\":true}";
	cr_assert_eq(json_parse(&j, body, strlen(body), &err), 0);
	cr_assert_eq(config_parse_machine_fields(&j, 0, &m, &present, &err), 0, "%s", err.msg);
	cr_expect_eq(present, MC_PIT);
	cr_expect_eq(m.pit, PIT_ON);
	json_free(&j);
	body = "{\"mvm_pit\":0}";
	cr_assert_eq(json_parse(&j, body, strlen(body), &err), 0);
	cr_expect_eq(config_parse_machine_fields(&j, 0, &m, &present, &err), -EINVAL);
	cr_expect(strstr(err.msg, "mvm_pit"), "%s", err.msg);
	cr_expect_eq(m.pit, PIT_ON, "a rejected update leaves the old value");
	json_free(&j);
}
