/*
 * host-mirror - prints "URI SUITE" of the host's Debian mirror as
 * vm-provision finds it (provision/aptsrc), for the test fixture, which
 * must never name a mirror host itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "aptsrc.h"

int main(void)
{
    struct aptsrc_release rel = { 0 };
    struct aptsrc_mirror m = { 0 };
    struct diag d;
    int r;

    diag_init(&d);
    r = aptsrc_read_release("/", &rel, &d);
    if (r == 0 || r == -ENOENT)
        r = aptsrc_find_mirror("/", rel.codename, &m, &d);
    diag_print(&d, stderr, "host-mirror");
    if (r == 0)
        printf("%s %s\n", m.uri, rel.codename ? rel.codename : m.suite);
    else
        fprintf(stderr, "host-mirror: no Debian mirror in the host's apt sources\n");
    aptsrc_mirror_dispose(&m);
    aptsrc_release_dispose(&rel);
    diag_dispose(&d);
    return r ? EXIT_FAILURE : EXIT_SUCCESS;
}
