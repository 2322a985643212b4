/*
 * The device parts of a snapshot: network interfaces, vsock and balloon
 * (what the VM had, so restore rebuilds it slot for slot), every rate
 * limiter's buckets, the balloon's state. vsock connections do not survive:
 * as Firecracker does, the guest gets a transport reset event when the
 * snapshot is taken, and the restored VM starts with none.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../virtio/balloon.h"
#include "../virtio/blk.h"
#include "../virtio/mmio.h"
#include "../virtio/rng.h"
#include "../virtio/vsock.h"
#include "../vmm/vm.h"
#include "format.h"
#include "snapshot.h"
#include "state.h"

int snap_devices_save(struct snap_writer *w, struct vm *vm)
{
	const struct vm_config *c = vm->cfg;
	struct snap_devices *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	if (vm->vsock)
		vsock_snapshot_reset(vm->vsock);
	d->nr_nets = (uint32_t)c->nr_nets;
	for (int i = 0; i < c->nr_nets; i++) {
		struct snap_net *n = &d->nets[i];
		snprintf(n->iface_id, sizeof(n->iface_id), "%s", c->nets[i].iface_id);
		snprintf(n->host_dev_name, sizeof(n->host_dev_name), "%s",
			 c->nets[i].host_dev_name);
		memcpy(n->guest_mac, c->nets[i].guest_mac, 6);
		n->has_mac = c->nets[i].has_mac;
		n->rx = c->nets[i].rx_rate_limiter;
		n->tx = c->nets[i].tx_rate_limiter;
	}
	if (c->vsock.present) {
		d->vsock = 1;
		d->vsock_cid = c->vsock.guest_cid;
		snprintf(d->vsock_uds_path, sizeof(d->vsock_uds_path), "%s", c->vsock.uds_path);
	}
	if (c->balloon.present && vm->balloon) {
		d->balloon = 1;
		d->balloon_amount_mib = c->balloon.amount_mib;
		d->balloon_deflate_on_oom = c->balloon.deflate_on_oom;
		d->balloon_stats_s = c->balloon.stats_polling_interval_s;
		balloon_save(vm->balloon, &d->balloon_state);
	}
	d->entropy_rl = c->entropy_rl;
	for (int i = 0; i < c->nr_drives; i++)
		d->drive_rl[i] = c->drives[i].rate_limiter;
	int r = snap_writer_add(w, SNAP_SEC_DEVICES, SNAP_DEVICES_V, d, sizeof(*d));
	free(d);
	return r;
}

static bool bucket_ok(const struct bucket_cfg *b)
{
	return !b->size || (b->size <= MVM_RL_MAX_SIZE && b->one_time_burst <= MVM_RL_MAX_SIZE &&
			    b->refill_time_ms >= 1 && b->refill_time_ms <= MVM_RL_MAX_REFILL);
}

static bool rl_ok(const struct rate_limiter_cfg *rl)
{
	return bucket_ok(&rl->bandwidth) && bucket_ok(&rl->ops);
}

static int apply_net_overrides(struct vm_config *cfg, const struct snapshot_load *req, char *err,
			       size_t errlen)
{
	for (int k = 0; k < req->nr_net_overrides; k++) {
		const struct net_override *o = &req->net_overrides[k];
		int found = -1;
		for (int i = 0; i < cfg->nr_nets; i++)
			if (!strcmp(cfg->nets[i].iface_id, o->iface_id))
				found = i;
		if (found < 0) {
			snprintf(err, errlen,
				 "network override: the snapshot has no network interface '%s'",
				 o->iface_id);
			return -EINVAL;
		}
		snprintf(cfg->nets[found].host_dev_name, sizeof(cfg->nets[found].host_dev_name),
			 "%s", o->host_dev_name);
	}
	return 0;
}

int snap_devices_config(const struct snap_reader *rd, struct vm_config *cfg,
			const struct snapshot_load *req, char *err, size_t errlen)
{
	struct snap_devices *d = calloc(1, sizeof(*d));
	int r = -ENOMEM;
	if (!d)
		return r;
	r = snap_reader_get_struct(rd, SNAP_SEC_DEVICES, SNAP_DEVICES_V, d, sizeof(*d), err,
				   errlen);
	if (r == -ENOENT) {
		/* A snapshot from before these devices: none of them, no limiters. */
		r = 0;
		if (req->nr_net_overrides || req->vsock_uds_override) {
			snprintf(err, errlen,
				 "%s: the snapshot has no network or vsock device to override",
				 snap_reader_name(rd));
			r = -EINVAL;
		}
		goto out;
	}
	if (r)
		goto out;
	r = -EINVAL;
	if (d->nr_nets > MVM_MAX_NETS || d->vsock > 1 || d->balloon > 1 || !rl_ok(&d->entropy_rl))
		goto bad;
	for (uint32_t i = 0; i < d->nr_nets; i++) {
		struct snap_net *n = &d->nets[i];
		struct net_cfg *c = &cfg->nets[i];
		if (!memchr(n->iface_id, '\0', sizeof(n->iface_id)) ||
		    !memchr(n->host_dev_name, '\0', sizeof(n->host_dev_name)) ||
		    !config_id_valid(n->iface_id) || !n->host_dev_name[0] || n->has_mac > 1 ||
		    !rl_ok(&n->rx) || !rl_ok(&n->tx))
			goto bad;
		memset(c, 0, sizeof(*c));
		memcpy(c->iface_id, n->iface_id, strlen(n->iface_id) + 1);
		memcpy(c->host_dev_name, n->host_dev_name, strlen(n->host_dev_name) + 1);
		memcpy(c->guest_mac, n->guest_mac, 6);
		c->has_mac = n->has_mac;
		c->rx_rate_limiter = n->rx;
		c->tx_rate_limiter = n->tx;
		cfg->nr_nets++;
	}
	if (d->vsock) {
		size_t len = strnlen(d->vsock_uds_path, sizeof(d->vsock_uds_path));
		if (d->vsock_cid < MVM_VSOCK_CID_MIN || d->vsock_cid == UINT32_MAX || !len ||
		    len > MVM_UDS_PATH_MAX)
			goto bad;
		const char *path =
		    req->vsock_uds_override ? req->vsock_uds_override : d->vsock_uds_path;
		cfg->vsock = (struct vsock_cfg){ true, d->vsock_cid, strdup(path) };
		if (!cfg->vsock.uds_path) {
			r = -ENOMEM;
			goto out;
		}
	} else if (req->vsock_uds_override) {
		snprintf(err, errlen, "vsock_override: the snapshot has no vsock device");
		goto out;
	}
	if (d->balloon) {
		if (d->balloon_amount_mib > cfg->machine.mem_size_mib ||
		    d->balloon_deflate_on_oom > 1 || d->balloon_stats_s > MVM_BALLOON_MAX_STATS_S)
			goto bad;
		cfg->balloon =
		    (struct balloon_cfg){ true, d->balloon_amount_mib, d->balloon_deflate_on_oom,
					  d->balloon_stats_s };
	}
	cfg->entropy_rl = d->entropy_rl;
	for (int i = 0; i < cfg->nr_drives; i++) {
		if (!rl_ok(&d->drive_rl[i]))
			goto bad;
		cfg->drives[i].rate_limiter = d->drive_rl[i];
	}
	r = apply_net_overrides(cfg, req, err, errlen);
	goto out;
bad:
	snprintf(err, errlen, "%s: device section out of range", snap_reader_name(rd));
out:
	free(d);
	return r;
}

int snap_devices_restore(const struct snap_reader *rd, struct vm *vm, char *err, size_t errlen)
{
	uint32_t v;
	const void *p;
	size_t len;
	if (!vm->balloon)
		return 0;
	if (snap_reader_get(rd, SNAP_SEC_DEVICES, &v, &p, &len) || v != SNAP_DEVICES_V ||
	    len != sizeof(struct snap_devices))
		return -EINVAL; /* checked before the VM was built */
	const struct snap_devices *d = p;
	struct balloon_state bs = d->balloon_state;
	if (bs.num_pages > ((uint32_t)vm->cfg->machine.mem_size_mib << 8) ||
	    balloon_restore(vm->balloon, &bs)) {
		snprintf(err, errlen, "%s: balloon state out of range", snap_reader_name(rd));
		return -EINVAL;
	}
	return 0;
}
