/*
 * identity.h - personalising a Debian-family guest root: host name,
 * hosts, network, machine-id, random seed, root's password, root's
 * authorized keys and ssh host keys.  The one step that both the
 * single-guest pipeline (on a staging directory) and clone customisation
 * (on an ext4 image, through libext2fs) use: hooks shape the root, this
 * step personalises it.
 *
 * identity_apply first reads what it needs from the guest and computes
 * every edit (file contents, symlinks, removals), generating the ssh host
 * keys on the host; only then does it apply the edits, in order, through
 * a backend (struct identity_root_ops) that knows how to reach the root.
 * Nothing is written when the identity is invalid or a read fails; a
 * write that fails part way leaves the root partly personalised (the
 * caller discards a root it could not finish).
 *
 * What is written (paths in the guest):
 *   /etc/hostname      the first label of the host name
 *   /etc/mailname      the whole host name
 *   /etc/hosts         Debian's: 127.0.0.1 localhost; the static address
 *                      (or 127.0.1.1 with DHCP) mapped to the name (and
 *                      the short name when it has a domain); the IPv6
 *                      localhost lines
 *   network            by network_style:
 *     ifupdown         /etc/network/interfaces (sources interfaces.d/,
 *                      lo, `auto IFACE' with inet/inet6 dhcp or static)
 *     networkd         /etc/systemd/network/10-IFACE.network (DHCP=ipv4,
 *                      like ifupdown's inet dhcp and netplan's dhcp4;
 *                      IPv6 still takes router advertisements), and
 *                      systemd-networkd enabled as `systemctl enable'
 *                      does it (see below)
 *     netplan          /etc/netplan/50-vmkit.yaml (0600, renderer
 *                      networkd), and systemd-networkd enabled too
 *     ifcfg            /etc/sysconfig/network (NETWORKING=yes) and
 *                      /etc/sysconfig/network-scripts/ifcfg-IFACE
 *                      (ONBOOT, HWADDR, BOOTPROTO dhcp or none with
 *                      IPADDR/PREFIX/GATEWAY or IPV6ADDR, DNSn): el7, el8
 *     nm-keyfile       /etc/NetworkManager/system-connections/
 *                      IFACE.nmconnection (0600 in a 0700 directory;
 *                      ipv4 auto or manual, mac-address, dns): el9, Fedora
 *     NULL or "none"   the guest's network configuration is left alone
 *   /etc/resolv.conf   when nameservers are given (see below)
 *   /etc/machine-id    32 fresh lower-case hex digits (a random v4 UUID,
 *                      as systemd makes them) and a newline, 0444;
 *                      /var/lib/dbus/machine-id, when present, becomes a
 *                      symlink to /etc/machine-id
 *   /var/lib/systemd/random-seed   512 random bytes, 0600, when
 *                      /var/lib/systemd is a directory
 *   /etc/shadow        root's password field (every root line; every
 *                      other line and field, the mode and the owner
 *                      kept): the hash, or `*' (no password login;
 *                      root can still log in with a key) without one
 *   /root/.ssh/authorized_keys   0600 in /root/.ssh 0700, when given
 *                      (a newline is added when the text lacks one)
 *   /etc/ssh/ssh_host_*_key{,.pub,-cert.pub}   when ssh_host_keys and
 *                      the guest has /etc/ssh: the old ones removed, new
 *                      ed25519, ecdsa and rsa (3072 bit) keys made by
 *                      the host's ssh-keygen (0600 private, 0644 public,
 *                      comment root@SHORTNAME as Debian's own)
 * Files are owned by root, except /etc/shadow, which keeps its owner.
 *
 * Enabling systemd-networkd links, in /etc/systemd/system, for the units
 * the guest has (found in /lib/systemd/system, else /usr/lib/...):
 * multi-user.target.wants/systemd-networkd.service,
 * dbus-org.freedesktop.network1.service (its alias),
 * sockets.target.wants/systemd-networkd.socket,
 * sysinit.target.wants/systemd-network-generator.service and
 * network-online.target.wants/systemd-networkd-wait-online.service.  A
 * guest without systemd-networkd.service is an error for these styles.
 *
 * /etc/resolv.conf: with nameservers, networkd and netplan also put them
 * in the network file (DNS=, nameservers:).  A resolv.conf that is a
 * symlink into systemd-resolved's files (its target contains
 * "systemd/resolve/") is kept for those two styles, since resolved
 * serves what networkd tells it; in every other case resolv.conf (a
 * symlink included, whatever it points at) is replaced by a regular
 * file of `nameserver' lines, 0644.  ifupdown never gets dns-nameservers
 * (that needs the resolvconf package).  Without nameservers resolv.conf
 * is not touched: DHCP clients write it.  With DHCP under ifupdown,
 * dhclient overwrites the given nameservers.
 */
#ifndef VMKIT_IDENTITY_H
#define VMKIT_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "diag.h"

/* What the guest is made to be.  Strings are borrowed. */
struct identity {
    const char *hostname;           /* required: RFC 1123 (check_hostname);
                                     * a domain is allowed */
    const char *network_style;      /* "ifupdown", "networkd", "netplan",
                                     * "ifcfg", "nm-keyfile";
                                     * NULL or "none": no network files */
    const char *iface;              /* "eth0": required with a style */
    bool dhcp;                      /* IPv4 DHCP; else ip and prefix */
    const char *ip;                 /* static: the address alone, IPv4 or IPv6 */
    int prefix;                     /* static: 1..32 (IPv4), 1..128 (IPv6) */
    const char *gateway;            /* static: same family as ip, or NULL */
    const char *nameservers;        /* addresses, space separated, or NULL */
    const char *mac;                /* networkd and netplan then match the
                                     * interface by this MAC instead of by
                                     * name (ifupdown cannot); or NULL */
    const char *password_hash;      /* a crypt(3) string for root, or NULL:
                                     * `*', no password login */
    const char *authorized_keys;    /* root's authorized_keys text, or NULL */
    bool ssh_host_keys;             /* fresh host keys if the guest has /etc/ssh */
};

/* An entry of the guest, not followed when it is a symlink (lstat). */
struct identity_stat {
    mode_t mode;                    /* type and permission bits */
    uid_t uid;
    gid_t gid;
    off_t size;
};

/*
 * A backend: operations on the guest root.  Paths are absolute paths in
 * the guest ("/etc/hostname": no `.' or `..' component, no empty one, no
 * trailing `/').  A backend must never reach outside the root, whatever
 * symlinks the guest holds: directories on the way are resolved as the
 * guest would (an absolute symlink starts again at the guest's root,
 * `..' stops there), and the last component is never followed except
 * where stated.  Each returns 0 or -errno.
 */
struct identity_root_ops {
    /* The regular file at path, at most max bytes, into a new
     * NUL-terminated buffer (*buf_r, caller frees; *len_r without the
     * NUL).  -ENOENT when absent, -ELOOP when a symlink, -EINVAL when not
     * a regular file, -EFBIG when larger. */
    int (*read)(void *ctx, const char *path, size_t max, char **buf_r, size_t *len_r);
    /* Replaces path atomically with a regular file of len bytes, mode
     * (permission bits) and owner.  Whatever was there (a symlink
     * included) is replaced, never written through; a directory is not
     * (-EISDIR). */
    int (*write)(void *ctx, const char *path, const void *buf, size_t len, mode_t mode,
                 uid_t uid, gid_t gid);
    /* Replaces path with a symlink to target (owned by root). */
    int (*symlink)(void *ctx, const char *target, const char *path);
    /* Removes the file or symlink at path; absent (or its directory
     * absent) is fine. */
    int (*remove)(void *ctx, const char *path);
    /* Makes the directory path with mode and owner; an existing directory
     * (or a symlink resolving, in the root, to one) is fine and is left
     * as it is.  The parent must exist. */
    int (*mkdir)(void *ctx, const char *path, mode_t mode, uid_t uid, gid_t gid);
    /* What is at path; follow: a final symlink is followed (in the root).
     * -ENOENT when absent. */
    int (*stat)(void *ctx, const char *path, bool follow, struct identity_stat *st_r);
    /* The target of the symlink at path (new string, caller frees), at
     * most max bytes.  -EINVAL when not a symlink. */
    int (*readlink)(void *ctx, const char *path, size_t max, char **target_r);
    /* The names in directory path (followed, in the root), without `.'
     * and `..', in no order: a new NULL-terminated array of new strings
     * (caller frees each and the array).  -E2BIG past max names. */
    int (*list)(void *ctx, const char *path, size_t max, char ***names_r);
    /* Releases ctx. */
    void (*close)(void *ctx);
};

/*
 * Whether path is a path the backends take: absolute, components not
 * empty, `.' or `..', not "/" itself, shorter than PATH_MAX.  0; -EINVAL;
 * -ENAMETOOLONG for a component longer than name_max bytes.
 */
int identity_path_check(const char *path, size_t name_max);

/* An opened guest root. */
struct identity_root {
    const struct identity_root_ops *ops;
    void *ctx;
    char *name;     /* prefixed to guest paths in messages: "DIR" for a
                     * directory root ("DIR/etc/shadow: ..."), owned */
};

/*
 * Opens the directory dir as a guest root, for the directory backend.
 * Every open below it goes through openat2(2) with RESOLVE_IN_ROOT and
 * RESOLVE_NO_MAGICLINKS on a descriptor of dir; files are written as a
 * temporary file in their directory renamed into place; ownership is set
 * where it differs from the creator's (so writing needs root).  Returns
 * 0 and fills r (release with identity_root_close), or -errno after
 * recording why in d.
 */
int identity_root_dir_open(const char *dir, struct identity_root *r, struct diag *d);

/* Releases r (may be zeroed, or closed already). */
void identity_root_close(struct identity_root *r);

/*
 * Personalises the guest at root as id says (see the top of this file).
 * Returns 0, or -errno (-EINVAL for an invalid id) after recording one
 * message in d naming the guest path (root->name prefixed) or the field
 * of id, and why.  Warnings (more nameservers than the C library reads)
 * go to d too.  Runs ssh-keygen (from $PATH) with ssh_host_keys.
 */
int identity_apply(const struct identity *id, const struct identity_root *root,
                   struct diag *d);

/*
 * Takes out of the guest at root what names one guest, for a golden
 * image that clones are made from (each then gets identity_apply):
 * /etc/hostname becomes "localhost", /etc/mailname, the random seed,
 * root's authorized_keys and every ssh host key go, /etc/machine-id is
 * emptied (systemd's "not yet set"; /var/lib/dbus/machine-id, when
 * present, a symlink to it) and root's password is `*'.  The network
 * configuration is left as the hooks made it: it names no guest until
 * identity_apply writes one.  0, or -errno after recording why.
 */
int identity_strip(const struct identity_root *root, struct diag *d);

/* identity_root_dir_open(dir), identity_apply, identity_root_close: the
 * single-guest pipeline's call.  Same returns as identity_apply. */
int identity_apply_dir(const struct identity *id, const char *dir, struct diag *d);

/*
 * Hashes password for /etc/shadow with method "yescrypt" (or NULL:
 * "$y$", libxcrypt's crypt_gensalt_ra and crypt_ra; SHA-512 crypt where
 * the host lacks yescrypt) or "sha512" ("$6$": what a guest whose C
 * library predates yescrypt can check, el7 to el9, busybox).  *hash_r is
 * a new string (caller frees).  0, -EINVAL (empty password, unknown
 * method), -ENOMEM, or -errno from libxcrypt.
 */
int identity_hash_password(const char *password, const char *method, char **hash_r);

/* The length of identity_generate_password's passwords. */
#define IDENTITY_PASSWORD_LEN 20

/*
 * A new random password (*pw_r, caller frees) of IDENTITY_PASSWORD_LEN
 * characters from getrandom(2), drawn uniformly from letters and digits
 * without the look-alikes 0 O o 1 l I (56 symbols: about 116 bits).
 * 0 or -errno.
 */
int identity_generate_password(char **pw_r);

#endif
