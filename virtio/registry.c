#include "registry.h"

#include <string.h>

#include "balloon/balloon.h"
#include "blk/blk.h"
#include "net/net.h"
#include "pmem.h"
#include "rng.h"
#include "vsock/vsock.h"

/* A new device type is one line here (and its unit): see DESIGN.md. */
const struct device_type *const device_types[] = {
	&blk_type, &rng_type, &net_type, &vsock_type, &balloon_type, &pmem_type,
};
const unsigned nr_device_types = sizeof(device_types) / sizeof(device_types[0]);

const struct device_type *device_type_by_key(const char *key, size_t len)
{
	for (unsigned i = 0; i < nr_device_types; i++)
		if (strlen(device_types[i]->key) == len && !memcmp(device_types[i]->key, key, len))
			return device_types[i];
	return NULL;
}

const struct device_type *device_type_by_name(const char *name)
{
	for (unsigned i = 0; i < nr_device_types; i++)
		if (!strcmp(device_types[i]->name, name))
			return device_types[i];
	return NULL;
}
