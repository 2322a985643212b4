#include "mptable.h"

#include <errno.h>
#include <string.h>

#include "../../lib/util.h"
#include "layout.h"

/* Layouts from the MultiProcessor Specification 1.4. */
struct mpf_intel {
	char signature[4]; /* "_MP_" */
	uint32_t physptr;
	uint8_t length; /* in 16-byte units */
	uint8_t specification;
	uint8_t checksum;
	uint8_t feature[5];
} __packed;

struct mpc_table {
	char signature[4]; /* "PCMP" */
	uint16_t length;
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char productid[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t oemcount;
	uint32_t lapic;
	uint16_t reserved;
	uint8_t ext_checksum;
	uint8_t reserved2;
} __packed;

struct mpc_cpu {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t cpuflag;
	uint32_t cpufeature;
	uint32_t featureflag;
	uint32_t reserved[2];
} __packed;

struct mpc_bus {
	uint8_t type;
	uint8_t busid;
	char bustype[6];
} __packed;

struct mpc_ioapic {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t flags;
	uint32_t apicaddr;
} __packed;

struct mpc_intsrc {
	uint8_t type;
	uint8_t irqtype;
	uint16_t irqflag;
	uint8_t srcbus;
	uint8_t srcbusirq;
	uint8_t dstapic;
	uint8_t dstirq;
} __packed;

enum { MP_PROCESSOR, MP_BUS, MP_IOAPIC, MP_INTSRC, MP_LINTSRC };
enum { MP_INT = 0, MP_NMI = 1, MP_EXTINT = 3 };
#define CPU_ENABLED	  1
#define CPU_BOOTPROCESSOR 2
#define APIC_VERSION	  0x14
#define IOAPIC_VERSION	  0x11

_Static_assert(sizeof(struct mpf_intel) == 16, "mpf");
_Static_assert(sizeof(struct mpc_table) == 44, "mpc");
_Static_assert(sizeof(struct mpc_cpu) == 20, "mpc_cpu");
_Static_assert(sizeof(struct mpc_intsrc) == 8, "mpc_intsrc");

uint8_t mptable_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;
	while (len--)
		sum = (uint8_t)(sum + *b++);
	return sum;
}

#define MPTABLE_SIZE(n)                                                                       \
	(sizeof(struct mpf_intel) + sizeof(struct mpc_table) + (n) * sizeof(struct mpc_cpu) + \
	 sizeof(struct mpc_bus) + sizeof(struct mpc_ioapic) +                                 \
	 (IRQ_MAX + 1 + 2) * sizeof(struct mpc_intsrc))

_Static_assert(MPTABLE_SIZE(MAX_VCPUS) <= LEGACY_HOLE_START - MPTABLE_START,
	       "MP table for MAX_VCPUS must fit below 640 KiB");

int mptable_write(struct guest_mem *m, int nr_cpus)
{
	if (nr_cpus < 1 || nr_cpus > MAX_VCPUS)
		return -EINVAL;
	size_t size = MPTABLE_SIZE((size_t)nr_cpus);
	uint8_t *base = gpa_to_hva(m, MPTABLE_START, size);
	if (!base)
		return -EFAULT;
	memset(base, 0, size);

	struct mpf_intel *mpf = (struct mpf_intel *)base;
	struct mpc_table *mpc = (struct mpc_table *)(mpf + 1);
	uint8_t *p = (uint8_t *)(mpc + 1);
	uint8_t ioapic_id = (uint8_t)(nr_cpus + 1);
	uint16_t count = 0;

	for (int i = 0; i < nr_cpus; i++, count++) {
		struct mpc_cpu *c = (struct mpc_cpu *)p;
		c->type = MP_PROCESSOR;
		c->apicid = (uint8_t)i;
		c->apicver = APIC_VERSION;
		c->cpuflag = CPU_ENABLED | (i == 0 ? CPU_BOOTPROCESSOR : 0);
		c->cpufeature = 0x600;			/* family 6: only printed by guests */
		c->featureflag = (1u << 0) | (1u << 9); /* FPU, APIC */
		p += sizeof(*c);
	}
	struct mpc_bus *bus = (struct mpc_bus *)p;
	bus->type = MP_BUS;
	bus->busid = 0;
	memcpy(bus->bustype, "ISA   ", 6);
	p += sizeof(*bus);
	count++;

	struct mpc_ioapic *io = (struct mpc_ioapic *)p;
	io->type = MP_IOAPIC;
	io->apicid = ioapic_id;
	io->apicver = IOAPIC_VERSION;
	io->flags = 1;
	io->apicaddr = (uint32_t)IOAPIC_ADDR;
	p += sizeof(*io);
	count++;

	/* Every ISA IRQ straight to the same IOAPIC pin, default polarity/trigger. */
	for (int irq = 0; irq <= IRQ_MAX; irq++, count++) {
		struct mpc_intsrc *s = (struct mpc_intsrc *)p;
		*s = (struct mpc_intsrc){ MP_INTSRC,	MP_INT,	   0,		0,
					  (uint8_t)irq, ioapic_id, (uint8_t)irq };
		p += sizeof(*s);
	}
	struct mpc_intsrc *lint0 = (struct mpc_intsrc *)p;
	*lint0 = (struct mpc_intsrc){ MP_LINTSRC, MP_EXTINT, 0, 0, 0, 0, 0 };
	p += sizeof(*lint0);
	struct mpc_intsrc *lint1 = (struct mpc_intsrc *)p;
	*lint1 = (struct mpc_intsrc){ MP_LINTSRC, MP_NMI, 0, 0, 0, 0xff, 1 };
	p += sizeof(*lint1);
	count += 2;

	memcpy(mpc->signature, "PCMP", 4);
	mpc->length = (uint16_t)(p - (uint8_t *)mpc);
	mpc->spec = 4;
	memcpy(mpc->oem, "MVM     ", 8);
	memcpy(mpc->productid, "MICROVM     ", 12);
	mpc->oemcount = count;
	mpc->lapic = (uint32_t)LAPIC_ADDR;
	mpc->checksum = (uint8_t)(-mptable_checksum(mpc, mpc->length));

	memcpy(mpf->signature, "_MP_", 4);
	mpf->physptr = (uint32_t)(MPTABLE_START + sizeof(*mpf));
	mpf->length = 1;
	mpf->specification = 4;
	mpf->checksum = (uint8_t)(-mptable_checksum(mpf, sizeof(*mpf)));
	return 0;
}
