/*
 * bootldr.c - vmkit's bootloader: the guest's kernel out of its disk
 * image, read in a sandboxed child (bootldr.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <blkid/blkid.h>
#include <ext2fs/ext2fs.h>

#include "bootcfg.h"
#include "bootldr.h"
#include "bootldr_priv.h"

#define MSG_MAGIC   0x766d6b62u     /* "vmkb" */
#define MSG_VERSION 1
#define COPY_CHUNK  (64 * 1024)

bool bootldr_is_ours(const char *b)
{
    size_t n = strlen(b);

    return !strcmp(b, "pygrub") || !strcmp(b, "vmkit-bootloader") ||
           (n > 7 && !strcmp(b + n - 7, "/pygrub"));
}

bool bootldr_is_pvgrub(const char *kernel)
{
    const char *base = strrchr(kernel, '/');

    base = base ? base + 1 : kernel;
    return !strncmp(base, "grub-", 5) && strstr(base, "xen") &&
           strlen(base) > 4 && !strcmp(base + strlen(base) - 4, ".bin");
}

static void setwhy(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void setwhy(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* ---- an io_manager over an open fd, bounded to one partition ----
 * libext2fs opens by name; ours is "fd:FD:OFFSET:SIZE", so the child
 * needs no path (it could not open one once it is nobody). */

struct fdio {
    int fd;
    uint64_t offset, size;
};

static errcode_t fdio_open(const char *name, int flags, io_channel *channel);

static errcode_t fdio_close(io_channel ch)
{
    if (--ch->refcount > 0)
        return 0;
    ext2fs_free_mem(&ch->private_data);
    ext2fs_free_mem(&ch->name);
    ext2fs_free_mem(&ch);
    return 0;
}

static errcode_t fdio_set_blksize(io_channel ch, int blksize)
{
    if (blksize <= 0 || blksize > 65536)
        return EXT2_ET_INVALID_ARGUMENT;
    ch->block_size = blksize;
    return 0;
}

static errcode_t fdio_read_blk64(io_channel ch, unsigned long long block, int count,
                                 void *data)
{
    struct fdio *f = ch->private_data;
    uint64_t len = count < 0 ? (uint64_t)(-(int64_t)count) : (uint64_t)count * (uint64_t)ch->block_size;
    uint64_t off;
    size_t done = 0;

    if (block > UINT64_MAX / (uint64_t)ch->block_size)
        return EXT2_ET_LLSEEK_FAILED;
    off = block * (uint64_t)ch->block_size;
    if (off > f->size || len > f->size - off || len > SIZE_MAX) {
        /* outside the partition: a corrupt or hostile file system */
        memset(data, 0, len <= SIZE_MAX && len < (1ULL << 30) ? (size_t)len : 0);
        return EXT2_ET_SHORT_READ;
    }
    while (done < len) {
        ssize_t n = pread(f->fd, (char *)data + done, (size_t)len - done,
                          (off_t)(f->offset + off + done));

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            memset((char *)data + done, 0, (size_t)len - done);
            return n < 0 ? (errcode_t)errno : EXT2_ET_SHORT_READ;
        }
        done += (size_t)n;
    }
    return 0;
}

static errcode_t fdio_read_blk(io_channel ch, unsigned long block, int count, void *data)
{
    return fdio_read_blk64(ch, block, count, data);
}

static errcode_t fdio_write_blk64(io_channel ch, unsigned long long block, int count,
                                  const void *data)
{
    (void)ch, (void)block, (void)count, (void)data;
    return EXT2_ET_RO_FILSYS;
}

static errcode_t fdio_write_blk(io_channel ch, unsigned long block, int count,
                                const void *data)
{
    return fdio_write_blk64(ch, block, count, data);
}

static errcode_t fdio_flush(io_channel ch)
{
    (void)ch;
    return 0;
}

static errcode_t fdio_set_option(io_channel ch, const char *option, const char *arg)
{
    (void)ch, (void)option, (void)arg;
    return EXT2_ET_INVALID_ARGUMENT;
}

static struct struct_io_manager fdio_manager = {
    .magic = EXT2_ET_MAGIC_IO_MANAGER,
    .name = "vmkit fd I/O manager",
    .open = fdio_open,
    .close = fdio_close,
    .set_blksize = fdio_set_blksize,
    .read_blk = fdio_read_blk,
    .write_blk = fdio_write_blk,
    .flush = fdio_flush,
    .set_option = fdio_set_option,
    .read_blk64 = fdio_read_blk64,
    .write_blk64 = fdio_write_blk64,
};

static errcode_t fdio_open(const char *name, int flags, io_channel *channel)
{
    io_channel ch = NULL;
    struct fdio *f = NULL;
    int fd;
    unsigned long long offset, size;
    errcode_t e;

    if (flags & IO_FLAG_RW)
        return EXT2_ET_RO_FILSYS;
    if (sscanf(name, "fd:%d:%llu:%llu", &fd, &offset, &size) != 3)
        return EXT2_ET_BAD_DEVICE_NAME;
    if ((e = ext2fs_get_memzero(sizeof(*ch), &ch)))
        return e;
    if ((e = ext2fs_get_memzero(sizeof(*f), &f)) ||
        (e = ext2fs_get_mem(strlen(name) + 1, &ch->name))) {
        ext2fs_free_mem(&f);
        ext2fs_free_mem(&ch);
        return e;
    }
    strcpy(ch->name, name);
    f->fd = fd;
    f->offset = offset;
    f->size = size;
    ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
    ch->manager = &fdio_manager;
    ch->block_size = 1024;
    ch->refcount = 1;
    ch->private_data = f;
    *channel = ch;
    return 0;
}

/* ---- one file system ---- */

struct reader {
    int disk_fd;
    const struct bootldr_params *p;
    struct bootldr_result *res;
    char *why;
    size_t whylen;
    ext2_filsys fs;
    const char *device;
};

/* The inode of path (inside fs; symlinks followed, bounded by
 * libext2fs) if it is a regular file: 0, or -1 with a reason. */
static int lookup_file(struct reader *r, const char *path, ext2_ino_t *ino_r,
                       struct ext2_inode *inode, const char **reason)
{
    errcode_t e;

    if (!*path || strlen(path) >= 4096) {
        *reason = "bad path";
        return -1;
    }
    e = ext2fs_namei_follow(r->fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, ino_r);
    if (e) {
        *reason = e == EXT2_ET_FILE_NOT_FOUND ? "not found" :
                  e == EXT2_ET_SYMLINK_LOOP ? "too many levels of symbolic links" :
                  error_message(e);
        return -1;
    }
    if ((e = ext2fs_read_inode(r->fs, *ino_r, inode))) {
        *reason = error_message(e);
        return -1;
    }
    if (!LINUX_S_ISREG(inode->i_mode)) {
        *reason = LINUX_S_ISDIR(inode->i_mode) ? "a directory" : "not a regular file";
        return -1;
    }
    return 0;
}

/* Reads a whole small file (a config) into a new buffer. */
static int read_small(struct reader *r, ext2_ino_t ino, struct ext2_inode *inode,
                      size_t max, char **buf_r, size_t *len_r, const char **reason)
{
    ext2_file_t file = NULL;
    uint64_t size = EXT2_I_SIZE(inode);
    unsigned int got;
    char *buf;
    errcode_t e;

    if (size > max) {
        *reason = "too big";
        return -1;
    }
    if (!(buf = malloc(size ? size : 1))) {
        *reason = "out of memory";
        return -1;
    }
    if ((e = ext2fs_file_open(r->fs, ino, 0, &file)) ||
        (e = ext2fs_file_read(file, buf, (unsigned int)size, &got))) {
        if (file)
            ext2fs_file_close(file);
        free(buf);
        *reason = error_message(e);
        return -1;
    }
    ext2fs_file_close(file);
    *buf_r = buf;
    *len_r = got;
    return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Copies ino (size bytes) to out_fd. */
static int copy_out(struct reader *r, ext2_ino_t ino, uint64_t size, int out_fd,
                    const char *what)
{
    ext2_file_t file = NULL;
    char *buf = malloc(COPY_CHUNK);
    uint64_t done = 0;
    errcode_t e;
    int ret = -1;

    if (!buf) {
        setwhy(r->why, r->whylen, "out of memory");
        return -1;
    }
    if ((e = ext2fs_file_open(r->fs, ino, 0, &file))) {
        setwhy(r->why, r->whylen, "%s: cannot open %s: %s", r->device, what, error_message(e));
        goto out;
    }
    while (done < size) {
        unsigned int want = size - done > COPY_CHUNK ? COPY_CHUNK : (unsigned int)(size - done);
        unsigned int got = 0;

        if ((e = ext2fs_file_read(file, buf, want, &got))) {
            setwhy(r->why, r->whylen, "%s: reading %s: %s", r->device, what, error_message(e));
            goto out;
        }
        if (!got) {
            setwhy(r->why, r->whylen, "%s: %s ends early", r->device, what);
            goto out;
        }
        if (write_all(out_fd, buf, got)) {
            setwhy(r->why, r->whylen, "writing %s out: %s", what, strerror(errno));
            goto out;
        }
        done += got;
    }
    ret = 0;
out:
    if (file)
        ext2fs_file_close(file);
    free(buf);
    return ret;
}

/* A grub path without its "(hd0,msdos1)" device prefix. */
static const char *strip_device(const char *path)
{
    if (*path == '(') {
        const char *close = strchr(path, ')');

        if (close)
            return close + 1;
    }
    return path;
}

/*
 * Resolves a boot file named by the config at cfgdir: relative paths
 * from cfgdir (extlinux), else from the file system's root; a config
 * found under /boot whose paths omit it (a /boot that was a partition
 * of its own when the config was written) tries /boot too.
 */
static int resolve(struct reader *r, const char *cfgpath, const char *name, ext2_ino_t *ino,
                   struct ext2_inode *inode, char *used, size_t usedlen, const char **reason)
{
    const char *path = strip_device(name);
    char buf[4200];

    if (*path != '/') {
        const char *slash = strrchr(cfgpath, '/');

        setwhy(buf, sizeof(buf), "%.*s/%s", slash ? (int)(slash - cfgpath) : 0, cfgpath,
                 path);
        path = buf;
    }
    setwhy(used, usedlen, "%s", path);
    if (!lookup_file(r, path, ino, inode, reason))
        return 0;
    if (!strncmp(cfgpath, "/boot/", 6) && strncmp(path, "/boot/", 6)) {
        char alt[4200];
        const char *reason2;

        setwhy(alt, sizeof(alt), "/boot%s", path);
        if (!lookup_file(r, alt, ino, inode, &reason2)) {
            setwhy(used, usedlen, "%s", alt);
            return 0;
        }
    }
    return -1;
}

/* BLS entries in dir (an existing directory); 0 with entries added, 1
 * when there is none, -1 on error. */
struct bls_names {
    char names[BOOTCFG_MAX_ENTRIES][256];
    size_t n;
    bool over;
};

static int bls_dir_cb(ext2_ino_t dir, int entry, struct ext2_dir_entry *de, int offset,
                      int blocksize, char *buf, void *priv)
{
    struct bls_names *b = priv;
    size_t len = ext2fs_dirent_name_len(de);

    (void)dir, (void)entry, (void)offset, (void)blocksize, (void)buf;
    if (len < 6 || len > 255 || memcmp(de->name + len - 5, ".conf", 5) ||
        memchr(de->name, '/', len) || memchr(de->name, '\0', len))
        return 0;
    if (b->n >= BOOTCFG_MAX_ENTRIES) {
        b->over = true;
        return DIRENT_ABORT;
    }
    memcpy(b->names[b->n], de->name, len);
    b->names[b->n][len] = '\0';
    b->n++;
    return 0;
}

static int load_bls(struct reader *r, const char *dir, const struct bootcfg_var *vars,
                    size_t nvars, struct bootcfg *cfg)
{
    struct bls_names *b = NULL;
    ext2_ino_t ino;
    struct ext2_inode inode;
    errcode_t e;
    int ret = -1;

    if (ext2fs_namei_follow(r->fs, EXT2_ROOT_INO, EXT2_ROOT_INO, dir, &ino) ||
        ext2fs_read_inode(r->fs, ino, &inode) || !LINUX_S_ISDIR(inode.i_mode))
        return 1;
    if (!(b = calloc(1, sizeof(*b)))) {
        setwhy(r->why, r->whylen, "out of memory");
        return -1;
    }
    if ((e = ext2fs_dir_iterate2(r->fs, ino, 0, NULL, bls_dir_cb, b))) {
        setwhy(r->why, r->whylen, "%s: %s: %s", r->device, dir, error_message(e));
        goto out;
    }
    if (b->over) {
        setwhy(r->why, r->whylen, "%s: %s: more than %d entries", r->device, dir,
               BOOTCFG_MAX_ENTRIES);
        goto out;
    }
    for (size_t i = 0; i < b->n; i++) {
        char path[600], *text = NULL, why[512];
        size_t len;
        const char *reason;
        ext2_ino_t fino;
        struct ext2_inode finode;
        int pr;

        setwhy(path, sizeof(path), "%s/%s", dir, b->names[i]);
        if (lookup_file(r, path, &fino, &finode, &reason) ||
            read_small(r, fino, &finode, BOOTCFG_MAX_SIZE, &text, &len, &reason)) {
            setwhy(r->why, r->whylen, "%s: %s: %s", r->device, path, reason);
            goto out;
        }
        pr = bootcfg_add_bls(path, text, len, vars, nvars, cfg, why, sizeof(why));
        free(text);
        if (pr) {
            setwhy(r->why, r->whylen, "%s: %s", r->device, pr == -ENOMEM ? "out of memory" : why);
            goto out;
        }
    }
    ret = b->n ? 0 : 1;
    if (!ret)
        bootcfg_sort_bls(cfg);
out:
    free(b);
    return ret;
}

static const struct {
    const char *path;
    enum bootcfg_kind kind;
} configs[] = {
    { "/boot/grub/grub.cfg", BOOTCFG_GRUB },
    { "/boot/grub2/grub.cfg", BOOTCFG_GRUB },
    { "/grub/grub.cfg", BOOTCFG_GRUB },
    { "/grub2/grub.cfg", BOOTCFG_GRUB },
    { "/boot/loader/entries", BOOTCFG_BLS },
    { "/loader/entries", BOOTCFG_BLS },
    { "/boot/extlinux/extlinux.conf", BOOTCFG_EXTLINUX },
    { "/extlinux/extlinux.conf", BOOTCFG_EXTLINUX },
    { "/boot/extlinux.conf", BOOTCFG_EXTLINUX },
    { "/extlinux.conf", BOOTCFG_EXTLINUX },
};

/* grubenv next to grub.cfg, for BLS's $kernelopts; best effort. */
static char *load_grubenv(struct reader *r, const char *cfgpath, struct bootcfg_var *vars,
                          size_t max, size_t *n_r)
{
    char path[300], *text = NULL, *store = NULL;
    const char *slash = strrchr(cfgpath, '/'), *reason;
    ext2_ino_t ino;
    struct ext2_inode inode;
    size_t len;
    int n;

    *n_r = 0;
    setwhy(path, sizeof(path), "%.*s/grubenv", slash ? (int)(slash - cfgpath) : 0, cfgpath);
    if (lookup_file(r, path, &ino, &inode, &reason) ||
        read_small(r, ino, &inode, 65536, &text, &len, &reason))
        return NULL;
    n = bootcfg_parse_grubenv(text, len, vars, max, &store);
    free(text);
    if (n > 0)
        *n_r = (size_t)n;
    return store;
}

/*
 * Finds a boot config in the open file system: 0 with cfg filled and
 * its path in res->config, 1 when there is none, -1 on error (why set).
 */
static int find_config(struct reader *r, struct bootcfg *cfg)
{
    for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
        const char *path = configs[i].path, *reason;
        char *text = NULL, why[512], *env = NULL;
        struct bootcfg_var vars[64];
        size_t len, nvars = 0;
        ext2_ino_t ino;
        struct ext2_inode inode;
        int pr;

        if (configs[i].kind == BOOTCFG_BLS) {
            pr = load_bls(r, path, NULL, 0, cfg);
            if (pr < 0)
                return -1;
            if (pr == 0) {
                setwhy(r->res->config, sizeof(r->res->config), "%s", path);
                return 0;
            }
            bootcfg_dispose(cfg);
            continue;
        }
        if (lookup_file(r, path, &ino, &inode, &reason)) {
            if (!strcmp(reason, "not found"))
                continue;
            setwhy(r->why, r->whylen, "%s: %s: %s", r->device, path, reason);
            return -1;
        }
        if (read_small(r, ino, &inode, BOOTCFG_MAX_SIZE, &text, &len, &reason)) {
            setwhy(r->why, r->whylen, "%s: %s: %s (at most %d bytes)", r->device, path, reason,
                   BOOTCFG_MAX_SIZE);
            return -1;
        }
        pr = configs[i].kind == BOOTCFG_GRUB ?
             bootcfg_parse_grub(path, text, len, cfg, why, sizeof(why)) :
             bootcfg_parse_extlinux(path, text, len, cfg, why, sizeof(why));
        free(text);
        if (pr) {
            setwhy(r->why, r->whylen, "%s: %s", r->device, pr == -ENOMEM ? "out of memory" : why);
            return -1;
        }
        setwhy(r->res->config, sizeof(r->res->config), "%s", path);
        if (configs[i].kind == BOOTCFG_GRUB && !cfg->nentries && cfg->blscfg) {
            /* el8 and later: grub.cfg runs blscfg, the entries are BLS */
            char dir[300];
            char *spec = cfg->default_spec;

            cfg->default_spec = NULL;
            bootcfg_dispose(cfg);
            env = load_grubenv(r, path, vars, 64, &nvars);
            setwhy(dir, sizeof(dir), "%s/loader/entries",
                     !strncmp(path, "/boot/", 6) ? "/boot" : "");
            pr = load_bls(r, dir, vars, nvars, cfg);
            if (!pr) {
                cfg->default_spec = spec;
                spec = NULL;
                /* grub's default is then grubenv's saved_entry */
                for (size_t k = 0; k < nvars; k++)
                    if (!strcmp(vars[k].name, "saved_entry") &&
                        (!cfg->default_spec || !*cfg->default_spec ||
                         !strcmp(cfg->default_spec, "saved"))) {
                        free(cfg->default_spec);
                        cfg->default_spec = strdup(vars[k].value);
                    }
                setwhy(r->res->config, sizeof(r->res->config), "%s", dir);
            }
            free(spec);
            free(env);
            if (pr < 0)
                return -1;
            if (pr > 0) {
                setwhy(r->why, r->whylen, "%s: %s runs blscfg, but %s holds no entries",
                       r->device, path, dir);
                return -1;
            }
        }
        return 0;
    }
    return 1;
}

static void append_path(char *dst, size_t len, const char *path)
{
    size_t n = strlen(dst);

    if (n < len)
        setwhy(dst + n, len - n, "%s%s", n ? ", " : "", path);
}

/* In the open file system: the config, the entry, its files.  0, 1 when
 * this file system has no boot config (nor --kernel), -1 on error. */
static int boot_from_fs(struct reader *r, const struct bootcfg_args *a, int kernel_fd,
                        int initrd_fd)
{
    struct bootcfg cfg;
    const char *kernel, *reason, *cmdline;
    const char *initrds[BOOTCFG_MAX_INITRDS];
    size_t ninitrds = 0;
    struct bootldr_result *res = r->res;
    ext2_ino_t kino, iino[BOOTCFG_MAX_INITRDS];
    struct ext2_inode inode;
    uint64_t total = 0;
    char used[4200];
    int ret = -1, fr;

    bootcfg_init(&cfg);
    if (a->kernel) {
        /* pygrub's --kernel: no config needed */
        kernel = a->kernel;
        if (a->ramdisk)
            initrds[ninitrds++] = a->ramdisk;
        cmdline = a->args ? a->args : "";
        setwhy(res->index, sizeof(res->index), "-");
        setwhy(res->title, sizeof(res->title), "bootloader_args --kernel");
        setwhy(res->config, sizeof(res->config), "-");
    } else {
        char note[512], why[512];
        long i;
        const struct bootcfg_entry *e;

        if ((fr = find_config(r, &cfg))) {
            ret = fr;
            goto out;
        }
        if ((i = bootcfg_choose(&cfg, a->entry, note, sizeof(note), why, sizeof(why))) < 0) {
            setwhy(r->why, r->whylen, "%s: %s: %s", r->device, res->config, why);
            goto out;
        }
        e = &cfg.entries[i];
        setwhy(res->note, sizeof(res->note), "%s", note);
        setwhy(res->index, sizeof(res->index), "%s", e->index ? e->index : "?");
        setwhy(res->title, sizeof(res->title), "%s", e->title ? e->title : "");
        kernel = e->kernel;
        if (a->ramdisk)
            initrds[ninitrds++] = a->ramdisk;
        else
            for (size_t k = 0; k < e->ninitrds; k++)
                initrds[ninitrds++] = e->initrds[k];
        cmdline = a->args ? a->args : e->cmdline ? e->cmdline : "";
    }
    if (strlen(cmdline) >= sizeof(res->cmdline)) {
        setwhy(r->why, r->whylen, "%s: entry `%s': a command line longer than %zu bytes",
               r->device, res->title, sizeof(res->cmdline) - 1);
        goto out;
    }
    setwhy(res->cmdline, sizeof(res->cmdline), "%s", cmdline);
    if (resolve(r, res->config, kernel, &kino, &inode, used, sizeof(used), &reason)) {
        setwhy(r->why, r->whylen, "%s: kernel %s: %s", r->device, used, reason);
        goto out;
    }
    setwhy(res->kernel_path, sizeof(res->kernel_path), "%s", used);
    res->kernel_size = EXT2_I_SIZE(&inode);
    if (res->kernel_size > BOOTLDR_MAX_KERNEL) {
        setwhy(r->why, r->whylen, "%s: kernel %s: %llu bytes, more than the %llu MiB allowed",
               r->device, used, res->kernel_size, BOOTLDR_MAX_KERNEL >> 20);
        goto out;
    }
    if (!res->kernel_size) {
        setwhy(r->why, r->whylen, "%s: kernel %s is empty", r->device, used);
        goto out;
    }
    for (size_t k = 0; k < ninitrds; k++) {
        if (resolve(r, res->config, initrds[k], &iino[k], &inode, used, sizeof(used), &reason)) {
            setwhy(r->why, r->whylen, "%s: initrd %s: %s", r->device, used, reason);
            goto out;
        }
        append_path(res->initrd_paths, sizeof(res->initrd_paths), used);
        total += EXT2_I_SIZE(&inode);
        if (total > BOOTLDR_MAX_INITRD) {
            setwhy(r->why, r->whylen, "%s: initrd %s: the initrds come to more than the"
                   " %llu MiB allowed", r->device, used, BOOTLDR_MAX_INITRD >> 20);
            goto out;
        }
    }
    res->initrd_size = total;
    if (kernel_fd >= 0 && copy_out(r, kino, res->kernel_size, kernel_fd, res->kernel_path))
        goto out;
    for (size_t k = 0; k < ninitrds && initrd_fd >= 0; k++) {
        errcode_t e = ext2fs_read_inode(r->fs, iino[k], &inode);

        if (e) {
            setwhy(r->why, r->whylen, "%s: %s: %s", r->device, initrds[k], error_message(e));
            goto out;
        }
        if (copy_out(r, iino[k], EXT2_I_SIZE(&inode), initrd_fd, initrds[k]))
            goto out;
    }
    ret = 0;
out:
    bootcfg_dispose(&cfg);
    return ret;
}

static int try_fs(struct reader *r, uint64_t offset, uint64_t size, const struct bootcfg_args *a,
                  int kernel_fd, int initrd_fd, char *skipped, size_t skippedlen)
{
    char name[96];
    errcode_t e;
    int ret;

    /* libext2fs's messages, not "Unknown code ext2 N" (idempotent) */
    initialize_ext2_error_table();
    setwhy(name, sizeof(name), "fd:%d:%" PRIu64 ":%" PRIu64, r->disk_fd, offset, size);
    e = ext2fs_open2(name, NULL, EXT2_FLAG_64BITS | EXT2_FLAG_IGNORE_CSUM_ERRORS, 0, 0,
                     &fdio_manager, &r->fs);
    if (e) {
        char what[300];

        setwhy(what, sizeof(what), "%s: no ext2/3/4 file system (%s)", r->device,
                 error_message(e));
        append_path(skipped, skippedlen, what);
        r->fs = NULL;
        return 1;
    }
    setwhy(r->res->device, sizeof(r->res->device), "%s", r->device);
    ret = boot_from_fs(r, a, kernel_fd, initrd_fd);
    ext2fs_close_free(&r->fs);
    if (ret > 0) {
        char what[300];

        setwhy(what, sizeof(what), "%s: no grub.cfg, BLS entries or extlinux.conf",
                 r->device);
        append_path(skipped, skippedlen, what);
    }
    return ret;
}

int bootldr_read(int disk_fd, const struct bootldr_params *p, int kernel_fd, int initrd_fd,
                 struct bootldr_result *res, char *why, size_t whylen)
{
    struct bootcfg_args a;
    struct reader r = { .disk_fd = disk_fd, .p = p, .res = res, .why = why, .whylen = whylen };
    blkid_probe pr = NULL;
    blkid_partlist pl;
    char skipped[1024] = "", device[64];
    struct stat st;
    uint64_t disk_size;
    int nparts = 0, ret = -1, fr;

    if (bootcfg_parse_args(p->args, p->nargs, &a, why, whylen))
        return -1;
    if (!a.kernel)
        a.kernel = p->kernel;
    if (!a.ramdisk)
        a.ramdisk = p->ramdisk;
    if (!a.args)
        a.args = p->cmdline;
    if (fstat(disk_fd, &st) || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
        setwhy(why, whylen, "not a regular file or block device");
        return -1;
    }
    {
        off_t end = lseek(disk_fd, 0, SEEK_END);

        if (end < 0) {
            setwhy(why, whylen, "cannot find its size: %s", strerror(errno));
            return -1;
        }
        disk_size = (uint64_t)end;
    }
    /* the partition table (MBR with its logical partitions, GPT) */
    if (!(pr = blkid_new_probe()) || blkid_probe_set_device(pr, disk_fd, 0, 0) ||
        blkid_probe_enable_partitions(pr, 1) || blkid_probe_enable_superblocks(pr, 0)) {
        setwhy(why, whylen, "cannot probe its partition table");
        goto out;
    }
    pl = blkid_probe_get_partitions(pr);
    nparts = pl ? blkid_partlist_numof_partitions(pl) : 0;
    if (nparts > BOOTLDR_MAX_PARTS) {
        setwhy(why, whylen, "%d partitions, more than %d", nparts, BOOTLDR_MAX_PARTS);
        goto out;
    }
    for (int i = 0; i < nparts; i++) {
        blkid_partition part = blkid_partlist_get_partition(pl, i);
        blkid_loff_t start, size;

        if (!part || blkid_partition_is_extended(part))
            continue;
        start = blkid_partition_get_start(part);
        size = blkid_partition_get_size(part);
        setwhy(device, sizeof(device), "partition %d", blkid_partition_get_partno(part));
        r.device = device;
        if (start < 0 || size <= 0 || (uint64_t)start > disk_size / 512 ||
            (uint64_t)size > disk_size / 512 - (uint64_t)start) {
            char what[128];

            setwhy(what, sizeof(what), "%s: outside the disk", device);
            append_path(skipped, sizeof(skipped), what);
            continue;
        }
        fr = try_fs(&r, (uint64_t)start * 512, (uint64_t)size * 512, &a, kernel_fd, initrd_fd,
                    skipped, sizeof(skipped));
        if (fr <= 0) {
            ret = fr;
            goto out;
        }
    }
    if (nparts <= 0) {
        r.device = "whole disk";
        fr = try_fs(&r, 0, disk_size, &a, kernel_fd, initrd_fd, skipped, sizeof(skipped));
        if (fr <= 0) {
            ret = fr;
            goto out;
        }
    }
    setwhy(why, whylen, "no boot configuration found (%s)",
           *skipped ? skipped : "no partitions");
out:
    if (pr)
        blkid_free_probe(pr);
    return ret;
}

/* ---- the child and its parent ---- */

struct msg {
    uint32_t magic, version, size;
    int32_t status;             /* 0 ok, else failed with why */
    char why[1024];
    struct bootldr_result res;
};

static void sandbox_limits(void)
{
    struct rlimit as = { 1ULL << 30, 1ULL << 30 };
    struct rlimit fsize = { BOOTLDR_MAX_INITRD + (1 << 20), BOOTLDR_MAX_INITRD + (1 << 20) };
    struct rlimit nofile = { 32, 32 };
    struct rlimit core = { 0, 0 };

    setrlimit(RLIMIT_AS, &as);
    setrlimit(RLIMIT_FSIZE, &fsize);
    setrlimit(RLIMIT_NOFILE, &nofile);
    setrlimit(RLIMIT_CORE, &core);
}

static void __attribute__((noreturn)) child(const struct bootldr_params *p, int wfd)
{
    struct msg *m = calloc(1, sizeof(*m));
    int disk = -1, kfd = -1, ifd = -1;
    char *why;

    if (!m)
        _exit(3);
    m->magic = MSG_MAGIC;
    m->version = MSG_VERSION;
    m->size = sizeof(*m);
    m->status = 1;
    why = m->why;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGPIPE, SIG_IGN);
    /* everything it needs, opened while it still may */
    if ((disk = open(p->disk, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
        setwhy(why, sizeof(m->why), "cannot open it: %s", strerror(errno));
        goto send;
    }
    if (p->outdir) {
        setwhy(m->res.kernel, sizeof(m->res.kernel), "%s/%s", p->outdir,
                 BOOTLDR_KERNEL_FILE);
        setwhy(m->res.initrd, sizeof(m->res.initrd), "%s/%s", p->outdir,
                 BOOTLDR_INITRD_FILE);
        if ((kfd = open(m->res.kernel, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                        0644)) < 0 ||
            (ifd = open(m->res.initrd, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                        0644)) < 0) {
            setwhy(why, sizeof(m->why), "cannot create %s: %s",
                     kfd < 0 ? m->res.kernel : m->res.initrd, strerror(errno));
            goto send;
        }
    }
    sandbox_limits();
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_DUMPABLE, 0)) {
        setwhy(why, sizeof(m->why), "cannot restrict the reader: %s", strerror(errno));
        goto send;
    }
    if (!p->no_drop && geteuid() == 0 &&
        (setgroups(0, NULL) || setresgid(BOOTLDR_NOBODY, BOOTLDR_NOBODY, BOOTLDR_NOBODY) ||
         setresuid(BOOTLDR_NOBODY, BOOTLDR_NOBODY, BOOTLDR_NOBODY))) {
        setwhy(why, sizeof(m->why), "cannot drop privileges: %s", strerror(errno));
        goto send;
    }
    if (p->probe_path) {
        int fd = open(p->probe_path, O_RDONLY | O_CLOEXEC);

        m->res.probe_errno = fd < 0 ? errno : 0;
        if (fd >= 0)
            close(fd);
    }
    if (!bootldr_read(disk, p, kfd, ifd, &m->res, why, sizeof(m->why)))
        m->status = 0;
send:
    if (m->status == 0 && m->res.initrd_size == 0)
        m->res.initrd[0] = '\0';
    write_all(wfd, (const char *)m, sizeof(*m));
    _exit(0);
}

static void remove_outputs(const struct bootldr_params *p)
{
    char path[4200];

    if (!p->outdir)
        return;
    setwhy(path, sizeof(path), "%s/%s", p->outdir, BOOTLDR_KERNEL_FILE);
    unlink(path);
    setwhy(path, sizeof(path), "%s/%s", p->outdir, BOOTLDR_INITRD_FILE);
    unlink(path);
}

void bootldr_remove_files(const struct bootldr_result *res)
{
    if (*res->kernel)
        unlink(res->kernel);
    if (*res->initrd)
        unlink(res->initrd);
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int bootldr_run(const struct bootldr_params *p, struct bootldr_result *res,
                char *why, size_t whylen)
{
    struct msg *m = NULL;
    int pfd[2] = { -1, -1 }, status, timeout = p->timeout_s > 0 ? p->timeout_s : BOOTLDR_TIMEOUT;
    size_t got = 0;
    pid_t pid;
    int64_t deadline;
    int ret = -EIO;

    memset(res, 0, sizeof(*res));
    if (!(m = malloc(sizeof(*m))))
        return -ENOMEM;
    if (pipe2(pfd, O_CLOEXEC)) {
        ret = -errno;
        free(m);
        return ret;
    }
    remove_outputs(p);
    fflush(NULL);
    if ((pid = fork()) < 0) {
        ret = -errno;
        goto out;
    }
    if (pid == 0) {
        close(pfd[0]);
        child(p, pfd[1]);
    }
    close(pfd[1]);
    pfd[1] = -1;
    deadline = now_ms() + (int64_t)timeout * 1000;
    while (got < sizeof(*m)) {
        struct pollfd pf = { .fd = pfd[0], .events = POLLIN };
        int64_t left = deadline - now_ms();
        int n;
        ssize_t k;

        if (left <= 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            pid = -1;
            setwhy(why, whylen, "%s: the bootloader took longer than %d s: killed",
                   p->disk, timeout);
            goto out;
        }
        n = poll(&pf, 1, (int)(left > INT_MAX ? INT_MAX : left));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue;
        k = read(pfd[0], (char *)m + got, sizeof(*m) - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    pid = -1;
    if (got < sizeof(*m)) {
        if (WIFSIGNALED(status))
            setwhy(why, whylen, "%s: the bootloader's reader died of signal %d (%s)%s",
                   p->disk, WTERMSIG(status), strsignal(WTERMSIG(status)),
                   WTERMSIG(status) == SIGXFSZ || WTERMSIG(status) == SIGSEGV ||
                   WTERMSIG(status) == SIGKILL ? ": a hostile or corrupt image?" : "");
        else
            setwhy(why, whylen, "%s: the bootloader's reader gave no answer (exit %d)",
                   p->disk, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        goto out;
    }
    /* checked, never trusted: the child read hostile data */
    if (m->magic != MSG_MAGIC || m->version != MSG_VERSION || m->size != sizeof(*m)) {
        setwhy(why, whylen, "%s: the bootloader's reader answered garbage", p->disk);
        goto out;
    }
    m->why[sizeof(m->why) - 1] = '\0';
#define TERM(f) m->res.f[sizeof(m->res.f) - 1] = '\0'
    TERM(kernel); TERM(initrd); TERM(cmdline); TERM(title); TERM(index); TERM(device);
    TERM(config); TERM(kernel_path); TERM(initrd_paths); TERM(note);
#undef TERM
    if (m->status) {
        setwhy(why, whylen, "%s: %s", p->disk, m->why);
        goto out;
    }
    *res = m->res;
    /* the names are ours, whatever the child said */
    if (p->outdir) {
        setwhy(res->kernel, sizeof(res->kernel), "%s/%s", p->outdir, BOOTLDR_KERNEL_FILE);
        if (m->res.initrd_size)
            setwhy(res->initrd, sizeof(res->initrd), "%s/%s", p->outdir, BOOTLDR_INITRD_FILE);
        else
            res->initrd[0] = '\0';
    } else {
        res->kernel[0] = res->initrd[0] = '\0';
    }
    ret = 0;
out:
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    if (ret)
        remove_outputs(p);
    else if (p->outdir && !*res->initrd) {
        char path[4200];

        setwhy(path, sizeof(path), "%s/%s", p->outdir, BOOTLDR_INITRD_FILE);
        unlink(path);
    }
    if (pfd[0] >= 0)
        close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    free(m);
    return ret;
}

/* ---- a domain's bootloader ---- */

int bootldr_wanted(const struct domain_desc *dom, char *why, size_t whylen)
{
    if (dom->type == DOMAIN_HVM)
        return 0;
    if (dom->bootloader) {
        if (!bootldr_is_ours(dom->bootloader)) {
            setwhy(why, whylen, "bootloader `%s': vmkit runs no bootloader program; use"
                   " \"pygrub\" (or \"vmkit-bootloader\") for vmkit's own, which reads"
                   " grub.cfg, BLS entries and extlinux.conf", dom->bootloader);
            return -EINVAL;
        }
        return 1;
    }
    return dom->kernel && bootldr_is_pvgrub(dom->kernel) ? 1 : 0;
}

int bootldr_run_domain(const struct domain_desc *dom, const char *outdir,
                       struct bootldr_result *res, char *why, size_t whylen)
{
    struct bootldr_params p = { 0 };
    const struct disk_spec *disk = NULL;
    bool pvgrub = dom->kernel && bootldr_is_pvgrub(dom->kernel);
    int r;

    memset(res, 0, sizeof(*res));
    for (size_t i = 0; i < dom->ndisks && !disk; i++)
        if (!dom->disks[i].cdrom && dom->disks[i].target && *dom->disks[i].target)
            disk = &dom->disks[i];
    if (!disk) {
        setwhy(why, whylen, "the bootloader needs a disk to read, and %s has none",
               dom->name);
        return -EINVAL;
    }
    if (disk->format != DISK_FORMAT_RAW) {
        setwhy(why, whylen, "%s: the bootloader reads raw disks only, not %s (boot a %s"
               " disk with kernel and ramdisk set, or convert it with qemu-img)",
               disk->target, disk_format_name(disk->format), disk_format_name(disk->format));
        return -EINVAL;
    }
    p.disk = disk->target;
    p.outdir = outdir;
    p.args = (const char *const *)dom->bootloader_args;
    p.nargs = dom->nbootloader_args;
    if (!pvgrub) {
        p.kernel = dom->kernel;
        p.ramdisk = dom->ramdisk;
    }
    p.cmdline = dom->cmdline;
    if ((r = bootldr_run(&p, res, why, whylen)))
        return r;
    /* root and extra (without cmdline) add to the entry's command line */
    if (!dom->cmdline && (dom->root || dom->extra)) {
        char *more = domain_cmdline(dom);
        size_t n = strlen(res->cmdline);

        if (!more) {
            bootldr_remove_files(res);
            return -ENOMEM;
        }
        if (n + 1 + strlen(more) >= sizeof(res->cmdline)) {
            setwhy(why, whylen, "%s: the command line with root and extra is longer than"
                   " %zu bytes", p.disk, sizeof(res->cmdline) - 1);
            free(more);
            bootldr_remove_files(res);
            return -EIO;
        }
        setwhy(res->cmdline + n, sizeof(res->cmdline) - n, "%s%s", n ? " " : "", more);
        free(more);
    }
    return 0;
}

char *bootldr_describe(const struct bootldr_result *res)
{
    char *s = NULL;

    if (asprintf(&s, "entry %s `%s' from %s:%s: kernel %s (%llu bytes), initrd %s"
                 " (%llu bytes), cmdline `%s'%s%s", res->index, res->title, res->device,
                 res->config, res->kernel_path, res->kernel_size,
                 *res->initrd_paths ? res->initrd_paths : "none", res->initrd_size,
                 res->cmdline, *res->note ? "; " : "", res->note) < 0)
        return NULL;
    return s;
}
