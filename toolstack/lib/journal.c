/*
 * journal.c - the cleanup journal (see journal.h).
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"

void journal_init(struct journal *j)
{
    memset(j, 0, sizeof(*j));
}

static void entry_dispose(struct journal_entry *e)
{
    free(e->a);
    free(e->b);
    free(e->what);
}

void journal_dispose(struct journal *j)
{
    for (size_t i = 0; i < j->n; i++)
        entry_dispose(&j->v[i]);
    free(j->v);
    journal_init(j);
}

static int add(struct journal *j, enum journal_kind kind, const char *a, const char *b,
               int (*fn)(void *), void *arg, const char *what)
{
    struct journal_entry e = { .kind = kind, .fn = fn, .arg = arg };

    if (j->n == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 8;
        struct journal_entry *v = realloc(j->v, cap * sizeof(*v));

        if (!v)
            return -ENOMEM;
        j->v = v;
        j->cap = cap;
    }
    if ((a && !(e.a = strdup(a))) || (b && !(e.b = strdup(b))) ||
        (what && !(e.what = strdup(what)))) {
        entry_dispose(&e);
        return -ENOMEM;
    }
    j->v[j->n++] = e;
    return 0;
}

int journal_add_file(struct journal *j, const char *path)
{
    return add(j, JOURNAL_FILE, path, NULL, NULL, NULL, NULL);
}

int journal_add_dir(struct journal *j, const char *path)
{
    return add(j, JOURNAL_DIR, path, NULL, NULL, NULL, NULL);
}

int journal_add_tree(struct journal *j, const char *path)
{
    return add(j, JOURNAL_TREE, path, NULL, NULL, NULL, NULL);
}

int journal_add_rename(struct journal *j, const char *moved_to, const char *original)
{
    return add(j, JOURNAL_RENAME, moved_to, original, NULL, NULL, NULL);
}

int journal_add_call(struct journal *j, int (*fn)(void *arg), void *arg, const char *what)
{
    return add(j, JOURNAL_CALL, NULL, NULL, fn, arg, what);
}

static int tree_error;

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if ((type == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT && !tree_error)
        tree_error = -errno;
    return 0;
}

int journal_remove_tree(const char *path)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode))
        return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
    tree_error = 0;
    if (nftw(path, remove_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && !tree_error)
        tree_error = -errno;
    return tree_error;
}

size_t journal_rollback(struct journal *j, struct diag *d)
{
    size_t failed = 0;

    while (j->n) {
        struct journal_entry *e = &j->v[--j->n];
        int r = 0;
        const char *verb = "remove";

        switch (e->kind) {
        case JOURNAL_FILE:
            r = unlink(e->a) < 0 && errno != ENOENT ? -errno : 0;
            break;
        case JOURNAL_DIR:
            /* someone else's files may be in it now: then it stays */
            r = rmdir(e->a) < 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST
                    ? -errno : 0;
            break;
        case JOURNAL_TREE:
            r = journal_remove_tree(e->a);
            break;
        case JOURNAL_RENAME:
            verb = "put back";
            r = rename(e->a, e->b) < 0 ? -errno : 0;
            break;
        case JOURNAL_CALL:
            verb = "undo";
            r = e->fn(e->arg);
            break;
        }
        if (r) {
            failed++;
            if (e->kind == JOURNAL_RENAME)
                diag_error(d, NULL, 0, 0, "cannot put %s back as %s: %s", e->a, e->b,
                           strerror(-r));
            else
                diag_error(d, NULL, 0, 0, "cannot %s %s: %s", verb,
                           e->kind == JOURNAL_CALL ? e->what : e->a, strerror(-r));
        }
        entry_dispose(e);
    }
    journal_dispose(j);
    return failed;
}
