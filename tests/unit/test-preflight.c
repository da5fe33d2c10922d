/*
 * test-preflight - what is checked before QEMU runs (hypervisor/preflight.c):
 * the format of images made by qemu-img (skipped when it is missing) and
 * of hand-written headers, then preflight_check on configs that point at
 * files in a temporary directory, with the exact messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cfg.h"
#include "domain.h"
#include "preflight.h"
#include "proc.h"
#include "tap.h"

#define NOBODY 65534

static char top[512];           /* the mkdtemp directory */

/* ---- helpers ---- */

/* top/name in buf; returns buf. */
static const char *at(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", top, name);
    return buf;
}

/* Writes a file of size bytes: head at the start, tail (8 bytes) in the
 * last sector's first bytes when size allows, zeros elsewhere. */
static void make_file(const char *name, const void *head, size_t hlen, const char *tail,
                      size_t size)
{
    char path[PATH_MAX], *buf = calloc(1, size ? size : 1);
    int fd;

    at(path, sizeof(path), name);
    if (!buf) {
        printf("# out of memory\n");
        return;
    }
    if (hlen)
        memcpy(buf, head, hlen < size ? hlen : size);
    if (tail && size >= 512)
        memcpy(buf + size - 512, tail, strlen(tail));
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, buf, size) != (ssize_t)size)
        printf("# cannot write %s: %s\n", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(buf);
}

/* Runs qemu-img create -q -f FORMAT [-o OPTS] top/name 1M.  Returns 0,
 * -ENOENT when qemu-img is missing, or -EIO when it failed. */
static int qemu_img(const char *format, const char *opts, const char *name)
{
    char path[PATH_MAX], fmt[32], o[64];
    char *argv[10];
    struct proc_opts po;
    int n = 0, r, status = 0;

    at(path, sizeof(path), name);
    snprintf(fmt, sizeof(fmt), "%s", format);
    argv[n++] = (char *)"qemu-img";
    argv[n++] = (char *)"create";
    argv[n++] = (char *)"-q";
    argv[n++] = (char *)"-f";
    argv[n++] = fmt;
    if (opts) {
        snprintf(o, sizeof(o), "%s", opts);
        argv[n++] = (char *)"-o";
        argv[n++] = o;
    }
    argv[n++] = path;
    argv[n++] = (char *)"1M";
    argv[n] = NULL;
    proc_opts_init(&po);
    po.stdout_fd = PROC_NULL;
    r = proc_run("qemu-img", argv, &po, 60 * 1000, &status);
    if (r)
        return r;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char why[64];

        printf("# qemu-img create -f %s %s: %s\n", format, name,
               proc_status_text(status, why, sizeof(why)));
        return -EIO;
    }
    return 0;
}

/* The format detected in top/name, as a word ("qcow2"), or the error. */
static const char *detected(const char *name, char *buf, size_t len)
{
    char path[PATH_MAX];
    enum disk_format f = DISK_FORMAT_UNKNOWN;
    int r = preflight_detect_format(at(path, sizeof(path), name), &f);

    if (r < 0)
        snprintf(buf, len, "error %s", strerror(-r));
    else
        snprintf(buf, len, "%s", disk_format_name(f));
    return buf;
}

static void detect_is(const char *name, const char *want, const char *what)
{
    char buf[128];

    is_str(detected(name, buf, sizeof(buf)), want, "detect: %s", what);
}

/* Replaces every "@" in tmpl with top: a config that points into it.
 * A new malloc'd string. */
static char *config(const char *tmpl)
{
    size_t n = 1;
    char *s, *o;

    for (const char *p = tmpl; *p; p++)
        n += *p == '@' ? strlen(top) : 1;
    if (!(s = o = malloc(n)))
        return NULL;
    for (const char *p = tmpl; *p; p++) {
        if (*p == '@') {
            memcpy(o, top, strlen(top));
            o += strlen(top);
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return s;
}

/*
 * Parses the config tmpl (see config()) and runs preflight_check on it.
 * Returns preflight_check's result, or 99 when the config is refused;
 * *msgs_r gets every error message, one per line ("" for none; caller
 * frees).  Each entry is checked to be an error named after the config.
 */
static int check(const char *tmpl, char **msgs_r)
{
    struct domain_desc dom;
    struct cfg *cfg = NULL;
    struct diag d;
    char *text = config(tmpl), *msgs = NULL;
    size_t len = 0;
    FILE *f;
    int r;

    *msgs_r = NULL;
    diag_init(&d);
    domain_init(&dom);
    if (!text)
        return 99;
    r = cfg_parse("pf.cfg", text, strlen(text), &cfg, &d);
    if (r == 0)
        r = domain_from_cfg(cfg, &dom, &d);
    if (r) {
        diag_print(&d, stdout, "# config");
        r = 99;
        goto out;
    }
    diag_dispose(&d);
    diag_init(&d);
    r = preflight_check(&dom, "pf.cfg", &d);
    if (!(f = open_memstream(&msgs, &len)))
        goto out;
    for (size_t i = 0; i < d.n; i++) {
        fprintf(f, "%s%s", i ? "\n" : "", d.v[i].msg);
        if (d.v[i].level != DIAG_ERROR || !d.v[i].file || strcmp(d.v[i].file, "pf.cfg") ||
            d.v[i].line != 0)
            fprintf(f, " [not an error of pf.cfg, line 0]");
    }
    fclose(f);
    if (d.nerrors != d.n)
        r = 98;
    *msgs_r = msgs;
out:
    cfg_free(cfg);
    domain_dispose(&dom);
    diag_dispose(&d);
    free(text);
    return r;
}

/* check(), expecting result want and messages want_msgs (tmpl-style: `@'
 * is the temporary directory). */
static void check_is(const char *tmpl, int want, const char *want_msgs, const char *what)
{
    char *msgs = NULL, *expect = config(want_msgs);
    int r = check(tmpl, &msgs);

    is_int(r, want, "check: %s: result", what);
    is_str(msgs, expect, "check: %s: messages", what);
    free(msgs);
    free(expect);
}

/*
 * check() as the user nobody, in a child (root passes access(W_OK) on a
 * read-only file).  Returns the messages (caller frees), or NULL with a
 * reason in why when it cannot be done.
 */
static char *check_as_nobody(const char *tmpl, int *r_r, const char **why)
{
    char buf[4096], probe[PATH_MAX];
    size_t len = 0;
    int p[2], status = 0;
    pid_t pid;

    *why = "cannot start a child";
    if (pipe(p) < 0)
        return NULL;
    fflush(stdout);
    if ((pid = fork()) < 0) {
        close(p[0]);
        close(p[1]);
        return NULL;
    }
    if (pid == 0) {
        char *msgs = NULL;
        int r;

        close(p[0]);
        if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
            _exit(3);
        if (access(at(probe, sizeof(probe), "."), X_OK) < 0)
            _exit(4);
        r = check(tmpl, &msgs);
        if (msgs && write(p[1], msgs, strlen(msgs)) < 0)
            r = 97;
        free(msgs);
        _exit(r < 0 ? 100 - r : r);
    }
    close(p[1]);
    for (;;) {
        ssize_t n = read(p[0], buf + len, sizeof(buf) - 1 - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(p[0]);
    buf[len] = '\0';
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status)) {
        *why = "the child was killed";
        return NULL;
    }
    switch (WEXITSTATUS(status)) {
    case 3:
        *why = "cannot become the user nobody (uid 65534)";
        return NULL;
    case 4:
        *why = "nobody cannot reach the temporary directory";
        return NULL;
    }
    *r_r = WEXITSTATUS(status) > 100 ? -(WEXITSTATUS(status) - 100) : WEXITSTATUS(status);
    return strdup(buf);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* ---- cases ---- */

static void test_detect_qemu_img(void)
{
    static const struct {
        const char *format, *opts, *name, *want, *what;
    } imgs[] = {
        { "qcow2", NULL, "q.qcow2", "qcow2", "qemu-img qcow2" },
        { "qcow", NULL, "q.qcow", "qcow", "qemu-img qcow (version 1)" },
        { "vpc", NULL, "dyn.vhd", "vhd", "qemu-img vpc, dynamic (footer copy first)" },
        { "vpc", "subformat=fixed", "fixed.vhd", "vhd",
          "qemu-img vpc, fixed (footer only at the end)" },
        { "qed", NULL, "q.qed", "qed", "qemu-img qed" },
        { "raw", NULL, "q.raw", "raw", "qemu-img raw" },
    };
    int r;

    for (size_t i = 0; i < sizeof(imgs) / sizeof(imgs[0]); i++) {
        r = qemu_img(imgs[i].format, imgs[i].opts, imgs[i].name);
        if (r == -ENOENT)
            ok(1, "# SKIP qemu-img is not installed (%s)", imgs[i].what);
        else if (r)
            ok(1, "# SKIP qemu-img cannot create %s here (%s)", imgs[i].format,
               imgs[i].what);
        else
            detect_is(imgs[i].name, imgs[i].want, imgs[i].what);
    }
}

static void test_detect_headers(void)
{
    char path[PATH_MAX];

    make_file("v1", "QFI\xfb\0\0\0\1", 8, NULL, 512);
    detect_is("v1", "qcow", "QFI\\xfb version 1: qcow");
    make_file("v2", "QFI\xfb\0\0\0\2", 8, NULL, 512);
    detect_is("v2", "qcow2", "QFI\\xfb version 2: qcow2");
    make_file("v3", "QFI\xfb\0\0\0\3", 8, NULL, 4096);
    detect_is("v3", "qcow2", "QFI\\xfb version 3: qcow2");
    make_file("magic-only", "QFI\xfb", 4, NULL, 4);
    detect_is("magic-only", "qcow2", "QFI\\xfb and nothing more: qcow2");
    make_file("short", "QFI", 3, NULL, 3);
    detect_is("short", "raw", "3 bytes of a magic: raw");
    make_file("qed", "QED\0", 4, NULL, 512);
    detect_is("qed", "qed", "QED\\0: qed");
    make_file("qe", "QEDX", 4, NULL, 512);
    detect_is("qe", "raw", "QEDX: raw");
    make_file("conectix-head", "conectix", 8, "conectix", 1024);
    detect_is("conectix-head", "vhd", "conectix first: vhd");
    make_file("conectix-tail", NULL, 0, "conectix", 4096);
    detect_is("conectix-tail", "vhd", "conectix in the last sector only: vhd");
    make_file("conectix-only", NULL, 0, "conectix", 512);
    detect_is("conectix-only", "vhd", "a lone footer sector: vhd");
    make_file("conectix-short", NULL, 0, "conectix", 511);
    detect_is("conectix-short", "raw", "511 bytes: no footer: raw");
    make_file("empty", NULL, 0, NULL, 0);
    detect_is("empty", "raw", "an empty file: raw");
    make_file("zeros", NULL, 0, NULL, 8192);
    detect_is("zeros", "raw", "zeros: raw");
    detect_is("missing", "error No such file or directory", "a missing file: -ENOENT");
    {
        enum disk_format f = DISK_FORMAT_UNKNOWN;

        is_int(preflight_detect_format(at(path, sizeof(path), "missing"), &f), -ENOENT,
               "detect: a missing file returns -ENOENT");
        mkdir(at(path, sizeof(path), "dir"), 0755);
        is_int(preflight_detect_format(path, &f), -EISDIR, "detect: a directory: -EISDIR");
        is_int(preflight_detect_format("/dev/null", &f), 0, "detect: /dev/null reads");
        is_int(f, DISK_FORMAT_RAW, "detect: /dev/null is raw");
    }
}

static void test_check(void)
{
    /* the files the configs point at */
    make_file("root.img", NULL, 0, NULL, 65536);
    make_file("data.qcow2", "QFI\xfb\0\0\0\3", 8, NULL, 4096);
    make_file("old.qcow", "QFI\xfb\0\0\0\1", 8, NULL, 4096);
    make_file("d.vhd", NULL, 0, "conectix", 4096);
    make_file("q.qed", "QED\0", 4, NULL, 4096);
    make_file("cd.iso", NULL, 0, NULL, 4096);
    make_file("vmlinuz", "kernel", 6, NULL, 512);
    make_file("initrd", "initrd", 6, NULL, 512);
    make_file("ro.img", NULL, 0, NULL, 4096);
    make_file("ro.iso", NULL, 0, NULL, 4096);
    make_file("secret", "kernel", 6, NULL, 512);
    {
        char path[PATH_MAX];

        chmod(at(path, sizeof(path), "ro.img"), 0444);
        chmod(at(path, sizeof(path), "ro.iso"), 0444);
        chmod(at(path, sizeof(path), "secret"), 0000);
        mkdir(at(path, sizeof(path), "subdir"), 0755);
    }

#define HEAD "name = \"pf\"\ntype = \"pvh\"\nmemory = 256\n"
#define KERNEL "kernel = \"@/vmlinuz\"\nramdisk = \"@/initrd\"\n"

    check_is(HEAD KERNEL
             "disk = [ \"@/root.img,raw,xvda,w\", \"@/data.qcow2,qcow2,xvdb,w\",\n"
             "         \"@/old.qcow,qcow,xvdc,r\", \"@/d.vhd,vhd,xvdd,w\",\n"
             "         \"@/q.qed,qed,xvde,w\", \"@/ro.img,raw,xvdf,r\",\n"
             "         \",,hdc:cdrom,r\", \"@/cd.iso,raw,hdd:cdrom,r\",\n"
             "         \"@/ro.iso,raw,xvdg:cdrom,w\" ]\n",
             0, "", "a good config");
    check_is(HEAD, 0, "", "no disks, no kernel");
    check_is(HEAD "disk = [ \",,hdc:cdrom,r\" ]\n", 0, "", "an empty cdrom is fine");
    check_is(HEAD "disk = [ \"vdev=hdd,devtype=cdrom\" ]\n", 0, "",
             "an empty cdrom (key=value) is fine");

    check_is(HEAD "disk = [ \"@/missing.img,raw,xvda,w\" ]\n", -EINVAL,
             "disk xvda: @/missing.img: No such file or directory",
             "a missing disk names the vdev and the path");
    check_is(HEAD "disk = [ \"@/gone.iso,raw,hdc:cdrom,r\" ]\n", -EINVAL,
             "disk hdc: @/gone.iso: No such file or directory",
             "a missing cdrom image");
    check_is(HEAD "disk = [ \"@/data.qcow2,raw,xvda,w\" ]\n", -EINVAL,
             "disk xvda: @/data.qcow2 holds a qcow2 image, but the config says format=raw",
             "a raw disk holding a qcow2 header");
    check_is(HEAD "disk = [ \"vdev=xvda,access=w,target=@/data.qcow2\" ]\n", -EINVAL,
             "disk xvda: @/data.qcow2 holds a qcow2 image, but the config says format=raw",
             "no format (raw) holding a qcow2 header");
    check_is(HEAD "disk = [ \"@/root.img,qcow2,xvdb,w\" ]\n", -EINVAL,
             "disk xvdb: @/root.img does not hold a qcow2 image (format=qcow2 in the config;"
             " its header says raw)",
             "a qcow2 disk that is raw");
    check_is(HEAD "disk = [ \"@/data.qcow2,qed,xvdb,w\" ]\n", -EINVAL,
             "disk xvdb: @/data.qcow2 holds a qcow2 image, but the config says format=qed",
             "a qed disk that is qcow2");
    check_is(HEAD "disk = [ \"@/old.qcow,qcow2,xvdb,w\" ]\n", -EINVAL,
             "disk xvdb: @/old.qcow holds a qcow image, but the config says format=qcow2",
             "a qcow2 disk that is qcow (version 1)");
    check_is(HEAD "disk = [ \"@/d.vhd,raw,xvdb,w\" ]\n", -EINVAL,
             "disk xvdb: @/d.vhd holds a vhd image, but the config says format=raw",
             "a raw disk that is a fixed vhd");
    check_is(HEAD "disk = [ \"@/subdir,raw,xvda,w\" ]\n", -EINVAL,
             "disk xvda: @/subdir is neither a file nor a block device",
             "a directory as target");
    check_is(HEAD "disk = [ \"/dev/null,raw,xvda,w\" ]\n", -EINVAL,
             "disk xvda: /dev/null is neither a file nor a block device",
             "a character device as target");

    check_is(HEAD "kernel = \"@/nokernel\"\n", -EINVAL,
             "kernel @/nokernel: No such file or directory", "a missing kernel");
    check_is(HEAD "kernel = \"@/vmlinuz\"\nramdisk = \"@/noinitrd\"\n", -EINVAL,
             "ramdisk @/noinitrd: No such file or directory", "a missing ramdisk");
    check_is(HEAD "kernel = \"@/subdir\"\n", -EINVAL,
             "kernel @/subdir is not a regular file", "a directory as kernel");

    /* every problem is reported, in order: disks, kernel, ramdisk */
    check_is(HEAD "kernel = \"@/nokernel\"\nramdisk = \"@/noinitrd\"\n"
             "disk = [ \"@/missing.img,raw,xvda,w\", \"@/root.img,raw,xvdb,w\",\n"
             "         \"@/data.qcow2,raw,xvdc,w\" ]\n", -EINVAL,
             "disk xvda: @/missing.img: No such file or directory\n"
             "disk xvdc: @/data.qcow2 holds a qcow2 image, but the config says format=raw\n"
             "kernel @/nokernel: No such file or directory\n"
             "ramdisk @/noinitrd: No such file or directory",
             "several problems, each reported");

    /* earlier errors in d do not count against this check */
    {
        struct domain_desc dom;
        struct diag d;

        domain_init(&dom);
        diag_init(&d);
        diag_error(&d, "other.cfg", 1, 1, "an earlier error");
        is_int(preflight_check(&dom, "pf.cfg", &d), 0,
               "check: 0 when only an earlier error is in d");
        is_int(d.n, 1, "check: nothing added for nothing to check");
        diag_dispose(&d);
        domain_dispose(&dom);
    }

    /* a read-only file for a writable disk: root may write it anyway */
    {
        static const char ro_tmpl[] = HEAD "disk = [ \"@/ro.img,raw,xvda,w\" ]\n";
        static const char secret_tmpl[] = HEAD "kernel = \"@/secret\"\n";
        char *msgs, *want;
        const char *why;
        int r = 0;

        if (geteuid() != 0) {
            check_is(ro_tmpl, -EINVAL, "disk xvda: @/ro.img cannot be written: Permission denied",
                     "a read-only file for a writable disk");
            check_is(secret_tmpl, -EINVAL, "kernel @/secret cannot be read: Permission denied",
                     "an unreadable kernel");
        } else {
            char path[PATH_MAX];

            ok(1, "# SKIP running as root: access(W_OK) succeeds on a 0444 file"
               " (checked as nobody next)");
            /* nobody must reach the files: the directory is open to all */
            chmod(top, 0755);
            chmod(at(path, sizeof(path), "secret"), 0000);
            msgs = check_as_nobody(ro_tmpl, &r, &why);
            if (!msgs) {
                ok(1, "# SKIP as nobody: %s", why);
                ok(1, "# SKIP as nobody: %s", why);
            } else {
                want = config("disk xvda: @/ro.img cannot be written: Permission denied");
                is_int(r, -EINVAL, "check as nobody: a read-only file for a writable disk:"
                       " result");
                is_str(msgs, want, "check as nobody: a read-only file for a writable disk:"
                       " messages");
                free(want);
            }
            free(msgs);
            msgs = check_as_nobody(secret_tmpl, &r, &why);
            if (!msgs) {
                ok(1, "# SKIP as nobody: %s", why);
                ok(1, "# SKIP as nobody: %s", why);
            } else {
                want = config("kernel @/secret cannot be read: Permission denied");
                is_int(r, -EINVAL, "check as nobody: an unreadable kernel: result");
                is_str(msgs, want, "check as nobody: an unreadable kernel: messages");
                free(want);
            }
            free(msgs);
            chmod(top, 0700);
        }
    }
#undef HEAD
#undef KERNEL
}

int main(void)
{
    const char *tmpdir = getenv("TMPDIR");

    umask(022);
    snprintf(top, sizeof(top), "%s/test-preflight.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(top)) {
        perror("mkdtemp");
        return 2;
    }
    test_detect_qemu_img();
    test_detect_headers();
    test_check();
    nftw(top, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    return tap_done();
}
