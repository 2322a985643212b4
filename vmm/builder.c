/*
 * The boot recipe: KVM, memory, kernel, boot data, devices in a fixed order,
 * vCPUs. A fixed order is what makes a VM's layout reproducible for restore.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../virtio/balloon.h"
#include "../virtio/blk.h"
#include "../virtio/mmio.h"
#include "../virtio/net.h"
#include "../virtio/rng.h"
#include "../virtio/vsock.h"
#include "log.h"
#include "util.h"
#include "vcpu.h"
#include "vm.h"
#include "x86/bootparam.h"
#include "x86/i8042.h"
#include "x86/layout.h"
#include "x86/mptable.h"
#include "x86/pagetable.h"
#include "x86/regs.h"
#include "x86/serial.h"

struct cmdline {
	char buf[CMDLINE_MAX_SIZE];
	size_t len;
	size_t wanted; /* what the line would take without the buffer's cap */
	bool overflow;
};

static void cmdline_append(struct cmdline *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void cmdline_append(struct cmdline *c, const char *fmt, ...)
{
	va_list ap;
	if (c->len && c->len < sizeof(c->buf) - 1) {
		c->buf[c->len++] = ' ';
		c->wanted++;
	}
	va_start(ap, fmt);
	int n = vsnprintf(c->buf + c->len, sizeof(c->buf) - c->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(c->buf) - c->len) {
		c->overflow = true;
		c->wanted += (size_t)(n < 0 ? 0 : n);
		c->len = sizeof(c->buf) - 1;
	} else {
		c->len += (size_t)n;
		c->wanted += (size_t)n;
	}
}

static void i8042_reset_cb(void *opaque)
{
	struct vm *vm = opaque;
	log_info("guest reset through the i8042 controller");
	vm_request_exit(vm, MVM_EXIT_OK);
}

/* mem_fd >= 0: guest RAM is that memory file, mapped copy-on-write (restore). */
static int setup_kvm_and_memory(struct vm *vm, int mem_fd)
{
	int r = kvm_open(&vm->kvm, "/dev/kvm");
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
		return r;
	}
	uint64_t size = MiB(vm->cfg->machine.mem_size_mib);
	r = guest_mem_init(&vm->mem, size, mem_fd >= 0 ? MEM_FILE_PRIVATE : MEM_ANON, mem_fd,
			   vm->cfg->machine.huge_pages == HUGE_PAGES_2M);
	if (r) {
		log_err("guest memory (%u MiB): %s", vm->cfg->machine.mem_size_mib, strerror(-r));
		return r;
	}
	if (vm->cfg->machine.track_dirty_pages && (r = guest_mem_track_dirty(&vm->mem)))
		return r;
	for (int i = 0; i < vm->mem.nr; i++) {
		r = kvm_set_user_memory(&vm->kvm, (uint32_t)i, vm->mem.r[i].gpa, vm->mem.r[i].size,
					vm->mem.r[i].hva, vm->cfg->machine.track_dirty_pages);
		if (r)
			return r;
	}
	/*
	 * Memory slots before the irqchip and PIT: each of those registers devices
	 * on KVM's I/O buses, and every later memslot change then waits for an SRCU
	 * grace period (5-8 ms on kvm_pvm hosts; ~0.1 ms when the slot comes first).
	 */
	return kvm_setup_x86_vm(&vm->kvm);
}

static int attach_legacy(struct vm *vm)
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
	if ((r = serial_attach_input(vm->serial, vm->loop)))
		return r;
	if (vm->boot_timer_on) {
		boot_timer_init(&vm->boot_timer, vm->start_us, vm->start_cpu_us);
		r = bus_register(&vm->mmio, BOOT_TIMER_ADDR, BOOT_TIMER_SIZE, boot_timer_mmio,
				 &vm->boot_timer, "boot-timer");
	}
	return r;
}

/* One virtio-mmio slot: its window on the bus, its IRQ, its command-line entry. */
static int attach_virtio(struct vm *vm, const struct virtio_dev_ops *ops, void *dev,
			 void (*destroy)(void *), struct cmdline *cl)
{
	int slot = vm->nr_virtio;
	if (slot == VIRTIO_MMIO_MAX_DEVS)
		return -ENOSPC;
	uint64_t base = VIRTIO_MMIO_BASE + (uint64_t)slot * VIRTIO_MMIO_SIZE;
	uint32_t gsi = VIRTIO_IRQ_BASE + (uint32_t)slot;
	struct virtio_mmio *t =
	    virtio_mmio_create(ops, dev, &vm->mem, &vm->kvm, vm->loop, base, gsi);
	if (!t)
		return -ENOMEM;
	vm->virtio[slot] = t;
	vm->virtio_destroy[slot] = destroy;
	vm->nr_virtio++;
	int r = bus_register(&vm->mmio, base, VIRTIO_MMIO_SIZE, virtio_mmio_rw, t, ops->name);
	if (r)
		return r;
	cmdline_append(cl, "virtio_mmio.device=4K@%#llx:%u", (unsigned long long)base, gsi);
	return 0;
}

static void blk_destroy_cb(void *dev)
{
	blk_destroy(dev);
}

/* The root drive first, so it is /dev/vda; then the others in config order. */
static int attach_drives(struct vm *vm, struct cmdline *cl)
{
	const struct vm_config *c = vm->cfg;
	int order[MVM_MAX_DRIVES], n = 0;
	for (int i = 0; i < c->nr_drives; i++)
		if (c->drives[i].is_root_device)
			order[n++] = i;
	for (int i = 0; i < c->nr_drives; i++)
		if (!c->drives[i].is_root_device)
			order[n++] = i;

	for (int k = 0; k < n; k++) {
		const struct drive_cfg *d = &c->drives[order[k]];
		struct blk *b = blk_create(d->drive_id, d->path_on_host, d->is_read_only,
					   d->cache_type == CACHE_WRITEBACK, d->direct_io);
		if (!b)
			return -EINVAL;
		blk_set_rate_limiter(b, &d->rate_limiter, RL_BANDWIDTH | RL_OPS);
		vm->blk[order[k]] = b;
		int r = attach_virtio(vm, &blk_ops, b, blk_destroy_cb, cl);
		if (r) {
			if (vm->nr_virtio == 0 || vm->virtio[vm->nr_virtio - 1]->dev != b)
				blk_destroy(b);
			return r;
		}
		if (d->is_root_device) {
			if (d->partuuid)
				cmdline_append(cl, "root=PARTUUID=%s", d->partuuid);
			else
				cmdline_append(cl, "root=/dev/vda");
			cmdline_append(cl, d->is_read_only ? "ro" : "rw");
		}
	}
	return 0;
}

static void rng_destroy_cb(void *dev)
{
	rng_destroy(dev);
}

/* After the drives, so drive slots do not move when entropy is added. */
static int attach_entropy(struct vm *vm, struct cmdline *cl)
{
	if (!vm->cfg->entropy)
		return 0;
	struct rng *r = rng_create();
	if (!r)
		return -ENOMEM;
	rng_set_rate_limiter(r, &vm->cfg->entropy_rl);
	vm->rng = r;
	int err = attach_virtio(vm, &rng_ops, r, rng_destroy_cb, cl);
	if (err && (vm->nr_virtio == 0 || vm->virtio[vm->nr_virtio - 1]->dev != r)) {
		rng_destroy(r);
		vm->rng = NULL;
	}
	return err;
}

static void net_destroy_cb(void *dev)
{
	net_destroy(dev);
}

/* After entropy, in config order: a tap each. */
static int attach_nets(struct vm *vm, struct cmdline *cl)
{
	for (int i = 0; i < vm->cfg->nr_nets; i++) {
		const struct net_cfg *c = &vm->cfg->nets[i];
		char err[256];
		struct net *n = net_create(c->iface_id, c->host_dev_name,
					   c->has_mac ? c->guest_mac : NULL, err, sizeof(err));
		if (!n) {
			log_err("network interface %s: %s", c->iface_id, err);
			return -EINVAL;
		}
		net_set_rate_limiters(n, &c->rx_rate_limiter, RL_BANDWIDTH | RL_OPS,
				      &c->tx_rate_limiter, RL_BANDWIDTH | RL_OPS);
		vm->net[i] = n;
		int r = attach_virtio(vm, &net_ops, n, net_destroy_cb, cl);
		if (r) {
			if (vm->nr_virtio == 0 || vm->virtio[vm->nr_virtio - 1]->dev != n)
				net_destroy(n);
			vm->net[i] = NULL;
			return r;
		}
	}
	return 0;
}

static void vsock_destroy_cb(void *dev)
{
	vsock_destroy(dev);
}

/* After the network interfaces: the host listens on uds_path from here on. */
static int attach_vsock(struct vm *vm, struct cmdline *cl)
{
	const struct vsock_cfg *c = &vm->cfg->vsock;
	char err[300];
	if (!c->present)
		return 0;
	struct vsock *v = vsock_create(c->guest_cid, c->uds_path, err, sizeof(err));
	if (!v) {
		log_err("%s", err);
		return -EINVAL;
	}
	vm->vsock = v;
	int r = attach_virtio(vm, &vsock_ops, v, vsock_destroy_cb, cl);
	if (r && (vm->nr_virtio == 0 || vm->virtio[vm->nr_virtio - 1]->dev != v)) {
		vsock_destroy(v);
		vm->vsock = NULL;
	}
	return r;
}

static void balloon_destroy_cb(void *dev)
{
	balloon_destroy(dev);
}

/* Last. */
static int attach_balloon(struct vm *vm, struct cmdline *cl)
{
	if (!vm->cfg->balloon.present)
		return 0;
	struct balloon *b = balloon_create(&vm->cfg->balloon, &vm->mem);
	if (!b)
		return -ENOMEM;
	vm->balloon = b;
	int r = attach_virtio(vm, &balloon_ops, b, balloon_destroy_cb, cl);
	if (r && (vm->nr_virtio == 0 || vm->virtio[vm->nr_virtio - 1]->dev != b)) {
		balloon_destroy(b);
		vm->balloon = NULL;
	}
	return r;
}

/* Devices after the legacy ones, in the order restore rebuilds them. */
static int attach_devices(struct vm *vm, struct cmdline *cl)
{
	int r;
	if ((r = attach_drives(vm, cl)) || (r = attach_entropy(vm, cl)) ||
	    (r = attach_nets(vm, cl)) || (r = attach_vsock(vm, cl)) || (r = attach_balloon(vm, cl)))
		return r;
	return 0;
}

static int write_boot_data(struct vm *vm, struct cmdline *cl)
{
	const struct kernel_info *ki = &vm->kernel;
	struct boot_info bi = { .cmdline_addr = CMDLINE_START };
	struct e820_map map;
	int r;

	if (cl->overflow || cl->len + 1 > ki->cmdline_max) {
		log_err("kernel command line is too long (%zu bytes with mvm's device entries; the "
			"kernel accepts at most %u)",
			cl->wanted, ki->cmdline_max - 1);
		return -E2BIG;
	}
	memcpy(gpa_to_hva(&vm->mem, CMDLINE_START, cl->len + 1), cl->buf, cl->len + 1);
	bi.cmdline_size = (uint32_t)cl->len + 1;
	if (vm->cfg->boot.initrd_path) {
		r = initrd_load_file(vm->cfg->boot.initrd_path, &vm->mem, ki, &bi.initrd_addr,
				     &bi.initrd_size);
		if (r)
			return r;
	}
	if (ki->is_bzimage)
		bi.hdr = &ki->hdr;
	e820_build(&vm->mem, &map);
	if ((r = mptable_write(&vm->mem, vm->nr_vcpus)))
		return r;
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
	return r;
}

/* boot: give them CPUID, MSRs, LAPIC and the boot CPU's entry state; else bare (restore). */
static int create_vcpus(struct vm *vm, bool boot)
{
	int r;
	vm->vcpus = calloc((size_t)vm->nr_vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	for (int i = 0; i < vm->nr_vcpus; i++)
		vm->vcpus[i].fd = -1;
	if (!boot) {
		for (int i = 0; i < vm->nr_vcpus; i++)
			if ((r = vcpu_create(&vm->vcpus[i], vm, i)))
				return r;
		return 0;
	}
	vm->cpuid = kvm_supported_cpuid(&vm->kvm);
	if (!vm->cpuid)
		return -errno;
	for (int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		struct cpuid_cfg cc = { (unsigned)i, (unsigned)vm->nr_vcpus, vm->cpu_template,
					vm->kvm.tsc_deadline };
		if ((r = vcpu_create(v, vm, i)) || (r = regs_set_cpuid(v->fd, vm->cpuid, &cc)) ||
		    (r = regs_set_boot_msrs(&vm->kvm, v->fd)) || (r = regs_set_lapic_lints(v->fd)))
			return r;
		/* Application processors wait for INIT/SIPI from the boot CPU. */
		if (i == 0 && (r = regs_set_boot(v->fd, &vm->kernel, vm->gdt)))
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
			  uint64_t start_us)
{
	struct cmdline *cl = NULL;
	int r = vm_init(vm, cfg, loop, start_us);
	if (r) {
		if (mem_fd >= 0)
			close(mem_fd);
		return r;
	}
	if ((r = setup_kvm_and_memory(vm, mem_fd)))
		return r;
	vm->phase_us[0] = vm->phase_us[1] = mono_us();
	/* Same devices in the same slots as the VM that was saved; no boot data. */
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return -ENOMEM;
	if (!(r = attach_legacy(vm)) && !(r = attach_devices(vm, cl)))
		r = create_vcpus(vm, false);
	free(cl);
	vm->phase_us[2] = vm->phase_us[3] = mono_us();
	return r;
}

int vm_create(struct vm *vm, struct vm_config *cfg, struct evloop *loop, bool boot_timer,
	      uint64_t start_us)
{
	struct cmdline *cl = NULL;
	int r = vm_init(vm, cfg, loop, start_us);
	if (r)
		return r;
	vm->boot_timer_on = boot_timer;

	if ((r = setup_kvm_and_memory(vm, -1)))
		return r;
	vm->phase_us[0] = mono_us();

	if ((r = kernel_load_file(cfg->boot.kernel_image_path, &vm->mem, &vm->kernel)))
		return r;
	vm->phase_us[1] = mono_us();

	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return -ENOMEM;
	/*
	 * kvm_pvm passes the host's CPUID bits for CX16, POPCNT, XSAVE, RDRAND...
	 * through whatever KVM_SET_CPUID2 says, and its emulator cannot run those
	 * instructions: the template has the guest kernel hide them itself.
	 */
	if (vm->cpu_template == CPU_TEMPLATE_PVM_SAFE)
		cmdline_append(cl, "%s", cpu_template_cmdline(vm->cpu_template));
	cmdline_append(cl, "%s", cfg->boot.boot_args ? cfg->boot.boot_args : MVM_DEFAULT_BOOT_ARGS);
	if ((r = attach_legacy(vm)) || (r = attach_devices(vm, cl)) ||
	    (r = write_boot_data(vm, cl)))
		goto out;
	vm->phase_us[2] = mono_us();

	if ((r = create_vcpus(vm, true)))
		goto out;
	vm->phase_us[3] = mono_us();
	log_info("VM built in %llu us: kvm+memory %llu, kernel %llu, devices+boot data %llu, "
		 "vcpus %llu",
		 (unsigned long long)(vm->phase_us[3] - vm->start_us),
		 (unsigned long long)(vm->phase_us[0] - vm->start_us),
		 (unsigned long long)(vm->phase_us[1] - vm->phase_us[0]),
		 (unsigned long long)(vm->phase_us[2] - vm->phase_us[1]),
		 (unsigned long long)(vm->phase_us[3] - vm->phase_us[2]));
out:
	free(cl);
	return r;
}
