/* Guest RAM: up to two host mappings split around the 32-bit MMIO gap. */
#ifndef MVM_MEMORY_H
#define MVM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 2

struct guest_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
	uint64_t file_off; /* offset of this region in the backing file */
};

enum mem_backing {
	MEM_ANON,	  /* private anonymous memory */
	MEM_MEMFD,	  /* shared memfd: snapshot-able without copying */
	MEM_FILE_PRIVATE, /* a memory file mapped MAP_PRIVATE (snapshot restore) */
	MEM_HUGETLB,	  /* shared hugetlbfs memfd of 2 MiB pages, reserved at map time */
};

#define HUGE_PAGE_2M (2ULL << 20)

struct guest_mem {
	struct guest_region r[GUEST_MEM_MAX_REGIONS];
	int nr;
	uint64_t size; /* total bytes of RAM */
	int fd;	       /* backing fd, -1 for anonymous */
	bool owned;    /* mappings were made by guest_mem_init() */
	bool hugepages;
	enum mem_backing backing;
	/* Pages the monitor itself wrote (device DMA, used rings): KVM's dirty
	 * log only sees the guest's writes. One bit per 4 KiB page; NULL when
	 * dirty pages are not tracked. */
	uint64_t *dirty[GUEST_MEM_MAX_REGIONS];
};

/* Pure: where `size` bytes of RAM live in guest-physical space. Returns count. */
int guest_mem_layout(uint64_t size, struct guest_region r[GUEST_MEM_MAX_REGIONS]);

/* hugepages: advise transparent huge pages (MEM_ANON only). MEM_HUGETLB
 * needs a size in whole 2 MiB pages and fails with -ENOMEM, mapping nothing,
 * when the host's pool cannot hold it. */
int guest_mem_init(struct guest_mem *m, uint64_t size, enum mem_backing backing, int file_fd,
		   bool hugepages);
/* 2 MiB huge pages the host's pool can still hand out (free, not reserved),
 * from /sys/kernel/mm/hugepages; -errno when that cannot be read. */
int guest_mem_hugepages_available(uint64_t *pages);
void guest_mem_fini(struct guest_mem *m);

/*
 * The one checked translator: host pointer for [gpa, gpa+len) or NULL when
 * the range wraps or is not entirely inside one RAM region.
 */
static inline void *gpa_to_hva(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < m->nr; i++) {
		const struct guest_region *r = &m->r[i];
		if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa))
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

/* Start tracking pages the monitor writes (for diff snapshots). */
int guest_mem_track_dirty(struct guest_mem *m);
/* Mark [hva, hva+len) as written by the monitor; a no-op when not tracking. */
static inline void guest_mem_mark_dirty(struct guest_mem *m, const void *hva, uint64_t len)
{
	if (!m->dirty[0] || !len)
		return;
	for (int i = 0; i < m->nr; i++) {
		const struct guest_region *r = &m->r[i];
		const uint8_t *p = hva;
		if (p < r->hva || p >= r->hva + r->size)
			continue;
		uint64_t first = (uint64_t)(p - r->hva) >> 12;
		uint64_t last = ((uint64_t)(p - r->hva) + len - 1) >> 12;
		for (uint64_t pg = first; pg <= last && pg < (r->size >> 12); pg++)
			m->dirty[i][pg / 64] |= 1ULL << (pg % 64);
		return;
	}
}

/* Highest guest-physical address of RAM below the MMIO gap, exclusive. */
uint64_t guest_mem_low_end(const struct guest_mem *m);

#endif
