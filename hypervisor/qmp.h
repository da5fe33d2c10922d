/*
 * qmp.h - a client for QEMU's machine protocol (QMP), which does not
 * trust QEMU.
 *
 * QMP is JSON over a stream socket (docs/interop/qmp-spec): on connect
 * QEMU sends a greeting {"QMP": {"version": {...}, "capabilities": [...]}};
 * the client sends {"execute": "qmp_capabilities"} and only after its
 * {"return": {}} may it issue other commands, {"execute": NAME,
 * "arguments": {...}, "id": N}, each answered by {"return": R, "id": N}
 * or {"error": {"class": C, "desc": D}, "id": N}.  Events {"event": NAME,
 * "data": {...}, "timestamp": {"seconds": S, "microseconds": U}} may
 * arrive at any time, including between a command and its reply (QEMU
 * 7.2 sends RESUME before the reply to `cont', STOP before that to
 * `stop', SHUTDOWN before that to `quit').
 *
 * Everything QEMU sends is checked before use:
 *   - every message is one line (QEMU ends each with CRLF; a monitor
 *     with pretty=on is not supported) of at most QMP_MAX_LINE bytes,
 *     holding exactly one JSON object in strict, valid-UTF-8 JSON with
 *     no NUL byte;
 *   - the greeting is an object with an object "QMP" holding an object
 *     "version" and an array "capabilities";
 *   - an event has a string "event", an object "data" or none, and a
 *     "timestamp" object with integer "seconds" and "microseconds";
 *   - a reply has exactly one of "return" and "error" ("error" an object
 *     with strings "class" and "desc") and the integer "id" of the
 *     command waited for.  A reply to a command that timed out earlier
 *     is dropped when it turns up (as the spec asks of unknown ids);
 *     any other id, or none, is a protocol error;
 *   - at most QMP_MAX_EVENTS events wait in the queue;
 *   - the wrappers below check the types of every field they read.
 *
 * Errors are this module's own (enum qmp_status), never errno values.
 * After QMP_ERR_IO, QMP_ERR_CLOSED or a protocol error in the message
 * stream (a bad line, a wrong id, an event that is not one) the
 * connection is unusable: every later call returns the same status
 * without touching the socket.  QMP_ERR_TIMEOUT, QMP_ERR_COMMAND and a
 * protocol error in the contents of one well-formed reply (a wrapper's
 * validation) leave it usable.  qmp_last_error() says what went wrong.
 *
 * Nothing here prints: the full JSON traffic goes to the debug callback,
 * if one is set.  A struct qmp is used by one thread at a time.
 */
#ifndef VMKIT_QMP_H
#define VMKIT_QMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define QMP_MAX_LINE    (1024 * 1024)   /* bytes per message, CRLF excluded */
#define QMP_MAX_EVENTS  1024            /* events queued and not yet taken */

enum qmp_status {
    QMP_OK = 0,
    QMP_ERR_IO = -1,        /* a system call failed; errno says why */
    QMP_ERR_TIMEOUT = -2,   /* no (complete) answer within the time given */
    QMP_ERR_PROTOCOL = -3,  /* QEMU sent something that is not valid QMP */
    QMP_ERR_COMMAND = -4,   /* QEMU answered the command with an error */
    QMP_ERR_CLOSED = -5,    /* QEMU closed the connection */
    QMP_ERR_NOMEM = -6,
    QMP_ERR_INVALID = -7,   /* the caller passed an unusable argument */
};

struct qmp;

struct qmp_event {
    char *name;             /* owned, e.g. "SHUTDOWN" */
    json_object *data;      /* one reference owned; NULL when QEMU sent none */
    long long seconds;      /* QEMU's timestamp; both -1 when QEMU had none */
    long long usecs;
};

struct qmp_cpu {
    int cpu_index;          /* QEMU's "cpu-index": the vCPU number */
    int thread_id;          /* host thread id ("thread-id"), > 0 */
};

/* A short constant text for a qmp_status ("timed out", ...). */
const char *qmp_strerror(int status);

/*
 * Connects to the unix socket at path, reads and checks the greeting and
 * negotiates capabilities (none are enabled), all within timeout_ms
 * (-1: no limit).  A listening socket whose backlog is full is retried
 * until the time is up.  Returns QMP_OK with *qmp_r a new connection
 * (close with qmp_close), or a qmp_status with *qmp_r NULL and, when why
 * is not NULL, a message of at most whylen - 1 bytes in why saying what
 * failed (e.g. "greeting is not a QMP greeting: ...", "connect PATH:
 * No such file or directory"); after QMP_ERR_IO errno is the cause.
 */
int qmp_connect(const char *path, int timeout_ms, struct qmp **qmp_r,
                char *why, size_t whylen);

/*
 * As qmp_connect, over fd, a connected stream socket (e.g. one end of a
 * socketpair, or an accepted connection).  fd is taken over in every
 * case: closed on failure, and by qmp_close on success.  Its file status
 * flags are left alone (the client never blocks in recv or send).
 */
int qmp_open_fd(int fd, int timeout_ms, struct qmp **qmp_r, char *why,
                size_t whylen);

/* Closes the socket and frees q with every event still queued.  NULL is
 * allowed. */
void qmp_close(struct qmp *q);

/* The socket, to poll() for POLLIN; it stays owned by q. */
int qmp_fd(const struct qmp *q);

/*
 * fn, when not NULL, is called with every message sent (dir "->") and
 * every line received (dir "<-", CRLF removed, before it is checked) as
 * raw text.  ctx is passed through; neither is owned by q.
 */
void qmp_set_debug(struct qmp *q,
                   void (*fn)(void *ctx, const char *dir, const char *json),
                   void *ctx);

/*
 * The message of the last failure on q: the reason of a protocol error,
 * QEMU's "desc" after QMP_ERR_COMMAND, the failing call after
 * QMP_ERR_IO.  "" when nothing failed yet.  Owned by q, valid until the
 * next call on q.
 */
const char *qmp_last_error(const struct qmp *q);

/* QEMU's error class ("GenericError", "CommandNotFound",
 * "DeviceNotActive", ...) after QMP_ERR_COMMAND, else "".  Owned by q,
 * valid until the next call on q. */
const char *qmp_last_error_class(const struct qmp *q);

/*
 * Sends command name with args (an object, or NULL for none; not taken
 * over: q adds and drops its own reference) and waits up to timeout_ms
 * (-1: no limit) for the reply with its id; events arriving meanwhile
 * are queued for qmp_next_event.  On {"return": R}: QMP_OK, and when
 * ret_r is not NULL *ret_r is a new reference to R (json_object_put it).
 * On {"error": ...}: QMP_ERR_COMMAND with the class and desc in
 * qmp_last_error_class/qmp_last_error.  Otherwise another qmp_status.
 * *ret_r is NULL whenever the result is not QMP_OK.
 */
int qmp_command(struct qmp *q, const char *name, json_object *args,
                int timeout_ms, json_object **ret_r);

/*
 * Reads what the socket holds without blocking (call it when poll()
 * says the fd is readable, and again until it returns 0), queues the
 * events in it, and takes the oldest queued event.  Returns 1 with *ev
 * filled (the caller owns it: qmp_event_dispose), 0 when no event is
 * waiting, or a negative qmp_status (with *ev zeroed).  Events that
 * arrived before QEMU closed the connection are all returned before
 * QMP_ERR_CLOSED.  Call it also after every qmp_command (and wrapper)
 * until it returns 0: events that came in with a reply are already read
 * from the socket, so poll() will not report them.
 */
int qmp_next_event(struct qmp *q, struct qmp_event *ev);

/* Frees what ev owns and zeroes it.  A zeroed ev is fine. */
void qmp_event_dispose(struct qmp_event *ev);

/*
 * Wrappers for the commands the runtime uses.  Each takes timeout_ms as
 * qmp_command, returns a qmp_status, and checks the reply's type: a
 * command that returns nothing must return an object, or the result is
 * QMP_ERR_PROTOCOL (connection still usable).
 */
int qmp_cont(struct qmp *q, int timeout_ms);
int qmp_stop(struct qmp *q, int timeout_ms);
int qmp_system_powerdown(struct qmp *q, int timeout_ms);
int qmp_system_reset(struct qmp *q, int timeout_ms);
/* `quit': QEMU may close the socket before its reply is read, so
 * QMP_ERR_CLOSED after the command was sent counts as QMP_OK.  q is
 * still to be closed with qmp_close. */
int qmp_quit(struct qmp *q, int timeout_ms);

/*
 * query-status: the reply must be an object with a string "status"
 * ("prelaunch", "running", "paused", "shutdown", ...) and a boolean
 * "running".  *status_r (when status_r is not NULL) is a new malloc'd
 * copy of status, the caller frees it; NULL unless QMP_OK.
 */
int qmp_query_status(struct qmp *q, int timeout_ms, char **status_r,
                     bool *running_r);

/* balloon: asks the guest for a memory size of bytes (sent as a JSON
 * integer; at most INT64_MAX, else QMP_ERR_INVALID).  QEMU answers
 * DeviceNotActive (QMP_ERR_COMMAND) when there is no balloon device. */
int qmp_balloon(struct qmp *q, uint64_t bytes, int timeout_ms);

/*
 * query-cpus-fast: the vCPUs with their host thread ids, for pinning.
 * The reply must be an array of objects, each with an integer
 * "cpu-index" (0..INT_MAX, no two alike) and an integer "thread-id"
 * (1..INT_MAX; under TCG several vCPUs may share one).  *cpus_r is a
 * new malloc'd array of *n_r entries sorted by cpu_index (NULL when
 * *n_r is 0); the caller frees it.
 */
int qmp_query_cpus_fast(struct qmp *q, int timeout_ms,
                        struct qmp_cpu **cpus_r, size_t *n_r);

#endif
