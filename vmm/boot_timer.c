#include "boot_timer.h"

#include <string.h>

#include "../lib/log.h"
#include "../lib/util.h"

void boot_timer_init(struct boot_timer *t, uint64_t start_us, uint64_t start_cpu_us)
{
	t->start_us = start_us;
	t->start_cpu_us = start_cpu_us;
	t->boot_us = 0;
}

void boot_timer_mmio(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool write)
{
	struct boot_timer *t = opaque;
	if (!write) {
		memset(data, 0, len);
		return;
	}
	/* Only a single byte with the magic value at offset 0 counts. */
	if (len != 1 || off != 0 || data[0] != BOOT_TIMER_MAGIC)
		return;
	uint64_t wall = mono_us() - t->start_us;
	uint64_t cpu = cpu_us() - t->start_cpu_us;
	t->boot_us = wall;
	log_info("Guest-boot-time = %6llu us %llu ms, %6llu CPU us %llu CPU ms",
		 (unsigned long long)wall, (unsigned long long)(wall / 1000),
		 (unsigned long long)cpu, (unsigned long long)(cpu / 1000));
}
