/*
 * ext2root.h - the identity step's second backend: a guest root that is
 * an ext2/3/4 file system inside a raw image file or block device (a
 * whole-disk file system, or one partition of a disk), edited through
 * libext2fs.  Nothing is mounted, nothing runs as the guest, root is not
 * needed (owners are written into the inodes).
 *
 * Semantics are those of struct identity_root_ops (identity.h), as the
 * directory backend implements them:
 *   - paths are resolved component by component by this file, not by
 *     ext2fs_namei: an absolute symlink starts again at the file system's
 *     root (the guest's `/'), `..' stops there, at most 40 symlinks are
 *     followed (-ELOOP) and a path grows to at most PATH_MAX bytes
 *     (-ENAMETOOLONG); the last component is not followed except by
 *     stat(follow), list and mkdir's "an existing directory will do".
 *     Nothing outside the file system can be reached: every block read or
 *     written goes through an I/O manager bounded to [offset, offset +
 *     size) of the image, so a corrupt block number cannot touch another
 *     partition.
 *   - write makes a new inode (mode, owner, times now; extents or inline
 *     data as the file system's features say), fills it, then points the
 *     existing directory entry at it (the entry's inode number changes in
 *     place: no moment without the name, no new entry needed, so a full
 *     directory cannot fail it) or adds an entry; the old inode loses a
 *     link and is freed (blocks, extended attribute block) at zero.  A
 *     symlink there is replaced, never written through; a directory is
 *     -EISDIR.  symlink does the same with a symlink inode owned by root.
 *   - remove unlinks a file or symlink (-EISDIR for a directory), freeing
 *     the inode at its last link; mkdir makes the directory with mode and
 *     owner (the parent's link count grows as the kernel's does).
 *   - a directory without room for a new entry is expanded by a block
 *     (ext2fs_expand_dir); hashed (htree) directories are kept indexed
 *     by libext2fs's ext2fs_link.  Directory modification times are set
 *     on the directories changed.
 *   - on-disk data that cannot be right (a name holding `/' or NUL, a
 *     symlink target holding NUL, libext2fs's corruption and checksum
 *     errors) is -EUCLEAN; libext2fs's other errors map to the nearest
 *     errno (ENOSPC, ENOMEM, EFBIG, ...) or EIO.
 *
 * As with the directory backend, a replaced file does not keep the old
 * one's extended attributes (an SELinux label, say), and an operation
 * that fails part way (no space, an I/O error) may leave the root partly
 * personalised; here e2fsck may also find an orphaned inode or blocks to
 * reclaim.  The caller discards such an image.
 *
 * The file system must be clean: one whose journal needs recovery (not
 * cleanly unmounted, or mounted now), or that is marked as having errors
 * or not valid, is refused at open; so are file systems with features
 * libext2fs cannot write, with multiple-mount protection (MMP), and with
 * quotas (the quota feature: the library cannot update their usage, so
 * e2fsck would find it wrong).  Nothing
 * goes through the journal (like debugfs -w and fuse2fs): the journal is
 * left empty and clean, which e2fsck and the kernel accept.
 */
#ifndef VMKIT_EXT2ROOT_H
#define VMKIT_EXT2ROOT_H

#include <stdint.h>

#include "diag.h"
#include "identity.h"

/*
 * Opens, read-write, the ext2/3/4 file system that starts at byte offset
 * of image (a raw image file or a block device; offset 0 for a file
 * system on the whole image) and spans size bytes (0: to the end of the
 * image) as a guest root.  The file system must fit inside that span.
 * r->name is "IMAGE:" (or "IMAGE@OFFSET:" when offset is not 0), so that
 * messages read "disk.img:/etc/shadow: ...".
 *
 * Returns 0 and fills r, or -errno after recording in d (file: image)
 * why: -ENOENT and the like from open(2), -EINVAL for no ext2/3/4 file
 * system there or one that does not fit, -EUCLEAN for one that is not
 * clean (see above), -EIO for the rest.  Release r with
 * identity_root_ext2_close (which reports a failed final write) or
 * identity_root_close (which writes the same but cannot report).
 */
int identity_root_ext2_open(const char *image, uint64_t offset, uint64_t size,
                            struct identity_root *r, struct diag *d);

/*
 * Writes out what is still in memory (bitmaps, group descriptors,
 * superblock), syncs the image to disk (fsync) and releases r, as
 * identity_root_close does; r may be zeroed or closed already (then 0).
 * Returns 0, or -errno after recording in d why the file system could not
 * be written: then the image is not to be trusted.  r is released in
 * both cases.
 */
int identity_root_ext2_close(struct identity_root *r, struct diag *d);

/* identity_root_ext2_open, identity_apply, identity_root_ext2_close: clone
 * customisation's call.  Same returns as identity_apply. */
int identity_apply_ext2(const struct identity *id, const char *image, uint64_t offset,
                        uint64_t size, struct diag *d);

#endif
