/*
 * test-paths.c - vmkit's roots and the data directory (toolstack/lib/paths.c).
 */
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paths.h"
#include "paths_priv.h"
#include "tap.h"

static char base[] = "/tmp/test-paths.XXXXXX";

static void mkdirs(const char *rel)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", base, rel);
    for (char *p = path + strlen(base) + 1;; p++) {
        p = strchr(p, '/');
        if (p)
            *p = '\0';
        mkdir(path, 0755);
        if (!p)
            break;
        *p = '/';
    }
}

static void datadir_is(const char *exe_rel, const char *want_rel, enum paths_datadir_how want_how,
                       const char *what)
{
    char exe[PATH_MAX], want[PATH_MAX];
    char *dir = NULL;
    enum paths_datadir_how how = PATHS_DATADIR_ENV;

    snprintf(exe, sizeof(exe), "%s/%s", base, exe_rel);
    if (want_rel)
        snprintf(want, sizeof(want), "%s/%s", base, want_rel);
    else
        snprintf(want, sizeof(want), "%s", VMKIT_DATADIR);
    is_int(paths_datadir_for_exe(exe, &dir, &how), 0, "%s: found", what);
    is_str(dir, want, "%s: directory", what);
    is_int(how, want_how, "%s: how", what);
    free(dir);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(void)
{
    static const struct {
        enum paths_root root;
        const char *env, *def;
    } roots[] = {
        { PATHS_CONF, "VMKIT_CONFDIR", "/etc/vmkit" },
        { PATHS_LIB, "VMKIT_LIBDIR", "/var/lib/vmkit" },
        { PATHS_CACHE, "VMKIT_CACHEDIR", "/var/cache/vmkit" },
        { PATHS_RUN, "VMKIT_RUNDIR", "/run/vmkit" },
        { PATHS_LOG, "VMKIT_LOGDIR", "/var/log/vmkit" },
    };
    char *s, *dir = NULL;
    enum paths_datadir_how how;

    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
        unsetenv(roots[i].env);
        is_str(paths_root(roots[i].root), roots[i].def, "%s unset: the default", roots[i].env);
        setenv(roots[i].env, "", 1);
        is_str(paths_root(roots[i].root), roots[i].def, "%s empty: the default", roots[i].env);
        setenv(roots[i].env, "/tmp/elsewhere", 1);
        is_str(paths_root(roots[i].root), "/tmp/elsewhere", "%s set: its value", roots[i].env);
        is_str(paths_root_env(roots[i].root), roots[i].env, "the variable's name");
        unsetenv(roots[i].env);
    }

    s = paths_join("/etc/vmkit", "provision.conf");
    is_str(s, "/etc/vmkit/provision.conf", "join");
    free(s);
    s = paths_join("/etc/vmkit//", "/provision.conf");
    is_str(s, "/etc/vmkit/provision.conf", "join without doubled slashes");
    free(s);
    s = paths_join("/", "etc/os-release");
    is_str(s, "/etc/os-release", "join onto /");
    free(s);

    if (!mkdtemp(base)) {
        printf("Bail out! cannot make a temporary directory\n");
        return 1;
    }
    /* an installed tree: PREFIX/bin/prog, PREFIX/share/vmkit/templates */
    mkdirs("inst/bin");
    mkdirs("inst/share/vmkit/templates/dist");
    datadir_is("inst/bin/vm-provision", "inst/share/vmkit", PATHS_DATADIR_INSTALLED,
               "installed: PREFIX/share/vmkit");
    /* a source tree: TOP/bin/prog, TOP/templates/dist */
    mkdirs("src/bin");
    mkdirs("src/templates/dist");
    datadir_is("src/bin/vm-provision", "src", PATHS_DATADIR_SOURCE_TREE,
               "source tree: bin/..");
    /* a source tree without templates/dist is not one */
    mkdirs("half/bin");
    mkdirs("half/templates");
    datadir_is("half/bin/vm-provision", NULL, PATHS_DATADIR_COMPILED,
               "templates without dist: the compiled-in directory");
    /* nothing at all */
    mkdirs("bare/bin");
    datadir_is("bare/bin/vm-provision", NULL, PATHS_DATADIR_COMPILED,
               "nothing: the compiled-in directory");
    /* share/vmkit wins over a tree's templates/dist */
    mkdirs("both/bin");
    mkdirs("both/templates/dist");
    mkdirs("both/share/vmkit/templates");
    datadir_is("both/bin/vm-provision", "both/share/vmkit", PATHS_DATADIR_INSTALLED,
               "share/vmkit first");

    setenv("VMKIT_DATADIR", "/tmp/data", 1);
    is_int(paths_datadir(&dir, &how), 0, "VMKIT_DATADIR set: found");
    is_str(dir, "/tmp/data", "VMKIT_DATADIR set: its value");
    is_int(how, PATHS_DATADIR_ENV, "VMKIT_DATADIR set: says so");
    free(dir);
    unsetenv("VMKIT_DATADIR");
    is_int(paths_datadir(&dir, &how), 0, "from /proc/self/exe: found");
    ok(dir && dir[0] == '/', "from /proc/self/exe: an absolute directory (%s, %s)",
       dir ? dir : "NULL", paths_datadir_how_name(how));
    free(dir);

    nftw(base, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    return tap_done();
}
