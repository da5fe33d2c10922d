/*
 * golden.h - golden images: finished guest images kept in the cache so
 * that the next guest made the same way is a copy (or a qcow2 overlay)
 * of one, not a new provisioning.  Under CACHEDIR/golden/:
 *
 *   ID/                a complete entry: disk.img (the raw image),
 *                      vmlinuz, initrd.img (written by the builder),
 *                      info (key=value lines, written by
 *                      golden_build_commit)
 *   KEY16.lock         the lock of every entry of a key (flock): held
 *                      exclusive by a build, shared by a guest being
 *                      cloned from one of them, while it reads
 *   .KEY16.new-XXXXXX  a build in progress, renamed to ID at commit
 *
 * KEY16 is the first 16 hex digits of the key (cache_golden_key); ID is
 * KEY16, `-', and the build's time in seconds since the epoch.  Several
 * generations of one key may coexist: an older one may still be the
 * backing file of guests' overlays.  Lock files are never removed, so a
 * lock taken is the lock of that path.
 *
 * Nothing in CACHEDIR/golden is trusted: symlinks are never followed,
 * info is read bounded, and what is not a complete, well-formed entry
 * (a name not of the ID shape, a malformed info, no regular disk.img)
 * is ignored.
 */
#ifndef VMKIT_GOLDEN_H
#define VMKIT_GOLDEN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "diag.h"

#define GOLDEN_ID_MAX   64      /* an ID and its NUL fit */

struct golden_entry {
    char id[GOLDEN_ID_MAX];
    char *dir;                  /* CACHEDIR/golden/ID */
    char key[CACHE_KEY_LEN + 1];
    long long created;          /* seconds since the epoch, from info */
    char *template_name, *dist, *arch, *fs;    /* from info; NULL when absent */
    uint64_t size;              /* the image's size (info) */
    uint64_t disk_bytes;        /* disk.img's allocated bytes (st_blocks * 512) */
};

/* Frees the n entries of v (their strings) and v. */
void golden_entries_free(struct golden_entry *v, size_t n);

/*
 * The newest complete entry of key (by created, then by ID).  Returns 1
 * with *dir_r (a new string, caller frees) and id_r filled; 0 when there
 * is none; -ENOMEM; or -errno after recording why (CACHEDIR/golden
 * cannot be read; -EINVAL: key is not CACHE_KEY_LEN hex digits).
 */
int golden_lookup(const char *cachedir, const char *key, char **dir_r,
                  char id_r[GOLDEN_ID_MAX], struct diag *d);

/*
 * Takes key's lock, shared or exclusive, creating CACHEDIR/golden (0755)
 * as needed, and waits for it, looking every 100 ms at *cancel (may be
 * NULL; set by the caller's signal handler).  Returns 0 with the locked
 * descriptor in *fd_r (close-on-exec; golden_unlock it); -ECANCELED,
 * nothing recorded; or -errno after recording why.
 */
int golden_lock(const char *cachedir, const char *key, bool exclusive,
                const volatile sig_atomic_t *cancel, int *fd_r, struct diag *d);

/* Drops the lock: closes fd.  fd < 0: nothing. */
void golden_unlock(int fd);

/*
 * Starts a build of key, under its exclusive lock: removes the
 * temporaries of key's killed builds (.KEY16.new-*; a failure to is a
 * warning), then makes a new one, mode 0755, its path in *tmpdir_r (a
 * new string, caller frees).  The caller writes disk.img, vmlinuz and
 * initrd.img there, then commits, or removes the directory.  Returns 0,
 * or -errno after recording why.
 */
int golden_build_begin(const char *cachedir, const char *key, char **tmpdir_r,
                       struct diag *d);

/* What golden_build_commit writes in info besides key, id and created:
 * the strings (NULL: left out) must not hold a newline. */
struct golden_info {
    const char *template_name, *dist, *suite, *arch, *fs, *packages, *roles, *base_key;
    uint64_t size;
};

/*
 * Finishes the build in tmpdir (golden_build_begin's), still under the
 * exclusive lock: writes tmpdir/info, fsyncs every regular file in
 * tmpdir and tmpdir itself, renames tmpdir to CACHEDIR/golden/ID (the
 * time now; when that name is taken, the next free second), and fsyncs
 * CACHEDIR/golden.  Returns 0 with *dir_r (a new string, caller frees)
 * and id_r filled, or -errno after recording why; tmpdir is then left
 * for the caller to remove.
 */
int golden_build_commit(const char *tmpdir, const char *key, const struct golden_info *info,
                        char **dir_r, char id_r[GOLDEN_ID_MAX], struct diag *d);

/*
 * Every complete entry, oldest first (by created, then by ID), in a new
 * array (*v_r, free with golden_entries_free; may be NULL when *n_r is 0).  No
 * CACHEDIR/golden: none.  Returns 0, -ENOMEM, or -errno after recording
 * why (CACHEDIR/golden cannot be read).
 */
int golden_list(const char *cachedir, struct golden_entry **v_r, size_t *n_r,
                struct diag *d);

/*
 * Removes entry id (whatever has that name, complete or not): renames it
 * to .ID.del-PID, then removes that tree.  Its key's lock is taken
 * exclusive without waiting, and kept until the entry is gone; the lock
 * file stays.  Whether guests' overlays still use the entry is the
 * caller's to know.  Returns 0; -EINVAL (id does not have the ID shape),
 * -ENOENT (no such entry), -EBUSY (the key's lock is held: being built
 * or cloned now), or another -errno, each after recording why.
 */
int golden_remove(const char *cachedir, const char *id, struct diag *d);

#endif
