#!/usr/bin/env bash
# timeout: 600
# libFuzzer targets under ASan and UBSan, FUZZ_SECONDS each (default 30),
# seeded from the config corpus, the RPM metadata of test-rpmmd, the
# guest boot configs of test-bootcfg and small disk images made here
# (mke2fs -d, whole and partitioned) for the bootloader's disk reader;
# the corpus they grow stays in a temp dir.
. tests/lib/tap.sh
secs=${FUZZ_SECONDS:-30}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/cfg" "$tmp/disk" "$tmp/repomd" "$tmp/primary" "$tmp/bootcfg" "$tmp/bootldr"
cp tests/config/corpus/*.cfg tests/config/errors/*.cfg "$tmp/cfg/"
# every disk item of the corpus, one per seed file
i=0
for f in tests/config/corpus/*.cfg; do
    bin/vmctl config-dump --json "$f" 2>/dev/null |
        jq -r '.settings.disk // [] | .[] | strings' 2>/dev/null
done | while IFS= read -r spec; do
    i=$((i + 1)); printf '%s' "$spec" > "$tmp/disk/$i"
done
# repodata: repomd.xml as it is; primary plain, compressed (what the
# tools at hand make), and with filelists after a "--filelists--" line
rpmmd=tests/unit/data/rpmmd
cp "$rpmmd"/repomd*.xml "$tmp/repomd/"
cp "$rpmmd"/primary*.xml "$tmp/primary/"
{ cat "$rpmmd/primary.xml"; printf -- '--filelists--\n'; cat "$rpmmd/filelists.xml"; } \
    > "$tmp/primary/with-filelists"
for c in gzip xz zstd bzip2; do
    command -v "$c" > /dev/null && "$c" -c -q "$rpmmd/primary.xml" > "$tmp/primary/primary.$c"
done
# guest boot configs: grub.cfg (Debian, el7, el9), grubenv, BLS entries, extlinux
cp tests/unit/data/bootcfg/* "$tmp/bootcfg/"
# guest disks: a 64 KiB ext2 with /boot/grub/grub.cfg, a kernel and an
# initrd; the same with extlinux; and the first inside an MBR partition
d=$tmp/tree
mkdir -p "$d/boot/grub" "$d/boot/extlinux"
printf 'set default=0\nmenuentry "Debian" {\n linux /boot/vmlinuz root=/dev/vda1 ro\n initrd /boot/initrd.img\n}\n' \
    > "$d/boot/grub/grub.cfg"
printf 'KERNEL' > "$d/boot/vmlinuz"
printf 'INITRD' > "$d/boot/initrd.img"
ln -s vmlinuz "$d/boot/vmlinuz-link"
if command -v mke2fs > /dev/null; then
    truncate -s 64K "$tmp/bootldr/grub.img"
    mke2fs -q -F -t ext2 -b 1024 -N 16 -d "$d" "$tmp/bootldr/grub.img" 64 2> /dev/null
    rm -r "$d/boot/grub"
    printf 'DEFAULT l\nLABEL l\n KERNEL /boot/vmlinuz-link\n APPEND root=/dev/vda1\n' \
        > "$d/boot/extlinux/extlinux.conf"
    truncate -s 64K "$tmp/bootldr/extlinux.img"
    mke2fs -q -F -t ext2 -b 1024 -N 16 -d "$d" "$tmp/bootldr/extlinux.img" 64 2> /dev/null
    if command -v sfdisk > /dev/null; then
        truncate -s 96K "$tmp/bootldr/mbr.img"
        echo 'start=32, type=83' | sfdisk -q "$tmp/bootldr/mbr.img" > /dev/null 2>&1 &&
            dd if="$tmp/bootldr/grub.img" of="$tmp/bootldr/mbr.img" bs=512 seek=32 \
                conv=notrunc status=none
    fi
fi
for t in cfg disk repomd primary bootcfg bootldr; do
    bin=build/fuzz/fuzz-$t
    if [ ! -x "$bin" ]; then
        ok 1 "fuzz-$t: built (make $bin needs clang)"; continue
    fi
    if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$tmp/" "$tmp/$t" > "$tmp/log" 2>&1; then
        ok 0 "fuzz-$t: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$tmp/log" | tail -n 1), no finding"
    else
        ok 1 "fuzz-$t: finding"
        tail -n 40 "$tmp/log" | diag
        for a in "$tmp"/crash-* "$tmp"/leak-* "$tmp"/timeout-*; do
            [ -f "$a" ] && { echo "input: $(basename "$a")"; od -c "$a" | head -n 20; } | diag
        done
    fi
done
done_testing
