/*
 * bootcfg.h - the guest's boot loader configuration, parsed: GRUB 2's
 * grub.cfg, Boot Loader Specification entries (/boot/loader/entries/
 * *.conf) and extlinux/syslinux's extlinux.conf.  Pure functions over a
 * buffer: no file system, no environment (bootldr.h reads the disk).
 *
 * The input is the guest's, so it is untrusted: every parser is bounded
 * (BOOTCFG_MAX_* below) and executes nothing.  grub.cfg is read as data:
 * menuentry and submenu blocks, `linux'/`initrd' (and their 16/efi
 * forms) inside them, `set NAME=VALUE' anywhere (the only source of
 * $NAME and ${NAME} in words; other variables expand to nothing), and
 * `set default'.  `if'/`else'/`fi', `function' bodies, `search',
 * `insmod' and every other command are skipped.  Submenus are flattened;
 * an entry inside one is numbered as grub numbers it, "1>2".
 */
#ifndef VMKIT_BOOTCFG_H
#define VMKIT_BOOTCFG_H

#include <stdbool.h>
#include <stddef.h>

#define BOOTCFG_MAX_SIZE     (1024 * 1024)  /* bytes of one config file */
#define BOOTCFG_MAX_LINE     8192           /* bytes of one line */
#define BOOTCFG_MAX_ENTRIES  256            /* entries of one config */
#define BOOTCFG_MAX_DEPTH    8              /* nested { } blocks */
#define BOOTCFG_MAX_VARS     128            /* distinct `set' names */
#define BOOTCFG_MAX_WORD     8192           /* bytes of one expanded word */
#define BOOTCFG_MAX_INITRDS  8              /* initrds of one entry */

enum bootcfg_kind {
    BOOTCFG_GRUB,
    BOOTCFG_BLS,
    BOOTCFG_EXTLINUX,
};

struct bootcfg_entry {
    char *title;
    char *id;           /* grub --id, the BLS file name without .conf; or NULL */
    char *index;        /* grub's numbering: "0", "1>2" */
    char *kernel;       /* NULL: the entry boots no Linux kernel */
    char **initrds;     /* ninitrds paths, in order */
    size_t ninitrds;
    char *cmdline;      /* "" when none */
    char *version;      /* BLS only, else NULL */
};

struct bootcfg {
    enum bootcfg_kind kind;
    struct bootcfg_entry *entries;
    size_t nentries;
    char *default_spec;  /* as the config gives it (grub `set default', BLS id,
                          * extlinux DEFAULT), NULL when none */
    bool blscfg;         /* grub.cfg runs `blscfg': its entries are BLS ones */
};

void bootcfg_init(struct bootcfg *cfg);
void bootcfg_dispose(struct bootcfg *cfg);

/* A variable for BLS options ($kernelopts from grubenv). */
struct bootcfg_var {
    const char *name, *value;
};

/*
 * Each parser fills cfg (initialised by the caller, disposed by it on
 * any return) from the len bytes at text, which need not be
 * NUL-terminated.  name is the file name used in messages.  Returns 0;
 * -EINVAL with "NAME:LINE: message" in why (a syntax error or a bound
 * exceeded); -ENOMEM.
 */
int bootcfg_parse_grub(const char *name, const char *text, size_t len,
                       struct bootcfg *cfg, char *why, size_t whylen);
int bootcfg_parse_extlinux(const char *name, const char *text, size_t len,
                           struct bootcfg *cfg, char *why, size_t whylen);

/*
 * Adds the BLS entry in file `name' (its id: the base name without
 * .conf) to cfg, whose kind becomes BOOTCFG_BLS.  $NAME in options
 * expands from vars (nvars of them; grubenv's kernelopts), else to
 * nothing.  Call bootcfg_sort_bls() once every entry is in.  Same
 * returns as above.
 */
int bootcfg_add_bls(const char *name, const char *text, size_t len,
                    const struct bootcfg_var *vars, size_t nvars,
                    struct bootcfg *cfg, char *why, size_t whylen);
/* Orders BLS entries as grub's blscfg and systemd-boot do: by version,
 * newest first, then by id; renumbers their index. */
void bootcfg_sort_bls(struct bootcfg *cfg);

/*
 * Parses grubenv ("# GRUB Environment Block" then NAME=VALUE lines)
 * into at most max vars pointing into a copy owned by *store_r (free
 * it).  Returns the number found, -EINVAL (not a grubenv), -ENOMEM.
 */
int bootcfg_parse_grubenv(const char *text, size_t len, struct bootcfg_var *vars,
                          size_t max, char **store_r);

/* pygrub's bootloader_args, parsed. */
struct bootcfg_args {
    const char *entry;      /* --entry=N|TITLE, NULL: the default */
    const char *kernel;     /* --kernel=PATH: this kernel, no config needed */
    const char *ramdisk;    /* --ramdisk=PATH */
    const char *args;       /* --args=STRING: replaces the entry's command line */
};

/* Fills a (pointers into argv) from n arguments; 0, or -EINVAL with the
 * reason in why. */
int bootcfg_parse_args(const char *const *argv, size_t n, struct bootcfg_args *a,
                       char *why, size_t whylen);

/*
 * The entry to boot: `entry' (a number, grub's "1>2", a title or an id)
 * when given, else the config's default (a number, "1>2", a title, an
 * id or a "TITLE>TITLE" path; "saved", empty or an unknown default mean
 * the first entry, with a note in note, "" otherwise).  Returns the
 * index into cfg->entries, or -ENOENT with the reason in why (an entry
 * that does not exist or boots no kernel).
 */
long bootcfg_choose(const struct bootcfg *cfg, const char *entry, char *note,
                    size_t notelen, char *why, size_t whylen);

#endif
