/*
 * kernelhdr.h - what a directly booted x86 kernel says of itself in its
 * boot protocol header (Documentation/x86/boot.rst): its version string.
 * The runtime reads it from the kernel file named in the config (a file
 * on the host, as QEMU reads it to boot it; never the guest's disk) to
 * choose a machine the kernel can use: el7's 3.10 finds no virtio-mmio
 * device on microvm.
 */
#ifndef VMKIT_KERNELHDR_H
#define VMKIT_KERNELHDR_H

#include <stddef.h>

/*
 * Copies the version string of the bzImage at path ("3.10.0-1160.el7.x86_64
 * (mockbuild@...) #1 SMP ...") into buf (NUL-terminated, cut at len - 1
 * bytes).  0; -ENOEXEC when the file is not a bzImage with a version
 * (boot protocol 2.00 or later); -errno when it cannot be read.
 */
int kernelhdr_version(const char *path, char *buf, size_t len);

/*
 * Parses the leading "MAJOR.MINOR" of a version string.  0, or -EINVAL.
 */
int kernelhdr_major_minor(const char *version, int *major_r, int *minor_r);

#endif
