/*
 * nsrun.h - running a program against a guest root being built, in a
 * mount namespace of its own: the root's /proc, /sys, /dev and /dev/pts
 * are mounted there and nowhere else, so they vanish with the last
 * process of the namespace, whatever happens to vm-provision (no
 * unmounting to forget, no mount left behind by a SIGKILL).  The host's
 * mounts are untouched: the namespace's propagation is private.
 *
 * Hooks (hook runner) and bootstrap steps that chroot (update-initramfs
 * after debootstrap) use it.  It is the one fork in provision/ besides
 * proc.c's posix_spawn: a namespace needs unshare(2) between fork and
 * exec, which posix_spawn cannot do.
 */
#ifndef VMKIT_NSRUN_H
#define VMKIT_NSRUN_H

#include "proc.h"

/* nsrun flags */
#define NSRUN_CHROOT    0x1     /* chroot(root) before exec: argv[0] is a
                                 * path inside the guest */

/*
 * Runs argv (argv[0] an absolute path; on the host, or in the guest with
 * NSRUN_CHROOT) as proc_run does: envp, stdin/stdout/stderr from o
 * (o->keep_fds and o->new_session are ignored), timeout_ms (-1: none),
 * cancellable (proc_set_cancel).  The program leads a process group of
 * its own; when it has exited, whatever it left running in that group
 * is killed.
 * Returns 0 with the wait status in *status_r, or -errno (-ETIMEDOUT,
 * -ECANCELED; a mount that failed shows as exit status 127 with a
 * message on the child's stderr).
 */
int nsrun(const char *root, char *const argv[], const struct proc_opts *o,
          unsigned flags, int timeout_ms, int *status_r);

#endif
