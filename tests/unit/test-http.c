/*
 * test-http.c - fetching with libcurl (toolstack/lib/http.c) against
 * tests/lib/httpd on the loopback, started here: a buffer, a file, 404
 * and 500 with their messages, retries, resume after a dropped
 * connection (and starting over when the server ignores Range), the
 * size limit, progress, redirects (never to file:), file: URLs,
 * cancellation.  Run from the top of the tree ($VMKIT_TEST_HTTPD names
 * another server).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
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

/* Starts httpd serving root with extra arguments; 0 or -1. */
static int server_start(struct server *s, const char *name, const char *const *extra)
{
    char portfile[PATH_MAX], *argv[16];
    struct proc_opts o;
    size_t n = 0;
    int fd;

    snprintf(portfile, sizeof portfile, "%s/%s.port", base, name);
    snprintf(s->log, sizeof s->log, "%s/%s.log", base, name);
    argv[n++] = (char *)httpd_path();
    argv[n++] = (char *)"--root";
    argv[n++] = root;
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
    static char buf[16384];
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

static void write_file(const char *rel, const char *data, size_t len)
{
    char path[PATH_MAX + 64];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", root, rel);
    f = fopen(path, "w");
    fwrite(data, 1, len, f);
    fclose(f);
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
    struct server plain = { 0 }, drop = { 0 }, norange = { 0 };
    char redirect_file[64];
    const char *plain_args[] = {
        "--status", "/err=500", "--status", "/gone=410",
        "--redirect", "/to-small=/small", "--redirect", "/loop=/loop",
        "--redirect", redirect_file, NULL,
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
    big = malloc(BIG_SIZE);
    srand(42);
    for (size_t i = 0; i < BIG_SIZE; i++)
        big[i] = (char)(rand() & 0xff);
    write_file("big", big, BIG_SIZE);
    write_file("small", "hello\n", 6);
    write_file("big2", big, BIG_SIZE);
    write_file("empty", "", 0);
    snprintf(redirect_file, sizeof redirect_file, "/to-file=file:///etc/passwd");

    if (server_start(&plain, "plain", plain_args) < 0 ||
        server_start(&drop, "drop", drop_args) < 0 ||
        server_start(&norange, "norange", norange_args) < 0) {
        printf("Bail out! cannot start %s\n", httpd_path());
        server_stop(&plain);
        server_stop(&drop);
        return 1;
    }
    test_plain(&plain);
    test_file(&plain);
    test_resume(&drop, &norange);
    test_cancel(&plain);
    server_stop(&plain);
    server_stop(&drop);
    server_stop(&norange);
    nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(big);
    return tap_done();
}
