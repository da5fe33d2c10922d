/*
 * diag.c - diagnostics collected by library code and printed by commands.
 */
#include <stdlib.h>
#include <string.h>

#include "diag.h"

void diag_init(struct diag *d)
{
    memset(d, 0, sizeof(*d));
}

void diag_dispose(struct diag *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].file);
        free(d->v[i].msg);
    }
    free(d->v);
    memset(d, 0, sizeof(*d));
}

void diag_vadd(struct diag *d, enum diag_level level, const char *file,
               int line, int col, const char *fmt, va_list ap)
{
    struct diag_entry e = { .level = level, .line = line, .col = col };

    if (level == DIAG_ERROR)
        d->nerrors++;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        struct diag_entry *v = realloc(d->v, cap * sizeof(*v));

        if (!v)
            goto oom;
        d->v = v;
        d->cap = cap;
    }
    if (vasprintf(&e.msg, fmt, ap) < 0) {
        e.msg = NULL;
        goto oom;
    }
    if (file && !(e.file = strdup(file)))
        goto oom;
    d->v[d->n++] = e;
    return;

oom:
    free(e.msg);
    d->oom = 1;
    if (level != DIAG_ERROR)
        d->nerrors++;
}

void diag_add(struct diag *d, enum diag_level level, const char *file,
              int line, int col, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    diag_vadd(d, level, file, line, col, fmt, ap);
    va_end(ap);
}

/* An entry and the rank of its file: entries without a file first, then
 * each file in the order it was first named. */
struct ordered {
    const struct diag_entry *e;
    size_t file_rank;
};

/* Orders entries by file, then by position in the file (entries without
 * a line first); otherwise the order they were recorded in. */
static int by_position(const void *a, const void *b)
{
    const struct ordered *x = a, *y = b;

    if (x->file_rank != y->file_rank)
        return x->file_rank < y->file_rank ? -1 : 1;
    if (x->e->line != y->e->line)
        return x->e->line < y->e->line ? -1 : 1;
    if (x->e->col != y->e->col)
        return x->e->col < y->e->col ? -1 : 1;
    return x->e < y->e ? -1 : x->e > y->e;
}

void diag_print(const struct diag *d, FILE *out, const char *prog)
{
    struct ordered *order = malloc(d->n * sizeof(*order) + 1);

    for (size_t i = 0; order && i < d->n; i++) {
        order[i].e = &d->v[i];
        order[i].file_rank = 0;
        for (size_t j = 0; d->v[i].file && j <= i; j++) {
            if (d->v[j].file && !strcmp(d->v[j].file, d->v[i].file)) {
                order[i].file_rank = j + 1;
                break;
            }
        }
    }
    if (order)
        qsort(order, d->n, sizeof(*order), by_position);
    for (size_t i = 0; i < d->n; i++) {
        const struct diag_entry *e = order ? order[i].e : &d->v[i];
        const char *lvl = e->level == DIAG_ERROR ? "error" : "warning";

        if (!e->file)
            fprintf(out, "%s: %s: %s\n", prog, lvl, e->msg);
        else if (e->line && e->col)
            fprintf(out, "%s:%d:%d: %s: %s\n", e->file, e->line, e->col, lvl, e->msg);
        else if (e->line)
            fprintf(out, "%s:%d: %s: %s\n", e->file, e->line, lvl, e->msg);
        else
            fprintf(out, "%s: %s: %s\n", e->file, lvl, e->msg);
    }
    free(order);
    if (d->oom)
        fprintf(out, "%s: error: out of memory while recording diagnostics\n", prog);
}
