/*
 * http.c - libcurl transfers with retries and resume (see http.h).
 *
 * One URL's transfer (struct xfer) is a series of attempts: xfer_begin
 * prepares one, libcurl runs it, xfer_end says whether it is done, worth
 * another attempt after a delay, or failed for good.  http_get_file runs
 * the attempts one after the other with curl_easy_perform and sleeps in
 * between; http_get_many runs many of them in one multi handle and keeps
 * the others going while one waits for its retry.
 */
#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "proc.h"

#define PROGRESS_INTERVAL_MS 100

/* Where the bytes go: a file descriptor, or a growing buffer. */
struct sink {
    int fd;                     /* -1: the buffer */
    char *buf;
    size_t cap;
    uint64_t have;              /* bytes kept so far, over every attempt */
    uint64_t max;               /* 0: no limit */
    uint64_t base;              /* have when this attempt started */
    int64_t range_start;        /* this attempt's Content-Range start, -1: none */
    uint64_t total;             /* the whole size as the server announced it, 0:
                                 * not known */
    bool too_big, mismatch;
    int werr;                   /* write(2) failure */
    EVP_MD_CTX *md;             /* NULL: no digest computed */
    const EVP_MD *md_type;
    CURL *curl;
    const struct http_opts *o;
    long long last_progress_ms;
};

void http_opts_init(struct http_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->retries = 3;
    o->backoff_ms = 1000;
    o->connect_timeout_s = 10;
    o->low_speed_limit = 1024;
    o->low_speed_time_s = 30;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static bool scheme_allowed(const char *url)
{
    static const char *const ok[] = { "http://", "https://", "file://" };

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strncasecmp(url, ok[i], strlen(ok[i])) == 0)
            return true;
    return false;
}

/* Header callback: remembers this response's Content-Range start. */
static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t len = size * n;
    static const char name[] = "content-range:";

    if (len > 6 && strncasecmp(data, "HTTP/", 5) == 0)
        s->range_start = -1;    /* a new response (after a redirect) */
    if (len > sizeof(name) && strncasecmp(data, name, sizeof(name) - 1) == 0) {
        const char *p = data + sizeof(name) - 1;
        const char *end = data + len;

        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p > 6 && strncasecmp(p, "bytes ", 6) == 0) {
            uint64_t v = 0;
            bool digits = false;

            for (p += 6; p < end && *p >= '0' && *p <= '9'; p++) {
                if (v > (UINT64_MAX - 9) / 10)
                    break;
                v = v * 10 + (uint64_t)(*p - '0');
                digits = true;
            }
            if (digits && v <= INT64_MAX)
                s->range_start = (int64_t)v;
        }
    }
    return len;
}

static int sink_put(struct sink *s, const char *data, size_t len)
{
    /* the digest follows the bytes kept, so that it survives a resume
     * and starts over with the sink (sink_reset) */
    if (s->md && len > 0 && EVP_DigestUpdate(s->md, data, len) != 1) {
        s->werr = ENOMEM;
        return -1;
    }
    if (s->fd >= 0) {
        while (len > 0) {
            ssize_t w = write(s->fd, data, len);

            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                s->werr = errno;
                return -1;
            }
            data += w;
            len -= (size_t)w;
            s->have += (uint64_t)w;
        }
        return 0;
    }
    if (s->have + len + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 16384;
        char *nb;

        while (cap < s->have + len + 1)
            cap *= 2;
        if (!(nb = realloc(s->buf, cap))) {
            s->werr = ENOMEM;
            return -1;
        }
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->have, data, len);
    s->have += len;
    return 0;
}

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t len = size * n;
    long code = 0;

    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
    /* file: has no status; of HTTP only a 2xx body is the resource (the
     * bodies of redirects and errors are dropped) */
    if (code != 0 && (code < 200 || code > 299))
        return len;
    if (s->have == s->base && s->base > 0) {
        /* the first bytes of a resumed transfer: they must continue ours */
        if (code == 206 && s->range_start != (int64_t)s->base) {
            s->mismatch = true;
            return 0;
        }
    }
    if (s->max && s->have + len > s->max) {
        s->too_big = true;
        return 0;
    }
    if (sink_put(s, data, len) < 0)
        return 0;
    return len;
}

static void report_progress(struct sink *s, uint64_t total, bool last)
{
    long long t = now_ms();

    if (!s->o->progress)
        return;
    if (!last && t - s->last_progress_ms < PROGRESS_INTERVAL_MS)
        return;
    s->last_progress_ms = t;
    s->o->progress(s->o->progress_arg, s->have, total);
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
    struct sink *s = arg;

    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    if (proc_cancelled())
        return 1;
    s->total = dltotal > 0 ? s->base + (uint64_t)dltotal : 0;
    report_progress(s, s->total, false);
    return 0;
}

/* Sleeps ms, waking early (false) when cancelled. */
static bool pause_ms(int ms)
{
    long long end = now_ms() + ms;

    while (!proc_cancelled()) {
        long long left = end - now_ms();
        struct timespec ts;

        if (left <= 0)
            return true;
        if (left > 50)
            left = 50;
        ts.tv_sec = 0;
        ts.tv_nsec = left * 1000000L;
        nanosleep(&ts, NULL);
    }
    return false;
}

/* Drops what this sink holds, for a transfer that starts over. */
static int sink_reset(struct sink *s)
{
    s->have = 0;
    s->total = 0;
    if (s->fd >= 0) {
        if (ftruncate(s->fd, 0) < 0 || lseek(s->fd, 0, SEEK_SET) < 0) {
            s->werr = errno;
            return -1;
        }
    }
    if (s->md && EVP_DigestInit_ex(s->md, s->md_type, NULL) != 1) {
        s->werr = ENOMEM;
        return -1;
    }
    return 0;
}

static bool retryable(CURLcode c, long code)
{
    switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_RANGE_ERROR:
        return true;
    case CURLE_HTTP_RETURNED_ERROR:
        return code == 408 || code == 429 || code >= 500;
    default:
        return false;
    }
}

static int setup(CURL *c, const char *url, struct sink *s, char *errbuf)
{
    const struct http_opts *o = s->o;
    CURLcode r = CURLE_OK;

#define SET(opt, val) do { if (r == CURLE_OK) r = curl_easy_setopt(c, opt, val); } while (0)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https,file");
    /* a server must not send us to a local file */
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 1L);
    SET(CURLOPT_MAXREDIRS, (long)HTTP_MAX_REDIRECTS);
    SET(CURLOPT_FAILONERROR, 1L);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_CONNECTTIMEOUT, o->connect_timeout_s);
    SET(CURLOPT_LOW_SPEED_LIMIT, o->low_speed_limit);
    SET(CURLOPT_LOW_SPEED_TIME, o->low_speed_time_s);
    SET(CURLOPT_USERAGENT, "vmkit");
    SET(CURLOPT_ERRORBUFFER, errbuf);
    SET(CURLOPT_WRITEFUNCTION, on_data);
    SET(CURLOPT_WRITEDATA, s);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, s);
    SET(CURLOPT_NOPROGRESS, 0L);
    SET(CURLOPT_XFERINFOFUNCTION, on_progress);
    SET(CURLOPT_XFERINFODATA, s);
#undef SET
    return r == CURLE_OK ? 0 : -EINVAL;
}

/* One URL fetched into a sink, over as many attempts as s->o allows. */
struct xfer {
    CURL *c;
    struct sink *s;
    int attempt;                /* attempts made before this one */
    int delay;                  /* ms before the next attempt */
    bool resumed;               /* this attempt continues an earlier one */
    int r;                      /* XFER_FAILED: -errno */
    bool local;                 /* XFER_FAILED: our side failed (writing,
                                 * memory), not the server */
    bool unreachable;           /* XFER_FAILED: no connection at all */
    char errbuf[CURL_ERROR_SIZE];
    char why[CURL_ERROR_SIZE + 128];    /* the last failure, in words */
};

enum xfer_verdict {
    XFER_DONE,
    XFER_RETRY,                 /* after x->delay ms (see xfer_end) */
    XFER_FAILED,                /* x->r, x->why */
};

static void xfer_dispose(struct xfer *x)
{
    curl_easy_cleanup(x->c);
    x->c = NULL;
    if (x->s)
        x->s->curl = NULL;
}

/* A handle for url into s; -errno with x->why on failure (x is then
 * disposed of). */
static int xfer_init(struct xfer *x, const char *url, struct sink *s)
{
    memset(x, 0, sizeof(*x));
    x->s = s;
    x->delay = s->o->backoff_ms > 0 ? s->o->backoff_ms : 0;
    if (!(x->c = curl_easy_init())) {
        snprintf(x->why, sizeof(x->why), "cannot start libcurl");
        return -ENOMEM;
    }
    s->curl = x->c;
    if (setup(x->c, url, s, x->errbuf) < 0) {
        snprintf(x->why, sizeof(x->why), "libcurl refused an option (libcurl older than 7.85?)");
        xfer_dispose(x);
        return -EINVAL;
    }
    return 0;
}

/* Prepares the next attempt: it asks for what the sink does not hold yet. */
static void xfer_begin(struct xfer *x)
{
    struct sink *s = x->s;

    x->errbuf[0] = 0;
    x->resumed = s->have > 0;
    s->base = s->have;
    s->range_start = -1;
    s->too_big = s->mismatch = false;
    curl_easy_setopt(x->c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)s->have);
    curl_easy_setopt(x->c, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)(s->max ? s->max - s->have : 0));
}

/* The attempt that failed with cr never reached the server: refused,
 * no such host, or a connect that timed out (a firewall that drops). */
static bool unreachable(CURL *c, CURLcode cr)
{
    curl_off_t connect_us = 0;

    if (cr == CURLE_COULDNT_CONNECT || cr == CURLE_COULDNT_RESOLVE_HOST ||
        cr == CURLE_COULDNT_RESOLVE_PROXY)
        return true;
    return cr == CURLE_OPERATION_TIMEDOUT &&
           curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connect_us) == CURLE_OK &&
           connect_us == 0;
}

static enum xfer_verdict xfer_fail(struct xfer *x, int r)
{
    x->r = r;
    return XFER_FAILED;
}

/* Judges the attempt that ended with cr.  XFER_RETRY leaves the delay to
 * wait in x->delay (the next one doubles it); the messages say "URL: " +
 * x->why. */
static enum xfer_verdict xfer_end(struct xfer *x, CURLcode cr)
{
    struct sink *s = x->s;
    const struct http_opts *o = s->o;
    long code = 0;

    curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &code);
    x->why[0] = 0;
    x->local = x->unreachable = false;
    if (cr == CURLE_OK) {
        report_progress(s, s->have, true);
        return XFER_DONE;
    }
    if (cr == CURLE_ABORTED_BY_CALLBACK && proc_cancelled())
        return xfer_fail(x, -ECANCELED);
    if (s->werr) {
        x->local = true;
        snprintf(x->why, sizeof(x->why), "%s", strerror(s->werr));
        return xfer_fail(x, -s->werr);
    }
    if (s->too_big || cr == CURLE_FILESIZE_EXCEEDED) {
        snprintf(x->why, sizeof(x->why), "larger than %" PRIu64 " bytes", s->max);
        return xfer_fail(x, -EFBIG);
    }
    if (cr == CURLE_HTTP_RETURNED_ERROR && (code == 404 || code == 410)) {
        snprintf(x->why, sizeof(x->why), "HTTP status %ld", code);
        return xfer_fail(x, -ENOENT);
    }
    if (cr == CURLE_FILE_COULDNT_READ_FILE || cr == CURLE_REMOTE_FILE_NOT_FOUND) {
        snprintf(x->why, sizeof(x->why), "no such file");
        return xfer_fail(x, -ENOENT);
    }
    if (cr == CURLE_HTTP_RETURNED_ERROR)
        snprintf(x->why, sizeof(x->why), "HTTP status %ld", code);
    else if (s->mismatch)
        snprintf(x->why, sizeof(x->why), "the server resumed at the wrong offset");
    else
        snprintf(x->why, sizeof(x->why), "%s%s%s", curl_easy_strerror(cr),
                 x->errbuf[0] ? ": " : "", x->errbuf);
    /* a resume the server would not do, or did wrong: start over */
    if (s->mismatch || (cr == CURLE_RANGE_ERROR && x->resumed)) {
        if (sink_reset(s) < 0) {
            x->local = true;
            snprintf(x->why, sizeof(x->why), "%s", strerror(s->werr));
            return xfer_fail(x, -s->werr);
        }
    }
    if (!retryable(cr, code) && !s->mismatch)
        return xfer_fail(x, -EIO);
    if (x->attempt >= o->retries) {
        size_t len = strlen(x->why);

        snprintf(x->why + len, sizeof(x->why) - len, " (gave up after %d attempts)",
                 x->attempt + 1);
        x->unreachable = unreachable(x->c, cr);
        return xfer_fail(x, -EIO);
    }
    if (x->attempt > 0 && x->delay <= INT_MAX / 2)
        x->delay *= 2;
    x->attempt++;
    return XFER_RETRY;
}

static int transfer(const char *url, struct sink *s, struct diag *d)
{
    struct xfer x;
    int r;

    if (!scheme_allowed(url)) {
        diag_error(d, NULL, 0, 0, "cannot fetch %s: only http, https and file URLs are "
                   "supported", url);
        return -EPROTONOSUPPORT;
    }
    if ((r = xfer_init(&x, url, s)) < 0) {
        diag_error(d, NULL, 0, 0, "cannot fetch %s: %s", url, x.why);
        return r;
    }
    for (;;) {
        enum xfer_verdict v;

        xfer_begin(&x);
        v = xfer_end(&x, curl_easy_perform(x.c));
        if (v == XFER_DONE) {
            r = 0;
            break;
        }
        if (v == XFER_FAILED) {
            r = x.r;
            if (r != -ECANCELED && !(r == -ENOENT && (s->o->flags & HTTP_MISSING_OK)))
                diag_error(d, NULL, 0, 0, "cannot fetch %s: %s", url, x.why);
            break;
        }
        if (!pause_ms(x.delay)) {
            r = -ECANCELED;
            break;
        }
    }
    xfer_dispose(&x);
    return r;
}

int http_get_buffer(const char *url, size_t max_bytes, unsigned flags,
                    char **buf_r, size_t *len_r, struct diag *d)
{
    struct http_opts o;
    struct sink s = { .fd = -1, .max = max_bytes, .o = &o };
    int r;

    *buf_r = NULL;
    *len_r = 0;
    http_opts_init(&o);
    o.flags = flags;
    r = transfer(url, &s, d);
    if (r == 0 && !s.buf && sink_put(&s, "", 0) < 0)
        r = -ENOMEM;
    if (r < 0) {
        free(s.buf);
        return r;
    }
    s.buf[s.have] = 0;
    *buf_r = s.buf;
    *len_r = s.have;
    return 0;
}

int http_get_file(const char *url, const char *path, const struct http_opts *o,
                  struct diag *d)
{
    struct http_opts def;
    struct sink s = { .fd = -1 };
    int r;

    if (!o) {
        http_opts_init(&def);
        o = &def;
    }
    s.o = o;
    s.max = o->max_bytes;
    s.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
    if (s.fd < 0) {
        r = -errno;
        diag_error(d, path, 0, 0, "cannot create: %s", strerror(-r));
        return r;
    }
    r = transfer(url, &s, d);
    if (close(s.fd) < 0 && r == 0) {
        r = -errno;
        diag_error(d, path, 0, 0, "cannot write: %s", strerror(-r));
    }
    if (r < 0)
        unlink(path);
    return r;
}

/* ---- batches: many transfers in one multi handle ---- */

#define BATCH_PARALLEL 4
#define BATCH_POLL_MS 50        /* how soon cancellation is noticed */

enum item_state {
    ITEM_RUNNING,               /* in the multi handle */
    ITEM_WAITING,               /* for its next attempt, due_ms */
};

/* An item being fetched; one per slot of the batch. */
struct batch_item {
    struct http_item *it;
    enum item_state state;
    struct sink s;
    struct xfer x;              /* the attempts on the current base */
    bool have_xfer;
    bool opened;                /* dest was created: remove it on failure */
    size_t base;                /* index of the current base */
    char *url;                  /* bases[base] + path */
    char *reasons;              /* "URL: why; URL: why", for the message */
    bool all_missing;           /* every base tried said missing */
    long long due_ms;
};

struct batch {
    CURLM *m;
    char *const *bases;
    size_t nbases;
    char **dead;                /* per base: why it could not be reached, or NULL */
    struct http_item *items;
    size_t n;
    size_t next;                /* the first item not started */
    size_t done;                /* items over */
    uint64_t bytes_done;        /* what the fetched items hold */
    uint64_t bytes_done_total;  /* the sizes of the items over */
    struct batch_item *slots;
    size_t nslots;
    size_t active;              /* slots in use */
    struct http_opts o;
    int stop;                   /* -errno that stops everything, 0: none */
    http_batch_progress_fn *progress;
    void *progress_arg;
    long long last_progress_ms;
    struct diag *d;
};

/* bases[i] and path with exactly one `/' between them, as a new string
 * (NULL: out of memory).  The slashes of "file:///" stay. */
static char *join_url(const char *base, const char *path)
{
    const char *scheme_end = strstr(base, "://");
    size_t keep = scheme_end ? (size_t)(scheme_end - base) + 3 : 0;
    size_t len = strlen(base);
    char *u;

    while (len > keep && base[len - 1] == '/')
        len--;
    while (*path == '/')
        path++;
    if (asprintf(&u, "%.*s/%s", (int)len, base, path) < 0)
        return NULL;
    return u;
}

static const EVP_MD *digest_by_name(const char *name)
{
    /* old createrepo (yum) writes sha1 as "sha" */
    if (strcasecmp(name, "sha") == 0)
        name = "sha1";
    return EVP_get_digestbyname(name);
}

/* Appends "; " (unless first) and the formatted text to *sp; false when
 * out of memory (*sp is then as it was). */
__attribute__((format(printf, 2, 3)))
static bool append(char **sp, const char *fmt, ...)
{
    va_list ap;
    char *add, *cat;
    int r;

    va_start(ap, fmt);
    r = vasprintf(&add, fmt, ap);
    va_end(ap);
    if (r < 0)
        return false;
    if (!*sp) {
        *sp = add;
        return true;
    }
    r = asprintf(&cat, "%s; %s", *sp, add);
    free(add);
    if (r < 0)
        return false;
    free(*sp);
    *sp = cat;
    return true;
}

/* Something on our side failed: the batch stops, with one message. */
__attribute__((format(printf, 4, 5)))
static void batch_local_error(struct batch *b, struct batch_item *v, int r,
                              const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    diag_vadd(b->d, DIAG_ERROR, v ? v->it->dest : NULL, 0, 0, fmt, ap);
    va_end(ap);
    if (v)
        v->it->result = r;
    if (!b->stop)
        b->stop = r;
}

static void batch_progress(struct batch *b, bool last)
{
    uint64_t now = b->bytes_done, total = b->bytes_done_total;
    long long t;

    if (!b->progress)
        return;
    t = now_ms();
    if (!last && t - b->last_progress_ms < PROGRESS_INTERVAL_MS)
        return;
    b->last_progress_ms = t;
    for (size_t i = b->next; i < b->n; i++)
        total += b->items[i].size;
    for (size_t i = 0; i < b->nslots; i++) {
        const struct batch_item *v = &b->slots[i];

        if (!v->it)
            continue;
        now += v->s.have;
        if (v->it->size)
            total += v->it->size;
        else
            total += v->s.total > v->s.have ? v->s.total : v->s.have;
    }
    b->progress(b->progress_arg, b->done, b->n, now, total);
}

/* Takes v's transfer out of the multi handle and disposes of it. */
static void item_drop_xfer(struct batch *b, struct batch_item *v)
{
    if (!v->have_xfer)
        return;
    if (v->state == ITEM_RUNNING)
        curl_multi_remove_handle(b->m, v->x.c);
    xfer_dispose(&v->x);
    v->have_xfer = false;
}

/* Frees v's slot; keep: the file stays (it was fetched whole). */
static void item_release(struct batch *b, struct batch_item *v, bool keep)
{
    item_drop_xfer(b, v);
    if (v->s.fd >= 0 && close(v->s.fd) < 0 && keep) {
        keep = false;
        batch_local_error(b, v, -errno, "cannot write: %s", strerror(errno));
    }
    v->s.fd = -1;
    if (!keep && v->opened)
        unlink(v->it->dest);
    if (v->s.md)
        EVP_MD_CTX_free(v->s.md);
    free(v->url);
    free(v->reasons);
    memset(v, 0, sizeof(*v));
    v->s.fd = -1;
    b->active--;
}

static void item_succeeded(struct batch *b, struct batch_item *v)
{
    struct http_item *it = v->it;
    uint64_t have = v->s.have;

    it->result = 0;
    item_release(b, v, true);
    if (it->result == 0) {
        b->done++;
        b->bytes_done += have;
        b->bytes_done_total += have;
    }
}

/* Every base failed: one message naming the item and each base's reason. */
static void item_failed(struct batch *b, struct batch_item *v, int r)
{
    struct http_item *it = v->it;

    if (!(v->all_missing && (b->o.flags & HTTP_MISSING_OK)))
        diag_error(b->d, NULL, 0, 0, "cannot fetch %s: %s", it->path,
                   v->reasons ? v->reasons : "no base to try");
    it->result = r;
    item_release(b, v, false);
    b->done++;
    b->bytes_done_total += it->size;
}

static void item_next_base(struct batch *b, struct batch_item *v, int r);

/* Starts the first attempt on v->base. */
static void item_start_base(struct batch *b, struct batch_item *v)
{
    int r;

    free(v->url);
    if (!(v->url = join_url(b->bases[v->base], v->it->path))) {
        batch_local_error(b, v, -ENOMEM, "cannot fetch %s: out of memory", v->it->path);
        return;
    }
    if (b->dead[v->base]) {
        /* no connection earlier: other items need not wait for it again */
        if (!append(&v->reasons, "%s: not tried, unreachable earlier: %s", v->url,
                    b->dead[v->base])) {
            batch_local_error(b, v, -ENOMEM, "cannot fetch %s: out of memory", v->it->path);
            return;
        }
        v->all_missing = false;
        item_next_base(b, v, -EIO);
        return;
    }
    if (sink_reset(&v->s) < 0) {
        batch_local_error(b, v, -v->s.werr, "cannot write: %s", strerror(v->s.werr));
        return;
    }
    if ((r = xfer_init(&v->x, v->url, &v->s)) < 0) {
        batch_local_error(b, v, r, "cannot fetch %s: %s", v->url, v->x.why);
        return;
    }
    v->have_xfer = true;
    xfer_begin(&v->x);
    if (curl_multi_add_handle(b->m, v->x.c) != CURLM_OK) {
        v->state = ITEM_WAITING;        /* not in the multi handle */
        batch_local_error(b, v, -ENOMEM, "cannot fetch %s: libcurl cannot add a transfer",
                          v->url);
        return;
    }
    v->state = ITEM_RUNNING;
}

/* The current base failed for good (r, and v->url: why already in
 * v->reasons): on to the next base, or the item failed. */
static void item_next_base(struct batch *b, struct batch_item *v, int r)
{
    item_drop_xfer(b, v);
    if (++v->base >= b->nbases) {
        item_failed(b, v, r);
        return;
    }
    item_start_base(b, v);
}

/* A failure that counts against the current base. */
__attribute__((format(printf, 4, 5)))
static void item_base_failed(struct batch *b, struct batch_item *v, int r,
                             const char *fmt, ...)
{
    va_list ap;
    char *why;
    bool ok;

    va_start(ap, fmt);
    ok = vasprintf(&why, fmt, ap) >= 0;
    va_end(ap);
    if (!ok || !append(&v->reasons, "%s: %s", v->url, why)) {
        if (ok)
            free(why);
        batch_local_error(b, v, -ENOMEM, "cannot fetch %s: out of memory", v->it->path);
        return;
    }
    free(why);
    if (r != -ENOENT)
        v->all_missing = false;
    item_next_base(b, v, r);
}

/* The body is all there: is it the one we expected? */
static void item_check(struct batch *b, struct batch_item *v)
{
    const struct http_item *it = v->it;
    unsigned char md[EVP_MAX_MD_SIZE];
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    unsigned mdlen = 0;

    if (it->size && v->s.have != it->size) {
        item_base_failed(b, v, -EBADMSG, "size mismatch: expected %" PRIu64 " bytes, got %"
                         PRIu64, it->size, v->s.have);
        return;
    }
    if (!v->s.md) {
        item_succeeded(b, v);
        return;
    }
    if (EVP_DigestFinal_ex(v->s.md, md, &mdlen) != 1) {
        batch_local_error(b, v, -ENOMEM, "cannot fetch %s: cannot compute its %s digest",
                          it->path, it->digest_type);
        return;
    }
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[2 * mdlen] = 0;
    if (strcasecmp(hex, it->digest) != 0) {
        item_base_failed(b, v, -EBADMSG, "%s mismatch: expected %s, got %s",
                         it->digest_type, it->digest, hex);
        return;
    }
    item_succeeded(b, v);
}

/* An attempt of v ended with cr. */
static void item_attempt_done(struct batch *b, struct batch_item *v, CURLcode cr)
{
    enum xfer_verdict verdict;

    curl_multi_remove_handle(b->m, v->x.c);
    v->state = ITEM_WAITING;
    verdict = xfer_end(&v->x, cr);
    if (verdict == XFER_DONE) {
        item_check(b, v);
    } else if (verdict == XFER_RETRY) {
        /* the others go on meanwhile */
        v->due_ms = now_ms() + v->x.delay;
    } else if (v->x.r == -ECANCELED) {
        if (!b->stop)
            b->stop = -ECANCELED;
    } else if (v->x.local) {
        batch_local_error(b, v, v->x.r, "cannot write: %s", v->x.why);
    } else {
        if (v->x.unreachable && !b->dead[v->base]) {
            /* remembered for the items that come after (NULL: out of
             * memory, and they try it again) */
            b->dead[v->base] = strdup(v->x.why);
        }
        item_base_failed(b, v, v->x.r, "%s", v->x.why);
    }
}

/* The next attempt of a waiting item is due. */
static void item_retry(struct batch *b, struct batch_item *v)
{
    if (b->dead[v->base]) {
        /* another item found the server unreachable meanwhile */
        item_base_failed(b, v, -EIO, "%s", v->x.why);
        return;
    }
    xfer_begin(&v->x);
    if (curl_multi_add_handle(b->m, v->x.c) != CURLM_OK) {
        batch_local_error(b, v, -ENOMEM, "cannot fetch %s: libcurl cannot add a transfer",
                          v->url);
        return;
    }
    v->state = ITEM_RUNNING;
}

/* Starts items[b->next] in the free slot v. */
static void item_start(struct batch *b, struct batch_item *v)
{
    struct http_item *it = &b->items[b->next++];
    uint64_t max = b->o.max_bytes;

    memset(v, 0, sizeof(*v));
    v->it = it;
    v->all_missing = true;
    v->state = ITEM_WAITING;
    b->active++;
    if (it->size && (!max || it->size < max))
        max = it->size;
    v->s.fd = -1;
    v->s.max = max;
    v->s.o = &b->o;
    if (it->digest_type) {
        v->s.md_type = digest_by_name(it->digest_type);
        if (!(v->s.md = EVP_MD_CTX_new())) {
            batch_local_error(b, v, -ENOMEM, "cannot fetch %s: out of memory", it->path);
            return;
        }
    }
    v->s.fd = open(it->dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
    if (v->s.fd < 0) {
        int e = errno;

        batch_local_error(b, v, -e, "cannot create: %s", strerror(e));
        return;
    }
    v->opened = true;
    item_start_base(b, v);
}

/* Mistakes of the caller's, before anything is fetched: one message each. */
static int batch_check_args(char *const *bases, size_t nbases, struct http_item *items,
                            size_t n, struct diag *d)
{
    int r = 0;

    if (nbases == 0) {
        diag_error(d, NULL, 0, 0, "cannot fetch %zu files: no base URL", n);
        r = -EINVAL;
    }
    for (size_t i = 0; i < nbases; i++) {
        if (!scheme_allowed(bases[i])) {
            diag_error(d, NULL, 0, 0, "cannot fetch from %s: only http, https and file URLs "
                       "are supported", bases[i]);
            if (!r)
                r = -EPROTONOSUPPORT;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct http_item *it = &items[i];
        const EVP_MD *md;
        size_t len;

        if (!it->path || !it->path[0] || !it->dest || !it->dest[0]) {
            diag_error(d, NULL, 0, 0, "cannot fetch item %zu: no path or no destination", i);
            r = r ? r : -EINVAL;
            continue;
        }
        if (!it->digest_type)
            continue;
        if (!(md = digest_by_name(it->digest_type))) {
            diag_error(d, NULL, 0, 0, "cannot fetch %s: unknown digest type %s", it->path,
                       it->digest_type);
            r = r ? r : -EINVAL;
            continue;
        }
        len = it->digest ? strlen(it->digest) : 0;
        for (size_t k = 0; k < len; k++)
            if (!isxdigit((unsigned char)it->digest[k]))
                len = 0;
        if (len != 2 * (size_t)EVP_MD_size(md)) {
            diag_error(d, NULL, 0, 0, "cannot fetch %s: its %s digest is not %d hex digits",
                       it->path, it->digest_type, 2 * EVP_MD_size(md));
            r = r ? r : -EINVAL;
        }
    }
    return r;
}

/* The slot whose transfer uses handle c. */
static struct batch_item *batch_find(struct batch *b, CURL *c)
{
    for (size_t i = 0; i < b->nslots; i++)
        if (b->slots[i].it && b->slots[i].have_xfer && b->slots[i].x.c == c)
            return &b->slots[i];
    return NULL;
}

/* Runs the batch until every item is over or something stops it. */
static void batch_run(struct batch *b)
{
    while (!b->stop) {
        long long now, next_due = LLONG_MAX;
        int running = 0, left = 0;
        CURLMcode mr;
        CURLMsg *msg;

        if (proc_cancelled()) {
            b->stop = -ECANCELED;
            break;
        }
        for (size_t i = 0; i < b->nslots && b->next < b->n && !b->stop; i++)
            if (!b->slots[i].it)
                item_start(b, &b->slots[i]);
        now = now_ms();
        for (size_t i = 0; i < b->nslots && !b->stop; i++) {
            struct batch_item *v = &b->slots[i];

            if (!v->it || v->state != ITEM_WAITING)
                continue;
            if (v->due_ms <= now)
                item_retry(b, v);
            else if (v->due_ms < next_due)
                next_due = v->due_ms;
        }
        if (b->stop || (b->active == 0 && b->next == b->n))
            break;
        if ((mr = curl_multi_perform(b->m, &running)) != CURLM_OK) {
            batch_local_error(b, NULL, -EIO, "cannot fetch: libcurl: %s",
                              curl_multi_strerror(mr));
            break;
        }
        while (!b->stop && (msg = curl_multi_info_read(b->m, &left))) {
            struct batch_item *v;
            CURLcode cr;

            if (msg->msg != CURLMSG_DONE)
                continue;
            cr = msg->data.result;
            if ((v = batch_find(b, msg->easy_handle)))
                item_attempt_done(b, v, cr);
        }
        batch_progress(b, false);
        if (b->stop || (b->active == 0 && b->next == b->n))
            break;
        /* a free slot is filled at once; otherwise wait for the sockets,
         * the next retry, or a look at the cancel flag */
        if (b->active < b->nslots && b->next < b->n)
            continue;
        {
            long long wait = BATCH_POLL_MS;

            if (next_due != LLONG_MAX && next_due - now_ms() < wait)
                wait = next_due - now_ms();
            if (wait > 0)
                curl_multi_poll(b->m, NULL, 0, (int)wait, NULL);
        }
    }
}

int http_get_many(char *const *bases, size_t nbases, struct http_item *items, size_t n,
                  int parallel, const struct http_opts *o,
                  http_batch_progress_fn *progress_fn, void *progress_arg,
                  struct diag *d)
{
    struct batch b;
    bool global = false;
    int r;

    memset(&b, 0, sizeof(b));
    for (size_t i = 0; i < n; i++)
        items[i].result = -ECANCELED;
    if ((r = batch_check_args(bases, nbases, items, n, d)) < 0)
        return r;
    if (o)
        b.o = *o;
    else
        http_opts_init(&b.o);
    b.o.progress = NULL;        /* a single transfer's; the batch has its own */
    b.bases = bases;
    b.nbases = nbases;
    b.items = items;
    b.n = n;
    b.progress = progress_fn;
    b.progress_arg = progress_arg;
    b.last_progress_ms = now_ms();
    b.d = d;
    b.nslots = parallel > 0 ? (size_t)parallel : BATCH_PARALLEL;
    if (b.nslots > n)
        b.nslots = n;
    if (n == 0)
        goto out;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        batch_local_error(&b, NULL, -ENOMEM, "cannot fetch %zu files: cannot start libcurl", n);
        goto out;
    }
    global = true;
    b.slots = calloc(b.nslots, sizeof(*b.slots));
    b.dead = calloc(nbases, sizeof(*b.dead));
    if (!b.slots || !b.dead || !(b.m = curl_multi_init())) {
        batch_local_error(&b, NULL, -ENOMEM, "cannot fetch %zu files: out of memory", n);
        goto out;
    }
    for (size_t i = 0; i < b.nslots; i++)
        b.slots[i].s.fd = -1;
    batch_run(&b);

out:
    /* what is still running stops, its file removed; its result stays
     * -ECANCELED unless a local failure set it */
    for (size_t i = 0; b.slots && i < b.nslots; i++)
        if (b.slots[i].it)
            item_release(&b, &b.slots[i], false);
    batch_progress(&b, true);
    curl_multi_cleanup(b.m);
    for (size_t i = 0; b.dead && i < nbases; i++)
        free(b.dead[i]);
    free(b.dead);
    free(b.slots);
    if (global)
        curl_global_cleanup();
    if (b.stop)
        return b.stop;
    for (size_t i = 0; i < n; i++)
        if (items[i].result < 0)
            return items[i].result;
    return 0;
}
