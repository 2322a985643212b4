/* A VM's lifecycle: start, pause, resume, exit, teardown. The recipe is in builder.c. */
#include "vm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "seccomp.h"
#include "../lib/err.h"
#include "../lib/log.h"
#include "../lib/util.h"
#include "vcpu.h"
#include "x86/i8042.h"
#include "x86/layout.h"
#include "x86/serial.h"

void vm_request_exit(struct vm *vm, int code)
{
	bool expected = false;
	if (!atomic_compare_exchange_strong(&vm->exiting, &expected, true))
		return;
	atomic_store(&vm->exit_code, code);
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	for (int i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	uint64_t one = 1;
	if (vm->exit_efd >= 0) {
		ssize_t r = write(vm->exit_efd, &one, sizeof(one));
		(void)r;
	}
}

/*
 * The vCPU threads start and put on their own filters; then the vmm thread
 * puts on its own (it no longer needs to create anything), then the vCPUs run.
 */
int vm_start(struct vm *vm)
{
	int r = 0;
	kvm_hold_past_exit(&vm->kvm); /* before any vCPU thread exists */
	for (int i = 0; i < vm->nr_vcpus && !r; i++)
		r = vcpu_start(&vm->vcpus[i]);
	pthread_mutex_lock(&vm->pause_lock);
	while (!r && vm->nr_ready < vm->nr_vcpus && !atomic_load(&vm->exiting))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	pthread_mutex_unlock(&vm->pause_lock);
	if (!r && atomic_load(&vm->exiting))
		r = -EPERM; /* a vCPU could not install its filter: it said why */
	if (!r && (r = seccomp_install(SECCOMP_VMM)))
		log_err("installing the vmm thread's seccomp filter: %s", strerror(-r));
	if (r) {
		vm_request_exit(vm, MVM_EXIT_ERROR);
		return r;
	}
	seccomp_maybe_selftest(SECCOMP_VMM);
	pthread_mutex_lock(&vm->pause_lock);
	vm->go = true;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	vm->state = VM_RUNNING;
	return 0;
}

int vm_pause(struct vm *vm)
{
	if (vm->state != VM_RUNNING)
		return vm->state == VM_PAUSED ? 0 : -EINVAL;
	pthread_mutex_lock(&vm->pause_lock);
	__atomic_store_n(&vm->pause_req, true, __ATOMIC_SEQ_CST);
	for (int i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 5;
	int r = 0;
	while (vm->nr_paused < vm->nr_vcpus && !atomic_load(&vm->exiting) && r == 0)
		r = pthread_cond_timedwait(&vm->pause_cond, &vm->pause_lock, &deadline);
	bool ok = vm->nr_paused == vm->nr_vcpus;
	pthread_mutex_unlock(&vm->pause_lock);
	if (!ok) {
		vm_resume(vm);
		return atomic_load(&vm->exiting) ? -ESRCH : -ETIMEDOUT;
	}
	vm->state = VM_PAUSED;
	return 0;
}

int vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	__atomic_store_n(&vm->pause_req, false, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	if (vm->state == VM_PAUSED)
		vm->state = VM_RUNNING;
	return 0;
}

int vm_send_ctrl_alt_del(struct vm *vm)
{
	return vm->i8042 ? i8042_ctrl_alt_del(vm->i8042) : -ENODEV;
}

int vm_map_devmem(struct vm *vm, void *hva, uint64_t size, bool readonly, uint64_t *gpa,
		  struct err *e)
{
	uint64_t at = ALIGN_UP(vm->devmem_next, DEVMEM_ALIGN);
	if (!size || size % 4096 || at >= DEVMEM_END || size > DEVMEM_END - at)
		return err_inval(e, "device memory of %llu bytes does not fit below %llu GiB",
				 (unsigned long long)size, DEVMEM_END >> 30);
	int r = kvm_set_user_memory(&vm->kvm, vm->next_slot, at, size, hva,
				    readonly ? KVM_MEM_READONLY : 0);
	if (r)
		return err_set(e, r, "KVM_SET_USER_MEMORY_REGION (device memory at %#llx): %s",
			       (unsigned long long)at, strerror(-r));
	vm->next_slot++;
	vm->devmem_next = at + size;
	*gpa = at;
	return 0;
}

void vm_destroy(struct vm *vm)
{
	if (vm->vcpus) {
		vm_request_exit(vm, atomic_load(&vm->exit_code));
		for (int i = 0; i < vm->nr_vcpus; i++)
			vcpu_join(&vm->vcpus[i]);
		for (int i = 0; i < vm->nr_vcpus; i++)
			vcpu_destroy(&vm->vcpus[i]);
		free(vm->vcpus);
		vm->vcpus = NULL;
	}
	for (int i = 0; i < vm->nr_devs; i++)
		vm->destroy_device(&vm->devs[i]);
	vm->nr_devs = 0;
	serial_destroy(vm->serial);
	i8042_destroy(vm->i8042);
	vm->serial = NULL;
	vm->i8042 = NULL;
	irq_line_fini(&vm->serial_irq, &vm->kvm);
	irq_line_fini(&vm->kbd_irq, &vm->kvm);
	vmgenid_detach(&vm->vmgenid, &vm->kvm);
	free(vm->cpuid);
	vm->cpuid = NULL;
	if (vm->helper_on)
		pthread_join(vm->helper, NULL);
	vm->helper_on = false;
	free(vm->helper_arg);
	vm->helper_arg = NULL;
	guest_mem_fini(&vm->mem);
	kvm_close(&vm->kvm);
	if (vm->exit_efd >= 0) {
		if (vm->loop)
			evloop_del(vm->loop, vm->exit_efd);
		close(vm->exit_efd);
	}
	vm->exit_efd = -1;
	pthread_mutex_destroy(&vm->pause_lock);
	pthread_cond_destroy(&vm->pause_cond);
	vm->state = VM_EXITED;
}
