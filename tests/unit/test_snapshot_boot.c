/* snapshot/boot_record.c: the boot source survives a snapshot; old files have none. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../lib/err.h"
#include "../../lib/wire.h"
#include "../../snapshot/format.h"
#include "../../snapshot/state.h"

/* Encode w to a memfd and read it back. */
static struct snap_reader *reread(struct snap_writer *w)
{
	int fd = memfd_create("snap", MFD_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(snap_writer_write_fd(w, fd), 0);
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	struct snap_reader *rd = NULL;
	struct err e = { 0 };
	cr_assert_eq(snap_reader_open_fd(fd, 0, &rd, &e), 0, "%s", e.msg);
	close(fd);
	return rd;
}

Test(snap_boot, round_trips_and_absent_leaves_it_empty)
{
	struct snap_writer *w = snap_writer_create();
	struct boot_cfg in = { .kernel_image_path = "/k/vmlinux", .boot_args = "console=ttyS0" };
	cr_assert_eq(snap_boot_save(w, &in), 0);
	struct snap_reader *rd = reread(w);
	struct boot_cfg out = { 0 };
	struct err e = { 0 };
	cr_assert_eq(snap_boot_load(rd, &out, &e), 0, "%s", e.msg);
	cr_expect_str_eq(out.kernel_image_path, "/k/vmlinux");
	cr_expect_str_eq(out.boot_args, "console=ttyS0");
	cr_expect_null(out.initrd_path);
	boot_cfg_fini(&out);
	snap_reader_destroy(rd);
	snap_writer_destroy(w);

	w = snap_writer_create();
	uint32_t x = 1;
	cr_assert_eq(snap_writer_add(w, SNAP_SEC_I8042, 1, &x, sizeof(x)), 0);
	rd = reread(w);
	cr_expect_eq(snap_boot_load(rd, &out, &e), 0, "an older snapshot loads");
	cr_expect_null(out.kernel_image_path);
	snap_reader_destroy(rd);
	snap_writer_destroy(w);
}

Test(snap_boot, bad_records_are_refused)
{
	struct wire bad;
	wire_init(&bad);
	wire_put_str(&bad, NULL); /* no kernel */
	wire_put_str(&bad, NULL);
	wire_put_str(&bad, NULL);
	const struct {
		uint32_t version;
		const void *p;
		size_t len;
	} cases[] = { { 2, bad.buf, bad.len }, { 1, bad.buf, bad.len }, { 1, bad.buf, 3 } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct snap_writer *w = snap_writer_create();
		cr_assert_eq(
		    snap_writer_add(w, SNAP_SEC_BOOT, cases[i].version, cases[i].p, cases[i].len),
		    0);
		struct snap_reader *rd = reread(w);
		struct boot_cfg out = { 0 };
		struct err e = { 0 };
		cr_expect_eq(snap_boot_load(rd, &out, &e), -EINVAL, "case %zu accepted", i);
		cr_expect_null(out.kernel_image_path);
		snap_reader_destroy(rd);
		snap_writer_destroy(w);
	}
	wire_fini(&bad);
}
