/*
 * image.h - a guest's disk images made from a directory, never mounted:
 * a file system built from the staging tree by its own mkfs (ext4:
 * mke2fs -d; btrfs: mkfs.btrfs --rootdir; xfs: mkfs.xfs -p with a
 * protofile written here), qcow2 from a raw image (qemu-img convert),
 * and swap (mkswap).
 *
 * Every child runs with an argv through proc_run, with a time limit
 * (IMAGE_TIMEOUT_S), and cancellably (proc_set_cancel).  Its stdout and
 * stderr are caught and then copied to log_fd (-1: nowhere) after a
 * "+ PROGRAM ARGS" line; when it fails, the error recorded names the
 * program, how it ended and its last lines of output (IMAGE_TAIL_LINES).
 * Temporaries (the protofile, xfs_db's commands) are memfds: nothing on
 * disk to leave behind.
 *
 * Every function returns 0, or a negative errno after recording in d
 * why, naming the image: -EINVAL (a bad argument, or a tree the file
 * system cannot hold as it is), -EEXIST (the image exists), -ENOENT (the
 * tree or a program is missing), -ENOSPC (the tree does not fit), -EIO
 * (a program failed), -ETIMEDOUT, or -ECANCELED (interrupted; nothing is
 * recorded, the caller knows why).  On any failure the image is removed
 * (only ever a file this call created).  Images are made mode 0600.
 *
 * What each file system keeps of the tree (the tree is walked first: an
 * entry on another file system than the top, a mount point or a btrfs
 * subvolume, is refused for all three):
 *
 *   ext4   everything: owners, modes (setuid, setgid, sticky), hard links,
 *          xattrs (file capabilities, ACLs), device nodes, fifos, sockets,
 *          mtimes.  Features are the host's mke2fs.conf ext4 defaults
 *          (Debian 12: metadata_csum, 64bit), which guests with e2fsprogs
 *          older than 1.43 (el7) cannot check.
 *   btrfs  owners, modes, hard links, xattrs, fifos, sockets, mtimes to the
 *          second; device nodes become 0:0 (btrfs-progs 6.2's --rootdir
 *          does not copy device numbers; a warning is recorded: the
 *          guest's devtmpfs hides /dev).  --rootdir takes each inode's
 *          link count and number from the tree, so a file with hard links
 *          outside the tree, or an inode number up to 256, is refused
 *          (the result would fail btrfs check).  mkfs.btrfs silently
 *          grows an image too small for the tree: that is an -ENOSPC.
 *   xfs    owners, modes (the sticky bit, which the protofile cannot say,
 *          is set afterwards with xfs_db -x), device nodes (major up to
 *          511, minor up to 262143), fifos.  Lost: hard links (each name
 *          becomes a copy), xattrs (a warning is recorded naming the
 *          first file that has some: file capabilities such as ping's
 *          cap_net_raw go too), timestamps (all are mkfs time), holes
 *          (sparse files are written out), sockets (left out).  Refused
 *          (the protofile cannot say them): names with a space, tab or
 *          newline, names starting with `:' or equal to `$', symlink
 *          targets likewise or longer than 1024 bytes, and files larger
 *          than 2147479552 bytes (mkfs.xfs 6.1 reads a file in one read).
 *
 * On all three, the image's root directory is mode 0755 owned by 0:0,
 * whatever the tree's top is (a mkdtemp staging directory is 0700).
 */
#ifndef VMKIT_IMAGE_H
#define VMKIT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#define IMAGE_TIMEOUT_S         3600    /* each mkfs, xfs_db, qemu-img, mkswap */
#define IMAGE_TAIL_LINES        10      /* child output kept in a failure's message */

/*
 * The longest label fs takes, in bytes: ext4 16, xfs 12, btrfs 255, and
 * swap 16 ("swap" as fs).  0 for a file system we do not make.
 */
size_t image_label_max(const char *fs);

/*
 * The smallest image fs can be made in, in bytes: ext4 16 MiB (a journal
 * and room), xfs 300 MiB (mkfs.xfs refuses less), btrfs 109 MiB
 * (mkfs.btrfs --rootdir grows anything smaller to that), swap 40 KiB.
 * 0 for a file system we do not make.  A tree may need more.
 */
uint64_t image_min_size(const char *fs);

/*
 * Makes path, which must not exist (it is created O_EXCL), a sparse file
 * of size bytes (a multiple of 512, at least image_min_size(fs)), or
 * writes over path when it is a block device of at least size bytes (a
 * logical volume: the file system then fills the device), holding
 * an fs ("ext4", "xfs" or "btrfs") file system labelled label (NULL or
 * "": none; at most image_label_max(fs) bytes, no control characters)
 * whose contents are srcdir's tree, as the table above says.  tmpdir:
 * where temporaries may go (NULL: nowhere); none are made there today,
 * the xfs protofile and xfs_db's commands being memfds.  Child output
 * goes to log_fd.  Warnings (what the file system loses) may be recorded
 * in d on success.  features: for ext4, mke2fs -O's list (e.g.
 * "^metadata_csum" for a guest whose e2fsck predates it, el7), NULL for
 * mke2fs's defaults; letters, digits, `_', `^' and `,' only.
 */
int image_build_fs(const char *fs, const char *srcdir, const char *label, uint64_t size,
                   const char *features, const char *path, const char *tmpdir, int log_fd,
                   struct diag *d);

/*
 * Makes dst, which must not exist, a qcow2 image with raw's contents:
 * qemu-img convert -q -f raw -O qcow2 RAW DST (both formats named;
 * zeros and holes become unallocated clusters).  raw is left as it is.
 */
int image_convert_qcow2(const char *raw, const char *dst, int log_fd, struct diag *d);

/*
 * Makes path, which must not exist, a sparse file of size bytes (a
 * multiple of 4096, at least image_min_size("swap")), or takes path as
 * it is when it is a block device that large, with a swap
 * signature labelled label (NULL or "": none; at most 16 bytes):
 * mkswap -L LABEL PATH.  The guest gets it as a disk, so its holes do
 * not matter (mkswap warns about them in the log).
 */
int image_make_swap(const char *path, uint64_t size, const char *label, int log_fd,
                    struct diag *d);

/*
 * Makes a file system inside the existing image file path, in the
 * region [offset, offset + size) (a partition: offset a multiple of
 * 4096, size of a MiB), with the UUID uuid (36 lower-case characters)
 * and label label, holding srcdir's tree (NULL: empty).  fs: ext2, ext3
 * or ext4 (written in place, mke2fs -E offset=; features as for
 * image_build_fs), xfs or btrfs (built by image_build_fs in tmpdir, the
 * UUID set with xfs_admin -U or btrfstune -U, then copied in, holes kept),
 * or swap (mkswap -U in tmpdir, copied in; srcdir unused).  Nothing
 * outside the region is written.  On failure the region's contents are
 * undefined: the caller removes the image.
 */
int image_build_fs_at(const char *fs, const char *srcdir, const char *label, const char *uuid,
                      const char *features, const char *path, uint64_t offset, uint64_t size,
                      const char *tmpdir, int log_fd, struct diag *d);

/*
 * Runs argv (argv[0] found in PATH) as image.c runs mkfs: output copied
 * to log_fd after a "+ ARGV" line, the time limit, cancellable; on
 * failure records "IMAGE: cannot WHAT: ..." in d (package: the Debian
 * package to name when the program is missing).  0, -ENOENT, -ETIMEDOUT,
 * -ECANCELED, -EIO or -errno.
 */
int image_run(char *const argv[], const char *package, const char *image, const char *what,
              int log_fd, struct diag *d);

/*
 * Runs argv as image_run does (logged, cancellable), for at most
 * timeout_s seconds, with
 * its standard output caught apart: *out_r its whole text (at most
 * 4 MiB), *tail_r its standard error's last lines as in a failure's
 * message (NULL: none), *status_r its wait status.  Nothing is recorded:
 * the caller tells what the status means.  0 when it ran (look at
 * *status_r), else -ENOENT, -ETIMEDOUT, -ECANCELED or -errno.
 */
int image_capture(char *const argv[], int timeout_s, int log_fd, char **out_r, char **tail_r,
                  int *status_r);

/* Writes "+ ARGV..." to log_fd (-1: nothing), the words with anything
 * unusual in single quotes: how the runs of external tools are logged. */
void image_log_command(int log_fd, char *const argv[]);

#endif
