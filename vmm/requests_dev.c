/*
 * API requests for devices (network interfaces, vsock, balloon, rate
 * limiters), answered on the vmm thread. Before boot they edit the config;
 * after boot they reach the device under its transport's lock.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../api-socket/request.h"
#include "../virtio/balloon.h"
#include "../virtio/blk.h"
#include "../virtio/mmio.h"
#include "../virtio/net.h"
#include "../virtio/tap.h"
#include "config_out.h"
#include "log.h"
#include "monitor.h"
#include "strbuf.h"
#include "util.h"

static bool pre_boot(struct monitor *m, const char *what, struct api_response *resp)
{
	if (!m->vm_built)
		return true;
	api_response_error(resp, "%s is only allowed before the VM starts", what);
	return false;
}

static bool post_boot(struct monitor *m, const char *what, struct api_response *resp)
{
	if (m->vm_built)
		return true;
	api_response_error(
	    resp, "%s is only allowed once the VM is running; send InstanceStart first", what);
	return false;
}

static struct virtio_mmio *transport_of(struct vm *vm, void *dev)
{
	for (int i = 0; dev && i < vm->nr_virtio; i++)
		if (vm->virtio[i]->dev == dev)
			return vm->virtio[i];
	return NULL;
}

/* Apply the given buckets to a limiter config kept for GET /vm/config. */
static void merge_rl(struct rate_limiter_cfg *dst, const struct rate_limiter_cfg *src,
		     unsigned which)
{
	if (which & RL_BANDWIDTH)
		dst->bandwidth = src->bandwidth;
	if (which & RL_OPS)
		dst->ops = src->ops;
}

int monitor_patch_drive_limiter(struct monitor *m, int idx, const struct drive_patch *p,
				struct api_response *resp)
{
	if (!p->rl_which)
		return 0;
	struct blk *b = m->vm.blk[idx];
	struct virtio_mmio *t = transport_of(&m->vm, b);
	if (!t) {
		api_response_error(resp, "drive '%s' has no device", p->drive_id);
		return -EINVAL;
	}
	pthread_mutex_lock(&t->lock);
	int r = blk_set_rate_limiter(b, &p->rate_limiter, p->rl_which);
	pthread_mutex_unlock(&t->lock);
	if (r) {
		api_response_error(resp, "drive '%s': rate limiter timer: %s", p->drive_id,
				   strerror(-r));
		return r;
	}
	merge_rl(&m->cfg.drives[idx].rate_limiter, &p->rate_limiter, p->rl_which);
	/* Requests held back by the old limits may go now. */
	virtio_mmio_kick(t, 0);
	log_info("drive %s: rate limiter updated", p->drive_id);
	return 0;
}

static int put_net(struct monitor *m, const struct net_cfg *n, struct api_response *resp)
{
	struct json_err e;
	char err[300];
	int fd;
	if (!pre_boot(m, "PUT /network-interfaces", resp))
		return -EINVAL;
	/* Firecracker opens the tap here; a trial open gives the same early answer. */
	int r = tap_open(n->host_dev_name, &fd, err, sizeof(err));
	if (r) {
		api_response_error(resp, "network interface '%s': %s", n->iface_id, err);
		return r;
	}
	close(fd);
	if (config_put_net(&m->cfg, n, &e)) {
		api_response_error(resp, "%s", e.msg);
		return -EINVAL;
	}
	return 0;
}

static int patch_net(struct monitor *m, const struct net_patch *p, struct api_response *resp)
{
	if (!post_boot(m, "PATCH /network-interfaces", resp))
		return -EINVAL;
	int idx = -1;
	for (int i = 0; i < m->cfg.nr_nets; i++)
		if (!strcmp(m->cfg.nets[i].iface_id, p->iface_id))
			idx = i;
	struct virtio_mmio *t = idx >= 0 ? transport_of(&m->vm, m->vm.net[idx]) : NULL;
	if (!t) {
		api_response_error(resp, "network interface '%s' does not exist", p->iface_id);
		return -EINVAL;
	}
	pthread_mutex_lock(&t->lock);
	int r = net_set_rate_limiters(m->vm.net[idx], &p->rx, p->rx_which, &p->tx, p->tx_which);
	pthread_mutex_unlock(&t->lock);
	if (r) {
		api_response_error(resp, "network interface '%s': rate limiter timer: %s",
				   p->iface_id, strerror(-r));
		return r;
	}
	merge_rl(&m->cfg.nets[idx].rx_rate_limiter, &p->rx, p->rx_which);
	merge_rl(&m->cfg.nets[idx].tx_rate_limiter, &p->tx, p->tx_which);
	virtio_mmio_kick(t, NET_RXQ);
	virtio_mmio_kick(t, NET_TXQ);
	log_info("network interface %s: rate limiters updated", p->iface_id);
	return 0;
}

static int put_balloon(struct monitor *m, const struct balloon_cfg *b, struct api_response *resp)
{
	if (!pre_boot(m, "PUT /balloon", resp))
		return -EINVAL;
	if (b->amount_mib > m->cfg.machine.mem_size_mib) {
		api_response_error(resp,
				   "balloon amount_mib %u is larger than the VM's memory (%u MiB)",
				   b->amount_mib, m->cfg.machine.mem_size_mib);
		return -EINVAL;
	}
	m->cfg.balloon = *b;
	return 0;
}

static struct virtio_mmio *balloon_transport(struct monitor *m, struct api_response *resp)
{
	struct virtio_mmio *t = m->vm_built ? transport_of(&m->vm, m->vm.balloon) : NULL;
	if (!t)
		api_response_error(resp, "the VM has no balloon device (PUT /balloon before boot)");
	return t;
}

static int patch_balloon(struct monitor *m, uint32_t mib, struct api_response *resp)
{
	if (!post_boot(m, "PATCH /balloon", resp))
		return -EINVAL;
	struct virtio_mmio *t = balloon_transport(m, resp);
	if (!t)
		return -EINVAL;
	if (mib > m->cfg.machine.mem_size_mib) {
		api_response_error(resp,
				   "balloon amount_mib %u is larger than the VM's memory (%u MiB)",
				   mib, m->cfg.machine.mem_size_mib);
		return -EINVAL;
	}
	pthread_mutex_lock(&t->lock);
	balloon_set_target(m->vm.balloon, mib << (20 - BALLOON_PAGE_SHIFT));
	pthread_mutex_unlock(&t->lock);
	virtio_mmio_config_changed(t);
	m->cfg.balloon.amount_mib = mib;
	log_info("balloon target %u MiB", mib);
	return 0;
}

static int patch_balloon_stats(struct monitor *m, uint32_t s, struct api_response *resp)
{
	if (!post_boot(m, "PATCH /balloon/statistics", resp))
		return -EINVAL;
	struct virtio_mmio *t = balloon_transport(m, resp);
	if (!t)
		return -EINVAL;
	if (!m->cfg.balloon.stats_polling_interval_s != !s) {
		api_response_error(resp,
				   "statistics were %s at boot: stats_polling_interval_s can "
				   "change after boot but not turn them %s",
				   s ? "off" : "on", s ? "on" : "off");
		return -EINVAL;
	}
	int r = balloon_set_stats_interval(m->vm.balloon, s);
	if (r) {
		api_response_error(resp, "balloon statistics timer: %s", strerror(-r));
		return r;
	}
	m->cfg.balloon.stats_polling_interval_s = s;
	return 0;
}

static int get_balloon_stats(struct monitor *m, struct api_response *resp)
{
	struct balloon_stats st;
	struct strbuf b;
	struct virtio_mmio *t = balloon_transport(m, resp);
	if (!t)
		return -EINVAL;
	if (!m->cfg.balloon.stats_polling_interval_s) {
		api_response_error(resp, "balloon statistics are off: set stats_polling_interval_s "
					 "in PUT /balloon before boot");
		return -EINVAL;
	}
	pthread_mutex_lock(&t->lock);
	balloon_get_stats(m->vm.balloon, &st);
	pthread_mutex_unlock(&t->lock);
	strbuf_init(&b);
	strbuf_printf(&b,
		      "{\"target_pages\": %u, \"actual_pages\": %u, \"target_mib\": %u, "
		      "\"actual_mib\": %u",
		      st.target_pages, st.actual_pages, st.target_pages >> 8, st.actual_pages >> 8);
	for (unsigned i = 0; i < BALLOON_NR_TAGS; i++)
		if (st.have & (1u << i))
			strbuf_printf(&b, ", \"%s\": %llu", balloon_tag_name(i),
				      (unsigned long long)st.val[i]);
	strbuf_printf(&b, "}");
	resp->status = 200;
	resp->body = strbuf_steal(&b);
	return 0;
}

static int get_balloon(struct monitor *m, struct api_response *resp)
{
	struct strbuf b;
	if (!m->cfg.balloon.present) {
		api_response_error(resp, "no balloon device is configured");
		return -EINVAL;
	}
	strbuf_init(&b);
	config_balloon_json(&m->cfg.balloon, &b);
	resp->status = 200;
	resp->body = strbuf_steal(&b);
	return 0;
}

static void count(uint64_t *ok, uint64_t *fails, int r)
{
	(*ok)++;
	if (r)
		(*fails)++;
}

int monitor_device_request(struct monitor *m, struct api_request *req, struct api_response *resp)
{
	struct api_counters *c = &m->metrics.api;
	int r = 0;
	switch (req->op) {
	case API_PUT_ENTROPY:
		if (pre_boot(m, "PUT /entropy", resp)) {
			m->cfg.entropy = true;
			m->cfg.entropy_rl = req->u.rl;
		} else {
			r = -EINVAL;
		}
		count(&c->put_entropy, &c->put_entropy_fails, r);
		break;
	case API_PUT_NET:
		r = put_net(m, &req->u.net, resp);
		count(&c->put_net, &c->put_net_fails, r);
		break;
	case API_PATCH_NET:
		r = patch_net(m, &req->u.net_patch, resp);
		count(&c->patch_net, &c->patch_net_fails, r);
		break;
	case API_PUT_VSOCK:
		if (pre_boot(m, "PUT /vsock", resp)) {
			vsock_cfg_fini(&m->cfg.vsock);
			m->cfg.vsock = req->u.vsock;
			memset(&req->u.vsock, 0, sizeof(req->u.vsock));
		} else {
			r = -EINVAL;
		}
		count(&c->put_vsock, &c->put_vsock_fails, r);
		break;
	case API_PUT_BALLOON:
		r = put_balloon(m, &req->u.balloon, resp);
		count(&c->put_balloon, &c->put_balloon_fails, r);
		break;
	case API_PATCH_BALLOON:
		r = patch_balloon(m, req->u.value, resp);
		count(&c->patch_balloon, &c->patch_balloon_fails, r);
		break;
	case API_PATCH_BALLOON_STATS:
		r = patch_balloon_stats(m, req->u.value, resp);
		count(&c->patch_balloon, &c->patch_balloon_fails, r);
		break;
	case API_GET_BALLOON:
		c->get_balloon++;
		r = get_balloon(m, resp);
		break;
	case API_GET_BALLOON_STATS:
		c->get_balloon++;
		r = get_balloon_stats(m, resp);
		break;
	default: api_response_error(resp, "internal error: not a device request"); r = -EINVAL;
	}
	return r;
}
