/*
 * fuzz-cfg - libFuzzer target for the config language.
 *
 * Beyond "no crash, no leak, no undefined behaviour" it checks the
 * writer's promise: any config that validates is written back as a
 * config that parses and validates to the same description.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "domain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The validated description of text as JSON, or NULL when it is invalid. */
static json_object *description(const char *text, size_t len)
{
    json_object *o = NULL;
    struct diag d;
    struct cfg *cfg = NULL;
    struct domain_desc dom;

    diag_init(&d);
    domain_init(&dom);
    if (cfg_parse("fuzz", text, len, &cfg, &d) == 0 &&
        domain_from_cfg(cfg, &dom, &d) == 0)
        o = domain_to_json(&dom);
    domain_dispose(&dom);
    cfg_free(cfg);
    diag_dispose(&d);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct diag d;
    struct cfg *cfg = NULL;
    struct domain_desc dom;
    char *written = NULL;
    json_object *a = NULL, *b = NULL;

    diag_init(&d);
    domain_init(&dom);
    if (cfg_parse("fuzz", (const char *)data, size, &cfg, &d) != 0)
        goto out;
    for (size_t i = 0; i < cfg->nsettings; i++) {
        char *buf = NULL;
        size_t len = 0;

        cfg_format_value(cfg->settings[i].value, &buf, &len);
        free(buf);
    }
    if (domain_from_cfg(cfg, &dom, &d) != 0)
        goto out;
    written = domain_write_cfg(&dom);
    if (!written)
        goto out;   /* a value xl.cfg cannot express: refused, fine */
    a = description((const char *)data, size);
    b = description(written, strlen(written));
    /* objects compare by key, not order: vif keys keep the order given */
    if (!a || !b || !json_object_equal(a, b)) {
        fprintf(stderr, "round trip changed the description\n--- written:\n%s\n"
                "--- before: %s\n--- after:  %s\n", written,
                a ? json_object_to_json_string(a) : "(invalid)",
                b ? json_object_to_json_string(b) : "(invalid)");
        abort();
    }
out:
    json_object_put(a);
    json_object_put(b);
    free(written);
    domain_dispose(&dom);
    cfg_free(cfg);
    diag_dispose(&d);
    return 0;
}
