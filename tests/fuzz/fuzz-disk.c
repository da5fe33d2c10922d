/*
 * fuzz-disk - libFuzzer target for one disk specification string.
 *
 * A spec that parses must format back (disk_format_spec) to a spec that
 * parses to the same fields.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "domain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *fields(const struct disk_spec *k)
{
    json_object *o = disk_spec_to_json(k);
    char *s = strdup(json_object_to_json_string(o));

    json_object_put(o);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct diag d;
    struct disk_spec a, b;
    char *spec = strndup((const char *)data, size), *again = NULL, *fa = NULL, *fb = NULL;

    diag_init(&d);
    disk_spec_init(&a);
    disk_spec_init(&b);
    if (!spec || disk_parse(spec, "fuzz", 1, 1, &a, &d) != 0)
        goto out;
    /* a newline in a value cannot be written back (xl's target= stops at one) */
    if ((a.target && strchr(a.target, '\n')) || (a.vdev && strchr(a.vdev, '\n')))
        goto out;
    again = disk_format_spec(&a);
    if (!again)
        goto out;
    if (disk_parse(again, "fuzz", 1, 1, &b, &d) != 0) {
        fprintf(stderr, "formatted spec does not parse: `%s' from `%s'\n", again, spec);
        abort();
    }
    fa = fields(&a);
    fb = fields(&b);
    if (strcmp(fa, fb) != 0) {
        fprintf(stderr, "round trip changed the disk\n`%s' -> %s\n`%s' -> %s\n",
                spec, fa, again, fb);
        abort();
    }
out:
    free(fa);
    free(fb);
    free(again);
    disk_spec_dispose(&a);
    disk_spec_dispose(&b);
    diag_dispose(&d);
    free(spec);
    return 0;
}
