#!/usr/bin/env bash
# timeout: 120
# The golden argv files are real: for every tests/dm/NAME.argv, the
# installed QEMU (7.2 on Debian 12) starts with that command line, paused
# by its -S, and both QMP monitors answer (status "prelaunch"); then it
# quits cleanly with nothing on stderr.  What has to change to run it here:
# the run and log directories and every disk point into a temporary
# directory (images of the named format made with qemu-img; /dev/ targets
# become files), taps become user networking, kvm becomes tcg, and the
# kernel is $VMKIT_TEST_KERNEL, else the newest /boot/vmlinuz-*, else a
# minimal bzImage header that QEMU's loader accepts (with -S the kernel
# never runs).  The QMP client is perl's core IO::Socket::UNIX.
. tests/lib/tap.sh

qemu=$(command -v qemu-system-x86_64)
ok $? "qemu-system-x86_64 is installed (Debian: qemu-system-x86)"
command -v qemu-img > /dev/null
ok $? "qemu-img is installed (Debian: qemu-utils)"
[ -n "$qemu" ] && command -v qemu-img > /dev/null || { done_testing; exit 1; }

tmp=$(mktemp -d)
qpid=
cleanup() {
    [ -n "$qpid" ] && kill "$qpid" 2> /dev/null && wait "$qpid" 2> /dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# A bzImage header as the boot protocol (2.06) defines it: setup_sects 1,
# "HdrS", loadflags LOADED_HIGH, initrd_addr_max, cmdline_size; then 4 KiB.
make_bzimage() {
    head -c 5120 /dev/zero > "$1"
    poke() { printf "$2" | dd of="$1" bs=1 seek=$(($3)) conv=notrunc status=none; }
    poke "$1" '\001' 0x1f1
    poke "$1" '\125\252' 0x1fe
    poke "$1" 'HdrS\006\002' 0x202
    poke "$1" '\001' 0x211
    poke "$1" '\377\377\377\067' 0x22c
    poke "$1" '\377\007\000\000' 0x238
}

kernel=${VMKIT_TEST_KERNEL:-$(ls /boot/vmlinuz-* 2> /dev/null | sort -V | tail -n 1)}
if [ -n "$kernel" ] && [ -r "$kernel" ]; then
    echo "# kernel: $kernel"
else
    kernel=$tmp/vmlinuz
    make_bzimage "$kernel"
    echo "# kernel: none in /boot (Debian: linux-image-amd64); a bzImage header stands in"
fi
head -c 65536 /dev/zero > "$tmp/initrd.img"

# The QMP exchange: greeting, qmp_capabilities, query-status; quit when
# asked.  Prints the status reply.
qmp() {
    perl -MIO::Socket::UNIX -e '
        my ($path, $quit) = @ARGV;
        my $s = IO::Socket::UNIX->new(Peer => $path) or die "connect $path: $!\n";
        $s->autoflush(1);
        sub line { my $l = <$s>; defined $l or die "QMP closed the connection\n"; $l }
        sub cmd {
            print $s "{\"execute\":\"$_[0]\"}\n";
            while (1) { my $l = line(); return $l unless $l =~ /"event"/ }
        }
        line() =~ /"QMP"/ or die "no QMP greeting\n";
        cmd("qmp_capabilities") =~ /"return"/ or die "qmp_capabilities refused\n";
        my $r = cmd("query-status");
        $r =~ /"status": *"prelaunch"/ or die "query-status: $r";
        print $r;
        if ($quit) { cmd("quit") =~ /"return"/ or die "quit refused\n" }
    ' "$1" "$2"
}

for golden in tests/dm/*.argv; do
    name=$(basename "$golden" .argv)
    run=$tmp/$name/run
    log=$tmp/$name/log
    img=$tmp/$name/img
    mkdir -p "$run" "$log" "$img"
    args=()
    prev=
    made=0
    while IFS= read -r a; do
        [ "$a" = "--" ] && break
        a=${a//\/run\/vmkit\/domains\/7/$run}
        a=${a//\/var\/log\/vmkit/$log}
        case $prev in
        -kernel) a=$kernel ;;
        -initrd) a=$tmp/initrd.img ;;
        -accel) [ "$a" = kvm ] && a=tcg ;;
        -cpu) [ "$a" = host ] && a=max ;;
        -netdev)
            case $a in
            tap,*) id=${a#*id=}; a=user,id=${id%%,*} ;;
            esac ;;
        -blockdev)
            fmt=${a#driver=}; fmt=${fmt%%,*}
            node=${a#*node-name=}; node=${node%%,*}
            file=$img/$node.$fmt
            a="${a%%file.driver=*}file.driver=file,file.filename=$file"
            qemu-img create -q -f "$fmt" "$file" 64M || echo "# qemu-img create -f $fmt failed"
            made=$((made + 1)) ;;
        esac
        args+=("$a")
        prev=$a
    done < "$golden"

    "${args[@]}" > "$tmp/$name/stdout" 2> "$tmp/$name/stderr" &
    qpid=$!
    for _ in $(seq 100); do
        [ -S "$run/qmp.sock" ] && [ -S "$run/qmp-vmctl.sock" ] && break
        kill -0 "$qpid" 2> /dev/null || break
        sleep 0.1
    done
    sleep 1
    kill -0 "$qpid" 2> /dev/null
    alive=$?
    ok $alive "$name: QEMU accepts the command line ($made disk images) and stays up paused"
    if [ $alive -ne 0 ]; then
        diag < "$tmp/$name/stderr"
        wait "$qpid" 2> /dev/null
        qpid=
        continue
    fi
    if grep -q 'console.sock' "$golden"; then
        [ -S "$run/console.sock" ] && ls "$log"/*-console.log > /dev/null 2>&1
        ok $? "$name: console socket and console log exist"
    fi
    qmp "$run/qmp-vmctl.sock" 0 > "$tmp/$name/qmp-vmctl.out" 2>&1
    r=$?
    ok $r "$name: vmctl's QMP monitor answers, status prelaunch"
    [ $r -eq 0 ] || diag < "$tmp/$name/qmp-vmctl.out"
    qmp "$run/qmp.sock" 1 > "$tmp/$name/qmp.out" 2>&1
    r=$?
    ok $r "$name: the supervisor's QMP monitor answers and quits QEMU"
    [ $r -eq 0 ] || diag < "$tmp/$name/qmp.out"
    for _ in $(seq 50); do
        kill -0 "$qpid" 2> /dev/null || break
        sleep 0.1
    done
    wait "$qpid"
    status=$?
    qpid=
    # with vncunused (to=99) QEMU says which display it took; nothing else
    grep -v '^VNC server running on ' "$tmp/$name/stderr" > "$tmp/$name/stderr.rest"
    [ "$status" -eq 0 ] && [ ! -s "$tmp/$name/stderr.rest" ]
    ok $? "$name: QEMU exits 0 with nothing on stderr"
    [ -s "$tmp/$name/stderr.rest" ] && diag < "$tmp/$name/stderr.rest"
done
done_testing
