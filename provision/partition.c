/*
 * partition.c - partitioned guest disks (see partition.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <parted/parted.h>

#include "image.h"
#include "partition.h"
#include "settings.h"

#define MiB         ((uint64_t)1 << 20)
#define SECTOR      ((uint64_t)512)
#define SIZE_MAX_B  ((uint64_t)1 << 50)        /* 1 PiB: more is a typo */

/* GRUB's i386-pc boot sector (grub/include/grub/i386/pc/boot.h) */
#define BOOT_KERNEL_SECTOR  0x5c        /* 8 bytes: core.img's first sector */
#define BOOT_BOOT_DRIVE     0x64        /* 1 byte: 0xff = the drive the BIOS booted */
#define BOOT_DRIVE_CHECK    0x66        /* 2 bytes: a jmp, NOPs for a hard disk */
#define BOOT_PART_START     0x1b8       /* disk signature and partition table: kept */
#define BOOT_SIG            0x1fe
#define CORE_SEGMENT        0x820       /* where diskboot loads the rest of core.img */
#define CORE_MAX            (1000ULL * SECTOR)     /* what fits before the first MiB */

static const char *const fs_types[] = { "ext2", "ext3", "ext4", "xfs", "btrfs", "swap", NULL };

void part_layout_init(struct part_layout *l)
{
    memset(l, 0, sizeof(*l));
    l->table = "gpt";
}

void part_layout_dispose(struct part_layout *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free(l->v[i].mountpoint);
        free(l->v[i].options);
    }
    free(l->v);
    free(l->source);
    part_layout_init(l);
}

static bool is_ext(const char *fs)
{
    return !strncmp(fs, "ext", 3);
}

/* "1.5G", "512M", "100" (MiB), "2Gb": bytes rounded up to a MiB.  0 or -EINVAL. */
static int parse_size(const char *s, uint64_t *bytes_r)
{
    uint64_t whole = 0, frac = 0, fdiv = 1, unit = MiB;
    const char *p = s;

    if (*p < '0' || *p > '9')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (whole > SIZE_MAX_B)
            return -EINVAL;
        whole = whole * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++)
            if (fdiv < 1000000) {
                frac = frac * 10 + (uint64_t)(*p - '0');
                fdiv *= 10;
            }
    }
    switch (*p) {
    case 'k': case 'K': unit = 1ULL << 10; break;
    case 'm': case 'M': unit = 1ULL << 20; break;
    case 'g': case 'G': unit = 1ULL << 30; break;
    case 't': case 'T': unit = 1ULL << 40; break;
    case '\0': break;
    default: return -EINVAL;
    }
    if (*p) {
        p++;
        /* xen-tools writes "1Gb"; "GiB" is fine too */
        if (!strcmp(p, "b") || !strcmp(p, "B") || !strcmp(p, "iB"))
            p += strlen(p);
    }
    if (*p || whole > SIZE_MAX_B / unit)
        return -EINVAL;
    uint64_t bytes = whole * unit + frac * unit / fdiv;

    bytes = (bytes + MiB - 1) / MiB * MiB;
    if (!bytes || bytes > SIZE_MAX_B)
        return -EINVAL;
    *bytes_r = bytes;
    return 0;
}

static bool good_mountpoint(const char *m)
{
    if (m[0] != '/' || strlen(m) > 255)
        return false;
    if (!strcmp(m, "/"))
        return true;
    /* absolute, no empty, `.' or `..' component, no trailing `/', no blanks */
    for (const char *c = m; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '\\')
            return false;
    for (const char *c = m; *c;) {
        const char *e;
        size_t k;

        c++;                            /* the `/' */
        e = strchrnul(c, '/');
        k = (size_t)(e - c);
        if (!k || (k == 1 && c[0] == '.') || (k == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        c = e;
    }
    return true;
}

static bool good_options(const char *o)
{
    return *o && strspn(o, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                           ",=_-.:/+@") == strlen(o);
}

/* The layout in s, parsed from source; s is left as it is. */
static int layout_from_settings(const char *source, const struct settings *s,
                                struct part_layout *l, struct diag *d)
{
    size_t before = d->nerrors;
    bool have_root = false;

    if (!(l->source = strdup(source)))
        return -ENOMEM;
    if (s->sections[0].nentries) {
        const struct settings_entry *e = &s->sections[0].entries[0];

        diag_error(d, source, e->line, e->col, "`%s' outside a [partition] section", e->key);
    }
    if (s->nsections - 1 > PART_MAX)
        diag_error(d, source, s->sections[PART_MAX + 1].line, s->sections[PART_MAX + 1].col,
                   "more than %d partitions", PART_MAX);
    if (!(l->v = calloc(s->nsections, sizeof(*l->v))))
        return -ENOMEM;
    for (size_t i = 1; i < s->nsections && i <= PART_MAX; i++) {
        const struct settings_section *sec = &s->sections[i];
        struct part_entry *p = &l->v[l->n];
        const struct settings_entry *size = NULL, *type = NULL, *mp = NULL, *opts = NULL;

        for (size_t k = 0; k < sec->nentries; k++) {
            const struct settings_entry *e = &sec->entries[k];

            if (!strcmp(e->key, "size"))
                size = e;
            else if (!strcmp(e->key, "type"))
                type = e;
            else if (!strcmp(e->key, "mountpoint"))
                mp = e;
            else if (!strcmp(e->key, "options"))
                opts = e;
            else
                diag_error(d, source, e->line, e->col, "[%s]: unknown key `%s' (size, type,"
                           " mountpoint, options)", sec->name, e->key);
        }
        p->line = sec->line;
        if (!(p->name = strdup(sec->name)))
            return -ENOMEM;
        l->n++;
        if (!size)
            diag_error(d, source, sec->line, sec->col, "[%s]: no size=", sec->name);
        else if (parse_size(size->value, &p->size))
            diag_error(d, source, size->line, size->value_col, "[%s]: size `%s': expected a"
                       " size such as 512M, 1.5G or 2G", sec->name, size->value);
        if (!type) {
            diag_error(d, source, sec->line, sec->col, "[%s]: no type=", sec->name);
        } else {
            for (size_t k = 0; fs_types[k]; k++)
                if (!strcmp(type->value, fs_types[k]))
                    p->fs = fs_types[k];
            if (!p->fs)
                diag_error(d, source, type->line, type->value_col, "[%s]: type `%s': expected"
                           " ext2, ext3, ext4, xfs, btrfs or swap", sec->name, type->value);
        }
        if (p->fs && !strcmp(p->fs, "swap")) {
            if (mp && *mp->value && strcmp(mp->value, "none"))
                diag_error(d, source, mp->line, mp->value_col, "[%s]: a swap partition has"
                           " no mountpoint", sec->name);
        } else if (!mp || !*mp->value) {
            diag_error(d, source, sec->line, sec->col, "[%s]: no mountpoint=", sec->name);
        } else if (!good_mountpoint(mp->value)) {
            diag_error(d, source, mp->line, mp->value_col, "[%s]: mountpoint `%s': expected"
                       " an absolute path such as /home", sec->name, mp->value);
        } else {
            for (size_t k = 0; k + 1 < l->n; k++)
                if (l->v[k].mountpoint && !strcmp(l->v[k].mountpoint, mp->value))
                    diag_error(d, source, mp->line, mp->value_col, "[%s]: mountpoint %s is"
                               " [%s]'s already", sec->name, mp->value, l->v[k].name);
            if (!(p->mountpoint = strdup(mp->value)))
                return -ENOMEM;
            if (!strcmp(p->mountpoint, "/")) {
                have_root = true;
                l->root = l->n - 1;
            }
        }
        if (opts && !good_options(opts->value))
            diag_error(d, source, opts->line, opts->value_col, "[%s]: options `%s': expected"
                       " mount options such as nodev,nosuid", sec->name, opts->value);
        if (opts && *opts->value)
            p->options = strdup(opts->value);
        else
            p->options = strdup(p->fs && !strcmp(p->fs, "swap") ? "sw" :
                                p->mountpoint && !strcmp(p->mountpoint, "/") && p->fs &&
                                is_ext(p->fs) ? "errors=remount-ro" : "defaults");
        if (!p->options)
            return -ENOMEM;
        if (p->fs && p->size && p->size < image_min_size(is_ext(p->fs) ? "ext4" : p->fs))
            diag_error(d, source, size->line, size->value_col, "[%s]: %s needs at least"
                       " %" PRIu64 " MiB", sec->name, p->fs,
                       (image_min_size(is_ext(p->fs) ? "ext4" : p->fs) + MiB - 1) / MiB);
    }
    if (s->nsections == 1)
        diag_error(d, source, 0, 0, "no partitions: expected [root] and its settings");
    else if (!have_root && d->nerrors == before)
        diag_error(d, source, 0, 0, "no partition has mountpoint=/ (the root file system)");
    return d->nerrors == before ? 0 : -EINVAL;
}

int partition_layout_parse(const char *source, const char *text, size_t len,
                           struct part_layout *l, struct diag *d)
{
    struct settings *s = NULL;
    int r = settings_parse(source, text, len, &s, d);

    if (r)
        return r;
    r = layout_from_settings(source, s, l, d);
    settings_free(s);
    return r;
}

int partition_layout_read(const char *path, struct part_layout *l, struct diag *d)
{
    struct settings *s = NULL;
    int r = settings_read_file(path, 0, &s, d);

    if (r)
        return r;
    r = layout_from_settings(path, s, l, d);
    settings_free(s);
    return r;
}

int partition_layout_default(struct part_layout *l, const char *fs)
{
    struct part_entry *p = calloc(1, sizeof(*p));

    if (!p)
        return -ENOMEM;
    l->v = p;
    l->n = 1;
    l->root = 0;
    p->fs = "ext4";
    for (size_t k = 0; fs_types[k]; k++)
        if (!strcmp(fs, fs_types[k]))
            p->fs = fs_types[k];
    if (!(p->name = strdup("root")) || !(p->mountpoint = strdup("/")) ||
        !(p->options = strdup(is_ext(p->fs) ? "errors=remount-ro" : "defaults")))
        return -ENOMEM;
    return 0;
}

int partition_layout_place(struct part_layout *l, const char *table, uint64_t disk_size,
                           struct diag *d)
{
    bool gpt = !strcmp(table, "gpt");
    uint64_t at = PART_ALIGN, tail = gpt ? MiB : 0;
    int number = 1;

    l->table = gpt ? "gpt" : "msdos";
    l->bios_boot = gpt;
    if (!gpt && l->n > 4) {
        diag_error(d, l->source, 0, 0, "%zu partitions: an msdos table holds four (use"
                   " --partition-table gpt)", l->n);
        return -EINVAL;
    }
    if (gpt) {
        at += PART_BIOS_BOOT_SIZE;
        number++;
    }
    for (size_t i = 0; i < l->n; i++) {
        struct part_entry *p = &l->v[i];

        p->number = number++;
        p->start = at;
        if (disk_size && i == l->n - 1 && !p->size) {
            /* the default layout's last partition fills the disk */
            if (disk_size < at + tail + 16 * MiB) {
                diag_error(d, l->source, 0, 0, "a disk of %" PRIu64 " MiB is too small for"
                           " its partitions", disk_size / MiB);
                return -EINVAL;
            }
            p->size = (disk_size - tail - at) / MiB * MiB;
        }
        at += p->size;
    }
    if (!disk_size)
        disk_size = at + tail;
    if (disk_size < at + tail) {
        diag_error(d, l->source, 0, 0, "the partitions need %" PRIu64 " MiB, more than the"
                   " disk's %" PRIu64 " MiB", (at + tail) / MiB, disk_size / MiB);
        return -EINVAL;
    }
    l->disk_size = disk_size;
    return 0;
}

static void uuid_text(const unsigned char u[16], char out[37])
{
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
             u[13], u[14], u[15]);
}

int partition_layout_uuids(struct part_layout *l)
{
    for (size_t i = 0; i < l->n; i++) {
        unsigned char u[16];

        if (getrandom(u, sizeof u, 0) != (ssize_t)sizeof u)
            return -errno;
        u[6] = (u[6] & 0x0f) | 0x40;    /* version 4 */
        u[8] = (u[8] & 0x3f) | 0x80;    /* variant 1 */
        uuid_text(u, l->v[i].uuid);
    }
    return 0;
}

const struct part_entry *partition_find_mount(const struct part_layout *l,
                                              const char *mountpoint)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].mountpoint && !strcmp(l->v[i].mountpoint, mountpoint))
            return &l->v[i];
    return NULL;
}

/* ---- the table, with libparted ---- */

/* libparted reports through one process-wide handler: the last message
 * is kept here for the error we record (vm-provision writes one table at
 * a time). */
static char parted_msg[512];

static PedExceptionOption parted_handler(PedException *ex)
{
    snprintf(parted_msg, sizeof parted_msg, "%s", ex->message ? ex->message : "?");
    /* a question (fix the backup GPT? ignore?) is answered no */
    if (ex->options & PED_EXCEPTION_IGNORE && ex->type < PED_EXCEPTION_ERROR)
        return PED_EXCEPTION_IGNORE;
    return PED_EXCEPTION_CANCEL;
}

int partition_write_table(const struct part_layout *l, const char *path, struct diag *d)
{
    PedDevice *dev = NULL;
    PedDisk *disk = NULL;
    PedDiskType *type;
    bool gpt = !strcmp(l->table, "gpt");
    int r = -EIO;

    parted_msg[0] = '\0';
    ped_exception_set_handler(parted_handler);
    if (!(dev = ped_device_get(path))) {
        diag_error(d, path, 0, 0, "cannot open the image for its partition table: %s",
                   parted_msg);
        goto out;
    }
    if (dev->sector_size != SECTOR || (uint64_t)dev->length * SECTOR < l->disk_size) {
        diag_error(d, path, 0, 0, "the image is not a %" PRIu64 "-byte disk of 512-byte"
                   " sectors", l->disk_size);
        goto out;
    }
    if (!(type = ped_disk_type_get(l->table)) || !(disk = ped_disk_new_fresh(dev, type))) {
        diag_error(d, path, 0, 0, "cannot make an %s partition table: %s", l->table,
                   parted_msg);
        goto out;
    }
    /* gpt: the BIOS boot partition first, so that it is partition 1 */
    for (size_t i = 0; i < l->n + (gpt ? 1 : 0); i++) {
        const struct part_entry *e = !gpt ? &l->v[i] : i ? &l->v[i - 1] : NULL;
        PedFileSystemType *fst;
        PedPartition *part;
        PedConstraint *c;
        PedSector start, end;
        const char *name;

        if (e) {
            start = (PedSector)(e->start / SECTOR);
            end = (PedSector)((e->start + e->size) / SECTOR) - 1;
            fst = ped_file_system_type_get(!strcmp(e->fs, "swap") ? "linux-swap" : e->fs);
            name = e->name;
        } else {
            start = (PedSector)(PART_ALIGN / SECTOR);
            end = (PedSector)((PART_ALIGN + PART_BIOS_BOOT_SIZE) / SECTOR) - 1;
            fst = NULL;
            name = "bios-boot";
        }
        if (!(part = ped_partition_new(disk, PED_PARTITION_NORMAL, fst, start, end))) {
            diag_error(d, path, 0, 0, "cannot make partition %s: %s", name, parted_msg);
            goto out;
        }
        if (gpt)
            ped_partition_set_name(part, name);
        c = ped_constraint_exact(&part->geom);
        if (!c || !ped_disk_add_partition(disk, part, c)) {
            diag_error(d, path, 0, 0, "cannot add partition %s at sectors %lld-%lld: %s",
                       name, (long long)start, (long long)end, parted_msg);
            if (c)
                ped_constraint_destroy(c);
            ped_partition_destroy(part);
            goto out;
        }
        ped_constraint_destroy(c);
        if (!e && !ped_partition_set_flag(part, PED_PARTITION_BIOS_GRUB, 1)) {
            diag_error(d, path, 0, 0, "cannot flag the BIOS boot partition: %s", parted_msg);
            goto out;
        }
        if (e && !gpt && e == &l->v[l->root] && !ped_partition_set_flag(part, PED_PARTITION_BOOT, 1)) {
            diag_error(d, path, 0, 0, "cannot make the root partition active: %s",
                       parted_msg);
            goto out;
        }
    }
    if (!ped_disk_commit_to_dev(disk)) {
        diag_error(d, path, 0, 0, "cannot write the partition table: %s", parted_msg);
        goto out;
    }
    r = 0;
out:
    if (disk)
        ped_disk_destroy(disk);
    if (dev)
        ped_device_destroy(dev);
    ped_exception_set_handler(NULL);
    return r;
}

/* ---- GRUB for BIOS boot ---- */

static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    for (size_t done = 0; done < len;) {
        ssize_t k = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

        if (k <= 0)
            return k < 0 ? -errno : -EIO;
        done += (size_t)k;
    }
    return 0;
}

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
    for (size_t done = 0; done < len;) {
        ssize_t k = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));

        if (k <= 0)
            return k < 0 ? -errno : -EIO;
        done += (size_t)k;
    }
    return 0;
}

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Reads a whole small file (at most max bytes) into a new buffer. */
static int read_small(const char *path, size_t max, unsigned char **buf_r, size_t *len_r,
                      struct diag *d)
{
    struct stat st;
    unsigned char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC), r;

    if (fd < 0 || fstat(fd, &st) < 0) {
        r = -errno;
        diag_error(d, path, 0, 0, "cannot read: %s", strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > max) {
        diag_error(d, path, 0, 0, "expected a file of 1 to %zu bytes", max);
        r = -EINVAL;
        goto out;
    }
    if (!(buf = malloc((size_t)st.st_size + SECTOR))) {
        r = -ENOMEM;
        goto out;
    }
    memset(buf, 0, (size_t)st.st_size + SECTOR);
    if ((r = pread_full(fd, buf, (size_t)st.st_size, 0))) {
        diag_error(d, path, 0, 0, "cannot read: %s", strerror(-r));
        goto out;
    }
    *buf_r = buf;
    *len_r = (size_t)st.st_size;
    buf = NULL;
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    return r;
}

int partition_install_grub(const struct part_layout *l, const char *path,
                           const char *grub_dir, const char *boot_uuid,
                           const char *boot_prefix, const char *workdir, int log_fd,
                           struct diag *d)
{
    char *core = NULL, *early = NULL, *bootimg = NULL, *early_text = NULL;
    unsigned char *core_buf = NULL, *boot_buf = NULL, mbr[SECTOR];
    size_t core_len = 0, boot_len = 0;
    bool gpt = !strcmp(l->table, "gpt");
    uint64_t core_sector = gpt ? PART_ALIGN / SECTOR : 1, room;
    int fd = -1, r;
    FILE *f;

    if (!grub_dir)
        grub_dir = PART_GRUB_DIR;
    if (asprintf(&core, "%s/core.img", workdir) < 0 ||
        asprintf(&early, "%s/grub-early.cfg", workdir) < 0 ||
        asprintf(&bootimg, "%s/boot.img", grub_dir) < 0 ||
        asprintf(&early_text, "search.fs_uuid %s root\nset prefix=($root)%s\n", boot_uuid,
                 boot_prefix) < 0) {
        r = -ENOMEM;
        goto out;
    }
    if (!(f = fopen(early, "wxe")) || fputs(early_text, f) < 0 || fclose(f) != 0) {
        r = -errno;
        diag_error(d, early, 0, 0, "cannot write: %s", strerror(errno));
        goto out;
    }
    {
        char *argv[] = { (char *)"grub-mkimage", (char *)"-O", (char *)"i386-pc",
                         (char *)"-d", (char *)grub_dir, (char *)"-o", core,
                         (char *)"-c", early, (char *)"-p", (char *)boot_prefix,
                         (char *)"biosdisk", (char *)(gpt ? "part_gpt" : "part_msdos"),
                         (char *)"ext2", (char *)"search_fs_uuid", (char *)"search",
                         NULL };

        r = image_run(argv, "grub-pc-bin", path, "make GRUB's core.img", log_fd, d);
        unlink(early);
        if (r)
            goto out;
    }
    room = gpt ? PART_BIOS_BOOT_SIZE : l->v[0].start - SECTOR;
    if ((r = read_small(core, room < CORE_MAX ? room : CORE_MAX, &core_buf, &core_len, d)) ||
        (r = read_small(bootimg, SECTOR, &boot_buf, &boot_len, d)))
        goto out;
    if (boot_len != SECTOR || core_len < SECTOR) {
        diag_error(d, path, 0, 0, "GRUB's boot.img (%zu bytes) or core.img (%zu bytes) is"
                   " not what i386-pc GRUB makes", boot_len, core_len);
        r = -EINVAL;
        goto out;
    }
    if ((fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0) {
        r = -errno;
        diag_error(d, path, 0, 0, "cannot open: %s", strerror(errno));
        goto out;
    }
    if ((r = pread_full(fd, mbr, SECTOR, 0))) {
        diag_error(d, path, 0, 0, "cannot read the MBR: %s", strerror(-r));
        goto out;
    }
    /* core.img: diskboot.img's sector ends in a blocklist that says where
     * the rest of core.img is: one extent, right after it */
    {
        size_t sectors = (core_len + SECTOR - 1) / SECTOR;
        unsigned char *bl = core_buf + SECTOR - 12;

        put_le(bl, core_sector + 1, 8);
        put_le(bl + 8, sectors - 1, 2);
        put_le(bl + 10, CORE_SEGMENT, 2);
        if ((r = pwrite_full(fd, core_buf, sectors * SECTOR, core_sector * SECTOR))) {
            diag_error(d, path, 0, 0, "cannot write GRUB's core.img: %s", strerror(-r));
            goto out;
        }
    }
    /* boot.img into the MBR, its partition table (and disk signature) kept */
    memcpy(boot_buf + BOOT_PART_START, mbr + BOOT_PART_START, SECTOR - BOOT_PART_START);
    put_le(boot_buf + BOOT_KERNEL_SECTOR, core_sector, 8);
    boot_buf[BOOT_BOOT_DRIVE] = 0xff;
    boot_buf[BOOT_DRIVE_CHECK] = 0x90;
    boot_buf[BOOT_DRIVE_CHECK + 1] = 0x90;
    boot_buf[BOOT_SIG] = 0x55;
    boot_buf[BOOT_SIG + 1] = 0xaa;
    if ((r = pwrite_full(fd, boot_buf, SECTOR, 0)) || (fsync(fd) < 0 && (r = -errno))) {
        diag_error(d, path, 0, 0, "cannot write GRUB's boot.img: %s", strerror(-r));
        goto out;
    }
out:
    if (fd >= 0)
        close(fd);
    if (core)
        unlink(core);
    free(core);
    free(early);
    free(bootimg);
    free(early_text);
    free(core_buf);
    free(boot_buf);
    return r;
}
