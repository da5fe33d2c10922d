/*
 * plan.h - from checked options to a provisioning plan: every default
 * filled in, every check across options made, the distribution and the
 * mirror found; then the plan's steps as text and the guest's
 * description for the config writer.
 *
 * The steps, in order, named as the pipeline names them (and as
 * VMKIT_FAIL_AT names them): validate, lock, storage, install, hooks,
 * identity, kernel, filesystem, config, boot.
 */
#ifndef VMKIT_PLAN_H
#define VMKIT_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "dist.h"
#include "domain.h"
#include "options.h"
#include "partition.h"

extern const char *const plan_step_names[];     /* NULL-terminated */

/* What plan_resolve needs from outside: the roots, already chosen. */
struct plan_env {
    const char *datadir;            /* templates/, hooks/ */
    const char *apt_root;           /* "/" for the host's apt sources and os-release */
    const char *confdir, *libdir, *cachedir, *rundir;
    const char *provision_conf;     /* its path */
    bool provision_conf_read;       /* false: it was absent */
    const char *template_name;      /* --template NAME applied; NULL: none */
    const char *template_file;      /* its file */
    const char *const *configs;     /* --config files, in order */
    size_t nconfigs;
    bool batch;                     /* one guest of --batch or --count */
};

enum plan_status {
    PLAN_OK,
    PLAN_BAD_INPUT,     /* a bad or missing value: the caller's mistake (exit 2) */
    PLAN_FAILED,        /* the guest exists, a file cannot be read, out of memory (exit 1) */
};

enum plan_password {
    PLAN_PASSWORD_NONE,
    PLAN_PASSWORD_GIVEN,
    PLAN_PASSWORD_GENERATE,
};

/* A repository of an rpm install, variables expanded. */
struct plan_repo {
    char *name;
    char *url;                      /* ends in `/' */
    char *mirrorlist;               /* NULL: none (or --mirror given) */
};

struct plan {
    const struct plan_env *env;     /* borrowed */
    char *hostname;
    struct dist dist;
    char *dist_origin;
    char *arch;
    const char *install_method;     /* static */
    char *install_source;           /* tar and copy only */
    char *mirror;                   /* mmdebstrap, debootstrap and rpm */
    char *mirror_origin;
    struct plan_repo *repos;        /* rpm only */
    size_t nrepos;
    bool mirror_from_dist;          /* rpm: the definition's mirror */
    char **packages;                /* the whole install set, NULL-terminated */
    char *image_dir;                /* DIR/domains/NAME */
    char *disk_path, *swap_path;    /* swap_path NULL: no swap */
    char *lvm_vg, *lvm_pool;        /* --lvm VG, --lvm-thin VG/POOL; NULL: files */
    char *disk_lv, *swap_lv;        /* NAME-disk, NAME-swap (with --lvm) */
    bool disk_exists, swap_exists, config_exists;
    uint64_t size, swap;            /* bytes */
    const char *fs, *image_format;  /* static */
    long memory, maxmem, vcpus;     /* MiB, MiB, count */
    enum plan_password password;
    char *ssh_key;
    bool dhcp;
    char *ip;                       /* the address alone */
    int prefix;
    char *gateway, *nameservers;    /* nameservers: space separated */
    char mac[18];
    bool mac_generated;
    char *bridge;
    const char *network;            /* static: "bridge", "user" or "none" */
    char **roles;                   /* NULL-terminated */
    char **hook_dirs;               /* common, family, roles, --hooks: NULL-terminated */
    char *config_path;
    char *lock_path;
    char *kernel_path, *ramdisk_path;
    char *cachedir;
    bool cache, boot, force;
    char *noswap_origin, *nocache_origin;   /* where --noswap, --no-cache came from */
    unsigned char uuid[16];
    /* a partitioned disk (--disk-layout partitioned, --partitions FILE) */
    bool partitioned;
    struct part_layout layout;      /* placed, with UUIDs; empty when whole */
    const char *boot_method;        /* static: "pygrub" or "direct" */
    char root_device[48];           /* "LABEL=root" or "UUID=..." */
    /* a clone of a golden image (--golden; golden.h) */
    bool golden;
    const char *clone;              /* static: "overlay" or "copy" (golden only) */
    const char *customize;          /* static: "ext2fs" or "guestfs" (golden only) */
    bool refresh;                   /* --refresh: build the golden image afresh */
    const char *golden_why;         /* static: why a template's or a batch's guest
                                     * is not a clone after all; NULL */
};

void plan_init(struct plan *p);
void plan_dispose(struct plan *p);

/*
 * Resolves the options in o (already applied and checked one by one)
 * into p (initialised by the caller), with a fresh random uuid.  Every
 * problem is recorded in d, naming the option or FILE:LINE:COL it came
 * from.  Reads the distribution definition, the host's os-release and
 * apt sources (under env->apt_root), and stats the paths the guest would
 * use; creates nothing.
 */
enum plan_status plan_resolve(const struct opt_set *o, const struct plan_env *env,
                              struct plan *p, struct diag *d);

/* The plan as text: one line per step, "STEP: details".  A new malloc'd
 * string, or NULL with errno ENOMEM. */
char *plan_describe(const struct plan *p);

/* Fills dom (initialised by the caller) with the guest the plan makes.
 * 0 or -ENOMEM. */
int plan_domain(const struct plan *p, struct domain_desc *dom);

/* Checks that text, a config the writer made from dom, parses back
 * without a message into the same guest (their JSON descriptions are
 * equal).  0, or -EINVAL after recording what went wrong in d (a bug),
 * -ENOMEM. */
int plan_check_config(const char *source, const char *text, const struct domain_desc *dom,
                      struct diag *d);

#endif
