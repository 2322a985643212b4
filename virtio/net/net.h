/* virtio-net on a host tap: one rx/tx queue pair, offloads through the vnet header. */
#ifndef MVM_VIRTIO_NET_H
#define MVM_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "../ratelimit.h"
#include "../virtio.h"

#define VIRTIO_NET_F_CSUM	0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MAC	5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_UFO	10
#define VIRTIO_NET_F_HOST_TSO4	11
#define VIRTIO_NET_F_HOST_TSO6	12
#define VIRTIO_NET_F_HOST_UFO	14
#define VIRTIO_NET_F_MRG_RXBUF	15

#define NET_RXQ 0
#define NET_TXQ 1

/* The largest frame either way: a 64 KiB TSO frame plus headers (Firecracker's bound). */
#define NET_MAX_FRAME (65562 - 12)

struct net;

#define MVM_IFNAME_MAX 15 /* IFNAMSIZ - 1 */

/* PUT /network-interfaces/{id} and the config file's "network-interfaces". */
struct net_cfg {
	char iface_id[65];
	char host_dev_name[MVM_IFNAME_MAX + 1];
	bool has_mac;
	uint8_t guest_mac[6];
	struct rate_limiter_cfg rx_rate_limiter, tx_rate_limiter;
};

/* type.c: network interfaces as a device type. */
extern const struct device_type net_type;
/* "aa:bb:cc:dd:ee:ff", unicast: 0, else -EINVAL. */
int net_parse_mac(const char *s, uint8_t mac[6]);

struct net_stats {
	uint64_t rx_bytes, rx_packets, rx_dropped, rx_fails, rx_no_buffers;
	uint64_t tx_bytes, tx_packets, tx_malformed, tx_fails;
	uint64_t rx_throttled, tx_throttled;
};

extern const struct virtio_dev_ops net_ops;

/* Attach to tap `ifname`; on failure NULL and a sentence in err. */
struct net *net_create(const char *id, const char *ifname, const uint8_t *mac, struct err *err);
/* Over any packet fd (a SOCK_SEQPACKET socket in the unit tests); takes the fd. */
struct net *net_create_fd(const char *id, int fd, const uint8_t *mac);
void net_destroy(struct net *n);
/* Answer MMDS on this interface (before attach); 0 or -ENOMEM. */
struct mmds_cfg;
int net_enable_mmds(struct net *n, const struct mmds_cfg *cfg);
/* Limiters: before attach, or live (vmm thread, transport lock held). */
int net_set_rate_limiters(struct net *n, const struct rate_limiter_cfg *rx, unsigned rx_which,
			  const struct rate_limiter_cfg *tx, unsigned tx_which);
/* PATCH after boot (vmm thread): lock, set, unlock, retry what was held back. */
int net_change_limiters(struct net *n, const struct rate_limiter_cfg *rx, unsigned rx_which,
			const struct rate_limiter_cfg *tx, unsigned tx_which, struct err *e);
void net_get_stats(struct net *n, struct net_stats *out);
const char *net_id(const struct net *n);

/* Pure helpers, unit-tested. */
/* A frame the guest sent (vnet header included): 0 or why it is dropped. */
const char *net_tx_check_len(uint64_t len);
/* Fill num_buffers (le16 at offset 10 of the vnet header). */
void net_hdr_set_num_buffers(uint8_t *hdr, uint16_t n);

#endif
