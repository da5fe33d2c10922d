/*
 * test-settings.c - the settings-file parser (provision/settings.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "settings.h"
#include "tap.h"

/* Parses text; returns the result (NULL on error) and leaves the
 * messages in d. */
static struct settings *parse(const char *text, struct diag *d, int *rc)
{
    struct settings *s = NULL;

    diag_init(d);
    *rc = settings_parse("t.conf", text, strlen(text), &s, d);
    return s;
}

/* Whether d holds an error at line:col whose message contains want. */
static int has_error(const struct diag *d, int line, int col, const char *want)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].level == DIAG_ERROR && d->v[i].line == line && d->v[i].col == col &&
            strstr(d->v[i].msg, want) && d->v[i].file && !strcmp(d->v[i].file, "t.conf"))
            return 1;
    return 0;
}

static void dump(const struct diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        printf("#   %s:%d:%d: %s\n", d->v[i].file ? d->v[i].file : "-", d->v[i].line,
               d->v[i].col, d->v[i].msg);
}

/* One bad line: exactly one error, at line:col, mentioning want. */
static void bad(const char *text, int line, int col, const char *want)
{
    struct diag d;
    int rc;
    struct settings *s = parse(text, &d, &rc);

    is_int(rc, -EINVAL, "rejected: %s", want);
    ok(s == NULL, "no partial result (%s)", want);
    if (!ok(d.nerrors == 1 && has_error(&d, line, col, want),
            "one error at %d:%d: %s", line, col, want))
        dump(&d);
    settings_free(s);
    diag_dispose(&d);
}

static void test_good(void)
{
    static const char text[] =
        "# provision.conf\n"
        "\n"
        "   # indented comment\n"
        "size = 8G\n"
        "memory=1G\n"
        "  mirror   =   http://mirror.example/debian   \n"
        "dist = bookworm # the release\n"
        "password = a#b\n"
        "hash = #comment only\n"
        "quoted = \"  has # and \\\"quotes\\\" and \\\\ \"   # comment\n"
        "empty =\n"
        "empty-quoted = \"\"\n"
        "tabbed\t=\tx\ty\t\n"
        "size = 10G\n"
        "crlf = yes\r\n"
        "no-newline = last";
    struct diag d;
    int rc;
    struct settings *s = parse(text, &d, &rc);
    const struct settings_section *top;
    const struct settings_entry *e;
    int sizes = 0;

    is_int(rc, 0, "a file with every form parses");
    is_int(d.n, 0, "without messages");
    if (!s) {
        dump(&d);
        diag_dispose(&d);
        return;
    }
    is_int(s->nsections, 1, "one (top) section");
    is_str(settings_get(s, NULL, "memory"), "1G", "key=value without spaces");
    is_str(settings_get(s, NULL, "mirror"), "http://mirror.example/debian",
           "value trimmed on both sides");
    is_str(settings_get(s, NULL, "dist"), "bookworm", "comment after whitespace dropped");
    is_str(settings_get(s, NULL, "password"), "a#b", "`#' without whitespace before is kept");
    is_str(settings_get(s, NULL, "hash"), "", "a value that is all comment is empty");
    is_str(settings_get(s, NULL, "quoted"), "  has # and \"quotes\" and \\ ",
           "quoted value keeps spaces and `#', unescapes \\\" and \\\\");
    is_str(settings_get(s, NULL, "empty"), "", "empty value");
    is_str(settings_get(s, NULL, "empty-quoted"), "", "empty quoted value");
    is_str(settings_get(s, NULL, "tabbed"), "x\ty", "tabs around `=' and the value");
    is_str(settings_get(s, NULL, "size"), "10G", "a repeated key: the last wins");
    is_str(settings_get(s, NULL, "crlf"), "yes", "CR before LF dropped");
    is_str(settings_get(s, NULL, "no-newline"), "last", "last line without a newline");
    ok(settings_get(s, NULL, "absent") == NULL, "absent key is NULL");
    ok(settings_get(s, "nosuch", "size") == NULL, "absent section is NULL");

    top = settings_section(s, NULL);
    for (size_t i = 0; i < top->nentries; i++)
        sizes += !strcmp(top->entries[i].key, "size");
    is_int(sizes, 2, "both positions of the repeated key are kept");
    e = settings_find(s, NULL, "size");
    ok(e && e->line == 14 && e->col == 1 && e->value_col == 8,
       "the winning entry's position: 14:1, value at col 8");
    e = settings_find(s, NULL, "mirror");
    ok(e && e->line == 6 && e->col == 3 && e->value_col == 16, "indented key's position");
    e = settings_find(s, NULL, "quoted");
    ok(e && e->value_col == 10, "a quoted value's column is its quote");
    settings_free(s);
    diag_dispose(&d);
}

static void test_sections(void)
{
    static const char text[] =
        "memory = 512M\n"
        "[web1]\n"
        "memory = 1G\n"
        "[ db.example-2_x ]   # a comment\n"
        "memory = 2G\n"
        "size = 8G\n";
    struct diag d;
    int rc;
    struct settings *s = parse(text, &d, &rc);

    is_int(rc, 0, "a fleet file parses");
    if (!s) {
        dump(&d);
        diag_dispose(&d);
        return;
    }
    is_int(s->nsections, 3, "top and two sections");
    is_str(settings_get(s, NULL, "memory"), "512M", "top section's value");
    is_str(settings_get(s, "web1", "memory"), "1G", "[web1]'s value");
    is_str(settings_get(s, "db.example-2_x", "memory"), "2G",
           "[ NAME ] with spaces and a comment");
    ok(settings_get(s, "web1", "size") == NULL, "sections do not inherit");
    ok(settings_section(s, "web1") && settings_section(s, "web1")->line == 2,
       "the section's line");
    settings_free(s);
    diag_dispose(&d);
}

static void test_errors(void)
{
    bad("just words\n", 1, 6, "expected `key = value'");
    bad("= value\n", 1, 1, "expected `key = value'");
    bad("key value\n", 1, 5, "expected `key = value'");
    bad("Memory = 1G\n", 1, 1, "bad key `Memory'");
    bad("mem_size = 1G\n", 1, 1, "bad key `mem_size'");
    bad("1st = x\n", 1, 1, "bad key `1st'");
    bad("-x = 1\n", 1, 1, "bad key `-x'");
    bad("a = 1\n[web1\n", 2, 1, "expected `[NAME]'");
    bad("[]\n", 1, 2, "bad section name");
    bad("[we b]\n", 1, 2, "bad section name `we b'");
    bad("[.hidden]\n", 1, 2, "bad section name");
    bad("[web1] x\n", 1, 8, "unexpected text after `]'");
    bad("[a]\n[b]\n[a]\n", 3, 2, "section `a' repeated (first at line 1)");
    bad("x = \"open\n", 1, 5, "unterminated string");
    bad("x = \"a\\nb\"\n", 1, 7, "unknown escape `\\n'");
    bad("x = \"a\" b\n", 1, 9, "unexpected text after the closing quote");
    bad("x = a\x01b\n", 1, 6, "control character");
    bad("x = 1\ny = \"a\x1b\"\n", 2, 7, "control character");
    {
        static const char nul[] = "a = 1\nb = x\0y\n";
        struct diag d;
        struct settings *s = NULL;
        int rc;

        diag_init(&d);
        rc = settings_parse("t.conf", nul, sizeof(nul) - 1, &s, &d);
        is_int(rc, -EINVAL, "a NUL byte is an error");
        ok(has_error(&d, 2, 6, "NUL byte"), "at its position");
        settings_free(s);
        diag_dispose(&d);
    }
    {
        /* every bad line is reported, in one pass */
        static const char text[] =
            "good = 1\n"
            "Bad = 1\n"
            "good2 = 2\n"
            "nothing here\n"
            "[bad name]\n"
            "x = \"open\n";
        struct diag d;
        int rc;
        struct settings *s = parse(text, &d, &rc);

        is_int(rc, -EINVAL, "a file with four bad lines is rejected");
        ok(s == NULL, "with no partial result");
        is_int(d.nerrors, 4, "every bad line reported");
        ok(has_error(&d, 2, 1, "bad key") && has_error(&d, 4, 9, "expected `key = value'") &&
           has_error(&d, 5, 2, "bad section name") && has_error(&d, 6, 5, "unterminated"),
           "each at its line and column");
        settings_free(s);
        diag_dispose(&d);
    }
}

static void test_files(void)
{
    char dir[] = "/tmp/test-settings.XXXXXX", path[256], big[300];
    struct settings *s = NULL;
    struct diag d;
    FILE *f;
    int rc;

    if (!ok(mkdtemp(dir) != NULL, "temporary directory"))
        return;
    snprintf(path, sizeof(path), "%s/absent.conf", dir);
    diag_init(&d);
    rc = settings_read_file(path, SETTINGS_MISSING_OK, &s, &d);
    is_int(rc, -ENOENT, "absent file with SETTINGS_MISSING_OK: -ENOENT");
    is_int(d.n, 0, "and nothing recorded");
    rc = settings_read_file(path, 0, &s, &d);
    is_int(rc, -ENOENT, "absent file without: -ENOENT");
    ok(d.nerrors == 1 && d.v[0].file && !strcmp(d.v[0].file, path),
       "and an error naming the file");
    diag_dispose(&d);

    snprintf(path, sizeof(path), "%s/good.conf", dir);
    f = fopen(path, "w");
    fputs("size = 8G\n", f);
    fclose(f);
    diag_init(&d);
    rc = settings_read_file(path, 0, &s, &d);
    is_int(rc, 0, "a file reads");
    ok(s && !strcmp(s->source, path) && !strcmp(settings_get(s, NULL, "size"), "8G"),
       "named after its path, with its value");
    settings_free(s);
    s = NULL;
    diag_dispose(&d);

    snprintf(path, sizeof(path), "%s/bad.conf", dir);
    f = fopen(path, "w");
    fputs("\n\n  Size = 8G\n", f);
    fclose(f);
    diag_init(&d);
    rc = settings_read_file(path, 0, &s, &d);
    is_int(rc, -EINVAL, "a bad file is rejected");
    ok(d.nerrors == 1 && d.v[0].file && !strcmp(d.v[0].file, path) && d.v[0].line == 3 &&
       d.v[0].col == 3, "as FILE:3:3");
    diag_dispose(&d);

    diag_init(&d);
    rc = settings_read_file(dir, 0, &s, &d);
    ok(rc != 0 && d.nerrors == 1, "a directory is not a settings file");
    diag_dispose(&d);

    snprintf(big, sizeof(big), "%s/big.conf", dir);
    f = fopen(big, "w");
    for (int i = 0; i < SETTINGS_MAX_SIZE / 16 + 1; i++)
        fputs("# 16 bytes.....\n", f);
    fclose(f);
    diag_init(&d);
    rc = settings_read_file(big, 0, &s, &d);
    is_int(rc, -EFBIG, "a file over 1 MiB is refused");
    ok(d.nerrors == 1 && strstr(d.v[0].msg, "larger than"), "saying so");
    diag_dispose(&d);

    unlink(big);
    snprintf(path, sizeof(path), "%s/good.conf", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/bad.conf", dir);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    test_good();
    test_sections();
    test_errors();
    test_files();
    return tap_done();
}
