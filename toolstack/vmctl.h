/*
 * vmctl.h - the command table shared by vmctl's subcommand files.
 */
#ifndef VMKIT_VMCTL_H
#define VMKIT_VMCTL_H

#include <stdbool.h>
#include <stdio.h>

#include "domstate.h"
#include "qmp.h"

enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,      /* the operation failed (bad config, no such domain...) */
    EXIT_USAGE = 2,     /* bad command line */
};

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    unsigned flags;
    const char *usage;      /* after "vmctl NAME " */
    const char *summary;
};

#define CMD_NEEDS_ROOT  0x1

extern const char *vmctl_prog;

/* Prints "usage: vmctl NAME USAGE" for cmd to f. */
void vmctl_usage(FILE *f, const struct command *cmd);
/* The table entry for name, or NULL. */
const struct command *vmctl_command(const char *name);

int cmd_config_dump(int argc, char **argv);
int cmd_console(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_destroy(int argc, char **argv);
int cmd_domid(int argc, char **argv);
int cmd_domname(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_reboot(int argc, char **argv);
int cmd_shutdown(int argc, char **argv);
int cmd_unpause(int argc, char **argv);
int cmd_uptime(int argc, char **argv);

/* ---- helpers shared by the domain commands (domain_ops.c) ---- */

/* Handles -h/--help and rejects other options for a command taking
 * exactly one DOMAIN argument; returns the argument, or NULL after
 * setting *status_r. */
const char *vmctl_one_domain_arg(int argc, char **argv, const char *cmd, int *status_r);

/* Finds a domain by name or domid, cleaning up dead ones first; prints
 * "vmctl CMD: no domain `KEY'" and returns -ENOENT when there is none. */
int vmctl_find(const char *cmd, const char *key, struct domstate *ds);

/* Opens QEMU's vmctl monitor of ds (locked against other vmctl calls
 * for as long as it is open); prints why on failure. */
int vmctl_qmp_open(const char *cmd, const struct domstate *ds, struct qmp **q_r,
                   int *lock_r);
void vmctl_qmp_close(struct qmp *q, int lock);

/* When ds has no supervisor, reads its state from QEMU (and records
 * it); else leaves it as its supervisor recorded it. */
void vmctl_refresh_state(struct domstate *ds);

/* Attaches the terminal to the console of ds until Ctrl-] (or EOF on
 * stdin); returns an exit status. */
int vmctl_console_attach(const struct domstate *ds);

/* Destroys ds: through its supervisor, or, when that is gone, by
 * quitting QEMU and removing what it left.  Returns an exit status. */
int vmctl_destroy(const char *cmd, const struct domstate *ds);

#endif
