/*
 * install-driver - install_root (provision/install.c) from the command
 * line, for tests/provision/bootstrap.t; and a tree's manifest, to
 * compare two roots.
 *
 *   install-driver install --method M --staging DIR [--suite S --arch A
 *       --mirror URI --component C... --package P... --hooks DIR]
 *       [--source PATH] [--cachedir DIR] [--no-cache] [--log FILE]
 *     fills DIR; prints "key value" lines (cache_hit, key, seconds_*,
 *     entries, bytes) on stdout and the messages on stderr.  SIGTERM and
 *     SIGINT cancel (proc_set_cancel).  Exit 0; 1 failed; 3 cancelled;
 *     2 usage.
 *
 *   install-driver manifest DIR
 *     one line per file under DIR, sorted: path, type and mode, owner,
 *     size, sha256 of the content (or the link target, or the device),
 *     extended attributes, mtime, link count.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "install.h"
#include "proc.h"

static volatile sig_atomic_t cancelled;

static void on_signal(int sig)
{
    (void)sig;
    cancelled = 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: install-driver install --method M --staging DIR [options]\n"
                    "       install-driver manifest DIR\n");
    return 2;
}

static int add(char ***v, size_t *n, const char *s)
{
    char **nv = realloc(*v, (*n + 2) * sizeof(*nv));

    if (!nv)
        return -1;
    *v = nv;
    nv[(*n)++] = (char *)s;
    nv[*n] = NULL;
    return 0;
}

static int cmd_install(int argc, char **argv)
{
    static const struct option opts[] = {
        { "method", required_argument, NULL, 'm' },
        { "suite", required_argument, NULL, 's' },
        { "arch", required_argument, NULL, 'a' },
        { "mirror", required_argument, NULL, 'M' },
        { "component", required_argument, NULL, 'c' },
        { "package", required_argument, NULL, 'p' },
        { "source", required_argument, NULL, 'S' },
        { "staging", required_argument, NULL, 't' },
        { "cachedir", required_argument, NULL, 'C' },
        { "no-cache", no_argument, NULL, 'n' },
        { "hooks", required_argument, NULL, 'H' },
        { "log", required_argument, NULL, 'l' },
        { NULL, 0, NULL, 0 },
    };
    struct install_req req = { .log_fd = -1, .tty_fd = -1, .use_cache = true };
    struct install_result res;
    struct sigaction sa;
    char **comps = NULL, **pkgs = NULL;
    size_t ncomps = 0, npkgs = 0;
    struct diag d;
    int c, r;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm': req.method = optarg; break;
        case 's': req.suite = optarg; break;
        case 'a': req.arch = optarg; break;
        case 'M': req.mirror = optarg; break;
        case 'c': add(&comps, &ncomps, optarg); break;
        case 'p': add(&pkgs, &npkgs, optarg); break;
        case 'S': req.source = optarg; break;
        case 't': req.staging = optarg; break;
        case 'C': req.cachedir = optarg; break;
        case 'n': req.use_cache = false; break;
        case 'H': req.bootstrap_hooks = optarg; break;
        case 'l':
            req.log_fd = open(optarg, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            if (req.log_fd < 0) {
                perror(optarg);
                return 1;
            }
            break;
        default:
            return usage();
        }
    }
    if (optind != argc || !req.method || !req.staging)
        return usage();
    req.components = comps;
    req.packages = pkgs;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    proc_set_cancel(&cancelled);

    diag_init(&d);
    r = install_root(&req, &res, &d);
    diag_print(&d, stderr, "install-driver");
    diag_dispose(&d);
    printf("result %d\ncache_hit %d\nkey %s\nseconds_bootstrap %.2f\nseconds_extract %.2f\n"
           "seconds_cache_write %.2f\nentries %lu\nbytes %llu\n", r, res.cache_hit ? 1 : 0,
           res.key[0] ? res.key : "-", res.seconds_bootstrap, res.seconds_extract,
           res.seconds_cache_write, res.entries, (unsigned long long)res.bytes);
    free(comps);
    free(pkgs);
    if (r == -ECANCELED) {
        fprintf(stderr, "install-driver: cancelled\n");
        return 3;
    }
    return r ? 1 : 0;
}

/* --- manifest ------------------------------------------------------------ */

static size_t skip;

static void hex(const unsigned char *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
    out[2 * n] = 0;
}

static void sha256_file(const char *path, char out[65])
{
    unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    ssize_t n;

    strcpy(out, "unreadable");
    if (fd < 0 || !c) {
        if (fd >= 0)
            close(fd);
        EVP_MD_CTX_free(c);
        return;
    }
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    while ((n = read(fd, buf, sizeof buf)) > 0)
        EVP_DigestUpdate(c, buf, (size_t)n);
    EVP_DigestFinal_ex(c, md, &mdlen);
    hex(md, mdlen, out);
    close(fd);
    EVP_MD_CTX_free(c);
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The extended attributes as "name=hexvalue,...", sorted, in out. */
static void xattrs(const char *path, char *out, size_t len)
{
    char names[8192], *v[256];
    ssize_t n = llistxattr(path, names, sizeof names);
    size_t k = 0, o = 0;

    out[0] = 0;
    for (char *p = names; n > 0 && p < names + n && k < 256; p += strlen(p) + 1)
        v[k++] = p;
    qsort(v, k, sizeof(*v), by_str);
    for (size_t i = 0; i < k && o < len; i++) {
        unsigned char val[1024];
        char hv[2049];
        ssize_t m = lgetxattr(path, v[i], val, sizeof val);

        hex(val, m > 0 ? (size_t)m : 0, hv);
        o += (size_t)snprintf(out + o, len - o, "%s%s=%s", i ? "," : "", v[i], hv);
    }
}

static int manifest_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    char what[4200], xa[8192];

    (void)flag;
    (void)f;
    if (S_ISREG(st->st_mode)) {
        sha256_file(path, what);
    } else if (S_ISLNK(st->st_mode)) {
        ssize_t n = readlink(path, what + 2, sizeof what - 3);

        what[0] = '-';
        what[1] = '>';
        what[n > 0 ? n + 2 : 2] = 0;
    } else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
        snprintf(what, sizeof what, "dev %u:%u", major(st->st_rdev), minor(st->st_rdev));
    } else {
        what[0] = '-';
        what[1] = 0;
    }
    xattrs(path, xa, sizeof xa);
    printf("%s %06o %d:%d %lld %s [%s] %lld %lu\n",
           strlen(path) > skip ? path + skip : ".", (unsigned)st->st_mode, (int)st->st_uid,
           (int)st->st_gid, S_ISREG(st->st_mode) ? (long long)st->st_size : 0LL, what, xa,
           S_ISLNK(st->st_mode) ? 0LL : (long long)st->st_mtime, (unsigned long)st->st_nlink);
    return 0;
}

static int cmd_manifest(int argc, char **argv)
{
    if (argc != 2)
        return usage();
    skip = strlen(argv[1]) + 1;
    /* unsorted: the caller sorts (sort(1) with LC_ALL=C) */
    if (nftw(argv[1], manifest_one, 64, FTW_PHYS | FTW_MOUNT) != 0) {
        perror(argv[1]);
        return 1;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    if (strcmp(argv[1], "install") == 0)
        return cmd_install(argc - 1, argv + 1);
    if (strcmp(argv[1], "manifest") == 0)
        return cmd_manifest(argc - 1, argv + 1);
    return usage();
}
