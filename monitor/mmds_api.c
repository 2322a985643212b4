/*
 * MMDS through the API: PUT /mmds/config (before boot), PUT, PATCH and GET
 * /mmds (any time). Bodies are parsed on the api thread (the data into a
 * tree); the store and the settings change on the vmm thread, which is also
 * where the guest reads them (virtio/net/mmds/).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "../lib/json.h"
#include "../lib/strbuf.h"
#include "../lib/util.h"
#include "../virtio/net/mmds/jtree.h"
#include "../virtio/net/mmds/store.h"
#include "../virtio/net/net.h"
#include "config_file.h"
#include "monitor.h"
#include "request.h"

static int parse_ifaces(const struct json *j, int v, struct mmds_cfg *c, struct err *e)
{
	if (j->t[v].type != JSMN_ARRAY)
		return err_inval(e, "field 'network_interfaces' must be a list of iface_ids");
	int n = j->t[v].size, r;
	if (n > (int)(sizeof(c->ifaces) / sizeof(c->ifaces[0])))
		return err_inval(e,
				 "field 'network_interfaces' lists %d interfaces; a VM has at "
				 "most 8",
				 n);
	for (int i = 0, t = v + 1; i < n; i++, t = json_next(j, t))
		if ((r = json_string_buf(j, t, "network_interfaces", c->ifaces[i],
					 sizeof(c->ifaces[i]), e)))
			return r;
	c->nr_ifaces = n;
	return 0;
}

static int parse_field(const struct json *j, int k, int v, struct mmds_cfg *c, bool *has_ifaces,
		       struct err *e)
{
	char s[32];
	bool b;
	int r;
	if (json_key_is(j, k, "network_interfaces")) {
		*has_ifaces = true;
		return parse_ifaces(j, v, c, e);
	}
	if (json_key_is(j, k, "version")) {
		if ((r = json_string_buf(j, v, "version", s, sizeof(s), e)))
			return r;
		if (strcmp(s, "V1") && strcmp(s, "V2"))
			return err_inval(e, "field 'version': '%s' is unknown; use V1 or V2", s);
		c->version = s[1] == '1' ? MMDS_V1 : MMDS_V2;
		return 0;
	}
	if (json_key_is(j, k, "ipv4_address")) {
		if ((r = json_string_buf(j, v, "ipv4_address", s, sizeof(s), e)))
			return r;
		if (mmds_parse_ipv4(s, &c->ipv4))
			return err_inval(e,
					 "The MMDS IPv4 address is not link local. ('%s': use "
					 "169.254.1.0 to 169.254.254.255)",
					 s);
		return 0;
	}
	if (json_key_is(j, k, "imds_compat")) {
		if (!(r = json_bool(j, v, "imds_compat", &b, e)) && b)
			r = err_inval(e, "field 'imds_compat': mvm answers by the Accept header "
					 "only; true is not supported");
		return r;
	}
	return json_unknown_field(j, k, "the MMDS config", e);
}

static int parse_cfg(const struct json *j, int obj, struct mmds_cfg *c, struct err *e)
{
	bool has_ifaces = false;
	int r;
	if ((r = json_expect_object(j, obj, "the MMDS config", e)))
		return r;
	for_each_member (j, obj, k, v)
		if ((r = parse_field(j, k, v, c, &has_ifaces, e)))
			return r;
	if (!has_ifaces)
		return err_inval(e, "the MMDS config needs 'network_interfaces'");
	if (!c->nr_ifaces)
		return err_inval(e, "The list of network interface IDs that allow forwarding MMDS "
				    "requests is empty.");
	return 0;
}

int mmds_cfg_parse(const struct json *j, int obj, struct mmds_cfg *c, struct err *e)
{
	*c = (struct mmds_cfg){ .version = MMDS_V1, .ipv4 = MMDS_DEFAULT_IPV4 };
	int r = parse_cfg(j, obj, c, e);
	c->enabled = r == 0;
	return r;
}

int api_parse_mmds_config(const struct json *j, struct api_request *req, struct err *e)
{
	return mmds_cfg_parse(j, 0, &req->u.mmds_cfg, e);
}

int api_parse_mmds_data(const struct json *j, struct api_request *req, struct err *e)
{
	if (!(req->u.mmds_data = jt_from_json(j, 0)))
		return err_set(e, -ENOMEM, "out of memory");
	return 0;
}

int mmds_cfg_check(const struct vm_config *vc, const struct mmds_cfg *c, struct err *e)
{
	for (int i = 0; c->enabled && i < c->nr_ifaces; i++)
		if (!config_find_device(vc, &net_type, c->ifaces[i]))
			return err_inval(e,
					 "The list of network interface IDs provided contains at "
					 "least one ID that does not correspond to any existing "
					 "network interface. ('%s' is not configured)",
					 c->ifaces[i]);
	return 0;
}

static int put_config(struct monitor *m, const struct mmds_cfg *c, struct err *e)
{
	int r = mmds_cfg_check(&m->cfg, c, e);
	if (!r)
		*mmds_config() = *c;
	return r;
}

int monitor_mmds_request(struct monitor *m, struct api_request *req, struct strbuf *out,
			 struct err *e)
{
	struct mmds_store *s = mmds_store();
	struct jt *data = req->u.mmds_data;
	switch (req->op) {
	case API_PUT_MMDS_CONFIG: return put_config(m, &req->u.mmds_cfg, e);
	case API_GET_MMDS: mmds_store_json(s, out); return 0;
	case API_PUT_MMDS: req->u.mmds_data = NULL; return mmds_store_put(s, data, e);
	default: req->u.mmds_data = NULL; return mmds_store_patch(s, data, e);
	}
}

void mmds_config_json(struct strbuf *b)
{
	const struct mmds_cfg *c = mmds_config();
	if (!c->enabled) {
		strbuf_printf(b, "null");
		return;
	}
	strbuf_printf(b, "{\"version\": \"V%d\", \"network_interfaces\": [", (int)c->version);
	for (int i = 0; i < c->nr_ifaces; i++) {
		strbuf_printf(b, "%s", i ? ", " : "");
		strbuf_json_str(b, c->ifaces[i]);
	}
	strbuf_printf(b, "], \"ipv4_address\": \"%u.%u.%u.%u\"}", c->ipv4 >> 24,
		      c->ipv4 >> 16 & 0xff, c->ipv4 >> 8 & 0xff, c->ipv4 & 0xff);
}

#define F(name)                                            \
	{                                                  \
#name, offsetof(struct mmds_metrics, name) \
	}
static const struct {
	const char *name;
	size_t off;
} mmds_fields[] = { F(rx_accepted),
		    F(rx_accepted_err),
		    F(rx_accepted_unusual),
		    F(rx_bad_eth),
		    F(rx_invalid_token),
		    F(rx_no_token),
		    F(rx_count),
		    F(tx_bytes),
		    F(tx_count),
		    F(tx_errors),
		    F(tx_frames),
		    F(connections_created),
		    F(connections_destroyed) };
#undef F

static uint64_t mmds_field(const struct mmds_metrics *m, size_t i)
{
	return *(const uint64_t *)((const char *)m + mmds_fields[i].off);
}

/* Firecracker's "mmds" metrics group: each counter's growth since prev. */
void mmds_metrics_json(struct strbuf *b, const struct mmds_metrics *prev, struct mmds_metrics *now)
{
	*now = mmds_metrics;
	strbuf_printf(b, ",\"mmds\":{");
	for (size_t i = 0; i < ARRAY_SIZE(mmds_fields); i++)
		strbuf_printf(b, "%s\"%s\":%llu", i ? "," : "", mmds_fields[i].name,
			      (unsigned long long)(mmds_field(now, i) - mmds_field(prev, i)));
	strbuf_printf(b, "}");
}

void mmds_metrics_prometheus(struct strbuf *b)
{
	for (size_t i = 0; i < ARRAY_SIZE(mmds_fields); i++) {
		const char *n = mmds_fields[i].name;
		strbuf_printf(
		    b,
		    "# HELP mvm_mmds_%s_total Firecracker's mmds.%s, since the monitor "
		    "started.\n# TYPE mvm_mmds_%s_total counter\nmvm_mmds_%s_total %llu\n",
		    n, n, n, n, (unsigned long long)mmds_field(&mmds_metrics, i));
	}
}
