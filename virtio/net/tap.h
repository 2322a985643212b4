/* Host tap devices for virtio-net: open by name with a virtio-net header, offloads. */
#ifndef MVM_VIRTIO_TAP_H
#define MVM_VIRTIO_TAP_H

#include <stddef.h>
#include <stdint.h>

struct err;

/* The virtio-net header as the tap reads and writes it (virtio 1.x: 12 bytes). */
#define NET_HDR_LEN 12

/*
 * Attach to the existing tap `name` (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR),
 * non-blocking. On failure, -errno and a sentence in err naming the tap and
 * what to do: missing device, no permission, in use, not a tap.
 */
int tap_open(const char *name, int *fd_out, struct err *err);
/* TUNSETOFFLOAD with TUN_F_* flags (vmm thread). */
int tap_set_offload(int fd, unsigned flags);
/* TUN_F_* offloads the tap may use towards a guest that acked these virtio-net features. */
unsigned tap_offloads_for(uint64_t acked);

#endif
