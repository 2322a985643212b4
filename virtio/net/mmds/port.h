/*
 * MMDS on one virtio-net interface: what net.c calls. TX frames (vnet header
 * first, in a guest chain) are offered to the stack; the RX path takes the
 * stack's replies before the tap's frames. A timerfd on the vmm loop wakes
 * the RX queue when replies wait (right after the TX that caused them) and
 * when a retransmission is due.
 */
#ifndef MVM_MMDS_PORT_H
#define MVM_MMDS_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

struct evloop;
struct mmds_port;
struct virtq_chain;

#define MMDS_DEFAULT_IPV4 0xa9fea9feu /* 169.254.169.254 */

/* The MMDS settings of PUT /mmds/config. */
struct mmds_cfg {
	bool enabled;
	enum mmds_version version;
	uint32_t ipv4; /* host order */
	char ifaces[8][65];
	int nr_ifaces;
};

/* The VM's MMDS settings (PUT /mmds/config, config file, snapshot). */
struct mmds_cfg *mmds_config(void);
/* "169.254.x.y" with x in 1..254: 0 and the address, else -EINVAL. */
int mmds_parse_ipv4(const char *s, uint32_t *out);

/* NULL when out of memory or no timerfd; hdr_len is the vnet header's size. */
struct mmds_port *mmds_port_create(const struct mmds_cfg *cfg, size_t hdr_len);
void mmds_port_destroy(struct mmds_port *p);
/* Wake: calls wake(opaque) on the loop when replies wait. */
int mmds_port_attach(struct mmds_port *p, struct evloop *loop, void (*wake)(void *), void *opaque);
/* A frame the guest sent: true if MMDS took it (it must not reach the tap). */
bool mmds_port_tx(struct mmds_port *p, const struct virtq_chain *c);
/* A reply for the guest into buf (vnet header zeroed): its length, or 0. */
uint32_t mmds_port_rx(struct mmds_port *p, uint8_t *buf, size_t cap);

#endif
