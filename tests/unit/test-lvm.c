/*
 * test-lvm - the pure parts of provision/lvm.c: the names lvm takes
 * (lvm_name_ok), VG/POOL (lvm_split_pool), device paths (lvm_path),
 * `lvm lvs' output as lvm_list asks for it (lvm_parse_lvs, lvm_find),
 * and the --lvm and --lvm-thin options, on the command line and in a
 * settings file.  Nothing here runs lvm: the volumes themselves are
 * tested inside the test host (tests/lvm/lvm.t).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "lvm.h"
#include "options.h"
#include "settings.h"
#include "tap.h"

/* The first diagnostic as FILE:LINE:COL: MSG, or "(none)" (a static buffer). */
static const char *first(const struct diag *d)
{
    static char buf[1024];

    if (!d->n)
        return "(none)";
    snprintf(buf, sizeof buf, "%s:%d:%d: %s", d->v[0].file ? d->v[0].file : "-",
             d->v[0].line, d->v[0].col, d->v[0].msg);
    return buf;
}

/* ---- lvm_name_ok ---- */

static void name_is(const char *name, bool want, const char *why_has, const char *label)
{
    const char *why = "(not set)";
    bool got = lvm_name_ok(name, &why);

    ok(got == want, "lvm_name_ok(%s) is %s", label, want ? "true" : "false");
    if (want)
        ok(why == NULL, "  ... and *why is NULL");
    else
        ok(why && strstr(why, why_has), "  ... saying why (%s)", why ? why : "NULL");
}

static void test_names(void)
{
    char longest[129];

    name_is("vg0", true, NULL, "vg0");
    name_is("web1-disk", true, NULL, "web1-disk");
    name_is("web1-disk.new-12345", true, NULL, "a run's new volume");
    name_is("web1-disk-snap-20261124-101500", true, NULL, "a snapshot's name");
    name_is("A+b_c.d-e9", true, NULL, "every allowed character");
    name_is("snap", true, NULL, "snap (not snapshot)");
    name_is("my_tmeta_x", false, "part lvm keeps", "a reserved part inside");
    name_is("data_tmeta", false, "part lvm keeps", "_tmeta");
    name_is("_tdata", false, "part lvm keeps", "_tdata");
    name_is("x_cdata", false, "part lvm keeps", "_cdata");
    name_is("x_rimage_0", false, "part lvm keeps", "_rimage");
    name_is("x_pmspare", false, "part lvm keeps", "_pmspare");
    name_is("x_vorigin", false, "part lvm keeps", "_vorigin");
    name_is("tmeta", true, NULL, "tmeta without the underscore");

    memset(longest, 'a', 127);
    longest[127] = '\0';
    name_is(longest, true, NULL, "127 characters");
    memset(longest, 'a', 128);
    longest[128] = '\0';
    name_is(longest, false, "127", "128 characters");

    name_is("", false, "empty", "\"\"");
    name_is(NULL, false, "empty", "NULL");
    name_is("bad name", false, "letters, digits", "a space");
    name_is("vg0/pool", false, "letters, digits", "a slash");
    name_is("a:b", false, "letters, digits", "a colon");
    name_is("caf\xc3\xa9", false, "letters, digits", "UTF-8");
    name_is("x\ny", false, "letters, digits", "a newline");
    name_is("-vg", false, "starts with", "a leading -");
    name_is("--", false, "starts with", "--");
    name_is(".", false, "not names", ".");
    name_is("..", false, "not names", "..");
    name_is("...", true, NULL, "... (lvm takes it)");
    name_is(".hidden", true, NULL, "a leading .");
    name_is("snapshot", false, "snapshot", "snapshot");
    name_is("snapshot1", false, "snapshot", "snapshot1");
    name_is("pvmove", false, "pvmove", "pvmove");
    name_is("pvmove0", false, "pvmove", "pvmove0");
    name_is("my-snapshot", true, NULL, "snapshot not at the start");

    ok(lvm_name_ok("vg0", NULL), "lvm_name_ok takes a NULL why");
    ok(!lvm_name_ok("-x", NULL), "  ... for a bad name too");
}

/* ---- lvm_split_pool ---- */

static void split_bad(const char *spec, const char *why_has, const char *label)
{
    char *vg = (char *)"x", *pool = (char *)"x";
    const char *why = NULL;
    int r = lvm_split_pool(spec, &vg, &pool, &why);

    is_int(r, -EINVAL, "lvm_split_pool(%s) is -EINVAL", label);
    ok(vg == NULL && pool == NULL, "  ... with both results NULL");
    ok(why && strstr(why, why_has), "  ... saying why (%s)", why ? why : "NULL");
}

static void test_split_pool(void)
{
    char *vg = NULL, *pool = NULL;
    const char *why = "(not set)";
    int r;

    r = lvm_split_pool("vg0/pool", &vg, &pool, &why);
    is_int(r, 0, "lvm_split_pool(vg0/pool)");
    is_str(vg, "vg0", "  ... the volume group");
    is_str(pool, "pool", "  ... the pool");
    free(vg);
    free(pool);

    r = lvm_split_pool("data-vg/thin_pool.1", &vg, &pool, &why);
    is_int(r, 0, "lvm_split_pool(data-vg/thin_pool.1)");
    is_str(vg, "data-vg", "  ... the volume group");
    is_str(pool, "thin_pool.1", "  ... the pool");
    free(vg);
    free(pool);

    split_bad("vg0", "VG/POOL", "vg0, no slash");
    split_bad("", "VG/POOL", "\"\"");
    split_bad(NULL, "VG/POOL", "NULL");
    split_bad("/pool", "VG/POOL", "/pool, no volume group");
    split_bad("vg0/", "VG/POOL", "vg0/, no pool");
    split_bad("/", "VG/POOL", "/");
    split_bad("vg0/pool/x", "letters, digits", "vg0/pool/x");
    split_bad("bad vg/pool", "letters, digits", "a bad volume group");
    split_bad("vg0/-pool", "starts with", "a pool starting with -");
    split_bad("vg0/pool_tdata", "part lvm keeps", "a reserved pool name");
    split_bad("../pool", "not names", "../pool");
}

/* ---- lvm_path ---- */

static void test_path(void)
{
    char *p = lvm_path("vg0", "web1-disk");

    is_str(p, "/dev/vg0/web1-disk", "lvm_path(vg0, web1-disk)");
    free(p);
    p = lvm_path("data-vg", "web1-disk-snap-20261124-101500");
    is_str(p, "/dev/data-vg/web1-disk-snap-20261124-101500", "lvm_path of a snapshot");
    free(p);
}

/* ---- lvm_parse_lvs, lvm_find ---- */

/* What lvm prints for lvm_list: two spaces before each line (the
 * --noheadings indent), no padding around `|'. */
static const char lvs_text[] =
    "  web1-disk|owi-aos---|4294967296|||2026-11-24 10:00:00 +0000\n"
    "  web1-disk-snap-20261124-101500|swi-a-s---|858993664|web1-disk||2026-11-24 10:15:00 +0000\n"
    "  web1-swap|-wi-a-----|536870912|||2026-11-24 10:00:01 +0000\n"
    "\n"
    "  pool|twi-aotz--|1073741824|||2026-11-20 08:00:00 +0000\n"
    "   \t \n"
    "  web2-disk|Vwi-a-tz--|8589934592||pool|2026-11-24 11:00:00 +0000\n"
    "  web2-disk-snap-20261124-110500|Vri-a-tz--|8589934592|web2-disk|pool|2026-11-24 11:05:00 +0000\n"
    "  old|-wi-------|4194304||\n"
    "  notime|-wi-a-----|4194304|||\n"
    "  spaced | -wi-a----- | 8388608 |  |  | 2026-11-24 12:00:00 +0000 ";

static void test_parse_lvs(void)
{
    struct lvm_lv *v = (struct lvm_lv *)1;
    const struct lvm_lv *e;
    size_t n = 99;
    int r;

    r = lvm_parse_lvs(lvs_text, &v, &n);
    is_int(r, 0, "lvm_parse_lvs reads real-looking lvs output");
    is_int(n, 9, "  ... nine volumes (blank lines skipped)");
    if (r || n != 9) {
        lvm_lvs_free(v, r ? 0 : n);
        return;
    }

    e = &v[0];
    is_str(e->name, "web1-disk", "an origin: its name, without the indent");
    is_str(e->attr, "owi-aos---", "  ... its attr");
    is_int(e->size, 4294967296LL, "  ... its size in bytes");
    ok(e->origin == NULL, "  ... no origin");
    ok(e->pool == NULL, "  ... no pool");
    is_str(e->time, "2026-11-24 10:00:00 +0000", "  ... its time, whole");

    e = &v[1];
    is_str(e->name, "web1-disk-snap-20261124-101500", "a thick snapshot: its name");
    is_str(e->attr, "swi-a-s---", "  ... its attr ('s')");
    is_int(e->size, 858993664, "  ... its size (the room for changes)");
    is_str(e->origin, "web1-disk", "  ... its origin");
    ok(e->pool == NULL, "  ... no pool");
    is_str(e->time, "2026-11-24 10:15:00 +0000", "  ... its time");

    e = &v[2];
    is_str(e->name, "web1-swap", "a linear volume: its name");
    is_str(e->attr, "-wi-a-----", "  ... its attr");
    is_int(e->size, 536870912, "  ... its size");
    ok(!e->origin && !e->pool, "  ... neither origin nor pool");

    e = &v[3];
    is_str(e->name, "pool", "a thin pool, after a blank line: its name");
    is_int(e->attr[0], 't', "  ... attr[0] 't'");
    is_int(e->size, 1073741824, "  ... its size");

    e = &v[4];
    is_str(e->name, "web2-disk", "a thin volume, after a line of blanks: its name");
    is_str(e->attr, "Vwi-a-tz--", "  ... its attr ('V')");
    is_int(e->size, 8589934592LL, "  ... its virtual size");
    ok(e->origin == NULL, "  ... no origin");
    is_str(e->pool, "pool", "  ... its pool");

    e = &v[5];
    is_str(e->name, "web2-disk-snap-20261124-110500", "a thin snapshot: its name");
    is_str(e->attr, "Vri-a-tz--", "  ... its attr (thin, read-only)");
    is_str(e->origin, "web2-disk", "  ... its origin");
    is_str(e->pool, "pool", "  ... its pool");

    e = &v[6];
    is_str(e->name, "old", "five fields (no lv_time): its name");
    is_str(e->attr, "-wi-------", "  ... its attr (inactive)");
    is_int(e->size, 4194304, "  ... its size");
    ok(e->time == NULL, "  ... no time");

    e = &v[7];
    is_str(e->name, "notime", "an empty lv_time");
    ok(e->time == NULL, "  ... is no time");

    e = &v[8];
    is_str(e->name, "spaced", "fields padded with blanks, no newline at the end: its name");
    is_str(e->attr, "-wi-a-----", "  ... its attr, trimmed");
    is_int(e->size, 8388608, "  ... its size, trimmed");
    ok(!e->origin && !e->pool, "  ... blank origin and pool are none");
    is_str(e->time, "2026-11-24 12:00:00 +0000", "  ... its time, trimmed");

    ok(lvm_find(v, n, "web2-disk") == &v[4], "lvm_find finds web2-disk");
    ok(lvm_find(v, n, "old") == &v[6], "lvm_find finds the last but two");
    ok(lvm_find(v, n, "web1") == NULL, "lvm_find: a prefix is not a name");
    ok(lvm_find(v, n, "web1-disk-snap") == NULL, "  ... nor is a longer name's start");
    ok(lvm_find(v, n, "WEB1-DISK") == NULL, "lvm_find is case-sensitive");
    ok(lvm_find(v, n, "nosuch") == NULL, "lvm_find: no such volume");
    lvm_lvs_free(v, n);

    ok(lvm_find(NULL, 0, "web1-disk") == NULL, "lvm_find in nothing");

    v = (struct lvm_lv *)1;
    n = 99;
    r = lvm_parse_lvs("", &v, &n);
    ok(r == 0 && v == NULL && n == 0, "lvm_parse_lvs of no output: no volumes");
    v = (struct lvm_lv *)1;
    n = 99;
    r = lvm_parse_lvs("\n  \n\n", &v, &n);
    ok(r == 0 && v == NULL && n == 0, "lvm_parse_lvs of blank lines: no volumes");
    v = (struct lvm_lv *)1;
    n = 99;
    r = lvm_parse_lvs(NULL, &v, &n);
    ok(r == 0 && v == NULL && n == 0, "lvm_parse_lvs of NULL: no volumes");
    lvm_lvs_free(NULL, 0);
    ok(1, "lvm_lvs_free(NULL, 0) does nothing");
}

/* A good first line, so that a failure must free what was parsed. */
#define GOOD "  web1-disk|-wi-a-----|4294967296|||2026-11-24 10:00:00 +0000\n"

static void parse_bad(const char *text, const char *label)
{
    struct lvm_lv *v = (struct lvm_lv *)1;
    size_t n = 99;
    int r = lvm_parse_lvs(text, &v, &n);

    is_int(r, -EINVAL, "lvm_parse_lvs refuses %s", label);
    ok(v == NULL && n == 0, "  ... and returns nothing");
    if (!r)
        lvm_lvs_free(v, n);
}

static void test_parse_lvs_bad(void)
{
    parse_bad(GOOD "  x|-wi-a----|4194304|||t\n", "an attr of 9 characters");
    parse_bad(GOOD "  x|-wi-a------|4194304|||t\n", "an attr of 11 characters");
    parse_bad("  x||4194304|||t\n", "an empty attr");
    parse_bad(GOOD "  x|-wi-a-----|4G|||t\n", "a size with a unit (4G)");
    parse_bad(GOOD "  x|-wi-a-----|4194304B|||t\n", "a size with a suffix (4194304B)");
    parse_bad(GOOD "  x|-wi-a-----|4.5|||t\n", "a fractional size");
    parse_bad(GOOD "  x|-wi-a-----|-4194304|||t\n", "a negative size");
    parse_bad(GOOD "  x|-wi-a-----| -1 |||t\n", "a negative size among blanks");
    parse_bad(GOOD "  x|-wi-a-----|41 94304|||t\n", "a size with a blank inside");
    parse_bad(GOOD "  x|-wi-a-----|99999999999999999999|||t\n", "a size beyond 64 bits");
    parse_bad(GOOD "  x|-wi-a-----||||t\n", "an empty size");
    parse_bad(GOOD "  |-wi-a-----|4194304|||t\n", "an empty name");
    parse_bad(GOOD "  x|-wi-a-----|4194304|\n", "four fields");
    parse_bad(GOOD "  x|-wi-a-----\n", "two fields");
    parse_bad(GOOD "  x\n", "one field");
    parse_bad(GOOD "  Volume group \"vg0\" not found\n", "an lvm message");
    parse_bad("  x|-wi-a-----|4194304|\n" GOOD, "four fields before a good line");
    parse_bad(GOOD GOOD GOOD "  x|-wi-a-----|4G|||t", "a bad last line without a newline");
}

/* ---- --lvm and --lvm-thin ---- */

/* Applies the command line argv (NULL-terminated, without argv[0]) to a
 * fresh o; d gets the messages.  The status of options_apply_argv, or
 * of options_parse_argv when that failed. */
static int apply_argv(const char *const *args, struct opt_set *o, struct diag *d)
{
    char *argv[16];
    struct opt_argv a;
    int argc = 0, r;

    argv[argc++] = (char *)"vm-provision";
    for (size_t i = 0; args[i] && argc < 15; i++)
        argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    options_init(o);
    diag_init(d);
    r = options_parse_argv(argc, argv, &a, d);
    if (!r)
        r = options_apply_argv(o, &a, d);
    options_argv_dispose(&a);
    return r;
}

static void argv_ok(const char *const *args, const char *by, const char *value,
                    const char *label)
{
    struct opt_set o;
    struct diag d;
    int r = apply_argv(args, &o, &d);
    const struct opt_value *v = &o.v[SLOT_LVM];

    is_int(r, 0, "%s is taken", label);
    is_int(d.n, 0, "  ... without a message (%s)", first(&d));
    is_str(v->by ? v->by->name : NULL, by, "  ... set by --%s", by);
    is_str(v->value, value, "  ... to %s", value);
    options_dispose(&o);
    diag_dispose(&d);
}

static void argv_bad(const char *const *args, const char *msg_has, const char *label)
{
    struct opt_set o;
    struct diag d;
    int r = apply_argv(args, &o, &d);

    is_int(r, -EINVAL, "%s is refused", label);
    is_int(d.nerrors, 1, "  ... with one error");
    ok(d.n && strstr(d.v[0].msg, msg_has), "  ... saying `%s' (%s)", msg_has, first(&d));
    ok(o.v[SLOT_LVM].bad, "  ... and the value is marked bad");
    options_dispose(&o);
    diag_dispose(&d);
}

static void test_options(void)
{
    ok(options_find("lvm") && options_find("lvm")->slot == SLOT_LVM,
       "--lvm is an option of slot SLOT_LVM");
    ok(options_find("lvm-thin") && options_find("lvm-thin")->slot == SLOT_LVM,
       "--lvm-thin is one of the same slot");
    ok(options_find("lvm") && !(options_find("lvm")->flags & OPT_CMDLINE_ONLY),
       "--lvm is a settings key too");
    ok(options_find("lvm-thin") && !(options_find("lvm-thin")->flags & OPT_CMDLINE_ONLY),
       "--lvm-thin is a settings key too");
    for (const char *const *s = (const char *const[]){ "snapshot", "snapshot-size",
                                                      "snapshot-list", "snapshot-delete",
                                                      NULL }; *s; s++)
        ok(options_find(*s) && (options_find(*s)->flags & OPT_CMDLINE_ONLY),
           "--%s is for the command line only", *s);

    argv_ok((const char *const[]){ "--lvm", "vg0", NULL }, "lvm", "vg0", "--lvm vg0");
    argv_ok((const char *const[]){ "--lvm=data-vg", NULL }, "lvm", "data-vg", "--lvm=data-vg");
    argv_ok((const char *const[]){ "--lvm-thin", "vg0/pool", NULL }, "lvm-thin", "vg0/pool",
            "--lvm-thin vg0/pool");
    argv_ok((const char *const[]){ "--lvm", "vg0", "--lvm-thin", "vg1/pool", NULL },
            "lvm-thin", "vg1/pool", "--lvm vg0 --lvm-thin vg1/pool (the later wins)");
    argv_ok((const char *const[]){ "--lvm-thin", "vg1/pool", "--lvm", "vg0", NULL },
            "lvm", "vg0", "--lvm-thin vg1/pool --lvm vg0 (the later wins)");

    argv_bad((const char *const[]){ "--lvm", "bad name", NULL },
             "--lvm: `bad name' is not a volume group name", "--lvm 'bad name'");
    argv_bad((const char *const[]){ "--lvm", "-vg", NULL }, "starts with", "--lvm -vg");
    argv_bad((const char *const[]){ "--lvm", "vg0/pool", NULL }, "not a volume group name",
             "--lvm vg0/pool");
    argv_bad((const char *const[]){ "--lvm-thin", "vg0", NULL },
             "--lvm-thin: `vg0': expected VG/POOL", "--lvm-thin vg0");
    argv_bad((const char *const[]){ "--lvm-thin", "vg0/", NULL }, "expected VG/POOL",
             "--lvm-thin vg0/");
    argv_bad((const char *const[]){ "--lvm-thin", "vg0/snapshot", NULL }, "snapshot",
             "--lvm-thin vg0/snapshot");

    {
        struct opt_set o;
        struct diag d;
        int r = apply_argv((const char *const[]){ "--lvm", "", NULL }, &o, &d);

        is_int(r, -EINVAL, "--lvm '' is refused");
        ok(d.nerrors == 1 && strstr(d.v[0].msg, "--lvm"), "  ... naming --lvm (%s)",
           first(&d));
        options_dispose(&o);
        diag_dispose(&d);
    }
}

/* The settings file text applied to a fresh o. */
static int apply_file(const char *text, struct opt_set *o, struct diag *d)
{
    struct settings *s = NULL;
    int r;

    options_init(o);
    diag_init(d);
    if ((r = settings_parse("t.conf", text, strlen(text), &s, d)))
        return r;
    r = options_apply_settings(o, s, LAYER_CONFIG, d);
    settings_free(s);
    return r;
}

static void test_settings(void)
{
    struct opt_set o;
    struct diag d;
    int r;

    r = apply_file("size = 8G\nlvm = vg0\n", &o, &d);
    is_int(r, 0, "a settings file's `lvm = vg0' is taken");
    is_str(o.v[SLOT_LVM].value, "vg0", "  ... as the value");
    is_str(o.v[SLOT_LVM].file, "t.conf", "  ... from the file");
    is_int(o.v[SLOT_LVM].line, 2, "  ... at its line");
    options_dispose(&o);
    diag_dispose(&d);

    r = apply_file("lvm-thin = vg0/pool\n", &o, &d);
    is_int(r, 0, "a settings file's `lvm-thin = vg0/pool' is taken");
    is_str(o.v[SLOT_LVM].value, "vg0/pool", "  ... as the value");
    options_dispose(&o);
    diag_dispose(&d);

    r = apply_file("lvm = vg0\nlvm =\n", &o, &d);
    is_int(r, 0, "`lvm =' after `lvm = vg0' is taken");
    ok(o.v[SLOT_LVM].value == NULL, "  ... and goes back to files (no value)");
    options_dispose(&o);
    diag_dispose(&d);

    r = apply_file("\nlvm-thin = vg0\n", &o, &d);
    is_int(r, -EINVAL, "a settings file's `lvm-thin = vg0' is refused");
    is_str(first(&d), "t.conf:2:12: lvm-thin: `vg0': expected VG/POOL, a volume group and a"
           " thin pool in it", "  ... at FILE:LINE:COL of the value, naming the key");
    options_dispose(&o);
    diag_dispose(&d);

    r = apply_file("lvm = bad.vg_tmeta\n", &o, &d);
    is_int(r, -EINVAL, "a settings file's `lvm = bad.vg_tmeta' is refused");
    ok(strstr(first(&d), "t.conf:1:7: lvm: `bad.vg_tmeta' is not a volume group name"),
       "  ... at FILE:LINE:COL (%s)", first(&d));
    options_dispose(&o);
    diag_dispose(&d);

    r = apply_file("snapshot = web1\n", &o, &d);
    is_int(r, -EINVAL, "`snapshot' is no settings key");
    ok(strstr(first(&d), "command-line option only"), "  ... it is for the command line (%s)",
       first(&d));
    options_dispose(&o);
    diag_dispose(&d);
}

int main(void)
{
    test_names();
    test_split_pool();
    test_path();
    test_parse_lvs();
    test_parse_lvs_bad();
    test_options();
    test_settings();
    return tap_done();
}
