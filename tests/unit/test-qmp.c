/*
 * test-qmp.c - the QMP client against a fake QMP server.
 *
 * The fake runs in a forked child on one end of a socketpair (or behind a
 * unix socket for qmp_connect) and follows a script: `expect' a command
 * (compared with the client's as JSON objects, "id" aside, which later
 * `send' steps echo as @ID@), `send' a line, `close', `sleep'.  Any
 * command that is not the next one expected, or any command after the
 * script's end, fails the test with a not-ok line naming the command.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "qmp.h"
#include "tap.h"

enum step_kind {
    S_END,          /* then wait for the client to close; any command fails */
    S_EXPECT,       /* text: the command without its id */
    S_SEND,         /* text and CRLF, @ID@ replaced by the last id */
    S_SEND_RAW,     /* text as is */
    S_SEND_BYTES,   /* text and CRLF, one byte per write */
    S_SEND_BIG,     /* a {"return": "xxx..."} line of n bytes and CRLF */
    S_CLOSE,        /* close the connection and stop */
    S_SLEEP,        /* n milliseconds */
};

struct step {
    enum step_kind kind;
    const char *text;
    int n;
};

#define EXPECT(t)       { S_EXPECT, (t), 0 }
#define SEND(t)         { S_SEND, (t), 0 }
#define SEND_RAW(t)     { S_SEND_RAW, (t), 0 }
#define SEND_BYTES(t)   { S_SEND_BYTES, (t), 0 }
#define SEND_BIG(n)     { S_SEND_BIG, NULL, (n) }
#define CLOSE           { S_CLOSE, NULL, 0 }
#define SLEEP(ms)       { S_SLEEP, NULL, (ms) }
#define END             { S_END, NULL, 0 }

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, " \
                 "\"major\": 7}, \"package\": \"Debian 1:7.2\"}, \"capabilities\": [\"oob\"]}}"
#define OK_REPLY "{\"return\": {}, \"id\": @ID@}"
#define HANDSHAKE SEND(GREETING), EXPECT("{\"execute\": \"qmp_capabilities\"}"), \
                  SEND(OK_REPLY)
#define TS "\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 123456}"

#define TIMEOUT 3000    /* ms for everything that should not time out */

/* ---- the fake server (child process) ---- */

struct fake_conn {
    int fd;
    char buf[65536];
    size_t len;
    char id[64];        /* the last command's id as JSON */
    char report[4096];
};

__attribute__((format(printf, 2, 3)))
static void fake_report(struct fake_conn *c, const char *fmt, ...)
{
    size_t n = strlen(c->report);
    va_list ap;

    if (n + 2 >= sizeof c->report)
        return;
    if (n)
        c->report[n++] = ';', c->report[n++] = ' ';
    va_start(ap, fmt);
    vsnprintf(c->report + n, sizeof c->report - n, fmt, ap);
    va_end(ap);
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A line from the client into line (NUL-terminated, newline dropped):
 * 1, 0 at EOF, -1 on timeout or error. */
static int fake_read_line(struct fake_conn *c, int timeout_ms, char *line, size_t size)
{
    struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
    char *nl;
    ssize_t r;
    size_t n;

    for (;;) {
        nl = memchr(c->buf, '\n', c->len);
        if (nl) {
            n = (size_t)(nl - c->buf);
            snprintf(line, size, "%.*s", (int)n, c->buf);
            memmove(c->buf, nl + 1, c->len - n - 1);
            c->len -= n + 1;
            return 1;
        }
        if (c->len == sizeof c->buf)
            return -1;
        if (poll(&pfd, 1, timeout_ms) <= 0)
            return -1;
        r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return 0;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        c->len += (size_t)r;
    }
}

static int fake_write(struct fake_conn *c, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* text with @ID@ replaced and CRLF appended when crlf. */
static char *fake_expand(struct fake_conn *c, const char *text, bool crlf)
{
    const char *at = strstr(text, "@ID@");
    char *s = NULL;

    if (at)
        s = malloc(strlen(text) + strlen(c->id) + 3);
    else
        s = malloc(strlen(text) + 3);
    if (!s)
        return NULL;
    if (at)
        sprintf(s, "%.*s%s%s", (int)(at - text), text, c->id, at + 4);
    else
        strcpy(s, text);
    if (crlf)
        strcat(s, "\r\n");
    return s;
}

/* One expect step: false when the script must stop. */
static bool fake_expect(struct fake_conn *c, const char *want_text)
{
    static char line[65536];
    json_object *want = json_tokener_parse(want_text), *got = NULL, *id;
    bool good = false;
    int r;

    r = fake_read_line(c, 5000, line, sizeof line);
    if (r <= 0) {
        fake_report(c, "expected %s, but the client %s", want_text,
                    r == 0 ? "closed the connection" : "sent nothing");
        goto out;
    }
    got = json_tokener_parse(line);
    if (!json_object_is_type(got, json_type_object)) {
        fake_report(c, "client sent something not a JSON object: %s", line);
        goto out;
    }
    if (json_object_object_get_ex(got, "id", &id)) {
        snprintf(c->id, sizeof c->id, "%s", json_object_to_json_string(id));
        json_object_object_del(got, "id");
    } else {
        snprintf(c->id, sizeof c->id, "null");
    }
    if (!json_object_equal(want, got)) {
        fake_report(c, "unexpected command %s (expected %s)", line, want_text);
        goto out;
    }
    good = true;
out:
    json_object_put(want);
    json_object_put(got);
    return good;
}

static void fake_run(struct fake_conn *c, const struct step *script)
{
    static char line[65536];
    const struct step *s;
    char *text;
    int r;

    for (s = script; s->kind != S_END; s++) {
        switch (s->kind) {
        case S_EXPECT:
            if (!fake_expect(c, s->text))
                return;
            break;
        case S_SEND:
        case S_SEND_RAW:
        case S_SEND_BYTES:
            text = fake_expand(c, s->text, s->kind != S_SEND_RAW);
            if (!text) {
                fake_report(c, "out of memory");
                return;
            }
            if (s->kind == S_SEND_BYTES) {
                for (size_t i = 0; text[i] && fake_write(c, text + i, 1) == 0; i++)
                    sleep_ms(1);
            } else if (fake_write(c, text, strlen(text)) < 0) {
                fake_report(c, "could not send %s: %s", s->text, strerror(errno));
            }
            free(text);
            break;
        case S_SEND_BIG:
            text = malloc((size_t)s->n + 2);
            if (!text) {
                fake_report(c, "out of memory");
                return;
            }
            memset(text, 'x', (size_t)s->n);
            memcpy(text, "{\"return\": \"", 12);
            memcpy(text + s->n - 2, "\"}\r\n", 4);
            fake_write(c, text, (size_t)s->n + 2);  /* the client may hang up */
            free(text);
            break;
        case S_CLOSE:
            close(c->fd);
            c->fd = -1;
            return;
        case S_SLEEP:
            sleep_ms(s->n);
            break;
        case S_END:
            break;
        }
    }
    /* Nothing more may come: the client must close without a command. */
    while ((r = fake_read_line(c, 10000, line, sizeof line)) > 0)
        fake_report(c, "unexpected command %s (after the end of the script)", line);
    if (r < 0)
        fake_report(c, "the client did not close the connection");
}

struct fake {
    pid_t pid;
    int fd;         /* the client's end, for qmp_open_fd; -1 once taken */
    int report;     /* read end of the child's report pipe */
};

/* Child side: run the script on fd, write the report, exit. */
static void fake_child(int fd, int listen_fd, int report, const struct step *script)
{
    static struct fake_conn c;

    if (listen_fd >= 0) {
        fd = accept(listen_fd, NULL, NULL);
        close(listen_fd);
        if (fd < 0) {
            fake_report(&c, "accept: %s", strerror(errno));
            goto out;
        }
    }
    c.fd = fd;
    fake_run(&c, script);
out:
    if (c.fd >= 0)
        close(c.fd);
    if (write(report, c.report, strlen(c.report)) < 0)
        _exit(2);
    _exit(c.report[0] ? 1 : 0);
}

/* Starts the fake on a socketpair, or, when path is not NULL, behind a
 * unix socket listening at path.  0 or -1. */
static int fake_start(const struct step *script, const char *path, struct fake *f)
{
    int sv[2] = { -1, -1 }, pipefd[2] = { -1, -1 }, lfd = -1;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    f->pid = -1;
    f->fd = -1;
    f->report = -1;
    fflush(stdout);
    if (pipe(pipefd) < 0)
        return -1;
    if (path) {
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        lfd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
            listen(lfd, 1) < 0)
            goto fail;
    } else if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        goto fail;
    }
    f->pid = fork();
    if (f->pid < 0)
        goto fail;
    if (f->pid == 0) {
        close(pipefd[0]);
        if (sv[0] >= 0)
            close(sv[0]);
        fake_child(sv[1], lfd, pipefd[1], script);
    }
    close(pipefd[1]);
    if (lfd >= 0)
        close(lfd);
    if (sv[1] >= 0)
        close(sv[1]);
    f->fd = sv[0];
    f->report = pipefd[0];
    return 0;
fail:
    close(pipefd[0]);
    close(pipefd[1]);
    if (lfd >= 0)
        close(lfd);
    return -1;
}

/* Waits for the fake; returns its report ("" when the script went
 * through), a static buffer. */
static const char *fake_finish(struct fake *f)
{
    static char report[4096];
    size_t n = 0;
    ssize_t r;
    int status;

    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    while (n < sizeof report - 1 &&
           (r = read(f->report, report + n, sizeof report - 1 - n)) > 0)
        n += (size_t)r;
    report[n] = '\0';
    close(f->report);
    if (waitpid(f->pid, &status, 0) < 0 || !WIFEXITED(status) ||
        (WEXITSTATUS(status) != 0 && !n))
        snprintf(report, sizeof report, "the fake server died (status %d)", status);
    return report;
}

static void fake_check(struct fake *f, const char *name)
{
    const char *report = fake_finish(f);

    ok(!*report, "%s: fake server: %s", name, *report ? report : "script followed");
}

static struct qmp *open_fake(struct fake *f, const char *name)
{
    struct qmp *q = NULL;
    char why[256] = "";
    int rc = qmp_open_fd(f->fd, TIMEOUT, &q, why, sizeof why);

    f->fd = -1;
    is_int(rc, QMP_OK, "%s: handshake%s%s", name, rc ? ": " : "", why);
    return q;
}

/* Starts a fake for script and opens a connection to it (NULL on failure). */
static struct qmp *start(const struct step *script, const char *name, struct fake *f)
{
    if (fake_start(script, NULL, f) < 0) {
        ok(0, "%s: start the fake server: %s", name, strerror(errno));
        return NULL;
    }
    return open_fake(f, name);
}

static bool contains(const char *s, const char *part)
{
    return s && strstr(s, part);
}

/* Waits until q's socket is readable (or ms pass). */
static void wait_readable(struct qmp *q, int ms)
{
    struct pollfd pfd = { .fd = qmp_fd(q), .events = POLLIN };

    poll(&pfd, 1, ms);
}

/* ---- cases ---- */

static void test_handshake(void)
{
    static const struct step script[] = { HANDSHAKE, END };
    struct fake f;
    struct qmp *q = start(script, "handshake", &f);

    ok(q && qmp_fd(q) >= 0, "handshake: connection has a socket");
    is_str(q ? qmp_last_error(q) : NULL, "", "handshake: no error recorded");
    qmp_close(q);
    fake_check(&f, "handshake");
}

static void test_connect_path(void)
{
    static const struct step script[] = { HANDSHAKE, EXPECT("{\"execute\": \"stop\"}"),
                                          SEND(OK_REPLY), END };
    char dir[] = "/tmp/test-qmp.XXXXXX", path[PATH_MAX], why[256] = "";
    struct qmp *q = NULL;
    struct fake f;
    int rc;

    if (!mkdtemp(dir)) {
        ok(0, "connect: mkdtemp: %s", strerror(errno));
        return;
    }
    snprintf(path, sizeof path, "%s/qmp.sock", dir);
    if (fake_start(script, path, &f) < 0) {
        ok(0, "connect: start the fake server: %s", strerror(errno));
        rmdir(dir);
        return;
    }
    rc = qmp_connect(path, TIMEOUT, &q, why, sizeof why);
    is_int(rc, QMP_OK, "connect: qmp_connect to a unix socket%s%s", rc ? ": " : "", why);
    if (q)
        is_int(qmp_stop(q, TIMEOUT), QMP_OK, "connect: stop");
    qmp_close(q);
    fake_check(&f, "connect");
    unlink(path);

    errno = 0;
    rc = qmp_connect(path, TIMEOUT, &q, why, sizeof why);
    is_int(rc, QMP_ERR_IO, "connect to a missing socket: QMP_ERR_IO");
    is_int(errno, ENOENT, "connect to a missing socket: errno ENOENT");
    ok(q == NULL && contains(why, path) && contains(why, "No such file"),
       "connect to a missing socket: why names the path: %s", why);
    rmdir(dir);
}

static void test_bad_greetings(void)
{
    static const struct {
        const char *name;
        struct step script[3];
        int timeout_ms;
        int status;
        const char *reason;
    } cases[] = {
        { "no greeting before close", { CLOSE }, TIMEOUT,
          QMP_ERR_CLOSED, "closed the connection while we waited for the greeting" },
        { "no greeting at all", { SLEEP(1000), END }, 200,
          QMP_ERR_TIMEOUT, "timed out waiting for the greeting" },
        { "garbage greeting", { SEND("hello QEMU"), END }, TIMEOUT,
          QMP_ERR_PROTOCOL, "not JSON" },
        { "greeting not an object", { SEND("[1, 2]"), END }, TIMEOUT,
          QMP_ERR_PROTOCOL, "JSON array, not an object" },
        { "greeting without QMP", { SEND("{\"hello\": {}}"), END }, TIMEOUT,
          QMP_ERR_PROTOCOL, "greeting is not a QMP greeting" },
        { "QMP not an object", { SEND("{\"QMP\": 5}"), END }, TIMEOUT,
          QMP_ERR_PROTOCOL, "\"QMP\" is not an object" },
        { "greeting without version",
          { SEND("{\"QMP\": {\"capabilities\": []}}"), END }, TIMEOUT,
          QMP_ERR_PROTOCOL, "no \"version\" object" },
        { "greeting without capabilities",
          { SEND("{\"QMP\": {\"version\": {}, \"capabilities\": {}}}"), END }, TIMEOUT,
          QMP_ERR_PROTOCOL, "no \"capabilities\" array" },
        { "event before the greeting",
          { SEND("{\"event\": \"STOP\", " TS "}"), END }, TIMEOUT,
          QMP_ERR_PROTOCOL, "greeting is not a QMP greeting" },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct qmp *q = NULL;
        char why[256] = "";
        struct fake f;
        long long t0;
        int rc;

        if (fake_start(cases[i].script, NULL, &f) < 0) {
            ok(0, "%s: start the fake server", cases[i].name);
            continue;
        }
        t0 = now_ms();
        rc = qmp_open_fd(f.fd, cases[i].timeout_ms, &q, why, sizeof why);
        f.fd = -1;
        is_int(rc, cases[i].status, "%s: %s", cases[i].name, qmp_strerror(cases[i].status));
        ok(!q && contains(why, cases[i].reason), "%s: reason: %s", cases[i].name, why);
        if (cases[i].status == QMP_ERR_TIMEOUT)
            ok(now_ms() - t0 < 3 * cases[i].timeout_ms,
               "%s: gave up after %lld ms", cases[i].name, now_ms() - t0);
        fake_check(&f, cases[i].name);
    }
}

static void test_capabilities_refused(void)
{
    static const struct step script[] = {
        SEND(GREETING), EXPECT("{\"execute\": \"qmp_capabilities\"}"),
        SEND("{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"no way\"},"
             " \"id\": @ID@}"),
        END,
    };
    struct qmp *q = NULL;
    char why[256] = "";
    struct fake f;
    int rc;

    if (fake_start(script, NULL, &f) < 0) {
        ok(0, "capabilities refused: start the fake server");
        return;
    }
    rc = qmp_open_fd(f.fd, TIMEOUT, &q, why, sizeof why);
    is_int(rc, QMP_ERR_COMMAND, "capabilities refused: QMP_ERR_COMMAND");
    ok(!q && contains(why, "qmp_capabilities refused: CommandNotFound: no way"),
       "capabilities refused: reason: %s", why);
    fake_check(&f, "capabilities refused");
}

struct debug_log {
    char text[4096];
};

static void debug_fn(void *ctx, const char *dir, const char *json)
{
    struct debug_log *log = ctx;
    size_t n = strlen(log->text);

    snprintf(log->text + n, sizeof log->text - n, "%s %s\n", dir, json);
}

static void test_command_return(void)
{
    static const struct step script[] = {
        HANDSHAKE,
        EXPECT("{\"execute\": \"query-kvm\"}"),
        SEND("{\"return\": {\"enabled\": false, \"present\": true}, \"id\": @ID@}"),
        EXPECT("{\"execute\": \"human-monitor-command\","
               " \"arguments\": {\"command-line\": \"info version\"}}"),
        SEND("{\"id\": @ID@, \"return\": \"7.2.22\\r\\n\", \"x-future\": 1}"),
        END,
    };
    json_object *ret = NULL, *args, *v;
    struct debug_log log = { "" };
    struct fake f;
    struct qmp *q = start(script, "command return", &f);

    if (q) {
        qmp_set_debug(q, debug_fn, &log);
        is_int(qmp_command(q, "query-kvm", NULL, TIMEOUT, &ret), QMP_OK,
               "command return: query-kvm");
        ok(json_object_object_get_ex(ret, "present", &v) &&
           json_object_get_boolean(v), "command return: the return value is handed back");
        json_object_put(ret);
        ret = NULL;
        args = json_object_new_object();
        json_object_object_add(args, "command-line", json_object_new_string("info version"));
        is_int(qmp_command(q, "human-monitor-command", args, TIMEOUT, &ret), QMP_OK,
               "command return: a command with arguments (unknown reply keys ignored)");
        is_str(json_object_get_string(ret), "7.2.22\r\n", "command return: string return");
        is_int(json_object_get_type(args), json_type_object,
               "command return: the caller's arguments are still the caller's");
        json_object_put(args);
        json_object_put(ret);
        ok(contains(log.text, "-> {\"execute\":\"query-kvm\",\"id\":2}") &&
           contains(log.text, "<- {\"return\": {\"enabled\": false"),
           "command return: debug callback sees the raw JSON both ways");
    }
    qmp_close(q);
    fake_check(&f, "command return");
}

static void test_command_error(void)
{
    static const struct step script[] = {
        HANDSHAKE,
        EXPECT("{\"execute\": \"cont\"}"),
        SEND("{\"id\": @ID@, \"error\": {\"class\": \"GenericError\","
             " \"desc\": \"Resetting the Virtual Machine is required\"}}"),
        EXPECT("{\"execute\": \"stop\"}"),
        SEND(OK_REPLY),
        END,
    };
    json_object *ret = (json_object *)&ret;
    struct fake f;
    struct qmp *q = start(script, "command error", &f);

    if (q) {
        is_int(qmp_command(q, "cont", NULL, TIMEOUT, &ret), QMP_ERR_COMMAND,
               "command error: QMP_ERR_COMMAND");
        ok(ret == NULL, "command error: no return value");
        is_str(qmp_last_error_class(q), "GenericError", "command error: class");
        is_str(qmp_last_error(q), "Resetting the Virtual Machine is required",
               "command error: desc");
        is_int(qmp_stop(q, TIMEOUT), QMP_OK, "command error: connection still usable");
        is_str(qmp_last_error_class(q), "", "command error: class cleared by the next call");
    }
    qmp_close(q);
    fake_check(&f, "command error");
}

static void test_events(void)
{
    static const struct step script[] = {
        HANDSHAKE,
        EXPECT("{\"execute\": \"system_powerdown\"}"),
        SEND("{\"event\": \"POWERDOWN\", " TS "}"),
        SEND("{\"timestamp\": {\"seconds\": 1700000001, \"microseconds\": 5},"
             " \"event\": \"SHUTDOWN\", \"data\": {\"guest\": true,"
             " \"reason\": \"guest-shutdown\"}}"),
        SEND(OK_REPLY),
        END,
    };
    struct qmp_event ev;
    json_object *v;
    struct fake f;
    struct qmp *q = start(script, "events", &f);

    if (q) {
        is_int(qmp_system_powerdown(q, TIMEOUT), QMP_OK,
               "events: command with events before its reply");
        is_int(qmp_next_event(q, &ev), 1, "events: first event queued");
        is_str(ev.name, "POWERDOWN", "events: first event's name");
        ok(ev.data == NULL && ev.seconds == 1700000000 && ev.usecs == 123456,
           "events: no data, timestamp %lld.%06lld", ev.seconds, ev.usecs);
        qmp_event_dispose(&ev);
        is_int(qmp_next_event(q, &ev), 1, "events: second event queued");
        is_str(ev.name, "SHUTDOWN", "events: second event's name");
        ok(json_object_object_get_ex(ev.data, "reason", &v) &&
           strcmp(json_object_get_string(v), "guest-shutdown") == 0 &&
           ev.seconds == 1700000001 && ev.usecs == 5,
           "events: second event's data and timestamp");
        qmp_event_dispose(&ev);
        ok(ev.name == NULL && ev.data == NULL, "events: dispose zeroes the event");
        is_int(qmp_next_event(q, &ev), 0, "events: no more events");
    }
    qmp_close(q);
    fake_check(&f, "events");
}

static void test_one_write(void)
{
    static const struct step script[] = {
        HANDSHAKE,
        EXPECT("{\"execute\": \"stop\"}"),
        SEND("{\"event\": \"STOP\", " TS "}\r\n" OK_REPLY "\r\n"
             "{\"event\": \"BLOCK_IO_ERROR\", \"data\": {}, " TS "}"),
        END,
    };
    struct qmp_event ev;
    struct fake f;
    struct qmp *q = start(script, "three messages in one write", &f);

    if (q) {
        is_int(qmp_stop(q, TIMEOUT), QMP_OK, "three messages in one write: reply found");
        is_int(qmp_next_event(q, &ev), 1, "three messages in one write: event before");
        is_str(ev.name, "STOP", "three messages in one write: STOP");
        qmp_event_dispose(&ev);
        is_int(qmp_next_event(q, &ev), 1,
               "three messages in one write: event after the reply (already read)");
        is_str(ev.name, "BLOCK_IO_ERROR", "three messages in one write: BLOCK_IO_ERROR");
        ok(json_object_is_type(ev.data, json_type_object),
           "three messages in one write: empty data is an object");
        qmp_event_dispose(&ev);
        is_int(qmp_next_event(q, &ev), 0, "three messages in one write: then none");
    }
    qmp_close(q);
    fake_check(&f, "three messages in one write");
}

static void test_split(void)
{
    static const struct step script[] = {
        SEND_BYTES(GREETING),
        EXPECT("{\"execute\": \"qmp_capabilities\"}"),
        SEND_BYTES(OK_REPLY),
        EXPECT("{\"execute\": \"query-status\"}"),
        SEND_BYTES("{\"return\": {\"status\": \"paused\", \"singlestep\": false,"
                   " \"running\": false}, \"id\": @ID@}"),
        END,
    };
    struct fake f;
    struct qmp *q = start(script, "byte by byte", &f);
    char *status = NULL;
    bool running = true;

    if (q) {
        is_int(qmp_query_status(q, TIMEOUT, &status, &running), QMP_OK,
               "byte by byte: reply assembled");
        ok(status && !strcmp(status, "paused") && !running,
           "byte by byte: status paused, not running");
        free(status);
    }
    qmp_close(q);
    fake_check(&f, "byte by byte");
}

/* Replies that break the connection: the command fails with status and
 * a reason, and the next command fails the same way without being sent
 * (the fake fails the test if it arrives). */
static void test_bad_replies(void)
{
    static const struct {
        const char *name;
        struct step script[6];
        int status;
        const char *reason;
    } cases[] = {
        { "reply with the wrong id",
          { HANDSHAKE, EXPECT("{\"execute\": \"stop\"}"),
            SEND("{\"return\": {}, \"id\": 999}"), END },
          QMP_ERR_PROTOCOL, "reply with id 999 while waiting for id 2" },
        { "reply without id",
          { HANDSHAKE, EXPECT("{\"execute\": \"stop\"}"), SEND("{\"return\": {}}"), END },
          QMP_ERR_PROTOCOL, "reply without an id" },
        { "reply with a string id",
          { HANDSHAKE, EXPECT("{\"execute\": \"stop\"}"),
            SEND("{\"return\": {}, \"id\": \"@ID@\"}"), END },
          QMP_ERR_PROTOCOL, "reply id is not an integer" },
        { "reply that is not JSON",
          { HANDSHAKE, EXPECT("{\"execute\": \"stop\"}"), SEND("{\"return\": "), END },
          QMP_ERR_PROTOCOL, "not JSON (incomplete)" },
        { "JSON with trailing garbage",
          { HANDSHAKE, EXPECT("{\"execute\": \"stop\"}"),
            SEND("{\"return\": {}, \"id\": @ID@} xyz"), END },
          QMP_ERR_PROTOCOL, "not JSON" },
        { "reply in invalid UTF-8",
          { HANDSHAKE, EXPECT("{\"execute\": \"stop\"}"),
            SEND("{\"return\": {\"a\": \"\xff\xfe\"}, \"id\": @ID@}"), END },
          QMP_ERR_PROTOCOL, "not JSON" },
        { "a 2 MiB line",
          { HANDSHAKE, EXPECT("{\"execute\": \"stop\"}"), SEND_BIG(2 * 1024 * 1024), END },
          QMP_ERR_PROTOCOL, "longer than 1048576 bytes" },
        { "reply with return and error",
          { HANDSHAKE, EXPECT("{\"execute\": \"stop\"}"),
            SEND("{\"return\": {}, \"error\": {\"class\": \"a\", \"desc\": \"b\"},"
                 " \"id\": @ID@}"), END },
          QMP_ERR_PROTOCOL, "both \"return\" and \"error\"" },
        { "error without desc",
          { HANDSHAKE, EXPECT("{\"execute\": \"stop\"}"),
            SEND("{\"error\": {\"class\": \"GenericError\"}, \"id\": @ID@}"), END },
          QMP_ERR_PROTOCOL, "without string \"class\" and \"desc\"" },
        { "message neither reply nor event",
          { HANDSHAKE, EXPECT("{\"execute\": \"stop\"}"), SEND("{\"id\": @ID@}"), END },
          QMP_ERR_PROTOCOL, "neither a reply nor an event" },
        { "event without timestamp",
          { HANDSHAKE, EXPECT("{\"execute\": \"stop\"}"),
            SEND("{\"event\": \"STOP\"}"), END },
          QMP_ERR_PROTOCOL, "event has no valid \"timestamp\"" },
        { "event with a number for a name",
          { HANDSHAKE, EXPECT("{\"execute\": \"stop\"}"),
            SEND("{\"event\": 7, " TS "}"), END },
          QMP_ERR_PROTOCOL, "event name is not a non-empty string" },
        { "event data not an object",
          { HANDSHAKE, EXPECT("{\"execute\": \"stop\"}"),
            SEND("{\"event\": \"STOP\", \"data\": [], " TS "}"), END },
          QMP_ERR_PROTOCOL, "event's \"data\" is not an object" },
        { "server closes mid-reply",
          { HANDSHAKE, EXPECT("{\"execute\": \"stop\"}"),
            SEND_RAW("{\"return\": {\"sta"), CLOSE },
          QMP_ERR_CLOSED, "closed the connection in the middle of a message" },
        { "server closes before replying",
          { HANDSHAKE, EXPECT("{\"execute\": \"stop\"}"), CLOSE },
          QMP_ERR_CLOSED, "closed the connection while we waited for the reply to stop" },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *name = cases[i].name;
        struct fake f;
        struct qmp *q = start(cases[i].script, name, &f);

        if (q) {
            is_int(qmp_stop(q, TIMEOUT), cases[i].status, "%s: %s", name,
                   qmp_strerror(cases[i].status));
            ok(contains(qmp_last_error(q), cases[i].reason), "%s: reason: %s",
               name, qmp_last_error(q));
            is_int(qmp_cont(q, TIMEOUT), cases[i].status,
                   "%s: the connection stays unusable", name);
            ok(contains(qmp_last_error(q), cases[i].reason),
               "%s: and keeps its reason", name);
        }
        qmp_close(q);
        fake_check(&f, name);
    }
}

static void test_timeout(void)
{
    static const struct step script[] = {
        HANDSHAKE,
        EXPECT("{\"execute\": \"query-status\"}"),
        SLEEP(1000),
        SEND("{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": @ID@}"),
        EXPECT("{\"execute\": \"stop\"}"),
        SEND("{\"event\": \"STOP\", " TS "}"),
        SEND(OK_REPLY),
        END,
    };
    struct qmp_event ev;
    struct fake f;
    struct qmp *q = start(script, "timeout", &f);
    long long t0, dt;

    if (q) {
        t0 = now_ms();
        is_int(qmp_query_status(q, 300, NULL, NULL), QMP_ERR_TIMEOUT,
               "timeout: QMP_ERR_TIMEOUT when QEMU does not answer");
        dt = now_ms() - t0;
        ok(dt >= 290 && dt < 900, "timeout: after %lld ms (300 asked)", dt);
        ok(contains(qmp_last_error(q), "timed out waiting for the reply to query-status"),
           "timeout: reason: %s", qmp_last_error(q));
        is_int(qmp_stop(q, TIMEOUT), QMP_OK,
               "timeout: connection usable; the late reply is dropped");
        is_int(qmp_next_event(q, &ev), 1, "timeout: event after the late reply kept");
        qmp_event_dispose(&ev);
    }
    qmp_close(q);
    fake_check(&f, "timeout");
}

static void test_query_status(void)
{
    static const struct step script[] = {
        HANDSHAKE,
        EXPECT("{\"execute\": \"query-status\"}"),
        SEND("{\"return\": {\"status\": \"prelaunch\", \"singlestep\": false,"
             " \"running\": false}, \"id\": @ID@}"),
        EXPECT("{\"execute\": \"query-status\"}"),
        SEND("{\"return\": {\"status\": \"running\"}, \"id\": @ID@}"),
        EXPECT("{\"execute\": \"query-status\"}"),
        SEND("{\"return\": {\"status\": \"running\", \"running\": \"yes\"}, \"id\": @ID@}"),
        EXPECT("{\"execute\": \"query-status\"}"),
        SEND("{\"return\": {\"status\": 1, \"running\": true}, \"id\": @ID@}"),
        EXPECT("{\"execute\": \"query-status\"}"),
        SEND("{\"return\": [], \"id\": @ID@}"),
        EXPECT("{\"execute\": \"query-status\"}"),
        SEND("{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": @ID@}"),
        END,
    };
    struct fake f;
    struct qmp *q = start(script, "query-status", &f);
    char *status = (char *)"unset";
    bool running = true;

    if (q) {
        is_int(qmp_query_status(q, TIMEOUT, &status, &running), QMP_OK,
               "query-status: good reply");
        is_str(status, "prelaunch", "query-status: status");
        ok(!running, "query-status: running false");
        free(status);
        is_int(qmp_query_status(q, TIMEOUT, &status, &running), QMP_ERR_PROTOCOL,
               "query-status: missing running refused");
        ok(status == NULL && contains(qmp_last_error(q), "no boolean \"running\""),
           "query-status: reason: %s", qmp_last_error(q));
        is_int(qmp_query_status(q, TIMEOUT, &status, &running), QMP_ERR_PROTOCOL,
               "query-status: running not a boolean refused");
        is_int(qmp_query_status(q, TIMEOUT, &status, &running), QMP_ERR_PROTOCOL,
               "query-status: status not a string refused");
        ok(contains(qmp_last_error(q), "no string \"status\""),
           "query-status: reason: %s", qmp_last_error(q));
        is_int(qmp_query_status(q, TIMEOUT, &status, &running), QMP_ERR_PROTOCOL,
               "query-status: an array refused");
        is_int(qmp_query_status(q, TIMEOUT, &status, &running), QMP_OK,
               "query-status: a bad reply's contents leave the connection usable");
        ok(status && !strcmp(status, "running") && running, "query-status: running");
        free(status);
    }
    qmp_close(q);
    fake_check(&f, "query-status");
}

static void test_cpus(void)
{
    static const struct step script[] = {
        HANDSHAKE,
        EXPECT("{\"execute\": \"query-cpus-fast\"}"),
        SEND("{\"return\": [{\"cpu-index\": 1, \"thread-id\": 4242,"
             " \"qom-path\": \"/machine/unattached/device[1]\", \"target\": \"x86_64\"},"
             " {\"cpu-index\": 0, \"thread-id\": 4241, \"target\": \"x86_64\"}],"
             " \"id\": @ID@}"),
        EXPECT("{\"execute\": \"query-cpus-fast\"}"),
        SEND("{\"return\": [], \"id\": @ID@}"),
        EXPECT("{\"execute\": \"query-cpus-fast\"}"),
        SEND("{\"return\": [{\"cpu-index\": 0, \"thread-id\": \"4241\"}], \"id\": @ID@}"),
        EXPECT("{\"execute\": \"query-cpus-fast\"}"),
        SEND("{\"return\": [{\"cpu-index\": 0, \"thread-id\": 1},"
             " {\"cpu-index\": 0, \"thread-id\": 2}], \"id\": @ID@}"),
        EXPECT("{\"execute\": \"query-cpus-fast\"}"),
        SEND("{\"return\": [{\"cpu-index\": 0, \"thread-id\": 1.5}], \"id\": @ID@}"),
        EXPECT("{\"execute\": \"query-cpus-fast\"}"),
        SEND("{\"return\": [{\"cpu-index\": 0, \"thread-id\": 4294967297}], \"id\": @ID@}"),
        EXPECT("{\"execute\": \"query-cpus-fast\"}"),
        SEND("{\"return\": [7], \"id\": @ID@}"),
        EXPECT("{\"execute\": \"query-cpus-fast\"}"),
        SEND("{\"return\": {}, \"id\": @ID@}"),
        END,
    };
    static const char *const bad[] = {
        "thread-id a string", "cpu-index twice", "thread-id not an integer",
        "thread-id out of range", "entry not an object", "not an array",
    };
    struct qmp_cpu *cpus = NULL;
    size_t n = 99;
    struct fake f;
    struct qmp *q = start(script, "query-cpus-fast", &f);

    if (q) {
        is_int(qmp_query_cpus_fast(q, TIMEOUT, &cpus, &n), QMP_OK,
               "query-cpus-fast: good reply");
        ok(n == 2 && cpus[0].cpu_index == 0 && cpus[0].thread_id == 4241 &&
           cpus[1].cpu_index == 1 && cpus[1].thread_id == 4242,
           "query-cpus-fast: thread ids sorted by cpu-index");
        free(cpus);
        is_int(qmp_query_cpus_fast(q, TIMEOUT, &cpus, &n), QMP_OK,
               "query-cpus-fast: no CPUs (-M none)");
        ok(n == 0 && cpus == NULL, "query-cpus-fast: empty");
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            is_int(qmp_query_cpus_fast(q, TIMEOUT, &cpus, &n), QMP_ERR_PROTOCOL,
                   "query-cpus-fast: %s refused (%s)", bad[i], qmp_last_error(q));
            ok(cpus == NULL && n == 0, "query-cpus-fast: nothing returned");
        }
    }
    qmp_close(q);
    fake_check(&f, "query-cpus-fast");
}

static void test_balloon(void)
{
    static const struct step script[] = {
        HANDSHAKE,
        EXPECT("{\"execute\": \"balloon\", \"arguments\": {\"value\": 5368709120}}"),
        SEND(OK_REPLY),
        EXPECT("{\"execute\": \"balloon\", \"arguments\": {\"value\": 1073741824}}"),
        SEND("{\"id\": @ID@, \"error\": {\"class\": \"DeviceNotActive\","
             " \"desc\": \"No balloon device has been activated\"}}"),
        END,
    };
    struct fake f;
    struct qmp *q = start(script, "balloon", &f);

    if (q) {
        is_int(qmp_balloon(q, 5ULL << 30, TIMEOUT), QMP_OK,
               "balloon: 5 GiB sent as a JSON integer");
        is_int(qmp_balloon(q, 1ULL << 30, TIMEOUT), QMP_ERR_COMMAND,
               "balloon: no balloon device");
        is_str(qmp_last_error_class(q), "DeviceNotActive", "balloon: DeviceNotActive");
        is_int(qmp_balloon(q, UINT64_MAX, TIMEOUT), QMP_ERR_INVALID,
               "balloon: a size over INT64_MAX is refused unsent");
    }
    qmp_close(q);
    fake_check(&f, "balloon");
}

static void test_invalid_arguments(void)
{
    static const struct step script[] = { HANDSHAKE, END };
    struct fake f;
    struct qmp *q = start(script, "invalid arguments", &f);
    json_object *arr = json_object_new_array();
    char why[64];

    if (q) {
        is_int(qmp_command(q, NULL, NULL, TIMEOUT, NULL), QMP_ERR_INVALID,
               "invalid arguments: no command name");
        is_int(qmp_command(q, "", NULL, TIMEOUT, NULL), QMP_ERR_INVALID,
               "invalid arguments: empty command name");
        is_int(qmp_command(q, "stop", arr, TIMEOUT, NULL), QMP_ERR_INVALID,
               "invalid arguments: arguments not an object");
    }
    json_object_put(arr);
    qmp_close(q);
    fake_check(&f, "invalid arguments");
    q = (struct qmp *)&q;
    is_int(qmp_open_fd(-1, TIMEOUT, &q, why, sizeof why), QMP_ERR_INVALID,
           "invalid arguments: no fd");
    ok(q == NULL, "invalid arguments: no connection");
}

static int sigpipes;

static void on_sigpipe(int sig)
{
    (void)sig;
    sigpipes++;
}

static void test_sigpipe(void)
{
    static const struct step script[] = { HANDSHAKE, CLOSE };
    struct sigaction sa = { .sa_handler = on_sigpipe }, old;
    struct fake f;
    struct qmp *q;
    int rc;

    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, &old);
    q = start(script, "server gone", &f);
    if (q) {
        fake_finish(&f);        /* the server has closed its end */
        rc = qmp_cont(q, TIMEOUT);
        is_int(rc, QMP_ERR_CLOSED, "server gone: command fails with QMP_ERR_CLOSED");
        ok(contains(qmp_last_error(q), "closed the connection"),
           "server gone: reason: %s", qmp_last_error(q));
        is_int(sigpipes, 0, "server gone: no SIGPIPE raised");
        is_int(qmp_quit(q, TIMEOUT), QMP_ERR_CLOSED,
               "server gone: quit that could not be sent is not a success");
    } else {
        fake_finish(&f);
    }
    qmp_close(q);
    sigaction(SIGPIPE, &old, NULL);
}

static void test_events_then_eof(void)
{
    static const struct step script[] = {
        HANDSHAKE,
        SEND("{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": false,"
             " \"reason\": \"host-signal\"}, " TS "}"),
        CLOSE,
    };
    struct qmp_event ev;
    struct fake f;
    struct qmp *q = start(script, "events then EOF", &f);
    int rc;

    if (q) {
        fake_finish(&f);
        wait_readable(q, TIMEOUT);
        rc = qmp_next_event(q, &ev);
        is_int(rc, 1, "events then EOF: the event comes first");
        is_str(ev.name, "SHUTDOWN", "events then EOF: SHUTDOWN");
        qmp_event_dispose(&ev);
        rc = qmp_next_event(q, &ev);
        if (rc == 0) {          /* the EOF came in a later read */
            wait_readable(q, TIMEOUT);
            rc = qmp_next_event(q, &ev);
        }
        is_int(rc, QMP_ERR_CLOSED, "events then EOF: then QMP_ERR_CLOSED");
        is_int(qmp_next_event(q, &ev), QMP_ERR_CLOSED, "events then EOF: and again");
    } else {
        fake_finish(&f);
    }
    qmp_close(q);
}

static void test_quit(void)
{
    static const struct step script[] = {
        HANDSHAKE,
        EXPECT("{\"execute\": \"quit\"}"),
        SEND("{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": false,"
             " \"reason\": \"host-qmp-quit\"}, " TS "}"),
        CLOSE,
    };
    struct qmp_event ev;
    struct fake f;
    struct qmp *q = start(script, "quit", &f);

    if (q) {
        is_int(qmp_quit(q, TIMEOUT), QMP_OK,
               "quit: QEMU closing instead of replying counts as done");
        is_int(qmp_next_event(q, &ev), 1, "quit: SHUTDOWN event kept");
        qmp_event_dispose(&ev);
        is_int(qmp_next_event(q, &ev), QMP_ERR_CLOSED, "quit: then closed");
    }
    qmp_close(q);
    fake_check(&f, "quit");
}

/* The fake itself: a command that is not the one expected is reported,
 * named. */
static void test_fake_catches_unexpected(void)
{
    static const struct step script[] = {
        HANDSHAKE, EXPECT("{\"execute\": \"stop\"}"), SEND(OK_REPLY), END,
    };
    struct fake f;
    struct qmp *q = start(script, "unexpected command", &f);
    const char *report;

    if (q)
        is_int(qmp_cont(q, TIMEOUT), QMP_ERR_CLOSED,
               "unexpected command: the fake hangs up");
    qmp_close(q);
    report = fake_finish(&f);
    ok(contains(report, "unexpected command {\"execute\":\"cont\",\"id\":2}"),
       "unexpected command: the fake names it: %s", report);
}

/* And a command after the end of the script. */
static void test_fake_catches_extra(void)
{
    static const struct step script[] = { HANDSHAKE, END };
    struct fake f;
    struct qmp *q = start(script, "command after the script", &f);
    const char *report;

    if (q)
        is_int(qmp_command(q, "system_reset", NULL, 100, NULL), QMP_ERR_TIMEOUT,
               "command after the script: no reply");
    qmp_close(q);
    report = fake_finish(&f);
    ok(contains(report, "unexpected command {\"execute\":\"system_reset\",\"id\":2}"
                " (after the end of the script)"),
       "command after the script: the fake names it: %s", report);
}

int main(void)
{
    test_handshake();
    test_connect_path();
    test_bad_greetings();
    test_capabilities_refused();
    test_command_return();
    test_command_error();
    test_events();
    test_one_write();
    test_split();
    test_bad_replies();
    test_timeout();
    test_query_status();
    test_cpus();
    test_balloon();
    test_invalid_arguments();
    test_sigpipe();
    test_events_then_eof();
    test_quit();
    test_fake_catches_unexpected();
    test_fake_catches_extra();
    return tap_done();
}
