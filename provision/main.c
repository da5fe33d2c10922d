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
#include <sys/statvfs.h>
#include <unistd.h>

#include "check.h"
#include "batch.h"
#include "companions.h"
#include "diag.h"
#include "domain.h"
#include "fleet.h"
#include "golden.h"
#include "options.h"
#include "paths.h"
#include "pipeline.h"
#include "plan.h"
#include "proc.h"
#include "settings.h"
#include "snapshot.h"
#include "template.h"

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

/* Reads one settings file into *s_r (settings_free); 0, -EINVAL
 * (recorded), -ENOMEM.  -ENOENT (nothing recorded) for an absent file
 * when missing_ok. */
static int read_file(const char *path, bool missing_ok, struct settings **s_r,
                     struct diag *d)
{
    int r = settings_read_file(path, missing_ok ? SETTINGS_MISSING_OK : 0, s_r, d);

    if (r == -ENOENT && missing_ok)
        return r;
    return !r || r == -ENOMEM ? r : -EINVAL;
}

/*
 * The template the settings name (a new string in *name_r), as for any
 * option the last one given: the command line's, else the last --config
 * file's, else provision.conf's.  Found by applying them to a scratch
 * set whose messages are dropped: they are reported when applied for
 * real.  *name_r NULL when none is named, or a bad name.  0 or -ENOMEM.
 */
static int template_named(const struct settings *pconf, struct settings *const *cfgs,
                          size_t ncfgs, const struct opt_argv *a, char **name_r)
{
    struct opt_set o;
    struct diag d;
    const struct opt_value *v = &o.v[SLOT_TEMPLATE];
    int r = 0;

    options_init(&o);
    diag_init(&d);
    *name_r = NULL;
    if (pconf && options_apply_settings(&o, pconf, LAYER_PROVISION_CONF, &d) == -ENOMEM)
        r = -ENOMEM;
    for (size_t i = 0; !r && i < ncfgs; i++)
        if (cfgs[i] && options_apply_settings(&o, cfgs[i], LAYER_CONFIG, &d) == -ENOMEM)
            r = -ENOMEM;
    if (!r && options_apply_argv(&o, a, &d) == -ENOMEM)
        r = -ENOMEM;
    if (!r && v->by && !v->bad && v->value && !(*name_r = strdup(v->value)))
        r = -ENOMEM;
    options_dispose(&o);
    diag_dispose(&d);
    return r;
}

/* The templates' names, space separated, for a message; "none" when
 * there is none.  A new string, NULL (ENOMEM). */
static char *known_templates(const char *datadir)
{
    struct template_info *v = NULL;
    size_t n = 0, len = 1;
    char *s;

    if (template_list(paths_root(PATHS_CONF), datadir, &v, &n) == -ENOMEM)
        return NULL;
    for (size_t i = 0; i < n; i++)
        len += strlen(v[i].name) + 1;
    if ((s = malloc(len > 5 ? len : 5))) {
        strcpy(s, n ? "" : "none");
        for (size_t i = 0; i < n; i++)
            strcat(strcat(s, i ? " " : ""), v[i].name);
    }
    template_list_free(v, n);
    return s;
}

/* --template-list: a table of the templates; the exit status. */
static int list_templates(const char *datadir)
{
    struct template_info *v = NULL;
    size_t n = 0, wname = 4, wfile = 4;
    const char *confdir = paths_root(PATHS_CONF);
    int r = template_list(confdir, datadir, &v, &n);

    if (r) {
        fprintf(stderr, "%s: cannot list the templates in %s/templates and"
                " %s/templates/guest: %s\n", prog, confdir, datadir, strerror(-r));
        return EXIT_FAIL;
    }
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(v[i].path) + (v[i].shadows ? strlen(" (over the shipped one)") : 0);

        if (strlen(v[i].name) > wname)
            wname = strlen(v[i].name);
        if (k > wfile)
            wfile = k;
    }
    printf("%-*s  %-*s  %s\n", (int)wname, "NAME", (int)wfile, "FILE", "DESCRIPTION");
    for (size_t i = 0; i < n; i++) {
        int k = printf("%-*s  %s%s", (int)wname, v[i].name, v[i].path,
                       v[i].shadows ? " (over the shipped one)" : "");

        printf("%*s  %s\n", k < (int)(wname + 2 + wfile) ? (int)(wname + 2 + wfile) - k : 0, "",
               v[i].description);
    }
    template_list_free(v, n);
    return EXIT_OK;
}

/* Whether a gives one of the commands that take no settings. */
static bool other_command(const struct opt_argv *a)
{
    return a->list || a->json || a->delete_name || a->snapshot_name || a->snapshot_size ||
           a->snapshot_list || a->snapshot_delete || a->golden_list || a->golden_delete;
}

/* ---- --batch, --count, --batch-delete ---- */

struct batch_ctx {
    struct fleet *fleet;
    struct opt_set *opts;           /* one per guest */
    struct plan *plans;
    struct plan_env *envs;
    char **tnames, **tpaths;
    size_t n;
    const char *datadir;
};

static int batch_one(size_t i, void *arg)
{
    struct batch_ctx *c = arg;

    return provision(&c->plans[i], &c->opts[i], c->datadir);
}

/* The template guest i is made from (a new string in *name_r, NULL for
 * none): --template, else the fleet's, else provision.conf's. */
static int batch_template(const struct settings *pconf, const struct opt_argv *a,
                          const struct fleet *f, size_t i, char **name_r)
{
    const struct settings_entry *e = fleet_template(f, i);

    for (size_t k = 0; k < a->nitems; k++)
        if (a->items[k].def->slot == SLOT_TEMPLATE)
            return template_named(pconf, NULL, 0, a, name_r);
    if (e) {
        *name_r = *e->value ? strdup(e->value) : NULL;
        return *e->value && !*name_r ? -ENOMEM : 0;
    }
    return template_named(pconf, NULL, 0, a, name_r);
}

/*
 * Every guest of the fleet resolved into a plan, as one vm-provision
 * run would: provision.conf, the template, the fleet's [defaults] and
 * the guest's section, the command line.  Every problem of every guest
 * is reported (each guest's under its name); returns 0, EXIT_USAGE or
 * EXIT_FAIL.
 */
static int batch_resolve(struct batch_ctx *c, const struct opt_argv *a,
                         const struct settings *pconf, const char *conf)
{
    const char *apt_root = getenv("VMKIT_APT_ROOT");
    int status = 0;

    for (size_t i = 0; i < c->n; i++) {
        struct opt_set *o = &c->opts[i];
        struct plan_env *env = &c->envs[i];
        struct settings *tmpl = NULL;
        struct diag d;
        enum plan_status ps;
        bool bad = false;
        int r;

        diag_init(&d);
        options_init(o);
        plan_init(&c->plans[i]);
        if (pconf && options_apply_settings(o, pconf, LAYER_PROVISION_CONF, &d))
            bad = true;
        if (batch_template(pconf, a, c->fleet, i, &c->tnames[i]) == -ENOMEM)
            return EXIT_FAIL;
        if (c->tnames[i]) {
            r = template_find(paths_root(PATHS_CONF), c->datadir, c->tnames[i], &c->tpaths[i],
                              NULL);
            if (r == -ENOMEM)
                return EXIT_FAIL;
            if (r == -ENOENT) {
                diag_error(&d, NULL, 0, 0, "unknown template `%s'", c->tnames[i]);
                bad = true;
            } else if (read_file(c->tpaths[i], false, &tmpl, &d) ||
                       options_apply_settings(o, tmpl, LAYER_TEMPLATE, &d)) {
                bad = true;
            }
            settings_free(tmpl);
        }
        if (fleet_apply(c->fleet, i, o, &d) || options_apply_argv(o, a, &d))
            bad = true;
        env->datadir = c->datadir;
        env->apt_root = apt_root && *apt_root ? apt_root : "/";
        env->confdir = paths_root(PATHS_CONF);
        env->libdir = paths_root(PATHS_LIB);
        env->cachedir = paths_root(PATHS_CACHE);
        env->rundir = paths_root(PATHS_RUN);
        env->provision_conf = conf;
        env->provision_conf_read = pconf != NULL;
        env->template_name = c->tpaths[i] ? c->tnames[i] : NULL;
        env->template_file = c->tpaths[i];
        env->batch = true;
        if (!bad) {
            ps = plan_resolve(o, env, &c->plans[i], &d);
            if (ps == PLAN_BAD_INPUT)
                bad = true;
            else if (ps != PLAN_OK && !status)
                status = EXIT_FAIL;
        }
        if (d.n) {
            fprintf(stderr, "%s: guest %s:\n", prog, c->fleet->guests[i].name);
            diag_print(&d, stderr, prog);
        }
        if (bad || d.nerrors)
            status = status ? status : EXIT_USAGE;
        diag_dispose(&d);
    }
    return status;
}

/* The file system path is on, through its nearest existing ancestor:
 * 0 with its device and the space free to root-owned files; -errno. */
static int room_at(const char *path, dev_t *dev_r, uint64_t *avail_r)
{
    char *p = strdup(path), *slash;
    struct statvfs vfs;
    struct stat st;
    int r = -ENOENT;

    if (!p)
        return -ENOMEM;
    for (;;) {
        if (stat(p, &st) == 0) {
            r = statvfs(p, &vfs) < 0 ? -errno : 0;
            *dev_r = st.st_dev;
            *avail_r = (uint64_t)vfs.f_bavail * vfs.f_frsize;
            break;
        }
        if (!(slash = strrchr(p, '/')) || (slash == p && !p[1]))
            break;
        slash[slash == p] = '\0';     /* "/x" becomes "/" */
    }
    free(p);
    return r;
}

/*
 * Whether the file systems the fleet's guests go on have room for them,
 * each counted at what it takes once made: a qcow2 overlay on a golden
 * image next to nothing, a copy of one the image's data when an image of
 * its template and size is in the cache (else its whole size), any other
 * disk its whole size; swap its size.  Guests on logical volumes are
 * checked against their volume group when they are made.  Returns 0, or
 * -ENOSPC (or -errno) after recording why.
 */
static int batch_room(const struct batch_ctx *c, struct diag *d)
{
    uint64_t *need = calloc(c->n, sizeof(*need)), *avail = calloc(c->n, sizeof(*avail));
    dev_t *dev = calloc(c->n, sizeof(*dev));
    struct golden_entry *gv = NULL;
    size_t ng = 0;
    int r = 0;

    if (!need || !avail || !dev ||
        golden_list(paths_root(PATHS_CACHE), &gv, &ng, d) == -ENOMEM) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < c->n && !r; i++) {
        if (c->plans[i].lvm_vg)
            continue;
        if ((r = room_at(c->plans[i].image_dir, &dev[i], &avail[i])) < 0)
            diag_error(d, c->plans[i].image_dir, 0, 0, "cannot see how much room there is:"
                       " %s", strerror(-r));
    }
    /* each file system in turn: the first guest on it, then every guest's
     * need there */
    for (size_t i = 0; i < c->n && !r; i++) {
        bool first = !c->plans[i].lvm_vg;

        for (size_t k = 0; k < i && first; k++)
            first = c->plans[k].lvm_vg || dev[k] != dev[i];
        if (!first)
            continue;
        for (size_t k = 0; k < c->n; k++) {
            const struct plan *p = &c->plans[k];

            need[k] = 0;
            if (p->lvm_vg || dev[k] != dev[i])
                continue;
            need[k] = p->size + p->swap;
            if (p->golden && !strcmp(p->clone, "overlay"))
                need[k] = p->swap + (1 << 20);
            else if (p->golden)
                for (size_t g = 0; g < ng; g++)
                    if (gv[g].size == p->size && gv[g].template_name && c->tnames[k] &&
                        !strcmp(gv[g].template_name, c->tnames[k]))
                        need[k] = gv[g].disk_bytes + p->swap;
        }
        r = fleet_check_room(c->fleet, need, avail[i], c->plans[i].image_dir, d);
    }
out:
    golden_entries_free(gv, ng);
    free(need);
    free(avail);
    free(dev);
    return r;
}

static int batch_main(const struct opt_argv *a0, const char *datadir)
{
    struct opt_argv a = *a0;
    struct batch_ctx c = { .datadir = datadir };
    struct template_info *tv = NULL;
    struct settings *pconf = NULL;
    struct fleet_ip_range range;
    struct diag d;
    const char **tnames = NULL, *pattern = NULL, *why;
    char *conf = NULL;
    size_t ntv = 0;
    long jobs = sysconf(_SC_NPROCESSORS_ONLN);
    int r, status = EXIT_USAGE;

    diag_init(&d);
    if (a.nconfigs) {
        fprintf(stderr, "%s: --batch and --count take no --config: settings for the whole"
                " fleet go in its [defaults], or on the command line\n", prog);
        return EXIT_USAGE;
    }
    if (a.jobs) {
        char *end;

        errno = 0;
        jobs = strtol(a.jobs, &end, 10);
        if (errno || *end || jobs < 1 || jobs > 64) {
            fprintf(stderr, "%s: --jobs: `%s': expected a number from 1 to 64\n", prog,
                    a.jobs);
            return EXIT_USAGE;
        }
    }
    if (jobs < 1)
        jobs = 1;
    /* the items the fleet sets for each guest are not the command line's */
    a.items = calloc(a0->nitems + 1, sizeof(*a.items));
    if (!a.items)
        goto oom;
    a.nitems = 0;
    for (size_t i = 0; i < a0->nitems; i++) {
        int slot = a0->items[i].def->slot;

        if (slot == SLOT_HOSTNAME && a0->count) {
            pattern = a0->items[i].arg;
            continue;
        }
        if ((slot == SLOT_HOSTNAME || slot == SLOT_IP || slot == SLOT_MAC) &&
            (a0->batch || a0->batch_delete || (a0->count && slot == SLOT_MAC))) {
            fprintf(stderr, "%s: --%s: each guest has its own: it goes in the fleet%s\n",
                    prog, a0->items[i].def->name, a0->count ? " (--ip-range for --ip)" : "");
            goto out;
        }
        if (slot == SLOT_IP && a0->count) {
            fprintf(stderr, "%s: --ip: each guest has its own: --ip-range gives them\n", prog);
            goto out;
        }
        a.items[a.nitems++] = a0->items[i];
    }

    /* the fleet */
    if (a.batch || a.batch_delete) {
        r = fleet_read_file(a.batch ? a.batch : a.batch_delete, &c.fleet, &d);
    } else {
        if (!pattern) {
            fprintf(stderr, "%s: --count N needs --hostname PATTERN (web%%02d)\n", prog);
            goto out;
        }
        r = fleet_from_count(a.count, pattern, a.ip_range, &c.fleet, &d);
    }
    if (r == -ENOMEM)
        goto oom;
    if (a.batch_delete) {
        diag_print(&d, stderr, prog);
        if (r)
            goto out;
        status = EXIT_OK;
        for (size_t i = 0; i < c.fleet->nguests; i++)
            if (companions_delete(prog, c.fleet->guests[i].name))
                status = EXIT_FAIL;
        goto out;
    }
    if (c.fleet) {
        struct fleet_checks checks = { 0 };

        if (a.batch && a.ip_range) {
            if (fleet_ip_range_parse(a.ip_range, &range, &why)) {
                diag_error(&d, NULL, 0, 0, "--ip-range: `%s': %s", a.ip_range, why);
            } else {
                checks.ip_range = &range;
            }
        }
        if (template_list(paths_root(PATHS_CONF), datadir, &tv, &ntv) == -ENOMEM ||
            !(tnames = calloc(ntv + 1, sizeof(*tnames))))
            goto oom;
        for (size_t i = 0; i < ntv; i++)
            tnames[i] = tv[i].name;
        checks.templates = tnames;
        checks.ntemplates = ntv;
        if (fleet_validate(c.fleet, &checks, &d) == -ENOMEM)
            goto oom;
    }
    if (!c.fleet || d.nerrors) {
        diag_print(&d, stderr, prog);
        fprintf(stderr, "%s: the fleet is refused; nothing was made\n", prog);
        goto out;
    }
    diag_print(&d, stderr, prog);

    /* every guest resolved, every problem told, before anything is made */
    if (!(conf = paths_join(paths_root(PATHS_CONF), "provision.conf")))
        goto oom;
    r = read_file(conf, true, &pconf, &d);
    if (r == -ENOMEM)
        goto oom;
    if (r && r != -ENOENT) {
        diag_print(&d, stderr, prog);
        goto out;
    }
    c.n = c.fleet->nguests;
    if (!(c.opts = calloc(c.n, sizeof(*c.opts))) || !(c.plans = calloc(c.n, sizeof(*c.plans))) ||
        !(c.envs = calloc(c.n, sizeof(*c.envs))) || !(c.tnames = calloc(c.n, sizeof(char *))) ||
        !(c.tpaths = calloc(c.n, sizeof(char *))))
        goto oom;
    for (size_t i = 0; i < c.n; i++)
        options_init(&c.opts[i]);
    status = batch_resolve(&c, &a, pconf, conf);
    if (status) {
        fprintf(stderr, "%s: the fleet is refused; nothing was made\n", prog);
        goto out;
    }
    if ((r = batch_room(&c, &d)) < 0) {
        diag_print(&d, stderr, prog);
        if (r == -ENOMEM)
            goto oom;
        fprintf(stderr, "%s: the fleet is refused; nothing was made\n", prog);
        status = EXIT_FAIL;
        goto out;
    }
    /* --refresh: the first guest of each template builds its golden image
     * afresh, the others clone that */
    for (size_t i = 1; i < c.n; i++)
        for (size_t k = 0; k < i && c.plans[i].refresh; k++)
            if (!c.tnames[i] == !c.tnames[k] &&
                (!c.tnames[i] || !strcmp(c.tnames[i], c.tnames[k])))
                c.plans[i].refresh = false;

    if (a0->nitems && c.n && c.opts[0].v[SLOT_DRY_RUN].on) {
        for (size_t i = 0; i < c.n; i++) {
            char *text = plan_describe(&c.plans[i]);

            if (!text)
                goto oom;
            printf("# guest %s (%zu of %zu)\n%s\n", c.plans[i].hostname, i + 1, c.n, text);
            free(text);
        }
        printf("# %zu guests, %ld at a time (not made: --dry-run)\n", c.n, jobs);
        status = EXIT_OK;
        goto out;
    }
    catch_signals();
    proc_set_cancel(NULL);
    {
        struct batch_guest *v = calloc(c.n, sizeof(*v));
        bool cache = c.opts[0].v[SLOT_CACHE].on;

        if (!v)
            goto oom;
        for (size_t i = 0; i < c.n; i++)
            v[i].name = c.plans[i].hostname;
        status = batch_run(prog, v, c.n, (int)jobs, cache, batch_one, &c, &interrupted);
        free(v);
    }
    goto out;

oom:
    diag_print(&d, stderr, prog);
    fprintf(stderr, "%s: out of memory\n", prog);
    status = EXIT_FAIL;
out:
    for (size_t i = 0; i < c.n; i++) {
        if (c.plans)
            plan_dispose(&c.plans[i]);
        if (c.opts)
            options_dispose(&c.opts[i]);
        if (c.tnames)
            free(c.tnames[i]);
        if (c.tpaths)
            free(c.tpaths[i]);
    }
    free(c.plans);
    free(c.opts);
    free(c.envs);
    free(c.tnames);
    free(c.tpaths);
    fleet_free(c.fleet);
    template_list_free(tv, ntv);
    free(tnames);
    settings_free(pconf);
    free(conf);
    free(a.items);
    diag_dispose(&d);
    return status;
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
    char *tname = NULL, *tpath = NULL, *known = NULL;
    struct settings *pconf = NULL, **cfgs = NULL, *tmpl = NULL;
    bool tmissing = false;
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
    if (paths_datadir(&datadir, NULL))
        goto oom;
    if (!usage && a.template_list) {
        if (a.nitems || a.nconfigs || a.template_show || other_command(&a)) {
            fprintf(stderr, "%s: --template-list takes no other option\n", prog);
            status = EXIT_USAGE;
        } else {
            status = list_templates(datadir);
        }
        goto out;
    }
    if (!usage && a.template_show && other_command(&a)) {
        fprintf(stderr, "%s: --template-show NAME takes settings options only\n", prog);
        status = EXIT_USAGE;
        goto out;
    }
    if (!usage && (a.batch || a.batch_delete || a.count)) {
        if ((!!a.batch + !!a.batch_delete + !!a.count) != 1 || other_command(&a) ||
            a.template_show || (a.batch_delete && (a.nitems || a.jobs || a.ip_range)) ||
            (a.ip_range && a.batch_delete)) {
            fprintf(stderr, "%s: one of --batch FLEET, --count N and --batch-delete FLEET,"
                    " without --list, --delete, --snapshot* or --template-*\n", prog);
            status = EXIT_USAGE;
        } else {
            status = batch_main(&a, datadir);
        }
        goto out;
    }
    if (!usage && (a.ip_range || a.jobs)) {
        fprintf(stderr, "%s: --ip-range and --jobs go with --batch or --count\n", prog);
        status = EXIT_USAGE;
        goto out;
    }
    if (!usage && (a.list || a.delete_name || a.snapshot_name || a.snapshot_list ||
                   a.snapshot_delete || a.snapshot_size || a.golden_list || a.golden_delete)) {
        int ncmd = !!a.list + !!a.delete_name + !!a.snapshot_name + !!a.snapshot_list +
                   !!a.snapshot_delete + !!a.golden_list + !!a.golden_delete;

        if (a.nitems || a.nconfigs || ncmd != 1 || (a.json && !a.list) ||
            (a.snapshot_size && !a.snapshot_name)) {
            fprintf(stderr, "%s: --list [--json], --delete NAME, --snapshot NAME"
                    " [--snapshot-size SIZE], --snapshot-list NAME, --snapshot-delete"
                    " VOLUME, --golden-list and --golden-delete ID take no other option\n",
                    prog);
            status = EXIT_USAGE;
        } else if (a.golden_list) {
            status = companions_golden_list(prog);
        } else if (a.golden_delete) {
            status = companions_golden_delete(prog, a.golden_delete);
        } else if (a.list) {
            status = companions_list(prog, a.json);
        } else if (a.delete_name) {
            status = companions_delete(prog, a.delete_name);
        } else if (a.snapshot_name) {
            char *vmctl = find_vmctl();

            status = vmctl ? snapshot_take(prog, vmctl, a.snapshot_name, a.snapshot_size)
                           : EXIT_FAIL;
            free(vmctl);
        } else if (a.snapshot_list) {
            status = snapshot_list(prog, a.snapshot_list);
        } else {
            status = snapshot_delete(prog, a.snapshot_delete);
        }
        goto out;
    }
    if (!usage && a.json) {
        fprintf(stderr, "%s: --json goes with --list\n", prog);
        status = EXIT_USAGE;
        goto out;
    }

    /* provision.conf, then the template, then each --config FILE, then the
     * command line */
    if (!(conf = paths_join(paths_root(PATHS_CONF), "provision.conf")))
        goto oom;
    r = read_file(conf, true, &pconf, &d);
    if (r == -ENOMEM)
        goto oom;
    env.provision_conf_read = r != -ENOENT;
    usage |= r && r != -ENOENT;
    if (!(cfgs = calloc(a.nconfigs + 1, sizeof(*cfgs))))
        goto oom;
    for (size_t i = 0; i < a.nconfigs; i++) {
        struct stat st;

        if (stat(a.configs[i], &st) < 0) {
            diag_error(&d, NULL, 0, 0, "--config: %s: %s", a.configs[i], strerror(errno));
            usage = 1;
            continue;
        }
        r = read_file(a.configs[i], false, &cfgs[i], &d);
        if (r == -ENOMEM)
            goto oom;
        usage |= r != 0;
    }
    if (a.template_show) {
        const char *why;

        for (size_t i = 0; i < a.nitems; i++)
            if (a.items[i].def->slot == SLOT_TEMPLATE) {
                diag_error(&d, NULL, 0, 0, "--template-show NAME shows template NAME:"
                           " --template goes without it");
                usage = 1;
                break;
            }
        if (check_name(a.template_show, &why)) {
            diag_error(&d, NULL, 0, 0, "--template-show: `%s': %s", a.template_show, why);
            usage = 1;
        } else if (!(tname = strdup(a.template_show))) {
            goto oom;
        }
    } else if (template_named(pconf, cfgs, a.nconfigs, &a, &tname)) {
        goto oom;
    }
    if (pconf) {
        r = options_apply_settings(&o, pconf, LAYER_PROVISION_CONF, &d);
        if (r == -ENOMEM)
            goto oom;
        usage |= r != 0;
    }
    if (tname) {
        r = template_find(paths_root(PATHS_CONF), datadir, tname, &tpath, NULL);
        if (r == -ENOMEM)
            goto oom;
        tmissing = r == -ENOENT;
        if (!tmissing) {
            r = read_file(tpath, false, &tmpl, &d);
            if (r == -ENOMEM)
                goto oom;
            if (!r)
                r = options_apply_settings(&o, tmpl, LAYER_TEMPLATE, &d);
            if (r == -ENOMEM)
                goto oom;
            usage |= r != 0;
        }
    }
    for (size_t i = 0; i < a.nconfigs; i++) {
        if (!cfgs[i])
            continue;
        r = options_apply_settings(&o, cfgs[i], LAYER_CONFIG, &d);
        if (r == -ENOMEM)
            goto oom;
        usage |= r != 0;
    }
    r = options_apply_argv(&o, &a, &d);
    if (r == -ENOMEM)
        goto oom;
    usage |= r != 0;
    if (tmissing) {
        char *tdir = paths_join(paths_root(PATHS_CONF), "templates");
        char *gdir = paths_join(datadir, "templates/guest");

        if (!tdir || !gdir || !(known = known_templates(datadir))) {
            free(tdir);
            free(gdir);
            goto oom;
        }
        if (a.template_show)
            diag_error(&d, NULL, 0, 0, "--template-show: unknown template `%s': no %s.conf"
                       " in %s or %s (known: %s)", tname, tname, tdir, gdir, known);
        else
            options_error(&d, &o, SLOT_TEMPLATE, "unknown template `%s': no %s.conf in %s"
                          " or %s (known: %s)", tname, tname, tdir, gdir, known);
        free(tdir);
        free(gdir);
        usage = 1;
    }

    /* --template-show: the settings, no plan */
    if (a.template_show) {
        char *desc = NULL;

        diag_print(&d, stderr, prog);
        diag_dispose(&d);
        if (usage) {
            status = EXIT_USAGE;
            goto out;
        }
        if (!(text = options_show(&o)) || !(desc = template_describe_file(tpath)))
            goto oom;
        printf("template %s: %s\n%s%s%s\n%s", tname, tpath, *desc ? "  " : "", desc,
               *desc ? "\n" : "", text);
        free(desc);
        status = EXIT_OK;
        goto out;
    }

    /* every default, every check across options */
    env.datadir = datadir;
    env.apt_root = apt_root && *apt_root ? apt_root : "/";
    env.confdir = paths_root(PATHS_CONF);
    env.libdir = paths_root(PATHS_LIB);
    env.cachedir = paths_root(PATHS_CACHE);
    env.rundir = paths_root(PATHS_RUN);
    env.provision_conf = conf;
    env.configs = a.configs;
    env.nconfigs = a.nconfigs;
    env.template_name = tpath ? tname : NULL;
    env.template_file = tpath;
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
    free(tname);
    free(tpath);
    free(known);
    settings_free(pconf);
    settings_free(tmpl);
    for (size_t i = 0; cfgs && i < a.nconfigs; i++)
        settings_free(cfgs[i]);
    free(cfgs);
    domain_dispose(&dom);
    plan_dispose(&p);
    options_dispose(&o);
    options_argv_dispose(&a);
    diag_dispose(&d);
    return check_stdout(status);
}
