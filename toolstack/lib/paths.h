/*
 * paths.h - where vmkit keeps things (DESIGN.md "Paths").
 *
 * Each root has a default and an environment variable that replaces it
 * (tests always point them at a temporary tree):
 *
 *   PATHS_CONF   VMKIT_CONFDIR   /etc/vmkit        guest configs, provision.conf
 *   PATHS_LIB    VMKIT_LIBDIR    /var/lib/vmkit    images, kernels
 *   PATHS_CACHE  VMKIT_CACHEDIR  /var/cache/vmkit  caches
 *   PATHS_RUN    VMKIT_RUNDIR    /run/vmkit        runtime state, locks
 *   PATHS_LOG    VMKIT_LOGDIR    /var/log/vmkit    logs
 *
 * An empty variable counts as unset.  The data directory (templates/,
 * hooks/) is found as paths_datadir() describes.
 */
#ifndef VMKIT_PATHS_H
#define VMKIT_PATHS_H

#include <sys/types.h>

enum paths_root {
    PATHS_CONF,
    PATHS_LIB,
    PATHS_CACHE,
    PATHS_RUN,
    PATHS_LOG,
};

/* The root's directory: the environment variable's value, or the default.
 * Borrowed (from the environment or static storage); valid until the
 * variable changes. */
const char *paths_root(enum paths_root root);

/* The name of the root's environment variable ("VMKIT_CONFDIR"). */
const char *paths_root_env(enum paths_root root);

/* How the data directory was found. */
enum paths_datadir_how {
    PATHS_DATADIR_ENV,          /* $VMKIT_DATADIR */
    PATHS_DATADIR_INSTALLED,    /* <exe dir>/../share/vmkit */
    PATHS_DATADIR_SOURCE_TREE,  /* <exe dir>/.. (bin/ of a source tree) */
    PATHS_DATADIR_COMPILED,     /* the directory compiled in (VMKIT_DATADIR) */
};

/*
 * Finds the data directory: $VMKIT_DATADIR if set; else, from the
 * running executable (/proc/self/exe), <exe dir>/../share/vmkit if it
 * holds templates/ (an installed program finds its PREFIX's data, also
 * under a DESTDIR), else <exe dir>/.. if it holds templates/dist (a
 * program run from the source tree's bin/); else the compiled-in
 * VMKIT_DATADIR.  Returns 0 and a new malloc'd path in *dir_r (how_r,
 * when not NULL, says which rule gave it), or -ENOMEM.
 */
int paths_datadir(char **dir_r, enum paths_datadir_how *how_r);

/* A short description of how, for messages ("$VMKIT_DATADIR", ...). */
const char *paths_datadir_how_name(enum paths_datadir_how how);

/* dir + "/" + name in a new malloc'd string (no doubled `/' when dir
 * ends in one), or NULL with errno ENOMEM. */
char *paths_join(const char *dir, const char *name);

/* Whether path has a `..' component (anywhere: "..", "a/../b", "a/.."). */
int paths_has_dotdot(const char *path);

/* mkdir -p path with mode for what it creates (existing directories are
 * fine).  0, -ENOMEM, or -errno of the first mkdir that failed, with the
 * directory it failed on in *failed_r when not NULL (caller frees). */
int paths_mkdir_p(const char *path, mode_t mode, char **failed_r);

#endif
