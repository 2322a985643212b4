/*
 * The device types mvm knows (vmm/device.h), in the order the builder
 * attaches them: their virtio-mmio slots, and so a restore, follow it.
 */
#ifndef MVM_VIRTIO_REGISTRY_H
#define MVM_VIRTIO_REGISTRY_H

#include "../vmm/device.h"

extern const struct device_type *const device_types[];
extern const unsigned nr_device_types;

/* By config-file key ("drives"), by name ("block"); NULL if none. */
const struct device_type *device_type_by_key(const char *key, size_t len);
const struct device_type *device_type_by_name(const char *name);

#endif
