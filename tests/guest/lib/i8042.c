/* Reset through the i8042 controller: the monitor then exits with 0. */
#include "guest.h"

#define I8042_STATUS 0x64
#define I8042_COMMAND 0x64
#define I8042_STATUS_IBF 0x02
#define I8042_CMD_RESET 0xfe

void machine_reset(void)
{
	for (int i = 0; i < 10000 && (inb(I8042_STATUS) & I8042_STATUS_IBF); i++)
		cpu_relax();
	outb(I8042_COMMAND, I8042_CMD_RESET);

	/*
	 * A monitor may take a moment to act on it.  If nothing happens within
	 * about a second, triple-fault: an empty IDT turns #UD into a shutdown.
	 */
	uint64_t end = rdtsc() + 1000 * TSC_PER_MS;
	while (rdtsc() < end)
		cpu_relax();
	printf("guest: i8042 reset ignored, triple-faulting\n");
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) none = { 0, 0 };
	__asm__ volatile("lidt %0; ud2" : : "m"(none));
	for (;;)
		__asm__ volatile("hlt");
}
