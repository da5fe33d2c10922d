/*
 * domstate.h - running domains as recorded in the run directory, vmkit's
 * xenstore: RUNDIR/domains/DOMID/, root-only (0700), one per domain.
 *
 *   name             the domain's name (renamed by rename-restart)
 *   config           the config it runs, as the config writer wrote it
 *                    (overrides from the command line applied)
 *   info.json        what does not change while it runs: domid, uuid,
 *                    type, memory, maxmem, vcpus, machine, console,
 *                    accel and why, start time, the config file given
 *   state            one word: creating, running, paused, shutdown,
 *                    crashed, dying (written by the supervisor)
 *   qemu.pid         "PID STARTTIME" (STARTTIME: /proc/PID/stat field 22,
 *   supervisor.pid   so that a recycled pid is never taken for ours)
 *   taps             the tap devices it owns, one per line
 *   qmp-vmctl.lock   taken while a vmctl uses QEMU's second monitor
 *   qmp.sock, qmp-vmctl.sock    QEMU's two monitors (supervisor, vmctl)
 *   console.sock     QEMU's end of the console (the supervisor's client)
 *   console-relay.sock, control.sock    the supervisor's: console
 *                    attaches, and the requests of vmctl
 *
 * RUNDIR/lock serialises creation (domid and name) and cleanup;
 * RUNDIR/next-domid holds the next domid, which only grows (as Xen's).
 * Nothing here prints; errors are 0 / negative errno, with a reason in
 * a caller's buffer where one helps.
 */
#ifndef VMKIT_DOMSTATE_H
#define VMKIT_DOMSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define DOMSTATE_NAME_MAX 64        /* bytes of a domain name */

enum domstate_state {
    DOMSTATE_CREATING,
    DOMSTATE_RUNNING,
    DOMSTATE_PAUSED,
    DOMSTATE_SHUTDOWN,      /* powered off, kept (on_poweroff=preserve) */
    DOMSTATE_CRASHED,       /* panicked, kept (on_crash=preserve) */
    DOMSTATE_DYING,         /* being destroyed */
    DOMSTATE_UNKNOWN,
};

/* One domain, as read from its directory. */
struct domstate {
    int domid;
    char *name;
    char *dir;                  /* RUNDIR/domains/DOMID */
    enum domstate_state state;
    pid_t qemu_pid;             /* 0: not running (or not yet) */
    pid_t supervisor_pid;       /* 0: the supervisor is gone */
    char *info_json;            /* info.json's text, NULL if absent */
};

void domstate_dispose(struct domstate *ds);
void domstate_list_free(struct domstate *v, size_t n);

const char *domstate_state_name(enum domstate_state s);
enum domstate_state domstate_state_parse(const char *word);

/* RUNDIR/domains, created (0700, with RUNDIR) when mkdir_p.  A new
 * malloc'd string, NULL with errno. */
char *domstate_root(bool mkdir_p);

/* Takes RUNDIR/lock (flock, blocking), creating RUNDIR root-only.
 * Returns the lock's fd (close it to release) or -errno. */
int domstate_lock(void);

/*
 * Reads every domain directory, in domid order, into a new array
 * (*v_r, *n_r; free with domstate_list_free).  A pid whose process is
 * gone, or is another process now, reads as 0.  When clean is true
 * (the caller holds domstate_lock), a domain whose QEMU and supervisor
 * are both gone is removed first (its taps deleted with net.h), as is a
 * directory left half made; *cleaned_r (may be NULL) counts them.
 */
int domstate_list(bool clean, struct domstate **v_r, size_t *n_r, size_t *cleaned_r);

/*
 * Finds a domain by name, or by domid when key is all digits.  Returns
 * 0 and fills ds, or -ENOENT.
 */
int domstate_find(const char *key, struct domstate *ds);

/*
 * Allocates the next domid and makes its directory, recording name and
 * state "creating".  The caller holds domstate_lock and has checked that
 * no running domain has that name.  Returns 0 with *domid_r and a new
 * malloc'd *dir_r, or -errno.
 */
int domstate_create(const char *name, int *domid_r, char **dir_r);

/* Removes a domain's directory and everything in it. */
int domstate_remove(const char *dir);

/* Writes dir/file atomically (temp file + rename), mode 0600. */
int domstate_write(const char *dir, const char *file, const char *text);
/* Reads dir/file (at most 1 MiB) into a new string, trailing newline
 * removed; -ENOENT when it does not exist. */
int domstate_read(const char *dir, const char *file, char **text_r);

int domstate_set_state(const char *dir, enum domstate_state s);

/* Writes "PID STARTTIME" for pid to dir/file. */
int domstate_write_pid(const char *dir, const char *file, pid_t pid);
/* Reads dir/file's pid; returns it when that process still runs and
 * started at the recorded time, else 0. */
pid_t domstate_read_pid(const char *dir, const char *file);

/* Reads /proc/PID/stat: its start time (field 22) and the CPU it has
 * used (utime + stime), both in clock ticks; a pointer may be NULL.
 * 0, or -ESRCH when pid is gone or a zombie. */
int domstate_proc_stat(pid_t pid, unsigned long long *start_r,
                       unsigned long long *cpu_r);

/* The start time of pid in clock ticks since boot (/proc/PID/stat field
 * 22), or 0 if it is gone. */
unsigned long long domstate_proc_starttime(pid_t pid);

/* dir + "/" + file in buf (len bytes, e.g. a sockaddr_un's sun_path);
 * -ENAMETOOLONG if it does not fit. */
int domstate_path(char *buf, size_t len, const char *dir, const char *file);

/* A valid domain name: 1..DOMSTATE_NAME_MAX bytes of [A-Za-z0-9_.-],
 * not all digits (those are domids), not starting with '-' or '.'.
 * NULL when fine, else why (static). */
const char *domstate_check_name(const char *name);

#endif
