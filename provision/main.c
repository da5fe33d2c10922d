/*
 * main.c - vm-provision, the command: reads the settings and the command
 * line, prints the messages once, prints the plan (--dry-run), and picks
 * the exit status: 0 ok, 1 failure, 2 a bad or missing value.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "diag.h"
#include "domain.h"
#include "options.h"
#include "paths.h"
#include "plan.h"
#include "settings.h"

enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,
    EXIT_USAGE = 2,
};

static const char *prog = "vm-provision";

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
        fprintf(stderr, "%s: installing guests is not implemented yet (the install pipeline"
                " comes with vmkit issue 4); --dry-run shows the plan\n", prog);
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
    r = plan_check_config(p.config_path, cfg_text, &d);
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
