/*
 * clone.h - a guest's disk made from a golden image rather than built:
 * a sparse (or reflinked) copy of a raw image, a qcow2 overlay on one,
 * and a qcow2 image shown as a raw file, so that libext2fs (ext2root.c),
 * which reads only raw images, can edit the guest's file system in it.
 *
 * The raw view is qemu-storage-daemon's FUSE export: a regular file on
 * which a FUSE file system is mounted, one file whose bytes are the
 * image's virtual disk.  The daemon is started through setpriv
 * --pdeathsig TERM, so that a vm-provision killed outright (SIGKILL, a
 * crash) takes the daemon with it: on SIGTERM the daemon flushes the
 * image, unmounts the export and exits.  The death signal follows the
 * thread that started the daemon, not the process: clone_export is to
 * be called from a thread that outlives the export (vm-provision's only
 * one).  The daemon is in a session of its own, so that a Ctrl-C at the
 * terminal reaches vm-provision alone, which then stops the export
 * itself (clone_unexport) when it is done writing.
 *
 * What qemu-storage-daemon 7.2 was seen to do (Debian 12, as root, no
 * fusermount needed): the export is ready some 10 ms after the start;
 * SIGTERM ends it with exit status 0 (not a death by SIGTERM), the
 * export unmounted, in about 10 ms, the fsync before included; SIGKILL
 * leaves the mount behind, every access to it failing with ENOTCONN,
 * until it is detached.
 *
 * The daemon is the caller's child and is reaped here: the caller must
 * not reap it first (no waitpid(-1, ...), SIGCHLD not ignored), or its
 * end could not be told and its pid might be another process's.
 *
 * Every function returns 0, or a negative errno after recording in d
 * why, naming the file: -EINVAL (a bad argument), -EEXIST (the file to
 * make exists), -ENOENT (a file or program is missing), -EIO (a program
 * failed: the message says how it ended, its output is in the log),
 * -ETIMEDOUT, or -ECANCELED (interrupted; nothing is recorded, the
 * caller knows why).  Files are made mode 0600; on failure a function
 * leaves nothing behind that it made (no file, no process, no mount).
 */
#ifndef VMKIT_CLONE_H
#define VMKIT_CLONE_H

#include <signal.h>
#include <sys/types.h>

#include "diag.h"

#define CLONE_READY_TIMEOUT_S   30      /* the export appearing */
#define CLONE_STOP_TIMEOUT_S    30      /* the daemon flushing and exiting on SIGTERM */

/*
 * Copies the raw image src (a regular file) to dst, which must not
 * exist (created O_EXCL | O_NOFOLLOW, mode 0600): same size, same bytes,
 * holes left as holes.  First as a reflink (FICLONE: btrfs, xfs; the
 * blocks are shared until written), else each data extent of src
 * (SEEK_DATA/SEEK_HOLE) with copy_file_range, or read and write where
 * the kernel cannot copy between the two (EXDEV, ENOSYS, EOPNOTSUPP).
 * The copy is fsync'ed before it is called done.  cancel (NULL: none)
 * is looked at between extents and chunks: when set, -ECANCELED.
 * *how_r (NULL: not wanted) is set on success to "reflink" or "sparse
 * copy", static strings; NULL on failure.  On any failure dst is
 * removed.
 */
int clone_copy(const char *src, const char *dst, const volatile sig_atomic_t *cancel,
               const char **how_r, struct diag *d);

/*
 * Makes dst, which must not exist, a qcow2 image whose backing file is
 * backing, an absolute path (a relative one would be taken from dst's
 * directory by QEMU: -EINVAL), of format backing_format ("raw",
 * "qcow2"; both formats are always named): qemu-img create -q -f qcow2
 * -F BACKING_FORMAT -b BACKING DST, run as image_run runs it (a time
 * limit, cancellable, its output copied to log_fd, -1: nowhere).  dst's
 * name is claimed (O_EXCL) before qemu-img runs, which would otherwise
 * write over an existing file.  backing is only read, then and later.
 */
int clone_overlay(const char *backing, const char *backing_format, const char *dst,
                  int log_fd, struct diag *d);

struct clone_export {
    pid_t pid;          /* qemu-storage-daemon (our child), 0: none */
    char *path;         /* the raw view; owned, freed by clone_unexport */
};

/*
 * Shows the qcow2 image as a raw, writable file at path, for libext2fs,
 * until clone_unexport: path is made here (an empty regular file, O_EXCL,
 * mode 0600) and becomes the mount point of qemu-storage-daemon's FUSE
 * export:
 *
 *   setpriv --pdeathsig TERM -- qemu-storage-daemon
 *     --blockdev driver=file,filename=IMAGE,node-name=file0
 *     --blockdev driver=qcow2,file=file0,node-name=disk0
 *     --export type=fuse,id=export0,node-name=disk0,mountpoint=PATH,writable=on
 *
 * with each comma in IMAGE and PATH doubled, as QEMU's option syntax
 * wants.  Both programs are looked for in $PATH.  The daemon's standard
 * output and error go to log_fd (-1: nowhere) for as long as it runs.
 * Waits up to CLONE_READY_TIMEOUT_S for path to be the export (another
 * file system than the file made), watching the daemon: one that exits
 * first is -EIO (its exit status is recorded; what it said is in the
 * log); a timeout stops it (-ETIMEDOUT).  The wait is cancellable
 * (proc_set_cancel).  Writes through path reach image (a qcow2 backing
 * file is only read).  e is filled on success, zeroed on failure (so
 * clone_unexport may be called either way); on failure nothing is left.
 * e->path is a copy of path, owned by e.
 */
int clone_export(const char *image, const char *path, int log_fd, struct clone_export *e,
                 struct diag *d);

/*
 * Stops the export: an fsync through path (the daemon flushes the
 * image; an error there is recorded), SIGTERM to the daemon, which
 * flushes again, unmounts and exits, waited for up to
 * CLONE_STOP_TIMEOUT_S, after which it is killed and the mount
 * detached (-ETIMEDOUT).  Its end is checked: exit status 0, or death
 * by SIGTERM, is clean; anything else is -EIO.  path is removed.  0, or
 * -errno after recording: then the image is not to be trusted.  Safe on
 * a zeroed e, or one already stopped; e is zeroed after (e->path
 * freed).  Not cancellable: a cancelled vm-provision stops its exports
 * here, on its way out.
 */
int clone_unexport(struct clone_export *e, struct diag *d);

#endif
