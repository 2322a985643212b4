/*
 * Saving a paused VM: devices, then vCPUs, then the VM; then its memory. Both
 * files are written under temporary names and published memory first
 * (publish.h), so a failure or a crash leaves the old pair or the new one.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../virtio/mmio.h"
#include "../lib/err.h"
#include "../lib/fault.h"
#include "../lib/log.h"
#include "../lib/util.h"
#include "../vmm/vcpu.h"
#include "../vmm/vm.h"
#include "binding.h"
#include "format.h"
#include "kvm_state.h"
#include "memfile.h"
#include "publish.h"
#include "snapshot.h"
#include "state.h"

static int add_vcpus(struct snap_writer *w, struct vm *vm, struct err *e)
{
	for (int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu_snapshot vs;
		int r = vcpu_state_save(&vm->kvm, vm->vcpus[i].fd, &vs);
		if (r) {
			err_msg(e, "saving vCPU %d: %s", i, strerror(-r));
			return r;
		}
		uint32_t n = (uint32_t)i;
		if ((r = snap_writer_add(w, SNAP_SEC_VCPU + n, SNAP_VCPU_V, &vs.fixed,
					 sizeof(vs.fixed))) ||
		    (r = snap_writer_add(w, SNAP_SEC_VCPU_MSRS + n, 1, vs.msrs,
					 vs.nmsrs * sizeof(struct kvm_msr_entry))) ||
		    (r = snap_writer_add(w, SNAP_SEC_VCPU_CPUID + n, 1, vs.cpuid,
					 vs.ncpuid * sizeof(struct kvm_cpuid_entry2))) ||
		    (r = snap_writer_add(w, SNAP_SEC_VCPU_XSAVE + n, 1, vs.xsave, vs.xsave_len)))
			err_msg(e, "encoding vCPU %d: %s", i, strerror(-r));
		vcpu_snapshot_fini(&vs);
		if (r)
			return r;
	}
	return 0;
}

/* Pages written since the last snapshot: KVM's log for the guest's writes, ours for the devices'.
 */
static int dirty_bitmaps(struct vm *vm, uint64_t *bm[GUEST_MEM_MAX_REGIONS], uint64_t *pages)
{
	*pages = 0;
	for (int i = 0; i < vm->mem.nr; i++) {
		size_t words = (vm->mem.r[i].size / 4096 + 63) / 64;
		bm[i] = calloc(words, sizeof(uint64_t));
		if (!bm[i])
			return -ENOMEM;
		struct kvm_dirty_log log = { .slot = (uint32_t)i, .dirty_bitmap = bm[i] };
		int r = kvm_ioctl(vm->kvm.vm_fd, KVM_GET_DIRTY_LOG, &log);
		if (r < 0)
			return r;
		for (size_t k = 0; k < words; k++) {
			if (vm->mem.dirty[i]) {
				bm[i][k] |= vm->mem.dirty[i][k];
				vm->mem.dirty[i][k] = 0;
			}
			*pages += (uint64_t)__builtin_popcountll(bm[i][k]);
		}
	}
	return 0;
}

/* A snapshot that did not replace the old one hands its dirty pages back: the
 * next diff, taken against the old memory file, must carry them too. */
static void give_back_dirty(struct vm *vm, uint64_t *bm[GUEST_MEM_MAX_REGIONS])
{
	for (int i = 0; i < vm->mem.nr; i++) {
		size_t words = (vm->mem.r[i].size / 4096 + 63) / 64;
		if (bm[i] && vm->mem.dirty[i])
			for (size_t k = 0; k < words; k++)
				vm->mem.dirty[i][k] |= bm[i][k];
	}
}

/* RAM (all of it, or the dirty pages), then the trailer, into tmp; fsynced. */
static int write_memory(struct vm *vm, const char *tmp, bool diff, uint64_t *bm[],
			const struct snap_binding *b, struct snap_create_stats *st, struct err *e)
{
	struct stat sb;
	int r, fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0) {
		r = neg_errno();
		return err_set(e, r, "memory file %s: %s", tmp, strerror(-r));
	}
	r = diff ? memfile_write_diff(&vm->mem, (const uint64_t *const *)bm, fd)
		 : memfile_write_full(&vm->mem, fd);
	if (!r)
		r = memfile_trailer_write(fd, b);
	if (!r && fdatasync(fd) < 0)
		r = neg_errno();
	if (!r && fstat(fd, &sb) == 0)
		st->mem_bytes = (uint64_t)sb.st_blocks * 512;
	if (close(fd) < 0 && !r)
		r = neg_errno();
	if (r)
		err_set(e, r, "writing memory file %s: %s", tmp, strerror(-r));
	return r;
}

/* The sections of a paused VM: machine, devices, vCPUs, VM. */
static int encode(struct snap_writer *w, struct vm *vm, struct err *e)
{
	struct snap_machine sm = {
		.vcpu_count = (uint32_t)vm->nr_vcpus,
		.mem_size_mib = vm->cfg->machine.mem_size_mib,
		.cpu_template = vm->cpu_template,
		.track_dirty_pages = vm->cfg->machine.track_dirty_pages,
		.huge_pages = vm->cfg->machine.huge_pages,
		.nr_devices = (uint32_t)vm->nr_devs,
		.ram_bytes = vm->mem.size,
		.flags = vm->kvm.has_pit ? 0 : SNAP_MACHINE_NO_PIT,
	};
	int r;

	if ((r = snap_writer_add(w, SNAP_SEC_MACHINE, SNAP_MACHINE_V, &sm, sizeof(sm))))
		goto enc_fail;
	if (vm->cfg->boot.kernel_image_path && (r = snap_boot_save(w, &vm->cfg->boot)))
		goto enc_fail;

	/* Devices first, so an interrupt they raise while we save is not lost. */
	struct serial_state ss;
	struct i8042_state is;
	serial_save(vm->serial, &ss);
	i8042_save(vm->i8042, &is);
	if ((r = snap_writer_add(w, SNAP_SEC_SERIAL, 1, &ss, sizeof(ss))) ||
	    (r = snap_writer_add(w, SNAP_SEC_I8042, 1, &is, sizeof(is))))
		goto enc_fail;
	if (vm->vmgenid.on) {
		struct vmgenid_state gs;
		vmgenid_save(&vm->vmgenid, &gs);
		if ((r = snap_writer_add(w, SNAP_SEC_VMGENID, VMGENID_STATE_V, &gs, sizeof(gs))))
			goto enc_fail;
	}
	snap_devices_prepare(vm);
	for (int i = 0; i < vm->nr_devs; i++) {
		struct virtio_mmio_state vs;
		virtio_mmio_save(vm->devs[i].t, &vs);
		if ((r = snap_writer_add(w, SNAP_SEC_VIRTIO + (uint32_t)i, SNAP_VIRTIO_V, &vs,
					 sizeof(vs))))
			goto enc_fail;
	}
	if ((r = snap_devices_save(w, vm, e)) || (r = add_vcpus(w, vm, e)))
		return r;
	struct snap_vm svm;
	if ((r = vm_state_save(&vm->kvm, &svm)))
		return err_set(e, r, "saving the VM's interrupt controllers and clock: %s",
			       strerror(-r));
	if ((r = snap_writer_add(w, SNAP_SEC_VM, SNAP_VM_V, &svm, sizeof(svm))))
		goto enc_fail;
	return 0;
enc_fail:
	return err_set(e, r, "encoding the state file: %s", strerror(-r));
}

/* The new generation: a diff continues the VM's last snapshot. */
static int bind(struct snap_writer *w, struct vm *vm, bool diff, struct snap_binding *b,
		struct err *e)
{
	int r;

	memset(b, 0, sizeof(*b));
	if ((r = memfile_len(&vm->mem, &b->ram_len)) || (r = snap_gen_new(b->gen)))
		return err_set(e, r, "the memory file's layout or generation: %s", strerror(-r));
	b->mem_len = b->ram_len + MEMFILE_TRAILER_SIZE;
	if (diff)
		memcpy(b->base, vm->snap_gen, SNAP_GEN_LEN);
	if ((r = snap_writer_add(w, SNAP_SEC_MEMFILE, SNAP_MEMFILE_V, b, sizeof(*b))))
		return err_set(e, r, "encoding the state file: %s", strerror(-r));
	return 0;
}

int snapshot_create(struct vm *vm, const char *state_path, const char *mem_path, bool diff,
		    struct snap_create_stats *st, struct err *e)
{
	uint64_t *bm[GUEST_MEM_MAX_REGIONS] = { 0 };
	char state_tmp[PATH_MAX], mem_tmp[PATH_MAX];
	uint64_t t0 = mono_us();
	struct snap_writer *w = NULL;
	struct snap_binding b;
	bool committed = false;
	struct stat sb;
	int r;

	memset(st, 0, sizeof(*st));
	if (vm->state != VM_PAUSED)
		return err_inval(e,
				 "the VM must be paused first (PATCH /vm {\"state\": \"Paused\"})");
	if (diff && !vm->cfg->machine.track_dirty_pages)
		return err_inval(e, "a Diff snapshot needs dirty page tracking: set "
				    "track_dirty_pages in machine-config (or in /snapshot/load)");
	if (snap_tmp_path(state_path, state_tmp, sizeof(state_tmp)) ||
	    snap_tmp_path(mem_path, mem_tmp, sizeof(mem_tmp)))
		return err_set(e, -ENAMETOOLONG, "snapshot paths must be shorter than %d bytes",
			       PATH_MAX - 8);
	w = snap_writer_create();
	if (!w)
		return -ENOMEM;
	if ((r = encode(w, vm, e)) || (r = bind(w, vm, diff, &b, e)))
		goto out;

	/* A snapshot interrupted last time is finished (or its leftovers removed)
	 * first, so that the old pair is whole should this one die as well. */
	snap_pair_recover(state_path, mem_path);
	if (vm->cfg->machine.track_dirty_pages && (r = dirty_bitmaps(vm, bm, &st->dirty_pages))) {
		err_set(e, r, "reading the dirty page log: %s", strerror(-r));
		goto fail;
	}
	if ((r = snap_writer_write_new(w, state_tmp))) {
		err_set(e, r, "writing state file %s: %s", state_tmp, strerror(-r));
		goto fail;
	}
	fault_point("after-state-tmp");
	if (stat(state_tmp, &sb) == 0)
		st->state_bytes = (uint64_t)sb.st_size;
	st->state_us = mono_us() - t0;
	uint64_t t1 = mono_us();
	if ((r = write_memory(vm, mem_tmp, diff, bm, &b, st, e)))
		goto fail;
	fault_point("after-mem-tmp");
	st->mem_us = mono_us() - t1;
	r = snap_publish(state_path, mem_path, &committed, e);
	if (committed)
		memcpy(vm->snap_gen, b.gen, SNAP_GEN_LEN);
	st->total_us = mono_us() - t0;
fail:
	if (r && !committed) {
		snap_discard_tmp(state_path, mem_path);
		give_back_dirty(vm, bm);
	}
out:
	for (int i = 0; i < GUEST_MEM_MAX_REGIONS; i++)
		free(bm[i]);
	snap_writer_destroy(w);
	return r;
}
