/*
 * registry.h - the record vm-provision keeps of each guest it made,
 * $VMKIT_LIBDIR/guests/NAME.json, for `vm-provision --list' and
 * `--delete NAME': which config, images and kernel copies are the
 * guest's, wherever --dir and --output put them.
 */
#ifndef VMKIT_REGISTRY_H
#define VMKIT_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "plan.h"

struct registry_entry {
    char *record_dir;       /* LIBDIR/guests */
    char *record_path;      /* LIBDIR/guests/NAME.json */
    char *name;
    char *dist, *arch, *install_method, *fs, *uuid;
    char *config;           /* the config written */
    char *image_dir;
    char *disk, *disk_format;
    uint64_t size;
    char *swap;             /* NULL: none */
    char *volume_group;     /* --lvm: the disks are volumes of it; NULL: files */
    char *thin_pool;        /* --lvm-thin: the pool; NULL: linear or files */
    char *disk_lv, *swap_lv;    /* NAME-disk, NAME-swap (swap_lv NULL: none) */
    uint64_t swap_size;
    char *golden;           /* a clone: the golden image's ID (golden.h); NULL: none */
    char *clone;            /* "overlay" (the golden image is its backing file) or "copy" */
    char *kernel, *ramdisk;
    char *network;          /* bridge, user, none */
    char *address;          /* "dhcp" or "ADDR/PREFIX" */
    char *mac, *bridge;
    long long created;      /* seconds since the epoch */
};

void registry_entry_init(struct registry_entry *e);
void registry_entry_dispose(struct registry_entry *e);

/* The record for the guest plan p makes.  0 or -ENOMEM. */
int registry_entry_from_plan(struct registry_entry *e, const struct plan *p);

/* The record as JSON text (a new string), or NULL with errno ENOMEM. */
char *registry_entry_json(const struct registry_entry *e);

/* LIBDIR/guests/NAME.json, for libdir. New string or NULL (ENOMEM). */
char *registry_path(const char *libdir, const char *name);

/*
 * Reads path into e (initialised by the caller).  A missing or malformed
 * record, or one whose paths are not absolute, is an error recorded in
 * d naming the file.  0, -ENOENT (recorded), -EINVAL, -ENOMEM.
 */
int registry_read(const char *path, struct registry_entry *e, struct diag *d);

/*
 * Every record under libdir, sorted by name, in a new array (free each
 * with registry_entry_dispose, then the array).  Unreadable records are
 * recorded in d as warnings and skipped.  0 or -errno.
 */
int registry_list(const char *libdir, struct registry_entry **v_r, size_t *n_r, struct diag *d);

/*
 * The guests under libdir whose disk is a qcow2 overlay backed by golden
 * image id (they break if it goes): their names in a new NULL-terminated
 * array (free each and the array), and their number; or -errno.
 * Unreadable records are warnings in d, as for registry_list.
 */
int registry_golden_users(const char *libdir, const char *id, char ***names_r, struct diag *d);

#endif
