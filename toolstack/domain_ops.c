/*
 * domain_ops.c - vmctl's lifecycle commands on a running domain:
 * shutdown, reboot, destroy, pause, unpause, domid, domname, uptime.
 *
 * Each asks the domain's supervisor (supervisor.h), which applies the
 * config's on_* actions.  When the supervisor is gone (killed), the
 * domain stays manageable: vmctl speaks to QEMU's second monitor
 * itself, and cleans up what a dead QEMU left behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "domstate.h"
#include "net.h"
#include "proc.h"
#include "supervisor.h"
#include "vmctl.h"

#define REQUEST_TIMEOUT 30000   /* ms; destroy waits for QEMU to exit */
#define QMP_TIMEOUT     10000

const char *vmctl_one_domain_arg(int argc, char **argv, const char *cmd, int *status_r)
{
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    int c;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        vmctl_usage(c == 'h' ? stdout : stderr, vmctl_command(cmd));
        *status_r = c == 'h' ? EXIT_OK : EXIT_USAGE;
        return NULL;
    }
    if (optind != argc - 1) {
        vmctl_usage(stderr, vmctl_command(cmd));
        *status_r = EXIT_USAGE;
        return NULL;
    }
    return argv[optind];
}

int vmctl_find(const char *cmd, const char *key, struct domstate *ds)
{
    struct domstate *v;
    size_t n;
    int lock = domstate_lock(), r;

    /* a QEMU that died while nobody watched is cleaned up first */
    if (lock >= 0) {
        if (domstate_list(true, &v, &n, NULL) == 0)
            domstate_list_free(v, n);
        close(lock);
    }
    r = domstate_find(key, ds);
    if (r == -ENOENT)
        fprintf(stderr, "%s %s: no domain `%s'\n", vmctl_prog, cmd, key);
    else if (r)
        fprintf(stderr, "%s %s: cannot read the domains in %s: %s\n", vmctl_prog, cmd,
                domstate_root(false), strerror(-r));
    return r;
}

int vmctl_qmp_open(const char *cmd, const struct domstate *ds, struct qmp **q_r,
                   int *lock_r)
{
    char path[PATH_MAX], why[256];
    int lock, r;

    *q_r = NULL;
    *lock_r = -1;
    /* QEMU's monitor takes one client at a time: vmctl calls take turns */
    if (domstate_path(path, sizeof(path), ds->dir, "qmp-vmctl.lock") ||
        (lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0 ||
        flock(lock, LOCK_EX) < 0) {
        fprintf(stderr, "%s %s: %s: cannot lock its monitor: %s\n", vmctl_prog, cmd,
                ds->name, strerror(errno));
        return -errno;
    }
    domstate_path(path, sizeof(path), ds->dir, "qmp-vmctl.sock");
    if ((r = qmp_connect(path, QMP_TIMEOUT, q_r, why, sizeof(why))) != QMP_OK) {
        fprintf(stderr, "%s %s: %s: cannot reach QEMU's monitor: %s\n", vmctl_prog, cmd,
                ds->name, why);
        close(lock);
        return -EIO;
    }
    *lock_r = lock;
    return 0;
}

void vmctl_qmp_close(struct qmp *q, int lock)
{
    qmp_close(q);
    if (lock >= 0)
        close(lock);
}

void vmctl_refresh_state(struct domstate *ds)
{
    struct qmp *q;
    char *status = NULL;
    bool running;
    int lock;

    if (ds->supervisor_pid || !ds->qemu_pid)
        return;
    /* nobody records what QEMU does: ask it */
    if (vmctl_qmp_open("list", ds, &q, &lock))
        return;
    if (qmp_query_status(q, QMP_TIMEOUT, &status, &running) == QMP_OK) {
        ds->state = running ? DOMSTATE_RUNNING :
                    !strcmp(status, "guest-panicked") ? DOMSTATE_CRASHED :
                    !strcmp(status, "shutdown") ? DOMSTATE_SHUTDOWN : DOMSTATE_PAUSED;
        domstate_set_state(ds->dir, ds->state);
    }
    free(status);
    vmctl_qmp_close(q, lock);
}

/* reboot without a supervisor: nobody would restart the guest. */
static int no_reboot_without_supervisor(const char *cmd, const struct domstate *ds)
{
    fprintf(stderr, "%s %s: %s: its supervisor is gone, and nobody would apply"
            " on_reboot; destroy it and create it again\n", vmctl_prog, cmd, ds->name);
    return EXIT_FAIL;
}

/* Sends request to the supervisor; 1 when the supervisor is gone. */
static int ask_supervisor(const char *cmd, const struct domstate *ds, const char *request)
{
    char why[600];
    int r;

    if (!ds->supervisor_pid)
        return 1;
    r = supervisor_request(ds->dir, request, REQUEST_TIMEOUT, why, sizeof(why));
    if (r == -ENOENT || r == -ECONNREFUSED)
        return 1;
    if (r == -EIO)
        fprintf(stderr, "%s %s: %s: %s\n", vmctl_prog, cmd, ds->name, why);
    else if (r)
        fprintf(stderr, "%s %s: %s: no answer from its supervisor: %s\n", vmctl_prog,
                cmd, ds->name, strerror(-r));
    return r ? -1 : 0;
}

/* Runs a QMP command on a domain whose supervisor is gone. */
static int qmp_direct(const char *cmd, const struct domstate *ds, const char *request)
{
    struct qmp *q;
    int lock, r;

    if (vmctl_qmp_open(cmd, ds, &q, &lock))
        return EXIT_FAIL;
    if (!strcmp(request, "pause"))
        r = qmp_stop(q, QMP_TIMEOUT);
    else if (!strcmp(request, "unpause"))
        r = qmp_cont(q, QMP_TIMEOUT);
    else
        r = qmp_system_powerdown(q, QMP_TIMEOUT);
    if (r != QMP_OK)
        fprintf(stderr, "%s %s: %s: QEMU refused: %s\n", vmctl_prog, cmd, ds->name,
                qmp_last_error(q));
    else if (!strcmp(request, "pause") || !strcmp(request, "unpause"))
        domstate_set_state(ds->dir, !strcmp(request, "pause") ? DOMSTATE_PAUSED :
                           DOMSTATE_RUNNING);
    vmctl_qmp_close(q, lock);
    return r == QMP_OK ? EXIT_OK : EXIT_FAIL;
}

int vmctl_destroy(const char *cmd, const struct domstate *ds)
{
    struct qmp *q;
    int lock, r = ask_supervisor(cmd, ds, "destroy");
    char *taps, *save = NULL, why[256];

    if (r <= 0)
        return r ? EXIT_FAIL : EXIT_OK;
    /* nobody supervises it: quit QEMU, then clean up as its supervisor would */
    if (ds->qemu_pid) {
        if (vmctl_qmp_open(cmd, ds, &q, &lock) == 0) {
            qmp_quit(q, QMP_TIMEOUT);
            vmctl_qmp_close(q, lock);
        }
        for (int i = 0; i < 100 && domstate_proc_starttime(ds->qemu_pid); i++)
            usleep(50000);
        if (domstate_proc_starttime(ds->qemu_pid)) {
            kill(ds->qemu_pid, SIGKILL);
            for (int i = 0; i < 100 && domstate_proc_starttime(ds->qemu_pid); i++)
                usleep(50000);
        }
    }
    if ((lock = domstate_lock()) < 0) {
        fprintf(stderr, "%s %s: cannot lock %s: %s\n", vmctl_prog, cmd, ds->dir,
                strerror(-lock));
        return EXIT_FAIL;
    }
    if (domstate_read(ds->dir, "taps", &taps) == 0) {
        for (char *t = strtok_r(taps, "\n", &save); t; t = strtok_r(NULL, "\n", &save))
            net_tap_delete(t, why, sizeof(why));
        free(taps);
    }
    r = domstate_remove(ds->dir);
    close(lock);
    if (r) {
        fprintf(stderr, "%s %s: cannot remove %s: %s\n", vmctl_prog, cmd, ds->dir,
                strerror(-r));
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* destroy, pause, unpause: ask the supervisor, else QEMU. */
static int simple_request(int argc, char **argv, const char *cmd, const char *request)
{
    struct domstate ds;
    const char *key;
    int status, r;

    if (!(key = vmctl_one_domain_arg(argc, argv, cmd, &status)))
        return status;
    if (vmctl_find(cmd, key, &ds))
        return EXIT_FAIL;
    if (!strcmp(request, "destroy"))
        status = vmctl_destroy(cmd, &ds);
    else if ((r = ask_supervisor(cmd, &ds, request)) <= 0)
        status = r ? EXIT_FAIL : EXIT_OK;
    else
        status = qmp_direct(cmd, &ds, request);
    domstate_dispose(&ds);
    return status;
}

int cmd_destroy(int argc, char **argv)
{
    return simple_request(argc, argv, "destroy", "destroy");
}

int cmd_pause(int argc, char **argv)
{
    return simple_request(argc, argv, "pause", "pause");
}

int cmd_unpause(int argc, char **argv)
{
    return simple_request(argc, argv, "unpause", "unpause");
}

/* Waits until no domain with that domid exists, or it is kept stopped. */
static int wait_gone(int domid, int timeout_s)
{
    time_t end = time(NULL) + timeout_s;
    char key[16];

    snprintf(key, sizeof(key), "%d", domid);
    while (timeout_s <= 0 || time(NULL) < end) {
        struct domstate ds;

        if (domstate_find(key, &ds))
            return 0;
        vmctl_refresh_state(&ds);
        if ((ds.state == DOMSTATE_SHUTDOWN || ds.state == DOMSTATE_CRASHED) ||
            (!ds.qemu_pid && !ds.supervisor_pid)) {
            domstate_dispose(&ds);
            return 0;
        }
        domstate_dispose(&ds);
        usleep(100000);
    }
    return -ETIMEDOUT;
}

/* shutdown and reboot: [-a] [-w] [-t SECS] [DOMAIN] */
static int shutdown_or_reboot(int argc, char **argv, const char *cmd)
{
    static const struct option opts[] = {
        { "all", no_argument, NULL, 'a' },
        { "wait", no_argument, NULL, 'w' },
        { "timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    bool all = false, wait = false;
    long timeout = 0;
    struct domstate *v = NULL;
    size_t n = 0;
    int c, status = EXIT_OK;
    char *end;

    while ((c = getopt_long(argc, argv, "awt:h", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            all = true;
            break;
        case 'w':
            wait = true;
            break;
        case 't':
            timeout = strtol(optarg, &end, 10);
            if (*end || timeout < 0) {
                fprintf(stderr, "%s %s: --timeout wants whole seconds, not `%s'\n",
                        vmctl_prog, cmd, optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h':
            vmctl_usage(stdout, vmctl_command(cmd));
            return EXIT_OK;
        default:
            vmctl_usage(stderr, vmctl_command(cmd));
            return EXIT_USAGE;
        }
    }
    /* reboot has nothing to wait for: the guest comes back by itself */
    if ((all ? optind != argc : optind != argc - 1) ||
        (!strcmp(cmd, "reboot") && (wait || timeout)) || (timeout && !wait)) {
        vmctl_usage(stderr, vmctl_command(cmd));
        return EXIT_USAGE;
    }
    if (all) {
        int lock = domstate_lock();

        if (lock < 0 || domstate_list(true, &v, &n, NULL)) {
            fprintf(stderr, "%s %s: cannot read the domains\n", vmctl_prog, cmd);
            if (lock >= 0)
                close(lock);
            return EXIT_FAIL;
        }
        close(lock);
    } else {
        if (!(v = calloc(1, sizeof(*v))))
            return EXIT_FAIL;
        if (vmctl_find(cmd, argv[optind], v)) {
            free(v);
            return EXIT_FAIL;
        }
        n = 1;
    }
    for (size_t i = 0; i < n; i++) {
        int r;

        if (all && v[i].state != DOMSTATE_RUNNING && v[i].state != DOMSTATE_PAUSED)
            continue;
        r = ask_supervisor(cmd, &v[i], cmd);
        if (r > 0 && !strcmp(cmd, "shutdown"))
            r = qmp_direct(cmd, &v[i], "shutdown") == EXIT_OK ? 0 : -1;
        else if (r > 0)
            r = no_reboot_without_supervisor(cmd, &v[i]) ? -1 : 0;
        if (r)
            status = EXIT_FAIL;
    }
    /* -w: wait for the domains to be gone (or kept stopped) */
    for (size_t i = 0; wait && i < n; i++) {
        if (wait_gone(v[i].domid, (int)timeout)) {
            fprintf(stderr, "%s %s: %s did not shut down within %ld s\n", vmctl_prog,
                    cmd, v[i].name, timeout);
            status = EXIT_FAIL;
        }
    }
    domstate_list_free(v, n);
    return status;
}

int cmd_shutdown(int argc, char **argv)
{
    return shutdown_or_reboot(argc, argv, "shutdown");
}

int cmd_reboot(int argc, char **argv)
{
    return shutdown_or_reboot(argc, argv, "reboot");
}

int cmd_domid(int argc, char **argv)
{
    struct domstate ds;
    const char *key;
    int status;

    if (!(key = vmctl_one_domain_arg(argc, argv, "domid", &status)))
        return status;
    if (vmctl_find("domid", key, &ds))
        return EXIT_FAIL;
    printf("%d\n", ds.domid);
    domstate_dispose(&ds);
    return EXIT_OK;
}

int cmd_domname(int argc, char **argv)
{
    struct domstate ds;
    const char *key;
    int status;

    if (!(key = vmctl_one_domain_arg(argc, argv, "domname", &status)))
        return status;
    if (strspn(key, "0123456789") != strlen(key)) {
        fprintf(stderr, "%s domname: `%s' is not a domain ID\n", vmctl_prog, key);
        return EXIT_USAGE;
    }
    if (vmctl_find("domname", key, &ds))
        return EXIT_FAIL;
    printf("%s\n", ds.name);
    domstate_dispose(&ds);
    return EXIT_OK;
}
