/*
 * paths_priv.h - paths.c's internals, exposed for tests/unit/test-paths.c.
 */
#ifndef VMKIT_PATHS_PRIV_H
#define VMKIT_PATHS_PRIV_H

#include "paths.h"

/* paths_datadir()'s rules after $VMKIT_DATADIR, for the executable at
 * exe (an absolute path).  Same results as paths_datadir(). */
int paths_datadir_for_exe(const char *exe, char **dir_r, enum paths_datadir_how *how_r);

#endif
