#include "irq.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "kvm.h"
#include "../lib/log.h"

int irq_line_init(struct irq_line *l, struct kvm *k, uint32_t gsi)
{
	l->gsi = gsi;
	l->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->fd < 0)
		return -errno;
	struct kvm_irqfd irqfd = { .fd = (uint32_t)l->fd, .gsi = gsi };
	if (__kvm_ioctl(k->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		int err = errno;
		log_err("KVM_IRQFD gsi %u: %s", gsi, strerror(err));
		close(l->fd);
		l->fd = -1;
		return -err;
	}
	return 0;
}

void irq_line_fini(struct irq_line *l, struct kvm *k)
{
	if (l->fd < 0)
		return;
	struct kvm_irqfd irqfd = { .fd = (uint32_t)l->fd,
				   .gsi = l->gsi,
				   .flags = KVM_IRQFD_FLAG_DEASSIGN };
	if (k && k->vm_fd >= 0)
		__kvm_ioctl(k->vm_fd, KVM_IRQFD, &irqfd);
	close(l->fd);
	l->fd = -1;
}

void irq_line_raise(struct irq_line *l)
{
	uint64_t one = 1;
	if (l->fd >= 0) {
		ssize_t r = write(l->fd, &one, sizeof(one));
		(void)r; /* EAGAIN: the counter is saturated, an edge is pending anyway */
	}
}
