/*
 * rpminst.c - a Red Hat family root from yum/dnf repositories (see
 * rpminst.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "dist.h"
#include "extract.h"
#include "fileio.h"
#include "http.h"
#include "nsrun.h"
#include "paths.h"
#include "proc.h"
#include "rpminst.h"
#include "rpmmd.h"
#include "strv.h"

#define WORK_DIR        ".vmkit-rpm"    /* in the staging root, removed */
#define RPM_TIMEOUT_MS  (60 * 60 * 1000)
#define QUERY_MAX       (16 * 1024 * 1024)

struct rpminst_repo {
    const struct install_repo *repo;
    char **bases;               /* mirrors, the one that answered first */
    size_t nbases;
    char *repomd;
    size_t repomd_len;
    struct rpmmd_repomd md;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void strv_free_(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* Appends a copy of s to the NULL-terminated *v (of *n): 0 or -ENOMEM. */
static int strv_push(char ***v, size_t *n, const char *s)
{
    char **nv = realloc(*v, (*n + 2) * sizeof(**v));

    if (!nv)
        return -ENOMEM;
    *v = nv;
    if (!(nv[*n] = strdup(s)))
        return -ENOMEM;
    nv[++*n] = NULL;
    return 0;
}

/* Moves what tmp recorded into d, as errors or as warnings. */
static void move_diag(struct diag *d, const struct diag *tmp, bool as_errors)
{
    for (size_t i = 0; i < tmp->n; i++)
        diag_add(d, as_errors ? DIAG_ERROR : DIAG_WARNING, tmp->v[i].file, tmp->v[i].line,
                 tmp->v[i].col, "%s", tmp->v[i].msg);
}

void rpminst_init(struct rpminst *st)
{
    memset(st, 0, sizeof(*st));
}

void rpminst_dispose(struct rpminst *st)
{
    for (size_t i = 0; i < st->nrepos; i++) {
        strv_free_(st->repos[i].bases);
        free(st->repos[i].repomd);
        rpmmd_repomd_dispose(&st->repos[i].md);
    }
    free(st->repos);
    free(st->repomd_all);
    free(st->urls);
    free(st->names);
    memset(st, 0, sizeof(*st));
}

/* ---- mirrors and repomd.xml ---- */

int rpminst_parse_mirrorlist(const char *text, size_t len, const char *name,
                             const char *release, const char *basearch, char ***v_r,
                             struct diag *d)
{
    char **v = NULL;
    size_t n = 0, lineno = 0;
    const char *p = text, *end = text + len;
    int r = 0;

    *v_r = NULL;
    while (p < end && n < RPMINST_MAX_MIRRORS) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *b = p, *e;
        char *url, *x;
        const char *why;

        e = nl ? nl : end;
        p = nl ? nl + 1 : end;
        lineno++;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            e--;
        if (b == e || *b == '#')
            continue;
        if (!(url = malloc((size_t)(e - b) + 2))) {
            r = -ENOMEM;
            goto out;
        }
        memcpy(url, b, (size_t)(e - b));
        url[e - b] = 0;
        if ((strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) ||
            strpbrk(url, " \t\"'\\`<>") || memchr(b, 0, (size_t)(e - b))) {
            diag_warn(d, name, (int)lineno, 0, "not an http or https URL, skipped");
            free(url);
            continue;
        }
        if (!(x = dist_expand(url, release, basearch, &why))) {
            free(url);
            if (errno == ENOMEM) {
                r = -ENOMEM;
                goto out;
            }
            diag_warn(d, name, (int)lineno, 0, "%s, skipped", why);
            continue;
        }
        free(url);
        if (!(url = realloc(x, strlen(x) + 2))) {
            free(x);
            r = -ENOMEM;
            goto out;
        }
        if (url[strlen(url) - 1] != '/')
            strcat(url, "/");
        r = strv_push(&v, &n, url);
        free(url);
        if (r)
            goto out;
    }
    if (!n) {
        r = -ENOENT;
        goto out;
    }
    *v_r = v;
    v = NULL;
out:
    strv_free_(v);
    return r;
}

/* The mirrors of repo: its mirror list's (when it has one and it can be
 * read: else a warning), then its own URL. */
static int find_mirrors(const struct install_req *req, const struct install_repo *repo,
                        struct rpminst_repo *rs, struct diag *d)
{
    size_t n = 0;
    int r;

    if (repo->mirrorlist) {
        struct diag tmp;
        char *buf = NULL, **list = NULL;
        size_t len = 0;

        diag_init(&tmp);
        r = http_get_buffer(repo->mirrorlist, RPMINST_MAX_MIRRORLIST, 0, &buf, &len, &tmp);
        if (r == -ECANCELED || r == -ENOMEM) {
            diag_dispose(&tmp);
            return r;
        }
        if (!r)
            r = rpminst_parse_mirrorlist(buf, len, repo->mirrorlist, req->release, req->arch,
                                         &list, &tmp);
        free(buf);
        move_diag(d, &tmp, false);
        diag_dispose(&tmp);
        if (r == -ENOMEM)
            return r;
        if (r)
            diag_warn(d, NULL, 0, 0, "repository %s: the mirror list %s gives no mirror;"
                      " using %s", repo->name, repo->mirrorlist, repo->url);
        for (size_t i = 0; list && list[i]; i++)
            if (strcmp(list[i], repo->url) && strv_push(&rs->bases, &n, list[i])) {
                strv_free_(list);
                return -ENOMEM;
            }
        strv_free_(list);
    }
    if ((r = strv_push(&rs->bases, &n, repo->url)))
        return r;
    rs->nbases = n;
    return 0;
}

/* repomd.xml from the first mirror that serves it, which then leads. */
static int fetch_repomd(struct rpminst_repo *rs, struct diag *d)
{
    struct diag tmp;
    int r = -EIO;

    diag_init(&tmp);
    for (size_t i = 0; i < rs->nbases; i++) {
        char *url = NULL;

        if (asprintf(&url, "%srepodata/repomd.xml", rs->bases[i]) < 0) {
            r = -ENOMEM;
            break;
        }
        r = http_get_buffer(url, RPMINST_MAX_REPOMD, 0, &rs->repomd, &rs->repomd_len, &tmp);
        if (!r)
            r = rpmmd_parse_repomd(rs->repomd, rs->repomd_len, url, &rs->md, &tmp);
        free(url);
        if (r == -ECANCELED || r == -ENOMEM)
            break;
        if (!r) {
            char *lead = rs->bases[i];

            memmove(rs->bases + 1, rs->bases, i * sizeof(*rs->bases));
            rs->bases[0] = lead;
            if (i)
                move_diag(d, &tmp, false);
            break;
        }
        free(rs->repomd);
        rs->repomd = NULL;
        rpmmd_repomd_dispose(&rs->md);
        memset(&rs->md, 0, sizeof(rs->md));
    }
    if (r && r != -ECANCELED) {
        diag_error(d, NULL, 0, 0, "repository %s: no mirror serves its metadata"
                   " (repodata/repomd.xml); tried %zu:", rs->repo->name, rs->nbases);
        move_diag(d, &tmp, true);
    }
    diag_dispose(&tmp);
    return r;
}

int rpminst_fetch_repomd(const struct install_req *r, struct rpminst *st, struct diag *d)
{
    size_t all = 0;
    int rc = 0;

    if (!(st->repos = calloc(r->nrepos, sizeof(*st->repos))))
        return -ENOMEM;
    st->nrepos = r->nrepos;
    for (size_t i = 0; i < r->nrepos; i++) {
        st->repos[i].repo = &r->repos[i];
        if ((rc = find_mirrors(r, &r->repos[i], &st->repos[i], d)) ||
            (rc = fetch_repomd(&st->repos[i], d)))
            return rc;
        all += strlen(r->repos[i].name) + strlen(r->repos[i].url) + 3 +
               st->repos[i].repomd_len;
    }
    /* the cache key's part: which repository said what */
    if (!(st->repomd_all = malloc(all + 1)))
        return -ENOMEM;
    for (size_t i = 0; i < st->nrepos; i++) {
        const struct rpminst_repo *rs = &st->repos[i];
        size_t k = (size_t)sprintf(st->repomd_all + st->repomd_all_len, "%s %s\n",
                                   rs->repo->name, rs->repo->url);

        st->repomd_all_len += k;
        memcpy(st->repomd_all + st->repomd_all_len, rs->repomd, rs->repomd_len);
        st->repomd_all_len += rs->repomd_len;
        st->repomd_all[st->repomd_all_len++] = '\n';
    }
    st->repomd_all[st->repomd_all_len] = 0;
    {
        char **u = calloc(st->nrepos + 1, sizeof(*u)), **nm = calloc(st->nrepos + 1, sizeof(*nm));

        if (!u || !nm) {
            free(u);
            free(nm);
            return -ENOMEM;
        }
        for (size_t i = 0; i < st->nrepos; i++) {
            u[i] = (char *)r->repos[i].url;
            nm[i] = (char *)r->repos[i].name;
        }
        st->urls = strv_join(u, " ");
        st->names = strv_join(nm, " ");
        free(u);
        free(nm);
        if (!st->urls || !st->names)
            return -ENOMEM;
    }
    return 0;
}

/* ---- files ---- */

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_tree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* The last component of a repository location. */
static const char *base_name(const char *loc)
{
    const char *s = strrchr(loc, '/');

    return s ? s + 1 : loc;
}

/* A file name from a digest: TYPE-HEX plus suffix, or NULL when the
 * digest is not plain hex (metadata we do not trust to name files). */
static char *digest_name(const char *type, const char *hex, const char *suffix)
{
    char *s = NULL;

    if (!type || !hex || !*hex || strspn(hex, "0123456789abcdefABCDEF") != strlen(hex) ||
        strlen(hex) > 128 || strspn(type, "abcdefghijklmnopqrstuvwxyz0123456789") !=
        strlen(type))
        return NULL;
    if (asprintf(&s, "%s-%s%s", type, hex, suffix) < 0)
        return NULL;
    return s;
}

/* Copies src to a new file dst (hard link when they share a file
 * system).  0 or -errno after a message. */
static int copy_file(const char *src, const char *dst, struct diag *d)
{
    int in = -1, out = -1, r = 0;
    struct stat st;

    if (link(src, dst) == 0)
        return 0;
    if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0 || fstat(in, &st) < 0) {
        r = -errno;
        diag_error(d, src, 0, 0, "cannot read: %s", strerror(-r));
        goto out;
    }
    if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0) {
        r = -errno;
        diag_error(d, dst, 0, 0, "cannot create: %s", strerror(-r));
        goto out;
    }
    /* sendfile: copy_file_range refuses two file systems (EXDEV), and
     * the cache is on disk while the staging root is in memory */
    for (off_t done = 0; done < st.st_size;) {
        ssize_t k = sendfile(out, in, NULL, (size_t)(st.st_size - done));

        if (k <= 0) {
            r = k < 0 ? -errno : -EIO;
            diag_error(d, dst, 0, 0, "cannot copy %s here: %s", src, strerror(-r));
            goto out;
        }
        done += k;
    }
out:
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) < 0 && !r)
        r = -errno;
    if (r && out >= 0)
        unlink(dst);
    return r;
}

/* ---- downloads ---- */

struct progress {
    int tty_fd;
    const char *what;
};

static void show_progress(void *arg, size_t done, size_t n, uint64_t now, uint64_t total)
{
    const struct progress *pr = arg;

    if (pr->tty_fd < 0)
        return;
    dprintf(pr->tty_fd, "\r  %s: %zu/%zu, %.1f of %.1f MiB%s", pr->what, done, n,
            (double)now / 1048576.0, (double)total / 1048576.0, done == n ? "\n" : "");
}

/*
 * Fetches files of one repository (items' dest, digest set) from its
 * mirrors; with a cache directory, a file already there whose digest
 * checks is not fetched again.
 */
static int fetch_items(const struct install_req *r, struct rpminst_repo *rs,
                       struct http_item *items, size_t n, const char *what,
                       struct diag *d)
{
    struct http_item **todo = NULL;
    struct http_item *want = NULL;
    struct progress pr = { r->tty_fd, what };
    struct http_opts o;
    char **tmp = NULL;
    size_t k = 0;
    int rc = 0;

    if (!n)
        return 0;
    if (!(want = calloc(n, sizeof(*want))) || !(todo = calloc(n, sizeof(*todo))) ||
        !(tmp = calloc(n, sizeof(*tmp)))) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int fd = open(items[i].dest, O_RDONLY | O_CLOEXEC);
        const char *slash = strrchr(items[i].dest, '/');

        if (fd >= 0) {
            struct diag t;
            int ok;

            diag_init(&t);
            ok = rpmmd_check_digest(fd, items[i].digest_type, items[i].digest,
                                    items[i].dest, &t) == 0;
            diag_dispose(&t);
            close(fd);
            if (ok) {
                items[i].result = 0;
                continue;
            }
        }
        /* fetched beside its name and renamed when whole: another run
         * sharing the cache never reads a file being written */
        if (asprintf(&tmp[k], "%.*s.%s.%ld.tmp", slash ? (int)(slash - items[i].dest + 1) : 0,
                     items[i].dest, slash ? slash + 1 : items[i].dest, (long)getpid()) < 0) {
            tmp[k] = NULL;
            rc = -ENOMEM;
            goto out;
        }
        want[k] = items[i];
        want[k].dest = tmp[k];
        todo[k++] = &items[i];
    }
    if (k) {
        http_opts_init(&o);
        rc = http_get_many(rs->bases, rs->nbases, want, k, 4, &o, show_progress, &pr, d);
        for (size_t i = 0; i < k; i++) {
            todo[i]->result = want[i].result;
            if (want[i].result)
                continue;
            if (rename(tmp[i], todo[i]->dest) < 0) {
                int e = -errno;

                diag_error(d, todo[i]->dest, 0, 0, "cannot rename %s to it: %s", tmp[i],
                           strerror(-e));
                unlink(tmp[i]);
                rc = rc ? rc : e;
            }
        }
    }
out:
    for (size_t i = 0; tmp && i < n; i++)
        free(tmp[i]);
    free(tmp);
    free(want);
    free(todo);
    return rc;
}

/* primary and filelists of every repository, into libsolv. */
static int load_metadata(const struct install_req *r, struct rpminst *st, const char *dir,
                         struct rpmmd_pool *pool, struct diag *d)
{
    static const char *const types[2] = { "primary", "filelists" };
    int rc = 0;

    for (size_t i = 0; i < st->nrepos && !rc; i++) {
        struct rpminst_repo *rs = &st->repos[i];
        const struct rpmmd_file *f[2] = { rpmmd_repomd_find(&rs->md, types[0]),
                                          rpmmd_repomd_find(&rs->md, types[1]) };
        struct http_item items[2];
        char *names[2] = { NULL, NULL };
        int fds[2] = { -1, -1 };
        size_t n = 0;

        memset(items, 0, sizeof(items));
        for (int t = 0; t < 2; t++) {
            if (!f[t])
                continue;
            names[t] = digest_name(f[t]->checksum_type, f[t]->checksum, "");
            if (!names[t]) {
                diag_error(d, NULL, 0, 0, "repository %s: repomd.xml: the %s checksum `%s'"
                           " is not a hex digest", rs->repo->name, types[t], f[t]->checksum);
                rc = -EINVAL;
                goto next;
            }
            free(names[t]);
            names[t] = NULL;
            if (asprintf(&names[t], "%s/%s-%s-%s", dir, f[t]->checksum_type, f[t]->checksum,
                         base_name(f[t]->location)) < 0) {
                names[t] = NULL;
                rc = -ENOMEM;
                goto next;
            }
            items[n].path = f[t]->location;
            items[n].dest = names[t];
            items[n].size = f[t]->size;
            items[n].digest_type = f[t]->checksum_type;
            items[n].digest = f[t]->checksum;
            n++;
        }
        if ((rc = fetch_items(r, rs, items, n, "metadata", d)))
            goto next;
        for (int t = 0; t < 2; t++)
            if (names[t] && (fds[t] = open(names[t], O_RDONLY | O_CLOEXEC)) < 0) {
                rc = -errno;
                diag_error(d, names[t], 0, 0, "cannot read: %s", strerror(-rc));
                goto next;
            }
        rc = rpmmd_pool_add_repo(pool, rs->repo->name, fds[0], f[0], fds[1], f[1], d);
next:
        for (int t = 0; t < 2; t++) {
            if (fds[t] >= 0)
                close(fds[t]);
            free(names[t]);
        }
    }
    return rc;
}

/* ---- the guest's rpm ---- */

/* The guest's rpm program, as a path in the guest, or NULL. */
static const char *guest_rpm(const char *root)
{
    static const char *const paths[] = { "usr/bin/rpm", "bin/rpm" };
    int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    const char *found = NULL;

    if (rootfd < 0)
        return NULL;
    for (size_t i = 0; i < 2 && !found; i++) {
        struct stat st;

        /* a link in the root (bin -> usr/bin) is the guest's, and fine:
         * the program runs chrooted */
        if (fstatat(rootfd, paths[i], &st, 0) == 0 && S_ISREG(st.st_mode) &&
            (st.st_mode & 0111))
            found = i ? "/bin/rpm" : "/usr/bin/rpm";
    }
    close(rootfd);
    return found;
}

static const char *const rpm_env[] = {
    "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C", "LC_ALL=C", "TERM=dumb",
    NULL,
};

/* Runs the guest's rpm with args in the root; its output to out_fd.
 * The wait status in *status_r. */
static int run_rpm(const struct install_req *r, const char *rpm, const char *const *args,
                   size_t nargs, int out_fd, int *status_r, struct diag *d)
{
    const char **argv = calloc(nargs + 2, sizeof(*argv));
    struct proc_opts o;
    int rc;

    if (!argv)
        return -ENOMEM;
    argv[0] = rpm;
    memcpy(argv + 1, args, nargs * sizeof(*argv));
    proc_opts_init(&o);
    o.envp = (char *const *)rpm_env;
    o.stdout_fd = out_fd >= 0 ? out_fd : PROC_NULL;
    o.stderr_fd = r->log_fd >= 0 ? r->log_fd : PROC_NULL;
    if (r->log_fd >= 0) {
        dprintf(r->log_fd, "vm-provision: in the guest root: %s", rpm);
        for (size_t i = 0; i < nargs && i < 8; i++)
            dprintf(r->log_fd, " %s", args[i]);
        dprintf(r->log_fd, "%s\n", nargs > 8 ? " ..." : "");
    }
    rc = nsrun(r->staging, (char *const *)argv, &o, NSRUN_CHROOT, RPM_TIMEOUT_MS, status_r);
    free(argv);
    if (rc == -ETIMEDOUT)
        diag_error(d, NULL, 0, 0, "the guest's rpm did not finish in %d minutes",
                   RPM_TIMEOUT_MS / 60000);
    else if (rc && rc != -ECANCELED)
        diag_error(d, NULL, 0, 0, "cannot run the guest's rpm: %s", strerror(-rc));
    return rc;
}

/* Which of pkgs the guest's database lacks: checked with its rpm -qa. */
static int check_database(const struct install_req *r, const char *rpm,
                          const struct rpmmd_pkg *pkgs, size_t n, struct diag *d)
{
    const char *const args[] = { "-qa", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n" };
    int fd = memfd_create("rpm-qa", MFD_CLOEXEC), status = 0, rc;
    char *out = NULL;
    size_t len = 0, missing = 0;

    if (fd < 0) {
        rc = -errno;
        diag_error(d, NULL, 0, 0, "cannot make a memory file: %s", strerror(-rc));
        return rc;
    }
    if ((rc = run_rpm(r, rpm, args, 3, fd, &status, d)))
        goto out;
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        char buf[64];

        diag_error(d, NULL, 0, 0, "the guest's rpm cannot read its own database (rpm -qa:"
                   " %s); see the log", proc_status_text(status, buf, sizeof buf));
        rc = -EIO;
        goto out;
    }
    if (lseek(fd, 0, SEEK_SET) < 0 || (rc = fd_read_bounded(fd, QUERY_MAX, &out, &len)) < 0) {
        rc = rc ? rc : -errno;
        diag_error(d, NULL, 0, 0, "cannot read rpm -qa's answer: %s", strerror(-rc));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        /* NEVRA without the epoch, as rpm -qa prints it */
        const char *nvra = pkgs[i].nevra, *colon = strchr(pkgs[i].epoch_version_release, ':');
        const char *p = out;
        bool found = false;
        char buf[1024];
        size_t k;

        if (colon) {
            snprintf(buf, sizeof buf, "%s-%s.%s", pkgs[i].name, colon + 1, pkgs[i].arch);
            nvra = buf;
        }
        k = strlen(nvra);
        while ((p = strstr(p, nvra))) {
            if ((p == out || p[-1] == '\n') && (p[k] == '\n' || !p[k])) {
                found = true;
                break;
            }
            p += k;
        }
        if (!found && missing++ < 10)
            diag_error(d, NULL, 0, 0, "the guest's rpm database lacks %s after the install",
                       nvra);
    }
    if (missing) {
        diag_error(d, NULL, 0, 0, "%zu of %zu packages are not in the guest's rpm database;"
                   " the log says what its rpm reported", missing, n);
        rc = -EIO;
    }
out:
    free(out);
    close(fd);
    return rc;
}

/*
 * The device nodes every root has before its /dev is mounted (what
 * mmdebstrap and anaconda make; no package carries them): an initramfs
 * may open /dev/console in the new root before it moves its devtmpfs
 * there (initramfs-tools' run-init does).  Made after the guest's rpm
 * ran, never through a package: rpm ran with the host's /dev mounted
 * there.  An existing entry is kept.
 */
static int make_dev(const char *root, struct diag *d)
{
    static const struct {
        const char *name;
        mode_t mode;
        unsigned major, minor;
        const char *link;
    } nodes[] = {
        { "console", S_IFCHR | 0600, 5, 1, NULL },
        { "null", S_IFCHR | 0666, 1, 3, NULL },
        { "zero", S_IFCHR | 0666, 1, 5, NULL },
        { "full", S_IFCHR | 0666, 1, 7, NULL },
        { "random", S_IFCHR | 0666, 1, 8, NULL },
        { "urandom", S_IFCHR | 0666, 1, 9, NULL },
        { "tty", S_IFCHR | 0666, 5, 0, NULL },
        { "ptmx", S_IFCHR | 0666, 5, 2, NULL },
        { "pts", S_IFDIR | 0755, 0, 0, NULL },
        { "shm", S_IFDIR | 01777, 0, 0, NULL },
        { "fd", 0, 0, 0, "/proc/self/fd" },
        { "stdin", 0, 0, 0, "/proc/self/fd/0" },
        { "stdout", 0, 0, 0, "/proc/self/fd/1" },
        { "stderr", 0, 0, 0, "/proc/self/fd/2" },
    };
    int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC), devfd = -1, r = 0;

    if (rootfd >= 0) {
        mkdirat(rootfd, "dev", 0755);
        devfd = openat(rootfd, "dev", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (devfd < 0) {
        r = -errno;
        diag_error(d, NULL, 0, 0, "guest root: /dev: %s", strerror(-r));
        goto out;
    }
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
        const char *n = nodes[i].name;
        int k;

        if (nodes[i].link)
            k = symlinkat(nodes[i].link, devfd, n);
        else if (S_ISDIR(nodes[i].mode))
            k = mkdirat(devfd, n, nodes[i].mode & 07777) ||
                fchmodat(devfd, n, nodes[i].mode & 07777, 0);
        else
            k = mknodat(devfd, n, nodes[i].mode, makedev(nodes[i].major, nodes[i].minor)) ||
                fchmodat(devfd, n, nodes[i].mode & 07777, 0);
        if (k && errno != EEXIST) {
            r = -errno;
            diag_error(d, NULL, 0, 0, "guest root: cannot make /dev/%s: %s", n, strerror(-r));
            goto out;
        }
    }
out:
    if (devfd >= 0)
        close(devfd);
    if (rootfd >= 0)
        close(rootfd);
    return r;
}

/* ---- rpminst_build ---- */

int rpminst_build(const struct install_req *r, struct rpminst *st,
                  struct install_result *res, struct diag *d)
{
    struct rpmmd_pool *pool = NULL;
    struct rpmmd_pkg *pkgs = NULL;
    size_t npkgs = 0;
    char *work = NULL, *metadir = NULL, *pkgdir = NULL, **files = NULL, **copies = NULL;
    const char **args = NULL;
    const char *rpm;
    double t0 = now_s(), tdl = 0;
    int rc;

    if (!(work = paths_join(r->staging, WORK_DIR))) {
        rc = -ENOMEM;
        goto out;
    }
    if (mkdir(work, 0700) < 0) {
        rc = -errno;
        diag_error(d, work, 0, 0, "cannot create: %s", strerror(-rc));
        goto out;
    }
    if (r->use_cache) {
        metadir = paths_join(r->cachedir, "rpm/repodata");
        pkgdir = paths_join(r->cachedir, "rpm/packages");
    } else {
        metadir = strdup(work);
        pkgdir = strdup(work);
    }
    if (!metadir || !pkgdir) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = cache_mkdir(metadir, d)) || (rc = cache_mkdir(pkgdir, d)))
        goto out;

    /* metadata, resolution */
    if ((rc = rpmmd_pool_new(r->arch, &pool, d)))
        goto out;
    tdl = now_s();
    rc = load_metadata(r, st, metadir, pool, d);
    res->seconds_download += now_s() - tdl;
    if (rc)
        goto out;
    if ((rc = rpmmd_resolve(pool, r->packages, &pkgs, &npkgs, d)))
        goto out;
    if (!(files = calloc(npkgs + 1, sizeof(*files)))) {
        rc = -ENOMEM;
        goto out;
    }

    /* the packages, repository by repository */
    tdl = now_s();
    for (size_t ri = 0; ri < st->nrepos; ri++) {
        struct http_item *items = calloc(npkgs ? npkgs : 1, sizeof(*items));
        size_t n = 0;

        if (!items) {
            rc = -ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < npkgs && !rc; i++) {
            char *name;

            if (pkgs[i].repo != (int)ri)
                continue;
            name = digest_name(pkgs[i].checksum_type, pkgs[i].checksum, ".rpm");
            if (!name) {
                diag_error(d, NULL, 0, 0, "repository %s: %s: the checksum `%s' is not a"
                           " hex digest", st->repos[ri].repo->name, pkgs[i].nevra,
                           pkgs[i].checksum ? pkgs[i].checksum : "");
                rc = -EINVAL;
                break;
            }
            files[i] = paths_join(pkgdir, name);
            free(name);
            if (!files[i]) {
                rc = -ENOMEM;
                break;
            }
            items[n].path = pkgs[i].location;
            items[n].dest = files[i];
            items[n].size = pkgs[i].size;
            items[n].digest_type = pkgs[i].checksum_type;
            items[n++].digest = pkgs[i].checksum;
        }
        if (!rc)
            rc = fetch_items(r, &st->repos[ri], items, n, "packages", d);
        free(items);
        if (rc)
            break;
    }
    res->seconds_download += now_s() - tdl;
    if (rc)
        goto out;

    /* unpacked: filesystem first (rpmmd_resolve put it there) */
    for (size_t i = 0; i < npkgs; i++) {
        struct extract_opts eo = { .flags = EXTRACT_DIR_LINKS };
        struct extract_stats es;

        if ((rc = extract_archive(files[i], r->staging, &eo, &es, d))) {
            if (rc != -ECANCELED)
                diag_error(d, NULL, 0, 0, "cannot unpack %s (from repository %s)",
                           pkgs[i].nevra, st->repos[pkgs[i].repo].repo->name);
            goto out;
        }
        res->entries += es.entries;
        res->bytes += es.bytes;
    }

    /* the guest's own rpm installs them again */
    if (!(rpm = guest_rpm(r->staging))) {
        diag_error(d, NULL, 0, 0, "the packages installed no rpm (/usr/bin/rpm): the guest"
                   " could not keep a database of its packages; add rpm to the"
                   " distribution's packages");
        rc = -ENOENT;
        goto out;
    }
    if (!(args = calloc(npkgs + 8, sizeof(*args))) ||
        !(copies = calloc(npkgs + 1, sizeof(*copies)))) {
        rc = -ENOMEM;
        goto out;
    }
    {
        size_t na = 0;
        int status = 0;

        args[na++] = "--install";
        args[na++] = "--nodeps";            /* resolved already, by libsolv */
        args[na++] = "--replacepkgs";
        args[na++] = "--replacefiles";      /* the files are there, unpacked */
        for (size_t i = 0; i < npkgs; i++) {
            char *in = NULL, *inside = NULL;

            /* the packages into the root: linked or copied from the cache */
            if (asprintf(&inside, "/%s/%zu-%s", WORK_DIR, i, base_name(pkgs[i].location)) < 0 ||
                !(in = paths_join(r->staging, inside + 1))) {
                free(inside);
                rc = -ENOMEM;
                goto out;
            }
            rc = strcmp(pkgdir, work) ? copy_file(files[i], in, d)
                                      : rename(files[i], in) < 0 ? -errno : 0;
            if (rc) {
                if (!strcmp(pkgdir, work))
                    diag_error(d, in, 0, 0, "cannot rename %s here: %s", files[i],
                               strerror(-rc));
                free(in);
                free(inside);
                goto out;
            }
            free(in);
            args[na++] = copies[i] = inside;
        }
        if ((rc = run_rpm(r, rpm, args, na, r->log_fd, &status, d)))
            goto out;
        if (!WIFEXITED(status) || WEXITSTATUS(status)) {
            char buf[64];

            diag_warn(d, NULL, 0, 0, "the guest's rpm reported failures while installing %zu"
                      " packages (%s): scriptlets that cannot run outside a booted system?"
                      " The log has its words", npkgs,
                      proc_status_text(status, buf, sizeof buf));
        }
    }
    if ((rc = check_database(r, rpm, pkgs, npkgs, d)) || (rc = make_dev(r->staging, d)))
        goto out;
    res->packages = npkgs;
out:
    if (work)
        remove_tree(work);
    res->seconds_bootstrap = now_s() - t0 - res->seconds_download;
    for (size_t i = 0; files && i < npkgs; i++)
        free(files[i]);
    free(files);
    for (size_t i = 0; copies && i < npkgs; i++)
        free(copies[i]);
    free(copies);
    free(args);
    rpmmd_pkgs_free(pkgs, npkgs);
    rpmmd_pool_free(pool);
    free(work);
    free(metadir);
    free(pkgdir);
    return rc;
}
