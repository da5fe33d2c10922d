/*
 * options.c - vm-provision's option table and the layering of its
 * sources (see options.h).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "domain.h"
#include "options.h"
#include "lvm.h"
#include "units.h"

static const char *const fs_choices[] = { "ext4", "xfs", "btrfs", NULL };
static const char *const format_choices[] = { "raw", "qcow2", NULL };
static const char *const layout_choices[] = { "whole", "partitioned", NULL };
static const char *const table_choices[] = { "gpt", "msdos", NULL };
static const char *const boot_method_choices[] = { "pygrub", "direct", NULL };
static const char *const network_choices[] = { "bridge", "user", "none", NULL };
static const char *const clone_choices[] = { "overlay", "copy", NULL };
static const char *const customize_choices[] = { "ext2fs", "guestfs", NULL };
static const char *const method_choices[] = {
    "mmdebstrap", "debootstrap", "rpm", "tar", "copy", NULL,
};

#define V(name, meta, slot, check, choices, defval, help) \
    { name, OPT_VALUE, meta, slot, check, choices, 0, 0, defval, help }
#define F(name, slot, on, flags, help) \
    { name, OPT_FLAG, NULL, slot, CK_NONE, NULL, on, flags, NULL, help }
/* a value that names one guest: not in a template */
#define VG(name, meta, slot, check, defval, help) \
    { name, OPT_VALUE, meta, slot, check, NULL, 0, OPT_NOT_TEMPLATE, defval, help }

const struct opt_def options_table[] = {
    VG("hostname", "NAME", SLOT_HOSTNAME, CK_HOSTNAME, "required",
       "the guest's host name (RFC 1123), also its config and image name"),
    VG("template", "NAME", SLOT_TEMPLATE, CK_NAME, NULL,
       "start from template NAME: $VMKIT_CONFDIR/templates/NAME.conf, else the"
       " shipped templates/guest/NAME.conf (--config files and the command line"
       " override it)"),
    V("dist", "NAME", SLOT_DIST, CK_NAME, NULL, "the host's release",
      "the release to install: a definition in /etc/vmkit/dist or templates/dist"),
    V("arch", "ARCH", SLOT_ARCH, CK_ARCH, NULL, "amd64; x86_64 for rpm",
      "the architecture (Debian's name, or rpm's for the Red Hat family)"),
    V("mirror", "URL", SLOT_MIRROR, CK_URL, NULL,
      "the host's apt sources; the definition's for rpm",
      "the package mirror (Red Hat family: the base of the repositories' tree)"),
    V("install-method", "METHOD", SLOT_INSTALL_METHOD, CK_CHOICE, method_choices,
      "mmdebstrap; rpm for the Red Hat family",
      "how the root is built: mmdebstrap, debootstrap, rpm, tar or copy"),
    V("install-source", "PATH", SLOT_INSTALL_SOURCE, CK_PATH, NULL, NULL,
      "the root file system tarball (tar) or directory (copy)"),
    F("cache", SLOT_CACHE, 1, 0,
      "reuse a cached base root (the default)"),
    F("no-cache", SLOT_CACHE, 0, 0,
      "build the base root afresh"),
    { "golden", OPT_FLAG, NULL, SLOT_GOLDEN, CK_NONE, NULL, 1, 0,
      "with --template, --batch or --count",
      "make the guest a clone of a golden image (the installed, hooked root without"
      " anything guest-specific, built once per template and cached), personalised"
      " without booting it" },
    F("no-golden", SLOT_GOLDEN, 0, 0,
      "install and hook this guest's root itself"),
    V("clone", "METHOD", SLOT_CLONE, CK_CHOICE, clone_choices,
      "overlay; copy with --image-format raw",
      "a golden clone's disk: overlay (a qcow2 overlay backed by the golden image)"
      " or copy (a reflink or sparse copy)"),
    V("customize", "METHOD", SLOT_CUSTOMIZE, CK_CHOICE, customize_choices, "ext2fs",
      "how a golden clone's identity is written: ext2fs (libext2fs on the image,"
      " milliseconds) or guestfs (in a libguestfs appliance, seconds)"),
    F("refresh", SLOT_REFRESH, 1, OPT_CMDLINE_ONLY,
      "build the golden image afresh (older ones go once no overlay uses them)"),
    V("dir", "DIR", SLOT_DIR, CK_DIR, NULL, "$VMKIT_LIBDIR",
      "put the images in DIR/domains/NAME/"),
    V("lvm", "VG", SLOT_LVM, CK_LVM_VG, NULL, "files in --dir",
      "put the disks on logical volumes VG/NAME-disk and VG/NAME-swap"),
    V("lvm-thin", "VG/POOL", SLOT_LVM, CK_LVM_POOL, NULL, NULL,
      "the same, as thin volumes in thin pool POOL of VG"),
    V("size", "SIZE", SLOT_SIZE, CK_SIZE_DISK, NULL, "4G",
      "the root file system's size, at least 512M"),
    V("swap", "SIZE", SLOT_SWAP, CK_SIZE_SWAP, NULL, "512M",
      "the swap disk's size"),
    F("noswap", SLOT_SWAP, 0, 0,
      "no swap disk"),
    V("fs", "TYPE", SLOT_FS, CK_CHOICE, fs_choices, "ext4",
      "the root file system: ext4, xfs or btrfs"),
    V("image-format", "FORMAT", SLOT_IMAGE_FORMAT, CK_CHOICE, format_choices, "raw",
      "the root image's format: raw or qcow2 (swap is raw)"),
    V("disk-layout", "LAYOUT", SLOT_DISK_LAYOUT, CK_CHOICE, layout_choices, "whole",
      "whole (one file system, the whole disk) or partitioned (a partition table)"),
    V("partitions", "FILE", SLOT_DISK_LAYOUT, CK_FILE, NULL, NULL,
      "a partitioned disk laid out as FILE says (xen-tools' partitions format)"),
    V("partition-table", "TABLE", SLOT_PARTITION_TABLE, CK_CHOICE, table_choices, "gpt",
      "a partitioned disk's table: gpt or msdos"),
    V("boot-method", "METHOD", SLOT_BOOT_METHOD, CK_CHOICE, boot_method_choices,
      "pygrub if partitioned, else direct",
      "pygrub (the guest's own grub.cfg, read by vmkit) or direct (kernel copied out)"),
    V("memory", "SIZE", SLOT_MEMORY, CK_SIZE_MEM, NULL, "512M",
      "the guest's memory, whole MiB, at least 128M"),
    V("maxmem", "SIZE", SLOT_MAXMEM, CK_SIZE_MEM, NULL, "--memory",
      "the most memory the guest may balloon up to"),
    V("vcpus", "N", SLOT_VCPUS, CK_COUNT, NULL, "1",
      "the number of virtual CPUs"),
    V("password", "STRING", SLOT_PASSWORD, CK_PASSWORD, NULL, "none",
      "root's password"),
    F("genpass", SLOT_PASSWORD, 0, 0,
      "generate root's password, shown once at the end"),
    V("ssh-key", "FILE", SLOT_SSH_KEY, CK_SSH_KEY, NULL, NULL,
      "authorise the ssh public keys in FILE for root"),
    VG("ip", "ADDR[/PREFIX]", SLOT_IP, CK_IP, "DHCP",
       "a static address"),
    V("netmask", "MASK", SLOT_NETMASK, CK_NETMASK, NULL, NULL,
      "the static address's netmask: 255.255.255.0 or /24"),
    V("gateway", "ADDR", SLOT_GATEWAY, CK_ADDR, NULL, NULL,
      "the default gateway, with --ip"),
    V("nameserver", "ADDR[,ADDR]", SLOT_NAMESERVER, CK_ADDRS, NULL, NULL,
      "the DNS servers"),
    F("dhcp", SLOT_IP, 0, 0,
      "configure the network by DHCP (the default)"),
    VG("mac", "MAC", SLOT_MAC, CK_MAC, "00:16:3e + hash of the uuid",
       "the guest's MAC address (unicast)"),
    V("bridge", "NAME", SLOT_BRIDGE, CK_BRIDGE, NULL, "br0",
      "the host bridge the guest's interface joins"),
    V("network", "TYPE", SLOT_NETWORK, CK_CHOICE, network_choices, "bridge",
      "the guest's interface: on a host bridge (bridge), QEMU user networking"
      " (user: no host setup, outbound only) or none"),
    V("role", "NAME[,NAME]", SLOT_ROLE, CK_NAMES, NULL, NULL,
      "also run the hooks of hooks/roles/NAME/"),
    V("packages", "PKG[,PKG]", SLOT_PACKAGES, CK_PACKAGES, NULL, NULL,
      "also install these packages (mmdebstrap, debootstrap and rpm installs)"),
    V("hooks", "DIR", SLOT_HOOKS, CK_DIR, NULL, NULL,
      "also run the hooks in DIR, last"),
    V("output", "DIR", SLOT_OUTPUT, CK_DIR, NULL, "$VMKIT_CONFDIR",
      "write the guest config to DIR/NAME.cfg"),
    F("boot", SLOT_BOOT, 1, 0,
      "start the guest once it is built"),
    F("force", SLOT_FORCE, 1, OPT_CMDLINE_ONLY,
      "replace an existing guest's images and config"),
    F("dry-run", SLOT_DRY_RUN, 1, OPT_CMDLINE_ONLY,
      "print the plan and the guest config; change nothing"),
    { "config", OPT_VALUE, "FILE", SLOT_NONE, CK_NONE, NULL, 0, OPT_CMDLINE_ONLY, NULL,
      "read settings from FILE, after provision.conf" },
    F("list", SLOT_NONE, 0, OPT_CMDLINE_ONLY,
      "list the guests vm-provision made (name, dist, disks, network) and exit"),
    F("json", SLOT_NONE, 0, OPT_CMDLINE_ONLY,
      "with --list: print JSON"),
    { "delete", OPT_VALUE, "NAME", SLOT_NONE, CK_NONE, NULL, 0, OPT_CMDLINE_ONLY, NULL,
      "remove guest NAME that vm-provision made: its config, images and kernel"
      " (not while it runs)" },
    { "snapshot", OPT_VALUE, "NAME", SLOT_NONE, CK_NONE, NULL, 0, OPT_CMDLINE_ONLY, NULL,
      "take a read-only LVM snapshot of guest NAME's disk (a running guest is paused"
      " for the moment it takes) and print its path" },
    { "snapshot-size", OPT_VALUE, "SIZE", SLOT_NONE, CK_NONE, NULL, 0, OPT_CMDLINE_ONLY,
      "a fifth of the disk, at least 256M",
      "with --snapshot: room for the changes the origin may take meanwhile (not for thin)" },
    { "snapshot-list", OPT_VALUE, "NAME", SLOT_NONE, CK_NONE, NULL, 0, OPT_CMDLINE_ONLY, NULL,
      "list the snapshots of guest NAME's disk" },
    { "snapshot-delete", OPT_VALUE, "VOLUME", SLOT_NONE, CK_NONE, NULL, 0, OPT_CMDLINE_ONLY,
      NULL, "remove a snapshot --snapshot took (VG/LV or /dev/VG/LV)" },
    F("template-list", SLOT_NONE, 0, OPT_CMDLINE_ONLY,
      "list the templates (name, file, description) and exit"),
    { "template-show", OPT_VALUE, "NAME", SLOT_NONE, CK_NONE, NULL, 0, OPT_CMDLINE_ONLY, NULL,
      "print the settings template NAME gives, with provision.conf, --config files and"
      " the other options given, and where each comes from; exit" },
    F("golden-list", SLOT_NONE, 0, OPT_CMDLINE_ONLY,
      "list the golden images (id, template, dist, size, disk use, guests) and exit"),
    { "golden-delete", OPT_VALUE, "ID", SLOT_NONE, CK_NONE, NULL, 0, OPT_CMDLINE_ONLY, NULL,
      "remove golden image ID, or all for every one no overlay uses" },
    { "batch", OPT_VALUE, "FLEET", SLOT_NONE, CK_NONE, NULL, 0, OPT_CMDLINE_ONLY, NULL,
      "make every guest of fleet file FLEET (vmkit-fleet(5)), checked whole first" },
    { "count", OPT_VALUE, "N", SLOT_NONE, CK_NONE, NULL, 0, OPT_CMDLINE_ONLY, NULL,
      "make N guests alike, named by --hostname's pattern (web%02d)" },
    { "ip-range", OPT_VALUE, "FIRST-LAST[/PREFIX]", SLOT_NONE, CK_NONE, NULL, 0,
      OPT_CMDLINE_ONLY, NULL,
      "--count: their addresses, in order; --batch: the range the fleet's must be in" },
    { "jobs", OPT_VALUE, "N", SLOT_NONE, CK_NONE, NULL, 0, OPT_CMDLINE_ONLY,
      "the number of CPUs", "--batch, --count: make N guests at a time (also -j N)" },
    { "batch-delete", OPT_VALUE, "FLEET", SLOT_NONE, CK_NONE, NULL, 0, OPT_CMDLINE_ONLY, NULL,
      "remove every guest of fleet file FLEET that vm-provision made" },
    F("help", SLOT_NONE, 0, OPT_CMDLINE_ONLY,
      "print this help"),
};

#undef V
#undef F
#undef VG

#define NOPTS (sizeof(options_table) / sizeof(options_table[0]))

const size_t options_count = NOPTS;

const struct opt_def *options_find(const char *name)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (!strcmp(options_table[i].name, name))
            return &options_table[i];
    return NULL;
}

const struct opt_def *options_slot_option(enum opt_slot slot)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (options_table[i].slot == (int)slot)
            return &options_table[i];
    return NULL;
}

void options_init(struct opt_set *o)
{
    memset(o, 0, sizeof(*o));
    o->v[SLOT_CACHE].on = true;
}

static void value_reset(struct opt_value *v)
{
    free(v->value);
    free(v->file);
    memset(v, 0, sizeof(*v));
}

void options_dispose(struct opt_set *o)
{
    for (size_t i = 0; i < NSLOTS; i++)
        value_reset(&o->v[i]);
    options_init(o);
}

void options_argv_dispose(struct opt_argv *a)
{
    free(a->items);
    free(a->configs);
    memset(a, 0, sizeof(*a));
}

/* ---- messages ---- */

/* Where a value being set was written. */
struct where {
    const struct opt_def *def;
    const char *file;       /* NULL: the command line */
    int line, col;
};

static void report_v(struct diag *d, const struct where *w, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void report_v(struct diag *d, const struct where *w, const char *fmt, va_list ap)
{
    char *msg = NULL;

    if (vasprintf(&msg, fmt, ap) < 0) {
        d->oom = 1;
        d->nerrors++;
        return;
    }
    if (w->file)
        diag_error(d, w->file, w->line, w->col, "%s: %s", w->def->name, msg);
    else
        diag_error(d, NULL, 0, 0, "--%s: %s", w->def->name, msg);
    free(msg);
}

static void report(struct diag *d, const struct where *w, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(struct diag *d, const struct where *w, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report_v(d, w, fmt, ap);
    va_end(ap);
}

void options_error(struct diag *d, const struct opt_set *o, enum opt_slot slot,
                   const char *fmt, ...)
{
    const struct opt_value *v = &o->v[slot];
    struct where w = {
        .def = v->by ? v->by : options_slot_option(slot),
        .file = v->file, .line = v->line, .col = v->col,
    };
    va_list ap;

    va_start(ap, fmt);
    report_v(d, &w, fmt, ap);
    va_end(ap);
}

char *options_origin(const struct opt_set *o, enum opt_slot slot)
{
    const struct opt_value *v = &o->v[slot];
    char *s = NULL;
    int r;

    if (!v->by)
        return strdup("default");
    if (v->file)
        r = asprintf(&s, "%s:%d", v->file, v->line);
    else
        r = asprintf(&s, "--%s", v->by->name);
    return r < 0 ? NULL : s;
}

/* ---- --template-show ---- */

/* Where v came from, naming the kind of source; a new string or NULL. */
static char *origin_long(const struct opt_value *v)
{
    char *s = NULL;
    int r;

    if (!v->by)
        return strdup("default");
    switch (v->layer) {
    case LAYER_TEMPLATE:
        r = asprintf(&s, "template %s:%d", v->file, v->line);
        break;
    case LAYER_CONFIG:
        r = asprintf(&s, "--config %s:%d", v->file, v->line);
        break;
    case LAYER_CMDLINE:
        r = asprintf(&s, "--%s", v->by->name);
        break;
    default:
        r = asprintf(&s, "%s:%d", v->file ? v->file : "?", v->line);
        break;
    }
    return r < 0 ? NULL : s;
}

char *options_show(const struct opt_set *o)
{
    struct row {
        const char *name, *value;
        char *from;
    } rows[NSLOTS];
    bool seen[NSLOTS] = { false };
    size_t n = 0, wname = 6, wvalue = 5;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = NULL;
    int bad = 0;

    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt_def *def = &options_table[i];
        const struct opt_value *v;
        struct row *row = &rows[n];
        int slot = def->slot;

        if (slot == SLOT_NONE || slot == SLOT_TEMPLATE || (def->flags & OPT_CMDLINE_ONLY) ||
            seen[slot])
            continue;
        seen[slot] = true;
        v = &o->v[slot];
        if (slot == SLOT_CACHE || slot == SLOT_BOOT || (slot == SLOT_GOLDEN && v->by)) {
            row->name = options_slot_option(slot)->name;
            row->value = v->on ? "yes" : "no";
        } else if (v->by) {
            row->name = v->by->name;
            row->value = !v->value ? "yes" : slot == SLOT_PASSWORD ? "(given, not shown)"
                                                                   : v->value;
        } else if (def->defval && strcmp(def->defval, "required")) {
            row->name = def->name;
            row->value = def->defval;
        } else {
            continue;
        }
        if (!(row->from = origin_long(v))) {
            bad = 1;
            break;
        }
        if (strlen(row->name) > wname)
            wname = strlen(row->name);
        if (strlen(row->value) > wvalue)
            wvalue = strlen(row->value);
        n++;
    }
    if (!bad && (f = open_memstream(&buf, &len))) {
        fprintf(f, "%-*s  %-*s  %s\n", (int)wname, "OPTION", (int)wvalue, "VALUE", "FROM");
        for (size_t i = 0; i < n; i++)
            fprintf(f, "%-*s  %-*s  %s\n", (int)wname, rows[i].name, (int)wvalue,
                    rows[i].value, rows[i].from);
        if (fclose(f) != 0) {
            free(buf);
            buf = NULL;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(rows[i].from);
    if (!buf)
        errno = ENOMEM;
    return buf;
}

/* ---- checks ---- */

int options_parse_size(const char *s, uint64_t *bytes_r)
{
    return units_parse_size(s, UNITS_MIB, bytes_r);
}

static int check_size(struct diag *d, const struct where *w, const char *s,
                      uint64_t min, const char *min_text)
{
    uint64_t b;
    int r = options_parse_size(s, &b);

    if (r == -ERANGE || (r == 0 && w->def->check == CK_SIZE_MEM &&
                         b / UNITS_MIB > (uint64_t)(LONG_MAX / 1024))) {
        report(d, w, "`%s' is too large", s);
        return -EINVAL;
    }
    if (r) {
        report(d, w, "`%s' is not a size (a number with an optional K, M, G or T;"
               " no suffix means MiB)", s);
        return -EINVAL;
    }
    if (b % UNITS_MIB) {
        report(d, w, "`%s' is not a whole number of MiB", s);
        return -EINVAL;
    }
    if (b < min) {
        report(d, w, "`%s' is less than the minimum, %s", s, min_text);
        return -EINVAL;
    }
    return 0;
}

static int check_choice(struct diag *d, const struct where *w, const char *s)
{
    const char *const *c = w->def->choices;
    char list[256] = "";
    size_t n = 0;

    for (size_t i = 0; c[i]; i++)
        if (!strcmp(c[i], s))
            return 0;
    while (c[n])
        n++;
    for (size_t i = 0; i < n; i++) {
        strncat(list, c[i], sizeof(list) - strlen(list) - 1);
        strncat(list, i + 2 < n ? ", " : i + 2 == n ? " or " : "",
                sizeof(list) - strlen(list) - 1);
    }
    report(d, w, "`%s': expected %s", s, list);
    return -EINVAL;
}

static int check_count(struct diag *d, const struct where *w, const char *s)
{
    const char *c;
    long n = 0;

    for (c = s; *c >= '0' && *c <= '9' && n <= DOMAIN_MAX_CPUS; c++)
        n = n * 10 + (*c - '0');
    /* digits only, no leading zero, 1..DOMAIN_MAX_CPUS */
    if (c == s || *c || s[0] == '0' || n > DOMAIN_MAX_CPUS) {
        report(d, w, "`%s': expected a whole number from 1 to %d", s, DOMAIN_MAX_CPUS);
        return -EINVAL;
    }
    return 0;
}

/* Items of a list separated by `,' (and, with spaces, by blanks). */
static int check_list(struct diag *d, const struct where *w, const char *s, int spaces)
{
    const char *p = s, *seps = spaces ? ", \t" : ",";
    char item[256];
    const char *why;
    int n = 0, fam;

    for (;;) {
        size_t k;

        if (spaces)
            p += strspn(p, ", \t");
        k = strcspn(p, seps);
        if (!k) {
            if (!*p && n)
                return 0;
            report(d, w, "`%s': an empty item in the list", s);
            return -EINVAL;
        }
        if (k >= sizeof(item)) {
            report(d, w, "`%.*s...' is too long", 32, p);
            return -EINVAL;
        }
        memcpy(item, p, k);
        item[k] = '\0';
        if (spaces ? check_addr(item, &fam, &why) : check_name(item, &why)) {
            report(d, w, "`%s': %s", item, why);
            return -EINVAL;
        }
        n++;
        p += k;
        if (!*p)
            return 0;
        if (!spaces)
            p++;        /* the comma */
    }
}

/* Package names or rpm capabilities separated by `,' or blanks: printable,
 * not starting with `-' (the install checks each family's syntax). */
static int check_packages(struct diag *d, const struct where *w, const char *s)
{
    const char *p = s;
    int n = 0;

    for (;;) {
        size_t k;

        p += strspn(p, ", \t");
        if (!*p)
            break;
        k = strcspn(p, ", \t");
        if (*p == '-' || k > 255) {
            report(d, w, "`%.*s%s' is not a package name", (int)(k > 64 ? 64 : k), p,
                   k > 64 ? "..." : "");
            return -EINVAL;
        }
        for (size_t i = 0; i < k; i++)
            if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e) {
                report(d, w, "`%s': a package name holds a character other than"
                       " printable ASCII", s);
                return -EINVAL;
            }
        n++;
        p += k;
    }
    if (!n) {
        report(d, w, "`%s': no package name", s);
        return -EINVAL;
    }
    return 0;
}

static int check_path(struct diag *d, const struct where *w, const char *s)
{
    struct stat st;
    const char *why;

    if (check_abs_path(s, &why)) {
        report(d, w, "`%s': %s", s, why);
        return -EINVAL;
    }
    if (stat(s, &st) < 0) {
        report(d, w, "%s: %s", s, strerror(errno));
        return -EINVAL;
    }
    if (w->def->check == CK_DIR && !S_ISDIR(st.st_mode)) {
        report(d, w, "%s: not a directory", s);
        return -EINVAL;
    }
    if (w->def->check == CK_FILE && !S_ISREG(st.st_mode)) {
        report(d, w, "%s: not a regular file", s);
        return -EINVAL;
    }
    return 0;
}

/* Checks s as w->def's value; 0 or -EINVAL after recording why. */
static int check_value(struct diag *d, const struct where *w, const char *s)
{
    char buf[64];
    const char *why = NULL;
    size_t nkeys;
    int fam, prefix, r;

    switch (w->def->check) {
    case CK_NONE:
        return 0;
    case CK_HOSTNAME:
        if (check_hostname(s, &why)) {
            report(d, w, "`%s' is not a valid host name (RFC 1123): %s", s, why);
            return -EINVAL;
        }
        return 0;
    case CK_NAME:
        if (check_name(s, &why)) {
            report(d, w, "`%s': %s", s, why);
            return -EINVAL;
        }
        return 0;
    case CK_ARCH:
        if (check_arch(s, &why)) {
            report(d, w, "`%s': %s", s, why);
            return -EINVAL;
        }
        return 0;
    case CK_NAMES:
        return check_list(d, w, s, 0);
    case CK_ADDRS:
        return check_list(d, w, s, 1);
    case CK_URL:
        if (check_url(s, &why)) {
            report(d, w, "`%s' is not a mirror URL: %s", s, why);
            return -EINVAL;
        }
        return 0;
    case CK_DIR:
    case CK_PATH:
    case CK_FILE:
        return check_path(d, w, s);
    case CK_SSH_KEY:
        if (check_abs_path(s, &why)) {
            report(d, w, "`%s': %s", s, why);
            return -EINVAL;
        }
        r = check_ssh_key(s, &nkeys, &why);
        if (r && why)
            report(d, w, "%s: %s", s, why);
        else if (r)
            report(d, w, "cannot read %s: %s", s, strerror(-r));
        return r ? -EINVAL : 0;
    case CK_SIZE_DISK:
        return check_size(d, w, s, OPT_MIN_DISK, "512M");
    case CK_SIZE_SWAP:
        return check_size(d, w, s, UNITS_MIB, "1M");
    case CK_SIZE_MEM:
        return check_size(d, w, s, OPT_MIN_MEMORY, "128M");
    case CK_COUNT:
        return check_count(d, w, s);
    case CK_CHOICE:
        return check_choice(d, w, s);
    case CK_PASSWORD:
        if (check_password(s, &why)) {
            report(d, w, "not a usable password: %s", why);
            return -EINVAL;
        }
        return 0;
    case CK_IP:
        if (check_ip(s, buf, sizeof(buf), &fam, &prefix, &why)) {
            report(d, w, "`%s': %s", s, why);
            return -EINVAL;
        }
        return 0;
    case CK_NETMASK:
        if (check_netmask(s, &prefix, &fam, &why)) {
            report(d, w, "`%s': %s", s, why);
            return -EINVAL;
        }
        return 0;
    case CK_ADDR:
        if (check_addr(s, &fam, &why)) {
            report(d, w, "`%s': %s", s, why);
            return -EINVAL;
        }
        return 0;
    case CK_MAC:
        if (check_mac(s, buf, &why)) {
            report(d, w, "`%s' is not a MAC address: %s", s, why);
            return -EINVAL;
        }
        return 0;
    case CK_LVM_VG:
        if (!lvm_name_ok(s, &why)) {
            report(d, w, "`%s' is not a volume group name: %s", s, why);
            return -EINVAL;
        }
        return 0;
    case CK_LVM_POOL: {
        char *vg, *pool;

        r = lvm_split_pool(s, &vg, &pool, &why);
        if (r == -ENOMEM)
            return r;
        if (r) {
            report(d, w, "`%s': %s", s, why);
            return -EINVAL;
        }
        free(vg);
        free(pool);
        return 0;
    }
    case CK_PACKAGES:
        return check_packages(d, w, s);
    case CK_BRIDGE:
        if (check_bridge(s, &why)) {
            report(d, w, "`%s': %s", s, why);
            return -EINVAL;
        }
        return 0;
    }
    return 0;
}

static int is_path_check(enum opt_check c)
{
    return c == CK_DIR || c == CK_PATH || c == CK_FILE || c == CK_SSH_KEY;
}

/* A settings-file flag value: 1, 0, or -1 when it is neither. */
static int parse_bool(const char *s)
{
    static const char *const yes[] = { "yes", "true", "on", "1" };
    static const char *const no[] = { "no", "false", "off", "0" };

    for (size_t i = 0; i < 4; i++) {
        if (!strcmp(s, yes[i]))
            return 1;
        if (!strcmp(s, no[i]))
            return 0;
    }
    return -1;
}

/*
 * Sets w->def's slot from value (a settings-file value, a command-line
 * argument, or NULL for a command-line flag).  0, -EINVAL after
 * recording, -ENOMEM.
 */
static int set_value(struct opt_set *o, const struct where *w, enum opt_layer layer,
                     const char *value, struct diag *d)
{
    const struct opt_def *def = w->def;
    struct opt_value *v = &o->v[def->slot];
    struct opt_value nv = { .by = def, .layer = layer, .line = w->line, .col = w->col };
    char *abs = NULL;
    int r;

    if (def->arg == OPT_FLAG) {
        int yes = 1;

        if (value && !*value) {
            value_reset(v);
            if (def->slot == SLOT_CACHE)
                v->on = true;
            return 0;
        }
        if (value && (yes = parse_bool(value)) < 0) {
            report(d, w, "`%s': expected yes or no", value);
            v->bad = true;
            return -EINVAL;
        }
        if (def->slot == SLOT_CACHE || def->slot == SLOT_BOOT || def->slot == SLOT_FORCE ||
            def->slot == SLOT_DRY_RUN || def->slot == SLOT_GOLDEN || def->slot == SLOT_REFRESH) {
            nv.on = yes ? def->on : !def->on;
        } else if (!yes) {
            /* "noswap = no": the default */
            value_reset(v);
            return 0;
        }
    } else {
        if (!*value) {
            if (w->file) {
                value_reset(v);
                return 0;
            }
            report(d, w, "an empty value");
            v->bad = true;
            return -EINVAL;
        }
        if (is_path_check(def->check) && value[0] != '/' && !w->file) {
            char *cwd = getcwd(NULL, 0);

            if (!cwd) {
                if (errno == ENOMEM)
                    return -ENOMEM;
                report(d, w, "%s: cannot find the current directory: %s", value,
                       strerror(errno));
                v->bad = true;
                return -EINVAL;
            }
            r = asprintf(&abs, "%s%s%s", cwd, strcmp(cwd, "/") ? "/" : "", value);
            free(cwd);
            if (r < 0)
                return -ENOMEM;
            value = abs;
        }
        if (check_value(d, w, value)) {
            free(abs);
            v->bad = true;
            return d->oom ? -ENOMEM : -EINVAL;
        }
        nv.value = abs ? abs : strdup(value);
        if (!nv.value)
            return -ENOMEM;
    }
    if (w->file && !(nv.file = strdup(w->file))) {
        free(nv.value);
        return -ENOMEM;
    }
    value_reset(v);
    *v = nv;
    return 0;
}

int options_apply_settings(struct opt_set *o, const struct settings *s,
                           enum opt_layer layer, struct diag *d)
{
    const struct settings_section *top = settings_section(s, NULL);
    int bad = 0, r;

    for (size_t i = 1; i < s->nsections; i++) {
        diag_error(d, s->source, s->sections[i].line, s->sections[i].col,
                   "sections (`[%s]') are only for fleet files", s->sections[i].name);
        bad = 1;
    }
    for (size_t i = 0; top && i < top->nentries; i++) {
        const struct settings_entry *e = &top->entries[i];
        const struct opt_def *def = options_find(e->key);
        struct where w = { .def = def, .file = s->source, .line = e->line, .col = e->value_col };

        if (!def) {
            diag_error(d, s->source, e->line, e->col,
                       "unknown setting `%s' (the settings are vm-provision's long"
                       " options; see --help)", e->key);
            bad = 1;
            continue;
        }
        if (def->flags & OPT_CMDLINE_ONLY) {
            diag_error(d, s->source, e->line, e->col,
                       "`%s' is a command-line option only", e->key);
            bad = 1;
            continue;
        }
        if (layer == LAYER_TEMPLATE && (def->flags & OPT_NOT_TEMPLATE)) {
            if (def->slot == SLOT_TEMPLATE)
                diag_error(d, s->source, e->line, e->col,
                           "`template' in a template: a template cannot name another");
            else
                diag_error(d, s->source, e->line, e->col,
                           "`%s' is not for a template: it belongs to one guest (give it"
                           " on the command line or in a --config file)", e->key);
            bad = 1;
            continue;
        }
        r = set_value(o, &w, layer, e->value, d);
        if (r == -ENOMEM)
            return r;
        bad |= r != 0;
    }
    return bad ? -EINVAL : 0;
}

int options_apply_argv(struct opt_set *o, const struct opt_argv *a, struct diag *d)
{
    int bad = 0, r;

    for (size_t i = 0; i < a->nitems; i++) {
        struct where w = { .def = a->items[i].def };

        r = set_value(o, &w, LAYER_CMDLINE, a->items[i].arg, d);
        if (r == -ENOMEM)
            return r;
        bad |= r != 0;
    }
    return bad ? -EINVAL : 0;
}

/* ---- the command line ---- */

/* Records an unknown or ambiguous long option arg ("--name[=value]"). */
static void bad_long_option(const char *arg, struct diag *d)
{
    const char *name = arg + 2;
    size_t n = strcspn(name, "="), matches = 0;
    char list[512] = "";

    for (size_t i = 0; i < NOPTS; i++) {
        if (!strncmp(options_table[i].name, name, n)) {
            if (matches++)
                strncat(list, ", ", sizeof(list) - strlen(list) - 1);
            strncat(list, "--", sizeof(list) - strlen(list) - 1);
            strncat(list, options_table[i].name, sizeof(list) - strlen(list) - 1);
        }
    }
    if (matches > 1 && n)
        diag_error(d, NULL, 0, 0, "ambiguous option `--%.*s' (%s)", (int)n, name, list);
    else
        diag_error(d, NULL, 0, 0, "unknown option `%s' (see --help)", arg);
}

int options_parse_argv(int argc, char **argv, struct opt_argv *a, struct diag *d)
{
    struct option longopts[NOPTS + 1];
    int c, bad = 0;

    memset(a, 0, sizeof(*a));
    memset(longopts, 0, sizeof(longopts));
    for (size_t i = 0; i < NOPTS; i++) {
        longopts[i].name = options_table[i].name;
        longopts[i].has_arg = options_table[i].arg == OPT_VALUE ? required_argument
                                                                : no_argument;
        longopts[i].val = 256 + (int)i;
    }
    if (!(a->items = calloc((size_t)argc + 1, sizeof(*a->items))) ||
        !(a->configs = calloc((size_t)argc + 1, sizeof(*a->configs)))) {
        options_argv_dispose(a);
        return -ENOMEM;
    }
    opterr = 0;
    optind = 0;     /* a full reset (glibc) */
    while ((c = getopt_long(argc, argv, ":hj:", longopts, NULL)) != -1) {
        const struct opt_def *def;

        if (c == 'h') {         /* -h: --help */
            a->help = true;
            continue;
        }
        if (c == 'j') {         /* -j N: --jobs N, as make's */
            a->jobs = optarg;
            continue;
        }

        if (c == ':') {
            def = optopt >= 256 ? &options_table[optopt - 256] : NULL;
            if (def)
                diag_error(d, NULL, 0, 0, "--%s: needs a value (%s)", def->name, def->metavar);
            else
                diag_error(d, NULL, 0, 0, "`%s' needs a value", argv[optind - 1]);
            bad = 1;
            continue;
        }
        if (c == '?') {
            if (optopt >= 256)
                diag_error(d, NULL, 0, 0, "--%s takes no value",
                           options_table[optopt - 256].name);
            else if (optopt > 0)
                diag_error(d, NULL, 0, 0, "unknown option `-%c' (see --help)", optopt);
            else
                bad_long_option(argv[optind - 1], d);
            bad = 1;
            continue;
        }
        def = &options_table[c - 256];
        if (!strcmp(def->name, "help"))
            a->help = true;
        else if (!strcmp(def->name, "list"))
            a->list = true;
        else if (!strcmp(def->name, "json"))
            a->json = true;
        else if (!strcmp(def->name, "delete"))
            a->delete_name = optarg;
        else if (!strcmp(def->name, "batch"))
            a->batch = optarg;
        else if (!strcmp(def->name, "batch-delete"))
            a->batch_delete = optarg;
        else if (!strcmp(def->name, "count"))
            a->count = optarg;
        else if (!strcmp(def->name, "ip-range"))
            a->ip_range = optarg;
        else if (!strcmp(def->name, "jobs"))
            a->jobs = optarg;
        else if (!strcmp(def->name, "snapshot"))
            a->snapshot_name = optarg;
        else if (!strcmp(def->name, "snapshot-size"))
            a->snapshot_size = optarg;
        else if (!strcmp(def->name, "snapshot-list"))
            a->snapshot_list = optarg;
        else if (!strcmp(def->name, "snapshot-delete"))
            a->snapshot_delete = optarg;
        else if (!strcmp(def->name, "template-list"))
            a->template_list = true;
        else if (!strcmp(def->name, "template-show"))
            a->template_show = optarg;
        else if (!strcmp(def->name, "golden-list"))
            a->golden_list = true;
        else if (!strcmp(def->name, "golden-delete"))
            a->golden_delete = optarg;
        else if (!strcmp(def->name, "config"))
            a->configs[a->nconfigs++] = optarg;
        else
            a->items[a->nitems++] = (struct opt_argv_item){ def, optarg };
    }
    for (int i = optind; i < argc; i++) {
        diag_error(d, NULL, 0, 0, "unexpected argument `%s' (options only; see --help)",
                   argv[i]);
        bad = 1;
    }
    return bad ? -EINVAL : 0;
}

/* ---- help ---- */

#define HELP_INDENT 28
#define HELP_WIDTH 79

char *options_help(const char *prog)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return NULL;
    fprintf(f, "usage: %s --hostname NAME [OPTION...]\n"
            "       %s --list [--json]\n"
            "       %s --delete NAME\n"
            "       %s --snapshot NAME [--snapshot-size SIZE]\n"
            "       %s --snapshot-list NAME | --snapshot-delete VOLUME\n"
            "       %s --template-list | --template-show NAME [OPTION...]\n"
            "       %s --golden-list | --golden-delete ID|all\n"
            "       %s --batch FLEET [-j N] [OPTION...] | --batch-delete FLEET\n"
            "       %s --count N --hostname PATTERN [--ip-range RANGE] [-j N] [OPTION...]\n"
            "Makes a guest: its images, root file system, hooks, kernel and config\n"
            "(--dry-run shows the plan and changes nothing).\n\n"
            "Options (each is also a key in provision.conf and --config files, but for\n"
            "force, refresh, dry-run, config, list, json, delete, snapshot*, template-list,\n"
            "template-show, golden-list, golden-delete, batch*, count, ip-range, jobs and\n"
            "help; a template may not set hostname, ip, mac, template):\n",
            prog, prog, prog, prog, prog, prog, prog, prog, prog);
    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt_def *def = &options_table[i];
        char left[64], text[512];
        const char *w;
        int col;

        snprintf(left, sizeof(left), "--%s%s%s", def->name, def->metavar ? " " : "",
                 def->metavar ? def->metavar : "");
        snprintf(text, sizeof(text), "%s%s%s%s%s", def->help, def->defval ? " (" : "",
                 def->defval && strcmp(def->defval, "required") ? "default: " : "",
                 def->defval ? def->defval : "", def->defval ? ")" : "");
        col = fprintf(f, "  %-*s", HELP_INDENT - 2, left);
        if (col > HELP_INDENT)
            col = fprintf(f, "\n%*s", HELP_INDENT, "") - 1;
        /* the words, wrapped before HELP_WIDTH */
        for (w = text; *w;) {
            size_t k = strcspn(w, " ");

            if (col > HELP_INDENT && col + 1 + (int)k > HELP_WIDTH)
                col = fprintf(f, "\n%*s", HELP_INDENT, "") - 1;
            else if (col > HELP_INDENT)
                col += fprintf(f, " ");
            col += fprintf(f, "%.*s", (int)k, w);
            w += k;
            w += strspn(w, " ");
        }
        fputc('\n', f);
    }
    fprintf(f, "\nSizes take K, M, G or T (powers of 1024); a plain number is MiB.\n"
            "Settings come from $VMKIT_CONFDIR/provision.conf, then the template, then\n"
            "each --config FILE, then the command line; the later wins.  See\n"
            "vm-provision(8) and vmkit-template(5).\n");
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
