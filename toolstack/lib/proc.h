/*
 * proc.h - running external programs with an argv, never a shell
 * (QEMU, vif scripts, mkfs, mmdebstrap, ...): the one place that forks.
 *
 * Children are started with posix_spawn(3).  Every descriptor of the
 * caller that is not marked close-on-exec leaks into the child, so
 * vmkit opens everything O_CLOEXEC; the descriptors a child must keep
 * are named in proc_opts.keep_fds and keep their numbers.
 */
#ifndef VMKIT_PROC_H
#define VMKIT_PROC_H

#include <stdbool.h>
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#define PROC_NULL      (-1)    /* the stream is /dev/null */
#define PROC_INHERIT   (-2)    /* the stream is the caller's */

struct proc_opts {
    char *const *envp;          /* NULL: the caller's environment */
    int stdin_fd;               /* an fd, PROC_NULL or PROC_INHERIT */
    int stdout_fd;
    int stderr_fd;
    const int *keep_fds;        /* kept open in the child, same numbers */
    size_t nkeep_fds;
    bool new_session;           /* setsid(): no controlling terminal, and
                                 * no signal from the caller's terminal */
};

/* stdin /dev/null, stdout and stderr inherited, nothing else. */
void proc_opts_init(struct proc_opts *o);

/*
 * Starts path (an absolute path, or a name searched in $PATH when it has
 * no `/') with argv (argv[0] included, NULL-terminated).  Returns 0 and
 * the child's pid in *pid_r, or -errno (ENOENT for a missing program).
 */
int proc_start(const char *path, char *const argv[], const struct proc_opts *o,
                pid_t *pid_r);

/*
 * Waits up to timeout_ms (-1: no limit) for pid to exit.  Returns 0 with
 * its wait status in *status_r, -ETIMEDOUT when it is still running (it
 * is left running), or -errno.  EINTR is retried.  When the cancel flag
 * (proc_set_cancel) is set, the child is killed as proc_kill does and
 * -ECANCELED returned.
 */
int proc_wait(pid_t pid, int timeout_ms, int *status_r);

/*
 * proc_start then proc_wait; a child still running after timeout_ms is
 * sent SIGTERM, then SIGKILL two seconds later, reaped, and -ETIMEDOUT
 * returned.  0 means the child ran and exited: look at *status_r.
 */
int proc_run(const char *path, char *const argv[], const struct proc_opts *o,
              int timeout_ms, int *status_r);

/*
 * Makes every proc_wait and proc_run cancellable: a signal handler sets
 * *flag (SIGINT, SIGTERM in vm-provision) and the child being waited
 * for is stopped, so a command interrupted in the middle of a long step
 * gets control back to clean up.  NULL turns it off.
 */
void proc_set_cancel(const volatile sig_atomic_t *flag);

/* The cancel flag is set. */
bool proc_cancelled(void);

/* The executable regular file name is in $PATH (default
 * /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin), as a new string; NULL when there is none
 * (or out of memory). */
char *proc_find_program(const char *name);

/* SIGTERM, then SIGKILL after grace_ms if it has not exited; reaps it. */
void proc_kill(pid_t pid, int grace_ms);

/* A wait status in words ("exited with status 3", "killed by signal 9
 * (Killed)") in buf; returns buf. */
const char *proc_status_text(int status, char *buf, size_t len);

#endif
