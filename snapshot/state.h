/*
 * What a snapshot's state file holds: one section per piece, each a
 * fixed-width, versioned struct (or a counted array of them). KVM's own UAPI
 * structs are stored as they are: their layout is ABI on one architecture.
 */
#ifndef MVM_SNAPSHOT_STATE_H
#define MVM_SNAPSHOT_STATE_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "../virtio/mmio.h"
#include "../vmm/config.h"
#include "../vmm/vmgenid.h"
#include "../vmm/x86/i8042.h"
#include "../vmm/x86/serial.h"

enum snap_section {
	SNAP_SEC_MACHINE = 1,	     /* struct snap_machine */
	SNAP_SEC_VM = 3,	     /* struct snap_vm */
	SNAP_SEC_SERIAL = 4,	     /* struct serial_state */
	SNAP_SEC_I8042 = 5,	     /* struct i8042_state */
	SNAP_SEC_BOOT = 6,	     /* optional: the boot source (boot_record.c) */
	SNAP_SEC_MEMFILE = 7,	     /* struct snap_binding (binding.h) */
	SNAP_SEC_VMGENID = 8,	     /* optional: struct vmgenid_state (ACPI guests) */
	SNAP_SEC_VCPU = 0x100,	     /* + vCPU index: struct snap_vcpu */
	SNAP_SEC_VCPU_MSRS = 0x200,  /* + vCPU index: struct kvm_msr_entry[] */
	SNAP_SEC_VCPU_CPUID = 0x300, /* + vCPU index: struct kvm_cpuid_entry2[] */
	SNAP_SEC_VCPU_XSAVE = 0x400, /* + vCPU index: the XSAVE area */
	SNAP_SEC_VIRTIO = 0x500,     /* + slot: struct virtio_mmio_state */
	SNAP_SEC_DEVICE = 0x600,     /* + slot: struct snap_device, then the type's record */
};

/* Version 3 added flags; a version 2 section (32 bytes) is read as flags 0. */
#define SNAP_MACHINE_V	    3
#define SNAP_MACHINE_V2_LEN 32
#define SNAP_MACHINE_NO_PIT (1u << 0) /* the VM had no i8254 PIT */
struct snap_machine {
	uint32_t vcpu_count;
	uint32_t mem_size_mib;
	uint32_t cpu_template; /* resolved enum cpu_template */
	uint32_t track_dirty_pages;
	uint32_t huge_pages;
	uint32_t nr_devices; /* virtio-mmio slots in use */
	uint64_t ram_bytes;  /* for the memory file check */
	uint32_t flags;	     /* SNAP_MACHINE_*, unknown bits refused */
	uint32_t reserved;   /* 0 */
};

#define SNAP_BOOT_V    1 /* kernel, initrd, boot_args: three wire strings */
#define SNAP_MEMFILE_V 1 /* struct snap_binding: the memory file's generation and length */

#define SNAP_VM_V 1
struct snap_vm {
	struct kvm_irqchip pic_master;
	struct kvm_irqchip pic_slave;
	struct kvm_irqchip ioapic;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
};

#define SNAP_VCPU_V 1
struct snap_vcpu {
	struct kvm_mp_state mp_state;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs debugregs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	uint32_t has_xcrs;
	uint32_t reserved;
};

#define SNAP_VIRTIO_V 1 /* struct virtio_mmio_state (virtio/mmio.h) */

/*
 * A device's record: its type's name and record version, then cfg_len bytes
 * of config, then its state (the rest of the section), both written by the
 * type (vmm/device.h: save, load_cfg, load_state).
 */
struct snap_device {
	char type[16];
	uint32_t version;
	uint32_t cfg_len;
};

struct vm;
struct vm_config;
struct snapshot_load;
struct snap_writer;
struct snap_reader;
struct err;
/* devices.c: the device parts of create and restore. */
/* Before anything is saved: each type's snapshot_prepare (vsock resets). */
void snap_devices_prepare(struct vm *vm);
/* One record per device, in slot order. */
int snap_devices_save(struct snap_writer *w, struct vm *vm, struct err *e);
/* cfg's devices from the records (nr of them), checked, the load request's
 * overrides applied. */
int snap_devices_config(const struct snap_reader *rd, uint32_t nr, struct vm_config *cfg,
			const struct snapshot_load *req, struct err *e);
/* After the transports are restored: each device's state. */
int snap_devices_restore(const struct snap_reader *rd, struct vm *vm, struct err *e);

/* boot_record.c: the boot source, kept for GET /vm/config after a restore. */
int snap_boot_save(struct snap_writer *w, const struct boot_cfg *b);
/* Absent (an older snapshot): 0 and *b untouched. */
int snap_boot_load(const struct snap_reader *rd, struct boot_cfg *b, struct err *e);

#endif
