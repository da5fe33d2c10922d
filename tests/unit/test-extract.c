/*
 * test-extract.c - archives and trees into a root (provision/extract.c):
 * hostile archives, made here with libarchive's writer, are refused with
 * a message naming the member and write nothing outside the destination;
 * a good one keeps devices, links, modes, owners, times and xattrs; a
 * tree copies and packs the same way.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "extract.h"
#include "proc.h"
#include "tap.h"

static char base[] = "/tmp/test-extract.XXXXXX";
static char outside[PATH_MAX];      /* where an escape would land */
static int is_root;

/* --- making archives ---------------------------------------------------- */

enum kind { FILE_, DIR_, SYMLINK, HARDLINK, CHR, FIFO };

struct member {
    enum kind kind;
    const char *name;
    const char *data;           /* FILE_: content; SYMLINK, HARDLINK: target */
    int mode;
    int uid, gid;
    dev_t rdev;
    const char *xattr;          /* user.test value */
};

/* Writes members to path with filter (ARCHIVE_FILTER_NONE, _GZIP, _ZSTD). */
static int make_archive(const char *path, int filter, const struct member *m, size_t n)
{
    struct archive *a = archive_write_new();
    int r = 0;

    archive_write_set_format_pax_restricted(a);
    if (filter == ARCHIVE_FILTER_GZIP)
        archive_write_add_filter_gzip(a);
    else if (filter == ARCHIVE_FILTER_ZSTD)
        archive_write_add_filter_zstd(a);
    if (archive_write_open_filename(a, path) != ARCHIVE_OK) {
        printf("# cannot write %s: %s\n", path, archive_error_string(a));
        archive_write_free(a);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        static const int type[] = { AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFREG, AE_IFCHR, AE_IFIFO };

        archive_entry_set_pathname(e, m[i].name);
        archive_entry_set_filetype(e, type[m[i].kind]);
        archive_entry_set_perm(e, m[i].mode ? m[i].mode : (m[i].kind == DIR_ ? 0755 : 0644));
        archive_entry_set_uid(e, m[i].uid);
        archive_entry_set_gid(e, m[i].gid);
        archive_entry_set_mtime(e, 1000000000 + (time_t)i, 0);
        if (m[i].kind == FILE_)
            archive_entry_set_size(e, (la_int64_t)strlen(m[i].data ? m[i].data : ""));
        if (m[i].kind == SYMLINK)
            archive_entry_set_symlink(e, m[i].data);
        if (m[i].kind == HARDLINK) {
            archive_entry_set_hardlink(e, m[i].data);
            archive_entry_set_size(e, 0);
        }
        if (m[i].kind == CHR)
            archive_entry_set_rdev(e, m[i].rdev);
        if (m[i].xattr)
            archive_entry_xattr_add_entry(e, "user.test", m[i].xattr, strlen(m[i].xattr));
        if (archive_write_header(a, e) != ARCHIVE_OK) {
            printf("# %s: %s\n", m[i].name, archive_error_string(a));
            r = -1;
        }
        if (m[i].kind == FILE_ && m[i].data)
            archive_write_data(a, m[i].data, strlen(m[i].data));
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return r;
}

static char *path_in(const char *dir, const char *rel)
{
    static char buf[4][PATH_MAX];
    static int slot;
    char *p = buf[slot++ % 4];

    snprintf(p, PATH_MAX, "%s/%s", dir, rel);
    return p;
}

static char *fresh_dir(const char *name)
{
    char *p = strdup(path_in(base, name));

    mkdir(p, 0755);
    return p;
}

/* The diag's messages, one a line, in a static buffer. */
static const char *messages(const struct diag *d)
{
    static char buf[8192];
    size_t o = 0;

    buf[0] = 0;
    for (size_t i = 0; i < d->n && o < sizeof buf - 1; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s", i ? " | " : "", d->v[i].msg);
    return buf;
}

/* Extracts a hostile archive; expects -want, a message naming member
 * and containing why, and nothing at outside. */
static void refused(const char *what, const struct member *m, size_t n, int want,
                    const char *member, const char *why)
{
    char *arc = strdup(path_in(base, "hostile.tar"));
    char *dest;
    struct diag d;
    int r;
    char dname[64];

    snprintf(dname, sizeof dname, "dest-%d", tap_n);
    dest = fresh_dir(dname);
    unlink(outside);
    diag_init(&d);
    make_archive(arc, ARCHIVE_FILTER_NONE, m, n);
    r = extract_archive(arc, dest, NULL, NULL, &d);
    is_int(r, want, "%s: refused", what);
    if (!ok(d.nerrors == 1 && strstr(messages(&d), member) && strstr(messages(&d), why),
       "%s: the message names %s and says %s", what, member, why))
        printf("#   got: %s\n", messages(&d));
    ok(d.n && d.v[d.n - 1].file && strcmp(d.v[d.n - 1].file, arc) == 0,
       "%s: and the archive", what);
    ok(access(outside, F_OK) < 0, "%s: nothing written outside the destination", what);
    unlink(outside);
    diag_dispose(&d);
    free(arc);
    free(dest);
}

static void test_hostile(void)
{
    char abs_outside[PATH_MAX + 8], through[PATH_MAX + 8];
    char *longname = malloc(PATH_MAX + 100);
    struct stat before, after;

    /* outside = base/outside: dest is base/dest-N, so "../outside" hits it */
    snprintf(abs_outside, sizeof abs_outside, "%s", outside);
    {
        struct member m[] = { { FILE_, abs_outside, "evil", 0, 0, 0, 0, NULL } };
        refused("an absolute path", m, 1, -EINVAL, abs_outside, "absolute");
    }
    {
        struct member m[] = {
            { DIR_, "etc", NULL, 0, 0, 0, 0, NULL },
            { FILE_, "../outside", "evil", 0, 0, 0, 0, NULL },
        };
        refused("a ../ path", m, 2, -EINVAL, "../outside", "`..'");
    }
    {
        struct member m[] = { { FILE_, "etc/../../outside", "evil", 0, 0, 0, 0, NULL } };
        refused("a .. inside a path", m, 1, -EINVAL, "etc/../../outside", "`..'");
    }
    /* a link to / (or to ..), then a file through it */
    snprintf(through, sizeof through, "link%s", outside);
    {
        struct member m[] = {
            { SYMLINK, "link", "/", 0, 0, 0, 0, NULL },
            { FILE_, through, "evil", 0, 0, 0, 0, NULL },
        };
        refused("a symlink to / then a file through it", m, 2, -EINVAL, through, "symlink");
    }
    {
        struct member m[] = {
            { SYMLINK, "up", "..", 0, 0, 0, 0, NULL },
            { FILE_, "up/outside", "evil", 0, 0, 0, 0, NULL },
        };
        refused("a symlink to .. then a file through it", m, 2, -EINVAL, "up/outside",
                "symlink");
    }
    /* hard links out */
    stat("/etc/passwd", &before);
    {
        struct member m[] = { { HARDLINK, "passwd", "/etc/passwd", 0, 0, 0, 0, NULL } };
        refused("a hard link to /etc/passwd", m, 1, -EINVAL, "passwd", "absolute");
    }
    {
        struct member m[] = { { HARDLINK, "o", "../outside", 0, 0, 0, 0, NULL } };
        refused("a hard link to ../", m, 1, -EINVAL, "o", "`..'");
    }
    {
        struct member m[] = {
            { SYMLINK, "etc", "/etc", 0, 0, 0, 0, NULL },
            { HARDLINK, "pw", "etc/passwd", 0, 0, 0, 0, NULL },
        };
        refused("a hard link through a symlink to /etc", m, 2, -EINVAL, "pw", "symlink");
    }
    stat("/etc/passwd", &after);
    is_int(after.st_nlink, before.st_nlink, "/etc/passwd gained no link");

    /* a name longer than PATH_MAX */
    memset(longname, 'a', PATH_MAX + 50);
    for (int i = 100; i < PATH_MAX + 50; i += 101)
        longname[i] = '/';
    longname[PATH_MAX + 50] = 0;
    {
        struct member m[] = { { FILE_, longname, "x", 0, 0, 0, 0, NULL } };
        refused("a very long name", m, 1, -EINVAL, "aaaa...", "longer than PATH_MAX");
    }
    free(longname);

    /* too many members */
    {
        struct member m[] = {
            { FILE_, "a", "1", 0, 0, 0, 0, NULL }, { FILE_, "b", "2", 0, 0, 0, 0, NULL },
            { FILE_, "c", "3", 0, 0, 0, 0, NULL }, { FILE_, "d", "4", 0, 0, 0, 0, NULL },
        };
        struct extract_opts o = { .max_entries = 3 };
        char *arc = strdup(path_in(base, "many.tar")), *dest = fresh_dir("dest-many");
        struct diag d;

        diag_init(&d);
        make_archive(arc, ARCHIVE_FILTER_NONE, m, 4);
        is_int(extract_archive(arc, dest, &o, NULL, &d), -E2BIG, "more members than the limit: refused");
        if (!ok(strstr(messages(&d), "d: more than 3 members"), "naming the member over the limit"))
            printf("#   got: %s\n", messages(&d));
        diag_dispose(&d);
        free(arc);
        free(dest);
    }

    /* not an archive */
    {
        char *junk = strdup(path_in(base, "junk")), *dest = fresh_dir("dest-junk");
        FILE *f = fopen(junk, "w");
        struct diag d;

        for (int i = 0; i < 2000; i++)
            fputs("not an archive\n", f);
        fclose(f);
        diag_init(&d);
        is_int(extract_archive(junk, dest, NULL, NULL, &d), -EINVAL, "not an archive: refused");
        ok(d.nerrors == 1 && d.v[0].file && strcmp(d.v[0].file, junk) == 0,
           "with a message naming it (%s)", messages(&d));
        diag_dispose(&d);
        free(junk);
        free(dest);
    }
    /* a good archive cut short (a cache file half written) */
    {
        struct member m[] = {
            { FILE_, "a", "first member", 0, 0, 0, 0, NULL },
            { FILE_, "b", NULL, 0, 0, 0, 0, NULL },
        };
        char *arc = strdup(path_in(base, "cut.tar.gz")), *dest = fresh_dir("dest-cut");
        char *data = malloc(200000);
        struct diag d;
        struct stat st;

        for (int i = 0; i < 200000; i++)
            data[i] = (char)(i * 7919 % 251);
        data[199999] = 0;
        m[1].data = data;
        make_archive(arc, ARCHIVE_FILTER_GZIP, m, 2);
        stat(arc, &st);
        if (truncate(arc, st.st_size / 2) < 0)
            printf("# truncate failed\n");
        diag_init(&d);
        is_int(extract_archive(arc, dest, NULL, NULL, &d), -EINVAL, "a truncated archive: -EINVAL");
        ok(d.nerrors == 1 && d.v[0].file && strcmp(d.v[0].file, arc) == 0,
           "with a message naming it (%s)", messages(&d));
        diag_dispose(&d);
        free(data);
        free(arc);
        free(dest);
    }
    /* missing */
    {
        struct diag d;

        diag_init(&d);
        is_int(extract_archive(path_in(base, "nonexistent.tar"), base, NULL, NULL, &d), -ENOENT,
               "a missing archive: -ENOENT");
        ok(strstr(messages(&d), "cannot open"), "cannot open (%s)", messages(&d));
        diag_dispose(&d);
    }
}

/* --- a good root ---------------------------------------------------------- */

static const struct member good[] = {
    { DIR_, ".", NULL, 0750, 0, 0, 0, NULL },
    { DIR_, "etc", NULL, 0755, 0, 0, 0, NULL },
    { FILE_, "etc/hostname", "guest\n", 0644, 0, 0, 0, NULL },
    { FILE_, "etc/shadow", "root:*:1::::::\n", 0640, 0, 42, 0, NULL },
    { SYMLINK, "etc/localtime", "/usr/share/zoneinfo/Etc/UTC", 0777, 0, 0, 0, NULL },
    { SYMLINK, "etc/mtab", "../proc/self/mounts", 0777, 0, 0, 0, NULL },
    { DIR_, "usr", NULL, 0755, 0, 0, 0, NULL },
    { DIR_, "usr/bin", NULL, 0755, 0, 0, 0, NULL },
    { FILE_, "usr/bin/ping", "\177ELF ping", 04755, 0, 0, 0, "cap" },
    { HARDLINK, "usr/bin/ping6", "usr/bin/ping", 0, 0, 0, 0, NULL },
    { SYMLINK, "bin", "usr/bin", 0777, 0, 0, 0, NULL },
    { DIR_, "home", NULL, 0755, 0, 0, 0, NULL },
    { DIR_, "home/user", NULL, 0700, 1000, 1000, 0, NULL },
    { FILE_, "home/user/.profile", "PATH=/bin\n", 0600, 1000, 1000, 0, NULL },
    { DIR_, "tmp", NULL, 01777, 0, 0, 0, NULL },
    { DIR_, "dev", NULL, 0755, 0, 0, 0, NULL },
    { CHR, "dev/null", NULL, 0666, 0, 0, 0, NULL },
    { CHR, "dev/console", NULL, 0600, 0, 5, 0, NULL },
    { FIFO, "dev/initctl", NULL, 0600, 0, 0, 0, NULL },
};

static void fill_devices(struct member *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(m[i].name, "dev/null") == 0)
            m[i].rdev = makedev(1, 3);
        if (strcmp(m[i].name, "dev/console") == 0)
            m[i].rdev = makedev(5, 1);
    }
}

/* Checks dir holds the good root. */
static void check_good(const char *what, const char *dir)
{
    struct stat st, st2;
    char buf[256];
    ssize_t n;

    ok(lstat(path_in(dir, "etc/hostname"), &st) == 0 && S_ISREG(st.st_mode) &&
       (st.st_mode & 07777) == 0644 && st.st_size == 6, "%s: a file with its mode", what);
    ok(st.st_mtime == 1000000002, "%s: and its time", what);
    ok(lstat(path_in(dir, "etc/shadow"), &st) == 0 && (st.st_mode & 07777) == 0640 &&
       (!is_root || st.st_gid == 42), "%s: a group-owned file (gid 42, numeric)", what);
    n = readlink(path_in(dir, "etc/localtime"), buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    is_str(buf, "/usr/share/zoneinfo/Etc/UTC", "%s: an absolute symlink, kept as is", what);
    n = readlink(path_in(dir, "bin"), buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    is_str(buf, "usr/bin", "%s: a relative symlink", what);
    ok(lstat(path_in(dir, "usr/bin/ping"), &st) == 0 &&
       (st.st_mode & 07777) == (is_root ? 04755 : 0755), "%s: set-uid kept", what);
    ok(lstat(path_in(dir, "usr/bin/ping6"), &st2) == 0 && st.st_ino == st2.st_ino &&
       st.st_nlink == 2, "%s: a hard link", what);
    n = lgetxattr(path_in(dir, "usr/bin/ping"), "user.test", buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    is_str(buf, "cap", "%s: an extended attribute", what);
    ok(lstat(path_in(dir, "home/user"), &st) == 0 && (st.st_mode & 07777) == 0700 &&
       (!is_root || (st.st_uid == 1000 && st.st_gid == 1000)),
       "%s: a directory with owner and mode", what);
    ok(lstat(path_in(dir, "tmp"), &st) == 0 && (st.st_mode & 07777) == 01777,
       "%s: the sticky bit", what);
    ok(lstat(path_in(dir, "dev/initctl"), &st) == 0 && S_ISFIFO(st.st_mode), "%s: a FIFO", what);
    if (is_root) {
        ok(lstat(path_in(dir, "dev/null"), &st) == 0 && S_ISCHR(st.st_mode) &&
           st.st_rdev == makedev(1, 3) && (st.st_mode & 07777) == 0666,
           "%s: a character device", what);
        ok(lstat(path_in(dir, "dev/console"), &st) == 0 && st.st_rdev == makedev(5, 1) &&
           st.st_gid == 5, "%s: another, with its group", what);
    } else {
        ok(1, "# SKIP devices need root");
        ok(1, "# SKIP devices need root");
    }
    ok(lstat(dir, &st) == 0 && (st.st_mode & 07777) == 0750 && st.st_mtime == 1000000000,
       "%s: the root's own mode and time", what);
}

static void test_good(void)
{
    struct member m[sizeof good / sizeof good[0]];
    size_t n = sizeof good / sizeof good[0];
    static const struct { int filter; const char *name; } kinds[] = {
        { ARCHIVE_FILTER_NONE, "tar" }, { ARCHIVE_FILTER_GZIP, "tar.gz" },
        { ARCHIVE_FILTER_ZSTD, "tar.zst" },
    };

    memcpy(m, good, sizeof m);
    fill_devices(m, n);
    for (size_t k = 0; k < 3; k++) {
        char name[64], *arc, *dest;
        struct extract_stats st;
        struct diag d;
        int r;

        snprintf(name, sizeof name, "good.%s", kinds[k].name);
        arc = strdup(path_in(base, name));
        snprintf(name, sizeof name, "good-%s", kinds[k].name);
        dest = fresh_dir(name);
        make_archive(arc, kinds[k].filter, m, n);
        diag_init(&d);
        r = extract_archive(arc, dest, NULL, &st, &d);
        if (!is_int(r, 0, "a good %s extracts", kinds[k].name))
            printf("#   %s\n", messages(&d));
        if (!is_int(d.n, 0, "%s: without a message", kinds[k].name))
            printf("#   %s\n", messages(&d));
        is_int(st.entries, n, "%s: every member counted", kinds[k].name);
        check_good(kinds[k].name, dest);
        diag_dispose(&d);
        free(arc);
        free(dest);
    }
}

/* --- trees ---------------------------------------------------------------- */

/* One line per file of dir: name, type, mode, owner, size, target, rdev,
 * xattr, mtime (files), link count; sorted, into out. */
static FILE *manifest_out;
static size_t manifest_skip;

static int manifest_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    char target[256] = "", xv[64] = "";
    ssize_t n;

    (void)flag;
    (void)f;
    if (S_ISLNK(st->st_mode) && (n = readlink(path, target, sizeof target - 1)) > 0)
        target[n] = 0;
    if ((n = lgetxattr(path, "user.test", xv, sizeof xv - 1)) > 0)
        xv[n] = 0;
    fprintf(manifest_out, "%s %o %o %d:%d %lld [%s] %u:%u x=%s t=%lld n=%lu\n",
            strlen(path) > manifest_skip ? path + manifest_skip : ".", (unsigned)(st->st_mode & S_IFMT),
            (unsigned)(st->st_mode & 07777), (int)st->st_uid, (int)st->st_gid,
            S_ISDIR(st->st_mode) ? 0LL : (long long)st->st_size, target,
            major(st->st_rdev), minor(st->st_rdev), xv,
            S_ISREG(st->st_mode) ? (long long)st->st_mtime : 0LL, (unsigned long)st->st_nlink);
    return 0;
}

static char *manifest(const char *dir)
{
    char *sorted = NULL, cmd[PATH_MAX + 64], tmp[PATH_MAX];
    size_t len = 0;
    FILE *f;

    snprintf(tmp, sizeof tmp, "%s/manifest.tmp", base);
    manifest_out = fopen(tmp, "w");
    manifest_skip = strlen(dir) + 1;
    nftw(dir, manifest_one, 16, FTW_PHYS);
    fclose(manifest_out);
    snprintf(cmd, sizeof cmd, "sort '%s'", tmp);
    f = popen(cmd, "r");
    sorted = calloc(1, 65536);
    len = fread(sorted, 1, 65535, f);
    sorted[len] = 0;
    pclose(f);
    unlink(tmp);
    return sorted;
}

static void test_tree(void)
{
    struct member m[sizeof good / sizeof good[0]];
    size_t n = sizeof good / sizeof good[0];
    char *arc = strdup(path_in(base, "tree-src.tar")), *src = fresh_dir("tree-src");
    char *copy = fresh_dir("tree-copy"), *packed = strdup(path_in(base, "packed.tar.zst"));
    char *unpacked = fresh_dir("tree-unpacked"), *plain = strdup(path_in(base, "packed.tar"));
    char *unplain = fresh_dir("tree-unplain"), *a, *b;
    struct extract_stats st;
    struct diag d;
    int fd, r;

    memcpy(m, good, sizeof m);
    fill_devices(m, n);
    make_archive(arc, ARCHIVE_FILTER_NONE, m, n);
    diag_init(&d);
    extract_archive(arc, src, NULL, NULL, &d);
    /* a link out of the tree: copied as a link, never followed */
    symlink("/etc", path_in(src, "hostetc"));
    {
        struct timespec t[2] = { { 1000000000, 0 }, { 1000000000, 0 } };

        utimensat(AT_FDCWD, src, t, 0);
    }

    r = extract_tree(src, copy, NULL, &st, &d);
    if (!is_int(r, 0, "a tree copies"))
        printf("#   %s\n", messages(&d));
    if (!is_int(d.n, 0, "without a message"))
        printf("#   %s\n", messages(&d));
    check_good("copy", copy);
    a = manifest(src);
    b = manifest(copy);
    is_str(b, a, "the copy is the tree, file for file");
    {
        struct stat ls;

        ok(lstat(path_in(copy, "hostetc"), &ls) == 0 && S_ISLNK(ls.st_mode),
           "a symlink out of the tree stays a symlink, not followed");
    }
    free(b);

    /* with a trailing slash on the source, into another copy */
    {
        char *copy2 = fresh_dir("tree-copy2"), src2[PATH_MAX + 2];

        snprintf(src2, sizeof src2, "%s/", src);
        is_int(extract_tree(src2, copy2, NULL, NULL, &d), 0, "a source with a trailing slash");
        b = manifest(copy2);
        is_str(b, a, "copies the same");
        free(b);
        free(copy2);
    }

    /* packed with zstd, and plain, then unpacked */
    fd = open(packed, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    r = extract_pack(src, fd, EXTRACT_PACK_ZSTD, &st, &d);
    close(fd);
    if (!is_int(r, 0, "a tree packs (zstd)"))
        printf("#   %s\n", messages(&d));
    ok(st.entries == n + 1, "every file packed (%lu)", st.entries);
    is_int(extract_archive(packed, unpacked, NULL, NULL, &d), 0, "and unpacks");
    b = manifest(unpacked);
    is_str(b, a, "to the same tree");
    free(b);
    fd = open(plain, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    r = extract_pack(src, fd, EXTRACT_PACK_NONE, NULL, &d);
    close(fd);
    is_int(r, 0, "a tree packs (uncompressed)");
    is_int(extract_archive(plain, unplain, NULL, NULL, &d), 0, "and unpacks");
    b = manifest(unplain);
    is_str(b, a, "to the same tree");
    free(b);
    {
        /* the archive's names: relative, "." first */
        struct archive *rd = archive_read_new();
        struct archive_entry *e;
        bool rel = true;
        const char *first = NULL;
        char firstbuf[64] = "";

        archive_read_support_format_tar(rd);
        archive_read_open_filename(rd, plain, 65536);
        while (archive_read_next_header(rd, &e) == ARCHIVE_OK) {
            const char *p = archive_entry_pathname(e);

            if (!first) {
                snprintf(firstbuf, sizeof firstbuf, "%s", p);
                first = firstbuf;
            }
            if (p[0] == '/' || strncmp(p, base + 1, strlen(base) - 1) == 0)
                rel = false;
        }
        archive_read_free(rd);
        is_str(first, "./", "the packed tree starts with its root as \"./\"");
        ok(rel, "and every name is relative to it");
    }
    diag_dispose(&d);
    free(a);
    free(arc);
    free(src);
    free(copy);
    free(packed);
    free(unpacked);
    free(plain);
    free(unplain);
}

static void test_cancel(void)
{
    static volatile sig_atomic_t flag;
    struct member m[] = { { FILE_, "a", "1", 0, 0, 0, 0, NULL } };
    char *arc = strdup(path_in(base, "cancel.tar")), *dest = fresh_dir("dest-cancel");
    struct diag d;

    make_archive(arc, ARCHIVE_FILTER_NONE, m, 1);
    diag_init(&d);
    flag = 1;
    proc_set_cancel(&flag);
    is_int(extract_archive(arc, dest, NULL, NULL, &d), -ECANCELED, "cancelled: -ECANCELED");
    is_int(d.n, 0, "nothing recorded");
    proc_set_cancel(NULL);
    {
        char cwd[PATH_MAX];

        ok(getcwd(cwd, sizeof cwd) && strcmp(cwd, base) == 0,
           "the working directory is the caller's again");
    }
    diag_dispose(&d);
    free(arc);
    free(dest);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    remove(path);
    return 0;
}

/* EXTRACT_DIR_LINKS: rpm payloads into a usr-merged root */
static void test_dir_links(void)
{
    struct extract_opts o = { .flags = EXTRACT_DIR_LINKS };
    char *arc = strdup(path_in(base, "links.tar")), *dest = fresh_dir("dest-links");
    struct stat st;
    struct diag d;
    char buf[PATH_MAX];
    ssize_t n;
    /* the filesystem package first, then a package with old paths */
    struct member fs[] = {
        { DIR_, "./usr", NULL, 0, 0, 0, 0, NULL },
        { DIR_, "./usr/lib", NULL, 0, 0, 0, 0, NULL },
        { DIR_, "./usr/bin", NULL, 0, 0, 0, 0, NULL },
        { SYMLINK, "./lib", "usr/lib", 0, 0, 0, 0, NULL },
        { SYMLINK, "./bin", "/usr/bin", 0, 0, 0, 0, NULL },
        { SYMLINK, "./etc", "/nowhere", 0, 0, 0, 0, NULL },
        { SYMLINK, "./escape", "../../../../..", 0, 0, 0, 0, NULL },
    };
    struct member pkg[] = {
        { DIR_, "./lib", NULL, 0700, 0, 0, 0, NULL },
        { DIR_, "./lib/modules", NULL, 0, 0, 0, 0, NULL },
        { FILE_, "./lib/modules/modules.dep", "dep\n", 0, 0, 0, 0, NULL },
        { FILE_, "./bin/sh", "shell\n", 0755, 0, 0, 0, NULL },
        { HARDLINK, "./usr/bin/sh2", "./bin/sh", 0, 0, 0, 0, NULL },
        { FILE_, "./escape/x", "up\n", 0, 0, 0, 0, NULL },
    };

    diag_init(&d);
    make_archive(arc, ARCHIVE_FILTER_NONE, fs, 7);
    is_int(extract_archive(arc, dest, &o, NULL, &d), 0, "dir links: the skeleton");
    make_archive(arc, ARCHIVE_FILTER_NONE, pkg, 5);
    is_int(extract_archive(arc, dest, &o, NULL, &d), 0, "dir links: a package through them");
    if (d.n)
        printf("#   got: %s\n", messages(&d));
    n = readlink(path_in(dest, "lib"), buf, sizeof buf - 1);
    ok(n == 7 && !memcmp(buf, "usr/lib", 7), "a directory member keeps the link lib -> usr/lib");
    ok(stat(path_in(dest, "usr/lib/modules/modules.dep"), &st) == 0 && S_ISREG(st.st_mode),
       "lib/modules/modules.dep lands in usr/lib/modules");
    ok(stat(path_in(dest, "usr/bin/sh"), &st) == 0 && st.st_nlink == 2,
       "bin/sh lands in usr/bin through an absolute link, and its hard link with it");
    ok(lstat(path_in(dest, "usr/lib"), &st) == 0 && (st.st_mode & 07777) == 0755,
       "the directory member does not change the link's target");

    /* a link whose target is missing, one that climbs out: refused */
    diag_dispose(&d);
    diag_init(&d);
    {
        struct member m[] = { { FILE_, "./etc/passwd", "root\n", 0, 0, 0, 0, NULL } };
        make_archive(arc, ARCHIVE_FILTER_NONE, m, 1);
        is_int(extract_archive(arc, dest, &o, NULL, &d), -EINVAL,
               "dir links: a link to nowhere on the path is refused");
        ok(strstr(messages(&d), "etc") && strstr(messages(&d), "no directory"),
           "and the message names the link");
    }
    diag_dispose(&d);
    diag_init(&d);
    make_archive(arc, ARCHIVE_FILTER_NONE, pkg + 5, 1);
    is_int(extract_archive(arc, dest, &o, NULL, &d), 0,
           "dir links: a link climbing out is resolved inside the root");
    ok(stat(path_in(dest, "x"), &st) == 0 && access(path_in(base, "x"), F_OK) < 0,
       "escape/x lands at the root's top, not outside");
    diag_dispose(&d);
    free(arc);
    free(dest);
}

int main(void)
{
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    is_root = geteuid() == 0;
    snprintf(outside, sizeof outside, "%s/outside", base);
    if (chdir(base) < 0)
        return 1;
    test_hostile();
    test_good();
    test_tree();
    test_cancel();
    test_dir_links();
    if (chdir("/") == 0)
        nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return tap_done();
}
