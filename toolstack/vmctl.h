/*
 * vmctl.h - the command table shared by vmctl's subcommand files.
 */
#ifndef VMKIT_VMCTL_H
#define VMKIT_VMCTL_H

#include <stdio.h>

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

#endif
