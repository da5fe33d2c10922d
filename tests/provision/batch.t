#!/bin/sh
# timeout: 1500
# vm-provision --batch, end to end, under TCG: a fleet of five bookworm
# guests from the host's own mirror.  The first, alone, makes the base
# root and the golden image; every guest is a clone of it (fb a qcow2
# overlay, the others copies), two at a time.  A fleet with a duplicate
# address is refused whole, with nothing made; fixed, all five are made.
# Read back from their images without booting (debugfs): host names,
# addresses, machine-ids and ssh host keys all distinct, and the golden
# image holds none of them.  Two of them (fb the overlay) boot on a bridge
# in a network namespace, log in on hvc0, show their own name and
# address, and ping each other.  A batch interrupted (SIGINT) at random
# points, five times (the first while it builds a golden image afresh),
# leaves only complete guests, and a cache whose golden images are whole
# and without temporaries.  --batch-delete removes the fleet;
# --golden-delete keeps an image that an overlay needs.  --count with
# --ip-range makes a homogeneous one (dry run).
. tests/lib/tap.sh
check() { ok "$1" "$2"; return "$1"; }

if [ "$(id -u)" != 0 ]; then
    echo "1..0 # SKIP needs root (mmdebstrap, chroot, taps, network namespaces)"
    exit 0
fi

top=$(pwd)
P=$top/bin/vm-provision
vmctl=$top/bin/vmctl
expect=$top/tests/lib/console-expect
t=$(mktemp -d /tmp/vmkit-batch.XXXXXX)
ns=vmkit-ba-$$
export VMKIT_RUNDIR=$t/run VMKIT_LOGDIR=$t/log VMKIT_LIBDIR=$t/lib VMKIT_CONFDIR=$t/etc
export VMKIT_CACHEDIR=${VMKIT_TEST_CACHE:-$top/build/provision-cache}
mkdir -p "$t/etc" "$VMKIT_CACHEDIR"

cleanup() {
    for d in fa fb; do "$vmctl" destroy "$d" >/dev/null 2>&1; done
    ip netns delete "$ns" 2>/dev/null
    rm -rf "$t"
}
trap cleanup EXIT INT TERM

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add br0 type bridge
ip -n "$ns" link set br0 up

# the fleet: a written by hand as an administrator would
fleet() {
    cat <<EOF
# five small guests on br0; fe takes DHCP
[defaults]
size     = 1536M
image-format = raw     # copies of the golden image, but fb
noswap   = yes
memory   = 256M
netmask  = 255.255.255.0
bridge   = br0
password = "batch pw"

[fa]
ip = 10.97.0.11

[fb]
ip = 10.97.0.12
image-format = qcow2   # an overlay on the golden image

[fc]
ip     = $1   # the third
memory = 384M

[fd]
ip = 10.97.0.14

[fe]
dhcp = yes
EOF
}
snapshot() {
    { find "$t/etc" "$t/lib" 2>/dev/null | sort
      find "$VMKIT_CACHEDIR" -name '.*' 2>/dev/null
    } > "$1"
}
snapshot "$t/before"

# --- a duplicate address: refused whole ------------------------------------------
fleet 10.97.0.12 > "$t/dup.fleet"
"$P" --batch "$t/dup.fleet" > "$t/dup.out" 2>&1
rc=$?
snapshot "$t/after"
[ $rc -eq 2 ] && grep -q "dup.fleet:19:.*10.97.0.12 is already guest fb's (line 15)" "$t/dup.out" &&
    grep -q 'the fleet is refused; nothing was made' "$t/dup.out" && cmp -s "$t/before" "$t/after"
check $? "a fleet with a duplicate address is refused (exit 2), naming both lines; nothing made" ||
    diag < "$t/dup.out"

# --- the fleet ---------------------------------------------------------------------------
fleet 10.97.0.13 > "$t/web.fleet"
start=$(date +%s)
"$P" --batch "$t/web.fleet" -j 2 > "$t/batch.out" 2>&1
rc=$?
secs=$(($(date +%s) - start))
check $rc "vm-provision --batch -j 2 makes the five guests ($secs s)" || tail -n 30 "$t/batch.out" | diag
grep -Eq '^5 made, 0 failed, 0 not started in [0-9.]+ s$' "$t/batch.out"
check $? "the summary says 5 made" || tail -n 12 "$t/batch.out" | diag
sed -n '/^NAME  *STATUS  *SECONDS  *WHY/,$p' "$t/batch.out" | diag
for g in fa fb fc fd fe; do
    disk=$t/lib/domains/$g/disk.img
    [ $g = fb ] && disk=$t/lib/domains/$g/disk.qcow2
    [ -s "$t/etc/$g.cfg" ] && [ -s "$t/lib/guests/$g.json" ] && [ -s "$disk" ]
    check $? "$g: config, record and disk are there"
done
grep -E '^ +(fa|fb|fc|fd|fe) ' "$t/batch.out" | diag

# --- the golden image ----------------------------------------------------------------------
# the image the fleet's records name (the cache may hold others)
ids=$(sed -n 's/.*"golden": *"\([^"]*\)".*/\1/p' "$t"/lib/guests/f?.json | sort -u)
gid=$ids
golden=$VMKIT_CACHEDIR/golden/$gid
"$P" --golden-list > "$t/golden.out" 2>&1
[ "$(echo "$ids" | wc -w)" -eq 1 ] && [ -s "$golden/disk.img" ] &&
    awk -v id="$gid" '$1 == id { found = 1; n = $NF } END { exit !(found && n == 1) }' "$t/golden.out"
check $? "the five are clones of one golden image ($gid), which --golden-list shows backing one overlay (fb)" ||
    diag < "$t/golden.out"
qemu-img info --output=json "$t/lib/domains/fb/disk.qcow2" > "$t/fb.info" 2>&1
grep -q "\"backing-filename-format\": \"raw\"" "$t/fb.info" &&
    grep -qF "\"backing-filename\": \"$golden/disk.img\"" "$t/fb.info"
check $? "fb is a qcow2 overlay on the golden image, its backing format named" || diag < "$t/fb.info"
[ "$(stat -c %h "$golden/vmlinuz")" -ge 6 ] && [ "$(stat -c %i "$golden/initrd.img")" = "$(stat -c %i "$t/lib/boot/fa/initrd.img")" ]
check $? "the guests' kernel and initramfs are hard links to the golden image's"
gdfs() { debugfs -R "$1" "$golden/disk.img" 2>/dev/null; }
[ "$(gdfs 'cat /etc/hostname')" = localhost ] && [ -z "$(gdfs 'cat /etc/machine-id')" ] &&
    ! gdfs 'ls /etc/ssh' | grep -q ssh_host_ && ! gdfs 'ls /var/lib/systemd' | grep -q random-seed &&
    gdfs 'cat /etc/shadow' | grep -q '^root:\*:'
check $? "the golden image names no guest: hostname localhost, empty machine-id, no ssh host keys, no seed, root locked"
e2fsck -fn "$golden/disk.img" > "$t/golden.fsck" 2>&1
check $? "the golden image's file system checks clean" || diag < "$t/golden.fsck"

# a clone that fails at any step leaves nothing, and the golden image as it was
"$P" --golden-list > "$t/golden.before" 2>&1
for step in install identity kernel config; do
    VMKIT_FAIL_AT=$step "$P" --hostname fx --golden --size 1536M --noswap --network none \
        --password "batch pw" > "$t/fail.out" 2>&1
    rc=$?
    "$P" --golden-list > "$t/golden.after" 2>&1
    [ $rc -ne 0 ] && [ ! -e "$t/etc/fx.cfg" ] && [ ! -e "$t/lib/guests/fx.json" ] &&
        [ ! -e "$t/lib/domains/fx" ] && [ ! -e "$t/lib/boot/fx" ] &&
        [ -z "$(ls -A "$t/lib/domains" | grep '^\.')" ] && cmp -s "$t/golden.before" "$t/golden.after" &&
        [ -z "$(find "$VMKIT_CACHEDIR/golden" -name '.*')" ]
    check $? "a clone failing after its $step step (exit $rc) leaves nothing; the golden images are as they were" ||
        { tail -n 5 "$t/fail.out"; diff "$t/golden.before" "$t/golden.after"; } | diag
done

# the other way to personalise a clone: a libguestfs appliance
"$P" --hostname fg --golden --size 1536M --image-format raw --noswap --network none --customize guestfs \
    --password "batch pw" > "$t/fg.out" 2>&1
rc=$?
[ $rc -eq 0 ] && [ "$(debugfs -R 'cat /etc/hostname' "$t/lib/domains/fg/disk.img" 2>/dev/null)" = fg ] &&
    debugfs -R 'cat /etc/ssh/ssh_host_ed25519_key.pub' "$t/lib/domains/fg/disk.img" 2>/dev/null |
        grep -q 'root@fg$' && e2fsck -fn "$t/lib/domains/fg/disk.img" > /dev/null 2>&1
check $? "--customize guestfs: a clone personalised in a libguestfs appliance ($(sed -n 's/.*identity: done in \(.*\)/\1/p' "$t/fg.out"))" ||
    tail -n 8 "$t/fg.out" | diag
"$P" --delete fg > /dev/null 2>&1

# --- read back, without booting ----------------------------------------------------------
qemu-img convert -f qcow2 -O raw "$t/lib/domains/fb/disk.qcow2" "$t/fb.raw"
dfs() {
    if [ "$2" = fb ]; then debugfs -R "$1" "$t/fb.raw" 2>/dev/null
    else debugfs -R "$1" "$t/lib/domains/$2/disk.img" 2>/dev/null; fi
}
: > "$t/ids"
for g in fa fb fc fd fe; do
    hn=$(dfs 'cat /etc/hostname' $g)
    ad=$(dfs 'cat /etc/network/interfaces' $g | awk '$1 == "address" { print $2 } /inet dhcp/ { print "dhcp" }' | head -1)
    mid=$(dfs 'cat /etc/machine-id' $g)
    hk=$(dfs 'cat /etc/ssh/ssh_host_ed25519_key.pub' $g | awk '{ print $2 }')
    echo "$g $hn $ad $mid ${hk:-none}" >> "$t/ids"
done
diag < "$t/ids"
awk '$1 == $2' "$t/ids" | wc -l | grep -qx 5
check $? "each guest's /etc/hostname is its own name"
[ "$(awk '{ print $3 }' "$t/ids" | tr '\n' ' ')" = "10.97.0.11/24 10.97.0.12/24 10.97.0.13/24 10.97.0.14/24 dhcp " ] ||
    [ "$(awk '{ print $3 }' "$t/ids" | tr '\n' ' ')" = "10.97.0.11 10.97.0.12 10.97.0.13 10.97.0.14 dhcp " ]
check $? "each guest has its address from the fleet (fe: DHCP)"
[ "$(awk '{ print $4 }' "$t/ids" | sort -u | grep -c '^[0-9a-f]\{32\}$')" -eq 5 ]
check $? "five distinct machine-ids"
[ "$(awk '{ print $5 }' "$t/ids" | grep -v none | sort -u | wc -l)" -eq 5 ]
check $? "five distinct ssh host keys (the golden image has none to share)"
fsck_ok=0
for g in fa fc fd fe; do e2fsck -fn "$t/lib/domains/$g/disk.img" > /dev/null 2>&1 || fsck_ok=1; done
e2fsck -fn "$t/fb.raw" > /dev/null 2>&1 || fsck_ok=1
rm -f "$t/fb.raw"
check $fsck_ok "the five file systems, personalised in place, check clean"
"$P" --golden-delete "$gid" > "$t/gdel.out" 2>&1
[ $? -eq 1 ] && grep -q "golden image $gid backs the overlays of fb" "$t/gdel.out" && [ -s "$golden/disk.img" ]
check $? "--golden-delete refuses the image fb's overlay needs" || diag < "$t/gdel.out"

# --- two boot, see themselves and each other ------------------------------------------------
look() {  # look NAME PEER
    printf '%s\n' 'send \r' 'expect login:' 'send root\r' 'expect Password:' \
        'send batch pw\r' 'expect :~# ' \
        'send echo HN=$(hostname)\r' 'expect HN=\S+\r?\n' \
        'send echo NET=$(ip -4 -o addr show dev eth0 | awk "{print \$4}")\r' 'expect NET=\S*\r?\n' \
        "send for i in 1 2 3 4 5 6 7 8 9 10; do ping -c 1 -W 1 $2 >/dev/null && break; sleep 1; done; echo PING=\$?\\r" \
        'expect PING=\d+\r?\n' \
        'sendraw 1d' 'wait' |
        "$expect" --timeout 240 --log "$t/$1.console" -- "$vmctl" console "$1"
}
ip netns exec "$ns" "$vmctl" create "$t/etc/fa.cfg" > "$t/create-a" 2>&1
check $? "vmctl create fa (on br0 in the test's namespace)" || diag < "$t/create-a"
ip netns exec "$ns" "$vmctl" create "$t/etc/fb.cfg" > "$t/create-b" 2>&1
check $? "vmctl create fb" || diag < "$t/create-b"
look fa 10.97.0.12 > "$t/look-a" 2>&1 &
la=$!
look fb 10.97.0.11 > "$t/look-b" 2>&1 &
lb=$!
wait $la; ra=$?
wait $lb; rb=$?
check $ra "fa boots to login: on hvc0; root logs in with the fleet's password" || diag < "$t/look-a"
check $rb "fb boots to login: on hvc0; root logs in" || diag < "$t/look-b"
con() { tr -d '\r' < "$t/$1.console" | grep -o "$2=[^ ]*" | grep -v '\$' | tail -n 1; }
[ "$(con fa HN)" = HN=fa ] && [ "$(con fa NET)" = NET=10.97.0.11/24 ]
check $? "fa shows its own name and address ($(con fa HN) $(con fa NET))"
[ "$(con fb HN)" = HN=fb ] && [ "$(con fb NET)" = NET=10.97.0.12/24 ]
check $? "fb shows its own name and address ($(con fb HN) $(con fb NET))"
[ "$(con fa PING)" = PING=0 ] && [ "$(con fb PING)" = PING=0 ]
check $? "fa and fb ping each other over br0 ($(con fa PING) $(con fb PING))"
for d in fa fb; do "$vmctl" destroy "$d" > /dev/null 2>&1; done

# --- interrupted at random points ------------------------------------------------------------
# golden_whole: every golden image listed has its files and a clean file
# system, and at least one is there
golden_whole() {
    local n=0 id
    for id in $("$P" --golden-list | awk 'NR > 1 { print $1 }'); do
        n=$((n + 1))
        [ -s "$VMKIT_CACHEDIR/golden/$id/vmlinuz" ] && [ -s "$VMKIT_CACHEDIR/golden/$id/initrd.img" ] &&
            e2fsck -fn "$VMKIT_CACHEDIR/golden/$id/disk.img" > /dev/null 2>&1 || return 1
    done
    [ $n -ge 1 ]
}
for round in 1 2 3 4 5; do
    cat > "$t/int.fleet" <<EOF
[defaults]
size    = 1536M
image-format = raw
noswap  = yes
network = none
[i${round}a]
[i${round}b]
[i${round}c]
EOF
    # round 1 builds the golden image afresh (some seconds), the others clone
    if [ $round = 1 ]; then
        refresh=--refresh
        delay=$(awk -v s="$$$round" 'BEGIN { srand(s); printf "%.1f", 1 + rand() * 8 }')
    else
        refresh=
        delay=$(awk -v s="$$$round" 'BEGIN { srand(s); printf "%.1f", 0.3 + rand() * 4 }')
    fi
    "$P" --batch "$t/int.fleet" -j 2 $refresh > "$t/int$round.out" 2>&1 &
    pid=$!
    sleep "$delay"
    kill -INT $pid 2>/dev/null
    wait $pid
    rc=$?
    good=0
    made=
    for g in i${round}a i${round}b i${round}c; do
        if [ -e "$t/etc/$g.cfg" ] || [ -e "$t/lib/guests/$g.json" ] || [ -e "$t/lib/domains/$g" ]; then
            # all of it, and a file system that checks clean
            if [ -s "$t/etc/$g.cfg" ] && [ -s "$t/lib/guests/$g.json" ] &&
                e2fsck -fn "$t/lib/domains/$g/disk.img" > /dev/null 2>&1; then
                made="$made $g"
            else
                good=1
            fi
        fi
    done
    ls -A "$t/lib/domains" 2>/dev/null | grep -q '^\.' && good=1
    [ -z "$(find "$VMKIT_CACHEDIR" -name '.*' 2>/dev/null)" ] || good=1
    golden_whole || good=1
    [ $good -eq 0 ]
    check $? "SIGINT after $delay s (round $round${refresh:+, $refresh}, exit $rc): only whole guests left (${made:- none}), no work directory, golden images whole, no cache temporaries" ||
        { tail -n 8 "$t/int$round.out"; ls -la "$t/lib/domains"; } | diag
    for g in $made; do "$P" --delete "$g" > /dev/null 2>&1; done
done

# --- --batch-delete, --count -------------------------------------------------------------------
"$P" --batch-delete "$t/web.fleet" > "$t/del.out" 2>&1
rc=$?
n=$(ls "$t/etc" | grep -c '\.cfg$')
[ $rc -eq 0 ] && [ "$n" -eq 0 ] && [ -z "$(ls "$t/lib/guests" 2>/dev/null)" ]
check $? "--batch-delete removes the five" || diag < "$t/del.out"
"$P" --golden-delete all > "$t/gdel2.out" 2>&1
[ $? -eq 0 ] && [ "$("$P" --golden-list | wc -l)" -eq 1 ] && [ ! -e "$golden" ]
check $? "--golden-delete all: with fb gone, every golden image goes" || diag < "$t/gdel2.out"
"$P" --count 3 --hostname 'web%02d' --ip-range 10.97.1.20-10.97.1.29/24 --network bridge \
    --bridge br0 --dry-run > "$t/count.out" 2>&1
[ $? -eq 0 ] && grep -q 'identity: hostname web01, network 10.97.1.20/24' "$t/count.out" &&
    grep -q 'identity: hostname web03, network 10.97.1.22/24' "$t/count.out"
check $? "--count 3 --hostname web%02d --ip-range: web01..web03 at .20, .21, .22" ||
    diag < "$t/count.out"
"$P" --count 3 --hostname 'web%s' --dry-run > "$t/count2.out" 2>&1
[ $? -eq 2 ]; check $? "a hostname pattern other than %d, %Nd, %0Nd is refused" ||
    diag < "$t/count2.out"

done_testing
