/*
 * The device sections of Firecracker's config (rate limiters, network
 * interfaces, vsock, balloon): one parser each, shared by the config file
 * and the API, each error naming the field and what is allowed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

static int parse_bucket(const struct json *j, int obj, const char *field, struct bucket_cfg *out,
			struct json_err *e)
{
	struct bucket_cfg b = { 0 };
	bool have_size = false, have_refill = false;
	char name[96];
	int r;

	if ((r = json_expect_object(j, obj, field, e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (json_key_is(j, k, "size")) {
			snprintf(name, sizeof(name), "%s.size", field);
			if ((r = json_u64(j, v, name, 1, MVM_RL_MAX_SIZE, &b.size, e)))
				return r;
			have_size = true;
		} else if (json_key_is(j, k, "one_time_burst")) {
			if (json_is_null(j, v))
				continue;
			snprintf(name, sizeof(name), "%s.one_time_burst", field);
			if ((r = json_u64(j, v, name, 0, MVM_RL_MAX_SIZE, &b.one_time_burst, e)))
				return r;
		} else if (json_key_is(j, k, "refill_time")) {
			snprintf(name, sizeof(name), "%s.refill_time", field);
			if ((r = json_u64(j, v, name, 1, MVM_RL_MAX_REFILL, &b.refill_time_ms, e)))
				return r;
			have_refill = true;
		} else {
			return json_unknown_field(j, k, field, e);
		}
	}
	if (!have_size || !have_refill)
		return json_errf(e, "'%s' needs both 'size' and 'refill_time' (milliseconds)",
				 field);
	*out = b;
	return 0;
}

int config_parse_rate_limiter(const struct json *j, int obj, const char *field,
			      struct rate_limiter_cfg *out, unsigned *which, struct json_err *e)
{
	struct rate_limiter_cfg rl = { { 0 }, { 0 } };
	unsigned have = 0;
	char name[80];
	int r;

	if (json_is_null(j, obj)) {
		*out = rl;
		*which = RL_BANDWIDTH | RL_OPS;
		return 0;
	}
	if ((r = json_expect_object(j, obj, field, e)))
		return r;
	for_each_member (j, obj, k, v) {
		struct bucket_cfg *b;
		unsigned bit;
		if (json_key_is(j, k, "bandwidth")) {
			b = &rl.bandwidth;
			bit = RL_BANDWIDTH;
			snprintf(name, sizeof(name), "%s.bandwidth", field);
		} else if (json_key_is(j, k, "ops")) {
			b = &rl.ops;
			bit = RL_OPS;
			snprintf(name, sizeof(name), "%s.ops", field);
		} else {
			return json_unknown_field(j, k, field, e);
		}
		have |= bit;
		if (json_is_null(j, v))
			continue; /* no bucket (PATCH: remove it) */
		if ((r = parse_bucket(j, v, name, b, e)))
			return r;
	}
	*out = rl;
	*which = have;
	return 0;
}

int config_parse_mac(const char *s, uint8_t mac[6])
{
	if (strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		int hi = hex_digit(s[3 * i]), lo = hex_digit(s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	if (mac[0] & 1)
		return -EINVAL; /* a multicast address cannot be a NIC's */
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

static int parse_limiter_field(const struct json *j, int v, const char *field,
			       struct rate_limiter_cfg *out, unsigned *which, struct json_err *e)
{
	unsigned w;
	int r = config_parse_rate_limiter(j, v, field, out, &w, e);
	if (!r && which)
		*which = w;
	return r;
}

int config_parse_net(const struct json *j, int obj, struct net_cfg *out, struct json_err *e)
{
	struct net_cfg n;
	char mac[32];
	int r;

	memset(&n, 0, sizeof(n));
	if ((r = json_expect_object(j, obj, "a network interface", e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (json_key_is(j, k, "iface_id")) {
			if ((r = json_string_buf(j, v, "iface_id", n.iface_id, sizeof(n.iface_id),
						 e)))
				return r;
		} else if (json_key_is(j, k, "host_dev_name")) {
			if ((r = json_string_buf(j, v, "host_dev_name", n.host_dev_name,
						 sizeof(n.host_dev_name), e)))
				return r;
			if (!ifname_valid(n.host_dev_name))
				return json_errf(e,
						 "field 'host_dev_name': '%s' is not a network "
						 "interface name (1 to %d bytes, no '/', ':' or "
						 "spaces)",
						 n.host_dev_name, MVM_IFNAME_MAX);
		} else if (json_key_is(j, k, "guest_mac")) {
			if (json_is_null(j, v))
				continue;
			if ((r = json_string_buf(j, v, "guest_mac", mac, sizeof(mac), e)))
				return json_errf(e, "field 'guest_mac' must be a MAC address like "
						    "06:00:ac:10:00:02");
			if (config_parse_mac(mac, n.guest_mac))
				return json_errf(e,
						 "field 'guest_mac': '%s' is not a unicast MAC "
						 "address like 06:00:ac:10:00:02",
						 mac);
			n.has_mac = true;
		} else if (json_key_is(j, k, "rx_rate_limiter")) {
			if ((r = parse_limiter_field(j, v, "rx_rate_limiter", &n.rx_rate_limiter,
						     NULL, e)))
				return r;
		} else if (json_key_is(j, k, "tx_rate_limiter")) {
			if ((r = parse_limiter_field(j, v, "tx_rate_limiter", &n.tx_rate_limiter,
						     NULL, e)))
				return r;
		} else if (json_key_is(j, k, "allow_mmds_requests")) {
			bool b;
			if ((r = json_bool(j, v, "allow_mmds_requests", &b, e)))
				return r;
			if (b)
				return json_errf(e, "field 'allow_mmds_requests': mvm has no MMDS");
		} else {
			return json_unknown_field(j, k, "a network interface", e);
		}
	}
	if (!n.iface_id[0])
		return json_errf(e, "a network interface needs 'iface_id'");
	if (!config_id_valid(n.iface_id))
		return json_errf(e, "iface_id '%s' is invalid: use 1 to %d letters, digits or '_'",
				 n.iface_id, MVM_ID_MAX);
	if (!n.host_dev_name[0])
		return json_errf(e, "network interface '%s' needs 'host_dev_name' (a tap device)",
				 n.iface_id);
	*out = n;
	return 0;
}

int config_parse_net_patch(const struct json *j, int obj, char *iface_id,
			   struct rate_limiter_cfg *rx, unsigned *rx_which,
			   struct rate_limiter_cfg *tx, unsigned *tx_which, struct json_err *e)
{
	int r;
	*rx_which = *tx_which = 0;
	iface_id[0] = '\0';
	if ((r = json_expect_object(j, obj, "a network interface update", e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (json_key_is(j, k, "iface_id")) {
			if ((r = json_string_buf(j, v, "iface_id", iface_id, MVM_ID_MAX + 1, e)))
				return r;
		} else if (json_key_is(j, k, "rx_rate_limiter")) {
			if ((r = parse_limiter_field(j, v, "rx_rate_limiter", rx, rx_which, e)))
				return r;
		} else if (json_key_is(j, k, "tx_rate_limiter")) {
			if ((r = parse_limiter_field(j, v, "tx_rate_limiter", tx, tx_which, e)))
				return r;
		} else {
			return json_unknown_field(j, k, "a network interface update", e);
		}
	}
	if (!iface_id[0])
		return json_errf(e, "a network interface update needs 'iface_id'");
	return 0;
}

int config_put_net(struct vm_config *c, const struct net_cfg *n, struct json_err *e)
{
	int slot = c->nr_nets;
	for (int i = 0; i < c->nr_nets; i++) {
		const struct net_cfg *o = &c->nets[i];
		if (!strcmp(o->iface_id, n->iface_id)) {
			slot = i;
			continue;
		}
		if (!strcmp(o->host_dev_name, n->host_dev_name))
			return json_errf(e,
					 "host_dev_name '%s' is already used by network "
					 "interface '%s'",
					 n->host_dev_name, o->iface_id);
		if (n->has_mac && o->has_mac && !memcmp(o->guest_mac, n->guest_mac, 6))
			return json_errf(e, "guest_mac is already used by network interface '%s'",
					 o->iface_id);
	}
	if (slot == MVM_MAX_NETS)
		return json_errf(e, "too many network interfaces (at most %d)", MVM_MAX_NETS);
	if (slot == c->nr_nets)
		c->nr_nets++;
	c->nets[slot] = *n;
	return 0;
}

int config_parse_nets(const struct json *j, int arr, struct vm_config *c, struct json_err *e)
{
	if (json_is_null(j, arr))
		return 0;
	if (j->t[arr].type != JSMN_ARRAY)
		return json_errf(e, "'network-interfaces' must be an array");
	for (int i = 0, o = arr + 1; i < j->t[arr].size; i++, o = json_next(j, o)) {
		struct net_cfg n;
		int r = config_parse_net(j, o, &n, e);
		if (r)
			return r;
		for (int x = 0; x < c->nr_nets; x++)
			if (!strcmp(c->nets[x].iface_id, n.iface_id))
				return json_errf(e, "iface_id '%s' appears twice", n.iface_id);
		if ((r = config_put_net(c, &n, e)))
			return r;
	}
	return 0;
}

void vsock_cfg_fini(struct vsock_cfg *v)
{
	free(v->uds_path);
	memset(v, 0, sizeof(*v));
}

int config_parse_vsock(const struct json *j, int obj, struct vsock_cfg *out, struct json_err *e)
{
	struct vsock_cfg v = { .present = true };
	bool have_cid = false;
	uint64_t u;
	int r;

	if ((r = json_expect_object(j, obj, "vsock", e)))
		return r;
	for_each_member (j, obj, k, val) {
		if (json_key_is(j, k, "guest_cid")) {
			if ((r = json_u64(j, val, "guest_cid", MVM_VSOCK_CID_MIN, UINT32_MAX - 1,
					  &u, e)))
				goto fail;
			v.guest_cid = (uint32_t)u;
			have_cid = true;
		} else if (json_key_is(j, k, "uds_path")) {
			free(v.uds_path);
			v.uds_path = NULL;
			if ((r = json_string(j, val, "uds_path", &v.uds_path, e)))
				goto fail;
		} else if (json_key_is(j, k, "vsock_id")) {
			char id[MVM_ID_MAX + 1];
			if ((r = json_string_buf(j, val, "vsock_id", id, sizeof(id), e)))
				goto fail; /* deprecated in Firecracker; accepted and unused */
		} else {
			r = json_unknown_field(j, k, "vsock", e);
			goto fail;
		}
	}
	if (!have_cid) {
		r = json_errf(e, "vsock needs 'guest_cid' (%d or more; 0-2 are reserved)",
			      MVM_VSOCK_CID_MIN);
		goto fail;
	}
	if (!v.uds_path || !*v.uds_path) {
		r = json_errf(e, "vsock needs 'uds_path' (the host Unix socket)");
		goto fail;
	}
	if (strlen(v.uds_path) > MVM_UDS_PATH_MAX) {
		r = json_errf(e,
			      "field 'uds_path' is %zu bytes; at most %d (a Unix socket path "
			      "holds 107 and mvm appends _<port>)",
			      strlen(v.uds_path), MVM_UDS_PATH_MAX);
		goto fail;
	}
	vsock_cfg_fini(out);
	*out = v;
	return 0;
fail:
	vsock_cfg_fini(&v);
	return r;
}

int config_parse_balloon(const struct json *j, int obj, struct balloon_cfg *out, struct json_err *e)
{
	struct balloon_cfg b = { .present = true };
	bool have_amount = false, have_oom = false;
	uint64_t u;
	int r;

	if ((r = json_expect_object(j, obj, "balloon", e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (json_key_is(j, k, "amount_mib")) {
			if ((r = json_u64(j, v, "amount_mib", 0, MVM_MAX_MEM_MIB, &u, e)))
				return r;
			b.amount_mib = (uint32_t)u;
			have_amount = true;
		} else if (json_key_is(j, k, "deflate_on_oom")) {
			if ((r = json_bool(j, v, "deflate_on_oom", &b.deflate_on_oom, e)))
				return r;
			have_oom = true;
		} else if (json_key_is(j, k, "stats_polling_interval_s")) {
			if ((r = json_u64(j, v, "stats_polling_interval_s", 0,
					  MVM_BALLOON_MAX_STATS_S, &u, e)))
				return r;
			b.stats_polling_interval_s = (uint32_t)u;
		} else {
			return json_unknown_field(j, k, "balloon", e);
		}
	}
	if (!have_amount || !have_oom)
		return json_errf(e, "balloon needs 'amount_mib' and 'deflate_on_oom'");
	*out = b;
	return 0;
}

int config_parse_balloon_patch(const struct json *j, int obj, bool stats, uint32_t *value,
			       struct json_err *e)
{
	const char *name = stats ? "stats_polling_interval_s" : "amount_mib";
	uint64_t max = stats ? MVM_BALLOON_MAX_STATS_S : MVM_MAX_MEM_MIB, u;
	bool have = false;
	int r;

	if ((r = json_expect_object(j, obj, "a balloon update", e)))
		return r;
	for_each_member (j, obj, k, v) {
		if (!json_key_is(j, k, name))
			return json_unknown_field(j, k, "a balloon update", e);
		if ((r = json_u64(j, v, name, 0, max, &u, e)))
			return r;
		have = true;
	}
	if (!have)
		return json_errf(e, "a balloon update needs '%s'", name);
	*value = (uint32_t)u;
	return 0;
}

int config_nr_devices(const struct vm_config *c)
{
	return c->nr_drives + (c->entropy ? 1 : 0) + c->nr_nets + (c->vsock.present ? 1 : 0) +
	       (c->balloon.present ? 1 : 0);
}
