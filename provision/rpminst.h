/*
 * rpminst.h - the `rpm' install method (install.h): a Red Hat family
 * guest root from yum/dnf repositories, without yum, dnf or the host's
 * rpm touching it.
 *
 *   1. Each repository's mirrors: its mirror list (plain text, one base
 *      URL a line) when it has one, then its own URL.  The first mirror
 *      that serves repodata/repomd.xml is used first for everything else.
 *   2. primary and filelists, fetched (checked against repomd.xml's
 *      checksums), read with libsolv (rpmmd.h); the closure of the
 *      package set resolved there, newest versions, no weak deps.
 *   3. The packages fetched in parallel, each checked against primary's
 *      checksum, failing over across the mirrors (http_get_many).  With
 *      the cache they are kept as CACHEDIR/rpm/packages/TYPE-DIGEST.rpm
 *      and used again by any later run that needs the same file.
 *   4. Their payloads unpacked with libarchive into the staging root,
 *      filesystem first, the root's own directory links followed inside
 *      the root (lib -> usr/lib), members checked (extract.h).
 *   5. The guest's own rpm (found in the unpacked root) installs the same
 *      packages over the tree, chrooted in a mount namespace of its own
 *      (nsrun): it writes its database in its own format and runs the
 *      scriptlets and triggers it can outside a booted system.  Every
 *      package must then be in that database; a scriptlet that failed is
 *      a warning.
 *
 *   6. The device nodes a root has before its /dev is mounted (console,
 *      null, zero, full, random, urandom, tty, ptmx, pts/, shm/, the fd
 *      links), as mmdebstrap makes them: no package carries them.
 *
 * Nothing else is left in the root but what the packages made: the
 * package files are removed again.  Cancellable: -ECANCELED.
 */
#ifndef VMKIT_RPMINST_H
#define VMKIT_RPMINST_H

#include <stddef.h>

#include "diag.h"
#include "install.h"

#define RPMINST_MAX_REPOMD      (16 * 1024 * 1024)
#define RPMINST_MAX_MIRRORLIST  (1024 * 1024)
#define RPMINST_MAX_MIRRORS     64

struct rpminst_repo;

/* What the first stage found, for the cache key and the second stage. */
struct rpminst {
    struct rpminst_repo *repos;
    size_t nrepos;
    char *repomd_all;           /* every repository's name and repomd.xml */
    size_t repomd_all_len;
    char *urls;                 /* the repositories' URLs, space separated */
    char *names;                /* and their names */
};

void rpminst_init(struct rpminst *st);
void rpminst_dispose(struct rpminst *st);

/*
 * Step 1 for every repository of r.  0, or -errno after recording why
 * (naming the repository and every mirror tried), -ECANCELED.
 */
int rpminst_fetch_repomd(const struct install_req *r, struct rpminst *st, struct diag *d);

/*
 * Steps 2 to 5 into r->staging.  res gets the download and build times
 * and the number of packages.  0, or -errno after recording why.
 */
int rpminst_build(const struct install_req *r, struct rpminst *st,
                  struct install_result *res, struct diag *d);

/*
 * Parses a plain-text mirror list: one http or https URL a line, `#'
 * comments and blank lines skipped, others warned about and skipped;
 * $releasever and $basearch replaced (some lists carry them literally);
 * at most RPMINST_MAX_MIRRORS, each given a final `/'.  *v_r is a new
 * NULL-terminated array.  0, -ENOENT when it names none, -ENOMEM.  name
 * is for warnings.
 */
int rpminst_parse_mirrorlist(const char *text, size_t len, const char *name,
                             const char *release, const char *basearch, char ***v_r,
                             struct diag *d);

#endif
