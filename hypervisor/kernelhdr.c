/*
 * kernelhdr.c - the version in an x86 kernel's boot header (see
 * kernelhdr.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernelhdr.h"

#define HDR_MAGIC_OFF   0x202   /* "HdrS" */
#define HDR_VERSION_OFF 0x206   /* the boot protocol version, LE16 */
#define HDR_KVER_OFF    0x20e   /* kernel_version: LE16, the string's
                                 * offset minus 0x200 */
#define KVER_MAX        256

int kernelhdr_version(const char *path, char *buf, size_t len)
{
    unsigned char hdr[HDR_KVER_OFF + 2];
    char ver[KVER_MAX + 1];
    int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;
    ssize_t n;
    unsigned proto, off;

    if (len)
        buf[0] = 0;
    if (fd < 0)
        return -errno;
    n = pread(fd, hdr, sizeof(hdr), 0);
    if (n != (ssize_t)sizeof(hdr) || memcmp(hdr + HDR_MAGIC_OFF, "HdrS", 4)) {
        r = n < 0 ? -errno : -ENOEXEC;
        goto out;
    }
    proto = (unsigned)hdr[HDR_VERSION_OFF] | (unsigned)hdr[HDR_VERSION_OFF + 1] << 8;
    off = (unsigned)hdr[HDR_KVER_OFF] | (unsigned)hdr[HDR_KVER_OFF + 1] << 8;
    if (proto < 0x200 || !off) {
        r = -ENOEXEC;
        goto out;
    }
    n = pread(fd, ver, KVER_MAX, (off_t)off + 0x200);
    if (n <= 0) {
        r = n < 0 ? -errno : -ENOEXEC;
        goto out;
    }
    ver[n] = 0;
    if (strnlen(ver, (size_t)n) == (size_t)n || !ver[0]) {
        r = -ENOEXEC;   /* no NUL within reach, or empty */
        goto out;
    }
    for (char *p = ver; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '?';
    if (len) {
        strncpy(buf, ver, len - 1);
        buf[len - 1] = 0;
    }
out:
    close(fd);
    return r;
}

int kernelhdr_major_minor(const char *version, int *major_r, int *minor_r)
{
    char *end;
    long major, minor;

    if (!version || *version < '0' || *version > '9')
        return -EINVAL;
    major = strtol(version, &end, 10);
    if (*end != '.' || end[1] < '0' || end[1] > '9')
        return -EINVAL;
    minor = strtol(end + 1, &end, 10);
    if (major > 1000 || minor > 1000)
        return -EINVAL;
    *major_r = (int)major;
    *minor_r = (int)minor;
    return 0;
}
