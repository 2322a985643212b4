/*
 * vmm/x86/acpi.c + dsdt.c: the tables read back field by field, their
 * checksums, and each one decoded by ACPICA's own disassembler (iasl -d, Debian
 * package acpica-tools), so that a malformed table fails here and not as a
 * guest that silently ignores a device.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../lib/util.h"
#include "../../vmm/x86/acpi.h"
#include "../../vmm/x86/layout.h"

/* Guest RAM: its first MiB, where the tables live. */
static uint8_t ram[1 << 20];
static struct guest_mem mem;
static struct acpi_layout lay;

static void fill_ram(void)
{
	memset(ram, 0xcc, sizeof(ram));
	mem = (struct guest_mem){ .nr = 1, .size = sizeof(ram), .fd = -1 };
	mem.r[0] = (struct guest_region){ .gpa = 0, .size = sizeof(ram), .hva = ram };
	memset(&lay, 0, sizeof(lay));
}

TestSuite(acpi, .init = fill_ram);

static const struct acpi_machine full = {
	.nr_cpus = 4, .nr_virtio = 18, .vmgenid_addr = VMGENID_ADDR, .ged_irq = GED_IRQ
};

/* Little-endian fields of n bytes at a guest-physical address. */
static uint64_t field(uint64_t gpa, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | ram[gpa + (uint64_t)i];
	return v;
}
#define rd32(gpa) ((uint32_t)field(gpa, 4))
#define rd64(gpa) field(gpa, 8)

static const struct acpi_table_info *table(const char *sig)
{
	for (int i = 0; i < ACPI_MAX_TABLES; i++)
		if (!strcmp(lay.t[i].sig, sig))
			return &lay.t[i];
	cr_assert_fail("no %s table", sig);
	return NULL;
}

/* How often `needle` occurs in [p, p+len). */
static int count(const uint8_t *p, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	int c = 0;
	for (size_t i = 0; i + n <= len; i++)
		c += !memcmp(p + i, needle, n);
	return c;
}

Test(acpi, rsdp_xsdt_fadt_madt_dsdt_chain_with_valid_checksums)
{
	cr_assert_eq(acpi_write(&mem, &full, &lay), 0);
	cr_assert_arr_eq(ram + ACPI_START, "RSD PTR ", 8);
	cr_assert_eq(acpi_sum(ram + ACPI_START, 20), 0, "RSDP checksum");
	cr_assert_eq(acpi_sum(ram + ACPI_START, ACPI_RSDP_SIZE), 0, "RSDP extended checksum");
	cr_assert_eq(ram[ACPI_START + 15], 2, "RSDP revision 2 (XSDT)");
	uint64_t xsdt = rd64(ACPI_START + 24);
	cr_assert_eq(xsdt, table("XSDT")->addr);
	for (int i = 1; i < ACPI_MAX_TABLES; i++) {
		const struct acpi_table_info *t = &lay.t[i];
		cr_assert_arr_eq(ram + t->addr, t->sig, 4);
		cr_assert_eq(rd32(t->addr + 4), t->len, "%s length", t->sig);
		cr_assert_eq(acpi_sum(ram + t->addr, t->len), 0, "%s checksum", t->sig);
		cr_assert_eq(t->addr % 16, 0, "%s alignment", t->sig);
		cr_assert_leq(t->addr + t->len, VMGENID_ADDR, "%s runs into the VMGenID page",
			      t->sig);
		cr_log_info("%s at %#llx, %u bytes", t->sig, (unsigned long long)t->addr, t->len);
	}
	cr_assert_eq(rd64(xsdt + 36), table("FACP")->addr);
	cr_assert_eq(rd64(xsdt + 44), table("APIC")->addr);
	uint64_t fadt = table("FACP")->addr;
	cr_assert_eq(rd64(fadt + 140), table("DSDT")->addr, "X_DSDT");
	cr_assert(rd32(fadt + 112) & ACPI_FADT_HW_REDUCED, "hardware-reduced");
	cr_assert(ram[fadt + 109] & ACPI_BOOT_8042, "the i8042 is announced");
}

Test(acpi, madt_has_one_enabled_lapic_per_cpu_and_the_ioapic)
{
	struct acpi_machine m = full;
	m.nr_cpus = 3;
	cr_assert_eq(acpi_write(&mem, &m, &lay), 0);
	const struct acpi_table_info *t = table("APIC");
	cr_assert_eq(rd32(t->addr + 36), LAPIC_ADDR);
	int lapics = 0, ioapics = 0, overrides = 0;
	for (uint64_t p = t->addr + 44; p < t->addr + t->len; p += ram[p + 1]) {
		cr_assert_gt(ram[p + 1], 0, "zero-length MADT entry");
		if (ram[p] == 0) {
			cr_assert_eq(ram[p + 2], lapics, "processor UID");
			cr_assert_eq(ram[p + 3], lapics, "APIC id");
			cr_assert_eq(rd32(p + 4) & 1, 1, "enabled");
			lapics++;
		} else if (ram[p] == 1) {
			cr_assert_eq(rd32(p + 4), IOAPIC_ADDR);
			cr_assert_eq(rd32(p + 8), 0, "GSI base");
			ioapics++;
		} else if (ram[p] == 2) {
			cr_assert_eq(rd32(p + 4), ram[p + 3], "identity override");
			overrides++;
		}
	}
	cr_assert_eq(lapics, 3);
	cr_assert_eq(ioapics, 1);
	cr_assert_eq(overrides, 2);
}

Test(acpi, dsdt_names_every_virtio_slot_and_the_vmgenid_address)
{
	struct acpi_machine m = full;
	m.nr_virtio = 3;
	cr_assert_eq(acpi_write(&mem, &m, &lay), 0);
	const struct acpi_table_info *t = table("DSDT");
	cr_assert_eq(count(ram + t->addr, t->len, "LNRO0005"), 3);
	cr_assert_eq(count(ram + t->addr, t->len, "V002"), 1);
	cr_assert_eq(count(ram + t->addr, t->len, "V003"), 0);
	cr_assert_eq(count(ram + t->addr, t->len, "VMGENCTR"), 1);
	cr_assert_eq(count(ram + t->addr, t->len, "ACPI0013"), 1);
	/* ADDR: Package (2) { DWord 0xff000, Zero } */
	static const uint8_t addr[] = {
		'A', 'D', 'D', 'R', 0x12, 8, 2, 0x0c, 0x00, 0xf0, 0x0f, 0, 0
	};
	cr_assert(memmem(ram + t->addr, t->len, addr, sizeof(addr)), "ADDR package");

	m.vmgenid_addr = 0; /* no VMGenID: no VGEN, no GED */
	cr_assert_eq(acpi_write(&mem, &m, &lay), 0);
	t = table("DSDT");
	cr_assert_eq(count(ram + t->addr, t->len, "VMGENCTR"), 0);
	cr_assert_eq(count(ram + t->addr, t->len, "ACPI0013"), 0);
}

Test(acpi, out_of_range_machines_and_small_buffers_are_refused)
{
	uint8_t small[600];
	struct acpi_machine m = full;
	cr_assert_eq(acpi_build(&full, small, sizeof(small), &lay), -E2BIG);
	m.nr_cpus = 0;
	cr_assert_eq(acpi_write(&mem, &m, &lay), -EINVAL);
	m = full;
	m.nr_cpus = MAX_VCPUS + 1;
	cr_assert_eq(acpi_write(&mem, &m, &lay), -EINVAL);
	m = full;
	m.nr_virtio = VIRTIO_MMIO_MAX_DEVS + 1;
	cr_assert_eq(acpi_write(&mem, &m, &lay), -EINVAL);
	struct guest_mem tiny = mem;
	tiny.r[0].size = tiny.size = ACPI_START + 4096;
	cr_assert_eq(acpi_write(&tiny, &full, &lay), -EFAULT);
}

/* Run `iasl -d` on each table; 0 when every one decodes with no error or
 * warning, its listing appended to *dsl. */
static int iasl_decode(const char *dir, char *dsl, size_t cap)
{
	size_t used = 0;
	for (int i = 1; i < ACPI_MAX_TABLES; i++) {
		const struct acpi_table_info *t = &lay.t[i];
		char bin[256], cmd[1024], out[300];
		snprintf(bin, sizeof(bin), "%s/%s.dat", dir, t->sig);
		FILE *f = fopen(bin, "wb");
		cr_assert_not_null(f);
		cr_assert_eq(fwrite(ram + t->addr, 1, t->len, f), t->len);
		fclose(f);
		snprintf(cmd, sizeof(cmd), "cd %s && iasl -d %s.dat > %s.log 2>&1", dir, t->sig,
			 t->sig);
		int st = system(cmd);
		snprintf(cmd, sizeof(cmd), "grep -qiE 'error|warning|invalid' %s/%s.log", dir,
			 t->sig);
		if (st != 0 || system(cmd) == 0) {
			cr_log_error("iasl -d %s: status %d", t->sig, st);
			snprintf(cmd, sizeof(cmd), "cat %s/%s.log >&2", dir, t->sig);
			(void)!system(cmd);
			return -1;
		}
		snprintf(out, sizeof(out), "%s/%s.dsl", dir, t->sig);
		f = fopen(out, "r");
		cr_assert_not_null(f, "no %s", out);
		used += fread(dsl + used, 1, cap - 1 - used, f);
		fclose(f);
	}
	dsl[used] = '\0';
	return 0;
}

Test(acpi, acpica_decodes_every_table_without_complaint)
{
	if (system("command -v iasl > /dev/null 2>&1") != 0)
		cr_skip_test("iasl not installed (Debian package acpica-tools)");
	char dir[] = "/tmp/mvm-acpi-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(acpi_write(&mem, &full, &lay), 0);
	static char dsl[1 << 20];
	int r = iasl_decode(dir, dsl, sizeof(dsl));
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(r, 0, "iasl -d reported a problem (its output is above)");
	static const char *want[] = {
		"Device (COM1)",
		"EisaId (\"PNP0501\")",
		"Device (PS2)",
		"EisaId (\"PNP0303\")",
		"Device (V000)",
		"Device (V017)",
		"\"LNRO0005\"",
		"Memory32Fixed (ReadWrite,",
		"0xC0012000",
		"Device (VGEN)",
		"\"VMGENCTR\"",
		"Name (ADDR, Package (0x02)",
		"0x000FF000",
		"Device (GED)",
		"\"ACPI0013\"",
		"Method (_EVT, 1, Serialized)",
		"Notify (\\_SB.VGEN, 0x80)",
		"Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )",
		"Hardware Reduced (V5) : 1",
		"Processor Local APIC",
		"I/O APIC",
		"Interrupt Source Override",
		"Local APIC NMI"
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_expect(strstr(dsl, want[i]), "the decoded tables lack '%s'", want[i]);
}
