/* One microVM: KVM handles, guest RAM, buses, devices, vCPUs, the event loop. */
#ifndef MVM_VM_H
#define MVM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "boot_timer.h"
#include "bus.h"
#include "config.h"
#include "eventloop.h"
#include "irq.h"
#include "kvm.h"
#include "memory.h"
#include "vmgenid.h"
#include "x86/kernel.h"

struct serial;
struct i8042;
struct virtio_mmio;
struct vcpu;

/* A device of the VM, in virtio-mmio slot order. */
struct vm_device {
	const struct device_type *type;
	void *cfg; /* its config, in the VM's vm_config: borrowed */
	void *dev;
	struct virtio_mmio *t;
};

/* Process exit codes, as documented in the README. */
enum mvm_exit {
	MVM_EXIT_OK = 0,
	MVM_EXIT_ERROR = 1,	    /* the monitor failed */
	MVM_EXIT_GUEST_ERROR = 2,   /* KVM could not run the guest (internal error, bad entry) */
	MVM_EXIT_BAD_SYSCALL = 148, /* a seccomp filter stopped a thread */
	MVM_EXIT_BAD_CONFIG = 152,
	MVM_EXIT_ARG_PARSING = 153,
};

enum vm_state { VM_NOT_STARTED, VM_RUNNING, VM_PAUSED, VM_EXITED };

struct vm {
	struct kvm kvm;
	struct guest_mem mem;
	struct bus pio, mmio;
	struct evloop *loop;   /* the vmm thread's loop, borrowed */
	struct vm_config *cfg; /* borrowed */
	struct kernel_info kernel;
	uint64_t gdt[4];

	struct irq_line serial_irq, kbd_irq;
	struct serial *serial;
	struct i8042 *i8042;
	struct boot_timer boot_timer;
	bool boot_timer_on;
	/* ACPI tables instead of the MP table, devices in the DSDT, VMGenID. */
	bool acpi;
	struct vmgenid vmgenid;
	int serial_in_fd, serial_out_fd;
	struct vm_device devs[MVM_MAX_DEVICES];
	int nr_devs;
	/* Set by the builder: the transport, then the device. */
	void (*destroy_device)(struct vm_device *d);
	uint64_t devmem_next;		/* where the next device memory region goes */
	uint32_t next_slot;		/* the next free KVM memory slot */
	struct kvm_cpuid2 *cpuid;	/* KVM's supported set */
	enum cpu_template cpu_template; /* resolved */

	struct vcpu *vcpus;
	int nr_vcpus;

	/* vCPU -> vmm thread: "an exit was requested" */
	int exit_efd;
	atomic_int exit_code;
	atomic_bool exiting;

	/* pause/resume handshake between the vmm thread and vCPU threads */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	int nr_paused;
	bool pause_req;
	int nr_ready; /* vCPU threads with their seccomp filter on */
	bool go;      /* the vmm thread's filter is on: vCPUs may run */

	enum vm_state state;
	/* The generation (snapshot/binding.h) of the snapshot this VM last wrote
	 * or was loaded from: what its next diff snapshot applies to. */
	uint8_t snap_gen[16];
	uint64_t start_us, start_cpu_us;
	uint64_t phase_us[4]; /* build, kernel load, devices, vcpus started */
	/* A helper thread a restore started (the working set's prefetch),
	 * joined before RAM is unmapped, and what it did. */
	pthread_t helper;
	bool helper_on;
	void *helper_arg; /* freed after the join */
	_Atomic uint64_t prefetch_pages, prefetch_us;
};

struct err;
/* A host mapping (a pmem file) into the guest's device memory, above RAM,
 * at the next free address: *gpa gets it. readonly: guest writes fault. */
int vm_map_devmem(struct vm *vm, void *hva, uint64_t size, bool readonly, uint64_t *gpa,
		  struct err *e);
int vm_start(struct vm *vm);
/* Stop vCPUs, free everything; safe on a partly built VM. */
void vm_destroy(struct vm *vm);
/* From any thread: ask the VM to stop with this exit code (first caller wins). */
void vm_request_exit(struct vm *vm, int code);
int vm_pause(struct vm *vm);
int vm_resume(struct vm *vm);
/* Ctrl-Alt-Del through the i8042. */
int vm_send_ctrl_alt_del(struct vm *vm);

#endif
