/*
 * ext2root.c - a guest root in an ext2/3/4 image, through libext2fs
 * (see ext2root.h).
 *
 * Three parts: an I/O manager over the image's descriptor, bounded to the
 * file system's span; path resolution as the guest would do it; the
 * operations of struct identity_root_ops.
 *
 * Why not ext2fs_namei_follow: given EXT2_ROOT_INO as its root it does
 * restart absolute symlinks at the guest's root, and `..' of the root is
 * the root's own `..' entry, so it would not leave the file system
 * either; but it follows at most 8 nested symlinks (Linux: 40), always
 * follows the last component (read, readlink, remove, write must not),
 * trusts the root's on-disk `..', judges fast symlinks by their size
 * alone, and reports ENOENT, ENOTDIR and ELOOP less precisely than the
 * directory backend does.  So resolution is done here, component by
 * component, with ext2fs_lookup.
 *
 * libext2fs pitfalls met here (1.47.0), handled below: ext2fs_symlink and
 * ext2fs_mkdir with a name do not grow a full directory (they are called
 * without one, and the entry added by put_entry); a file write that runs
 * out of space is not undone (space is checked first); splitting a leaf
 * of a hashed directory writes uninitialised heap into the leaves' slack
 * (scrubbed); ext2fs_file_read on an inline-data file returns the whole
 * 60-byte i_block when asked for more than i_size (never asked); error
 * messages need initialize_ext2_error_table.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ext2fs/ext2fs.h>

#include "ext2root.h"

#define MAX_SYMLINKS    40          /* as Linux's path walk */

/* ---- an I/O manager over the image's descriptor, bounded to one span ----
 * libext2fs opens by name; ours is "fd:FD:OFFSET:SIZE".  Every read and
 * write is checked against [0, SIZE) of the file system, then done with
 * pread/pwrite at OFFSET + position: no caching here (libext2fs caches
 * inodes and keeps the bitmaps in memory; the rest is the page cache's),
 * which is plenty for a few dozen edits. */

struct imgio {
    int fd;
    uint64_t offset, size;
    struct struct_io_stats stats;   /* bytes read and written */
};

static errcode_t imgio_open(const char *name, int flags, io_channel *channel);

static errcode_t imgio_close(io_channel ch)
{
    if (--ch->refcount > 0)
        return 0;
    ext2fs_free_mem(&ch->private_data);
    ext2fs_free_mem(&ch->name);
    ext2fs_free_mem(&ch);
    return 0;
}

static errcode_t imgio_set_blksize(io_channel ch, int blksize)
{
    if (blksize <= 0 || blksize > 65536)
        return EXT2_ET_INVALID_ARGUMENT;
    ch->block_size = blksize;
    return 0;
}

/* The byte span of count blocks at block (count < 0: -count bytes), or
 * an error when it leaves the file system's span. */
static errcode_t imgio_span(io_channel ch, unsigned long long block, int count,
                            uint64_t *off_r, size_t *len_r, errcode_t outside)
{
    struct imgio *io = ch->private_data;
    uint64_t bs = (uint64_t)ch->block_size;
    uint64_t len = count < 0 ? (uint64_t)(-(int64_t)count) : (uint64_t)count * bs;

    if (block > UINT64_MAX / bs)
        return outside;
    *off_r = block * bs;
    if (*off_r > io->size || len > io->size - *off_r || len > SIZE_MAX)
        return outside;
    *len_r = (size_t)len;
    return 0;
}

static errcode_t imgio_pread(struct imgio *io, uint64_t off, size_t len, void *data)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = pread(io->fd, (char *)data + done, len - done,
                          (off_t)(io->offset + off + done));

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            memset((char *)data + done, 0, len - done);
            return n < 0 ? (errcode_t)errno : EXT2_ET_SHORT_READ;
        }
        done += (size_t)n;
    }
    io->stats.bytes_read += len;
    return 0;
}

static errcode_t imgio_pwrite(struct imgio *io, uint64_t off, size_t len, const void *data)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = pwrite(io->fd, (const char *)data + done, len - done,
                           (off_t)(io->offset + off + done));

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? (errcode_t)errno : EXT2_ET_SHORT_WRITE;
        done += (size_t)n;
    }
    io->stats.bytes_written += len;
    return 0;
}

static errcode_t imgio_read_blk64(io_channel ch, unsigned long long block, int count,
                                  void *data)
{
    uint64_t off;
    size_t len;
    errcode_t e = imgio_span(ch, block, count, &off, &len, EXT2_ET_SHORT_READ);

    if (e) {
        /* outside the file system: a corrupt or hostile block number */
        uint64_t want = count < 0 ? (uint64_t)(-(int64_t)count)
                                  : (uint64_t)count * (uint64_t)ch->block_size;

        if (want < (1u << 30))
            memset(data, 0, (size_t)want);
        return e;
    }
    return imgio_pread(ch->private_data, off, len, data);
}

static errcode_t imgio_read_blk(io_channel ch, unsigned long block, int count, void *data)
{
    return imgio_read_blk64(ch, block, count, data);
}

static errcode_t imgio_write_blk64(io_channel ch, unsigned long long block, int count,
                                   const void *data)
{
    uint64_t off;
    size_t len;
    errcode_t e = imgio_span(ch, block, count, &off, &len, EXT2_ET_SHORT_WRITE);

    return e ? e : imgio_pwrite(ch->private_data, off, len, data);
}

static errcode_t imgio_write_blk(io_channel ch, unsigned long block, int count,
                                 const void *data)
{
    return imgio_write_blk64(ch, block, count, data);
}

/* The superblock's changed bytes (ext2fs_flush writes only those). */
static errcode_t imgio_write_byte(io_channel ch, unsigned long offset, int count,
                                  const void *data)
{
    struct imgio *io = ch->private_data;

    if (count < 0 || offset > io->size || (uint64_t)count > io->size - offset)
        return EXT2_ET_SHORT_WRITE;
    return imgio_pwrite(io, offset, (size_t)count, data);
}

static errcode_t imgio_flush(io_channel ch)
{
    struct imgio *io = ch->private_data;

    return fsync(io->fd) < 0 ? (errcode_t)errno : 0;
}

static errcode_t imgio_set_option(io_channel ch, const char *option, const char *arg)
{
    (void)ch, (void)option, (void)arg;
    return EXT2_ET_INVALID_ARGUMENT;
}

/* For the superblock's lifetime-writes counter, as unix_io keeps it. */
static errcode_t imgio_get_stats(io_channel ch, io_stats *stats)
{
    struct imgio *io = ch->private_data;

    io->stats.num_fields = 2;
    *stats = &io->stats;
    return 0;
}

static struct struct_io_manager imgio_manager = {
    .magic = EXT2_ET_MAGIC_IO_MANAGER,
    .name = "vmkit image I/O manager",
    .open = imgio_open,
    .close = imgio_close,
    .set_blksize = imgio_set_blksize,
    .read_blk = imgio_read_blk,
    .write_blk = imgio_write_blk,
    .flush = imgio_flush,
    .write_byte = imgio_write_byte,
    .set_option = imgio_set_option,
    .get_stats = imgio_get_stats,
    .read_blk64 = imgio_read_blk64,
    .write_blk64 = imgio_write_blk64,
};

static errcode_t imgio_open(const char *name, int flags, io_channel *channel)
{
    io_channel ch = NULL;
    struct imgio *io = NULL;
    unsigned long long offset, size;
    int fd, end = 0;
    errcode_t e;

    (void)flags;
    if (sscanf(name, "fd:%d:%llu:%llu%n", &fd, &offset, &size, &end) != 3 || name[end])
        return EXT2_ET_BAD_DEVICE_NAME;
    if ((e = ext2fs_get_memzero(sizeof(*ch), &ch)))
        return e;
    if ((e = ext2fs_get_memzero(sizeof(*io), &io)) ||
        (e = ext2fs_get_mem(strlen(name) + 1, &ch->name))) {
        ext2fs_free_mem(&io);
        ext2fs_free_mem(&ch);
        return e;
    }
    strcpy(ch->name, name);
    io->fd = fd;
    io->offset = offset;
    io->size = size;
    ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
    ch->manager = &imgio_manager;
    ch->block_size = 1024;
    ch->refcount = 1;
    ch->private_data = io;
    *channel = ch;
    return 0;
}

/* ---- the root ---- */

struct e2root {
    ext2_filsys fs;
    int fd;
};

/* libext2fs's error as -errno. */
static int err_of(errcode_t e)
{
    switch (e) {
    case 0:
        return 0;
    case EXT2_ET_NO_MEMORY:
        return -ENOMEM;
    case EXT2_ET_FILE_NOT_FOUND:
        return -ENOENT;
    case EXT2_ET_NO_DIRECTORY:
        return -ENOTDIR;
    case EXT2_ET_DIR_NO_SPACE:
    case EXT2_ET_BLOCK_ALLOC_FAIL:
    case EXT2_ET_INODE_ALLOC_FAIL:
    case EXT2_ET_EA_NO_SPACE:
        return -ENOSPC;
    case EXT2_ET_FILE_TOO_BIG:
        return -EFBIG;
    case EXT2_ET_SYMLINK_LOOP:
        return -ELOOP;
    case EXT2_ET_FILE_EXISTS:
    case EXT2_ET_DIR_EXISTS:
        return -EEXIST;
    case EXT2_ET_TOO_MANY_REFS:
        return -EMLINK;
    case EXT2_ET_RO_FILSYS:
        return -EROFS;
    case EXT2_ET_DIR_CORRUPTED:
    case EXT2_ET_BAD_INODE_NUM:
    case EXT2_ET_BAD_BLOCK_NUM:
    case EXT2_ET_EXTENT_HEADER_BAD:
    case EXT2_ET_INODE_CSUM_INVALID:
    case EXT2_ET_EXTENT_CSUM_INVALID:
    case EXT2_ET_DIR_CSUM_INVALID:
    case EXT2_ET_DIR_NO_SPACE_FOR_CSUM:
    case EXT2_ET_EXT_ATTR_CSUM_INVALID:
    case EXT2_ET_INODE_BITMAP_CSUM_INVALID:
    case EXT2_ET_BLOCK_BITMAP_CSUM_INVALID:
    case EXT2_ET_FILESYSTEM_CORRUPTED:
        return -EUCLEAN;
    }
    /* the I/O manager's own errors are errno values */
    if (e > 0 && e < 4096)
        return -(int)e;
    return -EIO;
}

static __u32 now_secs(void)
{
    return (__u32)time(NULL);
}

static void set_owner(struct ext2_inode *inode, uid_t uid, gid_t gid)
{
    inode->i_uid = (__u16)(uid & 0xffff);
    ext2fs_set_i_uid_high(*inode, (__u16)(uid >> 16));
    inode->i_gid = (__u16)(gid & 0xffff);
    ext2fs_set_i_gid_high(*inode, (__u16)(gid >> 16));
}

/* The target of the symlink ino (inode read) into a new string of at most
 * max bytes: -ENAMETOOLONG past it, -EUCLEAN for a NUL inside.  Fast
 * symlinks hold it in i_block, inline-data ones in the inode (read by the
 * file API), the others in a block (read by the file API too, which
 * knows block maps and extents). */
static int link_target(ext2_filsys fs, ext2_ino_t ino, struct ext2_inode *inode, size_t max,
                       char **target_r)
{
    uint64_t size = EXT2_I_SIZE(inode);
    ext2_file_t file = NULL;
    unsigned int got = 0;
    char *buf;
    errcode_t e;

    *target_r = NULL;
    if (size > max || size >= PATH_MAX)
        return -ENAMETOOLONG;
    if (!(buf = malloc((size_t)size + 1)))
        return -ENOMEM;
    /* fast: no data block (an extended attribute block aside), never
     * extents nor inline data; ext2fs_is_fast_symlink judges by the size
     * alone, which a short target in a block would fool */
    if (!(inode->i_flags & (EXT4_INLINE_DATA_FL | EXT4_EXTENTS_FL)) &&
        !ext2fs_inode_data_blocks2(fs, inode)) {
        if (size > sizeof(inode->i_block)) {
            free(buf);
            return -EUCLEAN;
        }
        memcpy(buf, inode->i_block, (size_t)size);
        got = (unsigned int)size;
    } else {
        if ((e = ext2fs_file_open2(fs, ino, inode, 0, &file)) ||
            (e = ext2fs_file_read(file, buf, (unsigned int)size, &got))) {
            if (file)
                ext2fs_file_close(file);
            free(buf);
            return err_of(e);
        }
        ext2fs_file_close(file);
    }
    if (got != size || memchr(buf, '\0', (size_t)size)) {
        free(buf);
        return -EUCLEAN;
    }
    buf[size] = '\0';
    *target_r = buf;
    return 0;
}

/*
 * The inode at path, resolved from the root as the guest would: `..'
 * stops at the root, an absolute symlink starts again there, the last
 * component is followed only with follow (a component followed by `/'
 * always is).  *ino_r and, when inode_r is not NULL, the inode.
 * -ENOENT, -ENOTDIR, -ELOOP, -ENAMETOOLONG, or libext2fs's errors.
 */
static int resolve(struct e2root *e, const char *path, bool follow, ext2_ino_t *ino_r,
                   struct ext2_inode *inode_r)
{
    ext2_filsys fs = e->fs;
    char buf[PATH_MAX], *p = buf;
    ext2_ino_t cur = EXT2_ROOT_INO;
    struct ext2_inode inode;
    bool want_dir = false;
    int links = 0, r;
    errcode_t err;

    if (strlen(path) >= sizeof(buf))
        return -ENAMETOOLONG;
    strcpy(buf, path);
    if ((err = ext2fs_read_inode(fs, cur, &inode)))
        return err_of(err);
    for (;;) {
        const char *name;
        size_t len;
        bool last, dotdot;
        ext2_ino_t child;
        struct ext2_inode cinode;

        while (*p == '/')
            p++;
        if (!*p)
            break;
        if (!LINUX_S_ISDIR(inode.i_mode))
            return -ENOTDIR;
        name = p;
        len = strcspn(p, "/");
        p += len;
        last = !*p;
        want_dir = true;
        if (len > EXT2_NAME_LEN)
            return -ENAMETOOLONG;
        if (len == 1 && name[0] == '.')
            continue;
        dotdot = len == 2 && name[0] == '.' && name[1] == '.';
        if (dotdot && cur == EXT2_ROOT_INO)
            continue;           /* the guest's root is its own parent */
        err = ext2fs_lookup(fs, cur, dotdot ? ".." : name, dotdot ? 2 : (int)len, NULL, &child);
        if (err)
            return err_of(err);
        if ((err = ext2fs_read_inode(fs, child, &cinode)))
            return err_of(err);
        if (!dotdot && LINUX_S_ISLNK(cinode.i_mode) && (follow || !last)) {
            char *target = NULL;
            size_t tlen, rest = strlen(p);

            if (++links > MAX_SYMLINKS)
                return -ELOOP;
            if ((r = link_target(fs, child, &cinode, PATH_MAX - 1, &target)))
                return r;
            tlen = strlen(target);
            if (!tlen || tlen + rest >= sizeof(buf)) {
                free(target);
                return !tlen ? -ENOENT : -ENAMETOOLONG;
            }
            /* the target, then the rest of the path ("" or "/..."), and
             * resolution goes on from the directory that holds the link,
             * or from the root for an absolute target */
            memmove(buf + tlen, p, rest + 1);
            memcpy(buf, target, tlen);
            free(target);
            p = buf;
            if (buf[0] == '/') {
                cur = EXT2_ROOT_INO;
                if ((err = ext2fs_read_inode(fs, cur, &inode)))
                    return err_of(err);
            }
            continue;
        }
        cur = child;
        inode = cinode;
        want_dir = !last;
    }
    /* "dir/" names a directory */
    if (want_dir && !LINUX_S_ISDIR(inode.i_mode))
        return -ENOTDIR;
    *ino_r = cur;
    if (inode_r)
        *inode_r = inode;
    return 0;
}

/* identity.h's path rules, with ext2/3/4's longest name. */
static int check_guest_path(const char *path)
{
    return identity_path_check(path, EXT2_NAME_LEN);
}

/* The directory that holds path (followed) in *dir_r, its last component
 * in *base_r (pointing into path). */
static int resolve_parent(struct e2root *e, const char *path, ext2_ino_t *dir_r,
                          const char **base_r)
{
    char parent[PATH_MAX];
    const char *slash;
    struct ext2_inode inode;
    int r;

    if ((r = check_guest_path(path)))
        return r;
    slash = strrchr(path, '/');
    memcpy(parent, path, (size_t)(slash - path));
    parent[slash - path] = '\0';
    *base_r = slash + 1;
    if ((r = resolve(e, slash == path ? "/" : parent, true, dir_r, &inode)))
        return r;
    return LINUX_S_ISDIR(inode.i_mode) ? 0 : -ENOTDIR;
}

/* The entry name in directory dir: 1 and *ino_r (and the inode) when
 * there is one, 0 when not, or -errno. */
static int lookup(struct e2root *e, ext2_ino_t dir, const char *name, ext2_ino_t *ino_r,
                  struct ext2_inode *inode_r)
{
    errcode_t err = ext2fs_lookup(e->fs, dir, name, (int)strlen(name), NULL, ino_r);

    if (err == EXT2_ET_FILE_NOT_FOUND)
        return 0;
    if (err)
        return err_of(err);
    if ((err = ext2fs_read_inode(e->fs, *ino_r, inode_r)))
        return err_of(err);
    return 1;
}

/* A directory's modification and change times, now (best effort: the
 * entries are what matter). */
static void touch_dir(struct e2root *e, ext2_ino_t dir)
{
    struct ext2_inode inode;

    if (!ext2fs_read_inode(e->fs, dir, &inode)) {
        inode.i_mtime = inode.i_ctime = now_secs();
        ext2fs_write_inode(e->fs, dir, &inode);
    }
}

/* Frees ino (allocated, with no name left): extended attribute block,
 * data blocks, the inode itself.  As fuse2fs's remove_inode. */
static int free_inode(struct e2root *e, ext2_ino_t ino)
{
    ext2_filsys fs = e->fs;
    struct ext2_inode_large inode;
    errcode_t err;

    memset(&inode, 0, sizeof(inode));
    err = ext2fs_read_inode_full(fs, ino, (struct ext2_inode *)&inode, sizeof(inode));
    if (err)
        return err_of(err);
    inode.i_links_count = 0;
    inode.i_dtime = inode.i_ctime = now_secs();
    err = ext2fs_write_inode_full(fs, ino, (struct ext2_inode *)&inode, sizeof(inode));
    if (!err)
        err = ext2fs_free_ext_attr(fs, ino, &inode);
    if (!err && ext2fs_inode_has_valid_blocks2(fs, (struct ext2_inode *)&inode))
        err = ext2fs_punch(fs, ino, (struct ext2_inode *)&inode, NULL, 0, ~0ULL);
    if (err)
        return err_of(err);
    if (ext2fs_test_inode_bitmap2(fs->inode_map, ino))
        ext2fs_inode_alloc_stats2(fs, ino, -1, LINUX_S_ISDIR(inode.i_mode));
    return 0;
}

/* ino has lost a name: one link less, freed at none. */
static int drop_link(struct e2root *e, ext2_ino_t ino)
{
    struct ext2_inode inode;
    errcode_t err;

    if ((err = ext2fs_read_inode(e->fs, ino, &inode)))
        return err_of(err);
    if (inode.i_links_count > 1) {
        inode.i_links_count--;
        inode.i_ctime = now_secs();
        return err_of(ext2fs_write_inode(e->fs, ino, &inode));
    }
    return free_inode(e, ino);
}

/* A newly made inode that could not be given a name, undone as far as
 * possible (what is left is an orphan e2fsck reclaims).  written: the
 * inode itself is known to be on disk, so its blocks are its own and are
 * freed; otherwise the inode table may still hold a deleted file's
 * inode, whose block numbers must not be trusted: the inode is only
 * unmarked. */
static void discard_inode(struct e2root *e, ext2_ino_t ino, bool written, bool dir)
{
    if (!ino || !ext2fs_test_inode_bitmap2(e->fs->inode_map, ino))
        return;
    if (written)
        free_inode(e, ino);
    else
        ext2fs_inode_alloc_stats2(e->fs, ino, -1, dir);
}

struct swap {
    const char *name;
    size_t len;
    ext2_ino_t old, new;
    int type;               /* EXT2_FT_*, or -1 without the filetype feature */
    bool done;
};

static int swap_entry(ext2_ino_t dir, int entry, struct ext2_dir_entry *de, int offset,
                      int blocksize, char *buf, void *priv)
{
    struct swap *s = priv;

    (void)dir, (void)entry, (void)offset, (void)blocksize, (void)buf;
    if (de->inode != s->old || (size_t)ext2fs_dirent_name_len(de) != s->len ||
        memcmp(de->name, s->name, s->len))
        return 0;
    de->inode = s->new;
    if (s->type >= 0)
        ext2fs_dirent_set_file_type(de, s->type);
    s->done = true;
    return DIRENT_CHANGED | DIRENT_ABORT;
}

/*
 * Zeroes the unused bytes after each entry in the blocks [from, to) of
 * the hashed directory dir.  libext2fs 1.47.0 splits a full leaf of a
 * hashed directory by rebuilding both halves in blocks it mallocs and
 * fills only up to their last entries: the rest, inside those entries'
 * records, would carry whatever the host's heap held into the guest's
 * image.  Not for block 0, the index's root; index blocks (one empty
 * entry spanning the block) and the checksum tail are left alone; an
 * encrypted directory (entries with hashes after the name) is not
 * touched.
 */
static int scrub_dir_blocks(struct e2root *e, ext2_ino_t dir, blk64_t from, blk64_t to)
{
    ext2_filsys fs = e->fs;
    struct ext2_inode inode;
    char *buf = NULL;
    errcode_t err;

    if ((err = ext2fs_read_inode(fs, dir, &inode)))
        return err_of(err);
    if (inode.i_flags & EXT4_ENCRYPT_FL)
        return 0;
    if ((err = ext2fs_get_mem(fs->blocksize, &buf)))
        return err_of(err);
    for (blk64_t lblk = from; lblk < to && !err; lblk++) {
        blk64_t pblk = 0;
        unsigned int off = 0, rec_len = 0;
        struct ext2_dir_entry *de = (struct ext2_dir_entry *)buf;

        if ((err = ext2fs_bmap2(fs, dir, &inode, NULL, 0, lblk, NULL, &pblk)) || !pblk ||
            (err = ext2fs_read_dir_block4(fs, pblk, buf, 0, dir)))
            break;
        if (!de->inode && !ext2fs_get_rec_len(fs, de, &rec_len) && rec_len == fs->blocksize)
            continue;       /* an index block, or an empty leaf */
        for (off = 0; off + 8 <= fs->blocksize; off += rec_len) {
            unsigned int used;

            de = (struct ext2_dir_entry *)(buf + off);
            if (ext2fs_get_rec_len(fs, de, &rec_len) || rec_len < 8 ||
                rec_len > fs->blocksize - off)
                break;
            if (!de->inode)
                continue;
            used = (unsigned int)ext2fs_dir_rec_len((__u8)ext2fs_dirent_name_len(de), 0);
            if (used < rec_len)
                memset(buf + off + used, 0, rec_len - used);
        }
        err = ext2fs_write_dir_block4(fs, pblk, buf, 0, dir);
    }
    ext2fs_free_mem(&buf);
    return err_of(err);
}

/*
 * Gives the new inode ino (of type type) the name in dir: the entry that
 * names old (0: none) is pointed at ino in place, else a new entry is
 * added, the directory growing by a block when it is full.  Then old
 * loses that link.
 */
static int put_entry(struct e2root *e, ext2_ino_t dir, const char *name, ext2_ino_t ino,
                     int type, ext2_ino_t old)
{
    ext2_filsys fs = e->fs;
    struct ext2_inode inode;
    uint64_t size;
    errcode_t err;

    if (old) {
        struct swap s = {
            .name = name, .len = strlen(name), .old = old, .new = ino,
            .type = ext2fs_has_feature_filetype(fs->super) ? type : -1,
        };

        if ((err = ext2fs_dir_iterate2(fs, dir, 0, NULL, swap_entry, &s)))
            return err_of(err);
        if (!s.done)
            return -ENOENT;     /* it was there a moment ago: cannot be */
        touch_dir(e, dir);
        return drop_link(e, old);
    }
    if ((err = ext2fs_read_inode(fs, dir, &inode)))
        return err_of(err);
    size = EXT2_I_SIZE(&inode);
    err = ext2fs_link(fs, dir, name, ino, type);
    if (err == EXT2_ET_DIR_NO_SPACE && !(inode.i_flags & EXT2_INDEX_FL)) {
        /* (a hashed directory grows by splitting leaves; one that
         * cannot has a full index, which a block at the end would not
         * be part of) */
        if ((err = ext2fs_expand_dir(fs, dir)))
            return err_of(err);
        err = ext2fs_link(fs, dir, name, ino, type);
    }
    if (err)
        return err_of(err);
    if ((inode.i_flags & EXT2_INDEX_FL) && !ext2fs_read_inode(fs, dir, &inode) &&
        EXT2_I_SIZE(&inode) > size) {
        /* a leaf was split: both halves were rebuilt in memory (block 0
         * is the index's root, whose `..' entry spans the index) */
        int r = scrub_dir_blocks(e, dir, 1, EXT2_I_SIZE(&inode) / fs->blocksize);

        if (r)
            return r;
    }
    touch_dir(e, dir);
    return 0;
}

/* ---- the operations ---- */

static int e2_read(void *ctx, const char *path, size_t max, char **buf_r, size_t *len_r)
{
    struct e2root *e = ctx;
    struct ext2_inode inode;
    ext2_file_t file = NULL;
    ext2_ino_t ino;
    uint64_t size;
    size_t done = 0;
    char *buf = NULL;
    errcode_t err = 0;
    int r;

    *buf_r = NULL;
    *len_r = 0;
    if ((r = check_guest_path(path)) || (r = resolve(e, path, false, &ino, &inode)))
        return r;
    if (LINUX_S_ISLNK(inode.i_mode))
        return -ELOOP;
    if (!LINUX_S_ISREG(inode.i_mode))
        return -EINVAL;
    size = EXT2_I_SIZE(&inode);
    if (size > max)
        return -EFBIG;
    if (!(buf = malloc((size_t)size + 1)))
        return -ENOMEM;
    if ((err = ext2fs_file_open2(e->fs, ino, &inode, 0, &file)))
        goto out;
    while (done < size) {
        unsigned int want = size - done > (1u << 20) ? (1u << 20) : (unsigned int)(size - done);
        unsigned int got = 0;

        if ((err = ext2fs_file_read(file, buf + done, want, &got)))
            goto out;
        if (!got)
            break;
        done += got;
    }
    if (done != size) {
        err = EXT2_ET_SHORT_READ;
        goto out;
    }
    buf[size] = '\0';
    *buf_r = buf;
    *len_r = (size_t)size;
    buf = NULL;
out:
    if (file)
        ext2fs_file_close(file);
    free(buf);
    return err_of(err);
}

/* A new regular file inode (one link, not named yet) holding len bytes
 * of buf. */
static int make_file(struct e2root *e, ext2_ino_t dir, const void *buf, size_t len,
                     mode_t mode, uid_t uid, gid_t gid, ext2_ino_t *ino_r)
{
    ext2_filsys fs = e->fs;
    struct ext2_inode inode;
    ext2_file_t file = NULL;
    ext2_ino_t ino = 0;
    size_t done = 0;
    blk64_t data;
    bool written = false;
    errcode_t err;

    *ino_r = 0;
    /* libext2fs does not undo a file write that runs out of space part
     * way (the blocks it took stay marked, its extent tree may be left
     * half split): make sure there is room first, for the data, the
     * worst case of extent (or indirect) blocks, and a directory block */
    data = len / fs->blocksize + 1;
    if (data + data / (fs->blocksize / 16) + 8 > ext2fs_free_blocks_count(fs->super))
        return -ENOSPC;
    if ((err = ext2fs_new_inode(fs, dir, LINUX_S_IFREG | 0600, NULL, &ino)))
        return err_of(err);
    ext2fs_inode_alloc_stats2(fs, ino, +1, 0);
    memset(&inode, 0, sizeof(inode));
    inode.i_mode = LINUX_S_IFREG | (mode & 07777);
    set_owner(&inode, uid, gid);
    inode.i_links_count = 1;
    inode.i_atime = inode.i_ctime = inode.i_mtime = now_secs();
    if (ext2fs_has_feature_inline_data(fs->super)) {
        inode.i_flags |= EXT4_INLINE_DATA_FL;
    } else if (ext2fs_has_feature_extents(fs->super)) {
        ext2_extent_handle_t handle;

        /* an empty extent tree in i_block, as create_inode.c does it */
        if ((err = ext2fs_extent_open2(fs, ino, &inode, &handle)))
            goto out;
        ext2fs_extent_free(handle);
    }
    if ((err = ext2fs_write_new_inode(fs, ino, &inode)))
        goto out;
    written = true;
    if ((inode.i_flags & EXT4_INLINE_DATA_FL) && (err = ext2fs_inline_data_init(fs, ino)))
        goto out;
    if (len) {
        if ((err = ext2fs_file_open(fs, ino, EXT2_FILE_WRITE, &file)))
            goto out;
        while (done < len) {
            unsigned int want = len - done > (1u << 20) ? (1u << 20) : (unsigned int)(len - done);
            unsigned int wrote = 0;

            if ((err = ext2fs_file_write(file, (const char *)buf + done, want, &wrote)))
                goto out;
            if (!wrote) {
                err = EXT2_ET_SHORT_WRITE;
                goto out;
            }
            done += wrote;
        }
        err = ext2fs_file_close(file);
        file = NULL;
        if (err)
            goto out;
    }
    *ino_r = ino;
    ino = 0;
out:
    if (file)
        ext2fs_file_close(file);
    discard_inode(e, ino, written, false);
    return err_of(err);
}

static int e2_write(void *ctx, const char *path, const void *buf, size_t len, mode_t mode,
                    uid_t uid, gid_t gid)
{
    struct e2root *e = ctx;
    struct ext2_inode old_inode;
    ext2_ino_t dir, old = 0, ino = 0;
    const char *base;
    int r;

    if ((r = resolve_parent(e, path, &dir, &base)))
        return r;
    if ((r = lookup(e, dir, base, &old, &old_inode)) < 0)
        return r;
    if (!r)
        old = 0;
    else if (LINUX_S_ISDIR(old_inode.i_mode))
        return -EISDIR;
    if ((r = make_file(e, dir, buf, len, mode, uid, gid, &ino)))
        return r;
    if ((r = put_entry(e, dir, base, ino, EXT2_FT_REG_FILE, old)) && ino) {
        /* the name still holds the old file unless the swap happened */
        struct ext2_inode check;
        ext2_ino_t now = 0;

        if (lookup(e, dir, base, &now, &check) != 1 || now != ino)
            discard_inode(e, ino, true, false);
    }
    return r;
}

static int e2_symlink(void *ctx, const char *target, const char *path)
{
    struct e2root *e = ctx;
    ext2_filsys fs = e->fs;
    struct ext2_inode old_inode;
    ext2_ino_t dir, old = 0, ino = 0;
    const char *base;
    errcode_t err;
    int r;

    if ((r = resolve_parent(e, path, &dir, &base)))
        return r;
    if (!*target || strlen(target) >= PATH_MAX)
        return !*target ? -ENOENT : -ENAMETOOLONG;
    if (strlen(target) >= fs->blocksize)
        return -ENAMETOOLONG;
    if ((r = lookup(e, dir, base, &old, &old_inode)) < 0)
        return r;
    if (!r)
        old = 0;
    else if (LINUX_S_ISDIR(old_inode.i_mode))
        return -EISDIR;
    if ((err = ext2fs_new_inode(fs, dir, LINUX_S_IFLNK | 0777, NULL, &ino)))
        return err_of(err);
    /* no name: ext2fs_symlink would not grow a full directory */
    if ((err = ext2fs_symlink(fs, dir, ino, NULL, target))) {
        discard_inode(e, ino, false, false);
        return err_of(err);
    }
    if ((r = put_entry(e, dir, base, ino, EXT2_FT_SYMLINK, old))) {
        struct ext2_inode check;
        ext2_ino_t now = 0;

        if (lookup(e, dir, base, &now, &check) != 1 || now != ino)
            discard_inode(e, ino, true, false);
    }
    return r;
}

static int e2_remove(void *ctx, const char *path)
{
    struct e2root *e = ctx;
    struct ext2_inode inode;
    ext2_ino_t dir, ino;
    const char *base;
    errcode_t err;
    int r;

    if ((r = resolve_parent(e, path, &dir, &base)))
        return r == -ENOENT ? 0 : r;
    if ((r = lookup(e, dir, base, &ino, &inode)) <= 0)
        return r;
    if (LINUX_S_ISDIR(inode.i_mode))
        return -EISDIR;
    if ((err = ext2fs_unlink(e->fs, dir, base, ino, 0)))
        return err_of(err);
    touch_dir(e, dir);
    return drop_link(e, ino);
}

static int e2_mkdir(void *ctx, const char *path, mode_t mode, uid_t uid, gid_t gid)
{
    struct e2root *e = ctx;
    ext2_filsys fs = e->fs;
    struct ext2_inode inode;
    ext2_ino_t dir, ino = 0;
    const char *base;
    errcode_t err;
    int r;

    if ((r = resolve_parent(e, path, &dir, &base)))
        return r;
    if ((r = lookup(e, dir, base, &ino, &inode)) < 0)
        return r;
    if (r) {
        /* a directory, or a symlink to one in the root, will do */
        if (LINUX_S_ISLNK(inode.i_mode)) {
            r = resolve(e, path, true, &ino, &inode);
            if (r == -ENOENT)
                return -ENOTDIR;
            if (r)
                return r;
        }
        return LINUX_S_ISDIR(inode.i_mode) ? 0 : -ENOTDIR;
    }
    if ((err = ext2fs_new_inode(fs, dir, LINUX_S_IFDIR | 0755, NULL, &ino)))
        return err_of(err);
    /* no name: ext2fs_mkdir would not grow a full directory; it does
     * count the new `..' in the parent's links */
    if ((err = ext2fs_mkdir(fs, dir, ino, NULL))) {
        discard_inode(e, ino, false, true);
        return err_of(err);
    }
    if ((err = ext2fs_read_inode(fs, ino, &inode)))
        goto undo;
    inode.i_mode = LINUX_S_IFDIR | (mode & 07777);
    set_owner(&inode, uid, gid);
    if ((err = ext2fs_write_inode(fs, ino, &inode)))
        goto undo;
    if ((r = put_entry(e, dir, base, ino, EXT2_FT_DIR, 0)))
        goto undo_r;
    return 0;
undo:
    r = err_of(err);
undo_r:
    discard_inode(e, ino, true, true);
    if (!ext2fs_read_inode(fs, dir, &inode) && inode.i_links_count > 1) {
        inode.i_links_count--;
        ext2fs_write_inode(fs, dir, &inode);
    }
    return r;
}

static int e2_stat(void *ctx, const char *path, bool follow, struct identity_stat *st_r)
{
    struct ext2_inode inode;
    ext2_ino_t ino;
    int r;

    if ((r = check_guest_path(path)) || (r = resolve(ctx, path, follow, &ino, &inode)))
        return r;
    st_r->mode = inode.i_mode;
    st_r->uid = inode_uid(inode);
    st_r->gid = inode_gid(inode);
    st_r->size = (off_t)EXT2_I_SIZE(&inode);
    return 0;
}

static int e2_readlink(void *ctx, const char *path, size_t max, char **target_r)
{
    struct e2root *e = ctx;
    struct ext2_inode inode;
    ext2_ino_t ino;
    int r;

    *target_r = NULL;
    if ((r = check_guest_path(path)) || (r = resolve(e, path, false, &ino, &inode)))
        return r;
    if (!LINUX_S_ISLNK(inode.i_mode))
        return -EINVAL;
    return link_target(e->fs, ino, &inode, max, target_r);
}

struct names {
    char **v;
    size_t n, max;
    int err;
};

static int add_name(ext2_ino_t dir, int entry, struct ext2_dir_entry *de, int offset,
                    int blocksize, char *buf, void *priv)
{
    struct names *l = priv;
    size_t len = (size_t)ext2fs_dirent_name_len(de);
    char **v;

    (void)dir, (void)entry, (void)offset, (void)blocksize, (void)buf;
    if ((len == 1 && de->name[0] == '.') || (len == 2 && de->name[0] == '.' && de->name[1] == '.'))
        return 0;
    if (!len || memchr(de->name, '/', len) || memchr(de->name, '\0', len)) {
        l->err = -EUCLEAN;
        return DIRENT_ABORT;
    }
    if (l->n >= l->max) {
        l->err = -E2BIG;
        return DIRENT_ABORT;
    }
    if (!(v = realloc(l->v, (l->n + 2) * sizeof(*v)))) {
        l->err = -ENOMEM;
        return DIRENT_ABORT;
    }
    l->v = v;
    v[l->n + 1] = NULL;
    if (!(v[l->n] = strndup(de->name, len))) {
        l->err = -ENOMEM;
        return DIRENT_ABORT;
    }
    l->n++;
    return 0;
}

static void free_names(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static int e2_list(void *ctx, const char *path, size_t max, char ***names_r)
{
    struct e2root *e = ctx;
    struct names l = { .max = max };
    struct ext2_inode inode;
    ext2_ino_t ino;
    errcode_t err;
    int r;

    *names_r = NULL;
    if ((r = check_guest_path(path)) || (r = resolve(e, path, true, &ino, &inode)))
        return r;
    if (!LINUX_S_ISDIR(inode.i_mode))
        return -ENOTDIR;
    if (!(l.v = calloc(1, sizeof(*l.v))))
        return -ENOMEM;
    err = ext2fs_dir_iterate2(e->fs, ino, 0, NULL, add_name, &l);
    if (!l.err && err)
        l.err = err_of(err);
    if (l.err) {
        free_names(l.v);
        return l.err;
    }
    *names_r = l.v;
    return 0;
}

/* Writes out and releases e: 0 or libext2fs's error. */
static errcode_t e2_finish(struct e2root *e)
{
    errcode_t err = 0;

    if (!e)
        return 0;
    if (e->fs)
        err = ext2fs_close_free(&e->fs);
    if (e->fd >= 0 && close(e->fd) < 0 && !err)
        err = (errcode_t)errno;
    free(e);
    return err;
}

static void e2_close(void *ctx)
{
    e2_finish(ctx);
}

static const struct identity_root_ops ext2_ops = {
    .read = e2_read,
    .write = e2_write,
    .symlink = e2_symlink,
    .remove = e2_remove,
    .mkdir = e2_mkdir,
    .stat = e2_stat,
    .readlink = e2_readlink,
    .list = e2_list,
    .close = e2_close,
};

/* The size of the image (a regular file or a block device): 0 or -errno. */
static int image_size(int fd, uint64_t *size_r)
{
    struct stat st;
    off_t end;

    if (fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
        return -EINVAL;
    if ((end = lseek(fd, 0, SEEK_END)) < 0)
        return -errno;
    *size_r = (uint64_t)end;
    return 0;
}

int identity_root_ext2_open(const char *image, uint64_t offset, uint64_t size,
                            struct identity_root *r, struct diag *d)
{
    struct e2root *e = NULL;
    char *name = NULL, dev[96], at[40] = "";
    uint64_t total = 0, fs_bytes;
    errcode_t err;
    int ret;

    memset(r, 0, sizeof(*r));
    /* libext2fs's messages for error_message (registered once) */
    initialize_ext2_error_table();
    if (offset)
        snprintf(at, sizeof(at), " at offset %" PRIu64, offset);
    if ((e = calloc(1, sizeof(*e))))
        e->fd = -1;
    if (!e || asprintf(&name, offset ? "%s@%" PRIu64 ":" : "%s:", image, offset) < 0) {
        name = NULL;
        ret = -ENOMEM;
        diag_error(d, image, 0, 0, "cannot open the guest's file system: %s", strerror(ENOMEM));
        goto fail;
    }
    e->fd = open(image, O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (e->fd < 0) {
        ret = -errno;
        diag_error(d, image, 0, 0, "cannot open the image: %s", strerror(-ret));
        goto fail;
    }
    if ((ret = image_size(e->fd, &total))) {
        diag_error(d, image, 0, 0, "cannot open the image: %s",
                   ret == -EINVAL ? "not a regular file or block device" : strerror(-ret));
        goto fail;
    }
    if (offset > total || (size && size > total - offset)) {
        ret = -EINVAL;
        diag_error(d, image, 0, 0, "the file system's span (offset %" PRIu64 ", %" PRIu64
                   " bytes) goes past the image's end (%" PRIu64 " bytes)", offset,
                   size, total);
        goto fail;
    }
    if (!size)
        size = total - offset;
    snprintf(dev, sizeof(dev), "fd:%d:%" PRIu64 ":%" PRIu64, e->fd, offset, size);
    /* MMP would be started by opening the device by name, which is ours */
    err = ext2fs_open2(dev, NULL, EXT2_FLAG_RW | EXT2_FLAG_64BITS | EXT2_FLAG_SKIP_MMP, 0, 0,
                       &imgio_manager, &e->fs);
    if (err) {
        e->fs = NULL;
        ret = err == EXT2_ET_NO_MEMORY ? -ENOMEM : err > 0 && err < 4096 ? -(int)err : -EINVAL;
        diag_error(d, image, 0, 0, "no ext2/3/4 file system that vmkit can write%s: %s", at,
                   error_message(err));
        goto fail;
    }
    fs_bytes = ext2fs_blocks_count(e->fs->super) * (uint64_t)e->fs->blocksize;
    if (fs_bytes > size) {
        ret = -EINVAL;
        diag_error(d, image, 0, 0, "the ext2/3/4 file system%s is larger (%" PRIu64
                   " bytes) than its span of the image (%" PRIu64 " bytes)", at, fs_bytes,
                   size);
        goto fail;
    }
    if (ext2fs_has_feature_mmp(e->fs->super)) {
        ret = -EINVAL;
        diag_error(d, image, 0, 0, "the ext2/3/4 file system%s has multiple-mount protection"
                   " (mmp), which vmkit does not write", at);
        goto fail;
    }
    if (ext2fs_has_feature_quota(e->fs->super)) {
        /* libext2fs's quota code is e2fsprogs' own, not in the library */
        ret = -EINVAL;
        diag_error(d, image, 0, 0, "the ext2/3/4 file system%s keeps quotas (the quota"
                   " feature), whose usage vmkit cannot update", at);
        goto fail;
    }
    if (ext2fs_has_feature_journal_needs_recovery(e->fs->super)) {
        ret = -EUCLEAN;
        diag_error(d, image, 0, 0, "the ext2/3/4 file system%s needs journal recovery (it is"
                   " mounted, or was not cleanly unmounted): run e2fsck on it first", at);
        goto fail;
    }
    if (!(e->fs->super->s_state & EXT2_VALID_FS) || (e->fs->super->s_state & EXT2_ERROR_FS)) {
        ret = -EUCLEAN;
        diag_error(d, image, 0, 0, "the ext2/3/4 file system%s is %s: run e2fsck on it first",
                   at, e->fs->super->s_state & EXT2_ERROR_FS ? "marked as having errors"
                                                              : "not clean (mounted?)");
        goto fail;
    }
    if ((err = ext2fs_read_bitmaps(e->fs))) {
        ret = err_of(err);
        diag_error(d, image, 0, 0, "cannot read the ext2/3/4 file system's bitmaps%s: %s", at,
                   error_message(err));
        goto fail;
    }
    r->ops = &ext2_ops;
    r->ctx = e;
    r->name = name;
    return 0;
fail:
    if (e) {
        /* nothing was changed: ext2fs_free writes nothing back */
        if (e->fs)
            ext2fs_free(e->fs);
        if (e->fd >= 0)
            close(e->fd);
        free(e);
    }
    free(name);
    return ret;
}

int identity_root_ext2_close(struct identity_root *r, struct diag *d)
{
    errcode_t err;
    int ret = 0;

    if (r->ops != &ext2_ops) {
        identity_root_close(r);
        return 0;
    }
    err = e2_finish(r->ctx);
    if (err) {
        char file[PATH_MAX];
        size_t n = r->name ? strlen(r->name) : 0;

        /* the image's name, without the ":" that r->name ends with */
        snprintf(file, sizeof(file), "%.*s", (int)(n ? n - 1 : 0), r->name ? r->name : "");
        ret = err_of(err);
        diag_error(d, file, 0, 0, "cannot write the guest's file system: %s",
                   error_message(err));
    }
    r->ops = NULL;
    r->ctx = NULL;
    identity_root_close(r);
    return ret;
}

int identity_apply_ext2(const struct identity *id, const char *image, uint64_t offset,
                        uint64_t size, struct diag *d)
{
    struct identity_root root;
    int r, rc;

    if ((r = identity_root_ext2_open(image, offset, size, &root, d)))
        return r;
    r = identity_apply(id, &root, d);
    rc = identity_root_ext2_close(&root, d);
    return r ? r : rc;
}
