/*
 * rpmmd.h - RPM repository metadata (repodata/repomd.xml, primary,
 * filelists) and dependency resolution, with libsolv (shared/DESIGN.md
 * "RPM repositories").  No network here: the caller downloads, this
 * module reads buffers and descriptors.
 *
 * The order of work for one repository:
 *   1. rpmmd_parse_repomd on repomd.xml (its signature, where there is
 *      one, is the caller's business);
 *   2. download what rpmmd_repomd_find(r, "primary") and "filelists"
 *      name, and hand the descriptors to rpmmd_pool_add_repo, which
 *      checks them against repomd's checksums before libsolv reads them;
 *   3. after every repository, rpmmd_resolve: the packages to download,
 *      each with the location and checksum its primary gave.
 *
 * Metadata is untrusted: libsolv parses it (its readers, never ours),
 * libarchive decompresses it (libsolv's own zstd reader can hang on a
 * truncated frame), decompressed sizes are bounded, locations may not
 * leave the repository (no absolute path, URL or `..' component), and
 * text from the metadata that ends up in a message has its control
 * characters replaced.  Versions compare as rpm compares them (the pool
 * is DISTTYPE_RPM).
 *
 * Messages are recorded as NAME: why, NAME being the name the caller
 * gave (a URL, a repository id); rpmmd_resolve's have no NAME, as they
 * concern every repository.  Nothing is printed, even by libsolv.
 */
#ifndef VMKIT_RPMMD_H
#define VMKIT_RPMMD_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#define RPMMD_MAX_REPOMD        (16 * 1024 * 1024)     /* repomd.xml itself */
#define RPMMD_MAX_METADATA      (2ULL << 30)            /* primary, filelists decompressed */

/* One <data> element of repomd.xml; every string owned by its rpmmd_repomd. */
struct rpmmd_file {
    char *type;                 /* "primary", "filelists", "other", ... */
    char *location;             /* its href, relative to the repository base */
    char *checksum_type;        /* "sha256", "sha1" ("sha" normalised to sha1), "sha512", ... lower case */
    char *checksum;             /* hex (lower case), of the file as stored */
    char *open_checksum_type, *open_checksum;   /* of the decompressed content; NULL if absent */
    uint64_t size;              /* as stored, 0 if absent */
};

struct rpmmd_repomd {
    char *revision;             /* NULL if absent */
    struct rpmmd_file *files;   /* in document order */
    size_t n;
};

/*
 * Parses repomd.xml (buf, len; name for messages, e.g. its URL) into r,
 * which the caller disposes of with rpmmd_repomd_dispose whatever the
 * result.  Returns 0, or -EINVAL after recording NAME: why (not XML,
 * more than RPMMD_MAX_REPOMD bytes, no <data type="primary">, a data
 * element without location or checksum, two of the same type, a
 * location that is absolute, a URL or has a `..' component, an unknown
 * checksum type or a checksum of the wrong length); -ENOMEM.  A <data>
 * without a type attribute is ignored, as libsolv does.
 */
int rpmmd_parse_repomd(const char *buf, size_t len, const char *name, struct rpmmd_repomd *r,
                       struct diag *d);
void rpmmd_repomd_dispose(struct rpmmd_repomd *r);

/* The first file of that type, or NULL; points into r. */
const struct rpmmd_file *rpmmd_repomd_find(const struct rpmmd_repomd *r, const char *type);

/*
 * Checks fd's whole content (from offset 0, with pread: fd's offset does
 * not move) against hex, a digest of type (sha1, sha224, sha256, sha384,
 * sha512, md5; hex in either case).  Returns 0; -EBADMSG after recording
 * NAME: TYPE checksum mismatch (expected X, got Y); -EINVAL after
 * recording an unknown type or a digest of the wrong length; -errno after
 * recording a read failure.
 */
int rpmmd_check_digest(int fd, const char *type, const char *hex, const char *name,
                       struct diag *d);

/* A libsolv pool for one architecture and the repositories added to it. */
struct rpmmd_pool;

/*
 * A new pool (*p_r, freed with rpmmd_pool_free) for arch, the guest's rpm
 * architecture (x86_64, aarch64, i686, ...): packages of arch and of
 * those libsolv's pool_setarch counts as compatible with it (noarch, and
 * i686 and the like on x86_64) can be chosen.  Returns 0, -EINVAL after
 * recording an architecture that is not a plain word, -ENOTSUP after
 * recording a libsolv built without rpm's version order, -ENOMEM.
 */
int rpmmd_pool_new(const char *arch, struct rpmmd_pool **p_r, struct diag *d);
void rpmmd_pool_free(struct rpmmd_pool *p);

/* Lowers (or raises) the bound on the decompressed size of what later
 * rpmmd_pool_add_repo calls read; 0 restores RPMMD_MAX_METADATA. */
void rpmmd_pool_set_max_metadata(struct rpmmd_pool *p, uint64_t bytes);

/*
 * Adds repository name, whose index (the number of repositories added
 * to p before it, from 0) is what rpmmd_pkg.repo says.
 *
 * primary_fd is the primary metadata as stored (compressed with gzip,
 * xz, zstd or bzip2, told from the content, or plain), checked against
 * primary_meta's checksum before it is read, and against its open
 * checksum, when there is one, as it is decompressed.  filelists_fd and
 * filelists_meta likewise (-1 and NULL: no filelists; then a file
 * dependency outside primary's short file list cannot be resolved).  The
 * descriptors are read from offset 0 with pread (their offset does not
 * move) and not closed.
 *
 * Returns 0; -EBADMSG after a checksum mismatch (rpmmd_check_digest);
 * -EFBIG after recording content that decompresses to more than the
 * bound (RPMMD_MAX_METADATA); -EINVAL after recording NAME: why for
 * what cannot be decompressed or what libsolv rejects; -errno after a
 * read failure; -ENOMEM.  On failure the pool is as it was before.
 */
int rpmmd_pool_add_repo(struct rpmmd_pool *p, const char *name,
                        int primary_fd, const struct rpmmd_file *primary_meta,
                        int filelists_fd, const struct rpmmd_file *filelists_meta,
                        struct diag *d);

/* rpm's order of two [E:]V[-R] strings, as libsolv computes it in p:
 * -1, 0 or 1. */
int rpmmd_evrcmp(struct rpmmd_pool *p, const char *a, const char *b);

/* One package of a resolution; every string owned by it. */
struct rpmmd_pkg {
    char *name;
    char *epoch_version_release;        /* "E:V-R", or "V-R" without an epoch, as libsolv prints */
    char *arch;
    char *nevra;                        /* "NAME-EVR.ARCH" */
    char *location;                     /* href relative to its repository's base */
    char *checksum_type, *checksum;     /* the package file's, from primary */
    uint64_t size;                      /* the package file's size, 0 if primary has none */
    int repo;                           /* the index of its repository */
};

/*
 * Resolves the closure of want (NULL-terminated package names or
 * capabilities: "kernel", "/usr/bin/sh", "webserver", "foo >= 1.2",
 * "foo.x86_64") over every repository added: where several packages
 * would do, libsolv's policy picks (the newest EVR of a name wins);
 * weak dependencies (Recommends, Supplements) are ignored, as a minimal
 * install wants.
 *
 * On success *pkgs_r (freed with rpmmd_pkgs_free) holds *n_r packages
 * in install order (libsolv's transaction_order: prerequisites first),
 * except that the package named "filesystem", when present, comes
 * first.  On failure, after recording one message per problem naming
 * the package and the requirement, e.g.
 *   nothing provides `libnothing.so.1()(64bit)' needed by vmkit-broken-1.0-1.x86_64
 *   no package provides `nosuchpkg' (wanted by the distribution's package set)
 * returns -ENOENT when a want is provided by nothing (the rest is still
 * solved, to report its problems too), -EINVAL for any other problem (a
 * missing dependency, a conflict, a chosen package whose location leaves
 * its repository, is given with an xml:base or that has no checksum);
 * -ENOMEM.
 */
int rpmmd_resolve(struct rpmmd_pool *p, char *const *want, struct rpmmd_pkg **pkgs_r,
                  size_t *n_r, struct diag *d);
void rpmmd_pkgs_free(struct rpmmd_pkg *pkgs, size_t n);

#endif
