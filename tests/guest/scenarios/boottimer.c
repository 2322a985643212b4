/* boottimer: signal the boot-timer device; the monitor logs Guest-boot-time. */
#include "guest.h"

const char guest_name[] = GUEST_NAME;

void guest_main(const char *cmdline)
{
	(void)cmdline;
	printf("boottimer: writing %u to %lx\n", BOOT_TIMER_MAGIC, BOOT_TIMER_ADDR);
	boottimer_signal();
	test_pass();
}
