/*
 * qmp.c - a QMP client that checks everything QEMU sends (see qmp.h).
 *
 * Input is kept in one buffer: buf[off, len) is received and not yet
 * consumed, and buf[off, scan) is known to hold no newline.  Complete
 * lines are always consumed before recv is called again, so the buffer
 * never holds more than one partial line (at most QMP_MAX_LINE + 1
 * bytes, the CR included) and one chunk.  Nothing blocks in recv or
 * send: every wait is a poll() against a deadline on the monotonic clock.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "qmp.h"

#define QMP_CHUNK           (64 * 1024)     /* bytes asked of one recv */
#define QMP_MAX_ABANDONED   16              /* timed-out commands remembered */
#define QMP_EXCERPT         72              /* bytes of QEMU text in messages */

struct qmp {
    int fd;
    int broken;             /* sticky qmp_status, or 0 */
    bool greeted;
    bool eof;               /* QEMU closed its end */
    bool last_sent;         /* the last command went out whole */
    long long next_id;

    char *buf;              /* see the top of the file */
    size_t off, scan, len, cap;

    long long abandoned[QMP_MAX_ABANDONED];     /* ids of timed-out commands */
    size_t nabandoned;

    struct qmp_event *ev;   /* ring of queued events */
    size_t ev_first, ev_count, ev_cap;

    void (*debug)(void *ctx, const char *dir, const char *json);
    void *debug_ctx;

    char err[512];
    char err_class[128];
};

const char *qmp_strerror(int status)
{
    switch (status) {
    case QMP_OK:            return "success";
    case QMP_ERR_IO:        return "I/O error on the QMP socket";
    case QMP_ERR_TIMEOUT:   return "timed out";
    case QMP_ERR_PROTOCOL:  return "QMP protocol error";
    case QMP_ERR_COMMAND:   return "QEMU refused the command";
    case QMP_ERR_CLOSED:    return "QEMU closed the connection";
    case QMP_ERR_NOMEM:     return "out of memory";
    case QMP_ERR_INVALID:   return "invalid argument";
    }
    return "unknown QMP error";
}

/* Records a failure in q->err (errno is preserved); sticky failures make
 * every later call on q return status.  Returns status. */
__attribute__((format(printf, 4, 5)))
static int qmp_fail(struct qmp *q, int status, bool sticky, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(q->err, sizeof q->err, fmt, ap);
    va_end(ap);
    q->err_class[0] = '\0';
    if (sticky)
        q->broken = status;
    errno = saved;
    return status;
}

/* Writes at most QMP_EXCERPT bytes of s[0, n) to out as printable ASCII,
 * with "..." when cut. */
static void excerpt(const char *s, size_t n, char out[QMP_EXCERPT + 4])
{
    size_t i, m = n > QMP_EXCERPT ? QMP_EXCERPT : n;

    for (i = 0; i < m; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[i] = '\0';
    if (n > m)
        strcpy(out + i, "...");
}

static void excerpt_json(json_object *o, char out[QMP_EXCERPT + 4])
{
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

    if (!s)
        s = "(unprintable)";
    excerpt(s, strlen(s), out);
}

/* ---- time ---- */

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* -1: no deadline. */
static int64_t deadline_after(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : mono_ns() + (int64_t)timeout_ms * 1000000;
}

/* Milliseconds left for poll(), rounded up; -1 without a deadline. */
static int remaining_ms(int64_t deadline)
{
    int64_t left;

    if (deadline < 0)
        return -1;
    left = deadline - mono_ns();
    if (left <= 0)
        return 0;
    left = (left + 999999) / 1000000;
    return left > INT_MAX ? INT_MAX : (int)left;
}

/* Waits until fd is ready for events.  0, QMP_ERR_TIMEOUT (message left
 * to the caller, not sticky) or sticky QMP_ERR_IO. */
static int qmp_poll(struct qmp *q, short events, int64_t deadline)
{
    struct pollfd pfd = { .fd = q->fd, .events = events };
    int ms, r;

    for (;;) {
        ms = remaining_ms(deadline);
        r = poll(&pfd, 1, ms);
        if (r > 0)
            return 0;       /* POLLHUP and POLLERR show in recv/send */
        if (r < 0 && errno != EINTR)
            return qmp_fail(q, QMP_ERR_IO, true, "poll: %s", strerror(errno));
        if (r == 0 && ms == 0)
            return QMP_ERR_TIMEOUT;
    }
}

/* ---- output ---- */

/* Sends s[0, n) whole by the deadline.  0 or a qmp_status. */
static int qmp_send_all(struct qmp *q, const char *s, size_t n, int64_t deadline)
{
    size_t done = 0;
    ssize_t w;
    int rc;

    while (done < n) {
        w = send(q->fd, s + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w >= 0) {
            done += (size_t)w;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EPIPE || errno == ECONNRESET)
            return qmp_fail(q, QMP_ERR_CLOSED, true,
                            "QEMU closed the connection (send: %s)", strerror(errno));
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return qmp_fail(q, QMP_ERR_IO, true, "send: %s", strerror(errno));
        rc = qmp_poll(q, POLLOUT, deadline);
        if (rc == QMP_ERR_TIMEOUT)
            return qmp_fail(q, QMP_ERR_TIMEOUT, done > 0,
                            done > 0 ? "timed out with a command half sent"
                                       " (connection unusable)"
                                     : "timed out: QEMU does not read its socket");
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- input ---- */

/* Reads once without blocking.  1 when something happened (bytes, or
 * EOF: q->eof set), 0 when there was nothing to read, or sticky
 * QMP_ERR_IO / QMP_ERR_NOMEM. */
static int qmp_recv(struct qmp *q)
{
    ssize_t r;

    if (q->off > 0) {
        memmove(q->buf, q->buf + q->off, q->len - q->off);
        q->len -= q->off;
        q->scan -= q->off;
        q->off = 0;
    }
    if (q->cap - q->len < QMP_CHUNK) {
        size_t ncap = q->len + QMP_CHUNK;
        char *nbuf = realloc(q->buf, ncap);

        if (!nbuf)
            return qmp_fail(q, QMP_ERR_NOMEM, true, "out of memory for QMP input");
        q->buf = nbuf;
        q->cap = ncap;
    }
    for (;;) {
        r = recv(q->fd, q->buf + q->len, q->cap - q->len, MSG_DONTWAIT);
        if (r > 0) {
            q->len += (size_t)r;
            return 1;
        }
        if (r == 0 || errno == ECONNRESET) {
            q->eof = true;
            return 1;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return qmp_fail(q, QMP_ERR_IO, true, "recv: %s", strerror(errno));
    }
}

/* Takes the next complete line: 1 with *line_r (NUL-terminated inside
 * buf, CRLF removed) and *n_r, 0 when no line is complete, or a sticky
 * protocol error when the line is too long. */
static int qmp_take_line(struct qmp *q, char **line_r, size_t *n_r)
{
    char *start, *nl = NULL;
    size_t n;

    if (q->scan < q->len)
        nl = memchr(q->buf + q->scan, '\n', q->len - q->scan);
    if (!nl) {
        q->scan = q->len;
        if (q->len - q->off > (size_t)QMP_MAX_LINE + 1)
            return qmp_fail(q, QMP_ERR_PROTOCOL, true,
                            "QEMU sent a message longer than %d bytes", QMP_MAX_LINE);
        return 0;
    }
    start = q->buf + q->off;
    n = (size_t)(nl - start);
    q->off = q->scan = (size_t)(nl - q->buf) + 1;
    if (n > 0 && start[n - 1] == '\r')
        n--;
    start[n] = '\0';
    if (n > QMP_MAX_LINE)
        return qmp_fail(q, QMP_ERR_PROTOCOL, true,
                        "QEMU sent a message longer than %d bytes", QMP_MAX_LINE);
    *line_r = start;
    *n_r = n;
    return 1;
}

/* Parses one line into a new object (*msg_r).  0 or a sticky error. */
static int qmp_parse_line(struct qmp *q, const char *line, size_t n,
                          json_object **msg_r)
{
    char ex[QMP_EXCERPT + 4];
    json_tokener *tok = NULL;
    json_object *msg = NULL;
    int rc = 0;

    excerpt(line, n, ex);
    if (memchr(line, '\0', n)) {
        rc = qmp_fail(q, QMP_ERR_PROTOCOL, true, "QEMU sent a NUL byte: %s", ex);
        goto out;
    }
    tok = json_tokener_new();
    if (!tok) {
        rc = qmp_fail(q, QMP_ERR_NOMEM, true, "out of memory parsing QMP");
        goto out;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT
#ifdef JSON_TOKENER_VALIDATE_UTF8
                           | JSON_TOKENER_VALIDATE_UTF8
#endif
                           );
    msg = json_tokener_parse_ex(tok, line, (int)n);
    if (!msg || json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) != n) {
        enum json_tokener_error e = json_tokener_get_error(tok);

        rc = qmp_fail(q, QMP_ERR_PROTOCOL, true, "QEMU sent something not JSON (%s): %s",
                      e == json_tokener_success ? "trailing characters"
                      : e == json_tokener_continue ? "incomplete"
                      : json_tokener_error_desc(e), ex);
        goto out;
    }
    if (!json_object_is_type(msg, json_type_object)) {
        rc = qmp_fail(q, QMP_ERR_PROTOCOL, true,
                      "QEMU sent a JSON %s, not an object: %s",
                      json_type_to_name(json_object_get_type(msg)), ex);
        goto out;
    }
    *msg_r = msg;
    msg = NULL;
out:
    json_object_put(msg);
    if (tok)
        json_tokener_free(tok);
    return rc;
}

/* member key of obj when it exists and has type t, else NULL. */
static json_object *member(json_object *obj, const char *key, json_type t)
{
    json_object *v;

    if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, t))
        return NULL;
    return v;
}

static int qmp_check_greeting(struct qmp *q, json_object *msg)
{
    char ex[QMP_EXCERPT + 4];
    json_object *qmp;

    excerpt_json(msg, ex);
    if (!json_object_object_get_ex(msg, "QMP", &qmp))
        return qmp_fail(q, QMP_ERR_PROTOCOL, true,
                        "greeting is not a QMP greeting: %s", ex);
    if (!json_object_is_type(qmp, json_type_object))
        return qmp_fail(q, QMP_ERR_PROTOCOL, true,
                        "greeting's \"QMP\" is not an object: %s", ex);
    if (!member(qmp, "version", json_type_object))
        return qmp_fail(q, QMP_ERR_PROTOCOL, true,
                        "greeting has no \"version\" object: %s", ex);
    if (!member(qmp, "capabilities", json_type_array))
        return qmp_fail(q, QMP_ERR_PROTOCOL, true,
                        "greeting has no \"capabilities\" array: %s", ex);
    return 0;
}

/* Integer member key of obj in [lo, hi] into *v: 0 or -1. */
static int int_member(json_object *obj, const char *key, long long lo,
                      long long hi, long long *v)
{
    json_object *m = member(obj, key, json_type_int);
    int64_t x;

    if (!m)
        return -1;
    x = json_object_get_int64(m);
    if (x < lo || x > hi)
        return -1;
    *v = x;
    return 0;
}

/* Checks msg as an event and queues it.  0 or a sticky error. */
static int qmp_queue_event(struct qmp *q, json_object *msg)
{
    char ex[QMP_EXCERPT + 4];
    json_object *name, *data = NULL, *ts;
    struct qmp_event ev = { 0 };
    size_t i;

    excerpt_json(msg, ex);
    name = member(msg, "event", json_type_string);
    if (!name || json_object_get_string_len(name) == 0 ||
        strlen(json_object_get_string(name)) != (size_t)json_object_get_string_len(name))
        return qmp_fail(q, QMP_ERR_PROTOCOL, true,
                        "event name is not a non-empty string without NUL: %s", ex);
    if (json_object_object_get_ex(msg, "data", &data) &&
        !json_object_is_type(data, json_type_object))
        return qmp_fail(q, QMP_ERR_PROTOCOL, true,
                        "event's \"data\" is not an object: %s", ex);
    ts = member(msg, "timestamp", json_type_object);
    if (!ts || int_member(ts, "seconds", -1, INT64_MAX, &ev.seconds) < 0 ||
        int_member(ts, "microseconds", -1, 999999, &ev.usecs) < 0)
        return qmp_fail(q, QMP_ERR_PROTOCOL, true,
                        "event has no valid \"timestamp\": %s", ex);
    if (q->ev_count >= QMP_MAX_EVENTS)
        return qmp_fail(q, QMP_ERR_PROTOCOL, true,
                        "more than %d QMP events waiting", QMP_MAX_EVENTS);
    if (q->ev_count == q->ev_cap) {
        size_t ncap = q->ev_cap ? q->ev_cap * 2 : 16;
        struct qmp_event *nev = malloc(ncap * sizeof *nev);

        if (!nev)
            return qmp_fail(q, QMP_ERR_NOMEM, true, "out of memory queueing an event");
        for (i = 0; i < q->ev_count; i++)
            nev[i] = q->ev[(q->ev_first + i) % q->ev_cap];
        free(q->ev);
        q->ev = nev;
        q->ev_cap = ncap;
        q->ev_first = 0;
    }
    ev.name = strdup(json_object_get_string(name));
    if (!ev.name)
        return qmp_fail(q, QMP_ERR_NOMEM, true, "out of memory queueing an event");
    ev.data = data ? json_object_get(data) : NULL;
    q->ev[(q->ev_first + q->ev_count) % q->ev_cap] = ev;
    q->ev_count++;
    return 0;
}

/* Removes id from the timed-out commands: true when it was there. */
static bool qmp_forget_abandoned(struct qmp *q, long long id)
{
    for (size_t i = 0; i < q->nabandoned; i++)
        if (q->abandoned[i] == id) {
            q->abandoned[i] = q->abandoned[--q->nabandoned];
            return true;
        }
    return false;
}

/* One message after the greeting: an event is queued; the reply with
 * want_id (> 0) is moved to *reply_r (1); a late reply to a timed-out
 * command is dropped (0); anything else is a sticky protocol error. */
static int qmp_dispatch(struct qmp *q, json_object *msg, long long want_id,
                        json_object **reply_r)
{
    char ex[QMP_EXCERPT + 4];
    json_object *id, *err = NULL;
    bool has_ret;
    int64_t idv;

    if (json_object_object_get_ex(msg, "event", NULL))
        return qmp_queue_event(q, msg);
    excerpt_json(msg, ex);
    has_ret = json_object_object_get_ex(msg, "return", NULL);
    if (json_object_object_get_ex(msg, "error", &err)) {
        if (has_ret)
            return qmp_fail(q, QMP_ERR_PROTOCOL, true,
                            "reply has both \"return\" and \"error\": %s", ex);
        if (!json_object_is_type(err, json_type_object) ||
            !member(err, "class", json_type_string) ||
            !member(err, "desc", json_type_string))
            return qmp_fail(q, QMP_ERR_PROTOCOL, true,
                            "error reply without string \"class\" and \"desc\": %s", ex);
    } else if (!has_ret) {
        return qmp_fail(q, QMP_ERR_PROTOCOL, true,
                        "message is neither a reply nor an event: %s", ex);
    }
    if (!json_object_object_get_ex(msg, "id", &id))
        return qmp_fail(q, QMP_ERR_PROTOCOL, true, "reply without an id: %s", ex);
    if (!json_object_is_type(id, json_type_int))
        return qmp_fail(q, QMP_ERR_PROTOCOL, true,
                        "reply id is not an integer: %s", ex);
    idv = json_object_get_int64(id);
    if (want_id > 0 && idv == want_id) {
        *reply_r = json_object_get(msg);
        return 1;
    }
    if (qmp_forget_abandoned(q, idv))
        return 0;
    if (want_id > 0)
        return qmp_fail(q, QMP_ERR_PROTOCOL, true,
                        "reply with id %lld while waiting for id %lld: %s",
                        (long long)idv, want_id, ex);
    return qmp_fail(q, QMP_ERR_PROTOCOL, true,
                    "reply with id %lld to no command: %s", (long long)idv, ex);
}

/*
 * Consumes the complete lines in the buffer until the one waited for:
 * the greeting while q is not greeted, else the reply with want_id (> 0;
 * -1 waits for nothing).  1 when found (the reply in *reply_r), 0 when
 * the buffer holds no complete line any more, or a sticky error.
 */
static int qmp_process(struct qmp *q, long long want_id, json_object **reply_r)
{
    json_object *msg = NULL;
    size_t n = 0, i;
    char *line = NULL;
    int rc;

    for (;;) {
        rc = qmp_take_line(q, &line, &n);
        if (rc <= 0)
            return rc;
        if (q->debug)
            q->debug(q->debug_ctx, "<-", line);
        for (i = 0; i < n && (line[i] == ' ' || line[i] == '\t'); i++)
            ;
        if (i == n)
            continue;       /* a blank line carries nothing */
        rc = qmp_parse_line(q, line, n, &msg);
        if (rc < 0)
            return rc;
        if (!q->greeted) {
            rc = qmp_check_greeting(q, msg);
            if (rc == 0) {
                q->greeted = true;
                rc = 1;
            }
        } else {
            rc = qmp_dispatch(q, msg, want_id, reply_r);
        }
        json_object_put(msg);
        msg = NULL;
        if (rc != 0)
            return rc;
    }
}

/* Waits by the deadline for what qmp_process waits for; what names it in
 * messages ("the greeting", "the reply to stop"). */
static int qmp_wait(struct qmp *q, long long want_id, int64_t deadline,
                    const char *what, json_object **reply_r)
{
    int rc;

    for (;;) {
        rc = qmp_process(q, want_id, reply_r);
        if (rc != 0)
            return rc < 0 ? rc : 0;
        if (q->eof)
            return qmp_fail(q, QMP_ERR_CLOSED, true,
                            "QEMU closed the connection %swhile we waited for %s",
                            q->len > q->off ? "in the middle of a message " : "",
                            what);
        rc = qmp_poll(q, POLLIN, deadline);
        if (rc == QMP_ERR_TIMEOUT)
            return qmp_fail(q, rc, false, "timed out waiting for %s", what);
        if (rc < 0)
            return rc;
        rc = qmp_recv(q);
        if (rc < 0)
            return rc;
    }
}

/* Adds val (one reference, taken over in every case; NULL is an
 * allocation failure) to obj as key.  0 or -1. */
static int add_member(json_object *obj, const char *key, json_object *val)
{
    if (!val)
        return -1;
    if (json_object_object_add(obj, key, val) < 0) {
        json_object_put(val);
        return -1;
    }
    return 0;
}

/* Public calls start here: a broken q answers at once. */
static int qmp_begin(struct qmp *q)
{
    if (q->broken)
        return q->broken;
    q->err[0] = '\0';
    q->err_class[0] = '\0';
    return 0;
}

/* qmp_command by a deadline. */
static int qmp_exec(struct qmp *q, const char *name, json_object *args,
                    int64_t deadline, json_object **ret_r)
{
    char what[160];
    json_object *cmd = NULL, *reply = NULL, *v, *err;
    const char *text;
    long long id;
    int rc;

    if (ret_r)
        *ret_r = NULL;
    q->last_sent = false;
    rc = qmp_begin(q);
    if (rc < 0)
        goto out;
    if (!name || !*name || (args && !json_object_is_type(args, json_type_object))) {
        rc = qmp_fail(q, QMP_ERR_INVALID, false,
                      "a QMP command needs a name and an object of arguments");
        goto out;
    }
    id = q->next_id++;
    cmd = json_object_new_object();
    if (!cmd || add_member(cmd, "execute", json_object_new_string(name)) < 0 ||
        (args && add_member(cmd, "arguments", json_object_get(args)) < 0) ||
        add_member(cmd, "id", json_object_new_int64(id)) < 0 ||
        !(text = json_object_to_json_string_ext(cmd, JSON_C_TO_STRING_PLAIN |
                                                JSON_C_TO_STRING_NOSLASHESCAPE))) {
        rc = qmp_fail(q, QMP_ERR_NOMEM, false, "out of memory building %s", name);
        goto out;
    }
    if (q->debug)
        q->debug(q->debug_ctx, "->", text);
    rc = qmp_send_all(q, text, strlen(text), deadline);
    if (rc == 0)
        rc = qmp_send_all(q, "\n", 1, deadline);
    if (rc < 0)
        goto out;
    q->last_sent = true;
    snprintf(what, sizeof what, "the reply to %s", name);
    rc = qmp_wait(q, id, deadline, what, &reply);
    if (rc == QMP_ERR_TIMEOUT) {
        if (q->nabandoned == QMP_MAX_ABANDONED)
            q->broken = QMP_ERR_TIMEOUT;    /* QEMU no longer answers */
        else
            q->abandoned[q->nabandoned++] = id;
    }
    if (rc < 0)
        goto out;
    if (json_object_object_get_ex(reply, "error", &err)) {
        snprintf(q->err, sizeof q->err, "%s",
                 json_object_get_string(member(err, "desc", json_type_string)));
        snprintf(q->err_class, sizeof q->err_class, "%s",
                 json_object_get_string(member(err, "class", json_type_string)));
        rc = QMP_ERR_COMMAND;
        goto out;
    }
    json_object_object_get_ex(reply, "return", &v);
    if (ret_r)
        *ret_r = json_object_get(v);
    rc = QMP_OK;
out:
    json_object_put(cmd);
    json_object_put(reply);
    return rc;
}

int qmp_command(struct qmp *q, const char *name, json_object *args,
                int timeout_ms, json_object **ret_r)
{
    return qmp_exec(q, name, args, deadline_after(timeout_ms), ret_r);
}

/* ---- connections ---- */

static void set_why(char *why, size_t whylen, const char *msg)
{
    if (why && whylen > 0)
        snprintf(why, whylen, "%s", msg);
}

/* qmp_open_fd by a deadline. */
static int qmp_open_deadline(int fd, int64_t deadline, struct qmp **qmp_r,
                             char *why, size_t whylen)
{
    struct qmp *q = NULL;
    json_object *ret = NULL;
    int rc, saved;

    *qmp_r = NULL;
    if (fd < 0) {
        set_why(why, whylen, "no socket to speak QMP on");
        return QMP_ERR_INVALID;
    }
    q = calloc(1, sizeof *q);
    if (!q) {
        set_why(why, whylen, "out of memory");
        rc = QMP_ERR_NOMEM;
        goto out;
    }
    q->fd = fd;
    q->next_id = 1;
    rc = qmp_wait(q, 0, deadline, "the greeting", NULL);
    if (rc < 0)
        goto out;
    rc = qmp_exec(q, "qmp_capabilities", NULL, deadline, &ret);
    if (rc == QMP_ERR_COMMAND) {
        char msg[sizeof q->err];

        snprintf(msg, sizeof msg, "%s", q->err);
        qmp_fail(q, rc, false, "qmp_capabilities refused: %s: %s", q->err_class, msg);
        goto out;
    }
    if (rc == 0 && !json_object_is_type(ret, json_type_object))
        rc = qmp_fail(q, QMP_ERR_PROTOCOL, false,
                      "qmp_capabilities returned a JSON %s, not an object",
                      json_type_to_name(json_object_get_type(ret)));
out:
    json_object_put(ret);
    if (rc < 0) {
        saved = errno;
        if (q)
            set_why(why, whylen, q->err);
        qmp_close(q);
        if (!q)
            close(fd);
        errno = saved;
        return rc;
    }
    *qmp_r = q;
    return QMP_OK;
}

int qmp_open_fd(int fd, int timeout_ms, struct qmp **qmp_r, char *why,
                size_t whylen)
{
    return qmp_open_deadline(fd, deadline_after(timeout_ms), qmp_r, why, whylen);
}

int qmp_connect(const char *path, int timeout_ms, struct qmp **qmp_r,
                char *why, size_t whylen)
{
    int64_t deadline = deadline_after(timeout_ms);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char msg[256];
    int fd = -1, saved, ms;

    *qmp_r = NULL;
    if (!path || strlen(path) >= sizeof sa.sun_path) {
        set_why(why, whylen, "QMP socket path missing or too long");
        return QMP_ERR_INVALID;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        goto fail;
    for (;;) {
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 || errno == EISCONN)
            break;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            goto fail;
        /* The listener's backlog is full: QEMU serves one client at a time. */
        ms = remaining_ms(deadline);
        if (ms == 0) {
            snprintf(msg, sizeof msg, "connect %s: timed out: the monitor is busy", path);
            set_why(why, whylen, msg);
            close(fd);
            return QMP_ERR_TIMEOUT;
        }
        poll(NULL, 0, ms < 0 || ms > 10 ? 10 : ms);
    }
    return qmp_open_deadline(fd, deadline, qmp_r, why, whylen);
fail:
    saved = errno;
    snprintf(msg, sizeof msg, "%s %s: %s", fd < 0 ? "socket for" : "connect",
             path, strerror(saved));
    set_why(why, whylen, msg);
    if (fd >= 0)
        close(fd);
    errno = saved;
    return QMP_ERR_IO;
}

void qmp_close(struct qmp *q)
{
    if (!q)
        return;
    while (q->ev_count > 0) {
        qmp_event_dispose(&q->ev[q->ev_first]);
        q->ev_first = (q->ev_first + 1) % q->ev_cap;
        q->ev_count--;
    }
    free(q->ev);
    free(q->buf);
    if (q->fd >= 0)
        close(q->fd);
    free(q);
}

int qmp_fd(const struct qmp *q)
{
    return q->fd;
}

void qmp_set_debug(struct qmp *q,
                   void (*fn)(void *ctx, const char *dir, const char *json),
                   void *ctx)
{
    q->debug = fn;
    q->debug_ctx = ctx;
}

const char *qmp_last_error(const struct qmp *q)
{
    return q->err;
}

const char *qmp_last_error_class(const struct qmp *q)
{
    return q->err_class;
}

/* ---- events ---- */

int qmp_next_event(struct qmp *q, struct qmp_event *ev)
{
    int rc;

    memset(ev, 0, sizeof *ev);
    if (q->ev_count == 0 && !q->broken) {
        q->err[0] = '\0';
        q->err_class[0] = '\0';
        rc = qmp_process(q, -1, NULL);      /* lines left by a command */
        if (rc == 0 && q->ev_count == 0 && !q->eof && qmp_recv(q) > 0)
            qmp_process(q, -1, NULL);
    }
    if (q->ev_count > 0) {
        *ev = q->ev[q->ev_first];
        q->ev_first = (q->ev_first + 1) % q->ev_cap;
        q->ev_count--;
        return 1;
    }
    if (q->broken)
        return q->broken;
    if (q->eof)
        return qmp_fail(q, QMP_ERR_CLOSED, true, "QEMU closed the connection%s",
                        q->len > q->off ? " in the middle of a message" : "");
    return 0;
}

void qmp_event_dispose(struct qmp_event *ev)
{
    free(ev->name);
    json_object_put(ev->data);
    memset(ev, 0, sizeof *ev);
}

/* ---- wrappers ---- */

/* A command whose reply must be an object, which is not kept. */
static int qmp_simple(struct qmp *q, const char *name, json_object *args,
                      int timeout_ms)
{
    json_object *ret = NULL;
    int rc = qmp_command(q, name, args, timeout_ms, &ret);

    if (rc == 0 && !json_object_is_type(ret, json_type_object))
        rc = qmp_fail(q, QMP_ERR_PROTOCOL, false, "%s returned a JSON %s, not an object",
                      name, json_type_to_name(json_object_get_type(ret)));
    json_object_put(ret);
    return rc;
}

int qmp_cont(struct qmp *q, int timeout_ms)
{
    return qmp_simple(q, "cont", NULL, timeout_ms);
}

int qmp_stop(struct qmp *q, int timeout_ms)
{
    return qmp_simple(q, "stop", NULL, timeout_ms);
}

int qmp_system_powerdown(struct qmp *q, int timeout_ms)
{
    return qmp_simple(q, "system_powerdown", NULL, timeout_ms);
}

int qmp_system_reset(struct qmp *q, int timeout_ms)
{
    return qmp_simple(q, "system_reset", NULL, timeout_ms);
}

int qmp_quit(struct qmp *q, int timeout_ms)
{
    int rc = qmp_simple(q, "quit", NULL, timeout_ms);

    if (rc == QMP_ERR_CLOSED && q->last_sent)
        rc = QMP_OK;
    return rc;
}

int qmp_query_status(struct qmp *q, int timeout_ms, char **status_r,
                     bool *running_r)
{
    json_object *ret = NULL, *status, *running;
    char ex[QMP_EXCERPT + 4];
    char *s = NULL;
    int rc;

    if (status_r)
        *status_r = NULL;
    rc = qmp_command(q, "query-status", NULL, timeout_ms, &ret);
    if (rc < 0)
        goto out;
    excerpt_json(ret, ex);
    if (!json_object_is_type(ret, json_type_object)) {
        rc = qmp_fail(q, QMP_ERR_PROTOCOL, false,
                      "query-status returned no object: %s", ex);
        goto out;
    }
    status = member(ret, "status", json_type_string);
    running = member(ret, "running", json_type_boolean);
    if (!status || !running) {
        rc = qmp_fail(q, QMP_ERR_PROTOCOL, false,
                      "query-status returned no %s: %s",
                      !status ? "string \"status\"" : "boolean \"running\"", ex);
        goto out;
    }
    if (status_r) {
        s = strdup(json_object_get_string(status));
        if (!s) {
            rc = qmp_fail(q, QMP_ERR_NOMEM, false, "out of memory");
            goto out;
        }
        *status_r = s;
    }
    if (running_r)
        *running_r = json_object_get_boolean(running);
out:
    json_object_put(ret);
    return rc;
}

int qmp_balloon(struct qmp *q, uint64_t bytes, int timeout_ms)
{
    json_object *args = NULL;
    int rc;

    if (q->broken)
        return q->broken;
    if (bytes > INT64_MAX)
        return qmp_fail(q, QMP_ERR_INVALID, false,
                        "balloon size %llu is out of range",
                        (unsigned long long)bytes);
    args = json_object_new_object();
    if (!args || add_member(args, "value", json_object_new_int64((int64_t)bytes)) < 0) {
        rc = qmp_fail(q, QMP_ERR_NOMEM, false, "out of memory");
        goto out;
    }
    rc = qmp_simple(q, "balloon", args, timeout_ms);
out:
    json_object_put(args);
    return rc;
}

static int cmp_cpu(const void *a, const void *b)
{
    const struct qmp_cpu *x = a, *y = b;

    return (x->cpu_index > y->cpu_index) - (x->cpu_index < y->cpu_index);
}

int qmp_query_cpus_fast(struct qmp *q, int timeout_ms,
                        struct qmp_cpu **cpus_r, size_t *n_r)
{
    json_object *ret = NULL, *elem;
    struct qmp_cpu *cpus = NULL;
    char ex[QMP_EXCERPT + 4];
    long long idx, tid;
    size_t n = 0, i;
    int rc;

    *cpus_r = NULL;
    *n_r = 0;
    rc = qmp_command(q, "query-cpus-fast", NULL, timeout_ms, &ret);
    if (rc < 0)
        goto out;
    if (!json_object_is_type(ret, json_type_array)) {
        excerpt_json(ret, ex);
        rc = qmp_fail(q, QMP_ERR_PROTOCOL, false,
                      "query-cpus-fast returned no array: %s", ex);
        goto out;
    }
    n = json_object_array_length(ret);
    if (n > 0 && !(cpus = calloc(n, sizeof *cpus))) {
        rc = qmp_fail(q, QMP_ERR_NOMEM, false, "out of memory");
        goto out;
    }
    for (i = 0; i < n; i++) {
        elem = json_object_array_get_idx(ret, i);
        if (!json_object_is_type(elem, json_type_object) ||
            int_member(elem, "cpu-index", 0, INT_MAX, &idx) < 0 ||
            int_member(elem, "thread-id", 1, INT_MAX, &tid) < 0) {
            excerpt_json(elem, ex);
            rc = qmp_fail(q, QMP_ERR_PROTOCOL, false,
                          "query-cpus-fast entry %zu has no valid integer"
                          " \"cpu-index\" and \"thread-id\": %s", i, ex);
            goto out;
        }
        cpus[i].cpu_index = (int)idx;
        cpus[i].thread_id = (int)tid;
    }
    if (n > 1)
        qsort(cpus, n, sizeof *cpus, cmp_cpu);
    for (i = 1; i < n; i++)
        if (cpus[i].cpu_index == cpus[i - 1].cpu_index) {
            rc = qmp_fail(q, QMP_ERR_PROTOCOL, false,
                          "query-cpus-fast lists cpu-index %d twice",
                          cpus[i].cpu_index);
            goto out;
        }
    *cpus_r = cpus;
    *n_r = n;
    cpus = NULL;
out:
    free(cpus);
    json_object_put(ret);
    return rc;
}
