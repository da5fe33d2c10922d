/*
 * nsrun.c - a program in a private mount namespace with the guest
 * root's /proc, /sys and /dev mounted (see nsrun.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nsrun.h"

extern char **environ;

/* In the child: stdio from o, as proc_start sets it up. */
static int child_stream(int fd, int target, int oflag)
{
    if (fd == PROC_INHERIT)
        return 0;
    if (fd == PROC_NULL) {
        int n = open("/dev/null", oflag | O_CLOEXEC);

        if (n < 0)
            return -1;
        if (dup2(n, target) < 0)
            return -1;
        close(n);
        return 0;
    }
    if (fd == target)
        return fcntl(fd, F_SETFD, 0);
    return dup2(fd, target) < 0 ? -1 : 0;
}

static void child_fail(const char *what, const char *path)
{
    dprintf(2, "nsrun: %s %s: %s\n", what, path, strerror(errno));
    _exit(127);
}

/* Mounts fstype (or binds src) at root/dir, making dir if needed. */
static void child_mount(const char *root, const char *dir, const char *src,
                        const char *fstype, unsigned long flags, const char *data)
{
    char path[4096];

    if ((size_t)snprintf(path, sizeof path, "%s/%s", root, dir) >= sizeof path) {
        errno = ENAMETOOLONG;
        child_fail("mount", dir);
    }
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        child_fail("mkdir", path);
    if (mount(src, path, fstype, flags, data) < 0)
        child_fail("mount", path);
}

static void child(const char *root, char *const argv[], const struct proc_opts *o,
                  unsigned flags)
{
    sigset_t none;

    if (child_stream(o->stdin_fd, 0, O_RDONLY) < 0 ||
        child_stream(o->stdout_fd, 1, O_WRONLY) < 0 ||
        child_stream(o->stderr_fd, 2, O_WRONLY) < 0)
        _exit(127);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* a group of its own, so that whatever it starts can be stopped too */
    setpgid(0, 0);

    if (unshare(CLONE_NEWNS) < 0)
        child_fail("unshare", "mount namespace");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        child_fail("make private", "/");
    child_mount(root, "proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    child_mount(root, "sys", "sysfs", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY,
                NULL);
    child_mount(root, "dev", "/dev", NULL, MS_BIND | MS_REC, NULL);
    child_mount(root, "run", "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");

    if (flags & NSRUN_CHROOT) {
        if (chroot(root) < 0)
            child_fail("chroot", root);
        if (chdir("/") < 0)
            child_fail("chdir", "/");
    }
    execve(argv[0], argv, o->envp ? o->envp : environ);
    child_fail("exec", argv[0]);
}

int nsrun(const char *root, char *const argv[], const struct proc_opts *o,
          unsigned flags, int timeout_ms, int *status_r)
{
    pid_t pid;
    int r;

    if (!argv[0] || argv[0][0] != '/')
        return -EINVAL;
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0)
        child(root, argv, o, flags);
    setpgid(pid, pid);
    r = proc_wait(pid, timeout_ms, status_r);
    if (r == -ETIMEDOUT)
        proc_kill(pid, 2000);
    /* nothing it started outlives it: a process left in its group would
     * keep the namespace's mounts and go on writing into the root */
    if (kill(-pid, SIGTERM) == 0) {
        usleep(200 * 1000);
        kill(-pid, SIGKILL);
    }
    return r;
}
