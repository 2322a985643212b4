/*
 * The device types' config parsers (the type.c files, virtio/rng.c) through the
 * config file, and their API routes (monitor/routes.c): the device sections,
 * good and bad.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../../lib/strbuf.h"
#include "../../monitor/config_file.h"
#include "../../monitor/request.h"
#include "../../virtio/balloon/balloon.h"
#include "../../virtio/blk/blk.h"
#include "../../virtio/net/net.h"
#include "../../virtio/registry.h"
#include "../../virtio/rng.h"
#include "../../virtio/vsock/vsock.h"
#include "../../vmm/config.h"

#define KERNEL "\"boot-source\":{\"kernel_image_path\":\"/k\"}"

static void setup(void)
{
	log_set_level(LOG_OFF);
}

TestSuite(config_dev, .init = setup);

static int parse(const char *body, struct vm_config *c, struct err *e)
{
	char text[2048];
	cr_assert_lt((size_t)snprintf(text, sizeof(text), "{" KERNEL ",%s}", body), sizeof(text));
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

/* A section of every device type, as the config file and the API take them. */
#define EVERY_DEVICE                                                                           \
	"\"network-interfaces\":[{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\","           \
	"\"guest_mac\":\"06:00:AC:10:00:02\",\"rx_rate_limiter\":{\"bandwidth\":{\"size\":"    \
	"1000,\"refill_time\":100,\"one_time_burst\":5}},\"tx_rate_limiter\":null},"           \
	"{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap1\"}],"                                 \
	"\"vsock\":{\"guest_cid\":3,\"uds_path\":\"/tmp/v.sock\",\"vsock_id\":\"vs\"},"        \
	"\"balloon\":{\"amount_mib\":64,\"deflate_on_oom\":true,\"stats_polling_interval_s\":" \
	"2},"                                                                                  \
	"\"entropy\":{\"rate_limiter\":{\"ops\":{\"size\":10,\"refill_time\":1000}}},"         \
	"\"drives\":[{\"drive_id\":\"d\",\"path_on_host\":\"/d\",\"is_root_device\":true,"     \
	"\"rate_limiter\":{\"bandwidth\":{\"size\":1048576,\"refill_time\":1000}}}]"

Test(config_dev, parses_every_device_section)
{
	struct vm_config c;
	struct err e;
	const char *body = EVERY_DEVICE;
	cr_assert_eq(parse(body, &c, &e), 0, "%s", e.msg);
	cr_expect_eq(config_count_devices(&c, &net_type), 2);
	struct dev_cfg *n0 = config_find_device(&c, &net_type, "eth0");
	struct dev_cfg *n1 = config_find_device(&c, &net_type, "eth1");
	cr_assert(n0 && n1);
	const struct net_cfg *eth0 = n0->cfg, *eth1 = n1->cfg;
	cr_expect_str_eq(eth0->host_dev_name, "tap0");
	cr_expect(eth0->has_mac);
	cr_expect_eq(eth0->guest_mac[2], 0xac);
	cr_expect_eq(eth0->rx_rate_limiter.bandwidth.size, 1000);
	cr_expect_eq(eth0->rx_rate_limiter.bandwidth.one_time_burst, 5);
	cr_expect_eq(eth0->tx_rate_limiter.bandwidth.size, 0);
	cr_expect_not(eth1->has_mac);
	struct dev_cfg *vs = config_find_device(&c, &vsock_type, NULL);
	cr_assert_not_null(vs);
	cr_expect_eq(((const struct vsock_cfg *)vs->cfg)->guest_cid, 3);
	cr_expect_str_eq(((const struct vsock_cfg *)vs->cfg)->uds_path, "/tmp/v.sock");
	struct dev_cfg *bl = config_find_device(&c, &balloon_type, NULL);
	cr_assert_not_null(bl);
	const struct balloon_cfg *b = bl->cfg;
	cr_expect_eq(b->amount_mib, 64);
	cr_expect(b->deflate_on_oom);
	cr_expect_eq(b->stats_polling_interval_s, 2);
	struct dev_cfg *rng = config_find_device(&c, &rng_type, NULL);
	cr_assert_not_null(rng);
	cr_expect_eq(((const struct rng_cfg *)rng->cfg)->rate_limiter.ops.size, 10);
	struct dev_cfg *d = config_find_device(&c, &blk_type, "d");
	cr_assert_not_null(d);
	cr_expect_eq(((const struct drive_cfg *)d->cfg)->rate_limiter.bandwidth.size, 1048576);
	cr_expect_eq(c.nr_devs, 6);
	vm_config_fini(&c);
}

/*
 * What GET /vm/config shows of each device (its type's describe()) is a
 * section its type's parse() takes back unchanged, for every type of the
 * registry.
 */
Test(config_dev, every_device_type_describe_round_trips_through_its_parse)
{
	struct vm_config c;
	struct err e = { 0 };
	char body[1536] = EVERY_DEVICE;
	if (device_type_by_key("pmem", 4)) /* where the registry has it */
		strcat(body, ",\"pmem\":[{\"id\":\"pm0\",\"path_on_host\":\"/img/pmem\","
			     "\"root_device\":false,\"read_only\":true}]");
	cr_assert_eq(parse(body, &c, &e), 0, "%s", e.msg);
	for (unsigned k = 0; k < nr_device_types; k++)
		cr_expect_not_null(config_find_device(&c, device_types[k], NULL),
				   "no %s in this test's sample: add one", device_types[k]->name);
	for (int i = 0; i < c.nr_devs; i++) {
		const struct device_type *t = c.devs[i].type;
		struct strbuf out, again;
		struct json j;
		strbuf_init(&out);
		strbuf_init(&again);
		t->describe(c.devs[i].cfg, &out);
		cr_assert_not(out.oom);
		cr_assert_eq(json_parse(&j, out.s, out.len, &e), 0, "%s: not JSON (%s): %s",
			     t->name, e.msg, out.s);
		void *back = calloc(1, t->cfg_size);
		cr_assert_not_null(back);
		cr_expect_eq(t->parse(&j, 0, back, &e), 0, "%s: %s: %s", t->name, out.s, e.msg);
		t->describe(back, &again);
		cr_expect_str_eq(again.s, out.s, "%s", t->name);
		config_free_device_cfg(t, back);
		json_free(&j);
		strbuf_fini(&out);
		strbuf_fini(&again);
	}
	vm_config_fini(&c);
}

Test(config_dev, rejects_bad_rate_limiters_naming_the_field)
{
	static const struct bad t[] = {
		{ "\"entropy\":{\"rate_limiter\":{\"bandwidth\":{\"size\":-2,\"refill_time\":1}}}",
		  "rate_limiter.bandwidth.size" },
		{ "\"entropy\":{\"rate_limiter\":{\"bandwidth\":{\"size\":-1,\"refill_time\":1}}}",
		  "rate_limiter.bandwidth.size" },
		{ "\"entropy\":{\"rate_limiter\":{\"ops\":{\"size\":1,\"refill_time\":86400001}}}",
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
		  "`x`" },
		{ "\"entropy\":{\"rate_limiter\":{\"iops\":{}}}", "`iops`" },
		{ "\"entropy\":{\"rate_limiter\":[]}", "rate_limiter" },
		{ "\"network-interfaces\":[{\"iface_id\":\"e\",\"host_dev_name\":\"t\","
		  "\"tx_rate_limiter\":{\"bandwidth\":{\"size\":-2,\"refill_time\":1}}}]",
		  "tx_rate_limiter.bandwidth.size" },
		{ "\"network-interfaces\":[{\"iface_id\":\"e\",\"host_dev_name\":\"t\","
		  "\"rx_rate_limiter\":{\"ops\":{\"size\":1,\"refill_time\":86400001}}}]",
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
		  "`mtu`" },
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
		{ "\"vsock\":{\"guest_cid\":3,\"uds_path\":\"/v\",\"port\":1}", "`port`" },
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
		  "`free_page`" },
	};
	expect_bad(t, sizeof(t) / sizeof(t[0]));
}

Test(config_dev, mac_parser)
{
	uint8_t m[6];
	cr_expect_eq(net_parse_mac("02:aa:BB:cc:dd:ee", m), 0);
	cr_expect_eq(m[1], 0xaa);
	cr_expect_eq(m[5], 0xee);
	static const char *const bad[] = { "",
					   "02:aa:bb:cc:dd",
					   "02:aa:bb:cc:dd:ee:ff",
					   "02:aa:bb:cc:dd:e",
					   "02:aa:bb:cc:dd:eeX",
					   "g2:aa:bb:cc:dd:ee" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_neq(net_parse_mac(bad[i], m), 0, "'%s' accepted", bad[i]);
	/* The group bit too, as Firecracker (its tests use 07:00:...). */
	cr_expect_eq(net_parse_mac("07:00:00:00:00:01", m), 0);
	cr_expect_eq(m[0], 0x07);
}

static int route(int method, const char *path, const char *body, struct api_request *req,
		 struct api_response *resp)
{
	return api_route(method, path, body, body ? strlen(body) : 0, req, resp);
}

/* A 4 KiB scratch disk for a real drive; the caller unlinks path. */
static void scratch_disk(char path[32])
{
	snprintf(path, 32, "/tmp/mvm-cfgdev-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 4096), 0);
	close(fd);
}

/*
 * Each device route parses its body into what the type's own PATCH or route
 * handler takes; the bodies whose layout is the type's own are checked by
 * applying them to a real device and config, as the vmm thread does.
 */
Test(config_dev, api_routes_device_endpoints)
{
	struct api_request req;
	struct api_response resp;
	struct err e = { 0 };
	cr_assert_eq(route(HTTP_PUT, "/network-interfaces/eth0",
			   "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\"}", &req, &resp),
		     0, "%s", resp.body);
	cr_expect_eq(req.op, API_DEV_PUT);
	cr_expect_eq(req.route->type, &net_type);
	cr_expect_str_eq(req.id, "eth0");
	cr_expect_str_eq(((const struct net_cfg *)req.dev_body)->host_dev_name, "tap0");
	api_request_fini(&req);

	cr_assert_eq(route(HTTP_PATCH, "/network-interfaces/eth0",
			   "{\"iface_id\":\"eth0\",\"rx_rate_limiter\":{\"ops\":{\"size\":5,"
			   "\"refill_time\":10}},\"tx_rate_limiter\":null}",
			   &req, &resp),
		     0, "%s", resp.body);
	cr_expect_eq(req.op, API_DEV_PATCH);
	cr_expect_eq(req.route->type, &net_type);
	struct net_cfg nc = { .iface_id = "eth0", .host_dev_name = "tap0" };
	nc.rx_rate_limiter.bandwidth = (struct bucket_cfg){ 100, 0, 10, false, false };
	nc.tx_rate_limiter.bandwidth = (struct bucket_cfg){ 200, 0, 10, false, false };
	nc.tx_rate_limiter.ops = (struct bucket_cfg){ 300, 0, 10, false, false };
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	struct net *n = net_create_fd("eth0", sv[0], NULL);
	cr_assert_not_null(n);
	cr_expect_eq(net_type.patch(n, &nc, req.dev_body, &e), 0, "%s", e.msg);
	cr_expect_eq(nc.rx_rate_limiter.ops.size, 5, "rx: the ops bucket was given");
	cr_expect_eq(nc.rx_rate_limiter.ops.refill_time_ms, 10);
	cr_expect_eq(nc.rx_rate_limiter.bandwidth.size, 100, "rx: bandwidth not given: kept");
	cr_expect_eq(nc.tx_rate_limiter.bandwidth.size, 0, "tx null: both buckets removed");
	cr_expect_eq(nc.tx_rate_limiter.ops.size, 0, "tx null: both buckets removed");
	net_destroy(n);
	close(sv[1]);
	api_request_fini(&req);

	cr_assert_eq(route(HTTP_PATCH, "/drives/d",
			   "{\"drive_id\":\"d\",\"rate_limiter\":{\"bandwidth\":{\"size\":5,"
			   "\"refill_time\":10}}}",
			   &req, &resp),
		     0, "%s", resp.body);
	cr_expect_eq(req.op, API_DEV_PATCH);
	cr_expect_eq(req.route->type, &blk_type);
	char disk[32];
	scratch_disk(disk);
	struct drive_cfg dc = { .drive_id = "d", .path_on_host = disk };
	dc.rate_limiter.ops = (struct bucket_cfg){ 7, 0, 10, false, false };
	struct blk *blk = blk_create("d", disk, false, false, false, false, &e);
	cr_assert_not_null(blk, "%s", e.msg);
	cr_expect_eq(blk_type.patch(blk, &dc, req.dev_body, &e), 0, "%s", e.msg);
	cr_expect_eq(dc.rate_limiter.bandwidth.size, 5, "the bandwidth bucket was given");
	cr_expect_eq(dc.rate_limiter.bandwidth.refill_time_ms, 10);
	cr_expect_eq(dc.rate_limiter.ops.size, 7, "ops not given: kept");
	cr_expect_eq(dc.path_on_host, disk, "no path_on_host: the file is kept");
	struct rate_limiter_cfg live;
	blk_get_rate_limiter(blk, &live);
	cr_expect_eq(live.bandwidth.size, 5, "the device got it too");
	blk_destroy(blk);
	unlink(disk);
	api_request_fini(&req);

	cr_assert_eq(
	    route(HTTP_PUT, "/vsock", "{\"guest_cid\":9,\"uds_path\":\"/v\"}", &req, &resp), 0);
	cr_expect_eq(req.op, API_DEV_PUT);
	cr_expect_eq(req.route->type, &vsock_type);
	cr_expect_eq(((const struct vsock_cfg *)req.dev_body)->guest_cid, 9);
	api_request_fini(&req);

	struct guest_mem mem = { .size = 128u << 20 };
	struct balloon_cfg bc = { .amount_mib = 1, .stats_polling_interval_s = 1 };
	struct balloon *bal = balloon_create(&bc, &mem);
	cr_assert_not_null(bal);
	cr_assert_eq(route(HTTP_PATCH, "/balloon", "{\"amount_mib\":10}", &req, &resp), 0);
	cr_expect_eq(req.op, API_DEV_PATCH);
	cr_expect_eq(req.route->type, &balloon_type);
	cr_expect_eq(balloon_type.patch(bal, &bc, req.dev_body, &e), 0, "%s", e.msg);
	cr_expect_eq(bc.amount_mib, 10);
	struct balloon_stats st;
	balloon_get_stats(bal, &st);
	cr_expect_eq(st.target_pages, 10u << 8, "10 MiB of 4 KiB pages");
	api_request_fini(&req);

	struct strbuf out;
	strbuf_init(&out);
	cr_assert_eq(route(HTTP_PATCH, "/balloon/statistics", "{\"stats_polling_interval_s\":3}",
			   &req, &resp),
		     0);
	cr_expect_eq(req.op, API_DEV_ROUTE);
	cr_assert_not_null(req.route->dev_route);
	cr_expect_eq(req.route->dev_route->method, HTTP_PATCH);
	cr_expect_eq(req.route->dev_route->handle(bal, &bc, req.dev_body, &out, &e), 0, "%s",
		     e.msg);
	cr_expect_eq(bc.stats_polling_interval_s, 3);
	cr_expect_eq(out.len, 0, "204: no body");
	api_request_fini(&req);
	cr_assert_eq(route(HTTP_GET, "/balloon/statistics", NULL, &req, &resp), 0);
	cr_expect_eq(req.op, API_DEV_ROUTE);
	cr_assert_not_null(req.route->dev_route);
	cr_expect_eq(req.route->dev_route->method, HTTP_GET);
	cr_expect_eq(req.route->dev_route->handle(bal, &bc, req.dev_body, &out, &e), 0, "%s",
		     e.msg);
	cr_expect(out.s && strstr(out.s, "\"target_mib\": 10"), "%s", out.s);
	api_request_fini(&req);
	cr_assert_eq(route(HTTP_GET, "/balloon", NULL, &req, &resp), 0);
	cr_expect_eq(req.op, API_DEV_GET);
	cr_expect_eq(req.route->type, &balloon_type);
	api_request_fini(&req);
	strbuf_fini(&out);
	balloon_destroy(bal);
}

Test(config_dev, api_refuses_bad_device_requests)
{
	static const struct {
		int method;
		const char *path, *body, *needle;
	} t[] = {
		{ HTTP_PUT, "/network-interfaces/eth0",
		  "{\"iface_id\":\"eth1\",\"host_dev_name\":\"t\"}", "does not match" },
		{ HTTP_PUT, "/network-interfaces/", "{\"iface_id\":\"e\",\"host_dev_name\":\"t\"}",
		  "The ID cannot be empty." },
		{ HTTP_PATCH, "/network-interfaces/e",
		  "{\"iface_id\":\"e\",\"host_dev_name\":\"t\"}", "`host_dev_name`" },
		{ HTTP_PATCH, "/network-interfaces/e", "{\"rx_rate_limiter\":null}", "iface_id" },
		{ HTTP_PUT, "/vsock", "{\"guest_cid\":1,\"uds_path\":\"/v\"}", "guest_cid" },
		{ HTTP_PATCH, "/vsock", "{\"guest_cid\":5}", "Invalid request method and/or path" },
		{ HTTP_PATCH, "/balloon", "{\"amount_mib\":-2}", "amount_mib" },
		{ HTTP_PATCH, "/balloon", "{\"deflate_on_oom\":true}", "`deflate_on_oom`" },
		{ HTTP_PATCH, "/balloon", "{}", "amount_mib" },
		{ HTTP_PATCH, "/balloon/statistics", "{\"amount_mib\":1}", "`amount_mib`" },
		{ HTTP_PUT, "/balloon/statistics", "{\"stats_polling_interval_s\":1}",
		  "Invalid request method and/or path" },
		{ HTTP_PATCH, "/drives/d",
		  "{\"drive_id\":\"d\",\"rate_limiter\":{\"ops\":{\"size\":-2,\"refill_time\":1}}}",
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
