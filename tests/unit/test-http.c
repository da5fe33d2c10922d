/*
 * test-http.c - fetching with libcurl (toolstack/lib/http.c) against
 * tests/lib/httpd on the loopback, started here: a buffer, a file, 404
 * and 500 with their messages, retries, resume after a dropped
 * connection (and starting over when the server ignores Range), the
 * size limit, progress, redirects (never to file:), file: URLs,
 * cancellation; then batches (http_get_many): parallel transfers with
 * their digests, resume, failover across bases (404, the wrong digest or
 * size, a server that cannot be reached, file: bases), the message of an
 * item that failed everywhere, retries that do not hold the others up,
 * a local failure, cancellation.  Run from the top of the tree
 * ($VMKIT_TEST_HTTPD names another server).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "proc.h"
#include "tap.h"

#define BIG_SIZE (1024 * 1024 + 12345)

static char base[] = "/tmp/test-http.XXXXXX";
static char root[PATH_MAX];
static char root2[PATH_MAX];    /* the second mirror's */
static char *big;       /* the content of root/big */

struct server {
    pid_t pid;
    int port;
    char log[PATH_MAX];
};

static const char *httpd_path(void)
{
    const char *p = getenv("VMKIT_TEST_HTTPD");

    return p && *p ? p : "tests/lib/httpd";
}

/* Starts httpd serving dir with extra arguments; 0 or -1. */
static int server_start_in(struct server *s, const char *name, char *dir,
                           const char *const *extra)
{
    char portfile[PATH_MAX], *argv[32];
    struct proc_opts o;
    size_t n = 0, nextra = 0;
    int fd;

    while (extra && extra[nextra])
        nextra++;
    if (5 + nextra + 1 > sizeof argv / sizeof argv[0])
        return -1;

    snprintf(portfile, sizeof portfile, "%s/%s.port", base, name);
    snprintf(s->log, sizeof s->log, "%s/%s.log", base, name);
    argv[n++] = (char *)httpd_path();
    argv[n++] = (char *)"--root";
    argv[n++] = dir;
    argv[n++] = (char *)"--port-file";
    argv[n++] = portfile;
    for (size_t i = 0; extra && extra[i]; i++)
        argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    proc_opts_init(&o);
    o.stdout_fd = PROC_NULL;
    o.stderr_fd = fd;
    if (proc_start(argv[0], argv, &o, &s->pid) < 0) {
        close(fd);
        return -1;
    }
    close(fd);
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(portfile, "r");

        if (f) {
            int ok = fscanf(f, "%d", &s->port) == 1;

            fclose(f);
            if (ok)
                return 0;
        }
        usleep(10000);
    }
    proc_kill(s->pid, 1000);
    return -1;
}

static int server_start(struct server *s, const char *name, const char *const *extra)
{
    return server_start_in(s, name, root, extra);
}

static void server_stop(struct server *s)
{
    if (s->pid > 0)
        proc_kill(s->pid, 1000);
    s->pid = 0;
}

static char *url(const struct server *s, const char *path)
{
    static char buf[4][256];
    static int slot;
    char *p = buf[slot++ % 4];

    snprintf(p, 256, "http://127.0.0.1:%d%s", s->port, path);
    return p;
}

/* The server's log, in a static buffer. */
static const char *log_of(const struct server *s)
{
    static char buf[1 << 20];
    FILE *f = fopen(s->log, "r");
    size_t n = 0;

    if (f) {
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
    }
    buf[n] = 0;
    return buf;
}

/* Whether the server's log has needle, waiting up to 2 s for it (the
 * server logs a request after answering it). */
static int log_has(const struct server *s, const char *needle)
{
    for (int i = 0; i < 200; i++) {
        if (strstr(log_of(s), needle))
            return 1;
        usleep(10000);
    }
    return 0;
}

static const char *messages(const struct diag *d)
{
    static char buf[4096];
    size_t o = 0;

    buf[0] = 0;
    for (size_t i = 0; i < d->n && o < sizeof buf - 1; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s", i ? " | " : "", d->v[i].msg);
    return buf;
}

/* Whether file path holds len bytes equal to data. */
static int file_is(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "r");
    char *got = malloc(len + 1);
    size_t n;
    int same;

    if (!f) {
        free(got);
        return 0;
    }
    n = fread(got, 1, len + 1, f);
    fclose(f);
    same = n == len && memcmp(got, data, len) == 0;
    free(got);
    return same;
}

struct progress {
    unsigned calls;
    uint64_t last_now, last_total;
    int backwards;
};

static void on_progress(void *arg, uint64_t now, uint64_t total)
{
    struct progress *p = arg;

    if (now < p->last_now)
        p->backwards++;
    p->calls++;
    p->last_now = now;
    p->last_total = total;
}

static void write_file_in(const char *dir, const char *rel, const char *data, size_t len)
{
    char path[PATH_MAX + 64];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, rel);
    f = fopen(path, "w");
    fwrite(data, 1, len, f);
    fclose(f);
}

static void write_file(const char *rel, const char *data, size_t len)
{
    write_file_in(root, rel, data, len);
}

static void test_plain(struct server *s)
{
    struct diag d;
    char *buf = NULL, out[PATH_MAX + 16];
    size_t len = 0;
    int r;

    diag_init(&d);
    r = http_get_buffer(url(s, "/small"), 1024, 0, &buf, &len, &d);
    is_int(r, 0, "a small file into a buffer");
    is_int(len, 6, "all of it");
    is_str(buf, "hello\n", "its content, NUL-terminated");
    free(buf);

    r = http_get_buffer(url(s, "/empty"), 1024, 0, &buf, &len, &d);
    ok(r == 0 && len == 0 && buf && buf[0] == 0, "an empty file: an empty string");
    free(buf);

    r = http_get_buffer(url(s, "/missing"), 1024, 0, &buf, &len, &d);
    is_int(r, -ENOENT, "404: -ENOENT");
    ok(buf == NULL && len == 0, "and no buffer");
    {
        char want[256];

        snprintf(want, sizeof want, "cannot fetch %s: HTTP status 404", url(s, "/missing"));
        is_str(messages(&d), want, "the message names the URL and the status");
    }
    diag_dispose(&d);
    diag_init(&d);
    r = http_get_buffer(url(s, "/missing"), 1024, HTTP_MISSING_OK, &buf, &len, &d);
    ok(r == -ENOENT && d.n == 0, "HTTP_MISSING_OK: -ENOENT, nothing recorded");
    r = http_get_buffer(url(s, "/gone"), 1024, HTTP_MISSING_OK, &buf, &len, &d);
    ok(r == -ENOENT && d.n == 0, "410 too");

    r = http_get_buffer(url(s, "/big"), 1000, 0, &buf, &len, &d);
    is_int(r, -EFBIG, "larger than the limit: -EFBIG");
    ok(strstr(messages(&d), "larger than 1000 bytes") && strstr(messages(&d), "/big"),
       "the message says so, with the URL (%s)", messages(&d));
    diag_dispose(&d);
    diag_init(&d);
    r = http_get_buffer(url(s, "/big"), BIG_SIZE, 0, &buf, &len, &d);
    ok(r == 0 && len == BIG_SIZE && memcmp(buf, big, BIG_SIZE) == 0,
       "exactly the limit is fine");
    free(buf);

    /* redirects */
    r = http_get_buffer(url(s, "/to-small"), 1024, 0, &buf, &len, &d);
    ok(r == 0 && buf && strcmp(buf, "hello\n") == 0, "a redirect is followed");
    free(buf);
    r = http_get_buffer(url(s, "/loop"), 1024, 0, &buf, &len, &d);
    is_int(r, -EIO, "a redirect loop fails");
    ok(strstr(messages(&d), "redirect") != NULL, "saying so (%s)", messages(&d));
    diag_dispose(&d);
    diag_init(&d);
    r = http_get_buffer(url(s, "/to-file"), 1 << 20, 0, &buf, &len, &d);
    ok(r < 0 && buf == NULL, "a redirect to a file: URL is refused (%s)", messages(&d));
    diag_dispose(&d);
    diag_init(&d);

    r = http_get_buffer("ftp://127.0.0.1/x", 1024, 0, &buf, &len, &d);
    is_int(r, -EPROTONOSUPPORT, "ftp: is not supported");
    ok(strstr(messages(&d), "only http, https and file"), "saying which are (%s)", messages(&d));
    diag_dispose(&d);
    diag_init(&d);

    /* file: URLs */
    snprintf(out, sizeof out, "file://%s/small", root);
    r = http_get_buffer(out, 1024, 0, &buf, &len, &d);
    ok(r == 0 && buf && strcmp(buf, "hello\n") == 0, "a file: URL");
    free(buf);
    snprintf(out, sizeof out, "file://%s/missing", root);
    r = http_get_buffer(out, 1024, 0, &buf, &len, &d);
    is_int(r, -ENOENT, "a missing file: -ENOENT");
    ok(strstr(messages(&d), "no such file") && strstr(messages(&d), out),
       "with a message naming it (%s)", messages(&d));
    diag_dispose(&d);
}

static void test_file(struct server *s)
{
    struct http_opts o;
    struct progress p = { 0 };
    struct diag d;
    char out[PATH_MAX];
    int r;

    diag_init(&d);
    snprintf(out, sizeof out, "%s/out-big", base);
    http_opts_init(&o);
    o.progress = on_progress;
    o.progress_arg = &p;
    r = http_get_file(url(s, "/big"), out, &o, &d);
    is_int(r, 0, "a file");
    ok(file_is(out, big, BIG_SIZE), "its content");
    ok(p.calls >= 1 && p.last_now == BIG_SIZE && p.last_total == BIG_SIZE && !p.backwards,
       "progress reported up to the whole size (%u calls, last %llu of %llu)",
       p.calls, (unsigned long long)p.last_now, (unsigned long long)p.last_total);

    /* 500: retried, then a message with the status and the attempts */
    o.backoff_ms = 10;
    o.retries = 2;
    o.progress = NULL;
    snprintf(out, sizeof out, "%s/out-err", base);
    r = http_get_file(url(s, "/err"), out, &o, &d);
    is_int(r, -EIO, "HTTP 500: -EIO");
    {
        char want[256];

        snprintf(want, sizeof want, "cannot fetch %s: HTTP status 500 (gave up after 3 attempts)",
                 url(s, "/err"));
        is_str(messages(&d), want, "the message names the URL, the status and the attempts");
    }
    ok(access(out, F_OK) < 0, "the file is removed on failure");
    {
        int n = 0;

        /* the server logs a request after answering it: wait a little */
        for (int i = 0; i < 200 && n < 3; i++) {
            const char *log = log_of(s);

            n = 0;
            for (const char *q = log; (q = strstr(q, "GET /err ")); q++)
                n++;
            if (n < 3)
                usleep(10000);
        }
        is_int(n, 3, "the server saw three attempts");
    }
    diag_dispose(&d);
    diag_init(&d);

    o.max_bytes = 4096;
    snprintf(out, sizeof out, "%s/out-limit", base);
    r = http_get_file(url(s, "/big"), out, &o, &d);
    is_int(r, -EFBIG, "a file over max_bytes: -EFBIG");
    ok(access(out, F_OK) < 0, "and removed");
    diag_dispose(&d);
    diag_init(&d);

    /* nobody listening */
    {
        struct server dead = { .port = 1 };

        o.max_bytes = 0;
        r = http_get_file(url(&dead, "/x"), out, &o, &d);
        is_int(r, -EIO, "nobody listening: -EIO after the retries");
        ok(strstr(messages(&d), "127.0.0.1:1/x") && strstr(messages(&d), "connect"),
           "saying it could not connect (%s)", messages(&d));
    }
    diag_dispose(&d);
    diag_init(&d);

    snprintf(out, sizeof out, "%s/no/such/dir/out", base);
    r = http_get_file(url(s, "/small"), out, &o, &d);
    is_int(r, -ENOENT, "an output file that cannot be created");
    ok(d.n == 1 && d.v[0].file && strcmp(d.v[0].file, out) == 0, "is named");
    diag_dispose(&d);
}

static void test_resume(struct server *s, struct server *norange)
{
    struct http_opts o;
    struct progress p = { 0 };
    struct diag d;
    char out[PATH_MAX], *buf = NULL;
    size_t len = 0;
    int r;

    diag_init(&d);
    http_opts_init(&o);
    o.backoff_ms = 10;
    o.progress = on_progress;
    o.progress_arg = &p;
    snprintf(out, sizeof out, "%s/out-resumed", base);
    r = http_get_file(url(s, "/big"), out, &o, &d);
    if (!is_int(r, 0, "a dropped connection: resumed"))
        printf("#   %s\n", messages(&d));
    ok(file_is(out, big, BIG_SIZE), "the whole content, in order");
    if (!ok(log_has(s, "GET /big -> 200 (1060921 bytes, dropped after 100000)") &&
       log_has(s, "GET /big range=bytes=100000- -> 206 (960921 bytes)"),
       "the second request asked for the rest with Range"))
        printf("# %s", log_of(s));
    ok(p.last_now == BIG_SIZE && p.last_total == BIG_SIZE && !p.backwards,
       "progress counts the whole resource across the resume");

    r = http_get_buffer(url(s, "/big2"), BIG_SIZE, 0, &buf, &len, &d);
    ok(r == 0 && len == BIG_SIZE && memcmp(buf, big, BIG_SIZE) == 0,
       "a buffer resumes too");
    ok(log_has(s, "GET /big2 range=bytes=100000- -> 206"),
       "with Range");
    free(buf);

    snprintf(out, sizeof out, "%s/out-norange", base);
    r = http_get_file(url(norange, "/big"), out, &o, &d);
    is_int(r, 0, "a server without Range: started over");
    ok(file_is(out, big, BIG_SIZE), "the whole content, once");
    diag_dispose(&d);
}

static void test_cancel(struct server *s)
{
    static volatile sig_atomic_t flag;
    struct diag d;
    char *buf = NULL;
    size_t len;

    diag_init(&d);
    flag = 1;
    proc_set_cancel(&flag);
    is_int(http_get_buffer(url(s, "/big"), 0, 0, &buf, &len, &d), -ECANCELED,
           "cancelled: -ECANCELED");
    is_int(d.n, 0, "nothing recorded");
    proc_set_cancel(NULL);
    diag_dispose(&d);
}

/* ---- batches ---- */

#define NMANY 20

static char *many[NMANY];       /* the content of root/many/fNN */
static size_t many_len[NMANY];
static char *good;              /* m/good, m/corrupt, m/only2, m/bad-everywhere */
#define GOOD_SIZE 70001

static char *make_data(unsigned seed, size_t len)
{
    char *p = malloc(len ? len : 1);

    srand(seed);
    for (size_t i = 0; i < len; i++)
        p[i] = (char)(rand() & 0xff);
    return p;
}

/* The hex digest of data in out (at least 129 bytes). */
static const char *hexdigest(const char *type, const char *data, size_t len, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;

    EVP_Digest(data, len, md, &mdlen, EVP_get_digestbyname(type), NULL);
    for (unsigned i = 0; i < mdlen; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
    out[2 * mdlen] = 0;
    return out;
}

struct bprogress {
    unsigned calls;
    size_t done, n;
    uint64_t now, total;
    size_t cancel_at;           /* set the cancel flag when done reaches it (0: never) */
    volatile sig_atomic_t *flag;
};

static void on_batch_progress(void *arg, size_t done, size_t n, uint64_t now, uint64_t total)
{
    struct bprogress *p = arg;

    p->calls++;
    p->done = done;
    p->n = n;
    p->now = now;
    p->total = total;
    if (p->cancel_at && done >= p->cancel_at && p->flag)
        *p->flag = 1;
}

/* An item for path into base/dest-NAME with a digest of data (type NULL:
 * none); the strings live in the slot-th of a few static buffers. */
struct item_bufs {
    char dest[PATH_MAX];
    char digest[129];
};

static void item_set(struct http_item *it, struct item_bufs *b, const char *path,
                     const char *name, const char *type, const char *data, size_t len,
                     uint64_t size)
{
    memset(it, 0, sizeof(*it));
    snprintf(b->dest, sizeof b->dest, "%s/dest-%s", base, name);
    it->path = path;
    it->dest = b->dest;
    it->size = size;
    if (type) {
        it->digest_type = type;
        it->digest = hexdigest(type, data, len, b->digest);
    }
    it->result = 12345;
}

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void fast_opts(struct http_opts *o)
{
    http_opts_init(o);
    o->retries = 2;
    o->backoff_ms = 10;
}

static void test_many(struct server *s)
{
    static const char *const types[] = { "sha256", "sha1", "sha512", "SHA256" };
    static struct item_bufs bufs[NMANY];
    struct http_item items[NMANY];
    char paths[NMANY][32], name[32], b0[64];
    char *bases[1] = { b0 };
    struct bprogress p = { 0 };
    struct http_opts o;
    struct diag d;
    uint64_t sum = 0;
    int r, good_files = 0, all_ok = 1, logged = 0;

    diag_init(&d);
    fast_opts(&o);
    /* a trailing slash on the base, a leading one on some paths: one
     * slash between them all the same */
    snprintf(b0, sizeof b0, "http://127.0.0.1:%d/many//", s->port);
    for (int i = 0; i < NMANY; i++) {
        snprintf(paths[i], sizeof paths[i], "%sf%02d", i % 2 ? "/" : "", i);
        snprintf(name, sizeof name, "many-%02d", i);
        /* half with their size, half without */
        item_set(&items[i], &bufs[i], paths[i], name, types[i % 4], many[i], many_len[i],
                 i % 3 ? many_len[i] : 0);
        sum += many_len[i];
    }
    r = http_get_many(bases, 1, items, NMANY, 4, &o, on_batch_progress, &p, &d);
    if (!is_int(r, 0, "20 files, 4 at a time"))
        printf("#   %s\n", messages(&d));
    for (int i = 0; i < NMANY; i++) {
        char want[64];

        all_ok &= items[i].result == 0;
        good_files += file_is(items[i].dest, many[i], many_len[i]);
        snprintf(want, sizeof want, "GET /many/f%02d -> 200", i);
        logged += log_has(s, want);
    }
    ok(all_ok, "every item's result is 0");
    is_int(good_files, NMANY, "every file has its content (and its digest matched)");
    is_int(logged, NMANY, "every URL had exactly one slash between base and path");
    is_int(d.n, 0, "nothing recorded");
    ok(p.calls >= 1 && p.done == NMANY && p.n == NMANY && p.now == sum && p.total == sum,
       "progress ends with 20 of 20 and every byte (%u calls, %zu/%zu, %llu of %llu, want %llu)",
       p.calls, p.done, p.n, (unsigned long long)p.now, (unsigned long long)p.total,
       (unsigned long long)sum);
    diag_dispose(&d);
}

static void test_many_resume(struct server *drop, struct server *norange)
{
    static struct item_bufs bufs[2];
    struct http_item items[2];
    char b0[64], b1[64];
    char *bases0[1] = { b0 }, *bases1[1] = { b1 };
    struct http_opts o;
    struct diag d;
    int r;

    diag_init(&d);
    fast_opts(&o);
    snprintf(b0, sizeof b0, "http://127.0.0.1:%d", drop->port);
    snprintf(b1, sizeof b1, "http://127.0.0.1:%d", norange->port);
    item_set(&items[0], &bufs[0], "big3", "big3", "sha256", big, BIG_SIZE, BIG_SIZE);
    item_set(&items[1], &bufs[1], "big4", "big4", "sha256", big, BIG_SIZE, 0);
    r = http_get_many(bases0, 1, items, 1, 0, &o, NULL, NULL, &d);
    if (!is_int(r, 0, "a batch: a dropped transfer resumed"))
        printf("#   %s\n", messages(&d));
    ok(file_is(items[0].dest, big, BIG_SIZE), "the whole content, its digest right");
    if (!ok(log_has(drop, "GET /big3 -> 200 (1060921 bytes, dropped after 100000)") &&
            log_has(drop, "GET /big3 range=bytes=100000- -> 206 (960921 bytes)"),
            "with Range for the rest"))
        printf("# %s", log_of(drop));
    r = http_get_many(bases1, 1, items + 1, 1, 0, &o, NULL, NULL, &d);
    if (!is_int(r, 0, "a batch: a server that ignores Range: started over"))
        printf("#   %s\n", messages(&d));
    ok(file_is(items[1].dest, big, BIG_SIZE), "the whole content once, the digest started over too");
    diag_dispose(&d);
}

static void test_failover(struct server *s1, struct server *s2)
{
    static struct item_bufs bufs[8];
    struct http_item items[8];
    char b0[64], b1[64], b2[64], want[PATH_MAX + 1024], fb[PATH_MAX + 16];
    char *bases[3] = { b0, b1, b2 };
    struct http_opts o;
    struct diag d;
    int r;

    diag_init(&d);
    fast_opts(&o);
    snprintf(b0, sizeof b0, "http://127.0.0.1:%d/m", s1->port);
    snprintf(b1, sizeof b1, "http://127.0.0.1:%d/m/", s2->port);
    snprintf(b2, sizeof b2, "http://127.0.0.1:1/m");

    /* root has a corrupted m/corrupt, none of m/only2; root2 has both right */
    item_set(&items[0], &bufs[0], "corrupt", "corrupt", "sha256", good, GOOD_SIZE, 0);
    item_set(&items[1], &bufs[1], "only2", "only2", "sha256", good, GOOD_SIZE, GOOD_SIZE);
    item_set(&items[2], &bufs[2], "good", "good", "sha512", good, GOOD_SIZE, GOOD_SIZE);
    r = http_get_many(bases, 2, items, 3, 2, &o, NULL, NULL, &d);
    if (!is_int(r, 0, "the wrong digest and a 404 on base 1: fetched from base 2"))
        printf("#   %s\n", messages(&d));
    ok(items[0].result == 0 && file_is(items[0].dest, good, GOOD_SIZE),
       "the corrupted file came right from base 2");
    ok(log_has(s1, "GET /m/corrupt -> 200") && log_has(s2, "GET /m/corrupt -> 200"),
       "after base 1 sent the wrong one");
    ok(items[1].result == 0 && file_is(items[1].dest, good, GOOD_SIZE),
       "the file base 1 lacks came from base 2");
    ok(log_has(s1, "GET /m/only2 -> 404"), "after base 1 said 404");
    ok(items[2].result == 0 && file_is(items[2].dest, good, GOOD_SIZE) &&
       !strstr(log_of(s2), "GET /m/good "), "a good file came from base 1 alone");
    is_int(d.n, 0, "nothing recorded");

    /* the wrong size on base 1 */
    item_set(&items[0], &bufs[0], "good", "good-short", NULL, NULL, 0, GOOD_SIZE + 5);
    r = http_get_many(bases, 2, items, 1, 0, &o, NULL, NULL, &d);
    is_int(r, -EBADMSG, "a file shorter than its size, everywhere: -EBADMSG");
    snprintf(want, sizeof want, "cannot fetch good: %s/good: size mismatch: expected %d bytes, "
             "got %d; %sgood: size mismatch: expected %d bytes, got %d", b0, GOOD_SIZE + 5,
             GOOD_SIZE, b1, GOOD_SIZE + 5, GOOD_SIZE);
    is_str(messages(&d), want, "one message: the item, each URL and the sizes");
    diag_dispose(&d);
    diag_init(&d);
    item_set(&items[0], &bufs[0], "good", "good-long", NULL, NULL, 0, GOOD_SIZE - 1);
    r = http_get_many(bases, 1, items, 1, 0, &o, NULL, NULL, &d);
    ok(r == -EFBIG && strstr(messages(&d), "larger than 70000 bytes"),
       "a file larger than its size: -EFBIG (%s)", messages(&d));
    ok(access(items[0].dest, F_OK) < 0, "and removed");
    diag_dispose(&d);
    diag_init(&d);

    /* every base failing: 404, the wrong digest, nobody listening; the
     * item beside it is fetched all the same */
    item_set(&items[0], &bufs[0], "bad-everywhere", "bad", "sha256", good, GOOD_SIZE, 0);
    item_set(&items[1], &bufs[1], "good", "good2", "sha256", good, GOOD_SIZE, 0);
    r = http_get_many(bases, 3, items, 2, 0, &o, NULL, NULL, &d);
    is_int(r, -EIO, "every base failing: the last base's error");
    is_int(items[0].result, -EIO, "in the item's result");
    is_int(items[1].result, 0, "the other item was fetched");
    ok(file_is(items[1].dest, good, GOOD_SIZE), "whole");
    ok(access(items[0].dest, F_OK) < 0, "no file left for the failed item");
    is_int(d.n, 1, "one message for the failed item");
    {
        char got[129];

        hexdigest("sha256", good + 1, GOOD_SIZE - 1, got);
        /* root2's copy is good without its first byte */
        snprintf(want, sizeof want, "cannot fetch bad-everywhere: %s/bad-everywhere: "
                 "HTTP status 404; %sbad-everywhere: sha256 mismatch: expected %s, got %s; "
                 "%s/bad-everywhere: Couldn't connect to server", b0, b1, items[0].digest,
                 got, b2);
        ok(d.n == 1 && strncmp(d.v[0].msg, want, strlen(want)) == 0 &&
           strstr(d.v[0].msg, "(gave up after 3 attempts)"),
           "naming it, each URL and why");
        printf("#   %s\n", messages(&d));
    }
    diag_dispose(&d);
    diag_init(&d);

    /* a base nobody listens on, first: failover, and once it has failed
     * for an item the later ones do not wait for it (one at a time, so
     * that the order is known) */
    bases[0] = b2;
    bases[1] = b0;
    item_set(&items[0], &bufs[0], "good", "dead-1", "sha256", good, GOOD_SIZE, 0);
    item_set(&items[1], &bufs[1], "corrupt", "dead-2", NULL, NULL, 0, 0);
    item_set(&items[2], &bufs[2], "nowhere", "dead-3", NULL, NULL, 0, 0);
    r = http_get_many(bases, 2, items, 3, 1, &o, NULL, NULL, &d);
    is_int(r, -ENOENT, "a closed port, then a base that lacks one file");
    ok(items[0].result == 0 && file_is(items[0].dest, good, GOOD_SIZE),
       "an unreachable base: fetched from the next one");
    ok(items[1].result == 0, "and the next item too");
    snprintf(want, sizeof want, "cannot fetch nowhere: %s/nowhere: not tried, unreachable "
             "earlier: Couldn't connect to server", b2);
    ok(d.n == 1 && strncmp(d.v[0].msg, want, strlen(want)) == 0 &&
       strstr(d.v[0].msg, "/m/nowhere: HTTP status 404"),
       "later items did not try it again, and say so (%s)", messages(&d));
    diag_dispose(&d);
    diag_init(&d);

    /* HTTP_MISSING_OK: missing everywhere is no message */
    bases[0] = b0;
    bases[1] = b1;
    o.flags = HTTP_MISSING_OK;
    item_set(&items[0], &bufs[0], "nowhere", "nowhere", NULL, NULL, 0, 0);
    r = http_get_many(bases, 2, items, 1, 0, &o, NULL, NULL, &d);
    ok(r == -ENOENT && items[0].result == -ENOENT && d.n == 0,
       "HTTP_MISSING_OK: missing on every base: -ENOENT, nothing recorded");
    ok(access(items[0].dest, F_OK) < 0, "no file");
    o.flags = 0;

    /* file: bases: a local mirror, and one without the file */
    snprintf(fb, sizeof fb, "file://%s/m", root2);
    bases[0] = fb;
    item_set(&items[0], &bufs[0], "only2", "file-1", "sha1", good, GOOD_SIZE, GOOD_SIZE);
    r = http_get_many(bases, 1, items, 1, 0, &o, NULL, NULL, &d);
    if (!is_int(r, 0, "a file: base"))
        printf("#   %s\n", messages(&d));
    ok(file_is(items[0].dest, good, GOOD_SIZE), "its content");
    snprintf(fb, sizeof fb, "file://%s/m/", root);
    bases[1] = b1;
    item_set(&items[0], &bufs[0], "only2", "file-2", "sha1", good, GOOD_SIZE, GOOD_SIZE);
    r = http_get_many(bases, 2, items, 1, 0, &o, NULL, NULL, &d);
    ok(r == 0 && file_is(items[0].dest, good, GOOD_SIZE),
       "a file: base without the file: fetched from the next base");
    item_set(&items[0], &bufs[0], "only2", "file-3", NULL, NULL, 0, 0);
    r = http_get_many(bases, 1, items, 1, 0, &o, NULL, NULL, &d);
    snprintf(want, sizeof want, "cannot fetch only2: file://%s/m/only2: no such file", root);
    is_str(messages(&d), want, "and when it is the only one, it says so");
    diag_dispose(&d);
}

/* A retry waits in the multi loop: the other transfers go on. */
static void test_many_retry(struct server *s)
{
    static struct item_bufs bufs[10];
    struct http_item items[10];
    char b0[64], name[32], paths[10][16], want[256];
    char *bases[1] = { b0 };
    struct http_opts o;
    struct diag d;
    const char *log, *third;
    int r, ok_items = 0, before = 0;

    diag_init(&d);
    http_opts_init(&o);
    o.retries = 2;
    o.backoff_ms = 300;
    snprintf(b0, sizeof b0, "http://127.0.0.1:%d", s->port);
    item_set(&items[0], &bufs[0], "retry-err", "retry-err", NULL, NULL, 0, 0);
    for (int i = 1; i < 10; i++) {
        snprintf(paths[i], sizeof paths[i], "many/f%02d", i);
        snprintf(name, sizeof name, "retry-%d", i);
        item_set(&items[i], &bufs[i], paths[i], name, "sha256", many[i], many_len[i], 0);
    }
    r = http_get_many(bases, 1, items, 10, 2, &o, NULL, NULL, &d);
    is_int(r, -EIO, "HTTP 503 three times: -EIO");
    snprintf(want, sizeof want, "cannot fetch retry-err: %s/retry-err: HTTP status 503 (gave "
             "up after 3 attempts)", b0);
    is_str(messages(&d), want, "its message");
    for (int i = 1; i < 10; i++)
        ok_items += items[i].result == 0 && file_is(items[i].dest, many[i], many_len[i]);
    is_int(ok_items, 9, "the nine others were fetched");
    /* the 900 ms of backoff went by while the other slot fetched them:
     * the server logged them before the third request of retry-err */
    third = NULL;
    for (int i = 0; i < 200 && !third; i++) {
        int n = 0;

        log = log_of(s);
        for (const char *q = log; (q = strstr(q, "GET /retry-err ")); q++)
            if (++n == 3) {
                third = q;
                break;
            }
        if (!third)
            usleep(10000);
    }
    for (int i = 1; i < 10; i++) {
        char needle[64];
        const char *at;

        /* the last request of it (test_many asked for it too) */
        snprintf(needle, sizeof needle, "GET /many/f%02d ", i);
        for (at = strstr(log, needle); at && strstr(at + 1, needle); at = strstr(at + 1, needle))
            ;
        before += at && third && at < third;
    }
    is_int(before, 9, "before the last retry of the failing one");
    diag_dispose(&d);
}

static void test_many_errors(struct server *s)
{
    static struct item_bufs bufs[3];
    struct http_item items[3];
    char b0[64];
    char *bases[2] = { b0, (char *)"ftp://127.0.0.1/" };
    struct http_opts o;
    struct diag d;
    int r;

    diag_init(&d);
    fast_opts(&o);
    snprintf(b0, sizeof b0, "http://127.0.0.1:%d", s->port);
    item_set(&items[0], &bufs[0], "small", "arg-1", NULL, NULL, 0, 0);
    r = http_get_many(bases, 2, items, 1, 0, &o, NULL, NULL, &d);
    ok(r == -EPROTONOSUPPORT && strstr(messages(&d), "ftp://127.0.0.1/: only http, https and file"),
       "an ftp: base: -EPROTONOSUPPORT (%s)", messages(&d));
    ok(access(items[0].dest, F_OK) < 0 && items[0].result == -ECANCELED,
       "nothing fetched, the result says so");
    diag_dispose(&d);
    diag_init(&d);
    item_set(&items[0], &bufs[0], "small", "arg-1", "sha256", "hello\n", 6, 0);
    items[0].digest_type = "nosuch";
    item_set(&items[1], &bufs[1], "small", "arg-2", "sha256", "hello\n", 6, 0);
    items[1].digest = "abcd";
    r = http_get_many(bases, 1, items, 2, 0, &o, NULL, NULL, &d);
    is_int(r, -EINVAL, "an unknown digest type, a digest too short: -EINVAL");
    ok(d.n == 2 && strstr(d.v[0].msg, "unknown digest type nosuch") &&
       strstr(d.v[1].msg, "sha256 digest is not 64 hex digits"),
       "one message each (%s)", messages(&d));
    ok(access(items[0].dest, F_OK) < 0 && access(items[1].dest, F_OK) < 0, "nothing fetched");
    diag_dispose(&d);
    diag_init(&d);

    /* a file that cannot be created stops the batch: the next would fail
     * the same way */
    item_set(&items[0], &bufs[0], "small", "x", NULL, NULL, 0, 0);
    snprintf(bufs[0].dest, sizeof bufs[0].dest, "%s/no/such/dir", base);
    item_set(&items[1], &bufs[1], "small", "local-2", NULL, NULL, 0, 0);
    r = http_get_many(bases, 1, items, 2, 1, &o, NULL, NULL, &d);
    is_int(r, -ENOENT, "a destination that cannot be created: its error");
    ok(d.n == 1 && d.v[0].file && strcmp(d.v[0].file, bufs[0].dest) == 0 &&
       strstr(d.v[0].msg, "cannot create"), "named in one message");
    ok(items[0].result == -ENOENT && items[1].result == -ECANCELED &&
       access(items[1].dest, F_OK) < 0, "the batch stopped there");
    diag_dispose(&d);
    diag_init(&d);

    r = http_get_many(bases, 1, items, 0, 0, &o, NULL, NULL, &d);
    ok(r == 0 && d.n == 0, "no items: nothing to do");
    diag_dispose(&d);
}

static void test_many_cancel(struct server *s)
{
    static volatile sig_atomic_t flag;
    static struct item_bufs bufs[8];
    struct http_item items[8];
    char b0[64], name[32], paths[4][16];
    char *bases[1] = { b0 };
    struct bprogress p = { .cancel_at = 4, .flag = &flag };
    struct http_opts o;
    struct diag d;
    long long t0;
    int r, fine = 1;

    diag_init(&d);
    http_opts_init(&o);
    o.backoff_ms = 2000;
    snprintf(b0, sizeof b0, "http://127.0.0.1:%d", s->port);
    for (int i = 0; i < 4; i++) {
        snprintf(paths[i], sizeof paths[i], "many/f%02d", i + 10);
        snprintf(name, sizeof name, "cancel-%d", i);
        item_set(&items[i], &bufs[i], paths[i], name, "sha256", many[i + 10],
                 many_len[i + 10], 0);
    }
    for (int i = 4; i < 8; i++) {
        snprintf(name, sizeof name, "cancel-%d", i);
        item_set(&items[i], &bufs[i], "cancel-err", name, NULL, NULL, 0, 0);
    }
    flag = 0;
    proc_set_cancel(&flag);
    t0 = mono_ms();
    /* the four good ones are done at once; the four others wait 2 s for
     * their retry when progress sets the flag */
    r = http_get_many(bases, 1, items, 8, 8, &o, on_batch_progress, &p, &d);
    is_int(r, -ECANCELED, "cancelled in the middle of a batch: -ECANCELED");
    ok(mono_ms() - t0 < 1500, "at once, not after the retries' wait (%lld ms)", mono_ms() - t0);
    is_int(d.n, 0, "nothing recorded");
    for (int i = 0; i < 4; i++)
        fine &= items[i].result == 0 && file_is(items[i].dest, many[i + 10], many_len[i + 10]);
    ok(fine, "the files fetched before stay");
    fine = 1;
    for (int i = 4; i < 8; i++)
        fine &= items[i].result == -ECANCELED && access(items[i].dest, F_OK) < 0;
    ok(fine, "the unfinished ones are removed, their result -ECANCELED");

    item_set(&items[0], &bufs[0], "big", "cancel-pre", NULL, NULL, 0, 0);
    r = http_get_many(bases, 1, items, 1, 0, &o, NULL, NULL, &d);
    ok(r == -ECANCELED && items[0].result == -ECANCELED && access(items[0].dest, F_OK) < 0 &&
       d.n == 0, "cancelled before: -ECANCELED, no file, nothing recorded");
    proc_set_cancel(NULL);
    diag_dispose(&d);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    remove(path);
    return 0;
}

int main(void)
{
    struct server plain = { 0 }, drop = { 0 }, norange = { 0 }, mirror2 = { 0 };
    char redirect_file[64];
    const char *plain_args[] = {
        "--status", "/err=500", "--status", "/gone=410",
        "--redirect", "/to-small=/small", "--redirect", "/loop=/loop",
        "--redirect", redirect_file,
        "--status", "/retry-err=503", "--status", "/cancel-err=503", NULL,
    };
    const char *drop_args[] = { "--drop-after", "100000", NULL };
    const char *norange_args[] = { "--drop-after", "100000", "--no-range", NULL };

    signal(SIGPIPE, SIG_IGN);
    if (access(httpd_path(), X_OK) < 0) {
        printf("1..0 # SKIP %s not found (run from the top of the tree)\n", httpd_path());
        return 0;
    }
    if (!mkdtemp(base))
        return 1;
    snprintf(root, sizeof root, "%s/root", base);
    mkdir(root, 0755);
    snprintf(root2, sizeof root2, "%s/root2", base);
    mkdir(root2, 0755);
    big = malloc(BIG_SIZE);
    srand(42);
    for (size_t i = 0; i < BIG_SIZE; i++)
        big[i] = (char)(rand() & 0xff);
    write_file("big", big, BIG_SIZE);
    write_file("small", "hello\n", 6);
    write_file("big2", big, BIG_SIZE);
    write_file("empty", "", 0);
    write_file("big3", big, BIG_SIZE);
    write_file("big4", big, BIG_SIZE);
    {
        char dir[PATH_MAX + 8];

        snprintf(dir, sizeof dir, "%s/many", root);
        mkdir(dir, 0755);
        snprintf(dir, sizeof dir, "%s/m", root);
        mkdir(dir, 0755);
        snprintf(dir, sizeof dir, "%s/m", root2);
        mkdir(dir, 0755);
    }
    for (int i = 0; i < NMANY; i++) {
        char rel[32];

        many_len[i] = 1000 * (size_t)i * (size_t)i + 37;
        many[i] = make_data(100 + (unsigned)i, many_len[i]);
        snprintf(rel, sizeof rel, "many/f%02d", i);
        write_file(rel, many[i], many_len[i]);
    }
    /* root is the first mirror: a corrupted m/corrupt, no m/only2 nor
     * m/bad-everywhere; root2 the second: right, but for bad-everywhere */
    good = make_data(7, GOOD_SIZE);
    write_file("m/good", good, GOOD_SIZE);
    write_file_in(root2, "m/good", good, GOOD_SIZE);
    write_file_in(root2, "m/corrupt", good, GOOD_SIZE);
    write_file_in(root2, "m/only2", good, GOOD_SIZE);
    write_file_in(root2, "m/bad-everywhere", good + 1, GOOD_SIZE - 1);
    good[100] ^= 1;
    write_file("m/corrupt", good, GOOD_SIZE);
    good[100] ^= 1;
    snprintf(redirect_file, sizeof redirect_file, "/to-file=file:///etc/passwd");

    if (server_start(&plain, "plain", plain_args) < 0 ||
        server_start(&drop, "drop", drop_args) < 0 ||
        server_start(&norange, "norange", norange_args) < 0 ||
        server_start_in(&mirror2, "mirror2", root2, NULL) < 0) {
        printf("Bail out! cannot start %s\n", httpd_path());
        server_stop(&plain);
        server_stop(&drop);
        server_stop(&norange);
        server_stop(&mirror2);
        nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        return 1;
    }
    test_plain(&plain);
    test_file(&plain);
    test_resume(&drop, &norange);
    test_cancel(&plain);
    test_many(&plain);
    test_many_resume(&drop, &norange);
    test_failover(&plain, &mirror2);
    test_many_retry(&plain);
    test_many_errors(&plain);
    test_many_cancel(&plain);
    server_stop(&plain);
    server_stop(&drop);
    server_stop(&norange);
    server_stop(&mirror2);
    nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(big);
    free(good);
    for (int i = 0; i < NMANY; i++)
        free(many[i]);
    return tap_done();
}
