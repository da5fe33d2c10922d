#!/bin/sh
# timeout: 2400
# LVM, where it can run: this machine's kernel has no device-mapper, so
# the LVM suites run inside the vmkit test host (tests/lib/testhost), a
# bookworm guest made by vm-provision with lvm2 in it, booted here under
# TCG with `vmctl create -c':
#
#   xvda  a qcow2 overlay over the test host's root (shared, never written)
#   xvdb  the payload: this build of vmkit and tests/testhost/'s scripts
#         (testhost --payload), read-only
#   xvdc  an empty 2 GiB sparse raw disk, /dev/vdc in the guest: the LVM disk
#
# The test logs in as root on hvc0 and runs the inner suites through
# run-inner, which installs the payload and prints each suite's TAP
# between marker lines; their checks are relayed here, renumbered and
# prefixed with the suite's name.  Then the guest is shut down.  The
# console's log is kept in the test's directory (named on failure, which
# keeps that directory, without its disk images).
#
# A suite is a script tests/testhost/NAME.sh that takes the LVM disk as
# its argument, prints TAP (see lvm-inner.sh) and leaves the disk empty
# for the next; add it to SUITES.  The root tarball to provision guests
# from is /usr/local/share/vmkit-tests/rootfs.tar.zst in the test host.
# Times here: the test host built from a cached base root in about 40 s
# (else a few minutes more), its boot to login about 25 s, lvm-inner.sh
# about 60 s.
. tests/lib/tap.sh
check() { ok "$1" "$2"; return "$1"; }

SUITES="lvm-inner.sh lvm-provision.sh"

if [ "$(id -u)" != 0 ]; then
    echo "1..0 # SKIP needs root (vm-provision builds the test host; vmctl create)"
    exit 0
fi

top=$(pwd)
vmctl=$top/bin/vmctl
expect=$top/tests/lib/console-expect
t=$(mktemp -d /tmp/vmkit-lvm.XXXXXX)
name=vmkit-lvm-$$
export VMKIT_RUNDIR=$t/run VMKIT_LOGDIR=$t/log VMKIT_LIBDIR=$t/lib VMKIT_CONFDIR=$t/etc
mkdir -p "$t/etc"

cleanup() {
    st=$?
    trap - EXIT INT TERM
    "$vmctl" destroy "$name" > /dev/null 2>&1
    rm -f "$t/lvm.img" "$t/root.qcow2" "$t/payload.img"
    if [ "$tap_failed" -eq 0 ] && [ "$st" -eq 0 ]; then
        rm -rf "$t"
    else
        echo "# kept for diagnostics: $t (console log: $t/console.log)"
    fi
    exit "$st"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

secs() { echo $(($(date +%s) - $1)); }

# --- the test host, the payload, the disks -----------------------------------
start=$(date +%s)
tests/lib/testhost "$top/build/testhost" > "$t/testhost.out" 2> "$t/testhost.err"
check $? "the test host is there (tests/lib/testhost build/testhost, $(secs "$start") s)" || {
    tail -n 30 "$t/testhost.err" | diag
    echo "Bail out! no test host"
    exit 1
}
grep -q 'ready in' "$t/testhost.err" && grep 'ready in' "$t/testhost.err" | diag
cfg=$(sed -n 1p "$t/testhost.out")
root=$(sed -n 2p "$t/testhost.out")

tests/lib/testhost --payload "$t/payload.img" > /dev/null 2> "$t/payload.err" &&
    qemu-img create -q -f qcow2 -F raw -b "$root" "$t/root.qcow2" 2>> "$t/payload.err" &&
    truncate -s 2G "$t/lvm.img" 2>> "$t/payload.err"
check $? "the payload (this build), a qcow2 overlay over the test host's root, an empty 2G disk" || {
    diag < "$t/payload.err"
    echo "Bail out! cannot make the test host's disks"
    exit 1
}

set -- "name=\"$name\"" \
    "disk=[\"format=qcow2,vdev=xvda,access=rw,target=$t/root.qcow2\",\"format=raw,vdev=xvdb,access=ro,target=$t/payload.img\",\"format=raw,vdev=xvdc,access=rw,target=$t/lvm.img\"]"
"$vmctl" create -n "$cfg" "$@" > "$t/dry" 2>&1 &&
    grep -qx 'disk: xvdb -> /dev/vdb (read-only)' "$t/dry" &&
    grep -qx 'disk: xvdc -> /dev/vdc' "$t/dry"
check $? "vmctl create -n: the payload is /dev/vdb (read-only), the LVM disk /dev/vdc" ||
    diag < "$t/dry"

# --- boot, log in, run the inner suites ----------------------------------------
# Each suite's output ends with a marker line that run-inner prints (never
# typed, so the echo of the command line cannot match it).
script() {
    printf '%s\n' 'timeout 240' 'send \r' 'expect login:' 'send root\r' \
        'expect Password:' 'send vmkit\r' 'expect :~# ' \
        'send mkdir -p /run/vmkit-payload && mount -o ro /dev/vdb /run/vmkit-payload && echo PAYLOAD-$((40+2))\r' \
        'expect PAYLOAD-42'
    for s in $SUITES; do
        printf '%s\n' 'timeout 1500' \
            "send sh /run/vmkit-payload/usr/local/share/vmkit-tests/run-inner $s /dev/vdc\\r" \
            'expect @@VMKIT-INNER-END rc=\d+@@'
    done
    printf '%s\n' 'timeout 30' 'expect :~# ' 'sendraw 1d' 'wait'
}
script > "$t/expect-script"
start=$(date +%s)
"$expect" --timeout 300 --log "$t/console.log" -- "$vmctl" create -c "$cfg" "$@" \
    < "$t/expect-script" > "$t/expect.out" 2>&1
rc=$?
# the console as text: no CRs, no escape sequences (bash's bracketed paste)
tr -d '\r' < "$t/console.log" |
    sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1b[()][0-9A-Za-z]//g; s/\x1b[=>]//g' > "$t/console.txt"
echo >> "$t/console.txt"
check $rc "boot the test host (vmctl create -c), log in on hvc0, run $SUITES ($(secs "$start") s)" || {
    { tail -n 40 "$t/expect.out"; echo; } | diag
}
for s in $SUITES; do
    # the suite's lines, between its markers
    sed -n "/^@@VMKIT-INNER-BEGIN $s@@\$/,/^@@VMKIT-INNER-END rc=[0-9]*@@\$/p" "$t/console.txt" \
        > "$t/$s.out"
    end=$(sed -n 's/^@@VMKIT-INNER-END rc=\([0-9]*\)@@$/\1/p' "$t/$s.out")
    planned=$(sed -n 's/^@T 1\.\.\([0-9][0-9]*\)$/\1/p' "$t/$s.out")
    inner=0
    while IFS= read -r line; do
        case $line in
        '@T ok '*|'@T not ok '*)
            inner=$((inner + 1))
            l=${line#@T }
            st=0
            case $l in not\ *) st=1; l=${l#not } ;; esac
            l=${l#ok }
            l=$(printf '%s\n' "$l" | sed 's/^[0-9]* *-\{0,1\} *//')
            ok $st "$s: $l" ;;
        '@T #'*) echo "${line#@T }" ;;
        '@T 1..'*) ;;
        '@T '*) echo "# $s: ${line#@T }" ;;
        esac
    done < "$t/$s.out"
    [ "$end" = 0 ] && [ -n "$planned" ] && [ "$planned" -eq "$inner" ]
    check $? "$s: ran to its end, exit status ${end:-none}, $inner of ${planned:-?} planned checks seen" ||
        { tail -n 20 "$t/console.txt"; echo; } | diag
done

# --- shut down -------------------------------------------------------------------
if "$vmctl" list "$name" > /dev/null 2>&1; then
    start=$(date +%s)
    "$vmctl" shutdown -w -t 120 "$name" > "$t/shutdown" 2>&1
    check $? "the test host shuts down on vmctl shutdown -w ($(secs "$start") s)" ||
        diag < "$t/shutdown"
fi

done_testing
