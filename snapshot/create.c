/* Saving a paused VM: devices, then vCPUs, then the VM; then its memory. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../virtio/mmio.h"
#include "../lib/log.h"
#include "../lib/err.h"
#include "../lib/util.h"
#include "../vmm/vcpu.h"
#include "../vmm/vm.h"
#include "format.h"
#include "kvm_state.h"
#include "memfile.h"
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

/* Write the memory file beside its final name, then rename: a VM restored from
 * the old file keeps its (unlinked) copy, and no half file is ever visible. */
static int write_memory(struct vm *vm, const char *path, bool diff, struct snap_create_stats *st,
			struct err *e)
{
	uint64_t *bm[GUEST_MEM_MAX_REGIONS] = { 0 };
	char tmp[4096];
	int r;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if (vm->cfg->machine.track_dirty_pages && (r = dirty_bitmaps(vm, bm, &st->dirty_pages))) {
		err_msg(e, "reading the dirty page log: %s", strerror(-r));
		goto out;
	}
	int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		err_msg(e, "memory file %s: %s", tmp, strerror(errno));
		goto out;
	}
	r = diff ? memfile_write_diff(&vm->mem, (const uint64_t *const *)bm, fd)
		 : memfile_write_full(&vm->mem, fd);
	if (!r && fdatasync(fd) < 0)
		r = -errno;
	struct stat sb;
	if (!r && fstat(fd, &sb) == 0)
		st->mem_bytes = (uint64_t)sb.st_blocks * 512;
	close(fd);
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r) {
		unlink(tmp);
		err_msg(e, "writing memory file %s: %s", path, strerror(-r));
	}
out:
	for (int i = 0; i < GUEST_MEM_MAX_REGIONS; i++)
		free(bm[i]);
	return r;
}

int snapshot_create(struct vm *vm, const char *state_path, const char *mem_path, bool diff,
		    struct snap_create_stats *st, struct err *e)
{
	uint64_t t0 = mono_us();
	struct snap_writer *w = NULL;
	int r;

	memset(st, 0, sizeof(*st));
	if (vm->state != VM_PAUSED) {
		err_msg(e, "the VM must be paused first (PATCH /vm {\"state\": \"Paused\"})");
		return -EINVAL;
	}
	if (diff && !vm->cfg->machine.track_dirty_pages) {
		err_msg(e, "a Diff snapshot needs dirty page tracking: set "
			   "track_dirty_pages in machine-config (or in /snapshot/load)");
		return -EINVAL;
	}
	w = snap_writer_create();
	if (!w)
		return -ENOMEM;

	struct snap_machine sm = {
		.vcpu_count = (uint32_t)vm->nr_vcpus,
		.mem_size_mib = vm->cfg->machine.mem_size_mib,
		.cpu_template = vm->cpu_template,
		.track_dirty_pages = vm->cfg->machine.track_dirty_pages,
		.huge_pages = vm->cfg->machine.huge_pages,
		.nr_devices = (uint32_t)vm->nr_devs,
		.ram_bytes = vm->mem.size,
	};
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
	snap_devices_prepare(vm);
	for (int i = 0; i < vm->nr_devs; i++) {
		struct virtio_mmio_state vs;
		virtio_mmio_save(vm->devs[i].t, &vs);
		if ((r = snap_writer_add(w, SNAP_SEC_VIRTIO + (uint32_t)i, SNAP_VIRTIO_V, &vs,
					 sizeof(vs))))
			goto enc_fail;
	}
	if ((r = snap_devices_save(w, vm, e)))
		goto out;
	if ((r = add_vcpus(w, vm, e)))
		goto out;
	struct snap_vm svm;
	if ((r = vm_state_save(&vm->kvm, &svm))) {
		err_msg(e, "saving the VM's interrupt controllers and clock: %s", strerror(-r));
		goto out;
	}
	if ((r = snap_writer_add(w, SNAP_SEC_VM, SNAP_VM_V, &svm, sizeof(svm))))
		goto enc_fail;

	if ((r = snap_writer_write_file(w, state_path))) {
		err_msg(e, "writing state file %s: %s", state_path, strerror(-r));
		goto out;
	}
	struct stat sb;
	if (stat(state_path, &sb) == 0)
		st->state_bytes = (uint64_t)sb.st_size;
	st->state_us = mono_us() - t0;
	uint64_t t1 = mono_us();
	r = write_memory(vm, mem_path, diff, st, e);
	st->mem_us = mono_us() - t1;
	st->total_us = mono_us() - t0;
	goto out;
enc_fail:
	err_msg(e, "encoding the state file: %s", strerror(-r));
out:
	snap_writer_destroy(w);
	return r;
}
