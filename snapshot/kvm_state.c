#include "kvm_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "../vmm/kvm.h"
#include "../lib/log.h"
#include "../lib/err.h"
#include "../lib/util.h"

#define MSR_IA32_TSC	      0x10
#define MSR_IA32_TSC_DEADLINE 0x6e0

size_t kvm_xsave_size(const struct kvm *k)
{
	int n = __kvm_ioctl(k->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	return n > (int)sizeof(struct kvm_xsave) ? (size_t)n : sizeof(struct kvm_xsave);
}

void vcpu_snapshot_fini(struct vcpu_snapshot *s)
{
	free(s->msrs);
	free(s->cpuid);
	free(s->xsave);
	memset(s, 0, sizeof(*s));
}

/* KVM_GET_MSRS stops at the first MSR it refuses: drop that one and retry. */
static int save_msrs(const struct kvm *k, int fd, struct vcpu_snapshot *s)
{
	uint32_t n = k->msr_list->nmsrs;
	struct kvm_msrs *m = calloc(1, sizeof(*m) + n * sizeof(struct kvm_msr_entry));
	if (!m)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		m->entries[i].index = k->msr_list->indices[i];
	m->nmsrs = n;
	for (;;) {
		int r = __kvm_ioctl(fd, KVM_GET_MSRS, m);
		if (r < 0) {
			r = -errno;
			free(m);
			return r;
		}
		if ((uint32_t)r == m->nmsrs)
			break;
		log_debug("MSR %#x cannot be read, not saved", m->entries[r].index);
		memmove(&m->entries[r], &m->entries[r + 1],
			(m->nmsrs - (uint32_t)r - 1) * sizeof(m->entries[0]));
		m->nmsrs--;
	}
	/* TSC first, TSC_DEADLINE last: the deadline is relative to the TSC. */
	for (uint32_t i = 0; i < m->nmsrs; i++) {
		if (m->entries[i].index == MSR_IA32_TSC && i) {
			struct kvm_msr_entry t = m->entries[i];
			memmove(&m->entries[1], &m->entries[0], i * sizeof(t));
			m->entries[0] = t;
		}
	}
	for (uint32_t i = 0; i + 1 < m->nmsrs; i++) {
		if (m->entries[i].index == MSR_IA32_TSC_DEADLINE) {
			struct kvm_msr_entry t = m->entries[i];
			memmove(&m->entries[i], &m->entries[i + 1], (m->nmsrs - i - 1) * sizeof(t));
			m->entries[m->nmsrs - 1] = t;
			break;
		}
	}
	s->nmsrs = m->nmsrs;
	s->msrs = malloc(m->nmsrs * sizeof(struct kvm_msr_entry) + 1);
	if (!s->msrs) {
		free(m);
		return -ENOMEM;
	}
	memcpy(s->msrs, m->entries, m->nmsrs * sizeof(struct kvm_msr_entry));
	free(m);
	return 0;
}

static int save_cpuid(int fd, struct vcpu_snapshot *s)
{
	for (uint32_t n = 128; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(struct kvm_cpuid_entry2));
		if (!c)
			return -ENOMEM;
		c->nent = n;
		if (__kvm_ioctl(fd, KVM_GET_CPUID2, c) == 0) {
			s->ncpuid = c->nent;
			s->cpuid = malloc(c->nent * sizeof(struct kvm_cpuid_entry2) + 1);
			if (s->cpuid)
				memcpy(s->cpuid, c->entries,
				       c->nent * sizeof(struct kvm_cpuid_entry2));
			free(c);
			return s->cpuid ? 0 : -ENOMEM;
		}
		int err = errno;
		free(c);
		if (err != E2BIG)
			return -err;
	}
	return -E2BIG;
}

int vcpu_state_save(const struct kvm *k, int fd, struct vcpu_snapshot *s)
{
	int r;
	memset(s, 0, sizeof(*s));
	if ((r = kvm_ioctl(fd, KVM_GET_MP_STATE, &s->fixed.mp_state)) < 0 ||
	    (r = kvm_ioctl(fd, KVM_GET_REGS, &s->fixed.regs)) < 0 ||
	    (r = kvm_ioctl(fd, KVM_GET_SREGS, &s->fixed.sregs)) < 0 ||
	    (r = kvm_ioctl(fd, KVM_GET_DEBUGREGS, &s->fixed.debugregs)) < 0 ||
	    (r = kvm_ioctl(fd, KVM_GET_LAPIC, &s->fixed.lapic)) < 0 ||
	    (r = kvm_ioctl(fd, KVM_GET_VCPU_EVENTS, &s->fixed.events)) < 0)
		goto fail;
	/* XCRs exist only with XSAVE; a CPU without it simply has none. */
	s->fixed.has_xcrs = __kvm_ioctl(fd, KVM_GET_XCRS, &s->fixed.xcrs) == 0;
	s->xsave_len = kvm_xsave_size(k);
	s->xsave = calloc(1, s->xsave_len);
	if (!s->xsave) {
		r = -ENOMEM;
		goto fail;
	}
	unsigned long get =
	    s->xsave_len > sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE;
	if ((r = kvm_ioctl(fd, get, s->xsave)) < 0)
		goto fail;
	if ((r = save_msrs(k, fd, s)) || (r = save_cpuid(fd, s)))
		goto fail;
	return 0;
fail:
	vcpu_snapshot_fini(s);
	return r < 0 ? r : -EIO;
}

#define STEP(call, name)                                                       \
	do {                                                                   \
		if ((call) < 0) {                                              \
			int err__ = errno;                                     \
			err_msg(e, "restoring %s: %s", name, strerror(err__)); \
			return -err__;                                         \
		}                                                              \
	} while (0)

int vcpu_state_restore(const struct kvm *k, int fd, const struct vcpu_snapshot *s, struct err *e)
{
	(void)k;
	struct kvm_cpuid2 *c = malloc(sizeof(*c) + s->ncpuid * sizeof(struct kvm_cpuid_entry2));
	if (!c)
		return -ENOMEM;
	c->nent = s->ncpuid;
	c->padding = 0;
	memcpy(c->entries, s->cpuid, s->ncpuid * sizeof(struct kvm_cpuid_entry2));
	int r = ioctl(fd, KVM_SET_CPUID2, c);
	int err = errno;
	free(c);
	if (r < 0) {
		err_msg(e, "restoring cpuid: %s", strerror(err));
		return -err;
	}
	STEP(ioctl(fd, KVM_SET_MP_STATE, &s->fixed.mp_state), "mp_state");
	STEP(ioctl(fd, KVM_SET_REGS, &s->fixed.regs), "registers");
	STEP(ioctl(fd, KVM_SET_SREGS, &s->fixed.sregs), "segment registers");
	STEP(ioctl(fd, KVM_SET_XSAVE, s->xsave), "xsave");
	if (s->fixed.has_xcrs)
		STEP(ioctl(fd, KVM_SET_XCRS, &s->fixed.xcrs), "xcrs");
	STEP(ioctl(fd, KVM_SET_DEBUGREGS, &s->fixed.debugregs), "debug registers");
	STEP(ioctl(fd, KVM_SET_LAPIC, &s->fixed.lapic), "local APIC");

	struct kvm_msrs *m = malloc(sizeof(*m) + s->nmsrs * sizeof(struct kvm_msr_entry));
	if (!m)
		return -ENOMEM;
	m->nmsrs = s->nmsrs;
	m->pad = 0;
	memcpy(m->entries, s->msrs, s->nmsrs * sizeof(struct kvm_msr_entry));
	r = ioctl(fd, KVM_SET_MSRS, m);
	err = errno;
	if (r >= 0 && (uint32_t)r != s->nmsrs)
		err_msg(e, "restoring MSRs: KVM refused MSR %#x (%d of %u set)",
			m->entries[r].index, r, s->nmsrs);
	else if (r < 0)
		err_msg(e, "restoring MSRs: %s", strerror(err));
	free(m);
	if (r < 0)
		return -err;
	if ((uint32_t)r != s->nmsrs)
		return -EINVAL;
	STEP(ioctl(fd, KVM_SET_VCPU_EVENTS, &s->fixed.events), "vcpu events");
	return 0;
}

int vm_state_save(const struct kvm *k, struct snap_vm *s)
{
	int r;
	memset(s, 0, sizeof(*s));
	s->pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
	s->pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
	s->ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
	if ((r = kvm_ioctl(k->vm_fd, KVM_GET_IRQCHIP, &s->pic_master)) < 0 ||
	    (r = kvm_ioctl(k->vm_fd, KVM_GET_IRQCHIP, &s->pic_slave)) < 0 ||
	    (r = kvm_ioctl(k->vm_fd, KVM_GET_IRQCHIP, &s->ioapic)) < 0 ||
	    (k->has_pit && (r = kvm_ioctl(k->vm_fd, KVM_GET_PIT2, &s->pit)) < 0) ||
	    (r = kvm_ioctl(k->vm_fd, KVM_GET_CLOCK, &s->clock)) < 0)
		return r;
	return 0;
}

int vm_state_restore(const struct kvm *k, const struct snap_vm *s, struct err *e)
{
	if (s->pic_master.chip_id != KVM_IRQCHIP_PIC_MASTER ||
	    s->pic_slave.chip_id != KVM_IRQCHIP_PIC_SLAVE ||
	    s->ioapic.chip_id != KVM_IRQCHIP_IOAPIC) {
		err_msg(e, "interrupt controller state is for other chips");
		return -EINVAL;
	}
	STEP(ioctl(k->vm_fd, KVM_SET_IRQCHIP, &s->pic_master), "PIC master");
	STEP(ioctl(k->vm_fd, KVM_SET_IRQCHIP, &s->pic_slave), "PIC slave");
	STEP(ioctl(k->vm_fd, KVM_SET_IRQCHIP, &s->ioapic), "IOAPIC");
	if (k->has_pit) /* the machine section said whether the saved VM had one */
		STEP(ioctl(k->vm_fd, KVM_SET_PIT2, &s->pit), "PIT");
	/* The guest's clock resumes where it stopped, not at the host's now. */
	struct kvm_clock_data clock = { .clock = s->clock.clock };
	STEP(ioctl(k->vm_fd, KVM_SET_CLOCK, &clock), "kvmclock");
	return 0;
}
