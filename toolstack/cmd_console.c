/*
 * cmd_console.c - vmctl console: the terminal on a guest's console
 * (hvc0 for pv/pvh, the serial port for hvm), until Ctrl-].
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "domstate.h"
#include "usock.h"
#include "vmctl.h"

#define DETACH_KEY 0x1d         /* Ctrl-] */

static int connect_to(const struct domstate *ds, const char *file)
{
    char path[PATH_MAX];

    if (domstate_path(path, sizeof(path), ds->dir, file))
        return -ENAMETOOLONG;
    return usock_connect(path);
}

int vmctl_console_attach(const struct domstate *ds)
{
    struct termios saved, raw;
    bool tty = isatty(STDIN_FILENO), stdin_open = true;
    int fd = connect_to(ds, "console-relay.sock");
    int status = EXIT_OK;

    if (fd < 0 && ds->qemu_pid) {
        /* no supervisor: QEMU's own console socket is free */
        fd = connect_to(ds, "console.sock");
        if (fd >= 0)
            fprintf(stderr, "%s console: the supervisor of %s is gone; attached to"
                    " QEMU's console directly\n", vmctl_prog, ds->name);
    }
    if (fd < 0) {
        fprintf(stderr, "%s console: %s: cannot attach to its console: %s\n", vmctl_prog,
                ds->name, strerror(-fd));
        return EXIT_FAIL;
    }
    if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
        raw = saved;
        cfmakeraw(&raw);
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    } else {
        tty = false;
    }
    for (;;) {
        struct pollfd pfd[2] = {
            { .fd = fd, .events = POLLIN },
            { .fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN },
        };
        char buf[4096];
        ssize_t n;

        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            status = EXIT_FAIL;
            break;
        }
        if (pfd[0].revents) {
            n = read(fd, buf, sizeof(buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;          /* the domain went away */
            if (usock_write_all(STDOUT_FILENO, buf, (size_t)n))
                break;
        }
        if (pfd[1].revents) {
            char *key;

            n = read(STDIN_FILENO, buf, sizeof(buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;          /* end of input detaches */
            key = memchr(buf, DETACH_KEY, (size_t)n);
            if (key)
                n = key - buf;
            if (n > 0 && usock_write_all(fd, buf, (size_t)n))
                break;
            if (key)
                break;
        }
    }
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        fputc('\n', stderr);
    }
    close(fd);
    return status;
}

int cmd_console(int argc, char **argv)
{
    static const struct option opts[] = {
        { "type", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    struct domstate ds;
    const char *type = NULL;
    json_object *info, *v;
    int c, status;

    while ((c = getopt_long(argc, argv, "t:h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            type = optarg;
            if (strcmp(type, "pv") && strcmp(type, "serial")) {
                fprintf(stderr, "%s console: -t wants pv or serial, not `%s'\n",
                        vmctl_prog, type);
                return EXIT_USAGE;
            }
            break;
        case 'h':
            vmctl_usage(stdout, vmctl_command("console"));
            return EXIT_OK;
        default:
            vmctl_usage(stderr, vmctl_command("console"));
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        vmctl_usage(stderr, vmctl_command("console"));
        return EXIT_USAGE;
    }
    if (vmctl_find("console", argv[optind], &ds))
        return EXIT_FAIL;
    /* one console per domain: hvc0 (pv) for pv/pvh, the serial port for hvm */
    if (type && ds.info_json && (info = json_tokener_parse(ds.info_json))) {
        const char *has = json_object_object_get_ex(info, "console", &v) ?
                          json_object_get_string(v) : "";
        bool want_serial = !strcmp(type, "serial");

        if (want_serial != !strcmp(has, "ttyS0")) {
            fprintf(stderr, "%s console: %s has no %s console (its console is %s)\n",
                    vmctl_prog, ds.name, type, *has ? has : "none");
            json_object_put(info);
            domstate_dispose(&ds);
            return EXIT_FAIL;
        }
        json_object_put(info);
    }
    status = vmctl_console_attach(&ds);
    domstate_dispose(&ds);
    return status;
}
