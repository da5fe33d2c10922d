/*
 * identity.c - personalising a guest root (see identity.h).
 *
 * Three parts: the directory backend (openat2 with RESOLVE_IN_ROOT on a
 * descriptor of the root), the computation of the edits (reads through
 * the backend, ssh-keygen on the host), and their application.
 */
#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <dirent.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "fileio.h"
#include "identity.h"
#include "proc.h"

#define SHADOW_MAX      (4 * 1024 * 1024)
#define KEYS_MAX        (1024 * 1024)       /* authorized_keys */
#define HOSTKEY_MAX     (64 * 1024)
#define LINK_MAX_LEN    4096
#define SSH_DIR_MAX     4096                /* names listed in /etc/ssh */
#define KEYGEN_TIMEOUT_MS (120 * 1000)
#define SEED_LEN        512

/* ---- small helpers ---- */

/* n random bytes from getrandom(2).  0 or -errno. */
static int random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;

    while (n) {
        ssize_t k = getrandom(p, n, 0);

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0xf];
    }
    out[2 * n] = '\0';
}

/* A growing string; oom remembered, checked once at the end. */
struct sbuf {
    char *s;
    size_t len, cap;
    int oom;
};

__attribute__((format(printf, 2, 3)))
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->oom)
        return;
    for (;;) {
        size_t room = b->cap - b->len;

        va_start(ap, fmt);
        n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 256;
        char *s;

        while (cap - b->len <= (size_t)n)
            cap *= 2;
        if (!(s = realloc(b->s, cap))) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

static void sb_add(struct sbuf *b, const char *p, size_t n)
{
    if (b->oom)
        return;
    if (b->cap - b->len <= n) {
        size_t cap = b->cap ? b->cap : 256;
        char *s;

        while (cap - b->len <= n)
            cap *= 2;
        if (!(s = realloc(b->s, cap))) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void free_names(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* ---- the directory backend ---- */

struct dirroot {
    int rootfd;
};

int identity_path_check(const char *path, size_t name_max)
{
    const char *p = path;

    if (path[0] != '/' || !path[1] || strlen(path) >= PATH_MAX)
        return -EINVAL;
    while (*p == '/') {
        const char *c = ++p;
        size_t n = strcspn(c, "/");

        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return -EINVAL;
        if (n > name_max)
            return -ENAMETOOLONG;
        p = c + n;
    }
    return 0;
}

/* openat2 below the root, resolved as the guest would resolve it. */
static int open_in_root(const struct dirroot *r, const char *path, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };

    for (int tries = 0;; tries++) {
        long fd = syscall(SYS_openat2, r->rootfd, path, &how, sizeof(how));

        if (fd >= 0)
            return (int)fd;
        /* EAGAIN: a rename raced with the resolution; try again */
        if ((errno == EINTR || errno == EAGAIN) && tries < 16)
            continue;
        return -errno;
    }
}

/* Opens path's directory (O_PATH) in the root; *base_r points at the last
 * component, in path. */
static int open_parent(const struct dirroot *r, const char *path, const char **base_r)
{
    char parent[PATH_MAX];
    const char *slash;
    int fd;

    if ((fd = identity_path_check(path, NAME_MAX)))
        return fd;
    slash = strrchr(path, '/');
    if (slash == path) {
        strcpy(parent, "/");
    } else {
        memcpy(parent, path, (size_t)(slash - path));
        parent[slash - path] = '\0';
    }
    *base_r = slash + 1;
    return open_in_root(r, parent, O_PATH | O_DIRECTORY);
}

/* A name for a temporary entry in a directory: ".vmkit-" and 16 hex. */
static int temp_name(char out[32])
{
    unsigned char rnd[8];
    char hex[17];
    int r;

    if ((r = random_bytes(rnd, sizeof(rnd))))
        return r;
    hex_encode(rnd, sizeof(rnd), hex);
    snprintf(out, 32, ".vmkit-%s", hex);
    return 0;
}

static int dir_read(void *ctx, const char *path, size_t max, char **buf_r, size_t *len_r)
{
    const char *base;
    struct stat st, st2;
    int pfd, fd = -1, r;

    *buf_r = NULL;
    *len_r = 0;
    if ((pfd = open_parent(ctx, path, &base)) < 0)
        return pfd;
    /* look before opening: a device node is never opened */
    if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        r = -errno;
        goto out;
    }
    if (S_ISLNK(st.st_mode)) {
        r = -ELOOP;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        r = -EINVAL;
        goto out;
    }
    fd = openat(pfd, base, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    if (fstat(fd, &st2) < 0) {
        r = -errno;
        goto out;
    }
    if (!S_ISREG(st2.st_mode) || st2.st_ino != st.st_ino || st2.st_dev != st.st_dev) {
        r = -EINVAL;
        goto out;
    }
    r = fd_read_bounded(fd, max, buf_r, len_r);
out:
    if (fd >= 0)
        close(fd);
    close(pfd);
    return r;
}

static int dir_write(void *ctx, const char *path, const void *buf, size_t len, mode_t mode,
                     uid_t uid, gid_t gid)
{
    const char *base, *p = buf;
    char tmp[32];
    struct stat st;
    int pfd, fd = -1, r, made = 0;

    if ((pfd = open_parent(ctx, path, &base)) < 0)
        return pfd;
    for (int tries = 0; fd < 0; tries++) {
        if ((r = temp_name(tmp)))
            goto out;
        fd = openat(pfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
                    0600);
        if (fd < 0 && (errno != EEXIST || tries >= 8)) {
            r = -errno;
            goto out;
        }
    }
    made = 1;
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0) {
        r = -errno;
        goto out;
    }
    if (fchmod(fd, mode & 07777) < 0) {
        r = -errno;
        goto out;
    }
    while (len) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            goto out;
        }
        p += n;
        len -= (size_t)n;
    }
    r = close(fd) < 0 ? -errno : 0;
    fd = -1;
    if (r)
        goto out;
    if (renameat(pfd, tmp, pfd, base) < 0) {
        r = -errno;
        goto out;
    }
    made = 0;
out:
    if (fd >= 0)
        close(fd);
    if (made)
        unlinkat(pfd, tmp, 0);
    close(pfd);
    return r;
}

static int dir_symlink(void *ctx, const char *target, const char *path)
{
    const char *base;
    char tmp[32];
    int pfd, r;

    if ((pfd = open_parent(ctx, path, &base)) < 0)
        return pfd;
    for (int tries = 0;; tries++) {
        if ((r = temp_name(tmp)))
            goto out;
        if (symlinkat(target, pfd, tmp) == 0)
            break;
        if (errno != EEXIST || tries >= 8) {
            r = -errno;
            goto out;
        }
    }
    r = 0;
    if (renameat(pfd, tmp, pfd, base) < 0) {
        r = -errno;
        unlinkat(pfd, tmp, 0);
    }
out:
    close(pfd);
    return r;
}

static int dir_remove(void *ctx, const char *path)
{
    const char *base;
    int pfd, r = 0;

    if ((pfd = open_parent(ctx, path, &base)) < 0)
        return pfd == -ENOENT ? 0 : pfd;
    if (unlinkat(pfd, base, 0) < 0 && errno != ENOENT)
        r = -errno;
    close(pfd);
    return r;
}

static int dir_mkdir(void *ctx, const char *path, mode_t mode, uid_t uid, gid_t gid)
{
    const char *base;
    struct stat st;
    int pfd, fd = -1, r;

    if ((pfd = open_parent(ctx, path, &base)) < 0)
        return pfd;
    if (mkdirat(pfd, base, 0700) < 0) {
        r = -errno;
        if (r == -EEXIST) {
            /* a directory, or a symlink to one in the root, will do */
            fd = open_in_root(ctx, path, O_PATH | O_DIRECTORY);
            r = fd >= 0 ? 0 : fd == -ENOENT ? -ENOTDIR : fd;
        }
        goto out;
    }
    fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0) {
        r = -errno;
        goto out;
    }
    r = fchmod(fd, mode & 07777) < 0 ? -errno : 0;
out:
    if (fd >= 0)
        close(fd);
    close(pfd);
    return r;
}

static int dir_stat(void *ctx, const char *path, bool follow, struct identity_stat *st_r)
{
    const char *base;
    struct stat st;
    int fd, r = 0;

    if (follow) {
        if ((r = identity_path_check(path, NAME_MAX)))
            return r;
        if ((fd = open_in_root(ctx, path, O_PATH)) < 0)
            return fd;
        if (fstat(fd, &st) < 0)
            r = -errno;
    } else {
        if ((fd = open_parent(ctx, path, &base)) < 0)
            return fd;
        if (fstatat(fd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
            r = -errno;
    }
    close(fd);
    if (r)
        return r;
    st_r->mode = st.st_mode;
    st_r->uid = st.st_uid;
    st_r->gid = st.st_gid;
    st_r->size = st.st_size;
    return 0;
}

static int dir_readlink(void *ctx, const char *path, size_t max, char **target_r)
{
    const char *base;
    char *buf = NULL;
    ssize_t n;
    int pfd, r = 0;

    *target_r = NULL;
    if ((pfd = open_parent(ctx, path, &base)) < 0)
        return pfd;
    if (!(buf = malloc(max + 1))) {
        r = -ENOMEM;
        goto out;
    }
    n = readlinkat(pfd, base, buf, max + 1);
    if (n < 0) {
        r = -errno;
        goto out;
    }
    if ((size_t)n > max) {
        r = -ENAMETOOLONG;
        goto out;
    }
    buf[n] = '\0';
    *target_r = buf;
    buf = NULL;
out:
    free(buf);
    close(pfd);
    return r;
}

static int dir_list(void *ctx, const char *path, size_t max, char ***names_r)
{
    DIR *dir = NULL;
    struct dirent *de;
    char **v = NULL;
    size_t n = 0;
    int fd, r;

    *names_r = NULL;
    if ((r = identity_path_check(path, NAME_MAX)))
        return r;
    if ((fd = open_in_root(ctx, path, O_RDONLY | O_DIRECTORY)) < 0)
        return fd;
    if (!(dir = fdopendir(fd))) {
        r = -errno;
        close(fd);
        return r;
    }
    if (!(v = calloc(1, sizeof(*v)))) {
        r = -ENOMEM;
        goto out;
    }
    for (;;) {
        char **nv;

        errno = 0;
        if (!(de = readdir(dir))) {
            r = -errno;
            if (r)
                goto out;
            break;
        }
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n >= max) {
            r = -E2BIG;
            goto out;
        }
        if (!(nv = realloc(v, (n + 2) * sizeof(*v)))) {
            r = -ENOMEM;
            goto out;
        }
        v = nv;
        v[n + 1] = NULL;
        if (!(v[n] = strdup(de->d_name))) {
            r = -ENOMEM;
            goto out;
        }
        n++;
    }
    *names_r = v;
    v = NULL;
    r = 0;
out:
    free_names(v);
    closedir(dir);
    return r;
}

static void dir_close(void *ctx)
{
    struct dirroot *r = ctx;

    if (r) {
        close(r->rootfd);
        free(r);
    }
}

static const struct identity_root_ops dir_ops = {
    .read = dir_read,
    .write = dir_write,
    .symlink = dir_symlink,
    .remove = dir_remove,
    .mkdir = dir_mkdir,
    .stat = dir_stat,
    .readlink = dir_readlink,
    .list = dir_list,
    .close = dir_close,
};

int identity_root_dir_open(const char *dir, struct identity_root *r, struct diag *d)
{
    struct dirroot *dr = NULL;
    char *name = NULL;
    size_t n = strlen(dir);
    int fd, err;

    memset(r, 0, sizeof(*r));
    if (!(dr = malloc(sizeof(*dr))))
        goto nomem;
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (!(name = strndup(dir, n == 1 && dir[0] == '/' ? 0 : n)))
        goto nomem;
    dr->rootfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dr->rootfd < 0) {
        err = -errno;
        diag_error(d, dir, 0, 0, "cannot open the guest root: %s", strerror(-err));
        goto fail;
    }
    /* the one place a kernel without openat2 (before 5.6) shows */
    if ((fd = open_in_root(dr, "/", O_PATH | O_DIRECTORY)) < 0) {
        err = fd;
        diag_error(d, dir, 0, 0, "cannot open the guest root: %s%s", strerror(-err),
                   err == -ENOSYS ? " (openat2(2) needs Linux 5.6 or later)" : "");
        close(dr->rootfd);
        goto fail;
    }
    close(fd);
    r->ops = &dir_ops;
    r->ctx = dr;
    r->name = name;
    return 0;
nomem:
    err = -ENOMEM;
    diag_error(d, dir, 0, 0, "cannot open the guest root: %s", strerror(ENOMEM));
fail:
    free(dr);
    free(name);
    return err;
}

void identity_root_close(struct identity_root *r)
{
    if (r->ops && r->ops->close)
        r->ops->close(r->ctx);
    free(r->name);
    memset(r, 0, sizeof(*r));
}

/* ---- the edits ---- */

enum edit_kind {
    EDIT_MKDIR,
    EDIT_WRITE,
    EDIT_SYMLINK,
    EDIT_REMOVE,
};

struct edit {
    enum edit_kind kind;
    char *path;         /* owned */
    char *data;         /* WRITE: the content; SYMLINK: the target; owned */
    size_t len;
    mode_t mode;
    uid_t uid;
    gid_t gid;
};

struct ctx {
    const struct identity *id;
    const struct identity_root *root;
    struct diag *d;
    struct edit *v;
    size_t n, cap;
    char mac[18];           /* normalised, or "" */
    char *short_name;       /* the first label of the host name */
    int family;             /* the static address's */
    char **ns;              /* nameservers, NULL-terminated, or NULL */
    size_t nns;
};

/* Records one message about a guest path. */
__attribute__((format(printf, 3, 4)))
static void guest_error(struct ctx *c, const char *path, const char *fmt, ...)
{
    char *file = NULL;
    va_list ap;

    if (asprintf(&file, "%s%s", c->root->name ? c->root->name : "", path) < 0)
        file = NULL;
    va_start(ap, fmt);
    diag_vadd(c->d, DIAG_ERROR, file ? file : path, 0, 0, fmt, ap);
    va_end(ap);
    free(file);
}

static int nomem(struct ctx *c)
{
    const char *name = c->root->name ? c->root->name : "";
    size_t n = strlen(name);

    /* an image root's name ends in `:' (IMAGE:/etc/shadow): not here */
    diag_error(c->d, NULL, 0, 0, "%.*s: cannot personalise the guest: %s",
               (int)(n && name[n - 1] == ':' ? n - 1 : n), name, strerror(ENOMEM));
    return -ENOMEM;
}

/* Adds an edit; takes data (may be NULL).  0 or -ENOMEM (recorded; data
 * freed). */
static int edit_add(struct ctx *c, enum edit_kind kind, const char *path, char *data,
                    size_t len, mode_t mode)
{
    struct edit *e;

    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 32;
        struct edit *v = realloc(c->v, cap * sizeof(*v));

        if (!v) {
            free(data);
            return nomem(c);
        }
        c->v = v;
        c->cap = cap;
    }
    e = &c->v[c->n];
    memset(e, 0, sizeof(*e));
    if (!(e->path = strdup(path))) {
        free(data);
        return nomem(c);
    }
    e->kind = kind;
    e->data = data;
    e->len = len;
    e->mode = mode;
    c->n++;
    return 0;
}

/* A file from a finished sbuf (taken). */
static int edit_text(struct ctx *c, const char *path, struct sbuf *b, mode_t mode)
{
    if (b->oom || !b->s) {
        free(b->s);
        memset(b, 0, sizeof(*b));
        return nomem(c);
    }
    int r = edit_add(c, EDIT_WRITE, path, b->s, b->len, mode);

    memset(b, 0, sizeof(*b));
    return r;
}

static int edit_copy(struct ctx *c, const char *path, const void *data, size_t len,
                     mode_t mode)
{
    char *copy = malloc(len + 1);

    if (!copy)
        return nomem(c);
    memcpy(copy, data, len);
    copy[len] = '\0';
    return edit_add(c, EDIT_WRITE, path, copy, len, mode);
}

static int edit_symlink(struct ctx *c, const char *target, const char *path)
{
    char *t = strdup(target);

    if (!t)
        return nomem(c);
    return edit_add(c, EDIT_SYMLINK, path, t, strlen(t), 0777);
}

static void edits_free(struct ctx *c)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->v[i].data && c->v[i].kind == EDIT_WRITE)
            explicit_bzero(c->v[i].data, c->v[i].len);  /* host keys, hashes */
        free(c->v[i].data);
        free(c->v[i].path);
    }
    free(c->v);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* Stat through the backend: 1 present (filled), 0 absent, -errno after
 * recording. */
static int guest_stat(struct ctx *c, const char *path, bool follow, struct identity_stat *st)
{
    int r = c->root->ops->stat(c->root->ctx, path, follow, st);

    if (r == -ENOENT || r == -ENOTDIR)
        return 0;
    if (r < 0) {
        guest_error(c, path, "cannot look at it: %s", strerror(-r));
        return r;
    }
    return 1;
}

/* Whether path is a directory in the guest (following symlinks there). */
static int guest_is_dir(struct ctx *c, const char *path)
{
    struct identity_stat st;
    int r = guest_stat(c, path, true, &st);

    return r <= 0 ? r : S_ISDIR(st.mode);
}

/* ---- validation ---- */

__attribute__((format(printf, 2, 3)))
static int bad(struct ctx *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    diag_vadd(c->d, DIAG_ERROR, NULL, 0, 0, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* An interface name that is safe in a file name, YAML and an INI value. */
static bool good_iface(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 15 || !strcmp(s, ".") || !strcmp(s, ".."))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

static bool style_is(const struct identity *id, const char *style)
{
    return id->network_style && !strcmp(id->network_style, style);
}

static bool has_network(const struct identity *id)
{
    return id->network_style && strcmp(id->network_style, "none");
}

static int validate(struct ctx *c)
{
    const struct identity *id = c->id;
    const char *why;
    int fam;

    if (!id->hostname)
        return bad(c, "identity: no host name");
    if (check_hostname(id->hostname, &why))
        return bad(c, "identity: host name `%s': %s", id->hostname, why);
    if (!(c->short_name = strndup(id->hostname, strcspn(id->hostname, "."))))
        return nomem(c);
    if (has_network(id) && !style_is(id, "ifupdown") && !style_is(id, "networkd") &&
        !style_is(id, "netplan") && !style_is(id, "ifcfg") && !style_is(id, "nm-keyfile"))
        return bad(c, "identity: network style `%s': expected ifupdown, networkd,"
                   " netplan, ifcfg, nm-keyfile or none", id->network_style);
    if (has_network(id) && (!id->iface || !good_iface(id->iface)))
        return bad(c, "identity: interface `%s': expected 1..15 letters, digits, `-', `_'"
                   " or `.'", id->iface ? id->iface : "(none)");
    if (!id->dhcp) {
        if (!id->ip) {
            if (has_network(id))
                return bad(c, "identity: a static network without an address");
        } else {
            if (check_addr(id->ip, &c->family, &why))
                return bad(c, "identity: address `%s': %s", id->ip, why);
            if (id->prefix < 1 || id->prefix > (c->family == AF_INET ? 32 : 128))
                return bad(c, "identity: prefix /%d of %s: expected 1..%d", id->prefix,
                           id->ip, c->family == AF_INET ? 32 : 128);
        }
        if (id->gateway) {
            if (check_addr(id->gateway, &fam, &why))
                return bad(c, "identity: gateway `%s': %s", id->gateway, why);
            if (id->ip && fam != c->family)
                return bad(c, "identity: gateway %s is not of the address %s's family",
                           id->gateway, id->ip);
        }
    }
    if (id->nameservers) {
        const char *p = id->nameservers;

        while (*p) {
            char addr[INET6_ADDRSTRLEN + 1], **v;
            size_t k;

            p += strspn(p, " \t");
            if (!(k = strcspn(p, " \t")))
                break;
            if (k >= sizeof(addr))
                return bad(c, "identity: nameserver `%.*s': too long", (int)k, p);
            memcpy(addr, p, k);
            addr[k] = '\0';
            p += k;
            if (check_addr(addr, &fam, &why))
                return bad(c, "identity: nameserver `%s': %s", addr, why);
            if (!(v = realloc(c->ns, (c->nns + 2) * sizeof(*v))))
                return nomem(c);
            c->ns = v;
            v[c->nns + 1] = NULL;
            if (!(v[c->nns] = strdup(addr)))
                return nomem(c);
            c->nns++;
        }
    }
    if (id->mac && check_mac(id->mac, c->mac, &why))
        return bad(c, "identity: MAC `%s': %s", id->mac, why);
    if (id->password_hash && (!*id->password_hash || strchr(id->password_hash, ':') ||
                              has_control(id->password_hash)))
        return bad(c, "identity: the password hash is empty or holds `:' or a control"
                   " character");
    if (id->authorized_keys && strlen(id->authorized_keys) > KEYS_MAX)
        return bad(c, "identity: the authorized keys are larger than %d bytes", KEYS_MAX);
    return 0;
}

/* ---- what is written ---- */

static int host_files(struct ctx *c)
{
    const struct identity *id = c->id;
    struct sbuf b = {0};
    bool fqdn = strchr(id->hostname, '.') != NULL;
    int r;

    sb_printf(&b, "%s\n", c->short_name);
    if ((r = edit_text(c, "/etc/hostname", &b, 0644)))
        return r;
    sb_printf(&b, "%s\n", id->hostname);
    if ((r = edit_text(c, "/etc/mailname", &b, 0644)))
        return r;
    sb_printf(&b, "127.0.0.1\tlocalhost\n");
    sb_printf(&b, "%s\t%s", !id->dhcp && id->ip ? id->ip : "127.0.1.1", id->hostname);
    if (fqdn)
        sb_printf(&b, "\t%s", c->short_name);
    sb_printf(&b, "\n\n"
              "# The following lines are desirable for IPv6 capable hosts\n"
              "::1     localhost ip6-localhost ip6-loopback\n"
              "ff02::1 ip6-allnodes\n"
              "ff02::2 ip6-allrouters\n");
    return edit_text(c, "/etc/hosts", &b, 0644);
}

static void ns_list(struct ctx *c, struct sbuf *b, const char *sep, bool quote)
{
    for (size_t i = 0; i < c->nns; i++)
        sb_printf(b, "%s%s%s%s", i ? sep : "", quote ? "\"" : "", c->ns[i], quote ? "\"" : "");
}

static int ifupdown(struct ctx *c)
{
    const struct identity *id = c->id;
    struct sbuf b = {0};
    int r;

    if ((r = edit_add(c, EDIT_MKDIR, "/etc/network", NULL, 0, 0755)))
        return r;
    sb_printf(&b, "# Written by vm-provision: the loopback and %s.  See interfaces(5).\n"
              "\n"
              "source /etc/network/interfaces.d/*\n"
              "\n"
              "auto lo\n"
              "iface lo inet loopback\n"
              "\n"
              "auto %s\n", id->iface, id->iface);
    if (id->dhcp) {
        sb_printf(&b, "iface %s inet dhcp\n", id->iface);
    } else {
        sb_printf(&b, "iface %s %s static\n\taddress %s/%d\n", id->iface,
                  c->family == AF_INET ? "inet" : "inet6", id->ip, id->prefix);
        if (id->gateway)
            sb_printf(&b, "\tgateway %s\n", id->gateway);
    }
    return edit_text(c, "/etc/network/interfaces", &b, 0644);
}

/* Where the guest keeps unit (a regular file, or a symlink), as a path in
 * the guest; "" when it has none.  0 or -errno (recorded). */
static int find_unit(struct ctx *c, const char *unit, char out[PATH_MAX])
{
    static const char *const dirs[] = { "/lib/systemd/system", "/usr/lib/systemd/system" };
    struct identity_stat st;

    out[0] = '\0';
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        int r;

        snprintf(out, PATH_MAX, "%s/%s", dirs[i], unit);
        if ((r = guest_stat(c, out, true, &st)) < 0)
            return r;
        if (r && S_ISREG(st.mode))
            return 0;
    }
    out[0] = '\0';
    return 0;
}

/* systemctl enable systemd-networkd, as its [Install] section says. */
static int enable_networkd(struct ctx *c)
{
    static const struct {
        const char *unit, *link;
    } links[] = {
        { "systemd-networkd.service", "multi-user.target.wants/systemd-networkd.service" },
        { "systemd-networkd.service", "dbus-org.freedesktop.network1.service" },
        { "systemd-networkd.socket", "sockets.target.wants/systemd-networkd.socket" },
        { "systemd-network-generator.service",
          "sysinit.target.wants/systemd-network-generator.service" },
        { "systemd-networkd-wait-online.service",
          "network-online.target.wants/systemd-networkd-wait-online.service" },
    };
    char target[PATH_MAX], link[PATH_MAX];
    int r;

    if ((r = edit_add(c, EDIT_MKDIR, "/etc/systemd", NULL, 0, 0755)) ||
        (r = edit_add(c, EDIT_MKDIR, "/etc/systemd/system", NULL, 0, 0755)))
        return r;
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
        const char *slash = strchr(links[i].link, '/');

        if ((r = find_unit(c, links[i].unit, target)))
            return r;
        if (!target[0]) {
            if (i == 0) {
                guest_error(c, "/lib/systemd/system/systemd-networkd.service",
                            "absent: the guest has no systemd-networkd for the %s network"
                            " style", c->id->network_style);
                return -ENOENT;
            }
            continue;
        }
        if (slash) {
            snprintf(link, sizeof(link), "/etc/systemd/system/%.*s",
                     (int)(slash - links[i].link), links[i].link);
            if ((r = edit_add(c, EDIT_MKDIR, link, NULL, 0, 0755)))
                return r;
        }
        snprintf(link, sizeof(link), "/etc/systemd/system/%s", links[i].link);
        if ((r = edit_symlink(c, target, link)))
            return r;
    }
    return 0;
}

static int networkd(struct ctx *c)
{
    const struct identity *id = c->id;
    struct sbuf b = {0};
    char path[PATH_MAX];
    int r;

    if ((r = edit_add(c, EDIT_MKDIR, "/etc/systemd", NULL, 0, 0755)) ||
        (r = edit_add(c, EDIT_MKDIR, "/etc/systemd/network", NULL, 0, 0755)))
        return r;
    sb_printf(&b, "# Written by vm-provision.\n[Match]\n");
    if (c->mac[0])
        sb_printf(&b, "MACAddress=%s\n", c->mac);
    else
        sb_printf(&b, "Name=%s\n", id->iface);
    sb_printf(&b, "\n[Network]\n");
    if (id->dhcp) {
        sb_printf(&b, "DHCP=ipv4\n");
    } else {
        sb_printf(&b, "Address=%s/%d\n", id->ip, id->prefix);
        if (id->gateway)
            sb_printf(&b, "Gateway=%s\n", id->gateway);
    }
    if (c->nns) {
        sb_printf(&b, "DNS=");
        ns_list(c, &b, " ", false);
        sb_printf(&b, "\n");
    }
    snprintf(path, sizeof(path), "/etc/systemd/network/10-%s.network", id->iface);
    if ((r = edit_text(c, path, &b, 0644)))
        return r;
    return enable_networkd(c);
}

static int netplan(struct ctx *c)
{
    const struct identity *id = c->id;
    struct sbuf b = {0};
    int r;

    if ((r = edit_add(c, EDIT_MKDIR, "/etc/netplan", NULL, 0, 0755)))
        return r;
    sb_printf(&b, "# Written by vm-provision.\n"
              "network:\n"
              "  version: 2\n"
              "  renderer: networkd\n"
              "  ethernets:\n"
              "    %s:\n", id->iface);
    if (c->mac[0])
        sb_printf(&b, "      match:\n        macaddress: \"%s\"\n", c->mac);
    if (id->dhcp) {
        sb_printf(&b, "      dhcp4: true\n");
    } else {
        sb_printf(&b, "      addresses:\n        - \"%s/%d\"\n", id->ip, id->prefix);
        if (id->gateway)
            sb_printf(&b, "      routes:\n        - to: default\n          via: \"%s\"\n",
                      id->gateway);
    }
    if (c->nns) {
        sb_printf(&b, "      nameservers:\n        addresses: [");
        ns_list(c, &b, ", ", true);
        sb_printf(&b, "]\n");
    }
    if ((r = edit_text(c, "/etc/netplan/50-vmkit.yaml", &b, 0600)))
        return r;
    return enable_networkd(c);
}

/* The Red Hat family before NetworkManager keyfiles: initscripts' (and
 * NetworkManager's ifcfg-rh plugin's) ifcfg file. */
static int ifcfg(struct ctx *c)
{
    const struct identity *id = c->id;
    bool v6 = !id->dhcp && c->family == AF_INET6;
    struct sbuf b = {0};
    char path[PATH_MAX];
    int r;

    if ((r = edit_add(c, EDIT_MKDIR, "/etc/sysconfig", NULL, 0, 0755)) ||
        (r = edit_add(c, EDIT_MKDIR, "/etc/sysconfig/network-scripts", NULL, 0, 0755)))
        return r;
    sb_printf(&b, "# Written by vm-provision.\nNETWORKING=yes\n%s", v6 ? "NETWORKING_IPV6=yes\n"
                                                                    : "");
    if ((r = edit_text(c, "/etc/sysconfig/network", &b, 0644)))
        return r;
    sb_printf(&b, "# Written by vm-provision.\nDEVICE=%s\nNAME=%s\nTYPE=Ethernet\n"
              "ONBOOT=yes\n", id->iface, id->iface);
    if (c->mac[0])
        sb_printf(&b, "HWADDR=%s\n", c->mac);
    if (id->dhcp)
        sb_printf(&b, "BOOTPROTO=dhcp\n");
    else if (!v6)
        sb_printf(&b, "BOOTPROTO=none\nIPADDR=%s\nPREFIX=%d\n%s%s%s", id->ip, id->prefix,
                  id->gateway ? "GATEWAY=" : "", id->gateway ? id->gateway : "",
                  id->gateway ? "\n" : "");
    else
        sb_printf(&b, "BOOTPROTO=none\nIPV6INIT=yes\nIPV6_AUTOCONF=no\nIPV6ADDR=%s/%d\n%s%s%s",
                  id->ip, id->prefix, id->gateway ? "IPV6_DEFAULTGW=" : "",
                  id->gateway ? id->gateway : "", id->gateway ? "\n" : "");
    for (size_t i = 0; i < c->nns; i++)
        sb_printf(&b, "DNS%zu=%s\n", i + 1, c->ns[i]);
    snprintf(path, sizeof(path), "/etc/sysconfig/network-scripts/ifcfg-%s", id->iface);
    return edit_text(c, path, &b, 0644);
}

/* NetworkManager's own format (el9, Fedora): a keyfile, 0600 as NM
 * insists, matched by MAC when there is one. */
static int nm_keyfile(struct ctx *c)
{
    const struct identity *id = c->id;
    bool v6 = !id->dhcp && c->family == AF_INET6;
    unsigned char u[16];
    char uuid[37], hex[33], path[PATH_MAX];
    struct sbuf b = {0};
    int r;

    if ((r = random_bytes(u, sizeof(u)))) {
        guest_error(c, "/etc/NetworkManager", "cannot make a connection uuid: %s",
                    strerror(-r));
        return r;
    }
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    hex_encode(u, sizeof(u), hex);
    snprintf(uuid, sizeof(uuid), "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
             hex + 16, hex + 20);
    if ((r = edit_add(c, EDIT_MKDIR, "/etc/NetworkManager", NULL, 0, 0755)) ||
        (r = edit_add(c, EDIT_MKDIR, "/etc/NetworkManager/system-connections", NULL, 0,
                      0700)))
        return r;
    sb_printf(&b, "# Written by vm-provision.\n[connection]\nid=%s\nuuid=%s\n"
              "type=ethernet\ninterface-name=%s\nautoconnect=true\n\n[ethernet]\n",
              id->iface, uuid, id->iface);
    if (c->mac[0])
        sb_printf(&b, "mac-address=%s\n", c->mac);
    sb_printf(&b, "\n[ipv4]\n");
    if (id->dhcp)
        sb_printf(&b, "method=auto\n");
    else if (!v6)
        sb_printf(&b, "method=manual\naddress1=%s/%d%s%s\n", id->ip, id->prefix,
                  id->gateway ? "," : "", id->gateway ? id->gateway : "");
    else
        sb_printf(&b, "method=disabled\n");
    if (c->nns && !v6) {
        sb_printf(&b, "dns=");
        ns_list(c, &b, ";", false);
        sb_printf(&b, ";\n");
    }
    sb_printf(&b, "\n[ipv6]\n");
    if (v6) {
        sb_printf(&b, "method=manual\naddress1=%s/%d%s%s\n", id->ip, id->prefix,
                  id->gateway ? "," : "", id->gateway ? id->gateway : "");
        if (c->nns) {
            sb_printf(&b, "dns=");
            ns_list(c, &b, ";", false);
            sb_printf(&b, ";\n");
        }
    } else {
        sb_printf(&b, "method=auto\n");
    }
    snprintf(path, sizeof(path), "/etc/NetworkManager/system-connections/%s.nmconnection",
             id->iface);
    return edit_text(c, path, &b, 0600);
}

static int resolv_conf(struct ctx *c)
{
    struct identity_stat st;
    struct sbuf b = {0};
    int r;

    if (!c->nns)
        return 0;
    if ((r = guest_stat(c, "/etc/resolv.conf", false, &st)) < 0)
        return r;
    if (r && S_ISLNK(st.mode) && (style_is(c->id, "networkd") || style_is(c->id, "netplan"))) {
        char *target = NULL;
        bool resolved;

        r = c->root->ops->readlink(c->root->ctx, "/etc/resolv.conf", LINK_MAX_LEN, &target);
        if (r < 0) {
            guest_error(c, "/etc/resolv.conf", "cannot read the symlink: %s", strerror(-r));
            return r;
        }
        resolved = strstr(target, "systemd/resolve/") != NULL;
        free(target);
        if (resolved)
            return 0;       /* resolved serves networkd's DNS= */
    }
    if (c->nns > 3)
        diag_warn(c->d, NULL, 0, 0, "identity: %zu nameservers: the guest's C library reads"
                  " only the first 3 from /etc/resolv.conf", c->nns);
    sb_printf(&b, "# Written by vm-provision.\n");
    for (size_t i = 0; i < c->nns; i++)
        sb_printf(&b, "nameserver %s\n", c->ns[i]);
    return edit_text(c, "/etc/resolv.conf", &b, 0644);
}

static int machine_id(struct ctx *c)
{
    struct identity_stat st;
    unsigned char id[16];
    char text[34];
    int r;

    if ((r = random_bytes(id, sizeof(id)))) {
        guest_error(c, "/etc/machine-id", "cannot make one: %s", strerror(-r));
        return r;
    }
    /* a v4 UUID, as systemd's own (sd_id128_randomize) */
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    hex_encode(id, sizeof(id), text);
    strcat(text, "\n");
    if ((r = edit_copy(c, "/etc/machine-id", text, 33, 0444)))
        return r;
    if ((r = guest_stat(c, "/var/lib/dbus/machine-id", false, &st)) < 0)
        return r;
    if (r)
        return edit_symlink(c, "/etc/machine-id", "/var/lib/dbus/machine-id");
    return 0;
}

static int random_seed(struct ctx *c)
{
    unsigned char *seed;
    int r;

    if ((r = guest_is_dir(c, "/var/lib/systemd")) <= 0)
        return r;
    if (!(seed = malloc(SEED_LEN)))
        return nomem(c);
    if ((r = random_bytes(seed, SEED_LEN))) {
        free(seed);
        guest_error(c, "/var/lib/systemd/random-seed", "cannot make one: %s", strerror(-r));
        return r;
    }
    return edit_add(c, EDIT_WRITE, "/var/lib/systemd/random-seed", (char *)seed, SEED_LEN,
                    0600);
}

static int shadow(struct ctx *c)
{
    static const char path[] = "/etc/shadow";
    const char *hash = c->id->password_hash ? c->id->password_hash : "*";
    struct identity_stat st;
    struct sbuf b = {0};
    char *buf = NULL;
    size_t len, nroot = 0;
    int r;

    if ((r = guest_stat(c, path, false, &st)) < 0)
        return r;
    if (!r) {
        guest_error(c, path, "absent: the guest has no shadow file for root's password");
        return -ENOENT;
    }
    if (!S_ISREG(st.mode)) {
        guest_error(c, path, "not a regular file");
        return -EINVAL;
    }
    if ((r = c->root->ops->read(c->root->ctx, path, SHADOW_MAX, &buf, &len)) < 0) {
        if (r == -EFBIG)
            guest_error(c, path, "larger than %d bytes", SHADOW_MAX);
        else
            guest_error(c, path, "cannot read: %s", strerror(-r));
        return r;
    }
    for (const char *p = buf, *end = buf + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;

        if (eol - p >= 5 && !memcmp(p, "root:", 5)) {
            const char *f2 = p + 5, *f2end = memchr(f2, ':', (size_t)(eol - f2));

            if (!f2end)
                f2end = eol;
            sb_add(&b, p, (size_t)(f2 - p));
            sb_add(&b, hash, strlen(hash));
            sb_add(&b, f2end, (size_t)(eol - f2end));
            nroot++;
        } else {
            sb_add(&b, p, (size_t)(eol - p));
        }
        if (nl)
            sb_add(&b, "\n", 1);
        p = nl ? nl + 1 : end;
    }
    explicit_bzero(buf, len);
    free(buf);
    if (!nroot) {
        free(b.s);
        guest_error(c, path, "no line for root");
        return -EINVAL;
    }
    if ((r = edit_text(c, path, &b, st.mode & 07777)))
        return r;
    c->v[c->n - 1].uid = st.uid;
    c->v[c->n - 1].gid = st.gid;
    return 0;
}

static int authorized_keys(struct ctx *c)
{
    const char *keys = c->id->authorized_keys;
    size_t n;
    int r;

    if (!keys)
        return 0;
    if ((r = guest_is_dir(c, "/root")) < 0)
        return r;
    if (!r && (r = edit_add(c, EDIT_MKDIR, "/root", NULL, 0, 0700)))
        return r;
    if ((r = edit_add(c, EDIT_MKDIR, "/root/.ssh", NULL, 0, 0700)))
        return r;
    n = strlen(keys);
    if (n && keys[n - 1] != '\n') {
        struct sbuf b = {0};

        sb_printf(&b, "%s\n", keys);
        return edit_text(c, "/root/.ssh/authorized_keys", &b, 0600);
    }
    return edit_copy(c, "/root/.ssh/authorized_keys", keys, n, 0600);
}

/* ---- ssh host keys ---- */

static const struct {
    const char *type, *bits;
} host_key_types[] = {
    { "ed25519", NULL },
    { "ecdsa", NULL },
    { "rsa", "3072" },
};

/* ": " and the first line of the file at path, for a message, in line;
 * "" when there is none.  Returns line. */
static const char *first_line(const char *path, char *line, size_t size)
{
    struct diag scratch;
    char *buf = NULL;
    size_t len;

    line[0] = '\0';
    diag_init(&scratch);
    if (!file_read_bounded(path, 64 * 1024, FILE_MISSING_OK, &buf, &len, &scratch) && buf) {
        size_t k = strcspn(buf, "\r\n");

        if (k)
            snprintf(line, size, ": %.*s", (int)(k > 200 ? 200 : k), buf);
    }
    free(buf);
    diag_dispose(&scratch);
    return line;
}

/* Runs ssh-keygen for one type in tmpdir and adds the two files as edits. */
static int host_key(struct ctx *c, const char *tmpdir, size_t i)
{
    const char *type = host_key_types[i].type;
    char key[PATH_MAX], pub[PATH_MAX], errpath[PATH_MAX], comment[80];
    char guest[PATH_MAX], status[96], line[256];
    char *argv[16], *buf = NULL;
    struct proc_opts o;
    struct diag scratch;
    size_t argc = 0, len = 0;
    int errfd = -1, st, r;

    snprintf(comment, sizeof(comment), "root@%s", c->short_name);
    snprintf(guest, sizeof(guest), "/etc/ssh/ssh_host_%s_key", type);
    /* tmpdir is short (host_keys checks $TMPDIR's length) */
    if (snprintf(key, sizeof(key), "%s/ssh_host_%s_key", tmpdir, type) >= (int)sizeof(key) ||
        snprintf(pub, sizeof(pub), "%s.pub", key) >= (int)sizeof(pub) ||
        snprintf(errpath, sizeof(errpath), "%s/stderr", tmpdir) >= (int)sizeof(errpath)) {
        guest_error(c, guest, "cannot make an ssh host key: %s", strerror(ENAMETOOLONG));
        return -ENAMETOOLONG;
    }
    diag_init(&scratch);
    argv[argc++] = (char *)"ssh-keygen";
    argv[argc++] = (char *)"-q";
    argv[argc++] = (char *)"-N";
    argv[argc++] = (char *)"";
    argv[argc++] = (char *)"-t";
    argv[argc++] = (char *)type;
    if (host_key_types[i].bits) {
        argv[argc++] = (char *)"-b";
        argv[argc++] = (char *)host_key_types[i].bits;
    }
    argv[argc++] = (char *)"-C";
    argv[argc++] = comment;
    argv[argc++] = (char *)"-f";
    argv[argc++] = key;
    argv[argc] = NULL;

    errfd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (errfd < 0) {
        r = -errno;
        guest_error(c, guest, "cannot make an ssh host key: %s: %s", errpath, strerror(-r));
        goto out;
    }
    proc_opts_init(&o);
    o.stdout_fd = PROC_NULL;
    o.stderr_fd = errfd;
    r = proc_run("ssh-keygen", argv, &o, KEYGEN_TIMEOUT_MS, &st);
    close(errfd);
    errfd = -1;
    if (r < 0) {
        guest_error(c, guest, "cannot make an ssh host key: ssh-keygen: %s%s", strerror(-r),
                    r == -ENOENT ? " (the host needs openssh-client)" : "");
        goto out;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st)) {
        guest_error(c, guest, "cannot make an ssh host key: ssh-keygen -t %s %s%s", type,
                    proc_status_text(st, status, sizeof(status)),
                    first_line(errpath, line, sizeof(line)));
        r = -EIO;
        goto out;
    }
    if ((r = file_read_bounded(key, HOSTKEY_MAX, 0, &buf, &len, &scratch))) {
        guest_error(c, guest, "cannot read the key ssh-keygen made: %s",
                    scratch.n ? scratch.v[0].msg : strerror(-r));
        goto out;
    }
    r = edit_add(c, EDIT_WRITE, guest, buf, len, 0600);
    buf = NULL;
    if (r)
        goto out;
    strcat(guest, ".pub");
    if ((r = file_read_bounded(pub, HOSTKEY_MAX, 0, &buf, &len, &scratch))) {
        guest_error(c, guest, "cannot read the key ssh-keygen made: %s",
                    scratch.n ? scratch.v[0].msg : strerror(-r));
        goto out;
    }
    r = edit_add(c, EDIT_WRITE, guest, buf, len, 0644);
    buf = NULL;
out:
    if (errfd >= 0)
        close(errfd);
    if (buf) {
        explicit_bzero(buf, len);
        free(buf);
    }
    unlink(key);
    unlink(pub);
    unlink(errpath);
    diag_dispose(&scratch);
    return r;
}

static bool is_host_key_name(const char *name)
{
    return !fnmatch("ssh_host_*_key", name, 0) || !fnmatch("ssh_host_*_key.pub", name, 0) ||
           !fnmatch("ssh_host_*_key-cert.pub", name, 0);
}

/* Removes every ssh host key (and certificate) in /etc/ssh: 1 when the
 * guest has /etc/ssh, 0 when not, or -errno. */
static int remove_host_keys(struct ctx *c)
{
    char path[PATH_MAX];
    char **names = NULL;
    int r;

    if ((r = guest_is_dir(c, "/etc/ssh")) <= 0)
        return r;
    if ((r = c->root->ops->list(c->root->ctx, "/etc/ssh", SSH_DIR_MAX, &names)) < 0) {
        guest_error(c, "/etc/ssh", "cannot list the directory: %s", strerror(-r));
        return r;
    }
    for (size_t i = 0; names[i] && !r; i++) {
        if (!is_host_key_name(names[i]))
            continue;
        snprintf(path, sizeof(path), "/etc/ssh/%s", names[i]);
        r = edit_add(c, EDIT_REMOVE, path, NULL, 0, 0);
    }
    free_names(names);
    return r ? r : 1;
}

static int host_keys(struct ctx *c)
{
    const char *tmp = getenv("TMPDIR");
    char tmpdir[PATH_MAX];
    int r;

    if (!c->id->ssh_host_keys)
        return 0;
    if ((r = remove_host_keys(c)) <= 0)
        return r;
    r = 0;

    if (!tmp || tmp[0] != '/' || strlen(tmp) > PATH_MAX - 64)
        tmp = "/tmp";
    snprintf(tmpdir, sizeof(tmpdir), "%s/vmkit-hostkeys-XXXXXX", tmp);
    if (!mkdtemp(tmpdir)) {
        r = -errno;
        guest_error(c, "/etc/ssh", "cannot make the ssh host keys: a directory in %s: %s",
                    tmp, strerror(-r));
        return r;
    }
    for (size_t i = 0; i < sizeof(host_key_types) / sizeof(host_key_types[0]) && !r; i++)
        r = host_key(c, tmpdir, i);
    rmdir(tmpdir);
    return r;
}

/* ---- applying ---- */

static int apply_edits(struct ctx *c)
{
    const struct identity_root_ops *ops = c->root->ops;
    void *ctx = c->root->ctx;

    for (size_t i = 0; i < c->n; i++) {
        const struct edit *e = &c->v[i];
        const char *what = "";
        int r = 0;

        switch (e->kind) {
        case EDIT_MKDIR:
            r = ops->mkdir(ctx, e->path, e->mode, e->uid, e->gid);
            what = "cannot make the directory";
            break;
        case EDIT_WRITE:
            r = ops->write(ctx, e->path, e->data, e->len, e->mode, e->uid, e->gid);
            what = "cannot write";
            break;
        case EDIT_SYMLINK:
            r = ops->symlink(ctx, e->data, e->path);
            what = "cannot make the symlink";
            break;
        case EDIT_REMOVE:
            r = ops->remove(ctx, e->path);
            what = "cannot remove";
            break;
        }
        if (r < 0) {
            guest_error(c, e->path, "%s: %s", what, strerror(-r));
            return r;
        }
    }
    return 0;
}

int identity_apply(const struct identity *id, const struct identity_root *root,
                   struct diag *d)
{
    struct ctx c = { .id = id, .root = root, .d = d };
    int r;

    if ((r = validate(&c)))
        goto out;
    if ((r = host_files(&c)))
        goto out;
    if (style_is(id, "ifupdown"))
        r = ifupdown(&c);
    else if (style_is(id, "networkd"))
        r = networkd(&c);
    else if (style_is(id, "netplan"))
        r = netplan(&c);
    else if (style_is(id, "ifcfg"))
        r = ifcfg(&c);
    else if (style_is(id, "nm-keyfile"))
        r = nm_keyfile(&c);
    if (r || (r = resolv_conf(&c)) || (r = machine_id(&c)) || (r = random_seed(&c)) ||
        (r = shadow(&c)) || (r = authorized_keys(&c)) || (r = host_keys(&c)))
        goto out;
    r = apply_edits(&c);
out:
    edits_free(&c);
    free_names(c.ns);
    free(c.short_name);
    return r;
}

int identity_strip(const struct identity_root *root, struct diag *d)
{
    static const struct identity none = { 0 };
    struct ctx c = { .id = &none, .root = root, .d = d };
    struct identity_stat st;
    int r;

    if ((r = edit_copy(&c, "/etc/hostname", "localhost\n", 10, 0644)) ||
        (r = edit_add(&c, EDIT_REMOVE, "/etc/mailname", NULL, 0, 0)) ||
        (r = edit_copy(&c, "/etc/machine-id", "", 0, 0444)) ||
        (r = guest_stat(&c, "/var/lib/dbus/machine-id", false, &st)) < 0 ||
        (r && (r = edit_symlink(&c, "/etc/machine-id", "/var/lib/dbus/machine-id"))) ||
        (r = edit_add(&c, EDIT_REMOVE, "/var/lib/systemd/random-seed", NULL, 0, 0)) ||
        (r = shadow(&c)) ||
        (r = edit_add(&c, EDIT_REMOVE, "/root/.ssh/authorized_keys", NULL, 0, 0)) ||
        (r = remove_host_keys(&c)) < 0)
        goto out;
    r = apply_edits(&c);
out:
    edits_free(&c);
    return r;
}

int identity_apply_dir(const struct identity *id, const char *dir, struct diag *d)
{
    struct identity_root root;
    int r;

    if ((r = identity_root_dir_open(dir, &root, d)))
        return r;
    r = identity_apply(id, &root, d);
    identity_root_close(&root);
    return r;
}

/* ---- passwords ---- */

int identity_hash_password(const char *password, const char *method, char **hash_r)
{
    char *salt = NULL, *hash, *out = NULL;
    void *data = NULL;
    bool sha512 = method && !strcmp(method, "sha512");
    int size = 0, r;

    *hash_r = NULL;
    if (!password || !*password || (method && !sha512 && strcmp(method, "yescrypt")))
        return -EINVAL;
    errno = 0;
    salt = sha512 ? NULL : crypt_gensalt_ra("$y$", 0, NULL, 0);
    if (!salt && (sha512 || errno == EINVAL || errno == ENOSYS || errno == 0))
        salt = crypt_gensalt_ra("$6$", 0, NULL, 0);
    if (!salt)
        return errno ? -errno : -EINVAL;
    errno = 0;
    hash = crypt_ra(password, salt, &data, &size);
    if (!hash || hash[0] == '*') {
        r = errno ? -errno : -EINVAL;
        goto out;
    }
    if (!(out = strdup(hash))) {
        r = -ENOMEM;
        goto out;
    }
    *hash_r = out;
    r = 0;
out:
    if (data)
        explicit_bzero(data, (size_t)size);
    free(data);
    free(salt);
    return r;
}

int identity_generate_password(char **pw_r)
{
    /* letters and digits without 0 O o 1 l I */
    static const char alphabet[] = "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    const size_t nsym = sizeof(alphabet) - 1, limit = 256 - 256 % nsym;
    unsigned char rnd[64];
    char *pw = malloc(IDENTITY_PASSWORD_LEN + 1);
    size_t n = 0;
    int r;

    *pw_r = NULL;
    if (!pw)
        return -ENOMEM;
    while (n < IDENTITY_PASSWORD_LEN) {
        if ((r = random_bytes(rnd, sizeof(rnd)))) {
            free(pw);
            return r;
        }
        for (size_t i = 0; i < sizeof(rnd) && n < IDENTITY_PASSWORD_LEN; i++)
            if (rnd[i] < limit)     /* no modulo bias */
                pw[n++] = alphabet[rnd[i] % nsym];
    }
    explicit_bzero(rnd, sizeof(rnd));
    pw[n] = '\0';
    *pw_r = pw;
    return 0;
}
