/*
 * test-identity.c - personalising a guest root (provision/identity.c)
 * against temporary directory roots: every file's content and mode in
 * each network style, the shadow edit, keys, machine-id, the ssh host
 * keys (checked with ssh-keygen -l), symlinks that try to leave the
 * root, and the password helpers.
 */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "identity.h"
#include "proc.h"
#include "tap.h"
#include "testutil.h"

static char base[] = "/tmp/vmkit-test-identity-XXXXXX";
static int nroot;
#define rm_rf(path) test_rm_tree(path)
#define at(dir, rel) test_path((dir), (rel))
#define mkdirs(dir, rel) test_mkdirs((dir), (rel))
#define link_to(dir, rel, target) test_link((dir), (rel), (target))

/* ---- building roots ---- */

static void put(const char *dir, const char *rel, const char *text, mode_t mode)
{
    char parent[PATH_MAX], *slash;
    FILE *f;

    snprintf(parent, sizeof(parent), "%s", rel);
    if ((slash = strrchr(parent, '/')) && slash != parent) {
        *slash = '\0';
        mkdirs(dir, parent);
    }
    unlink(at(dir, rel));
    if (!(f = fopen(at(dir, rel), "w"))) {
        printf("# cannot write %s\n", at(dir, rel));
        return;
    }
    fputs(text, f);
    fclose(f);
    chmod(at(dir, rel), mode);
}

/* The whole file under dir, or NULL. */
static char *slurp(const char *dir, const char *rel, size_t *len_r)
{
    FILE *f = fopen(at(dir, rel), "r");
    char *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (!f)
        return NULL;
    do {
        if (cap - len < 4096) {
            cap = cap ? 2 * cap : 8192;
            buf = realloc(buf, cap + 1);
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    fclose(f);
    buf[len] = '\0';
    if (len_r)
        *len_r = len;
    return buf;
}

/* Checks the file's text; frees it. */
static void is_file(const char *dir, const char *rel, const char *want, const char *what)
{
    char *got = slurp(dir, rel, NULL);

    is_str(got, want, "%s: %s", what, rel);
    free(got);
}

static int mode_of(const char *dir, const char *rel)
{
    struct stat st;

    return lstat(at(dir, rel), &st) ? -1 : (int)(st.st_mode & 07777);
}

static bool is_reg(const char *dir, const char *rel)
{
    struct stat st;

    return !lstat(at(dir, rel), &st) && S_ISREG(st.st_mode);
}

static bool absent(const char *dir, const char *rel)
{
    struct stat st;

    return lstat(at(dir, rel), &st) && errno == ENOENT;
}

/* The target of a symlink (static), or "" */
static const char *link_of(const char *dir, const char *rel)
{
    static char buf[PATH_MAX];
    ssize_t n = readlink(at(dir, rel), buf, sizeof(buf) - 1);

    buf[n < 0 ? 0 : n] = '\0';
    return buf;
}

static const char shadow_text[] =
    "root:*:19700:0:99999:7:::\n"
    "daemon:*:19700:0:99999:7:::\n"
    "bin:*:19700:0:99999:7:::\n"
    "user:$y$j9T$abc$def:19700:0:99999:7:::\n";

enum {
    R_SYSTEMD = 0x1,        /* /lib/systemd/system with networkd and its socket */
    R_USRLIB = 0x2,         /* networkd (only) in /usr/lib/systemd/system */
    R_SSH = 0x4,            /* /etc/ssh with old host keys */
    R_DBUS = 0x8,           /* /var/lib/dbus/machine-id, a regular file */
};

/* A new guest root (caller frees the path): /etc with shadow (root:42
 * 0640) and resolv.conf, /root, /var/lib/systemd, and what flags add. */
static char *make_root(unsigned flags)
{
    char *dir = NULL;

    if (asprintf(&dir, "%s/root%d", base, nroot++) < 0)
        abort();
    mkdir(dir, 0755);
    put(dir, "/etc/shadow", shadow_text, 0640);
    chown(at(dir, "/etc/shadow"), 0, 42);
    put(dir, "/etc/resolv.conf", "nameserver 10.0.0.1\n", 0644);
    mkdirs(dir, "/root");
    chmod(at(dir, "/root"), 0700);
    mkdirs(dir, "/var/lib/systemd");
    if (flags & R_SYSTEMD) {
        put(dir, "/lib/systemd/system/systemd-networkd.service", "[Unit]\n", 0644);
        put(dir, "/lib/systemd/system/systemd-networkd.socket", "[Unit]\n", 0644);
        mkdirs(dir, "/etc/systemd/system");
    }
    if (flags & R_USRLIB)
        put(dir, "/usr/lib/systemd/system/systemd-networkd.service", "[Unit]\n", 0644);
    if (flags & R_SSH) {
        put(dir, "/etc/ssh/sshd_config", "PermitRootLogin prohibit-password\n", 0644);
        put(dir, "/etc/ssh/ssh_host_dsa_key", "old dsa\n", 0600);
        put(dir, "/etc/ssh/ssh_host_dsa_key.pub", "old dsa pub\n", 0644);
        put(dir, "/etc/ssh/ssh_host_rsa_key", "old rsa\n", 0600);
        put(dir, "/etc/ssh/ssh_host_rsa_key.pub", "old rsa pub\n", 0644);
        put(dir, "/etc/ssh/ssh_host_rsa_key-cert.pub", "old cert\n", 0644);
    }
    if (flags & R_DBUS)
        put(dir, "/var/lib/dbus/machine-id", "0123456789abcdef0123456789abcdef\n", 0444);
    return dir;
}

static struct identity base_id(void)
{
    struct identity id = {
        .hostname = "web1",
        .network_style = "ifupdown",
        .iface = "eth0",
        .dhcp = true,
    };

    return id;
}

static void dump(const struct diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        printf("#   %s: %s\n", d->v[i].file ? d->v[i].file : "-", d->v[i].msg);
}

/* Applies id to dir; returns the result, the messages in d (caller
 * disposes). */
static int apply(const struct identity *id, const char *dir, struct diag *d)
{
    diag_init(d);
    return identity_apply_dir(id, dir, d);
}

/* Applies id to dir, expecting success. */
static void apply_ok(const struct identity *id, const char *dir, const char *what)
{
    struct diag d;
    int rc = apply(id, dir, &d);

    if (!ok(rc == 0 && d.nerrors == 0, "applied: %s", what))
        dump(&d);
    diag_dispose(&d);
}

/* Applies id to dir, expecting one error whose file is dir+file (or no
 * file when file is NULL) and whose message holds want. */
static void apply_fails(const struct identity *id, const char *dir, const char *file,
                        const char *want, const char *what)
{
    struct diag d;
    int rc = apply(id, dir, &d);
    bool found = false;

    for (size_t i = 0; i < d.n; i++)
        if (d.v[i].level == DIAG_ERROR && strstr(d.v[i].msg, want) &&
            (file ? d.v[i].file && !strcmp(d.v[i].file, at(dir, file)) : !d.v[i].file))
            found = true;
    ok(rc < 0, "refused: %s", what);
    if (!ok(d.nerrors == 1 && found, "one error%s%s: %s", file ? " naming " : "",
            file ? file : "", want))
        dump(&d);
    diag_dispose(&d);
}

/* ---- host names and hosts ---- */

static void test_host_files(void)
{
    char *dir = make_root(0);
    struct identity id = base_id();

    apply_ok(&id, dir, "dhcp");
    is_file(dir, "/etc/hostname", "web1\n", "host name");
    is_file(dir, "/etc/mailname", "web1\n", "mail name");
    is_file(dir, "/etc/hosts",
            "127.0.0.1\tlocalhost\n"
            "127.0.1.1\tweb1\n"
            "\n"
            "# The following lines are desirable for IPv6 capable hosts\n"
            "::1     localhost ip6-localhost ip6-loopback\n"
            "ff02::1 ip6-allnodes\n"
            "ff02::2 ip6-allrouters\n", "DHCP hosts");
    is_int(mode_of(dir, "/etc/hostname"), 0644, "hostname 0644");
    is_int(mode_of(dir, "/etc/hosts"), 0644, "hosts 0644");
    is_file(dir, "/etc/resolv.conf", "nameserver 10.0.0.1\n",
            "without nameservers resolv.conf is untouched");
    free(dir);

    dir = make_root(0);
    id.hostname = "db.example.org";
    id.dhcp = false;
    id.ip = "192.0.2.10";
    id.prefix = 24;
    apply_ok(&id, dir, "static, with a domain");
    is_file(dir, "/etc/hostname", "db\n", "the short name in hostname");
    is_file(dir, "/etc/mailname", "db.example.org\n", "the whole name in mailname");
    is_file(dir, "/etc/hosts",
            "127.0.0.1\tlocalhost\n"
            "192.0.2.10\tdb.example.org\tdb\n"
            "\n"
            "# The following lines are desirable for IPv6 capable hosts\n"
            "::1     localhost ip6-localhost ip6-loopback\n"
            "ff02::1 ip6-allnodes\n"
            "ff02::2 ip6-allrouters\n", "static hosts: the address, name and short name");
    free(dir);
}

/* ---- network styles ---- */

static void test_ifupdown(void)
{
    char *dir = make_root(0);
    struct identity id = base_id();

    apply_ok(&id, dir, "ifupdown dhcp");
    is_file(dir, "/etc/network/interfaces",
            "# Written by vm-provision: the loopback and eth0.  See interfaces(5).\n"
            "\n"
            "source /etc/network/interfaces.d/*\n"
            "\n"
            "auto lo\n"
            "iface lo inet loopback\n"
            "\n"
            "auto eth0\n"
            "iface eth0 inet dhcp\n", "ifupdown dhcp");
    is_int(mode_of(dir, "/etc/network"), 0755, "/etc/network made 0755");
    ok(absent(dir, "/etc/systemd/network"), "no networkd file");
    free(dir);

    dir = make_root(0);
    link_to(dir, "/etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf");
    id.dhcp = false;
    id.ip = "192.0.2.10";
    id.prefix = 24;
    id.gateway = "192.0.2.1";
    id.nameservers = "192.0.2.53 2001:db8::53";
    id.mac = "00:16:3E:01:02:03";
    apply_ok(&id, dir, "ifupdown static");
    is_file(dir, "/etc/network/interfaces",
            "# Written by vm-provision: the loopback and eth0.  See interfaces(5).\n"
            "\n"
            "source /etc/network/interfaces.d/*\n"
            "\n"
            "auto lo\n"
            "iface lo inet loopback\n"
            "\n"
            "auto eth0\n"
            "iface eth0 inet static\n"
            "\taddress 192.0.2.10/24\n"
            "\tgateway 192.0.2.1\n", "ifupdown static (no dns-nameservers)");
    ok(is_reg(dir, "/etc/resolv.conf"), "ifupdown: a resolved symlink is replaced by a file");
    is_file(dir, "/etc/resolv.conf",
            "# Written by vm-provision.\n"
            "nameserver 192.0.2.53\n"
            "nameserver 2001:db8::53\n", "the nameservers");
    is_int(mode_of(dir, "/etc/resolv.conf"), 0644, "resolv.conf 0644");
    free(dir);

    dir = make_root(0);
    id.ip = "2001:db8::10";
    id.prefix = 64;
    id.gateway = "2001:db8::1";
    id.nameservers = NULL;
    apply_ok(&id, dir, "ifupdown static IPv6");
    is_file(dir, "/etc/network/interfaces",
            "# Written by vm-provision: the loopback and eth0.  See interfaces(5).\n"
            "\n"
            "source /etc/network/interfaces.d/*\n"
            "\n"
            "auto lo\n"
            "iface lo inet loopback\n"
            "\n"
            "auto eth0\n"
            "iface eth0 inet6 static\n"
            "\taddress 2001:db8::10/64\n"
            "\tgateway 2001:db8::1\n", "ifupdown static IPv6");
    is_file(dir, "/etc/resolv.conf", "nameserver 10.0.0.1\n",
            "static without nameservers: resolv.conf untouched");
    free(dir);
}

static void check_networkd_enabled(const char *dir, const char *unitdir, bool socket)
{
    char want[PATH_MAX];

    snprintf(want, sizeof(want), "%s/systemd-networkd.service", unitdir);
    is_str(link_of(dir, "/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"),
           want, "networkd wanted by multi-user.target");
    is_str(link_of(dir, "/etc/systemd/system/dbus-org.freedesktop.network1.service"), want,
           "networkd's alias");
    if (socket) {
        snprintf(want, sizeof(want), "%s/systemd-networkd.socket", unitdir);
        is_str(link_of(dir, "/etc/systemd/system/sockets.target.wants/systemd-networkd.socket"),
               want, "networkd's socket wanted by sockets.target");
    } else {
        ok(absent(dir, "/etc/systemd/system/sockets.target.wants"),
           "no socket link when the guest has no socket unit");
    }
    ok(absent(dir, "/etc/systemd/system/sysinit.target.wants") &&
       absent(dir, "/etc/systemd/system/network-online.target.wants"),
       "no links for units the guest lacks (generator, wait-online)");
}

static void test_networkd(void)
{
    char *dir = make_root(R_SYSTEMD);
    struct identity id = base_id();

    id.network_style = "networkd";
    apply_ok(&id, dir, "networkd dhcp");
    is_file(dir, "/etc/systemd/network/10-eth0.network",
            "# Written by vm-provision.\n"
            "[Match]\n"
            "Name=eth0\n"
            "\n"
            "[Network]\n"
            "DHCP=ipv4\n", "networkd dhcp");
    is_int(mode_of(dir, "/etc/systemd/network/10-eth0.network"), 0644, "0644");
    check_networkd_enabled(dir, "/lib/systemd/system", true);
    ok(absent(dir, "/etc/network/interfaces"), "no ifupdown file");
    free(dir);

    dir = make_root(R_SYSTEMD);
    put(dir, "/lib/systemd/system/systemd-networkd-wait-online.service", "[Unit]\n", 0644);
    link_to(dir, "/etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf");
    id.dhcp = false;
    id.ip = "192.0.2.10";
    id.prefix = 24;
    id.gateway = "192.0.2.1";
    id.nameservers = "192.0.2.53 192.0.2.54";
    id.mac = "00:16:3E:0A:0B:0C";
    apply_ok(&id, dir, "networkd static, by MAC");
    is_file(dir, "/etc/systemd/network/10-eth0.network",
            "# Written by vm-provision.\n"
            "[Match]\n"
            "MACAddress=00:16:3e:0a:0b:0c\n"
            "\n"
            "[Network]\n"
            "Address=192.0.2.10/24\n"
            "Gateway=192.0.2.1\n"
            "DNS=192.0.2.53 192.0.2.54\n", "networkd static");
    is_str(link_of(dir, "/etc/resolv.conf"), "../run/systemd/resolve/stub-resolv.conf",
           "networkd: a systemd-resolved resolv.conf symlink is kept");
    is_str(link_of(dir, "/etc/systemd/system/network-online.target.wants/"
                   "systemd-networkd-wait-online.service"),
           "/lib/systemd/system/systemd-networkd-wait-online.service",
           "wait-online linked when the guest has it");
    free(dir);

    dir = make_root(R_SYSTEMD);
    link_to(dir, "/etc/resolv.conf", "/etc/resolvconf/run/resolv.conf");
    apply_ok(&id, dir, "networkd static, resolv.conf from resolvconf");
    ok(is_reg(dir, "/etc/resolv.conf"), "networkd: another symlink is replaced by a file");
    is_file(dir, "/etc/resolv.conf",
            "# Written by vm-provision.\n"
            "nameserver 192.0.2.53\n"
            "nameserver 192.0.2.54\n", "the nameservers");
    free(dir);

    dir = make_root(0);
    apply_fails(&id, dir, "/lib/systemd/system/systemd-networkd.service",
                "no systemd-networkd", "networkd in a guest without it");
    ok(absent(dir, "/etc/hostname") && absent(dir, "/etc/machine-id"),
       "nothing written when the edits cannot be computed");
    free(dir);
}

static void test_netplan(void)
{
    char *dir = make_root(R_USRLIB);
    struct identity id = base_id();

    id.network_style = "netplan";
    apply_ok(&id, dir, "netplan dhcp");
    is_file(dir, "/etc/netplan/50-vmkit.yaml",
            "# Written by vm-provision.\n"
            "network:\n"
            "  version: 2\n"
            "  renderer: networkd\n"
            "  ethernets:\n"
            "    eth0:\n"
            "      dhcp4: true\n", "netplan dhcp");
    is_int(mode_of(dir, "/etc/netplan/50-vmkit.yaml"), 0600, "netplan file 0600");
    check_networkd_enabled(dir, "/usr/lib/systemd/system", false);
    free(dir);

    dir = make_root(R_USRLIB);
    id.dhcp = false;
    id.ip = "192.0.2.10";
    id.prefix = 24;
    id.gateway = "192.0.2.1";
    id.nameservers = "192.0.2.53  2001:db8::53";
    id.mac = "00:16:3e:0a:0b:0c";
    apply_ok(&id, dir, "netplan static");
    is_file(dir, "/etc/netplan/50-vmkit.yaml",
            "# Written by vm-provision.\n"
            "network:\n"
            "  version: 2\n"
            "  renderer: networkd\n"
            "  ethernets:\n"
            "    eth0:\n"
            "      match:\n"
            "        macaddress: \"00:16:3e:0a:0b:0c\"\n"
            "      addresses:\n"
            "        - \"192.0.2.10/24\"\n"
            "      routes:\n"
            "        - to: default\n"
            "          via: \"192.0.2.1\"\n"
            "      nameservers:\n"
            "        addresses: [\"192.0.2.53\", \"2001:db8::53\"]\n", "netplan static");
    is_file(dir, "/etc/resolv.conf",
            "# Written by vm-provision.\n"
            "nameserver 192.0.2.53\n"
            "nameserver 2001:db8::53\n", "netplan: resolv.conf (a file before)");
    free(dir);

    dir = make_root(0);
    id.network_style = "none";
    apply_ok(&id, dir, "network style none");
    ok(absent(dir, "/etc/netplan") && absent(dir, "/etc/network") &&
       absent(dir, "/etc/systemd/network"), "no network files with style none");
    free(dir);
}

/* ---- the Red Hat family's styles ---- */

static void test_redhat_styles(void)
{
    char *dir = make_root(R_USRLIB), *text;
    struct identity id = base_id();

    id.network_style = "ifcfg";
    apply_ok(&id, dir, "ifcfg dhcp");
    is_file(dir, "/etc/sysconfig/network", "# Written by vm-provision.\nNETWORKING=yes\n",
            "ifcfg dhcp");
    is_file(dir, "/etc/sysconfig/network-scripts/ifcfg-eth0",
            "# Written by vm-provision.\nDEVICE=eth0\nNAME=eth0\nTYPE=Ethernet\nONBOOT=yes\n"
            "BOOTPROTO=dhcp\n", "ifcfg dhcp");
    free(dir);

    dir = make_root(R_USRLIB);
    id.dhcp = false;
    id.ip = "192.0.2.10";
    id.prefix = 24;
    id.gateway = "192.0.2.1";
    id.nameservers = "192.0.2.53 192.0.2.54";
    id.mac = "00:16:3e:0a:0b:0c";
    apply_ok(&id, dir, "ifcfg static");
    is_file(dir, "/etc/sysconfig/network-scripts/ifcfg-eth0",
            "# Written by vm-provision.\nDEVICE=eth0\nNAME=eth0\nTYPE=Ethernet\nONBOOT=yes\n"
            "HWADDR=00:16:3e:0a:0b:0c\nBOOTPROTO=none\nIPADDR=192.0.2.10\nPREFIX=24\n"
            "GATEWAY=192.0.2.1\nDNS1=192.0.2.53\nDNS2=192.0.2.54\n", "ifcfg static");
    free(dir);

    dir = make_root(R_USRLIB);
    id.network_style = "nm-keyfile";
    apply_ok(&id, dir, "nm-keyfile static");
    text = slurp(dir, "/etc/NetworkManager/system-connections/eth0.nmconnection", NULL);
    ok(text && strstr(text, "[connection]\nid=eth0\nuuid=") &&
       strstr(text, "\ntype=ethernet\ninterface-name=eth0\nautoconnect=true\n") &&
       strstr(text, "[ethernet]\nmac-address=00:16:3e:0a:0b:0c\n") &&
       strstr(text, "[ipv4]\nmethod=manual\naddress1=192.0.2.10/24,192.0.2.1\n"
                    "dns=192.0.2.53;192.0.2.54;\n") &&
       strstr(text, "[ipv6]\nmethod=auto\n"), "nm-keyfile: the static connection");
    if (text && !strstr(text, "uuid="))
        printf("#   got: %s\n", text);
    is_int(mode_of(dir, "/etc/NetworkManager/system-connections/eth0.nmconnection"), 0600,
           "nm-keyfile: 0600, as NetworkManager insists");
    is_int(mode_of(dir, "/etc/NetworkManager/system-connections"), 0700,
           "nm-keyfile: in a 0700 directory");
    free(text);
    free(dir);

    dir = make_root(R_USRLIB);
    id.dhcp = true;
    id.mac = NULL;
    id.nameservers = NULL;
    apply_ok(&id, dir, "nm-keyfile dhcp");
    text = slurp(dir, "/etc/NetworkManager/system-connections/eth0.nmconnection", NULL);
    ok(text && strstr(text, "[ipv4]\nmethod=auto\n") && !strstr(text, "mac-address"),
       "nm-keyfile: dhcp, matched by name");
    free(text);
    free(dir);

    {
        char *hash = NULL;

        is_int(identity_hash_password("el7 root", "sha512", &hash), 0, "sha512 hash");
        ok(hash && !strncmp(hash, "$6$", 3) && !strcmp(crypt("el7 root", hash), hash),
           "sha512: $6$, verifies with crypt() (what el7's glibc and busybox check)");
        free(hash);
        is_int(identity_hash_password("x", "md5", &hash), -EINVAL, "an unknown method refused");
    }
}

/* ---- machine-id, random seed ---- */

static bool machine_id_ok(const char *text)
{
    if (strlen(text) != 33 || text[32] != '\n')
        return false;
    for (int i = 0; i < 32; i++)
        if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')))
            return false;
    return text[12] == '4' && strchr("89ab", text[16]);
}

static void test_machine_id(void)
{
    char *dir = make_root(R_DBUS);
    struct identity id = base_id();
    char *first, *second;
    size_t len = 0;
    char *seed;

    apply_ok(&id, dir, "machine-id");
    first = slurp(dir, "/etc/machine-id", NULL);
    ok(first && machine_id_ok(first), "machine-id: 32 lower-case hex digits (UUID v4), newline"
       " (%.32s)", first ? first : "none");
    is_int(mode_of(dir, "/etc/machine-id"), 0444, "machine-id 0444");
    is_str(link_of(dir, "/var/lib/dbus/machine-id"), "/etc/machine-id",
           "dbus's machine-id becomes a symlink to /etc/machine-id");
    seed = slurp(dir, "/var/lib/systemd/random-seed", &len);
    is_int(len, 512, "random seed: 512 bytes");
    is_int(mode_of(dir, "/var/lib/systemd/random-seed"), 0600, "random seed 0600");
    apply_ok(&id, dir, "again");
    second = slurp(dir, "/etc/machine-id", NULL);
    ok(first && second && strcmp(first, second), "a fresh machine-id each time");
    free(first);
    free(second);
    free(seed);
    free(dir);

    dir = make_root(0);
    rmdir(at(dir, "/var/lib/systemd"));
    apply_ok(&id, dir, "a guest without /var/lib/systemd and dbus");
    ok(absent(dir, "/var/lib/systemd") && absent(dir, "/var/lib/dbus"),
       "no random seed and no dbus machine-id made");
    free(dir);
}

/* ---- root's password and keys ---- */

static void test_shadow(void)
{
    char *dir = make_root(0), *hash = NULL, *text;
    struct identity id = base_id();
    struct stat st;
    int rc;

    apply_ok(&id, dir, "no password");
    is_file(dir, "/etc/shadow", shadow_text, "locked root (`*') as Debian's");

    rc = identity_hash_password("correct horse", NULL, &hash);
    is_int(rc, 0, "password hashed");
    ok(hash && !strncmp(hash, "$y$", 3), "yescrypt (%s)", hash ? hash : "none");
    id.password_hash = hash;
    apply_ok(&id, dir, "a password");
    text = slurp(dir, "/etc/shadow", NULL);
    {
        char want[1024];

        snprintf(want, sizeof(want), "root:%s:19700:0:99999:7:::\n%s", hash,
                 strchr(shadow_text, '\n') + 1);
        is_str(text, want, "root's hash set, every other line and field kept");
    }
    ok(!lstat(at(dir, "/etc/shadow"), &st) && (st.st_mode & 07777) == 0640 &&
       st.st_uid == 0 && st.st_gid == 42, "shadow's mode 0640 and owner root:42 kept");
    if (text && hash) {
        char field[512];
        const char *h, *got;

        h = text + 5;
        snprintf(field, sizeof(field), "%.*s", (int)strcspn(h, ":"), h);
        got = crypt("correct horse", field);
        ok(got && !strcmp(got, field), "the shadow hash verifies with crypt()");
        got = crypt("wrong horse", field);
        ok(!got || strcmp(got, field), "a wrong password does not");
    }
    free(text);
    free(dir);

    dir = make_root(0);
    put(dir, "/etc/shadow", "daemon:*:1::::::\nroot:old", 0600);
    apply_ok(&id, dir, "a short root line without a newline at the end");
    text = slurp(dir, "/etc/shadow", NULL);
    {
        char want[512];

        snprintf(want, sizeof(want), "daemon:*:1::::::\nroot:%s", hash);
        is_str(text, want, "the last line edited, still without a newline");
    }
    is_int(mode_of(dir, "/etc/shadow"), 0600, "its mode 0600 kept");
    free(text);
    free(dir);

    dir = make_root(0);
    put(dir, "/etc/shadow", "daemon:*:1::::::\nrooter:*:1::::::\n", 0640);
    apply_fails(&id, dir, "/etc/shadow", "no line for root", "a shadow without root");
    ok(absent(dir, "/etc/hostname"), "nothing written");
    free(dir);

    dir = make_root(0);
    unlink(at(dir, "/etc/shadow"));
    apply_fails(&id, dir, "/etc/shadow", "absent", "a guest without a shadow file");
    free(dir);
    free(hash);
}

static void test_authorized_keys(void)
{
    char *dir = make_root(0);
    struct identity id = base_id();

    id.authorized_keys = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample one@host\n"
                         "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampl2 two@host";
    rmdir(at(dir, "/root"));
    apply_ok(&id, dir, "authorized keys, no /root");
    is_int(mode_of(dir, "/root"), 0700, "/root made 0700");
    is_int(mode_of(dir, "/root/.ssh"), 0700, "/root/.ssh 0700");
    is_int(mode_of(dir, "/root/.ssh/authorized_keys"), 0600, "authorized_keys 0600");
    is_file(dir, "/root/.ssh/authorized_keys",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample one@host\n"
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampl2 two@host\n",
            "the keys, a newline added at the end");
    free(dir);

    dir = make_root(0);
    id.authorized_keys = NULL;
    apply_ok(&id, dir, "no keys");
    ok(absent(dir, "/root/.ssh"), "no .ssh without keys");
    free(dir);
}

/* ---- ssh host keys ---- */

/* Runs argv; its stdout (first 4 KiB) in out.  The exit status, or -1. */
static int run_capture(char *const argv[], char *out, size_t size)
{
    char path[PATH_MAX];
    struct proc_opts o;
    int fd, st, n;

    snprintf(path, sizeof(path), "%s/capture", base);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    proc_opts_init(&o);
    o.stdout_fd = fd;
    o.stderr_fd = PROC_NULL;
    if (fd < 0 || proc_run(argv[0], argv, &o, 60000, &st)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    n = (int)pread(fd, out, size - 1, 0);
    out[n < 0 ? 0 : n] = '\0';
    close(fd);
    unlink(path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ssh-keygen -l -f on the guest's key; the fingerprint line in out. */
static bool key_valid(const char *dir, const char *rel, char *out, size_t size)
{
    char path[PATH_MAX];
    char *argv[] = { (char *)"ssh-keygen", (char *)"-l", (char *)"-f", path, NULL };

    snprintf(path, sizeof(path), "%s", at(dir, rel));
    return run_capture(argv, out, size) == 0;
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_host_keys(void)
{
    static const struct {
        const char *type, *upper, *bits;
    } types[] = { { "ed25519", "ED25519", "256" }, { "ecdsa", "ECDSA", "256" },
                  { "rsa", "RSA", "3072" } };
    char *dir = make_root(R_SSH);
    struct identity id = base_id();
    char first[3][512], fp[512], rel[128];
    double t0, t1, t2;

    id.ssh_host_keys = true;
    t0 = now();
    apply_ok(&id, dir, "with ssh host keys");
    t1 = now();
    ok(absent(dir, "/etc/ssh/ssh_host_dsa_key") && absent(dir, "/etc/ssh/ssh_host_dsa_key.pub") &&
       absent(dir, "/etc/ssh/ssh_host_rsa_key-cert.pub"),
       "old host keys removed (dsa, a certificate)");
    is_file(dir, "/etc/ssh/sshd_config", "PermitRootLogin prohibit-password\n",
            "sshd_config untouched");
    for (int i = 0; i < 3; i++) {
        char want[64];

        snprintf(rel, sizeof(rel), "/etc/ssh/ssh_host_%s_key", types[i].type);
        is_int(mode_of(dir, rel), 0600, "%s private 0600", types[i].type);
        ok(key_valid(dir, rel, first[i], sizeof(first[i])), "%s private key valid: %.60s",
           types[i].type, first[i]);
        snprintf(want, sizeof(want), "%s SHA256:", types[i].bits);
        ok(!strncmp(first[i], want, strlen(want)) && strstr(first[i], " root@web1 (") &&
           strstr(first[i], types[i].upper), "%s: %s bits, comment root@web1", types[i].type,
           types[i].bits);
        snprintf(rel, sizeof(rel), "/etc/ssh/ssh_host_%s_key.pub", types[i].type);
        is_int(mode_of(dir, rel), 0644, "%s public 0644", types[i].type);
        ok(key_valid(dir, rel, fp, sizeof(fp)) && !strcmp(fp, first[i]),
           "%s public key matches the private one", types[i].type);
    }
    apply_ok(&id, dir, "host keys again");
    t2 = now();
    for (int i = 0; i < 3; i++) {
        snprintf(rel, sizeof(rel), "/etc/ssh/ssh_host_%s_key", types[i].type);
        ok(key_valid(dir, rel, fp, sizeof(fp)) && strcmp(fp, first[i]),
           "%s key regenerated (a new fingerprint)", types[i].type);
    }
    printf("# identity with three ssh host keys: %.3f s, then %.3f s\n", t1 - t0, t2 - t1);
    free(dir);

    dir = make_root(0);
    apply_ok(&id, dir, "host keys for a guest without /etc/ssh");
    ok(absent(dir, "/etc/ssh"), "no /etc/ssh made");
    free(dir);
}

/* ---- symlinks that lead out of the root ---- */

static void test_escapes(void)
{
    char outside[256], victim[PATH_MAX], target[PATH_MAX];
    char *dir, *text;
    struct identity id = base_id();
    struct identity_root r;
    struct diag d;

    snprintf(outside, sizeof(outside), "%s/outside", base);
    put(base, "outside/victim", "precious\n", 0644);
    put(base, "outside/etc/shadow", "root:precious:1::::::\n", 0640);
    put(base, "outside/etc/hostname", "precious\n", 0644);
    mkdirs(base, "outside/ssh");
    snprintf(victim, sizeof(victim), "%s/victim", outside);

    /* files that are symlinks to the host's files */
    dir = make_root(R_DBUS);
    link_to(dir, "/etc/hostname", victim);
    link_to(dir, "/etc/hosts", "../../../../../../outside/victim");
    link_to(dir, "/etc/machine-id", victim);
    link_to(dir, "/var/lib/dbus/machine-id", victim);
    link_to(dir, "/var/lib/systemd/random-seed", victim);
    apply_ok(&id, dir, "files that are symlinks out of the root");
    is_file(base, "outside/victim", "precious\n", "the host's file untouched");
    ok(is_reg(dir, "/etc/hostname") && is_reg(dir, "/etc/hosts") &&
       is_reg(dir, "/etc/machine-id") && is_reg(dir, "/var/lib/systemd/random-seed"),
       "the symlinks replaced by files in the root");
    free(dir);

    /* /etc/shadow a symlink to the host's */
    dir = make_root(0);
    snprintf(target, sizeof(target), "%s/etc/shadow", outside);
    link_to(dir, "/etc/shadow", target);
    apply_fails(&id, dir, "/etc/shadow", "not a regular file", "shadow a symlink");
    is_file(base, "outside/etc/shadow", "root:precious:1::::::\n", "the host's shadow untouched");
    free(dir);

    /* /etc itself a symlink out, absolute and relative */
    dir = make_root(0);
    rm_rf(at(dir, "/etc"));
    snprintf(target, sizeof(target), "%s/etc", outside);
    link_to(dir, "/etc", target);
    apply_fails(&id, dir, "/etc/shadow", "absent", "/etc an absolute symlink out");
    is_file(base, "outside/etc/hostname", "precious\n", "nothing written outside");
    link_to(dir, "/etc", "../../../../../../../../../../outside/etc");
    apply_fails(&id, dir, "/etc/shadow", "absent", "/etc a relative symlink out");
    is_file(base, "outside/etc/hostname", "precious\n", "nothing written outside");
    ok(absent(base, "outside/etc/mailname") && absent(base, "outside/etc/machine-id"),
       "nothing made outside");
    free(dir);

    /* /etc a symlink to "/": the guest's own root, as the guest sees it */
    dir = make_root(0);
    put(dir, "/shadow", shadow_text, 0640);
    rm_rf(at(dir, "/etc"));
    link_to(dir, "/etc", "/");
    apply_ok(&id, dir, "/etc a symlink to /");
    is_file(dir, "/hostname", "web1\n", "written in the guest's root, where the guest sees it");
    free(dir);

    /* directories on the way that lead out */
    dir = make_root(R_SSH);
    link_to(dir, "/etc/network", outside);
    link_to(dir, "/root/.ssh", outside);
    rm_rf(at(dir, "/etc/ssh"));
    snprintf(target, sizeof(target), "%s/ssh", outside);
    link_to(dir, "/etc/ssh", target);
    id.authorized_keys = "ssh-ed25519 AAAA x\n";
    id.ssh_host_keys = true;
    apply_fails(&id, dir, "/etc/network", "cannot make the directory: Not a directory",
                "/etc/network a symlink out of the root");
    ok(absent(base, "outside/interfaces") && absent(base, "outside/authorized_keys") &&
       absent(base, "outside/ssh/ssh_host_rsa_key"), "nothing written outside");
    /* the same symlinks resolved in the root, where that directory exists */
    mkdirs(dir, outside);
    mkdirs(dir, target);
    apply_ok(&id, dir, "the same with the targets present in the root");
    text = slurp(dir, at(outside, "interfaces"), NULL);
    ok(text && strstr(text, "iface eth0 inet dhcp"), "interfaces written at the link's target"
       " in the root");
    free(text);
    ok(is_reg(dir, at(outside, "authorized_keys")) && is_reg(dir, at(target, "ssh_host_rsa_key")),
       "keys written at the targets in the root");
    ok(absent(base, "outside/interfaces") && absent(base, "outside/authorized_keys") &&
       absent(base, "outside/ssh/ssh_host_rsa_key"), "still nothing outside");
    free(dir);

    /* the backend itself */
    dir = make_root(0);
    diag_init(&d);
    if (ok(identity_root_dir_open(dir, &r, &d) == 0, "backend opened")) {
        char *buf = NULL, **names = NULL;
        size_t len;

        is_int(r.ops->write(r.ctx, "/etc/../x", "x", 1, 0644, 0, 0), -EINVAL, "`..' refused");
        is_int(r.ops->write(r.ctx, "etc/x", "x", 1, 0644, 0, 0), -EINVAL,
               "a relative path refused");
        is_int(r.ops->write(r.ctx, "/etc//x", "x", 1, 0644, 0, 0), -EINVAL,
               "an empty component refused");
        is_int(r.ops->write(r.ctx, "/etc/./x", "x", 1, 0644, 0, 0), -EINVAL, "`.' refused");
        link_to(dir, "/etc/link", victim);
        is_int(r.ops->read(r.ctx, "/etc/link", 100, &buf, &len), -ELOOP,
               "read does not follow a final symlink");
        is_int(r.ops->read(r.ctx, "/etc", 100, &buf, &len), -EINVAL,
               "read refuses a directory");
        is_int(r.ops->read(r.ctx, "/etc/shadow", 10, &buf, &len), -EFBIG, "read is bounded");
        is_int(r.ops->remove(r.ctx, "/nonesuch/x"), 0, "remove: absent is fine");
        is_int(r.ops->write(r.ctx, "/etc", "x", 1, 0644, 0, 0), -EISDIR,
               "write does not replace a directory");
        mkfifo(at(dir, "/etc/fifo"), 0644);
        is_int(r.ops->read(r.ctx, "/etc/fifo", 100, &buf, &len), -EINVAL,
               "read refuses a FIFO, without hanging");
        is_int(r.ops->list(r.ctx, "/etc", 1, &names), -E2BIG, "list is bounded");
        is_int(r.ops->list(r.ctx, "/etc", 100, &names), 0, "list");
        {
            int n = 0, tmp = 0;

            for (size_t i = 0; names && names[i]; i++, n++) {
                tmp += !strncmp(names[i], ".vmkit-", 7);
                free(names[i]);
            }
            free(names);
            ok(n >= 3 && !tmp, "list: names, no temporary file left behind");
        }
        identity_root_close(&r);
    }
    diag_dispose(&d);
    free(dir);

    diag_init(&d);
    ok(identity_root_dir_open("/nonexistent/vmkit-root", &r, &d) == -ENOENT && d.nerrors == 1 &&
       !strcmp(d.v[0].file, "/nonexistent/vmkit-root"), "a missing root: one error naming it");
    diag_dispose(&d);
}

/* ---- invalid identities ---- */

static void test_invalid(void)
{
    char *dir = make_root(0);
    struct identity id;

#define BAD(field_set, want) do { \
        id = base_id(); \
        field_set; \
        apply_fails(&id, dir, NULL, want, want); \
    } while (0)
    BAD(id.hostname = NULL, "no host name");
    BAD(id.hostname = "-bad", "host name `-bad'");
    BAD(id.hostname = "a_b", "host name `a_b'");
    BAD(id.network_style = "nm", "network style `nm'");
    BAD(id.iface = "eth0/../x", "interface `eth0/../x'");
    BAD(id.iface = NULL, "interface `(none)'");
    BAD(id.dhcp = false, "a static network without an address");
    BAD((id.dhcp = false, id.ip = "192.0.2.300", id.prefix = 24), "address `192.0.2.300'");
    BAD((id.dhcp = false, id.ip = "192.0.2.3", id.prefix = 33), "prefix /33");
    BAD((id.dhcp = false, id.ip = "192.0.2.3", id.prefix = 0), "prefix /0");
    BAD((id.dhcp = false, id.ip = "192.0.2.3", id.prefix = 24, id.gateway = "2001:db8::1"),
        "gateway 2001:db8::1 is not of the address");
    BAD(id.nameservers = "192.0.2.1 nameserver.example", "nameserver `nameserver.example'");
    BAD(id.mac = "00:16:3e:zz:00:01", "MAC `00:16:3e:zz:00:01'");
    BAD(id.password_hash = "$y$x:y", "password hash");
    BAD(id.password_hash = "", "password hash");
#undef BAD
    ok(absent(dir, "/etc/hostname") && absent(dir, "/etc/network"),
       "nothing written for an invalid identity");
    is_file(dir, "/etc/shadow", shadow_text, "shadow untouched");
    free(dir);
}

/* ---- the password helpers ---- */

static void test_passwords(void)
{
    static const char alphabet[] = "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    char *a = NULL, *b = NULL, *hash = NULL;
    bool fine = true;

    is_int(identity_generate_password(&a), 0, "password generated");
    is_int(identity_generate_password(&b), 0, "another");
    ok(a && strlen(a) == IDENTITY_PASSWORD_LEN, "%d characters", IDENTITY_PASSWORD_LEN);
    ok(a && b && strcmp(a, b), "two passwords differ");
    is_int(strlen(alphabet), 56, "56 symbols");
    for (int k = 0; k < 200 && fine; k++) {
        char *p = NULL;

        fine = !identity_generate_password(&p) && strspn(p, alphabet) == IDENTITY_PASSWORD_LEN;
        free(p);
    }
    ok(fine, "only unambiguous letters and digits (200 passwords)");
    is_int(identity_hash_password(a, NULL, &hash), 0, "generated password hashed");
    ok(hash && !strncmp(hash, "$y$", 3) && !strcmp(crypt(a, hash), hash),
       "yescrypt, verifies with crypt()");
    free(hash);
    is_int(identity_hash_password("", NULL, &hash), -EINVAL, "an empty password refused");
    ok(hash == NULL, "and no hash");
    free(a);
    free(b);
}

int main(void)
{
    if (geteuid() != 0) {
        printf("1..0 # SKIP needs root (guest files are owned by root, shadow by a group)\n");
        return 0;
    }
    if (!mkdtemp(base)) {
        printf("Bail out! no temporary directory\n");
        return 1;
    }
    test_host_files();
    test_ifupdown();
    test_networkd();
    test_netplan();
    test_redhat_styles();
    test_machine_id();
    test_shadow();
    test_authorized_keys();
    test_host_keys();
    test_escapes();
    test_invalid();
    test_passwords();
    rm_rf(base);
    return tap_done();
}
