#!/bin/sh
# timeout: 900
# vm-provision for the Red Hat family, end to end, under TCG: a repository
# of genuine RPM packages built by rpmbuild and createrepo_c
# (tests/lib/rpm-repo, specs in tests/rpm/) is served on 127.0.0.1 by the
# test's own HTTP server; vm-provision --dist vmkittest (tests/rpm/
# vmkittest.conf, copied into $VMKIT_CONFDIR/dist) resolves the package
# set with its file, capability and versioned dependencies, downloads,
# unpacks, registers the packages with the guest's own rpm (scriptlets
# run), runs the hooks and sets the identity.  The image is checked
# without mounting it (debugfs): files, hooks, scriptlet effects, the
# newest vmkit-tool, /lib/modules through the /lib link, and the guest's
# rpm database (rpm -qa lists the closure, rpm -Va finds only the config
# files the hooks changed), and /dev/console, which the fixture's Debian
# initramfs opens in the root it switches to.  The guest boots with vmctl
# create to login: on hvc0 (busybox init, getty, login) and root logs in
# with the password given and looks around.  Then the failure
# paths: a corrupted package, a dependency nobody provides, an
# unreachable mirror (each: exit 1, a message that names the problem,
# nothing left behind) and a server that drops every first transfer
# mid-body (the run resumes and succeeds).
#
# The repository is built once (3 s), each provisioning takes a second or
# two, and one guest boots (15 s under TCG): about 40 s in all.
. tests/lib/tap.sh
# check STATUS DESCRIPTION: ok, and STATUS again (for `|| diagnostics')
check() { ok "$1" "$2"; return "$1"; }

if [ "$(id -u)" != 0 ]; then
    echo "1..0 # SKIP needs root (chroot, mount namespaces, debugfs on images, QEMU)"
    exit 0
fi

top=$(pwd)
P=$top/bin/vm-provision
vmctl=$top/bin/vmctl
expect=$top/tests/lib/console-expect
t=$(mktemp -d /tmp/vmkit-rpm.XXXXXX)
export VMKIT_RUNDIR=$t/run VMKIT_LOGDIR=$t/log VMKIT_LIBDIR=$t/lib VMKIT_CONFDIR=$t/etc
export VMKIT_CACHEDIR=$t/cache
mkdir -p "$t/etc/dist" "$t/www" "$VMKIT_CACHEDIR"
cp tests/rpm/vmkittest.conf tests/rpm/vmkittest-broken.conf "$t/etc/dist/"
pw='Rpm-s3cret.7'
servers=

cleanup() {
    "$vmctl" destroy rpm1 > /dev/null 2>&1
    for p in $servers; do kill "$p" 2> /dev/null; done
    rm -rf "$t"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# bail DESCRIPTION: a step everything after depends on failed
bail() {
    ok 1 "$1"
    done_testing
    exit 1
}

# serve NAME DIR [HTTPD OPTIONS...]: start tests/lib/httpd on DIR; its port
# goes to $port, its pid to $server, its log to $t/NAME.httpd.log
serve() {
    name=$1 dir=$2
    shift 2
    rm -f "$t/$name.port"
    "$top/tests/lib/httpd" --root "$dir" --port-file "$t/$name.port" "$@" \
        > /dev/null 2> "$t/$name.httpd.log" &
    server=$!
    servers="$servers $server"
    for i in $(seq 1 100); do
        [ -s "$t/$name.port" ] && break
        sleep 0.1
    done
    port=$(cat "$t/$name.port" 2> /dev/null)
    [ -n "$port" ]
}

# snapshot FILE: every path under the test's tree that a run may touch,
# what is mounted there, and the caches' temporaries
snapshot() {
    { find "$t/etc" "$t/lib" "$t/run" 2> /dev/null | grep -v '/run/provision$' | sort
      grep -F " $t" /proc/mounts
      find "$t"/cache* -name '.*' 2> /dev/null
    } > "$1"
}

# --- the fixture's kernel, the repository, the server -----------------------
fx=$(tests/lib/fixture build/fixture 2> "$t/fixture.err") ||
    { diag < "$t/fixture.err"; bail "the test fixture (kernel and initramfs)"; }
kernel=$(echo "$fx" | sed -n 1p)
initrd=$(echo "$fx" | sed -n 2p)

start=$(date +%s)
kver=$(tests/lib/rpm-repo "$t/www/vmkittest" "$kernel" "$initrd" 2> "$t/repo.err")
rc=$?
ok $rc "tests/lib/rpm-repo builds the repository (kernel $kver)"
[ $rc -eq 0 ] || { diag < "$t/repo.err"; bail "no repository, nothing to test"; }
echo "# repository built in $(($(date +%s) - start)) s"
grep 'packages built\|createrepo_c took' "$t/repo.err" | diag
repo=$t/www/vmkittest
# the closure of vmkittest's package set (with kernel, and e2fsprogs that
# vm-provision adds for an ext4 root): all but vmkit-broken and the older
# vmkit-tool
rpm -qp --nosignature --nodigest --qf '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\n' \
    "$repo"/Packages/*.rpm 2> /dev/null |
    grep -v -e '^vmkit-broken-' -e '^vmkit-tool-1\.2-' | sort > "$t/closure"
nclosure=$(wc -l < "$t/closure")
[ "$nclosure" -eq 16 ]
check $? "the expected closure has 16 packages" || diag < "$t/closure"

serve main "$t/www" || bail "tests/lib/httpd serves the repository"
mirror=http://127.0.0.1:$port/vmkittest/

# --- the guest ----------------------------------------------------------------
start=$(date +%s)
"$P" --dist vmkittest --mirror "$mirror" --hostname rpm1 --network user \
    --password "$pw" --no-cache --size 1G --noswap > "$t/rpm1.out" 2> "$t/rpm1.err"
rc=$?
check $rc "vm-provision --dist vmkittest makes rpm1 from the repository on 127.0.0.1" ||
    { diag < "$t/rpm1.out"; tail -n 30 "$t/rpm1.err" | diag; }
echo "# rpm1 made in $(($(date +%s) - start)) s"
[ $rc -eq 0 ] || bail "no guest, nothing more to check"

img=$t/lib/domains/rpm1/disk.img
[ -f "$img" ] && [ -f "$t/etc/rpm1.cfg" ] && [ -f "$t/lib/boot/rpm1/vmlinuz" ] &&
    [ -f "$t/lib/boot/rpm1/initrd.img" ]
check $? "the image, the kernel, the initramfs and the config are where they belong"
cmp -s "$t/lib/boot/rpm1/vmlinuz" "$kernel" && cmp -s "$t/lib/boot/rpm1/initrd.img" "$initrd"
check $? "the kernel and initramfs are the kernel package's /boot/vmlinuz-$kver and initramfs-$kver.img"
blkid -p -o value -s LABEL "$img" | grep -qx root
check $? "the root image is labelled root"

# The image's files, read with debugfs (never mounted)
dcat() { debugfs -R "cat $1" "$img" 2> /dev/null; }
dstat() { debugfs -R "stat $1" "$img" 2> /dev/null; }
[ "$(dcat /etc/hostname)" = rpm1 ]
check $? "/etc/hostname is rpm1 ($(dcat /etc/hostname))"
dcat /etc/hosts | grep -q '[[:space:]]rpm1\([[:space:]]\|$\)'
check $? "/etc/hosts names rpm1"
dcat /etc/fstab | grep -q '^devpts[[:space:]][[:space:]]*/dev/pts[[:space:]][[:space:]]*devpts'
check $? "/etc/fstab has the devpts line" || dcat /etc/fstab | diag
dcat /etc/fstab | grep -q '^\(LABEL=root\|UUID=[-0-9a-f]*\)[[:space:]][[:space:]]*/[[:space:]]'
check $? "/etc/fstab mounts the root by LABEL or UUID" || dcat /etc/fstab | diag
dcat /etc/inittab | grep -q '^hvc0:[0-9]*:respawn:/sbin/getty .*hvc0' &&
    dcat /etc/inittab | grep -q '^::sysinit:/etc/rc.d/rc.sysinit$'
check $? "/etc/inittab: a getty on hvc0 added, the package's lines kept" || dcat /etc/inittab | diag
dcat /etc/securetty | grep -qx hvc0 && dcat /etc/securetty | grep -qx tty1
check $? "/etc/securetty: hvc0 added, the package's terminals kept" || dcat /etc/securetty | diag
dcat /etc/shadow | grep -q '^root:\$6\$[^:]*\$[^:]*:'
check $? "/etc/shadow: root's password is a sha512 (\$6\$) hash"
dcat /etc/shadow | grep -q '^bin:\*:'
check $? "/etc/shadow: the other accounts kept as the setup package made them"
dcat /etc/sysconfig/network-scripts/ifcfg-eth0 | grep -q '^BOOTPROTO="\{0,1\}dhcp'
check $? "network-style ifcfg: ifcfg-eth0 with BOOTPROTO=dhcp" ||
    dcat /etc/sysconfig/network-scripts/ifcfg-eth0 | diag
! dcat /etc/yum.repos.d/vmkittest.repo | grep -q '^enabled *= *1' &&
    dcat /etc/yum.repos.d/vmkittest.repo | grep -q '^enabled *= *0'
check $? "release-repos = disable: the release package's repositories are disabled" ||
    dcat /etc/yum.repos.d/vmkittest.repo | diag
[ "$(dcat /var/lib/vmkit-test/pre-ran)" = 1 ]
check $? "the %pre scriptlet ran, as a first install (\$1 = $(dcat /var/lib/vmkit-test/pre-ran))"
[ "$(dcat /etc/vmkit-test/post-ran)" = "1 0" ]
check $? "the %post scriptlet ran, as a first install, as root ($(dcat /etc/vmkit-test/post-ran))"
[ "$(dcat /usr/share/vmkit-tool/VERSION)" = 1.10 ]
check $? "vmkit-tool is the newest, 1.10, not 1.2 ($(dcat /usr/share/vmkit-tool/VERSION))"
dstat /usr/libexec/vmkit-helper | grep -q 'Type: regular'
check $? "the file dependency pulled in vmkit-helper (/usr/libexec/vmkit-helper)"
dstat /usr/sbin/vmkit-httpd | grep -q 'Type: regular'
check $? "the capability webserver pulled in vmkit-httpd"
! dstat /usr/share/vmkit-broken/README | grep -q 'Type:'
check $? "vmkit-broken, in the repository but not asked for, is not installed"
for l in bin:usr/bin sbin:usr/sbin lib:usr/lib lib64:usr/lib64; do
    dstat "/${l%%:*}" | grep -q "Type: symlink" &&
        dstat "/${l%%:*}" | grep -q "Fast link dest: \"${l#*:}\""
    check $? "/${l%%:*} is still the link to ${l#*:}"
done
dstat "/usr/lib/modules/$kver/modules.dep" | grep -q 'Type: regular'
check $? "the kernel's /lib/modules/$kver went through the link to /usr/lib/modules"
dstat /tmp | grep -q 'Mode:  01777' && dstat /var/tmp | grep -q 'Mode:  01777' &&
    dstat /root | grep -q 'Mode:  0550'
check $? "/tmp and /var/tmp are 1777, /root 0550, as the filesystem package says"
dstat /etc/shadow | grep -q 'Mode:  0000 '
check $? "/etc/shadow kept the setup package's mode, 0000" || dstat /etc/shadow | head -n 1 | diag

# Debian's initramfs (klibc run-init) opens /dev/console in the new root
# before it runs init: the root carries the static /dev entries, as a
# debootstrap or mmdebstrap root does
dstat /dev/console | grep -q 'Type: character special' &&
    dstat /dev/null | grep -q 'Type: character special'
console=$?
check $console "/dev/console and /dev/null are in the image (the initramfs needs /dev/console)"

# The guest's rpm database, and every packaged file against it
mkdir -p "$t/root"
debugfs -R "rdump / $t/root" "$img" > "$t/rdump.log" 2>&1
rpm --root "$t/root" --dbpath /var/lib/rpm -qa \
    --qf '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\n' 2> "$t/qa.err" | sort > "$t/qa"
diff "$t/closure" "$t/qa" > "$t/qa.diff"
check $? "the guest's rpm database (rpm --root -qa) lists exactly the closure" ||
    { diag < "$t/qa.diff"; diag < "$t/qa.err"; }
# rpm -V: S size, M mode, 5 digest, L link, U user, G group, T mtime; c a
# config file.  Only config files may differ (the hooks and the identity
# step change them), and the ghost file a scriptlet wrote; and the modes of
# /tmp and /var/tmp, whose sticky bit debugfs rdump drops (checked in the
# image above).
rpm --root "$t/root" --dbpath /var/lib/rpm -Va > "$t/va" 2> "$t/va.err"
grep -v -e '^[^ ]*  *c /' -e ' /etc/vmkit-test/post-ran$' \
    -e '^\.M\.\.\.\.\.\.\.  *\(/tmp\|/var/tmp\)$' "$t/va" > "$t/va.bad"
! [ -s "$t/va.bad" ] && ! grep -q . "$t/va.err"
check $? "rpm -Va: every file not a config file is as its package made it" ||
    { diag < "$t/va.bad"; diag < "$t/va.err"; }
grep -q ' c /etc/securetty$' "$t/va" && grep -q ' c /etc/inittab$' "$t/va"
check $? "rpm -Va: sees the hooks' changes to securetty and inittab" || diag < "$t/va"
rm -rf "$t/root"

# --- it boots; log in on hvc0 -------------------------------------------------
# (busybox's sh runs its own applets first, and it has an rpm applet: the
# guest's rpm is asked for by its path)
"$vmctl" create "$t/etc/rpm1.cfg" > "$t/create" 2>&1
check $? "vmctl create rpm1" || diag < "$t/create"
if [ $console -ne 0 ]; then
    echo "no /dev/console in the image: the initramfs cannot start init" > "$t/look"
    : > "$t/rpm1.console"
    booted=1
else
    # (an answer is told from the echo of its command, which a wrapped line
    # may end just after NAME=$(..., by its first character: not a $)
    printf '%s\n' 'timeout 240' 'send \r' 'expect login:' 'timeout 60' 'send root\r' \
        'expect Password:' "send $pw\\r" 'expect \]# ' \
        'send echo KV=$(uname -r) HN=$(cat /etc/hostname)\r' 'expect HN=[^$\s]\S*\r?\n' \
        'send echo NPKG=$(/usr/bin/rpm -qa 2>/dev/null | grep -c .) TOOL=$(/usr/bin/rpm -q vmkit-tool)\r' \
        'expect TOOL=[^$\s]\S*\r?\n' \
        'send echo ROOT=$(grep " / " /proc/mounts | cut -d" " -f4 | cut -d, -f1) PTS=$(grep -c " /dev/pts devpts" /proc/mounts)\r' \
        'expect PTS=\d+\r?\n' \
        'send echo POST=$(tr " " : < /etc/vmkit-test/post-ran) SHELL=$(readlink /bin/sh)\r' \
        'expect SHELL=[^$\s]\S*\r?\n' \
        'sendraw 1d' 'wait' |
        "$expect" --log "$t/rpm1.console" -- "$vmctl" console rpm1 > "$t/look" 2>&1
    booted=$?
fi
check $booted "rpm1 boots to login: on hvc0 and root logs in with the password given" ||
    diag < "$t/look"
con() { tr -d '\r' < "$t/rpm1.console" | grep -o "$1=[^ ]*" | grep -v '\$' | tail -n 1; }
[ "$(con KV)" = "KV=$kver" ]
check $? "uname -r in the guest: the kernel package's kernel ($(con KV))"
[ "$(con HN)" = HN=rpm1 ]
check $? "the guest's hostname ($(con HN))"
[ "$(con NPKG)" = "NPKG=$nclosure" ] && [ "$(con TOOL)" = TOOL=vmkit-tool-1.10-1.vt1.x86_64 ]
check $? "the guest's own rpm lists its $nclosure packages ($(con NPKG), $(con TOOL))"
[ "$(con ROOT)" = ROOT=rw ] && [ "$(con PTS)" = PTS=1 ]
check $? "rc.sysinit: the root is writable and devpts mounted from fstab ($(con ROOT), $(con PTS))"
[ "$(con POST)" = POST=1:0 ]
check $? "the guest sees the %post scriptlet's proof ($(con POST))"
"$vmctl" destroy rpm1 > "$t/destroy" 2>&1
check $? "vmctl destroy rpm1" || diag < "$t/destroy"
"$P" --delete rpm1 > "$t/del.out" 2>&1 && ! [ -e "$t/etc/rpm1.cfg" ] &&
    ! [ -e "$t/lib/domains/rpm1" ] && ! [ -e "$t/lib/boot/rpm1" ]
check $? "--delete rpm1 removes its config, image and kernel" || diag < "$t/del.out"

# --- failures: a clear message, nothing left ----------------------------------
snapshot "$t/before"
# fail NAME CACHE DESCRIPTION VM-PROVISION-ARGS...: run, expect exit 1 and
# nothing left; the output in $t/NAME.err
fail() {
    name=$1 cache=$2 what=$3
    shift 3
    s=$(date +%s)
    VMKIT_CACHEDIR=$t/$cache "$P" --hostname "$name" --network none --no-cache \
        --size 1G --noswap "$@" > "$t/$name.out" 2> "$t/$name.err"
    rc=$?
    echo "# $name: exit $rc after $(($(date +%s) - s)) s, saying:"
    grep '^vm-provision: error: ' "$t/$name.err" | diag
    snapshot "$t/after"
    [ $rc -eq 1 ] && diff "$t/before" "$t/after" > "$t/$name.diff"
    check $? "$what: exit 1, nothing left behind" ||
        { diag < "$t/$name.err"; diag < "$t/$name.diff"; }
}

# A package whose bytes are not the ones primary.xml's checksum names
mkdir -p "$t/www/corrupt"
cp -al "$repo/repodata" "$repo/Packages" "$t/www/corrupt/"
bad=$(cd "$repo/Packages" && ls vmkit-helper-*.rpm)
rm -f "$t/www/corrupt/Packages/$bad"
cp "$repo/Packages/$bad" "$t/www/corrupt/Packages/$bad"
size=$(stat -c %s "$t/www/corrupt/Packages/$bad")
perl -e 'open my $f, "+<", $ARGV[0] or die; seek $f, $ARGV[1], 0; read $f, my $c, 1;
    seek $f, $ARGV[1], 0; print $f chr(ord($c) ^ 1); close $f or die' \
    "$t/www/corrupt/Packages/$bad" $((size - 100))
! cmp -s "$repo/Packages/$bad" "$t/www/corrupt/Packages/$bad"
check $? "a copy of the repository with one byte of $bad flipped"
fail rpm-bad cache-bad "a corrupted package ($bad)" \
    --dist vmkittest --mirror "http://127.0.0.1:$port/corrupt/"
grep -q "$bad" "$t/rpm-bad.err" && grep -qi 'checksum\|digest\|sha256' "$t/rpm-bad.err"
check $? "... the message names $bad and its checksum" || diag < "$t/rpm-bad.err"

# A requirement nothing provides
fail rpm-dep cache-dep "a missing dependency (vmkit-broken)" \
    --dist vmkittest-broken --mirror "$mirror"
grep 'vmkit-broken' "$t/rpm-dep.err" | grep -qF 'libnothing.so.1()(64bit)'
check $? "... the message names vmkit-broken and libnothing.so.1()(64bit)" ||
    diag < "$t/rpm-dep.err"

# A mirror nobody listens on: a port the test's server had, and closed
serve closed "$t/www" && kill "$server" && wait "$server" 2> /dev/null
servers=${servers% $server}
closed=$port
fail rpm-down cache-down "an unreachable mirror (127.0.0.1:$closed, closed)" \
    --dist vmkittest --mirror "http://127.0.0.1:$closed/vmkittest/"
grep -q "127.0.0.1:$closed" "$t/rpm-down.err" && grep -q 'repomd.xml' "$t/rpm-down.err"
check $? "... the message names the mirror and repomd.xml" || diag < "$t/rpm-down.err"

# A server that drops the first transfer of every file after 10000 bytes:
# vm-provision resumes (Range) and succeeds
serve drop "$t/www" --drop-after 10000 || bail "tests/lib/httpd --drop-after"
s=$(date +%s)
VMKIT_CACHEDIR=$t/cache-drop "$P" --dist vmkittest --mirror "http://127.0.0.1:$port/vmkittest/" \
    --hostname rpm2 --network none --no-cache --size 1G --noswap \
    > "$t/rpm2.out" 2> "$t/rpm2.err"
check $? "a server that drops every first transfer mid-body: vm-provision still makes rpm2" ||
    { diag < "$t/rpm2.out"; tail -n 30 "$t/rpm2.err" | diag; }
echo "# rpm2 made in $(($(date +%s) - s)) s"
grep -q "GET /vmkittest/Packages/kernel-.*dropped after 10000" "$t/drop.httpd.log" &&
    grep -q "GET /vmkittest/Packages/kernel-.* range=bytes=[0-9]*- -> 206" "$t/drop.httpd.log"
check $? "... it resumed the kernel package (a Range request, 206)" ||
    grep Packages/kernel "$t/drop.httpd.log" | diag
cmp -s "$t/lib/boot/rpm2/vmlinuz" "$kernel"
check $? "... and rpm2's kernel is whole"
"$P" --delete rpm2 > "$t/del2.out" 2>&1
check $? "--delete rpm2" || diag < "$t/del2.out"

# A definition whose own mirror is down, with a mirror list (as Rocky's,
# Alma's and Fedora's are) naming a dead mirror, then a live one written
# with a literal $basearch, as Alma's list writes it: the run fails over
# to the live one.  With the cache; a second run takes the base root
# from it and fetches no package.
serve ml "$t/www" || bail "tests/lib/httpd for the mirror list"
mkdir -p "$t/www/mirror2-x86_64"
cp -al "$repo/repodata" "$repo/Packages" "$t/www/mirror2-x86_64/"
printf '# test mirrors\nhttp://127.0.0.1:%s/vmkittest/\n\nhttp://127.0.0.1:%s/mirror2-$basearch\n' \
    "$closed" "$port" > "$t/www/mirrors-x86_64.txt"
sed -e "s|^mirror =.*|mirror = http://127.0.0.1:$closed/|" \
    -e "s|^repositories =.*|repositories = base=vmkittest|" \
    tests/rpm/vmkittest.conf > "$t/etc/dist/vmkittest-ml.conf"
echo "mirrorlist = base=http://127.0.0.1:$port/mirrors-\$basearch.txt" >> "$t/etc/dist/vmkittest-ml.conf"
"$P" --dist vmkittest-ml --hostname t1 --dry-run 2> /dev/null |
    grep -qF "repository base http://127.0.0.1:$closed/vmkittest/ (mirrorlist http://127.0.0.1:$port/mirrors-x86_64.txt first)"
check $? "the plan names the repository and its mirror list, \$basearch replaced"
ml() {
    VMKIT_CACHEDIR=$t/cache-ml "$P" --dist vmkittest-ml --hostname "$1" --network none \
        --size 1G --noswap > "$t/$1.out" 2> "$t/$1.err"
}
ml rpm3
check $? "a mirror list: the dead mirror skipped, the live one used (rpm3)" ||
    { diag < "$t/rpm3.out"; tail -n 30 "$t/rpm3.err" | diag; }
grep -q "GET /mirror2-x86_64/repodata/repomd.xml -> 200" "$t/ml.httpd.log" &&
    grep -q "GET /mirror2-x86_64/Packages/kernel-" "$t/ml.httpd.log"
check $? "... repomd.xml and the packages came from the second mirror" ||
    diag < "$t/ml.httpd.log"
: > "$t/ml.httpd.log.mark"
before=$(grep -c 'GET /mirror2-x86_64/Packages/' "$t/ml.httpd.log")
ml rpm4
check $? "a second guest of the same definition, with the cache (rpm4)" ||
    { diag < "$t/rpm4.out"; tail -n 30 "$t/rpm4.err" | diag; }
grep -q 'the base root came from the cache' "$t/rpm4.err" &&
    [ "$(grep -c 'GET /mirror2-x86_64/Packages/' "$t/ml.httpd.log")" = "$before" ]
check $? "... its base root came from the cache, and no package was fetched again" ||
    { grep 'install' "$t/rpm4.err" | diag; }
ls "$t/cache-ml/rpm/packages/"sha256-*.rpm > /dev/null 2>&1
check $? "... the packages are kept in the cache by checksum"
for g in rpm3 rpm4; do "$P" --delete "$g" > /dev/null 2>&1; done

done_testing
