/* vmm/x86/serial.c: console output gathered into lines, the unfinished line
 * sent by the event loop's timer, everything flushed by a save and at the end. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../vmm/eventloop.h"
#include "../../vmm/x86/serial.h"

static struct serial *s;
static struct irq_line irq;
static struct evloop loop;
static int out[2]; /* pipe: the console */

static void setup(void)
{
	cr_assert_eq(pipe2(out, O_NONBLOCK | O_CLOEXEC), 0);
	irq.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	irq.gsi = 4;
	cr_assert_geq(irq.fd, 0);
	cr_assert_eq(evloop_init(&loop), 0);
	s = serial_create(-1, out[1], &irq);
	cr_assert_not_null(s);
	cr_assert_eq(serial_attach(s, &loop), 0);
}

static void teardown(void)
{
	serial_destroy(s);
	evloop_fini(&loop);
	close(out[0]);
	close(out[1]);
	close(irq.fd);
}

TestSuite(serial_tx, .init = setup, .fini = teardown);

static void put(const char *text)
{
	for (const char *p = text; *p; p++) {
		uint8_t v = (uint8_t)*p;
		serial_pio(s, 0, &v, 1, true); /* THR */
	}
}

static size_t console(char *buf, size_t max)
{
	ssize_t n = read(out[0], buf, max - 1);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

Test(serial_tx, a_line_goes_out_whole_at_its_newline)
{
	char buf[64];
	put("ab");
	cr_expect_eq(console(buf, sizeof(buf)), 0, "nothing before the line ends: %s", buf);
	put("c\n");
	cr_expect_str_eq((console(buf, sizeof(buf)), buf), "abc\n");
	struct serial_stats st;
	serial_get_stats(s, &st);
	cr_expect_eq(st.tx_bytes, 4);
}

Test(serial_tx, an_unfinished_line_follows_from_the_event_loop)
{
	char buf[64];
	put("login: ");
	cr_expect_eq(console(buf, sizeof(buf)), 0);
	/* The timer fires ~2 ms after the first byte. */
	cr_assert_gt(evloop_run_once(&loop, 1000), 0);
	cr_expect_str_eq((console(buf, sizeof(buf)), buf), "login: ");
	put("x");
	cr_assert_gt(evloop_run_once(&loop, 1000), 0, "the timer is armed again");
	cr_expect_str_eq((console(buf, sizeof(buf)), buf), "x");
}

Test(serial_tx, a_save_and_the_end_flush_what_is_pending)
{
	char buf[64];
	struct serial_state st;
	put("saved");
	serial_save(s, &st);
	cr_expect_str_eq((console(buf, sizeof(buf)), buf), "saved");
	put("last");
	serial_destroy(s);
	s = NULL;
	cr_expect_str_eq((console(buf, sizeof(buf)), buf), "last");
}

Test(serial_tx, a_full_buffer_goes_out_without_a_newline)
{
	static char line[4097], buf[8192];
	memset(line, 'z', 4096);
	put(line);
	cr_expect_eq(console(buf, sizeof(buf)), 4096);
}
