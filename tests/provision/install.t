#!/usr/bin/env bash
# timeout: 120
#
# install.t - an installed vm-provision finds its data: `make install' into
# a temporary DESTDIR with PREFIX=/opt/vmkit-test, then the installed
# binary, run from DESTDIR (not from PREFIX, where nothing is), finds
# DESTDIR/opt/vmkit-test/share/vmkit through /proc/self/exe and plans a
# guest from the installed templates.  The host's release and apt sources
# come from a fixture (VMKIT_APT_ROOT), so the test does not depend on the
# host.  Run from the top of the tree, after make.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh
# check STATUS DESCRIPTION: ok, and STATUS again (for `|| diagnostics')
check() { ok "$1" "$2"; return "$1"; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

prefix=/opt/vmkit-test
dest=$tmp/destdir
top=$dest$prefix

# a make started by `make check' must not share its jobserver
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory install \
    PREFIX=$prefix DESTDIR="$dest" > "$tmp/make.log" 2>&1
check $? "make install PREFIX=$prefix DESTDIR=..." || diag < "$tmp/make.log"
[ -x "$top/bin/vm-provision" ] && [ -x "$top/bin/vmctl" ]
check $? "the programs are installed in PREFIX/bin"
ls "$top/share/vmkit/templates/dist/"*.conf > /dev/null 2>&1
check $? "the distribution definitions are installed in PREFIX/share/vmkit/templates/dist"
[ -f "$top/share/man/man8/vm-provision.8" ]; check $? "vm-provision.8 is installed"
! [ -e "$prefix" ] || [ -e "$prefix/share/vmkit/templates/dist/bookworm.conf" ]
check $? "(nothing in $prefix itself to be found by mistake)"

mkdir -p "$tmp/etc" "$tmp/apt/etc/apt/sources.list.d"
printf 'ID=debian\nVERSION_CODENAME=bookworm\n' > "$tmp/apt/etc/os-release"
printf 'Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\nComponents: main\n' \
    > "$tmp/apt/etc/apt/sources.list.d/debian.sources"
run() {
    (cd "$tmp" && env -u VMKIT_DATADIR VMKIT_CONFDIR="$tmp/etc" VMKIT_LIBDIR="$tmp/lib" \
        VMKIT_RUNDIR="$tmp/run" VMKIT_CACHEDIR="$tmp/cache" VMKIT_APT_ROOT="$tmp/apt" \
        "$@") > "$tmp/out" 2> "$tmp/err"
}
run "$top/bin/vm-provision" --hostname x --dry-run
check $? "the installed vm-provision plans a guest" || diag < "$tmp/err"
grep -qF "$top/share/vmkit/hooks/common" "$tmp/out"
check $? "with the installed data directory, found from the program's location" ||
    grep '^hooks:' "$tmp/out" | diag
grep -qF "bookworm amd64 from http://mirror.example/debian (from $tmp/apt/etc/apt/sources.list.d/debian.sources:2)" "$tmp/out"
check $? "and the fixture's release and mirror" || diag < "$tmp/out"
sed '1,/^$/d' "$tmp/out" > "$tmp/x.cfg"
run "$top/bin/vmctl" config-dump "$tmp/x.cfg"
check $? "the installed vmctl reads the config it prints" || diag < "$tmp/err"

# the same binary elsewhere, with no data next to it: the compiled-in
# directory (the DATADIR the objects were built with; make install does
# not rebuild them), which holds no templates here
mkdir -p "$tmp/elsewhere/bin"
cp "$top/bin/vm-provision" "$tmp/elsewhere/bin/"
compiled=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory print-cflags |
    sed -n 's/.*-DVMKIT_DATADIR="\([^"]*\)".*/\1/p')
run env VMKIT_DATADIR= "$tmp/elsewhere/bin/vm-provision" --hostname x --dry-run
rc=$?
if [ -d "$compiled/templates/dist" ]; then
    # an installed vmkit there: it is used
    [ $rc -eq 0 ] && grep -qF "$compiled/hooks/common" "$tmp/out"
    check $? "without data beside it, the compiled-in directory ($compiled)" ||
        { echo "exit $rc"; cat "$tmp/err"; } | diag
else
    [ $rc -eq 1 ] && [ "$(wc -l < "$tmp/err")" -eq 1 ] &&
        grep -qxF "vm-provision: error: no distribution definitions: $compiled/templates/dist is not a directory (set VMKIT_DATADIR to vmkit's data directory)" "$tmp/err"
    check $? "without data beside it, the compiled-in directory ($compiled): a clear failure" ||
        { echo "exit $rc"; cat "$tmp/err"; } | diag
fi
run env VMKIT_DATADIR="$top/share/vmkit" "$tmp/elsewhere/bin/vm-provision" --hostname x --dry-run
check $? "VMKIT_DATADIR points it at the data" || diag < "$tmp/err"

done_testing
