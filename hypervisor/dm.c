/*
 * dm.c - the QEMU device model command line, a pure function of the
 * domain description and the runtime's parameters (see dm.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm.h"
#include "kernelhdr.h"

/* ---- a growing vector of strings ---- */

struct strv {
    char **v;
    size_t n, cap;
};

/* Appends s (taken over: freed on failure).  0 or -ENOMEM. */
static int strv_push(struct strv *sv, char *s)
{
    if (!s)
        return -ENOMEM;
    if (sv->n + 2 > sv->cap) {
        size_t cap = sv->cap ? sv->cap * 2 : 32;
        char **v = realloc(sv->v, cap * sizeof(*v));

        if (!v) {
            free(s);
            return -ENOMEM;
        }
        sv->v = v;
        sv->cap = cap;
    }
    sv->v[sv->n++] = s;
    sv->v[sv->n] = NULL;
    return 0;
}

static void strv_free(struct strv *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    memset(sv, 0, sizeof(*sv));
}

/* ---- the builder's state ---- */

struct build {
    const struct domain_desc *dom;
    const struct dm_params *p;
    struct diag *d;
    struct dm_plan *plan;
    struct strv argv;
    struct strv tmp;        /* escaped copies, freed at the end */
    int nomem;
    int bad;
    bool pvh;               /* pv or pvh: direct boot, virtio */
    bool microvm;
    bool balloon;
    size_t ndisks, ncdroms; /* dom's disks: not cdrom, cdrom */
};

__attribute__((format(printf, 4, 0)))
static void vnote(struct diag *d, enum diag_level level, const char *guest,
                  const char *fmt, va_list ap)
{
    char *msg = NULL;

    if (vasprintf(&msg, fmt, ap) < 0) {
        d->oom = 1;
        d->nerrors++;
        return;
    }
    diag_add(d, level, NULL, 0, 0, "guest `%s': %s", guest ? guest : "?", msg);
    free(msg);
}

__attribute__((format(printf, 2, 3)))
static void fail(struct build *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vnote(b->d, DIAG_ERROR, b->dom->name, fmt, ap);
    va_end(ap);
    b->bad = 1;
}

__attribute__((format(printf, 2, 3)))
static void warn(struct build *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vnote(b->d, DIAG_WARNING, b->dom->name, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 2, 3)))
static void addf(struct build *b, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;

    if (b->nomem)
        return;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (strv_push(&b->argv, s))
        b->nomem = 1;
}

static void add(struct build *b, const char *s)
{
    addf(b, "%s", s);
}

/* s as a value inside a QEMU option string: `,' doubled.  The copy is
 * kept until the build ends; "" when out of memory (b->nomem set). */
static const char *esc(struct build *b, const char *s)
{
    size_t n = 0;
    char *out, *o;

    for (const char *p = s; *p; p++)
        n += *p == ',' ? 2 : 1;
    out = malloc(n + 1);
    if (!out || strv_push(&b->tmp, out)) {
        b->nomem = 1;
        return "";
    }
    for (o = out; *s; s++) {
        *o++ = *s;
        if (*s == ',')
            *o++ = ',';
    }
    *o = '\0';
    return out;
}

/* ---- Xen device names ---- */

/* A Xen disk name: xvd, hd or sd, one to four letters, an optional
 * partition number (0: the whole disk). */
struct xdev {
    const char *prefix;
    const char *letters;
    size_t nletters;
    long part;
};

/* Parses s (len bytes, an optional "/dev/" first).  0 or -1. */
static int xdev_parse(const char *s, size_t len, struct xdev *x)
{
    static const char *const prefixes[] = { "xvd", "hd", "sd" };
    size_t i, plen = 0;

    if (len >= 5 && !strncmp(s, "/dev/", 5)) {
        s += 5;
        len -= 5;
    }
    x->prefix = NULL;
    for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        plen = strlen(prefixes[i]);
        if (len > plen && !strncmp(s, prefixes[i], plen)) {
            x->prefix = prefixes[i];
            break;
        }
    }
    if (!x->prefix)
        return -1;
    s += plen;
    len -= plen;
    for (i = 0; i < len && s[i] >= 'a' && s[i] <= 'z'; i++)
        ;
    if (i == 0 || i > 4)
        return -1;
    x->letters = s;
    x->nletters = i;
    x->part = 0;
    s += i;
    len -= i;
    if (len == 0)
        return 0;
    if (len > 3 || *s == '0')
        return -1;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        x->part = x->part * 10 + (s[i] - '0');
    }
    return 0;
}

static bool xdev_same_disk(const struct xdev *a, const struct xdev *b)
{
    return a->prefix == b->prefix && a->nletters == b->nletters &&
           !strncmp(a->letters, b->letters, a->nletters);
}

/* Linux's disk letters for index k: a..z, aa..zz, ... */
static void disk_letters(size_t k, char out[8])
{
    char buf[8];
    size_t n = 0;

    for (k++; k && n < sizeof(buf) - 1; k /= 26) {
        k--;
        buf[n++] = (char)('a' + k % 26);
    }
    for (size_t i = 0; i < n; i++)
        out[i] = buf[n - 1 - i];
    out[n] = '\0';
}

/* The virtio index of disk i (disks before it that are not cdroms). */
static size_t virtio_index(const struct domain_desc *dom, size_t i)
{
    size_t k = 0;

    for (size_t j = 0; j < i; j++)
        k += !dom->disks[j].cdrom;
    return k;
}

/* The index of cdrom i among the cdroms. */
static size_t cdrom_index(const struct domain_desc *dom, size_t i)
{
    size_t k = 0;

    for (size_t j = 0; j < i; j++)
        k += dom->disks[j].cdrom;
    return k;
}

/*
 * The disk a root device names: the virtio index of the disk whose vdev
 * is the root exactly, else of a whole-disk vdev holding the root as a
 * partition (*keep_part set).  -1 when none.
 */
static long find_root_disk(const struct domain_desc *dom, const struct xdev *root,
                           bool *keep_part)
{
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < dom->ndisks; i++) {
            const struct disk_spec *k = &dom->disks[i];
            struct xdev v;

            if (k->cdrom || !k->vdev || xdev_parse(k->vdev, strlen(k->vdev), &v))
                continue;
            if (!xdev_same_disk(&v, root))
                continue;
            if (pass == 0 && v.part == root->part) {
                *keep_part = false;
                return (long)virtio_index(dom, i);
            }
            if (pass == 1 && v.part == 0 && root->part > 0) {
                *keep_part = true;
                return (long)virtio_index(dom, i);
            }
        }
    }
    return -1;
}

/* The length of the command-line word at p (quotes keep blanks inside). */
static size_t word_len(const char *p)
{
    size_t i;
    int quoted = 0;

    for (i = 0; p[i]; i++) {
        if (p[i] == '"')
            quoted = !quoted;
        else if (!quoted && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n'))
            break;
    }
    return i;
}

static size_t blanks_len(const char *p)
{
    return strspn(p, " \t\n");
}

static void rewrite_one_root(const struct domain_desc *dom, const char *v, size_t n,
                             FILE *out, struct diag *d)
{
    struct xdev root;
    bool keep_part = false;
    char letters[8];
    long k;

    if (n < 5 || strncmp(v, "/dev/", 5) || xdev_parse(v, n, &root)) {
        fprintf(out, "root=%.*s", (int)n, v);
        return;
    }
    k = find_root_disk(dom, &root, &keep_part);
    if (k < 0) {
        diag_warn(d, NULL, 0, 0, "guest `%s': root=%.*s names no configured disk;"
                  " left unchanged", dom->name ? dom->name : "?", (int)n, v);
        fprintf(out, "root=%.*s", (int)n, v);
        return;
    }
    disk_letters((size_t)k, letters);
    if (keep_part)
        fprintf(out, "root=/dev/vd%s%ld", letters, root.part);
    else
        fprintf(out, "root=/dev/vd%s", letters);
}

char *dm_rewrite_root(const struct domain_desc *dom, const char *cmdline,
                      struct diag *d)
{
    char *buf = NULL;
    size_t len = 0;
    const char *p = cmdline;
    FILE *out;

    if (dom->type == DOMAIN_HVM)
        return strdup(cmdline);
    out = open_memstream(&buf, &len);
    if (!out)
        return NULL;
    while (*p) {
        size_t n = blanks_len(p);

        fwrite(p, 1, n, out);
        p += n;
        n = word_len(p);
        if (n == 0)
            break;
        if (n == 2 && !strncmp(p, "--", 2)) {   /* the rest is init's */
            fputs(p, out);
            break;
        }
        if (n > 5 && !strncmp(p, "root=", 5))
            rewrite_one_root(dom, p + 5, n - 5, out, d);
        else
            fwrite(p, 1, n, out);
        p += n;
    }
    if (fclose(out) != 0) {
        free(buf);
        errno = ENOMEM;
        return NULL;
    }
    return buf;
}

/* cmdline with console=hvc0 added (before a `--') when it names no
 * console.  A new string, or NULL on ENOMEM. */
/*
 * cmdline with param ("console=hvc0") added before a `--' (what follows
 * is init's), unless a parameter named as param's name (up to and with
 * its `=') is there already.  A new string, or NULL (ENOMEM).
 */
static char *add_param(const char *cmdline, const char *param)
{
    const char *p = cmdline, *dashes = NULL, *eq = strchr(param, '=');
    size_t key = eq ? (size_t)(eq - param) + 1 : strlen(param);
    char *s = NULL;
    size_t n;

    while (*p) {
        p += blanks_len(p);
        n = word_len(p);
        if (n == 0)
            break;
        if (n == 2 && !strncmp(p, "--", 2)) {
            dashes = p;
            break;
        }
        if (n >= key && !strncmp(p, param, key))
            return strdup(cmdline);
        p += n;
    }
    if (dashes) {
        if (asprintf(&s, "%.*s%s %s", (int)(dashes - cmdline), cmdline, param, dashes) < 0)
            return NULL;
        return s;
    }
    n = strlen(cmdline);
    while (n && (cmdline[n - 1] == ' ' || cmdline[n - 1] == '\t'))
        n--;
    if (asprintf(&s, "%.*s%s%s", (int)n, cmdline, n ? " " : "", param) < 0)
        return NULL;
    return s;
}

/* ---- plan ---- */

void dm_params_init(struct dm_params *p)
{
    memset(p, 0, sizeof(*p));
    p->accel = ACCEL_TCG;
    p->qmp_fd = -1;
    p->vmctl_qmp_fd = -1;
}

void dm_plan_init(struct dm_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
}

void dm_plan_dispose(struct dm_plan *plan)
{
    free(plan->machine_reason);
    free(plan->cmdline);
    free(plan->cmdline_configured);
    for (size_t i = 0; i < plan->nvdev; i++)
        free(plan->vdev_map[i]);
    free(plan->vdev_map);
    dm_plan_init(plan);
}

char *dm_plan_format(const struct dm_plan *plan)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);

    if (!out)
        return NULL;
    fprintf(out, "machine: %s (%s)\n", plan->machine ? plan->machine : "?",
            plan->machine_reason ? plan->machine_reason : "?");
    fprintf(out, "console: %s\n", plan->console ? plan->console : "none");
    if (plan->cmdline)
        fprintf(out, "cmdline: %s\n", plan->cmdline);
    if (plan->cmdline_configured)
        fprintf(out, "cmdline as configured: %s\n", plan->cmdline_configured);
    for (size_t i = 0; i < plan->nvdev; i++)
        fprintf(out, "disk: %s\n", plan->vdev_map[i]);
    if (plan->balloon_target_mib)
        fprintf(out, "balloon target: %ld MiB\n", plan->balloon_target_mib);
    if (plan->vnc_password)
        fprintf(out, "vnc password: set over QMP before cont\n");
    if (fclose(out) != 0) {
        free(buf);
        errno = ENOMEM;
        return NULL;
    }
    return buf;
}

__attribute__((format(printf, 2, 3)))
static void plan_vdev(struct build *b, const char *fmt, ...)
{
    struct dm_plan *plan = b->plan;
    va_list ap;
    char *s = NULL, **v;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    v = s ? realloc(plan->vdev_map, (plan->nvdev + 1) * sizeof(*v)) : NULL;
    if (!v) {
        free(s);
        b->nomem = 1;
        return;
    }
    plan->vdev_map = v;
    v[plan->nvdev++] = s;
}

/* ---- the pieces of the command line ---- */

static const char *qemu_format(enum disk_format f)
{
    switch (f) {
    case DISK_FORMAT_RAW: return "raw";
    case DISK_FORMAT_QCOW: return "qcow";
    case DISK_FORMAT_QCOW2: return "qcow2";
    case DISK_FORMAT_VHD: return "vpc";
    case DISK_FORMAT_QED: return "qed";
    case DISK_FORMAT_UNKNOWN:
    case DISK_FORMAT_EMPTY:
        break;
    }
    return NULL;
}

/* Checks what QEMU cannot be given for disk i.  0, or -1 after failing. */
static int check_disk(struct build *b, size_t i)
{
    const struct disk_spec *k = &b->dom->disks[i];
    const char *vdev = k->vdev ? k->vdev : "?";
    int bad = 0;

    if (k->script) {
        fail(b, "disk %s: block scripts (script=%s) are not supported; give the"
             " device or file as the target", vdev, k->script);
        bad = 1;
    }
    if (k->cdrom && (!k->target || !*k->target))
        return -bad;
    if (!k->target || !*k->target) {
        fail(b, "disk %s: no target (only a cdrom may be empty)", vdev);
        return -1;
    }
    if (!qemu_format(k->format)) {
        fail(b, "disk %s: format %s cannot be opened (QEMU takes raw, qcow,"
             " qcow2, vhd and qed; empty is for a cdrom without media)", vdev,
             disk_format_name(k->format));
        bad = 1;
    }
    if (b->dom->type == DOMAIN_HVM && !k->cdrom && !k->readwrite) {
        fail(b, "disk %s: an emulated IDE disk cannot be read-only (QEMU's"
             " ide-hd refuses it); make it a cdrom or writable", vdev);
        bad = 1;
    }
    return -bad;
}

/* -blockdev for disk i (with media): node "driveI". */
static void add_blockdev(struct build *b, size_t i)
{
    const struct disk_spec *k = &b->dom->disks[i];
    const char *proto = "file";

    if (!strncmp(k->target, "/dev/", 5))
        proto = k->cdrom ? "host_cdrom" : "host_device";
    add(b, "-blockdev");
    addf(b, "driver=%s,node-name=drive%zu%s%s%s,file.driver=%s,file.filename=%s",
         qemu_format(k->format), i, k->readwrite ? "" : ",read-only=on",
         k->discard == 1 ? ",discard=unmap" : "",
         k->direct_io_safe ? ",cache.direct=on" : "", proto, esc(b, k->target));
}

static bool has_media(const struct disk_spec *k)
{
    return k->target && *k->target;
}

static void add_disks(struct build *b)
{
    const struct domain_desc *dom = b->dom;
    const char *blk = b->microvm ? "virtio-blk-device" : "virtio-blk-pci";

    for (size_t i = 0; i < dom->ndisks; i++) {
        const struct disk_spec *k = &dom->disks[i];
        const char *vdev = k->vdev ? k->vdev : "?";
        bool media = has_media(k);
        char letters[8];

        if (check_disk(b, i))
            continue;
        if (media)
            add_blockdev(b, i);
        if (b->pvh && !k->cdrom) {
            struct xdev x;

            disk_letters(virtio_index(dom, i), letters);
            add(b, "-device");
            /* the vdev as the serial: the guest's /dev/disk/by-id/virtio-VDEV */
            if (!xdev_parse(vdev, strlen(vdev), &x) && strlen(vdev) <= 20)
                addf(b, "%s,drive=drive%zu,id=disk%zu,serial=%s", blk, i, i, vdev);
            else
                addf(b, "%s,drive=drive%zu,id=disk%zu", blk, i, i);
            plan_vdev(b, "%s -> /dev/vd%s%s", vdev, letters,
                      k->readwrite ? "" : " (read-only)");
        } else {
            /* cdroms of pv/pvh, everything of hvm: q35's AHCI ports */
            size_t port = b->pvh ? cdrom_index(dom, i) : i;

            add(b, "-device");
            if (media)
                addf(b, "%s,bus=ide.%zu,drive=drive%zu,id=disk%zu",
                     k->cdrom ? "ide-cd" : "ide-hd", port, i, i);
            else
                addf(b, "ide-cd,bus=ide.%zu,id=disk%zu", port, i);
            if (b->pvh)
                plan_vdev(b, "%s -> /dev/sr%zu (cdrom%s)", vdev, port,
                          media ? "" : ", empty");
            else
                plan_vdev(b, "%s -> ide.%zu (%s%s)", vdev, port,
                          k->cdrom ? "cdrom" : "disk",
                          k->cdrom && !media ? ", empty" : "");
        }
    }
}

/* The QEMU device for an hvm vif, or NULL after failing. */
static const char *hvm_nic_model(struct build *b, size_t i)
{
    const struct vif_spec *v = &b->dom->vifs[i];

    if (v->type && !strcmp(v->type, "vif"))    /* Xen: PV only */
        return "virtio-net-pci";
    if (!v->model || !strcmp(v->model, "e1000"))
        return "e1000";
    if (!strcmp(v->model, "e1000e") || !strcmp(v->model, "rtl8139"))
        return v->model;
    if (!strcmp(v->model, "virtio") || !strcmp(v->model, "virtio-net") ||
        !strcmp(v->model, "virtio-net-pci"))
        return "virtio-net-pci";
    fail(b, "vif %zu: model `%s' is not supported (e1000, e1000e, rtl8139 or"
         " virtio-net)", i, v->model);
    return NULL;
}

static void add_vifs(struct build *b)
{
    const struct domain_desc *dom = b->dom;

    for (size_t i = 0; i < dom->nvifs; i++) {
        const struct vif_spec *v = &dom->vifs[i];
        const char *tap = b->p->tap_names ? b->p->tap_names[i] : NULL;
        const char *model;

        if (!v->mac) {
            fail(b, "vif %zu has no mac (the runtime assigns one before building"
                 " the command line)", i);
            continue;
        }
        if (!v->netdev_user && !tap) {
            fail(b, "vif %zu: no tap device was given for it", i);
            continue;
        }
        if (b->pvh)
            model = b->microvm ? "virtio-net-device" : "virtio-net-pci";
        else if (!(model = hvm_nic_model(b, i)))
            continue;
        add(b, "-netdev");
        if (v->netdev_user)
            addf(b, "user,id=net%zu", i);
        else
            addf(b, "tap,id=net%zu,ifname=%s,script=no,downscript=no", i, esc(b, tap));
        add(b, "-device");
        if (v->mtu && !strncmp(model, "virtio", 6))
            addf(b, "%s,netdev=net%zu,id=nic%zu,mac=%s,host_mtu=%d", model, i, i,
                 v->mac, v->mtu);
        else
            addf(b, "%s,netdev=net%zu,id=nic%zu,mac=%s", model, i, i, v->mac);
    }
}

static void add_console_chardev(struct build *b)
{
    const struct dm_params *p = b->p;

    add(b, "-chardev");
    if (p->console_log)
        addf(b, "socket,id=con0,path=%s/console.sock,server=on,wait=off,"
             "logfile=%s,logappend=on", esc(b, p->rundir), esc(b, p->console_log));
    else
        addf(b, "socket,id=con0,path=%s/console.sock,server=on,wait=off",
             esc(b, p->rundir));
}

static void add_qmp(struct build *b, const char *id, const char *sock, int fd)
{
    add(b, "-chardev");
    if (fd >= 0)
        addf(b, "socket,id=%s,fd=%d,server=on,wait=off", id, fd);
    else
        addf(b, "socket,id=%s,path=%s/%s,server=on,wait=off", id,
             esc(b, b->p->rundir), sock);
    add(b, "-mon");
    addf(b, "chardev=%s,mode=control", id);
}

/* hvm: the serial console, VGA, VNC, USB input. */
static void add_hvm_frontends(struct build *b)
{
    const struct domain_desc *dom = b->dom;
    const char *listen = dom->vnclisten ? dom->vnclisten : "127.0.0.1";
    bool usb = false;

    for (size_t i = 0; i < dom->nserial; i++) {
        const char *s = dom->serial[i];

        if (i == 0 && !strcmp(s, "pty")) {
            add_console_chardev(b);
            add(b, "-device");
            add(b, "isa-serial,chardev=con0,id=serial0");
            b->plan->console = "ttyS0";
        } else if (strcmp(s, "none") && strcmp(s, "null")) {
            warn(b, "serial `%s' is not supported (the first serial may be \"pty\","
                 " the console socket); no serial port for it", s);
        }
    }

    add(b, "-vga");
    add(b, dom->stdvga == 1 ? "std" : "cirrus");
    if (dom->sdl == 1)
        warn(b, "sdl is not supported (the device model has no local display);"
             " use vnc");
    if (dom->vnc != 0) {
        bool findunused = dom->vncunused != 0;
        bool password = dom->vncpasswd && *dom->vncpasswd;

        add(b, "-vnc");
        if (strchr(listen, ':'))    /* xl: vnclisten = "HOST:DISPLAY" */
            addf(b, "%s%s%s", esc(b, listen), findunused ? ",to=99" : "",
                 password ? ",password=on" : "");
        else
            addf(b, "%s:%ld%s%s", esc(b, listen),
                 dom->vncdisplay >= 0 ? dom->vncdisplay : 0L,
                 findunused ? ",to=99" : "", password ? ",password=on" : "");
        b->plan->vnc_password = password;
    }

    for (size_t i = 0; i < dom->nusbdevice; i++) {
        const char *u = dom->usbdevice[i], *dev = NULL;

        if (!strcmp(u, "tablet"))
            dev = "usb-tablet";
        else if (!strcmp(u, "mouse"))
            dev = "usb-mouse";
        else if (!strcmp(u, "keyboard"))
            dev = "usb-kbd";
        if (!dev) {
            warn(b, "usbdevice `%s' is not supported (tablet, mouse or keyboard);"
                 " ignored", u);
            continue;
        }
        if (!usb)
            add(b, "-usb");
        usb = true;
        add(b, "-device");
        addf(b, "%s,id=input%zu", dev, i);
    }
}

/* hvm: a boot letter that names no device cannot boot. */
static void check_hvm_bootable(struct build *b, const char *order)
{
    const struct domain_desc *dom = b->dom;
    bool disk = false, cd = false;

    for (size_t i = 0; i < dom->ndisks; i++) {
        if (!dom->disks[i].cdrom)
            disk = true;
        else if (has_media(&dom->disks[i]))
            cd = true;
    }
    for (const char *c = order; *c; c++)
        if ((*c == 'c' && disk) || (*c == 'd' && cd) || (*c == 'n' && dom->nvifs))
            return;
    fail(b, "nothing to boot: boot = \"%s\" but no device matches (c: a disk,"
         " d: a cdrom with media, n: a vif)", order);
}

static bool is_pvgrub(const char *kernel)
{
    const char *base = strrchr(kernel, '/');

    base = base ? base + 1 : kernel;
    return !strncmp(base, "grub-", 5) && strstr(base, "xen") &&
           strlen(base) > 4 && !strcmp(base + strlen(base) - 4, ".bin");
}

/* The kernel command line (rewritten for pv/pvh) into the plan.
 * 0 or -ENOMEM. */
static int make_cmdline(struct build *b)
{
    char *given = NULL, *rewritten = NULL, *final = NULL;
    int r = -ENOMEM;

    if (b->p->cmdline)
        given = strdup(b->p->cmdline);
    else if (!(given = domain_cmdline(b->dom)) && errno == 0)
        given = strdup("");
    if (!given)
        goto out;
    if (b->pvh) {
        if (!(rewritten = dm_rewrite_root(b->dom, given, b->d)))
            goto out;
        if (!(final = add_param(rewritten, "console=hvc0")))
            goto out;
        /*
         * Under TCG the guest reads the host's TSC, whose rate the kernel
         * then measures against the PIT in a few milliseconds of guest
         * time; on a busy host that fails, microvm has no other reference
         * (no HPET, no PM timer), and the kernel is left without a timer,
         * hung for good.  Its rate is known: say it.
         */
        if (b->p->accel == ACCEL_TCG && b->p->tsc_khz) {
            char param[48];

            free(rewritten);
            rewritten = final;
            snprintf(param, sizeof param, "tsc_early_khz=%lu", b->p->tsc_khz);
            if (!(final = add_param(rewritten, param)))
                goto out;
        }
    } else if (!(final = strdup(given))) {
        goto out;
    }
    if (*given && strcmp(final, given)) {
        b->plan->cmdline_configured = given;
        given = NULL;
    }
    b->plan->cmdline = final;
    final = NULL;
    r = 0;
out:
    free(given);
    free(rewritten);
    free(final);
    return r;
}

/* Chooses the machine and says why. */
static int choose_machine(struct build *b)
{
    const struct domain_desc *dom = b->dom;
    const char *type = dom->type == DOMAIN_PV ? "pv (run as pvh)" : "pvh";
    size_t nvirtio = b->ndisks + dom->nvifs + 2 + b->balloon; /* + console, rng */
    const char *kver = b->p->kernel_version;
    int major = 0, minor = 0, old = 0;
    char *why = NULL;
    int n;

    if (kver && !kernelhdr_major_minor(kver, &major, &minor))
        old = major < DM_MMIO_ACPI_MAJOR ||
              (major == DM_MMIO_ACPI_MAJOR && minor < DM_MMIO_ACPI_MINOR);

    b->microvm = false;
    if (dom->type == DOMAIN_HVM)
        n = asprintf(&why, "hvm: firmware boot, emulated devices");
    else if (b->ncdroms)
        n = asprintf(&why, "%s with a cdrom: cdroms need q35's AHCI; direct kernel"
                     " boot, virtio-pci", type);
    else if (old)
        n = asprintf(&why, "%s with kernel %d.%d, older than %d.%d: it cannot find"
                     " microvm's virtio-mmio devices; direct kernel boot, virtio-pci", type,
                     major, minor, DM_MMIO_ACPI_MAJOR, DM_MMIO_ACPI_MINOR);
    else if (dom->maxvcpus > dom->vcpus)
        n = asprintf(&why, "%s with vCPU hotplug (maxvcpus %ld > vcpus %ld), which"
                     " microvm lacks; direct kernel boot, virtio-pci", type,
                     dom->maxvcpus, dom->vcpus);
    else if (nvirtio > DM_MICROVM_MMIO_SLOTS)
        n = asprintf(&why, "%s with %zu virtio devices, more than microvm's %d"
                     " virtio-mmio transports; direct kernel boot, virtio-pci",
                     type, nvirtio, DM_MICROVM_MMIO_SLOTS);
    else {
        b->microvm = true;
        n = asprintf(&why, "%s: direct kernel boot, %zu of %d virtio-mmio"
                     " transports", type, nvirtio, DM_MICROVM_MMIO_SLOTS);
    }
    if (n < 0)
        return -ENOMEM;
    b->plan->machine = b->microvm ? "microvm" : "q35";
    b->plan->machine_reason = why;

    /* what q35 has room for */
    if (!b->microvm) {
        size_t ahci = b->pvh ? b->ncdroms : b->ndisks + b->ncdroms;
        size_t pci = b->pvh ? nvirtio : dom->nvifs + 1 /* VGA */ + b->balloon +
                              (dom->nusbdevice > 0);

        if (ahci > DM_Q35_AHCI_PORTS)
            fail(b, "%zu %s, more than the %d AHCI ports of q35", ahci,
                 b->pvh ? "cdroms" : "disks and cdroms", DM_Q35_AHCI_PORTS);
        if (pci > DM_Q35_PCI_SLOTS)
            fail(b, "%zu PCI devices, more than the %d free slots of q35's root bus",
                 pci, DM_Q35_PCI_SLOTS);
    }
    return 0;
}

static void add_machine(struct build *b)
{
    const struct domain_desc *dom = b->dom;
    const struct dm_params *p = b->p;
    bool kvm = p->accel == ACCEL_KVM;

    add(b, "-machine");
    /* PIT and PIC off needs the TSC deadline timer: KVM has it, TCG not */
    if (b->microvm)
        addf(b, "microvm,acpi=on,ioapic2=on,pit=%s,pic=%s,rtc=on,isa-serial=off,"
             "x-option-roms=off", kvm ? "off" : "on", kvm ? "off" : "on");
    else
        add(b, "q35");
    add(b, "-accel");
    add(b, kvm ? "kvm" : "tcg");
    add(b, "-cpu");
    add(b, kvm ? "host" : "max");
    add(b, "-m");
    addf(b, "%ldM", dom->maxmem);
    add(b, "-smp");
    addf(b, "%ld,maxcpus=%ld", dom->vcpus, dom->maxvcpus);
    add(b, "-display");
    add(b, "none");
}

static void add_boot(struct build *b)
{
    const struct domain_desc *dom = b->dom;
    const struct dm_params *p = b->p;
    const char *kernel = p->kernel ? p->kernel : dom->kernel;
    const char *ramdisk = p->kernel ? p->ramdisk : dom->ramdisk;

    if (b->pvh && !p->kernel && dom->bootloader) {
        fail(b, "`bootloader' is set: the bootloader must run (and give the kernel)"
             " before the command line is built");
        return;
    }
    if (b->pvh && !kernel) {
        fail(b, "no kernel: %s guests boot a kernel directly (set `kernel', or"
             " `bootloader' for vmkit's bootloader)", domain_type_name(dom->type));
        return;
    }
    if (kernel && !p->kernel && is_pvgrub(kernel)) {
        fail(b, "kernel `%s' is PV-GRUB, which needs Xen; vmkit's bootloader must"
             " give the guest's own kernel", kernel);
        return;
    }
    if (!b->pvh) {
        const char *order = dom->boot ? dom->boot : "cd";

        add(b, "-boot");
        addf(b, "order=%s", order);
        if (!kernel)
            check_hvm_bootable(b, order);
    }
    if (!kernel)
        return;
    if (make_cmdline(b)) {
        b->nomem = 1;
        return;
    }
    add(b, "-kernel");
    add(b, kernel);
    if (ramdisk) {
        add(b, "-initrd");
        add(b, ramdisk);
    }
    if (*b->plan->cmdline) {
        add(b, "-append");
        add(b, b->plan->cmdline);
    }
}

void dm_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **a = argv; *a; a++)
        free(*a);
    free(argv);
}

int dm_build_argv(const struct domain_desc *dom, const struct dm_params *p,
                  char ***argv_r, struct dm_plan *plan, struct diag *d)
{
    struct build b = { .dom = dom, .p = p, .d = d, .plan = plan };
    char uuid[37];
    int r = -EINVAL;

    *argv_r = NULL;
    b.pvh = dom->type != DOMAIN_HVM;
    b.balloon = dom->maxmem > dom->memory;
    for (size_t i = 0; i < dom->ndisks; i++) {
        if (dom->disks[i].cdrom)
            b.ncdroms++;
        else
            b.ndisks++;
    }
    if (!p->qemu || !p->rundir) {
        fail(&b, "the QEMU binary and the run directory must be given");
        goto out;
    }
    if (p->accel != ACCEL_KVM && p->accel != ACCEL_TCG)
        fail(&b, "the accelerator must be decided (kvm or tcg) before the command"
             " line is built, not %s", domain_accel_name(p->accel));
    if (dom->vcpus > dom->maxvcpus)
        fail(&b, "vcpus (%ld) is more than maxvcpus (%ld)", dom->vcpus, dom->maxvcpus);
    if (p->host_cpus && (unsigned long)dom->vcpus > p->host_cpus)
        warn(&b, "%ld vcpus on %lu host CPUs: overcommitted", dom->vcpus, p->host_cpus);
    if (choose_machine(&b)) {
        b.nomem = 1;
        goto out;
    }

    add(&b, p->qemu);
    add(&b, "-name");
    addf(&b, "guest=%s,debug-threads=on", esc(&b, dom->name ? dom->name : "?"));
    if (dom->has_uuid) {
        domain_format_uuid(dom->uuid, uuid);
        add(&b, "-uuid");
        add(&b, uuid);
    }
    add(&b, "-nodefaults");
    add(&b, "-no-user-config");
    add(&b, "-S");
    add(&b, "-no-shutdown");
    add(&b, "-action");
    add(&b, "reboot=shutdown,panic=pause");
    add(&b, "-sandbox");
    add(&b, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
    add_machine(&b);
    add_qmp(&b, "qmp", "qmp.sock", p->qmp_fd);
    add_qmp(&b, "qmp-vmctl", "qmp-vmctl.sock", p->vmctl_qmp_fd);
    add_boot(&b);
    if (!b.pvh)
        add_hvm_frontends(&b);
    add_disks(&b);
    add_vifs(&b);
    if (b.pvh) {
        add_console_chardev(&b);
        add(&b, "-device");
        add(&b, b.microvm ? "virtio-serial-device,id=vser0" : "virtio-serial-pci,id=vser0");
        add(&b, "-device");
        add(&b, "virtconsole,chardev=con0,id=console0");
        plan->console = "hvc0";
        add(&b, "-device");
        add(&b, b.microvm ? "virtio-rng-device,id=rng0" : "virtio-rng-pci,id=rng0");
    }
    if (b.balloon) {
        add(&b, "-device");
        add(&b, b.microvm ? "virtio-balloon-device,id=balloon0"
                          : "virtio-balloon-pci,id=balloon0");
        plan->balloon_target_mib = dom->memory;
    }
    add(&b, "-device");
    add(&b, "pvpanic,id=pvpanic0");

out:
    strv_free(&b.tmp);
    if (b.nomem)
        r = -ENOMEM;
    else if (!b.bad)
        r = 0;
    if (r) {
        strv_free(&b.argv);
        dm_plan_dispose(plan);
        return r;
    }
    *argv_r = b.argv.v;
    return 0;
}
