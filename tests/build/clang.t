#!/usr/bin/env bash
# timeout: 300
# The tree builds warning-free with clang as well as gcc (the main build):
# every C file compiled with clang and the project's -Werror flags.
. tests/lib/tap.sh
command -v clang > /dev/null; ok $? "clang is installed"
flags=$(make -s -f Makefile print-cflags 2>/dev/null)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
checked=0
for f in $(find toolstack provision hypervisor tests -name '*.c' | sort); do
    case $f in
    tests/xlu/*) continue ;;    # built against Xen's headers, not ours
    tests/fuzz/*) continue ;;   # built by clang already, with libFuzzer
    esac
    checked=$((checked + 1))
    if clang $flags -Itests/lib -fsyntax-only "$f" > "$tmp/out" 2>&1; then
        ok 0 "clang: $f"
    else
        ok 1 "clang: $f"; diag < "$tmp/out"
    fi
done
[ "$checked" -ge 10 ]; ok $? "checked $checked C files (at least 10)"
done_testing
