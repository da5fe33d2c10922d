/*
 * preflight.c - checks before QEMU runs (see preflight.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "preflight.h"

int preflight_detect_format(const char *path, enum disk_format *format_r)
{
    unsigned char head[512], tail[512];
    struct stat st;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0)
        return -errno;
    n = pread(fd, head, sizeof(head), 0);
    if (n < 0) {
        int e = errno;

        close(fd);
        return -e;
    }
    *format_r = DISK_FORMAT_RAW;
    if (n >= 4 && !memcmp(head, "QFI\xfb", 4)) {
        /* version 1 is qcow, 2 and 3 are qcow2 */
        *format_r = n >= 8 && head[7] == 1 ? DISK_FORMAT_QCOW : DISK_FORMAT_QCOW2;
    } else if (n >= 4 && !memcmp(head, "QED\0", 4)) {
        *format_r = DISK_FORMAT_QED;
    } else if (n >= 8 && !memcmp(head, "conectix", 8)) {
        *format_r = DISK_FORMAT_VHD;    /* dynamic: a copy of the footer first */
    } else if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 512 &&
               pread(fd, tail, sizeof(tail), st.st_size - 512) == 512 &&
               !memcmp(tail, "conectix", 8)) {
        *format_r = DISK_FORMAT_VHD;    /* fixed: only the footer */
    }
    close(fd);
    return 0;
}

static void check_file(const char *what, const char *path, const char *file,
                       struct diag *d)
{
    struct stat st;

    if (stat(path, &st) < 0)
        diag_error(d, file, 0, 0, "%s %s: %s", what, path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        diag_error(d, file, 0, 0, "%s %s is not a regular file", what, path);
    else if (access(path, R_OK) < 0)
        diag_error(d, file, 0, 0, "%s %s cannot be read: %s", what, path,
                   strerror(errno));
}

static void check_disk(const struct disk_spec *disk, const char *file, struct diag *d)
{
    const char *vdev = disk->vdev ? disk->vdev : "?";
    enum disk_format found;
    struct stat st;
    int r;

    if (disk->cdrom && (!disk->target || !*disk->target))
        return;                         /* an empty drive */
    if (!disk->target || !*disk->target) {
        diag_error(d, file, 0, 0, "disk %s has no target", vdev);
        return;
    }
    if (stat(disk->target, &st) < 0) {
        diag_error(d, file, 0, 0, "disk %s: %s: %s", vdev, disk->target, strerror(errno));
        return;
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        diag_error(d, file, 0, 0, "disk %s: %s is neither a file nor a block device",
                   vdev, disk->target);
        return;
    }
    if (access(disk->target, disk->readwrite && !disk->cdrom ? R_OK | W_OK : R_OK) < 0) {
        diag_error(d, file, 0, 0, "disk %s: %s cannot be %s: %s", vdev, disk->target,
                   disk->readwrite && !disk->cdrom ? "written" : "read", strerror(errno));
        return;
    }
    if ((r = preflight_detect_format(disk->target, &found)) < 0) {
        diag_error(d, file, 0, 0, "disk %s: cannot read %s: %s", vdev, disk->target,
                   strerror(-r));
        return;
    }
    if (disk->format == DISK_FORMAT_EMPTY || disk->format == DISK_FORMAT_UNKNOWN)
        return;
    if (found != disk->format) {
        if (found == DISK_FORMAT_RAW)
            diag_error(d, file, 0, 0, "disk %s: %s does not hold a %s image (format=%s"
                       " in the config; its header says raw)", vdev, disk->target,
                       disk_format_name(disk->format), disk_format_name(disk->format));
        else
            diag_error(d, file, 0, 0, "disk %s: %s holds a %s image, but the config says"
                       " format=%s", vdev, disk->target, disk_format_name(found),
                       disk_format_name(disk->format));
    }
}

int preflight_check(const struct domain_desc *dom, const char *config_file,
                    struct diag *d)
{
    size_t before = d->nerrors;

    for (size_t i = 0; i < dom->ndisks; i++)
        check_disk(&dom->disks[i], config_file, d);
    if (dom->kernel)
        check_file("kernel", dom->kernel, config_file, d);
    if (dom->ramdisk)
        check_file("ramdisk", dom->ramdisk, config_file, d);
    return d->nerrors > before ? -EINVAL : 0;
}
