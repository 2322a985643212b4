/* snapshot/machine.[ch]: the machine section, versions 2 and 3, checked. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../lib/err.h"
#include "../../lib/util.h"
#include "../../snapshot/format.h"
#include "../../snapshot/machine.h"
#include "../../snapshot/state.h"
#include "../../vmm/config.h"

static struct err err;

static struct snap_machine good(void)
{
	return (struct snap_machine){ .vcpu_count = 2,
				      .mem_size_mib = 128,
				      .cpu_template = CPU_TEMPLATE_HOST,
				      .nr_devices = 3,
				      .ram_bytes = MiB(128) };
}

/* A reader over one machine section of `len` bytes at `version`. */
static struct snap_reader *reader_of(uint32_t version, const void *data, size_t len)
{
	struct snap_writer *w = snap_writer_create();
	uint8_t *buf;
	size_t n;
	struct snap_reader *r;
	cr_assert(w);
	cr_assert_eq(snap_writer_add(w, SNAP_SEC_MACHINE, version, data, len), 0);
	cr_assert_eq(snap_writer_encode(w, &buf, &n), 0);
	snap_writer_destroy(w);
	int fd = memfd_create("mvm-machine-test", MFD_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, buf, n), (ssize_t)n);
	free(buf);
	cr_assert_eq(snap_reader_open_fd(fd, 0, &r, &err), 0, "%s", err.msg);
	close(fd);
	return r;
}

Test(snap_machine, version_3_round_trips_with_its_flags)
{
	struct snap_machine in = good(), out;
	in.flags = SNAP_MACHINE_NO_PIT;
	struct snap_reader *r = reader_of(SNAP_MACHINE_V, &in, sizeof(in));
	cr_assert_eq(snap_machine_get(r, &out, &err), 0, "%s", err.msg);
	cr_expect_eq(memcmp(&in, &out, sizeof(in)), 0);
	snap_reader_destroy(r);
}

Test(snap_machine, version_2_reads_as_a_machine_with_a_pit)
{
	struct snap_machine in = good(), out;
	cr_assert_eq(SNAP_MACHINE_V2_LEN, offsetof(struct snap_machine, flags));
	struct snap_reader *r = reader_of(2, &in, SNAP_MACHINE_V2_LEN);
	cr_assert_eq(snap_machine_get(r, &out, &err), 0, "%s", err.msg);
	cr_expect_eq(out.vcpu_count, 2);
	cr_expect_eq(out.nr_devices, 3);
	cr_expect_eq(out.flags, 0, "no flags: the PIT was always made then");
	snap_reader_destroy(r);
}

Test(snap_machine, every_cpu_template_a_vm_can_run_with_is_accepted)
{
	struct snap_machine in = good(), out;
	for (uint32_t t = CPU_TEMPLATE_HOST; t <= CPU_TEMPLATE_T2A; t++) {
		in.cpu_template = t;
		struct snap_reader *r = reader_of(SNAP_MACHINE_V, &in, sizeof(in));
		cr_expect_eq(snap_machine_get(r, &out, &err), 0, "template %u: %s", t, err.msg);
		snap_reader_destroy(r);
	}
	in.cpu_template = CPU_TEMPLATE_T2A + 1;
	struct snap_reader *r = reader_of(SNAP_MACHINE_V, &in, sizeof(in));
	cr_expect_eq(snap_machine_get(r, &out, &err), -EINVAL);
	snap_reader_destroy(r);
}

Test(snap_machine, wrong_sizes_versions_and_values_are_refused)
{
	struct snap_machine in = good(), out;
	struct {
		uint32_t version;
		size_t len;
		const char *why;
	} shapes[] = { { 2, sizeof(in), "version 2 with 3's size" },
		       { 3, SNAP_MACHINE_V2_LEN, "version 3 with 2's size" },
		       { 4, sizeof(in), "a later version" },
		       { 1, SNAP_MACHINE_V2_LEN, "an earlier version" } };
	for (size_t i = 0; i < ARRAY_SIZE(shapes); i++) {
		struct snap_reader *r = reader_of(shapes[i].version, &in, shapes[i].len);
		cr_expect_eq(snap_machine_get(r, &out, &err), -EINVAL, "%s", shapes[i].why);
		cr_expect(strstr(err.msg, "machine section"), "%s", err.msg);
		snap_reader_destroy(r);
	}
	struct snap_machine bad[5];
	for (int i = 0; i < 5; i++)
		bad[i] = good();
	bad[0].flags = 1u << 5;	  /* a flag this mvm does not know */
	bad[1].reserved = 1;	  /* not zero */
	bad[2].vcpu_count = 0;	  /* no vCPU */
	bad[3].ram_bytes = 4096;  /* disagrees with mem_size_mib */
	bad[4].nr_devices = 1000; /* more than the slots */
	for (int i = 0; i < 5; i++) {
		struct snap_reader *r = reader_of(SNAP_MACHINE_V, &bad[i], sizeof(bad[i]));
		cr_expect_eq(snap_machine_get(r, &out, &err), -EINVAL, "case %d", i);
		cr_expect(strstr(err.msg, "out of range"), "case %d: %s", i, err.msg);
		snap_reader_destroy(r);
	}
}
