/*
 * fuzz-repomd - libFuzzer target for repomd.xml (provision/rpmmd.c).
 *
 * Beyond "no crash, no leak, no undefined behaviour" (libsolv's reader
 * runs too, not instrumented) it checks what a parsed repomd promises
 * the downloader: a primary, and for every file a type, a location that
 * stays in the repository, and a checksum of its type's length.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paths.h"
#include "rpmmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t hex_len(const char *type)
{
    static const struct {
        const char *type;
        size_t len;
    } t[] = {
        { "md5", 32 }, { "sha1", 40 }, { "sha224", 56 }, { "sha256", 64 },
        { "sha384", 96 }, { "sha512", 128 },
    };

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(t[i].type, type) == 0)
            return t[i].len;
    return 0;
}

/* Whether loc leaves the repository: absolute, a URL, a `..' component. */
static int escapes(const char *loc)
{
    const char *p = loc + strspn(loc, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");

    return !*loc || loc[0] == '/' || *p == ':' || paths_has_dotdot(loc);
}

static void check(const struct rpmmd_repomd *r)
{
    if (!rpmmd_repomd_find(r, "primary")) {
        fprintf(stderr, "parsed without a primary\n");
        abort();
    }
    for (size_t i = 0; i < r->n; i++) {
        const struct rpmmd_file *f = &r->files[i];
        size_t n = hex_len(f->checksum_type);

        if (!*f->type || escapes(f->location) || !n || strlen(f->checksum) != n ||
            (f->open_checksum && strlen(f->open_checksum) != hex_len(f->open_checksum_type)) ||
            rpmmd_repomd_find(r, f->type) != f) {
            fprintf(stderr, "a file that should have been refused: type `%s' location `%s' "
                    "checksum %s:%s\n", f->type, f->location, f->checksum_type, f->checksum);
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rpmmd_repomd r;
    struct diag d;

    diag_init(&d);
    if (rpmmd_parse_repomd((const char *)data, size, "fuzz", &r, &d) == 0)
        check(&r);
    else if (d.nerrors == 0) {
        fprintf(stderr, "refused without a message\n");
        abort();
    }
    rpmmd_repomd_dispose(&r);
    diag_dispose(&d);
    return 0;
}
