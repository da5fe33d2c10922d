/*
 * dist.c - distribution definitions (see dist.h).
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dist.h"
#include "paths.h"
#include "settings.h"

enum {
    K_FAMILY, K_SUITE, K_MIRROR, K_COMPONENTS, K_PACKAGES, K_KERNEL_PACKAGE,
    K_CONSOLE, K_NETWORK_STYLE, K_ARCHITECTURES, K_RELEASE, K_REPOSITORIES,
    K_MIRRORLIST, K_GPGKEY, K_RELEASE_REPOS, K_PASSWORD_HASH, K_EXT4_FEATURES, NKEYS
};

/* Which family a key belongs to: every family, the Debian ones, redhat. */
enum { ALL, DEB, RH };

static const struct {
    int family;
    bool optional;
} key_info[NKEYS] = {
    [K_FAMILY] = { ALL, false },
    [K_SUITE] = { DEB, false },
    [K_MIRROR] = { ALL, true },
    [K_COMPONENTS] = { DEB, false },
    [K_PACKAGES] = { ALL, false },
    [K_KERNEL_PACKAGE] = { ALL, false },
    [K_CONSOLE] = { ALL, false },
    [K_NETWORK_STYLE] = { ALL, false },
    [K_ARCHITECTURES] = { ALL, false },
    [K_RELEASE] = { RH, false },
    [K_REPOSITORIES] = { RH, false },
    [K_MIRRORLIST] = { RH, true },
    [K_GPGKEY] = { RH, true },
    [K_RELEASE_REPOS] = { RH, true },
    [K_PASSWORD_HASH] = { ALL, true },
    [K_EXT4_FEATURES] = { ALL, true },
};

static const char *const keys[NKEYS] = {
    [K_FAMILY] = "family",
    [K_SUITE] = "suite",
    [K_MIRROR] = "mirror",
    [K_COMPONENTS] = "components",
    [K_PACKAGES] = "packages",
    [K_KERNEL_PACKAGE] = "kernel-package",
    [K_CONSOLE] = "console",
    [K_NETWORK_STYLE] = "network-style",
    [K_ARCHITECTURES] = "architectures",
    [K_RELEASE] = "release",
    [K_REPOSITORIES] = "repositories",
    [K_MIRRORLIST] = "mirrorlist",
    [K_GPGKEY] = "gpgkey",
    [K_RELEASE_REPOS] = "release-repos",
    [K_PASSWORD_HASH] = "password-hash",
    [K_EXT4_FEATURES] = "ext4-features",
};

static void words_free(struct dist_words *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->v[i]);
    free(w->v);
    w->v = NULL;
    w->n = 0;
}

void dist_dispose(struct dist *dist)
{
    free(dist->name);
    free(dist->file);
    free(dist->family);
    free(dist->suite);
    free(dist->release);
    for (size_t i = 0; i < dist->nrepos; i++) {
        free(dist->repos[i].name);
        free(dist->repos[i].path);
        free(dist->repos[i].mirrorlist);
    }
    free(dist->repos);
    free(dist->gpgkey);
    free(dist->release_repos);
    free(dist->password_hash);
    free(dist->ext4_features);
    free(dist->mirror);
    words_free(&dist->components);
    words_free(&dist->packages);
    words_free(&dist->architectures);
    free(dist->kernel_package);
    free(dist->console);
    free(dist->network_style);
    memset(dist, 0, sizeof(*dist));
}

int dist_words_has(const struct dist_words *w, const char *word)
{
    for (size_t i = 0; i < w->n; i++)
        if (!strcmp(w->v[i], word))
            return 1;
    return 0;
}

static int words_split(const char *s, struct dist_words *w)
{
    const char *p = s;

    while (*p) {
        const char *b;
        char **v;

        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        for (b = p; *p && *p != ' ' && *p != '\t'; p++)
            ;
        /* NULL-terminated too: the lists go where a strv is taken
         * (install_req's components, strv_join) */
        v = realloc(w->v, (w->n + 2) * sizeof(*v));
        if (!v)
            return -ENOMEM;
        w->v = v;
        w->v[w->n + 1] = NULL;
        if (!(w->v[w->n] = strndup(b, (size_t)(p - b))))
            return -ENOMEM;
        w->n++;
    }
    return 0;
}

/* A Debian package name: [a-z0-9][a-z0-9+.-]+ */
static bool package_name_ok(const char *s)
{
    if (strlen(s) < 2 || !((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '+' ||
              *s == '.' || *s == '-'))
            return false;
    return true;
}

/* An rpm package name or capability: perl(Foo::Bar), /usr/bin/sh,
 * libc.so.6()(64bit) ... printable, no spaces, not an option. */
static bool capability_ok(const char *s)
{
    if (!*s || *s == '-' || strlen(s) > 255)
        return false;
    for (; *s; s++)
        if (*s <= ' ' || *s >= 0x7f || strchr("\"'`$\\;<>|&*?[]{}", *s))
            return false;
    return true;
}

/* A repository name: what yum accepts in a section header. */
static bool repo_name_ok(const char *s)
{
    if (!*s || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

char *dist_expand(const char *s, const char *release, const char *basearch,
                  const char **why_r)
{
    static const struct { const char *name; size_t len; int which; } vars[] = {
        { "${releasever}", 13, 0 }, { "$releasever", 11, 0 },
        { "${basearch}", 11, 1 }, { "$basearch", 9, 1 },
    };
    size_t cap = strlen(s) + 1, n = 0;
    char *out;

    for (const char *p = s; *p; p++)
        if (*p == '$')
            cap += strlen(release) + strlen(basearch);
    if (!(out = malloc(cap)))
        return NULL;
    while (*s) {
        size_t i;

        if (*s != '$') {
            out[n++] = *s++;
            continue;
        }
        for (i = 0; i < sizeof vars / sizeof vars[0]; i++)
            if (!strncmp(s, vars[i].name, vars[i].len))
                break;
        if (i == sizeof vars / sizeof vars[0]) {
            *why_r = "a `$' that is not $releasever or $basearch";
            free(out);
            errno = EINVAL;
            return NULL;
        }
        strcpy(out + n, vars[i].which ? basearch : release);
        n += strlen(out + n);
        s += vars[i].len;
    }
    out[n] = 0;
    return out;
}

/* A repository path below the mirror: relative, no `..', no spaces. */
static const char *repo_path_bad(const char *s)
{
    const char *why;
    char *x;

    if (*s == '/' || strstr(s, "://"))
        return "expected a path relative to the mirror";
    for (const char *p = s; *p; p++)
        if (*p <= ' ' || *p >= 0x7f || strchr("\"'`\\?#", *p))
            return "a space, quote, `?' or `#' in the path";
    if (paths_has_dotdot(s))
        return "a `..' component";
    if (!(x = dist_expand(s, "1", "x86_64", &why)))
        return errno == ENOMEM ? "out of memory" : why;
    free(x);
    return NULL;
}

static bool console_ok(const char *s)
{
    const char *c = s;

    while (*c >= 'a' && *c <= 'z')
        c++;
    if (c == s || c - s > 8)
        return false;
    while (*c >= '0' && *c <= '9')
        c++;
    return !*c;
}

/* NAME=VALUE words of key ent into repos: NAME must be new (add) or
 * known (!add, then VALUE is the mirror list). */
static int repo_words(struct dist *dist, const char *path, const struct settings_entry *ent,
                      bool add, struct diag *d, int *bad)
{
    struct dist_words w = { 0 };
    const char *why;
    int r = words_split(ent->value, &w);

    for (size_t i = 0; !r && i < w.n; i++) {
        char *eq = strchr(w.v[i], '='), *x;
        size_t k;

        if (!eq || eq == w.v[i] || !eq[1]) {
            diag_error(d, path, ent->line, ent->value_col, "%s: `%s': expected NAME=%s",
                       ent->key, w.v[i], add ? "PATH" : "URL");
            *bad = 1;
            continue;
        }
        *eq = 0;
        if (!repo_name_ok(w.v[i])) {
            diag_error(d, path, ent->line, ent->value_col, "%s: `%s' is not a repository"
                       " name (letters, digits, `-', `_', `.')", ent->key, w.v[i]);
            *bad = 1;
            continue;
        }
        for (k = 0; k < dist->nrepos && strcmp(dist->repos[k].name, w.v[i]); k++)
            ;
        if (add && k < dist->nrepos) {
            diag_error(d, path, ent->line, ent->value_col, "%s: `%s' twice", ent->key, w.v[i]);
            *bad = 1;
            continue;
        }
        if (!add && k == dist->nrepos) {
            diag_error(d, path, ent->line, ent->value_col, "%s: `%s' is not among the"
                       " repositories", ent->key, w.v[i]);
            *bad = 1;
            continue;
        }
        if (add && (why = repo_path_bad(eq + 1))) {
            diag_error(d, path, ent->line, ent->value_col, "repositories: %s=%s: %s",
                       w.v[i], eq + 1, why);
            *bad = 1;
            continue;
        }
        if (!add) {
            if (!(x = dist_expand(eq + 1, "1", "x86_64", &why)) && errno == ENOMEM) {
                r = -ENOMEM;
                break;
            }
            if (x && check_url(x, &why) == 0 && strncmp(x, "file:", 5)) {
                free(x);
                if (!(dist->repos[k].mirrorlist = strdup(eq + 1)))
                    r = -ENOMEM;
                continue;
            }
            if (x && !strncmp(x, "file:", 5))
                why = "a mirror list is fetched over http or https";
            free(x);
            diag_error(d, path, ent->line, ent->value_col, "mirrorlist: %s=%s: %s", w.v[i],
                       eq + 1, why);
            *bad = 1;
            continue;
        }
        {
            struct dist_repo *v = realloc(dist->repos, (dist->nrepos + 1) * sizeof(*v));

            if (!v) {
                r = -ENOMEM;
                break;
            }
            dist->repos = v;
            memset(&v[dist->nrepos], 0, sizeof(*v));
            if (!(v[dist->nrepos].name = strdup(w.v[i])) ||
                !(v[dist->nrepos].path = strdup(eq + 1))) {
                free(v[dist->nrepos].name);
                r = -ENOMEM;
                break;
            }
            dist->nrepos++;
        }
    }
    words_free(&w);
    return r;
}

/* The definition's file: confdir/dist/NAME.conf when it exists, else
 * datadir's; *s_r NULL when neither does. */
static int read_definition(const char *confdir, const char *datadir, const char *name,
                           char **path_r, struct settings **s_r, struct diag *d)
{
    const char *const dirs[2] = { confdir, datadir };
    const char *const sub[2] = { "dist", "templates/dist" };

    *path_r = NULL;
    *s_r = NULL;
    for (int i = 0; i < 2; i++) {
        char *rel = NULL;
        int r;

        if (!dirs[i])
            continue;
        if (asprintf(&rel, "%s/%s.conf", sub[i], name) < 0)
            return -ENOMEM;
        free(*path_r);
        *path_r = paths_join(dirs[i], rel);
        free(rel);
        if (!*path_r)
            return -ENOMEM;
        r = settings_read_file(*path_r, SETTINGS_MISSING_OK, s_r, d);
        if (r != -ENOENT)
            return r;
    }
    return -ENOENT;
}

int dist_load(const char *confdir, const char *datadir, const char *name, struct dist *dist,
              struct diag *d)
{
    const struct settings_entry *e[NKEYS] = { 0 };
    const struct settings_section *top;
    struct settings *s = NULL;
    char *path = NULL;
    const char *why;
    int r, bad = 0, fam = -1;

    memset(dist, 0, sizeof(*dist));
    r = read_definition(confdir, datadir, name, &path, &s, d);
    if (r)
        goto out;

#define BAD(ent, ...) (diag_error(d, path, (ent)->line, (ent)->value_col, __VA_ARGS__), bad = 1)
    for (size_t i = 1; i < s->nsections; i++) {
        diag_error(d, path, s->sections[i].line, s->sections[i].col,
                   "a distribution definition has no sections");
        bad = 1;
    }
    top = settings_section(s, NULL);
    for (size_t i = 0; i < top->nentries; i++) {
        const struct settings_entry *ent = &top->entries[i];
        size_t k;

        for (k = 0; k < NKEYS && strcmp(keys[k], ent->key); k++)
            ;
        if (k == NKEYS) {
            diag_error(d, path, ent->line, ent->col, "unknown key `%s'", ent->key);
            bad = 1;
            continue;
        }
        e[k] = ent;     /* the last one wins */
    }
    if (e[K_FAMILY]) {
        if (!strcmp(e[K_FAMILY]->value, "debian") || !strcmp(e[K_FAMILY]->value, "ubuntu"))
            fam = DEB;
        else if (!strcmp(e[K_FAMILY]->value, "redhat"))
            fam = RH;
        else
            BAD(e[K_FAMILY], "family: `%s': expected debian, ubuntu or redhat",
                e[K_FAMILY]->value);
    }
    for (size_t k = 0; k < NKEYS; k++) {
        if (fam >= 0 && key_info[k].family != ALL && key_info[k].family != fam) {
            if (e[k])
                diag_error(d, path, e[k]->line, e[k]->col, "`%s' is not a key of the %s"
                           " family", keys[k], e[K_FAMILY]->value);
            bad |= !!e[k];
            e[k] = NULL;
            continue;
        }
        if (fam < 0 && key_info[k].family != ALL)
            continue;
        if (!key_info[k].optional && (!e[k] || !*e[k]->value)) {
            diag_error(d, path, e[k] ? e[k]->line : 0, e[k] ? e[k]->value_col : 0,
                       "`%s' is required", keys[k]);
            bad = 1;
            e[k] = NULL;
        }
    }
    if (!(dist->name = strdup(name)) || !(dist->file = strdup(path))) {
        r = -ENOMEM;
        goto out;
    }
    if (e[K_SUITE] && check_name(e[K_SUITE]->value, &why))
        BAD(e[K_SUITE], "suite: `%s': %s", e[K_SUITE]->value, why);
    if (e[K_RELEASE] && check_name(e[K_RELEASE]->value, &why))
        BAD(e[K_RELEASE], "release: `%s': %s", e[K_RELEASE]->value, why);
    if (e[K_MIRROR] && *e[K_MIRROR]->value && check_url(e[K_MIRROR]->value, &why))
        BAD(e[K_MIRROR], "mirror: `%s': %s", e[K_MIRROR]->value, why);
    if (e[K_CONSOLE] && !console_ok(e[K_CONSOLE]->value))
        BAD(e[K_CONSOLE], "console: `%s': expected a device name such as hvc0",
            e[K_CONSOLE]->value);
    if (e[K_NETWORK_STYLE]) {
        static const char *const styles[2][3] = {
            { "ifupdown", "networkd", "netplan" }, { "ifcfg", "nm-keyfile", "networkd" },
        };
        const char *v = e[K_NETWORK_STYLE]->value;
        int f = fam == RH;

        if (strcmp(v, styles[f][0]) && strcmp(v, styles[f][1]) && strcmp(v, styles[f][2]))
            BAD(e[K_NETWORK_STYLE], "network-style: `%s': expected %s, %s or %s", v,
                styles[f][0], styles[f][1], styles[f][2]);
    }
    if (e[K_KERNEL_PACKAGE] && !(fam == RH ? capability_ok : package_name_ok)(
                                   e[K_KERNEL_PACKAGE]->value))
        BAD(e[K_KERNEL_PACKAGE], "kernel-package: `%s' is not a package name",
            e[K_KERNEL_PACKAGE]->value);
    if (e[K_PASSWORD_HASH] && strcmp(e[K_PASSWORD_HASH]->value, "yescrypt") &&
        strcmp(e[K_PASSWORD_HASH]->value, "sha512"))
        BAD(e[K_PASSWORD_HASH], "password-hash: `%s': expected yescrypt or sha512",
            e[K_PASSWORD_HASH]->value);
    if (e[K_RELEASE_REPOS] && strcmp(e[K_RELEASE_REPOS]->value, "keep") &&
        strcmp(e[K_RELEASE_REPOS]->value, "disable"))
        BAD(e[K_RELEASE_REPOS], "release-repos: `%s': expected keep or disable",
            e[K_RELEASE_REPOS]->value);
    if (e[K_EXT4_FEATURES] && (strspn(e[K_EXT4_FEATURES]->value,
                                      "abcdefghijklmnopqrstuvwxyz0123456789_^,") !=
                               strlen(e[K_EXT4_FEATURES]->value) ||
                               e[K_EXT4_FEATURES]->value[0] == ','))
        BAD(e[K_EXT4_FEATURES], "ext4-features: `%s': expected mke2fs -O's list, such as"
            " ^metadata_csum", e[K_EXT4_FEATURES]->value);
    if (e[K_GPGKEY] && *e[K_GPGKEY]->value && check_url(e[K_GPGKEY]->value, &why))
        BAD(e[K_GPGKEY], "gpgkey: `%s': %s", e[K_GPGKEY]->value, why);

    if ((e[K_COMPONENTS] && words_split(e[K_COMPONENTS]->value, &dist->components)) ||
        (e[K_PACKAGES] && words_split(e[K_PACKAGES]->value, &dist->packages)) ||
        (e[K_ARCHITECTURES] && words_split(e[K_ARCHITECTURES]->value, &dist->architectures)) ||
        (e[K_REPOSITORIES] && repo_words(dist, path, e[K_REPOSITORIES], true, d, &bad)) ||
        (e[K_MIRRORLIST] && repo_words(dist, path, e[K_MIRRORLIST], false, d, &bad))) {
        r = -ENOMEM;
        goto out;
    }
    if (e[K_COMPONENTS] && !dist_words_has(&dist->components, "main"))
        BAD(e[K_COMPONENTS], "components: `main' is missing");
    for (size_t i = 0; i < dist->components.n; i++)
        if (check_name(dist->components.v[i], &why))
            BAD(e[K_COMPONENTS], "components: `%s': %s", dist->components.v[i], why);
    for (size_t i = 0; i < dist->packages.n; i++)
        if (!(fam == RH ? capability_ok : package_name_ok)(dist->packages.v[i]))
            BAD(e[K_PACKAGES], "packages: `%s' is not a package name", dist->packages.v[i]);
    for (size_t i = 0; i < dist->architectures.n; i++)
        if (check_arch(dist->architectures.v[i], &why))
            BAD(e[K_ARCHITECTURES], "architectures: `%s': %s", dist->architectures.v[i], why);
#undef BAD
    if (bad) {
        r = -EINVAL;
        goto out;
    }
    if (!(dist->family = strdup(e[K_FAMILY]->value)) ||
        (e[K_SUITE] && !(dist->suite = strdup(e[K_SUITE]->value))) ||
        (e[K_RELEASE] && !(dist->release = strdup(e[K_RELEASE]->value))) ||
        (e[K_MIRROR] && *e[K_MIRROR]->value && !(dist->mirror = strdup(e[K_MIRROR]->value))) ||
        (e[K_GPGKEY] && *e[K_GPGKEY]->value && !(dist->gpgkey = strdup(e[K_GPGKEY]->value))) ||
        (e[K_EXT4_FEATURES] && *e[K_EXT4_FEATURES]->value &&
         !(dist->ext4_features = strdup(e[K_EXT4_FEATURES]->value))) ||
        !(dist->release_repos = strdup(e[K_RELEASE_REPOS] ? e[K_RELEASE_REPOS]->value
                                                           : "keep")) ||
        !(dist->password_hash = strdup(e[K_PASSWORD_HASH] ? e[K_PASSWORD_HASH]->value
                                                           : "yescrypt")) ||
        !(dist->kernel_package = strdup(e[K_KERNEL_PACKAGE]->value)) ||
        !(dist->console = strdup(e[K_CONSOLE]->value)) ||
        !(dist->network_style = strdup(e[K_NETWORK_STYLE]->value))) {
        r = -ENOMEM;
        goto out;
    }
    dist->mirror_line = dist->mirror ? e[K_MIRROR]->line : 0;
    r = 0;
out:
    settings_free(s);
    free(path);
    if (r)
        dist_dispose(dist);
    return r;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void dist_names_free(char **names)
{
    for (size_t i = 0; names && names[i]; i++)
        free(names[i]);
    free(names);
}

static int names_in(const char *path, char ***v, size_t *n)
{
    DIR *dir = opendir(path);
    struct dirent *e;
    int r = 0;

    if (!dir)
        return -errno;
    while ((errno = 0, e = readdir(dir))) {
        size_t len = strlen(e->d_name), i;
        const char *why;
        char **nv;

        if (len <= 5 || strcmp(e->d_name + len - 5, ".conf"))
            continue;
        e->d_name[len - 5] = '\0';
        if (check_name(e->d_name, &why))
            continue;
        for (i = 0; i < *n && strcmp((*v)[i], e->d_name); i++)
            ;
        if (i < *n)
            continue;
        if (!(nv = realloc(*v, (*n + 2) * sizeof(**v)))) {
            r = -ENOMEM;
            break;
        }
        *v = nv;
        if (!(nv[*n] = strdup(e->d_name))) {
            r = -ENOMEM;
            break;
        }
        nv[++*n] = NULL;
    }
    if (!r && errno)
        r = -errno;
    closedir(dir);
    return r;
}

int dist_names(const char *confdir, const char *datadir, char ***names_r)
{
    char *paths[2] = { confdir ? paths_join(confdir, "dist") : NULL,
                       paths_join(datadir, "templates/dist") };
    char **v = calloc(1, sizeof(*v));
    size_t n = 0;
    int r = 0, found = 0;

    *names_r = NULL;
    if (!v || (confdir && !paths[0]) || !paths[1]) {
        r = -ENOMEM;
        goto out;
    }
    for (int i = 0; i < 2; i++) {
        int k = paths[i] ? names_in(paths[i], &v, &n) : -ENOENT;

        if (k == -ENOMEM) {
            r = k;
            goto out;
        }
        found |= k == 0;
        if (k && i == 1 && !found)
            r = k;
    }
    if (r)
        goto out;
    qsort(v, n, sizeof(*v), by_name);
    *names_r = v;
    v = NULL;
out:
    dist_names_free(v);
    free(paths[0]);
    free(paths[1]);
    return r;
}
