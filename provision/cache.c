/*
 * cache.c - base roots and packages kept between provisionings (see
 * cache.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "fileio.h"
#include "http.h"
#include "paths.h"

/*
 * The first thing hashed.  Change it whenever what install.c does to
 * make a base root changes (mmdebstrap's options, the environment it
 * gets), so that entries made the old way are no longer found.
 */
#define KEY_VERSION "vmkit-base-root 1"

/* The same for golden images: change it whenever how an image is made
 * from its cache_golden_id changes (mkfs's other options, the hooks'
 * fixed environment, what is copied in). */
#define GOLDEN_KEY_VERSION "vmkit-golden 1"

#define TEMP_MAX_AGE    3600    /* s: older temporaries are a dead process's */

int cache_fetch_release(const char *mirror, const char *suite, char **buf_r,
                        size_t *len_r, struct diag *d)
{
    static const char *const names[] = { "InRelease", "Release" };
    char *url = NULL;
    int r = -ENOENT;

    for (size_t i = 0; i < 2 && r == -ENOENT; i++) {
        size_t n = strlen(mirror);

        while (n > 0 && mirror[n - 1] == '/')
            n--;
        free(url);
        if (asprintf(&url, "%.*s/dists/%s/%s", (int)n, mirror, suite, names[i]) < 0) {
            url = NULL;
            return -ENOMEM;
        }
        r = http_get_buffer(url, CACHE_MAX_RELEASE, i == 0 ? HTTP_MISSING_OK : 0,
                            buf_r, len_r, d);
    }
    free(url);
    return r;
}

/* --- the key ------------------------------------------------------------ */

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Hashes "NAME LEN\n" then LEN bytes: no two inputs encode alike. */
static int put(EVP_MD_CTX *c, const char *name, const void *data, size_t len)
{
    char head[128];
    int n = snprintf(head, sizeof head, "%s %zu\n", name, len);

    if (EVP_DigestUpdate(c, head, (size_t)n) != 1 || EVP_DigestUpdate(c, data, len) != 1)
        return -ENOMEM;
    return 0;
}

static int put_str(EVP_MD_CTX *c, const char *name, const char *s)
{
    return put(c, name, s ? s : "", s ? strlen(s) : 0);
}

/* Hashes the n items of v, in order, as NAME-count then items. */
static int put_list(EVP_MD_CTX *c, const char *name, char *const *v, size_t n)
{
    char count[32];
    int r;

    snprintf(count, sizeof count, "%zu", n);
    r = put_str(c, name, count);
    for (size_t i = 0; !r && i < n; i++)
        r = put_str(c, "item", v[i]);
    return r;
}

/* Hashes the list v sorted, without duplicates (put_list). */
static int put_set(EVP_MD_CTX *c, const char *name, char *const *v)
{
    size_t n = 0, kept = 0;
    char **s;
    int r;

    while (v && v[n])
        n++;
    if (!(s = calloc(n + 1, sizeof(*s))))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        s[i] = v[i];
    qsort(s, n, sizeof(*s), by_name);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(s[i], s[i - 1]) != 0)
            s[kept++] = s[i];
    r = put_list(c, name, s, kept);
    free(s);
    return r;
}

/* Hashes one hook, the regular file at path with mode: its name (not
 * where it is), its executable bits, its content. */
static int put_hook(EVP_MD_CTX *c, const char *path, const char *name, mode_t mode,
                    struct diag *d)
{
    char *buf = NULL, x[8];
    size_t len;
    int r;

    if ((r = file_read_bounded(path, CACHE_MAX_HOOK, 0, &buf, &len, d)) < 0)
        return r;
    snprintf(x, sizeof x, "%o", (unsigned)(mode & 0111));
    if (!(r = put_str(c, "hook", name)) && !(r = put_str(c, "x", x)))
        r = put(c, "content", buf, len);
    free(buf);
    return r;
}

/* Hashes every regular file of dir not starting with `.', by name (no
 * dir: none, as for the rpm method). */
static int put_hooks(EVP_MD_CTX *c, const char *dir, struct diag *d)
{
    struct dirent **ents = NULL;
    int n = dir ? scandir(dir, &ents, NULL, alphasort) : 0;
    int r = 0;

    if (n < 0) {
        r = -errno;
        diag_error(d, dir, 0, 0, "cannot read the bootstrap hooks: %s", strerror(-r));
        return r;
    }
    for (int i = 0; i < n; i++) {
        char *path = NULL;
        struct stat st;

        if (r || ents[i]->d_name[0] == '.')
            goto next;
        if (!(path = paths_join(dir, ents[i]->d_name)))
            r = -ENOMEM;
        else if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            r = put_hook(c, path, ents[i]->d_name, st.st_mode, d);
next:
        free(path);
        free(ents[i]);
    }
    free(ents);
    return r;
}

/* Hashes the hooks at the paths of v, in order, each by its base name. */
static int put_hook_list(EVP_MD_CTX *c, char *const *v, struct diag *d)
{
    int r = 0;

    for (size_t i = 0; !r && v && v[i]; i++) {
        const char *slash = strrchr(v[i], '/');
        struct stat st;

        if (stat(v[i], &st) < 0) {
            r = -errno;
            diag_error(d, v[i], 0, 0, "cannot read the hook: %s", strerror(-r));
        } else {
            r = put_hook(c, v[i], slash ? slash + 1 : v[i], st.st_mode, d);
        }
    }
    return r;
}

/* Finishes c into key_r: CACHE_KEY_LEN hex digits and a NUL.  0 or -ENOMEM. */
static int put_end(EVP_MD_CTX *c, char key_r[CACHE_KEY_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;

    if (EVP_DigestFinal_ex(c, md, &mdlen) != 1 || mdlen * 2 != CACHE_KEY_LEN)
        return -ENOMEM;
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(key_r + 2 * i, 3, "%02x", md[i]);
    return 0;
}

int cache_base_key(const struct cache_base_id *id, char key_r[CACHE_KEY_LEN + 1],
                   struct diag *d)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int r = -ENOMEM;

    key_r[0] = 0;
    if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
        goto out;
    if ((r = put_str(c, "version", KEY_VERSION)) ||
        (r = put_str(c, "method", id->method)) ||
        (r = put_str(c, "mirror", id->mirror)) ||
        (r = put_str(c, "suite", id->suite)) ||
        (r = put_str(c, "arch", id->arch)) ||
        (r = put_set(c, "components", id->components)) ||
        (r = put_set(c, "packages", id->packages)) ||
        (r = put(c, "release", id->release ? id->release : "", id->release_len)) ||
        (r = put_hooks(c, id->hooks_dir, d)))
        goto out;
    r = put_end(c, key_r);
out:
    EVP_MD_CTX_free(c);
    return r;
}

int cache_golden_key(const struct cache_golden_id *id, char key_r[CACHE_KEY_LEN + 1],
                     struct diag *d)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    size_t nenv = 0;
    char size[32];
    int r = -ENOMEM;

    key_r[0] = 0;
    while (id->env && id->env[nenv])
        nenv++;
    snprintf(size, sizeof size, "%" PRIu64, id->size);
    if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
        goto out;
    /* no features (mke2fs's defaults) and an empty list are told apart */
    if ((r = put_str(c, "version", GOLDEN_KEY_VERSION)) ||
        (r = put_str(c, "base", id->base_key)) ||
        (r = put_list(c, "env", id->env, nenv)) ||
        (r = put_hook_list(c, id->hooks, d)) ||
        (r = put_str(c, "fs", id->fs)) ||
        (r = put_str(c, "size", size)) ||
        (r = put_str(c, id->ext4_features ? "ext4-features" : "ext4-default-features",
                     id->ext4_features)))
        goto out;
    r = put_end(c, key_r);
out:
    EVP_MD_CTX_free(c);
    return r;
}

/* --- entries ------------------------------------------------------------ */

int cache_mkdir(const char *path, struct diag *d)
{
    char *failed = NULL;
    int r = paths_mkdir_p(path, 0755, &failed);

    if (r && r != -ENOMEM)
        diag_error(d, failed ? failed : path, 0, 0, "cannot create the directory: %s",
                   strerror(-r));
    free(failed);
    return r;
}

/* Removes the temporaries (".NAME.tmp.*") in dir older than TEMP_MAX_AGE. */
static void sweep(const char *dir)
{
    DIR *dh = opendir(dir);
    struct dirent *de;
    time_t now = time(NULL);

    if (!dh)
        return;
    while ((de = readdir(dh))) {
        struct stat st;

        if (de->d_name[0] != '.' || !strstr(de->d_name, ".tmp."))
            continue;
        if (fstatat(dirfd(dh), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(st.st_mode) && now - st.st_mtime > TEMP_MAX_AGE)
            unlinkat(dirfd(dh), de->d_name, 0);
    }
    closedir(dh);
}

static char *entry_path(const char *cachedir, const char *key, const char *suffix)
{
    char *p;

    if (asprintf(&p, "%s/base/%s%s", cachedir, key, suffix) < 0)
        return NULL;
    return p;
}

int cache_base_lookup(const char *cachedir, const char *key, char **path_r)
{
    struct stat st;

    if (!(*path_r = entry_path(cachedir, key, ".tar.zst")))
        return -ENOMEM;
    return stat(*path_r, &st) == 0 && S_ISREG(st.st_mode);
}

int cache_base_remove(const char *cachedir, const char *key)
{
    char *tar = entry_path(cachedir, key, ".tar.zst");
    char *info = entry_path(cachedir, key, ".info");
    int r = 0;

    if (!tar || !info)
        r = -ENOMEM;
    else if (unlink(tar) < 0)
        r = -errno;
    if (info)
        unlink(info);
    free(tar);
    free(info);
    return r;
}

static char *joined(char *const *v)
{
    size_t len = 1;
    char *s, *p;

    for (size_t i = 0; v && v[i]; i++)
        len += strlen(v[i]) + 1;
    if (!(s = p = malloc(len)))
        return NULL;
    *p = 0;
    for (size_t i = 0; v && v[i]; i++)
        p += sprintf(p, "%s%s", i ? " " : "", v[i]);
    return s;
}

/* The .info text of an entry, in a new string. */
static char *info_text(const char *key, const struct cache_base_id *id)
{
    char *comp = joined(id->components), *pkgs = joined(id->packages), *s = NULL;
    char when[32];
    time_t now = time(NULL);
    struct tm tm;

    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    if (comp && pkgs &&
        asprintf(&s, "key %s\nmethod %s\nmirror %s\nsuite %s\narch %s\ncomponents %s\n"
                 "packages %s\ncreated %s\n", key, id->method, id->mirror, id->suite,
                 id->arch, comp, pkgs, when) < 0)
        s = NULL;
    free(comp);
    free(pkgs);
    return s;
}

static int write_all(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, s, len);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        s += w;
        len -= (size_t)w;
    }
    return 0;
}

/* A new temporary beside final (".NAME.tmp.XXXXXX"): its fd, its path. */
static int temp_beside(const char *dir, const char *name, char **path_r, struct diag *d)
{
    int fd, r;

    if (asprintf(path_r, "%s/.%s.tmp.XXXXXX", dir, name) < 0) {
        *path_r = NULL;
        return -ENOMEM;
    }
    fd = mkostemp(*path_r, O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        diag_error(d, dir, 0, 0, "cannot create a file in the cache: %s", strerror(-r));
        free(*path_r);
        *path_r = NULL;
        return r;
    }
    fchmod(fd, 0644);
    return fd;
}

int cache_base_store(const char *cachedir, const char *key, const struct cache_base_id *id,
                     const char *root, struct extract_stats *stats, struct diag *d)
{
    char *dir = NULL, *tmp = NULL, *itmp = NULL, *final = NULL, *ifinal = NULL;
    char *info = NULL, *tarname = NULL;
    int fd = -1, ifd = -1, r;

    if (stats)
        memset(stats, 0, sizeof(*stats));
    if (!(dir = paths_join(cachedir, "base")) ||
        !(final = entry_path(cachedir, key, ".tar.zst")) ||
        !(ifinal = entry_path(cachedir, key, ".info")) ||
        !(info = info_text(key, id)) ||
        asprintf(&tarname, "%s.tar.zst", key) < 0) {
        tarname = NULL;
        r = -ENOMEM;
        goto out;
    }
    if ((r = cache_mkdir(dir, d)) < 0)
        goto out;
    sweep(dir);
    if ((fd = r = temp_beside(dir, tarname, &tmp, d)) < 0)
        goto out;
    if ((r = extract_pack(root, fd, EXTRACT_PACK_ZSTD, stats, d)) < 0)
        goto out;
    if (fsync(fd) < 0 || close(fd) < 0) {
        fd = -1;
        r = -errno;
        diag_error(d, tmp, 0, 0, "cannot write: %s", strerror(-r));
        goto out;
    }
    fd = -1;
    if ((ifd = r = temp_beside(dir, key, &itmp, d)) < 0)
        goto out;
    if ((r = write_all(ifd, info, strlen(info))) < 0 || (fsync(ifd) < 0 && (r = -errno))) {
        diag_error(d, itmp, 0, 0, "cannot write: %s", strerror(-r));
        goto out;
    }
    /* the description first: the archive's name is the entry's presence */
    if (rename(itmp, ifinal) < 0 || rename(tmp, final) < 0) {
        r = -errno;
        diag_error(d, final, 0, 0, "cannot put the new entry in place: %s", strerror(-r));
        goto out;
    }
    free(itmp);
    free(tmp);
    itmp = tmp = NULL;
    r = 0;
out:
    if (fd >= 0)
        close(fd);
    if (ifd >= 0)
        close(ifd);
    if (tmp)
        unlink(tmp);
    if (itmp)
        unlink(itmp);
    free(tmp);
    free(itmp);
    free(dir);
    free(final);
    free(ifinal);
    free(info);
    free(tarname);
    return r;
}

/* A suite or architecture name fit for a file name. */
static bool plain_name(const char *s)
{
    if (!s || !*s || s[0] == '.' || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.' || *s == '+'))
            return false;
    return true;
}

int cache_debs_dir(const char *cachedir, const char *suite, const char *arch,
                   char **dir_r, struct diag *d)
{
    int r;

    *dir_r = NULL;
    if (!plain_name(suite) || !plain_name(arch)) {
        diag_error(d, NULL, 0, 0, "suite `%s' or architecture `%s' cannot name a "
                   "package cache", suite ? suite : "", arch ? arch : "");
        return -EINVAL;
    }
    if (asprintf(dir_r, "%s/debs/%s-%s", cachedir, suite, arch) < 0) {
        *dir_r = NULL;
        return -ENOMEM;
    }
    if ((r = cache_mkdir(*dir_r, d)) < 0) {
        free(*dir_r);
        *dir_r = NULL;
        return r;
    }
    sweep(*dir_r);
    return 0;
}
