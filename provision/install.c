/*
 * install.c - the guest's root into the staging directory: mmdebstrap,
 * debootstrap, a tarball or a tree, with the base-root cache (see
 * install.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "extract.h"
#include "install.h"
#include "nsrun.h"
#include "paths.h"
#include "proc.h"
#include "rpminst.h"
#include "strv.h"

extern char **environ;

/* The namespace every bootstrap tool runs in (install.h). */
static const char *const unshare_argv[] = {
    "unshare", "--mount", "--propagation", "private", "--pid", "--fork",
    "--kill-child", "--mount-proc", NULL,
};

#define NS_GONE_WAIT_MS 10000   /* for the killed namespace to empty */

/* --- small things ---------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A growing NULL-terminated vector of owned strings. */
struct strv {
    char **v;
    size_t n;
    bool oom;
};

__attribute__((format(printf, 2, 3)))
static void strv_addf(struct strv *s, const char *fmt, ...)
{
    char **nv, *str;
    va_list ap;
    int r;

    if (s->oom)
        return;
    va_start(ap, fmt);
    r = vasprintf(&str, fmt, ap);
    va_end(ap);
    if (r < 0 || !(nv = realloc(s->v, (s->n + 2) * sizeof(*nv)))) {
        if (r >= 0)
            free(str);
        s->oom = true;
        return;
    }
    s->v = nv;
    s->v[s->n++] = str;
    s->v[s->n] = NULL;
}

static void strv_add(struct strv *s, const char *str)
{
    strv_addf(s, "%s", str);
}

static void strv_free(struct strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* --- checking the request ---------------------------------------------- */

static bool in_set(const char *s, const char *chars)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr(chars, *s)))
            return false;
    return true;
}

/* A suite, component or architecture: a word apt and a file name take. */
static bool good_word(const char *s, bool slash)
{
    return s && *s && *s != '-' && *s != '.' && strlen(s) <= 64 &&
           in_set(s, slash ? "ABCDEFGHIJKLMNOPQRSTUVWXYZ-_.+/" : "ABCDEFGHIJKLMNOPQRSTUVWXYZ-_.+");
}

/* A package name (Debian Policy 5.6.1), optionally with :ARCH. */
static bool good_package(const char *s)
{
    const char *colon = strchr(s, ':');
    size_t n = colon ? (size_t)(colon - s) : strlen(s);

    if (n < 2 || n > 128 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '+' || s[i] == '-' || s[i] == '.'))
            return false;
    return !colon || good_word(colon + 1, false);
}

static bool good_mirror(const char *m)
{
    if (!m || (strncmp(m, "http://", 7) && strncmp(m, "https://", 8) &&
               strncmp(m, "file://", 7)) || strlen(m) > 2048)
        return false;
    for (const unsigned char *p = (const unsigned char *)m; *p; p++)
        if (*p <= ' ' || *p >= 0x7f || *p == ',' || *p == '[' || *p == ']' ||
            *p == '"' || *p == '\'' || *p == '\\')
            return false;
    return true;
}

static bool is_debian_method(const char *m)
{
    return strcmp(m, "mmdebstrap") == 0 || strcmp(m, "debootstrap") == 0;
}

/* 0 when dir is an empty directory, else -errno after a message. */
static int check_staging(const char *dir, struct diag *d)
{
    DIR *dh;
    struct dirent *de;
    int r = 0;

    if (!dir || dir[0] != '/') {
        diag_error(d, NULL, 0, 0, "install: the staging directory must be an absolute path");
        return -EINVAL;
    }
    if (!(dh = opendir(dir))) {
        r = -errno;
        diag_error(d, dir, 0, 0, "cannot open the staging directory: %s", strerror(-r));
        return r;
    }
    while ((de = readdir(dh)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            diag_error(d, dir, 0, 0, "the staging directory is not empty");
            r = -ENOTEMPTY;
            break;
        }
    closedir(dh);
    return r;
}

/* An rpm package name or capability: printable, no spaces, not an
 * option (they never reach a command line, but a log line). */
static bool good_capability(const char *s)
{
    if (!s || !*s || *s == '-' || strlen(s) > 255)
        return false;
    for (; *s; s++)
        if (*s <= ' ' || *s >= 0x7f)
            return false;
    return true;
}

static int check_rpm_request(const struct install_req *r, struct diag *d)
{
    size_t n;

    if (!good_word(r->release, false) || !good_word(r->arch, false)) {
        diag_error(d, NULL, 0, 0, "install: `%s' `%s' is not a release and architecture",
                   r->release ? r->release : "", r->arch ? r->arch : "");
        return -EINVAL;
    }
    if (!r->nrepos) {
        diag_error(d, NULL, 0, 0, "install: the rpm method needs a repository");
        return -EINVAL;
    }
    for (size_t i = 0; i < r->nrepos; i++) {
        const char *u = r->repos[i].url;

        if (!good_mirror(u) || u[strlen(u) - 1] != '/' || !good_word(r->repos[i].name, false)) {
            diag_error(d, NULL, 0, 0, "install: repository `%s': `%s' is not a repository"
                       " URL (http, https or file, ending in `/')",
                       r->repos[i].name ? r->repos[i].name : "", u ? u : "");
            return -EINVAL;
        }
    }
    for (n = 0; r->packages && r->packages[n]; n++)
        if (!good_capability(r->packages[n])) {
            diag_error(d, NULL, 0, 0, "install: `%s' is not a package name", r->packages[n]);
            return -EINVAL;
        }
    if (!n) {
        diag_error(d, NULL, 0, 0, "install: no package to install");
        return -EINVAL;
    }
    if (r->use_cache && (!r->cachedir || r->cachedir[0] != '/')) {
        diag_error(d, NULL, 0, 0, "install: the cache directory must be an absolute path");
        return -EINVAL;
    }
    return 0;
}

static int check_request(const struct install_req *r, struct diag *d)
{
    size_t n = 0;

    if (!r->method || (!is_debian_method(r->method) && strcmp(r->method, "tar") &&
                       strcmp(r->method, "copy") && strcmp(r->method, "rpm"))) {
        diag_error(d, NULL, 0, 0, "install: unknown method `%s'",
                   r->method ? r->method : "(none)");
        return -EINVAL;
    }
    /* the staging directory: install_root checks it (install_base_key has none) */
    if (!strcmp(r->method, "rpm"))
        return check_rpm_request(r, d);
    if (!is_debian_method(r->method)) {
        if (!r->source || !*r->source) {
            diag_error(d, NULL, 0, 0, "install: the %s method needs a source", r->method);
            return -EINVAL;
        }
        return 0;
    }
    if (!good_word(r->suite, false) || strlen(r->suite) > 64) {
        diag_error(d, NULL, 0, 0, "install: `%s' is not a suite name", r->suite ? r->suite : "");
        return -EINVAL;
    }
    if (!good_word(r->arch, false)) {
        diag_error(d, NULL, 0, 0, "install: `%s' is not an architecture", r->arch ? r->arch : "");
        return -EINVAL;
    }
    if (!good_mirror(r->mirror)) {
        diag_error(d, NULL, 0, 0, "install: `%s' is not a mirror URI (http, https or "
                   "file, without spaces, quotes, brackets or commas)",
                   r->mirror ? r->mirror : "");
        return -EINVAL;
    }
    for (n = 0; r->components && r->components[n]; n++)
        if (!good_word(r->components[n], true)) {
            diag_error(d, NULL, 0, 0, "install: `%s' is not a component", r->components[n]);
            return -EINVAL;
        }
    if (n == 0) {
        diag_error(d, NULL, 0, 0, "install: no component of the archive to install from");
        return -EINVAL;
    }
    for (n = 0; r->packages && r->packages[n]; n++)
        if (!good_package(r->packages[n])) {
            diag_error(d, NULL, 0, 0, "install: `%s' is not a package name", r->packages[n]);
            return -EINVAL;
        }
    if (!r->bootstrap_hooks || access(r->bootstrap_hooks, R_OK | X_OK) < 0) {
        diag_error(d, r->bootstrap_hooks, 0, 0, "the bootstrap hooks: %s",
                   r->bootstrap_hooks ? strerror(errno) : "not given");
        return -EINVAL;
    }
    if (r->use_cache && (!r->cachedir || r->cachedir[0] != '/')) {
        diag_error(d, NULL, 0, 0, "install: the cache directory must be an absolute path");
        return -EINVAL;
    }
    return 0;
}

/* --- running a bootstrap tool -------------------------------------------- */

/* The environment of the tools and hooks: ours with INITRD=No and, with
 * debcache, VMKIT_DEBCACHE (an inherited one is dropped). */
static int tool_env(const char *debcache, struct strv *env)
{
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "INITRD=", 7) && strncmp(*e, "VMKIT_DEBCACHE=", 15))
            strv_add(env, *e);
    strv_add(env, "INITRD=No");
    if (debcache)
        strv_addf(env, "VMKIT_DEBCACHE=%s", debcache);
    return env->oom ? -ENOMEM : 0;
}

/* " (its output is in FILE)" for fd, when fd is a file. */
static void log_hint(int fd, char *buf, size_t len)
{
    char link[64], target[PATH_MAX];
    ssize_t n;

    buf[0] = 0;
    if (fd < 0)
        return;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    n = readlink(link, target, sizeof(target) - 1);
    if (n > 0 && target[0] == '/') {
        target[n] = 0;
        snprintf(buf, len, " (its output is in %s)", target);
    }
}

static void log_line(int fd, char *const argv[])
{
    if (fd < 0)
        return;
    dprintf(fd, "vmkit: running");
    for (size_t i = 0; argv[i]; i++)
        dprintf(fd, " %s", argv[i]);
    dprintf(fd, "\n");
}

/* The first child of pid (unshare's: the namespace's init), or 0. */
static pid_t first_child(pid_t pid)
{
    char path[64], buf[64];
    long c = 0;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    if (!(f = fopen(path, "re")))
        return 0;
    if (fgets(buf, sizeof buf, f))
        c = strtol(buf, NULL, 10);
    fclose(f);
    return c > 0 ? (pid_t)c : 0;
}

/* Waits until pid is gone or a zombie (a namespace's init ends after
 * every process of its namespace). */
static void wait_gone(pid_t pid)
{
    for (int waited = 0; pid > 0 && waited < NS_GONE_WAIT_MS; waited += 20) {
        char path[64], buf[512], *p;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        if (!(f = fopen(path, "re")))
            return;
        p = fgets(buf, sizeof buf, f);
        fclose(f);
        if (!p || !(p = strrchr(buf, ')')) || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
            return;
        usleep(20 * 1000);
    }
}

/*
 * Runs argv (a bootstrap tool) under unshare_argv with env; its stdout
 * to log_fd, its stderr to tty_fd or log_fd.  0 when it exited with
 * status 0; -ECANCELED; -EIO after a message naming what and the log.
 */
static int run_tool(const char *what, char *const argv[], char *const env[],
                    int log_fd, int tty_fd, struct diag *d)
{
    struct strv full = { 0 };
    struct proc_opts o;
    pid_t pid, init = 0;
    int status = 0, rc;
    char hint[PATH_MAX + 64], st[96];

    for (size_t i = 0; unshare_argv[i]; i++)
        strv_add(&full, unshare_argv[i]);
    for (size_t i = 0; argv[i]; i++)
        strv_add(&full, argv[i]);
    if (full.oom) {
        strv_free(&full);
        return -ENOMEM;
    }
    proc_opts_init(&o);
    o.envp = env;
    o.stdin_fd = PROC_NULL;
    o.stdout_fd = log_fd >= 0 ? log_fd : PROC_NULL;
    o.stderr_fd = tty_fd >= 0 ? tty_fd : o.stdout_fd;
    log_line(log_fd, full.v);
    rc = proc_start(full.v[0], full.v, &o, &pid);
    strv_free(&full);
    if (rc < 0) {
        diag_error(d, NULL, 0, 0, "cannot run unshare for %s: %s", what, strerror(-rc));
        return rc;
    }
    /* learn the namespace's init while waiting, to see it gone if we
     * have to stop it */
    while ((rc = proc_wait(pid, 100, &status)) == -ETIMEDOUT)
        if (!init)
            init = first_child(pid);
    if (rc == -ECANCELED) {
        wait_gone(init ? init : 0);
        return rc;
    }
    if (rc < 0) {
        diag_error(d, NULL, 0, 0, "waiting for %s: %s", what, strerror(-rc));
        proc_kill(pid, 2000);
        wait_gone(init);
        return rc;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    log_hint(log_fd, hint, sizeof hint);
    diag_error(d, NULL, 0, 0, "%s %s%s", what, proc_status_text(status, st, sizeof st), hint);
    return -EIO;
}

/* The bootstrap hook scripts whose names start with prefix, sorted, as
 * paths in v. */
static int hook_scripts(const char *dir, const char *prefix, struct strv *v, struct diag *d)
{
    struct dirent **ents = NULL;
    int n = scandir(dir, &ents, NULL, alphasort);

    if (n < 0) {
        int r = -errno;

        diag_error(d, dir, 0, 0, "cannot read the bootstrap hooks: %s", strerror(-r));
        return r;
    }
    for (int i = 0; i < n; i++) {
        char *path;

        if (strncmp(ents[i]->d_name, prefix, strlen(prefix)) == 0 &&
            (path = paths_join(dir, ents[i]->d_name))) {
            if (access(path, X_OK) == 0)
                strv_add(v, path);
            free(path);
        }
        free(ents[i]);
    }
    free(ents);
    return v->oom ? -ENOMEM : 0;
}

/* --- the methods --------------------------------------------------------- */

static int run_mmdebstrap(const struct install_req *r, const char *debcache, struct diag *d)
{
    struct strv argv = { 0 }, env = { 0 };
    char *comps = strv_join(r->components, ","), *line = strv_join(r->components, " ");
    char *pkgs = strv_join(r->packages, ",");
    int rc = -ENOMEM;

    if (!comps || !line || !pkgs || tool_env(debcache, &env) < 0)
        goto out;
    strv_add(&argv, "mmdebstrap");
    strv_add(&argv, "--mode=root");
    strv_add(&argv, "--variant=apt");
    strv_add(&argv, "--format=directory");
    strv_addf(&argv, "--architectures=%s", r->arch);
    strv_addf(&argv, "--components=%s", comps);
    if (*pkgs)
        strv_addf(&argv, "--include=%s", pkgs);
    strv_add(&argv, "--dpkgopt=force-confold");
    strv_add(&argv, "--dpkgopt=force-confdef");
    strv_addf(&argv, "--hook-directory=%s", r->bootstrap_hooks);
    /* the debs stay in the root's apt cache for the customize hook that
     * copies them out; mmdebstrap's cleanup removes them afterwards */
    if (debcache)
        strv_add(&argv, "--skip=essential/unlink");
    if (r->tty_fd < 0)
        strv_add(&argv, "--verbose");   /* apt's and dpkg's output in the log */
    strv_add(&argv, "--");
    strv_add(&argv, r->suite);
    strv_add(&argv, r->staging);
    strv_addf(&argv, "deb %s %s %s", r->mirror, r->suite, line);
    if (argv.oom)
        goto out;
    rc = run_tool("mmdebstrap", argv.v, env.v, r->log_fd, r->tty_fd, d);
out:
    strv_free(&argv);
    strv_free(&env);
    free(comps);
    free(line);
    free(pkgs);
    return rc;
}

/* The bootstrap hooks' essential* and customize* scripts against the
 * root debootstrap made, each in a mount namespace with the root's
 * /proc, /sys and /dev (as mmdebstrap runs them). */
static int run_hooks_after(const struct install_req *r, char *const env[], struct diag *d)
{
    static const char *const stages[] = { "essential", "customize" };
    int rc = 0;

    for (size_t s = 0; !rc && s < 2; s++) {
        struct strv scripts = { 0 };

        rc = hook_scripts(r->bootstrap_hooks, stages[s], &scripts, d);
        for (size_t i = 0; !rc && i < scripts.n; i++) {
            char *argv[] = { scripts.v[i], (char *)r->staging, NULL };
            struct proc_opts o;
            char hint[PATH_MAX + 64], st[96];
            int status;

            proc_opts_init(&o);
            o.envp = env;
            o.stdout_fd = r->log_fd >= 0 ? r->log_fd : PROC_NULL;
            o.stderr_fd = o.stdout_fd;
            log_line(r->log_fd, argv);
            rc = nsrun(r->staging, argv, &o, 0, -1, &status);
            if (rc == -ECANCELED)
                break;
            if (rc < 0) {
                diag_error(d, scripts.v[i], 0, 0, "cannot run the bootstrap hook: %s",
                           strerror(-rc));
                break;
            }
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                log_hint(r->log_fd, hint, sizeof hint);
                diag_error(d, scripts.v[i], 0, 0, "the bootstrap hook %s%s",
                           proc_status_text(status, st, sizeof st), hint);
                rc = -EIO;
            }
        }
        strv_free(&scripts);
    }
    return rc;
}

/* Opens dir under root without following a symbolic link anywhere. */
static int open_under(const char *root, const char *rel)
{
    char *copy = strdup(rel), *save = NULL;
    int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);

    if (!copy) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    for (char *c = strtok_r(copy, "/", &save); c && fd >= 0; c = strtok_r(NULL, "/", &save)) {
        int next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        close(fd);
        fd = next;
    }
    free(copy);
    return fd;
}

/* Removes the regular files of root/rel whose names end in suffix
 * (NULL: all but "lock"). */
static void remove_files(const char *root, const char *rel, const char *suffix)
{
    int fd = open_under(root, rel);
    DIR *dh;
    struct dirent *de;

    if (fd < 0 || !(dh = fdopendir(fd))) {
        if (fd >= 0)
            close(fd);
        return;
    }
    while ((de = readdir(dh))) {
        size_t n = strlen(de->d_name);
        struct stat st;

        if (suffix ? (n < strlen(suffix) || strcmp(de->d_name + n - strlen(suffix), suffix))
                   : strcmp(de->d_name, "lock") == 0)
            continue;
        if (fstatat(dirfd(dh), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(st.st_mode))
            unlinkat(dirfd(dh), de->d_name, 0);
    }
    closedir(dh);
}

/* What mmdebstrap's cleanup removes and debootstrap leaves: the
 * downloaded packages, apt's caches and package lists (stale by the
 * time the guest runs; it updates them). */
static void clean_apt(const char *root)
{
    remove_files(root, "var/cache/apt/archives", ".deb");
    remove_files(root, "var/cache/apt", ".bin");
    remove_files(root, "var/lib/apt/lists", NULL);
}

static int run_debootstrap(const struct install_req *r, const char *debcache, struct diag *d)
{
    struct strv argv = { 0 }, env = { 0 };
    char *comps = strv_join(r->components, ","), *pkgs = strv_join(r->packages, ",");
    int rc = -ENOMEM;

    /* debootstrap keeps its own package cache: no hook gets one */
    if (!comps || !pkgs || tool_env(NULL, &env) < 0)
        goto out;
    strv_add(&argv, "debootstrap");
    strv_addf(&argv, "--arch=%s", r->arch);
    strv_add(&argv, "--variant=minbase");
    strv_addf(&argv, "--components=%s", comps);
    if (*pkgs)
        strv_addf(&argv, "--include=%s", pkgs);
    if (debcache)
        strv_addf(&argv, "--cache-dir=%s", debcache);
    /* debootstrap knows no "--"; none of these starts with `-' (checked) */
    strv_add(&argv, r->suite);
    strv_add(&argv, r->staging);
    strv_add(&argv, r->mirror);
    if (argv.oom)
        goto out;
    if ((rc = run_tool("debootstrap", argv.v, env.v, r->log_fd, r->tty_fd, d)) < 0)
        goto out;
    if ((rc = run_hooks_after(r, env.v, d)) < 0)
        goto out;
    clean_apt(r->staging);
out:
    strv_free(&argv);
    strv_free(&env);
    free(comps);
    free(pkgs);
    return rc;
}

/* --- the cache ----------------------------------------------------------- */

static int unlink_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    if (ftw->level == 0)
        return 0;
    return remove(path) < 0 ? -1 : 0;
}

/* Empties dir (not crossing mount points): 0 or -errno after a message. */
static int empty_dir(const char *dir, struct diag *d)
{
    if (nftw(dir, unlink_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0) {
        int r = errno ? -errno : -EIO;

        diag_error(d, dir, 0, 0, "cannot empty the staging directory: %s", strerror(-r));
        return r;
    }
    return 0;
}

/* Moves what tmp recorded into d as warnings. */
static void as_warnings(struct diag *d, const struct diag *tmp)
{
    for (size_t i = 0; i < tmp->n; i++)
        diag_warn(d, tmp->v[i].file, tmp->v[i].line, tmp->v[i].col, "%s", tmp->v[i].msg);
}

/*
 * Unpacks the entry at path into the staging directory.  1: done; 0: the
 * entry was bad (warned, removed, the staging directory emptied again);
 * -ECANCELED; -errno after a message.
 */
static int unpack_cached(const struct install_req *r, const char *path,
                         struct install_result *res, struct diag *d)
{
    struct extract_stats st;
    struct diag tmp;
    double t0 = now_s();
    int rc;

    diag_init(&tmp);
    rc = extract_archive(path, r->staging, NULL, &st, &tmp);
    res->seconds_extract = now_s() - t0;
    if (rc == 0 || rc == -ECANCELED || rc == -ENOMEM) {
        as_warnings(d, &tmp);
        diag_dispose(&tmp);
        if (rc == 0) {
            res->entries = st.entries;
            res->bytes = st.bytes;
            return 1;
        }
        return rc;
    }
    as_warnings(d, &tmp);
    diag_dispose(&tmp);
    diag_warn(d, path, 0, 0, "the cached base root cannot be used: removed, building "
              "the root afresh");
    cache_base_remove(r->cachedir, res->key);
    return (rc = empty_dir(r->staging, d)) < 0 ? rc : 0;
}

static void store_cached(const struct install_req *r, const struct cache_base_id *id,
                         struct install_result *res, struct diag *d, int *rc_r)
{
    struct extract_stats st;
    struct diag tmp;
    double t0 = now_s();
    int rc;

    diag_init(&tmp);
    rc = cache_base_store(r->cachedir, res->key, id, r->staging, &st, &tmp);
    res->seconds_cache_write = now_s() - t0;
    as_warnings(d, &tmp);
    diag_dispose(&tmp);
    if (rc == -ECANCELED || rc == -ENOMEM) {
        *rc_r = rc;
        return;
    }
    if (rc < 0)
        diag_warn(d, NULL, 0, 0, "the base root was not stored in the cache");
    else if (!res->entries) {
        res->entries = st.entries;
        res->bytes = st.bytes;
    }
}

/* --- install_root ---------------------------------------------------------- */

/*
 * The base root of id from the cache into the staging directory: 1 when
 * it was there and unpacked (res->cache_hit), 0 when the root must be
 * built (res->key set), -errno after a message.
 */
static int from_cache(const struct install_req *r, const struct cache_base_id *id,
                      struct install_result *res, struct diag *d)
{
    char *entry = NULL;
    int rc;

    if ((rc = cache_base_key(id, res->key, d)) < 0 ||
        (rc = cache_base_lookup(r->cachedir, res->key, &entry)) < 0)
        goto out;
    if (rc == 1 && (rc = unpack_cached(r, entry, res, d)) == 1)
        res->cache_hit = true;
out:
    free(entry);
    return rc;
}

/* What a Debian method's base root is made of, the suite's InRelease
 * fetched into *release_r (the caller frees it). */
static int debian_id(const struct install_req *r, struct cache_base_id *id, char **release_r,
                     struct diag *d)
{
    int rc;

    *id = (struct cache_base_id){
        .method = r->method, .mirror = r->mirror, .suite = r->suite, .arch = r->arch,
        .components = r->components, .packages = r->packages,
        .hooks_dir = r->bootstrap_hooks,
    };
    if ((rc = cache_fetch_release(r->mirror, r->suite, release_r, &id->release_len, d)) < 0)
        return rc;
    id->release = *release_r;
    return 0;
}

static int install_debian(const struct install_req *r, struct install_result *res,
                          struct diag *d)
{
    struct cache_base_id id;
    char *release = NULL, *debcache = NULL;
    double t0;
    int rc = 0;

    if (r->use_cache) {
        if ((rc = debian_id(r, &id, &release, d)) < 0)
            goto out;
        if ((rc = from_cache(r, &id, res, d)) != 0) {
            rc = rc == 1 ? 0 : rc;
            goto out;
        }
        if ((rc = cache_debs_dir(r->cachedir, r->suite, r->arch, &debcache, d)) < 0)
            goto out;
    }
    t0 = now_s();
    if (strcmp(r->method, "mmdebstrap") == 0)
        rc = run_mmdebstrap(r, debcache, d);
    else
        rc = run_debootstrap(r, debcache, d);
    res->seconds_bootstrap = now_s() - t0;
    if (rc == 0 && r->use_cache)
        store_cached(r, &id, res, d, &rc);
out:
    free(release);
    free(debcache);
    return rc;
}

/* The rpm method (rpminst.h), with the base cache keyed by every
 * repository's repomd.xml. */
/* What an rpm base root is made of, from st's repomd.xml files; the
 * repositories' names in *names_r (the caller frees the array). */
static int rpm_id(const struct install_req *r, const struct rpminst *st,
                  struct cache_base_id *id, char ***names_r)
{
    char **names = calloc(r->nrepos + 1, sizeof(*names));

    if (!names)
        return -ENOMEM;
    for (size_t i = 0; i < r->nrepos; i++)
        names[i] = (char *)r->repos[i].name;
    *id = (struct cache_base_id){
        .method = "rpm", .suite = r->release, .arch = r->arch, .packages = r->packages,
        .mirror = st->urls, .components = names, .release = st->repomd_all,
        .release_len = st->repomd_all_len,
    };
    *names_r = names;
    return 0;
}

static int install_rpm(const struct install_req *r, struct install_result *res,
                       struct diag *d)
{
    struct rpminst st;
    struct cache_base_id id;
    char **names = NULL;
    int rc;

    rpminst_init(&st);
    if ((rc = rpminst_fetch_repomd(r, &st, d)))
        goto out;
    if (r->use_cache) {
        if ((rc = rpm_id(r, &st, &id, &names)))
            goto out;
        if ((rc = from_cache(r, &id, res, d)) != 0) {
            rc = rc == 1 ? 0 : rc;
            goto out;
        }
    }
    if ((rc = rpminst_build(r, &st, res, d)) == 0 && r->use_cache)
        store_cached(r, &id, res, d, &rc);
out:
    free(names);
    rpminst_dispose(&st);
    return rc;
}

int install_base_key(const struct install_req *r, char key_r[CACHE_KEY_LEN + 1],
                     struct diag *d)
{
    struct install_req req = *r;
    struct cache_base_id id;
    struct rpminst st;
    char *release = NULL, **names = NULL;
    int rc;

    key_r[0] = 0;
    req.staging = NULL;         /* none is filled */
    if ((rc = check_request(&req, d)) < 0)
        return rc;
    if (is_debian_method(r->method)) {
        if (!(rc = debian_id(r, &id, &release, d)))
            rc = cache_base_key(&id, key_r, d);
        free(release);
        return rc;
    }
    if (strcmp(r->method, "rpm")) {
        diag_error(d, NULL, 0, 0, "a %s install has no base root key", r->method);
        return -EINVAL;
    }
    rpminst_init(&st);
    if (!(rc = rpminst_fetch_repomd(r, &st, d)) && !(rc = rpm_id(r, &st, &id, &names)))
        rc = cache_base_key(&id, key_r, d);
    free(names);
    rpminst_dispose(&st);
    return rc;
}

int install_root(const struct install_req *r, struct install_result *res, struct diag *d)
{
    struct extract_stats st = { 0 };
    double t0;
    int rc;

    memset(res, 0, sizeof(*res));
    if ((rc = check_staging(r->staging, d)) < 0 || (rc = check_request(r, d)) < 0)
        return rc;
    if (is_debian_method(r->method))
        return install_debian(r, res, d);
    if (!strcmp(r->method, "rpm"))
        return install_rpm(r, res, d);
    t0 = now_s();
    if (strcmp(r->method, "tar") == 0)
        rc = extract_archive(r->source, r->staging, NULL, &st, d);
    else
        rc = extract_tree(r->source, r->staging, NULL, &st, d);
    res->seconds_extract = now_s() - t0;
    res->entries = st.entries;
    res->bytes = st.bytes;
    return rc;
}
