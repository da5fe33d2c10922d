/*
 * xlu-dump - print what Xen's own libxlutil makes of an xl config file,
 * in the shape of `vmctl config-dump --json` (settings sorted by key,
 * since libxlutil keeps no order we can read), for the differential test.
 *
 * Keys are not enumerable through libxlutil's public API, so every
 * identifier-shaped word in the file is looked up; the ones libxlutil
 * knows become settings.  Exit 0 with JSON on stdout when libxlutil
 * accepts the file and every disk item, 1 when it rejects it.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libxlutil.h>

static json_object *value_json(XLU_Config *cfg, XLU_ConfigValue *v)
{
    if (xlu_cfg_value_type(v) == XLU_STRING) {
        char *s = NULL;

        xlu_cfg_value_get_string(cfg, v, &s, 1);
        return json_object_new_string(s);
    }

    XLU_ConfigList *list = NULL;
    json_object *arr = json_object_new_array();
    XLU_ConfigValue *item;

    xlu_cfg_value_get_list(cfg, v, &list, 1);
    for (int i = 0; (item = xlu_cfg_get_listitem2(list, i)) != NULL; i++)
        json_object_array_add(arr, value_json(cfg, item));
    return arr;
}

static json_object *setting_json(XLU_Config *cfg, const char *key)
{
    const char *s;
    XLU_ConfigList *list;
    int n;

    if (xlu_cfg_get_string(cfg, key, &s, 1) == 0)
        return json_object_new_string(s);
    if (xlu_cfg_get_list(cfg, key, &list, &n, 1) != 0)
        return NULL;

    json_object *arr = json_object_new_array();
    for (int i = 0; i < n; i++)
        json_object_array_add(arr, value_json(cfg, xlu_cfg_get_listitem2(list, i)));
    return arr;
}

static json_object *jstr(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

static json_object *jdefbool(libxl_defbool b)
{
    if (libxl_defbool_is_default(b))
        return NULL;
    return json_object_new_boolean(libxl_defbool_val(b));
}

static const char *format_name(libxl_disk_format f)
{
    switch (f) {
    case LIBXL_DISK_FORMAT_QCOW: return "qcow";
    case LIBXL_DISK_FORMAT_QCOW2: return "qcow2";
    case LIBXL_DISK_FORMAT_VHD: return "vhd";
    case LIBXL_DISK_FORMAT_RAW: return "raw";
    case LIBXL_DISK_FORMAT_EMPTY: return "empty";
    case LIBXL_DISK_FORMAT_QED: return "qed";
    default: return "unknown";
    }
}

static const char *backend_name(libxl_disk_backend b)
{
    switch (b) {
    case LIBXL_DISK_BACKEND_PHY: return "phy";
    case LIBXL_DISK_BACKEND_TAP: return "tap";
    case LIBXL_DISK_BACKEND_QDISK: return "qdisk";
    case LIBXL_DISK_BACKEND_STANDALONE: return "standalone";
    default: return NULL;
    }
}

static const char *spec_name(libxl_disk_specification s)
{
    switch (s) {
    case LIBXL_DISK_SPECIFICATION_XEN: return "xen";
    case LIBXL_DISK_SPECIFICATION_VIRTIO: return "virtio";
    default: return NULL;
    }
}

static json_object *disk_json(const libxl_device_disk *d)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "target", jstr(d->pdev_path));
    json_object_object_add(o, "vdev", jstr(d->vdev));
    json_object_object_add(o, "format", json_object_new_string(format_name(d->format)));
    json_object_object_add(o, "access", json_object_new_string(d->readwrite ? "rw" : "ro"));
    json_object_object_add(o, "devtype", json_object_new_string(d->is_cdrom ? "cdrom" : "disk"));
    json_object_object_add(o, "backendtype", jstr(backend_name(d->backend)));
    json_object_object_add(o, "backend", jstr(d->backend_domname));
    json_object_object_add(o, "script", jstr(d->script));
    json_object_object_add(o, "specification", jstr(spec_name(d->specification)));
    json_object_object_add(o, "discard", jdefbool(d->discard_enable));
    json_object_object_add(o, "direct_io_safe", json_object_new_boolean(d->direct_io_safe));
    json_object_object_add(o, "trusted", jdefbool(d->trusted));
    json_object_object_add(o, "colo", jdefbool(d->colo_enable));
    json_object_object_add(o, "colo_host", jstr(d->colo_host));
    json_object_object_add(o, "colo_port", d->colo_port ? json_object_new_int(d->colo_port) : NULL);
    json_object_object_add(o, "colo_export", jstr(d->colo_export));
    json_object_object_add(o, "active_disk", jstr(d->active_disk));
    json_object_object_add(o, "hidden_disk", jstr(d->hidden_disk));
    return o;
}

static char *slurp(const char *path, size_t *len_r)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (!f)
        return NULL;
    do {
        if (len + 4096 + 1 > cap) {
            cap = (cap + 4096) * 2;
            buf = realloc(buf, cap);
        }
        n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
    } while (n > 0);
    fclose(f);
    buf[len] = 0;
    *len_r = len;
    return buf;
}

int main(int argc, char **argv)
{
    size_t len;
    char *text;
    XLU_Config *cfg;
    json_object *root, *settings, *disks, *v;
    XLU_ConfigList *list;
    int n;

    if (argc != 2) {
        fprintf(stderr, "usage: xlu-dump FILE\n");
        return 2;
    }
    text = slurp(argv[1], &len);
    if (!text) {
        fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    cfg = xlu_cfg_init(stderr, argv[1]);
    if (xlu_cfg_readfile(cfg, argv[1]) != 0)
        return 1;

    root = json_object_new_object();
    settings = json_object_new_object();
    for (size_t i = 0; i < len; ) {
        if (text[i] >= 'a' && text[i] <= 'z' && (i == 0 ||
            !(islower((unsigned char)text[i - 1]) || isdigit((unsigned char)text[i - 1]) ||
              text[i - 1] == '_' || text[i - 1] == '.'))) {
            size_t j = i + 1;
            while (j < len && (islower((unsigned char)text[j]) ||
                   isdigit((unsigned char)text[j]) || text[j] == '_' || text[j] == '.'))
                j++;
            char *key = strndup(text + i, j - i);
            if (!json_object_object_get_ex(settings, key, NULL) &&
                (v = setting_json(cfg, key)) != NULL)
                json_object_object_add(settings, key, v);
            free(key);
            i = j;
        } else {
            i++;
        }
    }
    json_object_object_add(root, "settings", settings);

    /* The disk list as xl reads it: each string item through xlu_disk_parse.
     * xl stops at the first non-string item and ignores a non-list `disk';
     * the differential test treats both as rejection (see differences). */
    disks = json_object_new_array();
    if (xlu_cfg_get_list(cfg, "disk", &list, &n, 1) == 0) {
        for (int i = 0; i < n; i++) {
            const char *spec = xlu_cfg_get_listitem(list, i);
            libxl_device_disk d;

            if (!spec) {
                fprintf(stderr, "%s: disk item %d is not a string\n", argv[1], i);
                return 1;
            }
            libxl_device_disk_init(&d);
            if (xlu_disk_parse(cfg, 1, &spec, &d) != 0)
                return 1;
            json_object_array_add(disks, disk_json(&d));
            libxl_device_disk_dispose(&d);
        }
    } else if (xlu_cfg_get_string(cfg, "disk", &(const char *){0}, 1) == 0) {
        fprintf(stderr, "%s: disk is not a list\n", argv[1]);
        return 1;
    }
    json_object_object_add(root, "disks", disks);

    puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
    json_object_put(root);
    xlu_cfg_destroy(cfg);
    free(text);
    return 0;
}
