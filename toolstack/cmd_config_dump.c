/*
 * cmd_config_dump.c - vmctl config-dump: parse a guest config and print
 * the normalized result, as a config (the writer's output) or as JSON.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "diag.h"
#include "domain.h"
#include "vmctl.h"

static json_object *dump_json(const struct cfg *cfg, const struct domain_desc *dom)
{
    json_object *root = json_object_new_object();
    json_object *settings = json_object_new_object(), *a;

    json_object_object_add(root, "file", json_object_new_string(cfg->source));
    for (size_t i = 0; i < cfg->nsettings; i++)
        json_object_object_add(settings, cfg->settings[i].key,
                               cfg_value_to_json(cfg->settings[i].value));
    json_object_object_add(root, "settings", settings);
    a = json_object_new_array();
    for (size_t i = 0; i < dom->ndisks; i++)
        json_object_array_add(a, disk_spec_to_json(&dom->disks[i]));
    json_object_object_add(root, "disks", a);
    a = json_object_new_array();
    for (size_t i = 0; i < dom->nvifs; i++)
        json_object_array_add(a, vif_spec_to_json(&dom->vifs[i]));
    json_object_object_add(root, "vifs", a);
    json_object_object_add(root, "domain", domain_to_json(dom));
    return root;
}

int cmd_config_dump(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    struct diag d;
    struct cfg *cfg = NULL;
    struct domain_desc dom;
    int json = 0, c, r, status = EXIT_FAIL;
    char *text = NULL;

    while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = 1;
            break;
        case 'h':
            vmctl_usage(stdout, vmctl_command("config-dump"));
            return EXIT_OK;
        default:
            vmctl_usage(stderr, vmctl_command("config-dump"));
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        vmctl_usage(stderr, vmctl_command("config-dump"));
        return EXIT_USAGE;
    }

    diag_init(&d);
    domain_init(&dom);
    r = cfg_read_file(argv[optind], &cfg, &d);
    if (r == 0)
        r = domain_from_cfg(cfg, &dom, &d);
    diag_print(&d, stderr, vmctl_prog);
    if (r == -ENOMEM)
        fprintf(stderr, "%s: out of memory reading %s\n", vmctl_prog, argv[optind]);
    if (r)
        goto out;

    if (json) {
        json_object *o = dump_json(cfg, &dom);

        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                            JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
    } else {
        text = domain_write_cfg(&dom);
        if (!text) {
            fprintf(stderr, "%s: cannot write %s back as a config: %s\n", vmctl_prog,
                    argv[optind], errno == EINVAL ?
                    "a value holds a control character xl.cfg cannot express" :
                    strerror(errno));
            goto out;
        }
        fputs(text, stdout);
    }
    status = EXIT_OK;
out:
    free(text);
    domain_dispose(&dom);
    cfg_free(cfg);
    diag_dispose(&d);
    return status;
}
