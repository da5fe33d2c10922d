/*
 * hooks.c - collecting, running and reading the roles of hooks (see
 * hooks.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "fileio.h"
#include "hooks.h"
#include "nsrun.h"
#include "paths.h"

#define PACKAGES_MAX (64 * 1024)        /* a role's packages file */

void hook_list_dispose(struct hook_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
    l->paths = NULL;
    l->n = 0;
}

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
    size_t k = strlen(suffix);

    return len >= k && !memcmp(s + len - k, suffix, k);
}

/* NN-name as hooks.h describes it. */
static bool hook_name_ok(const char *name)
{
    static const char *const backups[] = {
        "~", ".dpkg-old", ".dpkg-new", ".dpkg-dist", ".dpkg-tmp", ".dpkg-bak", ".disabled",
    };
    size_t len = strlen(name);

    if (len < 4 || name[0] < '0' || name[0] > '9' || name[1] < '0' || name[1] > '9' ||
        name[2] != '-')
        return false;
    for (const char *c = name + 3; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-'))
            return false;
    for (size_t i = 0; i < sizeof(backups) / sizeof(backups[0]); i++)
        if (ends_with(name, len, backups[i]))
            return false;
    return true;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');

    return s ? s + 1 : path;
}

static int by_base_name(const void *a, const void *b)
{
    return strcmp(base_name(*(char *const *)a), base_name(*(char *const *)b));
}

/* dir made absolute (from the current directory), in a new string. */
static char *absolute_dir(const char *dir)
{
    char *cwd, *full;

    if (dir[0] == '/')
        return strdup(dir);
    if (!(cwd = getcwd(NULL, 0)))
        return NULL;
    full = paths_join(cwd, dir);
    free(cwd);
    return full;
}

/* Adds (or, by base name, replaces) path in l; takes path. */
static int list_put(struct hook_list *l, char *path)
{
    char **v;

    for (size_t i = 0; i < l->n; i++) {
        if (!strcmp(base_name(l->paths[i]), base_name(path))) {
            free(l->paths[i]);
            l->paths[i] = path;
            return 0;
        }
    }
    v = realloc(l->paths, (l->n + 2) * sizeof(*v));
    if (!v) {
        free(path);
        return -ENOMEM;
    }
    l->paths = v;
    l->paths[l->n++] = path;
    l->paths[l->n] = NULL;
    return 0;
}

/* The hooks of one directory into l. */
static int collect_dir(const char *dir, struct hook_list *l, struct diag *d)
{
    char *abs = NULL;
    DIR *dh = NULL;
    struct dirent *e;
    int r;

    if (!(abs = absolute_dir(dir))) {
        r = -errno;
        diag_error(d, dir, 0, 0, "cannot make the hook directory's path absolute: %s",
                   strerror(-r));
        return r;
    }
    dh = opendir(abs);
    if (!dh) {
        r = -errno;
        if (r == -ENOENT) {
            r = 0;
            goto out;
        }
        diag_error(d, dir, 0, 0, "cannot read the hook directory: %s", strerror(-r));
        goto out;
    }
    for (;;) {
        struct stat st;
        char *path;

        errno = 0;
        if (!(e = readdir(dh))) {
            r = -errno;
            if (r)
                diag_error(d, dir, 0, 0, "cannot read the hook directory: %s",
                           strerror(-r));
            goto out;
        }
        if (!hook_name_ok(e->d_name))
            continue;
        if (fstatat(dirfd(dh), e->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
            continue;   /* a dangling link, a directory, a device */
        if (!(path = paths_join(abs, e->d_name))) {
            r = -ENOMEM;
            goto out;
        }
        if (!(st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH))) {
            diag_warn(d, path, 0, 0, "not executable: not run as a hook");
            free(path);
            continue;
        }
        if ((r = list_put(l, path)))
            goto out;
    }
out:
    if (dh)
        closedir(dh);
    free(abs);
    return r;
}

int hooks_collect(char *const *dirs, struct hook_list *l, struct diag *d)
{
    int r = 0;

    for (size_t i = 0; dirs && dirs[i]; i++)
        if ((r = collect_dir(dirs[i], l, d)))
            break;
    if (r) {
        hook_list_dispose(l);
        return r;
    }
    if (l->n)
        qsort(l->paths, l->n, sizeof(*l->paths), by_base_name);
    return 0;
}

/* "NAME (DIR)" for messages, in buf. */
static const char *hook_label(const char *path, char *buf, size_t len)
{
    const char *name = base_name(path);
    int dirlen = (int)(name - path) - 1;

    if (dirlen < 1)
        snprintf(buf, len, "%s (/)", name);
    else
        snprintf(buf, len, "%s (%.*s)", name, dirlen, path);
    return buf;
}

int hooks_run(const struct hook_list *l, const char *root, char *const *envp, int log_fd,
              int timeout_ms, void (*progress)(void *ctx, const char *path), void *ctx,
              struct diag *d)
{
    struct proc_opts o;

    proc_opts_init(&o);
    o.envp = envp;
    o.stdin_fd = PROC_NULL;
    o.stdout_fd = log_fd;
    o.stderr_fd = log_fd;
    for (size_t i = 0; i < l->n; i++) {
        char *argv[] = { l->paths[i], (char *)root, NULL };
        char label[4200], how[128];
        int r, status = 0;

        if (proc_cancelled())
            return -ECANCELED;
        if (progress)
            progress(ctx, l->paths[i]);
        r = nsrun(root, argv, &o, 0, timeout_ms, &status);
        if (r == -ECANCELED)
            return r;
        hook_label(l->paths[i], label, sizeof label);
        if (r == -ETIMEDOUT) {
            if (timeout_ms % 1000)
                diag_error(d, NULL, 0, 0, "hook %s: timed out after %d ms (killed)", label,
                           timeout_ms);
            else
                diag_error(d, NULL, 0, 0, "hook %s: timed out after %d s (killed)", label,
                           timeout_ms / 1000);
            return r;
        }
        if (r) {
            diag_error(d, NULL, 0, 0, "hook %s: cannot run: %s", label, strerror(-r));
            return r;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status)) {
            diag_error(d, NULL, 0, 0, "hook %s: %s", label,
                       proc_status_text(status, how, sizeof how));
            return -EINVAL;
        }
    }
    return 0;
}

/* A Debian package name: [a-z0-9][a-z0-9+.-]+ */
static bool package_name_ok(const char *s, size_t len)
{
    if (len < 2 || !((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '+' ||
              s[i] == '.' || s[i] == '-'))
            return false;
    return true;
}

struct strv {
    char **v;           /* NULL-terminated once anything is added */
    size_t n;
};

static bool strv_has(const struct strv *s, const char *word, size_t len)
{
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->v[i]) == len && !memcmp(s->v[i], word, len))
            return true;
    return false;
}

static int strv_addn(struct strv *s, const char *word, size_t len)
{
    char **v = realloc(s->v, (s->n + 2) * sizeof(*v));

    if (!v)
        return -ENOMEM;
    s->v = v;
    if (!(v[s->n] = strndup(word, len)))
        return -ENOMEM;
    v[++s->n] = NULL;
    return 0;
}

/* The roles there are under rolesdir, as " a, b, c" (or " none") in a
 * new string. */
static char *roles_there(const char *rolesdir)
{
    struct strv names = { 0 };
    char *out = NULL;
    size_t len = 0;
    FILE *f;
    DIR *dh = opendir(rolesdir);
    struct dirent *e;

    while (dh && (e = readdir(dh))) {
        struct stat st;
        const char *why;

        if (check_name(e->d_name, &why) || fstatat(dirfd(dh), e->d_name, &st, 0) < 0 ||
            !S_ISDIR(st.st_mode))
            continue;
        if (strv_addn(&names, e->d_name, strlen(e->d_name)))
            goto out;
    }
    if (names.n)
        qsort(names.v, names.n, sizeof(*names.v), by_base_name);
    if (!(f = open_memstream(&out, &len)))
        goto out;
    for (size_t i = 0; i < names.n; i++)
        fprintf(f, "%s %s", i ? "," : "", names.v[i]);
    if (!names.n)
        fprintf(f, " none");
    if (fclose(f)) {
        free(out);
        out = NULL;
    }
out:
    if (dh)
        closedir(dh);
    strv_free(names.v);
    return out;
}

/* The package names of one packages file into pkgs. */
static int read_packages(const char *path, struct strv *pkgs, struct diag *d)
{
    char *buf = NULL;
    size_t len;
    int r, line = 1, bad = 0;
    const char *p, *bol;

    r = file_read_bounded(path, PACKAGES_MAX, FILE_MISSING_OK, &buf, &len, d);
    if (r == -ENOENT)
        return 0;
    if (r)
        return r;
    for (p = bol = buf; *p;) {
        size_t k;

        if (*p == '\n') {
            line++;
            bol = ++p;
            continue;
        }
        if (*p == ' ' || *p == '\t' || *p == '\r') {
            p++;
            continue;
        }
        if (*p == '#') {
            p += strcspn(p, "\n");
            continue;
        }
        k = strcspn(p, " \t\r\n#");
        if (!package_name_ok(p, k)) {
            diag_error(d, path, line, (int)(p - bol) + 1, "`%.*s' is not a package name",
                       (int)k, p);
            bad = 1;
        } else if (!strv_has(pkgs, p, k) && (r = strv_addn(pkgs, p, k))) {
            goto out;
        }
        p += k;
    }
    r = bad ? -EINVAL : 0;
out:
    free(buf);
    return r;
}

int hooks_role_packages(const char *datadir, char *const *roles, char ***pkgs_r,
                        struct diag *d)
{
    struct strv pkgs = { 0 };
    char *rolesdir = NULL, *dir = NULL, *file = NULL;
    int r = 0;

    if (!(rolesdir = paths_join(datadir, "hooks/roles"))) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; roles && roles[i]; i++) {
        struct stat st;
        const char *why;

        if (check_name(roles[i], &why)) {
            diag_error(d, NULL, 0, 0, "role `%s': %s", roles[i], why);
            r = -EINVAL;
            goto out;
        }
        if (!(dir = paths_join(rolesdir, roles[i])) ||
            !(file = paths_join(dir, "packages"))) {
            r = -ENOMEM;
            goto out;
        }
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
            char *there = roles_there(rolesdir);

            diag_error(d, NULL, 0, 0, "unknown role `%s' (no directory %s); roles:%s",
                       roles[i], dir, there ? there : " (cannot list them)");
            free(there);
            r = -EINVAL;
            goto out;
        }
        if ((r = read_packages(file, &pkgs, d)))
            goto out;
        free(dir);
        free(file);
        dir = file = NULL;
    }
    if (!pkgs.v && !(pkgs.v = calloc(1, sizeof(*pkgs.v)))) {
        r = -ENOMEM;
        goto out;
    }
    *pkgs_r = pkgs.v;
    pkgs.v = NULL;
out:
    strv_free(pkgs.v);
    free(rolesdir);
    free(dir);
    free(file);
    return r;
}
