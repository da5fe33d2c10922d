/*
 * aptsrc.h - the host's Debian (or Ubuntu) mirror and release, read from
 * its apt sources and os-release, so that no mirror host name is ever
 * written in vmkit's code.
 *
 * Every path is read under a root directory: "/" for the host, a
 * temporary tree in tests.  Messages name the files as read (with the
 * root prefixed).
 */
#ifndef VMKIT_APTSRC_H
#define VMKIT_APTSRC_H

#include "diag.h"

/* Files larger than this are not read (an error). */
#define APTSRC_MAX_FILE (1024 * 1024)

struct aptsrc_mirror {
    char *uri;      /* as written, without trailing `/' */
    char *suite;    /* the suite of the chosen entry */
    char *file;     /* the file it came from (root prefixed) */
    int line;       /* the deb line, or the deb822 paragraph's URIs field */
};

void aptsrc_mirror_dispose(struct aptsrc_mirror *m);

/*
 * Finds the default mirror in root's /etc/apt/sources.list, then
 * /etc/apt/sources.list.d/ *.list (one-line format) and *.sources
 * (deb822) in name order, as apt reads them.  Candidates are `deb'
 * entries (not deb-src, not disabled with `Enabled: no', comments and
 * `[ option ... ]' skipped) with an http, https or file URI, a suite
 * that is not flat (no `/') and not a -security suite, and `main' among
 * the components.  The first candidate wins in this order of preference:
 * suite equal to prefer_suite (the host's codename; may be NULL), then
 * any other suite without a -updates, -backports or -proposed-updates
 * suffix, then those.  Lines that cannot be parsed are skipped, as they
 * name no usable mirror.
 *
 * Returns 0 and fills m (free with aptsrc_mirror_dispose); -ENOENT when
 * no file names a candidate (nothing recorded; missing files are fine);
 * -errno after recording an error when a file exists but cannot be read
 * or is larger than APTSRC_MAX_FILE; -ENOMEM.
 */
int aptsrc_find_mirror(const char *root, const char *prefer_suite,
                       struct aptsrc_mirror *m, struct diag *d);

struct aptsrc_release {
    char *id;           /* ID, e.g. "debian"; NULL if absent */
    char *id_like;      /* ID_LIKE, e.g. "debian"; NULL if absent */
    char *codename;     /* VERSION_CODENAME, e.g. "bookworm"; NULL if absent */
    char *file;         /* the file read (root prefixed) */
};

void aptsrc_release_dispose(struct aptsrc_release *rel);

/*
 * Reads root's /etc/os-release, or /usr/lib/os-release when that is
 * absent (os-release(5)), into rel.  Returns 0, -ENOENT when neither
 * exists (nothing recorded), -errno after recording an error when the
 * file cannot be read, -ENOMEM.  Lines that are not KEY=VALUE are
 * ignored; values may be quoted as the shell quotes them.
 */
int aptsrc_read_release(const char *root, struct aptsrc_release *rel, struct diag *d);

/*
 * The package family of the release: "debian" or "ubuntu" when ID is
 * one of those, else the first of "ubuntu", "debian" named in ID_LIKE
 * (a derivative of Ubuntu is also Debian-like, and uses Ubuntu's
 * archive); NULL when none.  Static storage.
 */
const char *aptsrc_release_family(const struct aptsrc_release *rel);

#endif
