/*
 * cfg.c - the xl.cfg config language: lexer, parser, typed getters.
 *
 * The lexer reads the same tokens as libxlutil's flex scanner (identifiers
 * [a-z][._0-9a-z]*, numbers [0-9][0-9a-fx]*, quoted strings, `=' `+=' `,'
 * `[' `]' `;', newline and `#' comments ending at a newline) and the parser
 * follows its grammar:
 *
 *     file       := { stmt } [ assignment ]
 *     stmt       := assignment endstmt | endstmt
 *     assignment := KEY ( "=" | "+=" ) value
 *     endstmt    := NEWLINE | ";"
 *     value      := STRING | NUMBER | "[" nl* [ value nl* { "," nl* value nl* } [ "," nl* ] ] "]"
 *
 * An error skips to the end of its line, so one pass reports every bad
 * line; a file with any error yields no result at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "fileio.h"

#define CFG_MAX_FILE    (1024 * 1024)
#define CFG_MAX_DEPTH   64

enum tok {
    T_EOF,
    T_NEWLINE,
    T_IDENT,
    T_NUMBER,
    T_STRING,
    T_EQ,
    T_ADD,
    T_COMMA,
    T_LBRACK,
    T_RBRACK,
    T_SEMI,
    T_BAD,          /* a lexical error, already recorded */
};

struct lexer {
    const char *src;        /* message source name */
    const char *p, *end;
    int line;
    const char *line_start;
    struct diag *d;
    int errors;
    int crlf_warned;
    int likely_python;

    /* the current token */
    enum tok tok;
    int tline, tcol;
    char *text;             /* T_IDENT, T_NUMBER, T_STRING: owned */
};

struct parser {
    struct lexer lx;
    struct cfg *cfg;
    size_t *hash;           /* open addressing: setting index + 1, 0 = empty */
    size_t hcap;
    int nomem;
};

static int lx_col(const struct lexer *lx, const char *at)
{
    return (int)(at - lx->line_start) + 1;
}

__attribute__((format(printf, 4, 5)))
static void lx_error(struct lexer *lx, int line, int col, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    diag_vadd(lx->d, DIAG_ERROR, lx->src, line, col, fmt, ap);
    va_end(ap);
    lx->errors++;
}

static int is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}

static int is_number_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == 'x';
}

/*
 * Decodes a quoted string token [start, stop) (quotes included) with xl's
 * escapes: \" \' \\ \a \b \f \n \r \t \v.  xl rejects every \x escape,
 * and an octal-looking escape \D followed by decimal digits consumes them
 * and produces nothing (libxlutil reads the digits but never stores the
 * character); vmkit gives the same result and says so.
 */
static char *lx_dequote(struct lexer *lx, const char *start, const char *stop,
                        int line, int col)
{
    size_t len = (size_t)(stop - start);
    char *out = malloc(len), *q = out;
    const char *p = start + 1, *last = stop - 1;

    if (!out)
        return NULL;
    while (p < last) {
        char c = *p++;

        if (c != '\\') {
            *q++ = c;
            continue;
        }
        c = *p++;   /* the lexer guarantees a character before `last' */
        switch (c) {
        case '"': case '\'': case '\\': *q++ = c; break;
        case 'a': *q++ = '\a'; break;
        case 'b': *q++ = '\b'; break;
        case 'f': *q++ = '\f'; break;
        case 'n': *q++ = '\n'; break;
        case 'r': *q++ = '\r'; break;
        case 't': *q++ = '\t'; break;
        case 'v': *q++ = '\v'; break;
        case 'x':
            lx_error(lx, line, col + (int)(p - start) - 2,
                     "hexadecimal escape `\\x' in a quoted string (xl accepts none)");
            goto out;
        default:
            if (c >= '0' && c <= '7') {
                char num[4], *ep;
                size_t n = (size_t)(stop - p) < 3 ? (size_t)(stop - p) : 3;

                memcpy(num, p, n);
                num[n] = 0;
                strtoul(num, &ep, 10);
                if (ep <= num + 1) {
                    lx_error(lx, line, col + (int)(p - start) - 2,
                             "numeric escape `\\%c' in a quoted string needs two"
                             " more digits", c);
                    goto out;
                }
                diag_warn(lx->d, lx->src, line, col + (int)(p - start) - 2,
                          "numeric escape `\\%c%.*s' produces no character (xl drops it;"
                          " so does vmkit)", c, (int)(ep - num), num);
                p += ep - num;
                break;
            }
            lx_error(lx, line, col + (int)(p - start) - 2,
                     "unknown escape `\\%c' in a quoted string (expected one of"
                     " \\\" \\' \\\\ \\a \\b \\f \\n \\r \\t \\v)", c);
            goto out;
        }
    }
out:
    *q = 0;
    return out;
}

/* Skips the rest of a bad token, as xl's scanner does: up to a blank or
 * the end of the line. */
static void lx_skip_bad(struct lexer *lx)
{
    while (lx->p < lx->end && *lx->p != ' ' && *lx->p != '\t' && *lx->p != '\n')
        lx->p++;
}

/* Reads the next token into lx->tok.  Returns 0, or -ENOMEM. */
static int lx_next(struct lexer *lx)
{
    const char *s;

    free(lx->text);
    lx->text = NULL;

again:
    while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t'))
        lx->p++;
    s = lx->p;
    lx->tline = lx->line;
    lx->tcol = lx_col(lx, s);
    if (s == lx->end) {
        lx->tok = T_EOF;
        return 0;
    }

    switch (*s) {
    case '\n':
        lx->p++;
        lx->line++;
        lx->line_start = lx->p;
        lx->tok = T_NEWLINE;
        return 0;
    case '\r':
        if (s + 1 < lx->end && s[1] == '\n') {
            if (!lx->crlf_warned)
                diag_warn(lx->d, lx->src, lx->tline, lx->tcol,
                          "CRLF line ends (xl rejects them; vmkit reads them as newlines)");
            lx->crlf_warned = 1;
            lx->p++;
            goto again;
        }
        break;
    case '#':
        while (lx->p < lx->end && *lx->p != '\n')
            lx->p++;
        if (lx->p == lx->end) {
            diag_warn(lx->d, lx->src, lx->tline, lx->tcol,
                      "comment on the last line has no newline (xl rejects that;"
                      " vmkit accepts it)");
            lx->tok = T_EOF;
            return 0;
        }
        goto again;     /* the newline itself ends the statement */
    case ',': lx->p++; lx->tok = T_COMMA; return 0;
    case '[': lx->p++; lx->tok = T_LBRACK; return 0;
    case ']': lx->p++; lx->tok = T_RBRACK; return 0;
    case '=': lx->p++; lx->tok = T_EQ; return 0;
    case ';': lx->p++; lx->tok = T_SEMI; return 0;
    case '+':
        if (s + 1 < lx->end && s[1] == '=') {
            lx->p += 2;
            lx->tok = T_ADD;
            return 0;
        }
        break;
    case '"':
    case '\'': {
        const char *p = s + 1;

        while (p < lx->end && *p != *s && *p != '\n' && *p != '\\' && *p)
            p++;
        while (p < lx->end && *p == '\\' && p + 1 < lx->end && p[1] != '\n' && p[1]) {
            p += 2;
            while (p < lx->end && *p != *s && *p != '\n' && *p != '\\' && *p)
                p++;
        }
        if (p < lx->end && *p == *s) {
            lx->p = p + 1;
            lx->text = lx_dequote(lx, s, lx->p, lx->tline, lx->tcol);
            if (!lx->text)
                return -ENOMEM;
            lx->tok = T_STRING;
            return 0;
        }
        if (p < lx->end && *p == 0)
            lx_error(lx, lx->tline, lx_col(lx, p), "NUL byte in a quoted string");
        else
            lx_error(lx, lx->tline, lx->tcol, "unterminated quoted string"
                     " (a string ends on the line it starts)");
        lx->p = p;
        lx_skip_bad(lx);
        lx->tok = T_BAD;
        return 0;
    }
    default:
        break;
    }

    if (*s >= 'a' && *s <= 'z') {
        while (lx->p < lx->end && is_ident_char(*lx->p))
            lx->p++;
        lx->tok = T_IDENT;
    } else if (*s >= '0' && *s <= '9') {
        while (lx->p < lx->end && is_number_char(*lx->p))
            lx->p++;
        lx->tok = T_NUMBER;
        if (lx->p < lx->end && ((*lx->p >= 'A' && *lx->p <= 'Z') ||
                                (*lx->p >= 'g' && *lx->p <= 'z'))) {
            lx_error(lx, lx->tline, lx_col(lx, lx->p),
                     "unexpected `%c' after the number %.*s (numbers take no"
                     " units in xl.cfg; quote the value)", *lx->p,
                     (int)(lx->p - s), s);
            lx_skip_bad(lx);
            lx->tok = T_BAD;
            return 0;
        }
    } else {
        if (strchr("+,-.():", *s))
            lx->likely_python = 1;
        if (*s == 0)
            lx_error(lx, lx->tline, lx->tcol, "NUL byte in the file");
        else if (*s >= 'A' && *s <= 'Z')
            lx_error(lx, lx->tline, lx->tcol, "unexpected `%c' (keys are lower case:"
                     " [a-z][._0-9a-z]*)", *s);
        else if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            lx_error(lx, lx->tline, lx->tcol, "unexpected byte 0x%02x",
                     (unsigned char)*s);
        else
            lx_error(lx, lx->tline, lx->tcol, "unexpected `%c'", *s);
        lx->p++;
        lx_skip_bad(lx);
        lx->tok = T_BAD;
        return 0;
    }
    lx->text = strndup(s, (size_t)(lx->p - s));
    return lx->text ? 0 : -ENOMEM;
}

static const char *tok_name(enum tok t)
{
    switch (t) {
    case T_EOF: return "end of file";
    case T_NEWLINE: return "end of line";
    case T_IDENT: return "a key";
    case T_NUMBER: return "a number";
    case T_STRING: return "a string";
    case T_EQ: return "`='";
    case T_ADD: return "`+='";
    case T_COMMA: return "`,'";
    case T_LBRACK: return "`['";
    case T_RBRACK: return "`]'";
    case T_SEMI: return "`;'";
    default: return "a bad token";
    }
}

/* Reports "expected X, found Y" at the current token, unless the token is
 * itself a lexical error (already reported). */
static void expected(struct parser *ps, const char *what)
{
    struct lexer *lx = &ps->lx;

    if (lx->tok == T_BAD)
        return;
    if (lx->tok == T_IDENT || lx->tok == T_NUMBER)
        lx_error(lx, lx->tline, lx->tcol, "expected %s, found `%s'", what, lx->text);
    else if (lx->tok == T_STRING)
        lx_error(lx, lx->tline, lx->tcol, "expected %s, found a quoted string", what);
    else
        lx_error(lx, lx->tline, lx->tcol, "expected %s, found %s", what,
                 tok_name(lx->tok));
}

void cfg_value_free(struct cfg_value *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->nitems; i++)
        cfg_value_free(v->items[i]);
    free(v->items);
    free(v->str);
    free(v);
}

struct cfg_value *cfg_value_dup(const struct cfg_value *v)
{
    struct cfg_value *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->type = v->type;
    c->line = v->line;
    c->col = v->col;
    if (v->str && !(c->str = strdup(v->str)))
        goto fail;
    if (v->nitems) {
        c->items = calloc(v->nitems, sizeof(*c->items));
        if (!c->items)
            goto fail;
        for (; c->nitems < v->nitems; c->nitems++)
            if (!(c->items[c->nitems] = cfg_value_dup(v->items[c->nitems])))
                goto fail;
    }
    return c;
fail:
    cfg_value_free(c);
    return NULL;
}

static int skip_newlines(struct parser *ps)
{
    int r = 0;

    while (ps->lx.tok == T_NEWLINE && (r = lx_next(&ps->lx)) == 0)
        ;
    return r;
}

/*
 * Parses one value starting at the current token.  Returns 0 and a new
 * value in *v_r (caller frees), 1 after a syntax error (recorded), or
 * -ENOMEM.  On return the current token is the one after the value.
 */
static int parse_value(struct parser *ps, int depth, struct cfg_value **v_r)
{
    struct lexer *lx = &ps->lx;
    struct cfg_value *v = NULL, *item = NULL;
    int r;

    *v_r = NULL;
    v = calloc(1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    v->line = lx->tline;
    v->col = lx->tcol;

    if (lx->tok == T_STRING || lx->tok == T_NUMBER) {
        v->type = lx->tok == T_STRING ? CFG_STRING : CFG_NUMBER;
        v->str = lx->text;
        lx->text = NULL;
        r = lx_next(lx);
        if (r)
            goto fail;
        *v_r = v;
        return 0;
    }
    if (lx->tok != T_LBRACK) {
        expected(ps, "a value (a quoted string, a number or a [list])");
        r = 1;
        goto fail;
    }
    if (depth >= CFG_MAX_DEPTH) {
        lx_error(lx, lx->tline, lx->tcol, "lists nested more than %d deep",
                 CFG_MAX_DEPTH);
        r = 1;
        goto fail;
    }
    v->type = CFG_LIST;
    if ((r = lx_next(lx)) || (r = skip_newlines(ps)))
        goto fail;
    if (lx->tok == T_RBRACK)
        goto close;
    for (;;) {
        r = parse_value(ps, depth + 1, &item);
        if (r)
            goto fail;
        if (!(v->nitems & (v->nitems + 1))) {
            /* grow at 1, 2, 4, 8, ... */
            size_t cap = v->nitems ? (v->nitems + 1) * 2 : 1;
            struct cfg_value **items = realloc(v->items, cap * sizeof(*items));

            if (!items) {
                r = -ENOMEM;
                goto fail;
            }
            v->items = items;
        }
        v->items[v->nitems++] = item;
        item = NULL;
        if ((r = skip_newlines(ps)))
            goto fail;
        if (lx->tok == T_RBRACK)
            break;
        if (lx->tok != T_COMMA) {
            expected(ps, "`,' or `]' in the list");
            r = 1;
            goto fail;
        }
        if ((r = lx_next(lx)) || (r = skip_newlines(ps)))
            goto fail;
        if (lx->tok == T_RBRACK)
            break;
    }
close:
    if ((r = lx_next(lx)))
        goto fail;
    *v_r = v;
    return 0;

fail:
    cfg_value_free(item);
    cfg_value_free(v);
    return r;
}

static size_t hash_key(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

/* The index of key's setting, or (size_t)-1. */
static size_t lookup(const struct parser *ps, const char *key)
{
    if (!ps->hcap)
        return (size_t)-1;
    for (size_t i = hash_key(key) & (ps->hcap - 1); ps->hash[i];
         i = (i + 1) & (ps->hcap - 1)) {
        size_t k = ps->hash[i] - 1;

        if (strcmp(ps->cfg->settings[k].key, key) == 0)
            return k;
    }
    return (size_t)-1;
}

static int hash_insert_all(struct parser *ps, size_t cap)
{
    size_t *h = calloc(cap, sizeof(*h));

    if (!h)
        return -ENOMEM;
    free(ps->hash);
    ps->hash = h;
    ps->hcap = cap;
    for (size_t k = 0; k < ps->cfg->nsettings; k++) {
        size_t i = hash_key(ps->cfg->settings[k].key) & (cap - 1);

        while (h[i])
            i = (i + 1) & (cap - 1);
        h[i] = k + 1;
    }
    return 0;
}

/* Appends b to a (xl's `+='): strings concatenate, lists extend.  Frees
 * b's contents into a.  Returns 0, 1 on a type clash (recorded), -ENOMEM. */
static int concat(struct parser *ps, struct cfg_value *a, struct cfg_value *b)
{
    if ((a->type == CFG_LIST) != (b->type == CFG_LIST)) {
        lx_error(&ps->lx, b->line, b->col, "`+=' cannot append %s to %s",
                 b->type == CFG_LIST ? "a list" : "a string or number",
                 a->type == CFG_LIST ? "a list" : "a string or number");
        return 1;
    }
    if (a->type != CFG_LIST) {
        size_t la = strlen(a->str), lb = strlen(b->str);
        char *s = malloc(la + lb + 1);

        if (!s)
            return -ENOMEM;
        memcpy(s, a->str, la);
        memcpy(s + la, b->str, lb + 1);
        free(a->str);
        a->str = s;
        if (b->type == CFG_STRING)
            a->type = CFG_STRING;
        return 0;
    }
    if (b->nitems) {
        struct cfg_value **items = realloc(a->items,
                                           (a->nitems + b->nitems) * sizeof(*items));
        if (!items)
            return -ENOMEM;
        memcpy(items + a->nitems, b->items, b->nitems * sizeof(*items));
        a->items = items;
        a->nitems += b->nitems;
        b->nitems = 0;
    }
    return 0;
}

/* Stores key op value.  Takes ownership of key and v.  0, 1, -ENOMEM. */
static int store(struct parser *ps, char *key, int line, int col, int append,
                 struct cfg_value *v)
{
    struct cfg *cfg = ps->cfg;
    size_t k = lookup(ps, key);
    int r = 0;

    if (k != (size_t)-1) {
        struct cfg_setting *s = &cfg->settings[k];

        if (append) {
            r = concat(ps, s->value, v);
            if (r)
                goto out;
            /* the concatenated value takes the new value's position */
            s->value->line = v->line;
            s->value->col = v->col;
        } else {
            cfg_value_free(s->value);
            s->value = v;
            v = NULL;
        }
        s->line = line;
        s->col = col;
        s->appended = append;
        goto out;
    }

    if (!(cfg->nsettings & (cfg->nsettings - 1))) {
        size_t cap = cfg->nsettings ? cfg->nsettings * 2 : 1;
        struct cfg_setting *ns = realloc(cfg->settings, cap * sizeof(*ns));

        if (!ns) {
            r = -ENOMEM;
            goto out;
        }
        cfg->settings = ns;
    }
    cfg->settings[cfg->nsettings++] = (struct cfg_setting){
        .key = key, .value = v, .line = line, .col = col, .appended = append,
    };
    key = NULL;
    v = NULL;
    if (cfg->nsettings * 2 > ps->hcap)
        r = hash_insert_all(ps, ps->hcap ? ps->hcap * 2 : 16);
    else {
        size_t i = hash_key(cfg->settings[cfg->nsettings - 1].key) & (ps->hcap - 1);

        while (ps->hash[i])
            i = (i + 1) & (ps->hcap - 1);
        ps->hash[i] = cfg->nsettings;
    }
out:
    free(key);
    cfg_value_free(v);
    return r;
}

/* Skips to the end of the line after an error. */
static int recover(struct parser *ps)
{
    int r = 0;

    while (ps->lx.tok != T_NEWLINE && ps->lx.tok != T_EOF &&
           (r = lx_next(&ps->lx)) == 0)
        ;
    return r;
}

static int parse_statement(struct parser *ps)
{
    struct lexer *lx = &ps->lx;
    struct cfg_value *v = NULL;
    char *key;
    int line = lx->tline, col = lx->tcol, append, r;

    key = lx->text;
    lx->text = NULL;
    if ((r = lx_next(lx)))
        goto fail;
    if (lx->tok != T_EQ && lx->tok != T_ADD) {
        expected(ps, "`=' or `+=' after the key");
        r = 1;
        goto fail;
    }
    append = lx->tok == T_ADD;
    if ((r = lx_next(lx)))
        goto fail;
    r = parse_value(ps, 0, &v);
    if (r)
        goto fail;
    if (lx->tok != T_NEWLINE && lx->tok != T_SEMI && lx->tok != T_EOF) {
        expected(ps, "the end of the statement (a newline or `;')");
        r = 1;
        goto fail;
    }
    /* after an error nothing more is stored, as in xl */
    if (lx->errors) {
        r = 0;
        goto fail;
    }
    return store(ps, key, line, col, append, v);

fail:
    free(key);
    cfg_value_free(v);
    return r;
}

void cfg_free(struct cfg *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->nsettings; i++) {
        free(cfg->settings[i].key);
        cfg_value_free(cfg->settings[i].value);
    }
    free(cfg->settings);
    free(cfg->source);
    free(cfg);
}

int cfg_parse(const char *source, const char *text, size_t len,
              struct cfg **cfg_r, struct diag *d)
{
    struct parser ps = { 0 };
    struct lexer *lx = &ps.lx;
    int r;

    *cfg_r = NULL;
    ps.cfg = calloc(1, sizeof(*ps.cfg));
    if (!ps.cfg || !(ps.cfg->source = strdup(source))) {
        r = -ENOMEM;
        goto out;
    }
    lx->src = source;
    lx->p = lx->line_start = text;
    lx->end = text + len;
    lx->line = 1;
    lx->d = d;

    if ((r = lx_next(lx)))
        goto out;
    while (lx->tok != T_EOF) {
        switch (lx->tok) {
        case T_NEWLINE:
        case T_SEMI:
            r = lx_next(lx);
            break;
        case T_IDENT:
            r = parse_statement(&ps);
            if (r > 0)
                r = recover(&ps);
            break;
        default:
            expected(&ps, "a key");
            r = recover(&ps);
            break;
        }
        if (r < 0)
            goto out;
    }

    if (lx->errors) {
        if (lx->likely_python)
            diag_warn(d, source, 0, 0, "this looks like Python; xl.cfg is not Python"
                      " (xl has not run Python configs since Xen 4.2)");
        r = -EINVAL;
        goto out;
    }
    *cfg_r = ps.cfg;
    ps.cfg = NULL;
    r = 0;
out:
    free(lx->text);
    free(ps.hash);
    cfg_free(ps.cfg);
    return r;
}

int cfg_read_file(const char *path, struct cfg **cfg_r, struct diag *d)
{
    char *buf;
    size_t len;
    int r;

    *cfg_r = NULL;
    r = file_read_bounded(path, CFG_MAX_FILE, 0, &buf, &len, d);
    if (r)
        return r;
    r = cfg_parse(path, buf, len, cfg_r, d);
    free(buf);
    return r;
}

const struct cfg_setting *cfg_find(const struct cfg *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->nsettings; i++)
        if (strcmp(cfg->settings[i].key, key) == 0)
            return &cfg->settings[i];
    return NULL;
}

static int get_atom(const struct cfg *cfg, const char *key,
                    const struct cfg_setting **s_r, struct diag *d)
{
    const struct cfg_setting *s = cfg_find(cfg, key);

    if (!s)
        return -ENOENT;
    if (s->value->type == CFG_LIST) {
        diag_error(d, cfg->source, s->value->line, s->value->col,
                   "`%s' is a list but should be a single value", key);
        return -EINVAL;
    }
    *s_r = s;
    return 0;
}

int cfg_get_string(const struct cfg *cfg, const char *key,
                   const char **value_r, struct diag *d)
{
    const struct cfg_setting *s;
    int r = get_atom(cfg, key, &s, d);

    if (r == 0)
        *value_r = s->value->str;
    return r;
}

int cfg_parse_long(const char *s, long *value_r)
{
    char *ep;
    long l;

    errno = 0;
    l = strtol(s, &ep, 0);
    if (errno)
        return -errno;
    if (*ep || ep == s)
        return -EINVAL;
    *value_r = l;
    return 0;
}

int cfg_get_long(const struct cfg *cfg, const char *key, long min, long max,
                 long *value_r, struct diag *d)
{
    const struct cfg_setting *s;
    long l;
    int r = get_atom(cfg, key, &s, d);

    if (r)
        return r;
    if (s->appended) {
        diag_error(d, cfg->source, s->line, s->col,
                   "`+=' cannot be used with the number `%s'", key);
        return -EINVAL;
    }
    r = cfg_parse_long(s->value->str, &l);
    if (r == -ERANGE) {
        diag_error(d, cfg->source, s->value->line, s->value->col,
                   "`%s' = %s is out of range", key, s->value->str);
        return -EINVAL;
    }
    if (r) {
        diag_error(d, cfg->source, s->value->line, s->value->col,
                   "`%s' must be a number (decimal, 0x hex or 0 octal), not \"%s\"",
                   key, s->value->str);
        return -EINVAL;
    }
    if (l < min || l > max) {
        diag_error(d, cfg->source, s->value->line, s->value->col,
                   "`%s' = %ld is out of range (%ld to %ld)", key, l, min, max);
        return -EINVAL;
    }
    *value_r = l;
    return 0;
}

int cfg_get_bool(const struct cfg *cfg, const char *key, bool *value_r,
                 struct diag *d)
{
    long l;
    int r = cfg_get_long(cfg, key, LONG_MIN, LONG_MAX, &l, d);

    if (r == 0)
        *value_r = l != 0;
    return r;
}

int cfg_get_list(const struct cfg *cfg, const char *key,
                 const struct cfg_value **list_r, struct diag *d)
{
    const struct cfg_setting *s = cfg_find(cfg, key);

    if (!s)
        return -ENOENT;
    if (s->value->type != CFG_LIST) {
        diag_error(d, cfg->source, s->value->line, s->value->col,
                   "`%s' is a single value but should be a list", key);
        return -EINVAL;
    }
    *list_r = s->value;
    return 0;
}

char *cfg_quote(const char *s)
{
    size_t n = 3;
    char *out, *q;

    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;

        if (c < 0x20 && !strchr("\a\b\f\n\r\t\v", c)) {
            errno = EINVAL;
            return NULL;
        }
        n += (c < 0x20 || c == '"' || c == '\\') ? 2 : 1;
    }
    out = q = malloc(n);
    if (!out)
        return NULL;
    *q++ = '"';
    for (const char *p = s; *p; p++) {
        const char *esc = strchr("\a\b\f\n\r\t\v", *p);

        if (esc) {
            *q++ = '\\';
            *q++ = "abfnrtv"[esc - "\a\b\f\n\r\t\v"];
        } else {
            if (*p == '"' || *p == '\\')
                *q++ = '\\';
            *q++ = *p;
        }
    }
    *q++ = '"';
    *q = 0;
    return out;
}

static int append_str(char **buf, size_t *len, const char *s)
{
    size_t n = strlen(s);
    char *b = realloc(*buf, *len + n + 1);

    if (!b)
        return -ENOMEM;
    memcpy(b + *len, s, n + 1);
    *buf = b;
    *len += n;
    return 0;
}

int cfg_format_value(const struct cfg_value *v, char **buf, size_t *len)
{
    int r;

    if (v->type == CFG_NUMBER)
        return append_str(buf, len, v->str);
    if (v->type == CFG_STRING) {
        char *q = cfg_quote(v->str);

        if (!q)
            return -errno;
        r = append_str(buf, len, q);
        free(q);
        return r;
    }
    if ((r = append_str(buf, len, "[")))
        return r;
    for (size_t i = 0; i < v->nitems; i++) {
        if ((i && (r = append_str(buf, len, ", "))) ||
            (r = cfg_format_value(v->items[i], buf, len)))
            return r;
    }
    return append_str(buf, len, "]");
}
