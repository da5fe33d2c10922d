/*
 * check.h - checks of single option values for vm-provision.
 *
 * Each function returns 0 when the value is good, or -EINVAL and sets
 * *why to a static phrase saying what was expected (for a message such
 * as "--mac: `x' is not ...: WHY").  Nothing is recorded or printed.
 */
#ifndef VMKIT_CHECK_H
#define VMKIT_CHECK_H

#include <stddef.h>

/* An RFC 1123 host name: labels of letters, digits and `-' (not first or
 * last), 1..63 bytes each, separated by `.', 253 bytes at most, the last
 * label not all digits (that reads as an address), no trailing dot. */
int check_hostname(const char *s, const char **why);

/* A unicast MAC: six octets of one or two hex digits separated by `:'
 * (or all by `-'), not all zero.  out gets "xx:xx:xx:xx:xx:xx". */
int check_mac(const char *s, char out[18], const char **why);

/* An IPv4 or IPv6 address (inet_pton); *family_r is AF_INET or AF_INET6. */
int check_addr(const char *s, int *family_r, const char **why);

/* ADDR or ADDR/PREFIX; *prefix_r is -1 without one.  out (at least
 * INET6_ADDRSTRLEN bytes) gets ADDR alone. */
int check_ip(const char *s, char *out, size_t outlen, int *family_r, int *prefix_r,
             const char **why);

/* A netmask: a dotted quad of contiguous ones (IPv4; *family_r AF_INET),
 * or a prefix length as `/N' or `N' (*family_r 0: either family; the
 * caller checks 0..32 or 0..128 against the address). */
int check_netmask(const char *s, int *prefix_r, int *family_r, const char **why);

/* A package mirror URL: http://HOST..., https://HOST... or file:///PATH,
 * no whitespace, control characters or quotes. */
int check_url(const char *s, const char **why);

/* A Linux network interface name for a bridge: 1..15 bytes, no `/',
 * whitespace, `,', `=' or `:', not `.' or `..'. */
int check_bridge(const char *s, const char **why);

/* A name of a distribution, architecture or role: [a-z0-9][a-z0-9-]*,
 * at most 64 bytes (it becomes a file name). */
int check_name(const char *s, const char **why);

/* An architecture, Debian's (amd64) or rpm's (x86_64): [a-z0-9][a-z0-9_-]*,
 * at most 64 bytes. */
int check_arch(const char *s, const char **why);

/* A password: not empty, at most 256 bytes, no control characters. */
int check_password(const char *s, const char **why);

/* An absolute path without control characters. */
int check_abs_path(const char *s, const char **why);

/* Maximum size of an ssh public key file read by check_ssh_key. */
#define CHECK_SSH_KEY_MAX (64 * 1024)

/*
 * The file at path must be a regular file of ssh public keys, as
 * ssh-keygen writes them (KEYTYPE BASE64 [COMMENT], one a line; blank
 * lines and `#' comments allowed), at least one key, each key's base64
 * decoding to a blob that starts with its own type.  Returns 0 and the
 * number of keys in *nkeys_r; -EINVAL with *why (not a public key, a
 * private key, ...); -errno when the file cannot be read (*why NULL).
 */
int check_ssh_key(const char *path, size_t *nkeys_r, const char **why);

#endif
