/* vmm/x86/mptable.c: read back with the MP specification 1.4 layout, byte by byte. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/util.h"
#include "../../vmm/x86/layout.h"
#include "../../vmm/x86/mptable.h"

static uint8_t *ram;
static struct guest_mem mem;

static void setup(void)
{
	ram = malloc(MiB(1));
	cr_assert_not_null(ram);
	memset(ram, 0xcc, MiB(1));
	mem = (struct guest_mem){ .nr = 1, .size = MiB(1), .fd = -1 };
	mem.r[0] = (struct guest_region){ .gpa = 0, .size = MiB(1), .hva = ram };
}

static void teardown(void)
{
	free(ram);
}

TestSuite(mptable, .init = setup, .fini = teardown);

static uint32_t rd32(uint64_t gpa)
{
	uint32_t v;
	memcpy(&v, ram + gpa, 4);
	return v;
}

static uint16_t rd16(uint64_t gpa)
{
	uint16_t v;
	memcpy(&v, ram + gpa, 2);
	return v;
}

static uint8_t sum(uint64_t gpa, size_t len)
{
	uint8_t s = 0;
	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + ram[gpa + i]);
	return s;
}

struct parsed {
	int cpus, buses, ioapics, intsrc, lintsrc;
	int bsp_count;
	uint8_t bsp_id;
	uint8_t lapic_ids[64];
	uint8_t ioapic_id;
	uint32_t ioapic_addr;
	uint8_t irq_pin[64], irq_dst[64];
	uint8_t lint_type[2], lint_pin[2];
	uint64_t table_end;
};

/* Validate the floating pointer and the table header, then walk every entry. */
static void parse_mptable(struct parsed *p)
{
	memset(p, 0, sizeof(*p));
	uint64_t mpf = MPTABLE_START;
	cr_assert_eq(memcmp(ram + mpf, "_MP_", 4), 0, "floating pointer signature");
	cr_assert_eq(ram[mpf + 8], 1, "length in 16-byte units");
	cr_expect_eq(ram[mpf + 9], 4, "spec revision 1.4");
	cr_expect_eq(sum(mpf, 16), 0, "floating pointer checksum");
	cr_expect_eq(ram[mpf + 11], 0, "feature byte 1: a configuration table is present");

	uint64_t mpc = rd32(mpf + 4);
	cr_assert(mpc >= MPTABLE_START && mpc < LEGACY_HOLE_START, "table inside the EBDA page");
	cr_assert_eq(memcmp(ram + mpc, "PCMP", 4), 0, "table signature");
	uint16_t len = rd16(mpc + 4);
	cr_assert_leq(mpc + len, LEGACY_HOLE_START, "table fits below 640 KiB");
	cr_expect_eq(sum(mpc, len), 0, "table checksum");
	cr_expect_eq(rd32(mpc + 36), LAPIC_ADDR);
	uint16_t count = rd16(mpc + 34);
	p->table_end = mpc + len;

	uint64_t e = mpc + 44;
	for (int i = 0; i < count; i++) {
		cr_assert_lt(e, p->table_end, "entry %d beyond the table length", i);
		switch (ram[e]) {
		case 0: /* processor */
			cr_assert_lt(p->cpus, 64);
			p->lapic_ids[p->cpus++] = ram[e + 1];
			cr_expect(ram[e + 3] & 1, "CPU %d enabled", p->cpus - 1);
			if (ram[e + 3] & 2) {
				p->bsp_count++;
				p->bsp_id = ram[e + 1];
			}
			e += 20;
			break;
		case 1:
			cr_expect_eq(memcmp(ram + e + 2, "ISA   ", 6), 0);
			p->buses++;
			e += 8;
			break;
		case 2:
			p->ioapics++;
			p->ioapic_id = ram[e + 1];
			cr_expect(ram[e + 3] & 1, "IOAPIC usable");
			p->ioapic_addr = rd32(e + 4);
			e += 8;
			break;
		case 3:
			cr_assert_lt(p->intsrc, 64);
			p->irq_pin[ram[e + 5] & 63] = ram[e + 7];
			p->irq_dst[ram[e + 5] & 63] = ram[e + 6];
			p->intsrc++;
			e += 8;
			break;
		case 4:
			cr_assert_lt(p->lintsrc, 2);
			p->lint_type[p->lintsrc] = ram[e + 1];
			p->lint_pin[p->lintsrc] = ram[e + 7];
			p->lintsrc++;
			e += 8;
			break;
		default: cr_assert_fail("unknown entry type %d at entry %d", ram[e], i);
		}
	}
	cr_expect_eq(e, p->table_end, "the entries fill the table exactly");
}

static void check_for(int n)
{
	cr_assert_eq(mptable_write(&mem, n), 0);
	struct parsed p;
	parse_mptable(&p);
	cr_expect_eq(p.cpus, n, "one processor entry per vCPU");
	cr_expect_eq(p.bsp_count, 1, "exactly one BSP");
	cr_expect_eq(p.bsp_id, 0, "the BSP is CPU 0");
	for (int i = 0; i < p.cpus; i++) {
		cr_expect_eq(p.lapic_ids[i], i, "LAPIC id of CPU %d", i);
		cr_expect_neq(p.lapic_ids[i], p.ioapic_id, "IOAPIC id collides with CPU %d", i);
	}
	cr_expect_eq(p.buses, 1);
	cr_expect_eq(p.ioapics, 1);
	cr_expect_eq(p.ioapic_addr, IOAPIC_ADDR);
	cr_expect_eq(p.intsrc, 24, "one interrupt source per IOAPIC pin");
	for (int irq = 0; irq < 24; irq++) {
		cr_expect_eq(p.irq_pin[irq], irq, "ISA IRQ %d routed to pin %d", irq, irq);
		cr_expect_eq(p.irq_dst[irq], p.ioapic_id, "IRQ %d goes to the IOAPIC", irq);
	}
	cr_expect_eq(p.lintsrc, 2);
	cr_expect_eq(p.lint_type[0], 3, "LINT0 is ExtINT");
	cr_expect_eq(p.lint_pin[0], 0);
	cr_expect_eq(p.lint_type[1], 1, "LINT1 is NMI");
	cr_expect_eq(p.lint_pin[1], 1);
	cr_expect_eq(ram[p.table_end], 0xcc, "nothing written after the table");
}

Test(mptable, one_vcpu)
{
	check_for(1);
}

Test(mptable, two_vcpus)
{
	check_for(2);
}

Test(mptable, thirty_two_vcpus_fit_below_640_kib)
{
	check_for(MAX_VCPUS);
}

Test(mptable, rejects_zero_and_too_many_vcpus)
{
	static const int bad[] = { 0, -1, MAX_VCPUS + 1, 255 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(mptable_write(&mem, bad[i]), -EINVAL, "%d vCPUs", bad[i]);
	cr_expect_eq(ram[MPTABLE_START], 0xcc, "nothing written");
}

Test(mptable, fails_when_ram_ends_before_the_table)
{
	mem.r[0].size = mem.size = MPTABLE_START + 64;
	cr_expect_eq(mptable_write(&mem, 1), -EFAULT);
	cr_expect_eq(ram[MPTABLE_START], 0xcc, "nothing written");
}

Test(mptable, checksum_is_the_byte_sum)
{
	static const uint8_t b[] = { 0x01, 0xff, 0x10, 0x20 };
	cr_expect_eq(mptable_checksum(b, sizeof(b)), 0x30);
	cr_expect_eq(mptable_checksum(b, 0), 0);
}
