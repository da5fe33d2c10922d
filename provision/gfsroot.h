/*
 * gfsroot.h - the identity step's third backend: guest roots in ext2/3/4
 * images (raw or qcow2) edited by a libguestfs appliance, the other way
 * beside libext2fs (ext2root.h) to personalise clones.  One appliance (a
 * small Linux VM that libguestfs starts with QEMU) serves several images
 * at once: it costs seconds to start (see "Cost" below), then each image
 * costs a mount, the edits and an unmount.  The guest's file system is
 * mounted inside the appliance only; nothing is mounted on the host, and
 * nothing of the host but the images is reachable from the appliance.
 *
 * Semantics are those of struct identity_root_ops (identity.h).  Each
 * operation is one or a few libguestfs calls whose daemon side runs
 * chroot(2)ed into the guest's file system, so the appliance's kernel
 * resolves paths as the guest would: an absolute symlink starts again at
 * the guest's root, `..' stops there.  The calls that libguestfs runs
 * outside the chroot (ln -s) are given a parent directory first
 * resolved inside it (guestfs_realpath), so they cannot be led elsewhere
 * either.
 *   - read: guestfs_lstatns (a symlink -ELOOP, not a regular file
 *     -EINVAL, larger than asked -EFBIG), then guestfs_pread.
 *   - write: a new file at a temporary name (".vmkit-" and 16 hex digits)
 *     in the same directory, owner and mode set, then guestfs_rename over
 *     path: a symlink there is replaced, a directory is -EISDIR.
 *   - symlink: guestfs_ln_s at a temporary name, renamed over path (owned
 *     by root, as the appliance's daemon makes it).
 *   - remove: guestfs_rm_f (unlink(2): a directory is -EISDIR, absent is
 *     fine); mkdir: guestfs_mkdir_mode, owner and mode; stat:
 *     guestfs_statns or guestfs_lstatns; readlink: guestfs_readlink;
 *     list: guestfs_ls.
 * libguestfs's errors become the errno the daemon reports
 * (guestfs_last_errno), EIO when it reports none; libguestfs prints
 * nothing (no error handler; tracing off, whatever LIBGUESTFS_TRACE says,
 * since a trace prints every call's arguments, private host keys
 * included), unless LIBGUESTFS_DEBUG=1 asks for the appliance's console
 * on stderr.  When an apply fails, the message libguestfs gave for the
 * failing call is recorded too.
 *
 * Cost, measured on a 2-core machine under TCG: the appliance starts in
 * 11-14 s (its memory, 256 to 1280 MiB, makes no difference); an apply
 * takes 0.55-0.7 s without ssh host keys (mount 0.17 s, unmount 0.19 s,
 * sync 0.13 s, about 70 calls the rest) and 0.9-1.4 s with them; shutting
 * down 0.2-0.3 s.  libext2fs (ext2root.h) does the same apply in under
 * 2 ms, but reaches raw images only.
 *
 * The appliance runs QEMU under KVM where libguestfs finds /dev/kvm, else
 * under TCG.  A host whose KVM is there but does not work (nested
 * virtualisation: QEMU aborts setting an MSR) fails the first launch in
 * well under a second; the session then starts the appliance again under
 * TCG (libguestfs's force_tcg backend setting) and records a warning.
 * LIBGUESTFS_BACKEND_SETTINGS=force_tcg skips the first try.
 *
 * Unlike ext2root.c, a file system whose journal needs recovery is
 * recovered by the appliance's kernel when it mounts it.  QEMU locks the
 * images it opens: an image that a running guest has open cannot be
 * attached (the launch fails with QEMU's "Failed to get shared "write"
 * lock").
 *
 * Needs libguestfs (Debian: libguestfs0, which brings supermin and QEMU;
 * supermin builds the appliance from the host's own packages, once, in
 * /var/tmp/.guestfs-UID, and needs a kernel: linux-image-amd64) and root
 * or read access to the host's /boot kernel.  libguestfs waits for its
 * own QEMU: the caller must not reap it first (no waitpid(-1, ...),
 * SIGCHLD not ignored) while a session is open.
 */
#ifndef VMKIT_GFSROOT_H
#define VMKIT_GFSROOT_H

#include <stddef.h>

#include "diag.h"
#include "identity.h"

/* One libguestfs appliance with its disks attached. */
struct gfs_session;

/*
 * Starts one libguestfs appliance (backend from LIBGUESTFS_BACKEND, else
 * "direct"; its memory from LIBGUESTFS_MEMSIZE, else 512 MiB rather than
 * libguestfs's 1280, no slower) with the n
 * (at least one) images attached read-write, each with its format named
 * (formats[i]: "raw" or "qcow2"; never probed; a qcow2 image's backing
 * file is opened with the format its header records).  The images are
 * checked first (each must be a regular file or a block device): a
 * missing one fails before anything is started.  The strings are copied.
 *
 * Returns 0 with *s_r (release with gfs_session_close), or -errno after
 * recording in d what failed and libguestfs's own last error message:
 * -EINVAL (no image, a format that is not raw or qcow2), -ENOENT and the
 * like for an image, -EIO (or libguestfs's errno) when the appliance did
 * not start.  Takes seconds.
 */
int gfs_session_open(const char *const *images, const char *const *formats, size_t n,
                     struct gfs_session **s_r, struct diag *d);

/*
 * Personalises disk i of s (images[i] of gfs_session_open, which must
 * hold a whole-disk ext2/3/4 file system: the i-th device of
 * guestfs_list_devices) as id says, through identity_apply with this
 * backend: mounts it on / inside the appliance (with the ext4 driver,
 * noatime), applies, unmounts and syncs (also when the apply failed).  r->name for messages is "IMAGE:",
 * so they read "disk.qcow2:/etc/shadow: ...".
 *
 * Same returns as identity_apply, and -EINVAL (recorded, naming the
 * image) for i out of range or a disk that holds no ext2/3/4 file system
 * (what it holds, as libguestfs sees it, is said), -errno or -EIO when it
 * cannot be mounted, unmounted or synced.  A failed apply leaves the
 * image partly personalised: discard it.  The session stays usable for
 * the other disks.
 */
int gfs_session_apply(struct gfs_session *s, size_t i, const struct identity *id,
                      struct diag *d);

/*
 * Shuts the appliance down (guestfs_shutdown, which unmounts what is
 * still mounted, syncs, and reports QEMU's write-back errors) and frees
 * s; NULL is fine (0).  0, or -EIO after recording why: then no image of
 * the session is to be trusted.  s is freed in both cases.
 */
int gfs_session_close(struct gfs_session *s, struct diag *d);

/* gfs_session_open of one image, gfs_session_apply, gfs_session_close:
 * the single-guest call, as identity_apply_ext2 is for libext2fs.  Same
 * returns as gfs_session_apply. */
int identity_apply_guestfs(const struct identity *id, const char *image, const char *format,
                           struct diag *d);

#endif
