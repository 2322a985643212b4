/* The KVM system and VM file descriptors, and checked ioctl wrappers. */
#ifndef MVM_KVM_H
#define MVM_KVM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/types.h>

struct kvm_cpuid2;
struct kvm_msr_list;

struct kvm {
	int sys_fd;
	int vm_fd;
	int run_size;		       /* mmap size of struct kvm_run */
	bool is_pvm;		       /* host KVM is the kvm_pvm software hypervisor */
	bool tsc_deadline;	       /* KVM_CAP_TSC_DEADLINE_TIMER: the LAPIC has it */
	bool has_pit;		       /* kvm_create_pit made the in-kernel i8254 */
	struct kvm_msr_list *msr_list; /* KVM_GET_MSR_INDEX_LIST */
	pid_t holder;		       /* kvm_hold_past_exit's child, 0: none */
	void *holder_stack;
	bool leave_to_holder; /* kvm_close: the holder tears the VM down */
};

/* Raw ioctl: returns what ioctl() returned. */
#define __kvm_ioctl(fd, req, arg) ioctl((fd), (req), (arg))
/* Checked ioctl: returns >= 0 or -errno, logging the ioctl's name on failure. */
#define kvm_ioctl(fd, req, arg) kvm_ioctl_named((fd), (req), (arg), #req)
int kvm_ioctl_named(int fd, unsigned long req, void *arg, const char *name);

struct err;
int kvm_open(struct kvm *k, const char *path, struct err *e);
int kvm_create_vm(struct kvm *k);
void kvm_close(struct kvm *k);
/* flags: KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY. */
int kvm_set_user_memory(struct kvm *k, uint32_t slot, uint64_t gpa, uint64_t size, void *hva,
			uint32_t flags);
bool kvm_host_is_pvm(void);

/* The VM-wide x86 pieces: TSS, identity map, irqchip (PIC+IOAPIC). */
int kvm_setup_x86_vm(struct kvm *k);
/* The in-kernel i8254 PIT (and its kernel thread), for guests that use it. */
int kvm_create_pit(struct kvm *k);
/*
 * The kernel tears a VM down (irqchip, PIT thread, memslots: tens of ms
 * under nested KVM) when the last reference to its file goes. This forks a
 * child that holds only the VM's file and dies with the calling thread: the
 * monitor's exit is then not held up by the teardown, which runs in the child
 * after the exit status is out (guest data is flushed before, as always).
 * Call it with no other thread running guest code. kvm_close() kills and
 * reaps the child unless leave_to_holder is set (the process is exiting).
 */
void kvm_hold_past_exit(struct kvm *k);

/* KVM_GET_SUPPORTED_CPUID into a freshly allocated buffer. */
struct kvm_cpuid2 *kvm_supported_cpuid(struct kvm *k);

#endif
