/*
 * lvm.c - logical volumes through lvm2's `lvm' command (see lvm.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "image.h"
#include "lvm.h"
#include "proc.h"

#define NAME_MAX_LVM    127

bool lvm_name_ok(const char *name, const char **why)
{
    static const char *const reserved[] = {
        "_cdata", "_cmeta", "_corig", "_cpool", "_cvol", "_wcorig", "_mlog", "_mimage",
        "_pmspare", "_rimage", "_rmeta", "_tdata", "_tmeta", "_vorigin", "_vdata", NULL,
    };
    const char *w = NULL;

    if (!name || !*name)
        w = "an empty name";
    else if (strlen(name) > NAME_MAX_LVM)
        w = "longer than 127 characters";
    else if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+_.-")
             != strlen(name))
        w = "only letters, digits and + _ . - are allowed";
    else if (name[0] == '-')
        w = "it starts with `-'";
    else if (!strcmp(name, ".") || !strcmp(name, ".."))
        w = "`.' and `..' are not names";
    else if (!strncmp(name, "snapshot", 8) || !strncmp(name, "pvmove", 6))
        w = "names starting with `snapshot' or `pvmove' are lvm's own";
    for (size_t i = 0; !w && reserved[i]; i++)
        if (strstr(name, reserved[i]))
            w = "it holds a part lvm keeps for its own volumes (such as _tdata)";
    if (why)
        *why = w;
    return !w;
}

size_t lvm_dm_name_len(const char *vg, const char *lv)
{
    size_t n = strlen(vg) + 1 + strlen(lv);

    for (const char *c = vg; *c; c++)
        n += *c == '-';
    for (const char *c = lv; *c; c++)
        n += *c == '-';
    return n;
}

char *lvm_path(const char *vg, const char *lv)
{
    char *p = NULL;

    if (asprintf(&p, "/dev/%s/%s", vg, lv) < 0)
        return NULL;
    return p;
}

int lvm_split_pool(const char *spec, char **vg_r, char **pool_r, const char **why)
{
    const char *slash = spec ? strchr(spec, '/') : NULL;
    char *vg, *pool;

    *vg_r = *pool_r = NULL;
    if (!slash || slash == spec || !slash[1]) {
        *why = "expected VG/POOL, a volume group and a thin pool in it";
        return -EINVAL;
    }
    if (!(vg = strndup(spec, (size_t)(slash - spec))) || !(pool = strdup(slash + 1))) {
        free(vg);
        return -ENOMEM;
    }
    if (!lvm_name_ok(vg, why) || !lvm_name_ok(pool, why)) {
        free(vg);
        free(pool);
        return -EINVAL;
    }
    *vg_r = vg;
    *pool_r = pool;
    return 0;
}

/* ---- lvs output ---- */

void lvm_lvs_free(struct lvm_lv *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].name);
        free(v[i].origin);
        free(v[i].pool);
        free(v[i].time);
    }
    free(v);
}

static char *trimmed(const char *s, size_t len)
{
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    return strndup(s, len);
}

int lvm_parse_lvs(const char *text, struct lvm_lv **v_r, size_t *n_r)
{
    struct lvm_lv *v = NULL;
    size_t n = 0;
    int r = 0;

    *v_r = NULL;
    *n_r = 0;
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char *f[6] = { 0 };
        const char *s = line;
        struct lvm_lv *nv, *e;
        char *endp;
        int nf = 0;

        if (strspn(line, " \t") >= len)
            goto next;
        /* six fields separated by `|' (lv_time may be absent: five) */
        bool more = false;

        while (nf < 6) {
            const char *bar = memchr(s, '|', len - (size_t)(s - line));
            size_t flen = bar ? (size_t)(bar - s) : len - (size_t)(s - line);

            if (!(f[nf++] = trimmed(s, flen))) {
                r = -ENOMEM;
                break;
            }
            more = bar != NULL;
            if (!bar)
                break;
            s = bar + 1;
        }
        if (!r && (nf < 5 || more || !*f[0] || strlen(f[1]) != 10 || !*f[2]))
            r = -EINVAL;
        if (!r) {
            errno = 0;
            uint64_t size = strtoull(f[2], &endp, 10);

            if (errno || *endp || f[2][0] == '-')
                r = -EINVAL;
            else if (!(nv = realloc(v, (n + 1) * sizeof(*v))))
                r = -ENOMEM;
            else {
                v = nv;
                e = &v[n++];
                memset(e, 0, sizeof(*e));
                e->name = f[0];
                memcpy(e->attr, f[1], 11);
                e->size = size;
                e->origin = *f[3] ? f[3] : NULL;
                e->pool = *f[4] ? f[4] : NULL;
                e->time = nf > 5 && *f[5] ? f[5] : NULL;
                if (!e->origin)
                    free(f[3]);
                if (!e->pool)
                    free(f[4]);
                if (nf > 5 && !e->time)
                    free(f[5]);
                free(f[1]);
                free(f[2]);
                memset(f, 0, sizeof(f));
            }
        }
        for (int i = 0; i < 6; i++)
            free(f[i]);
        if (r) {
            lvm_lvs_free(v, n);
            return r;
        }
next:
        line = end ? end + 1 : NULL;
    }
    *v_r = v;
    *n_r = n;
    return 0;
}

const struct lvm_lv *lvm_find(const struct lvm_lv *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].name, name))
            return &v[i];
    return NULL;
}

/* ---- running lvm ---- */

/*
 * Runs `lvm ARGS...'; *out_r (may be NULL) gets its standard output.
 * Failures are recorded as "cannot WHAT: lvm ...", with lvm's last words;
 * its message chooses the errno.
 */
static int lvm_run_q(char *const args[], const char *what, int log_fd, char **out_r,
                     bool missing_ok, struct diag *d)
{
    char *argv[32], *out = NULL, *tail = NULL, how[96];
    int n = 0, status, r;

    argv[n++] = (char *)"lvm";
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    if (out_r)
        *out_r = NULL;
    /* libparted's libdevmapper keeps /dev/mapper/control open without
     * close-on-exec: lvm would warn about it at every call */
    setenv("LVM_SUPPRESS_FD_WARNINGS", "1", 0);
    r = image_capture(argv, LVM_TIMEOUT_S, log_fd, &out, &tail, &status);
    if (r == -ENOENT) {
        diag_error(d, NULL, 0, 0, "cannot %s: lvm is not installed (Debian package lvm2)", what);
    } else if (r == -ETIMEDOUT) {
        diag_error(d, NULL, 0, 0, "cannot %s: lvm did not finish in %d seconds", what,
                   LVM_TIMEOUT_S);
    } else if (r < 0 && r != -ECANCELED) {
        diag_error(d, NULL, 0, 0, "cannot %s: cannot run lvm: %s", what, strerror(-r));
    } else if (r == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        const char *t = tail ? tail : "";

        r = strstr(t, "not found") || strstr(t, "Failed to find") ? -ENOENT
            : strstr(t, "already exists") ? -EEXIST
            : strstr(t, "nsufficient") || strstr(t, "free space") ? -ENOSPC : -EIO;
        if (!(missing_ok && r == -ENOENT))
            diag_error(d, NULL, 0, 0, "cannot %s: lvm %s %s%s%s", what, args[0],
                       proc_status_text(status, how, sizeof how), tail ? ": " : " (no output)",
                       t);
    }
    if (!r && out_r) {
        *out_r = out;
        out = NULL;
    }
    free(out);
    free(tail);
    return r;
}

static int lvm_run(char *const args[], const char *what, int log_fd, char **out_r,
                   struct diag *d)
{
    return lvm_run_q(args, what, log_fd, out_r, false, d);
}

static int bytes_arg(char *buf, size_t len, uint64_t size)
{
    return snprintf(buf, len, "%" PRIu64 "b", size) < (int)len ? 0 : -EINVAL;
}

int lvm_vg_info(const char *vg, struct lvm_vg *info, int log_fd, struct diag *d)
{
    char *args[] = { (char *)"vgs", (char *)"--noheadings", (char *)"--nosuffix",
                     (char *)"--units", (char *)"b", (char *)"--separator", (char *)"|",
                     (char *)"-o", (char *)"vg_size,vg_free,vg_extent_size", (char *)vg, NULL };
    char *out = NULL, what[160];
    unsigned long long a, b, c;
    int r;

    memset(info, 0, sizeof(*info));
    snprintf(what, sizeof what, "read volume group %s", vg);
    if ((r = lvm_run(args, what, log_fd, &out, d)))
        return r;
    if (sscanf(out, " %llu | %llu | %llu", &a, &b, &c) != 3) {
        diag_error(d, NULL, 0, 0, "cannot %s: lvm vgs printed `%.80s'", what, out);
        r = -EIO;
    } else {
        info->size = a;
        info->free = b;
        info->extent = c;
    }
    free(out);
    return r;
}

int lvm_list(const char *vg, struct lvm_lv **v_r, size_t *n_r, int log_fd, struct diag *d)
{
    char *args[] = { (char *)"lvs", (char *)"--noheadings", (char *)"--nosuffix",
                     (char *)"--units", (char *)"b", (char *)"--separator", (char *)"|",
                     (char *)"-o", (char *)"lv_name,lv_attr,lv_size,origin,pool_lv,lv_time",
                     (char *)vg, NULL };
    char *out = NULL, what[160];
    int r;

    *v_r = NULL;
    *n_r = 0;
    snprintf(what, sizeof what, "list the volumes of %s", vg);
    if ((r = lvm_run(args, what, log_fd, &out, d)))
        return r;
    r = lvm_parse_lvs(out, v_r, n_r);
    if (r == -EINVAL)
        diag_error(d, NULL, 0, 0, "cannot %s: lvm lvs printed what vmkit cannot read", what);
    free(out);
    return r;
}

int lvm_create(const char *vg, const char *pool, const char *lv, uint64_t size, int log_fd,
               struct diag *d)
{
    char sz[32], what[200], *target = NULL;
    int r;

    if (bytes_arg(sz, sizeof sz, size))
        return -EINVAL;
    snprintf(what, sizeof what, "make logical volume %s/%s", vg, lv);
    if (pool) {
        if (asprintf(&target, "%s/%s", vg, pool) < 0)
            return -ENOMEM;
        char *args[] = { (char *)"lvcreate", (char *)"--yes", (char *)"-n", (char *)lv,
                         (char *)"-V", sz, (char *)"--thinpool", target, NULL };

        r = lvm_run(args, what, log_fd, NULL, d);
        free(target);
    } else {
        char *args[] = { (char *)"lvcreate", (char *)"--yes", (char *)"-Wy", (char *)"-Zy",
                         (char *)"-n", (char *)lv, (char *)"-L", sz, (char *)vg, NULL };

        r = lvm_run(args, what, log_fd, NULL, d);
    }
    return r;
}

int lvm_remove(const char *vg, const char *lv, int log_fd, struct diag *d)
{
    char *target = NULL, what[200];
    int r;

    if (asprintf(&target, "%s/%s", vg, lv) < 0)
        return -ENOMEM;
    snprintf(what, sizeof what, "remove logical volume %s", target);
    char *args[] = { (char *)"lvremove", (char *)"-f", (char *)"--yes", target, NULL };

    r = lvm_run_q(args, what, log_fd, NULL, true, d);
    free(target);
    return r == -ENOENT ? 0 : r;
}

int lvm_rename(const char *vg, const char *from, const char *to, int log_fd, struct diag *d)
{
    char *args[] = { (char *)"lvrename", (char *)vg, (char *)from, (char *)to, NULL };
    char what[300];

    snprintf(what, sizeof what, "rename logical volume %s/%s to %s", vg, from, to);
    return lvm_run(args, what, log_fd, NULL, d);
}

int lvm_snapshot(const char *vg, const char *origin, const char *snap, bool thin,
                 uint64_t size, int log_fd, struct diag *d)
{
    char sz[32], what[300], *target = NULL;
    int r;

    if (asprintf(&target, "%s/%s", vg, origin) < 0)
        return -ENOMEM;
    snprintf(what, sizeof what, "snapshot %s as %s", target, snap);
    if (thin) {
        /* -kn: active at once, not skipped as thin snapshots are by default */
        char *args[] = { (char *)"lvcreate", (char *)"--yes", (char *)"-s", (char *)"-kn",
                         (char *)"-p", (char *)"r", (char *)"-n", (char *)snap, target, NULL };

        r = lvm_run(args, what, log_fd, NULL, d);
    } else if ((r = bytes_arg(sz, sizeof sz, size)) == 0) {
        char *args[] = { (char *)"lvcreate", (char *)"--yes", (char *)"-s", (char *)"-p",
                         (char *)"r", (char *)"-L", sz, (char *)"-n", (char *)snap, target,
                         NULL };

        r = lvm_run(args, what, log_fd, NULL, d);
    }
    free(target);
    return r;
}
