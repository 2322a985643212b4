/* The boot-timer device: one byte write of 123 makes the monitor log the boot time. */
#include "guest.h"

void boottimer_signal(void)
{
	mmio_write8(BOOT_TIMER_ADDR, BOOT_TIMER_MAGIC);
}
