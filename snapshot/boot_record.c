/*
 * The boot source in a snapshot (section SNAP_SEC_BOOT, optional): a restored
 * VM's GET /vm/config keeps the kernel path it was booted from, as
 * Firecracker's does. Older snapshots have no such section: the restored
 * boot-source is then empty.
 */
#include <errno.h>
#include <stdlib.h>

#include "../lib/err.h"
#include "../lib/wire.h"
#include "format.h"
#include "state.h"

#define BOOT_PATH_MAX 4096
#define BOOT_ARGS_MAX 4096

int snap_boot_save(struct snap_writer *w, const struct boot_cfg *b)
{
	struct wire out;
	wire_init(&out);
	wire_put_str(&out, b->kernel_image_path);
	wire_put_str(&out, b->initrd_path);
	wire_put_str(&out, b->boot_args);
	int r =
	    out.bad ? -ENOMEM : snap_writer_add(w, SNAP_SEC_BOOT, SNAP_BOOT_V, out.buf, out.len);
	wire_fini(&out);
	return r;
}

int snap_boot_load(const struct snap_reader *rd, struct boot_cfg *b, struct err *e)
{
	uint32_t v;
	const void *p;
	size_t len;
	struct wire in;
	if (snap_reader_get(rd, SNAP_SEC_BOOT, &v, &p, &len))
		return 0; /* an older snapshot: no boot source kept */
	if (v != SNAP_BOOT_V)
		return err_inval(e, "%s: boot section is version %u (want %u)",
				 snap_reader_name(rd), v, SNAP_BOOT_V);
	wire_reader(&in, p, len);
	struct boot_cfg n = { 0 };
	n.kernel_image_path = wire_get_str(&in, BOOT_PATH_MAX);
	n.initrd_path = wire_get_str(&in, BOOT_PATH_MAX);
	n.boot_args = wire_get_str(&in, BOOT_ARGS_MAX);
	if (!wire_ok(&in) || !n.kernel_image_path) {
		boot_cfg_fini(&n);
		return err_inval(e, "%s: boot section out of range", snap_reader_name(rd));
	}
	boot_cfg_fini(b);
	*b = n;
	return 0;
}
