/*
 * test-bootcfg - the boot config parsers (hypervisor/bootcfg.c) on
 * configs shaped like real ones (tests/unit/data/bootcfg: Debian 12's
 * grub.cfg, el7's, el9's blscfg one with its grubenv and BLS entries,
 * an extlinux.conf), the choice of entry, pygrub's bootloader_args, and
 * every bound.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootcfg.h"
#include "tap.h"

#define DATA "tests/unit/data/bootcfg/"

static char *slurp(const char *name, size_t *len)
{
    FILE *f = fopen(name, "rb");
    char *buf = malloc(BOOTCFG_MAX_SIZE);

    *len = f && buf ? fread(buf, 1, BOOTCFG_MAX_SIZE, f) : 0;
    if (f)
        fclose(f);
    if (!*len)
        printf("# cannot read %s\n", name);
    return buf;
}

static int grub(const char *text, struct bootcfg *cfg, char *why, size_t whylen)
{
    bootcfg_dispose(cfg);
    *why = '\0';
    return bootcfg_parse_grub("grub.cfg", text, strlen(text), cfg, why, whylen);
}

static const char *chosen(const struct bootcfg *cfg, const char *entry, char *note,
                          size_t notelen)
{
    char why[256];
    long i = bootcfg_choose(cfg, entry, note, notelen, why, sizeof(why));

    if (i < 0) {
        static char err[300];

        snprintf(err, sizeof(err), "error: %s", why);
        return err;
    }
    return cfg->entries[i].title;
}

static void test_debian(void)
{
    struct bootcfg cfg;
    size_t len;
    char *text = slurp(DATA "debian12-grub.cfg", &len), why[512] = "", note[256];
    const struct bootcfg_entry *e;

    bootcfg_init(&cfg);
    is_int(bootcfg_parse_grub("grub.cfg", text, len, &cfg, why, sizeof(why)), 0,
           "Debian 12 grub.cfg: %s", why);
    is_int(cfg.nentries, 5, "five entries (the submenu flattened)");
    is_str(cfg.default_spec, "0", "set default=\"0\" (the last set in an if/else)");
    e = &cfg.entries[0];
    is_str(e->title, "Debian GNU/Linux", "the first title");
    is_str(e->kernel, "/boot/vmlinuz-6.1.0-18-amd64", "its kernel");
    is_str(e->cmdline, "root=UUID=0f6c2f5e-6e0b-4b0b-9a7d-5c9a1b2c3d4e ro console=hvc0 quiet",
           "its command line");
    is_int(e->ninitrds, 1, "one initrd");
    is_str(e->initrds[0], "/boot/initrd.img-6.1.0-18-amd64", "the initrd");
    is_str(cfg.entries[2].index, "1>1", "grub's numbering inside a submenu");
    is_str(cfg.entries[2].cmdline,
           "root=UUID=0f6c2f5e-6e0b-4b0b-9a7d-5c9a1b2c3d4e ro single console=hvc0",
           "the recovery entry");
    is_str(cfg.entries[4].index, "2", "after the submenu");
    ok(!cfg.entries[4].kernel, "the firmware entry boots no kernel");
    is_str(chosen(&cfg, NULL, note, sizeof(note)), "Debian GNU/Linux", "the default");
    is_str(note, "", "no note");
    is_str(chosen(&cfg, "1>2", note, sizeof(note)), "Debian GNU/Linux, with Linux 6.1.0-17-amd64",
           "--entry=1>2");
    is_str(chosen(&cfg, "Debian GNU/Linux, with Linux 6.1.0-17-amd64", note, sizeof(note)),
           "Debian GNU/Linux, with Linux 6.1.0-17-amd64", "--entry=TITLE");
    is_str(chosen(&cfg, "Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux"
                  " 6.1.0-17-amd64", note, sizeof(note)),
           "Debian GNU/Linux, with Linux 6.1.0-17-amd64", "grub-set-default's SUBMENU>TITLE");
    ok(!strncmp(chosen(&cfg, "2", note, sizeof(note)), "error: entry 2 `UEFI Firmware"
                " Settings' boots no Linux kernel", 60), "an entry without linux is refused");
    ok(strstr(chosen(&cfg, "9", note, sizeof(note)), "no entry `9'") != NULL,
       "an entry that is not there");
    bootcfg_dispose(&cfg);
    free(text);
}

static void test_el(void)
{
    struct bootcfg cfg;
    size_t len, envlen;
    char *text = slurp(DATA "el7-grub.cfg", &len), why[512] = "", note[256], *store = NULL;
    char *env = slurp(DATA "grubenv", &envlen);
    struct bootcfg_var vars[16];
    int n;
    static const char *const bls[] = {
        "c0ffee-0-rescue.conf", "c0ffee-5.14.0-70.13.1.el9_0.x86_64.conf",
        "c0ffee-5.14.0-362.8.1.el9_3.x86_64.conf",
    };

    bootcfg_init(&cfg);
    is_int(bootcfg_parse_grub("grub.cfg", text, len, &cfg, why, sizeof(why)), 0,
           "el7 grub.cfg: %s", why);
    is_int(cfg.nentries, 2, "two entries");
    is_str(cfg.entries[0].kernel, "/vmlinuz-3.10.0-1160.el7.x86_64", "linux16");
    is_str(cfg.entries[0].initrds[0], "/initramfs-3.10.0-1160.el7.x86_64.img", "initrd16");
    is_str(chosen(&cfg, NULL, note, sizeof(note)),
           "CentOS Linux (3.10.0-1160.el7.x86_64) 7 (Core)",
           "the default (an unset saved_entry, then grub's SUBMENU>TITLE rewrite)");
    free(text);

    text = slurp(DATA "el9-grub.cfg", &len);
    bootcfg_dispose(&cfg);
    is_int(bootcfg_parse_grub("grub.cfg", text, len, &cfg, why, sizeof(why)), 0,
           "el9 grub.cfg: %s", why);
    ok(cfg.blscfg && !cfg.nentries, "runs blscfg, has no menuentry");
    free(text);

    n = bootcfg_parse_grubenv(env, envlen, vars, 16, &store);
    is_int(n, 3, "grubenv: three variables");
    is_str(n > 0 ? vars[0].name : NULL, "saved_entry", "saved_entry");
    bootcfg_dispose(&cfg);
    for (size_t i = 0; i < 3; i++) {
        char path[256];

        snprintf(path, sizeof(path), DATA "%s", bls[i]);
        text = slurp(path, &len);
        is_int(bootcfg_add_bls(path, text, len, vars, n > 0 ? (size_t)n : 0, &cfg, why,
                               sizeof(why)), 0, "BLS %s: %s", bls[i], why);
        free(text);
    }
    bootcfg_sort_bls(&cfg);
    is_str(cfg.entries[0].id, "c0ffee-5.14.0-362.8.1.el9_3.x86_64", "newest version first");
    is_str(cfg.entries[1].id, "c0ffee-5.14.0-70.13.1.el9_0.x86_64", "then the older");
    is_str(cfg.entries[2].id, "c0ffee-0-rescue", "rescue (version 0) last");
    is_str(cfg.entries[1].cmdline, "root=/dev/mapper/rl-root ro crashkernel=1G-4G:192M"
           " resume=/dev/mapper/rl-swap ", "$kernelopts from grubenv, unknown $vars empty");
    is_int(cfg.entries[1].ninitrds, 1, "an initrd that is an unset variable is dropped");
    is_str(cfg.entries[1].index, "1", "renumbered");
    free(cfg.default_spec);
    cfg.default_spec = strdup(vars[0].value);
    is_str(chosen(&cfg, NULL, note, sizeof(note)),
           "Rocky Linux (5.14.0-70.13.1.el9_0.x86_64) 9.0 (Blue Onyx)", "saved_entry by id");
    bootcfg_dispose(&cfg);
    free(store);
    free(env);
}

static void test_extlinux(void)
{
    struct bootcfg cfg;
    size_t len;
    char *text = slurp(DATA "extlinux.conf", &len), why[512] = "", note[256];

    bootcfg_init(&cfg);
    is_int(bootcfg_parse_extlinux("extlinux.conf", text, len, &cfg, why, sizeof(why)), 0,
           "extlinux.conf: %s", why);
    is_int(cfg.nentries, 2, "two labels");
    is_str(cfg.default_spec, "l0", "MENU DEFAULT wins over DEFAULT menu.c32");
    is_str(chosen(&cfg, NULL, note, sizeof(note)), "Debian GNU/Linux, kernel 6.1.0-18-amd64",
           "MENU LABEL is the title");
    is_str(cfg.entries[0].initrds[0], "/boot/initrd.img-6.1.0-18-amd64", "initrd= in APPEND");
    is_int(cfg.entries[1].ninitrds, 2, "INITRD a,b");
    is_str(cfg.entries[1].cmdline, "", "APPEND -");
    is_str(chosen(&cfg, "l0r", note, sizeof(note)),
           "Debian GNU/Linux, kernel 6.1.0-18-amd64 (rescue target)", "--entry=LABEL");
    bootcfg_dispose(&cfg);
    free(text);
}

static void test_grub_syntax(void)
{
    struct bootcfg cfg;
    char why[512] = "", note[256];

    bootcfg_init(&cfg);
    is_int(grub("set v=1.0\nset default=saved\nmenuentry \"A $v\" { linux /k-${v} a=\"b c\" 'd e' x\\ y; initrd /i }\n",
                &cfg, why, sizeof(why)), 0, "one-line entry: %s", why);
    is_str(cfg.entries[0].title, "A 1.0", "$v in a double-quoted title");
    is_str(cfg.entries[0].kernel, "/k-1.0", "${v} in a path");
    is_str(cfg.entries[0].cmdline, "a=b c d e x y", "quotes and escapes");
    is_str(chosen(&cfg, NULL, note, sizeof(note)), "A 1.0", "default=saved: the first");
    ok(strstr(note, "saved") != NULL, "with a note: %s", note);
    is_int(grub("menuentry 'x' {\n set v=1\n linux /a$v\n}\nmenuentry y {\n linux /b$v # c\n}\n",
                &cfg, why, sizeof(why)), 0, "%s", why);
    is_str(cfg.entries[1].kernel, "/b", "a set inside an entry stays in it");
    is_str(cfg.entries[1].cmdline, "", "a comment ends the line");
    is_int(grub("set default=nope\nmenuentry x { linux /k }\n", &cfg, why, sizeof(why)), 0,
           "%s", why);
    is_str(chosen(&cfg, NULL, note, sizeof(note)), "x", "an unknown default: the first");
    ok(strstr(note, "nope") != NULL, "noted: %s", note);

    is_int(grub("menuentry x {\n linux /k\n", &cfg, why, sizeof(why)), -EINVAL, "unclosed");
    is_str(why, "grub.cfg:2: end of file inside a menuentry block", "said so");
    is_int(grub("}\n", &cfg, why, sizeof(why)), -EINVAL, "a stray }");
    is_str(why, "grub.cfg:1: `}' without a block to close", "said so");
    is_int(grub("menuentry 'x {\n}\n", &cfg, why, sizeof(why)), -EINVAL, "open quote");
    is_str(why, "grub.cfg:1: unterminated quote", "said so");
    is_int(grub("menuentry x {\n menuentry y {\n }\n}\n", &cfg, why, sizeof(why)), -EINVAL,
           "an entry in an entry");
    is_int(grub("menuentry {\n}\n", &cfg, why, sizeof(why)), -EINVAL, "no title");
    is_int(grub("menuentry x {\n linux\n}\n", &cfg, why, sizeof(why)), -EINVAL,
           "linux without a kernel");
    is_str(why, "grub.cfg:2: linux without a kernel", "said so");
    bootcfg_dispose(&cfg);
}

static void test_bounds(void)
{
    struct bootcfg cfg;
    char why[512] = "", *text;
    size_t n = BOOTCFG_MAX_SIZE + 1;

    bootcfg_init(&cfg);
    text = calloc(1, n + 1);
    memset(text, '\n', n);
    is_int(bootcfg_parse_grub("grub.cfg", text, n, &cfg, why, sizeof(why)), -EINVAL,
           "over BOOTCFG_MAX_SIZE");
    ok(strstr(why, "more than the 1048576") != NULL, "%s", why);
    bootcfg_dispose(&cfg);
    memset(text, 'a', BOOTCFG_MAX_LINE + 1);
    is_int(bootcfg_parse_grub("grub.cfg", text, BOOTCFG_MAX_LINE + 1, &cfg, why, sizeof(why)),
           -EINVAL, "a line too long");
    is_str(why, "grub.cfg:1: a line longer than 8192 bytes", "said so");
    bootcfg_dispose(&cfg);
    is_int(bootcfg_parse_grub("grub.cfg", "a\0b", 3, &cfg, why, sizeof(why)), -EINVAL,
           "a NUL byte");
    free(text);

    text = calloc(1, 300 * 40);
    for (int i = 0, o = 0; i < 300; i++)
        o += sprintf(text + o, "menuentry e%d { linux /k }\n", i);
    is_int(grub(text, &cfg, why, sizeof(why)), -EINVAL, "too many entries");
    is_str(why, "grub.cfg:257: more than 256 menu entries", "said so");
    free(text);

    text = calloc(1, 64 * 20);
    for (int i = 0, o = 0; i < 64; i++)
        o += sprintf(text + o, "submenu s%d {\n", i);
    is_int(grub(text, &cfg, why, sizeof(why)), -EINVAL, "deep nesting");
    is_str(why, "grub.cfg:9: blocks nested deeper than 8", "said so");
    free(text);

    text = calloc(1, 200 * 20);
    for (int i = 0, o = 0; i < 200; i++)
        o += sprintf(text + o, "set v%d=x\n", i);
    is_int(grub(text, &cfg, why, sizeof(why)), -EINVAL, "too many variables");
    is_str(why, "grub.cfg:129: more than 128 variables", "said so");
    free(text);

    /* a variable doubled until it is too long */
    text = calloc(1, 20 * 40);
    for (int i = 0, o = sprintf(text, "set a=0123456789abcdef\n"); i < 12; i++)
        o += sprintf(text + o, "set a=$a$a\n");
    is_int(grub(text, &cfg, why, sizeof(why)), -EINVAL, "expansion bounded");
    ok(strstr(why, "a word longer than 8192 bytes") != NULL, "%s", why);
    free(text);

    is_int(grub("menuentry x { linux /k\n initrd 1 2 3 4 5 6 7 8 9\n}\n", &cfg, why,
                sizeof(why)), -EINVAL, "too many initrds");
    bootcfg_dispose(&cfg);
    is_int(bootcfg_add_bls("x.conf", "initrd 1 2 3 4 5 6 7 8 9\n", 26, NULL, 0, &cfg, why,
                           sizeof(why)), -EINVAL, "BLS: too many initrds");
    is_int(cfg.nentries, 0, "and no entry left behind");
    bootcfg_dispose(&cfg);
    is_int(bootcfg_parse_extlinux("e", "LABEL a\nINITRD 1,2,3,4,5,6,7,8,9\n", 33, &cfg, why,
                                  sizeof(why)), -EINVAL, "extlinux: too many initrds");
    bootcfg_dispose(&cfg);
}

static void test_args(void)
{
    struct bootcfg_args a;
    char why[256];

    is_int(bootcfg_parse_args((const char *const[]){ "--entry=1>2", "--kernel=/k",
                              "--ramdisk=/r", "--args=a b" }, 4, &a, why, sizeof(why)), 0,
           "pygrub's four");
    ok(!strcmp(a.entry, "1>2") && !strcmp(a.kernel, "/k") && !strcmp(a.ramdisk, "/r") &&
       !strcmp(a.args, "a b"), "each in its place");
    is_int(bootcfg_parse_args((const char *const[]){ "-q" }, 1, &a, why, sizeof(why)), -EINVAL,
           "anything else");
    ok(strstr(why, "`-q' is not one of") != NULL, "%s", why);
    is_int(bootcfg_parse_args(NULL, 0, &a, why, sizeof(why)), 0, "none");
    ok(!a.entry && !a.kernel, "all unset");
}

int main(void)
{
    test_debian();
    test_el();
    test_extlinux();
    test_grub_syntax();
    test_bounds();
    test_args();
    return tap_done();
}
