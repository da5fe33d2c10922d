/*
 * test-ext2root.c - the identity step's ext2/3/4 image backend
 * (provision/ext2root.c) against images that mke2fs -d builds from a
 * temporary tree: every operation and its errors, symlinks that try to
 * leave the root, hard links, growing and hashed directories, a file
 * system inside a partition (mke2fs -E offset=), the refusals at open;
 * then the real identity_apply on images (ext4 with 4 KiB and 1 KiB
 * blocks, at an offset, ext2, ext4 with inline data) and on a directory
 * copy with the directory backend, compared file by file through the
 * backend and through debugfs (rdump, cat, stat); e2fsck -fn must find
 * every image clean.  The time identity_apply takes on an image is
 * printed as a comment.  Needs root (owners), mke2fs, e2fsck, debugfs
 * and ssh-keygen.  Under valgrind the directory backend fails: valgrind
 * does not know openat2(2).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ext2root.h"
#include "identity.h"
#include "proc.h"
#include "tap.h"
#include "testutil.h"

static char base[] = "/tmp/vmkit-test-ext2root-XXXXXX";
static int nimg;
#define rm_rf(path) test_rm_tree(path)
#define at(dir, rel) test_path((dir), (rel))
#define mkdirs(dir, rel) test_mkdirs((dir), (rel))
#define link_to(dir, rel, target) test_link((dir), (rel), (target))

/* ---- building trees ---- */

static void put_bytes(const char *dir, const char *rel, const void *buf, size_t len,
                      mode_t mode)
{
    char parent[PATH_MAX], *slash;
    FILE *f;

    snprintf(parent, sizeof(parent), "%s", rel);
    if ((slash = strrchr(parent, '/')) && slash != parent) {
        *slash = '\0';
        mkdirs(dir, parent);
    }
    unlink(at(dir, rel));
    if (!(f = fopen(at(dir, rel), "w"))) {
        printf("# cannot write %s\n", at(dir, rel));
        return;
    }
    fwrite(buf, 1, len, f);
    fclose(f);
    chmod(at(dir, rel), mode);
}

static void put(const char *dir, const char *rel, const char *text, mode_t mode)
{
    put_bytes(dir, rel, text, strlen(text), mode);
}

/* The whole file, or NULL. */
static char *slurp_path(const char *path, size_t *len_r)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (!f)
        return NULL;
    do {
        if (cap - len < 4096) {
            cap = cap ? 2 * cap : 8192;
            buf = realloc(buf, cap + 1);
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    fclose(f);
    buf[len] = '\0';
    if (len_r)
        *len_r = len;
    return buf;
}

static const char shadow_text[] =
    "root:*:19700:0:99999:7:::\n"
    "daemon:*:19700:0:99999:7:::\n"
    "user:$y$j9T$abc$def:19700:0:99999:7:::\n";

#define BIG_LEN (100 * 1000)
#define SLOW_TARGET "/etc/////////////////////////////////////////////////////////////hostname"

/* A guest tree in a new directory under base (caller frees): what a
 * Debian root holds that the identity step touches, merged /usr, and
 * symlinks of every kind. */
static char *make_tree(const char *name)
{
    char *dir = NULL, *big;

    if (asprintf(&dir, "%s/%s", base, name) < 0)
        abort();
    mkdir(dir, 0755);
    put(dir, "/etc/shadow", shadow_text, 0640);
    chown(at(dir, "/etc/shadow"), 0, 42);
    put(dir, "/etc/hostname", "golden\n", 0644);
    put(dir, "/etc/hosts", "127.0.0.1\tlocalhost\n", 0644);
    link_to(dir, "/etc/resolv.conf", "/run/x");
    link_to(dir, "/etc/escape", "../../..");
    link_to(dir, "/etc/absroot", "/");
    link_to(dir, "/etc/sshlink", "/etc/ssh");
    link_to(dir, "/etc/sshlink2", "ssh");
    link_to(dir, "/etc/loop1", "loop2");
    link_to(dir, "/etc/loop2", "loop1");
    link_to(dir, "/etc/dangling", "/nonexistent");
    link_to(dir, "/etc/slowlink", SLOW_TARGET);
    put(dir, "/etc/hardlink-a", "shared\n", 0644);
    link(at(dir, "/etc/hardlink-a"), at(dir, "/etc/hardlink-b"));
    put(dir, "/etc/highid", "high\n", 0600);
    chown(at(dir, "/etc/highid"), 100000, 100001);
    big = malloc(BIG_LEN);
    for (size_t i = 0; i < BIG_LEN; i++)
        big[i] = (char)('a' + i % 23);
    put_bytes(dir, "/etc/big", big, BIG_LEN, 0644);
    free(big);
    put(dir, "/etc/ssh/sshd_config", "PermitRootLogin prohibit-password\n", 0644);
    put(dir, "/etc/ssh/ssh_host_rsa_key", "old rsa\n", 0600);
    put(dir, "/etc/ssh/ssh_host_rsa_key.pub", "old rsa pub\n", 0644);
    put(dir, "/etc/ssh/ssh_host_dsa_key", "old dsa\n", 0600);
    put(dir, "/etc/ssh/ssh_host_dsa_key.pub", "old dsa pub\n", 0644);
    mkdirs(dir, "/etc/systemd/system");
    put(dir, "/var/lib/dbus/machine-id", "0123456789abcdef0123456789abcdef\n", 0444);
    mkdirs(dir, "/var/lib/systemd");
    mkdirs(dir, "/root");
    chmod(at(dir, "/root"), 0700);
    mkdirs(dir, "/usr/lib/systemd/system");
    put(dir, "/usr/lib/systemd/system/systemd-networkd.service", "[Unit]\n", 0644);
    put(dir, "/usr/lib/systemd/system/systemd-networkd.socket", "[Unit]\n", 0644);
    link_to(dir, "/lib", "usr/lib");
    mkdirs(dir, "/srv/many");
    for (int i = 0; i < 400; i++) {
        char rel[64];

        snprintf(rel, sizeof(rel), "/srv/many/an-entry-with-a-longish-name-%03d", i);
        put(dir, rel, "x\n", 0644);
    }
    return dir;
}

/* ---- running e2fsprogs ---- */

static void show(const char *text)
{
    for (const char *p = text; p && *p;) {
        size_t n = strcspn(p, "\n");

        printf("#   %.*s\n", (int)n, p);
        p += n + (p[n] == '\n');
    }
}

/* Runs argv (argv[0] from $PATH); its stdout into *out_r (new string;
 * NULL: dropped), its stderr shown when it fails.  The exit status, or
 * -1 when it did not exit. */
static int run(char *const argv[], char **out_r)
{
    char out[PATH_MAX], err[PATH_MAX], *text;
    struct proc_opts o;
    int ofd, efd, st, r;

    snprintf(out, sizeof(out), "%s/stdout", base);
    snprintf(err, sizeof(err), "%s/stderr", base);
    ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    efd = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    proc_opts_init(&o);
    o.stdout_fd = ofd;
    o.stderr_fd = efd;
    r = proc_run(argv[0], argv, &o, 120 * 1000, &st);
    close(ofd);
    close(efd);
    if (out_r)
        *out_r = slurp_path(out, NULL);
    r = r < 0 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (r && (text = slurp_path(err, NULL))) {
        printf("# %s: status %d\n", argv[0], r);
        show(text);
        free(text);
    }
    return r;
}

/* A file of size bytes (zeros). */
static void make_file(const char *path, off_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd < 0 || ftruncate(fd, size) < 0)
        printf("# cannot make %s\n", path);
    if (fd >= 0)
        close(fd);
}

/* mke2fs -d tree into image (made to image_size bytes first), with
 * extra options (NULL-terminated) before the size.  0 or its status. */
static int mkfs(const char *image, off_t image_size, const char *tree, const char *size,
                const char *const *opts)
{
    char *argv[32];
    size_t n = 0;

    make_file(image, image_size);
    argv[n++] = (char *)"mke2fs";
    argv[n++] = (char *)"-q";
    argv[n++] = (char *)"-F";
    for (size_t i = 0; opts && opts[i]; i++)
        argv[n++] = (char *)opts[i];
    argv[n++] = (char *)"-d";
    argv[n++] = (char *)tree;
    argv[n++] = (char *)image;
    argv[n++] = (char *)size;
    argv[n] = NULL;
    return run(argv, NULL);
}

/* "IMAGE" or "IMAGE?offset=N", as e2fsprogs' tools name a file system
 * inside a file (static). */
static const char *dev_name(const char *image, uint64_t offset)
{
    static char buf[PATH_MAX];

    if (offset)
        snprintf(buf, sizeof(buf), "%s?offset=%llu", image, (unsigned long long)offset);
    else
        snprintf(buf, sizeof(buf), "%s", image);
    return buf;
}

/* e2fsck -fn: 0 when clean. */
static int fsck(const char *image, uint64_t offset)
{
    char dev[PATH_MAX];
    char *argv[] = { (char *)"e2fsck", (char *)"-fn", dev, NULL };

    snprintf(dev, sizeof(dev), "%s", dev_name(image, offset));
    return run(argv, NULL);
}

/* debugfs -R request: its stdout (new string) or NULL. */
static char *debugfs(const char *image, uint64_t offset, const char *request, bool write)
{
    char dev[PATH_MAX], *out = NULL;
    char *argv[] = { (char *)"debugfs", (char *)(write ? "-w" : "-R"),
                     (char *)(write ? "-R" : request), (char *)(write ? request : dev),
                     write ? dev : NULL, NULL };

    snprintf(dev, sizeof(dev), "%s", dev_name(image, offset));
    if (run(argv, &out)) {
        free(out);
        return NULL;
    }
    return out;
}

/* The number after key in debugfs's stat output ("Mode:  0640" gives
 * 0640 with base 8), or -1. */
static long stat_field(const char *text, const char *key, int numbase)
{
    const char *p = text ? strstr(text, key) : NULL;

    return p ? strtol(p + strlen(key), NULL, numbase) : -1;
}

/* ---- through the backend ---- */

static void dump(const struct diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        printf("#   %s: %s\n", d->v[i].file ? d->v[i].file : "-", d->v[i].msg);
}

static int b_read(const struct identity_root *r, const char *path, size_t max, char **buf_r,
                  size_t *len_r)
{
    return r->ops->read(r->ctx, path, max, buf_r, len_r);
}

/* The file's text through the backend (static), or an error's name. */
static const char *text_of(const struct identity_root *r, const char *path)
{
    static char out[4096];
    char *buf = NULL;
    size_t len;
    int rc = b_read(r, path, sizeof(out) - 1, &buf, &len);

    if (rc)
        snprintf(out, sizeof(out), "(error %s)", strerror(-rc));
    else
        snprintf(out, sizeof(out), "%s", buf);
    free(buf);
    return out;
}

static int b_stat(const struct identity_root *r, const char *path, bool follow,
                  struct identity_stat *st)
{
    memset(st, 0, sizeof(*st));
    return r->ops->stat(r->ctx, path, follow, st);
}

/* The symlink's target (static) or an error's name. */
static const char *link_of(const struct identity_root *r, const char *path)
{
    static char out[PATH_MAX + 32];
    char *t = NULL;
    int rc = r->ops->readlink(r->ctx, path, PATH_MAX, &t);

    snprintf(out, sizeof(out), "%s", rc ? strerror(-rc) : t);
    free(t);
    return out;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the directory, sorted, joined with spaces (static), or an
 * error's name. */
static const char *names_of(const struct identity_root *r, const char *path, size_t max)
{
    static char out[32768];
    char **v = NULL;
    size_t n = 0, len = 0;
    int rc = r->ops->list(r->ctx, path, max, &v);

    out[0] = '\0';
    if (rc) {
        snprintf(out, sizeof(out), "(error %s)", strerror(-rc));
        return out;
    }
    while (v[n])
        n++;
    qsort(v, n, sizeof(*v), cmp_str);
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", i ? " " : "", v[i]);
        if (len >= sizeof(out))
            len = sizeof(out) - 1;
        free(v[i]);
    }
    free(v);
    return out;
}

static bool opened(const char *image, uint64_t offset, uint64_t size, struct identity_root *r)
{
    struct diag d;
    int rc;

    diag_init(&d);
    rc = identity_root_ext2_open(image, offset, size, r, &d);
    if (rc)
        dump(&d);
    diag_dispose(&d);
    return rc == 0;
}

static bool closed(struct identity_root *r)
{
    struct diag d;
    int rc;

    diag_init(&d);
    rc = identity_root_ext2_close(r, &d);
    if (rc)
        dump(&d);
    diag_dispose(&d);
    return rc == 0;
}

/* ---- every operation ---- */

static void test_read(const struct identity_root *r)
{
    char *buf = NULL;
    size_t len = 0;
    bool same = true;

    is_str(text_of(r, "/etc/hostname"), "golden\n", "read a file");
    is_int(b_read(r, "/etc/resolv.conf", 4096, &buf, &len), -ELOOP, "read a symlink: ELOOP");
    ok(!buf && !len, "and nothing returned");
    is_int(b_read(r, "/etc", 4096, &buf, &len), -EINVAL, "read a directory: EINVAL");
    is_int(b_read(r, "/etc/nope", 4096, &buf, &len), -ENOENT, "read a missing file: ENOENT");
    is_int(b_read(r, "/nodir/nope", 4096, &buf, &len), -ENOENT,
           "read in a missing directory: ENOENT");
    is_int(b_read(r, "/etc/hostname/x", 4096, &buf, &len), -ENOTDIR,
           "read below a file: ENOTDIR");
    is_int(b_read(r, "/etc/big", BIG_LEN - 1, &buf, &len), -EFBIG, "read past max: EFBIG");
    is_int(b_read(r, "/etc/big", BIG_LEN, &buf, &len), 0, "read a %d-byte file at max",
           BIG_LEN);
    for (size_t i = 0; buf && i < BIG_LEN; i++)
        same = same && buf[i] == (char)('a' + i % 23);
    ok(buf && len == BIG_LEN && same && buf[len] == '\0', "every byte, NUL-terminated");
    free(buf);
    is_str(text_of(r, "/etc/sshlink/sshd_config"), "PermitRootLogin prohibit-password\n",
           "read through an absolute directory symlink");
    is_str(text_of(r, "/etc/sshlink2/sshd_config"), "PermitRootLogin prohibit-password\n",
           "read through a relative directory symlink");
    is_str(text_of(r, "/etc/escape/etc/hostname"), "golden\n",
           "../../.. stops at the guest's root");
    is_str(text_of(r, "/etc/escape/etc/escape/etc/escape/etc/hostname"), "golden\n",
           "again and again");
    is_str(text_of(r, "/etc/absroot/etc/hostname"), "golden\n",
           "a symlink to / is the guest's root");
    is_str(text_of(r, "/lib/systemd/system/systemd-networkd.service"), "[Unit]\n",
           "merged /usr: /lib -> usr/lib");
    is_str(text_of(r, "/etc/loop1/x"), "(error Too many levels of symbolic links)",
           "a symlink loop on the way: ELOOP");
    is_str(text_of(r, "/etc/dangling/x"), "(error No such file or directory)",
           "a dangling symlink on the way: ENOENT");
    is_int(b_read(r, "etc/hostname", 4096, &buf, &len), -EINVAL, "a relative path: EINVAL");
    is_int(b_read(r, "/etc/../etc/hostname", 4096, &buf, &len), -EINVAL, "`..': EINVAL");
    is_int(b_read(r, "/etc//hostname", 4096, &buf, &len), -EINVAL, "an empty component: EINVAL");
    is_int(b_read(r, "/etc/hostname/", 4096, &buf, &len), -EINVAL, "a trailing /: EINVAL");
    is_int(b_read(r, "/", 4096, &buf, &len), -EINVAL, "/ itself: EINVAL");
}

static void test_stat(const struct identity_root *r)
{
    struct identity_stat st;

    is_int(b_stat(r, "/etc/shadow", false, &st), 0, "stat shadow");
    ok(S_ISREG(st.mode) && (st.mode & 07777) == 0640 && st.uid == 0 && st.gid == 42 &&
       st.size == (off_t)strlen(shadow_text), "a regular file, 0640, root:42, its size");
    is_int(b_stat(r, "/etc/highid", false, &st), 0, "stat a file with 32-bit ids");
    ok(st.uid == 100000 && st.gid == 100001, "uid 100000, gid 100001 (the high 16 bits)");
    is_int(b_stat(r, "/etc/resolv.conf", false, &st), 0, "lstat a symlink");
    ok(S_ISLNK(st.mode) && st.size == 6, "a symlink of 6 bytes");
    is_int(b_stat(r, "/etc/resolv.conf", true, &st), -ENOENT,
           "stat following a symlink to a missing file: ENOENT");
    is_int(b_stat(r, "/etc/sshlink", true, &st), 0, "stat following a directory symlink");
    ok(S_ISDIR(st.mode), "a directory");
    is_int(b_stat(r, "/etc/loop1", true, &st), -ELOOP, "stat following a loop: ELOOP");
    is_int(b_stat(r, "/etc/loop1", false, &st), 0, "lstat the loop's link");
    is_int(b_stat(r, "/etc/slowlink", true, &st), 0, "a symlink longer than 60 bytes (slow)");
    ok(S_ISREG(st.mode) && st.size == 7, "followed to /etc/hostname");
    is_int(b_stat(r, "/etc/escape", true, &st), 0, "../../.. followed");
    ok(S_ISDIR(st.mode), "is the root, a directory");
    is_int(b_stat(r, "/etc/hostname/x", false, &st), -ENOTDIR, "below a file: ENOTDIR");
}

static void test_readlink_list(const struct identity_root *r)
{
    char *t = NULL;

    is_str(link_of(r, "/etc/resolv.conf"), "/run/x", "readlink");
    is_str(link_of(r, "/etc/slowlink"), SLOW_TARGET, "readlink a slow symlink");
    is_str(link_of(r, "/etc/escape"), "../../..", "readlink shows the target as it is");
    is_str(link_of(r, "/etc/hostname"), strerror(EINVAL), "readlink a file: EINVAL");
    is_str(link_of(r, "/etc/nope"), strerror(ENOENT), "readlink a missing one: ENOENT");
    is_int(r->ops->readlink(r->ctx, "/etc/resolv.conf", 5, &t), -ENAMETOOLONG,
           "readlink past max: ENAMETOOLONG");
    ok(!t, "and nothing returned");

    is_str(names_of(r, "/etc/ssh", 100),
           "ssh_host_dsa_key ssh_host_dsa_key.pub ssh_host_rsa_key ssh_host_rsa_key.pub"
           " sshd_config", "list a directory (no . or ..)");
    is_str(names_of(r, "/etc/sshlink", 100),
           "ssh_host_dsa_key ssh_host_dsa_key.pub ssh_host_rsa_key ssh_host_rsa_key.pub"
           " sshd_config", "list through a directory symlink");
    is_str(names_of(r, "/etc/ssh", 4), "(error Argument list too long)",
           "list past max: E2BIG");
    is_str(names_of(r, "/etc/hostname", 4), "(error Not a directory)",
           "list a file: ENOTDIR");
    is_str(names_of(r, "/etc/nope", 4), "(error No such file or directory)",
           "list a missing one: ENOENT");
}

static void test_write(const struct identity_root *r)
{
    const struct identity_root_ops *o = r->ops;
    struct identity_stat st;
    char *big, *buf = NULL;
    size_t len = 0, n = 3 * 1024 * 1024 + 17;
    bool same = true;

    is_int(o->write(r->ctx, "/etc/hostname", "web1\n", 5, 0644, 0, 0), 0, "write a file");
    is_str(text_of(r, "/etc/hostname"), "web1\n", "its new content");
    is_int(o->write(r->ctx, "/etc/hostname", "web2\n", 5, 0600, 70000, 70001), 0,
           "write it again, 0600, 32-bit owner");
    is_int(b_stat(r, "/etc/hostname", false, &st), 0, "stat it");
    ok(S_ISREG(st.mode) && (st.mode & 07777) == 0600 && st.uid == 70000 && st.gid == 70001,
       "mode and owner set");
    is_int(o->write(r->ctx, "/etc/resolv.conf", "nameserver 192.0.2.1\n", 21, 0644, 0, 0), 0,
           "write over a symlink");
    is_int(b_stat(r, "/etc/resolv.conf", false, &st), 0, "lstat it");
    ok(S_ISREG(st.mode), "the symlink was replaced by a file");
    is_int(b_stat(r, "/run", false, &st), -ENOENT, "and not written through (no /run/x)");
    is_int(o->write(r->ctx, "/etc/ssh", "x", 1, 0644, 0, 0), -EISDIR,
           "write over a directory: EISDIR");
    is_int(o->write(r->ctx, "/etc/sshlink/written", "w\n", 2, 0644, 0, 0), 0,
           "write through a directory symlink");
    is_str(text_of(r, "/etc/ssh/written"), "w\n", "lands in the directory it points at");
    is_int(o->write(r->ctx, "/etc/escape/etc/escaped", "e\n", 2, 0644, 0, 0), 0,
           "write through ../../..");
    is_str(text_of(r, "/etc/escaped"), "e\n", "lands inside the root");
    is_int(o->write(r->ctx, "/nodir/file", "x", 1, 0644, 0, 0), -ENOENT,
           "write in a missing directory: ENOENT");
    is_int(o->write(r->ctx, "/etc/hostname/x", "x", 1, 0644, 0, 0), -ENOTDIR,
           "write below a file: ENOTDIR");
    is_int(o->write(r->ctx, "/etc/dangling/x", "x", 1, 0644, 0, 0), -ENOENT,
           "write below a dangling symlink: ENOENT");
    is_int(o->write(r->ctx, "/etc/hardlink-a", "new\n", 4, 0644, 0, 0), 0,
           "write over one name of a hard-linked file");
    is_str(text_of(r, "/etc/hardlink-a"), "new\n", "that name has the new content");
    is_str(text_of(r, "/etc/hardlink-b"), "shared\n", "the other keeps the old");
    is_int(o->write(r->ctx, "/etc/empty", "", 0, 0644, 0, 0), 0, "write an empty file");
    is_int(b_read(r, "/etc/empty", 10, &buf, &len), 0, "read it back");
    ok(buf && len == 0 && buf[0] == '\0', "empty");
    free(buf);
    buf = NULL;
    big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(i * 7 + i / 4096);
    is_int(o->write(r->ctx, "/etc/big", big, n, 0644, 0, 0), 0, "write %zu bytes", n);
    is_int(b_read(r, "/etc/big", n, &buf, &len), 0, "read them back");
    for (size_t i = 0; buf && i < n; i++)
        same = same && buf[i] == big[i];
    ok(buf && len == n && same, "every byte");
    free(buf);
    free(big);

    /* more than the 64 MiB file system holds: nothing is left behind
     * (e2fsck checks the counts at the end) */
    n = 80 << 20;
    big = calloc(1, n);
    is_int(o->write(r->ctx, "/etc/big", big, n, 0644, 0, 0), -ENOSPC, "write too much: ENOSPC");
    free(big);
    is_int(b_stat(r, "/etc/big", false, &st), 0, "the old file is still there");
    ok(st.size == (off_t)(3 * 1024 * 1024 + 17), "unchanged");
    is_int(o->write(r->ctx, "/etc/afterwards", "a\n", 2, 0644, 0, 0), 0,
           "and the space is free again");
}

static void test_symlink_remove_mkdir(const struct identity_root *r)
{
    const struct identity_root_ops *o = r->ops;
    struct identity_stat st;
    char target[201];

    is_int(o->symlink(r->ctx, "/etc/machine-id", "/var/lib/dbus/machine-id"), 0,
           "symlink over a regular file");
    is_str(link_of(r, "/var/lib/dbus/machine-id"), "/etc/machine-id", "its target");
    is_int(b_stat(r, "/var/lib/dbus/machine-id", false, &st), 0, "lstat it");
    ok(S_ISLNK(st.mode) && st.uid == 0 && st.gid == 0, "a symlink owned by root");
    is_int(o->symlink(r->ctx, "/etc/hosts", "/etc/sshlink2"), 0, "symlink over a symlink");
    is_str(link_of(r, "/etc/sshlink2"), "/etc/hosts", "replaced, not followed");
    is_int(b_stat(r, "/etc/ssh", false, &st), 0, "the directory it pointed at");
    ok(S_ISDIR(st.mode), "is still there");
    memset(target, 'x', 200);
    target[0] = '/';
    target[200] = '\0';
    is_int(o->symlink(r->ctx, target, "/etc/longlink"), 0, "a 200-byte target");
    is_str(link_of(r, "/etc/longlink"), target, "read back");
    is_int(o->symlink(r->ctx, "x", "/etc/ssh"), -EISDIR, "symlink over a directory: EISDIR");
    is_int(o->symlink(r->ctx, "x", "/nodir/l"), -ENOENT, "symlink in a missing directory");

    is_int(o->remove(r->ctx, "/etc/ssh/ssh_host_rsa_key"), 0, "remove a file");
    is_int(b_stat(r, "/etc/ssh/ssh_host_rsa_key", false, &st), -ENOENT, "gone");
    is_int(o->remove(r->ctx, "/etc/ssh/nope"), 0, "remove a missing file: fine");
    is_int(o->remove(r->ctx, "/nodir/nope"), 0, "remove in a missing directory: fine");
    is_int(o->remove(r->ctx, "/etc/ssh"), -EISDIR, "remove a directory: EISDIR");
    is_int(o->remove(r->ctx, "/etc/hostname/x"), -ENOTDIR, "remove below a file: ENOTDIR");
    is_int(o->remove(r->ctx, "/etc/sshlink"), 0, "remove a directory symlink");
    is_int(b_stat(r, "/etc/sshlink", false, &st), -ENOENT, "the link is gone");
    is_int(b_stat(r, "/etc/ssh/sshd_config", false, &st), 0, "not what it pointed at");
    is_int(o->remove(r->ctx, "/etc/hardlink-b"), 0, "remove the last name of a file");
    is_int(o->remove(r->ctx, "/etc/big"), 0, "remove a file of many blocks");

    is_int(o->mkdir(r->ctx, "/root/.ssh", 0700, 0, 0), 0, "mkdir");
    is_int(b_stat(r, "/root/.ssh", false, &st), 0, "stat it");
    ok(S_ISDIR(st.mode) && (st.mode & 07777) == 0700, "a directory, 0700");
    is_int(o->mkdir(r->ctx, "/root/.ssh", 0755, 5, 5), 0, "mkdir an existing directory");
    is_int(b_stat(r, "/root/.ssh", false, &st), 0, "stat it");
    ok((st.mode & 07777) == 0700 && st.uid == 0, "left as it was");
    is_int(o->mkdir(r->ctx, "/var/owned", 02750, 1000, 70001), 0, "mkdir with mode and owner");
    is_int(b_stat(r, "/var/owned", false, &st), 0, "stat it");
    ok((st.mode & 07777) == 02750 && st.uid == 1000 && st.gid == 70001, "02750 1000:70001");
    is_int(o->mkdir(r->ctx, "/etc/absroot", 0755, 0, 0), 0,
           "mkdir over a symlink to a directory: fine");
    is_int(o->mkdir(r->ctx, "/etc/hostname", 0755, 0, 0), -ENOTDIR, "mkdir over a file");
    is_int(o->mkdir(r->ctx, "/etc/dangling", 0755, 0, 0), -ENOTDIR,
           "mkdir over a dangling symlink: ENOTDIR");
    is_int(o->mkdir(r->ctx, "/nodir/x", 0755, 0, 0), -ENOENT, "mkdir without the parent");
}

#define MARK "HEAP-MARK-"

/* Leaves freed heap blocks of a block's size full of MARK, for memory
 * that libext2fs mallocs and does not fill to show up in the image. */
static void poison_heap(void)
{
    char *v[64];

    for (int i = 0; i < 64; i++)
        if ((v[i] = malloc(4096)))
            for (size_t k = 0; k + strlen(MARK) <= 4096; k += strlen(MARK))
                memcpy(v[i] + k, MARK, strlen(MARK));
    for (int i = 0; i < 64; i++)
        free(v[i]);
}

/* Whether the file holds MARK. */
static bool holds_mark(const char *path)
{
    size_t len = 0;
    char *buf = slurp_path(path, &len);
    bool found = buf && memmem(buf, len, MARK, strlen(MARK));

    free(buf);
    return found;
}

/* A directory that must grow: 300 files in a new one (one block at
 * first). */
static void test_growth(const struct identity_root *r)
{
    const struct identity_root_ops *o = r->ops;
    char path[PATH_MAX], text[64];
    bool fine = true;
    char **v = NULL;
    size_t n = 0;

    is_int(o->mkdir(r->ctx, "/etc/grow", 0755, 0, 0), 0, "mkdir /etc/grow");
    for (int i = 0; i < 300 && fine; i++) {
        snprintf(path, sizeof(path), "/etc/grow/a-file-with-a-rather-long-name-number-%03d", i);
        snprintf(text, sizeof(text), "%d\n", i);
        fine = !o->write(r->ctx, path, text, strlen(text), 0644, 0, 0);
    }
    ok(fine, "300 files written into it (the directory grows)");
    for (int i = 0; i < 300 && fine; i++) {
        snprintf(path, sizeof(path), "/etc/grow/a-file-with-a-rather-long-name-number-%03d", i);
        snprintf(text, sizeof(text), "%d\n", i);
        fine = !strcmp(text_of(r, path), text);
    }
    ok(fine, "all read back");
    is_int(o->list(r->ctx, "/etc/grow", 1000, &v), 0, "listed");
    while (v && v[n])
        free(v[n++]);
    free(v);
    is_int(n, 300, "300 names");

}

/* A hashed directory (e2fsck -D indexes /srv/many as the kernel would
 * once it outgrows a block) gets 500 more files, a directory and a
 * symlink, 50 replaced and 50 removed: leaves split, the index stays
 * valid, and no host memory lands in the split leaves. */
static void test_htree(const char *label, const char *const *opts)
{
    const struct identity_root_ops *o;
    struct identity_root r;
    char image[PATH_MAX], name[64], path[PATH_MAX], *tree, *out;
    bool fine = true;
    long flags;
    int k = nimg++;

    snprintf(name, sizeof(name), "htree%d", k);
    tree = make_tree(name);
    snprintf(image, sizeof(image), "%s/htree%d.img", base, k);
    if (!ok(mkfs(image, 32 << 20, tree, "32M", opts) == 0, "%s: mke2fs -d", label))
        goto out;
    {
        char *argv[] = { (char *)"e2fsck", (char *)"-fyD", image, NULL };

        run(argv, NULL);
    }
    out = debugfs(image, 0, "stat /srv/many", false);
    flags = stat_field(out, "Flags: ", 16);
    free(out);
    if (!ok(flags >= 0 && (flags & 0x1000), "%s: e2fsck -D indexed /srv/many", label) ||
        !ok(opened(image, 0, 0, &r), "%s: opened", label))
        goto out;
    o = r.ops;
    for (int i = 0; i < 500 && fine; i++) {
        snprintf(path, sizeof(path), "/srv/many/new-%03d", i);
        poison_heap();
        fine = !o->write(r.ctx, path, "n\n", 2, 0644, 0, 0);
    }
    ok(fine, "%s: 500 files added to the hashed directory", label);
    is_int(o->mkdir(r.ctx, "/srv/many/subdir", 0755, 0, 0), 0, "%s: a directory too", label);
    is_int(o->symlink(r.ctx, "subdir", "/srv/many/link"), 0, "%s: and a symlink", label);
    for (int i = 0; i < 50 && fine; i++) {
        snprintf(path, sizeof(path), "/srv/many/an-entry-with-a-longish-name-%03d", i);
        fine = !o->write(r.ctx, path, "r\n", 2, 0644, 0, 0);
        snprintf(path, sizeof(path), "/srv/many/an-entry-with-a-longish-name-%03d", 100 + i);
        fine = fine && !o->remove(r.ctx, path);
    }
    ok(fine, "%s: 50 replaced, 50 removed", label);
    fine = true;
    for (int i = 0; i < 500 && fine; i += 7) {
        snprintf(path, sizeof(path), "/srv/many/new-%03d", i);
        fine = !strcmp(text_of(&r, path), "n\n");
    }
    ok(fine, "%s: the new ones found", label);
    is_str(text_of(&r, "/srv/many/an-entry-with-a-longish-name-010"), "r\n", "%s: a replaced one",
           label);
    is_str(text_of(&r, "/srv/many/an-entry-with-a-longish-name-110"),
           "(error No such file or directory)", "%s: a removed one", label);
    is_str(text_of(&r, "/srv/many/an-entry-with-a-longish-name-399"), "x\n", "%s: an old one",
           label);
    is_int(o->write(r.ctx, "/srv/many/link/inner", "i\n", 2, 0644, 0, 0), 0,
           "%s: write through the new symlink", label);
    is_str(text_of(&r, "/srv/many/subdir/inner"), "i\n", "%s: into the new directory", label);
    ok(closed(&r), "%s: closed", label);
    is_int(fsck(image, 0), 0, "%s: e2fsck -fn: clean (the index checked too)", label);
    ok(!holds_mark(image), "%s: no stale host memory in the split leaves", label);
    out = debugfs(image, 0, "stat /srv/many", false);
    flags = stat_field(out, "Flags: ", 16);
    ok(flags >= 0 && (flags & 0x1000), "%s: /srv/many still indexed", label);
    free(out);
out:
    free(tree);
}

static void test_ops(void)
{
    static const char *const opts[] = { "-t", "ext4", "-b", "4096", NULL };
    struct identity_root r;
    char image[PATH_MAX], *tree = make_tree("ops"), *out;

    snprintf(image, sizeof(image), "%s/ops.img", base);
    if (!ok(mkfs(image, 64 << 20, tree, "64M", opts) == 0, "mke2fs -d: an ext4 image")) {
        free(tree);
        return;
    }
    if (!ok(opened(image, 0, 0, &r), "opened")) {
        free(tree);
        return;
    }
    ok(r.name && !strcmp(r.name, at(base, "ops.img:")), "named IMAGE: (%s)", r.name);
    test_read(&r);
    test_stat(&r);
    test_readlink_list(&r);
    test_write(&r);
    test_symlink_remove_mkdir(&r);
    test_growth(&r);
    ok(closed(&r), "closed (written out)");
    ok(r.ops == NULL && r.name == NULL, "and released");

    is_int(fsck(image, 0), 0, "e2fsck -fn: clean after every operation");
    out = debugfs(image, 0, "cat /etc/hostname", false);
    is_str(out, "web2\n", "debugfs reads the new hostname");
    free(out);
    out = debugfs(image, 0, "stat /etc/hostname", false);
    ok(stat_field(out, "Mode: ", 8) == 0600 && stat_field(out, "User: ", 10) == 70000 &&
       stat_field(out, "Group: ", 10) == 70001, "debugfs: 0600 70000:70001");
    ok(out && strstr(out, "Flags: 0x80000"), "extents for a new file on ext4");
    free(out);
    out = debugfs(image, 0, "stat /etc/hardlink-a", false);
    ok(stat_field(out, "Links: ", 10) == 1, "debugfs: the replaced hard link has 1 link");
    free(out);
    free(tree);
}

/* ---- the refusals at open ---- */

static void open_fails(const char *image, uint64_t offset, uint64_t size, int want,
                       const char *msg, const char *what)
{
    struct identity_root r;
    struct diag d;
    int rc;

    diag_init(&d);
    rc = identity_root_ext2_open(image, offset, size, &r, &d);
    is_int(rc, want, "refused: %s", what);
    if (!ok(d.nerrors == 1 && d.v[0].file && !strcmp(d.v[0].file, image) &&
            strstr(d.v[0].msg, msg), "one error naming the image: %s", msg))
        dump(&d);
    ok(!r.ops && !r.ctx && !r.name, "r left empty");
    diag_dispose(&d);
}

static void test_open(void)
{
    static const char *const opts[] = { "-t", "ext4", NULL };
    char image[PATH_MAX], copy[PATH_MAX], *tree, *out;
    struct identity_root r;

    snprintf(image, sizeof(image), "%s/zeros.img", base);
    make_file(image, 8 << 20);
    open_fails(image, 0, 0, -EINVAL, "no ext2/3/4 file system", "no file system");
    open_fails(image, 16 << 20, 0, -EINVAL, "past the image's end", "an offset past the end");
    snprintf(image, sizeof(image), "%s/missing.img", base);
    open_fails(image, 0, 0, -ENOENT, "cannot open the image", "a missing image");

    tree = make_tree("open");
    snprintf(image, sizeof(image), "%s/open.img", base);
    if (mkfs(image, 32 << 20, tree, "32M", opts)) {
        free(tree);
        return;
    }
    open_fails(image, 0, 16 << 20, -EINVAL, "larger", "a span smaller than the file system");
    snprintf(copy, sizeof(copy), "%s/recover.img", base);
    {
        char *argv[] = { (char *)"cp", image, copy, NULL };

        run(argv, NULL);
    }
    free(debugfs(copy, 0, "feature needs_recovery", true));
    open_fails(copy, 0, 0, -EUCLEAN, "needs journal recovery", "a journal to recover");
    free(debugfs(copy, 0, "feature -needs_recovery", true));
    free(debugfs(copy, 0, "ssv state 0", true));
    open_fails(copy, 0, 0, -EUCLEAN, "not clean", "a file system not cleanly unmounted");
    free(debugfs(copy, 0, "ssv state 3", true));
    open_fails(copy, 0, 0, -EUCLEAN, "errors", "a file system with errors");

    {
        static const char *const quota[] = { "-t", "ext4", "-O", "quota", NULL };

        snprintf(copy, sizeof(copy), "%s/quota.img", base);
        if (!mkfs(copy, 32 << 20, tree, "32M", quota))
            open_fails(copy, 0, 0, -EINVAL, "quota", "a file system with quotas");
    }
    open_fails(at(base, "zeros.img"), 0, 0, -EINVAL, "Bad magic number in super-block",
               "libext2fs's reason in the message");

    /* an untouched image stays the same after open and close */
    if (ok(opened(image, 0, 0, &r), "opened") && ok(closed(&r), "closed without edits")) {
        is_int(fsck(image, 0), 0, "still clean");
        out = debugfs(image, 0, "cat /etc/hostname", false);
        is_str(out, "golden\n", "still the same");
        free(out);
    }
    free(tree);
}

/* ---- identity_apply on images and on a directory ---- */

static int cmp_names(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Not compared: . and .., and lost+found, which only mke2fs makes. */
static int wanted(const struct dirent *de)
{
    return strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
           strcmp(de->d_name, "lost+found");
}

/* Content that differs from one run to the next. */
static bool is_random(const char *rel)
{
    return !strcmp(rel, "/etc/machine-id") || !strcmp(rel, "/var/lib/systemd/random-seed") ||
           !strncmp(rel, "/etc/ssh/ssh_host_", 18);
}

/* Prints one difference (the first few only). */
__attribute__((format(printf, 2, 3)))
static void differs(int *shown, const char *fmt, ...)
{
    va_list ap;

    if ((*shown)++ >= 10)
        return;
    printf("#   ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

/* Compares two host trees below rel ("" for the top): names, types,
 * modes, owners, symlink targets, sizes and (except random files)
 * contents.  Adds the entries compared to *n. */
static bool same_tree(const char *a, const char *b, const char *rel, int *n, int *shown)
{
    struct dirent **va = NULL, **vb = NULL;
    char da[2 * PATH_MAX], db[2 * PATH_MAX];
    int na, nb;
    bool same = true;

    snprintf(da, sizeof(da), "%s%s", a, rel[0] ? rel : "/");
    snprintf(db, sizeof(db), "%s%s", b, rel[0] ? rel : "/");
    na = scandir(da, &va, wanted, cmp_names);
    nb = scandir(db, &vb, wanted, cmp_names);
    if (na < 0 || nb < 0) {
        differs(shown, "cannot list %s", rel);
        same = false;
        goto out;
    }
    for (int i = 0, j = 0; i < na || j < nb;) {
        const char *x = i < na ? va[i]->d_name : NULL, *y = j < nb ? vb[j]->d_name : NULL;
        char sub[PATH_MAX], pa[2 * PATH_MAX], pb[2 * PATH_MAX];
        struct stat sa, sb;
        int c = !x ? 1 : !y ? -1 : strcmp(x, y);

        if (c) {
            differs(shown, "only in %s: %s/%s", c < 0 ? a : b, rel, c < 0 ? x : y);
            same = false;
            c < 0 ? i++ : j++;
            continue;
        }
        i++, j++;
        snprintf(sub, sizeof(sub), "%s/%s", rel, x);
        snprintf(pa, sizeof(pa), "%s%s", a, sub);
        snprintf(pb, sizeof(pb), "%s%s", b, sub);
        (*n)++;
        if (lstat(pa, &sa) || lstat(pb, &sb)) {
            same = false;
            continue;
        }
        if (sa.st_mode != sb.st_mode || sa.st_uid != sb.st_uid || sa.st_gid != sb.st_gid ||
            (!S_ISDIR(sa.st_mode) && sa.st_size != sb.st_size)) {
            differs(shown, "%s: %o %u:%u %lld vs %o %u:%u %lld", sub, sa.st_mode, sa.st_uid,
                    sa.st_gid, (long long)sa.st_size, sb.st_mode, sb.st_uid, sb.st_gid,
                    (long long)sb.st_size);
            same = false;
        } else if (S_ISDIR(sa.st_mode)) {
            same = same_tree(a, b, sub, n, shown) && same;
        } else if (S_ISLNK(sa.st_mode)) {
            char ta[PATH_MAX], tb[PATH_MAX];
            ssize_t ka = readlink(pa, ta, sizeof(ta) - 1), kb = readlink(pb, tb, sizeof(tb) - 1);

            if (ka < 0 || kb < 0 || ka != kb || memcmp(ta, tb, (size_t)ka)) {
                differs(shown, "%s: symlinks differ", sub);
                same = false;
            }
        } else if (S_ISREG(sa.st_mode) && !is_random(sub)) {
            size_t la, lb;
            char *ca = slurp_path(pa, &la), *cb = slurp_path(pb, &lb);

            if (!ca || !cb || la != lb || memcmp(ca, cb, la)) {
                differs(shown, "%s: contents differ", sub);
                same = false;
            }
            free(ca);
            free(cb);
        }
    }
out:
    for (int i = 0; i < na; i++)
        free(va[i]);
    for (int i = 0; i < nb; i++)
        free(vb[i]);
    free(va);
    free(vb);
    return same;
}

/* The same comparison between the image, read through the backend r,
 * and the host tree b.  The backend cannot list the root itself ("/" is
 * not a guest path the operations take): the top is b's names. */
static bool same_as_backend(const struct identity_root *r, const char *b, const char *rel,
                            int *n, int *shown)
{
    struct dirent **vb = NULL;
    char db[2 * PATH_MAX];
    int nb;
    bool same = true;

    snprintf(db, sizeof(db), "%s%s", b, rel[0] ? rel : "/");
    if ((nb = scandir(db, &vb, wanted, cmp_names)) < 0) {
        differs(shown, "cannot list %s", rel);
        return false;
    }
    if (rel[0]) {
        /* the same names, in the same order */
        static char want[32768];
        const char *got = names_of(r, rel, 100000);
        size_t len = 0;

        want[0] = '\0';
        for (int i = 0; i < nb && len < sizeof(want); i++)
            len += (size_t)snprintf(want + len, sizeof(want) - len, "%s%s", i ? " " : "",
                                    vb[i]->d_name);
        if (strcmp(got, want)) {
            differs(shown, "%s: the backend lists other names", rel);
            same = false;
        }
    }
    for (int j = 0; j < nb; j++) {
        char sub[PATH_MAX], pb[2 * PATH_MAX];
        struct identity_stat sa;
        struct stat sb;
        int rc;

        snprintf(sub, sizeof(sub), "%s/%s", rel, vb[j]->d_name);
        snprintf(pb, sizeof(pb), "%s%s", b, sub);
        (*n)++;
        if ((rc = b_stat(r, sub, false, &sa)) || lstat(pb, &sb)) {
            differs(shown, "%s: %s", sub, rc ? strerror(-rc) : "lstat");
            same = false;
            continue;
        }
        if (sa.mode != sb.st_mode || sa.uid != sb.st_uid || sa.gid != sb.st_gid ||
            (!S_ISDIR(sa.mode) && sa.size != sb.st_size)) {
            differs(shown, "%s: %o %u:%u %lld vs %o %u:%u %lld", sub, sa.mode, sa.uid, sa.gid,
                    (long long)sa.size, sb.st_mode, sb.st_uid, sb.st_gid,
                    (long long)sb.st_size);
            same = false;
        } else if (S_ISDIR(sa.mode)) {
            same = same_as_backend(r, b, sub, n, shown) && same;
        } else if (S_ISLNK(sa.mode)) {
            char tb[PATH_MAX];
            ssize_t kb = readlink(pb, tb, sizeof(tb) - 1);

            tb[kb < 0 ? 0 : kb] = '\0';
            if (strcmp(link_of(r, sub), tb)) {
                differs(shown, "%s: symlinks differ", sub);
                same = false;
            }
        } else if (S_ISREG(sa.mode) && !is_random(sub)) {
            size_t la = 0, lb;
            char *ca = NULL, *cb = slurp_path(pb, &lb);

            rc = b_read(r, sub, 1 << 24, &ca, &la);
            if (rc || !cb || la != lb || memcmp(ca, cb, la)) {
                differs(shown, "%s: contents differ", sub);
                same = false;
            }
            free(ca);
            free(cb);
        }
    }
    for (int j = 0; j < nb; j++)
        free(vb[j]);
    free(vb);
    return same;
}

static struct identity fleet_id(bool keys)
{
    struct identity id = {
        .hostname = "web1.example.org",
        .network_style = "networkd",
        .iface = "eth0",
        .ip = "192.0.2.10",
        .prefix = 24,
        .gateway = "192.0.2.1",
        .nameservers = "192.0.2.53",
        .mac = "00:16:3e:01:02:03",
        .password_hash = "$6$salt$hash",
        .authorized_keys = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey root@admin",
        .ssh_host_keys = keys,
    };

    return id;
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* identity_apply_ext2 on a fresh image of opts (at offset in a larger
 * file when offset is not 0), identity_apply_dir on a tree built the same
 * way; the image as debugfs dumps it is then the same as the tree. */
static void apply_and_compare(const char *label, const char *const *opts, uint64_t offset,
                              bool keys)
{
    char name[64], image[PATH_MAX], dump_dir[PATH_MAX], request[PATH_MAX + 16];
    char *src, *copy, *out;
    struct identity id = fleet_id(keys);
    struct identity_root r;
    struct timespec t0;
    struct diag d;
    double ms, ms_dir;
    int rc, n = 0, shown = 0, k = nimg++;

    snprintf(name, sizeof(name), "src%d", k);
    src = make_tree(name);
    snprintf(name, sizeof(name), "copy%d", k);
    copy = make_tree(name);
    snprintf(image, sizeof(image), "%s/apply%d.img", base, k);
    if (!ok(mkfs(image, (off_t)offset + (40 << 20), src, "40M", opts) == 0, "%s: mke2fs -d",
            label))
        goto out;

    diag_init(&d);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = identity_apply_ext2(&id, image, offset, offset ? 40 << 20 : 0, &d);
    ms = ms_since(&t0);
    if (!ok(rc == 0 && d.nerrors == 0, "%s: identity applied to the image", label))
        dump(&d);
    diag_dispose(&d);
    diag_init(&d);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = identity_apply_dir(&id, copy, &d);
    ms_dir = ms_since(&t0);
    if (!ok(rc == 0 && d.nerrors == 0, "%s: and to a directory", label))
        dump(&d);
    diag_dispose(&d);
    printf("# %s: identity_apply%s: image %.1f ms, directory %.1f ms\n", label,
           keys ? " with ssh host keys" : "", ms, ms_dir);

    is_int(fsck(image, offset), 0, "%s: e2fsck -fn: clean", label);
    if (opened(image, offset, 0, &r)) {
        bool same = same_as_backend(&r, copy, "", &n, &shown);

        ok(same && n > 400, "%s: the image, read back through the backend, is the"
           " directory, file by file (%d entries)", label, n);
        closed(&r);
    }
    if (strcmp(label, "ext4 inline_data")) {
        /* debugfs 1.47.0 dumps an inline-data file as all 60 bytes of
         * i_block: no rdump there */
        bool same;

        snprintf(dump_dir, sizeof(dump_dir), "%s/dump%d", base, k);
        mkdir(dump_dir, 0755);
        snprintf(request, sizeof(request), "rdump / %s", dump_dir);
        out = debugfs(image, offset, request, false);
        ok(out != NULL, "%s: debugfs rdump", label);
        free(out);
        n = 0;
        same = same_tree(dump_dir, copy, "", &n, &shown);
        ok(same && n > 400, "%s: the image, as debugfs rdump reads it, is the directory,"
           " file by file (%d entries)", label, n);
    }

    out = debugfs(image, offset, "cat /etc/hostname", false);
    is_str(out, "web1\n", "%s: debugfs: /etc/hostname", label);
    free(out);
    out = debugfs(image, offset, "stat /etc/shadow", false);
    ok(stat_field(out, "Mode: ", 8) == 0640 && stat_field(out, "User: ", 10) == 0 &&
       stat_field(out, "Group: ", 10) == 42, "%s: debugfs: shadow 0640 root:42", label);
    free(out);
    out = debugfs(image, offset, "cat /etc/machine-id", false);
    ok(out && strlen(out) == 33 && strspn(out, "0123456789abcdef") == 32,
       "%s: a fresh machine-id", label);
    free(out);
    if (keys) {
        size_t len = 0;
        char *pub = slurp_path(at(dump_dir, "/etc/ssh/ssh_host_ed25519_key.pub"), &len);
        char *other = slurp_path(at(copy, "/etc/ssh/ssh_host_ed25519_key.pub"), NULL);

        ok(pub && !strncmp(pub, "ssh-ed25519 ", 12) && strstr(pub, " root@web1\n"),
           "%s: a new ed25519 host key", label);
        ok(pub && other && strcmp(pub, other), "%s: not the directory's", label);
        free(pub);
        free(other);
    }
out:
    free(src);
    free(copy);
}

/* The backend's own cost: open, apply without ssh-keygen, close, on a
 * fresh image, best of a few. */
static void time_apply(void)
{
    static const char *const opts[] = { "-t", "ext4", "-b", "4096", NULL };
    struct identity id = fleet_id(false);
    char image[PATH_MAX], *tree = make_tree("timing");
    double best = 1e9, best_dir = 1e9;
    bool fine = true;

    snprintf(image, sizeof(image), "%s/timing.img", base);
    for (int i = 0; i < 5 && fine; i++) {
        struct timespec t0;
        struct diag d;
        char name[32], *copy;
        double ms;

        fine = !mkfs(image, 64 << 20, tree, "64M", opts);
        diag_init(&d);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        fine = fine && !identity_apply_ext2(&id, image, 0, 0, &d);
        ms = ms_since(&t0);
        if (ms < best)
            best = ms;
        diag_dispose(&d);
        snprintf(name, sizeof(name), "timing-dir%d", i);
        copy = make_tree(name);
        diag_init(&d);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        fine = fine && !identity_apply_dir(&id, copy, &d);
        ms = ms_since(&t0);
        if (ms < best_dir)
            best_dir = ms;
        diag_dispose(&d);
        free(copy);
    }
    ok(fine, "identity applied 5 times to fresh images");
    printf("# identity_apply_ext2 without ssh host keys (open, apply, fsync, close): best %.2f ms"
           " (directory backend: %.2f ms)\n", best, best_dir);
    ok(best < 1000, "well under a second");
    is_int(fsck(image, 0), 0, "e2fsck -fn: clean");
    free(tree);
}

int main(void)
{
    static const char *const ext4_4k[] = { "-t", "ext4", "-b", "4096", NULL };
    static const char *const ext4_1k_offset[] = { "-t", "ext4", "-E", "offset=1048576", NULL };
    static const char *const ext2[] = { "-t", "ext2", NULL };
    static const char *const no_csum_1k[] = { "-t", "ext4", "-b", "1024", "-O", "^metadata_csum",
                                              NULL };
    static const char *const inline_data[] = { "-t", "ext4", "-b", "4096", "-I", "256", "-O",
                                               "inline_data", NULL };
    char *p;

    if (geteuid() != 0) {
        /* the trees hold files of other owners; the directory backend
         * sets owners */
        printf("1..0 # SKIP needs root (guest files are owned by root and others)\n");
        return 0;
    }
    if ((p = proc_find_program("mke2fs")))
        free(p);
    else {
        printf("1..0 # SKIP no mke2fs (e2fsprogs)\n");
        return 0;
    }
    if (!mkdtemp(base)) {
        printf("Bail out! no temporary directory\n");
        return 1;
    }
    setenv("DEBUGFS_PAGER", "__none__", 1);
    test_open();
    test_ops();
    test_htree("htree, metadata_csum", ext4_4k);
    test_htree("htree, no metadata_csum, 1 KiB blocks", no_csum_1k);
    apply_and_compare("ext4", ext4_4k, 0, true);
    apply_and_compare("ext4 at 1 MiB", ext4_1k_offset, 1048576, true);
    apply_and_compare("ext2", ext2, 0, false);
    apply_and_compare("ext4 inline_data", inline_data, 0, false);
    time_apply();
    rm_rf(base);
    return tap_done();
}
