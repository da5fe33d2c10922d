/*
 * cache.h - vm-provision's caches under the cache directory
 * (VMKIT_CACHEDIR, /var/cache/vmkit; shared/DESIGN.md "Caches"):
 *
 *   base/KEY.tar.zst   a base root: the tree mmdebstrap or debootstrap
 *                      made (bootstrap hooks included), as a pax tar
 *                      compressed with zstd (extract_pack)
 *   base/KEY.info      what it is: key, method, suite, arch, mirror,
 *                      components, packages, creation time (text)
 *   debs/SUITE-ARCH/   the .deb files of the last bootstraps of that
 *                      suite and architecture, fed to the next one
 *   golden/            finished guest images (golden.h)
 *
 * An entry is written beside its final name (.KEY.tmp.XXXXXX) and
 * renamed into place: a base entry exists completely or not at all.
 * Temporary files of a process that died are removed by the next store
 * once they are an hour old.
 */
#ifndef VMKIT_CACHE_H
#define VMKIT_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "extract.h"

#define CACHE_KEY_LEN           64      /* hex sha256 */
#define CACHE_MAX_RELEASE       (16 * 1024 * 1024)
#define CACHE_MAX_HOOK          (1024 * 1024)

/* What a base root is made of: everything that changes its content. */
struct cache_base_id {
    const char *method;         /* "mmdebstrap", "debootstrap" */
    const char *mirror, *suite, *arch;
    char *const *components;    /* NULL-terminated; order does not matter */
    char *const *packages;      /* NULL-terminated; order does not matter */
    const char *hooks_dir;      /* the bootstrap hooks: names, modes, content */
    const char *release;        /* the suite's InRelease (or Release) bytes */
    size_t release_len;
};

/*
 * Fetches MIRROR/dists/SUITE/InRelease, or Release when that is missing,
 * into a new buffer (at most CACHE_MAX_RELEASE bytes).  Returns 0, or
 * -errno after recording why (http.h).
 */
int cache_fetch_release(const char *mirror, const char *suite, char **buf_r,
                        size_t *len_r, struct diag *d);

/*
 * The key of a base root: sha256 over a versioned, unambiguous encoding
 * of id (components and packages sorted, duplicates dropped; every
 * regular file of hooks_dir that does not start with `.', in name order,
 * with its executable bits).  key_r receives CACHE_KEY_LEN hex digits
 * and a NUL.  Returns 0, or -errno after recording why (an unreadable
 * hook directory or file).
 */
int cache_base_key(const struct cache_base_id *id, char key_r[CACHE_KEY_LEN + 1],
                   struct diag *d);

/* What a golden image is made of (golden.h). */
struct cache_golden_id {
    const char *base_key;       /* the base root's key (cache_base_key) */
    char *const *env;           /* the hooks' environment, NAME=VALUE, NULL-terminated;
                                 * hashed in order */
    char *const *hooks;         /* every hook run, absolute paths in run order,
                                 * NULL-terminated */
    const char *fs;             /* "ext4" */
    uint64_t size;              /* the image's size in bytes */
    const char *ext4_features;  /* mke2fs -O list, or NULL (mke2fs's defaults: not the
                                 * same as "") */
};

/*
 * The key of a golden image: sha256 over a versioned, unambiguous
 * encoding of id, as cache_base_key's; each hook by its base name (where
 * the hooks are does not matter), executable bits and content.  key_r
 * receives CACHE_KEY_LEN hex digits and a NUL.  Returns 0, or -errno
 * after recording why (a hook that cannot be read, naming it).
 */
int cache_golden_key(const struct cache_golden_id *id, char key_r[CACHE_KEY_LEN + 1],
                     struct diag *d);

/*
 * The path of the base entry for key, in a new string (*path_r) whether
 * or not it exists.  Returns 1 when it exists (a regular file), 0 when
 * not, -ENOMEM.
 */
int cache_base_lookup(const char *cachedir, const char *key, char **path_r);

/*
 * Stores the tree at root as the base entry for key, with id's
 * description (id->release is not stored), creating cachedir/base as
 * needed.  Returns 0; -ECANCELED (nothing recorded); or -errno after
 * recording why.  On any failure nothing is left: no entry, no temporary
 * file.  stats, when not NULL, says what was packed.
 */
int cache_base_store(const char *cachedir, const char *key, const struct cache_base_id *id,
                     const char *root, struct extract_stats *stats, struct diag *d);

/* mkdir -p path (mode 0755) for a cache directory: 0, or -errno after
 * recording which directory could not be made. */
int cache_mkdir(const char *path, struct diag *d);

/* Removes key's entry (a broken one): 0 or -errno (-ENOENT: there was none). */
int cache_base_remove(const char *cachedir, const char *key);

/*
 * The package cache of suite and arch (cachedir/debs/SUITE-ARCH),
 * created if needed (with its parents, mode 0755), in a new string.
 * Returns 0, or -errno after recording why (-EINVAL: a suite or arch
 * that cannot be part of a file name).
 */
int cache_debs_dir(const char *cachedir, const char *suite, const char *arch,
                   char **dir_r, struct diag *d);

#endif
