/*
 * namelock.h - the lock of one guest name, RUNDIR/provision/NAME.lock:
 * held by a vm-provision run making or replacing the guest, and by
 * --snapshot while it snapshots the guest's disk, so that neither runs
 * under the other.
 *
 * The holder removes the file before it unlocks, so a locker that opened
 * the old file finds, after its flock, that the path names another file
 * (or none) and tries again.
 */
#ifndef VMKIT_NAMELOCK_H
#define VMKIT_NAMELOCK_H

#include "diag.h"

/*
 * Takes the lock at path (its directory must exist), without waiting.
 * Returns the locked descriptor, or -EBUSY (held by another: recorded as
 * "another vm-provision is WHAT now (PATH is locked); nothing was
 * changed"), or -errno after recording why.
 */
int namelock_take(const char *path, const char *what, struct diag *d);

/* Removes path, then unlocks fd (see the top).  fd < 0: nothing. */
void namelock_drop(int fd, const char *path);

#endif
