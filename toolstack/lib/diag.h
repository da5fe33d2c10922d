/*
 * diag.h - diagnostics collected by library code and printed by commands.
 *
 * Library functions never print: they add entries to a struct diag that
 * the caller owns, and the command layer prints them once, as
 * FILE:LINE:COL: level: message (LINE and COL omitted when unknown, 0).
 */
#ifndef VMKIT_DIAG_H
#define VMKIT_DIAG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

enum diag_level {
    DIAG_WARNING,
    DIAG_ERROR,
};

struct diag_entry {
    enum diag_level level;
    char *file;     /* owned; may be NULL */
    int line;       /* 1-based; 0 when unknown */
    int col;        /* 1-based; 0 when unknown */
    char *msg;      /* owned */
};

struct diag {
    struct diag_entry *v;
    size_t n;
    size_t cap;
    size_t nerrors;
    int oom;        /* an entry could not be recorded */
};

void diag_init(struct diag *d);
void diag_dispose(struct diag *d);

/* Records one entry; file is copied.  Out of memory is remembered in
 * d->oom (and counts as an error), never reported by a return value. */
void diag_add(struct diag *d, enum diag_level level, const char *file,
              int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void diag_vadd(struct diag *d, enum diag_level level, const char *file,
               int line, int col, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));

#define diag_error(d, file, line, col, ...) \
    diag_add((d), DIAG_ERROR, (file), (line), (col), __VA_ARGS__)
#define diag_warn(d, file, line, col, ...) \
    diag_add((d), DIAG_WARNING, (file), (line), (col), __VA_ARGS__)

/* Prints every entry in file order, one line each, prefixed "prog: " when
 * the entry has no file.  For the command layer only. */
void diag_print(const struct diag *d, FILE *out, const char *prog);

#endif
