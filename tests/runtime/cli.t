#!/bin/sh
# timeout: 120
# vmctl's runtime commands without a guest booting: bad input is one
# clear line and a documented exit status, a refused create leaves
# nothing behind, create --dry-run starts nothing, and a QEMU that fails
# to start is reported with QEMU's own words.
. tests/lib/tap.sh

vmctl=$(pwd)/bin/vmctl
t=$(mktemp -d /tmp/vmkit-cli.XXXXXX)
export VMKIT_RUNDIR=$t/run VMKIT_LOGDIR=$t/log VMKIT_LIBDIR=$t/lib VMKIT_CONFDIR=$t/etc
trap 'rm -rf "$t"' EXIT

run() {   # run EXPECTED-STATUS CMD...: output in $t/out
    "$@" > "$t/out" 2>&1
    rc=$?
    [ "$rc" -eq "$want" ] || { echo "# exit $rc, wanted $want: $*"; diag < "$t/out"; return 1; }
}

truncate -s 64M "$t/disk.img"
qemu-img create -q -f qcow2 "$t/disk.qcow2" 64M
printf 'not a kernel\n' > "$t/vmlinuz"
cat > "$t/g.cfg" <<EOF
name = "g1"
type = "pvh"
memory = 128
kernel = "$t/vmlinuz"
root = "/dev/xvda ro"
disk = [ "format=raw,vdev=xvda,access=rw,target=$t/disk.img" ]
vif = [ "bridge=vmkitnobr0" ]
EOF

# --- lookups ---------------------------------------------------------------
for cmd in destroy pause unpause domid console; do
    want=1 run "$vmctl" $cmd nosuch
    ok $? "$cmd of an unknown domain exits 1"
    [ "$(wc -l < "$t/out")" = 1 ] && grep -q "no domain \`nosuch'" "$t/out"
    ok $? "$cmd: one line naming it"
done
want=1 run "$vmctl" shutdown -w nosuch && grep -q "no domain" "$t/out"
ok $? "shutdown of an unknown domain"
want=2 run "$vmctl" domname web1
ok $? "domname wants a domain ID"
want=2 run "$vmctl" reboot -w g1
ok $? "reboot has no -w"
want=2 run "$vmctl" create
ok $? "create without a file is a usage error"
want=2 run "$vmctl" create --accel xen "$t/g.cfg" && grep -q "kvm, tcg or auto" "$t/out"
ok $? "create --accel names what it accepts"
want=2 run "$vmctl" create "$t/g.cfg" memory
ok $? "an override that is not KEY=VALUE is a usage error"
want=0 run "$vmctl" list && [ "$(wc -l < "$t/out")" = 1 ]
ok $? "list with no domains prints the header only"

# --- bad configs -------------------------------------------------------------
printf 'name = "g1"\nmemory = \n' > "$t/bad.cfg"
want=1 run "$vmctl" create "$t/bad.cfg" && grep -q "^$t/bad.cfg:2:" "$t/out"
ok $? "a syntax error names the file and line"
want=1 run "$vmctl" create "$t/g.cfg" 'memory="lots"' && grep -q "^$t/g.cfg: error: .memory' must be a number" "$t/out"
ok $? "a bad override names the key"
want=1 run "$vmctl" create "$t/g.cfg" 'name="123"' && grep -q "all digits" "$t/out"
ok $? "an all-digit name is refused"

# --- create --dry-run ----------------------------------------------------------
want=0 run "$vmctl" create -n "$t/g.cfg" memory=256
ok $? "create --dry-run"
grep -q -- "-m 256M" "$t/out" && grep -q -- "-S " "$t/out" &&
    grep -q "driver=raw,node-name=drive0" "$t/out" && grep -q "ifname=vifDOMID.0" "$t/out"
ok $? "it prints QEMU's command line with the override applied"
grep -q '^cmdline: root=/dev/vda ro console=hvc0' "$t/out" && grep -q '"name": *"g1"' "$t/out"
ok $? "and the plan and the JSON description"
[ ! -e "$VMKIT_RUNDIR/domains" ] || [ -z "$(ls "$VMKIT_RUNDIR/domains")" ]
ok $? "and starts nothing"

if [ "$(id -u)" != 0 ]; then
    echo "# not root: the create failures below need root"
    done_testing
    exit
fi

# --- refused before QEMU runs, nothing left behind --------------------------------
nothing_left() {
    [ -z "$(ls "$VMKIT_RUNDIR/domains" 2>/dev/null)" ] && ! ip link show vif1.0 >/dev/null 2>&1
}
want=1 run "$vmctl" create "$t/g.cfg" "disk=[\"format=raw,vdev=xvda,target=$t/nosuch.img\"]"
grep -q "disk xvda: $t/nosuch.img: No such file or directory" "$t/out" && nothing_left
ok $? "a missing disk is refused, naming it; nothing left"
want=1 run "$vmctl" create "$t/g.cfg" "disk=[\"format=raw,vdev=xvda,target=$t/disk.qcow2\"]"
grep -q "holds a qcow2 image, but the config says format=raw" "$t/out" && nothing_left
ok $? "a qcow2 image named raw is refused (never probed)"
want=1 run "$vmctl" create "$t/g.cfg"
grep -q "bridge vmkitnobr0 does not exist" "$t/out" && nothing_left
ok $? "a missing bridge is an error, not an unplugged NIC; nothing left"
diag < "$t/out"
want=1 run "$vmctl" create "$t/g.cfg" 'vif=["netdev=user"]'
grep -q "QEMU did not come up: .*qemu" "$t/out" && nothing_left
ok $? "a kernel QEMU cannot load: QEMU's own words, nothing left"
diag < "$t/out"
[ "$(stat -c %a "$VMKIT_LOGDIR/g1.log")" = 600 ] && grep -q "start failed" "$VMKIT_LOGDIR/g1.log"
ok $? "the supervisor's log (root-only) says why"

done_testing
