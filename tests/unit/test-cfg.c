/*
 * test-cfg - the config language's syntax layer and typed getters.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "tap.h"

static struct cfg *parse(const char *text, struct diag *d)
{
    struct cfg *cfg = NULL;

    diag_init(d);
    cfg_parse("t.cfg", text, strlen(text), &cfg, d);
    return cfg;
}

/* Parses text; returns the first diagnostic as "LINE:COL: level: msg". */
static char first_msg[512];
static int rejects(const char *text)
{
    struct diag d;
    struct cfg *cfg = parse(text, &d);
    int rejected = cfg == NULL;

    first_msg[0] = 0;
    for (size_t i = 0; i < d.n; i++) {
        if (d.v[i].level == DIAG_ERROR) {
            snprintf(first_msg, sizeof(first_msg), "%d:%d: %s", d.v[i].line,
                     d.v[i].col, d.v[i].msg);
            break;
        }
    }
    cfg_free(cfg);
    diag_dispose(&d);
    return rejected;
}

static const char *str_of(const struct cfg *cfg, const char *key)
{
    const struct cfg_setting *s = cfg_find(cfg, key);

    return s && s->value->type != CFG_LIST ? s->value->str : NULL;
}

static void test_values(void)
{
    struct diag d;
    struct cfg *cfg = parse(
        "# a comment\n"
        "name = \"web1\"   # trailing comment\n"
        "memory = 0x200; vcpus = 010\n"
        "quoted = 'it\\'s \"fine\"'\n"
        "esc = \"a\\tb\\nc\\\\d\\\"e\"\n"
        "dotted.key_1 = 1e5\n"
        "list = [ \"a\",\n  [ 1, [] ],\n]\n"
        "empty = []\n"
        "last = 7", &d);
    const struct cfg_setting *s;

    ok(cfg != NULL, "a config using every value form parses");
    if (!cfg)
        return;
    is_int(cfg->nsettings, 9, "nine settings");
    is_str(str_of(cfg, "name"), "web1", "double-quoted string");
    is_str(str_of(cfg, "memory"), "0x200", "a hex number is kept as written");
    is_str(str_of(cfg, "vcpus"), "010", "an octal number is kept as written");
    is_str(str_of(cfg, "quoted"), "it's \"fine\"", "single-quoted with \\' and double quotes");
    is_str(str_of(cfg, "esc"), "a\tb\nc\\d\"e", "escapes \\t \\n \\\\ \\\"");
    is_str(str_of(cfg, "dotted.key_1"), "1e5", "keys may hold . and _; 1e5 is a number token");
    s = cfg_find(cfg, "list");
    ok(s && s->value->type == CFG_LIST && s->value->nitems == 2, "list with trailing comma");
    ok(s && s->value->items[1]->type == CFG_LIST && s->value->items[1]->nitems == 2 &&
       s->value->items[1]->items[1]->nitems == 0, "nested lists, including an empty one");
    s = cfg_find(cfg, "empty");
    ok(s && s->value->type == CFG_LIST && s->value->nitems == 0, "empty list");
    is_str(str_of(cfg, "last"), "7", "the last statement needs no newline");
    is_str(cfg->settings[0].key, "name", "settings are in order of appearance");
    s = cfg_find(cfg, "vcpus");
    ok(s && s->line == 3 && s->col == 17, "a setting records its key's line and column");

    long l = 0;
    ok(cfg_get_long(cfg, "memory", 0, LONG_MAX, &l, &d) == 0 && l == 512, "0x200 reads as 512");
    ok(cfg_get_long(cfg, "vcpus", 0, LONG_MAX, &l, &d) == 0 && l == 8, "010 reads as 8 (strtol base 0, as xl)");
    ok(cfg_get_long(cfg, "name", 0, LONG_MAX, &l, &d) == -EINVAL, "a non-number string is refused as a number");
    ok(cfg_get_long(cfg, "memory", 0, 100, &l, &d) == -EINVAL, "bounds are checked");
    ok(cfg_get_long(cfg, "nosuch", 0, 100, &l, &d) == -ENOENT, "absent key: -ENOENT");
    const char *sv;
    ok(cfg_get_string(cfg, "list", &sv, &d) == -EINVAL, "a list is not a single value");
    const struct cfg_value *lv;
    ok(cfg_get_list(cfg, "name", &lv, &d) == -EINVAL, "a string is not a list");
    ok(d.nerrors == 4, "each refused getter (not the absent key) recorded one error (%zu)", d.nerrors);
    cfg_free(cfg);
    diag_dispose(&d);
}

static void test_assignment(void)
{
    struct diag d;
    struct cfg *cfg = parse(
        "memory = 256\nname = \"a\"\nmemory = 512\n"
        "extra = \"console=hvc0\"\nextra += \" quiet\"\n"
        "disk = [ \"a\" ]\ndisk += [ \"b\", \"c\" ]\n"
        "fresh += [ 1 ]\n"
        "num = 5\nnum += 1\n", &d);
    const struct cfg_setting *s;
    long l;

    ok(cfg != NULL, "assignments and += parse");
    if (!cfg)
        return;
    is_str(str_of(cfg, "memory"), "512", "the last assignment wins");
    is_str(cfg->settings[0].key, "memory", "...but the key keeps its first position");
    is_str(str_of(cfg, "extra"), "console=hvc0 quiet", "+= concatenates strings");
    s = cfg_find(cfg, "disk");
    ok(s && s->value->nitems == 3 && !strcmp(s->value->items[2]->str, "c"), "+= appends lists");
    s = cfg_find(cfg, "fresh");
    ok(s && s->value->nitems == 1 && s->appended, "+= with no earlier value just assigns");
    is_str(str_of(cfg, "num"), "51", "+= on numbers concatenates the text, as in xl");
    ok(cfg_get_long(cfg, "num", 0, LONG_MAX, &l, &d) == -EINVAL, "...and the result is not usable as a number");
    cfg_free(cfg);
    diag_dispose(&d);
}

static void test_errors(void)
{
    ok(rejects("memory = 512M\n"), "512M is rejected");
    is_str(first_msg, "1:13: unexpected `M' after the number 512 (numbers take no units in xl.cfg; quote the value)",
           "...with line, column and a hint");
    ok(rejects("name = \"web1\nmemory = 1\n"), "an unterminated string is rejected");
    is_str(first_msg, "1:8: unterminated quoted string (a string ends on the line it starts)", "...at its start");
    ok(rejects("a = 1\nb 2\nc = 3\n"), "a missing = is rejected");
    is_str(first_msg, "2:3: expected `=' or `+=' after the key, found `2'", "...naming what was expected");
    ok(rejects("x = -1\n"), "negative numbers are rejected (xl's lexer has none)");
    ok(rejects("Name = 1\n"), "upper-case keys are rejected");
    ok(rejects("x = [1 2]\n"), "list items need commas");
    ok(rejects("x = [,]\n"), "[,] is rejected");
    ok(rejects("x = \"a\" \"b\"\n"), "two values are rejected");
    ok(rejects("x =\n1\n"), "a value must be on the key's line");
    ok(rejects("x = [1]\nx += \"s\"\n"), "+= of a string onto a list is rejected");
    is_str(first_msg, "2:6: `+=' cannot append a string or number to a list", "...at the value");
    ok(rejects("x = \"\\x41\"\n"), "\\x escapes are rejected (as xl does)");
    ok(rejects("x = \"\\q\"\n"), "unknown escapes are rejected");
    ok(rejects("x = \"a\\12\"\n"), "a short numeric escape is rejected (as xl does)");
    ok(rejects("import os\n"), "Python is rejected");
    ok(rejects("x = 1\x01\n"), "control bytes are rejected");
    ok(rejects("a = 1\nb = \nc = [\nd = 4\n"), "several errors are all reported");
    {
        struct diag d;
        struct cfg *cfg = NULL;
        const char text[] = "x = \"a\0b\"\n";

        diag_init(&d);
        ok(cfg_parse("t", text, sizeof(text) - 1, &cfg, &d) == -EINVAL, "a NUL byte in a string is an error");
        diag_dispose(&d);
    }
    {
        struct diag d;
        struct cfg *cfg = parse("a = 1\nb = \nc = [\nd = 4\ne = ]\n", &d);

        ok(!cfg && d.nerrors == 3, "one error per bad line (%zu)", d.nerrors);
        diag_dispose(&d);
    }
    {
        char deep[300];

        memset(deep, '[', 100);
        strcpy(deep + 100, "\n");
        ok(rejects("x = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n"),
           "lists nested too deep are refused, not a stack overflow");
    }
}

static void test_lenient(void)
{
    struct diag d;
    struct cfg *cfg = parse("name = \"a\"\r\nmemory = 1\r\n", &d);

    ok(cfg && d.n == 1 && d.v[0].level == DIAG_WARNING, "CRLF is accepted with one warning");
    is_str(cfg ? str_of(cfg, "name") : NULL, "a", "...and the CR is not part of the value");
    cfg_free(cfg);
    diag_dispose(&d);
    cfg = parse("name = \"a\"\n# the end", &d);
    ok(cfg && d.n == 1 && d.v[0].level == DIAG_WARNING, "a last comment without newline is accepted with a warning");
    cfg_free(cfg);
    diag_dispose(&d);
    cfg = parse("x = \"a\\101b\"\n", &d);
    is_str(cfg ? str_of(cfg, "x") : NULL, "ab", "a numeric escape yields nothing, as in xl");
    ok(d.n == 1 && d.v[0].level == DIAG_WARNING, "...and says so");
    cfg_free(cfg);
    diag_dispose(&d);
    cfg = parse("", &d);
    ok(cfg && cfg->nsettings == 0 && d.n == 0, "an empty file is an empty config");
    cfg_free(cfg);
    diag_dispose(&d);
}

static void test_format(void)
{
    struct diag d;
    struct cfg *cfg = parse("v = [ \"a\\\"b\", 0x10, [ 'c\\td' ], [] ]\n", &d);
    char *buf = NULL, *q;
    size_t len = 0;

    ok(cfg && cfg_format_value(cfg->settings[0].value, &buf, &len) == 0, "a value formats");
    is_str(buf, "[\"a\\\"b\", 0x10, [\"c\\td\"], []]", "...as config syntax, numbers as written");
    free(buf);
    cfg_free(cfg);
    diag_dispose(&d);
    q = cfg_quote("x\\y\n");
    is_str(q, "\"x\\\\y\\n\"", "cfg_quote escapes backslash and newline");
    free(q);
    errno = 0;
    q = cfg_quote("bell\x01");
    ok(!q && errno == EINVAL, "a control character xl.cfg cannot express is refused");
}

int main(void)
{
    test_values();
    test_assignment();
    test_errors();
    test_lenient();
    test_format();
    return tap_done();
}
