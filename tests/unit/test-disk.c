/*
 * test-disk - xl disk specifications (the cases agree with libxlutil 4.17;
 * the differential test checks the corpus against libxlutil itself).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "tap.h"

struct want {
    const char *spec;
    const char *target, *vdev, *format;
    int rw, cdrom;
    const char *script;
};

static const struct want good[] = {
    { "phy:/dev/vg0/web1-disk,xvda2,w", "/dev/vg0/web1-disk", "xvda2", "raw", 1, 0, NULL },
    { "phy:/dev/vg/x, xvda, w", "/dev/vg/x", "xvda", "raw", 1, 0, NULL },
    { "file:/srv/xen/web1.img,xvda1,r", "/srv/xen/web1.img", "xvda1", "raw", 0, 0, NULL },
    { "tap:aio:/x.img,xvda1,w", "/x.img", "xvda1", "raw", 1, 0, NULL },
    { "tap2:qcow2:/y.q,hda,r", "/y.q", "hda", "qcow2", 0, 0, NULL },
    { "qcow2:/y.q,hda", "/y.q", "hda", "qcow2", 1, 0, NULL },
    { "/img,raw,xvda,rw", "/img", "xvda", "raw", 1, 0, NULL },
    { "/img,qcow2,xvdb", "/img", "xvdb", "qcow2", 1, 0, NULL },
    { "/img,,xvdc", "/img", "xvdc", "raw", 1, 0, NULL },
    { "/iso,raw,hdc,cdrom", "/iso", "hdc", "raw", 0, 1, NULL },
    { ",,hdc:cdrom,r", "", "hdc", "empty", 0, 1, NULL },
    { ",hdc:cdrom,r", "", "hdc", "empty", 0, 1, NULL },
    { "/c,qcow2,xvdc:cdrom", "/c", "xvdc", "qcow2", 0, 1, NULL },
    { "vdev=hdd,devtype=cdrom", NULL, "hdd", "empty", 0, 1, NULL },
    { "format=qcow2,vdev=xvdb,target=/a,b", "/a,b", "xvdb", "qcow2", 1, 0, NULL },
    { "vdev=xvda,access=ro,target=/x", "/x", "xvda", "raw", 0, 0, NULL },
    { "iscsi:iqn.2001-05.com.example:disk,xvde", "iqn.2001-05.com.example:disk", "xvde", "raw", 1, 0, "block-iscsi" },
    { "nbd:host:1234,xvda", "host:1234", "xvda", "raw", 1, 0, "block-nbd" },
    { "/a,raw,xvda,rw,cdrom", "/a", "xvda", "raw", 0, 1, NULL },
    { "script=block-drbd,vdev=xvdf,target=r0", "r0", "xvdf", "raw", 1, 0, "block-drbd" },
};

static const char *const bad[] = {
    "/a",                               /* no vdev */
    "/a,xvda,w",                        /* xvda is not a format */
    "foo:/a,xvda",                      /* unknown prefix */
    "vdev=xvda,access=x,target=/a",     /* bad access */
    "/a,raw,xvda,w,extra",              /* too many positionals */
    "vdev=xvda,devtype=floppy,target=/a",
    "vdev=xvda,vdev=xvdb,target=/x",    /* respecified */
    "format=raw,format=qcow2,vdev=xvdb,target=/x",
    "a=b=c",
    "transport=mmio,vdev=xvdf,target=/f", /* not in Xen 4.17 */
    "vdev=xvda",                        /* no target, not a cdrom */
    "colo-port=0,vdev=xvdf,target=/f",
};

int main(void)
{
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const struct want *w = &good[i];
        struct disk_spec k;
        struct diag d;
        char *again;

        diag_init(&d);
        disk_spec_init(&k);
        if (!ok(disk_parse(w->spec, "t.cfg", 3, 9, &k, &d) == 0, "`%s' parses", w->spec)) {
            diag_print(&d, stdout, "#");
            continue;
        }
        is_str(k.target, w->target, "  target");
        is_str(k.vdev, w->vdev, "  vdev");
        is_str(disk_format_name(k.format), w->format, "  format");
        ok(k.readwrite == w->rw && k.cdrom == w->cdrom, "  access %s, %s", w->rw ? "rw" : "ro",
           w->cdrom ? "cdrom" : "disk");
        is_str(k.script, w->script, "  script");

        again = disk_format_spec(&k);
        struct disk_spec k2;
        disk_spec_init(&k2);
        ok(again && disk_parse(again, "t", 1, 1, &k2, &d) == 0 &&
           !strcmp(k2.vdev, k.vdev) && k2.format == k.format &&
           k2.readwrite == k.readwrite && k2.cdrom == k.cdrom &&
           ((!k2.target && !k.target) || (k2.target && k.target && !strcmp(k2.target, k.target))),
           "  formats back as `%s' and reads the same", again ? again : "(null)");
        free(again);
        disk_spec_dispose(&k2);
        disk_spec_dispose(&k);
        diag_dispose(&d);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct disk_spec k;
        struct diag d;

        diag_init(&d);
        disk_spec_init(&k);
        ok(disk_parse(bad[i], "t.cfg", 3, 9, &k, &d) == -EINVAL && d.nerrors >= 1 &&
           d.v[0].line == 3 && d.v[0].col == 9 && strstr(d.v[0].msg, bad[i]),
           "`%s' is refused, at the spec's position, quoting it", bad[i]);
        disk_spec_dispose(&k);
        diag_dispose(&d);
    }
    return tap_done();
}
