/*
 * counter: a guest that keeps running, for snapshot/restore tests.  Every
 * counter.step loop iterations (default 1M = 2^20) it prints "counter: N"
 * with N = 1, 2, 3, ...; after counter.max iterations (if given) it PASSes.
 * The count lives in registers and on the stack, so a restored snapshot
 * must carry on from the next N.
 */
#include "cmdline.h"

const char guest_name[] = GUEST_NAME;

void guest_main(const char *cmdline)
{
	uint64_t step = 1ULL << 20, max = 0, done = 0, tick = 0;
	bool bounded;

	cmdline_get_u64(cmdline, "counter.step", &step);
	if (!step)
		step = 1;
	bounded = cmdline_get_u64(cmdline, "counter.max", &max);
	if (bounded)
		printf("counter.step=%lu counter.max=%lu\n", step, max);
	else
		printf("counter.step=%lu counter.max=none\n", step);

	while (!bounded || done < max) {
		uint64_t n = bounded && max - done < step ? max - done : step;
		for (uint64_t i = 0; i < n; i++)
			__asm__ volatile("" : : : "memory");
		done += n;
		printf("counter: %lu\n", ++tick);
	}
	test_pass();
}
