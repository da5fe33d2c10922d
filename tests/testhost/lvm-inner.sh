#!/bin/sh
# lvm-inner.sh DISK - the first LVM smoke suite, run INSIDE the vmkit test
# host (tests/lvm/lvm.t boots it and runs this through run-inner), as
# root, on DISK, an empty disk the test gave the guest (/dev/vdc).
#
# lvm2 on a real device-mapper: a PV and a VG on DISK, a linear volume
# with an ext4 made by mke2fs -d (read back with debugfs), an LVM snapshot
# of it that keeps the old contents while the origin changes, a thin pool
# with a thin volume larger than the pool, and everything removed again,
# leaving no device-mapper device behind.  Then the build of vmkit the
# payload installed: vm-provision --help, vmctl info, and a guest
# provisioned from the test host's root tarball (--install-method tar, no
# network) into file images, checked and deleted.
#
# Prints TAP; the plan comes last.  Every command's output goes to a log
# in the suite's temporary directory, shown as diagnostics when a check
# fails.
set -u
disk=${1:-/dev/vdc}
vg=vgtest
suite=lvm-inner
. "$(dirname "$0")/tap-inner.sh"

cleanup() {
    # whatever a failed check left: volumes, the VG, the PV
    if vgs "$vg" > /dev/null 2>&1; then
        lvremove -f -y "$vg" > /dev/null 2>&1
        vgremove -f -y "$vg" > /dev/null 2>&1
    fi
    pvremove -f -y "$disk" > /dev/null 2>&1
    rm -rf "$t"
}
trap cleanup EXIT
start=$(now)

# --- the disk --------------------------------------------------------------
size=$(blockdev --getsize64 "$disk" 2>/dev/null)
[ -b "$disk" ] && [ "${size:-0}" -eq $((2 * 1024 * 1024 * 1024)) ]
ok $? "$disk is a 2 GiB block device ($size bytes)"
run blkid -p "$disk"
[ $? -eq 2 ]; check $? "$disk is empty (no signature blkid knows)"

# --- PV, VG, a linear volume with an ext4 from a directory -------------------
run pvcreate "$disk"; check $? "pvcreate $disk"
run vgcreate "$vg" "$disk"; check $? "vgcreate $vg $disk"
run lvcreate -y -L 512M -n t1-disk "$vg"; check $? "lvcreate -L 512M -n t1-disk $vg"
[ -b /dev/$vg/t1-disk ] && [ "$(blockdev --getsize64 /dev/$vg/t1-disk)" -eq $((512 * 1024 * 1024)) ]
ok $? "/dev/$vg/t1-disk is a 512 MiB block device"
mkdir -p "$t/tree/etc"
echo "hello from lvm-inner" > "$t/tree/etc/hello"
run mke2fs -q -F -t ext4 -L t1 -d "$t/tree" /dev/$vg/t1-disk
check $? "mke2fs -t ext4 -d DIR /dev/$vg/t1-disk"
got=$(debugfs -R 'cat /etc/hello' /dev/$vg/t1-disk 2>/dev/null)
[ "$got" = "hello from lvm-inner" ]; ok $? "debugfs reads /etc/hello back from the volume ($got)"

# --- a snapshot keeps the contents of the moment it was taken ----------------
run lvcreate -y -s -L 100M -n t1-snap $vg/t1-disk
check $? "lvcreate -s -L 100M -n t1-snap $vg/t1-disk"
origin=$(lvs --noheadings -o origin $vg/t1-snap 2>/dev/null | tr -d ' ')
[ "$origin" = t1-disk ]; ok $? "lvs: t1-snap is a snapshot of t1-disk ($origin)"
# the origin changes (debugfs writes without mounting) ...
echo "changed after the snapshot" > "$t/new"
run debugfs -w -R "write $t/new /etc/changed" /dev/$vg/t1-disk
run2=$?
got=$(debugfs -R 'cat /etc/changed' /dev/$vg/t1-disk 2>/dev/null)
[ $run2 -eq 0 ] && [ "$got" = "changed after the snapshot" ]
check $? "the origin is written after the snapshot (debugfs -w)"
# ... the snapshot does not
got=$(debugfs -R 'cat /etc/hello' /dev/$vg/t1-snap 2>/dev/null)
debugfs -R 'stat /etc/changed' /dev/$vg/t1-snap > "$log" 2>&1
grep -q 'File not found' "$log" && [ "$got" = "hello from lvm-inner" ]
check $? "the snapshot reads as the volume was: /etc/hello, no /etc/changed"
run e2fsck -fn /dev/$vg/t1-snap; check $? "e2fsck -fn on the snapshot: clean"
mkdir -p "$t/mnt"
run mount -o ro /dev/$vg/t1-snap "$t/mnt"
[ $? -eq 0 ] && [ "$(cat "$t/mnt/etc/hello")" = "hello from lvm-inner" ]
check $? "the snapshot mounts read-only and reads back"
umount "$t/mnt" 2>/dev/null

# --- a thin pool and an over-provisioned thin volume -------------------------
run lvcreate -y --type thin-pool -L 1G -n pool $vg
check $? "lvcreate --type thin-pool -L 1G -n pool $vg"
run lvcreate -y -V 2G --thin $vg/pool -n t2-disk
check $? "lvcreate -V 2G --thin $vg/pool -n t2-disk (more than the pool)"
[ -b /dev/$vg/t2-disk ] && [ "$(blockdev --getsize64 /dev/$vg/t2-disk)" -eq $((2 * 1024 * 1024 * 1024)) ]
ok $? "/dev/$vg/t2-disk is a 2 GiB block device"
run mke2fs -q -F -t ext4 -L t2 -d "$t/tree" /dev/$vg/t2-disk
check $? "mke2fs -t ext4 -d DIR on the thin volume"
got=$(debugfs -R 'cat /etc/hello' /dev/$vg/t2-disk 2>/dev/null)
[ "$got" = "hello from lvm-inner" ]; ok $? "debugfs reads /etc/hello back from the thin volume"
used=$(lvs --noheadings -o data_percent $vg/t2-disk 2>/dev/null | tr -d ' ')
awk -v u="${used:-x}" 'BEGIN { exit !(u + 0 > 0 && u + 0 < 50) }'
ok $? "the thin volume takes only what was written (data ${used:-?}% of 2G)"

# --- everything removed --------------------------------------------------------
run lvremove -y $vg/t1-snap $vg/t2-disk $vg/pool $vg/t1-disk
check $? "lvremove the snapshot, the thin volume, the pool, the volume"
run lvs --noheadings $vg
[ $? -eq 0 ] && ! grep -q . "$log"; check $? "no volume left in $vg"
run vgremove -y $vg; check $? "vgremove $vg"
run pvremove -y "$disk"; check $? "pvremove $disk"
run dmsetup ls
grep -q 'No devices found' "$log"; check $? "no device-mapper device left"
run blkid -p "$disk"
[ $? -eq 2 ]; check $? "$disk is empty again"

# --- the build of vmkit, inside ------------------------------------------------
run vm-provision --help
[ $? -eq 0 ] && grep -q -- '--install-method' "$log"
check $? "vm-provision --help runs inside the test host"
run vmctl info
[ $? -eq 0 ] && grep -q '^accel  *: ' "$log"
check $? "vmctl info runs inside the test host"
sed -n 's/^\(accel[_a-z]*\) *: /\1: /p' "$log" | diag

export VMKIT_CONFDIR=$t/etc VMKIT_LIBDIR=$t/lib VMKIT_RUNDIR=$t/run \
    VMKIT_LOGDIR=$t/log VMKIT_CACHEDIR=$t/cache
mkdir -p "$t/etc" "$t/lib"
p0=$(now)
run vm-provision --dist bookworm --install-method tar --install-source "$tarball" \
    --hostname inner1 --network none --noswap --size 1G --no-cache
rc=$?
secs=$(since "$p0")
[ $rc -eq 0 ]; check $? "vm-provision makes inner1 from the root tarball into file images (${secs} s)"
[ $rc -eq 0 ] || tail -n 30 "$t/log/inner1-provision.log" 2>/dev/null | diag
echo "# inner1 provisioned in $secs s: $(grep -o '\[[0-9]*/10\] [a-z]*: done in [0-9.]* s' "$log" | sed 's/: done in /=/; s/\[[0-9/]*\] //' | tr '\n' ' ')"
img=$t/lib/domains/inner1/disk.img
[ -f "$img" ] && [ "$(blkid -p -o value -s LABEL "$img")" = root ] &&
    [ -f "$t/lib/boot/inner1/vmlinuz" ] && [ -f "$t/lib/boot/inner1/initrd.img" ]
ok $? "inner1: disk.img (ext4 labelled root), kernel and initramfs are there"
got=$(debugfs -R 'cat /etc/hostname' "$img" 2>/dev/null)
[ "$got" = inner1 ]; ok $? "inner1's /etc/hostname, read with debugfs, says inner1 ($got)"
run vmctl config-dump "$t/etc/inner1.cfg"
[ $? -eq 0 ] && grep -q "target=$img" "$log"
check $? "inner1's config parses and names its image"
run vm-provision --delete inner1
[ $? -eq 0 ] && [ ! -e "$t/etc/inner1.cfg" ] && [ ! -e "$t/lib/domains/inner1" ]
check $? "vm-provision --delete inner1 removes it"

echo "# lvm-inner.sh: $n checks in $(since "$start") s"
echo "1..$n"
[ "$failed" -eq 0 ]
