/*
 * The boot recipe: KVM, memory, kernel, boot data, devices in a fixed order,
 * vCPUs. A fixed order is what makes a VM's layout reproducible for restore.
 * Devices come from the registry (virtio/registry.c): this file names none.
 */
#include "builder.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/err.h"
#include "../lib/log.h"
#include "../lib/util.h"
#include "../virtio/mmio.h"
#include "../virtio/registry.h"
#include "acpi_boot.h"
#include "../vmm/cmdline.h"
#include "../vmm/vcpu.h"
#include "../vmm/x86/bootparam.h"
#include "../vmm/x86/i8042.h"
#include "../vmm/x86/layout.h"
#include "../vmm/x86/pagetable.h"
#include "../vmm/x86/regs.h"
#include "../vmm/x86/serial.h"

static void i8042_reset_cb(void *opaque)
{
	struct vm *vm = opaque;
	log_info("guest reset through the i8042 controller");
	vm_request_exit(vm, MVM_EXIT_OK);
}

/* The sentence an operator acts on when the host's 2 MiB pool is too small
 * (have: what it has free, or -1 when /sys could not say). */
static int hugepages_short(struct err *e, uint64_t need, int64_t have)
{
	char has[64] = "too few";
	if (have >= 0)
		snprintf(has, sizeof(has), "%lld", (long long)have);
	return err_set(e, -ENOMEM,
		       "huge_pages 2M: guest RAM needs %llu free 2 MiB huge pages and the host "
		       "has %s; raise /proc/sys/vm/nr_hugepages by %s%llu (echo N > "
		       "/proc/sys/vm/nr_hugepages as root)",
		       (unsigned long long)need, has, have >= 0 ? "" : "up to ",
		       (unsigned long long)(have >= 0 ? need - (uint64_t)have : need));
}

/* hugetlbfs RAM: the pool is looked at before anything is built. */
static int check_hugepages(const struct vm *vm, struct err *e)
{
	uint64_t need = MiB(vm->cfg->machine.mem_size_mib) / HUGE_PAGE_2M, have;
	if (vm->cfg->machine.huge_pages != HUGE_PAGES_2M)
		return 0;
	/* Unreadable (a jail without /sys): the mapping itself fails instead. */
	if (guest_mem_hugepages_available(&have) || have >= need)
		return 0;
	return hugepages_short(e, need, (int64_t)have);
}

static enum mem_backing ram_backing(const struct vm *vm, int mem_fd)
{
	if (mem_fd >= 0)
		return MEM_FILE_PRIVATE;
	return vm->cfg->machine.huge_pages == HUGE_PAGES_2M ? MEM_HUGETLB : MEM_ANON;
}

/* mem_fd >= 0: guest RAM is that memory file, mapped copy-on-write (restore). */
static int setup_kvm_and_memory(struct vm *vm, int mem_fd, struct err *e)
{
	int r = check_hugepages(vm, e);
	if (!r)
		r = kvm_open(&vm->kvm, "/dev/kvm", e);
	if (r) {
		if (mem_fd >= 0)
			close(mem_fd);
		return r;
	}
	vm->cpu_template = cpu_template_resolve(vm->cfg->machine.cpu_template, vm->kvm.is_pvm);
	if (vm->cfg->machine.cpu_template == CPU_TEMPLATE_AUTO && vm->kvm.is_pvm)
		log_info("host KVM is kvm_pvm: using the %s CPU template",
			 cpu_template_name(vm->cpu_template));
	if ((r = kvm_create_vm(&vm->kvm))) {
		if (mem_fd >= 0)
			close(mem_fd);
		return err_set(e, r, "KVM_CREATE_VM: %s", strerror(-r));
	}
	uint64_t size = MiB(vm->cfg->machine.mem_size_mib);
	enum mem_backing backing = ram_backing(vm, mem_fd);
	r = guest_mem_init(&vm->mem, size, backing, mem_fd,
			   vm->cfg->machine.huge_pages == HUGE_PAGES_THP);
	if (r == -ENOMEM && backing == MEM_HUGETLB)
		return hugepages_short(e, size / HUGE_PAGE_2M, -1);
	if (r)
		return err_set(e, r, "guest memory (%u MiB%s): %s", vm->cfg->machine.mem_size_mib,
			       backing == MEM_HUGETLB ? " in 2 MiB huge pages" : "", strerror(-r));
	if (vm->cfg->machine.track_dirty_pages && (r = guest_mem_track_dirty(&vm->mem)))
		return err_set(e, r, "dirty page tracking: %s", strerror(-r));
	for (int i = 0; i < vm->mem.nr; i++) {
		r = kvm_set_user_memory(
		    &vm->kvm, (uint32_t)i, vm->mem.r[i].gpa, vm->mem.r[i].size, vm->mem.r[i].hva,
		    vm->cfg->machine.track_dirty_pages ? KVM_MEM_LOG_DIRTY_PAGES : 0);
		if (r)
			return err_set(e, r, "KVM_SET_USER_MEMORY_REGION slot %d: %s", i,
				       strerror(-r));
	}
	/*
	 * Memory slots before the irqchip and PIT: each of those registers devices
	 * on KVM's I/O buses, and every later memslot change then waits for an SRCU
	 * grace period (5-8 ms on kvm_pvm hosts; ~0.1 ms when the slot comes first).
	 */
	/* Device memory (pmem) goes above RAM, from the next GiB up. */
	uint64_t ram_end = vm->mem.r[vm->mem.nr - 1].gpa + vm->mem.r[vm->mem.nr - 1].size;
	vm->devmem_next = ALIGN_UP(MAX(ram_end, RAM_HIGH_START), 1ULL << 30);
	vm->next_slot = (uint32_t)vm->mem.nr;
	if ((r = kvm_setup_x86_vm(&vm->kvm)))
		return err_set(e, r, "the VM's irqchip: %s", strerror(-r));
	return 0;
}

static int attach_legacy_devices(struct vm *vm)
{
	int r;
	if ((r = irq_line_init(&vm->serial_irq, &vm->kvm, SERIAL_COM1_IRQ)) ||
	    (r = irq_line_init(&vm->kbd_irq, &vm->kvm, I8042_KBD_IRQ)))
		return r;
	vm->serial = serial_create(vm->serial_in_fd, vm->serial_out_fd, &vm->serial_irq);
	vm->i8042 = i8042_create(&vm->kbd_irq, i8042_reset_cb, vm);
	if (!vm->serial || !vm->i8042)
		return -ENOMEM;
	if ((r = bus_register(&vm->pio, SERIAL_COM1_PORT, 8, serial_pio, vm->serial, "serial")) ||
	    (r = bus_register(&vm->pio, I8042_DATA_PORT, I8042_CMD_PORT - I8042_DATA_PORT + 1,
			      i8042_pio, vm->i8042, "i8042")))
		return r;
	if ((r = serial_attach(vm->serial, vm->loop)))
		return r;
	if (vm->acpi && (r = vmgenid_attach(&vm->vmgenid, &vm->kvm)))
		return r;
	if (vm->boot_timer_on) {
		boot_timer_init(&vm->boot_timer, vm->start_us, vm->start_cpu_us);
		r = bus_register(&vm->mmio, BOOT_TIMER_ADDR, BOOT_TIMER_SIZE, boot_timer_mmio,
				 &vm->boot_timer, "boot-timer");
	}
	return r;
}

static int attach_legacy(struct vm *vm, struct err *e)
{
	int r = attach_legacy_devices(vm);
	return r ? err_set(e, r, "serial, i8042 and boot timer: %s", strerror(-r)) : 0;
}

static void destroy_device(struct vm_device *d)
{
	if (d->t)
		virtio_mmio_destroy(d->t);
	if (d->dev)
		d->type->destroy(d->dev);
	memset(d, 0, sizeof(*d));
}

/* One device in the next virtio-mmio slot: its window on the bus, its IRQ,
 * its command-line entry and whatever words its type adds. */
static int attach_device(struct vm *vm, const struct dev_cfg *dc, struct cmdline *cl, struct err *e)
{
	const struct device_type *t = dc->type;
	struct dev_env env = { &vm->mem, vm->cfg->machine.mem_size_mib, vm->loop, vm };
	int slot = vm->nr_devs;
	if (slot == VIRTIO_MMIO_MAX_DEVS)
		return err_inval(e, "too many devices for the %d virtio-mmio slots",
				 VIRTIO_MMIO_MAX_DEVS);
	struct vm_device *d = &vm->devs[slot];
	*d = (struct vm_device){ .type = t, .cfg = dc->cfg };
	err_clear(e);
	d->dev = t->create(dc->cfg, &env, e);
	if (!d->dev) {
		int r = e && e->code ? e->code : -EINVAL;
		memset(d, 0, sizeof(*d));
		return r;
	}
	vm->nr_devs++; /* from here destroy_device() cleans up */
	uint64_t base = VIRTIO_MMIO_BASE + (uint64_t)slot * VIRTIO_MMIO_SIZE;
	uint32_t gsi = VIRTIO_IRQ_BASE + (uint32_t)slot;
	d->t = virtio_mmio_create(t->ops, d->dev, &vm->mem, &vm->kvm, vm->loop, base, gsi);
	if (!d->t)
		return err_set(e, -ENOMEM, "%s: its virtio-mmio transport could not be made",
			       t->name);
	int r = bus_register(&vm->mmio, base, VIRTIO_MMIO_SIZE, virtio_mmio_rw, d->t, t->ops->name);
	if (r)
		return err_set(e, r, "%s: MMIO window %#llx: %s", t->name, (unsigned long long)base,
			       strerror(-r));
	if (!vm->acpi) /* else the DSDT names it: announced twice, probed twice */
		cmdline_append(cl, "virtio_mmio.device=4K@%#llx:%u", (unsigned long long)base, gsi);
	if (t->boot_args)
		t->boot_args(dc->cfg, cl);
	return 0;
}

/*
 * Boot: the registry's order, within a type the type's rank (the root drive
 * first), then config order. Restore: the config already is in slot order
 * (it was read from the snapshot), so it is kept as it is.
 */
static int attach_devices(struct vm *vm, struct cmdline *cl, bool keep_order, struct err *e)
{
	const struct vm_config *c = vm->cfg;
	int r;
	vm->destroy_device = destroy_device;
	if (keep_order) {
		for (int i = 0; i < c->nr_devs; i++)
			if ((r = attach_device(vm, &c->devs[i], cl, e)))
				return r;
		return 0;
	}
	for (unsigned k = 0; k < nr_device_types; k++) {
		const struct device_type *t = device_types[k];
		for (int rank = 0; rank < 2; rank++) {
			for (int i = 0; i < c->nr_devs; i++) {
				const struct dev_cfg *d = &c->devs[i];
				if (d->type != t || (t->rank ? t->rank(d->cfg) : 0) != rank)
					continue;
				if ((r = attach_device(vm, d, cl, e)))
					return r;
			}
		}
	}
	return 0;
}

static int write_boot_data(struct vm *vm, struct cmdline *cl, struct err *e)
{
	const struct kernel_info *ki = &vm->kernel;
	struct boot_info bi = { .cmdline_addr = CMDLINE_START };
	struct e820_map map;
	int r;

	if (cl->overflow || cl->len + 1 > ki->cmdline_max)
		return err_set(e, -E2BIG,
			       "kernel command line is too long (%zu bytes with mvm's device "
			       "entries; the kernel accepts at most %u)",
			       cl->wanted, ki->cmdline_max - 1);
	memcpy(gpa_to_hva(&vm->mem, CMDLINE_START, cl->len + 1), cl->buf, cl->len + 1);
	bi.cmdline_size = (uint32_t)cl->len + 1;
	if (vm->cfg->boot.initrd_path) {
		r = initrd_load_file(vm->cfg->boot.initrd_path, &vm->mem, ki, &bi.initrd_addr,
				     &bi.initrd_size, e);
		if (r)
			return r;
	}
	if (ki->is_bzimage)
		bi.hdr = &ki->hdr;
	e820_build(&vm->mem, &map);
	if ((r = acpi_boot_write(vm, &map, &bi)))
		return err_set(e, r, "boot data (%s): %s", vm->acpi ? "ACPI tables" : "MP table",
			       strerror(-r));
	if (ki->mode == ENTRY_PVH) {
		r = pvh_info_write(&vm->mem, &bi, &map);
	} else {
		r = bootparams_write(&vm->mem, &bi, &map);
		if (!r)
			r = pagetables_write(&vm->mem);
	}
	if (!r)
		r = gdt_write(&vm->mem, ki->mode == ENTRY_LINUX64, vm->gdt);
	log_debug("kernel command line: %s", cl->buf);
	return r ? err_set(e, r, "boot data (zero page, page tables): %s", strerror(-r)) : 0;
}

/* The CPU template of a boot: the custom one, else Firecracker's static one, else none. */
static const struct cpu_tmpl *boot_template(const struct vm *vm)
{
	return vm->cfg->cpu_config ? vm->cfg->cpu_config
				   : cpu_tmpl_static(vm->cfg->machine.cpu_template);
}

/* What the template needs from this host, checked before anything is built. */
static int check_cpu_template(struct vm *vm, struct err *e)
{
	const struct cpu_tmpl *t = boot_template(vm);
	if (!t)
		return 0;
	if (!vm->cfg->cpu_config && !cpu_tmpl_vendor_ok(vm->cpuid, vm->cfg->machine.cpu_template))
		return err_inval(e, "Failed to get CPU template: CPU vendor mismatched between "
				    "actual CPU and CPU template.");
	for (unsigned i = 0; i < t->nr_caps; i++)
		if (!t->caps[i].remove &&
		    __kvm_ioctl(vm->kvm.sys_fd, KVM_CHECK_EXTENSION, t->caps[i].cap) <= 0)
			return err_inval(e, "Missing KVM capabilities: %u (kvm_capabilities)",
					 t->caps[i].cap);
	return 0;
}

/* boot: give them CPUID, MSRs, LAPIC and the boot CPU's entry state; else bare (restore). */
static int create_vcpus(struct vm *vm, bool boot, struct err *e)
{
	const struct cpu_tmpl *t = boot ? boot_template(vm) : NULL;
	int r;
	vm->vcpus = calloc((size_t)vm->nr_vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return err_set(e, -ENOMEM, "vCPUs: out of memory");
	for (int i = 0; i < vm->nr_vcpus; i++)
		vm->vcpus[i].fd = -1;
	for (int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		struct cpuid_cfg cc = { .vcpu_id = (unsigned)i,
					.nr_vcpus = (unsigned)vm->nr_vcpus,
					.tmpl = vm->cpu_template,
					.tsc_deadline = vm->kvm.tsc_deadline,
					.smt = vm->cfg->machine.smt };
		if ((r = vcpu_create(v, vm, i)))
			return err_set(e, r, "vCPU %d: %s", i, strerror(-r));
		if (!boot)
			continue;
		if ((r = regs_set_cpuid(v->fd, vm->cpuid, &cc, t)) ||
		    (r = regs_set_boot_msrs(&vm->kvm, v->fd)) ||
		    (r = regs_set_lapic_lints(v->fd)) ||
		    /* Application processors wait for INIT/SIPI from the boot CPU. */
		    (i == 0 && (r = regs_set_boot(v->fd, &vm->kernel, vm->gdt))))
			return err_set(e, r, "vCPU %d: %s", i, strerror(-r));
		if ((r = regs_apply_msr_mods(v->fd, t, e)))
			return r;
	}
	return 0;
}

static void on_exit_event(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	uint64_t v;
	(void)events;
	ssize_t r = read(vm->exit_efd, &v, sizeof(v));
	(void)r;
}

/* What boot and restore share: a zeroed VM with its fds at -1 and an exit eventfd. */
static int vm_init(struct vm *vm, struct vm_config *cfg, struct evloop *loop, uint64_t start_us)
{
	int in_fd = vm->serial_in_fd, out_fd = vm->serial_out_fd;
	memset(vm, 0, sizeof(*vm));
	vm->serial_in_fd = in_fd;
	vm->serial_out_fd = out_fd;
	vm->start_us = start_us ? start_us : mono_us();
	vm->start_cpu_us = cpu_us();
	vm->cfg = cfg;
	vm->loop = loop;
	vm->nr_vcpus = (int)cfg->machine.vcpu_count;
	vm->kvm.sys_fd = vm->kvm.vm_fd = -1;
	vm->mem.fd = -1;
	vm->serial_irq.fd = vm->kbd_irq.fd = -1;
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	vm->exit_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->exit_efd < 0)
		return -errno;
	return evloop_add(loop, vm->exit_efd, EPOLLIN, on_exit_event, vm);
}

int vm_create_for_restore(struct vm *vm, struct vm_config *cfg, struct evloop *loop, int mem_fd,
			  uint64_t start_us, struct err *e)
{
	struct cmdline *cl = NULL;
	int r = vm_init(vm, cfg, loop, start_us);
	if (r) {
		if (mem_fd >= 0)
			close(mem_fd);
		return err_set(e, r, "the VM's exit eventfd: %s", strerror(-r));
	}
	if ((r = setup_kvm_and_memory(vm, mem_fd, e)))
		return r;
	vm->phase_us[0] = vm->phase_us[1] = mono_us();
	vm->acpi = cfg->machine.acpi == ACPI_ON; /* the snapshot had a VMGenID */
	if ((r = acpi_boot_pit(vm, e)))		 /* cfg says what the saved VM had */
		return r;
	/* Same devices in the same slots as the VM that was saved; no boot data. */
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return err_set(e, -ENOMEM, "out of memory");
	if (!(r = attach_legacy(vm, e)) && !(r = attach_devices(vm, cl, true, e)))
		r = create_vcpus(vm, false, e);
	free(cl);
	vm->phase_us[2] = vm->phase_us[3] = mono_us();
	return r;
}

/* What a prepared VM was made from: the machine and the kernel file as they were. */
static void prep_key_of(const struct vm_config *cfg, const struct stat *kst, struct vm_prep_key *k)
{
	memset(k, 0, sizeof(*k));
	k->mem_size_mib = cfg->machine.mem_size_mib;
	k->huge_pages = cfg->machine.huge_pages;
	k->track_dirty_pages = cfg->machine.track_dirty_pages;
	k->cpu_template = cfg->machine.cpu_template;
	k->dev = kst->st_dev;
	k->ino = kst->st_ino;
	k->size = kst->st_size;
	k->mtime = kst->st_mtim;
	snprintf(k->kernel, sizeof(k->kernel), "%s", cfg->boot.kernel_image_path);
}

static bool kernel_stat(const struct vm_config *cfg, struct stat *st)
{
	return cfg->boot.kernel_image_path &&
	       strlen(cfg->boot.kernel_image_path) < sizeof(((struct vm_prep_key *)0)->kernel) &&
	       stat(cfg->boot.kernel_image_path, st) == 0;
}

bool vm_prepared_for(const struct vm_prep_key *k, const struct vm_config *cfg)
{
	struct stat st;
	struct vm_prep_key now;
	if (!kernel_stat(cfg, &st))
		return false;
	prep_key_of(cfg, &st, &now);
	return !memcmp(&now, k, sizeof(now));
}

/* KVM, guest RAM, the host's CPUID and the kernel in RAM: what depends only on
 * the machine and the kernel file. */
static int build_base(struct vm *vm, struct err *e)
{
	int r;
	if ((r = setup_kvm_and_memory(vm, -1, e)))
		return r;
	if (!(vm->cpuid = kvm_supported_cpuid(&vm->kvm)))
		return err_set(e, -errno, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
	vm->phase_us[0] = mono_us();
	if ((r = kernel_load_file(vm->cfg->boot.kernel_image_path, &vm->mem, &vm->kernel, e)))
		return r;
	vm->phase_us[1] = mono_us();
	return 0;
}

int vm_prepare_init(struct vm *vm, struct vm_config *cfg, struct evloop *loop, struct err *e)
{
	int r = vm_init(vm, cfg, loop, 0);
	return r ? err_set(e, r, "the VM's exit eventfd: %s", strerror(-r)) : 0;
}

int vm_prepare_build(struct vm *vm, struct vm_prep_key *key, struct err *e)
{
	struct stat st;
	int r;
	if (!kernel_stat(vm->cfg, &st))
		return err_set(e, -ENOENT, "the kernel file cannot be read");
	if ((r = build_base(vm, e)))
		return r;
	prep_key_of(vm->cfg, &st, key);
	log_info("VM prepared before InstanceStart in %llu us: kvm+memory %llu, kernel %llu",
		 (unsigned long long)(vm->phase_us[1] - vm->start_us),
		 (unsigned long long)(vm->phase_us[0] - vm->start_us),
		 (unsigned long long)(vm->phase_us[1] - vm->phase_us[0]));
	return 0;
}

int vm_create(struct vm *vm, struct vm_config *cfg, struct evloop *loop, bool boot_timer,
	      bool prepared, uint64_t start_us, struct err *e)
{
	struct cmdline *cl = NULL;
	int r;
	if (prepared) {
		/* Built up to the kernel by vm_prepare_build; the clock starts now. */
		vm->cfg = cfg;
		vm->start_us = start_us ? start_us : mono_us();
		vm->start_cpu_us = cpu_us();
		vm->nr_vcpus = (int)cfg->machine.vcpu_count;
		vm->phase_us[0] = vm->phase_us[1] = mono_us();
	} else {
		if ((r = vm_init(vm, cfg, loop, start_us)))
			return err_set(e, r, "the VM's exit eventfd: %s", strerror(-r));
		if ((r = build_base(vm, e)))
			return r;
	}
	vm->boot_timer_on = boot_timer;
	acpi_boot_choose(vm);
	if ((r = acpi_boot_pit(vm, e)))
		return r;
	if ((r = check_cpu_template(vm, e)))
		return r;

	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return err_set(e, -ENOMEM, "out of memory");
	/*
	 * kvm_pvm passes the host's CPUID bits for CX16, POPCNT, XSAVE, RDRAND...
	 * through whatever KVM_SET_CPUID2 says, and its emulator cannot run those
	 * instructions: the template has the guest kernel hide them itself.
	 */
	if (vm->cpu_template == CPU_TEMPLATE_PVM_SAFE)
		cmdline_append(cl, "%s", cpu_template_cmdline(vm->cpu_template));
	cmdline_append(cl, "%s", cfg->boot.boot_args ? cfg->boot.boot_args : MVM_DEFAULT_BOOT_ARGS);
	if ((r = attach_legacy(vm, e)) || (r = attach_devices(vm, cl, false, e)) ||
	    (r = write_boot_data(vm, cl, e)))
		goto out;
	vm->phase_us[2] = mono_us();

	if ((r = create_vcpus(vm, true, e)))
		goto out;
	vm->phase_us[3] = mono_us();
	log_info("VM built in %llu us%s: kvm+memory %llu, kernel %llu, devices+boot data %llu, "
		 "vcpus %llu",
		 (unsigned long long)(vm->phase_us[3] - vm->start_us),
		 prepared ? " (prepared before InstanceStart)" : "",
		 (unsigned long long)(vm->phase_us[0] - vm->start_us),
		 (unsigned long long)(vm->phase_us[1] - vm->phase_us[0]),
		 (unsigned long long)(vm->phase_us[2] - vm->phase_us[1]),
		 (unsigned long long)(vm->phase_us[3] - vm->phase_us[2]));
out:
	free(cl);
	return r;
}
