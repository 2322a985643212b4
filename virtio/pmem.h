/*
 * virtio-pmem: a host file mapped into the guest's physical address space
 * (above RAM), which Linux uses as /dev/pmemN; the one queue carries the
 * guest's flushes, answered with an fdatasync of the file. PUT /pmem/{id}
 * and the config file's "pmem", as Firecracker has them.
 */
#ifndef MVM_VIRTIO_PMEM_H
#define MVM_VIRTIO_PMEM_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio.h"

#define VIRTIO_ID_PMEM	27
#define PMEM_SIZE_ALIGN (2ULL << 20) /* the file's size must be a multiple of this */

struct pmem_cfg {
	char id[65];
	char *path_on_host;
	bool root_device;
	bool read_only;
};

struct pmem_stats {
	uint64_t flushes, flush_fails, invalid_reqs;
};

extern const struct device_type pmem_type;
extern const struct virtio_dev_ops pmem_ops;

/* Pure, unit-tested: one request chain's answer (0 ok, 1 error) after fsync
 * returned fsync_result; *bad when the request is malformed. */
uint32_t pmem_answer(const uint8_t *req, uint32_t req_len, int fsync_result, bool *bad);

#endif
