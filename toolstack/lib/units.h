/*
 * units.h - sizes with binary unit suffixes, as xen-tools and xl write them.
 *
 * All units are powers of 1024: K = 1024, M = 1024^2, G = 1024^3,
 * T = 1024^4, whatever the spelling (`G', `GB' and `GiB' are the same).
 * Network rates are not sizes; they live in vif.c with xl's own rules.
 */
#ifndef VMKIT_UNITS_H
#define VMKIT_UNITS_H

#include <stddef.h>
#include <stdint.h>

#define UNITS_KIB ((uint64_t)1 << 10)
#define UNITS_MIB ((uint64_t)1 << 20)
#define UNITS_GIB ((uint64_t)1 << 30)
#define UNITS_TIB ((uint64_t)1 << 40)

/*
 * Parses a size: a decimal integer (leading zeros allowed, no sign)
 * followed by at most one suffix, with nothing around it:
 *
 *   B                  bytes
 *   K  k  KB  KiB      1024 bytes
 *   M     MB  MiB      1024^2
 *   G     GB  GiB      1024^3
 *   T     TB  TiB      1024^4
 *   (none)             default_unit bytes (1 for bytes, UNITS_MIB, ...)
 *
 * With a suffix the number may have a decimal fraction (`1.5G', `0.5K'),
 * digits on both sides of the point, as long as the result is a whole
 * number of bytes (`1.3K' is not).
 *
 * Returns 0 and sets *bytes_r; -ERANGE when the value does not fit in 64
 * bits; -EINVAL for anything else (empty, whitespace, a sign, an unknown
 * suffix, a fraction without a suffix or giving part of a byte,
 * default_unit 0).  *bytes_r is untouched on error.  s is only read.
 */
int units_parse_size(const char *s, uint64_t default_unit, uint64_t *bytes_r);

/*
 * Writes bytes in its shortest exact form into buf (len bytes with the
 * NUL): the largest of T, G, M, K that divides it exactly, as `10G',
 * `512M', `1536K', or plain bytes without a suffix (`123', `0').  The
 * result reads back with units_parse_size(..., 1, ...).  A 24-byte buffer
 * always suffices.  Returns 0, or -ERANGE when buf is too small (buf then
 * holds a truncated string when len > 0).
 */
int units_format_size(uint64_t bytes, char *buf, size_t len);

#endif
