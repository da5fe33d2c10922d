/*
 * test-partition - partitioned disks (provision/partition.c): the layout
 * file (xen-tools' partitions format) and its errors at FILE:LINE:COL,
 * placement on gpt and msdos, the table written with libparted and read
 * back with partx, file systems built inside partitions (mke2fs -E
 * offset=, swap copied in) and read back with debugfs/dumpe2fs/blkid at
 * their offsets, and GRUB's boot.img and core.img written into the image
 * (the MBR's table kept, core.img's sector patched in).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "image.h"
#include "partition.h"
#include "tap.h"

#define MiB ((uint64_t)1 << 20)

static char top[64];

/* The first diagnostic as FILE:LINE:COL: MSG (a static buffer). */
static const char *first(const struct diag *d)
{
    static char buf[1024];

    if (!d->n)
        return "(none)";
    snprintf(buf, sizeof buf, "%s:%d:%d: %s", d->v[0].file ? d->v[0].file : "-",
             d->v[0].line, d->v[0].col, d->v[0].msg);
    return buf;
}

static bool any(const struct diag *d, const char *needle)
{
    for (size_t i = 0; i < d->n; i++) {
        char buf[1024];

        snprintf(buf, sizeof buf, "%s:%d:%d: %s", d->v[i].file ? d->v[i].file : "-",
                 d->v[i].line, d->v[i].col, d->v[i].msg);
        if (strstr(buf, needle))
            return true;
    }
    return false;
}

static int parse(const char *text, struct part_layout *l, struct diag *d)
{
    part_layout_init(l);
    diag_init(d);
    return partition_layout_parse("t.parts", text, strlen(text), l, d);
}

/* The output of a shell command line (test plumbing only), trimmed. */
__attribute__((format(printf, 1, 2)))
static char *sh(const char *fmt, ...)
{
    static char out[8192];
    char cmd[2048];
    va_list ap;
    FILE *p;
    size_t n;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (!(p = popen(cmd, "r")))
        return strcpy(out, "");
    n = fread(out, 1, sizeof out - 1, p);
    pclose(p);
    out[n] = '\0';
    while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
        out[--n] = '\0';
    return out;
}

static void test_parse(void)
{
    struct part_layout l;
    struct diag d;
    int r;

    r = parse("# a server\n"
              "[root]\nsize=1G\ntype=ext4\nmountpoint=/\noptions=defaults,errors=remount-ro\n\n"
              "[swap]\nsize=0.5G\ntype=swap\n\n"
              "[home]\nsize = 1.5Gb\ntype=ext3\nmountpoint=/home\noptions=nodev,nosuid\n"
              "[var]\nsize=300\ntype=ext2\nmountpoint=/var\n", &l, &d);
    is_int(r, 0, "a layout in xen-tools' format parses (%s)", first(&d));
    is_int((long long)l.n, 4, "four partitions, in file order");
    is_str(l.v[0].name, "root", "[root] first");
    is_int((long long)l.root, 0, "the root is the `/' entry");
    is_int((long long)l.v[0].size, (long long)(1024 * MiB), "size=1G");
    is_int((long long)l.v[1].size, (long long)(512 * MiB), "size=0.5G");
    is_int((long long)l.v[2].size, (long long)(1536 * MiB), "size = 1.5Gb");
    is_int((long long)l.v[3].size, (long long)(300 * MiB), "a plain number is MiB");
    ok(l.v[1].mountpoint == NULL && !strcmp(l.v[1].options, "sw"), "swap: no mount point,"
       " options sw");
    is_str(l.v[2].options, "nodev,nosuid", "options= kept");
    is_str(l.v[3].options, "defaults", "no options=: defaults");
    is_str(l.v[2].fs, "ext3", "type=ext3");
    part_layout_dispose(&l);
    diag_dispose(&d);

    r = parse("[root]\nsize=1G\ntype=ext4\nmountpoint=/\n"
              "[home]\nsize=1X\ntype=ntfs\nmountpoint=home\ncolour=red\n", &l, &d);
    is_int(r, -EINVAL, "bad values are refused");
    ok(any(&d, "t.parts:6:6: [home]: size `1X'"), "a bad size at FILE:LINE:COL");
    ok(any(&d, "t.parts:7:6: [home]: type `ntfs'"), "a bad type at FILE:LINE:COL");
    ok(any(&d, "t.parts:8:12: [home]: mountpoint `home'"), "a relative mount point at"
       " FILE:LINE:COL");
    ok(any(&d, "t.parts:9:1: [home]: unknown key `colour'"), "an unknown key at its line");
    part_layout_dispose(&l);
    diag_dispose(&d);

    r = parse("[home]\nsize=1G\ntype=ext4\nmountpoint=/home\n", &l, &d);
    ok(r == -EINVAL && any(&d, "no partition has mountpoint=/"), "a layout without `/' is"
       " refused (%s)", first(&d));
    part_layout_dispose(&l);
    diag_dispose(&d);

    r = parse("size=1G\n[root]\ntype=ext4\nmountpoint=/\n[b]\nsize=1G\ntype=ext4\n"
              "mountpoint=/\n[s]\nsize=1G\ntype=swap\nmountpoint=/swap\n", &l, &d);
    ok(r == -EINVAL && any(&d, "t.parts:1:1: `size' outside a [partition] section"),
       "a key before any section");
    ok(any(&d, "t.parts:2:1: [root]: no size="), "a missing size at its section");
    ok(any(&d, "t.parts:8:12: [b]: mountpoint / is [root]'s already"), "a mount point twice");
    ok(any(&d, "t.parts:12:12: [s]: a swap partition has no mountpoint"), "swap with a mount"
       " point");
    part_layout_dispose(&l);
    diag_dispose(&d);

    r = parse("[root]\nsize=8M\ntype=ext4\nmountpoint=/../x\n", &l, &d);
    ok(r == -EINVAL && any(&d, "mountpoint `/../x'"), "`..' in a mount point is refused");
    part_layout_dispose(&l);
    diag_dispose(&d);

    r = parse("[root]\nsize=8M\ntype=ext4\nmountpoint=/\noptions=a b;rm\n", &l, &d);
    ok(r == -EINVAL && any(&d, "t.parts:5:9: [root]: options"), "options with blanks or"
       " `;' are refused");
    ok(any(&d, "t.parts:2:6: [root]: ext4 needs at least 16 MiB"), "too small a partition");
    part_layout_dispose(&l);
    diag_dispose(&d);
}

static void test_place(void)
{
    struct part_layout l;
    struct diag d;
    int r;

    part_layout_init(&l);
    diag_init(&d);
    ok(partition_layout_default(&l, "ext4") == 0, "the default layout");
    r = partition_layout_place(&l, "gpt", 2048 * MiB, &d);
    is_int(r, 0, "placed on gpt");
    ok(l.bios_boot && l.v[0].number == 2 && l.v[0].start == 2 * MiB,
       "gpt: BIOS boot partition 1, root partition 2 at 2 MiB");
    is_int((long long)l.v[0].size, (long long)(2048 - 3) * (long long)MiB,
           "the root fills the disk but the backup GPT's MiB");
    part_layout_dispose(&l);

    part_layout_init(&l);
    partition_layout_default(&l, "ext4");
    r = partition_layout_place(&l, "msdos", 512 * MiB, &d);
    ok(r == 0 && !l.bios_boot && l.v[0].number == 1 && l.v[0].start == MiB &&
       l.v[0].size == 511 * MiB, "msdos: root partition 1 from 1 MiB to the end");
    part_layout_dispose(&l);

    r = parse("[a]\nsize=20M\ntype=ext4\nmountpoint=/\n[b]\nsize=20M\ntype=swap\n"
              "[c]\nsize=20M\ntype=ext4\nmountpoint=/c\n[d]\nsize=20M\ntype=ext4\n"
              "mountpoint=/d\n[e]\nsize=20M\ntype=ext4\nmountpoint=/e\n", &l, &d);
    is_int(r, 0, "five partitions parse");
    r = partition_layout_place(&l, "msdos", 0, &d);
    ok(r == -EINVAL && any(&d, "an msdos table holds four"), "... but do not fit msdos");
    r = partition_layout_place(&l, "gpt", 0, &d);
    ok(r == 0 && l.disk_size == (2 + 5 * 20 + 1) * MiB && l.v[4].number == 6,
       "... and fit gpt: the disk as large as they need");
    ok(partition_layout_uuids(&l) == 0 && strlen(l.v[0].uuid) == 36 &&
       strcmp(l.v[0].uuid, l.v[1].uuid) && l.v[0].uuid[14] == '4', "fresh v4 UUIDs");
    part_layout_dispose(&l);
    diag_dispose(&d);
}

static int make_file(const char *path, uint64_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd < 0)
        return -1;
    if (ftruncate(fd, (off_t)size) < 0) {
        close(fd);
        return -1;
    }
    return close(fd);
}

static void test_disk(const char *table)
{
    struct part_layout l;
    struct diag d;
    char img[PATH_MAX], tree[128], home[128], path[PATH_MAX], *out;
    bool gpt = !strcmp(table, "gpt");
    unsigned char mbr[512];
    int r, fd;

    snprintf(img, sizeof img, "%s/%s.img", top, table);
    snprintf(tree, sizeof tree, "%s/tree", top);
    snprintf(home, sizeof home, "%s/home", top);
    r = parse("[root]\nsize=40M\ntype=ext4\nmountpoint=/\n[swap]\nsize=8M\ntype=swap\n"
              "[home]\nsize=20M\ntype=ext3\nmountpoint=/home\n", &l, &d);
    r = r ? r : partition_layout_place(&l, table, 0, &d);
    r = r ? r : partition_layout_uuids(&l);
    is_int(r, 0, "%s: a layout of root, swap and /home", table);
    make_file(img, l.disk_size);
    r = partition_write_table(&l, img, &d);
    is_int(r, 0, "%s: the table is written with libparted (%s)", table, first(&d));
    out = sh("partx -g -o NR,START,SECTORS %s 2>&1 | tr -s ' ' | sed 's/^ //' | tr '\\n' ';'",
             img);
    is_str(out, gpt ? "1 2048 2048;2 4096 81920;3 86016 16384;4 102400 40960;"
                    : "1 2048 81920;2 83968 16384;3 100352 40960;", "%s: partx reads it back",
           table);
    out = sh("partx -g -o NR,TYPE %s | tr -s ' ' | sed 's/^ //' | tr '\\n' ';'", img);
    is_str(out, gpt ? "1 21686148-6449-6e6f-744e-656564454649;"
                    "2 0fc63daf-8483-4772-8e79-3d69d8477de4;"
                    "3 0657fd6d-a4ab-43c4-84e5-0933c84b4f4f;"
                    "4 0fc63daf-8483-4772-8e79-3d69d8477de4;"
                  : "1 0x83;2 0x82;3 0x83;",
           "%s: types: BIOS boot, Linux file system, Linux swap", table);
    if (gpt) {
        out = sh("partx -g -o NR,NAME %s | tr -s ' ' | sed 's/^ //' | tr '\\n' ';'", img);
        is_str(out, "1 bios-boot;2 root;3 swap;4 home;", "gpt: partitions named as the"
               " sections");
    }

    /* the trees */
    snprintf(path, sizeof path, "%s/etc", tree);
    mkdir(tree, 0755);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/etc/hostname", tree);
    FILE *f = fopen(path, "w");
    fputs("part-test\n", f);
    fclose(f);
    mkdir(home, 0755);
    snprintf(path, sizeof path, "%s/alice", home);
    mkdir(path, 0700);

    r = image_build_fs_at("ext4", tree, "root", l.v[0].uuid, NULL, img, l.v[0].start,
                          l.v[0].size, top, -1, &d);
    is_int(r, 0, "%s: ext4 root built in place at %" PRIu64 " (%s)", table, l.v[0].start,
           first(&d));
    r = image_build_fs_at("swap", NULL, "swap", l.v[1].uuid, NULL, img, l.v[1].start,
                          l.v[1].size, top, -1, &d);
    is_int(r, 0, "%s: swap copied in (%s)", table, first(&d));
    r = image_build_fs_at("ext3", home, NULL, l.v[2].uuid, NULL, img, l.v[2].start,
                          l.v[2].size, top, -1, &d);
    is_int(r, 0, "%s: ext3 /home built in place (%s)", table, first(&d));

    out = sh("debugfs -R 'cat /etc/hostname' '%s?offset=%" PRIu64 "' 2>/dev/null", img,
             l.v[0].start);
    is_str(out, "part-test", "%s: debugfs reads the root at its offset", table);
    out = sh("dumpe2fs -h '%s?offset=%" PRIu64 "' 2>/dev/null | sed -n 's/^Filesystem UUID:"
             " *//p'", img, l.v[0].start);
    is_str(out, l.v[0].uuid, "%s: the root has the UUID chosen", table);
    out = sh("e2fsck -fn '%s?offset=%" PRIu64 "' >/dev/null 2>&1; echo $?", img, l.v[2].start);
    is_str(out, "0", "%s: /home checks clean", table);
    out = sh("debugfs -R 'stat /alice' '%s?offset=%" PRIu64 "' 2>/dev/null | grep -o "
             "'Mode: *[0-7]*'", img, l.v[2].start);
    is_str(out, "Mode:  0700", "%s: /home holds its subtree", table);
    out = sh("blkid -p -O %" PRIu64 " -s UUID -s TYPE -o value %s", l.v[1].start, img);
    ok(strstr(out, l.v[1].uuid) && strstr(out, "swap"), "%s: blkid finds the swap area and"
       " its UUID", table);
    out = sh("partx -g -o NR %s | wc -l", img);
    is_str(out, gpt ? "4" : "3", "%s: the table is intact after the file systems", table);

    /* GRUB: root holds /boot */
    r = partition_install_grub(&l, img, NULL, l.v[0].uuid, "/boot/grub", top, -1, &d);
    if (access(PART_GRUB_DIR "/boot.img", F_OK) < 0) {
        printf("ok %d # SKIP no %s (grub-pc-bin)\n", ++tap_n, PART_GRUB_DIR);
    } else {
        is_int(r, 0, "%s: GRUB written into the image (%s)", table, first(&d));
        fd = open(img, O_RDONLY);
        ok(fd >= 0 && pread(fd, mbr, 512, 0) == 512, "%s: the MBR reads", table);
        if (fd >= 0)
            close(fd);
        uint64_t ks = 0;

        for (int i = 7; i >= 0; i--)
            ks = ks << 8 | mbr[0x5c + i];
        is_int((long long)ks, gpt ? 2048 : 1, "%s: boot.img points at core.img", table);
        ok(mbr[510] == 0x55 && mbr[511] == 0xaa, "%s: boot signature", table);
        out = sh("partx -g -o NR %s | wc -l", img);
        is_str(out, gpt ? "4" : "3", "%s: the partition table survives boot.img", table);
        out = sh("dd if=%s bs=512 skip=%d count=1 2>/dev/null | od -An -tx1 -j 500 | tr -d ' \\n'",
                 img, gpt ? 2048 : 1);
        ok(!strncmp(out, gpt ? "0108000000000000" : "0200000000000000", 16),
           "%s: core.img's blocklist starts on the sector after it (%s)", table, out);
        snprintf(path, sizeof path, "%s/core.img", top);
        ok(access(path, F_OK) < 0, "%s: no core.img left in the work directory", table);
    }
    unlink(img);
    part_layout_dispose(&l);
    diag_dispose(&d);
    sh("rm -rf %s/tree %s/home", top, top);
}

int main(void)
{
    snprintf(top, sizeof top, "/tmp/vmkit-test-partition.XXXXXX");
    if (!mkdtemp(top)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    test_parse();
    test_place();
    test_disk("gpt");
    test_disk("msdos");
    sh("rm -rf %s", top);
    return tap_done();
}
