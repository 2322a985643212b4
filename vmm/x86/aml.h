/*
 * A small AML (ACPI Machine Language) emitter: just the terms mvm's DSDT
 * needs (ACPI 6.5, chapter 20). It writes into a caller's buffer; a term that
 * does not fit, or a name that is not a valid NameString, marks the buffer bad
 * and everything after it is dropped, so callers check `bad` once at the end.
 *
 * Terms with a PkgLength (Scope, Device, Method, If, Package, Buffer) are
 * opened, filled and closed: aml_close() writes the length in as few bytes
 * as it needs.
 */
#ifndef MVM_X86_AML_H
#define MVM_X86_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *p;
	size_t len, cap;
	bool bad;
};

void aml_init(struct aml *a, void *buf, size_t cap);

/* Raw bytes and the pieces every term is made of. */
void aml_bytes(struct aml *a, const void *b, size_t n);
/* "\\_SB_.VGEN", "_HID", "V000": segments of 1-4 of [A-Z0-9_] (padded with '_'). */
void aml_name_string(struct aml *a, const char *path);
/* The shortest encoding: ZeroOp, OneOp, Byte/Word/DWord/QWord constants. */
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* "PNP0501" as its compressed 32-bit EISA id (a DWord constant). */
void aml_eisaid(struct aml *a, const char *id);

/* PkgLength for n bytes of content: the encoded size (1-4), 0 when n is too big. */
int aml_pkglen_encode(size_t n, uint8_t out[4]);

/* Open a term with a PkgLength; returns the mark aml_close() needs. */
size_t aml_scope(struct aml *a, const char *path);
size_t aml_device(struct aml *a, const char *path);
size_t aml_method(struct aml *a, const char *name, int nargs, bool serialized);
/* If (LEqual (ArgN, value)) { ... } */
size_t aml_if_arg_equal(struct aml *a, int arg, uint64_t value);
/* Package with n elements (the caller adds them). */
size_t aml_package(struct aml *a, uint8_t n);
void aml_close(struct aml *a, size_t mark);
/* Buffer: its BufferSize is filled in by aml_buffer_close(). */
size_t aml_buffer(struct aml *a);
void aml_buffer_close(struct aml *a, size_t mark);

/* Name (name, value) */
void aml_name_integer(struct aml *a, const char *name, uint64_t v);
void aml_name_str(struct aml *a, const char *name, const char *s);
void aml_name_eisaid(struct aml *a, const char *name, const char *id);
/* Name (name, ...) followed by the value's term: open with aml_name(). */
void aml_name(struct aml *a, const char *name);
/* Notify (path, value) */
void aml_notify(struct aml *a, const char *path, uint64_t value);

/* Resource descriptors, inside a Buffer (ResourceTemplate); end with aml_res_end(). */
void aml_res_memory32_fixed(struct aml *a, uint32_t base, uint32_t len, bool writable);
void aml_res_io(struct aml *a, uint16_t port, uint8_t len);
/* Extended Interrupt, consumer, edge-triggered, active-high, exclusive. */
void aml_res_irq_edge(struct aml *a, uint32_t gsi);
void aml_res_end(struct aml *a);

#endif
