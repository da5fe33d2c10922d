/*
 * test-clone - guest disks from a golden image (provision/clone.c) with
 * the real tools, no guest: sparse copies compared byte for byte and by
 * the blocks they take (on this file system, and to another one, where
 * the kernel cannot copy and read and write do it); qcow2 overlays read
 * back with qemu-img info; qemu-storage-daemon's FUSE export written
 * through, stopped, and the overlay read back with qemu-img convert.
 * Then the refusals and failures, each leaving nothing behind (no file,
 * no mount, no process), and a process that dies with its export up.
 * Needs root (the FUSE mount, a tmpfs).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clone.h"
#include "diag.h"
#include "proc.h"
#include "tap.h"
#include "testutil.h"

#define MiB (1024LL * 1024)
#define IMG_SIZE (64 * MiB)

static char top[PATH_MAX];      /* the mkdtemp directory, resolved */
static int log_fd = -1;         /* a memfd every call logs to */
#define capture(o, ...) test_capture_v((o), log_fd, (const char *const[]){ __VA_ARGS__, NULL })
#define status_of(...) test_status_v(log_fd, (const char *const[]){ __VA_ARGS__, NULL })
#define have(prog) test_have(prog)
static unsigned char *base_want;        /* base.raw's bytes */

struct span {
    off_t off;
    size_t len;
};

/* ---- helpers ---- */

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
    return fmt(buf, len, "%s/%s", top, name);
}

static long long ms_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static bool exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

/* Bytes that are never zero, different for each seed. */
static void fill(unsigned char *p, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)(((i * 131) ^ (i >> 8) ^ (seed * 37)) | 1);
}

static int put(const char *path, off_t off, const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

    if (fd < 0)
        return -errno;
    if (pwrite(fd, buf, len, off) != (ssize_t)len)
        r = errno ? -errno : -EIO;
    close(fd);
    return r;
}

static void write_file(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s))
        printf("# cannot write %s: %s\n", path, strerror(errno));
    if (fd >= 0)
        close(fd);
}

/* path is a file of exactly len bytes equal to want (the first
 * difference is printed). */
static bool same_bytes(const char *path, const unsigned char *want, size_t len)
{
    static unsigned char buf[1 << 20];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t off = 0;
    bool same = fd >= 0;

    while (same) {
        ssize_t n = pread(fd, buf, sizeof(buf), (off_t)off);

        if (n < 0) {
            printf("# %s: read at %zu: %s\n", path, off, strerror(errno));
            same = false;
        } else if (n == 0) {
            same = off == len;
            if (!same)
                printf("# %s: %zu bytes, %zu expected\n", path, off, len);
            break;
        } else if (off + (size_t)n > len) {
            printf("# %s: longer than %zu bytes\n", path, len);
            same = false;
        } else if (memcmp(buf, want + off, (size_t)n)) {
            for (ssize_t i = 0; i < n; i++)
                if (buf[i] != want[off + (size_t)i]) {
                    printf("# %s: byte %zu is %#x, %#x expected\n", path, off + (size_t)i,
                           buf[i], want[off + (size_t)i]);
                    break;
                }
            same = false;
        } else {
            off += (size_t)n;
        }
    }
    if (fd >= 0)
        close(fd);
    return same;
}

/* A new sparse file of IMG_SIZE bytes holding fill()'s bytes at spans,
 * also put in want (zeroed here). */
static bool make_sparse(const char *path, const struct span *s, size_t n, unsigned seed,
                        unsigned char *want)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    bool good = fd >= 0 && ftruncate(fd, IMG_SIZE) == 0;

    memset(want, 0, IMG_SIZE);
    for (size_t i = 0; good && i < n; i++) {
        fill(want + s[i].off, s[i].len, seed + (unsigned)i);
        good = pwrite(fd, want + s[i].off, s[i].len, s[i].off) == (ssize_t)s[i].len;
    }
    if (fd >= 0)
        close(fd);
    if (!good)
        printf("# cannot make %s: %s\n", path, strerror(errno));
    return good;
}

/* path is a mount point, as /proc/self/mountinfo says (its octal
 * escapes undone). */
static bool mounted(const char *path)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char line[8192], mp[PATH_MAX];
    bool found = false;

    while (f && !found && fgets(line, sizeof(line), f)) {
        char *field = line;
        size_t k = 0;

        for (int i = 0; i < 4 && field; i++)
            field = strchr(field, ' ') ? strchr(field, ' ') + 1 : NULL;
        for (char *c = field; c && *c && *c != ' ' && k + 1 < sizeof(mp); c++) {
            if (c[0] == '\\' && c[1] >= '0' && c[1] <= '3' && c[2] && c[3]) {
                mp[k++] = (char)((c[1] - '0') * 64 + (c[2] - '0') * 8 + (c[3] - '0'));
                c += 3;
            } else {
                mp[k++] = *c;
            }
        }
        mp[k] = '\0';
        found = field && !strcmp(mp, path);
    }
    if (f)
        fclose(f);
    return found;
}

/* /proc/PID's state letter, or 0 when there is no such process. */
static char proc_state(pid_t pid, pid_t *ppid_r)
{
    char p[64], buf[1024], state = 0;
    FILE *f = fopen(fmt(p, sizeof(p), "/proc/%d/stat", (int)pid), "re");
    char *close_paren;
    int ppid = 0;

    if (!f)
        return 0;
    if (fgets(buf, sizeof(buf), f) && (close_paren = strrchr(buf, ')')))
        sscanf(close_paren + 1, " %c %d", &state, &ppid);
    fclose(f);
    if (ppid_r)
        *ppid_r = ppid;
    return state;
}

/* The process is gone, or a zombie nobody has reaped yet (a dead one). */
static bool dead(pid_t pid)
{
    char s = proc_state(pid, NULL);

    return s == 0 || s == 'Z' || s == 'X';
}

/* How many processes (zombies too) are our children. */
static int children(void)
{
    DIR *dir = opendir("/proc");
    struct dirent *ent;
    int n = 0;

    while (dir && (ent = readdir(dir))) {
        pid_t pid = (pid_t)atoi(ent->d_name), ppid;

        if (pid > 0 && proc_state(pid, &ppid) && ppid == getpid())
            n++;
    }
    if (dir)
        closedir(dir);
    return n;
}


static bool quiet(const struct diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        printf("# unexpected: %s: %s\n", d->v[i].file ? d->v[i].file : "-", d->v[i].msg);
    return d->n == 0;
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

/* The first data at or after off in path (-1: none or error). */
static off_t data_after(const char *path, off_t off)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    off_t r = fd >= 0 ? lseek(fd, off, SEEK_DATA) : -1;

    if (fd >= 0)
        close(fd);
    return r;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* ---- clone_copy ---- */

static const struct span copy_spans[] = {
    { 0, 4096 }, { 5 * MiB + 123, 1000 }, { 33 * MiB, 65536 }, { IMG_SIZE - 1, 1 },
};

/* One copy of src, checked against want: same size and bytes, mode
 * 0600, and its holes kept. */
static void check_copy(const char *what, const char *src, const char *dst,
                       const unsigned char *want)
{
    const char *how = "unset";
    struct diag d;
    struct stat st;
    int r;

    diag_init(&d);
    r = clone_copy(src, dst, NULL, &how, &d);
    is_int(r, 0, "%s: copied", what);
    ok(quiet(&d), "%s: nothing recorded", what);
    diag_dispose(&d);
    ok(how && (!strcmp(how, "reflink") || !strcmp(how, "sparse copy")),
       "%s: says how (%s)", what, how ? how : "NULL");
    if (stat(dst, &st) < 0)
        memset(&st, 0, sizeof(st));
    ok(S_ISREG(st.st_mode) && st.st_size == IMG_SIZE &&
       (st.st_mode & 07777) == 0600, "%s: a 64 MiB file, mode 0600 (%jd bytes, %o)", what,
       (intmax_t)st.st_size, (unsigned)(st.st_mode & 07777));
    ok(same_bytes(dst, want, IMG_SIZE), "%s: the same bytes", what);
    ok(st.st_blocks * 512 < MiB, "%s: sparse: %jd KiB allocated of 65536", what,
       (intmax_t)st.st_blocks / 2);
    is_int(data_after(dst, 8192), 5 * MiB, "%s: a hole from 4 KiB to 5 MiB", what);
}

static volatile sig_atomic_t cancel_flag;

static void on_usr1(int sig)
{
    (void)sig;
    cancel_flag = 1;
}

struct watch {
    const char *path;
    pthread_t main;
    long long seen_ms;          /* when dst first had data; 0: never */
    volatile int stop;
};

/* Waits for the copy to have data, then cancels it (by a signal to the
 * main thread, the way vm-provision's cancel flag is set). */
static void *watch_copy(void *arg)
{
    struct watch *w = arg;
    struct stat st;

    while (!w->stop) {
        if (stat(w->path, &st) == 0 && st.st_blocks > 0) {
            w->seen_ms = ms_now();
            pthread_kill(w->main, SIGUSR1);
            break;
        }
    }
    return NULL;
}

static void test_copy(void)
{
    char src[PATH_MAX], dst[PATH_MAX], p[PATH_MAX], shm[PATH_MAX], target[PATH_MAX];
    unsigned char *want = malloc(IMG_SIZE);
    const char *how = "unset";
    struct diag d;
    int r, fd;

    if (!want) {
        ok(0, "copy: memory");
        return;
    }
    at(src, sizeof(src), "golden.raw");
    make_sparse(src, copy_spans, sizeof(copy_spans) / sizeof(copy_spans[0]), 1, want);
    check_copy("copy", src, at(dst, sizeof(dst), "copy.raw"), want);
    ok(same_bytes(src, want, IMG_SIZE), "copy: the golden image is as it was");

    /* to a tmpfs: copy_file_range says EXDEV, read and write do it */
    at(shm, sizeof(shm), "tmpfs");
    mkdir(shm, 0700);
    if (mount("tmpfs", shm, "tmpfs", MS_NOSUID | MS_NODEV, "size=80m,mode=0700") < 0) {
        ok(1, "# SKIP cannot mount a tmpfs: %s", strerror(errno));
    } else {
        check_copy("copy to a tmpfs", src, fmt(p, sizeof(p), "%s/copy.raw", shm), want);
        unlink(p);
        if (umount(shm) < 0)
            printf("# umount %s: %s\n", shm, strerror(errno));
    }

    /* dst exists: untouched */
    at(p, sizeof(p), "exists.raw");
    write_file(p, "keep me\n");
    diag_init(&d);
    r = clone_copy(src, p, NULL, &how, &d);
    is_int(r, -EEXIST, "copy over an existing file: -EEXIST");
    ok(said(&d, DIAG_ERROR, p, "exists"), "copy over an existing file: said, naming it");
    ok(same_bytes(p, (const unsigned char *)"keep me\n", 8), "copy over an existing file: "
       "it is untouched");
    ok(how == NULL, "copy over an existing file: no how");
    diag_dispose(&d);
    unlink(p);

    /* a symlink at dst is not followed */
    at(p, sizeof(p), "link.raw");
    at(target, sizeof(target), "link-target.raw");
    if (symlink(target, p) < 0)
        printf("# symlink: %s\n", strerror(errno));
    diag_init(&d);
    r = clone_copy(src, p, NULL, NULL, &d);
    is_int(r, -EEXIST, "copy onto a dangling symlink: -EEXIST");
    ok(!exists(target), "copy onto a dangling symlink: its target is not made");
    diag_dispose(&d);
    unlink(p);

    /* src missing */
    at(p, sizeof(p), "missing.raw");
    diag_init(&d);
    r = clone_copy(p, dst, NULL, NULL, &d);
    is_int(r, -ENOENT, "copy of a missing image: -ENOENT");
    ok(said(&d, DIAG_ERROR, p, "No such file"), "copy of a missing image: said, naming it");
    diag_dispose(&d);
    at(dst, sizeof(dst), "copy2.raw");
    diag_init(&d);
    r = clone_copy(p, dst, NULL, NULL, &d);
    ok(r == -ENOENT && !exists(dst), "copy of a missing image: no copy made");
    diag_dispose(&d);

    /* src a directory */
    diag_init(&d);
    r = clone_copy(top, dst, NULL, NULL, &d);
    ok(r == -EINVAL && !exists(dst) && said(&d, DIAG_ERROR, top, "not a regular file"),
       "copy of a directory: -EINVAL, no copy (%d)", r);
    diag_dispose(&d);

    /* cancelled before */
    cancel_flag = 1;
    diag_init(&d);
    r = clone_copy(src, dst, &cancel_flag, &how, &d);
    ok(r == -ECANCELED && !exists(dst) && d.n == 0 && how == NULL,
       "copy cancelled: -ECANCELED, nothing made or recorded (%d)", r);
    diag_dispose(&d);
    cancel_flag = 0;

    /* cancelled half way: 32 extents of 8 MiB (a whole copy took 200 ms
     * here, its fsync included), stopped once the copy has data */
    at(p, sizeof(p), "big.raw");
    fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || ftruncate(fd, 1024 * MiB) < 0) {
        ok(0, "cancel: cannot make %s: %s", p, strerror(errno));
    } else {
        unsigned char *chunk = malloc(8 * MiB);
        struct sigaction sa = { .sa_handler = on_usr1 };
        struct watch w = { .path = dst, .main = pthread_self() };
        pthread_t t;
        long long t0, t1;

        fill(chunk, 8 * MiB, 9);
        for (int i = 0; i < 32; i++)
            if (pwrite(fd, chunk, 8 * MiB, (off_t)i * 32 * MiB) != 8 * MiB)
                printf("# write %s: %s\n", p, strerror(errno));
        free(chunk);
        sigaction(SIGUSR1, &sa, NULL);
        diag_init(&d);
        pthread_create(&t, NULL, watch_copy, &w);
        t0 = ms_now();
        r = clone_copy(p, dst, &cancel_flag, &how, &d);
        t1 = ms_now();
        w.stop = 1;
        pthread_join(t, NULL);
        ok(w.seen_ms > 0, "cancel: the copy was seen under way");
        ok(r == -ECANCELED && d.n == 0, "cancel: -ECANCELED half way, nothing recorded (%d,"
           " %lld ms after it had data, %lld ms in all)", r, w.seen_ms ? t1 - w.seen_ms : -1,
           t1 - t0);
        ok(!exists(dst), "cancel: the half copy is removed");
        diag_dispose(&d);
        signal(SIGUSR1, SIG_DFL);
        cancel_flag = 0;
    }
    if (fd >= 0)
        close(fd);
    unlink(p);
    unlink(src);
    at(dst, sizeof(dst), "copy.raw");
    unlink(dst);
    free(want);
}

/* ---- clone_overlay ---- */

static const struct span base_spans[] = {
    { 0, 8192 }, { 1 * MiB, 4096 }, { 20 * MiB + 5, 3000 },
};

/* qemu-img info's key is the string want. */
static bool info_is(json_object *info, const char *key, const char *want)
{
    json_object *v;
    const char *got = json_object_object_get_ex(info, key, &v) ? json_object_get_string(v)
                                                                 : NULL;

    if (got && !strcmp(got, want))
        return true;
    printf("# qemu-img info: %s is %s, not %s\n", key, got ? got : "missing", want);
    return false;
}

static void test_overlay(const char *base)
{
    char ov[PATH_MAX], p[PATH_MAX];
    struct diag d;
    struct stat st;
    struct test_out o;
    json_object *info;
    int r;

    at(ov, sizeof(ov), "overlay.qcow2");
    diag_init(&d);
    r = clone_overlay(base, "raw", ov, log_fd, &d);
    is_int(r, 0, "overlay: made");
    ok(quiet(&d), "overlay: nothing recorded");
    diag_dispose(&d);
    if (stat(ov, &st) < 0)
        memset(&st, 0, sizeof(st));
    ok((st.st_mode & 07777) == 0600, "overlay: mode 0600 (%o)",
       (unsigned)(st.st_mode & 07777));
    ok(log_has("+ qemu-img create -q -f qcow2 -F raw -b "), "overlay: the command is logged");
    r = capture(&o, "qemu-img", "info", "--output=json", "-f", "qcow2", ov);
    info = r == 0 && o.buf ? json_tokener_parse(o.buf) : NULL;
    ok(info != NULL, "overlay: qemu-img info reads it (%d)", r);
    ok(info && info_is(info, "format", "qcow2"), "overlay: qcow2");
    ok(info && info_is(info, "backing-filename", base), "overlay: backed by the base");
    ok(info && info_is(info, "backing-filename-format", "raw"), "overlay: the base is raw");
    ok(info && info_is(info, "virtual-size", "67108864"), "overlay: the base's size");
    json_object_put(info);
    free(o.buf);
    is_int(status_of("qemu-img", "compare", "-q", "-f", "qcow2", "-F", "raw", ov, base), 0,
           "overlay: qemu-img compare finds the base's bytes");
    unlink(ov);

    /* refusals */
    diag_init(&d);
    r = clone_overlay("base.raw", "raw", ov, log_fd, &d);
    ok(r == -EINVAL && !exists(ov) && said(&d, DIAG_ERROR, ov, "absolute"),
       "overlay on a relative path: -EINVAL, nothing made (%d)", r);
    diag_dispose(&d);
    diag_init(&d);
    r = clone_overlay(base, "raw -o x", ov, log_fd, &d);
    ok(r == -EINVAL && !exists(ov), "overlay with a bad format name: -EINVAL (%d)", r);
    diag_dispose(&d);
    at(p, sizeof(p), "exists.qcow2");
    write_file(p, "keep me\n");
    diag_init(&d);
    r = clone_overlay(base, "raw", p, log_fd, &d);
    is_int(r, -EEXIST, "overlay over an existing file: -EEXIST");
    ok(said(&d, DIAG_ERROR, p, "exists"), "overlay over an existing file: said");
    ok(same_bytes(p, (const unsigned char *)"keep me\n", 8),
       "overlay over an existing file: untouched");
    diag_dispose(&d);
    unlink(p);
    at(p, sizeof(p), "missing.raw");
    diag_init(&d);
    r = clone_overlay(p, "raw", ov, log_fd, &d);
    ok(r == -ENOENT && !exists(ov) && said(&d, DIAG_ERROR, p, "No such file"),
       "overlay on a missing base: -ENOENT, nothing made (%d)", r);
    diag_dispose(&d);
    /* qemu-img itself fails: a raw base named qcow2 */
    diag_init(&d);
    r = clone_overlay(base, "qcow2", ov, log_fd, &d);
    ok(r == -EIO && !exists(ov), "overlay qemu-img refuses: -EIO, nothing left (%d)", r);
    ok(said(&d, DIAG_ERROR, ov, "qemu-img exited with status 1", "not in qcow2 format"),
       "overlay qemu-img refuses: its status and words are recorded");
    diag_dispose(&d);
}

/* ---- clone_export ---- */

/* Reads the qcow2 image back as raw (qemu-img convert) into a file of
 * the top: equal to want? */
static bool overlay_holds(const char *ov, const unsigned char *want)
{
    char raw[PATH_MAX];
    bool same;
    int s;

    at(raw, sizeof(raw), "readback.raw");
    unlink(raw);
    s = status_of("qemu-img", "convert", "-f", "qcow2", "-O", "raw", ov, raw);
    same = s == 0 && same_bytes(raw, want, IMG_SIZE);
    if (s)
        printf("# qemu-img convert %s: %d\n", ov, s);
    unlink(raw);
    return same;
}

/* Nothing of a failed export: no file at path, no mount, no child. */
static bool nothing_left(const char *path, const struct clone_export *e)
{
    int n = children();
    bool m = mounted(path), f = exists(path);

    if (n || m || f || e->pid || e->path)
        printf("# left: %d children, mounted %d, file %d, e {%d, %s}\n", n, m, f,
               (int)e->pid, e->path ? e->path : "NULL");
    return !n && !m && !f && !e->pid && !e->path;
}

static const struct span export_spans[] = {
    { 512, 1024 },              /* over the base's data */
    { 65536 - 100, 200 },       /* across two qcow2 clusters */
    { 3 * MiB, 8192 },          /* where the base has a hole */
    { 20 * MiB, 10 },           /* just before the base's data there */
    { IMG_SIZE - 4096, 4096 },  /* the last block, a hole in the base */
};

static void test_export(const char *base)
{
    char ov[PATH_MAX], mnt[PATH_MAX], p[PATH_MAX], dir[PATH_MAX];
    unsigned char *want = malloc(IMG_SIZE), buf[8192];
    struct clone_export e = { 0 };
    struct diag d;
    struct stat st;
    long long t0, ready_ms, stop_ms;
    pid_t pid;
    int r;

    if (!want) {
        ok(0, "export: memory");
        return;
    }
    memcpy(want, base_want, IMG_SIZE);
    at(ov, sizeof(ov), "export.qcow2");
    at(mnt, sizeof(mnt), "export.raw");
    diag_init(&d);
    r = clone_overlay(base, "raw", ov, log_fd, &d);
    is_int(r, 0, "export: its overlay made");
    t0 = ms_now();
    r = clone_export(ov, mnt, log_fd, &e, &d);
    ready_ms = ms_now() - t0;
    is_int(r, 0, "export: up");
    ok(quiet(&d), "export: nothing recorded");
    diag_dispose(&d);
    ok(e.pid > 0 && e.path && !strcmp(e.path, mnt), "export: e names the daemon and path");
    ok(mounted(mnt), "export: path is a mount point");
    if (stat(mnt, &st) < 0)
        memset(&st, 0, sizeof(st));
    ok(S_ISREG(st.st_mode) && st.st_size == IMG_SIZE,
       "export: a regular file of the image's size (%jd)", (intmax_t)st.st_size);
    ok(log_has("+ setpriv --pdeathsig TERM -- ") && log_has(",writable=on"),
       "export: the command is logged");
    ok(same_bytes(mnt, want, IMG_SIZE), "export: reads as the base");
    for (size_t i = 0; i < sizeof(export_spans) / sizeof(export_spans[0]); i++) {
        const struct span *s = &export_spans[i];

        fill(buf, s->len, 100 + (unsigned)i);
        memcpy(want + s->off, buf, s->len);
        r = put(mnt, s->off, buf, s->len);
        ok(r == 0, "export: %zu bytes written at %jd (%s)", s->len, (intmax_t)s->off,
           strerror(-r));
    }
    ok(same_bytes(mnt, want, IMG_SIZE), "export: the writes read back through it");
    pid = e.pid;
    diag_init(&d);
    t0 = ms_now();
    r = clone_unexport(&e, &d);
    stop_ms = ms_now() - t0;
    is_int(r, 0, "unexport: done");
    ok(quiet(&d), "unexport: nothing recorded");
    diag_dispose(&d);
    ok(e.pid == 0 && e.path == NULL, "unexport: e zeroed");
    ok(!mounted(mnt), "unexport: no mount left");
    ok(!exists(mnt), "unexport: path removed");
    ok(proc_state(pid, NULL) == 0, "unexport: the daemon is gone");
    ok(children() == 0, "unexport: no child left");
    printf("# export ready in %lld ms, stopped in %lld ms\n", ready_ms, stop_ms);
    ok(overlay_holds(ov, want), "unexport: the overlay holds the base and the writes");
    ok(same_bytes(base, base_want, IMG_SIZE), "unexport: the base is unchanged");
    is_int(status_of("qemu-img", "check", "-q", "-f", "qcow2", ov), 0,
           "unexport: qemu-img check finds the overlay sound");
    diag_init(&d);
    ok(clone_unexport(&e, &d) == 0 && d.n == 0, "unexport again: nothing to do");
    diag_dispose(&d);
    unlink(ov);

    /* commas in both names: doubled for QEMU */
    fmt(dir, sizeof(dir), "%s/a,b", top);
    mkdir(dir, 0700);
    fmt(ov, sizeof(ov), "%s/ov,1.qcow2", dir);
    fmt(mnt, sizeof(mnt), "%s/raw,view=1", dir);
    memcpy(want, base_want, IMG_SIZE);
    diag_init(&d);
    r = clone_overlay(base, "raw", ov, log_fd, &d);
    if (!r)
        r = clone_export(ov, mnt, log_fd, &e, &d);
    ok(r == 0 && mounted(mnt), "export with commas: up (%d)", r);
    ok(log_has("/a,,b/ov,,1.qcow2,node-name=file0") &&
       log_has("mountpoint=") && log_has("/a,,b/raw,,view=1,writable=on"),
       "export with commas: doubled in the options");
    fill(buf, 4096, 7);
    memcpy(want + 7 * MiB + 3, buf, 4096);
    ok(put(mnt, 7 * MiB + 3, buf, 4096) == 0, "export with commas: written");
    r = clone_unexport(&e, &d);
    ok(r == 0 && quiet(&d), "export with commas: stopped (%d)", r);
    diag_dispose(&d);
    ok(!mounted(mnt) && !exists(mnt), "export with commas: nothing left");
    ok(overlay_holds(ov, want), "export with commas: the overlay holds the write");
    unlink(ov);

    /* failures, with nothing left */
    at(ov, sizeof(ov), "export.qcow2");
    at(mnt, sizeof(mnt), "export.raw");
    at(p, sizeof(p), "missing.qcow2");
    diag_init(&d);
    r = clone_export(p, mnt, log_fd, &e, &d);
    ok(r == -ENOENT && said(&d, DIAG_ERROR, p, "No such file"),
       "export of a missing image: -ENOENT, said (%d)", r);
    ok(nothing_left(mnt, &e), "export of a missing image: nothing left");
    diag_dispose(&d);

    /* the daemon starts and fails: a raw image taken for qcow2 */
    diag_init(&d);
    r = clone_export(base, mnt, log_fd, &e, &d);
    ok(r == -EIO && said(&d, DIAG_ERROR, base, "qemu-storage-daemon exited with status 1",
                         "before the export was ready", "log"),
       "export of a raw image: -EIO, its exit status said (%d)", r);
    ok(nothing_left(mnt, &e), "export of a raw image: nothing left");
    ok(log_has("Image is not in qcow2 format"), "export of a raw image: its words logged");
    ok(same_bytes(base, base_want, IMG_SIZE), "export of a raw image: the image unchanged");
    diag_dispose(&d);

    diag_init(&d);
    r = clone_overlay(base, "raw", ov, log_fd, &d);
    write_file(mnt, "keep me\n");
    if (!r)
        r = clone_export(ov, mnt, log_fd, &e, &d);
    ok(r == -EEXIST && said(&d, DIAG_ERROR, mnt, "exists"),
       "export onto an existing file: -EEXIST (%d)", r);
    ok(same_bytes(mnt, (const unsigned char *)"keep me\n", 8) && !mounted(mnt) &&
       children() == 0 && e.pid == 0, "export onto an existing file: it is untouched");
    unlink(mnt);
    diag_dispose(&d);

    diag_init(&d);
    r = clone_export(ov, "", log_fd, &e, &d);
    ok(r == -EINVAL && d.nerrors == 1, "export to an empty path: -EINVAL (%d)", r);
    diag_dispose(&d);

    /* a process that dies with its export up: the daemon goes with it */
    {
        int pfd[2];
        pid_t child, qsd = 0;
        int status;
        long long gone_ms = -1;

        memcpy(want, base_want, IMG_SIZE);
        fill(buf, 4096, 42);
        memcpy(want + 2 * MiB, buf, 4096);
        if (pipe2(pfd, O_CLOEXEC) < 0) {
            ok(0, "orphan: pipe: %s", strerror(errno));
            goto orphan_done;
        }
        fflush(stdout);
        if ((child = fork()) == 0) {
            struct clone_export ce;
            struct diag cd;
            pid_t q = 0;

            diag_init(&cd);
            if (clone_export(ov, mnt, -1, &ce, &cd) == 0 && put(mnt, 2 * MiB, buf, 4096) == 0)
                q = ce.pid;
            if (write(pfd[1], &q, sizeof(q)) != sizeof(q))
                _exit(2);
            _exit(0);               /* no clone_unexport */
        }
        close(pfd[1]);
        if (child < 0 || read(pfd[0], &qsd, sizeof(qsd)) != sizeof(qsd))
            qsd = 0;
        close(pfd[0]);
        if (child > 0)
            waitpid(child, &status, 0);
        ok(qsd > 0, "orphan: the child exported and wrote, then exited");
        t0 = ms_now();
        while (qsd > 0 && ms_now() - t0 < 10000) {
            if (dead(qsd) && !mounted(mnt)) {
                gone_ms = ms_now() - t0;
                break;
            }
            usleep(10000);
        }
        ok(gone_ms >= 0, "orphan: the daemon died and the mount went (%lld ms after)",
           gone_ms);
        if (gone_ms < 0 && qsd > 0) {
            kill(qsd, SIGKILL);     /* not ours to reap: init does */
            umount2(mnt, MNT_DETACH);
        }
        ok(overlay_holds(ov, want), "orphan: the daemon flushed the write as it died");
        is_int(status_of("qemu-img", "check", "-q", "-f", "qcow2", ov), 0,
               "orphan: qemu-img check finds the overlay sound");
        unlink(mnt);                /* the mount point is the dead caller's to remove */
    }
orphan_done:
    unlink(ov);
    free(want);
}

int main(void)
{
    char base[PATH_MAX], dir[PATH_MAX];

    if (geteuid() != 0) {
        printf("1..0 # SKIP needs root (FUSE mounts, a tmpfs)\n");
        return 0;
    }
    fmt(dir, sizeof(dir), "%s/test-clone-XXXXXX",
        getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir) || !realpath(dir, top)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    if ((log_fd = memfd_create("test-clone-log", MFD_CLOEXEC)) < 0 ||
        !(base_want = malloc(IMG_SIZE))) {
        printf("Bail out! memfd_create or malloc: %s\n", strerror(errno));
        return 1;
    }

    test_copy();
    at(base, sizeof(base), "base.raw");
    make_sparse(base, base_spans, sizeof(base_spans) / sizeof(base_spans[0]), 50, base_want);
    if (!have("qemu-img")) {
        ok(1, "# SKIP qemu-img is not installed");
    } else {
        test_overlay(base);
        if (!have("qemu-storage-daemon") || !have("setpriv") || access("/dev/fuse", F_OK))
            ok(1, "# SKIP no qemu-storage-daemon, setpriv or /dev/fuse");
        else
            test_export(base);
    }
    ok(children() == 0, "no process of ours is left");

    if (!getenv("TEST_CLONE_KEEP"))
        nftw(top, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    else
        printf("# kept %s\n", top);
    free(base_want);
    return tap_done();
}
