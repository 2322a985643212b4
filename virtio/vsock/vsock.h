/*
 * virtio-vsock with Firecracker's host model: the guest's connections to
 * host port P go to the Unix socket "<uds_path>_P"; host processes connect
 * to uds_path and write "CONNECT <port>\n" to reach the guest's port, and
 * are answered "OK <host port>\n".
 */
#ifndef MVM_VIRTIO_VSOCK_H
#define MVM_VIRTIO_VSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../virtio.h"

#define VSOCK_HOST_CID 2

struct vsock;

/* sun_path holds 107 bytes; mvm appends "_<port>" (up to 11) for guest-initiated connections. */
#define MVM_UDS_PATH_MAX  (107 - 11)
#define MVM_VSOCK_CID_MIN 3

/* PUT /vsock and the config file's "vsock". */
struct vsock_cfg {
	uint32_t guest_cid;
	char *uds_path;
};

/* type.c: vsock as a device type. */
extern const struct device_type vsock_type;

struct vsock_stats {
	uint64_t conns_added, conns_removed, conn_fails;
	uint64_t rx_packets, tx_packets, rx_bytes, tx_bytes;
	uint64_t bad_packets, resets;
};

extern const struct virtio_dev_ops vsock_ops;

/* Binds uds_path; on failure NULL and a sentence in err. */
struct vsock *vsock_create(uint32_t guest_cid, const char *uds_path, struct err *err);
void vsock_destroy(struct vsock *v);
/* Before a snapshot (vmm thread, lock not held): close every connection and
 * send the guest a transport reset event, as Firecracker does. */
void vsock_snapshot_reset(struct vsock *v);
void vsock_get_stats(struct vsock *v, struct vsock_stats *out);

#endif
