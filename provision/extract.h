/*
 * extract.h - unpacking an archive or copying a directory tree into a
 * guest root being built, and packing a tree into an archive, with
 * libarchive.  Archives are untrusted (a user's rootfs tarball, a
 * repository's package payload, even our own cache): nothing lands
 * outside the destination.
 *
 * Every member is checked before it is written, and the first one that
 * fails stops the extraction with a message naming it:
 *   - an absolute path, or a `..' component, in its name or in the
 *     target of a hard link;
 *   - a name longer than PATH_MAX - 1 bytes;
 *   - more than max_entries members;
 * and libarchive writes with ARCHIVE_EXTRACT_SECURE_NODOTDOT,
 * _SECURE_SYMLINKS and _SECURE_NOABSOLUTEPATHS, so nothing is written
 * through a symbolic link (a member "x/y" after "x -> /" is refused; a
 * member whose own name is an existing symlink replaces the link).
 * Symbolic links may point anywhere: they are the guest's business and
 * are never followed while writing.  Devices, FIFOs, hard links,
 * owners (numeric: user and group names in the archive are ignored, as
 * a guest's ids are not the host's), permissions with set-id bits,
 * times, extended attributes (file capabilities), POSIX ACLs and
 * sparse files are kept; file flags (chattr) are not.
 *
 * Readable formats: tar (all variants), cpio, zip, 7-zip, ISO 9660 and
 * the payload of an RPM package, compressed with gzip, bzip2, xz, lzma,
 * lzip, zstd, lz4 or compress (.Z), or not.  mtree is deliberately not
 * among them: an mtree "archive" names files on the host to copy.
 *
 * The functions chdir(2) into the destination while they write (as
 * bsdtar -C does) and return to the previous working directory before
 * they return: not for threads.  Cancellable (proc_set_cancel):
 * -ECANCELED, nothing recorded.  On failure the destination holds
 * whatever was written so far: the caller removes it.
 */
#ifndef VMKIT_EXTRACT_H
#define VMKIT_EXTRACT_H

#include <stdint.h>

#include "diag.h"

#define EXTRACT_MAX_ENTRIES 2000000UL   /* the default limit */

/* extract_opts flags */
#define EXTRACT_DIR_LINKS   0x1 /* follow the destination's own symbolic
                                 * links to directories, resolved inside
                                 * dest as the guest would resolve them
                                 * (RESOLVE_IN_ROOT: `/' is dest), as rpm
                                 * does: a package's ./lib/modules/X lands
                                 * in usr/lib/modules/X when the guest's
                                 * lib is a link to usr/lib, and a
                                 * directory member never replaces such a
                                 * link.  A link that leads nowhere, or to
                                 * something not a directory, is followed
                                 * no further and the member refused. */

struct extract_opts {
    unsigned long max_entries;  /* 0: EXTRACT_MAX_ENTRIES */
    unsigned flags;             /* EXTRACT_DIR_LINKS */
};

/* What an extraction, copy or pack did. */
struct extract_stats {
    unsigned long entries;
    uint64_t bytes;             /* of file data */
};

/*
 * Unpacks the archive at archive_path into dest, an existing directory
 * (normally empty), with o's limits (NULL: the defaults); stats, when
 * not NULL, says how much.  Returns 0, or after recording a message
 * (ARCHIVE: MEMBER: why) in d: -EINVAL for a refused member or an
 * archive libarchive cannot read, -E2BIG for too many members, -EIO
 * for a failure to write into dest, -errno when archive_path or dest
 * cannot be opened, -ENOMEM; -ECANCELED (nothing recorded).
 */
int extract_archive(const char *archive_path, const char *dest,
                    const struct extract_opts *o, struct extract_stats *stats,
                    struct diag *d);

/* The same from an open descriptor (not closed); name is for messages. */
int extract_archive_fd(int fd, const char *name, const char *dest,
                       const struct extract_opts *o, struct extract_stats *stats,
                       struct diag *d);

/*
 * Copies the tree at srcdir into dest (an existing directory) with the
 * same checks and the same kept attributes: symbolic links are copied as
 * links, never followed; hard links within the tree stay hard links;
 * mount points below srcdir are not crossed (a mounted /proc is not
 * copied).  The attributes of srcdir itself go to dest.  Same returns;
 * messages name srcdir.
 */
int extract_tree(const char *srcdir, const char *dest, const struct extract_opts *o,
                 struct extract_stats *stats, struct diag *d);

/* extract_pack compressions */
enum extract_compression {
    EXTRACT_PACK_NONE,
    EXTRACT_PACK_ZSTD,          /* zstd level 1, on every CPU */
};

/*
 * Writes the tree at srcdir to fd (not closed; the caller syncs it) as a
 * POSIX (pax) tar with numeric owners, xattrs, ACLs, sparse files and
 * hard links, member names relative to srcdir ("." for srcdir itself),
 * mount points not crossed.  Returns 0, or -errno after recording why
 * (naming srcdir or the file), -ECANCELED (nothing recorded).
 */
int extract_pack(const char *srcdir, int fd, enum extract_compression comp,
                 struct extract_stats *stats, struct diag *d);

#endif
