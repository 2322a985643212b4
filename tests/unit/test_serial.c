/* vmm/x86/serial.c: the 16550A register model; interrupts observed on a bare eventfd. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../vmm/x86/serial.h"

enum { THR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

static struct serial *s;
static struct irq_line irq;
static int out[2]; /* pipe: the console */

static void setup(void)
{
	cr_assert_eq(pipe2(out, O_NONBLOCK | O_CLOEXEC), 0);
	irq.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	irq.gsi = 4;
	cr_assert_geq(irq.fd, 0);
	s = serial_create(-1, out[1], &irq);
	cr_assert_not_null(s);
}

static void teardown(void)
{
	serial_destroy(s);
	close(out[0]);
	close(out[1]);
	close(irq.fd);
}

TestSuite(serial, .init = setup, .fini = teardown);

static uint8_t rd(unsigned off)
{
	uint8_t v = 0;
	serial_pio(s, off, &v, 1, false);
	return v;
}

static void wr(unsigned off, uint8_t v)
{
	serial_pio(s, off, &v, 1, true);
}

/* Edges raised since the last call. */
static uint64_t irqs(void)
{
	uint64_t n = 0;
	if (read(irq.fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

static size_t console(char *buf, size_t max)
{
	ssize_t n = read(out[0], buf, max);
	return n > 0 ? (size_t)n : 0;
}

Test(serial, thr_writes_reach_the_output_fd)
{
	const char *msg = "Linux version 6.1\r\n";
	for (const char *p = msg; *p; p++)
		wr(THR, (uint8_t)*p);
	char buf[64] = { 0 };
	cr_expect_eq(console(buf, sizeof(buf)), strlen(msg));
	cr_expect_str_eq(buf, msg);
	struct serial_stats st;
	serial_get_stats(s, &st);
	cr_expect_eq(st.tx_bytes, strlen(msg));
}

Test(serial, lsr_always_reports_the_transmitter_empty)
{
	cr_expect_eq(rd(LSR) & 0x60, 0x60, "THRE and TEMT after reset");
	for (int i = 0; i < 100; i++)
		wr(THR, 'x');
	cr_expect_eq(rd(LSR) & 0x60, 0x60, "and after a burst of output");
	cr_expect_eq(rd(LSR) & 0x01, 0, "no data ready");
}

Test(serial, thri_raises_an_interrupt_and_iir_reports_it_once)
{
	cr_expect_eq(rd(IIR) & 0x0f, 0x01, "nothing pending");
	wr(IER, 0x02);
	cr_expect_eq(irqs(), 1, "enabling THRI with an empty THR interrupts at once");
	cr_expect_eq(rd(IIR) & 0x0f, 0x02, "IIR says THR empty");
	cr_expect_eq(rd(IIR) & 0x0f, 0x01, "reading IIR acknowledged it");
	wr(THR, 'a');
	cr_expect_eq(irqs(), 1, "each transmitted byte empties the THR again");
	cr_expect_eq(rd(IIR) & 0x0f, 0x02);
	cr_expect_eq(rd(IIR) & 0x0f, 0x01);
	cr_expect_eq(irqs(), 0, "no spurious edges");
}

Test(serial, no_interrupt_while_ier_is_zero)
{
	wr(THR, 'a');
	uint8_t b = 'k';
	serial_input(s, &b, 1);
	cr_expect_eq(irqs(), 0);
	cr_expect_eq(rd(IIR) & 0x0f, 0x01);
}

Test(serial, input_sets_data_ready_and_raises_rdi)
{
	wr(IER, 0x01);
	cr_expect_eq(irqs(), 0);
	cr_expect_eq(serial_input(s, (const uint8_t *)"hi", 2), 2);
	cr_expect_eq(irqs(), 1, "one edge for new data");
	cr_expect(rd(LSR) & 0x01, "DR");
	cr_expect_eq(rd(IIR) & 0x0f, 0x04, "IIR says received data");
	cr_expect_eq(rd(THR), 'h');
	cr_expect(rd(LSR) & 0x01, "one byte left");
	cr_expect_eq(rd(THR), 'i');
	cr_expect_eq(rd(LSR) & 0x01, 0, "FIFO drained");
	cr_expect_eq(rd(IIR) & 0x0f, 0x01);
	cr_expect_eq(rd(THR), 0, "reading an empty FIFO is harmless");
}

Test(serial, rdi_has_priority_over_thri)
{
	wr(IER, 0x03);
	serial_input(s, (const uint8_t *)"x", 1);
	cr_expect_eq(rd(IIR) & 0x0f, 0x04);
	cr_expect_eq(rd(THR), 'x');
	cr_expect_eq(rd(IIR) & 0x0f, 0x02, "THRI still pending once the data is read");
}

Test(serial, receive_fifo_holds_64_bytes)
{
	uint8_t in[100];
	for (int i = 0; i < 100; i++)
		in[i] = (uint8_t)i;
	cr_expect_eq(serial_input(s, in, sizeof(in)), 64, "only what fits is taken");
	cr_expect_eq(serial_input(s, in, 1), 0, "full");
	for (int i = 0; i < 64; i++)
		cr_assert_eq(rd(THR), i, "byte %d in order", i);
	cr_expect_eq(rd(LSR) & 0x01, 0);
	cr_expect_eq(serial_input(s, in, 1), 1, "room again");
}

Test(serial, fcr_clears_the_receive_fifo)
{
	serial_input(s, (const uint8_t *)"abc", 3);
	wr(FCR, 0x07);
	cr_expect_eq(rd(LSR) & 0x01, 0);
	cr_expect_eq(rd(IIR) & 0xc0, 0xc0, "FIFOs reported enabled");
}

Test(serial, loopback_routes_thr_to_rbr_and_msr_mirrors_mcr)
{
	wr(MCR, 0x10);
	wr(THR, 0x42);
	cr_expect(rd(LSR) & 0x01, "the byte came back");
	cr_expect_eq(rd(THR), 0x42);
	char buf[8];
	cr_expect_eq(console(buf, sizeof(buf)), 0, "nothing reaches the console in loopback");

	static const struct {
		uint8_t mcr, msr;
	} wires[] = {
		{ 0x10, 0x00 }, { 0x11, 0x20 }, { 0x12, 0x10 },
		{ 0x14, 0x40 }, { 0x18, 0x80 }, { 0x1f, 0xf0 },
	};
	for (size_t i = 0; i < sizeof(wires) / sizeof(wires[0]); i++) {
		wr(MCR, wires[i].mcr);
		cr_expect_eq(rd(MSR) & 0xf0, wires[i].msr, "MCR %#x", wires[i].mcr);
	}
	wr(MCR, 0x08);
	cr_expect_eq(rd(MSR) & 0xb0, 0xb0, "out of loopback: DCD, DSR, CTS asserted");
}

Test(serial, loopback_respects_the_fifo_bound)
{
	wr(MCR, 0x10);
	for (int i = 0; i < 70; i++)
		wr(THR, (uint8_t)i);
	int n = 0;
	while (rd(LSR) & 0x01) {
		cr_assert_eq(rd(THR), n);
		n++;
		cr_assert_leq(n, 64);
	}
	cr_expect_eq(n, 64);
	struct serial_stats st;
	serial_get_stats(s, &st);
	cr_expect_eq(st.missed_read, 6);
}

Test(serial, dlab_exposes_the_divisor_latch)
{
	wr(IER, 0x01);
	wr(LCR, 0x83);
	wr(THR, 0x01); /* DLL */
	wr(IER, 0x02); /* DLM */
	cr_expect_eq(rd(THR), 0x01);
	cr_expect_eq(rd(IER), 0x02);
	char buf[8];
	cr_expect_eq(console(buf, sizeof(buf)), 0, "a divisor write is not output");
	wr(LCR, 0x03);
	cr_expect_eq(rd(IER), 0x01, "IER untouched by the DLM write");
	cr_expect_eq(rd(LCR), 0x03);
}

Test(serial, scratch_register_round_trips)
{
	wr(SCR, 0x5a);
	cr_expect_eq(rd(SCR), 0x5a);
}

Test(serial, wide_accesses_are_ignored)
{
	uint8_t d[2] = { 'x', 'y' };
	serial_pio(s, THR, d, 2, true);
	char buf[8];
	cr_expect_eq(console(buf, sizeof(buf)), 0);
	serial_pio(s, LSR, d, 2, false);
	cr_expect_eq(d[0], 0xff);
	cr_expect_eq(d[1], 0xff);
}

Test(serial, save_restore_round_trip)
{
	wr(LCR, 0x83);
	wr(THR, 0x0c);
	wr(LCR, 0x1b);
	wr(IER, 0x01);
	wr(MCR, 0x0b);
	wr(SCR, 0x77);
	serial_input(s, (const uint8_t *)"state", 5);
	struct serial_state st;
	serial_save(s, &st);
	cr_expect_eq(st.rx_count, 5);

	struct serial *t = serial_create(-1, -1, &irq);
	cr_assert_not_null(t);
	cr_assert_eq(serial_restore(t, &st), 0);
	struct serial_state again;
	serial_save(t, &again);
	cr_expect_eq(memcmp(&st, &again, sizeof(st)), 0, "bit-identical state");
	struct serial *orig = s;
	s = t;
	cr_expect_eq(rd(LCR), 0x1b);
	cr_expect_eq(rd(SCR), 0x77);
	cr_expect_eq(rd(MCR), 0x0b);
	char got[6] = { 0 };
	for (int i = 0; i < 5; i++)
		got[i] = (char)rd(THR);
	cr_expect_str_eq(got, "state");
	s = orig;
	serial_destroy(t);
}

Test(serial, restore_rejects_an_oversized_fifo)
{
	struct serial_state st;
	serial_input(s, (const uint8_t *)"ab", 2);
	serial_save(s, &st);
	struct serial_state bad = st;
	bad.rx_count = 65;
	cr_expect_eq(serial_restore(s, &bad), -EINVAL);
	bad.rx_count = 255;
	cr_expect_eq(serial_restore(s, &bad), -EINVAL);
	struct serial_state now;
	serial_save(s, &now);
	cr_expect_eq(memcmp(&st, &now, sizeof(st)), 0, "state unchanged by a rejected restore");
	bad.rx_count = 64;
	cr_expect_eq(serial_restore(s, &bad), 0, "a full FIFO is valid");
}
