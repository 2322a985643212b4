/*
 * snapshot/devices.c: device records read back from a state file into a
 * config (snap_devices_config), with the load request's overrides applied,
 * and corrupt or duplicated records refused with a message. Each type's
 * record on its own is test_snapshot_records.c.
 */
#include "snap_util.h"

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

/* ---- records ---- */

#define MAX_RECS 12

/* One device record as written into its section, and how to spoil it. */
struct rec {
	char type[sizeof(((struct snap_device *)0)->type)];
	uint32_t version;
	struct wire cfg; /* the type's config record */
	size_t state_len;
	int64_t cfg_len;      /* the header's; -1: cfg.len */
	uint32_t sec_version; /* the section's; 0: 1 */
	size_t cut;	      /* bytes cut off the end of the section */
};

static struct rec recs[MAX_RECS];
static int nr_recs;

static struct rec *add_rec(const struct device_type *t)
{
	cr_assert_lt(nr_recs, MAX_RECS);
	struct rec *r = &recs[nr_recs++];
	memset(r, 0, sizeof(*r));
	snprintf(r->type, sizeof(r->type), "%s", t->name);
	r->version = t->snap_version;
	r->cfg_len = -1;
	wire_init(&r->cfg);
	return r;
}

/* A record of t holding what t's save_cfg writes of cfg. */
static struct rec *add_cfg(const struct device_type *t, const void *cfg)
{
	struct rec *r = add_rec(t);
	t->save_cfg(cfg, &r->cfg);
	cr_assert_not(r->cfg.bad);
	return r;
}

/* The snapshot of a VM with a device of every type (seven records). */
static void add_all(void)
{
	struct drive_cfg root = good_root(), data = good_data();
	struct rng_cfg rng = good_rng();
	struct net_cfg n0 = good_net(0), n1 = good_net(1);
	struct vsock_cfg v = good_vsock();
	struct balloon_cfg b = good_balloon();
	add_cfg(&blk_type, &root);
	add_cfg(&blk_type, &data);
	add_cfg(&rng_type, &rng);
	add_cfg(&net_type, &n0);
	add_cfg(&net_type, &n1);
	add_cfg(&vsock_type, &v);
	add_cfg(&balloon_type, &b);
}

static void free_recs(void)
{
	for (int i = 0; i < nr_recs; i++)
		wire_fini(&recs[i].cfg);
	nr_recs = 0;
}

/* Write recs[] as the device sections of a state file; read them back into
 * cfg as a restore does (nr records expected; -1: as many as written). */
static int load(int nr, struct vm_config *cfg, const struct snapshot_load *req, struct err *e)
{
	struct snap_writer *w = snap_writer_create();
	struct snap_reader *rd;
	cr_assert_not_null(w);
	for (int i = 0; i < nr_recs; i++) {
		const struct rec *r = &recs[i];
		struct snap_device h = { .version = r->version };
		uint8_t *buf = calloc(1, sizeof(h) + r->cfg.len + r->state_len);
		cr_assert_not_null(buf);
		memcpy(h.type, r->type, sizeof(h.type));
		h.cfg_len = r->cfg_len < 0 ? (uint32_t)r->cfg.len : (uint32_t)r->cfg_len;
		memcpy(buf, &h, sizeof(h));
		if (r->cfg.len)
			memcpy(buf + sizeof(h), r->cfg.buf, r->cfg.len);
		size_t len = sizeof(h) + r->cfg.len + r->state_len;
		cr_assert_leq(r->cut, len);
		cr_assert_eq(snap_writer_add(w, SNAP_SEC_DEVICE + (uint32_t)i,
					     r->sec_version ? r->sec_version : 1, buf,
					     len - r->cut),
			     0);
		free(buf);
	}
	cr_assert_eq(snap_writer_write_file(w, path), 0);
	snap_writer_destroy(w);
	cr_assert_eq(snap_reader_open_file(path, 0, &rd, e), 0, "%s", e->msg);
	vm_config_init(cfg);
	cfg->machine.mem_size_mib = 64;
	err_clear(e);
	int r = snap_devices_config(rd, nr < 0 ? (uint32_t)nr_recs : (uint32_t)nr, cfg, req, e);
	snap_reader_destroy(rd);
	return r;
}

/* Config `id` of type t (NULL: the only one) in c. */

static const void *dev(const struct vm_config *c, const struct device_type *t, const char *id)
{
	struct dev_cfg *d = config_find_device(c, t, id);
	cr_assert_not_null(d, "no %s '%s'", t->name, id ? id : "");
	return d->cfg;
}

Test(snap_devices, round_trip_with_overrides)
{
	struct snapshot_load req;
	struct vm_config c;
	struct err e = { 0 };
	memset(&req, 0, sizeof(req));
	req.overrides[0] = (struct snap_override){ .what = "network_overrides",
						   .type = "net",
						   .id = "eth1",
						   .field = "host_dev_name",
						   .value = strdup("clonetap") };
	req.overrides[1] = (struct snap_override){ .what = "vsock_override",
						   .type = "vsock",
						   .field = "uds_path",
						   .value = strdup("/run/clone.sock") };
	req.overrides[2] = (struct snap_override){ .what = "drive_overrides",
						   .type = "block",
						   .id = "data",
						   .field = "path_on_host",
						   .value = strdup("/img/clone") };
	req.nr_overrides = 3;
	add_all();
	cr_assert_eq(load(-1, &c, &req, &e), 0, "%s", e.msg);

	cr_expect_eq(c.nr_devs, 7);
	for (int i = 0; i < c.nr_devs; i++)
		cr_expect_str_eq(c.devs[i].type->name, recs[i].type, "slot order is kept");
	struct drive_cfg root = good_root(), data = good_data();
	expect_drive_eq(dev(&c, &blk_type, "rootfs"), &root);
	data.path_on_host = (char *)"/img/clone";
	expect_drive_eq(dev(&c, &blk_type, "data"), &data);
	struct rng_cfg rng = good_rng();
	expect_rl_eq(&((const struct rng_cfg *)dev(&c, &rng_type, NULL))->rate_limiter,
		     &rng.rate_limiter, "entropy");
	struct net_cfg n0 = good_net(0), n1 = good_net(1);
	expect_net_eq(dev(&c, &net_type, "eth0"), &n0);
	snprintf(n1.host_dev_name, sizeof(n1.host_dev_name), "clonetap");
	expect_net_eq(dev(&c, &net_type, "eth1"), &n1);
	const struct vsock_cfg *v = dev(&c, &vsock_type, NULL);
	cr_expect_eq(v->guest_cid, 9);
	cr_expect_str_eq(v->uds_path, "/run/clone.sock");
	const struct balloon_cfg *b = dev(&c, &balloon_type, NULL);
	cr_expect_eq(b->amount_mib, 16);
	cr_expect(b->deflate_on_oom);
	cr_expect_eq(b->stats_polling_interval_s, 5);
	vm_config_fini(&c);
	snapshot_load_fini(&req);
	free_recs();
}

Test(snap_devices, records_carry_state_after_the_config)
{
	struct snapshot_load req;
	struct vm_config c;
	struct err e = { 0 };
	memset(&req, 0, sizeof(req));
	add_all();
	recs[6].state_len = 16; /* the balloon's: read by load_state, not here */
	cr_assert_eq(load(-1, &c, &req, &e), 0, "%s", e.msg);
	cr_expect_eq(((const struct balloon_cfg *)dev(&c, &balloon_type, NULL))->amount_mib, 16);
	vm_config_fini(&c);
	free_recs();
}

static const struct {
	const char *name;
	const char *msg; /* in the message */
} corrupt[] = {
	{ "nine nets", "too many network-interfaces" },
	{ "iface id too long", "network interface record out of range" },
	{ "bad iface id", "network interface record out of range" },
	{ "empty tap name", "network interface record out of range" },
	{ "has_mac 2", "network interface record out of range" },
	{ "vsock cid 2", "vsock record out of range" },
	{ "vsock cid max", "vsock record out of range" },
	{ "uds path empty", "vsock record out of range" },
	{ "uds too long", "vsock record out of range" },
	{ "balloon > memory", "larger than the VM's memory" },
	{ "deflate flag 7", "balloon config out of range" },
	{ "stats a year", "balloon config out of range" },
	{ "bucket too big", "network interface record out of range" },
	{ "refill past a day", "entropy rate limiter out of range" },
	{ "drive limiter bad", "drive record out of range" },
	{ "uds path null", "vsock record out of range" },
	{ "invalid drive_id", "drive record out of range" },
	{ "empty drive path", "drive record out of range" },
	{ "unknown drive flag", "drive record out of range" },
	{ "two root drives", "root device" },
	{ "one tap twice", "already used" },
	{ "NUL in an iface id", "network interface record out of range" },
	{ "a config byte too many", "malformed" },
	{ "unknown type", "of type 'gpu', which this mvm does not know" },
	{ "type name not terminated", "is malformed" },
	{ "newer version", "is record version 2; this mvm reads up to 1" },
	{ "version 0", "record version 0" },
	{ "cfg_len past the record", "is malformed" },
	{ "cfg_len short", "drive record out of range" },
	{ "truncated header", "is missing or malformed" },
	{ "truncated config", "is malformed" },
	{ "a record missing", "device record 7 is missing" },
	{ "section version 2", "is missing or malformed" },
};

/* Spoil the good snapshot of add_all() as corrupt[i] says; how many records to read. */
static int spoil(size_t i)
{
	int nr = -1;
	switch (i) {
	case 0:
		free_recs();
		for (int k = 0; k < 9; k++) {
			struct net_cfg n = good_net(k);
			add_cfg(&net_type, &n);
		}
		break;
	case 1: {
		char id[MVM_ID_MAX + 2];
		memset(id, 'e', sizeof(id) - 1);
		wire_fini(&recs[3].cfg);
		enc_net(&recs[3].cfg, id, (uint32_t)sizeof(id) - 1, "tap0", 0);
		break;
	}
	case 2:
	case 3:
	case 12: {
		struct net_cfg n = good_net(0);
		if (i == 2)
			snprintf(n.iface_id, sizeof(n.iface_id), "e-0");
		else if (i == 3)
			n.host_dev_name[0] = '\0';
		else
			n.tx_rate_limiter.ops =
			    (struct bucket_cfg){ MVM_RL_MAX_SIZE + 1, 0, 1, false, false };
		wire_fini(&recs[3].cfg);
		net_type.save_cfg(&n, &recs[3].cfg);
		break;
	}
	case 4:
		wire_fini(&recs[3].cfg);
		enc_net(&recs[3].cfg, "eth0", 4, "tap0", 2);
		break;
	case 5:
	case 6:
	case 7:
	case 8: {
		char uds[MVM_UDS_PATH_MAX + 2];
		memset(uds, 'a', sizeof(uds) - 1);
		uds[sizeof(uds) - 1] = '\0';
		struct vsock_cfg v = good_vsock();
		if (i == 5)
			v.guest_cid = 2;
		else if (i == 6)
			v.guest_cid = UINT32_MAX;
		else if (i == 7)
			v.uds_path = (char *)"";
		else
			v.uds_path = uds;
		wire_fini(&recs[5].cfg);
		vsock_type.save_cfg(&v, &recs[5].cfg);
		break;
	}
	case 9:
	case 11: {
		struct balloon_cfg b = good_balloon();
		if (i == 9)
			b.amount_mib = 65;
		else
			b.stats_polling_interval_s = 365 * 86400;
		wire_fini(&recs[6].cfg);
		balloon_type.save_cfg(&b, &recs[6].cfg);
		break;
	}
	case 10:
		wire_fini(&recs[6].cfg);
		enc_balloon(&recs[6].cfg, 16, 7, 5);
		break;
	case 13: {
		struct rng_cfg r = good_rng();
		r.rate_limiter.bandwidth =
		    (struct bucket_cfg){ 5, 0, MVM_RL_MAX_REFILL + 1, false, false };
		wire_fini(&recs[2].cfg);
		rng_type.save_cfg(&r, &recs[2].cfg);
		break;
	}
	case 14:
	case 16:
	case 17: {
		struct drive_cfg d = good_root();
		if (i == 14)
			d.rate_limiter.ops =
			    (struct bucket_cfg){ 1, 0, MVM_RL_MAX_REFILL + 1, false, false };
		else if (i == 16)
			snprintf(d.drive_id, sizeof(d.drive_id), "a-b");
		else
			d.path_on_host = (char *)"";
		wire_fini(&recs[0].cfg);
		blk_type.save_cfg(&d, &recs[0].cfg);
		break;
	}
	case 15:
		wire_fini(&recs[5].cfg);
		enc_vsock(&recs[5].cfg, 9, NULL);
		break;
	case 18:
		wire_fini(&recs[1].cfg);
		enc_drive(&recs[1].cfg, "data", "/img/data", 1u << 9);
		break;
	case 19: {
		struct drive_cfg d = good_data();
		d.is_root_device = true;
		wire_fini(&recs[1].cfg);
		blk_type.save_cfg(&d, &recs[1].cfg);
		break;
	}
	case 20: {
		struct net_cfg n = good_net(1);
		snprintf(n.host_dev_name, sizeof(n.host_dev_name), "tap0");
		wire_fini(&recs[4].cfg);
		net_type.save_cfg(&n, &recs[4].cfg);
		break;
	}
	case 21:
		wire_fini(&recs[3].cfg);
		enc_net(&recs[3].cfg, "e\0x", 3, "tap0", 0);
		break;
	case 22: wire_put(&recs[2].cfg, "", 1); break;
	case 23: snprintf(recs[5].type, sizeof(recs[5].type), "gpu"); break;
	case 24: memset(recs[5].type, 'v', sizeof(recs[5].type)); break;
	case 25: recs[6].version = 2; break;
	case 26: recs[6].version = 0; break;
	case 27: recs[1].cfg_len = (int64_t)recs[1].cfg.len + 1; break;
	case 28: recs[1].cfg_len = (int64_t)recs[1].cfg.len - 1; break;
	case 29: recs[4].cut = recs[4].cfg.len + 1; break;
	case 30: recs[4].cut = 4; break;
	case 31: nr = nr_recs + 1; break;
	case 32: recs[0].sec_version = 2; break;
	}
	return nr;
}

Test(snap_devices, corrupt_sections_are_refused)
{
	for (size_t i = 0; i < sizeof(corrupt) / sizeof(corrupt[0]); i++) {
		struct snapshot_load req;
		struct vm_config c;
		struct err e = { 0 };
		memset(&req, 0, sizeof(req));
		add_all();
		int nr = spoil(i);
		int r = load(nr, &c, &req, &e);
		cr_expect_eq(r, -EINVAL, "%s: %s (%d)", corrupt[i].name,
			     r ? "wrong error" : "accepted", r);
		cr_expect(strstr(e.msg, corrupt[i].msg), "%s: message '%s' lacks '%s'",
			  corrupt[i].name, e.msg, corrupt[i].msg);
		cr_expect(r == 0 || strstr(e.msg, "snapshot state file"),
			  "%s: the message names the file: %s", corrupt[i].name, e.msg);
		vm_config_fini(&c);
		free_recs();
	}
}

/*
 * A state file holds each device once: a second record of a single-device
 * type, or of an id already read, is refused as the config file refuses it
 * ("appears twice"), before anything is built, not taken as a replacement.
 */
Test(snap_devices, duplicate_records_are_refused)
{
	static const char *const names[] = { "two vsocks", "one drive_id twice",
					     "one iface_id twice", "two balloons" };
	static const char *const msgs[] = { "a second record for vsock device",
					    "a second record for drive 'data'",
					    "a second record for network interface 'eth1'",
					    "a second record for balloon device" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct snapshot_load req;
		struct vm_config c;
		struct err e = { 0 };
		memset(&req, 0, sizeof(req));
		add_all();
		struct vsock_cfg v = good_vsock();
		struct drive_cfg d = good_data();
		struct net_cfg n = good_net(1);
		struct balloon_cfg b = good_balloon();
		switch (i) {
		case 0: add_cfg(&vsock_type, &v); break;
		case 1: add_cfg(&blk_type, &d); break;
		case 2:
			snprintf(n.host_dev_name, sizeof(n.host_dev_name), "tap7");
			add_cfg(&net_type, &n);
			break;
		case 3: add_cfg(&balloon_type, &b); break;
		}
		int r = load(-1, &c, &req, &e);
		cr_expect_eq(r, -EINVAL, "%s: %s (%d)", names[i], r ? "wrong error" : "accepted",
			     r);
		cr_expect(strstr(e.msg, msgs[i]), "%s: message '%s' lacks '%s'", names[i], e.msg,
			  msgs[i]);
		cr_expect(r || c.nr_devs == nr_recs, "%s: %d records, %d devices", names[i],
			  nr_recs, c.nr_devs);
		vm_config_fini(&c);
		free_recs();
	}
}

static void expect_load_refused(const char *what, int nr, const struct snapshot_load *req,
				const char *needle)
{
	struct vm_config c;
	struct err e = { 0 };
	int r = load(nr, &c, req, &e);
	cr_expect_neq(r, 0, "%s: accepted", what);
	if (r)
		cr_expect(needle ? strstr(e.msg, needle) != NULL : e.msg[0] != '\0',
			  "%s: message '%s' lacks '%s'", what, e.msg, needle ? needle : "anything");
	vm_config_fini(&c);
}

static void override(struct snapshot_load *req, const char *what, const char *type, const char *id,
		     const char *field, const char *value)
{
	snapshot_load_fini(req);
	req->overrides[0] = (struct snap_override){
		.what = what, .type = type, .field = field, .value = strdup(value)
	};
	snprintf(req->overrides[0].id, sizeof(req->overrides[0].id), "%s", id);
	req->nr_overrides = 1;
}

Test(snap_devices, wrong_size_version_or_overrides)
{
	struct snapshot_load req;
	memset(&req, 0, sizeof(req));

	add_all();
	recs[6].cut = 4;
	expect_load_refused("truncated", -1, &req, "malformed");
	free_recs();

	add_all();
	recs[3].version = net_type.snap_version + 1;
	expect_load_refused("another version", -1, &req, "this mvm reads up to");
	free_recs();

	add_all();
	override(&req, "network_overrides", "net", "eth7", "host_dev_name", "t");
	expect_load_refused("override of a missing interface", -1, &req, "eth7");
	override(&req, "drive_overrides", "block", "nope", "path_on_host", "/x");
	expect_load_refused("override of a missing drive", -1, &req, "'nope'");
	override(&req, "network_overrides", "net", "eth0", "host_dev_name", "a/b");
	expect_load_refused("override with a bad tap name", -1, &req,
			    "not a network interface name");
	override(&req, "vsock_override", "vsock", "", "uds_path", "");
	expect_load_refused("override with an empty uds_path", -1, &req, "uds_path");
	override(&req, "vsock_override", "vsock", "", "guest_cid", "3");
	expect_load_refused("override of another field", -1, &req, "uds_path only");
	override(&req, "balloon_override", "balloon", "", "amount_mib", "1");
	expect_load_refused("override of a type without overrides", -1, &req,
			    "cannot be overridden");
	free_recs();

	add_all();
	wire_fini(&recs[5].cfg);
	recs[5] = recs[6]; /* no vsock */
	nr_recs--;
	override(&req, "vsock_override", "vsock", "", "uds_path", "/v");
	expect_load_refused("vsock override without a vsock", -1, &req, "no vsock");
	free_recs();
	snapshot_load_fini(&req);
}
