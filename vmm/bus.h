/* Port-I/O and MMIO buses: address ranges to device handlers. */
#ifndef MVM_BUS_H
#define MVM_BUS_H

#include <stdbool.h>
#include <stdint.h>

#define BUS_MAX_RANGES 48

/* Called on a vCPU thread; `off` is relative to the range's base. */
typedef void (*bus_rw_fn)(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool write);

struct bus_range {
	uint64_t base;
	uint64_t len;
	bus_rw_fn fn;
	void *opaque;
	const char *name;
};

/* Filled before the vCPUs start, read-only afterwards: lookups take no lock. */
struct bus {
	struct bus_range r[BUS_MAX_RANGES];
	int nr;
};

int bus_register(struct bus *b, uint64_t base, uint64_t len, bus_rw_fn fn, void *opaque,
		 const char *name);
const struct bus_range *bus_find(const struct bus *b, uint64_t addr);
/* Dispatch an access; false when nothing is mapped there. */
bool bus_access(const struct bus *b, uint64_t addr, uint8_t *data, uint32_t len, bool write);

#endif
