/*
 * test-vif.c - xl vif spec strings: vif_parse, vif_format, vif_mac_generate.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "tap.h"
#include "vif.h"

#define FILE_ "guest.cfg"
#define LINE_ 7
#define COL_ 9

static int parse(const char *spec, struct vif_spec *v, struct diag *d)
{
    return vif_parse(spec, FILE_, LINE_, COL_, v, d);
}

/* The entry of d at level whose message contains part, or NULL. */
static const struct diag_entry *find_entry(const struct diag *d,
                                           enum diag_level level, const char *part)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].level == level && strstr(d->v[i].msg, part))
            return &d->v[i];
    return NULL;
}

static bool at_position(const struct diag_entry *e)
{
    return e && e->file && strcmp(e->file, FILE_) == 0 &&
           e->line == LINE_ && e->col == COL_;
}

static bool spec_is_empty(const struct vif_spec *v)
{
    return !v->params && v->nparams == 0 && !v->mac && !v->ip && !v->bridge &&
           !v->script && !v->vifname && !v->model && !v->type && !v->backend &&
           !v->gatewaydev && !v->rate && !v->netdev_user && v->mtu == 0 &&
           v->devid == -1 && v->rate_bytes_per_interval == 0 &&
           v->rate_interval_usecs == 0;
}

/* spec fails; an error containing part is recorded at the position. */
static void parse_error(const char *spec, const char *part)
{
    struct vif_spec v;
    struct diag d;
    const struct diag_entry *e;

    diag_init(&d);
    is_int(parse(spec, &v, &d), -EINVAL, "`%s' is refused", spec);
    e = find_entry(&d, DIAG_ERROR, part);
    ok(e, "`%s': error mentions `%s'%s%s", spec, part,
       d.n ? "; first: " : "", d.n ? d.v[0].msg : "");
    ok(at_position(e), "`%s': error recorded at " FILE_ ":%d:%d", spec, LINE_, COL_);
    ok(spec_is_empty(&v), "`%s': spec left empty", spec);
    vif_spec_dispose(&v);
    diag_dispose(&d);
}

/* spec parses with a warning containing part, at the position. */
static void parse_warning(const char *spec, const char *part)
{
    struct vif_spec v;
    struct diag d;
    const struct diag_entry *e;

    diag_init(&d);
    is_int(parse(spec, &v, &d), 0, "`%s' is accepted", spec);
    is_int(d.nerrors, 0, "`%s': no error", spec);
    e = find_entry(&d, DIAG_WARNING, part);
    ok(e, "`%s': warning mentions `%s'%s%s", spec, part,
       d.n ? "; first: " : "", d.n ? d.v[0].msg : "");
    ok(at_position(e), "`%s': warning recorded at " FILE_ ":%d:%d", spec, LINE_, COL_);
    vif_spec_dispose(&v);
    diag_dispose(&d);
}

/* spec parses without any diagnostic. */
static bool parse_clean(const char *spec, struct vif_spec *v)
{
    struct diag d;
    int rc;

    diag_init(&d);
    rc = parse(spec, v, &d);
    is_int(rc, 0, "`%s' is accepted", spec);
    is_int((long long)d.n, 0, "`%s': nothing recorded%s%s", spec,
           d.n ? "; first: " : "", d.n ? d.v[0].msg : "");
    diag_dispose(&d);
    return rc == 0;
}

static void mac_is(const char *value, const char *want)
{
    char spec[128];
    struct vif_spec v;

    snprintf(spec, sizeof(spec), "mac=%s", value);
    if (parse_clean(spec, &v))
        is_str(v.mac, want, "mac `%s' is stored as %s", value, want);
    vif_spec_dispose(&v);
}

static void ip_ok(const char *value)
{
    char spec[256];
    struct vif_spec v;

    snprintf(spec, sizeof(spec), "ip=%s", value);
    if (parse_clean(spec, &v))
        is_str(v.ip, value, "ip `%s' is stored as given", value);
    vif_spec_dispose(&v);
}

static void rate_is(const char *rate, uint64_t bytes, uint32_t usecs)
{
    char spec[128];
    struct vif_spec v;

    snprintf(spec, sizeof(spec), "rate=%s", rate);
    if (parse_clean(spec, &v)) {
        ok(v.rate_bytes_per_interval == bytes,
           "rate %s: %" PRIu64 " bytes per interval (got %" PRIu64 ")",
           rate, bytes, v.rate_bytes_per_interval);
        is_int(v.rate_interval_usecs, usecs, "rate %s: interval %" PRIu32 " us",
               rate, usecs);
        is_str(v.rate, rate, "rate %s kept as given", rate);
    }
    vif_spec_dispose(&v);
}

static void int_key_is(const char *spec, bool mtu, int want)
{
    struct vif_spec v;

    if (parse_clean(spec, &v))
        is_int(mtu ? v.mtu : v.devid, want, "`%s' reads as %d", spec, want);
    vif_spec_dispose(&v);
}

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool key_has_field(const char *key)
{
    static const char *const fields[] = {
        "mac", "ip", "bridge", "script", "vifname", "model", "type",
        "backend", "gatewaydev", "rate", "mtu", "devid", "netdev",
    };

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (strcmp(fields[i], key) == 0)
            return true;
    return false;
}

/* The same fields, and the same params outside the fields, in order. */
static bool spec_equal(const struct vif_spec *a, const struct vif_spec *b)
{
    size_t i = 0, j = 0;

    if (!str_eq(a->mac, b->mac) || !str_eq(a->ip, b->ip) ||
        !str_eq(a->bridge, b->bridge) || !str_eq(a->script, b->script) ||
        !str_eq(a->vifname, b->vifname) || !str_eq(a->model, b->model) ||
        !str_eq(a->type, b->type) || !str_eq(a->backend, b->backend) ||
        !str_eq(a->gatewaydev, b->gatewaydev) || !str_eq(a->rate, b->rate) ||
        a->netdev_user != b->netdev_user || a->mtu != b->mtu ||
        a->devid != b->devid ||
        a->rate_bytes_per_interval != b->rate_bytes_per_interval ||
        a->rate_interval_usecs != b->rate_interval_usecs)
        return false;
    for (;;) {
        while (i < a->nparams && key_has_field(a->params[i].key))
            i++;
        while (j < b->nparams && key_has_field(b->params[j].key))
            j++;
        if (i == a->nparams || j == b->nparams)
            return i == a->nparams && j == b->nparams;
        if (strcmp(a->params[i].key, b->params[j].key) != 0 ||
            strcmp(a->params[i].value, b->params[j].value) != 0)
            return false;
        i++;
        j++;
    }
}

/* parse(spec) formats as want; want parses back to the same spec and
 * formats to itself. */
static void round_trip(const char *spec, const char *want)
{
    struct vif_spec a, b;
    struct diag d;
    char *s1 = NULL, *s2 = NULL;

    diag_init(&d);
    vif_spec_init(&b);
    is_int(parse(spec, &a, &d), 0, "round trip: `%s' parses", spec);
    s1 = vif_format(&a);
    is_str(s1, want, "round trip: `%s' formats", spec);
    is_int(s1 ? parse(s1, &b, &d) : -1, 0, "round trip: the result parses");
    ok(spec_equal(&a, &b), "round trip: parse(format(v)) equals v for `%s'", spec);
    s2 = vif_format(&b);
    is_str(s2, s1, "round trip: format is stable");
    is_int(d.nerrors, 0, "round trip: no errors");
    free(s1);
    free(s2);
    vif_spec_dispose(&a);
    vif_spec_dispose(&b);
    diag_dispose(&d);
}

static void format_refuses(struct vif_spec *v, const char *what)
{
    char *s;

    errno = 0;
    s = vif_format(v);
    ok(!s && errno == EINVAL, "vif_format refuses %s (EINVAL)", what);
    free(s);
}

static void test_defaults(void)
{
    struct vif_spec v;

    vif_spec_init(&v);
    ok(spec_is_empty(&v), "vif_spec_init: everything default, devid -1");
    vif_spec_dispose(&v);
    ok(spec_is_empty(&v), "vif_spec_dispose of an empty spec");

    if (parse_clean("", &v))
        ok(spec_is_empty(&v), "the empty spec is all defaults");
    vif_spec_dispose(&v);
    if (parse_clean(" , ,,\t,", &v))
        ok(spec_is_empty(&v), "empty items are ignored");
    vif_spec_dispose(&v);
}

static void test_full(void)
{
    struct vif_spec v;
    static const char *const keys[] = {
        "mac", "ip", "bridge", "script", "vifname", "model", "type",
        "backend", "gatewaydev", "rate", "mtu", "devid", "netdev",
    };

    if (!parse_clean("mac=00:16:3E:74:3d:76,ip=192.0.2.10/24 2001:db8::10/64,"
                     "bridge=xenbr0,script=/etc/vmkit/vif-up,vifname=web0,"
                     "model=e1000,type=ioemu,backend=dom0,gatewaydev=eth0,"
                     "rate=10Mb/s,mtu=9000,devid=3,netdev=user", &v))
        goto out;
    is_str(v.mac, "00:16:3e:74:3d:76", "full: mac normalized to lowercase");
    is_str(v.ip, "192.0.2.10/24 2001:db8::10/64", "full: ip");
    is_str(v.bridge, "xenbr0", "full: bridge");
    is_str(v.script, "/etc/vmkit/vif-up", "full: script");
    is_str(v.vifname, "web0", "full: vifname");
    is_str(v.model, "e1000", "full: model");
    is_str(v.type, "ioemu", "full: type");
    is_str(v.backend, "dom0", "full: backend");
    is_str(v.gatewaydev, "eth0", "full: gatewaydev");
    is_str(v.rate, "10Mb/s", "full: rate");
    ok(v.rate_bytes_per_interval == 62500, "full: 62500 bytes per interval");
    is_int(v.rate_interval_usecs, 50000, "full: 50ms interval");
    is_int(v.mtu, 9000, "full: mtu");
    is_int(v.devid, 3, "full: devid");
    ok(v.netdev_user, "full: netdev=user");
    is_int((long long)v.nparams, 13, "full: 13 params");
    for (size_t i = 0; i < 13 && i < v.nparams; i++)
        is_str(v.params[i].key, keys[i], "full: param %zu is %s, in order", i, keys[i]);
    if (v.nparams == 13) {
        is_str(v.params[0].value, "00:16:3E:74:3d:76", "full: params keep the mac as given");
        is_str(v.params[1].value, "192.0.2.10/24 2001:db8::10/64",
               "full: params keep spaces inside a value");
    }
out:
    vif_spec_dispose(&v);
}

static void test_whitespace_and_repeats(void)
{
    struct vif_spec v;

    if (parse_clean("  mac=00:16:3e:00:00:01 ,\tbridge=xenbr1\t, ,model=rtl8139", &v)) {
        is_str(v.mac, "00:16:3e:00:00:01", "whitespace: mac trimmed");
        is_str(v.bridge, "xenbr1", "whitespace: bridge trimmed both sides");
        is_str(v.model, "rtl8139", "whitespace: model");
        is_int((long long)v.nparams, 3, "whitespace: three params");
        if (v.nparams == 3)
            is_str(v.params[1].value, "xenbr1", "whitespace: param value trimmed");
    }
    vif_spec_dispose(&v);

    if (parse_clean("bridge=br0,bridge=br1,mtu=1400,mtu=1500,bridge=", &v)) {
        ok(!v.bridge, "repeat: the last bridge (empty) wins: default");
        is_int(v.mtu, 1500, "repeat: the last mtu wins");
        is_int((long long)v.nparams, 5, "repeat: every item kept in params");
    }
    vif_spec_dispose(&v);

    if (parse_clean("script=,model=,vifname=,ip=", &v))
        ok(!v.script && !v.model && !v.vifname && !v.ip,
           "empty string values mean the default (NULL)");
    vif_spec_dispose(&v);

    if (parse_clean("model=virtio-net,vifname=a=b", &v)) {
        is_str(v.model, "virtio-net", "model is any string");
        is_str(v.vifname, "a=b", "a value may hold `=' (split at the first)");
    }
    vif_spec_dispose(&v);

    parse_warning("mac = 00:16:3e:00:00:02", "spaces around `='");
    {
        struct diag d;

        diag_init(&d);
        if (parse("bridge =xenbr0", &v, &d) == 0)
            is_str(v.bridge, "xenbr0", "spaces around `=': applied after the warning");
        vif_spec_dispose(&v);
        diag_dispose(&d);
    }
}

static void test_mac(void)
{
    mac_is("00:16:3e:74:3d:76", "00:16:3e:74:3d:76");
    mac_is("00:16:3E:74:3D:76", "00:16:3e:74:3d:76");
    mac_is("00-16-3e-74-3d-76", "00:16:3e:74:3d:76");
    mac_is("0:16:3e:4:d:7", "00:16:3e:04:0d:07");
    mac_is("02:00:00:00:00:01", "02:00:00:00:00:01");   /* locally administered */
    mac_is("fe:ff:ff:ff:ff:ff", "fe:ff:ff:ff:ff:ff");

    parse_error("mac=01:00:5e:00:00:01", "multicast");
    parse_error("mac=ff:ff:ff:ff:ff:ff", "multicast");
    parse_error("mac=33:33:00:00:00:01", "multicast");
    parse_error("mac=", "invalid vif mac");
    parse_error("mac=00:16:3e:00:00", "invalid vif mac");
    parse_error("mac=00:16:3e:00:00:00:00", "invalid vif mac");
    parse_error("mac=00:16:3e:00:00:", "invalid vif mac");
    parse_error("mac=00:16:3e:000:00:01", "invalid vif mac");
    parse_error("mac=00:16:3e:0g:00:01", "invalid vif mac");
    parse_error("mac=00:16-3e:00:00:01", "mixed");
    parse_error("mac=00.16.3e.00.00.01", "invalid vif mac");
    parse_error("mac=0016.3e00.0001", "invalid vif mac");
    parse_error("mac=00::16:3e:00:00", "invalid vif mac");
    parse_error("mac=00:16:3e:00:00:01x", "invalid vif mac");
    parse_error("mac=0x0:16:3e:00:00:01", "invalid vif mac");
}

static void test_ip(void)
{
    ip_ok("192.0.2.1");
    ip_ok("192.0.2.1/24");
    ip_ok("192.0.2.1/0");
    ip_ok("192.0.2.1/32");
    ip_ok("2001:db8::1");
    ip_ok("fe80::1/64");
    ip_ok("::/128");
    ip_ok("192.0.2.1 192.0.2.2/32 2001:db8::2/48");
    ip_ok("192.0.2.1  192.0.2.2");

    parse_error("ip=192.0.2.256", "invalid vif ip `192.0.2.256'");
    parse_error("ip=192.0.2", "invalid vif ip");
    parse_error("ip=host.example", "invalid vif ip");
    parse_error("ip=192.0.2.1 bogus", "invalid vif ip `bogus'");
    parse_error("ip=192.0.2.1/33", "prefix length too long");
    parse_error("ip=2001:db8::1/129", "prefix length too long");
    parse_error("ip=192.0.2.1/", "bad prefix");
    parse_error("ip=192.0.2.1/x", "bad prefix");
    parse_error("ip=192.0.2.1/-1", "bad prefix");
    parse_error("ip=192.0.2.1/0024", "bad prefix");
    parse_error("ip=/24", "invalid vif ip");
    parse_error("ip=192.0.2.1/24/24", "bad prefix");
    parse_error("ip=2001:db8:::1", "invalid vif ip");
}

static void test_type_and_strings(void)
{
    struct vif_spec v;

    if (parse_clean("type=ioemu", &v))
        is_str(v.type, "ioemu", "type=ioemu");
    vif_spec_dispose(&v);
    if (parse_clean("type=vif", &v))
        is_str(v.type, "vif", "type=vif");
    vif_spec_dispose(&v);
    parse_error("type=netfront", "invalid vif type `netfront'");
    parse_error("type=VIF", "invalid vif type");
    parse_error("type=", "invalid vif type");
}

static void test_rate(void)
{
    /* xl's arithmetic: bytes/s * interval_us / 10^6, rounded down. */
    rate_is("10Mb/s", 62500, 50000);              /* 1.25 MB/s for 50ms */
    rate_is("100MB/s@20ms", 2000000, 20000);
    rate_is("1MB/s@20ms", 20000, 20000);          /* the man page's example */
    rate_is("250KB/s", 12500, 50000);
    rate_is("1Gb/s@1s", 125000000, 1000000);
    rate_is("1GB/s@100us", 100000, 100);
    rate_is("1000b/s@10", 1250, 10000000);        /* a bare interval is seconds */
    rate_is("8B/s@1", 8, 1000000);
    rate_is("3KB/s@7m", 21, 7000);                /* xl reads `m' as ms */
    rate_is("5MB/s@250u", 1250, 250);             /* and `u' as us */
    rate_is("20B/s@50000us", 1, 50000);
    rate_is("12b/s@1s", 1, 1000000);              /* 12 bits: 1 byte, rounded down */
    rate_is("4294967295GB/s@1us", UINT64_C(4294967295000), 1);
    rate_is("4294967295B/s@4294967295us", UINT64_C(18446744065119), 4294967295u);

    parse_error("rate=", "no rate");
    parse_error("rate=@20ms", "no rate");
    parse_error("rate=10Mb", "want RATE");
    parse_error("rate=10M/s", "want RATE");
    parse_error("rate=10mb/s", "want RATE");
    parse_error("rate=10kB/s", "want RATE");
    parse_error("rate=10 Mb/s", "want RATE");
    parse_error("rate=10Mb/sec", "want RATE");
    parse_error("rate=10Mb/s/s", "want RATE");
    parse_error("rate=10MBb/s", "want RATE");
    parse_error("rate=Mb/s", "want a number");
    parse_error("rate=-10Mb/s", "want a number");
    parse_error("rate=0Mb/s", "zero rate");
    parse_error("rate=010Mb/s", "leading zero");
    parse_error("rate=4294967296B/s", "number too large");
    parse_error("rate=10Mb/s@", "want a number");
    parse_error("rate=10Mb/s@0ms", "zero interval");
    parse_error("rate=10Mb/s@020ms", "leading zero");
    parse_error("rate=10Mb/s@10ns", "want INTERVAL");
    parse_error("rate=10Mb/s@10mss", "want INTERVAL");
    parse_error("rate=10Mb/s@20ms@1s", "want INTERVAL");
    parse_error("rate=10Mb/s@4295s", "interval too long");
    parse_error("rate=10Mb/s@4294967296us", "number too large");
    parse_error("rate=4294967295GB/s", "rate too large");
    parse_error("rate=1B/s", "less than one byte per interval");
    parse_error("rate=7b/s@1s", "less than one byte per interval");
    parse_error("rate=5Kb/s@100us", "less than one byte per interval");
}

static void test_numbers(void)
{
    int_key_is("mtu=68", true, 68);
    int_key_is("mtu=1500", true, 1500);
    int_key_is("mtu=65535", true, 65535);
    int_key_is("mtu=09000", true, 9000);      /* decimal, as xl */
    int_key_is("devid=0", false, 0);
    int_key_is("devid=12", false, 12);
    int_key_is("devid=2147483647", false, 2147483647);

    parse_error("mtu=67", "invalid vif mtu `67'");
    parse_error("mtu=65536", "invalid vif mtu");
    parse_error("mtu=0", "invalid vif mtu");
    parse_error("mtu=", "invalid vif mtu");
    parse_error("mtu=abc", "invalid vif mtu");
    parse_error("mtu=1500x", "invalid vif mtu");
    parse_error("mtu=-1500", "invalid vif mtu");
    parse_error("mtu=+1500", "invalid vif mtu");
    parse_error("mtu=0x5dc", "invalid vif mtu");
    parse_error("mtu=99999999999999999999999", "invalid vif mtu");
    parse_error("devid=-1", "invalid vif devid");
    parse_error("devid=", "invalid vif devid");
    parse_error("devid=x", "invalid vif devid");
    parse_error("devid=2147483648", "invalid vif devid");
    parse_error("devid=1 2", "invalid vif devid");
}

static void test_netdev(void)
{
    struct vif_spec v;
    struct diag d;

    if (parse_clean("netdev=user", &v))
        ok(v.netdev_user && !v.gatewaydev, "netdev=user: user-mode networking");
    vif_spec_dispose(&v);
    if (parse_clean("netdev=tap", &v))
        ok(!v.netdev_user && !v.gatewaydev, "netdev=tap: the default");
    vif_spec_dispose(&v);
    if (parse_clean("netdev=user,netdev=tap", &v))
        ok(!v.netdev_user, "netdev: the last wins");
    vif_spec_dispose(&v);

    parse_warning("netdev=eth0", "deprecated alias of gatewaydev");
    diag_init(&d);
    if (parse("netdev=eth0", &v, &d) == 0)
        ok(!v.netdev_user && str_eq(v.gatewaydev, "eth0"),
           "netdev=eth0 is xl's alias: gatewaydev=eth0");
    vif_spec_dispose(&v);
    diag_dispose(&d);
}

static void test_warnings(void)
{
    struct vif_spec v;
    struct diag d;

    parse_warning("accel=vhost", "vif key `accel' is parsed, not applied");
    parse_warning("forwarddev=eth1", "vif key `forwarddev' is parsed, not applied");
    parse_warning("colo_checkpoint_host=192.0.2.9",
                  "vif key `colo_checkpoint_host' is parsed, not applied");
    parse_warning("colo_sock_redirector2_port=9003",
                  "vif key `colo_sock_redirector2_port' is parsed, not applied");
    parse_warning("colo_filter_sec_rewriter0_queue=rq",
                  "vif key `colo_filter_sec_rewriter0_queue' is parsed, not applied");
    parse_warning("frobnicate=yes", "unrecognized vif option `frobnicate'");
    parse_warning("colo_bogus=1", "unrecognized vif option `colo_bogus'");
    parse_warning("MAC=00:16:3e:00:00:01", "unrecognized vif option `MAC'");
    parse_warning("bridge", "vif item `bridge' is not key=value");
    parse_warning("=xenbr0", "has no key");

    /* Warnings do not stop the rest, and keep the params. */
    diag_init(&d);
    is_int(parse("bridge=xenbr0,accel=x,bogus=1,novalue,mtu=1400", &v, &d), 0,
           "warnings only: accepted");
    is_int((long long)d.n, 3, "warnings only: three warnings");
    is_int(d.nerrors, 0, "warnings only: no errors");
    is_str(v.bridge, "xenbr0", "warnings only: bridge applied");
    is_int(v.mtu, 1400, "warnings only: mtu applied");
    is_int((long long)v.nparams, 4, "warnings only: four key=value params");
    if (v.nparams == 4) {
        is_str(v.params[1].key, "accel", "warnings only: unapplied key kept in params");
        is_str(v.params[2].key, "bogus", "warnings only: unknown key kept in params");
    }
    vif_spec_dispose(&v);
    diag_dispose(&d);
}

static void test_every_error_recorded(void)
{
    struct vif_spec v;
    struct diag d;

    diag_init(&d);
    diag_warn(&d, NULL, 0, 0, "an earlier warning");
    is_int(parse("mac=zz,bridge=xenbr0,mtu=1,type=x,rate=0b/s,frob=1", &v, &d),
           -EINVAL, "several errors: refused");
    is_int(d.nerrors, 4, "several errors: all four recorded");
    is_int((long long)d.n, 6, "several errors: with the warnings");
    ok(find_entry(&d, DIAG_ERROR, "mac") && find_entry(&d, DIAG_ERROR, "mtu") &&
       find_entry(&d, DIAG_ERROR, "type") && find_entry(&d, DIAG_ERROR, "rate"),
       "several errors: one per bad key");
    ok(spec_is_empty(&v), "several errors: spec left empty");
    vif_spec_dispose(&v);
    diag_dispose(&d);

    /* No position known: recorded without one. */
    diag_init(&d);
    is_int(vif_parse("type=x", NULL, 0, 0, &v, &d), -EINVAL, "no position: refused");
    ok(d.n == 1 && !d.v[0].file && d.v[0].line == 0 && d.v[0].col == 0,
       "no position: recorded without file, line, col");
    vif_spec_dispose(&v);
    diag_dispose(&d);

    /* A spec that held something is overwritten, not merged. */
    diag_init(&d);
    if (parse("bridge=a", &v, &d) == 0) {
        struct vif_spec w = v;

        is_int(parse("model=e1000", &v, &d), 0, "reuse: second parse");
        ok(!v.bridge && str_eq(v.model, "e1000"), "reuse: nothing carried over");
        vif_spec_dispose(&w);
    }
    vif_spec_dispose(&v);
    diag_dispose(&d);
}

static void test_format(void)
{
    struct vif_spec v;
    struct vif_param param;
    char *s;

    round_trip("", "");
    round_trip(" , ", "");
    round_trip("bridge=xenbr0", "bridge=xenbr0");
    round_trip("netdev=user,devid=2,mtu=9000,rate=10Mb/s@20ms,gatewaydev=eth0,"
               "backend=dom0,type=vif,model=virtio-net,vifname=v0,script=/bin/up,"
               "bridge=br0,ip=10.0.0.2/24 fd00::2,mac=00:16:3E:AA:BB:CC",
               "mac=00:16:3e:aa:bb:cc,ip=10.0.0.2/24 fd00::2,bridge=br0,"
               "script=/bin/up,vifname=v0,model=virtio-net,type=vif,backend=dom0,"
               "gatewaydev=eth0,rate=10Mb/s@20ms,mtu=9000,devid=2,netdev=user");
    round_trip("frob=1,bridge=br0,accel=x,colo_compare_out=o,frob=2,empty=",
               "bridge=br0,frob=1,accel=x,colo_compare_out=o,frob=2,empty=");
    round_trip("netdev=eth1", "gatewaydev=eth1");
    round_trip("netdev=tap,bridge= br0 ,novalue", "bridge=br0");
    round_trip("mac=0-16-3e-1-2-3", "mac=00:16:3e:01:02:03");
    round_trip("devid=0", "devid=0");

    /* Specs built by code that would not read back. */
    vif_spec_init(&v);
    v.bridge = (char *)"br0,br1";
    format_refuses(&v, "a comma in a value");
    v.bridge = (char *)" br0";
    format_refuses(&v, "leading whitespace in a value");
    v.bridge = (char *)"br0\t";
    format_refuses(&v, "trailing whitespace in a value");
    v.bridge = (char *)"";
    format_refuses(&v, "an empty string field");
    v.bridge = NULL;
    v.mac = (char *)"01:00:5e:00:00:01";
    format_refuses(&v, "a multicast mac");
    v.mac = NULL;
    v.ip = (char *)"300.1.1.1";
    format_refuses(&v, "a bad ip");
    v.ip = NULL;
    v.type = (char *)"pv";
    format_refuses(&v, "a bad type");
    v.type = NULL;
    v.mtu = 20;
    format_refuses(&v, "an mtu out of range");
    v.mtu = 0;
    v.devid = -2;
    format_refuses(&v, "a negative devid");
    v.devid = -1;
    v.rate_bytes_per_interval = 100;
    v.rate_interval_usecs = 50000;
    format_refuses(&v, "rate numbers without a rate");
    v.rate = (char *)"10Mb/s";
    format_refuses(&v, "rate numbers that disagree with the rate");
    v.rate_bytes_per_interval = 62500;
    s = vif_format(&v);
    is_str(s, "rate=10Mb/s", "rate numbers that agree");
    free(s);
    v.rate = NULL;
    v.rate_bytes_per_interval = 0;
    v.rate_interval_usecs = 0;
    param.key = (char *)"a,b";
    param.value = (char *)"1";
    v.params = &param;
    v.nparams = 1;
    format_refuses(&v, "a comma in a param key");
    param.key = (char *)"frob";
    param.value = (char *)"1,2";
    format_refuses(&v, "a comma in a param value");
    param.value = (char *)"";
    s = vif_format(&v);
    is_str(s, "frob=", "an empty param value is fine");
    free(s);
    v.mac = (char *)"00:16:3E:00:00:0A";
    s = vif_format(&v);
    is_str(s, "mac=00:16:3e:00:00:0a,frob=", "a hand-set mac is written normalized");
    free(s);
}

static void test_mac_generate(void)
{
    static const unsigned char uuid[16] = {
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
        0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
    };
    static const unsigned char zero[16];
    unsigned char other[16];
    char a[18], b[18], c[18];
    struct vif_spec v;

    memset(a, 'x', sizeof(a));
    vif_mac_generate(uuid, 0, a);
    is_int((long long)strlen(a), 17, "generated mac is 17 characters");
    ok(strncmp(a, "00:16:3e:", 9) == 0, "generated mac has Xen's OUI: %s", a);
    vif_mac_generate(uuid, 0, b);
    is_str(b, a, "same uuid and index: same mac");
    vif_mac_generate(uuid, 1, c);
    ok(strcmp(a, c) != 0, "another index: another mac (%s, %s)", a, c);
    memcpy(other, uuid, sizeof(other));
    other[15] ^= 1;
    vif_mac_generate(other, 0, c);
    ok(strcmp(a, c) != 0, "another uuid: another mac (%s, %s)", a, c);

    /* Pinned: configs written by vm-provision depend on these. */
    vif_mac_generate(uuid, 0, a);
    is_str(a, "00:16:3e:e8:f6:21", "pinned: uuid 00112233-..., index 0");
    vif_mac_generate(uuid, 1, a);
    is_str(a, "00:16:3e:f2:61:0f", "pinned: uuid 00112233-..., index 1");
    vif_mac_generate(uuid, 2, a);
    is_str(a, "00:16:3e:2c:bf:c2", "pinned: uuid 00112233-..., index 2");
    vif_mac_generate(zero, 0, a);
    is_str(a, "00:16:3e:b1:1a:85", "pinned: nil uuid, index 0");
    vif_mac_generate(zero, 1, a);
    is_str(a, "00:16:3e:5b:f6:f0", "pinned: nil uuid, index 1");

    /* Distinct over the first vifs of one guest. */
    {
        char macs[64][18];
        bool distinct = true;

        for (unsigned i = 0; i < 64; i++) {
            vif_mac_generate(uuid, i, macs[i]);
            for (unsigned j = 0; j < i; j++)
                if (strcmp(macs[i], macs[j]) == 0)
                    distinct = false;
        }
        ok(distinct, "64 indexes give 64 distinct macs");
    }

    /* A generated mac is a valid unicast mac for vif_parse. */
    {
        char spec[32];

        vif_mac_generate(uuid, 7, a);
        snprintf(spec, sizeof(spec), "mac=%s", a);
        if (parse_clean(spec, &v))
            is_str(v.mac, a, "a generated mac parses as itself");
        vif_spec_dispose(&v);
    }
}

int main(void)
{
    test_defaults();
    test_full();
    test_whitespace_and_repeats();
    test_mac();
    test_ip();
    test_type_and_strings();
    test_rate();
    test_numbers();
    test_netdev();
    test_warnings();
    test_every_error_recorded();
    test_format();
    test_mac_generate();
    return tap_done();
}
