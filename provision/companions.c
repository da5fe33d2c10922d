/*
 * companions.c - vm-provision --list, --delete, --golden-list and
 * --golden-delete (see companions.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "check.h"
#include "companions.h"
#include "diag.h"
#include "domstate.h"
#include "fileio.h"
#include "golden.h"
#include "lvm.h"
#include "paths.h"
#include "registry.h"
#include "snapshot.h"
#include "units.h"

static const char *run_state(const char *name)
{
    struct domstate ds;
    const char *s = "-";

    if (domstate_find(name, &ds) == 0) {
        s = ds.qemu_pid > 0 ? "running" : ds.supervisor_pid > 0 ? "starting" : "-";
        domstate_dispose(&ds);
    }
    return s;
}

static void size_text(uint64_t bytes, char *buf, size_t len)
{
    if (units_format_size(bytes, buf, len))
        snprintf(buf, len, "?");
}

int companions_list(const char *prog, bool json)
{
    struct registry_entry *v = NULL;
    struct diag d;
    size_t n = 0;
    int r, status = 0;

    diag_init(&d);
    r = registry_list(paths_root(PATHS_LIB), &v, &n, &d);
    diag_print(&d, stderr, prog);
    diag_dispose(&d);
    if (r) {
        fprintf(stderr, "%s: cannot list the guests: %s\n", prog, strerror(-r));
        return 1;
    }
    if (json) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < n; i++) {
            char *text = registry_entry_json(&v[i]);
            json_object *o = text ? json_tokener_parse(text) : NULL;

            free(text);
            if (o)
                json_object_object_add(o, "state", json_object_new_string(run_state(v[i].name)));
            if (!o || json_object_array_add(a, o)) {
                json_object_put(o);
                status = 1;
            }
        }
        if (a)
            printf("%s\n", json_object_to_json_string_ext(a, JSON_C_TO_STRING_PRETTY |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
        else
            status = 1;
        json_object_put(a);
    } else {
        printf("%-20s %-10s %-8s %-50s %s\n", "Name", "Dist", "State", "Disks", "Network");
        for (size_t i = 0; i < n; i++) {
            char disks[4096], sz[32], ssz[32], net[128];

            size_text(v[i].size, sz, sizeof sz);
            size_text(v[i].swap_size, ssz, sizeof ssz);
            if (v[i].swap)
                snprintf(disks, sizeof disks, "%s (%s %s) +swap %s", v[i].disk,
                         v[i].disk_format ? v[i].disk_format : "?", sz, ssz);
            else
                snprintf(disks, sizeof disks, "%s (%s %s)", v[i].disk,
                         v[i].disk_format ? v[i].disk_format : "?", sz);
            if (v[i].network && !strcmp(v[i].network, "none"))
                snprintf(net, sizeof net, "none");
            else if (v[i].network && !strcmp(v[i].network, "user"))
                snprintf(net, sizeof net, "%s (user)", v[i].address ? v[i].address : "?");
            else
                snprintf(net, sizeof net, "%s on %s", v[i].address ? v[i].address : "?",
                         v[i].bridge ? v[i].bridge : "?");
            printf("%-20s %-10s %-8s %-50s %s\n", v[i].name, v[i].dist ? v[i].dist : "?",
                   run_state(v[i].name), disks, net);
        }
    }
    for (size_t i = 0; i < n; i++)
        registry_entry_dispose(&v[i]);
    free(v);
    return status;
}

/* Removes path (a file), saying so; 0 or 1 when it could not be. */
static int remove_file(const char *prog, const char *path)
{
    if (!path)
        return 0;
    if (unlink(path) == 0) {
        printf("removed %s\n", path);
        return 0;
    }
    if (errno == ENOENT)
        return 0;
    fprintf(stderr, "%s: cannot remove %s: %s\n", prog, path, strerror(errno));
    return 1;
}

/* Removes logical volume lv of the guest e (the disk's snapshots first),
 * saying so; 0 or 1 when it could not be. */
static int remove_volume(const char *prog, const struct registry_entry *e, const char *lv)
{
    struct diag d;
    int r = 0;

    diag_init(&d);
    if (!strcmp(lv, e->disk_lv))
        r = snapshot_remove_all(e->volume_group, lv, &d);
    if (!r)
        r = lvm_remove(e->volume_group, lv, -1, &d);
    diag_print(&d, stderr, prog);
    diag_dispose(&d);
    if (!r)
        printf("removed /dev/%s/%s\n", e->volume_group, lv);
    return r ? 1 : 0;
}

/* Removes the directory of path if it is empty now. */
static void remove_parent_if_empty(const char *path)
{
    char *dir = path ? strdup(path) : NULL;
    char *slash = dir ? strrchr(dir, '/') : NULL;

    if (slash && slash != dir) {
        *slash = '\0';
        rmdir(dir);
    }
    free(dir);
}

int companions_delete(const char *prog, const char *name)
{
    struct registry_entry e;
    struct diag d;
    const char *why;
    char *record = NULL, *lock = NULL;
    int fd = -1, status = 1, r;

    registry_entry_init(&e);
    diag_init(&d);
    if (check_hostname(name, &why) < 0) {
        fprintf(stderr, "%s: --delete: `%s' is not a guest name: %s\n", prog, name, why);
        return 2;
    }
    if (!(record = registry_path(paths_root(PATHS_LIB), name)) ||
        asprintf(&lock, "%s/provision/%s.lock", paths_root(PATHS_RUN), name) < 0) {
        lock = NULL;
        fprintf(stderr, "%s: out of memory\n", prog);
        goto out;
    }
    if (access(record, F_OK) < 0) {
        fprintf(stderr, "%s: --delete: vm-provision made no guest `%s' (no %s)\n", prog, name,
                record);
        status = 2;
        goto out;
    }
    r = registry_read(record, &e, &d);
    diag_print(&d, stderr, prog);
    if (r)
        goto out;

    /* not while a provisioning of the same name runs, nor the guest */
    fd = open(lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
        fprintf(stderr, "%s: %s is being provisioned now (%s is locked)\n", prog, name, lock);
        goto out;
    }
    if (strcmp(run_state(name), "-")) {
        fprintf(stderr, "%s: %s is running: `vmctl shutdown -w %s' first\n", prog, name, name);
        goto out;
    }
    status = 0;
    status |= remove_file(prog, e.config);
    if (e.volume_group) {
        if (geteuid() != 0) {
            fprintf(stderr, "%s: --delete: %s's disks are logical volumes: must run as root"
                    " (lvm)\n", prog, name);
            status = 1;
        } else {
            status |= remove_volume(prog, &e, e.disk_lv);
            if (e.swap_lv)
                status |= remove_volume(prog, &e, e.swap_lv);
        }
    } else {
        status |= remove_file(prog, e.disk);
        status |= remove_file(prog, e.swap);
    }
    status |= remove_file(prog, e.kernel);
    status |= remove_file(prog, e.ramdisk);
    if (e.image_dir && rmdir(e.image_dir) < 0 && errno != ENOENT)
        fprintf(stderr, "%s: left %s: %s\n", prog, e.image_dir, strerror(errno));
    remove_parent_if_empty(e.kernel);
    if (!status)
        status |= remove_file(prog, record);
    else
        fprintf(stderr, "%s: kept %s, since not everything could be removed\n", prog, record);
out:
    if (fd >= 0)
        close(fd);
    free(lock);
    free(record);
    registry_entry_dispose(&e);
    diag_dispose(&d);
    return status;
}

/* ---- golden images ---- */

/* The guests whose overlays golden image id backs: their number (names
 * in *users_r, NULL-terminated), or -1 after saying why not. */
static int golden_users(const char *prog, const char *id, char ***users_r)
{
    struct diag d;
    int k;

    diag_init(&d);
    k = registry_golden_users(paths_root(PATHS_LIB), id, users_r, &d);
    diag_print(&d, stderr, prog);
    diag_dispose(&d);
    if (k < 0) {
        fprintf(stderr, "%s: cannot read the guests' records: %s\n", prog, strerror(-k));
        return -1;
    }
    return k;
}

static void free_names(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* The golden images in the cache: 0, or 1 after saying why not. */
static int list_goldens(const char *prog, struct golden_entry **v_r, size_t *n_r)
{
    struct diag d;
    int r;

    diag_init(&d);
    r = golden_list(paths_root(PATHS_CACHE), v_r, n_r, &d);
    diag_print(&d, stderr, prog);
    diag_dispose(&d);
    if (r)
        fprintf(stderr, "%s: cannot list the golden images: %s\n", prog, strerror(-r));
    return r ? 1 : 0;
}

int companions_golden_list(const char *prog)
{
    struct golden_entry *v = NULL;
    size_t n = 0;
    int status = 0;

    if (list_goldens(prog, &v, &n))
        return 1;
    printf("%-28s %-16s %-10s %-6s %-5s %-8s %-8s %s\n", "Id", "Template", "Dist", "Arch",
           "Fs", "Size", "On disk", "Overlays");
    for (size_t i = 0; i < n; i++) {
        char sz[32], used[32], **users = NULL;
        int k = golden_users(prog, v[i].id, &users);

        size_text(v[i].size, sz, sizeof sz);
        size_text(v[i].disk_bytes, used, sizeof used);
        if (k < 0)
            status = 1;
        printf("%-28s %-16s %-10s %-6s %-5s %-8s %-8s %d\n", v[i].id,
               v[i].template_name && *v[i].template_name ? v[i].template_name : "-",
               v[i].dist ? v[i].dist : "?", v[i].arch ? v[i].arch : "?",
               v[i].fs ? v[i].fs : "?", sz, used, k < 0 ? 0 : k);
        free_names(users);
    }
    golden_entries_free(v, n);
    return status;
}

/* Removes golden image id unless an overlay needs it; all: says so and
 * keeps it; otherwise that is an error.  0 or 1. */
static int golden_delete_one(const char *prog, const char *id, bool all)
{
    struct diag d;
    char **users = NULL;
    int k = golden_users(prog, id, &users), r;

    if (k < 0)
        return 1;
    if (k > 0) {
        fprintf(all ? stdout : stderr, "%s%s: golden image %s backs the overlays of",
                all ? "" : prog, all ? "kept" : "", id);
        for (int i = 0; users[i]; i++)
            fprintf(all ? stdout : stderr, "%s %s", i ? "," : "", users[i]);
        fprintf(all ? stdout : stderr, "%s\n", all ? "" : " (--delete them first)");
        free_names(users);
        return all ? 0 : 1;
    }
    free_names(users);
    diag_init(&d);
    r = golden_remove(paths_root(PATHS_CACHE), id, &d);
    diag_print(&d, stderr, prog);
    diag_dispose(&d);
    if (!r)
        printf("removed golden image %s\n", id);
    return r ? 1 : 0;
}

int companions_golden_delete(const char *prog, const char *id)
{
    struct golden_entry *v = NULL;
    size_t n = 0;
    int status = 0;

    if (strcmp(id, "all"))
        return golden_delete_one(prog, id, false);
    if (list_goldens(prog, &v, &n))
        return 1;
    for (size_t i = 0; i < n; i++)
        status |= golden_delete_one(prog, v[i].id, true);
    golden_entries_free(v, n);
    return status;
}
