/*
 * test-cache.c - the base-root cache (provision/cache.c): what changes
 * the key and what does not, the Release fetched from a file: mirror
 * (InRelease, else Release), entries stored atomically and found,
 * stale temporaries swept, the package cache's directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "tap.h"
#include "testutil.h"

static char base[] = "/tmp/test-cache.XXXXXX";
#define put(rel, content, mode) test_put(base, (rel), (content), (mode))
#define in_base(rel) test_path(base, (rel))

static char *const comps[] = { (char *)"main", (char *)"contrib", NULL };
static char *const comps_other_order[] = { (char *)"contrib", (char *)"main", (char *)"main", NULL };
static char *const pkgs[] = { (char *)"linux-image-amd64", (char *)"udev", (char *)"systemd-sysv", NULL };
static char *const pkgs_other_order[] = { (char *)"udev", (char *)"systemd-sysv", (char *)"linux-image-amd64", (char *)"udev", NULL };
static char *const pkgs_more[] = { (char *)"linux-image-amd64", (char *)"udev", (char *)"systemd-sysv", (char *)"less", NULL };

static struct cache_base_id id_of(void)
{
    struct cache_base_id id = {
        .method = "mmdebstrap", .mirror = "http://mirror.example/debian",
        .suite = "bookworm", .arch = "amd64", .components = comps, .packages = pkgs,
        .hooks_dir = in_base("hooks"), .release = "Origin: Debian\n",
    };

    id.release_len = strlen(id.release);
    return id;
}

static void key_of(const struct cache_base_id *id, char key[CACHE_KEY_LEN + 1])
{
    struct diag d;

    diag_init(&d);
    if (cache_base_key(id, key, &d) != 0)
        strcpy(key, "(failed)");
    diag_dispose(&d);
}

static void test_key(void)
{
    struct cache_base_id id = id_of();
    char k0[CACHE_KEY_LEN + 1], k[CACHE_KEY_LEN + 1];
    struct diag d;

    key_of(&id, k0);
    is_int(strlen(k0), 64, "a key is 64 hex digits");
    ok(strspn(k0, "0123456789abcdef") == 64, "lower-case hex");
    key_of(&id, k);
    is_str(k, k0, "the same input, the same key");

    id.packages = pkgs_other_order;
    id.components = comps_other_order;
    key_of(&id, k);
    is_str(k, k0, "package and component order and duplicates do not matter");
    id = id_of();

#define CHANGES(what, stmt) do { \
        id = id_of(); stmt; key_of(&id, k); \
        ok(strcmp(k, k0) != 0, "%s changes the key", what); \
        id = id_of(); } while (0)
    CHANGES("another package", id.packages = pkgs_more);
    CHANGES("another Release", (id.release = "Origin: Debian\nDate: x\n",
                                id.release_len = strlen(id.release)));
    CHANGES("another suite", id.suite = "trixie");
    CHANGES("another architecture", id.arch = "arm64");
    CHANGES("another method", id.method = "debootstrap");
    CHANGES("another mirror", id.mirror = "http://other.example/debian");
    {
        static char *const one[] = { (char *)"main", NULL };
        CHANGES("fewer components", id.components = one);
    }
    put("hooks/customize10-x", "#!/bin/sh\necho changed\n", 0755);
    key_of(&id, k);
    ok(strcmp(k, k0) != 0, "a changed hook changes the key");
    put("hooks/customize10-x", "#!/bin/sh\necho x\n", 0755);
    key_of(&id, k);
    is_str(k, k0, "and changed back, the key is back");
    chmod(in_base("hooks/customize10-x"), 0644);
    key_of(&id, k);
    ok(strcmp(k, k0) != 0, "a hook no longer executable changes the key");
    chmod(in_base("hooks/customize10-x"), 0755);
    put("hooks/customize20-new", "#!/bin/sh\n", 0755);
    key_of(&id, k);
    ok(strcmp(k, k0) != 0, "a new hook changes the key");
    unlink(in_base("hooks/customize20-new"));
    put("hooks/.customize10-x.swp", "editor junk", 0644);
    key_of(&id, k);
    is_str(k, k0, "a dot file among the hooks does not");

    id.hooks_dir = in_base("no-such-hooks");
    diag_init(&d);
    is_int(cache_base_key(&id, k, &d), -ENOENT, "a missing hook directory: -ENOENT");
    ok(d.nerrors == 1 && d.v[0].file && strstr(d.v[0].file, "no-such-hooks"),
       "with a message naming it");
    diag_dispose(&d);
}

static void test_release(void)
{
    char mirror[PATH_MAX + 16], *buf = NULL;
    size_t len = 0;
    struct diag d;

    snprintf(mirror, sizeof mirror, "file://%s/mirror/", base);
    put("mirror/dists/bookworm/InRelease", "signed release\n", 0644);
    put("mirror/dists/bookworm/Release", "plain release\n", 0644);
    put("mirror/dists/trixie/Release", "trixie release\n", 0644);
    diag_init(&d);
    is_int(cache_fetch_release(mirror, "bookworm", &buf, &len, &d), 0, "InRelease fetched");
    is_str(buf, "signed release\n", "InRelease first");
    free(buf);
    is_int(cache_fetch_release(mirror, "trixie", &buf, &len, &d), 0, "no InRelease");
    is_str(buf, "trixie release\n", "then Release");
    is_int(d.n, 0, "without a message");
    free(buf);
    is_int(cache_fetch_release(mirror, "sid", &buf, &len, &d), -ENOENT, "neither: -ENOENT");
    ok(d.nerrors == 1 && strstr(d.v[0].msg, "dists/sid/Release"),
       "the message names Release's URL (%s)", d.n ? d.v[0].msg : "");
    diag_dispose(&d);
}

static int count_in(const char *dir, const char *part)
{
    DIR *dh = opendir(dir);
    struct dirent *de;
    int n = 0;

    if (!dh)
        return -1;
    while ((de = readdir(dh)))
        if (strstr(de->d_name, part))
            n++;
    closedir(dh);
    return n;
}

static void test_entries(void)
{
    struct cache_base_id id = id_of();
    char key[CACHE_KEY_LEN + 1], *path = NULL, *cachedir = strdup(in_base("cache"));
    struct extract_stats st;
    struct diag d;
    char info[4096] = "";
    FILE *f;

    key_of(&id, key);
    put("root/etc/hostname", "base\n", 0644);
    put("root/usr/bin/tool", "#!/bin/sh\n", 0755);

    is_int(cache_base_lookup(cachedir, key, &path), 0, "no entry yet");
    ok(path && strstr(path, "/base/") && strstr(path, ".tar.zst"), "its path (%s)", path);
    free(path);

    /* a temporary of a dead process, two hours old; and a young one */
    put("cache/base/.deadbeef.tar.zst.tmp.AAAAAA", "stale", 0644);
    put("cache/base/.cafe.tar.zst.tmp.BBBBBB", "busy", 0644);
    {
        struct timespec t[2] = { { time(NULL) - 7200, 0 }, { time(NULL) - 7200, 0 } };

        utimensat(AT_FDCWD, in_base("cache/base/.deadbeef.tar.zst.tmp.AAAAAA"), t, 0);
    }
    diag_init(&d);
    is_int(cache_base_store(cachedir, key, &id, in_base("root"), &st, &d), 0, "an entry is stored");
    is_int(d.n, 0, "without a message");
    ok(st.entries == 6, "the whole tree (%lu entries)", st.entries);
    is_int(cache_base_lookup(cachedir, key, &path), 1, "and found");
    free(path);
    is_int(count_in(in_base("cache/base"), ".tmp."), 1,
           "an old temporary is swept, a young one (another process's) kept");
    is_int(count_in(in_base("cache/base"), key), 2, "KEY.tar.zst and KEY.info");
    snprintf(info, sizeof info, "%s/base/%s.info", cachedir, key);
    if ((f = fopen(info, "r"))) {
        size_t n = fread(info, 1, sizeof info - 1, f);

        info[n] = 0;
        fclose(f);
    }
    ok(strstr(info, "suite bookworm\n") && strstr(info, "arch amd64\n") &&
       strstr(info, "packages linux-image-amd64 udev systemd-sysv\n") &&
       strstr(info, "method mmdebstrap\n") && strstr(info, "created 20"),
       "KEY.info says what it is");

    /* a root that cannot be read: nothing stored, nothing left */
    is_int(cache_base_store(cachedir, "0000", &id, in_base("no-root"), NULL, &d), -ENOENT,
           "storing a missing tree fails");
    ok(d.nerrors >= 1, "with a message (%s)", d.n ? d.v[0].msg : "");
    is_int(count_in(in_base("cache/base"), "0000"), 0, "and leaves no entry, no temporary");
    is_int(count_in(in_base("cache/base"), ".tmp."), 1, "(the young temporary only)");
    diag_dispose(&d);

    is_int(cache_base_remove(cachedir, key), 0, "an entry is removed");
    is_int(count_in(in_base("cache/base"), key), 0, "with its description");
    is_int(cache_base_remove(cachedir, key), -ENOENT, "removing it again: -ENOENT");
    free(cachedir);
}

static void test_debs(void)
{
    char *dir = NULL;
    struct diag d;
    struct stat st;

    diag_init(&d);
    is_int(cache_debs_dir(in_base("cache"), "bookworm", "amd64", &dir, &d), 0,
           "the package cache's directory");
    ok(dir && strcmp(dir, in_base("cache/debs/bookworm-amd64")) == 0, "is debs/SUITE-ARCH");
    ok(dir && stat(dir, &st) == 0 && S_ISDIR(st.st_mode), "and is made");
    free(dir);
    is_int(cache_debs_dir(in_base("cache"), "../../etc", "amd64", &dir, &d), -EINVAL,
           "a suite that is a path is refused");
    ok(dir == NULL && d.nerrors == 1, "with a message");
    diag_dispose(&d);
}

int main(void)
{
    if (!mkdtemp(base))
        return 1;
    put("hooks/customize10-x", "#!/bin/sh\necho x\n", 0755);
    put("hooks/README", "about the hooks\n", 0644);
    test_key();
    test_release();
    test_entries();
    test_debs();
    test_rm_tree(base);
    return tap_done();
}
