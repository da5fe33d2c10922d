/*
 * vif.c - one xl vif spec string.
 *
 * Semantics follow xl's parse_nic_config and libxlutil's
 * xlu_vif_parse_rate; where xl only warns about, or silently misreads, a
 * value that cannot be what the user meant, vmkit refuses it (see vif.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vif.h"

#define VIF_DEFAULT_INTERVAL_USECS 50000u    /* xl's default: 50ms */

struct vif_ctx {
    const char *file;
    int line, col;
    struct diag *d;
    size_t nerrors;
};

__attribute__((format(printf, 2, 3)))
static void vif_error(struct vif_ctx *c, const char *fmt, ...)
{
    va_list ap;

    c->nerrors++;
    va_start(ap, fmt);
    diag_vadd(c->d, DIAG_ERROR, c->file, c->line, c->col, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 2, 3)))
static void vif_warn(struct vif_ctx *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    diag_vadd(c->d, DIAG_WARNING, c->file, c->line, c->col, fmt, ap);
    va_end(ap);
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
           ch == '\v' || ch == '\f';
}

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Trims s in place; returns the first non-space character. */
static char *trim(char *s)
{
    size_t n;

    while (is_space(*s))
        s++;
    n = strlen(s);
    while (n > 0 && is_space(s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* *dst = a copy of value, or NULL for an empty value (the default). */
static int replace_string(char **dst, const char *value)
{
    char *copy = NULL;

    if (*value && !(copy = strdup(value)))
        return -ENOMEM;
    free(*dst);
    *dst = copy;
    return 0;
}

/*
 * The value checkers return NULL when the value is good, else why not;
 * vif_parse and vif_format share them.
 */

/* Six octets of one or two hex digits, all separated by `:' or all by
 * `-'; out gets the normalized form. */
const char *vif_check_mac(const char *s, char out[18])
{
    unsigned char oct[6];
    char sep = 0;

    for (int i = 0; i < 6; i++) {
        int n = 0, h;

        oct[i] = 0;
        while ((h = hex_value(*s)) >= 0 && n < 3) {
            oct[i] = (unsigned char)(oct[i] * 16 + h);
            s++;
            n++;
        }
        if (n == 0 || n > 2)
            return "want six octets of two hex digits separated by `:'";
        if (i == 5)
            break;
        if (*s != ':' && *s != '-')
            return "want six octets of two hex digits separated by `:'";
        if (sep && *s != sep)
            return "mixed `:' and `-' separators";
        sep = *s++;
    }
    if (*s)
        return "want six octets of two hex digits separated by `:'";
    if (oct[0] & 1)
        return "a multicast address (low bit of the first octet set)";
    snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
             oct[0], oct[1], oct[2], oct[3], oct[4], oct[5]);
    return NULL;
}

/* One address with an optional /prefix. */
static const char *ip_check_one(const char *s, size_t len)
{
    char addr[INET6_ADDRSTRLEN + 1];
    unsigned char bin[sizeof(struct in6_addr)];
    const char *slash = memchr(s, '/', len);
    size_t addr_len = slash ? (size_t)(slash - s) : len;
    unsigned max, prefix = 0;

    if (addr_len == 0 || addr_len >= sizeof(addr))
        return "not an IPv4 or IPv6 address";
    memcpy(addr, s, addr_len);
    addr[addr_len] = '\0';
    if (inet_pton(AF_INET, addr, bin) == 1)
        max = 32;
    else if (inet_pton(AF_INET6, addr, bin) == 1)
        max = 128;
    else
        return "not an IPv4 or IPv6 address";
    if (slash) {
        const char *p = slash + 1, *end = s + len;

        if (p == end || end - p > 3)
            return "bad prefix length";
        for (; p < end; p++) {
            if (!is_digit(*p))
                return "bad prefix length";
            prefix = prefix * 10 + (unsigned)(*p - '0');
        }
        if (prefix > max)
            return "prefix length too long";
    }
    return NULL;
}

/* Addresses separated by spaces; *bad_r and *bad_len_r name the bad one. */
static const char *ip_check(const char *s, const char **bad_r, size_t *bad_len_r)
{
    int seen = 0;

    while (*s) {
        const char *start, *why;

        while (is_space(*s))
            s++;
        if (!*s)
            break;
        start = s;
        while (*s && !is_space(*s))
            s++;
        seen = 1;
        if ((why = ip_check_one(start, (size_t)(s - start)))) {
            *bad_r = start;
            *bad_len_r = (size_t)(s - start);
            return why;
        }
    }
    if (!seen) {
        *bad_r = s;
        *bad_len_r = 0;
        return "no address";
    }
    return NULL;
}

/* A decimal number for the rate grammar: no leading zero (xl reads it
 * as octal), not zero (zero_why says so), at most UINT32_MAX (as xl).
 * Advances *sp. */
static const char *rate_number(const char **sp, const char *zero_why,
                               uint64_t *value_r)
{
    const char *s = *sp;
    uint64_t value = 0;

    if (!is_digit(*s))
        return "want a number";
    if (*s == '0')
        return is_digit(s[1]) ? "a number with a leading zero (xl reads it as octal)"
                              : zero_why;
    for (; is_digit(*s); s++) {
        value = value * 10 + (uint64_t)(*s - '0');
        if (value > UINT32_MAX)
            return "number too large";
    }
    *sp = s;
    *value_r = value;
    return NULL;
}

static const char *rate_check(const char *s, uint64_t *bytes_per_interval_r,
                              uint32_t *interval_usecs_r)
{
    uint64_t rate, interval, bytes_per_sec, bytes_per_interval;
    const char *why;

    if (!*s || *s == '@')
        return "no rate";
    if ((why = rate_number(&s, "zero rate", &rate)))
        return why;
    bytes_per_sec = rate;
    if (*s == 'G')
        bytes_per_sec *= 1000000000u;
    else if (*s == 'M')
        bytes_per_sec *= 1000000u;
    else if (*s == 'K')
        bytes_per_sec *= 1000u;
    if (*s == 'G' || *s == 'M' || *s == 'K')
        s++;
    if (*s == 'b')
        bytes_per_sec /= 8;
    else if (*s != 'B')
        return "want RATE[K|M|G]{B|b}/s[@INTERVAL]";
    s++;
    if (s[0] != '/' || s[1] != 's')
        return "want RATE[K|M|G]{B|b}/s[@INTERVAL]";
    s += 2;

    interval = VIF_DEFAULT_INTERVAL_USECS;
    if (*s == '@') {
        s++;
        if ((why = rate_number(&s, "zero interval", &interval)))
            return why;
        if (strcmp(s, "") == 0 || strcmp(s, "s") == 0)
            interval *= 1000000u;
        else if (strcmp(s, "ms") == 0 || strcmp(s, "m") == 0)
            interval *= 1000u;
        else if (strcmp(s, "us") != 0 && strcmp(s, "u") != 0)
            return "want INTERVAL as a number and us, ms or s";
        if (interval > UINT32_MAX)
            return "interval too long";
    } else if (*s) {
        return "want RATE[K|M|G]{B|b}/s[@INTERVAL]";
    }

    if (bytes_per_sec > UINT64_MAX / interval)
        return "rate too large";
    bytes_per_interval = bytes_per_sec * interval / 1000000u;
    if (bytes_per_interval == 0)
        return "less than one byte per interval (xl would apply no limit)";
    *bytes_per_interval_r = bytes_per_interval;
    *interval_usecs_r = (uint32_t)interval;
    return NULL;
}

/* Plain decimal digits (leading zeros allowed, as xl's strtoul(..., 10)),
 * min..max. */
static int decimal_check(const char *s, long min, long max, long *value_r)
{
    long value = 0;

    if (!*s)
        return -1;
    for (; *s; s++) {
        if (!is_digit(*s) || value > (max - (*s - '0')) / 10)
            return -1;
        value = value * 10 + (*s - '0');
    }
    if (value < min)
        return -1;
    *value_r = value;
    return 0;
}

/* The keys with a field of their own.  Their handlers return 0, -EINVAL
 * after recording an error, or -ENOMEM. */

typedef int vif_key_fn(struct vif_spec *v, const char *value, struct vif_ctx *c);

static int key_mac(struct vif_spec *v, const char *value, struct vif_ctx *c)
{
    char mac[18];
    const char *why = vif_check_mac(value, mac);

    if (why) {
        vif_error(c, "invalid vif mac `%s': %s", value, why);
        return -EINVAL;
    }
    return replace_string(&v->mac, mac);
}

static int key_ip(struct vif_spec *v, const char *value, struct vif_ctx *c)
{
    const char *bad, *why;
    size_t bad_len;

    if (*value && (why = ip_check(value, &bad, &bad_len))) {
        vif_error(c, "invalid vif ip `%.*s': %s", (int)bad_len, bad, why);
        return -EINVAL;
    }
    return replace_string(&v->ip, value);
}

static int key_type(struct vif_spec *v, const char *value, struct vif_ctx *c)
{
    if (strcmp(value, "ioemu") != 0 && strcmp(value, "vif") != 0) {
        vif_error(c, "invalid vif type `%s' (want `ioemu' or `vif')", value);
        return -EINVAL;
    }
    return replace_string(&v->type, value);
}

static int key_rate(struct vif_spec *v, const char *value, struct vif_ctx *c)
{
    uint64_t bytes;
    uint32_t usecs;
    const char *why = rate_check(value, &bytes, &usecs);

    if (why) {
        vif_error(c, "invalid vif rate `%s': %s", value, why);
        return -EINVAL;
    }
    v->rate_bytes_per_interval = bytes;
    v->rate_interval_usecs = usecs;
    return replace_string(&v->rate, value);
}

static int key_mtu(struct vif_spec *v, const char *value, struct vif_ctx *c)
{
    long mtu;

    if (decimal_check(value, 68, 65535, &mtu) < 0) {
        vif_error(c, "invalid vif mtu `%s' (want 68 to 65535)", value);
        return -EINVAL;
    }
    v->mtu = (int)mtu;
    return 0;
}

static int key_devid(struct vif_spec *v, const char *value, struct vif_ctx *c)
{
    long devid;

    if (decimal_check(value, 0, INT_MAX, &devid) < 0) {
        vif_error(c, "invalid vif devid `%s' (want 0 to %d)", value, INT_MAX);
        return -EINVAL;
    }
    v->devid = (int)devid;
    return 0;
}

static int key_netdev(struct vif_spec *v, const char *value, struct vif_ctx *c)
{
    if (strcmp(value, "user") == 0) {
        v->netdev_user = true;
        return 0;
    }
    if (strcmp(value, "tap") == 0) {
        v->netdev_user = false;
        return 0;
    }
    vif_warn(c, "vif key `netdev=%s' is xl's deprecated alias of gatewaydev, "
             "applied as gatewaydev (vmkit's netdev takes `user' or `tap')", value);
    return replace_string(&v->gatewaydev, value);
}

/* In vif_format's order.  A string key has offset, the others fn. */
static const struct vif_key {
    const char *name;
    vif_key_fn *fn;
    size_t offset;
} vif_keys[] = {
    { "mac", key_mac, 0 },
    { "ip", key_ip, 0 },
    { "bridge", NULL, offsetof(struct vif_spec, bridge) },
    { "script", NULL, offsetof(struct vif_spec, script) },
    { "vifname", NULL, offsetof(struct vif_spec, vifname) },
    { "model", NULL, offsetof(struct vif_spec, model) },
    { "type", key_type, 0 },
    { "backend", NULL, offsetof(struct vif_spec, backend) },
    { "gatewaydev", NULL, offsetof(struct vif_spec, gatewaydev) },
    { "rate", key_rate, 0 },
    { "mtu", key_mtu, 0 },
    { "devid", key_devid, 0 },
    { "netdev", key_netdev, 0 },
};

/* Keys xl's parse_nic_config knows that vmkit parses but does not apply. */
static const char *const vif_unapplied_keys[] = {
    "accel",
    "forwarddev",
    "colo_sock_mirror_id", "colo_sock_mirror_ip", "colo_sock_mirror_port",
    "colo_sock_compare_sec_in_id", "colo_sock_compare_sec_in_ip",
    "colo_sock_compare_sec_in_port",
    "colo_sock_redirector0_id", "colo_sock_redirector0_ip",
    "colo_sock_redirector0_port",
    "colo_sock_redirector1_id", "colo_sock_redirector1_ip",
    "colo_sock_redirector1_port",
    "colo_sock_redirector2_id", "colo_sock_redirector2_ip",
    "colo_sock_redirector2_port",
    "colo_sock_compare_pri_in_id", "colo_sock_compare_pri_in_ip",
    "colo_sock_compare_pri_in_port",
    "colo_sock_compare_notify_id", "colo_sock_compare_notify_ip",
    "colo_sock_compare_notify_port",
    "colo_filter_mirror_queue", "colo_filter_mirror_outdev",
    "colo_filter_redirector0_queue", "colo_filter_redirector0_indev",
    "colo_filter_redirector0_outdev",
    "colo_filter_redirector1_queue", "colo_filter_redirector1_indev",
    "colo_filter_redirector1_outdev",
    "colo_compare_pri_in", "colo_compare_sec_in", "colo_compare_out",
    "colo_compare_notify_dev",
    "colo_sock_sec_redirector0_id", "colo_sock_sec_redirector0_ip",
    "colo_sock_sec_redirector0_port",
    "colo_sock_sec_redirector1_id", "colo_sock_sec_redirector1_ip",
    "colo_sock_sec_redirector1_port",
    "colo_filter_sec_redirector0_queue", "colo_filter_sec_redirector0_indev",
    "colo_filter_sec_redirector0_outdev",
    "colo_filter_sec_redirector1_queue", "colo_filter_sec_redirector1_indev",
    "colo_filter_sec_redirector1_outdev",
    "colo_filter_sec_rewriter0_queue",
    "colo_checkpoint_host", "colo_checkpoint_port",
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const struct vif_key *vif_key_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(vif_keys); i++)
        if (strcmp(vif_keys[i].name, name) == 0)
            return &vif_keys[i];
    return NULL;
}

static bool vif_key_unapplied(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(vif_unapplied_keys); i++)
        if (strcmp(vif_unapplied_keys[i], name) == 0)
            return true;
    return false;
}

static char **vif_string_field(struct vif_spec *v, const struct vif_key *k)
{
    return (char **)(void *)((char *)v + k->offset);
}

static const char *vif_string_field_const(const struct vif_spec *v,
                                          const struct vif_key *k)
{
    return *(char *const *)(const void *)((const char *)v + k->offset);
}

void vif_spec_init(struct vif_spec *v)
{
    memset(v, 0, sizeof(*v));
    v->params = NULL;
    v->mac = v->ip = v->bridge = v->script = v->vifname = NULL;
    v->model = v->type = v->backend = v->gatewaydev = v->rate = NULL;
    v->netdev_user = false;
    v->devid = -1;
}

void vif_spec_dispose(struct vif_spec *v)
{
    for (size_t i = 0; i < v->nparams; i++) {
        free(v->params[i].key);
        free(v->params[i].value);
    }
    free(v->params);
    free(v->mac);
    free(v->ip);
    free(v->bridge);
    free(v->script);
    free(v->vifname);
    free(v->model);
    free(v->type);
    free(v->backend);
    free(v->gatewaydev);
    free(v->rate);
    vif_spec_init(v);
}

static int vif_param_add(struct vif_spec *v, const char *key, const char *value)
{
    struct vif_param *params;
    char *k = NULL, *val = NULL;
    int rc = -ENOMEM;

    params = realloc(v->params, (v->nparams + 1) * sizeof(*params));
    if (!params)
        goto out;
    v->params = params;
    if (!(k = strdup(key)) || !(val = strdup(value)))
        goto out;
    params[v->nparams].key = k;
    params[v->nparams].value = val;
    v->nparams++;
    k = val = NULL;
    rc = 0;
out:
    free(k);
    free(val);
    return rc;
}

/* One item of the spec, modified in place.  0, -EINVAL (recorded) or
 * -ENOMEM. */
static int vif_parse_item(struct vif_spec *v, char *item, struct vif_ctx *c)
{
    const struct vif_key *k;
    char *eq, *key, *value;
    int rc;

    item = trim(item);
    if (!*item)
        return 0;
    eq = strchr(item, '=');
    if (!eq) {
        vif_warn(c, "vif item `%s' is not key=value (ignored, as xl does)", item);
        return 0;
    }
    if (eq > item && (is_space(eq[-1]) || is_space(eq[1])))
        vif_warn(c, "vif item `%s' has spaces around `=': applied, but xl "
                 "ignores such an item", item);
    *eq = '\0';
    key = trim(item);
    value = trim(eq + 1);
    if (!*key) {
        vif_warn(c, "vif item `=%s' has no key (ignored, as xl does)", value);
        return 0;
    }
    if ((rc = vif_param_add(v, key, value)) < 0)
        return rc;

    if ((k = vif_key_find(key))) {
        if (k->fn)
            return k->fn(v, value, c);
        return replace_string(vif_string_field(v, k), value);
    }
    if (vif_key_unapplied(key))
        vif_warn(c, "vif key `%s' is parsed, not applied", key);
    else
        vif_warn(c, "unrecognized vif option `%s' (kept and written back, not applied; xl ignores it)", key);
    return 0;
}

int vif_parse(const char *spec, const char *file, int line, int col,
              struct vif_spec *v, struct diag *d)
{
    struct vif_ctx c = { .file = file, .line = line, .col = col, .d = d };
    char *buf = NULL, *item, *next;
    int rc;

    vif_spec_init(v);
    if (!(buf = strdup(spec))) {
        rc = -ENOMEM;
        goto out;
    }
    for (item = buf; item; item = next) {
        char *comma = strchr(item, ',');

        next = NULL;
        if (comma) {
            *comma = '\0';
            next = comma + 1;
        }
        /* -EINVAL is counted in c; go on to report every error. */
        if ((rc = vif_parse_item(v, item, &c)) == -ENOMEM)
            goto out;
    }
    rc = c.nerrors ? -EINVAL : 0;
out:
    free(buf);
    if (rc < 0)
        vif_spec_dispose(v);
    return rc;
}

/* A growing string for vif_format. */
struct vif_buf {
    char *s;
    size_t len, cap;
};

static int vif_buf_put(struct vif_buf *b, const char *s)
{
    size_t n = strlen(s);

    if (!b->s || b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        char *p;

        while (b->len + n + 1 > cap)
            cap *= 2;
        if (!(p = realloc(b->s, cap)))
            return -ENOMEM;
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
    return 0;
}

/* Would s come back unchanged from vif_parse as a key or value?  An
 * empty value reads back as NULL for a field, as "" for a param. */
static bool vif_text_ok(const char *s, bool is_key, bool allow_empty)
{
    size_t n = strlen(s);

    if (n == 0)
        return allow_empty;
    if (is_space(s[0]) || is_space(s[n - 1]) || strchr(s, ','))
        return false;
    return !is_key || !strchr(s, '=');
}

/* Appends ",key=value" (without the comma at the start). */
static int vif_buf_item(struct vif_buf *b, const char *key, const char *value,
                        bool allow_empty)
{
    int rc;

    if (!vif_text_ok(key, true, false) || !vif_text_ok(value, false, allow_empty))
        return -EINVAL;
    if ((b->len && (rc = vif_buf_put(b, ",")) < 0) ||
        (rc = vif_buf_put(b, key)) < 0 ||
        (rc = vif_buf_put(b, "=")) < 0 ||
        (rc = vif_buf_put(b, value)) < 0)
        return rc;
    return 0;
}

/* The value vif_format writes for key k, in text (scratch holds numbers
 * and the mac), or NULL when unset; *rc_r is set to -EINVAL when v holds
 * something that would not read back. */
static const char *vif_format_value(const struct vif_spec *v,
                                    const struct vif_key *k,
                                    char scratch[24], int *rc_r)
{
    const char *bad;
    size_t bad_len;
    uint64_t bytes;
    uint32_t usecs;

    *rc_r = 0;
    if (!k->fn)
        return vif_string_field_const(v, k);
    if (k->fn == key_mac) {
        if (v->mac && vif_check_mac(v->mac, scratch))
            *rc_r = -EINVAL;
        return v->mac ? scratch : NULL;
    }
    if (k->fn == key_ip) {
        if (v->ip && ip_check(v->ip, &bad, &bad_len))
            *rc_r = -EINVAL;
        return v->ip;
    }
    if (k->fn == key_type) {
        if (v->type && strcmp(v->type, "ioemu") != 0 && strcmp(v->type, "vif") != 0)
            *rc_r = -EINVAL;
        return v->type;
    }
    if (k->fn == key_rate) {
        if (!v->rate) {
            if (v->rate_bytes_per_interval || v->rate_interval_usecs)
                *rc_r = -EINVAL;
        } else if (rate_check(v->rate, &bytes, &usecs) ||
                   bytes != v->rate_bytes_per_interval ||
                   usecs != v->rate_interval_usecs) {
            *rc_r = -EINVAL;
        }
        return v->rate;
    }
    if (k->fn == key_mtu) {
        if (v->mtu == 0)
            return NULL;
        if (v->mtu < 68 || v->mtu > 65535)
            *rc_r = -EINVAL;
        snprintf(scratch, 24, "%d", v->mtu);
        return scratch;
    }
    if (k->fn == key_devid) {
        if (v->devid == -1)
            return NULL;
        if (v->devid < 0)
            *rc_r = -EINVAL;
        snprintf(scratch, 24, "%d", v->devid);
        return scratch;
    }
    /* netdev */
    return v->netdev_user ? "user" : NULL;
}

char *vif_format(const struct vif_spec *v)
{
    struct vif_buf b = { NULL, 0, 0 };
    char *result = NULL;
    int rc = 0;

    for (size_t i = 0; i < ARRAY_LEN(vif_keys); i++) {
        char scratch[24];
        const char *value = vif_format_value(v, &vif_keys[i], scratch, &rc);

        if (rc < 0)
            goto out;
        if (value && (rc = vif_buf_item(&b, vif_keys[i].name, value, false)) < 0)
            goto out;
    }
    for (size_t i = 0; i < v->nparams; i++) {
        const struct vif_param *p = &v->params[i];

        if (vif_key_find(p->key))
            continue;
        if ((rc = vif_buf_item(&b, p->key, p->value, true)) < 0)
            goto out;
    }
    if ((rc = vif_buf_put(&b, "")) < 0)
        goto out;
    result = b.s;
    b.s = NULL;
out:
    free(b.s);
    if (!result)
        errno = -rc;
    return result;
}

void vif_mac_generate(const unsigned char uuid[16], unsigned index, char out[18])
{
    uint64_t h = 0xcbf29ce484222325u, x;
    unsigned char idx[4];

    idx[0] = (unsigned char)(index & 0xff);
    idx[1] = (unsigned char)((index >> 8) & 0xff);
    idx[2] = (unsigned char)((index >> 16) & 0xff);
    idx[3] = (unsigned char)((index >> 24) & 0xff);
    for (int i = 0; i < 16; i++) {
        h ^= uuid[i];
        h *= 0x100000001b3u;
    }
    for (int i = 0; i < 4; i++) {
        h ^= idx[i];
        h *= 0x100000001b3u;
    }
    x = (h ^ (h >> 24) ^ (h >> 48)) & 0xffffff;
    snprintf(out, 18, "00:16:3e:%02x:%02x:%02x",
             (unsigned)((x >> 16) & 0xff), (unsigned)((x >> 8) & 0xff),
             (unsigned)(x & 0xff));
}
