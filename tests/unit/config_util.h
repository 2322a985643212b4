/*
 * Shared by test_config.c and test_config_devices.c: a config to fill, the
 * config file parser run on text, and the drives it holds.
 */
#ifndef MVM_TEST_CONFIG_UTIL_H
#define MVM_TEST_CONFIG_UTIL_H

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../../monitor/config_file.h"
#include "../../virtio/blk/blk.h"
#include "../../virtio/rng.h"
#include "../../vmm/config.h"

#define KERNEL "\"boot-source\":{\"kernel_image_path\":\"/k\"}"

static struct vm_config cfg;
static struct err err;

static inline void config_setup(void)
{
	log_set_level(LOG_OFF);
	vm_config_init(&cfg);
	memset(&err, 0, sizeof(err));
}

static inline void config_teardown(void)
{
	vm_config_fini(&cfg);
}

/* The i-th drive of c, in the order they were configured. */
static inline const struct drive_cfg *drive(const struct vm_config *c, int i)
{
	for (int k = 0, n = 0; k < c->nr_devs; k++)
		if (c->devs[k].type == &blk_type && n++ == i)
			return c->devs[k].cfg;
	cr_assert_fail("no drive %d", i);
	return NULL;
}

static inline int parse(const char *text)
{
	return config_parse_file(text, strlen(text), &cfg, &err);
}

/* Parse `text` into a fresh config and expect -EINVAL with every `needle` in the message. */
static inline void expect_rejected(size_t i, const char *text, const char *needle1,
				   const char *needle2)
{
	struct vm_config c;
	struct err e = { 0 };
	vm_config_init(&c);
	int r = config_parse_file(text, strlen(text), &c, &e);
	cr_expect_eq(r, -EINVAL, "case %zu: accepted: %s", i, text);
	if (r) {
		cr_expect(strstr(e.msg, needle1) != NULL, "case %zu: message '%s' lacks '%s'", i,
			  e.msg, needle1);
		if (needle2)
			cr_expect(strstr(e.msg, needle2) != NULL,
				  "case %zu: message '%s' lacks '%s'", i, e.msg, needle2);
	}
	vm_config_fini(&c);
}

#endif
