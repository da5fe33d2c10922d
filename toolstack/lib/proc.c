/*
 * proc.c - external programs with an argv (see proc.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

extern char **environ;

void proc_opts_init(struct proc_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->stdin_fd = PROC_NULL;
    o->stdout_fd = PROC_INHERIT;
    o->stderr_fd = PROC_INHERIT;
}

static int add_stream(posix_spawn_file_actions_t *fa, int fd, int target, int oflag)
{
    if (fd == PROC_INHERIT)
        return 0;
    if (fd == PROC_NULL)
        return posix_spawn_file_actions_addopen(fa, target, "/dev/null", oflag, 0);
    /* dup2 onto itself clears close-on-exec (glibc >= 2.29) */
    return posix_spawn_file_actions_adddup2(fa, fd, target);
}

int proc_start(const char *path, char *const argv[], const struct proc_opts *o,
                pid_t *pid_r)
{
    struct proc_opts def;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    int r;

    if (!o) {
        proc_opts_init(&def);
        o = &def;
    }
    if ((r = posix_spawn_file_actions_init(&fa)))
        return -r;
    if ((r = posix_spawnattr_init(&attr))) {
        posix_spawn_file_actions_destroy(&fa);
        return -r;
    }
    r = add_stream(&fa, o->stdin_fd, 0, O_RDONLY);
    if (!r)
        r = add_stream(&fa, o->stdout_fd, 1, O_WRONLY);
    if (!r)
        r = add_stream(&fa, o->stderr_fd, 2, O_WRONLY);
    for (size_t i = 0; !r && i < o->nkeep_fds; i++)
        r = posix_spawn_file_actions_adddup2(&fa, o->keep_fds[i], o->keep_fds[i]);
    /* the child starts with no signal blocked and every handler default */
    sigemptyset(&none);
    sigfillset(&all);
    if (o->new_session)
        flags |= POSIX_SPAWN_SETSID;
    if (!r)
        r = posix_spawnattr_setflags(&attr, flags);
    if (!r)
        r = posix_spawnattr_setsigmask(&attr, &none);
    if (!r)
        r = posix_spawnattr_setsigdefault(&attr, &all);
    if (!r) {
        char *const *envp = o->envp ? o->envp : environ;

        if (strchr(path, '/'))
            r = posix_spawn(pid_r, path, &fa, &attr, argv, envp);
        else
            r = posix_spawnp(pid_r, path, &fa, &attr, argv, envp);
    }
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return -r;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static const volatile sig_atomic_t *cancel_flag;

void proc_set_cancel(const volatile sig_atomic_t *flag)
{
    cancel_flag = flag;
}

bool proc_cancelled(void)
{
    return cancel_flag && *cancel_flag;
}

static int wait_one(pid_t pid, int timeout_ms, int *status_r, bool cancellable)
{
    long long deadline = timeout_ms < 0 ? 0 : now_ms() + timeout_ms;
    long sleep_us = 1000;
    bool poll = timeout_ms >= 0 || (cancellable && cancel_flag);

    for (;;) {
        pid_t w = waitpid(pid, status_r, poll ? WNOHANG : 0);

        if (w == pid)
            return 0;
        if (w < 0 && errno != EINTR)
            return -errno;
        if (cancellable && proc_cancelled()) {
            proc_kill(pid, 2000);
            return -ECANCELED;
        }
        if (w == 0) {
            struct timespec ts;

            if (timeout_ms >= 0 && now_ms() >= deadline)
                return -ETIMEDOUT;
            ts.tv_sec = 0;
            ts.tv_nsec = sleep_us * 1000;
            nanosleep(&ts, NULL);
            if (sleep_us < 50000)
                sleep_us *= 2;
        }
    }
}

int proc_wait(pid_t pid, int timeout_ms, int *status_r)
{
    return wait_one(pid, timeout_ms, status_r, true);
}

void proc_kill(pid_t pid, int grace_ms)
{
    int status;

    if (kill(pid, SIGTERM) < 0 && errno == ESRCH) {
        wait_one(pid, 0, &status, false);
        return;
    }
    if (wait_one(pid, grace_ms, &status, false) == -ETIMEDOUT) {
        kill(pid, SIGKILL);
        wait_one(pid, -1, &status, false);
    }
}

int proc_run(const char *path, char *const argv[], const struct proc_opts *o,
              int timeout_ms, int *status_r)
{
    pid_t pid;
    int r = proc_start(path, argv, o, &pid);

    if (r)
        return r;
    r = proc_wait(pid, timeout_ms, status_r);
    if (r == -ETIMEDOUT)
        proc_kill(pid, 2000);
    return r;
}

const char *proc_status_text(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "stopped (wait status %#x)", status);
    return buf;
}

char *proc_find_program(const char *name)
{
    const char *path = getenv("PATH"), *p;

    if (!path || !*path)
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (p = path; *p;) {
        size_t k = strcspn(p, ":");
        char *full = NULL;

        if (k && asprintf(&full, "%.*s/%s", (int)k, p, name) >= 0) {
            struct stat st;

            if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0)
                return full;
            free(full);
        }
        p += k;
        if (*p == ':')
            p++;
    }
    return NULL;
}
