/*
 * batch.c - many guests at once, a child each (see batch.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"

#define REDRAW_MS   500

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *state_name(const struct batch_guest *g)
{
    switch (g->state) {
    case BATCH_WAITING: return "waiting";
    case BATCH_RUNNING: return "running";
    case BATCH_DONE: return "done";
    case BATCH_FAILED: return "FAILED";
    case BATCH_NOT_STARTED: return "not started";
    }
    return "?";
}

/* Starts guest i's child; 0 or -errno. */
static int start(struct batch_guest *g, size_t i, int (*run)(size_t, void *), void *ctx)
{
    int p[2];
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    fflush(stdout);
    fflush(stderr);
    if ((pid = fork()) < 0) {
        int r = -errno;

        close(p[0]);
        close(p[1]);
        return r;
    }
    if (pid == 0) {
        struct sigaction sa = { .sa_handler = SIG_DFL };

        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        if (dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
            _exit(127);
        close(p[0]);
        /* its own process group: a terminal's ^C reaches the parent
         * only, which passes it on */
        setpgid(0, 0);
        _exit(run(i, ctx) & 0xff);
    }
    close(p[1]);
    g->pid = pid;
    g->fd = p[0];
    g->state = BATCH_RUNNING;
    g->started = now_s();
    snprintf(g->last, sizeof g->last, "started");
    return 0;
}

/* The line without vm-provision's "PROG: " prefix. */
static const char *unprefixed(const char *prog, const char *line)
{
    size_t k = strlen(prog);

    if (!strncmp(line, prog, k) && !strncmp(line + k, ": ", 2))
        return line + k + 2;
    return line;
}

static void take_line(const char *prog, struct batch_guest *g, const char *line, bool tty)
{
    const char *s = unprefixed(prog, line);

    if (!*s)
        return;
    if (!strncmp(s, "error: ", 7) || strstr(s, ": error: ") || strstr(s, "failed at step") ||
        strstr(s, "interrupted by"))
        snprintf(g->error, sizeof g->error, "%s", s);
    if (s[0] == '[' || !strncmp(s, "Guest ", 6) || g->error[0])
        snprintf(g->last, sizeof g->last, "%.255s", s);
    /* plain output: the steps and the errors, each with its guest */
    if (!tty && (s[0] == '[' || strstr(s, "error: ") || strstr(s, "warning: ") ||
                 !strncmp(s, "Guest ", 6)))
        printf("%s: %s\n", g->name, s);
}

/* Reads what the child wrote; at end of file closes its fd.  What read
 * returned: > 0 data, 0 the end, < 0 nothing now. */
static ssize_t drain(const char *prog, struct batch_guest *g, bool tty)
{
    char buf[4096];
    ssize_t k = read(g->fd, buf, sizeof buf);

    if (k < 0 && (errno == EINTR || errno == EAGAIN))
        return -1;
    if (k <= 0) {
        if (g->npartial) {
            g->partial[g->npartial] = '\0';
            take_line(prog, g, g->partial, tty);
            g->npartial = 0;
        }
        close(g->fd);
        g->fd = -1;
        return 0;
    }
    for (ssize_t i = 0; i < k; i++) {
        if (buf[i] == '\n' || g->npartial == sizeof g->partial - 1) {
            g->partial[g->npartial] = '\0';
            take_line(prog, g, g->partial, tty);
            g->npartial = 0;
            if (buf[i] == '\n')
                continue;
        }
        g->partial[g->npartial++] = buf[i];
    }
    return k;
}

static void table(const struct batch_guest *v, size_t n, bool redraw)
{
    double t = now_s();

    if (redraw)
        printf("\033[%zuA", n + 1);
    printf("\033[K%-24s %-12s %7s  %s\n", "NAME", "STATUS", "SECONDS", "NOW");
    for (size_t i = 0; i < n; i++) {
        const struct batch_guest *g = &v[i];
        double s = g->state == BATCH_RUNNING ? t - g->started : g->seconds;

        printf("\033[K%-24s %-12s %7.1f  %.60s\n", g->name, state_name(g), s,
               g->state == BATCH_WAITING ? "" : g->last);
    }
    fflush(stdout);
}

int batch_run(const char *prog, struct batch_guest *v, size_t n, int jobs, bool first_alone,
              int (*run)(size_t i, void *ctx), void *ctx,
              const volatile sig_atomic_t *interrupted)
{
    bool tty = isatty(1);
    size_t next = 0, running = 0, failed = 0, done = 0;
    bool passed_on = false;
    double last_draw = 0, t0 = now_s();
    struct pollfd *pfd = calloc(n ? n : 1, sizeof(*pfd));
    size_t *who = calloc(n ? n : 1, sizeof(*who));

    if (!pfd || !who) {
        free(pfd);
        free(who);
        fprintf(stderr, "%s: out of memory\n", prog);
        return 1;
    }
    if (jobs < 1)
        jobs = 1;
    for (size_t i = 0; i < n; i++) {
        v[i].state = BATCH_WAITING;
        v[i].fd = -1;
        v[i].pid = 0;
    }
    if (tty)
        table(v, n, false);
    while (next < n || running) {
        int limit = first_alone && next == 1 && done + failed == 0 ? 1 : jobs;
        size_t np = 0;
        pid_t pid;
        int st;

        /* start what may start */
        while (!*interrupted && next < n && running < (size_t)limit) {
            int r = start(&v[next], next, run, ctx);

            if (r) {
                snprintf(v[next].error, sizeof v[next].error, "cannot start: %s",
                         strerror(-r));
                v[next].state = BATCH_FAILED;
                failed++;
            } else {
                running++;
            }
            next++;
            limit = first_alone && next == 1 ? 1 : jobs;
        }
        if (*interrupted && !passed_on) {
            /* pass the signal on; the rest never start */
            for (size_t i = 0; i < n; i++) {
                if (v[i].state == BATCH_RUNNING)
                    kill(v[i].pid, (int)*interrupted);
                else if (v[i].state == BATCH_WAITING)
                    v[i].state = BATCH_NOT_STARTED;
            }
            next = n;
            passed_on = true;
        }
        if (!running)
            break;

        for (size_t i = 0; i < n; i++)
            if (v[i].fd >= 0) {
                pfd[np] = (struct pollfd){ .fd = v[i].fd, .events = POLLIN };
                who[np++] = i;
            }
        if (poll(pfd, np, np ? REDRAW_MS : 50) > 0)
            for (size_t k = 0; k < np; k++)
                if (pfd[k].revents)
                    drain(prog, &v[who[k]], tty);

        /* reap: a child that exited may have left a process holding its
         * output (a guest's supervisor): what is there is read, no more */
        while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
            struct batch_guest *g = NULL;

            for (size_t i = 0; i < n && !g; i++)
                if (v[i].state == BATCH_RUNNING && v[i].pid == pid)
                    g = &v[i];
            if (!g)
                continue;
            if (g->fd >= 0) {
                fcntl(g->fd, F_SETFL, O_NONBLOCK);
                while (g->fd >= 0 && drain(prog, g, tty) > 0)
                    ;
                if (g->fd >= 0) {
                    if (g->npartial) {
                        g->partial[g->npartial] = '\0';
                        take_line(prog, g, g->partial, tty);
                        g->npartial = 0;
                    }
                    close(g->fd);
                    g->fd = -1;
                }
            }
            running--;
            g->seconds = now_s() - g->started;
            g->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            if (g->status == 0) {
                g->state = BATCH_DONE;
                done++;
                snprintf(g->last, sizeof g->last, "made");
            } else {
                g->state = BATCH_FAILED;
                failed++;
                if (!g->error[0])
                    snprintf(g->error, sizeof g->error, "exit status %d", g->status);
                snprintf(g->last, sizeof g->last, "%.255s", g->error);
            }
            if (!tty)
                printf("%s: %s (%.1f s)\n", g->name, g->state == BATCH_DONE ? "made" : "FAILED",
                       g->seconds);
        }
        if (tty && now_s() - last_draw >= REDRAW_MS / 1000.0) {
            table(v, n, true);
            last_draw = now_s();
        }
    }
    if (tty)
        table(v, n, true);

    /* the summary */
    printf("\n%-24s %-12s %7s  %s\n", "NAME", "STATUS", "SECONDS", "WHY");
    for (size_t i = 0; i < n; i++) {
        const struct batch_guest *g = &v[i];

        printf("%-24s %-12s %7.1f  %s\n", g->name, state_name(g), g->seconds,
               g->state == BATCH_FAILED ? g->error : "");
    }
    printf("%zu made, %zu failed, %zu not started in %.1f s\n", done, failed,
           n - done - failed, now_s() - t0);
    free(pfd);
    free(who);
    if (*interrupted)
        return 128 + (int)*interrupted;
    return failed || done < n ? 1 : 0;
}
