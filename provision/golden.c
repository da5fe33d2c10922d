/*
 * golden.c - golden images in the cache (see golden.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "golden.h"
#include "journal.h"
#include "paths.h"

#define KEY16           16      /* the key's hex digits that name its files */
#define HEX             "0123456789abcdef"
#define DIGITS          "0123456789"
#define INFO_MAX        (64 * 1024)
#define LOCK_POLL_NS    (100 * 1000 * 1000)

/* --- names -------------------------------------------------------------- */

static bool key_shape(const char *key)
{
    return strspn(key, HEX) == CACHE_KEY_LEN && !key[CACHE_KEY_LEN];
}

/* A key becomes part of file names: only cache_golden_key's shape. */
static int check_key(const char *key, struct diag *d)
{
    if (key_shape(key))
        return 0;
    diag_error(d, NULL, 0, 0, "not a golden image key: `%s'", key);
    return -EINVAL;
}

/* KEY16 hex digits, `-', decimal digits: what golden_build_commit names. */
static bool id_shape(const char *name)
{
    size_t n = strlen(name);

    return n < GOLDEN_ID_MAX && n > KEY16 + 1 && strspn(name, HEX) == KEY16 &&
           name[KEY16] == '-' && strspn(name + KEY16 + 1, DIGITS) == n - KEY16 - 1;
}

static char *golden_dir(const char *cachedir)
{
    return paths_join(cachedir, "golden");
}

/* --- reading entries ---------------------------------------------------- */

static void entry_dispose(struct golden_entry *e)
{
    free(e->dir);
    free(e->template_name);
    free(e->dist);
    free(e->arch);
    free(e->fs);
}

void golden_entries_free(struct golden_entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        entry_dispose(&v[i]);
    free(v);
}

/* Decimal digits that fit: 0 or -EINVAL. */
static int number(const char *s, uint64_t *v_r)
{
    if (!*s || strspn(s, DIGITS) != strlen(s))
        return -EINVAL;
    errno = 0;
    *v_r = strtoull(s, NULL, 10);
    return errno ? -EINVAL : 0;
}

/*
 * Fills e (its id set) from the text of its info, which is cut up.
 * Returns 0; -EINVAL when malformed: a NUL, a line without `=', a bad
 * number, key, id, created or size missing, or key and id not this
 * entry's; -ENOMEM.  Names it does not know are left for later versions.
 */
static int parse_info(char *text, size_t len, struct golden_entry *e)
{
    bool have_key = false, have_id = false, have_created = false, have_size = false;
    uint64_t created;
    char *line;

    if (strlen(text) != len)
        return -EINVAL;
    while ((line = strsep(&text, "\n"))) {
        char *value = strchr(line, '='), **field = NULL;

        if (!*line)
            continue;
        if (!value)
            return -EINVAL;
        *value++ = 0;
        if (strcmp(line, "key") == 0) {
            if (!key_shape(value) || strncmp(value, e->id, KEY16) != 0)
                return -EINVAL;
            memcpy(e->key, value, CACHE_KEY_LEN + 1);
            have_key = true;
        } else if (strcmp(line, "id") == 0) {
            if (strcmp(value, e->id) != 0)
                return -EINVAL;
            have_id = true;
        } else if (strcmp(line, "created") == 0) {
            if (number(value, &created) < 0 || created > LLONG_MAX)
                return -EINVAL;
            e->created = (long long)created;
            have_created = true;
        } else if (strcmp(line, "size") == 0) {
            if (number(value, &e->size) < 0)
                return -EINVAL;
            have_size = true;
        } else if (strcmp(line, "template") == 0) {
            field = &e->template_name;
        } else if (strcmp(line, "dist") == 0) {
            field = &e->dist;
        } else if (strcmp(line, "arch") == 0) {
            field = &e->arch;
        } else if (strcmp(line, "fs") == 0) {
            field = &e->fs;
        }
        if (field) {
            free(*field);
            if (!(*field = strdup(value)))
                return -ENOMEM;
        }
    }
    return have_key && have_id && have_created && have_size ? 0 : -EINVAL;
}

/*
 * Reads the entry called name in gfd (the directory gdir) into e.
 * Returns 0; -ENOMEM; or another -errno when it is no complete entry
 * (not a directory, a symlink, no regular info or disk.img, a malformed
 * info), which the callers skip.
 */
static int read_entry(int gfd, const char *gdir, const char *name, struct golden_entry *e)
{
    int efd = -1, ifd = -1, r;
    char *text = NULL;
    size_t len;
    struct stat st;

    memset(e, 0, sizeof(*e));
    memcpy(e->id, name, strlen(name) + 1);     /* id_shape: it fits */
    if ((efd = openat(gfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
        (ifd = openat(efd, "info", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
                      O_CLOEXEC)) < 0 ||
        fstat(ifd, &st) < 0) {
        r = -errno;
        goto out;
    }
    r = -EINVAL;
    if (!S_ISREG(st.st_mode))
        goto out;
    if ((r = fd_read_bounded(ifd, INFO_MAX, &text, &len)) < 0 ||
        (r = parse_info(text, len, e)) < 0)
        goto out;
    if (fstatat(efd, "disk.img", &st, AT_SYMLINK_NOFOLLOW) < 0) {
        r = -errno;
        goto out;
    }
    r = -EINVAL;
    if (!S_ISREG(st.st_mode))
        goto out;
    e->disk_bytes = (uint64_t)st.st_blocks * 512;
    r = (e->dir = paths_join(gdir, name)) ? 0 : -ENOMEM;
out:
    if (r)
        entry_dispose(e);
    if (ifd >= 0)
        close(ifd);
    if (efd >= 0)
        close(efd);
    free(text);
    return r;
}

static int by_age(const void *a, const void *b)
{
    const struct golden_entry *x = a, *y = b;

    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* The complete entries of key (NULL: of every key), oldest first. */
static int scan(const char *cachedir, const char *key, struct golden_entry **v_r,
                size_t *n_r, struct diag *d)
{
    char *gdir = golden_dir(cachedir);
    struct golden_entry *v = NULL;
    size_t n = 0, cap = 0;
    DIR *dh = NULL;
    struct dirent *de;
    int r = -ENOMEM;

    *v_r = NULL;
    *n_r = 0;
    if (!gdir)
        goto out;
    if (!(dh = opendir(gdir))) {
        r = errno == ENOENT ? 0 : -errno;
        if (r)
            diag_error(d, gdir, 0, 0, "cannot read the golden images: %s", strerror(-r));
        goto out;
    }
    while ((de = readdir(dh))) {
        if (!id_shape(de->d_name) || (key && strncmp(de->d_name, key, KEY16) != 0))
            continue;
        if (n == cap) {
            struct golden_entry *nv = realloc(v, (cap = cap ? 2 * cap : 8) * sizeof(*v));

            if (!nv) {
                r = -ENOMEM;
                goto out;
            }
            v = nv;
        }
        if ((r = read_entry(dirfd(dh), gdir, de->d_name, &v[n])) == -ENOMEM)
            goto out;
        /* another key with the same first digits is not key's */
        if (r == 0 && key && strcmp(v[n].key, key) != 0)
            entry_dispose(&v[n]);
        else if (r == 0)
            n++;
    }
    qsort(v, n, sizeof(*v), by_age);
    *v_r = v;
    *n_r = n;
    v = NULL;
    n = 0;
    r = 0;
out:
    golden_entries_free(v, n);
    if (dh)
        closedir(dh);
    free(gdir);
    return r;
}

int golden_lookup(const char *cachedir, const char *key, char **dir_r,
                  char id_r[GOLDEN_ID_MAX], struct diag *d)
{
    struct golden_entry *v = NULL;
    size_t n = 0;
    int r;

    *dir_r = NULL;
    id_r[0] = 0;
    if ((r = check_key(key, d)) < 0 || (r = scan(cachedir, key, &v, &n, d)) < 0 || n == 0)
        goto out;
    *dir_r = v[n - 1].dir;
    v[n - 1].dir = NULL;
    memcpy(id_r, v[n - 1].id, GOLDEN_ID_MAX);
    r = 1;
out:
    golden_entries_free(v, n);
    return r;
}

int golden_list(const char *cachedir, struct golden_entry **v_r, size_t *n_r,
                struct diag *d)
{
    return scan(cachedir, NULL, v_r, n_r, d);
}

/* --- locks -------------------------------------------------------------- */

/* Opens gdir/KEY16.lock, creating it, for the key (or ID) that starts
 * with those digits: the descriptor, or -errno after recording why. */
static int lock_open(const char *gdir, const char *key, struct diag *d)
{
    char *path = NULL;
    int fd;

    if (asprintf(&path, "%s/%.*s.lock", gdir, KEY16, key) < 0)
        return -ENOMEM;
    if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0) {
        fd = -errno;
        diag_error(d, path, 0, 0, "cannot open the lock: %s", strerror(-fd));
    }
    free(path);
    return fd;
}

int golden_lock(const char *cachedir, const char *key, bool exclusive,
                const volatile sig_atomic_t *cancel, int *fd_r, struct diag *d)
{
    const struct timespec poll = { 0, LOCK_POLL_NS };
    char *gdir = NULL;
    int fd = -1, r;

    *fd_r = -1;
    if ((r = check_key(key, d)) < 0)
        return r;
    if (!(gdir = golden_dir(cachedir))) {
        r = -ENOMEM;
        goto out;
    }
    if ((r = cache_mkdir(gdir, d)) < 0 || (fd = r = lock_open(gdir, key, d)) < 0)
        goto out;
    /* not a blocking flock: a signal handler's SA_RESTART would resume it
     * and the cancel never be seen */
    while (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0) {
        r = -errno;
        if (r != -EWOULDBLOCK) {
            diag_error(d, gdir, 0, 0, "cannot lock the golden images of %.*s: %s", KEY16,
                       key, strerror(-r));
            goto out;
        }
        if (cancel && *cancel) {
            r = -ECANCELED;
            goto out;
        }
        nanosleep(&poll, NULL);
    }
    *fd_r = fd;
    fd = -1;
    r = 0;
out:
    if (fd >= 0)
        close(fd);
    free(gdir);
    return r;
}

void golden_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}

/* --- building ----------------------------------------------------------- */

int golden_build_begin(const char *cachedir, const char *key, char **tmpdir_r,
                       struct diag *d)
{
    char *gdir = NULL, *stale = NULL, prefix[KEY16 + 8];
    DIR *dh = NULL;
    struct dirent *de;
    int r;

    *tmpdir_r = NULL;
    if ((r = check_key(key, d)) < 0)
        return r;
    snprintf(prefix, sizeof prefix, ".%.*s.new-", KEY16, key);
    if (!(gdir = golden_dir(cachedir))) {
        r = -ENOMEM;
        goto out;
    }
    if (!(dh = opendir(gdir))) {
        r = -errno;
        diag_error(d, gdir, 0, 0, "cannot read the golden images: %s", strerror(-r));
        goto out;
    }
    /* under the key's lock, so no build of it is running: these are dead */
    while ((de = readdir(dh))) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
            continue;
        free(stale);
        if (!(stale = paths_join(gdir, de->d_name))) {
            r = -ENOMEM;
            goto out;
        }
        if ((r = journal_remove_tree(stale)) < 0)
            diag_warn(d, stale, 0, 0, "cannot remove a killed build's files: %s",
                      strerror(-r));
    }
    if (asprintf(tmpdir_r, "%s/%sXXXXXX", gdir, prefix) < 0) {
        *tmpdir_r = NULL;
        r = -ENOMEM;
        goto out;
    }
    if (!mkdtemp(*tmpdir_r)) {
        r = -errno;
        diag_error(d, gdir, 0, 0, "cannot create a build directory: %s", strerror(-r));
        free(*tmpdir_r);
        *tmpdir_r = NULL;
        goto out;
    }
    chmod(*tmpdir_r, 0755);
    r = 0;
out:
    if (dh)
        closedir(dh);
    free(stale);
    free(gdir);
    return r;
}

/* Writes dir/info: key, id and created, then info's fields. */
static int write_info(const char *dir, const char *key, const char *id, long long created,
                      const struct golden_info *info, struct diag *d)
{
    const char *const fields[][2] = {
        { "template", info->template_name }, { "dist", info->dist },
        { "suite", info->suite }, { "arch", info->arch }, { "fs", info->fs },
        { "packages", info->packages }, { "roles", info->roles },
        { "base_key", info->base_key },
    };
    size_t nfields = sizeof fields / sizeof fields[0];
    char *path = paths_join(dir, "info");
    FILE *f = NULL;
    int fd = -1, r;

    if (!path)
        return -ENOMEM;
    for (size_t i = 0; i < nfields; i++)
        if (fields[i][1] && strchr(fields[i][1], '\n')) {
            diag_error(d, path, 0, 0, "%s cannot hold a newline: `%s'", fields[i][0],
                       fields[i][1]);
            r = -EINVAL;
            goto out;
        }
    if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644)) < 0 ||
        !(f = fdopen(fd, "w"))) {
        r = -errno;
        diag_error(d, path, 0, 0, "cannot write: %s", strerror(-r));
        goto out;
    }
    fd = -1;
    errno = 0;
    fprintf(f, "key=%s\nid=%s\ncreated=%lld\n", key, id, created);
    for (size_t i = 0; i < nfields; i++)
        if (fields[i][1])
            fprintf(f, "%s=%s\n", fields[i][0], fields[i][1]);
    fprintf(f, "size=%" PRIu64 "\n", info->size);
    r = fflush(f) == 0 && !ferror(f) ? 0 : errno ? -errno : -EIO;
    if (r)
        diag_error(d, path, 0, 0, "cannot write: %s", strerror(-r));
out:
    if (f)
        fclose(f);
    if (fd >= 0)
        close(fd);
    free(path);
    return r;
}

/* fsyncs every regular file of dir, then dir: 0 or -errno after recording. */
static int sync_dir(const char *dir, struct diag *d)
{
    DIR *dh = opendir(dir);
    struct dirent *de;
    int r = 0;

    if (!dh) {
        r = -errno;
        diag_error(d, dir, 0, 0, "cannot read: %s", strerror(-r));
        return r;
    }
    while (!r && (de = readdir(dh))) {
        struct stat st;
        int fd;

        if (fstatat(dirfd(dh), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISREG(st.st_mode))
            continue;
        if ((fd = openat(dirfd(dh), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
            fsync(fd) < 0) {
            r = -errno;
            diag_error(d, dir, 0, 0, "cannot write %s to disk: %s", de->d_name, strerror(-r));
        }
        if (fd >= 0)
            close(fd);
    }
    if (!r && fsync(dirfd(dh)) < 0) {
        r = -errno;
        diag_error(d, dir, 0, 0, "cannot write to disk: %s", strerror(-r));
    }
    closedir(dh);
    return r;
}

int golden_build_commit(const char *tmpdir, const char *key, const struct golden_info *info,
                        char **dir_r, char id_r[GOLDEN_ID_MAX], struct diag *d)
{
    const char *slash = strrchr(tmpdir, '/');
    char *gdir = NULL, id[GOLDEN_ID_MAX];
    time_t t = time(NULL);
    struct stat st;
    int gfd = -1, r;

    *dir_r = NULL;
    id_r[0] = 0;
    if ((r = check_key(key, d)) < 0)
        return r;
    if (!(gdir = strndup(tmpdir, slash ? (size_t)(slash - tmpdir) : 0))) {
        r = -ENOMEM;
        goto out;
    }
    if ((gfd = open(gdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        r = -errno;
        diag_error(d, gdir, 0, 0, "cannot open: %s", strerror(-r));
        goto out;
    }
    /* an older generation of this second keeps its name (guests may use it) */
    for (;; t++) {
        snprintf(id, sizeof id, "%.*s-%lld", KEY16, key, (long long)t);
        if (fstatat(gfd, id, &st, AT_SYMLINK_NOFOLLOW) < 0)
            break;
    }
    if ((r = write_info(tmpdir, key, id, (long long)t, info, d)) < 0 ||
        (r = sync_dir(tmpdir, d)) < 0)
        goto out;
    if (renameat2(AT_FDCWD, tmpdir, gfd, id, RENAME_NOREPLACE) < 0) {
        r = -errno;
        diag_error(d, tmpdir, 0, 0, "cannot put the golden image in place as %s: %s", id,
                   strerror(-r));
        goto out;
    }
    if (fsync(gfd) < 0) {
        r = -errno;
        diag_error(d, gdir, 0, 0, "cannot write to disk: %s", strerror(-r));
        goto out;
    }
    if (!(*dir_r = paths_join(gdir, id))) {
        r = -ENOMEM;
        goto out;
    }
    memcpy(id_r, id, GOLDEN_ID_MAX);
    r = 0;
out:
    if (gfd >= 0)
        close(gfd);
    free(gdir);
    return r;
}

/* --- removing ----------------------------------------------------------- */

int golden_remove(const char *cachedir, const char *id, struct diag *d)
{
    char *gdir = NULL, *aside = NULL, name[GOLDEN_ID_MAX + 32];
    int gfd = -1, lfd = -1, r;
    struct stat st;

    if (!id_shape(id)) {
        diag_error(d, NULL, 0, 0, "not a golden image ID: `%s'", id);
        return -EINVAL;
    }
    snprintf(name, sizeof name, ".%s.del-%ld", id, (long)getpid());
    if (!(gdir = golden_dir(cachedir)) || !(aside = paths_join(gdir, name))) {
        r = -ENOMEM;
        goto out;
    }
    /* looked for before the lock, not to leave lock files for typos */
    if ((gfd = open(gdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        fstatat(gfd, id, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        r = -errno;
        if (r == -ENOENT)
            diag_error(d, NULL, 0, 0, "no golden image %s", id);
        else
            diag_error(d, gdir, 0, 0, "cannot read the golden images: %s", strerror(-r));
        goto out;
    }
    if ((lfd = r = lock_open(gdir, id, d)) < 0)
        goto out;
    if (flock(lfd, LOCK_EX | LOCK_NB) < 0) {
        r = -errno;
        if (r == -EWOULDBLOCK) {
            r = -EBUSY;
            diag_error(d, NULL, 0, 0, "golden image %s is in use: being built or cloned now",
                       id);
        } else {
            diag_error(d, gdir, 0, 0, "cannot lock the golden images of %.*s: %s", KEY16,
                       id, strerror(-r));
        }
        goto out;
    }
    /* out of the entries' names first: a removal cut short leaves no half entry */
    if (renameat(gfd, id, gfd, name) < 0) {
        r = -errno;
        diag_error(d, gdir, 0, 0, "cannot remove %s: %s", id, strerror(-r));
        goto out;
    }
    if ((r = journal_remove_tree(aside)) < 0)
        diag_error(d, aside, 0, 0, "cannot remove: %s", strerror(-r));
out:
    golden_unlock(lfd);
    if (gfd >= 0)
        close(gfd);
    free(aside);
    free(gdir);
    return r;
}
