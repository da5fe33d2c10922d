/*
 * test-image - disk images from a staging tree (provision/image.c) with
 * the real tools, read back without mounting: ext4 with debugfs and
 * e2fsck, xfs with xfs_db and xfs_repair, btrfs with btrfs check,
 * restore and dump-tree; labels with blkid -p; qcow2 with qemu-img info
 * and compare; swap with blkid.  Then the refusals and failures, each
 * leaving nothing behind.  Needs root (device nodes, owners).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "image.h"
#include "proc.h"
#include "tap.h"
#include "testutil.h"

#define MiB (1024ULL * 1024)

static char top[PATH_MAX];      /* the mkdtemp directory */
static char scratch[PATH_MAX];  /* the tmpdir handed to image_build_fs: stays empty */
static int log_fd = -1;         /* a memfd every image call logs to */
#define capture(o, ...) test_capture_v((o), PROC_NULL, (const char *const[]){ __VA_ARGS__, NULL })
#define status_of(...) test_status_v(PROC_NULL, (const char *const[]){ __VA_ARGS__, NULL })
#define have(prog) test_have(prog)

/* ---- helpers ---- */

/* snprintf for paths and commands (long ones are cut: the test fails). */
__attribute__((format(printf, 3, 4)))
static char *fmt(char *buf, size_t len, const char *f, ...)
{
    va_list ap;

    va_start(ap, f);
    vsnprintf(buf, len, f, ap);
    va_end(ap);
    return buf;
}

static const char *at(char *buf, size_t len, const char *name)
{
    fmt(buf, len, "%s/%s", top, name);
    return buf;
}


/* blkid -p's value of tag for path ("" when none). */
static char *blkid(const char *path, const char *tag, char *buf, size_t len)
{
    struct test_out o;

    capture(&o, "blkid", "-p", "-o", "value", "-s", tag, path);
    fmt(buf, len, "%s", o.buf ? o.buf : "");
    buf[strcspn(buf, "\n")] = '\0';
    free(o.buf);
    return buf;
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

    if (fd < 0 || write(fd, data, len) != (ssize_t)len)
        printf("# cannot write %s: %s\n", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    chmod(path, mode);
}

static void mkdirs(const char *root, const char *rel, mode_t mode)
{
    char p[PATH_MAX];

    fmt(p, sizeof(p), "%s/%s", root, rel);
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        printf("# mkdir %s: %s\n", p, strerror(errno));
    chmod(p, mode);
}

static bool exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

/* The bytes of data.bin: a pattern no file system would make up. */
#define DATA_LEN 20000
static unsigned char data_bin[DATA_LEN];

static const char hosts[] = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n";

/*
 * The staging tree at root: top 0700 (as mkdtemp makes it), then
 *   etc/hosts (content, user.vmkit xattr, an old mtime), etc/empty,
 *   etc/owned (1234:1235), etc/sub/deep/file, data.bin (20000 bytes),
 *   bin/ setgid 02755: suid (04755), a and b (one file, two links),
 *   link -> ../etc/hosts; tmp 01777; dev/null (c 1 3), dev/sda (b 8 1),
 *   dev/fifo, dev/sock (a socket); with_space: "etc/with space".
 */
static void make_tree(const char *root, bool with_space)
{
    char p[PATH_MAX], q[PATH_MAX];
    struct timespec old[2] = { { 981173106, 0 }, { 981173106, 0 } };
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int s;

    if (mkdir(root, 0700) < 0)
        printf("# mkdir %s: %s\n", root, strerror(errno));
    mkdirs(root, "etc", 0755);
    mkdirs(root, "etc/sub", 0755);
    mkdirs(root, "etc/sub/deep", 0750);
    mkdirs(root, "bin", 02755);
    mkdirs(root, "tmp", 01777);
    mkdirs(root, "dev", 0755);
#define P(rel) (fmt(p, sizeof(p), "%s/%s", root, rel), p)
    write_file(P("etc/hosts"), hosts, strlen(hosts), 0644);
    if (setxattr(p, "user.vmkit", "yes", 3, 0) < 0)
        printf("# setxattr %s: %s\n", p, strerror(errno));
    utimensat(AT_FDCWD, p, old, 0);
    write_file(P("etc/empty"), "", 0, 0644);
    write_file(P("etc/owned"), "mine\n", 5, 0640);
    if (chown(p, 1234, 1235) < 0)
        printf("# chown %s: %s\n", p, strerror(errno));
    write_file(P("etc/sub/deep/file"), "deep\n", 5, 0600);
    write_file(P("data.bin"), data_bin, DATA_LEN, 0644);
    write_file(P("bin/suid"), "#!/bin/sh\n", 10, 04755);
    write_file(P("bin/a"), "hl\n", 3, 0644);
    fmt(q, sizeof(q), "%s/bin/b", root);
    if (link(p, q) < 0)
        printf("# link %s: %s\n", q, strerror(errno));
    if (symlink("../etc/hosts", P("bin/link")) < 0)
        printf("# symlink %s: %s\n", p, strerror(errno));
    if (mknod(P("dev/null"), S_IFCHR | 0666, makedev(1, 3)) < 0)
        printf("# mknod %s: %s\n", p, strerror(errno));
    chmod(p, 0666);
    if (mknod(P("dev/sda"), S_IFBLK | 0660, makedev(8, 1)) < 0)
        printf("# mknod %s: %s\n", p, strerror(errno));
    chmod(p, 0660);
    if (mkfifo(P("dev/fifo"), 0600) < 0)
        printf("# mkfifo %s: %s\n", p, strerror(errno));
    fmt(sa.sun_path, sizeof(sa.sun_path), "%s", P("dev/sock"));
    if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        printf("# socket %s: %s\n", p, strerror(errno));
    if (s >= 0)
        close(s);
    if (with_space)
        write_file(P("etc/with space"), "spaced\n", 7, 0644);
#undef P
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_tree(const char *path)
{
    nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Every entry of d is a warning (or d is empty). */
static bool no_errors(const struct diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].level == DIAG_ERROR) {
            printf("# unexpected error: %s: %s\n", d->v[i].file ? d->v[i].file : "-",
                   d->v[i].msg);
            return false;
        }
    return d->nerrors == 0;
}


static bool log_has(const char *s)
{
    struct stat st;
    char *buf;
    bool found = false;

    if (fstat(log_fd, &st) < 0 || !(buf = calloc(1, (size_t)st.st_size + 1)))
        return false;
    if (pread(log_fd, buf, (size_t)st.st_size, 0) == st.st_size)
        found = strstr(buf, s) != NULL;
    free(buf);
    return found;
}

/* ---- ext4, read with debugfs ---- */

struct ino {
    long ino, links, uid, gid, size;
    unsigned long mode;         /* the permission bits (Mode:) or core.mode */
    char type[32];
    unsigned major, minor;
    char target[128];
};

static long num_after(const char *s, const char *key, int base)
{
    const char *p = strstr(s, key);

    return p ? strtol(p + strlen(key), NULL, base) : -1;
}

/* debugfs -R "stat PATH" parsed into i; false when there is no such. */
static bool ext4_stat(const char *img, const char *path, struct ino *i)
{
    char req[PATH_MAX + 16];
    struct test_out o;
    const char *p;

    memset(i, 0, sizeof(*i));
    fmt(req, sizeof(req), "stat \"%s\"", path);
    capture(&o, "debugfs", "-R", req, img);
    if (!o.buf || !strstr(o.buf, "Inode:")) {
        free(o.buf);
        return false;
    }
    i->ino = num_after(o.buf, "Inode:", 10);
    i->mode = (unsigned long)num_after(o.buf, "Mode:", 8);
    i->uid = num_after(o.buf, "User:", 10);
    i->gid = num_after(o.buf, "Group:", 10);
    i->links = num_after(o.buf, "Links:", 10);
    i->size = num_after(o.buf, "Size:", 10);
    if ((p = strstr(o.buf, "Type: ")))
        sscanf(p + 6, "%31s", i->type);
    if ((p = strstr(o.buf, "Device major/minor number: ")))
        sscanf(p + 27, "%x:%x", &i->major, &i->minor);
    if ((p = strstr(o.buf, "Fast link dest: \"")))
        sscanf(p + 17, "%127[^\"]", i->target);
    free(o.buf);
    return true;
}

/* debugfs -R "cat PATH": equal to want? */
static bool ext4_cat_is(const char *img, const char *path, const void *want, size_t len)
{
    char req[PATH_MAX + 16];
    struct test_out o;
    bool same;

    fmt(req, sizeof(req), "cat \"%s\"", path);
    capture(&o, "debugfs", "-R", req, img);
    same = o.buf && o.len == len && !memcmp(o.buf, want, len);
    free(o.buf);
    return same;
}

static void test_ext4(void)
{
    char root[PATH_MAX], img[PATH_MAX], buf[64];
    struct diag d;
    struct ino i, j;
    bool got;
    struct stat st;
    struct test_out o;
    int r;

    if (!have("mke2fs") || !have("debugfs")) {
        ok(1, "# SKIP e2fsprogs is not installed");
        return;
    }
    at(root, sizeof(root), "tree-space");
    at(img, sizeof(img), "ext4.img");
    diag_init(&d);
    r = image_build_fs("ext4", root, "root", 64 * MiB, NULL, img, scratch, log_fd, &d);
    is_int(r, 0, "ext4: built");
    ok(no_errors(&d) && d.n == 0, "ext4: nothing to say (%zu entries)", d.n);
    diag_dispose(&d);
    ok(stat(img, &st) == 0 && st.st_size == (off_t)(64 * MiB) && (st.st_mode & 0777) == 0600,
       "ext4: the image is 64 MiB, mode 0600");
    ok(st.st_blocks * 512 < (off_t)(32 * MiB), "ext4: and sparse (%lld KiB used)",
       (long long)st.st_blocks / 2);
    is_str(blkid(img, "TYPE", buf, sizeof(buf)), "ext4", "ext4: blkid sees ext4");
    is_str(blkid(img, "LABEL", buf, sizeof(buf)), "root", "ext4: labelled root");
    is_int(status_of("e2fsck", "-fn", img), 0, "ext4: e2fsck -fn finds nothing");
    ok(log_has("+ mke2fs -q -F -t ext4 -L root -d "), "ext4: the command is in the log");

    got = ext4_stat(img, "/", &i);
    ok(got && i.mode == 0755 && i.uid == 0 && i.gid == 0,
       "ext4: / is 0755 0:0 though the tree's top is 0700 (%lo %ld:%ld)", i.mode, i.uid,
       i.gid);
    ok(ext4_cat_is(img, "/etc/hosts", hosts, strlen(hosts)), "ext4: /etc/hosts content");
    ok(ext4_cat_is(img, "/data.bin", data_bin, DATA_LEN), "ext4: /data.bin, 20000 bytes");
    ok(ext4_cat_is(img, "/etc/sub/deep/file", "deep\n", 5), "ext4: a nested file");
    ok(ext4_cat_is(img, "/etc/with space", "spaced\n", 7), "ext4: a name with a space");
    got = ext4_stat(img, "/etc/empty", &i);
    ok(got && !strcmp(i.type, "regular") && i.size == 0,
       "ext4: an empty file");
    got = ext4_stat(img, "/bin/suid", &i);
    ok(got && i.mode == 04755, "ext4: setuid kept (%lo)", i.mode);
    got = ext4_stat(img, "/bin", &i);
    ok(got && i.mode == 02755, "ext4: setgid directory kept (%lo)",
       i.mode);
    got = ext4_stat(img, "/tmp", &i);
    ok(got && i.mode == 01777, "ext4: sticky kept (%lo)", i.mode);
    got = ext4_stat(img, "/etc/owned", &i);
    ok(got && i.uid == 1234 && i.gid == 1235 && i.mode == 0640,
       "ext4: owner 1234:1235 and mode 0640 kept (%ld:%ld %lo)", i.uid, i.gid, i.mode);
    got = ext4_stat(img, "/bin/a", &i);
    ok(got && ext4_stat(img, "/bin/b", &j) && i.ino == j.ino &&
       i.links == 2, "ext4: the hard link pair is one inode with 2 links");
    got = ext4_stat(img, "/bin/link", &i);
    ok(got && !strcmp(i.type, "symlink") &&
       !strcmp(i.target, "../etc/hosts"), "ext4: the symlink and its target (%s)", i.target);
    got = ext4_stat(img, "/dev/null", &i);
    ok(got && !strcmp(i.type, "character") && i.major == 1 &&
       i.minor == 3 && i.mode == 0666, "ext4: /dev/null is c 1 3 (%u:%u)", i.major, i.minor);
    got = ext4_stat(img, "/dev/sda", &i);
    ok(got && !strcmp(i.type, "block") && i.major == 8 &&
       i.minor == 1, "ext4: /dev/sda is b 8 1");
    got = ext4_stat(img, "/dev/fifo", &i);
    ok(got && !strcmp(i.type, "FIFO"), "ext4: a fifo");
    capture(&o, "debugfs", "-R", "ea_get /etc/hosts user.vmkit", img);
    ok(o.buf && strstr(o.buf, "yes"), "ext4: the xattr kept");
    free(o.buf);
    capture(&o, "debugfs", "-R", "stat /etc/hosts", img);
    ok(o.buf && strstr(o.buf, "mtime: 0x3a7b8372"), "ext4: the mtime kept");
    free(o.buf);
}

/* ---- xfs, read with xfs_db ---- */

/* xfs_db -r -c "path PATH" -c "print FIELD" ...: the number after
 * "FIELD = ", or -1. */
static long xfs_field(const char *img, const char *path, const char *field)
{
    char pc[PATH_MAX + 8], fc[64], key[64];
    struct test_out o;
    long v = -1;

    fmt(pc, sizeof(pc), "path %s", path);
    fmt(fc, sizeof(fc), "print %s", field);
    fmt(key, sizeof(key), "%s = ", field);
    if (capture(&o, "xfs_db", "-r", "-c", pc, "-c", fc, img) == 0 && o.buf)
        v = num_after(o.buf, key, 0);
    free(o.buf);
    return v;
}

/* The file's first extent read from the image: equal to want (len
 * bytes, one extent)? */
static bool xfs_content_is(const char *img, const char *path, const void *want, size_t len)
{
    char pc[PATH_MAX + 8], cc[64];
    struct test_out o;
    long long start, off;
    bool same = false;
    const char *p;
    char *buf;
    int fd;

    fmt(pc, sizeof(pc), "path %s", path);
    capture(&o, "xfs_db", "-r", "-c", pc, "-c", "bmap", img);
    p = o.buf ? strstr(o.buf, "startblock ") : NULL;
    start = p ? strtoll(p + 11, NULL, 10) : -1;
    free(o.buf);
    if (start < 0)
        return false;
    fmt(cc, sizeof(cc), "convert fsb %lld byte", start);
    capture(&o, "xfs_db", "-r", "-c", cc, img);
    off = o.buf ? strtoll(o.buf, NULL, 0) : -1;
    free(o.buf);
    if (off < 0 || !(buf = malloc(len)))
        return false;
    if ((fd = open(img, O_RDONLY | O_CLOEXEC)) >= 0) {
        same = pread(fd, buf, len, off) == (ssize_t)len && !memcmp(buf, want, len);
        close(fd);
    }
    free(buf);
    return same && xfs_field(img, path, "core.size") == (long)len;
}

static void test_xfs(void)
{
    char root[PATH_MAX], img[PATH_MAX], buf[64], first[PATH_MAX + 32];
    struct diag d;
    struct stat st;
    struct test_out o;
    int r;

    if (!have("mkfs.xfs") || !have("xfs_db")) {
        ok(1, "# SKIP xfsprogs is not installed");
        return;
    }
    at(root, sizeof(root), "tree");
    at(img, sizeof(img), "xfs.img");
    diag_init(&d);
    r = image_build_fs("xfs", root, "root", 300 * MiB, NULL, img, scratch, log_fd, &d);
    is_int(r, 0, "xfs: built");
    fmt(first, sizeof(first), "the first: %s/etc/hosts, user.vmkit", root);
    ok(no_errors(&d) && said(&d, DIAG_WARNING, img, "extended attributes of 1 entry", first),
       "xfs: a warning that the xattr is lost, naming the file");
    diag_dispose(&d);
    ok(stat(img, &st) == 0 && st.st_size == (off_t)(300 * MiB) && (st.st_mode & 0777) == 0600,
       "xfs: the image is 300 MiB, mode 0600");
    is_str(blkid(img, "TYPE", buf, sizeof(buf)), "xfs", "xfs: blkid sees xfs");
    is_str(blkid(img, "LABEL", buf, sizeof(buf)), "root", "xfs: labelled root");
    is_int(status_of("xfs_repair", "-n", img), 0, "xfs: xfs_repair -n finds nothing");
    ok(log_has("+ mkfs.xfs -q -L root -p /proc/self/fd/"), "xfs: the command is in the log");
    ok(log_has("+ xfs_db -x -c 'source /proc/self/fd/"), "xfs: so is the sticky-bit fix");

    is_int(xfs_field(img, "/", "core.mode"), 040755, "xfs: / is 0755 (the top is 0700)");
    is_int(xfs_field(img, "/", "core.uid"), 0, "xfs: / is root's");
    ok(xfs_content_is(img, "/etc/hosts", hosts, strlen(hosts)), "xfs: /etc/hosts content");
    ok(xfs_content_is(img, "/data.bin", data_bin, DATA_LEN), "xfs: /data.bin, 20000 bytes");
    ok(xfs_content_is(img, "/etc/sub/deep/file", "deep\n", 5), "xfs: a nested file");
    is_int(xfs_field(img, "/etc/sub/deep", "core.mode"), 040750, "xfs: a directory's mode");
    is_int(xfs_field(img, "/etc/empty", "core.size"), 0, "xfs: an empty file");
    is_int(xfs_field(img, "/etc/empty", "core.mode"), 0100644, "xfs: an empty file's mode");
    is_int(xfs_field(img, "/bin/suid", "core.mode"), 0104755, "xfs: setuid kept");
    is_int(xfs_field(img, "/bin", "core.mode"), 042755, "xfs: setgid directory kept");
    is_int(xfs_field(img, "/tmp", "core.mode"), 041777, "xfs: sticky set by xfs_db");
    is_int(xfs_field(img, "/etc/owned", "core.uid"), 1234, "xfs: owner kept");
    is_int(xfs_field(img, "/etc/owned", "core.gid"), 1235, "xfs: group kept");
    is_int(xfs_field(img, "/etc/owned", "core.mode"), 0100640, "xfs: mode 0640 kept");
    ok(xfs_field(img, "/bin/a", "v3.inumber") != xfs_field(img, "/bin/b", "v3.inumber") &&
       xfs_field(img, "/bin/a", "core.nlinkv2") == 1 &&
       xfs_content_is(img, "/bin/b", "hl\n", 3),
       "xfs: the hard link pair became two copies (as documented)");
    capture(&o, "xfs_db", "-r", "-c", "path /bin/link", "-c", "print u3.symlink", img);
    ok(o.buf && strstr(o.buf, "u3.symlink = \"../etc/hosts\""), "xfs: the symlink's target");
    free(o.buf);
    is_int(xfs_field(img, "/bin/link", "core.mode"), 0120777, "xfs: the symlink's mode");
    is_int(xfs_field(img, "/dev/null", "core.mode"), 020666, "xfs: /dev/null is a chardev");
    is_int(xfs_field(img, "/dev/null", "u3.dev"), (1 << 18) | 3, "xfs: ... 1:3");
    is_int(xfs_field(img, "/dev/sda", "core.mode"), 060660, "xfs: /dev/sda is a blkdev");
    is_int(xfs_field(img, "/dev/sda", "u3.dev"), (8 << 18) | 1, "xfs: ... 8:1");
    is_int(xfs_field(img, "/dev/fifo", "core.mode"), 010600, "xfs: a fifo");
    is_int(xfs_field(img, "/dev/sock", "core.mode"), -1, "xfs: the socket is left out");
}

/* ---- btrfs, read with btrfs check, restore and dump-tree ---- */

/* The inode number and type dump-tree's fs tree gives name (the first
 * directory entry so named), or -1. */
static long btrfs_entry(const char *dump, const char *name, char *type, size_t tlen)
{
    char key[300];
    const char *p = dump;

    fmt(key, sizeof(key), "\n\t\tname: %s\n", name);
    while ((p = strstr(p, key))) {
        /* the line before: "location key (INO INODE_ITEM 0) type TYPE" */
        const char *line = p;

        while (line > dump && line[-1] != '\n')
            line--;
        if (line > dump) {
            const char *prev = line - 1;

            while (prev > dump && prev[-1] != '\n')
                prev--;
            if (!strncmp(prev, "\t\tlocation key (", 16)) {
                long ino = strtol(prev + 16, NULL, 10);
                const char *t = strstr(prev, ") type ");

                if (t && type)
                    fmt(type, tlen, "%.*s", (int)strcspn(t + 7, "\n"), t + 7);
                return ino;
            }
        }
        p += strlen(key) - 1;
    }
    return -1;
}

static bool file_is(const char *path, const void *want, size_t len)
{
    char *buf = malloc(len + 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    bool same = false;

    if (buf && fd >= 0)
        same = read(fd, buf, len + 1) == (ssize_t)len && !memcmp(buf, want, len);
    if (fd >= 0)
        close(fd);
    free(buf);
    return same;
}

static void test_btrfs(void)
{
    char root[PATH_MAX], img[PATH_MAX], out[PATH_MAX], p[PATH_MAX], buf[64], t[32];
    char first[PATH_MAX + 16];
    struct diag d;
    struct stat st;
    struct test_out o;
    long a, b;
    int r;

    if (!have("mkfs.btrfs") || !have("btrfs")) {
        ok(1, "# SKIP btrfs-progs is not installed");
        return;
    }
    at(root, sizeof(root), "tree-space");
    at(img, sizeof(img), "btrfs.img");
    diag_init(&d);
    r = image_build_fs("btrfs", root, "root", 256 * MiB, NULL, img, scratch, log_fd, &d);
    is_int(r, 0, "btrfs: built");
    fmt(first, sizeof(first), "the first: %s/dev/null", root);
    ok(no_errors(&d) && said(&d, DIAG_WARNING, img, "2 device nodes", first, "0:0"),
       "btrfs: a warning that device numbers are lost");
    diag_dispose(&d);
    ok(stat(img, &st) == 0 && st.st_size == (off_t)(256 * MiB) && (st.st_mode & 0777) == 0600,
       "btrfs: the image is 256 MiB, mode 0600 (not grown, not shrunk)");
    capture(&o, "btrfs", "inspect-internal", "dump-super", img);
    ok(o.buf && num_after(o.buf, "\ntotal_bytes", 10) == (long)(256 * MiB),
       "btrfs: the file system is 256 MiB too");
    free(o.buf);
    is_str(blkid(img, "TYPE", buf, sizeof(buf)), "btrfs", "btrfs: blkid sees btrfs");
    is_str(blkid(img, "LABEL", buf, sizeof(buf)), "root", "btrfs: labelled root");
    is_int(status_of("btrfs", "check", "--readonly", img), 0,
           "btrfs: btrfs check --readonly finds nothing");
    ok(log_has("+ mkfs.btrfs -q -f -L root --rootdir "), "btrfs: the command is in the log");

    at(out, sizeof(out), "restored");
    mkdir(out, 0700);
    is_int(status_of("btrfs", "restore", "-x", "-m", "-S", img, out), 0,
           "btrfs: btrfs restore reads it back");
#define R(rel) (fmt(p, sizeof(p), "%s/%s", out, rel), p)
    ok(file_is(R("etc/hosts"), hosts, strlen(hosts)), "btrfs: /etc/hosts content");
    ok(file_is(R("data.bin"), data_bin, DATA_LEN), "btrfs: /data.bin, 20000 bytes");
    ok(file_is(R("etc/sub/deep/file"), "deep\n", 5), "btrfs: a nested file");
    ok(file_is(R("etc/with space"), "spaced\n", 7), "btrfs: a name with a space");
    ok(file_is(R("etc/empty"), "", 0), "btrfs: an empty file");
    ok(lstat(R("bin/suid"), &st) == 0 && (st.st_mode & 07777) == 04755, "btrfs: setuid kept");
    ok(lstat(R("bin"), &st) == 0 && (st.st_mode & 07777) == 02755,
       "btrfs: setgid directory kept");
    ok(lstat(R("tmp"), &st) == 0 && (st.st_mode & 07777) == 01777, "btrfs: sticky kept");
    ok(lstat(R("etc/owned"), &st) == 0 && st.st_uid == 1234 && st.st_gid == 1235 &&
       (st.st_mode & 07777) == 0640, "btrfs: owner, group and mode kept");
    ok(lstat(R("etc/hosts"), &st) == 0 && st.st_mtime == 981173106, "btrfs: the mtime kept");
    buf[0] = '\0';
    ok(readlink(R("bin/link"), buf, sizeof(buf)) == 12 && !memcmp(buf, "../etc/hosts", 12),
       "btrfs: the symlink's target");
    ok(lgetxattr(R("etc/hosts"), "user.vmkit", buf, sizeof(buf)) == 3 && !memcmp(buf, "yes", 3),
       "btrfs: the xattr kept");
#undef R

    capture(&o, "btrfs", "inspect-internal", "dump-tree", "-t", "fs", img);
    a = o.buf ? btrfs_entry(o.buf, "a", NULL, 0) : -1;
    b = o.buf ? btrfs_entry(o.buf, "b", NULL, 0) : -2;
    ok(a > 256 && a == b, "btrfs: the hard link pair is one inode (%ld, %ld)", a, b);
    t[0] = '\0';
    ok(o.buf && btrfs_entry(o.buf, "null", t, sizeof(t)) > 0 && !strcmp(t, "CHRDEV"),
       "btrfs: /dev/null is a chardev (%s; its numbers are lost, as documented)", t);
    ok(o.buf && btrfs_entry(o.buf, "fifo", t, sizeof(t)) > 0 && !strcmp(t, "FIFO"),
       "btrfs: a fifo (%s)", t);
    free(o.buf);
    capture(&o, "btrfs", "inspect-internal", "dump-tree", "-t", "fs", img);
    ok(o.buf && strstr(o.buf, "(256 INODE_ITEM 0)") &&
       strstr(strstr(o.buf, "(256 INODE_ITEM 0)"), "mode 40755 links 1 uid 0 gid 0"),
       "btrfs: / is 0755 0:0 (the top is 0700)");
    free(o.buf);
}

/* ---- qcow2 and swap ---- */

static void test_qcow2(void)
{
    char raw[PATH_MAX], dst[PATH_MAX], missing[PATH_MAX];
    struct diag d;
    struct stat st;
    struct test_out o;
    int r;

    if (!have("qemu-img")) {
        ok(1, "# SKIP qemu-img is not installed");
        return;
    }
    at(raw, sizeof(raw), "ext4.img");
    at(dst, sizeof(dst), "ext4.qcow2");
    if (!exists(raw)) {
        ok(0, "qcow2: no ext4 image to convert");
        return;
    }
    diag_init(&d);
    r = image_convert_qcow2(raw, dst, log_fd, &d);
    is_int(r, 0, "qcow2: converted");
    ok(no_errors(&d), "qcow2: no errors");
    diag_dispose(&d);
    if (stat(dst, &st) < 0)
        memset(&st, 0, sizeof(st));
    ok((st.st_mode & 0777) == 0600 && st.st_size > 0 && st.st_size < (off_t)(32 * MiB),
       "qcow2: mode 0600, small (%lld bytes)", (long long)st.st_size);
    capture(&o, "qemu-img", "info", "--output=json", "-f", "qcow2", dst);
    ok(o.buf && strstr(o.buf, "\"format\": \"qcow2\"") &&
       strstr(o.buf, "\"virtual-size\": 67108864,"), "qcow2: qemu-img info: qcow2, 64 MiB");
    free(o.buf);
    is_int(status_of("qemu-img", "compare", "-q", "-f", "raw", "-F", "qcow2", raw, dst), 0,
           "qcow2: qemu-img compare: the same contents");
    ok(log_has("+ qemu-img convert -q -f raw -O qcow2 "), "qcow2: the command is in the log");

    diag_init(&d);
    r = image_convert_qcow2(raw, dst, log_fd, &d);
    ok(r == -EEXIST && said(&d, DIAG_ERROR, dst, "exists") && stat(dst, &st) == 0,
       "qcow2: an existing destination is refused and kept");
    diag_dispose(&d);

    at(missing, sizeof(missing), "no-such.img");
    at(dst, sizeof(dst), "missing.qcow2");
    diag_init(&d);
    r = image_convert_qcow2(missing, dst, log_fd, &d);
    ok(r == -ENOENT && said(&d, DIAG_ERROR, missing, "No such file") && !exists(dst),
       "qcow2: a missing raw image, and nothing made");
    diag_dispose(&d);

    /* not an image at all */
    at(missing, sizeof(missing), "tree");
    diag_init(&d);
    r = image_convert_qcow2(missing, dst, log_fd, &d);
    ok(r == -EINVAL && !exists(dst), "qcow2: a directory is not a raw image");
    diag_dispose(&d);
}

static void test_swap(void)
{
    char img[PATH_MAX], buf[64];
    struct diag d;
    struct stat st;
    int r;

    if (!have("mkswap")) {
        ok(1, "# SKIP mkswap is not installed");
        return;
    }
    at(img, sizeof(img), "swap.img");
    diag_init(&d);
    r = image_make_swap(img, 64 * MiB, "swap", log_fd, &d);
    is_int(r, 0, "swap: made");
    ok(no_errors(&d), "swap: no errors");
    diag_dispose(&d);
    ok(stat(img, &st) == 0 && st.st_size == (off_t)(64 * MiB) && (st.st_mode & 0777) == 0600 &&
       st.st_blocks * 512 < (off_t)MiB, "swap: 64 MiB, sparse, mode 0600");
    is_str(blkid(img, "TYPE", buf, sizeof(buf)), "swap", "swap: blkid sees swap");
    is_str(blkid(img, "LABEL", buf, sizeof(buf)), "swap", "swap: labelled swap");

    diag_init(&d);
    r = image_make_swap(img, 64 * MiB, "swap", log_fd, &d);
    ok(r == -EEXIST && stat(img, &st) == 0, "swap: an existing image is refused and kept");
    diag_dispose(&d);

    at(img, sizeof(img), "swap2.img");
    diag_init(&d);
    r = image_make_swap(img, 64 * MiB, "a-label-too-long", log_fd, &d);
    ok(r == 0, "swap: a 16-byte label fits");
    diag_dispose(&d);
    unlink(img);
    diag_init(&d);
    r = image_make_swap(img, 64 * MiB, "a-label-too-long!", log_fd, &d);
    ok(r == -EINVAL && said(&d, DIAG_ERROR, img, "longer than 16 bytes") && !exists(img),
       "swap: a 17-byte label is refused, nothing made");
    diag_dispose(&d);
    diag_init(&d);
    r = image_make_swap(img, 64 * MiB + 512, NULL, log_fd, &d);
    ok(r == -EINVAL && said(&d, DIAG_ERROR, img, "multiple of 4096") && !exists(img),
       "swap: a size not a multiple of 4096 is refused");
    diag_dispose(&d);
}

/* ---- refusals and failures ---- */

static volatile sig_atomic_t cancel_flag;

static void on_alarm(int sig)
{
    (void)sig;
    cancel_flag = 1;
}

static void test_failures(void)
{
    char root[PATH_MAX], img[PATH_MAX], bad[PATH_MAX], p[PATH_MAX], q[PATH_MAX];
    char *big;
    struct diag d;
    struct stat st;
    int r;

    at(root, sizeof(root), "tree-space");
    at(img, sizeof(img), "fail.img");

    /* arguments */
    diag_init(&d);
    r = image_build_fs("vfat", root, "root", 64 * MiB, NULL, img, scratch, log_fd, &d);
    ok(r == -EINVAL && said(&d, DIAG_ERROR, img, "`vfat'") && !exists(img),
       "an unknown file system is refused");
    diag_dispose(&d);
    diag_init(&d);
    r = image_build_fs("xfs", root, "thirteen-char", 300 * MiB, NULL, img, scratch, log_fd, &d);
    ok(r == -EINVAL && said(&d, DIAG_ERROR, img, "longer than 12 bytes") && !exists(img),
       "an xfs label of 13 bytes is refused");
    diag_dispose(&d);
    diag_init(&d);
    r = image_build_fs("xfs", root, "root", 300 * MiB - 4096, NULL, img, scratch, log_fd, &d);
    ok(r == -EINVAL && said(&d, DIAG_ERROR, img, "less than 314572800 (300 MiB)") &&
       !exists(img), "xfs below 300 MiB is refused before mkfs.xfs runs");
    diag_dispose(&d);
    diag_init(&d);
    r = image_build_fs("ext4", root, "root", 64 * MiB + 100, NULL, img, scratch, log_fd, &d);
    ok(r == -EINVAL && said(&d, DIAG_ERROR, img, "multiple of 512") && !exists(img),
       "a size that is not whole sectors is refused");
    diag_dispose(&d);

    /* the image exists */
    write_file(img, "keep", 4, 0644);
    diag_init(&d);
    r = image_build_fs("ext4", root, "root", 64 * MiB, NULL, img, scratch, log_fd, &d);
    ok(r == -EEXIST && said(&d, DIAG_ERROR, img, "exists") && stat(img, &st) == 0 &&
       st.st_size == 4, "an existing image is refused and left alone");
    diag_dispose(&d);
    unlink(img);

    /* the tree is missing */
    at(bad, sizeof(bad), "no-such-tree");
    diag_init(&d);
    r = image_build_fs("ext4", bad, "root", 64 * MiB, NULL, img, scratch, log_fd, &d);
    ok(r == -ENOENT && said(&d, DIAG_ERROR, bad, "No such file") && !exists(img),
       "a missing tree: -ENOENT, nothing left");
    diag_dispose(&d);

    /* names xfs's protofile cannot say */
    at(bad, sizeof(bad), "tree-bad-xfs");
    mkdir(bad, 0755);
    mkdirs(bad, "etc", 0755);
    fmt(p, sizeof(p), "%s/etc/my file", bad);
    write_file(p, "x", 1, 0644);
    fmt(p, sizeof(p), "%s/:colon", bad);
    write_file(p, "x", 1, 0644);
    fmt(p, sizeof(p), "%s/$", bad);
    write_file(p, "x", 1, 0644);
    fmt(p, sizeof(p), "%s/etc/tab-link", bad);
    if (symlink("a\tb", p) < 0)
        printf("# symlink: %s\n", strerror(errno));
    diag_init(&d);
    r = image_build_fs("xfs", bad, "root", 300 * MiB, NULL, img, scratch, log_fd, &d);
    fmt(p, sizeof(p), "%s/etc/my file", bad);
    fmt(q, sizeof(q), "%s/:colon", bad);
    ok(r == -EINVAL && said(&d, DIAG_ERROR, p, "has a space", "protofile") &&
       said(&d, DIAG_ERROR, q, "starts with `:'"), "xfs: a name with a space or a leading "
       "`:' is an error naming the path");
    fmt(p, sizeof(p), "%s/$", bad);
    fmt(q, sizeof(q), "%s/etc/tab-link", bad);
    ok(said(&d, DIAG_ERROR, p, "`$'") && said(&d, DIAG_ERROR, q, "target has a space, tab"),
       "xfs: so are a name `$' and a symlink target with a tab");
    is_int(d.nerrors, 4, "xfs: every bad entry is named, one error each");
    ok(!exists(img), "xfs: and no image is left");
    diag_dispose(&d);

    /* btrfs: a hard link outside the tree */
    at(bad, sizeof(bad), "tree-outside-link");
    mkdir(bad, 0755);
    fmt(p, sizeof(p), "%s/inside", bad);
    write_file(p, "x", 1, 0644);
    at(q, sizeof(q), "outside-link");
    if (link(p, q) < 0)
        printf("# link: %s\n", strerror(errno));
    diag_init(&d);
    r = image_build_fs("btrfs", bad, "root", 256 * MiB, NULL, img, scratch, log_fd, &d);
    ok(r == -EINVAL && said(&d, DIAG_ERROR, p, "2 hard links, 1 of them in the tree") &&
       !exists(img), "btrfs: a file linked from outside the tree is refused");
    diag_dispose(&d);
    diag_init(&d);
    r = image_build_fs("ext4", bad, "root", 64 * MiB, NULL, img, scratch, log_fd, &d);
    ok(r == 0 && status_of("e2fsck", "-fn", img) == 0,
       "ext4: the same tree is fine (mke2fs counts links itself)");
    diag_dispose(&d);
    unlink(img);

    /* a tree larger than the image */
    at(bad, sizeof(bad), "tree-big");
    mkdir(bad, 0755);
    fmt(p, sizeof(p), "%s/big", bad);
    if ((big = malloc(150 * MiB))) {
        for (size_t i = 0; i < 150 * MiB; i++)
            big[i] = (char)(i * 2654435761u >> 13);
        write_file(p, big, 150 * MiB, 0644);
        free(big);
    }
    diag_init(&d);
    r = image_build_fs("ext4", bad, "root", 64 * MiB, NULL, img, scratch, log_fd, &d);
    ok(r == -EIO && said(&d, DIAG_ERROR, img, "cannot make the ext4 file system",
                         "mke2fs exited with status 1", "Could not allocate block") &&
       !exists(img), "ext4: too small for the tree: mke2fs's words recorded, nothing left");
    diag_dispose(&d);
    diag_init(&d);
    r = image_build_fs("btrfs", bad, "root", 128 * MiB, NULL, img, scratch, log_fd, &d);
    ok(r == -ENOSPC && said(&d, DIAG_ERROR, img, "btrfs needs more than 134217728 bytes",
                            "mkfs.btrfs made the image") && !exists(img),
       "btrfs: too small for the tree (mkfs.btrfs grows it): -ENOSPC, nothing left");
    diag_dispose(&d);

    /* cancelled before and during the child */
    proc_set_cancel(&cancel_flag);
    cancel_flag = 1;
    diag_init(&d);
    r = image_build_fs("ext4", root, "root", 64 * MiB, NULL, img, scratch, log_fd, &d);
    ok(r == -ECANCELED && d.n == 0 && !exists(img),
       "cancelled: -ECANCELED, nothing recorded, nothing left");
    diag_dispose(&d);
    cancel_flag = 0;
    {
        struct sigaction sa = { .sa_handler = on_alarm };
        struct itimerval it = { .it_value = { 0, 150 * 1000 } };

        sigaction(SIGALRM, &sa, NULL);
        setitimer(ITIMER_REAL, &it, NULL);
        diag_init(&d);
        r = image_build_fs("ext4", bad, "root", 1024 * MiB, NULL, img, scratch, log_fd, &d);
        ok(r == -ECANCELED && d.n == 0 && !exists(img),
           "cancelled while mke2fs runs: -ECANCELED, nothing left (%d)", r);
        diag_dispose(&d);
        signal(SIGALRM, SIG_DFL);
    }
    proc_set_cancel(NULL);
    cancel_flag = 0;
}

static void test_limits(void)
{
    is_int(image_label_max("ext4"), 16, "label max: ext4 16");
    is_int(image_label_max("xfs"), 12, "label max: xfs 12");
    is_int(image_label_max("btrfs"), 255, "label max: btrfs 255");
    is_int(image_label_max("swap"), 16, "label max: swap 16");
    is_int(image_label_max("vfat"), 0, "label max: vfat unknown");
    is_int(image_min_size("xfs"), 300 * MiB, "min size: xfs 300 MiB");
    is_int(image_min_size("nope"), 0, "min size: unknown");
}

int main(void)
{
    char tree[PATH_MAX];

    if (geteuid() != 0) {
        printf("1..0 # SKIP needs root (device nodes, owners)\n");
        return 0;
    }
    fmt(top, sizeof(top), "%s/test-image-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(top)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    if ((log_fd = memfd_create("test-image-log", MFD_CLOEXEC)) < 0) {
        printf("Bail out! memfd_create: %s\n", strerror(errno));
        return 1;
    }
    for (size_t i = 0; i < DATA_LEN; i++)
        data_bin[i] = (unsigned char)(i * 7 + i / 251);
    mkdir(at(scratch, sizeof(scratch), "scratch"), 0700);
    make_tree(at(tree, sizeof(tree), "tree"), false);
    make_tree(at(tree, sizeof(tree), "tree-space"), true);

    test_limits();
    test_ext4();
    test_xfs();
    test_btrfs();
    test_qcow2();
    test_swap();
    test_failures();
    {
        DIR *dir = opendir(scratch);
        struct dirent *e;
        int n = 0;

        while (dir && (e = readdir(dir)))
            n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
        ok(dir && n == 0, "nothing was left in the tmpdir (%d entries)", n);
        if (dir)
            closedir(dir);
    }

    if (!getenv("TEST_IMAGE_KEEP"))
        remove_tree(top);
    else
        printf("# kept %s\n", top);
    return tap_done();
}
