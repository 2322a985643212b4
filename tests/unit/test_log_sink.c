/* lib/log.c's sinks: FIFOs open before a reader attaches; a full one drops, never blocks. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/log.h"

static char dir[] = "/tmp/mvm-sink-XXXXXX";
static char fifo[64];

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
}

static void teardown(void)
{
	log_set_path("/dev/null", false);
	unlink(fifo);
	rmdir(dir);
}

TestSuite(log_sink, .init = setup, .fini = teardown);

Test(log_sink, fifo_opens_with_no_reader_and_a_late_reader_gets_the_line)
{
	int fd = log_open_sink(fifo, false);
	cr_assert_geq(fd, 0, "open: %s", strerror(-fd));
	cr_assert_eq(write(fd, "early\n", 6), 6);
	int rd = open(fifo, O_RDONLY | O_NONBLOCK);
	cr_assert_geq(rd, 0);
	/* The sink holds the read end too; a reader that opens later sees what was written. */
	char buf[16] = "";
	cr_expect_eq(read(rd, buf, sizeof(buf) - 1), 6);
	cr_expect_str_eq(buf, "early\n");
	close(rd);
	close(fd);
}

Test(log_sink, missing_path_is_refused_unless_asked_to_create)
{
	char p[96];
	snprintf(p, sizeof(p), "%s/new.log", dir);
	cr_expect_eq(log_open_sink(p, false), -ENOENT);
	cr_expect_neq(access(p, F_OK), 0, "the file was created");
	int fd = log_open_sink(p, true);
	cr_expect_geq(fd, 0);
	close(fd);
	unlink(p);
}

Test(log_sink, full_fifo_drops_lines_and_counts_them)
{
	cr_assert_eq(log_set_path(fifo, false), 0);
	log_set_level(LOG_INFO);
	unsigned long long before = log_dropped();
	/* 64 KiB of pipe: far fewer than 2000 lines of ~100 bytes fit. */
	for (int i = 0; i < 2000; i++)
		log_info("filling the fifo, line %d", i);
	cr_expect_gt(log_dropped(), before, "nothing was counted as dropped");
}
