/* i8042 keyboard controller: enough for Linux to probe it fast, reset the VM, and Ctrl-Alt-Del. */
#ifndef MVM_X86_I8042_H
#define MVM_X86_I8042_H

#include <stdbool.h>
#include <stdint.h>

#include "../irq.h"

struct i8042;

struct i8042_state {
	uint8_t status, ctr, pending_cmd, kbd_pending, outp;
	uint8_t count;
	uint8_t buf[16];
	uint16_t irq_mask; /* bit i: buf[i] is keyboard data that interrupts */
};

typedef void (*i8042_reset_fn)(void *opaque);

struct i8042 *i8042_create(struct irq_line *kbd_irq, i8042_reset_fn reset, void *opaque);
void i8042_destroy(struct i8042 *d);
/* PIO handler for both ports; the bus range is 0x60..0x64 (off 0 = data, 4 = command). */
void i8042_pio(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool write);
/* Press and release Ctrl-Alt-Del; -ENOSPC if the guest is not reading keys. */
int i8042_ctrl_alt_del(struct i8042 *d);
void i8042_save(struct i8042 *d, struct i8042_state *st);
int i8042_restore(struct i8042 *d, const struct i8042_state *st);

#endif
