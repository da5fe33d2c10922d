/*
 * lvm.h - logical volumes for guests, through lvm2's `lvm' command (an
 * argv through proc_run, never a shell): a guest's disk and swap as
 * VG/NAME-disk and VG/NAME-swap (xen-tools' names, so an existing fleet
 * keeps its volumes), linear or thin (in VG/POOL), and snapshots of them.
 *
 * Every call runs `lvm SUBCOMMAND ...' with a time limit (LVM_TIMEOUT_S),
 * cancellably (proc_set_cancel), its output copied to log_fd (-1:
 * nowhere) after a "+ lvm ..." line; a failure is recorded in d with
 * lvm's own last words.  Returns 0 or a negative errno: -ENOENT (no such
 * VG or volume, or lvm2 is not installed), -EEXIST, -ENOSPC, -EINVAL (a
 * name lvm would refuse), -EIO (lvm failed), -ETIMEDOUT, -ECANCELED.
 */
#ifndef VMKIT_LVM_H
#define VMKIT_LVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#define LVM_TIMEOUT_S   300
#define LVM_SNAP_SUFFIX "-snap-YYYYMMDD-HHMMSS"     /* the longest name vmkit makes */

/* One logical volume, as `lvm lvs' reports it. */
struct lvm_lv {
    char *name;
    char attr[11];          /* lv_attr: [0] 'V' thin, 's' snapshot, 't' pool, '-' linear */
    uint64_t size;          /* bytes */
    char *origin;           /* NULL: not a snapshot */
    char *pool;             /* NULL: not thin */
    char *time;             /* lv_time, as lvm prints it; NULL if absent */
};

struct lvm_vg {
    uint64_t size, free, extent;    /* bytes */
};

/* Whether name is a volume group or logical volume name lvm takes: at
 * most 127 bytes of [A-Za-z0-9+_.-], not starting with `-', not "." or
 * "..", not starting with "snapshot" or "pvmove", no "_cdata"-style
 * reserved part.  *why (static) says what is wrong. */
bool lvm_name_ok(const char *name, const char **why);

/* The length of VG/LV's device-mapper name ("VG-LV", each `-' of either
 * doubled), which must stay below LVM_DM_NAME_MAX. */
#define LVM_DM_NAME_MAX 127
size_t lvm_dm_name_len(const char *vg, const char *lv);

/* "/dev/VG/LV", a new string or NULL (ENOMEM). */
char *lvm_path(const char *vg, const char *lv);

/*
 * Splits "VG/POOL" (--lvm-thin) into new strings.  -EINVAL with *why
 * set when either part is missing or not a name lvm takes.
 */
int lvm_split_pool(const char *spec, char **vg_r, char **pool_r, const char **why);

/*
 * Parses `lvm lvs --noheadings --nosuffix --units b --separator |
 * -o lv_name,lv_attr,lv_size,origin,pool_lv,lv_time' output into a new
 * array.  0, -EINVAL (a line that is not that), -ENOMEM.  Exposed for the
 * unit tests.
 */
int lvm_parse_lvs(const char *text, struct lvm_lv **v_r, size_t *n_r);
void lvm_lvs_free(struct lvm_lv *v, size_t n);

/* The volume group: size, free space and extent size.  -ENOENT (recorded)
 * when there is none of that name. */
int lvm_vg_info(const char *vg, struct lvm_vg *info, int log_fd, struct diag *d);

/* Every logical volume of vg. */
int lvm_list(const char *vg, struct lvm_lv **v_r, size_t *n_r, int log_fd, struct diag *d);

/* The volume named name in v, or NULL. */
const struct lvm_lv *lvm_find(const struct lvm_lv *v, size_t n, const char *name);

/*
 * Makes VG/LV of size bytes (lvm rounds it up to whole extents): linear,
 * or thin in VG/POOL when pool is not NULL.  Signatures left on the
 * space by an earlier volume are wiped, so nothing old shows through as
 * a file system.  -EEXIST when it exists.
 */
int lvm_create(const char *vg, const char *pool, const char *lv, uint64_t size, int log_fd,
               struct diag *d);

/* Removes VG/LV (deactivating it first).  A missing volume is success. */
int lvm_remove(const char *vg, const char *lv, int log_fd, struct diag *d);

/* Renames VG/FROM to VG/TO. */
int lvm_rename(const char *vg, const char *from, const char *to, int log_fd, struct diag *d);

/*
 * A read-only snapshot VG/SNAP of VG/ORIGIN, active at once: thin (no
 * size; in the origin's pool) when the origin is thin, else a classic
 * copy-on-write snapshot with size bytes of room for changes.
 */
int lvm_snapshot(const char *vg, const char *origin, const char *snap, bool thin,
                 uint64_t size, int log_fd, struct diag *d);

#endif
