#include "virtq.h"

#include <errno.h>
#include <string.h>

#include "../lib/util.h"

#define AVAIL_FLAGS(q)	 ((q)->avail[0])
#define AVAIL_IDX(q)	 ((q)->avail[1])
#define AVAIL_RING(q, i) ((q)->avail[2 + (i)])
#define USED_EVENT(q)	 ((q)->avail[2 + (q)->size])
#define USED_FLAGS(q)	 ((q)->used[0])
#define USED_IDX(q)	 ((q)->used[1])
#define USED_ELEM(q, i)	 ((struct virtq_used_elem *)((q)->used + 2) + (i))
#define AVAIL_EVENT(q)	 (*(uint16_t *)(USED_ELEM(q, (q)->size)))

static inline uint16_t load_acquire16(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void store_release16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

void virtq_init(struct virtq *q)
{
	memset(q, 0, sizeof(*q));
}

const char *virtq_err_str(enum virtq_chain_err e)
{
	static const char *const s[] = {
		[VIRTQ_OK] = "ok",
		[VIRTQ_ERR_ADDR] = "buffer outside guest memory",
		[VIRTQ_ERR_LOOP] = "descriptor chain loops or is too long",
		[VIRTQ_ERR_INDEX] = "descriptor index out of range",
		[VIRTQ_ERR_INDIRECT] = "malformed indirect descriptor table",
		[VIRTQ_ERR_ORDER] = "device-readable buffer after a writable one",
		[VIRTQ_ERR_TOOLONG] = "too many buffers in one chain",
	};
	return e < ARRAY_SIZE(s) ? s[e] : "?";
}

int virtq_activate(struct virtq *q, struct guest_mem *m, uint16_t max_size, bool event_idx)
{
	uint16_t n = q->size;
	if (n == 0 || n > max_size || (n & (n - 1)))
		return -EINVAL;
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return -EINVAL;
	q->desc = gpa_to_hva(m, q->desc_gpa, 16ULL * n);
	q->avail = gpa_to_hva(m, q->avail_gpa, 6ULL + 2ULL * n);
	q->used = gpa_to_hva(m, q->used_gpa, 6ULL + 8ULL * n);
	if (!q->desc || !q->avail || !q->used) {
		q->desc = NULL;
		q->avail = q->used = NULL;
		return -EINVAL;
	}
	q->mem = m;
	q->event_idx = event_idx;
	q->last_avail = 0;
	q->used_idx = 0;
	q->signalled_valid = false;
	q->broken = false;
	q->ready = true;
	return 0;
}

bool virtq_has_avail(const struct virtq *q)
{
	return q->ready && !q->broken && load_acquire16(&AVAIL_IDX(q)) != q->last_avail;
}

uint16_t virtq_avail_idx(const struct virtq *q)
{
	return q->ready ? load_acquire16(&AVAIL_IDX(q)) : 0;
}

/* Append one descriptor's buffer to the chain; false ends the walk. */
static bool add_buf(struct virtq *q, struct virtq_chain *c, const struct virtq_desc *d)
{
	bool write = d->flags & VIRTQ_DESC_F_WRITE;
	uint8_t *hva = gpa_to_hva(q->mem, d->addr, d->len);

	/* Remember where the chain ends, in case a device wants to report status. */
	c->status = (write && d->len && hva) ? hva + d->len - 1 : NULL;
	if (c->err)
		return true; /* keep following the structure, collect nothing */
	if (!hva) {
		c->err = VIRTQ_ERR_ADDR;
		return true;
	}
	if (!write && c->in_len) {
		c->err = VIRTQ_ERR_ORDER;
		return true;
	}
	if (c->nr == VIRTQ_MAX_CHAIN) {
		c->err = VIRTQ_ERR_TOOLONG;
		return true;
	}
	c->buf[c->nr++] = (struct virtq_buf){ hva, d->len, write };
	if (write)
		c->in_len += d->len;
	else
		c->out_len += d->len;
	return true;
}

static void walk_indirect(struct virtq *q, struct virtq_chain *c, const struct virtq_desc *d)
{
	if (d->len == 0 || d->len % sizeof(struct virtq_desc) || (d->flags & VIRTQ_DESC_F_NEXT)) {
		c->err = VIRTQ_ERR_INDIRECT;
		return;
	}
	uint32_t n = d->len / (uint32_t)sizeof(struct virtq_desc);
	const struct virtq_desc *table = gpa_to_hva(q->mem, d->addr, d->len);
	if (!table || n > VIRTQ_MAX_CHAIN) {
		c->err = table ? VIRTQ_ERR_TOOLONG : VIRTQ_ERR_INDIRECT;
		return;
	}
	uint32_t i = 0;
	for (uint32_t steps = 0;; steps++) {
		struct virtq_desc e;
		if (steps >= n) {
			c->err = VIRTQ_ERR_LOOP;
			c->status = NULL;
			return;
		}
		memcpy(&e, &table[i], sizeof(e));
		if (e.flags & VIRTQ_DESC_F_INDIRECT) {
			c->err = VIRTQ_ERR_INDIRECT;
			c->status = NULL;
			return;
		}
		add_buf(q, c, &e);
		if (!(e.flags & VIRTQ_DESC_F_NEXT))
			return;
		if (e.next >= n) {
			c->err = VIRTQ_ERR_INDEX;
			c->status = NULL;
			return;
		}
		i = e.next;
	}
}

int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	if (!q->ready)
		return 0;
	if (q->broken)
		return -EIO;
	uint16_t avail_idx = load_acquire16(&AVAIL_IDX(q));
	if (avail_idx == q->last_avail)
		return 0;
	/* A driver cannot have more buffers outstanding than the queue holds. */
	if ((uint16_t)(avail_idx - q->last_avail) > q->size) {
		q->broken = true;
		return -EIO;
	}
	uint16_t head = AVAIL_RING(q, q->last_avail % q->size);
	if (head >= q->size) {
		q->broken = true;
		return -EIO;
	}
	q->last_avail++;

	c->head = head;
	c->nr = 0;
	c->err = VIRTQ_OK;
	c->in_len = c->out_len = 0;
	c->status = NULL;

	uint16_t i = head;
	for (uint32_t steps = 0;; steps++) {
		struct virtq_desc d;
		if (steps >= q->size) {
			c->err = VIRTQ_ERR_LOOP;
			c->status = NULL;
			break;
		}
		memcpy(&d, &q->desc[i], sizeof(d));
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			walk_indirect(q, c, &d);
			break;
		}
		add_buf(q, c, &d);
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= q->size) {
			c->err = VIRTQ_ERR_INDEX;
			c->status = NULL;
			break;
		}
		i = d.next;
	}
	return 1;
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	struct virtq_used_elem *e = USED_ELEM(q, q->used_idx % q->size);
	e->id = head;
	e->len = len;
	q->used_idx++;
	/* The element must be visible before the index that publishes it. */
	store_release16(&USED_IDX(q), q->used_idx);
	guest_mem_mark_dirty(q->mem, e, sizeof(*e));
	guest_mem_mark_dirty(q->mem, &USED_IDX(q), sizeof(uint16_t));
}

bool virtq_should_notify(struct virtq *q)
{
	/* Our used index store must be ordered before reading the driver's wishes. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(load_acquire16(&AVAIL_FLAGS(q)) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	uint16_t old = q->signalled_used, new = q->used_idx;
	bool valid = q->signalled_valid;
	q->signalled_used = new;
	q->signalled_valid = true;
	if (!valid)
		return true;
	uint16_t event = load_acquire16(&USED_EVENT(q));
	return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

bool virtq_enable_notify(struct virtq *q)
{
	if (!q->ready || q->broken)
		return false;
	/* Kick at the next buffer the driver adds. Not at last_avail: after an
	 * unpop (an rx frame larger than the buffers there) that index is one the
	 * driver has already published, so it would never kick again. */
	if (q->event_idx)
		store_release16(&AVAIL_EVENT(q), load_acquire16(&AVAIL_IDX(q)));
	else
		store_release16(&USED_FLAGS(q), 0);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load_acquire16(&AVAIL_IDX(q)) != q->last_avail;
}
