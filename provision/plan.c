/*
 * plan.c - from checked options to a provisioning plan (see plan.h).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aptsrc.h"
#include "cfg.h"
#include "check.h"
#include "hooks.h"
#include "lvm.h"
#include "paths.h"
#include "plan.h"
#include "proc.h"
#include "units.h"
#include "vif.h"

const char *const plan_step_names[] = {
    "validate", "lock", "storage", "install", "hooks", "identity", "kernel", "filesystem",
    "config", "boot", NULL,
};

static const char *const fs_names[] = { "ext4", "xfs", "btrfs" };
static const char *const fs_packages[] = { "e2fsprogs", "xfsprogs", "btrfs-progs" };

void plan_init(struct plan *p)
{
    memset(p, 0, sizeof(*p));
    p->prefix = -1;
    part_layout_init(&p->layout);
    p->boot_method = "direct";
    snprintf(p->root_device, sizeof p->root_device, "LABEL=root");
}

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

void plan_dispose(struct plan *p)
{
    free(p->hostname);
    dist_dispose(&p->dist);
    free(p->dist_origin);
    free(p->arch);
    free(p->install_source);
    free(p->mirror);
    free(p->mirror_origin);
    for (size_t i = 0; i < p->nrepos; i++) {
        free(p->repos[i].name);
        free(p->repos[i].url);
        free(p->repos[i].mirrorlist);
    }
    free(p->repos);
    strv_free(p->packages);
    free(p->image_dir);
    free(p->disk_path);
    free(p->swap_path);
    free(p->lvm_vg);
    free(p->lvm_pool);
    free(p->disk_lv);
    free(p->swap_lv);
    free(p->ssh_key);
    free(p->ip);
    free(p->gateway);
    free(p->nameservers);
    free(p->bridge);
    strv_free(p->roles);
    strv_free(p->hook_dirs);
    free(p->config_path);
    free(p->lock_path);
    free(p->kernel_path);
    free(p->ramdisk_path);
    free(p->cachedir);
    free(p->noswap_origin);
    free(p->nocache_origin);
    part_layout_dispose(&p->layout);
    plan_init(p);
}

/* Appends a copy of s to the NULL-terminated *v; 0 or -ENOMEM. */
static int strv_add(char ***v, const char *s)
{
    size_t n = 0;
    char **nv, *c = strdup(s);

    if (!c)
        return -ENOMEM;
    while (*v && (*v)[n])
        n++;
    nv = realloc(*v, (n + 2) * sizeof(*nv));
    if (!nv) {
        free(c);
        return -ENOMEM;
    }
    nv[n] = c;
    nv[n + 1] = NULL;
    *v = nv;
    return 0;
}

static int strv_has(char *const *v, const char *s)
{
    for (size_t i = 0; v && v[i]; i++)
        if (!strcmp(v[i], s))
            return 1;
    return 0;
}

/* The words of a dist_words or strv joined by sep, into a new string. */
static char *join(char *const *v, size_t n, const char *sep)
{
    size_t len = 1;
    char *s;

    for (size_t i = 0; i < n; i++)
        len += strlen(v[i]) + strlen(sep);
    if (!(s = malloc(len)))
        return NULL;
    s[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(s, sep);
        strcat(s, v[i]);
    }
    return s;
}

static size_t strv_len(char *const *v)
{
    size_t n = 0;

    while (v && v[n])
        n++;
    return n;
}

static const char *family_title(const char *family)
{
    if (!family)
        return "unknown";
    return !strcmp(family, "ubuntu") ? "Ubuntu" : !strcmp(family, "debian") ? "Debian" :
           !strcmp(family, "redhat") ? "Red Hat family" : family;
}

static int exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

static int is_dir(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A value of an option, or NULL when it was not set (or was bad). */
static const char *val(const struct opt_set *o, enum opt_slot slot)
{
    const struct opt_value *v = &o->v[slot];

    return v->by && !v->bad ? v->value : NULL;
}

/* A fresh random (version 4) uuid; 0 or -errno. */
static int make_uuid(unsigned char uuid[16])
{
    size_t got = 0;

    while (got < 16) {
        ssize_t n = getrandom(uuid + got, 16 - got, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            /* no getrandom(): the device */
            int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC), e;

            if (fd < 0)
                return -errno;
            n = read(fd, uuid, 16);
            e = errno;
            close(fd);
            if (n != 16)
                return n < 0 ? -e : -EIO;
            got = 16;
            break;
        }
        got += (size_t)n;
    }
    uuid[6] = (unsigned char)((uuid[6] & 0x0f) | 0x40);
    uuid[8] = (unsigned char)((uuid[8] & 0x3f) | 0x80);
    return 0;
}

struct ctx {
    const struct opt_set *o;
    const struct plan_env *env;
    struct plan *p;
    struct diag *d;
    int usage;          /* a bad input was recorded */
    int failed;         /* a failure was recorded */
    int nomem;
};

#define NOMEM(c) ((c)->nomem = 1)

/* ---- the distribution ---- */

static char *known_dists(struct ctx *c)
{
    char **names = NULL, *s;
    int r = dist_names(c->env->confdir, c->env->datadir, &names);

    if (r == -ENOMEM) {
        NOMEM(c);
        return NULL;
    }
    if (r || !names[0])
        s = strdup("none: the data directory has no templates/dist");
    else
        s = join(names, strv_len(names), " ");
    dist_names_free(names);
    if (!s)
        NOMEM(c);
    return s;
}

static void resolve_dist(struct ctx *c, const struct aptsrc_release *rel)
{
    const struct opt_value *v = &c->o->v[SLOT_DIST];
    const char *name = val(c->o, SLOT_DIST);
    char *known = NULL, *dir = NULL;
    int r;

    if (v->bad)
        return;
    if (!name && !rel->codename) {
        known = known_dists(c);
        options_error(c->d, c->o, SLOT_DIST, "not given, and %s names no"
                      " VERSION_CODENAME to default to; give --dist (known: %s)",
                      rel->file ? rel->file : "no os-release file",
                      known ? known : "?");
        c->usage = 1;
        goto out;
    }
    if (!name) {
        const char *why;

        if (check_name(rel->codename, &why)) {
            options_error(c->d, c->o, SLOT_DIST, "not given, and the host's release"
                          " `%s' (%s) is not a distribution name; give --dist",
                          rel->codename, rel->file);
            c->usage = 1;
            goto out;
        }
        name = rel->codename;
    }
    r = dist_load(c->env->confdir, c->env->datadir, name, &c->p->dist, c->d);
    if (r == -ENOENT) {
        known = known_dists(c);
        dir = paths_join(c->env->datadir, "templates/dist");
        if (val(c->o, SLOT_DIST))
            options_error(c->d, c->o, SLOT_DIST, "unknown distribution `%s' (known: %s)",
                          name, known ? known : "?");
        else
            options_error(c->d, c->o, SLOT_DIST, "not given, and the host's release"
                          " `%s' (%s) has no definition in %s; give --dist (known: %s)",
                          name, rel->file, dir ? dir : "templates/dist",
                          known ? known : "?");
        c->usage = 1;
        goto out;
    }
    if (r == -ENOMEM) {
        NOMEM(c);
        goto out;
    }
    if (r) {
        c->failed = 1;
        goto out;
    }
    if (val(c->o, SLOT_DIST))
        c->p->dist_origin = options_origin(c->o, SLOT_DIST);
    else if (asprintf(&c->p->dist_origin, "the host's release, %s", rel->file) < 0)
        c->p->dist_origin = NULL;
    if (!c->p->dist_origin)
        NOMEM(c);
out:
    free(known);
    free(dir);
}

static void resolve_arch(struct ctx *c)
{
    const char *arch = val(c->o, SLOT_ARCH);
    char *list;

    if (c->o->v[SLOT_ARCH].bad)
        return;
    if (c->p->dist.family && !strcmp(c->p->dist.family, "redhat")) {
        /* rpm's names; Debian's are understood */
        if (!arch || !strcmp(arch, "amd64"))
            arch = "x86_64";
        else if (!strcmp(arch, "arm64"))
            arch = "aarch64";
    } else if (!arch) {
        arch = "amd64";
    }
    if (!(c->p->arch = strdup(arch))) {
        NOMEM(c);
        return;
    }
    if (!c->p->dist.name || dist_words_has(&c->p->dist.architectures, arch))
        return;
    list = join(c->p->dist.architectures.v, c->p->dist.architectures.n, " ");
    options_error(c->d, c->o, SLOT_ARCH, "`%s' is not an architecture vmkit provisions"
                  " %s for (%s lists: %s)", arch, c->p->dist.name, c->p->dist.file,
                  list ? list : "?");
    free(list);
    c->usage = 1;
}

/* ---- install method, source, mirror, packages ---- */

static void resolve_install(struct ctx *c)
{
    static const char *const methods[] = { "mmdebstrap", "debootstrap", "rpm", "tar", "copy" };
    const char *m = val(c->o, SLOT_INSTALL_METHOD), *src = val(c->o, SLOT_INSTALL_SOURCE);
    const struct opt_value *sv = &c->o->v[SLOT_INSTALL_SOURCE];
    const char *fam = c->p->dist.family;
    bool redhat = fam && !strcmp(fam, "redhat");
    struct stat st;

    if (c->o->v[SLOT_INSTALL_METHOD].bad)
        return;
    if (!m)
        m = redhat ? "rpm" : "mmdebstrap";
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (!strcmp(methods[i], m))
            c->p->install_method = methods[i];
    if (fam && (redhat ? !strcmp(m, "mmdebstrap") || !strcmp(m, "debootstrap")
                       : !strcmp(m, "rpm"))) {
        options_error(c->d, c->o, SLOT_INSTALL_METHOD, "%s does not install %s, a%s %s"
                      " release (use %s, tar or copy)", m, c->p->dist.name,
                      strcmp(fam, "ubuntu") ? "" : "n", family_title(fam),
                      redhat ? "rpm" : "mmdebstrap, debootstrap");
        c->usage = 1;
        c->p->install_method = NULL;
        return;
    }
    if (!strcmp(m, "tar") || !strcmp(m, "copy")) {
        int tar = !strcmp(m, "tar");

        if (sv->bad)
            return;
        if (!src) {
            options_error(c->d, c->o, SLOT_INSTALL_SOURCE, "required with"
                          " --install-method %s (the root file system %s)", m,
                          tar ? "tarball" : "directory");
            c->usage = 1;
            return;
        }
        if (stat(src, &st) < 0 || (tar && !S_ISREG(st.st_mode)) ||
            (!tar && !S_ISDIR(st.st_mode))) {
            options_error(c->d, c->o, SLOT_INSTALL_SOURCE, "%s: not a %s, as"
                          " --install-method %s needs", src,
                          tar ? "regular file (a tarball)" : "directory", m);
            c->usage = 1;
            return;
        }
        if (!(c->p->install_source = strdup(src)))
            NOMEM(c);
        return;
    }
    if (src && sv->layer == LAYER_CMDLINE) {
        options_error(c->d, c->o, SLOT_INSTALL_SOURCE, "only with --install-method"
                      " tar or copy (the method is %s)", m);
        c->usage = 1;
    }
}

/* The rpm install's repositories: the mirror (--mirror, or the
 * definition's) joined with each repository's path; a repository's
 * mirror list only when the mirror is the definition's. */
static void resolve_repos(struct ctx *c)
{
    const struct dist *dist = &c->p->dist;
    const char *mirror = val(c->o, SLOT_MIRROR), *why;
    bool given = mirror != NULL;

    if (!mirror && !(mirror = dist->mirror)) {
        options_error(c->d, c->o, SLOT_MIRROR, "not given, and %s names no mirror for %s;"
                      " give --mirror URL (the base of the tree its repositories are in)",
                      dist->file, dist->name);
        c->usage = 1;
        return;
    }
    if (!(c->p->mirror = strdup(mirror)))
        goto nomem;
    c->p->mirror_from_dist = !given;
    if (given)
        c->p->mirror_origin = options_origin(c->o, SLOT_MIRROR);
    else if (asprintf(&c->p->mirror_origin, "%s:%d", dist->file, dist->mirror_line) < 0)
        c->p->mirror_origin = NULL;
    if (!c->p->mirror_origin || !(c->p->repos = calloc(dist->nrepos, sizeof(*c->p->repos))))
        goto nomem;
    for (size_t i = 0; i < dist->nrepos; i++) {
        struct plan_repo *r = &c->p->repos[i];
        const struct dist_repo *dr = &dist->repos[i];
        char *path = dist_expand(dr->path, dist->release, c->p->arch, &why);
        size_t ml = strlen(mirror), pl;

        c->p->nrepos++;
        if (!path)
            goto nomem;     /* the definition's paths were checked */
        /* MIRROR/PATH/, one `/' between, `.' for the mirror itself */
        pl = strlen(path);
        while (pl && path[pl - 1] == '/')
            path[--pl] = 0;
        if (asprintf(&r->url, "%.*s%s%s%s", (int)(ml - (ml && mirror[ml - 1] == '/')), mirror,
                     strcmp(path, ".") ? "/" : "", strcmp(path, ".") ? path : "", "/") < 0)
            r->url = NULL;
        free(path);
        if (!(r->name = strdup(dr->name)) || !r->url)
            goto nomem;
        if (dr->mirrorlist && !given &&
            !(r->mirrorlist = dist_expand(dr->mirrorlist, dist->release, c->p->arch, &why)))
            goto nomem;
    }
    return;
nomem:
    NOMEM(c);
}

static void resolve_mirror(struct ctx *c, const struct aptsrc_release *rel)
{
    const struct dist *dist = &c->p->dist;
    const char *mirror = val(c->o, SLOT_MIRROR), *host_family;
    struct aptsrc_mirror m = { 0 };
    int r;

    if (c->o->v[SLOT_MIRROR].bad || !dist->name || !c->p->install_method ||
        !strcmp(c->p->install_method, "tar") || !strcmp(c->p->install_method, "copy"))
        return;
    if (!strcmp(dist->family, "redhat")) {
        resolve_repos(c);
        return;
    }
    if (mirror) {
        c->p->mirror = strdup(mirror);
        c->p->mirror_origin = options_origin(c->o, SLOT_MIRROR);
        goto check;
    }
    if (dist->mirror) {
        c->p->mirror = strdup(dist->mirror);
        if (asprintf(&c->p->mirror_origin, "%s:%d", dist->file, dist->mirror_line) < 0)
            c->p->mirror_origin = NULL;
        goto check;
    }
    host_family = aptsrc_release_family(rel);
    if (!host_family || strcmp(host_family, dist->family)) {
        options_error(c->d, c->o, SLOT_MIRROR, "not given, and %s is a%s %s release"
                      " while this host is %s (%s), so its apt sources name no %s"
                      " mirror; give one with --mirror URL or `mirror = URL' in"
                      " provision.conf", dist->name,
                      strcmp(dist->family, "ubuntu") ? "" : "n", family_title(dist->family),
                      host_family ? family_title(host_family) : "neither Debian nor Ubuntu",
                      rel->file ? rel->file : "no os-release file",
                      family_title(dist->family));
        c->usage = 1;
        return;
    }
    r = aptsrc_find_mirror(c->env->apt_root, rel->codename, &m, c->d);
    if (r == -ENOENT) {
        char *list = paths_join(c->env->apt_root, "etc/apt/sources.list");

        options_error(c->d, c->o, SLOT_MIRROR, "not given, and %s and %s.d/ name no"
                      " usable `deb' source (http, https or file, component main, not a"
                      " -security suite); give --mirror URL", list ? list : "sources.list",
                      list ? list : "sources.list");
        free(list);
        c->usage = 1;
        return;
    }
    if (r == -ENOMEM) {
        NOMEM(c);
        return;
    }
    if (r) {
        c->failed = 1;
        return;
    }
    c->p->mirror = m.uri;
    m.uri = NULL;
    if (asprintf(&c->p->mirror_origin, "%s:%d", m.file, m.line) < 0)
        c->p->mirror_origin = NULL;
    aptsrc_mirror_dispose(&m);
check:
    if (!c->p->mirror || !c->p->mirror_origin)
        NOMEM(c);
}

/* A Debian package name, as the install takes it: [a-z0-9][a-z0-9+.-]+,
 * optionally :ARCH. */
static int debian_package_ok(const char *s)
{
    size_t n = strcspn(s, ":");

    if (n < 2 || n > 128 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '+' || s[i] == '-' || s[i] == '.'))
            return 0;
    return !s[n] || (s[n + 1] && strspn(s + n + 1, "abcdefghijklmnopqrstuvwxyz0123456789-") ==
                                 strlen(s + n + 1));
}

/* --packages: added to the install's set (and so to the cache key). */
static void resolve_extra_packages(struct ctx *c)
{
    const char *list = val(c->o, SLOT_PACKAGES), *m = c->p->install_method;
    bool debian = c->p->dist.family && strcmp(c->p->dist.family, "redhat");

    if (!list || !m)
        return;
    if (!strcmp(m, "tar") || !strcmp(m, "copy")) {
        options_error(c->d, c->o, SLOT_PACKAGES, "needs a package install method"
                      " (mmdebstrap, debootstrap or rpm); --install-method %s installs none", m);
        c->usage = 1;
        return;
    }
    for (const char *p = list; *p;) {
        size_t k;
        char *name;

        p += strspn(p, ", \t");
        if (!(k = strcspn(p, ", \t")))
            break;
        if (!(name = strndup(p, k))) {
            NOMEM(c);
            return;
        }
        p += k;
        if (debian && !debian_package_ok(name)) {
            options_error(c->d, c->o, SLOT_PACKAGES, "`%s' is not a %s package name"
                          " (lower-case letters, digits, `+', `-' and `.', and an optional"
                          " :ARCH)", name, family_title(c->p->dist.family));
            c->usage = 1;
        } else if (!strv_has(c->p->packages, name) && strv_add(&c->p->packages, name)) {
            NOMEM(c);
        }
        free(name);
    }
}

static void resolve_packages(struct ctx *c, int fs)
{
    const struct dist *dist = &c->p->dist;
    int bad = 0;

    if (!dist->name)
        return;
    for (size_t i = 0; i < dist->packages.n; i++)
        if (!strv_has(c->p->packages, dist->packages.v[i]))
            bad |= strv_add(&c->p->packages, dist->packages.v[i]);
    if (!strv_has(c->p->packages, dist->kernel_package))
        bad |= strv_add(&c->p->packages, dist->kernel_package);
    if (fs >= 0 && !strv_has(c->p->packages, fs_packages[fs]))
        bad |= strv_add(&c->p->packages, fs_packages[fs]);
    if (bad)
        NOMEM(c);
    resolve_extra_packages(c);
}

/* ---- storage and machine ---- */

static void size_text(uint64_t b, char out[24])
{
    if (units_format_size(b, out, 24))
        snprintf(out, 24, "?");
}

static uint64_t size_of(const struct opt_set *o, enum opt_slot slot, const char *def)
{
    const char *s = val(o, slot);
    uint64_t b = 0;

    if (options_parse_size(s ? s : def, &b))
        return 0;
    return b;
}

static int resolve_storage(struct ctx *c)
{
    const struct opt_value *sw = &c->o->v[SLOT_SWAP];
    const char *dir = val(c->o, SLOT_DIR), *fs = val(c->o, SLOT_FS);
    const char *fmt = val(c->o, SLOT_IMAGE_FORMAT);
    const struct opt_value *lvm = &c->o->v[SLOT_LVM];
    int fsi = 0;

    if (!dir)
        dir = c->env->libdir;
    if (!fs)
        fs = "ext4";
    for (int i = 0; i < 3; i++)
        if (!strcmp(fs_names[i], fs))
            fsi = i;
    c->p->fs = fs_names[fsi];
    /* --clone overlay: the disk is a qcow2 overlay, unless the format is
     * given (raw is then an error: resolve_golden) */
    c->p->image_format = (fmt ? !strcmp(fmt, "qcow2")
                              : val(c->o, SLOT_CLONE) && !strcmp(val(c->o, SLOT_CLONE),
                                                                 "overlay"))
                         ? "qcow2" : "raw";
    c->p->size = size_of(c->o, SLOT_SIZE, "4G");
    c->p->swap = sw->by && !strcmp(sw->by->name, "noswap") ? 0 : size_of(c->o, SLOT_SWAP, "512M");
    if (!c->p->hostname)
        return fsi;
    if (asprintf(&c->p->image_dir, "%s%sdomains/%s", dir,
                 dir[strlen(dir) - 1] == '/' ? "" : "/", c->p->hostname) < 0) {
        c->p->image_dir = NULL;
        NOMEM(c);
        return fsi;
    }
    /* --lvm against --dir or qcow2: the later layer wins (provision.conf's
     * lvm = vg0 gives way to --dir on the command line, and the other way
     * round); both on one layer is an error, below */
    const struct opt_value *fv = &c->o->v[SLOT_IMAGE_FORMAT], *dv = &c->o->v[SLOT_DIR];
    bool use_lvm = lvm->value && !lvm->bad && !(dv->value && dv->layer > lvm->layer) &&
                   !(fmt && !strcmp(fmt, "qcow2") && fv->layer > lvm->layer);

    if (use_lvm) {
        struct plan *p = c->p;
        const char *why;
        int r;

        if (!strcmp(lvm->by->name, "lvm-thin"))
            r = lvm_split_pool(lvm->value, &p->lvm_vg, &p->lvm_pool, &why);
        else
            r = (p->lvm_vg = strdup(lvm->value)) ? 0 : -ENOMEM;
        if (r == -ENOMEM || asprintf(&p->disk_lv, "%s-disk", p->hostname) < 0 ||
            asprintf(&p->swap_lv, "%s-swap", p->hostname) < 0) {
            NOMEM(c);
            return fsi;
        }
        if (r) {
            options_error(c->d, c->o, SLOT_LVM, "%s", why);
            c->usage = 1;
            return fsi;
        }
        char longest[160];

        if (fmt && !strcmp(fmt, "qcow2") && fv->layer >= lvm->layer) {
            options_error(c->d, c->o, SLOT_IMAGE_FORMAT, "qcow2 is a file format: a guest on"
                          " --%s is raw on its volume", lvm->by->name);
            c->usage = 1;
        }
        c->p->image_format = "raw";
        if (dv->value && dv->layer >= lvm->layer) {
            options_error(c->d, c->o, SLOT_DIR, "the disks go on volumes (--%s), not in"
                          " files under a directory: give one of the two", lvm->by->name);
            c->usage = 1;
        }
        snprintf(longest, sizeof longest, "%s%s", p->disk_lv, LVM_SNAP_SUFFIX);
        if (!lvm_name_ok(p->disk_lv, &why)) {
            diag_error(c->d, NULL, 0, 0, "--hostname: `%s' cannot name logical volumes"
                       " (%s): %s", p->hostname, p->disk_lv, why);
            c->usage = 1;
        } else if (lvm_dm_name_len(p->lvm_vg, longest) > LVM_DM_NAME_MAX) {
            diag_error(c->d, NULL, 0, 0, "--hostname: `%s' is too long for volumes of %s:"
                       " device-mapper names %s-%s%s would pass %d characters", p->hostname,
                       p->lvm_vg, p->lvm_vg, p->disk_lv, LVM_SNAP_SUFFIX, LVM_DM_NAME_MAX);
            c->usage = 1;
        }
        c->p->disk_path = lvm_path(p->lvm_vg, p->disk_lv);
        if (c->p->swap)
            c->p->swap_path = lvm_path(p->lvm_vg, p->swap_lv);
    } else {
        c->p->disk_path = paths_join(c->p->image_dir, !strcmp(c->p->image_format, "qcow2")
                                     ? "disk.qcow2" : "disk.img");
        if (c->p->swap)
            c->p->swap_path = paths_join(c->p->image_dir, "swap.img");
    }
    if (!c->p->disk_path || (c->p->swap && !c->p->swap_path)) {
        NOMEM(c);
        return fsi;
    }
    c->p->disk_exists = exists(c->p->disk_path);
    c->p->swap_exists = c->p->swap_path && exists(c->p->swap_path);
    return fsi;
}

/*
 * The disk's layout: whole (one file system), or partitioned, by the
 * simple default (one root partition filling --size) or a layout file
 * (the disk as large as its partitions).  Then the boot method.
 */
static void resolve_layout(struct ctx *c)
{
    struct plan *p = c->p;
    const struct opt_value *lv = &c->o->v[SLOT_DISK_LAYOUT];
    const char *table = val(c->o, SLOT_PARTITION_TABLE), *bm = val(c->o, SLOT_BOOT_METHOD);
    const struct part_entry *boot;
    int r;

    if (lv->bad)
        return;
    if (lv->by && !strcmp(lv->by->name, "partitions")) {
        r = partition_layout_read(lv->value, &p->layout, c->d);
        if (r == -ENOMEM)
            NOMEM(c);
        else if (r)
            c->usage = 1;
        if (r)
            return;
        p->partitioned = true;
    } else if (lv->value && !strcmp(lv->value, "partitioned")) {
        if (partition_layout_default(&p->layout, p->fs)) {
            NOMEM(c);
            return;
        }
        p->partitioned = true;
    }
    if (!p->partitioned) {
        if (table && c->o->v[SLOT_PARTITION_TABLE].layer == LAYER_CMDLINE) {
            options_error(c->d, c->o, SLOT_PARTITION_TABLE, "only with --disk-layout"
                          " partitioned or --partitions");
            c->usage = 1;
        }
        if (bm && !strcmp(bm, "pygrub")) {
            options_error(c->d, c->o, SLOT_BOOT_METHOD, "pygrub boots a partitioned disk:"
                          " add --disk-layout partitioned");
            c->usage = 1;
        }
        return;
    }
    r = partition_layout_place(&p->layout, table ? table : "gpt",
                               p->layout.source ? 0 : p->size, c->d);
    if (r) {
        c->usage = 1;
        return;
    }
    if ((r = partition_layout_uuids(&p->layout))) {
        diag_error(c->d, NULL, 0, 0, "cannot make UUIDs: %s", strerror(-r));
        c->failed = 1;
        return;
    }
    p->size = p->layout.disk_size;
    p->fs = p->layout.v[p->layout.root].fs;
    snprintf(p->root_device, sizeof p->root_device, "UUID=%s", p->layout.v[p->layout.root].uuid);
    /* a swap partition replaces the swap disk */
    for (size_t i = 0; i < p->layout.n; i++)
        if (!strcmp(p->layout.v[i].fs, "swap") && p->swap_path) {
            free(p->swap_path);
            p->swap_path = NULL;
            p->swap = 0;
            p->swap_exists = false;
            if (!p->noswap_origin && !(p->noswap_origin = strdup("a swap partition instead")))
                NOMEM(c);
        }
    p->boot_method = bm && !strcmp(bm, "direct") ? "direct" : "pygrub";
    boot = partition_find_mount(&p->layout, "/boot");
    if (!boot)
        boot = &p->layout.v[p->layout.root];
    if (strncmp(boot->fs, "ext", 3)) {
        diag_error(c->d, p->layout.source, boot->line, 0, "/boot is on %s: a partitioned"
                   " guest's /boot must be on ext2, ext3 or ext4 (vmkit's bootloader and"
                   " GRUB's core.img read those)", boot->fs);
        c->usage = 1;
    }
}

static void resolve_machine(struct ctx *c)
{
    const struct opt_value *mx = &c->o->v[SLOT_MAXMEM];
    const char *vcpus = val(c->o, SLOT_VCPUS);

    c->p->memory = (long)(size_of(c->o, SLOT_MEMORY, "512M") / UNITS_MIB);
    c->p->maxmem = val(c->o, SLOT_MAXMEM) ? (long)(size_of(c->o, SLOT_MAXMEM, "0") / UNITS_MIB)
                                          : c->p->memory;
    c->p->vcpus = vcpus ? strtol(vcpus, NULL, 10) : 1;
    if (val(c->o, SLOT_MAXMEM) && !c->o->v[SLOT_MEMORY].bad && c->p->maxmem < c->p->memory) {
        char m[24];

        size_text((uint64_t)c->p->memory * UNITS_MIB, m);
        options_error(c->d, c->o, SLOT_MAXMEM, "`%s' is less than the memory, %s",
                      mx->value, m);
        c->usage = 1;
    }
}

/* ---- network and identity ---- */

static void only_with_ip(struct ctx *c, enum opt_slot slot)
{
    const struct opt_value *v = &c->o->v[slot];

    /* a site default from a settings file simply does not apply */
    if (v->by && !v->bad && v->layer == LAYER_CMDLINE) {
        options_error(c->d, c->o, slot, "only with --ip (without it the guest uses DHCP)");
        c->usage = 1;
    }
}

static void resolve_network(struct ctx *c)
{
    const struct opt_value *ipv = &c->o->v[SLOT_IP];
    const char *ip = val(c->o, SLOT_IP), *mask = val(c->o, SLOT_NETMASK);
    const char *gw = val(c->o, SLOT_GATEWAY), *ns = val(c->o, SLOT_NAMESERVER), *why;
    char addr[64];
    int fam = 0, prefix = -1, mfam = 0, mprefix = -1, gfam = 0;

    if (ns) {
        /* normalised to one space between addresses */
        char *out = malloc(strlen(ns) + 1), *o = out;
        const char *p = ns;

        if (!out) {
            NOMEM(c);
            return;
        }
        while (*p) {
            size_t k;

            p += strspn(p, ", \t");
            k = strcspn(p, ", \t");
            if (!k)
                break;
            if (o != out)
                *o++ = ' ';
            memcpy(o, p, k);
            o += k;
            p += k;
        }
        *o = '\0';
        c->p->nameservers = out;
    }
    if (ipv->bad)
        return;
    if (!ip) {
        c->p->dhcp = true;
        only_with_ip(c, SLOT_NETMASK);
        only_with_ip(c, SLOT_GATEWAY);
        return;
    }
    if (check_ip(ip, addr, sizeof(addr), &fam, &prefix, &why))
        return;     /* cannot happen: checked when set */
    if (!(c->p->ip = strdup(addr))) {
        NOMEM(c);
        return;
    }
    if (mask && !check_netmask(mask, &mprefix, &mfam, &why)) {
        if ((mfam && mfam != fam) || mprefix > (fam == AF_INET ? 32 : 128)) {
            options_error(c->d, c->o, SLOT_NETMASK, "`%s' does not fit the IPv%d address %s",
                          mask, fam == AF_INET ? 4 : 6, addr);
            c->usage = 1;
            return;
        }
        if (prefix >= 0 && prefix != mprefix) {
            options_error(c->d, c->o, SLOT_NETMASK, "`%s' disagrees with the /%d of %s",
                          mask, prefix, ip);
            c->usage = 1;
            return;
        }
        prefix = mprefix;
    }
    if (prefix < 0 && !c->o->v[SLOT_NETMASK].bad) {
        options_error(c->d, c->o, SLOT_IP, "`%s' has no netmask: give ADDR/PREFIX or"
                      " --netmask", ip);
        c->usage = 1;
        return;
    }
    c->p->prefix = prefix;
    if (gw && !check_addr(gw, &gfam, &why)) {
        if (gfam != fam) {
            options_error(c->d, c->o, SLOT_GATEWAY, "`%s' is not an IPv%d address like"
                          " the guest's, %s", gw, fam == AF_INET ? 4 : 6, addr);
            c->usage = 1;
            return;
        }
        if (!(c->p->gateway = strdup(gw)))
            NOMEM(c);
    }
}

static void resolve_hooks(struct ctx *c)
{
    const char *roles = val(c->o, SLOT_ROLE), *hooks = val(c->o, SLOT_HOOKS);
    char *path = NULL;

    path = paths_join(c->env->datadir, "hooks/common");
    if (!path || strv_add(&c->p->hook_dirs, path))
        goto nomem;
    free(path);
    path = NULL;
    /* the family's hooks; Ubuntu is Debian's family, with its own after */
    for (int i = 0; c->p->dist.family && i < 2; i++) {
        const char *fam = i == 0 && !strcmp(c->p->dist.family, "ubuntu") ? "debian"
                          : i == 0 ? c->p->dist.family : "ubuntu";
        char *rel = NULL;

        if (i == 1 && strcmp(c->p->dist.family, "ubuntu"))
            break;
        if (asprintf(&rel, "hooks/%s", fam) < 0)
            goto nomem;
        path = paths_join(c->env->datadir, rel);
        free(rel);
        if (!path || strv_add(&c->p->hook_dirs, path))
            goto nomem;
        free(path);
        path = NULL;
    }
    for (const char *r = roles; r && *r;) {
        size_t k = strcspn(r, ",");
        char *rel = NULL, *name = strndup(r, k);

        if (!name || asprintf(&rel, "hooks/roles/%s", name) < 0) {
            free(name);
            goto nomem;
        }
        path = paths_join(c->env->datadir, rel);
        free(rel);
        if (!path) {
            free(name);
            goto nomem;
        }
        if (!is_dir(path)) {
            options_error(c->d, c->o, SLOT_ROLE, "unknown role `%s' (no directory %s)",
                          name, path);
            c->usage = 1;
        } else if (strv_add(&c->p->roles, name) || strv_add(&c->p->hook_dirs, path)) {
            free(name);
            goto nomem;
        }
        free(name);
        free(path);
        path = NULL;
        r += k;
        if (*r == ',')
            r++;
    }
    if (hooks && strv_add(&c->p->hook_dirs, hooks))
        goto nomem;

    /* what the roles install comes with the bootstrap (and its cache key) */
    if (c->p->roles && !c->usage) {
        char **pkgs = NULL;
        int r = hooks_role_packages(c->env->datadir, c->p->roles, &pkgs, c->d);

        if (r == -ENOMEM)
            goto nomem;
        if (r) {
            c->usage = 1;
            return;
        }
        for (size_t i = 0; pkgs[i]; i++)
            if (!strv_has(c->p->packages, pkgs[i]) && strv_add(&c->p->packages, pkgs[i])) {
                strv_free(pkgs);
                goto nomem;
            }
        strv_free(pkgs);
    }
    return;
nomem:
    free(path);
    NOMEM(c);
}

/* ---- the whole ---- */

/*
 * A golden clone: asked for (--golden), or the default for a template's
 * guest and a batch's, when the guest can be one.  Clones are
 * personalised through libext2fs (ext2root.h) and cloned as files, from
 * a golden image kept in the cache: an ext4 root on a whole disk, in
 * files, from a cached base root.
 */
static void resolve_golden(struct ctx *c)
{
    const struct opt_value *gv = &c->o->v[SLOT_GOLDEN];
    struct plan *p = c->p;
    const char *why = NULL, *clone = val(c->o, SLOT_CLONE), *fmt = val(c->o, SLOT_IMAGE_FORMAT);
    bool asked = gv->by && gv->on;

    p->refresh = c->o->v[SLOT_REFRESH].on;
    if (gv->by ? !gv->on : !c->env->template_name && !c->env->batch) {
        if (p->refresh) {
            options_error(c->d, c->o, SLOT_REFRESH, "rebuilds a golden image: this guest is"
                          " not a clone (--golden makes it one)");
            c->usage = 1;
        }
        return;
    }
    if (!p->cache)
        why = "golden images are kept in the cache, and the cache is off (--no-cache)";
    else if (strcmp(p->install_method, "mmdebstrap") && strcmp(p->install_method, "debootstrap")
             && strcmp(p->install_method, "rpm"))
        why = "a tar or copy install has no cached base root to key a golden image by";
    else if (strcmp(p->fs, "ext4"))
        why = "clones are personalised through libext2fs: an ext4 root, not xfs or btrfs";
    else if (p->partitioned)
        why = "a partitioned disk is not cloned: each guest's partitions have their own UUIDs";
    else if (p->lvm_vg)
        why = "clones are files: not on logical volumes (--lvm, --lvm-thin)";
    if (why) {
        if (asked) {
            options_error(c->d, c->o, SLOT_GOLDEN, "%s", why);
            c->usage = 1;
        } else if (p->refresh) {
            options_error(c->d, c->o, SLOT_REFRESH, "this guest is not a clone: %s", why);
            c->usage = 1;
        }
        p->golden_why = why;
        return;
    }
    p->golden = true;
    p->customize = val(c->o, SLOT_CUSTOMIZE) && !strcmp(val(c->o, SLOT_CUSTOMIZE), "guestfs")
                   ? "guestfs" : "ext2fs";
    /* an overlay, unless a raw disk is asked for: it takes no time and
     * next to no room */
    p->clone = clone ? (!strcmp(clone, "overlay") ? "overlay" : "copy")
                     : fmt && strcmp(fmt, "qcow2") ? "copy" : "overlay";
    if (!strcmp(p->clone, "overlay") && fmt && strcmp(fmt, "qcow2")) {
        options_error(c->d, c->o, SLOT_CLONE, "an overlay is a qcow2 disk: not with"
                      " --image-format %s", fmt);
        c->usage = 1;
    } else if (!strcmp(p->clone, "overlay") && strcmp(p->image_format, "qcow2")) {
        p->image_format = "qcow2";
        free(p->disk_path);
        if (!(p->disk_path = paths_join(p->image_dir, "disk.qcow2")))
            NOMEM(c);
        else
            p->disk_exists = exists(p->disk_path);
    }
}

enum plan_status plan_resolve(const struct opt_set *o, const struct plan_env *env,
                              struct plan *p, struct diag *d)
{
    struct ctx c = { .o = o, .env = env, .p = p, .d = d };
    struct aptsrc_release rel = { 0 };
    const char *s;
    char *dists;
    int r, fsi;

    p->env = env;
    if ((s = val(o, SLOT_HOSTNAME))) {
        if (!(p->hostname = strdup(s)))
            NOMEM(&c);
    } else if (!o->v[SLOT_HOSTNAME].bad) {
        options_error(d, o, SLOT_HOSTNAME, "missing: every guest needs a name");
        c.usage = 1;
    }

    r = aptsrc_read_release(env->apt_root, &rel, d);
    if (r == -ENOMEM)
        NOMEM(&c);
    else if (r && r != -ENOENT)
        c.failed = 1;
    if (!(dists = paths_join(env->datadir, "templates/dist"))) {
        NOMEM(&c);
    } else if (!is_dir(dists)) {
        /* an installation problem, not a bad --dist */
        diag_error(d, NULL, 0, 0, "no distribution definitions: %s is not a directory"
                   " (set VMKIT_DATADIR to vmkit's data directory)", dists);
        c.failed = 1;
    } else {
        resolve_dist(&c, &rel);
    }
    free(dists);
    resolve_arch(&c);
    resolve_install(&c);
    resolve_mirror(&c, &rel);
    fsi = resolve_storage(&c);
    resolve_layout(&c);
    resolve_packages(&c, fsi);
    resolve_machine(&c);
    resolve_network(&c);
    resolve_hooks(&c);

    if (o->v[SLOT_PASSWORD].by && !o->v[SLOT_PASSWORD].bad)
        p->password = o->v[SLOT_PASSWORD].value ? PLAN_PASSWORD_GIVEN : PLAN_PASSWORD_GENERATE;
    if ((s = val(o, SLOT_SSH_KEY)) && !(p->ssh_key = strdup(s)))
        NOMEM(&c);
    p->network = val(o, SLOT_NETWORK) ? val(o, SLOT_NETWORK) : "bridge";
    p->network = !strcmp(p->network, "user") ? "user" : !strcmp(p->network, "none") ? "none"
                                                                                   : "bridge";
    if (!(p->bridge = strdup(val(o, SLOT_BRIDGE) ? val(o, SLOT_BRIDGE) : "br0")))
        NOMEM(&c);
    p->cache = o->v[SLOT_CACHE].on;
    if (!p->cache && !(p->nocache_origin = options_origin(o, SLOT_CACHE)))
        NOMEM(&c);
    if (!p->swap && !p->noswap_origin && !(p->noswap_origin = options_origin(o, SLOT_SWAP)))
        NOMEM(&c);
    p->boot = o->v[SLOT_BOOT].on;
    p->force = o->v[SLOT_FORCE].on;
    resolve_golden(&c);
    if (!(p->cachedir = strdup(env->cachedir)))
        NOMEM(&c);

    if ((r = make_uuid(p->uuid))) {
        diag_error(d, NULL, 0, 0, "cannot make a uuid: %s", strerror(-r));
        c.failed = 1;
    }
    if ((s = val(o, SLOT_MAC))) {
        const char *why;

        check_mac(s, p->mac, &why);
    } else {
        vif_mac_generate(p->uuid, 0, p->mac);
        p->mac_generated = true;
    }

    if (p->hostname) {
        const char *out = val(o, SLOT_OUTPUT) ? val(o, SLOT_OUTPUT) : env->confdir;

        if (asprintf(&p->config_path, "%s%s%s.cfg", out,
                     out[strlen(out) - 1] == '/' ? "" : "/", p->hostname) < 0)
            p->config_path = NULL;
        if (asprintf(&p->lock_path, "%s%sprovision/%s.lock", env->rundir,
                     env->rundir[strlen(env->rundir) - 1] == '/' ? "" : "/", p->hostname) < 0)
            p->lock_path = NULL;
        if (asprintf(&p->kernel_path, "%s%sboot/%s/vmlinuz", env->libdir,
                     env->libdir[strlen(env->libdir) - 1] == '/' ? "" : "/", p->hostname) < 0)
            p->kernel_path = NULL;
        if (asprintf(&p->ramdisk_path, "%s%sboot/%s/initrd.img", env->libdir,
                     env->libdir[strlen(env->libdir) - 1] == '/' ? "" : "/", p->hostname) < 0)
            p->ramdisk_path = NULL;
        if (!p->config_path || !p->lock_path || !p->kernel_path || !p->ramdisk_path)
            NOMEM(&c);
        else
            p->config_exists = exists(p->config_path);
    }

    /* An existing guest is a failure, not a mistake in the options. */
    if (!d->nerrors && !c.nomem && !p->force &&
        (p->config_exists || p->disk_exists || p->swap_exists)) {
        diag_error(d, NULL, 0, 0, "guest `%s' exists: %s (--force replaces it)",
                   p->hostname, p->config_exists ? p->config_path :
                   p->disk_exists ? p->disk_path : p->swap_path);
        c.failed = 1;
    }
    aptsrc_release_dispose(&rel);
    if (c.nomem) {
        diag_error(d, NULL, 0, 0, "out of memory");
        return PLAN_FAILED;
    }
    if (c.usage)
        return PLAN_BAD_INPUT;
    return c.failed ? PLAN_FAILED : PLAN_OK;
}

/* ---- the plan as text ---- */

/* The number of hooks in dir, by hooks_collect's rules; -1 when the
 * directory is absent or unreadable. */
static int count_hooks(const char *dir)
{
    char *dirs[] = { (char *)dir, NULL };
    struct hook_list l = { 0 };
    struct diag d;
    int n;

    if (!is_dir(dir))
        return -1;
    diag_init(&d);
    n = hooks_collect(dirs, &l, &d) == 0 ? (int)l.n : -1;
    hook_list_dispose(&l);
    diag_dispose(&d);
    return n;
}


/* The end of a golden clone's install line: what the guest's disk is. */
static void describe_clone(FILE *f, const struct plan *p)
{
    if (!p->golden)
        fprintf(f, "%s%s\n", p->golden_why ? "; not a golden clone: " : "",
                p->golden_why ? p->golden_why : "");
    else if (!strcmp(p->clone, "overlay"))
        fprintf(f, "; then hooked and stripped of what names a guest; the disk %s: a qcow2"
                " overlay backed by the golden image (backing format raw)\n", p->disk_path);
    else
        fprintf(f, "; then hooked and stripped of what names a guest; the disk %s: a %s copy"
                " of the golden image (reflink, else sparse)\n", p->disk_path, p->image_format);
}

char *plan_describe(const struct plan *p)
{
    const struct plan_env *env = p->env;
    char *buf = NULL, sz[24], sw[24], mem[24], maxm[24], *tool = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    bool debootstrap;
    const char *how;
    char golden[PATH_MAX + 160] = "";

    if (!f)
        return NULL;
    size_text(p->size, sz);
    size_text(p->swap, sw);
    size_text((uint64_t)p->memory * UNITS_MIB, mem);
    size_text((uint64_t)p->maxmem * UNITS_MIB, maxm);

    /* validate */
    fprintf(f, "validate: %s: %s %s (%s, from %s); settings from %s%s",
            p->hostname, p->dist.name, p->arch, p->dist.family, p->dist_origin,
            env->provision_conf, env->provision_conf_read ? "" : " (absent)");
    if (env->template_name)
        fprintf(f, ", template %s (%s)", env->template_name, env->template_file);
    for (size_t i = 0; i < env->nconfigs; i++)
        fprintf(f, ", %s", env->configs[i]);
    fprintf(f, ", then the command line\n");

    /* lock */
    fprintf(f, "lock: %s (one provisioning of %s at a time)\n", p->lock_path, p->hostname);

    /* storage */
    if (p->lvm_vg && p->lvm_pool)
        fprintf(f, "storage: thin volumes in %s/%s (lvm); ", p->lvm_vg, p->lvm_pool);
    else if (p->lvm_vg)
        fprintf(f, "storage: logical volumes in %s (lvm); ", p->lvm_vg);
    else
        fprintf(f, "storage: ");
    if (p->partitioned) {
        fprintf(f, "disk %s (%s, %s, %s partition table%s)", p->disk_path,
                p->image_format, sz, p->layout.table,
                p->disk_exists ? "; exists, --force replaces it" : "");
        if (p->layout.bios_boot)
            fprintf(f, "; partition 1 BIOS boot 1M");
        for (size_t i = 0; i < p->layout.n; i++) {
            const struct part_entry *e = &p->layout.v[i];
            char psz[24];

            size_text(e->size, psz);
            fprintf(f, "; partition %d %s %s %s %s UUID=%s", e->number, e->name, psz, e->fs,
                    e->mountpoint ? e->mountpoint : "swap", e->uuid);
        }
    } else {
        fprintf(f, "root %s (%s, %s, %s labelled root%s)", p->disk_path,
                p->image_format, sz, p->fs,
                p->disk_exists ? "; exists, --force replaces it" : "");
    }
    if (p->swap_path)
        fprintf(f, "; swap %s (raw, %s%s)\n", p->swap_path, sw,
                p->swap_exists ? "; exists, --force replaces it" : "");
    else
        fprintf(f, "; no swap (%s)\n", p->noswap_origin);

    /* install */
    if (p->golden)
        snprintf(golden, sizeof golden, "the golden image under %s/golden (key: the base"
                 " root's, every hook and its settings, fs, size), %s from: ", p->cachedir,
                 p->refresh ? "built afresh (--refresh)" : "or when there is none, built");
    debootstrap = !strcmp(p->install_method, "mmdebstrap") ||
                  !strcmp(p->install_method, "debootstrap");
    if (debootstrap) {
        tool = proc_find_program(p->install_method);
        fprintf(f, "install: %s%s (%s) %s %s from %s (from %s); components ", golden,
                p->install_method, tool ? tool : "not found in PATH", p->dist.suite,
                p->arch, p->mirror, p->mirror_origin);
        for (size_t i = 0; i < p->dist.components.n; i++)
            fprintf(f, "%s%s", i ? " " : "", p->dist.components.v[i]);
        fprintf(f, "; packages");
        for (size_t i = 0; p->packages && p->packages[i]; i++)
            fprintf(f, " %s", p->packages[i]);
        if (p->cache)
            fprintf(f, "; cache %s (key: the mirror's InRelease, suite, arch, packages)",
                    p->cachedir);
        else
            fprintf(f, "; no cache (%s)", p->nocache_origin);
        describe_clone(f, p);
    } else if (!strcmp(p->install_method, "rpm")) {
        fprintf(f, "install: %srpm %s release %s %s from %s (from %s)", golden, p->dist.name,
                p->dist.release, p->arch, p->mirror, p->mirror_origin);
        for (size_t i = 0; i < p->nrepos; i++) {
            fprintf(f, "; repository %s %s", p->repos[i].name, p->repos[i].url);
            if (p->repos[i].mirrorlist)
                fprintf(f, " (mirrorlist %s first)", p->repos[i].mirrorlist);
        }
        fprintf(f, "; packages");
        for (size_t i = 0; p->packages && p->packages[i]; i++)
            fprintf(f, " %s", p->packages[i]);
        fprintf(f, " and what they need (libsolv), unpacked, then installed again by the"
                " guest's own rpm");
        if (p->cache)
            fprintf(f, "; cache %s (key: each repomd.xml, arch, packages)", p->cachedir);
        else
            fprintf(f, "; no cache (%s)", p->nocache_origin);
        describe_clone(f, p);
    } else if (!strcmp(p->install_method, "tar")) {
        fprintf(f, "install: unpack %s (tar) onto the root file system\n", p->install_source);
    } else {
        fprintf(f, "install: copy %s (copy) onto the root file system\n", p->install_source);
    }

    /* hooks, then identity */
    fprintf(f, "hooks:");
    for (size_t i = 0; p->hook_dirs && p->hook_dirs[i]; i++) {
        int n = count_hooks(p->hook_dirs[i]);

        if (n < 0)
            fprintf(f, "%s %s (absent)", i ? "," : "", p->hook_dirs[i]);
        else
            fprintf(f, "%s %s (%d hook%s)", i ? "," : "", p->hook_dirs[i], n, n == 1 ? "" : "s");
    }
    fprintf(f, "%s\n", p->golden ? "; run once, into the golden image, with the settings"
                                   " that name one guest empty" : "");

    /* identity */
    fprintf(f, "identity: hostname %s, network ", p->hostname);
    if (!strcmp(p->network, "none"))
        fprintf(f, "none");
    else if (p->dhcp)
        fprintf(f, "dhcp");
    else
        fprintf(f, "%s/%d%s%s", p->ip, p->prefix, p->gateway ? " via " : "",
                p->gateway ? p->gateway : "");
    fprintf(f, " (%s)", p->dist.network_style);
    if (p->nameservers)
        fprintf(f, ", nameservers %s", p->nameservers);
    fprintf(f, ", root password %s, ssh keys %s; fresh machine-id and ssh host keys",
            p->password == PLAN_PASSWORD_GIVEN ? "given" :
            p->password == PLAN_PASSWORD_GENERATE ? "generated" : "none (locked)",
            p->ssh_key ? p->ssh_key : "none");
    if (p->golden && !strcmp(p->customize, "guestfs"))
        fprintf(f, "; written into the clone by a libguestfs appliance (--customize guestfs),"
                " never mounted on the host\n");
    else if (p->golden)
        fprintf(f, "; written into the clone through libext2fs, never mounted%s\n",
                strcmp(p->clone, "overlay") ? ""
                : " (the overlay seen as a raw file through qemu-storage-daemon's FUSE export)");
    else
        fprintf(f, "\n");

    /* kernel */
    if (p->golden) {
        fprintf(f, "kernel: %s from the golden image to %s and %s (hard links where the"
                " file system is the same)\n", p->dist.kernel_package, p->kernel_path,
                p->ramdisk_path);
    } else if (!strcmp(p->boot_method, "pygrub")) {
        fprintf(f, "kernel: stays in the guest: /boot/grub/grub.cfg boots it (bootloader"
                " pygrub), GRUB in the disk's boot sectors for hvm firmware boot\n");
    } else {
        fprintf(f, "kernel: %s from the guest root to %s and %s (%s, console %s)\n",
                debootstrap || !strcmp(p->install_method, "rpm") ? p->dist.kernel_package
                                                                 : "the kernel",
                p->kernel_path, p->ramdisk_path,
                !strcmp(p->dist.family, "redhat") ? "dracut initramfs with the virtio drivers"
                                                  : "initramfs MODULES=most", p->dist.console);
    }

    /* filesystem */
    how = !strcmp(p->image_format, "qcow2") ? " (via raw, then qemu-img convert)"
          : p->lvm_vg ? " (written on the volume, never mounted)" : " (sparse)";
    if (p->golden) {
        fprintf(f, "filesystem: none to build: the clone %s is the guest's root file system\n",
                p->disk_path);
    } else if (p->partitioned) {
        fprintf(f, "filesystem: %zu file system%s built into %s partitions (mke2fs -E"
                " offset=), %s%s\n", p->layout.n, p->layout.n == 1 ? "" : "s",
                p->layout.table, p->disk_path, how);
    } else {
        fprintf(f, "filesystem: %s labelled root from the guest root, %s, into %s%s\n", p->fs,
                sz, p->disk_path, how);
    }

    /* config */
    fprintf(f, "config: %s (pvh%s, memory %s, maxmem %s, %ld vcpu%s", p->config_path,
            !strcmp(p->boot_method, "pygrub") ? ", bootloader pygrub" : "", mem, maxm,
            p->vcpus, p->vcpus == 1 ? "" : "s");
    if (!strcmp(p->network, "bridge"))
        fprintf(f, ", mac %s%s, bridge %s", p->mac, p->mac_generated ? " from the uuid" : "",
                p->bridge);
    else if (!strcmp(p->network, "user"))
        fprintf(f, ", mac %s%s, QEMU user networking", p->mac,
                p->mac_generated ? " from the uuid" : "");
    else
        fprintf(f, ", no network interface");
    fprintf(f, "%s)\n", p->config_exists ? "; exists, --force replaces it" : "");

    /* boot */
    if (p->boot)
        fprintf(f, "boot: vmctl create %s\n", p->config_path);
    else
        fprintf(f, "boot: no (--boot would run vmctl create %s)\n", p->config_path);

    free(tool);
    if (fclose(f) != 0) {
        free(buf);
        errno = ENOMEM;
        return NULL;
    }
    return buf;
}

/* ---- the guest ---- */

static int add_disk(struct domain_desc *dom, const char *path, const char *vdev,
                    enum disk_format format)
{
    struct disk_spec *v = realloc(dom->disks, (dom->ndisks + 1) * sizeof(*v));

    if (!v)
        return -ENOMEM;
    dom->disks = v;
    v = &dom->disks[dom->ndisks];
    disk_spec_init(v);
    v->format = format;
    v->readwrite = true;
    if (!(v->target = strdup(path)) || !(v->vdev = strdup(vdev))) {
        disk_spec_dispose(v);
        return -ENOMEM;
    }
    dom->ndisks++;
    return 0;
}

int plan_domain(const struct plan *p, struct domain_desc *dom)
{
    struct vif_spec *vif;

    dom->type = DOMAIN_PVH;
    dom->has_uuid = true;
    memcpy(dom->uuid, p->uuid, 16);
    dom->memory = p->memory;
    dom->maxmem = p->maxmem;
    dom->vcpus = dom->maxvcpus = p->vcpus;
    if (!(dom->name = strdup(p->hostname)))
        return -ENOMEM;
    if (!strcmp(p->boot_method, "pygrub")) {
        /* the guest's own grub.cfg, read by vmkit's bootloader */
        if (!(dom->bootloader = strdup("pygrub")))
            return -ENOMEM;
    } else if (!(dom->kernel = strdup(p->kernel_path)) ||
               !(dom->ramdisk = strdup(p->ramdisk_path)) ||
               asprintf(&dom->root, "%s ro", p->root_device) < 0 ||
               asprintf(&dom->extra, "console=%s net.ifnames=0", p->dist.console) < 0) {
        dom->extra = NULL;
        return -ENOMEM;
    }
    if (add_disk(dom, p->disk_path, "xvda",
                 !strcmp(p->image_format, "qcow2") ? DISK_FORMAT_QCOW2 : DISK_FORMAT_RAW))
        return -ENOMEM;
    if (p->swap_path && add_disk(dom, p->swap_path, "xvdb", DISK_FORMAT_RAW))
        return -ENOMEM;
    if (!strcmp(p->network, "none"))
        return 0;
    if (!(dom->vifs = calloc(1, sizeof(*dom->vifs))))
        return -ENOMEM;
    vif = &dom->vifs[0];
    vif_spec_init(vif);
    dom->nvifs = 1;
    if (!(vif->mac = strdup(p->mac)) || (p->ip && !(vif->ip = strdup(p->ip))))
        return -ENOMEM;
    if (!strcmp(p->network, "user"))
        vif->netdev_user = true;
    else if (!(vif->bridge = strdup(p->bridge)))
        return -ENOMEM;
    return 0;
}

int plan_check_config(const char *source, const char *text, const struct domain_desc *dom,
                      struct diag *d)
{
    struct cfg *cfg = NULL;
    struct domain_desc back;
    json_object *a = NULL, *b = NULL;
    size_t before = d->n;
    int r;

    domain_init(&back);
    r = cfg_parse(source, text, strlen(text), &cfg, d);
    if (r == 0)
        r = domain_from_cfg(cfg, &back, d);
    if (r == 0 && d->n != before) {
        diag_error(d, source, 0, 0, "the config written has warnings");
        r = -EINVAL;
    }
    if (r == 0) {
        if (!(a = domain_to_json(dom)) || !(b = domain_to_json(&back)))
            r = -ENOMEM;
        else if (!json_object_equal(a, b)) {
            diag_error(d, source, 0, 0, "the config written reads back as another guest");
            r = -EINVAL;
        }
    }
    json_object_put(a);
    json_object_put(b);
    domain_dispose(&back);
    cfg_free(cfg);
    return r;
}
