/*
 * test-check.c - checks of single vm-provision option values
 * (provision/check.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "tap.h"

#define ED25519 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOUs7uW23dc3I3JeM7OcbYeVoHozLshBZUxqa9tXYchc alice@example"
#define ECDSA "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBGSKX0CCdhkk7unn7oG9ASZKS1s1RrwniKRLb8vclWd4w0U8MR5zDENsR6I99GwhSswtdScrUIF0BkmzzMNuukw= bob"
#define RSA "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDIUCzgk/s/4nSK5hbmH4FtjNeuEtp1/Xi/UcRCvM/FO8PQUojfsSd/Y+euS6AyMLSeCduPXV6Tget8v60U8jKCiulbIOqaIVm9mcDNTjSMw0e9uZOMSH1fjEI2KcyYrDo25KHqj7UIx2YJFMr7H5JKDgRl7o0Kn5gMj2LdViprWw=="

static void hostname(const char *s, int good)
{
    const char *why = NULL;
    int rc = check_hostname(s, &why);

    ok(good ? rc == 0 : rc == -EINVAL && why, "host name `%.40s%s' is %s%s%s", s,
       strlen(s) > 40 ? "..." : "", good ? "good" : "bad", why ? ": " : "", why ? why : "");
}

static void mac(const char *s, const char *want)
{
    char out[18] = "";
    const char *why = NULL;
    int rc = check_mac(s, out, &why);

    if (want)
        ok(rc == 0 && !strcmp(out, want), "mac `%s' is %s", s, want);
    else
        ok(rc == -EINVAL && why, "mac `%s' is bad: %s", s, why ? why : "?");
}

static void ip(const char *s, int fam, int prefix)
{
    char out[64] = "";
    const char *why = NULL;
    int f = -1, p = -2, rc = check_ip(s, out, sizeof(out), &f, &p, &why);

    if (fam)
        ok(rc == 0 && f == fam && p == prefix && !strncmp(s, out, strlen(out)),
           "ip `%s': family %d, prefix %d, address %s", s, fam, prefix, out);
    else
        ok(rc == -EINVAL && why, "ip `%s' is bad: %s", s, why ? why : "?");
}

static void netmask(const char *s, int prefix, int fam)
{
    const char *why = NULL;
    int p = -2, f = -1, rc = check_netmask(s, &p, &f, &why);

    if (prefix >= 0)
        ok(rc == 0 && p == prefix && f == fam, "netmask `%s' is /%d", s, prefix);
    else
        ok(rc == -EINVAL && why, "netmask `%s' is bad: %s", s, why ? why : "?");
}

static void simple(int (*fn)(const char *, const char **), const char *what,
                   const char *s, int good)
{
    const char *why = NULL;
    int rc = fn(s, &why);

    ok(good ? rc == 0 : rc == -EINVAL && why, "%s `%s' is %s%s%s", what, s,
       good ? "good" : "bad", why ? ": " : "", why ? why : "");
}

static void sshkey(const char *dir, const char *content, int nkeys, const char *what)
{
    char path[256];
    const char *why = NULL;
    size_t n = 0;
    FILE *f;
    int rc;

    snprintf(path, sizeof(path), "%s/key.pub", dir);
    f = fopen(path, "w");
    fputs(content, f);
    fclose(f);
    rc = check_ssh_key(path, &n, &why);
    if (nkeys)
        ok(rc == 0 && n == (size_t)nkeys, "ssh key file, %s: %d key(s)", what, nkeys);
    else
        ok(rc == -EINVAL && why, "ssh key file, %s: rejected: %s", what, why ? why : "?");
    unlink(path);
}

int main(void)
{
    char long_label[80], long_name[300], dir[] = "/tmp/test-check.XXXXXX";
    const char *why;
    size_t n;

    hostname("web1", 1);
    hostname("web1.example.org", 1);
    hostname("a", 1);
    hostname("Web-1.Example", 1);
    hostname("1web", 1);
    hostname("123.example", 1);
    hostname("", 0);
    hostname("web_1", 0);
    hostname("-web", 0);
    hostname("web-", 0);
    hostname("web..example", 0);
    hostname(".web", 0);
    hostname("web.", 0);
    hostname("web 1", 0);
    hostname("192.0.2.1", 0);
    hostname("host.123", 0);
    memset(long_label, 'a', 64);
    long_label[64] = '\0';
    hostname(long_label, 0);
    long_label[63] = '\0';
    hostname(long_label, 1);
    /* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 */
    memset(long_name, 'a', 253);
    long_name[63] = long_name[127] = long_name[191] = '.';
    long_name[253] = '\0';
    hostname(long_name, 1);
    long_name[253] = 'a';
    long_name[254] = '\0';
    hostname(long_name, 0);

    mac("00:16:3e:12:34:56", "00:16:3e:12:34:56");
    mac("00:16:3E:AB:CD:EF", "00:16:3e:ab:cd:ef");
    mac("0:16:3e:1:2:3", "00:16:3e:01:02:03");
    mac("00-16-3e-12-34-56", "00:16:3e:12:34:56");
    mac("02:00:00:00:00:01", "02:00:00:00:00:01");
    mac("01:00:5e:00:00:01", NULL);
    mac("ff:ff:ff:ff:ff:ff", NULL);
    mac("00:00:00:00:00:00", NULL);
    mac("00:16:3e:12:34", NULL);
    mac("00:16:3e:12:34:56:78", NULL);
    mac("00:16-3e:12:34:56", NULL);
    mac("000:16:3e:12:34:56", NULL);
    mac("00:16:3e:12:34:5g", NULL);
    mac("", NULL);

    ip("192.0.2.10", AF_INET, -1);
    ip("192.0.2.10/24", AF_INET, 24);
    ip("192.0.2.10/0", AF_INET, 0);
    ip("2001:db8::10", AF_INET6, -1);
    ip("2001:db8::10/64", AF_INET6, 64);
    ip("192.0.2", 0, 0);
    ip("192.0.2.256", 0, 0);
    ip("192.0.2.10/33", 0, 0);
    ip("192.0.2.10/", 0, 0);
    ip("192.0.2.10/024", 0, 0);
    ip("2001:db8::10/129", 0, 0);
    ip("web1", 0, 0);
    ip("", 0, 0);

    netmask("255.255.255.0", 24, AF_INET);
    netmask("255.255.255.255", 32, AF_INET);
    netmask("0.0.0.0", 0, AF_INET);
    netmask("255.255.240.0", 20, AF_INET);
    netmask("/24", 24, 0);
    netmask("24", 24, 0);
    netmask("/64", 64, 0);
    netmask("255.0.255.0", -1, 0);
    netmask("255.255.255.1", -1, 0);
    netmask("/129", -1, 0);
    netmask("/", -1, 0);
    netmask("abc", -1, 0);

    simple(check_url, "url", "http://mirror.example/debian", 1);
    simple(check_url, "url", "https://mirror.example:8443/debian/", 1);
    simple(check_url, "url", "file:///srv/mirror/debian", 1);
    simple(check_url, "url", "ftp://mirror.example/debian", 0);
    simple(check_url, "url", "mirror.example/debian", 0);
    simple(check_url, "url", "http://", 0);
    simple(check_url, "url", "http:///debian", 0);
    simple(check_url, "url", "file:///", 0);
    simple(check_url, "url", "http://mirror.example/deb ian", 0);
    simple(check_url, "url", "http://mirror.example/\"x", 0);

    simple(check_bridge, "bridge", "br0", 1);
    simple(check_bridge, "bridge", "xenbr0", 1);
    simple(check_bridge, "bridge", "virbr-a.10", 1);
    simple(check_bridge, "bridge", "", 0);
    simple(check_bridge, "bridge", "a-very-long-name", 0);
    simple(check_bridge, "bridge", "br/0", 0);
    simple(check_bridge, "bridge", "br,0", 0);
    simple(check_bridge, "bridge", "br=0", 0);
    simple(check_bridge, "bridge", "br 0", 0);
    simple(check_bridge, "bridge", "..", 0);

    simple(check_name, "name", "bookworm", 1);
    simple(check_name, "name", "amd64", 1);
    simple(check_name, "name", "web-server", 1);
    simple(check_name, "name", "", 0);
    simple(check_name, "name", "Bookworm", 0);
    simple(check_name, "name", "-x", 0);
    simple(check_name, "name", "../etc", 0);
    simple(check_name, "name", "a/b", 0);

    simple(check_password, "password", "s3cret with spaces", 1);
    simple(check_password, "password", "", 0);
    simple(check_password, "password", "tab\there", 0);

    simple(check_abs_path, "path", "/srv/x", 1);
    simple(check_abs_path, "path", "srv/x", 0);
    simple(check_abs_path, "path", "/srv/\tx", 0);

    if (!ok(mkdtemp(dir) != NULL, "temporary directory"))
        return tap_done();
    sshkey(dir, ED25519 "\n", 1, "ed25519");
    sshkey(dir, "# keys\n\n" ED25519 "\r\n" ECDSA "\n" RSA, 3,
           "ed25519, ecdsa, rsa (no comment, no final newline), comments, CRLF");
    sshkey(dir, "", 0, "empty");
    sshkey(dir, "# only a comment\n", 0, "no key");
    sshkey(dir, "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
           "-----END OPENSSH PRIVATE KEY-----\n", 0, "a private key");
    sshkey(dir, "ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAAAgQDIUCzgk/s/4nSK5hbmH4FtjNeuEt"
           "p1/Xi/UcRCvM/FO8PQUojfsSd/Y+euS6AyMLSeCduPXV6Tget8v60U8jKCiulbIOqaIVm9mcDNTjS"
           "Mw0e9uZOMSH1fjEI2KcyYrDo25KHqj7UIx2YJFMr7H5JKDgRl7o0Kn5gMj2LdViprWw== x\n", 0,
           "a type that does not match the key data");
    sshkey(dir, "ssh-ed25519 not-base64!\n", 0, "bad base64");
    sshkey(dir, "ssh-ed25519\n", 0, "no key data");
    sshkey(dir, "ssh-dss AAAAB3NzaC1kc3MAAACBAP\n", 0, "DSA");
    sshkey(dir, "root:x:0:0:root:/root:/bin/bash\n", 0, "/etc/passwd");
    sshkey(dir, ED25519 "\nnot a key\n", 0, "a key, then garbage");
    is_int(check_ssh_key("/nonexistent/key.pub", &n, &why), -ENOENT,
           "a missing key file: -ENOENT");
    ok(why == NULL, "without a why");
    is_int(check_ssh_key(dir, &n, &why), -EINVAL, "a directory is not a key file");
    rmdir(dir);
    return tap_done();
}
