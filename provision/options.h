/*
 * options.h - vm-provision's options: one table that drives the command
 * line (getopt_long), the --help text and the keys of settings files
 * (provision.conf, --config FILE), and the layering of those sources.
 *
 * Every option sets a slot.  Several options may share one (--swap SIZE
 * and --noswap; --ip and --dhcp; --password and --genpass; --cache and
 * --no-cache): whichever comes later wins.  Sources are applied in
 * order, provision.conf, then the template (--template NAME, see
 * template.h), then each --config FILE, then the command line left to
 * right, so later always wins.  Each value is checked when it is
 * set (syntax, and that named files exist), so a bad value is reported
 * where it was written even when a later source overrides it.  Checks
 * across options are plan.c's.
 *
 * In a settings file the key is the long option's name: `size = 8G'.  A
 * flag takes yes or no (also true/false, on/off, 1/0): yes is as if the
 * flag were given, `no-cache = no' means caching, and no on a flag that
 * picks a mode (`noswap', `dhcp', `genpass') leaves the default.  An
 * empty value (`mirror =') sets the default back.  Paths in a settings
 * file must be absolute; on the command line a relative path is taken
 * from the current directory.
 */
#ifndef VMKIT_OPTIONS_H
#define VMKIT_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "settings.h"

enum opt_slot {
    SLOT_HOSTNAME,
    SLOT_TEMPLATE,
    SLOT_DIST,
    SLOT_ARCH,
    SLOT_MIRROR,
    SLOT_DIR,
    SLOT_LVM,           /* --lvm VG, --lvm-thin VG/POOL */
    SLOT_SIZE,
    SLOT_SWAP,          /* --swap SIZE, --noswap */
    SLOT_FS,
    SLOT_IMAGE_FORMAT,
    SLOT_DISK_LAYOUT,   /* whole, partitioned; --partitions FILE */
    SLOT_PARTITION_TABLE,
    SLOT_BOOT_METHOD,   /* pygrub, direct */
    SLOT_MEMORY,
    SLOT_MAXMEM,
    SLOT_VCPUS,
    SLOT_PASSWORD,      /* --password STRING, --genpass */
    SLOT_SSH_KEY,
    SLOT_IP,            /* --ip ADDR, --dhcp */
    SLOT_NETMASK,
    SLOT_GATEWAY,
    SLOT_NAMESERVER,
    SLOT_MAC,
    SLOT_BRIDGE,
    SLOT_NETWORK,       /* bridge, user, none */
    SLOT_ROLE,
    SLOT_PACKAGES,
    SLOT_HOOKS,
    SLOT_OUTPUT,
    SLOT_INSTALL_METHOD,
    SLOT_INSTALL_SOURCE,
    SLOT_CACHE,         /* bool: --cache, --no-cache */
    SLOT_GOLDEN,        /* bool: --golden, --no-golden (unset: the plan decides) */
    SLOT_CLONE,         /* overlay, copy */
    SLOT_CUSTOMIZE,     /* ext2fs, guestfs */
    SLOT_BOOT,          /* bool */
    SLOT_FORCE,         /* bool */
    SLOT_DRY_RUN,       /* bool */
    SLOT_REFRESH,       /* bool: --refresh */
    NSLOTS,
    SLOT_NONE = -1,     /* --config, --help, --template-list, ... */
};

/* What a value must be; checked when it is set. */
enum opt_check {
    CK_NONE,
    CK_HOSTNAME,        /* check_hostname */
    CK_NAME,            /* check_name: dist */
    CK_ARCH,            /* check_arch: arch */
    CK_NAMES,           /* NAME[,NAME...] each check_name: roles */
    CK_URL,             /* check_url */
    CK_DIR,             /* an existing directory */
    CK_PATH,            /* an existing file or directory */
    CK_FILE,            /* an existing regular file */
    CK_SSH_KEY,         /* check_ssh_key */
    CK_SIZE_DISK,       /* a size, whole MiB, at least OPT_MIN_DISK */
    CK_SIZE_SWAP,       /* a size, whole MiB, at least 1M */
    CK_SIZE_MEM,        /* a size, whole MiB, at least OPT_MIN_MEMORY */
    CK_COUNT,           /* 1..DOMAIN_MAX_CPUS */
    CK_CHOICE,          /* one of choices */
    CK_PASSWORD,        /* check_password */
    CK_IP,              /* check_ip */
    CK_NETMASK,         /* check_netmask */
    CK_ADDR,            /* check_addr */
    CK_ADDRS,           /* addresses separated by `,' or spaces */
    CK_MAC,             /* check_mac */
    CK_BRIDGE,          /* check_bridge */
    CK_LVM_VG,          /* a volume group name lvm takes */
    CK_LVM_POOL,        /* VG/POOL */
    CK_PACKAGES,        /* package names (or rpm capabilities), `,' or blank separated */
};

#define OPT_MIN_DISK    ((uint64_t)512 << 20)
#define OPT_MIN_MEMORY  ((uint64_t)128 << 20)

enum opt_arg {
    OPT_FLAG,           /* no argument */
    OPT_VALUE,          /* one argument */
};

/* opt_def flags */
#define OPT_CMDLINE_ONLY    0x1     /* not a settings-file key */
#define OPT_NOT_TEMPLATE    0x2     /* not a template's key: it names one guest */

struct opt_def {
    const char *name;               /* the long option and settings key */
    enum opt_arg arg;
    const char *metavar;            /* OPT_VALUE: "SIZE" */
    int slot;                       /* enum opt_slot, or SLOT_NONE */
    enum opt_check check;
    const char *const *choices;     /* CK_CHOICE: NULL-terminated */
    int on;                         /* OPT_FLAG on a bool slot: the value it sets */
    unsigned flags;
    const char *defval;             /* for --help: the default, or NULL */
    const char *help;
};

/* The table, in --help order. */
extern const struct opt_def options_table[];
extern const size_t options_count;

/* The option named name (a long option, no dashes), or NULL. */
const struct opt_def *options_find(const char *name);

/* The option that names slot in messages (--swap for SLOT_SWAP). */
const struct opt_def *options_slot_option(enum opt_slot slot);

enum opt_layer {
    LAYER_DEFAULT,
    LAYER_PROVISION_CONF,
    LAYER_TEMPLATE,
    LAYER_CONFIG,
    LAYER_CMDLINE,
};

struct opt_value {
    const struct opt_def *by;       /* the option that set it; NULL: the default */
    char *value;                    /* owned; NULL for a flag */
    bool on;                        /* bool slots: the value (default in options_init) */
    enum opt_layer layer;
    char *file;                     /* owned; the settings file, NULL on the command line */
    int line, col;                  /* the value's position in file */
    bool bad;                       /* a bad value was given (and reported) */
};

struct opt_set {
    struct opt_value v[NSLOTS];
};

void options_init(struct opt_set *o);
void options_dispose(struct opt_set *o);

/* The command line, parsed but not yet applied. */
struct opt_argv_item {
    const struct opt_def *def;
    const char *arg;                /* borrowed from argv; NULL for a flag */
};

struct opt_argv {
    struct opt_argv_item *items;    /* in order, --config and --help excluded */
    size_t nitems;
    const char **configs;           /* --config FILE arguments, in order (borrowed) */
    size_t nconfigs;
    bool help;
    bool list;                      /* --list: the guests vm-provision made */
    bool json;                      /* --json, with --list */
    const char *delete_name;        /* --delete NAME (borrowed) */
    const char *snapshot_name;      /* --snapshot NAME (borrowed) */
    const char *snapshot_size;      /* --snapshot-size SIZE (borrowed) */
    const char *snapshot_list;      /* --snapshot-list NAME (borrowed) */
    const char *snapshot_delete;    /* --snapshot-delete VOLUME (borrowed) */
    const char *batch;              /* --batch FLEET (borrowed) */
    const char *batch_delete;       /* --batch-delete FLEET (borrowed) */
    const char *count;              /* --count N (borrowed) */
    const char *ip_range;           /* --ip-range FIRST-LAST[/PREFIX] (borrowed) */
    const char *jobs;               /* --jobs N, -j N (borrowed) */
    bool template_list;             /* --template-list */
    const char *template_show;      /* --template-show NAME (borrowed) */
    bool golden_list;               /* --golden-list */
    const char *golden_delete;      /* --golden-delete ID|all (borrowed) */
};

void options_argv_dispose(struct opt_argv *a);

/*
 * Parses argv (long options only) into a, which it initialises.  Every
 * unknown option, missing argument and stray argument is recorded in d.
 * Returns 0, -EINVAL after recording, or -ENOMEM.  argv must outlive a.
 */
int options_parse_argv(int argc, char **argv, struct opt_argv *a, struct diag *d);

/*
 * Applies the top section of a settings file at layer (LAYER_PROVISION_CONF,
 * LAYER_TEMPLATE or LAYER_CONFIG).  Sections, unknown keys, command-line-only
 * keys, in a template the keys that name one guest (OPT_NOT_TEMPLATE), and
 * bad values are recorded in d at their FILE:LINE:COL.  Returns 0,
 * -EINVAL after recording every error, or -ENOMEM.
 */
int options_apply_settings(struct opt_set *o, const struct settings *s,
                           enum opt_layer layer, struct diag *d);

/* Applies the command line; bad values are recorded naming the option.
 * Returns 0, -EINVAL after recording every error, or -ENOMEM. */
int options_apply_argv(struct opt_set *o, const struct opt_argv *a, struct diag *d);

/*
 * Records an error about slot's value in d, where the value came from:
 * "FILE:LINE:COL: error: KEY: MESSAGE" for a settings file, "--OPTION:
 * MESSAGE" for the command line or a default.
 */
void options_error(struct diag *d, const struct opt_set *o, enum opt_slot slot,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Where slot's value came from, for the plan: "--mirror", "FILE:LINE"
 * or "default", in a new malloc'd string (NULL on ENOMEM). */
char *options_origin(const struct opt_set *o, enum opt_slot slot);

/*
 * Every setting o holds, for --template-show: a table of one line per
 * slot that has a value, set or default (OPTION VALUE FROM), in --help
 * order, FROM being "default", "FILE:LINE" (provision.conf), "template
 * FILE:LINE", "--config FILE:LINE" or "--OPTION".  The template and the
 * command-line-only slots are left out.  A new malloc'd string, or NULL
 * (ENOMEM).
 */
char *options_show(const struct opt_set *o);

/* Parses a size the way the size checks accept it (a plain number is
 * MiB); 0 or -EINVAL/-ERANGE. */
int options_parse_size(const char *s, uint64_t *bytes_r);

/* The --help text, in a new malloc'd string (NULL on ENOMEM). */
char *options_help(const char *prog);

#endif
