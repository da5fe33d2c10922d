/*
 * registry.c - the records of the guests vm-provision made (see
 * registry.h).
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "domain.h"
#include "fileio.h"
#include "lvm.h"
#include "paths.h"
#include "registry.h"

#define RECORD_MAX (64 * 1024)

void registry_entry_init(struct registry_entry *e)
{
    memset(e, 0, sizeof(*e));
}

void registry_entry_dispose(struct registry_entry *e)
{
    char **s[] = {
        &e->record_dir, &e->record_path, &e->name, &e->dist, &e->arch, &e->install_method,
        &e->fs, &e->uuid, &e->config, &e->image_dir, &e->disk, &e->disk_format, &e->swap,
        &e->kernel, &e->ramdisk, &e->network, &e->address, &e->mac, &e->bridge,
        &e->volume_group, &e->thin_pool, &e->disk_lv, &e->swap_lv, &e->golden, &e->clone,
    };

    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
        free(*s[i]);
    registry_entry_init(e);
}

char *registry_path(const char *libdir, const char *name)
{
    char *path = NULL;

    if (asprintf(&path, "%s%sguests/%s.json", libdir,
                 libdir[strlen(libdir) - 1] == '/' ? "" : "/", name) < 0)
        return NULL;
    return path;
}

static int dup_to(char **dst, const char *src)
{
    if (!src)
        return 0;
    return (*dst = strdup(src)) ? 0 : -ENOMEM;
}

int registry_entry_from_plan(struct registry_entry *e, const struct plan *p)
{
    char uuid[37], *slash;
    int r = 0;

    domain_format_uuid(p->uuid, uuid);
    if (!(e->record_path = registry_path(p->env->libdir, p->hostname)) ||
        !(e->record_dir = strdup(e->record_path)))
        return -ENOMEM;
    slash = strrchr(e->record_dir, '/');
    *slash = '\0';
    r = r ? r : dup_to(&e->name, p->hostname);
    r = r ? r : dup_to(&e->dist, p->dist.name);
    r = r ? r : dup_to(&e->arch, p->arch);
    r = r ? r : dup_to(&e->install_method, p->install_method);
    r = r ? r : dup_to(&e->fs, p->fs);
    r = r ? r : dup_to(&e->uuid, uuid);
    r = r ? r : dup_to(&e->config, p->config_path);
    r = r ? r : dup_to(&e->image_dir, p->image_dir);
    r = r ? r : dup_to(&e->disk, p->disk_path);
    r = r ? r : dup_to(&e->disk_format, p->image_format);
    r = r ? r : dup_to(&e->swap, p->swap_path);
    r = r ? r : dup_to(&e->volume_group, p->lvm_vg);
    r = r ? r : dup_to(&e->thin_pool, p->lvm_pool);
    if (p->lvm_vg) {
        r = r ? r : dup_to(&e->disk_lv, p->disk_lv);
        r = r ? r : dup_to(&e->swap_lv, p->swap_path ? p->swap_lv : NULL);
    }
    r = r ? r : dup_to(&e->kernel, p->kernel_path);
    r = r ? r : dup_to(&e->ramdisk, p->ramdisk_path);
    r = r ? r : dup_to(&e->network, p->network);
    r = r ? r : dup_to(&e->mac, p->mac);
    if (!r && !strcmp(p->network, "bridge"))
        r = dup_to(&e->bridge, p->bridge);
    if (!r) {
        if (p->dhcp)
            r = dup_to(&e->address, "dhcp");
        else if (asprintf(&e->address, "%s/%d", p->ip, p->prefix) < 0) {
            e->address = NULL;
            r = -ENOMEM;
        }
    }
    e->size = p->size;
    e->swap_size = p->swap_path ? p->swap : 0;
    e->created = (long long)time(NULL);
    return r;
}

static int add_str(json_object *o, const char *key, const char *value)
{
    json_object *v = value ? json_object_new_string(value) : json_object_new_null();

    if (value && !v)
        return -ENOMEM;
    return json_object_object_add(o, key, v) ? -ENOMEM : 0;
}

char *registry_entry_json(const struct registry_entry *e)
{
    json_object *o = json_object_new_object();
    char *text = NULL;
    int r = o ? 0 : -ENOMEM;

    r = r ? r : add_str(o, "name", e->name);
    r = r ? r : add_str(o, "uuid", e->uuid);
    r = r ? r : add_str(o, "dist", e->dist);
    r = r ? r : add_str(o, "arch", e->arch);
    r = r ? r : add_str(o, "install_method", e->install_method);
    r = r ? r : add_str(o, "config", e->config);
    r = r ? r : add_str(o, "image_dir", e->image_dir);
    r = r ? r : add_str(o, "disk", e->disk);
    r = r ? r : add_str(o, "disk_format", e->disk_format);
    r = r ? r : add_str(o, "fs", e->fs);
    r = r ? r : json_object_object_add(o, "size", json_object_new_int64((int64_t)e->size));
    r = r ? r : add_str(o, "swap", e->swap);
    if (e->volume_group) {
        r = r ? r : add_str(o, "volume_group", e->volume_group);
        r = r ? r : add_str(o, "thin_pool", e->thin_pool);
        r = r ? r : add_str(o, "disk_lv", e->disk_lv);
        r = r ? r : add_str(o, "swap_lv", e->swap_lv);
    }
    if (e->golden) {
        r = r ? r : add_str(o, "golden", e->golden);
        r = r ? r : add_str(o, "clone", e->clone);
    }
    r = r ? r : json_object_object_add(o, "swap_size",
                                       json_object_new_int64((int64_t)e->swap_size));
    r = r ? r : add_str(o, "kernel", e->kernel);
    r = r ? r : add_str(o, "ramdisk", e->ramdisk);
    r = r ? r : add_str(o, "network", e->network);
    r = r ? r : add_str(o, "address", e->address);
    r = r ? r : add_str(o, "mac", e->mac);
    r = r ? r : add_str(o, "bridge", e->bridge);
    r = r ? r : json_object_object_add(o, "created", json_object_new_int64(e->created));
    if (!r) {
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE);

        if (s && asprintf(&text, "%s\n", s) < 0)
            text = NULL;
    }
    json_object_put(o);
    if (!text)
        errno = ENOMEM;
    return text;
}

/* Reads key: a string (absolute path when path is set), or absent/null
 * when optional. */
static int get_str(json_object *o, const char *key, bool optional, bool path, char **out,
                   const char *file, struct diag *d)
{
    json_object *v;
    const char *s;

    if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
        if (optional)
            return 0;
        diag_error(d, file, 0, 0, "`%s' is missing", key);
        return -EINVAL;
    }
    if (!json_object_is_type(v, json_type_string)) {
        diag_error(d, file, 0, 0, "`%s' is not a string", key);
        return -EINVAL;
    }
    s = json_object_get_string(v);
    if (path && s[0] != '/') {
        diag_error(d, file, 0, 0, "`%s' is not an absolute path: %s", key, s);
        return -EINVAL;
    }
    return (*out = strdup(s)) ? 0 : -ENOMEM;
}

int registry_read(const char *path, struct registry_entry *e, struct diag *d)
{
    char *text = NULL;
    size_t len;
    json_object *o = NULL, *v;
    int r = file_read_bounded(path, RECORD_MAX, 0, &text, &len, d);

    if (r)
        return r;
    if (!(o = json_tokener_parse(text)) || !json_object_is_type(o, json_type_object)) {
        diag_error(d, path, 0, 0, "not a vm-provision record (JSON object expected)");
        r = -EINVAL;
        goto out;
    }
    if (!(e->record_path = strdup(path)) || !(e->record_dir = strdup(path))) {
        r = -ENOMEM;
        goto out;
    }
    *strrchr(e->record_dir, '/') = '\0';
    r = r ? r : get_str(o, "name", false, false, &e->name, path, d);
    r = r ? r : get_str(o, "uuid", true, false, &e->uuid, path, d);
    r = r ? r : get_str(o, "dist", true, false, &e->dist, path, d);
    r = r ? r : get_str(o, "arch", true, false, &e->arch, path, d);
    r = r ? r : get_str(o, "install_method", true, false, &e->install_method, path, d);
    r = r ? r : get_str(o, "config", false, true, &e->config, path, d);
    r = r ? r : get_str(o, "image_dir", false, true, &e->image_dir, path, d);
    r = r ? r : get_str(o, "disk", false, true, &e->disk, path, d);
    r = r ? r : get_str(o, "disk_format", true, false, &e->disk_format, path, d);
    r = r ? r : get_str(o, "fs", true, false, &e->fs, path, d);
    r = r ? r : get_str(o, "swap", true, true, &e->swap, path, d);
    r = r ? r : get_str(o, "volume_group", true, false, &e->volume_group, path, d);
    r = r ? r : get_str(o, "thin_pool", true, false, &e->thin_pool, path, d);
    r = r ? r : get_str(o, "disk_lv", true, false, &e->disk_lv, path, d);
    r = r ? r : get_str(o, "swap_lv", true, false, &e->swap_lv, path, d);
    if (!r && (e->volume_group || e->thin_pool || e->disk_lv || e->swap_lv)) {
        const char *why = NULL, *bad = NULL;
        const char *names[] = { e->volume_group, e->disk_lv, e->thin_pool, e->swap_lv };

        for (int i = 0; i < 4 && !bad; i++)
            if ((i < 2 || names[i]) && !lvm_name_ok(names[i], &why))
                bad = i == 0 ? "volume_group" : i == 1 ? "disk_lv" : i == 2 ? "thin_pool"
                                                                          : "swap_lv";
        if (bad) {
            diag_error(d, path, 0, 0, "`%s' is not a volume name: %s", bad, why);
            r = -EINVAL;
        }
    }
    r = r ? r : get_str(o, "golden", true, false, &e->golden, path, d);
    r = r ? r : get_str(o, "clone", true, false, &e->clone, path, d);
    r = r ? r : get_str(o, "kernel", true, true, &e->kernel, path, d);
    r = r ? r : get_str(o, "ramdisk", true, true, &e->ramdisk, path, d);
    r = r ? r : get_str(o, "network", true, false, &e->network, path, d);
    r = r ? r : get_str(o, "address", true, false, &e->address, path, d);
    r = r ? r : get_str(o, "mac", true, false, &e->mac, path, d);
    r = r ? r : get_str(o, "bridge", true, false, &e->bridge, path, d);
    if (!r && json_object_object_get_ex(o, "size", &v))
        e->size = (uint64_t)json_object_get_int64(v);
    if (!r && json_object_object_get_ex(o, "swap_size", &v))
        e->swap_size = (uint64_t)json_object_get_int64(v);
    if (!r && json_object_object_get_ex(o, "created", &v))
        e->created = json_object_get_int64(v);
out:
    json_object_put(o);
    free(text);
    return r;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct registry_entry *)a)->name,
                  ((const struct registry_entry *)b)->name);
}

int registry_list(const char *libdir, struct registry_entry **v_r, size_t *n_r, struct diag *d)
{
    char *dir = paths_join(libdir, "guests");
    struct registry_entry *v = NULL;
    size_t n = 0;
    DIR *dp;
    struct dirent *de;
    int r = 0;

    *v_r = NULL;
    *n_r = 0;
    if (!dir)
        return -ENOMEM;
    if (!(dp = opendir(dir))) {
        r = errno == ENOENT ? 0 : -errno;
        free(dir);
        return r;
    }
    while ((de = readdir(dp))) {
        size_t len = strlen(de->d_name);
        struct registry_entry *nv;
        char *path;
        struct diag mine;

        if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".json"))
            continue;
        if (!(path = paths_join(dir, de->d_name)) || !(nv = realloc(v, (n + 1) * sizeof(*v)))) {
            free(path);
            r = -ENOMEM;
            break;
        }
        v = nv;
        registry_entry_init(&v[n]);
        diag_init(&mine);
        r = registry_read(path, &v[n], &mine);
        for (size_t i = 0; i < mine.n; i++)
            diag_warn(d, mine.v[i].file, mine.v[i].line, mine.v[i].col, "%s (skipped)",
                      mine.v[i].msg);
        diag_dispose(&mine);
        free(path);
        if (r == -ENOMEM)
            break;
        if (r) {
            registry_entry_dispose(&v[n]);
            r = 0;
            continue;
        }
        n++;
    }
    closedir(dp);
    free(dir);
    if (r) {
        for (size_t i = 0; i < n; i++)
            registry_entry_dispose(&v[i]);
        free(v);
        return r;
    }
    if (n)
        qsort(v, n, sizeof(*v), by_name);
    *v_r = v;
    *n_r = n;
    return 0;
}

int registry_golden_users(const char *libdir, const char *id, char ***names_r, struct diag *d)
{
    struct registry_entry *v = NULL;
    char **names = NULL;
    size_t n = 0, k = 0;
    int r;

    *names_r = NULL;
    if ((r = registry_list(libdir, &v, &n, d)) < 0)
        return r;
    if (!(names = calloc(n + 1, sizeof(*names))))
        r = -ENOMEM;
    for (size_t i = 0; i < n && !r; i++)
        if (v[i].golden && v[i].clone && !strcmp(v[i].golden, id) &&
            !strcmp(v[i].clone, "overlay") && !(names[k++] = strdup(v[i].name)))
            r = -ENOMEM;
    for (size_t i = 0; i < n; i++)
        registry_entry_dispose(&v[i]);
    free(v);
    if (r) {
        for (size_t i = 0; i < k; i++)
            free(names[i]);
        free(names);
        return r;
    }
    *names_r = names;
    return (int)k;
}
