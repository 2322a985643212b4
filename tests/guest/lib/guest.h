/*
 * The test-guest library: boot information, port and MMIO access, the
 * serial console, printf, string helpers and the verdict every scenario
 * ends with.  A scenario defines guest_main() and ends with test_pass()
 * or test_fail(); both print "MVM-TEST <name>: ..." and reset the machine.
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NORETURN __attribute__((noreturn))
#define PRINTF(a, b) __attribute__((format(printf, a, b)))
#define ALIGNED(n) __attribute__((aligned(n)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* How the loader entered the guest (start.S). */
enum { BOOT_PVH = 1, BOOT_LINUX64 = 2 };
extern uint32_t boot_entry;
extern uint64_t boot_info;	/* hvm_start_info (PVH) or boot_params (64-bit) */
extern uint64_t boot_cmdline;	/* physical address of the command line, 0 if none */

/* Defined by each scenario (GUEST_NAME comes from the Makefile). */
extern const char guest_name[];
void guest_main(const char *cmdline);

/* Called by start.S with the command line's physical address. */
void guest_start(uint64_t cmdline_paddr) NORETURN;

void test_pass(void) NORETURN;
void test_fail(const char *fmt, ...) NORETURN PRINTF(1, 2);

/* i8042.c: pulse the reset line (0xFE to port 0x64); never returns. */
void machine_reset(void) NORETURN;

/* boottimer.c: write 123 to the boot-timer device at 0xc0000000. */
#define BOOT_TIMER_ADDR 0xc0000000UL
#define BOOT_TIMER_MAGIC 123
void boottimer_signal(void);

/* serial.c: COM1 at 0x3f8, polled. */
void serial_init(void);
void serial_putc(char c);

/* printf.c: %s %c %d %i %u %x %X %p %%, flags '0' '-', width, l/ll/z. */
int printf(const char *fmt, ...) PRINTF(1, 2);
int vprintf(const char *fmt, va_list ap) PRINTF(1, 0);

/* traps.c */
void traps_init(void);

/* string.c (the compiler may also call memcpy/memset/memcmp itself). */
void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);
bool streq(const char *a, const char *b);

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* One access of exactly the given width: a device register. */
static inline uint32_t mmio_read32(uint64_t addr)
{
	return *(volatile uint32_t *)(uintptr_t)addr;
}

static inline void mmio_write32(uint64_t addr, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)addr = v;
}

static inline uint8_t mmio_read8(uint64_t addr)
{
	return *(volatile uint8_t *)(uintptr_t)addr;
}

static inline void mmio_write8(uint64_t addr, uint8_t v)
{
	*(volatile uint8_t *)(uintptr_t)addr = v;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/*
 * Timeouts are counted in TSC cycles; the TSC rate is not known, so a
 * millisecond is taken as 3 million cycles (a 1 GHz TSC waits 3x longer).
 */
#define TSC_PER_MS 3000000ULL

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" : : : "memory");
}

/* Full barrier: orders ring writes against the device (another thread). */
static inline void mb(void)
{
	__asm__ volatile("mfence" : : : "memory");
}

static inline uint64_t paddr(const volatile void *p)
{
	return (uint64_t)(uintptr_t)p;	/* identity map: virtual == physical */
}

#endif
