/*
 * test-fleet.c - fleet files and --count fleets (provision/fleet.c).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "options.h"
#include "settings.h"
#include "tap.h"
#include "units.h"

#define DATA "tests/unit/data/fleet/"
#define WEB_TIER DATA "web-tier.fleet"

static const char *const templates[] = { "debian-minimal", "debian-web", "centos7-minimal" };

static const struct fleet_checks with_templates = {
    .templates = templates, .ntemplates = 3,
};

static void dump(const struct diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        printf("#   %s:%d:%d: %s\n", d->v[i].file ? d->v[i].file : "-", d->v[i].line,
               d->v[i].col, d->v[i].msg);
}

/* Whether d holds an error at line:col whose message contains want. */
static int has_error(const struct diag *d, int line, int col, const char *want)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].level == DIAG_ERROR && d->v[i].line == line && d->v[i].col == col &&
            strstr(d->v[i].msg, want))
            return 1;
    return 0;
}

/* Whether d holds an error without a file whose message contains want. */
static int has_cmdline_error(const struct diag *d, const char *want)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].level == DIAG_ERROR && !d->v[i].file && strstr(d->v[i].msg, want))
            return 1;
    return 0;
}

static char *slurp(const char *path, size_t *len_r)
{
    FILE *fp = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0, cap = 0, k;

    if (!fp)
        return NULL;
    do {
        if (len + 4096 > cap) {
            char *nb = realloc(buf, cap = len + 4096 + 1);

            if (!nb) {
                free(buf);
                fclose(fp);
                return NULL;
            }
            buf = nb;
        }
        k = fread(buf + len, 1, 4096, fp);
        len += k;
    } while (k > 0);
    fclose(fp);
    buf[len] = '\0';
    *len_r = len;
    return buf;
}

/* The line number (1-based) of the first line of text starting with
 * prefix, 0 when there is none. */
static int line_of(const char *text, const char *prefix)
{
    int n = 1;

    for (const char *p = text; *p; n++) {
        if (!strncmp(p, prefix, strlen(prefix)))
            return n;
        p = strchr(p, '\n');
        if (!p)
            break;
        p++;
    }
    return 0;
}

static struct fleet *parse(const char *text, struct diag *d, int *rc)
{
    struct fleet *f = NULL;

    *rc = fleet_parse("t.fleet", text, strlen(text), &f, d);
    return f;
}

/* ---- a good fleet ---- */

static void test_web_tier(void)
{
    struct fleet *f = NULL;
    struct diag d;
    struct opt_set o;
    struct settings *conf = NULL;
    const struct settings_entry *e;
    char *text, *origin;
    size_t len;
    int rc;
    static const char *const names[] = { "www1", "www2", "www3", "db1", "scratch" };

    diag_init(&d);
    rc = fleet_read_file(WEB_TIER, &f, &d);
    is_int(rc, 0, "the five-guest fleet reads");
    if (!f) {
        dump(&d);
        diag_dispose(&d);
        return;
    }
    text = slurp(WEB_TIER, &len);
    is_int(f->nguests, 5, "five guests");
    for (size_t i = 0; i < 5 && i < f->nguests; i++)
        is_str(f->guests[i].name, names[i], "guest %zu is %s, in file order", i, names[i]);
    ok(f->defaults && f->defaults->line == line_of(text, "[defaults]"),
       "[defaults] is found, not a guest");
    is_str(f->source, WEB_TIER, "the file's name is kept for messages");
    rc = fleet_validate(f, &with_templates, &d);
    is_int(rc, 0, "it validates");
    if (!ok(d.n == 0, "without a message"))
        dump(&d);

    /* the template each guest names */
    e = fleet_template(f, 0);
    ok(e && !strcmp(e->value, "debian-web") && e->line == line_of(text, "template     ="),
       "www1's template is [defaults]'s, with its position");
    e = fleet_template(f, 3);
    ok(e && !strcmp(e->value, "debian-minimal"), "db1's is its own");
    e = fleet_template(f, 4);
    ok(e && !strcmp(e->value, "debian-minimal"), "a quoted template name");

    /* layering: provision.conf < [defaults] < [NAME] < command line */
    rc = settings_parse("provision.conf", "memory = 256M\nvcpus = 4\nsize = 8G\n",
                        strlen("memory = 256M\nvcpus = 4\nsize = 8G\n"), &conf, &d);
    is_int(rc, 0, "a provision.conf");
    for (size_t i = 0; conf && i < f->nguests; i++) {
        options_init(&o);
        options_apply_settings(&o, conf, LAYER_PROVISION_CONF, &d);
        rc = fleet_apply(f, i, &o, &d);
        is_int(rc, 0, "%s: fleet_apply", names[i]);
        is_str(o.v[SLOT_HOSTNAME].value, names[i], "%s: its host name is its section's",
               names[i]);
        if (i == 0) {
            ok(o.v[SLOT_HOSTNAME].layer == LAYER_CONFIG && o.v[SLOT_HOSTNAME].line ==
               line_of(text, "[www1]") && o.v[SLOT_HOSTNAME].col == 2,
               "the host name's position is its [NAME]");
            is_str(o.v[SLOT_MEMORY].value, "512M", "www1: memory from [defaults]");
            origin = options_origin(&o, SLOT_MEMORY);
            ok(origin && strstr(origin, WEB_TIER ":") &&
               atoi(strrchr(origin, ':') + 1) == line_of(text, "memory       ="),
               "with [defaults]'s FILE:LINE (%s)", origin ? origin : "NULL");
            free(origin);
            is_str(o.v[SLOT_VCPUS].value, "4", "www1: vcpus from provision.conf");
            is_str(o.v[SLOT_MAC].value, "00:16:3e:14:1e:0b", "www1: its mac");
            is_str(o.v[SLOT_IP].value, "10.20.30.11", "www1: its ip");
            is_str(o.v[SLOT_TEMPLATE].value, "debian-web", "www1: template from [defaults]");
        }
        if (i == 2) {
            is_str(o.v[SLOT_MEMORY].value, "768M", "www3: its own memory wins");
            ok(o.v[SLOT_MAC].by == NULL, "www3: no mac (made from the uuid)");
        }
        if (i == 3) {
            struct opt_argv a;
            struct diag d2;
            char *argv[] = { (char *)"vm-provision", (char *)"--memory", (char *)"4G", NULL };
            uint64_t b = 0;

            is_str(o.v[SLOT_MEMORY].value, "2G", "db1: memory from its section");
            is_str(o.v[SLOT_VCPUS].value, "2", "db1: vcpus from its section over provision.conf");
            is_str(o.v[SLOT_PACKAGES].value, "postgresql, postgresql-contrib", "db1: a list");
            ok(fleet_guest_bytes(&o, &b) == 0 && b == 21 * UNITS_GIB,
               "db1 needs 20G + 1G of storage");
            diag_init(&d2);
            ok(options_parse_argv(3, argv, &a, &d2) == 0 && options_apply_argv(&o, &a, &d2) == 0,
               "the command line on top");
            is_str(o.v[SLOT_MEMORY].value, "4G", "db1: --memory wins over the section");
            ok(o.v[SLOT_MEMORY].layer == LAYER_CMDLINE, "at the command line's layer");
            options_argv_dispose(&a);
            diag_dispose(&d2);
        }
        if (i == 4) {
            uint64_t b = 0;

            ok(o.v[SLOT_IP].by && !strcmp(o.v[SLOT_IP].by->name, "dhcp"), "scratch: dhcp");
            ok(fleet_guest_bytes(&o, &b) == 0 && b == 2 * UNITS_GIB,
               "scratch needs 2G (noswap)");
        }
        if (i == 1) {
            uint64_t b = 0;

            ok(fleet_guest_bytes(&o, &b) == 0 && b == 8 * UNITS_GIB + 512 * UNITS_MIB,
               "www2 needs provision.conf's 8G and the default 512M of swap");
        }
        options_dispose(&o);
    }
    if (!ok(d.n == 0, "applying reported nothing"))
        dump(&d);

    /* the man page shows the same fleet */
    {
        size_t mlen;
        char *man = slurp("man/vmkit-fleet.5", &mlen);
        int missing = 0;

        for (char *l = text; man && l && *l;) {
            char *nl = strchr(l, '\n');
            char line[256];
            size_t n = nl ? (size_t)(nl - l) : strlen(l);

            if (n && n < sizeof(line)) {
                memcpy(line, l, n);
                line[n] = '\0';
                /* mdoc writes a tab as itself; skip lines it cannot hold as is */
                if (!strstr(man, line)) {
                    printf("#   not in man/vmkit-fleet.5: %s\n", line);
                    missing++;
                }
            }
            l = nl ? nl + 1 : NULL;
        }
        ok(man && !missing, "man/vmkit-fleet.5's example is this file, line by line");
        free(man);
    }
    settings_free(conf);
    free(text);
    fleet_free(f);
    diag_dispose(&d);
}

/* ---- one duplicate address ---- */

static void test_duplicate_ip(void)
{
    struct fleet *f = NULL;
    struct diag d;
    size_t len;
    char *text = slurp(WEB_TIER, &len), *p, want[128];
    int rc, l12, l13;

    if (!ok(text != NULL, "read %s", WEB_TIER))
        return;
    p = strstr(text, "10.20.30.13");
    memcpy(p, "10.20.30.12", 11);
    l12 = line_of(text, "ip  = 10.20.30.12");
    l13 = line_of(text, "ip     = 10.20.30.12");
    diag_init(&d);
    rc = fleet_parse("web-tier.fleet", text, len, &f, &d);
    is_int(rc, 0, "a fleet with a duplicate address parses");
    rc = f ? fleet_validate(f, &with_templates, &d) : -1;
    is_int(rc, -EINVAL, "and is refused");
    is_int(d.nerrors, 1, "one error, nothing else wrong");
    snprintf(want, sizeof(want), "ip: 10.20.30.12 is already guest www2's (line %d)", l12);
    if (!ok(l12 > 0 && l13 > l12 && has_error(&d, l13, 10, want),
            "at the later guest's address (line %d), naming the first's line (%d)", l13, l12))
        dump(&d);
    fleet_free(f);
    diag_dispose(&d);
    free(text);
}

/* ---- everything wrong at once ---- */

static void test_all_errors(void)
{
    static const char text[] =
        "memory = 1G\n"                         /* 1 */
        "[defaults]\n"                          /* 2 */
        "template = debian-web\n"               /* 3 */
        "ip = 192.0.2.99\n"                     /* 4 */
        "[web1]\n"                              /* 5 */
        "ip = 192.0.2.10\n"                     /* 6 */
        "mac = 00:16:3e:00:00:01\n"             /* 7 */
        "[web2]\n"                              /* 8 */
        "ip = 192.0.2.300\n"                    /* 9 */
        "mac = 00:16:3E:00:00:01\n"             /* 10 */
        "[web3]\n"                              /* 11 */
        "ip = 192.0.2.10/24\n"                  /* 12 */
        "mac = 01:16:3e:00:00:02\n"             /* 13 */
        "colour = blue\n"                       /* 14 */
        "force = yes\n"                         /* 15 */
        "[web4]\n"                              /* 16 */
        "template = debain-web\n"               /* 17 */
        "hostname = web4\n"                     /* 18 */
        "ip = 198.51.100.7\n"                   /* 19 */
        "[WEB1]\n"                              /* 20 */
        "[web1]\n"                              /* 21 */
        "ip = 192.0.2.10\n"                     /* 22: under no section */
        "[bad_name]\n"                          /* 23 */
        "dist = bookworm\n"                     /* 24 */
        "[web5]\n"                              /* 25 */
        "ip = 127.0.0.5\n"                      /* 26 */
        "mac = 00:00:00:00:00:00\n";            /* 27 */
    struct fleet_ip_range range;
    struct fleet_checks c = with_templates;
    struct fleet *f;
    struct diag d;
    const char *why;
    int rc;

    ok(fleet_ip_range_parse("192.0.2.1-192.0.2.100", &range, &why) == 0, "a range");
    c.ip_range = &range;
    diag_init(&d);
    f = parse(text, &d, &rc);
    is_int(rc, -EINVAL, "a repeated section is a syntax error");
    if (!ok(f != NULL, "yet the rest is read")) {
        diag_dispose(&d);
        return;
    }
    is_int(f->nguests, 7, "seven guests (the repeat left out)");
    rc = fleet_validate(f, &c, &d);
    is_int(rc, -EINVAL, "the fleet is refused");
    ok(has_error(&d, 21, 2, "section `web1' repeated (first at line 5)"),
       "a repeated name (the parser's)");
    ok(has_error(&d, 1, 1, "`memory' before any section"), "a setting before any section");
    ok(has_error(&d, 4, 1, "`ip' is not for [defaults]"), "an address in [defaults]");
    ok(has_error(&d, 9, 6, "ip: `192.0.2.300'"), "a bad address");
    ok(has_error(&d, 10, 7, "mac: 00:16:3e:00:00:01 is already guest web1's (line 7)"),
       "a repeated MAC, whatever its case");
    ok(has_error(&d, 12, 6, "ip: 192.0.2.10 is already guest web1's (line 6)"),
       "a repeated address, whatever its prefix");
    ok(has_error(&d, 13, 7, "multicast"), "a multicast MAC");
    ok(has_error(&d, 14, 1, "unknown setting `colour'"), "an unknown key");
    ok(has_error(&d, 15, 1, "`force' is a command-line option only"),
       "a command-line-only key");
    ok(has_error(&d, 17, 12, "unknown template `debain-web' (known: debian-minimal"),
       "an unknown template");
    ok(has_error(&d, 18, 1, "`hostname' in a guest's section"), "hostname in a section");
    ok(has_error(&d, 19, 6, "ip: 198.51.100.7 is outside --ip-range 192.0.2.1-192.0.2.100"),
       "an address outside --ip-range");
    ok(has_error(&d, 20, 2, "guest [WEB1] repeats [web1] (line 5)"),
       "a name repeated in another case");
    ok(has_error(&d, 23, 2, "[bad_name]: not a valid host name"), "a bad host name");
    ok(has_error(&d, 26, 6, "ip: 127.0.0.5 is not a host's address"), "a loopback address");
    ok(has_error(&d, 27, 7, "all zero"), "an all-zero MAC");
    if (!is_int(d.nerrors, 16, "sixteen errors, all at once, nothing more"))
        dump(&d);
    fleet_free(f);
    diag_dispose(&d);
}

static void test_structure(void)
{
    struct fleet *f;
    struct diag d;
    int rc;

    diag_init(&d);
    f = parse("# nothing\n[defaults]\nmemory = 1G\n", &d, &rc);
    ok(rc == 0 && f && f->nguests == 0, "a fleet of no guest parses");
    ok(f && fleet_validate(f, NULL, &d) == -EINVAL &&
       has_error(&d, 0, 0, "no guests"), "and is refused");
    fleet_free(f);
    diag_dispose(&d);

    diag_init(&d);
    f = parse("[defaults]\nmac = 00:16:3e:00:00:01\nhostname = x\n[a1]\n[b1]\n", &d, &rc);
    ok(f && fleet_validate(f, NULL, &d) == -EINVAL && d.nerrors == 2 &&
       has_error(&d, 2, 1, "`mac' is not for [defaults]") &&
       has_error(&d, 3, 1, "`hostname' is not for [defaults]"),
       "mac and hostname in [defaults], each once (not once per guest)");
    fleet_free(f);
    diag_dispose(&d);

    diag_init(&d);
    f = parse("[defaults]\nmemory = 12\nvcpus = 0\n[a1]\n[b1]\n[c1]\n", &d, &rc);
    ok(f && fleet_validate(f, NULL, &d) == -EINVAL && d.nerrors == 2 &&
       has_error(&d, 2, 10, "less than the minimum") && has_error(&d, 3, 9, "vcpus"),
       "[defaults]'s bad values are reported once");
    if (d.nerrors != 2)
        dump(&d);
    fleet_free(f);
    diag_dispose(&d);

    diag_init(&d);
    f = parse("[Defaults]\nmemory = 1G\n[a1]\n", &d, &rc);
    ok(f && f->nguests == 2 && !f->defaults && fleet_validate(f, NULL, &d) == -EINVAL &&
       d.nerrors == 1 && has_error(&d, 1, 2, "a guest cannot be called defaults"),
       "[Defaults] is neither the defaults nor a guest");
    fleet_free(f);
    diag_dispose(&d);

    /* syntax errors and the others, in one pass */
    diag_init(&d);
    f = parse("[w1]\nip = 192.0.2.1\nthis is not a setting\n[w 2]\nip = 192.0.2.1\n"
              "[w3]\nip = 192.0.2.1\n", &d, &rc);
    ok(rc == -EINVAL && f && f->nguests == 2, "syntax errors: the rest still read");
    ok(f && f->nguests == 2 && f->guests[0].section->nentries == 1 &&
       !strcmp(f->guests[1].name, "w3") && f->guests[1].section->nentries == 1,
       "a bad line is left out, and so is what follows a bad header");
    ok(f && fleet_validate(f, NULL, &d) == -EINVAL && d.nerrors == 3 &&
       has_error(&d, 3, 6, "expected `key = value'") && has_error(&d, 4, 2, "bad section name") &&
       has_error(&d, 7, 6, "already guest w1's (line 2)"),
       "the settings under a bad header go nowhere; the repeat is still found");
    if (d.nerrors != 3)
        dump(&d);
    fleet_free(f);
    diag_dispose(&d);

    /* fleet_apply leaves out what is refused */
    diag_init(&d);
    f = parse("[defaults]\nip = 192.0.2.9\nmemory = 1G\n[a1]\nhostname = other\n", &d, &rc);
    if (f) {
        struct opt_set o;

        options_init(&o);
        ok(fleet_apply(f, 0, &o, &d) == 0 && !strcmp(o.v[SLOT_HOSTNAME].value, "a1") &&
           !o.v[SLOT_IP].by && !strcmp(o.v[SLOT_MEMORY].value, "1G"),
           "fleet_apply: the section's name, not a hostname key; no ip from [defaults]");
        options_dispose(&o);
    }
    fleet_free(f);
    diag_dispose(&d);

    diag_init(&d);
    rc = fleet_read_file(DATA "no-such.fleet", &f, &d);
    ok(rc == -ENOENT && !f && d.nerrors == 1, "a missing file: -ENOENT, reported");
    diag_dispose(&d);
}

/* ---- --count and --hostname PATTERN ---- */

static void expands(const char *pattern, size_t n, const char *want)
{
    char *name = NULL;
    const char *why = NULL;
    int rc = fleet_pattern_expand(pattern, n, &name, &why);

    if (!is_str(name, want, "`%s' with %zu gives `%s'", pattern, n, want))
        printf("#   rc %d, %s\n", rc, why ? why : "");
    free(name);
}

static void refused(const char *pattern, const char *want)
{
    char *name = NULL;
    const char *why = "";
    int rc = fleet_pattern_expand(pattern, 1, &name, &why);

    ok(rc == -EINVAL && !name && strstr(why, want), "`%s' refused: %s", pattern, why);
    free(name);
}

static void test_patterns(void)
{
    char long_pattern[300];

    expands("web%02d", 1, "web01");
    expands("web%02d", 9, "web09");
    expands("web%02d", 10, "web10");
    expands("web%02d", 100, "web100");
    expands("web%d", 7, "web7");
    expands("web%d", 10000, "web10000");
    expands("%03d-db.example.org", 5, "005-db.example.org");
    expands("node-%04d.lab", 42, "node-0042.lab");
    expands("web%3d", 7, "web  7");         /* and check_hostname refuses it */
    expands("web%1d", 12, "web12");

    refused("web%s", "must be %d, %Nd or %0Nd");
    refused("web%n", "must be %d, %Nd or %0Nd");
    refused("web%d%d", "more than one `%'");
    refused("web%02d-%s", "more than one `%'");
    refused("web", "no %d");
    refused("", "no %d");
    refused("web%5$d", "must be %d");
    refused("web%1$s", "must be %d");
    refused("web%ld", "must be %d");
    refused("web%lld", "must be %d");
    refused("web%zu", "must be %d");
    refused("web%i", "must be %d");
    refused("web%x", "must be %d");
    refused("web%u", "must be %d");
    refused("web%-3d", "must be %d");
    refused("web%+d", "must be %d");
    refused("web% d", "must be %d");
    refused("web%.2d", "must be %d");
    refused("web%*d", "must be %d");
    refused("web%", "must be %d");
    refused("web%%", "`%%' is not allowed");
    refused("web%%%d", "`%%' is not allowed");
    refused("web%d%%", "more than one `%'");
    refused("web%0d", "no width");
    refused("web%00d", "leading zero");
    refused("web%003d", "leading zero");
    refused("web%64d", "more than 63");
    refused("web%100d", "more than 63");
    refused("web%1000d", "must be %d");
    refused("web%99999999999999999999d", "must be %d");
    memset(long_pattern, 'a', sizeof(long_pattern) - 1);
    long_pattern[sizeof(long_pattern) - 1] = '\0';
    memcpy(long_pattern + 10, "%d", 2);
    refused(long_pattern, "longer than a host name");
}

static void test_count(void)
{
    struct fleet *f = NULL;
    struct diag d;
    const char *why;
    size_t n;
    int rc;

    ok(fleet_parse_count("1", &n, &why) == 0 && n == 1, "--count 1");
    ok(fleet_parse_count("10000", &n, &why) == 0 && n == 10000, "--count 10000");
    static const char *const bad_counts[] = {
        "0", "10001", "-1", "+5", "05", "1e3", "", " 5", "5 ", "99999999999999999999999", "0x10",
    };
    for (size_t i = 0; i < sizeof(bad_counts) / sizeof(bad_counts[0]); i++)
        ok(fleet_parse_count(bad_counts[i], &n, &why) == -EINVAL, "--count `%s' refused",
           bad_counts[i]);

    diag_init(&d);
    rc = fleet_from_count("5", "web%02d", "192.0.2.10-192.0.2.59/24", &f, &d);
    is_int(rc, 0, "--count 5 --hostname web%%02d --ip-range 192.0.2.10-192.0.2.59/24");
    if (f) {
        struct opt_set o;

        is_int(f->nguests, 5, "five guests");
        is_str(f->guests[0].name, "web01", "the first is web01");
        is_str(f->guests[4].name, "web05", "the last is web05");
        is_str(f->guests[0].ip, "192.0.2.10/24", "with the range's first address and prefix");
        is_str(f->guests[4].ip, "192.0.2.14/24", "the addresses in order");
        ok(!f->settings && !f->source && !f->guests[0].section, "no file behind it");
        ok(fleet_validate(f, &with_templates, &d) == 0 && d.n == 0, "it validates");
        options_init(&o);
        ok(fleet_apply(f, 2, &o, &d) == 0, "fleet_apply on a --count guest");
        is_str(o.v[SLOT_HOSTNAME].value, "web03", "its host name");
        is_str(o.v[SLOT_IP].value, "192.0.2.12/24", "its address");
        ok(o.v[SLOT_HOSTNAME].layer == LAYER_CMDLINE && !o.v[SLOT_HOSTNAME].file,
           "as given on the command line");
        ok(fleet_template(f, 2) == NULL, "no template from the fleet");
        options_dispose(&o);
    }
    fleet_free(f);
    diag_dispose(&d);

    diag_init(&d);
    rc = fleet_from_count("3", "db%d.example.org", NULL, &f, &d);
    ok(rc == 0 && f && f->nguests == 3 && !strcmp(f->guests[2].name, "db3.example.org") &&
       !f->guests[2].ip, "without --ip-range: names only (DHCP)");
    fleet_free(f);
    diag_dispose(&d);

    diag_init(&d);
    rc = fleet_from_count("11", "web%02d", "192.0.2.10-192.0.2.19", &f, &d);
    ok(rc == -EINVAL && !f && d.nerrors == 1 &&
       has_cmdline_error(&d, "--ip-range: `192.0.2.10-192.0.2.19' holds 10 addresses;"
                         " --count asks for 11"), "a range too small");
    diag_dispose(&d);

    diag_init(&d);
    rc = fleet_from_count("10", "web%02d", "192.0.2.10-192.0.2.19", &f, &d);
    ok(rc == 0 && f && !strcmp(f->guests[9].ip, "192.0.2.19"), "a range just large enough");
    fleet_free(f);
    diag_dispose(&d);

    diag_init(&d);
    rc = fleet_from_count("0", "web%s", "192.0.2.20-192.0.2.10", &f, &d);
    ok(rc == -EINVAL && !f && d.nerrors == 3 && has_cmdline_error(&d, "--count: `0'") &&
       has_cmdline_error(&d, "--hostname: `web%s'") &&
       has_cmdline_error(&d, "--ip-range: `192.0.2.20-192.0.2.10': FIRST comes after LAST"),
       "every bad argument reported at once");
    diag_dispose(&d);

    diag_init(&d);
    rc = fleet_from_count("5", "web_%d", NULL, &f, &d);
    ok(rc == -EINVAL && !f && d.nerrors == 1 &&
       has_cmdline_error(&d, "gives `web_1' for guest 1, not a valid host name"),
       "a pattern whose names are not host names: reported once");
    diag_dispose(&d);

    diag_init(&d);
    rc = fleet_from_count("12", "web%2d", NULL, &f, &d);
    ok(rc == -EINVAL && has_cmdline_error(&d, "gives `web 1' for guest 1"),
       "%%Nd pads with blanks: refused where it does");
    diag_dispose(&d);

    diag_init(&d);
    rc = fleet_from_count("10", "%d", NULL, &f, &d);
    ok(rc == -EINVAL && has_cmdline_error(&d, "all digits"), "`%%d' alone reads as a number");
    diag_dispose(&d);
}

/* ---- --ip-range ---- */

static void range_ok(const char *s, uint64_t size, int prefix)
{
    struct fleet_ip_range r;
    const char *why = "";
    int rc = fleet_ip_range_parse(s, &r, &why);

    ok(rc == 0 && fleet_ip_range_size(&r) == size && r.prefix == prefix,
       "`%s': %llu addresses, prefix %d%s%s", s, (unsigned long long)size, prefix,
       rc ? ": " : "", rc ? why : "");
}

static void range_bad(const char *s, const char *want)
{
    struct fleet_ip_range r;
    const char *why = "";
    int rc = fleet_ip_range_parse(s, &r, &why);

    ok(rc == -EINVAL && strstr(why, want), "`%s' refused: %s", s, why);
}

static void test_ranges(void)
{
    struct fleet *f = NULL;
    struct fleet_ip_range r;
    struct fleet_checks c = { .ip_range = &r };
    struct diag d;
    const char *why;

    range_ok("192.0.2.10-192.0.2.59", 50, -1);
    range_ok("192.0.2.10-192.0.2.10", 1, -1);
    range_ok("192.0.2.10-192.0.2.59/24", 50, 24);
    range_ok("10.0.0.1-10.0.255.254/16", 65534, 16);
    range_ok("10.1.2.3-10.1.2.3/32", 1, 32);
    range_ok("192.0.2.0-192.0.2.255", 256, -1);

    range_bad("", "expected FIRST-LAST");
    range_bad("192.0.2.10", "expected FIRST-LAST");
    range_bad("192.0.2.10-", "LAST is not");
    range_bad("-192.0.2.10", "FIRST is not");
    range_bad("192.0.2.59-192.0.2.10", "reversed");
    range_bad("192.0.2.10-192.0.2.300", "LAST is not");
    range_bad("192.0.2.10 - 192.0.2.20", "is not");
    range_bad(" 192.0.2.10-192.0.2.20", "FIRST is not");
    range_bad("192.0.2.010-192.0.2.20", "FIRST is not");
    range_bad("192.0.2-192.0.2.20", "FIRST is not");
    range_bad("192.0.2.10-192.0.2.20-192.0.2.30", "LAST is not");
    range_bad("192.0.2.10-192.0.2.20/33", "prefix");
    range_bad("192.0.2.10-192.0.2.20/", "prefix");
    range_bad("192.0.2.10-192.0.2.20/024", "prefix");
    range_bad("192.0.2.10-192.0.2.20/2a", "prefix");
    range_bad("192.0.2.10/24-192.0.2.20", "FIRST is not");
    range_bad("192.0.2.0-192.0.2.20/24", "network's own address");
    range_bad("192.0.2.10-192.0.2.255/24", "broadcast");
    range_bad("192.0.2.10-192.0.3.20/24", "not in one network");
    range_bad("2001:db8::1-2001:db8::9", "FIRST is not an IPv4");
    range_bad("127.0.0.1-127.0.0.9", "not a host's");
    range_bad("126.255.255.250-128.0.0.5", "not a host's");
    range_bad("224.0.0.1-224.0.0.5", "not a host's");
    range_bad("0.0.0.1-0.0.0.5", "not a host's");
    range_bad("1.2.3.4-255.255.255.255", "not a host's");
    range_bad("192.0.2.10-192.0.2.2000000000000000000000000000000", "expected FIRST-LAST");

    /* a file fleet inside a range */
    ok(fleet_ip_range_parse("192.0.2.10-192.0.2.20", &r, &why) == 0, "a range for a file");
    diag_init(&d);
    f = NULL;
    fleet_parse("t.fleet", "[a1]\nip = 192.0.2.10\n[a2]\nip = 192.0.2.20/24\n[a3]\ndhcp = yes\n"
                "[a4]\nip = 192.0.2.21\n[a5]\nip = 2001:db8::5\n[a6]\nip = 192.0.2.9\n",
                strlen("[a1]\nip = 192.0.2.10\n[a2]\nip = 192.0.2.20/24\n[a3]\ndhcp = yes\n"
                       "[a4]\nip = 192.0.2.21\n[a5]\nip = 2001:db8::5\n[a6]\nip = 192.0.2.9\n"),
                &f, &d);
    ok(f && fleet_validate(f, &c, &d) == -EINVAL && d.nerrors == 3 &&
       has_error(&d, 8, 6, "192.0.2.21 is outside") &&
       has_error(&d, 10, 6, "2001:db8::5 is outside") &&
       has_error(&d, 12, 6, "192.0.2.9 is outside"),
       "both ends inside, DHCP fine; outside, IPv6 and below refused");
    if (d.nerrors != 3)
        dump(&d);
    fleet_free(f);
    diag_dispose(&d);
}

/* ---- storage ---- */

static void test_storage(void)
{
    struct fleet *f = NULL;
    struct opt_set o;
    struct settings *s = NULL;
    struct diag d;
    uint64_t b = 0, need[5];

    options_init(&o);
    ok(fleet_guest_bytes(&o, &b) == 0 && b == 4 * UNITS_GIB + 512 * UNITS_MIB,
       "the defaults: 4G + 512M");
    diag_init(&d);
    ok(settings_parse("s", "size = 1.5G\nswap = 256\n", strlen("size = 1.5G\nswap = 256\n"),
                      &s, &d) == 0 && options_apply_settings(&o, s, LAYER_CONFIG, &d) == 0,
       "size 1.5G, swap 256 (MiB)");
    ok(fleet_guest_bytes(&o, &b) == 0 && b == 1536 * UNITS_MIB + 256 * UNITS_MIB,
       "1.5G + 256M");
    settings_free(s);
    ok(settings_parse("s", "noswap = yes\n", strlen("noswap = yes\n"), &s, &d) == 0 &&
       options_apply_settings(&o, s, LAYER_CONFIG, &d) == 0, "noswap");
    ok(fleet_guest_bytes(&o, &b) == 0 && b == 1536 * UNITS_MIB, "no swap disk counted");
    settings_free(s);
    ok(settings_parse("s", "size = 3X\n", strlen("size = 3X\n"), &s, &d) == 0 &&
       options_apply_settings(&o, s, LAYER_CONFIG, &d) == -EINVAL, "a bad size");
    ok(fleet_guest_bytes(&o, &b) == -EINVAL, "is -EINVAL");
    settings_free(s);
    options_dispose(&o);
    diag_dispose(&d);

    diag_init(&d);
    ok(fleet_from_count("5", "w%d", NULL, &f, &d) == 0 && f, "five guests");
    for (size_t i = 0; i < 5; i++)
        need[i] = 4 * UNITS_GIB + 512 * UNITS_MIB;
    ok(f && fleet_check_room(f, need, 30 * UNITS_GIB, "/var/lib/vmkit", &d) == 0 && d.n == 0,
       "22.5G fit in 30G");
    ok(f && fleet_check_room(f, need, (uint64_t)45 << 29, "/var/lib/vmkit", &d) == 0,
       "22.5G fit in 22.5G");
    ok(f && fleet_check_room(f, need, 20 * UNITS_GIB, "/var/lib/vmkit", &d) == -ENOSPC &&
       d.nerrors == 1 && d.v[0].file && !strcmp(d.v[0].file, "/var/lib/vmkit") &&
       !strcmp(d.v[0].msg, "the fleet needs 22.5G for 5 guests, 20G available"),
       "not in 20G: %s", d.n ? d.v[0].msg : "(nothing)");
    need[3] = UINT64_MAX - 1;
    ok(f && fleet_check_room(f, need, UINT64_MAX, "vg0", &d) == -ENOSPC &&
       d.nerrors == 2 && strstr(d.v[1].msg, "more than 16E"), "an overflowing total");
    need[3] = 100;
    ok(f && fleet_check_room(f, need, 18 * UNITS_GIB + 100 - 1, "vg0", &d) == -ENOSPC &&
       d.nerrors == 3 && strstr(d.v[2].msg, "needs 18.0G"), "%s", d.v[d.n - 1].msg);
    fleet_free(f);
    diag_dispose(&d);
}

/* ---- robustness ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static const char *pick(const char *const *v, size_t n)
{
    return v[rng() % n];
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void fuzz_one(const char *text, size_t len, const struct fleet_checks *c, int *crashes)
{
    struct fleet *f = NULL;
    struct diag d;
    int rc;

    diag_init(&d);
    rc = fleet_parse("fuzz.fleet", text, len, &f, &d);
    if (rc && rc != -EINVAL)
        (*crashes)++;
    if (f) {
        rc = fleet_validate(f, c, &d);
        if (rc && rc != -EINVAL)
            (*crashes)++;
        for (size_t i = 0; i < f->nguests && i < 50; i++) {
            struct opt_set o;
            uint64_t b;

            options_init(&o);
            rc = fleet_apply(f, i, &o, &d);
            if (rc && rc != -EINVAL)
                (*crashes)++;
            (void)fleet_guest_bytes(&o, &b);
            (void)fleet_template(f, i);
            options_dispose(&o);
        }
    }
    fleet_free(f);
    diag_dispose(&d);
}

static void test_fuzz(void)
{
    static const char *const keys[] = {
        "ip", "mac", "template", "memory", "size", "swap", "noswap", "dhcp", "role",
        "hostname", "dist", "force", "config", "vcpus", "bridge", "packages", "colour",
        "IP", "mac-", "9x", "",
    };
    static const char *const values[] = {
        "192.0.2.1", "192.0.2.1/24", "10.0.0.300", "00:16:3e:00:00:01", "01:00:5e:00:00:01",
        "debian-web", "nosuch", "1G", "12", "yes", "no", "", "\"quoted # x\"", "\"open",
        "ssh,web", "a b c", "::1", "2001:db8::1", "-1", "99999999999999999999G", "%s%n",
        "\"\\x\"", "web%02d",
    };
    static const char *const headers[] = {
        "[defaults]", "[web1]", "[web2]", "[WEB1]", "[bad_name]", "[", "[]", "[a b]",
        "[web1] x", "[1234]", "[-x]", "[x.example.org]",
    };
    struct fleet_ip_range r;
    struct fleet_checks c = with_templates;
    char *buf = malloc(64 * 1024);
    int crashes = 0;
    const char *why;
    size_t len0;
    char *good = slurp(WEB_TIER, &len0);

    fleet_ip_range_parse("192.0.2.1-192.0.2.200/24", &r, &why);
    c.ip_range = &r;
    for (int iter = 0; buf && iter < 400; iter++) {
        size_t len = 0, nlines = rng() % 40;

        for (size_t l = 0; l < nlines && len < 60 * 1024; l++) {
            switch (rng() % 6) {
            case 0:
                len += (size_t)snprintf(buf + len, 1024, "%s\n", pick(headers, NELEM(headers)));
                break;
            case 1:
            case 2:
                len += (size_t)snprintf(buf + len, 1024, "%s = %s\n", pick(keys, NELEM(keys)),
                                        pick(values, NELEM(values)));
                break;
            case 3: {   /* random bytes, NUL and control characters included */
                size_t n = rng() % 80;

                for (size_t k = 0; k < n; k++)
                    buf[len++] = (char)(rng() & 0xff);
                buf[len++] = '\n';
                break;
            }
            case 4: {   /* printable garbage */
                size_t n = rng() % 80;

                for (size_t k = 0; k < n; k++)
                    buf[len++] = (char)(0x20 + rng() % 95);
                buf[len++] = rng() % 2 ? '\n' : '\r';
                break;
            }
            default:
                len += (size_t)snprintf(buf + len, 1024, "[g%zu]\nip = 192.0.2.%d\n",
                                        (size_t)(rng() % 30), (int)(rng() % 260));
                break;
            }
        }
        fuzz_one(buf, len, &c, &crashes);
    }
    /* the good fleet with bytes flipped, cut short */
    for (int iter = 0; good && buf && iter < 300; iter++) {
        size_t len = len0 < 60 * 1024 ? len0 : 60 * 1024, flips = 1 + rng() % 8;

        memcpy(buf, good, len);
        for (size_t k = 0; k < flips; k++)
            buf[rng() % len] = (char)(rng() & 0xff);
        if (rng() % 4 == 0)
            len = rng() % (len + 1);
        fuzz_one(buf, len, &c, &crashes);
    }
    ok(buf && good && crashes == 0, "700 garbage fleets: no crash, only 0 or -EINVAL");
    free(buf);
    free(good);
}

int main(void)
{
    test_web_tier();
    test_duplicate_ip();
    test_all_errors();
    test_structure();
    test_patterns();
    test_count();
    test_ranges();
    test_storage();
    test_fuzz();
    return tap_done();
}
