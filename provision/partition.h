/*
 * partition.h - partitioned guest disks: the layout (xen-tools'
 * partitions file, or the simple default), where each partition goes,
 * the partition table (written with libparted into the image file), and
 * GRUB for firmware (BIOS) boot, written into the image file without a
 * loop device or a mount.
 *
 * The layout file is xen-tools' partitions format, read with the
 * settings parser (settings.h): one [NAME] section a partition, in disk
 * order, with
 *
 *   size=SIZE          required: 512M, 1G, 1.5G (K, M, G, T; a plain
 *                      number is MiB), rounded up to whole MiB
 *   type=TYPE          required: ext2, ext3, ext4, xfs, btrfs or swap
 *   mountpoint=PATH    required but for swap: absolute, one of them `/'
 *   options=OPTS       fstab options (default: errors=remount-ro for the
 *                      ext family's root, defaults otherwise)
 *
 * Unlike xen-tools, which makes one image (or logical volume) per
 * section, vmkit puts every partition in one partitioned disk.
 *
 * Placement: partitions start on MiB boundaries.  gpt: a 1 MiB BIOS boot
 * partition first (GRUB's core.img goes there), then the layout's
 * partitions; the last MiB is left for the backup GPT.  msdos: the
 * layout's partitions from 1 MiB (core.img goes in the gap after the
 * MBR), at most four (no extended partitions).  The default layout's
 * root partition fills the disk; a layout file's disk is as large as its
 * partitions need.
 *
 * Functions return 0 or a negative errno after recording why in d
 * (FILE:LINE:COL for layout errors).
 */
#ifndef VMKIT_PARTITION_H
#define VMKIT_PARTITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#define PART_ALIGN          ((uint64_t)1 << 20)    /* every partition starts on a MiB */
#define PART_MAX            16              /* partitions in a layout */
#define PART_BIOS_BOOT_SIZE ((uint64_t)1 << 20)

struct part_entry {
    char *name;             /* owned: the section name ("root", "home", ...) */
    const char *fs;         /* static: ext2, ext3, ext4, xfs, btrfs, swap */
    char *mountpoint;       /* owned; NULL for swap */
    char *options;          /* owned: fstab options, never NULL */
    uint64_t size;          /* bytes, whole MiB */
    int line;               /* its section's line in the file; 0: default layout */
    char uuid[37];          /* the file system's (or swap area's) UUID */
    /* placement (partition_layout_place) */
    int number;             /* 1-based partition number on the disk */
    uint64_t start;         /* bytes from the disk's start */
};

struct part_layout {
    char *source;           /* owned: the file, or NULL for the default */
    const char *table;      /* static: "gpt" or "msdos" */
    struct part_entry *v;   /* owned, in disk order */
    size_t n;
    size_t root;            /* index of the `/' entry */
    uint64_t disk_size;     /* bytes (partition_layout_place) */
    bool bios_boot;         /* gpt: partition 1 is the BIOS boot partition */
};

void part_layout_init(struct part_layout *l);
void part_layout_dispose(struct part_layout *l);

/* Parses a layout file's text (messages name source).  l: initialised.
 * -EINVAL after recording every error, -ENOMEM. */
int partition_layout_parse(const char *source, const char *text, size_t len,
                           struct part_layout *l, struct diag *d);

/* Reads and parses the layout file at path. */
int partition_layout_read(const char *path, struct part_layout *l, struct diag *d);

/* The simple default: one root partition of type fs (ext4, ...) that
 * fills the disk.  l: initialised.  0 or -ENOMEM. */
int partition_layout_default(struct part_layout *l, const char *fs);

/*
 * Places l's partitions on a table ("gpt" or "msdos") and sets their
 * numbers, starts and l->disk_size.  disk_size: the disk's size in bytes
 * for the default layout (its root fills the disk); 0 for a layout file
 * (the disk is as large as the partitions need).  Fresh random UUIDs are
 * not made here (partition_layout_uuids).  -EINVAL (recorded): too small
 * a disk, more than four msdos partitions.
 */
int partition_layout_place(struct part_layout *l, const char *table, uint64_t disk_size,
                           struct diag *d);

/* Gives every entry a fresh random UUID.  0 or -errno. */
int partition_layout_uuids(struct part_layout *l);

/* The entry mounted at mountpoint, or NULL.  Borrowed. */
const struct part_entry *partition_find_mount(const struct part_layout *l,
                                              const char *mountpoint);

/*
 * Writes l's partition table into path, an existing image file at least
 * l->disk_size bytes long, with libparted (the file, no loop device):
 * gpt with a bios_grub partition 1, or msdos with the root partition
 * active.  Partition types: Linux file system, Linux swap.
 */
int partition_write_table(const struct part_layout *l, const char *path, struct diag *d);

/*
 * Makes GRUB boot the image file path through BIOS firmware: core.img
 * made with the host's grub-mkimage -O i386-pc (modules from grub_dir,
 * /usr/lib/grub/i386-pc by default) with an early config that finds
 * the file system holding /boot by its UUID (boot_uuid) and sets the
 * prefix to boot_prefix there ("/boot/grub", or "/grub" for a separate
 * /boot), written into the BIOS boot partition (gpt) or the gap after
 * the MBR (msdos); boot.img written into the MBR, keeping its partition
 * table, with core.img's sector patched in.  Child output goes to
 * log_fd.  workdir: where core.img is made (then removed).
 */
int partition_install_grub(const struct part_layout *l, const char *path,
                           const char *grub_dir, const char *boot_uuid,
                           const char *boot_prefix, const char *workdir, int log_fd,
                           struct diag *d);

/* The host's i386-pc GRUB directory: "/usr/lib/grub/i386-pc". */
#define PART_GRUB_DIR "/usr/lib/grub/i386-pc"

#endif
