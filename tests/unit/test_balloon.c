/* virtio/balloon/balloon.c: page lists against real anonymous memory, statistics, config space. */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/mman.h>

#include "../../virtio/balloon/balloon.h"
#include "../../lib/log.h"

#define RAM   (4u << 20)
#define PAGES (RAM >> 12)

static uint8_t *ram;
static struct guest_mem mem;
static struct balloon *b;

static void setup(void)
{
	log_set_level(LOG_OFF);
	ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(ram, MAP_FAILED);
	memset(ram, 0xa5, RAM);
	mem = (struct guest_mem){ .nr = 1, .size = RAM, .fd = -1, .backing = MEM_ANON };
	mem.r[0] = (struct guest_region){ .gpa = 0, .size = RAM, .hva = ram };
	struct balloon_cfg c = { .amount_mib = 2,
				 .deflate_on_oom = true,
				 .stats_polling_interval_s = 1 };
	b = balloon_create(&c, &mem);
	cr_assert_not_null(b);
}

static void teardown(void)
{
	balloon_destroy(b);
	munmap(ram, RAM);
}

TestSuite(balloon, .init = setup, .fini = teardown);

static uint32_t list(uint32_t *l, uint32_t first, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		l[i] = first + i;
	return n * 4;
}

Test(balloon, inflated_pages_read_back_as_zero)
{
	uint32_t l[64];
	uint32_t len = list(l, 16, 64);
	cr_expect_eq(balloon_release_pfns(b, (uint8_t *)l, len), 64);
	for (uint32_t p = 16; p < 80; p++)
		cr_expect_eq(ram[p << 12], 0, "page %u released", p);
	cr_expect_eq(ram[15u << 12], 0xa5, "the page before is untouched");
	cr_expect_eq(ram[80u << 12], 0xa5, "the page after is untouched");
	struct balloon_stats st;
	balloon_get_stats(b, &st);
	cr_expect_eq(st.inflated_pages, 64);
	cr_expect_eq(st.released_bytes, 64u << 12);
	cr_expect_eq(st.invalid_pfns, 0);
}

Test(balloon, page_numbers_outside_ram_are_skipped_and_counted)
{
	uint32_t l[] = { 5, PAGES, PAGES - 1, 0xffffffffu, 0x100000u, 7 };
	cr_expect_eq(balloon_release_pfns(b, (uint8_t *)l, sizeof(l)), 3);
	cr_expect_eq(ram[5u << 12], 0);
	cr_expect_eq(ram[(PAGES - 1) << 12], 0, "the last page of RAM is fine");
	cr_expect_eq(ram[7u << 12], 0);
	cr_expect_eq(ram[6u << 12], 0xa5);
	struct balloon_stats st;
	balloon_get_stats(b, &st);
	cr_expect_eq(st.invalid_pfns, 3);
}

Test(balloon, a_list_not_of_whole_entries_counts_once)
{
	uint32_t l[2] = { 9, 10 };
	cr_expect_eq(balloon_release_pfns(b, (uint8_t *)l, 7), 1,
		     "the 3 trailing bytes are no PFN");
	struct balloon_stats st;
	balloon_get_stats(b, &st);
	cr_expect_eq(st.invalid_pfns, 1);
	cr_expect_eq(balloon_release_pfns(b, (uint8_t *)l, 0), 0);
}

Test(balloon, statistics_keep_known_tags_and_count_the_rest)
{
	uint8_t s[5 * 10 + 3];
	const struct {
		uint16_t tag;
		uint64_t val;
	} e[] = { { 4, 111 }, { 5, 222 }, { 77, 1 }, { 10, 5 }, { 9, 333 } };
	for (int i = 0; i < 5; i++) {
		memcpy(s + 10 * i, &e[i].tag, 2);
		memcpy(s + 10 * i + 2, &e[i].val, 8);
	}
	balloon_parse_stats(b, s, 50);
	struct balloon_stats st;
	balloon_get_stats(b, &st);
	cr_expect_eq(st.unknown_tags, 2);
	cr_expect_eq(st.val[4], 111);
	cr_expect_eq(st.val[5], 222);
	cr_expect_eq(st.val[9], 333);
	cr_expect_eq(st.have, (1u << 4) | (1u << 5) | (1u << 9));
	cr_expect_eq(st.bad_stats, 0);
	balloon_parse_stats(b, s, 53);
	balloon_get_stats(b, &st);
	cr_expect_eq(st.bad_stats, 1, "a partial entry");
	balloon_parse_stats(b, s, 0);
	balloon_get_stats(b, &st);
	cr_expect_eq(st.have, 0, "an empty update has nothing");
	cr_expect_str_eq(balloon_tag_name(6), "available_memory");
	cr_expect_str_eq(balloon_tag_name(10), "?");
}

Test(balloon, config_space_target_and_actual)
{
	uint8_t v[8];
	balloon_ops.read_config(b, 0, v, 8);
	uint32_t target, actual;
	memcpy(&target, v, 4);
	cr_expect_eq(target, 2u << 8, "2 MiB in 4 KiB pages");
	uint32_t a = 300;
	balloon_ops.write_config(b, 4, (uint8_t *)&a, 4);
	balloon_ops.write_config(b, 0, (uint8_t *)&a, 4); /* num_pages is the device's */
	balloon_ops.write_config(b, 6, (uint8_t *)&a, 4); /* straddles the end: ignored */
	balloon_ops.read_config(b, 0, v, 8);
	memcpy(&target, v, 4);
	memcpy(&actual, v + 4, 4);
	cr_expect_eq(target, 512);
	cr_expect_eq(actual, 300);
	balloon_ops.read_config(b, 1000, v, 4);
	cr_expect_eq(v[0], 0);
	uint64_t f = balloon_ops.features(b);
	cr_expect(f & (1ULL << VIRTIO_BALLOON_F_STATS_VQ));
	cr_expect(f & (1ULL << VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
}

Test(balloon, state_round_trip_and_bad_state)
{
	struct balloon_state s;
	balloon_set_target(b, 77);
	balloon_save(b, &s);
	cr_expect_eq(s.num_pages, 77);
	s.stats_held = 1;
	s.stats_head = 5;
	cr_expect_eq(balloon_restore(b, &s), 0);
	struct balloon_state bad = s;
	bad.stats_head = 256;
	cr_expect_neq(balloon_restore(b, &bad), 0, "a head past the queue");
	bad = s;
	bad.stats_held = 2;
	cr_expect_neq(balloon_restore(b, &bad), 0);
}
