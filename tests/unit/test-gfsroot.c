/*
 * test-gfsroot.c - the identity step through a libguestfs appliance
 * (provision/gfsroot.c).  ext4 images are built with mke2fs -d from a
 * small Debian-like tree that holds a relative symlink (/etc/resolv.conf
 * -> ../run/x) and a hostile one (/etc/network -> /../../..BASE/escape-
 * target, BASE being this test's directory on the host, which the guest
 * tree holds too); then ONE appliance is started with three disks (a raw
 * image, a qcow2 overlay on another raw image, a blank disk), an
 * identity is applied to each ext4 disk, the blank one is refused, and
 * the appliance is shut down.  What the disks hold is then read with
 * debugfs (the overlay converted to raw by qemu-img first) and checked:
 * host name, hosts, interfaces written inside the guest through the
 * symlink (and nothing on the host), machine-id, root's hash, authorized
 * keys, new ssh host keys, e2fsck -fn clean, the overlay's backing image
 * untouched.  Before that, what fails without starting anything: a
 * missing image, an unknown format.
 *
 * The appliance's start and each apply are timed (TAP comments).  An
 * appliance that cannot start fails the test with libguestfs's message.
 * Needs root (owners in the tree), mke2fs, debugfs, e2fsck, qemu-img,
 * ssh-keygen and a working libguestfs (LIBGUESTFS_DEBUG=1 or
 * libguestfs-test-tool tell what is wrong with it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gfsroot.h"
#include "identity.h"
#include "proc.h"
#include "tap.h"
#include "testutil.h"

#define NDISK 3

static char base[] = "/tmp/vmkit-test-gfsroot-XXXXXX";

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void dump(const struct diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        printf("#   %s: %s: %s\n", d->v[i].level == DIAG_ERROR ? "error" : "warning",
               d->v[i].file ? d->v[i].file : "-", d->v[i].msg);
}

/* Runs argv; 0 when it exited 0, else its status (stderr shown). */
static int run(const char *const argv[])
{
    char errpath[PATH_MAX];
    struct test_out o;
    int fd, st;

    snprintf(errpath, sizeof(errpath), "%s/stderr", base);
    fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    st = test_capture_v(&o, fd >= 0 ? fd : PROC_NULL, argv);
    if (fd >= 0)
        close(fd);
    free(o.buf);
    if (st) {
        struct test_out e = { 0 };
        const char *cat[] = { "cat", errpath, NULL };

        printf("# %s: status %d\n", argv[0], st);
        if (test_capture_v(&e, PROC_NULL, cat) == 0 && e.buf)
            printf("#   %s\n", e.buf);
        free(e.buf);
    }
    return st;
}

/* debugfs -R request on image: its stdout (new string), "" when it
 * printed nothing (a missing file: its complaint goes to stderr). */
static char *debugfs(const char *image, const char *request)
{
    const char *argv[] = { "debugfs", "-R", request, image, NULL };
    struct test_out o;

    if (test_capture_v(&o, PROC_NULL, argv) != 0 || !o.buf) {
        free(o.buf);
        return strdup("(debugfs failed)");
    }
    return o.buf;
}

/* The number after key in debugfs's stat output, or -1. */
static long stat_field(const char *text, const char *key, int numbase)
{
    const char *p = strstr(text, key);

    return p ? strtol(p + strlen(key), NULL, numbase) : -1;
}

/* ---- the guest tree ---- */

static void link_to(const char *dir, const char *rel, const char *target)
{
    if (symlink(target, test_path(dir, rel)))
        printf("# cannot link %s\n", test_path(dir, rel));
}

/* A Debian-like root in base/tree (caller frees the path). */
static char *make_tree(void)
{
    char *tree = NULL, escape[PATH_MAX + 32], guest_escape[PATH_MAX + 32];

    if (asprintf(&tree, "%s/tree", base) < 0)
        abort();
    mkdir(tree, 0755);
    test_put(tree, "etc/hostname", "golden\n", 0644);
    test_put(tree, "etc/hosts", "127.0.0.1\tlocalhost\n127.0.1.1\tgolden\n", 0644);
    test_put(tree, "etc/shadow", "root:*:19700:0:99999:7:::\n"
             "daemon:*:19700:0:99999:7:::\n"
             "user:$y$j9T$abc$def:19700:0:99999:7:::\n", 0640);
    if (chown(test_path(tree, "etc/shadow"), 0, 42))
        printf("# cannot chown shadow\n");
    test_put(tree, "etc/ssh/sshd_config", "PermitRootLogin prohibit-password\n", 0644);
    test_put(tree, "etc/ssh/ssh_host_rsa_key", "old rsa\n", 0600);
    test_put(tree, "etc/ssh/ssh_host_rsa_key.pub", "old rsa pub\n", 0644);
    test_put(tree, "etc/ssh/ssh_host_dsa_key", "old dsa\n", 0600);
    test_put(tree, "etc/ssh/ssh_host_dsa_key.pub", "old dsa pub\n", 0644);
    test_put(tree, "var/lib/dbus/machine-id", "0123456789abcdef0123456789abcdef\n", 0444);
    mkdir(test_path(tree, "var/lib/systemd"), 0755);
    mkdir(test_path(tree, "root"), 0700);
    mkdir(test_path(tree, "run"), 0755);
    link_to(tree, "etc/resolv.conf", "../run/x");
    /* the host path of this test's directory, reached by climbing out of
     * the guest's root: in the guest it is the guest's own directory */
    snprintf(escape, sizeof(escape), "/../../..%s/escape-target", base);
    link_to(tree, "etc/network", escape);
    snprintf(guest_escape, sizeof(guest_escape), "%s/escape-target/.keep", base + 1);
    test_put(tree, guest_escape, "", 0644);
    return tree;
}

static struct identity id_for(int k)
{
    static char host[2][32], ip[2][32], hash[2][32];
    struct identity id = {
        .network_style = "ifupdown",
        .iface = "eth0",
        .prefix = 24,
        .gateway = "192.0.2.1",
        .nameservers = "192.0.2.53",
        .authorized_keys = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey root@admin",
        .ssh_host_keys = true,
    };

    snprintf(host[k], sizeof(host[k]), "web%d.example.org", k + 1);
    snprintf(ip[k], sizeof(ip[k]), "192.0.2.%d", 11 + k);
    snprintf(hash[k], sizeof(hash[k]), "$6$salt$hash%d", k + 1);
    id.hostname = host[k];
    id.ip = ip[k];
    id.password_hash = hash[k];
    return id;
}

/* ---- what fails before anything starts ---- */

static void test_refusals(const char *good)
{
    char missing[PATH_MAX];
    const char *images[2] = { good, missing };
    const char *formats[2] = { "raw", "raw" };
    const char *vmdk[1] = { "vmdk" };
    static char sentinel;
    struct gfs_session *s = (struct gfs_session *)(void *)&sentinel;
    struct timespec t0;
    struct diag d;
    double ms;
    int r;

    snprintf(missing, sizeof(missing), "%s/missing.img", base);
    diag_init(&d);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    r = gfs_session_open(images, formats, 2, &s, &d);
    ms = ms_since(&t0);
    is_int(r, -ENOENT, "a missing image: ENOENT");
    ok(!s, "and no session");
    ok(said(&d, DIAG_ERROR, missing, "cannot open the image", "No such file"),
       "the message names the missing image");
    ok(ms < 1000, "nothing was started (%.1f ms)", ms);
    diag_dispose(&d);

    diag_init(&d);
    r = gfs_session_open(&good, vmdk, 1, &s, &d);
    is_int(r, -EINVAL, "an unknown format: EINVAL");
    ok(said(&d, DIAG_ERROR, good, "unknown image format \"vmdk\""), "named in the message");
    diag_dispose(&d);

    diag_init(&d);
    r = gfs_session_open(images, formats, 0, &s, &d);
    is_int(r, -EINVAL, "no image at all: EINVAL");
    diag_dispose(&d);

    diag_init(&d);
    is_int(gfs_session_close(NULL, &d), 0, "closing NULL is fine");
    diag_dispose(&d);
}

/* ---- one appliance, three disks ---- */

/* Checks what identity_apply wrote to the ext4 file system in image (a
 * raw image) for id_for(k). */
static void check_image(const char *label, const char *image, int k, char machine_id[33])
{
    struct identity id = id_for(k);
    char want[256], path[PATH_MAX + 64], host[PATH_MAX + 32];
    char *out;

    out = debugfs(image, "cat /etc/hostname");
    snprintf(want, sizeof(want), "web%d\n", k + 1);
    is_str(out, want, "%s: /etc/hostname", label);
    free(out);
    out = debugfs(image, "cat /etc/mailname");
    snprintf(want, sizeof(want), "%s\n", id.hostname);
    is_str(out, want, "%s: /etc/mailname", label);
    free(out);
    out = debugfs(image, "cat /etc/hosts");
    snprintf(want, sizeof(want), "\n%s\t%s\tweb%d\n", id.ip, id.hostname, k + 1);
    ok(strstr(out, "127.0.0.1\tlocalhost\n") && strstr(out, want) && !strstr(out, "golden"),
       "%s: /etc/hosts maps %s", label, id.ip);
    free(out);

    /* /etc/network -> /../../..BASE/escape-target: inside the guest */
    out = debugfs(image, "stat /etc/network");
    ok(strstr(out, "Type: symlink") != NULL, "%s: /etc/network is still a symlink", label);
    free(out);
    snprintf(path, sizeof(path), "cat %s/escape-target/interfaces", base);
    out = debugfs(image, path);
    snprintf(want, sizeof(want), "iface eth0 inet static\n\taddress %s/24\n", id.ip);
    ok(strstr(out, "auto eth0\n") && strstr(out, want) && strstr(out, "gateway 192.0.2.1"),
       "%s: interfaces written through the symlink, inside the guest", label);
    if (!strstr(out, want))
        printf("#   %s\n", out);
    free(out);
    snprintf(host, sizeof(host), "%s/escape-target", base);
    ok(access(host, F_OK) < 0 && errno == ENOENT, "%s: nothing at %s on the host", label,
       host);

    out = debugfs(image, "cat /etc/resolv.conf");
    ok(strstr(out, "\nnameserver 192.0.2.53\n") != NULL, "%s: resolv.conf, a file now", label);
    free(out);
    out = debugfs(image, "stat /etc/resolv.conf");
    ok(strstr(out, "Type: regular") && stat_field(out, "Mode:  ", 8) == 0644,
       "%s: resolv.conf 0644", label);
    free(out);
    out = debugfs(image, "stat /run/x");
    ok(!strstr(out, "Inode:"), "%s: its old target ../run/x not made", label);
    free(out);

    out = debugfs(image, "cat /etc/machine-id");
    ok(strlen(out) == 33 && strspn(out, "0123456789abcdef") == 32 && out[32] == '\n',
       "%s: a fresh machine-id (32 hex digits)", label);
    snprintf(machine_id, 33, "%.32s", out);
    free(out);
    out = debugfs(image, "stat /var/lib/dbus/machine-id");
    ok(strstr(out, "Type: symlink") && strstr(out, "\"/etc/machine-id\""),
       "%s: dbus's machine-id a symlink to it", label);
    free(out);
    out = debugfs(image, "stat /var/lib/systemd/random-seed");
    ok(stat_field(out, "Size: ", 10) == 512 && stat_field(out, "Mode:  ", 8) == 0600,
       "%s: a 512-byte random seed, 0600", label);
    free(out);

    out = debugfs(image, "cat /etc/shadow");
    snprintf(want, sizeof(want), "root:%s:19700:0:99999:7:::\n", id.password_hash);
    ok(!strncmp(out, want, strlen(want)) &&
       strstr(out, "\nuser:$y$j9T$abc$def:19700:0:99999:7:::\n"),
       "%s: root's hash in /etc/shadow, the rest kept", label);
    free(out);
    out = debugfs(image, "stat /etc/shadow");
    ok(stat_field(out, "Mode:  ", 8) == 0640 && stat_field(out, "User: ", 10) == 0 &&
       stat_field(out, "Group: ", 10) == 42, "%s: shadow still 0640 root:42", label);
    free(out);

    out = debugfs(image, "cat /root/.ssh/authorized_keys");
    is_str(out, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey root@admin\n",
           "%s: root's authorized_keys", label);
    free(out);
    out = debugfs(image, "stat /root/.ssh/authorized_keys");
    ok(stat_field(out, "Mode:  ", 8) == 0600 && stat_field(out, "User: ", 10) == 0,
       "%s: authorized_keys 0600 root", label);
    free(out);
    out = debugfs(image, "stat /root/.ssh");
    ok(stat_field(out, "Mode:  ", 8) == 0700 && strstr(out, "Type: directory"),
       "%s: /root/.ssh 0700", label);
    free(out);

    out = debugfs(image, "cat /etc/ssh/ssh_host_ed25519_key.pub");
    snprintf(want, sizeof(want), " root@web%d\n", k + 1);
    ok(!strncmp(out, "ssh-ed25519 ", 12) && strstr(out, want), "%s: a new ed25519 host key",
       label);
    free(out);
    out = debugfs(image, "cat /etc/ssh/ssh_host_rsa_key.pub");
    ok(!strncmp(out, "ssh-rsa ", 8), "%s: the old rsa key replaced", label);
    free(out);
    out = debugfs(image, "stat /etc/ssh/ssh_host_rsa_key");
    ok(stat_field(out, "Mode:  ", 8) == 0600 && stat_field(out, "User: ", 10) == 0,
       "%s: its private key 0600 root", label);
    free(out);
    out = debugfs(image, "stat /etc/ssh/ssh_host_dsa_key");
    ok(!strstr(out, "Inode:"), "%s: the dsa key gone", label);
    free(out);
    out = debugfs(image, "cat /etc/ssh/sshd_config");
    is_str(out, "PermitRootLogin prohibit-password\n", "%s: sshd_config kept", label);
    free(out);
    {
        const char *fsck[] = { "e2fsck", "-fn", image, NULL };

        is_int(run(fsck), 0, "%s: e2fsck -fn: clean", label);
    }
    /* nothing left behind at a temporary name */
    out = debugfs(image, "ls /etc");
    ok(!strstr(out, ".vmkit-"), "%s: no temporary file left in /etc", label);
    free(out);
}

static void test_session(const char *tree)
{
    char img[NDISK][PATH_MAX], backing[PATH_MAX], converted[PATH_MAX];
    const char *images[NDISK] = { img[0], img[1], img[2] };
    const char *formats[NDISK] = { "raw", "qcow2", "raw" };
    char mid[2][33] = { "", "" };
    struct gfs_session *s = NULL;
    struct timespec t0;
    struct diag d;
    double ms;
    bool made = true;
    int r;

    snprintf(img[0], PATH_MAX, "%s/disk0.img", base);
    snprintf(backing, sizeof(backing), "%s/backing1.img", base);
    snprintf(img[1], PATH_MAX, "%s/disk1.qcow2", base);
    snprintf(img[2], PATH_MAX, "%s/blank.img", base);
    snprintf(converted, sizeof(converted), "%s/disk1.raw", base);
    for (int i = 0; i < 2; i++) {
        const char *image = i ? backing : img[0];
        const char *mkfs[] = { "mke2fs", "-q", "-F", "-t", "ext4", "-d", tree, image, "64M",
                               NULL };

        made = made && run(mkfs) == 0;
    }
    {
        const char *overlay[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
                                  backing, img[1], NULL };
        const char *blank[] = { "qemu-img", "create", "-q", "-f", "raw", img[2], "16M", NULL };

        made = made && run(overlay) == 0 && run(blank) == 0;
    }
    if (!ok(made, "two ext4 images (one under a qcow2 overlay) and a blank disk")) {
        return;
    }
    test_refusals(img[0]);

    /* the one appliance */
    diag_init(&d);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    r = gfs_session_open(images, formats, NDISK, &s, &d);
    ms = ms_since(&t0);
    if (!ok(r == 0 && s && d.nerrors == 0, "the libguestfs appliance starts with 3 disks")) {
        printf("# libguestfs could not start its appliance on this machine:\n");
        dump(&d);
        diag_dispose(&d);
        return;
    }
    printf("# appliance start (gfs_session_open, 3 disks): %.1f s\n", ms / 1e3);
    if (d.n)
        dump(&d);       /* the KVM-to-TCG warning, say */
    diag_dispose(&d);

    /* the blank disk first: refused, and the session goes on */
    diag_init(&d);
    r = gfs_session_apply(s, 2, &(struct identity){ .hostname = "x" }, &d);
    is_int(r, -EINVAL, "a disk without ext2/3/4: EINVAL");
    ok(said(&d, DIAG_ERROR, img[2], "no ext2/3/4 file system"), "the message names the image");
    diag_dispose(&d);
    diag_init(&d);
    is_int(gfs_session_apply(s, NDISK, &(struct identity){ .hostname = "x" }, &d), -EINVAL,
           "a disk number past the last: EINVAL");
    diag_dispose(&d);

    for (int k = 0; k < 2; k++) {
        struct identity id = id_for(k);

        diag_init(&d);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        r = gfs_session_apply(s, (size_t)k, &id, &d);
        ms = ms_since(&t0);
        if (!ok(r == 0 && d.nerrors == 0, "identity applied to disk %d (%s)", k, formats[k]))
            dump(&d);
        else
            printf("# gfs_session_apply, disk %d (%s, with ssh host keys): %.0f ms\n", k,
                   formats[k], ms);
        diag_dispose(&d);
    }

    diag_init(&d);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    r = gfs_session_close(s, &d);
    ms = ms_since(&t0);
    if (!ok(r == 0 && d.nerrors == 0, "the appliance shuts down cleanly"))
        dump(&d);
    printf("# gfs_session_close: %.1f s\n", ms / 1e3);
    diag_dispose(&d);

    check_image("raw", img[0], 0, mid[0]);
    {
        const char *convert[] = { "qemu-img", "convert", "-f", "qcow2", "-O", "raw", img[1],
                                  converted, NULL };
        const char *check[] = { "qemu-img", "check", "-q", "-f", "qcow2", img[1], NULL };
        char *out;

        is_int(run(check), 0, "qcow2: qemu-img check: clean");
        if (ok(run(convert) == 0, "qcow2: converted to raw"))
            check_image("qcow2", converted, 1, mid[1]);
        out = debugfs(backing, "cat /etc/hostname");
        is_str(out, "golden\n", "qcow2: the backing image untouched");
        free(out);
    }
    ok(mid[0][0] && strcmp(mid[0], mid[1]), "the two machine-ids differ");
}

int main(void)
{
    char *tree;

    if (geteuid() != 0) {
        printf("1..0 # SKIP needs root (guest files are owned by root and others)\n");
        return 0;
    }
    for (const char *const *p = (const char *const[]){ "mke2fs", "debugfs", "e2fsck",
                                                       "qemu-img", "ssh-keygen", NULL };
         *p; p++) {
        char *path = proc_find_program(*p);

        if (!path) {
            printf("1..0 # SKIP no %s\n", *p);
            return 0;
        }
        free(path);
    }
    if (!mkdtemp(base)) {
        printf("Bail out! no temporary directory\n");
        return 1;
    }
    setenv("DEBUGFS_PAGER", "__none__", 1);
    tree = make_tree();
    test_session(tree);
    free(tree);
    test_rm_tree(base);
    return tap_done();
}
