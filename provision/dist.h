/*
 * dist.h - distribution definitions: NAME.conf in CONFDIR/dist (the
 * administrator's, /etc/vmkit/dist) or else in the data directory's
 * templates/dist (shipped), in the settings-file format (settings.h).
 * They carry data only; every decision made from them is vm-provision's.
 * vmkit-dist(5) documents them.
 *
 * Keys of every family (all required unless said otherwise):
 *
 *   family          debian, ubuntu or redhat
 *   packages        the base package set beyond the minimal base
 *                   (space separated), without the kernel; for redhat
 *                   names or capabilities, the whole set
 *   kernel-package  the kernel package, installed with packages
 *   console         the guest's console device (hvc0)
 *   network-style   ifupdown, networkd, netplan (Debian family), ifcfg or
 *                   nm-keyfile (Red Hat family): how the network is set up
 *   architectures   the architectures vmkit can provision (space
 *                   separated; Debian's names, or rpm's for redhat)
 *   mirror          the package mirror; optional.  Empty or absent in
 *                   the Debian definitions vmkit ships (the mirror comes
 *                   from the command line, provision.conf or the host's
 *                   apt sources); for redhat the base URL of the tree
 *   password-hash   yescrypt (the default) or sha512: root's password
 *                   hash, as the guest's crypt(3) can check it; optional
 *   ext4-features   optional: mke2fs -O's list for the root file system
 *                   (^metadata_csum for a guest whose e2fsck predates it)
 *
 * debian and ubuntu:
 *   suite           the archive suite (codename) to install
 *   components      archive components, space separated, main among them
 *
 * redhat:
 *   release         the release version ($releasever)
 *   repositories    NAME=PATH words: each repository's tree, PATH relative
 *                   to the mirror; $releasever and $basearch substituted
 *   mirrorlist      NAME=URL words, optional: a plain-text mirror list for
 *                   a repository, tried before the mirror unless --mirror
 *                   was given
 *   gpgkey          optional: the guest's repository file's gpgkey
 *   release-repos   keep (default) or disable: the release package's own
 *                   repository files in the guest
 */
#ifndef VMKIT_DIST_H
#define VMKIT_DIST_H

#include <stddef.h>

#include "diag.h"

struct dist_words {
    char **v;
    size_t n;
};

struct dist_repo {
    char *name;
    char *path;             /* relative to the mirror, variables unexpanded */
    char *mirrorlist;       /* NULL: none */
};

struct dist {
    char *name;             /* the file's name without .conf */
    char *file;             /* the file read */
    char *family;           /* "debian", "ubuntu" or "redhat" */
    char *suite;            /* debian, ubuntu */
    char *release;          /* redhat */
    struct dist_repo *repos;/* redhat */
    size_t nrepos;
    char *gpgkey;           /* NULL: none */
    char *release_repos;    /* "keep" or "disable" */
    char *password_hash;    /* "yescrypt" or "sha512" */
    char *ext4_features;    /* NULL: mke2fs's defaults */
    char *mirror;           /* NULL when absent or empty */
    int mirror_line;
    struct dist_words components, packages, architectures;
    char *kernel_package;
    char *console;
    char *network_style;
};

void dist_dispose(struct dist *dist);

/*
 * Loads confdir/dist/NAME.conf, or when there is none
 * datadir/templates/dist/NAME.conf, into dist (confdir may be NULL).
 * name must pass check_name().  Returns 0; -ENOENT when there is no such
 * definition (nothing recorded); -EINVAL after recording every error in
 * the file (syntax, an unknown or missing key, a key of another family, a
 * bad value) as FILE:LINE:COL; other -errno after recording why the file
 * could not be read.
 */
int dist_load(const char *confdir, const char *datadir, const char *name, struct dist *dist,
              struct diag *d);

/*
 * The names of the definitions in confdir/dist and datadir/templates/dist,
 * sorted, without duplicates, as a new NULL-terminated array (free with
 * dist_names_free).  0, -errno when neither directory can be read
 * (nothing recorded), -ENOMEM.
 */
int dist_names(const char *confdir, const char *datadir, char ***names_r);

/*
 * s with $releasever, ${releasever}, $basearch and ${basearch} replaced
 * (yum's variables), in a new string; NULL with errno EINVAL when s
 * holds any other `$' (*why_r says what), ENOMEM.
 */
char *dist_expand(const char *s, const char *release, const char *basearch,
                  const char **why_r);
void dist_names_free(char **names);

/* Whether words holds word. */
int dist_words_has(const struct dist_words *w, const char *word);

#endif
