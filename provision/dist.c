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
    K_CONSOLE, K_NETWORK_STYLE, K_ARCHITECTURES, NKEYS
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
        v = realloc(w->v, (w->n + 1) * sizeof(*v));
        if (!v)
            return -ENOMEM;
        w->v = v;
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

int dist_load(const char *datadir, const char *name, struct dist *dist, struct diag *d)
{
    const struct settings_entry *e[NKEYS] = { 0 };
    const struct settings_section *top;
    struct settings *s = NULL;
    char *rel = NULL, *path = NULL;
    const char *why;
    int r, bad = 0;

    memset(dist, 0, sizeof(*dist));
    if (asprintf(&rel, "templates/dist/%s.conf", name) < 0) {
        rel = NULL;
        r = -ENOMEM;
        goto out;
    }
    if (!(path = paths_join(datadir, rel))) {
        r = -ENOMEM;
        goto out;
    }
    r = settings_read_file(path, SETTINGS_MISSING_OK, &s, d);
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
    for (size_t k = 0; k < NKEYS; k++) {
        if (k != K_MIRROR && (!e[k] || !*e[k]->value)) {
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
    if (e[K_FAMILY] && strcmp(e[K_FAMILY]->value, "debian") &&
        strcmp(e[K_FAMILY]->value, "ubuntu"))
        BAD(e[K_FAMILY], "family: `%s': expected debian or ubuntu", e[K_FAMILY]->value);
    if (e[K_SUITE] && check_name(e[K_SUITE]->value, &why))
        BAD(e[K_SUITE], "suite: `%s': %s", e[K_SUITE]->value, why);
    if (e[K_MIRROR] && *e[K_MIRROR]->value && check_url(e[K_MIRROR]->value, &why))
        BAD(e[K_MIRROR], "mirror: `%s': %s", e[K_MIRROR]->value, why);
    if (e[K_CONSOLE] && !console_ok(e[K_CONSOLE]->value))
        BAD(e[K_CONSOLE], "console: `%s': expected a device name such as hvc0",
            e[K_CONSOLE]->value);
    if (e[K_NETWORK_STYLE] && strcmp(e[K_NETWORK_STYLE]->value, "ifupdown") &&
        strcmp(e[K_NETWORK_STYLE]->value, "networkd") &&
        strcmp(e[K_NETWORK_STYLE]->value, "netplan"))
        BAD(e[K_NETWORK_STYLE], "network-style: `%s': expected ifupdown, networkd or netplan",
            e[K_NETWORK_STYLE]->value);
    if (e[K_KERNEL_PACKAGE] && !package_name_ok(e[K_KERNEL_PACKAGE]->value))
        BAD(e[K_KERNEL_PACKAGE], "kernel-package: `%s' is not a package name",
            e[K_KERNEL_PACKAGE]->value);

    if ((e[K_COMPONENTS] && words_split(e[K_COMPONENTS]->value, &dist->components)) ||
        (e[K_PACKAGES] && words_split(e[K_PACKAGES]->value, &dist->packages)) ||
        (e[K_ARCHITECTURES] && words_split(e[K_ARCHITECTURES]->value, &dist->architectures))) {
        r = -ENOMEM;
        goto out;
    }
    if (e[K_COMPONENTS] && !dist_words_has(&dist->components, "main"))
        BAD(e[K_COMPONENTS], "components: `main' is missing");
    for (size_t i = 0; i < dist->components.n; i++)
        if (check_name(dist->components.v[i], &why))
            BAD(e[K_COMPONENTS], "components: `%s': %s", dist->components.v[i], why);
    for (size_t i = 0; i < dist->packages.n; i++)
        if (!package_name_ok(dist->packages.v[i]))
            BAD(e[K_PACKAGES], "packages: `%s' is not a package name", dist->packages.v[i]);
    for (size_t i = 0; i < dist->architectures.n; i++)
        if (check_name(dist->architectures.v[i], &why))
            BAD(e[K_ARCHITECTURES], "architectures: `%s': %s", dist->architectures.v[i], why);
#undef BAD
    if (bad) {
        r = -EINVAL;
        goto out;
    }
    if (!(dist->family = strdup(e[K_FAMILY]->value)) ||
        !(dist->suite = strdup(e[K_SUITE]->value)) ||
        (e[K_MIRROR] && *e[K_MIRROR]->value && !(dist->mirror = strdup(e[K_MIRROR]->value))) ||
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
    free(rel);
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

int dist_names(const char *datadir, char ***names_r)
{
    char *path = paths_join(datadir, "templates/dist"), **v = NULL;
    size_t n = 0;
    DIR *dir = NULL;
    struct dirent *e;
    int r;

    *names_r = NULL;
    if (!path)
        return -ENOMEM;
    if (!(dir = opendir(path))) {
        r = -errno;
        goto out;
    }
    if (!(v = calloc(1, sizeof(*v)))) {
        r = -ENOMEM;
        goto out;
    }
    while ((errno = 0, e = readdir(dir))) {
        size_t len = strlen(e->d_name);
        const char *why;
        char **nv;

        if (len <= 5 || strcmp(e->d_name + len - 5, ".conf"))
            continue;
        e->d_name[len - 5] = '\0';
        if (check_name(e->d_name, &why))
            continue;
        if (!(nv = realloc(v, (n + 2) * sizeof(*v)))) {
            r = -ENOMEM;
            goto out;
        }
        v = nv;
        if (!(v[n] = strdup(e->d_name))) {
            r = -ENOMEM;
            goto out;
        }
        v[++n] = NULL;
    }
    if (errno) {
        r = -errno;
        goto out;
    }
    qsort(v, n, sizeof(*v), by_name);
    *names_r = v;
    v = NULL;
    r = 0;
out:
    if (dir)
        closedir(dir);
    dist_names_free(v);
    free(path);
    return r;
}
