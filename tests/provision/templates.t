#!/usr/bin/env bash
# timeout: 60
#
# templates.t - guest templates (vmkit-template(5)): --template NAME,
# --template-list, --template-show NAME and --packages, by dry runs only.
#
# Runs bin/vm-provision from the source tree (the shipped templates are
# the tree's templates/guest) with every vmkit root in a temporary tree
# and VMKIT_APT_ROOT at a fixture of apt sources and os-release, as
# options.t does.  A template's settings show in the plan; provision.conf
# is under it, --config files and the command line over it; a template
# in $VMKIT_CONFDIR/templates shadows a shipped one of the same name;
# every bad input gives one line naming the option or FILE:LINE:COL and
# exit 2.  Nothing is provisioned.  Run from the top of the tree, after
# make.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh
# check STATUS DESCRIPTION: ok, and STATUS again (for `|| diagnostics')
check() { ok "$1" "$2"; return "$1"; }

P=bin/vm-provision
tmp=$(mktemp -d "${TMPDIR:-/tmp}/templates.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
cap=$tmp/cap            # captured output, outside the vmkit tree
tree=$tmp/tree          # the vmkit roots
apt=$tmp/apt            # the fixture host root
mkdir -p "$cap" "$tree/etc" "$tree/lib" "$tree/cache" "$tree/run" "$tree/log" "$apt/etc/apt"
export VMKIT_CONFDIR=$tree/etc VMKIT_LIBDIR=$tree/lib VMKIT_CACHEDIR=$tree/cache \
    VMKIT_RUNDIR=$tree/run VMKIT_LOGDIR=$tree/log VMKIT_APT_ROOT=$apt
unset VMKIT_DATADIR
conf=$VMKIT_CONFDIR/provision.conf
site=$VMKIT_CONFDIR/templates
shipped=$PWD/templates/guest

printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n' \
    > "$apt/etc/os-release"
printf 'deb http://mirror.example/debian bookworm main\n' > "$apt/etc/apt/sources.list"

# run ARGS...: runs vm-provision; sets rc, output in $cap/out and $cap/err
run() {
    "$P" "$@" > "$cap/out" 2> "$cap/err"
    rc=$?
}
show() { { echo "exit $rc"; cat "$cap/err"; head -n 40 "$cap/out"; } | diag; }
line() { grep "^$1: " "$cap/out"; }        # line STEP: the plan's line
# lineno FILE PATTERN: the number of FILE's first line that matches
lineno() { grep -n -m 1 -- "$2" "$1" | cut -d: -f1; }
# good DESCRIPTION ARGS...: a dry run that exits 0 without messages
good() {
    local what=$1
    shift
    run "$@"
    [ $rc -eq 0 ] && ! [ -s "$cap/err" ]
    check $? "$what: exit 0, no message" || show
}
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
# re STRING: STRING as an extended regex that matches it literally
re() { printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'; }

[ -x "$P" ]; check $? "bin/vm-provision is built"
for t in debian-minimal debian-web centos7-minimal; do
    [ -f "$shipped/$t.conf" ] && head -n 1 "$shipped/$t.conf" | grep -q "^# $t - "
    check $? "templates/guest/$t.conf is shipped, with a header comment"
done

# --- a template applied ----------------------------------------------------

dm=$shipped/debian-minimal.conf
good "--template debian-minimal" --hostname m1 --template debian-minimal --dry-run
line validate | grep -qF "bookworm amd64 (debian, from $dm:$(lineno "$dm" '^dist')); settings from $conf (absent), template debian-minimal ($dm), then the command line"
check $? "validate names the template and its file; the dist from it" || show
line storage | grep -qF "(qcow2, 2G, ext4 labelled root); no swap ($dm:$(lineno "$dm" '^noswap'))"
check $? "storage: its size, no swap, said where from" || show
line config | grep -qF "(pvh, memory 256M, maxmem 256M, 1 vcpu,"
check $? "config: its memory" || show
line hooks | grep -qF "$PWD/hooks/roles/minimal (1 hook)"
check $? "hooks: its role minimal" || show

dw=$shipped/debian-web.conf
good "--template debian-web" --hostname w1 --template debian-web --dry-run
line storage | grep -qF "(qcow2, 4G, ext4 labelled root); swap $VMKIT_LIBDIR/domains/w1/swap.img (raw, 256M)"
check $? "debian-web: 4G and swap 256M" || show
line install | grep -qE "; packages .*openssh-server.* nginx-light; cache "
check $? "debian-web: nginx-light joins the install's package set (the cache key's)" || show
line hooks | grep -qF "$PWD/hooks/roles/ssh (1 hook), $PWD/hooks/roles/web (1 hook)"
check $? "debian-web: roles ssh and web" || show
line config | grep -qF "memory 512M, maxmem 512M, 1 vcpu"
check $? "debian-web: memory 512M" || show

good "--template centos7-minimal" --hostname c1 --template centos7-minimal --dry-run
line install | grep -qF "built from: rpm centos7 release 7 x86_64 from https://vault.centos.org/centos"
check $? "centos7-minimal: an rpm install of centos7" || show
line storage | grep -qF "(qcow2, 3G, ext4 labelled root); swap $VMKIT_LIBDIR/domains/c1/swap.img (raw, 256M)" &&
    line config | grep -qF "memory 512M"
check $? "centos7-minimal: 3G, swap 256M, memory 512M" || show

# a template's guest is a golden clone, unless it cannot be or is told not to be
good "--template: a golden clone" --hostname g1 --template debian-minimal --dry-run
line install | grep -q "^install: the golden image under .*/golden (key: .*built from: mmdebstrap .*; the disk .*/g1/disk.qcow2: a qcow2 overlay backed by the golden image (backing format raw)$" &&
    line storage | grep -qF "/g1/disk.qcow2 (qcow2," &&
    line filesystem | grep -qF "none to build: the clone" &&
    line identity | grep -qF "written into the clone through libext2fs, never mounted (the overlay seen as a raw file through qemu-storage-daemon's FUSE export)"
check $? "--template: the disk is a qcow2 overlay on the golden image, personalised in place" || show
good "--template with raw" --hostname g1 --template debian-minimal --image-format raw --dry-run
line install | grep -qF "/g1/disk.img: a raw copy of the golden image (reflink, else sparse)" &&
    line storage | grep -qF "/g1/disk.img (raw,"
check $? "--image-format raw: a raw copy of the golden image" || show
good "--clone overlay" --hostname g1 --template debian-minimal --clone overlay --dry-run
line storage | grep -qF "/g1/disk.qcow2 (qcow2," && line install | grep -qF "a qcow2 overlay backed"
check $? "--clone overlay makes the disk qcow2" || show
good "--customize guestfs" --hostname g1 --template debian-minimal --customize guestfs --dry-run
line identity | grep -qF "written into the clone by a libguestfs appliance (--customize guestfs)"
check $? "--customize guestfs: the identity written by a libguestfs appliance" || show
good "--no-golden" --hostname g1 --template debian-minimal --no-golden --dry-run
line install | grep -q "^install: mmdebstrap" && ! line install | grep -q golden
check $? "--no-golden: the guest's own install" || show
good "--template, xfs" --hostname g1 --template debian-minimal --fs xfs --dry-run
line install | grep -qF "; not a golden clone: clones are personalised through libext2fs: an ext4 root"
check $? "a template's xfs guest is not a clone, and the plan says why" || show
bad "--golden with xfs" "^vm-provision: error: --golden: clones are personalised through libext2fs: an ext4 root, not xfs or btrfs" \
    --hostname g1 --template debian-minimal --fs xfs --golden --dry-run
bad "--clone overlay with raw" "^vm-provision: error: --clone: an overlay is a qcow2 disk: not with --image-format raw" \
    --hostname g1 --template debian-minimal --clone overlay --image-format raw --dry-run
bad "--refresh without a clone" "^vm-provision: error: --refresh: rebuilds a golden image: this guest is not a clone" \
    --hostname g1 --refresh --dry-run
good "--golden without a template" --hostname g1 --golden --dry-run
line install | grep -q "^install: the golden image under"
check $? "--golden: any ext4 guest can be a clone" || show

# --- what wins ---------------------------------------------------------------

good "the command line over a template" --hostname m1 --template debian-minimal --memory 1G \
    --size 3G --swap 128M --role ssh --dry-run
line config | grep -qF "memory 1G, maxmem 1G" && line storage | grep -qF "(qcow2, 3G," &&
    line storage | grep -qF "swap $VMKIT_LIBDIR/domains/m1/swap.img (raw, 128M)" &&
    line hooks | grep -qF "roles/ssh (1 hook)" && ! line hooks | grep -qF roles/minimal
check $? "--memory, --size, --swap and --role override the template's" || show
good "the command line before --template" --hostname m1 --memory 1G --template debian-minimal --dry-run
line config | grep -qF "memory 1G"
check $? "wherever --template is on the command line, it is under the other options" || show

cfg=$cap/guest.conf
printf 'memory = 768M\nvcpus = 3\nswap = 64M\n' > "$cfg"
good "--config over a template" --hostname m1 --template debian-minimal --config "$cfg" --dry-run
line config | grep -qF "memory 768M, maxmem 768M, 3 vcpus" &&
    line storage | grep -qF "(qcow2, 2G, ext4 labelled root); swap $VMKIT_LIBDIR/domains/m1/swap.img (raw, 64M)"
check $? "--config overrides the template (memory, vcpus, swap), the rest stays (size)" || show
line validate | grep -qF "template debian-minimal ($dm), $cfg, then the command line"
check $? "validate: the template before the --config files" || show
good "command line over --config over template" --hostname m1 --template debian-minimal \
    --config "$cfg" --vcpus 2 --dry-run
line config | grep -qF "memory 768M, maxmem 768M, 2 vcpus"
check $? "the command line overrides --config, which overrides the template" || show

printf 'bridge = xenbr0\nmemory = 2G\nsize = 8G\n' > "$conf"
good "provision.conf under a template" --hostname m1 --template debian-minimal --dry-run
line config | grep -qF "memory 256M, maxmem 256M, 1 vcpu, mac " && line config | grep -qF "bridge xenbr0" &&
    line storage | grep -qF "(qcow2, 2G,"
check $? "the template overrides provision.conf (memory, size); the rest stays (bridge)" || show

printf 'template = debian-minimal\nbridge = xenbr0\n' > "$conf"
good "a site's default template" --hostname m1 --dry-run
line validate | grep -qF "template debian-minimal ($dm)" && line storage | grep -qF "(qcow2, 2G,"
check $? "template = NAME in provision.conf picks the default template" || show
good "--template over provision.conf's" --hostname w1 --template debian-web --dry-run
line validate | grep -qF "template debian-web ($dw)" && line storage | grep -qF "(qcow2, 4G,"
check $? "--template NAME replaces provision.conf's" || show
printf 'template =\n' > "$cfg"
good "template = (empty) in --config" --hostname m1 --config "$cfg" --dry-run
! line validate | grep -qF "template " && line storage | grep -qF "(raw, 4G,"
check $? "an empty template in a --config file means none" || show
printf 'template = debian-web\n' > "$cfg"
good "template in --config" --hostname w1 --config "$cfg" --dry-run
line validate | grep -qF "template debian-web ($dw), $cfg" && line storage | grep -qF "(qcow2, 4G,"
check $? "a --config file's template wins over provision.conf's, and still goes under it" || show
rm -f "$conf"

# --- the administrator's templates ---------------------------------------------

mkdir -p "$site"
printf '# description: our small Debian\nsize = 3G\nmemory = 384M\n' > "$site/debian-minimal.conf"
printf '# build machines\n\nvcpus = 2\nrole = sudo\npackages = build-essential,git\n' > "$site/builder.conf"
good "a site template shadows the shipped one" --hostname m1 --template debian-minimal --dry-run
line validate | grep -qF "template debian-minimal ($site/debian-minimal.conf)" &&
    line storage | grep -qF "(qcow2, 3G," && line config | grep -qF "memory 384M" &&
    line storage | grep -qF "swap $VMKIT_LIBDIR/domains/m1/swap.img (raw, 512M)"
check $? "\$VMKIT_CONFDIR/templates/NAME.conf is read instead of the shipped one (no noswap)" || show
good "a site template of its own" --hostname b1 --template builder --dry-run
line install | grep -qE "; packages .* build-essential git .*; cache " &&
    line hooks | grep -qF "roles/sudo (0 hooks)" && line config | grep -qF "2 vcpus"
check $? "builder: --packages' list and role sudo join the install" || show

# --- --template-list -----------------------------------------------------------

run --template-list
[ $rc -eq 0 ] && ! [ -s "$cap/err" ]; check $? "--template-list exits 0 without messages" || show
head -n 1 "$cap/out" | grep -qE '^NAME +FILE +DESCRIPTION$'
check $? "--template-list: a heading NAME FILE DESCRIPTION" || show
[ "$(sed 1d "$cap/out" | awk '{ print $1 }' | tr '\n' ' ')" = "builder centos7-minimal debian-minimal debian-web " ]
check $? "--template-list: one line per template, sorted, site and shipped" || show
grep -qE "^builder +$(re "$site/builder.conf") +build machines$" "$cap/out" &&
    grep -qE "^debian-minimal +$(re "$site/debian-minimal.conf") \(over the shipped one\) +our small Debian$" "$cap/out" &&
    grep -qE "^debian-web +$(re "$dw") +Debian 12 \(bookworm\) web server: " "$cap/out" &&
    grep -qE "^centos7-minimal +$(re "$shipped/centos7-minimal.conf") +CentOS 7 " "$cap/out"
check $? "--template-list: where each was found (the site's over the shipped), its description" || show
bad "--template-list with another option" '^vm-provision: --template-list takes no other option' \
    --template-list --hostname x
bad "--template-list with --list" '^vm-provision: --template-list takes no other option' \
    --template-list --list

# --- --template-show -------------------------------------------------------------

printf 'bridge = xenbr0\n' > "$conf"
printf 'vcpus = 3\n' > "$cfg"
run --template-show debian-web --config "$cfg" --memory 1G
[ $rc -eq 0 ] && ! [ -s "$cap/err" ]; check $? "--template-show exits 0 without messages" || show
head -n 2 "$cap/out" | tr '\n' '|' | grep -qF "template debian-web: $dw|  Debian 12 (bookworm) web server:"
check $? "--template-show: the template's file and description first" || show
# row OPTION VALUE FROM: the table has that row
row() { grep -qE "^$(re "$1") +$(re "$2") +$(re "$3")\$" "$cap/out"; }
row size 4G "template $dw:$(lineno "$dw" '^size')" &&
    row packages nginx-light "template $dw:$(lineno "$dw" '^packages')" &&
    row role ssh,web "template $dw:$(lineno "$dw" '^role')" &&
    row dist bookworm "template $dw:$(lineno "$dw" '^dist')"
check $? "--template-show: the template's settings, with file and line" || show
row memory 1G --memory && row vcpus 3 "--config $cfg:1" && row bridge xenbr0 "$conf:1"
check $? "--template-show: the command line's, --config's and provision.conf's, said so" || show
row fs ext4 default && row image-format raw default && row cache yes default
check $? "--template-show: the defaults of the rest" || show
! sed -n '/^OPTION /,$p' "$cap/out" | grep -qE '^(hostname|template|force|dry-run) '
check $? "--template-show: no hostname (not given), template or command-line-only rows" || show
run --template-show debian-minimal --password 'hunter2 secret'
[ $rc -eq 0 ] && row password "(given, not shown)" --password && ! grep -q hunter2 "$cap/out"
check $? "--template-show: a password is not shown" || show
bad "--template-show of an unknown template" \
    "^vm-provision: error: --template-show: unknown template \`nope': no nope\.conf in .* \(known: builder centos7-minimal debian-minimal debian-web\)" \
    --template-show nope
bad "--template-show with --template" '^vm-provision: error: --template-show NAME shows template NAME: --template goes without it' \
    --template-show debian-web --template debian-minimal
bad "--template-show with --delete" '^vm-provision: --template-show NAME takes settings options only' \
    --template-show debian-web --delete x
rm -f "$conf" "$cfg"

# --- bad templates ------------------------------------------------------------------

bad "an unknown template" \
    "^vm-provision: error: --template: unknown template \`nope': no nope\.conf in $(re "$site") or $(re "$shipped") \(known: builder centos7-minimal debian-minimal debian-web\)" \
    --hostname x --template nope --dry-run
printf '# site\ntemplate = nope\n' > "$conf"
bad "an unknown template in provision.conf" \
    "^$(re "$conf"):2:12: error: template: unknown template \`nope'" --hostname x --dry-run
rm -f "$conf"
bad "a template name that is not one" "^vm-provision: error: --template: \`Web_1': " \
    --hostname x --template Web_1 --dry-run
printf '# broken\nsize = 3G\n  colour = red\n' > "$site/broken.conf"
bad "an unknown key in a template" \
    "^$(re "$site/broken.conf"):3:3: error: unknown setting \`colour'" --hostname x --template broken --dry-run
printf 'size = 3G\nmemory = "12X"\n' > "$site/broken.conf"
bad "a bad value in a template" \
    "^$(re "$site/broken.conf"):2:10: error: memory: \`12X' is not a size" --hostname x --template broken --dry-run
printf 'size = 3G\nmemory\n' > "$site/broken.conf"
bad "a syntax error in a template" "^$(re "$site/broken.conf"):2:7: error: expected \`key = value'" \
    --hostname x --template broken --dry-run
for key in hostname ip mac template; do
    case $key in
    hostname) value=web1 ;; ip) value=192.0.2.10/24 ;; mac) value=00:16:3e:00:00:01 ;; template) value=debian-web ;;
    esac
    printf 'size = 3G\n%s = %s\n' "$key" "$value" > "$site/broken.conf"
    bad "a template setting $key" "^$(re "$site/broken.conf"):2:1: error: \`$key'" \
        --hostname x --template broken --dry-run
done
printf 'hostname = web1\n' > "$site/broken.conf"
run --hostname x --template broken --dry-run
grep -qF "$site/broken.conf:1:1: error: \`hostname' is not for a template: it belongs to one guest" "$cap/err"
check $? "the message says why: the key belongs to one guest" || show
rm -f "$site/broken.conf"

# --- --packages -------------------------------------------------------------------

good "--packages" --hostname p1 --packages 'curl, jq vim' --dry-run
line install | grep -qE "; packages .*e2fsprogs curl jq vim; cache "
check $? "--packages: commas or blanks between; they join the package set" || show
good "--packages over a template's" --hostname w1 --template debian-web --packages curl --dry-run
line install | grep -qE " curl; cache " && ! line install | grep -qF nginx-light
check $? "--packages replaces the template's list" || show
good "--packages, rpm" --hostname c1 --template centos7-minimal --packages httpd,mod_ssl --dry-run
line install | grep -qF " httpd mod_ssl and what they need"
check $? "--packages with the rpm method: rpm's names" || show
echo fake > "$cap/root.tar"
bad "--packages with a tar install" \
    '^vm-provision: error: --packages: needs a package install method \(mmdebstrap, debootstrap or rpm\); --install-method tar installs none' \
    --hostname t1 --install-method tar --install-source "$cap/root.tar" --packages curl --dry-run
bad "a template's packages with a copy install" \
    "^$(re "$dw"):$(lineno "$dw" '^packages'):12: error: packages: needs a package install method" \
    --hostname t1 --template debian-web --install-method copy --install-source "$cap" --dry-run
bad "a Debian package name in upper case" "^vm-provision: error: --packages: \`Curl' is not a Debian package name" \
    --hostname p1 --packages Curl --dry-run
bad "a package like an option" "^vm-provision: error: --packages: \`-f' is not a package name" \
    --hostname p1 --packages=-f --dry-run

# --- nothing was made ---------------------------------------------------------------

[ -z "$(find "$VMKIT_LIBDIR" "$VMKIT_CACHEDIR" "$VMKIT_RUNDIR" -mindepth 1 -print -quit)" ] &&
    [ -z "$(find "$VMKIT_CONFDIR" -mindepth 1 ! -path "$site" ! -path "$site/*" -print -quit)" ]
check $? "dry runs made nothing in the vmkit tree" || find "$tree" | diag

done_testing
