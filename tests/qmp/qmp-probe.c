/*
 * qmp-probe.c - the QMP client against a real QEMU (run by real-qemu.t).
 *
 *   qmp-probe SOCKET
 *
 * QEMU must have been started with -S and -M none and a QMP monitor on
 * SOCKET.  Prints one line per check, "ok DESCRIPTION" or "not ok
 * DESCRIPTION", and the JSON traffic as "# " lines; real-qemu.t turns
 * them into TAP.  Ends by sending quit.
 */
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmp.h"

#define TIMEOUT 10000

static int failed;

__attribute__((format(printf, 2, 3)))
static void check(bool pass, const char *fmt, ...)
{
    va_list ap;

    printf("%s ", pass ? "ok" : "not ok");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    failed += !pass;
}

static void show(void *ctx, const char *dir, const char *json)
{
    printf("# %s %s %s\n", (const char *)ctx, dir, json);
}

/* The next event, waiting up to ms for one; 1, 0 or a qmp_status. */
static int next_event(struct qmp *q, struct qmp_event *ev, int ms)
{
    struct pollfd pfd = { .fd = qmp_fd(q), .events = POLLIN };
    int rc = qmp_next_event(q, ev);

    if (rc == 0 && poll(&pfd, 1, ms) > 0)
        rc = qmp_next_event(q, ev);
    return rc;
}

int main(int argc, char **argv)
{
    struct qmp *q = NULL, *q2 = NULL;
    struct qmp_cpu *cpus = NULL;
    struct qmp_event ev = { 0 };
    char why[256] = "", *status = NULL;
    bool running = true;
    size_t ncpus = 99;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: qmp-probe SOCKET\n");
        return 2;
    }
    rc = qmp_connect(argv[1], TIMEOUT, &q, why, sizeof why);
    check(rc == QMP_OK, "qmp_connect: %s", rc ? why : "greeting and capabilities");
    if (!q)
        return 1;
    qmp_set_debug(q, show, (void *)"1");

    rc = qmp_query_status(q, TIMEOUT, &status, &running);
    check(rc == QMP_OK, "query-status: %s", rc ? qmp_last_error(q) : "valid");
    check(status && (!strcmp(status, "prelaunch") || !strcmp(status, "paused")) &&
          !running, "under -S: status %s, running %s", status ? status : "?",
          running ? "true" : "false");
    free(status);
    status = NULL;

    rc = qmp_query_cpus_fast(q, TIMEOUT, &cpus, &ncpus);
    check(rc == QMP_OK && ncpus == 0, "query-cpus-fast: %zu vCPUs under -M none%s%s",
          ncpus, rc ? ": " : "", rc ? qmp_last_error(q) : "");
    free(cpus);

    rc = qmp_balloon(q, 256ULL << 20, TIMEOUT);
    check(rc == QMP_ERR_COMMAND && !strcmp(qmp_last_error_class(q), "DeviceNotActive"),
          "balloon without a balloon device: %s (%s)", qmp_last_error_class(q),
          qmp_last_error(q));

    rc = qmp_command(q, "no-such-command", NULL, TIMEOUT, NULL);
    check(rc == QMP_ERR_COMMAND && !strcmp(qmp_last_error_class(q), "CommandNotFound"),
          "unknown command: %s (%s)", qmp_last_error_class(q), qmp_last_error(q));

    /* QEMU serves one client per monitor: a second one gets no greeting. */
    rc = qmp_connect(argv[1], 1000, &q2, why, sizeof why);
    check(rc == QMP_ERR_TIMEOUT, "a second client meanwhile: %s", rc ? why : "connected");
    qmp_close(q2);

    rc = qmp_cont(q, TIMEOUT);
    check(rc == QMP_OK, "cont: %s", rc ? qmp_last_error(q) : "done");
    rc = next_event(q, &ev, TIMEOUT);
    check(rc == 1 && !strcmp(ev.name, "RESUME") && ev.seconds > 0,
          "RESUME event (sent before cont's reply): %s at %lld.%06lld",
          rc == 1 ? ev.name : qmp_strerror(rc), ev.seconds, ev.usecs);
    qmp_event_dispose(&ev);

    rc = qmp_query_status(q, TIMEOUT, &status, &running);
    check(rc == QMP_OK && status && !strcmp(status, "running") && running,
          "after cont: status %s, running %s", status ? status : "?",
          running ? "true" : "false");
    free(status);

    rc = qmp_quit(q, TIMEOUT);
    check(rc == QMP_OK, "quit: %s", rc ? qmp_last_error(q) : "done");
    rc = next_event(q, &ev, TIMEOUT);
    check(rc == 1 && !strcmp(ev.name, "SHUTDOWN"), "SHUTDOWN event: %s",
          rc == 1 ? json_object_to_json_string(ev.data) : qmp_strerror(rc));
    qmp_event_dispose(&ev);
    rc = next_event(q, &ev, TIMEOUT);
    check(rc == QMP_ERR_CLOSED, "then QEMU closes the connection: %s",
          rc < 0 ? qmp_last_error(q) : "no");
    qmp_event_dispose(&ev);
    qmp_close(q);
    return failed ? 1 : 0;
}
