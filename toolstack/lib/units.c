/*
 * units.c - sizes with binary unit suffixes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "units.h"

static const struct {
    const char *suffix;
    uint64_t unit;
} size_suffixes[] = {
    { "B", 1 },
    { "K", UNITS_KIB }, { "k", UNITS_KIB }, { "KB", UNITS_KIB }, { "KiB", UNITS_KIB },
    { "M", UNITS_MIB }, { "MB", UNITS_MIB }, { "MiB", UNITS_MIB },
    { "G", UNITS_GIB }, { "GB", UNITS_GIB }, { "GiB", UNITS_GIB },
    { "T", UNITS_TIB }, { "TB", UNITS_TIB }, { "TiB", UNITS_TIB },
};

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int units_parse_size(const char *s, uint64_t default_unit, uint64_t *bytes_r)
{
    const char *int_start, *frac_start = NULL, *suffix;
    size_t int_len, frac_len = 0;
    uint64_t unit = default_unit, ival = 0, total;

    if (!s || default_unit == 0)
        return -EINVAL;

    /* Syntax first, so that "99999999999999999999X" is -EINVAL. */
    int_start = s;
    while (is_digit(*s))
        s++;
    int_len = (size_t)(s - int_start);
    if (int_len == 0)
        return -EINVAL;
    if (*s == '.') {
        frac_start = ++s;
        while (is_digit(*s))
            s++;
        frac_len = (size_t)(s - frac_start);
        if (frac_len == 0)
            return -EINVAL;
    }
    suffix = s;
    if (*suffix) {
        size_t i;

        for (i = 0; i < sizeof(size_suffixes) / sizeof(size_suffixes[0]); i++)
            if (strcmp(suffix, size_suffixes[i].suffix) == 0)
                break;
        if (i == sizeof(size_suffixes) / sizeof(size_suffixes[0]))
            return -EINVAL;
        unit = size_suffixes[i].unit;
    } else if (frac_start) {
        return -EINVAL;     /* a fraction needs an explicit unit */
    }

    for (size_t i = 0; i < int_len; i++) {
        unsigned d = (unsigned)(int_start[i] - '0');

        if (ival > (UINT64_MAX - d) / 10)
            return -ERANGE;
        ival = ival * 10 + d;
    }
    if (ival > UINT64_MAX / unit)
        return -ERANGE;
    total = ival * unit;

    /* The fraction 0.d1d2...dn of a unit U is d1*U/10 + d2*U/100 + ...,
     * computed from the last digit: R_n = dn*U/10, R_i = (di*U + R_i+1)/10.
     * R_1 is a whole number of bytes only if every R_i is (R_i+1 =
     * 10*R_i - di*U), so a step that does not divide by 10 means part of
     * a byte.  Each R_i is below U (at most 2^40 here): no overflow. */
    if (frac_len > 0) {
        uint64_t frac = 0;

        for (size_t i = frac_len; i-- > 0;) {
            uint64_t t = (uint64_t)(frac_start[i] - '0') * unit + frac;

            if (t % 10 != 0)
                return -EINVAL;
            frac = t / 10;
        }
        if (total > UINT64_MAX - frac)
            return -ERANGE;
        total += frac;
    }

    *bytes_r = total;
    return 0;
}

int units_format_size(uint64_t bytes, char *buf, size_t len)
{
    static const struct {
        char suffix;
        uint64_t unit;
    } units[] = {
        { 'T', UNITS_TIB }, { 'G', UNITS_GIB }, { 'M', UNITS_MIB }, { 'K', UNITS_KIB },
    };
    uint64_t count = bytes;
    char suffix[2] = "";
    int n;

    for (size_t i = 0; bytes != 0 && i < sizeof(units) / sizeof(units[0]); i++) {
        if (bytes % units[i].unit == 0) {
            count = bytes / units[i].unit;
            suffix[0] = units[i].suffix;
            break;
        }
    }
    n = snprintf(buf, len, "%" PRIu64 "%s", count, suffix);
    if (n < 0 || (size_t)n >= len)
        return -ERANGE;
    return 0;
}
