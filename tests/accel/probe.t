#!/bin/sh
# timeout: 600
# The accelerator probe (hypervisor/accel.c) with the real QEMU and a real
# Debian kernel, the fixture's (tests/lib/fixture; VMKIT_PROBE_KERNEL and
# VMKIT_PROBE_INITRD name others).  Under TCG the kernel must pass, so
# the criterion (through the whole init to the root-mount panic, QEMU
# exiting by itself) recognises a good boot; a file that is no kernel
# must fail; a limit too short must time out and kill QEMU.  Under KVM
# the probe runs and what it found is shown; `auto' decides as the host
# checks and the probe say, and caches only a probe's verdict.
# The driver is build/tests/test-accel with arguments (see its header).
. tests/lib/tap.sh

drv=build/tests/test-accel
if [ ! -x "$drv" ]; then
    echo "1..0 # SKIP $drv is not built (make check builds it)"
    exit 0
fi
tmp=$(mktemp -d /tmp/vmkit-accel.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

kernel=${VMKIT_PROBE_KERNEL:-}
initrd=${VMKIT_PROBE_INITRD:-}
if [ -z "$kernel" ]; then
    if [ -x tests/lib/fixture ] && ! tests/lib/fixture build/fixture > /dev/null 2> "$tmp/fixture.log"; then
        echo "1..0 # SKIP the fixture could not be built: $(tail -n 1 "$tmp/fixture.log")"
        exit 0
    fi
    kernel=build/fixture/vmlinuz
    [ -f build/fixture/initrd.img ] && initrd=build/fixture/initrd.img
fi
if [ ! -f "$kernel" ]; then
    echo "1..0 # SKIP no kernel at $kernel"
    exit 0
fi

# run NAME ARGS... - the driver's output in $tmp/NAME, its status in $st
run() {
    name=$1
    shift
    "$drv" "$@" > "$tmp/$name" 2>&1
    st=$?
    sed "s/^/$name: /" "$tmp/$name" | diag
}
val() { sed -n "s/^$2 //p" "$tmp/$1"; }
now() { date +%s; }

# (a) TCG: the kernel passes
run tcg probe tcg "$kernel"
[ "$st" -eq 0 ] && [ "$(val tcg booted)" = 1 ] && [ "$(val tcg timed_out)" = 0 ]
ok $? "under tcg, $kernel boots to its root mount ($(val tcg elapsed_ms) ms)"
[ "$(val tcg console_lines)" -gt 50 ] 2> /dev/null
ok $? "under tcg, the whole kernel log went through the pipe ($(val tcg console_lines) lines)"

if [ -n "$initrd" ] && [ -f "$initrd" ]; then
    run tcg-initrd probe tcg "$kernel" "$initrd"
    [ "$st" -eq 0 ] && [ "$(val tcg-initrd booted)" = 1 ]
    ok $? "under tcg with $initrd (rdinit names no program): boots to its root mount"
else
    ok 0 "# SKIP no initrd"
fi

# the criterion refuses what is not a boot
printf 'this is not a kernel\n' > "$tmp/not-a-kernel"
run junk probe tcg "$tmp/not-a-kernel"
[ "$st" -eq 0 ] && [ "$(val junk booted)" = 0 ] && [ "$(val junk timed_out)" = 0 ]
ok $? "a file that is no kernel: QEMU fails, no boot"
val junk reason | grep -q 'QEMU exited with status 1.*; QEMU: '
ok $? "and the reason has QEMU's message"

t0=$(now)
run short probe tcg "$kernel" "" 300
[ "$st" -eq 0 ] && [ "$(val short booted)" = 0 ] && [ "$(val short timed_out)" = 1 ] &&
    [ $(($(now) - t0)) -le 10 ]
ok $? "a 0.3 s limit: timed out, QEMU killed, within 10 s"

# (b) KVM: whatever the host checks say, the probe itself runs and says
run host host
run kvm probe kvm "$kernel"
[ "$st" -eq 0 ] && [ -n "$(val kvm reason)" ]
ok $? "under kvm the probe runs and reports: $(val kvm reason)"
if [ "$(val host return)" = 0 ] && [ "$(val kvm booted)" != 1 ]; then
    echo "# the host checks pass but KVM does not boot a stock kernel here"
fi

# auto and forced kvm, against a fresh run root
run auto decide auto "$tmp/run" "$kernel"
[ "$st" -eq 0 ] && { [ "$(val auto accel)" = kvm ] || [ "$(val auto accel)" = tcg ]; }
ok $? "auto decides: $(val auto accel)"
if [ "$(val host return)" = 0 ]; then
    [ -f "$tmp/run/accel" ] && [ "$(stat -c %a "$tmp/run/accel")" = 600 ] &&
        [ "$(val auto accel)" = "$( [ "$(val kvm booted)" = 1 ] && echo kvm || echo tcg)" ]
    ok $? "the host checks pass: the probe decided, and the verdict is cached 0600"
    run auto2 decide auto "$tmp/run" "$kernel"
    [ "$st" -eq 0 ] && [ "$(val auto2 cached)" = 1 ] && [ "$(val auto2 accel)" = "$(val auto accel)" ]
    ok $? "the second auto takes the cached verdict"
    run forced decide kvm "$tmp/run"
    [ "$st" -eq 0 ] && [ "$(val forced accel)" = kvm ]
    ok $? "kvm asked for: kvm, the host checks pass"
else
    [ ! -e "$tmp/run/accel" ] && [ "$(val auto accel)" = tcg ] &&
        [ "$(val auto reason)" = "$(val host reason)" ]
    ok $? "the host checks fail: tcg for their reason, nothing cached"
    run auto2 decide auto "$tmp/run" "$kernel"
    [ "$st" -eq 0 ] && [ "$(val auto2 cached)" = 0 ]
    ok $? "the second auto checks the host again"
    run forced decide kvm "$tmp/run"
    [ "$st" -ne 0 ] && [ "$(val forced return)" = "-19 No such device" ] &&
        val forced reason | grep -q '^kvm asked for, but '
    ok $? "kvm asked for: refused with ENODEV, no fall-back"
fi
run status status "$tmp/run"
[ "$st" -eq 0 ] && [ -n "$(val status reason)" ]
ok $? "the host status: $(val status format)"

done_testing
