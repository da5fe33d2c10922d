/*
 * answer.c - answer files for installers (see answer.h).
 *
 * One pass over the template, a line at a time.  Directive lines choose
 * the lines kept; in a kept line the text is copied and each placeholder
 * is checked twice: for what the variable means (once per variable, at
 * its first use) and for where it lands (at every use).  Where it lands
 * follows from the lines kept before it: the kickstart section, the
 * preseed question (and its continued lines), and the quotes of the
 * template's own text.  Every error is recorded; the output is given
 * only when there is none.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "answer.h"
#include "check.h"

#define LOWER   "abcdefghijklmnopqrstuvwxyz"
#define UPPER   "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define DIGITS  "0123456789"
#define ALNUM   LOWER UPPER DIGITS
#define BASE64  ALNUM "+/"

/* What a kickstart option value may hold and still be written bare:
 * nothing shlex or anaconda's option parser treats specially. */
#define KS_BARE ALNUM "_.,:/=+@$-"

/* s is made of the bytes in set only. */
static bool made_of(const char *s, const char *set)
{
    return s[strspn(s, set)] == '\0';
}

static int fail(const char **why, const char *msg)
{
    *why = msg;
    return -EINVAL;
}

/* ---- what each variable may hold ---- */

static int v_label(const char *s, const char **why)
{
    if (check_hostname(s, why))
        return -EINVAL;
    return strchr(s, '.') ? fail(why, "one label: the domain is @domain@") : 0;
}

static int v_ipv4(const char *s, const char **why)
{
    int family;

    if (check_addr(s, &family, why))
        return -EINVAL;
    return family == AF_INET ? 0 : fail(why, "the installers' static network is IPv4 here");
}

static int v_addr(const char *s, const char **why)
{
    int family;

    return check_addr(s, &family, why);
}

static int v_netmask(const char *s, const char **why)
{
    int prefix, family;

    if (check_netmask(s, &prefix, &family, why))
        return -EINVAL;
    return family == AF_INET ? 0 : fail(why, "expected a dotted quad (255.255.255.0)");
}

static int v_crypt(const char *s, const char **why)
{
    return s[0] == '$' && made_of(s, ALNUM "./$=")
               ? 0 : fail(why, "expected a crypt(3) string ($6$SALT$HASH, $y$...)");
}

/* As ssh-keygen writes a public key; options (command="...") are not
 * taken: a key here is root's, whole. */
static int v_ssh_key(const char *s, const char **why)
{
    size_t t = strspn(s, LOWER DIGITS "@.-"), b;

    if (t == 0 || s[t] != ' ')
        return fail(why, "expected TYPE BASE64 [COMMENT], as ssh-keygen writes a public key");
    s += t + 1;
    b = strspn(s, BASE64);
    if (s[b] == '=')
        b += s[b + 1] == '=' ? 2 : 1;
    if (b == 0 || (s[b] && s[b] != ' '))
        return fail(why, "the key after its type is not base64");
    return 0;
}

static int v_disk(const char *s, const char **why)
{
    return strchr(LOWER, s[0]) && made_of(s, LOWER DIGITS)
               ? 0 : fail(why, "expected a device name such as vda");
}

static int v_mib(const char *s, const char **why)
{
    if (!made_of(s, DIGITS) || s[0] == '0' || strlen(s) > 7 || strtoul(s, NULL, 10) > 4194304)
        return fail(why, "expected a whole number of MiB, 1 to 4194304");
    return 0;
}

static int v_timezone(const char *s, const char **why)
{
    size_t n = strlen(s);

    if (!made_of(s, ALNUM "_+-/") || !strchr(ALNUM, s[0]) || s[n - 1] == '/' ||
        strstr(s, "//"))
        return fail(why, "expected a tz name such as Europe/Berlin or UTC");
    return 0;
}

static int v_locale(const char *s, const char **why)
{
    return strchr(LOWER UPPER, s[0]) && made_of(s, ALNUM "_.@-")
               ? 0 : fail(why, "expected a locale such as en_US.UTF-8");
}

static int v_keymap(const char *s, const char **why)
{
    return made_of(s, ALNUM "_-") ? 0 : fail(why, "expected a keymap such as us or de-latin1");
}

static int v_proxy(const char *s, const char **why)
{
    if (check_url(s, why))
        return -EINVAL;
    return strncmp(s, "file:", 5) ? 0 : fail(why, "a proxy is http:// or https://");
}

static int v_host_port(const char *s, const char **why)
{
    const char *colon = strrchr(s, ':');
    char host[256];
    size_t n = colon ? (size_t)(colon - s) : strlen(s);

    if (colon) {
        unsigned long port = strtoul(colon + 1, NULL, 10);

        if (!colon[1] || !made_of(colon + 1, DIGITS) || strlen(colon + 1) > 5 || port < 1 ||
            port > 65535)
            return fail(why, "the port after `:' must be 1 to 65535");
    }
    if (n >= sizeof(host))
        return fail(why, "expected HOST or HOST:PORT");
    memcpy(host, s, n);
    host[n] = '\0';
    if (v_ipv4(host, why) && check_hostname(host, why))
        return fail(why, "expected HOST or HOST:PORT (a host name or an IPv4 address)");
    return 0;
}

static int v_mirror_dir(const char *s, const char **why)
{
    return s[0] == '/' && made_of(s, ALNUM "/._~+-")
               ? 0 : fail(why, "expected an absolute path such as /debian");
}

static int v_package(const char *s, const char **why)
{
    return strchr(ALNUM, s[0]) && made_of(s, ALNUM "._+-")
               ? 0 : fail(why, "expected a package name such as vim-minimal");
}

static int v_kernel_args(const char *s, const char **why)
{
    return strpbrk(s, "\"'\\$`") ? fail(why, "kernel arguments here hold no quotes, `\\', `$'"
                                             " or backquote (bootloader configuration that a"
                                             " shell reads holds them)")
                                 : 0;
}

static int v_tty(const char *s, const char **why)
{
    return strchr(LOWER, s[0]) && made_of(s, ALNUM)
               ? 0 : fail(why, "expected a tty name such as hvc0");
}

enum {
    LIST = 0x1,     /* given once per item */
    SECRET = 0x2,   /* never shown in a message */
};

static const struct var_def {
    const char *name;
    unsigned flags;
    const char *what;   /* completes "not ..." */
    int (*check)(const char *s, const char **why);
} known_vars[] = {
    { "console",            0,      "a tty name",           v_tty },
    { "console_args",       0,      "kernel arguments",     v_kernel_args },
    { "disk",               0,      "a disk device name",   v_disk },
    { "domain",             0,      "a domain name",        check_hostname },
    { "fqdn",               0,      "a host name",          check_hostname },
    { "gateway",            0,      "an IPv4 address",      v_ipv4 },
    { "hostname",           0,      "a host name",          v_label },
    { "ip",                 0,      "an IPv4 address",      v_ipv4 },
    { "keymap",             0,      "a keymap",             v_keymap },
    { "locale",             0,      "a locale",             v_locale },
    { "mirror_dir",         0,      "a mirror directory",   v_mirror_dir },
    { "mirror_host",        0,      "a mirror host",        v_host_port },
    { "mirror_url",         0,      "an install tree URL",  check_url },
    { "nameservers",        LIST,   "an address",           v_addr },
    { "netmask",            0,      "a netmask",            v_netmask },
    { "packages",           LIST,   "a package name",       v_package },
    { "proxy",              0,      "a proxy URL",          v_proxy },
    { "root_password_hash", SECRET, "a password hash",      v_crypt },
    { "ssh_keys",           LIST,   "an ssh public key",    v_ssh_key },
    { "swap_mib",           0,      "a swap size",          v_mib },
    { "timezone",           0,      "a time zone",          v_timezone },
};

#define NKNOWN (sizeof(known_vars) / sizeof(known_vars[0]))

static const struct var_def *known(const char *name, size_t len)
{
    for (size_t i = 0; i < NKNOWN; i++)
        if (strlen(known_vars[i].name) == len && !memcmp(known_vars[i].name, name, len))
            return &known_vars[i];
    return NULL;
}

/* ---- the output ---- */

/* A growing string; out of memory is remembered and checked once. */
struct buf {
    char *s;
    size_t len, cap;
    bool oom;
};

static void buf_add(struct buf *b, const char *p, size_t n)
{
    if (b->oom)
        return;
    if (b->cap - b->len <= n) {
        size_t cap = b->cap ? b->cap : 1024;
        char *s;

        while (cap - b->len <= n)
            cap *= 2;
        if (!(s = realloc(b->s, cap))) {
            b->oom = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

/* v inside a kickstart double-quoted word: shlex (posix) takes `\' as an
 * escape there only before `"' and `\'. */
static void ks_escaped(struct buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '"' || *v == '\\')
            buf_add(b, "\\", 1);
        buf_add(b, v, 1);
    }
}

/* v as one shell word that nothing in it can end or expand. */
static void sh_word(struct buf *b, const char *v)
{
    buf_add(b, "'", 1);
    for (; *v; v++) {
        if (*v == '\'')
            buf_str(b, "'\\''");
        else
            buf_add(b, v, 1);
    }
    buf_add(b, "'", 1);
}

/* ---- rendering ---- */

enum ks_section { KS_COMMANDS, KS_PACKAGES, KS_SCRIPT, KS_OTHER };

/* Where a placeholder lands. */
enum place {
    P_NONE,         /* nowhere a value may go */
    P_KS_ARG,       /* a kickstart command's arguments */
    P_KS_PACKAGE,   /* a line of %packages */
    P_SHELL,        /* a script */
    P_PRESEED,      /* a preseed question's value */
};

/* The template's own quoting, in kickstart and shell text. */
enum quote { Q_NONE, Q_SINGLE, Q_DOUBLE, Q_COMMENT };

enum { UNCHECKED, GOOD, REFUSED };

struct render {
    const char *source;
    enum answer_syntax syntax;
    const struct answer_var *vars;
    size_t nvars;
    struct diag *d;
    unsigned char checked[NKNOWN];
    struct buf out;
    /* the block of an @if */
    bool in_block, keep, in_else;
    int block_line;
    /* where the kept lines so far leave the next one */
    enum ks_section section;
    bool continued;         /* preseed: the last line ended in `\' */
    bool shell;             /* preseed: the question is a command */
    enum quote quote;
    bool escaped;           /* the next byte follows a `\' */
};

/* The next value of name from *k on (k advanced past it), or NULL. */
static const char *next_item(const struct render *r, const char *name, size_t *k)
{
    while (*k < r->nvars) {
        const struct answer_var *v = &r->vars[(*k)++];

        if (!strcmp(v->name, name))
            return v->value;
    }
    return NULL;
}

static bool given(const struct render *r, const char *name)
{
    size_t k = 0;

    return next_item(r, name, &k) != NULL;
}

static bool printable(const char *v)
{
    for (; *v; v++)
        if ((unsigned char)*v < 0x20 || (unsigned char)*v >= 0x7f)
            return false;
    return true;
}

/* An error about a value: shown unless secret or unprintable, with its
 * item number in a list (item 0: not a list). */
__attribute__((format(printf, 7, 8)))
static void value_error(struct render *r, int line, int col, const struct var_def *def,
                        size_t item, const char *v, const char *fmt, ...)
{
    char msg[512], which[32] = "";
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (item)
        snprintf(which, sizeof(which), " item %zu", item);
    if ((def->flags & SECRET) || !printable(v))
        diag_error(r->d, r->source, line, col, "@%s@%s: %s", def->name, which, msg);
    else
        diag_error(r->d, r->source, line, col, "@%s@%s `%s': %s", def->name, which, v, msg);
}

/* The rules for every value, whatever the variable and the place. */
static bool value_good(struct render *r, int line, int col, const struct var_def *def,
                       size_t item, const char *v)
{
    const char *why;

    if (!*v) {
        value_error(r, line, col, def, item, v, "empty: leave the variable out instead");
        return false;
    }
    for (size_t i = 0; v[i]; i++) {
        unsigned char c = (unsigned char)v[i];

        if (c == '\n') {
            value_error(r, line, col, def, item, v,
                        "a newline at byte %zu: a value is part of one line", i + 1);
            return false;
        }
        if (c < 0x20 || c >= 0x7f) {
            value_error(r, line, col, def, item, v,
                        "byte %zu is 0x%02x: only printable ASCII is written", i + 1, c);
            return false;
        }
    }
    if (v[0] == '-') {
        value_error(r, line, col, def, item, v, "begins with `-', which reads as an option");
        return false;
    }
    if (def->check(v, &why)) {
        value_error(r, line, col, def, item, v, "not %s: %s", def->what, why);
        return false;
    }
    return true;
}

/* Every value of def good, checked at its first use only. */
static bool var_good(struct render *r, const struct var_def *def, int line, int col)
{
    unsigned char *state = &r->checked[def - known_vars];

    if (*state == UNCHECKED) {
        size_t k = 0, item = 0;
        const char *v;

        *state = GOOD;
        while ((v = next_item(r, def->name, &k)))
            if (!value_good(r, line, col, def, (def->flags & LIST) ? ++item : 0, v))
                *state = REFUSED;
    }
    return *state == GOOD;
}

/* Why item v cannot be written at place, or NULL; joined: it is one of
 * several items. */
static const char *place_refuses(enum place place, bool joined, const char *v)
{
    size_t n = strlen(v);
    const char *why;

    switch (place) {
    case P_KS_ARG:
        return joined && strpbrk(v, ", ")
                   ? "a kickstart option joins a list with `,': an item holds no `,' or blank"
                   : NULL;
    case P_KS_PACKAGE:
        return v_package(v, &why) ? "%packages takes one package name a line" : NULL;
    case P_PRESEED:
        if (joined && strchr(v, ' '))
            return "a preseed value joins a list with blanks: an item holds none";
        if (v[0] == ' ' || v[n - 1] == ' ')
            return "a preseed value cannot begin or end with a blank";
        if (v[n - 1] == '\\')
            return "a preseed value cannot end with `\\' (the line would go on)";
        return NULL;
    default:
        return NULL;    /* shell: single quotes hold any printable byte */
    }
}

/* Writes def's values (all good) at place. */
static void write_value(struct render *r, enum place place, const struct var_def *def)
{
    bool bare = true, first = true;
    size_t k = 0;
    const char *v;

    while (place == P_KS_ARG && (v = next_item(r, def->name, &k)))
        bare = bare && made_of(v, KS_BARE);
    if (place == P_KS_ARG && !bare)
        buf_add(&r->out, "\"", 1);
    for (k = 0; (v = next_item(r, def->name, &k)); first = false) {
        switch (place) {
        case P_KS_ARG:
            if (!first)
                buf_add(&r->out, ",", 1);
            ks_escaped(&r->out, v);
            break;
        case P_KS_PACKAGE:
            if (!first)
                buf_add(&r->out, "\n", 1);
            buf_str(&r->out, v);
            break;
        case P_SHELL:
            if (!first)
                buf_add(&r->out, " ", 1);
            sh_word(&r->out, v);
            break;
        default:
            if (!first)
                buf_add(&r->out, " ", 1);
            buf_str(&r->out, v);
        }
    }
    if (place == P_KS_ARG && !bare)
        buf_add(&r->out, "\"", 1);
}

/* The placeholder at p[at] is in the first word of its line p (the
 * `@' at p[at] ends the blanks strspn skips). */
static bool first_word(const char *p, size_t at)
{
    size_t i = strspn(p, " \t");

    for (; i < at; i++)
        if (p[i] == ' ' || p[i] == '\t')
            return false;
    return true;
}

/*
 * The placeholder def at p[at] (its line p, n bytes; the name ends at
 * p[end], the closing `@'), landing at place; refuse says why no value
 * may go there (NULL: one may).
 */
static void placeholder(struct render *r, const char *p, size_t n, size_t at, size_t end,
                        int line, enum place place, const char *refuse)
{
    const struct var_def *def = known(p + at + 1, end - at - 1);
    int col = (int)at + 1;
    size_t k = 0, item = 0, nitems = 0;
    const char *v, *why;
    bool bad = false;

    if (!def) {
        diag_error(r->d, r->source, line, col, "@%.*s@: no such variable",
                   (int)(end - at - 1), p + at + 1);
        return;
    }
    if (refuse) {
        diag_error(r->d, r->source, line, col, "@%s@: %s", def->name, refuse);
        return;
    }
    if ((place == P_KS_ARG || place == P_SHELL) &&
        (r->quote == Q_SINGLE || r->quote == Q_DOUBLE || r->escaped)) {
        diag_error(r->d, r->source, line, col,
                   "@%s@: inside the template's own quoting (a value brings its own)",
                   def->name);
        return;
    }
    if (r->syntax == ANSWER_KICKSTART && place != P_KS_PACKAGE && first_word(p, at)) {
        diag_error(r->d, r->source, line, col,
                   "@%s@: in the first word of a kickstart line, which anaconda reads"
                   " for a section (%%end, %%post)", def->name);
        return;
    }
    if (place == P_KS_PACKAGE && (at != 0 || end + 1 != n)) {
        diag_error(r->d, r->source, line, col,
                   "@%s@: in %%packages a placeholder is a line of its own", def->name);
        return;
    }
    while (next_item(r, def->name, &k))
        nitems++;
    if (!nitems) {
        diag_error(r->d, r->source, line, col, "@%s@ is used here but not given",
                   def->name);
        return;
    }
    if (!var_good(r, def, line, col))
        return;
    for (k = 0; (v = next_item(r, def->name, &k));) {
        item += (def->flags & LIST) != 0;
        if ((why = place_refuses(place, nitems > 1, v))) {
            value_error(r, line, col, def, item, v, "%s", why);
            bad = true;
        }
    }
    if (!bad)
        write_value(r, place, def);
}

/* Follows the template's own quoting over byte p[i] of its line. */
static void track(struct render *r, const char *p, size_t i, enum place place)
{
    char c = p[i];

    if (r->escaped) {
        r->escaped = false;
        return;
    }
    switch (r->quote) {
    case Q_NONE:
        if (c == '\\')
            r->escaped = true;
        else if (c == '\'')
            r->quote = Q_SINGLE;
        else if (c == '"')
            r->quote = Q_DOUBLE;
        /* shlex takes `#' as a comment anywhere outside quotes, the
         * shell only at the start of a word */
        else if (c == '#' && (place == P_KS_ARG || i == 0 || p[i - 1] == ' ' ||
                              p[i - 1] == '\t'))
            r->quote = Q_COMMENT;
        break;
    case Q_SINGLE:
        if (c == '\'')
            r->quote = Q_NONE;
        break;
    case Q_DOUBLE:
        if (c == '\\')
            r->escaped = true;
        else if (c == '"')
            r->quote = Q_NONE;
        break;
    case Q_COMMENT:
        break;
    }
}

static bool is_name_char(char c)
{
    return c && strchr(LOWER DIGITS "_", c);
}

/*
 * The `@'s of line p (n bytes): `@@', placeholders, and errors for the
 * others.  When write, the line is kept: its text goes to the output and
 * placeholders are filled; else only names are checked.
 */
static void scan(struct render *r, const char *p, size_t n, int line, bool write,
                 enum place place, const char *refuse, size_t from, const char *refuse_before)
{
    bool tracked = place == P_KS_ARG || place == P_SHELL;

    for (size_t i = 0; i < n; i++) {
        size_t j = i + 1;

        if (p[i] != '@') {
            if (write && tracked && i >= from)
                track(r, p, i, place);
            if (write)
                buf_add(&r->out, p + i, 1);
            continue;
        }
        if (j < n && p[j] == '@') {
            r->escaped = false;
            if (write)
                buf_add(&r->out, "@", 1);
            i = j;
            continue;
        }
        while (j < n && is_name_char(p[j]))
            j++;
        if (j < n && p[j] == '@' && strchr(LOWER, p[i + 1])) {
            if ((j - i == 5 && !memcmp(p + i, "@else", 5)) ||
                (j - i == 6 && !memcmp(p + i, "@endif", 6)))
                diag_error(r->d, r->source, line, (int)i + 1,
                           "%.*s@ is a line of its own", (int)(j - i), p + i);
            else if (!write && !known(p + i + 1, j - i - 1))
                diag_error(r->d, r->source, line, (int)i + 1, "@%.*s@: no such variable",
                           (int)(j - i - 1), p + i + 1);
            else if (write)
                placeholder(r, p, n, i, j, line, place, i < from ? refuse_before : refuse);
            i = j;
            continue;
        }
        if (j - i == 3 && !memcmp(p + i, "@if", 3))
            diag_error(r->d, r->source, line, (int)i + 1, "@if NAME@ is a line of its own");
        else
            diag_error(r->d, r->source, line, (int)i + 1,
                       "a lone `@' (@NAME@ is a variable, @@ a literal `@')");
        /* what follows is text, for the rest of the line to be checked */
        if (write)
            buf_add(&r->out, "@", 1);
    }
    r->escaped = false;
    if (r->quote == Q_COMMENT)
        r->quote = Q_NONE;
}

/* A kickstart `%' line p (n bytes from the `%'): the section it opens
 * or ends.  Any section but these takes no placeholder: its syntax is
 * not known here. */
static void ks_section(struct render *r, const char *p, size_t n)
{
    static const char *const scripts[] = {
        "%pre", "%pre-install", "%post", "%onerror", "%traceback",
    };
    size_t w = 0;

    while (w < n && p[w] != ' ' && p[w] != '\t')
        w++;
    r->section = KS_OTHER;
    if (w == 4 && !memcmp(p, "%end", 4))
        r->section = KS_COMMANDS;
    else if (w == 9 && !memcmp(p, "%packages", 9))
        r->section = KS_PACKAGES;
    for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++)
        if (strlen(scripts[i]) == w && !memcmp(p, scripts[i], w))
            r->section = KS_SCRIPT;
    r->quote = Q_NONE;
}

static bool ends_with(const char *p, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);

    return n >= k && !memcmp(p + n - k, suffix, k);
}

/* Where the value of preseed line p (n bytes) starts: after OWNER
 * QUESTION TYPE and the blanks that follow; n when there is no value.
 * *shell_r: the question's value is a shell command. */
static size_t preseed_value_at(const char *p, size_t n, bool *shell_r)
{
    size_t i = 0, q = 0, qlen = 0;

    for (int field = 0; field < 3; field++) {
        size_t start;

        while (i < n && (p[i] == ' ' || p[i] == '\t'))
            i++;
        start = i;
        while (i < n && p[i] != ' ' && p[i] != '\t')
            i++;
        if (i == start)
            return n;
        if (field == 1) {
            q = start;
            qlen = i - start;
        }
    }
    *shell_r = ends_with(p + q, qlen, "/early_command") ||
               ends_with(p + q, qlen, "/late_command");
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    return i;
}

/* A kept line p (n bytes, without its newline). */
static void kept_line(struct render *r, const char *p, size_t n, int line)
{
    enum place place = P_NONE;
    const char *refuse = NULL;
    size_t lead = 0, from = 0;
    bool comment;

    while (lead < n && (p[lead] == ' ' || p[lead] == '\t'))
        lead++;
    if (r->syntax == ANSWER_KICKSTART) {
        if (lead < n && p[lead] == '%') {
            ks_section(r, p + lead, n - lead);
            refuse = "a kickstart section line takes no placeholder";
        } else if (r->section == KS_COMMANDS) {
            place = P_KS_ARG;
            r->quote = Q_NONE;      /* anaconda splits each command line alone */
        } else if (r->section == KS_PACKAGES) {
            place = P_KS_PACKAGE;
        } else if (r->section == KS_SCRIPT) {
            place = P_SHELL;
        } else {
            refuse = "no placeholder in a section other than %packages and scripts";
        }
        scan(r, p, n, line, true, place, refuse, 0, NULL);
        return;
    }
    comment = !r->continued && (lead == n || p[lead] == '#');
    if (!r->continued) {
        from = comment ? n : preseed_value_at(p, n, &r->shell);
        r->quote = Q_NONE;
    }
    r->continued = !comment && n && p[n - 1] == '\\';
    scan(r, p, n, line, true, r->shell ? P_SHELL : P_PRESEED, NULL, from,
         "in a preseed file a placeholder goes in a question's value"
         " (OWNER QUESTION TYPE VALUE)");
}

enum directive { D_TEXT, D_IF, D_ELSE, D_ENDIF, D_BAD };

/* What line p (n bytes) is; for @if NAME@, the name in *name_r (*len_r
 * bytes).  D_BAD: it starts as a directive but is not one alone. */
static enum directive directive(const char *p, size_t n, const char **name_r, size_t *len_r)
{
    if (n >= 3 && !memcmp(p, "@if", 3) && (n == 3 || p[3] == ' ' || p[3] == '@')) {
        size_t i = 4;

        if (n < 6 || p[3] != ' ' || p[n - 1] != '@' || !strchr(LOWER, p[4]))
            return D_BAD;
        while (i < n - 1 && is_name_char(p[i]))
            i++;
        if (i != n - 1)
            return D_BAD;
        *name_r = p + 4;
        *len_r = n - 5;
        return D_IF;
    }
    if (n >= 6 && !memcmp(p, "@else@", 6))
        return n == 6 ? D_ELSE : D_BAD;
    if (n >= 7 && !memcmp(p, "@endif@", 7))
        return n == 7 ? D_ENDIF : D_BAD;
    return D_TEXT;
}

/* A directive line: the block it opens, turns or ends. */
static void block(struct render *r, enum directive what, const char *name, size_t len,
                  int line)
{
    const struct var_def *def;

    switch (what) {
    case D_IF:
        if (r->in_block) {
            diag_error(r->d, r->source, line, 1, "@if@ inside a block: blocks do not nest");
            return;
        }
        if (!(def = known(name, len)))
            diag_error(r->d, r->source, line, 5, "@if %.*s@: no such variable", (int)len, name);
        r->in_block = true;
        r->in_else = false;
        r->keep = def && given(r, def->name);
        r->block_line = line;
        return;
    case D_ELSE:
        if (!r->in_block)
            diag_error(r->d, r->source, line, 1, "@else@ without @if@");
        else if (r->in_else)
            diag_error(r->d, r->source, line, 1, "a second @else@ in one block");
        else {
            r->in_else = true;
            r->keep = !r->keep;
        }
        return;
    case D_ENDIF:
        if (!r->in_block)
            diag_error(r->d, r->source, line, 1, "@endif@ without @if@");
        r->in_block = false;
        return;
    default:
        diag_error(r->d, r->source, line, 1,
                   "a directive line is @if NAME@, @else@ or @endif@, and nothing else");
    }
}

/* The caller's variables: every name known, one not a list given once. */
static void check_vars(struct render *r)
{
    for (size_t i = 0; i < r->nvars; i++) {
        const char *name = r->vars[i].name;
        const struct var_def *def = known(name, strlen(name));
        size_t k = 0;

        if (!def) {
            diag_error(r->d, r->source, 0, 0, "`%s' is not an answer-file variable", name);
            continue;
        }
        next_item(r, name, &k);
        /* reported at its first value only */
        if (!(def->flags & LIST) && k == i + 1 && next_item(r, name, &k))
            diag_error(r->d, r->source, 0, 0, "@%s@ is given more than once (it takes one"
                       " value)", name);
    }
}

int answer_render(const char *source, const char *text, size_t len,
                  enum answer_syntax syntax, const struct answer_var *vars,
                  size_t nvars, char **out_r, struct diag *d)
{
    struct render r = {
        .source = source, .syntax = syntax, .vars = vars, .nvars = nvars, .d = d,
    };
    size_t errors = d->nerrors;
    const char *p = text, *end = text + len, *nul;
    int line = 0, rc;

    check_vars(&r);
    if ((nul = memchr(text, '\0', len))) {
        const char *bol = text;

        for (const char *c = text; c < nul; c++)
            if (*c == '\n') {
                line++;
                bol = c + 1;
            }
        diag_error(d, source, line + 1, (int)(nul - bol) + 1, "a NUL byte: a template is text");
        goto out;
    }
    buf_add(&r.out, "", 0);     /* an empty template renders as "" */
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *name = NULL;
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p), namelen = 0;
        enum directive what = directive(p, n, &name, &namelen);

        line++;
        if (what != D_TEXT) {
            block(&r, what, name, namelen, line);
        } else if (!r.in_block || r.keep) {
            kept_line(&r, p, n, line);
            if (nl)
                buf_add(&r.out, "\n", 1);
        } else {
            scan(&r, p, n, line, false, P_NONE, NULL, 0, NULL);
        }
        p += n + (nl != NULL);
    }
    if (r.in_block)
        diag_error(d, source, r.block_line, 1, "this @if@ has no @endif@");
out:
    if (r.out.oom)
        rc = -ENOMEM;
    else if (d->nerrors > errors)
        rc = -EINVAL;
    else {
        *out_r = r.out.s;
        r.out.s = NULL;
        rc = 0;
    }
    free(r.out.s);
    return rc;
}
