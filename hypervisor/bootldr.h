/*
 * bootldr.h - vmkit's own bootloader (what pygrub does for Xen, done
 * safely): reads the guest's raw disk image -- its MBR or GPT partition
 * table (libblkid), then each ext2/3/4 file system (libext2fs, never
 * mounted) or the whole disk as one -- finds grub.cfg, BLS entries or
 * extlinux.conf (bootcfg.h), chooses the entry, and copies its kernel
 * and initrds (concatenated, as grub loads them) out to files.
 *
 * The image is the guest's and untrusted.  Everything that reads it runs
 * in a child process: killed after a timeout, RLIMIT_AS, RLIMIT_FSIZE,
 * RLIMIT_NOFILE bounded, no core, PR_SET_NO_NEW_PRIVS, and (when started
 * as root) running as nobody once the image and the output files are
 * open: it cannot open anything else.  Paths resolve inside the guest's
 * file system only (`..' at its root is its root, absolute symlinks
 * start at its root, symlink chains are bounded).  Nothing from the
 * guest is executed.  The child answers over a pipe with one fixed-size,
 * versioned message, which the parent checks.
 */
#ifndef VMKIT_BOOTLDR_H
#define VMKIT_BOOTLDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "domain.h"

#define BOOTLDR_MAX_KERNEL   (256ULL << 20)  /* bytes */
#define BOOTLDR_MAX_INITRD   (1ULL << 30)    /* bytes, all initrds together */
#define BOOTLDR_TIMEOUT      60              /* seconds */
#define BOOTLDR_MAX_PARTS    128
#define BOOTLDR_MAX_CMDLINE  4096
#define BOOTLDR_NOBODY       65534

/* The files it writes in outdir. */
#define BOOTLDR_KERNEL_FILE  "boot-kernel"
#define BOOTLDR_INITRD_FILE  "boot-initrd"

struct bootldr_params {
    const char *disk;           /* the image, format raw */
    const char *outdir;         /* NULL: find and check only, copy nothing */
    const char *const *args;    /* bootloader_args (pygrub's) */
    size_t nargs;
    /* As xl hands the config's kernel, ramdisk and cmdline to pygrub:
     * --kernel, --ramdisk, --args where args do not give them; NULL: none. */
    const char *kernel, *ramdisk, *cmdline;
    int timeout_s;              /* 0: BOOTLDR_TIMEOUT */
    bool no_drop;               /* keep the caller's uid (tests, non-root) */
    /* Tests only: a path the child tries to open after dropping its
     * privileges; the errno (0: it could) lands in result.probe_errno. */
    const char *probe_path;
};

struct bootldr_result {
    char kernel[4096];          /* the host file; "" with outdir NULL */
    char initrd[4096];          /* the host file, "" when the entry has none */
    char cmdline[BOOTLDR_MAX_CMDLINE];
    /* what was chosen, for messages and create --dry-run */
    char title[256];
    char index[64];             /* grub's "1>2", or "-" for --kernel */
    char device[64];            /* "partition 1", "whole disk" */
    char config[256];           /* the config file in that file system */
    char kernel_path[256];      /* in the guest's file system */
    char initrd_paths[1024];    /* ", "-separated */
    unsigned long long kernel_size, initrd_size;
    char note[512];             /* "" or a remark (default `saved', ...) */
    int probe_errno;
};

/*
 * Runs the bootloader for p.  Returns 0 with res filled (its files, if
 * any, the caller's to remove: bootldr_remove_files); or -EIO with the
 * reason, naming the disk, in why (a hostile or unbootable image, the
 * timeout, the child's death), -errno for a local failure (fork, pipe).
 */
int bootldr_run(const struct bootldr_params *p, struct bootldr_result *res,
                char *why, size_t whylen);

/* Removes the files bootldr_run wrote for res (those named in it). */
void bootldr_remove_files(const struct bootldr_result *res);

/* True when a `bootloader' value means vmkit's own: "pygrub", a path
 * ending in /pygrub, "vmkit-bootloader". */
bool bootldr_is_ours(const char *bootloader);

/* True when kernel is a PV GRUB 2 image (.../grub-*xen*.bin), which
 * means vmkit's own bootloader too. */
bool bootldr_is_pvgrub(const char *kernel);

/*
 * Whether dom boots through vmkit's bootloader: 1 for a pv/pvh guest
 * whose `bootloader' is ours or whose kernel is PV GRUB; 0 when not (an
 * hvm guest's `bootloader' is ignored, as xl ignores it); -EINVAL for
 * any other bootloader program (vmkit runs none), with the reason in
 * why.
 */
int bootldr_wanted(const struct domain_desc *dom, char *why, size_t whylen);

/*
 * Runs the bootloader for dom (bootldr_wanted said 1) on its first disk,
 * which must be raw: its bootloader_args, then (as xl gives them to
 * pygrub) its kernel, ramdisk and cmdline as --kernel, --ramdisk,
 * --args, a PV GRUB kernel excepted.  outdir as in bootldr_params.
 * Returns as bootldr_run; -EINVAL with why for a disk it cannot read.
 */
int bootldr_run_domain(const struct domain_desc *dom, const char *outdir,
                       struct bootldr_result *res, char *why, size_t whylen);

/* What was chosen, one line without a newline, for create --dry-run and
 * the domain's log: "entry N `TITLE' from DEVICE:PATH: kernel ..., initrd
 * ..., cmdline ...".  A new malloc'd string, or NULL (ENOMEM). */
char *bootldr_describe(const struct bootldr_result *res);

#endif
