/*
 * cmd_create.c - vmctl create: build a domain from its config, start it
 * under its supervisor, and optionally attach to its console (xl create).
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "accel.h"
#include "bootldr.h"
#include "cfg.h"
#include "dm.h"
#include "kernelhdr.h"
#include "domain.h"
#include "domstate.h"
#include "net.h"
#include "paths.h"
#include "preflight.h"
#include "supervisor.h"
#include "vmctl.h"

struct create_opts {
    bool console, paused, dry_run, quiet;
    const char *accel;
    const char *file;
    char **overrides;
    int noverrides;
};

/* The QEMU binary: $VMKIT_QEMU, else qemu-system-x86_64 from $PATH. */
static const char *qemu_binary(void)
{
    const char *q = getenv("VMKIT_QEMU");

    return q && *q ? q : "qemu-system-x86_64";
}

/* A value from the command line has no place in the file: its messages
 * name the key, without a line. */
static void forget_position(struct cfg_value *v)
{
    v->line = v->col = 0;
    if (v->type == CFG_LIST)
        for (size_t i = 0; i < v->nitems; i++)
            forget_position(v->items[i]);
}

/*
 * Applies key=value arguments over the file's settings, as xl create
 * does: each is one more config line, parsed on its own (so an error
 * names the argument), replacing the file's value (`+=' appends).
 */
static int apply_overrides(struct cfg *cfg, char **args, int n, struct diag *d)
{
    for (int i = 0; i < n; i++) {
        struct cfg *one = NULL;
        char source[64];
        int r;

        snprintf(source, sizeof(source), "argument %d", i + 1);
        if ((r = cfg_parse(source, args[i], strlen(args[i]), &one, d)))
            return r;
        for (size_t k = 0; k < one->nsettings; k++) {
            struct cfg_setting *o = &one->settings[k], *base = NULL, *nv;

            forget_position(o->value);
            o->line = o->col = 0;
            for (size_t j = 0; j < cfg->nsettings; j++)
                if (!strcmp(cfg->settings[j].key, o->key))
                    base = &cfg->settings[j];
            if (base && o->appended && base->value->type == CFG_LIST &&
                o->value->type == CFG_LIST) {
                struct cfg_value **items = realloc(base->value->items,
                    (base->value->nitems + o->value->nitems) * sizeof(*items));

                if (!items) {
                    cfg_free(one);
                    return -ENOMEM;
                }
                base->value->items = items;
                for (size_t m = 0; m < o->value->nitems; m++) {
                    items[base->value->nitems++] = o->value->items[m];
                    o->value->items[m] = NULL;
                }
                o->value->nitems = 0;
                continue;
            }
            if (base) {
                cfg_value_free(base->value);
                base->value = o->value;
                base->appended = false;
                o->value = NULL;
                continue;
            }
            if (!(nv = realloc(cfg->settings, (cfg->nsettings + 1) * sizeof(*nv)))) {
                cfg_free(one);
                return -ENOMEM;
            }
            cfg->settings = nv;
            nv[cfg->nsettings] = *o;
            nv[cfg->nsettings].appended = false;
            cfg->nsettings++;
            o->key = NULL;
            o->value = NULL;
        }
        cfg_free(one);
    }
    return 0;
}

/* A domain without a uuid gets a random one (as xl gives it), and every
 * vif without a mac a stable one from that uuid. */
static int assign_identity(struct domain_desc *dom)
{
    if (!dom->has_uuid) {
        if (getrandom(dom->uuid, sizeof(dom->uuid), 0) != sizeof(dom->uuid))
            return -errno;
        dom->uuid[6] = (dom->uuid[6] & 0x0f) | 0x40;    /* version 4 */
        dom->uuid[8] = (dom->uuid[8] & 0x3f) | 0x80;    /* RFC 4122 variant */
        dom->has_uuid = true;
    }
    return net_assign_macs(dom);
}

static json_object *info_json(const struct domain_desc *dom, int domid,
                              const struct dm_plan *plan, const struct accel_verdict *v,
                              const char *file)
{
    json_object *o = json_object_new_object();
    char uuid[37], *abs = realpath(file, NULL);

    domain_format_uuid(dom->uuid, uuid);
    json_object_object_add(o, "domid", json_object_new_int(domid));
    json_object_object_add(o, "name", json_object_new_string(dom->name));
    json_object_object_add(o, "uuid", json_object_new_string(uuid));
    json_object_object_add(o, "type", json_object_new_string(domain_type_name(dom->type)));
    json_object_object_add(o, "memory", json_object_new_int64(dom->memory));
    json_object_object_add(o, "maxmem", json_object_new_int64(dom->maxmem));
    json_object_object_add(o, "vcpus", json_object_new_int64(dom->vcpus));
    json_object_object_add(o, "machine", json_object_new_string(plan->machine));
    json_object_object_add(o, "console", json_object_new_string(plan->console ?
                                                                plan->console : ""));
    json_object_object_add(o, "accel", json_object_new_string(domain_accel_name(v->accel)));
    json_object_object_add(o, "accel_reason", json_object_new_string(v->reason));
    json_object_object_add(o, "start_time", json_object_new_int64(time(NULL)));
    json_object_object_add(o, "config_file", json_object_new_string(abs ? abs : file));
    free(abs);
    return o;
}

/* Builds the argv once in the caller, for --dry-run and for info.json. */
static int plan_for(const struct domain_desc *dom, const struct accel_verdict *v,
                    unsigned long tsc_khz, const char *rundir,
                    const struct bootldr_result *boot, char ***argv_r,
                    struct dm_plan *plan, struct diag *d)
{
    struct dm_params dp;
    const char **taps = NULL;
    char *console_log = NULL, kver[256], kernel[PATH_MAX], initrd[PATH_MAX];
    int r;

    dm_params_init(&dp);
    if (boot) {
        /* the bootloader's files (a dry run copies none: their names) */
        snprintf(kernel, sizeof(kernel), "%s", *boot->kernel ? boot->kernel :
                 "RUNDIR/domains/DOMID/" BOOTLDR_KERNEL_FILE);
        snprintf(initrd, sizeof(initrd), "%s", *boot->initrd ? boot->initrd :
                 "RUNDIR/domains/DOMID/" BOOTLDR_INITRD_FILE);
        dp.kernel = kernel;
        dp.ramdisk = boot->initrd_size ? initrd : NULL;
        dp.cmdline = boot->cmdline;
        if (*boot->kernel && !kernelhdr_version(boot->kernel, kver, sizeof kver))
            dp.kernel_version = kver;
    } else if (dom->kernel && !kernelhdr_version(dom->kernel, kver, sizeof kver)) {
        dp.kernel_version = kver;
    }
    dp.qemu = qemu_binary();
    dp.accel = v->accel;
    dp.rundir = rundir;
    dp.host_cpus = (unsigned long)sysconf(_SC_NPROCESSORS_ONLN);
    dp.tsc_khz = tsc_khz;
    if (asprintf(&console_log, "%s/%s-console.log", paths_root(PATHS_LOG), dom->name) < 0)
        return -ENOMEM;
    dp.console_log = console_log;
    if (dom->nvifs && !(taps = calloc(dom->nvifs, sizeof(*taps)))) {
        free(console_log);
        return -ENOMEM;
    }
    /* the tap names the supervisor will give (vifname or vifDOMID.N);
     * a dry run has no domid yet and shows DOMID */
    char (*names)[32] = dom->nvifs ? calloc(dom->nvifs, 32) : NULL;
    const char *slash = strrchr(rundir, '/');
    int domid = slash ? atoi(slash + 1) : 0;

    for (size_t i = 0; i < dom->nvifs; i++) {
        char why[128];

        if (dom->vifs[i].netdev_user || !names)
            continue;
        if (!domid && !dom->vifs[i].vifname)
            snprintf(names[i], sizeof(names[i]), "vifDOMID.%zu", i);
        else if (net_tap_name(&dom->vifs[i], domid, i, names[i], why, sizeof(why)))
            snprintf(names[i], sizeof(names[i]), "?");
        taps[i] = names[i];
    }
    dp.tap_names = taps;
    r = dm_build_argv(dom, &dp, argv_r, plan, d);
    free(names);
    free(taps);
    free(console_log);
    return r;
}

/* The argv as one shell line: words quoted only where they need it. */
static void print_argv(char **argv)
{
    for (char **a = argv; *a; a++) {
        if (**a && strspn(*a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                          "0123456789-_=,./:+@%") == strlen(*a)) {
            fputs(*a, stdout);
        } else {
            putchar('\'');
            for (const char *c = *a; *c; c++)
                fputs(*c == '\'' ? "'\\''" : (char[]){ *c, 0 }, stdout);
            putchar('\'');
        }
        putchar(a[1] ? ' ' : '\n');
    }
}

static int parse_opts(int argc, char **argv, struct create_opts *o)
{
    static const struct option opts[] = {
        { "console", no_argument, NULL, 'c' },
        { "paused", no_argument, NULL, 'p' },
        { "dry-run", no_argument, NULL, 'n' },
        { "quiet", no_argument, NULL, 'q' },
        { "accel", required_argument, NULL, 'A' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    int c;

    while ((c = getopt_long(argc, argv, "cpnqh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->console = true;
            break;
        case 'p':
            o->paused = true;
            break;
        case 'n':
            o->dry_run = true;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'A':
            if (strcmp(optarg, "kvm") && strcmp(optarg, "tcg") && strcmp(optarg, "auto")) {
                fprintf(stderr, "%s create: --accel wants kvm, tcg or auto, not `%s'\n",
                        vmctl_prog, optarg);
                return EXIT_USAGE;
            }
            o->accel = optarg;
            break;
        case 'h':
            vmctl_usage(stdout, vmctl_command("create"));
            return -1;
        default:
            vmctl_usage(stderr, vmctl_command("create"));
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        vmctl_usage(stderr, vmctl_command("create"));
        return EXIT_USAGE;
    }
    o->file = argv[optind];
    o->overrides = argv + optind + 1;
    o->noverrides = argc - optind - 1;
    for (int i = 0; i < o->noverrides; i++) {
        if (!strchr(o->overrides[i], '=')) {
            fprintf(stderr, "%s create: `%s' is not a key=value setting\n", vmctl_prog,
                    o->overrides[i]);
            return EXIT_USAGE;
        }
    }
    return 0;
}

int cmd_create(int argc, char **argv)
{
    struct create_opts o = { 0 };
    struct diag d;
    struct cfg *cfg = NULL;
    struct domain_desc dom;
    struct dm_plan plan;
    struct accel_verdict verdict;
    struct accel_probe_params probe;
    struct domstate *v = NULL;
    size_t n = 0;
    char **qargv = NULL, *dir = NULL, *text = NULL, why[1200], self[PATH_MAX];
    int status = EXIT_FAIL, lock = -1, domid = 0, r;
    bool created = false, booted = false;
    int use_boot = 0;
    struct bootldr_result boot;
    const char *bad;
    pid_t sup_pid;
    unsigned long tsc_khz = 0;

    if ((r = parse_opts(argc, argv, &o)))
        return r < 0 ? EXIT_OK : r;
    diag_init(&d);
    domain_init(&dom);
    dm_plan_init(&plan);

    /* the config, with the command line's settings over it */
    r = cfg_read_file(o.file, &cfg, &d);
    if (!r)
        r = apply_overrides(cfg, o.overrides, o.noverrides, &d);
    if (!r)
        r = domain_from_cfg(cfg, &dom, &d);
    if (!r && (bad = domstate_check_name(dom.name))) {
        diag_error(&d, o.file, 0, 0, "name `%s': %s", dom.name, bad);
        r = -EINVAL;
    }
    if (!r && o.accel)
        dom.accel = !strcmp(o.accel, "kvm") ? ACCEL_KVM :
                    !strcmp(o.accel, "tcg") ? ACCEL_TCG : ACCEL_AUTO;
    if (!r && (r = assign_identity(&dom)))
        diag_error(&d, o.file, 0, 0, "cannot give the domain its identity: %s",
                   strerror(-r));
    if (!r && (use_boot = bootldr_wanted(&dom, why, sizeof(why))) < 0) {
        diag_error(&d, o.file, 0, 0, "%s", why);
        r = -EINVAL;
    }
    if (!r && dom.type == DOMAIN_HVM && dom.bootloader)
        diag_warn(&d, o.file, 0, 0, "`bootloader' is ignored for an hvm guest (as xl"
                  " ignores it): its firmware boots the disk");
    if (!r && use_boot > 0 && dom.bootloader && dom.kernel && !bootldr_is_pvgrub(dom.kernel))
        diag_warn(&d, o.file, 0, 0, "`kernel' with `bootloader': the kernel `%s' is read"
                  " from the guest's disk (pygrub's --kernel, as xl passes it)", dom.kernel);
    if (!r && !o.dry_run && geteuid() != 0) {
        fprintf(stderr, "%s create: must be run as root (--dry-run need not)\n", vmctl_prog);
        r = -EPERM;
    }
    /* a disk that is missing or not in its format is refused before QEMU runs */
    if (!r && !o.dry_run)
        r = preflight_check(&dom, o.file, &d);
    if (r == -ENOMEM)
        diag_error(&d, NULL, 0, 0, "out of memory reading %s", o.file);
    if (r || (d.n && !o.quiet))
        diag_print(&d, stderr, vmctl_prog);
    if (r)
        goto out;

    accel_probe_params_init(&probe);
    probe.qemu = qemu_binary();
    probe.kernel = dom.kernel;
    probe.initrd = dom.ramdisk;
    probe.rundir = paths_root(PATHS_RUN);
    if (o.dry_run) {
        /* starts nothing: no probe; the cached verdict or the host checks */
        if (dom.accel == ACCEL_AUTO) {
            accel_host_status(&probe, &verdict);
            if (verdict.accel == ACCEL_AUTO) {
                verdict.accel = ACCEL_TCG;
                snprintf(verdict.reason, sizeof(verdict.reason), "shown with tcg: KVM"
                         " passes the host checks, and create would probe it");
            }
        } else if ((r = accel_decide(dom.accel, &probe, &verdict))) {
            fprintf(stderr, "%s create: %s: accel %s: %s\n", vmctl_prog, dom.name,
                    domain_accel_name(dom.accel), verdict.reason);
            goto out;
        }
        diag_dispose(&d);
        diag_init(&d);
        /* the bootloader reads the disk and says what it would boot, copying nothing */
        if (use_boot > 0 && (r = bootldr_run_domain(&dom, NULL, &boot, why, sizeof(why)))) {
            fprintf(stderr, "%s create: %s: bootloader: %s\n", vmctl_prog, dom.name,
                    r == -ENOMEM ? strerror(ENOMEM) : why);
            goto out;
        }
        if ((r = plan_for(&dom, &verdict, verdict.accel == ACCEL_TCG ? accel_host_tsc_khz() : 0,
                          "RUNDIR/domains/DOMID", use_boot > 0 ? &boot : NULL, &qargv,
                          &plan, &d))) {
            diag_print(&d, stderr, vmctl_prog);
            goto out;
        }
        {
            char *planned = dm_plan_format(&plan);
            json_object *desc = domain_to_json(&dom);

            printf("# %s: QEMU command line (%s, %s: %s)\n", dom.name, plan.machine,
                   domain_accel_name(verdict.accel), verdict.reason);
            print_argv(qargv);
            printf("# plan\n%s", planned ? planned : "");
            if (use_boot > 0) {
                char *line = bootldr_describe(&boot);

                printf("bootloader: %s\n", line ? line : "?");
                free(line);
            }
            printf("# domain\n%s\n", json_object_to_json_string_ext(desc,
                   JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
            free(planned);
            json_object_put(desc);
        }
        status = EXIT_OK;
        goto out;
    }

    /* one name, one domain: checked and claimed under the run lock */
    if ((lock = domstate_lock()) < 0) {
        fprintf(stderr, "%s create: cannot lock %s: %s\n", vmctl_prog,
                paths_root(PATHS_RUN), strerror(-lock));
        goto out;
    }
    if ((r = domstate_list(true, &v, &n, NULL))) {
        fprintf(stderr, "%s create: cannot read the domains: %s\n", vmctl_prog, strerror(-r));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(v[i].name, dom.name)) {
            fprintf(stderr, "%s create: a domain named %s is already running (domid %d)\n",
                    vmctl_prog, dom.name, v[i].domid);
            goto out;
        }
    }
    if ((r = domstate_create(dom.name, &domid, &dir))) {
        fprintf(stderr, "%s create: cannot record the domain in %s: %s\n", vmctl_prog,
                paths_root(PATHS_RUN), strerror(-r));
        goto out;
    }
    created = true;
    close(lock);
    lock = -1;

    /* KVM only where it really runs a guest (a probe, cached until reboot) */
    if ((r = accel_decide(dom.accel, &probe, &verdict))) {
        fprintf(stderr, "%s create: %s: accel %s: %s\n", vmctl_prog, dom.name,
                domain_accel_name(dom.accel), verdict.reason);
        goto out;
    }
    if (*verdict.warning && !o.quiet)
        fprintf(stderr, "%s create: %s: warning: %s\n", vmctl_prog, dom.name,
                verdict.warning);
    /* measured once here, for the plan and for every QEMU the supervisor starts */
    tsc_khz = verdict.accel == ACCEL_TCG ? accel_host_tsc_khz() : 0;
    diag_dispose(&d);
    diag_init(&d);
    /* the guest's kernel, for the plan; the supervisor reads it again
     * before each QEMU start (as pygrub runs before each boot) */
    if (use_boot > 0) {
        if ((r = bootldr_run_domain(&dom, dir, &boot, why, sizeof(why)))) {
            fprintf(stderr, "%s create: %s: bootloader: %s\n", vmctl_prog, dom.name,
                    r == -ENOMEM ? strerror(ENOMEM) : why);
            goto out;
        }
        booted = true;
    }
    if ((r = plan_for(&dom, &verdict, tsc_khz, dir, use_boot > 0 ? &boot : NULL, &qargv,
                      &plan, &d))) {
        diag_print(&d, stderr, vmctl_prog);
        goto out;
    }
    if (booted) {
        bootldr_remove_files(&boot);
        booted = false;
    }
    if (!o.quiet)
        diag_print(&d, stderr, vmctl_prog);
    if (!(text = domain_write_cfg(&dom))) {
        fprintf(stderr, "%s create: %s: cannot write its config: %s\n", vmctl_prog,
                dom.name, strerror(errno));
        goto out;
    }
    {
        json_object *info = info_json(&dom, domid, &plan, &verdict, o.file);

        r = domstate_write(dir, "config", text);
        if (!r)
            r = domstate_write(dir, "info.json", json_object_to_json_string_ext(info,
                               JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(info);
        if (r) {
            fprintf(stderr, "%s create: cannot write to %s: %s\n", vmctl_prog, dir,
                    strerror(-r));
            goto out;
        }
    }
    {
        ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);

        self[len > 0 ? len : 0] = '\0';
    }
    {
        struct supervisor_params sp = {
            .dom = &dom, .domid = domid, .dir = dir, .qemu = qemu_binary(),
            .accel = verdict.accel, .accel_reason = verdict.reason,
            .config_file = o.file, .self_exe = self, .paused = o.paused,
            .host_cpus = (unsigned long)sysconf(_SC_NPROCESSORS_ONLN),
            .tsc_khz = tsc_khz,
        };

        if ((r = supervisor_start(&sp, &sup_pid, why, sizeof(why)))) {
            fprintf(stderr, "%s create: %s: %s\n", vmctl_prog, dom.name,
                    r == -EIO ? why : strerror(-r));
            goto out;
        }
    }
    created = false;        /* the supervisor owns it now */
    if (!o.quiet)
        printf("%s: domain %s (domid %d) %s (%s: %s)\n", vmctl_prog, dom.name, domid,
               o.paused ? "created, paused" : "started", domain_accel_name(verdict.accel),
               verdict.reason);
    status = EXIT_OK;
    if (o.console) {
        struct domstate ds;

        fflush(stdout);
        if (domstate_find(dom.name, &ds) == 0) {
            status = vmctl_console_attach(&ds);
            domstate_dispose(&ds);
        }
    }
out:
    if (booted)
        bootldr_remove_files(&boot);
    if (created)
        domstate_remove(dir);
    if (lock >= 0)
        close(lock);
    domstate_list_free(v, n);
    dm_argv_free(qargv);
    dm_plan_dispose(&plan);
    free(text);
    free(dir);
    domain_dispose(&dom);
    cfg_free(cfg);
    diag_dispose(&d);
    return status;
}
