/* A minimal IDT: every exception prints where it happened, FAILs, resets. */
#include "guest.h"

#define GDT_CODE64 0x08
#define IDT_INTERRUPT_GATE 0x8e	/* present, DPL 0, 64-bit interrupt gate */

struct idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t zero;
} __attribute__((packed));

struct trap_frame {
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

extern const uint64_t trap_stubs[32];
void trap_handler(const struct trap_frame *f) NORETURN;

static struct idt_gate idt[32] ALIGNED(16);

void traps_init(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) desc = { sizeof(idt) - 1, paddr(idt) };

	for (unsigned i = 0; i < ARRAY_SIZE(idt); i++) {
		uint64_t a = trap_stubs[i];
		idt[i] = (struct idt_gate){
			.offset_lo = (uint16_t)a,
			.selector = GDT_CODE64,
			.type_attr = IDT_INTERRUPT_GATE,
			.offset_mid = (uint16_t)(a >> 16),
			.offset_hi = (uint32_t)(a >> 32),
		};
	}
	__asm__ volatile("lidt %0" : : "m"(desc));
}

void trap_handler(const struct trap_frame *f)
{
	uint64_t cr2;

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	printf("EXCEPTION %lu rip=%lx err=%lx cr2=%lx rsp=%lx\n", f->vector, f->rip, f->error,
	       cr2, f->rsp);
	test_fail("exception %lu at rip=%lx", f->vector, f->rip);
}
