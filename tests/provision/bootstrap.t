#!/bin/sh
# timeout: 600
#
# bootstrap.t - install_root for real (build/tests/install-driver): an
# mmdebstrap of the host's own release from the host's own mirror
# (build/tests/host-mirror; no mirror is named here) into a staging
# directory, with a cache directory of the test's own:
#   - the root has a kernel and an initramfs, built once, holding the
#     virtio drivers (or the kernel has them built in);
#   - the base root and the packages are cached, no temporary is left;
#   - a second install is a cache hit, quick, and gives the same tree,
#     file for file (owners, modes, xattrs such as ping's capability);
#   - --no-cache builds without touching its cache directory;
#   - an install interrupted (SIGTERM) in the middle of mmdebstrap, and
#     one interrupted while it writes the cache, stop promptly and leave
#     no cache entry, no temporary, no process, no mount.
# The timings go to the TAP output as comments.  Run from the top of the
# tree, as root, after make build/tests/install-driver build/tests/host-mirror.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh

if [ "$(id -u)" != 0 ]; then
    echo "1..0 # SKIP needs root (mmdebstrap --mode=root)"
    exit 0
fi
for t in mmdebstrap unshare dpkg; do
    if ! command -v "$t" > /dev/null 2>&1; then
        echo "1..0 # SKIP $t not installed"
        exit 0
    fi
done
top=$(pwd)
driver=$top/build/tests/install-driver
hostmirror=$top/build/tests/host-mirror
for p in "$driver" "$hostmirror"; do
    if [ ! -x "$p" ]; then
        echo "Bail out! $p missing: make ${p#"$top"/}"
        exit 1
    fi
done
if ! mirror=$("$hostmirror" 2> /dev/null); then
    echo "1..0 # SKIP no Debian mirror in the host's apt sources"
    exit 0
fi
set -- $mirror
uri=$1 suite=$2
arch=$(dpkg --print-architecture)
hooks=$top/hooks/debian/bootstrap

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmkit-bootstrap.XXXXXX") || exit 1
bg=
cleanup() {
    [ -z "$bg" ] || kill -KILL "$bg" 2> /dev/null
    rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cache=$tmp/cache
# check STATUS DESCRIPTION: ok, and STATUS again (for `|| diagnostics')
check() { ok "$1" "$2"; return "$1"; }
# field NAME FILE: the value of the driver's "NAME value" line
field() { sed -n "s/^$1 //p" "$2"; }

packages="linux-image-$arch initramfs-tools zstd systemd-sysv udev iputils-ping libcap2-bin"
# install NAME [driver options...]: into $tmp/NAME, output in
# $tmp/NAME.{out,err,log}; the driver replaces the shell (exec), so that
# `(install ...) &' gives its pid in $!
install() {
    name=$1
    shift
    mkdir -p "$tmp/$name"
    set -- --method mmdebstrap --suite "$suite" --arch "$arch" --mirror "$uri" \
        --component main --hooks "$hooks" --staging "$tmp/$name" \
        --log "$tmp/$name.log" "$@"
    for p in $packages; do
        set -- "$@" --package "$p"
    done
    exec "$driver" install "$@" > "$tmp/$name.out" 2> "$tmp/$name.err"
}
manifest() { "$driver" manifest "$1" | LC_ALL=C sort; }
# nothing mounted under $tmp, no process with its root or cwd there
no_leftovers() {
    ! grep -qF " $tmp/" /proc/mounts || return 1
    for p in /proc/[0-9]*; do
        for l in root cwd; do
            case $(readlink "$p/$l" 2> /dev/null) in
            "$tmp"/*) return 1 ;;
            esac
        done
    done
    return 0
}
temps() { find "$cache" -name '.*.tmp.*' 2> /dev/null; }
entries() { find "$cache/base" -name '*.tar.zst' 2> /dev/null | wc -l; }

# --- a cold install -----------------------------------------------------
(install cold --cachedir "$cache")
check $? "a cold mmdebstrap install ($suite from $uri)" ||
    { cat "$tmp/cold.err"; tail -n 30 "$tmp/cold.log"; } | diag
[ "$(field cache_hit "$tmp/cold.out")" = 0 ]
check $? "is not a cache hit"
key=$(field key "$tmp/cold.out")
echo "$key" | grep -Eqx '[0-9a-f]{64}'
check $? "and has a key ($key)"

set -- "$tmp"/cold/boot/vmlinuz-*
[ $# -eq 1 ] && [ -f "$1" ]
check $? "the root has a kernel" || ls -l "$tmp/cold/boot" | diag
kver=${1##*/vmlinuz-}
[ -f "$tmp/cold/boot/initrd.img-$kver" ]
check $? "and its initramfs"
[ "$(grep -c 'update-initramfs: Generating' "$tmp/cold.log")" -eq 1 ]
check $? "built once (INITRD=No during the install)" ||
    grep update-initramfs "$tmp/cold.log" | diag
grep -qx 'MODULES=most' "$tmp/cold/etc/initramfs-tools/conf.d/vmkit"
check $? "the initramfs configuration says MODULES=most"
listing=$(chroot "$tmp/cold" lsinitramfs "/boot/initrd.img-$kver" 2> "$tmp/lsinitramfs.err")
check $? "the guest's lsinitramfs lists it" || diag < "$tmp/lsinitramfs.err"
missing=
for m in virtio_pci virtio_mmio virtio_blk virtio_net virtio_console; do
    grep -qx "$m" "$tmp/cold/etc/initramfs-tools/modules" || missing="$missing $m(unlisted)"
    if ! printf '%s\n' "$listing" | grep -Eq "/$m\\.ko(\\.(xz|zst|gz))?\$" &&
        ! grep -Eq "(^|/)$m\\.ko\$" "$tmp/cold/lib/modules/$kver/modules.builtin"; then
        missing="$missing $m"
    fi
done
[ -z "$missing" ]
check $? "the virtio drivers are in the initramfs or built in" ||
    echo "missing:$missing" | diag

[ -f "$cache/base/$key.tar.zst" ] && [ -f "$cache/base/$key.info" ]
check $? "the base root is in the cache (base/KEY.tar.zst, KEY.info)" ||
    ls -la "$cache/base" | diag
grep -qx "suite $suite" "$cache/base/$key.info" &&
    grep -q "^packages .*linux-image-$arch" "$cache/base/$key.info"
check $? "KEY.info describes it" || diag < "$cache/base/$key.info"
[ -z "$(temps)" ]
check $? "no temporary is left in the cache"
ndebs=$(find "$cache/debs/$suite-$arch" -name '*.deb' | wc -l)
[ "$ndebs" -gt 50 ]
check $? "the packages are in the package cache ($ndebs)"
no_leftovers
check $? "nothing mounted, no process left in the staging directory"

# --- a warm one -----------------------------------------------------------
start=$(date +%s.%N)
(install warm --cachedir "$cache")
check $? "a second install" || diag < "$tmp/warm.err"
warm_total=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
[ "$(field cache_hit "$tmp/warm.out")" = 1 ] && [ "$(field key "$tmp/warm.out")" = "$key" ]
check $? "is a cache hit, with the same key"
awk -v t="$warm_total" 'BEGIN { exit !(t < 15) }'
check $? "and quick (${warm_total} s in all)"
manifest "$tmp/cold" > "$tmp/cold.manifest"
manifest "$tmp/warm" > "$tmp/warm.manifest"
cmp -s "$tmp/cold.manifest" "$tmp/warm.manifest"
check $? "the same tree as the cold install, file for file" ||
    diff "$tmp/cold.manifest" "$tmp/warm.manifest" | head -n 20 | diag
grep -Eq '^usr/bin/ping .*security\.capability=' "$tmp/warm.manifest" ||
    grep -Eq '^usr/bin/ping 1047' "$tmp/warm.manifest"
check $? "ping keeps its capability (or set-uid bit)" ||
    grep '^usr/bin/ping ' "$tmp/warm.manifest" | diag
rm -rf --one-file-system "$tmp/cold" "$tmp/warm"

# --- without the cache --------------------------------------------------
(install nocache --cachedir "$tmp/nocache-cache" --no-cache)
check $? "an install with --no-cache" || { cat "$tmp/nocache.err"; tail -n 30 "$tmp/nocache.log"; } | diag
[ "$(field cache_hit "$tmp/nocache.out")" = 0 ] && [ "$(field key "$tmp/nocache.out")" = - ]
check $? "uses no cache key"
[ ! -e "$tmp/nocache-cache" ]
check $? "and never touches its cache directory"
! grep -q 'debcache:' "$tmp/nocache.log"
check $? "the hooks get no package cache" || grep 'debcache:' "$tmp/nocache.log" | diag
rm -rf --one-file-system "$tmp/nocache"

# --- interrupted ------------------------------------------------------------
packages="$packages less"
# start NAME: install in the background, its pid in $bg
start() {
    (install "$@") &
    bg=$!
}
# stop: SIGTERM to the driver; its exit status in $rc, the seconds it took in $took
stop() {
    t=$(date +%s.%N)
    kill -TERM "$bg"
    wait "$bg"
    rc=$?
    bg=
    took=$(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
}
# wait_for SECONDS COMMAND...: until COMMAND succeeds
wait_for() {
    n=$(($1 * 20))
    shift
    while [ "$n" -gt 0 ]; do
        "$@" && return 0
        kill -0 "$bg" 2> /dev/null || return 1
        sleep 0.05
        n=$((n - 1))
    done
    return 1
}
dpkg_busy() { grep -q 'installing remaining packages' "$tmp/$1.log" 2> /dev/null; }
writing_cache() { [ -n "$(temps)" ]; }

start int1 --cachedir "$cache"
wait_for 300 dpkg_busy int1
check $? "an install reaches the packages' installation" || tail -n 20 "$tmp/int1.log" | diag
sleep 2
stop
[ "$rc" -eq 3 ] && grep -q cancelled "$tmp/int1.err"
check $? "SIGTERM in the middle of mmdebstrap cancels it (${took} s)" ||
    { echo "exit $rc"; cat "$tmp/int1.err"; } | diag
awk -v t="$took" 'BEGIN { exit !(t < 20) }'
check $? "promptly"
[ -z "$(temps)" ] && [ "$(entries)" -eq 1 ]
check $? "no new cache entry, no temporary" || ls -la "$cache/base" | diag
no_leftovers
check $? "nothing mounted, no process left in the staging directory"
rm -rf --one-file-system "$tmp/int1"
check $? "the staging directory can be removed"

start int2 --cachedir "$cache"
wait_for 400 writing_cache
check $? "an install reaches the writing of the cache" ||
    { cat "$tmp/int2.err"; tail -n 20 "$tmp/int2.log"; } | diag
stop
[ "$rc" -eq 3 ]
check $? "SIGTERM while it writes the cache cancels it (${took} s)" ||
    { echo "exit $rc"; cat "$tmp/int2.err"; } | diag
[ -z "$(temps)" ] && [ "$(entries)" -eq 1 ]
check $? "no new cache entry, no temporary" || ls -la "$cache/base" | diag
no_leftovers
check $? "nothing mounted, no process left in the staging directory"

# --- timings ------------------------------------------------------------------
{
    echo "cold mmdebstrap: $(field seconds_bootstrap "$tmp/cold.out") s," \
        "cache write: $(field seconds_cache_write "$tmp/cold.out") s" \
        "($(du -m "$cache/base/$key.tar.zst" | cut -f1) MiB zstd for" \
        "$(($(field bytes "$tmp/cold.out") / 1048576)) MiB in $(field entries "$tmp/cold.out") files)"
    echo "warm: extract $(field seconds_extract "$tmp/warm.out") s, $warm_total s in all"
    echo "--no-cache mmdebstrap: $(field seconds_bootstrap "$tmp/nocache.out") s"
    echo "mmdebstrap with the package cache (until interrupted in the cache write):" \
        "$(grep -o 'success in [0-9.]* seconds' "$tmp/int2.log")"
} | diag

done_testing
