/*
 * net.c - a vif's host side: tap, bridge, hotplug script (see net.h).
 *
 * Taps are made with the tun driver's ioctls (TUNSETIFF, TUNSETPERSIST)
 * and configured and bridged with the classic interface ioctls
 * (SIOCSIFHWADDR, SIOCSIFMTU, SIOCSIFFLAGS, SIOCBRADDIF) on an AF_UNIX
 * socket: no netlink, no external program, nothing through a shell.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <net/if.h>
#include <net/if_arp.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>

#include "net.h"
#include "paths.h"
#include "proc.h"

#define TUN_DEVICE      "/dev/net/tun"
#define SYS_CLASS_NET   "/sys/class/net"
#define XEN_SCRIPT_DIR  "/etc/xen/scripts/"
#define MSG_MAX         (PATH_MAX + 2 * NET_SCRIPT_ERR_TAIL)

__attribute__((format(printf, 3, 4)))
static void set_why(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    if (!why || whylen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* name for a message: at most 32 bytes, anything unprintable as `?'. */
static const char *printable(const char *name, char buf[36])
{
    size_t i;

    for (i = 0; name[i] && i < 32; i++)
        buf[i] = (unsigned char)name[i] < 0x20 || name[i] == 0x7f ? '?' : name[i];
    if (name[i])
        buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
    buf[i] = '\0';
    return buf;
}

int net_ifname_check(const char *name, char *why, size_t whylen)
{
    char pb[36];
    size_t len;

    if (!name || !*name) {
        set_why(why, whylen, "interface name is empty");
        return -EINVAL;
    }
    len = strlen(name);
    if (len >= NET_IFNAME_SIZE) {
        set_why(why, whylen, "interface name `%s' is longer than %d bytes",
                printable(name, pb), NET_IFNAME_SIZE - 1);
        return -EINVAL;
    }
    if (!strcmp(name, ".") || !strcmp(name, "..")) {
        set_why(why, whylen, "`%s' is not an interface name", name);
        return -EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];

        if (c == '/' || c == ':') {
            set_why(why, whylen, "interface name `%s' contains `%c'",
                    printable(name, pb), c);
            return -EINVAL;
        }
        if (c == ' ' || (c >= '\t' && c <= '\r')) {
            set_why(why, whylen, "interface name `%s' contains whitespace",
                    printable(name, pb));
            return -EINVAL;
        }
        if (c < 0x20 || c == 0x7f) {
            set_why(why, whylen, "interface name `%s' contains a control"
                    " character", printable(name, pb));
            return -EINVAL;
        }
    }
    return 0;
}

int net_tap_name(const struct vif_spec *v, int domid, size_t index,
                 char name_r[NET_IFNAME_SIZE], char *why, size_t whylen)
{
    char buf[64];
    int r;

    name_r[0] = '\0';
    if (v->vifname) {
        if ((r = net_ifname_check(v->vifname, why, whylen)))
            return r;
        snprintf(name_r, NET_IFNAME_SIZE, "%s", v->vifname);
        return 0;
    }
    if (domid < 0) {
        set_why(why, whylen, "no tap name for domain id %d", domid);
        return -EINVAL;
    }
    if (v->devid >= 0)
        snprintf(buf, sizeof(buf), "vif%d.%d", domid, v->devid);
    else
        snprintf(buf, sizeof(buf), "vif%d.%zu", domid, index);
    if (strlen(buf) >= NET_IFNAME_SIZE) {
        set_why(why, whylen, "tap name %s is longer than %d bytes (set vifname=)",
                buf, NET_IFNAME_SIZE - 1);
        return -EINVAL;
    }
    memcpy(name_r, buf, strlen(buf) + 1);
    return 0;
}

int net_guest_mac(const struct domain_desc *dom, size_t index, char mac_r[18])
{
    const struct vif_spec *v;

    mac_r[0] = '\0';
    if (index >= dom->nvifs)
        return -EINVAL;
    v = &dom->vifs[index];
    if (v->mac) {
        if (strlen(v->mac) != 17)
            return -EINVAL;
        memcpy(mac_r, v->mac, 18);
        return 0;
    }
    if (!dom->has_uuid || index > UINT_MAX)
        return -EINVAL;
    vif_mac_generate(dom->uuid, (unsigned)index, mac_r);
    return 0;
}

int net_assign_macs(struct domain_desc *dom)
{
    for (size_t i = 0; i < dom->nvifs; i++) {
        char mac[18];
        int r;

        if (dom->vifs[i].mac)
            continue;
        if ((r = net_guest_mac(dom, i, mac)))
            return r;
        if (!(dom->vifs[i].mac = strdup(mac)))
            return -ENOMEM;
    }
    return 0;
}

/* ifr with ifr_name set to name (which fits: checked before). */
static void ifreq_for(struct ifreq *ifr, const char *name)
{
    memset(ifr, 0, sizeof(*ifr));
    snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
}

static int ctl_socket(char *why, size_t whylen)
{
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (s < 0) {
        int e = errno;

        set_why(why, whylen, "socket: %s", strerror(e));
        return -e;
    }
    return s;
}

/* Sets IFF_UP on name through the socket s. */
static int link_up(int s, const char *name, char *why, size_t whylen)
{
    struct ifreq ifr;
    int e;

    ifreq_for(&ifr, name);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        goto fail;
    if (ifr.ifr_flags & IFF_UP)
        return 0;
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        goto fail;
    return 0;
fail:
    e = errno;
    set_why(why, whylen, "cannot bring %s up: %s", name, strerror(e));
    return -e;
}

/* Sets name's own MAC to NET_TAP_HOST_MAC and its MTU (when > 0). */
static int tap_configure(int s, const char *name, int mtu, char *why, size_t whylen)
{
    static const unsigned char host_mac[6] = { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff };
    struct ifreq ifr;
    int e;

    ifreq_for(&ifr, name);
    ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    memcpy(ifr.ifr_hwaddr.sa_data, host_mac, sizeof(host_mac));
    if (ioctl(s, SIOCSIFHWADDR, &ifr) < 0) {
        e = errno;
        set_why(why, whylen, "cannot set the MAC of %s to %s: %s", name,
                NET_TAP_HOST_MAC, strerror(e));
        return -e;
    }
    if (mtu > 0) {
        ifreq_for(&ifr, name);
        ifr.ifr_mtu = mtu;
        if (ioctl(s, SIOCSIFMTU, &ifr) < 0) {
            e = errno;
            set_why(why, whylen, "cannot set the MTU of %s to %d: %s", name, mtu,
                    strerror(e));
            return -e;
        }
    }
    return 0;
}

int net_tap_create(const char *name, int mtu, char *why, size_t whylen)
{
    struct ifreq ifr;
    int fd = -1, s = -1, r, e;
    bool persistent = false;

    if ((r = net_ifname_check(name, why, whylen)))
        return r;
    if (if_nametoindex(name)) {
        set_why(why, whylen, "interface %s already exists", name);
        return -EEXIST;
    }
    if ((fd = open(TUN_DEVICE, O_RDWR | O_CLOEXEC)) < 0) {
        e = errno;
        set_why(why, whylen, "cannot open %s: %s", TUN_DEVICE, strerror(e));
        r = -e;
        goto out;
    }
    /* IFF_TUN_EXCL: fail rather than attach to a device made meanwhile
     * (0x8000: the short ifr_flags holds it as its sign bit) */
    ifreq_for(&ifr, name);
    ifr.ifr_flags = (short)(unsigned short)(IFF_TAP | IFF_NO_PI | IFF_TUN_EXCL);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        e = errno;
        if (e == EBUSY || e == EEXIST) {
            set_why(why, whylen, "interface %s already exists", name);
            r = -EEXIST;
        } else {
            set_why(why, whylen, "cannot create tap %s: %s", name, strerror(e));
            r = -e;
        }
        goto out;
    }
    if (ioctl(fd, TUNSETPERSIST, 1) < 0) {
        e = errno;
        set_why(why, whylen, "cannot make tap %s persistent: %s", name, strerror(e));
        r = -e;
        goto out;
    }
    persistent = true;
    if ((s = ctl_socket(why, whylen)) < 0) {
        r = s;
        goto out;
    }
    if ((r = tap_configure(s, name, mtu, why, whylen)))
        goto out;
    r = link_up(s, name, why, whylen);
out:
    if (r && persistent)
        ioctl(fd, TUNSETPERSIST, 0);    /* closing fd then deletes it */
    if (s >= 0)
        close(s);
    if (fd >= 0)
        close(fd);
    return r;
}

int net_tap_delete(const char *name, char *why, size_t whylen)
{
    struct ifreq ifr;
    int fd = -1, r = 0, e;

    if ((r = net_ifname_check(name, why, whylen)))
        return r;
    if (!if_nametoindex(name)) {
        set_why(why, whylen, "interface %s does not exist", name);
        return -ENOENT;
    }
    if ((fd = open(TUN_DEVICE, O_RDWR | O_CLOEXEC)) < 0) {
        e = errno;
        set_why(why, whylen, "cannot open %s: %s", TUN_DEVICE, strerror(e));
        return -e;
    }
    /* Attaches to the tap (or, had it just vanished, makes a fresh
     * non-persistent one that goes away with fd). */
    ifreq_for(&ifr, name);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        e = errno;
        if (e == EINVAL)
            set_why(why, whylen, "cannot delete %s: it is not a tap device", name);
        else if (e == EBUSY)
            set_why(why, whylen, "cannot delete tap %s: a process (QEMU?) still"
                    " holds it", name);
        else
            set_why(why, whylen, "cannot delete tap %s: %s", name, strerror(e));
        r = -e;
        goto out;
    }
    if (ioctl(fd, TUNSETPERSIST, 0) < 0) {
        e = errno;
        set_why(why, whylen, "cannot delete tap %s: %s", name, strerror(e));
        r = -e;
    }
out:
    close(fd);
    return r;
}

int net_bridge_check(const char *bridge, char *why, size_t whylen)
{
    char path[sizeof(SYS_CLASS_NET) + NET_IFNAME_SIZE + 16], msg[256];
    struct stat st;
    int r;

    if ((r = net_ifname_check(bridge, msg, sizeof(msg)))) {
        set_why(why, whylen, "bad bridge name: %s", msg);
        return r;
    }
    snprintf(path, sizeof(path), SYS_CLASS_NET "/%s", bridge);
    if (stat(path, &st) < 0) {
        int e = errno;

        if (e == ENOENT) {
            set_why(why, whylen, "bridge %s does not exist", bridge);
            return -ENODEV;
        }
        set_why(why, whylen, "cannot check bridge %s: %s: %s", bridge, path,
                strerror(e));
        return -e;
    }
    snprintf(path, sizeof(path), SYS_CLASS_NET "/%s/bridge", bridge);
    if (stat(path, &st) < 0) {
        int e = errno;

        if (e == ENOENT) {
            set_why(why, whylen, "%s is not a bridge", bridge);
            return -ENOTSUP;
        }
        set_why(why, whylen, "cannot check bridge %s: %s: %s", bridge, path,
                strerror(e));
        return -e;
    }
    return 0;
}

/* SIOCBRADDIF or SIOCBRDELIF of ifname on bridge (both names checked). */
static int bridge_ioctl(unsigned long req, const char *bridge, const char *ifname,
                        char *why, size_t whylen)
{
    struct ifreq ifr;
    unsigned idx;
    int s, e, r = 0;
    bool add = req == SIOCBRADDIF;

    if (!(idx = if_nametoindex(ifname))) {
        set_why(why, whylen, "interface %s does not exist", ifname);
        return -ENODEV;
    }
    if ((s = ctl_socket(why, whylen)) < 0)
        return s;
    ifreq_for(&ifr, bridge);
    ifr.ifr_ifindex = (int)idx;
    if (ioctl(s, req, &ifr) < 0) {
        e = errno;
        if (add && e == EBUSY)
            set_why(why, whylen, "cannot add %s to bridge %s: it is already a"
                    " port of a bridge", ifname, bridge);
        else if (!add && e == EINVAL)
            set_why(why, whylen, "cannot remove %s from bridge %s: it is not a"
                    " port of it", ifname, bridge);
        else
            set_why(why, whylen, "cannot %s %s %s bridge %s: %s",
                    add ? "add" : "remove", ifname, add ? "to" : "from", bridge,
                    strerror(e));
        r = -e;
    } else if (add) {
        r = link_up(s, ifname, why, whylen);
    }
    close(s);
    return r;
}

int net_bridge_add(const char *bridge, const char *ifname, char *why,
                   size_t whylen)
{
    int r;

    if ((r = net_bridge_check(bridge, why, whylen)) ||
        (r = net_ifname_check(ifname, why, whylen)))
        return r;
    return bridge_ioctl(SIOCBRADDIF, bridge, ifname, why, whylen);
}

int net_bridge_remove(const char *bridge, const char *ifname, char *why,
                      size_t whylen)
{
    int r;

    if ((r = net_bridge_check(bridge, why, whylen)) ||
        (r = net_ifname_check(ifname, why, whylen)))
        return r;
    return bridge_ioctl(SIOCBRDELIF, bridge, ifname, why, whylen);
}

/* Xen's own vif scripts, which read xenstore. */
static bool is_xen_script_name(const char *path)
{
    static const char *const names[] = {
        "vif-bridge", "vif-route", "vif-nat", "vif-openvswitch", "vif2",
        "vif-setup",
    };
    const char *base = strrchr(path, '/');

    base = base ? base + 1 : path;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(base, names[i]))
            return true;
    return false;
}

int net_script_path(const char *script, char **path_r, char *why, size_t whylen)
{
    static const char xen_hint[] = " (Xen's own vif scripts read xenstore and do"
        " not run under vmkit; leave script= out to have vmkit add the vif to"
        " its bridge)";
    char *path = NULL, *dir = NULL, *real = NULL;
    struct stat st;
    int r = 0;

    *path_r = NULL;
    if (!script || !*script) {
        set_why(why, whylen, "vif script name is empty");
        return -EINVAL;
    }
    if (script[0] == '/') {
        path = strdup(script);
    } else if ((dir = paths_join(paths_root(PATHS_CONF), NET_SCRIPT_DIR))) {
        path = paths_join(dir, script);
    }
    if (!path) {
        set_why(why, whylen, "out of memory");
        r = -ENOMEM;
        goto out;
    }
    real = realpath(path, NULL);
    if (!strncmp(path, XEN_SCRIPT_DIR, strlen(XEN_SCRIPT_DIR)) ||
        (real && !strncmp(real, XEN_SCRIPT_DIR, strlen(XEN_SCRIPT_DIR)))) {
        set_why(why, whylen, "vif script %s is one of Xen's: they read xenstore"
                " and do not run under vmkit", path);
        r = -ENOTSUP;
        goto out;
    }
    if (stat(path, &st) < 0) {
        int e = errno;

        if (e == ENOENT)
            set_why(why, whylen, "vif script %s does not exist%s", path,
                    is_xen_script_name(path) ? xen_hint : "");
        else
            set_why(why, whylen, "vif script %s: %s", path, strerror(e));
        r = -e;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        set_why(why, whylen, "vif script %s is not a regular file", path);
        r = -EINVAL;
        goto out;
    }
    /* root passes access(X_OK) with any x bit set: ask for one explicitly */
    if (!(st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) || access(path, X_OK) < 0) {
        set_why(why, whylen, "vif script %s is not executable", path);
        r = -EACCES;
        goto out;
    }
    *path_r = path;
    path = NULL;
out:
    free(real);
    free(dir);
    free(path);
    return r;
}

void net_env_free(char **env)
{
    if (!env)
        return;
    for (char **e = env; *e; e++)
        free(*e);
    free(env);
}

char **net_script_env(const struct net_script_vars *vars)
{
    const char *names[] = { "PATH", "vif", "INTERFACE", "mac", "bridge", "ip" };
    const char *values[6];
    char **env;
    size_t n = 0;

    if (!vars || !vars->tap || !vars->mac) {
        errno = EINVAL;
        return NULL;
    }
    values[0] = NET_SCRIPT_PATH;
    values[1] = vars->tap;
    values[2] = vars->tap;
    values[3] = vars->mac;
    values[4] = vars->bridge;
    values[5] = vars->ip;
    if (!(env = calloc(7, sizeof(*env))))
        return NULL;
    for (size_t i = 0; i < 6; i++) {
        if (!values[i])
            continue;
        if (asprintf(&env[n], "%s=%s", names[i], values[i]) < 0) {
            env[n] = NULL;
            net_env_free(env);
            errno = ENOMEM;
            return NULL;
        }
        n++;
    }
    return env;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* The last NET_SCRIPT_ERR_TAIL bytes of a stream. */
struct tail {
    char buf[NET_SCRIPT_ERR_TAIL];
    size_t len;
    bool cut;               /* bytes were dropped from the front */
};

static void tail_add(struct tail *t, const char *p, size_t n)
{
    if (n >= sizeof(t->buf)) {
        t->cut = t->cut || t->len > 0 || n > sizeof(t->buf);
        memcpy(t->buf, p + n - sizeof(t->buf), sizeof(t->buf));
        t->len = sizeof(t->buf);
        return;
    }
    if (t->len + n > sizeof(t->buf)) {
        size_t drop = t->len + n - sizeof(t->buf);

        memmove(t->buf, t->buf + drop, t->len - drop);
        t->len -= drop;
        t->cut = true;
    }
    memcpy(t->buf + t->len, p, n);
    t->len += n;
}

/* The tail as one line in out (2 * NET_SCRIPT_ERR_TAIL + 4 bytes hold
 * all of it): "..." first when the stream was cut, which then starts
 * at its first whole line; newlines as "; ", other control characters
 * as `?', surrounding whitespace dropped. */
static void tail_text(const struct tail *t, char *out, size_t outlen)
{
    size_t a = 0, b = t->len, o = 0;

    if (t->cut) {               /* start at a whole line when there is one */
        const char *nl = memchr(t->buf, '\n', t->len);

        if (nl && (size_t)(nl - t->buf) + 1 < t->len)
            a = (size_t)(nl - t->buf) + 1;
    }
    while (a < b && (t->buf[a] == '\n' || t->buf[a] == ' ' || t->buf[a] == '\t' ||
                     t->buf[a] == '\r'))
        a++;
    while (b > a && (t->buf[b - 1] == '\n' || t->buf[b - 1] == ' ' ||
                     t->buf[b - 1] == '\t' || t->buf[b - 1] == '\r'))
        b--;
    if (outlen == 0)
        return;
    if (t->cut && o + 3 < outlen) {
        memcpy(out, "...", 3);
        o = 3;
    }
    for (size_t i = a; i < b && o + 3 < outlen; i++) {
        unsigned char c = (unsigned char)t->buf[i];

        if (c == '\n') {
            out[o++] = ';';
            out[o++] = ' ';
        } else {
            out[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
        }
    }
    out[o] = '\0';
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;             /* the log is best effort */
        p += w;
        n -= (size_t)w;
    }
}

/* Reads what the pipe holds now into t (and log_fd); false at EOF. */
static bool drain(int fd, int log_fd, struct tail *t)
{
    char chunk[4096];

    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n > 0) {
            if (log_fd >= 0)
                write_all(log_fd, chunk, (size_t)n);
            tail_add(t, chunk, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0;           /* EAGAIN: open, nothing more now */
    }
}

int net_script_run(const char *script, const char *action,
                   const struct net_script_vars *vars, int log_fd,
                   int timeout_ms, char *why, size_t whylen)
{
    char *argv[3] = { NULL, NULL, NULL };
    char **env = NULL, status_text[96];
    struct tail *t = NULL;
    struct proc_opts o;
    long long deadline = timeout_ms < 0 ? 0 : now_ms() + timeout_ms;
    int pipefd[2] = { -1, -1 }, status = 0, r = 0;
    bool started = false, exited = false, pipe_open = true;
    pid_t pid = -1;

    if (!script || !action) {
        set_why(why, whylen, "vif script: no script or action");
        return -EINVAL;
    }
    if (!(env = net_script_env(vars))) {
        r = -errno;
        set_why(why, whylen, "vif script %s: %s", script, strerror(errno));
        goto out;
    }
    if (!(t = calloc(1, sizeof(*t)))) {
        r = -ENOMEM;
        set_why(why, whylen, "out of memory");
        goto out;
    }
    if (pipe2(pipefd, O_CLOEXEC) < 0 ||
        fcntl(pipefd[0], F_SETFL, O_NONBLOCK) < 0) {
        r = -errno;
        set_why(why, whylen, "vif script %s: pipe: %s", script, strerror(errno));
        goto out;
    }
    argv[0] = (char *)script;
    argv[1] = (char *)action;
    proc_opts_init(&o);
    o.envp = env;
    o.stdin_fd = PROC_NULL;
    o.stdout_fd = log_fd >= 0 ? log_fd : PROC_NULL;
    o.stderr_fd = pipefd[1];
    o.new_session = true;
    if ((r = proc_start(script, argv, &o, &pid))) {
        set_why(why, whylen, "cannot run vif script %s: %s", script, strerror(-r));
        goto out;
    }
    started = true;
    close(pipefd[1]);
    pipefd[1] = -1;

    /* Until the script exits: its stderr to the log and the tail.  A
     * daemon it left behind may keep the pipe open: once the script
     * itself has exited, what is in the pipe is read and no more. */
    while (!exited) {
        long long left = timeout_ms < 0 ? 100 : deadline - now_ms();
        struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };

        if (left <= 0) {
            proc_kill(pid, 2000);
            exited = true;
            r = -ETIMEDOUT;
            break;
        }
        if (pipe_open) {
            if (poll(&pfd, 1, left < 100 ? (int)left : 100) > 0)
                pipe_open = drain(pipefd[0], log_fd, t);
        } else {
            struct timespec ts = { 0, 10 * 1000 * 1000 };

            nanosleep(&ts, NULL);
        }
        if (proc_wait(pid, 0, &status) == 0) {
            exited = true;
            if (pipe_open)
                drain(pipefd[0], log_fd, t);
        }
    }
    if (r == -ETIMEDOUT) {
        char tt[2 * NET_SCRIPT_ERR_TAIL + 8];

        tail_text(t, tt, sizeof(tt));
        set_why(why, whylen, "vif script %s %s for %s did not finish within %d %s"
                " and was killed%s%s", script, action, vars->tap,
                timeout_ms % 1000 ? timeout_ms : timeout_ms / 1000,
                timeout_ms % 1000 ? "ms" : "s", *tt ? "; stderr: " : "", tt);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char tt[2 * NET_SCRIPT_ERR_TAIL + 8];

        tail_text(t, tt, sizeof(tt));
        set_why(why, whylen, "vif script %s %s for %s %s%s%s", script, action,
                vars->tap, proc_status_text(status, status_text, sizeof(status_text)),
                *tt ? "; stderr: " : "", tt);
        r = -EIO;
    }
out:
    if (started && !exited)
        proc_kill(pid, 2000);
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    free(t);
    net_env_free(env);
    return r;
}

/* why = "vif N: " + msg. */
static void vif_why(char *why, size_t whylen, size_t index, const char *msg)
{
    set_why(why, whylen, "vif %zu: %s", index, msg);
}

int net_vif_plug(const struct domain_desc *dom, size_t index, int domid,
                 int log_fd, char tap_r[NET_IFNAME_SIZE], char *why,
                 size_t whylen)
{
    const struct vif_spec *v;
    struct net_script_vars vars;
    char mac[18], tap[NET_IFNAME_SIZE], *script = NULL, *msg = NULL;
    int r;

    tap_r[0] = '\0';
    if (index >= dom->nvifs) {
        set_why(why, whylen, "vif %zu: no such vif", index);
        return -EINVAL;
    }
    v = &dom->vifs[index];
    if (v->netdev_user)
        return 0;
    if (!(msg = malloc(MSG_MAX))) {
        set_why(why, whylen, "out of memory");
        return -ENOMEM;
    }
    if ((r = net_guest_mac(dom, index, mac))) {
        vif_why(why, whylen, index, "has no mac and the domain has no uuid");
        goto out;
    }
    if ((r = net_tap_name(v, domid, index, tap, msg, MSG_MAX)))
        goto fail;
    if (v->script) {
        if ((r = net_script_path(v->script, &script, msg, MSG_MAX)))
            goto fail;
    } else if (v->bridge) {
        if ((r = net_bridge_check(v->bridge, msg, MSG_MAX)))
            goto fail;
    } else {
        set_why(why, whylen, "vif %zu names no bridge (give it bridge=, script="
                " or netdev=user)", index);
        r = -EINVAL;
        goto out;
    }
    if ((r = net_tap_create(tap, v->mtu, msg, MSG_MAX)))
        goto fail;
    if (script) {
        vars.tap = tap;
        vars.mac = mac;
        vars.bridge = v->bridge;
        vars.ip = v->ip;
        r = net_script_run(script, "online", &vars, log_fd, NET_SCRIPT_TIMEOUT_MS,
                           msg, MSG_MAX);
        if (r)
            net_script_run(script, "offline", &vars, log_fd, NET_SCRIPT_TIMEOUT_MS,
                           NULL, 0);
    } else {
        r = net_bridge_add(v->bridge, tap, msg, MSG_MAX);
    }
    if (r) {
        net_tap_delete(tap, NULL, 0);
        goto fail;
    }
    memcpy(tap_r, tap, sizeof(tap));
    goto out;
fail:
    vif_why(why, whylen, index, msg);
out:
    free(script);
    free(msg);
    return r;
}

int net_vif_unplug(const struct domain_desc *dom, size_t index, const char *tap,
                   int log_fd, char *why, size_t whylen)
{
    const struct vif_spec *v;
    char mac[18], *script = NULL, *msg = NULL;
    int r = 0, e;

    if (!tap || !*tap)
        return 0;
    if (index >= dom->nvifs) {
        set_why(why, whylen, "vif %zu: no such vif", index);
        return -EINVAL;
    }
    v = &dom->vifs[index];
    if (!(msg = malloc(MSG_MAX))) {
        /* still delete the tap */
        e = net_tap_delete(tap, NULL, 0);
        set_why(why, whylen, "out of memory");
        return e && e != -ENOENT ? e : -ENOMEM;
    }
    if (v->script) {
        struct net_script_vars vars;

        if (net_guest_mac(dom, index, mac))
            mac[0] = '\0';
        vars.tap = tap;
        vars.mac = mac;
        vars.bridge = v->bridge;
        vars.ip = v->ip;
        if ((r = net_script_path(v->script, &script, msg, MSG_MAX)) == 0)
            r = net_script_run(script, "offline", &vars, log_fd,
                               NET_SCRIPT_TIMEOUT_MS, msg, MSG_MAX);
        if (r)
            vif_why(why, whylen, index, msg);
    }
    e = net_tap_delete(tap, msg, MSG_MAX);
    if (e && e != -ENOENT && !r) {
        vif_why(why, whylen, index, msg);
        r = e;
    }
    free(script);
    free(msg);
    return r;
}
