/*
 * domstate.c - running domains as recorded in the run directory (see
 * domstate.h).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "domstate.h"
#include "fileio.h"
#include "net.h"
#include "paths.h"

static const char *const state_names[] = {
    [DOMSTATE_CREATING] = "creating",
    [DOMSTATE_RUNNING] = "running",
    [DOMSTATE_PAUSED] = "paused",
    [DOMSTATE_SHUTDOWN] = "shutdown",
    [DOMSTATE_CRASHED] = "crashed",
    [DOMSTATE_DYING] = "dying",
    [DOMSTATE_UNKNOWN] = "unknown",
};

const char *domstate_state_name(enum domstate_state s)
{
    return s <= DOMSTATE_UNKNOWN ? state_names[s] : "unknown";
}

enum domstate_state domstate_state_parse(const char *word)
{
    for (int i = 0; i < DOMSTATE_UNKNOWN; i++)
        if (word && !strcmp(word, state_names[i]))
            return i;
    return DOMSTATE_UNKNOWN;
}

void domstate_dispose(struct domstate *ds)
{
    free(ds->name);
    free(ds->dir);
    free(ds->info_json);
    memset(ds, 0, sizeof(*ds));
}

void domstate_list_free(struct domstate *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        domstate_dispose(&v[i]);
    free(v);
}

const char *domstate_check_name(const char *name)
{
    size_t n = strlen(name);
    bool digits = true;

    if (n == 0)
        return "a domain name cannot be empty";
    if (n > DOMSTATE_NAME_MAX)
        return "a domain name has at most 64 bytes";
    if (name[0] == '-' || name[0] == '.')
        return "a domain name cannot start with `-' or `.'";
    for (const char *p = name; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
            return "a domain name has only letters, digits, `_', `.' and `-'";
        if (!isdigit((unsigned char)*p))
            digits = false;
    }
    if (digits)
        return "a domain name cannot be all digits (that is a domain ID)";
    return NULL;
}

int domstate_path(char *buf, size_t len, const char *dir, const char *file)
{
    int n = snprintf(buf, len, "%s/%s", dir, file);

    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int mkdir_private(const char *path)
{
    struct stat st;

    if (mkdir(path, 0700) == 0)
        return 0;
    if (errno != EEXIST)
        return -errno;
    if (stat(path, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode))
        return -ENOTDIR;
    /* an existing run directory is made root-only again */
    if ((st.st_mode & 077) && chmod(path, st.st_mode & 0700) < 0)
        return -errno;
    return 0;
}

/* mkdir -p for the run root's parents (which may be shared: /run). */
static int mkdir_parents(const char *path)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);

    if (n >= sizeof(buf))
        return -ENAMETOOLONG;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    return 0;
}

char *domstate_root(bool mkdir_p)
{
    const char *run = paths_root(PATHS_RUN);
    char *root = paths_join(run, "domains");
    int r;

    if (!root || !mkdir_p)
        return root;
    if ((r = mkdir_parents(run)) || (r = mkdir_private(run)) ||
        (r = mkdir_private(root))) {
        free(root);
        errno = -r;
        return NULL;
    }
    return root;
}

int domstate_lock(void)
{
    char *root = domstate_root(true), *path;
    int fd;

    if (!root)
        return -errno;
    free(root);
    if (!(path = paths_join(paths_root(PATHS_RUN), "lock")))
        return -errno;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    free(path);
    if (fd < 0)
        return -errno;
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            int e = errno;

            close(fd);
            return -e;
        }
    }
    return fd;
}

int domstate_write(const char *dir, const char *file, const char *text)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    size_t len = strlen(text);
    int fd, r = 0;

    if (domstate_path(path, sizeof(path), dir, file) ||
        snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, text + off, len - off);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            break;
        }
        off += (size_t)w;
    }
    if (close(fd) < 0 && !r)
        r = -errno;
    if (!r && rename(tmp, path) < 0)
        r = -errno;
    if (r)
        unlink(tmp);
    return r;
}

int domstate_read(const char *dir, const char *file, char **text_r)
{
    char path[PATH_MAX];
    struct diag d;
    size_t len;
    int r;

    *text_r = NULL;
    if (domstate_path(path, sizeof(path), dir, file))
        return -ENAMETOOLONG;
    diag_init(&d);
    r = file_read_bounded(path, 1024 * 1024, FILE_MISSING_OK, text_r, &len, &d);
    diag_dispose(&d);
    if (r == 0 && len > 0 && (*text_r)[len - 1] == '\n')
        (*text_r)[len - 1] = '\0';
    return r;
}

int domstate_set_state(const char *dir, enum domstate_state s)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%s\n", domstate_state_name(s));
    return domstate_write(dir, "state", buf);
}

int domstate_proc_stat(pid_t pid, unsigned long long *start_r,
                       unsigned long long *cpu_r)
{
    char path[64], buf[1024], *p;
    unsigned long long utime = 0, stime = 0, start = 0;
    ssize_t n;
    int fd;

    if (pid <= 0)
        return -ESRCH;
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return -ESRCH;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -ESRCH;
    buf[n] = '\0';
    /* the command name may hold spaces and parentheses: skip to its end */
    if (!(p = strrchr(buf, ')')))
        return -ESRCH;
    p++;
    /* fields 3 (state), 14 (utime), 15 (stime), 22 (starttime) */
    for (int field = 3; field <= 22 && p; field++) {
        while (*p == ' ')
            p++;
        if (field == 3 && (*p == 'Z' || *p == 'X'))
            return -ESRCH;      /* a zombie has exited */
        if (field == 14)
            utime = strtoull(p, NULL, 10);
        else if (field == 15)
            stime = strtoull(p, NULL, 10);
        else if (field == 22)
            start = strtoull(p, NULL, 10);
        p = strchr(p, ' ');
    }
    if (start_r)
        *start_r = start;
    if (cpu_r)
        *cpu_r = utime + stime;
    return 0;
}

unsigned long long domstate_proc_starttime(pid_t pid)
{
    unsigned long long start;

    return domstate_proc_stat(pid, &start, NULL) ? 0 : start;
}

int domstate_write_pid(const char *dir, const char *file, pid_t pid)
{
    char buf[64];

    snprintf(buf, sizeof(buf), "%ld %llu\n", (long)pid, domstate_proc_starttime(pid));
    return domstate_write(dir, file, buf);
}

pid_t domstate_read_pid(const char *dir, const char *file)
{
    char *text;
    long pid = 0;
    unsigned long long start = 0;

    if (domstate_read(dir, file, &text))
        return 0;
    if (sscanf(text, "%ld %llu", &pid, &start) != 2 || pid <= 0 || pid > INT_MAX)
        pid = 0;
    free(text);
    if (pid && (start == 0 || domstate_proc_starttime((pid_t)pid) != start))
        pid = 0;
    return (pid_t)pid;
}

static int rm_tree_at(int dirfd)
{
    DIR *dir = fdopendir(dirfd);
    struct dirent *e;
    int r = 0;

    if (!dir) {
        close(dirfd);
        return -errno;
    }
    while ((e = readdir(dir))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (unlinkat(dirfd, e->d_name, 0) == 0)
            continue;
        if (errno == EISDIR) {
            int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                             O_CLOEXEC);

            if (sub < 0 || rm_tree_at(sub) || unlinkat(dirfd, e->d_name, AT_REMOVEDIR))
                r = -errno;
        } else if (errno != ENOENT) {
            r = -errno;
        }
    }
    closedir(dir);
    return r;
}

int domstate_remove(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int r;

    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    r = rm_tree_at(fd);
    if (rmdir(dir) < 0 && errno != ENOENT && !r)
        r = -errno;
    return r;
}

/* Deletes the taps a dead domain left behind. */
static void remove_taps(const char *dir)
{
    char *text, *save = NULL, why[256];

    if (domstate_read(dir, "taps", &text))
        return;
    for (char *t = strtok_r(text, "\n", &save); t; t = strtok_r(NULL, "\n", &save))
        net_tap_delete(t, why, sizeof(why));
    free(text);
}

static int load(const char *root, int domid, struct domstate *ds)
{
    char dir[PATH_MAX], *state = NULL;

    memset(ds, 0, sizeof(*ds));
    ds->domid = domid;
    snprintf(dir, sizeof(dir), "%s/%d", root, domid);
    if (!(ds->dir = strdup(dir)))
        return -ENOMEM;
    if (domstate_read(dir, "name", &ds->name) || !ds->name || !*ds->name) {
        domstate_dispose(ds);
        return -ENOENT;
    }
    domstate_read(dir, "state", &state);
    ds->state = domstate_state_parse(state);
    free(state);
    domstate_read(dir, "info.json", &ds->info_json);
    ds->qemu_pid = domstate_read_pid(dir, "qemu.pid");
    ds->supervisor_pid = domstate_read_pid(dir, "supervisor.pid");
    return 0;
}

static int cmp_domid(const void *a, const void *b)
{
    const struct domstate *x = a, *y = b;

    return (x->domid > y->domid) - (x->domid < y->domid);
}

int domstate_list(bool clean, struct domstate **v_r, size_t *n_r, size_t *cleaned_r)
{
    char *root = domstate_root(false);
    struct domstate *v = NULL;
    size_t n = 0, cap = 0, cleaned = 0;
    struct dirent *e;
    DIR *dir;
    int r = 0;

    *v_r = NULL;
    *n_r = 0;
    if (!root)
        return -errno;
    if (!(dir = opendir(root))) {
        r = errno == ENOENT ? 0 : -errno;
        free(root);
        return r;
    }
    while ((e = readdir(dir))) {
        struct domstate ds;
        char *end;
        long id = strtol(e->d_name, &end, 10);

        /* a domid's directory is its decimal number, without leading zeros */
        if (!isdigit((unsigned char)e->d_name[0]) || e->d_name[0] == '0' || *end ||
            id <= 0 || id > INT_MAX)
            continue;
        r = load(root, (int)id, &ds);
        if (r == -ENOMEM)
            break;
        if (r == -ENOENT || (!ds.qemu_pid && !ds.supervisor_pid)) {
            /* half made, or nothing of it runs any more */
            if (clean) {
                char path[PATH_MAX];

                snprintf(path, sizeof(path), "%s/%ld", root, id);
                remove_taps(path);
                domstate_remove(path);
                cleaned++;
                domstate_dispose(&ds);
                r = 0;
                continue;
            }
            if (r == -ENOENT) {
                r = 0;
                continue;
            }
        }
        r = 0;
        if (n == cap) {
            struct domstate *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));

            if (!nv) {
                domstate_dispose(&ds);
                r = -ENOMEM;
                break;
            }
            v = nv;
        }
        v[n++] = ds;
    }
    closedir(dir);
    free(root);
    if (r) {
        domstate_list_free(v, n);
        return r;
    }
    qsort(v, n, sizeof(*v), cmp_domid);
    *v_r = v;
    *n_r = n;
    if (cleaned_r)
        *cleaned_r = cleaned;
    return 0;
}

int domstate_find(const char *key, struct domstate *ds)
{
    struct domstate *v;
    size_t n;
    bool byid = *key != '\0';
    long id;
    int r;

    for (const char *p = key; *p; p++)
        if (!isdigit((unsigned char)*p))
            byid = false;
    /* not atoi: it would wrap "4294967298" to domid 2 */
    id = byid ? strtol(key, NULL, 10) : 0;
    memset(ds, 0, sizeof(*ds));
    if ((r = domstate_list(false, &v, &n, NULL)))
        return r;
    r = -ENOENT;
    for (size_t i = 0; i < n; i++) {
        if (byid ? v[i].domid == id : !strcmp(v[i].name, key)) {
            *ds = v[i];
            memset(&v[i], 0, sizeof(v[i]));
            r = 0;
            break;
        }
    }
    domstate_list_free(v, n);
    return r;
}

int domstate_create(const char *name, int *domid_r, char **dir_r)
{
    char *root = domstate_root(true), *text = NULL, path[PATH_MAX], buf[32];
    char *run = NULL;
    long next = 1;
    int r;

    *dir_r = NULL;
    if (!root)
        return -errno;
    if (!(run = strdup(paths_root(PATHS_RUN)))) {
        r = -ENOMEM;
        goto out;
    }
    if (domstate_read(run, "next-domid", &text) == 0) {
        next = strtol(text, NULL, 10);
        if (next <= 0 || next >= INT_MAX)
            next = 1;
    }
    /* skip any directory still in use (a wrapped counter, a lost file) */
    for (;;) {
        snprintf(path, sizeof(path), "%s/%ld", root, next);
        if (mkdir(path, 0700) == 0)
            break;
        if (errno != EEXIST) {
            r = -errno;
            goto out;
        }
        if (++next >= INT_MAX)
            next = 1;
    }
    snprintf(buf, sizeof(buf), "%ld\n", next + 1 >= INT_MAX ? 1 : next + 1);
    if ((r = domstate_write(run, "next-domid", buf)) ||
        (r = domstate_write(path, "name", name)) ||
        (r = domstate_set_state(path, DOMSTATE_CREATING)) ||
        /* the creator stands for the supervisor until it runs, so that a
         * cleanup never takes a domain being created for a dead one */
        (r = domstate_write_pid(path, "supervisor.pid", getpid()))) {
        domstate_remove(path);
        goto out;
    }
    if (!(*dir_r = strdup(path))) {
        domstate_remove(path);
        r = -ENOMEM;
        goto out;
    }
    *domid_r = (int)next;
    r = 0;
out:
    free(text);
    free(run);
    free(root);
    return r;
}
