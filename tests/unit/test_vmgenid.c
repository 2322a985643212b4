/* vmm/vmgenid.c without KVM: the generation written into guest RAM, fresh each
 * time, counted as a monitor write for diff snapshots; saved records checked. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "../../vmm/vmgenid.h"
#include "../../vmm/x86/layout.h"

static uint8_t low[1 << 20];
static uint64_t dirty[(sizeof(low) >> 12) / 64];
static struct guest_mem mem;
static struct vmgenid g;

static void init(void)
{
	memset(low, 0, sizeof(low));
	memset(dirty, 0, sizeof(dirty));
	mem = (struct guest_mem){ .nr = 1, .size = sizeof(low), .fd = -1 };
	mem.r[0] = (struct guest_region){ .gpa = 0, .size = sizeof(low), .hva = low };
	mem.dirty[0] = dirty;
	g = (struct vmgenid){ .addr = VMGENID_ADDR, .gsi = GED_IRQ, .irq = { .fd = -1 } };
}

TestSuite(vmgenid, .init = init);

Test(vmgenid, each_generation_is_new_and_lands_in_guest_ram)
{
	uint8_t zero[16] = { 0 }, first[16];
	cr_assert_eq(vmgenid_generate(&g, &mem), 0);
	cr_assert_arr_eq(low + VMGENID_ADDR, g.id, 16);
	cr_assert(memcmp(g.id, zero, 16), "16 zero bytes from getrandom");
	memcpy(first, g.id, 16);
	cr_assert_eq(vmgenid_generate(&g, &mem), 0);
	cr_assert(memcmp(first, g.id, 16), "the same generation twice");
	cr_assert_arr_eq(low + VMGENID_ADDR, g.id, 16);
	uint64_t page = VMGENID_ADDR >> 12;
	cr_assert(dirty[page / 64] & (1ULL << (page % 64)), "not marked for a diff snapshot");
	vmgenid_notify(&g); /* no line: nothing to raise, nothing breaks */
}

Test(vmgenid, an_address_outside_ram_is_refused)
{
	g.addr = sizeof(low) - 8; /* the ID would run past the end */
	cr_assert_eq(vmgenid_generate(&g, &mem), -EFAULT);
}

Test(vmgenid, saved_records_must_match_this_layout)
{
	struct vmgenid_state s;
	const char *why = NULL;
	cr_assert_eq(vmgenid_generate(&g, &mem), 0);
	vmgenid_save(&g, &s);
	cr_assert_eq(vmgenid_check(&s, &why), 0);
	cr_assert_arr_eq(s.id, g.id, 16);
	struct vmgenid_state bad[3] = { s, s, s };
	bad[0].addr = 0xfffffffffffff000ULL;
	bad[1].gsi = 5; /* a virtio slot's line */
	bad[2].reserved = 1;
	for (int i = 0; i < 3; i++) {
		why = NULL;
		cr_expect_eq(vmgenid_check(&bad[i], &why), -EINVAL, "record %d", i);
		cr_expect(why && strstr(why, "VMGenID"), "record %d: %s", i, why ? why : "");
	}
}
