#!/usr/bin/env bash
# timeout: 120
#
# hooks.t - each of vm-provision's hooks (hooks/common, hooks/debian,
# hooks/roles/*) run against a temporary root, as the hook runner runs
# it (`HOOK ROOT', only PATH and the VMKIT_* variables given in its
# environment), checking what it wrote: contents, link targets, what it
# refuses, and that a second run changes nothing.
#
# The hooks that chroot into the guest (40-kernel, 32-locale) get a tiny
# working system: the host's static busybox with its applets, plus fake
# guest tools written here (lsinitramfs prints the "initramfs", which is
# a listing; update-initramfs records its call and writes a new listing
# from /etc/initramfs-tools/modules; locale -a and locale-gen keep their
# state in a file), so that the hooks' decisions (rebuild only when
# needed, fail when still wrong) run for real.  Needs root (chroot).
# The hook runner itself is tested by build/tests/test-hooks.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/lib/tap.sh
. tests/lib/tap.sh
# check STATUS DESCRIPTION: ok, and STATUS again (for `|| diagnostics')
check() { ok "$1" "$2"; return "$1"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hooks.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# The variables the pipeline exports to hooks (vm-provision(8)); a hook
# that reads any other VMKIT_* variable is a mistake.
known=" VMKIT_HOSTNAME VMKIT_DIST VMKIT_FAMILY VMKIT_SUITE VMKIT_ARCH VMKIT_MIRROR"
known+=" VMKIT_COMPONENTS VMKIT_FS VMKIT_ROOT_DEVICE VMKIT_SWAP_DEVICE VMKIT_CONSOLE"
known+=" VMKIT_NETWORK_STYLE VMKIT_KERNEL_PACKAGE VMKIT_ROLE VMKIT_DHCP VMKIT_IP"
known+=" VMKIT_NETMASK VMKIT_GATEWAY VMKIT_NAMESERVER VMKIT_MAC VMKIT_BRIDGE VMKIT_MEMORY"
known+=" VMKIT_VCPUS VMKIT_SIZE VMKIT_SWAP VMKIT_IMAGE_FORMAT VMKIT_TIMEZONE VMKIT_LOCALE "

# the hook named NAME, wherever it is
path_of() {
    local p
    for p in hooks/common/"$1" hooks/debian/"$1" hooks/roles/*/"$1"; do
        [ -f "$p" ] && { echo "$p"; return 0; }
    done
    echo "hooks/NOT-FOUND/$1"
}

# hook NAME ROOT [VAR=VALUE...]: runs it with only PATH and these; rc, $tmp/out
hook() {
    local h r
    h=$(path_of "$1")
    r=$2
    shift 2
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@" "$h" "$r" > "$tmp/out" 2>&1
    rc=$?
}
show() { { echo "exit $rc"; cat "$tmp/out"; } | diag; }
# twice NAME ROOT [VAR=VALUE...]: runs it twice; ok when both succeed and
# the second changes nothing under ROOT
twice() {
    local name=$1 r=$2 before after
    hook "$@"
    [ "$rc" -eq 0 ] || { check 1 "$name: first run" || show; return; }
    before=$(snapshot "$r")
    hook "$@"
    after=$(snapshot "$r")
    [ "$rc" -eq 0 ] && [ "$before" = "$after" ]
    check $? "$name: a second run succeeds and changes nothing" || {
        show
        diff <(echo "$before") <(echo "$after") | diag
    }
}
# snapshot DIR: every path, its type, mode, link target and content hash
snapshot() {
    (cd "$1" && find . -path ./proc -prune -o -printf '%p %y %m %l\n' | sort &&
        find . -type f -exec md5sum {} + | sort)
}
# fails NAME ROOT WANT [VAR=VALUE...]: the hook fails, saying WANT
fails() {
    local name=$1 r=$2 want=$3
    shift 3
    hook "$name" "$r" "$@"
    [ "$rc" -ne 0 ] && grep -qF -- "$want" "$tmp/out"
    check $? "$name fails: $want" || show
}
# is FILE WANT DESCRIPTION: FILE holds exactly WANT (and a newline)
is() {
    local got
    got=$(cat "$1" 2> /dev/null)
    [ "$got" = "$2" ]
    check $? "$3" || diff <(echo "$2") <(echo "$got") | diag
}
newroot() { rm -rf "$tmp/root" && mkdir -p "$tmp/root" && echo "$tmp/root"; }

# A root that chroot can run: busybox and its applets, plus the fakes.
busybox_root() {
    local r a
    r=$(newroot)
    mkdir -p "$r/bin" "$r/sbin" "$r/usr/bin" "$r/usr/sbin" "$r/etc" "$r/tmp" "$r/var/log" \
        "$r/dev"
    mknod -m 666 "$r/dev/null" c 1 3    # the hook runner bind-mounts the host's /dev
    cp /bin/busybox "$r/bin/busybox"
    for a in sh cat grep sed echo printf touch mkdir rm cp mv ls sort tr awk head wc test \
        '[' env true false basename; do
        ln -s busybox "$r/bin/$a"
    done
    echo "$r"
}

# ---- every hook: shape ----------------------------------------------------

all=$(ls hooks/common/[0-9][0-9]-* hooks/debian/[0-9][0-9]-* hooks/roles/*/[0-9][0-9]-*)
[ -n "$all" ]
check $? "there are hooks" || true
for h in $all; do
    n=${h##*/}
    bad=
    [ -x "$h" ] || bad="$bad not-executable"
    [ "$(head -n 1 "$h")" = "#!/bin/sh" ] || bad="$bad no-#!/bin/sh"
    grep -q "^# $n ROOT - " "$h" || bad="$bad no-header-comment"
    grep -q '^set -eu$' "$h" || bad="$bad no-set-eu"
    sh -n "$h" 2> /dev/null || bad="$bad syntax"
    # every VMKIT_* it uses is one the pipeline exports, and its header says so
    header=$(sed -n '2,/^[^#]/p' "$h")
    while read -r v; do
        [ -n "$v" ] || continue
        case $known in
        *" $v "*) ;;
        *) bad="$bad unknown:$v" ;;
        esac
        case $header in
        *"$v"*) ;;
        *) bad="$bad undocumented:$v" ;;
        esac
    done < <(grep -v '^#' "$h" | grep -o 'VMKIT_[A-Z_]*' | sort -u)
    case $header in
    *"Reads "*) ;;
    *) bad="$bad no-Reads-line" ;;
    esac
    [ -z "$bad" ]
    check $? "$h: executable, #!/bin/sh, header, set -eu, documented variables" ||
        echo "$bad" | diag
done
if command -v shellcheck > /dev/null; then
    # shellcheck disable=SC2086
    shellcheck -s sh $all > "$tmp/sc" 2>&1
    check $? "shellcheck is clean" || diag < "$tmp/sc"
else
    ok 0 "# SKIP shellcheck is not installed"
fi

# ---- 01-policy-rc.d, 99-policy-rc.d-remove ---------------------------------

r=$(newroot)
hook 01-policy-rc.d "$r"
[ "$rc" -eq 0 ] && [ -x "$r/usr/sbin/policy-rc.d" ] && grep -q '^exit 101$' "$r/usr/sbin/policy-rc.d"
check $? "01-policy-rc.d: writes an executable policy-rc.d that exits 101" || show
sh "$r/usr/sbin/policy-rc.d" ssh start
[ $? -eq 101 ]
check $? "01-policy-rc.d: running it forbids the action"
twice 01-policy-rc.d "$r"
hook 99-policy-rc.d-remove "$r"
[ "$rc" -eq 0 ] && [ ! -e "$r/usr/sbin/policy-rc.d" ]
check $? "99-policy-rc.d-remove: removes it" || show
twice 99-policy-rc.d-remove "$r"
printf '#!/bin/sh\nexit 0\n' > "$r/usr/sbin/policy-rc.d"
hook 01-policy-rc.d "$r"
[ "$rc" -eq 0 ] && grep -q '^exit 0$' "$r/usr/sbin/policy-rc.d" && grep -q "guest's own" "$tmp/out"
check $? "01-policy-rc.d: leaves the guest's own policy-rc.d alone" || show
hook 99-policy-rc.d-remove "$r"
[ "$rc" -eq 0 ] && grep -q '^exit 0$' "$r/usr/sbin/policy-rc.d"
check $? "99-policy-rc.d-remove: does not remove the guest's own" || show

# ---- 10-fstab ---------------------------------------------------------------

r=$(newroot)
fsenv=(VMKIT_ROOT_DEVICE=LABEL=root VMKIT_SWAP_DEVICE=LABEL=swap)
hook 10-fstab "$r" "${fsenv[@]}" VMKIT_FS=ext4
is "$r/etc/fstab" "# /etc/fstab: static file system information (written by vm-provision).
#
# <file system> <mount point> <type> <options> <dump> <pass>
LABEL=root / ext4 errors=remount-ro 0 1
LABEL=swap none swap sw 0 0
proc /proc proc defaults 0 0
devpts /dev/pts devpts gid=5,mode=620 0 0" "10-fstab: ext4 with swap"
twice 10-fstab "$r" "${fsenv[@]}" VMKIT_FS=ext4
hook 10-fstab "$r" VMKIT_ROOT_DEVICE=UUID=0c1d2e3f VMKIT_FS=xfs
grep -v '^#' "$r/etc/fstab" > "$tmp/lines"
is "$tmp/lines" "UUID=0c1d2e3f / xfs defaults 0 0
proc /proc proc defaults 0 0
devpts /dev/pts devpts gid=5,mode=620 0 0" "10-fstab: xfs, no swap: defaults, pass 0"
hook 10-fstab "$r" VMKIT_ROOT_DEVICE=LABEL=root VMKIT_FS=btrfs VMKIT_SWAP_DEVICE=
[ "$(grep '^LABEL' "$r/etc/fstab")" = "LABEL=root / btrfs defaults 0 0" ]
check $? "10-fstab: btrfs, empty swap device: no swap line" || diag < "$r/etc/fstab"
fails 10-fstab "$r" "VMKIT_FS is not set" VMKIT_ROOT_DEVICE=LABEL=root
fails 10-fstab "$r" "expected ext4, xfs or btrfs" VMKIT_ROOT_DEVICE=LABEL=root VMKIT_FS=vfat
fails 10-fstab "$r" "VMKIT_ROOT_DEVICE is not set" VMKIT_FS=ext4
fails 10-fstab "$r" "white space" "VMKIT_ROOT_DEVICE=LABEL=a b" VMKIT_FS=ext4
echo outside > "$tmp/outside"
rm -f "$r/etc/fstab" && ln -s "$tmp/outside" "$r/etc/fstab"
hook 10-fstab "$r" VMKIT_ROOT_DEVICE=LABEL=root VMKIT_FS=ext4
[ "$rc" -eq 0 ] && [ ! -L "$r/etc/fstab" ] && [ "$(cat "$tmp/outside")" = outside ]
check $? "10-fstab: a link in the root is replaced, not followed out of it" || show

# ---- 20-apt-sources ---------------------------------------------------------

r=$(newroot)
deb=(VMKIT_MIRROR=http://mirror.example/debian VMKIT_SUITE=bookworm VMKIT_FAMILY=debian
    VMKIT_COMPONENTS=main)
hook 20-apt-sources "$r" "${deb[@]}"
is "$r/etc/apt/sources.list" "# Written by vm-provision (hook 20-apt-sources) for the mirror the guest was
# installed from.
deb http://mirror.example/debian bookworm main
deb http://mirror.example/debian bookworm-updates main
# Security updates come from a separate archive (debian-security),
# which the mirror's address does not name; add its line, for example:
#   deb http://security.debian.org/debian-security bookworm-security main" \
    "20-apt-sources: Debian: the suite and -updates, security as a comment"
twice 20-apt-sources "$r" "${deb[@]}"
hook 20-apt-sources "$r" VMKIT_MIRROR=http://archive.example/ubuntu VMKIT_SUITE=jammy \
    VMKIT_FAMILY=ubuntu "VMKIT_COMPONENTS=main  universe"
grep -v '^#' "$r/etc/apt/sources.list" > "$tmp/lines"
is "$tmp/lines" "deb http://archive.example/ubuntu jammy main universe
deb http://archive.example/ubuntu jammy-updates main universe
deb http://archive.example/ubuntu jammy-security main universe" \
    "20-apt-sources: Ubuntu: -updates and -security from the same archive"
hook 20-apt-sources "$r" VMKIT_MIRROR=http://mirror.example/debian VMKIT_SUITE=sid \
    VMKIT_FAMILY=debian
is "$r/etc/apt/sources.list" "# Written by vm-provision (hook 20-apt-sources) for the mirror the guest was
# installed from.
deb http://mirror.example/debian sid main" "20-apt-sources: sid: no -updates, no security"
mkdir -p "$r/etc"
printf 'ID=ubuntu\nVERSION_CODENAME=noble\n' > "$r/etc/os-release"
hook 20-apt-sources "$r" VMKIT_MIRROR=http://archive.example/ubuntu VMKIT_DIST=noble
grep -q '^deb http://archive.example/ubuntu noble-security main$' "$r/etc/apt/sources.list"
check $? "20-apt-sources: family from os-release, suite from VMKIT_DIST" || show
hook 20-apt-sources "$r" VMKIT_MIRROR=http://archive.example/ubuntu VMKIT_SUITE=noble \
    VMKIT_FAMILY=debian
grep -q '^deb http://archive.example/ubuntu noble-security main$' "$r/etc/apt/sources.list"
check $? "20-apt-sources: the guest's os-release says Ubuntu whatever VMKIT_FAMILY says" || show
rm -f "$r/etc/os-release"
cp "$r/etc/apt/sources.list" "$tmp/before"
hook 20-apt-sources "$r" VMKIT_SUITE=bookworm VMKIT_FAMILY=debian
[ "$rc" -eq 0 ] && cmp -s "$tmp/before" "$r/etc/apt/sources.list"
check $? "20-apt-sources: no mirror: the sources are left as they are" || show
fails 20-apt-sources "$r" "is not a URL" "VMKIT_MIRROR=http://a b" VMKIT_SUITE=bookworm \
    VMKIT_FAMILY=debian
fails 20-apt-sources "$r" "is not a URL" VMKIT_MIRROR=mirror.example VMKIT_SUITE=bookworm \
    VMKIT_FAMILY=debian
fails 20-apt-sources "$r" "not a suite name" VMKIT_MIRROR=http://m/debian "VMKIT_SUITE=a/b" \
    VMKIT_FAMILY=debian
fails 20-apt-sources "$r" "expected debian or ubuntu" VMKIT_MIRROR=http://m/debian \
    VMKIT_SUITE=bookworm VMKIT_FAMILY=fedora
mkdir -p "$r/etc/apt/sources.list.d"
printf 'Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\nComponents: main\n' \
    > "$r/etc/apt/sources.list.d/debian.sources"
printf 'Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n\nTypes: deb\nURIs: http://other.example/x\nSuites: y\n' \
    > "$r/etc/apt/sources.list.d/ubuntu.sources"
hook 20-apt-sources "$r" "${deb[@]}"
[ "$rc" -eq 0 ] && [ ! -e "$r/etc/apt/sources.list.d/debian.sources" ] &&
    [ -e "$r/etc/apt/sources.list.d/ubuntu.sources" ]
check $? "20-apt-sources: the bootstrap's deb822 file for the mirror goes, others stay" || show

# ---- 30-timezone ------------------------------------------------------------

r=$(newroot)
mkdir -p "$r/usr/share/zoneinfo/Etc" "$r/usr/share/zoneinfo/Europe"
echo TZif > "$r/usr/share/zoneinfo/Etc/UTC"
echo TZif > "$r/usr/share/zoneinfo/Europe/Paris"
hook 30-timezone "$r"
[ "$rc" -eq 0 ] && [ "$(readlink "$r/etc/localtime")" = /usr/share/zoneinfo/Etc/UTC ] &&
    [ "$(cat "$r/etc/timezone")" = Etc/UTC ]
check $? "30-timezone: Etc/UTC by default" || show
hook 30-timezone "$r" VMKIT_TIMEZONE=Europe/Paris
[ "$rc" -eq 0 ] && [ "$(readlink "$r/etc/localtime")" = /usr/share/zoneinfo/Europe/Paris ] &&
    [ "$(cat "$r/etc/timezone")" = Europe/Paris ]
check $? "30-timezone: Europe/Paris" || show
twice 30-timezone "$r" VMKIT_TIMEZONE=Europe/Paris
fails 30-timezone "$r" "no /usr/share/zoneinfo/Mars/Olympus in the guest" VMKIT_TIMEZONE=Mars/Olympus
fails 30-timezone "$r" "not a time zone name" VMKIT_TIMEZONE=../../etc/passwd
fails 30-timezone "$r" "not a time zone name" VMKIT_TIMEZONE=/etc/passwd
[ "$(readlink "$r/etc/localtime")" = /usr/share/zoneinfo/Europe/Paris ]
check $? "30-timezone: a refused zone changes nothing"
rm -rf "$r/usr/share/zoneinfo"
hook 30-timezone "$r"
[ "$rc" -eq 0 ] && [ ! -e "$r/etc/localtime" ] && [ ! -L "$r/etc/localtime" ] &&
    [ "$(cat "$r/etc/timezone")" = Etc/UTC ]
check $? "30-timezone: without tzdata, UTC is no /etc/localtime" || show
fails 30-timezone "$r" "tzdata is not installed" VMKIT_TIMEZONE=Europe/Paris

# ---- 32-locale --------------------------------------------------------------

r=$(busybox_root)
hook 32-locale "$r"
is "$r/etc/default/locale" "LANG=C.UTF-8" "32-locale: C.UTF-8 by default"
twice 32-locale "$r"
# the fake locales package: locale -a lists C, C.utf8, POSIX and what
# locale-gen made (from the uncommented lines of /etc/locale.gen)
cat > "$r/usr/bin/locale" << 'EOF'
#!/bin/sh
[ "$1" = -a ] || exit 2
printf 'C\nC.utf8\nPOSIX\n'
cat /var/lib/generated 2> /dev/null
exit 0
EOF
cat > "$r/usr/sbin/locale-gen" << 'EOF'
#!/bin/sh
echo called >> /var/log/locale-gen.calls
: > /var/lib/generated
grep -v '^#' /etc/locale.gen | while read -r name charset; do
    [ -n "$name" ] || continue
    echo "$name" | sed 's/\.UTF-8/.utf8/' >> /var/lib/generated
done
EOF
chmod +x "$r/usr/bin/locale" "$r/usr/sbin/locale-gen"
mkdir -p "$r/var/lib" "$r/usr/share/i18n"
printf 'de_DE.UTF-8 UTF-8\nen_US ISO-8859-1\nen_US.UTF-8 UTF-8\n' > "$r/usr/share/i18n/SUPPORTED"
printf '# This file lists locales\n\n# de_DE.UTF-8 UTF-8\n# en_US.UTF-8 UTF-8\n' > "$r/etc/locale.gen"
hook 32-locale "$r" VMKIT_LOCALE=en_US.UTF-8
[ "$rc" -eq 0 ] && [ "$(cat "$r/etc/default/locale")" = LANG=en_US.UTF-8 ] &&
    grep -qx 'en_US.UTF-8 UTF-8' "$r/etc/locale.gen" &&
    grep -qx '# de_DE.UTF-8 UTF-8' "$r/etc/locale.gen" &&
    [ "$(wc -l < "$r/var/log/locale-gen.calls")" -eq 1 ]
check $? "32-locale: en_US.UTF-8 uncommented in locale.gen, locale-gen run once" || show
twice 32-locale "$r" VMKIT_LOCALE=en_US.UTF-8
[ "$(wc -l < "$r/var/log/locale-gen.calls")" -eq 1 ]
check $? "32-locale: a locale already there is not generated again"
fails 32-locale "$r" "not in the guest's /usr/share/i18n/SUPPORTED" VMKIT_LOCALE=xx_YY.UTF-8
fails 32-locale "$r" "not a locale name" "VMKIT_LOCALE=en_US.UTF-8 x"
printf '#!/bin/sh\necho called >> /var/log/locale-gen.calls\n' > "$r/usr/sbin/locale-gen"
fails 32-locale "$r" "still not available after locale-gen" VMKIT_LOCALE=de_DE.UTF-8
rm -f "$r/usr/sbin/locale-gen"
fails 32-locale "$r" "the locales package is not installed" VMKIT_LOCALE=de_DE.UTF-8
[ "$(cat "$r/etc/default/locale")" = LANG=en_US.UTF-8 ]
check $? "32-locale: a refused locale changes nothing"

# ---- 40-kernel --------------------------------------------------------------

V=6.1.0-test
MODS=(virtio_pci virtio_blk virtio_net virtio_console virtio_mmio)
# kernel_root [MODULE...]: a busybox root with kernel $V whose initramfs
# (a listing) holds MODULE...; every virtio module is in modules.dep
kernel_root() {
    local r m
    r=$(busybox_root)
    mkdir -p "$r/boot" "$r/lib/modules/$V" "$r/etc/initramfs-tools"
    echo kernel > "$r/boot/vmlinuz-$V"
    for m in "${MODS[@]}" virtio_ring; do
        echo "kernel/drivers/virtio/$m.ko: kernel/drivers/virtio/virtio_ring.ko"
    done > "$r/lib/modules/$V/modules.dep"
    : > "$r/lib/modules/$V/modules.builtin"
    printf '# List of modules to include in the initramfs.\n# virtio_pci\n' \
        > "$r/etc/initramfs-tools/modules"
    {
        echo .
        echo usr/lib/modules/$V/kernel/drivers/virtio/virtio_ring.ko
        for m in "$@"; do echo "usr/lib/modules/$V/kernel/drivers/virtio/$m.ko"; done
    } > "$r/boot/initrd.img-$V"
    # lsinitramfs: prints the listing
    cat > "$r/usr/bin/lsinitramfs" << 'EOF'
#!/bin/sh
[ -f "$1" ] || exit 1
cat "$1"
EOF
    # update-initramfs: records its call; the new listing has what the
    # modules file asks for, unless /etc/broken-initramfs says otherwise
    cat > "$r/usr/sbin/update-initramfs" << 'EOF'
#!/bin/sh
echo "$*" >> /var/log/update-initramfs.calls
v=$3
{
    echo .
    if [ ! -e /etc/broken-initramfs ]; then
        grep -v '^#' /etc/initramfs-tools/modules | while read -r m; do
            [ -n "$m" ] && echo "usr/lib/modules/$v/kernel/drivers/virtio/$m.ko.xz"
        done
    fi
} > "/boot/initrd.img-$v"
EOF
    chmod +x "$r/usr/bin/lsinitramfs" "$r/usr/sbin/update-initramfs"
    echo "$r"
}
calls() { cat "$1/var/log/update-initramfs.calls" 2> /dev/null; }

r=$(kernel_root "${MODS[@]}")
t0=$(date +%s%N)
hook 40-kernel "$r" VMKIT_KERNEL_PACKAGE=linux-image-amd64
t1=$(date +%s%N)
[ "$rc" -eq 0 ] && [ -z "$(calls "$r")" ]
check $? "40-kernel: every module in the initramfs: no rebuild" || show
ms=$(((t1 - t0) / 1000000))
[ "$ms" -lt 2000 ]
check $? "40-kernel: nothing to do takes ${ms} ms (< 2 s)"
is "$r/etc/initramfs-tools/modules" "# List of modules to include in the initramfs.
# virtio_pci
# The virtio drivers a vmkit guest boots with (vm-provision).
virtio_pci
virtio_blk
virtio_net
virtio_console
virtio_mmio" "40-kernel: the missing modules added to initramfs-tools/modules"
twice 40-kernel "$r"

r=$(kernel_root virtio_pci virtio_blk virtio_net virtio_mmio)
hook 40-kernel "$r"
[ "$rc" -eq 0 ] && [ "$(calls "$r")" = "-u -k $V" ] &&
    grep -q '/virtio_console\.ko\.xz$' "$r/boot/initrd.img-$V" &&
    grep -q 'lacks virtio_console' "$tmp/out"
check $? "40-kernel: virtio_console missing: update-initramfs -u -k $V, once" || show
twice 40-kernel "$r"
[ "$(calls "$r" | wc -l)" -eq 1 ]
check $? "40-kernel: no second rebuild"

r=$(kernel_root virtio_pci virtio_blk virtio_net virtio_console)
echo kernel/drivers/virtio/virtio_mmio.ko > "$r/lib/modules/$V/modules.builtin"
hook 40-kernel "$r"
[ "$rc" -eq 0 ] && [ -z "$(calls "$r")" ]
check $? "40-kernel: a module built into the kernel needs no initramfs entry" || show

r=$(kernel_root virtio_pci)
touch "$r/etc/broken-initramfs"
fails 40-kernel "$r" "still lacks virtio_pci virtio_blk virtio_net virtio_console virtio_mmio after update-initramfs"
[ "$(calls "$r" | wc -l)" -eq 1 ]
check $? "40-kernel: update-initramfs is run once only"

r=$(kernel_root)
rm -f "$r/boot/initrd.img-$V"
hook 40-kernel "$r"
[ "$rc" -eq 0 ] && [ "$(calls "$r")" = "-c -k $V" ] && [ -f "$r/boot/initrd.img-$V" ]
check $? "40-kernel: no initramfs: update-initramfs -c -k $V" || show

r=$(kernel_root "${MODS[@]}")
sed -i '/virtio_mmio/d' "$r/lib/modules/$V/modules.dep"
fails 40-kernel "$r" "kernel $V has no virtio_mmio, neither built in nor as a module"
[ -z "$(calls "$r")" ]
check $? "40-kernel: a module the kernel lacks: no rebuild tried"

r=$(kernel_root "${MODS[@]}")
rm -f "$r/boot/vmlinuz-$V"
fails 40-kernel "$r" "no kernel in the guest's /boot (is linux-image-amd64 installed?)" \
    VMKIT_KERNEL_PACKAGE=linux-image-amd64
r=$(kernel_root "${MODS[@]}")
echo kernel > "$r/boot/vmlinuz-6.2.0-other"
fails 40-kernel "$r" "2 kernels in the guest's /boot"
r=$(kernel_root "${MODS[@]}")
rm -rf "$r/etc/initramfs-tools"
fails 40-kernel "$r" "initramfs-tools is not installed"
r=$(kernel_root "${MODS[@]}")
rm -f "$r/usr/bin/lsinitramfs"
fails 40-kernel "$r" "cannot list /boot/initrd.img-$V"

# ---- 45-udev ----------------------------------------------------------------

r=$(newroot)
mkdir -p "$r/lib/udev/rules.d" "$r/bin"
printf '#!/bin/sh\n' > "$r/bin/udevadm" && chmod +x "$r/bin/udevadm"
hook 45-udev "$r"
check "$rc" "45-udev: /lib/udev and /bin/udevadm: fine" || show
r=$(newroot)
mkdir -p "$r/usr/lib/udev" "$r/usr/bin"
printf '#!/bin/sh\n' > "$r/usr/bin/udevadm" && chmod +x "$r/usr/bin/udevadm"
twice 45-udev "$r"
rm -f "$r/usr/bin/udevadm"
fails 45-udev "$r" "udev is not installed in the guest (no udevadm; roles: ssh)" VMKIT_ROLE=ssh
r=$(newroot)
fails 45-udev "$r" "udev is not installed in the guest (no /lib/udev or /usr/lib/udev"

# ---- 50-console -------------------------------------------------------------

r=$(newroot)
mkdir -p "$r/lib/systemd/system"
touch "$r/lib/systemd/system/serial-getty@.service"
hook 50-console "$r"
[ "$rc" -eq 0 ] && [ "$(readlink "$r/etc/systemd/system/getty.target.wants/serial-getty@hvc0.service")" = \
    "/lib/systemd/system/serial-getty@.service" ]
check $? "50-console: systemd: serial-getty@hvc0 enabled by a link" || show
twice 50-console "$r"
r=$(newroot)
mkdir -p "$r/usr/lib/systemd/system"
touch "$r/usr/lib/systemd/system/serial-getty@.service"
hook 50-console "$r" VMKIT_CONSOLE=hvc1
[ "$rc" -eq 0 ] && [ "$(readlink "$r/etc/systemd/system/getty.target.wants/serial-getty@hvc1.service")" = \
    "/usr/lib/systemd/system/serial-getty@.service" ]
check $? "50-console: systemd under /usr/lib, VMKIT_CONSOLE=hvc1" || show

r=$(newroot)
mkdir -p "$r/etc"
cat > "$r/etc/inittab" << 'EOF'
id:2:initdefault:
1:2345:respawn:/sbin/getty 38400 tty1
#T0:23:respawn:/sbin/getty -L ttyS0 9600 vt100
T1:23:respawn:/sbin/getty -L hvc0 9600 vt100
hvc0:2345:respawn:/sbin/getty 115200 hvc0
EOF
printf 'console\ntty1\n' > "$r/etc/securetty"
hook 50-console "$r"
is "$r/etc/inittab" "id:2:initdefault:
1:2345:respawn:/sbin/getty 38400 tty1
#T0:23:respawn:/sbin/getty -L ttyS0 9600 vt100
hvc0:2345:respawn:/sbin/getty 38400 hvc0" \
    "50-console: sysvinit: one getty line for hvc0, the others kept"
is "$r/etc/securetty" "console
tty1
hvc0" "50-console: hvc0 added to securetty"
twice 50-console "$r"
hook 50-console "$r" VMKIT_CONSOLE=ttyS0
grep -qx 'tyS0:2345:respawn:/sbin/getty 38400 ttyS0' "$r/etc/inittab" &&
    grep -qx 'hvc0:2345:respawn:/sbin/getty 38400 hvc0' "$r/etc/inittab"
check $? "50-console: an inittab id is at most four characters" || diag < "$r/etc/inittab"

r=$(newroot)
mkdir -p "$r/etc/init" "$r/sbin"
touch "$r/etc/init/tty1.conf"
printf '#!/bin/sh\n' > "$r/sbin/initctl" && chmod +x "$r/sbin/initctl"
hook 50-console "$r"
[ "$rc" -eq 0 ] && grep -qx 'exec /sbin/getty -8 38400 hvc0' "$r/etc/init/hvc0.conf" &&
    grep -qx 'respawn' "$r/etc/init/hvc0.conf"
check $? "50-console: upstart: /etc/init/hvc0.conf" || show
twice 50-console "$r"
r=$(newroot)
fails 50-console "$r" "no init in the guest that this hook knows"
fails 50-console "$r" "not a console device name" "VMKIT_CONSOLE=../x"

# ---- 90-apt-clean -----------------------------------------------------------

r=$(newroot)
mkdir -p "$r/var/cache/apt/archives/partial" "$r/var/lib/apt/lists/partial"
touch "$r/var/cache/apt/archives/lock" "$r/var/cache/apt/archives/a_1_amd64.deb" \
    "$r/var/cache/apt/archives/partial/b_1_amd64.deb" "$r/var/cache/apt/pkgcache.bin" \
    "$r/var/cache/apt/srcpkgcache.bin" "$r/var/lib/apt/lists/lock" \
    "$r/var/lib/apt/lists/m_dists_bookworm_InRelease" \
    "$r/var/lib/apt/lists/m_dists_bookworm_main_binary-amd64_Packages" \
    "$r/var/lib/apt/lists/partial/x"
hook 90-apt-clean "$r"
(cd "$r" && find var | sort) > "$tmp/lines"
is "$tmp/lines" "var
var/cache
var/cache/apt
var/cache/apt/archives
var/cache/apt/archives/lock
var/cache/apt/archives/partial
var/lib
var/lib/apt
var/lib/apt/lists
var/lib/apt/lists/lock
var/lib/apt/lists/partial" "90-apt-clean: packages, caches and lists gone; locks and partial/ kept"
twice 90-apt-clean "$r"
r=$(newroot)
hook 90-apt-clean "$r"
check "$rc" "90-apt-clean: a root without apt" || show

# ---- roles ------------------------------------------------------------------

for role in minimal ssh udev sudo; do
    [ -d "hooks/roles/$role" ]
    check $? "role $role exists"
done
pk() { sed 's/#.*//' "hooks/roles/$1/packages" | tr -s ' \t' '\n' | grep . | tr '\n' ' '; }
[ "$(pk ssh)" = "openssh-server " ] && [ "$(pk udev)" = "udev " ] &&
    [ "$(pk sudo)" = "sudo " ] && [ -z "$(pk minimal)" ]
check $? "roles' packages: ssh openssh-server, udev udev, sudo sudo, minimal none"

r=$(newroot)
hook 60-minimal-dpkg "$r"
f=$r/etc/dpkg/dpkg.cfg.d/vmkit-minimal
[ "$rc" -eq 0 ] && grep -qx 'path-exclude=/usr/share/doc/\*' "$f" &&
    grep -qx 'path-include=/usr/share/doc/\*/copyright' "$f" &&
    grep -qx 'path-exclude=/usr/share/man/\*' "$f" &&
    grep -qx 'path-exclude=/usr/share/locale/\*' "$f"
check $? "role minimal: dpkg leaves docs (not copyright), man pages, translations out" || show
twice 60-minimal-dpkg "$r"

r=$(newroot)
mkdir -p "$r/usr/sbin" "$r/etc/ssh/sshd_config.d"
printf '#!/bin/sh\n' > "$r/usr/sbin/sshd" && chmod +x "$r/usr/sbin/sshd"
printf 'Include /etc/ssh/sshd_config.d/*.conf\n#PermitRootLogin prohibit-password\n' \
    > "$r/etc/ssh/sshd_config"
hook 60-ssh-root-login "$r"
[ "$rc" -eq 0 ] && [ "$(grep -v '^#' "$r/etc/ssh/sshd_config.d/90-vmkit.conf")" = \
    "PermitRootLogin prohibit-password" ]
check $? "role ssh: root logs in with a key only (a drop-in)" || show
twice 60-ssh-root-login "$r"
printf 'PermitRootLogin yes\n' > "$r/etc/ssh/sshd_config"
fails 60-ssh-root-login "$r" "does not include /etc/ssh/sshd_config.d"
rm -f "$r/usr/sbin/sshd"
fails 60-ssh-root-login "$r" "openssh-server is not installed"

done_testing
