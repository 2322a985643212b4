#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../../lib/err.h"
#include "net.h"

int tap_open(const char *name, int *fd_out, struct err *err)
{
	struct ifreq ifr;
	int fd, hdr = NET_HDR_LEN;

	if (strlen(name) >= IFNAMSIZ) {
		return err_inval(err, "tap '%s': the name is longer than %d bytes", name,
				 IFNAMSIZ - 1);
	}
	/* Attaching by name would create a tap that vanishes with us: refuse instead. */
	if (if_nametoindex(name) == 0) {
		return err_set(
		    err, -ENODEV,
		    "tap '%s' does not exist (create it first: ip tuntap add %s mode tap)", name,
		    name);
	}
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		return err_set(err, -e, "tap '%s': /dev/net/tun: %s%s", name, strerror(e),
			       e == ENOENT ? " (load the tun module; in a jail, mknod it)" : "");
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		const char *why =
		    e == EPERM	  ? ": no permission (mvm needs CAP_NET_ADMIN, or to run "
				    "as the tap's owner: ip tuntap add ... user UID)"
		    : e == EBUSY  ? ": the tap is in use by another process"
		    : e == EINVAL ? ": not a tap device, or one made with other flags "
				    "(mvm needs a single-queue tap)"
				  : "";
		close(fd);
		return err_set(err, -e, "tap '%s': TUNSETIFF: %s%s", name, strerror(e), why);
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 || ioctl(fd, TUNSETOFFLOAD, 0) < 0) {
		int e = errno;
		close(fd);
		return err_set(err, -e, "tap '%s': setting the virtio-net header: %s", name,
			       strerror(e));
	}
	*fd_out = fd;
	return 0;
}

int tap_set_offload(int fd, unsigned flags)
{
	if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)flags) == 0)
		return 0;
	/* Older kernels refuse UFO: go on without it. */
	if ((flags & TUN_F_UFO) &&
	    ioctl(fd, TUNSETOFFLOAD, (unsigned long)(flags & ~TUN_F_UFO)) == 0)
		return 0;
	return -errno;
}

unsigned tap_offloads_for(uint64_t acked)
{
	unsigned f = 0;
	if (!(acked & (1ULL << VIRTIO_NET_F_GUEST_CSUM)))
		return 0; /* segmentation offloads need checksum offload */
	f |= TUN_F_CSUM;
	if (acked & (1ULL << VIRTIO_NET_F_GUEST_TSO4))
		f |= TUN_F_TSO4;
	if (acked & (1ULL << VIRTIO_NET_F_GUEST_TSO6))
		f |= TUN_F_TSO6;
	if (acked & (1ULL << VIRTIO_NET_F_GUEST_UFO))
		f |= TUN_F_UFO;
	return f;
}
