/*
 * test-dm - the QEMU command line builder: golden argv files for every
 * tests/dm/NAME.cfg (VMKIT_REGENERATE=1 rewrites them), then the root=
 * rewriting rules and each error the builder reports.  Runs from the top
 * of the tree.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "dm.h"
#include "domain.h"
#include "kernelhdr.h"
#include "tap.h"

#define GOLDEN_DIR "tests/dm"

/* ---- helpers ---- */

static int load(const char *text, struct domain_desc *dom)
{
    struct cfg *cfg = NULL;
    struct diag d;
    int r;

    diag_init(&d);
    domain_init(dom);
    r = cfg_parse("t.cfg", text, strlen(text), &cfg, &d);
    if (r == 0)
        r = domain_from_cfg(cfg, dom, &d);
    if (r)
        diag_print(&d, stdout, "# load");
    cfg_free(cfg);
    diag_dispose(&d);
    return r;
}

static int has_msg(const struct diag *d, enum diag_level level, const char *part)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].level == level && strstr(d->v[i].msg, part))
            return 1;
    return 0;
}

/* The test's fixed parameters; tap names vifname or vif7.N. */
static void test_params(const struct domain_desc *dom, struct dm_params *p,
                        char *taps[], size_t ntaps, char *log, size_t loglen)
{
    dm_params_init(p);
    p->qemu = "/usr/bin/qemu-system-x86_64";
    p->accel = dom->accel == ACCEL_KVM ? ACCEL_KVM : ACCEL_TCG;
    p->rundir = "/run/vmkit/domains/7";
    snprintf(log, loglen, "/var/log/vmkit/%s-console.log", dom->name);
    p->console_log = log;
    p->host_cpus = 8;
    for (size_t i = 0; i < dom->nvifs && i < ntaps; i++) {
        const struct vif_spec *v = &dom->vifs[i];

        taps[i] = NULL;
        if (v->netdev_user)
            continue;
        if (v->vifname)
            taps[i] = strdup(v->vifname);
        else if (asprintf(&taps[i], "vif7.%zu", i) < 0)
            taps[i] = NULL;
    }
    p->tap_names = (const char *const *)taps;
}

/* Runs the builder and renders what the golden files hold: one argument
 * per line, "--", the plan, then the builder's diagnostics. */
static char *render(const struct domain_desc *dom, const struct dm_params *p)
{
    struct dm_plan plan;
    struct diag d;
    char **argv = NULL, *plan_text = NULL, *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    int r;

    dm_plan_init(&plan);
    diag_init(&d);
    r = dm_build_argv(dom, p, &argv, &plan, &d);
    for (char **a = argv; a && *a; a++)
        fprintf(out, "%s\n", *a);
    fprintf(out, "--\n");
    if (r)
        fprintf(out, "failed: %s\n", strerror(-r));
    else if ((plan_text = dm_plan_format(&plan)))
        fputs(plan_text, out);
    for (size_t i = 0; i < d.n; i++)
        fprintf(out, "%s: %s\n", d.v[i].level == DIAG_ERROR ? "error" : "warning",
                d.v[i].msg);
    fclose(out);
    free(plan_text);
    dm_argv_free(argv);
    dm_plan_dispose(&plan);
    diag_dispose(&d);
    return buf;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0;
    FILE *out;
    int c;

    if (!f)
        return NULL;
    out = open_memstream(&buf, &len);
    while ((c = getc(f)) != EOF)
        putc(c, out);
    fclose(out);
    fclose(f);
    return buf;
}

/* Prints the first differing line of two texts as TAP comments. */
static void show_difference(const char *got, const char *want)
{
    int line = 1;

    while (*got && *want) {
        size_t g = strcspn(got, "\n"), w = strcspn(want, "\n");

        if (g != w || strncmp(got, want, g)) {
            printf("#   line %d\n#   got:  %.*s\n#   want: %.*s\n", line, (int)g, got,
                   (int)w, want);
            return;
        }
        got += g + (got[g] == '\n');
        want += w + (want[w] == '\n');
        line++;
    }
    printf("#   line %d: %s ends first\n", line, *got ? "the golden file" : "the output");
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void golden_one(const char *name, int regenerate)
{
    char cfgpath[512], argvpath[512], log[256], *taps[16] = { 0 };
    struct domain_desc dom;
    struct cfg *cfg = NULL;
    struct dm_params p;
    struct diag d;
    char *got = NULL, *want = NULL;
    int r;

    snprintf(cfgpath, sizeof(cfgpath), "%s/%s.cfg", GOLDEN_DIR, name);
    snprintf(argvpath, sizeof(argvpath), "%s/%s.argv", GOLDEN_DIR, name);
    diag_init(&d);
    domain_init(&dom);
    r = cfg_read_file(cfgpath, &cfg, &d);
    if (r == 0)
        r = domain_from_cfg(cfg, &dom, &d);
    if (!ok(r == 0, "%s: config reads", cfgpath)) {
        diag_print(&d, stdout, "#");
        goto out;
    }
    test_params(&dom, &p, taps, sizeof(taps) / sizeof(taps[0]), log, sizeof(log));
    got = render(&dom, &p);
    if (regenerate) {
        FILE *f = fopen(argvpath, "w");

        ok(f && fputs(got, f) >= 0 && fclose(f) == 0, "%s: regenerated", argvpath);
        goto out;
    }
    want = read_all(argvpath);
    if (!ok(want && got && !strcmp(got, want), "%s: argv and plan as in %s", name, argvpath)) {
        if (!want)
            printf("#   cannot read %s (VMKIT_REGENERATE=1 writes it)\n", argvpath);
        else if (got)
            show_difference(got, want);
    }
out:
    for (size_t i = 0; i < sizeof(taps) / sizeof(taps[0]); i++)
        free(taps[i]);
    free(got);
    free(want);
    cfg_free(cfg);
    domain_dispose(&dom);
    diag_dispose(&d);
}

static void test_golden(void)
{
    const char *regen = getenv("VMKIT_REGENERATE");
    int regenerate = regen && !strcmp(regen, "1");
    DIR *dir = opendir(GOLDEN_DIR);
    struct dirent *e;
    char *names[256];
    size_t n = 0;

    if (!ok(dir != NULL, "open %s (run from the top of the tree)", GOLDEN_DIR))
        return;
    if (regenerate)
        printf("# VMKIT_REGENERATE=1: rewriting the golden files in %s\n", GOLDEN_DIR);
    while ((e = readdir(dir)) && n < sizeof(names) / sizeof(names[0])) {
        size_t len = strlen(e->d_name);

        if (len > 4 && !strcmp(e->d_name + len - 4, ".cfg"))
            names[n++] = strndup(e->d_name, len - 4);
    }
    closedir(dir);
    qsort(names, n, sizeof(names[0]), by_name);
    ok(n >= 10, "%zu golden cases (at least 10)", n);
    for (size_t i = 0; i < n; i++) {
        golden_one(names[i], regenerate);
        free(names[i]);
    }
}

/* ---- root= rewriting ---- */

static void check_root(const char *cfgtext, const char *cmdline, const char *want,
                       int want_warning, const char *what)
{
    struct domain_desc dom;
    struct diag d;
    char *got;

    diag_init(&d);
    if (load(cfgtext, &dom)) {
        ok(0, "%s: config loads", what);
        return;
    }
    got = dm_rewrite_root(&dom, cmdline, &d);
    is_str(got, want, "%s", what);
    is_int(d.n != 0, want_warning, "%s: %s", what, want_warning ? "warns" : "no warning");
    free(got);
    domain_dispose(&dom);
    diag_dispose(&d);
}

#define XEN_TOOLS "name = \"a\"\ndisk = [ 'file:/d.img,xvda2,w', 'file:/s.img,xvda1,w' ]\n"
#define WHOLE "name = \"a\"\ndisk = [ 'phy:/dev/vg/a,xvda,w', 'phy:/dev/vg/b,xvdb,w' ]\n"

static void test_rewrite_root(void)
{
    char cfg[4096];
    size_t n = 0;

    check_root(XEN_TOOLS, "root=/dev/xvda2 ro", "root=/dev/vda ro", 0,
               "a partition vdev is the whole virtio disk (xen-tools' xvda2)");
    check_root(XEN_TOOLS, "root=/dev/xvda1 ro", "root=/dev/vdb ro", 0,
               "the second disk is vdb, whatever its vdev");
    check_root(WHOLE, "root=/dev/xvda1 ro", "root=/dev/vda1 ro", 0,
               "a whole-disk vdev keeps the partition number");
    check_root(WHOLE, "root=/dev/xvdb3", "root=/dev/vdb3", 0,
               "partition of the second whole disk");
    check_root(WHOLE, "root=/dev/xvda", "root=/dev/vda", 0, "a whole disk as root");
    check_root("name = \"a\"\ndisk = [ '/a,raw,xvda,w', '/b,raw,xvda1,w' ]\n",
               "root=/dev/xvda1", "root=/dev/vdb", 0,
               "a vdev given exactly wins over a whole disk holding it");
    check_root("name = \"a\"\ntype = \"pvh\"\ndisk = [ '/i.iso,raw,xvdc:cdrom,r',"
               " '/d.img,raw,xvdb,w' ]\n",
               "root=/dev/xvdb1", "root=/dev/vda1", 0, "cdroms take no virtio letter");
    check_root("name = \"a\"\ndisk = [ '/d.img,raw,hda,w', '/e.img,raw,sdb,w' ]\n",
               "root=/dev/hda1 resume=/dev/sdb", "root=/dev/vda1 resume=/dev/sdb", 0,
               "hd names; only root= is rewritten");
    check_root("name = \"a\"\ndisk = [ '/d.img,raw,sdb,w' ]\n", "root=/dev/sdb2",
               "root=/dev/vda2", 0, "sd names");
    check_root(WHOLE, "root=UUID=2c1b6a4e-9d3f-4b8a-a1e2-7f6d5c4b3a21 ro",
               "root=UUID=2c1b6a4e-9d3f-4b8a-a1e2-7f6d5c4b3a21 ro", 0, "root=UUID= untouched");
    check_root(WHOLE, "root=LABEL=root ro", "root=LABEL=root ro", 0, "root=LABEL= untouched");
    check_root(WHOLE, "root=PARTUUID=0a1b2c3d-01", "root=PARTUUID=0a1b2c3d-01", 0,
               "root=PARTUUID= untouched");
    check_root(WHOLE, "root=/dev/vda1 root=/dev/mapper/vg-root",
               "root=/dev/vda1 root=/dev/mapper/vg-root", 0, "non-Xen devices untouched");
    check_root(WHOLE, "root=/dev/xvdc1 ro", "root=/dev/xvdc1 ro", 1,
               "a Xen device no disk provides: left, with a warning");
    check_root(XEN_TOOLS, "root=/dev/xvda3", "root=/dev/xvda3", 1,
               "a partition of a partition vdev does not exist: left, with a warning");
    check_root(WHOLE, "  root=/dev/xvda1   ro\tquiet ", "  root=/dev/vda1   ro\tquiet ", 0,
               "blanks are kept as they were");
    check_root(WHOLE, "ro root=/dev/xvda2 -- root=/dev/xvda1",
               "ro root=/dev/vda2 -- root=/dev/xvda1", 0, "arguments after -- are init's");
    check_root(WHOLE, "x=\"a root=/dev/xvda1\" root=/dev/xvdb",
               "x=\"a root=/dev/xvda1\" root=/dev/vdb", 0, "quoted words are one word");
    check_root(WHOLE, "root=/dev/xvda1 root=/dev/xvdb1", "root=/dev/vda1 root=/dev/vdb1", 0,
               "every root= is rewritten");
    check_root(WHOLE, "", "", 0, "an empty command line");
    check_root("name = \"a\"\ntype = \"hvm\"\ndisk = [ '/d.img,raw,xvda,w' ]\n",
               "root=/dev/xvda1", "root=/dev/xvda1", 0, "hvm command lines are left alone");

    /* the 27th virtio disk is vdaa, as Linux names it */
    n += (size_t)snprintf(cfg + n, sizeof(cfg) - n, "name = \"a\"\ndisk = [");
    for (int i = 0; i < 27; i++) {
        char vdev[8];

        if (i < 26)
            snprintf(vdev, sizeof(vdev), "xvd%c", 'a' + i);
        else
            snprintf(vdev, sizeof(vdev), "xvda%c", 'a' + i - 26);
        n += (size_t)snprintf(cfg + n, sizeof(cfg) - n, "'/d%d,raw,%s,w',", i, vdev);
    }
    snprintf(cfg + n, sizeof(cfg) - n, "]\n");
    check_root(cfg, "root=/dev/xvdaa1", "root=/dev/vdaa1", 0, "disk 27 is vdaa");
    check_root(cfg, "root=/dev/xvdz", "root=/dev/vdz", 0, "disk 26 is vdz");
}

/* ---- the builder's decisions and errors ---- */

struct run {
    int r;
    char **argv;
    struct dm_plan plan;
    struct diag d;
};

static void run_dm(const struct domain_desc *dom, const struct dm_params *p, struct run *run)
{
    dm_plan_init(&run->plan);
    diag_init(&run->d);
    run->argv = NULL;
    run->r = dm_build_argv(dom, p, &run->argv, &run->plan, &run->d);
}

static void run_dispose(struct run *run)
{
    dm_argv_free(run->argv);
    dm_plan_dispose(&run->plan);
    diag_dispose(&run->d);
}

static int has_arg(char **argv, const char *want)
{
    for (char **a = argv; a && *a; a++)
        if (!strcmp(*a, want))
            return 1;
    return 0;
}

static int has_arg_part(char **argv, const char *part)
{
    for (char **a = argv; a && *a; a++)
        if (strstr(*a, part))
            return 1;
    return 0;
}

static const char *const no_taps[8];
static const char *const taps[] = { "vif7.0", "vif7.1" };

static void base_params(struct dm_params *p)
{
    dm_params_init(p);
    p->qemu = "qemu-system-x86_64";
    p->rundir = "/run/vmkit/domains/7";
    p->console_log = "/var/log/vmkit/a-console.log";
    p->tap_names = taps;
}

#define PV "name = \"a\"\ntype = \"pvh\"\nkernel = \"/k\"\nroot = \"/dev/xvda1\"\n"

/* Loads text, builds with p adjusted by the statement `tweak', checks
 * `expr' with the run in `run' and the description in `dom'. */
#define CHECK(text, tweak, expr, ...) do {                          \
        struct domain_desc dom;                                     \
        struct dm_params p;                                         \
        struct run run;                                             \
        base_params(&p);                                            \
        if (load((text), &dom)) {                                   \
            ok(0, __VA_ARGS__);                                     \
            break;                                                  \
        }                                                           \
        tweak;                                                      \
        run_dm(&dom, &p, &run);                                     \
        if (!ok((expr), __VA_ARGS__))                               \
            diag_print(&run.d, stdout, "#  ");                      \
        run_dispose(&run);                                          \
        domain_dispose(&dom);                                       \
    } while (0)

static void test_errors(void)
{
    CHECK(PV "disk = [ '/d,raw,xvda,w' ]\nvif = [ 'bridge=br0' ]\n", (void)0,
          run.r == -EINVAL && has_msg(&run.d, DIAG_ERROR, "guest `a': vif 0 has no mac") &&
          !run.argv && !run.plan.machine,
          "a vif without a mac is an error naming the guest and the vif; nothing returned");
    CHECK(PV "vif = [ 'mac=00:16:3e:00:00:01' ]\n", p.tap_names = no_taps,
          run.r == -EINVAL && has_msg(&run.d, DIAG_ERROR, "vif 0: no tap device"),
          "a tap vif needs its tap device");
    CHECK(PV "vif = [ 'mac=00:16:3e:00:00:01,netdev=user' ]\n", p.tap_names = NULL,
          run.r == 0 && has_arg(run.argv, "user,id=net0"),
          "a netdev=user vif needs no tap");
    CHECK(PV "disk = [ 'format=empty,vdev=xvda,target=/d' ]\n", (void)0,
          run.r == -EINVAL &&
          has_msg(&run.d, DIAG_ERROR, "disk xvda: format empty cannot be opened"),
          "format empty on a disk is an error");
    CHECK(PV "disk = [ '/d,raw,xvda,w' ]\n", dom.disks[0].format = DISK_FORMAT_UNKNOWN,
          run.r == -EINVAL && has_msg(&run.d, DIAG_ERROR, "cannot be opened"),
          "an unknown format is never probed: an error");
    CHECK(PV "disk = [ 'vdev=xvda,script=block-iscsi,target=iqn.2001-04.com.example:disk' ]\n",
          (void)0, run.r == -EINVAL && has_msg(&run.d, DIAG_ERROR, "block scripts"),
          "a block script is an error");
    CHECK(PV, dom.vcpus = 4; dom.maxvcpus = 2,
          run.r == -EINVAL && has_msg(&run.d, DIAG_ERROR, "vcpus (4) is more than maxvcpus (2)"),
          "more vcpus than maxvcpus is an error");
    CHECK(PV, p.accel = ACCEL_AUTO,
          run.r == -EINVAL && has_msg(&run.d, DIAG_ERROR, "accelerator must be decided"),
          "the accelerator must be decided before");
    CHECK("name = \"a\"\ntype = \"pvh\"\ndisk = [ '/d,raw,xvda,w' ]\n", (void)0,
          run.r == -EINVAL && has_msg(&run.d, DIAG_ERROR, "no kernel: pvh guests"),
          "a pvh guest without a kernel is an error");
    CHECK("name = \"a\"\ndisk = [ '/d,raw,xvda,w' ]\n", (void)0,
          run.r == -EINVAL && has_msg(&run.d, DIAG_ERROR, "no kernel: pv guests"),
          "a pv guest without a kernel is an error");
    CHECK("name = \"a\"\nbootloader = \"pygrub\"\ndisk = [ '/d,raw,xvda,w' ]\n", (void)0,
          run.r == -EINVAL && has_msg(&run.d, DIAG_ERROR, "the bootloader must run"),
          "a bootloader guest needs the bootloader's kernel");
    CHECK("name = \"a\"\nbootloader = \"pygrub\"\nramdisk = \"/old\"\n",
          p.kernel = "/boot/k"; p.cmdline = "root=/dev/xvda1",
          run.r == 0 && has_arg(run.argv, "/boot/k") && !has_arg(run.argv, "-initrd") &&
          !strcmp(run.plan.cmdline, "root=/dev/xvda1 console=hvc0"),
          "params' kernel, ramdisk (none) and cmdline replace the config's");
    CHECK("name = \"a\"\nkernel = \"/usr/lib/grub-xen/grub-x86_64-xen.bin\"\n", (void)0,
          run.r == -EINVAL && has_msg(&run.d, DIAG_ERROR, "is PV-GRUB"),
          "a PV-GRUB kernel needs vmkit's bootloader first");
    CHECK("name = \"a\"\ntype = \"hvm\"\ndisk = [ '/d,raw,hda,w' ]\nboot = \"d\"\n", (void)0,
          run.r == -EINVAL && has_msg(&run.d, DIAG_ERROR, "nothing to boot"),
          "hvm: boot = d without a cdrom is an error");
    CHECK("name = \"a\"\ntype = \"hvm\"\ndisk = [ ',,hdc:cdrom,r' ]\nboot = \"dc\"\n", (void)0,
          run.r == -EINVAL && has_msg(&run.d, DIAG_ERROR, "nothing to boot"),
          "hvm: an empty cdrom is not bootable");
    CHECK("name = \"a\"\ntype = \"hvm\"\nboot = \"n\"\nvif = [ 'mac=00:16:3e:00:00:01' ]\n",
          (void)0, run.r == 0 && has_arg(run.argv, "order=n"), "hvm: network boot is bootable");
    CHECK("name = \"a\"\ntype = \"hvm\"\ndisk = [ '/d,raw,hda,r' ]\n", (void)0,
          run.r == -EINVAL && has_msg(&run.d, DIAG_ERROR, "cannot be read-only"),
          "hvm: a read-only IDE disk is an error (QEMU refuses it)");
    CHECK("name = \"a\"\ntype = \"hvm\"\ndisk = [ '/1,raw,hda,w', '/2,raw,hdb,w', '/3,raw,hdc,w',"
          " '/4,raw,hdd,w', '/5,raw,hde,w', '/6,raw,hdf,w', '/7,raw,hdg,w' ]\n", (void)0,
          run.r == -EINVAL && has_msg(&run.d, DIAG_ERROR, "more than the 6 AHCI ports"),
          "hvm: more than six IDE devices is an error");
    CHECK("name = \"a\"\ntype = \"hvm\"\ndisk = [ '/d,raw,hda,w' ]\n"
          "vif = [ 'mac=00:16:3e:00:00:01,model=ne2k_pci' ]\n", (void)0,
          run.r == -EINVAL && has_msg(&run.d, DIAG_ERROR, "vif 0: model `ne2k_pci'"),
          "hvm: an unknown NIC model is an error");
    CHECK(PV "disk = [ '/d,raw,xvda,w' ]\nvif = [ 'bridge=br0' ]\n",
          dom.vcpus = 9; dom.maxvcpus = 2,
          run.r == -EINVAL && run.d.nerrors == 2, "every error is recorded, not only the first");
}

static void test_decisions(void)
{
    CHECK(PV "disk = [ '/d,raw,xvda,w' ]\n", p.qmp_fd = 5; p.vmctl_qmp_fd = 6,
          run.r == 0 && has_arg(run.argv, "socket,id=qmp,fd=5,server=on,wait=off") &&
          has_arg(run.argv, "socket,id=qmp-vmctl,fd=6,server=on,wait=off") &&
          !has_arg_part(run.argv, "qmp.sock"),
          "listening sockets handed over by fd");
    CHECK(PV "disk = [ '/d,raw,xvda,w' ]\n", p.accel = ACCEL_KVM,
          run.r == 0 && has_arg(run.argv, "kvm") && has_arg(run.argv, "host") &&
          has_arg_part(run.argv, "pit=off,pic=off"),
          "kvm: -cpu host, no PIT or PIC on microvm");
    CHECK(PV "disk = [ '/d,raw,xvda,w' ]\n", (void)0,
          run.r == 0 && has_arg(run.argv, "tcg") && has_arg(run.argv, "max") &&
          has_arg_part(run.argv, "pit=on,pic=on") && !strcmp(run.plan.machine, "microvm"),
          "tcg: -cpu max, PIT and PIC kept (no TSC deadline timer)");
    CHECK("name = \"a,b\"\ntype = \"pvh\"\nkernel = \"/k\"\n", p.rundir = "/run/x,y",
          run.r == 0 && has_arg(run.argv, "guest=a,,b,debug-threads=on") &&
          has_arg(run.argv, "socket,id=qmp,path=/run/x,,y/qmp.sock,server=on,wait=off"),
          "commas in option values are doubled");
    CHECK(PV "disk = [ '/d,raw,xvda,w' ]\n", p.host_cpus = 1; dom.vcpus = dom.maxvcpus = 2,
          run.r == 0 && has_msg(&run.d, DIAG_WARNING, "overcommitted"),
          "more vcpus than host CPUs warns");
    CHECK(PV "extra = \"console=ttyS0\"\n", (void)0,
          run.r == 0 && !strcmp(run.plan.cmdline, "root=/dev/xvda1 console=ttyS0") &&
          has_msg(&run.d, DIAG_WARNING, "names no configured disk"),
          "a command line naming a console keeps it");
    CHECK("name = \"a\"\ntype = \"pvh\"\nkernel = \"/k\"\nextra = \"quiet -- single\"\n",
          p.tsc_khz = 2596142,
          run.r == 0 && !strcmp(run.plan.cmdline,
                                "quiet console=hvc0 tsc_early_khz=2596142 -- single"),
          "tcg: the host's TSC rate goes to the kernel, before init's arguments");
    CHECK("name = \"a\"\ntype = \"pvh\"\nkernel = \"/k\"\nextra = \"tsc_early_khz=1000\"\n",
          p.tsc_khz = 2596142,
          run.r == 0 && !strcmp(run.plan.cmdline, "tsc_early_khz=1000 console=hvc0"),
          "tcg: a tsc_early_khz the config gives is kept");
    CHECK("name = \"a\"\ntype = \"pvh\"\nkernel = \"/k\"\n",
          p.tsc_khz = 2596142; p.accel = ACCEL_KVM,
          run.r == 0 && !strcmp(run.plan.cmdline, "console=hvc0"),
          "kvm: no TSC rate (KVM's guests have kvmclock)");
    CHECK("name = \"a\"\ntype = \"pvh\"\nkernel = \"/k\"\n", (void)0,
          run.r == 0 && !strcmp(run.plan.cmdline, "console=hvc0") &&
          has_arg(run.argv, "-append") && !run.plan.cmdline_configured,
          "no command line: console=hvc0 alone");
    CHECK("name = \"a\"\ntype = \"hvm\"\ndisk = [ '/d,raw,hda,w' ]\nserial = [ 'pty', 'file:/x' ]\n"
          "usbdevice = [ 'tablet', 'host:1234:5678' ]\nsdl = 1\nvnc = 0\n", (void)0,
          run.r == 0 && has_msg(&run.d, DIAG_WARNING, "serial `file:/x' is not supported") &&
          has_msg(&run.d, DIAG_WARNING, "usbdevice `host:1234:5678'") &&
          has_msg(&run.d, DIAG_WARNING, "sdl is not supported") &&
          !has_arg(run.argv, "-vnc") && has_arg(run.argv, "usb-tablet,id=input0") &&
          !strcmp(run.plan.console, "ttyS0"),
          "hvm: unsupported serial, usbdevice and sdl warn; vnc = 0 means none");
    CHECK("name = \"a\"\ntype = \"hvm\"\ndisk = [ '/d,raw,hda,w' ]\n", (void)0,
          run.r == 0 && has_arg(run.argv, "127.0.0.1:0,to=99") && !run.plan.console &&
          has_arg(run.argv, "order=cd") && has_arg(run.argv, "cirrus"),
          "hvm defaults as xl: VNC on localhost (first free display), boot cd, cirrus, no serial");
    CHECK("name = \"a\"\ntype = \"hvm\"\ndisk = [ '/d,raw,hda,w' ]\nvnclisten = \"0.0.0.0:5\"\n",
          (void)0, run.r == 0 && has_arg(run.argv, "0.0.0.0:5,to=99"),
          "hvm: vnclisten HOST:DISPLAY used as it is");
    CHECK("name = \"a\"\ntype = \"hvm\"\ndisk = [ '/d,raw,hda,w' ]\n"
          "vif = [ 'mac=00:16:3e:00:00:01,model=rtl8139', 'mac=00:16:3e:00:00:02,type=vif' ]\n",
          (void)0, run.r == 0 && has_arg_part(run.argv, "rtl8139,netdev=net0") &&
          has_arg_part(run.argv, "virtio-net-pci,netdev=net1"),
          "hvm: the vif's model; type=vif (PV only in Xen) is virtio-net");
    CHECK("name = \"a\"\ntype = \"hvm\"\nkernel = \"/k\"\nroot = \"/dev/sda1\"\n", (void)0,
          run.r == 0 && has_arg(run.argv, "/k") && !strcmp(run.plan.cmdline, "root=/dev/sda1"),
          "hvm: direct kernel boot as given, nothing rewritten");
    CHECK(PV "disk = [ '/d,raw,xvda,w' ]\n", dom.maxmem = 1024; dom.memory = 256,
          run.r == 0 && has_arg(run.argv, "1024M") && run.plan.balloon_target_mib == 256 &&
          has_arg(run.argv, "virtio-balloon-device,id=balloon0"),
          "maxmem above memory: -m maxmem and a balloon with memory as target");
    CHECK(PV "disk = [ '/d,raw,xvda,w' ]\n",
          p.kernel_version = "3.10.0-1160.el7.x86_64 (mockbuild@kbuilder) #1 SMP",
          run.r == 0 && !strcmp(run.plan.machine, "q35") &&
          strstr(run.plan.machine_reason, "kernel 3.10, older than 4.2") &&
          has_arg_part(run.argv, "virtio-blk-pci"),
          "an el7 kernel (3.10) runs on q35: it finds no virtio-mmio device");
    CHECK(PV "disk = [ '/d,raw,xvda,w' ]\n", p.kernel_version = "4.18.0-553.el8_10.x86_64",
          run.r == 0 && !strcmp(run.plan.machine, "microvm"),
          "an el8 kernel (4.18) runs on microvm");
    CHECK(PV "disk = [ '/d,raw,xvda,w' ]\n", p.kernel_version = "garbage",
          run.r == 0 && !strcmp(run.plan.machine, "microvm"),
          "a version that does not parse changes nothing");
}

/* kernelhdr: the version from a boot header, made here and real */
static void test_kernelhdr(void)
{
    char path[] = "/tmp/test-dm-kernel.XXXXXX", buf[64];
    unsigned char img[0x400] = { 0 };
    int fd = mkstemp(path), major = 0, minor = 0;
    const char *ver = "3.10.0-1160.el7.x86_64 (mockbuild@x) #1 SMP";

    memcpy(img + 0x202, "HdrS", 4);
    img[0x206] = 0x0d;      /* protocol 2.13 */
    img[0x207] = 0x02;
    img[0x20e] = 0x00;      /* the string at 0x100 + 0x200 */
    img[0x20f] = 0x01;
    memcpy(img + 0x300, ver, strlen(ver) + 1);
    if (fd < 0 || write(fd, img, sizeof img) != (ssize_t)sizeof img)
        printf("# cannot write %s\n", path);
    is_int(kernelhdr_version(path, buf, sizeof buf), 0, "kernelhdr: a made-up bzImage");
    is_str(buf, ver, "kernelhdr: its version string");
    is_int(kernelhdr_major_minor(buf, &major, &minor), 0, "kernelhdr: major.minor parses");
    ok(major == 3 && minor == 10, "kernelhdr: 3.10");
    img[0x202] = 'X';
    if (pwrite(fd, img, sizeof img, 0) != (ssize_t)sizeof img)
        printf("# cannot rewrite %s\n", path);
    is_int(kernelhdr_version(path, buf, sizeof buf), -ENOEXEC, "kernelhdr: no HdrS: -ENOEXEC");
    img[0x202] = 'H';
    memset(img + 0x300, 'x', 0x100);    /* no NUL within reach */
    if (pwrite(fd, img, sizeof img, 0) != (ssize_t)sizeof img)
        printf("# cannot rewrite %s\n", path);
    is_int(kernelhdr_version(path, buf, sizeof buf), -ENOEXEC,
           "kernelhdr: an unterminated string: -ENOEXEC");
    is_int(kernelhdr_version("/nonexistent/vmlinuz", buf, sizeof buf), -ENOENT,
           "kernelhdr: no file: -ENOENT");
    is_int(kernelhdr_major_minor("v3.10", &major, &minor), -EINVAL,
           "kernelhdr: a version not starting with digits");
    if (fd >= 0)
        close(fd);
    unlink(path);
    if (access("build/fixture/vmlinuz", R_OK) == 0) {
        ok(kernelhdr_version("build/fixture/vmlinuz", buf, sizeof buf) == 0 &&
           kernelhdr_major_minor(buf, &major, &minor) == 0 && major >= 5,
           "kernelhdr: the test fixture's Debian kernel says %s", buf);
    }
}

int main(void)
{
    test_golden();
    test_rewrite_root();
    test_errors();
    test_decisions();
    test_kernelhdr();
    return tap_done();
}
