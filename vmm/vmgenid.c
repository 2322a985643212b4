#include "vmgenid.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "x86/layout.h"

int vmgenid_attach(struct vmgenid *g, struct kvm *k)
{
	memset(g, 0, sizeof(*g));
	g->addr = VMGENID_ADDR;
	g->gsi = GED_IRQ;
	g->irq.fd = -1;
	int r = irq_line_init(&g->irq, k, g->gsi);
	if (r == 0)
		g->on = true;
	return r;
}

void vmgenid_detach(struct vmgenid *g, struct kvm *k)
{
	if (g->on)
		irq_line_fini(&g->irq, k);
	g->on = false;
}

int vmgenid_generate(struct vmgenid *g, struct guest_mem *m)
{
	uint8_t id[VMGENID_SIZE];
	uint8_t *dst = gpa_to_hva(m, g->addr, sizeof(id));
	if (!dst)
		return -EFAULT;
	size_t got = 0;
	while (got < sizeof(id)) {
		ssize_t n = getrandom(id + got, sizeof(id) - got, 0);
		if (n < 0 && errno != EINTR)
			return -errno;
		got += n > 0 ? (size_t)n : 0;
	}
	memcpy(dst, id, sizeof(id));
	guest_mem_mark_dirty(m, dst, sizeof(id));
	memcpy(g->id, id, sizeof(id));
	return 0;
}

void vmgenid_notify(struct vmgenid *g)
{
	irq_line_raise(&g->irq);
}

void vmgenid_save(const struct vmgenid *g, struct vmgenid_state *s)
{
	memset(s, 0, sizeof(*s));
	s->addr = g->addr;
	s->gsi = g->gsi;
	memcpy(s->id, g->id, sizeof(s->id));
}

int vmgenid_check(const struct vmgenid_state *s, const char **why)
{
	if (s->addr != VMGENID_ADDR || s->gsi != GED_IRQ || s->reserved) {
		*why = "VMGenID at another address or interrupt line than this mvm builds";
		return -EINVAL;
	}
	return 0;
}
