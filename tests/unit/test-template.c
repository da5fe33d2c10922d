/*
 * test-template.c - guest templates (provision/template.c): the one-line
 * description from a template's leading comments, CONFDIR/templates
 * before the shipped templates/guest, the list of both (sorted, a site
 * template shadowing a shipped one); and, with options.c, what a
 * template may not say (FILE:LINE:COL).  The shipped templates are
 * applied too: every one must pass.  Run from the top directory.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "options.h"
#include "settings.h"
#include "tap.h"
#include "template.h"

static char base[] = "/tmp/test-template.XXXXXX";

static void put(const char *rel, const char *text)
{
    char path[PATH_MAX];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", base, rel);
    for (char *p = path + strlen(base) + 1; (p = strchr(p, '/')); p++) {
        *p = 0;
        mkdir(path, 0755);
        *p = '/';
    }
    if (!(f = fopen(path, "w")))
        abort();
    fputs(text, f);
    fclose(f);
}

static char *msgs(const struct diag *d)
{
    static char buf[4096];
    size_t o = 0;

    buf[0] = 0;
    for (size_t i = 0; i < d->n && o < sizeof buf - 1; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s:%d:%d: %s\n",
                              d->v[i].file ? d->v[i].file : "", d->v[i].line, d->v[i].col,
                              d->v[i].msg);
    return buf;
}

/* The description of text, compared with want. */
static void desc(const char *text, const char *want, const char *what)
{
    char *got = template_description(text, strlen(text));

    is_str(got, want, "description: %s", what);
    free(got);
}

/* ok(cond, what), and the messages m when not */
static void expect(int cond, const char *m, const char *what)
{
    if (!ok(cond, "%s", what))
        printf("#   %s", m);
}

/* Applies text as template NAME.conf; the messages, "" when none. */
static const char *apply(const char *text, int *r_r)
{
    struct settings *s = NULL;
    struct opt_set o;
    struct diag d;
    static char out[4096];

    options_init(&o);
    diag_init(&d);
    *r_r = settings_parse("t.conf", text, strlen(text), &s, &d);
    if (!*r_r)
        *r_r = options_apply_settings(&o, s, LAYER_TEMPLATE, &d);
    snprintf(out, sizeof out, "%s", msgs(&d));
    settings_free(s);
    options_dispose(&o);
    diag_dispose(&d);
    return out;
}

int main(void)
{
    char conf[PATH_MAX], data[PATH_MAX], *path = NULL;
    struct template_info *v = NULL;
    size_t n = 0;
    bool site = false;
    const char *m;
    int r;

    if (!mkdtemp(base))
        return 1;
    snprintf(conf, sizeof conf, "%s/etc", base);
    snprintf(data, sizeof data, "%s/share", base);

    /* descriptions */
    desc("# web - a web server\n# description: nginx on Debian\nsize = 2G\n",
         "nginx on Debian", "a description: line wins over the first comment");
    desc("#\n#   A small guest  \n# more\nsize = 2G\n", "A small guest",
         "else the first comment that says something, trimmed");
    desc("\n\n  # indented\n", "indented", "blank lines and indentation do not end the lead");
    desc("size = 2G\n# description: too late\n", "", "the lead ends at the first setting");
    desc("", "", "an empty file");
    desc("# description:\n# first words\n", "", "an empty description: line is the description");
    desc("# a\tb\x01" "c\r\n", "a b c", "a CR before the newline dropped, a control"
         " character (a tab too) a space");
    {
        char text[512], want[TEMPLATE_DESCRIPTION_MAX + 1];

        memset(want, 'x', TEMPLATE_DESCRIPTION_MAX);
        want[TEMPLATE_DESCRIPTION_MAX] = 0;
        snprintf(text, sizeof text, "# %s%s\n", want, "yyyyyyyyyy");
        desc(text, want, "at most TEMPLATE_DESCRIPTION_MAX bytes");
    }
    desc("# no newline at the end", "no newline at the end", "the last line without a newline");

    /* finding one */
    put("share/templates/guest/web.conf", "# web - shipped\nsize = 2G\n");
    put("share/templates/guest/db.conf", "# description: shipped db\n");
    put("etc/templates/web.conf", "# description: the site's web\n");
    put("etc/templates/local.conf", "# the site's own\n");
    put("etc/templates/README", "not a template\n");
    put("etc/templates/Bad_Name.conf", "# not a template name\n");
    {
        char p[PATH_MAX + 32];

        snprintf(p, sizeof p, "%s/templates/dir.conf", conf);
        mkdir(p, 0755);
        snprintf(p, sizeof p, "%s/templates/db.conf", conf);
        if (symlink("/nonexistent/db.conf", p) < 0)
            abort();
    }

    r = template_find(conf, data, "web", &path, &site);
    ok(r == 0 && site && strstr(path, "/etc/templates/web.conf"),
       "CONFDIR/templates/NAME.conf first (%s)", path ? path : "-");
    free(path);
    path = NULL;
    r = template_find(conf, data, "db", &path, &site);
    ok(r == 0 && !site && strstr(path, "/share/templates/guest/db.conf"),
       "else (a dangling link in CONFDIR too) the shipped templates/guest/NAME.conf (%s)",
       path ? path : "-");
    free(path);
    path = NULL;
    r = template_find(NULL, data, "web", &path, &site);
    ok(r == 0 && !site && strstr(path, "/share/templates/guest/web.conf"),
       "no CONFDIR: the shipped one");
    free(path);
    path = NULL;
    is_int(template_find(conf, data, "nope", &path, NULL), -ENOENT, "an unknown one: -ENOENT");
    ok(path == NULL, "and no path");

    /* the list */
    r = template_list(conf, data, &v, &n);
    is_int(r, 0, "the templates are listed");
    is_int(n, 4, "four: db, dir is a directory, local, web; README and Bad_Name left out");
    if (n == 4) {
        is_str(v[0].name, "db", "sorted: db");
        ok(!v[0].site && !v[0].shadows, "db: shipped (the site's dangling link left out)");
        is_str(v[0].description, "shipped db", "db's description");
        is_str(v[1].name, "dir", "dir.conf, a directory, is listed...");
        is_str(v[1].description, "(cannot be read: not a regular file)",
               "...as one that cannot be read");
        is_str(v[2].name, "local", "local");
        ok(v[2].site && !v[2].shadows, "local: the site's, shadowing none");
        is_str(v[2].description, "the site's own", "local's description");
        is_str(v[3].name, "web", "web");
        ok(v[3].site && v[3].shadows && strstr(v[3].path, "/etc/templates/web.conf"),
           "web: the site's, shadowing the shipped one");
        is_str(v[3].description, "the site's web", "web's description is the site's");
    }
    template_list_free(v, n);
    r = template_list(NULL, data, &v, &n);
    ok(r == 0 && n == 2, "no CONFDIR: the shipped ones alone");
    template_list_free(v, n);
    r = template_list("/nonexistent/etc", data, &v, &n);
    ok(r == 0 && n == 2, "a CONFDIR without templates/: the shipped ones");
    template_list_free(v, n);
    r = template_list("/nonexistent/etc", "/nonexistent/share", &v, &n);
    ok(r == -ENOENT && !v && !n, "neither directory: -ENOENT");

    /* what a template may say */
    m = apply("size = 2G\nmemory = 256M\nrole = minimal\npackages = nginx-light, curl\n"
              "noswap = yes\ndhcp = yes\n", &r);
    expect(r == 0 && !*m, m, "a template of settings applies");
    m = apply("size = 2G\nhostname = web1\n", &r);
    expect(r == -EINVAL && strstr(m, "t.conf:2:1: `hostname' is not for a template"), m,
           "hostname: refused at FILE:LINE:COL");
    m = apply("  ip = 192.0.2.1/24\n", &r);
    expect(r == -EINVAL && strstr(m, "t.conf:1:3: `ip' is not for a template"), m,
           "ip: refused");
    m = apply("mac = 00:16:3e:00:00:01\n", &r);
    expect(r == -EINVAL && strstr(m, "t.conf:1:1: `mac' is not for a template"), m,
           "mac: refused");
    m = apply("template = other\n", &r);
    expect(r == -EINVAL && strstr(m, "t.conf:1:1: `template' in a template"), m,
           "template: refused");
    m = apply("packages = -f\n", &r);
    expect(r == -EINVAL && strstr(m, "t.conf:1:12: packages: `-f' is not a package name"), m,
           "a package like an option: refused");
    m = apply("packages = ,\n", &r);
    expect(r == -EINVAL && strstr(m, "no package name"), m, "packages without one: refused");

    /* the shipped templates */
    r = template_list(NULL, ".", &v, &n);
    ok(r == 0 && n >= 3, "the shipped templates are listed (%zu)", n);
    for (size_t i = 0; !r && i < n; i++) {
        struct settings *s = NULL;
        struct opt_set o;
        struct diag d;
        int k;

        options_init(&o);
        diag_init(&d);
        k = settings_read_file(v[i].path, 0, &s, &d);
        if (!k)
            k = options_apply_settings(&o, s, LAYER_TEMPLATE, &d);
        if (!ok(k == 0 && d.n == 0 && *v[i].description && v[i].description[0] != '(',
                "templates/guest/%s.conf applies, described: %s", v[i].name, v[i].description))
            printf("#   %s", msgs(&d));
        settings_free(s);
        options_dispose(&o);
        diag_dispose(&d);
    }
    template_list_free(v, n);
    {
        char cmd[PATH_MAX + 16];

        snprintf(cmd, sizeof cmd, "rm -rf %s", base);
        if (system(cmd) != 0)
            printf("# cannot remove %s\n", base);
    }
    return tap_done();
}
