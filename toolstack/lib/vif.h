/*
 * vif.h - one xl vif spec string ("mac=...,bridge=xenbr0,rate=10Mb/s").
 *
 * The syntax is xl's (xl-network-configuration(5)): items separated by
 * `,', each `key=value'; empty items are ignored and whitespace around an
 * item, a key or a value is dropped (whitespace around `=' also draws a
 * warning: xl takes ` mac = x' for an unknown key and ignores it).  Keys
 * are case-sensitive; the last of a repeated key wins.  Meaning of each
 * key vmkit applies:
 *
 *   mac        six octets of one or two hex digits separated by `:' (or
 *              all by `-'); a multicast address is an error; kept as
 *              lowercase "xx:xx:xx:xx:xx:xx"
 *   ip         addresses separated by spaces, IPv4 or IPv6, each with an
 *              optional /prefix (0-32, 0-128)
 *   bridge, script, vifname, model, backend, gatewaydev
 *              any string (an empty value means the default, NULL)
 *   type       `ioemu' or `vif'
 *   rate       RATE/s[@INTERVAL], xl's grammar and arithmetic: RATE is a
 *              decimal number, an optional K, M or G (powers of 1000) and
 *              B (bytes) or b (bits); INTERVAL a number and an optional
 *              us, ms or s (also xl's `m', `u' and bare seconds); default
 *              interval 50ms; bytes per interval = bytes/s * usecs / 10^6
 *              rounded down
 *   mtu        68..65535
 *   devid      0..INT_MAX
 *   netdev     vmkit-only: `user' (QEMU user-mode networking) or `tap'
 *              (the default).  Any other value is xl's deprecated alias of
 *              gatewaydev, applied as such with a warning.
 *
 * Keys xl knows that vmkit does not apply (accel, forwarddev, colo_*)
 * warn "parsed, not applied"; unknown keys and items without `=' warn as
 * xl does and are ignored.  Deliberately stricter than xl, which only
 * warns or silently misreads: a bad mac or type is an error; a number
 * with a leading zero in a rate (xl reads it as octal) is an error; a
 * rate under one byte per interval (xl then applies no limit at all) is
 * an error; mtu and devid must be plain decimal numbers.
 */
#ifndef VMKIT_VIF_H
#define VMKIT_VIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

struct vif_param {
    char *key;      /* owned */
    char *value;    /* owned */
};

struct vif_spec {
    struct vif_param *params;   /* every key=value given, trimmed, in order */
    size_t nparams;
    char *mac;      /* normalized "00:16:3e:aa:bb:cc", or NULL: generate later */
    char *ip;       /* as given (validated), or NULL */
    char *bridge, *script, *vifname, *model, *type, *backend, *gatewaydev;
    char *rate;     /* as given, or NULL; the two numbers below follow it */
    bool netdev_user;
    int mtu;        /* 0 = default */
    int devid;      /* -1 = by position */
    uint64_t rate_bytes_per_interval;   /* 0 = unlimited */
    uint32_t rate_interval_usecs;       /* 0 when unlimited */
};

/* Sets every field to its default (no allocation). */
void vif_spec_init(struct vif_spec *v);
/* Frees everything v owns and leaves it as after vif_spec_init. */
void vif_spec_dispose(struct vif_spec *v);

/*
 * Parses spec into v, which vif_parse initializes (whatever v held is
 * not freed).  file/line/col name the spec's position; every error and
 * warning is recorded in d at that position, quoting the item.  Returns
 * 0 (warnings may have been recorded) with v owning its strings (free
 * with vif_spec_dispose); -EINVAL after recording every error found; or
 * -ENOMEM.  On failure v is left as after vif_spec_init.
 */
int vif_parse(const char *spec, const char *file, int line, int col,
              struct vif_spec *v, struct diag *d);

/*
 * Writes v back as an xl vif string in a new malloc'd string (the caller
 * frees it): mac, ip, bridge, script, vifname, model, type, backend,
 * gatewaydev, rate, mtu, devid, netdev=user, in that order, each only
 * when set; then every param whose key is none of those (unapplied and
 * unknown keys) in the order given.  vif_parse of the result gives back
 * v's fields.  Returns NULL with errno ENOMEM, or EINVAL when v holds
 * something that would not read back the same (a `,' in a value,
 * whitespace around one, an empty string, an invalid mac, type, rate or
 * mtu, rate numbers without a rate string).
 */
char *vif_format(const struct vif_spec *v);

/* Checks a MAC as vif's mac= takes it (six octets of one or two hex
 * digits, all `:' or all `-', unicast): NULL and the normalized form in
 * out, or why not (a static string). */
const char *vif_check_mac(const char *s, char out[18]);

/*
 * Writes the MAC vmkit gives vif number index (0-based, in config order)
 * of the domain with this uuid, as "00:16:3e:XX:XX:XX" with the NUL
 * (18 bytes): Xen's OUI, so unicast and globally administered, and the
 * low three octets from a hash that never changes:
 *
 *   h = 64-bit FNV-1a (offset basis 0xcbf29ce484222325, prime
 *       0x100000001b3) over the 16 uuid bytes followed by index as four
 *       bytes, least significant first;
 *   x = (h ^ (h >> 24) ^ (h >> 48)) & 0xffffff;
 *   XX:XX:XX = x's three bytes, most significant first.
 */
void vif_mac_generate(const unsigned char uuid[16], unsigned index, char out[18]);

#endif
