/*
 * fuzz-primary - libFuzzer target for primary (and filelists) metadata
 * through provision/rpmmd.c: the input goes into a memfd as primary,
 * uncompressed, described with a checksum computed here so that it
 * passes; then the package set {"filesystem"} is resolved.  An input
 * with a line "--filelists--" has what follows it read as filelists.
 *
 * Beyond "no crash, no leak, no undefined behaviour" (libsolv runs too,
 * not instrumented) it checks what a resolution promises the
 * downloader: every package with a location inside its repository, a
 * checksum and a repository index.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "paths.h"
#include "rpmmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEPARATOR "\n--filelists--\n"

/* A memfd holding buf, described in m (hex in sum): -1 on failure. */
static int memfd_of(const uint8_t *buf, size_t len, const char *type, struct rpmmd_file *m,
                    char sum[2 * EVP_MAX_MD_SIZE + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    int fd = memfd_create(type, MFD_CLOEXEC);

    if (fd < 0)
        return -1;
    if ((len && write(fd, buf, len) != (ssize_t)len) ||
        EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1) {
        close(fd);
        return -1;
    }
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(sum + 2 * i, 3, "%02x", md[i]);
    memset(m, 0, sizeof *m);
    m->type = (char *)type;
    m->location = (char *)"repodata/fuzz.xml";
    m->checksum_type = (char *)"sha256";
    m->checksum = sum;
    return fd;
}

/* Whether loc leaves the repository: absolute, a URL, a `..' component. */
static int escapes(const char *loc)
{
    const char *p = loc + strspn(loc, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");

    return !*loc || loc[0] == '/' || *p == ':' || paths_has_dotdot(loc);
}

static void check(const struct rpmmd_pkg *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct rpmmd_pkg *k = &v[i];

        if (!k->name || !k->epoch_version_release || !k->arch || !k->nevra || !k->location ||
            escapes(k->location) || !k->checksum_type || !k->checksum ||
            k->repo != 0) {
            fprintf(stderr, "a package that should have been refused: %s at `%s'\n",
                    k->nevra ? k->nevra : "(no name)", k->location ? k->location : "(none)");
            abort();
        }
    }
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[i].name, "filesystem") == 0 && strcmp(v[0].name, "filesystem") != 0) {
            fprintf(stderr, "filesystem is not first\n");
            abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *const want[] = { (char *)"filesystem", NULL };
    const uint8_t *fl = memmem(data, size, SEPARATOR, strlen(SEPARATOR));
    size_t plen = fl ? (size_t)(fl - data) : size;
    char psum[2 * EVP_MAX_MD_SIZE + 1], fsum[2 * EVP_MAX_MD_SIZE + 1];
    struct rpmmd_file pm, fm;
    struct rpmmd_pool *p = NULL;
    struct rpmmd_pkg *v = NULL;
    size_t n = 0;
    struct diag d;
    int pfd = -1, ffd = -1, r;

    diag_init(&d);
    if ((pfd = memfd_of(data, plen, "primary", &pm, psum)) < 0)
        goto out;
    if (fl) {
        fl += strlen(SEPARATOR);
        if ((ffd = memfd_of(fl, size - (size_t)(fl - data), "filelists", &fm, fsum)) < 0)
            goto out;
    }
    if (rpmmd_pool_new("x86_64", &p, &d) != 0)
        abort();
    r = rpmmd_pool_add_repo(p, "fuzz", pfd, &pm, ffd, fl ? &fm : NULL, &d);
    if (r == 0)
        r = rpmmd_resolve(p, want, &v, &n, &d);
    if (r == 0)
        check(v, n);
    else if (r != -ENOMEM && d.nerrors == 0) {
        fprintf(stderr, "failed (%d) without a message\n", r);
        abort();
    }
out:
    rpmmd_pkgs_free(v, n);
    rpmmd_pool_free(p);
    if (pfd >= 0)
        close(pfd);
    if (ffd >= 0)
        close(ffd);
    diag_dispose(&d);
    return 0;
}
