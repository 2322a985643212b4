/* From start.S to guest_main(), and the verdict every scenario ends with. */
#include "guest.h"

#define CMDLINE_MAX 4096

/* A private copy: the loader's copy lives in RAM the guest does not own. */
static char cmdline[CMDLINE_MAX];

void guest_start(uint64_t cmdline_paddr)
{
	serial_init();
	traps_init();
	if (cmdline_paddr >= 0x100000000ULL) {
		printf("guest: command line at %lx is above 4 GiB, ignored\n", cmdline_paddr);
	} else if (cmdline_paddr) {
		const char *src = (const char *)(uintptr_t)cmdline_paddr;
		size_t i;
		for (i = 0; i < CMDLINE_MAX - 1 && src[i]; i++)
			cmdline[i] = src[i];
		cmdline[i] = 0;
	}
	guest_main(cmdline);
	test_fail("guest_main returned without a verdict");
}

void test_pass(void)
{
	printf("MVM-TEST %s: PASS\n", guest_name);
	machine_reset();
}

void test_fail(const char *fmt, ...)
{
	va_list ap;

	printf("MVM-TEST %s: FAIL ", guest_name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	machine_reset();
}
