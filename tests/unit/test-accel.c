/*
 * test-accel - the accelerator decision (hypervisor/accel.c): host checks
 * against a fake host tree (/dev/kvm as a regular file or a directory,
 * cpuinfo with and without vmx/svm), the cache (round trip, boot id,
 * garbage, permissions), the probe against fake QEMUs (shell scripts that
 * boot, hang after a KVM internal error, abort, reset, flood), and the
 * decision for kvm, tcg and auto.  Runs from the top of the tree.
 *
 * With arguments it is the driver of tests/accel/probe.t, against the
 * real host and the real QEMU ($VMKIT_QEMU, default qemu-system-x86_64):
 *   test-accel probe kvm|tcg KERNEL [INITRD [TIMEOUT_MS]]
 *   test-accel host
 *   test-accel decide auto|kvm|tcg RUNDIR [KERNEL]
 *   test-accel status RUNDIR
 * printing "key value" lines; exit 0 when the call returned 0, else 2.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "accel.h"
#include "tap.h"

static char base[] = "/tmp/test-accel.XXXXXX";
static char host[256], run[256], bin[256], kernel[256];

#define BOOT_A "0f7a5c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b"
#define BOOT_B "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

#define CPUINFO_NONE \
    "processor\t: 0\nvendor_id\t: AuthenticAMD\n" \
    "flags\t\t: fpu vme de pse tsc msr pae hypervisor lahf_lm\n" \
    "vmx flags\t: vnmi preemption_timer\n\n" \
    "processor\t: 1\nflags\t\t: fpu vme de pse tsc msr pae hypervisor lahf_lm\n"
#define CPUINFO_VMX \
    "processor\t: 0\nflags\t\t: fpu vme de vmx pse tsc msr pae\n"
#define CPUINFO_SVM_LAST \
    "processor\t: 0\nflags\t\t: fpu svmx xsvm\n\nprocessor\t: 1\nflags\t: fpu svm\n"

/* ---- helpers ---- */

static void path_of(char *buf, size_t len, const char *rel)
{
    snprintf(buf, len, "%s/%s", base, rel);
}

static void mkdirs(const char *rel)
{
    char path[PATH_MAX];

    path_of(path, sizeof(path), rel);
    for (char *p = path + strlen(base) + 1;; p++) {
        p = strchr(p, '/');
        if (p)
            *p = '\0';
        mkdir(path, 0755);
        if (!p)
            break;
        *p = '/';
    }
}

static int put_file(const char *path, const char *text, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

    if (fd < 0)
        return -1;
    if (write(fd, text, len) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    fchmod(fd, mode);
    return close(fd);
}

static void put(const char *rel, const char *text)
{
    char path[PATH_MAX];

    path_of(path, sizeof(path), rel);
    if (put_file(path, text, strlen(text), 0644) < 0)
        printf("# cannot write %s\n", path);
}

static void rm_rel(const char *rel)
{
    char path[PATH_MAX];

    path_of(path, sizeof(path), rel);
    if (remove(path) < 0 && errno != ENOENT)
        printf("# cannot remove %s\n", path);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int has(const char *text, const char *part)
{
    return text && strstr(text, part) != NULL;
}

static int exists_rel(const char *rel)
{
    char path[PATH_MAX];
    struct stat st;

    path_of(path, sizeof(path), rel);
    return lstat(path, &st) == 0;
}

/* Leftover temporary files of the cache in dir. */
static int temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, ".accel.", 7))
            n++;
    closedir(d);
    return n;
}

/* A fake QEMU: bin/NAME running body under /bin/sh; it records its
 * arguments, one a line, in bin/NAME.args.  Returns its path, in one of
 * a few static buffers used in turn. */
static const char *fake_qemu(const char *name, const char *body)
{
    static char paths[4][PATH_MAX];
    static int next;
    char *path = paths[next++ % 4];
    char *text = NULL;
    int n;

    snprintf(path, PATH_MAX, "%s/%s", bin, name);
    n = asprintf(&text, "#!/bin/sh\nfor a; do printf '%%s\\n' \"$a\"; done > \"$0.args\"\n%s\n",
                 body);
    if (n < 0 || put_file(path, text, (size_t)n, 0755) < 0)
        printf("# cannot write %s\n", path);
    free(text);
    return path;
}

static char *slurp(const char *path)
{
    static char buf[8192];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    buf[0] = '\0';
    if (fd < 0)
        return buf;
    n = read(fd, buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
    return buf;
}

static void params(struct accel_probe_params *p, const char *qemu)
{
    accel_probe_params_init(p);
    p->qemu = qemu;
    p->kernel = kernel;
    p->timeout_ms = 1500;
    p->rundir = run;
    p->host_root = host;
}

/* A host that passes the checks, as accel_host_check would say it. */
static void host_ok(struct accel_verdict *h)
{
    memset(h, 0, sizeof(*h));
    h->accel = ACCEL_KVM;
    snprintf(h->reason, sizeof(h->reason),
             "/dev/kvm opens, KVM API version 12, the CPU advertises vmx");
}

static void host_no(struct accel_verdict *h)
{
    memset(h, 0, sizeof(*h));
    h->accel = ACCEL_TCG;
    snprintf(h->reason, sizeof(h->reason), "the CPU advertises neither vmx nor svm");
}

static int cache_is_kvm(void)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/accel", run);
    return has(slurp(path), "\naccel kvm\n");
}

/* ---- host checks ---- */

static void test_host_check(void)
{
    struct accel_verdict v;
    char want[PATH_MAX + 64];
    int r;

    r = accel_host_check(host, &v);
    is_int(r, -ENODEV, "no /dev/kvm: not usable");
    is_int(v.accel, ACCEL_TCG, "no /dev/kvm: tcg");
    snprintf(want, sizeof(want), "no %s/dev/kvm: the kvm module is not loaded or the"
             " host has no hardware virtualization", host);
    is_str(v.reason, want, "no /dev/kvm: reason");

    put("host/dev/kvm", "");
    put("host/proc/cpuinfo", CPUINFO_NONE);
    r = accel_host_check(host, &v);
    is_int(r, -ENODEV, "no vmx/svm: not usable");
    is_str(v.reason, "the CPU advertises neither vmx nor svm",
           "no vmx/svm (a `vmx flags' line is no flag): reason");

    mkdirs("host/sys/module/kvm_pvm");
    r = accel_host_check(host, &v);
    ok(r == -ENODEV && has(v.reason, "neither vmx nor svm") && has(v.reason, "kvm_pvm"),
       "no vmx/svm with kvm_pvm loaded: says so (%s)", v.reason);
    rm_rel("host/sys/module/kvm_pvm");

    put("host/proc/cpuinfo", CPUINFO_SVM_LAST);
    r = accel_host_check(host, &v);
    ok(r == -ENODEV && has(v.reason, "KVM_GET_API_VERSION") &&
       has(v.reason, "Inappropriate ioctl for device"),
       "svm on the second CPU (svmx is not svm), /dev/kvm a regular file: the ioctl"
       " fails (%s)", v.reason);

    put("host/proc/cpuinfo", CPUINFO_VMX);
    r = accel_host_check(host, &v);
    ok(r == -ENODEV && v.accel == ACCEL_TCG && has(v.reason, "KVM_GET_API_VERSION"),
       "vmx, /dev/kvm a regular file: the ioctl fails");

    rm_rel("host/dev/kvm");
    mkdirs("host/dev/kvm");
    r = accel_host_check(host, &v);
    ok(r == -ENODEV && has(v.reason, "cannot open") && has(v.reason, "Is a directory"),
       "/dev/kvm that cannot be opened read-write: strerror (%s)", v.reason);
    rm_rel("host/dev/kvm");

    put("host/dev/kvm", "");
    rm_rel("host/proc/cpuinfo");
    r = accel_host_check(host, &v);
    ok(r == -ENODEV && has(v.reason, "cannot read") && has(v.reason, "cpuinfo"),
       "no cpuinfo: cannot read (%s)", v.reason);
    put("host/proc/cpuinfo", CPUINFO_VMX);

    /* the real device behind a fake cpuinfo, where this host has one */
    rm_rel("host/dev/kvm");
    {
        char link[PATH_MAX];
        int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

        path_of(link, sizeof(link), "host/dev/kvm");
        if (fd >= 0 && symlink("/dev/kvm", link) == 0) {
            close(fd);
            r = accel_host_check(host, &v);
            ok(r == 0 && v.accel == ACCEL_KVM && has(v.reason, "KVM API version 12") &&
               has(v.reason, "vmx"), "the real /dev/kvm and a vmx cpuinfo: passes (%s)",
               v.reason);
            put("host/proc/cpuinfo", CPUINFO_NONE);
            r = accel_host_check(host, &v);
            ok(r == -ENODEV && has(v.reason, "neither vmx nor svm"),
               "the real /dev/kvm and no vmx: refused");
            put("host/proc/cpuinfo", CPUINFO_VMX);
            unlink(link);
        } else {
            if (fd >= 0)
                close(fd);
            ok(1, "# SKIP no /dev/kvm to open here");
            ok(1, "# SKIP no /dev/kvm to open here");
        }
    }
    r = accel_host_check(NULL, &v);
    ok((r == 0 && v.accel == ACCEL_KVM) || (r == -ENODEV && v.accel == ACCEL_TCG && v.reason[0]),
       "this host: %s", v.reason);
}

/* ---- the cache ---- */

static void test_cache(void)
{
    struct accel_verdict v, w;
    char path[PATH_MAX], sub[PATH_MAX], link[PATH_MAX];
    struct stat st;
    int r;

    snprintf(path, sizeof(path), "%s/accel", run);
    r = accel_cache_read(run, host, &v);
    is_int(r, -ENOENT, "no cache: ENOENT");
    ok(!v.cached && v.accel == ACCEL_TCG, "no cache: nothing taken");

    memset(&w, 0, sizeof(w));
    w.accel = ACCEL_KVM;
    w.probed_at = 1700000000;
    snprintf(w.reason, sizeof(w.reason), "a Linux kernel booted under kvm to its root mount in 0.8 s");
    is_int(accel_cache_write(run, host, &w), 0, "write: ok");
    ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600 && st.st_uid == geteuid(),
       "written 0600, ours");
    is_int(temp_files(run), 0, "no temporary file left");
    ok(has(slurp(path), "boot_id " BOOT_A "\n"), "holds the boot id");
    r = accel_cache_read(run, host, &v);
    is_int(r, 0, "read back");
    ok(v.accel == ACCEL_KVM && v.cached && v.probed_at == 1700000000,
       "read back: kvm, cached, the time");
    is_str(v.reason, w.reason, "read back: the reason");

    put("host/proc/sys/kernel/random/boot_id", BOOT_B "\n");
    r = accel_cache_read(run, host, &v);
    is_int(r, -ESTALE, "another boot id: stale");
    ok(has(v.reason, "before the host's last boot") && !v.cached && v.accel == ACCEL_TCG,
       "stale: says so (%s)", v.reason);
    put("host/proc/sys/kernel/random/boot_id", "not a boot id\n");
    is_int(accel_cache_read(run, host, &v), -ESTALE, "unreadable boot id: stale");
    is_int(accel_cache_write(run, host, &w), -ESTALE, "unreadable boot id: no write");
    put("host/proc/sys/kernel/random/boot_id", BOOT_A "\n");

    /* a newline in the reason does not break the file */
    w.accel = ACCEL_TCG;
    snprintf(w.reason, sizeof(w.reason), "two\nlines\x01");
    is_int(accel_cache_write(run, host, &w), 0, "write tcg with control characters");
    r = accel_cache_read(run, host, &v);
    ok(r == 0 && v.accel == ACCEL_TCG && !strcmp(v.reason, "two?lines?"),
       "control characters written as `?' (%s)", v.reason);

    {
        static const struct { const char *text; int want; const char *what; } bad[] = {
            { "hello\n", -EINVAL, "garbage" },
            { "", -EINVAL, "empty" },
            { "boot_id " BOOT_A "\naccel kvm\nprobed_at 5\n", -EINVAL, "no reason" },
            { "boot_id " BOOT_A "\naccel kvm\naccel kvm\nprobed_at 5\nreason r\n",
              -EINVAL, "a repeated key" },
            { "boot_id " BOOT_A "\naccel xen\nprobed_at 5\nreason r\n", -EINVAL,
              "accel xen" },
            { "boot_id " BOOT_A "\naccel auto\nprobed_at 5\nreason r\n", -EINVAL,
              "accel auto" },
            { "boot_id " BOOT_A "\naccel kvm\nprobed_at -5\nreason r\n", -EINVAL,
              "a negative time" },
            { "boot_id " BOOT_A "\naccel kvm\nprobed_at 5x\nreason r\n", -EINVAL,
              "a bad time" },
            { "boot_id xyz\naccel kvm\nprobed_at 5\nreason r\n", -EINVAL, "a bad boot id" },
            { "boot_id " BOOT_A "\naccel kvm\nprobed_at 5\nreason r", -EINVAL,
              "no final newline" },
            { "boot_id " BOOT_A "\naccel kvm\nprobed_at 5\nreason \n", -EINVAL,
              "an empty reason" },
            { "boot_id " BOOT_A "\naccel kvm\nprobed_at 5\nreason r\nxen 1\n", -EINVAL,
              "an unknown key" },
            { "boot_id " BOOT_A "\naccel kvm\nprobed_at 5\nreason r\xc3\xa9\n", -EINVAL,
              "non-ASCII" },
            { "boot_id " BOOT_B "\naccel kvm\nprobed_at 5\nreason r\n", -ESTALE,
              "well-formed, another boot" },
            { "# comment\nboot_id " BOOT_A "\naccel kvm\nprobed_at 5\nreason r\n", 0,
              "well-formed with a comment" },
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            put_file(path, bad[i].text, strlen(bad[i].text), 0600);
            r = accel_cache_read(run, host, &v);
            ok(r == bad[i].want && (r || v.cached) && (!r || (!v.cached && v.reason[0])),
               "cache file with %s: %d (%s)", bad[i].what, r, v.reason);
        }
    }
    put_file(path, "boot_id " BOOT_A "\naccel kvm\0\nprobed_at 5\nreason r\n", 46, 0600);
    is_int(accel_cache_read(run, host, &v), -EINVAL, "a NUL byte: invalid");
    {
        char *big = malloc(10000);

        memset(big, '#', 9999);
        big[9999] = '\n';
        put_file(path, big, 10000, 0600);
        is_int(accel_cache_read(run, host, &v), -EFBIG, "10000 bytes: too big");
        free(big);
    }

    w.accel = ACCEL_KVM;
    snprintf(w.reason, sizeof(w.reason), "fine");
    accel_cache_write(run, host, &w);
    chmod(path, 0620);
    r = accel_cache_read(run, host, &v);
    ok(r == -EPERM && has(v.reason, "writable by group or others"),
       "group-writable: ignored (%s)", v.reason);
    unlink(path);
    snprintf(link, sizeof(link), "%s/elsewhere", base);
    put_file(link, "boot_id " BOOT_A "\naccel kvm\nprobed_at 5\nreason r\n", 52, 0600);
    if (symlink(link, path) < 0)
        printf("# cannot symlink\n");
    r = accel_cache_read(run, host, &v);
    ok(r == -EPERM && has(v.reason, "symbolic link"), "a symlink: ignored (%s)", v.reason);
    unlink(path);
    if (mkdir(path, 0700) == 0) {
        r = accel_cache_read(run, host, &v);
        ok(r == -EPERM && has(v.reason, "not a regular file"), "a directory: ignored");
        rmdir(path);
    }

    /* the run root is made (0700) when missing; its parent must exist */
    snprintf(sub, sizeof(sub), "%s/newrun", base);
    is_int(accel_cache_write(sub, host, &w), 0, "write into a missing run root");
    ok(stat(sub, &st) == 0 && (st.st_mode & 0777) == 0700, "the run root is made 0700");
    snprintf(sub, sizeof(sub), "%s/no/such/run", base);
    is_int(accel_cache_write(sub, host, &w), -ENOENT, "a missing parent: ENOENT");
    w.accel = ACCEL_AUTO;
    is_int(accel_cache_write(run, host, &w), -EINVAL, "auto is not a verdict");
}

/* ---- the probe, against fake QEMUs ---- */

#define LINUX_LINES \
    "printf '[    0.000000] Linux version 6.1.0-99-amd64\\n[    0.5] smpboot: CPU0\\n'\n"
#define PANIC_LINE \
    "printf '[    1.5] Kernel panic - not syncing: VFS: Unable to mount root fs on" \
    " unknown-block(0,0)\\n[    1.6] Kernel Offset: 0x0\\n'\n"

static void test_probe(void)
{
    struct accel_probe_params p;
    struct accel_probe_result res;
    const char *q;
    char args[PATH_MAX], initrd[PATH_MAX];
    long long t0;
    int r;

    q = fake_qemu("qemu-boots", LINUX_LINES PANIC_LINE "exit 0");
    params(&p, q);
    r = accel_probe(&p, ACCEL_KVM, &res);
    is_int(r, 0, "a kernel that reaches its root mount: the probe ran");
    ok(res.booted && !res.timed_out && res.console_lines == 4,
       "booted, 4 console lines (%lu)", res.console_lines);
    ok(has(res.reason, "booted under kvm to its root mount in"), "reason: %s", res.reason);
    snprintf(args, sizeof(args), "%s.args", q);
    {
        const char *a = slurp(args);

        ok(has(a, "-accel\nkvm\n") && has(a, "-cpu\nhost\n") && has(a, "-no-reboot\n") &&
           has(a, "-serial\nstdio\n") && has(a, "-nodefaults\n") && has(a, "-display\nnone\n"),
           "QEMU's argv: kvm, -cpu host, -no-reboot, serial on stdio");
        ok(has(a, "-kernel\n") && has(a, kernel) && !has(a, "-initrd") &&
           has(a, "-append\nconsole=ttyS0 panic=-1 root=/dev/nonexistent\n"),
           "QEMU's argv: the kernel, no root device, panic=-1");
    }
    r = accel_probe(&p, ACCEL_TCG, &res);
    ok(r == 0 && res.booted && has(res.reason, "under tcg"), "the same under tcg");
    ok(has(slurp(args), "-accel\ntcg\n-cpu\nmax\n"), "QEMU's argv under tcg: -cpu max");
    snprintf(initrd, sizeof(initrd), "%s/initrd.img", base);
    put("initrd.img", "initrd\n");
    p.initrd = initrd;
    r = accel_probe(&p, ACCEL_KVM, &res);
    ok(r == 0 && res.booted && has(slurp(args), "-initrd\n") && has(slurp(args), initrd) &&
       has(slurp(args), "root=/dev/nonexistent rdinit=/vmkit-probe-no-init\n"),
       "with an initrd: -initrd, and rdinit names no program");
    p.initrd = NULL;

    q = fake_qemu("qemu-internal",
                  LINUX_LINES
                  "printf '[    0.7] x86: Booting SMP configuration:\\n'\n"
                  "echo \"${0##*/}: warning: host doesn't support requested feature\" >&2\n"
                  "echo \"${0##*/}: KVM internal error. Suberror: 1\" >&2\n"
                  "echo 'extra data[0]: 0x0000000000000001' >&2\n"
                  "echo 'emulation failure' >&2\n"
                  "echo 'RAX=0000000000000000 RBX=0000000000000000' >&2\n"
                  "exec sleep 60");
    params(&p, q);
    t0 = time(NULL);
    r = accel_probe(&p, ACCEL_KVM, &res);
    is_int(r, 0, "KVM internal error, QEMU paused: the probe ran");
    ok(!res.booted && res.timed_out && time(NULL) - t0 <= 5,
       "timed out at 1.5 s and killed (%lld s)", (long long)(time(NULL) - t0));
    ok(has(res.reason, "under kvm the probe kernel did not reach its root mount") &&
       has(res.reason, "still running after 1.5 s, killed") &&
       has(res.reason, "3 console lines, the last '[    0.7] x86: Booting SMP configuration:'") &&
       has(res.reason, "QEMU: KVM internal error. Suberror: 1 (emulation failure)"),
       "reason: %s", res.reason);

    q = fake_qemu("qemu-abort",
                  "echo \"${0##*/}: warning: host doesn't support requested feature: "
                  "CPUID.01H:ECX.pni [bit 0]\" >&2\n"
                  "echo \"${0##*/}: error: failed to set MSR 0x10a to 0x69\" >&2\n"
                  "echo \"${0##*/}: kvm.c:3183: kvm_buf_set_msrs: Assertion failed.\" >&2\n"
                  "kill -ABRT $$");
    params(&p, q);
    r = accel_probe(&p, ACCEL_KVM, &res);
    ok(r == 0 && !res.booted && !res.timed_out, "QEMU aborts at once: ran, no boot");
    ok(has(res.reason, "QEMU killed by signal 6") && has(res.reason, "no console output") &&
       has(res.reason, "QEMU: error: failed to set MSR 0x10a to 0x69"),
       "reason: %s", res.reason);

    q = fake_qemu("qemu-warns", "echo \"${0##*/}: warning: something\" >&2\nexit 1");
    params(&p, q);
    r = accel_probe(&p, ACCEL_KVM, &res);
    ok(r == 0 && !res.booted && has(res.reason, "QEMU exited with status 1") &&
       has(res.reason, "QEMU: warning: something"), "only a warning: it is shown (%s)",
       res.reason);

    q = fake_qemu("qemu-reset", LINUX_LINES "exit 0");
    params(&p, q);
    r = accel_probe(&p, ACCEL_KVM, &res);
    ok(r == 0 && !res.booted && has(res.reason, "the guest stopped (reset or power-off)"),
       "a reset before the root mount (-no-reboot exits 0) is no boot (%s)", res.reason);

    q = fake_qemu("qemu-panic-fails", LINUX_LINES PANIC_LINE "exit 3");
    params(&p, q);
    r = accel_probe(&p, ACCEL_KVM, &res);
    ok(r == 0 && !res.booted && has(res.reason, "QEMU exited with status 3"),
       "the panic line but QEMU fails: no boot");

    q = fake_qemu("qemu-first-line", "printf '[    0.000000] Linux version 6.1\\n'\n"
                  "exec sleep 60");
    params(&p, q);
    r = accel_probe(&p, ACCEL_KVM, &res);
    ok(r == 0 && !res.booted && res.timed_out && res.console_lines == 1,
       "a first console line alone is no boot");

    q = fake_qemu("qemu-flood", "head -c 3000000 /dev/zero | tr '\\0' x\n"
                  "echo\n" PANIC_LINE
                  "head -c 100000 /dev/zero | tr '\\0' e >&2\nexit 0");
    params(&p, q);
    p.timeout_ms = 20000;
    r = accel_probe(&p, ACCEL_KVM, &res);
    ok(r == 0 && res.booted && res.console_lines == 3,
       "3 MB on one line and 100 kB of stderr: read through, bounded, booted");

    q = fake_qemu("qemu-silent", "exec >&- 2>&-\nexec sleep 60");
    params(&p, q);
    t0 = time(NULL);
    r = accel_probe(&p, ACCEL_KVM, &res);
    ok(r == 0 && res.timed_out && has(res.reason, "no console output") &&
       time(NULL) - t0 <= 5, "closes its output and hangs: timed out (%s)", res.reason);

    q = fake_qemu("qemu-junk", "printf 'abc\\033[1mbold\\001\\tend  \\r\\n'\nexit 1");
    params(&p, q);
    r = accel_probe(&p, ACCEL_KVM, &res);
    ok(r == 0 && has(res.reason, "the last 'abc?[1mbold? end'"),
       "console text is sanitised (%s)", res.reason);

    params(&p, "/nonexistent/qemu");
    r = accel_probe(&p, ACCEL_KVM, &res);
    ok(r == -ENOENT && has(res.reason, "cannot start /nonexistent/qemu"),
       "no QEMU: ENOENT (%s)", res.reason);
    params(&p, q);
    p.kernel = "/nonexistent/vmlinuz";
    r = accel_probe(&p, ACCEL_KVM, &res);
    ok(r == -ENOENT && has(res.reason, "cannot use kernel /nonexistent/vmlinuz"),
       "no kernel file: ENOENT (%s)", res.reason);
    p.kernel = base;
    is_int(accel_probe(&p, ACCEL_KVM, &res), -EINVAL, "a directory as kernel: EINVAL");
    p.kernel = kernel;
    p.initrd = "/nonexistent/initrd";
    is_int(accel_probe(&p, ACCEL_KVM, &res), -ENOENT, "no initrd file: ENOENT");
    p.initrd = NULL;
    p.kernel = NULL;
    is_int(accel_probe(&p, ACCEL_KVM, &res), -EINVAL, "no kernel: EINVAL");
    p.kernel = kernel;
    is_int(accel_probe(&p, ACCEL_AUTO, &res), -EINVAL, "accel auto: EINVAL");
}

/* ---- the decision ---- */

static void test_decide(void)
{
    struct accel_probe_params p;
    struct accel_verdict v, h, w;
    char path[PATH_MAX], line[1024];
    const char *boots, *kvm_fails, *all_fail;
    int r;

    snprintf(path, sizeof(path), "%s/accel", run);
    unlink(path);
    boots = fake_qemu("qemu-boots", LINUX_LINES PANIC_LINE "exit 0");
    kvm_fails = fake_qemu("qemu-kvm-fails",
                          "case \" $* \" in *' -accel kvm '*)\n"
                          "  echo \"${0##*/}: KVM internal error. Suberror: 1\" >&2\n"
                          "  echo 'emulation failure' >&2\n  exec sleep 60;;\nesac\n"
                          LINUX_LINES PANIC_LINE "exit 0");
    all_fail = fake_qemu("qemu-all-fail",
                         "echo \"${0##*/}: linux kernel too old to load a ram disk\" >&2\n"
                         "exit 1");

    r = accel_decide(ACCEL_TCG, NULL, &v);
    ok(r == 0 && v.accel == ACCEL_TCG && !strcmp(v.reason, "tcg asked for") && !v.cached,
       "tcg asked for: tcg, without parameters");

    /* kvm forced: never a fall-back */
    params(&p, boots);
    rm_rel("host/dev/kvm");
    r = accel_decide(ACCEL_KVM, &p, &v);
    ok(r == -ENODEV && v.accel == ACCEL_TCG && has(v.reason, "kvm asked for, but no ") &&
       has(v.reason, "/dev/kvm: the kvm module is not loaded"),
       "kvm asked for, no /dev/kvm: ENODEV (%s)", v.reason);
    r = accel_decide_noprobe(ACCEL_KVM, &p, &v);
    is_int(r, -ENODEV, "the same without probing");
    put("host/dev/kvm", "");
    r = accel_decide(ACCEL_KVM, &p, &v);
    ok(r == -ENODEV && has(v.reason, "KVM_GET_API_VERSION"),
       "kvm asked for, a /dev/kvm that is not KVM: ENODEV");
    host_ok(&h);
    r = accel_decide_given(ACCEL_KVM, &h, &p, true, &v);
    ok(r == 0 && v.accel == ACCEL_KVM && has(v.reason, "kvm asked for; /dev/kvm opens") &&
       !v.warning[0], "kvm asked for, the host passes: kvm, not probed");
    memset(&w, 0, sizeof(w));
    w.accel = ACCEL_TCG;
    w.probed_at = 1700000000;
    snprintf(w.reason, sizeof(w.reason), "KVM fails the probe: it hangs");
    accel_cache_write(run, host, &w);
    r = accel_decide_given(ACCEL_KVM, &h, &p, true, &v);
    ok(r == 0 && v.accel == ACCEL_KVM && has(v.warning, "KVM fails the probe: it hangs"),
       "kvm asked for after a failed probe: kvm, with a warning (%s)", v.warning);
    unlink(path);

    /* auto: the host checks first (not cached) */
    r = accel_decide(ACCEL_AUTO, &p, &v);
    ok(r == 0 && v.accel == ACCEL_TCG && has(v.reason, "KVM_GET_API_VERSION") && !v.cached,
       "auto, the host fails: tcg with the host's reason");
    ok(!exists_rel("run/accel"), "a host check's verdict is not cached");
    host_no(&h);
    r = accel_decide_given(ACCEL_AUTO, &h, &p, true, &v);
    ok(r == 0 && !strcmp(v.reason, "the CPU advertises neither vmx nor svm"),
       "auto, no vmx: tcg, the reason as is");

    /* auto: a cached verdict wins, over the host checks too */
    w.accel = ACCEL_KVM;
    snprintf(w.reason, sizeof(w.reason), "a Linux kernel booted under kvm");
    accel_cache_write(run, host, &w);
    p.qemu = "/nonexistent/qemu";
    r = accel_decide(ACCEL_AUTO, &p, &v);
    ok(r == 0 && v.accel == ACCEL_KVM && v.cached && v.probed_at == 1700000000,
       "auto with a cached verdict: taken, nothing run");
    put("host/proc/sys/kernel/random/boot_id", BOOT_B "\n");
    r = accel_decide(ACCEL_AUTO, &p, &v);
    ok(r == 0 && v.accel == ACCEL_TCG && !v.cached && !v.warning[0],
       "auto after a reboot: the stale verdict is ignored quietly");
    put("host/proc/sys/kernel/random/boot_id", BOOT_A "\n");
    put_file(path, "junk\n", 5, 0600);
    r = accel_decide(ACCEL_AUTO, &p, &v);
    ok(r == 0 && v.accel == ACCEL_TCG && has(v.warning, "ignored the cached verdict"),
       "auto with a garbage cache: ignored with a warning (%s)", v.warning);
    unlink(path);

    /* auto: the probe */
    host_ok(&h);
    params(&p, boots);
    p.kernel = NULL;
    r = accel_decide_given(ACCEL_AUTO, &h, &p, true, &v);
    ok(r == 0 && v.accel == ACCEL_TCG && has(v.reason, "no guest kernel to probe with") &&
       !exists_rel("run/accel"), "auto, no kernel: tcg, nothing cached (%s)", v.reason);
    p.kernel = kernel;
    rm_rel("bin/qemu-boots.args");
    r = accel_decide_given(ACCEL_AUTO, &h, &p, false, &v);
    ok(r == 0 && v.accel == ACCEL_TCG && has(v.reason, "not probed yet") &&
       !exists_rel("run/accel") && !exists_rel("bin/qemu-boots.args"),
       "auto without probing: tcg, nothing run or cached (%s)", v.reason);

    r = accel_decide_given(ACCEL_AUTO, &h, &p, true, &v);
    ok(r == 0 && v.accel == ACCEL_KVM && !v.cached && v.probed_at > 0 &&
       has(v.reason, "booted under kvm"), "auto, KVM boots the kernel: kvm (%s)", v.reason);
    ok(cache_is_kvm(), "the verdict is cached");
    p.qemu = "/nonexistent/qemu";
    r = accel_decide_given(ACCEL_AUTO, &h, &p, true, &v);
    ok(r == 0 && v.accel == ACCEL_KVM && v.cached, "the next auto takes it from the cache");
    unlink(path);

    p.qemu = kvm_fails;
    r = accel_decide_given(ACCEL_AUTO, &h, &p, true, &v);
    ok(r == 0 && v.accel == ACCEL_TCG && has(v.reason, "KVM fails the probe: under kvm") &&
       has(v.reason, "KVM internal error. Suberror: 1 (emulation failure)") && v.probed_at,
       "auto, KVM fails where TCG boots: tcg (%s)", v.reason);
    ok(exists_rel("run/accel") && !cache_is_kvm(), "that verdict is cached too");
    r = accel_host_status(&p, &v);
    ok(r == 0 && v.cached && v.accel == ACCEL_TCG && has(v.reason, "KVM fails the probe"),
       "the host status shows the cached verdict");
    accel_verdict_format(&v, line, sizeof(line));
    ok(!strncmp(line, "tcg (KVM fails the probe: ", 26) &&
       has(line, "; probed ") && has(line, " UTC, cached until the host reboots)"),
       "formatted: %s", line);
    unlink(path);

    p.qemu = all_fail;
    r = accel_decide_given(ACCEL_AUTO, &h, &p, true, &v);
    ok(r == 0 && v.accel == ACCEL_TCG && has(v.reason, "KVM not judged (not cached)") &&
       has(v.reason, "fails under TCG too") && has(v.reason, "too old to load a ram disk") &&
       !exists_rel("run/accel"), "auto, the kernel fails everywhere: tcg, not cached (%s)",
       v.reason);

    p.qemu = "/nonexistent/qemu";
    r = accel_decide_given(ACCEL_AUTO, &h, &p, true, &v);
    ok(r == -ENOENT && has(v.reason, "probing KVM: cannot start"),
       "auto, no QEMU: the error (%s)", v.reason);

    /* the cache cannot be written: still a verdict, with a warning */
    p.qemu = boots;
    snprintf(path, sizeof(path), "%s/no/such/run", base);
    p.rundir = path;
    r = accel_decide_given(ACCEL_AUTO, &h, &p, true, &v);
    ok(r == 0 && v.accel == ACCEL_KVM && has(v.warning, "cannot cache the accelerator verdict"),
       "auto, the run root cannot be made: kvm, with a warning (%s)", v.warning);

    is_int(accel_decide_given(ACCEL_AUTO, &h, NULL, true, &v), -EINVAL, "auto without parameters");
    is_int(accel_decide(ACCEL_KVM, NULL, &v) == 0 || v.reason[0], 1,
           "kvm without parameters: the real host");
}

static void test_status(void)
{
    struct accel_probe_params p;
    struct accel_verdict v;
    char line[1024];
    int r;

    params(&p, "/nonexistent/qemu");
    rm_rel("host/dev/kvm");
    r = accel_host_status(&p, &v);
    ok(r == 0 && v.accel == ACCEL_TCG && has(v.reason, "the kvm module is not loaded") &&
       !v.cached, "status, no /dev/kvm: tcg and why");
    accel_verdict_format(&v, line, sizeof(line));
    ok(!strncmp(line, "tcg (no ", 8) && !has(line, "probed") && !has(line, "cached"),
       "formatted: %s", line);
    put("run/accel", "junk\n");
    chmod(run, 0700);
    {
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/accel", run);
        chmod(path, 0600);
    }
    r = accel_host_status(&p, &v);
    ok(r == 0 && v.accel == ACCEL_TCG && has(v.warning, "ignored the cached verdict"),
       "status with a garbage cache: the host checks, and a warning");
    rm_rel("run/accel");
    {
        char link[PATH_MAX];
        int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

        path_of(link, sizeof(link), "host/dev/kvm");
        put("host/proc/cpuinfo", CPUINFO_VMX);
        if (fd >= 0 && symlink("/dev/kvm", link) == 0) {
            close(fd);
            r = accel_host_status(&p, &v);
            ok(r == 0 && v.accel == ACCEL_AUTO && has(v.reason, "not probed yet") &&
               !strcmp(accel_verdict_name(&v), "undecided"),
               "status, the host passes: undecided, not probed yet (%s)", v.reason);
            unlink(link);
        } else {
            if (fd >= 0)
                close(fd);
            ok(1, "# SKIP no /dev/kvm to open here");
        }
    }
    is_int(accel_host_status(NULL, &v), -EINVAL, "status without parameters");
}

/* ---- the driver of tests/accel/probe.t ---- */

static void print_verdict(int r, const struct accel_verdict *v)
{
    char line[1024];

    printf("return %d%s%s\n", r, r ? " " : "", r ? strerror(-r) : "");
    printf("accel %s\n", accel_verdict_name(v));
    printf("cached %d\n", v->cached);
    printf("probed_at %lld\n", (long long)v->probed_at);
    printf("reason %s\n", v->reason);
    printf("warning %s\n", v->warning);
    printf("format %s\n", accel_verdict_format(v, line, sizeof(line)));
}

static enum domain_accel accel_arg(const char *s)
{
    return !strcmp(s, "kvm") ? ACCEL_KVM : !strcmp(s, "tcg") ? ACCEL_TCG : ACCEL_AUTO;
}

static int driver(int argc, char **argv)
{
    struct accel_probe_params p;
    struct accel_probe_result res;
    struct accel_verdict v;
    const char *qemu = getenv("VMKIT_QEMU");
    int r;

    accel_probe_params_init(&p);
    p.qemu = qemu && *qemu ? qemu : NULL;
    if (!strcmp(argv[1], "probe") && argc >= 4) {
        p.kernel = argv[3];
        p.initrd = argc > 4 && *argv[4] ? argv[4] : NULL;
        p.timeout_ms = argc > 5 ? atoi(argv[5]) : 0;
        r = accel_probe(&p, accel_arg(argv[2]), &res);
        printf("return %d\nbooted %d\ntimed_out %d\nelapsed_ms %ld\nconsole_lines %lu\n"
               "reason %s\n", r, res.booted, res.timed_out, res.elapsed_ms,
               res.console_lines, res.reason);
    } else if (!strcmp(argv[1], "host")) {
        r = accel_host_check(NULL, &v);
        print_verdict(r, &v);
    } else if (!strcmp(argv[1], "decide") && argc >= 4) {
        p.rundir = argv[3];
        p.kernel = argc > 4 ? argv[4] : NULL;
        r = accel_decide(accel_arg(argv[2]), &p, &v);
        print_verdict(r, &v);
    } else if (!strcmp(argv[1], "status") && argc >= 3) {
        p.rundir = argv[2];
        r = accel_host_status(&p, &v);
        print_verdict(r, &v);
    } else {
        fprintf(stderr, "usage: test-accel [probe kvm|tcg KERNEL [INITRD [TIMEOUT_MS]]"
                " | host | decide auto|kvm|tcg RUNDIR [KERNEL] | status RUNDIR]\n");
        return 2;
    }
    return r ? 2 : 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return driver(argc, argv);
    if (!mkdtemp(base)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    path_of(host, sizeof(host), "host");
    path_of(run, sizeof(run), "run");
    path_of(bin, sizeof(bin), "bin");
    path_of(kernel, sizeof(kernel), "vmlinuz");
    mkdirs("host/dev");
    mkdirs("host/proc/sys/kernel/random");
    mkdirs("host/sys/module");
    mkdirs("run");
    mkdirs("bin");
    chmod(run, 0700);
    put("host/proc/sys/kernel/random/boot_id", BOOT_A "\n");
    put("vmlinuz", "not a kernel\n");

    test_host_check();
    test_cache();
    test_probe();
    test_decide();
    test_status();

    nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return tap_done();
}
