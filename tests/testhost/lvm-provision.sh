#!/bin/sh
# lvm-provision.sh DISK - vm-provision on LVM, run INSIDE the vmkit test
# host (tests/lvm/lvm.t boots it and runs this through run-inner), as
# root, on DISK, an empty disk the test gave the guest (/dev/vdc).
#
# A volume group on DISK with a thin pool; guests provisioned from the
# test host's root tarball (--install-method tar: no network) with
# --lvm and --lvm-thin, read back without mounting (debugfs, blkid,
# sfdisk): volumes and their sizes, file systems, fstab, the config;
# an existing volume refused without --force and replaced with it;
# failures injected at each step (VMKIT_FAIL_AT), an interrupt (SIGINT)
# and a kill (SIGKILL, swept by the next run) leaving no volume behind;
# snapshots of a stopped and of a running guest (paused for the moment),
# mounted read-only, listed and removed; --delete.  Everything removed
# at the end: the disk is empty for the next suite.
#
# Prints TAP; the plan comes last.
set -u
disk=${1:-/dev/vdc}
vg=vgprov
suite=lvm-provision
. "$(dirname "$0")/tap-inner.sh"

export VMKIT_CONFDIR=$t/etc VMKIT_LIBDIR=$t/lib VMKIT_RUNDIR=$t/run \
    VMKIT_LOGDIR=$t/log VMKIT_CACHEDIR=$t/cache
mkdir -p "$t/etc" "$t/lib"

cleanup() {
    for g in web1 web2 web3 web4 web5; do
        vmctl destroy "$g" > /dev/null 2>&1
    done
    if vgs "$vg" > /dev/null 2>&1; then
        lvremove -f -y "$vg" > /dev/null 2>&1
        vgremove -f -y "$vg" > /dev/null 2>&1
    fi
    pvremove -f -y "$disk" > /dev/null 2>&1
    rm -rf "$t"
}
trap cleanup EXIT
start=$(now)

# provision NAME ARGS...: vm-provision from the tarball, no network, output to the log
provision() {
    name=$1
    shift
    vm-provision --dist bookworm --install-method tar --install-source "$tarball" \
        --hostname "$name" --network none --no-cache "$@" > "$log" 2>&1
}
# the volumes of the VG, one "NAME SIZE ATTR ORIGIN" a line, sorted
volumes() {
    lvs --noheadings --units b --nosuffix -o lv_name,lv_size,lv_attr,origin "$vg" 2>/dev/null |
        awk '{ print $1, $2, $3, $4 }' | sort
}
# no volume of guest NAME (nor a leftover .new-/.old- one) in the VG
no_volumes_of() {
    ! volumes | grep -q "^$1-"
}
# nothing of guest NAME left in files: config, record, work directories
no_files_of() {
    [ ! -e "$t/etc/$1.cfg" ] && [ ! -e "$t/lib/guests/$1.json" ] &&
        ! ls -a "$t/lib/domains" 2>/dev/null | grep -q "$1"
}
dfs() { debugfs -R "$1" "$2" 2>/dev/null; }

# --- the volume group ------------------------------------------------------------
run pvcreate "$disk" && run vgcreate "$vg" "$disk" &&
    run lvcreate -y --type thin-pool -L 768M -n pool "$vg"
check $? "a volume group $vg on $disk with a 768M thin pool"

# --- dry run: the plan names the volumes -------------------------------------------
run vm-provision --dist bookworm --install-method tar --install-source "$tarball" \
    --hostname web1 --network none --lvm $vg --size 512M --swap 32M --dry-run
[ $? -eq 0 ] && grep -q "storage: logical volumes in $vg (lvm); root /dev/$vg/web1-disk (raw" "$log" &&
    grep -q "swap /dev/$vg/web1-swap" "$log" &&
    grep -q "target=/dev/$vg/web1-disk" "$log"
check $? "--dry-run --lvm: the plan and the config name /dev/$vg/web1-disk and -swap"
run vm-provision --hostname web1 --lvm $vg --image-format qcow2 --dry-run
[ $? -eq 2 ] && grep -q 'qcow2 is a file format' "$log"
check $? "--lvm with --image-format qcow2 is refused (exit 2)"
run vm-provision --hostname web1 --lvm-thin $vg --dry-run
[ $? -eq 2 ] && grep -q 'expected VG/POOL' "$log"
check $? "--lvm-thin without a pool is refused, saying VG/POOL"
run vm-provision --hostname web1 --lvm novg --network none --dist bookworm \
    --install-method tar --install-source "$tarball"
[ $? -ne 0 ] && grep -q 'novg' "$log" && [ ! -e "$t/etc/web1.cfg" ]
check $? "a volume group that does not exist: an error naming it, nothing made"
run vm-provision --hostname web1 --lvm $vg --size 4G --network none --dist bookworm \
    --install-method tar --install-source "$tarball"
[ $? -ne 0 ] && grep -q "volume group $vg has .* free, and this guest needs" "$log" &&
    no_volumes_of web1
check $? "a guest larger than the VG's free space: refused before any volume is made"

# --- a guest on linear volumes --------------------------------------------------------
p0=$(now)
provision web1 --lvm $vg --size 512M --swap 32M --password vmkit --memory 128M
rc=$?
check $rc "vm-provision --lvm $vg makes web1 ($(since "$p0") s)"
[ $rc -eq 0 ] || tail -n 20 "$t/log/web1-provision.log" 2>/dev/null | diag
volumes > "$t/vols"
grep -qx "web1-disk $((512 << 20)) -wi-a----- " "$t/vols" &&
    grep -qx "web1-swap $((32 << 20)) -wi-a----- " "$t/vols"
ok $? "lvs: web1-disk 512M and web1-swap 32M, linear" ||
    diag < "$t/vols"
[ "$(grep -c '^web1' "$t/vols")" -eq 2 ]; ok $? "no .new- or .old- volume of web1 is left"
[ "$(blkid -p -o value -s TYPE /dev/$vg/web1-disk)" = ext4 ] &&
    [ "$(blkid -p -o value -s LABEL /dev/$vg/web1-disk)" = root ] &&
    [ "$(blkid -p -o value -s TYPE /dev/$vg/web1-swap)" = swap ]
ok $? "blkid: ext4 labelled root on web1-disk, swap on web1-swap"
got=$(dfs 'cat /etc/hostname' /dev/$vg/web1-disk)
[ "$got" = web1 ]; ok $? "debugfs reads web1's /etc/hostname from the volume ($got)"
dfs 'cat /etc/fstab' /dev/$vg/web1-disk > "$log"
grep -Eq '^(LABEL=root|UUID=[0-9a-f-]+|/dev/xvda1?|/dev/vda1?)[[:space:]]+/[[:space:]]' "$log" &&
    grep -Eq '[[:space:]]swap[[:space:]]' "$log"
check $? "web1's fstab mounts the root and the swap disk"
grep -q "format=raw,vdev=xvda,access=rw,target=/dev/$vg/web1-disk" "$t/etc/web1.cfg" &&
    grep -q "format=raw,vdev=xvdb,access=rw,target=/dev/$vg/web1-swap" "$t/etc/web1.cfg"
ok $? "web1.cfg: both volumes as raw disks by path" || diag < "$t/etc/web1.cfg"
run vmctl config-dump "$t/etc/web1.cfg"; check $? "vmctl config-dump reads web1.cfg"
grep -q "\"volume_group\": *\"$vg\"" "$t/lib/guests/web1.json" &&
    grep -q '"disk_lv": *"web1-disk"' "$t/lib/guests/web1.json"
ok $? "web1's record says its volumes" || diag < "$t/lib/guests/web1.json"
run vm-provision --list
grep -q "/dev/$vg/web1-disk (raw 512M) +swap 32M" "$log"; check $? "--list shows web1 on /dev/$vg/web1-disk"
uuid1=$(blkid -p -o value -s UUID /dev/$vg/web1-disk)

# --- existing volumes: refused, then replaced with --force ----------------------------
mv "$t/etc/web1.cfg" "$t/web1.cfg.keep"
mv "$t/lib/guests/web1.json" "$t/web1.json.keep"
provision web1 --lvm $vg --size 512M --swap 32M
[ $? -ne 0 ] && grep -q "guest \`web1' exists: .*web1-disk" "$log" &&
    [ "$(blkid -p -o value -s UUID /dev/$vg/web1-disk)" = "$uuid1" ]
check $? "a volume web1-disk left without a config: refused without --force, untouched"
mv "$t/web1.cfg.keep" "$t/etc/web1.cfg"
mv "$t/web1.json.keep" "$t/lib/guests/web1.json"
VMKIT_FAIL_AT=config provision web1 --lvm $vg --size 512M --swap 32M --force
[ $? -ne 0 ] && [ "$(blkid -p -o value -s UUID /dev/$vg/web1-disk)" = "$uuid1" ] &&
    [ "$(volumes | grep -c '^web1')" -eq 2 ]
check $? "--force failing at its last step: web1's own volumes are back, nothing else"
p0=$(now)
provision web1 --lvm $vg --size 512M --swap 32M --password vmkit --memory 128M --force
rc=$?
uuid2=$(blkid -p -o value -s UUID /dev/$vg/web1-disk)
[ $rc -eq 0 ] && [ -n "$uuid2" ] && [ "$uuid2" != "$uuid1" ] &&
    [ "$(volumes | grep -c '^web1')" -eq 2 ]
check $? "--force replaces web1's volumes (a new file system; the old volumes gone, $(since "$p0") s)"

# --- failures and signals leave nothing -------------------------------------------------
for step in storage install hooks filesystem config; do
    VMKIT_FAIL_AT=$step provision web2 --lvm $vg --size 512M --swap 32M
    rc=$?
    [ $rc -ne 0 ] && grep -q "failure injected after step $step" "$log" &&
        no_volumes_of web2 && no_files_of web2
    check $? "VMKIT_FAIL_AT=$step: vm-provision fails, no volume or file of web2 is left"
done
VMKIT_FAIL_AT=filesystem provision web2 --lvm-thin $vg/pool --size 512M --swap 32M
[ $? -ne 0 ] && no_volumes_of web2 && no_files_of web2
check $? "VMKIT_FAIL_AT=filesystem with --lvm-thin: no thin volume left"

# an interrupt in the middle of the install
vm-provision --dist bookworm --install-method tar --install-source "$tarball" \
    --hostname web3 --network none --no-cache --lvm $vg --size 512M --swap 32M \
    > "$t/web3.out" 2>&1 &
pid=$!
i=0
while [ $i -lt 600 ] && ! grep -q '^== install' "$t/log/web3-provision.log" 2>/dev/null; do
    sleep 0.1; i=$((i + 1))
done
volumes | grep -q '^web3-disk\.new-'; made=$?
kill -INT $pid
wait $pid
rc=$?
[ $made -eq 0 ] && [ $rc -ne 0 ] && no_volumes_of web3 && no_files_of web3
ok $? "SIGINT during the install (the volumes made): exit $rc, no volume or file of web3 left" ||
    { volumes; tail -n 5 "$t/web3.out"; } | diag

# a kill leaves the volumes; the next run of the name sweeps them
vm-provision --dist bookworm --install-method tar --install-source "$tarball" \
    --hostname web4 --network none --no-cache --lvm $vg --size 512M --noswap \
    > "$t/web4.out" 2>&1 &
pid=$!
i=0
while [ $i -lt 600 ] && ! grep -q '^== install' "$t/log/web4-provision.log" 2>/dev/null; do
    sleep 0.1; i=$((i + 1))
done
kill -KILL $pid
wait $pid 2>/dev/null
volumes | grep -q '^web4-disk\.new-'
ok $? "SIGKILL during the install leaves web4-disk.new-PID (nothing can undo a kill)"
VMKIT_FAIL_AT=storage provision web4 --lvm $vg --size 512M --noswap
grep -q "removed $vg/web4-disk.new-[0-9]*, left by an interrupted run" "$log" &&
    no_volumes_of web4 && no_files_of web4
check $? "the next run of web4 removes it, saying so"

# --- thin volumes, a partitioned disk ------------------------------------------------------
p0=$(now)
provision web5 --lvm-thin $vg/pool --size 1G --swap 64M --disk-layout partitioned
rc=$?
check $rc "vm-provision --lvm-thin $vg/pool --disk-layout partitioned makes web5 ($(since "$p0") s)"
[ $rc -eq 0 ] || tail -n 20 "$t/log/web5-provision.log" 2>/dev/null | diag
volumes > "$t/vols"
grep -qx "web5-disk $((1 << 30)) Vwi-a-tz-- " "$t/vols" &&
    grep -qx "web5-swap $((64 << 20)) Vwi-a-tz-- " "$t/vols"
ok $? "lvs: web5-disk 1G and web5-swap 64M, thin" || diag < "$t/vols"
used=$(lvs --noheadings -o data_percent $vg/web5-disk 2>/dev/null | tr -d ' ')
awk -v u="${used:-x}" 'BEGIN { exit !(u + 0 > 0 && u + 0 < 90) }'
ok $? "web5-disk takes only what was written (${used:-?}% of 1G)"
partx -g -o NR,TYPE --show /dev/$vg/web5-disk > "$log" 2>&1
[ "$(blkid -p -o value -s PTTYPE /dev/$vg/web5-disk)" = gpt ] &&
    grep -qi '0fc63daf-8483-4772-8e79-3d69d8477de4' "$log"
check $? "web5-disk carries a GPT with a Linux partition (partx --show)"
grep -q '^bootloader = "pygrub"' "$t/etc/web5.cfg" &&
    grep -q "target=/dev/$vg/web5-disk" "$t/etc/web5.cfg"
ok $? "web5.cfg boots by pygrub from /dev/$vg/web5-disk" || diag < "$t/etc/web5.cfg"
run vmctl create -n --accel tcg "$t/etc/web5.cfg"
[ $? -eq 0 ] && grep -Eq 'vmlinuz' "$log"
check $? "vmctl create -n: vmkit's bootloader finds web5's kernel on the thin volume"

# --- snapshots ----------------------------------------------------------------------------------
vm-provision --snapshot web1 > "$t/snap.out" 2> "$log"
snap=$(cat "$t/snap.out")
[ -n "$snap" ] && [ -b "$snap" ] && case $snap in /dev/$vg/web1-disk-snap-*) true ;; *) false ;; esac
check $? "--snapshot web1 prints a new volume $snap"
sname=${snap##*/}
volumes | grep -q "^$sname [0-9]* sri-a-s--- web1-disk\$"
ok $? "it is a read-only copy-on-write snapshot of web1-disk" || volumes | diag
size=$(lvs --noheadings --units b --nosuffix -o lv_size "$vg/$sname" 2>/dev/null | tr -d ' ')
[ "${size:-0}" -eq $((256 << 20)) ]; ok $? "its room for changes: 256M (a fifth of 512M is less)"
echo "written after the snapshot" > "$t/new"
debugfs -w -R "write $t/new /etc/after-snapshot" /dev/$vg/web1-disk > /dev/null 2>&1
mkdir -p "$t/mnt"
run mount -o ro,noload "$snap" "$t/mnt"
rc=$?
[ $rc -eq 0 ] && [ "$(cat "$t/mnt/etc/hostname")" = web1 ] && [ ! -e "$t/mnt/etc/after-snapshot" ]
check $? "the snapshot mounts read-only: web1's files, not what the origin got later"
umount "$t/mnt" 2>/dev/null
# mount falls back to read-only on a write-protected device: either way
# nothing can be written
run mount -o rw,noload "$snap" "$t/mnt"
! touch "$t/mnt/etc/written" 2>> "$log" && [ ! -e "$t/mnt/etc/written" ]
check $? "it cannot be written: mount -o rw gives a read-only mount or fails"
umount "$t/mnt" 2>/dev/null
run vm-provision --snapshot-list web1
grep -q "^$snap  *copy-on-write  *256M " "$log"; check $? "--snapshot-list web1 lists it"
provision web1 --lvm $vg --size 512M --swap 32M --force
[ $? -ne 0 ] && grep -q "$vg/web1-disk has 1 snapshot ($vg/$sname): --force would lose them" "$log" &&
    [ -b "$snap" ] && [ "$(blkid -p -o value -s UUID /dev/$vg/web1-disk)" = "$uuid2" ]
check $? "--force over a disk with a snapshot is refused; disk and snapshot untouched"
run vm-provision --snapshot-delete "$vg/web1-disk"
[ $? -eq 2 ] && grep -q 'is not a snapshot of a guest' "$log" && [ -b /dev/$vg/web1-disk ]
check $? "--snapshot-delete refuses a guest's disk itself"
run vm-provision --snapshot-delete "$snap"
[ $? -eq 0 ] && [ ! -e "$snap" ]; check $? "--snapshot-delete removes it"

vm-provision --snapshot web5 > "$t/snap.out" 2> "$log"
snap5=$(cat "$t/snap.out")
volumes | grep -q "^${snap5##*/} [0-9]* Vri-a-tz-- web5-disk\$"
ok $? "--snapshot web5: a read-only thin snapshot, active at once" || { diag < "$log"; volumes | diag; }
run vm-provision --snapshot web5 --snapshot-size 100M
[ $? -eq 2 ] && grep -q 'is thin' "$log"; check $? "--snapshot-size for a thin disk is refused"

# a running guest is paused for the moment the snapshot takes
run vmctl create --accel tcg "$t/etc/web1.cfg"
rc=$?
check $rc "web1 runs (vmctl create inside the test host, TCG)"
if [ $rc -eq 0 ]; then
    vm-provision --snapshot web1 > "$t/snap.out" 2> "$log"
    rc=$?
    snap=$(cat "$t/snap.out")
    [ $rc -eq 0 ] && grep -q 'the guest was paused for a moment' "$log" && [ -b "$snap" ]
    check $? "--snapshot of running web1: paused for the snapshot ($(grep -o 'paused [0-9]* ms' "$log"))"
    run vmctl list web1
    grep -q '^web1 ' "$log" && ! grep -q '^web1 .* --p---' "$log"
    check $? "web1 runs on afterwards (not paused)"
    vmctl destroy web1 > /dev/null 2>&1
fi

# --- delete ---------------------------------------------------------------------------------------
run vm-provision --delete web5
[ $? -eq 0 ] && grep -q "removed /dev/$vg/${snap5##*/}" "$log" && no_volumes_of web5 &&
    no_files_of web5
check $? "--delete web5 removes its snapshot, its volumes, its config and record"
run vm-provision --delete web1
[ $? -eq 0 ] && no_volumes_of web1 && no_files_of web1
check $? "--delete web1 removes its snapshot and volumes"
[ "$(volumes | grep -vc '^pool ')" -eq 0 ]; ok $? "only the thin pool is left in $vg" || volumes | diag

run lvremove -y $vg/pool && run vgremove -y $vg && run pvremove -y "$disk"
check $? "the pool, the VG and the PV removed"
run dmsetup ls
grep -q 'No devices found' "$log"; check $? "no device-mapper device left"

echo "# lvm-provision.sh: $n checks in $(since "$start") s"
echo "1..$n"
[ "$failed" -eq 0 ]
