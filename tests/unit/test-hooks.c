/*
 * test-hooks.c - the hook runner (provision/hooks.c): which files are
 * hooks, how directories merge, the roles' packages, and running hooks
 * against a root for real (nsrun: needs root, as the tests run).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hooks.h"
#include "proc.h"
#include "tap.h"

static char tmp[256];

static void dump(const struct diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        printf("#   %s:%d:%d: %s: %s\n", d->v[i].file ? d->v[i].file : "-", d->v[i].line,
               d->v[i].col, d->v[i].level == DIAG_ERROR ? "error" : "warning", d->v[i].msg);
}

/* tmp + "/" + rel in a static buffer (one at a time). */
static const char *at(const char *rel)
{
    static char buf[4][512];
    static int k;

    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, rel);
    return buf[k];
}

static void mkdirs(const char *rel)
{
    char path[512], *s;

    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    for (s = path + strlen(tmp) + 1; (s = strchr(s, '/')); s++) {
        *s = 0;
        mkdir(path, 0755);
        *s = '/';
    }
    mkdir(path, 0755);
}

static void put(const char *rel, const char *text, mode_t mode)
{
    FILE *f = fopen(at(rel), "w");

    if (!f) {
        printf("Bail out! cannot write %s: %s\n", at(rel), strerror(errno));
        exit(1);
    }
    fputs(text, f);
    fclose(f);
    chmod(at(rel), mode);
}

/* The whole of a file under tmp (static buffer), "" when absent. */
static const char *slurp(const char *rel)
{
    static char buf[8192];
    FILE *f = fopen(at(rel), "r");
    size_t n = 0;

    buf[0] = 0;
    if (f) {
        n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
    }
    return buf;
}

/* The list's base names joined by spaces (static buffer). */
static const char *names(const struct hook_list *l)
{
    static char buf[1024];

    buf[0] = 0;
    for (size_t i = 0; i < l->n; i++) {
        const char *b = strrchr(l->paths[i], '/');

        strcat(buf, i ? " " : "");
        strcat(buf, b ? b + 1 : l->paths[i]);
    }
    return buf;
}

static int has_msg(const struct diag *d, enum diag_level level, const char *want)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].level == level && strstr(d->v[i].msg, want))
            return 1;
    return 0;
}

static void test_collect(void)
{
    char a[512], missing[512], b[512];
    char *dirs[] = { a, missing, b, NULL };
    struct hook_list l = { 0 };
    struct diag d;
    int r;

    mkdirs("a/80-subdir");
    mkdirs("b");
    put("a/10-first", "#!/bin/sh\n", 0755);
    put("a/20-replaced", "#!/bin/sh\n", 0755);
    put("a/30-not-executable", "#!/bin/sh\n", 0644);
    put("a/README", "", 0755);
    put("a/5-short", "", 0755);
    put("a/1x-bad", "", 0755);
    put("a/40-", "", 0755);
    put("a/41-backup~", "", 0755);
    put("a/42-x.dpkg-old", "", 0755);
    put("a/43-x.dpkg-new", "", 0755);
    put("a/44-x.dpkg-dist", "", 0755);
    put("a/45-x.disabled", "", 0755);
    put("a/46-has space", "", 0755);
    put("a/47-has:colon", "", 0755);
    put("a/90-dotted.sh", "#!/bin/sh\n", 0755);
    put("a/Z1-upper", "", 0755);
    symlink("10-first", at("a/92-link"));
    symlink("nowhere", at("a/93-dangling"));
    mkfifo(at("a/94-fifo"), 0755);
    put("b/20-replaced", "#!/bin/sh\n", 0755);
    put("b/15-from-b", "#!/bin/sh\n", 0700);
    snprintf(a, sizeof a, "%s", at("a"));
    snprintf(missing, sizeof missing, "%s", at("missing"));
    snprintf(b, sizeof b, "%s", at("b"));

    diag_init(&d);
    r = hooks_collect(dirs, &l, &d);
    is_int(r, 0, "collect: a missing directory is skipped");
    is_str(names(&l), "10-first 15-from-b 20-replaced 90-dotted.sh 92-link",
           "collect: hooks only, merged, in order of name");
    if (l.n == 5) {
        is_str(l.paths[0], at("a/10-first"), "collect: absolute path from a");
        is_str(l.paths[1], at("b/15-from-b"), "collect: absolute path from b");
        is_str(l.paths[2], at("b/20-replaced"), "collect: the later directory wins");
    }
    ok(d.nerrors == 0 && d.n == 1 && has_msg(&d, DIAG_WARNING, "not executable") &&
       d.v[0].file && strstr(d.v[0].file, "30-not-executable"),
       "collect: one warning, for the hook that is not executable");
    dump(&d);
    hook_list_dispose(&l);
    ok(l.paths == NULL && l.n == 0, "dispose empties the list");
    diag_dispose(&d);

    /* a relative directory is taken from the current directory */
    {
        char *rel[] = { (char *)"b", NULL };
        char *cwd = getcwd(NULL, 0);

        diag_init(&d);
        if (chdir(tmp) == 0) {
            r = hooks_collect(rel, &l, &d);
            is_int(r, 0, "collect: relative directory");
            ok(l.n == 2 && !strcmp(l.paths[0], at("b/15-from-b")),
               "collect: relative directory gives absolute paths");
            hook_list_dispose(&l);
        }
        if (cwd && chdir(cwd) != 0)
            perror("chdir");
        free(cwd);
        diag_dispose(&d);
    }

    /* a "directory" that cannot be read */
    {
        char *bad[] = { a, (char *)at("a/10-first"), NULL };

        diag_init(&d);
        r = hooks_collect(bad, &l, &d);
        is_int(r, -ENOTDIR, "collect: a file given as a directory is an error");
        ok(l.n == 0 && l.paths == NULL, "collect: nothing kept on error");
        ok(d.nerrors == 1 && d.v[d.n - 1].file &&
           !strcmp(d.v[d.n - 1].file, at("a/10-first")) &&
           strstr(d.v[d.n - 1].msg, "cannot read the hook directory"),
           "collect: the error names the directory");
        dump(&d);
        diag_dispose(&d);
    }

    /* nothing at all */
    {
        char *none[] = { NULL };

        diag_init(&d);
        r = hooks_collect(none, &l, &d);
        ok(r == 0 && l.n == 0 && d.n == 0, "collect: no directories, no hooks");
        diag_dispose(&d);
    }
}

static void test_role_packages(void)
{
    char **pkgs = NULL;
    struct diag d;
    int r;

    mkdirs("data/hooks/roles/web");
    mkdirs("data/hooks/roles/db");
    mkdirs("data/hooks/roles/empty");
    mkdirs("data/hooks/roles/bad");
    put("data/hooks/roles/web/packages",
        "# the web role\nnginx   ssl-cert\n\n\tcurl # for checks\n#nope\nnginx\n", 0644);
    put("data/hooks/roles/db/packages", "postgresql\r\ncurl\nlibpq5\n", 0644);
    put("data/hooks/roles/bad/packages", "ok-one\n  Bad_Name ok-two\n", 0644);

    {
        char *roles[] = { (char *)"web", (char *)"empty", (char *)"db", NULL };

        diag_init(&d);
        r = hooks_role_packages(at("data"), roles, &pkgs, &d);
        is_int(r, 0, "role packages: read");
        if (r == 0) {
            char joined[256] = "";

            for (size_t i = 0; pkgs[i]; i++) {
                strcat(joined, i ? " " : "");
                strcat(joined, pkgs[i]);
            }
            is_str(joined, "nginx ssl-cert curl postgresql libpq5",
                   "role packages: in order, deduplicated, comments dropped");
            for (size_t i = 0; pkgs[i]; i++)
                free(pkgs[i]);
            free(pkgs);
        }
        dump(&d);
        diag_dispose(&d);
    }
    {
        char *roles[] = { (char *)"empty", NULL };

        diag_init(&d);
        pkgs = NULL;
        r = hooks_role_packages(at("data"), roles, &pkgs, &d);
        ok(r == 0 && pkgs && pkgs[0] == NULL, "role packages: a role without a packages file");
        free(pkgs);
        diag_dispose(&d);
    }
    {
        char *roles[] = { NULL };

        diag_init(&d);
        pkgs = NULL;
        r = hooks_role_packages(at("data"), roles, &pkgs, &d);
        ok(r == 0 && pkgs && pkgs[0] == NULL, "role packages: no roles, empty array");
        free(pkgs);
        diag_dispose(&d);
    }
    {
        char *roles[] = { (char *)"web", (char *)"nosuch", NULL };

        diag_init(&d);
        char *sentinel[] = { NULL };

        pkgs = sentinel;
        r = hooks_role_packages(at("data"), roles, &pkgs, &d);
        is_int(r, -EINVAL, "role packages: unknown role");
        ok(pkgs == sentinel, "role packages: nothing returned on error");
        ok(d.nerrors == 1 && has_msg(&d, DIAG_ERROR, "unknown role `nosuch'") &&
           has_msg(&d, DIAG_ERROR, "roles: bad, db, empty, web"),
           "role packages: the error names the role and the roles there are");
        dump(&d);
        diag_dispose(&d);
    }
    {
        char *roles[] = { (char *)"bad", NULL };

        diag_init(&d);
        r = hooks_role_packages(at("data"), roles, &pkgs, &d);
        is_int(r, -EINVAL, "role packages: a bad package name");
        ok(d.nerrors == 1 && d.v[0].line == 2 && d.v[0].col == 3 && d.v[0].file &&
           !strcmp(d.v[0].file, at("data/hooks/roles/bad/packages")) &&
           strstr(d.v[0].msg, "`Bad_Name' is not a package name"),
           "role packages: FILE:LINE:COL of the bad name");
        dump(&d);
        diag_dispose(&d);
    }
    {
        char *roles[] = { (char *)"../web", NULL };

        diag_init(&d);
        r = hooks_role_packages(at("data"), roles, &pkgs, &d);
        ok(r == -EINVAL && d.nerrors == 1, "role packages: a role name with a slash");
        diag_dispose(&d);
    }
}

struct seen {
    char names[512];
    int n;
};

static void progress(void *ctx, const char *path)
{
    struct seen *s = ctx;
    const char *b = strrchr(path, '/');

    strcat(s->names, s->n++ ? " " : "");
    strcat(s->names, b ? b + 1 : path);
}

/* Collects dir's hooks and runs them against tmp/root; the log in tmp/log. */
static int run(const char *dir, char *const *envp, int timeout_ms, struct seen *s,
               struct diag *d)
{
    char *dirs[] = { (char *)at(dir), NULL };
    struct hook_list l = { 0 };
    int fd, r;

    memset(s, 0, sizeof(*s));
    r = hooks_collect(dirs, &l, d);
    if (r)
        return r;
    fd = open(at("log"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    r = hooks_run(&l, at("root"), envp, fd, timeout_ms, progress, s, d);
    close(fd);
    hook_list_dispose(&l);
    return r;
}

static void test_run(void)
{
    static char *envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", (char *)"VMKIT_HOSTNAME=web1",
                            (char *)"VMKIT_FS=ext4", NULL };
    struct seen s;
    struct diag d;
    int r;

    mkdirs("root");
    mkdirs("run");
    put("run/10-args",
        "#!/bin/sh\n"
        "echo \"argc=$# root=$1\" > \"$1/args\"\n"
        "env | grep -v '^PWD=' | sort > \"$1/env\"\n"
        "cat > \"$1/stdin\"\n"
        "[ -r \"$1/proc/self/status\" ] && echo proc > \"$1/mounts\"\n"
        "[ -d \"$1/sys/kernel\" ] && echo sys >> \"$1/mounts\"\n"
        "[ -c \"$1/dev/null\" ] && echo dev >> \"$1/mounts\"\n"
        "echo to-stdout; echo to-stderr >&2\n",
        0755);
    put("run/20-second", "#!/bin/sh\necho second >> \"$1/order\"\n", 0755);

    diag_init(&d);
    r = run("run", envp, 10000, &s, &d);
    is_int(r, 0, "run: two hooks");
    ok(d.n == 0, "run: nothing recorded");
    is_str(s.names, "10-args 20-second", "run: progress called before each, in order");
    {
        char want[600];

        snprintf(want, sizeof want, "argc=1 root=%s\n", at("root"));
        is_str(slurp("root/args"), want, "run: the root is $1, the only argument");
    }
    is_str(slurp("root/env"),
           "PATH=/usr/sbin:/usr/bin:/sbin:/bin\nVMKIT_FS=ext4\nVMKIT_HOSTNAME=web1\n",
           "run: the environment is envp");
    is_str(slurp("root/stdin"), "", "run: stdin is /dev/null");
    is_str(slurp("root/mounts"), "proc\nsys\ndev\n", "run: /proc, /sys, /dev mounted in the root");
    ok(access(at("root/proc/self"), F_OK) != 0 && access(at("root/dev/null"), F_OK) != 0,
       "run: the mounts are gone with the hook");
    is_str(slurp("log"), "to-stdout\nto-stderr\n", "run: stdout and stderr to the log");
    is_str(slurp("root/order"), "second\n", "run: the second hook ran");
    dump(&d);
    diag_dispose(&d);

    /* the first failure stops the run and is reported */
    mkdirs("fail");
    put("fail/10-ok", "#!/bin/sh\necho ok >> \"$1/order2\"\n", 0755);
    put("fail/20-fail", "#!/bin/sh\necho 'it went wrong' >&2\nexit 3\n", 0755);
    put("fail/30-after", "#!/bin/sh\necho after >> \"$1/order2\"\n", 0755);
    diag_init(&d);
    r = run("fail", envp, 10000, &s, &d);
    is_int(r, -EINVAL, "failure: reported");
    is_str(s.names, "10-ok 20-fail", "failure: no hook after the failed one");
    is_str(slurp("root/order2"), "ok\n", "failure: the hook before it ran");
    {
        char want[600];

        snprintf(want, sizeof want, "hook 20-fail (%s): exited with status 3", at("fail"));
        ok(d.nerrors == 1 && d.n == 1 && !strcmp(d.v[0].msg, want), "failure: %s", want);
    }
    is_str(slurp("log"), "it went wrong\n", "failure: its message is in the log");
    dump(&d);
    diag_dispose(&d);

    /* killed by a signal */
    mkdirs("kill");
    put("kill/10-kill", "#!/bin/sh\nkill -9 $$\n", 0755);
    diag_init(&d);
    r = run("kill", envp, 10000, &s, &d);
    is_int(r, -EINVAL, "killed: reported");
    ok(d.nerrors == 1 && has_msg(&d, DIAG_ERROR, "10-kill") &&
       has_msg(&d, DIAG_ERROR, "killed by signal 9"), "killed: by signal 9");
    dump(&d);
    diag_dispose(&d);

    /* too slow */
    mkdirs("slow");
    put("slow/10-slow", "#!/bin/sh\nexec sleep 20\n", 0755);
    put("slow/20-never", "#!/bin/sh\necho ran > \"$1/never\"\n", 0755);
    diag_init(&d);
    {
        time_t t0 = time(NULL);

        r = run("slow", envp, 300, &s, &d);
        is_int(r, -ETIMEDOUT, "timeout: reported");
        ok(time(NULL) - t0 < 5, "timeout: the hook was stopped");
    }
    ok(d.nerrors == 1 && has_msg(&d, DIAG_ERROR, "hook 10-slow (") &&
       has_msg(&d, DIAG_ERROR, "timed out"), "timeout: the message names the hook");
    ok(access(at("root/never"), F_OK) != 0, "timeout: no hook after it");
    dump(&d);
    diag_dispose(&d);

    /* a root that cannot be set up: the mount fails in the child */
    mkdirs("noroot");
    put("noroot/10-x", "#!/bin/sh\nexit 0\n", 0755);
    {
        char *dirs[] = { (char *)at("noroot"), NULL };
        struct hook_list l = { 0 };
        int fd = open(at("log"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        diag_init(&d);
        r = hooks_collect(dirs, &l, &d);
        if (r == 0)
            r = hooks_run(&l, at("no/such/root"), envp, fd, 10000, NULL, NULL, &d);
        close(fd);
        is_int(r, -EINVAL, "no root: the hook fails");
        ok(has_msg(&d, DIAG_ERROR, "exited with status 127"), "no root: status 127");
        ok(strstr(slurp("log"), "nsrun: mkdir") != NULL, "no root: why, in the log");
        hook_list_dispose(&l);
        dump(&d);
        diag_dispose(&d);
    }

    /* cancelled: nothing runs, nothing is recorded */
    {
        static volatile sig_atomic_t flag = 1;

        proc_set_cancel(&flag);
        diag_init(&d);
        r = run("run", envp, 10000, &s, &d);
        is_int(r, -ECANCELED, "cancelled: reported");
        ok(s.n == 0 && d.n == 0, "cancelled: no hook run, nothing recorded");
        diag_dispose(&d);
        proc_set_cancel(NULL);
    }
}

int main(void)
{
    const char *t = getenv("TMPDIR");

    snprintf(tmp, sizeof tmp, "%s/test-hooks.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmp)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    test_collect();
    test_role_packages();
    if (geteuid() == 0)
        test_run();
    else
        ok(1, "# SKIP running hooks needs root (a mount namespace)");
    {
        char cmd[300];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", tmp);
    }
    return tap_done();
}
