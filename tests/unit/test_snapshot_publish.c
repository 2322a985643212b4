/* snapshot/publish.[ch]: temporary names, publishing a pair, finishing an interrupted one. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/err.h"
#include "../../lib/log.h"
#include "../../lib/util.h"
#include "../../snapshot/binding.h"
#include "../../snapshot/format.h"
#include "../../snapshot/publish.h"
#include "../../snapshot/state.h"

static char dir[] = "/tmp/mvm-publish-XXXXXX";
static char state[48], mem[48], state_tmp[64], mem_tmp[64];

static void setup(void)
{
	log_set_level(LOG_ERROR); /* the roll-forward's warning is what these tests expect */
	strcpy(dir, "/tmp/mvm-publish-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(state, sizeof(state), "%s/vm.snap", dir);
	snprintf(mem, sizeof(mem), "%s/vm.mem", dir);
	snprintf(state_tmp, sizeof(state_tmp), "%s.tmp", state);
	snprintf(mem_tmp, sizeof(mem_tmp), "%s.tmp", mem);
}

static void teardown(void)
{
	const char *all[] = { state, mem, state_tmp, mem_tmp };
	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		unlink(all[i]);
	rmdir(dir);
}

TestSuite(snap_publish, .init = setup, .fini = teardown);

/* Snapshot number n: its generation is n repeated, 16 KiB of RAM. */
static struct snap_binding gen(uint8_t n)
{
	struct snap_binding b = { .ram_len = KiB(16), .mem_len = KiB(16) + MEMFILE_TRAILER_SIZE };
	memset(b.gen, n, sizeof(b.gen));
	return b;
}

static void put_state(const char *path, uint8_t n)
{
	struct snap_binding b = gen(n);
	struct snap_writer *w = snap_writer_create();
	cr_assert_eq(snap_writer_add(w, SNAP_SEC_MEMFILE, SNAP_MEMFILE_V, &b, sizeof(b)), 0);
	cr_assert_eq(snap_writer_write_new(w, path), 0);
	snap_writer_destroy(w);
}

static void put_mem(const char *path, uint8_t n)
{
	struct snap_binding b = gen(n);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(memfile_trailer_write(fd, &b), 0);
	close(fd);
}

/* Which snapshot the state file at path is (0: none readable). */
static uint8_t state_is(const char *path)
{
	struct snap_reader *rd;
	struct snap_binding b;
	if (snap_reader_open_file(path, 0, &rd, NULL))
		return 0;
	int r = snap_binding_get(rd, &b, NULL);
	snap_reader_destroy(rd);
	return r ? 0 : b.gen[0];
}

static uint8_t mem_is(const char *path)
{
	struct snap_binding b;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	int r = memfile_trailer_read(fd, path, &b, NULL);
	close(fd);
	return r ? 0 : b.gen[0];
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* snap_pair_open on state and mem: which snapshot it read, 0 if refused (msg in err). */
static uint8_t open_pair(struct err *err)
{
	struct snap_reader *rd = NULL;
	struct snap_binding b;
	int fd = open(mem, O_RDONLY);
	cr_assert_geq(fd, 0);
	int r = snap_pair_open(state, fd, mem, &rd, err);
	close(fd);
	if (r)
		return 0;
	cr_assert_eq(snap_binding_get(rd, &b, NULL), 0);
	snap_reader_destroy(rd);
	return b.gen[0];
}

Test(snap_publish, tmp_path_appends_the_suffix_and_refuses_what_does_not_fit)
{
	char buf[16], big[PATH_MAX + 1];

	cr_expect_eq(snap_tmp_path("d/vm.snap", buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, "d/vm.snap.tmp");
	cr_expect_eq(snap_tmp_path("0123456789a", buf, sizeof(buf)), 0, "15 bytes + NUL fit");
	cr_expect_eq(snap_tmp_path("0123456789ab", buf, sizeof(buf)), -ENAMETOOLONG);
	memset(big, 'x', PATH_MAX);
	big[PATH_MAX] = '\0';
	char out[PATH_MAX];
	cr_expect_eq(snap_tmp_path(big, out, sizeof(out)), -ENAMETOOLONG);
}

Test(snap_publish, publishes_memory_and_state_and_leaves_no_temporaries)
{
	struct err err = { 0 };
	bool committed;

	put_state(state, 1);
	put_mem(mem, 1);
	put_state(state_tmp, 2);
	put_mem(mem_tmp, 2);
	cr_assert_eq(snap_publish(state, mem, &committed, &err), 0, "%s", err.msg);
	cr_expect(committed);
	cr_expect_eq(state_is(state), 2);
	cr_expect_eq(mem_is(mem), 2);
	cr_expect(!exists(state_tmp) && !exists(mem_tmp));
}

Test(snap_publish, a_failure_before_the_memory_keeps_the_old_pair)
{
	struct err err = { 0 };
	bool committed = true;

	put_state(state, 1);
	put_mem(mem, 1);
	put_state(state_tmp, 2); /* the memory never got written */
	cr_expect_eq(snap_publish(state, mem, &committed, &err), -ENOENT);
	cr_expect(!committed);
	cr_expect(strstr(err.msg, mem_tmp), "%s", err.msg);
	cr_expect_eq(state_is(state), 1);
	cr_expect_eq(mem_is(mem), 1);
	cr_expect(!exists(state_tmp), "the temporaries are removed");
}

Test(snap_publish, open_reads_a_pair_that_belongs_together)
{
	struct err err = { 0 };

	put_state(state, 3);
	put_mem(mem, 3);
	cr_expect_eq(open_pair(&err), 3, "%s", err.msg);
}

Test(snap_publish, open_refuses_state_and_memory_of_two_snapshots)
{
	struct err err = { 0 };

	put_state(state, 1);
	put_mem(mem, 2);
	cr_expect_eq(open_pair(&err), 0);
	cr_expect(strstr(err.msg, "does not belong to snapshot state file"), "%s", err.msg);
	cr_expect_eq(state_is(state), 1, "nothing changed");
	/* A state.tmp of a third snapshot does not help. */
	put_state(state_tmp, 3);
	cr_expect_eq(open_pair(&err), 0);
	cr_expect(exists(state_tmp), "an unrelated leftover is left to the next create");
}

Test(snap_publish, open_finishes_a_publish_interrupted_after_the_memory)
{
	struct err err = { 0 };

	put_state(state, 1);
	put_mem(mem, 2);
	put_state(state_tmp, 2);
	cr_expect_eq(open_pair(&err), 2, "%s", err.msg);
	cr_expect_eq(state_is(state), 2, "renamed into place");
	cr_expect(!exists(state_tmp));
	/* The first snapshot in a directory: no old state at all. */
	unlink(state);
	put_mem(mem, 4);
	put_state(state_tmp, 4);
	cr_expect_eq(open_pair(&err), 4, "%s", err.msg);
	cr_expect_eq(state_is(state), 4);
}

Test(snap_publish, open_ignores_a_torn_state_tmp)
{
	struct err err = { 0 };

	put_state(state, 1);
	put_mem(mem, 1);
	put_state(state_tmp, 2);
	cr_assert_eq(truncate(state_tmp, 40), 0);
	cr_expect_eq(open_pair(&err), 1, "%s", err.msg);
	put_mem(mem, 2);
	cr_expect_eq(open_pair(&err), 0, "a torn state never completes a pair");
}

Test(snap_publish, recover_finishes_or_cleans_before_a_new_create)
{
	put_state(state, 1);
	put_mem(mem, 2);
	put_state(state_tmp, 2);
	put_mem(mem_tmp, 3);
	snap_pair_recover(state, mem);
	cr_expect_eq(state_is(state), 2, "the interrupted publish is finished");
	cr_expect(!exists(state_tmp) && !exists(mem_tmp), "leftovers removed");

	put_state(state_tmp, 5);
	put_mem(mem_tmp, 5);
	snap_pair_recover(state, mem);
	cr_expect_eq(state_is(state), 2);
	cr_expect_eq(mem_is(mem), 2);
	cr_expect(!exists(state_tmp) && !exists(mem_tmp));
}
