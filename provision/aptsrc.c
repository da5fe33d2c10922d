/*
 * aptsrc.c - the host's mirror from its apt sources, its release from
 * os-release (see aptsrc.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aptsrc.h"
#include "fileio.h"
#include "paths.h"

/* Reads the regular file root+rel into a new NUL-terminated buffer.
 * -ENOENT (nothing recorded) when it does not exist. */
static int read_under(const char *root, const char *rel, char **path_r,
                      char **buf_r, size_t *len_r, struct diag *d)
{
    char *path = paths_join(root, rel);
    int r;

    *buf_r = NULL;
    if (path_r)
        *path_r = NULL;
    if (!path)
        return -ENOMEM;
    r = file_read_bounded(path, APTSRC_MAX_FILE, FILE_MISSING_OK, buf_r, len_r, d);
    if (r == 0 && path_r) {
        *path_r = path;
        path = NULL;
    }
    free(path);
    return r;
}

/* ---- the mirror ---- */

enum { RANK_NONE = 99 };

struct search {
    const char *prefer;
    int best;                   /* rank of m, RANK_NONE when empty */
    struct aptsrc_mirror *m;
};

void aptsrc_mirror_dispose(struct aptsrc_mirror *m)
{
    free(m->uri);
    free(m->suite);
    free(m->file);
    memset(m, 0, sizeof(*m));
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);

    return n >= k && !memcmp(s + n - k, suffix, k);
}

static bool uri_usable(const char *uri, size_t n)
{
    static const char *const schemes[] = { "http://", "https://", "file:/" };

    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t k = strlen(schemes[i]);

        if (n > k && !strncasecmp(uri, schemes[i], k))
            return true;
    }
    return false;
}

/* The suite's rank: 0 the preferred suite, 1 a release, 2 -updates and
 * the like, RANK_NONE not a candidate. */
static int suite_rank(const struct search *s, const char *suite, size_t n)
{
    if (!n || memchr(suite, '/', n) || ends_with(suite, n, "-security"))
        return RANK_NONE;
    if (s->prefer && strlen(s->prefer) == n && !memcmp(s->prefer, suite, n))
        return 0;
    if (ends_with(suite, n, "-updates") || ends_with(suite, n, "-backports") ||
        ends_with(suite, n, "-proposed-updates") || ends_with(suite, n, "-proposed"))
        return 2;
    return 1;
}

/* Offers one entry; 0 or -ENOMEM. */
static int offer(struct search *s, const char *uri, size_t urilen, const char *suite,
                 size_t suitelen, const char *file, int line)
{
    int rank = suite_rank(s, suite, suitelen);
    struct aptsrc_mirror m = { 0 };

    if (rank >= s->best || !uri_usable(uri, urilen))
        return 0;
    while (urilen > 1 && uri[urilen - 1] == '/' && uri[urilen - 2] != '/')
        urilen--;
    m.uri = strndup(uri, urilen);
    m.suite = strndup(suite, suitelen);
    m.file = strdup(file);
    m.line = line;
    if (!m.uri || !m.suite || !m.file) {
        aptsrc_mirror_dispose(&m);
        return -ENOMEM;
    }
    aptsrc_mirror_dispose(s->m);
    *s->m = m;
    s->best = rank;
    return 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* The next whitespace-separated word in [*p, end): its start and length,
 * or 0 when none. */
static size_t next_word(const char **p, const char *end, const char **w)
{
    const char *s = *p;

    while (s < end && is_space(*s))
        s++;
    *w = s;
    while (s < end && !is_space(*s))
        s++;
    *p = s;
    return (size_t)(s - *w);
}

static bool has_word(const char *list, size_t n, const char *word)
{
    const char *p = list, *end = list + n, *w;
    size_t k;

    while ((k = next_word(&p, end, &w)))
        if (k == strlen(word) && !memcmp(w, word, k))
            return true;
    return false;
}

/* One-line format: "deb [ options ] URI SUITE COMPONENT...". */
static int scan_list(struct search *s, const char *file, const char *buf, size_t len)
{
    const char *p = buf, *end = buf + len;
    int lineno = 0;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;
        const char *hash = memchr(p, '#', (size_t)(le - p)), *q = p, *w, *uri, *suite;
        size_t k, urilen, suitelen;
        int r;

        lineno++;
        if (hash)
            le = hash;
        p = nl ? nl + 1 : end;
        k = next_word(&q, le, &w);
        if (k != 3 || memcmp(w, "deb", 3))
            continue;
        k = next_word(&q, le, &w);
        if (k && w[0] == '[') {
            /* options: up to the word holding `]' */
            const char *close = memchr(w, ']', (size_t)(le - w));

            if (!close)
                continue;
            q = close + 1;
            k = next_word(&q, le, &w);
        }
        uri = w;
        urilen = k;
        suitelen = next_word(&q, le, &suite);
        if (!urilen || !suitelen || !has_word(q, (size_t)(le - q), "main"))
            continue;
        if ((r = offer(s, uri, urilen, suite, suitelen, file, lineno)))
            return r;
    }
    return 0;
}

struct field {
    const char *v;      /* the value, continuation lines included */
    size_t n;
    int line;
};

/* deb822: paragraphs of "Field: value" lines, separated by blank lines. */
static int emit_paragraph(struct search *s, const char *file, struct field *f)
{
    /* f[0] Types, f[1] URIs, f[2] Suites, f[3] Components, f[4] Enabled */
    const char *p, *end, *u, *st;
    size_t ul, sl;
    int r;

    if (!f[0].v || !f[1].v || !f[2].v || !has_word(f[0].v, f[0].n, "deb") ||
        !f[3].v || !has_word(f[3].v, f[3].n, "main"))
        return 0;
    if (f[4].v) {
        static const char *const off[] = { "no", "false", "off", "0", "without", "disable" };

        p = f[4].v;
        ul = next_word(&p, f[4].v + f[4].n, &u);
        for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++)
            if (ul == strlen(off[i]) && !strncasecmp(u, off[i], ul))
                return 0;
    }
    p = f[1].v;
    end = f[1].v + f[1].n;
    while ((ul = next_word(&p, end, &u))) {
        const char *sp = f[2].v, *send = f[2].v + f[2].n;

        while ((sl = next_word(&sp, send, &st)))
            if ((r = offer(s, u, ul, st, sl, file, f[1].line)))
                return r;
    }
    return 0;
}

static int scan_sources(struct search *s, const char *file, const char *buf, size_t len)
{
    static const char *const names[] = { "Types", "URIs", "Suites", "Components", "Enabled" };
    struct field f[5] = { { 0 } };
    struct field *cur = NULL;
    const char *p = buf, *end = buf + len;
    int lineno = 0, r = 0;

    while (p < end && !r) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;
        const char *line = p, *c = p, *colon;

        lineno++;
        p = nl ? nl + 1 : end;
        if (*line == '#') {
            cur = NULL;         /* a comment ends a continued field */
            continue;
        }
        while (c < le && is_space(*c))
            c++;
        if (c == le) {
            /* a blank line ends the paragraph */
            r = emit_paragraph(s, file, f);
            memset(f, 0, sizeof(f));
            cur = NULL;
            continue;
        }
        if (c != line) {
            /* a continuation line */
            if (cur)
                cur->n = (size_t)(le - cur->v);
            continue;
        }
        cur = NULL;
        colon = memchr(line, ':', (size_t)(le - line));
        if (!colon)
            continue;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            if (strlen(names[i]) == (size_t)(colon - line) &&
                !strncasecmp(line, names[i], (size_t)(colon - line))) {
                cur = &f[i];
                cur->v = colon + 1;
                cur->n = (size_t)(le - cur->v);
                cur->line = lineno;
                break;
            }
        }
    }
    if (!r)
        r = emit_paragraph(s, file, f);
    return r;
}

static bool apt_name_ok(const char *name, const char *suffix)
{
    size_t n = strlen(name);

    if (!ends_with(name, n, suffix) || n == strlen(suffix))
        return false;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-'))
            return false;
    return true;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Scans root+rel with the scanner for its format; a missing file is fine. */
static int scan_file(struct search *s, const char *root, const char *rel, struct diag *d)
{
    char *path = NULL, *buf = NULL;
    size_t len = 0;
    int r = read_under(root, rel, &path, &buf, &len, d);

    if (r == -ENOENT)
        return 0;
    if (r)
        return r;
    if (ends_with(rel, strlen(rel), ".sources"))
        r = scan_sources(s, path, buf, len);
    else
        r = scan_list(s, path, buf, len);
    free(path);
    free(buf);
    return r;
}

int aptsrc_find_mirror(const char *root, const char *prefer_suite,
                       struct aptsrc_mirror *m, struct diag *d)
{
    struct search s = { .prefer = prefer_suite, .best = RANK_NONE, .m = m };
    char *dirpath = NULL, **names = NULL, *rel = NULL;
    size_t nnames = 0, cap = 0;
    DIR *dir = NULL;
    struct dirent *e;
    int r;

    memset(m, 0, sizeof(*m));
    r = scan_file(&s, root, "etc/apt/sources.list", d);
    if (r)
        goto out;
    dirpath = paths_join(root, "etc/apt/sources.list.d");
    if (!dirpath) {
        r = -ENOMEM;
        goto out;
    }
    dir = opendir(dirpath);
    if (!dir && errno != ENOENT && errno != ENOTDIR) {
        r = -errno;
        diag_error(d, dirpath, 0, 0, "cannot read the directory: %s", strerror(-r));
        goto out;
    }
    while (dir && (errno = 0, e = readdir(dir))) {
        if (!apt_name_ok(e->d_name, ".list") && !apt_name_ok(e->d_name, ".sources"))
            continue;
        if (nnames == cap) {
            char **v = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof(*v));

            if (!v) {
                r = -ENOMEM;
                goto out;
            }
            names = v;
        }
        if (!(names[nnames] = strdup(e->d_name))) {
            r = -ENOMEM;
            goto out;
        }
        nnames++;
    }
    if (dir && errno) {
        r = -errno;
        diag_error(d, dirpath, 0, 0, "cannot read the directory: %s", strerror(-r));
        goto out;
    }
    if (nnames)
        qsort(names, nnames, sizeof(*names), by_name);
    for (size_t i = 0; i < nnames; i++) {
        struct stat st;
        char *path;

        free(rel);
        if (asprintf(&rel, "etc/apt/sources.list.d/%s", names[i]) < 0) {
            rel = NULL;
            r = -ENOMEM;
            goto out;
        }
        /* directories and the like are not sources (apt skips them too) */
        if (!(path = paths_join(root, rel))) {
            r = -ENOMEM;
            goto out;
        }
        r = stat(path, &st) == 0 && !S_ISREG(st.st_mode);
        free(path);
        if (r) {
            r = 0;
            continue;
        }
        if ((r = scan_file(&s, root, rel, d)))
            goto out;
    }
    r = s.best == RANK_NONE ? -ENOENT : 0;
out:
    if (dir)
        closedir(dir);
    for (size_t i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    free(rel);
    free(dirpath);
    if (r)
        aptsrc_mirror_dispose(m);
    return r;
}

/* ---- the release ---- */

void aptsrc_release_dispose(struct aptsrc_release *rel)
{
    free(rel->id);
    free(rel->id_like);
    free(rel->codename);
    free(rel->file);
    memset(rel, 0, sizeof(*rel));
}

/* Unquotes an os-release value [v, end) into a new string: "..." with
 * backslash escapes, '...', or bare. */
static char *unquote(const char *v, const char *end)
{
    char *out = malloc((size_t)(end - v) + 1), *o = out;

    if (!out)
        return NULL;
    if (v < end && (*v == '"' || *v == '\'')) {
        char q = *v++;

        for (; v < end && *v != q; v++) {
            if (q == '"' && *v == '\\' && v + 1 < end)
                v++;
            *o++ = *v;
        }
    } else {
        while (v < end && !is_space(*v))
            *o++ = *v++;
    }
    *o = '\0';
    return out;
}

int aptsrc_read_release(const char *root, struct aptsrc_release *rel, struct diag *d)
{
    static const char *const keys[] = { "ID", "ID_LIKE", "VERSION_CODENAME" };
    char **fields[] = { &rel->id, &rel->id_like, &rel->codename };
    char *buf = NULL;
    const char *p, *end;
    size_t len = 0;
    int r;

    memset(rel, 0, sizeof(*rel));
    r = read_under(root, "etc/os-release", &rel->file, &buf, &len, d);
    if (r == -ENOENT)
        r = read_under(root, "usr/lib/os-release", &rel->file, &buf, &len, d);
    if (r)
        goto out;
    for (p = buf, end = buf + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;
        const char *line = p, *eq;

        p = nl ? nl + 1 : end;
        while (line < le && is_space(*line))
            line++;
        eq = memchr(line, '=', (size_t)(le - line));
        if (!eq || *line == '#')
            continue;
        while (le > eq + 1 && is_space(le[-1]))
            le--;
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            if (strlen(keys[i]) != (size_t)(eq - line) || memcmp(line, keys[i], (size_t)(eq - line)))
                continue;
            free(*fields[i]);
            if (!(*fields[i] = unquote(eq + 1, le))) {
                r = -ENOMEM;
                goto out;
            }
            if (!**fields[i]) {
                free(*fields[i]);
                *fields[i] = NULL;
            }
        }
    }
out:
    free(buf);
    if (r)
        aptsrc_release_dispose(rel);
    return r;
}

const char *aptsrc_release_family(const struct aptsrc_release *rel)
{
    static const char *const families[] = { "ubuntu", "debian" };

    for (size_t i = 0; i < 2; i++)
        if (rel->id && !strcmp(rel->id, families[i]))
            return families[i];
    for (size_t i = 0; i < 2; i++)
        if (rel->id_like && has_word(rel->id_like, strlen(rel->id_like), families[i]))
            return families[i];
    return NULL;
}
