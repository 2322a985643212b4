/* The boot-timer device: the guest writes one byte, mvm logs how long boot took. */
#ifndef MVM_BOOT_TIMER_H
#define MVM_BOOT_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#define BOOT_TIMER_MAGIC 123

struct boot_timer {
	uint64_t start_us;     /* monotonic time the VM build started */
	uint64_t start_cpu_us; /* process CPU time then */
	uint64_t boot_us;      /* 0 until the guest wrote the magic byte */
};

void boot_timer_init(struct boot_timer *t, uint64_t start_us, uint64_t start_cpu_us);
void boot_timer_mmio(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool write);

#endif
