/*
 * test-aptsrc.c - the default mirror from apt sources and the release from
 * os-release (provision/aptsrc.c), against fixture trees in a temporary
 * directory.  The mirror host names are reserved example names.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aptsrc.h"
#include "tap.h"

static char base[] = "/tmp/test-aptsrc.XXXXXX";
static int ntree;

/* A new empty root under base; returns its path (static storage per call
 * slot: callers copy it). */
static void new_root(char *root, size_t len)
{
    snprintf(root, len, "%s/root%d", base, ++ntree);
    mkdir(root, 0755);
}

/* Writes content to root/rel, making the directories on the way. */
static void put(const char *root, const char *rel, const char *content)
{
    char path[PATH_MAX];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    f = fopen(path, "w");
    if (!f) {
        printf("# cannot write %s\n", path);
        return;
    }
    fputs(content, f);
    fclose(f);
}

/* Expects the mirror uri (NULL: none, -ENOENT) from file:line. */
static void mirror_is(const char *root, const char *prefer, const char *uri,
                      const char *suite, const char *file, int line, const char *what)
{
    struct aptsrc_mirror m;
    struct diag d;
    char want_file[PATH_MAX];
    int rc;

    diag_init(&d);
    rc = aptsrc_find_mirror(root, prefer, &m, &d);
    if (!uri) {
        is_int(rc, -ENOENT, "%s: no mirror", what);
        is_int(d.n, 0, "%s: nothing recorded", what);
        diag_dispose(&d);
        return;
    }
    is_int(rc, 0, "%s: a mirror is found", what);
    is_int(d.n, 0, "%s: without messages", what);
    if (rc == 0) {
        snprintf(want_file, sizeof(want_file), "%s/%s", root, file);
        is_str(m.uri, uri, "%s: uri", what);
        is_str(m.suite, suite, "%s: suite", what);
        is_str(m.file, want_file, "%s: from the file", what);
        is_int(m.line, line, "%s: at the line", what);
        aptsrc_mirror_dispose(&m);
    }
    diag_dispose(&d);
}

static void test_one_line(void)
{
    char root[PATH_MAX];

    new_root(root, sizeof(root));
    put(root, "etc/apt/sources.list",
        "# the host's sources\n"
        "\n"
        "deb-src http://src.example/debian bookworm main\n"
        "deb http://security.example/debian-security bookworm-security main\n"
        "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://one.example/debian/ bookworm main contrib # note\n"
        "deb http://two.example/debian bookworm main\n");
    mirror_is(root, "bookworm", "http://one.example/debian", "bookworm",
              "etc/apt/sources.list", 5,
              "one-line: deb-src, security, comments skipped; options in brackets; trailing / dropped");

    new_root(root, sizeof(root));
    put(root, "etc/apt/sources.list",
        "deb [ arch=amd64 trusted=yes ] http://spaced.example/debian bookworm main\n");
    mirror_is(root, NULL, "http://spaced.example/debian", "bookworm", "etc/apt/sources.list", 1,
              "one-line: options with spaces inside the brackets");

    new_root(root, sizeof(root));
    put(root, "etc/apt/sources.list",
        "deb http://contrib.example/debian bookworm contrib non-free\n"
        "deb cdrom:[Debian GNU/Linux 12]/ bookworm main\n"
        "deb http://flat.example/repo ./\n"
        "deb http://bad.example/debian\n"
        "deb\n"
        "#deb http://commented.example/debian bookworm main\n"
        "deb ftp://ftp.example/debian bookworm main\n");
    mirror_is(root, NULL, NULL, NULL, NULL, 0,
              "one-line: no main, cdrom, flat, truncated, commented, ftp: none usable");

    new_root(root, sizeof(root));
    put(root, "etc/apt/sources.list",
        "deb http://updates.example/debian bookworm-updates main\n"
        "deb http://backports.example/debian bookworm-backports main\n"
        "deb http://release.example/debian bookworm main\n");
    mirror_is(root, NULL, "http://release.example/debian", "bookworm", "etc/apt/sources.list", 3,
              "one-line: a release suite is preferred to -updates and -backports");

    new_root(root, sizeof(root));
    put(root, "etc/apt/sources.list",
        "deb http://updates.example/debian bookworm-updates main\n"
        "deb http://security.example/debian-security bookworm-security main\n");
    mirror_is(root, NULL, "http://updates.example/debian", "bookworm-updates",
              "etc/apt/sources.list", 1, "one-line: -updates when nothing better");

    new_root(root, sizeof(root));
    put(root, "etc/apt/sources.list",
        "deb http://security.example/debian-security bookworm-security main\n"
        "deb http://security.example/debian-security bullseye-security main contrib\n");
    mirror_is(root, "bookworm", NULL, NULL, NULL, 0, "one-line: security suites only: none");

    new_root(root, sizeof(root));
    put(root, "etc/apt/sources.list",
        "deb http://thirdparty.example/repo stable main\n"
        "deb https://release.example/debian bookworm main\n");
    mirror_is(root, "bookworm", "https://release.example/debian", "bookworm",
              "etc/apt/sources.list", 2, "one-line: the host's codename is preferred");
    mirror_is(root, NULL, "http://thirdparty.example/repo", "stable",
              "etc/apt/sources.list", 1, "one-line: without a codename, the first release");
}

static void test_deb822(void)
{
    char root[PATH_MAX];

    /* the shape Debian 12 installs */
    new_root(root, sizeof(root));
    put(root, "etc/apt/sources.list.d/debian.sources",
        "Types: deb\n"
        "# http://snapshot.example/archive/debian/20250520T000000Z\n"
        "URIs: http://deb.example/debian\n"
        "Suites: bookworm bookworm-updates\n"
        "Components: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
        "\n"
        "Types: deb\n"
        "URIs: http://deb.example/debian-security\n"
        "Suites: bookworm-security\n"
        "Components: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n");
    mirror_is(root, "bookworm", "http://deb.example/debian", "bookworm",
              "etc/apt/sources.list.d/debian.sources", 3, "deb822: Debian's default file");

    new_root(root, sizeof(root));
    put(root, "etc/apt/sources.list.d/a.sources",
        "Types: deb\n"
        "URIs: http://disabled.example/debian\n"
        "Suites: bookworm\n"
        "Components: main\n"
        "Enabled: no\n"
        "\n"
        "Types: deb-src\n"
        "URIs: http://src.example/debian\n"
        "Suites: bookworm\n"
        "Components: main\n"
        "\n"
        "\n"
        "types: deb deb-src\n"
        "uris: http://lower.example/debian\n"
        "suites: bookworm\n"
        "components: contrib\n"
        "\n"
        "Types: deb-src deb\n"
        "URIs: cdrom:/media/ http://first.example/debian\n"
        "  http://second.example/debian\n"
        "Suites: bookworm-updates\n"
        "  bookworm\n"
        "Components: contrib main\n"
        "Signed-By:\n"
        " -----BEGIN PGP PUBLIC KEY BLOCK-----\n"
        " .\n"
        " mQINBGPL0BUBEADmW5NdOOHwPIJlgPu6JDcKw/NZJPJiD5Ls\n"
        " -----END PGP PUBLIC KEY BLOCK-----\n");
    mirror_is(root, "bookworm", "http://first.example/debian", "bookworm",
              "etc/apt/sources.list.d/a.sources", 19,
              "deb822: disabled, deb-src, no main skipped; continuation lines; several"
              " URIs and Suites");

    new_root(root, sizeof(root));
    put(root, "etc/apt/sources.list.d/off.sources",
        "Enabled: false\n"
        "Types: deb\n"
        "URIs: http://off.example/debian\n"
        "Suites: bookworm\n"
        "Components: main\n");
    mirror_is(root, NULL, NULL, NULL, NULL, 0, "deb822: Enabled: false (first field) skipped");

    new_root(root, sizeof(root));
    put(root, "etc/apt/sources.list.d/sec.sources",
        "Types: deb\n"
        "URIs: http://security.example/debian-security\n"
        "Suites: bookworm-security\n"
        "Components: main\n");
    mirror_is(root, "bookworm", NULL, NULL, NULL, 0, "deb822: security only: none");
}

static void test_order(void)
{
    char root[PATH_MAX];

    new_root(root, sizeof(root));
    mirror_is(root, "bookworm", NULL, NULL, NULL, 0, "no apt files at all: none, no message");

    new_root(root, sizeof(root));
    put(root, "etc/apt/sources.list", "deb http://list.example/debian bookworm main\n");
    put(root, "etc/apt/sources.list.d/00.list", "deb http://d.example/debian bookworm main\n");
    mirror_is(root, "bookworm", "http://list.example/debian", "bookworm",
              "etc/apt/sources.list", 1, "sources.list comes before sources.list.d");

    new_root(root, sizeof(root));
    put(root, "etc/apt/sources.list.d/b.sources",
        "Types: deb\nURIs: http://b.example/debian\nSuites: bookworm\nComponents: main\n");
    put(root, "etc/apt/sources.list.d/a.list", "deb http://a.example/debian bookworm main\n");
    put(root, "etc/apt/sources.list.d/0.list.disabled",
        "deb http://disabled.example/debian bookworm main\n");
    put(root, "etc/apt/sources.list.d/0.sources.save",
        "Types: deb\nURIs: http://save.example/debian\nSuites: bookworm\nComponents: main\n");
    put(root, "etc/apt/sources.list.d/0dir.list/x", "");
    mirror_is(root, "bookworm", "http://a.example/debian", "bookworm",
              "etc/apt/sources.list.d/a.list", 1,
              "sources.list.d in name order; other names and directories ignored");

    new_root(root, sizeof(root));
    put(root, "etc/apt/sources.list", "deb http://upd.example/debian bookworm-updates main\n");
    put(root, "etc/apt/sources.list.d/z.sources",
        "Types: deb\nURIs: http://z.example/debian\nSuites: bookworm\nComponents: main\n");
    mirror_is(root, "bookworm", "http://z.example/debian", "bookworm",
              "etc/apt/sources.list.d/z.sources", 2,
              "a better suite in a later file wins over -updates in an earlier one");
}

static void release_is(const char *root, int want_rc, const char *id, const char *like,
                       const char *codename, const char *family, const char *what)
{
    struct aptsrc_release rel;
    struct diag d;
    int rc;

    diag_init(&d);
    rc = aptsrc_read_release(root, &rel, &d);
    is_int(rc, want_rc, "%s: return", what);
    is_int(d.n, 0, "%s: no messages", what);
    if (rc == 0) {
        is_str(rel.id, id, "%s: ID", what);
        is_str(rel.id_like, like, "%s: ID_LIKE", what);
        is_str(rel.codename, codename, "%s: VERSION_CODENAME", what);
        is_str(aptsrc_release_family(&rel), family, "%s: family", what);
    }
    aptsrc_release_dispose(&rel);
    diag_dispose(&d);
}

static void test_release(void)
{
    char root[PATH_MAX];

    new_root(root, sizeof(root));
    put(root, "etc/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
        "NAME=\"Debian GNU/Linux\"\n"
        "VERSION_ID=\"12\"\n"
        "VERSION_CODENAME=bookworm\n"
        "ID=debian\n");
    release_is(root, 0, "debian", NULL, "bookworm", "debian", "Debian 12");

    new_root(root, sizeof(root));
    put(root, "usr/lib/os-release",
        "# a comment\n"
        "ID=ubuntu\n"
        "ID_LIKE=debian\n"
        "VERSION_CODENAME='noble'\n"
        "UBUNTU_CODENAME=noble\n");
    release_is(root, 0, "ubuntu", "debian", "noble", "ubuntu",
               "Ubuntu, from /usr/lib/os-release, single quotes");

    new_root(root, sizeof(root));
    put(root, "etc/os-release", "ID=linuxmint\nID_LIKE=\"ubuntu debian\"\nVERSION_CODENAME=\"wilma\"\n");
    release_is(root, 0, "linuxmint", "ubuntu debian", "wilma", "ubuntu",
               "an Ubuntu derivative is of the Ubuntu family");

    new_root(root, sizeof(root));
    put(root, "etc/os-release", "ID=fedora\nVERSION_ID=40\n");
    release_is(root, 0, "fedora", NULL, NULL, NULL, "Fedora: no codename, no family");

    new_root(root, sizeof(root));
    put(root, "etc/os-release", "ID=\"debian\"\nVERSION_CODENAME=\n");
    release_is(root, 0, "debian", NULL, NULL, "debian", "testing/sid: an empty codename");

    new_root(root, sizeof(root));
    release_is(root, -ENOENT, NULL, NULL, NULL, NULL, "no os-release");
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(void)
{
    if (!mkdtemp(base)) {
        printf("Bail out! cannot make a temporary directory\n");
        return 1;
    }
    test_one_line();
    test_deb822();
    test_order();
    test_release();
    /* the fixture trees: files and directories we made under base */
    nftw(base, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    return tap_done();
}
