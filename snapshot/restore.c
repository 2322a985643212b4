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
#include "../vmm/log.h"
#include "../vmm/util.h"
#include "../vmm/vcpu.h"
#include "../vmm/vm.h"
#include "../vmm/x86/layout.h"
#include "format.h"
#include "kvm_state.h"
#include "memfile.h"
#include "snapshot.h"
#include "state.h"
#include "uffd.h"

#define ERR(...)                                    \
	do {                                        \
		snprintf(err, errlen, __VA_ARGS__); \
		r = -EINVAL;                        \
		goto out;                           \
	} while (0)

void snapshot_load_fini(struct snapshot_load *l)
{
	free(l->snapshot_path);
	free(l->mem_path);
	for (int i = 0; i < l->nr_overrides; i++)
		free(l->overrides[i].path_on_host);
	free(l->vsock_uds_override);
	memset(l, 0, sizeof(*l));
}

/* Section `id`, exactly `size` bytes at version `ver`. */
static const void *fixed(const struct snap_reader *rd, uint32_t id, uint32_t ver, size_t size,
			 const char *what, char *err, size_t errlen)
{
	uint32_t v;
	const void *p;
	size_t len;
	if (snap_reader_get(rd, id, &v, &p, &len)) {
		snprintf(err, errlen, "%s: no %s section", snap_reader_name(rd), what);
		return NULL;
	}
	if (v != ver || len != size) {
		snprintf(err, errlen,
			 "%s: %s section is version %u, %zu bytes (want version %u, %zu)",
			 snap_reader_name(rd), what, v, len, ver, size);
		return NULL;
	}
	return p;
}

static int parse_drives(const struct snap_reader *rd, uint32_t n, struct vm_config *cfg,
			const struct snapshot_load *req, char *err, size_t errlen)
{
	uint32_t v;
	const uint8_t *p;
	size_t len;
	const void *vp;
	if (snap_reader_get(rd, SNAP_SEC_DRIVES, &v, &vp, &len) || v != SNAP_DRIVE_V) {
		snprintf(err, errlen, "%s: drive section missing or of another version",
			 snap_reader_name(rd));
		return -EINVAL;
	}
	p = vp;
	const uint8_t *end = p + len;
	if (n > MVM_MAX_DRIVES) {
		snprintf(err, errlen, "%s: %u drives (at most %d)", snap_reader_name(rd), n,
			 MVM_MAX_DRIVES);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct snap_drive sd;
		if ((size_t)(end - p) < sizeof(sd))
			goto bad;
		memcpy(&sd, p, sizeof(sd));
		p += sizeof(sd);
		if (sd.path_len == 0 || sd.path_len > 4096 || sd.partuuid_len > 128 ||
		    (size_t)(end - p) < (size_t)sd.path_len + sd.partuuid_len ||
		    memchr(sd.drive_id, '\0', sizeof(sd.drive_id)) == NULL ||
		    !config_id_valid(sd.drive_id) || (sd.flags & ~0xfu))
			goto bad;
		struct drive_cfg *d = &cfg->drives[i];
		memset(d, 0, sizeof(*d));
		memcpy(d->drive_id, sd.drive_id, strlen(sd.drive_id) + 1); /* id checked: <= 64 */
		d->path_on_host = strndup((const char *)p, sd.path_len);
		p += sd.path_len;
		if (sd.partuuid_len)
			d->partuuid = strndup((const char *)p, sd.partuuid_len);
		p += sd.partuuid_len;
		d->is_root_device = sd.flags & SNAP_DRIVE_ROOT;
		d->is_read_only = sd.flags & SNAP_DRIVE_RO;
		d->cache_type = (sd.flags & SNAP_DRIVE_WRITEBACK) ? CACHE_WRITEBACK : CACHE_UNSAFE;
		d->direct_io = sd.flags & SNAP_DRIVE_DIRECT;
		cfg->nr_drives++;
		if (!d->path_on_host || (sd.partuuid_len && !d->partuuid))
			return -ENOMEM;
		if (memchr(d->path_on_host, '\0', sd.path_len))
			goto bad;
	}
	if (p != end)
		goto bad;
	/* Restores may point a drive at another file (a clone's own disk, say). */
	for (int k = 0; k < req->nr_overrides; k++) {
		int found = -1;
		for (int i = 0; i < cfg->nr_drives; i++)
			if (!strcmp(cfg->drives[i].drive_id, req->overrides[k].drive_id))
				found = i;
		if (found < 0) {
			snprintf(err, errlen, "drive override: the snapshot has no drive '%s'",
				 req->overrides[k].drive_id);
			return -EINVAL;
		}
		free(cfg->drives[found].path_on_host);
		cfg->drives[found].path_on_host = strdup(req->overrides[k].path_on_host);
		if (!cfg->drives[found].path_on_host)
			return -ENOMEM;
	}
	return 0;
bad:
	snprintf(err, errlen, "%s: malformed drive section", snap_reader_name(rd));
	return -EINVAL;
}

/* All of one vCPU's sections, checked; the data stays in the reader. */
static int get_vcpu(const struct snap_reader *rd, const struct kvm *k, uint32_t i,
		    struct vcpu_snapshot *vs, char *err, size_t errlen)
{
	uint32_t v;
	const void *p;
	size_t len;
	char what[32];
	memset(vs, 0, sizeof(*vs));
	snprintf(what, sizeof(what), "vCPU %u", i);
	const struct snap_vcpu *f =
	    fixed(rd, SNAP_SEC_VCPU + i, SNAP_VCPU_V, sizeof(*f), what, err, errlen);
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
		snprintf(err, errlen,
			 "%s: vCPU %u XSAVE state is %zu bytes, this host's KVM uses %zu",
			 snap_reader_name(rd), i, len, kvm_xsave_size(k));
		return -EINVAL;
	}
	vs->xsave = (void *)p;
	vs->xsave_len = len;
	return 0;
bad:
	snprintf(err, errlen, "%s: vCPU %u's MSR or CPUID section is missing or malformed",
		 snap_reader_name(rd), i);
	return -EINVAL;
}

static int restore_devices(struct vm *vm, const struct snap_reader *rd, char *err, size_t errlen)
{
	const struct serial_state *ss =
	    fixed(rd, SNAP_SEC_SERIAL, 1, sizeof(*ss), "serial", err, errlen);
	const struct i8042_state *is =
	    fixed(rd, SNAP_SEC_I8042, 1, sizeof(*is), "i8042", err, errlen);
	if (!ss || !is)
		return -EINVAL;
	if (serial_restore(vm->serial, ss) || i8042_restore(vm->i8042, is)) {
		snprintf(err, errlen, "%s: serial or i8042 state out of range",
			 snap_reader_name(rd));
		return -EINVAL;
	}
	for (int i = 0; i < vm->nr_virtio; i++) {
		char what[32];
		const char *why;
		snprintf(what, sizeof(what), "virtio slot %d", i);
		const struct virtio_mmio_state *vs =
		    fixed(rd, SNAP_SEC_VIRTIO + (uint32_t)i, SNAP_VIRTIO_V, sizeof(*vs), what, err,
			  errlen);
		if (!vs)
			return -EINVAL;
		if (virtio_mmio_restore(vm->virtio[i], vs, &why)) {
			snprintf(err, errlen, "%s: %s: %s", snap_reader_name(rd), what, why);
			return -EINVAL;
		}
	}
	return 0;
}

int snapshot_restore(struct vm *vm, struct vm_config *cfg, struct evloop *loop,
		     const struct snapshot_load *req, struct snap_restore_stats *st, char *err,
		     size_t errlen)
{
	struct snap_reader *rd = NULL;
	uint64_t t0 = mono_us();
	int mem_fd = -1, r;
	bool built = false;

	memset(st, 0, sizeof(*st));
	if ((r = snap_reader_open_file(req->snapshot_path, 0, &rd, err, errlen)))
		return r;
	const struct snap_machine *sm =
	    fixed(rd, SNAP_SEC_MACHINE, SNAP_MACHINE_V, sizeof(*sm), "machine", err, errlen);
	if (!sm) {
		r = -EINVAL;
		goto out;
	}
	if (sm->vcpu_count < 1 || sm->vcpu_count > MAX_VCPUS || sm->mem_size_mib < 1 ||
	    sm->mem_size_mib > MVM_MAX_MEM_MIB || sm->ram_bytes != MiB(sm->mem_size_mib) ||
	    sm->cpu_template > CPU_TEMPLATE_PVM_SAFE || sm->cpu_template == CPU_TEMPLATE_AUTO ||
	    sm->huge_pages > HUGE_PAGES_2M || sm->nr_virtio > VIRTIO_MMIO_MAX_DEVS ||
	    sm->entropy > 1 || sm->nr_virtio < sm->nr_drives + sm->entropy)
		ERR("%s: machine section out of range (vCPUs %u, memory %u MiB, %u devices)",
		    snap_reader_name(rd), sm->vcpu_count, sm->mem_size_mib, sm->nr_virtio);
	const struct snap_vm *svm =
	    fixed(rd, SNAP_SEC_VM, SNAP_VM_V, sizeof(*svm), "VM", err, errlen);
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
	cfg->entropy = sm->entropy;
	if ((r = parse_drives(rd, sm->nr_drives, cfg, req, err, errlen)) ||
	    (r = snap_devices_config(rd, cfg, req, err, errlen)))
		goto out;
	if (config_nr_devices(cfg) != (int)sm->nr_virtio)
		ERR("%s: %u devices saved, the device sections describe %d", snap_reader_name(rd),
		    sm->nr_virtio, config_nr_devices(cfg));

	/* File: RAM maps the memory file copy-on-write. Uffd: RAM starts empty and the
	 * handler behind mem_path fills it on demand. */
	if (!req->uffd) {
		mem_fd = open(req->mem_path, O_RDONLY | O_CLOEXEC);
		if (mem_fd < 0) {
			r = -errno;
			snprintf(err, errlen, "memory file %s: %s", req->mem_path, strerror(errno));
			goto out;
		}
		uint64_t need;
		struct guest_region regions[GUEST_MEM_MAX_REGIONS];
		int nr = guest_mem_layout(sm->ram_bytes, regions);
		need = regions[nr - 1].file_off + regions[nr - 1].size;
		if ((r = memfile_check(mem_fd, req->mem_path, need, err, errlen)))
			goto out;
	}
	st->read_us = mono_us() - t0;

	/* Built exactly like the saved VM. */
	built = true;
	r = vm_create_for_restore(vm, cfg, loop, steal_fd(&mem_fd), t0);
	if (r) {
		snprintf(err, errlen, "building the VM: %s",
			 log_last_error()[0] ? log_last_error() : strerror(-r));
		goto out;
	}
	/* Before any state goes in: restoring MSRs already makes KVM touch guest RAM. */
	if (req->uffd && (r = uffd_handover(&vm->mem, req->mem_path, err, errlen)))
		goto out;
	if (vm->nr_virtio != (int)sm->nr_virtio)
		ERR("%s: %u devices saved, %d built", snap_reader_name(rd), sm->nr_virtio,
		    vm->nr_virtio);
	st->build_us = mono_us() - t0 - st->read_us;

	if ((r = vm_state_restore(&vm->kvm, svm, err, errlen)))
		goto out;
	for (uint32_t i = 0; i < sm->vcpu_count; i++) {
		struct vcpu_snapshot vs;
		char sub[200];
		if ((r = get_vcpu(rd, &vm->kvm, i, &vs, err, errlen)))
			goto out;
		if ((r = vcpu_state_restore(&vm->kvm, vm->vcpus[i].fd, &vs, sub, sizeof(sub)))) {
			snprintf(err, errlen, "vCPU %u: %s", i, sub);
			goto out;
		}
	}
	if ((r = restore_devices(vm, rd, err, errlen)) ||
	    (r = snap_devices_restore(rd, vm, err, errlen)))
		goto out;
	/* Tell the guest's kvmclock it was paused (no soft-lockup warnings); a guest
	 * without kvmclock refuses, which is fine. */
	for (int i = 0; i < vm->nr_vcpus; i++)
		__kvm_ioctl(vm->vcpus[i].fd, KVM_KVMCLOCK_CTRL, 0);
	/* Requests the guest queued before the snapshot were never kicked here. */
	for (int i = 0; i < vm->nr_virtio; i++)
		for (int q = 0; q < vm->virtio[i]->ops->num_queues; q++)
			virtio_mmio_kick(vm->virtio[i], q);
	st->state_us = mono_us() - t0 - st->read_us - st->build_us;
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
