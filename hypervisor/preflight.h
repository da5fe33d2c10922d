/*
 * preflight.h - what is checked before QEMU runs, so that a missing disk
 * or a disk in another format than the config names is refused with a
 * message naming it, instead of QEMU failing (or, worse, probing).
 */
#ifndef VMKIT_PREFLIGHT_H
#define VMKIT_PREFLIGHT_H

#include "diag.h"
#include "disk.h"
#include "domain.h"

/*
 * The format an image's first bytes (and, for vhd, its last sector) say
 * it holds: QCOW, QCOW2, QED, VHD, or RAW when none of their magics is
 * there.  -errno when path cannot be read.  Reads at most two sectors:
 * the image is never mounted or parsed further.
 */
int preflight_detect_format(const char *path, enum disk_format *format_r);

/*
 * Checks every disk of dom (the target exists, is a regular file or a
 * block device, is writable when the disk is, holds the format named:
 * a raw disk that holds a qcow2 header is refused too, as QEMU would
 * otherwise hand the guest the header), and the kernel and ramdisk
 * (readable regular files).  Each problem is one error in d, named after
 * the config file; returns 0 or -EINVAL.
 */
int preflight_check(const struct domain_desc *dom, const char *config_file,
                    struct diag *d);

#endif
