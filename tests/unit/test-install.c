/*
 * test-install.c - install_root (provision/install.c) without a network:
 * requests refused before anything runs (values that could smuggle text
 * into a sources.list line or an option, a staging directory that is
 * not empty), the tar and copy methods, and the cache's Release fetched
 * first (a mirror without one fails with its URL, and nothing is made).
 * The real bootstraps are tests/provision/bootstrap.t.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "install.h"
#include "tap.h"

static char base[] = "/tmp/test-install.XXXXXX";

static char *in_base(const char *rel)
{
    static char buf[4][PATH_MAX + 64];
    static int slot;
    char *p = buf[slot++ % 4];

    snprintf(p, PATH_MAX + 64, "%s/%s", base, rel);
    return p;
}

static char *const comps[] = { (char *)"main", NULL };
static char *const pkgs[] = { (char *)"linux-image-amd64", (char *)"udev", NULL };

static struct install_req req_of(const char *staging)
{
    struct install_req r = {
        .method = "mmdebstrap", .suite = "bookworm", .arch = "amd64",
        .mirror = "http://mirror.example/debian", .components = comps, .packages = pkgs,
        .staging = staging, .cachedir = in_base("cache"), .use_cache = true,
        .bootstrap_hooks = in_base("hooks"), .log_fd = -1, .tty_fd = -1,
    };
    return r;
}

static const char *messages(const struct diag *d)
{
    static char buf[4096];
    size_t o = 0;

    buf[0] = 0;
    for (size_t i = 0; i < d->n && o < sizeof buf - 1; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s", i ? " | " : "", d->v[i].msg);
    return buf;
}

/* Expects install_root(r) to refuse with -EINVAL and a message with part. */
static void refused(struct install_req r, const char *what, const char *part)
{
    struct install_result res;
    struct diag d;
    int rc;

    diag_init(&d);
    rc = install_root(&r, &res, &d);
    ok(rc < 0 && d.nerrors == 1 && strstr(messages(&d), part),
       "%s: refused (%s)", what, messages(&d));
    diag_dispose(&d);
}

static void test_refused(void)
{
    char *staging = strdup(in_base("empty"));
    struct install_req r;
    static char *const bad_pkg[] = { (char *)"udev,evil", NULL };
    static char *const bad_pkg2[] = { (char *)"--option", NULL };
    static char *const bad_comp[] = { (char *)"main contrib", NULL };
    static char *const no_comp[] = { NULL };

    mkdir(staging, 0755);
    r = req_of(staging);
    r.method = "yum";
    refused(r, "an unknown method", "unknown method `yum'");
    r = req_of(staging);
    r.mirror = "http://mirror.example/debian bookworm main\ndeb http://evil.example/";
    refused(r, "a mirror with spaces", "is not a mirror URI");
    r.mirror = "ftp://mirror.example/debian";
    refused(r, "an ftp mirror", "is not a mirror URI");
    r.mirror = "[trusted=yes] http://mirror.example/debian";
    refused(r, "a mirror with options", "is not a mirror URI");
    r = req_of(staging);
    r.suite = "bookworm main";
    refused(r, "a suite with a space", "is not a suite name");
    r.suite = "../etc";
    refused(r, "a suite that is a path", "is not a suite name");
    r = req_of(staging);
    r.arch = "amd64,i386";
    refused(r, "two architectures", "is not an architecture");
    r = req_of(staging);
    r.packages = bad_pkg;
    refused(r, "a package with a comma", "`udev,evil' is not a package name");
    r.packages = bad_pkg2;
    refused(r, "a package like an option", "`--option' is not a package name");
    r = req_of(staging);
    r.components = bad_comp;
    refused(r, "a component with a space", "is not a component");
    r.components = no_comp;
    refused(r, "no component", "no component");
    r = req_of(staging);
    r.bootstrap_hooks = in_base("no-hooks");
    refused(r, "missing bootstrap hooks", "the bootstrap hooks");
    r = req_of(in_base("hooks"));
    refused(r, "a staging directory that is not empty", "not empty");
    r = req_of("relative/dir");
    refused(r, "a relative staging directory", "absolute path");
    r = req_of(staging);
    r.method = "tar";
    refused(r, "tar without a source", "needs a source");
    {
        struct stat st;

        ok(stat(in_base("cache"), &st) < 0, "nothing made in the cache directory");
    }
    free(staging);
}

/* A tar.gz with a file and a symlink, for the tar method. */
static void make_tarball(const char *path)
{
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();

    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter_gzip(a);
    archive_write_open_filename(a, path);
    archive_entry_set_pathname(e, "etc/os-release");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, 10);
    archive_write_header(a, e);
    archive_write_data(a, "ID=debian\n", 10);
    archive_entry_clear(e);
    archive_entry_set_pathname(e, "bin");
    archive_entry_set_filetype(e, AE_IFLNK);
    archive_entry_set_perm(e, 0777);
    archive_entry_set_symlink(e, "usr/bin");
    archive_write_header(a, e);
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
}

static void test_tar_copy(void)
{
    char *tarball = strdup(in_base("root.tar.gz")), *s1 = strdup(in_base("s1"));
    char *s2 = strdup(in_base("s2")), buf[64];
    struct install_req r;
    struct install_result res;
    struct diag d;
    struct stat st;
    ssize_t n;

    make_tarball(tarball);
    mkdir(s1, 0755);
    mkdir(s2, 0755);
    diag_init(&d);
    r = req_of(s1);
    r.method = "tar";
    r.source = tarball;
    if (!is_int(install_root(&r, &res, &d), 0, "the tar method"))
        printf("# %s\n", messages(&d));
    ok(stat(in_base("s1/etc/os-release"), &st) == 0 && st.st_size == 10, "unpacks the tarball");
    ok(res.entries == 2 && !res.cache_hit && res.key[0] == 0, "two entries, no cache");

    r = req_of(s2);
    r.method = "copy";
    r.source = s1;
    if (!is_int(install_root(&r, &res, &d), 0, "the copy method"))
        printf("# %s\n", messages(&d));
    n = readlink(in_base("s2/bin"), buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    is_str(buf, "usr/bin", "copies the tree, links as links");
    ok(stat(in_base("cache"), &st) < 0, "tar and copy use no cache");

    r = req_of(s2);
    r.method = "tar";
    r.source = tarball;
    diag_dispose(&d);
    diag_init(&d);
    is_int(install_root(&r, &res, &d), -ENOTEMPTY, "into a staging directory that is full");
    diag_dispose(&d);
    free(tarball);
    free(s1);
    free(s2);
}

static void test_no_release(void)
{
    char *staging = strdup(in_base("s3")), mirror[PATH_MAX + 16];
    struct install_req r;
    struct install_result res;
    struct diag d;
    struct stat st;

    mkdir(staging, 0755);
    snprintf(mirror, sizeof mirror, "file://%s/mirror", base);
    mkdir(in_base("mirror"), 0755);
    r = req_of(staging);
    r.mirror = mirror;
    diag_init(&d);
    is_int(install_root(&r, &res, &d), -ENOENT, "a mirror without the suite's Release: -ENOENT");
    ok(strstr(messages(&d), "/mirror/dists/bookworm/Release") != NULL,
       "naming the Release's URL (%s)", messages(&d));
    ok(stat(in_base("cache"), &st) < 0, "nothing made in the cache directory");
    diag_dispose(&d);
    free(staging);
}

/* A cache entry that cannot be unpacked is dropped and the root built
 * afresh: here by a real mmdebstrap that fails on a mirror with nothing
 * but a Release file. */
static void test_bad_entry(void)
{
    char *staging = strdup(in_base("s4")), *cachedir = strdup(in_base("cache4"));
    char mirror[PATH_MAX + 16], key[CACHE_KEY_LEN + 1], *release = NULL, *entry = NULL;
    char *logpath = strdup(in_base("s4.log"));
    struct install_req r;
    struct install_result res;
    struct cache_base_id id;
    struct diag d;
    FILE *f;
    int rc;

    if (geteuid() != 0 || system("command -v mmdebstrap > /dev/null 2>&1") != 0) {
        for (int i = 0; i < 5; i++)
            ok(1, "# SKIP needs root and mmdebstrap");
        goto out;
    }
    mkdir(staging, 0755);
    snprintf(mirror, sizeof mirror, "file://%s/mirror4", base);
    mkdir(in_base("mirror4"), 0755);
    mkdir(in_base("mirror4/dists"), 0755);
    mkdir(in_base("mirror4/dists/bookworm"), 0755);
    if ((f = fopen(in_base("mirror4/dists/bookworm/Release"), "w"))) {
        fputs("Origin: nowhere\n", f);
        fclose(f);
    }
    r = req_of(staging);
    r.mirror = mirror;
    r.cachedir = cachedir;
    r.log_fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    id = (struct cache_base_id){
        .method = r.method, .mirror = r.mirror, .suite = r.suite, .arch = r.arch,
        .components = r.components, .packages = r.packages, .hooks_dir = r.bootstrap_hooks,
    };
    diag_init(&d);
    cache_fetch_release(mirror, "bookworm", &release, &id.release_len, &d);
    id.release = release;
    cache_base_key(&id, key, &d);
    cache_debs_dir(cachedir, "bookworm", "amd64", &entry, &d);   /* makes cachedir */
    free(entry);
    mkdir(in_base("cache4/base"), 0755);
    cache_base_lookup(cachedir, key, &entry);
    if ((f = fopen(entry, "w"))) {
        fputs("not an archive at all\n", f);
        fclose(f);
    }
    diag_dispose(&d);
    diag_init(&d);
    rc = install_root(&r, &res, &d);
    is_int(rc, -EIO, "a bad cache entry, then a failing mmdebstrap: -EIO");
    ok(strstr(messages(&d), "the cached base root cannot be used: removed") != NULL,
       "the entry is reported (%s)", messages(&d));
    ok(access(entry, F_OK) < 0, "and removed");
    ok(strstr(messages(&d), "mmdebstrap exited with status") &&
       strstr(messages(&d), logpath), "mmdebstrap's failure names its status and the log");
    is_str(res.key, key, "the result has the key");
    diag_dispose(&d);
    close(r.log_fd);
out:
    free(release);
    free(entry);
    free(staging);
    free(cachedir);
    free(logpath);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    remove(path);
    return 0;
}

int main(void)
{
    FILE *f;

    if (!mkdtemp(base))
        return 1;
    mkdir(in_base("hooks"), 0755);
    if ((f = fopen(in_base("hooks/customize10-x"), "w"))) {
        fputs("#!/bin/sh\n", f);
        fclose(f);
    }
    test_refused();
    test_tar_copy();
    test_no_release();
    test_bad_entry();
    nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return tap_done();
}
