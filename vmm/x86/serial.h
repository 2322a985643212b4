/* 16550A-compatible UART (COM1): guest console on a host fd, input from another. */
#ifndef MVM_X86_SERIAL_H
#define MVM_X86_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../irq.h"

struct evloop;
struct serial;

struct serial_stats {
	uint64_t tx_bytes;
	uint64_t rx_bytes;
	uint64_t missed_write; /* output fd refused bytes */
	uint64_t missed_read;  /* input dropped on a full FIFO */
};

struct serial_state {
	uint8_t ier, iir_thre, lcr, mcr, lsr, msr, scr, dll, dlm, fcr;
	uint8_t rx_count;
	uint8_t rx[64];
};

/* out_fd < 0 discards output; in_fd < 0 means no input. Neither is closed. */
struct serial *serial_create(int in_fd, int out_fd, struct irq_line *irq);
void serial_destroy(struct serial *s);
/* PIO bus handler for the 8 registers at SERIAL_COM1_PORT. */
void serial_pio(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool write);
/* Queue input for the guest; returns how many bytes fit. */
size_t serial_input(struct serial *s, const uint8_t *buf, size_t n);
/* Onto the event loop: the timer that sends out an unfinished line (until
 * then every byte is written at once), and in_fd, paused while the guest's
 * FIFO is full. */
int serial_attach(struct serial *s, struct evloop *l);
void serial_get_stats(struct serial *s, struct serial_stats *out);
void serial_save(struct serial *s, struct serial_state *st);
int serial_restore(struct serial *s, const struct serial_state *st);

#endif
