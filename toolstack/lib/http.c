/*
 * http.c - libcurl easy transfers with retries and resume (see http.h).
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
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
    bool too_big, mismatch;
    int werr;                   /* write(2) failure */
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
    report_progress(s, dltotal > 0 ? s->base + (uint64_t)dltotal : 0, false);
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
    if (s->fd >= 0) {
        if (ftruncate(s->fd, 0) < 0 || lseek(s->fd, 0, SEEK_SET) < 0) {
            s->werr = errno;
            return -1;
        }
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

static int transfer(const char *url, struct sink *s, struct diag *d)
{
    const struct http_opts *o = s->o;
    const unsigned flags = o->flags;
    char errbuf[CURL_ERROR_SIZE];
    char why[CURL_ERROR_SIZE + 128];
    CURL *c = NULL;
    int attempt = 0, delay = o->backoff_ms > 0 ? o->backoff_ms : 0;
    int r;

    if (!scheme_allowed(url)) {
        diag_error(d, NULL, 0, 0, "cannot fetch %s: only http, https and file URLs are "
                   "supported", url);
        return -EPROTONOSUPPORT;
    }
    if (!(c = curl_easy_init())) {
        diag_error(d, NULL, 0, 0, "cannot fetch %s: cannot start libcurl", url);
        return -ENOMEM;
    }
    s->curl = c;
    if (setup(c, url, s, errbuf) < 0) {
        diag_error(d, NULL, 0, 0, "cannot fetch %s: libcurl refused an option "
                   "(libcurl older than 7.85?)", url);
        r = -EINVAL;
        goto out;
    }
    for (;;) {
        CURLcode cr;
        long code = 0;
        bool resumed = s->have > 0;

        errbuf[0] = 0;
        s->base = s->have;
        s->range_start = -1;
        s->too_big = s->mismatch = false;
        curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)s->have);
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                         (curl_off_t)(s->max ? s->max - s->have : 0));
        cr = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (cr == CURLE_OK) {
            report_progress(s, s->have, true);
            r = 0;
            goto out;
        }
        if (cr == CURLE_ABORTED_BY_CALLBACK && proc_cancelled()) {
            r = -ECANCELED;
            goto out;
        }
        if (s->werr) {
            r = -s->werr;
            diag_error(d, NULL, 0, 0, "cannot fetch %s: %s", url, strerror(s->werr));
            goto out;
        }
        if (s->too_big || cr == CURLE_FILESIZE_EXCEEDED) {
            r = -EFBIG;
            diag_error(d, NULL, 0, 0, "cannot fetch %s: larger than %" PRIu64 " bytes",
                       url, s->max);
            goto out;
        }
        if ((cr == CURLE_HTTP_RETURNED_ERROR && (code == 404 || code == 410)) ||
            cr == CURLE_FILE_COULDNT_READ_FILE || cr == CURLE_REMOTE_FILE_NOT_FOUND) {
            r = -ENOENT;
            if (!(flags & HTTP_MISSING_OK)) {
                if (cr == CURLE_HTTP_RETURNED_ERROR)
                    diag_error(d, NULL, 0, 0, "cannot fetch %s: HTTP status %ld", url, code);
                else
                    diag_error(d, NULL, 0, 0, "cannot fetch %s: no such file", url);
            }
            goto out;
        }
        if (cr == CURLE_HTTP_RETURNED_ERROR)
            snprintf(why, sizeof(why), "HTTP status %ld", code);
        else if (s->mismatch)
            snprintf(why, sizeof(why), "the server resumed at the wrong offset");
        else
            snprintf(why, sizeof(why), "%s%s%s", curl_easy_strerror(cr),
                     errbuf[0] ? ": " : "", errbuf);
        /* a resume the server would not do, or did wrong: start over */
        if (s->mismatch || (cr == CURLE_RANGE_ERROR && resumed)) {
            if (sink_reset(s) < 0) {
                r = -s->werr;
                diag_error(d, NULL, 0, 0, "cannot fetch %s: %s", url, strerror(s->werr));
                goto out;
            }
        }
        if (!retryable(cr, code) && !s->mismatch) {
            r = -EIO;
            diag_error(d, NULL, 0, 0, "cannot fetch %s: %s", url, why);
            goto out;
        }
        if (attempt >= o->retries) {
            r = -EIO;
            diag_error(d, NULL, 0, 0, "cannot fetch %s: %s (gave up after %d attempts)",
                       url, why, attempt + 1);
            goto out;
        }
        attempt++;
        if (!pause_ms(delay)) {
            r = -ECANCELED;
            goto out;
        }
        delay *= 2;
    }
out:
    curl_easy_cleanup(c);
    s->curl = NULL;
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
