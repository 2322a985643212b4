/*
 * The Uffd restore backend: guest RAM starts empty and a page-fault handler
 * process fills it. mvm registers RAM with a userfaultfd and hands the fd and
 * the region layout to the handler over a Unix socket, as Firecracker does.
 */
#ifndef MVM_SNAPSHOT_UFFD_H
#define MVM_SNAPSHOT_UFFD_H

#include <stddef.h>

#include "../vmm/memory.h"

struct err;

/* One region as the handler sees it (sent as a JSON array). */
struct uffd_region {
	unsigned long long base_host_virt_addr;
	unsigned long long size;
	unsigned long long offset; /* in the memory file */
	unsigned long long page_size;
};

/* Register m's regions and send the fd and layout to the handler at sock_path. */
int uffd_handover(struct guest_mem *m, const char *sock_path, struct err *e);

/* Pure: the layout message for m's regions into buf; bytes or -ENOSPC. */
int uffd_layout_json(const struct guest_mem *m, char *buf, size_t size);

#endif
