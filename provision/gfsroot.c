/*
 * gfsroot.c - guest roots in images edited by a libguestfs appliance
 * (see gfsroot.h).
 *
 * Two parts: the operations of struct identity_root_ops over a launched
 * handle, with the disk to personalise mounted on the appliance's /; the
 * session (start, apply per disk, shut down).
 *
 * Which libguestfs calls, and why those: the daemon runs most file calls
 * chroot(2)ed into the guest's file system (lstatns, statns, pread,
 * write, chmod, lchown, rename, rm_f, mkdir_mode, readlink, ls0,
 * realpath), so the appliance's kernel resolves their paths inside the
 * guest, as identity.h asks.  Some calls run a program on
 * "/sysroot" + path outside the chroot instead, where an absolute
 * symlink in the guest would lead into the appliance's own tree: mv
 * (replaced by rename) and ln -s (given a directory that realpath has
 * resolved inside the chroot, so nothing on the way is a symlink).
 * read_file is not used: it copies the file through a temporary file on
 * the host; pread answers in the reply.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <guestfs.h>

#include "gfsroot.h"

#define CHUNK           (1u << 20)  /* per pread or write: well inside
                                     * the protocol's 4 MiB message */
#define NAME_MAX_LEN    255         /* a file name, as ext2/3/4 allow */
#define DEFAULT_MEMSIZE 512         /* MiB: libguestfs's own default
                                     * (1280) starts no faster */

struct gfs_session {
    guestfs_h *g;
    size_t n;
    char **images;          /* owned */
    char **devices;         /* guestfs_list_devices, owned */
    /* the last operation's libguestfs failure: its message and what the
     * operation returned (0: the last one did not fail in libguestfs) */
    char msg[512];
    int err;
};

/* ---- errors ---- */

/* libguestfs's last message, its first line (diagnostics are one line
 * each: the rest is advice on LIBGUESTFS_DEBUG), into out. */
static const char *msg_of(guestfs_h *g, char *out, size_t size)
{
    const char *m = guestfs_last_error(g);
    size_t n;

    if (!m || !*m)
        m = "unknown error";
    n = strcspn(m, "\n");
    if (n > 1 && m[n - 1] == '.')
        n--;            /* "guestfs_launch failed." */
    snprintf(out, size, "%.*s", (int)n, m);
    return out;
}

/* Records the failing call's message and errno in s: -errno, -EIO when
 * the daemon gave none. */
static int fail(struct gfs_session *s)
{
    int e = guestfs_last_errno(s->g);

    msg_of(s->g, s->msg, sizeof(s->msg));
    s->err = -(e > 0 ? e : EIO);
    return s->err;
}

/* Before each operation: nothing failed yet. */
static void clear(struct gfs_session *s)
{
    s->msg[0] = '\0';
    s->err = 0;
}

/* ---- paths ---- */

/* The directory part of a checked path ("/" for "/etc"). */
static void parent_of(const char *path, char parent[PATH_MAX])
{
    const char *slash = strrchr(path, '/');

    if (slash == path) {
        strcpy(parent, "/");
    } else {
        memcpy(parent, path, (size_t)(slash - path));
        parent[slash - path] = '\0';
    }
}

/* A free temporary name in the directory dir ("/" included), as the
 * directory backend makes them: ".vmkit-" and 16 hex digits.  0, or
 * -errno (the directory's own: -ENOENT, -ENOTDIR, ...). */
static int temp_path(struct gfs_session *s, const char *dir, char out[PATH_MAX])
{
    for (int tries = 0; tries < 8; tries++) {
        struct guestfs_statns *st;
        unsigned char rnd[8];
        int e;

        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
            return -EIO;
        if (snprintf(out, PATH_MAX, "%s/.vmkit-%02x%02x%02x%02x%02x%02x%02x%02x",
                     strcmp(dir, "/") ? dir : "", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
                     rnd[5], rnd[6], rnd[7]) >= PATH_MAX)
            return -ENAMETOOLONG;
        if ((st = guestfs_lstatns(s->g, out))) {
            guestfs_free_statns(st);
            continue;           /* taken: another name */
        }
        e = guestfs_last_errno(s->g);
        if (e == ENOENT) {
            /* free, or the directory is missing: the write says which */
            return 0;
        }
        return fail(s);
    }
    return -EEXIST;
}

/* identity.h's path rules, with ext2/3/4's longest name. */
static int check_guest_path(const char *path)
{
    return identity_path_check(path, NAME_MAX_LEN);
}

/* ---- the operations ---- */

static int g_read(void *ctx, const char *path, size_t max, char **buf_r, size_t *len_r)
{
    struct gfs_session *s = ctx;
    struct guestfs_statns *st;
    char *buf = NULL;
    size_t size, done = 0;
    int r;

    clear(s);
    *buf_r = NULL;
    *len_r = 0;
    if ((r = check_guest_path(path)))
        return r;
    /* look before reading: a symlink or a device is never opened */
    if (!(st = guestfs_lstatns(s->g, path)))
        return fail(s);
    r = S_ISLNK(st->st_mode) ? -ELOOP : !S_ISREG(st->st_mode) ? -EINVAL
        : st->st_size < 0 || (uint64_t)st->st_size > max ? -EFBIG : 0;
    size = (size_t)st->st_size;
    guestfs_free_statns(st);
    if (r)
        return r;
    if (!(buf = malloc(size + 1)))
        return -ENOMEM;
    while (done < size) {
        size_t want = size - done > CHUNK ? CHUNK : size - done, got = 0;
        char *part = guestfs_pread(s->g, path, (int)want, (int64_t)done, &got);

        if (!part) {
            free(buf);
            return fail(s);
        }
        if (got > want)
            got = want;
        memcpy(buf + done, part, got);
        free(part);
        if (!got)
            break;
        done += got;
    }
    if (done != size) {
        /* shorter than lstat said: nothing else writes the guest now */
        free(buf);
        return -EIO;
    }
    buf[size] = '\0';
    *buf_r = buf;
    *len_r = size;
    return 0;
}

static int g_write(void *ctx, const char *path, const void *buf, size_t len, mode_t mode,
                   uid_t uid, gid_t gid)
{
    struct gfs_session *s = ctx;
    char dir[PATH_MAX], tmp[PATH_MAX];
    const char *p = buf;
    bool made = false;
    int r;

    clear(s);
    if ((r = check_guest_path(path)))
        return r;
    parent_of(path, dir);
    if ((r = temp_path(s, dir, tmp)))
        return r;
    /* the first chunk makes the file (0600: the session's umask is 077),
     * the others are appended */
    if (guestfs_write(s->g, tmp, len ? p : "", len > CHUNK ? CHUNK : len) < 0) {
        r = fail(s);
        goto out;
    }
    made = true;
    for (size_t done = CHUNK; done < len; done += CHUNK) {
        size_t n = len - done > CHUNK ? CHUNK : len - done;

        if (guestfs_write_append(s->g, tmp, p + done, n) < 0) {
            r = fail(s);
            goto out;
        }
    }
    /* owner first: chown clears the set-id bits */
    if (guestfs_lchown(s->g, (int)uid, (int)gid, tmp) < 0 ||
        guestfs_chmod(s->g, (int)(mode & 07777), tmp) < 0 ||
        guestfs_rename(s->g, tmp, path) < 0) {
        r = fail(s);
        goto out;
    }
    made = false;
out:
    if (made)
        guestfs_rm_f(s->g, tmp);
    return r;
}

static int g_symlink(void *ctx, const char *target, const char *path)
{
    struct gfs_session *s = ctx;
    char dir[PATH_MAX], tmp[PATH_MAX], *real = NULL;
    int r;

    clear(s);
    if ((r = check_guest_path(path)))
        return r;
    if (!*target)
        return -ENOENT;
    if (strlen(target) >= PATH_MAX)
        return -ENAMETOOLONG;
    /* ln runs outside the chroot, on /sysroot + its path: give it a
     * directory with no symlink on the way */
    parent_of(path, dir);
    if (!(real = guestfs_realpath(s->g, dir)))
        return fail(s);
    r = temp_path(s, real, tmp);
    free(real);
    if (r)
        return r;
    if (guestfs_ln_s(s->g, target, tmp) < 0)
        return fail(s);
    if (guestfs_rename(s->g, tmp, path) < 0) {
        r = fail(s);
        guestfs_rm_f(s->g, tmp);
    }
    return r;
}

static int g_remove(void *ctx, const char *path)
{
    struct gfs_session *s = ctx;
    int r;

    clear(s);
    if ((r = check_guest_path(path)))
        return r;
    /* unlink(2) in the guest: absent (or its directory absent) is fine */
    return guestfs_rm_f(s->g, path) < 0 ? fail(s) : 0;
}

static int g_mkdir(void *ctx, const char *path, mode_t mode, uid_t uid, gid_t gid)
{
    struct gfs_session *s = ctx;
    struct guestfs_statns *st;
    int r;

    clear(s);
    if ((r = check_guest_path(path)))
        return r;
    if (guestfs_mkdir_mode(s->g, path, 0700) < 0) {
        if (guestfs_last_errno(s->g) != EEXIST)
            return fail(s);
        /* a directory, or a symlink to one in the root, will do */
        if (!(st = guestfs_statns(s->g, path)))
            return guestfs_last_errno(s->g) == ENOENT ? -ENOTDIR : fail(s);
        r = S_ISDIR(st->st_mode) ? 0 : -ENOTDIR;
        guestfs_free_statns(st);
        return r;
    }
    if (guestfs_lchown(s->g, (int)uid, (int)gid, path) < 0 ||
        guestfs_chmod(s->g, (int)(mode & 07777), path) < 0)
        return fail(s);
    return 0;
}

static int g_stat(void *ctx, const char *path, bool follow, struct identity_stat *st_r)
{
    struct gfs_session *s = ctx;
    struct guestfs_statns *st;
    int r;

    clear(s);
    if ((r = check_guest_path(path)))
        return r;
    if (!(st = follow ? guestfs_statns(s->g, path) : guestfs_lstatns(s->g, path)))
        return fail(s);
    st_r->mode = (mode_t)st->st_mode;
    st_r->uid = (uid_t)st->st_uid;
    st_r->gid = (gid_t)st->st_gid;
    st_r->size = (off_t)st->st_size;
    guestfs_free_statns(st);
    return 0;
}

static int g_readlink(void *ctx, const char *path, size_t max, char **target_r)
{
    struct gfs_session *s = ctx;
    char *t;
    int r;

    clear(s);
    *target_r = NULL;
    if ((r = check_guest_path(path)))
        return r;
    if (!(t = guestfs_readlink(s->g, path)))
        return fail(s);
    if (strlen(t) > max) {
        free(t);
        return -ENAMETOOLONG;
    }
    *target_r = t;
    return 0;
}

static int g_list(void *ctx, const char *path, size_t max, char ***names_r)
{
    struct gfs_session *s = ctx;
    char **v;
    size_t n = 0;
    int r;

    clear(s);
    *names_r = NULL;
    if ((r = check_guest_path(path)))
        return r;
    if (!(v = guestfs_ls(s->g, path)))
        return fail(s);
    while (v[n])
        n++;
    if (n > max) {
        for (size_t i = 0; i < n; i++)
            free(v[i]);
        free(v);
        return -E2BIG;
    }
    *names_r = v;
    return 0;
}

/* The session outlives the root: nothing to release. */
static void g_close(void *ctx)
{
    (void)ctx;
}

static const struct identity_root_ops gfs_ops = {
    .read = g_read,
    .write = g_write,
    .symlink = g_symlink,
    .remove = g_remove,
    .mkdir = g_mkdir,
    .stat = g_stat,
    .readlink = g_readlink,
    .list = g_list,
    .close = g_close,
};

/* ---- the session ---- */

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* What messages about the whole session name: its image when there is
 * one, else nothing (the message lists them). */
static const char *session_file(const struct gfs_session *s)
{
    return s->n == 1 ? s->images[0] : NULL;
}

/* " for A, B and C" into buf (cut short when long), or "" for one
 * image, whose name the message's file already is. */
static const char *for_images(const char *const *images, size_t n, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; n > 1 && i < n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s",
                                !i ? " for " : i + 1 == n ? " and " : ", ", images[i]);
    return buf;
}

/* The tail of the appliance's console while it starts, which QEMU's own
 * messages go to as well ("qemu-system-x86_64: error: failed to set MSR
 * 0x10a to 0x69" from a nested KVM): for a failed start's message. */
struct console {
    char buf[4096];
    size_t len;
};

static void on_console(guestfs_h *g, void *opaque, uint64_t event, int handle, int flags,
                       const char *text, size_t len, const uint64_t *array, size_t array_len)
{
    struct console *c = opaque;
    size_t room = sizeof(c->buf) - 1;

    (void)g, (void)event, (void)handle, (void)flags, (void)array, (void)array_len;
    if (len >= room) {
        text += len - room;
        len = room;
    }
    if (c->len + len > room) {
        size_t drop = c->len + len - room;

        memmove(c->buf, c->buf + drop, c->len - drop);
        c->len -= drop;
    }
    memcpy(c->buf + c->len, text, len);
    c->len += len;
    c->buf[c->len] = '\0';
}

/* QEMU's first message in the console, appended to out as " (QEMU:
 * ...)"; nothing when there is none. */
static void add_qemu_line(const struct console *c, char *out, size_t size)
{
    for (const char *p = c->buf; *p; p += strcspn(p, "\n"), p += *p == '\n') {
        size_t n = strcspn(p, "\r\n"), len = strlen(out);

        if (!strncmp(p, "qemu", 4) && n) {
            snprintf(out + len, size - len, " (QEMU: %.*s)", (int)n, p);
            return;
        }
    }
}

/* A handle with the images attached, launched (tcg: under TCG whatever
 * the host has).  0 with *g_r, or -errno with libguestfs's message in why
 * and *g_r the failed handle (caller closes) or NULL when none could be
 * made.  *attach_r: the image that could not be attached, or -1. */
static int launch(struct gfs_session *s, const char *const *formats, bool tcg, guestfs_h **g_r,
                  long *attach_r, char *why, size_t why_size)
{
    struct console console = { .len = 0 };
    guestfs_h *g;
    int e, ev = -1;

    *attach_r = -1;
    if (!(*g_r = g = guestfs_create())) {
        e = errno ? errno : ENOMEM;
        snprintf(why, why_size, "cannot make a libguestfs handle: %s", strerror(e));
        return -e;
    }
    guestfs_set_error_handler(g, NULL, NULL);
    /* LIBGUESTFS_TRACE would print every call's arguments: host keys */
    guestfs_set_trace(g, 0);
    if (!getenv("LIBGUESTFS_BACKEND") && guestfs_set_backend(g, "direct") < 0)
        goto fail;
    if (!getenv("LIBGUESTFS_MEMSIZE") && guestfs_set_memsize(g, DEFAULT_MEMSIZE) < 0)
        goto fail;
    if (tcg && guestfs_set_backend_setting(g, "force_tcg", "1") < 0)
        goto fail;
    for (size_t i = 0; i < s->n; i++)
        if (guestfs_add_drive_opts(g, s->images[i], GUESTFS_ADD_DRIVE_OPTS_FORMAT, formats[i],
                                   GUESTFS_ADD_DRIVE_OPTS_READONLY, 0, -1) < 0) {
            *attach_r = (long)i;
            goto fail;
        }
    ev = guestfs_set_event_callback(g, on_console, GUESTFS_EVENT_APPLIANCE, 0, &console);
    if (guestfs_launch(g) < 0)
        goto fail;
    guestfs_delete_event_callback(g, ev);
    ev = -1;
    /* new files 0600 and directories 0700 until their modes are set */
    if (guestfs_umask(g, 077) < 0)
        goto fail;
    return 0;
fail:
    if (ev >= 0)
        guestfs_delete_event_callback(g, ev);
    msg_of(g, why, why_size);
    add_qemu_line(&console, why, why_size);
    e = guestfs_last_errno(g);
    return -(e > 0 ? e : EIO);
}

/* Whether g was told to use TCG (LIBGUESTFS_BACKEND_SETTINGS). */
static bool forced_tcg(guestfs_h *g)
{
    char *v = guestfs_get_backend_setting(g, "force_tcg");
    bool set = v != NULL;

    free(v);
    return set;
}

int gfs_session_open(const char *const *images, const char *const *formats, size_t n,
                     struct gfs_session **s_r, struct diag *d)
{
    struct gfs_session *s = NULL;
    guestfs_h *g = NULL;
    char list[1024], why[1024] = "", kvm[1024] = "";
    long bad = -1;
    size_t ndev = 0;
    int r;

    *s_r = NULL;
    if (!n) {
        diag_error(d, NULL, 0, 0, "no image to open in a libguestfs appliance");
        return -EINVAL;
    }
    /* every image looked at before anything starts */
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        int fd;

        if (!formats[i] || (strcmp(formats[i], "raw") && strcmp(formats[i], "qcow2"))) {
            diag_error(d, images[i], 0, 0, "unknown image format \"%s\" (raw or qcow2)",
                       formats[i] ? formats[i] : "(none)");
            return -EINVAL;
        }
        /* opened read-write as QEMU will: a missing or read-only image is
         * told here, not by a failed launch */
        fd = open(images[i], O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) < 0) {
            r = -errno;
            if (fd >= 0)
                close(fd);
            diag_error(d, images[i], 0, 0, "cannot open the image: %s", strerror(-r));
            return r;
        }
        close(fd);
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
            diag_error(d, images[i], 0, 0,
                       "cannot open the image: not a regular file or block device");
            return -EINVAL;
        }
    }
    if (!(s = calloc(1, sizeof(*s))) || !(s->images = calloc(n, sizeof(*s->images))))
        goto nomem;
    s->n = n;
    for (size_t i = 0; i < n; i++)
        if (!(s->images[i] = strdup(images[i])))
            goto nomem;

    r = launch(s, formats, false, &g, &bad, why, sizeof(why));
    if (r && g && bad < 0 && !forced_tcg(g) && access("/dev/kvm", R_OK | W_OK) == 0) {
        /* KVM that is there but does not work (nested: QEMU aborts) fails
         * in well under a second: try once more under TCG */
        snprintf(kvm, sizeof(kvm), "%s", why);
        guestfs_close(g);
        r = launch(s, formats, true, &g, &bad, why, sizeof(why));
        if (!r)
            diag_warn(d, session_file(s), 0, 0, "the libguestfs appliance did not start under"
                      " KVM (%s); started under TCG instead, which is slower", kvm);
    }
    if (r) {
        if (!g)
            diag_error(d, session_file(s), 0, 0, "%s", why);
        else if (bad >= 0)
            diag_error(d, s->images[bad], 0, 0, "cannot attach the image (%s) to the libguestfs"
                       " appliance: %s", formats[bad], why);
        else
            diag_error(d, session_file(s), 0, 0, "cannot start the libguestfs appliance%s: %s%s%s"
                       " (LIBGUESTFS_DEBUG=1 shows its console; libguestfs-test-tool checks"
                       " the host)", for_images(images, n, list, sizeof(list)), why,
                       kvm[0] ? "; under KVM first: " : "", kvm);
        goto fail;
    }
    s->g = g;
    g = NULL;
    if (!(s->devices = guestfs_list_devices(s->g))) {
        r = fail(s);
        diag_error(d, session_file(s), 0, 0, "cannot list the libguestfs appliance's disks: %s",
                   s->msg);
        goto fail;
    }
    while (s->devices[ndev])
        ndev++;
    if (ndev != n) {
        r = -EIO;
        diag_error(d, session_file(s), 0, 0, "the libguestfs appliance shows %zu disks, not %zu",
                   ndev, n);
        goto fail;
    }
    *s_r = s;
    return 0;
nomem:
    r = -ENOMEM;
    diag_error(d, NULL, 0, 0, "cannot start a libguestfs appliance: %s", strerror(ENOMEM));
fail:
    if (g)
        guestfs_close(g);
    if (s) {
        if (s->g)
            guestfs_close(s->g);
        if (s->devices)
            for (size_t i = 0; s->devices[i]; i++)
                free(s->devices[i]);
        free(s->devices);
        free_strings(s->images, s->n);
        free(s);
    }
    return r;
}

int gfs_session_apply(struct gfs_session *s, size_t i, const struct identity *id,
                      struct diag *d)
{
    struct identity_root root = { .ops = &gfs_ops };
    const char *image, *dev;
    char *vfs = NULL;
    int r, rc = 0;

    if (!s || i >= s->n) {
        diag_error(d, NULL, 0, 0, "no disk %zu in the libguestfs appliance (it has %zu)", i,
                   s ? s->n : 0);
        return -EINVAL;
    }
    image = s->images[i];
    dev = s->devices[i];
    clear(s);
    /* what an earlier apply may have left mounted */
    if (guestfs_umount_all(s->g) < 0) {
        r = fail(s);
        diag_error(d, image, 0, 0, "cannot unmount the appliance's file systems: %s", s->msg);
        return r;
    }
    /* as ext4 (whose driver mounts ext2 and ext3 too): asking blkid
     * first would cost as much as the mount, so only when it fails */
    if (guestfs_mount_vfs(s->g, "noatime", "ext4", dev, "/") < 0) {
        r = fail(s);
        vfs = guestfs_vfs_type(s->g, dev);
        if (vfs && (!strcmp(vfs, "ext2") || !strcmp(vfs, "ext3") || !strcmp(vfs, "ext4"))) {
            diag_error(d, image, 0, 0, "cannot mount its %s file system in the appliance: %s",
                       vfs, s->msg);
        } else {
            r = -EINVAL;
            diag_error(d, image, 0, 0, "no ext2/3/4 file system on the whole disk (libguestfs"
                       " finds %s there)", vfs && *vfs ? vfs : "no file system");
        }
        free(vfs);
        return r;
    }
    if (asprintf(&root.name, "%s:", image) < 0) {
        root.name = NULL;
        r = -ENOMEM;
        diag_error(d, image, 0, 0, "cannot personalise the guest: %s", strerror(ENOMEM));
        goto out;
    }
    root.ctx = s;
    clear(s);
    r = identity_apply(id, &root, d);
    /* the failing call's own words, when libguestfs had some */
    if (r && s->err == r && s->msg[0])
        diag_error(d, image, 0, 0, "libguestfs: %s", s->msg);
out:
    free(root.name);
    if (guestfs_umount(s->g, "/") < 0) {
        rc = fail(s);
        diag_error(d, image, 0, 0, "cannot unmount the guest's file system: %s", s->msg);
    }
    if (guestfs_sync(s->g) < 0 && !rc) {
        rc = fail(s);
        diag_error(d, image, 0, 0, "cannot sync the guest's file system: %s", s->msg);
    }
    return r ? r : rc;
}

int gfs_session_close(struct gfs_session *s, struct diag *d)
{
    char list[1024], why[512];
    int r = 0;

    if (!s)
        return 0;
    if (s->g) {
        if (guestfs_shutdown(s->g) < 0) {
            r = -EIO;
            diag_error(d, session_file(s), 0, 0, "the libguestfs appliance%s did not shut down"
                       " cleanly (its images are not to be trusted): %s",
                       for_images((const char *const *)s->images, s->n, list, sizeof(list)),
                       msg_of(s->g, why, sizeof(why)));
        }
        guestfs_close(s->g);
    }
    if (s->devices)
        for (size_t i = 0; s->devices[i]; i++)
            free(s->devices[i]);
    free(s->devices);
    free_strings(s->images, s->n);
    free(s);
    return r;
}

int identity_apply_guestfs(const struct identity *id, const char *image, const char *format,
                           struct diag *d)
{
    struct gfs_session *s = NULL;
    int r, rc;

    if ((r = gfs_session_open(&image, &format, 1, &s, d)))
        return r;
    r = gfs_session_apply(s, 0, id, d);
    rc = gfs_session_close(s, d);
    return r ? r : rc;
}
