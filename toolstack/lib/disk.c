/*
 * disk.c - one xl disk specification, read as libxlutil reads it.
 *
 * libxlutil scans a disk spec with flex: at each point every rule is
 * tried, the longest match wins and the earlier rule wins a tie.  Some
 * rules have trailing context (`phy:/.*' consumes only `phy:' but counts
 * the rest of the string when competing), which is what makes `phy:' win
 * over a positional parameter.  The table below lists the same rules in
 * the same order; disk_parse() measures each and acts on the winner.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"

enum match {
    M_BLANKS,       /* [ \t\n]+ with trailing context ([^ \t\n].*)? */
    M_PARAM,        /* LIT[^,]*,?      (LIT ends in '=') */
    M_WORD,         /* LIT,? */
    M_REST,         /* LIT.* */
    M_UNKNOWN_PARAM,/* [a-z][-a-z0-9]*=[^,],? */
    M_PREFIX,       /* LIT: with trailing context .* */
    M_UNKNOWN_PREFIX, /* [a-z][a-z0-9]*: with trailing context ([^a-z0-9].*)? */
    M_POSITIONAL,   /* [^=,]*,|[^=,]+,? */
    M_ANY,          /* . */
};

enum action {
    A_SKIP, A_FORMAT, A_CDROM, A_DISK, A_BADTYPE, A_ACCESS, A_BACKEND,
    A_BACKENDTYPE, A_SPECIFICATION, A_VDEV, A_SCRIPT, A_DIRECTIO,
    A_DISCARD, A_NODISCARD, A_COLO, A_NOCOLO, A_COLOHOST, A_COLOPORT,
    A_COLOEXPORT, A_ACTIVE, A_HIDDEN, A_TARGET, A_UNKNOWN_PARAM,
    A_PREFIX_FORMAT, A_PREFIX_SCRIPT, A_PREFIX, A_UNKNOWN_PREFIX,
    A_POSITIONAL, A_BAD,
};

static const struct rule {
    enum match match;
    const char *lit;
    enum action action;
} rules[] = {
    { M_BLANKS, NULL, A_SKIP },
    { M_PARAM, "format=", A_FORMAT },
    { M_WORD, "cdrom", A_CDROM },
    { M_WORD, "devtype=cdrom", A_CDROM },
    { M_WORD, "devtype=disk", A_DISK },
    { M_PARAM, "devtype=", A_BADTYPE },
    { M_PARAM, "access=", A_ACCESS },
    { M_PARAM, "backend=", A_BACKEND },
    { M_PARAM, "backendtype=", A_BACKENDTYPE },
    { M_PARAM, "specification=", A_SPECIFICATION },
    { M_PARAM, "vdev=", A_VDEV },
    { M_PARAM, "script=", A_SCRIPT },
    { M_WORD, "direct-io-safe", A_DIRECTIO },
    { M_WORD, "discard", A_DISCARD },
    { M_WORD, "no-discard", A_NODISCARD },
    { M_WORD, "colo", A_COLO },
    { M_WORD, "no-colo", A_NOCOLO },
    { M_PARAM, "colo-host=", A_COLOHOST },
    { M_PARAM, "colo-port=", A_COLOPORT },
    { M_PARAM, "colo-export=", A_COLOEXPORT },
    { M_PARAM, "active-disk=", A_ACTIVE },
    { M_PARAM, "hidden-disk=", A_HIDDEN },
    { M_REST, "target=", A_TARGET },
    { M_UNKNOWN_PARAM, NULL, A_UNKNOWN_PARAM },
    { M_PREFIX, "raw", A_PREFIX_FORMAT },
    { M_PREFIX, "qcow", A_PREFIX_FORMAT },
    { M_PREFIX, "qcow2", A_PREFIX_FORMAT },
    { M_PREFIX, "vhd", A_PREFIX_FORMAT },
    { M_PREFIX, "iscsi", A_PREFIX_SCRIPT },
    { M_PREFIX, "nbd", A_PREFIX_SCRIPT },
    { M_PREFIX, "enbd", A_PREFIX_SCRIPT },
    { M_PREFIX, "drbd", A_PREFIX_SCRIPT },
    { M_PREFIX, "tapdisk", A_PREFIX },
    { M_PREFIX, "tap", A_PREFIX },
    { M_PREFIX, "tap2", A_PREFIX },
    { M_PREFIX, "aio", A_PREFIX },
    { M_PREFIX, "ioemu", A_PREFIX },
    { M_PREFIX, "file", A_PREFIX },
    { M_PREFIX, "phy", A_PREFIX },
    { M_UNKNOWN_PREFIX, NULL, A_UNKNOWN_PREFIX },
    { M_POSITIONAL, NULL, A_POSITIONAL },
    { M_ANY, NULL, A_BAD },
};

struct dpc {
    struct disk_spec *disk;
    const char *spec, *file;
    int line, col;
    struct diag *d;
    int err;
    int nomem;
    int had_prefix;
    int access_set;
};

static int is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Length of `.*' at p: up to a newline or the end. */
static size_t dot_star(const char *p)
{
    return strcspn(p, "\n");
}

/* Measures rule r at p: the whole match (trailing context included) in
 * *total and the part consumed in *used.  0 when the rule does not match. */
static int measure(const struct rule *r, const char *p, size_t *total, size_t *used)
{
    size_t n, l = r->lit ? strlen(r->lit) : 0;

    switch (r->match) {
    case M_BLANKS:
        n = strspn(p, " \t\n");
        if (!n)
            return 0;
        *used = n;
        *total = n + (p[n] ? 1 + dot_star(p + n + 1) : 0);
        return 1;
    case M_PARAM:
        if (strncmp(p, r->lit, l))
            return 0;
        n = l + strcspn(p + l, ",");
        *total = *used = n + (p[n] == ',');
        return 1;
    case M_WORD:
        if (strncmp(p, r->lit, l))
            return 0;
        *total = *used = l + (p[l] == ',');
        return 1;
    case M_REST:
        if (strncmp(p, r->lit, l))
            return 0;
        *total = *used = l + dot_star(p + l);
        return 1;
    case M_UNKNOWN_PARAM:
        if (!(*p >= 'a' && *p <= 'z'))
            return 0;
        n = 1 + strspn(p + 1, "-abcdefghijklmnopqrstuvwxyz0123456789");
        if (p[n] != '=' || !p[n + 1] || p[n + 1] == ',')
            return 0;
        n += 2;
        *total = *used = n + (p[n] == ',');
        return 1;
    case M_PREFIX:
        if (strncmp(p, r->lit, l) || p[l] != ':')
            return 0;
        *used = l + 1;
        *total = l + 1 + dot_star(p + l + 1);
        return 1;
    case M_UNKNOWN_PREFIX:
        if (!(*p >= 'a' && *p <= 'z'))
            return 0;
        n = 1;
        while (is_lower_alnum(p[n]))
            n++;
        if (p[n] != ':')
            return 0;
        *used = ++n;
        *total = n + ((p[n] && !is_lower_alnum(p[n])) ? 1 + dot_star(p + n + 1) : 0);
        return 1;
    case M_POSITIONAL:
        n = strcspn(p, "=,");
        if (p[n] == ',')
            n++;
        else if (!n)
            return 0;
        *total = *used = n;
        return 1;
    case M_ANY:
        if (!*p || *p == '\n')
            return 0;
        *total = *used = 1;
        return 1;
    }
    return 0;
}

static void dpc_error(struct dpc *c, const char *near, const char *msg)
{
    if (near)
        diag_error(c->d, c->file, c->line, c->col,
                   "disk `%s': %s (at `%s')", c->spec, msg, near);
    else
        diag_error(c->d, c->file, c->line, c->col, "disk `%s': %s", c->spec, msg);
    c->err = 1;
}

static void save_string(struct dpc *c, char **field, const char *value,
                        const char *what_respecified)
{
    if (*field) {
        if (**field) {
            dpc_error(c, value, what_respecified);
            return;
        }
        free(*field);   /* an empty string may be overwritten */
    }
    *field = strdup(value);
    if (!*field)
        c->nomem = 1;
}

static void set_format(struct dpc *c, const char *s)
{
    static const struct { const char *name; enum disk_format f; } names[] = {
        { "", DISK_FORMAT_RAW }, { "raw", DISK_FORMAT_RAW },
        { "qcow", DISK_FORMAT_QCOW }, { "qcow2", DISK_FORMAT_QCOW2 },
        { "vhd", DISK_FORMAT_VHD }, { "empty", DISK_FORMAT_EMPTY },
        { "qed", DISK_FORMAT_QED },
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i].name))
            continue;
        if (c->disk->format != DISK_FORMAT_UNKNOWN && c->disk->format != names[i].f)
            dpc_error(c, s, "format respecified");
        else
            c->disk->format = names[i].f;
        return;
    }
    dpc_error(c, s, "unknown format (expected raw, qcow, qcow2, vhd, qed or empty)");
}

static void set_access(struct dpc *c, const char *s)
{
    if (!strcmp(s, "r") || !strcmp(s, "ro"))
        c->disk->readwrite = false;
    else if (!strcmp(s, "rw") || !strcmp(s, "w") || !strcmp(s, ""))
        c->disk->readwrite = true;
    else
        dpc_error(c, s, "unknown access (expected r, ro, w or rw)");
}

static void set_backendtype(struct dpc *c, const char *s)
{
    enum disk_backendtype b;

    if (!strcmp(s, "phy"))
        b = DISK_BACKEND_PHY;
    else if (!strcmp(s, "tap"))
        b = DISK_BACKEND_TAP;
    else if (!strcmp(s, "qdisk"))
        b = DISK_BACKEND_QDISK;
    else if (!strcmp(s, "standalone"))
        b = DISK_BACKEND_STANDALONE;
    else {
        dpc_error(c, s, "unknown backendtype (expected phy, tap, qdisk or standalone)");
        return;
    }
    if (c->disk->backendtype != DISK_BACKEND_UNKNOWN && c->disk->backendtype != b)
        dpc_error(c, s, "backendtype respecified");
    else
        c->disk->backendtype = b;
}

static void set_specification(struct dpc *c, const char *s)
{
    enum disk_specification sp;

    if (!strcmp(s, "xen"))
        sp = DISK_SPEC_XEN;
    else if (!strcmp(s, "virtio"))
        sp = DISK_SPEC_VIRTIO;
    else {
        dpc_error(c, s, "unknown specification (expected xen or virtio)");
        return;
    }
    if (c->disk->specification != DISK_SPEC_UNKNOWN && c->disk->specification != sp)
        dpc_error(c, s, "specification respecified");
    else
        c->disk->specification = sp;
}

/* A positional `VDEV:cdrom' or `VDEV:disk'.  1 if it was one. */
static int vdev_and_devtype(struct dpc *c, char *s)
{
    char *colon = strrchr(s, ':');

    if (!colon)
        return 0;
    *colon++ = 0;
    save_string(c, &c->disk->vdev, s, "vdev respecified");
    if (!strcmp(colon, "cdrom"))
        c->disk->cdrom = true;
    else if (!strcmp(colon, "disk"))
        c->disk->cdrom = false;
    else
        dpc_error(c, colon, "unknown device type after `:' (expected cdrom or disk)");
    return 1;
}

/* xvdX, hdX, sdX, vdX: a device name where the format belongs. */
static int looks_like_vdev(const char *s)
{
    size_t n = !strncmp(s, "xvd", 3) ? 3 : (!strncmp(s, "hd", 2) || !strncmp(s, "sd", 2) ||
                                          !strncmp(s, "vd", 2)) ? 2 : 0;

    return n && s[n] >= 'a' && s[n] <= 'z';
}

static void positional_vdev_error(struct dpc *c, const char *s)
{
    /* what followed the vdev (",w"), kept in the suggested spelling */
    const char *rest = strchr(c->spec, ',');

    rest = rest ? strchr(rest + 1, ',') : NULL;
    diag_error(c->d, c->file, c->line, c->col,
               "disk `%s': `%s' is where the format goes: without a prefix such as"
               " phy: or file:, the fields are target,format,vdev,access (write"
               " `%s,raw,%s%s')", c->spec, s, c->disk->target, s, rest ? rest : "");
    c->err = 1;
}

/* One positional parameter: target, then format, then vdev, then access.
 * Returns 1 when scanning must stop. */
static int positional(struct dpc *c, char *s)
{
    struct disk_spec *disk = c->disk;

    if (c->err)
        return 0;   /* after an error the rest would only mislead */
    if (!disk->target) {
        save_string(c, &disk->target, s, "target respecified");
    } else if (!c->had_prefix && disk->format == DISK_FORMAT_UNKNOWN) {
        if (!*disk->target && vdev_and_devtype(c, s))
            disk->format = DISK_FORMAT_EMPTY;
        else if (looks_like_vdev(s))
            positional_vdev_error(c, s);
        else
            set_format(c, s);
    } else if (!disk->vdev) {
        if (!vdev_and_devtype(c, s))
            save_string(c, &disk->vdev, s, "vdev respecified");
    } else if (!c->access_set) {
        c->access_set = 1;
        set_access(c, s);
    } else {
        dpc_error(c, s, "too many positional parameters (target,format,vdev,access)");
        return 1;
    }
    return 0;
}

/* Acts on one token (text is a modifiable copy of the consumed part).
 * Returns 1 when scanning must stop. */
static int act(struct dpc *c, enum action a, char *text)
{
    struct disk_spec *disk = c->disk;
    size_t len = strlen(text);
    char *value, *script;

    if (a != A_PREFIX_FORMAT && a != A_PREFIX_SCRIPT && a != A_PREFIX &&
        a != A_UNKNOWN_PREFIX && len && text[len - 1] == ',')
        text[--len] = 0;
    value = strchr(text, '=');
    value = value ? value + 1 : text;

    switch (a) {
    case A_SKIP: break;
    case A_FORMAT: set_format(c, value); break;
    case A_CDROM: disk->cdrom = true; break;
    case A_DISK: disk->cdrom = false; break;
    case A_BADTYPE: dpc_error(c, text, "unknown devtype (expected disk or cdrom)"); break;
    case A_ACCESS: set_access(c, value); break;
    case A_BACKEND: save_string(c, &disk->backend, value, "backend respecified"); break;
    case A_BACKENDTYPE: set_backendtype(c, value); break;
    case A_SPECIFICATION: set_specification(c, value); break;
    case A_VDEV: save_string(c, &disk->vdev, value, "vdev respecified"); break;
    case A_SCRIPT: save_string(c, &disk->script, value, "script respecified"); break;
    case A_DIRECTIO: disk->direct_io_safe = true; break;
    case A_DISCARD: disk->discard = 1; break;
    case A_NODISCARD: disk->discard = 0; break;
    case A_COLO: disk->colo = 1; break;
    case A_NOCOLO: disk->colo = 0; break;
    case A_COLOHOST: save_string(c, &disk->colo_host, value, "colo-host respecified"); break;
    case A_COLOPORT:
        if ((disk->colo_port = atoi(value)) == 0)
            dpc_error(c, value, "colo-port must be a non-zero port number");
        break;
    case A_COLOEXPORT: save_string(c, &disk->colo_export, value, "colo-export respecified"); break;
    case A_ACTIVE: save_string(c, &disk->active_disk, value, "active-disk respecified"); break;
    case A_HIDDEN: save_string(c, &disk->hidden_disk, value, "hidden-disk respecified"); break;
    case A_TARGET: save_string(c, &disk->target, value, "target respecified"); break;
    case A_UNKNOWN_PARAM: dpc_error(c, text, "unknown parameter"); break;
    case A_PREFIX_FORMAT:
        text[len - 1] = 0;
        c->had_prefix = 1;
        set_format(c, text);
        break;
    case A_PREFIX_SCRIPT:
        text[len - 1] = 0;
        c->had_prefix = 1;
        if (asprintf(&script, "block-%s", text) < 0) {
            c->nomem = 1;
            return 1;
        }
        save_string(c, &disk->script, script, "script respecified");
        free(script);
        break;
    case A_PREFIX:
        c->had_prefix = 1;
        break;
    case A_UNKNOWN_PREFIX:
        dpc_error(c, text, "unknown prefix (known: raw: qcow: qcow2: vhd: phy: file:"
                  " tap: tap2: tapdisk: aio: ioemu: iscsi: nbd: enbd: drbd:)");
        return 1;
    case A_POSITIONAL:
        return positional(c, text);
    case A_BAD:
        dpc_error(c, text, "bad disk syntax");
        return 1;
    }
    return 0;
}

void disk_spec_init(struct disk_spec *disk)
{
    memset(disk, 0, sizeof(*disk));
    disk->readwrite = true;
    disk->discard = -1;
    disk->colo = -1;
}

void disk_spec_dispose(struct disk_spec *disk)
{
    free(disk->target);
    free(disk->vdev);
    free(disk->backend);
    free(disk->script);
    free(disk->colo_host);
    free(disk->colo_export);
    free(disk->active_disk);
    free(disk->hidden_disk);
    disk_spec_init(disk);
}

int disk_parse(const char *spec, const char *file, int line, int col,
               struct disk_spec *disk, struct diag *d)
{
    struct dpc c = {
        .disk = disk, .spec = spec, .file = file, .line = line, .col = col, .d = d,
    };
    const char *p = spec;

    while (*p && !c.nomem) {
        const struct rule *best = NULL;
        size_t best_total = 0, best_used = 0, total, used;
        char *text;
        int stop;

        for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
            if (measure(&rules[i], p, &total, &used) && total > best_total) {
                best = &rules[i];
                best_total = total;
                best_used = used;
            }
        }
        if (!best) {
            /* only a lone newline after `=' gets here; xl's scanner jams */
            dpc_error(&c, p, "bad disk syntax");
            break;
        }
        text = strndup(p, best_used);
        if (!text) {
            c.nomem = 1;
            break;
        }
        stop = act(&c, best->action, text);
        free(text);
        p += best_used;
        if (stop)
            break;
    }
    if (c.nomem)
        return -ENOMEM;
    if (c.err)
        return -EINVAL;

    if (disk->format == DISK_FORMAT_UNKNOWN)
        disk->format = DISK_FORMAT_RAW;
    if (disk->cdrom) {
        disk->readwrite = false;
        if (!disk->target || !*disk->target)
            disk->format = DISK_FORMAT_EMPTY;
    }
    if (!disk->vdev) {
        dpc_error(&c, NULL, "no vdev given (the guest's device name, e.g. xvda)");
        return -EINVAL;
    }
    if (!disk->target && !disk->cdrom) {
        dpc_error(&c, NULL, "no target given (and the device is not a removable cdrom)");
        return -EINVAL;
    }
    return 0;
}

const char *disk_format_name(enum disk_format f)
{
    switch (f) {
    case DISK_FORMAT_RAW: return "raw";
    case DISK_FORMAT_QCOW: return "qcow";
    case DISK_FORMAT_QCOW2: return "qcow2";
    case DISK_FORMAT_VHD: return "vhd";
    case DISK_FORMAT_QED: return "qed";
    case DISK_FORMAT_EMPTY: return "empty";
    default: return "unknown";
    }
}

const char *disk_backendtype_name(enum disk_backendtype b)
{
    switch (b) {
    case DISK_BACKEND_PHY: return "phy";
    case DISK_BACKEND_TAP: return "tap";
    case DISK_BACKEND_QDISK: return "qdisk";
    case DISK_BACKEND_STANDALONE: return "standalone";
    default: return NULL;
    }
}

const char *disk_specification_name(enum disk_specification s)
{
    switch (s) {
    case DISK_SPEC_XEN: return "xen";
    case DISK_SPEC_VIRTIO: return "virtio";
    default: return NULL;
    }
}

/* Appends ",key=value" (or ",word") to *buf. */
static int add(char **buf, const char *key, const char *value)
{
    char *n;
    int r;

    if (value)
        r = asprintf(&n, "%s%s%s=%s", *buf, **buf ? "," : "", key, value);
    else
        r = asprintf(&n, "%s%s%s", *buf, **buf ? "," : "", key);
    if (r < 0)
        return -1;
    free(*buf);
    *buf = n;
    return 0;
}

char *disk_format_spec(const struct disk_spec *disk)
{
    char *buf = strdup(""), port[16];
    int bad = !buf;

    if (bad)
        return NULL;
    /* An empty cdrom's format is implied; writing format=empty would be
     * read back as the same. */
    bad |= add(&buf, "format", disk_format_name(disk->format));
    bad |= add(&buf, "vdev", disk->vdev);
    bad |= add(&buf, "access", disk->readwrite ? "rw" : "ro");
    if (disk->cdrom)
        bad |= add(&buf, "devtype", "cdrom");
    if (disk->backendtype != DISK_BACKEND_UNKNOWN)
        bad |= add(&buf, "backendtype", disk_backendtype_name(disk->backendtype));
    if (disk->specification != DISK_SPEC_UNKNOWN)
        bad |= add(&buf, "specification", disk_specification_name(disk->specification));
    if (disk->backend)
        bad |= add(&buf, "backend", disk->backend);
    if (disk->script)
        bad |= add(&buf, "script", disk->script);
    if (disk->discard >= 0)
        bad |= add(&buf, disk->discard ? "discard" : "no-discard", NULL);
    if (disk->direct_io_safe)
        bad |= add(&buf, "direct-io-safe", NULL);
    if (disk->colo >= 0)
        bad |= add(&buf, disk->colo ? "colo" : "no-colo", NULL);
    if (disk->colo_host)
        bad |= add(&buf, "colo-host", disk->colo_host);
    if (disk->colo_port) {
        snprintf(port, sizeof(port), "%d", disk->colo_port);
        bad |= add(&buf, "colo-port", port);
    }
    if (disk->colo_export)
        bad |= add(&buf, "colo-export", disk->colo_export);
    if (disk->active_disk)
        bad |= add(&buf, "active-disk", disk->active_disk);
    if (disk->hidden_disk)
        bad |= add(&buf, "hidden-disk", disk->hidden_disk);
    if (disk->target) {
        /* the reader drops one trailing comma of target=; give it one */
        size_t n = strlen(disk->target);
        char *t = malloc(n + 2);

        if (!t) {
            bad = 1;
        } else {
            memcpy(t, disk->target, n + 1);
            if (n && t[n - 1] == ',')
                memcpy(t + n, ",", 2);
            bad |= add(&buf, "target", t);
            free(t);
        }
    }
    if (bad) {
        free(buf);
        errno = ENOMEM;
        return NULL;
    }
    return buf;
}
