/*
 * image.c - disk images from a directory, never mounted (see image.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fileio.h"
#include "image.h"
#include "proc.h"

enum fs_kind { FS_EXT4, FS_XFS, FS_BTRFS, FS_SWAP, FS_NONE };

static const struct fs_info {
    const char *name;
    size_t label_max;
    uint64_t min_size;
    const char *program;
    const char *package;        /* Debian's, for "not found" */
} fs_table[] = {
    [FS_EXT4] = { "ext4", 16, 16ULL << 20, "mke2fs", "e2fsprogs" },
    [FS_XFS] = { "xfs", 12, 300ULL << 20, "mkfs.xfs", "xfsprogs" },
    [FS_BTRFS] = { "btrfs", 255, 109ULL << 20, "mkfs.btrfs", "btrfs-progs" },
    [FS_SWAP] = { "swap", 16, 40ULL << 10, "mkswap", "util-linux" },
};

#define TIMEOUT_MS      (IMAGE_TIMEOUT_S * 1000)
#define TAIL_BYTES      4096    /* how far back the last lines are looked for */
#define TAIL_LINE_MAX   240     /* each kept line is cut there */
#define MAX_BAD         20      /* refused entries recorded before the walk stops */
#define MAX_DEPTH       256
#define XFS_FILE_MAX    0x7ffff000LL    /* the most one read(2) returns */
#define XFS_SYMLINK_MAX 1024
#define XFS_MAJOR_MAX   511
#define XFS_MINOR_MAX   0x3ffff
#define BTRFS_FIRST_FREE_INO 256

static enum fs_kind fs_lookup(const char *fs)
{
    for (int i = 0; fs && i < FS_NONE; i++)
        if (!strcmp(fs, fs_table[i].name))
            return (enum fs_kind)i;
    return FS_NONE;
}

size_t image_label_max(const char *fs)
{
    enum fs_kind k = fs_lookup(fs);

    return k == FS_NONE ? 0 : fs_table[k].label_max;
}

uint64_t image_min_size(const char *fs)
{
    enum fs_kind k = fs_lookup(fs);

    return k == FS_NONE ? 0 : fs_table[k].min_size;
}

/* ---- children ---- */

static void write_all(int fd, const char *buf, size_t len)
{
    while (fd >= 0 && len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;             /* a log that cannot be written is not our failure */
        buf += n;
        len -= (size_t)n;
    }
}

void image_log_command(int log_fd, char *const argv[])
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

    if (log_fd < 0 || !(f = open_memstream(&buf, &len)))
        return;
    fputc('+', f);
    for (size_t i = 0; argv[i]; i++) {
        const char *a = argv[i];
        bool plain = *a != '\0' && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
                                          "QRSTUVWXYZ0123456789%+,-./:=@_") == strlen(a);

        fputc(' ', f);
        if (plain) {
            fputs(a, f);
            continue;
        }
        fputc('\'', f);
        for (; *a; a++) {
            if (*a == '\'')
                fputs("'\\''", f);
            else
                fputc(*a, f);
        }
        fputc('\'', f);
    }
    fputc('\n', f);
    if (fclose(f) == 0)
        write_all(log_fd, buf, len);
    free(buf);
}

/* Copies the memfd's content to the log. */
static void copy_to_log(int mfd, int log_fd)
{
    char buf[65536];
    off_t off = 0;
    ssize_t n;

    while (log_fd >= 0 && (n = pread(mfd, buf, sizeof(buf), off)) > 0) {
        write_all(log_fd, buf, (size_t)n);
        off += n;
    }
}

/* The memfd's last IMAGE_TAIL_LINES non-blank lines, joined by " | ",
 * control characters as `?': a new string, or NULL when there are none
 * (or no memory). */
static char *output_tail(int mfd)
{
    struct stat st;
    char buf[TAIL_BYTES + 1], *lines[IMAGE_TAIL_LINES];
    size_t nlines = 0, first = 0, len = 0;
    off_t from;
    ssize_t n;
    char *out, *o;

    if (fstat(mfd, &st) < 0 || st.st_size == 0)
        return NULL;
    from = st.st_size > TAIL_BYTES ? st.st_size - TAIL_BYTES : 0;
    if ((n = pread(mfd, buf, TAIL_BYTES, from)) <= 0)
        return NULL;
    buf[n] = '\0';
    /* the lines, last IMAGE_TAIL_LINES kept in a ring */
    for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        for (char *c = l; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                *c = *c == '\t' || *c == '\r' ? ' ' : '?';
        while (*l == ' ')
            l++;
        for (size_t e = strlen(l); e > 0 && l[e - 1] == ' '; e--)
            l[e - 1] = '\0';
        if (!*l)
            continue;
        if (strlen(l) > TAIL_LINE_MAX)
            l[TAIL_LINE_MAX] = '\0';
        if (nlines < IMAGE_TAIL_LINES) {
            lines[nlines++] = l;
        } else {
            lines[first] = l;
            first = (first + 1) % IMAGE_TAIL_LINES;
        }
    }
    if (!nlines)
        return NULL;
    for (size_t i = 0; i < nlines; i++)
        len += strlen(lines[i]) + 3;
    if (!(out = o = malloc(len + 1)))
        return NULL;
    for (size_t i = 0; i < nlines; i++) {
        const char *l = lines[(first + i) % nlines];

        if (i)
            o = stpcpy(o, " | ");
        o = stpcpy(o, l);
    }
    return out;
}

/*
 * Runs argv (argv[0] searched in $PATH) with stdout and stderr caught,
 * then copied to log_fd; keep: descriptors the child keeps (nkeep of
 * them).  On failure records "IMAGE: cannot WHAT: PROGRAM ..." in d,
 * except for -ECANCELED.  Returns 0, -ENOENT (no such program),
 * -ETIMEDOUT, -ECANCELED, -EIO (it failed) or -errno.
 */
static int run(char *const argv[], const int *keep, size_t nkeep, const char *package,
               const char *image, const char *what, int log_fd, struct diag *d)
{
    struct proc_opts po;
    char why[96];
    int mfd, status = 0, r;

    if ((mfd = memfd_create("vmkit-image-output", MFD_CLOEXEC)) < 0) {
        r = -errno;
        diag_error(d, image, 0, 0, "cannot %s: cannot make a buffer for %s's output: %s",
                   what, argv[0], strerror(errno));
        return r;
    }
    proc_opts_init(&po);
    po.stdin_fd = PROC_NULL;
    po.stdout_fd = mfd;
    po.stderr_fd = mfd;
    po.keep_fds = keep;
    po.nkeep_fds = nkeep;
    image_log_command(log_fd, argv);
    r = proc_run(argv[0], argv, &po, TIMEOUT_MS, &status);
    copy_to_log(mfd, log_fd);
    if (r == -ENOENT) {
        diag_error(d, image, 0, 0, "cannot %s: %s is not installed (Debian package %s)",
                   what, argv[0], package);
    } else if (r == -ETIMEDOUT) {
        diag_error(d, image, 0, 0, "cannot %s: %s did not finish in %d seconds",
                   what, argv[0], IMAGE_TIMEOUT_S);
    } else if (r < 0 && r != -ECANCELED) {
        diag_error(d, image, 0, 0, "cannot %s: cannot run %s: %s", what, argv[0],
                   strerror(-r));
    } else if (r == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        char *tail = output_tail(mfd);

        diag_error(d, image, 0, 0, "cannot %s: %s %s%s%s%s", what, argv[0],
                   proc_status_text(status, why, sizeof(why)),
                   tail ? "; its last output: " : " (no output)", tail ? tail : "",
                   tail && log_fd >= 0 ? " (all of it is in the log)" : "");
        free(tail);
        r = -EIO;
    }
    close(mfd);
    return r;
}

int image_run(char *const argv[], const char *package, const char *image, const char *what,
              int log_fd, struct diag *d)
{
    return run(argv, NULL, 0, package, image, what, log_fd, d);
}

int image_capture(char *const argv[], int timeout_s, int log_fd, char **out_r, char **tail_r,
                  int *status_r)
{
    struct proc_opts po;
    int ofd, efd, r;
    size_t len;

    *out_r = *tail_r = NULL;
    *status_r = 0;
    if ((ofd = memfd_create("vmkit-capture-out", MFD_CLOEXEC)) < 0)
        return -errno;
    if ((efd = memfd_create("vmkit-capture-err", MFD_CLOEXEC)) < 0) {
        r = -errno;
        close(ofd);
        return r;
    }
    proc_opts_init(&po);
    po.stdin_fd = PROC_NULL;
    po.stdout_fd = ofd;
    po.stderr_fd = efd;
    image_log_command(log_fd, argv);
    r = proc_run(argv[0], argv, &po, timeout_s * 1000, status_r);
    copy_to_log(ofd, log_fd);
    copy_to_log(efd, log_fd);
    if (r == 0) {
        *tail_r = output_tail(efd);
        if (lseek(ofd, 0, SEEK_SET) < 0)
            r = -errno;
        else
            r = fd_read_bounded(ofd, 4 << 20, out_r, &len);
        if (r < 0) {
            free(*tail_r);
            *tail_r = NULL;
        }
    }
    close(ofd);
    close(efd);
    return r;
}

/* ---- arguments and the image file ---- */

static int check_label(enum fs_kind k, const char *label, const char *image, struct diag *d)
{
    if (!label || !*label)
        return 0;
    if (strlen(label) > fs_table[k].label_max) {
        diag_error(d, image, 0, 0, "label `%s' is longer than %zu bytes, the most %s takes",
                   label, fs_table[k].label_max, fs_table[k].name);
        return -EINVAL;
    }
    for (const char *c = label; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            diag_error(d, image, 0, 0, "label has a control character");
            return -EINVAL;
        }
    }
    return 0;
}

static int check_size(enum fs_kind k, uint64_t size, uint64_t multiple, const char *image,
                      struct diag *d)
{
    if (size % multiple || size > (uint64_t)INT64_MAX) {
        diag_error(d, image, 0, 0, "size %" PRIu64 " is not a multiple of %" PRIu64 " bytes",
                   size, multiple);
        return -EINVAL;
    }
    if (size < fs_table[k].min_size) {
        diag_error(d, image, 0, 0, "size %" PRIu64 " bytes is less than %" PRIu64
                   " (%" PRIu64 " MiB), the least %s can be made in", size,
                   fs_table[k].min_size, fs_table[k].min_size >> 20, fs_table[k].name);
        return -EINVAL;
    }
    return 0;
}

/* Whether path is a block device (a logical volume) of at least size
 * bytes, to be written as it is; -errno (recorded) when it is one but
 * too small or unreadable, 0 when it is not one. */
static int block_device(const char *path, uint64_t size, struct diag *d)
{
    struct stat st;
    uint64_t bytes = 0;
    int fd;

    if (stat(path, &st) < 0 || !S_ISBLK(st.st_mode))
        return 0;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0 ||
        ioctl(fd, BLKGETSIZE64, &bytes) < 0) {
        int r = -errno;

        diag_error(d, path, 0, 0, "cannot read the device's size: %s", strerror(-r));
        if (fd >= 0)
            close(fd);
        return r;
    }
    close(fd);
    if (bytes < size) {
        diag_error(d, path, 0, 0, "the device holds %" PRIu64 " bytes, less than the %"
                   PRIu64 " asked for", bytes, size);
        return -ENOSPC;
    }
    return 1;
}

/* Makes path, a new sparse file of size bytes, mode 0600; or takes path
 * as it is when it is a block device that large (1).  0, 1 or -errno
 * (recorded). */
static int create_image(const char *path, uint64_t size, struct diag *d)
{
    int fd, r = block_device(path, size, d);

    if (r)
        return r;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);

    if (fd < 0) {
        r = -errno;
        if (r == -EEXIST)
            diag_error(d, path, 0, 0, "cannot make the image: it exists");
        else
            diag_error(d, path, 0, 0, "cannot make the image: %s", strerror(-r));
        return r;
    }
    if (ftruncate(fd, (off_t)size) < 0) {
        r = -errno;
        diag_error(d, path, 0, 0, "cannot make the image %" PRIu64 " bytes long: %s", size,
                   strerror(-r));
    }
    if (close(fd) < 0 && !r) {
        r = -errno;
        diag_error(d, path, 0, 0, "cannot make the image: %s", strerror(-r));
    }
    if (r)
        unlink(path);
    return r;
}

/* ---- the tree ---- */

struct link {
    ino_t ino;
    nlink_t nlink;
    char *rel;
};

struct walk {
    enum fs_kind fs;
    const char *top;            /* the tree as named by the caller */
    dev_t dev;                  /* its file system */
    int topfd;                  /* open on the top; xfs: /proc/self/fd/TOPFD/... */
    FILE *proto;                /* xfs: the protofile */
    FILE *fix;                  /* xfs: xfs_db commands for the sticky bits */
    size_t nfix;
    char rel[PATH_MAX];         /* the entry under the top: "/etc/hosts" */
    size_t rel_len;
    struct link *links;         /* btrfs: files with more than one link */
    size_t nlinks, cap_links;
    size_t ndevs, nxattrs;      /* btrfs: device nodes; xfs: entries with xattrs */
    char *first_dev, *first_xattr;
    unsigned nbad;
    struct diag *d;
};

/* Records that the current entry cannot go into the image. */
__attribute__((format(printf, 2, 3)))
static void bad(struct walk *w, const char *fmt, ...)
{
    char *file = NULL, *msg = NULL;
    va_list ap;

    w->nbad++;
    if (w->nbad > MAX_BAD)
        return;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (asprintf(&file, "%s%s", w->top, w->rel) < 0)
        file = NULL;
    if (w->nbad == MAX_BAD)
        diag_error(w->d, file ? file : w->top, 0, 0, "%s (and the walk stops here)",
                   msg ? msg : "out of memory");
    else
        diag_error(w->d, file ? file : w->top, 0, 0, "%s", msg ? msg : "out of memory");
    free(file);
    free(msg);
}

/* A name or symlink target mkfs.xfs's protofile reader takes back as it
 * is: a token without space, tab or newline, not starting a comment. */
static const char *xfs_token_problem(const char *s)
{
    if (!*s)
        return "is empty";
    if (strpbrk(s, " \t\n"))
        return "has a space, tab or newline";
    if (*s == ':')
        return "starts with `:' (a comment)";
    return NULL;
}

/* A path xfs_db's command line takes as one word. */
static bool xfs_db_word(const char *s)
{
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                     "%+,-./=@_") == strlen(s);
}

/* "-ug755" and the like: the type, then setuid, setgid, permissions. */
static void xfs_mode(char out[8], char type, mode_t mode)
{
    snprintf(out, 8, "%c%c%c%03o", type, mode & S_ISUID ? 'u' : '-',
             mode & S_ISGID ? 'g' : '-', (unsigned)(mode & 0777));
}

static int note_first(char **first, const char *top, const char *rel, const char *extra)
{
    if (*first)
        return 0;
    if (asprintf(first, "%s%s%s%s", top, rel, extra ? ", " : "", extra ? extra : "") < 0) {
        *first = NULL;
        return -ENOMEM;
    }
    return 0;
}

static int walk_dir(struct walk *w, int dfd, unsigned depth);

/* The xfs protofile line (and more) for the entry name in dfd. */
static int xfs_entry(struct walk *w, int dfd, const char *name, const struct stat *st,
                     unsigned depth)
{
    const char *why;
    char mode[8], target[XFS_SYMLINK_MAX + 2], xpath[PATH_MAX + 32];
    ssize_t n;
    int r = 0;

    if (S_ISSOCK(st->st_mode))
        return 0;               /* a socket is nothing without its server */
    if ((why = xfs_token_problem(name)) || !strcmp(name, "$")) {
        bad(w, "the name %s: mkfs.xfs's protofile cannot say it",
            why ? why : "is `$' (the end of a directory)");
        return 0;
    }
    snprintf(xpath, sizeof(xpath), "/proc/self/fd/%d%s", w->topfd, w->rel);
    n = llistxattr(xpath, NULL, 0);
    if (n > 0) {
        char *names = malloc((size_t)n + 1);
        ssize_t got = names ? llistxattr(xpath, names, (size_t)n) : -1;

        if (got > 0)
            names[got - 1] = '\0';
        w->nxattrs++;
        r = note_first(&w->first_xattr, w->top, w->rel, got > 0 ? names : NULL);
        free(names);
        if (r)
            return r;
    }
    if (st->st_mode & S_ISVTX) {
        if (!xfs_db_word(w->rel)) {
            bad(w, "has the sticky bit, which is set with xfs_db afterwards, "
                "and xfs_db cannot take this path");
            return 0;
        }
        fprintf(w->fix, "path %s\nwrite core.mode 0%o\n", w->rel, (unsigned)st->st_mode);
        w->nfix++;
    }
    fprintf(w->proto, "%*s%s ", (int)depth, "", name);
    switch (st->st_mode & S_IFMT) {
    case S_IFREG:
        if (st->st_size > XFS_FILE_MAX) {
            bad(w, "%lld bytes: mkfs.xfs 6.1's protofile cannot copy a file larger "
                "than %lld bytes", (long long)st->st_size, XFS_FILE_MAX);
            break;
        }
        xfs_mode(mode, '-', st->st_mode);
        fprintf(w->proto, "%s %u %u %s\n", mode, (unsigned)st->st_uid, (unsigned)st->st_gid,
                xpath);
        break;
    case S_IFDIR: {
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        if (fd < 0) {
            bad(w, "cannot open the directory: %s", strerror(errno));
            break;
        }
        xfs_mode(mode, 'd', st->st_mode);
        fprintf(w->proto, "%s %u %u\n", mode, (unsigned)st->st_uid, (unsigned)st->st_gid);
        r = walk_dir(w, fd, depth + 1);
        fprintf(w->proto, "%*s$\n", (int)depth + 1, "");
        break;
    }
    case S_IFLNK:
        n = readlinkat(dfd, name, target, sizeof(target));
        if (n < 0) {
            bad(w, "cannot read the symbolic link: %s", strerror(errno));
            break;
        }
        if (n > XFS_SYMLINK_MAX) {
            bad(w, "the symbolic link's target is longer than %d bytes, the most xfs takes",
                XFS_SYMLINK_MAX);
            break;
        }
        target[n] = '\0';
        if ((why = xfs_token_problem(target))) {
            bad(w, "the symbolic link's target %s: mkfs.xfs's protofile cannot say it", why);
            break;
        }
        xfs_mode(mode, 'l', st->st_mode);
        fprintf(w->proto, "%s %u %u %s\n", mode, (unsigned)st->st_uid, (unsigned)st->st_gid,
                target);
        break;
    case S_IFCHR:
    case S_IFBLK:
        if (major(st->st_rdev) > XFS_MAJOR_MAX || minor(st->st_rdev) > XFS_MINOR_MAX) {
            bad(w, "device %u:%u: xfs takes majors up to %d and minors up to %d",
                major(st->st_rdev), minor(st->st_rdev), XFS_MAJOR_MAX, XFS_MINOR_MAX);
            break;
        }
        xfs_mode(mode, S_ISCHR(st->st_mode) ? 'c' : 'b', st->st_mode);
        fprintf(w->proto, "%s %u %u %u %u\n", mode, (unsigned)st->st_uid,
                (unsigned)st->st_gid, major(st->st_rdev), minor(st->st_rdev));
        break;
    case S_IFIFO:
        xfs_mode(mode, 'p', st->st_mode);
        fprintf(w->proto, "%s %u %u\n", mode, (unsigned)st->st_uid, (unsigned)st->st_gid);
        break;
    default:
        bad(w, "of an unknown type (mode %#o)", (unsigned)st->st_mode);
        break;
    }
    return r;
}

/* The checks btrfs-progs 6.2's --rootdir needs. */
static int btrfs_entry(struct walk *w, const struct stat *st)
{
    if (st->st_ino <= BTRFS_FIRST_FREE_INO) {
        bad(w, "inode number %ju: mkfs.btrfs --rootdir keeps the tree's inode numbers, "
            "and btrfs reserves those up to %d", (uintmax_t)st->st_ino, BTRFS_FIRST_FREE_INO);
        return 0;
    }
    if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
        w->ndevs++;
        if (note_first(&w->first_dev, w->top, w->rel, NULL))
            return -ENOMEM;
    }
    if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
        if (w->nlinks == w->cap_links) {
            size_t cap = w->cap_links ? w->cap_links * 2 : 64;
            struct link *v = realloc(w->links, cap * sizeof(*v));

            if (!v)
                return -ENOMEM;
            w->links = v;
            w->cap_links = cap;
        }
        if (!(w->links[w->nlinks].rel = strdup(w->rel)))
            return -ENOMEM;
        w->links[w->nlinks].ino = st->st_ino;
        w->links[w->nlinks].nlink = st->st_nlink;
        w->nlinks++;
    }
    return 0;
}

static int walk_entry(struct walk *w, int dfd, const char *name, unsigned depth)
{
    size_t old = w->rel_len, nlen = strlen(name);
    struct stat st;
    int r = 0;

    if (proc_cancelled())
        return -ECANCELED;
    if (old + 1 + nlen >= sizeof(w->rel)) {
        bad(w, "a name under it makes a path longer than %zu bytes", sizeof(w->rel) - 1);
        return 0;
    }
    w->rel[old] = '/';
    memcpy(w->rel + old + 1, name, nlen + 1);
    w->rel_len = old + 1 + nlen;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        bad(w, "cannot stat: %s", strerror(errno));
    } else if (st.st_dev != w->dev) {
        bad(w, "is on another file system than the tree (a mount point, a btrfs "
            "subvolume?): images are made of one file system's tree");
    } else if (w->fs == FS_XFS) {
        r = xfs_entry(w, dfd, name, &st, depth);
    } else {
        if (w->fs == FS_BTRFS)
            r = btrfs_entry(w, &st);
        if (!r && S_ISDIR(st.st_mode)) {
            int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

            if (fd < 0)
                bad(w, "cannot open the directory: %s", strerror(errno));
            else
                r = walk_dir(w, fd, depth + 1);
        }
    }
    w->rel_len = old;
    w->rel[old] = '\0';
    if (!r && w->nbad >= MAX_BAD)
        r = -EINVAL;
    return r;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walks the directory open on dfd (which it closes), entries in name
 * order.  0 (entries refused are counted in w->nbad), or -errno to stop. */
static int walk_dir(struct walk *w, int dfd, unsigned depth)
{
    DIR *dir;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int r = 0;

    if (depth > MAX_DEPTH) {
        bad(w, "directories nested deeper than %d", MAX_DEPTH);
        close(dfd);
        return 0;
    }
    if (!(dir = fdopendir(dfd))) {
        r = -errno;
        close(dfd);
        bad(w, "cannot read the directory: %s", strerror(-r));
        return 0;
    }
    for (errno = 0; (e = readdir(dir)); errno = 0) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (n == cap) {
            size_t c = cap ? cap * 2 : 32;
            char **v = realloc(names, c * sizeof(*v));

            if (!v) {
                r = -ENOMEM;
                goto out;
            }
            names = v;
            cap = c;
        }
        if (!(names[n] = strdup(e->d_name))) {
            r = -ENOMEM;
            goto out;
        }
        n++;
    }
    if (errno) {
        bad(w, "cannot read the directory: %s", strerror(errno));
        goto out;
    }
    if (n)
        qsort(names, n, sizeof(*names), by_name);
    for (size_t i = 0; i < n && !r; i++)
        r = walk_entry(w, dirfd(dir), names[i], depth);

out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(dir);
    return r;
}

static int by_ino(const void *a, const void *b)
{
    const struct link *x = a, *y = b;

    return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* btrfs: every file with hard links has them all in the tree. */
static void btrfs_check_links(struct walk *w)
{
    if (w->nlinks)
        qsort(w->links, w->nlinks, sizeof(*w->links), by_ino);
    for (size_t i = 0, j; i < w->nlinks; i = j) {
        for (j = i + 1; j < w->nlinks && w->links[j].ino == w->links[i].ino; j++)
            ;
        if (j - i != w->links[i].nlink) {
            size_t old = w->rel_len;

            snprintf(w->rel, sizeof(w->rel), "%s", w->links[i].rel);
            w->rel_len = strlen(w->rel);
            bad(w, "has %ju hard links, %zu of them in the tree: mkfs.btrfs --rootdir "
                "would write a wrong link count", (uintmax_t)w->links[i].nlink, j - i);
            w->rel[old] = '\0';
            w->rel_len = old;
        }
    }
}

static void walk_dispose(struct walk *w)
{
    for (size_t i = 0; i < w->nlinks; i++)
        free(w->links[i].rel);
    free(w->links);
    free(w->first_dev);
    free(w->first_xattr);
    if (w->proto)
        fclose(w->proto);
    if (w->fix)
        fclose(w->fix);
}

/* A memfd and a stream writing it: the fd (to name as /proc/self/fd/N)
 * or -errno. */
static int memfile(const char *name, FILE **f_r)
{
    int fd = memfd_create(name, MFD_CLOEXEC), dupfd;

    if (fd < 0)
        return -errno;
    if ((dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0 || !(*f_r = fdopen(dupfd, "w"))) {
        int e = errno;

        if (dupfd >= 0)
            close(dupfd);
        close(fd);
        return -e;
    }
    return fd;
}

/* ---- building ---- */

static int build_xfs(struct walk *w, const char *label, const char *path, int proto_fd,
                     int fix_fd, int log_fd, struct diag *d)
{
    char proto_arg[64], fix_arg[64];
    char *argv[12];
    int keep[2] = { proto_fd, w->topfd };
    int n = 0, r;

    snprintf(proto_arg, sizeof(proto_arg), "/proc/self/fd/%d", proto_fd);
    argv[n++] = (char *)"mkfs.xfs";
    argv[n++] = (char *)"-q";
    if (label && *label) {
        argv[n++] = (char *)"-L";
        argv[n++] = (char *)label;
    }
    argv[n++] = (char *)"-p";
    argv[n++] = proto_arg;
    argv[n++] = (char *)path;
    argv[n] = NULL;
    r = run(argv, keep, 2, fs_table[FS_XFS].package, path, "make the xfs file system",
            log_fd, d);
    if (r || !w->nfix)
        return r;
    snprintf(fix_arg, sizeof(fix_arg), "source /proc/self/fd/%d", fix_fd);
    n = 0;
    argv[n++] = (char *)"xfs_db";
    argv[n++] = (char *)"-x";
    argv[n++] = (char *)"-c";
    argv[n++] = fix_arg;
    argv[n++] = (char *)path;
    argv[n] = NULL;
    return run(argv, &fix_fd, 1, fs_table[FS_XFS].package, path,
               "set the sticky bits in the xfs file system", log_fd, d);
}

static int build_mkfs(enum fs_kind k, const char *srcdir, const char *label,
                      const char *features, const char *path, int log_fd, struct diag *d)
{
    char *argv[16];
    int n = 0;

    if (k == FS_EXT4) {
        argv[n++] = (char *)"mke2fs";
        argv[n++] = (char *)"-q";
        argv[n++] = (char *)"-F";
        argv[n++] = (char *)"-t";
        argv[n++] = (char *)"ext4";
        if (label && *label) {
            argv[n++] = (char *)"-L";
            argv[n++] = (char *)label;
        }
        argv[n++] = (char *)"-d";
        argv[n++] = (char *)srcdir;
        argv[n++] = (char *)"-E";
        argv[n++] = (char *)"root_owner=0:0";
        if (features && *features) {
            argv[n++] = (char *)"-O";
            argv[n++] = (char *)features;
        }
        argv[n++] = (char *)path;
    } else {
        argv[n++] = (char *)"mkfs.btrfs";
        argv[n++] = (char *)"-q";
        argv[n++] = (char *)"-f";
        if (label && *label) {
            argv[n++] = (char *)"-L";
            argv[n++] = (char *)label;
        }
        argv[n++] = (char *)"--rootdir";
        argv[n++] = (char *)srcdir;
        argv[n++] = (char *)path;
    }
    argv[n] = NULL;
    return run(argv, NULL, 0, fs_table[k].package, path,
               k == FS_EXT4 ? "make the ext4 file system" : "make the btrfs file system",
               log_fd, d);
}

int image_build_fs(const char *fs, const char *srcdir, const char *label, uint64_t size,
                   const char *features, const char *path, const char *tmpdir, int log_fd,
                   struct diag *d)
{
    enum fs_kind k = fs_lookup(fs);
    struct walk w = { .fs = k, .top = srcdir, .topfd = -1, .d = d };
    struct stat st;
    int proto_fd = -1, fix_fd = -1, r;
    bool created = false;

    (void)tmpdir;                       /* temporaries are memfds */
    if (k == FS_NONE || k == FS_SWAP) {
        diag_error(d, path, 0, 0, "cannot make a `%s' file system (ext4, xfs or btrfs)",
                   fs ? fs : "(null)");
        return -EINVAL;
    }
    if ((r = check_label(k, label, path, d)) || (r = check_size(k, size, 512, path, d)))
        return r;
    if (features && strspn(features, "abcdefghijklmnopqrstuvwxyz0123456789_^,") !=
        strlen(features)) {
        diag_error(d, path, 0, 0, "file system features `%s': expected names, `^' and `,'",
                   features);
        return -EINVAL;
    }
    if ((r = create_image(path, size, d)) < 0)
        return r;
    created = r == 0;
    r = 0;

    /* the tree */
    if ((w.topfd = open(srcdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        fstat(w.topfd, &st) < 0) {
        r = -errno;
        diag_error(d, srcdir, 0, 0, "cannot read the tree for %s: %s", path, strerror(-r));
        goto out;
    }
    w.dev = st.st_dev;
    if (k == FS_XFS) {
        if ((proto_fd = memfile("vmkit-xfs-protofile", &w.proto)) < 0 ||
            (fix_fd = memfile("vmkit-xfs-db", &w.fix)) < 0) {
            r = proto_fd < 0 ? proto_fd : fix_fd;
            diag_error(d, path, 0, 0, "cannot make the protofile: %s", strerror(-r));
            goto out;
        }
        /* the boot image name and two numbers: unused, required */
        fprintf(w.proto, "/\n0 0\nd--755 0 0\n");
    }
    if ((r = fcntl(w.topfd, F_DUPFD_CLOEXEC, 3)) >= 0)
        r = walk_dir(&w, r, 0);
    else
        r = -errno;
    if (!r && k == FS_BTRFS)
        btrfs_check_links(&w);          /* after a whole walk only */
    if (r == -EINVAL)
        r = 0;                          /* too many refused entries: counted */
    if (r == -ECANCELED)
        goto out;
    if (r) {
        diag_error(d, srcdir, 0, 0, "cannot walk the tree for %s: %s", path, strerror(-r));
        goto out;
    }
    if (w.nbad) {
        r = -EINVAL;
        goto out;
    }
    if (k == FS_XFS) {
        fprintf(w.proto, "$\n");
        if (fflush(w.proto) || ferror(w.proto) || fflush(w.fix) || ferror(w.fix)) {
            r = errno ? -errno : -EIO;
            diag_error(d, path, 0, 0, "cannot write the protofile: %s", strerror(-r));
            goto out;
        }
        r = build_xfs(&w, label, path, proto_fd, fix_fd, log_fd, d);
    } else {
        r = build_mkfs(k, srcdir, label, features, path, log_fd, d);
    }
    if (r)
        goto out;

    /* mkfs.btrfs --rootdir grows an image it thinks too small */
    if (stat(path, &st) < 0) {
        r = -errno;
        diag_error(d, path, 0, 0, "the image made is gone: %s", strerror(-r));
        goto out;
    }
    if (created && (uint64_t)st.st_size != size) {
        diag_error(d, path, 0, 0, "%s needs more than %" PRIu64 " bytes for the tree "
                   "(%s made the image %jd bytes long)", fs_table[k].name, size,
                   fs_table[k].program, (intmax_t)st.st_size);
        r = -ENOSPC;
        goto out;
    }
    if (w.ndevs)
        diag_warn(d, path, 0, 0, "%zu device node%s (the first: %s) made 0:0: btrfs-progs's "
                  "--rootdir does not copy device numbers", w.ndevs, w.ndevs == 1 ? "" : "s",
                  w.first_dev);
    if (w.nxattrs)
        diag_warn(d, path, 0, 0, "extended attributes of %zu entr%s (the first: %s) left "
                  "out: mkfs.xfs's protofile cannot carry them", w.nxattrs,
                  w.nxattrs == 1 ? "y" : "ies", w.first_xattr);

out:
    if (r && created)
        unlink(path);
    walk_dispose(&w);
    if (w.topfd >= 0)
        close(w.topfd);
    if (proto_fd >= 0)
        close(proto_fd);
    if (fix_fd >= 0)
        close(fix_fd);
    return r;
}

int image_convert_qcow2(const char *raw, const char *dst, int log_fd, struct diag *d)
{
    struct stat st;
    char *argv[] = { (char *)"qemu-img", (char *)"convert", (char *)"-q", (char *)"-f",
                     (char *)"raw", (char *)"-O", (char *)"qcow2", (char *)raw,
                     (char *)dst, NULL };
    int r;

    if (stat(raw, &st) < 0) {
        r = -errno;
        diag_error(d, raw, 0, 0, "cannot convert to qcow2: %s", strerror(-r));
        return r;
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        diag_error(d, raw, 0, 0, "cannot convert to qcow2: neither a file nor a block device");
        return -EINVAL;
    }
    /* claimed first, so that an existing dst is never written over */
    if ((r = create_image(dst, 0, d)) > 0) {
        diag_error(d, dst, 0, 0, "a qcow2 image goes in a file, not on a device");
        return -EINVAL;
    }
    if (r)
        return r;
    r = run(argv, NULL, 0, "qemu-utils", dst, "convert the raw image to qcow2", log_fd, d);
    if (r)
        unlink(dst);
    return r;
}

int image_make_swap(const char *path, uint64_t size, const char *label, int log_fd,
                    struct diag *d)
{
    char *argv[8];
    int n = 0, r;
    bool created;

    if ((r = check_label(FS_SWAP, label, path, d)) ||
        (r = check_size(FS_SWAP, size, 4096, path, d)))
        return r;
    if ((r = create_image(path, size, d)) < 0)
        return r;
    created = r == 0;
    argv[n++] = (char *)"mkswap";
    if (label && *label) {
        argv[n++] = (char *)"-L";
        argv[n++] = (char *)label;
    }
    argv[n++] = (char *)path;
    argv[n] = NULL;
    r = run(argv, NULL, 0, fs_table[FS_SWAP].package, path, "make the swap area", log_fd, d);
    if (r && created)
        unlink(path);
    return r;
}

/* ---- a file system inside a partition ---- */

static bool good_uuid(const char *u)
{
    if (!u || strlen(u) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;

        if (dash ? u[i] != '-' : !strchr("0123456789abcdef", u[i]))
            return false;
    }
    return true;
}

/* Copies len bytes of src (from 0) into dst at off, holes left as holes
 * (SEEK_DATA/SEEK_HOLE; the region is a fresh sparse one). */
static int copy_region(const char *src, const char *dst, uint64_t off, uint64_t len,
                       struct diag *d)
{
    int in = open(src, O_RDONLY | O_CLOEXEC), out = open(dst, O_WRONLY | O_CLOEXEC), r = 0;
    off_t pos = 0;

    if (in < 0 || out < 0) {
        r = -errno;
        diag_error(d, dst, 0, 0, "cannot copy %s into the image: %s", src, strerror(-r));
        goto out;
    }
    while ((uint64_t)pos < len) {
        off_t data = lseek(in, pos, SEEK_DATA), hole;

        if (data < 0) {
            if (errno == ENXIO)
                break;                  /* only a hole is left */
            r = -errno;
            break;
        }
        if ((hole = lseek(in, data, SEEK_HOLE)) < 0) {
            r = -errno;
            break;
        }
        if ((uint64_t)hole > len)
            hole = (off_t)len;
        for (off_t at = data; at < hole;) {
            off_t o = (off_t)off + at;
            ssize_t k = copy_file_range(in, &at, out, &o, (size_t)(hole - at), 0);

            if (k <= 0) {
                r = k < 0 ? -errno : -EIO;
                goto fail;
            }
        }
        pos = hole;
    }
fail:
    if (r)
        diag_error(d, dst, 0, 0, "cannot copy %s into the image: %s", src, strerror(-r));
    else if (fsync(out) < 0) {
        r = -errno;
        diag_error(d, dst, 0, 0, "cannot write the image: %s", strerror(-r));
    }
out:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return r;
}

int image_build_fs_at(const char *fs, const char *srcdir, const char *label, const char *uuid,
                      const char *features, const char *path, uint64_t offset, uint64_t size,
                      const char *tmpdir, int log_fd, struct diag *d)
{
    bool ext = fs && (!strcmp(fs, "ext2") || !strcmp(fs, "ext3") || !strcmp(fs, "ext4"));
    enum fs_kind k = ext ? FS_EXT4 : fs_lookup(fs);
    char *tmp = NULL, sizek[32], eopts[64];
    char *argv[24];
    struct stat st;
    int n = 0, r;

    if (k == FS_NONE) {
        diag_error(d, path, 0, 0, "cannot make a `%s' file system (ext2, ext3, ext4, xfs,"
                   " btrfs or swap)", fs ? fs : "(null)");
        return -EINVAL;
    }
    if (!good_uuid(uuid)) {
        diag_error(d, path, 0, 0, "`%s' is not a UUID in lower case", uuid ? uuid : "(null)");
        return -EINVAL;
    }
    if ((r = check_label(k, label, path, d)) ||
        (r = check_size(k, size, 1ULL << 20, path, d)))
        return r;
    if (offset % 4096) {
        diag_error(d, path, 0, 0, "offset %" PRIu64 " is not a multiple of 4096", offset);
        return -EINVAL;
    }
    /* a file, or a logical volume, that holds the region */
    if ((r = block_device(path, offset + size, d)) < 0)
        return r;
    if (!r && (stat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
               (uint64_t)st.st_size < offset + size)) {
        diag_error(d, path, 0, 0, "not an image file or device of at least %" PRIu64 " bytes",
                   offset + size);
        return -EINVAL;
    }
    if (features && strspn(features, "abcdefghijklmnopqrstuvwxyz0123456789_^,") !=
        strlen(features)) {
        diag_error(d, path, 0, 0, "file system features `%s': expected names, `^' and `,'",
                   features);
        return -EINVAL;
    }

    if (k == FS_EXT4) {
        /* written in place: mke2fs -E offset= (no loop device) */
        snprintf(sizek, sizeof sizek, "%" PRIu64 "k", size >> 10);
        snprintf(eopts, sizeof eopts, "offset=%" PRIu64 ",root_owner=0:0", offset);
        argv[n++] = (char *)"mke2fs";
        argv[n++] = (char *)"-q";
        argv[n++] = (char *)"-F";
        argv[n++] = (char *)"-t";
        argv[n++] = (char *)fs;
        if (label && *label) {
            argv[n++] = (char *)"-L";
            argv[n++] = (char *)label;
        }
        argv[n++] = (char *)"-U";
        argv[n++] = (char *)uuid;
        if (srcdir) {
            argv[n++] = (char *)"-d";
            argv[n++] = (char *)srcdir;
        }
        argv[n++] = (char *)"-E";
        argv[n++] = eopts;
        if (features && *features) {
            argv[n++] = (char *)"-O";
            argv[n++] = (char *)features;
        }
        argv[n++] = (char *)path;
        argv[n++] = sizek;
        argv[n] = NULL;
        return run(argv, NULL, 0, fs_table[k].package, path, "make an ext file system in"
                   " its partition", log_fd, d);
    }

    /* xfs, btrfs, swap: made in a file of their own, then copied in */
    if (asprintf(&tmp, "%s/part-%" PRIu64 ".img", tmpdir ? tmpdir : "/tmp", offset) < 0)
        return -ENOMEM;
    if (k == FS_SWAP) {
        r = check_size(k, size, 4096, tmp, d);
        if (!r && !(r = create_image(tmp, size, d))) {
            n = 0;
            argv[n++] = (char *)"mkswap";
            if (label && *label) {
                argv[n++] = (char *)"-L";
                argv[n++] = (char *)label;
            }
            argv[n++] = (char *)"-U";
            argv[n++] = (char *)uuid;
            argv[n++] = tmp;
            argv[n] = NULL;
            r = run(argv, NULL, 0, fs_table[k].package, tmp, "make the swap area", log_fd, d);
        }
    } else {
        r = image_build_fs(fs, srcdir, label, size, NULL, tmp, tmpdir, log_fd, d);
        if (!r) {
            n = 0;
            if (k == FS_XFS) {
                argv[n++] = (char *)"xfs_admin";
                argv[n++] = (char *)"-U";
                argv[n++] = (char *)uuid;
            } else {
                argv[n++] = (char *)"btrfstune";
                argv[n++] = (char *)"-f";
                argv[n++] = (char *)"-U";
                argv[n++] = (char *)uuid;
            }
            argv[n++] = tmp;
            argv[n] = NULL;
            r = run(argv, NULL, 0, fs_table[k].package, tmp, "set the file system's UUID",
                    log_fd, d);
        }
    }
    if (!r)
        r = copy_region(tmp, path, offset, size, d);
    unlink(tmp);
    free(tmp);
    return r;
}
