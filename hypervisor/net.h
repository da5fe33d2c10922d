/*
 * net.h - a vif's host side: its tap device, the bridge it joins, its
 * hotplug script (what Xen's netback vif and vif-bridge do, for QEMU).
 *
 * Every vif that is not netdev=user gets a persistent tap device that
 * the supervisor creates before QEMU starts (QEMU attaches to it by
 * name: -netdev tap,ifname=TAP,script=no,downscript=no).  The tap is
 * named by the vif's vifname, or vif<DOMID>.<N> as Xen names a domain's
 * vifs (N: the vif's devid, else its position in the config).  Its own
 * MAC is fe:ff:ff:ff:ff:ff, as Xen gives every vif, so that a bridge
 * never adopts the guest's address as its own; the guest's MAC is the
 * config's mac, or a stable one under Xen's 00:16:3e (net_guest_mac).
 *
 * Then either the vif's script= runs, or, without one, vmkit adds the
 * tap to the vif's bridge itself (in Xen the script is what adds a vif
 * to its bridge, so a script replaces vmkit's own bridge add).  A vif
 * with neither a bridge nor a script is an error: a NIC that is plugged
 * into nothing is never made silently.
 *
 * The script contract (vmkit's, not Xen's: Xen's own scripts read
 * xenstore and do not run under vmkit): argv is {SCRIPT, "online"} when
 * the vif is plugged and {SCRIPT, "offline"} when it is unplugged; the
 * environment is only
 *
 *   PATH=/usr/sbin:/usr/bin:/sbin:/bin
 *   vif=TAP  INTERFACE=TAP  mac=GUEST-MAC
 *   bridge=BRIDGE           when the vif names one
 *   ip=ADDRESSES            when the vif has ip= (as given: space-separated)
 *
 * A relative script name is looked up in $VMKIT_CONFDIR/scripts/
 * (/etc/vmkit/scripts/), an absolute one used as it is; Xen's script
 * directory /etc/xen/scripts/ is refused.  The script's stdout and
 * stderr go to a log descriptor the caller gives; the last
 * NET_SCRIPT_ERR_TAIL bytes of its stderr are also quoted in the error
 * message when it fails.  It gets NET_SCRIPT_TIMEOUT_MS to finish.
 *
 * Everything here works in the caller's network namespace; the bridge
 * checks read /sys/class/net, which must be the sysfs of that namespace
 * (`ip netns exec' mounts one).  Creating taps and bridging needs
 * CAP_NET_ADMIN.
 *
 * Errors: 0 or a negative errno; when why is not NULL, a message of at
 * most whylen - 1 bytes in why says what failed, naming the interface,
 * bridge or script ("interface vif3.0 already exists", "bridge br0 does
 * not exist").  Nothing here prints or keeps state between calls.
 */
#ifndef VMKIT_NET_H
#define VMKIT_NET_H

#include <stddef.h>

#include "domain.h"
#include "vif.h"

#define NET_IFNAME_SIZE         16              /* IFNAMSIZ: 15 bytes and NUL */
#define NET_TAP_HOST_MAC        "fe:ff:ff:ff:ff:ff"
#define NET_SCRIPT_TIMEOUT_MS   30000
#define NET_SCRIPT_ERR_TAIL     1024            /* stderr bytes quoted on failure */
#define NET_SCRIPT_PATH         "/usr/sbin:/usr/bin:/sbin:/bin"
#define NET_SCRIPT_DIR          "scripts"       /* under VMKIT_CONFDIR */

/*
 * Checks name as a network interface name: 1 to 15 bytes, none of them
 * `/', `:', whitespace or a control character, and not "." or "..".
 * 0, or -EINVAL with why saying what is wrong (quoting name).
 */
int net_ifname_check(const char *name, char *why, size_t whylen);

/*
 * The tap device name of vif index (0-based, config order) of domain
 * domid: v->vifname when set (checked with net_ifname_check), else
 * "vif<DOMID>.<N>" with N = v->devid when set (>= 0), else index.
 * Writes it with its NUL into name_r and returns 0; or -EINVAL
 * (a bad vifname, or a generated name over 15 bytes) with why.
 */
int net_tap_name(const struct vif_spec *v, int domid, size_t index,
                 char name_r[NET_IFNAME_SIZE], char *why, size_t whylen);

/*
 * The MAC the guest sees on vif index of dom, "xx:xx:xx:xx:xx:xx" with
 * its NUL in mac_r: the vif's mac when the config sets one, else
 * vif_mac_generate(dom->uuid, index).  0, or -EINVAL when the vif has
 * no mac and dom no uuid, or index is out of range.  The supervisor, the
 * vif script and the QEMU command line all take the MAC from here (see
 * net_assign_macs), so that they agree.
 */
int net_guest_mac(const struct domain_desc *dom, size_t index, char mac_r[18]);

/*
 * Sets the mac of every vif of dom that has none to net_guest_mac's, so
 * that dm_build_argv (which wants every mac set) and the plug agree.
 * 0; -EINVAL when a vif needs a mac and dom has no uuid; -ENOMEM (vifs
 * done so far keep their new mac).  Each new mac is owned by its vif.
 */
int net_assign_macs(struct domain_desc *dom);

/*
 * Creates the persistent tap device name (IFF_TAP | IFF_NO_PI, so QEMU
 * can attach with its own flags, vnet_hdr included), sets its own MAC
 * to NET_TAP_HOST_MAC and, when mtu > 0, its MTU, and brings it up.
 * An interface of that name must not exist: -EEXIST ("interface vif3.0
 * already exists"), whatever kind it is.  On any failure the tap is
 * deleted again.  0 or -errno with why.
 */
int net_tap_create(const char *name, int mtu, char *why, size_t whylen);

/*
 * Deletes the persistent tap device name.  -ENOENT when no interface
 * has that name (the caller decides whether that matters: cleanup
 * usually ignores it); -EINVAL when it is not a tap device; -EBUSY
 * while a process (QEMU) still holds it open.  0 or -errno with why.
 */
int net_tap_delete(const char *name, char *why, size_t whylen);

/*
 * Checks that bridge exists (-ENODEV, "bridge br0 does not exist") and
 * is a Linux bridge (-ENOTSUP, "eth0 is not a bridge").  0 or -errno
 * with why.
 */
int net_bridge_check(const char *bridge, char *why, size_t whylen);

/*
 * Adds ifname to bridge (after net_bridge_check) and brings ifname up.
 * 0 or -errno with why (-ENODEV also when ifname does not exist;
 * -EBUSY when it is already a port of a bridge).
 */
int net_bridge_add(const char *bridge, const char *ifname, char *why,
                   size_t whylen);

/* Removes ifname from bridge.  -EINVAL when it is not a port of
 * bridge.  0 or -errno with why. */
int net_bridge_remove(const char *bridge, const char *ifname, char *why,
                      size_t whylen);

/*
 * Resolves a vif's script= value: a relative name under
 * paths_root(PATHS_CONF)/scripts/, an absolute path as it is.  The
 * script must be a regular file (after symlinks) that is executable;
 * one under /etc/xen/scripts/ is refused (-ENOTSUP: Xen's scripts read
 * xenstore).  0 and a new malloc'd path in *path_r (caller frees), or
 * -errno with why (-ENOENT "vif script /etc/vmkit/scripts/x does not
 * exist", -EACCES "... is not executable") and *path_r NULL.
 */
int net_script_path(const char *script, char **path_r, char *why,
                    size_t whylen);

/* What a vif script is told (see the top of this file). */
struct net_script_vars {
    const char *tap;        /* vif and INTERFACE; required */
    const char *mac;        /* the guest's MAC; required */
    const char *bridge;     /* NULL: not set */
    const char *ip;         /* NULL: not set */
};

/*
 * The script's environment for vars: a new NULL-terminated vector of
 * "NAME=value" strings, PATH first, then vif, INTERFACE, mac, bridge
 * and ip (those set).  The caller frees it with net_env_free.  NULL with
 * errno ENOMEM, or EINVAL when tap or mac is NULL.
 */
char **net_script_env(const struct net_script_vars *vars);
void net_env_free(char **env);

/*
 * Runs script (a path from net_script_path) with action ("online" or
 * "offline") and the environment of vars, its stdin /dev/null, its
 * stdout and stderr to log_fd (an open descriptor, or -1 to discard
 * them), for at most timeout_ms (-1: no limit; then SIGTERM, SIGKILL).
 * 0 when it exits with status 0; else -EIO (non-zero exit or a signal),
 * -ETIMEDOUT or another -errno, with why naming the script, the action,
 * the tap and the exit status, followed by the end of its stderr.
 */
int net_script_run(const char *script, const char *action,
                   const struct net_script_vars *vars, int log_fd,
                   int timeout_ms, char *why, size_t whylen);

/*
 * Plugs vif index of dom (domain domid): for a netdev=user vif does
 * nothing and leaves tap_r "".  Otherwise checks first what can be
 * checked without touching anything (the tap name, the script or the
 * bridge: a vif with neither is -EINVAL "vif N names no bridge"), then
 * creates the tap (net_tap_create with the vif's mtu) and runs the
 * script with "online" or, without a script, adds the tap to the
 * bridge.  Script output goes to log_fd (-1: discarded).  0 with the
 * tap's name in tap_r; or -errno with why (prefixed "vif N: ") and
 * nothing left behind: after a failed online the script is run with
 * offline (its result ignored) and the tap deleted.
 */
int net_vif_plug(const struct domain_desc *dom, size_t index, int domid,
                 int log_fd, char tap_r[NET_IFNAME_SIZE], char *why,
                 size_t whylen);

/*
 * Undoes net_vif_plug for vif index of dom, whose tap is tap ("" or
 * NULL for a netdev=user vif: nothing to do): runs the script with
 * offline when the vif has one, then deletes the tap (which also takes
 * it off its bridge).  Every step is tried whatever the one before did;
 * the first failure is returned (-errno) with why (a tap that is
 * already gone is not one).
 */
int net_vif_unplug(const struct domain_desc *dom, size_t index, const char *tap,
                   int log_fd, char *why, size_t whylen);

#endif
