# tap-inner.sh - sourced by the suites that run inside the vmkit test
# host (lvm-inner.sh, lvm-provision.sh): the environment they run in and
# their TAP helpers.  Sets t, a temporary directory under /var/tmp named
# after SUITE (the caller's $suite), and log, the last command's output.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C.UTF-8
tarball=/usr/local/share/vmkit-tests/rootfs.tar.zst

n=0
failed=0
ok() {  # ok STATUS DESCRIPTION
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $n - $2"
    else
        echo "not ok $n - $2"
        failed=$((failed + 1))
    fi
    return "$1"
}
diag() { sed 's/^/# /'; }
t=$(mktemp -d "/var/tmp/$suite.XXXXXX") || exit 1
log=$t/cmd.log
# run CMD...: run it with its output to the log (overwritten each time)
run() { "$@" > "$log" 2>&1; }
# check STATUS DESCRIPTION: ok, and the last command's log as diagnostics
# on failure
check() { ok "$1" "$2" || diag < "$log"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
