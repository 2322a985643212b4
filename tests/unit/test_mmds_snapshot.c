/* A snapshot keeps the MMDS settings in the record of each interface that
 * answers MMDS (not the data, as Firecracker); an old record has none. */
#include "snap_util.h"

#include "../../virtio/net/mmds/port.h"
#include "../../virtio/net/mmds/store.h"

static struct net_cfg eth0 = { .iface_id = "eth0", .host_dev_name = "tap0" };

static void save(struct wire *w)
{
	wire_init(w);
	net_type.save_cfg(&eth0, w);
	cr_assert_not(w->bad);
}

static int load(struct wire *w, uint32_t version, struct err *e)
{
	struct wire r;
	struct net_cfg back = { 0 };
	wire_reader(&r, w->buf, w->len);
	int rc = net_type.load_cfg(&r, version, &back, e);
	if (!rc)
		cr_expect(wire_ok(&r), "%zu of %zu bytes read", r.pos, r.len);
	return rc;
}

Test(mmds_snapshot, settings_come_back_with_the_interface_not_the_data)
{
	struct wire w;
	struct err e = { 0 };
	struct mmds_cfg *m = mmds_config();
	*m = (struct mmds_cfg){ .enabled = true,
				.version = MMDS_V2,
				.ipv4 = 0xa9feaa02u,
				.ifaces = { "eth0" },
				.nr_ifaces = 1 };
	save(&w);
	*m = (struct mmds_cfg){ .version = MMDS_V1, .ipv4 = MMDS_DEFAULT_IPV4 }; /* a fresh mvm */
	cr_assert_eq(load(&w, net_type.snap_version, &e), 0, "%s", e.msg);
	cr_expect(m->enabled && m->version == MMDS_V2 && m->ipv4 == 0xa9feaa02u);
	cr_expect(m->nr_ifaces == 1 && !strcmp(m->ifaces[0], "eth0"));
	cr_expect_null(mmds_store()->root, "the data store is not in a snapshot");
	wire_fini(&w);
}

Test(mmds_snapshot, an_interface_without_mmds_restores_without_it)
{
	struct wire w;
	struct err e = { 0 };
	struct mmds_cfg *m = mmds_config();
	*m = (struct mmds_cfg){ .version = MMDS_V1, .ipv4 = MMDS_DEFAULT_IPV4 };
	save(&w);
	cr_assert_eq(load(&w, net_type.snap_version, &e), 0, "%s", e.msg);
	cr_expect_not(m->enabled);
	/* A version 2 record (before MMDS) is the same without the last 12 bytes. */
	w.len -= 12;
	cr_assert_eq(load(&w, net_type.snap_version - 1, &e), 0, "%s", e.msg);
	cr_expect_not(m->enabled);
	wire_fini(&w);
}

Test(mmds_snapshot, bad_settings_are_refused)
{
	struct wire w;
	struct err e = { 0 };
	save(&w);
	w.buf[w.len - 12] = 2; /* "on" must be 0 or 1 */
	cr_expect_eq(load(&w, net_type.snap_version, &e), -EINVAL);
	cr_expect(strstr(e.msg, "MMDS") != NULL, "%s", e.msg);
	w.buf[w.len - 12] = 1;
	w.buf[w.len - 8] = 7; /* version 7 */
	cr_expect_eq(load(&w, net_type.snap_version, &e), -EINVAL);
	wire_fini(&w);
}
