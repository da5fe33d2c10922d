/*
 * dm.h - the QEMU device model command line, built from a domain
 * description by a pure function (libvirt's qemuBuildCommandLine idea):
 * no file system, no environment, no clock; every input is in the
 * arguments, and tests/dm/ holds golden argv files for it.
 *
 * What QEMU gets (QEMU 7.2, Debian 12):
 *
 *   always     -nodefaults -no-user-config, started paused (-S: the
 *              supervisor sends `cont'), -no-shutdown and -action
 *              reboot=shutdown,panic=pause (every poweroff, reboot and
 *              panic stops the guest and reaches the supervisor, which
 *              applies on_poweroff/on_reboot/on_crash), -sandbox with
 *              every deny group, two QMP monitors (RUNDIR/qmp.sock for
 *              the supervisor, RUNDIR/qmp-vmctl.sock for vmctl; or
 *              listening sockets handed over as fds), -display none,
 *              the pvpanic ISA device.
 *   pv, pvh    direct kernel boot; virtio devices; the console is
 *              virtconsole (the guest's hvc0) on a socket chardev
 *              RUNDIR/console.sock that logs to the console log, and
 *              console=hvc0 is added to a command line naming no
 *              console.  Machine microvm (ACPI on, for the power button
 *              and device discovery; PIT and PIC only under TCG, whose
 *              CPUs lack the TSC deadline timer) while its virtio-mmio
 *              transports suffice (24 with the second IOAPIC that QEMU
 *              7.2 gives microvm with ACPI), else q35 with virtio-pci:
 *              more devices, a cdrom (ide-cd on q35's AHCI, the
 *              guest's /dev/srN) or vCPU hotplug (maxvcpus > vcpus).
 *   hvm        q35, firmware boot (-boot order= from `boot'), emulated
 *              devices: ide-hd/ide-cd on the AHCI ports in config order,
 *              e1000 (or the vif's model), VGA cirrus (std with
 *              stdvga=1), the console on an isa-serial when serial =
 *              "pty", VNC when vnc=1, USB tablet/mouse/keyboard.
 *   disks      -blockdev, the format always named (vhd is QEMU's vpc),
 *              protocol host_device for a target under /dev/, file
 *              otherwise; read-only=on for `r' disks, discard=unmap for
 *              discard, cache.direct=on for direct-io-safe.
 *   memory     -m MAXMEM; when maxmem > memory a balloon device, whose
 *              target the supervisor sets to memory before `cont'
 *              (plan->balloon_target_mib).
 */
#ifndef VMKIT_DM_H
#define VMKIT_DM_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "domain.h"

/* virtio-mmio transports on QEMU 7.2's microvm with acpi=on,ioapic2=on. */
#define DM_MICROVM_MMIO_SLOTS 24
/* AHCI ports of q35's built-in ICH9 controller (buses ide.0 to ide.5). */
#define DM_Q35_AHCI_PORTS 6
/* PCI slots q35 leaves free on pcie.0 (1 to 30; 0 and 31 are the chipset). */
#define DM_Q35_PCI_SLOTS 30

struct dm_params {
    const char *qemu;           /* the QEMU binary, argv[0] */
    enum domain_accel accel;    /* ACCEL_KVM or ACCEL_TCG, already decided */
    const char *rundir;         /* the domain's run directory: sockets */
    const char *console_log;    /* the console log file */
    /* Boot files resolved by a bootloader: when kernel is set, kernel and
     * ramdisk (NULL: none) come from here, else both from dom. */
    const char *kernel, *ramdisk;
    const char *cmdline;        /* NULL: domain_cmdline(dom) */
    /* One entry per vif of dom: the tap device the supervisor created,
     * NULL for a netdev=user vif.  The array may be NULL when no vif
     * needs a tap. */
    const char *const *tap_names;
    /* Listening unix sockets for the two QMP monitors, passed to QEMU
     * by number (the supervisor opens them before QEMU starts); -1:
     * QEMU creates RUNDIR/qmp.sock and RUNDIR/qmp-vmctl.sock itself. */
    int qmp_fd, vmctl_qmp_fd;
    unsigned long host_cpus;    /* 0: unknown; more vcpus only warn */
    /* TCG: the host's TSC rate in kHz (accel_host_tsc_khz), given to a
     * directly booted kernel as tsc_early_khz= unless its command line
     * has one; 0: unknown, nothing added. */
    unsigned long tsc_khz;
    /* The directly booted kernel's version string (kernelhdr_version),
     * NULL: unknown.  A pv/pvh kernel older than DM_MMIO_ACPI_MAJOR.
     * DM_MMIO_ACPI_MINOR cannot find microvm's virtio-mmio devices (they
     * are described in ACPI, which its virtio_mmio driver does not read):
     * it runs on q35. */
    const char *kernel_version;
};

#define DM_MMIO_ACPI_MAJOR 4
#define DM_MMIO_ACPI_MINOR 2

/* Sets every pointer to NULL, accel to ACCEL_TCG, the fds to -1. */
void dm_params_init(struct dm_params *p);

/* What the builder decided, for create --dry-run.  Owns its strings. */
struct dm_plan {
    const char *machine;        /* "microvm" or "q35" (static) */
    char *machine_reason;       /* why, with the device count */
    const char *console;        /* "hvc0", "ttyS0" or NULL (static) */
    char *cmdline;              /* the kernel command line; NULL: firmware boot */
    char *cmdline_configured;   /* the command line before rewriting, when
                                 * it changed; else NULL */
    char **vdev_map;            /* per disk, config order: "xvda2 -> /dev/vda" */
    size_t nvdev;
    long balloon_target_mib;    /* 0: no balloon */
    bool vnc_password;          /* set with change-vnc-password before cont */
};

void dm_plan_init(struct dm_plan *plan);
void dm_plan_dispose(struct dm_plan *plan);

/* The plan as "key: value" lines, each ending in a newline: a new
 * malloc'd string the caller frees, or NULL with errno ENOMEM. */
char *dm_plan_format(const struct dm_plan *plan);

/*
 * Builds QEMU's argv for dom with p.  On success returns 0, sets *argv_r
 * to a NULL-terminated vector (caller frees with dm_argv_free) and fills
 * plan (initialised by the caller; dispose with dm_plan_dispose).
 * Warnings go to d.  On error returns -EINVAL after recording every
 * problem in d (each naming the guest and the disk, vif or key), or
 * -ENOMEM; *argv_r is NULL and plan is left as after dm_plan_init.
 * Reads no file: whether disks exist and hold the named format is the
 * runtime's check.
 */
int dm_build_argv(const struct domain_desc *dom, const struct dm_params *p,
                  char ***argv_r, struct dm_plan *plan, struct diag *d);
void dm_argv_free(char **argv);

/*
 * Rewrites every root= in cmdline (before a `--') that names a Xen
 * device (/dev/xvdX[N], /dev/hdX[N], /dev/sdX[N]) as the virtio device
 * a pv/pvh guest sees: disks get /dev/vda, /dev/vdb, ... in config
 * order, cdroms not counted.  A vdev naming a partition (xen-tools'
 * xvda2: a filesystem image) is the whole virtio disk (root=/dev/xvda2
 * -> /dev/vda); a whole-disk vdev keeps the partition number
 * (root=/dev/xvda1 -> /dev/vda1 when xvda is the first disk); a vdev
 * given exactly wins over a whole-disk one.  Other roots (UUID=,
 * LABEL=, PARTUUID=, /dev/vda1, ...) are untouched; a Xen device no
 * disk provides is left as it is with a warning in d.  hvm guests'
 * command lines are returned unchanged.  Returns a new malloc'd string
 * the caller frees, or NULL with errno ENOMEM.
 */
char *dm_rewrite_root(const struct domain_desc *dom, const char *cmdline,
                      struct diag *d);

#endif
