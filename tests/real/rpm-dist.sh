#!/usr/bin/env bash
# rpm-dist.sh DIST MIRROR_URL [--boot] - provisions a guest of a Red Hat
# family distribution (centos7, rocky8, rocky9, alma9, fedora40, or one of
# the administrator's definitions) from a real mirror, the whole way:
#
#   bin/vm-provision --dist DIST [--mirror MIRROR_URL] --hostname real-DIST
#       --network user --password (random) --memory 1G
#
# and with --boot starts it with bin/vmctl create, waits for login: on
# its console (a first boot relabels SELinux and reboots once: the wait
# covers both), logs in as root with the password and prints the guest's
# release, kernel and root file system.  It prints how long each stage
# took.  MIRROR_URL empty ('') means the definition's own mirror and
# mirror lists; otherwise the tree below it must have the definition's
# layout (e.g. http://mirror.example/centos for centos7,
# http://mirror.example/rocky for rocky9).
#
# Not run by make check (no mirror is reachable from the build machines):
# run it by hand, as root, from the top of the tree after make, where a
# mirror is.  Everything lives in a temporary tree (VMKIT_CONFDIR,
# VMKIT_LIBDIR, VMKIT_RUNDIR, VMKIT_LOGDIR, VMKIT_CACHEDIR) that is
# removed on exit, the guest destroyed first; set VMKIT_REAL_CACHE=DIR to
# keep the downloaded packages across runs.  VMKIT_REAL_KEEP=1 keeps the
# tree (its path is printed) for a look afterwards.
#
# Exit status: 0 all went well, 1 a stage failed, 2 usage.
set -u
prog=rpm-dist.sh
usage() {
    echo "usage: tests/real/rpm-dist.sh DIST MIRROR_URL [--boot]" >&2
    echo "       (MIRROR_URL '' for the definition's own mirror)" >&2
    exit 2
}
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    usage
fi
dist=$1 mirror=$2 boot=
case ${3-} in
'') ;;
--boot) boot=yes ;;
*) usage ;;
esac
case $dist in
'' | *[!a-z0-9-]* | -*) echo "$prog: \`$dist' is not a distribution name" >&2; exit 2 ;;
esac
case $mirror in
'' | http://?* | https://?* | file:///?*) ;;
*) echo "$prog: \`$mirror' is not an http, https or file URL" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/../.." || exit 1
top=$(pwd)
P=$top/bin/vm-provision
vmctl=$top/bin/vmctl
expect=$top/tests/lib/console-expect
if [ "$(id -u)" != 0 ]; then
    echo "$prog: must run as root (vm-provision chroots and mounts; vmctl runs QEMU)" >&2
    exit 1
fi
for x in "$P" "$vmctl"; do
    [ -x "$x" ] || { echo "$prog: no $x: run make first" >&2; exit 1; }
done

t=$(mktemp -d /tmp/vmkit-real-rpm.XXXXXX) || exit 1
name=real-$dist
export VMKIT_CONFDIR=$t/etc VMKIT_LIBDIR=$t/lib VMKIT_RUNDIR=$t/run VMKIT_LOGDIR=$t/log
export VMKIT_CACHEDIR=${VMKIT_REAL_CACHE:-$t/cache}
unset VMKIT_DATADIR VMKIT_FAIL_AT
mkdir -p "$VMKIT_CONFDIR" "$VMKIT_CACHEDIR"
created=
cleanup() {
    [ -z "$created" ] || "$vmctl" destroy "$name" > /dev/null 2>&1
    if [ "${VMKIT_REAL_KEEP:-}" = 1 ]; then
        echo "$prog: kept $t"
    else
        rm -rf "$t"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

now() { date +%s; }
say() { echo "$prog: $*"; }
fail() {
    echo "$prog: FAILED: $*" >&2
    exit 1
}

pass=$(head -c 64 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 16)
[ ${#pass} -ge 12 ] || fail "cannot make a password"

# --- provision --------------------------------------------------------------
args=(--dist "$dist" --hostname "$name" --network user --password "$pass" --memory 1G)
[ -z "$mirror" ] || args+=(--mirror "$mirror")
say "plan:"
"$P" "${args[@]}" --dry-run 2>&1 | sed -n '1,/^$/p' | sed '/^$/d; s/^/  /'
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "vm-provision --dry-run"
start=$(now)
from=${mirror:-"the definition's own mirror"}
say "provisioning $name from $from ..."
"$P" "${args[@]}" > "$t/provision.out" 2> "$t/provision.err"
rc=$?
prov=$(($(now) - start))
grep -v "$pass" "$t/provision.out" | sed 's/^/  /'
if [ $rc -ne 0 ]; then
    tail -n 40 "$t/provision.err" | sed 's/^/  /' >&2
    fail "vm-provision exited $rc after $prov s (VMKIT_REAL_KEEP=1 keeps its log, $VMKIT_LOGDIR/$name-provision.log)"
fi
say "provisioned in $prov s: $(du -sh --apparent-size "$VMKIT_LIBDIR/domains/$name" | cut -f1) of images (apparent), $(du -sh "$VMKIT_LIBDIR/domains/$name" | cut -f1) used"
[ -z "$boot" ] && { say "ok (no --boot)"; exit 0; }

# --- boot -------------------------------------------------------------------
cfg=$VMKIT_CONFDIR/$name.cfg
log=$VMKIT_LOGDIR/$name-console.log
start=$(now)
"$vmctl" create "$cfg" > "$t/create.out" 2>&1 || { cat "$t/create.out" >&2; fail "vmctl create $cfg"; }
created=yes
sed 's/^/  /' "$t/create.out"
# The console log, carriage returns and escapes out, holds everything the
# guest printed, across the relabel's reboot too.
deadline=$(($(now) + ${VMKIT_REAL_BOOT_TIMEOUT:-1800}))
relabel=
while :; do
    if [ -f "$log" ]; then
        clean=$(tr -d '\r' < "$log" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g')
        if [ -z "$relabel" ] && echo "$clean" | grep -qiE 'relabel'; then
            relabel=$(($(now) - start))
            say "SELinux relabel under way after $relabel s (the guest reboots when it is done)"
        fi
        echo "$clean" | grep -qE '(^|[[:space:]])login: *$' && break
    fi
    "$vmctl" list 2> /dev/null | grep -qw "$name" || {
        tail -n 40 "$log" 2> /dev/null >&2
        fail "the guest stopped before login: (console log $log)"
    }
    [ "$(now)" -lt "$deadline" ] || { tail -n 40 "$log" >&2; fail "no login: within the time limit"; }
    sleep 2
done
toprompt=$(($(now) - start))
say "login: on the console after $toprompt s"

start=$(now)
# (the $(...) are the guest shell's, typed on its console)
# shellcheck disable=SC2016
printf '%s\n' 'send \r' 'expect login:' 'send root\r' 'expect Password:' \
    "send $pass\\r" 'expect [#] *$' \
    'send echo REL=$(. /etc/os-release; echo $ID-$VERSION_ID) KERNEL=$(uname -r)\r' \
    'expect KERNEL=\S+\r?\n' \
    'send echo ROOTFS=$(findmnt -no SOURCE /):$(findmnt -no FSTYPE /) SELINUX=$(getenforce 2>/dev/null || echo none)\r' \
    'expect SELINUX=\S+\r?\n' \
    'send echo SSHD=$(systemctl is-active sshd)\r' 'expect SSHD=\S+\r?\n' \
    'sendraw 1d' 'wait' |
    "$expect" --timeout 300 --log "$t/login.log" -- "$vmctl" console "$name" ||
    { tail -n 20 "$t/login.log" >&2; fail "logging in as root on the console"; }
login=$(($(now) - start))
for k in REL KERNEL ROOTFS SELINUX SSHD; do
    v=$(tr -d '\r' < "$t/login.log" | grep -o "$k=[^ ]*" | grep -v '\$' | tail -n 1)
    say "  $v"
done
say "logged in as root in $login s; total: provision $prov s, boot to login: $toprompt s${relabel:+ (relabel from $relabel s)}"
say ok
