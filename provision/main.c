/*
 * main.c - vm-provision, the command: reads the settings and the command
 * line, prints the messages once, prints the plan (--dry-run), and picks
 * the exit status: 0 ok, 1 failure, 2 a bad or missing value.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "companions.h"
#include "diag.h"
#include "domain.h"
#include "options.h"
#include "paths.h"
#include "pipeline.h"
#include "plan.h"
#include "proc.h"
#include "settings.h"

enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,
    EXIT_USAGE = 2,
};

static const char *prog = "vm-provision";

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
}

/* SIGINT, SIGTERM and SIGHUP stop the running step (proc_set_cancel)
 * and undo the run; they do not kill vm-provision outright. */
static void catch_signals(void)
{
    struct sigaction sa;
    int sigs[] = { SIGINT, SIGTERM, SIGHUP };

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    proc_set_cancel(&interrupted);
}

struct progress {
    double total;
    int nsteps;
};

static void report_step(void *ctx, int step, const char *what)
{
    struct progress *pr = ctx;

    fprintf(stderr, "%s: [%d/%d] %s: %s\n", prog, step + 1, pr->nsteps, plan_step_names[step],
            what);
}

static void report_done(void *ctx, int step, double seconds)
{
    struct progress *pr = ctx;

    pr->total += seconds;
    if (seconds >= 0.1)
        fprintf(stderr, "%s: [%d/%d] %s: done in %.1f s\n", prog, step + 1, pr->nsteps,
                plan_step_names[step], seconds);
}

static void report_detail(void *ctx, int step, const char *what)
{
    (void)ctx;
    (void)step;
    fprintf(stderr, "%s:        %s\n", prog, what);
}

/* The last lines of the run's log, to show why a step failed. */
static void show_log_tail(const char *path, int lines)
{
    char buf[8192];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    off_t size;
    ssize_t n;
    const char *s;

    if (fd < 0)
        return;
    size = lseek(fd, 0, SEEK_END);
    if (size > (off_t)sizeof(buf) - 1)
        lseek(fd, size - (off_t)sizeof(buf) + 1, SEEK_SET);
    else
        lseek(fd, 0, SEEK_SET);
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    s = buf + n;
    for (int k = 0; s > buf && k <= lines; s--)
        if (s[-1] == '\n')
            k++;
    fprintf(stderr, "%s: the last lines of %s:\n%s", prog, path, s);
}

/* The vmctl beside this program, else vmctl from $PATH (new string). */
static char *find_vmctl(void)
{
    char exe[PATH_MAX], *slash, *path = NULL;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (n > 0) {
        exe[n] = '\0';
        if ((slash = strrchr(exe, '/'))) {
            *slash = '\0';
            if (asprintf(&path, "%s/vmctl", exe) < 0)
                return NULL;
            if (access(path, X_OK) == 0)
                return path;
            free(path);
        }
    }
    return strdup("vmctl");
}

static int provision(const struct plan *p, const struct opt_set *o, const char *datadir)
{
    struct pipeline_args a = { 0 };
    struct pipeline_result res;
    struct progress pr = { 0, 0 };
    struct diag d;
    char *vmctl = find_vmctl();
    int r, status;

    if (!vmctl) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return EXIT_FAIL;
    }
    while (plan_step_names[pr.nsteps])
        pr.nsteps++;
    diag_init(&d);
    catch_signals();
    a.plan = p;
    a.opts = o;
    a.datadir = datadir;
    a.vmctl = vmctl;
    a.logdir = paths_root(PATHS_LOG);
    a.tty_fd = isatty(2) ? 2 : -1;
    a.interrupted = &interrupted;
    a.report = (struct pipeline_report){ report_step, report_done, report_detail, &pr };
    r = pipeline_run(&a, &res, &d);
    diag_print(&d, stderr, prog);
    if (r == 0) {
        printf("Guest %s is ready (%.1f s%s).\n", p->hostname, res.seconds,
               res.cache_hit ? ", the base root from the cache" : "");
        printf("  config:   %s\n  disk:     %s (%s, %s%s%s)\n", p->config_path,
               p->disk_path, p->image_format, p->partitioned ? p->layout.table : "",
               p->partitioned ? " partitions, root " : "", p->fs);
        if (p->swap_path)
            printf("  swap:     %s\n", p->swap_path);
        if (!strcmp(p->boot_method, "pygrub"))
            printf("  kernel:   in the guest's /boot (bootloader pygrub; hvm: GRUB)\n");
        else
            printf("  kernel:   %s\n", p->kernel_path);
        printf("  log:      %s\n", res.log_path ? res.log_path : "-");
        if (p->boot)
            printf("  running:  vmctl console %s\n", p->hostname);
        else
            printf("  start it: vmctl create %s -c\n", p->config_path);
        if (res.password)
            printf("  root password (shown once): %s\n", res.password);
        status = EXIT_OK;
    } else {
        const char *step = res.failed_step >= 0 ? plan_step_names[res.failed_step] : "?";

        if (res.log_path && !res.signal && res.failed_step >= 3)
            show_log_tail(res.log_path, 15);
        if (res.signal)
            fprintf(stderr, "%s: %s: interrupted by %s during step %s; %s\n", prog, p->hostname,
                    sigabbrev_np(res.signal) ? sigabbrev_np(res.signal) : "a signal", step,
                    res.undone ? "everything it had made was removed"
                               : "some of what it made is left (above)");
        else
            fprintf(stderr, "%s: %s: failed at step %s; %s%s%s\n", prog, p->hostname, step,
                    res.undone ? "everything it had made was removed"
                               : "some of what it made is left (above)",
                    res.log_path ? "; log: " : "", res.log_path ? res.log_path : "");
        status = res.signal ? 128 + res.signal : EXIT_FAIL;
    }
    if (res.password)
        explicit_bzero(res.password, strlen(res.password));
    pipeline_result_dispose(&res);
    diag_dispose(&d);
    free(vmctl);
    return status;
}

/* Reads one settings file into o; 0, -EINVAL (recorded), -ENOMEM.
 * -ENOENT (nothing recorded) for an absent file when missing_ok. */
static int apply_file(struct opt_set *o, const char *path, enum opt_layer layer,
                      struct diag *d)
{
    struct settings *s = NULL;
    int r = settings_read_file(path, layer == LAYER_PROVISION_CONF ? SETTINGS_MISSING_OK : 0,
                               &s, d);

    if (r == -ENOENT && layer == LAYER_PROVISION_CONF)
        return r;
    if (r)
        return r == -ENOMEM ? r : -EINVAL;
    r = options_apply_settings(o, s, layer, d);
    settings_free(s);
    return r;
}

static int check_stdout(int status)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s: error writing output: %s\n", prog, strerror(errno));
        return status ? status : EXIT_FAIL;
    }
    return status;
}

int main(int argc, char **argv)
{
    struct diag d;
    struct opt_argv a;
    struct opt_set o;
    struct plan p;
    struct plan_env env = { 0 };
    struct domain_desc dom;
    char *conf = NULL, *datadir = NULL, *text = NULL, *plan_text = NULL, *cfg_text = NULL;
    const char *apt_root = getenv("VMKIT_APT_ROOT");
    enum plan_status ps;
    int r, usage = 0, status = EXIT_FAIL;

    diag_init(&d);
    options_init(&o);
    plan_init(&p);
    domain_init(&dom);

    r = options_parse_argv(argc, argv, &a, &d);
    if (r == -ENOMEM)
        goto oom;
    if (a.help) {
        if (!(text = options_help(prog)))
            goto oom;
        fputs(text, stdout);
        status = EXIT_OK;
        goto out;
    }
    usage |= r != 0;
    if (!usage && (a.list || a.delete_name)) {
        if (a.nitems || a.nconfigs || (a.list && a.delete_name) || (a.json && !a.list)) {
            fprintf(stderr, "%s: --list [--json] and --delete NAME take no other option\n",
                    prog);
            status = EXIT_USAGE;
        } else {
            status = a.list ? companions_list(prog, a.json) : companions_delete(prog,
                                                                                a.delete_name);
        }
        goto out;
    }
    if (!usage && a.json) {
        fprintf(stderr, "%s: --json goes with --list\n", prog);
        status = EXIT_USAGE;
        goto out;
    }

    /* provision.conf, then each --config FILE, then the command line */
    if (!(conf = paths_join(paths_root(PATHS_CONF), "provision.conf")))
        goto oom;
    r = apply_file(&o, conf, LAYER_PROVISION_CONF, &d);
    if (r == -ENOMEM)
        goto oom;
    env.provision_conf_read = r != -ENOENT;
    usage |= r && r != -ENOENT;
    for (size_t i = 0; i < a.nconfigs; i++) {
        struct stat st;

        if (stat(a.configs[i], &st) < 0) {
            diag_error(&d, NULL, 0, 0, "--config: %s: %s", a.configs[i], strerror(errno));
            usage = 1;
            continue;
        }
        r = apply_file(&o, a.configs[i], LAYER_CONFIG, &d);
        if (r == -ENOMEM)
            goto oom;
        usage |= r != 0;
    }
    r = options_apply_argv(&o, &a, &d);
    if (r == -ENOMEM)
        goto oom;
    usage |= r != 0;

    /* every default, every check across options */
    if (paths_datadir(&datadir, NULL))
        goto oom;
    env.datadir = datadir;
    env.apt_root = apt_root && *apt_root ? apt_root : "/";
    env.confdir = paths_root(PATHS_CONF);
    env.libdir = paths_root(PATHS_LIB);
    env.cachedir = paths_root(PATHS_CACHE);
    env.rundir = paths_root(PATHS_RUN);
    env.provision_conf = conf;
    env.configs = a.configs;
    env.nconfigs = a.nconfigs;
    ps = plan_resolve(&o, &env, &p, &d);
    diag_print(&d, stderr, prog);
    diag_dispose(&d);
    if (usage || ps == PLAN_BAD_INPUT) {
        status = EXIT_USAGE;
        goto out;
    }
    if (ps != PLAN_OK)
        goto out;

    if (!o.v[SLOT_DRY_RUN].on) {
        status = provision(&p, &o, datadir);
        goto out;
    }

    /* the plan, and the config it would write, read back first */
    if (!(plan_text = plan_describe(&p)) || plan_domain(&p, &dom))
        goto oom;
    if (!(cfg_text = domain_write_cfg(&dom))) {
        fprintf(stderr, "%s: bug: cannot write the guest config: %s\n", prog,
                strerror(errno));
        goto out;
    }
    r = plan_check_config(p.config_path, cfg_text, &dom, &d);
    if (r) {
        diag_print(&d, stderr, prog);
        fprintf(stderr, "%s: bug: the guest config written for %s does not read back\n",
                prog, p.hostname);
        goto out;
    }
    printf("%s\n# %s (not written: --dry-run)\n%s", plan_text, p.config_path, cfg_text);
    status = EXIT_OK;
    goto out;

oom:
    diag_print(&d, stderr, prog);
    fprintf(stderr, "%s: out of memory\n", prog);
    status = EXIT_FAIL;
out:
    free(text);
    free(plan_text);
    free(cfg_text);
    free(conf);
    free(datadir);
    domain_dispose(&dom);
    plan_dispose(&p);
    options_dispose(&o);
    options_argv_dispose(&a);
    diag_dispose(&d);
    return check_stdout(status);
}
