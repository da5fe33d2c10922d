/*
 * fileio.c - reading a whole, bounded, regular file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"

int file_read_bounded(const char *path, size_t max, unsigned flags,
                      char **buf_r, size_t *len_r, struct diag *d)
{
    char *buf = NULL;
    size_t len = 0;
    struct stat st;
    int fd, r;

    *buf_r = NULL;
    *len_r = 0;
    /* O_NONBLOCK: a FIFO put where a file belongs must not hang us */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        r = -errno;
        if (!(r == -ENOENT && (flags & FILE_MISSING_OK)))
            diag_error(d, path, 0, 0, "cannot open: %s", strerror(-r));
        return r;
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
        diag_error(d, path, 0, 0, "cannot read: %s", strerror(-r));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        r = -EINVAL;
        diag_error(d, path, 0, 0, "not a regular file");
        goto out;
    }
    if (!(buf = malloc(max + 1))) {
        r = -ENOMEM;
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf + len, max + 1 - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            diag_error(d, path, 0, 0, "cannot read: %s", strerror(-r));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max) {
            r = -EFBIG;
            diag_error(d, path, 0, 0, "larger than %zu bytes", max);
            goto out;
        }
    }
    buf[len] = 0;
    *buf_r = buf;
    *len_r = len;
    buf = NULL;
    r = 0;
out:
    free(buf);
    close(fd);
    return r;
}
