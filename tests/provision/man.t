#!/usr/bin/env bash
# timeout: 30
#
# man.t - vm-provision(8) and vmkit-provision.conf(5) against the
# program: every option that `vm-provision --help' lists (its option
# table) is documented in OPTIONS as `.It Fl -NAME', every option
# documented there is in the table; THE PLAN names exactly the steps a
# dry run prints, in order; ENVIRONMENT documents every VMKIT_* variable
# vm-provision reads, VMKIT_FAIL_AT among them; HOOKS every VMKIT_*
# variable a hook is given; FILES the guest records --list and --delete
# read; and vmkit-provision.conf(5) lists as keys exactly the options a
# settings file accepts.  Run from the top of the tree, after make.
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

# section NAME FILE: the lines of section NAME of FILE
section() {
    awk -v sh=".Sh $1" '/^\.Sh / { on = ($0 == sh); next } on' "$2"
}

# --- what the page says the program is ------------------------------------
section SYNOPSIS "$page" > "$tmp/synopsis"
for form in '^\.Fl -hostname Ar name' '^\.Fl -list$' '^\.Op Fl -json' '^\.Fl -delete Ar name'; do
    grep -q -- "$form" "$tmp/synopsis"
    check $? "SYNOPSIS shows /$form/"
done
! grep -qiE 'plans but does not install|not implemented|installing comes later' "$page"
check $? "the page no longer says vm-provision only plans"

# --- ENVIRONMENT: what vm-provision reads ----------------------------------
# The roots' variables (paths.c's table) and every getenv("VMKIT_...").
{ grep -ohE '\{ "VMKIT_[A-Z_]+",' toolstack/lib/paths.c | grep -oE 'VMKIT_[A-Z_]+'
  grep -ohE 'getenv\("VMKIT_[A-Z_]+"\)' provision/*.c toolstack/lib/paths.c |
      grep -oE 'VMKIT_[A-Z_]+'
} | sort -u > "$tmp/env-read"
[ "$(wc -l < "$tmp/env-read")" -ge 7 ]
check $? "the sources read VMKIT_* variables ($(tr '\n' ' ' < "$tmp/env-read"))"
grep -qxF VMKIT_FAIL_AT "$tmp/env-read"
check $? "vm-provision reads VMKIT_FAIL_AT"
section ENVIRONMENT "$page" | awk '/^\.It Ev / { print $3 }' | sort -u > "$tmp/env-doc"
while read -r var; do
    grep -qxF -- "$var" "$tmp/env-doc"
    check $? "ENVIRONMENT documents $var"
done < "$tmp/env-read"

# --- HOOKS: what a hook is given --------------------------------------------
grep -ohE 'env_add\(&envp, &n, "VMKIT_[A-Z_]+"' provision/pipeline.c |
    grep -oE 'VMKIT_[A-Z_]+' | sort -u > "$tmp/hook-env"
[ "$(wc -l < "$tmp/hook-env")" -ge 20 ]
check $? "pipeline.c gives hooks VMKIT_* variables ($(wc -l < "$tmp/hook-env"))"
section HOOKS "$page" | grep '^\.It Ev ' | grep -oE 'VMKIT_[A-Z_]+' | sort -u > "$tmp/hook-doc"
while read -r var; do
    grep -qxF -- "$var" "$tmp/hook-doc"
    check $? "HOOKS documents the hooks' $var"
done < "$tmp/hook-env"
while read -r var; do
    grep -qxF -- "$var" "$tmp/hook-env"
    check $? "HOOKS' $var is given to hooks"
done < "$tmp/hook-doc"

# --- FILES ---------------------------------------------------------------
section FILES "$page" | grep -qE '^\.It Pa .*/guests/ Ns Ar name Ns Pa \.json$'
check $? "FILES lists the guest records, guests/NAME.json"
section FILES "$page" | grep -qE '^\.It Pa .*/ Ns Ar name Ns Pa -provision\.log$'
check $? "FILES lists the log, NAME-provision.log"

# --- vmkit-provision.conf(5): the settings keys ------------------------------
# Which options a settings file takes, asked of the program: a file with
# every option as an empty (reset) value; the command-line-only ones are
# reported as such.
conf=man/vmkit-provision.conf.5
[ -f "$conf" ]; check $? "$conf exists"
sed 's/$/ =/' "$tmp/table" > "$tmp/all.conf"
VMKIT_CONFDIR=$tmp/etc VMKIT_LIBDIR=$tmp/lib VMKIT_RUNDIR=$tmp/run VMKIT_CACHEDIR=$tmp/cache \
    VMKIT_APT_ROOT=$tmp/apt bin/vm-provision --config "$tmp/all.conf" --hostname web1 \
    --dry-run > /dev/null 2> "$tmp/all.err"
sed -n "s/.*error: \`\([a-z0-9-]*\)' is a command-line option only.*/\1/p" "$tmp/all.err" |
    sort -u > "$tmp/cmdline-only"
if grep -v "command-line option only" "$tmp/all.err" | grep -q .; then
    check 1 "a settings file of every option gives no other message" || diag < "$tmp/all.err"
else
    check 0 "a settings file of every option gives no other message"
fi
grep -qxF force "$tmp/cmdline-only"
check $? "--force is a command-line option only ($(tr '\n' ' ' < "$tmp/cmdline-only"))"
comm -23 "$tmp/table" "$tmp/cmdline-only" > "$tmp/keys"
# the items of KEYS' top-level list: `.It Cm KEY' or `.It Cm KEY , KEY'
awk '/^\.Sh / { on = ($0 == ".Sh KEYS"); depth = 0; next }
     !on { next }
     /^\.Bl/ { depth++; next }
     /^\.El/ { depth--; next }
     depth == 1 && /^\.It Cm / { for (i = 3; i <= NF; i++) if ($i != ",") print $i }' \
    "$conf" | sort > "$tmp/conf-keys"
diff "$tmp/keys" "$tmp/conf-keys" > "$tmp/diff"
check $? "$conf lists in KEYS exactly the keys a settings file takes" || diag < "$tmp/diff"
section KEYS "$conf" | grep -oE 'Fl -[a-z][a-z0-9-]*' | sed 's/^Fl -//' | sort -u > "$tmp/conf-cl"
while read -r opt; do
    grep -qxF -- "$opt" "$tmp/conf-cl"
    check $? "$conf says --$opt is for the command line only"
done < "$tmp/cmdline-only"

done_testing
