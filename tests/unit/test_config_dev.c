/* vmm/config_dev.c and api-socket/routes_dev.c: the device sections, good and bad. */
#include <criterion/criterion.h>
#include <http_parser.h>
#include <stdio.h>
#include <string.h>

#include "../../api-socket/request.h"
#include "../../vmm/config.h"
#include "../../lib/log.h"

#define KERNEL "\"boot-source\":{\"kernel_image_path\":\"/k\"}"

static void setup(void)
{
	log_set_level(LOG_OFF);
}

TestSuite(config_dev, .init = setup);

static int parse(const char *body, struct vm_config *c, struct err *e)
{
	char text[1024];
	snprintf(text, sizeof(text), "{" KERNEL ",%s}", body);
	vm_config_init(c);
	return config_parse_file(text, strlen(text), c, e);
}

struct bad {
	const char *body;
	const char *needle;
};

static void expect_bad(const struct bad *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct vm_config c;
		struct err e = { 0 };
		int r = parse(t[i].body, &c, &e);
		cr_expect_neq(r, 0, "case %zu accepted: %s", i, t[i].body);
		if (r)
			cr_expect(strstr(e.msg, t[i].needle) != NULL, "case %zu: '%s' lacks '%s'",
				  i, e.msg, t[i].needle);
		vm_config_fini(&c);
	}
}

Test(config_dev, parses_every_device_section)
{
	struct vm_config c;
	struct err e;
	const char *body =
	    "\"network-interfaces\":[{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\","
	    "\"guest_mac\":\"06:00:AC:10:00:02\",\"rx_rate_limiter\":{\"bandwidth\":{\"size\":"
	    "1000,\"refill_time\":100,\"one_time_burst\":5}},\"tx_rate_limiter\":null},"
	    "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap1\"}],"
	    "\"vsock\":{\"guest_cid\":3,\"uds_path\":\"/tmp/v.sock\",\"vsock_id\":\"vs\"},"
	    "\"balloon\":{\"amount_mib\":64,\"deflate_on_oom\":true,\"stats_polling_interval_s\":"
	    "2},"
	    "\"entropy\":{\"rate_limiter\":{\"ops\":{\"size\":10,\"refill_time\":1000}}},"
	    "\"drives\":[{\"drive_id\":\"d\",\"path_on_host\":\"/d\",\"is_root_device\":true,"
	    "\"rate_limiter\":{\"bandwidth\":{\"size\":1048576,\"refill_time\":1000}}}]";
	cr_assert_eq(parse(body, &c, &e), 0, "%s", e.msg);
	cr_expect_eq(c.nr_nets, 2);
	cr_expect_str_eq(c.nets[0].host_dev_name, "tap0");
	cr_expect(c.nets[0].has_mac);
	cr_expect_eq(c.nets[0].guest_mac[2], 0xac);
	cr_expect_eq(c.nets[0].rx_rate_limiter.bandwidth.size, 1000);
	cr_expect_eq(c.nets[0].rx_rate_limiter.bandwidth.one_time_burst, 5);
	cr_expect_eq(c.nets[0].tx_rate_limiter.bandwidth.size, 0);
	cr_expect_not(c.nets[1].has_mac);
	cr_expect(c.vsock.present);
	cr_expect_eq(c.vsock.guest_cid, 3);
	cr_expect_str_eq(c.vsock.uds_path, "/tmp/v.sock");
	cr_expect(c.balloon.present);
	cr_expect_eq(c.balloon.amount_mib, 64);
	cr_expect(c.balloon.deflate_on_oom);
	cr_expect_eq(c.balloon.stats_polling_interval_s, 2);
	cr_expect(c.entropy);
	cr_expect_eq(c.entropy_rl.ops.size, 10);
	cr_expect_eq(c.drives[0].rate_limiter.bandwidth.size, 1048576);
	cr_expect_eq(config_nr_devices(&c), 6);
	vm_config_fini(&c);
}

Test(config_dev, rejects_bad_rate_limiters_naming_the_field)
{
	static const struct bad t[] = {
		{ "\"entropy\":{\"rate_limiter\":{\"bandwidth\":{\"size\":0,\"refill_time\":1}}}",
		  "rate_limiter.bandwidth.size" },
		{ "\"entropy\":{\"rate_limiter\":{\"bandwidth\":{\"size\":-1,\"refill_time\":1}}}",
		  "rate_limiter.bandwidth.size" },
		{ "\"entropy\":{\"rate_limiter\":{\"ops\":{\"size\":1,\"refill_time\":0}}}",
		  "rate_limiter.ops.refill_time" },
		{ "\"entropy\":{\"rate_limiter\":{\"ops\":{\"size\":1,\"refill_time\":-100}}}",
		  "rate_limiter.ops.refill_time" },
		{ "\"entropy\":{\"rate_limiter\":{\"ops\":{\"size\":1,\"refill_time\":86400001}}}",
		  "rate_limiter.ops.refill_time" },
		{ "\"entropy\":{\"rate_limiter\":{\"ops\":{\"size\":9007199254740993,"
		  "\"refill_time\":1}}}",
		  "rate_limiter.ops.size" },
		{ "\"entropy\":{\"rate_limiter\":{\"ops\":{\"size\":1e3,\"refill_time\":1}}}",
		  "rate_limiter.ops.size" },
		{ "\"entropy\":{\"rate_limiter\":{\"ops\":{\"size\":1,\"refill_time\":1,"
		  "\"one_time_burst\":-1}}}",
		  "rate_limiter.ops.one_time_burst" },
		{ "\"entropy\":{\"rate_limiter\":{\"ops\":{\"size\":\"10\",\"refill_time\":1}}}",
		  "rate_limiter.ops.size" },
		{ "\"entropy\":{\"rate_limiter\":{\"ops\":{\"refill_time\":1}}}", "'size'" },
		{ "\"entropy\":{\"rate_limiter\":{\"ops\":{\"size\":5}}}", "refill_time" },
		{ "\"entropy\":{\"rate_limiter\":{\"ops\":{\"size\":5,\"refill_time\":1,\"x\":1}}}",
		  "'x'" },
		{ "\"entropy\":{\"rate_limiter\":{\"iops\":{}}}", "'iops'" },
		{ "\"entropy\":{\"rate_limiter\":[]}", "rate_limiter" },
		{ "\"network-interfaces\":[{\"iface_id\":\"e\",\"host_dev_name\":\"t\","
		  "\"tx_rate_limiter\":{\"bandwidth\":{\"size\":0,\"refill_time\":1}}}]",
		  "tx_rate_limiter.bandwidth.size" },
		{ "\"network-interfaces\":[{\"iface_id\":\"e\",\"host_dev_name\":\"t\","
		  "\"rx_rate_limiter\":{\"ops\":{\"size\":1,\"refill_time\":0}}}]",
		  "rx_rate_limiter.ops.refill_time" },
	};
	expect_bad(t, sizeof(t) / sizeof(t[0]));
}

Test(config_dev, rejects_bad_network_interfaces)
{
	static const struct bad t[] = {
		{ "\"network-interfaces\":{}", "array" },
		{ "\"network-interfaces\":[{\"host_dev_name\":\"t\"}]", "iface_id" },
		{ "\"network-interfaces\":[{\"iface_id\":\"e\"}]", "host_dev_name" },
		{ "\"network-interfaces\":[{\"iface_id\":\"a-b\",\"host_dev_name\":\"t\"}]",
		  "iface_id" },
		{ "\"network-interfaces\":[{\"iface_id\":\"e\",\"host_dev_name\":"
		  "\"sixteen_bytes_xx\"}]",
		  "host_dev_name" },
		{ "\"network-interfaces\":[{\"iface_id\":\"e\",\"host_dev_name\":\"a/b\"}]",
		  "host_dev_name" },
		{ "\"network-interfaces\":[{\"iface_id\":\"e\",\"host_dev_name\":\"\"}]",
		  "host_dev_name" },
		{ "\"network-interfaces\":[{\"iface_id\":\"e\",\"host_dev_name\":\"t\","
		  "\"guest_mac\":\"06:00:00:00:00\"}]",
		  "guest_mac" },
		{ "\"network-interfaces\":[{\"iface_id\":\"e\",\"host_dev_name\":\"t\","
		  "\"guest_mac\":\"06:00:00:00:00:zz\"}]",
		  "guest_mac" },
		{ "\"network-interfaces\":[{\"iface_id\":\"e\",\"host_dev_name\":\"t\","
		  "\"guest_mac\":\"06-00-00-00-00-01\"}]",
		  "guest_mac" },
		{ "\"network-interfaces\":[{\"iface_id\":\"e\",\"host_dev_name\":\"t\","
		  "\"guest_mac\":\"01:00:5e:00:00:01\"}]",
		  "unicast" },
		{ "\"network-interfaces\":[{\"iface_id\":\"e\",\"host_dev_name\":\"t\","
		  "\"guest_mac\":7}]",
		  "guest_mac" },
		{ "\"network-interfaces\":[{\"iface_id\":\"e\",\"host_dev_name\":\"t\"},"
		  "{\"iface_id\":\"e\",\"host_dev_name\":\"u\"}]",
		  "twice" },
		{ "\"network-interfaces\":[{\"iface_id\":\"e\",\"host_dev_name\":\"t\"},"
		  "{\"iface_id\":\"f\",\"host_dev_name\":\"t\"}]",
		  "already used" },
		{ "\"network-interfaces\":[{\"iface_id\":\"e\",\"host_dev_name\":\"t\","
		  "\"guest_mac\":\"06:00:00:00:00:01\"},{\"iface_id\":\"f\",\"host_dev_name\":"
		  "\"u\",\"guest_mac\":\"06:00:00:00:00:01\"}]",
		  "guest_mac is already used" },
		{ "\"network-interfaces\":[{\"iface_id\":\"e\",\"host_dev_name\":\"t\","
		  "\"allow_mmds_requests\":true}]",
		  "MMDS" },
		{ "\"network-interfaces\":[{\"iface_id\":\"e\",\"host_dev_name\":\"t\",\"mtu\":9}]",
		  "'mtu'" },
	};
	expect_bad(t, sizeof(t) / sizeof(t[0]));
}

Test(config_dev, rejects_bad_vsock_and_balloon)
{
	static const struct bad t[] = {
		{ "\"vsock\":{\"guest_cid\":2,\"uds_path\":\"/v\"}", "guest_cid" },
		{ "\"vsock\":{\"guest_cid\":0,\"uds_path\":\"/v\"}", "guest_cid" },
		{ "\"vsock\":{\"guest_cid\":-3,\"uds_path\":\"/v\"}", "guest_cid" },
		{ "\"vsock\":{\"guest_cid\":4294967295,\"uds_path\":\"/v\"}", "guest_cid" },
		{ "\"vsock\":{\"guest_cid\":4294967296,\"uds_path\":\"/v\"}", "guest_cid" },
		{ "\"vsock\":{\"uds_path\":\"/v\"}", "guest_cid" },
		{ "\"vsock\":{\"guest_cid\":3}", "uds_path" },
		{ "\"vsock\":{\"guest_cid\":3,\"uds_path\":\"\"}", "uds_path" },
		{ "\"vsock\":{\"guest_cid\":3,\"uds_path\":\"/tmp/"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaa"
		  "aaaaaaaa\"}",
		  "uds_path" },
		{ "\"vsock\":{\"guest_cid\":3,\"uds_path\":\"/v\",\"port\":1}", "'port'" },
		{ "\"vsock\":[]", "vsock" },
		{ "\"balloon\":{\"amount_mib\":1}", "deflate_on_oom" },
		{ "\"balloon\":{\"deflate_on_oom\":true}", "amount_mib" },
		{ "\"balloon\":{\"amount_mib\":-1,\"deflate_on_oom\":true}", "amount_mib" },
		{ "\"balloon\":{\"amount_mib\":129,\"deflate_on_oom\":true}", "larger than" },
		{ "\"balloon\":{\"amount_mib\":1,\"deflate_on_oom\":1}", "deflate_on_oom" },
		{ "\"balloon\":{\"amount_mib\":1,\"deflate_on_oom\":true,"
		  "\"stats_polling_interval_s\":-1}",
		  "stats_polling_interval_s" },
		{ "\"balloon\":{\"amount_mib\":1,\"deflate_on_oom\":true,"
		  "\"stats_polling_interval_s\":86401}",
		  "stats_polling_interval_s" },
		{ "\"balloon\":{\"amount_mib\":1,\"deflate_on_oom\":true,\"free_page\":1}",
		  "'free_page'" },
	};
	expect_bad(t, sizeof(t) / sizeof(t[0]));
}

Test(config_dev, mac_parser)
{
	uint8_t m[6];
	cr_expect_eq(config_parse_mac("02:aa:BB:cc:dd:ee", m), 0);
	cr_expect_eq(m[1], 0xaa);
	cr_expect_eq(m[5], 0xee);
	static const char *const bad[] = { "",
					   "02:aa:bb:cc:dd",
					   "02:aa:bb:cc:dd:ee:ff",
					   "02:aa:bb:cc:dd:e",
					   "02:aa:bb:cc:dd:eeX",
					   "g2:aa:bb:cc:dd:ee",
					   "03:aa:bb:cc:dd:ee" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_neq(config_parse_mac(bad[i], m), 0, "'%s' accepted", bad[i]);
}

static int route(int method, const char *path, const char *body, struct api_request *req,
		 struct api_response *resp)
{
	return api_route(method, path, body, body ? strlen(body) : 0, req, resp);
}

Test(config_dev, api_routes_device_endpoints)
{
	struct api_request req;
	struct api_response resp;
	cr_assert_eq(route(HTTP_PUT, "/network-interfaces/eth0",
			   "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\"}", &req, &resp),
		     0, "%s", resp.body);
	cr_expect_eq(req.op, API_PUT_NET);
	api_request_fini(&req);
	cr_assert_eq(route(HTTP_PATCH, "/network-interfaces/eth0",
			   "{\"iface_id\":\"eth0\",\"rx_rate_limiter\":{\"ops\":{\"size\":5,"
			   "\"refill_time\":10}},\"tx_rate_limiter\":null}",
			   &req, &resp),
		     0, "%s", resp.body);
	cr_expect_eq(req.op, API_PATCH_NET);
	cr_expect_eq(req.u.net_patch.rx_which, RL_OPS);
	cr_expect_eq(req.u.net_patch.tx_which, RL_BANDWIDTH | RL_OPS);
	api_request_fini(&req);
	cr_assert_eq(route(HTTP_PATCH, "/drives/d",
			   "{\"drive_id\":\"d\",\"rate_limiter\":{\"bandwidth\":{\"size\":5,"
			   "\"refill_time\":10}}}",
			   &req, &resp),
		     0, "%s", resp.body);
	cr_expect_eq(req.u.drive_patch.rl_which, RL_BANDWIDTH);
	cr_expect_eq(req.u.drive_patch.rate_limiter.bandwidth.size, 5);
	api_request_fini(&req);
	cr_assert_eq(
	    route(HTTP_PUT, "/vsock", "{\"guest_cid\":9,\"uds_path\":\"/v\"}", &req, &resp), 0);
	cr_expect_eq(req.u.vsock.guest_cid, 9);
	api_request_fini(&req);
	cr_assert_eq(route(HTTP_PATCH, "/balloon", "{\"amount_mib\":10}", &req, &resp), 0);
	cr_expect_eq(req.op, API_PATCH_BALLOON);
	cr_expect_eq(req.u.value, 10);
	cr_assert_eq(route(HTTP_PATCH, "/balloon/statistics", "{\"stats_polling_interval_s\":3}",
			   &req, &resp),
		     0);
	cr_expect_eq(req.op, API_PATCH_BALLOON_STATS);
	cr_assert_eq(route(HTTP_GET, "/balloon/statistics", NULL, &req, &resp), 0);
	cr_expect_eq(req.op, API_GET_BALLOON_STATS);
	cr_assert_eq(route(HTTP_GET, "/balloon", NULL, &req, &resp), 0);
	cr_expect_eq(req.op, API_GET_BALLOON);
}

Test(config_dev, api_refuses_bad_device_requests)
{
	static const struct {
		int method;
		const char *path, *body, *needle;
	} t[] = {
		{ HTTP_PUT, "/network-interfaces/eth0",
		  "{\"iface_id\":\"eth1\",\"host_dev_name\":\"t\"}", "differs" },
		{ HTTP_PUT, "/network-interfaces/", "{\"iface_id\":\"e\",\"host_dev_name\":\"t\"}",
		  "not a supported" },
		{ HTTP_PATCH, "/network-interfaces/e",
		  "{\"iface_id\":\"e\",\"host_dev_name\":\"t\"}", "'host_dev_name'" },
		{ HTTP_PATCH, "/network-interfaces/e", "{\"rx_rate_limiter\":null}", "iface_id" },
		{ HTTP_PUT, "/vsock", "{\"guest_cid\":1,\"uds_path\":\"/v\"}", "guest_cid" },
		{ HTTP_PATCH, "/vsock", "{\"guest_cid\":5}", "not a supported" },
		{ HTTP_PATCH, "/balloon", "{\"amount_mib\":-2}", "amount_mib" },
		{ HTTP_PATCH, "/balloon", "{\"deflate_on_oom\":true}", "'deflate_on_oom'" },
		{ HTTP_PATCH, "/balloon", "{}", "amount_mib" },
		{ HTTP_PATCH, "/balloon/statistics", "{\"amount_mib\":1}", "'amount_mib'" },
		{ HTTP_PUT, "/balloon/statistics", "{\"stats_polling_interval_s\":1}",
		  "not a supported" },
		{ HTTP_PATCH, "/drives/d",
		  "{\"drive_id\":\"d\",\"rate_limiter\":{\"ops\":{\"size\":0,\"refill_time\":1}}}",
		  "rate_limiter.ops.size" },
		{ HTTP_PUT, "/entropy", "{\"rate_limiter\":{\"bandwidth\":{\"size\":1}}}",
		  "refill_time" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct api_request req;
		struct api_response resp;
		int r = route(t[i].method, t[i].path, t[i].body, &req, &resp);
		cr_expect_neq(r, 0, "case %zu routed: %s %s", i, t[i].path, t[i].body);
		if (r) {
			cr_expect_eq(resp.status, 400);
			cr_expect(resp.body && strstr(resp.body, t[i].needle),
				  "case %zu: %s lacks %s", i, resp.body, t[i].needle);
		}
		api_response_fini(&resp);
	}
}
