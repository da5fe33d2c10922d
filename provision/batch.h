/*
 * batch.h - vm-provision --batch FLEET and --count N: many guests, each
 * made by its own child process (the pipeline, exactly as for one
 * guest), at most jobs at a time.
 *
 * The first guest runs alone when the base root cache is in use, so that
 * the others find the root it stored instead of bootstrapping it each.
 * Each child's output (its step lines and messages) comes back on a pipe:
 * on a terminal a status table is redrawn, one line per guest; otherwise
 * each guest's step lines are printed as they come, prefixed with its
 * name.  A failed guest has cleaned up after itself (the pipeline's
 * journal) and does not stop the others.  SIGINT, SIGTERM or SIGHUP:
 * no guest is started any more, the running ones get the signal (and
 * remove everything they made), the finished ones are kept.  At the end
 * a summary table: name, status, seconds, and the last message of each
 * guest that failed.
 */
#ifndef VMKIT_BATCH_H
#define VMKIT_BATCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum batch_state {
    BATCH_WAITING,
    BATCH_RUNNING,
    BATCH_DONE,
    BATCH_FAILED,
    BATCH_NOT_STARTED,      /* interrupted before its turn */
};

struct batch_guest {
    const char *name;               /* borrowed */
    enum batch_state state;
    pid_t pid;
    int fd;                         /* the child's output; -1 */
    char partial[512];              /* a line not yet ended */
    size_t npartial;
    char last[256];                 /* its last line, for the table */
    char error[512];                /* its last error line */
    int status;                     /* exit status (128+N: signal N) */
    double started, seconds;
};

/*
 * Makes guests v[0..n-1]: run(i, ctx) is called in a child process for
 * guest i and returns its exit status (it runs the pipeline, printing to
 * stdout and stderr, which go to the parent).  jobs: at most this many
 * at once (at least 1).  first_alone: the first guest runs before any
 * other starts.  interrupted: set by the caller's signal handler.
 * Returns 0 when every guest was made, 1 when one failed, 128+signal
 * when interrupted.
 */
int batch_run(const char *prog, struct batch_guest *v, size_t n, int jobs, bool first_alone,
              int (*run)(size_t i, void *ctx), void *ctx,
              const volatile sig_atomic_t *interrupted);

#endif
