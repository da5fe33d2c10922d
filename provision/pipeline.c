/*
 * pipeline.c - vm-provision's steps, for real (see pipeline.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clone.h"
#include "domain.h"
#include "domstate.h"
#include "fileio.h"
#include "golden.h"
#include "ext2root.h"
#include "gfsroot.h"
#include "hooks.h"
#include "identity.h"
#include "image.h"
#include "install.h"
#include "journal.h"
#include "lvm.h"
#include "namelock.h"
#include "partition.h"
#include "paths.h"
#include "pipeline.h"
#include "proc.h"
#include "strv.h"
#include "registry.h"
#include "units.h"

enum step {
    STEP_VALIDATE,
    STEP_LOCK,
    STEP_STORAGE,
    STEP_INSTALL,
    STEP_HOOKS,
    STEP_IDENTITY,
    STEP_KERNEL,
    STEP_FILESYSTEM,
    STEP_CONFIG,
    STEP_BOOT,
    NSTEPS,
};

#define HOOK_TIMEOUT_MS     (15 * 60 * 1000)
#define BOOT_TIMEOUT_MS     (5 * 60 * 1000)
#define SSH_KEY_MAX         (256 * 1024)

struct pipeline {
    const struct pipeline_args *a;
    const struct plan *p;
    struct pipeline_result *res;
    struct diag *d;
    struct journal j;
    int log_fd;
    int lock_fd;
    char *workdir;              /* DIR/domains/.NAME.new-XXXXXX */
    char *staging;              /* workdir/root */
    char *new_disk, *new_swap;  /* in workdir */
    char *new_kernel, *new_ramdisk;
    char *password_hash;
    char *authorized_keys;
    char *config_text;
    char **aside;               /* what an existing guest had, moved aside: removed at the end */
    size_t naside;
    /* --lvm: volumes made or moved by this run, for the journal */
    struct lv_op **lv_ops;
    size_t nlv_ops;
    char *new_disk_lv, *new_swap_lv;    /* NAME-disk.new-PID, NAME-swap.new-PID */
    struct lv_op **lv_aside;    /* the old guest's volumes, renamed: removed at the end */
    size_t nlv_aside;
    bool cache_hit;
    /* a golden clone (p->golden) */
    char golden_key[CACHE_KEY_LEN + 1];
    char base_key[CACHE_KEY_LEN + 1];   /* the base root's, that the golden key covers */
    char golden_id[GOLDEN_ID_MAX];
    char *golden_dir;           /* CACHEDIR/golden/ID */
    int golden_fd;              /* its key's lock, held to the end: the image cannot go
                                 * before the guest's record says it is in use */
    bool golden_built;          /* by this run */
    struct clone_export export; /* an overlay seen as a raw file, while identity runs */
    bool own_mounts;            /* in a mount namespace of its own */
    bool staging_mounted;       /* staging is a tmpfs */
};

static const char *step_name(int step)
{
    return plan_step_names[step];
}

int pipeline_step_index(const char *name)
{
    for (int i = 0; plan_step_names[i]; i++)
        if (!strcmp(plan_step_names[i], name))
            return i;
    return -1;
}

void pipeline_result_dispose(struct pipeline_result *r)
{
    free(r->password);
    free(r->log_path);
    memset(r, 0, sizeof(*r));
    r->failed_step = -1;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((format(printf, 3, 4)))
static void say(struct pipeline *pl, int step, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (pl->a->report.step)
        pl->a->report.step(pl->a->report.ctx, step, buf);
    if (pl->log_fd >= 0)
        dprintf(pl->log_fd, "== %s: %s\n", step_name(step), buf);
}

static void detail(void *ctx, const char *what)
{
    struct pipeline *pl = ctx;

    if (pl->a->report.detail)
        pl->a->report.detail(pl->a->report.ctx, -1, what);
    if (pl->log_fd >= 0)
        dprintf(pl->log_fd, "-- %s\n", what);
}

/* 0, or -ENOMEM after telling d: for the journal's own failures. */
static int nomem(struct pipeline *pl)
{
    diag_error(pl->d, NULL, 0, 0, "out of memory");
    return -ENOMEM;
}

/* mkdir -p, recording in the journal every directory it made. */
static int mkdirs(struct pipeline *pl, const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);

    if (len >= sizeof buf)
        return -ENAMETOOLONG;
    memcpy(buf, path, len + 1);
    for (char *s = buf + 1;; s++) {
        bool end = *s == '\0';

        if (*s != '/' && !end)
            continue;
        *s = '\0';
        if (mkdir(buf, mode) == 0) {
            if (journal_add_dir(&pl->j, buf) < 0) {
                rmdir(buf);
                return -ENOMEM;
            }
        } else if (errno != EEXIST) {
            int r = -errno;

            diag_error(pl->d, NULL, 0, 0, "cannot create %s: %s", buf, strerror(errno));
            return r;
        }
        if (end)
            break;
        *s = '/';
    }
    return 0;
}

/* ---- logical volumes ---- */

static int lvs_existing(struct pipeline *pl, const char *vg, const char *const *lv_names,
                        const char **found_r);

/* A journal entry's undo of a volume made (to NULL) or renamed. */
struct lv_op {
    struct pipeline *pl;
    char *vg;
    char *name;                 /* the volume as it is now */
    char *back;                 /* NULL: remove it; else rename it back to this */
};

static void lv_op_free(struct lv_op *op)
{
    if (!op)
        return;
    free(op->vg);
    free(op->name);
    free(op->back);
    free(op);
}

static int lv_undo(void *arg)
{
    struct lv_op *op = arg;
    struct pipeline *pl = op->pl;
    int r;

    /* not cancellable: this runs after the signal, to undo */
    proc_set_cancel(NULL);
    if (op->back)
        r = lvm_rename(op->vg, op->name, op->back, pl->log_fd, pl->d);
    else
        r = lvm_remove(op->vg, op->name, pl->log_fd, pl->d);
    proc_set_cancel(pl->a->interrupted);
    return r;
}

/* A new lv_op, kept in *v (freed at the end of the run). */
static struct lv_op *lv_op_new(struct pipeline *pl, struct lv_op ***v, size_t *n,
                               const char *vg, const char *name, const char *back)
{
    struct lv_op *op = calloc(1, sizeof(*op)), **nv;

    if (!op || !(op->vg = strdup(vg)) || !(op->name = strdup(name)) ||
        (back && !(op->back = strdup(back))) || !(nv = realloc(*v, (*n + 1) * sizeof(*nv)))) {
        lv_op_free(op);
        return NULL;
    }
    op->pl = pl;
    *v = nv;
    (*v)[(*n)++] = op;
    return op;
}

/* Records in the journal how to undo what was just done to volume
 * vg/name: remove it (back NULL) or rename it back. */
static int lv_journal(struct pipeline *pl, const char *vg, const char *name, const char *back,
                      const char *what)
{
    struct lv_op *op = lv_op_new(pl, &pl->lv_ops, &pl->nlv_ops, vg, name, back);

    if (!op)
        return -ENOMEM;
    return journal_add_call(&pl->j, lv_undo, op, what);
}

/* Renames vg/lv, if there is one, aside (LV.old-PID), journalled; it is
 * removed when the run succeeds. */
static int lv_aside(struct pipeline *pl, const char *vg, const char *lv)
{
    const char *names[] = { lv, NULL }, *found;
    char *aside = NULL, what[300];
    int r;

    if ((r = lvs_existing(pl, vg, names, &found)) || !found)
        return r;
    if (asprintf(&aside, "%s.old-%ld", lv, (long)getpid()) < 0)
        return nomem(pl);
    snprintf(what, sizeof what, "logical volume %s/%s, moved aside", vg, lv);
    if (!(r = lvm_rename(vg, lv, aside, pl->log_fd, pl->d))) {
        if (lv_journal(pl, vg, aside, lv, what) < 0 ||
            !lv_op_new(pl, &pl->lv_aside, &pl->nlv_aside, vg, aside, NULL))
            r = nomem(pl);
    }
    free(aside);
    return r;
}

/* Renames this run's volume vg/from to to, journalled. */
static int lv_move_in(struct pipeline *pl, const char *from, const char *to)
{
    const char *vg = pl->p->lvm_vg;
    char what[300];
    int r;

    snprintf(what, sizeof what, "logical volume %s/%s", vg, to);
    if ((r = lvm_rename(vg, from, to, pl->log_fd, pl->d)))
        return r;
    return lv_journal(pl, vg, to, from, what) < 0 ? nomem(pl) : 0;
}

/* Makes volume lv of size bytes for this run, journalled; *path_r its
 * device. */
static int lv_make(struct pipeline *pl, const char *lv, uint64_t size, char **path_r)
{
    const struct plan *p = pl->p;
    char what[300];
    int r;

    snprintf(what, sizeof what, "logical volume %s/%s", p->lvm_vg, lv);
    detail(pl, what);
    r = lvm_create(p->lvm_vg, p->lvm_pool, lv, size, pl->log_fd, pl->d);
    if (r)
        return r;
    if (lv_journal(pl, p->lvm_vg, lv, NULL, what) < 0) {
        lvm_remove(p->lvm_vg, lv, pl->log_fd, pl->d);
        return nomem(pl);
    }
    if (!(*path_r = lvm_path(p->lvm_vg, lv)))
        return nomem(pl);
    if (access(*path_r, F_OK) < 0) {
        diag_error(pl->d, NULL, 0, 0, "lvm made %s/%s but there is no %s (is udev"
                   " running?)", p->lvm_vg, lv, *path_r);
        return -ENOENT;
    }
    return 0;
}

static int check_snapshots(struct pipeline *pl);

/* Whether lv is one an interrupted run of this name left: NAME-disk or
 * NAME-swap with .new-PID or .old-PID after it. */
static bool leftover_lv(const struct plan *p, const char *lv)
{
    const char *base[] = { p->disk_lv, p->swap_lv };

    for (int k = 0; k < 2; k++) {
        size_t len = strlen(base[k]);

        if (!strncmp(lv, base[k], len) &&
            (!strncmp(lv + len, ".new-", 5) || !strncmp(lv + len, ".old-", 5)))
            return true;
    }
    return false;
}

/* The space the volume group must have, or the thin pool: the checks
 * before any work. */
static int check_lvm(struct pipeline *pl)
{
    const struct plan *p = pl->p;
    struct lvm_vg vg;
    struct lvm_lv *v = NULL;
    size_t n = 0;
    int r;

    if ((r = lvm_vg_info(p->lvm_vg, &vg, pl->log_fd, pl->d)) ||
        (p->force && (r = check_snapshots(pl))) ||
        (r = lvm_list(p->lvm_vg, &v, &n, pl->log_fd, pl->d)))
        return r;
    if (p->lvm_pool) {
        const struct lvm_lv *pool;

        pool = lvm_find(v, n, p->lvm_pool);
        if (!pool || pool->attr[0] != 't') {
            diag_error(pl->d, NULL, 0, 0, "--lvm-thin: %s/%s is %s", p->lvm_vg, p->lvm_pool,
                       pool ? "not a thin pool" : "no volume of that volume group");
            r = -ENOENT;
        }
        lvm_lvs_free(v, n);
        return r;
    }
    uint64_t ext = vg.extent ? vg.extent : 1, need = 0;

    /* what an interrupted run left is swept once the lock is ours */
    for (size_t i = 0; i < n; i++)
        if (leftover_lv(p, v[i].name) && v[i].attr[0] != 'V')
            vg.free += v[i].size;
    lvm_lvs_free(v, n);
    need += (p->size + ext - 1) / ext * ext;
    if (p->swap_path)
        need += (p->swap + ext - 1) / ext * ext;
    if (need > vg.free) {
        char a[32], b[32];

        if (units_format_size(need, a, sizeof a))
            snprintf(a, sizeof a, "%llu bytes", (unsigned long long)need);
        if (units_format_size(vg.free, b, sizeof b))
            snprintf(b, sizeof b, "%llu bytes", (unsigned long long)vg.free);
        diag_error(pl->d, NULL, 0, 0, "volume group %s has %s free, and this guest needs %s"
                   "%s; nothing was changed", p->lvm_vg, b, a,
                   p->force ? " (beside the volumes it replaces, until it is made)" : "");
        return -ENOSPC;
    }
    return 0;
}

/* The volumes of lv_names that exist in the volume group: the first in
 * *found_r (static, one of lv_names), NULL when none. */
static int lvs_existing(struct pipeline *pl, const char *vg, const char *const *lv_names,
                        const char **found_r)
{
    struct lvm_lv *v = NULL;
    size_t n = 0;
    int r;

    *found_r = NULL;
    if ((r = lvm_list(vg, &v, &n, pl->log_fd, pl->d)))
        return r;
    for (size_t i = 0; lv_names[i] && !*found_r; i++)
        if (lvm_find(v, n, lv_names[i]))
            *found_r = lv_names[i];
    lvm_lvs_free(v, n);
    return 0;
}

/* Volumes an interrupted run of this name left (NAME-disk.new-PID, the
 * old guest's NAME-disk.old-PID): the name's lock is ours. */
static int sweep_lvs(struct pipeline *pl)
{
    const struct plan *p = pl->p;
    struct lvm_lv *v = NULL;
    size_t n = 0;
    int r;

    if ((r = lvm_list(p->lvm_vg, &v, &n, pl->log_fd, pl->d)))
        return r;
    for (size_t i = 0; i < n; i++) {
        if (!leftover_lv(p, v[i].name))
            continue;
        if (lvm_remove(p->lvm_vg, v[i].name, pl->log_fd, pl->d))
            diag_warn(pl->d, NULL, 0, 0, "cannot remove %s/%s (left by an interrupted run)",
                      p->lvm_vg, v[i].name);
        else
            diag_warn(pl->d, NULL, 0, 0, "removed %s/%s, left by an interrupted run",
                      p->lvm_vg, v[i].name);
    }
    lvm_lvs_free(v, n);
    return 0;
}

/* --force would remove the old disk with its snapshots (copy-on-write
 * ones go with their origin; thin ones would lose it): refused. */
static int check_snapshots(struct pipeline *pl)
{
    const struct plan *p = pl->p;
    struct lvm_lv *v = NULL;
    size_t n = 0, k = 0;
    char first[160] = "";
    int r;

    if ((r = lvm_list(p->lvm_vg, &v, &n, pl->log_fd, pl->d)))
        return r;
    for (size_t i = 0; i < n; i++) {
        if (!v[i].origin || strcmp(v[i].origin, p->disk_lv))
            continue;
        if (!k++)
            snprintf(first, sizeof first, "%s/%s", p->lvm_vg, v[i].name);
    }
    lvm_lvs_free(v, n);
    if (!k)
        return 0;
    diag_error(pl->d, NULL, 0, 0, "%s/%s has %zu snapshot%s (%s%s): --force would lose them;"
               " keep what you need, then `vm-provision --snapshot-delete' them; nothing was"
               " changed", p->lvm_vg, p->disk_lv, k, k == 1 ? "" : "s", first,
               k > 1 ? ", ..." : "");
    return -EEXIST;
}

/* ---- validate ---- */

static int step_validate(struct pipeline *pl)
{
    const struct plan *p = pl->p;
    const struct opt_set *o = pl->a->opts;
    const char *need[8];
    size_t n = 0;
    int bad = 0;

    if (geteuid() != 0) {
        diag_error(pl->d, NULL, 0, 0, "must run as root: building a guest root needs"
                   " chroot, device nodes and files owned by other users (--dry-run does not)");
        return -EPERM;
    }
    if (!strcmp(p->install_method, "mmdebstrap") || !strcmp(p->install_method, "debootstrap"))
        need[n++] = p->install_method;
    need[n++] = !strcmp(p->fs, "xfs") ? "mkfs.xfs" : !strcmp(p->fs, "btrfs") ? "mkfs.btrfs"
                                                                             : "mke2fs";
    if (p->swap_path)
        need[n++] = "mkswap";
    if (!strcmp(p->image_format, "qcow2"))
        need[n++] = "qemu-img";
    if (p->lvm_vg)
        need[n++] = "lvm";
    need[n++] = "ssh-keygen";
    for (size_t i = 0; i < n; i++) {
        char *path = proc_find_program(need[i]);

        free(path);
        if (!path) {
            diag_error(pl->d, NULL, 0, 0, "%s not found in PATH (needed to make this guest)",
                       need[i]);
            bad = 1;
        }
    }

    /* the bridge is the host's business, but a guest that cannot start is
     * worth saying so before the work, and fatal before --boot */
    if (!strcmp(p->network, "bridge")) {
        char path[PATH_MAX];

        snprintf(path, sizeof path, "/sys/class/net/%s/bridge", p->bridge);
        if (access(path, F_OK) < 0) {
            if (p->boot) {
                diag_error(pl->d, NULL, 0, 0, "--boot: there is no bridge %s on this host"
                           " (create it, or use --bridge NAME or --network user)", p->bridge);
                bad = 1;
            } else {
                diag_warn(pl->d, NULL, 0, 0, "there is no bridge %s on this host: the guest"
                          " will not start until there is (or use --bridge NAME or"
                          " --network user)", p->bridge);
            }
        }
    }

    /* root's password, generated or given, hashed once here */
    if (p->password == PLAN_PASSWORD_GENERATE &&
        identity_generate_password(&pl->res->password) < 0)
        return nomem(pl);
    if (p->password != PLAN_PASSWORD_NONE) {
        const char *pw = p->password == PLAN_PASSWORD_GIVEN ? o->v[SLOT_PASSWORD].value
                                                            : pl->res->password;
        int r = identity_hash_password(pw, pl->p->dist.password_hash, &pl->password_hash);

        if (r < 0) {
            diag_error(pl->d, NULL, 0, 0, "cannot hash root's password: %s", strerror(-r));
            return r;
        }
    }
    if (p->ssh_key) {
        size_t len;
        int r = file_read_bounded(p->ssh_key, SSH_KEY_MAX, 0, &pl->authorized_keys, &len, pl->d);

        if (r < 0)
            return r;
    }
    if (bad)
        return -EINVAL;
    return p->lvm_vg ? check_lvm(pl) : 0;
}

/* ---- lock ---- */

/*
 * What an interrupted run (SIGKILL, a power cut) of the same name left:
 * work directories, guests moved aside, half-written files.  The name's
 * lock is ours, so no live run owns them.
 */
static void sweep_dir(struct pipeline *pl, const char *dir, const char *const *prefixes)
{
    DIR *dp = opendir(dir);
    struct dirent *e;

    if (!dp)
        return;
    while ((e = readdir(dp))) {
        for (size_t i = 0; prefixes[i]; i++) {
            char *path;
            int r;

            if (strncmp(e->d_name, prefixes[i], strlen(prefixes[i])))
                continue;
            if (!(path = paths_join(dir, e->d_name)))
                break;
            r = journal_remove_tree(path);
            if (r)
                diag_warn(pl->d, NULL, 0, 0, "cannot remove %s (left by an interrupted run):"
                          " %s", path, strerror(-r));
            else
                diag_warn(pl->d, NULL, 0, 0, "removed %s, left by an interrupted run", path);
            free(path);
            break;
        }
    }
    closedir(dp);
}

static int sweep(struct pipeline *pl)
{
    const struct plan *p = pl->p;
    const char *name = p->hostname;
    char *dirs[4] = { strdup(p->image_dir), strdup(p->kernel_path), strdup(p->config_path),
                      registry_path(p->env->libdir, name) };
    char *pre[4][3] = { { 0 } };
    int r = 0;

    if (!dirs[0] || !dirs[1] || !dirs[2] || !dirs[3])
        r = -ENOMEM;
    if (!r) {
        *strrchr(dirs[0], '/') = '\0';             /* DIR/domains */
        *strrchr(dirs[1], '/') = '\0';             /* LIBDIR/boot/NAME */
        *strrchr(dirs[1], '/') = '\0';             /* LIBDIR/boot */
        *strrchr(dirs[2], '/') = '\0';
        *strrchr(dirs[3], '/') = '\0';
        if (asprintf(&pre[0][0], ".%s.new-", name) < 0 ||
            asprintf(&pre[0][1], ".%s.old-", name) < 0 ||
            asprintf(&pre[1][0], ".%s.old-", name) < 0 ||
            asprintf(&pre[2][0], ".%s.cfg.old-", name) < 0 ||
            asprintf(&pre[2][1], "%s.cfg.new-", name) < 0 ||
            asprintf(&pre[3][0], ".%s.json.old-", name) < 0 ||
            asprintf(&pre[3][1], "%s.json.new-", name) < 0)
            r = -ENOMEM;
    }
    for (int i = 0; !r && i < 4; i++)
        sweep_dir(pl, dirs[i], (const char *const *)pre[i]);
    for (int i = 0; i < 4; i++) {
        free(dirs[i]);
        for (int k = 0; k < 3; k++)
            free(pre[i][k]);
    }
    return r ? nomem(pl) : 0;
}


static int unlock(void *arg)
{
    struct pipeline *pl = arg;

    namelock_drop(pl->lock_fd, pl->p->lock_path);
    pl->lock_fd = -1;
    return 0;
}

/* Whether a domain called name runs (or is kept) under vmctl. */
static bool guest_running(const char *name)
{
    struct domstate ds;

    if (domstate_find(name, &ds) < 0)
        return false;
    bool alive = ds.qemu_pid > 0 || ds.supervisor_pid > 0;

    domstate_dispose(&ds);
    return alive;
}

static int step_lock(struct pipeline *pl)
{
    const struct plan *p = pl->p;
    char *dir = strdup(p->lock_path);
    int r;

    if (!dir)
        return nomem(pl);
    *strrchr(dir, '/') = '\0';
    r = mkdirs(pl, dir, 0700);
    free(dir);
    if (r)
        return r == -ENOMEM ? nomem(pl) : r;

    {
        char what[160];

        snprintf(what, sizeof what, "making %s", p->hostname);
        if ((r = namelock_take(p->lock_path, what, pl->d)) < 0)
            return r;
        pl->lock_fd = r;
    }
    if (journal_add_call(&pl->j, unlock, pl, p->lock_path) < 0) {
        unlock(pl);
        return nomem(pl);
    }
    if ((r = sweep(pl)) || (p->lvm_vg && (r = sweep_lvs(pl))) ||
        (p->lvm_vg && p->force && (r = check_snapshots(pl))))
        return r;

    /* what the plan saw may have changed before the lock was ours */
    if (!p->force) {
        const char *made = access(p->config_path, F_OK) == 0 ? p->config_path :
                           access(p->disk_path, F_OK) == 0 ? p->disk_path :
                           p->swap_path && access(p->swap_path, F_OK) == 0 ? p->swap_path : NULL;
        const char *lvs[] = { p->disk_lv, p->swap_lv, NULL }, *lv = NULL;
        char *lvname = NULL;

        /* a volume may be there though inactive (no /dev entry) */
        if (!made && p->lvm_vg) {
            if ((r = lvs_existing(pl, p->lvm_vg, lvs, &lv)))
                return r;
            if (lv && asprintf(&lvname, "logical volume %s/%s", p->lvm_vg, lv) < 0)
                return nomem(pl);
            made = lvname;
        }
        if (made) {
            diag_error(pl->d, NULL, 0, 0, "guest `%s' exists: %s (--force replaces it)",
                       p->hostname, made);
            free(lvname);
            return -EEXIST;
        }
    }
    if (guest_running(p->hostname)) {
        diag_error(pl->d, NULL, 0, 0, "guest `%s' is running: `vmctl shutdown -w %s' first",
                   p->hostname, p->hostname);
        return -EBUSY;
    }
    return 0;
}

/* ---- storage ---- */

static int step_storage(struct pipeline *pl)
{
    const struct plan *p = pl->p;
    char *parent = strdup(p->image_dir), *tmpl = NULL;
    const char *name;
    int r;

    if (!parent)
        return nomem(pl);
    *strrchr(parent, '/') = '\0';
    name = strrchr(p->image_dir, '/') + 1;
    r = mkdirs(pl, parent, 0755);
    if (!r && asprintf(&tmpl, "%s/.%s.new-XXXXXX", parent, name) < 0) {
        tmpl = NULL;
        r = nomem(pl);
    }
    free(parent);
    if (r) {
        free(tmpl);
        return r;
    }
    if (!mkdtemp(tmpl)) {
        r = -errno;
        diag_error(pl->d, NULL, 0, 0, "cannot create a work directory %s: %s", tmpl,
                   strerror(errno));
        free(tmpl);
        return r;
    }
    pl->workdir = tmpl;
    if (journal_add_tree(&pl->j, pl->workdir) < 0) {
        rmdir(pl->workdir);
        return nomem(pl);
    }
    if (chmod(pl->workdir, 0755) < 0) {
        r = -errno;
        diag_error(pl->d, NULL, 0, 0, "cannot chmod %s: %s", pl->workdir, strerror(errno));
        return r;
    }
    if (!(pl->staging = paths_join(pl->workdir, "root")))
        return nomem(pl);
    if (p->lvm_vg) {
        /* made aside, renamed into place with the config: an old guest's
         * volumes stay whole until then */
        if (asprintf(&pl->new_disk_lv, "%s.new-%ld", p->disk_lv, (long)getpid()) < 0 ||
            (p->swap_path && asprintf(&pl->new_swap_lv, "%s.new-%ld", p->swap_lv,
                                      (long)getpid()) < 0))
            return nomem(pl);
        if ((r = lv_make(pl, pl->new_disk_lv, p->size, &pl->new_disk)) ||
            (p->swap_path && (r = lv_make(pl, pl->new_swap_lv, p->swap, &pl->new_swap))))
            return r;
    } else if (!(pl->new_disk = paths_join(pl->workdir, strrchr(p->disk_path, '/') + 1)) ||
               (p->swap_path && !(pl->new_swap = paths_join(pl->workdir, "swap.img")))) {
        return nomem(pl);
    }
    if (pl->new_swap) {
        detail(pl, "swap image");
        r = image_make_swap(pl->new_swap, p->swap, "swap", pl->log_fd, pl->d);
        if (r)
            return r;
    }
    return 0;
}

/* ---- install ---- */

/*
 * The staging root in memory: a tmpfs as large as the image (a root that
 * does not fit in it would not fit in the image either), when the host
 * has twice that available.  It is mounted in vm-provision's own mount
 * namespace (pipeline_run), so no other process sees it and it goes with
 * vm-provision whatever happens; the root's files then never reach the
 * disk, only the image does.  Otherwise the staging root is on disk.
 */
static uint64_t mem_available(void)
{
    char *text = NULL, *line;
    size_t len;
    uint64_t kb = 0;
    int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return 0;
    if (fd_read_bounded(fd, 64 * 1024, &text, &len) == 0 &&
        (line = strstr(text, "MemAvailable:")))
        kb = strtoull(line + 13, NULL, 10);
    close(fd);
    free(text);
    return kb * 1024;
}

static int unmount_staging(void *arg)
{
    struct pipeline *pl = arg;

    if (pl->staging_mounted && umount2(pl->staging, MNT_DETACH) < 0 && errno != EINVAL)
        return -errno;
    pl->staging_mounted = false;
    return 0;
}

static void staging_tmpfs(struct pipeline *pl)
{
    char data[64];

    if (!pl->own_mounts || mem_available() / 2 < pl->p->size)
        return;
    snprintf(data, sizeof data, "size=%llu,mode=0755",
             (unsigned long long)pl->p->size);
    if (mount("vmkit-staging", pl->staging, "tmpfs", 0, data) < 0) {
        diag_warn(pl->d, NULL, 0, 0, "cannot mount a tmpfs on %s (%s): the root is staged on"
                  " disk", pl->staging, strerror(errno));
        return;
    }
    pl->staging_mounted = true;
    if (journal_add_call(&pl->j, unmount_staging, pl, pl->staging) < 0) {
        unmount_staging(pl);
        return;
    }
    detail(pl, "the root is staged in memory (tmpfs)");
}

/* The install request of the plan; *repos_r and *hooks_r are the
 * caller's to free. */
static int install_request(struct pipeline *pl, struct install_req *req_r,
                           struct install_repo **repos_r, char **hooks_r)
{
    const struct plan *p = pl->p;
    struct install_req req = { 0 };
    struct install_repo *repos = NULL;
    char *hooks = NULL;

    if (!(hooks = paths_join(pl->a->datadir, "hooks/debian/bootstrap")))
        return nomem(pl);
    req.method = p->install_method;
    req.suite = p->dist.suite;
    req.arch = p->arch;
    req.mirror = p->mirror;
    req.components = p->dist.components.v;
    req.packages = p->packages;
    req.source = p->install_source;
    req.staging = pl->staging;
    req.cachedir = p->cachedir;
    req.use_cache = p->cache;
    req.bootstrap_hooks = hooks;
    req.log_fd = pl->log_fd;
    req.tty_fd = pl->a->tty_fd;
    req.release = p->dist.release;
    if (p->nrepos && !(repos = calloc(p->nrepos, sizeof(*repos)))) {
        free(hooks);
        return nomem(pl);
    }
    for (size_t i = 0; i < p->nrepos; i++) {
        repos[i].name = p->repos[i].name;
        repos[i].url = p->repos[i].url;
        repos[i].mirrorlist = p->repos[i].mirrorlist;
    }
    req.repos = repos;
    req.nrepos = p->nrepos;
    *req_r = req;
    *repos_r = repos;
    *hooks_r = hooks;
    return 0;
}

/* The root, from the base cache or built, into the staging directory. */
static int install_staging(struct pipeline *pl)
{
    struct install_req req;
    struct install_result ir = { 0 };
    struct install_repo *repos = NULL;
    char *hooks = NULL;
    int r;

    if (mkdir(pl->staging, 0755) < 0) {
        r = -errno;
        diag_error(pl->d, NULL, 0, 0, "cannot create %s: %s", pl->staging, strerror(errno));
        return r;
    }
    staging_tmpfs(pl);
    if ((r = install_request(pl, &req, &repos, &hooks)))
        return r;
    r = install_root(&req, &ir, pl->d);
    free(hooks);
    free(repos);
    if (r)
        return r;
    pl->cache_hit = ir.cache_hit;
    if (ir.cache_hit) {
        detail(pl, "the base root came from the cache");
    } else if (ir.packages) {
        char what[128];

        snprintf(what, sizeof what, "%lu packages, %.1f s fetching, %.1f s installing",
                 ir.packages, ir.seconds_download, ir.seconds_bootstrap);
        detail(pl, what);
    }
    return 0;
}

static int golden_install(struct pipeline *pl);

static int step_install(struct pipeline *pl)
{
    return pl->p->golden ? golden_install(pl) : install_staging(pl);
}

/* ---- hooks ---- */

static int env_add(char ***envp, size_t *n, const char *key, const char *value)
{
    char **v = realloc(*envp, (*n + 2) * sizeof(*v));

    if (!v)
        return -ENOMEM;
    *envp = v;
    if (asprintf(&v[*n], "%s=%s", key, value ? value : "") < 0)
        return -ENOMEM;
    v[++*n] = NULL;
    return 0;
}

static void env_free(char **envp)
{
    for (size_t i = 0; envp && envp[i]; i++)
        free(envp[i]);
    free(envp);
}

/*
 * The hooks' environment: every provisioning setting as VMKIT_<OPTION>
 * (shared/DESIGN.md), resolved, never the password; a fixed PATH.  For a
 * golden image (golden), the settings that name one guest or say how it
 * runs are empty and VMKIT_GOLDEN is 1: the image is every clone's, and
 * the environment is part of its key.
 */
static char **hook_env(const struct plan *p, const struct opt_set *o, bool golden)
{
    char **envp = NULL, size[32], swap[32], mem[32], maxmem[32], vcpus[16], netmask[8] = "";
    char *components = strv_join(p->dist.components.v, " ");
    char *roles = strv_join(p->roles, ","), *repos = NULL;
    char *mounts = NULL, *consoles = NULL, *kargs = NULL, swapdev[48] = "", bootdev[48] = "";
    const char *bootprefix = p->partitioned ? "/boot" : "";
    char *dir = strdup(p->image_dir), *output = strdup(p->config_path);
    size_t n = 0;
    int r = 0;

    if (dir) {      /* DIR/domains/NAME */
        *strrchr(dir, '/') = '\0';
        *strrchr(dir, '/') = '\0';
    }
    if (output)
        *strrchr(output, '/') = '\0';
    snprintf(maxmem, sizeof maxmem, "%ldM", p->maxmem);
    snprintf(size, sizeof size, "%lluM", (unsigned long long)(p->size >> 20));
    snprintf(swap, sizeof swap, "%lluM", (unsigned long long)(p->swap >> 20));
    snprintf(mem, sizeof mem, "%ldM", p->memory);
    snprintf(vcpus, sizeof vcpus, "%ld", p->vcpus);
    if (!p->dhcp && p->ip)
        snprintf(netmask, sizeof netmask, "/%d", p->prefix);
    /* the rpm repositories as NAME=URL words */
    for (size_t i = 0; i < p->nrepos && r == 0; i++) {
        char *more = NULL;

        if (asprintf(&more, "%s%s%s=%s", repos ? repos : "", repos ? " " : "",
                     p->repos[i].name, p->repos[i].url) < 0)
            r = -ENOMEM;
        else {
            free(repos);
            repos = more;
        }
    }
    /* a partitioned disk: the other mounts, swap, /boot, the kernel's arguments */
    for (size_t i = 0; i < p->layout.n && r == 0; i++) {
        const struct part_entry *e = &p->layout.v[i];
        char *more = NULL;

        if (!strcmp(e->fs, "swap")) {
            if (!swapdev[0])
                snprintf(swapdev, sizeof swapdev, "UUID=%s", e->uuid);
            continue;
        }
        if (i == p->layout.root)
            continue;
        if (asprintf(&more, "%s%sUUID=%s:%s:%s:%s", mounts ? mounts : "", mounts ? " " : "",
                     e->uuid, e->mountpoint, e->fs, e->options) < 0)
            r = -ENOMEM;
        else {
            free(mounts);
            mounts = more;
        }
    }
    if (p->partitioned) {
        const struct part_entry *be = partition_find_mount(&p->layout, "/boot");

        if (!be)
            be = &p->layout.v[p->layout.root];
        else
            bootprefix = "";
        snprintf(bootdev, sizeof bootdev, "UUID=%s", be->uuid);
        if (asprintf(&consoles, "%s%s", p->dist.console,
                     strcmp(p->dist.console, "ttyS0") ? " ttyS0" : "") < 0)
            consoles = NULL;
        /* the last console= is /dev/console: the serial port, where an hvm
         * guest's login is; a pvh guest has its getty on hvc0 too */
        if (asprintf(&kargs, "root=%s ro console=%s%s net.ifnames=0", p->root_device,
                     p->dist.console, strcmp(p->dist.console, "ttyS0") ? " console=ttyS0"
                                                                       : "") < 0)
            kargs = NULL;
        if (!consoles || !kargs)
            r = -ENOMEM;
    }
    if (!components || !roles || !dir || !output)
        r = -ENOMEM;
#define G(value) (golden ? "" : (value))
    r = r ? r : env_add(&envp, &n, "PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    r = r ? r : env_add(&envp, &n, "LC_ALL", "C.UTF-8");
    r = r ? r : env_add(&envp, &n, "DEBIAN_FRONTEND", "noninteractive");
    r = r ? r : env_add(&envp, &n, "VMKIT_HOSTNAME", G(p->hostname));
    r = r ? r : env_add(&envp, &n, "VMKIT_DIST", p->dist.name);
    r = r ? r : env_add(&envp, &n, "VMKIT_FAMILY", p->dist.family);
    r = r ? r : env_add(&envp, &n, "VMKIT_SUITE", p->dist.suite);
    r = r ? r : env_add(&envp, &n, "VMKIT_ARCH", p->arch);
    r = r ? r : env_add(&envp, &n, "VMKIT_MIRROR", p->mirror);
    r = r ? r : env_add(&envp, &n, "VMKIT_COMPONENTS", components);
    r = r ? r : env_add(&envp, &n, "VMKIT_INSTALL_METHOD", p->install_method);
    r = r ? r : env_add(&envp, &n, "VMKIT_FS", p->fs);
    r = r ? r : env_add(&envp, &n, "VMKIT_SIZE", size);
    r = r ? r : env_add(&envp, &n, "VMKIT_IMAGE_FORMAT", G(p->image_format));
    r = r ? r : env_add(&envp, &n, "VMKIT_ROOT_DEVICE", p->root_device);
    r = r ? r : env_add(&envp, &n, "VMKIT_SWAP", p->swap_path ? swap : "");
    r = r ? r : env_add(&envp, &n, "VMKIT_SWAP_DEVICE", p->swap_path ? "LABEL=swap" : swapdev);
    r = r ? r : env_add(&envp, &n, "VMKIT_MOUNTS", mounts);
    r = r ? r : env_add(&envp, &n, "VMKIT_DISK_LAYOUT", p->partitioned ? "partitioned"
                                                                          : "whole");
    r = r ? r : env_add(&envp, &n, "VMKIT_PARTITIONS", p->layout.source);
    r = r ? r : env_add(&envp, &n, "VMKIT_PARTITION_TABLE", p->partitioned ? p->layout.table
                                                                              : "");
    r = r ? r : env_add(&envp, &n, "VMKIT_BOOT_METHOD", p->boot_method);
    r = r ? r : env_add(&envp, &n, "VMKIT_BOOT_DEVICE", bootdev);
    r = r ? r : env_add(&envp, &n, "VMKIT_BOOT_PREFIX", bootprefix);
    r = r ? r : env_add(&envp, &n, "VMKIT_KERNEL_ARGS", kargs);
    /* a partitioned guest may boot through firmware (hvm): a login on
     * the serial port too */
    r = r ? r : env_add(&envp, &n, "VMKIT_CONSOLE", p->partitioned ? consoles
                                                                    : p->dist.console);
    r = r ? r : env_add(&envp, &n, "VMKIT_NETWORK_STYLE", p->dist.network_style);
    r = r ? r : env_add(&envp, &n, "VMKIT_KERNEL_PACKAGE", p->dist.kernel_package);
    r = r ? r : env_add(&envp, &n, "VMKIT_RELEASE", p->dist.release);
    r = r ? r : env_add(&envp, &n, "VMKIT_REPOSITORIES", repos);
    r = r ? r : env_add(&envp, &n, "VMKIT_GPGKEY", p->dist.gpgkey);
    /* a mirror of the user's own: the guest uses it, not the release's */
    r = r ? r : env_add(&envp, &n, "VMKIT_RELEASE_REPOS",
                        p->nrepos && !p->mirror_from_dist ? "disable" : p->dist.release_repos);
    r = r ? r : env_add(&envp, &n, "VMKIT_MEMORY", G(mem));
    r = r ? r : env_add(&envp, &n, "VMKIT_MAXMEM", G(maxmem));
    r = r ? r : env_add(&envp, &n, "VMKIT_DIR", G(dir));
    r = r ? r : env_add(&envp, &n, "VMKIT_OUTPUT", G(output));
    r = r ? r : env_add(&envp, &n, "VMKIT_INSTALL_SOURCE", p->install_source);
    r = r ? r : env_add(&envp, &n, "VMKIT_LVM", G(p->lvm_vg && !p->lvm_pool ? p->lvm_vg : ""));
    r = r ? r : env_add(&envp, &n, "VMKIT_LVM_THIN", G(p->lvm_pool ? o->v[SLOT_LVM].value : ""));
    r = r ? r : env_add(&envp, &n, "VMKIT_TEMPLATE", p->env->template_name);
    r = r ? r : env_add(&envp, &n, "VMKIT_PACKAGES", o->v[SLOT_PACKAGES].value);
    r = r ? r : env_add(&envp, &n, "VMKIT_CACHE", p->cache ? "1" : "0");
    r = r ? r : env_add(&envp, &n, "VMKIT_BOOT", G(p->boot ? "1" : "0"));
    r = r ? r : env_add(&envp, &n, "VMKIT_HOOKS", o->v[SLOT_HOOKS].value);
    r = r ? r : env_add(&envp, &n, "VMKIT_VCPUS", G(vcpus));
    r = r ? r : env_add(&envp, &n, "VMKIT_ROLE", roles);
    r = r ? r : env_add(&envp, &n, "VMKIT_NETWORK", G(p->network));
    r = r ? r : env_add(&envp, &n, "VMKIT_DHCP", G(p->dhcp ? "1" : "0"));
    r = r ? r : env_add(&envp, &n, "VMKIT_IP", G(p->dhcp ? "" : p->ip));
    r = r ? r : env_add(&envp, &n, "VMKIT_NETMASK", G(netmask));
    r = r ? r : env_add(&envp, &n, "VMKIT_GATEWAY", G(p->gateway));
    r = r ? r : env_add(&envp, &n, "VMKIT_NAMESERVER", G(p->nameservers));
    r = r ? r : env_add(&envp, &n, "VMKIT_MAC", G(p->mac));
    r = r ? r : env_add(&envp, &n, "VMKIT_BRIDGE", G(!strcmp(p->network, "bridge") ? p->bridge
                                                                                  : ""));
    r = r ? r : env_add(&envp, &n, "VMKIT_SSH_KEY", G(p->ssh_key));
    r = r ? r : env_add(&envp, &n, "VMKIT_TIMEZONE", "Etc/UTC");
    r = r ? r : env_add(&envp, &n, "VMKIT_LOCALE", "C.UTF-8");
    r = r ? r : env_add(&envp, &n, "VMKIT_GOLDEN", golden ? "1" : "0");
#undef G
    free(components);
    free(repos);
    free(mounts);
    free(consoles);
    free(kargs);
    free(roles);
    free(dir);
    free(output);
    if (r) {
        env_free(envp);
        return NULL;
    }
    return envp;
}

static void hook_progress(void *ctx, const char *path)
{
    char buf[PATH_MAX + 16];

    snprintf(buf, sizeof buf, "hook %s", path);
    detail(ctx, buf);
}

static int run_hooks(struct pipeline *pl, const struct hook_list *l, char *const *envp)
{
    return hooks_run(l, pl->staging, envp, pl->log_fd, HOOK_TIMEOUT_MS, hook_progress, pl,
                     pl->d);
}

static int step_hooks(struct pipeline *pl)
{
    struct hook_list l = { 0 };
    char **envp;
    int r;

    if (pl->p->golden) {
        char what[GOLDEN_ID_MAX + 64];

        snprintf(what, sizeof what, "they ran %s, into golden image %s",
                 pl->golden_built ? "once now" : "when it was built", pl->golden_id);
        detail(pl, what);
        return 0;
    }
    if (!(envp = hook_env(pl->p, pl->a->opts, false)))
        return nomem(pl);
    r = hooks_collect(pl->p->hook_dirs, &l, pl->d);
    if (!r)
        r = run_hooks(pl, &l, envp);
    hook_list_dispose(&l);
    env_free(envp);
    return r;
}

/* ---- identity ---- */

/* Stops the export of an overlay (journal): before its work directory goes. */
static int stop_export(void *arg)
{
    struct pipeline *pl = arg;

    return clone_unexport(&pl->export, pl->d);
}

/* Personalises the clone: through libext2fs, on the raw image or on the
 * overlay exposed as one; or in a libguestfs appliance. */
static int clone_identity(struct pipeline *pl, const struct identity *id)
{
    char *view = NULL;
    int r;

    if (!strcmp(pl->p->customize, "guestfs")) {
        detail(pl, "in a libguestfs appliance (--customize guestfs)");
        return identity_apply_guestfs(id, pl->new_disk, pl->p->image_format, pl->d);
    }
    if (strcmp(pl->p->image_format, "qcow2"))
        return identity_apply_ext2(id, pl->new_disk, 0, 0, pl->d);
    if (!(view = paths_join(pl->workdir, "disk.view")))
        return nomem(pl);
    if (journal_add_call(&pl->j, stop_export, pl, view) < 0) {
        free(view);
        return nomem(pl);
    }
    detail(pl, "the qcow2 disk seen as a raw file (qemu-storage-daemon, FUSE export)");
    r = clone_export(pl->new_disk, view, pl->log_fd, &pl->export, pl->d);
    free(view);
    if (r)
        return r;
    r = identity_apply_ext2(id, pl->export.path, 0, 0, pl->d);
    if (clone_unexport(&pl->export, pl->d) && !r)
        r = -EIO;
    return r;
}

static int step_identity(struct pipeline *pl)
{
    const struct plan *p = pl->p;
    struct identity id = { 0 };

    id.hostname = p->hostname;
    /* --network none: no interface, so no network configuration */
    id.network_style = !strcmp(p->network, "none") ? NULL : p->dist.network_style;
    id.iface = "eth0";
    id.dhcp = p->dhcp;
    id.ip = p->ip;
    id.prefix = p->prefix;
    id.gateway = p->gateway;
    id.nameservers = p->nameservers;
    id.mac = p->mac;
    id.password_hash = pl->password_hash;
    id.authorized_keys = pl->authorized_keys;
    id.ssh_host_keys = true;
    if (p->golden)
        return clone_identity(pl, &id);
    return identity_apply_dir(&id, pl->staging, pl->d);
}

/* ---- kernel ---- */

/* Copies name from dirfd (no symlink followed) to a new file dst. */
static int copy_out(struct pipeline *pl, int dirfd, const char *name, const char *dst)
{
    struct stat st;
    int in = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out = -1, r = 0;

    if (in < 0 || fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
        r = in < 0 ? -errno : -EINVAL;
        diag_error(pl->d, NULL, 0, 0, "guest root: /boot/%s: %s", name,
                   r == -EINVAL ? "not a regular file" : strerror(-r));
        goto out;
    }
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) {
        r = -errno;
        diag_error(pl->d, NULL, 0, 0, "cannot create %s: %s", dst, strerror(errno));
        goto out;
    }
    for (off_t done = 0; done < st.st_size;) {
        ssize_t k = sendfile(out, in, NULL, (size_t)(st.st_size - done));

        if (k <= 0) {
            r = k < 0 ? -errno : -EIO;
            diag_error(pl->d, NULL, 0, 0, "copying /boot/%s to %s: %s", name, dst,
                       strerror(-r));
            unlink(dst);
            goto out;
        }
        done += k;
    }
out:
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) < 0 && !r) {
        r = -errno;
        unlink(dst);
    }
    return r;
}

/*
 * Finds the staging root's newest kernel with its initramfs and copies
 * them to kernel and ramdisk (new files); kernel NULL: only finds them
 * (pygrub boots them where they are).
 */
static int kernel_out(struct pipeline *pl, const char *kernel, const char *ramdisk)
{
    int rootfd = -1, bootfd = -1, r = 0;
    DIR *dir = NULL;
    struct dirent *e;
    char *best = NULL, initrd[NAME_MAX + 1];

    rootfd = open(pl->staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd >= 0)
        bootfd = openat(rootfd, "boot", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (bootfd < 0 || !(dir = fdopendir(dup(bootfd)))) {
        r = -errno;
        diag_error(pl->d, NULL, 0, 0, "guest root: /boot: %s", strerror(errno));
        goto out;
    }
    /* the newest vmlinuz-VERSION that has its initramfs: initrd.img-VERSION
     * (Debian's name) or initramfs-VERSION.img (dracut's); not a rescue
     * kernel (vmlinuz-0-rescue-MACHINEID, which dracut makes generic) */
    while ((e = readdir(dir))) {
        const char *ver = e->d_name + 8;
        struct stat st;
        char cand[NAME_MAX + 1] = "";

        if (strncmp(e->d_name, "vmlinuz-", 8) || !*ver || !strncmp(ver, "0-rescue-", 9))
            continue;
        if (fstatat(bootfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        for (int k = 0; k < 2 && !cand[0]; k++) {
            snprintf(cand, sizeof cand, k ? "initramfs-%s.img" : "initrd.img-%s", ver);
            if (fstatat(bootfd, cand, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                cand[0] = 0;
        }
        if (!cand[0])
            continue;
        if (!best || strverscmp(e->d_name, best) > 0) {
            free(best);
            if (!(best = strdup(e->d_name))) {
                r = nomem(pl);
                goto out;
            }
            strcpy(initrd, cand);
        }
    }
    if (!best) {
        diag_error(pl->d, NULL, 0, 0, "guest root: no kernel in /boot (vmlinuz-VERSION with"
                   " its initrd.img-VERSION or initramfs-VERSION.img); the %s install must"
                   " include one", pl->p->install_method);
        r = -ENOENT;
        goto out;
    }
    {
        char what[NAME_MAX + 32];

        snprintf(what, sizeof what, "kernel %s%s", best + 8,
                 kernel ? "" : " (stays in the guest's /boot)");
        detail(pl, what);
    }
    if (kernel && !(r = copy_out(pl, bootfd, best, kernel)))
        r = copy_out(pl, bootfd, initrd, ramdisk);
out:
    if (dir)
        closedir(dir);
    if (bootfd >= 0)
        close(bootfd);
    if (rootfd >= 0)
        close(rootfd);
    free(best);
    return r;
}

/* A golden image's kernel file name as the guest's: a hard link where
 * the two are on one file system (the image's files are never written
 * again), else a copy. */
static int golden_file(struct pipeline *pl, const char *name, const char *dst)
{
    char *src = paths_join(pl->golden_dir, name);
    int r = 0;

    if (!src)
        return nomem(pl);
    if (link(src, dst) < 0) {
        if (errno == EXDEV || errno == EPERM || errno == EMLINK)
            r = clone_copy(src, dst, pl->a->interrupted, NULL, pl->d);
        else {
            r = -errno;
            diag_error(pl->d, NULL, 0, 0, "cannot link %s to %s: %s", src, dst,
                       strerror(errno));
        }
    }
    free(src);
    return r;
}

static int step_kernel(struct pipeline *pl)
{
    char *bootdir = NULL;
    int r;

    if (!strcmp(pl->p->boot_method, "pygrub"))
        return kernel_out(pl, NULL, NULL);
    if (!(bootdir = paths_join(pl->workdir, "boot")) ||
        !(pl->new_kernel = paths_join(bootdir, "vmlinuz")) ||
        !(pl->new_ramdisk = paths_join(bootdir, "initrd.img"))) {
        r = nomem(pl);
        goto out;
    }
    if (mkdir(bootdir, 0755) < 0) {
        r = -errno;
        diag_error(pl->d, NULL, 0, 0, "cannot create %s: %s", bootdir, strerror(errno));
        goto out;
    }
    if (pl->p->golden) {
        detail(pl, "from the golden image");
        if (!(r = golden_file(pl, "vmlinuz", pl->new_kernel)))
            r = golden_file(pl, "initrd.img", pl->new_ramdisk);
    } else {
        r = kernel_out(pl, pl->new_kernel, pl->new_ramdisk);
    }
out:
    free(bootdir);
    return r;
}

/* ---- filesystem ---- */

/* Copies the host's i386-pc GRUB modules (*.mod, *.lst) into the guest's
 * /boot/grub/i386-pc, where core.img's prefix points: they must match
 * the core.img made from the same directory. */
static int copy_grub_modules(struct pipeline *pl)
{
    char *dst = NULL;
    DIR *dir = NULL;
    struct dirent *e;
    int r = 0, srcfd = -1;

    if (!(dst = paths_join(pl->staging, "boot/grub/i386-pc")))
        return nomem(pl);
    if ((r = mkdirs(pl, dst, 0755)))
        goto out;
    if ((srcfd = open(PART_GRUB_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        !(dir = fdopendir(dup(srcfd)))) {
        r = -errno;
        diag_error(pl->d, NULL, 0, 0, "cannot read %s (Debian package grub-pc-bin): %s",
                   PART_GRUB_DIR, strerror(errno));
        goto out;
    }
    while ((e = readdir(dir))) {
        size_t k = strlen(e->d_name);
        char *to;

        if (k < 5 || (strcmp(e->d_name + k - 4, ".mod") && strcmp(e->d_name + k - 4, ".lst")))
            continue;
        if (!(to = paths_join(dst, e->d_name))) {
            r = nomem(pl);
            goto out;
        }
        unlink(to);                     /* the guest's own grub-pc, if any, is replaced */
        r = copy_out(pl, srcfd, e->d_name, to);
        free(to);
        if (r)
            goto out;
    }
out:
    if (dir)
        closedir(dir);
    if (srcfd >= 0)
        close(srcfd);
    free(dst);
    return r;
}

/* Empties dir (a mount point whose tree went to its own partition),
 * keeping the directory itself, its owner and mode. */
static int empty_dir(struct pipeline *pl, const char *dir)
{
    struct stat st;
    int r;

    if (lstat(dir, &st) < 0) {
        r = -errno;
        diag_error(pl->d, NULL, 0, 0, "cannot stat %s: %s", dir, strerror(errno));
        return r;
    }
    if ((r = journal_remove_tree(dir)) || (mkdir(dir, st.st_mode & 07777) < 0 && (r = -errno)) ||
        (chown(dir, st.st_uid, st.st_gid) < 0 && (r = -errno)) ||
        (chmod(dir, st.st_mode & 07777) < 0 && (r = -errno))) {
        diag_error(pl->d, NULL, 0, 0, "cannot empty %s: %s", dir, strerror(-r));
        return r;
    }
    return 0;
}

static int mount_depth(const char *m)
{
    int n = 0;

    for (; *m; m++)
        n += *m == '/';
    return n;
}

/*
 * A partitioned disk in raw: the table (libparted), then each partition's
 * file system, deepest mount point first, each built from its subtree of
 * the staging root, which is then emptied (its parent gets an empty
 * mount point); the root last; GRUB into the boot sectors.
 */
static int build_partitioned(struct pipeline *pl, const char *raw)
{
    const struct plan *p = pl->p;
    const struct part_layout *l = &p->layout;
    const struct part_entry *boot = partition_find_mount(l, "/boot");
    bool *done = calloc(l->n, sizeof(*done));
    int fd, r = 0;

    if (!done)
        return nomem(pl);
    /* a logical volume is written as it is */
    fd = p->lvm_vg ? open(raw, O_WRONLY | O_CLOEXEC)
                   : open(raw, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || (!p->lvm_vg && ftruncate(fd, (off_t)l->disk_size) < 0)) {
        r = -errno;
        diag_error(pl->d, NULL, 0, 0, "cannot make %s: %s", raw, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto out;
    }
    close(fd);
    detail(pl, "partition table (libparted)");
    if ((r = partition_write_table(l, raw, pl->d)))
        goto out;
    if (access(PART_GRUB_DIR "/boot.img", F_OK) == 0)
        r = copy_grub_modules(pl);
    else
        diag_warn(pl->d, NULL, 0, 0, "no %s (Debian package grub-pc-bin): the disk gets no"
                  " GRUB and cannot boot through firmware (type \"hvm\")", PART_GRUB_DIR);
    if (r)
        goto out;
    for (size_t left = l->n; left && !r; left--) {
        const struct part_entry *e = NULL;
        char *src = NULL, what[160];
        const char *label;

        /* the deepest mount point not yet built; swap any time; `/' last */
        for (size_t i = 0; i < l->n; i++) {
            if (done[i])
                continue;
            if (!e || (e->mountpoint && (!l->v[i].mountpoint ||
                                         mount_depth(l->v[i].mountpoint) >
                                         mount_depth(e->mountpoint) ||
                                         !strcmp(e->mountpoint, "/"))))
                e = &l->v[i];
        }
        done[e - l->v] = true;
        snprintf(what, sizeof what, "partition %d: %s %s", e->number, e->fs,
                 e->mountpoint ? e->mountpoint : "swap");
        detail(pl, what);
        if (e->mountpoint) {
            if (!(src = paths_join(pl->staging, e->mountpoint + 1)))
                r = nomem(pl);
            else if (strcmp(e->mountpoint, "/"))
                r = mkdirs(pl, src, 0755);
        }
        label = e == &l->v[l->root] ? "root" : !strcmp(e->fs, "swap") ? "swap"
                : strlen(e->name) <= image_label_max(strncmp(e->fs, "ext", 3) ? e->fs : "ext4")
                ? e->name : NULL;
        if (!r)
            r = image_build_fs_at(e->fs, src, label, e->uuid,
                                  !strcmp(e->fs, "ext4") ? p->dist.ext4_features : NULL, raw,
                                  e->start, e->size, pl->workdir, pl->log_fd, pl->d);
        if (!r && src && strcmp(e->mountpoint, "/"))
            r = empty_dir(pl, src);
        free(src);
    }
    if (!r && access(PART_GRUB_DIR "/boot.img", F_OK) == 0) {
        /* a volume's /dev/VG/LV is a link, which GRUB's writer does not follow */
        char *dev = p->lvm_vg ? realpath(raw, NULL) : NULL;

        detail(pl, "GRUB for BIOS boot (grub-mkimage, boot.img)");
        r = partition_install_grub(l, dev ? dev : raw, NULL,
                                   (boot ? boot : &l->v[l->root])->uuid,
                                   boot ? "/grub" : "/boot/grub", pl->workdir, pl->log_fd,
                                   pl->d);
        free(dev);
    }
out:
    free(done);
    return r;
}

static int step_filesystem(struct pipeline *pl)
{
    const struct plan *p = pl->p;
    bool qcow2 = !strcmp(p->image_format, "qcow2");
    char *raw;
    int r;

    if (p->golden) {
        detail(pl, "none to build: the clone is the file system");
        return 0;
    }
    if (!(raw = qcow2 ? paths_join(pl->workdir, "disk.raw") : strdup(pl->new_disk)))
        return nomem(pl);
    if (p->partitioned)
        r = build_partitioned(pl, raw);
    else
        r = image_build_fs(p->fs, pl->staging, "root", p->size,
                           !strcmp(p->fs, "ext4") ? p->dist.ext4_features : NULL, raw,
                           pl->workdir, pl->log_fd, pl->d);
    if (r && p->partitioned && !p->lvm_vg)
        unlink(raw);
    if (!r && qcow2) {
        detail(pl, "qemu-img convert to qcow2");
        r = image_convert_qcow2(raw, pl->new_disk, pl->log_fd, pl->d);
        unlink(raw);
    }
    free(raw);
    if (r)
        return r;
    /* the root is in the image now: free its space before anything else */
    r = unmount_staging(pl);
    if (!r)
        r = journal_remove_tree(pl->staging);
    if (r)
        diag_warn(pl->d, NULL, 0, 0, "cannot remove %s: %s", pl->staging, strerror(-r));
    return 0;
}

/* ---- golden images ---- */

/*
 * The golden image's key: the base root's, the hooks (names, modes,
 * content) and their environment as the golden build gives it, the file
 * system, size and ext4 features.  Fills pl->golden_key.
 */
static int golden_key(struct pipeline *pl, const struct hook_list *l, char *const *envp)
{
    const struct plan *p = pl->p;
    struct install_req req;
    struct install_repo *repos = NULL;
    char *hooks = NULL;
    char *none[] = { NULL };
    int r;

    if ((r = install_request(pl, &req, &repos, &hooks)))
        return r;
    r = install_base_key(&req, pl->base_key, pl->d);
    free(hooks);
    free(repos);
    if (r)
        return r;
    struct cache_golden_id id = {
        .base_key = pl->base_key, .env = envp, .hooks = l->paths ? l->paths : none,
        .fs = p->fs, .size = p->size,
        .ext4_features = !strcmp(p->fs, "ext4") ? p->dist.ext4_features : NULL,
    };

    return cache_golden_key(&id, pl->golden_key, pl->d);
}

/* Builds the golden image into a new entry of the cache: the root
 * installed and hooked in the staging directory, stripped of what names
 * a guest, its kernel copied out, its image made; then renamed into
 * place (golden_build_commit), so that no half image is ever found. */
static int golden_build(struct pipeline *pl, const struct hook_list *l, char *const *envp)
{
    const struct plan *p = pl->p;
    struct identity_root root = { 0 };
    struct golden_info info = { 0 };
    char *tmp = NULL, *disk = NULL, *kernel = NULL, *ramdisk = NULL, *packages = NULL;
    char *roles = NULL, what[GOLDEN_ID_MAX + 64];
    double t0 = now_s();
    int r;

    if ((r = golden_build_begin(p->cachedir, pl->golden_key, &tmp, pl->d)))
        return r;
    if (journal_add_tree(&pl->j, tmp) < 0) {
        journal_remove_tree(tmp);
        free(tmp);
        return nomem(pl);
    }
    detail(pl, "no golden image yet: building one (base root, hooks, image)");
    if (!(disk = paths_join(tmp, "disk.img")) || !(kernel = paths_join(tmp, "vmlinuz")) ||
        !(ramdisk = paths_join(tmp, "initrd.img")) ||
        !(packages = strv_join(p->packages, " ")) || !(roles = strv_join(p->roles, ","))) {
        r = nomem(pl);
        goto out;
    }
    if ((r = install_staging(pl)) || (r = run_hooks(pl, l, envp)))
        goto out;
    detail(pl, "stripped of what names a guest (host name, machine-id, ssh host keys, ...)");
    if ((r = identity_root_dir_open(pl->staging, &root, pl->d)) ||
        (r = identity_strip(&root, pl->d)) || (r = kernel_out(pl, kernel, ramdisk)))
        goto out;
    r = image_build_fs(p->fs, pl->staging, "root", p->size,
                       !strcmp(p->fs, "ext4") ? p->dist.ext4_features : NULL, disk,
                       pl->workdir, pl->log_fd, pl->d);
    if (r)
        goto out;
    if ((r = unmount_staging(pl)) || (r = journal_remove_tree(pl->staging))) {
        diag_error(pl->d, NULL, 0, 0, "cannot remove %s: %s", pl->staging, strerror(-r));
        goto out;
    }
    info = (struct golden_info){
        .template_name = p->env->template_name, .dist = p->dist.name, .suite = p->dist.suite,
        .arch = p->arch, .fs = p->fs, .packages = packages, .roles = roles, .size = p->size,
        .base_key = pl->base_key,
    };
    if ((r = golden_build_commit(tmp, pl->golden_key, &info, &pl->golden_dir, pl->golden_id,
                                 pl->d)))
        goto out;
    pl->golden_built = true;
    snprintf(what, sizeof what, "golden image %s built in %.1f s", pl->golden_id,
             now_s() - t0);
    detail(pl, what);
out:
    identity_root_close(&root);
    free(tmp);
    free(disk);
    free(kernel);
    free(ramdisk);
    free(packages);
    free(roles);
    return r;
}

/* The guest's disk from the golden image. */
static int golden_clone(struct pipeline *pl)
{
    const struct plan *p = pl->p;
    const char *how = "qcow2 overlay";
    char *src = paths_join(pl->golden_dir, "disk.img"), what[PATH_MAX + 64];
    int r;

    if (!src)
        return nomem(pl);
    if (!strcmp(p->clone, "overlay"))
        r = clone_overlay(src, "raw", pl->new_disk, pl->log_fd, pl->d);
    else if (!strcmp(p->image_format, "qcow2"))
        r = image_convert_qcow2(src, pl->new_disk, pl->log_fd, pl->d), how = "qcow2 copy";
    else
        r = clone_copy(src, pl->new_disk, pl->a->interrupted, &how, pl->d);
    if (!r) {
        snprintf(what, sizeof what, "the disk: a %s of golden image %s", how, pl->golden_id);
        detail(pl, what);
    }
    free(src);
    return r;
}

static void golden_unlock_fd(struct pipeline *pl)
{
    golden_unlock(pl->golden_fd);
    pl->golden_fd = -1;
}

/*
 * The install step of a clone: the golden image (found, or built under
 * its key's lock, exclusive, so that two runs never build one twice),
 * then the guest's disk from it.  The key's lock is then held shared to
 * the end of the run.
 */
static int golden_install(struct pipeline *pl)
{
    const struct plan *p = pl->p;
    struct hook_list l = { 0 };
    char **envp = hook_env(p, pl->a->opts, true), what[GOLDEN_ID_MAX + 64];
    bool exclusive = p->refresh;
    int r;

    if (!envp)
        return nomem(pl);
    if ((r = hooks_collect(p->hook_dirs, &l, pl->d)) || (r = golden_key(pl, &l, envp)))
        goto out;
    for (;;) {
        if ((r = golden_lock(p->cachedir, pl->golden_key, exclusive, pl->a->interrupted,
                             &pl->golden_fd, pl->d)))
            goto out;
        if (exclusive && p->refresh)
            break;
        if ((r = golden_lookup(p->cachedir, pl->golden_key, &pl->golden_dir, pl->golden_id,
                               pl->d)) < 0)
            goto out;
        if (r == 1 || exclusive)
            break;
        /* none: build it, alone; another run may have built it by then */
        golden_unlock_fd(pl);
        exclusive = true;
    }
    if (r == 1) {
        r = 0;
        snprintf(what, sizeof what, "golden image %s, from the cache", pl->golden_id);
        detail(pl, what);
    } else {
        free(pl->golden_dir);
        pl->golden_dir = NULL;
        r = golden_build(pl, &l, envp);
    }
    if (!r)
        r = golden_clone(pl);
out:
    hook_list_dispose(&l);
    env_free(envp);
    return r;
}

/* After --refresh: the older images of the key go, but for those still
 * backing an overlay. */
static void golden_prune(struct pipeline *pl)
{
    struct golden_entry *v = NULL;
    struct diag tmp;
    size_t n = 0;

    diag_init(&tmp);
    if (golden_list(pl->p->cachedir, &v, &n, &tmp) == 0) {
        for (size_t i = 0; i < n; i++) {
            char **users = NULL;
            int k;

            if (strcmp(v[i].key, pl->golden_key) || !strcmp(v[i].id, pl->golden_id))
                continue;
            k = registry_golden_users(pl->p->env->libdir, v[i].id, &users, &tmp);
            if (k == 0 && golden_remove(pl->p->cachedir, v[i].id, &tmp) == 0)
                detail(pl, "an older golden image of the template removed");
            for (int j = 0; k > 0 && users[j]; j++)
                free(users[j]);
            free(users);
        }
        golden_entries_free(v, n);
    }
    diag_dispose(&tmp);
}

/* ---- config ---- */

/* Moves an existing path aside (a sibling .NAME.old-PID) with a
 * journal entry that puts it back; remembers it for removal at the end. */
static int move_aside(struct pipeline *pl, const char *path)
{
    char *aside = NULL, *slash = strrchr(path, '/'), **v;
    int r;

    if (access(path, F_OK) < 0)
        return 0;
    if (asprintf(&aside, "%.*s/.%s.old-%ld", (int)(slash - path), path, slash + 1,
                 (long)getpid()) < 0)
        return nomem(pl);
    if (!(v = realloc(pl->aside, (pl->naside + 1) * sizeof(*v)))) {
        free(aside);
        return nomem(pl);
    }
    pl->aside = v;
    if (rename(path, aside) < 0) {
        r = -errno;
        diag_error(pl->d, NULL, 0, 0, "cannot move %s aside: %s", path, strerror(errno));
        free(aside);
        return r;
    }
    if (journal_add_rename(&pl->j, aside, path) < 0) {
        rename(aside, path);
        free(aside);
        return nomem(pl);
    }
    pl->aside[pl->naside++] = aside;
    return 0;
}

/*
 * --force over a guest made with other --dir or --output: what its
 * record names, where the new guest will not be, goes aside too.
 */
static int move_aside_old(struct pipeline *pl, const char *bootdir)
{
    const struct plan *p = pl->p;
    struct registry_entry old;
    struct diag mine;
    char *path = registry_path(p->env->libdir, p->hostname), *oldboot = NULL;
    int r = 0;

    if (!path)
        return nomem(pl);
    registry_entry_init(&old);
    diag_init(&mine);
    if (access(path, F_OK) == 0 && registry_read(path, &old, &mine) == 0) {
        if (old.kernel && (oldboot = strdup(old.kernel)))
            *strrchr(oldboot, '/') = '\0';
        if (strcmp(old.image_dir, p->image_dir))
            r = move_aside(pl, old.image_dir);
        if (!r && oldboot && strcmp(oldboot, bootdir))
            r = move_aside(pl, oldboot);
        if (!r && strcmp(old.config, p->config_path))
            r = move_aside(pl, old.config);
        /* its volumes, where the new guest's are not */
        if (!r && old.volume_group && (!p->lvm_vg || strcmp(old.volume_group, p->lvm_vg))) {
            r = lv_aside(pl, old.volume_group, old.disk_lv);
            if (!r && old.swap_lv)
                r = lv_aside(pl, old.volume_group, old.swap_lv);
        }
    }
    /* an unreadable record is replaced: nothing it names can be trusted */
    diag_dispose(&mine);
    registry_entry_dispose(&old);
    free(oldboot);
    free(path);
    return r;
}

/* Moves a finished file from the work directory into place. */
static int move_in(struct pipeline *pl, const char *from, const char *to)
{
    if (rename(from, to) < 0) {
        int r = -errno;

        diag_error(pl->d, NULL, 0, 0, "cannot move %s to %s: %s", from, to, strerror(errno));
        return r;
    }
    return journal_add_file(&pl->j, to) < 0 ? nomem(pl) : 0;
}

/* Writes text to path through a temporary file beside it. */
static int write_new(struct pipeline *pl, const char *path, const char *text, mode_t mode)
{
    char *tmp = NULL;
    size_t len = strlen(text);
    int fd, r = 0;

    if (asprintf(&tmp, "%s.new-%ld", path, (long)getpid()) < 0)
        return nomem(pl);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0) {
        r = -errno;
        diag_error(pl->d, NULL, 0, 0, "cannot write %s: %s", tmp, strerror(errno));
    }
    if (fd >= 0 && close(fd) < 0 && !r) {
        r = -errno;
        diag_error(pl->d, NULL, 0, 0, "cannot write %s: %s", tmp, strerror(errno));
    }
    if (!r)
        r = move_in(pl, tmp, path);
    if (r)
        unlink(tmp);
    free(tmp);
    return r;
}

static int step_config(struct pipeline *pl)
{
    const struct plan *p = pl->p;
    struct domain_desc dom;
    struct registry_entry reg;
    char *bootdir = NULL, *confdir = NULL, *text = NULL;
    int r;

    domain_init(&dom);
    registry_entry_init(&reg);
    if (plan_domain(p, &dom) || !(pl->config_text = domain_write_cfg(&dom))) {
        r = nomem(pl);
        goto out;
    }
    r = plan_check_config(p->config_path, pl->config_text, &dom, pl->d);
    if (r) {
        if (r != -ENOMEM)
            diag_error(pl->d, NULL, 0, 0, "bug: the config written for %s does not read"
                       " back as the same guest", p->hostname);
        goto out;
    }

    /* an existing guest (--force) goes aside, to come back if anything fails */
    if (!(bootdir = strdup(p->kernel_path)) || !(confdir = strdup(p->config_path))) {
        r = nomem(pl);
        goto out;
    }
    *strrchr(bootdir, '/') = '\0';
    *strrchr(confdir, '/') = '\0';
    if ((r = move_aside_old(pl, bootdir)) || (r = move_aside(pl, p->image_dir)) ||
        (r = move_aside(pl, bootdir)) || (r = move_aside(pl, p->config_path)))
        goto out;

    /* volumes or images, kernel */
    if (p->lvm_vg) {
        if ((r = lv_aside(pl, p->lvm_vg, p->disk_lv)) ||
            (r = lv_aside(pl, p->lvm_vg, p->swap_lv)) ||
            (r = lv_move_in(pl, pl->new_disk_lv, p->disk_lv)) ||
            (pl->new_swap_lv && (r = lv_move_in(pl, pl->new_swap_lv, p->swap_lv))))
            goto out;
    } else if ((r = mkdirs(pl, p->image_dir, 0755)) ||
               (r = move_in(pl, pl->new_disk, p->disk_path)) ||
               (pl->new_swap && (r = move_in(pl, pl->new_swap, p->swap_path)))) {
        goto out;
    }
    if ((pl->new_kernel && (r = mkdirs(pl, bootdir, 0755))) ||
        (pl->new_kernel && (r = move_in(pl, pl->new_kernel, p->kernel_path))) ||
        (pl->new_ramdisk && (r = move_in(pl, pl->new_ramdisk, p->ramdisk_path))))
        goto out;

    /* the record --list and --delete read, then the config, last */
    if ((r = registry_entry_from_plan(&reg, p)) < 0 ||
        (p->golden && (!(reg.golden = strdup(pl->golden_id)) ||
                       !(reg.clone = strdup(p->clone))))) {
        r = nomem(pl);
        goto out;
    }
    if (!(text = registry_entry_json(&reg))) {
        r = nomem(pl);
        goto out;
    }
    if ((r = mkdirs(pl, reg.record_dir, 0755)) || (r = move_aside(pl, reg.record_path)) ||
        (r = write_new(pl, reg.record_path, text, 0644)))
        goto out;
    if ((r = mkdirs(pl, confdir, 0755)))
        goto out;
    r = write_new(pl, p->config_path, pl->config_text, 0644);
out:
    free(text);
    free(bootdir);
    free(confdir);
    registry_entry_dispose(&reg);
    domain_dispose(&dom);
    return r;
}

/* ---- boot ---- */

/* Undoes a boot: the guest started must go before its disks do. */
static int destroy_guest(void *arg)
{
    struct pipeline *pl = arg;
    char *argv[] = { (char *)pl->a->vmctl, (char *)"destroy", pl->p->hostname, NULL };
    struct proc_opts o;
    int status, r;

    if (!guest_running(pl->p->hostname))
        return 0;
    proc_opts_init(&o);
    o.stdout_fd = pl->log_fd >= 0 ? pl->log_fd : PROC_NULL;
    o.stderr_fd = o.stdout_fd;
    /* not cancellable: this runs after the signal, to undo */
    proc_set_cancel(NULL);
    r = proc_run(pl->a->vmctl, argv, &o, 60 * 1000, &status);
    proc_set_cancel(pl->a->interrupted);
    if (r)
        return r;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static int step_boot(struct pipeline *pl)
{
    char *argv[] = { (char *)pl->a->vmctl, (char *)"create", pl->p->config_path, NULL };
    struct proc_opts o;
    char how[64];
    int status, r;

    if (!pl->p->boot)
        return 0;
    proc_opts_init(&o);
    /* a guest half started by a cancelled create is destroyed too */
    if (journal_add_call(&pl->j, destroy_guest, pl, "the guest started by vmctl create") < 0)
        return nomem(pl);
    r = proc_run(pl->a->vmctl, argv, &o, BOOT_TIMEOUT_MS, &status);
    if (r) {
        diag_error(pl->d, NULL, 0, 0, "cannot run %s create %s: %s", pl->a->vmctl,
                   pl->p->config_path, strerror(-r));
        return r;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        diag_error(pl->d, NULL, 0, 0, "vmctl create %s %s", pl->p->config_path,
                   proc_status_text(status, how, sizeof how));
        return -EIO;
    }
    return 0;
}

/* ---- the run ---- */

static int (*const steps[NSTEPS])(struct pipeline *) = {
    [STEP_VALIDATE] = step_validate,
    [STEP_LOCK] = step_lock,
    [STEP_STORAGE] = step_storage,
    [STEP_INSTALL] = step_install,
    [STEP_HOOKS] = step_hooks,
    [STEP_IDENTITY] = step_identity,
    [STEP_KERNEL] = step_kernel,
    [STEP_FILESYSTEM] = step_filesystem,
    [STEP_CONFIG] = step_config,
    [STEP_BOOT] = step_boot,
};

static void describe_step(struct pipeline *pl, int step)
{
    const struct plan *p = pl->p;
    char sz[32];

    switch (step) {
    case STEP_VALIDATE:
        say(pl, step, "%s: %s %s", p->hostname, p->dist.name, p->arch);
        break;
    case STEP_LOCK:
        say(pl, step, "%s", p->lock_path);
        break;
    case STEP_STORAGE:
        say(pl, step, "work directory beside %s", p->image_dir);
        break;
    case STEP_INSTALL:
        if (!strcmp(p->install_method, "tar") || !strcmp(p->install_method, "copy"))
            say(pl, step, "%s %s", p->install_method, p->install_source);
        else
            say(pl, step, "%s %s %s from %s%s", p->install_method,
                p->dist.suite ? p->dist.suite : p->dist.name, p->arch,
                p->mirror, p->cache ? " (cached base root if there is one)" : "");
        break;
    case STEP_HOOKS:
        say(pl, step, "hooks for %s", p->dist.family);
        break;
    case STEP_IDENTITY:
        say(pl, step, "hostname %s, network %s", p->hostname,
            !strcmp(p->network, "none") ? "none" : p->dhcp ? "dhcp" : p->ip);
        break;
    case STEP_KERNEL:
        if (!strcmp(p->boot_method, "pygrub"))
            say(pl, step, "the kernel stays in the guest's /boot (bootloader pygrub)");
        else
            say(pl, step, "kernel and initramfs to %s", p->kernel_path);
        break;
    case STEP_FILESYSTEM:
        if (units_format_size(p->size, sz, sizeof sz))
            snprintf(sz, sizeof sz, "?");
        say(pl, step, "%s %s, %s", p->fs, sz, p->image_format);
        break;
    case STEP_CONFIG:
        say(pl, step, "%s", p->config_path);
        break;
    case STEP_BOOT:
        if (p->boot)
            say(pl, step, "vmctl create %s", p->config_path);
        else
            say(pl, step, "not asked for (--boot)");
        break;
    }
}

static int open_log(struct pipeline *pl)
{
    const char *logdir = pl->a->logdir;
    char *path = NULL;
    int fd;

    if (mkdir(logdir, 0750) < 0 && errno != EEXIST) {
        diag_error(pl->d, NULL, 0, 0, "cannot create %s: %s", logdir, strerror(errno));
        return -errno;
    }
    if (asprintf(&path, "%s/%s-provision.log", logdir, pl->p->hostname) < 0)
        return nomem(pl);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0) {
        int r = -errno;

        diag_error(pl->d, NULL, 0, 0, "cannot open %s: %s", path, strerror(errno));
        free(path);
        return r;
    }
    pl->log_fd = fd;
    pl->res->log_path = path;
    return 0;
}

int pipeline_run(const struct pipeline_args *a, struct pipeline_result *res, struct diag *d)
{
    struct pipeline pl = {
        .a = a, .p = a->plan, .res = res, .d = d, .log_fd = -1, .lock_fd = -1,
        .golden_fd = -1,
    };
    const char *fail_at = getenv("VMKIT_FAIL_AT");
    int inject = fail_at && *fail_at ? pipeline_step_index(fail_at) : -1;
    double t0 = now_s();
    int r = 0, step;

    memset(res, 0, sizeof(*res));
    res->failed_step = -1;
    journal_init(&pl.j);
    if (fail_at && *fail_at && inject < 0)
        diag_warn(d, NULL, 0, 0, "VMKIT_FAIL_AT=%s names no step", fail_at);
    if (geteuid() == 0) {
        r = open_log(&pl);
        /* a mount namespace of our own, a slave of the host's: what we
         * mount (the staging tmpfs) is ours alone and goes with us, and
         * what the host mounts meanwhile still reaches us (and a guest
         * started by --boot) */
        pl.own_mounts = unshare(CLONE_NEWNS) == 0 &&
                        mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) == 0;
    }
    for (step = 0; !r && step < NSTEPS; step++) {
        double ts = now_s();

        if (*a->interrupted)
            break;
        describe_step(&pl, step);
        r = steps[step](&pl);
        if (!r && *a->interrupted)
            break;
        if (!r && step == inject) {
            diag_error(d, NULL, 0, 0, "failure injected after step %s (VMKIT_FAIL_AT)",
                       step_name(step));
            r = -ECANCELED;
        }
        if (r)
            break;
        if (a->report.done)
            a->report.done(a->report.ctx, step, now_s() - ts);
        if (pl.log_fd >= 0)
            dprintf(pl.log_fd, "== %s: done in %.1f s\n", step_name(step), now_s() - ts);
    }
    if (*a->interrupted) {
        res->signal = *a->interrupted;
        r = -EINTR;
    }
    if (r) {
        size_t left;

        res->failed_step = step < NSTEPS ? step : NSTEPS - 1;
        if (pl.log_fd >= 0)
            dprintf(pl.log_fd, "== %s: failed; undoing\n", step < NSTEPS ? step_name(step) : "");
        left = journal_rollback(&pl.j, d);
        res->undone = left == 0;
    } else {
        /* success: the work directory and what the old guest had go */
        int e = journal_remove_tree(pl.workdir);

        if (e)
            diag_warn(d, NULL, 0, 0, "cannot remove %s: %s", pl.workdir, strerror(-e));
        for (size_t i = 0; i < pl.naside; i++) {
            e = journal_remove_tree(pl.aside[i]);
            if (e)
                diag_warn(d, NULL, 0, 0, "cannot remove %s (the replaced guest's): %s",
                          pl.aside[i], strerror(-e));
        }
        for (size_t i = 0; i < pl.nlv_aside; i++) {
            struct lv_op *op = pl.lv_aside[i];

            if (lvm_remove(op->vg, op->name, pl.log_fd, d))
                diag_warn(d, NULL, 0, 0, "cannot remove %s/%s (the replaced guest's)", op->vg,
                          op->name);
        }
        unlock(&pl);
        journal_dispose(&pl.j);
    }
    golden_unlock_fd(&pl);
    if (!r && pl.golden_built && pl.p->refresh)
        golden_prune(&pl);
    res->cache_hit = pl.cache_hit;
    res->seconds = now_s() - t0;
    if (pl.log_fd >= 0) {
        dprintf(pl.log_fd, "== %s in %.1f s\n", r ? "failed" : "made", res->seconds);
        close(pl.log_fd);
    }
    for (size_t i = 0; i < pl.naside; i++)
        free(pl.aside[i]);
    free(pl.aside);
    for (size_t i = 0; i < pl.nlv_ops; i++)
        lv_op_free(pl.lv_ops[i]);
    free(pl.lv_ops);
    for (size_t i = 0; i < pl.nlv_aside; i++)
        lv_op_free(pl.lv_aside[i]);
    free(pl.lv_aside);
    free(pl.new_disk_lv);
    free(pl.new_swap_lv);
    free(pl.workdir);
    free(pl.staging);
    free(pl.new_disk);
    free(pl.new_swap);
    free(pl.new_kernel);
    free(pl.new_ramdisk);
    free(pl.golden_dir);
    if (pl.password_hash)
        explicit_bzero(pl.password_hash, strlen(pl.password_hash));
    free(pl.password_hash);
    free(pl.authorized_keys);
    free(pl.config_text);
    return r ? -1 : 0;
}
