#include "acpi.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "../../lib/util.h"
#include "layout.h"

/* ACPI 6.5, 5.2: every structure is little-endian and packed. */
struct __attribute__((packed)) rsdp {
	char sig[8];
	uint8_t checksum; /* over the first 20 bytes */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_addr;
	uint32_t length;
	uint64_t xsdt_addr;
	uint8_t ext_checksum; /* over all of it */
	uint8_t reserved[3];
};

struct __attribute__((packed)) sdt_header {
	char sig[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
};

/* ACPI 6.5, 5.2.9: only what a hardware-reduced machine sets is named. */
struct __attribute__((packed)) fadt {
	struct sdt_header h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0, pm_profile;
	uint16_t sci_int;
	uint8_t legacy_blocks[109 - 48]; /* SMI_CMD .. CENTURY: none */
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	uint8_t reset_reg[12];
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	uint8_t x_blocks[244 - 148]; /* X_PM1a_EVT_BLK .. X_GPE1_BLK: none */
	uint8_t sleep_control[12], sleep_status[12];
	char hypervisor_id[8];
};
_Static_assert(sizeof(struct rsdp) == ACPI_RSDP_SIZE, "RSDP");
_Static_assert(sizeof(struct sdt_header) == ACPI_HEADER_SIZE, "header");
_Static_assert(sizeof(struct fadt) == ACPI_FADT_SIZE, "FADT");
_Static_assert(offsetof(struct fadt, iapc_boot_arch) == 109, "IAPC_BOOT_ARCH");
_Static_assert(offsetof(struct fadt, flags) == 112, "FADT flags");
_Static_assert(offsetof(struct fadt, x_dsdt) == 140, "X_DSDT");

/* MADT (5.2.12) entries. */
struct __attribute__((packed)) madt_lapic {
	uint8_t type, len, uid, apic_id;
	uint32_t flags;
};
struct __attribute__((packed)) madt_ioapic {
	uint8_t type, len, id, reserved;
	uint32_t addr, gsi_base;
};
struct __attribute__((packed)) madt_iso {
	uint8_t type, len, bus, source;
	uint32_t gsi;
	uint16_t flags;
};
struct __attribute__((packed)) madt_lapic_nmi {
	uint8_t type, len, uid;
	uint16_t flags;
	uint8_t lint;
};

uint8_t acpi_sum(const void *p, uint32_t len)
{
	const uint8_t *b = p;
	uint8_t s = 0;
	for (uint32_t i = 0; i < len; i++)
		s = (uint8_t)(s + b[i]);
	return s;
}

static void header(void *at, const char *sig, uint32_t len, uint8_t rev)
{
	struct sdt_header h = {
		.length = len, .revision = rev, .oem_revision = 1, .creator_revision = 1
	};
	memcpy(h.sig, sig, 4);
	memcpy(h.oem_id, ACPI_OEM_ID, 6);
	memcpy(h.oem_table_id, "MVM-", 4);
	memcpy(h.oem_table_id + 4, sig, 4);
	memcpy(h.creator_id, "MVM ", 4);
	memcpy(at, &h, sizeof(h));
}

static void seal(uint8_t *t)
{
	struct sdt_header h;
	memcpy(&h, t, sizeof(h));
	t[offsetof(struct sdt_header, checksum)] = (uint8_t)(0 - acpi_sum(t, h.length));
}

/* A table of `len` bytes at the next 16-byte boundary, zeroed up to `keep`
 * (bytes after it were written already); NULL when it does not fit. */
static uint8_t *place(uint8_t *buf, uint32_t cap, uint32_t *used, uint32_t len, uint32_t keep,
		      struct acpi_table_info *ti, const char *sig)
{
	uint32_t at = (uint32_t)ALIGN_UP((uint64_t)*used, 16);
	if (at > cap || len > cap - at)
		return NULL;
	*used = at + len;
	memcpy(ti->sig, sig, 4);
	ti->sig[4] = '\0';
	ti->addr = ACPI_START + at;
	ti->len = len;
	memset(buf + at, 0, MIN(len, keep));
	return buf + at;
}

static uint32_t madt_len(int nr_cpus)
{
	return ACPI_HEADER_SIZE + 8 + (uint32_t)nr_cpus * sizeof(struct madt_lapic) +
	       sizeof(struct madt_ioapic) + 2 * sizeof(struct madt_iso) +
	       sizeof(struct madt_lapic_nmi);
}

static void madt_fill(uint8_t *t, int nr_cpus)
{
	uint32_t len = madt_len(nr_cpus), lapic = (uint32_t)LAPIC_ADDR, flags = 0;
	uint8_t *p = t + ACPI_HEADER_SIZE;
	header(t, "APIC", len, 5);
	memcpy(p, &lapic, 4);
	memcpy(p + 4, &flags, 4); /* no 8259 to disable: PCAT_COMPAT clear */
	p += 8;
	for (int i = 0; i < nr_cpus; i++, p += sizeof(struct madt_lapic)) {
		struct madt_lapic e = { 0, sizeof(e), (uint8_t)i, (uint8_t)i, 1 /* enabled */ };
		memcpy(p, &e, sizeof(e));
	}
	struct madt_ioapic io = { 1, sizeof(io), 0, 0, (uint32_t)IOAPIC_ADDR, 0 };
	memcpy(p, &io, sizeof(io));
	p += sizeof(io);
	/* The ISA lines mvm's legacy devices use, said outright: same pin, edge,
	 * active-high (flags: polarity 01, trigger 01). */
	static const uint8_t isa[2] = { I8042_KBD_IRQ, SERIAL_COM1_IRQ };
	for (int i = 0; i < 2; i++, p += sizeof(struct madt_iso)) {
		struct madt_iso o = { 2, sizeof(o), 0, isa[i], isa[i], 0x5 };
		memcpy(p, &o, sizeof(o));
	}
	struct madt_lapic_nmi nmi = { 4, sizeof(nmi), 0xff /* all */, 0, 1 /* LINT1 */ };
	memcpy(p, &nmi, sizeof(nmi));
	seal(t);
}

static void fadt_fill(uint8_t *t, uint64_t dsdt)
{
	struct fadt f;
	memset(&f, 0, sizeof(f));
	header(&f, "FACP", sizeof(f), 6);
	f.minor_version = 5;
	f.flags = ACPI_FADT_HW_REDUCED;
	f.iapc_boot_arch = ACPI_BOOT_8042 | ACPI_BOOT_NO_VGA | ACPI_BOOT_NO_CMOS;
	f.dsdt = (uint32_t)dsdt;
	f.x_dsdt = dsdt;
	memcpy(f.hypervisor_id, "MVMKVM  ", 8);
	memcpy(t, &f, sizeof(f));
	seal(t);
}

int acpi_build(const struct acpi_machine *am, uint8_t *buf, uint32_t cap, struct acpi_layout *out)
{
	struct acpi_layout l;
	uint32_t used = 0;
	if (am->nr_cpus < 1 || am->nr_cpus > MAX_VCPUS || am->nr_virtio < 0 ||
	    am->nr_virtio > VIRTIO_MMIO_MAX_DEVS || am->ged_irq > IRQ_MAX)
		return -EINVAL;
	memset(&l, 0, sizeof(l));
	uint8_t *rsdp = place(buf, cap, &used, ACPI_RSDP_SIZE, ~0u, &l.t[0], "RSDP");
	uint8_t *xsdt = place(buf, cap, &used, ACPI_HEADER_SIZE + 16, ~0u, &l.t[1], "XSDT");
	uint8_t *fadt = place(buf, cap, &used, ACPI_FADT_SIZE, ~0u, &l.t[2], "FACP");
	uint8_t *madt = place(buf, cap, &used, madt_len(am->nr_cpus), ~0u, &l.t[3], "APIC");
	uint32_t dsdt_at = (uint32_t)ALIGN_UP((uint64_t)used, 16);
	if (!rsdp || !xsdt || !fadt || !madt || dsdt_at + ACPI_HEADER_SIZE > cap)
		return -E2BIG;
	int n = dsdt_body(am, buf + dsdt_at + ACPI_HEADER_SIZE, cap - dsdt_at - ACPI_HEADER_SIZE);
	if (n < 0)
		return n;
	uint8_t *dsdt = place(buf, cap, &used, ACPI_HEADER_SIZE + (uint32_t)n, ACPI_HEADER_SIZE,
			      &l.t[4], "DSDT");
	header(dsdt, "DSDT", ACPI_HEADER_SIZE + (uint32_t)n, 2); /* 2: 64-bit integers */
	seal(dsdt);
	madt_fill(madt, am->nr_cpus);
	fadt_fill(fadt, l.t[4].addr);

	header(xsdt, "XSDT", l.t[1].len, 1);
	memcpy(xsdt + ACPI_HEADER_SIZE, &l.t[2].addr, 8);
	memcpy(xsdt + ACPI_HEADER_SIZE + 8, &l.t[3].addr, 8);
	seal(xsdt);

	struct rsdp r = { .revision = 2, .length = sizeof(r), .xsdt_addr = l.t[1].addr };
	memcpy(r.sig, "RSD PTR ", 8);
	memcpy(r.oem_id, ACPI_OEM_ID, 6);
	r.checksum = (uint8_t)(0 - acpi_sum(&r, 20));
	r.ext_checksum = (uint8_t)(0 - acpi_sum(&r, sizeof(r)));
	memcpy(rsdp, &r, sizeof(r));
	l.used = used;
	if (out)
		*out = l;
	return 0;
}

int acpi_write(struct guest_mem *m, const struct acpi_machine *am, struct acpi_layout *out)
{
	uint8_t *buf = gpa_to_hva(m, ACPI_START, ACPI_MAX_SIZE);
	if (!buf)
		return -EFAULT;
	return acpi_build(am, buf, (uint32_t)ACPI_MAX_SIZE, out);
}
