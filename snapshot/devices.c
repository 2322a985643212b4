/*
 * The device parts of a snapshot: one record per virtio-mmio slot, written
 * and read by the device's own type (vmm/device.h), so this file names no
 * device. Each record says which type it is and at which version; restore
 * refuses a type this mvm does not know and a version newer than it writes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/err.h"
#include "../lib/wire.h"
#include "../virtio/registry.h"
#include "../vmm/vm.h"
#include "format.h"
#include "snapshot.h"
#include "state.h"

void snap_devices_prepare(struct vm *vm)
{
	for (int i = 0; i < vm->nr_devs; i++)
		if (vm->devs[i].type->snapshot_prepare)
			vm->devs[i].type->snapshot_prepare(vm->devs[i].dev);
}

int snap_devices_save(struct snap_writer *w, struct vm *vm, struct err *e)
{
	for (int i = 0; i < vm->nr_devs; i++) {
		const struct vm_device *d = &vm->devs[i];
		struct snap_device h = { .version = d->type->snap_version };
		struct wire w1;
		snprintf(h.type, sizeof(h.type), "%s", d->type->name);
		wire_init(&w1);
		wire_put(&w1, &h, sizeof(h));
		d->type->save_cfg(d->cfg, &w1);
		h.cfg_len = (uint32_t)(w1.len - sizeof(h));
		if (d->type->save_state)
			d->type->save_state(d->dev, &w1);
		if (!w1.bad)
			memcpy(w1.buf, &h, sizeof(h)); /* now with cfg_len */
		int r = w1.bad
			    ? -ENOMEM
			    : snap_writer_add(w, SNAP_SEC_DEVICE + (uint32_t)i, 1, w1.buf, w1.len);
		wire_fini(&w1);
		if (r)
			return err_set(e, r, "saving device %d (%s): %s", i, d->type->name,
				       strerror(-r));
	}
	return 0;
}

/* Record i: its type, its version, a reader over its config and one over its state. */
static int record(const struct snap_reader *rd, uint32_t i, const struct device_type **t,
		  uint32_t *version, struct wire *cfg, struct wire *state, struct err *e)
{
	uint32_t v;
	const void *p;
	size_t len;
	struct snap_device h;
	if (snap_reader_get(rd, SNAP_SEC_DEVICE + i, &v, &p, &len) || v != 1 || len < sizeof(h))
		return err_inval(e, "%s: device record %u is missing or malformed",
				 snap_reader_name(rd), i);
	memcpy(&h, p, sizeof(h));
	if (!memchr(h.type, '\0', sizeof(h.type)) || h.cfg_len > len - sizeof(h))
		return err_inval(e, "%s: device record %u is malformed", snap_reader_name(rd), i);
	*t = device_type_by_name(h.type);
	if (!*t)
		return err_inval(e, "%s: device %u is of type '%s', which this mvm does not know",
				 snap_reader_name(rd), i, h.type);
	if (h.version == 0 || h.version > (*t)->snap_version)
		return err_inval(e,
				 "%s: device %u (%s) is record version %u; this mvm reads up to %u",
				 snap_reader_name(rd), i, h.type, h.version, (*t)->snap_version);
	*version = h.version;
	const uint8_t *b = (const uint8_t *)p + sizeof(h);
	wire_reader(cfg, b, h.cfg_len);
	wire_reader(state, b + h.cfg_len, len - sizeof(h) - h.cfg_len);
	return 0;
}

static int apply_overrides(struct vm_config *cfg, const struct snapshot_load *req, struct err *e)
{
	for (int k = 0; k < req->nr_overrides; k++) {
		const struct snap_override *o = &req->overrides[k];
		const struct device_type *t = device_type_by_name(o->type);
		struct dev_cfg *d = t ? config_find_device(cfg, t, t->id ? o->id : NULL) : NULL;
		int r;
		if (!d)
			return err_inval(e, "%s: the snapshot has no %s%s%s%s", o->what,
					 t ? t->key : o->type, o->id[0] ? " '" : "", o->id,
					 o->id[0] ? "'" : "");
		if (!t->override)
			return err_inval(e, "%s: %s cannot be overridden", o->what, t->key);
		if ((r = t->override(d->cfg, o->field, o->value, e)))
			return err_prefix(e, "%s", o->what);
	}
	return 0;
}

int snap_devices_config(const struct snap_reader *rd, uint32_t nr, struct vm_config *cfg,
			const struct snapshot_load *req, struct err *e)
{
	for (uint32_t i = 0; i < nr; i++) {
		const struct device_type *t;
		struct wire c, s;
		uint32_t version;
		int r = record(rd, i, &t, &version, &c, &s, e);
		if (r)
			return r;
		void *dc = calloc(1, t->cfg_size);
		if (!dc)
			return err_set(e, -ENOMEM, "out of memory");
		err_clear(e);
		if ((r = t->load_cfg(&c, version, dc, e)) || (!wire_ok(&c) && (r = -EINVAL))) {
			config_free_device_cfg(t, dc);
			if (!e->msg[0])
				err_set(e, r, "malformed");
			return err_prefix(e, "%s: device %u (%s)", snap_reader_name(rd), i,
					  t->name);
		}
		/* Two records for one device: refused, not one silently replacing the other. */
		if (config_find_device(cfg, t, t->id ? t->id(dc) : NULL)) {
			err_inval(e, "%s: device %u: a second record for %s%s%s%s",
				  snap_reader_name(rd), i, t->noun, t->id ? " '" : "",
				  t->id ? t->id(dc) : "", t->id ? "'" : "");
			config_free_device_cfg(t, dc);
			return -EINVAL;
		}
		if ((r = config_put_device(cfg, t, dc, false, e)))
			return err_prefix(e, "%s: device %u (%s)", snap_reader_name(rd), i,
					  t->name);
	}
	return apply_overrides(cfg, req, e);
}

int snap_devices_restore(const struct snap_reader *rd, struct vm *vm, struct err *e)
{
	for (int i = 0; i < vm->nr_devs; i++) {
		const struct device_type *t;
		struct wire c, s;
		uint32_t version;
		int r = record(rd, (uint32_t)i, &t, &version, &c, &s, e);
		if (r)
			return r;
		if (t != vm->devs[i].type)
			return err_inval(e, "%s: device %d changed type", snap_reader_name(rd), i);
		if (!t->load_state)
			continue;
		err_clear(e);
		if ((r = t->load_state(vm->devs[i].dev, &s, e)) ||
		    (!wire_ok(&s) && (r = -EINVAL))) {
			if (!e->msg[0])
				err_set(e, r, "malformed");
			return err_prefix(e, "%s: device %d (%s) state", snap_reader_name(rd), i,
					  t->name);
		}
	}
	return 0;
}
