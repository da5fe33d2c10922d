/*
 * install.h - the guest's root file system into a staging directory:
 * the pipeline's `install' step.
 *
 * Methods:
 *   mmdebstrap   mmdebstrap --mode=root --variant=apt --format=directory
 *                of SUITE for ARCH from "deb MIRROR SUITE COMPONENTS",
 *                with --include=PACKAGES, dpkg's force-confold and
 *                force-confdef, and the bootstrap hooks as
 *                --hook-directory (hooks/debian/bootstrap: the
 *                initramfs's configuration, written before the kernel is
 *                installed, then the initramfs built once with the virtio
 *                modules checked; the package cache in and out).
 *   debootstrap  debootstrap --arch --variant=minbase --components
 *                --include [--cache-dir] SUITE STAGING MIRROR, then the
 *                hooks' essential* and customize* scripts against the new
 *                root (nsrun), then apt's downloaded packages, caches and
 *                lists removed, as mmdebstrap's cleanup does.
 *   rpm          a Red Hat family root from yum/dnf repositories
 *                (rpminst.h): metadata read and resolved with libsolv,
 *                packages fetched in parallel and checked, unpacked with
 *                libarchive, then installed again by the guest's own rpm
 *                inside the root (its database, its scriptlets).
 *   tar          a rootfs archive (extract_archive: any format and
 *                compression libarchive reads, members checked).
 *   copy         a directory tree (extract_tree).
 *
 * Both Debian methods run with INITRD=No in their environment, so that
 * the kernel's postinst builds no initramfs (the customize hook builds
 * it once, when every package is in), inside `unshare --mount
 * --propagation private --pid --fork --kill-child --mount-proc': their
 * mounts (the root's /proc, /sys, /dev) live in a namespace of their
 * own, and stopping them (cancellation) kills every process they
 * started before install_root returns.  Hooks get their data in the
 * environment (VMKIT_DEBCACHE), never in a shell string.
 *
 * Caches (cache.h), for the Debian methods when use_cache is set: the
 * base root's key is computed from the suite's InRelease (fetched from
 * the mirror), method, mirror, suite, arch, components, packages and
 * the bootstrap hooks; a hit unpacks cachedir/base/KEY.tar.zst into
 * the staging directory; a miss bootstraps and then stores the root.
 * mmdebstrap reads and refreshes cachedir/debs/SUITE-ARCH (debootstrap:
 * --cache-dir), so that a rebuild after a change of the archive
 * downloads only what changed.  Without use_cache nothing under
 * cachedir is read or written.  A cache entry that cannot be unpacked
 * is removed, with a warning, and the root built afresh; a cache that
 * cannot be written is a warning.
 */
#ifndef VMKIT_INSTALL_H
#define VMKIT_INSTALL_H

#include <stdbool.h>
#include <stdint.h>

#include "cache.h"
#include "diag.h"

/* A repository of the rpm method. */
struct install_repo {
    const char *name;
    const char *url;            /* http, https or file; ends in `/' */
    const char *mirrorlist;     /* a plain-text mirror list URL, or NULL */
};

struct install_req {
    const char *method;         /* "mmdebstrap", "debootstrap", "rpm", "tar", "copy" */
    const char *suite, *arch, *mirror;  /* the Debian methods: mirror is
                                 * an http, https or file URI */
    char *const *components;    /* NULL-terminated, at least one */
    char *const *packages;      /* NULL-terminated: the whole extra set,
                                 * kernel package included; may be empty */
    const char *release;        /* rpm: the release ($releasever) */
    const struct install_repo *repos;   /* rpm: at least one */
    size_t nrepos;
    const char *source;         /* tar: an archive; copy: a directory */
    const char *staging;        /* an existing empty directory to fill */
    const char *cachedir;       /* e.g. /var/cache/vmkit (VMKIT_CACHEDIR) */
    bool use_cache;             /* false (--no-cache): cachedir untouched */
    const char *bootstrap_hooks;/* DATADIR/hooks/debian/bootstrap */
    int log_fd;                 /* the children's output; -1: none */
    int tty_fd;                 /* -1, or a terminal: mmdebstrap's and
                                 * debootstrap's own progress (their
                                 * stderr) goes there instead of log_fd */
};

struct install_result {
    bool cache_hit;             /* the root came from the base cache */
    char key[CACHE_KEY_LEN + 1];/* the base root's key; "" without cache */
    double seconds_bootstrap;   /* mmdebstrap/debootstrap and their hooks;
                                 * rpm: resolving, unpacking, rpm itself */
    double seconds_download;    /* rpm: metadata and packages */
    unsigned long packages;     /* rpm: how many were installed */
    double seconds_extract;     /* unpacking: cache hit, tar, copy */
    double seconds_cache_write; /* storing the base root */
    unsigned long entries;      /* files etc. unpacked or stored */
    uint64_t bytes;             /* their data */
};

/*
 * Fills r->staging as r says, recording what it does not like in d
 * (r's values are checked again here: a mirror, suite, component or
 * package that could smuggle text into a sources.list line or an
 * option is refused).  res is filled as far as it got.  Returns 0,
 * -ECANCELED (proc_set_cancel; nothing recorded), or -errno after
 * recording why (-EINVAL: a bad request or a refused archive member;
 * -EIO: a tool failed, the message names it, its status and the log).
 * On failure the staging directory holds whatever was made: the caller
 * removes it; no process started here is still running, nothing is
 * mounted, and the cache holds no partial entry.
 */
int install_root(const struct install_req *r, struct install_result *res,
                 struct diag *d);

/*
 * The key the base root of r has in the cache (cache_base_key), without
 * building or reading it: the suite's InRelease, or every repository's
 * repomd.xml, is fetched for it.  For the Debian methods and rpm only
 * (-EINVAL otherwise).  Returns 0, or -errno after recording why.
 */
int install_base_key(const struct install_req *r, char key_r[CACHE_KEY_LEN + 1],
                     struct diag *d);

#endif
