/*
 * net-probe.c - hypervisor/net.c's calls one at a time, for
 * tests/net/net.t, which runs it inside a network namespace it made and
 * checks the results in that namespace's /sys/class/net.
 *
 *   net-probe plug DOMID SPEC            plug vif 0 (SPEC an xl vif spec)
 *   net-probe unplug DOMID SPEC TAP      unplug it again
 *   net-probe mac SPEC                   the guest's MAC for vif 0
 *   net-probe create NAME | delete NAME  net_tap_create / net_tap_delete
 *   net-probe bridge-add BR IF | bridge-remove BR IF
 *
 * The domain has uuid 00112233-4455-6677-8899-aabbccddeeff.  Prints
 * "ok" and the result (the tap's name for plug) and exits 0, or prints
 * "error ENAME: WHY" and exits 1 (2 for a usage error).  Vif script
 * output goes to stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "domain.h"
#include "net.h"
#include "vif.h"

static int usage(void)
{
    fprintf(stderr, "usage: net-probe plug DOMID SPEC | unplug DOMID SPEC TAP |"
            " mac SPEC | create NAME | delete NAME | bridge-add BR IF |"
            " bridge-remove BR IF\n");
    return 2;
}

static int result(int r, const char *what, const char *why)
{
    if (r) {
        const char *name = strerrorname_np(-r);

        printf("error %s: %s\n", name ? name : "?", why);
        return 1;
    }
    printf("ok%s%s\n", what && *what ? " " : "", what ? what : "");
    return 0;
}

/* A domain with the one vif spec; 0 or 2 when spec does not parse. */
static int make_dom(const char *spec, struct domain_desc *dom, struct vif_spec *v)
{
    struct diag d;
    int r;

    memset(dom, 0, sizeof(*dom));
    diag_init(&d);
    r = vif_parse(spec, "net-probe", 1, 1, v, &d);
    if (r) {
        diag_print(&d, stderr, "net-probe");
        diag_dispose(&d);
        return 2;
    }
    diag_dispose(&d);
    dom->name = (char *)"probe";
    dom->vifs = v;
    dom->nvifs = 1;
    dom->has_uuid = true;
    for (int i = 0; i < 16; i++)
        dom->uuid[i] = (unsigned char)(i * 0x11);
    return 0;
}

int main(int argc, char **argv)
{
    struct domain_desc dom;
    struct vif_spec v;
    char why[4096] = "", tap[NET_IFNAME_SIZE], mac[18];
    const char *cmd = argc > 1 ? argv[1] : "";
    int r;

    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(cmd, "plug") && argc == 4) {
        if (make_dom(argv[3], &dom, &v))
            return 2;
        r = net_vif_plug(&dom, 0, atoi(argv[2]), STDERR_FILENO, tap, why, sizeof(why));
        vif_spec_dispose(&v);
        return result(r, tap, why);
    }
    if (!strcmp(cmd, "unplug") && argc == 5) {
        if (make_dom(argv[3], &dom, &v))
            return 2;
        r = net_vif_unplug(&dom, 0, argv[4], STDERR_FILENO, why, sizeof(why));
        vif_spec_dispose(&v);
        return result(r, NULL, why);
    }
    if (!strcmp(cmd, "mac") && argc == 3) {
        if (make_dom(argv[2], &dom, &v))
            return 2;
        r = net_guest_mac(&dom, 0, mac);
        vif_spec_dispose(&v);
        return result(r, mac, "no mac");
    }
    if (!strcmp(cmd, "create") && argc == 3)
        return result(net_tap_create(argv[2], 0, why, sizeof(why)), NULL, why);
    if (!strcmp(cmd, "delete") && argc == 3)
        return result(net_tap_delete(argv[2], why, sizeof(why)), NULL, why);
    if (!strcmp(cmd, "bridge-add") && argc == 4)
        return result(net_bridge_add(argv[2], argv[3], why, sizeof(why)), NULL, why);
    if (!strcmp(cmd, "bridge-remove") && argc == 4)
        return result(net_bridge_remove(argv[2], argv[3], why, sizeof(why)), NULL, why);
    return usage();
}
