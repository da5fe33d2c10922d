/*
 * fileio.h - reading a whole, bounded, regular file (configs, settings,
 * apt sources, os-release): the one place that does it.
 */
#ifndef VMKIT_FILEIO_H
#define VMKIT_FILEIO_H

#include <stddef.h>

#include "diag.h"

#define FILE_MISSING_OK 0x1     /* a missing file: -ENOENT, nothing recorded */

/*
 * Reads path, which must be a regular file of at most max bytes, into a
 * new NUL-terminated buffer (*buf_r, caller frees; *len_r bytes without
 * the NUL).  Returns 0, or -errno after recording why in d, naming path
 * ("cannot open", "not a regular file", "larger than N bytes").
 */
int file_read_bounded(const char *path, size_t max, unsigned flags,
                      char **buf_r, size_t *len_r, struct diag *d);

/*
 * Reads what is left of fd, at most max bytes, into a new NUL-terminated
 * buffer (*buf_r, caller frees; *len_r bytes without the NUL); EINTR is
 * retried.  Returns 0, -EFBIG when there is more than max, -ENOMEM or
 * the read's -errno; records nothing (the caller knows what fd is).
 */
int fd_read_bounded(int fd, size_t max, char **buf_r, size_t *len_r);

#endif
