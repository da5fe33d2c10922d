/*
 * paths.c - where vmkit keeps things.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paths.h"
#include "paths_priv.h"

#ifndef VMKIT_DATADIR
#define VMKIT_DATADIR "/usr/local/share/vmkit"
#endif

static const struct {
    const char *env;
    const char *def;
} roots[] = {
    [PATHS_CONF] = { "VMKIT_CONFDIR", "/etc/vmkit" },
    [PATHS_LIB] = { "VMKIT_LIBDIR", "/var/lib/vmkit" },
    [PATHS_CACHE] = { "VMKIT_CACHEDIR", "/var/cache/vmkit" },
    [PATHS_RUN] = { "VMKIT_RUNDIR", "/run/vmkit" },
    [PATHS_LOG] = { "VMKIT_LOGDIR", "/var/log/vmkit" },
};

const char *paths_root(enum paths_root root)
{
    const char *v = getenv(roots[root].env);

    return v && *v ? v : roots[root].def;
}

const char *paths_root_env(enum paths_root root)
{
    return roots[root].env;
}

const char *paths_datadir_how_name(enum paths_datadir_how how)
{
    switch (how) {
    case PATHS_DATADIR_ENV:
        return "$VMKIT_DATADIR";
    case PATHS_DATADIR_INSTALLED:
        return "next to the program";
    case PATHS_DATADIR_SOURCE_TREE:
        return "the source tree";
    case PATHS_DATADIR_COMPILED:
        break;
    }
    return "compiled in";
}

char *paths_join(const char *dir, const char *name)
{
    size_t n = strlen(dir);
    char *s;

    while (n > 1 && dir[n - 1] == '/')
        n--;
    while (*name == '/')
        name++;
    if (asprintf(&s, "%.*s%s%s", (int)n, dir,
                 n && dir[n - 1] == '/' ? "" : "/", name) < 0) {
        errno = ENOMEM;
        return NULL;
    }
    return s;
}

static int is_dir(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Sets *dir_r to path and *how_r to how when path/probe is a directory.
 * Returns 1 (taken, path now owned by *dir_r), 0 (not), -ENOMEM. */
static int take_if(char *path, const char *probe, enum paths_datadir_how how,
                   char **dir_r, enum paths_datadir_how *how_r)
{
    char *p = paths_join(path, probe);

    if (!p)
        return -ENOMEM;
    if (!is_dir(p)) {
        free(p);
        return 0;
    }
    free(p);
    *dir_r = path;
    if (how_r)
        *how_r = how;
    return 1;
}

int paths_datadir_for_exe(const char *exe, char **dir_r, enum paths_datadir_how *how_r)
{
    char *prefix = NULL, *share = NULL, *slash;
    int r;

    /* prefix = the directory above the executable's */
    prefix = strdup(exe);
    if (!prefix)
        return -ENOMEM;
    for (int i = 0; i < 2; i++) {
        slash = strrchr(prefix, '/');
        if (!slash) {
            r = 0;
            goto out;
        }
        *slash = '\0';
    }
    if (!*prefix) {
        free(prefix);
        if (!(prefix = strdup("/")))
            return -ENOMEM;
    }
    share = paths_join(prefix, "share/vmkit");
    if (!share) {
        r = -ENOMEM;
        goto out;
    }
    r = take_if(share, "templates", PATHS_DATADIR_INSTALLED, dir_r, how_r);
    if (r > 0) {
        share = NULL;
        goto out;
    }
    if (r < 0)
        goto out;
    r = take_if(prefix, "templates/dist", PATHS_DATADIR_SOURCE_TREE, dir_r, how_r);
    if (r > 0)
        prefix = NULL;
out:
    free(prefix);
    free(share);
    if (r < 0)
        return r;
    if (r == 0) {
        if (!(*dir_r = strdup(VMKIT_DATADIR)))
            return -ENOMEM;
        if (how_r)
            *how_r = PATHS_DATADIR_COMPILED;
    }
    return 0;
}

int paths_datadir(char **dir_r, enum paths_datadir_how *how_r)
{
    const char *env = getenv("VMKIT_DATADIR");
    char exe[PATH_MAX];
    ssize_t n;

    if (env && *env) {
        if (!(*dir_r = strdup(env)))
            return -ENOMEM;
        if (how_r)
            *how_r = PATHS_DATADIR_ENV;
        return 0;
    }
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0 || exe[0] != '/') {
        if (!(*dir_r = strdup(VMKIT_DATADIR)))
            return -ENOMEM;
        if (how_r)
            *how_r = PATHS_DATADIR_COMPILED;
        return 0;
    }
    exe[n] = '\0';
    return paths_datadir_for_exe(exe, dir_r, how_r);
}

int paths_has_dotdot(const char *path)
{
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, "/");

        if (n == 2 && p[0] == '.' && p[1] == '.')
            return 1;
        p += n;
        while (*p == '/')
            p++;
    }
    return 0;
}

int paths_mkdir_p(const char *path, mode_t mode, char **failed_r)
{
    char *p = strdup(path);
    int r = 0;

    if (failed_r)
        *failed_r = NULL;
    if (!p)
        return -ENOMEM;
    for (char *s = p + 1;; s++) {
        char c = *s;

        if (c != '/' && c)
            continue;
        *s = 0;
        if (mkdir(p, mode) < 0 && errno != EEXIST) {
            r = -errno;
            if (failed_r && !(*failed_r = strdup(p)))
                r = -ENOMEM;
            break;
        }
        *s = c;
        if (!c)
            break;
    }
    free(p);
    return r;
}
