/*
 * cfg.h - the xl.cfg config language: syntax tree with positions, and
 * typed getters.  (Stage one and two of three; domain.h validates.)
 *
 * The syntax is exactly what Xen's libxlutil accepts: `key = value' and
 * `key += value', statements ended by newline or `;', keys
 * [a-z][._0-9a-z]*, single- or double-quoted strings with xl's escapes,
 * numbers as xl's lexer reads them ([0-9][0-9a-fx]*, kept as written),
 * lists that may nest, `#' comments to the end of the line.  The last
 * assignment of a key wins; `+=' appends to a list or concatenates to a
 * string as xl does.  CRLF line ends and a comment on the last line
 * without a newline (both rejected by xl) are accepted with a warning.
 */
#ifndef VMKIT_CFG_H
#define VMKIT_CFG_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"

enum cfg_type {
    CFG_STRING,     /* a quoted string, dequoted */
    CFG_NUMBER,     /* a number, as written ("0x1f", "010", "1e5") */
    CFG_LIST,
};

struct cfg_value {
    enum cfg_type type;
    int line, col;              /* where the value starts */
    char *str;                  /* CFG_STRING, CFG_NUMBER */
    struct cfg_value **items;   /* CFG_LIST */
    size_t nitems;
};

struct cfg_setting {
    char *key;
    struct cfg_value *value;    /* the final value */
    int line, col;              /* the final assignment's key */
    bool appended;              /* the final assignment used += */
};

struct cfg {
    char *source;               /* the name used in messages */
    struct cfg_setting *settings;   /* in order of first appearance */
    size_t nsettings;
};

/*
 * Parses text (len bytes; NULs are an error) into a new struct cfg.
 * Errors and warnings go to d, named after source.  Returns 0 and sets
 * *cfg_r (caller frees with cfg_free), or -EINVAL after recording every
 * error found, or -ENOMEM.  Nothing is returned on error: a file is
 * accepted whole or not at all.
 */
int cfg_parse(const char *source, const char *text, size_t len,
              struct cfg **cfg_r, struct diag *d);

/* Reads and parses path (at most 1 MiB); errors as for cfg_parse, plus
 * -errno (recorded in d) when the file cannot be read. */
int cfg_read_file(const char *path, struct cfg **cfg_r, struct diag *d);

void cfg_free(struct cfg *cfg);

/* A deep copy of v (caller frees), or NULL on ENOMEM. */
struct cfg_value *cfg_value_dup(const struct cfg_value *v);
void cfg_value_free(struct cfg_value *v);

/* The setting for key, or NULL.  Borrowed from cfg. */
const struct cfg_setting *cfg_find(const struct cfg *cfg, const char *key);

/*
 * Typed getters, with xl's meaning.  Each returns 0 and sets *value_r,
 * -ENOENT when the key is absent (nothing recorded), or -EINVAL after
 * recording an error at the value's position in d (a list where a single
 * value is wanted, a number that does not parse, ...).
 */

/* A string or a number's text.  Borrowed from cfg. */
int cfg_get_string(const struct cfg *cfg, const char *key,
                   const char **value_r, struct diag *d);
/* A single value read as strtol(..., 0) reads it: "010" is 8, "0x10" 16;
 * quoted numbers count; `+=' assignments do not (as in xl). */
int cfg_get_long(const struct cfg *cfg, const char *key, long min, long max,
                 long *value_r, struct diag *d);
/* 0 or 1 (any number: non-zero is true, as in xl). */
int cfg_get_bool(const struct cfg *cfg, const char *key, bool *value_r,
                 struct diag *d);
/* A list.  Borrowed from cfg. */
int cfg_get_list(const struct cfg *cfg, const char *key,
                 const struct cfg_value **list_r, struct diag *d);

/* Parses s as cfg_get_long does; 0 or -EINVAL/-ERANGE (nothing recorded). */
int cfg_parse_long(const char *s, long *value_r);

/* Appends the value as config syntax ("quoted", numbers as written, lists
 * in [ ]).  Returns 0, or -EINVAL when a string holds a character that
 * xl.cfg cannot express (a control character other than \a\b\f\n\r\t\v),
 * or -ENOMEM.  *buf is a malloc'd string the caller frees. */
int cfg_format_value(const struct cfg_value *v, char **buf, size_t *len);

/* Quotes s as an xl.cfg string literal into a new string (caller frees);
 * NULL with errno EINVAL when s cannot be expressed, ENOMEM. */
char *cfg_quote(const char *s);

#endif
