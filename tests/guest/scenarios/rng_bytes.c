/*
 * rng_bytes: entropy from virtio-rng. Reads rng.reads (default 8) requests
 * of 64 bytes, prints the first 16 bytes of the first two, and fails if a
 * request comes back short, all zero, or equal to the one before.
 */
#include "cmdline.h"
#include "virtio_rng.h"

const char guest_name[] = GUEST_NAME;

static struct rng rng;

void guest_main(const char *cmdline)
{
	uint8_t prev[64], cur[64];
	uint64_t reads = 8;
	cmdline_get_u64(cmdline, "rng.reads", &reads);
	if (rng_open(&rng, cmdline))
		test_fail("no usable virtio-rng device");
	uint64_t t0 = rdtsc();
	for (uint64_t i = 0; i < reads; i++) {
		int n = rng_read(&rng, cur, sizeof(cur));
		if (n != (int)sizeof(cur))
			test_fail("read %lu returned %d bytes", i, n);
		bool zero = true;
		for (unsigned k = 0; k < sizeof(cur); k++)
			zero &= cur[k] == 0;
		if (zero)
			test_fail("read %lu is all zero", i);
		if (i && !memcmp(prev, cur, sizeof(cur)))
			test_fail("read %lu repeats the one before", i);
		if (i < 2) {
			printf("rng_bytes: ");
			for (unsigned k = 0; k < 16; k++)
				printf("%02x", cur[k]);
			printf("\n");
		}
		memcpy(prev, cur, sizeof(cur));
	}
	printf("rng_bytes: %lu reads of 64 bytes in %lu cycles\n", reads, rdtsc() - t0);
	test_pass();
}
