/*
 * fuzz-bootldr.c - libFuzzer target: vmkit's bootloader reading a guest
 * disk (hypervisor/bootldr.c through bootldr_priv.h, without the child
 * process, so that a crash shows here): the input is the whole disk
 * image, partition table and ext2/3/4 file systems included (libext2fs
 * and libblkid are not instrumented; our I/O manager, the search for the
 * boot config, the path resolution and the parsers are).  Nothing is
 * copied out: the kernel and initrd are found and checked, not written.
 * fuzz.t seeds it with small images made by mke2fs -d, whole and
 * partitioned.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bootldr.h"
#include "bootldr_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct bootldr_result res;
    struct bootldr_params p;
    char why[512];
    int fd = memfd_create("disk", MFD_CLOEXEC);

    if (fd < 0)
        return 0;
    if (write(fd, data, size) == (ssize_t)size) {
        memset(&p, 0, sizeof(p));
        p.disk = "fuzz-disk.img";
        memset(&res, 0, sizeof(res));
        (void)bootldr_read(fd, &p, -1, -1, &res, why, sizeof why);
    }
    close(fd);
    return 0;
}
