/*
 * snapshot.c - LVM snapshots of a guest's disk (see snapshot.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "domstate.h"
#include "lvm.h"
#include "namelock.h"
#include "paths.h"
#include "proc.h"
#include "registry.h"
#include "snapshot.h"
#include "units.h"

#define SNAP_MIN        ((uint64_t)256 << 20)
#define VMCTL_TIMEOUT_MS (60 * 1000)

/* The record of guest name, which must be on LVM.  0, or the exit status. */
static int read_guest(const char *prog, const char *opt, const char *name,
                      struct registry_entry *e)
{
    struct diag d;
    const char *why;
    char *record;
    int r;

    if (check_hostname(name, &why) < 0) {
        fprintf(stderr, "%s: --%s: `%s' is not a guest name: %s\n", prog, opt, name, why);
        return 2;
    }
    if (!(record = registry_path(paths_root(PATHS_LIB), name))) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return 1;
    }
    if (access(record, F_OK) < 0) {
        fprintf(stderr, "%s: --%s: vm-provision made no guest `%s' (no %s)\n", prog, opt,
                name, record);
        free(record);
        return 2;
    }
    diag_init(&d);
    r = registry_read(record, e, &d);
    diag_print(&d, stderr, prog);
    diag_dispose(&d);
    free(record);
    if (r)
        return 1;
    if (!e->volume_group) {
        fprintf(stderr, "%s: --%s: %s's disk is a file (%s), not a logical volume: snapshots"
                " are of guests made with --lvm or --lvm-thin\n", prog, opt, name, e->disk);
        return 2;
    }
    return 0;
}

static int need_root(const char *prog, const char *opt)
{
    if (geteuid() == 0)
        return 0;
    fprintf(stderr, "%s: --%s: must run as root (lvm)\n", prog, opt);
    return 1;
}

/* Whether the guest runs, and whether it is paused already (then it is
 * left as it is: the user paused it). */
static bool is_running(const char *name, bool *paused_r)
{
    struct domstate ds;
    bool running = false;

    *paused_r = false;
    if (domstate_find(name, &ds) == 0) {
        running = ds.qemu_pid > 0;
        *paused_r = ds.state == DOMSTATE_PAUSED;
        domstate_dispose(&ds);
    }
    return running;
}

/*
 * The name's lock (namelock.h): no vm-provision makes or replaces the
 * guest while its disk is snapshotted.  The fd, or -1 after saying why;
 * *path_r the lock's path.
 */
static int take_lock(const char *prog, const char *name, char **path_r)
{
    char *dir = NULL;
    struct diag d;
    int fd = -1;

    *path_r = NULL;
    diag_init(&d);
    if (asprintf(&dir, "%s/provision", paths_root(PATHS_RUN)) < 0 ||
        asprintf(path_r, "%s/%s.lock", dir, name) < 0) {
        fprintf(stderr, "%s: out of memory\n", prog);
        *path_r = NULL;
    } else if ((mkdir(paths_root(PATHS_RUN), 0755) < 0 && errno != EEXIST) ||
               (mkdir(dir, 0700) < 0 && errno != EEXIST)) {
        fprintf(stderr, "%s: cannot create %s: %s\n", prog, dir, strerror(errno));
    } else {
        char what[128];

        snprintf(what, sizeof what, "working on %s", name);
        fd = namelock_take(*path_r, what, &d);
        diag_print(&d, stderr, prog);
    }
    diag_dispose(&d);
    free(dir);
    if (fd < 0) {
        free(*path_r);
        *path_r = NULL;
        return -1;
    }
    return fd;
}

static void drop_lock(int fd, char *path)
{
    namelock_drop(fd, path);
    free(path);
}

/* vmctl pause|unpause NAME; 0 or -1 after saying why. */
static int vmctl(const char *prog, const char *path, const char *cmd, const char *name)
{
    char *argv[] = { (char *)path, (char *)cmd, (char *)name, NULL };
    struct proc_opts o;
    char how[96];
    int status, r;

    proc_opts_init(&o);
    o.stdout_fd = PROC_NULL;
    r = proc_run(path, argv, &o, VMCTL_TIMEOUT_MS, &status);
    if (r) {
        fprintf(stderr, "%s: cannot run %s %s %s: %s\n", prog, path, cmd, name, strerror(-r));
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        fprintf(stderr, "%s: vmctl %s %s %s\n", prog, cmd, name,
                proc_status_text(status, how, sizeof how));
        return -1;
    }
    return 0;
}

int snapshot_take(const char *prog, const char *vmctl_path, const char *name,
                  const char *size_text)
{
    struct registry_entry e;
    struct lvm_lv *v = NULL;
    const struct lvm_lv *disk;
    struct diag d;
    char snap[160], stamp[32], *lock = NULL, *path = NULL;
    uint64_t size = 0;
    size_t n = 0;
    bool thin, paused = false, was_paused = false;
    sigset_t block, old;
    time_t now = time(NULL);
    struct timespec t0, t1;
    int status, lfd = -1;

    registry_entry_init(&e);
    diag_init(&d);
    if ((status = need_root(prog, "snapshot")) || (status = read_guest(prog, "snapshot", name, &e)))
        goto out;
    status = 1;
    if (lvm_list(e.volume_group, &v, &n, -1, &d))
        goto out;
    if (!(disk = lvm_find(v, n, e.disk_lv))) {
        fprintf(stderr, "%s: --snapshot: %s's disk %s/%s is gone\n", prog, name,
                e.volume_group, e.disk_lv);
        goto out;
    }
    thin = disk->attr[0] == 'V';
    if (size_text && thin) {
        fprintf(stderr, "%s: --snapshot-size: %s/%s is thin: its snapshot takes room from the"
                " pool as the two differ, and has no size of its own\n", prog, e.volume_group,
                e.disk_lv);
        status = 2;
        goto out;
    }
    if (size_text) {
        if (units_parse_size(size_text, UNITS_MIB, &size) < 0 || size < ((uint64_t)4 << 20)) {
            fprintf(stderr, "%s: --snapshot-size: `%s': expected a size of at least 4M (K, M,"
                    " G or T; a plain number is MiB)\n", prog, size_text);
            status = 2;
            goto out;
        }
    } else {
        size = disk->size / 5 / UNITS_MIB * UNITS_MIB;
        if (size < SNAP_MIN)
            size = SNAP_MIN;
        if (size > disk->size)
            size = disk->size;
    }
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&now));
    snprintf(snap, sizeof snap, "%s-snap-%s", e.disk_lv, stamp);
    if (lvm_find(v, n, snap)) {
        fprintf(stderr, "%s: --snapshot: %s/%s exists already (one a second)\n", prog,
                e.volume_group, snap);
        goto out;
    }

    /* not while vm-provision makes or replaces it */
    if ((lfd = take_lock(prog, name, &lock)) < 0)
        goto out;

    /* an interrupt between pause and unpause would leave the guest
     * paused: it waits until the guest runs again */
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, &old);
    if (is_running(name, &was_paused) && !was_paused) {
        if (vmctl(prog, vmctl_path, "pause", name) < 0) {
            sigprocmask(SIG_SETMASK, &old, NULL);
            goto out;
        }
        paused = true;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    status = lvm_snapshot(e.volume_group, e.disk_lv, snap, thin, size, -1, &d) ? 1 : 0;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (paused && vmctl(prog, vmctl_path, "unpause", name) < 0) {
        fprintf(stderr, "%s: %s is still paused: `vmctl unpause %s'\n", prog, name, name);
        status = 1;
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (!(path = lvm_path(e.volume_group, snap)))
        status = 1;
    if (path && status == 0) {
        char sz[32];

        if (units_format_size(size, sz, sizeof sz))
            snprintf(sz, sizeof sz, "?");
        printf("%s\n", path);
        fprintf(stderr, "%s: %s snapshot of %s/%s%s%s%s; the guest was %s\n", prog,
                thin ? "thin" : "copy-on-write", e.volume_group, e.disk_lv,
                thin ? "" : " with ", thin ? "" : sz, thin ? "" : " for changes",
                paused ? "paused for a moment" : was_paused ? "paused already (left so)"
                                                          : "not running");
        if (paused)
            fprintf(stderr, "%s: paused %.0f ms\n", prog,
                    (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
    }
out:
    diag_print(&d, stderr, prog);
    diag_dispose(&d);
    drop_lock(lfd, lock);
    free(path);
    lvm_lvs_free(v, n);
    registry_entry_dispose(&e);
    return status;
}

int snapshot_list(const char *prog, const char *name)
{
    struct registry_entry e;
    struct lvm_lv *v = NULL;
    struct diag d;
    size_t n = 0;
    int status;

    registry_entry_init(&e);
    diag_init(&d);
    if ((status = need_root(prog, "snapshot-list")) ||
        (status = read_guest(prog, "snapshot-list", name, &e)))
        goto out;
    status = 1;
    if (lvm_list(e.volume_group, &v, &n, -1, &d))
        goto out;
    printf("%-40s %-14s %-10s %s\n", "Snapshot", "Kind", "Size", "Taken");
    for (size_t i = 0; i < n; i++) {
        char sz[32], *path;

        if (!v[i].origin || strcmp(v[i].origin, e.disk_lv))
            continue;
        if (units_format_size(v[i].size, sz, sizeof sz))
            snprintf(sz, sizeof sz, "?");
        path = lvm_path(e.volume_group, v[i].name);
        printf("%-40s %-14s %-10s %s\n", path ? path : v[i].name,
               v[i].attr[0] == 'V' ? "thin" : "copy-on-write", sz,
               v[i].time ? v[i].time : "?");
        free(path);
    }
    status = 0;
out:
    diag_print(&d, stderr, prog);
    diag_dispose(&d);
    lvm_lvs_free(v, n);
    registry_entry_dispose(&e);
    return status;
}

int snapshot_delete(const char *prog, const char *volume)
{
    struct registry_entry *g = NULL;
    struct lvm_lv *v = NULL;
    const struct lvm_lv *lv;
    struct diag d;
    char *vg = NULL, *name = NULL, *path = NULL;
    const char *spec = volume, *why = NULL, *slash;
    size_t n = 0, ng = 0;
    bool ours = false;
    int status;

    diag_init(&d);
    if ((status = need_root(prog, "snapshot-delete")))
        goto out;
    status = 2;
    if (!strncmp(spec, "/dev/", 5))
        spec += 5;
    slash = strchr(spec, '/');
    if (!slash || !(vg = strndup(spec, (size_t)(slash - spec))) || !(name = strdup(slash + 1)) ||
        !lvm_name_ok(vg, &why) || !lvm_name_ok(name, &why)) {
        fprintf(stderr, "%s: --snapshot-delete: `%s': expected VG/LV or /dev/VG/LV%s%s\n", prog,
                volume, why ? ": " : "", why ? why : "");
        goto out;
    }
    status = 1;
    if (lvm_list(vg, &v, &n, -1, &d))
        goto out;
    if (!(lv = lvm_find(v, n, name))) {
        fprintf(stderr, "%s: --snapshot-delete: there is no %s/%s\n", prog, vg, name);
        status = 2;
        goto out;
    }
    /* only a snapshot of the disk of a guest vm-provision made */
    if (registry_list(paths_root(PATHS_LIB), &g, &ng, &d) < 0)
        goto out;
    for (size_t i = 0; lv->origin && i < ng; i++)
        if (g[i].volume_group && !strcmp(g[i].volume_group, vg) && g[i].disk_lv &&
            !strcmp(g[i].disk_lv, lv->origin))
            ours = true;
    if (!ours) {
        fprintf(stderr, "%s: --snapshot-delete: %s/%s is not a snapshot of a guest's disk"
                " vm-provision made%s%s%s\n", prog, vg, name,
                lv->origin ? " (its origin is " : "", lv->origin ? lv->origin : "",
                lv->origin ? ")" : "");
        status = 2;
        goto out;
    }
    if (lvm_remove(vg, name, -1, &d))
        goto out;
    path = lvm_path(vg, name);
    printf("removed %s\n", path ? path : name);
    status = 0;
out:
    diag_print(&d, stderr, prog);
    diag_dispose(&d);
    for (size_t i = 0; i < ng; i++)
        registry_entry_dispose(&g[i]);
    free(g);
    lvm_lvs_free(v, n);
    free(vg);
    free(name);
    free(path);
    return status;
}

int snapshot_remove_all(const char *vg, const char *origin, struct diag *d)
{
    struct lvm_lv *v = NULL;
    size_t n = 0;
    int r, first = 0;

    if ((r = lvm_list(vg, &v, &n, -1, d)))
        return r;
    for (size_t i = 0; i < n; i++) {
        if (!v[i].origin || strcmp(v[i].origin, origin))
            continue;
        if ((r = lvm_remove(vg, v[i].name, -1, d))) {
            first = first ? first : r;
            continue;
        }
        printf("removed /dev/%s/%s\n", vg, v[i].name);
    }
    lvm_lvs_free(v, n);
    return first;
}
