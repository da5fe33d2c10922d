#!/usr/bin/env bash
# timeout: 120
#
# differential.t - vmkit's xl.cfg parser against Xen's own (libxlutil).
#
# For every file in tests/config/corpus, runs build/tests/xlu-dump (which
# links libxlutil) and `bin/vmctl config-dump --json`, and checks that both
# accept or both reject the file; when both accept, that every setting
# value (jq -S .settings) and every disk field xlu-dump reports agree.
#
# Corpus names carry intent: bad-*.cfg must be rejected by xl, diff-*.cfg
# are the deliberate differences, every other file must be accepted by xl.
#
# tests/config/differences lists the files where vmkit differs on purpose
# ("FILE KIND reason"); for those the test asserts exactly that split, and
# fails when the file no longer differs, so the list stays true.
#
# Runs from the top of the tree.  VMCTL overrides bin/vmctl (for checking
# this script against a stand-in); nothing is ever skipped.

cd "$(dirname "$0")/../.." || exit 1

corpus=tests/config/corpus
differences=tests/config/differences
xlu=build/tests/xlu-dump
vmctl=${VMCTL:-bin/vmctl}
min_files=40

# The disk fields xlu-dump reports; vmkit may print more, which are ignored.
disk_fields='target, vdev, format, access, devtype, backendtype, backend, script, specification, discard, direct_io_safe, trusted, colo, colo_host, colo_port, colo_export, active_disk, hidden_disk'

n=0
ok()     { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; }
# Prints stdin as TAP comment lines.
comment() { sed 's/^/# /'; }
finish() { echo "1..$n"; exit 0; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/differential.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# --- prerequisites: each missing one is a failure, never a silent skip ---

missing=0
if ! command -v jq >/dev/null 2>&1; then
    not_ok "jq not found: install the Debian package jq"
    missing=1
fi
if [ ! -x "$xlu" ]; then
    not_ok "$xlu missing: build it with 'make $xlu' (needs libxen-dev)"
    missing=1
fi
if [ ! -x "$vmctl" ]; then
    not_ok "$vmctl missing: build it with 'make'"
    missing=1
fi

shopt -s nullglob
files=("$corpus"/*.cfg)
shopt -u nullglob
if [ "${#files[@]}" -lt "$min_files" ]; then
    not_ok "corpus has ${#files[@]} files in $corpus, fewer than $min_files"
else
    ok "corpus has ${#files[@]} files"
fi

# --- the differences list ---

declare -A kind_of reason_of
if [ ! -f "$differences" ]; then
    not_ok "$differences missing"
else
    lineno=0
    bad=0
    while IFS= read -r line || [ -n "$line" ]; do
        lineno=$((lineno + 1))
        line=${line%%#*}
        read -r file kind reason <<<"$line"
        [ -n "$file" ] || continue
        where="$differences:$lineno"
        case $kind in
        vmkit-accepts|vmkit-rejects) ;;
        *)  not_ok "$where: kind '$kind' is neither vmkit-accepts nor vmkit-rejects"
            bad=1; continue ;;
        esac
        if [ -z "$reason" ]; then
            not_ok "$where: $file has no reason"
            bad=1
        fi
        if [ -n "${kind_of[$file]+set}" ]; then
            not_ok "$where: $file is listed twice"
            bad=1; continue
        fi
        if [ ! -f "$corpus/$file" ]; then
            not_ok "$where: $file is listed but $corpus/$file does not exist"
            bad=1
        fi
        kind_of[$file]=$kind
        reason_of[$file]=$reason
    done <"$differences"
    [ "$bad" = 0 ] && ok "$differences is well formed (${#kind_of[@]} entries)"
fi

[ "$missing" = 0 ] || finish

# --- one line per corpus file ---

# canon JSONFILE OUT: settings and projected disks, canonical, in OUT.settings
# and OUT.disks.  Fails when the JSON lacks either.
canon() {
    jq -S -e '.settings | objects' "$1" >"$2.settings" 2>"$2.jqerr" &&
        jq -S -e "[.disks[] | {$disk_fields}]" "$1" >"$2.disks" 2>>"$2.jqerr"
}

# compare FILE XLJSON VMJSON: prints the diff as comments; 0 when they agree.
compare() {
    local out=$tmp/compare rc=0
    if ! canon "$2" "$tmp/xl"; then
        echo "xlu-dump printed JSON without settings or disks:"; cat "$tmp/xl.jqerr"
        return 1
    fi
    if ! canon "$3" "$tmp/vm"; then
        echo "vmctl printed JSON without settings or disks:"; cat "$tmp/vm.jqerr"
        return 1
    fi
    diff -u --label "xlu-dump settings" --label "vmctl settings" \
        "$tmp/xl.settings" "$tmp/vm.settings" >"$out" || rc=1
    diff -u --label "xlu-dump disks" --label "vmctl disks" \
        "$tmp/xl.disks" "$tmp/vm.disks" >>"$out" || rc=1
    cat "$out"
    return $rc
}

# show_stderr: both tools' exit status and stderr as comment lines.
show_stderr() {
    { echo "xlu-dump exit $xl_rc, stderr:"; sed 's/^/    /' "$tmp/xl.err"
      echo "vmctl exit $vm_rc, stderr:"; sed 's/^/    /' "$tmp/vm.err"; } | comment
}

for path in "${files[@]}"; do
    f=${path##*/}
    "$xlu" "$path" >"$tmp/xl.json" 2>"$tmp/xl.err"; xl_rc=$?
    "$vmctl" config-dump --json "$path" >"$tmp/vm.json" 2>"$tmp/vm.err"; vm_rc=$?

    if [ "$xl_rc" -gt 1 ] || [ "$vm_rc" -gt 1 ]; then
        not_ok "$f: a tool failed (xlu-dump exit $xl_rc, vmctl exit $vm_rc)"
        show_stderr
        continue
    fi

    # The corpus's own naming: bad-* files are ones xl rejects, diff-*
    # may go either way, every other file is a config xl accepts.
    case $f in
    bad-*)  if [ "$xl_rc" = 0 ]; then
                not_ok "$f: named bad- but xl accepts it; the corpus file is wrong"
                continue
            fi ;;
    diff-*) ;;
    *)      if [ "$xl_rc" != 0 ]; then
                not_ok "$f: meant to be valid but xl rejects it; the corpus file is wrong"
                show_stderr
                continue
            fi ;;
    esac

    kind=${kind_of[$f]-}
    reason=${reason_of[$f]-}
    split="xl $( [ "$xl_rc" = 0 ] && echo accepts || echo rejects), vmkit $( [ "$vm_rc" = 0 ] && echo accepts || echo rejects)"

    case $kind in
    vmkit-accepts)
        if [ "$xl_rc" != 1 ] || [ "$vm_rc" != 0 ]; then
            not_ok "$f: listed as vmkit-accepts ($reason) but $split; fix the file or $differences"
            show_stderr
        elif ! grep -q 'warning' "$tmp/vm.err"; then
            not_ok "$f: xl rejects, vmkit accepts but printed no warning ($reason)"
            show_stderr
        else
            # Where xl accepts the file once its line ends are normalized
            # (CR LF to LF, a final newline), vmkit must read the same values.
            sed 's/\r$//' "$path" >"$tmp/normalized.cfg"
            [ -n "$(tail -c 1 "$tmp/normalized.cfg")" ] && echo >>"$tmp/normalized.cfg"
            if "$xlu" "$tmp/normalized.cfg" >"$tmp/xln.json" 2>/dev/null; then
                if compare "$f" "$tmp/xln.json" "$tmp/vm.json" >"$tmp/diff"; then
                    ok "$f: xl rejects, vmkit accepts with a warning, values as xl reads it with line ends fixed (deliberate: $reason)"
                else
                    not_ok "$f: vmkit accepts (deliberate: $reason) but its values differ from xl's reading with line ends fixed"
                    comment <"$tmp/diff"
                fi
            else
                ok "$f: xl rejects, vmkit accepts with a warning (deliberate: $reason)"
            fi
        fi
        ;;
    vmkit-rejects)
        if [ "$xl_rc" != 0 ] || [ "$vm_rc" != 1 ]; then
            not_ok "$f: listed as vmkit-rejects ($reason) but $split; fix the file or $differences"
            show_stderr
        elif ! grep -q 'error:' "$tmp/vm.err"; then
            not_ok "$f: xl accepts, vmkit rejects but printed no error: message ($reason)"
            show_stderr
        else
            ok "$f: xl accepts, vmkit rejects (deliberate: $reason)"
        fi
        ;;
    *)
        if [ "$xl_rc" = 0 ] && [ "$vm_rc" = 0 ]; then
            if compare "$f" "$tmp/xl.json" "$tmp/vm.json" >"$tmp/diff"; then
                ndisks=$(jq length "$tmp/xl.disks")
                ok "$f: both accept, settings and $ndisks disks agree"
            else
                not_ok "$f: both accept, but the values differ"
                comment <"$tmp/diff"
            fi
        elif [ "$xl_rc" = 1 ] && [ "$vm_rc" = 1 ]; then
            ok "$f: both reject"
        else
            not_ok "$f: $split (not listed in $differences)"
            show_stderr
        fi
        ;;
    esac
done

finish
