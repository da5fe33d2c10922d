#!/usr/bin/env bash
# timeout: 60
# Error messages, as vmd's regress does: each tests/config/errors/NAME.cfg
# gives exactly NAME.err on stderr and exit status 1 (warnings: NAME.err
# with exit 0 when the first line of NAME.cfg is "# accepted").
. tests/lib/tap.sh
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for f in tests/config/errors/*.cfg; do
    exp=${f%.cfg}.err
    want=1; head -n 1 "$f" | grep -q '^# accepted' && want=0
    bin/vmctl config-dump "$f" > /dev/null 2> "$tmp/err"; rc=$?
    if [ "$rc" -eq "$want" ] && diff -u "$exp" "$tmp/err" > "$tmp/diff"; then
        ok 0 "$(basename "$f"): exit $rc, messages as expected"
    else
        ok 1 "$(basename "$f"): exit $rc (want $want), messages as expected"
        diag < "$tmp/diff"
    fi
done
done_testing
