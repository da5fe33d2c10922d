/*
 * check.c - checks of single option values (see check.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fileio.h"
#include "vif.h"

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

static int fail(const char **why, const char *msg)
{
    *why = msg;
    return -EINVAL;
}

int check_hostname(const char *s, const char **why)
{
    const char *label = s, *c;
    bool all_digits = true;

    if (!*s)
        return fail(why, "empty");
    if (strlen(s) > 253)
        return fail(why, "longer than 253 characters");
    for (c = s;; c++) {
        if (*c == '.' || *c == '\0') {
            size_t n = (size_t)(c - label);

            if (n == 0)
                return fail(why, *c ? "an empty label (`..' or a leading `.')"
                                    : "a trailing `.'");
            if (n > 63)
                return fail(why, "a label longer than 63 characters");
            if (label[0] == '-' || c[-1] == '-')
                return fail(why, "a label starts or ends with `-'");
            if (!*c)
                break;
            label = c + 1;
            all_digits = true;
            continue;
        }
        if (!is_alnum(*c) && *c != '-')
            return fail(why, "only letters, digits, `-' and `.' are allowed");
        if (!is_digit(*c))
            all_digits = false;
    }
    if (all_digits)
        return fail(why, "the last label is all digits (that reads as an address)");
    return 0;
}

int check_mac(const char *s, char out[18], const char **why)
{
    const char *bad = vif_check_mac(s, out);

    if (bad)
        return fail(why, bad);
    if (!strcmp(out, "00:00:00:00:00:00"))
        return fail(why, "all zero");
    return 0;
}

int check_addr(const char *s, int *family_r, const char **why)
{
    unsigned char buf[sizeof(struct in6_addr)];

    if (inet_pton(AF_INET, s, buf) == 1) {
        *family_r = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, s, buf) == 1) {
        *family_r = AF_INET6;
        return 0;
    }
    return fail(why, "expected an IPv4 address (192.0.2.10) or an IPv6 address");
}

/* A decimal number 0..max, no sign, no leading zeros beyond "0". */
static int parse_prefix(const char *s, int max, int *v)
{
    long n = 0;

    if (!*s || strlen(s) > 3 || (s[0] == '0' && s[1]))
        return -EINVAL;
    for (const char *c = s; *c; c++) {
        if (!is_digit(*c))
            return -EINVAL;
        n = n * 10 + (*c - '0');
    }
    if (n > max)
        return -EINVAL;
    *v = (int)n;
    return 0;
}

int check_ip(const char *s, char *out, size_t outlen, int *family_r, int *prefix_r,
             const char **why)
{
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);

    if (n + 1 > outlen || n >= INET6_ADDRSTRLEN)
        return fail(why, "expected an IPv4 or IPv6 address, optionally with /PREFIX");
    memcpy(out, s, n);
    out[n] = '\0';
    if (check_addr(out, family_r, why))
        return fail(why, "expected an IPv4 or IPv6 address, optionally with /PREFIX");
    *prefix_r = -1;
    if (slash && parse_prefix(slash + 1, *family_r == AF_INET ? 32 : 128, prefix_r))
        return fail(why, *family_r == AF_INET ? "the prefix after `/' must be 0..32"
                                              : "the prefix after `/' must be 0..128");
    return 0;
}

int check_netmask(const char *s, int *prefix_r, int *family_r, const char **why)
{
    struct in_addr a;

    if (inet_pton(AF_INET, s, &a) == 1) {
        uint32_t m = ntohl(a.s_addr);
        int n = 0;

        while (n < 32 && (m & (UINT32_C(1) << (31 - n))))
            n++;
        if (n < 32 && (m << n) != 0)
            return fail(why, "the ones of a netmask must be contiguous (255.255.255.0)");
        *prefix_r = n;
        *family_r = AF_INET;
        return 0;
    }
    if (parse_prefix(s[0] == '/' ? s + 1 : s, 128, prefix_r))
        return fail(why, "expected a dotted quad (255.255.255.0) or a prefix length (/24)");
    *family_r = 0;
    return 0;
}

int check_url(const char *s, const char **why)
{
    static const char *const expected =
        "expected http://HOST/PATH, https://HOST/PATH or file:///PATH";
    const char *rest;

    for (const char *c = s; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '"' || *c == '\'' ||
            *c == '\\')
            return fail(why, "a URL holds no whitespace, quotes, backslashes or"
                             " control characters");
    if (!strncmp(s, "http://", 7))
        rest = s + 7;
    else if (!strncmp(s, "https://", 8))
        rest = s + 8;
    else if (!strncmp(s, "file:///", 8))
        return s[8] ? 0 : fail(why, expected);
    else
        return fail(why, expected);
    if (!*rest || *rest == '/' || *rest == ':' || *rest == '?' || *rest == '#')
        return fail(why, "no host name after the scheme");
    return 0;
}

int check_bridge(const char *s, const char **why)
{
    size_t n = strlen(s);

    if (n == 0 || n > 15)
        return fail(why, "an interface name is 1 to 15 characters");
    if (!strcmp(s, ".") || !strcmp(s, ".."))
        return fail(why, "not an interface name");
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '/' || *c == ',' ||
            *c == '=' || *c == ':' || *c == '"' || *c == '\'' || *c == '\\')
            return fail(why, "an interface name holds no whitespace, `/', `,', `=',"
                             " `:', quotes or backslashes");
    return 0;
}

/* [a-z0-9][a-z0-9-]* with `_' too when underscore, at most 64 bytes. */
static int check_word(const char *s, bool underscore, const char **why)
{
    if (!*s)
        return fail(why, "empty");
    if (strlen(s) > 64)
        return fail(why, "longer than 64 characters");
    if (!((*s >= 'a' && *s <= 'z') || is_digit(*s)))
        return fail(why, underscore ? "expected lower-case letters, digits, `_' and `-', not"
                                      " starting with `-' or `_'"
                                    : "expected lower-case letters, digits and `-', not"
                                      " starting with `-'");
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || is_digit(*c) || *c == '-' || (underscore && *c == '_')))
            return fail(why, underscore ? "expected lower-case letters, digits, `_' and `-'"
                                        : "expected lower-case letters, digits and `-'");
    return 0;
}

int check_name(const char *s, const char **why)
{
    return check_word(s, false, why);
}

int check_arch(const char *s, const char **why)
{
    return check_word(s, true, why);
}

int check_password(const char *s, const char **why)
{
    if (!*s)
        return fail(why, "empty");
    if (strlen(s) > 256)
        return fail(why, "longer than 256 characters");
    if (has_control(s))
        return fail(why, "holds a control character");
    return 0;
}

int check_abs_path(const char *s, const char **why)
{
    if (s[0] != '/')
        return fail(why, "expected an absolute path");
    if (has_control(s))
        return fail(why, "holds a control character");
    return 0;
}

/* ---- ssh public keys ---- */

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decodes base64 [s, s+n) into out (n * 3 / 4 bytes); -1 when malformed. */
static long b64_decode(const char *s, size_t n, unsigned char *out)
{
    size_t o = 0, pad = 0;
    uint32_t acc = 0;

    if (n == 0 || n % 4)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int v;

        if (s[i] == '=') {
            if (i < n - 2)
                return -1;
            pad++;
            v = 0;
        } else {
            if (pad || (v = b64val(s[i])) < 0)
                return -1;
        }
        acc = acc << 6 | (uint32_t)v;
        if (i % 4 == 3) {
            out[o++] = (unsigned char)(acc >> 16);
            out[o++] = (unsigned char)(acc >> 8);
            out[o++] = (unsigned char)acc;
            acc = 0;
        }
    }
    return (long)(o - pad);
}

static const char *const key_types[] = {
    "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
};

/* One line "TYPE BASE64 [COMMENT]": 0 or -EINVAL with *why. */
static int check_key_line(const char *l, const char *end, const char **why)
{
    static const char *const not_key = "expected an ssh public key (KEYTYPE BASE64"
        " [COMMENT], as in ~/.ssh/id_ed25519.pub)";
    const char *t = l, *te, *b, *be;
    unsigned char *blob;
    long n;
    size_t tl;
    bool known = false;

    te = t;
    while (te < end && *te != ' ' && *te != '\t')
        te++;
    tl = (size_t)(te - t);
    for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
        if (strlen(key_types[i]) == tl && !memcmp(key_types[i], t, tl))
            known = true;
    if (!known) {
        if (tl == 7 && !memcmp(t, "ssh-dss", 7))
            return fail(why, "a DSA key, which OpenSSH no longer accepts");
        return fail(why, not_key);
    }
    for (b = te; b < end && (*b == ' ' || *b == '\t'); b++)
        ;
    for (be = b; be < end && *be != ' ' && *be != '\t'; be++)
        ;
    blob = malloc((size_t)(be - b) / 4 * 3 + 3);
    if (!blob)
        return -ENOMEM;
    n = b64_decode(b, (size_t)(be - b), blob);
    if (n < 4 || (size_t)n < 4 + tl ||
        ((uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 | (uint32_t)blob[2] << 8 | blob[3]) != tl ||
        memcmp(blob + 4, t, tl)) {
        free(blob);
        return fail(why, "the key data is not a public key of the type it names");
    }
    free(blob);
    return 0;
}

int check_ssh_key(const char *path, size_t *nkeys_r, const char **why)
{
    char *buf = NULL;
    size_t len = 0, nkeys = 0;
    struct stat st;
    int fd, r;

    *why = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        r = fail(why, "not a regular file");
        goto out;
    }
    if (st.st_size > CHECK_SSH_KEY_MAX) {
        r = fail(why, "too large for a public key file (over 64 KiB)");
        goto out;
    }
    r = fd_read_bounded(fd, CHECK_SSH_KEY_MAX, &buf, &len);
    if (r == -EFBIG)
        r = fail(why, "too large for a public key file (over 64 KiB)");
    if (r)
        goto out;
    if (memchr(buf, '\0', len)) {
        r = fail(why, "a binary file, not an ssh public key");
        goto out;
    }
    for (const char *p = buf, *end = buf + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end, *l = p;

        p = nl ? nl + 1 : end;
        if (le > l && le[-1] == '\r')
            le--;
        while (l < le && (*l == ' ' || *l == '\t'))
            l++;
        if (l == le || *l == '#')
            continue;
        if ((size_t)(le - l) >= 10 && !memcmp(l, "-----BEGIN", 10)) {
            r = fail(why, "a private key; give the public key (the .pub file)");
            goto out;
        }
        if ((r = check_key_line(l, le, why)))
            goto out;
        nkeys++;
    }
    if (!nkeys) {
        r = fail(why, "no key in the file");
        goto out;
    }
    *nkeys_r = nkeys;
    r = 0;
out:
    free(buf);
    close(fd);
    return r;
}
