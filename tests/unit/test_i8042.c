/* vmm/x86/i8042.c: the keyboard controller as Linux probes it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../vmm/x86/i8042.h"

#define DATA	    0
#define CMD	    4
#define STS_OBF	    0x01
#define STS_AUXDATA 0x20

static struct i8042 *d;
static struct irq_line irq;
static int resets;

static void on_reset(void *opaque)
{
	cr_assert_eq(opaque, &resets);
	resets++;
}

static void setup(void)
{
	irq.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	cr_assert_geq(irq.fd, 0);
	irq.gsi = 1;
	resets = 0;
	d = i8042_create(&irq, on_reset, &resets);
	cr_assert_not_null(d);
}

static void teardown(void)
{
	i8042_destroy(d);
	close(irq.fd);
}

TestSuite(i8042, .init = setup, .fini = teardown);

static void cmd(uint8_t b)
{
	i8042_pio(d, CMD, &b, 1, true);
}

static void data_w(uint8_t b)
{
	i8042_pio(d, DATA, &b, 1, true);
}

static uint8_t data_r(void)
{
	uint8_t v = 0;
	i8042_pio(d, DATA, &v, 1, false);
	return v;
}

static uint8_t status(void)
{
	uint8_t v = 0;
	i8042_pio(d, CMD, &v, 1, false);
	return v;
}

static uint64_t irqs(void)
{
	uint64_t n = 0;
	if (read(irq.fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

/* Read everything queued; returns the count. */
static int drain(uint8_t *out, int max)
{
	int n = 0;
	while ((status() & STS_OBF) && n < max)
		out[n++] = data_r();
	return n;
}

Test(i8042, self_test_answers_0x55)
{
	cr_expect_eq(status() & STS_OBF, 0);
	cmd(0xaa);
	cr_expect(status() & STS_OBF);
	cr_expect_eq(data_r(), 0x55);
	cr_expect_eq(status() & STS_OBF, 0, "output buffer empty after the read");
}

Test(i8042, command_byte_reads_and_writes)
{
	cmd(0x20);
	uint8_t ctr = data_r();
	cr_expect_eq(ctr & 0x41, 0x41, "keyboard interrupt and translation on by default");
	cmd(0x60);
	data_w(0x65);
	cmd(0x20);
	cr_expect_eq(data_r(), 0x65);
}

Test(i8042, pulse_reset_command_resets_the_vm)
{
	cmd(0xfe);
	cr_expect_eq(resets, 1);
}

Test(i8042, output_port_reset_line)
{
	cmd(0xd1);
	data_w(0x03);
	cr_expect_eq(resets, 0, "bit 0 set: reset line stays high");
	cmd(0xd0);
	cr_expect_eq(data_r(), 0x03);
	cmd(0xd1);
	data_w(0x02);
	cr_expect_eq(resets, 1, "bit 0 clear pulls the reset line");
}

Test(i8042, keyboard_reset_answers_ack_and_bat_ok)
{
	data_w(0xff);
	uint8_t b[8];
	cr_assert_eq(drain(b, 8), 2);
	cr_expect_eq(b[0], 0xfa);
	cr_expect_eq(b[1], 0xaa);
}

Test(i8042, get_id_answers_a_mf2_keyboard)
{
	data_w(0xf2);
	uint8_t b[8];
	cr_assert_eq(drain(b, 8), 3);
	cr_expect_eq(b[0], 0xfa);
	cr_expect_eq(b[1], 0xab);
	cr_expect_eq(b[2], 0x83);
}

Test(i8042, keyboard_commands_with_an_argument_are_acked_twice)
{
	uint8_t b[8];
	data_w(0xed);
	data_w(0x07);
	cr_assert_eq(drain(b, 8), 2, "set LEDs + argument");
	cr_expect_eq(b[0], 0xfa);
	cr_expect_eq(b[1], 0xfa);

	data_w(0xf0);
	data_w(0x00);
	cr_assert_eq(drain(b, 8), 3, "get scan code set");
	cr_expect_eq(b[2], 0x41, "set 2 as seen through translation");

	data_w(0xee);
	cr_assert_eq(drain(b, 8), 1);
	cr_expect_eq(b[0], 0xee, "echo");
}

Test(i8042, aux_loopback_is_not_reported_as_aux_data)
{
	cmd(0xd3);
	data_w(0x5a);
	uint8_t st = status();
	cr_expect(st & STS_OBF);
	cr_expect_eq(st & STS_AUXDATA, 0, "no mouse: the byte must not look like AUX data");
	cr_expect_eq(data_r(), 0x5a);
}

Test(i8042, aux_interface_test_reports_an_error)
{
	cmd(0xa9);
	cr_expect_neq(data_r(), 0x00, "0 would mean a working AUX port");
}

Test(i8042, keyboard_interface_test_passes)
{
	cmd(0xab);
	cr_expect_eq(data_r(), 0x00);
}

Test(i8042, ctrl_alt_del_uses_set_1_when_translating)
{
	static const uint8_t set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
	cr_assert_eq(i8042_ctrl_alt_del(d), 0);
	uint8_t b[32];
	cr_assert_eq(drain(b, 32), (int)sizeof(set1));
	cr_expect_eq(memcmp(b, set1, sizeof(set1)), 0);
}

Test(i8042, ctrl_alt_del_uses_set_2_without_translation)
{
	static const uint8_t set2[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0,
					0x71, 0xf0, 0x11, 0xf0, 0x14 };
	cmd(0x60);
	data_w(0x05); /* XLATE off */
	cr_assert_eq(i8042_ctrl_alt_del(d), 0);
	uint8_t b[32];
	cr_assert_eq(drain(b, 32), (int)sizeof(set2));
	cr_expect_eq(memcmp(b, set2, sizeof(set2)), 0);
}

Test(i8042, full_buffer_refuses_ctrl_alt_del_whole)
{
	cr_assert_eq(i8042_ctrl_alt_del(d), 0);
	cr_assert_eq(i8042_ctrl_alt_del(d), 0, "16 bytes fit exactly");
	cr_expect_eq(i8042_ctrl_alt_del(d), -ENOSPC);
	uint8_t b[64];
	cr_expect_eq(drain(b, 64), 16, "no partial sequence queued");
}

Test(i8042, partial_room_is_not_enough)
{
	data_w(0xf2); /* 3 bytes queued, 13 free */
	cr_expect_eq(i8042_ctrl_alt_del(d), 0, "8 bytes of set 1 fit; 5 free after");
	cmd(0x60);
	data_w(0x05);
	cr_expect_eq(i8042_ctrl_alt_del(d), -ENOSPC, "11 bytes of set 2 do not fit in 5");
}

Test(i8042, keyboard_interrupts_only_when_enabled)
{
	data_w(0xff);
	cr_expect_geq(irqs(), 1, "CTR bit 0 set: the reply interrupts");
	uint8_t b[8];
	drain(b, 8);
	irqs();

	cmd(0x60);
	data_w(0x44); /* keyboard interrupt off */
	data_w(0xff);
	cr_expect_eq(irqs(), 0, "CTR bit 0 clear: polling only");
	cr_expect_eq(drain(b, 8), 2);
	cr_expect_eq(irqs(), 0);
	cr_expect_eq(i8042_ctrl_alt_del(d), 0);
	cr_expect_eq(irqs(), 0);
}

Test(i8042, controller_replies_never_interrupt)
{
	cmd(0xaa);
	cr_expect_eq(irqs(), 0, "replies are polled for");
	cr_expect_eq(data_r(), 0x55);
	data_w(0xf2); /* FA AB 83: keyboard data */
	cmd(0x20);    /* queued behind it */
	irqs();
	uint8_t b[8];
	cr_assert_eq(drain(b, 8), 4, "keyboard bytes are kept, the reply follows");
	cr_expect_eq(b[2], 0x83);
	cr_expect_eq(b[3] & 0x01, 0x01, "the command byte");
	cr_expect_eq(irqs(), 2, "edges for the 2nd and 3rd keyboard bytes only");
}

Test(i8042, an_unread_controller_reply_is_replaced)
{
	cmd(0xa9); /* AUX test answer, never read (Linux does this) */
	cmd(0xaa);
	cr_expect_eq(data_r(), 0x55, "a one-byte output buffer holds the newest reply");
	cr_expect_eq(status() & STS_OBF, 0);
}

Test(i8042, every_queued_byte_gets_its_own_edge)
{
	data_w(0xf2); /* FA AB 83 */
	cr_expect_eq(irqs(), 1, "first byte");
	data_r();
	cr_expect_eq(irqs(), 1, "second byte now in the output buffer");
	data_r();
	cr_expect_eq(irqs(), 1, "third");
	data_r();
	cr_expect_eq(irqs(), 0, "empty");
}

Test(i8042, other_ports_and_sizes_are_ignored)
{
	uint8_t v[2] = { 0, 0 };
	i8042_pio(d, 1, v, 1, false);
	cr_expect_eq(v[0], 0xff);
	i8042_pio(d, DATA, v, 2, false);
	cr_expect_eq(v[0], 0xff);
	cr_expect_eq(v[1], 0xff);
	v[0] = 0xfe;
	i8042_pio(d, CMD, v, 2, true);
	cr_expect_eq(resets, 0, "a 2-byte write is not a command");
}

Test(i8042, save_restore_round_trip)
{
	cmd(0x60);
	data_w(0x47);
	data_w(0xf2);
	cmd(0xd1); /* a command waiting for its data byte */
	struct i8042_state st;
	i8042_save(d, &st);
	cr_expect_eq(st.count, 3);

	struct i8042 *e = i8042_create(&irq, on_reset, &resets);
	cr_assert_not_null(e);
	cr_assert_eq(i8042_restore(e, &st), 0);
	struct i8042_state again;
	i8042_save(e, &again);
	cr_expect_eq(memcmp(&st, &again, sizeof(st)), 0);
	struct i8042 *orig = d;
	d = e;
	uint8_t b[8];
	cr_expect_eq(drain(b, 8), 3);
	cr_expect_eq(b[1], 0xab);
	data_w(0x00); /* completes the pending 0xd1 */
	cr_expect_eq(resets, 1, "the pending output-port write survived");
	d = orig;
	i8042_destroy(e);
}

Test(i8042, restore_rejects_an_oversized_buffer)
{
	struct i8042_state st;
	i8042_save(d, &st);
	struct i8042_state bad = st;
	bad.count = 17;
	cr_expect_eq(i8042_restore(d, &bad), -EINVAL);
	bad.count = 255;
	cr_expect_eq(i8042_restore(d, &bad), -EINVAL);
	struct i8042_state now;
	i8042_save(d, &now);
	cr_expect_eq(memcmp(&st, &now, sizeof(st)), 0);
}
