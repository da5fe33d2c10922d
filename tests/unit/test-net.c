/*
 * test-net.c - a vif's host side without touching the host's network
 * (hypervisor/net.c): interface and tap names, the guest's MAC, script
 * resolution, the script's environment and how a script is run, and the
 * checks the plug makes before it creates anything.  Taps and bridges
 * for real are tests/net/net.t's.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "domain.h"
#include "net.h"
#include "tap.h"
#include "vif.h"

static char base[] = "/tmp/test-net.XXXXXX";

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void write_file(const char *rel, const char *text, mode_t mode)
{
    char path[PATH_MAX];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", base, rel);
    f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    chmod(path, mode);
}

/* The whole of a file as a new string ("" when unreadable). */
static char *slurp(const char *path)
{
    char *buf = calloc(1, 65536);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = 0;

    if (fd >= 0) {
        n = read(fd, buf, 65535);
        close(fd);
    }
    if (n < 0)
        n = 0;
    buf[n] = '\0';
    return buf;
}

static void parse_vif(const char *spec, struct vif_spec *v)
{
    struct diag d;

    diag_init(&d);
    if (vif_parse(spec, "t.cfg", 1, 1, v, &d))
        printf("# cannot parse vif `%s'\n", spec);
    diag_dispose(&d);
}

/* A domain with the given vifs (and uuid 00112233-...-ff when has_uuid). */
static void make_dom(struct domain_desc *dom, const char *const *specs, size_t n,
                     bool has_uuid)
{
    memset(dom, 0, sizeof(*dom));
    dom->vifs = calloc(n ? n : 1, sizeof(*dom->vifs));
    dom->nvifs = n;
    for (size_t i = 0; i < n; i++)
        parse_vif(specs[i], &dom->vifs[i]);
    dom->has_uuid = has_uuid;
    for (int i = 0; i < 16; i++)
        dom->uuid[i] = (unsigned char)(i * 0x11);
}

static void free_dom(struct domain_desc *dom)
{
    for (size_t i = 0; i < dom->nvifs; i++)
        vif_spec_dispose(&dom->vifs[i]);
    free(dom->vifs);
}

static void test_ifname(void)
{
    static const char *const good[] = {
        "vif3.0", "eth0", "a", "br-lan", "tap_x", "123456789012345", "...", "é",
    };
    static const struct {
        const char *name, *part;
    } bad[] = {
        { "", "empty" },
        { ".", "not an interface name" },
        { "..", "not an interface name" },
        { "1234567890123456", "longer than 15 bytes" },
        { "a/b", "contains `/'" },
        { "a:0", "contains `:'" },
        { "a b", "whitespace" },
        { "a\tb", "whitespace" },
        { "a\nb", "whitespace" },
        { "a\001b", "control character" },
    };
    char why[256];

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        is_int(net_ifname_check(good[i], why, sizeof(why)), 0,
               "interface name `%s' is valid", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        is_int(net_ifname_check(bad[i].name, why, sizeof(why)), -EINVAL,
               "interface name #%zu is refused", i);
        ok(strstr(why, bad[i].part), "... saying `%s' (%s)", bad[i].part, why);
    }
    is_int(net_ifname_check(NULL, NULL, 0), -EINVAL, "NULL is refused, why may be NULL");
    /* a tiny why buffer is still a string */
    is_int(net_ifname_check("a/b", why, 4), -EINVAL, "why of 4 bytes");
    is_int(strlen(why), 3, "... holds 3 bytes and the NUL");
}

static void tap_name_is(const char *spec, int domid, size_t index, const char *want)
{
    struct vif_spec v;
    char name[NET_IFNAME_SIZE] = "junk", why[256] = "";

    parse_vif(spec, &v);
    is_int(net_tap_name(&v, domid, index, name, why, sizeof(why)), 0,
           "tap name of `%s' domid %d index %zu", spec, domid, index);
    is_str(name, want, "... is %s", want);
    vif_spec_dispose(&v);
}

static void tap_name_fails(const char *spec, int domid, size_t index, const char *part)
{
    struct vif_spec v;
    char name[NET_IFNAME_SIZE] = "junk", why[256] = "";

    parse_vif(spec, &v);
    is_int(net_tap_name(&v, domid, index, name, why, sizeof(why)), -EINVAL,
           "no tap name for `%s' domid %d index %zu", spec, domid, index);
    is_str(name, "", "... and name_r is empty");
    ok(strstr(why, part), "... saying `%s' (%s)", part, why);
    vif_spec_dispose(&v);
}

static void test_tap_name(void)
{
    tap_name_is("bridge=br0", 3, 0, "vif3.0");
    tap_name_is("bridge=br0", 3, 2, "vif3.2");
    tap_name_is("bridge=br0", 0, 0, "vif0.0");
    tap_name_is("bridge=br0,devid=7", 12, 1, "vif12.7");
    tap_name_is("bridge=br0,vifname=web0", 3, 0, "web0");
    tap_name_is("vifname=123456789012345", 3, 0, "123456789012345");
    tap_name_is("bridge=br0", 2147483647, 9, "vif2147483647.9");
    tap_name_fails("bridge=br0", 2147483647, 10, "vif2147483647.10 is longer than 15");
    tap_name_fails("bridge=br0,devid=999999", 123456, 0, "set vifname=");
    tap_name_fails("vifname=1234567890123456", 3, 0, "longer than 15 bytes");
    tap_name_fails("vifname=a/b", 3, 0, "contains `/'");
    tap_name_fails("vifname=..", 3, 0, "not an interface name");
    tap_name_fails("bridge=br0", -1, 0, "domain id -1");
}

static void test_guest_mac(void)
{
    static const char *const specs[] = {
        "bridge=br0,mac=00:16:3E:01:02:03", "bridge=br0", "bridge=br0",
    };
    struct domain_desc dom;
    char mac[18], want[18];

    make_dom(&dom, specs, 3, true);
    is_int(net_guest_mac(&dom, 0, mac), 0, "guest mac of a vif with mac=");
    is_str(mac, "00:16:3e:01:02:03", "... is the config's, normalized");
    is_int(net_guest_mac(&dom, 1, mac), 0, "guest mac of a vif without mac=");
    vif_mac_generate(dom.uuid, 1, want);
    is_str(mac, want, "... is vif_mac_generate(uuid, 1)");
    ok(!strncmp(mac, "00:16:3e:", 9), "... under 00:16:3e (%s)", mac);
    is_int(net_guest_mac(&dom, 2, mac), 0, "guest mac of the third vif");
    ok(strcmp(mac, want) != 0, "... differs from the second's");
    is_int(net_guest_mac(&dom, 3, mac), -EINVAL, "no vif 3: EINVAL");

    is_int(net_assign_macs(&dom), 0, "net_assign_macs");
    is_str(dom.vifs[0].mac, "00:16:3e:01:02:03", "... keeps a given mac");
    is_str(dom.vifs[1].mac, want, "... sets the generated one");
    ok(dom.vifs[2].mac != NULL, "... on every vif");
    is_int(net_guest_mac(&dom, 1, mac), 0, "guest mac after assignment");
    is_str(mac, want, "... is unchanged");
    free_dom(&dom);

    make_dom(&dom, specs, 2, false);
    is_int(net_guest_mac(&dom, 0, mac), 0, "no uuid: a given mac still works");
    is_int(net_guest_mac(&dom, 1, mac), -EINVAL, "no uuid and no mac: EINVAL");
    is_int(net_assign_macs(&dom), -EINVAL, "net_assign_macs without uuid: EINVAL");
    free_dom(&dom);
}

static void script_path_fails(const char *script, int err, const char *part)
{
    char *path = (char *)"junk", why[PATH_MAX + 256] = "";

    is_int(net_script_path(script, &path, why, sizeof(why)), err,
           "script `%s' is refused (%d)", script ? script : "(null)", err);
    ok(path == NULL, "... and *path_r is NULL");
    ok(strstr(why, part), "... saying `%s' (%s)", part, why);
}

static void test_script_path(void)
{
    char want[PATH_MAX], *path = NULL, why[PATH_MAX + 256] = "";

    setenv("VMKIT_CONFDIR", base, 1);
    snprintf(want, sizeof(want), "%s/scripts", base);
    mkdir(want, 0755);
    write_file("scripts/my-vif", "#!/bin/sh\nexit 0\n", 0755);
    write_file("scripts/plain", "#!/bin/sh\nexit 0\n", 0644);
    mkdir(strcat(want, "/adir"), 0755);
    write_file("abs-vif", "#!/bin/sh\nexit 0\n", 0700);

    snprintf(want, sizeof(want), "%s/scripts/my-vif", base);
    is_int(net_script_path("my-vif", &path, why, sizeof(why)), 0,
           "a relative name resolves (%s)", why);
    is_str(path, want, "... under $VMKIT_CONFDIR/scripts/");
    free(path);
    path = NULL;

    snprintf(want, sizeof(want), "%s/abs-vif", base);
    is_int(net_script_path(want, &path, why, sizeof(why)), 0,
           "an absolute path is taken as it is (%s)", why);
    is_str(path, want, "... unchanged");
    free(path);

    snprintf(want, sizeof(want), "vif script %s/scripts/nope does not exist", base);
    script_path_fails("nope", -ENOENT, want);
    script_path_fails("vif-bridge", -ENOENT, "Xen's own vif scripts read xenstore");
    script_path_fails("plain", -EACCES, "is not executable");
    script_path_fails("adir", -EINVAL, "is not a regular file");
    script_path_fails("/etc/xen/scripts/vif-bridge", -ENOTSUP, "one of Xen's");
    script_path_fails("", -EINVAL, "empty");
    script_path_fails(NULL, -EINVAL, "empty");
}

static void test_script_env(void)
{
    struct net_script_vars all = { "vif3.0", "00:16:3e:01:02:03", "br0",
                                   "10.0.0.2 fd00::2" };
    struct net_script_vars some = { "web0", "00:16:3e:01:02:04", NULL, NULL };
    static const char *const want_all[] = {
        "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "vif=vif3.0", "INTERFACE=vif3.0",
        "mac=00:16:3e:01:02:03", "bridge=br0", "ip=10.0.0.2 fd00::2", NULL,
    };
    static const char *const want_some[] = {
        "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "vif=web0", "INTERFACE=web0",
        "mac=00:16:3e:01:02:04", NULL,
    };
    char **env;
    size_t i;

    env = net_script_env(&all);
    ok(env, "environment with every variable");
    for (i = 0; env && want_all[i]; i++)
        is_str(env[i], want_all[i], "... entry %zu", i);
    ok(env && !env[i], "... and nothing else (no XENBUS_PATH)");
    net_env_free(env);

    env = net_script_env(&some);
    ok(env, "environment without bridge and ip");
    for (i = 0; env && want_some[i]; i++)
        is_str(env[i], want_some[i], "... entry %zu", i);
    ok(env && !env[i], "... and nothing else");
    net_env_free(env);

    some.tap = NULL;
    errno = 0;
    ok(!net_script_env(&some) && errno == EINVAL, "no tap: NULL, EINVAL");
    some.tap = "x";
    some.mac = NULL;
    errno = 0;
    ok(!net_script_env(&some) && errno == EINVAL, "no mac: NULL, EINVAL");
    net_env_free(NULL);
}

static void test_script_run(void)
{
    struct net_script_vars vars = { "vif3.0", "00:16:3e:01:02:03", "br0", "10.0.0.2" };
    char script[256], out[256], logp[256], text[PATH_MAX + 512];
    char why[4096] = "", *s;
    int log_fd;

    snprintf(out, sizeof(out), "%s/record.out", base);
    snprintf(text, sizeof(text),
             "#!/bin/sh\n"
             "{ echo \"argc=$#\"; echo \"argv0=$0\"; echo \"argv1=$1\"; env | sort; }"
             " > %s\n"
             "echo to-stdout; echo to-stderr >&2\n", out);
    write_file("scripts/record", text, 0755);
    write_file("scripts/fail3",
               "#!/bin/sh\necho first line >&2\necho 'it went wrong' >&2\nexit 3\n", 0755);
    write_file("scripts/killed", "#!/bin/sh\nkill -9 $$\n", 0755);
    write_file("scripts/slow", "#!/bin/sh\necho slow start >&2\nexec sleep 30\n", 0755);
    write_file("scripts/noisy",
               "#!/bin/sh\ni=0\nwhile [ $i -lt 200 ]; do echo \"line $i of noise\" >&2;"
               " i=$((i+1)); done\necho LAST >&2\nexit 1\n", 0755);
    write_file("scripts/daemon",
               "#!/bin/sh\n( sleep 30 ) &\necho bye >&2\nexit 0\n", 0755);
    snprintf(logp, sizeof(logp), "%s/script.log", base);
    log_fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);

    snprintf(script, sizeof(script), "%s/scripts/record", base);
    is_int(net_script_run(script, "online", &vars, log_fd, 10000, why, sizeof(why)), 0,
           "a script that exits 0 (%s)", why);
    s = slurp(out);
    ok(strstr(s, "argc=1\n"), "... gets one argument");
    snprintf(text, sizeof(text), "argv0=%s\n", script);
    ok(strstr(s, text), "... argv[0] is its path");
    ok(strstr(s, "argv1=online\n"), "... argv[1] is online");
    ok(strstr(s, "\nvif=vif3.0\n"), "... vif");
    ok(strstr(s, "\nINTERFACE=vif3.0\n"), "... INTERFACE");
    ok(strstr(s, "\nbridge=br0\n"), "... bridge");
    ok(strstr(s, "\nmac=00:16:3e:01:02:03\n"), "... mac");
    ok(strstr(s, "\nip=10.0.0.2\n"), "... ip");
    ok(strstr(s, "\nPATH=/usr/sbin:/usr/bin:/sbin:/bin\n"), "... PATH");
    ok(!strstr(s, "VMKIT_CONFDIR") && !strstr(s, "XENBUS_PATH") && !strstr(s, "HOME="),
       "... and none of the caller's environment");
    free(s);
    s = slurp(logp);
    ok(strstr(s, "to-stdout\n") && strstr(s, "to-stderr\n"),
       "... stdout and stderr went to the log");
    free(s);

    is_int(net_script_run(script, "offline", &vars, -1, 10000, why, sizeof(why)), 0,
           "offline, output discarded");
    s = slurp(out);
    ok(strstr(s, "argv1=offline\n"), "... argv[1] is offline");
    free(s);

    snprintf(script, sizeof(script), "%s/scripts/fail3", base);
    is_int(net_script_run(script, "online", &vars, log_fd, 10000, why, sizeof(why)),
           -EIO, "a script that exits 3: EIO");
    snprintf(text, sizeof(text), "vif script %s online for vif3.0 exited with status 3;"
             " stderr: first line; it went wrong", script);
    is_str(why, text, "... why names script, action, tap, status and stderr");

    snprintf(script, sizeof(script), "%s/scripts/killed", base);
    is_int(net_script_run(script, "online", &vars, log_fd, 10000, why, sizeof(why)),
           -EIO, "a script killed by a signal: EIO");
    ok(strstr(why, "killed by signal 9"), "... why says so (%s)", why);

    snprintf(script, sizeof(script), "%s/scripts/noisy", base);
    is_int(net_script_run(script, "online", &vars, log_fd, 10000, why, sizeof(why)),
           -EIO, "a script with much stderr: EIO");
    ok(strstr(why, "stderr: ...") && strstr(why, "; LAST") && !strstr(why, "line 0 "),
       "... why quotes only the end of stderr (%.80s...)", why);
    ok(strlen(why) < 300 + NET_SCRIPT_ERR_TAIL * 2, "... bounded (%zu bytes)", strlen(why));
    s = slurp(logp);
    ok(strstr(s, "line 0 of noise\n") && strstr(s, "LAST\n"), "... all of it is in the log");
    free(s);

    snprintf(script, sizeof(script), "%s/scripts/slow", base);
    is_int(net_script_run(script, "online", &vars, log_fd, 500, why, sizeof(why)),
           -ETIMEDOUT, "a script over its time: ETIMEDOUT");
    ok(strstr(why, "did not finish within 500 ms") && strstr(why, "slow start"),
       "... why says so, with its stderr (%s)", why);

    snprintf(script, sizeof(script), "%s/scripts/daemon", base);
    is_int(net_script_run(script, "online", &vars, log_fd, 5000, why, sizeof(why)), 0,
           "a script leaving a child that holds stderr: 0 once the script exits (%s)", why);

    snprintf(script, sizeof(script), "%s/scripts/nope", base);
    ok(net_script_run(script, "online", &vars, log_fd, 1000, why, sizeof(why)) < 0,
       "a missing script fails (%s)", why);
    if (log_fd >= 0)
        close(log_fd);
}

static void plug_fails(const char *spec, int err, const char *part)
{
    const char *specs[1] = { spec };
    struct domain_desc dom;
    char tap[NET_IFNAME_SIZE] = "junk", why[PATH_MAX + 256] = "";

    make_dom(&dom, specs, 1, true);
    is_int(net_vif_plug(&dom, 0, 5, -1, tap, why, sizeof(why)), err,
           "plug of `%s' fails (%d)", spec, err);
    is_str(tap, "", "... with no tap");
    ok(strstr(why, part), "... saying `%s' (%s)", part, why);
    free_dom(&dom);
}

static void test_plug_checks(void)
{
    static const char *const specs[] = { "netdev=user", "bridge=br0" };
    struct domain_desc dom;
    char tap[NET_IFNAME_SIZE] = "junk", why[256] = "";

    make_dom(&dom, specs, 2, true);
    is_int(net_vif_plug(&dom, 0, 5, -1, tap, why, sizeof(why)), 0,
           "plug of a netdev=user vif: nothing to do");
    is_str(tap, "", "... and no tap");
    is_int(net_vif_unplug(&dom, 0, "", -1, why, sizeof(why)), 0,
           "unplug with no tap: nothing to do");
    is_int(net_vif_plug(&dom, 2, 5, -1, tap, why, sizeof(why)), -EINVAL,
           "plug of vif 2 of 2: EINVAL");
    free_dom(&dom);

    plug_fails("mac=00:16:3e:00:00:01", -EINVAL,
               "vif 0 names no bridge (give it bridge=, script= or netdev=user)");
    plug_fails("bridge=vmkit-nobr9", -ENODEV, "vif 0: bridge vmkit-nobr9 does not exist");
    plug_fails("bridge=lo", -ENOTSUP, "vif 0: lo is not a bridge");
    plug_fails("bridge=a/b", -EINVAL, "bad bridge name");
    plug_fails("bridge=br0,vifname=bad:name", -EINVAL, "vif 0: interface name `bad:name'");
    plug_fails("script=nope", -ENOENT, "vif 0: vif script");
    plug_fails("script=plain,bridge=br0", -EACCES, "is not executable");

    is_int(net_tap_delete("vmkit-notap9", why, sizeof(why)), -ENOENT,
           "deleting a tap that does not exist: ENOENT");
    is_str(why, "interface vmkit-notap9 does not exist", "... saying so");
    is_int(net_bridge_check("vmkit-nobr9", why, sizeof(why)), -ENODEV,
           "a missing bridge: ENODEV");
    is_int(net_bridge_add("lo", "vmkit-notap9", why, sizeof(why)), -ENOTSUP,
           "adding to lo: not a bridge");
}

int main(void)
{
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    test_ifname();
    test_tap_name();
    test_guest_mac();
    test_script_path();
    test_script_env();
    test_script_run();
    test_plug_checks();
    nftw(base, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    return tap_done();
}
