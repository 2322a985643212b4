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

#include "../vmm/x86/i8042.h"
#include "../vmm/x86/serial.h"
#include "../virtio/balloon.h"
#include "../virtio/mmio.h"
#include "../vmm/config.h"

enum snap_section {
	SNAP_SEC_MACHINE = 1,	     /* struct snap_machine */
	SNAP_SEC_DRIVES = 2,	     /* struct snap_drive + path bytes, repeated */
	SNAP_SEC_VM = 3,	     /* struct snap_vm */
	SNAP_SEC_SERIAL = 4,	     /* struct serial_state */
	SNAP_SEC_I8042 = 5,	     /* struct i8042_state */
	SNAP_SEC_DEVICES = 6,	     /* struct snap_devices (absent: none of them) */
	SNAP_SEC_VCPU = 0x100,	     /* + vCPU index: struct snap_vcpu */
	SNAP_SEC_VCPU_MSRS = 0x200,  /* + vCPU index: struct kvm_msr_entry[] */
	SNAP_SEC_VCPU_CPUID = 0x300, /* + vCPU index: struct kvm_cpuid_entry2[] */
	SNAP_SEC_VCPU_XSAVE = 0x400, /* + vCPU index: the XSAVE area */
	SNAP_SEC_VIRTIO = 0x500,     /* + slot: struct snap_virtio */
};

#define SNAP_MACHINE_V 1
struct snap_machine {
	uint32_t vcpu_count;
	uint32_t mem_size_mib;
	uint32_t cpu_template; /* resolved enum cpu_template */
	uint32_t track_dirty_pages;
	uint32_t huge_pages;
	uint32_t nr_drives;
	uint32_t nr_virtio;
	uint32_t entropy;   /* a virtio-rng device after the drives */
	uint64_t ram_bytes; /* for the memory file check */
};

#define SNAP_DRIVE_V	     1
#define SNAP_DRIVE_ROOT	     1
#define SNAP_DRIVE_RO	     2
#define SNAP_DRIVE_WRITEBACK 4
#define SNAP_DRIVE_DIRECT    8
struct snap_drive {
	char drive_id[68];
	uint32_t flags;
	uint32_t path_len;     /* bytes of path that follow, no NUL */
	uint32_t partuuid_len; /* then bytes of partuuid */
};

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

/* The devices after the drives and entropy (network interfaces, vsock,
 * balloon, in that slot order) and every rate limiter's buckets. */
#define SNAP_DEVICES_V 1
struct snap_net {
	char iface_id[68];
	char host_dev_name[16];
	uint8_t guest_mac[6];
	uint8_t has_mac;
	uint8_t reserved;
	struct rate_limiter_cfg rx, tx;
};

struct snap_devices {
	uint32_t nr_nets;
	uint32_t vsock;
	uint32_t balloon;
	uint32_t vsock_cid;
	char vsock_uds_path[108];
	uint32_t balloon_amount_mib;
	uint32_t balloon_deflate_on_oom;
	uint32_t balloon_stats_s;
	uint32_t reserved;
	struct balloon_state balloon_state;
	struct snap_net nets[MVM_MAX_NETS];
	struct rate_limiter_cfg entropy_rl;
	struct rate_limiter_cfg drive_rl[MVM_MAX_DRIVES];
};

struct vm;
struct vm_config;
struct snapshot_load;
struct snap_writer;
struct snap_reader;
/* devices.c: the device parts of create and restore. */
/* Before the transports are saved: reset vsock (Firecracker's behaviour), add the section. */
int snap_devices_save(struct snap_writer *w, struct vm *vm);
/* Fill cfg's devices from the section, with network_overrides / vsock_override applied. */
int snap_devices_config(const struct snap_reader *rd, struct vm_config *cfg,
			const struct snapshot_load *req, char *err, size_t errlen);
/* After the transports are restored: device state (the balloon's). */
int snap_devices_restore(const struct snap_reader *rd, struct vm *vm, char *err, size_t errlen);

#endif
