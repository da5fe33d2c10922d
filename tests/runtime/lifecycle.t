#!/bin/sh
# timeout: 900
# The runtime end to end, under TCG: real Debian guests (tests/lib/fixture)
# started with vmctl create, logged into through vmctl console, pinged on
# their bridge inside a network namespace, paused, rebooted, shut down,
# crashed (pvpanic), and managed after their supervisor was killed.
# Two guests boot side by side, as the two cores allow.
. tests/lib/tap.sh

if [ "$(id -u)" != 0 ]; then
    echo "1..0 # SKIP needs root (taps, bridges, network namespaces)"
    exit 0
fi

top=$(pwd)
vmctl=$top/bin/vmctl
expect=$top/tests/lib/console-expect
fix=$top/build/fixture
t=$(mktemp -d /tmp/vmkit-lifecycle.XXXXXX)
ns=vmkit-lc-$$
export VMKIT_RUNDIR=$t/run VMKIT_LOGDIR=$t/log VMKIT_LIBDIR=$t/lib VMKIT_CONFDIR=$t/etc

cleanup() {
    for d in lc-a lc-b lc-c; do "$vmctl" destroy "$d" >/dev/null 2>&1; done
    # a supervisor we killed leaves its QEMU to us
    pkill -KILL -f "guest=lc-[abc]," 2>/dev/null
    ip netns delete "$ns" 2>/dev/null
    rm -rf "$t"
}
trap cleanup EXIT INT TERM

tests/lib/fixture "$fix" >/dev/null || { echo "Bail out! the test fixture could not be built"; exit 1; }

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add br0 type bridge
ip -n "$ns" addr add 10.99.0.1/24 dev br0
ip -n "$ns" link set br0 up

mkdir -p "$t/img" "$t/etc"
# a qcow2 overlay per guest over the shared base image (backing format named)
for d in a b c; do
    qemu-img create -q -f qcow2 -F raw -b "$fix/root.ext4" "$t/img/$d.qcow2"
done

# on_crash = preserve: a panicked guest stays listed, crashed, until destroy
mkcfg() {   # mkcfg NAME IMAGE VIF-LINE
    cat > "$t/etc/$1.cfg" <<EOF
# $1: a pvh guest the way vm-provision writes one
name = "$1"
type = "pvh"
memory = 512
vcpus = 1
kernel = "$fix/vmlinuz"
ramdisk = "$fix/initrd.img"
root = "/dev/xvda ro"
extra = "console=hvc0"
disk = [ "format=qcow2,vdev=xvda,access=rw,target=$2" ]
$3
on_poweroff = "destroy"
on_reboot = "restart"
on_crash = "preserve"
EOF
}
mkcfg lc-a "$t/img/a.qcow2" 'vif = [ "bridge=br0" ]'
mkcfg lc-b "$t/img/b.qcow2" ''
mkcfg lc-c "$t/img/c.qcow2" ''

alive() {   # alive PID: a process that has not exited (a zombie has)
    [ -r "/proc/$1/stat" ] && ! awk '{ sub(/.*\) /, ""); exit ($1 == "Z" ? 0 : 1) }' "/proc/$1/stat"
}

state_of() {   # the State column of a domain in vmctl list
    "$vmctl" list "$1" 2>/dev/null | awk -v n="$1" '$1 == n { print $5 }'
}

login() {   # login DOMAIN: through vmctl console, run a command, detach
    printf '%s\n' 'send \r' 'expect login:' 'send root\r' 'expect Password:' \
        'send vmkit\r' 'expect :~# ' 'send echo hello-$((6*7))\r' 'expect hello-42' \
        'sendraw 1d' 'wait' |
        "$expect" --timeout 150 --log "$t/$1.console" -- "$vmctl" console "$1"
}

# --- create: two guests at once -------------------------------------------
start=$(date +%s)
ip netns exec "$ns" "$vmctl" create "$t/etc/lc-a.cfg" > "$t/create-a.out" 2>&1
ok $? "create lc-a (with a vif on br0 in the test's namespace)"
diag < "$t/create-a.out"
"$vmctl" create "$t/etc/lc-b.cfg" > "$t/create-b.out" 2>&1
ok $? "create lc-b"

"$vmctl" create "$t/etc/lc-a.cfg" > "$t/dup.out" 2>&1
[ $? -eq 1 ] && grep -q "already running" "$t/dup.out"
ok $? "a second lc-a is refused while the first runs"
diag < "$t/dup.out"

"$vmctl" list > "$t/list.out" 2>&1
grep -q '^lc-a ' "$t/list.out" && grep -q '^lc-b ' "$t/list.out"
ok $? "vmctl list shows both"
diag < "$t/list.out"

[ "$(stat -c %a "$VMKIT_RUNDIR")" = 700 ] &&
    [ "$(stat -c %a "$VMKIT_RUNDIR/domains/$("$vmctl" domid lc-a)")" = 700 ]
ok $? "the run directory and the domain's record are root-only"

# --- lc-a: console both ways, network, pause ---------------------------------
login lc-a
ok $? "lc-a boots to login: on hvc0; root logs in through vmctl console and runs a command"
echo "# lc-a at login after $(($(date +%s) - start)) s"

pinged=1
for i in $(seq 1 30); do
    if ip netns exec "$ns" ping -c 1 -W 1 10.99.0.2 >/dev/null 2>&1; then pinged=0; break; fi
    sleep 1
done
ok $pinged "lc-a answers ping on br0 inside the test's network namespace"
tap=vif$("$vmctl" domid lc-a).0
[ "$(ip -n "$ns" -o link show "$tap" 2>/dev/null | grep -c 'master br0')" = 1 ]
ok $? "lc-a's tap $tap is a port of br0"

"$vmctl" pause lc-a && [ "$(state_of lc-a)" = "--p---" ]
ok $? "pause: QEMU reports the guest paused"
"$vmctl" unpause lc-a && [ "$(state_of lc-a)" = "r-----" ]
ok $? "unpause: running again"

# --- lc-b: the console log, a panic ------------------------------------------
for i in $(seq 1 150); do
    grep -q "login:" "$VMKIT_LOGDIR/lc-b-console.log" 2>/dev/null && break
    sleep 1
done
grep -q "login:" "$VMKIT_LOGDIR/lc-b-console.log"
ok $? "what lc-b printed while nobody was attached is in lc-b-console.log"

printf '%s\n' 'send \r' 'expect login:' 'send root\r' 'expect Password:' \
    'send vmkit\r' 'expect :~# ' 'send echo c > /proc/sysrq-trigger\r' 'sleep 3' \
    'sendraw 1d' 'wait' |
    "$expect" --timeout 120 --log "$t/lc-b.console" -- "$vmctl" console lc-b >/dev/null 2>&1
for i in $(seq 1 30); do
    [ "$(state_of lc-b)" = "----c-" ] && break
    sleep 1
done
[ "$(state_of lc-b)" = "----c-" ]
ok $? "a guest panic (sysrq c): on_crash=preserve keeps lc-b listed as crashed"
grep -q "guest panicked" "$VMKIT_LOGDIR/lc-b.log"
ok $? "the supervisor's log says the guest panicked"
"$vmctl" destroy lc-b && ! "$vmctl" list lc-b >/dev/null 2>&1
ok $? "destroy removes the crashed lc-b"

# --- lc-a reboots while lc-c boots ---------------------------------------------
domid_a=$("$vmctl" domid lc-a)
"$vmctl" reboot lc-a
ok $? "vmctl reboot lc-a"
"$vmctl" create "$t/etc/lc-c.cfg" > "$t/create-c.out" 2>&1
ok $? "create lc-c"
login lc-a
ok $? "on_reboot=restart: lc-a comes back to login: and takes a login again"
[ "$("$vmctl" domid lc-a)" = "$domid_a" ]
ok $? "the same lc-a (domid $domid_a)"

# --- lc-c: its supervisor killed ---------------------------------------------
login lc-c
ok $? "lc-c boots to login:"
sup=$(awk '{ print $1 }' "$VMKIT_RUNDIR/domains/$("$vmctl" domid lc-c)/supervisor.pid")
qemu=$(awk '{ print $1 }' "$VMKIT_RUNDIR/domains/$("$vmctl" domid lc-c)/qemu.pid")
kill -KILL "$sup"
sleep 1
alive "$qemu"
ok $? "SIGKILL to lc-c's supervisor: its QEMU keeps running"
[ "$(state_of lc-c)" = "r-----" ]
ok $? "vmctl list still shows lc-c running (asked of QEMU)"
printf '%s\n' 'send \r' 'expect :~# ' 'send echo still-$((40+2))\r' 'expect still-42' \
    'sendraw 1d' 'wait' |
    "$expect" --timeout 60 --log "$t/lc-c.console2" -- "$vmctl" console lc-c >/dev/null 2>&1
ok $? "its console still works (QEMU's socket, directly)"
"$vmctl" pause lc-c && [ "$(state_of lc-c)" = "--p---" ] && "$vmctl" unpause lc-c
ok $? "pause and unpause without a supervisor"
"$vmctl" destroy lc-c && ! alive "$qemu" && ! "$vmctl" list lc-c >/dev/null 2>&1
ok $? "destroy without a supervisor: QEMU gone, record gone"

# --- lc-a: shutdown -w ----------------------------------------------------------
"$vmctl" shutdown -w -t 120 lc-a
ok $? "shutdown -w lc-a returns once the guest powered off"
! "$vmctl" list lc-a >/dev/null 2>&1 && [ -z "$(ls "$VMKIT_RUNDIR/domains")" ]
ok $? "on_poweroff=destroy: lc-a is gone, nothing left in the run directory"
! ip -n "$ns" link show "$tap" >/dev/null 2>&1
ok $? "its tap is gone"

echo "# whole test: $(($(date +%s) - start)) s"
done_testing
