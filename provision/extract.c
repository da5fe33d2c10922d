/*
 * extract.c - archives and trees into a guest root, trees into archives,
 * with libarchive (see extract.h).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "extract.h"
#include "paths.h"
#include "proc.h"

#define READ_BLOCK      (1024 * 1024)
#define MAX_WARNINGS    10      /* per extraction, then one summary */

static const int disk_flags =
    ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
    ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_SPARSE |
    ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;

/* One extraction's state, for messages. */
struct run {
    const char *what;           /* the archive or tree, for messages */
    struct diag *d;
    unsigned long max_entries;
    unsigned flags;             /* extract_opts' */
    int rootfd;                 /* EXTRACT_DIR_LINKS: the destination */
    char *root_real;            /* ... and its path, as the kernel says it */
    struct extract_stats st;
    unsigned nwarnings;
    /* the member for the destination itself ("." or "./"), applied last:
     * libarchive leaves the directory it writes into alone */
    bool have_top;
    mode_t top_mode;
    uid_t top_uid;
    gid_t top_gid;
    struct timespec top_times[2];
};

/*
 * A member name fit for a message: control bytes and non-ASCII as \ooo,
 * at most about 160 characters.  Returns buf.
 */
static const char *shown(const char *name, char *buf, size_t len)
{
    size_t o = 0;

    if (!name)
        name = "(no name)";
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (o + 8 >= len || o > 160) {
            snprintf(buf + o, len - o, "...");
            return buf;
        }
        if (*p < 0x20 || *p >= 0x7f || *p == '\\')
            o += (size_t)snprintf(buf + o, len - o, "\\%03o", *p);
        else
            buf[o++] = (char)*p;
    }
    buf[o] = 0;
    return buf;
}

__attribute__((format(printf, 4, 5)))
static void member_error(struct run *run, enum diag_level level, const char *name,
                         const char *fmt, ...)
{
    char nbuf[256], msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_add(run->d, level, run->what, 0, 0, "%s: %s", shown(name, nbuf, sizeof nbuf), msg);
}

static void member_warning(struct run *run, const char *name, const char *msg)
{
    if (++run->nwarnings <= MAX_WARNINGS)
        member_error(run, DIAG_WARNING, name, "%s", msg);
}

/* Why name may not be written, or NULL. */
static const char *bad_path(const char *name)
{
    if (!name || !*name)
        return "no name";
    if (strlen(name) > PATH_MAX - 1)
        return "a name longer than PATH_MAX";
    if (name[0] == '/')
        return "an absolute path";
    if (paths_has_dotdot(name))
        return "a `..' component";
    return NULL;
}

/* Whether name is the destination itself: ".", "./", ".//." ... */
static bool is_top(const char *name)
{
    for (; *name; name++)
        if (*name != '.' && *name != '/')
            return false;
        else if (name[0] == '.' && name[1] == '.')
            return false;
    return true;
}

/* Refuses a member before it is written: 0, or -EINVAL after a message. */
static int check_member(struct run *run, struct archive_entry *e)
{
    const char *name = archive_entry_pathname(e);
    const char *link = archive_entry_hardlink(e);
    const char *why;

    if ((why = bad_path(name))) {
        member_error(run, DIAG_ERROR, name, "%s, refused", why);
        return -EINVAL;
    }
    if (link && (why = bad_path(link))) {
        char lbuf[256];

        member_error(run, DIAG_ERROR, name, "a hard link to %s: %s, refused",
                     shown(link, lbuf, sizeof lbuf), why);
        return -EINVAL;
    }
    return 0;
}

/*
 * EXTRACT_DIR_LINKS: the path that name (checked: relative, no `..')
 * reaches when each symbolic link met on the way, except a last
 * component that is not a directory, is resolved inside the destination
 * as the guest would resolve it.  A new string in *out_r; 0; 1 when name
 * is a directory whose own name is such a link (rpm leaves the link and
 * its target alone: the member is skipped); -ENOMEM, or -EINVAL after a
 * message naming the link.
 */
static int follow_dir_links(struct run *run, const char *name, bool is_dir, char **out_r)
{
    char *cur = calloc(1, strlen(name) + PATH_MAX + 2), *copy = strdup(name), *save = NULL;
    char lbuf[256];
    int r = 0;

    *out_r = NULL;
    if (!cur || !copy) {
        r = -ENOMEM;
        goto out;
    }
    for (char *c = strtok_r(copy, "/", &save), *next; c; c = next) {
        size_t len = strlen(cur);
        struct open_how how = {
            .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
            .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        char proc[64], real[PATH_MAX + 1];
        struct stat st;
        ssize_t n;
        long fd;

        next = strtok_r(NULL, "/", &save);
        if (!strcmp(c, "."))
            continue;
        if (len)
            cur[len++] = '/';
        strcpy(cur + len, c);
        if ((!next && !is_dir) ||
            fstatat(run->rootfd, cur, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISLNK(st.st_mode))
            continue;   /* written as it is; nothing beyond exists yet; a directory */
        fd = syscall(SYS_openat2, run->rootfd, cur, &how, sizeof(how));
        if (fd >= 0 && !next) {
            close((int)fd);
            r = 1;
            goto out;
        }
        if (fd < 0) {
            member_error(run, DIAG_ERROR, name, "the symbolic link %s on its path leads to"
                         " no directory in the root (%s), refused",
                         shown(cur, lbuf, sizeof lbuf), strerror(errno));
            r = -EINVAL;
            goto out;
        }
        snprintf(proc, sizeof proc, "/proc/self/fd/%ld", fd);
        n = readlink(proc, real, sizeof real - 1);
        close((int)fd);
        len = strcmp(run->root_real, "/") ? strlen(run->root_real) : 0;
        if (n < 0 || (size_t)n < len || memcmp(real, run->root_real, len) ||
            ((size_t)n > len && real[len] != '/')) {
            member_error(run, DIAG_ERROR, name, "cannot tell where the symbolic link %s"
                         " on its path leads, refused", shown(cur, lbuf, sizeof lbuf));
            r = -EINVAL;
            goto out;
        }
        real[n] = 0;
        /* the link's target, relative to the root ("" for the root itself) */
        strcpy(cur, real + len + ((size_t)n > len));
    }
    if (!*cur)
        strcpy(cur, ".");
    *out_r = cur;
    cur = NULL;
out:
    free(cur);
    free(copy);
    return r;
}

/* Rewrites e's name and hard-link target as follow_dir_links says; 1:
 * skip e. */
static int apply_dir_links(struct run *run, struct archive_entry *e)
{
    const char *link = archive_entry_hardlink(e);
    char *p = NULL;
    int r;

    if (!(run->flags & EXTRACT_DIR_LINKS))
        return 0;
    r = follow_dir_links(run, archive_entry_pathname(e),
                         archive_entry_filetype(e) == AE_IFDIR, &p);
    if (r)
        return r;
    archive_entry_copy_pathname(e, p);
    free(p);
    if (link) {
        if ((r = follow_dir_links(run, link, false, &p)) < 0)
            return r;
        archive_entry_copy_hardlink(e, p);
        free(p);
    }
    return 0;
}

/* Saves the working directory in *cwd_r and enters dest. */
static int enter(const char *dest, int *cwd_r, struct diag *d)
{
    int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    int r;

    *cwd_r = -1;
    if (cwd < 0) {
        r = -errno;
        diag_error(d, NULL, 0, 0, "cannot open the working directory: %s", strerror(-r));
        return r;
    }
    if (chdir(dest) < 0) {
        r = -errno;
        diag_error(d, dest, 0, 0, "cannot enter: %s", strerror(-r));
        close(cwd);
        return r;
    }
    *cwd_r = cwd;
    return 0;
}

static void leave(int cwd)
{
    if (cwd < 0)
        return;
    if (fchdir(cwd) < 0)
        abort();    /* the process would carry on in the guest's root */
    close(cwd);
}

static struct archive *disk_writer(void)
{
    struct archive *w = archive_write_disk_new();

    /* no user/group lookup: the archive's numeric ids are the guest's */
    if (w && archive_write_disk_set_options(w, disk_flags) != ARCHIVE_OK) {
        archive_write_free(w);
        return NULL;
    }
    return w;
}

/* Copies one member's data from in to the disk writer out. */
static int copy_to_disk(struct run *run, struct archive *in, struct archive *out,
                        const char *name)
{
    for (;;) {
        const void *buf;
        size_t size;
        la_int64_t off;
        int r = archive_read_data_block(in, &buf, &size, &off);

        if (r == ARCHIVE_EOF)
            return 0;
        if (r < ARCHIVE_WARN) {
            member_error(run, DIAG_ERROR, name, "cannot read: %s", archive_error_string(in));
            return -EINVAL;
        }
        if (proc_cancelled())
            return -ECANCELED;
        if (archive_write_data_block(out, buf, size, off) < ARCHIVE_WARN) {
            member_error(run, DIAG_ERROR, name, "cannot write: %s", archive_error_string(out));
            return -EIO;
        }
        run->st.bytes += size;
    }
}

/* Writes entry e (checked) and, when it has some, its data from in. */
static int put_entry(struct run *run, struct archive *in, struct archive *w,
                     struct archive_entry *e)
{
    const char *name = archive_entry_pathname(e);
    int r;

    if (archive_entry_filetype(e) == AE_IFSOCK) {
        member_warning(run, name, "a socket, skipped");
        return 0;
    }
    if (is_top(name)) {
        if (archive_entry_filetype(e) != AE_IFDIR) {
            member_error(run, DIAG_ERROR, name, "the top directory is not a directory, "
                         "refused");
            return -EINVAL;
        }
        run->have_top = true;
        run->top_mode = archive_entry_perm(e);
        run->top_uid = (uid_t)archive_entry_uid(e);
        run->top_gid = (gid_t)archive_entry_gid(e);
        run->top_times[0].tv_sec = archive_entry_atime(e);
        run->top_times[0].tv_nsec = archive_entry_atime_nsec(e);
        if (!archive_entry_atime_is_set(e))
            run->top_times[0].tv_nsec = UTIME_OMIT;
        run->top_times[1].tv_sec = archive_entry_mtime(e);
        run->top_times[1].tv_nsec = archive_entry_mtime_nsec(e);
        if (!archive_entry_mtime_is_set(e))
            run->top_times[1].tv_nsec = UTIME_OMIT;
        return 0;
    }
    r = archive_write_header(w, e);
    if (r < ARCHIVE_WARN) {
        member_error(run, DIAG_ERROR, name, "%s", archive_error_string(w));
        return archive_errno(w) == ENOSPC ? -EIO : -EINVAL;
    }
    if (r == ARCHIVE_WARN)
        member_warning(run, name, archive_error_string(w));
    if (archive_entry_size(e) > 0 && (r = copy_to_disk(run, in, w, name)) < 0)
        return r;
    r = archive_write_finish_entry(w);
    if (r < ARCHIVE_WARN) {
        member_error(run, DIAG_ERROR, name, "%s", archive_error_string(w));
        return -EIO;
    }
    if (r == ARCHIVE_WARN)
        member_warning(run, name, archive_error_string(w));
    return 0;
}

static int count_entry(struct run *run, const char *name)
{
    if (++run->st.entries > run->max_entries) {
        member_error(run, DIAG_ERROR, name, "more than %lu members, refused",
                     run->max_entries);
        return -E2BIG;
    }
    return 0;
}

/* Closes the disk writer (it sets directory times and modes then),
 * still inside the destination. */
static int close_writer(struct run *run, struct archive *w, int r)
{
    if (archive_write_close(w) < ARCHIVE_WARN && r == 0) {
        diag_error(run->d, run->what, 0, 0, "cannot finish: %s", archive_error_string(w));
        r = -EIO;
    }
    /* the destination's own owner, mode (after chown, which clears
     * set-id bits) and times, as its member says */
    if (r == 0 && run->have_top && lchown(".", run->top_uid, run->top_gid) < 0)
        member_warning(run, ".", "cannot restore the owner");
    if (r == 0 && run->have_top &&
        (chmod(".", run->top_mode & 07777) < 0 ||
         utimensat(AT_FDCWD, ".", run->top_times, 0) < 0)) {
        r = -errno;
        diag_error(run->d, run->what, 0, 0, "cannot set the attributes of the destination: %s",
                   strerror(-r));
        r = -EIO;
    }
    if (run->nwarnings > MAX_WARNINGS)
        diag_warn(run->d, run->what, 0, 0, "%u more warnings", run->nwarnings - MAX_WARNINGS);
    return r;
}

static void init_run(struct run *run, const char *what, const struct extract_opts *o,
                     struct diag *d)
{
    memset(run, 0, sizeof(*run));
    run->what = what;
    run->d = d;
    run->max_entries = o && o->max_entries ? o->max_entries : EXTRACT_MAX_ENTRIES;
    run->flags = o ? o->flags : 0;
    run->rootfd = -1;
}

/* EXTRACT_DIR_LINKS, once in dest: the root that links resolve in. */
static int open_root(struct run *run, const char *dest)
{
    char real[PATH_MAX + 1];
    ssize_t n;

    if (!(run->flags & EXTRACT_DIR_LINKS))
        return 0;
    run->rootfd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (run->rootfd < 0 || (n = readlink("/proc/self/cwd", real, sizeof real - 1)) < 0) {
        int r = -errno;

        diag_error(run->d, dest, 0, 0, "cannot open: %s", strerror(-r));
        return r;
    }
    real[n] = 0;
    return (run->root_real = strdup(real)) ? 0 : -ENOMEM;
}

static void close_root(struct run *run)
{
    if (run->rootfd >= 0)
        close(run->rootfd);
    run->rootfd = -1;
    free(run->root_real);
    run->root_real = NULL;
}

int extract_archive_fd(int fd, const char *name, const char *dest,
                       const struct extract_opts *o, struct extract_stats *stats,
                       struct diag *d)
{
    struct archive *a = NULL, *w = NULL;
    struct run run;
    int cwd = -1, r;

    init_run(&run, name, o, d);
    if (!(a = archive_read_new()) || !(w = disk_writer())) {
        r = -ENOMEM;
        goto out;
    }
    archive_read_support_format_tar(a);
    archive_read_support_format_cpio(a);
    archive_read_support_format_zip(a);
    archive_read_support_format_7zip(a);
    archive_read_support_format_iso9660(a);
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_bzip2(a);
    archive_read_support_filter_xz(a);
    archive_read_support_filter_lzma(a);
    archive_read_support_filter_lzip(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_filter_lz4(a);
    archive_read_support_filter_compress(a);
    archive_read_support_filter_rpm(a);
    if (archive_read_open_fd(a, fd, READ_BLOCK) != ARCHIVE_OK) {
        diag_error(d, name, 0, 0, "cannot read: %s", archive_error_string(a));
        r = -EINVAL;
        goto out;
    }
    if ((r = enter(dest, &cwd, d)) < 0 || (r = open_root(&run, dest)) < 0)
        goto out;
    for (;;) {
        struct archive_entry *e;
        int h = archive_read_next_header(a, &e);

        if (h == ARCHIVE_EOF)
            break;
        if (proc_cancelled()) {
            r = -ECANCELED;
            break;
        }
        if (h < ARCHIVE_WARN) {
            if (run.st.entries)
                diag_error(d, name, 0, 0, "cannot read after %lu members: %s",
                           run.st.entries, archive_error_string(a));
            else
                diag_error(d, name, 0, 0, "cannot read: %s", archive_error_string(a));
            r = -EINVAL;
            break;
        }
        if (h == ARCHIVE_WARN)
            member_warning(&run, archive_entry_pathname(e), archive_error_string(a));
        if ((r = count_entry(&run, archive_entry_pathname(e))) < 0 ||
            (r = check_member(&run, e)) < 0 ||
            (r = apply_dir_links(&run, e)) < 0 ||
            (r == 0 && (r = put_entry(&run, a, w, e)) < 0))
            break;
        r = 0;
    }
    r = close_writer(&run, w, r);
out:
    close_root(&run);
    leave(cwd);
    if (w)
        archive_write_free(w);
    if (a)
        archive_read_free(a);
    if (stats)
        *stats = run.st;
    return r;
}

int extract_archive(const char *archive_path, const char *dest,
                    const struct extract_opts *o, struct extract_stats *stats,
                    struct diag *d)
{
    int fd = open(archive_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    int r;

    if (fd < 0) {
        r = -errno;
        diag_error(d, archive_path, 0, 0, "cannot open: %s", strerror(-r));
        if (stats)
            memset(stats, 0, sizeof(*stats));
        return r;
    }
    r = extract_archive_fd(fd, archive_path, dest, o, stats, d);
    close(fd);
    return r;
}

/* --- trees ------------------------------------------------------------ */

/* srcdir without trailing slashes, in a new string. */
static char *trimmed(const char *srcdir)
{
    char *s = strdup(srcdir);
    size_t n;

    if (!s)
        return NULL;
    n = strlen(s);
    while (n > 1 && s[n - 1] == '/')
        s[--n] = 0;
    return s;
}

/* A reader of the tree at src, physical (links not followed), not
 * crossing mount points, with xattrs and ACLs. */
static struct archive *tree_reader(const char *src, struct diag *d, int *r_r)
{
    struct archive *disk;
    struct stat st;

    if (stat(src, &st) < 0 || (!S_ISDIR(st.st_mode) && (errno = ENOTDIR))) {
        *r_r = -errno;
        diag_error(d, src, 0, 0, "cannot read: %s", strerror(errno));
        return NULL;
    }
    *r_r = -ENOMEM;
    if (!(disk = archive_read_disk_new()))
        return NULL;
    if (archive_read_disk_set_symlink_physical(disk) != ARCHIVE_OK ||
        archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS |
                                       ARCHIVE_READDISK_NO_FFLAGS) != ARCHIVE_OK) {
        archive_read_free(disk);
        return NULL;
    }
    if (archive_read_disk_open(disk, src) != ARCHIVE_OK) {
        *r_r = archive_errno(disk) > 0 ? -archive_errno(disk) : -EIO;
        diag_error(d, src, 0, 0, "cannot read: %s", archive_error_string(disk));
        archive_read_free(disk);
        return NULL;
    }
    *r_r = 0;
    return disk;
}

/*
 * The next entry of the tree, renamed relative to src ("." for src), in
 * e; 1 at the end, 0, or -errno after a message.
 */
static int tree_next(struct run *run, struct archive *disk, const char *src,
                     struct archive_entry *e)
{
    size_t n = strlen(src);
    const char *p;
    int r;

    for (;;) {
        archive_entry_clear(e);
        r = archive_read_next_header2(disk, e);
        if (r == ARCHIVE_EOF)
            return 1;
        p = archive_entry_pathname(e);
        if (r < ARCHIVE_WARN) {
            if (r == ARCHIVE_FAILED && p) {
                /* one file that cannot be read: an error, as a root with a
                 * file missing is not the root asked for */
                member_error(run, DIAG_ERROR, p, "%s", archive_error_string(disk));
                return -EIO;
            }
            diag_error(run->d, src, 0, 0, "cannot read: %s", archive_error_string(disk));
            return -EIO;
        }
        if (r == ARCHIVE_WARN)
            member_warning(run, p, archive_error_string(disk));
        archive_read_disk_descend(disk);
        if (!p || strncmp(p, src, n) != 0 ||
            (p[n] != 0 && p[n] != '/' && !(n == 1 && src[0] == '/'))) {
            member_error(run, DIAG_ERROR, p, "outside %s (a bug)", src);
            return -EIO;
        }
        p += n;
        while (*p == '/')
            p++;
        if (!*p) {
            archive_entry_copy_pathname(e, ".");
        } else {
            /* p points into e's own storage: copy it first */
            char *rel = strdup(p);

            if (!rel)
                return -ENOMEM;
            archive_entry_copy_pathname(e, rel);
            free(rel);
        }
        return 0;
    }
}

int extract_tree(const char *srcdir, const char *dest, const struct extract_opts *o,
                 struct extract_stats *stats, struct diag *d)
{
    struct archive *disk = NULL, *w = NULL;
    struct archive_entry_linkresolver *links = NULL;
    struct archive_entry *e = NULL;
    char *src = NULL;
    struct run run;
    int cwd = -1, destfd = -1, r = -ENOMEM;

    init_run(&run, srcdir, o, d);
    if (!(src = trimmed(srcdir)) || !(e = archive_entry_new()) ||
        !(links = archive_entry_linkresolver_new()) || !(w = disk_writer()))
        goto out;
    archive_entry_linkresolver_set_strategy(links, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
    /* the tree reader remembers the working directory it started in and
     * may return to it: let that be dest as well */
    if ((r = enter(dest, &cwd, d)) < 0)
        goto out;
    if ((destfd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
        r = -errno;
        diag_error(d, dest, 0, 0, "cannot open: %s", strerror(-r));
        goto out;
    }
    if (!(disk = tree_reader(src, d, &r)))
        goto out;
    for (;;) {
        struct archive_entry *cur, *spare = NULL;

        if (proc_cancelled()) {
            r = -ECANCELED;
            break;
        }
        if ((r = tree_next(&run, disk, src, e)) != 0) {
            if (r == 1)
                r = 0;
            break;
        }
        cur = e;
        archive_entry_linkify(links, &cur, &spare);
        /* the writer's names are relative to the working directory */
        if (fchdir(destfd) < 0) {
            r = -errno;
            diag_error(d, dest, 0, 0, "cannot enter: %s", strerror(-r));
            break;
        }
        if ((r = count_entry(&run, archive_entry_pathname(cur))) < 0 ||
            (r = check_member(&run, cur)) < 0 ||
            (r = put_entry(&run, disk, w, cur)) < 0)
            break;
    }
    if (destfd >= 0 && fchdir(destfd) < 0 && r == 0)
        r = -errno;
    r = close_writer(&run, w, r);
out:
    /* freed while still in dest, where the reader may return */
    if (disk)
        archive_read_free(disk);
    if (destfd >= 0)
        close(destfd);
    leave(cwd);
    if (w)
        archive_write_free(w);
    if (links)
        archive_entry_linkresolver_free(links);
    if (e)
        archive_entry_free(e);
    free(src);
    if (stats)
        *stats = run.st;
    return r;
}

/* --- packing ---------------------------------------------------------- */

static char zeros[65536];

/* Copies a file's data from the tree to the tar writer: blocks in order,
 * holes written as zeros (the pax writer drops those of a sparse file). */
static int copy_to_tar(struct run *run, struct archive *disk, struct archive *t,
                       const char *name)
{
    la_int64_t done = 0;

    for (;;) {
        const void *buf;
        size_t size;
        la_int64_t off;
        int r = archive_read_data_block(disk, &buf, &size, &off);

        if (r == ARCHIVE_EOF)
            return 0;
        if (r < ARCHIVE_WARN) {
            member_error(run, DIAG_ERROR, name, "cannot read: %s", archive_error_string(disk));
            return -EIO;
        }
        if (proc_cancelled())
            return -ECANCELED;
        while (done < off) {
            size_t n = off - done > (la_int64_t)sizeof zeros ? sizeof zeros
                                                             : (size_t)(off - done);

            if (archive_write_data(t, zeros, n) < 0)
                goto fail;
            done += (la_int64_t)n;
        }
        if (size > 0 && archive_write_data(t, buf, size) < 0)
            goto fail;
        done += (la_int64_t)size;
        run->st.bytes += size;
    }
fail:
    member_error(run, DIAG_ERROR, name, "cannot write: %s", archive_error_string(t));
    return -EIO;
}

int extract_pack(const char *srcdir, int fd, enum extract_compression comp,
                 struct extract_stats *stats, struct diag *d)
{
    struct archive *disk = NULL, *t = NULL;
    struct archive_entry_linkresolver *links = NULL;
    struct archive_entry *e = NULL;
    char *src = NULL;
    struct run run;
    int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC), r = -ENOMEM;

    init_run(&run, srcdir, NULL, d);
    run.max_entries = ULONG_MAX;
    if (cwd < 0) {
        r = -errno;
        diag_error(d, NULL, 0, 0, "cannot open the working directory: %s", strerror(-r));
        goto out;
    }
    if (!(src = trimmed(srcdir)) || !(e = archive_entry_new()) ||
        !(links = archive_entry_linkresolver_new()) || !(t = archive_write_new()))
        goto out;
    archive_entry_linkresolver_set_strategy(links, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
    if (archive_write_set_format_pax_restricted(t) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(t, 1024 * 1024) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(t, 1) != ARCHIVE_OK) {
        diag_error(d, NULL, 0, 0, "libarchive: %s", archive_error_string(t));
        r = -EINVAL;
        goto out;
    }
    if (comp == EXTRACT_PACK_ZSTD) {
        if (archive_write_add_filter_zstd(t) != ARCHIVE_OK ||
            archive_write_set_filter_option(t, "zstd", "compression-level", "1") <
                ARCHIVE_WARN) {
            diag_error(d, NULL, 0, 0, "libarchive: no zstd: %s", archive_error_string(t));
            r = -EINVAL;
            goto out;
        }
        /* libarchive >= 3.6 with a multithreaded libzstd; else one thread */
        archive_write_set_filter_option(t, "zstd", "threads", "0");
    }
    if (archive_write_open_fd(t, fd) != ARCHIVE_OK) {
        r = archive_errno(t) > 0 ? -archive_errno(t) : -EIO;
        diag_error(d, NULL, 0, 0, "cannot write the archive of %s: %s", srcdir,
                   archive_error_string(t));
        goto out;
    }
    if (!(disk = tree_reader(src, d, &r)))
        goto out;
    for (;;) {
        struct archive_entry *cur, *spare = NULL;
        const char *name;
        int h;

        if (proc_cancelled()) {
            r = -ECANCELED;
            break;
        }
        if ((r = tree_next(&run, disk, src, e)) != 0) {
            if (r == 1)
                r = 0;
            break;
        }
        cur = e;
        name = archive_entry_pathname(cur);
        if (archive_entry_filetype(cur) == AE_IFSOCK) {
            member_warning(&run, name, "a socket, skipped");
            continue;
        }
        archive_entry_linkify(links, &cur, &spare);
        run.st.entries++;
        h = archive_write_header(t, cur);
        if (h < ARCHIVE_WARN) {
            member_error(&run, DIAG_ERROR, name, "cannot archive: %s", archive_error_string(t));
            r = -EIO;
            break;
        }
        if (h == ARCHIVE_WARN)
            member_warning(&run, name, archive_error_string(t));
        if (archive_entry_size(cur) > 0 && (r = copy_to_tar(&run, disk, t, name)) < 0)
            break;
    }
    if (archive_write_close(t) < ARCHIVE_WARN && r == 0) {
        diag_error(d, NULL, 0, 0, "cannot write the archive of %s: %s", srcdir,
                   archive_error_string(t));
        r = -EIO;
    }
    if (run.nwarnings > MAX_WARNINGS)
        diag_warn(d, srcdir, 0, 0, "%u more warnings", run.nwarnings - MAX_WARNINGS);
out:
    if (disk)
        archive_read_free(disk);
    leave(cwd);     /* should the tree reader have moved */
    if (t)
        archive_write_free(t);
    if (links)
        archive_entry_linkresolver_free(links);
    if (e)
        archive_entry_free(e);
    free(src);
    if (stats)
        *stats = run.st;
    return r;
}
