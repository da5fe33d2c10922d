/*
 * settings.h - the settings-file format shared by provision.conf, dist
 * definitions, guest templates and fleet files (DESIGN.md "Settings
 * files"), in the xen-tools.conf manner:
 *
 *   # a comment (a whole line)
 *   key = value                # a comment after whitespace
 *   mirror = "http://x/#y"     # quoted: \" and \\ are the escapes
 *   empty =
 *   [web1]                     # a section (fleet files)
 *   memory = 1G
 *
 * Keys are [a-z][a-z0-9-]* (long option names).  The value is the rest
 * of the line with surrounding whitespace dropped; a `#' preceded by
 * whitespace starts a comment; a value may be double-quoted, and then
 * holds `#' and surrounding whitespace as written.  A value may not hold
 * a control character other than tab.  Section names are letters,
 * digits, `.', `-' and `_', starting with a letter, digit or `_'; a
 * section may not be repeated.  A repeated key is kept at every position
 * in file order; the last one wins.  Lines end in LF (a CR before it is
 * dropped).  Files are at most SETTINGS_MAX_SIZE bytes.
 */
#ifndef VMKIT_SETTINGS_H
#define VMKIT_SETTINGS_H

#include <stddef.h>

#include "diag.h"

#define SETTINGS_MAX_SIZE (1024 * 1024)

struct settings_entry {
    char *key;          /* owned */
    char *value;        /* owned, dequoted; "" when empty */
    int line;           /* 1-based */
    int col;            /* the key's column, 1-based */
    int value_col;      /* the value's column (its opening quote when quoted) */
};

struct settings_section {
    char *name;         /* owned; NULL for the top section (before any [NAME]) */
    int line, col;      /* the header's position; 0 for the top section */
    struct settings_entry *entries;     /* in file order, repeats included */
    size_t nentries;
};

struct settings {
    char *source;       /* the name used in messages */
    struct settings_section *sections;  /* [0] is the top section, always there */
    size_t nsections;
};

/*
 * Parses text (len bytes) into a new struct settings.  Every error is
 * recorded in d as SOURCE:LINE:COL: message.  Returns 0 and sets *s_r
 * (free with settings_free), -EINVAL after recording every error (one
 * per line at most; nothing is returned), or -ENOMEM.
 */
int settings_parse(const char *source, const char *text, size_t len,
                   struct settings **s_r, struct diag *d);

/* settings_read_file and settings_parse_flags flags */
#define SETTINGS_MISSING_OK 0x1     /* absent file: -ENOENT, nothing recorded */
#define SETTINGS_PARTIAL    0x2     /* -EINVAL still sets *s_r: what could be read */

/*
 * settings_parse with flags.  With SETTINGS_PARTIAL, a file with errors
 * still gives *s_r (after -EINVAL), holding every line that parsed: a
 * bad line is left out, and so are the settings after a bad or repeated
 * section header, up to the next good one (they belong to no section).
 * A fleet file is read so, for its other errors to be reported at once.
 * The caller frees *s_r whatever it returns.
 */
int settings_parse_flags(const char *source, const char *text, size_t len,
                         unsigned flags, struct settings **s_r, struct diag *d);

/*
 * Reads and parses the regular file at path (messages name it as given).
 * Errors as for settings_parse, plus -errno (recorded) when the file
 * cannot be read, -EFBIG when it is larger than SETTINGS_MAX_SIZE.  With
 * SETTINGS_PARTIAL, -EINVAL sets *s_r as settings_parse_flags says.
 */
int settings_read_file(const char *path, unsigned flags, struct settings **s_r,
                       struct diag *d);

void settings_free(struct settings *s);

/* The section called name (NULL: the top section), or NULL.  Borrowed. */
const struct settings_section *settings_section(const struct settings *s,
                                                const char *name);

/* The winning (last) entry for key in the section, or NULL.  Borrowed. */
const struct settings_entry *settings_find(const struct settings *s,
                                           const char *section, const char *key);

/* The winning value for key in the section, or NULL.  Borrowed. */
const char *settings_get(const struct settings *s, const char *section,
                         const char *key);

#endif
