/* cpuid: print what the monitor's CPUID says, for the runner to check
 * topology (APIC id, logical count) and the CPU template's hidden features. */
#include "guest.h"

const char guest_name[] = GUEST_NAME;

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

void guest_main(const char *cmdline)
{
	uint32_t r[4];
	(void)cmdline;
	cpuid(0, 0, r);
	printf("cpuid: max leaf %x\n", r[0]);
	cpuid(1, 0, r);
	printf("cpuid: leaf 1 eax %x ebx %x ecx %x edx %x\n", r[0], r[1], r[2], r[3]);
	cpuid(7, 0, r);
	printf("cpuid: leaf 7 eax %x ebx %x ecx %x edx %x\n", r[0], r[1], r[2], r[3]);
	cpuid(0x40000000, 0, r);
	printf("cpuid: leaf 40000000 eax %x ebx %x ecx %x edx %x\n", r[0], r[1], r[2], r[3]);
	test_pass();
}
