/*
 * supervisor.c - the per-domain supervisor (see supervisor.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bootldr.h"
#include "dm.h"
#include "domstate.h"
#include "net.h"
#include "paths.h"
#include "proc.h"
#include "qmp.h"
#include "kernelhdr.h"
#include "supervisor.h"
#include "usock.h"

#define MAX_CLIENTS     16
#define QMP_TIMEOUT     10000           /* ms, for a command */
#define QMP_START_TIMEOUT 30000         /* ms, for QEMU's first greeting */
#define DUMP_TIMEOUT    (10 * 60 * 1000)

struct sup {
    const struct supervisor_params *p;
    const struct domain_desc *dom;
    char *name;                 /* may change: rename-restart */
    char **taps;                /* per vif, NULL for netdev=user */
    pid_t qemu_pid;
    int qemu_pidfd;
    struct qmp *qmp;
    int con_fd;                 /* our connection to QEMU's console */
    int relay_fd;               /* console-relay.sock, listening */
    int ctl_fd;                 /* control.sock, listening */
    int sig_fd;
    int clients[MAX_CLIENTS];
    size_t nclients;
    bool reboot_pending;        /* vmctl reboot: the next poweroff is a reboot */
    bool quitting;              /* we asked QEMU to quit */
    enum domstate_state state;
    long qemu_log_offset;       /* where QEMU's own messages start in the log */
};

/* ---- logging: stderr is the domain's log once detached ---- */

static void logmsg(struct sup *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void logmsg(struct sup *s, const char *fmt, ...)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    va_list ap;

    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", localtime_r(&now, &tm));
    fprintf(stderr, "%s %s[%d]: ", stamp, s->name, s->p->domid);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

static void qmp_debug(void *ctx, const char *dir, const char *json)
{
    struct sup *s = ctx;

    logmsg(s, "qmp %s %s", dir, json);
}

/* ---- sockets ---- */

static int sock_listen(const char *dir, const char *file)
{
    char path[PATH_MAX];

    if (domstate_path(path, sizeof(path), dir, file))
        return -ENAMETOOLONG;
    return usock_listen(path);
}

static int sock_connect(const char *dir, const char *file, int *fd_r)
{
    char path[PATH_MAX];
    int fd;

    if (domstate_path(path, sizeof(path), dir, file))
        return -ENAMETOOLONG;
    if ((fd = usock_connect(path)) < 0)
        return fd;
    *fd_r = fd;
    return 0;
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void write_all(int fd, const char *buf, size_t len)
{
    usock_write_all(fd, buf, len);     /* a vmctl that went away is no error */
}

/* ---- state ---- */

static void set_state(struct sup *s, enum domstate_state st)
{
    if (s->state == st)
        return;
    s->state = st;
    if (domstate_set_state(s->p->dir, st))
        logmsg(s, "cannot record state %s: %s", domstate_state_name(st),
               strerror(errno));
    logmsg(s, "state %s", domstate_state_name(st));
}

/* The state from QEMU's own status, after STOP/RESUME and our actions. */
static void refresh_state(struct sup *s)
{
    char *status = NULL;
    bool running;

    if (!s->qmp || qmp_query_status(s->qmp, QMP_TIMEOUT, &status, &running) != QMP_OK)
        return;
    if (running)
        set_state(s, DOMSTATE_RUNNING);
    else if (!strcmp(status, "guest-panicked"))
        set_state(s, DOMSTATE_CRASHED);
    else if (!strcmp(status, "shutdown"))
        set_state(s, s->state == DOMSTATE_CRASHED ? DOMSTATE_CRASHED : DOMSTATE_SHUTDOWN);
    else
        set_state(s, DOMSTATE_PAUSED);
    free(status);
}

/* ---- QEMU ---- */

static void unplug_vifs(struct sup *s)
{
    if (!s->taps)
        return;
    for (size_t i = 0; i < s->dom->nvifs; i++) {
        if (!s->taps[i])
            continue;
        char why[512];

        if (net_vif_unplug(s->dom, i, s->taps[i], STDERR_FILENO, why, sizeof(why)))
            logmsg(s, "unplug: %s", why);
        free(s->taps[i]);
        s->taps[i] = NULL;
    }
    {
        char path[PATH_MAX];

        if (!domstate_path(path, sizeof(path), s->p->dir, "taps"))
            unlink(path);
    }
}

/* The taps plugged so far, recorded for vmctl, which cleans up after a
 * supervisor that died (even halfway through plugging). */
static void record_taps(struct sup *s)
{
    char *list = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&list, &len);

    if (!f)
        return;
    for (size_t i = 0; i < s->dom->nvifs; i++)
        if (s->taps[i])
            fprintf(f, "%s\n", s->taps[i]);
    fclose(f);
    if (list)
        domstate_write(s->p->dir, "taps", list);
    free(list);
}

static int plug_vifs(struct sup *s, char *why, size_t whylen)
{
    int r = 0;

    if (!(s->taps = calloc(s->dom->nvifs + 1, sizeof(*s->taps))))
        return -ENOMEM;
    for (size_t i = 0; i < s->dom->nvifs && !r; i++) {
        char tap[NET_IFNAME_SIZE], uwhy[256];

        if (s->dom->vifs[i].netdev_user)
            continue;
        r = net_vif_plug(s->dom, i, s->p->domid, STDERR_FILENO, tap, why, whylen);
        if (!r && !(s->taps[i] = strdup(tap))) {
            net_vif_unplug(s->dom, i, tap, STDERR_FILENO, uwhy, sizeof(uwhy));
            r = -ENOMEM;
        }
        if (!r) {
            record_taps(s);
            logmsg(s, "vif %zu: tap %s", i, tap);
        }
    }
    if (r)
        unplug_vifs(s);
    return r;
}

/* QEMU's last lines in our log, for the user when QEMU failed. */
static void qemu_last_words(struct sup *s, char *buf, size_t len)
{
    char path[PATH_MAX], tmp[2048];
    ssize_t n;
    int fd;

    buf[0] = '\0';
    snprintf(path, sizeof(path), "/proc/self/fd/%d", STDERR_FILENO);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return;
    n = pread(fd, tmp, sizeof(tmp) - 1, s->qemu_log_offset);
    close(fd);
    if (n <= 0)
        return;
    tmp[n] = '\0';
    /* QEMU's messages, not ours: keep the lines that name qemu */
    for (char *line = strtok(tmp, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strstr(line, "qemu"))
            continue;
        if (*buf)
            strncat(buf, "; ", len - strlen(buf) - 1);
        strncat(buf, line, len - strlen(buf) - 1);
    }
}

static void reap_qemu(struct sup *s, int timeout_ms)
{
    int status;

    if (!s->qemu_pid)
        return;
    if (proc_wait(s->qemu_pid, timeout_ms, &status) == -ETIMEDOUT) {
        logmsg(s, "QEMU (pid %ld) did not exit: killing it", (long)s->qemu_pid);
        proc_kill(s->qemu_pid, 2000);
    } else {
        char text[96];

        logmsg(s, "QEMU (pid %ld) %s", (long)s->qemu_pid,
               proc_status_text(status, text, sizeof(text)));
    }
    s->qemu_pid = 0;
    if (s->qemu_pidfd >= 0)
        close(s->qemu_pidfd);
    s->qemu_pidfd = -1;
    qmp_close(s->qmp);
    s->qmp = NULL;
    if (s->con_fd >= 0)
        close(s->con_fd);
    s->con_fd = -1;
}

static int start_qemu(struct sup *s, char *why, size_t whylen)
{
    struct dm_params dp;
    struct dm_plan plan;
    struct diag d;
    char **argv = NULL, path[PATH_MAX], *console_log = NULL, kver[256];
    int qmp_fd = -1, vmctl_fd = -1, keep[2], r, use_boot;
    struct proc_opts po;
    char qwhy[256];
    struct bootldr_result boot;
    bool booted = false;

    dm_params_init(&dp);
    dm_plan_init(&plan);
    diag_init(&d);
    /* vmkit's bootloader, before every start (pygrub runs before each
     * boot): the guest's kernel may have changed since the last one */
    if ((use_boot = bootldr_wanted(s->dom, why, whylen)) < 0) {
        r = -EIO;
        goto out;
    }
    if (use_boot) {
        static const char pre[] = "bootloader: ";

        snprintf(why, whylen, "%s", pre);
        if (whylen <= sizeof(pre)) {
            r = -EIO;
            goto out;
        }
        if ((r = bootldr_run_domain(s->dom, s->p->dir, &boot, why + sizeof(pre) - 1,
                                    whylen - sizeof(pre) + 1))) {
            if (r == -ENOMEM)
                snprintf(why, whylen, "bootloader: %s", strerror(ENOMEM));
            r = -EIO;
            goto out;
        }
        booted = true;
        {
            char *line = bootldr_describe(&boot);

            logmsg(s, "bootloader: %s", line ? line : "?");
            free(line);
        }
        dp.kernel = boot.kernel;
        dp.ramdisk = *boot.initrd ? boot.initrd : NULL;
        dp.cmdline = boot.cmdline;
    }
    /* as create read it: the same machine */
    if (dp.kernel ? !kernelhdr_version(dp.kernel, kver, sizeof kver) :
        (s->dom->kernel && !kernelhdr_version(s->dom->kernel, kver, sizeof kver)))
        dp.kernel_version = kver;
    dp.qemu = s->p->qemu;
    dp.accel = s->p->accel;
    dp.rundir = s->p->dir;
    dp.tap_names = (const char *const *)s->taps;
    dp.host_cpus = s->p->host_cpus;
    dp.tsc_khz = s->p->tsc_khz;
    if (asprintf(&console_log, "%s/%s-console.log", paths_root(PATHS_LOG), s->name) < 0) {
        console_log = NULL;
        r = -ENOMEM;
        goto out;
    }
    dp.console_log = console_log;
    /* QEMU's monitors exist before it starts: nobody else can take them */
    if ((qmp_fd = sock_listen(s->p->dir, "qmp.sock")) < 0 ||
        (vmctl_fd = sock_listen(s->p->dir, "qmp-vmctl.sock")) < 0) {
        r = qmp_fd < 0 ? qmp_fd : vmctl_fd;
        snprintf(why, whylen, "cannot make the monitor sockets in %s: %s", s->p->dir,
                 strerror(-r));
        goto out;
    }
    dp.qmp_fd = qmp_fd;
    dp.vmctl_qmp_fd = vmctl_fd;
    if ((r = dm_build_argv(s->dom, &dp, &argv, &plan, &d))) {
        snprintf(why, whylen, "cannot build QEMU's command line%s%s",
                 d.n ? ": " : "", d.n ? d.v[d.n - 1].msg : "");
        goto out;
    }
    for (size_t i = 0; i < d.n; i++)
        logmsg(s, "warning: %s", d.v[i].msg);
    logmsg(s, "starting %s (%s, %s: %s)", s->p->qemu, plan.machine,
           domain_accel_name(s->p->accel), s->p->accel_reason ? s->p->accel_reason : "");
    s->qemu_log_offset = lseek(STDERR_FILENO, 0, SEEK_END);
    proc_opts_init(&po);
    po.stdout_fd = STDERR_FILENO;
    po.stderr_fd = STDERR_FILENO;
    keep[0] = qmp_fd;
    keep[1] = vmctl_fd;
    po.keep_fds = keep;
    po.nkeep_fds = 2;
    if ((r = proc_start(s->p->qemu, argv, &po, &s->qemu_pid))) {
        snprintf(why, whylen, "cannot start %s: %s", s->p->qemu, strerror(-r));
        goto out;
    }
    s->qemu_pidfd = (int)syscall(SYS_pidfd_open, s->qemu_pid, 0);
    domstate_write_pid(s->p->dir, "qemu.pid", s->qemu_pid);
    /* QEMU holds the listening sockets now; ours would keep a connect to a
     * dead QEMU waiting forever */
    close(qmp_fd);
    close(vmctl_fd);
    qmp_fd = vmctl_fd = -1;

    if (!domstate_path(path, sizeof(path), s->p->dir, "qmp.sock") &&
        (r = qmp_connect(path, QMP_START_TIMEOUT, &s->qmp, qwhy, sizeof(qwhy))) != QMP_OK) {
        char last[512];

        reap_qemu(s, 5000);
        qemu_last_words(s, last, sizeof(last));
        snprintf(why, whylen, "QEMU did not come up: %s", *last ? last : qwhy);
        r = -EIO;
        goto out;
    }
    if (getenv("VMKIT_DEBUG"))
        qmp_set_debug(s->qmp, qmp_debug, s);
    /* an hvm guest without serial = "pty" has no console */
    if (plan.console &&
        (r = sock_connect(s->p->dir, "console.sock", &s->con_fd))) {
        snprintf(why, whylen, "cannot attach to QEMU's console socket: %s", strerror(-r));
        r = -EIO;
        goto fail_qemu;
    }
    if (s->con_fd >= 0)
        set_nonblock(s->con_fd);
    if (plan.balloon_target_mib &&
        (r = qmp_balloon(s->qmp, (uint64_t)plan.balloon_target_mib << 20, QMP_TIMEOUT))) {
        snprintf(why, whylen, "cannot set the balloon to %ld MiB: %s",
                 plan.balloon_target_mib, qmp_last_error(s->qmp));
        r = -EIO;
        goto fail_qemu;
    }
    if (!s->p->paused && (r = qmp_cont(s->qmp, QMP_TIMEOUT))) {
        snprintf(why, whylen, "QEMU did not start the guest: %s", qmp_last_error(s->qmp));
        r = -EIO;
        goto fail_qemu;
    }
    set_state(s, s->p->paused ? DOMSTATE_PAUSED : DOMSTATE_RUNNING);
    r = 0;
    goto out;
fail_qemu:
    qmp_quit(s->qmp, 2000);
    reap_qemu(s, 5000);
out:
    /* QEMU loaded them before its monitor answered, or it is gone */
    if (booted)
        bootldr_remove_files(&boot);
    if (qmp_fd >= 0)
        close(qmp_fd);
    if (vmctl_fd >= 0)
        close(vmctl_fd);
    dm_argv_free(argv);
    dm_plan_dispose(&plan);
    diag_dispose(&d);
    free(console_log);
    return r;
}

/* Asks QEMU to quit and waits for it; kills it if it will not. */
static void stop_qemu(struct sup *s)
{
    if (!s->qemu_pid)
        return;
    s->quitting = true;
    if (s->qmp && qmp_quit(s->qmp, 5000) != QMP_OK)
        logmsg(s, "quit: %s", qmp_last_error(s->qmp));
    reap_qemu(s, 10000);
    s->quitting = false;
}

/* ---- actions ---- */

static void drop_clients(struct sup *s)
{
    for (size_t i = 0; i < s->nclients; i++)
        close(s->clients[i]);
    s->nclients = 0;
}

/* The domain is gone: QEMU stopped, vifs unplugged, its record removed;
 * then the vmctl that asked for it (reply_fd, or -1) hears "ok". */
static void __attribute__((noreturn)) destroy_reply_exit(struct sup *s, const char *why,
                                                        int reply_fd)
{
    logmsg(s, "destroying: %s", why);
    set_state(s, DOMSTATE_DYING);
    stop_qemu(s);
    unplug_vifs(s);
    drop_clients(s);
    domstate_remove(s->p->dir);
    logmsg(s, "destroyed");
    if (reply_fd >= 0) {
        write_all(reply_fd, "ok\n", 3);
        close(reply_fd);
    }
    exit(0);
}

static void __attribute__((noreturn)) destroy_and_exit(struct sup *s, const char *why)
{
    destroy_reply_exit(s, why, -1);
}

static int set_reboot_action(struct sup *s, const char *action)
{
    json_object *args = json_object_new_object();
    int r;

    json_object_object_add(args, "reboot", json_object_new_string(action));
    r = qmp_command(s->qmp, "set-action", args, QMP_TIMEOUT, NULL);
    json_object_put(args);
    return r;
}

/* system_reset is carried out by QEMU's main loop after the reply: wait
 * until the VM has left its shutdown (or panicked) state, or `cont'
 * fails with "Resetting the Virtual Machine is required". */
static bool wait_reset(struct sup *s)
{
    for (int i = 0; i < 100; i++) {
        char *status = NULL;
        bool running, done;

        if (qmp_query_status(s->qmp, QMP_TIMEOUT, &status, &running) != QMP_OK)
            return false;
        done = strcmp(status, "shutdown") && strcmp(status, "guest-panicked");
        free(status);
        if (done)
            return true;
        usleep(20000);
    }
    return false;
}

static int restart(struct sup *s)
{
    char why[1024];
    /* vmkit's bootloader reads the disk again on every boot, as pygrub
     * runs on every boot (the guest may have a new kernel): a new QEMU */
    bool reload = bootldr_wanted(s->dom, why, sizeof(why)) > 0;

    if (reload && s->qemu_pid) {
        logmsg(s, "restarting with the bootloader: a new QEMU");
        stop_qemu(s);
    }
    if (s->qmp && s->qemu_pid) {
        /* -action reboot=shutdown turns system_reset into a shutdown too:
         * lift it for our own reset */
        if (set_reboot_action(s, "reset") == QMP_OK &&
            qmp_system_reset(s->qmp, QMP_TIMEOUT) == QMP_OK && wait_reset(s) &&
            set_reboot_action(s, "shutdown") == QMP_OK &&
            qmp_cont(s->qmp, QMP_TIMEOUT) == QMP_OK) {
            logmsg(s, "restarted");
            refresh_state(s);
            return 0;
        }
        logmsg(s, "reset failed (%s): starting a new QEMU",
               *qmp_last_error(s->qmp) ? qmp_last_error(s->qmp) : "the VM stayed down");
        stop_qemu(s);
    }
    if (start_qemu(s, why, sizeof(why))) {
        logmsg(s, "restart failed: %s", why);
        return -EIO;
    }
    logmsg(s, "restarted with a new QEMU (pid %ld)", (long)s->qemu_pid);
    return 0;
}

/* The guest's memory to LIBDIR/dump/NAME-TIME.core, as xl's coredump-*. */
static void coredump(struct sup *s)
{
    char *dir = paths_join(paths_root(PATHS_LIB), "dump"), *path = NULL;
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    json_object *args;

    if (!dir || (mkdir(dir, 0700) < 0 && errno != EEXIST)) {
        logmsg(s, "coredump: cannot make %s: %s", dir ? dir : "dump dir", strerror(errno));
        free(dir);
        return;
    }
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", localtime_r(&now, &tm));
    if (asprintf(&path, "file:%s/%s-%s.core", dir, s->name, stamp) < 0) {
        free(dir);
        return;
    }
    args = json_object_new_object();
    json_object_object_add(args, "paging", json_object_new_boolean(0));
    json_object_object_add(args, "protocol", json_object_new_string(path));
    if (s->qmp && qmp_command(s->qmp, "dump-guest-memory", args, DUMP_TIMEOUT, NULL) == QMP_OK)
        logmsg(s, "core dumped to %s", path + 5);
    else
        logmsg(s, "coredump to %s failed: %s", path + 5,
               s->qmp ? qmp_last_error(s->qmp) : "no monitor");
    json_object_put(args);
    free(path);
    free(dir);
}

/* rename-restart: this domain keeps running under a new name, stopped,
 * and a new one is created from the same config (xl names the old one
 * NAME--incarnation-N). */
static void rename_restart(struct sup *s)
{
    char *newname = NULL, *config = NULL;
    char *argv[4];
    int status, r;

    if (asprintf(&newname, "%s--incarnation-%d", s->name, s->p->domid) < 0)
        return;
    if (domstate_write(s->p->dir, "name", newname)) {
        logmsg(s, "rename-restart: cannot rename: %s", strerror(errno));
        free(newname);
        return;
    }
    logmsg(s, "renamed to %s", newname);
    free(s->name);
    s->name = newname;
    if (asprintf(&config, "%s/config", s->p->dir) < 0)
        return;
    argv[0] = (char *)s->p->self_exe;
    argv[1] = (char *)"create";
    argv[2] = config;
    argv[3] = NULL;
    r = proc_run(s->p->self_exe, argv, NULL, 5 * 60 * 1000, &status);
    if (r || !WIFEXITED(status) || WEXITSTATUS(status))
        logmsg(s, "rename-restart: creating the new domain failed");
    free(config);
}

static void apply(struct sup *s, enum domain_action a, const char *event)
{
    logmsg(s, "%s: %s", event, domain_action_name(a));
    switch (a) {
    case ACTION_DESTROY:
        destroy_and_exit(s, event);
    case ACTION_RESTART:
    case ACTION_SOFT_RESET:
        if (restart(s))
            destroy_and_exit(s, "the restart failed");
        return;
    case ACTION_RENAME_RESTART:
        refresh_state(s);
        rename_restart(s);
        return;
    case ACTION_PRESERVE:
        refresh_state(s);
        return;
    case ACTION_COREDUMP_DESTROY:
        coredump(s);
        destroy_and_exit(s, event);
    case ACTION_COREDUMP_RESTART:
        coredump(s);
        if (restart(s))
            destroy_and_exit(s, "the restart failed");
        return;
    }
}

/* ---- QMP events, by name (sorted for bsearch) ---- */

static const char *event_string(const struct qmp_event *ev, const char *key)
{
    json_object *v;

    if (!ev->data || !json_object_object_get_ex(ev->data, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static void on_guest_panicked(struct sup *s, const struct qmp_event *ev)
{
    (void)ev;
    set_state(s, DOMSTATE_CRASHED);
    apply(s, s->dom->on_crash, "the guest panicked");
}

static void on_resume_stop(struct sup *s, const struct qmp_event *ev)
{
    (void)ev;
    if (s->state != DOMSTATE_CRASHED)
        refresh_state(s);
}

static void on_shutdown(struct sup *s, const struct qmp_event *ev)
{
    const char *reason = event_string(ev, "reason");

    if (!reason)
        reason = "";
    if (s->quitting || !strcmp(reason, "host-qmp-quit") || !strcmp(reason, "host-signal"))
        return;         /* QEMU is on its way out; its exit is handled */
    if (!strcmp(reason, "guest-panic")) {
        set_state(s, DOMSTATE_CRASHED);
        apply(s, s->dom->on_crash, "the guest panicked");
    } else if (!strcmp(reason, "guest-reset") || s->reboot_pending) {
        s->reboot_pending = false;
        apply(s, s->dom->on_reboot, !strcmp(reason, "guest-reset") ?
              "the guest rebooted" : "the guest shut down for vmctl reboot");
    } else {
        apply(s, s->dom->on_poweroff, "the guest powered off");
    }
}

static const struct {
    const char *name;
    void (*fn)(struct sup *s, const struct qmp_event *ev);
} event_handlers[] = {
    { "GUEST_PANICKED", on_guest_panicked },
    { "RESUME", on_resume_stop },
    { "SHUTDOWN", on_shutdown },
    { "STOP", on_resume_stop },
};

static int cmp_event(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

static void handle_events(struct sup *s)
{
    struct qmp_event ev;
    int r;

    while (s->qmp && (r = qmp_next_event(s->qmp, &ev)) == 1) {
        const void *h = bsearch(ev.name, event_handlers,
                                sizeof(event_handlers) / sizeof(event_handlers[0]),
                                sizeof(event_handlers[0]), cmp_event);

        if (h)
            ((const __typeof__(event_handlers[0]) *)h)->fn(s, &ev);
        qmp_event_dispose(&ev);
    }
    if (s->qmp && r < 0) {
        logmsg(s, "monitor: %s", qmp_strerror(r));
        qmp_close(s->qmp);
        s->qmp = NULL;
    }
}

/* ---- QEMU exited ---- */

static void qemu_exited(struct sup *s)
{
    logmsg(s, "QEMU exited without being asked to");
    /* events it sent before going away (a panic, a poweroff) count */
    handle_events(s);
    reap_qemu(s, 1000);
    switch (s->dom->on_crash) {
    case ACTION_RESTART:
    case ACTION_RENAME_RESTART:
    case ACTION_COREDUMP_RESTART:
    case ACTION_SOFT_RESET:
        if (restart(s) == 0)
            return;
        break;
    default:
        break;
    }
    destroy_and_exit(s, "QEMU exited");
}

/* ---- vmctl's requests ---- */

static void handle_request(struct sup *s, int fd)
{
    struct timeval tv = { .tv_sec = 2 };
    char req[128], reply[600] = "ok\n";
    size_t n = 0;
    int r = QMP_OK;

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    while (n < sizeof(req) - 1) {
        ssize_t got = read(fd, req + n, sizeof(req) - 1 - n);

        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        n += (size_t)got;
        if (memchr(req, '\n', n))
            break;
    }
    req[n] = '\0';
    req[strcspn(req, "\r\n")] = '\0';
    logmsg(s, "request: %s", req);
    if (!strcmp(req, "destroy"))
        destroy_reply_exit(s, "vmctl destroy", fd);
    if (!s->qmp) {
        snprintf(reply, sizeof(reply), "error: the monitor connection is lost\n");
    } else if (!strcmp(req, "shutdown") || !strcmp(req, "reboot")) {
        if (s->state != DOMSTATE_RUNNING && s->state != DOMSTATE_PAUSED)
            snprintf(reply, sizeof(reply), "error: the domain is %s, not running\n",
                     domstate_state_name(s->state));
        else if ((r = qmp_system_powerdown(s->qmp, QMP_TIMEOUT)) == QMP_OK)
            s->reboot_pending = !strcmp(req, "reboot");
    } else if (!strcmp(req, "pause")) {
        if ((r = qmp_stop(s->qmp, QMP_TIMEOUT)) == QMP_OK)
            refresh_state(s);
    } else if (!strcmp(req, "unpause")) {
        if ((r = qmp_cont(s->qmp, QMP_TIMEOUT)) == QMP_OK)
            refresh_state(s);
    } else {
        snprintf(reply, sizeof(reply), "error: unknown request `%s'\n", req);
    }
    if (r != QMP_OK)
        snprintf(reply, sizeof(reply), "error: %s\n", qmp_last_error(s->qmp));
    write_all(fd, reply, strlen(reply));
    close(fd);
    handle_events(s);
}

/* ---- the console relay ---- */

static void drop_client(struct sup *s, size_t i)
{
    close(s->clients[i]);
    s->clients[i] = s->clients[--s->nclients];
}

static void console_from_guest(struct sup *s)
{
    char buf[4096];
    ssize_t n = read(s->con_fd, buf, sizeof(buf));

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        close(s->con_fd);
        s->con_fd = -1;
        return;
    }
    for (size_t i = 0; i < s->nclients;) {
        /* a client that cannot keep up loses its attachment, never the guest */
        if (send(s->clients[i], buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n)
            drop_client(s, i);
        else
            i++;
    }
}

static void console_from_client(struct sup *s, size_t i)
{
    char buf[4096];
    ssize_t n = read(s->clients[i], buf, sizeof(buf));

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        drop_client(s, i);
        return;
    }
    if (s->con_fd >= 0)
        write_all(s->con_fd, buf, (size_t)n);
}

/* ---- the loop ---- */

static void __attribute__((noreturn)) run(struct sup *s)
{
    for (;;) {
        struct pollfd pfd[6 + MAX_CLIENTS];
        size_t n = 0, first_client;
        int qmp_i = -1, pid_i = -1, con_i = -1, relay_i, ctl_i, sig_i;

        if (s->qmp) {
            qmp_i = (int)n;
            pfd[n++] = (struct pollfd){ .fd = qmp_fd(s->qmp), .events = POLLIN };
        }
        if (s->qemu_pidfd >= 0) {
            pid_i = (int)n;
            pfd[n++] = (struct pollfd){ .fd = s->qemu_pidfd, .events = POLLIN };
        }
        if (s->con_fd >= 0) {
            con_i = (int)n;
            pfd[n++] = (struct pollfd){ .fd = s->con_fd, .events = POLLIN };
        }
        relay_i = (int)n;
        pfd[n++] = (struct pollfd){ .fd = s->relay_fd, .events = POLLIN };
        ctl_i = (int)n;
        pfd[n++] = (struct pollfd){ .fd = s->ctl_fd, .events = POLLIN };
        sig_i = (int)n;
        pfd[n++] = (struct pollfd){ .fd = s->sig_fd, .events = POLLIN };
        first_client = n;
        for (size_t i = 0; i < s->nclients; i++)
            pfd[n++] = (struct pollfd){ .fd = s->clients[i], .events = POLLIN };

        /* a QEMU without a pidfd (old kernel) is checked once a second */
        if (poll(pfd, n, s->qemu_pidfd < 0 ? 1000 : -1) < 0) {
            if (errno == EINTR)
                continue;
            logmsg(s, "poll: %s", strerror(errno));
            exit(1);
        }
        if (pfd[sig_i].revents & POLLIN) {
            struct signalfd_siginfo si;

            if (read(s->sig_fd, &si, sizeof(si)) == sizeof(si)) {
                logmsg(s, "signal %u: the supervisor exits, the guest keeps running",
                       si.ssi_signo);
                exit(0);
            }
        }
        if (qmp_i >= 0 && pfd[qmp_i].revents)
            handle_events(s);
        if (con_i >= 0 && s->con_fd >= 0 && pfd[con_i].revents)
            console_from_guest(s);
        for (size_t i = s->nclients; i-- > 0;)
            if (first_client + i < n && pfd[first_client + i].revents)
                console_from_client(s, i);
        if (pfd[relay_i].revents & POLLIN) {
            int c = accept4(s->relay_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

            if (c >= 0 && s->nclients < MAX_CLIENTS)
                s->clients[s->nclients++] = c;
            else if (c >= 0)
                close(c);
        }
        if (pfd[ctl_i].revents & POLLIN) {
            int c = accept4(s->ctl_fd, NULL, NULL, SOCK_CLOEXEC);

            if (c >= 0)
                handle_request(s, c);
        }
        if ((pid_i >= 0 && pfd[pid_i].revents) ||
            (s->qemu_pidfd < 0 && s->qemu_pid && !domstate_proc_starttime(s->qemu_pid)))
            qemu_exited(s);
    }
}

/* The child: set up, start the domain, report on fd, then run. */
static void __attribute__((noreturn)) supervise(const struct supervisor_params *p,
                                                int report)
{
    struct sup s = { .p = p, .dom = p->dom, .qemu_pidfd = -1, .con_fd = -1,
                     .relay_fd = -1, .ctl_fd = -1, .sig_fd = -1,
                     .state = DOMSTATE_CREATING };
    char why[1024] = "", msg[1100];
    sigset_t sigs;
    int r;

    if (!(s.name = strdup(p->dom->name)))
        goto fail;
    domstate_write_pid(p->dir, "supervisor.pid", getpid());
    logmsg(&s, "supervisor started (pid %ld)", (long)getpid());
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if ((s.sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0 ||
        (s.relay_fd = sock_listen(p->dir, "console-relay.sock")) < 0 ||
        (s.ctl_fd = sock_listen(p->dir, "control.sock")) < 0) {
        snprintf(why, sizeof(why), "cannot make the supervisor's sockets in %s: %s",
                 p->dir, strerror(errno));
        goto fail;
    }
    if ((r = plug_vifs(&s, why, sizeof(why))))
        goto fail;
    if ((r = start_qemu(&s, why, sizeof(why)))) {
        unplug_vifs(&s);
        goto fail;
    }
    logmsg(&s, "%s (domid %d) is %s", s.name, p->domid, domstate_state_name(s.state));
    write_all(report, "ok\n", 3);
    close(report);
    run(&s);
fail:
    logmsg(&s, "start failed: %s", why);
    snprintf(msg, sizeof(msg), "error: %s\n", *why ? why : "the supervisor failed");
    write_all(report, msg, strlen(msg));
    _exit(1);
}

static int open_log(const char *name)
{
    char *path = NULL;
    const char *dir = paths_root(PATHS_LOG);
    int fd;

    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -errno;
    if (asprintf(&path, "%s/%s.log", dir, name) < 0)
        return -ENOMEM;
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    free(path);
    return fd < 0 ? -errno : fd;
}

int supervisor_start(const struct supervisor_params *p, pid_t *pid_r,
                     char *why, size_t whylen)
{
    int pfd[2], logfd, status;
    char buf[1200];
    size_t n = 0;
    pid_t child;

    *pid_r = 0;
    if ((logfd = open_log(p->dom->name)) < 0) {
        snprintf(why, whylen, "cannot open the log in %s: %s", paths_root(PATHS_LOG),
                 strerror(-logfd));
        return logfd;
    }
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        close(logfd);
        return -errno;
    }
    fflush(NULL);
    child = fork();
    if (child < 0) {
        int e = errno;

        close(logfd);
        close(pfd[0]);
        close(pfd[1]);
        return -e;
    }
    if (child == 0) {
        /* a grandchild, in its own session, that nobody waits for */
        close(pfd[0]);
        if (setsid() < 0 || fork() != 0)
            _exit(0);
        umask(077);
        if (chdir("/") < 0)
            _exit(1);
        {
            int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

            if (devnull >= 0)
                dup2(devnull, STDIN_FILENO);
            dup2(logfd, STDOUT_FILENO);
            dup2(logfd, STDERR_FILENO);
            if (devnull > STDERR_FILENO)
                close(devnull);
            close(logfd);
        }
        supervise(p, pfd[1]);
    }
    close(logfd);
    close(pfd[1]);
    waitpid(child, &status, 0);
    for (;;) {
        ssize_t got = read(pfd[0], buf + n, sizeof(buf) - 1 - n);

        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0 || (n += (size_t)got) >= sizeof(buf) - 1)
            break;
    }
    close(pfd[0]);
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    if (!strcmp(buf, "ok")) {
        *pid_r = domstate_read_pid(p->dir, "supervisor.pid");
        return 0;
    }
    snprintf(why, whylen, "%s", !strncmp(buf, "error: ", 7) ? buf + 7 :
             "the supervisor exited before the domain started (see its log)");
    return -EIO;
}

int supervisor_request(const char *dir, const char *request, int timeout_ms,
                       char *why, size_t whylen)
{
    struct timeval tv = { .tv_sec = timeout_ms / 1000,
                          .tv_usec = (timeout_ms % 1000) * 1000 };
    char line[600];
    size_t n = 0;
    int fd, r;

    why[0] = '\0';
    if ((r = sock_connect(dir, "control.sock", &fd)))
        return r;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    write_all(fd, request, strlen(request));
    write_all(fd, "\n", 1);
    while (n < sizeof(line) - 1) {
        ssize_t got = read(fd, line + n, sizeof(line) - 1 - n);

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            r = errno == EAGAIN ? -ETIMEDOUT : -errno;
            close(fd);
            return r;
        }
        if (got == 0)
            break;
        n += (size_t)got;
        if (memchr(line, '\n', n))
            break;
    }
    close(fd);
    line[n] = '\0';
    line[strcspn(line, "\n")] = '\0';
    if (!strcmp(line, "ok"))
        return 0;
    snprintf(why, whylen, "%s", !strncmp(line, "error: ", 7) ? line + 7 :
             n ? line : "the supervisor closed the connection");
    return -EIO;
}
