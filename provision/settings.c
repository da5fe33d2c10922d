/*
 * settings.c - the settings-file parser (see settings.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "settings.h"

struct parser {
    const char *source;
    struct diag *d;
    struct settings *s;
    int nomem;
    int bad;
    int skip;       /* after a bad section header: settings belong to none */
};

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return is_lower(c) || (c >= 'A' && c <= 'Z');
}

static bool is_control(char c)
{
    return ((unsigned char)c < 0x20 && c != '\t') || c == 0x7f;
}

static void error_at(struct parser *p, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void error_at(struct parser *p, int line, int col, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    diag_vadd(p->d, DIAG_ERROR, p->source, line, col, fmt, ap);
    va_end(ap);
    p->bad = 1;
}

static struct settings_section *add_section(struct parser *p, char *name,
                                            int line, int col)
{
    struct settings *s = p->s;
    struct settings_section *v = realloc(s->sections, (s->nsections + 1) * sizeof(*v));

    if (!v) {
        free(name);
        p->nomem = 1;
        return NULL;
    }
    s->sections = v;
    v = &s->sections[s->nsections++];
    memset(v, 0, sizeof(*v));
    v->name = name;
    v->line = line;
    v->col = col;
    return v;
}

static void add_entry(struct parser *p, char *key, char *value, int line,
                      int col, int value_col)
{
    struct settings_section *sec = &p->s->sections[p->s->nsections - 1];
    struct settings_entry *v;

    if (p->skip) {
        free(key);
        free(value);
        return;
    }
    v = realloc(sec->entries, (sec->nentries + 1) * sizeof(*v));
    if (!v) {
        free(key);
        free(value);
        p->nomem = 1;
        return;
    }
    sec->entries = v;
    v[sec->nentries++] = (struct settings_entry){
        .key = key, .value = value, .line = line, .col = col, .value_col = value_col,
    };
}

/* A comment or nothing from c on: true. */
static bool rest_is_empty(const char *c, const char *end)
{
    while (c < end && is_blank(*c))
        c++;
    return c == end || *c == '#';
}

static void parse_section(struct parser *p, const char *l, const char *c,
                          const char *end, int lineno)
{
    const char *open = c, *close, *a, *b;
    char *name;

    p->skip = 1;        /* until the header is found good */
    close = memchr(c, ']', (size_t)(end - c));
    if (!close) {
        error_at(p, lineno, (int)(open - l) + 1, "expected `[NAME]'");
        return;
    }
    if (!rest_is_empty(close + 1, end)) {
        const char *t = close + 1;

        while (is_blank(*t))
            t++;
        error_at(p, lineno, (int)(t - l) + 1, "unexpected text after `]'");
        return;
    }
    for (a = open + 1; a < close && is_blank(*a); a++)
        ;
    for (b = close; b > a && is_blank(b[-1]); b--)
        ;
    if (a == b || !(is_alpha(*a) || is_digit(*a) || *a == '_')) {
        error_at(p, lineno, (int)(a - l) + 1, "bad section name `%.*s' (expected"
                 " letters, digits, `.', `-' and `_', not starting with `.' or `-')",
                 (int)(b - a), a);
        return;
    }
    for (const char *t = a; t < b; t++) {
        if (!(is_alpha(*t) || is_digit(*t) || *t == '_' || *t == '.' || *t == '-')) {
            error_at(p, lineno, (int)(a - l) + 1, "bad section name `%.*s' (expected"
                     " letters, digits, `.', `-' and `_', not starting with `.' or `-')",
                     (int)(b - a), a);
            return;
        }
    }
    for (size_t i = 1; i < p->s->nsections; i++) {
        const struct settings_section *sec = &p->s->sections[i];

        if (strlen(sec->name) == (size_t)(b - a) && !memcmp(sec->name, a, (size_t)(b - a))) {
            error_at(p, lineno, (int)(a - l) + 1,
                     "section `%s' repeated (first at line %d)", sec->name, sec->line);
            return;
        }
    }
    name = strndup(a, (size_t)(b - a));
    if (!name) {
        p->nomem = 1;
        return;
    }
    if (add_section(p, name, lineno, (int)(open - l) + 1))
        p->skip = 0;
}

/* Parses a quoted value starting at the quote c.  Returns the new string
 * (NULL after recording an error or on ENOMEM, with p->nomem set). */
static char *parse_quoted(struct parser *p, const char *l, const char *c,
                          const char *end, int lineno)
{
    const char *q = c + 1;
    char *out = malloc((size_t)(end - c)), *o = out;

    if (!out) {
        p->nomem = 1;
        return NULL;
    }
    for (;; q++) {
        if (q == end) {
            error_at(p, lineno, (int)(c - l) + 1, "unterminated string");
            goto fail;
        }
        if (*q == '"')
            break;
        if (*q == '\\') {
            if (q + 1 < end && (q[1] == '"' || q[1] == '\\')) {
                *o++ = *++q;
                continue;
            }
            error_at(p, lineno, (int)(q - l) + 1,
                     "unknown escape `\\%.*s' (the escapes are \\\" and \\\\)",
                     q + 1 < end && !is_control(q[1]) ? 1 : 0, q + 1);
            goto fail;
        }
        if (is_control(*q)) {
            error_at(p, lineno, (int)(q - l) + 1, "control character in a value");
            goto fail;
        }
        *o++ = *q;
    }
    *o = '\0';
    if (!rest_is_empty(q + 1, end)) {
        const char *t = q + 1;

        while (is_blank(*t))
            t++;
        error_at(p, lineno, (int)(t - l) + 1, "unexpected text after the closing quote");
        goto fail;
    }
    return out;
fail:
    free(out);
    return NULL;
}

static void parse_assignment(struct parser *p, const char *l, const char *c,
                             const char *end, int lineno)
{
    const char *k = c, *v, *e;
    char *key = NULL, *value = NULL;
    int value_col;

    while (c < end && (is_alpha(*c) || is_digit(*c) || *c == '-' || *c == '_' || *c == '.'))
        c++;
    if (c == k) {
        error_at(p, lineno, (int)(k - l) + 1, "expected `key = value'");
        return;
    }
    if (!is_lower(*k)) {
        error_at(p, lineno, (int)(k - l) + 1, "bad key `%.*s' (expected lower-case"
                 " letters, digits and `-', starting with a letter)", (int)(c - k), k);
        return;
    }
    for (const char *t = k; t < c; t++) {
        if (!(is_lower(*t) || is_digit(*t) || *t == '-')) {
            error_at(p, lineno, (int)(k - l) + 1, "bad key `%.*s' (expected lower-case"
                     " letters, digits and `-', starting with a letter)", (int)(c - k), k);
            return;
        }
    }
    v = c;
    while (v < end && is_blank(*v))
        v++;
    if (v == end || *v != '=') {
        error_at(p, lineno, (int)(v - l) + 1, "expected `key = value'");
        return;
    }
    v++;
    while (v < end && is_blank(*v))
        v++;
    value_col = (int)(v - l) + 1;
    if (v < end && *v == '"') {
        value = parse_quoted(p, l, v, end, lineno);
        if (!value)
            return;
    } else {
        /* up to a `#' after whitespace, then trimmed */
        for (e = v; e < end; e++) {
            if (*e == '#' && (e == v || is_blank(e[-1])))
                break;
            if (is_control(*e)) {
                error_at(p, lineno, (int)(e - l) + 1, "control character in a value");
                return;
            }
        }
        while (e > v && is_blank(e[-1]))
            e--;
        value = strndup(v, (size_t)(e - v));
        if (!value) {
            p->nomem = 1;
            return;
        }
    }
    key = strndup(k, (size_t)(c - k));
    if (!key) {
        free(value);
        p->nomem = 1;
        return;
    }
    add_entry(p, key, value, lineno, (int)(k - l) + 1, value_col);
}

int settings_parse(const char *source, const char *text, size_t len,
                   struct settings **s_r, struct diag *d)
{
    return settings_parse_flags(source, text, len, 0, s_r, d);
}

int settings_parse_flags(const char *source, const char *text, size_t len,
                         unsigned flags, struct settings **s_r, struct diag *d)
{
    struct parser p = { .source = source, .d = d };
    const char *t = text, *end = text + len;
    int lineno = 0, r;

    *s_r = NULL;
    p.s = calloc(1, sizeof(*p.s));
    if (!p.s || !(p.s->source = strdup(source))) {
        r = -ENOMEM;
        goto out;
    }
    if (!add_section(&p, NULL, 0, 0)) {
        r = -ENOMEM;
        goto out;
    }
    if (len > SETTINGS_MAX_SIZE) {
        error_at(&p, 0, 0, "larger than %d bytes", SETTINGS_MAX_SIZE);
        r = -EFBIG;
        goto out;
    }
    while (t < end && !p.nomem) {
        const char *nl = memchr(t, '\n', (size_t)(end - t)), *le, *c = t, *nul;
        size_t n = nl ? (size_t)(nl - t) : (size_t)(end - t);

        lineno++;
        if (n && t[n - 1] == '\r')
            n--;
        le = t + n;
        nul = memchr(t, '\0', n);
        while (c < le && is_blank(*c))
            c++;
        if (nul) {
            error_at(&p, lineno, (int)(nul - t) + 1, "NUL byte");
        } else if (c == le || *c == '#') {
            /* blank or comment */
        } else if (*c == '[') {
            parse_section(&p, t, c, le, lineno);
        } else {
            parse_assignment(&p, t, c, le, lineno);
        }
        t = nl ? nl + 1 : end;
    }
    if (p.nomem)
        r = -ENOMEM;
    else if (p.bad)
        r = -EINVAL;
    else
        r = 0;
out:
    if (r == -EINVAL && (flags & SETTINGS_PARTIAL)) {
        *s_r = p.s;
        return r;
    }
    if (r) {
        settings_free(p.s);
        return r;
    }
    *s_r = p.s;
    return 0;
}

int settings_read_file(const char *path, unsigned flags, struct settings **s_r,
                       struct diag *d)
{
    char *buf;
    size_t len;
    int r;

    *s_r = NULL;
    r = file_read_bounded(path, SETTINGS_MAX_SIZE,
                          (flags & SETTINGS_MISSING_OK) ? FILE_MISSING_OK : 0,
                          &buf, &len, d);
    if (r)
        return r;
    r = settings_parse_flags(path, buf, len, flags & SETTINGS_PARTIAL, s_r, d);
    free(buf);
    return r;
}

void settings_free(struct settings *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nsections; i++) {
        struct settings_section *sec = &s->sections[i];

        for (size_t j = 0; j < sec->nentries; j++) {
            free(sec->entries[j].key);
            free(sec->entries[j].value);
        }
        free(sec->entries);
        free(sec->name);
    }
    free(s->sections);
    free(s->source);
    free(s);
}

const struct settings_section *settings_section(const struct settings *s,
                                                const char *name)
{
    if (!name)
        return s->nsections ? &s->sections[0] : NULL;
    for (size_t i = 1; i < s->nsections; i++)
        if (!strcmp(s->sections[i].name, name))
            return &s->sections[i];
    return NULL;
}

const struct settings_entry *settings_find(const struct settings *s,
                                           const char *section, const char *key)
{
    const struct settings_section *sec = settings_section(s, section);

    if (!sec)
        return NULL;
    for (size_t i = sec->nentries; i-- > 0;)
        if (!strcmp(sec->entries[i].key, key))
            return &sec->entries[i];
    return NULL;
}

const char *settings_get(const struct settings *s, const char *section, const char *key)
{
    const struct settings_entry *e = settings_find(s, section, key);

    return e ? e->value : NULL;
}
