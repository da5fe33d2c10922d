/*
 * bootcfg.c - grub.cfg, BLS entries and extlinux.conf, parsed as data
 * (bootcfg.h).  Untrusted input: every loop is bounded by the input or a
 * BOOTCFG_MAX_* limit, nothing is executed.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootcfg.h"

#define MAX_WORDS 1024      /* words of one command */

void bootcfg_init(struct bootcfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
}

static void entry_dispose(struct bootcfg_entry *e)
{
    free(e->title);
    free(e->id);
    free(e->index);
    free(e->kernel);
    for (size_t i = 0; i < e->ninitrds; i++)
        free(e->initrds[i]);
    free(e->initrds);
    free(e->cmdline);
    free(e->version);
    memset(e, 0, sizeof(*e));
}

void bootcfg_dispose(struct bootcfg *cfg)
{
    for (size_t i = 0; i < cfg->nentries; i++)
        entry_dispose(&cfg->entries[i]);
    free(cfg->entries);
    free(cfg->default_spec);
    bootcfg_init(cfg);
}

static int errf(char *why, size_t whylen, const char *name, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int errf(char *why, size_t whylen, const char *name, size_t line, const char *fmt, ...)
{
    va_list ap;
    int n = line ? snprintf(why, whylen, "%s:%zu: ", name, line)
                 : snprintf(why, whylen, "%s: ", name);

    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < whylen)
        vsnprintf(why + n, whylen - (size_t)n, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* A new empty entry at the end of cfg, or NULL (ENOMEM, or E2BIG past the bound). */
static struct bootcfg_entry *new_entry(struct bootcfg *cfg)
{
    struct bootcfg_entry *v;

    if (cfg->nentries >= BOOTCFG_MAX_ENTRIES) {
        errno = E2BIG;
        return NULL;
    }
    if (!(v = realloc(cfg->entries, (cfg->nentries + 1) * sizeof(*v))))
        return NULL;
    cfg->entries = v;
    memset(&v[cfg->nentries], 0, sizeof(*v));
    return &v[cfg->nentries++];
}

static int add_initrd(struct bootcfg_entry *e, const char *path, size_t n)
{
    char **v;

    if (e->ninitrds >= BOOTCFG_MAX_INITRDS) {
        errno = E2BIG;
        return -1;
    }
    if (!(v = realloc(e->initrds, (e->ninitrds + 1) * sizeof(*v))))
        return -1;
    e->initrds = v;
    if (!(v[e->ninitrds] = strndup(path, n)))
        return -1;
    e->ninitrds++;
    return 0;
}

/* Splits a text into lines: *line and *n set, the line number counted.
 * Returns 0 at the end, 1 with a line, -1 when a line is too long. */
struct lines {
    const char *p, *end;
    size_t lineno;
};

static int next_line(struct lines *l, const char **line, size_t *n)
{
    const char *nl;

    if (l->p >= l->end)
        return 0;
    nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
    *line = l->p;
    *n = nl ? (size_t)(nl - l->p) : (size_t)(l->end - l->p);
    l->p = nl ? nl + 1 : l->end;
    l->lineno++;
    if (*n && (*line)[*n - 1] == '\r')
        (*n)--;
    return *n > BOOTCFG_MAX_LINE ? -1 : 1;
}

static int check_text(const char *name, const char *text, size_t len, char *why, size_t whylen)
{
    if (len > BOOTCFG_MAX_SIZE)
        return errf(why, whylen, name, 0, "%zu bytes, more than the %d a boot config may have",
                    len, BOOTCFG_MAX_SIZE);
    if (memchr(text, '\0', len))
        return errf(why, whylen, name, 0, "binary data (a NUL byte): not a boot config");
    return 0;
}

/* ---- grub.cfg ---- */

/* A growing word, bounded. */
struct buf {
    char s[BOOTCFG_MAX_WORD + 1];
    size_t n;
    bool over;
};

struct var {
    char *name, *value;
    int depth;              /* 0: global; else the menuentry's, dropped with it */
};

enum block { BLK_ENTRY, BLK_SUBMENU, BLK_FUNCTION, BLK_OTHER };

struct grub {
    const char *name;
    struct bootcfg *cfg;
    char *why;
    size_t whylen;
    size_t lineno;
    struct var vars[BOOTCFG_MAX_VARS];
    size_t nvars;
    enum block stack[BOOTCFG_MAX_DEPTH];
    size_t counters[BOOTCFG_MAX_DEPTH + 1];   /* next index at each submenu level */
    char *prefix[BOOTCFG_MAX_DEPTH + 1];      /* index prefix of each level */
    int depth;
    int levels;                 /* submenu levels open */
    struct bootcfg_entry *entry; /* open menuentry, or NULL */
    size_t entry_no;
    int function_depth;         /* > 0 inside a function body */
    char *words[MAX_WORDS];
    size_t nwords;
    struct buf b;               /* the word being read */
};

static const char *var_get(const struct grub *g, const char *name, size_t n)
{
    for (size_t i = g->nvars; i-- > 0; )
        if (strlen(g->vars[i].name) == n && !memcmp(g->vars[i].name, name, n))
            return g->vars[i].value;
    return "";
}

static int var_set(struct grub *g, const char *name, size_t n, const char *value)
{
    int depth = g->entry ? g->depth : 0;
    char *v;

    for (size_t i = g->nvars; i-- > 0; ) {
        if (strlen(g->vars[i].name) == n && !memcmp(g->vars[i].name, name, n) &&
            g->vars[i].depth == depth) {
            if (!(v = strdup(value)))
                return -ENOMEM;
            free(g->vars[i].value);
            g->vars[i].value = v;
            return 0;
        }
    }
    if (g->nvars >= BOOTCFG_MAX_VARS)
        return errf(g->why, g->whylen, g->name, g->lineno, "more than %d variables",
                    BOOTCFG_MAX_VARS);
    if (!(g->vars[g->nvars].name = strndup(name, n)))
        return -ENOMEM;
    if (!(g->vars[g->nvars].value = strdup(value))) {
        free(g->vars[g->nvars].name);
        return -ENOMEM;
    }
    g->vars[g->nvars++].depth = depth;
    return 0;
}

static void vars_drop_local(struct grub *g)
{
    while (g->nvars && g->vars[g->nvars - 1].depth) {
        g->nvars--;
        free(g->vars[g->nvars].name);
        free(g->vars[g->nvars].value);
    }
}

static bool is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}


static void put(struct buf *b, const char *s, size_t n)
{
    if (b->n + n > BOOTCFG_MAX_WORD) {
        b->over = true;
        return;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
}

/* $NAME or ${NAME} at *pp (just after the `$'), expanded into b. */
static void expand(const struct grub *g, const char **pp, const char *end, struct buf *b)
{
    const char *p = *pp, *start;

    if (p < end && *p == '{') {
        const char *close = memchr(p, '}', (size_t)(end - p));

        if (!close) {
            put(b, "$", 1);
            return;
        }
        put(b, var_get(g, p + 1, (size_t)(close - p - 1)),
            strlen(var_get(g, p + 1, (size_t)(close - p - 1))));
        *pp = close + 1;
        return;
    }
    start = p;
    while (p < end && is_name_char(*p))
        p++;
    if (p == start) {
        put(b, "$", 1);
        return;
    }
    put(b, var_get(g, start, (size_t)(p - start)), strlen(var_get(g, start, (size_t)(p - start))));
    *pp = p;
}

static void free_words(struct grub *g)
{
    for (size_t i = 0; i < g->nwords; i++)
        free(g->words[i]);
    g->nwords = 0;
}

static int run_command(struct grub *g);

/* Splits one line into commands (at unquoted `;'), expanding as grub
 * does, and runs each.  0 or -errno with the message set. */
static int grub_line(struct grub *g, const char *p, size_t n)
{
    const char *end = p + n;
    struct buf *b = &g->b;
    int r;

    for (;;) {
        bool have = false, quoted;

        b->n = 0;
        b->over = false;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p >= end || *p == ';' || (*p == '#' && !g->nwords)) {
            /* the end of a command */
            if (g->nwords && (r = run_command(g)))
                return r;
            free_words(g);
            if (p >= end || *p == '#')
                return 0;
            p++;
            continue;
        }
        if (*p == '#') {
            /* a comment after words: the rest of the line */
            p = end;
            continue;
        }
        quoted = false;
        while (p < end && *p != ' ' && *p != '\t' && *p != ';') {
            have = true;
            if (*p == '\'' || *p == '"')
                quoted = true;
            if (*p == '\'') {
                const char *q = memchr(p + 1, '\'', (size_t)(end - p - 1));

                if (!q)
                    return errf(g->why, g->whylen, g->name, g->lineno,
                                "unterminated quote");
                put(b, p + 1, (size_t)(q - p - 1));
                p = q + 1;
            } else if (*p == '"') {
                p++;
                while (p < end && *p != '"') {
                    if (*p == '\\' && p + 1 < end && strchr("\\\"$", p[1])) {
                        put(b, p + 1, 1);
                        p += 2;
                    } else if (*p == '$') {
                        p++;
                        expand(g, &p, end, b);
                    } else {
                        put(b, p++, 1);
                    }
                }
                if (p >= end)
                    return errf(g->why, g->whylen, g->name, g->lineno,
                                "unterminated quote");
                p++;
            } else if (*p == '\\') {
                if (p + 1 < end)
                    put(b, p + 1, 1);
                p += 2;
            } else if (*p == '$') {
                p++;
                expand(g, &p, end, b);
            } else {
                put(b, p++, 1);
            }
        }
        if (p > end)
            p = end;
        if (b->over)
            return errf(g->why, g->whylen, g->name, g->lineno,
                        "a word longer than %d bytes", BOOTCFG_MAX_WORD);
        if (have && !quoted && b->n == 1 && *b->s == '}' && g->nwords) {
            /* "linux /k }": the command, then the block's end */
            if ((r = run_command(g)))
                return r;
            free_words(g);
        }
        if (have) {
            if (g->nwords >= MAX_WORDS)
                return errf(g->why, g->whylen, g->name, g->lineno,
                            "more than %d words in one command", MAX_WORDS);
            if (!(g->words[g->nwords] = strndup(b->s, b->n)))
                return -ENOMEM;
            g->nwords++;
            if (!quoted && b->n == 1 && (*b->s == '{' || *b->s == '}')) {
                /* "menuentry x { linux /k }": a block opens or closes mid-line */
                if ((r = run_command(g)))
                    return r;
                free_words(g);
            }
        }
    }
}

static int push(struct grub *g, enum block blk)
{
    if (g->depth >= BOOTCFG_MAX_DEPTH)
        return errf(g->why, g->whylen, g->name, g->lineno,
                    "blocks nested deeper than %d", BOOTCFG_MAX_DEPTH);
    g->stack[g->depth++] = blk;
    return 0;
}

/* The title (first word that is not an option) of a menuentry/submenu. */
static int entry_header(struct grub *g, const char **title, const char **id)
{
    *title = *id = NULL;
    for (size_t i = 1; i + 1 < g->nwords; i++) {
        const char *w = g->words[i];

        if (!strcmp(w, "--id") || !strcmp(w, "--class") || !strcmp(w, "--users") ||
            !strcmp(w, "--hotkey") || !strcmp(w, "--source")) {
            if (!strcmp(w, "--id") && i + 2 < g->nwords)
                *id = g->words[i + 1];
            i++;
        } else if (!strncmp(w, "--", 2)) {
            continue;
        } else if (!*title) {
            *title = w;
        }
    }
    if (!*title)
        return errf(g->why, g->whylen, g->name, g->lineno, "%s without a title",
                    g->words[0]);
    return 0;
}

static int open_entry(struct grub *g, bool submenu)
{
    const char *title, *id;
    char num[24];
    size_t idx;
    int r;

    if (g->nwords < 2 || strcmp(g->words[g->nwords - 1], "{"))
        return errf(g->why, g->whylen, g->name, g->lineno,
                    "%s: `{' must end its line", g->words[0]);
    if (g->entry)
        return errf(g->why, g->whylen, g->name, g->lineno, "%s inside a menuentry",
                    g->words[0]);
    if ((r = entry_header(g, &title, &id)))
        return r;
    idx = g->counters[g->levels]++;
    snprintf(num, sizeof(num), "%zu", idx);
    if (submenu) {
        const char *pre = g->prefix[g->levels];

        if ((r = push(g, BLK_SUBMENU)))
            return r;
        g->levels++;
        g->counters[g->levels] = 0;
        free(g->prefix[g->levels]);
        if (asprintf(&g->prefix[g->levels], "%s%s>", pre ? pre : "", num) < 0) {
            g->prefix[g->levels] = NULL;
            return -ENOMEM;
        }
        return 0;
    }
    if ((r = push(g, BLK_ENTRY)))
        return r;
    if (!(g->entry = new_entry(g->cfg))) {
        if (errno == E2BIG)
            return errf(g->why, g->whylen, g->name, g->lineno,
                        "more than %d menu entries", BOOTCFG_MAX_ENTRIES);
        return -ENOMEM;
    }
    g->entry_no = g->cfg->nentries - 1;
    if (!(g->entry->title = strdup(title)) || (id && !(g->entry->id = strdup(id))) ||
        asprintf(&g->entry->index, "%s%s", g->prefix[g->levels] ? g->prefix[g->levels] : "",
                 num) < 0) {
        g->entry->index = NULL;
        return -ENOMEM;
    }
    return 0;
}

static int close_block(struct grub *g)
{
    enum block blk;

    if (!g->depth)
        return errf(g->why, g->whylen, g->name, g->lineno, "`}' without a block to close");
    blk = g->stack[--g->depth];
    if (blk == BLK_ENTRY) {
        struct bootcfg_entry *e = &g->cfg->entries[g->entry_no];

        if (!e->cmdline && !(e->cmdline = strdup("")))
            return -ENOMEM;
        g->entry = NULL;
        vars_drop_local(g);
    } else if (blk == BLK_SUBMENU) {
        g->levels--;
    } else if (blk == BLK_FUNCTION) {
        g->function_depth--;
    }
    return 0;
}

static char *join_words(struct grub *g, size_t from)
{
    size_t len = 1;
    char *s, *p;

    for (size_t i = from; i < g->nwords; i++)
        len += strlen(g->words[i]) + 1;
    if (!(s = p = malloc(len)))
        return NULL;
    *p = '\0';
    for (size_t i = from; i < g->nwords; i++)
        p += sprintf(p, "%s%s", i > from ? " " : "", g->words[i]);
    return s;
}

static int run_command(struct grub *g)
{
    const char *cmd = g->words[0], *eq;
    struct bootcfg_entry *e = g->entry ? &g->cfg->entries[g->entry_no] : NULL;
    bool ends_open = !strcmp(g->words[g->nwords - 1], "{");

    if (!strcmp(cmd, "}") && g->nwords == 1)
        return close_block(g);
    if (g->function_depth) {
        /* a function body is never run: only its braces count */
        if (ends_open) {
            int r = push(g, BLK_OTHER);

            return r;
        }
        return 0;
    }
    if (!strcmp(cmd, "menuentry"))
        return open_entry(g, false);
    if (!strcmp(cmd, "submenu"))
        return open_entry(g, true);
    if (!strcmp(cmd, "function")) {
        int r;

        if (!ends_open)
            return errf(g->why, g->whylen, g->name, g->lineno,
                        "function: `{' must end its line");
        if ((r = push(g, BLK_FUNCTION)))
            return r;
        g->function_depth++;
        return 0;
    }
    if (ends_open)
        return push(g, BLK_OTHER);
    if (!strcmp(cmd, "set") || (g->nwords == 1 && (eq = strchr(cmd, '=')) && eq > cmd)) {
        const char *w = !strcmp(cmd, "set") ? (g->nwords > 1 ? g->words[1] : "") : cmd;
        size_t n;
        int r;

        if (!(eq = strchr(w, '=')))
            return 0;
        n = (size_t)(eq - w);
        for (size_t i = 0; i < n; i++)
            if (!is_name_char(w[i]))
                return 0;
        if (!n)
            return 0;
        if ((r = var_set(g, w, n, eq + 1)))
            return r;
        if (!e && n == 7 && !memcmp(w, "default", 7)) {
            free(g->cfg->default_spec);
            if (!(g->cfg->default_spec = strdup(eq + 1)))
                return -ENOMEM;
        }
        return 0;
    }
    if (!strcmp(cmd, "blscfg")) {
        g->cfg->blscfg = true;
        return 0;
    }
    if (!e)
        return 0;
    if (!strcmp(cmd, "linux") || !strcmp(cmd, "linux16") || !strcmp(cmd, "linuxefi")) {
        if (g->nwords < 2)
            return errf(g->why, g->whylen, g->name, g->lineno, "%s without a kernel", cmd);
        free(e->kernel);
        free(e->cmdline);
        e->cmdline = NULL;
        if (!(e->kernel = strdup(g->words[1])) || !(e->cmdline = join_words(g, 2)))
            return -ENOMEM;
        return 0;
    }
    if (!strcmp(cmd, "initrd") || !strcmp(cmd, "initrd16") || !strcmp(cmd, "initrdefi")) {
        for (size_t i = 0; i < e->ninitrds; i++)
            free(e->initrds[i]);
        e->ninitrds = 0;
        for (size_t i = 1; i < g->nwords; i++) {
            if (add_initrd(e, g->words[i], strlen(g->words[i]))) {
                if (errno == E2BIG)
                    return errf(g->why, g->whylen, g->name, g->lineno,
                                "more than %d initrds", BOOTCFG_MAX_INITRDS);
                return -ENOMEM;
            }
        }
        return 0;
    }
    return 0;
}

int bootcfg_parse_grub(const char *name, const char *text, size_t len,
                       struct bootcfg *cfg, char *why, size_t whylen)
{
    struct grub *g = NULL;
    struct lines l = { text, text + len, 0 };
    const char *line;
    size_t n;
    int r, more;

    if ((r = check_text(name, text, len, why, whylen)))
        return r;
    if (!(g = calloc(1, sizeof(*g))))
        return -ENOMEM;
    g->name = name;
    g->cfg = cfg;
    g->why = why;
    g->whylen = whylen;
    cfg->kind = BOOTCFG_GRUB;
    while ((more = next_line(&l, &line, &n)) != 0) {
        g->lineno = l.lineno;
        if (more < 0) {
            r = errf(why, whylen, name, l.lineno, "a line longer than %d bytes",
                     BOOTCFG_MAX_LINE);
            goto out;
        }
        if ((r = grub_line(g, line, n)))
            goto out;
    }
    if (g->depth) {
        r = errf(why, whylen, name, l.lineno, "end of file inside a %s block",
                 g->stack[g->depth - 1] == BLK_ENTRY ? "menuentry" :
                 g->stack[g->depth - 1] == BLK_SUBMENU ? "submenu" :
                 g->stack[g->depth - 1] == BLK_FUNCTION ? "function" : "{ }");
        goto out;
    }
    r = 0;
out:
    free_words(g);
    while (g->nvars) {
        g->nvars--;
        free(g->vars[g->nvars].name);
        free(g->vars[g->nvars].value);
    }
    for (int i = 0; i <= BOOTCFG_MAX_DEPTH; i++)
        free(g->prefix[i]);
    free(g);
    return r;
}

/* ---- shared by BLS and extlinux: "KEY value" lines ---- */

/* Splits a line into its keyword and the trimmed rest. */
static void key_value(const char *p, size_t n, const char **key, size_t *klen,
                      const char **val, size_t *vlen)
{
    const char *end = p + n;

    while (p < end && isspace((unsigned char)*p))
        p++;
    *key = p;
    while (p < end && !isspace((unsigned char)*p))
        p++;
    *klen = (size_t)(p - *key);
    while (p < end && isspace((unsigned char)*p))
        p++;
    while (end > p && isspace((unsigned char)end[-1]))
        end--;
    *val = p;
    *vlen = (size_t)(end - p);
}

static bool key_is(const char *key, size_t klen, const char *want)
{
    return strlen(want) == klen && !strncasecmp(key, want, klen);
}

/* Appends " " and s[0..n) to *dst (a malloc'd string or NULL). */
static int append_words(char **dst, const char *s, size_t n)
{
    size_t old = *dst ? strlen(*dst) : 0;
    char *v;

    if (old + n + 2 > BOOTCFG_MAX_WORD) {
        errno = E2BIG;
        return -1;
    }
    if (!(v = realloc(*dst, old + n + 2)))
        return -1;
    if (old)
        v[old++] = ' ';
    memcpy(v + old, s, n);
    v[old + n] = '\0';
    *dst = v;
    return 0;
}

static int replace(char **dst, const char *s, size_t n)
{
    char *v = strndup(s, n);

    if (!v)
        return -1;
    free(*dst);
    *dst = v;
    return 0;
}

/* ---- BLS ---- */

/* options with $NAME expanded from vars; a new string or NULL (ENOMEM/E2BIG). */
static char *expand_vars(const char *s, size_t n, const struct bootcfg_var *vars, size_t nvars)
{
    struct buf *b = calloc(1, sizeof(*b));
    const char *end = s + n;
    char *out;

    if (!b)
        return NULL;
    while (s < end) {
        if (*s == '$') {
            const char *start = ++s;
            size_t len;
            bool brace = s < end && *s == '{';

            if (brace)
                start = ++s;
            while (s < end && is_name_char(*s))
                s++;
            len = (size_t)(s - start);
            if (brace && s < end && *s == '}')
                s++;
            for (size_t i = 0; i < nvars; i++)
                if (strlen(vars[i].name) == len && !memcmp(vars[i].name, start, len)) {
                    put(b, vars[i].value, strlen(vars[i].value));
                    break;
                }
        } else {
            put(b, s++, 1);
        }
    }
    if (b->over) {
        free(b);
        errno = E2BIG;
        return NULL;
    }
    out = strndup(b->s, b->n);
    free(b);
    return out;
}

int bootcfg_add_bls(const char *name, const char *text, size_t len,
                    const struct bootcfg_var *vars, size_t nvars,
                    struct bootcfg *cfg, char *why, size_t whylen)
{
    struct lines l = { text, text + len, 0 };
    struct bootcfg_entry *e;
    const char *line, *key, *val, *base = strrchr(name, '/');
    size_t n, klen, vlen;
    char *options = NULL;
    int more, r = -ENOMEM;

    if ((r = check_text(name, text, len, why, whylen)))
        return r;
    cfg->kind = BOOTCFG_BLS;
    if (!(e = new_entry(cfg))) {
        if (errno == E2BIG)
            return errf(why, whylen, name, 0, "more than %d boot entries",
                        BOOTCFG_MAX_ENTRIES);
        return -ENOMEM;
    }
    base = base ? base + 1 : name;
    n = strlen(base);
    if (n > 5 && !strcmp(base + n - 5, ".conf"))
        n -= 5;
    if (!(e->id = strndup(base, n)))
        goto nomem;
    while ((more = next_line(&l, &line, &n)) != 0) {
        if (more < 0) {
            r = errf(why, whylen, name, l.lineno, "a line longer than %d bytes",
                     BOOTCFG_MAX_LINE);
            goto fail;
        }
        key_value(line, n, &key, &klen, &val, &vlen);
        if (!klen || *key == '#')
            continue;
        if (key_is(key, klen, "title")) {
            if (replace(&e->title, val, vlen))
                goto nomem;
        } else if (key_is(key, klen, "version")) {
            if (replace(&e->version, val, vlen))
                goto nomem;
        } else if (key_is(key, klen, "linux")) {
            if (replace(&e->kernel, val, vlen))
                goto nomem;
        } else if (key_is(key, klen, "initrd")) {
            /* one or more paths per line, the key repeatable */
            const char *p = val, *end = val + vlen;

            while (p < end) {
                const char *w = p;
                char *x = NULL;
                int ar;

                while (p < end && !isspace((unsigned char)*p))
                    p++;
                /* $tuned_initrd: from vars, dropped when unset */
                if (memchr(w, '$', (size_t)(p - w)) &&
                    !(x = expand_vars(w, (size_t)(p - w), vars, nvars))) {
                    if (errno == E2BIG) {
                        r = errf(why, whylen, name, l.lineno, "an initrd longer than %d bytes",
                                 BOOTCFG_MAX_WORD);
                        goto fail;
                    }
                    goto nomem;
                }
                ar = x && !*x ? 0 : x ? add_initrd(e, x, strlen(x)) : add_initrd(e, w, (size_t)(p - w));
                free(x);
                if (ar) {
                    if (errno == E2BIG) {
                        r = errf(why, whylen, name, l.lineno, "more than %d initrds",
                                 BOOTCFG_MAX_INITRDS);
                        goto fail;
                    }
                    goto nomem;
                }
                while (p < end && isspace((unsigned char)*p))
                    p++;
            }
        } else if (key_is(key, klen, "options")) {
            if (append_words(&options, val, vlen)) {
                if (errno == E2BIG) {
                    r = errf(why, whylen, name, l.lineno, "options longer than %d bytes",
                             BOOTCFG_MAX_WORD);
                    goto fail;
                }
                goto nomem;
            }
        }
    }
    if (!e->title && !(e->title = strdup(e->id)))
        goto nomem;
    if (!(e->cmdline = expand_vars(options ? options : "", options ? strlen(options) : 0,
                                   vars, nvars))) {
        if (errno == E2BIG) {
            r = errf(why, whylen, name, 0, "options longer than %d bytes", BOOTCFG_MAX_WORD);
            goto fail;
        }
        goto nomem;
    }
    if (asprintf(&e->index, "%zu", cfg->nentries - 1) < 0) {
        e->index = NULL;
        goto nomem;
    }
    free(options);
    return 0;
nomem:
    r = -ENOMEM;
fail:
    free(options);
    entry_dispose(e);
    cfg->nentries--;
    return r;
}

static int cmp_bls(const void *a, const void *b)
{
    const struct bootcfg_entry *x = a, *y = b;
    int c = strverscmp(y->version ? y->version : "", x->version ? x->version : "");

    return c ? c : strverscmp(y->id ? y->id : "", x->id ? x->id : "");
}

void bootcfg_sort_bls(struct bootcfg *cfg)
{
    if (cfg->nentries)
        qsort(cfg->entries, cfg->nentries, sizeof(*cfg->entries), cmp_bls);
    for (size_t i = 0; i < cfg->nentries; i++) {
        char num[24];
        char *s;

        snprintf(num, sizeof(num), "%zu", i);
        if ((s = strdup(num))) {
            free(cfg->entries[i].index);
            cfg->entries[i].index = s;
        }
    }
}

int bootcfg_parse_grubenv(const char *text, size_t len, struct bootcfg_var *vars,
                          size_t max, char **store_r)
{
    static const char magic[] = "# GRUB Environment Block\n";
    char *store, *p, *end;
    int n = 0;

    *store_r = NULL;
    if (len > BOOTCFG_MAX_SIZE || len < sizeof(magic) - 1 ||
        memcmp(text, magic, sizeof(magic) - 1))
        return -EINVAL;
    if (!(store = malloc(len + 1)))
        return -ENOMEM;
    memcpy(store, text, len);
    store[len] = '\0';
    end = store + len;
    p = store + sizeof(magic) - 1;
    while (p < end && (size_t)n < max) {
        char *nl = memchr(p, '\n', (size_t)(end - p)), *eq;

        if (!nl)
            nl = end;
        *nl = '\0';
        if (*p != '#' && (eq = strchr(p, '=')) && eq > p && !memchr(p, '\0', (size_t)(eq - p))) {
            *eq = '\0';
            vars[n].name = p;
            vars[n].value = eq + 1;
            n++;
        }
        p = nl + 1;
    }
    *store_r = store;
    return n;
}

/* ---- extlinux.conf ---- */

int bootcfg_parse_extlinux(const char *name, const char *text, size_t len,
                           struct bootcfg *cfg, char *why, size_t whylen)
{
    struct lines l = { text, text + len, 0 };
    struct bootcfg_entry *e = NULL;
    const char *line, *key, *val;
    size_t n, klen, vlen;
    bool in_text = false;
    int more, r;

    if ((r = check_text(name, text, len, why, whylen)))
        return r;
    cfg->kind = BOOTCFG_EXTLINUX;
    while ((more = next_line(&l, &line, &n)) != 0) {
        if (more < 0)
            return errf(why, whylen, name, l.lineno, "a line longer than %d bytes",
                        BOOTCFG_MAX_LINE);
        key_value(line, n, &key, &klen, &val, &vlen);
        if (in_text) {
            in_text = !key_is(key, klen, "endtext");
            continue;
        }
        if (!klen || *key == '#')
            continue;
        if (key_is(key, klen, "text")) {
            in_text = true;
        } else if (key_is(key, klen, "label")) {
            if (!(e = new_entry(cfg))) {
                if (errno == E2BIG)
                    return errf(why, whylen, name, l.lineno, "more than %d labels",
                                BOOTCFG_MAX_ENTRIES);
                return -ENOMEM;
            }
            if (!(e->id = strndup(val, vlen)) || asprintf(&e->index, "%zu",
                                                           cfg->nentries - 1) < 0) {
                e->index = NULL;
                return -ENOMEM;
            }
        } else if (key_is(key, klen, "default") && !e) {
            if (replace(&cfg->default_spec, val, vlen))
                return -ENOMEM;
        } else if (key_is(key, klen, "menu")) {
            const char *k2, *v2;
            size_t k2len, v2len;

            key_value(val, vlen, &k2, &k2len, &v2, &v2len);
            if (e && key_is(k2, k2len, "label")) {
                if (replace(&e->title, v2, v2len))
                    return -ENOMEM;
            } else if (e && key_is(k2, k2len, "default")) {
                if (replace(&cfg->default_spec, e->id, strlen(e->id)))
                    return -ENOMEM;
            }
        } else if (!e) {
            continue;
        } else if (key_is(key, klen, "kernel") || key_is(key, klen, "linux")) {
            if (replace(&e->kernel, val, vlen))
                return -ENOMEM;
        } else if (key_is(key, klen, "initrd")) {
            const char *p = val, *end = val + vlen;

            for (size_t i = 0; i < e->ninitrds; i++)
                free(e->initrds[i]);
            e->ninitrds = 0;
            while (p < end) {
                const char *c = memchr(p, ',', (size_t)(end - p));

                if (!c)
                    c = end;
                if (c > p && add_initrd(e, p, (size_t)(c - p))) {
                    if (errno == E2BIG)
                        return errf(why, whylen, name, l.lineno, "more than %d initrds",
                                    BOOTCFG_MAX_INITRDS);
                    return -ENOMEM;
                }
                p = c + 1;
            }
        } else if (key_is(key, klen, "append")) {
            if (vlen == 1 && *val == '-')
                vlen = 0;
            if (replace(&e->cmdline, val, vlen))
                return -ENOMEM;
        }
    }
    for (size_t i = 0; i < cfg->nentries; i++) {
        e = &cfg->entries[i];
        if (!e->title && !(e->title = strdup(e->id)))
            return -ENOMEM;
        if (!e->cmdline && !(e->cmdline = strdup("")))
            return -ENOMEM;
        /* initrd= in APPEND, as syslinux takes it, when INITRD is not given */
        if (!e->ninitrds) {
            const char *p = e->cmdline;

            while ((p = strstr(p, "initrd="))) {
                if (p == e->cmdline || p[-1] == ' ') {
                    const char *v = p + 7, *end = v + strcspn(v, " ");

                    while (v < end) {
                        const char *c = memchr(v, ',', (size_t)(end - v));

                        if (!c)
                            c = end;
                        if (c > v && add_initrd(e, v, (size_t)(c - v)))
                            return errno == E2BIG ?
                                errf(why, whylen, name, 0, "label %s: more than %d initrds",
                                     e->id, BOOTCFG_MAX_INITRDS) : -ENOMEM;
                        v = c + 1;
                    }
                    break;
                }
                p += 7;
            }
        }
    }
    return 0;
}

/* ---- choosing ---- */

static long find_entry(const struct bootcfg *cfg, const char *spec)
{
    const char *last;

    if (!*spec)
        return -1;
    for (size_t i = 0; i < cfg->nentries; i++)
        if (cfg->entries[i].index && !strcmp(cfg->entries[i].index, spec))
            return (long)i;
    for (size_t i = 0; i < cfg->nentries; i++)
        if (cfg->entries[i].title && !strcmp(cfg->entries[i].title, spec))
            return (long)i;
    for (size_t i = 0; i < cfg->nentries; i++)
        if (cfg->entries[i].id && !strcmp(cfg->entries[i].id, spec))
            return (long)i;
    /* grub-set-default's "SUBMENU>TITLE": the entry's own title or id */
    if ((last = strrchr(spec, '>')) && last[1])
        return find_entry(cfg, last + 1);
    return -1;
}

long bootcfg_choose(const struct bootcfg *cfg, const char *entry, char *note,
                    size_t notelen, char *why, size_t whylen)
{
    const char *spec = cfg->default_spec ? cfg->default_spec : "";
    long i;

    if (notelen)
        *note = '\0';
    if (!cfg->nentries) {
        snprintf(why, whylen, "no boot entries");
        return -ENOENT;
    }
    if (entry) {
        if ((i = find_entry(cfg, entry)) < 0) {
            snprintf(why, whylen, "no entry `%s' (by number, title or id) among %zu",
                     entry, cfg->nentries);
            return -ENOENT;
        }
    } else if (!strcmp(spec, "saved")) {
        snprintf(note, notelen, "default `saved' (kept in grubenv by grub): the first entry");
        i = 0;
    } else if (!*spec) {
        i = 0;
    } else if ((i = find_entry(cfg, spec)) < 0) {
        snprintf(note, notelen, "default `%s' names no entry: the first entry", spec);
        i = 0;
    }
    if (!cfg->entries[i].kernel) {
        snprintf(why, whylen, "entry %s `%s' boots no Linux kernel",
                 cfg->entries[i].index ? cfg->entries[i].index : "?",
                 cfg->entries[i].title ? cfg->entries[i].title : "");
        return -ENOENT;
    }
    return i;
}

int bootcfg_parse_args(const char *const *argv, size_t n, struct bootcfg_args *a,
                       char *why, size_t whylen)
{
    static const struct {
        const char *opt;
        size_t off;
    } opts[] = {
        { "--entry=", offsetof(struct bootcfg_args, entry) },
        { "--kernel=", offsetof(struct bootcfg_args, kernel) },
        { "--ramdisk=", offsetof(struct bootcfg_args, ramdisk) },
        { "--args=", offsetof(struct bootcfg_args, args) },
    };

    memset(a, 0, sizeof(*a));
    for (size_t i = 0; i < n; i++) {
        size_t k;

        for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
            size_t len = strlen(opts[k].opt);

            if (!strncmp(argv[i], opts[k].opt, len)) {
                *(const char **)((char *)a + opts[k].off) = argv[i] + len;
                break;
            }
        }
        if (k == sizeof(opts) / sizeof(opts[0])) {
            snprintf(why, whylen, "bootloader_args: `%s' is not one of --entry=N|TITLE,"
                     " --kernel=PATH, --ramdisk=PATH, --args=STRING", argv[i]);
            return -EINVAL;
        }
    }
    return 0;
}
