#!/usr/bin/env bash
# timeout: 30
#
# man.t - vm-provision(8) against the program: every option that
# `vm-provision --help' lists (its option table) is documented in OPTIONS
# as `.It Fl -NAME', every option documented there is in the table, and
# THE PLAN names exactly the steps a dry run prints, in order.  Run from
# the top of the tree, after make.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh
# check STATUS DESCRIPTION: ok, and STATUS again (for `|| diagnostics')
check() { ok "$1" "$2"; return "$1"; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/provman.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
page=man/vm-provision.8

[ -f "$page" ]; check $? "$page exists"
bin/vm-provision --help > "$tmp/help"; check $? "vm-provision --help exits 0"
grep -oE '^  --[a-z][a-z0-9-]*' "$tmp/help" | sed 's/^  --//' | sort > "$tmp/table"
[ "$(wc -l < "$tmp/table")" -ge 30 ]; check $? "--help lists the options ($(wc -l < "$tmp/table"))"

# the items of OPTIONS' top-level list
awk '/^\.Sh / { on = ($0 == ".Sh OPTIONS"); depth = 0; next }
     !on { next }
     /^\.Bl/ { depth++; next }
     /^\.El/ { depth--; next }
     depth == 1 && /^\.It Fl -/ { sub(/^-/, "", $3); print $3 }' "$page" | sort > "$tmp/page"
while read -r opt; do
    grep -qxF -- "$opt" "$tmp/page"
    check $? "--$opt is documented in OPTIONS"
done < "$tmp/table"
while read -r opt; do
    grep -qxF -- "$opt" "$tmp/table"
    check $? "OPTIONS' --$opt is in vm-provision's option table"
done < "$tmp/page"

# the steps
mkdir -p "$tmp/etc" "$tmp/apt/etc/apt"
printf 'ID=debian\nVERSION_CODENAME=bookworm\n' > "$tmp/apt/etc/os-release"
printf 'deb http://mirror.example/debian bookworm main\n' > "$tmp/apt/etc/apt/sources.list"
VMKIT_CONFDIR=$tmp/etc VMKIT_LIBDIR=$tmp/lib VMKIT_RUNDIR=$tmp/run VMKIT_CACHEDIR=$tmp/cache \
    VMKIT_APT_ROOT=$tmp/apt bin/vm-provision --hostname web1 --dry-run > "$tmp/plan"
check $? "a dry run for the steps"
sed -n '1,/^$/p' "$tmp/plan" | sed '/^$/d' | cut -d: -f1 > "$tmp/steps"
awk '/^\.Sh / { on = ($0 == ".Sh THE PLAN"); next }
     on && /^\.It Cm / { print $3 }' "$page" > "$tmp/documented"
diff "$tmp/steps" "$tmp/documented" > "$tmp/diff"
check $? "THE PLAN documents the steps the dry run prints, in order" || diag < "$tmp/diff"

grep -q '^\.Sy This version plans but does not install\.' "$page"
check $? "the page says plainly that this version does not install"

done_testing
