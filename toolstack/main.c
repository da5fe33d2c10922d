/*
 * main.c - vmctl, the toolstack: the command table and the dispatcher.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmctl.h"

const char *vmctl_prog = "vmctl";

static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
    { "config-dump", cmd_config_dump, 0, "[-j|--json] FILE",
      "parse a guest config and print the normalized result" },
    { "console", cmd_console, CMD_NEEDS_ROOT, "[-t pv|serial] DOMAIN",
      "attach to a domain's console (Ctrl-] detaches)" },
    { "create", cmd_create, 0,
      "[-c] [-p] [-q] [-n|--dry-run] [--accel kvm|tcg|auto] FILE [KEY=VALUE ...]",
      "create a domain from a config file and start it" },
    { "destroy", cmd_destroy, CMD_NEEDS_ROOT, "DOMAIN",
      "stop a domain at once, as if its power were pulled" },
    { "domid", cmd_domid, 0, "DOMAIN",
      "print a domain's ID" },
    { "domname", cmd_domname, 0, "DOMID",
      "print the name of the domain with that ID" },
    { "help", cmd_help, 0, "[COMMAND]",
      "list the commands, or show one command's usage" },
    { "info", cmd_info, 0, "",
      "show the host: device model, accelerator and why, CPUs, memory" },
    { "list", cmd_list, 0, "[-l|--long] [-j|--json] [DOMAIN ...]",
      "list the running domains" },
    { "pause", cmd_pause, CMD_NEEDS_ROOT, "DOMAIN",
      "stop a domain's vCPUs" },
    { "reboot", cmd_reboot, CMD_NEEDS_ROOT, "-a | DOMAIN",
      "ask a domain's guest to restart (on_reboot applies)" },
    { "shutdown", cmd_shutdown, CMD_NEEDS_ROOT, "[-w [-t SECONDS]] -a | DOMAIN",
      "ask a domain's guest to power off (on_poweroff applies)" },
    { "unpause", cmd_unpause, CMD_NEEDS_ROOT, "DOMAIN",
      "let a paused domain run again" },
    { "uptime", cmd_uptime, 0, "[DOMAIN ...]",
      "show how long domains have been running" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

const struct command *vmctl_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

void vmctl_usage(FILE *f, const struct command *cmd)
{
    fprintf(f, "usage: %s %s %s\n", vmctl_prog, cmd->name, cmd->usage);
}

static void list_commands(FILE *f)
{
    fprintf(f, "usage: %s COMMAND [ARGS...]\n\ncommands:\n", vmctl_prog);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'%s help COMMAND' shows a command's usage; see vmctl(1).\n",
            vmctl_prog);
}

static int cmd_help(int argc, char **argv)
{
    const struct command *cmd;

    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        vmctl_usage(stdout, vmctl_command("help"));
        return EXIT_OK;
    }
    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        vmctl_usage(stderr, vmctl_command("help"));
        return EXIT_USAGE;
    }
    if (argc == 1) {
        list_commands(stdout);
        return EXIT_OK;
    }
    cmd = vmctl_command(argv[1]);
    if (!cmd) {
        fprintf(stderr, "%s: unknown command `%s'\n", vmctl_prog, argv[1]);
        return EXIT_USAGE;
    }
    vmctl_usage(stdout, cmd);
    printf("%s\n", cmd->summary);
    return EXIT_OK;
}

/* Reports a failed write to stdout (a full disk, a closed pipe). */
static int check_stdout(int status)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s: error writing output: %s\n", vmctl_prog, strerror(errno));
        return status ? status : EXIT_FAIL;
    }
    return status;
}

int main(int argc, char **argv)
{
    const struct command *cmd;

    if (argc < 2) {
        list_commands(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
        return check_stdout(cmd_help(1, argv + 1));
    cmd = vmctl_command(argv[1]);
    if (!cmd) {
        fprintf(stderr, "%s: unknown command `%s' (try `%s help')\n",
                vmctl_prog, argv[1], vmctl_prog);
        return EXIT_USAGE;
    }
    if ((cmd->flags & CMD_NEEDS_ROOT) && geteuid() != 0) {
        fprintf(stderr, "%s %s: must be run as root\n", vmctl_prog, cmd->name);
        return EXIT_FAIL;
    }
    /* getopt's messages name argv[0]: make it "vmctl NAME" */
    if (asprintf(&argv[1], "%s %s", vmctl_prog, cmd->name) < 0) {
        fprintf(stderr, "%s: out of memory\n", vmctl_prog);
        return EXIT_FAIL;
    }
    return check_stdout(cmd->run(argc - 1, argv + 1));
}
