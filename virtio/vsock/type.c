/*
 * vsock as a device type: the config file's "vsock", PUT /vsock, the "vsock"
 * metrics, the snapshot record and vsock_override. Connections do not
 * survive a snapshot: as Firecracker does, the guest gets a transport reset
 * when the snapshot is taken, and the restored VM starts with none.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../../lib/json.h"
#include "../../lib/strbuf.h"
#include "../../lib/wire.h"
#include "../../vmm/config.h"
#include "../../vmm/seccomp.h"
#include "vsock.h"

static void cfg_fini(void *cfg)
{
	struct vsock_cfg *v = cfg;
	free(v->uds_path);
	v->uds_path = NULL;
}

static int check_path(const char *path, struct err *e)
{
	if (!path || !*path)
		return err_inval(e, "vsock needs 'uds_path' (the host Unix socket)");
	if (strlen(path) > MVM_UDS_PATH_MAX)
		return err_inval(e,
				 "field 'uds_path' is %zu bytes; at most %d (a Unix socket path "
				 "holds 107 and mvm appends _<port>)",
				 strlen(path), MVM_UDS_PATH_MAX);
	return 0;
}

static int parse(const struct json *j, int obj, void *cfg, struct err *e)
{
	struct vsock_cfg *v = cfg;
	char id[MVM_ID_MAX + 1];
	bool have_cid = false;
	uint64_t u;
	int r;

	if ((r = json_expect_object(j, obj, "vsock", e)))
		return r;
	for_each_member (j, obj, k, val) {
		if (json_key_is(j, k, "guest_cid")) {
			if ((r = json_u64(j, val, "guest_cid", MVM_VSOCK_CID_MIN, UINT32_MAX - 1,
					  &u, e)))
				return r;
			v->guest_cid = (uint32_t)u;
			have_cid = true;
		} else if (json_key_is(j, k, "uds_path")) {
			free(v->uds_path);
			v->uds_path = NULL;
			if ((r = json_string(j, val, "uds_path", &v->uds_path, e)))
				return r;
		} else if (json_key_is(j, k, "vsock_id")) {
			/* deprecated in Firecracker; accepted and unused */
			if ((r = json_string_buf(j, val, "vsock_id", id, sizeof(id), e)))
				return r;
		} else {
			return json_unknown_field(j, k, "vsock", e);
		}
	}
	if (!have_cid)
		return err_inval(e, "vsock needs 'guest_cid' (%d or more; 0-2 are reserved)",
				 MVM_VSOCK_CID_MIN);
	return check_path(v->uds_path, e);
}

static void describe(const void *cfg, struct strbuf *b)
{
	const struct vsock_cfg *v = cfg;
	strbuf_printf(b, "{\"guest_cid\": %u, \"uds_path\": ", v->guest_cid);
	strbuf_json_str(b, v->uds_path);
	strbuf_printf(b, "}");
}

static void *create(const void *cfg, const struct dev_env *env, struct err *e)
{
	const struct vsock_cfg *v = cfg;
	(void)env;
	return vsock_create(v->guest_cid, v->uds_path, e);
}

static void destroy(void *dev)
{
	vsock_destroy(dev);
}

static const struct dev_metric metrics[] = {
	{ "rx_bytes_count", "bytes to the guest", false },
	{ "tx_bytes_count", "bytes from the guest", false },
	{ "rx_packets_count", "packets to the guest", false },
	{ "tx_packets_count", "packets from the guest", false },
	{ "conns_added", "connections opened", false },
	{ "conns_removed", "connections closed", false },
	{ "conn_fails", "connections that failed", false },
	{ "bad_packets", "malformed packets from the guest", false },
	{ "transport_resets", "transport resets sent to the guest", false },
};

static void stats(void *dev, uint64_t *out)
{
	struct vsock_stats s;
	vsock_get_stats(dev, &s);
	uint64_t v[] = { s.rx_bytes,	  s.tx_bytes,	s.rx_packets,  s.tx_packets, s.conns_added,
			 s.conns_removed, s.conn_fails, s.bad_packets, s.resets };
	memcpy(out, v, sizeof(v));
}

static void snapshot_prepare(void *dev)
{
	vsock_snapshot_reset(dev);
}

static void save_cfg(const void *cfg, struct wire *w)
{
	const struct vsock_cfg *v = cfg;
	wire_put_u32(w, v->guest_cid);
	wire_put_str(w, v->uds_path);
}

static int load_cfg(struct wire *r, uint32_t version, void *cfg, struct err *e)
{
	struct vsock_cfg *v = cfg;
	(void)version;
	v->guest_cid = wire_get_u32(r);
	v->uds_path = wire_get_str(r, MVM_UDS_PATH_MAX);
	if (r->bad || v->guest_cid < MVM_VSOCK_CID_MIN || v->guest_cid == UINT32_MAX ||
	    !v->uds_path || !*v->uds_path)
		return err_inval(e, "vsock record out of range");
	return 0;
}

static int override(void *cfg, const char *field, const char *value, struct err *e)
{
	struct vsock_cfg *v = cfg;
	int r;
	if (strcmp(field, "uds_path"))
		return err_inval(e, "a vsock override may change uds_path only, not '%s'", field);
	if ((r = check_path(value, e)))
		return r;
	char *p = strdup(value);
	if (!p)
		return err_set(e, -ENOMEM, "out of memory");
	free(v->uds_path);
	v->uds_path = p;
	return 0;
}

static const uint64_t unix_only[] = { AF_UNIX };
static const struct seccomp_rule rules[] = {
	SECCOMP_ONLY(SYS_socket, 0, unix_only, "vsock: guest connections to <uds_path>_<port>"),
	SECCOMP_ANY(SYS_connect, "vsock: guest connections to <uds_path>_<port>"),
	SECCOMP_ANY(SYS_accept4, "vsock: host connections on uds_path"),
	SECCOMP_ANY(SYS_shutdown, "vsock: the guest's SHUTDOWN(SEND) half-closes the host socket"),
};

const struct device_type vsock_type = {
	.name = "vsock",
	.noun = "vsock device",
	.key = "vsock",
	.path = "/vsock",
	.max = 1,
	.api_metric = "vsock",
	.cfg_size = sizeof(struct vsock_cfg),
	.parse = parse,
	.describe = describe,
	.cfg_fini = cfg_fini,
	.ops = &vsock_ops,
	.create = create,
	.destroy = destroy,
	.metrics_key = "vsock",
	.metrics = metrics,
	.nr_metrics = sizeof(metrics) / sizeof(metrics[0]),
	.stats = stats,
	.snap_version = 1,
	.snapshot_prepare = snapshot_prepare,
	.save_cfg = save_cfg,
	.load_cfg = load_cfg,
	.override = override,
	.seccomp = rules,
	.nr_seccomp = sizeof(rules) / sizeof(rules[0]),
};
