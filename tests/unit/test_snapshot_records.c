/*
 * Each device type's snapshot record (save_cfg, load_cfg in vmm/device.h),
 * written and read back over lib/wire.c without a state file: every type's
 * config round trip, the limits of its fields, records cut short or too long,
 * and the layout the corrupt cases of test_snapshot_devices.c build on.
 */
#include "snap_util.h"

static void setup(void)
{
	log_set_level(LOG_OFF);
}

TestSuite(snap_records, .init = setup);

static void *save_load(const struct device_type *t, const void *cfg)
{
	struct wire w, r;
	struct err e = { 0 };
	void *back = calloc(1, t->cfg_size);
	cr_assert_not_null(back);
	wire_init(&w);
	t->save_cfg(cfg, &w);
	cr_assert_not(w.bad, "%s", t->name);
	wire_reader(&r, w.buf, w.len);
	cr_assert_eq(t->load_cfg(&r, t->snap_version, back, &e), 0, "%s: %s", t->name, e.msg);
	cr_expect(wire_ok(&r), "%s: %zu of %zu bytes read", t->name, r.pos, r.len);
	wire_fini(&w);
	return back;
}

Test(snap_records, every_type_config_round_trips_through_its_record)
{
	struct drive_cfg root = good_root(), data = good_data();
	struct drive_cfg *d = save_load(&blk_type, &root);
	expect_drive_eq(d, &root);
	config_free_device_cfg(&blk_type, d);
	d = save_load(&blk_type, &data);
	expect_drive_eq(d, &data);
	cr_expect_null(d->partuuid, "no partuuid stays none");
	config_free_device_cfg(&blk_type, d);

	struct rng_cfg rng = good_rng();
	struct rng_cfg *r = save_load(&rng_type, &rng);
	expect_rl_eq(&r->rate_limiter, &rng.rate_limiter, "entropy");
	config_free_device_cfg(&rng_type, r);

	for (int i = 0; i < 2; i++) {
		struct net_cfg n = good_net(i);
		struct net_cfg *back = save_load(&net_type, &n);
		expect_net_eq(back, &n);
		config_free_device_cfg(&net_type, back);
	}

	struct vsock_cfg v = good_vsock();
	struct vsock_cfg *vb = save_load(&vsock_type, &v);
	cr_expect_eq(vb->guest_cid, v.guest_cid);
	cr_expect_str_eq(vb->uds_path, v.uds_path);
	config_free_device_cfg(&vsock_type, vb);

	struct balloon_cfg b = good_balloon();
	struct balloon_cfg *bb = save_load(&balloon_type, &b);
	cr_expect_eq(bb->amount_mib, b.amount_mib);
	cr_expect_eq(bb->deflate_on_oom, b.deflate_on_oom);
	cr_expect_eq(bb->stats_polling_interval_s, b.stats_polling_interval_s);
	config_free_device_cfg(&balloon_type, bb);
}

/* The largest values each field may hold come back too. */

Test(snap_records, records_keep_the_limits_of_every_field)
{
	struct drive_cfg d = good_data();
	char id[MVM_ID_MAX + 1];
	memset(id, 'z', MVM_ID_MAX);
	id[MVM_ID_MAX] = '\0';
	memcpy(d.drive_id, id, sizeof(id));
	d.rate_limiter.bandwidth = (struct bucket_cfg){ MVM_RL_MAX_SIZE, MVM_RL_MAX_SIZE,
							MVM_RL_MAX_REFILL, false, false };
	struct drive_cfg *db = save_load(&blk_type, &d);
	expect_drive_eq(db, &d);
	config_free_device_cfg(&blk_type, db);

	struct net_cfg n = good_net(0);
	memset(n.host_dev_name, 't', MVM_IFNAME_MAX);
	n.host_dev_name[MVM_IFNAME_MAX] = '\0';
	struct net_cfg *nb = save_load(&net_type, &n);
	expect_net_eq(nb, &n);
	config_free_device_cfg(&net_type, nb);

	char uds[MVM_UDS_PATH_MAX + 1];
	memset(uds, 'u', MVM_UDS_PATH_MAX);
	uds[MVM_UDS_PATH_MAX] = '\0';
	struct vsock_cfg v = { .guest_cid = UINT32_MAX - 1, .uds_path = uds };
	struct vsock_cfg *vb = save_load(&vsock_type, &v);
	cr_expect_eq(vb->guest_cid, UINT32_MAX - 1);
	cr_expect_str_eq(vb->uds_path, uds);
	config_free_device_cfg(&vsock_type, vb);

	struct balloon_cfg b = { MVM_MAX_MEM_MIB, false, MVM_BALLOON_MAX_STATS_S };
	struct balloon_cfg *bb = save_load(&balloon_type, &b);
	cr_expect_eq(bb->amount_mib, MVM_MAX_MEM_MIB);
	cr_expect_not(bb->deflate_on_oom);
	cr_expect_eq(bb->stats_polling_interval_s, MVM_BALLOON_MAX_STATS_S);
	config_free_device_cfg(&balloon_type, bb);
}

/* Every config record cut short, or with a byte too many, is refused. */

Test(snap_records, short_or_long_config_records_are_refused)
{
	struct drive_cfg root = good_root();
	struct rng_cfg rng = good_rng();
	struct net_cfg n = good_net(0);
	struct vsock_cfg v = good_vsock();
	struct balloon_cfg b = good_balloon();
	const struct {
		const struct device_type *t;
		const void *cfg;
	} all[] = { { &blk_type, &root },
		    { &rng_type, &rng },
		    { &net_type, &n },
		    { &vsock_type, &v },
		    { &balloon_type, &b } };
	for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
		const struct device_type *t = all[k].t;
		struct wire w;
		wire_init(&w);
		t->save_cfg(all[k].cfg, &w);
		wire_put_u32(&w, 0); /* 4 bytes too many at the end */
		cr_assert_not(w.bad);
		for (size_t len = 0; len <= w.len; len++) {
			if (len == w.len - 4)
				continue; /* the good one */
			struct wire r;
			struct err e = { 0 };
			void *back = calloc(1, t->cfg_size);
			cr_assert_not_null(back);
			wire_reader(&r, w.buf, len);
			int rc = t->load_cfg(&r, t->snap_version, back, &e);
			cr_expect(rc < 0 || !wire_ok(&r),
				  "%s: a record of %zu bytes (of %zu) taken", t->name, len,
				  w.len - 4);
			if (rc)
				cr_expect(e.msg[0], "%s: %zu bytes: refused without a message",
					  t->name, len);
			config_free_device_cfg(t, back);
		}
		wire_fini(&w);
	}
}

Test(snap_records, manual_encodings_match_the_types_records)
{
	struct drive_cfg d = { .drive_id = "d",
			       .path_on_host = (char *)"/d",
			       .is_read_only = true };
	struct net_cfg n = { .iface_id = "e",
			     .host_dev_name = "t",
			     .has_mac = true,
			     .guest_mac = { 6, 0, 0, 0, 0, 1 } };
	struct vsock_cfg v = { 3, (char *)"/v" };
	struct balloon_cfg b = { 1, true, 2 };
	struct wire a, m;
	const struct {
		const struct device_type *t;
		const void *cfg;
	} all[] = {
		{ &blk_type, &d }, { &net_type, &n }, { &vsock_type, &v }, { &balloon_type, &b }
	};
	for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
		wire_init(&a);
		wire_init(&m);
		all[k].t->save_cfg(all[k].cfg, &a);
		switch (k) {
		case 0: enc_drive(&m, "d", "/d", 2); break;
		case 1: enc_net(&m, "e", 1, "t", 1); break;
		case 2: enc_vsock(&m, 3, "/v"); break;
		case 3: enc_balloon(&m, 1, 1, 2); break;
		}
		cr_expect_eq(a.len, m.len, "%s", all[k].t->name);
		cr_expect(a.len == m.len && !memcmp(a.buf, m.buf, a.len), "%s", all[k].t->name);
		wire_fini(&a);
		wire_fini(&m);
	}
}
