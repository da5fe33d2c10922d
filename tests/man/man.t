#!/usr/bin/env bash
# timeout: 60
# The man pages: every page is mandoc -Tlint clean at warning level
# (style-level notes, such as a referenced page not installed on this
# host, do not count), every program has a page, and vmctl(1) documents
# exactly the commands in vmctl's command table, with their long options.
# Run from the top of the tree, after make.
. tests/lib/tap.sh
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

command -v mandoc > /dev/null; ok $? "mandoc is installed"

# --- lint -------------------------------------------------------------
pages=$(ls man/*.[158] 2>/dev/null | sort)
[ -n "$pages" ]; ok $? "man/ holds man pages"
for page in $pages; do
    # mandoc's exit status is non-zero for any message at -W level or
    # above; a message about the host's man database names no page, so
    # only messages that name the page are shown.
    mandoc -Tlint -W warning "$page" > "$tmp/lint" 2>&1
    rc=$?
    grep -F "$page:" "$tmp/lint" > "$tmp/msgs"
    if [ $rc -eq 0 ] && ! [ -s "$tmp/msgs" ]; then
        ok 0 "mandoc -Tlint -W warning $page"
    else
        ok 1 "mandoc -Tlint -W warning $page (exit $rc)"
        diag < "$tmp/lint"
    fi
done

# Pages for commands (sections 1 and 8) say how they exit.
for page in $(ls man/*.[18] 2>/dev/null | sort); do
    grep -q '^\.Sh EXIT STATUS' "$page"; ok $? "$page has an EXIT STATUS section"
done

# --- a page per program -------------------------------------------------
progs=$(ls bin 2>/dev/null | sort)
[ -x bin/vmctl ]; ok $? "bin/vmctl is built (run make first)"
for prog in $progs; do
    [ -x "bin/$prog" ] || continue
    if [ -f "man/$prog.1" ] || [ -f "man/$prog.8" ]; then
        ok 0 "bin/$prog has a man page"
    else
        ok 1 "bin/$prog has a man page (no man/$prog.1 or man/$prog.8)"
    fi
done

# --- vmctl's command table against vmctl(1) -----------------------------
# The table, as `vmctl help' prints it: the "commands:" block, one
# command a line, indented, up to the next blank line.
bin/vmctl help > "$tmp/help" 2>&1
ok $? "vmctl help exits 0"
awk '/^commands:/ { on = 1; next }
     on && /^[[:space:]]*$/ { exit }
     on { print $1 }' "$tmp/help" | sort > "$tmp/table"
[ -s "$tmp/table" ]; ok $? "vmctl help lists commands"

# The page: the items `.It Cm NAME ...' of the top-level list of the
# COMMANDS section (nested lists, for options, are skipped).
awk '/^\.Sh / { on = ($0 == ".Sh COMMANDS"); depth = 0; next }
     !on { next }
     /^\.Bl/ { depth++; next }
     /^\.El/ { depth--; next }
     depth == 1 && /^\.It Cm / { print $3 }' man/vmctl.1 | sort > "$tmp/page"
[ -s "$tmp/page" ]; ok $? "vmctl.1 documents commands in COMMANDS as .It Cm NAME"

while read -r cmd; do
    grep -qxF -- "$cmd" "$tmp/page"
    ok $? "vmctl command '$cmd' is documented in vmctl.1"
done < "$tmp/table"
while read -r cmd; do
    grep -qxF -- "$cmd" "$tmp/table"
    ok $? "vmctl.1 command '$cmd' is in vmctl's command table"
done < "$tmp/page"

# Every long option in a command's usage line is documented in that
# command's entry of COMMANDS, as `Fl -OPTION'.
entry() {   # entry CMD: the lines of CMD's top-level item in COMMANDS
    awk -v cmd="$1" '
        /^\.Sh / { on = ($0 == ".Sh COMMANDS"); depth = 0; next }
        !on { next }
        /^\.Bl/ { depth++ }
        depth == 1 && /^\.It / { in_cmd = ($2 == "Cm" && $3 == cmd) }
        in_cmd { print }
        /^\.El/ { depth--; if (depth == 0) in_cmd = 0 }' man/vmctl.1
}
while read -r cmd; do
    bin/vmctl help "$cmd" > "$tmp/usage" 2>&1
    ok $? "vmctl help $cmd exits 0"
    entry "$cmd" > "$tmp/entry"
    for opt in $(grep '^usage:' "$tmp/usage" | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
        grep -qE -- "Fl -${opt#--}([^a-z0-9-]|\$)" "$tmp/entry"
        ok $? "vmctl $cmd option $opt is documented in its vmctl.1 entry"
    done
done < "$tmp/table"

done_testing
