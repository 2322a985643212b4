#include "bus.h"

#include <errno.h>
#include <string.h>

int bus_register(struct bus *b, uint64_t base, uint64_t len, bus_rw_fn fn, void *opaque,
		 const char *name)
{
	if (len == 0 || base + len < base)
		return -EINVAL;
	if (b->nr == BUS_MAX_RANGES)
		return -ENOSPC;
	int pos = 0;
	while (pos < b->nr && b->r[pos].base < base)
		pos++;
	/* No overlap with the neighbours on either side. */
	if (pos > 0 && b->r[pos - 1].base + b->r[pos - 1].len > base)
		return -EEXIST;
	if (pos < b->nr && base + len > b->r[pos].base)
		return -EEXIST;
	memmove(&b->r[pos + 1], &b->r[pos], (size_t)(b->nr - pos) * sizeof(b->r[0]));
	b->r[pos] = (struct bus_range){ base, len, fn, opaque, name };
	b->nr++;
	return 0;
}

const struct bus_range *bus_find(const struct bus *b, uint64_t addr)
{
	int lo = 0, hi = b->nr - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		const struct bus_range *r = &b->r[mid];
		if (addr < r->base)
			hi = mid - 1;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

bool bus_access(const struct bus *b, uint64_t addr, uint8_t *data, uint32_t len, bool write)
{
	const struct bus_range *r = bus_find(b, addr);
	/* An access must lie wholly inside one device. */
	if (!r || len > r->len - (addr - r->base))
		return false;
	r->fn(r->opaque, addr - r->base, data, len, write);
	return true;
}
