#!/usr/bin/env bash
# timeout: 120
#
# hooks.t - each of vm-provision's hooks (hooks/common, hooks/debian,
# hooks/redhat, hooks/roles/*) run against a temporary root, as the hook runner runs
# it (`HOOK ROOT', only PATH and the VMKIT_* variables given in its
# environment), checking what it wrote: contents, link targets, what it
# refuses, and that a second run changes nothing.
#
# The hooks that chroot into the guest (40-kernel, 32-locale,
# 40-kernel-dracut, 60-services) get a tiny working system: the host's
# static busybox with its applets, plus fake guest tools written here
# (lsinitramfs and lsinitrd print the "initramfs", which is a listing;
# update-initramfs records its call and writes a new listing from
# /etc/initramfs-tools/modules; dracut records its argv and writes a
# listing of the drivers it was given; systemctl enables by a link in
# multi-user.target.wants; locale -a and locale-gen keep their state in
# a file), so that the hooks' decisions (rebuild only when needed, fail
# when still wrong) run for real.  Needs root (chroot).
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
known+=" VMKIT_VCPUS VMKIT_SIZE VMKIT_SWAP VMKIT_IMAGE_FORMAT VMKIT_TIMEZONE VMKIT_LOCALE"
known+=" VMKIT_RELEASE VMKIT_REPOSITORIES VMKIT_GPGKEY VMKIT_RELEASE_REPOS"
known+=" VMKIT_MOUNTS VMKIT_DISK_LAYOUT VMKIT_PARTITIONS VMKIT_PARTITION_TABLE"
known+=" VMKIT_BOOT_METHOD VMKIT_BOOT_DEVICE VMKIT_BOOT_PREFIX VMKIT_KERNEL_ARGS "

# the hook named NAME, wherever it is
path_of() {
    local p
    for p in hooks/common/"$1" hooks/debian/"$1" hooks/redhat/"$1" hooks/roles/*/"$1"; do
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

all=$(ls hooks/common/[0-9][0-9]-* hooks/debian/[0-9][0-9]-* hooks/redhat/[0-9][0-9]-* \
    hooks/roles/*/[0-9][0-9]-*)
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
fails 10-fstab "$r" "expected ext2, ext3, ext4, xfs or btrfs" VMKIT_ROOT_DEVICE=LABEL=root VMKIT_FS=vfat
# a partitioned disk: the other file systems by UUID, swap by UUID
hook 10-fstab "$r" VMKIT_ROOT_DEVICE=UUID=aaaa-1 VMKIT_FS=ext4 VMKIT_SWAP_DEVICE=UUID=cccc-3 \
    "VMKIT_MOUNTS=UUID=bbbb-2:/home:ext3:nodev,nosuid UUID=dddd-4:/srv:xfs:defaults"
grep -v '^#' "$r/etc/fstab" > "$tmp/lines"
is "$tmp/lines" "UUID=aaaa-1 / ext4 errors=remount-ro 0 1
UUID=bbbb-2 /home ext3 nodev,nosuid 0 2
UUID=dddd-4 /srv xfs defaults 0 0
UUID=cccc-3 none swap sw 0 0
proc /proc proc defaults 0 0
devpts /dev/pts devpts gid=5,mode=620 0 0" "10-fstab: VMKIT_MOUNTS: /home and /srv by UUID, ext checked at pass 2"
twice 10-fstab "$r" VMKIT_ROOT_DEVICE=UUID=aaaa-1 VMKIT_FS=ext4 "VMKIT_MOUNTS=UUID=bbbb-2:/home:ext4:defaults"
fails 10-fstab "$r" "expected DEVICE:MOUNTPOINT:TYPE:OPTIONS" VMKIT_ROOT_DEVICE=UUID=a VMKIT_FS=ext4 \
    "VMKIT_MOUNTS=UUID=b:/home:ext4"
fails 10-fstab "$r" "is not absolute" VMKIT_ROOT_DEVICE=UUID=a VMKIT_FS=ext4 \
    "VMKIT_MOUNTS=UUID=b:home:ext4:defaults"
fails 10-fstab "$r" "type \`vfat'" VMKIT_ROOT_DEVICE=UUID=a VMKIT_FS=ext4 \
    "VMKIT_MOUNTS=UUID=b:/boot/efi:vfat:defaults"
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
# busybox's init: no udev, by design (the usr-merged layout of el)
r=$(newroot)
mkdir -p "$r/usr/sbin" && ln -s usr/sbin "$r/sbin" && ln -s busybox "$r/usr/sbin/init"
hook 45-udev "$r"
[ "$rc" -eq 0 ] && grep -q "init is busybox's" "$tmp/out"
check $? "45-udev: busybox's init without udev: accepted, and said" || show
# an absolute /sbin link is not followed out of the root
r=$(newroot)
ln -s /usr/sbin "$r/sbin"
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
hook 50-console "$r" "VMKIT_CONSOLE=hvc0 ttyS0"
[ "$rc" -eq 0 ] && [ -L "$r/etc/systemd/system/getty.target.wants/serial-getty@hvc0.service" ] &&
    [ -L "$r/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service" ]
check $? "50-console: VMKIT_CONSOLE=\"hvc0 ttyS0\": a getty on each (a partitioned guest)" || show
twice 50-console "$r" "VMKIT_CONSOLE=hvc0 ttyS0"
fails 50-console "$r" "is not a console device name" "VMKIT_CONSOLE=hvc0 ../x"

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

# ---- the Red Hat family: el-style roots ------------------------------------

# Each hook's name is in one directory only (path_of finds it there).
dups=$(ls hooks/common hooks/debian hooks/redhat | grep -E '^[0-9]{2}-' | sort | uniq -d)
[ -z "$dups" ]
check $? "no hook name is in two of common, debian and redhat" || echo "$dups" | diag

# ---- 20-yum-repos -----------------------------------------------------------

# el_repo_root: a root with CentOS 7's shape of repository files and key
el_repo_root() {
    local r
    r=$(newroot)
    mkdir -p "$r/etc/yum.repos.d" "$r/etc/pki/rpm-gpg"
    echo key > "$r/etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-7"
    cat > "$r/etc/yum.repos.d/CentOS-Base.repo" << 'EOF'
# CentOS-Base.repo (a test's imitation)

[base]
name=CentOS-$releasever - Base
mirrorlist=http://mirrorlist.example/?release=$releasever&arch=$basearch&repo=os
gpgcheck=1

[updates]
name=CentOS-$releasever - Updates
mirrorlist=http://mirrorlist.example/?release=$releasever&arch=$basearch&repo=updates
enabled = 1
gpgcheck=1

#additional packages that extend functionality of existing packages
[centosplus]
name=CentOS-$releasever - Plus
enabled=0
EOF
    printf '[c7-media]\nname=Media\nbaseurl=file:///media/CentOS/\nenabled=0\n' \
        > "$r/etc/yum.repos.d/CentOS-Media.repo"
    chmod 640 "$r/etc/yum.repos.d/CentOS-Media.repo"
    echo "$r"
}
V7=http://vault.example/centos/7.9.2009
repos=("VMKIT_REPOSITORIES=os=$V7/os/x86_64/ updates=$V7/updates/x86_64/"
    VMKIT_GPGKEY=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-7)

r=$(el_repo_root)
cp "$r/etc/yum.repos.d/CentOS-Base.repo" "$tmp/base.orig"
hook 20-yum-repos "$r" "${repos[@]}" VMKIT_RELEASE_REPOS=disable
is "$r/etc/yum.repos.d/vmkit.repo" "# Written by vm-provision (hook 20-yum-repos): the repositories the guest
# was installed from.

[vmkit-os]
name=os (vm-provision)
baseurl=$V7/os/x86_64/
enabled=1
gpgcheck=1
gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-7

[vmkit-updates]
name=updates (vm-provision)
baseurl=$V7/updates/x86_64/
enabled=1
gpgcheck=1
gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-7" "20-yum-repos: a section per repository, with the key"
is "$r/etc/yum.repos.d/CentOS-Base.repo" '# CentOS-Base.repo (a test'"'"'s imitation)

[base]
enabled=0
name=CentOS-$releasever - Base
mirrorlist=http://mirrorlist.example/?release=$releasever&arch=$basearch&repo=os
gpgcheck=1

[updates]
name=CentOS-$releasever - Updates
mirrorlist=http://mirrorlist.example/?release=$releasever&arch=$basearch&repo=updates
enabled=0
gpgcheck=1

#additional packages that extend functionality of existing packages
[centosplus]
name=CentOS-$releasever - Plus
enabled=0' "20-yum-repos: disable: every section of the release's file enabled=0, the rest kept"
[ "$(stat -c %a "$r/etc/yum.repos.d/CentOS-Media.repo")" = 640 ] &&
    grep -qx 'baseurl=file:///media/CentOS/' "$r/etc/yum.repos.d/CentOS-Media.repo"
check $? "20-yum-repos: a file already disabled keeps its contents and mode"
twice 20-yum-repos "$r" "${repos[@]}" VMKIT_RELEASE_REPOS=disable

r=$(el_repo_root)
hook 20-yum-repos "$r" "VMKIT_REPOSITORIES=BaseOS=https://m.example/rocky/9/BaseOS/x86_64/os/" \
    VMKIT_RELEASE_REPOS=keep
grep -v '^#' "$r/etc/yum.repos.d/vmkit.repo" > "$tmp/lines"
is "$tmp/lines" "
[vmkit-BaseOS]
name=BaseOS (vm-provision)
baseurl=https://m.example/rocky/9/BaseOS/x86_64/os/
enabled=1
gpgcheck=0" "20-yum-repos: no key: gpgcheck=0"
cmp -s "$tmp/base.orig" "$r/etc/yum.repos.d/CentOS-Base.repo"
check $? "20-yum-repos: keep: the release's files are left as they are"
twice 20-yum-repos "$r" "VMKIT_REPOSITORIES=BaseOS=https://m.example/rocky/9/BaseOS/x86_64/os/"

r=$(el_repo_root)
hook 20-yum-repos "$r" VMKIT_RELEASE_REPOS=disable
[ "$rc" -eq 0 ] && [ ! -e "$r/etc/yum.repos.d/vmkit.repo" ] &&
    cmp -s "$tmp/base.orig" "$r/etc/yum.repos.d/CentOS-Base.repo" &&
    grep -q 'left as they are' "$tmp/out"
check $? "20-yum-repos: no repositories: nothing written, nothing disabled" || show

r=$(el_repo_root)
hook 20-yum-repos "$r" "VMKIT_REPOSITORIES=os=$V7/os/x86_64/"
cp "$r/etc/yum.repos.d/vmkit.repo" "$tmp/vmkit.before"
fails 20-yum-repos "$r" "\`os]x' is not a repository name" "VMKIT_REPOSITORIES=os]x=$V7/os/"
fails 20-yum-repos "$r" "\`[os' is not a repository name" "VMKIT_REPOSITORIES=[os=$V7/os/"
fails 20-yum-repos "$r" "is not NAME=URL" "VMKIT_REPOSITORIES=$V7/os/"
fails 20-yum-repos "$r" "\`vault.example/os/' (repository os) is not a URL" \
    "VMKIT_REPOSITORIES=os=vault.example/os/"
fails 20-yum-repos "$r" "is not a URL" 'VMKIT_REPOSITORIES=os=http://m.example/$releasever/os/'
fails 20-yum-repos "$r" "a control character (a newline?)" "VMKIT_REPOSITORIES=os=$V7/os/
[evil]"
fails 20-yum-repos "$r" "repository os is given twice" "VMKIT_REPOSITORIES=os=$V7/os/ os=$V7/x/"
fails 20-yum-repos "$r" "VMKIT_GPGKEY: \`RPM-GPG-KEY' is not a URL" \
    "VMKIT_REPOSITORIES=os=$V7/os/" VMKIT_GPGKEY=RPM-GPG-KEY
fails 20-yum-repos "$r" "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9 is not in the guest" \
    "VMKIT_REPOSITORIES=os=$V7/os/" VMKIT_GPGKEY=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9
fails 20-yum-repos "$r" "expected keep or disable" "VMKIT_REPOSITORIES=os=$V7/os/" \
    VMKIT_RELEASE_REPOS=off
ln -s /etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-7 "$r/etc/pki/rpm-gpg/RPM-GPG-KEY-linked"
fails 20-yum-repos "$r" "RPM-GPG-KEY-Rocky-9 is not in the guest" "VMKIT_REPOSITORIES=os=$V7/os/" \
    "VMKIT_GPGKEY=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-linked file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9"
cmp -s "$tmp/vmkit.before" "$r/etc/yum.repos.d/vmkit.repo" &&
    cmp -s "$tmp/base.orig" "$r/etc/yum.repos.d/CentOS-Base.repo"
check $? "20-yum-repos: a refused value changes nothing"
hook 20-yum-repos "$r" "VMKIT_REPOSITORIES=os=$V7/os/" \
    "VMKIT_GPGKEY=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-linked  https://keys.example/k"
[ "$rc" -eq 0 ] && grep -qx 'gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-linked https://keys.example/k' \
    "$r/etc/yum.repos.d/vmkit.repo"
check $? "20-yum-repos: several keys; a key that is a link is read in the guest" || show

r=$(newroot)
mkdir -p "$r/etc" "$tmp/outside-repos"
ln -s "$tmp/outside-repos" "$r/etc/yum.repos.d"
fails 20-yum-repos "$r" "/etc/yum.repos.d in the guest is a link that leads out of it" \
    "VMKIT_REPOSITORIES=os=$V7/os/"
[ -z "$(ls -A "$tmp/outside-repos")" ]
check $? "20-yum-repos: nothing is written through a link out of the root"

# ---- 40-kernel-dracut -------------------------------------------------------

KV=5.14.0-427.el9.x86_64
DRV=(virtio_blk virtio_net virtio_console virtio_pci virtio_mmio)
# el_kernel_root [MODULE...]: a busybox root with kernel $KV where el9
# ships it (/usr/lib/modules/$KV/vmlinuz, nothing in /boot yet but the
# initramfs), whose initramfs (a listing) holds MODULE...; every virtio
# driver is in modules.dep; the guest has dracut and lsinitrd (fakes)
el_kernel_root() {
    local r m
    r=$(busybox_root)
    mkdir -p "$r/boot" "$r/usr/lib/modules/$KV" "$r/etc/dracut.conf.d"
    echo "kernel $KV" > "$r/usr/lib/modules/$KV/vmlinuz"
    for m in "${DRV[@]}" virtio_ring; do
        echo "kernel/drivers/virtio/$m.ko.xz: kernel/drivers/virtio/virtio_ring.ko.xz"
    done > "$r/usr/lib/modules/$KV/modules.dep"
    : > "$r/usr/lib/modules/$KV/modules.builtin"
    # a rescue kernel, which has no modules directory of its own
    echo rescue > "$r/boot/vmlinuz-0-rescue-0123456789abcdef"
    {
        echo "drwxr-xr-x   1 root root 0 Jan  1 00:00 usr/lib/modules/$KV/kernel/drivers/virtio"
        for m in "$@"; do
            echo "-rw-r--r--   1 root root 9 Jan  1 00:00 usr/lib/modules/$KV/kernel/drivers/virtio/$m.ko.xz"
        done
    } > "$r/boot/initramfs-$KV.img"
    # lsinitrd: prints the listing
    cat > "$r/usr/bin/lsinitrd" << 'EOF'
#!/bin/sh
[ -f "$1" ] || exit 1
cat "$1"
EOF
    # dracut: records its argv (one argument a line, a blank line after
    # each call); the new listing has the drivers --add-drivers named,
    # unless /etc/broken-dracut says otherwise
    cat > "$r/usr/bin/dracut" << 'EOF'
#!/bin/sh
for a in "$@"; do echo "$a"; done >> /var/log/dracut.calls
echo >> /var/log/dracut.calls
[ ! -e /etc/failing-dracut ] || exit 1
add= img= ver=
while [ $# -gt 0 ]; do
    case $1 in
    --add-drivers) add=$2; shift ;;
    --*) ;;
    *) if [ -z "$img" ]; then img=$1; else ver=$1; fi ;;
    esac
    shift
done
{
    echo "drwxr-xr-x 1 root root 0 Jan  1 00:00 usr/lib/modules/$ver/kernel"
    if [ ! -e /etc/broken-dracut ]; then
        for m in $add; do
            echo "-rw-r--r-- 1 root root 9 Jan  1 00:00 usr/lib/modules/$ver/kernel/drivers/virtio/$m.ko.xz"
        done
    fi
} > "$img"
EOF
    chmod +x "$r/usr/bin/lsinitrd" "$r/usr/bin/dracut"
    echo "$r"
}
dcalls() { cat "$1/var/log/dracut.calls" 2> /dev/null; }
ncalls() { dcalls "$1" | grep -c '^$'; }
dconf="# Written by vm-provision (hook 40-kernel-dracut): every initramfs holds the
# virtio drivers a vmkit guest boots with, and is generic, not made
# for the machine that builds it."

r=$(el_kernel_root "${DRV[@]}")
hook 40-kernel-dracut "$r" VMKIT_KERNEL_PACKAGE=kernel-core
[ "$rc" -eq 0 ] && cmp -s "$r/usr/lib/modules/$KV/vmlinuz" "$r/boot/vmlinuz-$KV" &&
    [ "$(stat -c %a "$r/boot/vmlinuz-$KV")" = 755 ] &&
    grep -qF "/usr/lib/modules/$KV/vmlinuz copied to /boot/vmlinuz-$KV" "$tmp/out"
check $? "40-kernel-dracut: /usr/lib/modules/VERSION/vmlinuz copied to /boot/vmlinuz-VERSION" || show
[ -z "$(dcalls "$r")" ]
check $? "40-kernel-dracut: every driver in the initramfs: dracut is not run" || show
is "$r/etc/dracut.conf.d/vmkit.conf" "$dconf
add_drivers+=\" virtio_blk virtio_net virtio_console virtio_pci virtio_mmio \"
hostonly=\"no\"" "40-kernel-dracut: dracut.conf.d/vmkit.conf: the drivers, not host-only"
! [ -e "$r/boot/initramfs-0-rescue-0123456789abcdef.img" ] && [ -z "$(dcalls "$r")" ]
check $? "40-kernel-dracut: the rescue kernel (no modules directory) is not touched"
twice 40-kernel-dracut "$r" VMKIT_KERNEL_PACKAGE=kernel-core

r=$(el_kernel_root virtio_blk virtio_net virtio_pci virtio_mmio)
hook 40-kernel-dracut "$r"
printf '%s\n' --force --no-hostonly --add-drivers \
    "virtio_blk virtio_net virtio_console virtio_pci virtio_mmio" \
    "/boot/initramfs-$KV.img" "$KV" "" > "$tmp/want"
[ "$rc" -eq 0 ] && dcalls "$r" | cmp -s - "$tmp/want" &&
    grep -q "lacks virtio_console: rebuilding it" "$tmp/out" &&
    grep -q '/virtio_console\.ko\.xz$' "$r/boot/initramfs-$KV.img"
check $? "40-kernel-dracut: virtio_console missing: the guest's dracut, once, --no-hostonly --add-drivers" ||
    { show; dcalls "$r" | diag; }
twice 40-kernel-dracut "$r"
[ "$(ncalls "$r")" -eq 1 ]
check $? "40-kernel-dracut: no second rebuild"

r=$(el_kernel_root)
rm -f "$r/boot/initramfs-$KV.img"
hook 40-kernel-dracut "$r"
[ "$rc" -eq 0 ] && [ "$(ncalls "$r")" -eq 1 ] && [ -f "$r/boot/initramfs-$KV.img" ] &&
    grep -q "no /boot/initramfs-$KV.img: making it" "$tmp/out"
check $? "40-kernel-dracut: no initramfs: dracut makes one" || show

# el7: the kernel in /boot already, no virtio_mmio, virtio_pci built in
K7=3.10.0-1160.el7.x86_64
r=$(el_kernel_root)
rm -rf "$r/usr/lib/modules/$KV" "$r/boot/initramfs-$KV.img"
mkdir -p "$r/usr/lib/modules/$K7"
echo "kernel $K7" > "$r/boot/vmlinuz-$K7"
for m in virtio_blk virtio_net virtio_console virtio_ring; do
    echo "kernel/drivers/x/$m.ko.xz: kernel/drivers/virtio/virtio_ring.ko.xz"
done > "$r/usr/lib/modules/$K7/modules.dep"
echo kernel/drivers/virtio/virtio_pci.ko > "$r/usr/lib/modules/$K7/modules.builtin"
for m in virtio_blk virtio_net virtio_console; do
    echo "-rw-r--r-- 1 root root 9 Jan  1 00:00 usr/lib/modules/$K7/kernel/drivers/x/$m.ko.xz"
done > "$r/boot/initramfs-$K7.img"
hook 40-kernel-dracut "$r" VMKIT_KERNEL_PACKAGE=kernel
[ "$rc" -eq 0 ] && [ -z "$(dcalls "$r")" ] && [ "$(cat "$r/boot/vmlinuz-$K7")" = "kernel $K7" ] &&
    grep -qF "kernel $K7 has no virtio_mmio: the guest runs on q35" "$tmp/out"
check $? "40-kernel-dracut: el7 (no virtio_mmio, virtio_pci built in): nothing to rebuild, said so" ||
    show
grep -qx 'add_drivers+=" virtio_blk virtio_net virtio_console virtio_pci "' \
    "$r/etc/dracut.conf.d/vmkit.conf"
check $? "40-kernel-dracut: dracut.conf.d names only the drivers the kernel has" ||
    diag < "$r/etc/dracut.conf.d/vmkit.conf"
twice 40-kernel-dracut "$r"
rm -f "$r/boot/initramfs-$K7.img"
hook 40-kernel-dracut "$r"
printf '%s\n' --force --no-hostonly --add-drivers "virtio_blk virtio_net virtio_console" \
    "/boot/initramfs-$K7.img" "$K7" "" > "$tmp/want"
[ "$rc" -eq 0 ] && dcalls "$r" | cmp -s - "$tmp/want"
check $? "40-kernel-dracut: dracut is given only the drivers that are modules" ||
    { show; dcalls "$r" | diag; }

# two kernels: each gets its vmlinuz and its initramfs
r=$(el_kernel_root "${DRV[@]}")
K2=5.14.0-503.el9.x86_64
cp -a "$r/usr/lib/modules/$KV" "$r/usr/lib/modules/$K2"
echo "kernel $K2" > "$r/usr/lib/modules/$K2/vmlinuz"
hook 40-kernel-dracut "$r"
[ "$rc" -eq 0 ] && [ -f "$r/boot/vmlinuz-$KV" ] && [ "$(cat "$r/boot/vmlinuz-$K2")" = "kernel $K2" ] &&
    [ "$(ncalls "$r")" -eq 1 ] && dcalls "$r" | grep -qx "/boot/initramfs-$K2.img"
check $? "40-kernel-dracut: two kernels: both in /boot, only the one without an initramfs rebuilt" ||
    show

# no dracut in the guest
r=$(el_kernel_root virtio_blk)
rm -f "$r/usr/bin/dracut"
rmdir "$r/etc/dracut.conf.d"
hook 40-kernel-dracut "$r"
[ "$rc" -eq 0 ] && grep -qF "no dracut in the guest: /boot/initramfs-$KV.img is taken as it is" "$tmp/out" &&
    ! [ -e "$r/etc/dracut.conf.d" ]
check $? "40-kernel-dracut: no dracut: an existing initramfs is taken as it is, said so" || show
# a kernel package that brings its initramfs and no modules (the
# shape of tests/rpm/kernel.spec): taken as it is
: > "$r/usr/lib/modules/$KV/modules.dep"
hook 40-kernel-dracut "$r"
check "$rc" "40-kernel-dracut: no dracut: the drivers are not looked for (an empty modules.dep)" || show
rm -f "$r/boot/initramfs-$KV.img"
fails 40-kernel-dracut "$r" "kernel $KV: no /boot/initramfs-$KV.img, and no dracut in the guest"

r=$(el_kernel_root virtio_blk)
touch "$r/etc/broken-dracut"
fails 40-kernel-dracut "$r" "still lacks virtio_blk virtio_net virtio_console virtio_pci virtio_mmio after dracut"
[ "$(ncalls "$r")" -eq 1 ]
check $? "40-kernel-dracut: dracut is run once only"
r=$(el_kernel_root virtio_blk)
touch "$r/etc/failing-dracut"
fails 40-kernel-dracut "$r" "kernel $KV: dracut failed in the guest"

r=$(el_kernel_root "${DRV[@]}")
sed -i '/virtio_blk/d' "$r/usr/lib/modules/$KV/modules.dep"
fails 40-kernel-dracut "$r" "kernel $KV has no virtio_blk, neither built in nor as a module"
[ -z "$(dcalls "$r")" ]
check $? "40-kernel-dracut: a driver the kernel lacks: no rebuild tried"
r=$(el_kernel_root "${DRV[@]}")
rm -f "$r/usr/lib/modules/$KV/modules.dep"
fails 40-kernel-dracut "$r" "kernel $KV: no modules.dep"
r=$(el_kernel_root "${DRV[@]}")
rm -f "$r/usr/lib/modules/$KV/vmlinuz"
fails 40-kernel-dracut "$r" "no kernel in the guest" VMKIT_KERNEL_PACKAGE=kernel-core
grep -qF "is kernel-core installed?" "$tmp/out"
check $? "40-kernel-dracut: no kernel: the message names the kernel package"
r=$(el_kernel_root "${DRV[@]}")
echo host > "$tmp/host-vmlinuz"
rm -f "$r/usr/lib/modules/$KV/vmlinuz" && ln -s "$tmp/host-vmlinuz" "$r/usr/lib/modules/$KV/vmlinuz"
fails 40-kernel-dracut "$r" "/usr/lib/modules/$KV/vmlinuz is a link, not the kernel"
! [ -e "$r/boot/vmlinuz-$KV" ]
check $? "40-kernel-dracut: nothing is copied through a link"
r=$(el_kernel_root "${DRV[@]}")
rm -f "$r/usr/bin/lsinitrd"
hook 40-kernel-dracut "$r"
[ "$rc" -eq 0 ] && [ "$(ncalls "$r")" -eq 1 ] && grep -q "cannot list" "$tmp/out"
check $? "40-kernel-dracut: no lsinitrd: the initramfs is rebuilt, unchecked, said so" || show

# ---- 50-console, el7 ---------------------------------------------------------

r=$(newroot)
mkdir -p "$r/usr/lib/systemd/system" "$r/etc"
touch "$r/usr/lib/systemd/system/serial-getty@.service"
printf '# inittab is no longer used when using systemd.\n#\n# Ctrl-Alt-Delete is handled by /usr/lib/systemd/system/ctrl-alt-del.target\n' \
    > "$r/etc/inittab"
cp "$r/etc/inittab" "$tmp/inittab.orig"
printf 'console\ntty1\nhvc0\nhvc1\n' > "$r/etc/securetty"
hook 50-console "$r"
[ "$rc" -eq 0 ] && [ "$(readlink "$r/etc/systemd/system/getty.target.wants/serial-getty@hvc0.service")" = \
    /usr/lib/systemd/system/serial-getty@.service ] && cmp -s "$tmp/inittab.orig" "$r/etc/inittab" &&
    [ "$(grep -c '^hvc0$' "$r/etc/securetty")" -eq 1 ]
check $? "50-console: el7: the getty link; systemd's comment-only inittab and securetty (with hvc0) kept" ||
    show
twice 50-console "$r"

# ---- 60-services -------------------------------------------------------------

# a busybox root with systemd's units and a fake systemctl: enabled is a
# link in multi-user.target.wants; enable makes it and is recorded
r=$(busybox_root)
mkdir -p "$r/usr/lib/systemd/system"
printf '[Install]\nWantedBy=multi-user.target\n' > "$r/usr/lib/systemd/system/sshd.service"
cat > "$r/usr/bin/systemctl" << 'EOF'
#!/bin/sh
w=/etc/systemd/system/multi-user.target.wants
case $1 in
is-enabled) [ "$2" = --quiet ] && shift; [ -L "$w/$2" ] ;;
enable) echo "enable $2" >> /var/log/systemctl.calls
    mkdir -p $w && ln -s "/usr/lib/systemd/system/$2" "$w/$2" ;;
*) exit 2 ;;
esac
EOF
chmod +x "$r/usr/bin/systemctl"
hook 60-services "$r"
[ "$rc" -eq 0 ] && [ "$(cat "$r/var/log/systemctl.calls")" = "enable sshd.service" ] &&
    [ -L "$r/etc/systemd/system/multi-user.target.wants/sshd.service" ]
check $? "60-services: sshd.service enabled with the guest's systemctl; NetworkManager absent, left out" ||
    show
twice 60-services "$r"
[ "$(wc -l < "$r/var/log/systemctl.calls")" -eq 1 ]
check $? "60-services: an enabled unit is left alone"
cp "$r/usr/lib/systemd/system/sshd.service" "$r/usr/lib/systemd/system/NetworkManager.service"
hook 60-services "$r"
[ "$rc" -eq 0 ] && [ "$(tail -n 1 "$r/var/log/systemctl.calls")" = "enable NetworkManager.service" ]
check $? "60-services: NetworkManager.service too when installed" || show
rm -f "$r/usr/bin/systemctl"
hook 60-services "$r"
check "$rc" "60-services: a guest without systemctl is left as it is" || show

# ---- 85-selinux-relabel ------------------------------------------------------

r=$(newroot)
mkdir -p "$r/etc/selinux/targeted/policy" "$r/usr/sbin"
touch "$r/etc/selinux/targeted/policy/policy.31"
printf '#!/bin/sh\n' > "$r/usr/sbin/setfiles" && chmod +x "$r/usr/sbin/setfiles"
printf '# This file controls the state of SELinux\nSELINUX=enforcing\nSELINUXTYPE=targeted\n' \
    > "$r/etc/selinux/config"
hook 85-selinux-relabel "$r"
[ "$rc" -eq 0 ] && [ -f "$r/.autorelabel" ]
check $? "85-selinux-relabel: enforcing: /.autorelabel" || show
twice 85-selinux-relabel "$r"
rm -f "$r/.autorelabel"
printf 'SELINUX = "permissive"\nSELINUXTYPE=targeted\n' > "$r/etc/selinux/config"
hook 85-selinux-relabel "$r"
[ "$rc" -eq 0 ] && [ -f "$r/.autorelabel" ]
check $? "85-selinux-relabel: permissive (quoted, spaced): /.autorelabel" || show
rm -f "$r/.autorelabel"
printf 'SELINUX=enforcing\nSELINUX=disabled\nSELINUXTYPE=targeted\n' > "$r/etc/selinux/config"
hook 85-selinux-relabel "$r"
[ "$rc" -eq 0 ] && ! [ -e "$r/.autorelabel" ]
check $? "85-selinux-relabel: disabled (the last line wins): no /.autorelabel" || show
rm -f "$r/etc/selinux/config"
hook 85-selinux-relabel "$r"
[ "$rc" -eq 0 ] && ! [ -e "$r/.autorelabel" ]
check $? "85-selinux-relabel: no config (no policy): no /.autorelabel" || show
printf 'SELINUX=enforcing\nSELINUXTYPE=mls\n' > "$r/etc/selinux/config"
fails 85-selinux-relabel "$r" "policy mls, which is not installed"
printf 'SELINUX=enforcing\nSELINUXTYPE=targeted\n' > "$r/etc/selinux/config"
rm -f "$r/usr/sbin/setfiles"
fails 85-selinux-relabel "$r" "no setfiles in the guest"
printf 'SELINUX=yes\nSELINUXTYPE=targeted\n' > "$r/etc/selinux/config"
fails 85-selinux-relabel "$r" "expected enforcing, permissive or disabled"
! [ -e "$r/.autorelabel" ]
check $? "85-selinux-relabel: a refused config makes no /.autorelabel"

# ---- 90-yum-clean ------------------------------------------------------------

r=$(newroot)
mkdir -p "$r/var/cache/yum/x86_64/7/base/packages" "$r/var/cache/dnf/baseos-0123/repodata" \
    "$r/var/lib/rpm" "$r/var/tmp"
touch "$r/var/cache/yum/x86_64/7/base/packages/bash-4.2.rpm" "$r/var/cache/yum/.gpgkeyschecked.yum" \
    "$r/var/cache/dnf/baseos-0123/repodata/repomd.xml" "$r/var/cache/dnf/expired_repos.json" \
    "$r/var/lib/rpm/Packages" "$r/var/lib/rpm/Name" "$r/var/lib/rpm/__db.001" \
    "$r/var/lib/rpm/__db.002" "$r/var/tmp/rpm-tmp.Xy12ab" "$r/var/tmp/keep-me"
hook 90-yum-clean "$r"
(cd "$r" && find var | sort) > "$tmp/lines"
is "$tmp/lines" "var
var/cache
var/cache/dnf
var/cache/yum
var/lib
var/lib/rpm
var/lib/rpm/Name
var/lib/rpm/Packages
var/tmp
var/tmp/keep-me" "90-yum-clean: the caches emptied, rpm's __db.* and rpm-tmp.* gone, the database kept"
twice 90-yum-clean "$r"
r=$(newroot)
hook 90-yum-clean "$r"
check "$rc" "90-yum-clean: a root without yum or dnf" || show
mkdir -p "$r/var/cache" "$tmp/outside-cache"
touch "$tmp/outside-cache/precious"
ln -s "$tmp/outside-cache" "$r/var/cache/dnf"
fails 90-yum-clean "$r" "/var/cache/dnf in the guest is a link that leads out of it"
[ -e "$tmp/outside-cache/precious" ]
check $? "90-yum-clean: nothing is removed through a link out of the root"

# ---- roles ------------------------------------------------------------------

for role in minimal ssh udev sudo web; do
    [ -d "hooks/roles/$role" ]
    check $? "role $role exists"
done
pk() { sed 's/#.*//' "hooks/roles/$1/packages" | tr -s ' \t' '\n' | grep . | tr '\n' ' '; }
[ "$(pk ssh)" = "openssh-server " ] && [ "$(pk udev)" = "udev " ] &&
    [ "$(pk sudo)" = "sudo " ] && [ -z "$(pk minimal)" ] && [ -z "$(pk web)" ]
check $? "roles' packages: ssh openssh-server, udev udev, sudo sudo, minimal and web none"

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
# el7 and el8: no Include; the line goes in first, others commented out
printf 'Port 22\nPermitRootLogin yes\n' > "$r/etc/ssh/sshd_config"
twice 60-ssh-root-login "$r"
[ "$(grep -v '^#' "$r/etc/ssh/sshd_config")" = "$(printf 'PermitRootLogin prohibit-password\nPort 22')" ] &&
    grep -q '^#PermitRootLogin yes$' "$r/etc/ssh/sshd_config"
check $? "role ssh: without an Include, sshd_config itself says it first" || show
rm -f "$r/usr/sbin/sshd"
fails 60-ssh-root-login "$r" "openssh-server is not installed"

# role web: a busybox root with a fake systemctl as in 60-services' test
r=$(busybox_root)
mkdir -p "$r/lib/systemd/system" "$r/usr/lib/systemd/system"
cat > "$r/usr/bin/systemctl" << 'EOF'
#!/bin/sh
w=/etc/systemd/system/multi-user.target.wants
case $1 in
is-enabled) [ "$2" = --quiet ] && shift; [ -L "$w/$2" ] ;;
enable) echo "enable $2" >> /var/log/systemctl.calls
    mkdir -p $w && ln -s "/lib/systemd/system/$2" "$w/$2" ;;
*) exit 2 ;;
esac
EOF
chmod +x "$r/usr/bin/systemctl"
fails 60-web-server "$r" "no web server is installed in the guest"
printf '[Install]\nWantedBy=multi-user.target\n' > "$r/lib/systemd/system/nginx.service"
hook 60-web-server "$r"
[ "$rc" -eq 0 ] && [ "$(cat "$r/var/log/systemctl.calls")" = "enable nginx.service" ] &&
    [ -L "$r/etc/systemd/system/multi-user.target.wants/nginx.service" ]
check $? "role web: nginx.service enabled with the guest's systemctl" || show
twice 60-web-server "$r"
[ "$(wc -l < "$r/var/log/systemctl.calls")" -eq 1 ]
check $? "role web: an enabled server is left alone"
rm -f "$r/lib/systemd/system/nginx.service" "$r/etc/systemd/system/multi-user.target.wants/nginx.service"
printf '[Install]\nWantedBy=multi-user.target\n' > "$r/usr/lib/systemd/system/httpd.service"
hook 60-web-server "$r"
[ "$rc" -eq 0 ] && [ "$(tail -n 1 "$r/var/log/systemctl.calls")" = "enable httpd.service" ]
check $? "role web: the Red Hat family's httpd.service (in /usr/lib) too" || show
rm -f "$r/usr/bin/systemctl"
fails 60-web-server "$r" "the guest has no systemctl"

# ---- 80-grub-cfg ------------------------------------------------------------

r=$(newroot)
mkdir -p "$r/boot"
for v in 6.1.0-9-amd64 6.1.0-10-amd64; do
    echo k > "$r/boot/vmlinuz-$v"
    echo i > "$r/boot/initrd.img-$v"
done
echo k > "$r/boot/vmlinuz-6.1.0-11-amd64"     # no initramfs: left out
g=(VMKIT_DISK_LAYOUT=partitioned VMKIT_DIST=bookworm VMKIT_BOOT_PREFIX=/boot
   VMKIT_BOOT_DEVICE=UUID=0c1d2e3f-0000-4000-8000-000000000001
   "VMKIT_KERNEL_ARGS=root=UUID=0c1d2e3f-0000-4000-8000-000000000001 ro console=hvc0 console=ttyS0")
hook 80-grub-cfg "$r" "${g[@]}"
grep -v '^#' "$r/boot/grub/grub.cfg" > "$tmp/lines"
is "$tmp/lines" "set default=0
set timeout=1

menuentry 'Linux 6.1.0-10-amd64 (bookworm)' {
    search --no-floppy --fs-uuid --set=root 0c1d2e3f-0000-4000-8000-000000000001
    linux /boot/vmlinuz-6.1.0-10-amd64 root=UUID=0c1d2e3f-0000-4000-8000-000000000001 ro console=hvc0 console=ttyS0
    initrd /boot/initrd.img-6.1.0-10-amd64
}
menuentry 'Linux 6.1.0-9-amd64 (bookworm)' {
    search --no-floppy --fs-uuid --set=root 0c1d2e3f-0000-4000-8000-000000000001
    linux /boot/vmlinuz-6.1.0-9-amd64 root=UUID=0c1d2e3f-0000-4000-8000-000000000001 ro console=hvc0 console=ttyS0
    initrd /boot/initrd.img-6.1.0-9-amd64
}" "80-grub-cfg: a menuentry per kernel with its initramfs, the newest first"
twice 80-grub-cfg "$r" "${g[@]}"
hook 80-grub-cfg "$r" "${g[@]}" VMKIT_BOOT_PREFIX=
grep -q '^    linux /vmlinuz-6.1.0-10-amd64 ' "$r/boot/grub/grub.cfg"
check $? "80-grub-cfg: a separate /boot: paths from its own root" || show
r2=$(newroot)
hook 80-grub-cfg "$r2" VMKIT_DISK_LAYOUT=whole
[ "$rc" -eq 0 ] && [ ! -e "$r2/boot/grub/grub.cfg" ]
check $? "80-grub-cfg: a whole-disk guest gets none" || show
fails 80-grub-cfg "$r" "quotes" "${g[@]}" "VMKIT_KERNEL_ARGS=ro init=/bin/sh'"
fails 80-grub-cfg "$r" "expected UUID=" "${g[@]}" VMKIT_BOOT_DEVICE=LABEL=root
fails 80-grub-cfg "$r2" "no kernel" "${g[@]}"

done_testing
