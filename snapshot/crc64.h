/* CRC-64 of snapshot state files. */
#ifndef MVM_SNAPSHOT_CRC64_H
#define MVM_SNAPSHOT_CRC64_H

#include <stddef.h>
#include <stdint.h>

/*
 * CRC-64/XZ: the ECMA-182 polynomial 0x42F0E1EBA9EA3693, reflected
 * (0xC96C5795D7870F42), init and final xor all ones. Check value of
 * "123456789" is 0x995DC9BBDF1939FA.
 *
 * Streams like zlib's crc32(): start with crc = 0 and pass the previous
 * result to continue; crc64(crc64(0, a, n), b, m) == crc64(0, a b, n + m).
 */
uint64_t crc64(uint64_t crc, const void *buf, size_t len);

#endif
