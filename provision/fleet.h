/*
 * fleet.h - fleets of guests for `vm-provision --batch FLEET' and
 * `--count N --hostname PATTERN [--ip-range FIRST-LAST[/PREFIX]]'
 * (vmkit-fleet(5)).
 *
 * A fleet file is a settings file (settings.h) with a [defaults] section
 * and one [NAME] section per guest, NAME being the guest's host name; the
 * keys are vm-provision's long options, as in provision.conf.  Settings
 * before the first section are an error (fleet-wide settings go under
 * [defaults]).  A guest's settings are [defaults]'s, then its own
 * section's; the caller layers them as
 *
 *   provision.conf < template < [defaults] < [NAME] < command line
 *
 * applying provision.conf (LAYER_PROVISION_CONF), the guest's template
 * (LAYER_TEMPLATE), fleet_apply, then the command line.
 *
 * This module reads and checks; it creates nothing, prints nothing, and
 * keeps no globals.  All its errors go to a struct diag as
 * FILE:LINE:COL: message (the --count fleet's as --count:, --hostname:
 * and --ip-range:).
 */
#ifndef VMKIT_FLEET_H
#define VMKIT_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "options.h"
#include "settings.h"

/* The most guests a fleet may have (a file's or --count's). */
#define FLEET_MAX_GUESTS 10000

/* The section that holds the settings every guest shares. */
#define FLEET_DEFAULTS "defaults"

struct fleet_guest {
    char *name;         /* owned: the host name (section name, or the pattern's) */
    int line, col;      /* its [NAME] header in the file; 0 for --count */
    const struct settings_section *section;  /* its settings, borrowed from the
                                                 fleet's; NULL for --count */
    char *ip;           /* owned: --count with --ip-range: ADDR or ADDR/PREFIX;
                           NULL otherwise */
};

struct fleet {
    char *source;       /* owned: the file's name in messages; NULL for --count */
    struct settings *settings;      /* owned: the file; NULL for --count */
    const struct settings_section *defaults;    /* [defaults] or NULL; borrowed
                                                   from settings */
    struct fleet_guest *guests;     /* in file (or number) order */
    size_t nguests;
};

/* An IPv4 range, FIRST-LAST or FIRST-LAST/PREFIX. */
struct fleet_ip_range {
    uint32_t first, last;   /* host byte order; first <= last */
    int prefix;             /* 0..32; -1 when none was given */
};

/*
 * Parses a fleet file's text (len bytes; source names it in messages).
 * Returns 0 and sets *f_r; -EINVAL after recording every syntax error,
 * and then *f_r still holds what could be read (bad lines, and the
 * settings under a bad or repeated [NAME], left out) so that
 * fleet_validate can report the rest at once: the caller must refuse the
 * fleet all the same.  -ENOMEM with *f_r NULL.  Free with fleet_free.
 * Nothing but the syntax is checked here: see fleet_validate.
 */
int fleet_parse(const char *source, const char *text, size_t len, struct fleet **f_r,
                struct diag *d);

/* fleet_parse on the regular file at path (named as given); also -errno
 * (recorded) when it cannot be read, -EFBIG when it is larger than
 * SETTINGS_MAX_SIZE, with *f_r NULL. */
int fleet_read_file(const char *path, struct fleet **f_r, struct diag *d);

/*
 * A homogeneous fleet of count guests (--count, a decimal 1 ..
 * FLEET_MAX_GUESTS) named by pattern (--hostname, see
 * fleet_pattern_expand), numbered from 1, and, when ip_range is not NULL
 * (--ip-range, see fleet_ip_range_parse), given the range's addresses in
 * order, with its /PREFIX when it has one; without a range the guests use
 * DHCP.  Every bad argument is recorded naming its option; each name is
 * checked with check_hostname (the first bad one reported).  Returns 0
 * and sets *f_r (free with fleet_free); -EINVAL after recording; -ENOMEM.
 */
int fleet_from_count(const char *count, const char *pattern, const char *ip_range,
                     struct fleet **f_r, struct diag *d);

void fleet_free(struct fleet *f);

/* --count's argument: a decimal 1..FLEET_MAX_GUESTS, no sign, no leading
 * zero.  0 and *n_r, or -EINVAL with *why (static). */
int fleet_parse_count(const char *s, size_t *n_r, const char **why);

/*
 * The host name pattern with number n put in: pattern holds exactly one
 * conversion, %d, %Nd (padded with blanks, which a host name cannot hold)
 * or %0Nd (padded with zeros), N from 1 to 63 without a leading zero;
 * any other `%' (%s, %n, %ld, %5$d, %%, a second conversion, ...) is
 * refused.  The pattern never reaches printf.  Returns 0 and a new string
 * in *name_r (not yet checked as a host name); -EINVAL with *why (static);
 * -ENOMEM.
 */
int fleet_pattern_expand(const char *pattern, size_t n, char **name_r, const char **why);

/*
 * An IPv4 range, FIRST-LAST[/PREFIX]: two dotted quads, FIRST not after
 * LAST, both host addresses (not in 0/8, 127/8 or 224/3); with /PREFIX
 * (0..32) both in one network of that prefix, and for a prefix up to 30
 * neither its network nor its broadcast address.  No blanks.  Returns 0
 * and *r_r; -EINVAL with *why (static).
 */
int fleet_ip_range_parse(const char *s, struct fleet_ip_range *r_r, const char **why);

/* The number of addresses in r (1 .. 2^32). */
uint64_t fleet_ip_range_size(const struct fleet_ip_range *r);

/* What fleet_validate checks beyond the fleet itself. */
struct fleet_checks {
    /* --ip-range given with the fleet: every static address must lie in
     * it.  NULL: no such check. */
    const struct fleet_ip_range *ip_range;
    /* The templates there are (template_list's names; borrowed): a
     * `template' naming another is an error.  NULL: not checked. */
    const char *const *templates;
    size_t ntemplates;
};

/*
 * Checks the whole fleet and records every error in d, sorted by line and
 * column after any that d already holds:
 *   - settings before the first section; no guest; more than
 *     FLEET_MAX_GUESTS;
 *   - a guest's name not a host name (check_hostname), `defaults' in
 *     another case ([Defaults] is a guest to the parser), or the same as
 *     an earlier guest's without regard to case (an exact repeat is the
 *     parser's error);
 *   - `hostname' in any section; `ip' and `mac' in [defaults];
 *   - what options_apply_settings refuses: unknown keys, command-line-only
 *     keys, bad values (each reported once, [defaults]'s too);
 *   - a static address that is not a host's (unspecified, loopback,
 *     multicast), used by two guests (reported at the later, naming the
 *     earlier's line), or outside c->ip_range;
 *   - a MAC address used by two guests;
 *   - a `template' not in c->templates.
 * Storage room needs the resolved settings: see fleet_check_room.
 * Returns 0, -EINVAL after recording, or -ENOMEM.  c may be NULL.
 */
int fleet_validate(const struct fleet *f, const struct fleet_checks *c, struct diag *d);

/*
 * Applies guest i's fleet settings onto o: its host name (from its
 * [NAME] header), then [defaults], then its section, at LAYER_CONFIG,
 * leaving out what fleet_validate refuses (settings before any section,
 * `hostname' in a section, `ip' and `mac' in [defaults]).  A --count
 * guest's name and address are applied at LAYER_CMDLINE (they come from
 * --hostname and --ip-range).  Call it after provision.conf and the
 * template and before the command line; bad values are recorded in d
 * (again: fleet_validate has reported them).  Returns 0, -EINVAL after
 * recording, or -ENOMEM.
 */
int fleet_apply(const struct fleet *f, size_t i, struct opt_set *o, struct diag *d);

/* The template guest i's fleet settings name (its section's `template',
 * else [defaults]'s), or NULL when neither names one; an empty value
 * means none.  Borrowed from f. */
const struct settings_entry *fleet_template(const struct fleet *f, size_t i);

/*
 * The storage a guest of settings o needs: its root disk (--size, 4G by
 * default) and its swap disk (--swap, 512M by default, none with
 * --noswap), parsed as the size options are (units_parse_size, a plain
 * number is MiB).  0 and *bytes_r; -EINVAL (a bad value, reported when
 * it was set); -ERANGE (overflow).
 */
int fleet_guest_bytes(const struct opt_set *o, uint64_t *bytes_r);

/*
 * Whether where (a directory, a volume group, a thin pool: for the
 * message) has room for the fleet: need[i] is what guest i needs
 * (fleet_guest_bytes, or less for clones), available what where has.
 * Returns 0; -ENOSPC after recording "WHERE: error: the fleet needs TOTAL
 * for N guests, AVAILABLE available" (where as the entry's file; sizes
 * with K, M, G or T: exact when whole, else to a tenth, as 22.5G).
 */
int fleet_check_room(const struct fleet *f, const uint64_t *need, uint64_t available,
                     const char *where, struct diag *d);

#endif
