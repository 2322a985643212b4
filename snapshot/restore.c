/*
 * Building a VM from a snapshot. Every section is checked against what this
 * mvm and this host can build before the VM is created; then the state goes
 * back in the known-good order: VM (irqchip, PIT, clock), vCPUs, devices.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../virtio/mmio.h"
#include "../lib/log.h"
#include "../lib/err.h"
#include "../lib/util.h"
#include "../vmm/vcpu.h"
#include "../vmm/vm.h"
#include "../vmm/x86/layout.h"
#include "binding.h"
#include "format.h"
#include "kvm_state.h"
#include "machine.h"
#include "memfile.h"
#include "publish.h"
#include "snapshot.h"
#include "state.h"
#include "uffd.h"
#include "wset_prefetch.h"

#define ERR(...)                         \
	do {                             \
		err_msg(e, __VA_ARGS__); \
		r = -EINVAL;             \
		goto out;                \
	} while (0)

void snapshot_load_fini(struct snapshot_load *l)
{
	free(l->snapshot_path);
	free(l->mem_path);
	for (int i = 0; i < l->nr_overrides; i++)
		free(l->overrides[i].value);
	memset(l, 0, sizeof(*l));
}

/* Section `id`, exactly `size` bytes at version `ver`. */
static const void *fixed(const struct snap_reader *rd, uint32_t id, uint32_t ver, size_t size,
			 const char *what, struct err *e)
{
	uint32_t v;
	const void *p;
	size_t len;
	if (snap_reader_get(rd, id, &v, &p, &len)) {
		err_msg(e, "%s: no %s section", snap_reader_name(rd), what);
		return NULL;
	}
	if (v != ver || len != size) {
		err_msg(e, "%s: %s section is version %u, %zu bytes (want version %u, %zu)",
			snap_reader_name(rd), what, v, len, ver, size);
		return NULL;
	}
	return p;
}

/* All of one vCPU's sections, checked; the data stays in the reader. */
static int get_vcpu(const struct snap_reader *rd, const struct kvm *k, uint32_t i,
		    struct vcpu_snapshot *vs, struct err *e)
{
	uint32_t v;
	const void *p;
	size_t len;
	char what[32];
	memset(vs, 0, sizeof(*vs));
	snprintf(what, sizeof(what), "vCPU %u", i);
	const struct snap_vcpu *f = fixed(rd, SNAP_SEC_VCPU + i, SNAP_VCPU_V, sizeof(*f), what, e);
	if (!f)
		return -EINVAL;
	vs->fixed = *f;
	if (snap_reader_get(rd, SNAP_SEC_VCPU_MSRS + i, &v, &p, &len) || v != 1 ||
	    len % sizeof(struct kvm_msr_entry) || len / sizeof(struct kvm_msr_entry) > 4096)
		goto bad;
	vs->msrs = (struct kvm_msr_entry *)p;
	vs->nmsrs = (uint32_t)(len / sizeof(struct kvm_msr_entry));
	if (snap_reader_get(rd, SNAP_SEC_VCPU_CPUID + i, &v, &p, &len) || v != 1 ||
	    len % sizeof(struct kvm_cpuid_entry2) || len == 0 ||
	    len / sizeof(struct kvm_cpuid_entry2) > 4096)
		goto bad;
	vs->cpuid = (struct kvm_cpuid_entry2 *)p;
	vs->ncpuid = (uint32_t)(len / sizeof(struct kvm_cpuid_entry2));
	if (snap_reader_get(rd, SNAP_SEC_VCPU_XSAVE + i, &v, &p, &len) || v != 1 ||
	    len != kvm_xsave_size(k)) {
		err_msg(e, "%s: vCPU %u XSAVE state is %zu bytes, this host's KVM uses %zu",
			snap_reader_name(rd), i, len, kvm_xsave_size(k));
		return -EINVAL;
	}
	vs->xsave = (void *)p;
	vs->xsave_len = len;
	return 0;
bad:
	err_msg(e, "%s: vCPU %u's MSR or CPUID section is missing or malformed",
		snap_reader_name(rd), i);
	return -EINVAL;
}

/* A snapshot with a VMGenID record is rebuilt with ACPI (its tables are in
 * the memory file already); one without keeps the default. */
static int vmgenid_config(const struct snap_reader *rd, struct vm_config *cfg, struct err *e)
{
	struct vmgenid_state gs;
	const char *why;
	int r = snap_reader_get_struct(rd, SNAP_SEC_VMGENID, VMGENID_STATE_V, &gs, sizeof(gs), e);
	if (r == -ENOENT)
		return 0;
	if (r)
		return r;
	if (vmgenid_check(&gs, &why))
		return err_inval(e, "%s: %s", snap_reader_name(rd), why);
	cfg->machine.acpi = ACPI_ON;
	return 0;
}

static int restore_devices(struct vm *vm, const struct snap_reader *rd, struct err *e)
{
	const struct serial_state *ss = fixed(rd, SNAP_SEC_SERIAL, 1, sizeof(*ss), "serial", e);
	const struct i8042_state *is = fixed(rd, SNAP_SEC_I8042, 1, sizeof(*is), "i8042", e);
	if (!ss || !is)
		return -EINVAL;
	if (serial_restore(vm->serial, ss) || i8042_restore(vm->i8042, is)) {
		err_msg(e, "%s: serial or i8042 state out of range", snap_reader_name(rd));
		return -EINVAL;
	}
	for (int i = 0; i < vm->nr_devs; i++) {
		char what[32];
		const char *why;
		snprintf(what, sizeof(what), "virtio slot %d", i);
		const struct virtio_mmio_state *vs =
		    fixed(rd, SNAP_SEC_VIRTIO + (uint32_t)i, SNAP_VIRTIO_V, sizeof(*vs), what, e);
		if (!vs)
			return -EINVAL;
		if (virtio_mmio_restore(vm->devs[i].t, vs, &why)) {
			err_msg(e, "%s: %s: %s", snap_reader_name(rd), what, why);
			return -EINVAL;
		}
	}
	return 0;
}

int snapshot_restore(struct vm *vm, struct vm_config *cfg, struct evloop *loop,
		     const struct snapshot_load *req, snap_build_fn build,
		     struct snap_restore_stats *st, struct err *e)
{
	struct snap_reader *rd = NULL;
	struct snap_binding bind;
	uint64_t t0 = mono_us();
	int mem_fd = -1, r;
	bool built = false;

	memset(st, 0, sizeof(*st));
	/* File: the memory file must be the one written with this state (its
	 * trailer, binding.h). Uffd: the handler serves memory mvm never opens. */
	if (req->uffd) {
		r = snap_reader_open_file(req->snapshot_path, 0, &rd, e);
	} else if ((mem_fd = open(req->mem_path, O_RDONLY | O_CLOEXEC)) < 0) {
		r = neg_errno();
		err_set(e, r, "memory file %s: %s", req->mem_path, strerror(-r));
	} else {
		r = snap_pair_open(req->snapshot_path, mem_fd, req->mem_path, &rd, e);
	}
	if (r || (r = snap_binding_get(rd, &bind, e)))
		goto out;
	struct snap_machine smv;
	const struct snap_machine *sm = &smv;
	if ((r = snap_machine_get(rd, &smv, e)))
		goto out;
	/* hugetlbfs pages cannot be a private copy-on-write view of a file. */
	if (sm->huge_pages == HUGE_PAGES_2M && !req->uffd)
		ERR("%s: the VM was saved with huge_pages 2M (hugetlbfs): restore it with the Uffd "
		    "backend (mem_backend {\"backend_type\": \"Uffd\", \"backend_path\": ...}); "
		    "the File backend maps the memory file copy-on-write, which hugetlbfs "
		    "memory cannot be",
		    snap_reader_name(rd));
	const struct snap_vm *svm = fixed(rd, SNAP_SEC_VM, SNAP_VM_V, sizeof(*svm), "VM", e);
	if (!svm) {
		r = -EINVAL;
		goto out;
	}
	vm_config_fini(cfg);
	vm_config_init(cfg);
	cfg->machine.vcpu_count = sm->vcpu_count;
	cfg->machine.mem_size_mib = sm->mem_size_mib;
	cfg->machine.cpu_template = (enum cpu_template)sm->cpu_template;
	cfg->machine.huge_pages = (enum huge_pages)sm->huge_pages;
	cfg->machine.track_dirty_pages = req->track_dirty_pages || sm->track_dirty_pages;
	cfg->machine.pit = sm->flags & SNAP_MACHINE_NO_PIT ? PIT_OFF : PIT_ON;
	if ((r = vmgenid_config(rd, cfg, e)))
		goto out;
	if ((r = snap_devices_config(rd, sm->nr_devices, cfg, req, e)) ||
	    (r = snap_boot_load(rd, &cfg->boot, e)))
		goto out;

	/* File: RAM maps the memory file copy-on-write. Uffd: RAM starts empty and the
	 * handler behind mem_path fills it on demand. */
	struct guest_region regions[GUEST_MEM_MAX_REGIONS];
	int nr = guest_mem_layout(sm->ram_bytes, regions);
	uint64_t need = regions[nr - 1].file_off + regions[nr - 1].size;
	if (bind.ram_len != need)
		ERR("%s: the memory file section says %llu bytes of RAM, the machine %llu",
		    snap_reader_name(rd), (unsigned long long)bind.ram_len,
		    (unsigned long long)need);
	if (!req->uffd && (r = memfile_check(mem_fd, req->mem_path, need, e)))
		goto out;
	st->read_us = mono_us() - t0;

	/* Built exactly like the saved VM. */
	built = true;
	if ((r = build(vm, cfg, loop, steal_fd(&mem_fd), t0, e))) {
		err_prefix(e, "building the VM");
		goto out;
	}
	/* Before any state goes in: restoring MSRs already makes KVM touch guest RAM. */
	if (req->uffd && (r = uffd_handover(&vm->mem, req->mem_path, e)))
		goto out;
	memcpy(vm->snap_gen, bind.gen, SNAP_GEN_LEN);
	if (vm->nr_devs != (int)sm->nr_devices)
		ERR("%s: %u devices saved, %d built", snap_reader_name(rd), sm->nr_devices,
		    vm->nr_devs);
	/* The recorded working set, mapped in before (or beside) the guest's first steps. */
	wset_prefetch_restore(vm, req, &bind, st);
	st->build_us = mono_us() - t0 - st->read_us - st->prefetch_us;

	if ((r = vm_state_restore(&vm->kvm, svm, e)))
		goto out;
	for (uint32_t i = 0; i < sm->vcpu_count; i++) {
		struct vcpu_snapshot vs;
		if ((r = get_vcpu(rd, &vm->kvm, i, &vs, e)))
			goto out;
		if ((r = vcpu_state_restore(&vm->kvm, vm->vcpus[i].fd, &vs, e))) {
			err_prefix(e, "vCPU %u", i);
			goto out;
		}
	}
	if ((r = restore_devices(vm, rd, e)) || (r = snap_devices_restore(rd, vm, e)))
		goto out;
	/* A new generation and its interrupt before any vCPU runs (and after the
	 * LAPICs are back, which would drop a pending one): the guest's first
	 * instruction already runs in the new generation. */
	if (vm->vmgenid.on) {
		if ((r = vmgenid_generate(&vm->vmgenid, &vm->mem))) {
			err_set(e, r, "VMGenID: writing the new generation: %s", strerror(-r));
			goto out;
		}
		vmgenid_notify(&vm->vmgenid);
		log_info("VMGenID: new generation written, guest notified on GSI %u",
			 vm->vmgenid.gsi);
	}
	/* Tell the guest's kvmclock it was paused (no soft-lockup warnings); a guest
	 * without kvmclock refuses, which is fine. */
	for (int i = 0; i < vm->nr_vcpus; i++)
		__kvm_ioctl(vm->vcpus[i].fd, KVM_KVMCLOCK_CTRL, 0);
	/* Requests the guest queued before the snapshot were never kicked here. */
	for (int i = 0; i < vm->nr_devs; i++)
		for (int q = 0; q < vm->devs[i].t->ops->num_queues; q++)
			virtio_mmio_kick(vm->devs[i].t, q);
	st->state_us = mono_us() - t0 - st->read_us - st->build_us - st->prefetch_us;
	st->total_us = mono_us() - t0;
	r = 0;
out:
	if (r && built)
		vm_destroy(vm);
	if (mem_fd >= 0)
		close(mem_fd);
	snap_reader_destroy(rd);
	return r;
}
