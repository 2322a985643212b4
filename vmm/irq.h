/* An interrupt line into the in-kernel IOAPIC, raised through an irqfd. */
#ifndef MVM_IRQ_H
#define MVM_IRQ_H

#include <stdint.h>

struct kvm;

struct irq_line {
	int fd; /* eventfd registered with KVM_IRQFD, -1 when unused */
	uint32_t gsi;
};

int irq_line_init(struct irq_line *l, struct kvm *k, uint32_t gsi);
void irq_line_fini(struct irq_line *l, struct kvm *k);
/* An edge on the line; safe from any thread. */
void irq_line_raise(struct irq_line *l);

#endif
