/*
 * Network interfaces as a device type: the config file's
 * "network-interfaces", PUT and PATCH /network-interfaces/{id} (the tap is
 * tried at PUT, as Firecracker does), the "net" metrics, the snapshot
 * record and network_overrides. The device is net.c on a tap (tap.c).
 */
#include <errno.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/json.h"
#include "../../lib/strbuf.h"
#include "../../lib/util.h"
#include "../../lib/wire.h"
#include "../../vmm/config.h"
#include "../../vmm/seccomp.h"
#include "mmds/port.h"
#include "net.h"
#include "tap.h"

int net_parse_mac(const char *s, uint8_t mac[6])
{
	if (strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		int hi = hex_digit(s[3 * i]), lo = hex_digit(s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	/* Any address, the group bit too: Firecracker accepts every MAC. */
	return 0;
}

static bool ifname_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > MVM_IFNAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || s[i] <= ' ' || s[i] == 0x7f)
			return false;
	return true;
}

/* The record version that added the MMDS settings (after RL_CFG_WIRE_FLAGS). */
#define NET_SNAP_MMDS 3

static int parse_host_dev(const struct json *j, int v, struct net_cfg *n, struct err *e)
{
	int r =
	    json_string_buf(j, v, "host_dev_name", n->host_dev_name, sizeof(n->host_dev_name), e);
	if (!r && !ifname_valid(n->host_dev_name))
		r = err_inval(e,
			      "field 'host_dev_name': '%s' is not a network interface name (1 to "
			      "%d bytes, no '/', ':' or spaces)",
			      n->host_dev_name, MVM_IFNAME_MAX);
	return r;
}

static int parse_mac(const struct json *j, int v, struct net_cfg *n, struct err *e)
{
	char mac[32];
	if (json_is_null(j, v))
		return 0;
	if (json_string_buf(j, v, "guest_mac", mac, sizeof(mac), e))
		return err_inval(e, "field 'guest_mac' must be a MAC address like "
				    "06:00:ac:10:00:02");
	if (net_parse_mac(mac, n->guest_mac))
		return err_inval(e,
				 "field 'guest_mac': '%s' is not a MAC address like "
				 "06:00:ac:10:00:02",
				 mac);
	n->has_mac = true;
	return 0;
}

static int parse(const struct json *j, int obj, void *cfg, struct err *e)
{
	struct net_cfg *n = cfg;
	unsigned which;
	bool b;
	int r;

	if ((r = json_expect_object(j, obj, "a network interface", e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (json_key_is(j, k, "iface_id"))
			r = json_string_buf(j, v, "iface_id", n->iface_id, sizeof(n->iface_id), e);
		else if (json_key_is(j, k, "host_dev_name"))
			r = parse_host_dev(j, v, n, e);
		else if (json_key_is(j, k, "guest_mac"))
			r = parse_mac(j, v, n, e);
		else if (json_key_is(j, k, "rx_rate_limiter"))
			r = rl_cfg_parse(j, v, "rx_rate_limiter", &n->rx_rate_limiter, &which, e);
		else if (json_key_is(j, k, "tx_rate_limiter"))
			r = rl_cfg_parse(j, v, "tx_rate_limiter", &n->tx_rate_limiter, &which, e);
		else if (json_key_is(j, k, "allow_mmds_requests")) {
			if (!(r = json_bool(j, v, "allow_mmds_requests", &b, e)) && b)
				r = err_inval(e, "field 'allow_mmds_requests': mvm has no MMDS");
		} else
			r = json_unknown_field(j, k, "a network interface", e);
		if (r)
			return r;
	}
	if (!n->iface_id[0])
		return err_inval(e, "a network interface needs 'iface_id'");
	if (!config_id_valid(n->iface_id))
		return err_inval(e, "iface_id '%s' is invalid: use 1 to %d letters, digits or '_'",
				 n->iface_id, MVM_ID_MAX);
	if (!n->host_dev_name[0])
		return err_inval(e, "network interface '%s' needs 'host_dev_name' (a tap device)",
				 n->iface_id);
	return 0;
}

static const char *id(const void *cfg)
{
	return ((const struct net_cfg *)cfg)->iface_id;
}

/* Each interface its own tap and its own MAC. */
static int check(const void *cfg, const struct vm_config *vc, struct err *e)
{
	const struct net_cfg *n = cfg;
	for (int i = 0; i < vc->nr_devs; i++) {
		const struct net_cfg *o = vc->devs[i].cfg;
		if (vc->devs[i].type != &net_type || o == n)
			continue;
		if (!strcmp(o->host_dev_name, n->host_dev_name))
			return err_inval(e,
					 "host_dev_name '%s' is already used by network interface "
					 "'%s'",
					 n->host_dev_name, o->iface_id);
		if (n->has_mac && o->has_mac && !memcmp(o->guest_mac, n->guest_mac, 6))
			return err_inval(e, "guest_mac is already used by network interface '%s'",
					 o->iface_id);
	}
	return 0;
}

/* Firecracker opens the tap at PUT; a trial open gives the same early answer. */
static int probe(const void *cfg, struct err *e)
{
	const struct net_cfg *n = cfg;
	int fd, r = tap_open(n->host_dev_name, &fd, e);
	if (r)
		return err_prefix(e, "network interface '%s'", n->iface_id);
	close(fd);
	return 0;
}

static void describe(const void *cfg, struct strbuf *b)
{
	const struct net_cfg *n = cfg;
	strbuf_printf(b, "{\"iface_id\": ");
	strbuf_json_str(b, n->iface_id);
	strbuf_printf(b, ", \"host_dev_name\": ");
	strbuf_json_str(b, n->host_dev_name);
	strbuf_printf(b, ", \"guest_mac\": ");
	if (n->has_mac) {
		const uint8_t *m = n->guest_mac;
		strbuf_printf(b, "\"%02x:%02x:%02x:%02x:%02x:%02x\"", m[0], m[1], m[2], m[3], m[4],
			      m[5]);
	} else {
		strbuf_printf(b, "null");
	}
	strbuf_printf(b, ", \"rx_rate_limiter\": ");
	rl_cfg_describe(&n->rx_rate_limiter, b);
	strbuf_printf(b, ", \"tx_rate_limiter\": ");
	rl_cfg_describe(&n->tx_rate_limiter, b);
	strbuf_printf(b, "}");
}

/* PUT /mmds/config lists this interface. */
static bool mmds_on(const char *iface_id)
{
	const struct mmds_cfg *m = mmds_config();
	for (int i = 0; m->enabled && i < m->nr_ifaces; i++)
		if (!strcmp(m->ifaces[i], iface_id))
			return true;
	return false;
}

static void *create(const void *cfg, const struct dev_env *env, struct err *e)
{
	const struct net_cfg *c = cfg;
	(void)env;
	struct net *n =
	    net_create(c->iface_id, c->host_dev_name, c->has_mac ? c->guest_mac : NULL, e);
	if (n && mmds_on(c->iface_id) && net_enable_mmds(n, mmds_config())) {
		err_set(e, -ENOMEM, "network interface '%s': MMDS: out of memory or timerfd",
			c->iface_id);
		net_destroy(n);
		return NULL;
	}
	if (n)
		net_set_rate_limiters(n, &c->rx_rate_limiter, RL_BANDWIDTH | RL_OPS,
				      &c->tx_rate_limiter, RL_BANDWIDTH | RL_OPS);
	return n;
}

static void destroy(void *dev)
{
	net_destroy(dev);
}

/* PATCH /network-interfaces/{id}: the two limiters. */
struct net_patch {
	char iface_id[65];
	struct rate_limiter_cfg rx, tx;
	unsigned rx_which, tx_which;
};

static int parse_patch(const struct json *j, int obj, void *patch, struct err *e)
{
	struct net_patch *p = patch;
	int r;
	if ((r = json_expect_object(j, obj, "a network interface update", e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (json_key_is(j, k, "iface_id"))
			r = json_string_buf(j, v, "iface_id", p->iface_id, sizeof(p->iface_id), e);
		else if (json_key_is(j, k, "rx_rate_limiter"))
			r = rl_cfg_parse(j, v, "rx_rate_limiter", &p->rx, &p->rx_which, e);
		else if (json_key_is(j, k, "tx_rate_limiter"))
			r = rl_cfg_parse(j, v, "tx_rate_limiter", &p->tx, &p->tx_which, e);
		else
			r = json_unknown_field(j, k, "a network interface update", e);
		if (r)
			return r;
	}
	if (!p->iface_id[0])
		return err_inval(e, "a network interface update needs 'iface_id'");
	return 0;
}

static const char *patch_id(const void *patch)
{
	return ((const struct net_patch *)patch)->iface_id;
}

static int patch(void *dev, void *cfg, void *patch, struct err *e)
{
	struct net_cfg *c = cfg;
	struct net_patch *p = patch;
	int r = net_change_limiters(dev, &p->rx, p->rx_which, &p->tx, p->tx_which, e);
	if (r)
		return r;
	rl_cfg_merge(&c->rx_rate_limiter, &p->rx, p->rx_which);
	rl_cfg_merge(&c->tx_rate_limiter, &p->tx, p->tx_which);
	return 0;
}

static const struct dev_metric metrics[] = {
	{ "rx_bytes_count", "bytes received by the guest", false },
	{ "rx_packets_count", "frames received by the guest", false },
	{ "rx_dropped_frames", "frames from the tap dropped (larger than the guest's buffers)",
	  false },
	{ "rx_fails", "receive errors", false },
	{ "no_rx_avail_buffer", "times the guest had no receive buffer", false },
	{ "tx_bytes_count", "bytes sent by the guest", false },
	{ "tx_packets_count", "frames sent by the guest", false },
	{ "tx_malformed_frames", "frames from the guest dropped as malformed", false },
	{ "tx_fails", "transmit errors", false },
	{ "rx_rate_limiter_throttled", "receive paused by the rate limiter", false },
	{ "tx_rate_limiter_throttled", "transmit paused by the rate limiter", false },
};

static void stats(void *dev, uint64_t *out)
{
	struct net_stats s;
	net_get_stats(dev, &s);
	uint64_t v[] = { s.rx_bytes,	  s.rx_packets,	  s.rx_dropped,	 s.rx_fails,
			 s.rx_no_buffers, s.tx_bytes,	  s.tx_packets,	 s.tx_malformed,
			 s.tx_fails,	  s.rx_throttled, s.tx_throttled };
	memcpy(out, v, sizeof(v));
}

static void save_cfg(const void *cfg, struct wire *w)
{
	const struct net_cfg *n = cfg;
	wire_put_str(w, n->iface_id);
	wire_put_str(w, n->host_dev_name);
	wire_put_u32(w, n->has_mac);
	wire_put(w, n->guest_mac, 6);
	rl_cfg_save(&n->rx_rate_limiter, w);
	rl_cfg_save(&n->tx_rate_limiter, w);
	/* Version 3: the MMDS settings (not the data, as Firecracker), if it answers MMDS. */
	const struct mmds_cfg *m = mmds_config();
	bool on = mmds_on(n->iface_id);
	wire_put_u32(w, on);
	wire_put_u32(w, on ? m->version : 0);
	wire_put_u32(w, on ? m->ipv4 : 0);
}

/* A restored interface that answered MMDS answers it again, the same way. */
static int load_mmds(struct wire *r, const char *iface_id, struct err *e)
{
	uint32_t on = wire_get_u32(r), version = wire_get_u32(r), ipv4 = wire_get_u32(r);
	struct mmds_cfg *m = mmds_config();
	if (r->bad || on > 1 || (on && version != MMDS_V1 && version != MMDS_V2) ||
	    (!on && (version || ipv4)))
		return err_inval(e, "network interface record: MMDS settings out of range");
	if (!on || mmds_on(iface_id) || m->nr_ifaces == 8)
		return 0;
	m->enabled = true;
	m->version = (enum mmds_version)version;
	m->ipv4 = ipv4;
	snprintf(m->ifaces[m->nr_ifaces++], sizeof(m->ifaces[0]), "%s", iface_id);
	return 0;
}

static int load_cfg(struct wire *r, uint32_t version, void *cfg, struct err *e)
{
	struct net_cfg *n = cfg;
	wire_get_strbuf(r, n->iface_id, sizeof(n->iface_id));
	wire_get_strbuf(r, n->host_dev_name, sizeof(n->host_dev_name));
	uint32_t has_mac = wire_get_u32(r);
	wire_get(r, n->guest_mac, 6);
	bool ok = rl_cfg_load(r, &n->rx_rate_limiter, version >= RL_CFG_WIRE_FLAGS);
	ok = rl_cfg_load(r, &n->tx_rate_limiter, version >= RL_CFG_WIRE_FLAGS) && ok;
	n->has_mac = has_mac;
	if (r->bad || !ok || has_mac > 1 || !config_id_valid(n->iface_id) ||
	    !ifname_valid(n->host_dev_name))
		return err_inval(e, "network interface record out of range");
	return version >= NET_SNAP_MMDS ? load_mmds(r, n->iface_id, e) : 0;
}

static int override(void *cfg, const char *field, const char *value, struct err *e)
{
	struct net_cfg *n = cfg;
	if (strcmp(field, "host_dev_name"))
		return err_inval(e, "a network override may change host_dev_name only, not '%s'",
				 field);
	if (!ifname_valid(value))
		return err_inval(e, "network override: '%s' is not a network interface name",
				 value);
	snprintf(n->host_dev_name, sizeof(n->host_dev_name), "%s", value);
	return 0;
}

/* The offloads follow what the guest acks. */
static const struct seccomp_rule rules[] = {
	SECCOMP_IOCTL(TUNSETOFFLOAD, "virtio-net: the tap's offloads follow the guest's features"),
};

const struct device_type net_type = {
	.name = "net",
	.noun = "network interface",
	.key = "network-interfaces",
	.path = "/network-interfaces",
	.id_field = "iface_id",
	.max = 8,
	.api_metric = "network",
	.cfg_size = sizeof(struct net_cfg),
	.parse = parse,
	.id = id,
	.check = check,
	.probe = probe,
	.describe = describe,
	.ops = &net_ops,
	.create = create,
	.destroy = destroy,
	.patch_size = sizeof(struct net_patch),
	.parse_patch = parse_patch,
	.patch_id = patch_id,
	.patch = patch,
	.metrics_key = "net",
	.metrics = metrics,
	.nr_metrics = sizeof(metrics) / sizeof(metrics[0]),
	.stats = stats,
	.snap_version = NET_SNAP_MMDS, /* 2: rate limiter flags; 3: MMDS settings */
	.save_cfg = save_cfg,
	.load_cfg = load_cfg,
	.override = override,
	.seccomp = rules,
	.nr_seccomp = sizeof(rules) / sizeof(rules[0]),
};
