/*
 * test-golden.c - golden images in the cache (provision/golden.c) and
 * their key (cache_golden_key in provision/cache.c): what changes the
 * key and what does not; entries built, committed, found and listed;
 * what is not a complete entry ignored; killed builds swept; removal,
 * refused while the key's lock is held; a lock's wait, and its cancel.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "golden.h"
#include "journal.h"
#include "tap.h"
#include "testutil.h"

static char base[] = "/tmp/test-golden.XXXXXX";
#define put(rel, content, mode) test_put(base, (rel), (content), (mode))
#define in_base(rel) test_path(base, (rel))
static char cachedir[sizeof base + 8];

static int exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

/* The names in dir that contain part. */
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

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* --- the key ------------------------------------------------------------ */

#define BASE_KEY "3f2a0000000000000000000000000000000000000000000000000000000000aa"
#define BASE_KEY2 "3f2a0000000000000000000000000000000000000000000000000000000000ab"

static char *const env[] = { (char *)"DIST=bookworm", (char *)"ROLES=web", NULL };
static char *const env_other_value[] = { (char *)"DIST=trixie", (char *)"ROLES=web", NULL };
static char *const env_other_order[] = { (char *)"ROLES=web", (char *)"DIST=bookworm", NULL };
static char hook_a[PATH_MAX + 64], hook_b[PATH_MAX + 64];
static char moved_a[PATH_MAX + 64], moved_b[PATH_MAX + 64], missing[PATH_MAX + 64];
static char *const hooks[] = { hook_a, hook_b, NULL };
static char *const hooks_swapped[] = { hook_b, hook_a, NULL };
static char *const hooks_moved[] = { moved_a, moved_b, NULL };
static char *const hooks_missing[] = { hook_a, missing, NULL };

static struct cache_golden_id id_of(void)
{
    struct cache_golden_id id = {
        .base_key = BASE_KEY, .env = env, .hooks = hooks, .fs = "ext4",
        .size = 4ULL << 30, .ext4_features = "^metadata_csum",
    };

    return id;
}

static void key_of(const struct cache_golden_id *id, char key[CACHE_KEY_LEN + 1])
{
    struct diag d;

    diag_init(&d);
    if (cache_golden_key(id, key, &d) != 0)
        strcpy(key, "(failed)");
    diag_dispose(&d);
}

static void test_key(void)
{
    struct cache_golden_id id = id_of();
    char k0[CACHE_KEY_LEN + 1], k[CACHE_KEY_LEN + 1], k_null[CACHE_KEY_LEN + 1];
    struct diag d;

    snprintf(hook_a, sizeof hook_a, "%s/hooks/10-setup", base);
    snprintf(hook_b, sizeof hook_b, "%s/hooks/roles/50-web", base);
    snprintf(moved_a, sizeof moved_a, "%s/elsewhere/10-setup", base);
    snprintf(moved_b, sizeof moved_b, "%s/elsewhere/50-web", base);
    snprintf(missing, sizeof missing, "%s/hooks/90-missing", base);
    put("hooks/10-setup", "#!/bin/sh\necho setup\n", 0755);
    put("hooks/roles/50-web", "#!/bin/sh\necho web\n", 0755);
    put("elsewhere/10-setup", "#!/bin/sh\necho setup\n", 0755);
    put("elsewhere/50-web", "#!/bin/sh\necho web\n", 0755);

    key_of(&id, k0);
    is_int(strlen(k0), CACHE_KEY_LEN, "a golden key is 64 hex digits");
    ok(strspn(k0, "0123456789abcdef") == CACHE_KEY_LEN, "lower-case hex");
    key_of(&id, k);
    is_str(k, k0, "the same input, the same key");
    id.hooks = hooks_moved;
    key_of(&id, k);
    is_str(k, k0, "the same hooks elsewhere, the same key (hashed by base name)");

#define CHANGES(what, stmt) do { \
        id = id_of(); stmt; key_of(&id, k); \
        ok(strcmp(k, k0) != 0 && strcmp(k, "(failed)") != 0, "%s changes the key", what); \
        id = id_of(); } while (0)
    CHANGES("another base root", id.base_key = BASE_KEY2);
    CHANGES("another environment value", id.env = env_other_value);
    CHANGES("the environment in another order", id.env = env_other_order);
    CHANGES("no environment", id.env = NULL);
    CHANGES("the hooks in another order", id.hooks = hooks_swapped);
    CHANGES("another file system", id.fs = "xfs");
    CHANGES("another size", id.size = 8ULL << 30);
    CHANGES("no ext4 features", id.ext4_features = NULL);
    CHANGES("an empty ext4 feature list", id.ext4_features = "");
    id.ext4_features = NULL;
    key_of(&id, k_null);
    id.ext4_features = "";
    key_of(&id, k);
    ok(strcmp(k, k_null) != 0, "no features and an empty list differ");
    id = id_of();

    put("hooks/roles/50-web", "#!/bin/sh\necho changed\n", 0755);
    key_of(&id, k);
    ok(strcmp(k, k0) != 0, "a changed hook changes the key");
    put("hooks/roles/50-web", "#!/bin/sh\necho web\n", 0755);
    key_of(&id, k);
    is_str(k, k0, "and changed back, the key is back");
    chmod(hook_b, 0644);
    key_of(&id, k);
    ok(strcmp(k, k0) != 0, "a hook no longer executable changes the key");
    chmod(hook_b, 0755);

    id.hooks = hooks_missing;
    diag_init(&d);
    is_int(cache_golden_key(&id, k, &d), -ENOENT, "a missing hook: -ENOENT");
    ok(d.nerrors == 1 && d.v[0].file && strcmp(d.v[0].file, missing) == 0,
       "with a message naming it (%s: %s)", d.n ? d.v[0].file : "", d.n ? d.v[0].msg : "");
    diag_dispose(&d);
}

/* --- entries ------------------------------------------------------------ */

static const struct golden_info info_web = {
    .template_name = "debian-web", .dist = "debian", .suite = "bookworm", .arch = "amd64",
    .fs = "ext4", .packages = "nginx less", .base_key = BASE_KEY, .size = 1ULL << 30,
};

/* The caller's part of a build in dir: a sparse disk.img (4 KiB written
 * of 1 GiB), a kernel and an initrd. */
static void fill(const char *dir)
{
    char path[PATH_MAX + 64], block[4096];
    int fd;

    memset(block, 0xa5, sizeof block);
    snprintf(path, sizeof path, "%s/disk.img", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || pwrite(fd, block, sizeof block, 0) != (ssize_t)sizeof block ||
        ftruncate(fd, 1 << 30) < 0)
        fprintf(stderr, "# cannot write %s\n", path);
    if (fd >= 0)
        close(fd);
    snprintf(path, sizeof path, "%s/vmlinuz", dir);
    close(open(path, O_WRONLY | O_CREAT, 0644));
    snprintf(path, sizeof path, "%s/initrd.img", dir);
    close(open(path, O_WRONLY | O_CREAT, 0644));
}

/* A whole build of key under its lock: 0 with id filled, or -errno. */
static int build(const char *key, const struct golden_info *info, char id[GOLDEN_ID_MAX])
{
    char *tmp = NULL, *dir = NULL;
    struct diag d;
    int fd = -1, r;

    diag_init(&d);
    if ((r = golden_lock(cachedir, key, true, NULL, &fd, &d)) == 0 &&
        (r = golden_build_begin(cachedir, key, &tmp, &d)) == 0) {
        fill(tmp);
        r = golden_build_commit(tmp, key, info, &dir, id, &d);
    }
    golden_unlock(fd);
    if (d.n)
        printf("# %s\n", d.v[0].msg);
    diag_dispose(&d);
    free(tmp);
    free(dir);
    return r;
}

static int lookup(const char *key, char id[GOLDEN_ID_MAX])
{
    char *dir = NULL;
    struct diag d;
    int r;

    diag_init(&d);
    r = golden_lookup(cachedir, key, &dir, id, &d);
    diag_dispose(&d);
    free(dir);
    return r;
}

static char key1[CACHE_KEY_LEN + 1], key2[CACHE_KEY_LEN + 1], key1_twin[CACHE_KEY_LEN + 1];
static char id1[GOLDEN_ID_MAX], id2[GOLDEN_ID_MAX];

static void test_build(void)
{
    struct cache_golden_id gid = id_of();
    char *tmp = NULL, *dir = NULL, text[4096] = "", path[PATH_MAX + 64];
    char id[GOLDEN_ID_MAX], twin[GOLDEN_ID_MAX], other[GOLDEN_ID_MAX];
    struct golden_entry *v = NULL;
    size_t n = 0;
    struct diag d;
    struct stat st;
    int fd = -1;
    FILE *f;

    key_of(&gid, key1);
    gid.size = 8ULL << 30;
    key_of(&gid, key2);
    /* a key with key1's first 16 digits: the same lock, names alike, not key1's */
    snprintf(key1_twin, sizeof key1_twin, "%.16s%048d", key1, 0);

    diag_init(&d);
    is_int(golden_lookup(cachedir, key1, &dir, id, &d), 0, "no golden directory: no entry");
    ok(dir == NULL && id[0] == 0 && d.n == 0, "nothing returned, nothing recorded");
    is_int(golden_list(cachedir, &v, &n, &d), 0, "and none listed");
    is_int(n, 0, "(none)");
    golden_entries_free(v, n);
    is_int(golden_lookup(cachedir, "../../etc", &dir, id, &d), -EINVAL,
           "a key that is not a key is refused");
    diag_dispose(&d);

    diag_init(&d);
    is_int(golden_lock(cachedir, key1, true, NULL, &fd, &d), 0, "the exclusive lock is taken");
    snprintf(path, sizeof path, "%s/golden/%.16s.lock", cachedir, key1);
    ok(fd >= 0 && exists(path), "KEY16.lock, its directory made");
    is_int(golden_build_begin(cachedir, key1, &tmp, &d), 0, "a build begins");
    snprintf(path, sizeof path, "%s/golden/.%.16s.new-", cachedir, key1);
    ok(tmp && strncmp(tmp, path, strlen(path)) == 0, "in .KEY16.new-XXXXXX (%s)", tmp);
    ok(tmp && stat(tmp, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755,
       "a directory, mode 0755");
    fill(tmp);
    is_int(golden_build_commit(tmp, key1, &info_web, &dir, id1, &d), 0, "and is committed");
    is_int(d.n, 0, "without a message");
    ok(strncmp(id1, key1, 16) == 0 && id1[16] == '-' &&
       strtoll(id1 + 17, NULL, 10) >= time(NULL) - 5, "its ID is KEY16-TIME (%s)", id1);
    snprintf(path, sizeof path, "%s/golden/%s", cachedir, id1);
    is_str(dir, path, "in CACHEDIR/golden/ID");
    ok(!exists(tmp), "the build directory is gone (renamed)");
    golden_unlock(fd);
    free(tmp);
    free(dir);
    tmp = dir = NULL;
    snprintf(path, sizeof path, "%s/golden/%s/info", cachedir, id1);
    if ((f = fopen(path, "r"))) {
        text[fread(text, 1, sizeof text - 1, f)] = 0;
        fclose(f);
    }
    snprintf(path, sizeof path, "key=%s\nid=%s\ncreated=", key1, id1);
    ok(strncmp(text, path, strlen(path)) == 0, "info starts with key, id, created");
    ok(strstr(text, "\ntemplate=debian-web\n") && strstr(text, "\nsuite=bookworm\n") &&
       strstr(text, "\npackages=nginx less\n") && strstr(text, "\nsize=1073741824\n") &&
       strstr(text, "\nbase_key=" BASE_KEY "\n"), "then the fields given");
    ok(!strstr(text, "roles="), "and not those left NULL");
    is_int(lookup(key1, id), 1, "the entry is found");
    is_str(id, id1, "by its key");

    is_int(build(key1, &info_web, id2), 0, "a second generation is built");
    ok(strcmp(id2, id1) > 0 && strncmp(id2, key1, 16) == 0,
       "under a later second, if only the next (%s)", id2);
    is_int(lookup(key1, id), 1, "with two generations,");
    is_str(id, id2, "the newest is found");
    is_int(build(key1_twin, &info_web, twin), 0,
           "a key with the same first digits gets a later generation still");
    ok(strcmp(twin, id2) > 0, "(%s)", twin);
    is_int(lookup(key1, id), 1, "it is not key1's:");
    is_str(id, id2, "key1's newest is still found");
    is_int(lookup(key1_twin, id), 1, "the twin is found by its own key");
    is_str(id, twin, "(%s)", twin);

    /* the names of this second and the next two taken: rename(2) would
     * put the new entry over such an empty directory */
    {
        long long t = time(NULL);
        char taken[PATH_MAX + 64];

        for (int i = 0; i < 3; i++) {
            snprintf(taken, sizeof taken, "%s/golden/%.16s-%lld", cachedir, key2, t + i);
            mkdir(taken, 0755);
        }
        is_int(build(key2, &info_web, other), 0, "another key's entry is built");
        ok(strtoll(other + 17, NULL, 10) >= t + 3, "under the next free second (%s)", other);
        is_int(count_in(taken, "disk.img"), 0, "a name taken is not replaced");
        for (int i = 0; i < 3; i++) {
            snprintf(taken, sizeof taken, "%s/golden/%.16s-%lld", cachedir, key2, t + i);
            rmdir(taken);
        }
    }
    is_int(lookup(key1, id), 1, "another key's newer entry");
    is_str(id, id2, "is not key1's");

    is_int(golden_list(cachedir, &v, &n, &d), 0, "the entries are listed");
    is_int(n, 4, "all four");
    if (n == 4) {
        is_str(v[0].id, id1, "oldest first");
        is_str(v[1].id, id2, "then the second generation");
        is_str(v[2].id, twin, "then the twin");
        is_str(v[3].id, other, "then the other key's");
        is_str(v[0].key, key1, "the key from info");
        ok(v[0].template_name && !strcmp(v[0].template_name, "debian-web") && v[0].dist &&
           !strcmp(v[0].dist, "debian") && v[0].arch && !strcmp(v[0].arch, "amd64") &&
           v[0].fs && !strcmp(v[0].fs, "ext4"), "template, dist, arch, fs from info");
        is_int(v[0].size, 1ULL << 30, "the image's size from info");
        ok(v[0].disk_bytes >= 4096 && v[0].disk_bytes < (1 << 20),
           "disk.img's allocated bytes, not its length (%llu)",
           (unsigned long long)v[0].disk_bytes);
        snprintf(path, sizeof path, "%s/golden/%s", cachedir, id1);
        is_str(v[0].dir, path, "its directory");
    }
    golden_entries_free(v, n);
    diag_dispose(&d);
}

#define FAKE_KEY "0123456789abcdef000000000000000000000000000000000000000000000000"

/* A well-formed entry id, created at created, in dir (under base). */
static void fake_entry(const char *dir, const char *id, long long created)
{
    char rel[PATH_MAX], text[512];

    snprintf(text, sizeof text, "key=%s\nid=%s\ncreated=%lld\nsize=1024\n", FAKE_KEY, id,
             created);
    snprintf(rel, sizeof rel, "%s/info", dir);
    put(rel, text, 0644);
    snprintf(rel, sizeof rel, "%s/disk.img", dir);
    put(rel, "", 0644);
}

static size_t listed(void)
{
    struct golden_entry *v = NULL;
    size_t n = 0;
    struct diag d;

    diag_init(&d);
    golden_list(cachedir, &v, &n, &d);
    golden_entries_free(v, n);
    diag_dispose(&d);
    return n;
}

static void test_not_entries(void)
{
    char id[GOLDEN_ID_MAX];
    size_t n0 = listed();

    fake_entry("cache/golden/0123456789abcdef-10", "0123456789abcdef-10", 10);
    is_int(listed(), n0 + 1, "a well-formed entry made by hand is listed");
    /* newer, so that lookup would take it if it followed the link */
    fake_entry("elsewhere/entry", "0123456789abcdef-20", 20);
    symlink(in_base("elsewhere/entry"), in_base("cache/golden/0123456789abcdef-20"));
    fake_entry("cache/golden/0123456789abcdef-30", "0123456789abcdef-30", 30);
    put("cache/golden/0123456789abcdef-30/info", "key=" FAKE_KEY "\nid=0123456789abcdef-30\n"
        "created=30\nsize=1024\na line without an equals sign\n", 0644);
    fake_entry("cache/golden/0123456789abcdef-40", "0123456789abcdef-40", 40);
    put("cache/golden/0123456789abcdef-40/info", "key=" FAKE_KEY "\nid=0123456789abcdef-40\n"
        "size=1024\n", 0644);
    fake_entry("cache/golden/0123456789abcdef-50", "0123456789abcdef-50", 50);
    unlink(in_base("cache/golden/0123456789abcdef-50/disk.img"));
    symlink("/dev/null", in_base("cache/golden/0123456789abcdef-50/disk.img"));
    fake_entry("cache/golden/0123456789abcdef-60", "0123456789abcdef-99", 60);
    fake_entry("cache/golden/0123456789abcdef-x", "0123456789abcdef-x", 70);
    fake_entry("cache/golden/0123456789ABCDEF-80", "0123456789ABCDEF-80", 80);
    is_int(listed(), n0 + 1, "a symlink, a broken info, no created, a symlinked disk.img, "
           "another entry's info, names not IDs: none listed");
    is_int(lookup(FAKE_KEY, id), 1, "lookup of their key");
    is_str(id, "0123456789abcdef-10", "finds the well-formed one only");
}

static void test_abort_and_sweep(void)
{
    char *tmp = NULL, prefix[32], gdir[PATH_MAX + 64];
    size_t n0 = listed();
    struct diag d;
    int fd = -1;

    snprintf(gdir, sizeof gdir, "%s/golden", cachedir);
    snprintf(prefix, sizeof prefix, ".%.16s.new-", key1);
    diag_init(&d);
    golden_lock(cachedir, key1, true, NULL, &fd, &d);
    is_int(golden_build_begin(cachedir, key1, &tmp, &d), 0, "a build begins");
    fill(tmp);
    is_int(journal_remove_tree(tmp), 0, "and is abandoned: the caller removes it");
    is_int(count_in(gdir, prefix), 0, "nothing is left of it");
    is_int(listed(), n0, "no entry");
    free(tmp);
    tmp = NULL;

    /* a killed build of key1, and a build of key2 */
    snprintf(gdir, sizeof gdir, "cache/golden/.%.16s.new-dead01/disk.img", key1);
    put(gdir, "half", 0644);
    snprintf(gdir, sizeof gdir, "cache/golden/.%.16s.new-busy01/disk.img", key2);
    put(gdir, "running", 0644);
    snprintf(gdir, sizeof gdir, "%s/golden", cachedir);
    is_int(golden_build_begin(cachedir, key1, &tmp, &d), 0, "a build begins again");
    is_int(count_in(gdir, prefix), 1, "a killed build of its key is removed, its own is made");
    ok(tmp && exists(tmp) && !strstr(tmp, "dead01"), "(%s)", tmp);
    snprintf(prefix, sizeof prefix, ".%.16s.new-busy01", key2);
    is_int(count_in(gdir, prefix), 1, "another key's build is left alone");
    is_int(d.n, 0, "without a message");
    journal_remove_tree(tmp);
    snprintf(gdir, sizeof gdir, "%s/golden/.%.16s.new-busy01", cachedir, key2);
    journal_remove_tree(gdir);
    golden_unlock(fd);
    diag_dispose(&d);
    free(tmp);
}

/* --- locks and removal -------------------------------------------------- */

/* A child that takes key's lock and holds it for ms (-1: until *release_r
 * is closed): its pid, or -1. */
static pid_t hold_lock(const char *key, bool exclusive, int ms, int *release_r)
{
    int ready[2], release[2];
    pid_t pid;
    char c;

    if (pipe(ready) < 0 || pipe(release) < 0)
        return -1;
    fflush(stdout);
    if ((pid = fork()) == 0) {
        struct pollfd p = { .fd = release[0], .events = POLLIN };
        struct diag d;
        int fd;

        close(ready[0]);
        close(release[1]);
        diag_init(&d);
        if (golden_lock(cachedir, key, exclusive, NULL, &fd, &d) < 0 ||
            write(ready[1], "x", 1) != 1)
            _exit(1);
        poll(&p, 1, ms);
        _exit(0);
    }
    close(ready[1]);
    close(release[0]);
    if (pid < 0 || read(ready[0], &c, 1) != 1) {
        close(release[1]);
        pid = -1;
    }
    close(ready[0]);
    *release_r = release[1];
    return pid;
}

static void let_go(pid_t pid, int release)
{
    close(release);
    if (pid > 0)
        waitpid(pid, NULL, 0);
}

static void test_locks(void)
{
    static volatile sig_atomic_t cancel;
    char path[PATH_MAX + 64], id[GOLDEN_ID_MAX];
    struct diag d;
    int release = -1, fd = -1, r;
    pid_t pid;
    double t;

    pid = hold_lock(key1, false, -1, &release);
    ok(pid > 0, "a child holds key1's lock shared");
    diag_init(&d);
    is_int(golden_remove(cachedir, id2, &d), -EBUSY, "removing an entry of key1: -EBUSY");
    ok(d.nerrors == 1 && strstr(d.v[0].msg, id2) && strstr(d.v[0].msg, "in use"),
       "saying it is in use (%s)", d.n ? d.v[0].msg : "");
    is_int(lookup(key1, id), 1, "the entry is still there");
    is_str(id, id2, "(%s)", id2);
    diag_dispose(&d);

    diag_init(&d);
    is_int(golden_lock(cachedir, key1, false, NULL, &fd, &d), 0, "a shared lock is shared");
    golden_unlock(fd);
    cancel = 1;
    t = now_s();
    is_int(golden_lock(cachedir, key1, true, &cancel, &fd, &d), -ECANCELED,
           "an exclusive lock's wait, cancelled: -ECANCELED");
    ok(now_s() - t < 0.5, "at once (%.3f s)", now_s() - t);
    ok(fd == -1 && d.n == 0, "no descriptor, nothing recorded");
    cancel = 0;
    is_int(golden_lock(cachedir, key2, true, &cancel, &fd, &d), 0,
           "another key's lock is not held");
    golden_unlock(fd);
    let_go(pid, release);

    pid = hold_lock(key1, true, 300, &release);
    t = now_s();
    is_int(golden_lock(cachedir, key1, true, &cancel, &fd, &d), 0,
           "an exclusive lock waits for its holder");
    ok(now_s() - t >= 0.15, "until it lets go (%.3f s)", now_s() - t);
    golden_unlock(fd);
    let_go(pid, release);
    is_int(d.n, 0, "without a message");
    diag_dispose(&d);

    diag_init(&d);
    is_int(golden_remove(cachedir, id1, &d), 0, "an entry no one uses is removed");
    snprintf(path, sizeof path, "%s/golden/%s", cachedir, id1);
    ok(!exists(path), "it is gone");
    snprintf(path, sizeof path, "%s/golden", cachedir);
    is_int(count_in(path, ".del-"), 0, "with what it was renamed to");
    snprintf(path, sizeof path, "%s/golden/%.16s.lock", cachedir, key1);
    ok(exists(path), "its key's lock file stays");
    is_int(lookup(key1, id), 1, "the other generation");
    is_str(id, id2, "is still found");
    is_int(d.n, 0, "without a message");
    is_int(golden_remove(cachedir, id1, &d), -ENOENT, "removing it again: -ENOENT");
    ok(d.nerrors == 1 && strstr(d.v[0].msg, id1), "saying so (%s)", d.n ? d.v[0].msg : "");
    diag_dispose(&d);

    {
        static const char *const bad[] = {
            "../x", "", "abc", "0123456789abcdef-", "0123456789abcdef-1/../x",
            "0123456789ABCDEF-1", ".0123456789abcdef-1.del-1",
        };

        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            diag_init(&d);
            r = golden_remove(cachedir, bad[i], &d);
            ok(r == -EINVAL && d.nerrors == 1, "removing `%s': -EINVAL, recorded", bad[i]);
            diag_dispose(&d);
        }
    }
}

int main(void)
{
    if (!mkdtemp(base))
        return 1;
    snprintf(cachedir, sizeof cachedir, "%s/cache", base);
    test_key();
    test_build();
    test_not_entries();
    test_abort_and_sweep();
    test_locks();
    test_rm_tree(base);
    return tap_done();
}
