/*
 * Shared by test_snapshot_devices.c and test_snapshot_records.c: a good config
 * of every device type, field-by-field comparisons, and manual encodings of
 * the types' snapshot records, for values their config structs cannot hold.
 */
#ifndef MVM_TEST_SNAP_UTIL_H
#define MVM_TEST_SNAP_UTIL_H

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../../lib/strbuf.h"
#include "../../lib/wire.h"
#include "../../snapshot/format.h"
#include "../../snapshot/snapshot.h"
#include "../../snapshot/state.h"
#include "../../virtio/balloon/balloon.h"
#include "../../virtio/blk/blk.h"
#include "../../virtio/net/net.h"
#include "../../virtio/registry.h"
#include "../../virtio/rng.h"
#include "../../virtio/vsock/vsock.h"

/* ---- good configs, one or two of each type ---- */

static inline struct drive_cfg good_root(void)
{
	struct drive_cfg d = { .drive_id = "rootfs",
			       .path_on_host = (char *)"/img/rootfs.ext4",
			       .is_root_device = true,
			       .partuuid = (char *)"abc-1",
			       .cache_type = CACHE_WRITEBACK,
			       .io_engine = IO_ENGINE_ASYNC,
			       .direct_io = true };
	d.rate_limiter.bandwidth = (struct bucket_cfg){ 4096, 0, 10, false, false };
	d.rate_limiter.ops = (struct bucket_cfg){ 100, 5, 1000, false, false };
	return d;
}

static inline struct drive_cfg good_data(void)
{
	return (struct drive_cfg){ .drive_id = "data",
				   .path_on_host = (char *)"/img/data",
				   .is_read_only = true };
}

static inline struct rng_cfg good_rng(void)
{
	struct rng_cfg r = { 0 };
	r.rate_limiter.ops = (struct bucket_cfg){ 10, 2, 1000, false, false };
	return r;
}

static inline struct net_cfg good_net(int i)
{
	struct net_cfg n = { .has_mac = i == 0, .guest_mac = { 0x06, 0, 0xac, 0x10, 0, 2 } };
	snprintf(n.iface_id, sizeof(n.iface_id), "eth%d", i);
	snprintf(n.host_dev_name, sizeof(n.host_dev_name), "tap%d", i);
	if (i == 0) {
		n.rx_rate_limiter.bandwidth = (struct bucket_cfg){ 1000, 0, 100, false, false };
		n.tx_rate_limiter.ops = (struct bucket_cfg){ 5, 1, 10, false, false };
	}
	return n;
}

static inline struct vsock_cfg good_vsock(void)
{
	return (struct vsock_cfg){ .guest_cid = 9, .uds_path = (char *)"/run/v.sock" };
}

static inline struct balloon_cfg good_balloon(void)
{
	return (struct balloon_cfg){ .amount_mib = 16,
				     .deflate_on_oom = true,
				     .stats_polling_interval_s = 5 };
}

static inline void expect_rl_eq(const struct rate_limiter_cfg *a, const struct rate_limiter_cfg *b,
				const char *what)
{
	const struct bucket_cfg *x[2] = { &a->bandwidth, &a->ops },
				*y[2] = { &b->bandwidth, &b->ops };
	for (int i = 0; i < 2; i++)
		cr_expect(x[i]->size == y[i]->size &&
			      x[i]->one_time_burst == y[i]->one_time_burst &&
			      x[i]->refill_time_ms == y[i]->refill_time_ms &&
			      x[i]->set == y[i]->set && x[i]->burst_set == y[i]->burst_set,
			  "%s: rate limiters differ", what);
}

static inline void expect_drive_eq(const struct drive_cfg *a, const struct drive_cfg *b)
{
	cr_expect_str_eq(a->drive_id, b->drive_id);
	cr_expect_str_eq(a->path_on_host, b->path_on_host);
	cr_expect_eq(a->is_root_device, b->is_root_device, "%s", a->drive_id);
	cr_expect_eq(a->is_read_only, b->is_read_only, "%s", a->drive_id);
	cr_expect(!a->partuuid == !b->partuuid &&
		      (!a->partuuid || !strcmp(a->partuuid, b->partuuid)),
		  "%s: partuuid", a->drive_id);
	cr_expect_eq(a->cache_type, b->cache_type, "%s", a->drive_id);
	cr_expect_eq(a->io_engine, b->io_engine, "%s", a->drive_id);
	cr_expect_eq(a->direct_io, b->direct_io, "%s", a->drive_id);
	expect_rl_eq(&a->rate_limiter, &b->rate_limiter, a->drive_id);
}

static inline void expect_net_eq(const struct net_cfg *a, const struct net_cfg *b)
{
	cr_expect_str_eq(a->iface_id, b->iface_id);
	cr_expect_str_eq(a->host_dev_name, b->host_dev_name);
	cr_expect_eq(a->has_mac, b->has_mac, "%s", a->iface_id);
	cr_expect_eq(memcmp(a->guest_mac, b->guest_mac, 6), 0, "%s: guest_mac", a->iface_id);
	expect_rl_eq(&a->rx_rate_limiter, &b->rx_rate_limiter, "rx");
	expect_rl_eq(&a->tx_rate_limiter, &b->tx_rate_limiter, "tx");
}

/* save_cfg, then load_cfg into a fresh config of t: every byte read, no error. */

/* Manual encodings of the records, for values the config structs cannot hold. */
static inline void put_bytes(struct wire *w, const char *s, uint32_t n)
{
	wire_put_u32(w, n);
	wire_put(w, s, n);
}

static inline void enc_drive(struct wire *w, const char *id, const char *path_, uint32_t flags)
{
	struct rate_limiter_cfg rl = { { 0 }, { 0 } };
	wire_put_str(w, id);
	wire_put_str(w, path_);
	wire_put_str(w, NULL);
	wire_put_u32(w, flags);
	rl_cfg_save(&rl, w);
}

static inline void enc_net(struct wire *w, const char *id, uint32_t id_len, const char *tap,
			   uint32_t has_mac)
{
	struct rate_limiter_cfg rl = { { 0 }, { 0 } };
	put_bytes(w, id, id_len);
	wire_put_str(w, tap);
	wire_put_u32(w, has_mac);
	wire_put(w, "\x06\x00\x00\x00\x00\x01", 6);
	rl_cfg_save(&rl, w);
	rl_cfg_save(&rl, w);
	wire_put_u32(w, 0); /* version 2: no MMDS, version, IPv4 address */
	wire_put_u32(w, 0);
	wire_put_u32(w, 0);
}

static inline void enc_vsock(struct wire *w, uint32_t cid, const char *uds)
{
	wire_put_u32(w, cid);
	wire_put_str(w, uds);
}

static inline void enc_balloon(struct wire *w, uint32_t mib, uint32_t oom, uint32_t stats)
{
	wire_put_u32(w, mib);
	wire_put_u32(w, oom);
	wire_put_u32(w, stats);
}

/* The encoders above write what the types write: what the corrupt cases start from. */

#endif
