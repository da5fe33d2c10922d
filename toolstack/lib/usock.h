/*
 * usock.h - unix stream sockets by path, the way every vmkit socket is
 * reached (QEMU's monitors and console, the supervisor's control and
 * console relay), and a write that finishes.
 */
#ifndef VMKIT_USOCK_H
#define VMKIT_USOCK_H

#include <stddef.h>

/* Connects to the socket at path.  Returns the fd (close-on-exec) or
 * -errno (-ENAMETOOLONG when path does not fit sun_path). */
int usock_connect(const char *path);

/* Binds a socket at path (an old one there is removed first), mode 0600,
 * and listens.  Returns the fd (close-on-exec) or -errno. */
int usock_listen(const char *path);

/* Writes all of buf, retrying after EINTR and short writes.  0 or
 * -errno. */
int usock_write_all(int fd, const void *buf, size_t len);

#endif
