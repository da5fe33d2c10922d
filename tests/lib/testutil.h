/*
 * testutil.h - what several unit test programs need besides TAP: files
 * written under a test's own directory, and programs run with their
 * output caught.  Header-only, like tap.h; every function is static and
 * may go unused.
 */
#ifndef VMKIT_TESTUTIL_H
#define VMKIT_TESTUTIL_H

#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diag.h"
#include "proc.h"

/* Writes dir/rel (its directories made as needed) with content and mode. */
__attribute__((unused))
static void test_put(const char *dir, const char *rel, const char *content, mode_t mode)
{
    char path[PATH_MAX + 64];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, rel);
    for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
        *p = 0;
        mkdir(path, 0755);
        *p = '/';
    }
    f = fopen(path, "w");
    fputs(content, f);
    fclose(f);
    chmod(path, mode);
}

/* dir/rel (rel may start with `/') in one of four rotating buffers: for
 * a few paths at a time. */
__attribute__((unused))
static char *test_path(const char *dir, const char *rel)
{
    static char buf[4][PATH_MAX + 64];
    static int slot;
    char *p = buf[slot++ % 4];

    snprintf(p, PATH_MAX + 64, "%s%s%s", dir, rel[0] == '/' ? "" : "/", rel);
    return p;
}

/* mkdir -p dir/rel (mode 0755), dir existing. */
__attribute__((unused))
static void test_mkdirs(const char *dir, const char *rel)
{
    char p[PATH_MAX + 64];

    snprintf(p, sizeof(p), "%s", test_path(dir, rel));
    for (char *s = p + strlen(dir) + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0755);
            *s = '/';
        }
    mkdir(p, 0755);
}

/* dir/rel becomes a symlink to target (whatever was there removed). */
__attribute__((unused))
static void test_link(const char *dir, const char *rel, const char *target)
{
    unlink(test_path(dir, rel));
    if (symlink(target, test_path(dir, rel)))
        printf("# cannot link %s\n", test_path(dir, rel));
}

struct test_out {
    char *buf;      /* NUL-terminated (binary output may hold NULs) */
    size_t len;
};

/* Runs argv (NULL-terminated) with stdout caught in o (caller frees
 * o->buf), stderr to err_fd (an fd or PROC_NULL).  The exit status, or
 * -1 when it did not run or was killed. */
__attribute__((unused))
static int test_capture_v(struct test_out *o, int err_fd, const char *const argv[])
{
    struct proc_opts po;
    struct stat st;
    int mfd = memfd_create("test-capture", MFD_CLOEXEC), status = 0, r;

    o->buf = NULL;
    o->len = 0;
    if (mfd < 0)
        return -1;
    proc_opts_init(&po);
    po.stdout_fd = mfd;
    po.stderr_fd = err_fd;
    r = proc_run(argv[0], (char *const *)argv, &po, 300 * 1000, &status);
    if (r == 0 && fstat(mfd, &st) == 0 && (o->buf = malloc((size_t)st.st_size + 1))) {
        ssize_t n = pread(mfd, o->buf, (size_t)st.st_size, 0);

        o->len = n > 0 ? (size_t)n : 0;
        o->buf[o->len] = '\0';
    }
    close(mfd);
    if (r || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

/* test_capture_v for the exit status only. */
__attribute__((unused))
static int test_status_v(int err_fd, const char *const argv[])
{
    struct test_out o;
    int s = test_capture_v(&o, err_fd, argv);

    free(o.buf);
    return s;
}

/* The program runs (is in $PATH): `PROG --version' started and exited. */
__attribute__((unused))
static bool test_have(const char *prog)
{
    char *argv[] = { (char *)prog, (char *)"--version", NULL };
    struct proc_opts po;
    int status;

    proc_opts_init(&po);
    po.stdout_fd = PROC_NULL;
    po.stderr_fd = PROC_NULL;
    return proc_run(prog, argv, &po, 30 * 1000, &status) == 0;
}

static int test_rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    remove(path);
    return 0;
}

/* Removes dir and everything under it, on its file system only. */
__attribute__((unused))
static void test_rm_tree(const char *dir)
{
    nftw(dir, test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Some entry of d at level, naming file (NULL: any), says every word of
 * the NULL-terminated list; when none does, d's entries are printed as
 * TAP comments. */
__attribute__((unused))
static bool test_said_v(const struct diag *d, enum diag_level level, const char *file,
                        const char *const words[])
{
    for (size_t i = 0; i < d->n; i++) {
        bool all = d->v[i].level == level &&
                   (!file || (d->v[i].file && !strcmp(d->v[i].file, file)));

        for (size_t w = 0; all && words[w]; w++)
            all = strstr(d->v[i].msg, words[w]) != NULL;
        if (all)
            return true;
    }
    for (size_t i = 0; i < d->n; i++)
        printf("#   %s: %s: %s\n", d->v[i].level == DIAG_ERROR ? "error" : "warning",
               d->v[i].file ? d->v[i].file : "-", d->v[i].msg);
    return false;
}

#define said(d, level, file, ...) \
    test_said_v((d), (level), (file), (const char *const[]){ __VA_ARGS__, NULL })

#endif
