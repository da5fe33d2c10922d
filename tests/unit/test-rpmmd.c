/*
 * test-rpmmd.c - RPM repository metadata and resolution (provision/rpmmd.c):
 * repomd.xml parsed and refused, digests checked, primary read plain and
 * compressed (gzip, xz, zstd, bzip2, made here with the real commands)
 * and refused on a checksum or open-checksum mismatch or past the size
 * bound, then resolution over tests/unit/data/rpmmd/: provides, a file
 * dependency only filelists can satisfy, the newest version and epoch
 * winning, weak dependencies ignored, install order, and the messages for
 * a missing dependency and a want nothing provides.  Last, libsolv's
 * version order against librpm's on a table of awkward versions.
 *
 * The package set (primary.xml, filelists.xml): setup <- filesystem (pre)
 * <- glibc (pre) <- bash, httpd (provides webserver, needs a file only
 * httpd-filesystem's filelists entry has), tool 1.2 and 1.10, epochpkg
 * 1:1.0 and 2.0, weakpkg (recommends recommended-extra; supplement-extra
 * supplements it), vmkit-broken (needs a library nothing provides) and
 * needs-broken above it, evil (its location climbs out with `..'),
 * conflict-a and conflict-b (the first conflicts with the second);
 * primary-update.xml, a second repository: tool 1.11, and based (its
 * location has an xml:base).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <rpm/rpmver.h>

#include "rpmmd.h"
#include "tap.h"

#define DATA "tests/unit/data/rpmmd/"

static char tmp[] = "/tmp/test-rpmmd.XXXXXX";

static char *slurp(const char *path, size_t *len_r)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = 0;
        *len_r = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static char *in_tmp(const char *rel)
{
    static char buf[4][PATH_MAX];
    static int slot;
    char *p = buf[slot++ % 4];

    snprintf(p, PATH_MAX, "%s/%s", tmp, rel);
    return p;
}

static void put(const char *path, const char *content, size_t len)
{
    FILE *f = fopen(path, "wb");

    fwrite(content, 1, len, f);
    fclose(f);
}

/* hex sha256 (or type) of a file, into hex */
static void digest_file(const char *path, const char *type, char *hex)
{
    size_t len = 0;
    char *buf = slurp(path, &len);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;

    EVP_Digest(buf, len, md, &mdlen, EVP_get_digestbyname(type), NULL);
    for (unsigned i = 0; i < mdlen; i++)
        sprintf(hex + 2 * i, "%02x", md[i]);
    free(buf);
}

/* argv[0] -c src > dst, as the repository's tools would make it */
static int compress_with(const char *tool, const char *src, const char *dst)
{
    pid_t pid = fork();
    int st = 0;

    if (pid == 0) {
        int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        if (fd < 0 || dup2(fd, 1) < 0)
            _exit(127);
        execlp(tool, tool, "-c", "-q", src, (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* A description of path as repomd would give it; strings static. */
struct meta {
    struct rpmmd_file f;
    char sum[2 * EVP_MAX_MD_SIZE + 1], open_sum[2 * EVP_MAX_MD_SIZE + 1];
};

static void meta_of(struct meta *m, const char *type, const char *stored, const char *plain)
{
    memset(m, 0, sizeof *m);
    digest_file(stored, "sha256", m->sum);
    m->f.type = (char *)type;
    m->f.location = (char *)(strrchr(stored, '/') + 1);
    m->f.checksum_type = (char *)"sha256";
    m->f.checksum = m->sum;
    if (plain) {
        digest_file(plain, "sha256", m->open_sum);
        m->f.open_checksum_type = (char *)"sha256";
        m->f.open_checksum = m->open_sum;
    }
}

/* What was recorded, as TAP comments: the messages are part of what is tested. */
static void show(const struct diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        printf("#   %s%s%s\n", d->v[i].file ? d->v[i].file : "", d->v[i].file ? ": " : "",
               d->v[i].msg);
}

static int first_error_has(const struct diag *d, const char *needle)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].level == DIAG_ERROR)
            return strstr(d->v[i].msg, needle) != NULL;
    return 0;
}

static int any_error_is(const struct diag *d, const char *msg)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].level == DIAG_ERROR && strcmp(d->v[i].msg, msg) == 0)
            return 1;
    return 0;
}

/* --- repomd.xml --------------------------------------------------------- */

static int parse_file(const char *path, struct rpmmd_repomd *r, struct diag *d)
{
    size_t len = 0;
    char *buf = slurp(path, &len);
    int rc = rpmmd_parse_repomd(buf, len, "http://mirror.example/repo/repodata/repomd.xml", r, d);

    free(buf);
    return rc;
}

static int parse_str(const char *s, struct diag *d)
{
    struct rpmmd_repomd r;
    int rc = rpmmd_parse_repomd(s, strlen(s), "repomd.xml", &r, d);

    rpmmd_repomd_dispose(&r);
    return rc;
}

static void test_repomd(void)
{
    struct rpmmd_repomd r;
    const struct rpmmd_file *f;
    struct diag d;

    diag_init(&d);
    is_int(parse_file(DATA "repomd.xml", &r, &d), 0, "repomd.xml parses");
    is_int(d.n, 0, "with nothing recorded");
    is_str(r.revision, "1700000000", "its revision");
    is_int(r.n, 3, "three data elements");
    f = rpmmd_repomd_find(&r, "primary");
    ok(f != NULL, "primary found");
    if (f) {
        is_str(f->location, "repodata/3b2d5a3c-primary.xml.zst", "primary's location");
        is_str(f->checksum_type, "sha256", "its checksum type");
        is_str(f->checksum, "3b2d5a3c0a9e8f7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170615",
               "its checksum");
        is_str(f->open_checksum_type, "sha256", "its open checksum type");
        is_str(f->open_checksum,
               "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
               "its open checksum");
        is_int(f->size, 4321, "its size");
    }
    f = rpmmd_repomd_find(&r, "filelists");
    ok(f && strcmp(f->checksum_type, "sha1") == 0, "type=\"sha\" normalised to sha1");
    ok(f && !f->open_checksum && !f->open_checksum_type, "no open checksum: NULL");
    ok(f && f->size == 0, "no size: 0");
    f = rpmmd_repomd_find(&r, "other");
    ok(f && strcmp(f->checksum_type, "sha512") == 0, "sha512");
    ok(rpmmd_repomd_find(&r, "updateinfo") == NULL, "a type not there: NULL");
    rpmmd_repomd_dispose(&r);
    show(&d);
    diag_dispose(&d);

    diag_init(&d);
    is_int(parse_file(DATA "repomd-noprimary.xml", &r, &d), -EINVAL, "no primary: -EINVAL");
    ok(d.nerrors == 1 && d.v[0].file && strstr(d.v[0].file, "repomd.xml") &&
       first_error_has(&d, "no <data type=\"primary\">"), "said, naming the file");
    is_int(r.n, 0, "and nothing left in r");
    rpmmd_repomd_dispose(&r);
    show(&d);
    diag_dispose(&d);

    diag_init(&d);
    is_int(parse_file(DATA "repomd-dotdot.xml", &r, &d), -EINVAL, "a `..' location: -EINVAL");
    ok(first_error_has(&d, "`..' component"), "said");
    rpmmd_repomd_dispose(&r);
    show(&d);
    diag_dispose(&d);

#define REPOMD(body) "<?xml version=\"1.0\"?><repomd xmlns=\"http://linux.duke.edu/metadata/repo\">" body "</repomd>"
#define SHA1 "e9162516fa25fec8d60caaf4682d2e49967786cc"
    static const struct {
        const char *xml, *why, *what;
    } bad[] = {
        { "this is not XML", "syntax error", "not XML" },
        { "<html><body>404</body></html>", "no <data type=\"primary\">", "HTML" },
        { REPOMD("<data type=\"primary\"><location href=\"/etc/passwd\"/><checksum type=\"sha1\">" SHA1 "</checksum></data>"),
          "an absolute path", "an absolute location" },
        { REPOMD("<data type=\"primary\"><location href=\"http://evil.example/p.xml\"/><checksum type=\"sha1\">" SHA1 "</checksum></data>"),
          "a URL", "a URL location" },
        { REPOMD("<data type=\"primary\"><checksum type=\"sha1\">" SHA1 "</checksum></data>"),
          "has no location", "no location" },
        { REPOMD("<data type=\"primary\"><location href=\"p.xml\"/></data>"),
          "has no checksum", "no checksum" },
        { REPOMD("<data type=\"primary\"><location href=\"p.xml\"/><checksum type=\"crc32\">12345678</checksum></data>"),
          "unknown checksum type", "an unknown checksum type" },
        { REPOMD("<data type=\"primary\"><location href=\"p.xml\"/><checksum type=\"sha256\">" SHA1 "</checksum></data>"),
          "checksum length", "a checksum of the wrong length" },
        { REPOMD("<data type=\"primary\"><location href=\"p.xml\"/><checksum type=\"sha1\">" SHA1 "</checksum></data>"
                 "<data type=\"primary\"><location href=\"q.xml\"/><checksum type=\"sha1\">" SHA1 "</checksum></data>"),
          "two <data type=\"primary\">", "two primaries" },
        { "", "empty", "nothing" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        diag_init(&d);
        is_int(parse_str(bad[i].xml, &d), -EINVAL, "%s: -EINVAL", bad[i].what);
        ok(d.nerrors == 1 && first_error_has(&d, bad[i].why), "%s: says `%s'", bad[i].what, bad[i].why);
        show(&d);
        diag_dispose(&d);
    }

    diag_init(&d);
    is_int(parse_str(REPOMD("<data type=\"primary\"><location href=\"p.xml\"/><checksum type=\"sha1\">" SHA1 "</checksum></data>"), &d),
           0, "a minimal repomd parses");
    is_int(parse_str(REPOMD("<data type=\"primary\"><location href=\"p\x1b[31m.xml\"/><checksum type=\"sha1\">" SHA1 "</checksum></data>"), &d),
           -EINVAL, "a location with an escape character is refused");
    ok(d.n == 1 && !strchr(d.v[0].msg, '\x1b'), "and the message does not carry it");
    show(&d);
    diag_dispose(&d);
}

/* --- digests ------------------------------------------------------------ */

static void test_digest(void)
{
    const char *path = in_tmp("abc");
    struct diag d;
    int fd;

    put(path, "abc", 3);
    fd = open(path, O_RDONLY);
    lseek(fd, 2, SEEK_SET);
    diag_init(&d);
    is_int(rpmmd_check_digest(fd, "sha256",
                              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                              "abc", &d), 0, "sha256 of the whole file, whatever the offset");
    is_int(lseek(fd, 0, SEEK_CUR), 2, "the offset has not moved");
    is_int(rpmmd_check_digest(fd, "sha1", "A9993E364706816ABA3E25717850C26C9CD0D89D", "abc", &d), 0,
           "sha1 in upper case");
    is_int(rpmmd_check_digest(fd, "md5", "900150983cd24fb0d6963f7d28e17f72", "abc", &d), 0, "md5");
    is_int(rpmmd_check_digest(fd, "sha512",
                              "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                              "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
                              "abc", &d), 0, "sha512");
    is_int(d.n, 0, "nothing recorded");
    is_int(rpmmd_check_digest(fd, "sha256",
                              "0000000000000000000000000000000000000000000000000000000000000000",
                              "abc", &d), -EBADMSG, "a mismatch: -EBADMSG");
    ok(d.n == 1 && d.v[0].file && strcmp(d.v[0].file, "abc") == 0, "recorded against the name");
    is_str(d.n ? d.v[0].msg : NULL,
           "sha256 checksum mismatch (expected 0000000000000000000000000000000000000000000000000000000000000000, "
           "got ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad)", "the message");
    show(&d);
    diag_dispose(&d);
    diag_init(&d);
    is_int(rpmmd_check_digest(fd, "crc32", "352441c2", "abc", &d), -EINVAL, "unknown type: -EINVAL");
    is_int(rpmmd_check_digest(fd, "sha256", "ba7816bf", "abc", &d), -EINVAL, "a short digest: -EINVAL");
    is_int(d.nerrors, 2, "both said");
    show(&d);
    diag_dispose(&d);
    close(fd);
}

/* --- primary and filelists ---------------------------------------------- */

/* Adds primary (and filelists when not NULL) from files; returns the result. */
static int add(struct rpmmd_pool *p, const char *name, const char *primary, const char *plain,
               const char *filelists, struct diag *d)
{
    struct meta pm, fm;
    int pfd = open(primary, O_RDONLY), ffd = -1, r;

    meta_of(&pm, "primary", primary, plain);
    if (filelists) {
        ffd = open(filelists, O_RDONLY);
        meta_of(&fm, "filelists", filelists, NULL);
    }
    r = rpmmd_pool_add_repo(p, name, pfd, &pm.f, ffd, filelists ? &fm.f : NULL, d);
    close(pfd);
    if (ffd >= 0)
        close(ffd);
    return r;
}

static const struct rpmmd_pkg *find_pkg(const struct rpmmd_pkg *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return &v[i];
    return NULL;
}

static long pos_of(const struct rpmmd_pkg *v, size_t n, const char *name)
{
    const struct rpmmd_pkg *k = find_pkg(v, n, name);

    return k ? k - v : -1;
}

static int resolve1(struct rpmmd_pool *p, const char *want, struct rpmmd_pkg **v, size_t *n,
                    struct diag *d)
{
    char *w[] = { (char *)want, NULL };

    return rpmmd_resolve(p, w, v, n, d);
}

static void test_compressed(void)
{
    static const struct {
        const char *tool, *suffix;
    } comp[] = {
        { "gzip", "gz" }, { "xz", "xz" }, { "zstd", "zst" }, { "bzip2", "bz2" },
    };
    struct rpmmd_pool *p;
    struct rpmmd_pkg *v;
    size_t n;
    struct diag d;
    char path[PATH_MAX];

    for (size_t i = 0; i < sizeof comp / sizeof comp[0]; i++) {
        /* a name that does not say the compression: the content does */
        snprintf(path, sizeof path, "%s/primary-%s", tmp, comp[i].suffix);
        if (compress_with(comp[i].tool, DATA "primary.xml", path) != 0) {
            ok(0, "%s: could not compress", comp[i].tool);
            continue;
        }
        diag_init(&d);
        rpmmd_pool_new("x86_64", &p, &d);
        is_int(add(p, "repo", path, DATA "primary.xml", NULL, &d), 0,
               "%s primary read, open checksum matching", comp[i].tool);
        is_int(resolve1(p, "bash", &v, &n, &d), 0, "%s: bash resolves", comp[i].tool);
        is_int(n, 4, "%s: bash, glibc, filesystem, setup", comp[i].tool);
        rpmmd_pkgs_free(v, n);
        rpmmd_pool_free(p);

        /* cut short (its checksum made to match): refused, not half read */
        {
            size_t len = 0;
            char *buf = slurp(path, &len), cut[PATH_MAX];

            snprintf(cut, sizeof cut, "%s/cut-%s", tmp, comp[i].suffix);
            put(cut, buf, len - 4);
            free(buf);
            rpmmd_pool_new("x86_64", &p, &d);
            is_int(add(p, "repo", cut, NULL, NULL, &d), -EINVAL, "%s, its end cut off: -EINVAL",
                   comp[i].tool);
            rpmmd_pool_free(p);
        }
        show(&d);
        diag_dispose(&d);
    }

    /* an open checksum that does not match what decompresses */
    diag_init(&d);
    rpmmd_pool_new("x86_64", &p, &d);
    snprintf(path, sizeof path, "%s/primary-gz", tmp);
    is_int(add(p, "repo", path, DATA "primary-update.xml", NULL, &d), -EBADMSG,
           "open checksum mismatch: -EBADMSG");
    ok(d.n == 1 && first_error_has(&d, "primary-gz: sha256 open checksum mismatch (expected "),
       "said, naming the file");
    is_int(resolve1(p, "bash", &v, &n, &d), -ENOENT, "and nothing of it was kept");
    rpmmd_pkgs_free(v, n);
    rpmmd_pool_free(p);
    show(&d);
    diag_dispose(&d);
}

static void test_refused(void)
{
    struct rpmmd_pool *p;
    struct rpmmd_pkg *v;
    struct meta m;
    size_t n;
    struct diag d;
    int fd;

    diag_init(&d);
    is_int(rpmmd_pool_new("x86 64", &p, &d), -EINVAL, "an architecture with a space: -EINVAL");
    ok(p == NULL && d.nerrors == 1, "said, no pool");
    show(&d);
    diag_dispose(&d);

    diag_init(&d);
    rpmmd_pool_new("x86_64", &p, &d);
    meta_of(&m, "primary", DATA "primary.xml", NULL);
    m.sum[0] = m.sum[0] == '0' ? '1' : '0';
    fd = open(DATA "primary.xml", O_RDONLY);
    is_int(rpmmd_pool_add_repo(p, "http://mirror.example/repo", fd, &m.f, -1, NULL, &d), -EBADMSG,
           "primary's checksum mismatch: -EBADMSG");
    ok(d.n == 1 && d.v[0].file && strcmp(d.v[0].file, "http://mirror.example/repo") == 0 &&
       first_error_has(&d, "primary.xml: sha256 checksum mismatch (expected "),
       "said, naming the repository and the file");
    close(fd);
    show(&d);
    diag_dispose(&d);

    diag_init(&d);
    put(in_tmp("garbage"), "\x01\x02 this is not metadata", 23);
    is_int(add(p, "repo", in_tmp("garbage"), NULL, NULL, &d), -EINVAL, "garbage: -EINVAL");
    ok(d.n == 1 && first_error_has(&d, "garbage: "), "said");
    put(in_tmp("zchunk"), "\0ZCK1 and more", 14);
    is_int(add(p, "repo", in_tmp("zchunk"), NULL, NULL, &d), -EINVAL, "zchunk: -EINVAL");
    ok(d.n == 2 && strstr(d.v[1].msg, "zchunk"), "said so");
    put(in_tmp("empty"), "", 0);
    is_int(add(p, "repo", in_tmp("empty"), NULL, NULL, &d), -EINVAL, "an empty file: -EINVAL");
    /* libsolv's own zstd reader loops for ever on this one */
    put(in_tmp("short-zst"), "\x28\xb5\x2f\xfd\x74", 5);
    is_int(add(p, "repo", in_tmp("short-zst"), NULL, NULL, &d), -EINVAL,
           "a zstd frame header cut short: -EINVAL, at once");
    put(in_tmp("broken-gz"), "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03 not deflate", 22);
    is_int(add(p, "repo", in_tmp("broken-gz"), NULL, NULL, &d), -EINVAL, "corrupt gzip: -EINVAL");
    show(&d);
    diag_dispose(&d);

    diag_init(&d);
    rpmmd_pool_set_max_metadata(p, 1000);
    is_int(add(p, "repo", DATA "primary.xml", NULL, NULL, &d), -EFBIG, "past the bound: -EFBIG");
    ok(d.n == 1 && first_error_has(&d, "more than 1000 bytes"), "said");
    if (compress_with("zstd", DATA "primary.xml", in_tmp("small.zst")) == 0) {
        is_int(add(p, "repo", in_tmp("small.zst"), NULL, NULL, &d), -EFBIG,
               "counted decompressed: a small zstd file past the bound, -EFBIG");
    }
    rpmmd_pool_set_max_metadata(p, 0);
    show(&d);
    diag_dispose(&d);

    diag_init(&d);
    is_int(add(p, "repo", DATA "primary.xml", NULL, NULL, &d), 0, "then the right one is added");
    is_int(resolve1(p, "tool", &v, &n, &d), 0, "and resolves");
    ok(n == 1 && v[0].repo == 0, "as repository 0: the refused ones did not count");
    rpmmd_pkgs_free(v, n);
    rpmmd_pool_free(p);
    show(&d);
    diag_dispose(&d);
}

/* --- resolution --------------------------------------------------------- */

static void test_resolve(void)
{
    struct rpmmd_pool *p;
    struct rpmmd_pkg *v;
    const struct rpmmd_pkg *k;
    size_t n;
    struct diag d;

    diag_init(&d);
    is_int(rpmmd_pool_new("x86_64", &p, &d), 0, "a pool for x86_64");
    is_int(add(p, "base", DATA "primary.xml", NULL, NULL, &d), 0, "primary alone");

    /* without filelists: httpd's file dependency is not known */
    is_int(resolve1(p, "httpd", &v, &n, &d), -EINVAL, "without filelists, httpd: -EINVAL");
    ok(any_error_is(&d, "nothing provides `/usr/share/httpd/marker' needed by httpd-2.4.57-1.x86_64"),
       "nothing provides the file, says which package needs it");
    rpmmd_pkgs_free(v, n);
    show(&d);
    diag_dispose(&d);
    rpmmd_pool_free(p);

    diag_init(&d);
    rpmmd_pool_new("x86_64", &p, &d);
    is_int(add(p, "base", DATA "primary.xml", NULL, DATA "filelists.xml", &d), 0,
           "primary and filelists");
    is_int(resolve1(p, "webserver", &v, &n, &d), 0, "a capability: webserver");
    ok(find_pkg(v, n, "httpd") != NULL, "httpd provides it");
    ok(find_pkg(v, n, "httpd-filesystem") != NULL,
       "httpd-filesystem came in through a file in filelists only");
    is_int(pos_of(v, n, "filesystem"), 0, "filesystem first");
    ok(pos_of(v, n, "glibc") < pos_of(v, n, "httpd"), "glibc before httpd, which needs it");
    k = find_pkg(v, n, "httpd");
    if (k) {
        is_str(k->epoch_version_release, "2.4.57-1", "its EVR");
        is_str(k->arch, "x86_64", "its arch");
        is_str(k->nevra, "httpd-2.4.57-1.x86_64", "its NEVRA");
        is_str(k->location, "Packages/h/httpd-2.4.57-1.x86_64.rpm", "its location");
        is_str(k->checksum_type, "sha256", "its checksum type");
        is_str(k->checksum, "0000000000000000000000000000000000000000000000000000000000000005",
               "its checksum");
        is_int(k->size, 1004, "its size");
        is_int(k->repo, 0, "its repository");
    }
    rpmmd_pkgs_free(v, n);

    is_int(resolve1(p, "/usr/bin/sh", &v, &n, &d), 0, "a file: /usr/bin/sh");
    ok(n == 4 && find_pkg(v, n, "bash"), "bash and what it needs");
    is_int(pos_of(v, n, "filesystem"), 0, "filesystem moved first, before setup it needs");
    ok(pos_of(v, n, "setup") < pos_of(v, n, "glibc") && pos_of(v, n, "glibc") < pos_of(v, n, "bash"),
       "then prerequisites before dependents: setup, glibc, bash");
    rpmmd_pkgs_free(v, n);

    is_int(resolve1(p, "tool", &v, &n, &d), 0, "tool");
    ok(n == 1 && strcmp(v[0].epoch_version_release, "1.10-1") == 0, "1.10-1 beats 1.2-1");
    rpmmd_pkgs_free(v, n);
    is_int(resolve1(p, "epochpkg", &v, &n, &d), 0, "epochpkg");
    ok(n == 1 && strcmp(v[0].epoch_version_release, "1:1.0-1") == 0, "1:1.0-1 beats 2.0-1");
    rpmmd_pkgs_free(v, n);
    is_int(resolve1(p, "tool < 1.5", &v, &n, &d), 0, "a versioned want: tool < 1.5");
    ok(n == 1 && strcmp(v[0].epoch_version_release, "1.2-1") == 0, "gives 1.2-1");
    rpmmd_pkgs_free(v, n);
    is_int(resolve1(p, "weakpkg", &v, &n, &d), 0, "weakpkg");
    ok(n == 1, "alone: neither its Recommends nor what Supplements it");
    rpmmd_pkgs_free(v, n);
    is_int(d.n, 0, "nothing recorded so far");

    is_int(resolve1(p, "needs-broken", &v, &n, &d), -EINVAL, "needs-broken: -EINVAL");
    ok(v == NULL && n == 0, "no result");
    is_int(d.nerrors, 1, "one problem, one message");
    ok(any_error_is(&d, "nothing provides `libnothing.so.1()(64bit)' needed by vmkit-broken-1.0-1.x86_64"),
       "the cause: the package and the requirement");
    show(&d);
    diag_dispose(&d);

    diag_init(&d);
    {
        char *want[] = { (char *)"bash", (char *)"nosuchpkg", NULL };

        is_int(rpmmd_resolve(p, want, &v, &n, &d), -ENOENT, "a want nothing provides: -ENOENT");
    }
    is_int(d.nerrors, 1, "one message");
    ok(any_error_is(&d, "no package provides `nosuchpkg' (wanted by the distribution's package set)"),
       "naming it");
    show(&d);
    diag_dispose(&d);

    diag_init(&d);
    {
        char *want[] = { (char *)"conflict-a", (char *)"conflict-b", NULL };

        is_int(rpmmd_resolve(p, want, &v, &n, &d), -EINVAL, "two packages in conflict: -EINVAL");
    }
    ok(d.nerrors == 1 &&
       any_error_is(&d, "conflict-a-1.0-1.noarch conflicts with `conflict-b', provided by conflict-b-1.0-1.noarch"),
       "one message, naming both and the conflict");
    show(&d);
    diag_dispose(&d);

    diag_init(&d);
    is_int(resolve1(p, "evil", &v, &n, &d), -EINVAL, "a package whose location has `..': -EINVAL");
    ok(d.nerrors == 1 && first_error_has(&d, "evil-1.0-1.noarch: location `../../etc/evil-1.0-1.noarch.rpm'"),
       "said, naming it");
    show(&d);
    diag_dispose(&d);

    /* a second repository with a newer tool: the newest wins across them */
    diag_init(&d);
    is_int(add(p, "updates", DATA "primary-update.xml", NULL, NULL, &d), 0, "a second repository");
    is_int(resolve1(p, "tool", &v, &n, &d), 0, "tool again");
    ok(n == 1 && strcmp(v[0].epoch_version_release, "1.11-1") == 0 && v[0].repo == 1,
       "1.11-1 from repository 1");
    rpmmd_pkgs_free(v, n);
    is_int(resolve1(p, "httpd", &v, &n, &d), 0, "and the first repository's file lists still count");
    rpmmd_pkgs_free(v, n);
    is_int(d.n, 0, "nothing recorded");
    is_int(resolve1(p, "based", &v, &n, &d), -EINVAL, "a package located with xml:base: -EINVAL");
    ok(d.nerrors == 1 && first_error_has(&d, "based-1.0-1.noarch: a location outside its repository (xml:base)"),
       "said");
    show(&d);
    diag_dispose(&d);
    diag_init(&d);
    is_int(rpmmd_resolve(p, NULL, &v, &n, &d), 0, "wanting nothing");
    ok(n == 0 && v == NULL, "gives nothing");
    is_int(d.n, 0, "nothing recorded");
    show(&d);
    diag_dispose(&d);
    rpmmd_pool_free(p);

    /* i686 packages: another architecture's pool does not take x86_64 */
    diag_init(&d);
    rpmmd_pool_new("aarch64", &p, &d);
    add(p, "base", DATA "primary.xml", NULL, DATA "filelists.xml", &d);
    is_int(resolve1(p, "bash", &v, &n, &d), -ENOENT, "aarch64: bash (x86_64 only) is not there");
    ok(d.nerrors >= 1, "with a message");
    is_int(resolve1(p, "setup", &v, &n, &d), 0, "but noarch is fine");
    rpmmd_pkgs_free(v, n);
    rpmmd_pool_free(p);
    show(&d);
    diag_dispose(&d);
}

/* --- versions ----------------------------------------------------------- */

static void test_versions(void)
{
    /* a, b, and rpm's verdict */
    static const struct {
        const char *a, *b;
        int cmp;
    } t[] = {
        { "1.0", "1.0", 0 },
        { "1.0", "1.1", -1 },
        { "1.2", "1.10", -1 },              /* numeric, not lexical */
        { "1.2-1", "1.10-1", -1 },
        { "1.0-2", "1.0-10", -1 },
        { "1.01", "1.1", 0 },               /* leading zeros */
        { "001.002", "1.2", 0 },
        { "1.0", "1.0.0", -1 },
        { "1..0", "1.0", 0 },
        { "1.0-1", "1.0", 1 },              /* a release against none */
        { "1.0a", "1.0", 1 },
        { "1.a", "1.1", -1 },               /* alpha older than numeric */
        { "a", "b", -1 },
        { "5.5p1", "5.5p10", -1 },
        { "1.0_1", "1.0.1", 0 },            /* separators are all one */
        { "1.0~rc1", "1.0", -1 },           /* tilde: before */
        { "1.0~rc1", "1.0~rc2", -1 },
        { "1.0~~", "1.0~", -1 },
        { "1.0^", "1.0", 1 },               /* caret: after */
        { "1.0^git1", "1.0.1", -1 },
        { "1.0^git1", "1.0~rc1", 1 },
        { "1.0^git1", "1.0^git2", -1 },
        { "1.0~rc1^git1", "1.0~rc1", 1 },
        { "1:1.0", "2.0", 1 },              /* epochs */
        { "0:1.0", "1.0", 0 },
        { "2:0.1-1", "1:9.9-9", 1 },
        { "1:1.0-1", "1:1.0-2", -1 },
        { "1.0-1.el7", "1.0-1.el7_9", -1 },
        { "2.0.1a", "2.0.1", 1 },
        { "10xyz", "10.1xyz", -1 },
        { "xyz10", "xyz10.1", -1 },
        { "1.0-1.fc38", "1.0-1.fc39", -1 },
        { "4.18.0-477.10.1.el8_8", "4.18.0-477.el8", 1 },
    };
    struct rpmmd_pool *p;
    struct diag d;

    diag_init(&d);
    rpmmd_pool_new("x86_64", &p, &d);
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        rpmver a = rpmverParse(t[i].a), b = rpmverParse(t[i].b);
        int rc = a && b ? rpmverCmp(a, b) : 99, sc = rpmmd_evrcmp(p, t[i].a, t[i].b);

        rc = rc == 99 ? rc : (rc > 0) - (rc < 0);
        ok(rc == t[i].cmp && sc == t[i].cmp, "%s vs %s: rpm %d, libsolv %d, both %d",
           t[i].a, t[i].b, rc, sc, t[i].cmp);
        is_int(rpmmd_evrcmp(p, t[i].b, t[i].a), -t[i].cmp, "and the other way round");
        rpmverFree(a);
        rpmverFree(b);
    }
    rpmmd_pool_free(p);
    show(&d);
    diag_dispose(&d);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(void)
{
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_repomd();
    test_digest();
    test_compressed();
    test_refused();
    test_resolve();
    test_versions();
    nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return tap_done();
}
