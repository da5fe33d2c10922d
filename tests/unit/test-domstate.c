/*
 * test-domstate - the run-directory records of running domains
 * (hypervisor/domstate.c).  Every case points VMKIT_RUNDIR at RUN under
 * a fresh mkdtemp directory, which it removes when done.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "domstate.h"
#include "tap.h"

/* ---- helpers ---- */

static char top[512];           /* this case's mkdtemp directory */
static char run[768];           /* top/run: $VMKIT_RUNDIR */
static char root[1024];         /* run/domains */

/* A fresh top and VMKIT_RUNDIR=top/run (not made: domstate makes it). */
static void fresh(void)
{
    const char *tmpdir = getenv("TMPDIR");

    snprintf(top, sizeof(top), "%s/test-domstate.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(top)) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(run, sizeof(run), "%s/run", top);
    snprintf(root, sizeof(root), "%s/domains", run);
    setenv("VMKIT_RUNDIR", run, 1);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void done(void)
{
    nftw(top, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    unsetenv("VMKIT_RUNDIR");
}

/* The permission bits of path, or -1 if it does not exist. */
static int mode_of(const char *path)
{
    struct stat st;

    return stat(path, &st) < 0 ? -1 : (int)(st.st_mode & 07777);
}

/* The permission bits of dir/file, or -1. */
static int mode_in(const char *dir, const char *file)
{
    char path[PATH_MAX];

    if (domstate_path(path, sizeof(path), dir, file))
        return -1;
    return mode_of(path);
}

static bool is_dir(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

/* Makes dir/name (0700). */
static void mkdir_in(const char *dir, const char *name)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (mkdir(path, 0700) < 0)
        printf("# mkdir %s: %s\n", path, strerror(errno));
}

/* How many entries of dir end in ".tmp". */
static int count_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);

        if (len >= 4 && !strcmp(e->d_name + len - 4, ".tmp"))
            n++;
    }
    closedir(d);
    return n;
}

/* dir/file's text (trailing newline removed), or NULL; caller frees. */
static char *slurp(const char *dir, const char *file)
{
    char *text = NULL;

    domstate_read(dir, file, &text);
    return text;
}

static void read_is(const char *dir, const char *file, const char *want, const char *what)
{
    char *text = slurp(dir, file);

    is_str(text, want, "%s", what);
    free(text);
}

/* A child that waits until *wfd_r is closed, then exits. */
static pid_t start_blocker(int *wfd_r)
{
    int p[2];
    pid_t pid;

    if (pipe(p) < 0)
        return -1;
    if ((pid = fork()) == 0) {
        char c;

        close(p[1]);
        while (read(p[0], &c, 1) != 0)
            ;
        _exit(0);
    }
    close(p[0]);
    *wfd_r = p[1];
    return pid;
}

static void stop_blocker(pid_t pid, int wfd)
{
    close(wfd);
    waitpid(pid, NULL, 0);
}

/* A pid that has exited and been reaped (gone, until it is recycled). */
static pid_t dead_pid(void)
{
    pid_t pid = fork();

    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    return pid;
}

/* Writes "PID START" into dir/file. */
static void write_pid_text(const char *dir, const char *file, long pid,
                           unsigned long long start)
{
    char buf[64];

    snprintf(buf, sizeof(buf), "%ld %llu\n", pid, start);
    domstate_write(dir, file, buf);
}

/* s with control and non-ASCII bytes as \xNN, for a test's description
 * (a newline would end the TAP line).  Returns buf. */
static const char *printable(const char *s, char *buf, size_t len)
{
    size_t o = 0;

    for (; *s && o + 5 < len; s++) {
        unsigned char c = (unsigned char)*s;

        if (c < 0x20 || c >= 0x7f)
            o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
        else
            buf[o++] = (char)c;
    }
    buf[o] = '\0';
    return buf;
}

/* ---- cases ---- */

static void test_check_name(void)
{
    static const char *const good[] = {
        "web", "a", "web-01", "a_b.c-d", "0x1f", "1.2", "Z9_", "9a",
    };
    static const struct {
        const char *name, *why;
    } bad[] = {
        { "", "a domain name cannot be empty" },
        { "123", "a domain name cannot be all digits (that is a domain ID)" },
        { "0", "a domain name cannot be all digits (that is a domain ID)" },
        { "-web", "a domain name cannot start with `-' or `.'" },
        { ".web", "a domain name cannot start with `-' or `.'" },
        { "..", "a domain name cannot start with `-' or `.'" },
        { "a b", "a domain name has only letters, digits, `_', `.' and `-'" },
        { "a/b", "a domain name has only letters, digits, `_', `.' and `-'" },
        { "a:b", "a domain name has only letters, digits, `_', `.' and `-'" },
        { "web\n", "a domain name has only letters, digits, `_', `.' and `-'" },
        { "caf\xc3\xa9", "a domain name has only letters, digits, `_', `.' and `-'" },
    };
    char name[DOMSTATE_NAME_MAX + 2];

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        is_str(domstate_check_name(good[i]), NULL, "check_name: `%s' is fine", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char label[64];

        is_str(domstate_check_name(bad[i].name), bad[i].why, "check_name: `%s' refused",
               printable(bad[i].name, label, sizeof(label)));
    }

    memset(name, 'a', DOMSTATE_NAME_MAX);
    name[DOMSTATE_NAME_MAX] = '\0';
    is_str(domstate_check_name(name), NULL, "check_name: 64 bytes is fine");
    name[DOMSTATE_NAME_MAX] = 'a';
    name[DOMSTATE_NAME_MAX + 1] = '\0';
    is_str(domstate_check_name(name), "a domain name has at most 64 bytes",
           "check_name: 65 bytes refused");
    memset(name, '1', DOMSTATE_NAME_MAX + 1);
    is_str(domstate_check_name(name), "a domain name has at most 64 bytes",
           "check_name: 65 digits refused for its length first");
}

static void test_root(void)
{
    char *r;

    fresh();
    r = domstate_root(false);
    is_str(r, root, "root: RUNDIR/domains");
    ok(!exists(run), "root: not made without mkdir_p");
    free(r);
    r = domstate_root(true);
    is_str(r, root, "root: RUNDIR/domains with mkdir_p");
    is_int(mode_of(run), 0700, "root: RUNDIR made 0700");
    is_int(mode_of(root), 0700, "root: RUNDIR/domains made 0700");
    free(r);
    done();

    /* a trailing slash on $VMKIT_RUNDIR is not doubled */
    fresh();
    {
        char slash[PATH_MAX + 1];

        snprintf(slash, sizeof(slash), "%s/", run);
        setenv("VMKIT_RUNDIR", slash, 1);
        r = domstate_root(false);
        is_str(r, root, "root: a trailing `/' on VMKIT_RUNDIR is not doubled");
        free(r);
    }
    done();
}

static void test_lock(void)
{
    char path[PATH_MAX], deep[PATH_MAX];
    int fd, fd2, flags;

    fresh();
    fd = domstate_lock();
    ok(fd >= 0, "lock: returns an fd (%d)", fd);
    is_int(mode_of(run), 0700, "lock: RUNDIR made 0700");
    is_int(mode_of(root), 0700, "lock: RUNDIR/domains made 0700");
    snprintf(path, sizeof(path), "%s/lock", run);
    is_int(mode_of(path), 0600, "lock: RUNDIR/lock is 0600");
    flags = fd >= 0 ? fcntl(fd, F_GETFD) : 0;
    ok(flags >= 0 && (flags & FD_CLOEXEC), "lock: the fd is close-on-exec");

    /* the lock is held: another open file description cannot take it */
    fd2 = open(path, O_RDWR | O_CLOEXEC);
    ok(fd2 >= 0 && flock(fd2, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK,
       "lock: held while the fd is open");
    if (fd >= 0)
        close(fd);
    ok(fd2 >= 0 && flock(fd2, LOCK_EX | LOCK_NB) == 0, "lock: released by close");
    if (fd2 >= 0)
        close(fd2);

    /* taken again by a second call, while nobody holds it */
    fd = domstate_lock();
    ok(fd >= 0, "lock: taken again");
    if (fd >= 0)
        close(fd);
    done();

    /* an existing RUNDIR open to all is made root-only again */
    fresh();
    mkdir(run, 0755);
    chmod(run, 0755);
    mkdir_in(run, "domains");
    chmod(root, 0755);
    is_int(mode_of(run), 0755, "lock: RUNDIR made 0755 beforehand");
    fd = domstate_lock();
    ok(fd >= 0, "lock: on an existing 0755 RUNDIR");
    is_int(mode_of(run), 0700, "lock: existing RUNDIR made 0700");
    is_int(mode_of(root), 0700, "lock: existing RUNDIR/domains made 0700");
    if (fd >= 0)
        close(fd);
    done();

    /* missing parents are made */
    fresh();
    snprintf(deep, sizeof(deep), "%s/a/b/run", top);
    setenv("VMKIT_RUNDIR", deep, 1);
    fd = domstate_lock();
    ok(fd >= 0, "lock: RUNDIR's missing parents are made");
    is_int(mode_of(deep), 0700, "lock: deep RUNDIR is 0700");
    if (fd >= 0)
        close(fd);
    done();

    /* RUNDIR is a file */
    fresh();
    close(open(run, O_WRONLY | O_CREAT, 0600));
    fd = domstate_lock();
    is_int(fd, -ENOTDIR, "lock: RUNDIR a file: -ENOTDIR");
    if (fd >= 0)
        close(fd);
    done();
}

static void test_create(void)
{
    char path[PATH_MAX], want[PATH_MAX], *dir = NULL, *text;
    int domid = -1, r;
    pid_t pid;

    fresh();
    for (int i = 1; i <= 3; i++) {
        char name[16];

        snprintf(name, sizeof(name), "dom%d", i);
        domid = -1;
        r = domstate_create(name, &domid, &dir);
        is_int(r, 0, "create: %s", name);
        is_int(domid, i, "create: %s gets domid %d", name, i);
        snprintf(want, sizeof(want), "%s/%d", root, i);
        is_str(dir, want, "create: %s's directory", name);
        free(dir);
        dir = NULL;
    }
    read_is(run, "next-domid", "4", "create: next-domid is 4");

    snprintf(path, sizeof(path), "%s/1", root);
    read_is(path, "name", "dom1", "create: name recorded");
    read_is(path, "state", "creating", "create: state is creating");
    text = slurp(path, "supervisor.pid");
    snprintf(want, sizeof(want), "%ld %llu", (long)getpid(),
             domstate_proc_starttime(getpid()));
    is_str(text, want, "create: supervisor.pid is the caller's pid and start time");
    free(text);
    pid = domstate_read_pid(path, "supervisor.pid");
    is_int(pid, getpid(), "create: supervisor.pid reads back as the caller");
    is_int(mode_of(path), 0700, "create: the directory is 0700");
    is_int(mode_in(path, "name"), 0600, "create: name is 0600");
    is_int(mode_in(path, "state"), 0600, "create: state is 0600");
    is_int(mode_in(path, "supervisor.pid"), 0600, "create: supervisor.pid is 0600");
    is_int(mode_in(run, "next-domid"), 0600, "create: next-domid is 0600");
    is_int(count_tmp(path), 0, "create: no temp file left in the directory");
    is_int(count_tmp(run), 0, "create: no temp file left in RUNDIR");

    /* a removed domid is never given again: next-domid only grows */
    snprintf(path, sizeof(path), "%s/3", root);
    is_int(domstate_remove(path), 0, "create: domain 3 removed");
    r = domstate_create("again", &domid, &dir);
    is_int(r == 0 ? domid : r, 4, "create: after removing 3, the next is 4");
    free(dir);
    dir = NULL;
    for (int i = 1; i <= 4; i++) {
        snprintf(path, sizeof(path), "%s/%d", root, i);
        domstate_remove(path);
    }
    r = domstate_create("empty", &domid, &dir);
    is_int(r == 0 ? domid : r, 5, "create: with every domain removed, the next is 5");
    free(dir);
    dir = NULL;

    /* a directory already there is skipped */
    mkdir_in(root, "6");
    mkdir_in(root, "7");
    r = domstate_create("skip", &domid, &dir);
    is_int(r == 0 ? domid : r, 8, "create: existing 6 and 7 skipped, gets 8");
    snprintf(path, sizeof(path), "%s/6", root);
    text = slurp(path, "name");
    ok(text == NULL, "create: the skipped directory is left alone");
    free(text);
    free(dir);
    dir = NULL;
    read_is(run, "next-domid", "9", "create: next-domid is 9");

    /* a lost or garbled next-domid starts from 1 again, skipping those in use */
    domstate_write(run, "next-domid", "garbage\n");
    r = domstate_create("garbled", &domid, &dir);
    is_int(r == 0 ? domid : r, 1, "create: garbled next-domid: from 1 (free again)");
    free(dir);
    dir = NULL;
    snprintf(path, sizeof(path), "%s/next-domid", run);
    unlink(path);
    r = domstate_create("lost", &domid, &dir);
    is_int(r == 0 ? domid : r, 2, "create: lost next-domid: 1 in use, gets 2");
    free(dir);
    done();

    /* RUNDIR cannot be made */
    fresh();
    close(open(run, O_WRONLY | O_CREAT, 0600));
    dir = (char *)"not touched";
    domid = -1;
    r = domstate_create("x", &domid, &dir);
    is_int(r, -ENOTDIR, "create: RUNDIR a file: -ENOTDIR");
    ok(dir == NULL && domid == -1, "create: nothing returned on failure");
    done();
}

static void test_write_read(void)
{
    char *text = (char *)"x";
    char path[PATH_MAX];
    int r;

    fresh();
    mkdir(run, 0700);
    is_int(domstate_write(run, "f", "hello\n"), 0, "write: one line");
    read_is(run, "f", "hello", "read: the trailing newline removed");
    snprintf(path, sizeof(path), "%s/f", run);
    is_int(mode_of(path), 0600, "write: the file is 0600");
    is_int(count_tmp(run), 0, "write: no *.tmp left");

    is_int(domstate_write(run, "f", "two\n\n"), 0, "write: replaces the file");
    read_is(run, "f", "two\n", "read: only one trailing newline removed");
    domstate_write(run, "f", "no newline");
    read_is(run, "f", "no newline", "read: no newline: as written");
    domstate_write(run, "f", "a\nb\n");
    read_is(run, "f", "a\nb", "read: inner newlines kept");
    domstate_write(run, "f", "");
    read_is(run, "f", "", "read: an empty file reads empty");
    domstate_write(run, "f", "\n");
    read_is(run, "f", "", "read: a lone newline reads empty");
    is_int(count_tmp(run), 0, "write: still no *.tmp left after rewrites");

    /* replaced by rename: a reader's open file keeps the old text */
    {
        int fd;
        char buf[16] = "";

        domstate_write(run, "g", "old");
        snprintf(path, sizeof(path), "%s/g", run);
        fd = open(path, O_RDONLY);
        domstate_write(run, "g", "new");
        ok(fd >= 0 && read(fd, buf, sizeof(buf) - 1) == 3 && !strcmp(buf, "old"),
           "write: atomic (an open reader still sees the old file whole)");
        if (fd >= 0)
            close(fd);
        read_is(run, "g", "new", "write: then the new text");
    }

    r = domstate_read(run, "missing", &text);
    is_int(r, -ENOENT, "read: a missing file: -ENOENT");
    ok(text == NULL, "read: *text_r NULL when missing");

    snprintf(path, sizeof(path), "%s/nodir", run);
    is_int(domstate_write(path, "f", "x"), -ENOENT, "write: into a missing directory: -ENOENT");

    is_int(domstate_set_state(run, DOMSTATE_PAUSED), 0, "set_state: paused");
    read_is(run, "state", "paused", "set_state: the word read back");
    done();
}

static void test_pid(void)
{
    unsigned long long start;
    pid_t child, pid;
    int wfd = -1;

    fresh();
    mkdir(run, 0700);

    is_int(domstate_write_pid(run, "self.pid", getpid()), 0, "write_pid: ours");
    is_int(domstate_read_pid(run, "self.pid"), getpid(), "read_pid: ours reads back");

    start = domstate_proc_starttime(getpid());
    write_pid_text(run, "wrong.pid", getpid(), start + 1);
    is_int(domstate_read_pid(run, "wrong.pid"), 0, "read_pid: our pid, another start time: 0");
    write_pid_text(run, "zero.pid", getpid(), 0);
    is_int(domstate_read_pid(run, "zero.pid"), 0, "read_pid: start time 0: 0");

    /* a child recorded while it runs, read after it is gone */
    child = start_blocker(&wfd);
    ok(child > 0, "read_pid: a child started");
    is_int(domstate_write_pid(run, "child.pid", child), 0, "write_pid: the child");
    is_int(domstate_read_pid(run, "child.pid"), child, "read_pid: the running child");
    stop_blocker(child, wfd);
    is_int(domstate_read_pid(run, "child.pid"), 0, "read_pid: the child exited and reaped: 0");

    pid = dead_pid();
    write_pid_text(run, "dead.pid", pid, start);
    is_int(domstate_read_pid(run, "dead.pid"), 0, "read_pid: a dead pid: 0");
    is_int(domstate_write_pid(run, "dead2.pid", pid), 0, "write_pid: a dead pid");
    is_int(domstate_read_pid(run, "dead2.pid"), 0, "read_pid: written for a dead pid: 0");

    {
        static const char *const garbage[] = {
            "", "\n", "hello", "12", "x 5", "0 5", "-1 5", "99999999999 5",
        };

        for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
            char label[64];

            domstate_write(run, "bad.pid", garbage[i]);
            is_int(domstate_read_pid(run, "bad.pid"), 0, "read_pid: garbage `%s': 0",
                   printable(garbage[i], label, sizeof(label)));
        }
    }
    is_int(domstate_read_pid(run, "missing.pid"), 0, "read_pid: a missing file: 0");
    done();
}

static void test_starttime(void)
{
    unsigned long long self = domstate_proc_starttime(getpid()), renamed;
    char comm[32] = "";
    siginfo_t si;
    pid_t child;

    ok(self > 0, "starttime: ours is > 0 (%llu)", self);
    is_int(domstate_proc_starttime(getpid()), self, "starttime: stable");
    is_int(domstate_proc_starttime(0), 0, "starttime: pid 0: 0");
    is_int(domstate_proc_starttime(-1), 0, "starttime: pid -1: 0");
    is_int(domstate_proc_starttime(dead_pid()), 0, "starttime: a reaped pid: 0");

    /* a command name with spaces and parentheses does not shift fields */
    prctl(PR_GET_NAME, comm);
    prctl(PR_SET_NAME, ") x ) (y");
    renamed = domstate_proc_starttime(getpid());
    prctl(PR_SET_NAME, comm);
    is_int(renamed, self, "starttime: a command name `) x ) (y' is skipped whole");

    /* a zombie (exited, not yet reaped) has exited */
    child = fork();
    if (child == 0)
        _exit(0);
    memset(&si, 0, sizeof(si));
    ok(child > 0 && waitid(P_PID, (id_t)child, &si, WEXITED | WNOWAIT) == 0,
       "starttime: child exited, not reaped");
    is_int(domstate_proc_starttime(child), 0, "starttime: a zombie: 0");
    waitpid(child, NULL, 0);
}

static void test_state_names(void)
{
    static const char *const words[] = {
        "creating", "running", "paused", "shutdown", "crashed", "dying",
    };

    for (int s = DOMSTATE_CREATING; s < DOMSTATE_UNKNOWN; s++) {
        is_str(domstate_state_name(s), words[s], "state_name: %d", s);
        is_int(domstate_state_parse(domstate_state_name(s)), s, "state_parse: %s", words[s]);
    }
    is_str(domstate_state_name(DOMSTATE_UNKNOWN), "unknown", "state_name: unknown");
    is_str(domstate_state_name((enum domstate_state)99), "unknown", "state_name: out of range");
    is_int(domstate_state_parse("unknown"), DOMSTATE_UNKNOWN, "state_parse: unknown");
    is_int(domstate_state_parse("Running"), DOMSTATE_UNKNOWN, "state_parse: case matters");
    is_int(domstate_state_parse("running\n"), DOMSTATE_UNKNOWN, "state_parse: no newline");
    is_int(domstate_state_parse(""), DOMSTATE_UNKNOWN, "state_parse: empty");
    is_int(domstate_state_parse("bogus"), DOMSTATE_UNKNOWN, "state_parse: bogus");
    is_int(domstate_state_parse(NULL), DOMSTATE_UNKNOWN, "state_parse: NULL");
}

/* Domains 1 (a), 2 (b), 3 (c, running), 12 (twelve), 4 (dead: both pids
 * gone), 10 (half made: no name), and entries that are no domain. */
static void make_domains(pid_t dead)
{
    char path[PATH_MAX], *dir = NULL;
    int domid;

    domstate_create("a", &domid, &dir);
    free(dir);
    domstate_create("b", &domid, &dir);
    free(dir);
    domstate_create("c", &domid, &dir);
    domstate_set_state(dir, DOMSTATE_RUNNING);
    domstate_write(dir, "info.json", "{\"domid\":3}\n");
    domstate_write_pid(dir, "qemu.pid", getpid());
    free(dir);
    domstate_create("dead", &domid, &dir);
    write_pid_text(dir, "supervisor.pid", dead, 1);
    write_pid_text(dir, "qemu.pid", dead, 1);
    free(dir);
    /* created out of readdir's and strcmp's order */
    mkdir_in(root, "12");
    snprintf(path, sizeof(path), "%s/12", root);
    domstate_write(path, "name", "twelve");
    domstate_write_pid(path, "supervisor.pid", getpid());
    mkdir_in(root, "10");
    mkdir_in(root, "junk");
    mkdir_in(root, "5x");
    mkdir_in(root, "-5");
    mkdir_in(root, "0");
    snprintf(path, sizeof(path), "%s/99999999999", root);
    mkdir(path, 0700);
    domstate_write(path, "name", "huge");
    domstate_write_pid(path, "supervisor.pid", getpid());
    /* a leading zero names no domain (01 is not domain 1's directory) */
    mkdir_in(root, "01");
    snprintf(path, sizeof(path), "%s/01", root);
    domstate_write(path, "name", "zero-one");
    domstate_write_pid(path, "supervisor.pid", getpid());
}

static void test_list(void)
{
    static const struct {
        int domid;
        const char *name;
    } want_all[] = { { 1, "a" }, { 2, "b" }, { 3, "c" }, { 4, "dead" }, { 12, "twelve" } };
    struct domstate *v = NULL;
    size_t n = 99, cleaned = 99;
    char path[PATH_MAX], order[128] = "", wanted[128] = "";
    pid_t dead = dead_pid();
    int r;

    fresh();
    r = domstate_list(true, &v, &n, &cleaned);
    ok(r == 0 && v == NULL && n == 0, "list: no RUNDIR: nothing, no error");
    domstate_list_free(v, n);

    make_domains(dead);
    r = domstate_list(false, &v, &n, &cleaned);
    is_int(r, 0, "list: without clean");
    is_int(cleaned, 0, "list: without clean: cleaned 0");
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(order);

        snprintf(order + len, sizeof(order) - len, "%s%d:%s", i ? " " : "", v[i].domid,
                 v[i].name);
    }
    for (size_t i = 0; i < sizeof(want_all) / sizeof(want_all[0]); i++) {
        size_t len = strlen(wanted);

        snprintf(wanted + len, sizeof(wanted) - len, "%s%d:%s", i ? " " : "",
                 want_all[i].domid, want_all[i].name);
    }
    /* the dead domain is still listed (its pids 0): only clean removes it */
    is_str(order, wanted, "list: in domid order; half made, 01 and non-numeric entries skipped");
    if (n == 5) {
        snprintf(path, sizeof(path), "%s/1", root);
        is_str(v[0].dir, path, "list: dir");
        is_int(v[0].state, DOMSTATE_CREATING, "list: a's state");
        is_int(v[0].supervisor_pid, getpid(), "list: a's supervisor is us");
        is_int(v[0].qemu_pid, 0, "list: a has no qemu.pid: 0");
        ok(v[0].info_json == NULL, "list: a has no info.json: NULL");
        is_int(v[2].state, DOMSTATE_RUNNING, "list: c's state");
        is_int(v[2].qemu_pid, getpid(), "list: c's qemu.pid");
        is_str(v[2].info_json, "{\"domid\":3}", "list: c's info.json");
        ok(v[3].qemu_pid == 0 && v[3].supervisor_pid == 0, "list: dead's pids read 0");
        is_int(v[4].state, DOMSTATE_UNKNOWN, "list: twelve has no state file: unknown");
    }
    domstate_list_free(v, n);
    snprintf(path, sizeof(path), "%s/10", root);
    ok(is_dir(path), "list: without clean, the half made directory stays");
    snprintf(path, sizeof(path), "%s/4", root);
    ok(is_dir(path), "list: without clean, the dead domain stays");

    r = domstate_list(true, &v, &n, &cleaned);
    is_int(r, 0, "list: with clean");
    is_int(n, 4, "list: with clean: 4 domains");
    is_int(cleaned, 2, "list: with clean: cleaned 2 (dead, half made)");
    if (n == 4)
        ok(v[0].domid == 1 && v[1].domid == 2 && v[2].domid == 3 && v[3].domid == 12,
           "list: with clean: 1 2 3 12");
    domstate_list_free(v, n);
    snprintf(path, sizeof(path), "%s/10", root);
    ok(!exists(path), "list: with clean, the half made directory removed");
    snprintf(path, sizeof(path), "%s/4", root);
    ok(!exists(path), "list: with clean, the dead domain removed");
    snprintf(path, sizeof(path), "%s/junk", root);
    ok(is_dir(path), "list: with clean, a non-numeric entry is left alone");
    snprintf(path, sizeof(path), "%s/01", root);
    ok(is_dir(path), "list: with clean, 01 is left alone");

    r = domstate_list(true, &v, &n, NULL);
    ok(r == 0 && n == 4, "list: cleaned_r may be NULL");
    domstate_list_free(v, n);
    done();
}

static void test_find(void)
{
    struct domstate ds;
    pid_t dead = dead_pid();
    int r;

    fresh();
    r = domstate_find("a", &ds);
    is_int(r, -ENOENT, "find: no RUNDIR: -ENOENT");
    make_domains(dead);

    r = domstate_find("b", &ds);
    is_int(r, 0, "find: by name");
    ok(r == 0 && ds.domid == 2 && ds.name && !strcmp(ds.name, "b"), "find: b is domid 2");
    domstate_dispose(&ds);
    ok(ds.name == NULL && ds.dir == NULL, "dispose: clears the struct");

    r = domstate_find("12", &ds);
    is_int(r, 0, "find: by domid");
    is_str(r == 0 ? ds.name : NULL, "twelve", "find: domid 12 is twelve");
    domstate_dispose(&ds);

    r = domstate_find("3", &ds);
    is_str(r == 0 ? ds.info_json : NULL, "{\"domid\":3}", "find: the whole record");
    domstate_dispose(&ds);

    r = domstate_find("dead", &ds);
    is_int(r, 0, "find: a dead domain (not cleaned) is found");
    domstate_dispose(&ds);

    is_int(domstate_find("nobody", &ds), -ENOENT, "find: an unknown name: -ENOENT");
    ok(ds.name == NULL && ds.dir == NULL, "find: ds cleared on -ENOENT");
    is_int(domstate_find("7", &ds), -ENOENT, "find: an unknown domid: -ENOENT");
    is_int(domstate_find("", &ds), -ENOENT, "find: empty: -ENOENT");
    is_int(domstate_find("zero-one", &ds), -ENOENT, "find: 01's name: -ENOENT (no domain)");
    is_int(domstate_find("10", &ds), -ENOENT, "find: a half made domain: -ENOENT");
    /* 2^32 + 2 does not wrap around to domid 2 */
    is_int(domstate_find("4294967298", &ds), -ENOENT, "find: 4294967298 is not domid 2");
    domstate_dispose(&ds);
    is_int(domstate_find("99999999999999999999999", &ds), -ENOENT,
           "find: a domid beyond long: -ENOENT");
    domstate_dispose(&ds);
    done();
}

static void test_remove(void)
{
    char path[PATH_MAX], outside[PATH_MAX], link[PATH_MAX + 8];

    fresh();
    snprintf(path, sizeof(path), "%s/dom", top);
    mkdir_in(top, "dom");
    mkdir_in(path, "a");
    mkdir_in(path, "a/b");
    mkdir_in(path, "a/b/c");
    mkdir_in(path, "empty");
    domstate_write(path, "name", "x");
    domstate_write(path, "a/f", "x");
    domstate_write(path, "a/b/c/deep", "x");
    /* a symlink to a directory outside: removed, the target kept */
    snprintf(outside, sizeof(outside), "%s/outside", top);
    mkdir(outside, 0700);
    domstate_write(outside, "keep", "x");
    snprintf(link, sizeof(link), "%s/link", path);
    if (symlink(outside, link) < 0)
        printf("# symlink: %s\n", strerror(errno));
    is_int(domstate_remove(path), 0, "remove: a nested tree");
    ok(!exists(path), "remove: the directory is gone");
    snprintf(link, sizeof(link), "%s/keep", outside);
    ok(exists(link), "remove: a symlink's target is left alone");
    is_int(domstate_remove(path), 0, "remove: a missing directory is fine");
    done();
}

static void test_path(void)
{
    char buf[16], big[PATH_MAX], longdir[PATH_MAX];

    is_int(domstate_path(buf, sizeof(buf), "/run/d", "f"), 0, "path: fits");
    is_str(buf, "/run/d/f", "path: dir/file");
    is_int(domstate_path(buf, sizeof(buf), "/run/dom", "abcdef"), 0,
           "path: exactly fits (15 bytes and the NUL)");
    is_int(domstate_path(buf, sizeof(buf), "/run/dom", "abcdefg"), -ENAMETOOLONG,
           "path: one byte too many: -ENAMETOOLONG");
    memset(longdir, 'd', sizeof(longdir) - 1);
    longdir[0] = '/';
    longdir[sizeof(longdir) - 1] = '\0';
    is_int(domstate_path(big, sizeof(big), longdir, "qmp.sock"), -ENAMETOOLONG,
           "path: beyond PATH_MAX: -ENAMETOOLONG");
    is_int(domstate_path(buf, 0, "/", "f"), -ENAMETOOLONG, "path: no room at all");
}

/* Functions that take a dir fail cleanly with a too-long path. */
static void test_long_dir(void)
{
    char longdir[PATH_MAX], *text = (char *)"x";

    memset(longdir, 'd', sizeof(longdir) - 1);
    longdir[0] = '/';
    longdir[sizeof(longdir) - 1] = '\0';
    is_int(domstate_write(longdir, "f", "x"), -ENAMETOOLONG, "write: too long: -ENAMETOOLONG");
    is_int(domstate_read(longdir, "f", &text), -ENAMETOOLONG, "read: too long: -ENAMETOOLONG");
    ok(text == NULL, "read: *text_r NULL when too long");
    is_int(domstate_read_pid(longdir, "f"), 0, "read_pid: too long: 0");
}

int main(void)
{
    umask(022);
    test_check_name();
    test_root();
    test_lock();
    test_create();
    test_write_read();
    test_pid();
    test_starttime();
    test_state_names();
    test_list();
    test_find();
    test_remove();
    test_path();
    test_long_dir();
    return tap_done();
}
