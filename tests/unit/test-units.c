/*
 * test-units.c - units_parse_size and units_format_size.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "units.h"

static void parse_ok(const char *s, uint64_t default_unit, uint64_t want)
{
    uint64_t got = 0;
    int rc = units_parse_size(s, default_unit, &got);

    is_int(rc, 0, "parse `%s' (default unit %" PRIu64 ") succeeds", s, default_unit);
    ok(got == want, "parse `%s' = %" PRIu64 " (got %" PRIu64 ")", s, want, got);
}

static void parse_fails(const char *s, uint64_t default_unit, int want_rc)
{
    uint64_t got = 12345;
    int rc = units_parse_size(s, default_unit, &got);

    is_int(rc, want_rc, "parse `%s' fails with %s", s ? s : "(null)",
           want_rc == -ERANGE ? "-ERANGE" : "-EINVAL");
    ok(got == 12345, "parse `%s' leaves the result alone", s ? s : "(null)");
}

static void format_is(uint64_t bytes, const char *want)
{
    char buf[32];
    uint64_t back = 0;

    memset(buf, 'x', sizeof(buf));
    is_int(units_format_size(bytes, buf, sizeof(buf)), 0,
           "format %" PRIu64 " succeeds", bytes);
    is_str(buf, want, "format %" PRIu64, bytes);
    is_int(units_parse_size(buf, 1, &back), 0, "`%s' parses back", buf);
    ok(back == bytes, "`%s' parses back to %" PRIu64, buf, bytes);
}

int main(void)
{
    char buf[8];

    /* Plain numbers take the default unit. */
    parse_ok("0", 1, 0);
    parse_ok("123", 1, 123);
    parse_ok("007", 1, 7);
    parse_ok("512", UNITS_MIB, 512 * UNITS_MIB);
    parse_ok("3", UNITS_KIB, 3 * UNITS_KIB);
    parse_ok("18446744073709551615", 1, UINT64_MAX);

    /* Every suffix. */
    parse_ok("1B", UNITS_MIB, 1);
    parse_ok("1K", 1, UNITS_KIB);
    parse_ok("1k", 1, UNITS_KIB);
    parse_ok("1KB", 1, UNITS_KIB);
    parse_ok("1KiB", 1, UNITS_KIB);
    parse_ok("2M", 1, 2 * UNITS_MIB);
    parse_ok("2MB", 1, 2 * UNITS_MIB);
    parse_ok("2MiB", 1, 2 * UNITS_MIB);
    parse_ok("10G", 1, 10 * UNITS_GIB);
    parse_ok("10GB", 1, 10 * UNITS_GIB);
    parse_ok("10GiB", 1, 10 * UNITS_GIB);
    parse_ok("3T", 1, 3 * UNITS_TIB);
    parse_ok("3TB", 1, 3 * UNITS_TIB);
    parse_ok("3TiB", 1, 3 * UNITS_TIB);
    parse_ok("256M", UNITS_KIB, 256 * UNITS_MIB);
    parse_ok("0G", 1, 0);
    parse_ok("16777215T", 1, 16777215 * UNITS_TIB);

    /* Fractions with a unit, when they make whole bytes. */
    parse_ok("1.5G", 1, 1610612736);
    parse_ok("0.5K", 1, 512);
    parse_ok("1.25M", 1, 1310720);
    parse_ok("1.0B", 1, 1);
    parse_ok("2.50000000000000000000000000G", 1, 5 * UNITS_GIB / 2);
    parse_ok("0.0009765625K", 1, 1);
    parse_ok("0.00000095367431640625T", 1, UNITS_MIB);
    parse_ok("16777215.5T", 1, 16777215 * UNITS_TIB + UNITS_TIB / 2);

    /* Syntax errors. */
    parse_fails("", 1, -EINVAL);
    parse_fails(NULL, 1, -EINVAL);
    parse_fails(" 1", 1, -EINVAL);
    parse_fails("1 ", 1, -EINVAL);
    parse_fails("1 G", 1, -EINVAL);
    parse_fails("\t1G", 1, -EINVAL);
    parse_fails("-1", 1, -EINVAL);
    parse_fails("+1", 1, -EINVAL);
    parse_fails("G", 1, -EINVAL);
    parse_fails("1X", 1, -EINVAL);
    parse_fails("1GG", 1, -EINVAL);
    parse_fails("1m", 1, -EINVAL);
    parse_fails("1g", 1, -EINVAL);
    parse_fails("1kb", 1, -EINVAL);
    parse_fails("1Gb", 1, -EINVAL);
    parse_fails("1gib", 1, -EINVAL);
    parse_fails("1KIB", 1, -EINVAL);
    parse_fails("0x10", 1, -EINVAL);
    parse_fails("1e3", 1, -EINVAL);
    parse_fails("1,5G", 1, -EINVAL);
    parse_fails("1.", 1, -EINVAL);
    parse_fails("1.G", 1, -EINVAL);
    parse_fails(".5G", 1, -EINVAL);
    parse_fails("1..5G", 1, -EINVAL);
    parse_fails("1.5.5G", 1, -EINVAL);
    parse_fails("1", 0, -EINVAL);
    parse_fails("99999999999999999999999X", 1, -EINVAL);

    /* Fractions that are not whole bytes, or have no unit. */
    parse_fails("1.5", 1, -EINVAL);
    parse_fails("1.5", UNITS_MIB, -EINVAL);
    parse_fails("1.3K", 1, -EINVAL);
    parse_fails("0.1B", 1, -EINVAL);
    parse_fails("1.5B", 1, -EINVAL);
    parse_fails("0.1G", 1, -EINVAL);
    parse_fails("0.00048828125K", 1, -EINVAL);   /* half a byte */
    parse_fails("0.12345678901234567891G", 1, -EINVAL);

    /* Overflow. */
    parse_fails("18446744073709551616", 1, -ERANGE);
    parse_fails("99999999999999999999999", 1, -ERANGE);
    parse_fails("16777216T", 1, -ERANGE);
    parse_fails("17179869184G", 1, -ERANGE);
    parse_fails("17592186044416", UNITS_MIB, -ERANGE);
    parse_fails("16777215.99999999999999999999T", 1, -EINVAL);
    parse_fails("16777216.5T", 1, -ERANGE);

    /* Formatting: the largest unit that divides exactly. */
    format_is(0, "0");
    format_is(1, "1");
    format_is(123, "123");
    format_is(1023, "1023");
    format_is(1024, "1K");
    format_is(1025, "1025");
    format_is(1536 * UNITS_KIB, "1536K");
    format_is(512 * UNITS_MIB, "512M");
    format_is(UNITS_MIB + UNITS_KIB, "1025K");
    format_is(10 * UNITS_GIB, "10G");
    format_is(1536 * UNITS_MIB, "1536M");
    format_is(UNITS_TIB, "1T");
    format_is(1024 * UNITS_TIB, "1024T");
    format_is(16777215 * UNITS_TIB, "16777215T");
    format_is(UINT64_MAX, "18446744073709551615");
    format_is(UINT64_MAX - 1023, "18014398509481983K");

    /* Buffer sizes. */
    is_int(units_format_size(512 * UNITS_MIB, buf, 5), 0, "`512M' fits in 5 bytes");
    is_str(buf, "512M", "and is written whole");
    is_int(units_format_size(512 * UNITS_MIB, buf, 4), -ERANGE,
           "`512M' does not fit in 4 bytes");
    is_int(units_format_size(123, buf, 0), -ERANGE, "nothing fits in 0 bytes");
    {
        char big[24];

        is_int(units_format_size(UINT64_MAX, big, sizeof(big)), 0,
               "24 bytes hold the longest form");
    }

    return tap_done();
}
