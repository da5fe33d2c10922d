/*
 * domain.h - a guest's description, validated from its xl.cfg config
 * (stage three of the config language), and the config writer.
 *
 * Keys follow xl's meaning (xl.cfg(5)); vmkit.cfg(5) lists each key and
 * what vmkit does with it.  Keys vmkit does not apply are kept, in
 * order, and written back by domain_write_cfg(), so nothing is lost.
 */
#ifndef VMKIT_DOMAIN_H
#define VMKIT_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "cfg.h"
#include "diag.h"
#include "disk.h"
#include "vif.h"

enum domain_type {
    DOMAIN_PV,      /* run as pvh */
    DOMAIN_PVH,
    DOMAIN_HVM,
};

enum domain_action {
    ACTION_DESTROY,
    ACTION_RESTART,
    ACTION_RENAME_RESTART,
    ACTION_PRESERVE,
    ACTION_COREDUMP_DESTROY,
    ACTION_COREDUMP_RESTART,
    ACTION_SOFT_RESET,
};

enum domain_accel {
    ACCEL_AUTO,
    ACCEL_KVM,
    ACCEL_TCG,
};

#define DOMAIN_MAX_CPUS 4096

/* A set of host CPUs, as xl's "0-3,5,^1". */
struct cpuset {
    char *text;                     /* normalized: "0,2-3,5" */
    uint64_t bits[DOMAIN_MAX_CPUS / 64];
};

/* A key vmkit keeps but does not apply. */
struct domain_extra {
    char *key;
    struct cfg_value *value;        /* owned copy */
    bool known;                     /* an xl key (else unknown to xl too) */
};

struct domain_desc {
    char *name;
    enum domain_type type;
    bool has_uuid;
    unsigned char uuid[16];
    long memory;                    /* MiB */
    long maxmem;                    /* MiB; == memory when not set */
    long vcpus;
    long maxvcpus;                  /* == vcpus when not set */
    struct cpuset *cpus;            /* NULL: all; one per vcpu when ncpus > 1 */
    size_t ncpus;
    bool cpus_per_vcpu;             /* cpus was given as a list */
    struct cpuset *cpus_soft;       /* NULL: all */
    long cpu_weight;                /* 1..65535, default 256 */
    long cap;                       /* percent of one CPU, 0 = none */
    char *kernel;
    char *ramdisk;
    char *cmdline;                  /* as given; NULL when root/extra are used */
    char *root;                     /* only without cmdline */
    char *extra;                    /* only without cmdline */
    char *bootloader;
    char **bootloader_args;
    size_t nbootloader_args;
    enum domain_action on_poweroff, on_reboot, on_crash, on_watchdog, on_soft_reset;
    struct disk_spec *disks;
    size_t ndisks;
    struct vif_spec *vifs;
    size_t nvifs;
    enum domain_accel accel;
    /* hvm */
    char *boot;                     /* NULL: "cd" */
    char **serial;
    size_t nserial;
    int vnc;                        /* -1 not set, 0, 1 */
    char *vnclisten;
    long vncdisplay;                /* -1 not set */
    int vncunused;                  /* -1 not set */
    char *vncpasswd;
    int sdl;                        /* -1 not set */
    int stdvga;                     /* -1 not set */
    char **usbdevice;
    size_t nusbdevice;
    /* everything else, in order */
    struct domain_extra *extras;
    size_t nextras;
};

void domain_init(struct domain_desc *dom);
void domain_dispose(struct domain_desc *dom);

/*
 * Validates cfg into dom (initialised by the caller).  Errors and
 * warnings (keys vmkit does not apply, xl precedence rules that drop a
 * key) go to d.  Returns 0, -EINVAL after recording every error, -ENOMEM.
 */
int domain_from_cfg(const struct cfg *cfg, struct domain_desc *dom, struct diag *d);

/* The kernel command line the guest gets: cmdline, or "root=R E". NULL if
 * none.  A new malloc'd string (NULL with errno on ENOMEM). */
char *domain_cmdline(const struct domain_desc *dom);

/* The description as a JSON object (new reference); also its parts, as
 * config-dump prints them.  Values are strings as written. */
json_object *domain_to_json(const struct domain_desc *dom);
json_object *cfg_value_to_json(const struct cfg_value *v);
json_object *disk_spec_to_json(const struct disk_spec *disk);
json_object *vif_spec_to_json(const struct vif_spec *vif);

/*
 * Writes dom as an xl.cfg config: a new malloc'd string the caller frees,
 * which domain_from_cfg() reads back to the same description.  NULL with
 * errno EINVAL when a value cannot be written (a control character xl.cfg
 * cannot express), ENOMEM.
 */
char *domain_write_cfg(const struct domain_desc *dom);

const char *domain_type_name(enum domain_type t);
const char *domain_action_name(enum domain_action a);
const char *domain_accel_name(enum domain_accel a);

/* Parses "8-4-4-4-12" hex; 0 or -EINVAL. */
int domain_parse_uuid(const char *s, unsigned char uuid[16]);
void domain_format_uuid(const unsigned char uuid[16], char out[37]);

/* Parses xl's CPU list ("all", "0-3,5,^1") into set; 0 or -EINVAL with
 * a message in *why (static). */
int cpuset_parse(const char *s, struct cpuset *set, const char **why);
void cpuset_dispose(struct cpuset *set);

#endif
