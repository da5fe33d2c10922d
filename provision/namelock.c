/*
 * namelock.c - a guest name's lock (see namelock.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "namelock.h"

int namelock_take(const char *path, const char *what, struct diag *d)
{
    for (int tries = 0; tries <= 100; tries++) {
        struct stat a, b;
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600), r;

        if (fd < 0) {
            r = -errno;
            diag_error(d, NULL, 0, 0, "cannot open %s: %s", path, strerror(-r));
            return r;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            r = -errno;
            close(fd);
            if (r == -EWOULDBLOCK) {
                diag_error(d, NULL, 0, 0, "another vm-provision is %s now (%s is locked);"
                           " nothing was changed", what, path);
                return -EBUSY;
            }
            diag_error(d, NULL, 0, 0, "cannot lock %s: %s", path, strerror(-r));
            return r;
        }
        if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
            a.st_dev == b.st_dev)
            return fd;
        close(fd);
    }
    diag_error(d, NULL, 0, 0, "cannot lock %s: it keeps changing", path);
    return -EBUSY;
}

void namelock_drop(int fd, const char *path)
{
    if (fd < 0)
        return;
    unlink(path);
    close(fd);
}
