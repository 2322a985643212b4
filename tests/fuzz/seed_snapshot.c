/*
 * Seeds for fuzz_snapshot_state: state files written by mvm's own writer
 * (snapshot/format.c, the types' records through snapshot/devices.c, the
 * serial, i8042 and virtio-mmio save functions), as restore reads them.
 *
 *   seed_snapshot DIR   writes DIR/devices.snap, entropy_ring.snap,
 *                       balloon_ring.snap and empty.snap
 *
 * The devices come from a config file text; the ring seeds hold a queue a
 * driver set up through the MMIO registers and one request in guest RAM, in
 * the harness's own RAM section (FUZZ_SEC_RAM), so that a restore's kick
 * has work to do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/err.h"
#include "../../lib/log.h"
#include "../../lib/util.h"
#include "../../lib/wire.h"
#include "../../monitor/config_file.h"
#include "../../snapshot/format.h"
#include "../../snapshot/state.h"
#include "../../virtio/registry.h"
#include "../../virtio/virtq.h"
#include "../../vmm/vm.h"

#define FUZZ_SEC_RAM 0xf0000000u /* fuzz_snapshot_state.c */
#define RAM_SIZE     (1u << 20)
#define RING_BYTES   0x500 /* descriptors 0x0, avail 0x100, used 0x200, buffer 0x400 */

static const char devices_json[] =
    "{\"boot-source\": {\"kernel_image_path\": \"/k\"},"
    " \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 1},"
    " \"drives\": [{\"drive_id\": \"rootfs\", \"path_on_host\": \"/img/rootfs.ext4\","
    " \"is_root_device\": true, \"partuuid\": \"abc-1\", \"cache_type\": \"Writeback\","
    " \"io_engine\": \"Async\", \"rate_limiter\": {\"bandwidth\": {\"size\": 4096,"
    " \"refill_time\": 10}, \"ops\": {\"size\": 100, \"one_time_burst\": 5,"
    " \"refill_time\": 1000}}},"
    " {\"drive_id\": \"data\", \"path_on_host\": \"/img/data\", \"is_root_device\": false,"
    " \"is_read_only\": true}],"
    " \"entropy\": {\"rate_limiter\": {\"ops\": {\"size\": 10, \"refill_time\": 1000}}},"
    " \"network-interfaces\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\","
    " \"guest_mac\": \"06:00:ac:10:00:02\"}, {\"iface_id\": \"eth1\", \"host_dev_name\": "
    "\"tap1\"}],"
    " \"vsock\": {\"guest_cid\": 9, \"uds_path\": \"/run/v.sock\"},"
    " \"balloon\": {\"amount_mib\": 1, \"deflate_on_oom\": true,"
    " \"stats_polling_interval_s\": 5}}";

static struct guest_mem mem;
static uint8_t ram[RING_BYTES];

static void die_if(bool bad, const char *what)
{
	if (bad) {
		fprintf(stderr, "seed_snapshot: %s\n", what);
		exit(1);
	}
}

static void reg(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	virtio_mmio_rw(t, off, (uint8_t *)&v, 4, true);
}

/* What a driver does: features (VERSION_1), every queue of 8 entries (queue 0 at
 * the seed's ring, the others empty further up), DRIVER_OK. */
static void drive(struct virtio_mmio *t)
{
	reg(t, 0x070, 1 | 2); /* ACKNOWLEDGE | DRIVER */
	reg(t, 0x024, 1);     /* driver features, high word */
	reg(t, 0x020, 1);     /* VIRTIO_F_VERSION_1 */
	reg(t, 0x070, 1 | 2 | 8);
	for (uint32_t q = 0; q < (uint32_t)t->ops->num_queues; q++) {
		uint32_t base = q * 0x1000;
		reg(t, 0x030, q);
		reg(t, 0x038, 8);
		reg(t, 0x080, base);
		reg(t, 0x090, base + 0x100);
		reg(t, 0x0a0, base + 0x200);
		reg(t, 0x044, 1);
	}
	reg(t, 0x070, 1 | 2 | 8 | 4);
}

/* One request in the ring: a buffer of len bytes at 0x400, the device's to write or
 * read. Only in the seed's RAM section: the saved queue has not seen it yet. */
static void request(uint32_t len, bool device_writes, const void *payload)
{
	struct virtq_desc d = { .addr = 0x400,
				.len = len,
				.flags = device_writes ? VIRTQ_DESC_F_WRITE : 0 };
	uint16_t avail[3] = { 0, 1, 0 }; /* flags, idx, ring[0] */
	memset(ram, 0, sizeof(ram));
	memcpy(ram, &d, sizeof(d));
	memcpy(ram + 0x100, avail, sizeof(avail));
	if (payload)
		memcpy(ram + 0x400, payload, len);
}

static void add(struct snap_writer *w, uint32_t id, uint32_t v, const void *p, size_t n)
{
	die_if(snap_writer_add(w, id, v, p, n) != 0, "snap_writer_add");
}

/* Machine, VM, serial and i8042: what every state file has. */
static void add_common(struct snap_writer *w, uint32_t nr_devices)
{
	struct snap_machine sm = { .vcpu_count = 1,
				   .mem_size_mib = 1,
				   .cpu_template = CPU_TEMPLATE_PVM_SAFE,
				   .nr_devices = nr_devices,
				   .ram_bytes = MiB(1) };
	static struct snap_vm svm;
	struct irq_line none = { .fd = -1 };
	struct serial_state ss;
	struct i8042_state is;
	struct serial *s = serial_create(-1, -1, &none);
	struct i8042 *k = i8042_create(&none, NULL, NULL);
	die_if(!s || !k, "serial, i8042");
	serial_input(s, (const uint8_t *)"ls\n", 3);
	serial_save(s, &ss);
	i8042_save(k, &is);
	serial_destroy(s);
	i8042_destroy(k);
	add(w, SNAP_SEC_MACHINE, SNAP_MACHINE_V, &sm, sizeof(sm));
	add(w, SNAP_SEC_VM, SNAP_VM_V, &svm, sizeof(svm));
	add(w, SNAP_SEC_SERIAL, 1, &ss, sizeof(ss));
	add(w, SNAP_SEC_I8042, 1, &is, sizeof(is));
}

static void write_file(struct snap_writer *w, const char *dir, const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	die_if(snap_writer_write_file(w, path) != 0, path);
	snap_writer_destroy(w);
}

/* The devices of cfg in a VM without KVM: entropy and balloon built (they
 * need no host resource), a driver's queue on the first one of want. */
static void save_devices(struct snap_writer *w, const struct vm_config *cfg, const char *want)
{
	static struct vm vm;
	struct dev_env env = { .mem = &mem, .mem_size_mib = 1 };
	struct err e = { 0 };
	memset(&vm, 0, sizeof(vm));
	vm.nr_devs = cfg->nr_devs;
	for (int i = 0; i < cfg->nr_devs; i++) {
		struct vm_device *d = &vm.devs[i];
		*d = (struct vm_device){ .type = cfg->devs[i].type, .cfg = cfg->devs[i].cfg };
		if (strcmp(d->type->name, "entropy") && strcmp(d->type->name, "balloon"))
			continue;
		d->dev = d->type->create(d->cfg, &env, &e);
		die_if(!d->dev, e.msg);
		d->t = virtio_mmio_create(d->type->ops, d->dev, &mem, NULL, NULL, 0xd0000000, 5);
		die_if(!d->t, "virtio_mmio_create");
		if (want && !strcmp(d->type->name, want))
			drive(d->t);
		struct virtio_mmio_state vs;
		virtio_mmio_save(d->t, &vs);
		add(w, SNAP_SEC_VIRTIO + (uint32_t)i, SNAP_VIRTIO_V, &vs, sizeof(vs));
	}
	die_if(snap_devices_save(w, &vm, &e) != 0, e.msg);
	for (int i = 0; i < vm.nr_devs; i++) {
		if (vm.devs[i].t)
			virtio_mmio_destroy(vm.devs[i].t);
		if (vm.devs[i].dev)
			vm.devs[i].type->destroy(vm.devs[i].dev);
	}
}

/* One device of the config text's kind, with a request for it in guest RAM. */
static void ring_seed(const char *dir, const char *name, const char *type, const char *json)
{
	struct vm_config c;
	struct err e = { 0 };
	struct snap_writer *w = snap_writer_create();
	vm_config_init(&c);
	die_if(!w || config_parse_file(json, strlen(json), &c, &e) != 0, e.msg);
	add_common(w, (uint32_t)c.nr_devs);
	save_devices(w, &c, type);
	add(w, FUZZ_SEC_RAM, 1, ram, sizeof(ram));
	write_file(w, dir, name);
	vm_config_fini(&c);
}

int main(int argc, char **argv)
{
	static const uint32_t pfns[4] = { 16, 17, 18, 40 };
	struct vm_config c;
	struct err e = { 0 };
	die_if(argc != 2, "usage: seed_snapshot DIR");
	log_set_level(LOG_OFF);
	die_if(guest_mem_init(&mem, RAM_SIZE, MEM_ANON, -1, false) != 0, "guest RAM");

	struct snap_writer *w = snap_writer_create();
	vm_config_init(&c);
	die_if(!w || config_parse_file(devices_json, strlen(devices_json), &c, &e) != 0, e.msg);
	add_common(w, (uint32_t)c.nr_devs);
	save_devices(w, &c, NULL);
	write_file(w, argv[1], "devices.snap");
	vm_config_fini(&c);

	request(64, true, NULL);
	ring_seed(argv[1], "entropy_ring.snap", "entropy",
		  "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"entropy\": {}}");
	request(sizeof(pfns), false, pfns);
	ring_seed(argv[1], "balloon_ring.snap", "balloon",
		  "{\"boot-source\": {\"kernel_image_path\": \"/k\"},"
		  " \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 1},"
		  " \"balloon\": {\"amount_mib\": 1, \"deflate_on_oom\": false}}");

	w = snap_writer_create();
	die_if(!w, "out of memory");
	write_file(w, argv[1], "empty.snap");
	guest_mem_fini(&mem);
	return 0;
}
