/*
 * accel.h - which accelerator a guest runs on: KVM where it really works,
 * TCG otherwise (DESIGN.md "Accelerator").
 *
 * KVM is judged in two steps:
 *
 *   host checks  cheap and static: /dev/kvm exists, the CPU advertises
 *                vmx or svm in a "flags" line of /proc/cpuinfo, /dev/kvm
 *                opens read-write, KVM_GET_API_VERSION answers 12.  A host
 *                can pass them and still not run a stock Linux kernel
 *                (nested or paravirtual KVM: the guest boots a little, then
 *                QEMU reports "KVM internal error. Suberror: 1" and pauses
 *                the VM without exiting; or QEMU aborts setting an MSR; or
 *                the vCPU spins without output).
 *   the probe    runs QEMU with a real guest kernel, a serial console on a
 *                pipe and no root device:
 *                  QEMU -machine q35 -accel A -cpu host|max -smp 2 -m 256M
 *                    -nodefaults -no-user-config -sandbox on,... -display
 *                    none -no-reboot -serial stdio -kernel K [-initrd I]
 *                    -append "console=ttyS0 panic=-1 root=/dev/nonexistent
 *                    [rdinit=/vmkit-probe-no-init]"
 *                The kernel passes when it gets through its whole init to
 *                the root mount, panics there ("Kernel panic - not
 *                syncing: VFS: Unable to mount root fs") and QEMU, told
 *                -no-reboot with panic=-1, exits by itself with status 0.
 *                A first console line alone is not enough (a broken KVM
 *                may boot a little first), nor is QEMU exiting (a triple
 *                fault resets, and -no-reboot exits on a reset too).  A
 *                QEMU still running at the time limit is killed; what it
 *                wrote to stderr and the last console line go into the
 *                reason.  -cpu is what the device model uses (dm.h): host
 *                under KVM, max under TCG.  With an initrd, rdinit names a
 *                missing program so that the kernel unpacks the initrd and
 *                still goes on to mount root= itself.
 *
 * accel = "auto" takes a verdict cached in RUNDIR/accel if there is a
 * valid one; else runs the host checks; if they pass, probes KVM with the
 * guest's kernel.  When the KVM probe fails, the same kernel is probed
 * under TCG: if it boots there, KVM is to blame and TCG is the verdict;
 * if not, the kernel is unfit for probing (no 8250 serial console, not a
 * bzImage, ...), TCG is used for now and nothing is cached.  Verdicts of
 * a probe are cached; those of the host checks, which cost nothing, are
 * not (a kvm module loaded later is then seen).
 *
 * The cache, RUNDIR/accel: root-only (0600, owned by the caller's euid,
 * neither group- nor world-writable, not a symlink, else ignored), written
 * atomically (temp file + rename), text lines "KEY VALUE":
 *     boot_id 6e2b...-...     /proc/sys/kernel/random/boot_id when probed
 *     accel kvm               or tcg
 *     probed_at 1732457000    seconds since the epoch
 *     reason TEXT             one line
 * A verdict whose boot_id is not the running host's is stale and ignored,
 * so the cache holds until the host reboots even when RUNDIR is not a
 * tmpfs.  Two probes running at once are harmless: the last rename wins.
 *
 * Host files are read under a root prefix (host_root; NULL is "/") so
 * that tests can use fake files; the probe itself always uses the real
 * /dev/kvm, through QEMU.
 *
 * Nothing here prints, exits or keeps globals.  Errors are 0 / negative
 * errno, with a reason in the caller's struct.  Every reason is one line
 * of printable ASCII (console and QEMU text are sanitised), at most
 * ACCEL_REASON_MAX - 1 bytes, cut short if longer.
 */
#ifndef VMKIT_ACCEL_H
#define VMKIT_ACCEL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "domain.h"

#define ACCEL_REASON_MAX        512
#define ACCEL_WARNING_MAX       256
#define ACCEL_PROBE_TIMEOUT_MS  30000   /* per probe run */
#define ACCEL_KVM_API_VERSION   12
#define ACCEL_CACHE_FILE        "accel" /* in the run root */
/* What the kernel prints when it gets to its root mount and finds none. */
#define ACCEL_PROBE_MARKER      "Kernel panic - not syncing: VFS: Unable to mount root fs"

struct accel_verdict {
    /* ACCEL_KVM or ACCEL_TCG.  Only accel_host_status() also gives
     * ACCEL_AUTO: KVM passes the host checks but is not probed yet. */
    enum domain_accel accel;
    char reason[ACCEL_REASON_MAX];  /* why, one line */
    bool cached;                    /* read from RUNDIR/accel */
    time_t probed_at;               /* when a probe decided it; 0: no probe */
    /* Something beside the verdict the caller may want to print once
     * (the verdict could not be cached, a cache file was ignored and
     * why, kvm forced although a probe failed); "" when nothing. */
    char warning[ACCEL_WARNING_MAX];
};

struct accel_probe_params {
    const char *qemu;       /* the QEMU binary (searched in $PATH when it has
                             * no `/'); NULL: "qemu-system-x86_64" */
    const char *kernel;     /* the guest kernel to probe with; NULL: none */
    const char *initrd;     /* its initrd; NULL: none */
    int timeout_ms;         /* per probe run; <= 0: ACCEL_PROBE_TIMEOUT_MS */
    const char *rundir;     /* the run root, which holds the cache;
                             * NULL: paths_root(PATHS_RUN) */
    const char *host_root;  /* prefix of /dev/kvm, /proc/..., /sys/...;
                             * NULL: "/" */
};

/* Everything NULL, timeout_ms 0 (the default).  No pointer is owned:
 * the strings must outlive every call that is given p. */
void accel_probe_params_init(struct accel_probe_params *p);

/* What one probe run saw. */
struct accel_probe_result {
    bool booted;            /* reached the root mount, QEMU exited 0 */
    bool timed_out;         /* still running at the limit: killed */
    long elapsed_ms;        /* from QEMU's start to its exit (or the kill) */
    unsigned long console_lines;
    char reason[ACCEL_REASON_MAX];
};

/*
 * The host checks, against the files under host_root (NULL: "/").
 * Returns 0 with v->accel ACCEL_KVM and a reason naming what passed
 * ("/dev/kvm opens, KVM API version 12, the CPU advertises vmx"), or
 * -ENODEV with v->accel ACCEL_TCG and the first reason KVM is out:
 *   "no /dev/kvm: the kvm module is not loaded or the host has no
 *    hardware virtualization"
 *   "the CPU advertises neither vmx nor svm" (plus a note when the
 *    kvm_pvm module provides /dev/kvm: it runs only PVM guest kernels)
 *   "cannot open /dev/kvm: Permission denied"
 *   "KVM_GET_API_VERSION on /dev/kvm failed: ..." / "... answers N, not 12"
 * v is overwritten (cached false, probed_at 0, warning "").
 */
int accel_host_check(const char *host_root, struct accel_verdict *v);

/*
 * Runs the probe once, under accel (ACCEL_KVM or ACCEL_TCG) with
 * p->qemu, p->kernel, p->initrd and p->timeout_ms; nothing else in p is
 * used and no host check is made (so a test can force a probe).  QEMU's
 * console and stderr are read through pipes, keeping at most a line of
 * 512 bytes and the first 4 KiB of stderr.  Returns 0 when QEMU ran:
 * r->booted says whether the kernel passed, r->reason says what
 * happened either way ("a Linux kernel booted under kvm to its root mount
 * in 0.9 s", "under kvm the probe kernel did not reach its root mount:
 * stopped after 30 s, no console output; QEMU: KVM internal error.
 * Suberror: 1 (emulation failure)").  Returns -EINVAL (no kernel, accel
 * not kvm or tcg), -errno when the kernel or initrd cannot be read or
 * QEMU cannot be started (-ENOENT: no such program) or a pipe fails; r
 * then says why and booted is false.  No QEMU is left running.
 */
int accel_probe(const struct accel_probe_params *p, enum domain_accel accel,
                struct accel_probe_result *r);

/*
 * Reads the cached verdict from rundir/accel, checking it against the
 * host's boot id (read under host_root).  Returns 0 with *v filled
 * (cached true), or with v->accel ACCEL_TCG and v->reason saying why:
 * -ENOENT (no cache), -ESTALE (written before the host's last boot, or
 * the boot id cannot be read), -EPERM (not a regular file owned by us,
 * or writable by others), -EINVAL (not a verdict: a bad line, a missing
 * or repeated key, a value out of range), -EFBIG, other -errno.
 */
int accel_cache_read(const char *rundir, const char *host_root,
                     struct accel_verdict *v);

/*
 * Writes v (accel, reason, probed_at) to rundir/accel with the host's
 * boot id: a temporary file in rundir (mode 0600), synced, renamed over.
 * rundir is created (0700) when missing; its parent must exist.  Returns
 * 0, -EINVAL (v->accel not kvm or tcg), -ESTALE (no boot id to read), or
 * -errno; no temporary file is left behind.
 */
int accel_cache_write(const char *rundir, const char *host_root,
                      const struct accel_verdict *v);

/*
 * Decides the accelerator of a guest that asked for wanted:
 *   ACCEL_TCG   TCG ("tcg asked for"); p may be NULL.
 *   ACCEL_KVM   KVM when the host checks pass; else -ENODEV with the
 *               reason ("kvm asked for, but ...").  Never falls back to
 *               TCG.  Not probed: when a cached probe says KVM fails,
 *               v->warning says so.
 *   ACCEL_AUTO  as described at the top: the cache, the host checks, the
 *               probe with p->kernel (none: TCG, "not probed: no guest
 *               kernel to probe with", nothing cached).  A failure to
 *               cache goes to v->warning, not to the return value.  The
 *               probe takes up to three times p->timeout_ms (KVM, then
 *               TCG with the same kernel and twice the time when KVM
 *               fails).
 * Returns 0 with v->accel ACCEL_KVM or ACCEL_TCG, or a negative errno
 * with v->reason saying why: -ENODEV (kvm forced, unusable), -EINVAL
 * (bad wanted; p NULL except for tcg), or what accel_probe returned when the probe could
 * not run (e.g. -ENOENT: no QEMU).
 */
int accel_decide(enum domain_accel wanted, const struct accel_probe_params *p,
                 struct accel_verdict *v);

/*
 * As accel_decide, but starts nothing and writes nothing (create
 * --dry-run): auto without a valid cached verdict is TCG, with the host
 * checks' reason, or when they pass a reason saying that a real create
 * probes KVM first.  Same returns (-ENODEV for a forced kvm that the host
 * checks rule out).
 */
int accel_decide_noprobe(enum domain_accel wanted, const struct accel_probe_params *p,
                         struct accel_verdict *v);

/*
 * accel_decide (probe true) or accel_decide_noprobe (probe false) with
 * the host checks' result given in host (as accel_host_check fills it;
 * may be NULL for tcg) instead of run: the decision on its own, which
 * tests drive with a made-up host (an accel_priv.h candidate).
 */
int accel_decide_given(enum domain_accel wanted, const struct accel_verdict *host,
                       const struct accel_probe_params *p, bool probe,
                       struct accel_verdict *v);

/*
 * The host-wide status for `vmctl info': the cached verdict when valid
 * (cached true), else the host checks' result: ACCEL_TCG with why KVM is
 * out, or ACCEL_AUTO ("KVM passes the host checks (...) but is not probed
 * yet: the first `vmctl create' with accel auto probes it with the
 * guest's kernel"); v->accel is then not a usable accelerator, show it
 * with accel_verdict_name().  Only p->rundir and p->host_root are used.  Runs no
 * probe and writes nothing.  Returns 0, or -EINVAL when p is NULL.
 */
int accel_host_status(const struct accel_probe_params *p, struct accel_verdict *v);

/* "kvm", "tcg", or "undecided" (ACCEL_AUTO): static text. */
const char *accel_verdict_name(const struct accel_verdict *v);

/*
 * The host's TSC rate in kHz, measured against CLOCK_MONOTONIC_RAW (the
 * median of three 20 ms samples), when /proc/cpuinfo says the TSC is
 * constant and does not stop (constant_tsc, nonstop_tsc); else 0.  A
 * TCG guest's TSC is the host's, so this is the guest's rate too.
 */
unsigned long accel_host_tsc_khz(void);

/*
 * One line for `vmctl info' and `list -l', into buf (len bytes, cut short
 * if needed): "NAME (REASON[; probed YYYY-MM-DD HH:MM:SS UTC][, cached
 * until the host reboots])".  Returns buf.
 */
const char *accel_verdict_format(const struct accel_verdict *v, char *buf, size_t len);

#endif
