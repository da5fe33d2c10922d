/*
 * fleet.c - fleet files and --count fleets (see fleet.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "check.h"
#include "fleet.h"
#include "units.h"

/* The widest %0Nd: a host name label is at most 63 bytes. */
#define PATTERN_MAX_WIDTH 63

/* The longest --hostname pattern, as long as a host name. */
#define PATTERN_MAX_LEN 253

/* The longest --ip-range: two dotted quads, `-', `/32'. */
#define RANGE_MAX_LEN (2 * 15 + 1 + 3)

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* ---- building ---- */

void fleet_free(struct fleet *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->nguests; i++) {
        free(f->guests[i].name);
        free(f->guests[i].ip);
    }
    free(f->guests);
    settings_free(f->settings);
    free(f->source);
    free(f);
}

/* A fleet around s (taken, freed on failure).  0 or -ENOMEM. */
static int fleet_from_settings(struct settings *s, struct fleet **f_r)
{
    struct fleet *f = calloc(1, sizeof(*f));
    size_t n = 0;

    *f_r = NULL;
    if (!f) {
        settings_free(s);
        return -ENOMEM;
    }
    f->settings = s;
    if (!(f->source = strdup(s->source)))
        goto oom;
    for (size_t i = 1; i < s->nsections; i++)
        n += strcmp(s->sections[i].name, FLEET_DEFAULTS) != 0;
    if (n && !(f->guests = calloc(n, sizeof(*f->guests))))
        goto oom;
    for (size_t i = 1; i < s->nsections; i++) {
        const struct settings_section *sec = &s->sections[i];
        struct fleet_guest *g;

        if (!strcmp(sec->name, FLEET_DEFAULTS)) {
            f->defaults = sec;
            continue;
        }
        g = &f->guests[f->nguests];
        if (!(g->name = strdup(sec->name)))
            goto oom;
        g->line = sec->line;
        g->col = sec->col;
        g->section = sec;
        f->nguests++;
    }
    *f_r = f;
    return 0;
oom:
    fleet_free(f);
    return -ENOMEM;
}

int fleet_parse(const char *source, const char *text, size_t len, struct fleet **f_r,
                struct diag *d)
{
    struct settings *s = NULL;
    int r = settings_parse_flags(source, text, len, SETTINGS_PARTIAL, &s, d);
    int k;

    *f_r = NULL;
    if (!s)
        return r;
    k = fleet_from_settings(s, f_r);
    return k ? k : r;
}

int fleet_read_file(const char *path, struct fleet **f_r, struct diag *d)
{
    struct settings *s = NULL;
    int r = settings_read_file(path, SETTINGS_PARTIAL, &s, d);
    int k;

    *f_r = NULL;
    if (!s)
        return r;
    k = fleet_from_settings(s, f_r);
    return k ? k : r;
}

/* ---- --count, --hostname PATTERN, --ip-range ---- */

int fleet_parse_count(const char *s, size_t *n_r, const char **why)
{
    size_t n = 0;
    const char *c;

    for (c = s; is_digit(*c) && n <= FLEET_MAX_GUESTS; c++)
        n = n * 10 + (size_t)(*c - '0');
    if (c == s || *c || s[0] == '0' || n > FLEET_MAX_GUESTS) {
        *why = "expected a whole number from 1 to 10000";
        return -EINVAL;
    }
    *n_r = n;
    return 0;
}

/* The pattern's parts: text before the conversion (prefix_len bytes),
 * its width (0: none) and zero flag, the text after. */
struct pattern {
    size_t prefix_len;
    int width;
    bool zero;
    const char *suffix;
};

static int pattern_parse(const char *s, struct pattern *p, const char **why)
{
    const char *pc, *c;
    int width = 0, ndigits = 0;

    if (strlen(s) > PATTERN_MAX_LEN) {
        *why = "longer than a host name (253 characters)";
        return -EINVAL;
    }
    if (!(pc = strchr(s, '%'))) {
        *why = "no %d for the guest's number (as in web%02d)";
        return -EINVAL;
    }
    c = pc + 1;
    if (*c == '%') {
        *why = "`%%' is not allowed (a host name holds no `%')";
        return -EINVAL;
    }
    p->zero = *c == '0';
    if (p->zero)
        c++;
    if (*c == '0') {
        *why = "a width with a leading zero (%0Nd takes one `0')";
        return -EINVAL;
    }
    while (is_digit(*c) && ndigits < 3) {
        width = width * 10 + (*c++ - '0');
        ndigits++;
    }
    if (*c != 'd') {
        *why = "the conversion must be %d, %Nd or %0Nd";
        return -EINVAL;
    }
    if (width > PATTERN_MAX_WIDTH) {
        *why = "the width is more than 63 (a host name label's length)";
        return -EINVAL;
    }
    if (p->zero && !width) {
        *why = "`%0d' has no width (%03d pads to three digits)";
        return -EINVAL;
    }
    if (strchr(c + 1, '%')) {
        *why = "more than one `%' (the pattern takes exactly one %d)";
        return -EINVAL;
    }
    p->prefix_len = (size_t)(pc - s);
    p->width = width;
    p->suffix = c + 1;
    return 0;
}

int fleet_pattern_expand(const char *pattern, size_t n, char **name_r, const char **why)
{
    struct pattern p;
    int r;

    *name_r = NULL;
    if (pattern_parse(pattern, &p, why))
        return -EINVAL;
    /* fixed formats: the pattern's text is only ever an argument */
    if (p.zero)
        r = asprintf(name_r, "%.*s%0*zu%s", (int)p.prefix_len, pattern, p.width, n, p.suffix);
    else
        r = asprintf(name_r, "%.*s%*zu%s", (int)p.prefix_len, pattern, p.width, n, p.suffix);
    if (r < 0) {
        *name_r = NULL;
        return -ENOMEM;
    }
    return 0;
}

/* Whether [a, b] meets [lo, hi]. */
static bool overlaps(uint32_t a, uint32_t b, uint32_t lo, uint32_t hi)
{
    return a <= hi && b >= lo;
}

/* Whether an IPv4 address (host order) is not a host's: 0/8, 127/8,
 * multicast and reserved (224/3). */
static bool ipv4_not_host(uint32_t a, uint32_t b)
{
    return overlaps(a, b, 0x00000000u, 0x00ffffffu) ||
           overlaps(a, b, 0x7f000000u, 0x7fffffffu) ||
           overlaps(a, b, 0xe0000000u, 0xffffffffu);
}

/* A dotted quad of n bytes at s into *a (host order); 0 or -EINVAL. */
static int parse_quad(const char *s, size_t n, uint32_t *a)
{
    char buf[INET_ADDRSTRLEN];
    struct in_addr in;

    if (n == 0 || n >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, &in) != 1)
        return -EINVAL;
    *a = ntohl(in.s_addr);
    return 0;
}

int fleet_ip_range_parse(const char *s, struct fleet_ip_range *r_r, const char **why)
{
    const char *dash, *slash, *end;
    struct fleet_ip_range r = { .prefix = -1 };

    if (strlen(s) > RANGE_MAX_LEN || !(dash = strchr(s, '-'))) {
        *why = "expected FIRST-LAST (192.0.2.10-192.0.2.59), optionally with /PREFIX";
        return -EINVAL;
    }
    slash = strchr(dash + 1, '/');
    end = slash ? slash : dash + 1 + strlen(dash + 1);
    if (parse_quad(s, (size_t)(dash - s), &r.first)) {
        *why = "FIRST is not an IPv4 address (a dotted quad)";
        return -EINVAL;
    }
    if (parse_quad(dash + 1, (size_t)(end - dash - 1), &r.last)) {
        *why = "LAST is not an IPv4 address (a dotted quad)";
        return -EINVAL;
    }
    if (slash) {
        const char *c = slash + 1;
        int n = 0;

        if (!*c || strlen(c) > 2 || (c[0] == '0' && c[1]))
            goto bad_prefix;
        for (; *c; c++) {
            if (!is_digit(*c))
                goto bad_prefix;
            n = n * 10 + (*c - '0');
        }
        if (n > 32)
            goto bad_prefix;
        r.prefix = n;
    }
    if (r.first > r.last) {
        *why = "FIRST comes after LAST (the range is reversed)";
        return -EINVAL;
    }
    if (ipv4_not_host(r.first, r.last)) {
        *why = "the range holds addresses that are not a host's (0/8, 127/8, multicast,"
               " reserved)";
        return -EINVAL;
    }
    if (r.prefix >= 0) {
        uint32_t mask = r.prefix ? UINT32_MAX << (32 - r.prefix) : 0;

        if ((r.first & mask) != (r.last & mask)) {
            *why = "FIRST and LAST are not in one network of the /PREFIX";
            return -EINVAL;
        }
        if (r.prefix <= 30 && (r.first == (r.first & mask) || r.last == (r.last | ~mask))) {
            *why = "the range holds the network's own address or its broadcast address";
            return -EINVAL;
        }
    }
    *r_r = r;
    return 0;
bad_prefix:
    *why = "the prefix after `/' must be 0..32";
    return -EINVAL;
}

uint64_t fleet_ip_range_size(const struct fleet_ip_range *r)
{
    return (uint64_t)r->last - r->first + 1;
}

/* An IPv4 address (host order) as a dotted quad. */
static void quad_text(uint32_t a, char buf[INET_ADDRSTRLEN])
{
    struct in_addr in = { .s_addr = htonl(a) };

    if (!inet_ntop(AF_INET, &in, buf, INET_ADDRSTRLEN))
        strcpy(buf, "?");
}

/* "FIRST-LAST[/PREFIX]" in buf. */
static void range_text(const struct fleet_ip_range *r, char buf[RANGE_MAX_LEN + 1])
{
    char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

    quad_text(r->first, a);
    quad_text(r->last, b);
    if (r->prefix >= 0)
        snprintf(buf, RANGE_MAX_LEN + 1, "%s-%s/%d", a, b, r->prefix);
    else
        snprintf(buf, RANGE_MAX_LEN + 1, "%s-%s", a, b);
}

int fleet_from_count(const char *count, const char *pattern, const char *ip_range,
                     struct fleet **f_r, struct diag *d)
{
    struct fleet *f = NULL;
    struct fleet_ip_range range;
    const char *why;
    size_t n = 0;
    int bad = 0, r;

    *f_r = NULL;
    if (fleet_parse_count(count, &n, &why)) {
        diag_error(d, NULL, 0, 0, "--count: `%s': %s", count, why);
        bad = 1;
    }
    {
        struct pattern p;

        if (pattern_parse(pattern, &p, &why)) {
            diag_error(d, NULL, 0, 0, "--hostname: `%s': %s", pattern, why);
            bad = 1;
        }
    }
    if (ip_range && fleet_ip_range_parse(ip_range, &range, &why)) {
        diag_error(d, NULL, 0, 0, "--ip-range: `%s': %s", ip_range, why);
        bad = 1;
        ip_range = NULL;
    }
    if (!bad && ip_range && fleet_ip_range_size(&range) < n) {
        diag_error(d, NULL, 0, 0, "--ip-range: `%s' holds %llu addresses; --count asks"
                   " for %zu", ip_range, (unsigned long long)fleet_ip_range_size(&range), n);
        bad = 1;
    }
    if (bad)
        return d->oom ? -ENOMEM : -EINVAL;

    if (!(f = calloc(1, sizeof(*f))) || !(f->guests = calloc(n, sizeof(*f->guests)))) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct fleet_guest *g = &f->guests[i];

        r = fleet_pattern_expand(pattern, i + 1, &g->name, &why);
        if (r)
            goto out;
        f->nguests++;
        if (check_hostname(g->name, &why)) {
            diag_error(d, NULL, 0, 0, "--hostname: `%s' gives `%s' for guest %zu, not a"
                       " valid host name (RFC 1123): %s", pattern, g->name, i + 1, why);
            r = d->oom ? -ENOMEM : -EINVAL;
            goto out;
        }
        if (ip_range) {
            char a[INET_ADDRSTRLEN];

            quad_text(range.first + (uint32_t)i, a);
            r = range.prefix >= 0 ? asprintf(&g->ip, "%s/%d", a, range.prefix)
                                  : asprintf(&g->ip, "%s", a);
            if (r < 0) {
                g->ip = NULL;
                r = -ENOMEM;
                goto out;
            }
        }
    }
    *f_r = f;
    f = NULL;
    r = 0;
out:
    fleet_free(f);
    return r;
}

/* ---- a guest's settings ---- */

/* The winning (last) entry for key in sec, or NULL. */
static const struct settings_entry *section_find(const struct settings_section *sec,
                                                 const char *key)
{
    for (size_t i = sec ? sec->nentries : 0; i-- > 0;)
        if (!strcmp(sec->entries[i].key, key))
            return &sec->entries[i];
    return NULL;
}

const struct settings_entry *fleet_template(const struct fleet *f, size_t i)
{
    const struct settings_entry *e;

    if (i >= f->nguests || !f->guests[i].section)
        return NULL;
    e = section_find(f->guests[i].section, "template");
    return e ? e : section_find(f->defaults, "template");
}

/* Whether key may not stand in [defaults] (defaults) or a guest's section. */
static bool key_refused(const char *key, bool defaults)
{
    const struct opt_def *def;

    if (!strcmp(key, "hostname"))
        return true;
    if (!defaults || !(def = options_find(key)))
        return false;
    return (def->flags & OPT_NOT_TEMPLATE) && def->slot != SLOT_TEMPLATE;
}

/* A list of entries being gathered (shallow copies, borrowed strings). */
struct entries {
    struct settings_entry *v;
    size_t n;
};

/* Appends sec's entries but the refused ones.  0 or -ENOMEM. */
static int entries_add(struct entries *l, const struct settings_section *sec, bool defaults)
{
    struct settings_entry *v;

    if (!sec || !sec->nentries)
        return 0;
    if (!(v = realloc(l->v, (l->n + sec->nentries) * sizeof(*v))))
        return -ENOMEM;
    l->v = v;
    for (size_t i = 0; i < sec->nentries; i++)
        if (!key_refused(sec->entries[i].key, defaults))
            l->v[l->n++] = sec->entries[i];
    return 0;
}

/* Applies entries as one settings file named source (NULL: as if given on
 * the command line). */
static int apply_entries(struct opt_set *o, const char *source, const struct entries *l,
                         enum opt_layer layer, struct diag *d)
{
    struct settings_section sec = { .entries = l->v, .nentries = l->n };
    struct settings view = { .source = (char *)source, .sections = &sec, .nsections = 1 };

    if (!l->n)
        return 0;
    return options_apply_settings(o, &view, layer, d);
}

int fleet_apply(const struct fleet *f, size_t i, struct opt_set *o, struct diag *d)
{
    const struct fleet_guest *g = &f->guests[i];
    struct settings_entry own[2];
    struct entries l = { 0 };
    int r;

    if (!g->section) {
        /* --count: the name and address as the command line gave them */
        own[0] = (struct settings_entry){ .key = (char *)"hostname", .value = g->name };
        own[1] = (struct settings_entry){ .key = (char *)"ip", .value = g->ip };
        l.v = own;
        l.n = g->ip ? 2 : 1;
        return apply_entries(o, NULL, &l, LAYER_CMDLINE, d);
    }
    if (!(l.v = malloc(sizeof(*l.v))))
        return -ENOMEM;
    l.v[l.n++] = (struct settings_entry){
        .key = (char *)"hostname", .value = g->name,
        .line = g->line, .col = g->col, .value_col = g->col + 1,
    };
    r = entries_add(&l, f->defaults, true);
    if (!r)
        r = entries_add(&l, g->section, false);
    if (!r)
        r = apply_entries(o, f->source, &l, LAYER_CONFIG, d);
    free(l.v);
    return r;
}

/* ---- validation ---- */

/* An address or MAC of one guest, for finding repeats. */
struct ident {
    unsigned char key[17];      /* family, then the address's bytes */
    size_t guest;
    int line, col;
    char text[INET6_ADDRSTRLEN];
};

static int by_key_then_guest(const void *a, const void *b)
{
    const struct ident *x = a, *y = b;
    int c = memcmp(x->key, y->key, sizeof(x->key));

    if (c)
        return c;
    return x->guest < y->guest ? -1 : x->guest > y->guest;
}

/* Reports each ident that repeats an earlier guest's. */
static void report_repeats(const struct fleet *f, struct ident *v, size_t n, const char *what,
                           struct diag *d)
{
    if (n > 1)
        qsort(v, n, sizeof(*v), by_key_then_guest);
    for (size_t i = 1, first = 0; i < n; i++) {
        const struct fleet_guest *g0;

        if (memcmp(v[i].key, v[first].key, sizeof(v[i].key))) {
            first = i;
            continue;
        }
        g0 = &f->guests[v[first].guest];
        if (v[first].line)
            diag_error(d, f->source, v[i].line, v[i].col, "%s: %s is already guest %s's"
                       " (line %d)", what, v[i].text, g0->name, v[first].line);
        else
            diag_error(d, f->source, v[i].line, v[i].col, "%s: %s is already guest %s's",
                       what, v[i].text, g0->name);
    }
}

/* Whether an address (family, bytes) is not a host's. */
static bool addr_not_host(int family, const unsigned char *b)
{
    static const unsigned char zero[16];

    if (family == AF_INET) {
        uint32_t a = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];

        return ipv4_not_host(a, a);
    }
    if (b[0] == 0xff)
        return true;                        /* multicast */
    if (!memcmp(b, zero, 15))
        return b[15] == 0 || b[15] == 1;    /* :: and ::1 */
    return false;
}

/* What one guest's settings give for the checks across guests. */
struct guest_facts {
    const char *ip;             /* the static address as written, or NULL */
    int ip_line, ip_col;
    const char *mac;
    int mac_line, mac_col;
};

/* Checks the keys of section sec that fleet_apply leaves out. */
static void refused_keys(const struct fleet *f, const struct settings_section *sec,
                         bool defaults, struct diag *d)
{
    for (size_t k = 0; k < sec->nentries; k++) {
        const struct settings_entry *e = &sec->entries[k];

        if (!key_refused(e->key, defaults))
            continue;
        if (!strcmp(e->key, "hostname") && !defaults)
            diag_error(d, f->source, e->line, e->col, "`hostname' in a guest's section:"
                       " the section's name is the guest's host name ([%s])", sec->name);
        else
            diag_error(d, f->source, e->line, e->col, "`%s' is not for [defaults]: it"
                       " belongs to one guest (put it in the guest's [NAME] section)",
                       e->key);
    }
}

/* Reports a `template' entry naming none of c's templates. */
static void check_template(const struct fleet *f, const struct settings_entry *e,
                           const struct fleet_checks *c, struct diag *d)
{
    const char *why;
    char known[1024] = "";

    if (!e || !*e->value || !c || !c->templates || check_name(e->value, &why))
        return;         /* none, no list, or a bad name (options_apply_settings's) */
    for (size_t i = 0; i < c->ntemplates; i++)
        if (!strcmp(c->templates[i], e->value))
            return;
    for (size_t i = 0; i < c->ntemplates; i++) {
        strncat(known, i ? " " : "", sizeof(known) - strlen(known) - 1);
        strncat(known, c->templates[i], sizeof(known) - strlen(known) - 1);
    }
    diag_error(d, f->source, e->line, e->value_col, "template: unknown template `%s'"
               " (known: %s)", e->value, c->ntemplates ? known : "none");
}

/* The guest's fleet settings, checked (errors in d), and what they give.
 * 0, -EINVAL after recording, or -ENOMEM. */
static int check_guest(const struct fleet *f, size_t i, struct opt_set *o,
                       struct guest_facts *facts, struct diag *d)
{
    const struct fleet_guest *g = &f->guests[i];
    struct entries l = { 0 };
    struct diag scratch;
    const struct opt_value *v;
    int r = 0, bad = 0;

    memset(facts, 0, sizeof(*facts));
    if (!g->section) {
        facts->ip = g->ip;
        return 0;
    }
    /* [defaults] (its errors are reported once, by the caller), then the
     * section's own settings */
    diag_init(&scratch);
    if (entries_add(&l, f->defaults, true) == -ENOMEM ||
        apply_entries(o, f->source, &l, LAYER_CONFIG, &scratch) == -ENOMEM)
        r = -ENOMEM;
    diag_dispose(&scratch);
    l.n = 0;
    if (!r && entries_add(&l, g->section, false) == -ENOMEM)
        r = -ENOMEM;
    if (!r) {
        r = apply_entries(o, f->source, &l, LAYER_CONFIG, d);
        bad = r == -EINVAL;
        if (r == -EINVAL)
            r = 0;
    }
    free(l.v);
    if (r)
        return r;
    refused_keys(f, g->section, false, d);
    v = &o->v[SLOT_IP];
    if (v->by && v->by->slot == SLOT_IP && v->value && !v->bad && v->file) {
        facts->ip = v->value;
        facts->ip_line = v->line;
        facts->ip_col = v->col;
    }
    v = &o->v[SLOT_MAC];
    if (v->by && v->value && !v->bad && v->file) {
        facts->mac = v->value;
        facts->mac_line = v->line;
        facts->mac_col = v->col;
    }
    return bad ? -EINVAL : 0;
}

static int by_name_then_guest(const void *a, const void *b, void *arg)
{
    const struct fleet *f = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcasecmp(f->guests[x].name, f->guests[y].name);

    if (c)
        return c;
    return x < y ? -1 : x > y;
}

/* Names: host names, and none the same as another without regard to case. */
static int check_names(const struct fleet *f, struct diag *d)
{
    size_t *order;

    for (size_t i = 0; i < f->nguests; i++) {
        const struct fleet_guest *g = &f->guests[i];
        const char *why;

        if (!strcasecmp(g->name, FLEET_DEFAULTS)) {
            diag_error(d, f->source, g->line, g->col + 1, "[%s]: a guest cannot be called"
                       " %s (the shared settings' section is [%s], in lower case)", g->name,
                       FLEET_DEFAULTS, FLEET_DEFAULTS);
        } else if (check_hostname(g->name, &why)) {
            if (g->section)
                diag_error(d, f->source, g->line, g->col + 1, "[%s]: not a valid host name"
                           " (RFC 1123): %s", g->name, why);
            else
                diag_error(d, NULL, 0, 0, "--hostname: `%s' is not a valid host name"
                           " (RFC 1123): %s", g->name, why);
        }
    }
    if (f->nguests < 2)
        return 0;
    if (!(order = malloc(f->nguests * sizeof(*order))))
        return -ENOMEM;
    for (size_t i = 0; i < f->nguests; i++)
        order[i] = i;
    qsort_r(order, f->nguests, sizeof(*order), by_name_then_guest, (void *)f);
    for (size_t i = 1, first = 0; i < f->nguests; i++) {
        const struct fleet_guest *g = &f->guests[order[i]], *g0 = &f->guests[order[first]];

        if (strcasecmp(g->name, g0->name)) {
            first = i;
            continue;
        }
        diag_error(d, f->source, g->line, g->col + 1, "guest [%s] repeats [%s] (line %d):"
                   " host names are the same whatever their case", g->name, g0->name,
                   g0->line);
    }
    free(order);
    return 0;
}

int fleet_validate(const struct fleet *f, const struct fleet_checks *c, struct diag *d)
{
    struct ident *ips = NULL, *macs = NULL;
    size_t nips = 0, nmacs = 0, nerrors = d->nerrors;
    struct opt_set o;
    int r = 0;

    options_init(&o);
    if (f->settings) {
        const struct settings_section *top = settings_section(f->settings, NULL);

        for (size_t k = 0; top && k < top->nentries; k++)
            diag_error(d, f->source, top->entries[k].line, top->entries[k].col,
                       "`%s' before any section: the settings all guests share go under"
                       " [defaults], a guest's own under its [NAME]", top->entries[k].key);
    }
    if (!f->nguests)
        diag_error(d, f->source, 0, 0, "no guests (a fleet file has a [NAME] section per"
                   " guest)");
    if (f->nguests > FLEET_MAX_GUESTS)
        diag_error(d, f->source, f->guests[FLEET_MAX_GUESTS].line,
                   f->guests[FLEET_MAX_GUESTS].col, "more than %d guests", FLEET_MAX_GUESTS);
    if ((r = check_names(f, d)))
        goto out;

    /* [defaults], once */
    if (f->defaults) {
        struct entries l = { 0 };

        refused_keys(f, f->defaults, true, d);
        r = entries_add(&l, f->defaults, true);
        if (!r)
            r = apply_entries(&o, f->source, &l, LAYER_CONFIG, d);
        free(l.v);
        options_dispose(&o);
        if (r == -ENOMEM)
            goto out;
        r = 0;
        check_template(f, section_find(f->defaults, "template"), c, d);
    }

    if (f->nguests && (!(ips = calloc(f->nguests, sizeof(*ips))) ||
                       !(macs = calloc(f->nguests, sizeof(*macs))))) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < f->nguests; i++) {
        const struct fleet_guest *g = &f->guests[i];
        struct guest_facts facts;

        r = check_guest(f, i, &o, &facts, d);
        if (r == -ENOMEM)
            goto out;
        r = 0;
        if (g->section)
            check_template(f, section_find(g->section, "template"), c, d);
        if (facts.ip) {
            struct ident *id = &ips[nips];
            int fam, prefix;
            const char *why;

            if (!check_ip(facts.ip, id->text, sizeof(id->text), &fam, &prefix, &why) &&
                inet_pton(fam, id->text, id->key + 1) == 1) {
                id->key[0] = (unsigned char)fam;
                id->guest = i;
                id->line = facts.ip_line;
                id->col = facts.ip_col;
                nips++;
                if (addr_not_host(fam, id->key + 1)) {
                    diag_error(d, f->source, id->line, id->col, "ip: %s is not a host's"
                               " address (unspecified, loopback or multicast)", id->text);
                } else if (c && c->ip_range) {
                    uint32_t a = (uint32_t)id->key[1] << 24 | (uint32_t)id->key[2] << 16 |
                                 (uint32_t)id->key[3] << 8 | id->key[4];
                    char rt[RANGE_MAX_LEN + 1];

                    if (fam != AF_INET || a < c->ip_range->first || a > c->ip_range->last) {
                        range_text(c->ip_range, rt);
                        diag_error(d, f->source, id->line, id->col, "ip: %s is outside"
                                   " --ip-range %s", id->text, rt);
                    }
                }
            }
        }
        if (facts.mac) {
            struct ident *id = &macs[nmacs];
            char norm[18];
            const char *why;

            if (!check_mac(facts.mac, norm, &why)) {
                memcpy(id->key, norm, sizeof(norm) - 1);
                memcpy(id->text, norm, sizeof(norm));
                id->guest = i;
                id->line = facts.mac_line;
                id->col = facts.mac_col;
                nmacs++;
            }
        }
        options_dispose(&o);
    }
    report_repeats(f, ips, nips, "ip", d);
    report_repeats(f, macs, nmacs, "mac", d);
out:
    options_dispose(&o);
    free(ips);
    free(macs);
    if (r)
        return r;
    if (d->oom)
        return -ENOMEM;
    return d->nerrors > nerrors ? -EINVAL : 0;
}

/* ---- storage ---- */

/* The size slot's value, or def; 0 or -EINVAL/-ERANGE. */
static int slot_bytes(const struct opt_set *o, enum opt_slot slot, const char *def,
                      uint64_t *b)
{
    const struct opt_value *v = &o->v[slot];

    if (v->bad)
        return -EINVAL;
    return options_parse_size(v->by && v->value ? v->value : def, b);
}

int fleet_guest_bytes(const struct opt_set *o, uint64_t *bytes_r)
{
    const struct opt_value *sw = &o->v[SLOT_SWAP];
    uint64_t size, swap = 0;
    int r;

    if ((r = slot_bytes(o, SLOT_SIZE, "4G", &size)))
        return r;
    if (!(sw->by && !sw->value && sw->by->slot == SLOT_SWAP) &&
        (r = slot_bytes(o, SLOT_SWAP, "512M", &swap)))
        return r;
    if (size > UINT64_MAX - swap)
        return -ERANGE;
    *bytes_r = size + swap;
    return 0;
}

/* A size for a message: as units_format_size writes it when it is a
 * whole number of the largest unit it reaches, else to a tenth of it. */
static void size_text(uint64_t b, char buf[32])
{
    static const struct {
        uint64_t unit;
        char c;
    } units[] = { { UNITS_TIB, 'T' }, { UNITS_GIB, 'G' }, { UNITS_MIB, 'M' }, { UNITS_KIB, 'K' } };

    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (b < units[i].unit)
            continue;
        if (b % units[i].unit == 0)
            units_format_size(b, buf, 32);
        else
            snprintf(buf, 32, "%.1f%c", (double)b / (double)units[i].unit, units[i].c);
        return;
    }
    snprintf(buf, 32, "%llu bytes", (unsigned long long)b);
}

int fleet_check_room(const struct fleet *f, const uint64_t *need, uint64_t available,
                     const char *where, struct diag *d)
{
    uint64_t total = 0;
    bool over = false;
    char a[32], b[32];

    for (size_t i = 0; i < f->nguests; i++) {
        if (need[i] > UINT64_MAX - total) {
            over = true;
            break;
        }
        total += need[i];
    }
    if (!over && total <= available)
        return 0;
    size_text(available, b);
    if (over) {
        diag_error(d, where, 0, 0, "the fleet needs more than 16E for %zu guests, %s"
                   " available", f->nguests, b);
    } else {
        size_text(total, a);
        diag_error(d, where, 0, 0, "the fleet needs %s for %zu guest%s, %s available", a,
                   f->nguests, f->nguests == 1 ? "" : "s", b);
    }
    return -ENOSPC;
}
