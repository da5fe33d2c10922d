# shellcheck shell=bash disable=SC2034,SC2154
# bench/lib.sh - what the bench scripts that make guests share; sourced
# (bash, set -eu, from the top of the tree) by bench/provision and
# bench/batch, which set `me' (their name, for messages) first.
#
#   bench_mirror        mirror: the host's mirror (build/tests/host-mirror
#                       says which; none is named in the scripts)
#   bench_tree NAME     t: a temp tree /tmp/vmkit-bench-NAME.XXXXXX holding
#                       VMKIT_CONFDIR, _LIBDIR, _CACHEDIR, _RUNDIR, _LOGDIR
#                       (exported, so never the host's /var/cache/vmkit;
#                       the cache directory itself is not made), xen/img,
#                       xen/cfg, xen/tmp and out; cleanup at exit, and
#                       exit 130 on SIGINT or SIGTERM
#   now_ns, secs T0 T1  the time in ns; T1 - T0 in seconds, one decimal
#   failed WHAT OUT [LOG]   say WHAT failed, with the ends of its output
#                       and log, and exit 1
#   disk_use DIR        "apparent / allocated", du -sh
#   xt_run NAME ARG...  one xen-create-image guest (below)

bench_mirror() {
    local hm
    make -s build/tests/host-mirror >&2
    hm=$(build/tests/host-mirror)   # "URI SUITE"
    mirror=${hm%% *}
}

bench_tree() {
    t=$(mktemp -d "/tmp/vmkit-bench-$1.XXXXXX")
    export VMKIT_CONFDIR=$t/conf VMKIT_LIBDIR=$t/lib VMKIT_CACHEDIR=$t/cache \
        VMKIT_RUNDIR=$t/run VMKIT_LOGDIR=$t/log
    mkdir -p "$VMKIT_CONFDIR" "$VMKIT_LIBDIR" "$VMKIT_RUNDIR" "$VMKIT_LOGDIR" \
        "$t/xen/img" "$t/xen/cfg" "$t/xen/tmp" "$t/out"
    xtlog=/var/log/xen-tools
    [ -d "$xtlog" ] && xtlog_was_there=1 || xtlog_was_there=
    xt_names=()
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

bench_cleanup() {
    set +e
    # mounts under the temp tree, deepest first
    awk -v t="$t/" 'index($2, t) == 1 { print $2 }' /proc/self/mounts | sort -r |
        while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
    # loop devices on files in it
    losetup -n -l -O NAME,BACK-FILE 2>/dev/null |
        awk -v t="$t/" 'index($2, t) == 1 { print $1 }' |
        while read -r d; do losetup -d "$d"; done
    rm -rf "$t"
    for n in "${xt_names[@]}"; do rm -f "$xtlog/$n.log" "$xtlog/$n".*.log; done
    [ -n "$xtlog_was_there" ] || rmdir "$xtlog" 2>/dev/null
}

now_ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }
failed() {  # failed WHAT OUT [LOG]: say so, with the ends of its output and log
    echo "$me: $1 failed; the end of its output:" >&2
    tail -n 20 "$2" >&2
    if [ -n "${3:-}" ] && [ -f "$3" ]; then
        echo "--- and of $3:" >&2
        tail -n 20 "$3" >&2
    fi
    exit 1
}
disk_use() {  # disk_use DIR: "apparent / allocated"
    echo "$(du -sh --apparent-size "$1" | cut -f1) / $(du -sh "$1" | cut -f1)"
}

# xt_run NAME ARG...: Debian's xen-create-image (xen-tools, file images
# under --dir, debootstrap) makes guest NAME of $dist from $mirror with root
# password $password, its images in $t/xen/img/domains/NAME/ and its config
# in $t/xen/cfg/NAME.cfg; ARG... give the guest's shape (--size, --swap or
# --noswap, --memory, --dhcp or --ip, ...).  Sets s, the seconds it took;
# on failure, failed.  Its debs cache is $t/xen/debs (the caller makes it).
#
# xen-create-image (xen-tools 4.9.2) is run as a user without Xen would:
#  - No Xen on the host is fine: only --boot needs xl/xm (we pass --noboot).
#  - --pygrub: without it the guest is to boot dom0's kernel (xen-tools.conf
#    names /boot/vmlinuz-`uname -r`) and gets dom0's /lib/modules copied in,
#    neither of which a non-Xen host has; with it, hook 80-install-kernel
#    installs linux-image-amd64 and its initramfs in the guest, as
#    vm-provision does.
#  - --dist and --mirror always: xen-tools.conf's default dist comes from
#    xt-guess-suite-and-mirror, which reads only /etc/apt/sources.list (not
#    deb822 .sources files) and prints "Couldn't find a useful entry in the
#    sources.list files of the Dom0" on every run; harmless with both given.
#  - --output DIR: the config goes to the temp tree, not /etc/xen/NAME.cfg.
#  - --nohosts --nocopyhosts: else it adds the guest to dom0's /etc/hosts
#    and copies dom0's /etc/hosts into the guest.
#  - --password X: no prompt (it still says "Generating a password for the
#    new guest." and shows the password in its summary).
#  - --cache yes --cachedir DIR: its cache is the debs debootstrap fetched,
#    copied into the target before debootstrap and back out after it. The
#    default DIR is the host's /var/cache/apt/archives, which would make the
#    cold run warm and fill the host's cache, so it is in the temp tree.
#    What the hooks install afterwards with apt-get (the kernel, 70 MB,
#    openssh-server) is never cached: a warm xen-create-image still
#    downloads it.
#  - TMPDIR: its loop mount point is a File::Temp directory; pointed into
#    the temp tree, so that whatever an interrupted run leaves mounted
#    (the image, the chroot's /proc and /dev/pts) is found and unmounted.
#    A failed run leaves them too: its END block dies ("read_dir .../etc/ssh
#    - opendir: No such file or directory ... END failed--call queue
#    aborted") before unmounting, and File::Temp then cannot remove the
#    busy mount point. bench_cleanup unmounts whatever is mounted under
#    the temp tree and detaches the loop devices on its files.
#  - Its log always goes to /var/log/xen-tools/NAME.log (no option moves
#    it): removed at exit, and the directory too if this run made it.
xt_run() {
    local name=$1 out=$t/out/$1.out t0
    shift
    xt_names+=("$name")
    t0=$(now_ns)
    TMPDIR=$t/xen/tmp xen-create-image --hostname "$name" --dir "$t/xen/img" \
        --output "$t/xen/cfg" --dist "$dist" --arch amd64 --mirror "$mirror" \
        --install-method debootstrap --fs ext4 --image sparse \
        --password "$password" --pygrub --noboot --nohosts --nocopyhosts \
        --cache yes --cachedir "$t/xen/debs" "$@" >"$out" 2>&1 ||
        failed "xen-create-image $name" "$out" "$xtlog/$name.log"
    s=$(secs "$t0" "$(now_ns)")
    [ -f "$t/xen/cfg/$name.cfg" ] ||
        failed "xen-create-image $name (no $t/xen/cfg/$name.cfg)" "$out" "$xtlog/$name.log"
}
