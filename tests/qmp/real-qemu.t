#!/usr/bin/env bash
# timeout: 60
# The QMP client against a real QEMU: qmp-probe (tests/qmp/qmp-probe.c,
# built here against build/libvmkit.a) connects to
# qemu-system-x86_64 -M none -S, checks query-status before and after
# cont, and quits; QEMU must then exit by itself, with status 0.
. tests/lib/tap.sh
tmp=$(mktemp -d); qpid=
cleanup() {
    [ -n "$qpid" ] && kill "$qpid" 2> /dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

qemu=$(command -v qemu-system-x86_64); ok $? "qemu-system-x86_64 is installed"
[ -f build/libvmkit.a ]; ok $? "build/libvmkit.a is built"
flags=$(make -s -f Makefile print-cflags 2> /dev/null)
libs=$(pkg-config --libs json-c 2> /dev/null || echo -ljson-c)
# shellcheck disable=SC2086
${CC:-cc} $flags -o "$tmp/qmp-probe" tests/qmp/qmp-probe.c build/libvmkit.a $libs \
    > "$tmp/cc.out" 2>&1
ok $? "qmp-probe builds"; diag < "$tmp/cc.out"
[ -x "$tmp/qmp-probe" ] && [ -n "$qemu" ] || { done_testing; exit 1; }

"$qemu" -M none -nodefaults -display none -S \
    -chardev "socket,id=qmp,path=$tmp/qmp.sock,server=on,wait=off" \
    -mon chardev=qmp,mode=control > "$tmp/qemu.log" 2>&1 &
qpid=$!
for _ in $(seq 100); do
    [ -S "$tmp/qmp.sock" ] && break
    kill -0 "$qpid" 2> /dev/null || break
    sleep 0.1
done
[ -S "$tmp/qmp.sock" ]; ok $? "QEMU listens on its QMP socket"

"$tmp/qmp-probe" "$tmp/qmp.sock" > "$tmp/probe.out" 2>&1
probe=$?
while IFS= read -r line; do
    case $line in
    "ok "*)     ok 0 "${line#ok }" ;;
    "not ok "*) ok 1 "${line#not ok }" ;;
    "#"*)       echo "$line" ;;
    *)          echo "# $line" ;;
    esac
done < "$tmp/probe.out"
[ "$probe" -eq 0 ]; ok $? "qmp-probe exits 0 (status $probe)"

for _ in $(seq 100); do
    kill -0 "$qpid" 2> /dev/null || break
    sleep 0.1
done
if kill -0 "$qpid" 2> /dev/null; then
    ok 1 "QEMU exits after quit"
else
    wait "$qpid"; status=$?; qpid=
    [ "$status" -eq 0 ]; ok $? "QEMU exits after quit, status $status"
fi
diag < "$tmp/qemu.log"
done_testing
