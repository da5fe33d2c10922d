/*
 * rpmmd.c - RPM repository metadata and dependency resolution with
 * libsolv (see rpmmd.h).
 *
 * libsolv does all the parsing (repo_add_repomdxml, repo_add_rpmmd) and
 * all the solving, libarchive the decompressing; what is here is what
 * neither does for us: checking digests before anything is parsed,
 * bounding what decompresses, refusing locations that leave the
 * repository, and turning libsolv's problems into messages.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <solv/chksum.h>
#include <solv/dataiterator.h>
#include <solv/evr.h>
#include <solv/pool.h>
#include <solv/poolarch.h>
#include <solv/problems.h>
#include <solv/repo.h>
#include <solv/repo_repomdxml.h>
#include <solv/repo_rpmmd.h>
#include <solv/rules.h>
#include <solv/selection.h>
#include <solv/solvable.h>
#include <solv/solver.h>
#include <solv/transaction.h>

#include "paths.h"
#include "rpmmd.h"

#define READ_BLOCK      (256 * 1024)
#define MAX_MESSAGE     2048

struct rpmmd_pool {
    Pool *pool;
    Repo **repos;               /* index: rpmmd_pkg.repo */
    size_t nrepos;
    uint64_t max_metadata;
    bool stale;                 /* repositories changed since whatprovides was made */
};

/* --- messages ----------------------------------------------------------- */

/*
 * Records NAME: message.  Messages carry names, dependencies and errors
 * out of the metadata: control characters become `?' so that a hostile
 * repository cannot write to the terminal through them.
 */
__attribute__((format(printf, 3, 4)))
static void fail(struct diag *d, const char *name, const char *fmt, ...)
{
    char msg[MAX_MESSAGE];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (unsigned char *c = (unsigned char *)msg; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            *c = '?';
    diag_error(d, name, 0, 0, "%s", msg);
}

/* libsolv reports errors to stderr unless told otherwise: it is told to
 * keep them, and they are read back with pool_errstr. */
static void quiet(Pool *pool, void *data, int type, const char *str)
{
    (void)pool;
    (void)data;
    (void)type;
    (void)str;
}

static Pool *quiet_pool(void)
{
    Pool *pool = pool_create();

    if (!pool)
        return NULL;
    pool_setdebugmask(pool, 0);
    pool_setdebugcallback(pool, quiet, NULL);
    return pool;
}

/* --- digests ------------------------------------------------------------ */

static const struct {
    const char *name;
    const EVP_MD *(*md)(void);
} digests[] = {
    { "md5", EVP_md5 },
    { "sha", EVP_sha1 },        /* createrepo's old name for sha1 */
    { "sha1", EVP_sha1 },
    { "sha224", EVP_sha224 },
    { "sha256", EVP_sha256 },
    { "sha384", EVP_sha384 },
    { "sha512", EVP_sha512 },
};

static const EVP_MD *digest_by_name(const char *type)
{
    if (!type)
        return NULL;
    for (size_t i = 0; i < sizeof digests / sizeof digests[0]; i++)
        if (strcmp(digests[i].name, type) == 0)
            return digests[i].md();
    return NULL;
}

static void to_hex(const unsigned char *md, unsigned len, char *hex)
{
    for (unsigned i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/*
 * The digest md of type for an expected hex value: -EINVAL after a
 * message when the type is unknown or hex cannot be one of its values.
 * what, when not NULL, prefixes the message (the file within name).
 */
static int digest_for(const char *type, const char *hex, const char *name, const char *what,
                      const EVP_MD **md_r, struct diag *d)
{
    const EVP_MD *md = digest_by_name(type);
    size_t len = hex ? strlen(hex) : 0;

    if (!md) {
        fail(d, name, "%s%sunknown checksum type `%s'", what ? what : "", what ? ": " : "",
             type ? type : "(none)");
        return -EINVAL;
    }
    if (len != 2 * (size_t)EVP_MD_get_size(md) || strspn(hex, "0123456789abcdefABCDEF") != len) {
        fail(d, name, "%s%sa %s checksum of %zu characters, not %d hex digits",
             what ? what : "", what ? ": " : "", type, len, 2 * EVP_MD_get_size(md));
        return -EINVAL;
    }
    *md_r = md;
    return 0;
}

static int check_digest(int fd, const char *type, const char *hex, const char *name,
                        const char *what, struct diag *d)
{
    EVP_MD_CTX *c = NULL;
    const EVP_MD *md;
    unsigned char *buf = NULL, out[EVP_MAX_MD_SIZE];
    char got[2 * EVP_MAX_MD_SIZE + 1];
    unsigned outlen = 0;
    off_t off = 0;
    int r;

    if ((r = digest_for(type, hex, name, what, &md, d)))
        return r;
    r = -ENOMEM;
    if (!(buf = malloc(READ_BLOCK)) || !(c = EVP_MD_CTX_new()) ||
        EVP_DigestInit_ex(c, md, NULL) != 1)
        goto out;
    for (;;) {
        ssize_t n = pread(fd, buf, READ_BLOCK, off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            fail(d, name, "%s%scannot read: %s", what ? what : "", what ? ": " : "",
                 strerror(-r));
            goto out;
        }
        if (n == 0)
            break;
        if (EVP_DigestUpdate(c, buf, (size_t)n) != 1)
            goto out;
        off += n;
    }
    if (EVP_DigestFinal_ex(c, out, &outlen) != 1)
        goto out;
    to_hex(out, outlen, got);
    if (strcasecmp(got, hex) != 0) {
        fail(d, name, "%s%s%s checksum mismatch (expected %s, got %s)", what ? what : "",
             what ? ": " : "", strcmp(type, "sha") ? type : "sha1", hex, got);
        r = -EBADMSG;
        goto out;
    }
    r = 0;
out:
    EVP_MD_CTX_free(c);
    free(buf);
    return r;
}

int rpmmd_check_digest(int fd, const char *type, const char *hex, const char *name,
                       struct diag *d)
{
    return check_digest(fd, type, hex, name, NULL, d);
}

/* --- repomd.xml --------------------------------------------------------- */

/*
 * Why href may not be used below a repository's base URL, or NULL.  The
 * caller joins it to the base and may keep the file under that name:
 * nothing that escapes the base or names another host.
 */
static const char *bad_location(const char *href)
{
    const char *p;

    if (!*href)
        return "an empty location";
    if (href[0] == '/')
        return "an absolute path";
    for (p = href; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '\\')
            return "a control character or backslash in a location";
    /* a scheme: letters, digits, + - . before the first `:', before any `/' */
    p = href + strspn(href, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
    if (*p == ':')
        return "a URL, not a path in the repository";
    if (paths_has_dotdot(href))
        return "a `..' component";
    return NULL;
}

static char *dup_or_null(const char *s, bool *oom)
{
    char *c;

    if (!s)
        return NULL;
    if (!(c = strdup(s)))
        *oom = true;
    return c;
}

static void file_dispose(struct rpmmd_file *f)
{
    free(f->type);
    free(f->location);
    free(f->checksum_type);
    free(f->checksum);
    free(f->open_checksum_type);
    free(f->open_checksum);
}

void rpmmd_repomd_dispose(struct rpmmd_repomd *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        file_dispose(&r->files[i]);
    free(r->files);
    free(r->revision);
    memset(r, 0, sizeof *r);
}

const struct rpmmd_file *rpmmd_repomd_find(const struct rpmmd_repomd *r, const char *type)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->files[i].type, type) == 0)
            return &r->files[i];
    return NULL;
}

/*
 * Reads the <data> element libsolv's iterator stands on (SOLVID_POS)
 * into f: 0, -EINVAL after a message, -ENOMEM.
 */
static int read_data(Pool *pool, const char *name, struct rpmmd_file *f, struct diag *d)
{
    const char *type = pool_lookup_str(pool, SOLVID_POS, REPOSITORY_REPOMD_TYPE);
    const char *loc = pool_lookup_str(pool, SOLVID_POS, REPOSITORY_REPOMD_LOCATION);
    const char *why, *hex;
    bool oom = false;
    Id t = 0;

    if (!type || !*type) {
        fail(d, name, "a <data> element with an empty type");
        return -EINVAL;
    }
    f->type = dup_or_null(type, &oom);
    f->location = dup_or_null(loc, &oom);
    /* libsolv's lookup gives hex in its temporary space: copied at once */
    hex = pool_lookup_checksum(pool, SOLVID_POS, REPOSITORY_REPOMD_CHECKSUM, &t);
    if (hex) {
        f->checksum = dup_or_null(hex, &oom);
        f->checksum_type = dup_or_null(solv_chksum_type2str(t), &oom);
    }
    t = 0;
    hex = pool_lookup_checksum(pool, SOLVID_POS, REPOSITORY_REPOMD_OPENCHECKSUM, &t);
    if (hex) {
        f->open_checksum = dup_or_null(hex, &oom);
        f->open_checksum_type = dup_or_null(solv_chksum_type2str(t), &oom);
    }
    f->size = pool_lookup_num(pool, SOLVID_POS, REPOSITORY_REPOMD_SIZE, 0);
    if (oom)
        return -ENOMEM;
    if (!f->location) {
        fail(d, name, "<data type=\"%s\"> has no location", f->type);
        return -EINVAL;
    }
    if ((why = bad_location(f->location))) {
        fail(d, name, "<data type=\"%s\">: location `%s': %s, refused", f->type, f->location, why);
        return -EINVAL;
    }
    if (!f->checksum || !f->checksum_type) {
        fail(d, name, "<data type=\"%s\"> has no checksum", f->type);
        return -EINVAL;
    }
    /* the types libsolv knows are ours today; should it learn more, keep to ours */
    if (!digest_by_name(f->checksum_type) ||
        (f->open_checksum_type && !digest_by_name(f->open_checksum_type))) {
        fail(d, name, "<data type=\"%s\">: unknown checksum type", f->type);
        return -EINVAL;
    }
    return 0;
}

int rpmmd_parse_repomd(const char *buf, size_t len, const char *name, struct rpmmd_repomd *r,
                       struct diag *d)
{
    Pool *pool = NULL;
    Repo *repo;
    FILE *f = NULL;
    Dataiterator di;
    bool have_di = false, oom = false;
    int rc;

    memset(r, 0, sizeof *r);
    if (len == 0) {
        fail(d, name, "empty");
        return -EINVAL;
    }
    if (len > RPMMD_MAX_REPOMD) {
        fail(d, name, "larger than %d bytes, refused", RPMMD_MAX_REPOMD);
        return -EINVAL;
    }
    rc = -ENOMEM;
    if (!(pool = quiet_pool()) || !(repo = repo_create(pool, "repomd")))
        goto out;
    /* fmemopen does not write through a read-only stream */
    if (!(f = fmemopen((void *)buf, len, "r")))
        goto out;
    if (repo_add_repomdxml(repo, f, 0) != 0) {
        fail(d, name, "%s", pool_errstr(pool));
        rc = -EINVAL;
        goto out;
    }
    r->revision = dup_or_null(repo_lookup_str(repo, SOLVID_META, REPOSITORY_REVISION), &oom);
    if (oom)
        goto out;

    /* every <data> with a type, through its type (libsolv keeps them as
     * a flexarray under REPOSITORY_REPOMD) */
    dataiterator_init(&di, pool, repo, SOLVID_META, REPOSITORY_REPOMD_TYPE, 0, 0);
    dataiterator_prepend_keyname(&di, REPOSITORY_REPOMD);
    have_di = true;
    while (dataiterator_step(&di)) {
        struct rpmmd_file *v = realloc(r->files, (r->n + 1) * sizeof *v);

        if (!v)
            goto out;
        r->files = v;
        memset(&r->files[r->n], 0, sizeof *v);
        dataiterator_setpos_parent(&di);
        rc = read_data(pool, name, &r->files[r->n], d);
        r->n++;
        if (rc)
            goto out;
        rc = -ENOMEM;
        for (size_t i = 0; i + 1 < r->n; i++)
            if (strcmp(r->files[i].type, r->files[r->n - 1].type) == 0) {
                fail(d, name, "two <data type=\"%s\">, refused", r->files[i].type);
                rc = -EINVAL;
                goto out;
            }
    }
    if (!rpmmd_repomd_find(r, "primary")) {
        fail(d, name, "no <data type=\"primary\">: not a repository's repomd.xml");
        rc = -EINVAL;
        goto out;
    }
    rc = 0;
out:
    if (have_di)
        dataiterator_free(&di);
    if (f)
        fclose(f);
    if (pool)
        pool_free(pool);
    if (rc)
        rpmmd_repomd_dispose(r);
    return rc;
}

/* --- the pool ----------------------------------------------------------- */

int rpmmd_pool_new(const char *arch, struct rpmmd_pool **p_r, struct diag *d)
{
    struct rpmmd_pool *p = NULL;
    size_t len = arch ? strlen(arch) : 0;
    int r;

    *p_r = NULL;
    if (!len || len > 32 ||
        strspn(arch, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != len) {
        fail(d, NULL, "`%s': not an rpm architecture", arch ? arch : "");
        return -EINVAL;
    }
    r = -ENOMEM;
    if (!(p = calloc(1, sizeof *p)) || !(p->pool = quiet_pool()))
        goto out;
    /* Debian's libsolv is built for both; the default may be Debian's */
    if (pool_setdisttype(p->pool, DISTTYPE_RPM) < 0) {
        fail(d, NULL, "this libsolv cannot compare versions as rpm does");
        r = -ENOTSUP;
        goto out;
    }
    pool_setarch(p->pool, arch);
    p->max_metadata = RPMMD_MAX_METADATA;
    p->stale = true;
    *p_r = p;
    p = NULL;
    r = 0;
out:
    rpmmd_pool_free(p);
    return r;
}

void rpmmd_pool_free(struct rpmmd_pool *p)
{
    if (!p)
        return;
    if (p->pool)
        pool_free(p->pool);
    free(p->repos);
    free(p);
}

void rpmmd_pool_set_max_metadata(struct rpmmd_pool *p, uint64_t bytes)
{
    p->max_metadata = bytes ? bytes : RPMMD_MAX_METADATA;
}

int rpmmd_evrcmp(struct rpmmd_pool *p, const char *a, const char *b)
{
    int c = pool_evrcmp_str(p->pool, a, b, EVRCMP_COMPARE);

    return (c > 0) - (c < 0);
}

/* --- reading primary and filelists -------------------------------------- */

/*
 * libsolv reads through a stdio stream made here: libarchive decompresses
 * (gzip, xz, zstd, bzip2, told from the content; plain passes through
 * its raw format), and what comes out is counted against the bound and
 * hashed for the open checksum on its way to libsolv.  libsolv's own
 * decompressing streams (solv_xfopen_fd) are not used: its zstd reader,
 * in 0.7.23, loops for ever on a frame header cut short.
 */
struct stream {
    struct archive *a;
    int fd;                     /* read with pread from off: fd's offset does not move */
    off_t off;
    unsigned char *inbuf;
    bool at_eof;
    uint64_t total, max;
    EVP_MD_CTX *ctx;            /* NULL without an open checksum */
    bool too_big, failed;
    char why[256];              /* libarchive's reason, when failed */
};

static la_ssize_t input_read(struct archive *a, void *cookie, const void **buf)
{
    struct stream *st = cookie;
    ssize_t n;

    do
        n = pread(st->fd, st->inbuf, READ_BLOCK, st->off);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        archive_set_error(a, errno, "%s", strerror(errno));
        return -1;
    }
    st->off += n;
    *buf = st->inbuf;
    return n;
}

static ssize_t stream_read(void *cookie, char *buf, size_t size)
{
    struct stream *st = cookie;
    la_ssize_t n;

    if (st->too_big || st->failed)
        return -1;
    if (st->at_eof)
        return 0;
    n = archive_read_data(st->a, buf, size);
    if (n < 0) {
        snprintf(st->why, sizeof st->why, "%s",
                 archive_error_string(st->a) ? archive_error_string(st->a) : "corrupt or truncated");
        st->failed = true;
        errno = EIO;
        return -1;
    }
    if (n == 0)
        st->at_eof = true;
    if ((uint64_t)n > st->max - st->total) {
        st->too_big = true;
        errno = EFBIG;
        return -1;
    }
    st->total += (uint64_t)n;
    if (st->ctx && n && EVP_DigestUpdate(st->ctx, buf, (size_t)n) != 1) {
        snprintf(st->why, sizeof st->why, "cannot compute the open checksum");
        st->failed = true;
        errno = ENOMEM;
        return -1;
    }
    return n;
}

/*
 * Starts decompressing st->fd: 0, or -EINVAL with st->why set.  Only
 * libarchive's in-process decompressors: none that would run a program.
 */
static int stream_open(struct stream *st)
{
    struct archive_entry *e;
    int r;

    if (!(st->a = archive_read_new()) || !(st->inbuf = malloc(READ_BLOCK)))
        return -ENOMEM;
    if (archive_read_support_filter_gzip(st->a) != ARCHIVE_OK ||
        archive_read_support_filter_xz(st->a) != ARCHIVE_OK ||
        archive_read_support_filter_zstd(st->a) != ARCHIVE_OK ||
        archive_read_support_filter_bzip2(st->a) != ARCHIVE_OK ||
        archive_read_support_format_raw(st->a) != ARCHIVE_OK) {
        snprintf(st->why, sizeof st->why, "this libarchive cannot decompress gzip, xz, zstd "
                 "and bzip2 by itself");
        return -EINVAL;
    }
    if (archive_read_open(st->a, st, NULL, input_read, NULL) != ARCHIVE_OK)
        goto bad;
    r = archive_read_next_header(st->a, &e);
    if (r == ARCHIVE_EOF) {
        st->at_eof = true;      /* empty: libsolv says what it thinks of that */
        return 0;
    }
    if (r == ARCHIVE_OK)
        return 0;
bad:
    snprintf(st->why, sizeof st->why, "%s",
             archive_error_string(st->a) ? archive_error_string(st->a) : "corrupt or truncated");
    return -EINVAL;
}

/* zchunk (Fedora's primary_zck) is told apart only to say so plainly. */
static bool is_zchunk(int fd)
{
    unsigned char m[5];
    ssize_t n;

    do
        n = pread(fd, m, sizeof m, 0);
    while (n < 0 && errno == EINTR);
    return n == 5 && memcmp(m, "\0ZCK1", 5) == 0;
}

/*
 * Checks fd against meta and has libsolv read it into repo (flags:
 * repo_add_rpmmd's).  0 or -errno after a message; repo may hold part
 * of the content on failure (the caller frees it).
 */
static int read_metadata(struct rpmmd_pool *p, Repo *repo, const char *name, int fd,
                         const struct rpmmd_file *meta, int flags, struct diag *d)
{
    const char *what = meta->location ? meta->location : meta->type ? meta->type : "metadata";
    struct stream st = { .fd = fd, .max = p->max_metadata };
    cookie_io_functions_t io = { .read = stream_read };
    const EVP_MD *md = NULL;
    unsigned char out[EVP_MAX_MD_SIZE];
    char got[2 * EVP_MAX_MD_SIZE + 1];
    unsigned outlen = 0;
    FILE *f = NULL;
    struct stat sb;
    int r, ret;

    if (!meta->checksum_type || !meta->checksum) {
        fail(d, name, "%s: no checksum to check it against", what);
        return -EINVAL;
    }
    /* the stored file first: nothing unchecked reaches a decompressor */
    if ((r = check_digest(fd, meta->checksum_type, meta->checksum, name, what, d)))
        return r;
    if (meta->open_checksum &&
        (r = digest_for(meta->open_checksum_type, meta->open_checksum, name, what, &md, d)))
        return r;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == 0) {
        fail(d, name, "%s: empty", what);
        return -EINVAL;
    }
    if (is_zchunk(fd)) {
        fail(d, name, "%s: compressed with zchunk, not supported (use the .gz, .xz or .zst "
             "variant)", what);
        return -EINVAL;
    }

    r = -ENOMEM;
    if (md && (!(st.ctx = EVP_MD_CTX_new()) || EVP_DigestInit_ex(st.ctx, md, NULL) != 1))
        goto out;
    if ((r = stream_open(&st))) {
        if (r == -EINVAL)
            fail(d, name, "%s: cannot decompress: %s", what, st.why);
        goto out;
    }
    r = -ENOMEM;
    if (!(f = fopencookie(&st, "r", io)))
        goto out;

    ret = repo_add_rpmmd(repo, f, NULL, flags);
    /* the open checksum covers everything, including what libsolv did
     * not need to read */
    if (ret == 0) {
        char sink[4096];

        while (fread(sink, 1, sizeof sink, f) > 0)
            ;
    }
    if (st.too_big) {
        fail(d, name, "%s: more than %llu bytes decompressed, refused", what,
             (unsigned long long)st.max);
        r = -EFBIG;
        goto out;
    }
    if (st.failed) {
        fail(d, name, "%s: cannot decompress: %s", what, st.why);
        r = -EINVAL;
        goto out;
    }
    if (ret != 0) {
        fail(d, name, "%s: %s", what, pool_errstr(p->pool));
        r = -EINVAL;
        goto out;
    }
    if (st.ctx) {
        if (EVP_DigestFinal_ex(st.ctx, out, &outlen) != 1)
            goto out;
        to_hex(out, outlen, got);
        if (strcasecmp(got, meta->open_checksum) != 0) {
            fail(d, name, "%s: %s open checksum mismatch (expected %s, got %s)", what,
                 meta->open_checksum_type, meta->open_checksum, got);
            r = -EBADMSG;
            goto out;
        }
    }
    r = 0;
out:
    if (f)
        fclose(f);
    if (st.a)
        archive_read_free(st.a);
    free(st.inbuf);
    EVP_MD_CTX_free(st.ctx);
    return r;
}

int rpmmd_pool_add_repo(struct rpmmd_pool *p, const char *name,
                        int primary_fd, const struct rpmmd_file *primary_meta,
                        int filelists_fd, const struct rpmmd_file *filelists_meta,
                        struct diag *d)
{
    Repo *repo = NULL, **v;
    int r;

    if (!primary_meta || primary_fd < 0 || (filelists_fd >= 0 && !filelists_meta)) {
        fail(d, name, "no primary metadata, or filelists without its description");
        return -EINVAL;
    }
    if (!(v = realloc(p->repos, (p->nrepos + 1) * sizeof *v)))
        return -ENOMEM;
    p->repos = v;
    if (!(repo = repo_create(p->pool, name)))
        return -ENOMEM;
    r = read_metadata(p, repo, name, primary_fd, primary_meta, 0, d);
    /* filelists entries join primary's packages by pkgid (their checksum) */
    if (!r && filelists_fd >= 0)
        r = read_metadata(p, repo, name, filelists_fd, filelists_meta, REPO_EXTEND_SOLVABLES, d);
    p->stale = true;
    if (r) {
        repo_free(repo, 1);
        return r;
    }
    repo_internalize(repo);
    p->repos[p->nrepos++] = repo;
    return 0;
}

/* --- resolution --------------------------------------------------------- */

void rpmmd_pkgs_free(struct rpmmd_pkg *pkgs, size_t n)
{
    if (!pkgs)
        return;
    for (size_t i = 0; i < n; i++) {
        free(pkgs[i].name);
        free(pkgs[i].epoch_version_release);
        free(pkgs[i].arch);
        free(pkgs[i].nevra);
        free(pkgs[i].location);
        free(pkgs[i].checksum_type);
        free(pkgs[i].checksum);
    }
    free(pkgs);
}

/* How telling a rule is about a problem: the lower, the nearer the cause. */
static int rule_rank(SolverRuleinfo type)
{
    switch (type) {
    case SOLVER_RULE_PKG_NOTHING_PROVIDES_DEP:
    case SOLVER_RULE_JOB_NOTHING_PROVIDES_DEP:
    case SOLVER_RULE_JOB_UNKNOWN_PACKAGE:
        return 0;
    case SOLVER_RULE_PKG_CONFLICTS:
    case SOLVER_RULE_PKG_SELF_CONFLICT:
    case SOLVER_RULE_PKG_OBSOLETES:
    case SOLVER_RULE_PKG_IMPLICIT_OBSOLETES:
    case SOLVER_RULE_PKG_SAME_NAME:
        return 1;
    case SOLVER_RULE_PKG_NOT_INSTALLABLE:
        return 2;
    default:
        return 3;
    }
}

/*
 * One message for problem pid: the rule nearest its cause (a dependency
 * nothing provides rather than "A requires B, but B cannot be
 * installed"), said with the package and the requirement quoted.
 */
static void describe_problem(Solver *solv, Id pid, struct diag *d)
{
    Pool *pool = solv->pool;
    Queue rules;
    Id rid = 0, source = 0, target = 0, dep = 0;
    SolverRuleinfo type = SOLVER_RULE_UNKNOWN;
    int best = 4;

    queue_init(&rules);
    solver_findallproblemrules(solv, pid, &rules);
    for (int i = 0; i < rules.count; i++) {
        Id s, t, dp;
        SolverRuleinfo ty = solver_ruleinfo(solv, rules.elements[i], &s, &t, &dp);
        int rank = rule_rank(ty);

        if (rank < best && rank < 3) {
            best = rank;
            rid = rules.elements[i];
        }
    }
    queue_free(&rules);
    if (!rid)
        rid = solver_findproblemrule(solv, pid);
    type = solver_ruleinfo(solv, rid, &source, &target, &dep);

    switch (type) {
    case SOLVER_RULE_PKG_NOTHING_PROVIDES_DEP:
        fail(d, NULL, "nothing provides `%s' needed by %s", pool_dep2str(pool, dep),
             pool_solvid2str(pool, source));
        break;
    case SOLVER_RULE_JOB_NOTHING_PROVIDES_DEP:
    case SOLVER_RULE_JOB_UNKNOWN_PACKAGE:
        fail(d, NULL, "no package provides `%s' (wanted by the distribution's package set)",
             pool_dep2str(pool, dep));
        break;
    case SOLVER_RULE_PKG_REQUIRES:
        fail(d, NULL, "%s requires `%s', but no package providing it can be installed",
             pool_solvid2str(pool, source), pool_dep2str(pool, dep));
        break;
    case SOLVER_RULE_PKG_CONFLICTS:
        fail(d, NULL, "%s conflicts with `%s', provided by %s", pool_solvid2str(pool, source),
             pool_dep2str(pool, dep), pool_solvid2str(pool, target));
        break;
    case SOLVER_RULE_PKG_SELF_CONFLICT:
        fail(d, NULL, "%s conflicts with `%s', which it provides itself",
             pool_solvid2str(pool, source), pool_dep2str(pool, dep));
        break;
    case SOLVER_RULE_PKG_OBSOLETES:
    case SOLVER_RULE_PKG_IMPLICIT_OBSOLETES:
        fail(d, NULL, "%s obsoletes `%s', provided by %s", pool_solvid2str(pool, source),
             pool_dep2str(pool, dep), pool_solvid2str(pool, target));
        break;
    default:
        /* the rarer kinds (architecture, jobs) in libsolv's words */
        fail(d, NULL, "%s", solver_problemruleinfo2str(solv, type, source, target, dep));
        break;
    }
}

/* The index of repo in p, -1 if not one of p's. */
static int repo_index(const struct rpmmd_pool *p, const Repo *repo)
{
    for (size_t i = 0; i < p->nrepos; i++)
        if (p->repos[i] == repo)
            return (int)i;
    return -1;
}

/* Fills k from solvable s: 0, -EINVAL after a message, -ENOMEM. */
static int pkg_fill(const struct rpmmd_pool *p, Solvable *s, struct rpmmd_pkg *k, struct diag *d)
{
    Pool *pool = p->pool;
    const char *nevra = pool_solvable2str(pool, s), *loc, *hex, *why;
    unsigned medianr = 0;
    bool oom = false;
    Id t = 0;

    k->name = dup_or_null(pool_id2str(pool, s->name), &oom);
    k->epoch_version_release = dup_or_null(pool_id2str(pool, s->evr), &oom);
    k->arch = dup_or_null(pool_id2str(pool, s->arch), &oom);
    k->nevra = dup_or_null(nevra, &oom);
    k->repo = repo_index(p, s->repo);
    if (oom)
        return -ENOMEM;
    if (solvable_lookup_str(s, SOLVABLE_MEDIABASE)) {
        /* <location xml:base=URL>: the package lives elsewhere */
        fail(d, NULL, "%s: a location outside its repository (xml:base), not supported",
             k->nevra);
        return -EINVAL;
    }
    if (!(loc = solvable_lookup_location(s, &medianr))) {
        fail(d, NULL, "%s: no location in its repository's primary", k->nevra);
        return -EINVAL;
    }
    if ((why = bad_location(loc))) {
        fail(d, NULL, "%s: location `%s': %s, refused", k->nevra, loc, why);
        return -EINVAL;
    }
    k->location = dup_or_null(loc, &oom);
    if (!(hex = solvable_lookup_checksum(s, SOLVABLE_CHECKSUM, &t)) || !digest_by_name(solv_chksum_type2str(t))) {
        fail(d, NULL, "%s: no checksum in its repository's primary", k->nevra);
        return oom ? -ENOMEM : -EINVAL;
    }
    k->checksum = dup_or_null(hex, &oom);
    k->checksum_type = dup_or_null(solv_chksum_type2str(t), &oom);
    k->size = solvable_lookup_num(s, SOLVABLE_DOWNLOADSIZE, 0);
    return oom ? -ENOMEM : 0;
}

int rpmmd_resolve(struct rpmmd_pool *p, char *const *want, struct rpmmd_pkg **pkgs_r,
                  size_t *n_r, struct diag *d)
{
    Pool *pool = p->pool;
    Queue job, sel;
    Solver *solv = NULL;
    Transaction *trans = NULL;
    struct rpmmd_pkg *pkgs = NULL;
    size_t n = 0;
    bool missing = false;
    int r, nproblems;

    *pkgs_r = NULL;
    *n_r = 0;
    queue_init(&job);
    queue_init(&sel);
    if (p->stale) {
        /* file dependencies become provides from the file lists, then
         * the index of who provides what */
        pool_addfileprovides(pool);
        pool_createwhatprovides(pool);
        p->stale = false;
    }

    for (char *const *w = want; w && *w; w++) {
        selection_make(pool, &sel, *w, SELECTION_NAME | SELECTION_PROVIDES | SELECTION_FILELIST |
                       SELECTION_CANON | SELECTION_DOTARCH | SELECTION_REL);
        if (!sel.count) {
            fail(d, NULL, "no package provides `%s' (wanted by the distribution's package set)",
                 *w);
            missing = true;
            continue;
        }
        for (int i = 0; i + 1 < sel.count; i += 2)
            queue_push2(&job, sel.elements[i] | SOLVER_INSTALL, sel.elements[i + 1]);
    }

    r = -ENOMEM;
    if (!(solv = solver_create(pool)))
        goto out;
    /* a minimal install: Recommends and Supplements are not followed */
    solver_set_flag(solv, SOLVER_FLAG_IGNORE_RECOMMENDED, 1);
    nproblems = solver_solve(solv, &job);
    for (Id pid = 1; pid <= nproblems; pid++)
        describe_problem(solv, pid, d);
    if (missing || nproblems) {
        r = missing ? -ENOENT : -EINVAL;
        goto out;
    }

    if (!(trans = solver_create_transaction(solv)))
        goto out;
    transaction_order(trans, 0);
    if (trans->steps.count && !(pkgs = calloc((size_t)trans->steps.count, sizeof *pkgs)))
        goto out;
    r = 0;
    for (int i = 0; i < trans->steps.count; i++) {
        int rc = pkg_fill(p, pool->solvables + trans->steps.elements[i], &pkgs[n++], d);

        /* every bad package said, not only the first */
        if (rc && (r == 0 || rc == -ENOMEM))
            r = rc;
    }
    if (r)
        goto out;
    /* rpm's own order puts filesystem first too: every other package's
     * directories hang below it */
    for (size_t i = 1; i < n; i++)
        if (strcmp(pkgs[i].name, "filesystem") == 0) {
            struct rpmmd_pkg fs = pkgs[i];

            memmove(&pkgs[1], &pkgs[0], i * sizeof *pkgs);
            pkgs[0] = fs;
            break;
        }
    *pkgs_r = pkgs;
    *n_r = n;
    pkgs = NULL;
    n = 0;
out:
    rpmmd_pkgs_free(pkgs, n);
    if (trans)
        transaction_free(trans);
    if (solv)
        solver_free(solv);
    queue_free(&sel);
    queue_free(&job);
    return r;
}
