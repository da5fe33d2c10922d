/*
 * clone.c - guest disks from a golden image, and qcow2 shown as raw
 * (see clone.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clone.h"
#include "image.h"
#include "proc.h"

#define COPY_CHUNK      (64 << 20)      /* one copy_file_range: cancel is looked at between */
#define READ_CHUNK      (1 << 20)       /* one read and write, when the kernel cannot copy */
#define KILL_GRACE_MS   2000            /* a daemon stopped because its export failed */
#define POLL_MAX_US     50000           /* the longest sleep while waiting for the daemon */

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Sleeps *us microseconds, doubling it for next time up to POLL_MAX_US:
 * a daemon that is quick is seen quickly, a slow one is not spun on. */
static void poll_sleep(long *us)
{
    struct timespec ts = { 0, *us * 1000 };

    nanosleep(&ts, NULL);
    if (*us < POLL_MAX_US)
        *us *= 2;
}

static bool cancelled(const volatile sig_atomic_t *cancel)
{
    return cancel && *cancel;
}

/* ---- a raw copy ---- */

/* errno values of FICLONE that say "not here" (no reflinks on this file
 * system, or not between these two files) rather than a failure. */
static bool no_reflink(int err)
{
    return err == EOPNOTSUPP || err == ENOTTY || err == EXDEV || err == EINVAL ||
           err == ENOSYS;
}

static int write_at(int fd, const char *buf, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, buf, len, off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO;
        buf += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

/*
 * Copies the data extents of in, up to size, to the same offsets of out;
 * out's holes are never written, so they stay holes.  Records what fails
 * (not a cancel).
 */
static int copy_extents(int in, int out, off_t size, const volatile sig_atomic_t *cancel,
                        const char *src, const char *dst, struct diag *d)
{
    char *buf = NULL;
    bool by_read = false;
    off_t pos = 0;
    int r = 0;

    /* a reflink that failed half way may have left blocks behind */
    if (ftruncate(out, 0) < 0 || ftruncate(out, size) < 0) {
        r = -errno;
        diag_error(d, dst, 0, 0, "cannot make the copy %jd bytes long: %s", (intmax_t)size,
                   strerror(-r));
        return r;
    }
    while (pos < size) {
        off_t data, hole;

        if (cancelled(cancel)) {
            r = -ECANCELED;
            goto out;
        }
        if ((data = lseek(in, pos, SEEK_DATA)) < 0) {
            if (errno == ENXIO)
                break;                  /* only a hole is left */
            r = -errno;
            diag_error(d, src, 0, 0, "cannot find the image's data: %s", strerror(-r));
            goto out;
        }
        if (data >= size)
            break;                      /* the image grew while we copied: not ours */
        if ((hole = lseek(in, data, SEEK_HOLE)) < 0) {
            r = -errno;
            diag_error(d, src, 0, 0, "cannot find the image's data: %s", strerror(-r));
            goto out;
        }
        if (hole > size)
            hole = size;
        while (data < hole) {
            off_t want = hole - data;
            ssize_t n;

            if (cancelled(cancel)) {
                r = -ECANCELED;
                goto out;
            }
            if (!by_read) {
                off_t to = data;

                n = copy_file_range(in, &data, out, &to,
                                    (size_t)(want < COPY_CHUNK ? want : COPY_CHUNK), 0);
                if (n > 0)
                    continue;
                if (n < 0 && errno == EINTR)
                    continue;
                if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP)) {
                    by_read = true;     /* not between these two files: do it by hand */
                    continue;
                }
                r = n < 0 ? -errno : -EIO;
                diag_error(d, dst, 0, 0, "cannot copy %s at offset %jd: %s", src,
                           (intmax_t)data, n < 0 ? strerror(-r) : "it ended early");
                goto out;
            }
            if (!buf && !(buf = malloc(READ_CHUNK))) {
                r = -ENOMEM;
                diag_error(d, dst, 0, 0, "cannot copy %s: out of memory", src);
                goto out;
            }
            n = pread(in, buf, want < READ_CHUNK ? (size_t)want : READ_CHUNK, data);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                r = n < 0 ? -errno : -EIO;
                diag_error(d, src, 0, 0, "cannot read the image at offset %jd: %s",
                           (intmax_t)data, n < 0 ? strerror(-r) : "it ended early");
                goto out;
            }
            if ((r = write_at(out, buf, (size_t)n, data))) {
                diag_error(d, dst, 0, 0, "cannot write the copy at offset %jd: %s",
                           (intmax_t)data, strerror(-r));
                goto out;
            }
            data += n;
        }
        pos = hole;
    }
out:
    free(buf);
    return r;
}

int clone_copy(const char *src, const char *dst, const volatile sig_atomic_t *cancel,
               const char **how_r, struct diag *d)
{
    const char *how = NULL;
    struct stat st;
    int in = -1, out = -1, r = 0;
    bool created = false;

    if (how_r)
        *how_r = NULL;
    if ((in = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0 || fstat(in, &st) < 0) {
        r = -errno;
        diag_error(d, src, 0, 0, "cannot copy the image: %s", strerror(-r));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        diag_error(d, src, 0, 0, "cannot copy the image: not a regular file");
        r = -EINVAL;
        goto out;
    }
    if (cancelled(cancel)) {
        r = -ECANCELED;
        goto out;
    }
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    if (out < 0) {
        r = -errno;
        diag_error(d, dst, 0, 0, "cannot make the copy of %s: %s", src,
                   r == -EEXIST ? "it exists" : strerror(-r));
        goto out;
    }
    created = true;

    if (ioctl(out, FICLONE, in) == 0) {
        how = "reflink";
    } else if (!no_reflink(errno)) {
        r = -errno;
        diag_error(d, dst, 0, 0, "cannot reflink %s: %s", src, strerror(-r));
        goto out;
    } else {
        if ((r = copy_extents(in, out, st.st_size, cancel, src, dst, d)))
            goto out;
        how = "sparse copy";
    }
    /* write errors (EIO, and ENOSPC where blocks are allocated late) may
     * only be told here: a copy is not done before it is on disk */
    if (fsync(out) < 0) {
        r = -errno;
        diag_error(d, dst, 0, 0, "cannot write the copy: %s", strerror(-r));
        goto out;
    }
    if (how_r)
        *how_r = how;

out:
    if (out >= 0 && close(out) < 0 && !r) {
        r = -errno;
        diag_error(d, dst, 0, 0, "cannot write the copy: %s", strerror(-r));
    }
    if (in >= 0)
        close(in);
    if (r && created)
        unlink(dst);
    if (r && how_r)
        *how_r = NULL;
    return r;
}

/* ---- a qcow2 overlay ---- */

int clone_overlay(const char *backing, const char *backing_format, const char *dst,
                  int log_fd, struct diag *d)
{
    char *dst_arg = NULL;
    struct stat st;
    int fd, r = 0;
    bool created = false;

    if (!backing || backing[0] != '/') {
        /* QEMU would look for it beside the overlay, wherever that is used */
        diag_error(d, dst, 0, 0, "cannot make the overlay: the backing file `%s' is not an "
                   "absolute path", backing ? backing : "(null)");
        return -EINVAL;
    }
    if (!backing_format || !*backing_format ||
        strspn(backing_format, "abcdefghijklmnopqrstuvwxyz0123456789") !=
        strlen(backing_format)) {
        diag_error(d, dst, 0, 0, "cannot make the overlay: `%s' is not a format name "
                   "(raw, qcow2, ...)", backing_format ? backing_format : "(null)");
        return -EINVAL;
    }
    if (stat(backing, &st) < 0) {
        r = -errno;
        diag_error(d, backing, 0, 0, "cannot be the backing file of %s: %s", dst,
                   strerror(-r));
        return r;
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        diag_error(d, backing, 0, 0, "cannot be the backing file of %s: neither a file nor "
                   "a block device", dst);
        return -EINVAL;
    }
    /* claimed first: qemu-img create writes over an existing file */
    fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
        r = -errno;
        diag_error(d, dst, 0, 0, "cannot make the overlay: %s",
                   r == -EEXIST ? "it exists" : strerror(-r));
        return r;
    }
    close(fd);
    created = true;
    /* QEMU takes a relative "a:b" for protocol a's image b */
    if (dst[0] != '/' && dst[strcspn(dst, ":/")] == ':') {
        if (asprintf(&dst_arg, "./%s", dst) < 0) {
            dst_arg = NULL;
            r = -ENOMEM;
            diag_error(d, dst, 0, 0, "cannot make the overlay: out of memory");
            goto out;
        }
    }
    {
        char *argv[] = { (char *)"qemu-img", (char *)"create", (char *)"-q", (char *)"-f",
                         (char *)"qcow2", (char *)"-F", (char *)backing_format, (char *)"-b",
                         (char *)backing, dst_arg ? dst_arg : (char *)dst, NULL };

        r = image_run(argv, "qemu-utils", dst, "make the qcow2 overlay", log_fd, d);
    }

out:
    if (r && created)
        unlink(dst);
    free(dst_arg);
    return r;
}

/* ---- the raw view of a qcow2 image ---- */

/* s with each comma doubled, as QEMU's KEY=VALUE,... options escape
 * one: a new string, NULL when out of memory. */
static char *qemu_opt_value(const char *s)
{
    size_t n = strlen(s), commas = 0;
    char *out, *o;

    for (const char *c = s; *c; c++)
        commas += *c == ',';
    if (!(out = o = malloc(n + commas + 1)))
        return NULL;
    for (const char *c = s; *c; c++) {
        *o++ = *c;
        if (*c == ',')
            *o++ = ',';
    }
    *o = '\0';
    return out;
}

/*
 * SIGTERM to the daemon pid, up to grace_ms for it to exit, then SIGKILL;
 * reaped, its wait status in *status_r.  Then whatever is still mounted
 * at path is detached: a daemon killed (or crashed) leaves its FUSE mount
 * behind, failing every access with ENOTCONN.  0, -ETIMEDOUT (it had to
 * be killed) or -errno (waitpid's: not our child any more).
 */
static int stop_daemon(pid_t pid, const char *path, int grace_ms, int *status_r)
{
    long long deadline = now_ms() + grace_ms;
    long sleep_us = 1000;
    bool sent = false;
    int r = 0;

    *status_r = 0;
    for (;;) {
        pid_t w = waitpid(pid, status_r, WNOHANG);

        if (w == pid)
            break;
        /* signalled only once known to be still our child: a pid reaped
         * elsewhere may be another process's by now */
        if (w == 0 && !sent) {
            kill(pid, SIGTERM);
            sent = true;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            r = -errno;
            break;
        }
        if (now_ms() >= deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, status_r, 0) < 0 && errno == EINTR)
                ;
            r = -ETIMEDOUT;
            break;
        }
        poll_sleep(&sleep_us);
    }
    /* EINVAL: nothing mounted there, the daemon unmounted it */
    umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW);
    return r;
}

int clone_export(const char *image, const char *path, int log_fd, struct clone_export *e,
                 struct diag *d)
{
    char *setpriv = NULL, *qsd = NULL, *image_v = NULL, *path_v = NULL, *file_opt = NULL;
    char *export_opt = NULL, *path_copy = NULL, why[96];
    struct proc_opts po;
    struct stat st, made;
    long long deadline;
    long sleep_us = 1000;
    pid_t pid = 0;
    int fd, status, r = 0;
    bool created = false;

    memset(e, 0, sizeof(*e));
    if (!image || !*image || !path || !*path) {
        diag_error(d, image && *image ? image : path, 0, 0, "cannot export the image: %s",
                   image && *image ? "no mount point" : "no image");
        return -EINVAL;
    }
    if (stat(image, &st) < 0) {
        r = -errno;
        diag_error(d, image, 0, 0, "cannot export the image: %s", strerror(-r));
        return r;
    }
    if (!S_ISREG(st.st_mode)) {
        diag_error(d, image, 0, 0, "cannot export the image: not a regular file");
        return -EINVAL;
    }
    /* found here, so that "not installed" is told as such, not as a
     * daemon that failed; setpriv then runs the daemon by its path */
    if (!(setpriv = proc_find_program("setpriv"))) {
        diag_error(d, image, 0, 0, "cannot export the image: setpriv is not installed "
                   "(Debian package util-linux)");
        r = -ENOENT;
        goto out;
    }
    if (!(qsd = proc_find_program("qemu-storage-daemon"))) {
        diag_error(d, image, 0, 0, "cannot export the image: qemu-storage-daemon is not "
                   "installed (Debian package qemu-system-common)");
        r = -ENOENT;
        goto out;
    }
    if (!(image_v = qemu_opt_value(image)) || !(path_v = qemu_opt_value(path)) ||
        asprintf(&file_opt, "driver=file,filename=%s,node-name=file0", image_v) < 0 ||
        asprintf(&export_opt, "type=fuse,id=export0,node-name=disk0,mountpoint=%s,"
                 "writable=on", path_v) < 0 ||
        !(path_copy = strdup(path))) {
        diag_error(d, image, 0, 0, "cannot export the image: out of memory");
        r = -ENOMEM;
        goto out;
    }

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
        r = -errno;
        diag_error(d, path, 0, 0, "cannot make the mount point for %s: %s", image,
                   r == -EEXIST ? "it exists" : strerror(-r));
        goto out;
    }
    created = true;
    if (fstat(fd, &made) < 0) {
        r = -errno;
        diag_error(d, path, 0, 0, "cannot make the mount point for %s: %s", image,
                   strerror(-r));
        close(fd);
        goto out;
    }
    close(fd);

    proc_opts_init(&po);
    po.stdin_fd = PROC_NULL;
    po.stdout_fd = log_fd >= 0 ? log_fd : PROC_NULL;
    po.stderr_fd = po.stdout_fd;
    po.new_session = true;      /* a Ctrl-C is for vm-provision, which stops us */
    {
        char *argv[] = { (char *)"setpriv", (char *)"--pdeathsig", (char *)"TERM",
                         (char *)"--", qsd, (char *)"--blockdev", file_opt,
                         (char *)"--blockdev",
                         (char *)"driver=qcow2,file=file0,node-name=disk0",
                         (char *)"--export", export_opt, NULL };

        image_log_command(log_fd, argv);
        if ((r = proc_start(setpriv, argv, &po, &pid))) {
            pid = 0;
            diag_error(d, image, 0, 0, "cannot export the image: cannot start %s: %s",
                       setpriv, strerror(-r));
            goto out;
        }
    }

    /* ready when path is another file than the one made: the FUSE mount */
    deadline = now_ms() + CLONE_READY_TIMEOUT_S * 1000LL;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);

        if (w == pid) {
            pid = 0;
            diag_error(d, image, 0, 0, "cannot export the image at %s: qemu-storage-daemon "
                       "%s before the export was ready%s", path,
                       proc_status_text(status, why, sizeof(why)),
                       log_fd >= 0 ? " (what it said is in the log)" : "");
            r = -EIO;
            goto out;
        }
        if (w < 0 && errno != EINTR) {
            r = -errno;
            diag_error(d, image, 0, 0, "cannot export the image: cannot watch "
                       "qemu-storage-daemon: %s", strerror(-r));
            goto out;
        }
        if (stat(path, &st) == 0 && (st.st_dev != made.st_dev || st.st_ino != made.st_ino))
            break;
        if (proc_cancelled()) {
            r = -ECANCELED;
            goto out;
        }
        if (now_ms() >= deadline) {
            diag_error(d, image, 0, 0, "cannot export the image: the export did not appear "
                       "at %s in %d seconds", path, CLONE_READY_TIMEOUT_S);
            r = -ETIMEDOUT;
            goto out;
        }
        poll_sleep(&sleep_us);
    }
    e->pid = pid;
    e->path = path_copy;
    pid = 0;
    path_copy = NULL;
    created = false;

out:
    if (pid > 0)
        stop_daemon(pid, path, KILL_GRACE_MS, &status);
    else if (created)
        umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW);    /* an exited daemon's leftover */
    if (created)
        unlink(path);
    free(setpriv);
    free(qsd);
    free(image_v);
    free(path_v);
    free(file_opt);
    free(export_opt);
    free(path_copy);
    return r;
}

int clone_unexport(struct clone_export *e, struct diag *d)
{
    char why[96];
    int fd, status, r = 0, k;

    if (!e->pid)
        goto out;
    /* a flush that fails is told here, with its errno; the daemon's own
     * flush on SIGTERM would not change its exit status */
    if ((fd = open(e->path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) >= 0) {
        if (fsync(fd) < 0) {
            r = -errno;
            diag_error(d, e->path, 0, 0, "cannot flush the image through the export: %s",
                       strerror(-r));
        }
        close(fd);
    }
    /* an export that cannot be opened (ENOTCONN: the daemon is gone) is
     * told by how the daemon ended */
    k = stop_daemon(e->pid, e->path, CLONE_STOP_TIMEOUT_S * 1000, &status);
    if (k == -ETIMEDOUT) {
        diag_error(d, e->path, 0, 0, "qemu-storage-daemon (pid %d) did not stop in %d "
                   "seconds: killed and the export detached; the image may lack writes",
                   (int)e->pid, CLONE_STOP_TIMEOUT_S);
    } else if (k) {
        diag_error(d, e->path, 0, 0, "cannot tell how qemu-storage-daemon (pid %d) ended: "
                   "%s", (int)e->pid, strerror(-k));
    } else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) &&
               !(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM)) {
        k = -EIO;
        diag_error(d, e->path, 0, 0, "qemu-storage-daemon %s (its output is in the log, if"
                   " one was given); the image may lack writes",
                   proc_status_text(status, why, sizeof(why)));
    }
    if (k && !r)
        r = k;
    if (unlink(e->path) < 0 && errno != ENOENT) {
        k = -errno;
        diag_error(d, e->path, 0, 0, "cannot remove the export's mount point: %s",
                   strerror(-k));
        if (!r)
            r = k;
    }

out:
    free(e->path);
    memset(e, 0, sizeof(*e));
    return r;
}
