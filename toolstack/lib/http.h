/*
 * http.h - fetching a URL with libcurl: release files, repository
 * metadata, packages, rootfs tarballs.  The one place that speaks HTTP.
 *
 * Protocols: http, https and file (local mirrors, tests); a redirect is
 * followed (at most HTTP_MAX_REDIRECTS) to http or https only, never to
 * file:, so that a server cannot make us read a local file.  Connecting
 * gives up after 10 s, a transfer slower than 1 KiB/s for 30 s is
 * aborted.  Failures worth retrying (no connection, a dropped or stalled
 * transfer, HTTP 408, 429 and 5xx) are retried with a growing delay; a
 * transfer that broke after some bytes resumes from there with a Range
 * request (and starts over when the server ignores it).  Every wait is
 * cancellable (proc_set_cancel): -ECANCELED.
 *
 * Messages name the URL and the HTTP status or curl's reason.
 */
#ifndef VMKIT_HTTP_H
#define VMKIT_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#define HTTP_MAX_REDIRECTS 5

/* http flags */
#define HTTP_MISSING_OK 0x1     /* HTTP 404/410, or a missing file: URL:
                                 * -ENOENT and nothing recorded */

/*
 * Called as the bytes arrive: now and total count the whole resource
 * (total 0 when the server does not say), also across a resumed
 * transfer.  Not called more often than every 100 ms, but always once
 * at the end.
 */
typedef void http_progress_fn(void *arg, uint64_t now, uint64_t total);

struct http_opts {
    unsigned flags;             /* HTTP_MISSING_OK */
    uint64_t max_bytes;         /* 0: no limit */
    int retries;                /* attempts after the first (default 3) */
    int backoff_ms;             /* the first retry's delay, doubled for each
                                 * further one (default 1000) */
    long connect_timeout_s;     /* default 10 */
    long low_speed_limit;       /* bytes/s (default 1024) ... */
    long low_speed_time_s;      /* ... for this long aborts (default 30) */
    http_progress_fn *progress; /* NULL: none */
    void *progress_arg;
};

/* The defaults above. */
void http_opts_init(struct http_opts *o);

/*
 * Fetches url into a new NUL-terminated buffer (*buf_r, caller frees;
 * *len_r bytes without the NUL) of at most max_bytes bytes.  Returns 0,
 * or -errno after recording why in d: -ENOENT (404, 410, a missing
 * file; not recorded with HTTP_MISSING_OK), -EFBIG (larger than
 * max_bytes), -EPROTONOSUPPORT (not http, https or file), -EIO (any
 * other failure, retries exhausted), -ECANCELED, -ENOMEM.
 */
int http_get_buffer(const char *url, size_t max_bytes, unsigned flags,
                    char **buf_r, size_t *len_r, struct diag *d);

/*
 * Fetches url into path (created or truncated, mode 0644 before umask,
 * opened close-on-exec), as http_get_buffer does and with o's settings
 * (NULL: the defaults).  On failure path is removed.  Same returns.
 */
int http_get_file(const char *url, const char *path, const struct http_opts *o,
                  struct diag *d);

#endif
