/*
 * snapshot.h - vm-provision --snapshot NAME, --snapshot-list NAME and
 * --snapshot-delete VOLUME: read-only LVM snapshots of the disk of a
 * guest vm-provision made on --lvm or --lvm-thin, for backups.  Command
 * layer: these print, and return the exit status (0, 1 failure, 2 bad
 * input).
 *
 * A snapshot is VG/NAME-disk-snap-YYYYMMDD-HHMMSS, read-only, active at
 * once: thin (no size, in the pool) for a thin disk, else copy-on-write
 * with --snapshot-size of room (default: a fifth of the disk, at least
 * 256 MiB, at most the disk).  A running guest is paused (vmctl pause:
 * QEMU drains and flushes its disk writes) for the moment lvcreate
 * takes, then unpaused whatever happened, so the snapshot is what a
 * power cut at that moment would leave (crash-consistent: the guest's
 * journal replays it; mount it read-only with -o ro,noload for ext4).
 */
#ifndef VMKIT_SNAPSHOT_H
#define VMKIT_SNAPSHOT_H

#include "diag.h"

int snapshot_take(const char *prog, const char *vmctl, const char *name, const char *size);
int snapshot_list(const char *prog, const char *name);
int snapshot_delete(const char *prog, const char *volume);

/*
 * Removes every snapshot of vg/origin (whoever took it), printing
 * "removed /dev/VG/LV" for each; for --delete, before the origin goes.
 * 0 or -errno (recorded in d).
 */
int snapshot_remove_all(const char *vg, const char *origin, struct diag *d);

#endif
