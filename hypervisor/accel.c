/*
 * accel.c - the accelerator decision: host checks, the probe, the cache
 * (see accel.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "accel.h"
#include "paths.h"
#include "proc.h"

#define CACHE_MAX       4096            /* bytes of RUNDIR/accel */
#define PROBE_LINE_MAX  512             /* bytes kept of one console line */
#define PROBE_LAST_MAX  160             /* of the last line, in a reason */
#define PROBE_ERR_MAX   4096            /* bytes kept of QEMU's stderr */
#define PROBE_KILL_MS   2000            /* SIGTERM to SIGKILL */
#define BOOT_ID_LEN     36
#define PROBE_APPEND    "console=ttyS0 panic=-1 root=/dev/nonexistent"
#define PROBE_RDINIT    " rdinit=/vmkit-probe-no-init"
#define DEFAULT_QEMU    "qemu-system-x86_64"

/* ---- small helpers ---- */

__attribute__((format(printf, 3, 4)))
static void setf(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* Copies n bytes of src as printable ASCII: tabs become spaces, other
 * control and non-ASCII bytes `?'; trailing blanks and CRs dropped. */
static void clean_text(char *dst, size_t len, const char *src, size_t n)
{
    size_t j = 0;

    if (!len)
        return;
    for (size_t i = 0; i < n && j + 1 < len; i++) {
        unsigned char c = (unsigned char)src[i];

        if (c == '\t')
            c = ' ';
        else if (c == '\r')
            continue;
        else if (c < 0x20 || c > 0x7e)
            c = '?';
        dst[j++] = (char)c;
    }
    while (j > 0 && dst[j - 1] == ' ')
        j--;
    dst[j] = '\0';
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* host_root + "/" + rel; root NULL, "" or "/" is the real root. */
static void host_path(const char *root, const char *rel, char *buf, size_t len)
{
    size_t n = root ? strlen(root) : 0;

    while (n > 0 && root[n - 1] == '/')
        n--;
    snprintf(buf, len, "%.*s/%s", (int)n, n ? root : "", rel);
}

static void verdict_clear(struct accel_verdict *v)
{
    memset(v, 0, sizeof(*v));
    v->accel = ACCEL_TCG;
}

static const char *accel_word(enum domain_accel a)
{
    return a == ACCEL_KVM ? "kvm" : a == ACCEL_TCG ? "tcg" : "auto";
}

/* ---- host checks ---- */

/* Looks for vmx or svm in the "flags" lines of a cpuinfo file: 1 with
 * *flag_r set, 0 when none has either, -errno. */
static int cpu_virt_flag(const char *path, const char **flag_r)
{
    FILE *f = fopen(path, "re");
    char *line = NULL;
    size_t cap = 0;
    int r = 0;

    *flag_r = NULL;
    if (!f)
        return -errno;
    while (!r && getline(&line, &cap, f) >= 0) {
        char *p = line, *tok, *save = NULL;

        if (strncmp(p, "flags", 5) != 0)
            continue;
        p += 5;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != ':')
            continue;
        for (tok = strtok_r(p + 1, " \t\n", &save); tok;
             tok = strtok_r(NULL, " \t\n", &save)) {
            if (!strcmp(tok, "vmx") || !strcmp(tok, "svm")) {
                *flag_r = !strcmp(tok, "vmx") ? "vmx" : "svm";
                r = 1;
                break;
            }
        }
    }
    if (!r && ferror(f))
        r = -EIO;
    free(line);
    fclose(f);
    return r;
}

int accel_host_check(const char *host_root, struct accel_verdict *v)
{
    char kvm[PATH_MAX], cpuinfo[PATH_MAX], pvm[PATH_MAX];
    const char *flag = NULL;
    struct stat st;
    int fd = -1, r, api;

    verdict_clear(v);
    host_path(host_root, "dev/kvm", kvm, sizeof(kvm));
    host_path(host_root, "proc/cpuinfo", cpuinfo, sizeof(cpuinfo));
    host_path(host_root, "sys/module/kvm_pvm", pvm, sizeof(pvm));

    if (stat(kvm, &st) < 0) {
        if (errno == ENOENT)
            setf(v->reason, sizeof(v->reason), "no %s: the kvm module is not"
                 " loaded or the host has no hardware virtualization", kvm);
        else
            setf(v->reason, sizeof(v->reason), "cannot stat %s: %s", kvm,
                 strerror(errno));
        r = -ENODEV;
        goto out;
    }
    r = cpu_virt_flag(cpuinfo, &flag);
    if (r < 0) {
        setf(v->reason, sizeof(v->reason), "cannot read %s: %s", cpuinfo,
             strerror(-r));
        r = -ENODEV;
        goto out;
    }
    if (r == 0) {
        if (stat(pvm, &st) == 0)
            setf(v->reason, sizeof(v->reason), "the CPU advertises neither vmx"
                 " nor svm (%s is the kvm_pvm module's, which runs only PVM"
                 " guest kernels)", kvm);
        else
            setf(v->reason, sizeof(v->reason),
                 "the CPU advertises neither vmx nor svm");
        r = -ENODEV;
        goto out;
    }
    fd = open(kvm, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        setf(v->reason, sizeof(v->reason), "cannot open %s: %s", kvm,
             strerror(errno));
        r = -ENODEV;
        goto out;
    }
    api = ioctl(fd, KVM_GET_API_VERSION, 0);
    if (api < 0) {
        setf(v->reason, sizeof(v->reason), "KVM_GET_API_VERSION on %s failed: %s"
             " (not the KVM device?)", kvm, strerror(errno));
        r = -ENODEV;
        goto out;
    }
    if (api != ACCEL_KVM_API_VERSION) {
        setf(v->reason, sizeof(v->reason), "KVM_GET_API_VERSION on %s answers %d,"
             " not %d", kvm, api, ACCEL_KVM_API_VERSION);
        r = -ENODEV;
        goto out;
    }
    v->accel = ACCEL_KVM;
    setf(v->reason, sizeof(v->reason), "%s opens, KVM API version %d, the CPU"
         " advertises %s", kvm, api, flag);
    r = 0;
out:
    if (fd >= 0)
        close(fd);
    return r;
}

/* ---- the probe ---- */

struct probe_io {
    char line[PROBE_LINE_MAX];  /* the console line being read */
    size_t linelen;
    char last[PROBE_LAST_MAX];  /* the last non-blank line, cleaned */
    unsigned long lines;
    bool marker;
    char err[PROBE_ERR_MAX];    /* the first bytes of stderr */
    size_t errlen;
};

static void console_line_done(struct probe_io *io)
{
    char clean[PROBE_LAST_MAX];

    io->line[io->linelen] = '\0';
    io->lines++;
    if (strstr(io->line, ACCEL_PROBE_MARKER))
        io->marker = true;
    clean_text(clean, sizeof(clean), io->line, io->linelen);
    if (clean[strspn(clean, " ")])
        memcpy(io->last, clean, sizeof(io->last));
    io->linelen = 0;
}

/* Splits the console into lines; keeps the head of an overlong line. */
static void console_feed(struct probe_io *io, const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n')
            console_line_done(io);
        else if (io->linelen < sizeof(io->line) - 1)
            io->line[io->linelen++] = buf[i] ? buf[i] : '?';
    }
}

static void err_feed(struct probe_io *io, const char *buf, size_t n)
{
    size_t room = sizeof(io->err) - 1 - io->errlen;

    if (n > room)
        n = room;
    memcpy(io->err + io->errlen, buf, n);
    io->errlen += n;
    io->err[io->errlen] = '\0';
}

/*
 * What QEMU said on stderr, in a few words: a "KVM internal error" line
 * (with "emulation failure" when QEMU says that), else the first line
 * that is not a warning, else the first warning; without QEMU's
 * "PROGRAM: " or "qemu: " prefix and its "terminating on signal" when
 * killed.
 */
static void qemu_said(const struct probe_io *io, const char *qemu, char *out,
                      size_t len)
{
    const char *base = strrchr(qemu, '/') ? strrchr(qemu, '/') + 1 : qemu;
    size_t blen = strlen(base);
    const char *internal = NULL, *other = NULL, *warning = NULL;
    size_t ilen = 0, olen = 0, wlen = 0;
    bool emulation = false;
    char clean[256];

    out[0] = '\0';
    for (const char *p = io->err; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        const char *next = nl ? nl + 1 : p + n;

        if (n > blen + 2 && !strncmp(p, base, blen) && !strncmp(p + blen, ": ", 2)) {
            p += blen + 2;
            n -= blen + 2;
        } else if (n > 6 && !strncmp(p, "qemu: ", 6)) {     /* the loader's */
            p += 6;
            n -= 6;
        }
        if (n == 0 || memmem(p, n, "terminating on signal", 21)) {
            p = next;
            continue;
        }
        if (!internal && n >= 18 && !strncmp(p, "KVM internal error", 18)) {
            internal = p;
            ilen = n;
        } else if (n >= 17 && !strncmp(p, "emulation failure", 17)) {
            emulation = true;
        } else if (n >= 8 && !strncmp(p, "warning:", 8)) {
            if (!warning) {
                warning = p;
                wlen = n;
            }
        } else if (!other) {
            other = p;
            olen = n;
        }
        p = next;
    }
    if (internal) {
        clean_text(clean, sizeof(clean), internal, ilen);
        setf(out, len, "%s%s", clean, emulation ? " (emulation failure)" : "");
    } else if (other) {
        clean_text(out, len, other, olen);
    } else if (warning) {
        clean_text(out, len, warning, wlen);
    }
}

/* A readable regular file, or -errno with the reason in r. */
static int check_input(const char *what, const char *path,
                       struct accel_probe_result *r)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    int e = 0;

    if (fd < 0)
        e = -errno;
    else if (fstat(fd, &st) < 0)
        e = -errno;
    else if (!S_ISREG(st.st_mode))
        e = -EINVAL;
    if (fd >= 0)
        close(fd);
    if (e)
        setf(r->reason, sizeof(r->reason), "cannot use %s %s for the probe: %s",
             what, path, e == -EINVAL ? "not a regular file" : strerror(-e));
    return e;
}

/* Reads what QEMU writes until both pipes close or the deadline passes:
 * 1 when the deadline passed, 0 at EOF on both, -errno. */
static int probe_read(int out_fd, int err_fd, long long deadline, struct probe_io *io)
{
    int fds[2] = { out_fd, err_fd };
    char buf[4096];

    while (fds[0] >= 0 || fds[1] >= 0) {
        struct pollfd pfd[2];
        int map[2], npfd = 0, n;
        long long left = deadline - now_ms();

        if (left <= 0)
            return 1;
        for (int i = 0; i < 2; i++) {
            if (fds[i] < 0)
                continue;
            pfd[npfd].fd = fds[i];
            pfd[npfd].events = POLLIN;
            pfd[npfd].revents = 0;
            map[npfd++] = i;
        }
        n = poll(pfd, (nfds_t)npfd, left > INT_MAX ? INT_MAX : (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        for (int k = 0; k < npfd; k++) {
            int i = map[k];
            ssize_t got;

            if (!pfd[k].revents)
                continue;
            got = read(fds[i], buf, sizeof(buf));
            if (got > 0 && i == 0)
                console_feed(io, buf, (size_t)got);
            else if (got > 0)
                err_feed(io, buf, (size_t)got);
            else if (got == 0)
                fds[i] = -1;        /* closed by the caller */
            else if (errno != EAGAIN && errno != EINTR)
                return -errno;
        }
    }
    return 0;
}

int accel_probe(const struct accel_probe_params *p, enum domain_accel accel,
                struct accel_probe_result *r)
{
    const char *qemu = p && p->qemu ? p->qemu : DEFAULT_QEMU;
    const char *argv[40];
    char append[sizeof(PROBE_APPEND PROBE_RDINIT) + 40];
    char said[256], console[PROBE_LAST_MAX + 64], status_text[64], tail[320];
    struct probe_io *io = NULL;
    struct proc_opts o;
    int out[2] = { -1, -1 }, err[2] = { -1, -1 };
    int timeout_ms, n = 0, status = 0, ret;
    bool timed_out = false, started = false;
    long long start = 0;
    pid_t pid = -1;

    memset(r, 0, sizeof(*r));
    if (!p || !p->kernel || (accel != ACCEL_KVM && accel != ACCEL_TCG)) {
        setf(r->reason, sizeof(r->reason), "%s", !p || !p->kernel ?
             "no kernel to probe with" : "the probe runs under kvm or tcg only");
        return -EINVAL;
    }
    timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : ACCEL_PROBE_TIMEOUT_MS;
    if ((ret = check_input("kernel", p->kernel, r)))
        return ret;
    if (p->initrd && (ret = check_input("initrd", p->initrd, r)))
        return ret;
    if (!(io = calloc(1, sizeof(*io)))) {
        setf(r->reason, sizeof(r->reason), "out of memory");
        return -ENOMEM;
    }

    snprintf(append, sizeof(append), "%s%s", PROBE_APPEND, p->initrd ? PROBE_RDINIT : "");
    if (accel == ACCEL_TCG) {
        /* as dm.c does for TCG guests: see there */
        unsigned long khz = accel_host_tsc_khz();

        if (khz)
            snprintf(append + strlen(append), sizeof(append) - strlen(append),
                     " tsc_early_khz=%lu", khz);
    }
    argv[n++] = qemu;
    argv[n++] = "-machine";
    argv[n++] = "q35";
    argv[n++] = "-accel";
    argv[n++] = accel_word(accel);
    argv[n++] = "-cpu";
    argv[n++] = accel == ACCEL_KVM ? "host" : "max";
    argv[n++] = "-smp";
    argv[n++] = "2";
    argv[n++] = "-m";
    argv[n++] = "256M";
    argv[n++] = "-nodefaults";
    argv[n++] = "-no-user-config";
    argv[n++] = "-sandbox";
    argv[n++] = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny";
    argv[n++] = "-display";
    argv[n++] = "none";
    argv[n++] = "-no-reboot";
    argv[n++] = "-serial";
    argv[n++] = "stdio";
    argv[n++] = "-kernel";
    argv[n++] = p->kernel;
    if (p->initrd) {
        argv[n++] = "-initrd";
        argv[n++] = p->initrd;
    }
    argv[n++] = "-append";
    argv[n++] = append;
    argv[n] = NULL;

    /* only our read ends are non-blocking: QEMU writes to blocking pipes */
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
        fcntl(out[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(err[0], F_SETFL, O_NONBLOCK) < 0) {
        ret = -errno;
        setf(r->reason, sizeof(r->reason), "cannot make the probe's pipes: %s",
             strerror(-ret));
        goto out;
    }
    proc_opts_init(&o);
    o.stdin_fd = PROC_NULL;
    o.stdout_fd = out[1];
    o.stderr_fd = err[1];
    o.new_session = true;
    start = now_ms();
    ret = proc_start(qemu, (char *const *)argv, &o, &pid);
    if (ret) {
        setf(r->reason, sizeof(r->reason), "cannot start %s for the probe: %s",
             qemu, strerror(-ret));
        goto out;
    }
    started = true;
    close(out[1]);
    close(err[1]);
    out[1] = err[1] = -1;

    ret = probe_read(out[0], err[0], start + timeout_ms, io);
    if (ret < 0) {
        setf(r->reason, sizeof(r->reason), "reading the probe's output: %s",
             strerror(-ret));
        goto out;
    }
    if (ret == 0) {
        long long left = start + timeout_ms - now_ms();

        ret = proc_wait(pid, left > 0 ? (int)left : 0, &status);
        if (ret == -ETIMEDOUT) {
            timed_out = true;
        } else if (ret < 0) {
            setf(r->reason, sizeof(r->reason), "waiting for the probe's QEMU: %s",
                 strerror(-ret));
            goto out;
        } else {
            started = false;        /* reaped */
        }
    } else {
        timed_out = true;
    }
    if (timed_out) {
        proc_kill(pid, PROBE_KILL_MS);
        started = false;
    }
    ret = 0;
    if (io->linelen)
        console_line_done(io);
    r->elapsed_ms = (long)(now_ms() - start);
    r->timed_out = timed_out;
    r->console_lines = io->lines;
    r->booted = !timed_out && io->marker && WIFEXITED(status) && WEXITSTATUS(status) == 0;

    if (r->booted) {
        setf(r->reason, sizeof(r->reason), "a Linux kernel booted under %s to its"
             " root mount in %.1f s", accel_word(accel), r->elapsed_ms / 1000.0);
        goto out;
    }
    qemu_said(io, qemu, said, sizeof(said));
    if (!io->lines)
        setf(console, sizeof(console), "no console output");
    else
        setf(console, sizeof(console), "%lu console line%s, the last '%s'",
             io->lines, io->lines == 1 ? "" : "s", io->last);
    if (timed_out)
        setf(tail, sizeof(tail), "still running after %.1f s, killed; %s",
             timeout_ms / 1000.0, console);
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        setf(tail, sizeof(tail), "the guest stopped (reset or power-off) after %.1f s"
             " and %s", r->elapsed_ms / 1000.0, console);
    else
        setf(tail, sizeof(tail), "QEMU %s after %.1f s; %s",
             proc_status_text(status, status_text, sizeof(status_text)),
             r->elapsed_ms / 1000.0, console);
    setf(r->reason, sizeof(r->reason), "under %s the probe kernel did not reach its"
         " root mount: %s%s%s", accel_word(accel), tail, said[0] ? "; QEMU: " : "", said);
out:
    if (started)
        proc_kill(pid, PROBE_KILL_MS);
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0)
            close(out[i]);
        if (err[i] >= 0)
            close(err[i]);
    }
    free(io);
    return ret;
}

/* ---- the cache ---- */

static bool boot_id_valid(const char *s, size_t n)
{
    if (n != BOOT_ID_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        bool hex = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');

        if (dash ? s[i] != '-' : !hex)
            return false;
    }
    return true;
}

/* The host's boot id (under host_root) in id: 0 or -errno (-EINVAL: not
 * a boot id). */
static int read_boot_id(const char *host_root, char id[BOOT_ID_LEN + 1])
{
    char path[PATH_MAX], buf[64];
    ssize_t n;
    int fd;

    host_path(host_root, "proc/sys/kernel/random/boot_id", path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    do
        n = read(fd, buf, sizeof(buf) - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n < 0)
        return -errno;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        n--;
    if (!boot_id_valid(buf, (size_t)n))
        return -EINVAL;
    memcpy(id, buf, BOOT_ID_LEN);
    id[BOOT_ID_LEN] = '\0';
    return 0;
}

/* Parses the cache's text (NUL-terminated) into v; on error returns
 * -EINVAL with why in v->reason.  boot_id_r gets the file's boot id. */
static int cache_parse(char *text, const char *path, struct accel_verdict *v,
                       char boot_id_r[BOOT_ID_LEN + 1])
{
    enum { K_BOOT, K_ACCEL, K_TIME, K_REASON, K_N };
    static const char *const keys[K_N] = { "boot_id", "accel", "probed_at", "reason" };
    bool seen[K_N] = { false };
    char *line = text, *nl;
    int lineno = 0;

    while (*line) {
        char *val, *end;
        size_t vlen;
        int k;

        lineno++;
        if (!(nl = strchr(line, '\n'))) {
            setf(v->reason, sizeof(v->reason), "%s:%d: no newline at the end", path, lineno);
            return -EINVAL;
        }
        *nl = '\0';
        if (line[0] == '#') {
            line = nl + 1;
            continue;
        }
        if (!(val = strchr(line, ' '))) {
            setf(v->reason, sizeof(v->reason), "%s:%d: not a \"KEY VALUE\" line", path, lineno);
            return -EINVAL;
        }
        *val++ = '\0';
        vlen = strlen(val);
        for (k = 0; k < K_N && strcmp(line, keys[k]); k++)
            ;
        if (k == K_N || seen[k]) {
            setf(v->reason, sizeof(v->reason), "%s:%d: %s key", path, lineno,
                 k == K_N ? "unknown" : "repeated");
            return -EINVAL;
        }
        seen[k] = true;
        for (size_t i = 0; i < vlen; i++)
            if ((unsigned char)val[i] < 0x20 || (unsigned char)val[i] > 0x7e) {
                setf(v->reason, sizeof(v->reason), "%s:%d: a control or non-ASCII"
                     " character", path, lineno);
                return -EINVAL;
            }
        switch (k) {
        case K_BOOT:
            if (!boot_id_valid(val, vlen))
                goto bad_value;
            memcpy(boot_id_r, val, BOOT_ID_LEN + 1);
            break;
        case K_ACCEL:
            if (!strcmp(val, "kvm"))
                v->accel = ACCEL_KVM;
            else if (!strcmp(val, "tcg"))
                v->accel = ACCEL_TCG;
            else
                goto bad_value;
            break;
        case K_TIME: {
            long long t;

            errno = 0;
            t = strtoll(val, &end, 10);
            if (errno || end == val || *end || val[0] == '-' || val[0] == '+' || t <= 0)
                goto bad_value;
            v->probed_at = (time_t)t;
            break;
        }
        case K_REASON:
            if (vlen == 0 || vlen >= sizeof(v->reason))
                goto bad_value;
            memcpy(v->reason, val, vlen + 1);
            break;
        }
        line = nl + 1;
        continue;
bad_value:
        setf(v->reason, sizeof(v->reason), "%s:%d: bad value of %s", path, lineno, keys[k]);
        return -EINVAL;
    }
    for (int k = 0; k < K_N; k++)
        if (!seen[k]) {
            setf(v->reason, sizeof(v->reason), "%s: no %s", path, keys[k]);
            return -EINVAL;
        }
    return 0;
}

int accel_cache_read(const char *rundir, const char *host_root,
                     struct accel_verdict *v)
{
    char path[PATH_MAX], text[CACHE_MAX + 1], want[BOOT_ID_LEN + 1], got[BOOT_ID_LEN + 1];
    struct stat st;
    size_t len = 0;
    int fd = -1, r;

    verdict_clear(v);
    snprintf(path, sizeof(path), "%s/%s", rundir, ACCEL_CACHE_FILE);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        r = errno == ELOOP ? -EPERM : -errno;
        if (r == -ENOENT)
            setf(v->reason, sizeof(v->reason), "no cached verdict in %s", path);
        else if (r == -EPERM)
            setf(v->reason, sizeof(v->reason), "%s is a symbolic link", path);
        else
            setf(v->reason, sizeof(v->reason), "cannot open %s: %s", path, strerror(-r));
        goto out;
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
        setf(v->reason, sizeof(v->reason), "cannot stat %s: %s", path, strerror(-r));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022)) {
        r = -EPERM;
        setf(v->reason, sizeof(v->reason), "%s is %s", path,
             !S_ISREG(st.st_mode) ? "not a regular file" :
             st.st_uid != geteuid() ? "owned by another user" :
             "writable by group or others");
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, text + len, sizeof(text) - 1 - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            setf(v->reason, sizeof(v->reason), "cannot read %s: %s", path, strerror(-r));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len == sizeof(text) - 1) {
            char c;

            if (read(fd, &c, 1) == 1) {
                r = -EFBIG;
                setf(v->reason, sizeof(v->reason), "%s is larger than %d bytes",
                     path, CACHE_MAX);
                goto out;
            }
            break;
        }
    }
    text[len] = '\0';
    if (memchr(text, '\0', len)) {
        r = -EINVAL;
        setf(v->reason, sizeof(v->reason), "%s holds a NUL byte", path);
        goto out;
    }
    if ((r = cache_parse(text, path, v, got)))
        goto out;
    if ((r = read_boot_id(host_root, want))) {
        setf(v->reason, sizeof(v->reason), "cannot read the host's boot id: %s",
             strerror(-r));
        r = -ESTALE;
        goto out;
    }
    if (strcmp(want, got)) {
        r = -ESTALE;
        setf(v->reason, sizeof(v->reason), "%s was written before the host's last"
             " boot (boot id %s, now %s)", path, got, want);
        goto out;
    }
    v->cached = true;
    r = 0;
out:
    if (fd >= 0)
        close(fd);
    if (r) {
        v->accel = ACCEL_TCG;
        v->probed_at = 0;
        v->cached = false;
    }
    return r;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

int accel_cache_write(const char *rundir, const char *host_root,
                      const struct accel_verdict *v)
{
    char path[PATH_MAX], tmp[PATH_MAX], id[BOOT_ID_LEN + 1], reason[ACCEL_REASON_MAX];
    char *text = NULL;
    bool made = false;
    int fd = -1, r, len;

    if (v->accel != ACCEL_KVM && v->accel != ACCEL_TCG)
        return -EINVAL;
    if (read_boot_id(host_root, id))
        return -ESTALE;
    if (mkdir(rundir, 0700) < 0 && errno != EEXIST)
        return -errno;
    clean_text(reason, sizeof(reason), v->reason, strlen(v->reason));
    if (!reason[0])
        snprintf(reason, sizeof(reason), "(none given)");
    len = asprintf(&text, "# vmkit's accelerator verdict (accel.h); ignored after a reboot\n"
                   "boot_id %s\naccel %s\nprobed_at %lld\nreason %s\n", id,
                   accel_word(v->accel),
                   (long long)(v->probed_at > 0 ? v->probed_at : time(NULL)), reason);
    if (len < 0)
        return -ENOMEM;
    snprintf(path, sizeof(path), "%s/%s", rundir, ACCEL_CACHE_FILE);
    snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", rundir, ACCEL_CACHE_FILE);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    made = true;
    r = 0;
    if (fchmod(fd, 0600) < 0 || (r = write_all(fd, text, (size_t)len)) < 0 ||
        fsync(fd) < 0) {
        r = r < 0 ? r : -errno;
        goto out;
    }
    if (close(fd) < 0) {
        fd = -1;
        r = -errno;
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        r = -errno;
        goto out;
    }
    made = false;
    r = 0;
out:
    if (fd >= 0)
        close(fd);
    if (made)
        unlink(tmp);
    free(text);
    return r;
}

/* ---- the decision ---- */

void accel_probe_params_init(struct accel_probe_params *p)
{
    memset(p, 0, sizeof(*p));
}

static const char *run_root(const struct accel_probe_params *p)
{
    return p->rundir ? p->rundir : paths_root(PATHS_RUN);
}

/* Reads the cache for auto or the status: 0 with v filled, else v
 * cleared with a warning for a file that is there but unusable. */
static int cache_lookup(const struct accel_probe_params *p, struct accel_verdict *v)
{
    int r = accel_cache_read(run_root(p), p->host_root, v);

    if (r == 0)
        return 0;
    if (r != -ENOENT && r != -ESTALE) {
        char why[ACCEL_REASON_MAX];

        memcpy(why, v->reason, sizeof(why));
        verdict_clear(v);
        setf(v->warning, sizeof(v->warning), "ignored the cached verdict: %s", why);
    } else {
        verdict_clear(v);
    }
    return r;
}

static int decide_auto(const struct accel_verdict *host, const struct accel_probe_params *p,
                       bool probe, struct accel_verdict *v)
{
    struct accel_probe_result kvm, tcg;
    int r, w;

    if (cache_lookup(p, v) == 0)
        return 0;
    if (host->accel != ACCEL_KVM) {
        memcpy(v->reason, host->reason, sizeof(v->reason));
        return 0;
    }
    if (!p->kernel) {
        setf(v->reason, sizeof(v->reason), "KVM passes the host checks but is not"
             " probed: no guest kernel to probe with (TCG until a guest with a"
             " kernel is created with accel auto)");
        return 0;
    }
    if (!probe) {
        setf(v->reason, sizeof(v->reason), "KVM passes the host checks (%s) but is"
             " not probed yet: vmctl create probes it with the guest's kernel and"
             " uses KVM if it boots; until then TCG", host->reason);
        return 0;
    }
    r = accel_probe(p, ACCEL_KVM, &kvm);
    if (r < 0) {
        setf(v->reason, sizeof(v->reason), "probing KVM: %s", kvm.reason);
        return r;
    }
    if (kvm.booted) {
        v->accel = ACCEL_KVM;
        memcpy(v->reason, kvm.reason, sizeof(v->reason));
    } else {
        /* KVM's fault, or the kernel's?  The same kernel under TCG says,
         * given twice the time: TCG is slower (5 to 13 s here, a Debian
         * kernel with a 30 MB initrd on a loaded host). */
        struct accel_probe_params control = *p;
        int limit = p->timeout_ms > 0 ? p->timeout_ms : ACCEL_PROBE_TIMEOUT_MS;

        control.timeout_ms = limit > INT_MAX / 2 ? INT_MAX : 2 * limit;
        r = accel_probe(&control, ACCEL_TCG, &tcg);
        if (r < 0) {
            setf(v->reason, sizeof(v->reason), "probing TCG after KVM failed: %s",
                 tcg.reason);
            return r;
        }
        if (!tcg.booted) {
            setf(v->reason, sizeof(v->reason), "KVM not judged (not cached): the probe"
                 " kernel %s fails under TCG too: %s", p->kernel, tcg.reason);
            return 0;
        }
        setf(v->reason, sizeof(v->reason), "KVM fails the probe: %s", kvm.reason);
    }
    v->probed_at = time(NULL);
    if ((w = accel_cache_write(run_root(p), p->host_root, v)))
        setf(v->warning, sizeof(v->warning), "cannot cache the accelerator verdict"
             " in %s/%s: %s", run_root(p), ACCEL_CACHE_FILE,
             w == -ESTALE ? "cannot read the host's boot id" : strerror(-w));
    return 0;
}

static int decide(enum domain_accel wanted, const struct accel_verdict *host,
                  const struct accel_probe_params *p, bool probe, struct accel_verdict *v)
{
    struct accel_verdict cached;

    verdict_clear(v);
    switch (wanted) {
    case ACCEL_TCG:
        setf(v->reason, sizeof(v->reason), "tcg asked for");
        return 0;
    case ACCEL_KVM:
        if (!host)
            break;
        if (host->accel != ACCEL_KVM) {
            setf(v->reason, sizeof(v->reason), "kvm asked for, but %s", host->reason);
            return -ENODEV;
        }
        v->accel = ACCEL_KVM;
        setf(v->reason, sizeof(v->reason), "kvm asked for; %s", host->reason);
        if (p && accel_cache_read(run_root(p), p->host_root, &cached) == 0 &&
            cached.accel == ACCEL_TCG)
            setf(v->warning, sizeof(v->warning), "kvm asked for although a probe on"
                 " this host found: %s", cached.reason);
        return 0;
    case ACCEL_AUTO:
        if (!host || !p)
            break;
        return decide_auto(host, p, probe, v);
    }
    setf(v->reason, sizeof(v->reason), "no accelerator decision for %s",
         accel_word(wanted));
    return -EINVAL;
}

int accel_decide_given(enum domain_accel wanted, const struct accel_verdict *host,
                       const struct accel_probe_params *p, bool probe,
                       struct accel_verdict *v)
{
    return decide(wanted, host, p, probe, v);
}

int accel_decide(enum domain_accel wanted, const struct accel_probe_params *p,
                 struct accel_verdict *v)
{
    struct accel_verdict host;

    if (wanted == ACCEL_TCG)
        return decide(wanted, NULL, p, true, v);
    accel_host_check(p ? p->host_root : NULL, &host);
    return decide(wanted, &host, p, true, v);
}

int accel_decide_noprobe(enum domain_accel wanted, const struct accel_probe_params *p,
                         struct accel_verdict *v)
{
    struct accel_verdict host;

    if (wanted == ACCEL_TCG)
        return decide(wanted, NULL, p, false, v);
    accel_host_check(p ? p->host_root : NULL, &host);
    return decide(wanted, &host, p, false, v);
}

int accel_host_status(const struct accel_probe_params *p, struct accel_verdict *v)
{
    struct accel_verdict host;
    char warning[ACCEL_WARNING_MAX];

    if (!p) {
        verdict_clear(v);
        setf(v->reason, sizeof(v->reason), "no parameters");
        return -EINVAL;
    }
    if (cache_lookup(p, v) == 0)
        return 0;
    memcpy(warning, v->warning, sizeof(warning));
    if (accel_host_check(p->host_root, &host) == 0) {
        verdict_clear(v);
        v->accel = ACCEL_AUTO;
        setf(v->reason, sizeof(v->reason), "KVM passes the host checks (%s) but is"
             " not probed yet: the first `vmctl create' with accel auto probes it"
             " with the guest's kernel", host.reason);
    } else {
        *v = host;
    }
    memcpy(v->warning, warning, sizeof(v->warning));
    return 0;
}

const char *accel_verdict_name(const struct accel_verdict *v)
{
    return v->accel == ACCEL_KVM ? "kvm" : v->accel == ACCEL_TCG ? "tcg" : "undecided";
}

const char *accel_verdict_format(const struct accel_verdict *v, char *buf, size_t len)
{
    char when[64] = "";
    struct tm tm;

    if (v->probed_at > 0 && gmtime_r(&v->probed_at, &tm))
        strftime(when, sizeof(when), "; probed %Y-%m-%d %H:%M:%S UTC", &tm);
    setf(buf, len, "%s (%s%s%s)", accel_verdict_name(v), v->reason, when,
         v->cached ? ", cached until the host reboots" : "");
    return buf;
}

/* ---- the host's TSC ---- */

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>

static bool cpuinfo_has_flags(void)
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    char line[8192];
    bool constant = false, nonstop = false;

    if (!f)
        return false;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5))
            continue;
        constant = strstr(line, " constant_tsc") != NULL;
        nonstop = strstr(line, " nonstop_tsc") != NULL;
        break;
    }
    fclose(f);
    return constant && nonstop;
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
    return (b->tv_sec - a->tv_sec) * 1e3 + (b->tv_nsec - a->tv_nsec) / 1e6;
}

/* TSC ticks per ms over 20 ms, each end read between two clock reads
 * and timed at their middle. */
static double tsc_sample(void)
{
    struct timespec a1, a2, b1, b2, pause = { 0, 20 * 1000 * 1000 };
    unsigned long long c0, c1;
    double ms;

    clock_gettime(CLOCK_MONOTONIC_RAW, &a1);
    c0 = __rdtsc();
    clock_gettime(CLOCK_MONOTONIC_RAW, &a2);
    nanosleep(&pause, NULL);
    clock_gettime(CLOCK_MONOTONIC_RAW, &b1);
    c1 = __rdtsc();
    clock_gettime(CLOCK_MONOTONIC_RAW, &b2);
    ms = (ms_between(&a1, &b1) + ms_between(&a2, &b2)) / 2;
    return ms > 0 ? (double)(c1 - c0) / ms : 0;
}

unsigned long accel_host_tsc_khz(void)
{
    double v[3], t;

    if (!cpuinfo_has_flags())
        return 0;
    for (int i = 0; i < 3; i++)
        v[i] = tsc_sample();
    /* the median: one sample stretched by a preemption does not count */
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 2 - i; k++)
            if (v[k] > v[k + 1]) {
                t = v[k];
                v[k] = v[k + 1];
                v[k + 1] = t;
            }
    return v[1] > 0 ? (unsigned long)(v[1] + 0.5) : 0;
}
#else
unsigned long accel_host_tsc_khz(void)
{
    return 0;
}
#endif
