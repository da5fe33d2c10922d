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
 * A batch (http_get_many) runs many such transfers at once, each file
 * from a list of mirrors in turn, with its size and digest checked: the
 * packages of an RPM repository.
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

/* One file of a batch (http_get_many).  The strings are the caller's and
 * must outlive the call. */
struct http_item {
    const char *path;           /* relative to each base URL, as it goes in
                                 * a URL (escaped where needed) */
    const char *dest;           /* the file to create (truncated if it
                                 * exists, mode 0644 before umask, opened
                                 * close-on-exec); removed unless it was
                                 * fetched whole */
    uint64_t size;              /* the expected size, 0: unknown; a body of
                                 * another size is refused */
    const char *digest_type;    /* "sha256", "sha1", "sha512", "md5", ...
                                 * (any name OpenSSL knows; "sha" is sha1,
                                 * as in old yum repodata), NULL: none */
    const char *digest;         /* the expected digest in hex, either case */
    int result;                 /* out: 0, or -errno (see http_get_many) */
};

/*
 * Called as the bytes of a batch arrive, not more often than every
 * 100 ms and once at the end: done of n items are over (fetched or
 * failed); bytes_now counts what the fetched and the running items hold,
 * bytes_total the sizes known so far (an item's size, or else what its
 * server announced).  bytes_now goes back when an item starts over (a
 * server that ignored Range, the next base).
 */
typedef void http_batch_progress_fn(void *arg, size_t done, size_t n,
                                    uint64_t bytes_now, uint64_t bytes_total);

/*
 * Fetches every item, at most parallel (0: 4) at a time in one libcurl
 * multi handle (an item waiting for a retry keeps its place but holds
 * no one else up), each from bases[0] joined to its path with one `/'
 * (http, https or file: a local mirror), and when that fails for good
 * (retries as o says, then a missing file, the wrong size or digest, any
 * other failure) from bases[1], and so on.  A base that could not be
 * reached at all (refused, no such host, connect timed out) is not tried
 * for the items that start after.  The digest is computed as the bytes
 * arrive, across a resumed transfer.  o: NULL for the defaults;
 * max_bytes limits the items of unknown size; o->progress is not called
 * (progress_fn is, with progress_arg, if not NULL); HTTP_MISSING_OK: an
 * item that every base lacks gets -ENOENT and no message.
 *
 * An item that failed on every base gets one message naming its path
 * and, for each base, the URL and why ("HTTP status 404", curl's reason,
 * "sha256 mismatch: expected X, got Y", "not tried, unreachable earlier:
 * ..."); the other items go on.  Its result is that of the last base:
 * -ENOENT (missing), -EBADMSG (the wrong size or digest), -EFBIG (larger
 * than its size or max_bytes), -EIO (anything else).
 *
 * A local failure (creating or writing a file, out of memory) stops the
 * batch, as cancellation (proc_set_cancel) does: every transfer stops,
 * their files are removed, and the item that failed gets the -errno and
 * a message naming its dest.  The items not fetched keep -ECANCELED, the
 * value every result starts with; the files fetched stay.
 *
 * Returns 0 when every item was fetched; else -ECANCELED, the local
 * failure's -errno, or the result of the first failed item in order.
 * Before anything is fetched, with a message per mistake: -EINVAL for no
 * bases, an item without path or dest, an unknown digest type or a
 * digest that is not as many hex digits as its type has;
 * -EPROTONOSUPPORT for a base that is not http, https or file.
 */
int http_get_many(char *const *bases, size_t nbases, struct http_item *items, size_t n,
                  int parallel, const struct http_opts *o,
                  http_batch_progress_fn *progress_fn, void *progress_arg,
                  struct diag *d);

#endif
