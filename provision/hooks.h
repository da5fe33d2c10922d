/*
 * hooks.h - the hooks vm-provision runs against a guest root being built
 * (DESIGN.md "Hooks"): ordered executables named NN-name, from the
 * common directory, the family's, each role's (hooks/roles/NAME/) and
 * --hooks DIR, merged by name, each run as `HOOK ROOT` with the settings
 * in its environment (VMKIT_*), in the manner of xen-tools.
 *
 * A role is a directory under DATADIR/hooks/roles: its hooks, and a
 * `packages' file naming what the bootstrap installs for it.
 */
#ifndef VMKIT_HOOKS_H
#define VMKIT_HOOKS_H

#include <stddef.h>

#include "diag.h"

struct hook_list {
    char **paths;       /* absolute paths, sorted by base name, NULL-terminated
                         * (NULL when there are none); owned */
    size_t n;
};

/* Frees what l holds and empties it; l itself is the caller's. */
void hook_list_dispose(struct hook_list *l);

/*
 * Collects the hooks of dirs (NULL-terminated, in order) into l, which
 * must be empty ({ NULL, 0 }).  A hook is a regular file (a symbolic link
 * to one counts) with an execute bit, named NN-name: two digits, `-',
 * then one or more of [A-Za-z0-9_.-], not ending in `~', .dpkg-old,
 * .dpkg-new, .dpkg-dist, .dpkg-tmp, .dpkg-bak or .disabled.  Other names
 * and subdirectories are ignored; a hook-named regular file without an
 * execute bit is skipped with a warning.  A later directory's hook
 * replaces an earlier one's of the same name.  A missing directory is
 * skipped; a relative one is taken from the current directory.
 * Returns 0, or -errno after recording why (a directory that cannot be
 * read); l is left empty on error.
 */
int hooks_collect(char *const *dirs, struct hook_list *l, struct diag *d);

/*
 * Runs each hook of l in order as argv { PATH, root } through nsrun()
 * (no chroot: the hook runs on the host and chroots itself; root's
 * /proc, /sys, /dev and /run are mounted for it), with envp as given
 * (the caller's VMKIT_* variables and PATH; NULL: the caller's
 * environment), stdin /dev/null, stdout and stderr to log_fd (an fd,
 * PROC_NULL or PROC_INHERIT), at most timeout_ms each (-1: no limit).
 * Calls progress(ctx, path) before each hook when progress is not NULL.
 * Stops at the first hook that fails.  Returns 0; -EINVAL after
 * recording "hook NAME (DIR): exited with status N" (or killed by a
 * signal); -ETIMEDOUT after recording that it timed out; -ECANCELED,
 * nothing recorded, when proc_cancelled(); another -errno after
 * recording why the hook could not be run.
 */
int hooks_run(const struct hook_list *l, const char *root, char *const *envp, int log_fd,
              int timeout_ms, void (*progress)(void *ctx, const char *path), void *ctx,
              struct diag *d);

/*
 * The packages the roles ask for: for each of roles (NULL-terminated, in
 * order), datadir/hooks/roles/NAME/packages if present (package names
 * separated by white space, any number a line, `#' to the end of a line
 * a comment).  A role without a directory there is an error naming it
 * and the roles there are; a name that is not a package name is an
 * error as FILE:LINE:COL.  Returns 0 and a new NULL-terminated array of
 * new strings, deduplicated in first-seen order (possibly empty), in
 * *pkgs_r (free each and the array); or -errno after recording why,
 * *pkgs_r untouched.
 */
int hooks_role_packages(const char *datadir, char *const *roles, char ***pkgs_r,
                        struct diag *d);

#endif
