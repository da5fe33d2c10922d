/*
 * pipeline.h - vm-provision's steps, run for real: a resolved plan in,
 * a guest out (images, kernel, config, and a record of what was made),
 * or nothing at all.
 *
 * The steps are plan_step_names' (validate, lock, storage, install,
 * hooks, identity, kernel, filesystem, config, boot).  Everything a step
 * makes is written in a cleanup journal as it is made; a failed step, an
 * injected failure (VMKIT_FAIL_AT=STEP, after that step has done its
 * work) or SIGINT/SIGTERM/SIGHUP undoes the whole journal.
 *
 * The guest is built aside and put in place at the end: the root in a
 * staging directory, the images and kernel in a work directory
 * DIR/domains/.NAME.new-XXXXXX beside the guest's own; the config step
 * moves them in (an existing guest, with --force, is moved aside first
 * and put back if anything after fails).  So an interrupted run, even a
 * SIGKILL, never leaves a half guest under the guest's own names, and an
 * existing guest is untouched until the new one is complete.
 */
#ifndef VMKIT_PIPELINE_H
#define VMKIT_PIPELINE_H

#include <signal.h>
#include <stdbool.h>

#include "diag.h"
#include "options.h"
#include "plan.h"

struct pipeline;

/* What the command layer gets told as the run goes. */
struct pipeline_report {
    /* A step starts (index into plan_step_names) with what it will do. */
    void (*step)(void *ctx, int step, const char *what);
    /* A step ended after seconds. */
    void (*done)(void *ctx, int step, double seconds);
    /* A detail within a step (a hook being run, a cache hit). */
    void (*detail)(void *ctx, int step, const char *what);
    void *ctx;
};

struct pipeline_args {
    const struct plan *plan;
    const struct opt_set *opts;     /* the password, the ssh key file */
    const char *datadir;
    const char *vmctl;              /* the vmctl program, for --boot */
    const char *logdir;             /* children's output goes to LOGDIR/NAME-provision.log */
    int tty_fd;                     /* a terminal for progress, or -1 */
    const volatile sig_atomic_t *interrupted;   /* set by the caller's signal handler */
    struct pipeline_report report;
};

struct pipeline_result {
    int failed_step;                /* -1: none */
    int signal;                     /* the signal that interrupted the run, or 0 */
    bool undone;                    /* a failed run removed everything it had made */
    char *password;                 /* --genpass: the generated password (caller frees) */
    char *log_path;                 /* the log (caller frees) */
    bool cache_hit;
    double seconds;
};

void pipeline_result_dispose(struct pipeline_result *r);

/*
 * Runs every step.  0: the guest is made (and booted with --boot).
 * -1 otherwise, with what failed recorded in d and r->failed_step set;
 * everything the run made has been removed (r->undone) unless d says
 * what could not be.
 */
int pipeline_run(const struct pipeline_args *a, struct pipeline_result *r, struct diag *d);

/* The steps by name, for VMKIT_FAIL_AT: the index, or -1. */
int pipeline_step_index(const char *name);

#endif
