/*
 * test-domain - typed interpretation of a config and the config writer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "domain.h"
#include "tap.h"

/* Parses and validates text into dom; returns domain_from_cfg's result
 * (or the parse error).  d is left for the caller to inspect and dispose. */
static int load(const char *text, struct domain_desc *dom, struct diag *d)
{
    struct cfg *cfg = NULL;
    int r;

    diag_init(d);
    domain_init(dom);
    r = cfg_parse("t.cfg", text, strlen(text), &cfg, d);
    if (r == 0)
        r = domain_from_cfg(cfg, dom, d);
    cfg_free(cfg);
    return r;
}

static int has_msg(const struct diag *d, enum diag_level level, const char *part)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].level == level && strstr(d->v[i].msg, part))
            return 1;
    return 0;
}

#define CHECK(text, expr, ...) do {                         \
        struct domain_desc dom;                             \
        struct diag d;                                      \
        int r = load((text), &dom, &d);                     \
        ok((expr), __VA_ARGS__);                            \
        (void)r;                                            \
        domain_dispose(&dom);                               \
        diag_dispose(&d);                                   \
    } while (0)

static void test_types(void)
{
    CHECK("name = \"a\"\n", r == 0 && dom.type == DOMAIN_PV, "type defaults to pv");
    CHECK("name = \"a\"\ntype = \"pvh\"\n", r == 0 && dom.type == DOMAIN_PVH, "type = pvh");
    CHECK("name = \"a\"\nbuilder = \"hvm\"\n", r == 0 && dom.type == DOMAIN_HVM, "old builder = hvm");
    CHECK("name = \"a\"\nbuilder = \"generic\"\n", r == 0 && dom.type == DOMAIN_PV, "builder = generic is pv");
    CHECK("name = \"a\"\nbuilder = \"h\"\n", r == 0 && dom.type == DOMAIN_HVM, "a prefix of hvm is hvm, as in xl");
    CHECK("name = \"a\"\ntype = \"pv\"\nbuilder = \"hvm\"\n",
          r == 0 && dom.type == DOMAIN_PV && has_msg(&d, DIAG_WARNING, "`builder' is ignored"),
          "type wins over builder, with a warning");
    CHECK("name = \"a\"\npvh = 1\n", r == 0 && dom.type == DOMAIN_PVH, "old pvh = 1");
    CHECK("name = \"a\"\ntype = \"xen\"\n", r == -EINVAL && has_msg(&d, DIAG_ERROR, "expected pv, pvh or hvm"),
          "a bad type is an error naming the choices");
}

static void test_general(void)
{
    CHECK("memory = 1\n", r == -EINVAL && has_msg(&d, DIAG_ERROR, "no `name'"), "name is required");
    CHECK("name = \"12\"\n", r == -EINVAL, "an all-digit name is refused (it would look like a domid)");
    CHECK("name = \"a/b\"\n", r == -EINVAL, "a name with / is refused");
    CHECK("name = \"a\"\nmemory = \"lots\"\n", r == -EINVAL && d.v[0].line == 2 && d.v[0].col == 10,
          "a non-numeric memory is an error at the value");
    CHECK("name = \"a\"\nmemory = 1024\nmaxmem = 512\n", r == -EINVAL && has_msg(&d, DIAG_ERROR, "less than `memory'"),
          "maxmem below memory is an error");
    CHECK("name = \"a\"\nmemory = 1024\n", r == 0 && dom.memory == 1024 && dom.maxmem == 1024,
          "maxmem defaults to memory");
    CHECK("name = \"a\"\nvcpus = 4\nmaxvcpus = 2\n", r == -EINVAL, "maxvcpus below vcpus is an error");
    CHECK("name = \"a\"\nuuid = \"4a1d3e0c-5b7f-4c2e-9a8d-0f1e2d3c4b5a\"\n",
          r == 0 && dom.has_uuid && dom.uuid[0] == 0x4a && dom.uuid[15] == 0x5a, "uuid parses");
    CHECK("name = \"a\"\nuuid = \"4a1d3e0c-5b7f-4c2e-9a8d-0f1e2d3c4b5\"\n", r == -EINVAL, "a short uuid is an error");
    CHECK("name = \"a\"\non_crash = \"preserve\"\non_reboot = \"rename-restart\"\non_watchdog = \"coredump-restart\"\n",
          r == 0 && dom.on_crash == ACTION_PRESERVE && dom.on_reboot == ACTION_RENAME_RESTART &&
          dom.on_watchdog == ACTION_COREDUMP_RESTART && dom.on_poweroff == ACTION_DESTROY,
          "lifecycle actions, with defaults");
    CHECK("name = \"a\"\non_crash = \"explode\"\n", r == -EINVAL && has_msg(&d, DIAG_ERROR, "coredump-restart"),
          "an unknown action is an error listing the actions");
    CHECK("name = \"a\"\naccel = \"tcg\"\n", r == 0 && dom.accel == ACCEL_TCG, "accel = tcg (vmkit key)");
}

static void test_cpus(void)
{
    CHECK("name = \"a\"\ncpus = \"0-3,5,^1\"\n", r == 0 && dom.ncpus == 1 && !strcmp(dom.cpus[0].text, "0,2-3,5"),
          "cpus \"0-3,5,^1\" is 0,2-3,5");
    CHECK("name = \"a\"\ncpus = \"^1\"\n", r == 0 && !strncmp(dom.cpus[0].text, "0,2-", 4), "\"^1\" alone is every CPU but 1");
    CHECK("name = \"a\"\ncpus = \"all\"\n", r == 0 && !strcmp(dom.cpus[0].text, "0-4095"), "\"all\"");
    CHECK("name = \"a\"\nvcpus = 2\ncpus = [\"2\", \"3-4\"]\n",
          r == 0 && dom.cpus_per_vcpu && dom.ncpus == 2 && !strcmp(dom.cpus[1].text, "3-4"),
          "a cpus list gives one set per vcpu");
    CHECK("name = \"a\"\ncpus = \"3-1\"\n", r == -EINVAL && has_msg(&d, DIAG_ERROR, "upwards"), "a backwards range is an error");
    CHECK("name = \"a\"\ncpus = \"0-9999\"\n", r == -EINVAL, "a CPU beyond 4095 is an error");
    CHECK("name = \"a\"\ncpus_soft = \"1,x\"\n", r == -EINVAL, "cpus_soft is checked too");
    CHECK("name = \"a\"\ncpu_weight = 512\ncap = 50\n", r == 0 && dom.cpu_weight == 512 && dom.cap == 50, "cpu_weight and cap");
    CHECK("name = \"a\"\ncpu_weight = 0\n", r == -EINVAL, "cpu_weight 0 is out of range");
}

static void test_cmdline(void)
{
    {
    char *c;
    struct domain_desc dom;
    struct diag d;

    load("name = \"a\"\nroot = \"/dev/xvda2 ro\"\nextra = \"console=hvc0\"\n", &dom, &d);
    c = domain_cmdline(&dom);
    is_str(c, "root=/dev/xvda2 ro console=hvc0", "root + extra make the command line");
    free(c);
    domain_dispose(&dom);
    diag_dispose(&d);

    load("name = \"a\"\ncmdline = \"quiet\"\nroot = \"/dev/xvda1\"\n", &dom, &d);
    c = domain_cmdline(&dom);
    is_str(c, "quiet", "cmdline wins over root/extra");
    ok(!dom.root && has_msg(&d, DIAG_WARNING, "ignored"), "...and they are dropped with a warning");
    free(c);
    domain_dispose(&dom);
    diag_dispose(&d);
    }

    CHECK("name = \"a\"\nbootloader = \"pygrub\"\nbootloader_args = [\"--entry=1\"]\n",
          r == 0 && dom.nbootloader_args == 1 && !strcmp(dom.bootloader_args[0], "--entry=1"), "bootloader_args list");
    CHECK("name = \"a\"\nbootloader_args = \"--kernel=/vmlinuz  --ramdisk=/initrd\"\n",
          r == 0 && dom.nbootloader_args == 2 && has_msg(&d, DIAG_WARNING, "split at blanks"),
          "bootloader_args string is split, with a warning");
}

static void test_devices_and_extras(void)
{
    CHECK("name = \"a\"\ndisk = [ 'phy:/dev/vg0/a-disk,xvda2,w', 'phy:/dev/vg0/a-swap,xvda1,w' ]\n"
          "vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]\n",
          r == 0 && dom.ndisks == 2 && dom.nvifs == 1 && !strcmp(dom.vifs[0].bridge, "xenbr0"),
          "disks and vifs are read");
    CHECK("name = \"a\"\ndisk = [ 'phy:/x,xvda,w', '/bad' ]\n", r == -EINVAL && has_msg(&d, DIAG_ERROR, "no vdev"),
          "a bad disk item is a config error");
    CHECK("name = \"a\"\ndisk = 'phy:/x,xvda,w'\n", r == -EINVAL && has_msg(&d, DIAG_ERROR, "should be a list"),
          "disk must be a list");
    CHECK("name = \"a\"\ndisk = [ ['phy:/x,xvda,w'] ]\n", r == -EINVAL, "a nested list in disk is an error");
    CHECK("name = \"a\"\npci = [ '0000:01:00.0' ]\nfrobnicate = 1\n",
          r == 0 && dom.nextras == 2 && dom.extras[0].known && !dom.extras[1].known &&
          has_msg(&d, DIAG_WARNING, "kept, not applied") && has_msg(&d, DIAG_WARNING, "unknown key `frobnicate'"),
          "unsupported and unknown keys are kept, with warnings");
    CHECK("name = \"a\"\nvnc = 1\n", r == 0 && has_msg(&d, DIAG_WARNING, "hvm guests only"),
          "an hvm key on a pv guest warns");
    CHECK("name = \"a\"\ntype = \"hvm\"\nboot = \"dc\"\nserial = \"pty\"\nvnc = 1\nvncdisplay = 3\nusbdevice = [\"tablet\"]\n",
          r == 0 && !strcmp(dom.boot, "dc") && dom.nserial == 1 && dom.vnc == 1 && dom.vncdisplay == 3 &&
          dom.nusbdevice == 1, "hvm keys");
    CHECK("name = \"a\"\ntype = \"hvm\"\nboot = \"z\"\n", r == -EINVAL, "a bad boot letter is an error");
}

static void test_writer(void)
{
    static const char *const configs[] = {
        "name = \"web1\"\nmemory = 256\nmaxmem = 512\nvcpus = 2\nkernel = \"/boot/vmlinuz\"\n"
        "ramdisk = \"/boot/initrd.img\"\nroot = \"/dev/xvda2 ro\"\nextra = \"console=hvc0 elevator=noop\"\n"
        "disk = [ 'phy:/dev/vg0/web1-disk,xvda2,w', 'phy:/dev/vg0/web1-swap,xvda1,w' ]\n"
        "vif = [ 'ip=192.0.2.10,mac=00:16:3e:12:34:56,bridge=br0,rate=10Mb/s' ]\n"
        "on_crash = 'preserve'\ncpus = [\"0\", \"1-2\"]\npci = ['01:00.0']\nvnuma = [ [\"pnode=0\", \"size=256\"] ]\n",
        "name = \"w\"\ntype = \"hvm\"\nuuid = \"00000000-0000-4000-8000-000000000001\"\n"
        "disk = [ '/srv/w.qcow2,qcow2,hda,w', ',,hdc:cdrom,r' ]\nboot = \"dc\"\nserial = 'pty'\n"
        "vnc = 1\nvnclisten = \"127.0.0.1\"\nsdl = 0\nstdvga = 1\nusbdevice = 'tablet'\naccel = \"tcg\"\n"
        "cmdline = \"weird \\\"quotes\\\" and \\\\ backslash\\ttab\"\n",
    };

    for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
        struct domain_desc a, b;
        struct diag d1, d2;
        char *text;
        json_object *ja, *jb;

        ok(load(configs[i], &a, &d1) == 0, "config %zu validates", i);
        text = domain_write_cfg(&a);
        ok(text != NULL, "...and is written");
        ok(text && load(text, &b, &d2) == 0, "...and the written config validates");
        ja = domain_to_json(&a);
        jb = domain_to_json(&b);
        ok(json_object_equal(ja, jb), "...to the same description");
        if (!json_object_equal(ja, jb))
            printf("# written:\n%s\n# before %s\n# after  %s\n", text ? text : "",
                   json_object_to_json_string(ja), json_object_to_json_string(jb));
        json_object_put(ja);
        json_object_put(jb);
        free(text);
        domain_dispose(&a);
        domain_dispose(&b);
        diag_dispose(&d1);
        diag_dispose(&d2);
    }
}

int main(void)
{
    test_types();
    test_general();
    test_cpus();
    test_cmdline();
    test_devices_and_extras();
    test_writer();
    return tap_done();
}
