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

int fd_read_bounded(int fd, size_t max, char **buf_r, size_t *len_r)
{
    char *buf = malloc(max + 1);
    size_t len = 0;

    if (!buf)
        return -ENOMEM;
    for (;;) {
        ssize_t n = read(fd, buf + len, max + 1 - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int r = -errno;

            free(buf);
            return r;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max) {
            free(buf);
            return -EFBIG;
        }
    }
    buf[len] = '\0';
    *buf_r = buf;
    *len_r = len;
    return 0;
}

int file_read_bounded(const char *path, size_t max, unsigned flags,
                      char **buf_r, size_t *len_r, struct diag *d)
{
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
    r = fd_read_bounded(fd, max, buf_r, len_r);
    if (r == -EFBIG)
        diag_error(d, path, 0, 0, "larger than %zu bytes", max);
    else if (r && r != -ENOMEM)
        diag_error(d, path, 0, 0, "cannot read: %s", strerror(-r));
out:
    close(fd);
    return r;
}
