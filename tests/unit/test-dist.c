/*
 * test-dist.c - distribution definitions (provision/dist.c): both
 * families' keys, what each refuses (with FILE:LINE:COL), the
 * administrator's CONFDIR/dist before the shipped templates/dist, the
 * list of names from both, and yum's variables in repository paths.
 * The shipped definitions themselves are loaded too: every one must
 * pass.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dist.h"
#include "tap.h"

static char base[] = "/tmp/test-dist.XXXXXX";

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

#define RH_OK \
    "family = redhat\n" \
    "release = 9\n" \
    "mirror = http://mirror.test/rocky\n" \
    "repositories = BaseOS=$releasever/BaseOS/$basearch/os AppStream=${releasever}/AppStream/${basearch}/os/\n" \
    "mirrorlist = BaseOS=https://mirrors.test/mirrorlist?arch=$basearch&repo=BaseOS-$releasever\n" \
    "architectures = x86_64 aarch64\n" \
    "packages = filesystem bash /usr/bin/sh perl(Getopt::Long) libc.so.6()(64bit)\n" \
    "kernel-package = kernel-core\n" \
    "console = hvc0\n" \
    "network-style = nm-keyfile\n" \
    "password-hash = sha512\n" \
    "gpgkey = file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9\n" \
    "release-repos = disable\n"

/* Loads NAME from the test's trees; the diag's text in *m. */
static int load(const char *name, struct dist *dist, const char **m)
{
    char conf[PATH_MAX], data[PATH_MAX];
    struct diag d;
    int r;

    snprintf(conf, sizeof conf, "%s/etc", base);
    snprintf(data, sizeof data, "%s/share", base);
    diag_init(&d);
    r = dist_load(conf, data, name, dist, &d);
    *m = msgs(&d);
    diag_dispose(&d);
    return r;
}

static void refused(const char *what, const char *text, const char *want)
{
    struct dist dist;
    const char *m;

    put("etc/dist/bad.conf", text);
    is_int(load("bad", &dist, &m), -EINVAL, "%s: refused", what);
    if (!ok(strstr(m, want) != NULL, "%s: says `%s'", what, want))
        printf("#   got: %s", m);
}

int main(void)
{
    struct dist dist;
    const char *m;
    char **names = NULL;

    if (!mkdtemp(base))
        return 1;

    /* the Red Hat family */
    put("share/templates/dist/rocky.conf", RH_OK);
    is_int(load("rocky", &dist, &m), 0, "a redhat definition loads");
    if (m[0])
        printf("#   %s", m);
    is_str(dist.family, "redhat", "family");
    is_str(dist.release, "9", "release");
    ok(dist.suite == NULL && dist.components.n == 0, "no suite, no components");
    is_int((int)dist.nrepos, 2, "two repositories");
    is_str(dist.repos[0].name, "BaseOS", "the first, by name");
    is_str(dist.repos[0].path, "$releasever/BaseOS/$basearch/os", "its path, unexpanded");
    ok(dist.repos[0].mirrorlist && strstr(dist.repos[0].mirrorlist, "repo=BaseOS-$releasever"),
       "its mirror list");
    ok(dist.repos[1].mirrorlist == NULL, "the second has none");
    is_str(dist.password_hash, "sha512", "password-hash");
    is_str(dist.release_repos, "disable", "release-repos");
    ok(dist.gpgkey && !strncmp(dist.gpgkey, "file:///etc/pki", 15), "gpgkey");
    ok(dist_words_has(&dist.packages, "perl(Getopt::Long)") &&
       dist_words_has(&dist.packages, "/usr/bin/sh"), "capabilities as packages");
    dist_dispose(&dist);

    /* yum's variables */
    {
        const char *why = NULL;
        char *x = dist_expand("$releasever/a/${basearch}/$basearch-${releasever}", "8", "x86_64",
                              &why);

        is_str(x, "8/a/x86_64/x86_64-8", "dist_expand: both forms of both variables");
        free(x);
        x = dist_expand("$contentdir/8", "8", "x86_64", &why);
        ok(!x && errno == EINVAL && why && strstr(why, "$releasever"),
           "dist_expand: another variable refused");
    }

    /* CONFDIR/dist before the shipped one */
    put("etc/dist/rocky.conf", "# the administrator's own\n" RH_OK "release = 8\n");
    is_int(load("rocky", &dist, &m), 0, "the administrator's definition loads");
    is_str(dist.release, "8", "and wins over the shipped one");
    ok(strstr(dist.file, "/etc/dist/rocky.conf") != NULL, "its file is named");
    dist_dispose(&dist);
    put("share/templates/dist/bookworm.conf",
        "family = debian\nsuite = bookworm\ncomponents = main\narchitectures = amd64\n"
        "kernel-package = linux-image-amd64\npackages = systemd-sysv\nconsole = hvc0\n"
        "network-style = ifupdown\n");
    is_int(load("bookworm", &dist, &m), 0, "a debian definition loads");
    is_str(dist.password_hash, "yescrypt", "password-hash defaults to yescrypt");
    is_int((int)dist.nrepos, 0, "no repositories");
    dist_dispose(&dist);
    {
        char conf[PATH_MAX], data[PATH_MAX];

        snprintf(conf, sizeof conf, "%s/etc", base);
        snprintf(data, sizeof data, "%s/share", base);
        is_int(dist_names(conf, data, &names), 0, "dist_names over both directories");
        ok(names && names[0] && !strcmp(names[0], "bookworm") && names[1] &&
           !strcmp(names[1], "rocky") && !names[2],
           "sorted, each once");
        dist_names_free(names);
    }
    is_int(load("nosuch", &dist, &m), -ENOENT, "an unknown name: -ENOENT");

    /* what is refused */
    refused("a Debian key in a redhat definition", RH_OK "suite = bookworm\n",
            "bad.conf:14:1: `suite' is not a key of the redhat family");
    refused("a redhat key in a Debian definition",
            "family = debian\nsuite = bookworm\ncomponents = main\narchitectures = amd64\n"
            "kernel-package = linux-image-amd64\npackages = x\nconsole = hvc0\n"
            "network-style = ifupdown\nrelease = 12\n",
            "`release' is not a key of the debian family");
    refused("no repositories", "family = redhat\nrelease = 9\narchitectures = x86_64\n"
            "packages = bash\nkernel-package = kernel\nconsole = hvc0\n"
            "network-style = ifcfg\n", "`repositories' is required");
    refused("an unknown family", "family = suse\n", "expected debian, ubuntu or redhat");
    refused("a repository path climbing out", RH_OK "repositories = os=../../etc\n",
            "a `..' component");
    refused("an absolute repository URL", RH_OK "repositories = os=http://x/os\n",
            "relative to the mirror");
    refused("an unknown variable", RH_OK "repositories = os=$contentdir/os\n",
            "not $releasever or $basearch");
    refused("a repository twice", RH_OK "repositories = os=a os=b\n", "`os' twice");
    refused("a word without =", RH_OK "repositories = os\n", "expected NAME=PATH");
    refused("a mirror list for no repository", RH_OK "mirrorlist = nope=http://m/\n",
            "`nope' is not among the repositories");
    refused("a file: mirror list", RH_OK "mirrorlist = BaseOS=file:///etc/passwd\n",
            "over http or https");
    refused("a Debian network style", RH_OK "network-style = ifupdown\n",
            "expected ifcfg, nm-keyfile or networkd");
    refused("an unknown hash", RH_OK "password-hash = md5\n", "expected yescrypt or sha512");
    refused("release-repos", RH_OK "release-repos = maybe\n", "expected keep or disable");
    refused("a package with a quote", RH_OK "packages = bash it's\n", "not a package name");
    refused("a package like an option", RH_OK "packages = --nodeps\n", "not a package name");

    /* the shipped definitions */
    {
        char **shipped = NULL;

        if (dist_names(NULL, ".", &shipped) == 0) {
            for (size_t i = 0; shipped[i]; i++) {
                struct diag d;
                int r;

                diag_init(&d);
                r = dist_load(NULL, ".", shipped[i], &dist, &d);
                if (!ok(r == 0, "templates/dist/%s.conf loads", shipped[i]))
                    printf("#   %s", msgs(&d));
                diag_dispose(&d);
                if (!r)
                    dist_dispose(&dist);
            }
            dist_names_free(shipped);
        } else {
            ok(0, "the shipped definitions can be listed (run from the top directory)");
        }
    }
    {
        char cmd[PATH_MAX + 16];

        snprintf(cmd, sizeof cmd, "rm -rf %s", base);
        if (system(cmd) != 0)
            printf("# cannot remove %s\n", base);
    }
    return tap_done();
}
