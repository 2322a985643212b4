#include "machine.h"

#include <errno.h>
#include <string.h>

#include "../lib/err.h"
#include "../lib/util.h"
#include "../virtio/mmio.h"
#include "../vmm/config.h"
#include "../vmm/x86/layout.h"

int snap_machine_get(const struct snap_reader *rd, struct snap_machine *sm, struct err *e)
{
	const void *p;
	uint32_t v;
	size_t len;
	memset(sm, 0, sizeof(*sm));
	if (snap_reader_get(rd, SNAP_SEC_MACHINE, &v, &p, &len))
		return err_set(e, -EINVAL, "%s: no machine section", snap_reader_name(rd));
	if (!((v == SNAP_MACHINE_V && len == sizeof(*sm)) ||
	      (v == 2 && len == SNAP_MACHINE_V2_LEN)))
		return err_set(e, -EINVAL,
			       "%s: machine section is version %u, %zu bytes (want version %u, "
			       "%zu, or 2, %d)",
			       snap_reader_name(rd), v, len, SNAP_MACHINE_V, sizeof(*sm),
			       SNAP_MACHINE_V2_LEN);
	memcpy(sm, p, len);
	if (sm->vcpu_count < 1 || sm->vcpu_count > MAX_VCPUS || sm->mem_size_mib < 1 ||
	    sm->mem_size_mib > MVM_MAX_MEM_MIB || sm->ram_bytes != MiB(sm->mem_size_mib) ||
	    sm->cpu_template > CPU_TEMPLATE_T2A || sm->cpu_template == CPU_TEMPLATE_AUTO ||
	    sm->huge_pages > HUGE_PAGES_THP || sm->nr_devices > VIRTIO_MMIO_MAX_DEVS ||
	    sm->track_dirty_pages > 1 || (sm->flags & ~SNAP_MACHINE_NO_PIT) || sm->reserved)
		return err_set(e, -EINVAL,
			       "%s: machine section out of range (vCPUs %u, memory %u MiB, %u "
			       "devices, flags %#x)",
			       snap_reader_name(rd), sm->vcpu_count, sm->mem_size_mib,
			       sm->nr_devices, sm->flags);
	return 0;
}
