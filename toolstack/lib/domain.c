/*
 * domain.c - a guest's description validated from its config, as JSON,
 * and written back as a config.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain.h"

/* Keys this file interprets. */
static const char *const applied_keys[] = {
    "accel", "boot", "bootloader", "bootloader_args", "builder", "cap",
    "cmdline", "cpu_weight", "cpus", "cpus_soft", "disk", "extra", "kernel",
    "maxmem", "maxvcpus", "memory", "name", "on_crash", "on_poweroff",
    "on_reboot", "on_soft_reset", "on_watchdog", "pvh", "ramdisk", "root",
    "sdl", "serial", "stdvga", "type", "usbdevice", "uuid", "vcpus", "vif",
    "vnc", "vncdisplay", "vnclisten", "vncpasswd", "vncunused",
};

/* Other keys xl.cfg(5) defines (Xen 4.17): kept and written back, not
 * applied. */
static const char *const xl_keys[] = {
    "acpi", "acpi_firmware", "acpi_s3", "acpi_s4", "altp2m", "altp2mhvm",
    "apic", "arch_arm_sve_vl", "bios", "bios_path_override", "blkdev_start",
    "channel", "claim_mode", "colo", "connectors", "cpuid", "dm_restrict",
    "device_model", "device_model_args", "device_model_args_hvm",
    "device_model_args_pv", "device_model_override",
    "device_model_stubdomain_override", "device_model_stubdomain_seclabel",
    "device_model_user", "device_model_version", "device_tree",
    "driver_domain", "dtdev", "e820_host", "event_channels", "extra_config",
    "features", "firmware", "firmware_override", "gfx_passthru", "gic_version",
    "hap", "hdtype", "hpet", "init_seclabel", "iomem", "ioports", "irqs",
    "keymap", "localtime", "max_event_channels", "max_grant_frames",
    "max_grant_version", "max_maptrack_frames", "mca_caps", "migration_channel",
    "msitranslate", "nestedhvm", "nographic", "nomigrate", "oos", "opengl",
    "p9", "pae", "passthrough", "pci", "pci_permissive", "pci_power_mgmt",
    "pci_msitranslate", "pci_seize", "pool", "pvcalls", "rdm",
    "rdm_mem_boundary", "rtc_timeoffset", "seclabel", "serial_ports",
    "shadow_memory", "smbios_firmware", "soundhw", "spice", "spice_image_compression",
    "spice_streaming_video", "spiceagent_mouse", "spicedisable_ticketing",
    "spicehost", "spicepasswd", "spiceport", "spicetls_port", "spiceusbredirection",
    "spicevdagent", "spiceclipboard_sharing", "stubdomain_kernel",
    "stubdomain_memory", "stubdomain_ramdisk", "suppress_vmdesc", "tee",
    "timer_mode", "timer_tick", "tsc_mode", "usb", "usbctrl", "usbdev",
    "usbversion", "vcpu_hard_affinity", "vcpu_soft_affinity", "vdispl",
    "vfb", "vga", "vif2", "viridian", "vkb", "vkb_device", "vlapic", "vnuma",
    "vpmu", "vsnd", "vtpm", "vuart", "vusb", "vvirtio", "xen_platform_pci",
    "xendev", "xenstore_console", "videoram",
};

static int in_list(const char *const *list, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], key) == 0)
            return 1;
    return 0;
}

#define IN(list, key) in_list((list), sizeof(list) / sizeof((list)[0]), (key))

void domain_init(struct domain_desc *dom)
{
    memset(dom, 0, sizeof(*dom));
    dom->type = DOMAIN_PV;
    dom->memory = 512;
    dom->maxmem = 512;
    dom->vcpus = 1;
    dom->maxvcpus = 1;
    dom->cpu_weight = 256;
    dom->on_poweroff = ACTION_DESTROY;
    dom->on_reboot = ACTION_RESTART;
    dom->on_crash = ACTION_DESTROY;
    dom->on_watchdog = ACTION_DESTROY;
    dom->on_soft_reset = ACTION_SOFT_RESET;
    dom->vnc = dom->vncunused = dom->sdl = dom->stdvga = -1;
    dom->vncdisplay = -1;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void cpuset_dispose(struct cpuset *set)
{
    free(set->text);
    memset(set, 0, sizeof(*set));
}

void domain_dispose(struct domain_desc *dom)
{
    free(dom->name);
    for (size_t i = 0; i < dom->ncpus; i++)
        cpuset_dispose(&dom->cpus[i]);
    free(dom->cpus);
    if (dom->cpus_soft)
        cpuset_dispose(dom->cpus_soft);
    free(dom->cpus_soft);
    free(dom->kernel);
    free(dom->ramdisk);
    free(dom->cmdline);
    free(dom->root);
    free(dom->extra);
    free(dom->bootloader);
    free_strv(dom->bootloader_args, dom->nbootloader_args);
    for (size_t i = 0; i < dom->ndisks; i++)
        disk_spec_dispose(&dom->disks[i]);
    free(dom->disks);
    for (size_t i = 0; i < dom->nvifs; i++)
        vif_spec_dispose(&dom->vifs[i]);
    free(dom->vifs);
    free(dom->boot);
    free_strv(dom->serial, dom->nserial);
    free(dom->vnclisten);
    free(dom->vncpasswd);
    free_strv(dom->usbdevice, dom->nusbdevice);
    for (size_t i = 0; i < dom->nextras; i++) {
        free(dom->extras[i].key);
        cfg_value_free(dom->extras[i].value);
    }
    free(dom->extras);
    domain_init(dom);
}

const char *domain_type_name(enum domain_type t)
{
    switch (t) {
    case DOMAIN_PV: return "pv";
    case DOMAIN_PVH: return "pvh";
    case DOMAIN_HVM: return "hvm";
    }
    return "?";
}

static const char *const action_names[] = {
    [ACTION_DESTROY] = "destroy",
    [ACTION_RESTART] = "restart",
    [ACTION_RENAME_RESTART] = "rename-restart",
    [ACTION_PRESERVE] = "preserve",
    [ACTION_COREDUMP_DESTROY] = "coredump-destroy",
    [ACTION_COREDUMP_RESTART] = "coredump-restart",
    [ACTION_SOFT_RESET] = "soft-reset",
};

const char *domain_action_name(enum domain_action a)
{
    return action_names[a];
}

const char *domain_accel_name(enum domain_accel a)
{
    switch (a) {
    case ACCEL_AUTO: return "auto";
    case ACCEL_KVM: return "kvm";
    case ACCEL_TCG: return "tcg";
    }
    return "?";
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int domain_parse_uuid(const char *s, unsigned char uuid[16])
{
    size_t n = 0;

    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return -EINVAL;
            continue;
        }
        int hi = hexval(s[i]), lo = hi < 0 ? -1 : hexval(s[++i]);

        if (hi < 0 || lo < 0)
            return -EINVAL;
        uuid[n++] = (unsigned char)(hi << 4 | lo);
    }
    return s[36] ? -EINVAL : 0;
}

void domain_format_uuid(const unsigned char u[16], char out[37])
{
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
             u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

static void set_bits(struct cpuset *set, long lo, long hi, int on)
{
    for (long i = lo; i <= hi; i++) {
        if (on)
            set->bits[i / 64] |= 1ULL << (i % 64);
        else
            set->bits[i / 64] &= ~(1ULL << (i % 64));
    }
}

static int cpuset_has(const struct cpuset *set, long i)
{
    return (set->bits[i / 64] >> (i % 64)) & 1;
}

/* Rewrites set->text from the bits as "0,2-3,5". */
static int cpuset_render(struct cpuset *set)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int first = 1;

    if (!f)
        return -ENOMEM;
    for (long i = 0; i < DOMAIN_MAX_CPUS; i++) {
        long j = i;

        if (!cpuset_has(set, i))
            continue;
        while (j + 1 < DOMAIN_MAX_CPUS && cpuset_has(set, j + 1))
            j++;
        fprintf(f, first ? "%ld" : ",%ld", i);
        if (j > i)
            fprintf(f, "-%ld", j);
        first = 0;
        i = j;
    }
    if (fclose(f) != 0) {
        free(buf);
        return -ENOMEM;
    }
    free(set->text);
    set->text = buf;
    return 0;
}

static int parse_cpu(const char *s, const char **end, long *v)
{
    char *ep;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    *v = strtol(s, &ep, 10);
    if (errno || *v >= DOMAIN_MAX_CPUS)
        return -ERANGE;
    *end = ep;
    return 0;
}

int cpuset_parse(const char *s, struct cpuset *set, const char **why)
{
    const char *p = s;
    int first = 1;

    memset(set, 0, sizeof(*set));
    if (strcmp(s, "all") == 0) {
        set_bits(set, 0, DOMAIN_MAX_CPUS - 1, 1);
        goto done;
    }
    if (!strncmp(s, "node:", 5) || !strncmp(s, "nodes:", 6)) {
        *why = "NUMA node sets are not supported; name CPUs";
        return -EINVAL;
    }
    for (;;) {
        int neg = 0;
        long lo, hi;

        while (*p == ' ')
            p++;
        if (*p == '^') {
            neg = 1;
            p++;
            if (first)  /* "^1" alone means every CPU but 1 */
                set_bits(set, 0, DOMAIN_MAX_CPUS - 1, 1);
        }
        if (parse_cpu(p, &p, &lo)) {
            *why = "expected a CPU number (0 to 4095), a range N-M, ^N or \"all\"";
            return -EINVAL;
        }
        hi = lo;
        if (*p == '-' && parse_cpu(p + 1, &p, &hi)) {
            *why = "expected a CPU number after `-'";
            return -EINVAL;
        }
        if (hi < lo) {
            *why = "a range must go upwards (N-M with N <= M)";
            return -EINVAL;
        }
        set_bits(set, lo, hi, !neg);
        first = 0;
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        if (*p++ != ',') {
            *why = "expected `,' between CPU numbers and ranges";
            return -EINVAL;
        }
    }
done:
    if (cpuset_render(set))
        return -ENOMEM;
    if (!*set->text) {
        *why = "the set names no CPU";
        cpuset_dispose(set);
        return -EINVAL;
    }
    return 0;
}

struct ctx {
    const struct cfg *cfg;
    struct domain_desc *dom;
    struct diag *d;
    int nomem;
};

static const char *src(const struct ctx *c)
{
    return c->cfg->source;
}

/* Copies a string key into *field.  0 when absent, -EINVAL on error. */
static int get_str(struct ctx *c, const char *key, char **field)
{
    const char *s;
    int r = cfg_get_string(c->cfg, key, &s, c->d);

    if (r == -ENOENT)
        return 0;
    if (r)
        return r;
    free(*field);
    if (!(*field = strdup(s)))
        c->nomem = 1;
    return 0;
}

static int get_long(struct ctx *c, const char *key, long min, long max, long *v)
{
    int r = cfg_get_long(c->cfg, key, min, max, v, c->d);

    return r == -ENOENT ? 0 : r;
}

static int get_tristate(struct ctx *c, const char *key, int *v)
{
    bool b;
    int r = cfg_get_bool(c->cfg, key, &b, c->d);

    if (r == 0)
        *v = b;
    return r == -ENOENT ? 0 : r;
}

/* A key that xl takes as a string or a list of strings. */
static int get_strv(struct ctx *c, const char *key, char ***v, size_t *n)
{
    const struct cfg_setting *s = cfg_find(c->cfg, key);
    const struct cfg_value *val;
    size_t count;

    if (!s)
        return 0;
    val = s->value;
    count = val->type == CFG_LIST ? val->nitems : 1;
    *v = calloc(count ? count : 1, sizeof(**v));
    if (!*v) {
        c->nomem = 1;
        return 0;
    }
    for (size_t i = 0; i < count; i++) {
        const struct cfg_value *it = val->type == CFG_LIST ? val->items[i] : val;

        if (it->type == CFG_LIST) {
            diag_error(c->d, src(c), it->line, it->col,
                       "`%s' items must be strings, not lists", key);
            return -EINVAL;
        }
        if (!((*v)[(*n)++] = strdup(it->str)))
            c->nomem = 1;
    }
    return 0;
}

static int get_action(struct ctx *c, const char *key, enum domain_action *a)
{
    const struct cfg_setting *s;
    const char *v;
    int r = cfg_get_string(c->cfg, key, &v, c->d);

    if (r == -ENOENT)
        return 0;
    if (r)
        return r;
    for (size_t i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++) {
        if (strcmp(v, action_names[i]) == 0) {
            *a = (enum domain_action)i;
            return 0;
        }
    }
    s = cfg_find(c->cfg, key);
    diag_error(c->d, src(c), s->value->line, s->value->col,
               "`%s' = \"%s\": expected destroy, restart, rename-restart, preserve,"
               " coredump-destroy, coredump-restart or soft-reset", key, v);
    return -EINVAL;
}

static int get_cpuset(struct ctx *c, const struct cfg_value *v, const char *key,
                      struct cpuset *set)
{
    const char *why = NULL;
    int r;

    if (v->type == CFG_LIST) {
        diag_error(c->d, src(c), v->line, v->col, "`%s': expected a CPU list string", key);
        return -EINVAL;
    }
    r = cpuset_parse(v->str, set, &why);
    if (r == -ENOMEM)
        c->nomem = 1;
    else if (r)
        diag_error(c->d, src(c), v->line, v->col, "`%s' = \"%s\": %s", key, v->str, why);
    return r;
}

static int parse_type(struct ctx *c)
{
    struct domain_desc *dom = c->dom;
    const char *type = NULL, *builder = NULL;
    const struct cfg_setting *s;
    int r1 = cfg_get_string(c->cfg, "type", &type, c->d);
    int r2 = cfg_get_string(c->cfg, "builder", &builder, c->d);
    bool pvh = false;

    if ((r1 && r1 != -ENOENT) || (r2 && r2 != -ENOENT))
        return -EINVAL;
    if (type) {
        s = cfg_find(c->cfg, "type");
        if (!strcmp(type, "pv"))
            dom->type = DOMAIN_PV;
        else if (!strcmp(type, "pvh"))
            dom->type = DOMAIN_PVH;
        else if (!strcmp(type, "hvm"))
            dom->type = DOMAIN_HVM;
        else {
            diag_error(c->d, src(c), s->value->line, s->value->col,
                       "`type' = \"%s\": expected pv, pvh or hvm", type);
            return -EINVAL;
        }
        if (builder) {
            s = cfg_find(c->cfg, "builder");
            diag_warn(c->d, src(c), s->line, s->col,
                      "both `type' and `builder' given; `builder' is ignored (as in xl)");
        }
        return 0;
    }
    if (builder) {
        /* xl takes any prefix of "hvm" (even "") as hvm, anything else as pv */
        if (strncmp(builder, "hvm", strlen(builder)) == 0) {
            dom->type = DOMAIN_HVM;
            return 0;
        }
        if (strcmp(builder, "generic") && strcmp(builder, "linux")) {
            s = cfg_find(c->cfg, "builder");
            diag_warn(c->d, src(c), s->value->line, s->value->col,
                      "`builder' = \"%s\" is read as pv (xl's rule: only \"hvm\""
                      " means hvm)", builder);
        }
    }
    if (cfg_get_bool(c->cfg, "pvh", &pvh, c->d) == -EINVAL)
        return -EINVAL;
    if (pvh)
        dom->type = DOMAIN_PVH;
    return 0;
}

static int parse_cpus(struct ctx *c)
{
    struct domain_desc *dom = c->dom;
    const struct cfg_setting *s = cfg_find(c->cfg, "cpus");
    int r = 0;

    if (s) {
        const struct cfg_value *v = s->value;
        size_t n = v->type == CFG_LIST ? v->nitems : 1;

        if (n == 0) {
            diag_error(c->d, src(c), v->line, v->col, "`cpus' is an empty list");
            return -EINVAL;
        }
        dom->cpus = calloc(n, sizeof(*dom->cpus));
        if (!dom->cpus) {
            c->nomem = 1;
            return 0;
        }
        dom->cpus_per_vcpu = v->type == CFG_LIST;
        for (size_t i = 0; i < n && !r; i++, dom->ncpus++)
            r = get_cpuset(c, dom->cpus_per_vcpu ? v->items[i] : v, "cpus", &dom->cpus[i]);
        if (r)
            return r;
    }
    s = cfg_find(c->cfg, "cpus_soft");
    if (s) {
        dom->cpus_soft = calloc(1, sizeof(*dom->cpus_soft));
        if (!dom->cpus_soft) {
            c->nomem = 1;
            return 0;
        }
        r = get_cpuset(c, s->value, "cpus_soft", dom->cpus_soft);
        if (r) {
            free(dom->cpus_soft);
            dom->cpus_soft = NULL;
        }
    }
    return r;
}

static int parse_cmdline(struct ctx *c)
{
    struct domain_desc *dom = c->dom;
    int bad = 0;

    bad |= get_str(c, "cmdline", &dom->cmdline);
    bad |= get_str(c, "root", &dom->root);
    bad |= get_str(c, "extra", &dom->extra);
    if (bad)
        return -EINVAL;
    if (dom->cmdline && (dom->root || dom->extra)) {
        const struct cfg_setting *s = cfg_find(c->cfg, dom->root ? "root" : "extra");

        diag_warn(c->d, src(c), s->line, s->col,
                  "`cmdline' is given, so `root' and `extra' are ignored (as in xl)");
        free(dom->root);
        free(dom->extra);
        dom->root = dom->extra = NULL;
    }
    return 0;
}

static int parse_bootloader(struct ctx *c)
{
    struct domain_desc *dom = c->dom;
    const struct cfg_setting *s;

    if (get_str(c, "bootloader", &dom->bootloader))
        return -EINVAL;
    s = cfg_find(c->cfg, "bootloader_args");
    if (!s)
        return 0;
    if (s->value->type == CFG_LIST)
        return get_strv(c, "bootloader_args", &dom->bootloader_args,
                        &dom->nbootloader_args);

    /* xl's deprecated string form: arguments split at blanks */
    const char *p = s->value->str;

    diag_warn(c->d, src(c), s->value->line, s->value->col,
              "`bootloader_args' as a string is split at blanks (xl does the"
              " same, deprecated); use a list");
    while (*p) {
        size_t n;
        char **v;

        p += strspn(p, " \t");
        n = strcspn(p, " \t");
        if (!n)
            break;
        v = realloc(dom->bootloader_args, (dom->nbootloader_args + 1) * sizeof(*v));
        if (!v || !(v[dom->nbootloader_args] = strndup(p, n))) {
            if (v)
                dom->bootloader_args = v;
            c->nomem = 1;
            return 0;
        }
        dom->bootloader_args = v;
        dom->nbootloader_args++;
        p += n;
    }
    return 0;
}

/* The list under key (disk, vif), whose items must all be strings: *list_r
 * is NULL when it is absent or empty.  0, or -EINVAL after recording errors. */
static int get_spec_list(struct ctx *c, const char *key, const struct cfg_value **list_r)
{
    const struct cfg_value *list;
    int r = cfg_get_list(c->cfg, key, &list, c->d), bad = 0;

    *list_r = NULL;
    if (r)
        return r == -ENOENT ? 0 : r;
    for (size_t i = 0; i < list->nitems; i++) {
        const struct cfg_value *it = list->items[i];

        if (it->type == CFG_LIST) {
            diag_error(c->d, src(c), it->line, it->col,
                       "%s item %zu is a list; each %s is one string (xl would"
                       " silently drop it and every item after it)", key, i, key);
            bad = 1;
        }
    }
    if (bad)
        return -EINVAL;
    if (list->nitems)
        *list_r = list;
    return 0;
}

static int parse_devices(struct ctx *c)
{
    struct domain_desc *dom = c->dom;
    const struct cfg_value *disks, *vifs;
    int r, bad = 0;

    bad |= get_spec_list(c, "disk", &disks) != 0;
    bad |= get_spec_list(c, "vif", &vifs) != 0;
    if (disks && !(dom->disks = calloc(disks->nitems, sizeof(*dom->disks))))
        c->nomem = 1;
    if (vifs && !(dom->vifs = calloc(vifs->nitems, sizeof(*dom->vifs))))
        c->nomem = 1;
    if (c->nomem)
        return 0;
    for (size_t i = 0; disks && i < disks->nitems; i++) {
        const struct cfg_value *it = disks->items[i];

        disk_spec_init(&dom->disks[dom->ndisks++]);
        r = disk_parse(it->str, src(c), it->line, it->col, &dom->disks[i], c->d);
        c->nomem |= r == -ENOMEM;
        bad |= r != 0;
    }
    for (size_t i = 0; vifs && i < vifs->nitems; i++) {
        const struct cfg_value *it = vifs->items[i];

        vif_spec_init(&dom->vifs[dom->nvifs++]);
        r = vif_parse(it->str, src(c), it->line, it->col, &dom->vifs[i], c->d);
        c->nomem |= r == -ENOMEM;
        bad |= r != 0;
    }
    return bad ? -EINVAL : 0;
}

static int parse_hvm(struct ctx *c)
{
    struct domain_desc *dom = c->dom;
    int bad = 0;

    bad |= get_str(c, "boot", &dom->boot);
    if (dom->boot) {
        const struct cfg_setting *s = cfg_find(c->cfg, "boot");

        if (!*dom->boot || strspn(dom->boot, "acdn") != strlen(dom->boot)) {
            diag_error(c->d, src(c), s->value->line, s->value->col,
                       "`boot' = \"%s\": expected letters from a (floppy), c (disk),"
                       " d (cdrom), n (network)", dom->boot);
            bad = 1;
        }
    }
    bad |= get_strv(c, "serial", &dom->serial, &dom->nserial);
    bad |= get_tristate(c, "vnc", &dom->vnc);
    bad |= get_str(c, "vnclisten", &dom->vnclisten);
    bad |= get_long(c, "vncdisplay", 0, 65535 - 5900, &dom->vncdisplay);
    bad |= get_tristate(c, "vncunused", &dom->vncunused);
    bad |= get_str(c, "vncpasswd", &dom->vncpasswd);
    bad |= get_tristate(c, "sdl", &dom->sdl);
    bad |= get_tristate(c, "stdvga", &dom->stdvga);
    bad |= get_strv(c, "usbdevice", &dom->usbdevice, &dom->nusbdevice);
    if (dom->type != DOMAIN_HVM) {
        static const char *const hvm_only[] = {
            "boot", "serial", "vnc", "vnclisten", "vncdisplay", "vncunused",
            "vncpasswd", "sdl", "stdvga", "usbdevice",
        };

        for (size_t i = 0; i < sizeof(hvm_only) / sizeof(hvm_only[0]); i++) {
            const struct cfg_setting *s = cfg_find(c->cfg, hvm_only[i]);

            if (s)
                diag_warn(c->d, src(c), s->line, s->col,
                          "`%s' applies to hvm guests only; ignored for type %s",
                          hvm_only[i], domain_type_name(dom->type));
        }
    }
    return bad ? -EINVAL : 0;
}

static int keep_extras(struct ctx *c)
{
    struct domain_desc *dom = c->dom;
    const struct cfg *cfg = c->cfg;

    for (size_t i = 0; i < cfg->nsettings; i++) {
        const struct cfg_setting *s = &cfg->settings[i];
        struct domain_extra *e;

        if (IN(applied_keys, s->key))
            continue;
        e = realloc(dom->extras, (dom->nextras + 1) * sizeof(*e));
        if (!e) {
            c->nomem = 1;
            return 0;
        }
        dom->extras = e;
        e = &dom->extras[dom->nextras];
        e->known = IN(xl_keys, s->key);
        e->key = strdup(s->key);
        e->value = cfg_value_dup(s->value);
        if (!e->key || !e->value) {
            free(e->key);
            cfg_value_free(e->value);
            c->nomem = 1;
            return 0;
        }
        dom->nextras++;
        if (e->known)
            diag_warn(c->d, src(c), s->line, s->col,
                      "`%s' is an xl.cfg key vmkit does not support; kept, not applied",
                      s->key);
        else
            diag_warn(c->d, src(c), s->line, s->col,
                      "unknown key `%s' (not in xl.cfg(5) or vmkit.cfg(5)); kept,"
                      " not applied", s->key);
    }
    return 0;
}

int domain_from_cfg(const struct cfg *cfg, struct domain_desc *dom, struct diag *d)
{
    struct ctx c = { .cfg = cfg, .dom = dom, .d = d };
    const struct cfg_setting *s;
    const char *v;
    int bad = 0, r;

    bad |= get_str(&c, "name", &dom->name) != 0;
    if (!bad && !dom->name)
        diag_error(d, cfg->source, 0, 0, "no `name' (every guest needs one)"), bad = 1;
    else if (dom->name && (!*dom->name || strchr(dom->name, '/') ||
                           strspn(dom->name, "0123456789") == strlen(dom->name))) {
        s = cfg_find(cfg, "name");
        diag_error(d, cfg->source, s->value->line, s->value->col,
                   "`name' = \"%s\": a name must be non-empty, hold no `/' and not"
                   " be all digits (those are domain IDs)", dom->name);
        bad = 1;
    }

    bad |= parse_type(&c) != 0;

    r = cfg_get_string(cfg, "uuid", &v, d);
    if (r == 0) {
        s = cfg_find(cfg, "uuid");
        if (domain_parse_uuid(v, dom->uuid)) {
            diag_error(d, cfg->source, s->value->line, s->value->col,
                       "`uuid' = \"%s\": expected 8-4-4-4-12 hexadecimal digits", v);
            bad = 1;
        } else {
            dom->has_uuid = true;
        }
    } else if (r != -ENOENT) {
        bad = 1;
    }

    bad |= get_long(&c, "memory", 1, LONG_MAX / 1024, &dom->memory) != 0;
    dom->maxmem = dom->memory;
    bad |= get_long(&c, "maxmem", 1, LONG_MAX / 1024, &dom->maxmem) != 0;
    if (!bad && dom->maxmem < dom->memory) {
        s = cfg_find(cfg, "maxmem");
        diag_error(d, cfg->source, s->value->line, s->value->col,
                   "`maxmem' (%ld) is less than `memory' (%ld)", dom->maxmem, dom->memory);
        bad = 1;
    }
    bad |= get_long(&c, "vcpus", 1, DOMAIN_MAX_CPUS, &dom->vcpus) != 0;
    dom->maxvcpus = dom->vcpus;
    bad |= get_long(&c, "maxvcpus", 1, DOMAIN_MAX_CPUS, &dom->maxvcpus) != 0;
    if (!bad && dom->maxvcpus < dom->vcpus) {
        s = cfg_find(cfg, "maxvcpus");
        diag_error(d, cfg->source, s->value->line, s->value->col,
                   "`maxvcpus' (%ld) is less than `vcpus' (%ld)", dom->maxvcpus, dom->vcpus);
        bad = 1;
    }
    bad |= parse_cpus(&c) != 0;
    bad |= get_long(&c, "cpu_weight", 1, 65535, &dom->cpu_weight) != 0;
    bad |= get_long(&c, "cap", 0, 100L * DOMAIN_MAX_CPUS, &dom->cap) != 0;

    bad |= get_str(&c, "kernel", &dom->kernel) != 0;
    bad |= get_str(&c, "ramdisk", &dom->ramdisk) != 0;
    bad |= parse_cmdline(&c) != 0;
    bad |= parse_bootloader(&c) != 0;

    bad |= get_action(&c, "on_poweroff", &dom->on_poweroff) != 0;
    bad |= get_action(&c, "on_reboot", &dom->on_reboot) != 0;
    bad |= get_action(&c, "on_crash", &dom->on_crash) != 0;
    bad |= get_action(&c, "on_watchdog", &dom->on_watchdog) != 0;
    bad |= get_action(&c, "on_soft_reset", &dom->on_soft_reset) != 0;

    bad |= parse_devices(&c) != 0;
    bad |= parse_hvm(&c) != 0;

    r = cfg_get_string(cfg, "accel", &v, d);
    if (r == 0) {
        if (!strcmp(v, "auto"))
            dom->accel = ACCEL_AUTO;
        else if (!strcmp(v, "kvm"))
            dom->accel = ACCEL_KVM;
        else if (!strcmp(v, "tcg"))
            dom->accel = ACCEL_TCG;
        else {
            s = cfg_find(cfg, "accel");
            diag_error(d, cfg->source, s->value->line, s->value->col,
                       "`accel' = \"%s\": expected auto, kvm or tcg", v);
            bad = 1;
        }
    } else if (r != -ENOENT) {
        bad = 1;
    }

    keep_extras(&c);
    if (c.nomem)
        return -ENOMEM;
    return bad ? -EINVAL : 0;
}

char *domain_cmdline(const struct domain_desc *dom)
{
    char *s = NULL;

    if (dom->cmdline)
        return strdup(dom->cmdline);
    if (dom->root && dom->extra) {
        if (asprintf(&s, "root=%s %s", dom->root, dom->extra) < 0)
            return NULL;
        return s;
    }
    if (dom->root) {
        if (asprintf(&s, "root=%s", dom->root) < 0)
            return NULL;
        return s;
    }
    if (dom->extra)
        return strdup(dom->extra);
    errno = 0;
    return NULL;
}

/* ---- JSON ---- */

static json_object *jstr(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

static json_object *jstrv(char *const *v, size_t n)
{
    json_object *a = json_object_new_array();

    for (size_t i = 0; i < n; i++)
        json_object_array_add(a, json_object_new_string(v[i]));
    return a;
}

static json_object *jtri(int v)
{
    return v < 0 ? NULL : json_object_new_boolean(v);
}

json_object *cfg_value_to_json(const struct cfg_value *v)
{
    json_object *a;

    if (v->type != CFG_LIST)
        return json_object_new_string(v->str);
    a = json_object_new_array();
    for (size_t i = 0; i < v->nitems; i++)
        json_object_array_add(a, cfg_value_to_json(v->items[i]));
    return a;
}

json_object *disk_spec_to_json(const struct disk_spec *k)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "target", jstr(k->target));
    json_object_object_add(o, "vdev", jstr(k->vdev));
    json_object_object_add(o, "format", json_object_new_string(disk_format_name(k->format)));
    json_object_object_add(o, "access", json_object_new_string(k->readwrite ? "rw" : "ro"));
    json_object_object_add(o, "devtype", json_object_new_string(k->cdrom ? "cdrom" : "disk"));
    json_object_object_add(o, "backendtype", jstr(disk_backendtype_name(k->backendtype)));
    json_object_object_add(o, "backend", jstr(k->backend));
    json_object_object_add(o, "script", jstr(k->script));
    json_object_object_add(o, "specification", jstr(disk_specification_name(k->specification)));
    json_object_object_add(o, "discard", jtri(k->discard));
    json_object_object_add(o, "direct_io_safe", json_object_new_boolean(k->direct_io_safe));
    json_object_object_add(o, "colo", jtri(k->colo));
    json_object_object_add(o, "colo_host", jstr(k->colo_host));
    json_object_object_add(o, "colo_port", k->colo_port ? json_object_new_int(k->colo_port) : NULL);
    json_object_object_add(o, "colo_export", jstr(k->colo_export));
    json_object_object_add(o, "active_disk", jstr(k->active_disk));
    json_object_object_add(o, "hidden_disk", jstr(k->hidden_disk));
    return o;
}

json_object *vif_spec_to_json(const struct vif_spec *v)
{
    json_object *o = json_object_new_object();

    for (size_t i = 0; i < v->nparams; i++)
        json_object_object_add(o, v->params[i].key, json_object_new_string(v->params[i].value));
    return o;
}

/* A vif as the description holds it: normalized fields, then any key
 * vmkit keeps without applying. */
static json_object *vif_desc_json(const struct vif_spec *v)
{
    static const char *const fields[] = {
        "mac", "ip", "bridge", "script", "vifname", "model", "type", "backend",
        "gatewaydev", "rate", "mtu", "devid", "netdev",
    };
    json_object *o = json_object_new_object(), *kept = json_object_new_object();

    json_object_object_add(o, "mac", jstr(v->mac));
    json_object_object_add(o, "ip", jstr(v->ip));
    json_object_object_add(o, "bridge", jstr(v->bridge));
    json_object_object_add(o, "script", jstr(v->script));
    json_object_object_add(o, "vifname", jstr(v->vifname));
    json_object_object_add(o, "model", jstr(v->model));
    json_object_object_add(o, "type", jstr(v->type));
    json_object_object_add(o, "backend", jstr(v->backend));
    json_object_object_add(o, "gatewaydev", jstr(v->gatewaydev));
    json_object_object_add(o, "rate_bytes_per_interval",
                           json_object_new_int64((int64_t)v->rate_bytes_per_interval));
    json_object_object_add(o, "rate_interval_usecs",
                           json_object_new_int64(v->rate_interval_usecs));
    json_object_object_add(o, "mtu", json_object_new_int(v->mtu));
    json_object_object_add(o, "devid", json_object_new_int(v->devid));
    json_object_object_add(o, "netdev", json_object_new_string(v->netdev_user ? "user" : "tap"));
    for (size_t i = 0; i < v->nparams; i++)
        if (!IN(fields, v->params[i].key))
            json_object_object_add(kept, v->params[i].key,
                                   json_object_new_string(v->params[i].value));
    json_object_object_add(o, "kept", kept);
    return o;
}

static json_object *cpuset_json(const struct cpuset *set)
{
    return set ? json_object_new_string(set->text) : NULL;
}

json_object *domain_to_json(const struct domain_desc *dom)
{
    json_object *o = json_object_new_object(), *a;
    char uuid[37], *cmd = domain_cmdline(dom);

    json_object_object_add(o, "name", jstr(dom->name));
    json_object_object_add(o, "type", json_object_new_string(domain_type_name(dom->type)));
    if (dom->has_uuid)
        domain_format_uuid(dom->uuid, uuid);
    json_object_object_add(o, "uuid", dom->has_uuid ? json_object_new_string(uuid) : NULL);
    json_object_object_add(o, "memory", json_object_new_int64(dom->memory));
    json_object_object_add(o, "maxmem", json_object_new_int64(dom->maxmem));
    json_object_object_add(o, "vcpus", json_object_new_int64(dom->vcpus));
    json_object_object_add(o, "maxvcpus", json_object_new_int64(dom->maxvcpus));
    if (dom->cpus_per_vcpu) {
        a = json_object_new_array();
        for (size_t i = 0; i < dom->ncpus; i++)
            json_object_array_add(a, cpuset_json(&dom->cpus[i]));
        json_object_object_add(o, "cpus", a);
    } else {
        json_object_object_add(o, "cpus", dom->ncpus ? cpuset_json(&dom->cpus[0]) : NULL);
    }
    json_object_object_add(o, "cpus_soft", cpuset_json(dom->cpus_soft));
    json_object_object_add(o, "cpu_weight", json_object_new_int64(dom->cpu_weight));
    json_object_object_add(o, "cap", json_object_new_int64(dom->cap));
    json_object_object_add(o, "kernel", jstr(dom->kernel));
    json_object_object_add(o, "ramdisk", jstr(dom->ramdisk));
    json_object_object_add(o, "cmdline", jstr(dom->cmdline));
    json_object_object_add(o, "root", jstr(dom->root));
    json_object_object_add(o, "extra", jstr(dom->extra));
    json_object_object_add(o, "kernel_cmdline", jstr(cmd));
    free(cmd);
    json_object_object_add(o, "bootloader", jstr(dom->bootloader));
    json_object_object_add(o, "bootloader_args",
                           dom->bootloader_args ? jstrv(dom->bootloader_args, dom->nbootloader_args) : NULL);
    json_object_object_add(o, "on_poweroff", json_object_new_string(domain_action_name(dom->on_poweroff)));
    json_object_object_add(o, "on_reboot", json_object_new_string(domain_action_name(dom->on_reboot)));
    json_object_object_add(o, "on_crash", json_object_new_string(domain_action_name(dom->on_crash)));
    json_object_object_add(o, "on_watchdog", json_object_new_string(domain_action_name(dom->on_watchdog)));
    json_object_object_add(o, "on_soft_reset", json_object_new_string(domain_action_name(dom->on_soft_reset)));
    a = json_object_new_array();
    for (size_t i = 0; i < dom->ndisks; i++)
        json_object_array_add(a, disk_spec_to_json(&dom->disks[i]));
    json_object_object_add(o, "disks", a);
    a = json_object_new_array();
    for (size_t i = 0; i < dom->nvifs; i++)
        json_object_array_add(a, vif_desc_json(&dom->vifs[i]));
    json_object_object_add(o, "vifs", a);
    json_object_object_add(o, "accel", json_object_new_string(domain_accel_name(dom->accel)));
    json_object_object_add(o, "boot", jstr(dom->boot));
    json_object_object_add(o, "serial", dom->serial ? jstrv(dom->serial, dom->nserial) : NULL);
    json_object_object_add(o, "vnc", jtri(dom->vnc));
    json_object_object_add(o, "vnclisten", jstr(dom->vnclisten));
    json_object_object_add(o, "vncdisplay", dom->vncdisplay >= 0 ? json_object_new_int64(dom->vncdisplay) : NULL);
    json_object_object_add(o, "vncunused", jtri(dom->vncunused));
    json_object_object_add(o, "vncpasswd", jstr(dom->vncpasswd));
    json_object_object_add(o, "sdl", jtri(dom->sdl));
    json_object_object_add(o, "stdvga", jtri(dom->stdvga));
    json_object_object_add(o, "usbdevice", dom->usbdevice ? jstrv(dom->usbdevice, dom->nusbdevice) : NULL);
    a = json_object_new_object();
    for (size_t i = 0; i < dom->nextras; i++)
        json_object_object_add(a, dom->extras[i].key, cfg_value_to_json(dom->extras[i].value));
    json_object_object_add(o, "unsupported", a);
    return o;
}

/* ---- the writer ---- */

struct out {
    FILE *f;
    int bad;        /* errno of the first failure */
};

static void put_str(struct out *o, const char *key, const char *value)
{
    char *q;

    if (!value)
        return;
    q = cfg_quote(value);
    if (!q) {
        if (!o->bad)
            o->bad = errno;
        return;
    }
    fprintf(o->f, "%s = %s\n", key, q);
    free(q);
}

static void put_strv(struct out *o, const char *key, char *const *v, size_t n,
                     int multiline)
{
    fprintf(o->f, "%s = [", key);
    for (size_t i = 0; i < n; i++) {
        char *q = cfg_quote(v[i]);

        if (!q) {
            if (!o->bad)
                o->bad = errno;
            continue;
        }
        fprintf(o->f, "%s%s", multiline ? "\n    " : (i ? ", " : ""), q);
        if (multiline)
            fputc(',', o->f);
        free(q);
    }
    fprintf(o->f, "%s]\n", multiline && n ? "\n" : "");
}

static void put_cpuset(struct out *o, const char *key, const struct cpuset *set)
{
    fprintf(o->f, "%s = \"%s\"\n", key, set->text);
}

char *domain_write_cfg(const struct domain_desc *dom)
{
    struct out o = { 0 };
    char *buf = NULL, uuid[37], **specs = NULL;
    size_t len = 0, nspecs = 0;

    o.f = open_memstream(&buf, &len);
    if (!o.f)
        return NULL;

    fprintf(o.f, "# Guest configuration (xl.cfg syntax; see vmkit.cfg(5))\n");
    put_str(&o, "name", dom->name);
    put_str(&o, "type", domain_type_name(dom->type));
    if (dom->has_uuid) {
        domain_format_uuid(dom->uuid, uuid);
        put_str(&o, "uuid", uuid);
    }
    fprintf(o.f, "\nmemory = %ld\n", dom->memory);
    if (dom->maxmem != dom->memory)
        fprintf(o.f, "maxmem = %ld\n", dom->maxmem);
    fprintf(o.f, "vcpus = %ld\n", dom->vcpus);
    if (dom->maxvcpus != dom->vcpus)
        fprintf(o.f, "maxvcpus = %ld\n", dom->maxvcpus);
    if (dom->cpus_per_vcpu) {
        fprintf(o.f, "cpus = [");
        for (size_t i = 0; i < dom->ncpus; i++)
            fprintf(o.f, "%s\"%s\"", i ? ", " : "", dom->cpus[i].text);
        fprintf(o.f, "]\n");
    } else if (dom->ncpus) {
        put_cpuset(&o, "cpus", &dom->cpus[0]);
    }
    if (dom->cpus_soft)
        put_cpuset(&o, "cpus_soft", dom->cpus_soft);
    if (dom->cpu_weight != 256)
        fprintf(o.f, "cpu_weight = %ld\n", dom->cpu_weight);
    if (dom->cap)
        fprintf(o.f, "cap = %ld\n", dom->cap);
    if (dom->accel != ACCEL_AUTO)
        put_str(&o, "accel", domain_accel_name(dom->accel));

    if (dom->kernel || dom->ramdisk || dom->cmdline || dom->root || dom->extra ||
        dom->bootloader)
        fputc('\n', o.f);
    put_str(&o, "kernel", dom->kernel);
    put_str(&o, "ramdisk", dom->ramdisk);
    put_str(&o, "cmdline", dom->cmdline);
    put_str(&o, "root", dom->root);
    put_str(&o, "extra", dom->extra);
    put_str(&o, "bootloader", dom->bootloader);
    if (dom->bootloader_args)
        put_strv(&o, "bootloader_args", dom->bootloader_args, dom->nbootloader_args, 0);

    fputc('\n', o.f);
    put_str(&o, "on_poweroff", domain_action_name(dom->on_poweroff));
    put_str(&o, "on_reboot", domain_action_name(dom->on_reboot));
    put_str(&o, "on_crash", domain_action_name(dom->on_crash));
    if (dom->on_watchdog != ACTION_DESTROY)
        put_str(&o, "on_watchdog", domain_action_name(dom->on_watchdog));
    if (dom->on_soft_reset != ACTION_SOFT_RESET)
        put_str(&o, "on_soft_reset", domain_action_name(dom->on_soft_reset));

    specs = calloc(dom->ndisks + dom->nvifs + 1, sizeof(*specs));
    if (!specs) {
        o.bad = ENOMEM;
        goto out;
    }
    if (dom->ndisks) {
        for (nspecs = 0; nspecs < dom->ndisks; nspecs++)
            if (!(specs[nspecs] = disk_format_spec(&dom->disks[nspecs])))
                o.bad = ENOMEM;
        fputc('\n', o.f);
        put_strv(&o, "disk", specs, nspecs, 1);
    }
    if (dom->nvifs) {
        for (size_t i = 0; i < dom->nvifs; i++, nspecs++)
            if (!(specs[nspecs] = vif_format(&dom->vifs[i])))
                o.bad = ENOMEM;
        fputc('\n', o.f);
        put_strv(&o, "vif", specs + dom->ndisks, dom->nvifs, 1);
    }

    if (dom->type == DOMAIN_HVM || dom->boot || dom->serial || dom->vnc >= 0 ||
        dom->vnclisten || dom->vncdisplay >= 0 || dom->vncunused >= 0 ||
        dom->vncpasswd || dom->sdl >= 0 || dom->stdvga >= 0 || dom->usbdevice)
        fputc('\n', o.f);
    put_str(&o, "boot", dom->boot);
    if (dom->serial)
        put_strv(&o, "serial", dom->serial, dom->nserial, 0);
    if (dom->vnc >= 0)
        fprintf(o.f, "vnc = %d\n", dom->vnc);
    put_str(&o, "vnclisten", dom->vnclisten);
    if (dom->vncdisplay >= 0)
        fprintf(o.f, "vncdisplay = %ld\n", dom->vncdisplay);
    if (dom->vncunused >= 0)
        fprintf(o.f, "vncunused = %d\n", dom->vncunused);
    put_str(&o, "vncpasswd", dom->vncpasswd);
    if (dom->sdl >= 0)
        fprintf(o.f, "sdl = %d\n", dom->sdl);
    if (dom->stdvga >= 0)
        fprintf(o.f, "stdvga = %d\n", dom->stdvga);
    if (dom->usbdevice)
        put_strv(&o, "usbdevice", dom->usbdevice, dom->nusbdevice, 0);

    if (dom->nextras)
        fprintf(o.f, "\n# Not applied by vmkit, kept as written\n");
    for (size_t i = 0; i < dom->nextras; i++) {
        char *v = NULL;
        size_t vl = 0;
        int r = cfg_format_value(dom->extras[i].value, &v, &vl);

        if (r) {
            if (!o.bad)
                o.bad = -r;
        } else {
            fprintf(o.f, "%s = %s\n", dom->extras[i].key, v);
        }
        free(v);
    }

out:
    for (size_t i = 0; i < nspecs; i++)
        free(specs[i]);
    free(specs);
    if (fclose(o.f) != 0 && !o.bad)
        o.bad = ENOMEM;
    if (o.bad) {
        free(buf);
        errno = o.bad;
        return NULL;
    }
    return buf;
}
