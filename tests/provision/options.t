#!/usr/bin/env bash
# timeout: 60
#
# options.t - vm-provision's options, settings files and --dry-run plan.
#
# Runs bin/vm-provision from the source tree (so the data directory is
# found from the program's location) with every vmkit root in a temporary
# tree and VMKIT_APT_ROOT at a fixture of apt sources and os-release built
# here.  Good dry runs print the plan and a config that vmctl config-dump
# reads back to the same text; every bad value gives exactly one line
# naming the option (or FILE:LINE:COL) and exit 2; a run without
# --dry-run exits 1 and creates nothing.  Run from the top of the tree,
# after make.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh
# check STATUS DESCRIPTION: ok, and STATUS again (for `|| diagnostics')
check() { ok "$1" "$2"; return "$1"; }

P=bin/vm-provision
VMCTL=bin/vmctl
tmp=$(mktemp -d "${TMPDIR:-/tmp}/options.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
cap=$tmp/cap            # captured output, outside the vmkit tree
tree=$tmp/tree          # the vmkit roots
apt=$tmp/apt            # the fixture host root
mkdir -p "$cap" "$tree/etc" "$tree/lib" "$tree/cache" "$tree/run" "$tree/log" \
    "$apt/etc/apt/sources.list.d"
export VMKIT_CONFDIR=$tree/etc VMKIT_LIBDIR=$tree/lib VMKIT_CACHEDIR=$tree/cache \
    VMKIT_RUNDIR=$tree/run VMKIT_LOGDIR=$tree/log VMKIT_APT_ROOT=$apt
unset VMKIT_DATADIR
conf=$VMKIT_CONFDIR/provision.conf

cat > "$apt/etc/os-release" <<'EOF2'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
EOF2
cat > "$apt/etc/apt/sources.list.d/debian.sources" <<'EOF2'
Types: deb
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main
EOF2
cat > "$apt/etc/apt/sources.list.d/other.list" <<'EOF2'
deb-src http://src.example/debian bookworm main
EOF2

# run ARGS...: runs vm-provision; sets rc, output in $cap/out and $cap/err
run() {
    "$P" "$@" > "$cap/out" 2> "$cap/err"
    rc=$?
}
show() { { echo "exit $rc"; cat "$cap/err"; head -n 20 "$cap/out"; } | diag; }
line() { grep "^$1: " "$cap/out"; }        # line STEP: the plan's line
# config FILE: the config part of the dry run (after the first blank line)
config() { sed -n '/^$/,$p' "$cap/out" | sed 1d > "$1"; }

[ -x "$P" ] && [ -x "$VMCTL" ]; check $? "bin/vm-provision and bin/vmctl are built"

# --- good dry runs -------------------------------------------------------

run --hostname web1 --dry-run
[ $rc -eq 0 ] && ! [ -s "$cap/err" ]; check $? "a plain dry run exits 0 without messages" || show
steps=$(sed -n '1,/^$/p' "$cap/out" | sed '/^$/d' | cut -d: -f1 | tr '\n' ' ')
[ "$steps" = "validate lock storage install hooks identity kernel filesystem config boot " ]
check $? "the plan is one line per step, in order (got: $steps)"
line install | grep -qF "bookworm amd64 from http://mirror.example/debian (from $apt/etc/apt/sources.list.d/debian.sources:2)"
check $? "the mirror comes from the fixture's apt sources, named with file and line" || show
line validate | grep -qF "bookworm amd64 (debian, from the host's release, $apt/etc/os-release)"
check $? "the dist defaults to the host's release"
line storage | grep -qF "root $VMKIT_LIBDIR/domains/web1/disk.img (raw, 4G, ext4 labelled root); swap $VMKIT_LIBDIR/domains/web1/swap.img (raw, 512M)"
check $? "storage: default size, fs, format and swap under \$VMKIT_LIBDIR"
line lock | grep -qF "$VMKIT_RUNDIR/provision/web1.lock"
check $? "lock: under \$VMKIT_RUNDIR"
line install | grep -qE "packages .*linux-image-amd64.*; cache $VMKIT_CACHEDIR "
check $? "install: the package set with the kernel, the cache under \$VMKIT_CACHEDIR"
line hooks | grep -qE "^hooks: $PWD/hooks/common \([0-9]+ hooks\), $PWD/hooks/debian \([0-9]+ hooks\)"
check $? "hooks: the source tree's data directory, found from the program"
line kernel | grep -qF "$VMKIT_LIBDIR/boot/web1/vmlinuz and $VMKIT_LIBDIR/boot/web1/initrd.img"
check $? "kernel: under \$VMKIT_LIBDIR/boot/NAME"
line config | grep -qF "$VMKIT_CONFDIR/web1.cfg (pvh, memory 512M, maxmem 512M, 1 vcpu, mac 00:16:3e:"
check $? "config: \$VMKIT_CONFDIR/NAME.cfg"
line boot | grep -qF "no (--boot would run vmctl create $VMKIT_CONFDIR/web1.cfg)"
check $? "boot: not without --boot"

config "$cap/web1.cfg"
"$VMCTL" config-dump "$cap/web1.cfg" > "$cap/dump" 2> "$cap/dump.err"
check $? "the printed config parses with vmctl config-dump" || diag < "$cap/dump.err"
! [ -s "$cap/dump.err" ]; check $? "without warnings"
sed 1d "$cap/web1.cfg" | diff - "$cap/dump" > "$cap/diff"
check $? "config-dump gives back the same config" || diag < "$cap/diff"
grep -qx 'type = "pvh"' "$cap/dump" && grep -qx 'root = "LABEL=root ro"' "$cap/dump" &&
    grep -qx 'extra = "console=hvc0 net.ifnames=0"' "$cap/dump" &&
    grep -qE '^uuid = "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"$' "$cap/dump"
check $? "pvh, root by LABEL, console hvc0 and eth0, a random (v4) uuid"
grep -qF "\"format=raw,vdev=xvda,access=rw,target=$VMKIT_LIBDIR/domains/web1/disk.img\"" "$cap/dump" &&
    grep -qF "\"format=raw,vdev=xvdb,access=rw,target=$VMKIT_LIBDIR/domains/web1/swap.img\"" "$cap/dump"
check $? "both disks name their format"
mac=$(grep -oE 'mac=00:16:3e:[0-9a-f:]{8}' "$cap/dump")
[ -n "$mac" ] && grep -qF "\"$mac,bridge=br0\"" "$cap/dump"
check $? "the vif has a generated 00:16:3e mac and bridge br0"
run --hostname web1 --dry-run
config "$cap/again.cfg"
! cmp -s "$cap/web1.cfg" "$cap/again.cfg"
check $? "each run makes a fresh uuid (and mac)"

run --hostname web1 --dry-run --mirror http://other.example/debian/
line install | grep -qF "from http://other.example/debian/ (from --mirror)"
check $? "--mirror overrides the apt sources, and says so" || show

printf '# site defaults\nmemory = 1G\nsize = 8G   # bigger disks\nmirror = "http://conf.example/debian"\nnoswap = yes\n' > "$conf"
run --hostname web1 --dry-run --memory 2G
[ $rc -eq 0 ]; check $? "dry run with a provision.conf" || show
line config | grep -qF "memory 2G, maxmem 2G"
check $? "a flag overrides provision.conf (--memory)"
line storage | grep -qF "(raw, 8G, ext4 labelled root); no swap ($conf:5)"
check $? "provision.conf gives the defaults the flags leave (size, noswap)"
line install | grep -qF "from http://conf.example/debian (from $conf:4)"
check $? "the mirror from provision.conf, named with file and line"
line validate | grep -qF "settings from $conf, then the command line"
check $? "validate names the settings files read"
run --hostname web1 --dry-run --swap 1G
line storage | grep -qF "swap $VMKIT_LIBDIR/domains/web1/swap.img (raw, 1G)"
check $? "--swap SIZE overrides noswap from provision.conf"

cfgfile=$cap/guest.conf
printf 'vcpus = 3\nfs = xfs\nmemory = 768M\nimage-format = qcow2\ncache = no\n' > "$cfgfile"
run --hostname web1 --dry-run --config "$cfgfile"
[ $rc -eq 0 ]; check $? "dry run with --config FILE" || show
line config | grep -qF "memory 768M, maxmem 768M, 3 vcpus"
check $? "--config overrides provision.conf (memory)"
line storage | grep -qF "disk.qcow2 (qcow2, 8G, xfs labelled root)"
check $? "--config and provision.conf combine (format, fs, size)"
line install | grep -qE "xfsprogs; no cache \($cfgfile:5\)"
check $? "the file system's tools join the package set; cache off from --config"
run --hostname web1 --dry-run --config "$cfgfile" --vcpus 4 --cache
line config | grep -qF ", 4 vcpus"; check $? "a flag overrides --config (--vcpus)"
line install | grep -qF "; cache $VMKIT_CACHEDIR"; check $? "--cache overrides cache = no"
rm -f "$conf"

key=$cap/id.pub
echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOUs7uW23dc3I3JeM7OcbYeVoHozLshBZUxqa9tXYchc alice@example' > "$key"
mkdir -p "$cap/myhooks"
printf '#!/bin/sh\n' > "$cap/myhooks/10-motd"; chmod +x "$cap/myhooks/10-motd"
run --hostname db1.example.org --dist trixie --ip 192.0.2.10 --netmask 255.255.255.0 \
    --gateway 192.0.2.1 --nameserver 192.0.2.53,192.0.2.54 --mac 00:16:3E:0A:0B:0C \
    --bridge xenbr0 --ssh-key "$key" --genpass --hooks "$cap/myhooks" --boot --dry-run
[ $rc -eq 0 ]; check $? "a static-network dry run" || show
line hooks | grep -qF "$cap/myhooks (1 hook)" &&
line identity | grep -qF "identity: hostname db1.example.org, network 192.0.2.10/24 via 192.0.2.1 (networkd), nameservers 192.0.2.53 192.0.2.54, root password generated, ssh keys $key"
check $? "hooks and identity: --hooks DIR, address, gateway, nameservers, genpass, key" || show
line boot | grep -qF "vmctl create $VMKIT_CONFDIR/db1.example.org.cfg"
check $? "--boot: the guest is started"
config "$cap/db1.cfg"
"$VMCTL" config-dump "$cap/db1.cfg" > "$cap/dump" 2>&1 &&
    grep -qF '"mac=00:16:3e:0a:0b:0c,ip=192.0.2.10,bridge=xenbr0"' "$cap/dump"
check $? "the vif carries --mac (normalised), --ip and --bridge" || diag < "$cap/dump"

run --hostname u1 --dist jammy --mirror http://ubuntu.example/ubuntu --dry-run
[ $rc -eq 0 ] && line install | grep -qF "jammy amd64 from http://ubuntu.example/ubuntu (from --mirror)" &&
    line install | grep -qF linux-image-virtual
check $? "an Ubuntu release with --mirror" || show

echo fake > "$cap/root.tar"
run --hostname t1 --install-method tar --install-source "$cap/root.tar" --dry-run
[ $rc -eq 0 ] && line install | grep -qF "unpack $cap/root.tar (tar)"
check $? "--install-method tar with --install-source" || show

run --help
[ $rc -eq 0 ] && grep -q '^usage: vm-provision --hostname NAME' "$cap/out"
check $? "--help prints the usage and exits 0"

# --- bad values: one line each, naming the option, exit 2 ---------------

# bad WHAT PATTERN ARGS...: exit 2, nothing on stdout, exactly one line on
# stderr, which matches PATTERN (an extended regex)
bad() {
    local what=$1 pattern=$2
    shift 2
    run "$@"
    if [ $rc -eq 2 ] && ! [ -s "$cap/out" ] && [ "$(wc -l < "$cap/err")" -eq 1 ] &&
        grep -qE -- "$pattern" "$cap/err"; then
        ok 0 "$what: exit 2 and one line: $(cat "$cap/err")"
    else
        ok 1 "$what"
        show
    fi
}

bad "bad hostname" '^vm-provision: error: --hostname: `web_1'"'"' is not a valid host name' \
    --hostname web_1 --dry-run
bad "hostname label too long" '^vm-provision: error: --hostname: .*longer than 63' \
    --hostname "$(printf 'a%.0s' $(seq 64))" --dry-run
bad "missing --hostname" '^vm-provision: error: --hostname: missing' --dry-run
bad "bad size" '^vm-provision: error: --size: `4X'"'"' is not a size' \
    --hostname web1 --size 4X --dry-run
bad "size below the minimum" '^vm-provision: error: --size: .*minimum, 512M' \
    --hostname web1 --size 100M --dry-run
bad "memory not whole MiB" '^vm-provision: error: --memory: .*whole number of MiB' \
    --hostname web1 --memory 1000.5M --dry-run
bad "maxmem below memory" '^vm-provision: error: --maxmem: `512M'"'"' is less than the memory, 1G' \
    --hostname web1 --memory 1G --maxmem 512M --dry-run
bad "unknown fs" '^vm-provision: error: --fs: `zfs'"'"': expected ext4, xfs or btrfs' \
    --hostname web1 --fs zfs --dry-run
bad "unknown image format" '^vm-provision: error: --image-format: ' \
    --hostname web1 --image-format vmdk --dry-run
bad "bad ip" '^vm-provision: error: --ip: `192.0.2.300'"'"'' \
    --hostname web1 --ip 192.0.2.300 --dry-run
bad "ip without netmask" '^vm-provision: error: --ip: .*no netmask' \
    --hostname web1 --ip 192.0.2.3 --dry-run
bad "bad netmask" '^vm-provision: error: --netmask: .*contiguous' \
    --hostname web1 --ip 192.0.2.3 --netmask 255.0.255.0 --dry-run
bad "gateway without ip" '^vm-provision: error: --gateway: only with --ip' \
    --hostname web1 --gateway 192.0.2.1 --dry-run
bad "multicast mac" '^vm-provision: error: --mac: .*multicast' \
    --hostname web1 --mac 01:00:5e:00:00:01 --dry-run
bad "bad vcpus" '^vm-provision: error: --vcpus: ' --hostname web1 --vcpus 0 --dry-run
bad "unknown dist" '^vm-provision: error: --dist: unknown distribution `sid9'"'"' \(known: alma9 bookworm bullseye centos7 fedora40 jammy noble rocky8 rocky9 trixie\)' \
    --hostname web1 --dist sid9 --dry-run
bad "unknown arch for the dist" '^vm-provision: error: --arch: `arm64'"'"'' \
    --hostname web1 --arch arm64 --dry-run
bad "Ubuntu without a mirror" '^vm-provision: error: --mirror: not given, and noble is an Ubuntu release while this host is Debian' \
    --hostname web1 --dist noble --dry-run
bad "bad mirror" '^vm-provision: error: --mirror: `ftp://x.example/debian'"'"' is not a mirror URL' \
    --hostname web1 --mirror ftp://x.example/debian --dry-run
bad "tar without --install-source" '^vm-provision: error: --install-source: required with --install-method tar' \
    --hostname web1 --install-method tar --dry-run
bad "--install-source with mmdebstrap" '^vm-provision: error: --install-source: only with --install-method tar or copy' \
    --hostname web1 --install-source "$cap/root.tar" --dry-run
bad "missing --hooks dir" '^vm-provision: error: --hooks: /nonexistent/hooks: No such file' \
    --hostname web1 --hooks /nonexistent/hooks --dry-run
bad "ssh key that is not one" '^vm-provision: error: --ssh-key: .*expected an ssh public key' \
    --hostname web1 --ssh-key "$cap/root.tar" --dry-run
bad "unknown role" '^vm-provision: error: --role: unknown role `mail'"'"'' \
    --hostname web1 --role mail --dry-run
bad "unknown option" '^vm-provision: error: unknown option `--sise' --hostname web1 --sise=4G --dry-run
bad "option without its value" '^vm-provision: error: --size: needs a value' --hostname web1 --size
bad "stray argument" '^vm-provision: error: unexpected argument `web2'"'"'' --hostname web1 web2 --dry-run
bad "missing --config file" '^vm-provision: error: --config: /nonexistent.conf: No such file' \
    --hostname web1 --config /nonexistent.conf --dry-run

printf 'memory = 1G\n# comment\nsize 8G\n' > "$conf"
bad "a provision.conf syntax error" "^$conf:3:6: error: expected \`key = value'" --hostname web1 --dry-run
printf 'memory = 1G\nfs = zfs\n' > "$conf"
bad "a bad value in provision.conf" "^$conf:2:6: error: fs: \`zfs': expected ext4, xfs or btrfs" \
    --hostname web1 --dry-run
printf 'colour = blue\n' > "$conf"
bad "an unknown key in provision.conf" "^$conf:1:1: error: unknown setting \`colour'" \
    --hostname web1 --dry-run
printf 'dry-run = yes\n' > "$conf"
bad "a command-line-only key in provision.conf" "^$conf:1:1: error: \`dry-run' is a command-line option only" \
    --hostname web1 --dry-run
rm -f "$conf"
printf '\n  size = "4X"\n' > "$cfgfile"
bad "a bad value in --config FILE" "^$cfgfile:2:10: error: size: \`4X' is not a size" \
    --hostname web1 --config "$cfgfile" --dry-run

run --hostname web_1 --size 4X --fs zfs --ip 1.2.3 --dry-run
[ $rc -eq 2 ] && [ "$(wc -l < "$cap/err")" -eq 4 ] && grep -q -- '--hostname' "$cap/err" &&
    grep -q -- '--size' "$cap/err" && grep -q -- '--fs' "$cap/err" && grep -q -- '--ip' "$cap/err"
check $? "several bad values: each reported, one line each, exit 2" || show

# --- without --dry-run: a run that fails leaves nothing ----------------------

# (the log of the run is kept, in $VMKIT_LOGDIR)
snapshot() { (cd "$tmp" && find tree apt -path tree/log -prune -o -printf '%p %y %s %m\n' | sort); }
snapshot > "$cap/before"
run --hostname web1 --mirror http://127.0.0.1:9/debian
if [ "$(id -u)" = 0 ]; then
    [ $rc -eq 1 ] && grep -q 'http://127.0.0.1:9/debian' "$cap/err" &&
        grep -q "^vm-provision: web1: failed at step install; everything it had made was removed" \
            "$cap/err"
    check $? "without --dry-run, an unreachable mirror: exit 1 at install, naming the mirror" || show
else
    [ $rc -eq 1 ] && grep -q 'must run as root' "$cap/err"
    check $? "without --dry-run, not root: exit 1, saying root is needed" || show
fi
run --hostname web_1
[ $rc -eq 2 ]; check $? "without --dry-run, bad input still exits 2 first" || show
snapshot > "$cap/after"
diff "$cap/before" "$cap/after" > "$cap/diff"
check $? "and the vmkit tree is unchanged" || diag < "$cap/diff"

# --- an existing guest ----------------------------------------------------

echo 'name = "web1"' > "$VMKIT_CONFDIR/web1.cfg"
run --hostname web1 --dry-run
[ $rc -eq 1 ] && [ "$(wc -l < "$cap/err")" -eq 1 ] &&
    grep -qF "guest \`web1' exists: $VMKIT_CONFDIR/web1.cfg (--force replaces it)" "$cap/err"
check $? "an existing guest: exit 1, saying --force replaces it" || show
run --hostname web1 --dry-run --force
[ $rc -eq 0 ] && line config | grep -qF "exists, --force replaces it"
check $? "with --force the plan says it replaces the guest" || show
rm -f "$VMKIT_CONFDIR/web1.cfg"

done_testing
