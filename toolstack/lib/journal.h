/*
 * journal.h - the cleanup journal: what a multi-step operation made, so
 * that a failure or an interrupt at any step undoes exactly that, in
 * reverse order, and a success forgets it.
 *
 * vm-provision records each thing as it makes it (a work directory, an
 * image, a renamed-aside old image, later a logical volume); when a
 * step fails, journal_rollback() removes them all.  Entries are kept in
 * memory only: a SIGKILL cannot be cleaned up after, which is why work
 * happens in a directory named as temporary (DIR/domains/.NAME.*).
 */
#ifndef VMKIT_JOURNAL_H
#define VMKIT_JOURNAL_H

#include <stddef.h>

#include "diag.h"

enum journal_kind {
    JOURNAL_FILE,       /* unlink(a) */
    JOURNAL_DIR,        /* rmdir(a), if it is empty by then (else it stays) */
    JOURNAL_TREE,       /* remove a and everything under it, on its file system only */
    JOURNAL_RENAME,     /* rename(a, b): put back what was moved from b to a */
    JOURNAL_CALL,       /* fn(arg) */
};

struct journal_entry {
    enum journal_kind kind;
    char *a, *b;                /* owned */
    int (*fn)(void *arg);       /* JOURNAL_CALL: 0 or -errno */
    void *arg;
    char *what;                 /* JOURNAL_CALL: for messages (owned) */
};

struct journal {
    struct journal_entry *v;
    size_t n, cap;
};

void journal_init(struct journal *j);
/* Forgets every entry without undoing anything (success). */
void journal_dispose(struct journal *j);

/* Each returns 0 or -ENOMEM (and then the caller must undo that thing
 * itself: the journal does not know about it). */
int journal_add_file(struct journal *j, const char *path);
int journal_add_dir(struct journal *j, const char *path);
int journal_add_tree(struct journal *j, const char *path);
int journal_add_rename(struct journal *j, const char *moved_to, const char *original);
int journal_add_call(struct journal *j, int (*fn)(void *arg), void *arg, const char *what);

/*
 * Undoes every entry, last first, and empties the journal.  Each failure
 * is recorded in d ("cannot remove PATH: ...") and the rest still
 * undone.  Returns the number of entries that could not be undone.
 */
size_t journal_rollback(struct journal *j, struct diag *d);

/*
 * Removes path and, if it is a directory, everything under it, never
 * following a symlink and never crossing into another file system: what
 * is mounted below path is left alone, and its mount point's removal
 * fails (-EBUSY).  A missing path is success.  0 or -errno (the first
 * error; the rest is still removed).
 */
int journal_remove_tree(const char *path);

#endif
