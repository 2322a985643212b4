/*
 * idle: a guest that is up and then costs the host nothing.  It prints
 * "idle: up", writes the boot timer and halts with interrupts off, for
 * good: no verdict, no reset.  The perf suite boots many of these at once
 * (density) and measures the monitor's memory beside one; the monitor is
 * stopped by a signal.
 */
#include "guest.h"

const char guest_name[] = GUEST_NAME;

void guest_main(const char *cmdline)
{
	(void)cmdline;
	printf("idle: up\n");
	boottimer_signal();
	for (;;)
		__asm__ volatile("cli; hlt");
}
