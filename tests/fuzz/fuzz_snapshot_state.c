/*
 * A snapshot state file as restore reads it, as far as that needs no KVM:
 * snapshot/format.c's reader (header, section table), the device records
 * into a config (snapshot/devices.c and every type's load_cfg, with and
 * without the load request's overrides), the serial and i8042 state, and for
 * the devices that need no host resource (entropy, balloon) the virtio-mmio
 * transport state and the device's own state, then a kick of every queue as
 * a resumed VM would get and the guest's reads of its registers.
 *
 * The input is the file; the harness writes its length and CRC into it
 * (a fuzzer cannot guess a CRC-64) so that what follows the CRC check runs.
 * A section of id FUZZ_SEC_RAM, which mvm never writes, fills the start of
 * guest RAM: the rings the restored queues point at.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "../../virtio/net/mmds/port.h"
#include "../../lib/log.h"
#include "../../lib/strbuf.h"
#include "../../lib/util.h"
#include "../../lib/wire.h"
#include "../../monitor/config_file.h"
#include "../../snapshot/crc64.h"
#include "../../snapshot/format.h"
#include "../../snapshot/machine.h"
#include "../../snapshot/snapshot.h"
#include "../../snapshot/state.h"
#include "../../virtio/registry.h"
#include "../../vmm/vm.h"
#include "../../vmm/x86/layout.h"
#include "fuzz.h"

#define FUZZ_SEC_RAM 0xf0000000u
#define RAM_SIZE     (1u << 20)

static int state_fd;
static struct guest_mem mem;
static struct irq_line no_irq = { .fd = -1 };
static bool ram_dirty;

static void no_reset(void *opaque)
{
	(void)opaque;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_OFF);
	state_fd = memfd_create("fuzz-state", MFD_CLOEXEC);
	FUZZ_CHECK(state_fd >= 0, "memfd_create");
	FUZZ_CHECK(!guest_mem_init(&mem, RAM_SIZE, MEM_ANON, -1, false), "guest RAM");
	return 0;
}

/* The input as a state file with a true length and CRC, opened as restore opens it. */
static int open_state(const uint8_t *data, size_t size, struct snap_reader **rd, struct err *e)
{
	uint8_t *buf = malloc(size ? size : 1);
	FUZZ_CHECK(buf, "out of memory");
	memcpy(buf, data, size);
	if (size >= SNAP_HEADER_SIZE + SNAP_CRC_SIZE) {
		uint64_t total = size, crc;
		memcpy(buf + 24, &total, 8);
		crc = crc64(0, buf, size - SNAP_CRC_SIZE);
		memcpy(buf + size - SNAP_CRC_SIZE, &crc, 8);
	}
	FUZZ_CHECK(!ftruncate(state_fd, 0) && pwrite(state_fd, buf, size, 0) == (ssize_t)size,
		   "writing the state file");
	free(buf);
	return snap_reader_open_fd(state_fd, 0, rd, e);
}

/* Every section's bytes are inside the file (ASan says if not). */
static void touch_sections(const struct snap_reader *rd)
{
	volatile uint8_t sum = 0;
	for (unsigned i = 0; i < snap_reader_count(rd); i++) {
		const uint8_t *p;
		size_t len;
		FUZZ_CHECK(!snap_reader_at(rd, i, NULL, NULL, (const void **)&p, &len), "%u", i);
		if (len)
			sum += p[0] + p[len - 1];
	}
	(void)sum;
}

/* How many device records restore reads: the machine section's count. */
static uint32_t nr_records(const struct snap_reader *rd, struct vm_config *cfg)
{
	struct snap_machine sm;
	struct err e = { 0 };
	if (snap_machine_get(rd, &sm, &e))
		return 0;
	if (sm.mem_size_mib >= 1 && sm.mem_size_mib <= MVM_MAX_MEM_MIB)
		cfg->machine.mem_size_mib = sm.mem_size_mib;
	return sm.nr_devices;
}

/* The overrides a clone may ask for, one for every device that takes one. */
static void add_overrides(const struct vm_config *cfg, struct snapshot_load *req)
{
	static const struct {
		const char *type, *field, *value;
	} kinds[] = { { "block", "path_on_host", "/fuzz/disk" },
		      { "net", "host_dev_name", "tap9" },
		      { "vsock", "uds_path", "/fuzz/v.sock" },
		      { "pmem", "path_on_host", "/fuzz/pmem" } };
	for (int i = 0; i < cfg->nr_devs; i++) {
		const struct device_type *t = cfg->devs[i].type;
		for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
			if (strcmp(t->name, kinds[k].type))
				continue;
			struct snap_override *o = &req->overrides[req->nr_overrides++];
			*o = (struct snap_override){ .what = "fuzz",
						     .type = t->name,
						     .field = kinds[k].field };
			snprintf(o->id, sizeof(o->id), "%s", t->id ? t->id(cfg->devs[i].cfg) : "");
			o->value = strdup(kinds[k].value);
		}
	}
}

/* A record read at the version this mvm writes is written back the same:
 * a restore changes nothing on the way. */
static void check_records(const struct snap_reader *rd, const struct vm_config *cfg)
{
	for (int i = 0; i < cfg->nr_devs; i++) {
		const struct device_type *t = cfg->devs[i].type;
		struct snap_device h;
		const uint8_t *p;
		size_t len;
		struct wire w;
		FUZZ_CHECK(!snap_reader_get(rd, SNAP_SEC_DEVICE + (uint32_t)i, NULL,
					    (const void **)&p, &len),
			   "record %d", i);
		memcpy(&h, p, sizeof(h));
		if (h.version != t->snap_version)
			continue;
		wire_init(&w);
		t->save_cfg(cfg->devs[i].cfg, &w);
		FUZZ_CHECK(!w.bad && w.len == h.cfg_len && !memcmp(w.buf, p + sizeof(h), w.len),
			   "%s record %d: %u bytes read, %zu written back differently", t->name, i,
			   h.cfg_len, w.len);
		wire_fini(&w);
	}
}

/* A device a snapshot brings in is one the API would take: its description
 * goes through the type's own parser (the API's and the config file's). */
static void check_like_api(const struct vm_config *cfg)
{
	for (int i = 0; i < cfg->nr_devs; i++) {
		const struct device_type *t = cfg->devs[i].type;
		struct strbuf b;
		struct json j;
		struct err e = { 0 };
		strbuf_init(&b);
		t->describe(cfg->devs[i].cfg, &b);
		FUZZ_CHECK(!b.oom && !json_parse(&j, b.s, b.len, &e), "%s: %s", t->name, b.s);
		void *back = calloc(1, t->cfg_size);
		FUZZ_CHECK(back, "out of memory");
		FUZZ_CHECK(!t->parse(&j, 0, back, &e),
			   "a snapshot brought in %s %s, which the API refuses: %s", t->name, b.s,
			   e.msg);
		config_free_device_cfg(t, back);
		json_free(&j);
		strbuf_fini(&b);
	}
}

/* A restored config is what GET /vm/config shows, and a clone may override it. */
static void check_config(const struct snap_reader *rd, uint32_t nr, const struct vm_config *cfg)
{
	check_records(rd, cfg);
	check_like_api(cfg);
	struct strbuf b;
	strbuf_init(&b);
	config_vm_json(cfg, &b);
	FUZZ_CHECK(!b.oom && fuzz_is_json(b.s), "GET /vm/config of a restored VM: %s", b.s);
	strbuf_fini(&b);

	struct snapshot_load req;
	struct vm_config again;
	struct err e = { 0 };
	memset(&req, 0, sizeof(req));
	add_overrides(cfg, &req);
	vm_config_init(&again);
	again.machine = cfg->machine;
	FUZZ_CHECK(!snap_devices_config(rd, nr, &again, &req, &e), "with overrides: %s", e.msg);
	vm_config_fini(&again);
	snapshot_load_fini(&req);
}

/* The serial and i8042 state into new devices; a restored one then answers the guest. */
static void restore_legacy(const struct snap_reader *rd)
{
	struct serial *serial = serial_create(-1, -1, &no_irq);
	struct i8042 *i8042 = i8042_create(&no_irq, no_reset, NULL);
	struct serial_state ss;
	struct i8042_state is;
	uint8_t v;
	FUZZ_CHECK(serial && i8042, "serial, i8042");
	if (!snap_reader_get_struct(rd, SNAP_SEC_SERIAL, 1, &ss, sizeof(ss), NULL) &&
	    !serial_restore(serial, &ss)) {
		for (unsigned k = 0; k < 8 * 3; k++)
			serial_pio(serial, k % 8, &v, 1, false);
	}
	if (!snap_reader_get_struct(rd, SNAP_SEC_I8042, 1, &is, sizeof(is), NULL) &&
	    !i8042_restore(i8042, &is)) {
		for (unsigned k = 0; k < 20; k++)
			i8042_pio(i8042, k % 2 ? 4 : 0, &v, 1, false);
	}
	serial_destroy(serial);
	i8042_destroy(i8042);
}

/* Guest RAM: zero, then the harness section's bytes at address 0. */
static void fill_ram(const struct snap_reader *rd)
{
	const void *p;
	size_t len;
	bool have = !snap_reader_get(rd, FUZZ_SEC_RAM, NULL, &p, &len);
	if (ram_dirty || have)
		memset(mem.r[0].hva, 0, RAM_SIZE);
	ram_dirty = have;
	if (have)
		memcpy(mem.r[0].hva, p, MIN(len, (size_t)RAM_SIZE));
}

/* The guest reads every register and the config space of a restored device. */
static void guest_reads(struct virtio_mmio *t)
{
	for (uint64_t off = 0; off < 0x140; off += 4) {
		uint32_t v;
		virtio_mmio_rw(t, off, (uint8_t *)&v, 4, false);
	}
}

static bool buildable(const struct device_type *t)
{
	return !strcmp(t->name, "entropy") || !strcmp(t->name, "balloon");
}

/* The devices built as restore builds them (those that need no host
 * resource), their transport state, their own state, then every queue kicked. */
static void restore_devices(const struct snap_reader *rd, const struct vm_config *cfg)
{
	static struct vm vm;
	struct dev_env env = { .mem = &mem, .mem_size_mib = RAM_SIZE >> 20 };
	struct err e = { 0 };
	bool all = true;
	memset(vm.devs, 0, sizeof(vm.devs));
	vm.nr_devs = cfg->nr_devs;
	fill_ram(rd);
	for (int i = 0; i < cfg->nr_devs; i++) {
		struct vm_device *d = &vm.devs[i];
		struct virtio_mmio_state vs;
		const char *why;
		*d = (struct vm_device){ .type = cfg->devs[i].type, .cfg = cfg->devs[i].cfg };
		if (!buildable(d->type)) {
			all = all && !d->type->load_state;
			continue;
		}
		d->dev = d->type->create(d->cfg, &env, &e);
		FUZZ_CHECK(d->dev, "%s: %s", d->type->name, e.msg);
		d->t = virtio_mmio_create(d->type->ops, d->dev, &mem, NULL, NULL, 0xd0000000, 5);
		FUZZ_CHECK(d->t, "transport");
		if (!snap_reader_get_struct(rd, SNAP_SEC_VIRTIO + (uint32_t)i, SNAP_VIRTIO_V, &vs,
					    sizeof(vs), NULL))
			virtio_mmio_restore(d->t, &vs, &why);
	}
	if (all && !snap_devices_restore(rd, &vm, &e)) {
		for (int i = 0; i < vm.nr_devs; i++) {
			for (int q = 0; vm.devs[i].t && q < vm.devs[i].type->ops->num_queues; q++)
				virtio_mmio_kick(vm.devs[i].t, q);
			if (vm.devs[i].t)
				guest_reads(vm.devs[i].t);
		}
		ram_dirty = true;
	}
	for (int i = 0; i < vm.nr_devs; i++) {
		if (vm.devs[i].t)
			virtio_mmio_destroy(vm.devs[i].t);
		if (vm.devs[i].dev)
			vm.devs[i].type->destroy(vm.devs[i].dev);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snap_reader *rd;
	struct vm_config cfg;
	struct snapshot_load none;
	struct err e = { 0 };

	/* The MMDS settings are the process's (one VM a monitor): fresh each input. */
	memset(mmds_config(), 0, sizeof(*mmds_config()));
	if (open_state(data, size, &rd, &e)) {
		FUZZ_CHECK(e.msg[0], "refused without a message");
		return 0;
	}
	touch_sections(rd);
	restore_legacy(rd);
	vm_config_init(&cfg);
	memset(&none, 0, sizeof(none));
	uint32_t nr = nr_records(rd, &cfg);
	if (!snap_devices_config(rd, nr, &cfg, &none, &e)) {
		check_config(rd, nr, &cfg);
		restore_devices(rd, &cfg);
	} else {
		FUZZ_CHECK(e.msg[0], "records refused without a message");
	}
	vm_config_fini(&cfg);
	snap_reader_destroy(rd);
	return 0;
}
