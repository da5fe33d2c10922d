/*
 * bootldr_priv.h - bootldr's reader without the child process, for the
 * fuzz target (which must see the crashes in-process).  Never call it
 * on a guest's image outside a sandbox: bootldr_run does that.
 */
#ifndef VMKIT_BOOTLDR_PRIV_H
#define VMKIT_BOOTLDR_PRIV_H

#include "bootldr.h"

/*
 * Reads the image open on disk_fd and, where kernel_fd/initrd_fd are
 * >= 0, copies the kernel and the initrds there.  res gets everything
 * but the host file names.  0, or -1 with the reason in why.
 */
int bootldr_read(int disk_fd, const struct bootldr_params *p, int kernel_fd, int initrd_fd,
                 struct bootldr_result *res, char *why, size_t whylen);

#endif
