/*
 * supervisor.h - the per-domain supervisor: what `xl create' leaves
 * behind (xl's domain monitor, Xen's device model launcher and
 * xenconsoled in one process per domain).
 *
 * It owns the domain's QEMU: plugs its vifs, opens QEMU's monitor
 * sockets before QEMU starts, starts QEMU paused (-S) and releases it
 * with `cont' once the balloon target is set, and then follows QMP
 * events: a guest poweroff, reboot (QEMU runs with -action
 * reboot=shutdown, so a reboot stops the guest too) or panic (pvpanic,
 * -action panic=pause) is answered by the config's on_poweroff,
 * on_reboot or on_crash.  It relays the guest's console (QEMU's socket
 * chardev, which writes the console log) to `vmctl console' clients on
 * console-relay.sock, and answers vmctl's requests on control.sock, one
 * line each way:
 *
 *   shutdown | reboot | destroy | pause | unpause  ->  "ok" | "error: WHY"
 *
 * Killing the supervisor leaves QEMU running: QEMU holds its own
 * monitors and console socket, and vmctl manages such a domain directly
 * (domstate.h).  SIGTERM makes it exit the same way; it never kills the
 * guest on its way out.
 */
#ifndef VMKIT_SUPERVISOR_H
#define VMKIT_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "domain.h"

struct supervisor_params {
    const struct domain_desc *dom;  /* uuid and every vif's mac assigned */
    int domid;
    const char *dir;                /* the domain's run directory (domstate.h) */
    const char *qemu;               /* the QEMU binary */
    enum domain_accel accel;        /* decided: ACCEL_KVM or ACCEL_TCG */
    const char *accel_reason;
    const char *config_file;        /* the file it was created from */
    const char *self_exe;           /* vmctl, for rename-restart */
    bool paused;                    /* leave it paused after start (create -p) */
    unsigned long host_cpus;
    unsigned long tsc_khz;          /* TCG: the host's TSC rate (dm_params) */
};

/*
 * Forks the supervisor, which detaches (new session, its log
 * LOGDIR/NAME.log as stdout and stderr) and starts the domain.  Returns
 * in the caller once the domain runs (or is paused, with p->paused): 0
 * and the supervisor's pid in *pid_r; or, when the start failed, -errno
 * or -EIO with why (QEMU's own last words where it gave any) in why.
 * On failure the supervisor has undone what it did (taps, QEMU) and the
 * caller removes the run directory.
 */
int supervisor_start(const struct supervisor_params *p, pid_t *pid_r,
                     char *why, size_t whylen);

/*
 * Sends one request line to the supervisor of the domain in dir and
 * waits up to timeout_ms for its answer.  0 when it answered "ok";
 * -EIO with its reason in why when it answered an error; -ECONNREFUSED
 * or -ENOENT when no supervisor listens (it is gone); -ETIMEDOUT.
 */
int supervisor_request(const char *dir, const char *request, int timeout_ms,
                       char *why, size_t whylen);

#endif
