/*
 * dist.h - distribution definitions: templates/dist/NAME.conf in the data
 * directory, in the settings-file format (settings.h).  They carry data
 * only; every decision made from them is vm-provision's.
 *
 * Keys (all required unless said otherwise):
 *
 *   family          debian or ubuntu
 *   suite           the archive suite (codename) to install
 *   mirror          the package mirror; optional, and empty or absent in
 *                   the definitions vmkit ships (the mirror comes from the
 *                   command line, provision.conf or the host's apt sources)
 *   components      archive components, space separated, main among them
 *   packages        the base package set beyond the minimal base
 *                   (space separated), without the kernel
 *   kernel-package  the kernel package, installed with packages
 *   console         the guest's console device (hvc0)
 *   network-style   ifupdown, networkd or netplan: how the network is set up
 *   architectures   the architectures vmkit can provision (space separated)
 */
#ifndef VMKIT_DIST_H
#define VMKIT_DIST_H

#include <stddef.h>

#include "diag.h"

struct dist_words {
    char **v;
    size_t n;
};

struct dist {
    char *name;             /* the file's name without .conf */
    char *file;             /* the file read */
    char *family;
    char *suite;
    char *mirror;           /* NULL when absent or empty */
    int mirror_line;
    struct dist_words components, packages, architectures;
    char *kernel_package;
    char *console;
    char *network_style;
};

void dist_dispose(struct dist *dist);

/*
 * Loads datadir/templates/dist/NAME.conf into dist.  name must pass
 * check_name().  Returns 0; -ENOENT when there is no such definition
 * (nothing recorded); -EINVAL after recording every error in the file
 * (syntax, an unknown or missing key, a bad value) as FILE:LINE:COL;
 * other -errno after recording why the file could not be read.
 */
int dist_load(const char *datadir, const char *name, struct dist *dist, struct diag *d);

/*
 * The names of the definitions in datadir/templates/dist, sorted, as a
 * new NULL-terminated array (free with dist_names_free).  0, -errno
 * when the directory cannot be read (nothing recorded), -ENOMEM.
 */
int dist_names(const char *datadir, char ***names_r);
void dist_names_free(char **names);

/* Whether words holds word. */
int dist_words_has(const struct dist_words *w, const char *word);

#endif
