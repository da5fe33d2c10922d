#!/usr/bin/env bash
# timeout: 120
# The config writer: every corpus config vmkit accepts is written back
# (vmctl config-dump) as a config that reads to the same description.
. tests/lib/tap.sh
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
count=0
for f in tests/config/corpus/*.cfg; do
    bin/vmctl config-dump --json "$f" > "$tmp/a.json" 2>/dev/null || continue
    count=$((count + 1))
    name=$(basename "$f")
    if ! bin/vmctl config-dump "$f" > "$tmp/w.cfg" 2> "$tmp/err"; then
        ok 1 "$name: written back"; diag < "$tmp/err"; continue
    fi
    bin/vmctl config-dump --json "$tmp/w.cfg" > "$tmp/b.json" 2> "$tmp/err"
    jq -S .domain "$tmp/a.json" > "$tmp/a"; jq -S .domain "$tmp/b.json" > "$tmp/b"
    if cmp -s "$tmp/a" "$tmp/b"; then
        ok 0 "$name: written back, reads to the same description"
    else
        ok 1 "$name: written back, reads to the same description"
        { cat "$tmp/w.cfg"; diff "$tmp/a" "$tmp/b"; } | diag
    fi
done
[ "$count" -ge 20 ]; ok $? "at least 20 accepted corpus configs were tried ($count)"
done_testing
