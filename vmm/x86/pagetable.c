#include "pagetable.h"

#include <errno.h>
#include <string.h>

#include "layout.h"

#define PTE_P  (1ULL << 0)
#define PTE_RW (1ULL << 1)
#define PTE_PS (1ULL << 7)

int pagetables_write(struct guest_mem *m)
{
	uint64_t *pml4 = gpa_to_hva(m, PML4_START, 4096);
	uint64_t *pdpt = gpa_to_hva(m, PDPTE_START, 4096);
	uint64_t *pd = gpa_to_hva(m, PDE_START, 4 * 4096);
	if (!pml4 || !pdpt || !pd)
		return -EFAULT;

	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = PDPTE_START | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (PDE_START + i * 4096) | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | PTE_P | PTE_RW | PTE_PS;
	return 0;
}

uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000u) << 32) | ((uint64_t)(flags & 0xf0ffu) << 40) |
	       ((uint64_t)(limit & 0x000f0000u) << 32) | ((uint64_t)(base & 0x00ffffffu) << 16) |
	       (uint64_t)(limit & 0x0000ffffu);
}

void gdt_to_segment(uint64_t e, unsigned index, struct kvm_segment *s)
{
	uint32_t limit = (uint32_t)((e & 0xffff) | ((e >> 32) & 0xf0000));

	memset(s, 0, sizeof(*s));
	s->base = ((e >> 16) & 0xffffff) | ((e >> 32) & 0xff000000);
	s->selector = (uint16_t)(index * 8);
	s->type = (e >> 40) & 0xf;
	s->s = (e >> 44) & 1;
	s->dpl = (e >> 45) & 3;
	s->present = (e >> 47) & 1;
	s->avl = (e >> 52) & 1;
	s->l = (e >> 53) & 1;
	s->db = (e >> 54) & 1;
	s->g = (e >> 55) & 1;
	s->limit = s->g ? (limit << 12) | 0xfff : limit;
	s->unusable = !s->present;
}

int gdt_write(struct guest_mem *m, bool long_mode, uint64_t gdt[4])
{
	uint64_t *dst = gpa_to_hva(m, BOOT_GDT_START, 4 * sizeof(uint64_t));
	if (!dst)
		return -EFAULT;
	gdt[0] = 0;
	/* 0xa09b: 64-bit code (L); 0xc09b: 32-bit code (D/B); both present, G=1. */
	gdt[GDT_CODE] = gdt_entry(long_mode ? 0xa09b : 0xc09b, 0, 0xfffff);
	gdt[GDT_DATA] = gdt_entry(0xc093, 0, 0xfffff);
	gdt[GDT_TSS] = gdt_entry(0x808b, 0, 0xfffff);
	memcpy(dst, gdt, 4 * sizeof(uint64_t));
	return 0;
}
