/* Booting an image's root filesystem for `mvm run IMAGE` (run_image.c). */
#ifndef MVM_RUN_IMAGE_H
#define MVM_RUN_IMAGE_H

#include <stdbool.h>

#include "image.h"

/* mvm run IMAGE's own failures (as docker run's). */
#define RUN_IMAGE_EXIT_MVM 125

struct run_image {
	struct image_build build;
	char rootfs[4200]; /* the built image, in the cache */
	const char *kernel, *net, *vsock;
	char **env, **vol, **cmd;
	int nenv, nvol, ncmd;
	unsigned cpus, mem_mib;
	bool snapshot, quiet;
	char nonce[24];
	const char *job; /* the job line for mvm-init */
};

/* Boot, run, report; the workload's exit status or RUN_IMAGE_EXIT_MVM. */
int run_image(struct run_image *ri);

#endif
