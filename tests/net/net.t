#!/bin/sh
# timeout: 120
# A vif's host side for real (hypervisor/net.c), inside a network
# namespace this test makes and always deletes: net-probe
# (tests/net/net-probe.c, built here against build/libvmkit.a) plugs and
# unplugs vifs there, and the namespace's /sys/class/net says what
# happened: missing bridge, tap on bridge br0 (up, MAC fe:ff:ff:ff:ff:ff),
# a name taken, vif scripts (argv, environment, failure), unplug; then a
# real QEMU attaching to a tap made this way.
. tests/lib/tap.sh

if [ "$(id -u)" -ne 0 ]; then
    echo "1..0 # SKIP needs root (network namespaces and tap devices)"
    exit 0
fi
if [ ! -c /dev/net/tun ]; then
    echo "1..0 # SKIP /dev/net/tun is missing"
    exit 0
fi

ns=vmkit-test-$$
tmp=$(mktemp -d)
qpid=
# gone PID - waits up to 10 s for PID to exit; false if it did not
gone() {
    for _ in $(seq 100); do
        kill -0 "$1" 2> /dev/null || return 0
        sleep 0.1
    done
    return 1
}
cleanup() {
    # QEMU by its -pidfile: `ip netns exec' runs it as a child of its own
    [ -z "$qpid" ] && [ -s "$tmp/qemu.pid" ] && qpid=$(cat "$tmp/qemu.pid")
    [ -n "$qpid" ] && kill "$qpid" 2> /dev/null && gone "$qpid"
    ip netns del "$ns" 2> /dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ip netns add "$ns"; ok $? "network namespace $ns made"
[ -f build/libvmkit.a ]; ok $? "build/libvmkit.a is built"
flags=$(make -s -f Makefile print-cflags 2> /dev/null)
libs=$(pkg-config --libs json-c 2> /dev/null || echo -ljson-c)
# shellcheck disable=SC2086
${CC:-cc} $flags -o "$tmp/net-probe" tests/net/net-probe.c build/libvmkit.a $libs \
    > "$tmp/cc.out" 2>&1
ok $? "net-probe builds"; diag < "$tmp/cc.out"
[ -x "$tmp/net-probe" ] || { done_testing; exit 1; }

mkdir -p "$tmp/conf/scripts"
export VMKIT_CONFDIR="$tmp/conf"

in_ns() { ip netns exec "$ns" "$@"; }
# probe ARGS... - runs net-probe in the namespace; its stdout in $out,
# status in $rc, stderr (script output) in $tmp/probe.err
probe() {
    out=$(in_ns "$tmp/net-probe" "$@" 2> "$tmp/probe.err"); rc=$?
}
# sys IF FILE - /sys/class/net/IF/FILE in the namespace
sys() { in_ns cat "/sys/class/net/$1/$2" 2> /dev/null; }
exists() { in_ns test -e "/sys/class/net/$1"; }
master() { in_ns sh -c 'basename "$(readlink "/sys/class/net/$1/master")"' - "$1" 2> /dev/null; }
# has TEXT WANT DESCRIPTION - TEXT contains WANT
has() {
    case $1 in *"$2"*) ok 0 "$3" ;; *) ok 1 "$3"; echo "#   got: $1" ;; esac
}
# is GOT WANT DESCRIPTION
is() {
    [ "$1" = "$2" ]; ok $? "$3"
    [ "$1" = "$2" ] || echo "#   got: '$1', want: '$2'"
}

# --- bridges that are not there, or not bridges
probe plug 3 bridge=br0
is "$out" "error ENODEV: vif 0: bridge br0 does not exist" "plug into a missing bridge: clear error"
exists vif3.0; ok $((! $?)) "... and no tap is left behind"
probe plug 3 bridge=lo
is "$out" "error EOPNOTSUPP: vif 0: lo is not a bridge" "plug into lo: not a bridge"
probe plug 3 mac=00:16:3e:00:00:03
is "$out" "error EINVAL: vif 0 names no bridge (give it bridge=, script= or netdev=user)" \
    "a vif with neither bridge nor script: error"
probe plug 3 netdev=user
is "$out" "ok" "a netdev=user vif: nothing to plug"

in_ns ip link add br0 type bridge && in_ns ip addr add 10.99.0.1/24 dev br0 &&
    in_ns ip link set br0 up
ok $? "bridge br0 made in the namespace"

# --- plug into br0
probe plug 3 bridge=br0,mac=00:16:3e:00:00:03
is "$out" "ok vif3.0" "plug: tap vif3.0"
exists vif3.0; ok $? "... /sys/class/net/vif3.0 exists"
is "$(master vif3.0)" br0 "... its master is br0"
flags=$(sys vif3.0 flags)
[ -n "$flags" ] && [ $((flags & 1)) -eq 1 ]; ok $? "... it is up (flags $flags)"
is "$(sys vif3.0 address)" fe:ff:ff:ff:ff:ff "... its own MAC is fe:ff:ff:ff:ff:ff"
tf=$(sys vif3.0 tun_flags)
[ -n "$tf" ] && [ $((tf & 0x1802)) -eq $((0x1802)) ]
ok $? "... a persistent tap without packet info (tun_flags $tf)"
[ "$(sys br0 address)" != 00:16:3e:00:00:03 ]; ok $? "... br0 did not take the guest's MAC"

probe plug 3 bridge=br0
is "$out" "error EEXIST: vif 0: interface vif3.0 already exists" "plug of a name in use: EEXIST"
is "$(master vif3.0)" br0 "... and the tap there is untouched"
probe plug 3 bridge=br0,vifname=br0
is "$out" "error EEXIST: vif 0: interface br0 already exists" \
    "vifname naming the bridge itself: EEXIST"
probe delete br0
is "$out" "error EINVAL: cannot delete br0: it is not a tap device" "delete refuses a bridge"
probe bridge-add br0 vif3.0
is "$out" "error EBUSY: cannot add vif3.0 to bridge br0: it is already a port of a bridge" \
    "adding a port twice: EBUSY"
probe bridge-remove br0 vif3.0
is "$out" ok "bridge-remove"
[ -z "$(master vif3.0)" ]; ok $? "... vif3.0 has no master"
probe bridge-remove br0 vif3.0
has "$out" "error EINVAL: cannot remove vif3.0 from bridge br0: it is not a port" \
    "bridge-remove of a non-port: EINVAL"
probe bridge-add br0 vif3.0
is "$out" ok "bridge-add puts it back"
is "$(master vif3.0)" br0 "... master br0"

probe unplug 3 bridge=br0 vif3.0
is "$out" ok "unplug"
exists vif3.0; ok $((! $?)) "... vif3.0 is gone"
probe unplug 3 bridge=br0 vif3.0
is "$out" ok "unplug of a tap already gone: not an error"
probe delete vif3.0
is "$out" "error ENOENT: interface vif3.0 does not exist" "delete of a missing tap: ENOENT"

probe plug 12 bridge=br0,devid=4,mtu=1400
is "$out" "ok vif12.4" "plug names the tap by devid"
is "$(sys vif12.4 mtu)" 1400 "... with the vif's mtu"
probe unplug 12 bridge=br0,devid=4 vif12.4
is "$out" ok "... unplugged"

# --- vif scripts
cat > "$tmp/conf/scripts/record" << EOF
#!/bin/sh
# records how it was called, and does what vif-bridge would
{ echo "argc=\$#"; echo "argv1=\$1"; env | sort; } > "$tmp/record.\$1"
echo "record \$1 for \$vif says hello" >&2
case \$1 in
online)  [ -z "\$bridge" ] || ip link set dev "\$vif" master "\$bridge" ;;
offline) [ -z "\$bridge" ] || ip link set dev "\$vif" nomaster ;;
esac
EOF
cat > "$tmp/conf/scripts/fail3" << EOF
#!/bin/sh
echo "\$1" >> "$tmp/fail3.calls"
[ "\$1" = offline ] && exit 0
echo "no such thing as \$vif" >&2
exit 3
EOF
chmod 755 "$tmp/conf/scripts/record" "$tmp/conf/scripts/fail3"

probe plug 4 "script=record,bridge=br0,mac=00:16:3e:00:00:04,ip=10.99.0.4"
is "$out" "ok vif4.0" "plug with script=record"
has "$(cat "$tmp/probe.err")" "record online for vif4.0 says hello" \
    "... the script's stderr went to the log fd"
rec=$(cat "$tmp/record.online" 2> /dev/null)
has "$rec" "argc=1" "... one argument"
has "$rec" "argv1=online" "... argv[1] online"
for v in vif=vif4.0 INTERFACE=vif4.0 bridge=br0 mac=00:16:3e:00:00:04 ip=10.99.0.4 \
         PATH=/usr/sbin:/usr/bin:/sbin:/bin; do
    has "$rec" "
$v" "... environment has $v"
done
nvars=$(printf '%s\n' "$rec" | grep -c '=' )
# argc=, argv1= and the six variables; env may add PWD and SHLVL (sh's own)
extra=$(printf '%s\n' "$rec" | grep -v -e '^argc=' -e '^argv1=' -e '^vif=' \
    -e '^INTERFACE=' -e '^bridge=' -e '^mac=' -e '^ip=' -e '^PATH=' -e '^PWD=' \
    -e '^SHLVL=' -e '^_=' -e '^OLDPWD=')
is "$extra" "" "... and nothing else ($nvars lines; no XENBUS_PATH, no VMKIT_CONFDIR)"
is "$(master vif4.0)" br0 "... the script, not vmkit, put vif4.0 on br0"
is "$(sys vif4.0 address)" fe:ff:ff:ff:ff:ff "... tap MAC fe:ff:ff:ff:ff:ff"

probe unplug 4 "script=record,bridge=br0,mac=00:16:3e:00:00:04,ip=10.99.0.4" vif4.0
is "$out" ok "unplug with script=record"
rec=$(cat "$tmp/record.offline" 2> /dev/null)
has "$rec" "argv1=offline" "... argv[1] offline"
for v in vif=vif4.0 INTERFACE=vif4.0 bridge=br0 mac=00:16:3e:00:00:04 ip=10.99.0.4; do
    has "$rec" "
$v" "... offline environment has $v"
done
exists vif4.0; ok $((! $?)) "... vif4.0 is gone"

rm -f "$tmp/record.online"
probe plug 4 "script=record,vifname=web0"
is "$out" "ok web0" "plug with a script, a vifname and no bridge"
rec=$(cat "$tmp/record.online" 2> /dev/null)
has "$rec" "
vif=web0" "... vif=web0"
printf '%s\n' "$rec" | grep -q '^bridge='; ok $((! $?)) "... no bridge variable"
probe mac "script=record,vifname=web0"
gmac=${out#ok }
has "$rec" "
mac=$gmac" "... mac is the generated guest MAC ($gmac)"
has "$gmac" "00:16:3e:" "... which is under 00:16:3e"
[ -z "$(master web0)" ]; ok $? "... web0 is on no bridge"
probe unplug 4 "script=record,vifname=web0" web0
is "$out" ok "... unplugged"

probe plug 5 script=fail3,bridge=br0
has "$out" "error EIO: vif 0: vif script $tmp/conf/scripts/fail3 online for vif5.0 exited with status 3" \
    "a script that exits 3: the error names the script and the status"
has "$out" "stderr: no such thing as vif5.0" "... and quotes its stderr"
exists vif5.0; ok $((! $?)) "... no tap is left behind"
is "$(tr '\n' ' ' < "$tmp/fail3.calls" 2> /dev/null)" "online offline " \
    "... the script was run offline after its failed online"

probe plug 5 script=missing,bridge=br0
is "$out" "error ENOENT: vif 0: vif script $tmp/conf/scripts/missing does not exist" \
    "a missing script: clear error"
exists vif5.0; ok $((! $?)) "... and no tap made"

# --- QEMU attaches to a tap made this way
qemu=$(command -v qemu-system-x86_64)
if [ -z "$qemu" ]; then
    echo "# qemu-system-x86_64 is not installed: QEMU part not run"
    done_testing
    exit
fi
probe plug 7 bridge=br0,mac=00:16:3e:00:00:07
is "$out" "ok vif7.0" "plug vif7.0 for QEMU"
in_ns "$qemu" -accel tcg -machine microvm -nodefaults -no-user-config -display none \
    -S -m 64 -netdev tap,id=n0,ifname=vif7.0,script=no,downscript=no \
    -device virtio-net-device,netdev=n0,mac=00:16:3e:00:00:07 \
    -pidfile "$tmp/qemu.pid" > "$tmp/qemu.log" 2>&1 &
ipid=$!
for _ in $(seq 100); do
    [ -s "$tmp/qemu.pid" ] && [ "$(sys vif7.0 carrier)" = 1 ] && break
    kill -0 "$ipid" 2> /dev/null || break
    sleep 0.1
done
[ -s "$tmp/qemu.pid" ] && qpid=$(cat "$tmp/qemu.pid")
[ -n "$qpid" ] && kill -0 "$qpid" 2> /dev/null
ok $? "QEMU runs with -netdev tap,ifname=vif7.0,script=no,downscript=no"
is "$(sys vif7.0 carrier)" 1 "... it attached: vif7.0 has carrier"
tf=$(sys vif7.0 tun_flags)
[ -n "$tf" ] && [ $((tf & 0x4000)) -ne 0 ]; ok $? "... with its vnet_hdr (tun_flags $tf)"
probe delete vif7.0
is "$out" "error EBUSY: cannot delete tap vif7.0: a process (QEMU?) still holds it" \
    "delete while QEMU holds it: EBUSY"
[ -n "$qpid" ] && kill "$qpid" && gone "$qpid"; ok $? "QEMU stops on SIGTERM"
qpid=; wait "$ipid"
is "$(sys vif7.0 carrier)" 0 "QEMU gone: no carrier, the tap stays"
probe unplug 7 bridge=br0 vif7.0
is "$out" ok "... and unplugs"
exists vif7.0; ok $((! $?)) "... vif7.0 is gone"
diag < "$tmp/qemu.log"
done_testing
