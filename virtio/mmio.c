#include "mmio.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../vmm/eventloop.h"
#include "../vmm/kvm.h"
#include "../lib/log.h"
#include "../lib/util.h"

/* Register offsets, virtio 1.2 section 4.2.2. */
enum {
	REG_MAGIC = 0x000,
	REG_VERSION = 0x004,
	REG_DEVICE_ID = 0x008,
	REG_VENDOR_ID = 0x00c,
	REG_DEVICE_FEATURES = 0x010,
	REG_DEVICE_FEATURES_SEL = 0x014,
	REG_DRIVER_FEATURES = 0x020,
	REG_DRIVER_FEATURES_SEL = 0x024,
	REG_QUEUE_SEL = 0x030,
	REG_QUEUE_NUM_MAX = 0x034,
	REG_QUEUE_NUM = 0x038,
	REG_QUEUE_READY = 0x044,
	REG_QUEUE_NOTIFY = 0x050,
	REG_INTERRUPT_STATUS = 0x060,
	REG_INTERRUPT_ACK = 0x064,
	REG_STATUS = 0x070,
	REG_QUEUE_DESC_LOW = 0x080,
	REG_QUEUE_DESC_HIGH = 0x084,
	REG_QUEUE_DRIVER_LOW = 0x090,
	REG_QUEUE_DRIVER_HIGH = 0x094,
	REG_QUEUE_DEVICE_LOW = 0x0a0,
	REG_QUEUE_DEVICE_HIGH = 0x0a4,
	REG_CONFIG_GENERATION = 0x0fc,
	REG_CONFIG = 0x100,
};

#define MMIO_MAGIC   0x74726976 /* "virt" */
#define MMIO_VERSION 2
#define MMIO_VENDOR  0x004d564d /* "MVM" */

static void on_notify(void *opaque, uint32_t events);

static void signal_irq(struct virtio_mmio *t, unsigned bits)
{
	atomic_fetch_or(&t->interrupt_status, bits);
	irq_line_raise(&t->irq);
}

static void set_needs_reset(struct virtio_mmio *t, const char *why)
{
	log_once(t->logged_bad, LOG_WARN, "%s: device needs reset: %s", t->name, why);
	if (t->status & VIRTIO_STATUS_DRIVER_OK) {
		t->status |= VIRTIO_STATUS_NEEDS_RESET;
		signal_irq(t, VIRTIO_MMIO_INT_CONFIG);
	}
}

static void reset(struct virtio_mmio *t)
{
	if (t->ops->reset)
		t->ops->reset(t->dev);
	t->status = 0;
	t->dev_features_sel = t->drv_features_sel = 0;
	t->drv_features = 0;
	t->queue_sel = 0;
	t->activated = false;
	atomic_store(&t->interrupt_status, 0);
	for (int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		virtq_init(&t->q[i]);
}

/* Process one queue with the lock held. */
static void process_locked(struct virtio_mmio *t, int qidx)
{
	struct virtq *q = &t->q[qidx];
	if (!t->activated || !q->ready || (t->status & VIRTIO_STATUS_NEEDS_RESET))
		return;
	bool fatal = false;
	bool used = t->ops->process(t->dev, qidx, q, &fatal);
	if (fatal || q->broken) {
		set_needs_reset(t, q->broken ? "malformed available ring" : "device error");
		return;
	}
	if (used && virtq_should_notify(q))
		signal_irq(t, VIRTIO_MMIO_INT_VRING);
}

/*
 * Called with the lock held, maybe on a vCPU thread: hand the queue to the vmm
 * thread through its ioeventfd, so device emulation never runs on a vCPU.
 * (Without KVM, in unit tests, there is no eventfd: process right here.)
 */
static void defer_process(struct virtio_mmio *t, int qidx)
{
	uint64_t one = 1;
	if (t->ioeventfd[qidx] >= 0 && write(t->ioeventfd[qidx], &one, sizeof(one)) == sizeof(one))
		return;
	process_locked(t, qidx);
}

static void on_notify(void *opaque, uint32_t events)
{
	struct virtio_mmio_notify *c = opaque;
	uint64_t v;
	(void)events;
	ssize_t r = read(c->t->ioeventfd[c->qidx], &v, sizeof(v));
	(void)r;
	pthread_mutex_lock(&c->t->lock);
	process_locked(c->t, c->qidx);
	pthread_mutex_unlock(&c->t->lock);
}

void virtio_mmio_kick(struct virtio_mmio *t, int qidx)
{
	pthread_mutex_lock(&t->lock);
	process_locked(t, qidx);
	pthread_mutex_unlock(&t->lock);
}

void virtio_mmio_config_changed(struct virtio_mmio *t)
{
	pthread_mutex_lock(&t->lock);
	t->config_generation++;
	bool live = t->status & VIRTIO_STATUS_DRIVER_OK;
	pthread_mutex_unlock(&t->lock);
	if (live)
		signal_irq(t, VIRTIO_MMIO_INT_CONFIG);
}

static void host_kick(void *t, int qidx)
{
	virtio_mmio_kick(t, qidx);
}

static void host_lock(void *opaque)
{
	struct virtio_mmio *t = opaque;
	pthread_mutex_lock(&t->lock);
}

static void host_unlock(void *opaque)
{
	struct virtio_mmio *t = opaque;
	pthread_mutex_unlock(&t->lock);
}

static void host_config_changed(void *t)
{
	virtio_mmio_config_changed(t);
}

static int register_ioeventfd(struct virtio_mmio *t, int qidx)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct kvm_ioeventfd io = {
		.datamatch = (uint64_t)qidx,
		.addr = t->base + REG_QUEUE_NOTIFY,
		.len = 4,
		.fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};
	if (__kvm_ioctl(t->kvm->vm_fd, KVM_IOEVENTFD, &io) < 0) {
		int err = errno;
		log_err("KVM_IOEVENTFD %s queue %d: %s", t->name, qidx, strerror(err));
		close(fd);
		return -err;
	}
	t->ioeventfd[qidx] = fd;
	return 0;
}

static void unregister_ioeventfd(struct virtio_mmio *t, int qidx)
{
	int fd = t->ioeventfd[qidx];
	if (fd < 0)
		return;
	struct kvm_ioeventfd io = {
		.datamatch = (uint64_t)qidx,
		.addr = t->base + REG_QUEUE_NOTIFY,
		.len = 4,
		.fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH | KVM_IOEVENTFD_FLAG_DEASSIGN,
	};
	if (t->kvm && t->kvm->vm_fd >= 0)
		__kvm_ioctl(t->kvm->vm_fd, KVM_IOEVENTFD, &io);
	if (t->loop)
		evloop_del(t->loop, fd);
	close(fd);
	t->ioeventfd[qidx] = -1;
}

struct virtio_mmio *virtio_mmio_create(const struct virtio_dev_ops *ops, void *dev,
				       struct guest_mem *mem, struct kvm *kvm, struct evloop *loop,
				       uint64_t base, uint32_t gsi)
{
	struct virtio_mmio *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	t->ops = ops;
	t->dev = dev;
	t->mem = mem;
	t->kvm = kvm;
	t->base = base;
	t->irq.fd = -1;
	snprintf(t->name, sizeof(t->name), "virtio-%s@%#llx", ops->name, (unsigned long long)base);
	for (int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		t->ioeventfd[i] = -1;
	reset(t);

	if (kvm && irq_line_init(&t->irq, kvm, gsi))
		goto fail;
	for (int i = 0; kvm && i < ops->num_queues; i++) {
		if (register_ioeventfd(t, i))
			goto fail;
		t->notify[i] = (struct virtio_mmio_notify){ t, i };
		if (evloop_add(loop, t->ioeventfd[i], EPOLLIN, on_notify, &t->notify[i]))
			goto fail;
	}
	t->loop = loop;
	t->host = (struct virtio_host){ .loop = loop,
					.t = t,
					.kick = host_kick,
					.lock = host_lock,
					.unlock = host_unlock,
					.config_changed = host_config_changed };
	if (ops->attach && ops->attach(dev, &t->host))
		goto fail;
	return t;
fail:
	t->loop = loop;
	virtio_mmio_destroy(t);
	return NULL;
}

void virtio_mmio_destroy(struct virtio_mmio *t)
{
	if (!t)
		return;
	for (int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		unregister_ioeventfd(t, i);
	irq_line_fini(&t->irq, t->kvm);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static uint32_t read_reg(struct virtio_mmio *t, uint64_t off)
{
	struct virtq *q = t->queue_sel < t->ops->num_queues ? &t->q[t->queue_sel] : NULL;
	switch (off) {
	case REG_MAGIC: return MMIO_MAGIC;
	case REG_VERSION: return MMIO_VERSION;
	case REG_DEVICE_ID: return t->ops->device_id;
	case REG_VENDOR_ID: return MMIO_VENDOR;
	case REG_DEVICE_FEATURES: {
		uint64_t f = t->ops->features(t->dev) | (1ULL << VIRTIO_F_VERSION_1);
		return t->dev_features_sel == 0	  ? (uint32_t)f
		       : t->dev_features_sel == 1 ? (uint32_t)(f >> 32)
						  : 0;
	}
	case REG_QUEUE_NUM_MAX: return q ? t->ops->queue_max : 0;
	case REG_QUEUE_READY: return q ? q->ready : 0;
	case REG_INTERRUPT_STATUS: return atomic_load(&t->interrupt_status);
	case REG_STATUS: return t->status;
	case REG_CONFIG_GENERATION: return t->config_generation;
	default: return 0; /* write-only or reserved */
	}
}

static void set_status(struct virtio_mmio *t, uint32_t v)
{
	if (v == 0) {
		reset(t);
		return;
	}
	/* FEATURES_OK only for a subset of what we offered, VERSION_1 included. */
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(t->status & VIRTIO_STATUS_FEATURES_OK)) {
		uint64_t offered = t->ops->features(t->dev) | (1ULL << VIRTIO_F_VERSION_1);
		if ((t->drv_features & ~offered) ||
		    !(t->drv_features & (1ULL << VIRTIO_F_VERSION_1))) {
			log_once(t->logged_bad, LOG_WARN,
				 "%s: driver accepted features %#llx outside the offered %#llx "
				 "(or without VERSION_1)",
				 t->name, (unsigned long long)t->drv_features,
				 (unsigned long long)offered);
			v &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
		}
	}
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !t->activated) {
		bool ok = t->status & VIRTIO_STATUS_FEATURES_OK;
		if (ok && t->ops->activate)
			ok = t->ops->activate(t->dev, t->drv_features, t->q) == 0;
		if (!ok) {
			t->status = v | VIRTIO_STATUS_NEEDS_RESET;
			signal_irq(t, VIRTIO_MMIO_INT_CONFIG);
			log_once(t->logged_bad, LOG_WARN, "%s: cannot activate: %s", t->name,
				 (t->status & VIRTIO_STATUS_FEATURES_OK) ? "device refused"
									 : "FEATURES_OK not set");
			return;
		}
		t->activated = true;
	}
	t->status = v;
	if (t->activated) {
		/* Buffers queued before DRIVER_OK are processed now. */
		for (int i = 0; i < t->ops->num_queues; i++)
			defer_process(t, i);
	}
}

static void queue_ready(struct virtio_mmio *t, struct virtq *q, uint32_t v)
{
	if (!v) {
		q->ready = false;
		return;
	}
	bool event_idx = t->drv_features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	if (virtq_activate(q, t->mem, t->ops->queue_max, event_idx))
		log_once(t->logged_bad, LOG_WARN,
			 "%s: queue %u rejected: size %u (max %u, power of 2) or rings outside "
			 "guest memory / misaligned",
			 t->name, t->queue_sel, q->size, t->ops->queue_max);
}

static void write_reg(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	struct virtq *q = t->queue_sel < t->ops->num_queues ? &t->q[t->queue_sel] : NULL;
	/* Queue layout may change only while the queue is not live. */
	bool q_writable = q && !q->ready;

	switch (off) {
	case REG_DEVICE_FEATURES_SEL: t->dev_features_sel = v; break;
	case REG_DRIVER_FEATURES:
		if (t->status & VIRTIO_STATUS_FEATURES_OK)
			break;
		if (t->drv_features_sel == 0)
			t->drv_features = (t->drv_features & ~0xffffffffULL) | v;
		else if (t->drv_features_sel == 1)
			t->drv_features = (t->drv_features & 0xffffffffULL) | ((uint64_t)v << 32);
		break;
	case REG_DRIVER_FEATURES_SEL: t->drv_features_sel = v; break;
	case REG_QUEUE_SEL: t->queue_sel = v; break;
	case REG_QUEUE_NUM:
		if (q_writable)
			q->size = (uint16_t)MIN(v, 0xffffu);
		break;
	case REG_QUEUE_READY:
		if (q)
			queue_ready(t, q, v);
		break;
	case REG_QUEUE_NOTIFY:
		/* Normally caught by the ioeventfd; reaching here is a slow path. */
		if (v < t->ops->num_queues)
			defer_process(t, (int)v);
		break;
	case REG_INTERRUPT_ACK: atomic_fetch_and(&t->interrupt_status, ~v); break;
	case REG_STATUS: set_status(t, v); break;
	case REG_QUEUE_DESC_LOW:
		if (q_writable)
			q->desc_gpa = (q->desc_gpa & ~0xffffffffULL) | v;
		break;
	case REG_QUEUE_DESC_HIGH:
		if (q_writable)
			q->desc_gpa = (q->desc_gpa & 0xffffffffULL) | ((uint64_t)v << 32);
		break;
	case REG_QUEUE_DRIVER_LOW:
		if (q_writable)
			q->avail_gpa = (q->avail_gpa & ~0xffffffffULL) | v;
		break;
	case REG_QUEUE_DRIVER_HIGH:
		if (q_writable)
			q->avail_gpa = (q->avail_gpa & 0xffffffffULL) | ((uint64_t)v << 32);
		break;
	case REG_QUEUE_DEVICE_LOW:
		if (q_writable)
			q->used_gpa = (q->used_gpa & ~0xffffffffULL) | v;
		break;
	case REG_QUEUE_DEVICE_HIGH:
		if (q_writable)
			q->used_gpa = (q->used_gpa & 0xffffffffULL) | ((uint64_t)v << 32);
		break;
	default: break; /* read-only or reserved: ignored */
	}
}

void virtio_mmio_rw(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool write)
{
	struct virtio_mmio *t = opaque;

	if (off >= REG_CONFIG) {
		pthread_mutex_lock(&t->lock);
		if (write && t->ops->write_config)
			t->ops->write_config(t->dev, off - REG_CONFIG, data, len);
		else if (!write && t->ops->read_config)
			t->ops->read_config(t->dev, off - REG_CONFIG, data, len);
		else if (!write)
			memset(data, 0, len);
		pthread_mutex_unlock(&t->lock);
		return;
	}
	/* Registers are 32 bits wide and aligned; anything else is ignored. */
	if (len != 4 || (off & 3)) {
		if (!write)
			memset(data, 0, len);
		return;
	}
	if (!write && off == REG_INTERRUPT_STATUS) {
		uint32_t v = atomic_load(&t->interrupt_status);
		memcpy(data, &v, 4);
		return;
	}
	pthread_mutex_lock(&t->lock);
	if (write) {
		uint32_t v;
		memcpy(&v, data, 4);
		write_reg(t, off, v);
	} else {
		uint32_t v = read_reg(t, off);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&t->lock);
}

void virtio_mmio_save(struct virtio_mmio *t, struct virtio_mmio_state *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&t->lock);
	s->device_id = t->ops->device_id;
	s->status = t->status;
	s->dev_features_sel = t->dev_features_sel;
	s->drv_features_sel = t->drv_features_sel;
	s->drv_features = t->drv_features;
	s->queue_sel = t->queue_sel;
	s->config_generation = t->config_generation;
	s->interrupt_status = atomic_load(&t->interrupt_status);
	s->activated = t->activated;
	s->nr_queues = t->ops->num_queues;
	for (int i = 0; i < t->ops->num_queues; i++) {
		const struct virtq *q = &t->q[i];
		s->q[i] = (struct virtio_mmio_queue_state){
			.desc_gpa = q->desc_gpa,
			.avail_gpa = q->avail_gpa,
			.used_gpa = q->used_gpa,
			.size = q->size,
			.last_avail = q->last_avail,
			.used_idx = q->used_idx,
			.signalled_used = q->signalled_used,
			.ready = q->ready,
			.signalled_valid = q->signalled_valid,
			.event_idx = q->event_idx,
		};
	}
	pthread_mutex_unlock(&t->lock);
}

int virtio_mmio_restore(struct virtio_mmio *t, const struct virtio_mmio_state *s, const char **why)
{
	uint64_t offered = t->ops->features(t->dev) | (1ULL << VIRTIO_F_VERSION_1);

	*why = NULL;
	if (s->device_id != t->ops->device_id)
		*why = "device type differs from the VM's device in this slot";
	else if (s->nr_queues != t->ops->num_queues)
		*why = "queue count differs";
	else if (s->drv_features & ~offered)
		*why = "acked features are not a subset of the offered ones";
	else if (s->status & ~0xffu)
		*why = "status register out of range";
	else if (s->activated && !(s->status & VIRTIO_STATUS_DRIVER_OK))
		*why = "activated without DRIVER_OK";
	if (*why)
		return -EINVAL;

	pthread_mutex_lock(&t->lock);
	reset(t);
	bool event_idx = s->drv_features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	for (int i = 0; i < t->ops->num_queues; i++) {
		const struct virtio_mmio_queue_state *qs = &s->q[i];
		struct virtq *q = &t->q[i];
		q->size = qs->size;
		q->desc_gpa = qs->desc_gpa;
		q->avail_gpa = qs->avail_gpa;
		q->used_gpa = qs->used_gpa;
		if (!qs->ready)
			continue;
		if (virtq_activate(q, t->mem, t->ops->queue_max, event_idx)) {
			*why = "a queue's size or ring addresses are invalid for this VM";
			break;
		}
		q->last_avail = qs->last_avail;
		q->used_idx = qs->used_idx;
		q->signalled_used = qs->signalled_used;
		q->signalled_valid = qs->signalled_valid;
	}
	if (!*why) {
		t->status = s->status;
		t->dev_features_sel = s->dev_features_sel;
		t->drv_features_sel = s->drv_features_sel;
		t->drv_features = s->drv_features;
		t->queue_sel = s->queue_sel;
		t->config_generation = s->config_generation;
		atomic_store(&t->interrupt_status, s->interrupt_status & 3);
		if (s->activated && t->ops->activate &&
		    t->ops->activate(t->dev, t->drv_features, t->q))
			*why = "the device refused its restored queues";
		else
			t->activated = s->activated;
	}
	if (*why)
		reset(t);
	pthread_mutex_unlock(&t->lock);
	return *why ? -EINVAL : 0;
}
